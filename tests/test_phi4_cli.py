#!/usr/bin/python3
"""The phi4 program (examples/phi4.c) on generated tiny models, against what
the C API answers (tests/chat_reference.c: the same conversation through
phi_generate_chat, greedy):

    test_phi4_cli.py CASE --phi4 PATH --reference PATH [--example PATH...]

CASE is one of the functions named case_*. Random weights make gibberish,
but greedy decoding makes it the same gibberish through both paths. When
MESON_EXE_WRAPPER is set (a cross build), the programs run through it."""
import argparse
import hashlib
import os
import pty
import re
import select
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "ref"))
import make_model  # noqa: E402

WRAPPER = shlex.split(os.environ.get("MESON_EXE_WRAPPER", ""))
TIMEOUT = 120
STATS = re.compile(r"phi4: prompt (\d+) tokens \((\d+) reused\), [\d.]+ tok/s; "
                   r"answer (\d+) tokens, [\d.]+ tok/s")

args = None
work = None


def model(config, ttype, template=None):
    out = os.path.join(work, f"{config}-{ttype}-{template}")
    if not os.path.exists(os.path.join(out, "model.gguf")):
        make_model.make_model(config, ttype, out, seed=1, chat_template=template)
    return os.path.join(out, "model.gguf")


# A Phi-4-reasoning in miniature that always thinks THINKING and answers ANSWER
# (tests/ref/make_model.py --script); "é" is two tokens the text stream must join.
THINKING, ANSWER = "hé", "Ok!"


def reasoning_model():
    out = os.path.join(work, "reasoning")
    make_model.make_model("phi4-like", "q8_0", out, seed=1, chat_template="phi4-reasoning",
                          context_length=2048, script=f"<think>{THINKING}</think>{ANSWER}")
    return os.path.join(out, "model.gguf")


def run(program, argv, stdin="", env=None):
    return subprocess.run(WRAPPER + [program] + argv, input=stdin, capture_output=True,
                          text=True, timeout=TIMEOUT, env=env, errors="replace")


def phi4(argv, stdin="", env=None):
    return run(args.phi4, argv, stdin, env)


def reference(path, n_predict, *turns):
    r = run(args.reference, [path, str(n_predict)] + list(turns))
    assert r.returncode == 0, r.stderr
    return r.stdout


def expect(cond, what, *details):
    if not cond:
        for d in details:
            print(d, file=sys.stderr)
        raise AssertionError(what)


def stats(stderr):
    return [tuple(int(g) for g in m.groups()) for m in STATS.finditer(stderr)]


def case_one_shot():
    """-p / -f / -s answer as the C API does, streamed to stdout, then exit."""
    for path in (model("phi4-like", "q8_0"), model("mini-like", "q4_0"),
                 model("mini-like", "q8_0", "phi4-mini-reasoning")):
        want = reference(path, 24, "Tell me about the fox.")
        r = phi4(["-m", path, "-p", "Tell me about the fox.", "-n", "24", "--temp", "0"])
        expect(r.returncode == 0 and r.stdout == want, f"one-shot on {path}", r.stdout, want,
               r.stderr)
        expect(len(stats(r.stderr)) == 1, "one speed line", r.stderr)
        # The thinking switch must not touch an answer.
        r = phi4(["-m", path, "-p", "Tell me about the fox.", "-n", "24", "--temp", "0",
                  "--think", "hide"])
        expect(r.stdout == want, "--think hide on an answer", r.stdout, want)
    path = model("phi4-like", "q8_0")
    prompt_file = os.path.join(work, "prompt.txt")
    with open(prompt_file, "w") as f:
        f.write("Tell me about the fox.")
    r = phi4(["-m", path, "-f", prompt_file, "-n", "24", "--temp", "0"])
    expect(r.stdout == reference(path, 24, "Tell me about the fox."), "-f", r.stdout, r.stderr)
    want = reference(path, 16, "-s", "You are a fox.", "Who are you?")
    r = phi4(["-m", path, "-s", "You are a fox.", "-p", "Who are you?", "-n", "16", "--temp",
              "0"])
    expect(r.stdout == want and want.strip(), "-s", r.stdout, want)
    # Another setting, another answer: the options reach the context.
    r = phi4(["-m", path, "-p", "Tell me about the fox.", "-n", "24", "--temp", "1.5",
              "--seed", "3", "--top-k", "0"])
    expect(r.returncode == 0 and r.stdout != reference(path, 24, "Tell me about the fox."),
           "sampling options", r.stdout)


