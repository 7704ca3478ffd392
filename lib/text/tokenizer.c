#include "text/tokenizer.h"

#include <stdlib.h>
#include <string.h>

#include "phi4.h"
#include "text/bpe.h"
#include "text/gpt2_bytes.h"
#include "text/pretok.h"
#include "text/unicode.h"

struct phi_tokenizer {
    phi_mem mem;
    phi_pretok_kind pretok;
    phi_pieces pieces;
    phi_bpe bpe;
    uint8_t *types;      /* [n] PHI_TOKEN_* */
    uint8_t *attrs;      /* [n] PHI_TOKEN_ATTR_* */
    int32_t *specials;   /* control and user-defined ids, longest first */
    int32_t n_specials;
    bool special_first_byte[256];  /* a control or user-defined token starts with it */
    bool user_first_byte[256];     /* a user-defined token starts with it */
};

static const struct {
    const char *name;
    phi_pretok_kind kind;
} pretokenizers[] = {
    {"gpt-4o", PHI_PRETOK_O200K},
    {"dbrx", PHI_PRETOK_CL100K},
    {"llama-bpe", PHI_PRETOK_CL100K},
    {"llama3", PHI_PRETOK_CL100K},
    {"smaug-bpe", PHI_PRETOK_CL100K},
};

static bool is_special_type(int32_t type)
{
    return type == PHI_TOKEN_CONTROL || type == PHI_TOKEN_USER_DEFINED;
}

int64_t phi_tokenizer_n_tokens(const phi_tokenizer *t) { return t->pieces.n; }

int32_t phi_tokenizer_type(const phi_tokenizer *t, int32_t id)
{
    return id >= 0 && id < t->pieces.n ? t->types[id] : 0;
}

uint8_t phi_tokenizer_attrs(const phi_tokenizer *t, int32_t id)
{
    return id >= 0 && id < t->pieces.n ? t->attrs[id] : 0;
}

static size_t piece_len(const phi_pieces *p, int32_t id) { return (size_t)(p->off[id + 1] - p->off[id]); }

/* Fill t->pieces; is_bpe[i] tells whether token i takes part in BPE: a
 * special token, or one not in GPT-2 form, stands for its own text. */
static int build_pieces(phi_tokenizer *t, const phi_vocab_desc *d, bool *is_bpe, phi_err *err)
{
    size_t total = 0;
    for (int64_t i = 0; i < d->n_tokens; i++) {
        if (!d->tokens[i].ptr && d->tokens[i].len)
            return phi_err_set(err, PHI_E_INVALID_ARG, "tokenizer: token %lld has no text", (long long)i);
        if (phi_add_overflows(total, d->tokens[i].len, &total))
            return phi_err_set(err, PHI_E_NOMEM, "tokenizer: vocabulary too large");
    }
    t->pieces.n = (int32_t)d->n_tokens;
    t->pieces.bytes = phi_alloc(&t->mem, total ? total : 1);
    t->pieces.off = phi_alloc_array(&t->mem, (size_t)d->n_tokens + 1, sizeof *t->pieces.off);
    if (!t->pieces.bytes || !t->pieces.off)
        return phi_err_set(err, PHI_E_NOMEM, "tokenizer: out of memory for %lld tokens",
                           (long long)d->n_tokens);
    uint64_t at = 0;
    for (int64_t i = 0; i < d->n_tokens; i++) {
        const phi_str s = d->tokens[i];
        uint8_t *dst = t->pieces.bytes + at;
        size_t n = 0;
        is_bpe[i] = !(d->types && is_special_type(d->types[i])) && s.len > 0 &&
                    phi_gpt2_decode(s.ptr, s.len, dst, &n);
        if (!is_bpe[i]) {
            if (s.len)
                memcpy(dst, s.ptr, s.len);
            n = s.len;
        }
        t->pieces.off[i] = at;
        at += n;
    }
    t->pieces.off[d->n_tokens] = at;
    return PHI_OK;
}

/* Merges are "left right" in GPT-2 form, split at the first space after
 * the first byte (a left side may itself be a space character). Both sides
 * are decoded next to each other, so the buffer then holds the merged token. */
