"""Tests for the reference model, the GGUF writer and the logits harness.

    /usr/bin/python3 -m pytest tests/ref -q
"""
import json
import math
import os
import re
import struct
import subprocess
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import check_logits  # noqa: E402
import fake_driver  # noqa: E402
import gguf_reader  # noqa: E402
import gguf_writer as gw  # noqa: E402
import make_model  # noqa: E402
import quants  # noqa: E402
import phi3_ref  # noqa: E402

PY = "/usr/bin/python3"


# ----------------------------------------------------------------------------------------
# reading back

def read_gguf(data):
    """-> (metadata {key: (type, value)}, tensors {name: (type, numpy shape, array)}, info)"""
    meta, infos, start, align = gguf_reader.read_header(data)
    tensors, expect = {}, 0
    for name, dims, t, off in infos:
        assert off == expect and off % align == 0         # running sum, aligned
        shape = tuple(reversed(dims))
        n = gw.nbytes(t, shape)
        buf = data[start + off:start + off + n]
        assert len(buf) == n
        tensors[name] = (t, shape, gw.decode(t, buf, shape))
        expect += gw.align_up(n, align)
    assert len(data) == start + expect                    # this writer pads the last one too
    return meta, tensors, dict(data_start=start, alignment=align)


def meta_value(meta, key):
    return meta[key][1]


# ----------------------------------------------------------------------------------------
# encoders / decoders

RNG = np.random.default_rng(1234)


def rows(n_rows=7, n=64, scale=1.0, rng=RNG):
    x = rng.standard_normal((n_rows, n)) * scale
    x[0] = 0.0                                   # an all-zero block must survive
    x[1, :32] = 1e-3 * rng.standard_normal(32)   # tiny scales
    return x


@pytest.mark.parametrize("name", list(gw.TYPE_NAMES))
def test_roundtrip_shape_and_size(name):
    t = gw.TYPE_NAMES[name]
    x = rows(n=256 if gw.BLOCK_SIZE[t] == 256 else 64,
             rng=RNG if name in ("f32", "f16", "bf16", "q8_0", "q4_0") else np.random.default_rng(5))
    buf = gw.encode(t, x)
    assert len(buf) == gw.nbytes(t, x.shape)
    y = gw.decode(t, buf, x.shape)
    assert y.shape == x.shape and y.dtype == np.float64
    # re-encoding the decoded values reproduces them (the codecs are consistent); bytes
    # may differ only in the sign of a zero scale (ggml's Q4_0 d = max/-8 gives -0.0)
    assert np.array_equal(gw.roundtrip(t, y), y)
    assert gw.encode(t, y[2:]) == gw.encode(t, x[2:])
    assert np.all(y[0] == 0)


def test_roundtrip_errors():
    x = rows(scale=3.0)
    assert np.array_equal(gw.roundtrip(gw.F32, x), x.astype(np.float32))
    assert np.array_equal(gw.roundtrip(gw.F16, x), x.astype(np.float16).astype(np.float64))
    x32 = x.astype(np.float32).astype(np.float64)
    assert np.all(np.abs(gw.roundtrip(gw.BF16, x) - x32) <= np.abs(x32) * 2.0 ** -8)
    for t, half_steps in ((gw.Q8_0, 127), (gw.Q4_0, 8)):
        y = gw.roundtrip(t, x)
        b, yb = x.reshape(-1, 32), y.reshape(-1, 32)
        amax = np.abs(b).max(axis=1, keepdims=True)
        # error <= half a step (+ the fp16 rounding of d applied to |q| <= 127 or 8)
        assert np.all(np.abs(b - yb) <= amax / half_steps * (0.5 + half_steps * 2.0 ** -10) + 1e-12)


def test_fp16_known_values():
    cases = {1.0: 0x3C00, -2.0: 0xC000, 65504.0: 0x7BFF, 2.0 ** -24: 0x0001,
             1.0 / 3.0: 0x3555, 1.0 + 2.0 ** -11: 0x3C00,      # tie -> even (down)
             1.0 + 3 * 2.0 ** -11: 0x3C02, 0.0: 0x0000}       # tie -> even (up)
    for v, bits in cases.items():
        assert struct.unpack("<H", gw.encode_f16([v]))[0] == bits, v
        assert gw.decode_f16(struct.pack("<H", bits), (1,))[0] == np.float16(v)


def bf16_of_bits(u32):
    return gw.f32_to_bf16_bits(np.array([u32], dtype=np.uint32).view(np.float32))[0]


def test_bf16_known_values():
    assert bf16_of_bits(0x3F800000) == 0x3F80          # 1.0
    assert bf16_of_bits(0x3F808000) == 0x3F80          # tie, even stays
    assert bf16_of_bits(0x3F818000) == 0x3F82          # tie, odd rounds up
    assert bf16_of_bits(0x3F808001) == 0x3F81          # above the tie
    assert bf16_of_bits(0x3F807FFF) == 0x3F80          # below the tie
    assert bf16_of_bits(0x40490FDB) == 0x4049          # pi
    assert bf16_of_bits(0x80000000) == 0x8000          # -0.0
    assert bf16_of_bits(0x7F7FFFFF) == 0x7F80          # max float rounds to inf
    nan = bf16_of_bits(0x7FC00001)
    assert nan & 0x7F80 == 0x7F80 and nan & 0x7F       # still a NaN
    assert gw.decode_bf16(struct.pack("<H", 0xC0A0), (1,))[0] == -5.0


def test_q8_0_known_block():
    # d = 31.75/127 = 0.25 exactly (fp16 0x3400); q = round(x/0.25), ties away from zero
    q = [-127, 127, 0, 1, -1, 5, -5, 100] + list(range(-12, 12))
    x = np.array(q, dtype=np.float64) * 0.25
    x[5], x[6] = 0.25 * 2.5, -0.25 * 2.5          # exact ties: 2.5 -> 3, -2.5 -> -3
    q[5], q[6] = 3, -3
    buf = gw.encode_q8_0(x)
    assert buf == struct.pack("<H", 0x3400) + struct.pack("<32b", *q)
    assert np.array_equal(gw.decode_q8_0(buf, (32,)), np.array(q) * 0.25)


