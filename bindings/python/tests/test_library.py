"""Finding the library, its ABI, the constants against the header, packaging."""
import ctypes.util
import os
import re
import shutil
import subprocess
import sys

import pytest

import phi4
from phi4 import _capi
from conftest import ROOT, helper_program

PACKAGE = os.path.join(ROOT, "bindings", "python")


def run_python(code, env_update, pythonpath, cwd=None):
    """Run code in a fresh interpreter where only env_update says where a libphi4 is
    (meson's test environment puts the build directory in LD_LIBRARY_PATH)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PHI4_LIBRARY", "LD_LIBRARY_PATH")}
    env.update(env_update)
    env["PYTHONPATH"] = pythonpath
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                       cwd=cwd, timeout=120)
    return r


def test_default_library_is_phi4_library(library_path):
    lib = phi4.load_library()
    assert lib.path == library_path
    assert lib.abi_version == phi4.ABI_VERSION == 1
    assert re.fullmatch(r"\d+\.\d+\.\d+", lib.version)
    major, minor, patch = map(int, lib.version.split("."))
    assert lib.version_number == major * 10000 + minor * 100 + patch
    assert "libphi4" in lib.build_info
    assert lib.strerror(-8) == "context is full"


def test_explicit_path_wins_over_the_environment(library_path, tmp_path):
    copy = tmp_path / "libphi4-copy.so"
    shutil.copy(library_path, copy)
    env = {"PHI4_LIBRARY": library_path}
    r = run_python(f"import phi4; print(phi4.load_library({str(copy)!r}).path)", env, PACKAGE)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(copy)
    # It becomes the default of later models.
    r = run_python(f"import phi4; phi4.load_library({str(copy)!r}); "
                   f"print(phi4.load_library().path)", env, PACKAGE)
    assert r.stdout.strip() == str(copy), r.stderr
    # Model(library=) uses the one given, and only there: a wrong one is an error.
    r = run_python(f"import phi4; phi4.Model('model.gguf', library={str(tmp_path / 'x.so')!r})",
                   env, PACKAGE)
    assert "phi4.errors.FileError: cannot load libphi4 from" in r.stderr


def test_environment_wins_over_the_package_directory(library_path, tmp_path):
    package = tmp_path / "pkg"
    shutil.copytree(os.path.join(PACKAGE, "phi4"), package / "phi4")
    shutil.copy(library_path, package / "phi4" / "libphi4.so.1")
    other = tmp_path / "libphi4-env.so"
    shutil.copy(library_path, other)
    code = "import phi4; print(phi4.load_library().path)"
    r = run_python(code, {"PHI4_LIBRARY": str(other)}, str(package))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(other)
    # Without the variable, the copy next to the package is used.
    r = run_python(code, {}, str(package))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(package / "phi4" / "libphi4.so.1")


def test_system_loader_is_last(library_path, tmp_path):
    libdir = tmp_path / "lib"
    libdir.mkdir()
    shutil.copy(library_path, libdir / "libphi4.so.1")
    code = "import phi4; print(phi4.load_library().path, phi4.load_library().version)"
    r = run_python(code, {"LD_LIBRARY_PATH": str(libdir)}, PACKAGE)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[0] == "libphi4.so.1"  # found by the dynamic loader's search
    # A copy inside the package comes before it.
    package = tmp_path / "pkg"
    shutil.copytree(os.path.join(PACKAGE, "phi4"), package / "phi4")
    shutil.copy(library_path, package / "phi4" / "libphi4.so.0.1.0")
    r = run_python(code, {"LD_LIBRARY_PATH": str(libdir)}, str(package))
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[0] == str(package / "phi4" / "libphi4.so.0.1.0")


def test_not_found_says_what_to_do():
    installed = run_python("import ctypes.util; print(ctypes.util.find_library('phi4'))", {},
                           PACKAGE)
    if installed.stdout.strip() != "None":
        pytest.skip(f"a libphi4 is installed on this system: {installed.stdout.strip()}")
    r = run_python("import phi4; phi4.load_library()", {}, PACKAGE)
    assert r.returncode != 0
    assert "phi4.errors.FileError: libphi4 not found" in r.stderr
    assert "PHI4_LIBRARY" in r.stderr


def test_wrong_path_raises_file_error(tmp_path):
    missing = tmp_path / "no-such-lib.so"
    with pytest.raises(phi4.FileError) as e:
        phi4.load_library(missing)
    assert str(missing) in str(e.value)
    assert isinstance(e.value, OSError) and e.value.code == -3
    r = run_python("import phi4; phi4.load_library()", {"PHI4_LIBRARY": str(missing)}, PACKAGE)
    assert "FileError: PHI4_LIBRARY: cannot load libphi4 from" in r.stderr


def test_a_library_that_is_not_libphi4():
    libm = ctypes.util.find_library("m")
    with pytest.raises(phi4.VersionError, match="is not libphi4"):
        phi4.load_library(libm)


def test_another_abi_is_refused():
    fake = helper_program("PHI4_TEST_FAKE_ABI", "bindings/python/libphi4_fake_abi.so")
    with pytest.raises(phi4.VersionError, match="implements libphi4 ABI 2; this binding was "
                                                "written for ABI 1"):
        phi4.load_library(fake)


def test_constants_match_the_header():
    header = open(os.path.join(ROOT, "include", "phi4.h"), encoding="utf-8").read()
    defines = dict(re.findall(r"#define (PHI_\w+)\s+\(?(-?\d+)u?\)?", header))
    defines["ABI_VERSION"] = re.search(r"#define PHI4_ABI_VERSION (\d+)", header).group(1)
    ours = {name: getattr(_capi, name) for name in dir(_capi)
            if name.startswith("PHI_") or name == "ABI_VERSION"}
    assert len(defines) >= 80  # the regex still finds them all
    assert ours == {name: int(value) for name, value in defines.items()}


def test_every_exported_function_is_bound_or_deliberately_not():
    exported = set(open(os.path.join(ROOT, "abi", "symbols.txt")).read().split())
    left_out = {"phi_ctx_new_with_allocator", "phi_generate", "phi_generate_chat"}
    assert set(_capi.PROTOTYPES) == exported - left_out
    names = {n for n in re.findall(r"\b(phi_\w+)\(", open(os.path.join(ROOT, "include",
                                                                       "phi4.h")).read())}
    assert exported <= names


def test_pip_installs_offline(tmp_path, library_path, phi4_path):
    # From a copy: pip builds in the source directory.
    source = tmp_path / "source"
    shutil.copytree(PACKAGE, source, ignore=shutil.ignore_patterns("tests", "build", "*.egg-info",
                                                                   "__pycache__"))
    target = tmp_path / "site"
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-build-isolation",
                        "--no-deps", "--no-index", "--quiet", "--target", str(target), str(source)],
                       capture_output=True, text=True, timeout=300,
                       env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    assert r.returncode == 0, r.stdout + r.stderr
    assert (target / "phi4" / "model.py").exists() and (target / "phi4" / "py.typed").exists()
    code = (f"import phi4\nassert phi4.__file__.startswith({str(target)!r}), phi4.__file__\n"
            f"with phi4.Model({phi4_path!r}) as m: print(m.info['arch'])\n")
    r = run_python(code, {"PHI4_LIBRARY": library_path}, str(target), cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "phi3"
