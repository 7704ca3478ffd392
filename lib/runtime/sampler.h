/* Choosing the next token from logits: repetition penalties over a window of
 * recent tokens, then temperature, top-k, top-p and min-p, then a draw from a
 * seeded generator, so the same seed gives the same tokens everywhere. */
#ifndef PHI_RUNTIME_SAMPLER_H
#define PHI_RUNTIME_SAMPLER_H

#include <stdint.h>

#include "core/err.h"
#include "core/mem.h"

typedef struct phi_sampling {
    double temperature;       /* <= 0: greedy */
    int64_t top_k;            /* 0: off */
    double top_p;             /* 1: off */
    double min_p;             /* 0: off */
    double repeat_penalty;    /* 1: off */
    double presence_penalty;  /* 0: off */
    double frequency_penalty; /* 0: off */
} phi_sampling;

typedef struct phi_sampler phi_sampler;

int phi_sampler_new(const phi_mem *mem, int32_t n_vocab, phi_sampler **out, phi_err *err);
void phi_sampler_free(phi_sampler *s);
/* Restart the generator: seed < 0 takes one from the clock. */
void phi_sampler_seed(phi_sampler *s, int64_t seed);
void phi_sampler_copy_rng(phi_sampler *dst, const phi_sampler *src);

/* recent[0..n_recent) are the tokens the penalties look at. */
int32_t phi_sampler_sample(phi_sampler *s, const phi_sampling *p, const float *logits,
                           const int32_t *recent, int32_t n_recent);

#endif
