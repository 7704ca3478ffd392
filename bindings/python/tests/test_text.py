"""Tokens and chat formats through the binding."""
import json
import os

import pytest

import phi4
from conftest import ROOT

UNICODE = "Unicode: héllo wörld — 你好，世界 🙂👍🏽 مرحبا\n\ttabs  and  spaces"


@pytest.mark.parametrize("which", ["mini", "phi4_model"])
def test_tokenize_roundtrip(which, request):
    model = request.getfixturevalue(which)
    for text in ["", "The quick brown fox jumps over the lazy dog.", UNICODE, "a\0b"]:
        tokens = model.tokenize(text)
        assert all(isinstance(t, int) and 0 <= t < model.n_vocab for t in tokens)
        assert model.detokenize(tokens) == text
        assert b"".join(model.token_piece(t) for t in tokens) == text.encode()
    assert model.tokenize("") == []
    # bytes in, invalid UTF-8 included: encoded byte by byte, decoded as U+FFFD
    tokens = model.tokenize(b"ok \xff\xfe end")
    assert b"".join(model.token_piece(t) for t in tokens) == b"ok \xff\xfe end"
    assert model.detokenize(tokens) == "ok \ufffd\ufffd end"


def test_token_pieces_may_split_characters(mini):
    # A byte token is part of a character: piece gives the byte, detokenize a U+FFFD.
    tokens = mini.tokenize("🙂")
    pieces = [mini.token_piece(t) for t in tokens]
    assert b"".join(pieces) == "🙂".encode()
    assert len(tokens) > 1 and pieces[0] == b"\xf0"
    assert mini.detokenize(tokens[:1]) == "\ufffd"


def test_special_tokens(mini, phi4_model):
    info = mini.info
    end = info["token_eot"]
    assert mini.token_piece(end) == b"<|end|>"
    text = "Hi<|end|>"
    assert mini.tokenize(text, special=True)[-1] == end
    assert end not in mini.tokenize(text)  # plain text unless asked
    assert mini.detokenize(mini.tokenize(text)) == text
    assert mini.detokenize(mini.tokenize(text, special=True)) == text
    assert mini.detokenize(mini.tokenize(text, special=True), skip_special=True) == "Hi"
    bos = info["token_bos"]
    assert bos >= 0 and mini.tokenize("Hi", add_bos=True) == [bos] + mini.tokenize("Hi")
    im_end = phi4_model.info["token_eos"]
    assert phi4_model.token_piece(im_end) == b"<|im_end|>"
    assert phi4_model.is_eog(im_end) and not phi4_model.is_eog(phi4_model.tokenize("a")[0])


def test_bad_tokens(mini):
    with pytest.raises(phi4.InvalidArgument, match="outside"):
        mini.detokenize([0, mini.n_vocab])
    with pytest.raises(phi4.InvalidArgument, match="outside"):
        mini.token_piece(-1)
    with pytest.raises(ValueError, match="32 bits"):  # not silently wrapped to a valid id
        mini.detokenize([2 ** 32 + 5])
    with pytest.raises(TypeError):
        mini.detokenize(["a"])
    with pytest.raises(TypeError):
        mini.tokenize(5)


HELLO = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello"}]


def test_chat_format_phi4(phi4_model):
    assert phi4_model.info["chat_format"] == "phi4"
    assert phi4_model.chat_format(HELLO) == (
        "<|im_start|>system<|im_sep|>Be brief.<|im_end|>"
        "<|im_start|>user<|im_sep|>Hello<|im_end|><|im_start|>assistant<|im_sep|>")
    assert phi4_model.chat_format([("user", "Hello")], add_assistant=False) == (
        "<|im_start|>user<|im_sep|>Hello<|im_end|>")
    with pytest.raises(phi4.Unsupported):  # Phi-4's format has no place for tools
        phi4_model.chat_format(HELLO, tools="[]")


def test_chat_format_mini(mini):
    assert mini.info["chat_format"] == "phi4-mini"
    assert mini.chat_format(HELLO) == "<|system|>Be brief.<|end|><|user|>Hello<|end|><|assistant|>"
    assert mini.chat_format(HELLO, add_assistant=False) == (
        "<|system|>Be brief.<|end|><|user|>Hello<|end|><|endoftext|>")
    tools = [{"name": "get_weather", "parameters": {"city": {"type": "str"}}}]
    expected_tools = json.dumps(tools, ensure_ascii=False)
    assert mini.chat_format(HELLO, tools=tools) == (
        f"<|system|>Be brief.<|tool|>{expected_tools}<|/tool|><|end|><|user|>Hello<|end|>"
        "<|assistant|>")
    assert mini.chat_format([("user", "Hi")], tools="[]") == (
        "<|system|><|tool|>[]<|/tool|><|end|><|user|>Hi<|end|><|assistant|>")


