/* Test helpers: reading fixture files, and the GGUF-style vocabulary
 * fixtures (tests/fixtures/tokenizer/<name>.vocab, made from js-tiktoken's
 * cl100k_base and o200k_base ranks with Phi-4's and Phi-4-mini's special
 * tokens) as a tokenizer description. Header-only: each test includes it. */
#ifndef PHI_TESTS_VOCAB_FIXTURE_H
#define PHI_TESTS_VOCAB_FIXTURE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "fixture_file.h"
#include "phi4.h"
#include "text/tokenizer.h"

/* Set by main: the directory fixture names are relative to. */
static const char *fixture_dir;

static inline char *read_file(const char *name, size_t *len)
{
    return read_fixture(fixture_dir, name, len);
}

/* Cut the next line off *p (the newline is replaced by NUL). */
static inline char *next_line(char **p)
{
    char *line = *p, *nl = strchr(line, '\n');
    if (nl) {
        *nl = 0;
        *p = nl + 1;
    } else {
        *p = line + strlen(line);
    }
    return line;
}

typedef struct vocab_file {
    char *text;
    char pre[32];
    phi_str *tokens, *merges;
    int32_t *types;
    phi_vocab_desc desc;
} vocab_file;

static inline void load_vocab(vocab_file *v, const char *name)
{
    size_t len;
    char *p = v->text = read_file(name, &len);
    long long n_tokens = 0, n_merges = 0;
    if (sscanf(next_line(&p), "pre %31s", v->pre) != 1 || sscanf(next_line(&p), "tokens %lld", &n_tokens) != 1) {
        fprintf(stderr, "%s: bad header\n", name);
        exit(2);
    }
    v->tokens = calloc((size_t)n_tokens, sizeof *v->tokens);
    v->types = calloc((size_t)n_tokens, sizeof *v->types);
    for (long long i = 0; i < n_tokens; i++) {
        char *line = next_line(&p);
        v->types[i] = atoi(line);
        const char *tok = strchr(line, ' ') + 1;
        v->tokens[i] = (phi_str){tok, strlen(tok)};
    }
    if (sscanf(next_line(&p), "merges %lld", &n_merges) != 1) {
        fprintf(stderr, "%s: bad merges header\n", name);
        exit(2);
    }
    v->merges = calloc((size_t)n_merges, sizeof *v->merges);
    for (long long i = 0; i < n_merges; i++) {
        char *line = next_line(&p);
        v->merges[i] = (phi_str){line, strlen(line)};
    }
    v->desc = (phi_vocab_desc){{v->pre, strlen(v->pre)}, v->tokens, n_tokens, v->types, NULL,
                               v->merges, n_merges};
}

static inline void free_vocab(vocab_file *v)
{
    free(v->text);
    free(v->tokens);
    free(v->types);
    free(v->merges);
}

/* A tokenizer built from a vocabulary fixture; with rstrip_roles,
 * Phi-4-mini's role tokens get rstrip, as the model loader gives them. Exits
 * on failure (fixtures are known to be good). */
static inline phi_tokenizer *fixture_tokenizer(const phi_mem *mem, const char *name,
                                               bool rstrip_roles)
{
    static const char *const roles[] = {"<|system|>", "<|user|>", "<|assistant|>", "<|end|>"};
    vocab_file v;
    load_vocab(&v, name);
    uint8_t *attrs = calloc((size_t)v.desc.n_tokens, 1);
    for (int64_t i = 0; rstrip_roles && i < v.desc.n_tokens; i++)
        for (int r = 0; r < 4; r++)
            if (v.desc.tokens[i].len == strlen(roles[r]) &&
                memcmp(v.desc.tokens[i].ptr, roles[r], strlen(roles[r])) == 0)
                attrs[i] = PHI_TOKEN_ATTR_RSTRIP;
    v.desc.attrs = attrs;
    phi_tokenizer *t;
    phi_err err = {0};
    if (phi_tokenizer_new(mem, &v.desc, &t, &err) != PHI_OK) {
        fprintf(stderr, "%s: %s\n", name, err.msg);
        exit(2);
    }
    free(attrs);
    free_vocab(&v);
    return t;
}

/* A corpus file: items as "LEN <bytes>\n", one after another. */
typedef struct corpus {
    char *text;
    phi_str *items;
    size_t n;
} corpus;

static inline void load_corpus(corpus *c, const char *name)
{
    size_t len;
    c->text = read_file(name, &len);
    size_t cap = 1024;
    c->items = malloc(cap * sizeof *c->items);
    c->n = 0;
    for (char *p = c->text; p < c->text + len;) {
        char *end;
        unsigned long n = strtoul(p, &end, 10);
        if (c->n == cap)
            c->items = realloc(c->items, (cap *= 2) * sizeof *c->items);
        c->items[c->n++] = (phi_str){end + 1, n};
        p = end + 1 + n + 1;
    }
}

static inline void free_corpus(corpus *c)
{
    free(c->text);
    free(c->items);
}

#endif
