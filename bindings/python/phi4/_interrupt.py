"""Running a long C call so that Ctrl-C stops it.

Python runs signal handlers only on the main thread and only between
bytecodes, so a KeyboardInterrupt cannot happen while the main thread is
inside a ctypes call: Ctrl-C during a long prompt evaluation would wait for
the evaluation to end. So on the main thread the call runs on a helper
thread while the main thread waits, where a signal handler can run. When
the wait raises (KeyboardInterrupt, or whatever a handler raises), the main
thread asks the library to stop (phi_interrupt is safe from any thread),
waits until the call has returned (so the context is never used by two
threads at once) and re-raises. libphi4's calls are all-or-nothing or stop
between tokens, so the context stays usable.

A KeyboardInterrupt may strike at any bytecode, so nothing here may be left
half done by one:
  - the helper is started with _thread.start_new_thread, one C call:
    threading.Thread.start() waits for the thread in Python code, and an
    exception there leaves the new thread broken (CPython 3.11);
  - who goes first is settled by the first entry of `claims` (list.append is
    atomic): the helper runs the call only if it claims it before the caller
    gives up, so the caller knows whether it must wait;
  - the caller waits for `outcome`, not for owning a lock: the exception can
    come just after the lock was acquired.
"""
from __future__ import annotations

import _thread
import signal
import threading
from typing import Callable, TypeVar

T = TypeVar("T")

# Faults are delivered to the thread that caused them; every other signal
# is kept away from the helper (and the library's pool threads it starts)
# so that the kernel delivers it to the main thread, waking it.
_SYNCHRONOUS = {getattr(signal, n) for n in ("SIGSEGV", "SIGBUS", "SIGFPE", "SIGILL", "SIGTRAP",
                                             "SIGSYS", "SIGABRT") if hasattr(signal, n)}
_BLOCKABLE = (set(signal.valid_signals()) - _SYNCHRONOUS
              if hasattr(signal, "pthread_sigmask") else set())
# How often the main thread re-sends the stop request while the call ends: a
# request made before the call has started is cleared by the call's start.
_RETRY_SECONDS = 0.005
# The helpers running a call now (their thread ids): what a test waits for
# to send its SIGINT while the library is at work.
running: set[int] = set()


def call(fn: Callable[[], T], interrupt: Callable[[], None]) -> T:
    """fn() on a helper thread if this is the main thread (else directly);
    interrupt() is called, repeatedly, if the wait is broken by an exception."""
    if threading.current_thread() is not threading.main_thread():
        return fn()
    claims: list = []
    outcome: list = []
    done = _thread.allocate_lock()
    done.acquire()

    def run() -> None:
        if _BLOCKABLE:
            signal.pthread_sigmask(signal.SIG_BLOCK, _BLOCKABLE)
        claims.append("helper")
        if claims[0] != "helper":
            return
        me = _thread.get_ident()
        running.add(me)
        try:
            outcome.append((True, fn()))
        except BaseException as e:  # handed to the caller's thread
            outcome.append((False, e))
        finally:
            running.discard(me)
            done.release()

    try:
        _thread.start_new_thread(run, ())
        done.acquire()
    except BaseException:
        claims.append("caller")
        while claims[0] == "helper" and not outcome:
            interrupt()
            try:
                done.acquire(timeout=_RETRY_SECONDS)
            except BaseException:  # a second Ctrl-C: the first one is already on its way
                pass
        raise
    ok, value = outcome[0]
    if not ok:
        raise value
    return value
