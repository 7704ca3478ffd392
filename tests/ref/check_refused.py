#!/usr/bin/python3
"""Types the library cannot run must be refused at load, with the tensor and type named.

    /usr/bin/python3 tests/ref/check_refused.py --driver PATH/phi4-logits

Writes k-like models in which one tensor (a matrix or a norm vector) is stored as a type
the kernels do not support (IQ2_XXS, IQ3_S, TQ1_0, IQ1_M; random bytes of the right
size), runs the driver on each and requires a failed load whose message names both the
tensor and the type.  Exit status: 0 pass, 1 fail.
"""
import argparse
import os
import shlex
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_model  # noqa: E402

# (tensor, type name, ggml code, elements per block, bytes per block)
CASES = [
    ("blk.1.ffn_down.weight", "IQ2_XXS", 16, 256, 66),
    ("token_embd.weight", "IQ3_S", 21, 256, 110),
    ("blk.0.attn_qkv.weight", "TQ1_0", 34, 256, 54),
    ("blk.0.attn_norm.weight", "IQ1_M", 29, 256, 56),
]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--driver", required=True)
    args = ap.parse_args(argv)
    ok = True
    # a cross-built driver runs through the cross file's exe_wrapper (qemu)
    wrapper = shlex.split(os.environ.get("MESON_EXE_WRAPPER", ""))
    with tempfile.TemporaryDirectory(prefix="phi4-refused-") as d:
        for tensor, name, code, block, size in CASES:
            make_model.make_model("k-like", "q4_k_m", d, raw={tensor: (code, block, size)})
            p = subprocess.run(wrapper + [args.driver, os.path.join(d, "model.gguf"),
                                os.path.join(d, "out.bin"), "--tokens", "1,2", "--plan", "e2"],
                               capture_output=True, text=True, timeout=60)
            named = f"'{tensor}'" in p.stderr and name in p.stderr
            good = p.returncode == 1 and named
            print(f"{tensor} as {name}: exit {p.returncode}, {p.stderr.strip()!r}: "
                  f"{'ok' if good else 'FAIL'}")
            ok &= good
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