static int add_merges(phi_tokenizer *t, const phi_vocab_desc *d, phi_err *err)
{
    size_t longest = 1;
    for (int64_t i = 0; i < d->n_merges; i++) {
        if (!d->merges[i].ptr && d->merges[i].len)
            return phi_err_set(err, PHI_E_INVALID_ARG, "tokenizer: merge %lld has no text", (long long)i);
        if (d->merges[i].len > longest)
            longest = d->merges[i].len;
    }
    uint8_t *buf = phi_alloc(&t->mem, longest);
    if (!buf)
        return phi_err_set(err, PHI_E_NOMEM, "tokenizer: out of memory for merges");
    for (int64_t i = 0; i < d->n_merges; i++) {
        const char *m = d->merges[i].ptr;
        size_t len = d->merges[i].len, sp = 1;
        while (sp < len && m[sp] != ' ')
            sp++;
        size_t nl, nr;
        if (sp >= len || !phi_gpt2_decode(m, sp, buf, &nl) ||
            !phi_gpt2_decode(m + sp + 1, len - sp - 1, buf + nl, &nr))
            continue;
        int32_t left = phi_bpe_lookup(&t->bpe, buf, nl);
        int32_t right = phi_bpe_lookup(&t->bpe, buf + nl, nr);
        int32_t merged = phi_bpe_lookup(&t->bpe, buf, nl + nr);
        /* A merge that names no token can never fire; like llama.cpp, skip it. */
        if (left >= 0 && right >= 0 && merged >= 0)
            phi_bpe_add_merge(&t->bpe, left, right, merged, (int32_t)i);
    }
    phi_free(&t->mem, buf);
    return PHI_OK;
}

typedef struct special_key {
    size_t len;
    int32_t id;
} special_key;

/* Longer first; equal lengths in id order, so the first of two identical
 * spellings wins. */
static int longer_first(const void *a, const void *b)
{
    const special_key *x = a, *y = b;
    if (x->len != y->len)
        return x->len < y->len ? 1 : -1;
    return (x->id > y->id) - (x->id < y->id);
}

/* Order the specials longest first, so the first match is the longest. A
 * file may declare any number of them, so the sort is O(n log n). */
static int sort_longest_first(phi_tokenizer *t, phi_err *err)
{
    special_key *keys = phi_alloc_array(&t->mem, t->n_specials ? (size_t)t->n_specials : 1,
                                        sizeof *keys);
    if (!keys)
        return phi_err_set(err, PHI_E_NOMEM, "tokenizer: out of memory for special tokens");
    for (int32_t i = 0; i < t->n_specials; i++)
        keys[i] = (special_key){piece_len(&t->pieces, t->specials[i]), t->specials[i]};
    qsort(keys, (size_t)t->n_specials, sizeof *keys, longer_first);
    for (int32_t i = 0; i < t->n_specials; i++)
        t->specials[i] = keys[i].id;
    phi_free(&t->mem, keys);
    return PHI_OK;
}

static int collect_specials(phi_tokenizer *t, const phi_vocab_desc *d, phi_err *err)
{
    t->types = phi_alloc(&t->mem, (size_t)d->n_tokens);
    t->attrs = phi_alloc_zero(&t->mem, (size_t)d->n_tokens);
    if (!t->types || !t->attrs)
        return phi_err_set(err, PHI_E_NOMEM, "tokenizer: out of memory for token types");
    for (int64_t i = 0; i < d->n_tokens; i++) {
        int32_t type = d->types ? d->types[i] : PHI_TOKEN_NORMAL;
        t->types[i] = type >= 0 && type <= UINT8_MAX ? (uint8_t)type : 0;
        if (d->attrs)
            t->attrs[i] = d->attrs[i];
    }
    if (!d->types)
        return PHI_OK;
    int32_t n = 0;
    for (int64_t i = 0; i < d->n_tokens; i++)
        n += is_special_type(d->types[i]) && d->tokens[i].len > 0;
    t->specials = phi_alloc_array(&t->mem, n ? (size_t)n : 1, sizeof *t->specials);
    if (!t->specials)
        return phi_err_set(err, PHI_E_NOMEM, "tokenizer: out of memory for special tokens");
    for (int64_t i = 0; i < d->n_tokens; i++) {
        if (is_special_type(d->types[i]) && d->tokens[i].len > 0) {
            t->specials[t->n_specials++] = (int32_t)i;
            t->special_first_byte[(uint8_t)d->tokens[i].ptr[0]] = true;
            if (d->types[i] == PHI_TOKEN_USER_DEFINED)
                t->user_first_byte[(uint8_t)d->tokens[i].ptr[0]] = true;
        }
    }
    return sort_longest_first(t, err);
}

