/* The tokenizer fixtures (tools/tokenizer-fixtures/gen_fixtures.js: the
 * vocabularies in GGUF form, the corpora, js-tiktoken's ids; read by
 * vocab_fixture.h) and the comparison of a tokenizer against them, shared by the tests of the GGUF
 * path (test_tokenizer) and of the tokenizer.json path (test_hf_tokenizer).
 * Header-only, so that its CHECKs count in the including test. */
#ifndef PHI_TESTS_TOKENIZER_CORPUS_H
#define PHI_TESTS_TOKENIZER_CORPUS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "phi4.h"
#include "text/tokenizer.h"
#include "vocab_fixture.h"

/* Expected ids: one line per corpus item. */
typedef struct expected {
    char *text;
    char **lines;
    size_t n;
} expected;

static inline void load_expected(expected *e, const char *name)
{
    size_t len;
    char *p = e->text = read_file(name, &len);
    size_t cap = 1024;
    e->lines = malloc(cap * sizeof *e->lines);
    e->n = 0;
    while (*p) {
        if (e->n == cap)
            e->lines = realloc(e->lines, (cap *= 2) * sizeof *e->lines);
        e->lines[e->n++] = next_line(&p);
    }
}

static inline size_t parse_ids(const char *line, int32_t *ids, size_t cap)
{
    size_t n = 0;
    for (char *end; *line; line = end) {
        long id = strtol(line, &end, 10);
        if (end == line)
            break;
        if (n < cap)
            ids[n] = (int32_t)id;
        n++;
    }
    return n;
}

static inline int32_t *encode(const phi_tokenizer *t, const char *s, size_t len, bool special, size_t *n)
{
    size_t cap = len + 8;
    int32_t *ids = malloc(cap * sizeof *ids);
    phi_err err = {0};
    int rc = phi_tokenizer_encode(t, s, len, special, ids, cap, n, &err);
    if (rc != PHI_OK)
        fprintf(stderr, "encode failed: %s\n", err.msg);
    CHECK_EQ(rc, PHI_OK);
    return ids;
}

static inline uint8_t *decode(const phi_tokenizer *t, const int32_t *ids, size_t n, size_t *len)
{
    size_t need = 0;
    phi_err err = {0};
    int rc = phi_tokenizer_decode(t, ids, n, NULL, 0, &need, &err);
    CHECK(rc == PHI_OK || rc == PHI_E_BUFFER_TOO_SMALL);
    uint8_t *out = malloc(need + 1);
    CHECK_EQ(phi_tokenizer_decode(t, ids, n, out, need, len, &err), PHI_OK);
    return out;
}

/* Whether two texts encode to the same ids. */
static inline bool same_ids(const phi_tokenizer *t, const char *a, const char *b, bool special)
{
    size_t na, nb;
    int32_t *ia = encode(t, a, strlen(a), special, &na), *ib = encode(t, b, strlen(b), special, &nb);
    bool same = na == nb && memcmp(ia, ib, na * sizeof *ia) == 0;
    free(ia);
    free(ib);
    return same;
}

static inline void print_mismatch(const char *what, size_t index, phi_str s, const int32_t *got, size_t n_got,
                                  const char *want)
{
    fprintf(stderr, "%s: string %zu (%llu bytes) differs\n  text: ", what, index, (unsigned long long)s.len);
    for (size_t i = 0; i < s.len && i < 200; i++)
        fprintf(stderr, (uint8_t)s.ptr[i] >= 0x20 && (uint8_t)s.ptr[i] < 0x7f ? "%c" : "\\x%02x",
                (uint8_t)s.ptr[i]);
    fprintf(stderr, "\n  want: %.300s\n  got: ", want);
    for (size_t i = 0; i < n_got && i < 60; i++)
        fprintf(stderr, " %d", got[i]);
    fprintf(stderr, "\n");
}

/* Special tokens with HF lstrip/rstrip swallow the white space next to
 * them, so js-tiktoken's ids (which know no such thing) are not the
 * reference for a string where that happens. Such a string is compared
 * instead with oracle's ids for the string without that white space, oracle
 * being a tokenizer without strip attributes (exact on this corpus); apply
 * writes that string and returns false where nothing is swallowed. */
typedef struct corpus_strip {
    bool (*apply)(phi_str text, char *out, size_t *out_len);
    const phi_tokenizer *oracle;
} corpus_strip;

/* Compare every corpus string's ids with the reference and round-trip it;
 * strip may be NULL. */
static inline void test_corpus(const phi_tokenizer *t, const char *vocab, const char *corpus_name,
                               const char *expected_name, bool special, const corpus_strip *strip)
{
    corpus c;
    expected e;
    load_corpus(&c, corpus_name);
    load_expected(&e, expected_name);
    CHECK_EQ(c.n, e.n);
    size_t matched = 0, round_tripped = 0, mismatches_shown = 0, n_tokens = 0, stripped = 0;
    for (size_t i = 0; i < c.n && i < e.n; i++) {
        phi_str text = c.items[i];
        size_t n, n_want;
        int32_t *ids = encode(t, text.ptr, text.len, special, &n), *want;
        char *stripped_text = malloc(text.len + 1);
        size_t stripped_len;
        if (strip && strip->apply(text, stripped_text, &stripped_len)) {
            text = (phi_str){stripped_text, stripped_len};
            want = encode(strip->oracle, text.ptr, text.len, special, &n_want);
            stripped++;
        } else {
            want = malloc((strlen(e.lines[i]) + 1) * sizeof *want);
            n_want = parse_ids(e.lines[i], want, strlen(e.lines[i]) + 1);
        }
        bool same = n == n_want && memcmp(ids, want, n * sizeof *ids) == 0;
        matched += same;
        if (!same && mismatches_shown++ < 5)
            print_mismatch(vocab, i, c.items[i], ids, n, e.lines[i]);
        size_t len;
        uint8_t *back = decode(t, ids, n, &len);
        round_tripped += len == text.len && memcmp(back, text.ptr, len) == 0;
        n_tokens += n;
        free(back);
        free(want);
        free(ids);
        free(stripped_text);
    }
    printf("%s %s: %zu/%zu strings match the reference (%zu tokens", vocab, corpus_name, matched, c.n,
           n_tokens);
    if (strip)
        printf("; %zu with white space stripped, against the tokenizer without strip on the stripped text",
               stripped);
    printf("), %zu/%zu round-trip\n", round_tripped, c.n);
    CHECK_EQ(matched, c.n);
    CHECK_EQ(round_tripped, c.n);
    free_corpus(&c);
    free(e.text);
    free(e.lines);
}

#endif
