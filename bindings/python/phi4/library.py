"""Finding and opening libphi4.

Lookup order when no path is given:

1. the environment variable ``PHI4_LIBRARY`` (a path to the shared library);
2. a ``libphi4.so*`` file inside this package's directory (where a bundled
   copy would live);
3. the system loader: ``libphi4.so.1`` (the SONAME of the ABI this binding
   speaks), then whatever ``ctypes.util.find_library("phi4")`` finds.

A path given explicitly (:func:`load_library` or ``Model(..., library=...)``)
or through ``PHI4_LIBRARY`` must work: if it does not, that is an error, not
a reason to try the next place.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import glob
import os
import sys
import threading

from . import _capi as c
from .errors import FileError, VersionError

_SONAME = {"darwin": "libphi4.1.dylib", "win32": "phi4.dll"}.get(sys.platform, "libphi4.so.1")
_BUNDLED_PATTERN = {"darwin": "libphi4*.dylib", "win32": "phi4.dll"}.get(sys.platform,
                                                                         "libphi4.so*")

_lock = threading.Lock()
_opened: dict[str, "Library"] = {}
_default: "Library | None" = None


class Library:
    """An opened libphi4 whose ABI matches this binding.

    Attributes: ``path`` (what was opened), ``version`` ("MAJOR.MINOR.PATCH"),
    ``version_number``, ``abi_version`` and ``build_info`` (compiler, kernel
    sets compiled in).
    """

    def __init__(self, name: str) -> None:
        try:
            dll = ctypes.CDLL(name)
        except OSError as e:
            raise FileError(c.PHI_E_IO, f"cannot load libphi4 from {name!r}: {e}") from None
        try:
            abi = dll.phi_abi_version
        except AttributeError:
            raise VersionError(c.PHI_E_VERSION,
                               f"{name!r} is not libphi4 (it has no phi_abi_version)") from None
        abi.restype, abi.argtypes = ctypes.c_int32, []
        if abi() != c.ABI_VERSION:
            raise VersionError(c.PHI_E_VERSION,
                               f"{name!r} implements libphi4 ABI {abi()}; this binding was "
                               f"written for ABI {c.ABI_VERSION}")
        try:
            c.declare(dll)
        except AttributeError as e:
            raise VersionError(c.PHI_E_VERSION, f"{name!r} lacks a function of ABI "
                               f"{c.ABI_VERSION}: {e}") from None
        self.path = name
        self.dll = dll
        self.abi_version = c.ABI_VERSION
        self.version = dll.phi_version_string().decode()
        self.version_number = dll.phi_version_number()
        self.build_info = dll.phi_build_info().decode(errors="replace")

    def strerror(self, status: int) -> str:
        """The library's English text for a status code."""
        return self.dll.phi_strerror(status).decode(errors="replace")

    def __repr__(self) -> str:
        return f"<phi4.Library {self.version} from {self.path!r}>"


def _open(name: str) -> Library:
    with _lock:
        lib = _opened.get(name)
        if lib is None:
            lib = _opened[name] = Library(name)
        return lib


def _find() -> Library:
    env = os.environ.get("PHI4_LIBRARY")
    if env:
        try:
            return _open(env)
        except (FileError, VersionError) as e:
            raise type(e)(e.code, f"PHI4_LIBRARY: {e.message}") from None
    here = os.path.dirname(os.path.abspath(__file__))
    bundled = sorted(glob.glob(os.path.join(here, _BUNDLED_PATTERN)))
    # The SONAME's file first: it is the ABI's name, the others are links or versions.
    bundled.sort(key=lambda p: os.path.basename(p) != _SONAME)
    if bundled:
        return _open(bundled[0])
    tried = [_SONAME]
    try:
        return _open(_SONAME)
    except FileError:
        pass
    found = ctypes.util.find_library("phi4")
    if found:
        return _open(found)
    tried.append('find_library("phi4")')
    raise FileError(c.PHI_E_IO,
                    "libphi4 not found (tried PHI4_LIBRARY, this package's directory, "
                    f"{', '.join(tried)}); set PHI4_LIBRARY to the library's path or pass "
                    "library=")


def load_library(path: "str | os.PathLike[str] | None" = None) -> Library:
    """Open libphi4 and make it the one new models use by default.

    With ``path``, that file is opened (FileError if it cannot be, VersionError
    if it is not libphi4 of ABI 1). Without, the library is looked up as the
    module documentation says, once per process; later calls return it.
    """
    global _default
    if path is not None:
        lib = _open(os.fspath(path))
        _default = lib
        return lib
    if _default is None:
        _default = _find()
    return _default


def resolve(library: "Library | str | os.PathLike[str] | None") -> Library:
    """The library a model should use: the one given (object or path) or the default."""
    if isinstance(library, Library):
        return library
    if library is not None:
        return _open(os.fspath(library))
    return load_library()
