"""A small GGUF reader for tests: the C library has its own; this one checks the files
that the test writers (gguf_writer.py, phi4-bench) produce, from the format description
(docs/gguf-and-quants.md section 1)."""
import struct

import gguf_writer as gw


class Reader:
    def __init__(self, data):
        self.d, self.o = data, 0

    def take(self, fmt):
        v = struct.unpack_from(fmt, self.d, self.o)
        self.o += struct.calcsize(fmt)
        return v[0] if len(v) == 1 else v

    def string(self):
        n = self.take("<Q")
        s = bytes(self.d[self.o:self.o + n]).decode("utf-8")
        self.o += n
        return s

    def value(self, t):
        if t == gw.STRING:
            return self.string()
        if t == gw.ARRAY:
            et, n = self.take("<I"), self.take("<Q")
            return [self.value(et) for _ in range(n)]
        if t == gw.BOOL:
            b = self.take("<B")
            assert b in (0, 1)
            return bool(b)
        return self.take(gw._SCALAR_FMT[t])


def read_header(data):
    """Everything before the tensor data of a GGUF v3 image (bytes or a memoryview):
    -> (metadata {key: (type, value)}, infos [(name, dims, type, offset)], data_start,
    alignment). Checks the magic, the version, unique keys and the zero padding."""
    r = Reader(data)
    assert r.take("4s") == b"GGUF"
    assert r.take("<I") == 3
    n_tensors, n_kv = r.take("<Q"), r.take("<Q")
    meta = {}
    for _ in range(n_kv):
        k = r.string()
        t = r.take("<I")
        v = r.value(t)
        assert k not in meta
        meta[k] = (t, v)
    align = meta.get("general.alignment", (gw.UINT32, 32))[1]
    infos = []
    for _ in range(n_tensors):
        name = r.string()
        nd = r.take("<I")
        dims = [r.take("<Q") for _ in range(nd)]
        t, off = r.take("<I"), r.take("<Q")
        infos.append((name, dims, t, off))
    start = gw.align_up(r.o, align)
    assert all(b == 0 for b in data[r.o:start])          # zero padding
    return meta, infos, start, align