def test_q4_0_known_block():
    # most negative value -4 -> d = -4/-8 = 0.5 (fp16 0x3800); x = 0.5*(q-8)
    q = [j for j in range(16)] + [15 - j for j in range(16)]
    x = 0.5 * (np.array(q, dtype=np.float64) - 8)
    buf = gw.encode_q4_0(x)
    qs = bytes(q[j] | (q[j + 16] << 4) for j in range(16))
    assert buf == struct.pack("<H", 0x3800) + qs
    assert qs[:3] == bytes([0xF0, 0xE1, 0xD2])        # element j low nibble, j+16 high
    assert np.array_equal(gw.decode_q4_0(buf, (32,)), x)
    # positive extreme: d = 4/-8 = -0.5 (0xB800); 4 -> q 0; -4 would be q 16 -> clamped 15
    y = np.zeros(32)
    y[0], y[1], y[2] = 4.0, -4.0, 1.0
    buf = gw.encode_q4_0(y)
    assert buf[:2] == struct.pack("<H", 0xB800)
    assert buf[2] == 0 | (8 << 4) and buf[3] == 15 | (8 << 4) and buf[4] == 6 | (8 << 4)
    assert list(gw.decode_q4_0(buf, (32,))[:3]) == [4.0, -3.5, 1.0]


def test_decode_hand_made_bytes():
    # Q4_0: d = 2.0 (0x4000), qs[0] = 0x9A -> element 0: 0xA-8 = 2 -> 4.0; element 16: 9-8 -> 2.0
    buf = struct.pack("<H", 0x4000) + bytes([0x9A]) + bytes([0x88] * 15)
    y = gw.decode_q4_0(buf, (32,))
    assert y[0] == 4.0 and y[16] == 2.0 and np.all(np.delete(y, [0, 16]) == 0)
    # Q8_0: d = -1.5 (0xBE00), q = -128 is representable in the file
    buf = struct.pack("<H", 0xBE00) + struct.pack("<32b", -128, 3, *([0] * 30))
    y = gw.decode_q8_0(buf, (32,))
    assert y[0] == 192.0 and y[1] == -4.5


# bound on |x - decoded| per block type, in units of the block's (or sub-block's) largest
# |x|: about half a quantization step plus the fp16 and sub-scale roundings.  The plain
# round-to-nearest encoders of quants.py stay inside; a decoder reading the wrong bits
# would not.
ROUNDTRIP_BOUND = {"q4_1": 0.1, "q5_0": 0.07, "q5_1": 0.05, "iq4_nl": 0.15, "q2_k": 0.5,
                   "q3_k": 0.3, "q4_k": 0.12, "q5_k": 0.06, "q6_k": 0.04, "iq4_xs": 0.2}


@pytest.mark.parametrize("name", list(ROUNDTRIP_BOUND))
def test_new_codecs_roundtrip_error(name):
    t = gw.TYPE_NAMES[name]
    rng = np.random.default_rng(11)
    x = rng.standard_normal((16, 512)) * np.exp(rng.uniform(-3, 3, (16, 1)))
    y = gw.roundtrip(t, x)
    block = gw.BLOCK_SIZE[t]
    amax = np.abs(x.reshape(-1, block)).max(axis=1, keepdims=True)
    err = np.abs(x - y).reshape(-1, block) / amax
    assert err.max() <= ROUNDTRIP_BOUND[name], err.max()
    assert np.corrcoef(x.ravel(), y.ravel())[0, 1] > 0.9


def test_k_scale_packing_by_hand():
    # Q4_K: scales 0-3 / mins 0-3 in the low 6 bits of bytes 0-7; entry 4 of each keeps its
    # low nibble in byte 8 and bits 4-5 in the top bits of bytes 0 (scale) and 4 (min)
    b = np.zeros((1, 12), dtype=np.uint8)
    b[0, 0], b[0, 4], b[0, 8] = 5 | (2 << 6), 7 | (1 << 6), 0x3 | (0x9 << 4)
    sc, m = quants.k4_scales(b)
    assert list(sc[0]) == [5, 0, 0, 0, 0x23, 0, 0, 0] and list(m[0]) == [7, 0, 0, 0, 0x19, 0, 0, 0]
    assert np.array_equal(quants.k4_scale_bytes(sc, m), b)
    # Q3_K: scale 9 = high nibble of byte 1 with bits 4-5 from byte 9, bits 4-5; stored +32
    b = np.zeros((1, 12), dtype=np.uint8)
    b[0, 1], b[0, 9] = 0xA0, 0x3 << 4
    s = quants.k3_scales(b)[0]
    assert s[9] == 0x3A - 32 and all(s[i] == -32 for i in range(16) if i != 9)
    assert np.array_equal(quants.k3_scale_bytes(s[None]), b)


def test_q4_k_m_rule_and_fallbacks(models):
    names = {code: name for name, code in gw.TYPE_NAMES.items()}
    for config, want in (("k-like", {"output.weight": "q6_k", "token_embd.weight": "q4_k",
                                     "blk.0.attn_qkv.weight": "q5_k",
                                     "blk.0.ffn_down.weight": "q4_k",
                                     "blk.1.ffn_down.weight": "q6_k",   # use_more_bits(1, 2)
                                     "blk.1.ffn_up.weight": "q4_k",
                                     "blk.0.attn_output.weight": "q4_k"}),
                         # rows of 192: Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0 (llama.cpp);
                         # tied, so token_embd takes the output rule
                         ("mini-like", {"token_embd.weight": "q8_0",
                                        "blk.0.attn_qkv.weight": "q5_1",
                                        "blk.1.ffn_down.weight": "q8_0",
                                        "blk.0.ffn_down.weight": "q5_0",
                                        "blk.0.ffn_up.weight": "q5_0"})):
        _, w, hp, _ = models(config, "q4_k_m")
        for name, t in want.items():
            assert names[make_model.tensor_type(name, w[name], "q4_k_m", hp)] == t, (config, name)


def test_quantizers_reject_odd_rows():
    with pytest.raises(ValueError):
        gw.encode_q8_0(np.zeros((2, 20)))
    with pytest.raises(ValueError):
        gw.encode_q4_0(np.zeros(40))


# ----------------------------------------------------------------------------------------
# the GGUF writer

