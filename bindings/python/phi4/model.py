"""Model: one libphi4 context (a loaded model, its sequence and sampler)."""
from __future__ import annotations

import array
import ctypes
import enum
import json
import operator
import os
import threading
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from ctypes import POINTER, byref, c_char, c_double, c_int32, c_int64, c_size_t, c_void_p
from dataclasses import dataclass
from typing import Any, Callable, Generic, Optional, TypeVar, Union

from . import _capi as c
from . import _interrupt
from .errors import Interrupted, InvalidArgument, Phi4Error, StateError, error_for
from .library import Library, resolve

T = TypeVar("T")
Message = Union[Mapping[str, str], Sequence[str]]
Prompt = Union[str, bytes, Sequence[int]]


class Channel(enum.IntEnum):
    """Where a piece of generated text belongs (PHI_CHANNEL_*)."""
    ANSWER = c.PHI_CHANNEL_ANSWER
    THINKING = c.PHI_CHANNEL_THINKING


@dataclass(frozen=True)
class ChatResult:
    """A reply with the reasoning models' thinking kept apart (``chat(..., thinking="separate")``)."""
    text: str
    thinking: str

    def __str__(self) -> str:
        return self.text


KERNELS = {"auto": c.PHI_KERNEL_AUTO, "scalar": c.PHI_KERNEL_SCALAR, "avx2": c.PHI_KERNEL_AVX2,
           "avx512": c.PHI_KERNEL_AVX512, "neon": c.PHI_KERNEL_NEON,
           "neon-dotprod": c.PHI_KERNEL_NEON_DOTPROD}
KV_TYPES = {"f32": c.PHI_KV_F32, "f16": c.PHI_KV_F16}
CHAT_FORMATS = {"auto": c.PHI_CHAT_FORMAT_AUTO, "phi4": c.PHI_CHAT_FORMAT_PHI4,
                "phi4-reasoning": c.PHI_CHAT_FORMAT_PHI4_REASONING,
                "phi4-mini": c.PHI_CHAT_FORMAT_PHI4_MINI,
                "phi4-mini-reasoning": c.PHI_CHAT_FORMAT_PHI4_MINI_REASONING}


@dataclass(frozen=True)
class _Option:
    key: int
    kind: type  # int, float or bool
    names: Optional[Mapping[str, int]] = None  # for options whose values have names


# Every PHI_OPT_* under its Python name. See include/phi4.h for each one's meaning.
OPTIONS: dict[str, _Option] = {
    "n_threads": _Option(c.PHI_OPT_N_THREADS, int),
    "n_ctx": _Option(c.PHI_OPT_N_CTX, int),
    "n_batch": _Option(c.PHI_OPT_N_BATCH, int),
    "use_mmap": _Option(c.PHI_OPT_USE_MMAP, bool),
    "logits_all": _Option(c.PHI_OPT_LOGITS_ALL, bool),
    "kernel": _Option(c.PHI_OPT_KERNEL, int, KERNELS),
    "log_level": _Option(c.PHI_OPT_LOG_LEVEL, int),
    "kv_type": _Option(c.PHI_OPT_KV_TYPE, int, KV_TYPES),
    "seed": _Option(c.PHI_OPT_SEED, int),
    "temperature": _Option(c.PHI_OPT_TEMPERATURE, float),
    "top_k": _Option(c.PHI_OPT_TOP_K, int),
    "top_p": _Option(c.PHI_OPT_TOP_P, float),
    "min_p": _Option(c.PHI_OPT_MIN_P, float),
    "repeat_penalty": _Option(c.PHI_OPT_REPEAT_PENALTY, float),
    "repeat_last_n": _Option(c.PHI_OPT_REPEAT_LAST_N, int),
    "presence_penalty": _Option(c.PHI_OPT_PRESENCE_PENALTY, float),
    "frequency_penalty": _Option(c.PHI_OPT_FREQUENCY_PENALTY, float),
    "max_tokens": _Option(c.PHI_OPT_MAX_TOKENS, int),
    "chat_format": _Option(c.PHI_OPT_CHAT_FORMAT, int, CHAT_FORMATS),
    "split_thinking": _Option(c.PHI_OPT_SPLIT_THINKING, bool),
}
# The options a generation call may override for its own duration.
SAMPLING_OPTIONS = ("max_tokens", "temperature", "top_k", "top_p", "min_p", "repeat_penalty",
                    "repeat_last_n", "presence_penalty", "frequency_penalty", "seed")

