#!/usr/bin/python3
"""Write a tiny random-weight `phi3` GGUF model plus the weights the reference uses.

    /usr/bin/python3 tests/ref/make_model.py --config phi4-like --type q4_0 --out DIR [--seed N]
        [--script TEXT [--script-loop]]

writes DIR/model.gguf and DIR/weights.npz.  weights.npz holds every tensor under its GGUF
name as float64, *decoded from the bytes written to the file* (so quantized matrices hold
their dequantized values), plus 'hparams' and 'tokenizer' (JSON strings).

--script makes a model whose reply after the chat prompt is TEXT, then the end-of-turn
token, greedy or sampled (see scripted_weights); --script-loop repeats TEXT endlessly.

Shapes mirror the real files (docs/phi4-family.md 4.1, docs/gguf-and-quants.md 4.2): 1-D
tensors (norms, rope factors) are always F32, every matrix uses the chosen type (per tensor
for "mixed" and "q4_k_m"; K-quants fall back as llama.cpp does where rows are not a multiple
of 256: see tensor_type).
"""
import argparse
import hashlib
import json
import math
import os
import re
import shutil
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf_writer as gw  # noqa: E402

# Named configs.  Keep them tiny: the reference and the tests must be fast.
CONFIGS = {
    # phi-4 (14B) in miniature: full rotary, theta 250000, untied output, GQA 4:1
    "phi4-like": dict(
        n_vocab=352, n_embd=128, n_ff=96, n_layer=2, n_head=4, n_head_kv=1, head_dim=32,
        n_rot=32, freq_base=250000.0, context_length=512, orig_ctx=512, write_orig_ctx=True,
        tied=False, longrope=False, sliding_window=0, alignment=None,
        tokenizer="phi4", n_merges=80, qk_gain=1.0),
    # Phi-4-mini in miniature: partial rotary 0.75, LongRoPE (orig 32, ctx 1024), tied, GQA 3:1
    "mini-like": dict(
        n_vocab=384, n_embd=192, n_ff=128, n_layer=2, n_head=6, n_head_kv=2, head_dim=32,
        n_rot=24, freq_base=10000.0, context_length=1024, orig_ctx=32, write_orig_ctx=True,
        tied=True, longrope=True, sliding_window=262144, alignment=None,
        tokenizer="mini", n_merges=100, qk_gain=0.7),
    # awkward sizes: nothing is a multiple of 32, so only f32/f16/bf16 apply.  Also leaves
    # out the optional keys (original_context_length, sliding_window) and uses a
    # non-default alignment so the reader's defaults and alignment handling get exercised.
    "odd": dict(
        n_vocab=301, n_embd=20, n_ff=50, n_layer=1, n_head=1, n_head_kv=1, head_dim=20,
        n_rot=12, freq_base=10000.0, context_length=128, orig_ctx=128, write_orig_ctx=False,
        tied=False, longrope=False, sliding_window=None, alignment=64,
        tokenizer="phi4", n_merges=37, qk_gain=1.0),
    # row counts that are not multiples of 16 (attn_qkv 120, the tied output 327): the
    # kernels that pack whole groups of 16 rows keep the rest in the file's layout
    "tail-like": dict(
        n_vocab=327, n_embd=96, n_ff=96, n_layer=1, n_head=8, n_head_kv=1, head_dim=12,
        n_rot=8, freq_base=10000.0, context_length=256, orig_ctx=256, write_orig_ctx=True,
        tied=True, longrope=False, sliding_window=0, alignment=None,
        tokenizer="phi4", n_merges=40, qk_gain=1.0),
    # every matrix row a multiple of 256 (n_embd, n_head*head_dim, n_ff), so the K-quants
    # and IQ4_XS apply without fallbacks; untied output, GQA 2:1, partial rotary
    "k-like": dict(
        n_vocab=320, n_embd=256, n_ff=256, n_layer=2, n_head=4, n_head_kv=2, head_dim=64,
        n_rot=48, freq_base=10000.0, context_length=512, orig_ctx=512, write_orig_ctx=True,
        tied=False, longrope=False, sliding_window=0, alignment=None,
        tokenizer="phi4", n_merges=60, qk_gain=1.0),
}