def case_raw():
    """--raw continues plain text."""
    path = model("phi4-like", "q8_0")
    want = reference(path, 24, "--raw", "The quick brown fox")
    r = phi4(["-m", path, "--raw", "-p", "The quick brown fox", "-n", "24", "--temp", "0"])
    expect(r.returncode == 0 and r.stdout == want and want.strip(), "--raw", r.stdout, want,
           r.stderr)


def case_chat():
    """Two turns on stdin: the transcript is the C API's for the same conversation,
    and the second turn reuses the first turn's tokens."""
    path = model("phi4-like", "q8_0")
    turns = ["Hello there", "Tell me more about the fox."]
    want = reference(path, 24, *turns)
    r = phi4(["-m", path, "--temp", "0", "-n", "24"], stdin="\n".join(turns) + "\n")
    expect(r.returncode == 0 and r.stdout == want, "two-turn transcript", r.stdout, want,
           r.stderr)
    s = stats(r.stderr)
    expect(len(s) == 2, "a speed line per turn", r.stderr)
    (new1, reused1, _), (new2, reused2, answer2) = s
    expect(reused1 == 0 and reused2 >= new1 and new2 > 0 and answer2 > 0,
           "the second turn reuses at least the first prompt", r.stderr)
    # -i with -p: the prompt is the first turn of the chat.
    r = phi4(["-m", path, "--temp", "0", "-n", "24", "-i", "-p", turns[0]],
             stdin=turns[1] + "\n")
    expect(r.stdout == want, "-i -p", r.stdout, want)


def case_commands():
    """/reset starts again (the same answer as the first turn), /help, /exit, unknown ones."""
    path = model("phi4-like", "q8_0")
    first = reference(path, 24, "Hello there")
    r = phi4(["-m", path, "--temp", "0", "-n", "24"],
             stdin="Hello there\n/reset\nHello there\n")
    expect(r.stdout == first + first, "/reset", r.stdout, first)
    s = stats(r.stderr)
    expect(len(s) == 2 and s[1][1] == 0 and s[1][0] == s[0][0], "nothing reused after /reset",
           r.stderr)
    r = phi4(["-m", path, "--temp", "0", "-n", "24"], stdin="/help\n/bogus\nHi\n/exit\nHi\n")
    expect(r.returncode == 0, "exit 0")
    expect("/reset" in r.stdout and "/exit" in r.stdout and "Ctrl-C" in r.stdout, "/help",
           r.stdout)
    expect("unknown command /bogus" in r.stderr, "unknown command", r.stderr)
    expect(len(stats(r.stderr)) == 1, "/exit leaves before the next turn", r.stderr)


def case_context_full():
    """A full context is said, the next turn is refused with a hint, /reset recovers."""
    path = model("phi4-like", "q8_0")
    r = phi4(["-m", path, "--temp", "0", "-c", "64"], stdin="Hello there\nMore\n/reset\nHi\n")
    expect(r.returncode == 0, "exit 0", r.stderr)
    expect("the context is full (64 tokens): /reset starts a new conversation" in r.stderr,
           "full context said", r.stderr)
    expect("the context holds 64: /reset starts a new conversation" in r.stderr,
           "the next turn refused", r.stderr)
    expect(len(stats(r.stderr)) == 2, "the turn after /reset answers", r.stderr)


