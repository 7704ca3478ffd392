"""numpy encoders and decoders of the ggml block types beyond Q8_0/Q4_0.

Written from the format description (docs/gguf-and-quants.md sections 2-3), not from any C
code of this project or of ggml.  Decoders return float64 arrays holding float32 values:
each element is its exact formula (d*q + m, d*sc*q - dmin*m, ...) computed in float64 and
rounded once to float32, which is what a float32 reader computes when its products are
exact (they are: an fp16 scale has 11 significant bits, sub-scales and quants at most 8).

Encoders are simple round-to-nearest quantizers (no error search like llama.cpp's): the
reference uses whatever the decoder reconstructs, so their only job is to be sane.
Every array of blocks is [n_blocks, block elements] float32 in, bytes out.
"""
import numpy as np

QK_K = 256
# The IQ4_NL / IQ4_XS codebook.
IQ4_VALUES = np.array([-127, -104, -83, -65, -49, -35, -22, -10,
                       1, 13, 25, 38, 53, 69, 89, 113], dtype=np.int64)

# ----------------------------------------------------------------------------------------
# element -> (byte, shift) maps of each layout

E32 = np.arange(32)
NIBBLE32 = (E32 % 16, np.where(E32 < 16, 0, 4))          # Q4_0-style: j low, j+16 high
E256 = np.arange(QK_K)
# Q2_K / Q3_K: element 128h + 32j + l -> bits 2j of byte 32h + l
CRUMB256 = (32 * (E256 // 128) + E256 % 32, 2 * (E256 % 128 // 32))
Q3_HMASK = (E256 % 32, 4 * (E256 // 128) + E256 % 128 // 32)
# Q4_K / Q5_K: element 64c + 32t + l -> nibble t of byte 32c + l; Q5_K's 5th bit: bit e/32
NIBBLE256 = (32 * (E256 // 64) + E256 % 32, 4 * (E256 % 64 // 32))
Q5K_HIGH = (E256 % 32, E256 // 32)
# Q6_K: element 128h + 32g + l -> low nibble from ql[64h + l + 32(g&1)] >> 4(g>=2),
# bits 4-5 from qh[32h + l] >> 2g
_H, _G, _L = E256 // 128, E256 % 128 // 32, E256 % 32
Q6_LOW = (64 * _H + _L + 32 * (_G & 1), 4 * (_G >= 2))
Q6_HIGH = (32 * _H + _L, 2 * _G)
# IQ4_XS: sub-block ib = e/32 laid out as a Q4_0 block at qs + 16ib
IQ4XS = (16 * (E256 // 32) + E256 % 32 % 16, np.where(E256 % 32 < 16, 0, 4))


def unpack(data, where, bits):
    """data [n, bytes] uint8 -> [n, elements] int64 fields of the given width."""
    byte, shift = where
    return (data[:, byte].astype(np.int64) >> shift) & ((1 << bits) - 1)


def pack(values, where, n_bytes):
    """Inverse of unpack: OR each element's field into its byte (fields never overlap)."""
    byte, shift = where
    onehot = np.zeros((len(byte), n_bytes))
    onehot[np.arange(len(byte)), byte] = 1.0
    # float64 matmul (BLAS): the sums are below 256, so exact
    return ((values.astype(np.int64) << shift).astype(np.float64) @ onehot).astype(np.uint8)


def f32(x):
    """Round float64 values to float32 once (the decoders' last step)."""
    return np.asarray(x, dtype=np.float64).astype(np.float32).astype(np.float64)


def safe_inv(d):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(d != 0, 1.0 / np.where(d != 0, d, 1.0), 0.0)


def signed_max(b):
    """Per row, the value with the largest magnitude (sign kept)."""
    return b[np.arange(len(b)), np.argmax(np.abs(b), axis=1)]


def nearest_index(t, values):
    """Index of the (sorted) codebook value nearest each t."""
    return np.searchsorted((values[1:] + values[:-1]) / 2.0, t)


def as_f16(x):
    return np.asarray(x, dtype=np.float64).astype(np.float16)


def f16_value(h):
    return h.astype(np.float64)


# ----------------------------------------------------------------------------------------
# block dtypes (numpy views of one block, no padding)

BLOCK = {
    "q4_1": np.dtype([("d", "<f2"), ("m", "<f2"), ("qs", "u1", (16,))]),
    "q5_0": np.dtype([("d", "<f2"), ("qh", "u1", (4,)), ("qs", "u1", (16,))]),
    "q5_1": np.dtype([("d", "<f2"), ("m", "<f2"), ("qh", "u1", (4,)), ("qs", "u1", (16,))]),
    "iq4_nl": np.dtype([("d", "<f2"), ("qs", "u1", (16,))]),
    "q2_k": np.dtype([("scales", "u1", (16,)), ("qs", "u1", (64,)), ("d", "<f2"),
                      ("dmin", "<f2")]),
    "q3_k": np.dtype([("hmask", "u1", (32,)), ("qs", "u1", (64,)), ("scales", "u1", (12,)),
                      ("d", "<f2")]),
    "q4_k": np.dtype([("d", "<f2"), ("dmin", "<f2"), ("scales", "u1", (12,)),
                      ("qs", "u1", (128,))]),
    "q5_k": np.dtype([("d", "<f2"), ("dmin", "<f2"), ("scales", "u1", (12,)),
                      ("qh", "u1", (32,)), ("qs", "u1", (128,))]),
    "q6_k": np.dtype([("ql", "u1", (128,)), ("qh", "u1", (64,)), ("scales", "i1", (16,)),
                      ("d", "<f2")]),
    "iq4_xs": np.dtype([("d", "<f2"), ("scales_h", "<u2"), ("scales_l", "u1", (4,)),
                        ("qs", "u1", (128,))]),
}
SIZES = {"q4_1": 20, "q5_0": 22, "q5_1": 24, "iq4_nl": 18, "q2_k": 84, "q3_k": 110,
         "q4_k": 144, "q5_k": 176, "q6_k": 210, "iq4_xs": 136}
ELEMENTS = {t: QK_K if t.endswith("_k") or t == "iq4_xs" else 32 for t in SIZES}
assert all(BLOCK[t].itemsize == SIZES[t] for t in SIZES)


def qh_bits(qh):
    """[n, 4] bytes of a Q5 block's qh -> [n, 32] bit j of the little-endian u32."""
    word = qh.astype(np.int64) @ (1 << (8 * np.arange(4)))
    return (word[:, None] >> E32) & 1


def qh_bytes(bits):
    word = bits.astype(np.int64) @ (1 << E32)
    return ((word[:, None] >> (8 * np.arange(4))) & 0xFF).astype(np.uint8)


# Q4_K / Q5_K 12-byte scale packing: scales and mins 0-3 in the low 6 bits of bytes 0-3 and
# 4-7; their entries 4-7 keep bits 0-3 in bytes 8-11 (scale low nibble, min high nibble)
# and bits 4-5 in the top two bits of bytes 0-3 (scales) and 4-7 (mins).
def k4_scales(b):
    b = b.astype(np.int64)
    sc = np.concatenate([b[:, 0:4] & 63, (b[:, 8:12] & 0xF) | ((b[:, 0:4] >> 6) << 4)], axis=1)
    m = np.concatenate([b[:, 4:8] & 63, (b[:, 8:12] >> 4) | ((b[:, 4:8] >> 6) << 4)], axis=1)
    return sc, m


def k4_scale_bytes(sc, m):
    sc, m = sc.astype(np.int64), m.astype(np.int64)
    b = np.zeros((len(sc), 12), dtype=np.int64)
    b[:, 0:4] = (sc[:, 0:4] & 63) | ((sc[:, 4:8] >> 4) << 6)
    b[:, 4:8] = (m[:, 0:4] & 63) | ((m[:, 4:8] >> 4) << 6)
    b[:, 8:12] = (sc[:, 4:8] & 0xF) | ((m[:, 4:8] & 0xF) << 4)
    return b.astype(np.uint8)


# Q3_K 12-byte scale packing (sixteen 6-bit values, stored +32): scale i takes bits 0-3
# from byte i % 8 (low nibble for i < 8, high nibble for i >= 8) and bits 4-5 from byte
# 8 + i % 4, bit pair i // 4.
_I16 = np.arange(16)
Q3_SCALE_LOW = (_I16 % 8, np.where(_I16 < 8, 0, 4))
Q3_SCALE_HIGH = (8 + _I16 % 4, 2 * (_I16 // 4))


def k3_scales(b):
    return (unpack(b, Q3_SCALE_LOW, 4) | (unpack(b, Q3_SCALE_HIGH, 2) << 4)) - 32


def k3_scale_bytes(s):
    u = s.astype(np.int64) + 32
    return pack(u & 0xF, Q3_SCALE_LOW, 12) | pack(u >> 4, Q3_SCALE_HIGH, 12)


def iq4xs_scales(blk):
    low = unpack(blk["scales_l"], (np.arange(8) // 2, 4 * (np.arange(8) % 2)), 4)
    high = (blk["scales_h"].astype(np.int64)[:, None] >> (2 * np.arange(8))) & 3
    return (low | (high << 4)) - 32


# ----------------------------------------------------------------------------------------
# decoders: bytes -> [n_blocks, elements] float64 (float32 values)

def decode_blocks(name, buf):
    blk = np.frombuffer(buf, dtype=BLOCK[name])
    d = f16_value(blk["d"])[:, None]
    if name == "q4_1":
        return f32(d * unpack(blk["qs"], NIBBLE32, 4) + f16_value(blk["m"])[:, None])
    if name in ("q5_0", "q5_1"):
        q = unpack(blk["qs"], NIBBLE32, 4) | (qh_bits(blk["qh"]) << 4)
        if name == "q5_0":
            return f32(d * (q - 16))
        return f32(d * q + f16_value(blk["m"])[:, None])
    if name == "iq4_nl":
        return f32(d * IQ4_VALUES[unpack(blk["qs"], NIBBLE32, 4)])
    if name == "q2_k":
        s = blk["scales"].astype(np.int64)
        sc, m = np.repeat(s & 0xF, 16, axis=1), np.repeat(s >> 4, 16, axis=1)
        return f32(d * sc * unpack(blk["qs"], CRUMB256, 2) - f16_value(blk["dmin"])[:, None] * m)
    if name == "q3_k":
        q = unpack(blk["qs"], CRUMB256, 2) + 4 * unpack(blk["hmask"], Q3_HMASK, 1) - 4
        return f32(d * np.repeat(k3_scales(blk["scales"]), 16, axis=1) * q)
    if name in ("q4_k", "q5_k"):
        q = unpack(blk["qs"], NIBBLE256, 4)
        if name == "q5_k":
            q = q | (unpack(blk["qh"], Q5K_HIGH, 1) << 4)
        sc, m = k4_scales(blk["scales"])
        return f32(d * np.repeat(sc, 32, axis=1) * q
                   - f16_value(blk["dmin"])[:, None] * np.repeat(m, 32, axis=1))
    if name == "q6_k":
        q = unpack(blk["ql"], Q6_LOW, 4) | (unpack(blk["qh"], Q6_HIGH, 2) << 4)
        sc = np.repeat(blk["scales"].astype(np.int64), 16, axis=1)
        return f32(d * sc * (q - 32))
    if name == "iq4_xs":
        sc = np.repeat(iq4xs_scales(blk), 32, axis=1)
        return f32(d * sc * IQ4_VALUES[unpack(blk["qs"], IQ4XS, 4)])
    raise ValueError(name)


# ----------------------------------------------------------------------------------------
# encoders: [n_blocks, elements] float -> bytes

def _affine(b, levels):
    """x ~ d*q + m with q in 0..levels over [min, max] (Q4_1, Q5_1)."""
    mn, mx = b.min(axis=1), b.max(axis=1)
    d = (mx - mn) / levels
    q = np.clip(np.rint((b - mn[:, None]) * safe_inv(d)[:, None]), 0, levels).astype(np.int64)
    return as_f16(d), as_f16(mn), q


def _min_scale_groups(b, group, levels):
    """K-quants with mins: per group x ~ scale*q - m, q in 0..levels, m = -min(0, min x)."""
    g = b.reshape(len(b), -1, group)
    m = -np.minimum(g.min(axis=2), 0.0)
    scale = (g.max(axis=2) + m) / levels
    return g, scale, m


def _superscale(values, bits):
    """Unsigned sub-scales (or mins) to `bits`-bit integers under one fp16 super-scale."""
    top = (1 << bits) - 1
    d = as_f16(values.max(axis=1) / top)
    q = np.clip(np.rint(values * safe_inv(f16_value(d))[:, None]), 0, top).astype(np.int64)
    return d, q


def _requantize(g, eff_scale, eff_min, lo, hi):
    """Quants of each group given its effective (decoded) scale and min."""
    t = (g + eff_min[..., None]) * safe_inv(eff_scale)[..., None]
    return np.clip(np.rint(t), lo, hi).astype(np.int64).reshape(len(g), -1)


def _signed_superscale(sub, top):
    """Signed sub-scales to integers in -top..top-1 under one fp16 super-scale chosen so the
    largest-magnitude one maps to -top."""
    d = as_f16(signed_max(sub) / -top)
    ls = np.clip(np.rint(sub * safe_inv(f16_value(d))[:, None]), -top, top - 1).astype(np.int64)
    return d, ls


def encode_blocks(name, b):
    b = np.asarray(b, dtype=np.float32).astype(np.float64)
    n = len(b)
    out = np.zeros(n, dtype=BLOCK[name])
    if name in ("q4_1", "q5_1"):
        out["d"], out["m"], q = _affine(b, 15 if name == "q4_1" else 31)
        out["qs"] = pack(q & 0xF, NIBBLE32, 16)
        if name == "q5_1":
            out["qh"] = qh_bytes(q >> 4)
    elif name == "q5_0":
        d = signed_max(b) / -16
        q = np.clip(np.floor(b * safe_inv(d)[:, None] + 16.5), 0, 31).astype(np.int64)
        out["d"] = as_f16(d)
        out["qs"], out["qh"] = pack(q & 0xF, NIBBLE32, 16), qh_bytes(q >> 4)
    elif name == "iq4_nl":
        d = as_f16(signed_max(b) / IQ4_VALUES[0])
        out["d"] = d
        out["qs"] = pack(nearest_index(b * safe_inv(f16_value(d))[:, None], IQ4_VALUES),
                         NIBBLE32, 16)
    elif name in ("q2_k", "q4_k", "q5_k"):
        group, levels, bits = {"q2_k": (16, 3, 4), "q4_k": (32, 15, 6), "q5_k": (32, 31, 6)}[name]
        g, scale, m = _min_scale_groups(b, group, levels)
        d, sc = _superscale(scale, bits)
        dmin, mq = _superscale(m, bits)
        q = _requantize(g, f16_value(d)[:, None] * sc, f16_value(dmin)[:, None] * mq, 0, levels)
        out["d"], out["dmin"] = d, dmin
        if name == "q2_k":
            out["scales"] = (sc | (mq << 4)).astype(np.uint8)
            out["qs"] = pack(q, CRUMB256, 64)
        else:
            out["scales"] = k4_scale_bytes(sc, mq)
            out["qs"] = pack(q & 0xF, NIBBLE256, 128)
            if name == "q5_k":
                out["qh"] = pack(q >> 4, Q5K_HIGH, 32)
    elif name in ("q3_k", "q6_k"):
        half, top = (4, 32) if name == "q3_k" else (32, 128)
        g = b.reshape(n, 16, 16)
        d, ls = _signed_superscale(signed_max(g.reshape(-1, 16)).reshape(n, 16) / -half, top)
        q = _requantize(g, f16_value(d)[:, None] * ls, np.zeros((n, 16)), -half, half - 1)
        out["d"] = d
        if name == "q3_k":
            u = q + 4
            out["scales"] = k3_scale_bytes(ls)
            out["qs"], out["hmask"] = pack(u & 3, CRUMB256, 64), pack(u >> 2, Q3_HMASK, 32)
        else:
            u = q + 32
            out["scales"] = ls.astype(np.int8)
            out["ql"], out["qh"] = pack(u & 0xF, Q6_LOW, 128), pack(u >> 4, Q6_HIGH, 64)
    elif name == "iq4_xs":
        g = b.reshape(n, 8, 32)
        sub = signed_max(g.reshape(-1, 32)).reshape(n, 8) / IQ4_VALUES[0]
        d, ls = _signed_superscale(sub, 32)
        eff = f16_value(d)[:, None] * ls
        idx = nearest_index(g * safe_inv(eff)[..., None], IQ4_VALUES).reshape(n, -1)
        u = ls + 32
        out["d"] = d
        out["scales_l"] = pack(u & 0xF, (np.arange(8) // 2, 4 * (np.arange(8) % 2)), 4)
        out["scales_h"] = ((u >> 4) << (2 * np.arange(8))).sum(axis=1).astype(np.uint16)
        out["qs"] = pack(idx, IQ4XS, 128)
    else:
        raise ValueError(name)
    return out.tobytes()