K_TYPES = ["q2_k", "q3_k", "q4_k", "q5_k", "q6_k", "iq4_xs"]
LEGACY_QUANTS = ["q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "iq4_nl"]
TYPES = ["f32", "f16", "bf16"] + LEGACY_QUANTS + K_TYPES + ["mixed", "q4_k_m"]
# "mixed": per-tensor types differ the way real files' do (kept-precise embeddings and a
# first layer in F16, the other layers quantized), so the engine cannot size anything
# from one tensor's type.
MIXED = {"embeddings": "f16", "first layer": "f16", "other layers": "q8_0"}
# "q4_k_m": llama.cpp's Q4_K_M rule for the phi3 layout (fused attn_qkv, so no attn_v
# tensor): output.weight (token_embd.weight when tied) Q6_K, attn_qkv Q5_K, ffn_down Q6_K
# in the layers use_more_bits() picks, every other matrix Q4_K.
Q4_K_M_TYPES = ["q4_k", "q5_k", "q6_k"]
# llama.cpp's fallback when a row length is not a multiple of 256 (and F16 beyond it,
# which this generator refuses instead: such a model would not test the type asked for)
K_FALLBACK = {"q2_k": "iq4_nl", "q3_k": "iq4_nl", "iq4_xs": "iq4_nl", "q4_k": "q5_0",
              "q5_k": "q5_1", "q6_k": "q8_0"}
# general.file_type (llama_ftype): informational only
FILE_TYPE = {"f32": 0, "f16": 1, "q4_0": 2, "q4_1": 3, "q8_0": 7, "q5_0": 8, "q5_1": 9,
             "q2_k": 10, "q3_k": 11, "q4_k": 14, "q4_k_m": 15, "q5_k": 16, "q6_k": 18,
             "iq4_nl": 25, "iq4_xs": 30, "bf16": 32, "mixed": 7}
EPS = 1e-5


def is_quantized(ttype):
    """Whether the file holds block-quantized tensors (and so quantization_version)."""
    return ttype not in ("f32", "f16", "bf16")


def use_more_bits(i_layer, n_layer):
    """llama.cpp's choice of the layers that get more bits (first and last eighth, and
    every third layer in between)."""
    return i_layer < n_layer // 8 or i_layer >= 7 * n_layer // 8 or \
        (i_layer - n_layer // 8) % 3 == 2


def fitting_type(ttype, ne0):
    """ttype, or its llama.cpp fallback when rows of ne0 elements cannot hold its blocks."""
    block = gw.BLOCK_SIZE[gw.TYPE_NAMES[ttype]]
    if ne0 % block and ttype in K_FALLBACK:
        ttype = K_FALLBACK[ttype]
        block = gw.BLOCK_SIZE[gw.TYPE_NAMES[ttype]]
    if ne0 % block:
        raise ValueError(f"a row length of {ne0}, not a multiple of {block}: type {ttype} is "
                         f"impossible (use f32, f16 or bf16)")
    return ttype


def hparams_of(name, ttype, context_length=None):
    """context_length: instead of the config's (without LongRoPE, the original context
    too: the model is trained for it)."""
    c = CONFIGS[name]
    orig, ctx = c["orig_ctx"], c["context_length"]
    if context_length:
        ctx = context_length
        orig = orig if c["longrope"] else ctx
    # converter rule for longrope/su: sqrt(1 + ln(s)/ln(orig)), s = ctx/orig (1.0 if s <= 1)
    attn_factor = math.sqrt(1 + math.log(ctx / orig) / math.log(orig)) if c["longrope"] else 1.0
    return dict(config=name, type=ttype, n_vocab=c["n_vocab"], n_embd=c["n_embd"],
                n_ff=c["n_ff"], n_layer=c["n_layer"], n_head=c["n_head"],
                n_head_kv=c["n_head_kv"], head_dim=c["head_dim"], n_rot=c["n_rot"],
                freq_base=c["freq_base"], eps=EPS, context_length=ctx, orig_ctx=orig,
                attn_factor=attn_factor, tied=c["tied"], longrope=c["longrope"],
                qk_gain=c["qk_gain"])


def check_type(name, ttype):
    if ttype not in TYPES:
        raise ValueError(f"unknown type {ttype!r}; choose from {TYPES}")
    c = CONFIGS[name]
    kinds = {"mixed": MIXED.values(), "q4_k_m": Q4_K_M_TYPES}.get(ttype, [ttype])
    for ne0 in (c["n_embd"], c["n_head"] * c["head_dim"], c["n_ff"]):
        for t in kinds:
            try:
                fitting_type(t, ne0)
            except ValueError as e:
                raise ValueError(f"config {name!r} has {e}") from None


# ----------------------------------------------------------------------------------------
# tokenizer: a real (tiny) byte-level BPE trained on the text below

CORPUS = """
The quick brown fox jumps over the lazy dog. The dog sleeps in the sun, and the fox runs
into the forest. In the morning the sun rises over the hills and the birds sing their
songs. A model reads the tokens one by one and predicts the next token; then it reads that
token too. The test checks that the logits of the model are the same as the logits of the
reference, for every token and at every position. When the sequence is longer than the
original context, the long factors are used for the rotary position embedding. There are
1234 apples, 567 pears and 89 oranges in the basket. Don't worry: it's fine, we'll see.
def main():\n    return 0\n\nint main(void) { return 0; }\n
Phi is a small language model. It answers questions, writes code and solves problems.
"""


def bytes_to_unicode():
    """GPT-2's reversible byte -> printable unicode character map, in its canonical order
    (printable bytes first, then the rest mapped to U+0100...).  The byte tokens get ids
    in this order, as in GPT-2 style vocabularies, so token id != byte value."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [(b, chr(c)) for b, c in zip(bs, cs)]


PRETOKENIZE = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]{1,3}| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+""")


def train_bpe(text, n_merges):
    """Classic BPE training: repeatedly merge the most frequent adjacent pair (ties broken
    by the pair's strings, so the result is deterministic)."""
    b2u = dict(bytes_to_unicode())
    words = {}
    for piece in PRETOKENIZE.findall(text):
        w = tuple(b2u[b] for b in piece.encode("utf-8"))
        words[w] = words.get(w, 0) + 1
    merges = []
    for _ in range(n_merges):
        pairs = {}
        for w, n in words.items():
            for a, b in zip(w, w[1:]):
                pairs[(a, b)] = pairs.get((a, b), 0) + n
        if not pairs:
            raise ValueError("corpus too small for that many merges")
        best = min(pairs, key=lambda p: (-pairs[p], p))
        merges.append(best)
        new_words = {}
        for w, n in words.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                    out.append(w[i] + w[i + 1])
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            new_words[tuple(out)] = new_words.get(tuple(out), 0) + n
        words = new_words
    return merges


SPECIALS = {
    "phi4": ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|im_sep|>"],
    "mini": ["<|endoftext|>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"],
}
PRE = {"phi4": "dbrx", "mini": "gpt-4o"}
EOS = {"phi4": "<|im_end|>", "mini": "<|end|>"}
# The family's real chat templates (tests/fixtures/chat/templates.json); "other" is a
# template of another family, which the library must refuse to guess at.
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "chat",
                       "templates.json"), encoding="utf-8") as _f:
    CHAT_TEMPLATES = {k: v["template"] for k, v in json.load(_f).items()}
