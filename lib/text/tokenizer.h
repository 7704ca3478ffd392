/* The byte-level BPE tokenizer of Phi-4 (cl100k-derived) and Phi-4-mini
 * (o200k-derived), built from a format-neutral description of the
 * vocabulary, and exact against tiktoken. Immutable once built: encode and
 * piece may be called from any number of threads at once. */
#ifndef PHI_TEXT_TOKENIZER_H
#define PHI_TEXT_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/mem.h"
#include "format/source.h"

/* Token types (GGUF tokenizer.ggml.token_type). Control and user-defined
 * tokens are the special ones: spelled as plain text, matched only when
 * encoding with parse_special. */
enum {
    PHI_TOKEN_NORMAL = 1,
    PHI_TOKEN_UNKNOWN = 2,
    PHI_TOKEN_CONTROL = 3,
    PHI_TOKEN_USER_DEFINED = 4,
    PHI_TOKEN_UNUSED = 5,
    PHI_TOKEN_BYTE = 6,
};

/* Per-token flags for special tokens (Hugging Face added_tokens' lstrip and
 * rstrip): when such a token is matched in text, the white space before it
 * (LSTRIP) or after it (RSTRIP) belongs to the token and is dropped. */
enum {
    PHI_TOKEN_ATTR_LSTRIP = 1 << 0,
    PHI_TOKEN_ATTR_RSTRIP = 1 << 1,
};

typedef struct phi_vocab_desc {
    phi_str pre;                  /* tokenizer.ggml.pre: "gpt-4o", "dbrx", "llama-bpe", ... */
    const phi_str *tokens;        /* GPT-2 byte-to-unicode strings (GGUF form) */
    int64_t n_tokens;
    const int32_t *types;         /* per token, PHI_TOKEN_*; NULL: all normal */
    const uint8_t *attrs;         /* per token, PHI_TOKEN_ATTR_*; NULL: none */
    const phi_str *merges;        /* "left right", rank = index */
    int64_t n_merges;
} phi_vocab_desc;

typedef struct phi_tokenizer phi_tokenizer;

/* Pre-tokenizers: "gpt-4o" (o200k); "dbrx", "llama-bpe", "llama3",
 * "smaug-bpe" (cl100k). Anything else is PHI_E_UNSUPPORTED. The description
 * is copied; it need not outlive the tokenizer. */
int phi_tokenizer_new(const phi_mem *mem, const phi_vocab_desc *d, phi_tokenizer **out, phi_err *err);
void phi_tokenizer_free(phi_tokenizer *t);

int64_t phi_tokenizer_n_tokens(const phi_tokenizer *t);

/* A token's PHI_TOKEN_* type and PHI_TOKEN_ATTR_* flags (0 out of range). */
int32_t phi_tokenizer_type(const phi_tokenizer *t, int32_t id);
uint8_t phi_tokenizer_attrs(const phi_tokenizer *t, int32_t id);

/* The id of the special (control or user-defined) token spelled exactly
 * text[0..len), or -1. */
int32_t phi_tokenizer_find_special(const phi_tokenizer *t, const char *text, size_t len);
/* The longest special token text[0..len) starts with, or -1. */
int32_t phi_tokenizer_special_prefix(const phi_tokenizer *t, const char *text, size_t len);

/* Bytes of Unicode White_Space (what lstrip/rstrip strip) at the start and
 * at the end of s[0..len). */
size_t phi_leading_white_space(const char *s, size_t len);
size_t phi_trailing_white_space(const char *s, size_t len);

/* Encode any bytes (invalid UTF-8 included: see text/pretok.h). Exact
 * matches of user-defined tokens, and with parse_special of control tokens,
 * are cut out first (leftmost, longest at one position) and become those
 * tokens (Hugging Face matches its non-special added tokens always too).
 * Two-call convention: if cap is too small, PHI_E_BUFFER_TOO_SMALL with
 * *n_out = the count needed (out then holds the first cap ids). */
int phi_tokenizer_encode(const phi_tokenizer *t, const char *text, size_t len, bool parse_special,
                         int32_t *out, size_t cap, size_t *n_out, phi_err *err);

/* The raw bytes a token stands for (GPT-2 unicode mapped back to bytes;
 * special tokens as their text). PHI_E_INVALID_ARG for an id out of range. */
int phi_tokenizer_piece(const phi_tokenizer *t, int32_t id, const uint8_t **bytes, size_t *len);

/* The raw bytes of a whole token sequence, same two-call convention as
 * encode. The result may be invalid UTF-8 (a token can hold part of a
 * character); pass it through phi_utf8_stream to get text. */
int phi_tokenizer_decode(const phi_tokenizer *t, const int32_t *ids, size_t n, uint8_t *out,
                         size_t cap, size_t *n_out, phi_err *err);

#endif