_INFO_INT = {
    "n_params": c.PHI_INFO_N_PARAMS, "n_vocab": c.PHI_INFO_N_VOCAB,
    "n_ctx_train": c.PHI_INFO_N_CTX_TRAIN, "n_ctx": c.PHI_INFO_N_CTX,
    "n_embd": c.PHI_INFO_N_EMBD, "n_layer": c.PHI_INFO_N_LAYER, "n_head": c.PHI_INFO_N_HEAD,
    "n_head_kv": c.PHI_INFO_N_HEAD_KV, "head_dim": c.PHI_INFO_HEAD_DIM,
    "n_ff": c.PHI_INFO_N_FF, "n_rot": c.PHI_INFO_N_ROT, "token_bos": c.PHI_INFO_TOKEN_BOS,
    "token_eos": c.PHI_INFO_TOKEN_EOS, "token_eot": c.PHI_INFO_TOKEN_EOT,
    "token_pad": c.PHI_INFO_TOKEN_PAD, "file_version": c.PHI_INFO_FILE_VERSION,
    "weight_bytes": c.PHI_INFO_WEIGHT_BYTES,
}
_INFO_STR = {
    "arch": c.PHI_INFO_ARCH_NAME, "model_name": c.PHI_INFO_MODEL_NAME,
    "kernel": c.PHI_INFO_KERNEL_NAME, "chat_template": c.PHI_INFO_CHAT_TEMPLATE,
}


def _name_of(names: Mapping[str, int], value: int) -> Union[str, int]:
    for name, v in names.items():
        if v == value:
            return name
    return value


def _c_string(text: str, what: str) -> bytes:
    if not isinstance(text, str):
        raise TypeError(f"{what} must be a str, not {type(text).__name__}")
    if "\0" in text:
        raise InvalidArgument(c.PHI_E_INVALID_ARG, f"{what} contains a NUL character")
    return text.encode("utf-8")


def _integer(value: Any, bits: int, what: str) -> int:
    """value as a signed integer of `bits` bits: ctypes would silently wrap a larger one."""
    try:
        v = operator.index(value)
    except TypeError:
        raise TypeError(f"{what} must be an integer, not {type(value).__name__}") from None
    if not -(1 << (bits - 1)) <= v < 1 << (bits - 1):
        raise InvalidArgument(c.PHI_E_INVALID_ARG, f"{what} {v} does not fit in {bits} bits")
    return v


def _token_array(tokens: Iterable[int]) -> tuple["ctypes.Array[c_int32]", int]:
    """Token ids as a C array, and their number."""
    try:
        ids = array.array("i", tokens)  # C int: the same 32 bits as int32_t where libphi4 runs
    except OverflowError:
        raise InvalidArgument(c.PHI_E_INVALID_ARG, "a token id does not fit in 32 bits") from None
    except TypeError:
        raise TypeError("token ids must be integers") from None
    if not ids:
        return (c_int32 * 1)(), 0
    return (c_int32 * len(ids)).from_buffer(ids), len(ids)


def _messages(messages: Iterable[Message]) -> tuple["ctypes.Array[c.ChatMessage]", int]:
    items = list(messages)
    out = (c.ChatMessage * max(len(items), 1))()
    for i, m in enumerate(items):
        if isinstance(m, Mapping):
            try:
                role, content = m["role"], m["content"]
            except KeyError as e:
                raise TypeError(f"message {i} has no {e.args[0]!r}") from None
        elif isinstance(m, Sequence) and not isinstance(m, (str, bytes)) and len(m) == 2:
            role, content = m
        else:
            raise TypeError(f"message {i} must be a {{'role', 'content'}} mapping or a "
                            f"(role, content) pair, not {type(m).__name__}")
        # ctypes keeps the bytes alive as long as the array.
        out[i].role = _c_string(role, f"message {i}'s role")
        out[i].content = _c_string(content, f"message {i}'s content")
    return out, len(items)


def _tools(tools: Any) -> Optional[bytes]:
    if tools is None:
        return None
    text = tools if isinstance(tools, str) else json.dumps(tools, ensure_ascii=False)
    return _c_string(text, "tools")


def _chat_flags(add_assistant: bool, default_system: bool) -> int:
    return ((c.PHI_CHAT_ADD_ASSISTANT if add_assistant else 0) |
            (0 if default_system else c.PHI_CHAT_NO_DEFAULT_SYSTEM))


class _Turn:
    """One generation: the option values it replaced, to restore at its end."""
    __slots__ = ("saved",)

    def __init__(self) -> None:
        self.saved: dict[str, Any] = {}


class Stream(Generic[T]):
    """The pieces of a generation, pulled from the library one at a time.

    Iterate it; ``close()`` (or leaving a ``with`` block, or exhausting it)
    ends the generation and restores the options the call overrode. A stream
    also ends when a later call on its model starts another generation or
    changes the sequence; iterating it then raises StateError.
    """

    def __init__(self, model: "Model", turn: _Turn, step: Callable[[int], Any]) -> None:
        self._model: Optional[Model] = model
        self._turn = turn
        self._step = step

    def __iter__(self) -> "Stream[T]":
        return self

    def __next__(self) -> T:
        model = self._model
        if model is None:
            raise StopIteration
        try:
            item = model._pull(self._turn, self._step)
        except BaseException:
            self.close()
            raise
        if item is _DONE:
            self.close()
            raise StopIteration
        return item

    def close(self) -> None:
        """End the generation (idempotent)."""
        model, self._model = self._model, None
        if model is not None:
            model._finish_turn(self._turn)

    def __enter__(self) -> "Stream[T]":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass


