#!/usr/bin/python3
"""Compare the C driver's logits with the numpy reference.

    /usr/bin/python3 tests/ref/check_logits.py --driver PATH/phi4-logits --config NAME \
        --type T --plan PLAN [--threads N] [--seq-len L] [--ctx N] [--batch N] \
        [--kernel K] [--seed S] [--tol-scale X] [--workdir DIR]

Makes a tiny random model (make_model.py) in a temporary directory, picks a random token
sequence, runs

    phi4-logits MODEL.gguf OUT.bin --tokens 5,17,3,... --plan PLAN [--threads N] ...

and checks every row of OUT.bin against phi3_ref.  Exit status: 0 pass, 1 fail (any
error counts as a failure; this harness never skips).

PLAN: comma-separated steps over the token list, cursor starting at 0:
    eN    one phi_eval call on the next N tokens (cursor += N)
    eN*R  R such calls
    tK    truncate the sequence to its first K tokens (cursor = K, K <= cursor)

OUT.bin (little-endian): b"PHLG", u32 version = 1, u32 n_vocab, u32 n_rows, then n_rows
records of: i32 pos, i32 seq_len, i32 token, f32 logits[n_vocab].  A row holds the logits
after the token at `pos`, computed when the sequence was `seq_len` long (right after the
eval call).  Expected: reference(tokens, "long" if seq_len > orig_ctx else "short")[pos];
by causality the whole token list can be fed to the reference.
"""
import argparse
import os
import re
import struct
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf_writer as gw  # noqa: E402
import make_model  # noqa: E402
import phi3_ref  # noqa: E402

# ----------------------------------------------------------------------------------------
# Tolerances.  Metric, per output row:   max_i |c_i - r_i| / max(1, max_i |r_i|)
# (the error relative to the row's logit scale; the max(1, .) keeps near-zero rows from
# inflating it).  A row passes when metric <= TOL[type] * tol_scale.
#
# F32/F16/BF16 weights: the C side converts the weights exactly and computes in float32,
# so the only difference is float32 rounding (~6e-8 per op, ~1e-6 after the dot products,
# softmaxes and norms of these tiny models; measured with phi3_ref.forward(dtype=float32):
# worst 1.6e-6 over 12 seeds x both configs).  1e-4 leaves ~60x margin for a different
# summation order, fused multiply-adds, approximate exp, etc.  NOTE: if the C side ever
# rounds *activations* to f16/bf16 (as llama.cpp's F16/BF16 kernels do), expect roughly
# 3e-4 / 2e-3 and this bound will not hold.
#
# Q8_0/Q4_0 weights: the reference uses the exact dequantized weights, but the C side (like
# llama.cpp) quantizes every matmul input to Q8_0: per 32-block d = amax/127, q =
# round(x/d).  The rounding error is ~uniform in [-d/2, d/2], RMS d/sqrt(12).  For
# roughly Gaussian blocks amax ~ 2.5 rms, so the relative RMS error of an activation is
# 2.5/(127*sqrt(12)) ~ 0.57% (measured 0.54%; ~0.9% for the heavy-tailed silu(g)*u input
# of ffn_down); fp16 rounding of d adds <= 2^-11 ~ 0.05%.  A random weight row turns
# that into the same ~0.55% relative error on each matmul output.  Alone, the LM-head
# matmul gives metric ~0.6% (max over the vocab / max logit).  Errors injected into the
# layer-0 QKV are amplified by the attention softmax and the later layers (measured 2-3x),
# and 9 matmuls contribute, so the expected total is ~1.5-3%.  Simulation
# (simulate_c_logits below, q8_0 and q4_0, 12 seeds each, all rows): phi4-like worst
# 0.021 (L=24), mini-like worst 0.032 (L=48, where attn_factor^2 = 2 sharpens attention);
# L from 1 to 128 stays <= 0.031.  TOL = 0.08 is 2.5x the worst simulated case, while
# real bugs stay well above it (test_ref.py::test_tolerance_catches_bugs, minimum over
# seeds): query position off by one ~0.2, attn_factor on all dims ~0.35, interleaved
# (GPT-J) rope >= 0.39, short/long factors swapped ~0.5-0.7, attn_factor ignored ~0.54,
# gate/up swapped >= 0.5, wrong GQA head mapping ~1.1, wrong Q4_0 nibble order >= 1.2.
# "mixed" has Q8_0 layers, so the Q8_0 activation bound applies to it.
#
# The other block types pair with other activation formats (as in llama.cpp): Q5_0 and
# IQ4_NL with Q8_0 (same error as above), Q4_1 and Q5_1 with Q8_1 (Q8_0 plus the block
# sum s = fp16(d*sum q), whose 2^-11 rounding only touches the offset term), the K-quants
# and IQ4_XS with Q8_K: one f32 scale per 256 activations.  The amax of 256 roughly
# Gaussian values is ~2.9 rms instead of ~2.5 for 32, so each activation's relative RMS
# error grows to 2.9/(127*sqrt(12)) ~ 0.66%, ~15% more than Q8_0's, and the fp16 rounding
# of d disappears.  The weights' own quantization error does not count: the reference uses
# the dequantized weights.  Simulated (simulate_c_logits with each tensor's activation
# format, seeds 0-2, test_ref.py::test_tolerance_catches_bugs): k-like q4_k 0.028, q2_k
# 0.028, q4_k_m 0.023; mini-like q4_k_m (all of it falls back to Q5_0/Q5_1/Q8_0) 0.027.
# The same TOL = 0.08 keeps a >= 2.8x margin; the bugs above stay >= 0.16 on k-like.
TOL = dict({t: 0.08 for t in make_model.TYPES}, f32=1e-4, f16=1e-4, bf16=1e-4)

