#!/usr/bin/python3
"""A stand-in for the C `phi4-logits` driver, used only to test check_logits.py.

Same command line and OUT.bin format as the real driver.  It does not parse the GGUF: it
loads the weights.npz that make_model.py wrote next to it, and computes every row with
check_logits.simulate_c_logits (float32, the KV cache type, Q8_0 activations for quantized
types), i.e. with the errors a correct C implementation is expected to have.

PHI4_FAKE_BUG=<name> makes it wrong on purpose (the harness must then fail):
    swap_factors   use the other LongRoPE factor set
    nibble         decode Q4_0 with interleaved nibbles (element 2j low, 2j+1 high)
    kv_unrounded   keep K and V in float32 whatever --kv-type says
    drop_last      omit the last row
    wrong_token    report a wrong token id in row 0
    nan            put a NaN into row 0
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_logits  # noqa: E402
import make_model  # noqa: E402
import phi3_ref  # noqa: E402


def interleaved_nibbles(w):
    """The weights a reader sees when it gets the Q4_0 nibble order wrong: in each block of
    32 it puts true element j at 2j and true element j+16 at 2j+1."""
    b = w.reshape(-1, 32)
    out = np.empty_like(b)
    out[:, 0::2], out[:, 1::2] = b[:, :16], b[:, 16:]
    return out.reshape(w.shape)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("out")
    ap.add_argument("--tokens", required=True)
    ap.add_argument("--plan", required=True)
    ap.add_argument("--threads", type=int)
    ap.add_argument("--ctx", type=int)
    ap.add_argument("--batch", type=int)
    ap.add_argument("--kernel")
    ap.add_argument("--kv-type", choices=phi3_ref.KV_TYPES, default="f16")
    args = ap.parse_args(argv)
    bug = os.environ.get("PHI4_FAKE_BUG", "")

    weights, hp, _ = make_model.load_weights(os.path.join(os.path.dirname(args.model),
                                                          "weights.npz"))
    if bug == "nibble":
        weights = {k: interleaved_nibbles(v) if v.ndim == 2 else v for k, v in weights.items()}
    tokens = [int(t) for t in args.tokens.split(",")]
    evals, _ = check_logits.plan_evals(check_logits.parse_plan(args.plan))

    rows = []
    for start, end in evals:
        fs = phi3_ref.factor_set_for(end, hp)
        if bug == "swap_factors":
            fs = "short" if fs == "long" else "long"
        kv = "f32" if bug == "kv_unrounded" else args.kv_type
        lg = check_logits.simulate_c_logits(weights, hp, tokens[:end], fs, kv)
        rows += [(p, end, tokens[p], lg[p]) for p in range(start, end)]
    if bug == "drop_last":
        rows.pop()
    if bug == "wrong_token":
        rows[0] = (rows[0][0], rows[0][1], rows[0][2] + 1, rows[0][3])
    if bug == "nan":
        rows[0][3][0] = np.nan
    check_logits.write_output(args.out, hp["n_vocab"], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
