/* The online-softmax attention driver shared by avx2.c and avx512.c (both
 * compiled with at least AVX2 + FMA + F16C). It walks the positions in
 * blocks of 8 and the query heads in quads; the including file supplies
 * the two loops over head_dim (attn_qk_rows, attn_pv below), which is where
 * the instruction sets differ:
 *   qk: the dot products of up to 4 query heads with a few of the block's
 *       K rows, each K row loaded and converted once for all of them;
 *   pv: each head's accumulator += Σ weight · V row, each V row loaded and
 *       converted once for all of them.
 * Versus the scalar twin (scalar.c attn_rows) the scores are summed in
 * another order, exp is a polynomial (exp8_ps), the max is raised once per
 * block rather than per position, and the accumulation uses FMA. */
#ifndef PHI_KERNELS_ATTN_X86_H
#define PHI_KERNELS_ATTN_X86_H

#include <immintrin.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { ATTN_BLOCK = 8, ATTN_QUAD = 4 };

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

/* e^x for x <= 0 (softmax weights) to about 2 ulp: Cephes' expf polynomial
 * after x = n ln2 + r. Exactly 1 at 0, 0 below -87.3 (where e^x would be
 * subnormal) and at -inf, NaN for NaN. */
static inline __m256 exp8_ps(__m256 x)
{
    const __m256 lo = _mm256_set1_ps(-87.3365447505531f);
    __m256 underflow = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
    x = _mm256_max_ps(lo, x); /* returns its second operand, x, when x is NaN */
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(_mm256_mul_ps(p, r), r, _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i e = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
    e = _mm256_slli_epi32(e, 23); /* 2^n */
    return _mm256_andnot_ps(underflow, _mm256_mul_ps(p, _mm256_castsi256_ps(e)));
}

/* The including file defines these two (always inline; ng and np are
 * constants at each call site):
 * attn_qk_rows: part[g][j + r] (g < ng, r < np) = lanes whose sum is
 *               q_g · K row j + r;
 * attn_pv: acc_g += Σ_{j < nb} w[g][j] · V row j, for g < ng. */
static inline void attn_qk_rows(int64_t hd, int ng, int np, const float *q, const char *k,
                                size_t stride, int j, bool f16,
                                __m256 part[ATTN_QUAD][ATTN_BLOCK]);
static inline void attn_pv(int64_t hd, int ng, const float w[ATTN_QUAD][ATTN_BLOCK],
                           const char *v, size_t stride, int nb, bool f16, float *acc);

/* part[g][j] for the block's nb rows, `rows` at a time, and zero above. */
static inline __attribute__((always_inline)) void qk_heads(
    int64_t hd, int ng, int rows, const float *q, const char *k, size_t stride, int nb,
    bool f16, __m256 part[ATTN_QUAD][ATTN_BLOCK])
{
    int j = 0;
    for (; j + rows <= nb; j += rows)
        attn_qk_rows(hd, ng, rows, q, k, stride, j, f16, part);
    for (; j < nb; j++)
        attn_qk_rows(hd, ng, 1, q, k, stride, j, f16, part);
    for (; j < ATTN_BLOCK; j++)
        for (int g = 0; g < ng; g++)
            part[g][j] = _mm256_setzero_ps();
}

/* ng as a constant, so that the ISA loops keep their accumulators in
 * registers. */
static inline __attribute__((always_inline)) void attn_qk(
    int64_t hd, int ng, int rows, const float *q, const char *k, size_t stride, int nb,
    bool f16, __m256 part[ATTN_QUAD][ATTN_BLOCK])
{
    switch (ng) {
    case 1: qk_heads(hd, 1, rows, q, k, stride, nb, f16, part); break;
    case 2: qk_heads(hd, 2, rows, q, k, stride, nb, f16, part); break;
    case 3: qk_heads(hd, 3, rows, q, k, stride, nb, f16, part); break;
    default: qk_heads(hd, 4, rows, q, k, stride, nb, f16, part); break;
    }
}

/* The phi_attn_fn contract (kernels.h) for one block of nb positions and
 * up to 4 heads starting at head g0. */
static inline __attribute__((always_inline)) void attn_block(
    int64_t hd, int32_t g0, int ng, int nb, const float *q, const char *k, const char *v,
    size_t stride, float *max, float *sum, float *acc, bool f16, int rows)
{
    __m256 part[ATTN_QUAD][ATTN_BLOCK];
    float w[ATTN_QUAD][ATTN_BLOCK];
    attn_qk(hd, ng, rows, q + g0 * hd, k, stride, nb, f16, part);
    __m256 valid = _mm256_castsi256_ps(
        _mm256_cmpgt_epi32(_mm256_set1_epi32(nb), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)));
    for (int g = 0; g < ng; g++) {
        int32_t h = g0 + g;
        __m256 s = _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), sum8x8_ps(part[g]), valid);
        float m = hmax_ps(s);
        if (m > max[h]) {
            float c = expf(max[h] - m);
            sum[h] *= c;
            float *a = acc + h * hd;
            for (int64_t i = 0; i < hd; i++)
                a[i] *= c;
            max[h] = m;
        }
        __m256 e = exp8_ps(_mm256_sub_ps(s, _mm256_set1_ps(max[h])));
        sum[h] += hsum_ps(e);
        _mm256_storeu_ps(w[g], e);
    }
    attn_pv(hd, ng, (const float(*)[ATTN_BLOCK])w, v, stride, nb, f16, acc + g0 * hd);
}

/* phi_attn_fn; the ISA's attn_qk_rows takes `rows` K rows per step. */
static inline __attribute__((always_inline)) void attn_blocks(
    int64_t hd, int32_t n_q, const float *q, const void *k, const void *v, size_t stride,
    int64_t n_pos, float *max, float *sum, float *acc, bool f16, int rows)
{
    for (int64_t p = 0; p < n_pos; p += ATTN_BLOCK) {
        const char *kb = (const char *)k + p * stride, *vb = (const char *)v + p * stride;
        int64_t left = n_pos - p;
        for (int32_t g0 = 0; g0 < n_q; g0 += ATTN_QUAD) {
            int ng = n_q - g0 < ATTN_QUAD ? (int)(n_q - g0) : ATTN_QUAD;
            if (left >= ATTN_BLOCK) /* a constant nb lets the ISA loops unroll */
                attn_block(hd, g0, ng, ATTN_BLOCK, q, kb, vb, stride, max, sum, acc, f16, rows);
            else
                attn_block(hd, g0, ng, (int)left, q, kb, vb, stride, max, sum, acc, f16, rows);
        }
    }
}

#endif
