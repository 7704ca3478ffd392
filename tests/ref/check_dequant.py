#!/usr/bin/python3
"""The C dequantizers against the numpy decoders (quants.py / gguf_writer.py), bit for bit.

    /usr/bin/python3 tests/ref/check_dequant.py --driver PATH/phi4-dequant

For every block type it writes rows of blocks and has the driver (tests/dequant_rows.c)
turn them into float32.  Both sides evaluate the same formula with exact products and at
most one rounding (see quants.py), so every element must be the same float32: equal bits,
or NaN on both sides.  Rows: fully random bytes (so the fp16 scales take every value,
subnormals, inf and NaN included), then random quants under the extreme scales
+-65504, +-min subnormal and zero, then all-zero and all-0xff blocks.
Exit status: 0 pass, 1 fail.
"""
import argparse
import os
import shlex
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf_writer as gw  # noqa: E402
import quants  # noqa: E402

TYPES = ["q4_0", "q8_0"] + list(quants.SIZES)
# byte offsets of the fp16 fields of each block (scale first)
HALF_FIELDS = {"q4_0": [0], "q8_0": [0], "q4_1": [0, 2], "q5_0": [0], "q5_1": [0, 2],
               "iq4_nl": [0], "q2_k": [80, 82], "q3_k": [108], "q4_k": [0, 2], "q5_k": [0, 2],
               "q6_k": [208], "iq4_xs": [0]}
EXTREME_HALVES = [0x7BFF, 0xFBFF, 0x0001, 0x8001, 0x0000, 0x03FF, 0x3C00]


def rows_for(name, rng, n_rows=24, blocks_per_row=3):
    t = gw.TYPE_NAMES[name]
    size = gw.TYPE_SIZE[t]
    data = rng.integers(0, 256, (n_rows, blocks_per_row, size), dtype=np.uint8)
    for r in range(8, 16):                       # extreme scales, random quants
        for off in HALF_FIELDS[name]:
            h = EXTREME_HALVES[(r + off) % len(EXTREME_HALVES)]
            data[r, :, off], data[r, :, off + 1] = h & 0xFF, h >> 8
    data[16:20] = 0
    data[20:24] = 0xFF
    return data.reshape(n_rows, -1), blocks_per_row * gw.BLOCK_SIZE[t]


def check(driver, workdir, seed=0):
    rng = np.random.default_rng(seed)
    ok = True
    # a cross-built driver runs through the cross file's exe_wrapper (qemu)
    wrapper = shlex.split(os.environ.get("MESON_EXE_WRAPPER", ""))
    for name in TYPES:
        t = gw.TYPE_NAMES[name]
        data, n = rows_for(name, rng)
        src, dst = os.path.join(workdir, f"{name}.in"), os.path.join(workdir, f"{name}.out")
        data.tofile(src)
        p = subprocess.run(wrapper + [driver, str(t), str(n), src, dst], capture_output=True,
                           text=True)
        if p.returncode != 0:
            print(f"{name}: FAIL driver exited {p.returncode}: {p.stderr.strip()}")
            ok = False
            continue
        got = np.fromfile(dst, dtype="<f4").reshape(len(data), n)
        with np.errstate(invalid="ignore"):                 # inf * 0 in NaN-scaled rows
            want = np.stack([gw.decode(t, row.tobytes(), (n,)) for row in data])
        want = want.astype(np.float32)
        same = (got.view(np.uint32) == want.view(np.uint32)) | (np.isnan(got) & np.isnan(want))
        bad = np.argwhere(~same)
        if len(bad):
            r, e = bad[0]
            print(f"{name}: FAIL {len(bad)} of {same.size} elements differ; first row {r} "
                  f"element {e}: C {got[r, e]!r} numpy {want[r, e]!r}")
            ok = False
        else:
            print(f"{name}: {same.size} elements bit-identical "
                  f"({int(np.isnan(want).sum())} NaN, {int(np.isinf(want).sum())} inf)")
    return ok


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--driver", required=True)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="phi4-dequant-") as d:
        ok = check(args.driver, d, args.seed)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
