"""Exceptions: one class per libphi4 status code, all deriving from Phi4Error.

Where a built-in exception means the same thing, the class also derives from
it, so ``except OSError`` catches a model file that cannot be opened and
``except ValueError`` a bad argument.
"""
from __future__ import annotations

from . import _capi as c


class Phi4Error(Exception):
    """A libphi4 call failed.

    ``code`` is the library's status (a negative ``PHI_E_*`` value) and
    ``message`` the sentence the library wrote about it (``phi_errmsg``).
    """

    code: int
    message: str

    def __init__(self, code: int, message: str) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidArgument(Phi4Error, ValueError):
    """A bad argument: unknown option, value out of range, token outside the vocabulary..."""


class OutOfMemory(Phi4Error, MemoryError):
    """The library could not allocate memory."""


class FileError(Phi4Error, OSError):
    """A file (a model, or the library itself) could not be opened or read."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(code, message)
        # OSError took the status for an errno; it is not one.
        self.errno = None
        self.strerror = message


class FormatError(Phi4Error):
    """A model file is malformed (not GGUF, truncated, inconsistent)."""


class Unsupported(Phi4Error):
    """Well-formed, but not something this build runs (architecture, tensor type, chat template)."""


class StateError(Phi4Error):
    """A call made in the wrong state: a closed model, no logits yet, a model busy in another call."""


class BufferTooSmall(Phi4Error):
    """An output buffer was too small (the binding retries, so this is not normally seen)."""


class ContextFull(Phi4Error):
    """The tokens would not fit in the context (``n_ctx``)."""


class Interrupted(Phi4Error):
    """The call was stopped by :meth:`phi4.Model.interrupt` or a progress callback."""


class VersionError(Phi4Error):
    """A file or library of a version this binding does not know (e.g. another ABI)."""


class InternalError(Phi4Error):
    """A bug in libphi4."""


_BY_CODE: dict[int, type[Phi4Error]] = {
    c.PHI_E_INVALID_ARG: InvalidArgument,
    c.PHI_E_NOMEM: OutOfMemory,
    c.PHI_E_IO: FileError,
    c.PHI_E_FORMAT: FormatError,
    c.PHI_E_UNSUPPORTED: Unsupported,
    c.PHI_E_STATE: StateError,
    c.PHI_E_BUFFER_TOO_SMALL: BufferTooSmall,
    c.PHI_E_CONTEXT_FULL: ContextFull,
    c.PHI_E_INTERRUPTED: Interrupted,
    c.PHI_E_VERSION: VersionError,
    c.PHI_E_INTERNAL: InternalError,
}


def error_for(code: int, message: str) -> Phi4Error:
    """The exception for a status code (Phi4Error itself for a code this binding does not know)."""
    return _BY_CODE.get(code, Phi4Error)(code, message)