def case_ollama():
    """-m ollama:NAME finds the blob through a manifest tree."""
    path = model("phi4-like", "q8_0")
    models = os.path.join(work, "ollama")
    digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
    os.makedirs(os.path.join(models, "blobs"), exist_ok=True)
    shutil.copy(path, os.path.join(models, "blobs", "sha256-" + digest))
    manifest = os.path.join(models, "manifests", "registry.ollama.ai", "library", "tiny")
    os.makedirs(manifest, exist_ok=True)
    with open(os.path.join(manifest, "latest"), "w") as f:
        f.write('{"schemaVersion":2,"layers":[{"mediaType":"application/vnd.ollama.image.model",'
                f'"digest":"sha256:{digest}","size":1}}]}}')
    env = dict(os.environ, OLLAMA_MODELS=models)
    want = reference(path, 16, "Hi")
    for name in ("ollama:tiny", "ollama:tiny:latest", "ollama:library/tiny"):
        r = phi4(["-m", name, "-p", "Hi", "-n", "16", "--temp", "0"], env=env)
        expect(r.returncode == 0 and r.stdout == want, name, r.stdout, r.stderr)
    r = phi4(["-m", "ollama:tiny:q4", "-p", "Hi"], env=env)
    expect(r.returncode == 1 and r.stdout == "", "a missing tag fails")
    expect(r.stderr.strip().endswith(
        f"no Ollama manifest at {models}/manifests/registry.ollama.ai/library/tiny/q4 "
        "(is the model pulled? ollama pull tiny:q4)"), "the manifest path tried", r.stderr)
    r = phi4(["-m", "ollama:../tiny", "-p", "Hi"], env=env)
    expect(r.returncode == 1 and "namespace '..'" in r.stderr, "traversal refused", r.stderr)


def case_errors():
    """--help lists every flag; bad flags, models and numbers exit 1 with one line."""
    r = phi4(["--help"])
    expect(r.returncode == 0, "--help exits 0")
    for flag in ("-m, --model", "-p, --prompt", "-f, --file", "-s, --system", "-n, --n-predict",
                 "-t, --threads", "-c, --ctx-size", "--temp", "--top-k", "--top-p", "--min-p",
                 "--repeat-penalty", "--seed", "--think show|hide", "--no-mmap",
                 "--kv-type f16|f32", "-h, --help", "--version", "--raw", "-i, --interactive"):
        expect(flag in r.stdout, f"--help lists {flag}", r.stdout)
    for flag in ("--host", "--port", "--parallel", "--max-body"):
        expect(flag not in r.stdout, f"--help leaves out the server's {flag}")
    r = phi4(["--version"])
    expect(r.returncode == 0 and re.match(r"phi4 \d+\.\d+\.\d+ \(libphi4 ", r.stdout),
           "--version", r.stdout)
    path = model("phi4-like", "q8_0")
    for argv, message in [
            (["-m", path, "--bogus"], "phi4: unknown option --bogus (phi4 --help lists them)"),
            (["-m", path, "-n", "ten"], "phi4: -n/--n-predict: 'ten' is not a whole number"),
            (["-m", path, "--top-p", "2"], "phi4: --top-p: 2 is out of range: give in (0, 1]"),
            (["-m", path, "--port", "80"], "phi4: --port is an option of phi4-server, not of "
                                           "phi4"),
            (["-p", "hi"], "phi4: no model: give -m PATH.gguf or -m ollama:NAME[:TAG]"),
            (["-m", path, "--temp"], "phi4: --temp needs a value (X)"),
            (["-m", "/nonexistent/model.gguf", "-p", "hi"], "phi4: /nonexistent/model.gguf: "),
            (["-m", os.path.join(work, "prompt-missing.txt"), "-p", "hi"], "phi4: "),
            (["-m", path, "-f", os.path.join(work, "prompt-missing.txt")],
             "phi4: -f/--file: cannot open ")]:
        r = phi4(argv)
        lines = [line for line in r.stderr.splitlines() if not line.startswith("phi4: loading")]
        expect(r.returncode == 1 and r.stdout == "" and len(lines) == 1 and
               lines[0].startswith(message), f"{argv} fails", r.stderr, message)


