"""Ctrl-C: SIGINT sent to the process while the binding is busy, as a terminal would."""
import os
import signal
import threading
import time
from contextlib import contextmanager

import pytest

import phi4
from phi4 import _interrupt

PROMPT = "The quick brown fox"


@contextmanager
def ctrl_c_when(busy):
    """Send SIGINT to this process once busy() is true (polled from another thread).

    Inside the block SIGINT raises KeyboardInterrupt, once; a signal arriving after
    the block is swallowed, so a late one cannot hit the test runner."""
    state = {"armed": True, "signals": 0}

    def handler(signum, frame):
        state["signals"] += 1
        if state["armed"]:
            state["armed"] = False
            raise KeyboardInterrupt

    stop = threading.Event()

    def watch():
        while not stop.is_set():
            if busy():
                os.kill(os.getpid(), signal.SIGINT)
                return
            time.sleep(0.0002)

    previous = signal.signal(signal.SIGINT, handler)
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield state
    finally:
        stop.set()
        watcher.join()
        state["armed"] = False
        for _ in range(100):  # let a pending Python-level handler run while disarmed
            pass
        signal.signal(signal.SIGINT, previous)


def in_a_library_call():
    """A library call is running on the binding's helper thread (phi4/_interrupt.py)."""
    return bool(_interrupt.running)


def in_a_library_call_after(seconds):
    """The same, once `seconds` have passed: in the middle of a generation, usually."""
    start = time.monotonic()
    return lambda: time.monotonic() - start > seconds and in_a_library_call()


def reference_text(path, **kwargs):
    with phi4.Model(path, n_threads=1) as fresh:
        return fresh.generate(PROMPT, **kwargs)


def test_ctrl_c_stops_a_long_evaluation(long_path):
    with phi4.Model(long_path, n_threads=1) as model:
        tokens = [t % 300 for t in range(model.n_ctx - 4)]
        with ctrl_c_when(in_a_library_call) as state:
            with pytest.raises(KeyboardInterrupt):
                model.eval(tokens)
        assert state["signals"] == 1
        # Had the evaluation run to its end, the sequence would hold the tokens:
        # it was stopped inside the library, all or nothing.
        assert model.kv_pos == 0
        assert model.generate(PROMPT, seed=4, max_tokens=12) == reference_text(
            long_path, seed=4, max_tokens=12)


def test_ctrl_c_stops_a_blocking_generation(long_path):
    with phi4.Model(long_path, n_threads=1) as model:
        with ctrl_c_when(in_a_library_call_after(0.1)):
            with pytest.raises(KeyboardInterrupt):
                model.generate(PROMPT, temperature=1.3, max_tokens=0)
        # Stopped before the context was full (maybe still in the prompt: then the
        # sequence is empty, as generate() starts a new one).
        assert model.kv_pos < model.n_ctx
        assert model.get_option("temperature") == pytest.approx(0.8)  # restored
        assert model.generate(PROMPT, seed=4, max_tokens=12) == reference_text(
            long_path, seed=4, max_tokens=12)
        with ctrl_c_when(in_a_library_call_after(0.1)):
            with pytest.raises(KeyboardInterrupt):
                model.chat([("user", "Hi")], max_tokens=0)
        assert model.kv_pos < model.n_ctx
        assert model.chat([("user", "Hi")], max_tokens=4, temperature=0) is not None


def test_ctrl_c_stops_a_stream(phi4_path):
    with phi4.Model(phi4_path, n_threads=1) as model:
        pieces = []
        with ctrl_c_when(lambda: len(pieces) >= 3) as state:
            with pytest.raises(KeyboardInterrupt):
                for piece in model.chat([("user", "Tell me a long story.")], stream=True,
                                        thinking="separate", max_tokens=0, top_k=5):
                    pieces.append(piece)
                    time.sleep(0.001)  # the consumer's own work, where Ctrl-C may land too
        assert state["signals"] == 1 and len(pieces) >= 3
        assert model.get_option("top_k") == 40 and model.get_option("max_tokens") == 0
        assert model.generate(PROMPT, seed=4, max_tokens=12) == reference_text(
            phi4_path, seed=4, max_tokens=12)


def test_ctrl_c_while_loading_with_a_progress_callback(mini_path):
    calls = []

    def progress(fraction):
        calls.append(fraction)
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while the library is loading

    with ctrl_c_when(lambda: False):
        with pytest.raises(KeyboardInterrupt):
            phi4.Model(mini_path, progress=progress)
    assert calls == [0.0]  # the load stopped at the first report
    with phi4.Model(mini_path) as model:
        assert model.kv_pos == 0
