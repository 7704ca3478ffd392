"""Fixtures: the library under test and tiny real-format models.

meson passes the freshly built library in PHI4_LIBRARY and the helper
programs in PHI4_TEST_*; run by hand (after `ninja -C build`) the tests fall
back to build/ in the source tree:

    PYTHONPATH=bindings/python /usr/bin/python3 -m pytest bindings/python/tests
"""
import os
import sys
from unittest import mock

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
BUILD = os.path.join(ROOT, "build")
sys.path.insert(0, os.path.join(ROOT, "tests", "ref"))
import make_model  # noqa: E402

if not os.environ.get("PHI4_LIBRARY"):
    built = os.path.join(BUILD, "libphi4.so.1")
    if not os.path.exists(built):
        pytest.exit("set PHI4_LIBRARY to a built libphi4 (or build it into build/)", returncode=2)
    os.environ["PHI4_LIBRARY"] = built

import phi4  # noqa: E402


def helper_program(env_name, build_relative):
    """A program meson built for the tests (skip if there is none)."""
    path = os.environ.get(env_name) or os.path.join(BUILD, build_relative)
    if not os.path.exists(path):
        pytest.skip(f"{env_name} not set and {path} not built")
    return path


@pytest.fixture(scope="session")
def library_path():
    return os.environ["PHI4_LIBRARY"]


@pytest.fixture(scope="session")
def make_test_model(tmp_path_factory):
    """make_test_model(config, type, chat_template=None) -> path of a generated model
    (tests/ref/make_model.py), made once per session."""
    made = {}

    def make(config, ttype="f32", chat_template=None):
        key = (config, ttype, chat_template)
        if key not in made:
            out = tmp_path_factory.mktemp(f"{config}-{ttype}-{chat_template}")
            make_model.make_model(config, ttype, str(out), seed=1, chat_template=chat_template)
            made[key] = str(out / "model.gguf")
        return made[key]

    return make


@pytest.fixture(scope="session")
def mini_path(make_test_model):
    """Phi-4-mini in miniature, with Phi-4-mini's chat template."""
    return make_test_model("mini-like")


@pytest.fixture(scope="session")
def phi4_path(make_test_model):
    """Phi-4 in miniature, with Phi-4's chat template."""
    return make_test_model("phi4-like")


@pytest.fixture(scope="session")
def long_path(tmp_path_factory):
    """mini-like trained for 4096 tokens: evaluating a full context takes a while (~1 s),
    long enough to be interrupted on a busy machine."""
    out = tmp_path_factory.mktemp("long")
    config = dict(make_model.CONFIGS["mini-like"], context_length=4096)
    with mock.patch.dict(make_model.CONFIGS, {"mini-like": config}):
        make_model.make_model("mini-like", "f32", str(out), seed=1)
    return str(out / "model.gguf")


@pytest.fixture
def mini(mini_path):
    with phi4.Model(mini_path, n_threads=1) as model:
        yield model


@pytest.fixture
def phi4_model(phi4_path):
    with phi4.Model(phi4_path, n_threads=1) as model:
        yield model