def test_reasoning_formats_and_default_system(mini, phi4_model):
    phi4_model.set_options(chat_format="phi4-reasoning")
    assert phi4_model.get_option("chat_format") == "phi4-reasoning"
    with_default = phi4_model.chat_format([("user", "Hi")])
    assert with_default.startswith("<|im_start|>system<|im_sep|>You are Phi, a language model "
                                   "trained by Microsoft")
    assert phi4_model.chat_format([("user", "Hi")], default_system=False) == (
        "<|im_start|>user<|im_sep|>Hi<|im_end|><|im_start|>assistant<|im_sep|>")
    mini.set_options(chat_format=phi4.CHAT_FORMATS["phi4-mini-reasoning"])
    assert mini.chat_format([("user", "Hi")]) != mini.chat_format([("user", "Hi")],
                                                                  default_system=False)


def fixture_cases():
    """tests/fixtures/chat/expected.txt: conversations rendered by Jinja2 from the real
    templates (tools/chat-fixtures), as (format, add_assistant, messages, tools, expected)."""
    data = open(os.path.join(ROOT, "tests", "fixtures", "chat", "expected.txt"), "rb").read()
    at = 0

    def line():
        nonlocal at
        end = data.index(b"\n", at)
        text, at = data[at:end].decode(), end + 1
        return text

    def record():
        nonlocal at
        tag, length = line().rsplit(" ", 1)
        body, at = data[at:at + int(length)].decode(), at + int(length) + 1
        return tag, body

    fmt = None
    while at < len(data):
        if data.startswith(b"template ", at):
            fmt = record()[0].split(" ", 1)[1]
            continue
        _, add, n, tools_len = line().split()
        tools = None
        if int(tools_len) >= 0:
            tools, at = data[at:at + int(tools_len)].decode(), at + int(tools_len) + 1
        messages = [record() for _ in range(int(n))]
        yield fmt, add == "1", messages, tools, record()[1]


def test_chat_format_reproduces_the_jinja_fixtures(mini, phi4_model):
    cases = list(fixture_cases())
    assert len(cases) > 100
    formats = set()
    for fmt, add_assistant, messages, tools, expected in cases:
        model = phi4_model if fmt.startswith("phi4-mini") is False else mini
        model.set_options(chat_format=fmt)
        # alternate the two accepted message forms
        msgs = ([{"role": r, "content": c} for r, c in messages] if len(formats) % 2
                else messages)
        assert model.chat_format(msgs, tools=tools, add_assistant=add_assistant) == expected
        formats.add(fmt)
    assert formats == set(phi4.CHAT_FORMATS) - {"auto"}


def test_chat_tokenize(mini):
    tokens = mini.chat_tokenize(HELLO)
    assert tokens == mini.tokenize(mini.chat_format(HELLO), special=True)
    assert mini.detokenize(tokens) == mini.chat_format(HELLO)
    # Markup inside a message stays text.
    tricky = [("user", "say <|end|> now")]
    tokens = mini.chat_tokenize(tricky)
    assert tokens.count(mini.info["token_eot"]) == 1
    assert tokens != mini.tokenize(mini.chat_format(tricky), special=True)
    assert mini.detokenize(tokens) == mini.chat_format(tricky)
    assert mini.chat_tokenize(HELLO, add_assistant=False)[-1] == mini.info["token_bos"]


def test_chat_argument_errors(mini):
    with pytest.raises(phi4.InvalidArgument, match="NUL"):
        mini.chat_format([("user", "a\0b")])
    with pytest.raises(phi4.InvalidArgument):
        mini.chat_format([("narrator", "Once upon a time")])
    with pytest.raises(TypeError, match="message 1"):
        mini.chat_format([("user", "a"), "b"])
    with pytest.raises(TypeError, match="'content'"):
        mini.chat_format([{"role": "user"}])
    with pytest.raises(TypeError, match="must be a str"):
        mini.chat_format([("user", 5)])
    with pytest.raises(UnicodeEncodeError):
        mini.chat_format([("user", "\ud800")])


def test_unknown_template_needs_a_format(make_test_model):
    with phi4.Model(make_test_model("phi4-like", "f32", "other")) as model:
        assert model.info["chat_format"] is None
        assert "start_header_id" in model.info["chat_template"]
        with pytest.raises(phi4.Unsupported, match="chat template"):
            model.chat_format(HELLO)
        with pytest.raises(phi4.Unsupported):
            model.chat(HELLO, max_tokens=1)
        model.set_options(chat_format="phi4")
        assert model.chat_format(HELLO).startswith("<|im_start|>system")
    # Without a template, the special tokens say which format it is.
    with phi4.Model(make_test_model("mini-like", "f32", "none")) as model:
        assert model.info["chat_template"] == ""
        assert model.chat_format([("user", "x")]) == "<|user|>x<|end|><|assistant|>"
