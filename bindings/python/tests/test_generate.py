"""Generation and chat: the binding against the C API and against itself."""
import subprocess
import threading

import pytest

import make_model
import phi4
from conftest import helper_program

PROMPT = "The quick brown fox"
# Random models never think: this Phi-4-reasoning in miniature replies REPLY to any
# prompt, by a wide margin under any sampling settings (tests/ref/make_model.py
# --script). "<think>" and "</think>" are single tokens, as in Phi-4-reasoning, and
# "é" is two byte tokens, so the text stream must join them.
THINKING, ANSWER = "hé", "Ok!"
REPLY = f"<think>{THINKING}</think>{ANSWER}"


@pytest.fixture(scope="module")
def reasoning(tmp_path_factory):
    """(path, the reply's token chain: the assistant marker, REPLY's tokens, the end of turn)"""
    out = tmp_path_factory.mktemp("reasoning")
    tok = make_model.make_model("phi4-like", "f32", str(out), seed=1,
                                chat_template="phi4-reasoning", context_length=2048,
                                script=REPLY)[2]
    return str(out / "model.gguf"), tok["script"]


def c_tokens(model_path, prompt, seed, temperature, max_tokens):
    """The tokens the C API generates (tests/generate_tokens.c)."""
    program = helper_program("PHI4_TEST_GENERATE_TOKENS", "bindings/python/generate-tokens")
    out = subprocess.run([program, model_path, str(seed), str(temperature), str(max_tokens)] +
                         [str(t) for t in prompt], capture_output=True, text=True, check=True,
                         timeout=120).stdout
    return [int(t) for t in out.split()]


def eval_sample_loop(model, prompt, seed, temperature, max_tokens):
    """Generation by hand with the low-level calls."""
    model.kv_clear()
    model.set_options(seed=seed, temperature=temperature)
    model.eval(prompt)
    out = []
    while len(out) < max_tokens:
        token = model.sample()
        if model.is_eog(token):
            break
        out.append(token)
        model.eval([token])
    return out


@pytest.mark.parametrize("which", ["mini", "phi4_model"])
@pytest.mark.parametrize("seed,temperature", [(1, 0.0), (7, 0.8), (12345, 1.5)])
def test_generate_equals_the_c_api(which, seed, temperature, request):
    model = request.getfixturevalue(which)
    prompt = model.tokenize(PROMPT)
    expected = c_tokens(model.path, prompt, seed, temperature, 40)
    assert len(expected) > 0
    if which == "phi4_model" and temperature > 0:  # the draw matters, not just the logits
        assert expected != c_tokens(model.path, prompt, seed, 0.0, 40)
    tokens = list(model.generate_tokens(prompt, seed=seed, temperature=temperature,
                                        max_tokens=40))
    assert tokens == expected
    assert eval_sample_loop(model, prompt, seed, temperature, 40) == expected
    text = model.generate(PROMPT, seed=seed, temperature=temperature, max_tokens=40)
    assert text == model.detokenize(expected, skip_special=True)  # control tokens: no text
    assert model.generate(prompt, seed=seed, temperature=temperature, max_tokens=40) == text
    assert model.kv_pos == len(prompt) + len(expected)


def test_a_different_seed_gives_another_text(phi4_model):
    texts = {phi4_model.generate(PROMPT, seed=s, temperature=1.5, max_tokens=30)
             for s in range(4)}
    assert len(texts) > 1


def test_streaming_equals_blocking(mini, phi4_model):
    for model in (mini, phi4_model):
        blocking = model.generate(PROMPT, seed=3, max_tokens=60)
        pieces = list(model.generate(PROMPT, seed=3, max_tokens=60, stream=True))
        assert len(pieces) > 1 and all(isinstance(p, str) and p for p in pieces)
        assert "".join(pieces) == blocking
        messages = [("user", "Tell me about the fox.")]
        blocking = model.chat(messages, seed=5, max_tokens=40)
        assert "".join(model.chat(messages, seed=5, max_tokens=40, stream=True)) == blocking


