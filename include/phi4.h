/*
 * phi4.h — the public interface of libphi4, an embeddable runtime for the
 * Microsoft Phi-4 family of language models.
 *
 * Conventions (they hold for every declaration below):
 *   - Every public name starts with phi_ / PHI_. Nothing else is exported.
 *   - The only handle is the opaque phi_ctx. No struct crosses the ABI by
 *     value; the one struct passed by pointer (phi_allocator) starts with its
 *     own size and only ever grows at the end.
 *   - Functions that can fail return an int32_t status: PHI_OK (0), a positive
 *     non-error state (PHI_DONE), or a negative PHI_E_* code. After a failure,
 *     phi_errmsg(ctx) holds a sentence that names the problem.
 *   - Enum-like keys and codes are plain macros with fixed values. A value is
 *     never renumbered or reused; retired values stay reserved.
 *   - Lengths and capacities are size_t; token ids are int32_t; booleans are int.
 *   - Variable-size outputs use the two-call convention: pass a buffer and its
 *     capacity; on PHI_E_BUFFER_TOO_SMALL, *n_out holds the size needed.
 *     A NULL buffer with capacity 0 is a size query.
 *   - The library never aborts, exits or prints. Messages go to a log callback
 *     the caller installs (phi_set_log_callback); without one it is silent.
 *
 * Threading: a phi_ctx is used by one thread at a time and may move between
 * threads. Different contexts are independent, including forks that share
 * weights. The only call that may be made concurrently with another call on
 * the same context is phi_interrupt(). Functions taking no context are
 * thread-safe.
 *
 * Compiles as C99 and as C++.
 */
#ifndef PHI4_H
#define PHI4_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Version                                                                   */
/* ------------------------------------------------------------------------ */

#define PHI4_VERSION_MAJOR 0
#define PHI4_VERSION_MINOR 1
#define PHI4_VERSION_PATCH 0
#define PHI4_VERSION_NUMBER \
    (PHI4_VERSION_MAJOR * 10000 + PHI4_VERSION_MINOR * 100 + PHI4_VERSION_PATCH)
#define PHI4_VERSION_STRING "0.1.0"

/* The ABI this header describes; it is the SONAME's number (libphi4.so.1).
 * It changes only when a binary built against an older header could break. */
#define PHI4_ABI_VERSION 1

#if defined(_WIN32) && defined(PHI_BUILDING_DLL)
#  define PHI_API __declspec(dllexport)
#elif defined(_WIN32) && defined(PHI_USING_DLL)
#  define PHI_API __declspec(dllimport)
#elif defined(__GNUC__)
#  define PHI_API __attribute__((visibility("default")))
#else
#  define PHI_API
#endif

/* ------------------------------------------------------------------------ */
/* Types                                                                     */
/* ------------------------------------------------------------------------ */

typedef struct phi_ctx phi_ctx;
typedef int32_t phi_token;

/* Status codes. */
#define PHI_OK                   0
#define PHI_DONE                 1   /* generation ended (end token, limit) */
#define PHI_E_INVALID_ARG      (-1)  /* NULL pointer, bad key, out-of-range value */
#define PHI_E_NOMEM            (-2)  /* the allocator returned NULL */
#define PHI_E_IO               (-3)  /* a file could not be opened or read */
#define PHI_E_FORMAT           (-4)  /* a model file is malformed */
#define PHI_E_UNSUPPORTED      (-5)  /* well-formed, but not something we run */
#define PHI_E_STATE            (-6)  /* call made in the wrong state (e.g. before phi_load) */
#define PHI_E_BUFFER_TOO_SMALL (-7)  /* *n_out holds the size needed */
#define PHI_E_CONTEXT_FULL     (-8)  /* the tokens would not fit in the context */
#define PHI_E_INTERRUPTED      (-9)  /* phi_interrupt() or a callback stopped the call */
#define PHI_E_VERSION         (-10)  /* a file or snapshot of an unknown version */
#define PHI_E_INTERNAL        (-99)  /* a bug in libphi4: please report it */