CHAT_TEMPLATES["other"] = ("{% for message in messages %}{{'<|start_header_id|>' + message['role'] + "
                           "'<|end_header_id|>\\n\\n' + message['content'] + '<|eot_id|>'}}"
                           "{% endfor %}")
DEFAULT_TEMPLATE = {"phi4": "phi4", "mini": "phi4-mini"}
# Phi-4-reasoning repurposed two placeholder tokens of Phi-4's vocabulary as the thinking
# tags (docs/phi4-family.md 1.1), so a model with its template has them as single tokens:
# here the last two <|dummy_k|> padding tokens, USER_DEFINED (matched whole, and text when
# decoded). Their real ids and GGUF type are unverified.
THINK_TAGS = ["<think>", "</think>"]
THINK_TEMPLATES = {"phi4-reasoning"}
# Tokens that are not special in the Hugging Face sense but are matched whole
# (GGUF type USER_DEFINED), as Phi-4-mini's tool markers are.
USER_TOKENS = {"phi4": [], "mini": ["<|tool|>", "<|/tool|>", "<|tool_call|>", "<|/tool_call|>"]}
NORMAL, CONTROL, USER_DEFINED = 1, 3, 4


def make_tokenizer(kind, n_vocab, n_merges, chat_template=None):
    """256 byte tokens, then the merged tokens (in merge order), then the special tokens,
    then <|dummy_k|> control tokens padding up to n_vocab (real files also have unused
    embedding rows), the last two of them the thinking tags under a reasoning template."""
    merges = train_bpe(CORPUS, n_merges)
    tokens = [u for _, u in bytes_to_unicode()] + [a + b for a, b in merges]
    specials, user = SPECIALS[kind], USER_TOKENS[kind]
    tags = THINK_TAGS if chat_template in THINK_TEMPLATES else []
    n_dummy = n_vocab - len(tokens) - len(specials) - len(user) - len(tags)
    if n_dummy < 0:
        raise ValueError("n_vocab too small for the tokenizer")
    types = ([NORMAL] * len(tokens) + [CONTROL] * len(specials) + [USER_DEFINED] * len(user) +
             [CONTROL] * n_dummy + [USER_DEFINED] * len(tags))
    tokens += specials + user + [f"<|dummy_{k}|>" for k in range(n_dummy)] + tags
    if len(set(tokens)) != len(tokens):
        raise ValueError("duplicate token strings")
    ids = {t: i for i, t in enumerate(tokens)}
    return dict(model="gpt2", pre=PRE[kind], tokens=tokens, token_type=types,
                merges=[f"{a} {b}" for a, b in merges],
                bos=ids["<|endoftext|>"], eos=ids[EOS[kind]], eot=ids[EOS[kind]],
                pad=ids["<|endoftext|>"], add_bos=False,
                chat_template=CHAT_TEMPLATES.get(chat_template or DEFAULT_TEMPLATE[kind]))