def test_chat_equals_the_c_example(phi4_path):
    # examples/phi4 answers through phi_generate_begin_chat and phi_generate_next_text.
    program = helper_program("PHI4_TEST_CLI", "examples/phi4")
    out = subprocess.run([program, "-m", phi4_path, "-p", "Tell me about the fox.", "-n", "24",
                          "--temp", "0"], capture_output=True, text=True, check=True,
                         timeout=120).stdout
    with phi4.Model(phi4_path) as model:
        answer = model.chat([{"role": "user", "content": "Tell me about the fox."}],
                            max_tokens=24, temperature=0)
    assert answer and out == answer + "\n"


def test_per_call_options_are_restored_but_the_seed_stays(mini):
    mini.set_options(temperature=0.5, max_tokens=3, top_k=7)
    mini.generate(PROMPT, temperature=1.2, top_k=0, max_tokens=9, min_p=0.0, seed=99)
    assert mini.get_option("temperature") == 0.5
    assert mini.get_option("top_k") == 7
    assert mini.get_option("max_tokens") == 3
    assert mini.get_option("min_p") == pytest.approx(0.05)
    assert mini.get_option("split_thinking") is True  # generate() turns it off for itself
    assert mini.get_option("seed") == 99
    # The model's own settings apply when a call gives none.
    assert mini.kv_pos - len(mini.tokenize(PROMPT)) == 9
    mini.generate(PROMPT)
    assert mini.kv_pos - len(mini.tokenize(PROMPT)) <= 3
    with pytest.raises(TypeError, match="n_ctx"):
        mini.chat([("user", "x")], n_ctx=5)
    with pytest.raises(phi4.InvalidArgument, match="top_p"):
        mini.generate(PROMPT, top_p=2.0)
    assert mini.get_option("top_k") == 7


def test_the_same_seed_repeats_and_the_generator_continues(phi4_model):
    a = phi4_model.generate(PROMPT, seed=11, max_tokens=20, temperature=1.0)
    b = phi4_model.generate(PROMPT, seed=11, max_tokens=20, temperature=1.0)
    assert a == b
    # Without a seed the generator goes on from where it was: another text.
    c = phi4_model.generate(PROMPT, max_tokens=20, temperature=1.0)
    assert c != a


def test_reset_false_continues_the_sequence(mini):
    prompt = mini.tokenize(PROMPT)
    whole = list(mini.generate_tokens(prompt, temperature=0, max_tokens=12))
    mini.generate_tokens(prompt[:2], temperature=0, max_tokens=1).close()
    mini.kv_truncate(2)
    assert mini.kv_tokens() == prompt[:2]
    tail = list(mini.generate_tokens(prompt[2:], reset=False, temperature=0, max_tokens=12))
    assert tail == whole
    assert mini.kv_tokens()[:len(prompt)] == prompt and len(mini.kv_tokens()) == mini.kv_pos
    # An empty prompt continues where the sequence ends.
    first = mini.generate(PROMPT, temperature=0, max_tokens=5)
    more = mini.generate([], reset=False, temperature=0, max_tokens=7)
    assert first + more == mini.generate(PROMPT, temperature=0, max_tokens=12)
    mini.kv_clear()
    with pytest.raises(phi4.InvalidArgument, match="empty"):
        mini.generate([])


def test_chat_reuses_the_conversation_so_far(mini, mini_path):
    conversation = [{"role": "user", "content": "Tell me about the fox."}]
    reply = mini.chat(conversation, temperature=0, max_tokens=10)
    conversation += [{"role": "assistant", "content": reply},
                     {"role": "user", "content": "And the dog?"}]
    again = mini.chat(conversation, temperature=0, max_tokens=10)
    assert mini.kv_pos >= len(mini.chat_tokenize(conversation))
    with phi4.Model(mini_path) as fresh:
        assert fresh.chat(conversation, temperature=0, max_tokens=10) == again


