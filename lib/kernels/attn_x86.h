/* The x86 half of the attention driver (attn_blocks.h) shared by avx2.c and
 * avx512.c, both compiled with at least AVX2 + FMA + F16C: the scores are
 * 8-lane vectors and exp is exp8_ps; the including file defines attn_qk_rows
 * and attn_pv, where the two instruction sets differ. */
#ifndef PHI_KERNELS_ATTN_X86_H
#define PHI_KERNELS_ATTN_X86_H

#include <immintrin.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/x86_shared.h"

typedef __m256 attn_part;
typedef __m256 attn_scores;
#include "kernels/attn_blocks.h"

/* Sum of the 8 lanes. */
static inline float hsum_ps(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline float hmax_ps(__m256 v)
{
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

/* Lane j: the sum of the 8 lanes of v[j]. */
static inline __m256 sum8x8_ps(const __m256 v[8])
{
    __m256 h01 = _mm256_hadd_ps(v[0], v[1]), h23 = _mm256_hadd_ps(v[2], v[3]);
    __m256 h45 = _mm256_hadd_ps(v[4], v[5]), h67 = _mm256_hadd_ps(v[6], v[7]);
    __m256 lo = _mm256_hadd_ps(h01, h23), hi = _mm256_hadd_ps(h45, h67);
    /* lo holds the low-half sums of v[0..3] then their high-half sums; hi
     * likewise for v[4..7] */
    return _mm256_add_ps(_mm256_permute2f128_ps(lo, hi, 0x20),
                         _mm256_permute2f128_ps(lo, hi, 0x31));
}

static inline attn_part attn_zero_part(void)
{
    return _mm256_setzero_ps();
}

static inline attn_scores attn_block_scores(const attn_part part[ATTN_BLOCK], int nb)
{
    __m256 valid = _mm256_castsi256_ps(
        _mm256_cmpgt_epi32(_mm256_set1_epi32(nb), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)));
    return _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), sum8x8_ps(part), valid);
}

static inline float attn_scores_max(attn_scores s)
{
    return hmax_ps(s);
}

static inline float attn_block_weights(attn_scores s, float max, float w[ATTN_BLOCK])
{
    __m256 e = exp8_ps(_mm256_sub_ps(s, _mm256_set1_ps(max)));
    _mm256_storeu_ps(w, e);
    return hsum_ps(e);
}

#endif