def tokenizer_from_fixture(path):
    """A real vocabulary from tests/fixtures/tokenizer (cl100k or o200k ranks, with Phi-4's
    or Phi-4-mini's special tokens at their real ids), as a full-size file carries it."""
    with open(path, encoding="utf-8", newline="\n") as f:
        lines = f.read().split("\n")
    pre = lines[0].split(" ", 1)[1]
    n = int(lines[1].split()[1])
    types, tokens = [], []
    for line in lines[2:2 + n]:
        t, text = line.split(" ", 1)
        types.append(int(t))
        tokens.append(text)
    n_merges = int(lines[2 + n].split()[1])
    merges = lines[3 + n:3 + n + n_merges]
    ids = {t: i for i, t in enumerate(tokens)}
    kind = "mini" if pre == "gpt-4o" else "phi4"
    eot = ids[EOS[kind]]
    return dict(model="gpt2", pre=pre, tokens=tokens, token_type=types, merges=merges,
                bos=ids["<|endoftext|>"], eos=eot, eot=eot, pad=ids["<|endoftext|>"],
                add_bos=False, chat_template=CHAT_TEMPLATES[DEFAULT_TEMPLATE[kind]])


def encode(tok, text):
    """Token ids of text in vocabulary tok: the tokens that are not plain text (special,
    user-defined) matched whole, longest first, then byte-level BPE on each pre-token piece
    (the merges applied lowest rank first)."""
    ids = {t: i for i, t in enumerate(tok["tokens"])}
    whole = sorted((t for t, ty in zip(tok["tokens"], tok["token_type"]) if ty != NORMAL),
                   key=len, reverse=True)
    rank = {tuple(m.split(" ")): r for r, m in enumerate(tok["merges"])}
    b2u = dict(bytes_to_unicode())
    out = []
    if whole:
        parts = re.split("(" + "|".join(re.escape(t) for t in whole) + ")", text)
    else:
        parts = [text]
    for k, part in enumerate(parts):
        if k % 2:
            out.append(ids[part])
            continue
        for piece in PRETOKENIZE.findall(part):
            word = [b2u[b] for b in piece.encode("utf-8")]
            while len(word) > 1:
                pairs = [(rank.get(pair, len(rank)), i)
                         for i, pair in enumerate(zip(word, word[1:]))]
                best, i = min(pairs)
                if best == len(rank):
                    break
                word[i:i + 2] = [word[i] + word[i + 1]]
            out += [ids[t] for t in word]
    return out


