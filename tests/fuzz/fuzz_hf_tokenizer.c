/* libFuzzer target for the tokenizer.json reader: read arbitrary bytes as
 * tokenizer.json; failures must be PHI_E_FORMAT or PHI_E_UNSUPPORTED with a
 * message. On success the description must be consistent (every token
 * spelled, types and attrs as the reader promises, merges "a b", each added
 * token found by its text), and when a tokenizer builds from it, sample
 * texts and the special tokens' own texts must encode, with ids in range,
 * and decode back to the same bytes (wherever no lstrip/rstrip applies).
 * Build and run: see tests/fuzz/README.md; seeds: corpus_hf_tokenizer/. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_input.h"
#include "phi4.h"
#include "text/hf_tokenizer.h"
#include "text/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool is_added(int32_t type) { return type == PHI_TOKEN_CONTROL || type == PHI_TOKEN_USER_DEFINED; }

static void check_desc(const phi_hf_tokenizer *hf, const phi_vocab_desc *d, bool *strips)
{
    if (d->n_tokens <= 0 || !d->pre.ptr || (!phi_str_eq(d->pre, "dbrx") && !phi_str_eq(d->pre, "gpt-4o")))
        abort();
    *strips = false;
    for (int64_t i = 0; i < d->n_tokens; i++) {
        phi_str t = d->tokens[i];
        if (!t.ptr || t.len == 0 || (d->types[i] != PHI_TOKEN_NORMAL && !is_added(d->types[i])) ||
            (d->attrs[i] & ~(PHI_TOKEN_ATTR_LSTRIP | PHI_TOKEN_ATTR_RSTRIP)) ||
            (d->attrs[i] && !is_added(d->types[i])))
            abort();
        *strips |= d->attrs[i] != 0;
        if (is_added(d->types[i])) {
            int32_t id = phi_hf_tokenizer_added_id(hf, t.ptr, t.len);
            if (id < 0 || id >= d->n_tokens || !is_added(d->types[id]) || d->tokens[id].len != t.len ||
                memcmp(d->tokens[id].ptr, t.ptr, t.len) != 0)
                abort();
        }
    }
    for (int64_t i = 0; i < d->n_merges; i++) {
        phi_str m = d->merges[i];
        const char *space = m.len ? memchr(m.ptr, ' ', m.len) : NULL;
        if (!space || space == m.ptr || space == m.ptr + m.len - 1 ||
            memchr(space + 1, ' ', (size_t)(m.ptr + m.len - space - 1)))
            abort();
    }
}

static void round_trip(const phi_tokenizer *t, const char *text, size_t len, bool special, bool exact)
{
    size_t cap = len + 1, n, back_len;
    int32_t *ids = malloc(cap * sizeof *ids);
    uint8_t *back = malloc(len + 1);
    phi_err err = {0};
    if (!ids || !back || phi_tokenizer_encode(t, text, len, special, ids, cap, &n, &err) != PHI_OK)
        abort();
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= phi_tokenizer_n_tokens(t))
            abort();
    int rc = phi_tokenizer_decode(t, ids, n, back, len, &back_len, &err);
    if (exact && (rc != PHI_OK || back_len != len || memcmp(back, text, len) != 0))
        abort();
    free(ids);
    free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    phi_mem mem;
    phi_mem_init_default(&mem);
    char *copy = fuzz_input_copy(data, size);
    if (!copy)
        return 0;
    phi_hf_tokenizer *hf = NULL;
    phi_err err = {0};
    int rc = phi_hf_tokenizer_read(&mem, copy, size, &hf, &err);
    free(copy);
    if (rc != PHI_OK) {
        if ((rc != PHI_E_FORMAT && rc != PHI_E_UNSUPPORTED) || err.code != rc || hf ||
            strncmp(err.msg, "tokenizer.json: ", 16) != 0)
            abort();
        return 0;
    }
    const phi_vocab_desc *d = phi_hf_tokenizer_desc(hf);
    bool strips;
    check_desc(hf, d, &strips);
    phi_tokenizer *t = NULL;
    if (phi_tokenizer_new(&mem, d, &t, &err) == PHI_OK) {
        static const char sample[] = "Hello, world! It's 2025.\n  <|end|> x<|user|>\t\xE4\xB8\xAD\xF0\x9F\x98\x80 "
                                     "\xFF\xC3 hell hello";
        for (int special = 0; special < 2; special++)
            round_trip(t, sample, sizeof sample - 1, special, !special || !strips);
        for (int64_t i = 0; i < d->n_tokens; i++)
            if (is_added(d->types[i]))
                for (int special = 0; special < 2; special++)
                    round_trip(t, d->tokens[i].ptr, d->tokens[i].len, special, !special || !strips);
        phi_tokenizer_free(t);
    }
    phi_hf_tokenizer_free(hf);
    return 0;
}