/* Log levels, for phi_log_cb and PHI_OPT_LOG_LEVEL. */
#define PHI_LOG_ERROR 1
#define PHI_LOG_WARN  2
#define PHI_LOG_INFO  3
#define PHI_LOG_DEBUG 4

/* Option keys for phi_set_int / phi_set_float / phi_get_int / phi_get_float.
 * "load" options take effect at phi_load (setting them later is PHI_E_STATE);
 * the others may change at any time. Integer options are read with
 * phi_get_int, float options with phi_get_float. Keys >= 1000 are
 * experimental and carry no ABI promise. */
#define PHI_OPT_N_THREADS          1  /* int; 0 = one per online CPU. Default 0. */
#define PHI_OPT_N_CTX              2  /* int, load; tokens of context. 0 = min(trained, 4096). */
#define PHI_OPT_N_BATCH            3  /* int, load; tokens per forward chunk. Default 256. */
#define PHI_OPT_USE_MMAP           4  /* int, load; 1 = map weights read-only (default), 0 = read into memory. */
#define PHI_OPT_LOGITS_ALL         5  /* int; 1 = keep the logits of every token of the last phi_eval. Default 0. */
#define PHI_OPT_KERNEL             6  /* int, load; one of PHI_KERNEL_*. Default PHI_KERNEL_AUTO. */
#define PHI_OPT_LOG_LEVEL          7  /* int; highest PHI_LOG_* passed to the log callback. Default PHI_LOG_WARN. */
#define PHI_OPT_KV_TYPE            8  /* int, load; PHI_KV_F16 (default) or PHI_KV_F32 */
#define PHI_OPT_SEED              10  /* int; -1 = seed from the clock. Default -1. */
#define PHI_OPT_TEMPERATURE       11  /* float; <= 0 means greedy. Default 0.8. */
#define PHI_OPT_TOP_K             12  /* int; 0 = off. Default 40. */
#define PHI_OPT_TOP_P             13  /* float in (0,1]; 1 = off. Default 0.95. */
#define PHI_OPT_MIN_P             14  /* float in [0,1); 0 = off. Default 0.05. */
#define PHI_OPT_REPEAT_PENALTY    15  /* float >= 0; 1 = off. Default 1.0. */
#define PHI_OPT_REPEAT_LAST_N     16  /* int; tokens the penalties look back on; -1 = whole context. Default 64. */
#define PHI_OPT_PRESENCE_PENALTY  17  /* float; 0 = off. Default 0. */
#define PHI_OPT_FREQUENCY_PENALTY 18  /* float; 0 = off. Default 0. */
#define PHI_OPT_MAX_TOKENS        19  /* int; tokens phi_generate_* may produce; 0 = until the context is full. Default 0. */
#define PHI_OPT_CHAT_FORMAT       20  /* int; one of PHI_CHAT_FORMAT_*. Default PHI_CHAT_FORMAT_AUTO. */
#define PHI_OPT_SPLIT_THINKING    21  /* int; 1 = text generation sends <think>...</think> to PHI_CHANNEL_THINKING. Default 1. */

/* Values of PHI_OPT_KERNEL. A level the CPU lacks is refused at phi_load.
 * The environment variable PHI4_KERNEL (scalar, avx2, avx512, neon,
 * neon-dotprod) overrides PHI_KERNEL_AUTO, so tests can force a level. */
#define PHI_KERNEL_AUTO         0
#define PHI_KERNEL_SCALAR       1
#define PHI_KERNEL_AVX2         2
#define PHI_KERNEL_AVX512       3
#define PHI_KERNEL_NEON         4
#define PHI_KERNEL_NEON_DOTPROD 5

/* Values of PHI_OPT_KV_TYPE: what the KV cache stores. F16 halves the
 * cache's memory and attention's memory traffic: keys (after RoPE) and
 * values are rounded to half precision as they enter the cache. F32 keeps
 * them as computed, at twice the memory. */
#define PHI_KV_F32 0
#define PHI_KV_F16 1

