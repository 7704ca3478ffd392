#!/usr/bin/python3
"""phi4-bench end to end: the model file it writes, and the figures it prints.

    check_bench.py --bench PATH --shape phi4-mini --type q8_0 --layers 1 [--vocab N]

1. `phi4-bench --make ... --make-only` writes a file; this script reads it back with
   its own GGUF reader and block decoders (written from the format description in
   /work/shared/docs/gguf-and-quants.md §1-3, not from the C code) and checks the
   real hyper-parameters (phi4-family.md §1-2, §4), the tensor names, shapes and types
   (q4_k_m, q5_k_m: llama.cpp's mixes for the phi3 layout, as llama-quant's
   per-tensor choice describes them), the data layout (offsets, file size),
   and that every matrix decodes to entries of standard deviation ~1/sqrt(fan-in).
2. `phi4-bench -m FILE --json` with a tiny prompt: every field is there and sane, the
   bytes a decode step streams equal this script's own count from the tensor table,
   the K/V cache size and K/V bytes per token follow the cache type in use (f16 by
   default, f32 with --kv-type f32), the FLOP count follows the stated formula,
   logits are finite.
3. The human-readable table names every figure.
"""
import argparse
import json
import math
import mmap
import os
import platform
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "ref"))
import gguf_reader  # noqa: E402

SHAPES = {
    "phi4-mini": dict(n_layer=32, n_embd=3072, n_ff=8192, n_head=24, n_head_kv=8, head_dim=128,
                      n_rot=96, n_vocab=200064, context=131072, context_orig=4096,
                      freq_base=10000.0, sliding_window=262144, tied=True, pre="gpt-4o",
                      eot="<|end|>"),
    "phi4": dict(n_layer=40, n_embd=5120, n_ff=17920, n_head=40, n_head_kv=10, head_dim=128,
                 n_rot=128, n_vocab=100352, context=16384, context_orig=16384,
                 freq_base=250000.0, sliding_window=0, tied=False, pre="dbrx",
                 eot="<|im_end|>"),
}
LONG_FACTORS = [
    1, 1.118320672, 1.250641126, 1.398617824, 1.564103225, 1.74916897, 1.956131817,
    2.187582649, 2.446418898, 2.735880826, 3.059592084, 3.421605075, 3.826451687, 4.279200023,
    4.785517845, 5.351743533, 5.984965424, 6.693110555, 7.485043894, 8.370679318, 9.36110372,
    10.4687158, 11.70738129, 13.09260651, 14.64173252, 16.37415215, 18.31155283, 20.47818807,
    22.90118105, 25.61086418, 28.64115884, 32.03, 32.1, 32.13, 32.23, 32.6, 32.61, 32.64, 32.66,
    32.7, 32.71, 32.93, 32.97, 33.28, 33.49, 33.5, 44.16, 47.77]
F32, F16, Q4_0, Q8_0, Q4_K, Q5_K, Q6_K = 0, 1, 2, 8, 12, 13, 14
GEOMETRY = {F32: (1, 4), F16: (1, 2), Q4_0: (32, 18), Q8_0: (32, 34), Q4_K: (256, 144),
            Q5_K: (256, 176), Q6_K: (256, 210)}
TYPE_NAMES = {F32: "F32", F16: "F16", Q4_0: "Q4_0", Q8_0: "Q8_0", Q4_K: "Q4_K", Q5_K: "Q5_K",
              Q6_K: "Q6_K"}


def fail(msg):
    print(f"check_bench: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def expect(cond, msg):
    if not cond:
        fail(msg)


# ---- the file's layout ------------------------------------------------------------

def read_gguf(path):
    """-> (metadata {key: (type, value)}, tensors {name: info with 'data' and 'nbytes'})"""
    with open(path, "rb") as f:
        data = memoryview(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ))
    meta, infos, start, align = gguf_reader.read_header(data)
    tensors, running = {}, 0
    for name, dims, ttype, offset in infos:
        expect(ttype in GEOMETRY, f"{name}: unexpected type {ttype}")
        block, size = GEOMETRY[ttype]
        expect(dims[0] % block == 0, f"{name}: rows are not whole blocks")
        nbytes = int(np.prod(dims)) // block * size
        expect(offset == running, f"{name}: offset {offset}, expected {running}")
        running += (nbytes + align - 1) // align * align
        expect(name not in tensors, f"duplicate tensor {name}")
        tensors[name] = dict(dims=dims, type=ttype, nbytes=nbytes,
                             data=data[start + offset:start + offset + nbytes])
    expect(len(data) == start + running,
           f"file is {len(data)} bytes, header and tensors make {start + running}")
    return meta, tensors