def test_writer_all_value_types_and_alignment():
    w = gw.GGUFWriter(alignment=64)
    vals = [(gw.UINT8, 255), (gw.INT8, -128), (gw.UINT16, 65535), (gw.INT16, -32768),
            (gw.UINT32, 2 ** 32 - 1), (gw.INT32, -2 ** 31), (gw.FLOAT32, 1.5),
            (gw.BOOL, True), (gw.STRING, "héllo ✓"), (gw.UINT64, 2 ** 64 - 1),
            (gw.INT64, -2 ** 63), (gw.FLOAT64, math.pi)]
    for t, v in vals:
        w.add(f"test.t{t}", t, v)
    w.add_array("test.strs", gw.STRING, ["a", "", "Ġb c"])
    w.add_array("test.ints", gw.INT32, [1, -2, 3])
    w.add_array("test.floats", gw.FLOAT32, [0.5, -1.25])
    w.add_array("test.empty", gw.UINT8, [])
    a = RNG.standard_normal((3, 32))
    b = RNG.standard_normal(5)
    w.add_tensor("a", a, gw.Q8_0)
    w.add_tensor("b", b, gw.F32)
    w.add_tensor("c", a, gw.F16)
    with pytest.raises(ValueError):
        w.add("test.t0", gw.UINT8, 1)                     # duplicate key
    with pytest.raises(ValueError):
        w.add_tensor("a", a, gw.F32)                      # duplicate tensor
    data = w.to_bytes()
    meta, tensors, info = read_gguf(data)
    assert meta["general.alignment"] == (gw.UINT32, 64) and info["alignment"] == 64
    assert info["data_start"] % 64 == 0
    for t, v in vals:
        assert meta[f"test.t{t}"] == (t, v)
    assert meta_value(meta, "test.strs") == ["a", "", "Ġb c"]
    assert meta_value(meta, "test.ints") == [1, -2, 3]
    assert meta_value(meta, "test.floats") == [0.5, -1.25]
    assert meta_value(meta, "test.empty") == []
    assert tensors["a"][0] == gw.Q8_0 and tensors["a"][1] == (3, 32)
    assert np.array_equal(tensors["a"][2], gw.roundtrip(gw.Q8_0, a))
    assert np.array_equal(tensors["b"][2], gw.roundtrip(gw.F32, b))
    assert np.array_equal(tensors["c"][2], gw.roundtrip(gw.F16, a))
    # dims are written fastest-first: [32, 3] for a [3, 32] array
    assert struct.pack("<I2Q", 2, 32, 3) in data


def test_writer_default_alignment_has_no_key():
    w = gw.GGUFWriter()
    w.add_tensor("x", np.ones(3), gw.F32)
    w.add_tensor("y", np.ones(5), gw.F32)
    meta, tensors, info = read_gguf(w.to_bytes())
    assert "general.alignment" not in meta and info["alignment"] == 32
    assert info["data_start"] % 32 == 0
    assert list(tensors["y"][2]) == [1.0] * 5


# ----------------------------------------------------------------------------------------
# make_model

@pytest.fixture(scope="module")
def models(tmp_path_factory):
    cache = {}

    def get(config, ttype, seed=0):
        key = (config, ttype, seed)
        if key not in cache:
            d = tmp_path_factory.mktemp(f"{config}-{ttype}-{seed}")
            w, hp, tok = make_model.make_model(config, ttype, str(d), seed)
            cache[key] = (str(d), w, hp, tok)
        return cache[key]
    return get


LEGACY = ["f32", "f16", "bf16"] + make_model.LEGACY_QUANTS + ["mixed"]
CASES = [(c, t) for c in ("phi4-like", "mini-like") for t in LEGACY] + \
        [("mini-like", "q4_k_m")] + \
        [("k-like", t) for t in make_model.K_TYPES + ["q4_k_m", "q4_1", "f16"]] + \
        [("odd", t) for t in ("f32", "f16", "bf16")]