/* Model facts, for phi_info_int (integers) and phi_info_str (text). */
#define PHI_INFO_ARCH            1  /* int: one of PHI_ARCH_* */
#define PHI_INFO_N_PARAMS        2  /* int: number of weights */
#define PHI_INFO_N_VOCAB         3
#define PHI_INFO_N_CTX_TRAIN     4  /* context length the model was trained for */
#define PHI_INFO_N_CTX           5  /* context length of this ctx */
#define PHI_INFO_N_EMBD          6
#define PHI_INFO_N_LAYER         7
#define PHI_INFO_N_HEAD          8
#define PHI_INFO_N_HEAD_KV       9
#define PHI_INFO_HEAD_DIM       10
#define PHI_INFO_N_FF           11
#define PHI_INFO_N_ROT          12  /* rotary dimensions per head */
#define PHI_INFO_TOKEN_BOS      13  /* -1 when the model has none */
#define PHI_INFO_TOKEN_EOS      14
#define PHI_INFO_TOKEN_EOT      15  /* end of turn (e.g. <|im_end|>, <|end|>); -1 if none */
#define PHI_INFO_TOKEN_PAD      16
#define PHI_INFO_FILE_VERSION   17  /* GGUF version */
#define PHI_INFO_WEIGHT_BYTES   18  /* bytes of weights (mapped or loaded) */
#define PHI_INFO_CHAT_FORMAT    19  /* int: the PHI_CHAT_FORMAT_* the model's chat template names, or AUTO (0) if none */
#define PHI_INFO_ARCH_NAME     100  /* str: "phi3", ... */
#define PHI_INFO_MODEL_NAME    101  /* str: general.name, or "" */
#define PHI_INFO_KERNEL_NAME   102  /* str: "scalar", "avx2", ... */
#define PHI_INFO_CHAT_TEMPLATE 103  /* str: the file's chat template (tokenizer.chat_template), or "" */

/* Values of PHI_INFO_ARCH. */
#define PHI_ARCH_PHI3 1   /* Phi-4, Phi-4-reasoning(-plus), Phi-4-mini(-reasoning) */

/* Chat formats (PHI_OPT_CHAT_FORMAT, PHI_INFO_CHAT_FORMAT). With AUTO the
 * format is read from the model's chat template; a model without one gets
 * the format its special tokens imply; a template that is none of these is
 * PHI_E_UNSUPPORTED at the chat calls until the option names a format. */
#define PHI_CHAT_FORMAT_AUTO           0
#define PHI_CHAT_FORMAT_PHI4           1  /* <|im_start|>role<|im_sep|>content<|im_end|> */
#define PHI_CHAT_FORMAT_PHI4_REASONING 2  /* the same, with Phi-4-reasoning's default system prompt */
#define PHI_CHAT_FORMAT_PHI4_MINI      3  /* <|role|>content<|end|>; tools; also -flash-reasoning */
#define PHI_CHAT_FORMAT_PHI4_MINI_REASONING 4 /* the same, with Phi-4-mini-reasoning's system sentence */

/* Flags for phi_chat_format and phi_chat_tokenize. */
#define PHI_CHAT_ADD_ASSISTANT     1u  /* end with the opening of an assistant turn */
#define PHI_CHAT_NO_DEFAULT_SYSTEM 2u  /* reasoning formats: no default system prompt */

/* Flags for phi_tokenize. */
#define PHI_TOKENIZE_SPECIAL 1u  /* text such as "<|im_end|>" becomes that special token */
#define PHI_TOKENIZE_ADD_BOS 2u  /* start with the model's BOS token, if it has one */

/* Flags for phi_detokenize. */
#define PHI_DETOKENIZE_SKIP_SPECIAL 1u  /* leave out control tokens' text */

/* Channels of generated text. Reasoning models think between <think> and
 * </think> before they answer; with PHI_OPT_SPLIT_THINKING (the default)
 * that text, without the tags, arrives on the thinking channel. */
#define PHI_CHANNEL_ANSWER   0
#define PHI_CHANNEL_THINKING 1

/* One message of a conversation. role is "system", "user", "assistant" or
 * (Phi-4-mini formats) "tool"; content is UTF-8. Frozen layout. */
typedef struct phi_chat_message {
    const char *role;
    const char *content;
} phi_chat_message;