# ---- block decoders (gguf-and-quants.md §3) -----------------------------------------

def blocks(t, rows):
    """The blocks of the first `rows` rows, one per line of bytes."""
    block, size = GEOMETRY[t["type"]]
    row_bytes = t["dims"][0] // block * size
    return np.frombuffer(t["data"][:rows * row_bytes], dtype=np.uint8).reshape(-1, size)


def q4_k_scales(raw):
    """d, dmin [n,1] and the eight 6-bit scales and mins [n,8] of Q4_K and Q5_K blocks
    (§3.3, §3.4)."""
    d = raw[:, 0:2].copy().view("<f2").astype(np.float64)
    dmin = raw[:, 2:4].copy().view("<f2").astype(np.float64)
    b = raw[:, 4:16].astype(np.int64)
    sc = np.zeros((len(raw), 8), np.int64)
    m = np.zeros((len(raw), 8), np.int64)
    for j in range(4):
        sc[:, j] = b[:, j] & 63
        m[:, j] = b[:, j + 4] & 63
        sc[:, j + 4] = (b[:, j + 8] & 15) | ((b[:, j] >> 6) << 4)
        m[:, j + 4] = (b[:, j + 8] >> 4) | ((b[:, j + 4] >> 6) << 4)
    return d, dmin, sc, m


