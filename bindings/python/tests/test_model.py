"""Loading, errors, options, lifetimes, forks and the low-level calls."""
import array
import gc
import math
import threading

import pytest

import phi4

PROMPT = "The quick brown fox"


def test_load_errors(tmp_path, mini_path):
    missing = tmp_path / "missing.gguf"
    with pytest.raises(phi4.FileError) as e:
        phi4.Model(missing)
    assert isinstance(e.value, OSError) and isinstance(e.value, phi4.Phi4Error)
    assert e.value.code == -3 and str(missing) in e.value.message
    not_gguf = tmp_path / "not.gguf"
    not_gguf.write_bytes(b"this is not a model file" * 100)
    with pytest.raises(phi4.FormatError) as e:
        phi4.Model(not_gguf)
    assert e.value.code == -4 and str(e.value)
    truncated = tmp_path / "truncated.gguf"
    truncated.write_bytes(open(mini_path, "rb").read()[:5000])
    with pytest.raises(phi4.FormatError):
        phi4.Model(truncated)
    with pytest.raises(phi4.InvalidArgument, match="NUL"):
        phi4.Model("a\0b")


def test_option_errors(mini_path):
    with pytest.raises(TypeError, match="colour"):
        phi4.Model(mini_path, colour="blue")
    with pytest.raises(phi4.InvalidArgument, match="kernel must be one of"):
        phi4.Model(mini_path, kernel="fastest")
    with pytest.raises(phi4.InvalidArgument, match="n_batch=0"):
        phi4.Model(mini_path, n_batch=0)
    with pytest.raises(TypeError, match="top_k"):
        phi4.Model(mini_path, top_k=1.5)
    with phi4.Model(mini_path, n_ctx=64, n_batch=8, kernel="scalar", temperature=0.25, top_k=3,
                    use_mmap=False, logits_all=True) as model:
        assert model.get_option("n_ctx") == 64 and model.get_option("n_batch") == 8
        assert model.get_option("kernel") == "scalar" and model.info["kernel"] == "scalar"
        assert model.get_option("temperature") == 0.25 and model.get_option("top_k") == 3
        assert model.get_option("use_mmap") is False and model.get_option("logits_all") is True
        with pytest.raises(phi4.StateError, match="n_ctx"):
            model.set_options(n_ctx=32)
        with pytest.raises(phi4.InvalidArgument, match="unknown option"):
            model.get_option("colour")
        with pytest.raises(phi4.InvalidArgument, match="64 bits"):
            model.set_options(seed=2 ** 64)
        with pytest.raises(phi4.InvalidArgument):
            model.set_options(temperature=math.nan)


def test_info(mini, mini_path):
    info = mini.info
    assert info["arch"] == "phi3"
    assert info["model_name"] == "libphi4 test mini-like f32 seed 1"
    assert (info["n_vocab"], info["n_ctx_train"], info["n_embd"], info["n_layer"]) == (
        384, 1024, 192, 2)
    assert (info["n_head"], info["n_head_kv"], info["head_dim"], info["n_rot"]) == (6, 2, 32, 24)
    assert info["n_ctx"] == mini.n_ctx == 1024 and mini.n_vocab == 384
    assert info["chat_format"] == "phi4-mini" and "<|assistant|>" in info["chat_template"]
    assert info["kernel"] in phi4.KERNELS and info["file_version"] == 3
    assert info["weight_bytes"] > 0 and info["n_params"] > 0
    info["n_vocab"] = 0  # a copy
    assert mini.n_vocab == 384
    assert "mini-like" in repr(mini)


def test_close_and_with(mini_path):
    model = phi4.Model(mini_path)
    assert not model.closed
    model.close()
    model.close()  # idempotent
    assert model.closed and "closed" in repr(model)
    for call in (lambda: model.tokenize("x"), lambda: model.generate(PROMPT),
                 lambda: model.kv_pos, lambda: model.info, lambda: model.fork(),
                 lambda: model.chat([("user", "x")]), lambda: model.eval([1])):
        with pytest.raises(phi4.StateError, match="closed"):
            call()
    model.interrupt()  # harmless
    with phi4.Model(mini_path) as model:
        assert model.generate(PROMPT, max_tokens=3, temperature=0)
    assert model.closed
    # A model dropped without close() is freed by the garbage collector.
    finalizer = phi4.Model(mini_path)._finalizer
    gc.collect()
    assert not finalizer.alive


def test_stream_outliving_its_model(mini_path):
    model = phi4.Model(mini_path)
    stream = model.generate(PROMPT, max_tokens=20, stream=True)
    next(stream)
    model.close()
    with pytest.raises(phi4.StateError, match="closed"):
        next(stream)
    stream.close()


