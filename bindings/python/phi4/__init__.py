"""Python binding of libphi4, which runs Microsoft's Phi-4 family of language models on CPU.

    import phi4
    with phi4.Model("model.gguf", n_ctx=4096) as model:
        print(model.chat([{"role": "user", "content": "Why is the sky blue?"}], max_tokens=256))

A thin ctypes layer over the C API (include/phi4.h); no compiler needed. The
shared library is found as :mod:`phi4.library` describes (``PHI4_LIBRARY``
names it explicitly).
"""
from ._capi import ABI_VERSION
from .errors import (BufferTooSmall, ContextFull, FileError, FormatError, InternalError,
                     Interrupted, InvalidArgument, OutOfMemory, Phi4Error, StateError,
                     Unsupported, VersionError)
from .library import Library, load_library
from .model import (CHAT_FORMATS, KERNELS, OPTIONS, SAMPLING_OPTIONS, Channel, ChatResult,
                    Model, Stream)

__all__ = [
    "ABI_VERSION", "CHAT_FORMATS", "KERNELS", "OPTIONS", "SAMPLING_OPTIONS",
    "BufferTooSmall", "Channel", "ChatResult", "ContextFull", "FileError", "FormatError",
    "InternalError", "Interrupted", "InvalidArgument", "Library", "Model", "OutOfMemory",
    "Phi4Error", "StateError", "Stream", "Unsupported", "VersionError", "load_library",
]