_DONE = object()  # a step's result when generation has ended
_SKIP = object()  # a step's result when the piece is not for the caller (dropped thinking)


def _free_ctx(lib: Library, ptr: int, keep: list) -> None:
    """The one place a context is freed (through weakref.finalize, so at most once).
    keep holds the callbacks the context (and its forks) may call until then."""
    lib.dll.phi_ctx_free(ptr)


class Model:
    """A model loaded by libphi4, with its own sequence, sampler and threads.

    ``Model(path, ...)`` loads a GGUF file. The keyword arguments set the
    load-time options (``n_ctx``: 0 or None = min(trained, 4096); ``n_batch``;
    ``use_mmap``; ``kernel``: "auto", "scalar", "avx2", "avx512", ...;
    ``kv_type``: "f16" (default) or "f32"), the
    thread count, the chat format ("auto", "phi4", "phi4-reasoning",
    "phi4-mini", "phi4-mini-reasoning"), and any other option of
    ``OPTIONS`` (e.g. ``temperature=0.2, seed=1``) as the model's defaults.
    ``log`` receives the library's messages as ``log(level, text)``;
    ``progress(fraction)`` is called while loading and may return True to
    abort (it also makes the load fault the weights in, see phi4.h);
    ``library`` picks the libphi4 to use (a path or a :class:`Library`).

    Use it as a context manager or call :meth:`close`; after that, every
    method raises StateError.

    Threads: a model is used by one thread at a time (a call made while
    another thread is inside one raises StateError). For another thread,
    :meth:`fork` a model: forks share the weights, not the sequence. Only
    :meth:`interrupt` may be called from any thread at any time.
    """

    def __init__(self, path: Union[str, "os.PathLike[str]", bytes], *,
                 n_ctx: Optional[int] = None, n_threads: Optional[int] = None,
                 n_batch: Optional[int] = None, use_mmap: bool = True,
                 kernel: Union[str, int, None] = None, chat_format: Union[str, int, None] = None,
                 log: Optional[Callable[[int, str], None]] = None,
                 log_level: Optional[int] = None,
                 progress: Optional[Callable[[float], Optional[bool]]] = None,
                 library: Union[Library, str, "os.PathLike[str]", None] = None,
                 **options: Any) -> None:
        lib = resolve(library)
        ptr = c_void_p()
        rc = lib.dll.phi_ctx_new(byref(ptr))
        if rc != c.PHI_OK:
            raise error_for(rc, lib.strerror(rc))
        self._adopt(lib, ptr.value, [], os.fsdecode(path))
        try:
            if log is not None:
                self._install_log(log)
            given = dict(n_ctx=n_ctx, n_threads=n_threads, n_batch=n_batch, use_mmap=use_mmap,
                         kernel=kernel, chat_format=chat_format, log_level=log_level)
            for name, value in options.items():
                if name not in OPTIONS or name in given:
                    raise TypeError(f"Model() got an unexpected keyword argument {name!r}")
            self.set_options(**{k: v for k, v in {**given, **options}.items() if v is not None})
            self._load(os.fsencode(path), progress)
        except BaseException:
            self.close()
            raise

    # ---- lifetime ------------------------------------------------------------------

    def _adopt(self, lib: Library, ptr: int, keep: list, path: str,
               info: Optional[dict[str, Any]] = None) -> None:
        self._lib = lib
        self._dll = lib.dll
        self._ctx: Optional[int] = ptr
        self._keep = keep
        self._path = path
        self._info = info
        self._turn: Optional[_Turn] = None
        # interrupt()'s request for the generation in progress: the library forgets
        # a request at the start of its next call, which for a pulled generation may
        # be the next token's.
        self._stop_requested = False
        self._busy = threading.Lock()
        self._free_lock = threading.Lock()  # interrupt() vs close()
        self._finalizer = weakref.finalize(self, _free_ctx, lib, ptr, keep)

    def close(self) -> None:
        """Free the context (idempotent). Forks stay usable; the weights go with the last one."""
        if not self._busy.acquire(blocking=False):
            raise StateError(c.PHI_E_STATE, "the model is in use by another call")
        try:
            with self._free_lock:
                self._ctx = None
                self._turn = None
                self._finalizer()
        finally:
            self._busy.release()

    @property
    def closed(self) -> bool:
        return self._ctx is None

    def __enter__(self) -> "Model":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        if self._ctx is None:
            return f"<phi4.Model {self._path!r} (closed)>"
        info = self._info or {}  # not self.info: repr must work while another thread is busy
        return f"<phi4.Model {self._path!r} n_ctx={info.get('n_ctx')} kernel={info.get('kernel')}>"

    @contextmanager
    def _use(self) -> Iterator[int]:
        """The context, held for one call: StateError if closed or busy."""
        if not self._busy.acquire(blocking=False):
            raise StateError(c.PHI_E_STATE, "the model is in use by another call (a model "
                             "serves one thread at a time; fork() one for another thread)")
        try:
            if self._ctx is None:
                raise StateError(c.PHI_E_STATE, "the model is closed")
            yield self._ctx
        finally:
            self._busy.release()

    def _error(self, ctx: int, rc: int) -> Phi4Error:
        """The exception for a failed call; read before the next call on ctx clears it."""
        return error_for(rc, self._dll.phi_errmsg(ctx).decode("utf-8", "replace")
                         or self._lib.strerror(rc))

    def _check(self, ctx: int, rc: int) -> int:
        if rc < 0:
            raise self._error(ctx, rc)
        return rc

    def _run(self, ctx: int, fn: Callable[[], T]) -> T:
        """A call that may run the model for long: Ctrl-C stops it (see _interrupt)."""
        return _interrupt.call(fn, lambda: self._dll.phi_interrupt(ctx))

    def interrupt(self) -> None:
        """Ask the call running on this model (in another thread) to stop soon, or the
        generation in progress (a stream) to stop at its next piece.

        The call or the stream raises :class:`Interrupted`. Safe from any thread; a
        request made while nothing runs is forgotten when the next generation starts.
        """
        with self._free_lock:
            if self._ctx is not None:
                self._stop_requested = True
                self._dll.phi_interrupt(self._ctx)

    # ---- loading -------------------------------------------------------------------

    def _install_log(self, log: Callable[[int, str], None]) -> None:
        def sink(user: Any, level: int, message: bytes) -> None:
            log(level, message.decode("utf-8", "replace"))

        cb = c.LogCallback(sink)
        self._keep.append(cb)
        with self._use() as ctx:
            self._check(ctx, self._dll.phi_set_log_callback(ctx, cb, None))

    def _load(self, path: bytes, progress: Optional[Callable[[float], Optional[bool]]]) -> None:
        if b"\0" in path:
            raise InvalidArgument(c.PHI_E_INVALID_ARG, "the model path contains a NUL character")
        raised: list[BaseException] = []
        with self._use() as ctx:
            if progress is not None:
                # A Python callback runs here, so Ctrl-C during the load lands in it: it
                # stops the load and is raised once phi_load has returned.
                def report(user: Any, fraction: float) -> int:
                    try:
                        return 1 if progress(fraction) else 0
                    except BaseException as e:
                        raised.append(e)
                        return 1

                cb = c.ProgressCallback(report)
                self._check(ctx, self._dll.phi_set_progress_callback(ctx, cb, None))
            rc = self._dll.phi_load(ctx, path)
            failure = self._error(ctx, rc) if rc < 0 else None
            if progress is not None:
                self._dll.phi_set_progress_callback(ctx, c.ProgressCallback(), None)
            if raised:
                raise raised[0]
            if failure is not None:
                raise failure
            self._info = self._read_info(ctx)

    def _read_info(self, ctx: int) -> dict[str, Any]:
        info: dict[str, Any] = {}
        value = c_int64()
        for name, key in _INFO_INT.items():
            self._check(ctx, self._dll.phi_info_int(ctx, key, byref(value)))
            info[name] = value.value
        self._check(ctx, self._dll.phi_info_int(ctx, c.PHI_INFO_CHAT_FORMAT, byref(value)))
        fmt = _name_of(CHAT_FORMATS, value.value)
        info["chat_format"] = None if fmt == "auto" else fmt
        for name, key in _INFO_STR.items():
            info[name] = self._text_out(
                ctx, lambda buf, cap, n, key=key: self._dll.phi_info_str(ctx, key, buf, cap, n),
                256).decode("utf-8", "replace")
        return info

    # ---- options -------------------------------------------------------------------

    def set_options(self, **options: Any) -> None:
        """Set options (names of ``OPTIONS``) for every later call; they stay set.

        Load-time options (n_ctx, n_batch, use_mmap, kernel) raise StateError once
        the model is loaded.
        """
        with self._use() as ctx:
            for name, value in options.items():
                self._set_option(ctx, name, value)

    def get_option(self, name: str) -> Any:
        """The value in effect (after loading, e.g. the resolved n_ctx); kernel and
        chat_format come back as names."""
        with self._use() as ctx:
            return self._get_option(ctx, name)

    @staticmethod
    def _option(name: str) -> _Option:
        try:
            return OPTIONS[name]
        except KeyError:
            raise InvalidArgument(c.PHI_E_INVALID_ARG, f"unknown option {name!r}; the options "
                                  f"are {', '.join(OPTIONS)}") from None

    def _set_option(self, ctx: int, name: str, value: Any) -> None:
        opt = self._option(name)
        if opt.names is not None and isinstance(value, str):
            if value not in opt.names:
                raise InvalidArgument(c.PHI_E_INVALID_ARG, f"{name} must be one of "
                                      f"{', '.join(opt.names)}, not {value!r}")
            value = opt.names[value]
        if opt.kind is float:
            rc = self._dll.phi_set_float(ctx, opt.key, float(value))
        else:
            rc = self._dll.phi_set_int(ctx, opt.key, _integer(value, 64, name))
        try:
            self._check(ctx, rc)
        except Phi4Error as e:
            raise type(e)(e.code, f"{name}={value!r}: {e.message}") from None

    def _get_option(self, ctx: int, name: str) -> Any:
        opt = self._option(name)
        if opt.kind is float:
            value = c_double()
            self._check(ctx, self._dll.phi_get_float(ctx, opt.key, byref(value)))
            return value.value
        ivalue = c_int64()
        self._check(ctx, self._dll.phi_get_int(ctx, opt.key, byref(ivalue)))
        if opt.kind is bool:
            return bool(ivalue.value)
        return _name_of(opt.names, ivalue.value) if opt.names is not None else ivalue.value

    # ---- facts ---------------------------------------------------------------------

    @property
    def path(self) -> str:
        return self._path

    @property
    def library(self) -> Library:
        return self._lib

    @property
    def info(self) -> dict[str, Any]:
        """Model facts: arch, model_name, kernel, chat_format (the model template's, or
        None), chat_template, n_vocab, n_ctx, n_ctx_train, n_embd, n_layer, n_head,
        n_head_kv, head_dim, n_ff, n_rot, n_params, token_bos/eos/eot/pad (-1 if none),
        file_version, weight_bytes."""
        with self._use():
            return dict(self._info or {})

    @property
    def n_vocab(self) -> int:
        return self.info["n_vocab"]

    @property
    def n_ctx(self) -> int:
        return self.info["n_ctx"]

    # ---- text ----------------------------------------------------------------------

    def _text_out(self, ctx: int, fill: Callable[[Any, int, Any], int], guess: int) -> bytes:
        """Bytes from a two-call function that writes NUL-terminated text."""
        cap = guess
        while True:
            buf = ctypes.create_string_buffer(cap)
            n = c_size_t()
            rc = fill(buf, cap, byref(n))
            if rc == c.PHI_E_BUFFER_TOO_SMALL and n.value + 1 > cap:
                cap = n.value + 1
                continue
            self._check(ctx, rc)
            return ctypes.string_at(buf, n.value)

    def _tokens_out(self, ctx: int, fill: Callable[[Any, int, Any], int], guess: int) -> list[int]:
        """Token ids from a two-call function."""
        cap = guess
        while True:
            buf = (c_int32 * max(cap, 1))()
            n = c_size_t()
            rc = fill(buf, cap, byref(n))
            if rc == c.PHI_E_BUFFER_TOO_SMALL and n.value > cap:
                cap = n.value
                continue
            self._check(ctx, rc)
            return buf[:n.value]

    def _tokenize(self, ctx: int, text: Union[str, bytes], flags: int) -> list[int]:
        if isinstance(text, str):
            data = text.encode("utf-8")
        elif isinstance(text, (bytes, bytearray, memoryview)):
            data = bytes(text)
        else:
            raise TypeError(f"text must be str or bytes, not {type(text).__name__}")
        return self._tokens_out(ctx, lambda buf, cap, n: self._dll.phi_tokenize(
            ctx, data, len(data), flags, buf, cap, n), len(data) + 2)

    def tokenize(self, text: Union[str, bytes], special: bool = False,
                 add_bos: bool = False) -> list[int]:
        """Text (str, or UTF-8 bytes: invalid bytes are encoded one by one) to token ids.

        ``special``: text such as "<|im_end|>" becomes that special token (otherwise it
        is plain text). ``add_bos``: start with the model's BOS token, if it has one.
        """
        flags = ((c.PHI_TOKENIZE_SPECIAL if special else 0) |
                 (c.PHI_TOKENIZE_ADD_BOS if add_bos else 0))
        with self._use() as ctx:
            return self._tokenize(ctx, text, flags)

    def detokenize(self, tokens: Iterable[int], skip_special: bool = False) -> str:
        """Token ids to text. Bytes that do not form a character become U+FFFD;
        ``skip_special`` leaves out control tokens' text."""
        ids, n_ids = _token_array(tokens)
        flags = c.PHI_DETOKENIZE_SKIP_SPECIAL if skip_special else 0
        with self._use() as ctx:
            return self._text_out(ctx, lambda buf, cap, n: self._dll.phi_detokenize(
                ctx, ids, n_ids, flags, buf, cap, n), 16 * n_ids + 16).decode("utf-8")

    def token_piece(self, token: int) -> bytes:
        """The raw bytes a token stands for (maybe part of a UTF-8 character)."""
        token = _integer(token, 32, "token")
        with self._use() as ctx:
            return self._text_out(ctx, lambda buf, cap, n: self._dll.phi_token_piece(
                ctx, token, buf, cap, n), 64)

    # ---- chat ----------------------------------------------------------------------

    def chat_format(self, messages: Iterable[Message], tools: Any = None,
                    add_assistant: bool = True, default_system: bool = True) -> str:
        """A conversation as the model's chat format writes it.

        ``messages``: {"role", "content"} mappings or (role, content) pairs; roles are
        system, user, assistant and (Phi-4-mini formats) tool. ``tools``: tool
        definitions, a JSON string or an object to serialise (Phi-4-mini formats only).
        ``add_assistant``: end with the opening of the assistant's turn.
        ``default_system``: the reasoning formats add their model's system prompt when
        the conversation has none.
        """
        arr, n_msgs = _messages(messages)
        tools_text = _tools(tools)
        flags = _chat_flags(add_assistant, default_system)
        with self._use() as ctx:
            return self._text_out(ctx, lambda buf, cap, n: self._dll.phi_chat_format(
                ctx, arr, n_msgs, tools_text, flags, buf, cap, n), 1024).decode("utf-8")

    def chat_tokenize(self, messages: Iterable[Message], tools: Any = None,
                      add_assistant: bool = True, default_system: bool = True) -> list[int]:
        """The tokens of :meth:`chat_format`'s text: the format's markers are special
        tokens, the messages' content never is."""
        arr, n_msgs = _messages(messages)
        tools_text = _tools(tools)
        flags = _chat_flags(add_assistant, default_system)
        with self._use() as ctx:
            return self._tokens_out(ctx, lambda buf, cap, n: self._dll.phi_chat_tokenize(
                ctx, arr, n_msgs, tools_text, flags, buf, cap, n), 256)

    # ---- generation ----------------------------------------------------------------

    def _start_turn(self, ctx: int, overrides: Mapping[str, Any]) -> _Turn:
        """End the generation in progress, then set this one's options, remembering the
        values they replace (except the seed: setting it restarts the random generator,
        so putting the old value back would restart it again)."""
        self._end_turn(ctx)
        turn = _Turn()
        self._turn = turn
        self._stop_requested = False
        try:
            for name, value in overrides.items():
                if name != "seed":
                    turn.saved[name] = self._get_option(ctx, name)
                self._set_option(ctx, name, value)
        except BaseException:
            self._end_turn(ctx)
            raise
        return turn

    def _end_turn(self, ctx: int) -> None:
        turn, self._turn = self._turn, None
        if turn is None:
            return
        self._dll.phi_generate_end(ctx)
        for name, value in turn.saved.items():
            self._set_option(ctx, name, value)

    def _finish_turn(self, turn: _Turn) -> None:
        """A stream's end. If the model is busy (a stream collected in another thread),
        the next generation restores the options instead."""
        if self._turn is not turn or not self._busy.acquire(blocking=False):
            return
        try:
            if self._ctx is not None and self._turn is turn:
                self._end_turn(self._ctx)
        finally:
            self._busy.release()

    def _pull(self, turn: _Turn, step: Callable[[int], Any]) -> Any:
        with self._use() as ctx:
            if self._turn is not turn:
                raise StateError(c.PHI_E_STATE, "this generation was ended by a later call on "
                                 "the model")
            while True:
                if self._stop_requested:
                    self._stop_requested = False
                    raise Interrupted(c.PHI_E_INTERRUPTED, "interrupted by Model.interrupt()")
                item = step(ctx)
                if item is not _SKIP:
                    return item

    def _text_step(self, keep: Callable[[int, str], Any]) -> Callable[[int], Any]:
        """A step pulling one piece of text; keep(channel, text) is what the stream yields
        (or _SKIP)."""
        channel = c_int32()
        text = POINTER(c_char)()
        length = c_size_t()

        def pull(ctx: int) -> tuple[int, bytes]:
            rc = self._dll.phi_generate_next_text(ctx, byref(channel), byref(text), byref(length))
            return rc, ctypes.string_at(text, length.value) if rc == c.PHI_OK else b""

        def step(ctx: int) -> Any:
            rc, data = self._run(ctx, lambda: pull(ctx))
            if rc == c.PHI_DONE:
                return _DONE
            self._check(ctx, rc)
            return keep(channel.value, data.decode("utf-8"))

        return step

    def _begin(self, overrides: Mapping[str, Any], begin: Callable[[int], int]) -> _Turn:
        with self._use() as ctx:
            turn = self._start_turn(ctx, overrides)
            try:
                self._check(ctx, self._run(ctx, lambda: begin(ctx)))
            except BaseException:
                self._end_turn(ctx)
                raise
            return turn

    def _prompt_begin(self, prompt: Prompt, reset: bool) -> Callable[[int], int]:
        if isinstance(prompt, (str, bytes)):
            with self._use() as ctx:
                prompt = self._tokenize(ctx, prompt, 0)
        ids, n_ids = _token_array(prompt)

        def begin(ctx: int) -> int:
            if reset:
                self._check(ctx, self._dll.phi_kv_clear(ctx))
            return self._dll.phi_generate_begin(ctx, ids, n_ids)

        return begin

    def generate(self, prompt: Prompt, *, max_tokens: Optional[int] = None,
                 temperature: Optional[float] = None, top_k: Optional[int] = None,
                 top_p: Optional[float] = None, min_p: Optional[float] = None,
                 repeat_penalty: Optional[float] = None, repeat_last_n: Optional[int] = None,
                 presence_penalty: Optional[float] = None,
                 frequency_penalty: Optional[float] = None, seed: Optional[int] = None,
                 stream: bool = False, reset: bool = True) -> Union[str, Stream[str]]:
        """Continue a prompt (text, or token ids) and return the generated text, exactly as
        the model writes it (a reasoning model's <think> tags included).

        Text is tokenized as :meth:`tokenize` does by default (no special tokens, no BOS);
        pass token ids for anything else. ``reset`` (default): the sequence starts empty;
        ``reset=False`` appends the prompt to the current sequence (it may then be empty,
        to continue where the sequence ends).

        Generation stops at an end-of-generation token, after ``max_tokens`` tokens (None:
        the model's setting, by default 0 = no limit) or when the context is full.
        Sampling arguments left as None keep the model's settings (see
        :meth:`set_options`); the ones given apply to this call only and are restored
        afterwards, except ``seed``, which restarts the random generator and stays set.

        ``stream=True`` evaluates the prompt now and returns a :class:`Stream` of text
        pieces (whole UTF-8 characters). Ctrl-C stops either form: KeyboardInterrupt
        propagates and the model stays usable.
        """
        sampling = dict(max_tokens=max_tokens, temperature=temperature, top_k=top_k,
                        top_p=top_p, min_p=min_p, repeat_penalty=repeat_penalty,
                        repeat_last_n=repeat_last_n, presence_penalty=presence_penalty,
                        frequency_penalty=frequency_penalty, seed=seed)
        overrides = {k: v for k, v in sampling.items() if v is not None}
        overrides["split_thinking"] = False
        turn = self._begin(overrides, self._prompt_begin(prompt, reset))
        pieces: Stream[str] = Stream(self, turn, self._text_step(lambda channel, text: text))
        return pieces if stream else "".join(pieces)

    def generate_tokens(self, prompt: Sequence[int], *, reset: bool = True,
                        **sampling: Any) -> Stream[int]:
        """Like ``generate(prompt, stream=True)`` with token ids out: a :class:`Stream` of the
        tokens generated and evaluated (a final end-of-generation token is not included:
        it is not evaluated)."""
        overrides = self._sampling(sampling, "generate_tokens")
        turn = self._begin(overrides, self._prompt_begin(prompt, reset))
        token = c_int32()

        def step(ctx: int) -> Any:
            rc = self._run(ctx, lambda: self._dll.phi_generate_next(ctx, byref(token)))
            if rc == c.PHI_DONE:
                return _DONE
            self._check(ctx, rc)
            return token.value

        return Stream(self, turn, step)

    @staticmethod
    def _sampling(sampling: Mapping[str, Any], method: str) -> dict[str, Any]:
        for name in sampling:
            if name not in SAMPLING_OPTIONS:
                raise TypeError(f"{method}() got an unexpected keyword argument {name!r}")
        return {k: v for k, v in sampling.items() if v is not None}

    def chat(self, messages: Iterable[Message], *, tools: Any = None, stream: bool = False,
             thinking: Union[bool, str] = False, default_system: bool = True,
             **sampling: Any) -> Union[str, ChatResult, Stream[str],
                                       Stream[tuple[Channel, str]]]:
        """The assistant's reply to a conversation (see :meth:`chat_format` for
        ``messages``, ``tools`` and ``default_system``).

        The sequence becomes the conversation; what it already holds of it is not
        evaluated again, so resending a growing conversation each turn costs only the
        new messages. Sampling keyword arguments (``temperature``, ``max_tokens``,
        ``seed``, ... as in :meth:`generate`) apply to this call only.

        ``thinking``: what to do with a reasoning model's <think>...</think> text:
          - False (default): leave it out; returns the answer text (stream: str pieces);
          - "separate": returns a :class:`ChatResult` with ``.text`` and ``.thinking``
            (stream: ``(Channel, str)`` pairs);
          - "inline": keep it in the text, tags included, as the model wrote it.
        """
        overrides = self._sampling(sampling, "chat")
        keep: Callable[[int, str], Any]
        if thinking is False:
            keep = lambda channel, text: text if channel == c.PHI_CHANNEL_ANSWER else _SKIP
        elif thinking == "separate":
            keep = lambda channel, text: (Channel(channel), text)
        elif thinking == "inline":
            keep = lambda channel, text: text
        else:
            raise ValueError(f'thinking must be False, "separate" or "inline", not {thinking!r}')
        overrides["split_thinking"] = thinking != "inline"
        arr, n_msgs = _messages(messages)
        tools_text = _tools(tools)
        flags = _chat_flags(True, default_system)
        turn = self._begin(overrides, lambda ctx: self._dll.phi_generate_begin_chat(
            ctx, arr, n_msgs, tools_text, flags))
        pieces: Stream[Any] = Stream(self, turn, self._text_step(keep))
        if stream:
            return pieces
        if thinking != "separate":
            return "".join(pieces)
        parts: dict[Channel, list[str]] = {Channel.ANSWER: [], Channel.THINKING: []}
        for channel, text in pieces:
            parts[channel].append(text)
        return ChatResult("".join(parts[Channel.ANSWER]), "".join(parts[Channel.THINKING]))

    # ---- low level -----------------------------------------------------------------

    def eval(self, tokens: Sequence[int]) -> None:
        """Append tokens to the sequence and run the model over them (all or nothing).
        Ends a generation in progress."""
        ids, n_ids = _token_array(tokens)
        with self._use() as ctx:
            self._end_turn(ctx)
            self._check(ctx, self._run(ctx, lambda: self._dll.phi_eval(ctx, ids, n_ids)))

    def logits(self, index: Optional[int] = None) -> array.array:
        """A copy of the next-token logits after the last evaluated token (n_vocab floats,
        an ``array('f')``: index it, or wrap it with ``memoryview``/``numpy.frombuffer``).

        ``index``: the logits after token ``index`` of the last :meth:`eval`, which must
        have run with the ``logits_all`` option set.
        """
        if index is not None and _integer(index, 64, "logits index") < 0:
            raise InvalidArgument(c.PHI_E_INVALID_ARG, f"logits index {index} is negative")
        with self._use() as ctx:
            if index is None:
                ptr = self._dll.phi_logits(ctx)
            else:
                ptr = self._dll.phi_logits_at(ctx, index)
            if not ptr:
                self._check(ctx, self._dll.phi_errcode(ctx))
            out = array.array("f")
            out.frombytes(ctypes.string_at(ptr, 4 * self._info["n_vocab"]))
            return out

    def sample(self) -> int:
        """The next token from :meth:`logits`, with the sampling options (not evaluated)."""
        token = c_int32()
        with self._use() as ctx:
            self._check(ctx, self._dll.phi_sample(ctx, byref(token)))
            return token.value

    def is_eog(self, token: int) -> bool:
        """Whether a token ends generation (end of text or end of turn)."""
        token = _integer(token, 32, "token")
        with self._use() as ctx:
            return bool(self._dll.phi_token_is_eog(ctx, token))

    @property
    def kv_pos(self) -> int:
        """Number of tokens in the sequence."""
        with self._use() as ctx:
            return self._dll.phi_kv_pos(ctx)

    def kv_tokens(self) -> list[int]:
        """The tokens of the sequence."""
        with self._use() as ctx:
            return self._tokens_out(ctx, lambda buf, cap, n: self._dll.phi_kv_tokens(
                ctx, buf, cap, n), self._dll.phi_kv_pos(ctx) + 1)

    def kv_truncate(self, n: int) -> None:
        """Keep the first n tokens of the sequence. Ends a generation in progress."""
        n = _integer(n, 32, "kv_truncate length")
        with self._use() as ctx:
            self._end_turn(ctx)
            self._check(ctx, self._dll.phi_kv_truncate(ctx, n))

    def kv_clear(self) -> None:
        """Empty the sequence. Ends a generation in progress."""
        with self._use() as ctx:
            self._end_turn(ctx)
            self._check(ctx, self._dll.phi_kv_clear(ctx))

    def fork(self, copy_state: bool = False) -> "Model":
        """Another model on the same weights (shared, not copied) with its own sequence,
        sampler and threads, and this one's options (those in effect outside a generation
        call). ``copy_state``: start from a copy of this sequence and random generator.
        Close it on its own; either may be closed first."""
        out = c_void_p()
        with self._use() as ctx:
            flags = c.PHI_FORK_COPY_STATE if copy_state else 0
            self._check(ctx, self._dll.phi_ctx_fork(ctx, flags, byref(out)))
            child = Model.__new__(Model)
            child._adopt(self._lib, out.value, self._keep, self._path, dict(self._info or {}))
            if self._turn is not None:
                for name, value in self._turn.saved.items():
                    child._set_option(out.value, name, value)
            return child
