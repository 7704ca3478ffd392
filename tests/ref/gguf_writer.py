"""Minimal GGUF v3 writer plus tensor encoders/decoders (little-endian only).

Written from the format description (docs/gguf-and-quants.md sections 1-3), not from any
C code of this project.  The decoders are what the numpy reference runs on: a model is
defined by the bytes in the file, so the reference must see exactly the values a correct
reader reconstructs from those bytes (dequantized, fp16/bf16 widened).

Numpy arrays use the PyTorch/row-major convention: a matrix of shape [rows, cols] is
stored with GGUF dims [cols, rows] (ne0 = cols is the fastest-varying dimension, and
quantization blocks run along it).
"""
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import quants  # noqa: E402

GGUF_MAGIC = b"GGUF"
GGUF_VERSION = 3
GGUF_DEFAULT_ALIGNMENT = 32

# metadata value types (gguf-and-quants.md 1.2)
UINT8, INT8, UINT16, INT16, UINT32, INT32, FLOAT32, BOOL, STRING, ARRAY, UINT64, INT64, FLOAT64 = range(13)

_SCALAR_FMT = {
    UINT8: "<B", INT8: "<b", UINT16: "<H", INT16: "<h", UINT32: "<I", INT32: "<i",
    FLOAT32: "<f", BOOL: "<?", UINT64: "<Q", INT64: "<q", FLOAT64: "<d",
}

# tensor types (ggml_type codes, section 2) and their block geometry
F32, F16, Q4_0, Q8_0, BF16 = 0, 1, 2, 8, 30
Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS = 3, 6, 7, 10, 11, 12, 13, 14, 20, 23
TYPE_NAMES = {"f32": F32, "f16": F16, "bf16": BF16, "q8_0": Q8_0, "q4_0": Q4_0,
              "q4_1": Q4_1, "q5_0": Q5_0, "q5_1": Q5_1, "q2_k": Q2_K, "q3_k": Q3_K,
              "q4_k": Q4_K, "q5_k": Q5_K, "q6_k": Q6_K, "iq4_nl": IQ4_NL, "iq4_xs": IQ4_XS}
BLOCK_SIZE = {F32: 1, F16: 1, BF16: 1, Q8_0: 32, Q4_0: 32}
TYPE_SIZE = {F32: 4, F16: 2, BF16: 2, Q8_0: 34, Q4_0: 18}
for _name in quants.SIZES:
    BLOCK_SIZE[TYPE_NAMES[_name]] = quants.ELEMENTS[_name]
    TYPE_SIZE[TYPE_NAMES[_name]] = quants.SIZES[_name]
QK = 32

# numpy views of one quant block: fp16 scale first, then the quants, no padding
Q8_0_BLOCK = np.dtype([("d", "<f2"), ("qs", "i1", (32,))])
Q4_0_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
assert Q8_0_BLOCK.itemsize == 34 and Q4_0_BLOCK.itemsize == 18


def align_up(x, a):
    return x + (a - x % a) % a


# ----------------------------------------------------------------------------------------
# encoders / decoders.  Encoders take float values (any float dtype), decoders return
# float64 arrays of the given shape.

def _blocks(x, qk=QK):
    x = np.asarray(x, dtype=np.float32)
    if x.size % qk != 0 or (x.ndim > 0 and x.shape[-1] % qk != 0):
        raise ValueError(f"row length {x.shape[-1] if x.ndim else 1} is not a multiple of {qk}")
    return x.reshape(-1, qk)


def encode_f32(x):
    return np.ascontiguousarray(x, dtype="<f4").tobytes()


def decode_f32(buf, shape):
    return np.frombuffer(buf, dtype="<f4").astype(np.float64).reshape(shape)


def encode_f16(x):
    # numpy's float->half conversion is IEEE round-to-nearest-even, as the format requires
    return np.ascontiguousarray(np.asarray(x, dtype=np.float32).astype("<f2")).tobytes()


def decode_f16(buf, shape):
    return np.frombuffer(buf, dtype="<f2").astype(np.float64).reshape(shape)


