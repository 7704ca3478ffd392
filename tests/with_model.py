#!/usr/bin/python3
"""Run a command on a freshly generated tiny model.

    with_model.py --config mini-like --type q8_0 [--script TEXT [--script-loop]] \
        -- CMD ARG... {model} ...

Generates the model (tests/ref/make_model.py) into a temporary directory,
replaces {model} in the arguments with its path, runs the command and
returns its exit status. When MESON_EXE_WRAPPER is set (meson test does that in a cross
build for a test whose arguments include a cross-built program, which is then CMD), the
command runs through that wrapper, e.g. qemu-aarch64."""
import argparse
import os
import shlex
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "ref"))
import make_model  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--type", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--chat-template", default=None)
    ap.add_argument("--vocab", default=None)
    ap.add_argument("--script", default=None)
    ap.add_argument("--script-loop", action="store_true")
    ap.add_argument("--context-length", type=int, default=None)
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    with tempfile.TemporaryDirectory(prefix="phi4-model-") as d:
        make_model.make_model(a.config, a.type, d, seed=a.seed, chat_template=a.chat_template,
                              vocab=a.vocab, script=a.script, script_loop=a.script_loop,
                              context_length=a.context_length)
        path = os.path.join(d, "model.gguf")
        wrapper = shlex.split(os.environ.get("MESON_EXE_WRAPPER", ""))
        return subprocess.call(wrapper + [c.replace("{model}", path) for c in cmd])


if __name__ == "__main__":
    sys.exit(main())
