"""A tiny Phi-4-shaped model whose replies are known in advance.

Random models never think, so to see a reasoning model's <think>...</think>
reach the thinking channel end to end, this one is built to: every layer's
weights are zero (each block adds nothing to the residual stream), so the
logits depend only on the last token's embedding, a one-hot row; the output
matrix maps it to the next token of CHAIN. Whatever the prompt, a reply
after Phi-4's "<|im_sep|>" is "<think>hé</think>Ok!" then "<|im_end|>", by a
wide margin under any sampling settings. "<think>" and "</think>" are single
tokens, as in Phi-4-reasoning, and "é" is two byte tokens, so the text
stream must join them.

It is written by tests/ref/make_model.py with its vocabulary and weights
replaced, so the file format and tokenizer are the generator's own.
"""
from unittest import mock

import numpy as np

import make_model

CHAIN = ["<|im_sep|>", "<think>", b"h", b"\xc3", b"\xa9", "</think>", b"O", b"k", b"!",
         "<|im_end|>"]
THINKING = "hé"
ANSWER = "Ok!"
REPLY = "<think>hé</think>Ok!"
GAIN = 4.0  # logit of the next token ~ GAIN * sqrt(n_embd) = 45; every other logit is 0

_original_tokenizer = make_model.make_tokenizer
_original_weights = make_model.random_weights
_byte_token = dict(make_model.bytes_to_unicode())


def _vocab_form(entry):
    return "".join(_byte_token[b] for b in entry) if isinstance(entry, bytes) else entry


def _tokenizer(*args, **kwargs):
    tok = _original_tokenizer(*args, **kwargs)
    # The last two padding tokens become the thinking tags.
    tok["tokens"][-2:] = ["<think>", "</think>"]
    tok["token_type"][-2:] = [make_model.USER_DEFINED] * 2
    return tok


class Bigram:
    def __init__(self, path, chain_ids):
        self.path = path
        self.ids = chain_ids  # the token ids of CHAIN

    def id(self, entry):
        return self.ids[CHAIN.index(entry)]


def make(out_dir):
    tok = _tokenizer("phi4", make_model.CONFIGS["phi4-like"]["n_vocab"],
                     make_model.CONFIGS["phi4-like"]["n_merges"])
    ids = [tok["tokens"].index(_vocab_form(entry)) for entry in CHAIN]

    def weights(hp, rng):
        w = {name: np.zeros_like(x) for name, x in _original_weights(hp, rng).items()}
        for name, x in w.items():
            if name.endswith("norm.weight"):
                x[:] = 1.0
        for dim, (token, successor) in enumerate(zip(ids, ids[1:])):
            w["token_embd.weight"][token, dim] = 1.0
            w["output.weight"][successor, dim] = GAIN
        return w

    with mock.patch.object(make_model, "make_tokenizer", _tokenizer), \
            mock.patch.object(make_model, "random_weights", weights):
        make_model.make_model("phi4-like", "f32", out_dir, seed=1, chat_template="phi4")
    return Bigram(out_dir + "/model.gguf", ids)