def f32_to_bf16_bits(x):
    """Top 16 bits of the f32, rounded to nearest, ties to even; NaN stays a (quiet) NaN."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    nan = np.isnan(np.asarray(x, dtype=np.float32))
    rounded = np.where(nan, (u >> 16) | 0x40, rounded)
    return rounded.astype("<u2")


def encode_bf16(x):
    return f32_to_bf16_bits(x).tobytes()


def decode_bf16(buf, shape):
    bits = np.frombuffer(buf, dtype="<u2").astype(np.uint32) << 16
    return bits.view(np.float32).astype(np.float64).reshape(shape)


def quantize_q8_0(x):
    """ggml's reference quantizer: d = amax/127, q = round(x/d) (ties away from zero).
    Quantization uses the unrounded f32 scale; only the stored d is rounded to fp16."""
    b = _blocks(x)
    amax = np.max(np.abs(b), axis=1)
    d = (amax / np.float32(127)).astype(np.float32)
    with np.errstate(divide="ignore"):
        inv = np.where(d > 0, np.float32(1) / d, np.float32(0)).astype(np.float32)
    v = b * inv[:, None]
    q = np.sign(v) * np.floor(np.abs(v) + np.float32(0.5))      # roundf: ties away from 0
    out = np.empty(len(b), dtype=Q8_0_BLOCK)
    out["d"] = d.astype(np.float16)
    out["qs"] = np.clip(q, -127, 127).astype(np.int8)
    return out


def encode_q8_0(x):
    return quantize_q8_0(x).tobytes()


def decode_q8_0(buf, shape):
    blk = np.frombuffer(buf, dtype=Q8_0_BLOCK)
    x = blk["d"].astype(np.float64)[:, None] * blk["qs"].astype(np.float64)
    return x.reshape(shape)


def quantize_q4_0(x):
    """ggml's reference quantizer: m = the signed value with the largest |x|, d = m/-8,
    q = min(15, trunc(x/d + 8.5)) so m itself maps to 0 (i.e. -8*d)."""
    b = _blocks(x)
    idx = np.argmax(np.abs(b), axis=1)
    m = b[np.arange(len(b)), idx]
    d = (m / np.float32(-8)).astype(np.float32)
    with np.errstate(divide="ignore"):
        inv = np.where(d != 0, np.float32(1) / d, np.float32(0)).astype(np.float32)
    q = np.minimum(15, np.floor(b * inv[:, None] + np.float32(8.5))).astype(np.uint8)
    out = np.empty(len(b), dtype=Q4_0_BLOCK)
    out["d"] = d.astype(np.float16)
    # element j -> low nibble of qs[j], element j+16 -> high nibble of qs[j]
    out["qs"] = q[:, :16] | (q[:, 16:] << 4)
    return out


def encode_q4_0(x):
    return quantize_q4_0(x).tobytes()


def decode_q4_0(buf, shape):
    blk = np.frombuffer(buf, dtype=Q4_0_BLOCK)
    qs = blk["qs"]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float64) - 8.0
    x = blk["d"].astype(np.float64)[:, None] * q
    return x.reshape(shape)


ENCODERS = {F32: encode_f32, F16: encode_f16, BF16: encode_bf16, Q8_0: encode_q8_0, Q4_0: encode_q4_0}
DECODERS = {F32: decode_f32, F16: decode_f16, BF16: decode_bf16, Q8_0: decode_q8_0, Q4_0: decode_q4_0}


def _block_codec(name):
    qk = quants.ELEMENTS[name]

    def encode(x):
        return quants.encode_blocks(name, _blocks(x, qk))

    def decode(buf, shape):
        return quants.decode_blocks(name, buf).reshape(shape)
    return encode, decode


for _name in quants.SIZES:
    ENCODERS[TYPE_NAMES[_name]], DECODERS[TYPE_NAMES[_name]] = _block_codec(_name)


def encode(ttype, x):
    return ENCODERS[ttype](x)


def decode(ttype, buf, shape):
    return DECODERS[ttype](buf, shape)


def roundtrip(ttype, x):
    """The values a reader sees after x was stored as ttype."""
    x = np.asarray(x)
    return decode(ttype, encode(ttype, x), x.shape)


def nbytes(ttype, shape):
    n = int(np.prod(shape))
    if shape and shape[-1] % BLOCK_SIZE[ttype]:
        raise ValueError(f"ne0={shape[-1]} not a multiple of block size {BLOCK_SIZE[ttype]}")
    return n // BLOCK_SIZE[ttype] * TYPE_SIZE[ttype]


# ----------------------------------------------------------------------------------------
# the writer

def _pack_string(s):
    b = s.encode("utf-8") if isinstance(s, str) else bytes(s)
    return struct.pack("<Q", len(b)) + b


def _pack_scalar(vtype, value):
    if vtype == STRING:
        return _pack_string(value)
    if vtype == BOOL:
        return struct.pack("<B", 1 if value else 0)
    return struct.pack(_SCALAR_FMT[vtype], value)


class GGUFWriter:
    """Collect metadata and tensors, then write() one GGUF v3 file.

    alignment=None writes no general.alignment key (readers must default to 32);
    an integer writes the key as UINT32 (the only type ggml accepts for it)."""

    def __init__(self, alignment=None):
        self.alignment = GGUF_DEFAULT_ALIGNMENT if alignment is None else int(alignment)
        if self.alignment <= 0 or self.alignment & (self.alignment - 1):
            raise ValueError("alignment must be a power of two")
        self.kv = []            # (key, encoded type + value)
        self.keys = set()
        self.tensors = []       # (name, ggml dims, type, bytes)
        if alignment is not None:
            self.add("general.alignment", UINT32, self.alignment)

    def _add_kv(self, key, payload):
        if not key or key in self.keys:
            raise ValueError(f"empty or duplicate key {key!r}")
        self.keys.add(key)
        self.kv.append((key, payload))

    def add(self, key, vtype, value):
        if vtype == ARRAY:
            raise ValueError("use add_array")
        self._add_kv(key, struct.pack("<I", vtype) + _pack_scalar(vtype, value))

    def add_array(self, key, elem_type, values):
        if elem_type == ARRAY:
            raise ValueError("nested arrays are not supported by ggml readers")
        body = b"".join(_pack_scalar(elem_type, v) for v in values)
        self._add_kv(key, struct.pack("<IIQ", ARRAY, elem_type, len(values)) + body)

    def add_tensor(self, name, x, ttype):
        """x: numpy array in row-major order ([rows, cols] for a matrix)."""
        x = np.asarray(x)
        data = encode(ttype, x)
        assert len(data) == nbytes(ttype, x.shape)
        self.add_raw_tensor(name, x.shape, ttype, data)

    def add_raw_tensor(self, name, shape, ttype, data):
        """A tensor given as its bytes, of any type code (for types with no encoder)."""
        if len(name.encode()) >= 64:
            raise ValueError(f"tensor name too long: {name}")
        if any(t[0] == name for t in self.tensors):
            raise ValueError(f"duplicate tensor {name}")
        if not 1 <= len(shape) <= 4:
            raise ValueError("tensors have 1..4 dims")
        self.tensors.append((name, tuple(reversed(shape)), ttype, bytes(data)))

    def to_bytes(self):
        out = bytearray()
        out += GGUF_MAGIC + struct.pack("<IQQ", GGUF_VERSION, len(self.tensors), len(self.kv))
        for key, payload in self.kv:
            out += _pack_string(key) + payload
        offset = 0
        for name, dims, ttype, data in self.tensors:
            out += _pack_string(name) + struct.pack("<I", len(dims))
            out += struct.pack(f"<{len(dims)}Q", *dims)
            out += struct.pack("<IQ", ttype, offset)
            offset += align_up(len(data), self.alignment)   # offsets are the running sum
        if self.tensors:
            out += b"\0" * (align_up(len(out), self.alignment) - len(out))
            for _, _, _, data in self.tensors:
                out += data + b"\0" * (align_up(len(data), self.alignment) - len(data))
        return bytes(out)

    def write(self, path):
        with open(path, "wb") as f:
            f.write(self.to_bytes())