/* Flags for phi_ctx_fork. */
#define PHI_FORK_COPY_STATE 1u  /* copy the KV cache, token history and sampler state */

/* Memory hooks for everything the library allocates except mapped weights.
 * alloc returns memory aligned to at least `align` (a power of two <= 4096)
 * or NULL; free accepts NULL. Set struct_size = sizeof(phi_allocator). */
typedef struct phi_allocator {
    size_t struct_size;
    void *user;
    void *(*alloc)(void *user, size_t size, size_t align);
    void (*free)(void *user, void *ptr);
} phi_allocator;

/* Callbacks. Each gets the user pointer given when it was installed. */
typedef void (*phi_log_cb)(void *user, int32_t level, const char *message);
/* Load progress in [0,1]; return nonzero to abort the load (PHI_E_INTERRUPTED). */
typedef int (*phi_progress_cb)(void *user, double fraction);
/* One generated token; return nonzero to stop generation. */
typedef int (*phi_token_cb)(void *user, phi_token token);
/* A piece of generated text (valid UTF-8, len > 0, not NUL-terminated) on a
 * PHI_CHANNEL_*; return nonzero to stop generation. */
typedef int (*phi_text_cb)(void *user, int32_t channel, const char *text, size_t len);

/* ------------------------------------------------------------------------ */
/* Version and build                                                         */
/* ------------------------------------------------------------------------ */

/* The library's version as PHI4_VERSION_NUMBER computes it. Compare with the
 * header's macro to catch a header/library mismatch. */
PHI_API int32_t phi_version_number(void);
/* "MAJOR.MINOR.PATCH"; static storage. */
PHI_API const char *phi_version_string(void);
/* The ABI the loaded library implements (its SONAME number). */
PHI_API int32_t phi_abi_version(void);
/* Static text: compiler, kernel sets compiled in, options. */
PHI_API const char *phi_build_info(void);

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */
/* ------------------------------------------------------------------------ */

/* Static English text for a status code ("unknown status" for others). */
PHI_API const char *phi_strerror(int32_t status);
/* The message of the last failed call on ctx, "" if none, or a fixed text
 * for a NULL ctx. Owned by ctx; valid until the next call on ctx. */
PHI_API const char *phi_errmsg(const phi_ctx *ctx);
/* The status of the last failed call on ctx (PHI_OK if none). */
PHI_API int32_t phi_errcode(const phi_ctx *ctx);

/* ------------------------------------------------------------------------ */
/* Lifecycle                                                                 */
/* ------------------------------------------------------------------------ */

/* Create an unloaded context with default options. *out is owned by the
 * caller and released with phi_ctx_free. Fails only with PHI_E_INVALID_ARG
 * (out is NULL) or PHI_E_NOMEM. */
PHI_API int32_t phi_ctx_new(phi_ctx **out);
/* The same, with the caller's memory hooks (copied; the hooks must stay
 * valid until the context and all its forks are freed). */
PHI_API int32_t phi_ctx_new_with_allocator(const phi_allocator *allocator, phi_ctx **out);
/* Release the context. Weights shared with forks are released with the last
 * context that uses them. NULL is a no-op. */
PHI_API void phi_ctx_free(phi_ctx *ctx);

/* Open, validate and prepare a model: a GGUF file. Uses the load options set
 * so far. A context loads at most one model (PHI_E_STATE on a second call).
 * Errors: PHI_E_IO, PHI_E_FORMAT (malformed file; the message names the
 * field or tensor), PHI_E_UNSUPPORTED (an architecture or tensor type this
 * build does not run), PHI_E_NOMEM, PHI_E_INTERRUPTED (the progress
 * callback returned nonzero, or phi_interrupt was called during the load).
 * The progress callback follows the file's read into memory
 * (PHI_OPT_USE_MMAP = 0) or, for a mapped file, its weights being faulted in. */
PHI_API int32_t phi_load(phi_ctx *ctx, const char *path);

/* A new context on the same model: the weights are shared, not copied. The
 * fork gets src's options and its own KV cache, sampler and threads; with
 * PHI_FORK_COPY_STATE it starts from a copy of src's sequence. src must be
 * loaded (PHI_E_STATE). *out is owned by the caller. */