MAGIC = b"PHLG"

# The activation format the C side quantizes a matmul input to, by weight type.
ACT_FORMAT = dict({t: "q8_0" for t in ("q8_0", "q4_0", "q5_0", "iq4_nl")},
                  q4_1="q8_0", q5_1="q8_0",       # Q8_1's values are Q8_0's
                  **{t: "q8_k" for t in make_model.K_TYPES})


def q8_0_activations(a):
    """What a Q8_0 activation quantizer hands the dot product, as floats (float32 in, the
    stored fp16 d times the int8 quants out)."""
    a = np.asarray(a, dtype=np.float32)
    return gw.roundtrip(gw.Q8_0, a)


def q8_k_activations(a):
    """Q8_K: per 256 values d = amax/127 kept as float32, q = round(x/d)."""
    a = np.asarray(a, dtype=np.float32)
    b = a.reshape(-1, 256)
    d = (np.abs(b).max(axis=1) / np.float32(127)).astype(np.float32)
    with np.errstate(divide="ignore"):
        inv = np.where(d > 0, np.float32(1) / d, np.float32(0)).astype(np.float32)
    v = b * inv[:, None]
    q = np.sign(v) * np.floor(np.abs(v) + np.float32(0.5))
    return (d.astype(np.float64)[:, None] * q).reshape(a.shape)


def simulate_c_logits(weights, hparams, tokens, factor_set):
    """A model of the C side used to justify TOL: float32 activations, and for quantized
    weight types, matmul inputs quantized to the activation format the weight pairs with."""
    names = {code: name for name, code in gw.TYPE_NAMES.items()}
    fmt = {name: ACT_FORMAT.get(names[make_model.tensor_type(name, w, hparams["type"], hparams)])
           for name, w in weights.items()}
    quantizers = {"q8_0": q8_0_activations, "q8_k": q8_k_activations, None: lambda a: a}

    def act_quant(a, name):
        return quantizers[fmt[name]](a)
    return phi3_ref.forward(weights, hparams, tokens, factor_set, act_quant=act_quant,
                            dtype=np.float32)


def row_metric(c, r):
    return float(np.max(np.abs(c - r)) / max(1.0, float(np.max(np.abs(r)))))


# ----------------------------------------------------------------------------------------
# plan

_STEP = re.compile(r"^(?:e(\d+)(?:\*(\d+))?|t(\d+))$")