# ----------------------------------------------------------------------------------------
# weights

def random_weights(hp, rng):
    """Float64 master weights, scaled so activations stay O(1) through the layers:
    matrices ~ N(0, 1/fan_in), norm gains ~ 1 + 0.1 noise.  Returned in row-major
    [out, in] order under the GGUF names."""
    E, F, V, D = hp["n_embd"], hp["n_ff"], hp["n_vocab"], hp["head_dim"]
    n_q, n_kv = hp["n_head"] * D, hp["n_head_kv"] * D

    def mat(rows, cols, gain=1.0):
        return rng.standard_normal((rows, cols)) * (gain / math.sqrt(cols))

    def gain(n):
        return 1.0 + 0.1 * rng.standard_normal(n)

    w = {}
    # tied: the embedding doubles as the LM head, so give it a scale between "O(1)
    # embedding" and "1/sqrt(E) head" to keep both the residual stream and logits O(1)
    w["token_embd.weight"] = rng.standard_normal((V, E)) * (E ** -0.25 if hp["tied"] else 1.0)
    for l in range(hp["n_layer"]):
        p = f"blk.{l}."
        w[p + "attn_norm.weight"] = gain(E)
        # qk_gain sets how peaked attention is: peaked enough that positions (RoPE)
        # matter, not so peaked that Q8_0 activation noise on the C side gets amplified
        # (mini-like uses less because attn_factor^2 = 2 already doubles its scores)
        g = hp["qk_gain"]
        qkv = np.concatenate([mat(n_q, E, g), mat(n_kv, E, g), mat(n_kv, E)])
        w[p + "attn_qkv.weight"] = qkv
        w[p + "attn_output.weight"] = mat(E, n_q)
        w[p + "ffn_norm.weight"] = gain(E)
        w[p + "ffn_up.weight"] = mat(2 * F, E)
        w[p + "ffn_down.weight"] = mat(E, F)
    w["output_norm.weight"] = gain(E)
    if not hp["tied"]:
        w["output.weight"] = mat(V, E, 2.0)
    if hp["longrope"]:
        # deliberately different and not 1.0 so a short/long mix-up is visible.  Long
        # factors grow with the pair index like the real ones (1 ... 48), so the
        # high-frequency pairs still turn fast and position errors stay visible.
        n = hp["n_rot"] // 2
        w["rope_factors_short.weight"] = rng.uniform(1.0, 2.0, n)
        w["rope_factors_long.weight"] = np.sort(np.exp(rng.uniform(np.log(1.5), np.log(40.0), n)))
    return w


# The last token of each family's generation prompt: where a reply starts.
ASSISTANT_MARKER = {"phi4": "<|im_sep|>", "mini": "<|assistant|>"}
# The next token's logit in a scripted model, every other one being 0: greedy and any
# sampling settings pick it (at temperature 2 the others share e^-24 of the probability).
SCRIPT_LEAD = 48.0