@pytest.mark.parametrize("config,ttype", CASES)
def test_model_file_reads_back(models, config, ttype):
    d, w, hp, tok = models(config, ttype)
    with open(os.path.join(d, "model.gguf"), "rb") as f:
        meta, tensors, info = read_gguf(f.read())
    weights, hp2, tok2 = make_model.load_weights(os.path.join(d, "weights.npz"))
    assert hp2 == hp and tok2 == tok
    assert set(tensors) == set(weights)
    for name, (t, shape, x) in tensors.items():
        assert t == make_model.tensor_type(name, x, ttype, hp), name
        assert np.array_equal(x, weights[name]), name      # npz == what the file holds
    E, V = hp["n_embd"], hp["n_vocab"]
    n_qkv = (hp["n_head"] + 2 * hp["n_head_kv"]) * hp["head_dim"]
    assert tensors["token_embd.weight"][1] == (V, E)
    assert tensors["blk.0.attn_qkv.weight"][1] == (n_qkv, E)
    assert tensors["blk.0.ffn_up.weight"][1] == (2 * hp["n_ff"], E)
    assert tensors["blk.0.ffn_down.weight"][1] == (E, hp["n_ff"])
    assert ("output.weight" in tensors) == (not hp["tied"])
    a = "phi3."
    m = {k: v for k, (_, v) in meta.items()}
    assert m["general.architecture"] == "phi3"
    assert m[a + "embedding_length"] == E and m[a + "block_count"] == hp["n_layer"]
    assert m[a + "attention.head_count"] == hp["n_head"]
    assert m[a + "attention.head_count_kv"] == hp["n_head_kv"]
    assert m[a + "rope.dimension_count"] == hp["n_rot"]
    assert m[a + "rope.freq_base"] == hp["freq_base"]
    assert m[a + "attention.layer_norm_rms_epsilon"] == np.float32(1e-5)
    assert m["general.file_type"] == make_model.FILE_TYPE[ttype]
    assert ("general.quantization_version" in m) == make_model.is_quantized(ttype)
    assert m["tokenizer.ggml.model"] == "gpt2"
    assert len(m["tokenizer.ggml.tokens"]) == V == len(m["tokenizer.ggml.token_type"])
    assert m["tokenizer.ggml.add_bos_token"] is False
    if hp["longrope"]:
        assert tensors["rope_factors_long.weight"][1] == (hp["n_rot"] // 2,)
        assert m[a + "rope.scaling.attn_factor"] == np.float32(math.sqrt(2.0))
        assert m[a + "rope.scaling.original_context_length"] == 32
        assert m[a + "context_length"] == 1024
        assert not np.allclose(weights["rope_factors_long.weight"],
                               weights["rope_factors_short.weight"])
    else:
        assert a + "rope.scaling.attn_factor" not in m
        assert not any(n.startswith("rope_factors") for n in tensors)


def test_phi4_like_and_mini_like_metadata(models):
    _, _, hp, tok = models("phi4-like", "f32")
    toks = tok["tokens"]
    assert tok["pre"] == "dbrx" and toks[tok["eos"]] == "<|im_end|>"
    assert hp["n_rot"] == hp["head_dim"] and hp["n_head"] // hp["n_head_kv"] == 4
    assert "<|im_start|>" in tok["chat_template"]
    _, _, hp, tok = models("mini-like", "f32")
    assert tok["pre"] == "gpt-4o" and tok["tokens"][tok["eos"]] == "<|end|>"
    assert hp["n_rot"] == 24 and hp["n_head"] // hp["n_head_kv"] == 3
    assert "'<|' + message['role'] + '|>'" in tok["chat_template"]


@pytest.mark.parametrize("config", sorted(make_model.CONFIGS))
def test_tokenizer_is_consistent_bpe(models, config):
    _, _, hp, tok = models(config, "f32")
    tokens, types = tok["tokens"], tok["token_type"]
    ids = {t: i for i, t in enumerate(tokens)}
    assert len(ids) == len(tokens) == hp["n_vocab"]
    b2u = make_model.bytes_to_unicode()
    assert tokens[:256] == [u for _, u in b2u] and len({u for _, u in b2u}) == 256
    assert tokens[ids["Ġ"]] == "Ġ" and ids["!"] == 0          # GPT-2 order, id != byte
    for rank, m in enumerate(tok["merges"]):
        a, b = m.split(" ")
        assert ids[a] < 256 + rank and ids[b] < 256 + rank      # parts exist before it
        assert ids[a + b] == 256 + rank
    for i, (t, ty) in enumerate(zip(tokens, types)):
        user_defined = t in make_model.USER_TOKENS[make_model.CONFIGS[config]["tokenizer"]]
        assert ty == (4 if user_defined else 3 if t.startswith("<|") else 1), t
    assert types[tok["bos"]] == types[tok["eos"]] == 3


def test_make_model_cli_refuses_quantized_odd(tmp_path):
    p = subprocess.run([PY, os.path.join(HERE, "make_model.py"), "--config", "odd",
                        "--type", "q4_0", "--out", str(tmp_path)], capture_output=True, text=True)
    assert p.returncode == 1 and "not a multiple of 32" in p.stderr
    p = subprocess.run([PY, os.path.join(HERE, "make_model.py"), "--config", "odd",
                        "--type", "bf16", "--out", str(tmp_path), "--seed", "3"],
                       capture_output=True, text=True)
    assert p.returncode == 0 and os.path.exists(tmp_path / "model.gguf")


def test_seed_changes_weights(models):
    a = models("phi4-like", "f32", 0)[1]["blk.0.attn_qkv.weight"]
    b = models("phi4-like", "f32", 1)[1]["blk.0.attn_qkv.weight"]
    assert not np.allclose(a, b)


# ----------------------------------------------------------------------------------------
# scripted models (make_model --script): the reference's greedy reply is the script

def decode(tok, ids):
    u2b = {u: b for b, u in make_model.bytes_to_unicode()}
    out = b""
    for i in ids:
        t = tok["tokens"][i]
        out += t.encode() if tok["token_type"][i] != make_model.NORMAL else bytes(u2b[c] for c in t)
    return out.decode("utf-8")


def chat_prompt(tok, question):
    """Phi-4's chat prompt for one user turn, as its template renders it."""
    return make_model.encode(tok, f"<|im_start|>user<|im_sep|>{question}<|im_end|>"
                                  "<|im_start|>assistant<|im_sep|>")


def greedy_reply(w, hp, tok, prompt, n_max):
    """(reply ids, the smallest lead of the chosen logit over the next best) of the
    reference's greedy continuation, up to the end of turn or n_max tokens."""
    ids, lead = list(prompt), math.inf
    while len(ids) - len(prompt) < n_max:
        row = phi3_ref.logits(w, hp, ids)[-1]
        best, second = np.sort(row)[-2:][::-1]
        lead = min(lead, best - second)
        ids.append(int(np.argmax(row)))
        if ids[-1] == tok["eot"]:
            break
    return ids[len(prompt):], lead


SCRIPTS = [("phi4-like", "f32", "phi4-reasoning", "<think>hé</think>Ok!"),
           ("phi4-like", "q4_0", "phi4", "Why? Blue."),
           ("k-like", "q4_k_m", "phi4", "<|im_start|>B"),
           ("odd", "f16", None, "Dog!")]


@pytest.mark.parametrize("config,ttype,template,script", SCRIPTS)
def test_script_is_the_greedy_reply(tmp_path, config, ttype, template, script):
    w, hp, tok = make_model.make_model(config, ttype, str(tmp_path), seed=3,
                                       chat_template=template, script=script)
    chain = tok["script"]
    assert tok["tokens"][chain[0]] == "<|im_sep|>" and chain[-1] == tok["eot"]
    for question in ["Why is the sky blue?", "Hi", "The quick brown fox jumps over the dog."]:
        reply, lead = greedy_reply(w, hp, tok, chat_prompt(tok, question), 40)
        assert reply == chain[1:], (question, [tok["tokens"][i] for i in reply])
        assert decode(tok, reply[:-1]) == script
        # a lead this wide survives any sampling settings
        assert lead > 40, lead
    # the chain from any of its tokens on, whatever came before
    reply, _ = greedy_reply(w, hp, tok, make_model.encode(tok, "fox") + chain[:3], 40)
    assert reply == chain[3:]


def test_script_loop_repeats(tmp_path):
    script = "<think>Why?</think>"
    w, hp, tok = make_model.make_model("phi4-like", "q8_0", str(tmp_path), seed=1,
                                       chat_template="phi4-reasoning", script=script,
                                       script_loop=True)
    n = len(tok["script"]) - 2
    reply, lead = greedy_reply(w, hp, tok, chat_prompt(tok, "Hi"), 3 * n + 2)
    assert len(reply) == 3 * n + 2 and tok["eot"] not in reply and lead > 40
    assert decode(tok, reply) == script * 3 + "<think>W"


def test_reasoning_vocabulary_has_the_thinking_tags(models):
    tok = make_model.make_tokenizer("phi4", 352, 80, "phi4-reasoning")
    plain = models("phi4-like", "f32")[3]
    for tag in make_model.THINK_TAGS:
        assert tag not in plain["tokens"]
        i = tok["tokens"].index(tag)
        assert tok["token_type"][i] == make_model.USER_DEFINED
        assert make_model.encode(tok, f"a{tag}b") == make_model.encode(tok, "a") + [i] + \
            make_model.encode(tok, "b")
    # only the padding changed: every other token keeps its id
    same = [a == b for a, b in zip(tok["tokens"], plain["tokens"])]
    assert same.count(False) == 2 and tok["tokens"][-2:] == make_model.THINK_TAGS


@pytest.mark.parametrize("text", [make_model.CORPUS, "é ü 🙂 <|im_end|>x <|dummy_3|>", ""])
def test_encode_spells_the_text(models, text):
    tok = models("phi4-like", "f32")[3]
    ids = make_model.encode(tok, text)
    assert decode(tok, ids) == text
    if text == make_model.CORPUS:
        assert len(ids) < len(text.encode()) * 0.8     # the merges are used


@pytest.mark.parametrize("config,kwargs,message", [
    ("phi4-like", dict(script="Loop 123"), "'o' (id 78) is also token 1 of the script"),
    ("phi4-like", dict(script="a<|im_sep|>"), "is also the assistant marker"),
    ("phi4-like", dict(script="a<|im_end|>"), "is also the end-of-turn token"),
    ("phi4-like", dict(script="", script_loop=True), "an empty script cannot loop"),
    ("mini-like", dict(script="Ok"), "a script needs an untied config"),
    ("odd", dict(script="ABCDEFGHIJKLMNOPQRSTU"), "needs 22 chain tokens; config 'odd' has "
                                                  "room for 20"),
    ("phi4-like", dict(script="Ok", vocab="x.vocab"), "leave out --vocab")])
def test_script_refusals(tmp_path, config, kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        make_model.make_model(config, "f32", str(tmp_path), **kwargs)
    assert not os.path.exists(tmp_path / "model.gguf")


def test_make_model_cli_script(tmp_path):
    def run(*args):
        return subprocess.run([PY, os.path.join(HERE, "make_model.py"), "--config", "phi4-like",
                               "--type", "f32", "--out", str(tmp_path)] + list(args),
                              capture_output=True, text=True)
    p = run("--script", "Loop")
    assert p.returncode == 1 and "a bigram chain needs distinct tokens" in p.stderr, p.stderr
    p = run("--script-loop")
    assert p.returncode == 2 and "--script-loop needs --script" in p.stderr
    p = run("--script", "Lop", "--script-loop", "--context-length", "4096")
    assert p.returncode == 0, p.stderr
    w, hp, tok = make_model.load_weights(tmp_path / "weights.npz")
    assert decode(tok, tok["script"][1:]) == "LopL"
    assert hp["context_length"] == hp["orig_ctx"] == 4096
    with open(tmp_path / "model.gguf", "rb") as f:
        meta = read_gguf(f.read())[0]
    assert meta_value(meta, "phi3.context_length") == 4096
    assert meta_value(meta, "phi3.rope.scaling.original_context_length") == 4096


# ----------------------------------------------------------------------------------------
# RoPE and LongRoPE

def test_rope_neox_pairs_by_hand():
    # n_rot 4 of head_dim 6, pos 1, base 100: pairs (0,2) angle 1, (1,3) angle 100^-0.5
    x = np.arange(1.0, 7.0).reshape(1, 1, 6)
    y = phi3_ref.rope(x, [1], 4, 100.0)[0, 0]
    a0, a1 = 1.0, 0.1
    assert np.allclose(y[0], 1 * math.cos(a0) - 3 * math.sin(a0))
    assert np.allclose(y[2], 3 * math.cos(a0) + 1 * math.sin(a0))
    assert np.allclose(y[1], 2 * math.cos(a1) - 4 * math.sin(a1))
    assert np.allclose(y[3], 4 * math.cos(a1) + 2 * math.sin(a1))
    assert list(y[4:]) == [5.0, 6.0]
    # factors divide the angle
    y = phi3_ref.rope(x, [1], 4, 100.0, factors=[2.0, 1.0])[0, 0]
    assert np.allclose(y[0], 1 * math.cos(0.5) - 3 * math.sin(0.5))


def test_partial_rotary_and_attn_factor_scope():
    x = RNG.standard_normal((9, 3, 32))
    pos = np.arange(9) * 7
    f = RNG.uniform(1, 5, 12)
    y1 = phi3_ref.rope(x, pos, 24, 10000.0, f, 1.0)
    y2 = phi3_ref.rope(x, pos, 24, 10000.0, f, 1.7)
    assert np.array_equal(y1[..., 24:], x[..., 24:])         # dims >= n_rot untouched
    assert np.array_equal(y2[..., 24:], x[..., 24:])         # ... also by attn_factor
    assert np.allclose(y2[..., :24], 1.7 * y1[..., :24])      # only rotated dims scaled
    # a rotation keeps each pair's norm; position 0 is the identity (times attn_factor)
    n = lambda v: v[..., :12] ** 2 + v[..., 12:24] ** 2       # noqa: E731
    assert np.allclose(n(y1), n(x))
    assert np.allclose(y2[0, :, :24], 1.7 * x[0, :, :24])


def test_rope_is_relative():
    q, k = RNG.standard_normal((1, 1, 32)), RNG.standard_normal((1, 1, 32))
    dot = lambda m, n: float(np.sum(phi3_ref.rope(q, [m], 32, 250000.0)  # noqa: E731
                                    * phi3_ref.rope(k, [n], 32, 250000.0)))
    assert np.isclose(dot(10, 3), dot(107, 100)) and not np.isclose(dot(10, 3), dot(10, 4))


def test_longrope_rule(models):
    _, w, hp, _ = models("mini-like", "f32")
    assert phi3_ref.factor_set_for(32, hp) == "short"
    assert phi3_ref.factor_set_for(33, hp) == "long"
    assert np.isclose(hp["attn_factor"], math.sqrt(2.0), rtol=1e-7)
    toks = list(RNG.integers(0, 300, 40))
    s = phi3_ref.logits(w, hp, toks, "short")
    lg = phi3_ref.logits(w, hp, toks, "long")
    assert np.allclose(s[0], lg[0])            # position 0: angle 0, factors irrelevant
    assert np.abs(s[1:] - lg[1:]).max() > 1.0   # otherwise the factor sets differ a lot
    with pytest.raises(ValueError):
        phi3_ref.logits(w, hp, toks, "medium")
    # without factor tensors the set is ignored
    _, w, hp, _ = models("phi4-like", "f32")
    assert np.array_equal(phi3_ref.logits(w, hp, toks[:5], "short"),
                          phi3_ref.logits(w, hp, toks[:5], "long"))


@pytest.mark.parametrize("config", sorted(make_model.CONFIGS))
def test_causality(models, config):
    _, w, hp, _ = models(config, "f32")
    toks = list(RNG.integers(0, hp["n_vocab"], 20))
    full = phi3_ref.logits(w, hp, toks, "short")
    assert full.shape == (20, hp["n_vocab"])
    for k in (1, 7, 19):
        assert np.allclose(phi3_ref.logits(w, hp, toks[:k], "short"), full[:k],
                           rtol=1e-12, atol=1e-12)
    # and the future does matter for later rows' inputs: changing token 10 changes row 10+
    t2 = list(toks)
    t2[10] = (t2[10] + 1) % hp["n_vocab"]
    other = phi3_ref.logits(w, hp, t2, "short")
    assert np.array_equal(other[:10], full[:10]) and not np.allclose(other[10:], full[10:])


def test_logits_are_not_degenerate(models):
    for config in ("phi4-like", "mini-like"):
        _, w, hp, _ = models(config, "f32")
        lg = phi3_ref.logits(w, hp, list(RNG.integers(0, hp["n_vocab"], 24)), "short")
        assert 0.5 < lg.std() < 10
        assert len(set(lg.argmax(axis=1))) > 5


def test_gqa_mapping_by_hand():
    # 4 query heads, 2 KV heads: heads 0,1 -> kv 0 and heads 2,3 -> kv 1
    T, D = 3, 4
    q = RNG.standard_normal((T, 4, D))
    k = RNG.standard_normal((T, 2, D))
    v = RNG.standard_normal((T, 2, D))
    out = phi3_ref.attention(q, k, v, 2)
    for h in range(4):
        s = q[:, h] @ k[:, h // 2].T
        s[np.triu_indices(T, 1)] = -np.inf
        p = np.exp(s - s.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        assert np.allclose(out[:, h], p @ v[:, h // 2])
    assert np.allclose(out[0, 1], v[0, 0]) and np.allclose(out[0, 3], v[0, 1])


def test_f16_kv_rounds_k_after_rope_and_v(models):
    """kv_type f16 is the f32 forward pass with K (after RoPE) and V rounded to float16 on
    their way into attention, and nothing else rounded."""
    _, w, hp, _ = models("mini-like", "f32")
    toks = list(RNG.integers(0, hp["n_vocab"], 12))
    seen = []
    old = phi3_ref.attention

    def rounding_attention(q, k, v, n_kv):
        seen.append(all(np.array_equal(x, x.astype(np.float16)) for x in (k, v)))
        return old(q, k.astype(np.float16).astype(k.dtype), v.astype(np.float16).astype(v.dtype),
                   n_kv)
    phi3_ref.attention = rounding_attention
    try:
        by_hand = phi3_ref.logits(w, hp, toks, "long", "f32")
    finally:
        phi3_ref.attention = old
    assert seen == [False] * hp["n_layer"]
    assert np.array_equal(phi3_ref.logits(w, hp, toks, "long", "f16"), by_hand)
    assert not np.allclose(by_hand, phi3_ref.logits(w, hp, toks, "long", "f32"),
                           rtol=0, atol=1e-6)
    with pytest.raises(ValueError):
        phi3_ref.logits(w, hp, toks, "long", "bf16")


# ----------------------------------------------------------------------------------------
# the tolerance: the simulated C side passes, real bugs do not

def bug_variants(config, ttype):
    """name -> function(weights, hparams, tokens, factor_set) computing a buggy forward."""
    ref = phi3_ref

    def other(fs):
        return "long" if fs == "short" else "short"

    def with_patch(obj, attr, fn):
        def run(w, hp, toks, fs):
            old = getattr(obj, attr)
            setattr(obj, attr, fn(old))
            try:
                return ref.forward(w, hp, toks, fs)
            finally:
                setattr(obj, attr, old)
        return run

    def q_pos_off_by_one(old):          # queries one position ahead of their keys (a
        calls = [0]                     # uniform shift of both would be invisible: RoPE
                                        # only sees relative positions)
        def rope(x, pos, *a, **k):
            calls[0] += 1               # forward() ropes q, then k, in every layer
            return old(x, np.asarray(pos) + (calls[0] % 2), *a, **k)
        return rope

    def interleaved_rope(old):          # GPT-J pairs (2i, 2i+1) instead of NEOX (i, i+n/2)
        def rope(x, pos, n_rot, *a, **k):
            perm = np.concatenate([np.arange(0, n_rot, 2), np.arange(1, n_rot, 2),
                                   np.arange(n_rot, x.shape[-1])])
            inv = np.argsort(perm)
            return old(x[..., perm], pos, n_rot, *a, **k)[..., inv]
        return rope

    def gqa_modulo(old):                # query head h -> kv head h % n_kv
        def attention(q, k, v, n_kv):
            H = q.shape[1]
            idx = [h % n_kv for h in range(H)]
            return old(q, k[:, idx], v[:, idx], H)
        return attention

    def swap_gate_up(w, hp, toks, fs):
        w = dict(w)
        F = hp["n_ff"]
        for l in range(hp["n_layer"]):
            u = w[f"blk.{l}.ffn_up.weight"]
            w[f"blk.{l}.ffn_up.weight"] = np.concatenate([u[F:], u[:F]])
        return ref.forward(w, hp, toks, fs)

    bugs = {
        "query position off by one": with_patch(ref, "rope", q_pos_off_by_one),
        "interleaved (GPT-J) rope": with_patch(ref, "rope", interleaved_rope),
        "gate/up swapped": swap_gate_up,
    }
    if make_model.CONFIGS[config]["n_head_kv"] > 1:      # with one KV head both maps agree
        bugs["GQA head h -> kv h % n_kv"] = with_patch(ref, "attention", gqa_modulo)
    if ttype == "q4_0":
        bugs["Q4_0 nibbles interleaved"] = lambda w, hp, t, fs: ref.forward(
            {k: fake_driver.interleaved_nibbles(v) if v.ndim == 2 else v for k, v in w.items()},
            hp, t, fs)
    if make_model.CONFIGS[config]["longrope"]:
        bugs["short/long factors swapped"] = lambda w, hp, t, fs: ref.forward(w, hp, t, other(fs))
        bugs["attn_factor ignored"] = lambda w, hp, t, fs: ref.forward(
            w, dict(hp, attn_factor=1.0), t, fs)
        bugs["attn_factor on all dims"] = _attn_factor_all_dims
    return bugs


def _attn_factor_all_dims(w, hp, toks, fs):
    """attn_factor also applied to the pass-through dims (>= n_rot)."""
    old = phi3_ref.rope

    def rope(x, pos, n_rot, base, factors=None, attn_factor=1.0):
        y = old(x, pos, n_rot, base, factors, attn_factor)
        y[..., n_rot:] *= attn_factor
        return y
    phi3_ref.rope = rope
    try:
        return phi3_ref.forward(w, hp, toks, fs)
    finally:
        phi3_ref.rope = old


def worst_metric(c, r):
    return max(check_logits.row_metric(c[i], r[i]) for i in range(len(r)))


@pytest.mark.parametrize("config,ttype,L", [("phi4-like", "q8_0", 24), ("phi4-like", "q4_0", 24),
                                            ("mini-like", "q8_0", 48), ("mini-like", "q4_0", 48),
                                            ("mini-like", "f16", 48), ("odd", "bf16", 24),
                                            ("k-like", "q4_k", 24), ("k-like", "q2_k", 24),
                                            ("k-like", "q4_k_m", 24), ("mini-like", "q4_k_m", 48)])
def test_tolerance_catches_bugs(models, config, ttype, L):
    tol = check_logits.TOL[ttype]
    worst_ok, best_bug = 0.0, {}
    for seed in (0, 1, 2):
        _, w, hp, _ = models(config, ttype, seed)
        toks = list(np.random.default_rng(seed + 99).integers(0, hp["n_vocab"], L))
        fs = phi3_ref.factor_set_for(L, hp) if hp["longrope"] else "short"
        r = phi3_ref.logits(w, hp, toks, fs)
        c = check_logits.simulate_c_logits(w, hp, toks, fs)
        worst_ok = max(worst_ok, worst_metric(c, r))
        for name, bug in bug_variants(config, ttype).items():
            m = worst_metric(bug(w, hp, toks, fs), r)
            best_bug[name] = min(best_bug.get(name, np.inf), m)
    report = ", ".join(f"{k}: {v:.3g}" for k, v in best_bug.items())
    print(f"\n{config} {ttype}: simulated C worst {worst_ok:.3g}, tol {tol:g}; bugs: {report}")
    assert worst_ok < tol / 2, "the correct implementation must pass with margin"
    for name, m in best_bug.items():
        assert m > 1.5 * tol, f"bug '{name}' would slip through ({m:.3g})"
    if config == "mini-like":
        assert "short/long factors swapped" in best_bug
    if ttype == "q4_0":
        assert "Q4_0 nibbles interleaved" in best_bug


def _kv_rounding(w, hp, toks, fs, round_k, round_v, k_before_rope=False):
    """The simulated C side (float32) with an F32 cache, except that attention gets K and/or
    V rounded to float16 (K before or after RoPE): ways of getting the F16 cache wrong."""
    old_rope, old_attention = phi3_ref.rope, phi3_ref.attention
    calls = [0]

    def half(x):
        return x.astype(np.float16).astype(x.dtype)

    def rope(x, pos, *a, **k):
        calls[0] += 1                   # forward() ropes q, then k, in every layer
        return old_rope(half(x) if k_before_rope and calls[0] % 2 == 0 else x, pos, *a, **k)

    def attention(q, k, v, n_kv):
        return old_attention(q, half(k) if round_k else k, half(v) if round_v else v, n_kv)
    phi3_ref.rope, phi3_ref.attention = rope, attention
    try:
        return check_logits.simulate_c_logits(w, hp, toks, fs, "f32")
    finally:
        phi3_ref.rope, phi3_ref.attention = old_rope, old_attention


@pytest.mark.parametrize("config,L", [("phi4-like", 24), ("mini-like", 48), ("odd", 24)])
def test_f16_kv_tolerance(models, config, L):
    """The F16 cache bounds of check_logits: the simulated C side passes the metric bound
    and shows the rounding's signature; not rounding, or rounding K only, does not."""
    bugs = {"no rounding": dict(round_k=False, round_v=False),
            "K only": dict(round_k=True, round_v=False),
            "V only": dict(round_k=False, round_v=True),
            "K before RoPE": dict(round_k=False, round_v=True, k_before_rope=True)}
    worst, lowest_share, bug_share = 0.0, np.inf, {}
    for ttype in check_logits.FLOAT_TYPES:
        assert check_logits.tolerance(ttype, "f16") == check_logits.TOL_KV_F16["f32"]
        for seed in (0, 1, 2):
            _, w, hp, _ = models(config, ttype, seed)
            toks = list(np.random.default_rng(seed + 99).integers(0, hp["n_vocab"], L))
            fs = phi3_ref.factor_set_for(L, hp) if hp["longrope"] else "short"
            r16, r32 = (phi3_ref.logits(w, hp, toks, fs, kv) for kv in ("f16", "f32"))
            c = check_logits.simulate_c_logits(w, hp, toks, fs, "f16")
            worst = max(worst, worst_metric(c, r16))
            lowest_share = min(lowest_share, check_logits.rounding_share(c, r16, r32))
            for name, how in bugs.items():
                share = check_logits.rounding_share(_kv_rounding(w, hp, toks, fs, **how), r16, r32)
                bug_share[name] = max(bug_share.get(name, -np.inf), share)
    tol, least = check_logits.TOL_KV_F16["f32"], check_logits.MIN_ROUNDING_SHARE
    report = ", ".join(f"{k}: {v:.2f}" for k, v in bug_share.items())
    print(f"\n{config}: simulated C worst {worst:.3g} (tol {tol:g}), rounding share >= "
          f"{lowest_share:.3f} (minimum {least}); largest shares of wrong roundings: {report}")
    assert worst < tol / 2
    assert lowest_share > least + 0.1
    assert bug_share["no rounding"] < 0.05 and bug_share["K only"] < least - 0.1


# ----------------------------------------------------------------------------------------
# the harness, against the fake driver

DRIVER = os.path.join(HERE, "fake_driver.py")


def harness(*args, bug=None, exe_wrapper=None):
    env = dict(os.environ)
    env.pop("PHI4_FAKE_BUG", None)
    env.pop("MESON_EXE_WRAPPER", None)
    if bug:
        env["PHI4_FAKE_BUG"] = bug
    if exe_wrapper:
        env["MESON_EXE_WRAPPER"] = exe_wrapper
    p = subprocess.run([PY, os.path.join(HERE, "check_logits.py"), "--driver", DRIVER, *args],
                       capture_output=True, text=True, env=env, timeout=600)
    return p.returncode, p.stdout + p.stderr


def test_parse_plan():
    P = check_logits.parse_plan
    assert P("e24") == [("e", 24)]
    assert P("e8,e1*3,t5,e2") == [("e", 8)] + [("e", 1)] * 3 + [("t", 5), ("e", 2)]
    evals, need = check_logits.plan_evals(P("e8,e1*3,t5,e2"))
    assert evals == [(0, 8), (8, 9), (9, 10), (10, 11), (5, 7)] and need == 11
    for bad in ("e1x24", "e0", "x3", "e2*0", "", "e3,,e1"):
        with pytest.raises(ValueError):
            P(bad)
    with pytest.raises(ValueError):
        check_logits.plan_evals(P("e3,t4"))
    with pytest.raises(ValueError):
        check_logits.plan_evals(P("t0"))


def test_output_format_roundtrip(tmp_path):
    rows = [(0, 2, 5, np.arange(7.0)), (1, 2, 9, -np.arange(7.0))]
    p = tmp_path / "o.bin"
    check_logits.write_output(p, 7, rows)
    data = p.read_bytes()
    assert data[:16] == b"PHLG" + struct.pack("<III", 1, 7, 2)
    assert len(data) == 16 + 2 * (12 + 28)
    n, back = check_logits.read_output(p)
    assert n == 7 and [(a, b, c) for a, b, c, _ in back] == [(0, 2, 5), (1, 2, 9)]
    assert np.array_equal(back[1][3], -np.arange(7.0))
    p.write_bytes(data[:-1])
    with pytest.raises(ValueError):
        check_logits.read_output(p)


@pytest.mark.parametrize("args", [
    ["--config", "phi4-like", "--type", "f32", "--plan", "e24"],
    ["--config", "phi4-like", "--type", "q4_0", "--plan", "e5,e1*5,t4,e3", "--threads", "2"],
    ["--config", "mini-like", "--type", "q8_0", "--plan", "e30,e1*4,e14", "--seq-len", "48"],
    ["--config", "mini-like", "--type", "bf16", "--plan", "e40,t20,e1*3", "--ctx", "64"],
    ["--config", "odd", "--type", "f16", "--plan", "e3*4,t6,e8", "--batch", "4",
     "--kernel", "scalar", "--seed", "5"],
    ["--config", "mini-like", "--type", "f32", "--plan", "e20,e1*4", "--kv-type", "f32"],
])
def test_harness_passes_correct_driver(args):
    rc, out = harness(*args)
    assert rc == 0, out
    assert "PASS" in out


@pytest.mark.parametrize("bug,args", [
    ("swap_factors", ["--config", "mini-like", "--type", "q4_0", "--plan", "e48"]),
    ("swap_factors", ["--config", "mini-like", "--type", "f32", "--plan", "e20,e1*4"]),
    ("nibble", ["--config", "phi4-like", "--type", "q4_0", "--plan", "e24"]),
    ("drop_last", ["--config", "odd", "--type", "f32", "--plan", "e4,e4"]),
    ("wrong_token", ["--config", "odd", "--type", "f32", "--plan", "e4"]),
    ("nan", ["--config", "odd", "--type", "f32", "--plan", "e4"]),
    ("kv_unrounded", ["--config", "mini-like", "--type", "f32", "--plan", "e20,e1*4"]),
    ("kv_unrounded", ["--config", "phi4-like", "--type", "bf16", "--plan", "e24"]),
])
def test_harness_fails_buggy_driver(bug, args):
    rc, out = harness(*args, bug=bug)
    assert rc == 1, out
    assert "FAIL" in out


def test_harness_runs_driver_through_exe_wrapper():
    # In a cross build meson test puts e.g. "qemu-aarch64 -L /usr/aarch64-linux-gnu" in
    # MESON_EXE_WRAPPER; the harness must run the driver through it, split as a shell
    # would. A wrapper that plants a bug in the driver's environment shows it is used.
    args = ["--config", "odd", "--type", "f32", "--plan", "e4"]
    assert harness(*args)[0] == 0
    rc, out = harness(*args, exe_wrapper="/usr/bin/env 'PHI4_FAKE_BUG=nan'")
    assert rc == 1 and "non-finite" in out, out


def test_harness_errors_are_failures(tmp_path):
    rc, out = harness("--config", "odd", "--type", "q8_0", "--plan", "e4")
    assert rc == 1 and "multiple of 32" in out
    rc, out = harness("--config", "odd", "--type", "f32", "--plan", "e1x24")
    assert rc == 1
    rc, out = harness("--config", "odd", "--type", "f32", "--plan", "e30", "--seq-len", "10")
    assert rc == 1
    rc, _ = harness("--config", "odd", "--type", "f32")                 # missing --plan
    assert rc == 1
    p = subprocess.run([PY, os.path.join(HERE, "check_logits.py"), "--driver", "/bin/false",
                        "--config", "odd", "--type", "f32", "--plan", "e2"],
                       capture_output=True, text=True)
    assert p.returncode == 1 and "exited with status" in p.stdout


def test_tol_scale_and_workdir(tmp_path):
    # a driver with real Q8_0 activation noise fails when the tolerance is made tiny
    rc, out = harness("--config", "phi4-like", "--type", "q8_0", "--plan", "e8",
                      "--tol-scale", "0.01", "--workdir", str(tmp_path))
    assert rc == 1
    assert (tmp_path / "model.gguf").exists() and (tmp_path / "out.bin").exists()


def test_cached_model_is_make_models(tmp_path, models):
    # PHI4_TEST_MODEL_CACHE: the cached model is the one make_model writes, byte for byte,
    # with the same decoded weights and hparams; a second call reads it instead of writing
    d, w, hp, _ = models("mini-like", "q4_0")
    w2, hp2, _, d2 = make_model.cached_model(str(tmp_path), "mini-like", "q4_0")
    with open(os.path.join(d, "model.gguf"), "rb") as a, \
            open(os.path.join(d2, "model.gguf"), "rb") as b:
        assert a.read() == b.read()
    assert hp2 == hp and sorted(w2) == sorted(w)
    assert all(np.array_equal(w[k], w2[k]) and w2[k].dtype == w[k].dtype for k in w)
    stamp = os.stat(os.path.join(d2, "model.gguf")).st_mtime_ns
    assert make_model.cached_model(str(tmp_path), "mini-like", "q4_0")[3] == d2
    assert os.stat(os.path.join(d2, "model.gguf")).st_mtime_ns == stamp
    assert make_model.cached_model(str(tmp_path), "mini-like", "q4_0", seed=1)[3] != d2
    assert [n for n in os.listdir(tmp_path) if n.startswith(".new-")] == []
    # the harness takes its model from there
    env = dict(os.environ, PHI4_TEST_MODEL_CACHE=str(tmp_path / "harness"))
    for _ in range(2):
        p = subprocess.run([PY, os.path.join(HERE, "check_logits.py"), "--driver",
                            os.path.join(HERE, "fake_driver.py"), "--config", "odd", "--type",
                            "f32", "--plan", "e4"], capture_output=True, text=True, env=env)
        assert p.returncode == 0, p.stdout + p.stderr
    assert len(os.listdir(tmp_path / "harness")) == 1
