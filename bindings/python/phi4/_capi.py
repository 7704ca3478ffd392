"""The C API of include/phi4.h as ctypes sees it: constants and prototypes.

The values mirror the header's macros (the tests compare them with the
header); the header promises they are never renumbered.
"""
from __future__ import annotations

import ctypes
from ctypes import (CFUNCTYPE, POINTER, Structure, c_char, c_char_p, c_double, c_int, c_int32,
                    c_int64, c_size_t, c_uint32, c_void_p)

# The ABI this binding was written for (PHI4_ABI_VERSION, the SONAME's number).
ABI_VERSION = 1

PHI_OK = 0
PHI_DONE = 1
PHI_E_INVALID_ARG = -1
PHI_E_NOMEM = -2
PHI_E_IO = -3
PHI_E_FORMAT = -4
PHI_E_UNSUPPORTED = -5
PHI_E_STATE = -6
PHI_E_BUFFER_TOO_SMALL = -7
PHI_E_CONTEXT_FULL = -8
PHI_E_INTERRUPTED = -9
PHI_E_VERSION = -10
PHI_E_INTERNAL = -99

PHI_LOG_ERROR = 1
PHI_LOG_WARN = 2
PHI_LOG_INFO = 3
PHI_LOG_DEBUG = 4

PHI_OPT_N_THREADS = 1
PHI_OPT_N_CTX = 2
PHI_OPT_N_BATCH = 3
PHI_OPT_USE_MMAP = 4
PHI_OPT_LOGITS_ALL = 5
PHI_OPT_KERNEL = 6
PHI_OPT_LOG_LEVEL = 7
PHI_OPT_KV_TYPE = 8
PHI_OPT_SEED = 10
PHI_OPT_TEMPERATURE = 11
PHI_OPT_TOP_K = 12
PHI_OPT_TOP_P = 13
PHI_OPT_MIN_P = 14
PHI_OPT_REPEAT_PENALTY = 15
PHI_OPT_REPEAT_LAST_N = 16
PHI_OPT_PRESENCE_PENALTY = 17
PHI_OPT_FREQUENCY_PENALTY = 18
PHI_OPT_MAX_TOKENS = 19
PHI_OPT_CHAT_FORMAT = 20
PHI_OPT_SPLIT_THINKING = 21

PHI_KV_F32 = 0
PHI_KV_F16 = 1

PHI_KERNEL_AUTO = 0
PHI_KERNEL_SCALAR = 1
PHI_KERNEL_AVX2 = 2
PHI_KERNEL_AVX512 = 3
PHI_KERNEL_NEON = 4
PHI_KERNEL_NEON_DOTPROD = 5

PHI_INFO_ARCH = 1
PHI_INFO_N_PARAMS = 2
PHI_INFO_N_VOCAB = 3
PHI_INFO_N_CTX_TRAIN = 4
PHI_INFO_N_CTX = 5
PHI_INFO_N_EMBD = 6
PHI_INFO_N_LAYER = 7
PHI_INFO_N_HEAD = 8
PHI_INFO_N_HEAD_KV = 9
PHI_INFO_HEAD_DIM = 10
PHI_INFO_N_FF = 11
PHI_INFO_N_ROT = 12
PHI_INFO_TOKEN_BOS = 13
PHI_INFO_TOKEN_EOS = 14
PHI_INFO_TOKEN_EOT = 15
PHI_INFO_TOKEN_PAD = 16
PHI_INFO_FILE_VERSION = 17
PHI_INFO_WEIGHT_BYTES = 18
PHI_INFO_CHAT_FORMAT = 19
PHI_INFO_ARCH_NAME = 100
PHI_INFO_MODEL_NAME = 101
PHI_INFO_KERNEL_NAME = 102
PHI_INFO_CHAT_TEMPLATE = 103

PHI_ARCH_PHI3 = 1

PHI_CHAT_FORMAT_AUTO = 0
PHI_CHAT_FORMAT_PHI4 = 1
PHI_CHAT_FORMAT_PHI4_REASONING = 2
PHI_CHAT_FORMAT_PHI4_MINI = 3
PHI_CHAT_FORMAT_PHI4_MINI_REASONING = 4

PHI_CHAT_ADD_ASSISTANT = 1
PHI_CHAT_NO_DEFAULT_SYSTEM = 2

PHI_TOKENIZE_SPECIAL = 1
PHI_TOKENIZE_ADD_BOS = 2

PHI_DETOKENIZE_SKIP_SPECIAL = 1

PHI_CHANNEL_ANSWER = 0
PHI_CHANNEL_THINKING = 1