def script_chain(tok, kind, text, loop):
    """[marker, s0, ..., s_last, end-of-turn] (loop: [marker, s0, ..., s_last, s0]): the
    token after each one in a reply whose text is `text`. A bigram chain needs each token
    to have one successor, so the script's tokens must be distinct and neither the marker
    nor the end of turn."""
    marker, script = tok["tokens"].index(ASSISTANT_MARKER[kind]), encode(tok, text)
    if loop and not script:
        raise ValueError("an empty script cannot loop")
    seen = {marker: "the assistant marker", tok["eot"]: "the end-of-turn token"}
    for position, t in enumerate(script):
        if t in seen:
            what = seen[t] if isinstance(seen[t], str) else f"token {seen[t]} of the script"
            raise ValueError(
                f"script token {position} {tok['tokens'][t]!r} (id {t}) is also {what}: a "
                f"bigram chain needs distinct tokens (the script is {len(script)} tokens: "
                f"{[tok['tokens'][i] for i in script]})")
        seen[t] = position
    return [marker] + script + [script[0] if loop else tok["eot"]]


def scripted_weights(hp, chain, master):
    """Turn random weights into a bigram model of the chain: every layer's attn_output and
    ffn_down zero, so the final residual stream is the current token's embedding; the
    chain's tokens (all but the last entry) get one-hot embeddings e_d, d their place in
    the chain; output.weight maps e_d to the chain's next token and nothing else (output
    norm gain 1). The final norm makes e_d sqrt(n_embd) e_d, so whatever the prompt before
    it, the logits after chain token t favour its successor by SCRIPT_LEAD."""
    if hp["tied"]:
        raise ValueError(f"config {hp['config']!r} ties the output to the embeddings, so a "
                         "token's logits favour the token itself: a script needs an untied "
                         "config (phi4-like, k-like, odd)")
    links = list(zip(chain, chain[1:]))
    if len(links) > hp["n_embd"]:
        raise ValueError(f"the script needs {len(links)} chain tokens; config "
                         f"{hp['config']!r} has room for {hp['n_embd']} (n_embd)")
    w = dict(master)
    for l in range(hp["n_layer"]):
        for name in ("attn_output.weight", "ffn_down.weight"):
            w[f"blk.{l}.{name}"] = np.zeros_like(master[f"blk.{l}.{name}"])
    w["output_norm.weight"] = np.ones_like(master["output_norm.weight"])
    w["output.weight"] = np.zeros_like(master["output.weight"])
    w["token_embd.weight"] = master["token_embd.weight"].copy()
    for d, (token, successor) in enumerate(links):
        w["token_embd.weight"][token] = 0.0
        w["token_embd.weight"][token, d] = 1.0
        w["output.weight"][successor, d] = SCRIPT_LEAD / math.sqrt(hp["n_embd"])
    return w


def tensor_type(name, x, ttype, hparams):
    """The GGUF type code tensor `name` (values x) gets in a model of type ttype."""
    if x.ndim != 2:
        return gw.F32
    if ttype == "mixed":
        if not name.startswith("blk."):
            ttype = MIXED["embeddings"]
        elif name.startswith("blk.0."):
            ttype = MIXED["first layer"]
        else:
            ttype = MIXED["other layers"]
    elif ttype == "q4_k_m":
        layer = int(name.split(".")[1]) if name.startswith("blk.") else -1
        if name == "output.weight" or (name == "token_embd.weight" and hparams["tied"]):
            ttype = "q6_k"
        elif name.endswith("attn_qkv.weight"):
            ttype = "q5_k"
        elif name.endswith("ffn_down.weight") and use_more_bits(layer, hparams["n_layer"]):
            ttype = "q6_k"
        else:
            ttype = "q4_k"
    return gw.TYPE_NAMES[fitting_type(ttype, x.shape[-1])]