def case_examples():
    """examples/chat.c and chat.cc print the C API's greedy answer, and fail with a message."""
    for path in (model("phi4-like", "q8_0"), model("mini-like", "q4_0")):
        want = reference(path, 256, "Tell me about the fox.")
        for example in args.example:
            r = run(example, [path, "Tell me about the fox."])
            expect(r.returncode == 0 and r.stdout == want and want.strip(),
                   f"{example} on {path}", r.stdout, want, r.stderr)
    for example in args.example:
        r = run(example, ["/nonexistent/model.gguf", "Hi"])
        expect(r.returncode == 1 and r.stderr.startswith("input/output error: ") and
               "/nonexistent/model.gguf" in r.stderr, f"{example} names a bad model", r.stderr)
        r = run(example, [])
        expect(r.returncode == 1 and "usage: " in r.stderr, f"{example} without arguments")


def case_thinking():
    """A reasoning model's thinking: between <think> and </think> when piped, left
    out with --think hide, dimmed on a terminal; whatever the sampling settings."""
    path = reasoning_model()
    reply = f"<think>{THINKING}</think>{ANSWER}\n"
    for sampling in ([], ["--temp", "2", "--top-k", "0", "--top-p", "1", "--seed", "7"]):
        r = phi4(["-m", path, "-p", "Why is the sky blue?"] + sampling)
        expect(r.returncode == 0 and r.stdout == reply, f"thinking shown {sampling}", r.stdout,
               r.stderr)
        r = phi4(["-m", path, "-p", "Why is the sky blue?", "--think", "hide"] + sampling)
        expect(r.returncode == 0 and r.stdout == ANSWER + "\n", f"thinking hidden {sampling}",
               r.stdout, r.stderr)
    # A chat: every turn thinks again; --think hide answers only.
    r = phi4(["-m", path], stdin="Why?\nAnd then?\n")
    expect(r.returncode == 0 and r.stdout == reply * 2, "two turns", r.stdout, r.stderr)
    r = phi4(["-m", path, "--think", "hide"], stdin="Why?\nAnd then?\n")
    expect(r.returncode == 0 and r.stdout == (ANSWER + "\n") * 2, "two turns hidden", r.stdout)
    if WRAPPER:
        print("SKIP (terminal part): needs a pseudo-terminal for the program itself")
        return 0
    faint, reset = b"\x1b[2m", b"\x1b[0m"
    t = Terminal(["-m", path, "-p", "Why?"])
    t.read_until(re.escape(faint + THINKING.encode() + reset + ANSWER.encode() + b"\r\n"))
    expect(t.exit_status() == 0, "exit 0 on a terminal")
    t = Terminal(["-m", path, "-p", "Why?", "--think", "hide"])
    m = t.read_until(rb"100%\r\n(.*?)phi4: prompt")
    expect(m.group(1) == ANSWER.encode() + b"\r\n", "only the answer on a terminal",
           m.group(0))
    expect(t.exit_status() == 0, "exit 0 on a terminal")
    return 0


class Terminal:
    """phi4 on a pseudo-terminal, as a person at a keyboard would run it."""

    def __init__(self, argv):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execvp((WRAPPER + [args.phi4])[0], WRAPPER + [args.phi4] + argv)
        self.seen = b""

    def read_until(self, pattern, timeout=TIMEOUT):
        """Read until the regex matches the output since the last match; return the match."""
        deadline = time.monotonic() + timeout
        while True:
            m = re.search(pattern, self.seen, re.S)
            if m:
                self.seen = self.seen[m.end():]
                return m
            left = deadline - time.monotonic()
            expect(left > 0, f"timed out waiting for {pattern!r}", self.seen[-2000:])
            if select.select([self.fd], [], [], left)[0]:
                try:
                    chunk = os.read(self.fd, 65536)
                except OSError:
                    chunk = b""
                expect(chunk, f"phi4 ended while waiting for {pattern!r}", self.seen[-2000:])
                self.seen += chunk

    def wait_in_syscall(self, number, fd):
        """Until the program is blocked in system call `number` on `fd` (Linux)."""
        deadline = time.monotonic() + TIMEOUT
        want = f"{number} {hex(fd)} "
        while time.monotonic() < deadline:
            with open(f"/proc/{self.pid}/syscall") as f:
                if f.read().startswith(want):
                    return
            time.sleep(0.01)
        expect(False, f"phi4 never blocked in system call {number} on fd {fd}")

    def interrupt(self):
        """Ctrl-C, and wait until phi4 has taken it (two pending ones would be one)."""
        os.kill(self.pid, signal.SIGINT)
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            with open(f"/proc/{self.pid}/status") as f:
                pending = [int(line.split()[1], 16) for line in f
                           if line.startswith(("SigPnd:", "ShdPnd:"))]
            if not any(p & (1 << (signal.SIGINT - 1)) for p in pending):
                return
            time.sleep(0.01)
        expect(False, "phi4 never took the Ctrl-C")

    def type(self, text):
        os.write(self.fd, text.encode())

    def exit_status(self):
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            try:  # drain, so that nothing blocks on a full terminal
                if select.select([self.fd], [], [], 0.05)[0]:
                    os.read(self.fd, 65536)
            except OSError:
                pass
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                os.close(self.fd)
                return os.waitstatus_to_exitcode(status)
        os.kill(self.pid, signal.SIGKILL)
        expect(False, "phi4 did not leave")