int phi_tokenizer_new(const phi_mem *mem, const phi_vocab_desc *d, phi_tokenizer **out, phi_err *err)
{
    *out = NULL;
    if (!d || d->n_tokens <= 0 || d->n_tokens >= INT32_MAX || !d->tokens || d->n_merges < 0 ||
        d->n_merges >= INT32_MAX || (d->n_merges > 0 && !d->merges))
        return phi_err_set(err, PHI_E_INVALID_ARG, "tokenizer: invalid vocabulary description");
    int kind = -1;
    for (size_t i = 0; i < sizeof pretokenizers / sizeof pretokenizers[0]; i++)
        if (d->pre.len == strlen(pretokenizers[i].name) &&
            memcmp(d->pre.ptr, pretokenizers[i].name, d->pre.len) == 0)
            kind = (int)pretokenizers[i].kind;
    if (kind < 0)
        return phi_err_set(err, PHI_E_UNSUPPORTED,
                           "tokenizer: unsupported pre-tokenizer '%.*s' (supported: gpt-4o, dbrx, "
                           "llama-bpe, llama3, smaug-bpe)",
                           (int)(d->pre.len > 64 ? 64 : d->pre.len), d->pre.ptr ? d->pre.ptr : "");

    phi_tokenizer *t = phi_alloc_zero(mem, sizeof *t);
    bool *is_bpe = phi_alloc_array(mem, (size_t)d->n_tokens, sizeof *is_bpe);
    if (!t || !is_bpe) {
        phi_free(mem, t);
        phi_free(mem, is_bpe);
        return phi_err_set(err, PHI_E_NOMEM, "tokenizer: out of memory");
    }
    t->mem = *mem;
    t->pretok = (phi_pretok_kind)kind;
    int rc = build_pieces(t, d, is_bpe, err);
    if (rc == PHI_OK)
        rc = phi_bpe_init(&t->bpe, mem, &t->pieces, is_bpe, (uint64_t)d->n_merges, err);
    phi_free(mem, is_bpe);
    if (rc == PHI_OK)
        rc = add_merges(t, d, err);
    if (rc == PHI_OK)
        rc = collect_specials(t, d, err);
    if (rc != PHI_OK) {
        phi_tokenizer_free(t);
        return rc;
    }
    *out = t;
    return PHI_OK;
}

void phi_tokenizer_free(phi_tokenizer *t)
{
    if (!t)
        return;
    phi_bpe_free(&t->bpe);
    phi_free(&t->mem, t->pieces.bytes);
    phi_free(&t->mem, t->pieces.off);
    phi_free(&t->mem, t->specials);
    phi_free(&t->mem, t->types);
    phi_free(&t->mem, t->attrs);
    phi_mem mem = t->mem;
    phi_free(&mem, t);
}

/* Where ids go: counted always, stored while they fit. */
typedef struct sink {
    int32_t *out;
    size_t cap, n;
} sink;

static void emit(sink *s, int32_t id)
{
    if (s->n < s->cap)
        s->out[s->n] = id;
    s->n++;
}

static int encode_chunk(const phi_tokenizer *t, phi_bpe_scratch *scratch, const uint8_t *text,
                        size_t len, sink *s, phi_err *err)
{
    for (size_t pos = 0; pos < len;) {
        size_t n = phi_pretok_next(t->pretok, text, len, pos);
        const int32_t *ids;
        size_t n_ids;
        int rc = phi_bpe_encode(&t->bpe, scratch, text + pos, n, &ids, &n_ids, err);
        if (rc != PHI_OK)
            return rc;
        for (size_t i = 0; i < n_ids; i++)
            emit(s, ids[i]);
        pos += n;
    }
    return PHI_OK;
}

/* The special token that text[0..len) starts with (the longest), or -1.
 * Control tokens count only with `control`; user-defined ones always, as
 * Hugging Face's tokenizers and llama.cpp match them. */
static int32_t special_at(const phi_tokenizer *t, const uint8_t *text, size_t len, bool control)
{
    if (!(control ? t->special_first_byte : t->user_first_byte)[text[0]])
        return -1;
    for (int32_t i = 0; i < t->n_specials; i++) {
        int32_t id = t->specials[i];
        if (!control && t->types[id] != PHI_TOKEN_USER_DEFINED)
            continue;
        size_t n = piece_len(&t->pieces, id);
        if (n <= len && memcmp(text, t->pieces.bytes + t->pieces.off[id], n) == 0)
            return id;
    }
    return -1;
}

int32_t phi_tokenizer_special_prefix(const phi_tokenizer *t, const char *text, size_t len)
{
    return len ? special_at(t, (const uint8_t *)text, len, true) : -1;
}

int32_t phi_tokenizer_find_special(const phi_tokenizer *t, const char *text, size_t len)
{
    int32_t id = phi_tokenizer_special_prefix(t, text, len);
    return id >= 0 && piece_len(&t->pieces, id) == len ? id : -1;
}

/* Unicode White_Space, which is what Hugging Face's lstrip/rstrip strip
 * (Rust's char::is_whitespace): the table's \s is ECMAScript's, which adds
 * U+FEFF and leaves out U+0085. */