PHI_API int32_t phi_ctx_fork(phi_ctx *src, uint32_t flags, phi_ctx **out);

/* Install the log sink for this context (NULL = silent). */
PHI_API int32_t phi_set_log_callback(phi_ctx *ctx, phi_log_cb cb, void *user);
/* Install a load-progress callback (NULL = none). */
PHI_API int32_t phi_set_progress_callback(phi_ctx *ctx, phi_progress_cb cb, void *user);

/* ------------------------------------------------------------------------ */
/* Options                                                                   */
/* ------------------------------------------------------------------------ */

/* Set an option (see PHI_OPT_*). PHI_E_INVALID_ARG for an unknown key, a key
 * of the other kind, or a value out of range; PHI_E_STATE for a load option
 * after phi_load. */
PHI_API int32_t phi_set_int(phi_ctx *ctx, int32_t key, int64_t value);
PHI_API int32_t phi_set_float(phi_ctx *ctx, int32_t key, double value);
/* Read the value in effect (after phi_load, e.g. the resolved N_CTX). */
PHI_API int32_t phi_get_int(phi_ctx *ctx, int32_t key, int64_t *out);
PHI_API int32_t phi_get_float(phi_ctx *ctx, int32_t key, double *out);

/* ------------------------------------------------------------------------ */
/* Model facts                                                               */
/* ------------------------------------------------------------------------ */

/* An integer fact (PHI_INFO_*). PHI_E_STATE before phi_load, except
 * PHI_INFO_KERNEL_NAME; PHI_E_INVALID_ARG for a text key. */
PHI_API int32_t phi_info_int(phi_ctx *ctx, int32_t key, int64_t *out);
/* A text fact, NUL-terminated into buf (two-call convention; *n_out excludes
 * the NUL, the capacity needed is *n_out + 1). */
PHI_API int32_t phi_info_str(phi_ctx *ctx, int32_t key, char *buf, size_t cap, size_t *n_out);

/* ------------------------------------------------------------------------ */
/* Evaluation                                                                */
/* ------------------------------------------------------------------------ */

/* Append n tokens to the sequence and run the model over them. Afterwards
 * phi_logits() gives the next-token logits after the last of them.
 * All or nothing: on any error the sequence is as before the call.
 * Errors: PHI_E_STATE (not loaded), PHI_E_INVALID_ARG (a token id outside
 * [0, n_vocab), n == 0), PHI_E_CONTEXT_FULL (phi_kv_pos() + n > N_CTX),
 * PHI_E_INTERRUPTED, PHI_E_NOMEM.
 *
 * Position-dependent scaling follows the reference implementation: for
 * LongRoPE models the short factors apply while the sequence is no longer
 * than the original context and the long factors beyond it; when a call
 * crosses that line, the whole sequence is evaluated again with the long
 * factors (and again with the short ones if phi_kv_truncate goes back), so
 * results always equal a fresh evaluation of the whole sequence. */
PHI_API int32_t phi_eval(phi_ctx *ctx, const phi_token *tokens, size_t n);

/* n_vocab floats: the logits after the last evaluated token. Owned by ctx;
 * valid until the next phi_eval, phi_generate_*, phi_kv_* or phi_ctx_free.
 * NULL (with the error set) if nothing was evaluated. */
PHI_API const float *phi_logits(phi_ctx *ctx);
/* The logits after token i (0-based) of the last phi_eval call, which must
 * have run with PHI_OPT_LOGITS_ALL = 1. NULL (with the error set) otherwise. */
PHI_API const float *phi_logits_at(phi_ctx *ctx, size_t i);

/* Pick the next token from phi_logits() with the sampling options, in this
 * order: repetition penalties (over the last PHI_OPT_REPEAT_LAST_N tokens of
 * the sequence), temperature, top-k, top-p, min-p, then a draw from the
 * context's generator (seeded by PHI_OPT_SEED; setting the seed restarts
 * it). Temperature <= 0 takes the most likely token. Does not evaluate it. */