def parse_plan(plan):
    """'e8,e1*3,t5,e2' -> [('e', 8), ('e', 1), ('e', 1), ('e', 1), ('t', 5), ('e', 2)]"""
    steps = []
    for s in plan.split(","):
        m = _STEP.match(s.strip())
        if not m:
            raise ValueError(f"bad plan step {s!r} (want eN, eN*R or tK)")
        if m.group(3) is not None:
            steps.append(("t", int(m.group(3))))
        else:
            n, r = int(m.group(1)), int(m.group(2) or 1)
            if n < 1 or r < 1:
                raise ValueError(f"bad plan step {s!r}: N and R must be >= 1")
            steps += [("e", n)] * r
    return steps


def plan_evals(steps):
    """Run the cursor over the plan: list of (start, end) for each eval call (end is the
    sequence length right after it), and the number of tokens the plan needs."""
    cur, evals, need = 0, [], 0
    for kind, n in steps:
        if kind == "e":
            evals.append((cur, cur + n))
            cur += n
            need = max(need, cur)
        else:
            if n > cur:
                raise ValueError(f"t{n}: cannot truncate a sequence of {cur} tokens to {n}")
            cur = n
    if not evals:
        raise ValueError("plan has no eval step")
    return evals, need


# ----------------------------------------------------------------------------------------
# output file