def make_model(config, ttype, out_dir, seed=0, chat_template=None, vocab=None, raw=None,
               script=None, script_loop=False, context_length=None):
    """Write out_dir/model.gguf and out_dir/weights.npz; return (weights, hparams, tokenizer)
    where weights are the decoded (what-a-reader-sees) float64 values.

    script: the text of every reply (see script_chain and scripted_weights); script_loop:
    the reply repeats it without end. The tokenizer then has 'script', the chain's ids.
    context_length: the trained context, instead of the config's (see hparams_of).

    raw: {tensor name: (type code, elements per block, bytes per block)} stores those
    tensors as random bytes of that type instead (types the library must refuse; the
    reference weights then keep the float values)."""
    if config not in CONFIGS:
        raise ValueError(f"unknown config {config!r}; choose from {sorted(CONFIGS)}")
    check_type(config, ttype)
    c = CONFIGS[config]
    hp = hparams_of(config, ttype, context_length)
    if vocab and script is not None:
        raise ValueError("a script is written in the tiny vocabulary: leave out --vocab")
    if vocab:
        tok = tokenizer_from_fixture(vocab)
        hp["n_vocab"] = len(tok["tokens"])
    else:
        tok = make_tokenizer(c["tokenizer"], hp["n_vocab"], c["n_merges"], chat_template)
    rng = np.random.default_rng(seed)
    master = random_weights(hp, rng)
    if script is not None:
        tok["script"] = script_chain(tok, c["tokenizer"], script, script_loop)
        master = scripted_weights(hp, tok["script"], master)

    w = gw.GGUFWriter(alignment=c["alignment"])
    a = "phi3."
    w.add("general.architecture", gw.STRING, "phi3")
    w.add("general.name", gw.STRING, f"libphi4 test {config} {ttype} seed {seed}")
    w.add("general.file_type", gw.UINT32, FILE_TYPE[ttype])
    if is_quantized(ttype):
        w.add("general.quantization_version", gw.UINT32, 2)
    w.add(a + "context_length", gw.UINT32, hp["context_length"])
    if c["write_orig_ctx"]:
        w.add(a + "rope.scaling.original_context_length", gw.UINT32, hp["orig_ctx"])
    w.add(a + "embedding_length", gw.UINT32, hp["n_embd"])
    w.add(a + "feed_forward_length", gw.UINT32, hp["n_ff"])
    w.add(a + "block_count", gw.UINT32, hp["n_layer"])
    w.add(a + "attention.head_count", gw.UINT32, hp["n_head"])
    w.add(a + "attention.head_count_kv", gw.UINT32, hp["n_head_kv"])
    w.add(a + "attention.layer_norm_rms_epsilon", gw.FLOAT32, EPS)
    w.add(a + "rope.dimension_count", gw.UINT32, hp["n_rot"])
    w.add(a + "rope.freq_base", gw.FLOAT32, hp["freq_base"])
    if hp["longrope"]:
        w.add(a + "rope.scaling.attn_factor", gw.FLOAT32, hp["attn_factor"])
    if c["sliding_window"] is not None:
        w.add(a + "attention.sliding_window", gw.UINT32, c["sliding_window"])
    w.add("tokenizer.ggml.model", gw.STRING, tok["model"])
    w.add("tokenizer.ggml.pre", gw.STRING, tok["pre"])
    w.add_array("tokenizer.ggml.tokens", gw.STRING, tok["tokens"])
    w.add_array("tokenizer.ggml.token_type", gw.INT32, tok["token_type"])
    w.add_array("tokenizer.ggml.merges", gw.STRING, tok["merges"])
    w.add("tokenizer.ggml.bos_token_id", gw.UINT32, tok["bos"])
    w.add("tokenizer.ggml.eos_token_id", gw.UINT32, tok["eos"])
    w.add("tokenizer.ggml.eot_token_id", gw.UINT32, tok["eot"])
    w.add("tokenizer.ggml.padding_token_id", gw.UINT32, tok["pad"])
    w.add("tokenizer.ggml.add_bos_token", gw.BOOL, tok["add_bos"])
    if tok["chat_template"] is not None:
        w.add("tokenizer.chat_template", gw.STRING, tok["chat_template"])

    # hparams['freq_base'] and eps are stored as f32; the reference uses the stored values
    hp["freq_base"] = float(np.float32(hp["freq_base"]))
    hp["eps"] = float(np.float32(EPS))
    hp["attn_factor"] = float(np.float32(hp["attn_factor"]))

    weights = {}
    for name, x in master.items():
        if raw and name in raw:
            code, block, block_bytes = raw[name]
            data = rng.integers(0, 256, x.size // block * block_bytes, dtype=np.uint8)
            w.add_raw_tensor(name, x.shape, code, data.tobytes())
            weights[name] = x
            continue
        t = tensor_type(name, x, ttype, hp)
        w.add_tensor(name, x, t)
        weights[name] = gw.roundtrip(t, x)      # exactly what the file holds

    os.makedirs(out_dir, exist_ok=True)
    w.write(os.path.join(out_dir, "model.gguf"))
    np.savez(os.path.join(out_dir, "weights.npz"), hparams=json.dumps(hp),
             tokenizer=json.dumps(tok), **weights)
    return weights, hp, tok


def load_weights(path):
    """Read a weights.npz back: (weights, hparams, tokenizer)."""
    with np.load(path) as z:
        hp = json.loads(str(z["hparams"]))
        tok = json.loads(str(z["tokenizer"]))
        weights = {k: z[k] for k in z.files if k not in ("hparams", "tokenizer")}
    return weights, hp, tok


# The files whose code decides what make_model writes: a cached model is keyed by them too.
_GENERATOR_SOURCES = ("make_model.py", "gguf_writer.py", "quants.py")


def cached_model(cache_dir, config, ttype, seed=0):
    """make_model through a cache directory (check_logits with PHI4_TEST_MODEL_CACHE): the
    same (config, type, seed) under the same generator code is the same model, so it is
    written once and read back (load_weights) by the tests that share it, e.g. one model
    for a config's KV types x plans x forced kernel levels.  Returns (weights, hparams,
    tokenizer, directory holding model.gguf).  A model is written to a scratch directory and
    renamed into place, so a test never sees a half-written one; when two tests write the
    same model at once, the first rename wins and the other's copy is dropped."""
    here = os.path.dirname(os.path.abspath(__file__))
    h = hashlib.sha256(json.dumps([config, ttype, seed]).encode())
    for name in _GENERATOR_SOURCES:
        with open(os.path.join(here, name), "rb") as f:
            h.update(f.read())
    final = os.path.join(cache_dir, f"{config}-{ttype}-{seed}-{h.hexdigest()[:16]}")
    if not os.path.exists(os.path.join(final, "weights.npz")):
        os.makedirs(cache_dir, exist_ok=True)
        scratch = tempfile.mkdtemp(prefix=".new-", dir=cache_dir)
        try:
            make_model(config, ttype, scratch, seed)
            try:
                os.rename(scratch, final)
            except OSError:                     # another test put it there first
                if not os.path.exists(os.path.join(final, "weights.npz")):
                    raise
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    weights, hp, tok = load_weights(os.path.join(final, "weights.npz"))
    return weights, hp, tok, final


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", required=True, choices=sorted(CONFIGS))
    ap.add_argument("--type", required=True, choices=TYPES)
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--chat-template", choices=sorted(CHAT_TEMPLATES) + ["none"],
                    help="the template to store (default: the family's own)")
    ap.add_argument("--vocab", help="a real vocabulary (tests/fixtures/tokenizer/*.vocab) "
                                    "instead of the tiny trained one")
    ap.add_argument("--script", metavar="TEXT",
                    help="every reply is TEXT, then the end of turn (an untied config)")
    ap.add_argument("--script-loop", action="store_true",
                    help="every reply repeats the script without end")
    ap.add_argument("--context-length", type=int, metavar="N",
                    help="the trained context (default: the config's)")
    args = ap.parse_args(argv)
    if args.script_loop and args.script is None:
        ap.error("--script-loop needs --script")
    try:
        make_model(args.config, args.type, args.out, args.seed, args.chat_template, args.vocab,
                   script=args.script, script_loop=args.script_loop,
                   context_length=args.context_length)
    except ValueError as e:
        print(f"make_model: {e}", file=sys.stderr)
        return 1
    print(os.path.join(args.out, "model.gguf"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