def test_thinking_goes_to_its_channel(reasoning):
    path, chain = reasoning
    with phi4.Model(path) as model:
        question = [("user", "Why is the sky blue?")]
        assert model.chat(question) == ANSWER
        result = model.chat(question, thinking="separate")
        assert isinstance(result, phi4.ChatResult)
        assert (result.text, result.thinking) == (ANSWER, THINKING)
        assert str(result) == ANSWER
        assert model.chat(question, thinking="inline") == REPLY
        assert model.get_option("split_thinking") is True
        pairs = list(model.chat(question, thinking="separate", stream=True))
        assert all(isinstance(ch, phi4.Channel) for ch, _ in pairs)
        channels = [ch for ch, _ in pairs]
        assert channels == sorted(channels, reverse=True)  # thinking, then the answer
        assert "".join(t for ch, t in pairs if ch == phi4.Channel.THINKING) == THINKING
        assert "".join(t for ch, t in pairs if ch == phi4.Channel.ANSWER) == ANSWER
        assert "".join(model.chat(question, stream=True)) == ANSWER
        # Raw generation hands out the text as written, tags included.
        assert model.generate(chain[:1]) == REPLY
        assert model.detokenize(chain[2:3]) == "h"
        assert model.generate(chain[2:3]) == "é</think>Ok!"
        # The reply is the chain whatever the sampling settings.
        assert model.chat(question, temperature=1.5, top_k=0, top_p=1.0, min_p=0.0,
                          seed=3) == ANSWER
        with pytest.raises(ValueError, match="thinking"):
            model.chat(question, thinking=True)


def test_a_later_call_ends_an_open_stream(mini):
    stream = mini.generate(PROMPT, seed=1, max_tokens=50, temperature=2.0, stream=True)
    next(stream)
    assert mini.get_option("temperature") == 2.0
    mini.tokenize("does not touch the generation")
    next(stream)
    mini.kv_truncate(1)
    assert mini.get_option("temperature") == pytest.approx(0.8)  # restored by the new call
    with pytest.raises(phi4.StateError, match="ended by a later call"):
        next(stream)
    with pytest.raises(StopIteration):
        next(stream)
    stream = mini.generate(PROMPT, max_tokens=50, stream=True)
    with stream:
        next(stream)
    with pytest.raises(StopIteration):
        next(stream)
    other = mini.generate(PROMPT, max_tokens=50, temperature=0.1, stream=True)
    mini.generate(PROMPT, max_tokens=2)
    with pytest.raises(phi4.StateError):
        next(other)


def test_abandoned_stream_restores_options(mini):
    stream = mini.generate(PROMPT, max_tokens=50, temperature=1.7, stream=True)
    next(stream)
    del stream
    assert mini.get_option("temperature") == pytest.approx(0.8)


def test_context_full(mini_path):
    with phi4.Model(mini_path, n_ctx=16) as model:
        assert model.n_ctx == 16 and model.get_option("n_ctx") == 16
        long_prompt = model.tokenize(PROMPT * 10)
        with pytest.raises(phi4.ContextFull):
            model.generate(long_prompt)
        with pytest.raises(phi4.ContextFull):
            model.chat([("user", PROMPT * 10)])
        model.eval(long_prompt[:10])
        with pytest.raises(phi4.ContextFull, match="do not fit"):
            model.eval(long_prompt[:7])
        assert model.kv_pos == 10
        # Generation stops when the context is full.
        model.generate(long_prompt[:10], temperature=0, seed=1)
        assert model.kv_pos == 16


def test_forks_generate_in_parallel_threads(mini):
    prompt = mini.tokenize(PROMPT)
    expected = {seed: list(mini.generate_tokens(prompt, seed=seed, max_tokens=80))
                for seed in (1, 2)}
    forks = [mini.fork(), mini.fork()]
    results = {}

    def work(model, seed):
        results[seed] = list(model.generate_tokens(prompt, seed=seed, max_tokens=80))

    threads = [threading.Thread(target=work, args=(f, s)) for f, s in zip(forks, (1, 2))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == expected
    for f in forks:
        f.close()