def read_output(path):
    """-> (n_vocab, rows) with rows a list of (pos, seq_len, token, float64 logits)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 16 or data[:4] != MAGIC:
        raise ValueError(f"{path}: not a PHLG file")
    version, n_vocab, n_rows = struct.unpack_from("<III", data, 4)
    if version != 1:
        raise ValueError(f"{path}: version {version}, expected 1")
    rec = np.dtype([("pos", "<i4"), ("seq_len", "<i4"), ("token", "<i4"),
                    ("logits", "<f4", (n_vocab,))])
    if len(data) != 16 + n_rows * rec.itemsize:
        raise ValueError(f"{path}: {len(data)} bytes, expected {16 + n_rows * rec.itemsize} "
                         f"for {n_rows} rows of {n_vocab} logits")
    r = np.frombuffer(data, dtype=rec, offset=16, count=n_rows)
    rows = [(int(x["pos"]), int(x["seq_len"]), int(x["token"]), x["logits"].astype(np.float64))
            for x in r]
    return n_vocab, rows


def write_output(path, n_vocab, rows):
    """Writer for the same format (fake drivers in the tests use it)."""
    with open(path, "wb") as f:
        f.write(MAGIC + struct.pack("<III", 1, n_vocab, len(rows)))
        for pos, seq_len, token, lg in rows:
            f.write(struct.pack("<iii", pos, seq_len, token))
            f.write(np.asarray(lg, dtype="<f4").tobytes())


# ----------------------------------------------------------------------------------------
# the check

def check_rows(rows, n_vocab, tokens, evals, weights, hp, tol, log=print):
    """Compare the rows with the reference.  Returns True when everything passes."""
    ok = True
    if n_vocab != hp["n_vocab"]:
        log(f"FAIL: output n_vocab {n_vocab}, model has {hp['n_vocab']}")
        return False
    if not rows:
        log("FAIL: no rows in the output")
        return False
    evaluated = {(p, end) for start, end in evals for p in range(start, end)}
    missing = sorted({(end - 1, end) for _, end in evals} - {(p, s) for p, s, _, _ in rows})
    if missing:
        log(f"FAIL: no row for the last token of eval call(s) (pos, seq_len) = {missing}")
        ok = False
    ref = {}                                     # factor set -> reference logits
    worst = 0.0
    for i, (pos, seq_len, token, lg) in enumerate(rows):
        if (pos, seq_len) not in evaluated:
            log(f"row {i}: FAIL pos {pos} seq_len {seq_len} was not evaluated by the plan")
            ok = False
            continue
        if token != tokens[pos]:
            log(f"row {i}: FAIL pos {pos} token {token}, expected {tokens[pos]}")
            ok = False
        fs = phi3_ref.factor_set_for(seq_len, hp) if hp["longrope"] else "short"
        if fs not in ref:
            ref[fs] = phi3_ref.logits(weights, hp, tokens, fs)
        r = ref[fs][pos]
        if not np.all(np.isfinite(lg)):
            log(f"row {i}: FAIL pos {pos} seq_len {seq_len}: non-finite logits")
            ok = False
            worst = float("inf")
            continue
        err = float(np.max(np.abs(lg - r)))
        rel = float(np.max(np.abs(lg - r) / np.maximum(np.abs(r), 1e-30)))
        m = row_metric(lg, r)
        worst = max(worst, m)
        good = m <= tol
        ok &= good
        log(f"row {i:3d}: pos {pos:4d} seq_len {seq_len:4d} {fs:5s} max|d| {err:.3e} "
            f"max rel {rel:.3e} max|ref| {np.max(np.abs(r)):.3f} metric {m:.3e} "
            f"{'ok' if good else 'FAIL'}")
    log(f"summary: {len(rows)} rows, worst metric {worst:.3e} "
        f"(max|c-r| / max(1, max|r|)), tolerance {tol:.3e}: {'PASS' if ok else 'FAIL'}")
    return ok


def run(args):
    steps = parse_plan(args.plan)
    evals, need = plan_evals(steps)
    seq_len = args.seq_len if args.seq_len is not None else max(24, need)
    if seq_len < need:
        raise ValueError(f"plan needs {need} tokens, --seq-len is {seq_len}")
    tol = TOL[args.type] * args.tol_scale

    if args.workdir:
        return check(args, evals, seq_len, tol, args.workdir)
    with tempfile.TemporaryDirectory(prefix="phi4-check-") as workdir:
        return check(args, evals, seq_len, tol, workdir)


def check(args, evals, seq_len, tol, workdir):
    weights, hp, _ = make_model.make_model(args.config, args.type, workdir, args.seed)
    rng = np.random.default_rng(args.seed + 7919)
    tokens = [int(t) for t in rng.integers(0, hp["n_vocab"], seq_len)]
    model = os.path.join(workdir, "model.gguf")
    out = os.path.join(workdir, "out.bin")
    if os.path.exists(out):
        os.remove(out)

    cmd = [args.driver, model, out, "--tokens", ",".join(map(str, tokens)),
           "--plan", args.plan]
    for opt in ("threads", "ctx", "batch", "kernel"):
        v = getattr(args, opt)
        if v is not None:
            cmd += [f"--{opt}", str(v)]
    if args.no_mmap:
        cmd.append("--no-mmap")
    print(f"config {args.config} type {args.type} seed {args.seed} tokens {seq_len} "
          f"plan {args.plan} tolerance {tol:.3e}")
    print("run: " + " ".join(cmd[:4]) + " <tokens> " + " ".join(cmd[5:]))
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
    if p.stdout:
        print(p.stdout, end="")
    if p.stderr:
        print(p.stderr, end="", file=sys.stderr)
    if p.returncode != 0:
        print(f"FAIL: driver exited with status {p.returncode}")
        return False
    n_vocab, rows = read_output(out)
    return check_rows(rows, n_vocab, tokens, evals, weights, hp, tol)


class _Parser(argparse.ArgumentParser):
    def error(self, message):                   # usage errors are failures (1), never 77
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        sys.exit(1)


def main(argv=None):
    ap = _Parser(description="Compare phi4-logits output with the numpy phi3 reference.")
    ap.add_argument("--driver", required=True, help="path to the phi4-logits executable")
    ap.add_argument("--config", required=True, choices=sorted(make_model.CONFIGS))
    ap.add_argument("--type", required=True, choices=make_model.TYPES)
    ap.add_argument("--plan", required=True, help="e.g. e24 | e8,e1*16 | e20,t10,e6")
    ap.add_argument("--threads", type=int)
    ap.add_argument("--seq-len", type=int, help="token sequence length (default max(24, plan))")
    ap.add_argument("--ctx", type=int)
    ap.add_argument("--batch", type=int)
    ap.add_argument("--kernel")
    ap.add_argument("--no-mmap", action="store_true", help="driver reads the file into memory")
    ap.add_argument("--seed", type=int, default=0, help="model and token seed")
    ap.add_argument("--tol-scale", type=float, default=1.0)
    ap.add_argument("--timeout", type=float, default=600, help="driver timeout, seconds")
    ap.add_argument("--workdir", help="keep model.gguf, weights.npz and out.bin here")
    args = ap.parse_args(argv)
    try:
        ok = run(args)
    except Exception as e:                      # a broken driver or output is a failure
        print(f"FAIL: {type(e).__name__}: {e}")
        return 1
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
