/* The online-softmax attention driver of the SIMD levels (attn_x86.h for
 * AVX2 / AVX-512, neon.c), which is the same on every instruction set: it
 * walks the positions in blocks of 8 and the query heads in quads, and
 * raises each head's running max once per block. The including file first
 * typedefs its two vector types and then defines the loops (always inline;
 * ng and np are constants at each call site):
 *   attn_part    lanes whose sum is one score (the qk accumulators);
 *   attn_scores  the 8 scores of a block;
 *   attn_qk_rows part[g][j + r] (g < ng, r < np) = lanes whose sum is
 *                q_g · K row j + r, each K row loaded and converted once for
 *                all the heads;
 *   attn_zero_part, attn_block_scores (lane j: the score of row j, -inf for
 *                j >= nb), attn_scores_max, attn_block_weights (w = e^(s -
 *                max), returning Σ w);
 *   attn_pv      acc_g += Σ_{j < nb} w[g][j] · V row j, each V row loaded and
 *                converted once for all the heads (ATTN_PV_COLUMNS writes it
 *                over a pv_column);
 * and ATTN_ENTRY_POINTS writes the table entries attn_f32 and attn_f16.
 * Versus the scalar twin (scalar.c attn_rows) the scores are summed in
 * another order, exp is a polynomial, the max is raised once per block rather
 * than per position, and the accumulation uses FMA. */
#ifndef PHI_KERNELS_ATTN_BLOCKS_H
#define PHI_KERNELS_ATTN_BLOCKS_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The K and V rows of the block ATTN_PREFETCH_BLOCKS ahead are prefetched:
 * a decode step reads the cache from memory, and the hardware prefetchers
 * alone left attention at a third of the matrix products' pace (Phi-4-mini
 * Q4_0 at ~530 positions: 2.72 ms of attention per token without, 1.86 ms
 * at 2 blocks ahead, 2.1-2.3 ms at 4 or 8). */
enum { ATTN_BLOCK = 8, ATTN_QUAD = 4, ATTN_PREFETCH_BLOCKS = 2 };

static inline void attn_qk_rows(int64_t hd, int ng, int np, const float *q, const char *k,
                                size_t stride, int j, bool f16,
                                attn_part part[ATTN_QUAD][ATTN_BLOCK]);
static inline attn_part attn_zero_part(void);
static inline attn_scores attn_block_scores(const attn_part part[ATTN_BLOCK], int nb);
static inline float attn_scores_max(attn_scores s);
static inline float attn_block_weights(attn_scores s, float max, float w[ATTN_BLOCK]);
static inline void attn_pv(int64_t hd, int ng, const float w[ATTN_QUAD][ATTN_BLOCK],
                           const char *v, size_t stride, int nb, bool f16, float *acc);

/* part[g][j] for the block's nb rows, `rows` at a time, and zero above. */
static inline __attribute__((always_inline)) void qk_heads(
    int64_t hd, int ng, int rows, const float *q, const char *k, size_t stride, int nb,
    bool f16, attn_part part[ATTN_QUAD][ATTN_BLOCK])
{
    int j = 0;
    for (; j + rows <= nb; j += rows)
        attn_qk_rows(hd, ng, rows, q, k, stride, j, f16, part);
    for (; j < nb; j++)
        attn_qk_rows(hd, ng, 1, q, k, stride, j, f16, part);
    for (; j < ATTN_BLOCK; j++)
        for (int g = 0; g < ng; g++)
            part[g][j] = attn_zero_part();
}

/* ng as a constant, so that the ISA loops keep their accumulators in
 * registers. */
static inline __attribute__((always_inline)) void attn_qk(
    int64_t hd, int ng, int rows, const float *q, const char *k, size_t stride, int nb,
    bool f16, attn_part part[ATTN_QUAD][ATTN_BLOCK])
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
    attn_part part[ATTN_QUAD][ATTN_BLOCK];
    float w[ATTN_QUAD][ATTN_BLOCK];
    attn_qk(hd, ng, rows, q + g0 * hd, k, stride, nb, f16, part);
    for (int g = 0; g < ng; g++) {
        int32_t h = g0 + g;
        attn_scores s = attn_block_scores(part[g], nb);
        float m = attn_scores_max(s);
        if (m > max[h]) {
            float c = expf(max[h] - m);
            sum[h] *= c;
            float *a = acc + h * hd;
            for (int64_t i = 0; i < hd; i++)
                a[i] *= c;
            max[h] = m;
        }
        sum[h] += attn_block_weights(s, max[h], w[g]);
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
        if (left > ATTN_PREFETCH_BLOCKS * ATTN_BLOCK)
            for (size_t at = 0; at < ATTN_BLOCK * stride; at += 64) {
                __builtin_prefetch(kb + ATTN_PREFETCH_BLOCKS * ATTN_BLOCK * stride + at);
                __builtin_prefetch(vb + ATTN_PREFETCH_BLOCKS * ATTN_BLOCK * stride + at);
            }
        for (int32_t g0 = 0; g0 < n_q; g0 += ATTN_QUAD) {
            int ng = n_q - g0 < ATTN_QUAD ? (int)(n_q - g0) : ATTN_QUAD;
            if (left >= ATTN_BLOCK) /* a constant nb lets the ISA loops unroll */
                attn_block(hd, g0, ng, ATTN_BLOCK, q, kb, vb, stride, max, sum, acc, f16, rows);
            else
                attn_block(hd, g0, ng, (int)left, q, kb, vb, stride, max, sum, acc, f16, rows);
        }
    }
}

/* attn_pv for a file whose pv_column(hd, i, n, ng, w, v, stride, nb, f16,
 * acc) does the n <= width columns from i: width at a time, then the rest. */
#define ATTN_PV_COLUMNS(width)                                                     \
    static inline __attribute__((always_inline)) void attn_pv(                     \
        int64_t hd, int ng, const float w[ATTN_QUAD][ATTN_BLOCK], const char *v,   \
        size_t stride, int nb, bool f16, float *acc)                               \
    {                                                                              \
        int64_t i = 0;                                                             \
        for (; i + (width) <= hd; i += (width))                                    \
            pv_column(hd, i, (width), ng, w, v, stride, nb, f16, acc);             \
        if (i < hd)                                                                \
            pv_column(hd, i, (int)(hd - i), ng, w, v, stride, nb, f16, acc);       \
    }

/* attn_f32 and attn_f16, the level's table entries. */
#define ATTN_ENTRY_POINTS(rows)                                                    \
    static void attn_f32(int64_t hd, int32_t n_q, const float *q, const void *k,   \
                         const void *v, size_t stride, int64_t n_pos, float *max,  \
                         float *sum, float *acc)                                   \
    {                                                                              \
        attn_blocks(hd, n_q, q, k, v, stride, n_pos, max, sum, acc, false, rows);  \
    }                                                                              \
    static void attn_f16(int64_t hd, int32_t n_q, const float *q, const void *k,   \
                         const void *v, size_t stride, int64_t n_pos, float *max,  \
                         float *sum, float *acc)                                   \
    {                                                                              \
        attn_blocks(hd, n_q, q, k, v, stride, n_pos, max, sum, acc, true, rows);   \
    }

#endif
