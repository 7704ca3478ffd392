/* A fixed-seed xorshift generator, so kernel tests and benchmarks see the
 * same data on every run and machine. */
#ifndef PHI_TESTS_RAND_H
#define PHI_TESTS_RAND_H

#include <stdint.h>

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static inline uint32_t rand_u32(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 32);
}

/* Uniform in [-1, 1). */
static inline float rand_f(void)
{
    return (float)rand_u32() / 2147483648.0f - 1.0f;
}

#endif