PHI_FORK_COPY_STATE = 1


class ChatMessage(Structure):
    """phi_chat_message (frozen layout)."""
    _fields_ = [("role", c_char_p), ("content", c_char_p)]


ctx_p = c_void_p
token_p = POINTER(c_int32)
size_p = POINTER(c_size_t)
LogCallback = CFUNCTYPE(None, c_void_p, c_int32, c_char_p)
ProgressCallback = CFUNCTYPE(c_int, c_void_p, c_double)

# name: (restype, argtypes). phi_ctx_new_with_allocator, phi_generate and
# phi_generate_chat are left out on purpose: Python has no use for custom
# allocators, and generation runs on the pull calls so no Python callback
# runs inside a generation.
PROTOTYPES = {
    "phi_version_number": (c_int32, []),
    "phi_version_string": (c_char_p, []),
    "phi_abi_version": (c_int32, []),
    "phi_build_info": (c_char_p, []),
    "phi_strerror": (c_char_p, [c_int32]),
    "phi_errmsg": (c_char_p, [ctx_p]),
    "phi_errcode": (c_int32, [ctx_p]),
    "phi_ctx_new": (c_int32, [POINTER(ctx_p)]),
    "phi_ctx_free": (None, [ctx_p]),
    "phi_load": (c_int32, [ctx_p, c_char_p]),
    "phi_ctx_fork": (c_int32, [ctx_p, c_uint32, POINTER(ctx_p)]),
    "phi_set_log_callback": (c_int32, [ctx_p, LogCallback, c_void_p]),
    "phi_set_progress_callback": (c_int32, [ctx_p, ProgressCallback, c_void_p]),
    "phi_set_int": (c_int32, [ctx_p, c_int32, c_int64]),
    "phi_set_float": (c_int32, [ctx_p, c_int32, c_double]),
    "phi_get_int": (c_int32, [ctx_p, c_int32, POINTER(c_int64)]),
    "phi_get_float": (c_int32, [ctx_p, c_int32, POINTER(c_double)]),
    "phi_info_int": (c_int32, [ctx_p, c_int32, POINTER(c_int64)]),
    "phi_info_str": (c_int32, [ctx_p, c_int32, c_char_p, c_size_t, size_p]),
    "phi_eval": (c_int32, [ctx_p, token_p, c_size_t]),
    "phi_logits": (c_void_p, [ctx_p]),
    "phi_logits_at": (c_void_p, [ctx_p, c_size_t]),
    "phi_sample": (c_int32, [ctx_p, token_p]),
    "phi_token_is_eog": (c_int, [ctx_p, c_int32]),
    "phi_generate_begin": (c_int32, [ctx_p, token_p, c_size_t]),
    "phi_generate_next": (c_int32, [ctx_p, token_p]),
    "phi_generate_end": (c_int32, [ctx_p]),
    "phi_tokenize": (c_int32, [ctx_p, c_char_p, c_size_t, c_uint32, token_p, c_size_t, size_p]),
    "phi_detokenize": (c_int32, [ctx_p, token_p, c_size_t, c_uint32, c_char_p, c_size_t, size_p]),
    "phi_token_piece": (c_int32, [ctx_p, c_int32, c_char_p, c_size_t, size_p]),
    "phi_chat_format": (c_int32, [ctx_p, POINTER(ChatMessage), c_size_t, c_char_p, c_uint32,
                                  c_char_p, c_size_t, size_p]),
    "phi_chat_tokenize": (c_int32, [ctx_p, POINTER(ChatMessage), c_size_t, c_char_p, c_uint32,
                                    token_p, c_size_t, size_p]),
    "phi_generate_begin_chat": (c_int32, [ctx_p, POINTER(ChatMessage), c_size_t, c_char_p,
                                          c_uint32]),
    "phi_generate_next_text": (c_int32, [ctx_p, POINTER(c_int32), POINTER(POINTER(c_char)),
                                         size_p]),
    "phi_kv_pos": (c_int32, [ctx_p]),
    "phi_kv_truncate": (c_int32, [ctx_p, c_int32]),
    "phi_kv_tokens": (c_int32, [ctx_p, token_p, c_size_t, size_p]),
    "phi_kv_clear": (c_int32, [ctx_p]),
    "phi_interrupt": (None, [ctx_p]),
}


def declare(dll: ctypes.CDLL) -> None:
    """Give every bound function of dll its prototype (AttributeError if one is missing)."""
    for name, (restype, argtypes) in PROTOTYPES.items():
        fn = getattr(dll, name)
        fn.restype = restype
        fn.argtypes = argtypes
