/* Tokenizer throughput, both vocabularies (meson benchmark 'tokenizer'):
 * building the tokenizer, encoding 4 MiB of the multilingual test corpus
 * with and without special-token parsing, inputs that make single huge
 * pre-tokenizer pieces (the merge loop must stay near-linear), and decoding.
 * Best of three runs each; prints figures, asserts nothing about speed.
 *   meson test -C build --benchmark tokenizer -v */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/mem.h"
#include "phi4.h"
#include "text/tokenizer.h"
#include "vocab_fixture.h"

static phi_mem mem;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int32_t *encode_timed(const phi_tokenizer *t, const char *text, size_t len, bool special,
                             size_t *n, double *best)
{
    int32_t *ids = malloc((len + 1) * sizeof *ids);
    *best = 1e30;
    for (int run = 0; run < 3; run++) {
        phi_err err = {0};
        double t0 = now();
        if (phi_tokenizer_encode(t, text, len, special, ids, len + 1, n, &err) != PHI_OK) {
            fprintf(stderr, "encode: %s\n", err.msg);
            exit(1);
        }
        double dt = now() - t0;
        *best = dt < *best ? dt : *best;
    }
    return ids;
}

static void report(const char *vocab, const char *what, size_t bytes, size_t tokens, double dt)
{
    printf("%-7s %-26s %8zu bytes %8zu tokens %7.3f s %7.2f MB/s %10.0f tokens/s\n", vocab, what,
           bytes, tokens, dt, (double)bytes / dt / 1e6, (double)tokens / dt);
}

static void bench(const char *vocab)
{
    char name[64];
    snprintf(name, sizeof name, "%s.vocab", vocab);
    double t0 = now();
    phi_tokenizer *t = fixture_tokenizer(&mem, name, false);
    printf("%-7s tokenizer built from the fixture (read, parsed, indexed) in %.3f s\n", vocab,
           now() - t0);
    phi_err err = {0};

    corpus c;
    load_corpus(&c, "corpus.txt");
    size_t size = 4u << 20, len = 0;
    char *text = malloc(size);
    for (size_t i = 0; len < size; i = (i + 1) % c.n) {
        size_t n = c.items[i].len < size - len ? c.items[i].len : size - len;
        memcpy(text + len, c.items[i].ptr, n);
        len += n;
    }
    size_t n;
    double dt;
    int32_t *ids = encode_timed(t, text, len, false, &n, &dt);
    report(vocab, "corpus", len, n, dt);
    free(encode_timed(t, text, len, true, &n, &dt));
    report(vocab, "corpus, specials parsed", len, n, dt);

    uint8_t *back = malloc(len);
    double best = 1e30;
    for (int run = 0; run < 3; run++) {
        size_t out;
        t0 = now();
        phi_tokenizer_decode(t, ids, n, back, len, &out, &err);
        best = now() - t0 < best ? now() - t0 : best;
    }
    report(vocab, "decode corpus", len, n, best);
    free(back);
    free(ids);

    static const char *const repeated[] = {"a", "ab", "\xe4\xb8\xad", " ", "\n", "1", "!"};
    static const char *const label[] = {"a", "ab", "CJK char", "space", "newline", "1", "!"};
    for (size_t r = 0; r < sizeof repeated / sizeof repeated[0]; r++) {
        size_t unit = strlen(repeated[r]), rep = 1u << 20;
        for (len = 0; len + unit <= rep; len += unit)
            memcpy(text + len, repeated[r], unit);
        char what[40];
        snprintf(what, sizeof what, "1 MiB of \"%s\"", label[r]);
        free(encode_timed(t, text, len, false, &n, &dt));
        report(vocab, what, len, n, dt);
    }
    free(text);
    free(c.text);
    free(c.items);
    phi_tokenizer_free(t);
}

int main(int argc, char **argv)
{
    fixture_dir = argc > 1 ? argv[1] : "tests/fixtures/tokenizer";
    phi_mem_init_default(&mem);
    bench("cl100k");
    bench("o200k");
    return 0;
}