PHI_API int32_t phi_sample(phi_ctx *ctx, phi_token *out);

/* Whether a token ends generation (end of text or end of turn): 1 or 0. */
PHI_API int phi_token_is_eog(const phi_ctx *ctx, phi_token token);

/* ------------------------------------------------------------------------ */
/* Generation                                                                */
/* ------------------------------------------------------------------------ */

/* Pull-style generation, convenient for bindings:
 *   phi_generate_begin(ctx, prompt, n)   evaluates the prompt (appended to
 *                                        the current sequence; n may be 0 if
 *                                        the sequence is not empty);
 *   phi_generate_next(ctx, &tok)          samples a token, evaluates it and
 *                                        returns PHI_OK, or PHI_DONE when an
 *                                        end-of-generation token is sampled
 *                                        (it is given in *tok but not
 *                                        evaluated), PHI_OPT_MAX_TOKENS is
 *                                        reached or the context is full;
 *   phi_generate_end(ctx)                 ends the turn; the sequence keeps
 *                                        everything evaluated so far.
 * Errors as for phi_eval; PHI_E_STATE when next is called without begin. */
PHI_API int32_t phi_generate_begin(phi_ctx *ctx, const phi_token *prompt, size_t n);
PHI_API int32_t phi_generate_next(phi_ctx *ctx, phi_token *token_out);
PHI_API int32_t phi_generate_end(phi_ctx *ctx);

/* The same as one call: the callback sees every generated token (including a
 * final end-of-generation token) and returns nonzero to stop. Returns PHI_OK
 * when generation ended on its own or by the callback, or an error. */
PHI_API int32_t phi_generate(phi_ctx *ctx, const phi_token *prompt, size_t n,
                             phi_token_cb cb, void *user);

/* ------------------------------------------------------------------------ */
/* Text                                                                      */
/* ------------------------------------------------------------------------ */

/* Text functions need a loaded model whose tokenizer this build supports
 * (byte-level BPE with the Phi-4 or Phi-4-mini pre-tokenizer); otherwise
 * PHI_E_UNSUPPORTED, with the reason in phi_errmsg. */

/* UTF-8 text (len bytes; invalid UTF-8 is encoded byte by byte, as the
 * model's byte-level vocabulary allows) to tokens, two-call convention.
 * Control tokens (e.g. "<|im_end|>") come from their text only with
 * PHI_TOKENIZE_SPECIAL; user-defined ones (Phi-4-mini's tool markers such as
 * "<|tool_call|>") always do, as in Hugging Face's tokenizers. */
PHI_API int32_t phi_tokenize(phi_ctx *ctx, const char *text, size_t len, uint32_t flags,
                             phi_token *tokens, size_t cap, size_t *n_out);
/* Tokens to text, NUL-terminated into text (two-call convention; *n_out
 * excludes the NUL, the capacity needed is *n_out + 1). The result is valid
 * UTF-8: bytes that do not form a character become U+FFFD, as a WHATWG
 * TextDecoder would do. */
PHI_API int32_t phi_detokenize(phi_ctx *ctx, const phi_token *tokens, size_t n, uint32_t flags,
                               char *text, size_t cap, size_t *n_out);
/* The raw bytes a token stands for, NUL-terminated into buf (capacity needed
 * *n_out + 1). They may be part of a UTF-8 character, and may contain NUL. */
PHI_API int32_t phi_token_piece(phi_ctx *ctx, phi_token token, char *buf, size_t cap,
                                size_t *n_out);

/* ------------------------------------------------------------------------ */
/* Chat                                                                      */
/* ------------------------------------------------------------------------ */

/* A conversation as the model's chat format writes it, NUL-terminated into
 * out (two-call convention, capacity needed *n_out + 1). tools (NULL for
 * none) is the text of tool definitions, usually JSON; only the Phi-4-mini
 * formats have a place for it (in the system message, which is created empty
 * if there is none), elsewhere it is PHI_E_UNSUPPORTED. The reasoning
 * formats add their model's recommended system prompt when the conversation
 * has no system message, unless PHI_CHAT_NO_DEFAULT_SYSTEM. Errors:
 * PHI_E_INVALID_ARG (NULL or invalid UTF-8 text, a role the format has no
 * place for), PHI_E_UNSUPPORTED (unknown chat template: set
 * PHI_OPT_CHAT_FORMAT; for the token calls, also a format whose markers are
 * not special tokens of the model), PHI_E_STATE (no model). */