def test_eval_logits_sample(mini):
    tokens = mini.tokenize(PROMPT)
    with pytest.raises(phi4.StateError, match="evaluate"):
        mini.logits()
    with pytest.raises(phi4.StateError):
        mini.sample()
    mini.eval(tokens)
    assert mini.kv_pos == len(tokens)
    logits = mini.logits()
    assert isinstance(logits, array.array) and len(logits) == mini.n_vocab
    assert all(math.isfinite(x) for x in logits)
    mini.set_options(temperature=0)
    assert mini.sample() == max(range(len(logits)), key=logits.__getitem__)
    assert memoryview(logits).cast("B").nbytes == 4 * mini.n_vocab
    # Incremental evaluation gives the same logits as evaluating the whole sequence.
    mini.kv_clear()
    mini.eval(tokens[:2])
    mini.eval(tokens[2:])
    assert mini.logits() == pytest.approx(logits, abs=1e-4)
    with pytest.raises(phi4.StateError, match="LOGITS_ALL"):
        mini.logits(0)
    mini.kv_truncate(1)
    assert mini.kv_pos == 1
    with pytest.raises(phi4.StateError):
        mini.logits()  # truncation drops them
    with pytest.raises(phi4.InvalidArgument):
        mini.kv_truncate(5)
    with pytest.raises(phi4.InvalidArgument, match="32 bits"):
        mini.kv_truncate(2 ** 32)  # would be 0 once wrapped
    with pytest.raises(phi4.InvalidArgument, match="no tokens"):
        mini.eval([])
    with pytest.raises(phi4.InvalidArgument, match="outside"):
        mini.eval([1, mini.n_vocab])
    assert mini.kv_pos == 1  # all or nothing
    mini.kv_clear()
    assert mini.kv_pos == 0


def test_logits_of_every_token(mini):
    tokens = mini.tokenize(PROMPT)
    mini.set_options(logits_all=True)
    mini.eval(tokens)
    rows = [mini.logits(i) for i in range(len(tokens))]
    assert rows[-1] == mini.logits()
    with pytest.raises(phi4.InvalidArgument, match="past"):
        mini.logits(len(tokens))
    with pytest.raises(phi4.InvalidArgument, match="negative"):
        mini.logits(-1)
    mini.set_options(logits_all=False)
    mini.kv_clear()
    mini.eval(tokens[:3])
    assert mini.logits() == pytest.approx(rows[2], abs=1e-4)


def test_fork(mini_path):
    model = phi4.Model(mini_path, temperature=0)
    model.eval(model.tokenize(PROMPT))
    copy = model.fork(copy_state=True)
    empty = model.fork()
    assert copy.kv_pos == model.kv_pos and empty.kv_pos == 0
    assert copy.logits() == model.logits()
    assert copy.get_option("temperature") == 0
    # Independent sequences, shared weights: closing the parent leaves the forks working.
    expected = model.generate([], reset=False, max_tokens=8)
    model.close()
    assert copy.generate([], reset=False, max_tokens=8) == expected
    assert empty.generate(PROMPT, max_tokens=8) == expected
    # A fork made during a generation gets the options outside it.
    stream = copy.generate(PROMPT, temperature=1.9, max_tokens=5, stream=True)
    child = copy.fork()
    assert child.get_option("temperature") == 0
    stream.close()
    for m in (copy, empty, child):
        m.close()


def test_log_callback_and_busy_model(mini_path):
    messages = []
    holder = {}

    def log(level, text):
        messages.append((level, text))
        if "already evaluated" in text:
            try:
                holder["model"].kv_pos
            except phi4.StateError as e:
                holder["error"] = e

    with phi4.Model(mini_path, log=log, log_level=4) as model:
        holder["model"] = model
        assert any(level == 3 and text.startswith("loaded ") for level, text in messages)
        model.chat([("user", "Hi")], max_tokens=2)
        # The callback ran inside the call: the model refused a second call.
        assert "in use by another call" in str(holder["error"])
        fork = model.fork()
    n = len(messages)
    fork.chat([("user", "Hi")], max_tokens=2)  # the fork logs to the same callback
    assert len(messages) > n
    fork.close()


def test_progress_callback(mini_path):
    seen = []
    with phi4.Model(mini_path, progress=seen.append) as model:
        assert model.generate(PROMPT, max_tokens=2)
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen)
    with pytest.raises(phi4.Interrupted, match="progress callback"):
        phi4.Model(mini_path, progress=lambda fraction: fraction > 0.5)

    def fail(fraction):
        raise RuntimeError("from the callback")

    with pytest.raises(RuntimeError, match="from the callback"):
        phi4.Model(mini_path, progress=fail)


def test_interrupt_from_another_thread(mini_path):
    with phi4.Model(mini_path, n_threads=1) as model:
        stop = threading.Event()

        def interrupter():
            while not stop.is_set():
                model.interrupt()

        thread = threading.Thread(target=interrupter)
        thread.start()
        try:
            with pytest.raises(phi4.Interrupted):
                model.eval(list(range(300)) * 3)
            assert model.kv_pos == 0
            with pytest.raises(phi4.Interrupted):
                model.generate(PROMPT, temperature=0, max_tokens=0)
        finally:
            stop.set()
            thread.join()
        assert model.generate(PROMPT, max_tokens=3)


def test_interrupt_between_the_pieces_of_a_stream(mini):
    # The library forgets a request when its next call starts; the binding must not.
    stream = mini.generate(PROMPT, max_tokens=50, temperature=1.5, stream=True)
    next(stream)
    mini.interrupt()
    with pytest.raises(phi4.Interrupted, match="Model.interrupt"):
        next(stream)
    assert mini.get_option("temperature") == pytest.approx(0.8)
    # A request made while nothing runs does not stop the next generation.
    mini.interrupt()
    assert len(list(mini.generate(PROMPT, max_tokens=5, stream=True))) > 0