static bool is_white_space(uint32_t cp)
{
    return cp == 0x85 || (cp != 0xFEFF && (phi_unicode_flags(cp) & PHI_UC_SPACE));
}

/* End of the white space that starts at s[pos], s[0..len). */
static size_t skip_space_forward(const uint8_t *s, size_t len, size_t pos)
{
    while (pos < len) {
        size_t n;
        uint32_t cp = phi_utf8_decode(s + pos, len - pos, &n);
        if (cp == PHI_UTF8_INVALID || !is_white_space(cp))
            break;
        pos += n;
    }
    return pos;
}

/* Start of the white space that ends at s[end], not going below `floor`. */
static size_t skip_space_backward(const uint8_t *s, size_t floor, size_t end)
{
    while (end > floor) {
        size_t start = end - 1;
        while (start > floor && end - start < 4 && (s[start] & 0xC0) == 0x80)
            start--;
        size_t n;
        uint32_t cp = phi_utf8_decode(s + start, end - start, &n);
        if (cp == PHI_UTF8_INVALID || n != end - start || !is_white_space(cp))
            break;
        end = start;
    }
    return end;
}

size_t phi_leading_white_space(const char *s, size_t len)
{
    return skip_space_forward((const uint8_t *)s, len, 0);
}

size_t phi_trailing_white_space(const char *s, size_t len)
{
    return len - skip_space_backward((const uint8_t *)s, 0, len);
}

int phi_tokenizer_encode(const phi_tokenizer *t, const char *text, size_t len, bool parse_special,
                         int32_t *out, size_t cap, size_t *n_out, phi_err *err)
{
    if (!t || (!text && len) || (!out && cap) || !n_out)
        return phi_err_set(err, PHI_E_INVALID_ARG, "tokenizer: encode: invalid argument");
    const uint8_t *s = (const uint8_t *)text;
    sink sk = {out, cap, 0};
    phi_bpe_scratch scratch = {&t->mem, NULL, NULL, NULL, 0};
    int rc = PHI_OK;
    size_t chunk = 0;
    for (size_t pos = 0; pos < len && rc == PHI_OK;) {
        int32_t special = special_at(t, s + pos, len - pos, parse_special);
        if (special < 0) {
            pos++;
            continue;
        }
        uint8_t attrs = t->attrs[special];
        size_t chunk_end = attrs & PHI_TOKEN_ATTR_LSTRIP ? skip_space_backward(s, chunk, pos) : pos;
        rc = encode_chunk(t, &scratch, s + chunk, chunk_end - chunk, &sk, err);
        emit(&sk, special);
        pos += piece_len(&t->pieces, special);
        if (attrs & PHI_TOKEN_ATTR_RSTRIP)
            pos = skip_space_forward(s, len, pos);
        chunk = pos;
    }
    if (rc == PHI_OK)
        rc = encode_chunk(t, &scratch, s + chunk, len - chunk, &sk, err);
    phi_bpe_scratch_free(&scratch);
    *n_out = sk.n;
    if (rc == PHI_OK && sk.n > cap)
        rc = phi_err_set(err, PHI_E_BUFFER_TOO_SMALL, "tokenizer: %zu tokens do not fit in %zu", sk.n, cap);
    return rc;
}

int phi_tokenizer_piece(const phi_tokenizer *t, int32_t id, const uint8_t **bytes, size_t *len)
{
    if (!t || id < 0 || id >= t->pieces.n)
        return PHI_E_INVALID_ARG;
    *bytes = t->pieces.bytes + t->pieces.off[id];
    *len = piece_len(&t->pieces, id);
    return PHI_OK;
}

int phi_tokenizer_decode(const phi_tokenizer *t, const int32_t *ids, size_t n, uint8_t *out,
                         size_t cap, size_t *n_out, phi_err *err)
{
    if (!t || (!ids && n) || (!out && cap) || !n_out)
        return phi_err_set(err, PHI_E_INVALID_ARG, "tokenizer: decode: invalid argument");
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= t->pieces.n)
            return phi_err_set(err, PHI_E_INVALID_ARG, "tokenizer: decode: token id %d out of range",
                               (int)ids[i]);
        size_t len = piece_len(&t->pieces, ids[i]);
        if (total + len <= cap)
            memcpy(out + total, t->pieces.bytes + t->pieces.off[ids[i]], len);
        total += len;
    }
    *n_out = total;
    if (total > cap)
        return phi_err_set(err, PHI_E_BUFFER_TOO_SMALL, "tokenizer: %zu bytes do not fit in %zu", total, cap);
    return PHI_OK;
}
