"""Independent numpy reference of the llama.cpp `phi3` architecture forward pass.

Written from the model description (docs/phi4-family.md 1.3, 2.2, 4 and
docs/gguf-and-quants.md 4), not from the C library.  Everything is float64 by default and
the whole token sequence is processed at once (positions 0..T-1); by causality the
logits of row p only depend on tokens[0..p], so one call answers every prefix.

weights: dict GGUF tensor name -> float array in row-major [out, in] order (the values a
         correct reader reconstructs from the file, see gguf_writer.decode*)
hparams: dict with n_vocab n_embd n_ff n_layer n_head n_head_kv head_dim n_rot freq_base
         eps orig_ctx attn_factor (see make_model.hparams_of)
"""
import numpy as np


def rmsnorm(x, w, eps):
    # plain weight (not 1+w); mean over the last axis
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def silu(x):
    return x / (1.0 + np.exp(-x))


def factor_set_for(seq_len, hparams):
    """LongRoPE choice, Hugging Face rule: a forward pass over a sequence of total length L
    uses the long factors iff L > original_context_length (the C side must then redo the
    whole KV cache with long factors; rows computed earlier keep their short-factor values)."""
    return "long" if seq_len > hparams["orig_ctx"] else "short"


def rope_factors(weights, factor_set):
    """Per-pair frequency divisors f_i, or None when the model has no factor tensors."""
    if factor_set not in ("short", "long"):
        raise ValueError(f"factor_set must be 'short' or 'long', not {factor_set!r}")
    return weights.get(f"rope_factors_{factor_set}.weight")


def rope(x, pos, n_rot, base, factors=None, attn_factor=1.0):
    """NEOX (rotate-half) RoPE on the first n_rot dims of each head.

    x: [T, n_heads, head_dim]; pos: [T] integer positions.
    Pair i (i < n_rot/2) is (i, i + n_rot/2) with angle pos * base^(-2i/n_rot) / f_i.
    cos and sin are both multiplied by attn_factor, so only the rotated dims get scaled;
    dims >= n_rot pass through unchanged."""
    half = n_rot // 2
    i = np.arange(half, dtype=np.float64)
    inv_freq = base ** (-2.0 * i / n_rot)
    if factors is not None:
        inv_freq = inv_freq / np.asarray(factors, dtype=np.float64)
    theta = np.asarray(pos, dtype=np.float64)[:, None] * inv_freq[None, :]      # [T, half]
    cos = (np.cos(theta) * attn_factor)[:, None, :].astype(x.dtype)
    sin = (np.sin(theta) * attn_factor)[:, None, :].astype(x.dtype)
    x1, x2 = x[..., :half], x[..., half:n_rot]
    out = x.copy()
    out[..., :half] = x1 * cos - x2 * sin
    out[..., half:n_rot] = x2 * cos + x1 * sin
    return out


def attention(q, k, v, n_head_kv):
    """Causal softmax attention with GQA. q: [T, H, D] (already scaled), k, v: [T, Hkv, D].
    Query head h uses KV head h // (H / Hkv): consecutive query heads share a KV head."""
    T, H, D = q.shape
    group = H // n_head_kv
    out = np.empty_like(q)
    mask = np.triu(np.ones((T, T), dtype=bool), k=1)     # mask[i, j]: j in the future of i
    for h in range(H):
        kv = h // group
        s = q[:, h, :] @ k[:, kv, :].T                     # [T, T]
        s = np.where(mask, -np.inf, s)
        s = s - s.max(axis=1, keepdims=True)
        p = np.exp(s)
        p /= p.sum(axis=1, keepdims=True)
        out[:, h, :] = p @ v[:, kv, :]
    return out


KV_TYPES = ("f32", "f16")


def forward(weights, hparams, tokens, factor_set="short", act_quant=None, dtype=np.float64,
            kv_type="f32"):
    """Logits [len(tokens), n_vocab] for the sequence at positions 0..T-1.

    act_quant: optional function (a, weight name) -> a' applied to the input of every weight
    matmul (used only to simulate the C side's activation quantization when deriving
    tolerances).
    dtype: float64 for the reference; float32 to estimate float32 rounding effects.
    kv_type: what the KV cache stores.  "f16" rounds K (after RoPE) and V to float16 (round
    to nearest even) before attention, as a cache of halves does; "f32" keeps them."""
    if kv_type not in KV_TYPES:
        raise ValueError(f"kv_type must be one of {KV_TYPES}, not {kv_type!r}")
    hp = hparams
    W = {name: np.asarray(w, dtype=dtype) for name, w in weights.items()}
    aq = act_quant if act_quant is not None else (lambda a, name: a)

    def linear(a, name):                                   # a: [T, in], W[name]: [out, in]
        return (aq(a, name) @ W[name].T).astype(dtype)

    n_embd, n_head, n_kv, D = hp["n_embd"], hp["n_head"], hp["n_head_kv"], hp["head_dim"]
    eps = hp["eps"]
    T = len(tokens)
    pos = np.arange(T)
    factors = rope_factors(weights, factor_set)
    attn_factor = hp.get("attn_factor", 1.0)

    x = W["token_embd.weight"][np.asarray(tokens)]        # [T, n_embd], no embedding scale
    for l in range(hp["n_layer"]):
        p = f"blk.{l}."
        h = rmsnorm(x, W[p + "attn_norm.weight"], eps)
        qkv = linear(h, p + "attn_qkv.weight")             # rows: Q, then K, then V
        q = qkv[:, :n_head * D].reshape(T, n_head, D)
        k = qkv[:, n_head * D:(n_head + n_kv) * D].reshape(T, n_kv, D)
        v = qkv[:, (n_head + n_kv) * D:].reshape(T, n_kv, D)
        q = rope(q, pos, hp["n_rot"], hp["freq_base"], factors, attn_factor)
        k = rope(k, pos, hp["n_rot"], hp["freq_base"], factors, attn_factor)
        if kv_type == "f16":
            k = k.astype(np.float16).astype(dtype)
            v = v.astype(np.float16).astype(dtype)
        q = q * (1.0 / np.sqrt(D))
        a = attention(q, k, v, n_kv).reshape(T, n_head * D)
        x = x + linear(a, p + "attn_output.weight")
        h = rmsnorm(x, W[p + "ffn_norm.weight"], eps)
        gu = linear(h, p + "ffn_up.weight")                # first half gate, second half up
        n_ff = hp["n_ff"]
        f = silu(gu[:, :n_ff]) * gu[:, n_ff:]
        x = x + linear(f, p + "ffn_down.weight")
    x = rmsnorm(x, W["output_norm.weight"], eps)
    out_name = "output.weight" if "output.weight" in W else "token_embd.weight"   # tied
    return linear(x, out_name)


def logits(weights, hparams, tokens, factor_set="short", kv_type="f32"):
    """The reference: float64 logits [len(tokens), n_vocab] with the given factor set
    ('short' or 'long'; irrelevant when the model has no rope factor tensors) and KV cache
    type ('f32' or 'f16')."""
    return forward(weights, hparams, tokens, factor_set, kv_type=kv_type)