def decode_rows(t, rows):
    """The first `rows` rows of a matrix as float64, [rows, ne0]."""
    ne0 = t["dims"][0]
    raw = blocks(t, rows)
    if t["type"] == F32:
        x = raw.view("<f4").astype(np.float64)
    elif t["type"] == F16:
        x = raw.view("<f2").astype(np.float64)
    elif t["type"] == Q8_0:
        d = raw[:, :2].copy().view("<f2").astype(np.float64)
        x = d * raw[:, 2:].view(np.int8).astype(np.float64)
    elif t["type"] == Q4_0:
        d = raw[:, :2].copy().view("<f2").astype(np.float64)
        qs = raw[:, 2:]
        q = np.concatenate([qs & 15, qs >> 4], axis=1).astype(np.float64) - 8
        x = d * q
    elif t["type"] in (Q4_K, Q5_K):
        d, dmin, sc, m = q4_k_scales(raw)
        five = t["type"] == Q5_K
        qh = raw[:, 16:48].astype(np.int64) if five else np.zeros((len(raw), 32), np.int64)
        qs = raw[:, 48 if five else 16:].astype(np.int64)
        x = np.zeros((len(raw), 256))
        for c in range(4):
            lo = (qs[:, 32 * c:32 * c + 32] & 15) + 16 * ((qh >> (2 * c)) & 1)
            hi = (qs[:, 32 * c:32 * c + 32] >> 4) + 16 * ((qh >> (2 * c + 1)) & 1)
            for s, q in ((2 * c, lo), (2 * c + 1, hi)):
                x[:, 32 * s:32 * s + 32] = (d * sc[:, s:s + 1]) * q - dmin * m[:, s:s + 1]
    elif t["type"] == Q6_K:
        ql, qh = raw[:, :128].astype(np.int64), raw[:, 128:192].astype(np.int64)
        scales = raw[:, 192:208].view(np.int8).astype(np.float64)
        d = raw[:, 208:210].copy().view("<f2").astype(np.float64)
        x = np.zeros((len(raw), 256))
        for h in range(2):
            L, H = ql[:, 64 * h:64 * h + 64], qh[:, 32 * h:32 * h + 32]
            for l in range(32):
                for k, (low, shift) in enumerate(((L[:, l] & 15, 0), (L[:, l + 32] & 15, 2),
                                                  (L[:, l] >> 4, 4), (L[:, l + 32] >> 4, 6))):
                    e = 128 * h + l + 32 * k
                    q = (low | (((H[:, l] >> shift) & 3) << 4)) - 32
                    x[:, e] = d[:, 0] * scales[:, 8 * h + e % 128 // 16] * q
    else:
        fail(f"no decoder for type {t['type']}")
    return x.reshape(rows, ne0)


# ---- the expected file ---------------------------------------------------------------

def more_bits(layer, n_layer):
    return layer < n_layer // 8 or layer >= 7 * n_layer // 8 or (layer - n_layer // 8) % 3 == 2


def expected_type(ttype, role, layer, n_layer, tied):
    """llama-quant's choice (gguf-and-quants.md §3: a real phi-4 Q4_K_M has attn_qkv
    Q5_K; Q5_K_M raises attn_qkv to Q6_K)."""
    if ttype not in ("q4_k_m", "q5_k_m"):
        return {"q4_0": Q4_0, "q8_0": Q8_0, "f16": F16}[ttype]
    if role == "output" or (role == "embd" and tied):
        return Q6_K
    if role == "attn_qkv":
        return Q5_K if ttype == "q4_k_m" else Q6_K
    if role == "ffn_down" and more_bits(layer, n_layer):
        return Q6_K
    return Q4_K if ttype == "q4_k_m" else Q5_K


def expected_tensors(shape, ttype):
    s = shape
    E, L = s["n_embd"], s["n_layer"]
    qkv = (s["n_head"] + 2 * s["n_head_kv"]) * s["head_dim"]
    out = {"token_embd.weight": ([E, s["n_vocab"]], expected_type(ttype, "embd", 0, L, s["tied"])),
           "output_norm.weight": ([E], F32)}
    if s["tied"]:
        out["rope_factors_long.weight"] = ([s["n_rot"] // 2], F32)
        out["rope_factors_short.weight"] = ([s["n_rot"] // 2], F32)
    else:
        out["output.weight"] = ([E, s["n_vocab"]], expected_type(ttype, "output", 0, L, False))
    for l in range(L):
        p = f"blk.{l}."
        out[p + "attn_norm.weight"] = ([E], F32)
        out[p + "ffn_norm.weight"] = ([E], F32)
        for role, dims in (("attn_qkv", [E, qkv]), ("attn_output", [s["n_head"] * s["head_dim"], E]),
                           ("ffn_up", [E, 2 * s["n_ff"]]), ("ffn_down", [s["n_ff"], E])):
            out[p + role + ".weight"] = (dims, expected_type(ttype, role, l, L, s["tied"]))
    return out


def check_file(path, shape, ttype):
    kv, tensors = read_gguf(path)
    s = shape

    def meta(key):
        expect(key in kv, f"missing metadata {key}")
        return kv[key][1]

    expect(meta("general.architecture") == "phi3", "architecture is not phi3")
    for key, want in (("context_length", s["context"]),
                      ("rope.scaling.original_context_length", s["context_orig"]),
                      ("embedding_length", s["n_embd"]), ("feed_forward_length", s["n_ff"]),
                      ("block_count", s["n_layer"]), ("attention.head_count", s["n_head"]),
                      ("attention.head_count_kv", s["n_head_kv"]),
                      ("rope.dimension_count", s["n_rot"]),
                      ("attention.sliding_window", s["sliding_window"])):
        expect(meta("phi3." + key) == want, f"phi3.{key} = {meta('phi3.' + key)}, want {want}")
    expect(math.isclose(meta("phi3.rope.freq_base"), s["freq_base"]), "rope.freq_base")
    expect(math.isclose(meta("phi3.attention.layer_norm_rms_epsilon"), 1e-5, rel_tol=1e-6), "eps")
    if s["tied"]:
        expect(abs(meta("phi3.rope.scaling.attn_factor") - 1.1902381) < 1e-6, "attn_factor")
    else:
        expect("phi3.rope.scaling.attn_factor" not in kv, "attn_factor in a model without LongRoPE")
    expect(meta("general.quantization_version") == 2 if ttype != "f16" else True, "quant version")

    tokens, types = meta("tokenizer.ggml.tokens"), meta("tokenizer.ggml.token_type")
    expect(meta("tokenizer.ggml.model") == "gpt2" and meta("tokenizer.ggml.pre") == s["pre"],
           "tokenizer model/pre")
    expect(len(tokens) == s["n_vocab"] == len(types), "vocabulary size")
    expect(len(set(tokens)) == len(tokens), "duplicate token strings")
    ids = {t: i for i, t in enumerate(tokens)}
    merges = meta("tokenizer.ggml.merges")
    for m in merges:
        left, right = m.split(" ")
        expect(left in ids and right in ids and left + right in ids, f"merge {m!r} names no token")
    expect(tokens[meta("tokenizer.ggml.eos_token_id")] == s["eot"], "eos token")
    expect(tokens[meta("tokenizer.ggml.bos_token_id")] == "<|endoftext|>", "bos token")
    expect(types[ids[s["eot"]]] == 3, "end-of-turn token is not a control token")

    want = expected_tensors(s, ttype)
    expect(set(tensors) == set(want), f"tensor names differ: {set(tensors) ^ set(want)}")
    for name, (dims, ttype_want) in want.items():
        t = tensors[name]
        expect(t["dims"] == dims, f"{name}: dims {t['dims']}, want {dims}")
        expect(t["type"] == ttype_want,
               f"{name}: type {TYPE_NAMES[t['type']]}, want {TYPE_NAMES[ttype_want]}")
    if s["tied"]:
        long_f = decode_rows(tensors["rope_factors_long.weight"], 1)[0]
        short_f = decode_rows(tensors["rope_factors_short.weight"], 1)[0]
        expect(np.allclose(long_f, LONG_FACTORS, rtol=1e-6), "long rope factors")
        expect(np.all(short_f == 1.0), "short rope factors")
    for name, t in tensors.items():
        if len(t["dims"]) == 1:
            if "norm" in name:
                v = decode_rows(t, 1)
                expect(np.all((v >= 0.9) & (v <= 1.1)), f"{name}: gains outside 0.9..1.1")
            continue
        rows = min(t["dims"][1], 64)
        x = decode_rows(t, rows)
        expect(np.all(np.isfinite(x)), f"{name}: non-finite values")
        sd, sigma = x.std(), 1 / math.sqrt(t["dims"][0])
        expect(0.8 * sigma < sd < 1.25 * sigma,
               f"{name}: entries have sd {sd:.3g}, want ~{sigma:.3g}")
        expect(abs(x.mean()) < 0.1 * sigma, f"{name}: entries have mean {x.mean():.3g}")
        check_block_invariants(name, t, rows)
    return tensors


def check_block_invariants(name, t, rows):
    """What phi4-bench says it draws, seen through the documented unpacking: a packing
    that disagrees with the format scrambles these."""
    raw = blocks(t, rows)
    if t["type"] in (Q4_K, Q5_K):
        levels, kind = (16, "Q4_K") if t["type"] == Q4_K else (32, "Q5_K")
        d, dmin, sc, m = q4_k_scales(raw)
        expect(np.all((sc >= 32) & (sc <= 63)), f"{name}: {kind} scales outside 32..63")
        expect(np.all(m == (sc * (levels - 1) + levels // 2) // levels),
               f"{name}: {kind} mins do not cancel the means")
        # d of a wide matrix is a subnormal half: its rounding (2^-25 at most) grows
        # levels / 2 times in the comparison
        expect(np.allclose(dmin, levels // 2 * d, rtol=2e-3, atol=levels // 2 * 2.0 ** -25),
               f"{name}: {kind} dmin is not {levels // 2} d")
    elif t["type"] == Q6_K:
        mag = np.abs(raw[:, 192:208].view(np.int8).astype(np.int64))
        expect(np.all((mag >= 16) & (mag <= 127)), f"{name}: Q6_K scales outside 16..127")
    elif t["type"] == Q8_0:
        expect(np.all(raw[:, 2:].view(np.int8) != -128), f"{name}: Q8_0 quant -128")


# ---- the measurement ----------------------------------------------------------------

def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    return p.returncode, p.stdout, p.stderr


def check_run(bench, path, shape, tensors, one_run):
    layer_bytes = sum(t["nbytes"] for n, t in tensors.items()
                      if n.startswith("blk.") and len(t["dims"]) == 2)
    out_t = tensors.get("output.weight", tensors["token_embd.weight"])
    p, n = 8, 4
    rc, out, err = run([bench, "-m", path, "-p", str(p), "-n", str(n), "-r", "2", "-t", "2",
                        "--stream-mib", "16", "--json"])
    expect(rc == 0, f"phi4-bench -m failed ({rc}): {err}")
    j = json.loads(out)
    s = shape
    kv_dim = s["n_head_kv"] * s["head_dim"]
    expect(j["n_layer"] == s["n_layer"] and j["n_embd"] == s["n_embd"], "shape in JSON")
    expect(j["tied"] == s["tied"], "tied")
    expect(j["weight_bytes_per_token"] == layer_bytes + out_t["nbytes"],
           f"bytes per token {j['weight_bytes_per_token']}, want {layer_bytes + out_t['nbytes']}")
    expect(j["n_ctx"] == p + n, "n_ctx is not p + n")
    check_kv(j, s, p, n, "f16", 2)
    layer_params = sum(int(np.prod(t["dims"])) for nm, t in tensors.items()
                       if nm.startswith("blk.") and len(t["dims"]) == 2)
    attention = 4 * s["head_dim"] * s["n_head"] * s["n_layer"] * p * (p + 1) / 2
    flops = 2 * layer_params * p + 2 * int(np.prod(out_t["dims"])) + attention
    expect(math.isclose(j["pp_flops"], flops, rel_tol=1e-5), f"pp_flops {j['pp_flops']} != {flops}")
    for key in ("pp_tok_s", "tg_tok_s", "ttft_s"):
        st = j[key]
        expect(len(st["samples"]) == 2 and st["min"] > 0 and st["min"] <= st["mean"] <= st["max"],
               f"{key}: {st}")
    expect(math.isclose(j["tg_gb_s"], j["weight_bytes_per_token"] * j["tg_tok_s"]["mean"] / 1e9,
                        rel_tol=1e-4), "tg_gb_s is not bytes x tokens/s")
    expect(j["tg_gb_s_with_kv"] > j["tg_gb_s"], "K/V reads add nothing")
    expect(j["load_s"] > 0 and j["peak_rss_bytes"] > 0, "load time or peak RSS")
    expect(j["peak_gflop_s"] > 0 and j["stream_gb_s"]["best"] > 0, "machine figures")
    # The int8 peak is measured on x86 with AVX2 (VNNI where there is AVX-512 VNNI).
    flags = open("/proc/cpuinfo").read().split() if os.path.exists("/proc/cpuinfo") else []
    want_int8 = ("avx512-vnni" if "avx512_vnni" in flags and "avx512bw" in flags
                 else "avx2" if "avx2" in flags and platform.machine() in ("x86_64", "AMD64")
                 else "none")
    expect(j["int8_isa"] == want_int8, f"int8_isa {j['int8_isa']}, expected {want_int8}")
    if want_int8 != "none":
        expect(j["int8_peak_gop_s"] > 0 and math.isclose(
            j["pp_int8_peak_pct"], 100 * j["pp_gflop_s"] / j["int8_peak_gop_s"], rel_tol=1e-3),
            "int8 peak and pp's share of it")
    expect(math.isclose(j["tg_stream_pct"], 100 * j["tg_gb_s"] / j["stream_gb_s"]["best"],
                        rel_tol=1e-3), "tg_stream_pct")
    # One STREAM pass before the first repetition and after each; every
    # repetition's GB/s against the mean of the two around it, averaged.
    around = j["stream_around_gb_s"]
    tg = j["tg_tok_s"]["samples"]
    expect(len(around) == len(tg) + 1 and min(around) > 0, f"stream_around_gb_s {around}")
    want = sum(100 * j["weight_bytes_per_token"] * t / 1e9 / ((around[i] + around[i + 1]) / 2)
               for i, t in enumerate(tg)) / len(tg)
    expect(math.isclose(j["tg_stream_around_pct"], want, rel_tol=1e-3),
           f"tg_stream_around_pct {j['tg_stream_around_pct']}, want {want}")
    expect(0 < j["tg_cpu_share"] <= 1.05 and 0 < j["pp_cpu_share"] <= 1.05, "CPU shares")
    expect(j["logits_finite"] is True, "logits are not finite")
    if one_run:
        return

    rc, out, err = run([bench, "-m", path, "-p", str(p), "-n", str(n), "-r", "1", "-t", "1",
                        "--no-machine", "--kv-type", "f32", "--json"])
    expect(rc == 0, f"phi4-bench --kv-type f32 failed ({rc}): {err}")
    check_kv(json.loads(out), s, p, n, "f32", 4)
    rc, out, err = run([bench, "-m", path, "--kv-type", "f8", "--no-machine"])
    expect(rc == 2 and "--kv-type" in err, f"--kv-type f8 is not refused: {rc} {err}")

    rc, out, err = run([bench, "-m", path, "-p", "4", "-n", "2", "-r", "1", "--stream-mib", "16"])
    expect(rc == 0, f"table run failed: {err}")
    for label in ("load", "pp4", "TTFT", "tg2", "weights/token", "bandwidth tg", "K/V reads",
                  "peak RSS", "K/V cache", "logits", "finite", "GB/s", "tok/s", "% of STREAM",
                  "% of the STREAM passes around each repetition"):
        expect(label in out, f"the table has no '{label}':\n{out}")
    print(out)


def check_kv(j, s, p, n, kv_type, elem_bytes):
    """The cache holds K and V of every layer for n_ctx positions; generated token i
    (0-based) reads p + i + 1 of them, p + (n + 1) / 2 on average."""
    per_position = 2 * s["n_layer"] * s["n_head_kv"] * s["head_dim"] * elem_bytes
    expect(j["kv_type"] == kv_type, f"kv_type {j['kv_type']}, want {kv_type}")
    expect(j["kv_cache_bytes"] == per_position * (p + n),
           f"K/V cache size {j['kv_cache_bytes']}, want {per_position * (p + n)}")
    expect(math.isclose(j["kv_bytes_per_token"], per_position * (p + (n + 1) / 2), rel_tol=1e-9),
           f"K/V bytes per token {j['kv_bytes_per_token']}, want {per_position * (p + (n + 1) / 2)}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", required=True)
    ap.add_argument("--shape", required=True, choices=sorted(SHAPES))
    ap.add_argument("--type", required=True)
    ap.add_argument("--layers", type=int, required=True)
    ap.add_argument("--vocab", type=int)
    ap.add_argument("--one-run", action="store_true",
                    help="only the measured run, not the f32 K/V, refused K/V type and table runs")
    a = ap.parse_args()
    shape = dict(SHAPES[a.shape], n_layer=a.layers)
    if a.vocab:
        shape["n_vocab"] = a.vocab
    with tempfile.TemporaryDirectory(prefix="phi4-bench-") as d:
        path = os.path.join(d, "model.gguf")
        cmd = [a.bench, "--make", a.shape, "--type", a.type, "--layers", str(a.layers),
               "--out", path, "--make-only"]
        if a.vocab:
            cmd += ["--vocab", str(a.vocab)]
        rc, out, err = run(cmd)
        expect(rc == 0, f"{' '.join(cmd)} failed ({rc}): {err}")
        tensors = check_file(path, shape, a.type)
        check_run(a.bench, path, shape, tensors, a.one_run)
    print("check_bench: OK")


if __name__ == "__main__":
    main()