XOFF, XON = "\x13", "\x11"
READ, WRITE = 0, 1


def case_interrupt():
    """Ctrl-C mid-answer stops that answer and returns to the prompt; the next turn
    works on the kept conversation; Ctrl-C at the prompt leaves, and so do two
    Ctrl-C in one answer. The answer is held mid-way by flow control (Ctrl-S, as a
    person can type): phi4 blocks writing it, so the Ctrl-C comes during it."""
    if WRAPPER:
        print("SKIP: needs /proc of the program itself, not of its emulator")
        return 77
    path = model("mini-like", "q4_0")
    t = Terminal(["-m", path, "--temp", "0", "-c", "5000"])
    # On a terminal, loading draws a progress bar; the library's warnings are shown.
    t.read_until(rb"phi4: warning: n_ctx 5000 exceeds the trained context 1024; using 1024\r\n")
    t.read_until(re.escape(f"phi4: loading {path} [{'#' * 30}] 100%\r\n".encode()))
    t.read_until(rb"> $")
    t.type(XOFF + "Tell me a long story\r")
    t.wait_in_syscall(WRITE, 1)
    t.interrupt()
    t.type(XON)
    m = t.read_until(rb"Tell me a long story\r\n(.*) \[stopped\]\r\n(.*?)> $")
    first = STATS.search(m.group(2).decode(errors="replace"))
    expect(first and int(first.group(3)) < 100, "the answer stopped early", m.group(0))
    # A whole answer to this prompt runs to the end of the context: 1010 tokens.
    t.type("And another one\r")
    m = t.read_until(rb"And another one\r\n(.*?)(phi4: prompt.*?)> $")
    second = STATS.search(m.group(2).decode(errors="replace"))
    expect(second and int(second.group(2)) > 0 and int(second.group(3)) > 0,
           "the next turn answers on the kept conversation", m.group(0))
    t.wait_in_syscall(READ, 0)
    t.interrupt()
    expect(t.exit_status() == 0, "Ctrl-C at the prompt leaves with status 0")

    t = Terminal(["-m", path, "--temp", "0"])
    t.read_until(rb"> $")
    t.type(XOFF + "Tell me a long story\r")
    t.wait_in_syscall(WRITE, 1)
    t.interrupt()
    t.interrupt()
    t.type(XON)  # the terminal must drain before phi4's exit can close it
    expect(t.exit_status() == 1, "a second Ctrl-C in an answer leaves with status 1")
    return 0


def main():
    global args, work
    cases = sorted(n[5:].replace("_", "-") for n in globals() if n.startswith("case_"))
    ap = argparse.ArgumentParser()
    ap.add_argument("case", choices=cases)
    ap.add_argument("--phi4", required=True)
    ap.add_argument("--reference", required=True)
    ap.add_argument("--example", action="append", default=[])
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="phi4-cli-") as work:
        status = globals()["case_" + args.case.replace("-", "_")]()
    print(f"phi4 {args.case}: ok" if not status else "")
    return status or 0


if __name__ == "__main__":
    sys.exit(main())