PHI_API int32_t phi_chat_format(phi_ctx *ctx, const phi_chat_message *messages, size_t n,
                                const char *tools, uint32_t flags, char *out, size_t cap,
                                size_t *n_out);
/* The tokens of that text: the format's markers become special tokens, the
 * messages' content never becomes a control token (text such as
 * "<|im_end|>" in a message stays text); user-defined tokens in it are
 * matched as phi_tokenize does. Two-call convention. */
PHI_API int32_t phi_chat_tokenize(phi_ctx *ctx, const phi_chat_message *messages, size_t n,
                                  const char *tools, uint32_t flags, phi_token *tokens,
                                  size_t cap, size_t *n_out);

/* Start generating the assistant's reply to a conversation: the sequence
 * becomes the conversation's tokens (with PHI_CHAT_ADD_ASSISTANT implied).
 * The part that matches what the sequence already holds is not evaluated
 * again, so a chat that resends the whole conversation each turn pays only
 * for the new messages. Continue with phi_generate_next_text (or
 * phi_generate_next). Errors as phi_chat_tokenize and phi_eval;
 * PHI_E_CONTEXT_FULL leaves the sequence as it was. */
PHI_API int32_t phi_generate_begin_chat(phi_ctx *ctx, const phi_chat_message *messages,
                                        size_t n, const char *tools, uint32_t flags);
/* After phi_generate_begin or phi_generate_begin_chat: generate until the
 * next piece of text is ready and return it (PHI_OK, *len > 0; *text owned by
 * ctx, valid until the next call on ctx), or PHI_DONE when generation has
 * ended and all text has been returned. Pieces are whole UTF-8 characters;
 * control tokens produce no text; *channel is a PHI_CHANNEL_*. A turn uses
 * either this or phi_generate_next, not both. */
PHI_API int32_t phi_generate_next_text(phi_ctx *ctx, int32_t *channel, const char **text,
                                       size_t *len);
/* One call: begin_chat, then every piece of text to cb until the model ends
 * its turn, a limit is reached, or cb returns nonzero (all PHI_OK). */
PHI_API int32_t phi_generate_chat(phi_ctx *ctx, const phi_chat_message *messages, size_t n,
                                  const char *tools, uint32_t flags, phi_text_cb cb,
                                  void *user);

/* ------------------------------------------------------------------------ */
/* Sequence (KV cache)                                                       */
/* ------------------------------------------------------------------------ */

/* Number of tokens in the sequence (0 for NULL or unloaded contexts). */
PHI_API int32_t phi_kv_pos(const phi_ctx *ctx);
/* Keep the first n_pos tokens and drop the rest (n_pos <= phi_kv_pos()). */
PHI_API int32_t phi_kv_truncate(phi_ctx *ctx, int32_t n_pos);
/* The sequence's tokens, two-call convention (*n_out = phi_kv_pos()). */
PHI_API int32_t phi_kv_tokens(phi_ctx *ctx, phi_token *tokens, size_t cap, size_t *n_out);
/* Empty the sequence and the penalty history. */
PHI_API int32_t phi_kv_clear(phi_ctx *ctx);

/* ------------------------------------------------------------------------ */
/* Control                                                                   */
/* ------------------------------------------------------------------------ */

/* Ask the call running on ctx (in another thread) to stop soon with
 * PHI_E_INTERRUPTED; a generation loop returns at the next token. Safe to
 * call from any thread and from a signal handler. The request is cleared
 * when the next call on ctx starts, except phi_generate_next and
 * phi_generate_next_text: a request made between two of those stops the
 * generation at the next one. */
PHI_API void phi_interrupt(phi_ctx *ctx);

#ifdef __cplusplus
}
#endif

#endif /* PHI4_H */
