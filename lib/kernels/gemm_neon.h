/* The matrix-matrix products (phi_gemm_fn) of neon.c and neon_dotprod.c:
 * gemm_tiles.h's register tiles of rm weight rows × rn activation columns,
 * so that a weight block is loaded and unpacked (neon_blocks.h) once for rn
 * columns and an activation block once for rm rows. The integer dots go
 * through the including file's neon_dot, so each ARM level compiles them
 * with its own instructions (neon.c installs every type, neon_dotprod.c
 * overrides the quantized ones). Families:
 *   float (F32, F16, BF16 against F32): 4 lanes;
 *   blocks of 32 (Q8_0, Q4_0, Q5_0, IQ4_NL against Q8_0; Q4_1, Q5_1 against
 *       Q8_1): the block's signed q against each column, one float FMA per
 *       block; the offsets m·s of a column as one vector across the rows;
 *   super-blocks (Q2_K .. Q6_K, IQ4_XS against Q8_K): each row's unpacked
 *       once to signed q and 16 group scales, used for a group of columns.
 * Per output the integer sums are the vec_dot's; for the super-blocks so is
 * the float arithmetic (neon_superblock_sum, one super-block at a time), so
 * the outputs equal vec_dot's to the bit; the others differ only in the
 * order of the float additions.
 *
 * The including file defines the integer families' tiles (GEMM_RM_B32,
 * GEMM_RN_B32, GEMM_RM_K, GEMM_RN_K; gemm_tiles.h) before it. */
#ifndef PHI_KERNELS_GEMM_NEON_H
#define PHI_KERNELS_GEMM_NEON_H

#include <arm_neon.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/fp16.h"
#include "kernels/neon_blocks.h"
#include "kernels/quant_blocks.h"

/* The float family is the same on both levels: 4 × 5 (20 accumulators, 4
 * weight vectors, 1 activation), which GCC allocates without spills. */
enum { GEMM_FLANES = 4, GEMM_RM_F = 4, GEMM_RN_F = 5 };

/* ---- gemm_tiles.h's float vector ---------------------------------------- */

typedef float32x4_t gemm_fv;

static inline gemm_fv gemm_fzero(void)
{
    return vdupq_n_f32(0.0f);
}

static inline gemm_fv gemm_fload(const float *p)
{
    return vld1q_f32(p);
}

/* A bfloat16 is the top half of a float, so widening it is a shift. */
static inline gemm_fv gemm_fload_w(uint32_t type, const uint8_t *row, int64_t i)
{
    if (type == PHI_DT_F32)
        return vld1q_f32((const float *)row + i);
    uint16x4_t h = vld1_u16((const uint16_t *)row + i);
    if (type == PHI_DT_BF16)
        return vreinterpretq_f32_u32(vshll_n_u16(h, 16));
    return vcvt_f32_f16(vreinterpret_f16_u16(h));
}

static inline gemm_fv gemm_ffma(gemm_fv a, gemm_fv b, gemm_fv c)
{
    return vfmaq_f32(c, a, b);
}

static inline float gemm_fsum(gemm_fv v)
{
    return vaddvq_f32(v);
}

static inline float gemm_f16_to_f32(uint16_t h)
{
    return neon_fp16_to_f32(h);
}

/* ---- K-quants: the decoded row ------------------------------------------ */

/* Signed q in element order (neon_blocks.h's unpacking), the scale of each
 * group of 16 elements, and its min times the activation's bsums (Q2_K,
 * Q4_K, Q5_K; zero for Q3_K and Q6_K, whose offsets are in q, so that their
 * msum is vec_dot's 0). */
typedef struct {
    _Alignas(16) int8_t q[PHI_QK_K];
    int8_t scale[PHI_QK_K / 16];
    uint8_t min[PHI_QK_K / 16];
    float d, dmin;
} superblock_decoded;

/* One output across super-blocks, summed as vec_dot sums them. */
typedef float gemm_kacc;

#include "kernels/gemm_tiles.h"

/* ---- blocks of 32 against Q8_0 / Q8_1 ---------------------------------- */

static inline bool gemm_block32_type(uint32_t type)
{
    return type == PHI_DT_Q8_0 || type == PHI_DT_Q4_0 || type == PHI_DT_Q4_1 ||
           type == PHI_DT_Q5_0 || type == PHI_DT_Q5_1 || type == PHI_DT_IQ4_NL;
}

/* The exact Σ q·a of each (row, column) times d_w·d_a per block, in
 * neon_add_block32's float operations. */
static inline __attribute__((always_inline)) void gemm_tile_block32(
    int64_t n, uint32_t type, int rm, int rn, const uint8_t *const w[GEMM_MAX_RM],
    const uint8_t *a, size_t a_stride, float out[GEMM_MAX_RM][GEMM_MAX_RN])
{
    const bool offset = phi_block32_has_offset(type);
    const size_t w_bytes = phi_block32_bytes(type);
    const size_t a_bytes = offset ? sizeof(phi_block_q8_1) : sizeof(phi_block_q8_0);
    const size_t a_qs = offset ? offsetof(phi_block_q8_1, qs) : offsetof(phi_block_q8_0, qs);
    float32x4_t acc[GEMM_MAX_RM][GEMM_MAX_RN];
    float32x4_t offsets[GEMM_MAX_RN]; /* lane r: row r's Σ m_w·s_a */
#pragma GCC unroll 6
    for (int c = 0; c < rn; c++) {
        offsets[c] = vdupq_n_f32(0.0f);
#pragma GCC unroll 4
        for (int r = 0; r < rm; r++)
            acc[r][c] = vdupq_n_f32(0.0f);
    }
    for (int64_t i = 0; i < n / PHI_QK32; i++) {
        neon_q32 wv[GEMM_MAX_RM];
        /* the rows' fp16 d (and m) as lanes of one vector: the scales of a
         * column are then one multiply and one register */
        uint16x4_t dh = vdup_n_u16(0), mh = dh;
#pragma GCC unroll 4
        for (int r = 0; r < rm; r++) {
            const uint8_t *x = w[r] + (size_t)i * w_bytes;
            wv[r] = neon_block32_values(type, x);
            dh[r] = phi_load_u16(x);
            if (offset)
                mh[r] = phi_load_u16(x + 2);
        }
        float32x4_t dw = vcvt_f32_f16(vreinterpret_f16_u16(dh));
        float32x4_t mw = vcvt_f32_f16(vreinterpret_f16_u16(mh));
#pragma GCC unroll 6
        for (int c = 0; c < rn; c++) {
            const uint8_t *y = a + (size_t)c * a_stride + (size_t)i * a_bytes;
            float32x4_t d = vmulq_n_f32(dw, neon_fp16_to_f32(phi_load_u16(y)));
            if (offset)
                offsets[c] = vfmaq_n_f32(offsets[c], mw, neon_fp16_to_f32(phi_load_u16(y + 2)));
#pragma GCC unroll 4
            for (int r = 0; r < rm; r++) {
                int32x4_t p = neon_dot32(wv[r], (const int8_t *)(y + a_qs));
                acc[r][c] = vfmaq_n_f32(acc[r][c], vcvtq_f32_s32(p), d[r]);
            }
        }
    }
#pragma GCC unroll 6
    for (int c = 0; c < rn; c++) {
        float off[4];
        vst1q_f32(off, offsets[c]);
#pragma GCC unroll 4
        for (int r = 0; r < rm; r++)
            out[r][c] = vaddvq_f32(acc[r][c]) + off[r];
    }
}

/* ---- super-blocks against Q8_K ------------------------------------------ */

static inline bool gemm_superblock_type(uint32_t type)
{
    return type == PHI_DT_Q2_K || type == PHI_DT_Q3_K || type == PHI_DT_Q4_K ||
           type == PHI_DT_Q5_K || type == PHI_DT_Q6_K || type == PHI_DT_IQ4_XS;
}

static inline void decode_q23_k(const uint8_t *x, bool q3, superblock_decoded *o)
{
    const phi_block_q2_k *x2 = (const phi_block_q2_k *)x;
    const phi_block_q3_k *x3 = (const phi_block_q3_k *)x;
    const uint8_t *qs = q3 ? x3->qs : x2->qs;
    vst1q_u8(o->min, neon_q23k_scales(x, q3, o->scale));
    uint8x16_t hmask[2] = {vdupq_n_u8(0), vdupq_n_u8(0)};
    if (q3) {
        hmask[0] = vld1q_u8(x3->hmask);
        hmask[1] = vld1q_u8(x3->hmask + 16);
    }
    o->d = neon_fp16_to_f32(q3 ? x3->d : x2->d);
    o->dmin = q3 ? 0.0f : neon_fp16_to_f32(x2->dmin);
    for (int h = 0; h < 2; h++)
        for (int half = 0; half < 2; half++) {
            uint8x16_t q = vld1q_u8(qs + 32 * h + 16 * half);
            for (int j = 0; j < 4; j++)
                vst1q_s8(o->q + 128 * h + 32 * j + 16 * half,
                         neon_q23k_values(q, hmask[half], h, j, q3));
        }
}

static inline void decode_q45_k(const uint8_t *x, bool q5, superblock_decoded *o)
{
    const phi_block_q4_k *x4 = (const phi_block_q4_k *)x;
    const phi_block_q5_k *x5 = (const phi_block_q5_k *)x;
    const uint8_t *qs = q5 ? x5->qs : x4->qs;
    uint8_t sc[8], m[8];
    phi_unpack_q4k_scales(q5 ? x5->scales : x4->scales, sc, m);
    vst1q_s8(o->scale, vreinterpretq_s8_u8(neon_per_group16(vld1_u8(sc))));
    vst1q_u8(o->min, neon_per_group16(vld1_u8(m)));
    o->d = neon_fp16_to_f32(q5 ? x5->d : x4->d);
    o->dmin = neon_fp16_to_f32(q5 ? x5->dmin : x4->dmin);
    for (int half = 0; half < 2; half++) {
        uint8x16_t qh = q5 ? vld1q_u8(x5->qh + 16 * half) : vdupq_n_u8(0);
        for (int c = 0; c < 4; c++) {
            int8x16x2_t v = neon_q45k_values(qs, qh, c, half, q5);
            vst1q_s8(o->q + 64 * c + 16 * half, v.val[0]);
            vst1q_s8(o->q + 64 * c + 32 + 16 * half, v.val[1]);
        }
    }
}

static inline void decode_q6_k(const uint8_t *x, superblock_decoded *o)
{
    const phi_block_q6_k *b = (const phi_block_q6_k *)x;
    vst1q_s8(o->scale, vld1q_s8(b->scales));
    vst1q_u8(o->min, vdupq_n_u8(0));
    o->d = neon_fp16_to_f32(b->d);
    o->dmin = 0.0f;
    for (int h = 0; h < 2; h++)
        for (int k = 0; k < 2; k++) {
            int8x16_t q[4];
            neon_q6k_values(b, h, k, q);
            for (int g = 0; g < 4; g++)
                vst1q_s8(o->q + 128 * h + 32 * g + 16 * k, q[g]);
        }
}

/* Each sub-block's scale serves its two groups of 16. */
static inline void decode_iq4_xs(const uint8_t *x, superblock_decoded *o)
{
    const phi_block_iq4_xs *b = (const phi_block_iq4_xs *)x;
    vst1q_u8(o->min, vdupq_n_u8(0));
    o->d = neon_fp16_to_f32(b->d);
    o->dmin = 0.0f;
    for (int ib = 0; ib < 8; ib++) {
        neon_q32 v = neon_iq4nl(b->qs + 16 * ib);
        vst1q_s8(o->q + 32 * ib, v.val[0]);
        vst1q_s8(o->q + 32 * ib + 16, v.val[1]);
        o->scale[2 * ib] = o->scale[2 * ib + 1] = (int8_t)phi_iq4xs_scale(b, ib);
    }
}

/* Each decoder serves the types that share its layout. */
static inline void superblock_decode(uint32_t type, const uint8_t *x, superblock_decoded *o)
{
    if (type == PHI_DT_Q2_K || type == PHI_DT_Q3_K)
        decode_q23_k(x, type == PHI_DT_Q3_K, o);
    else if (type == PHI_DT_Q4_K || type == PHI_DT_Q5_K)
        decode_q45_k(x, type == PHI_DT_Q5_K, o);
    else if (type == PHI_DT_Q6_K)
        decode_q6_k(x, o);
    else
        decode_iq4_xs(x, o);
}

static inline gemm_kacc gemm_kacc_zero(void)
{
    return 0.0f;
}

static inline float gemm_kacc_sum(gemm_kacc acc)
{
    return acc;
}

/* Columns [c0, c0 + rn) of a group against the rm decoded rows of a
 * super-block: per (row, column) the exact isum = Σ_g scale_g·Σ q·a and
 * msum = Σ_g min_g·bsums[g], then neon_superblock_sum as in vec_dot. */
static inline __attribute__((always_inline)) void gemm_tile_superblock(
    int rm, int rn, const superblock_decoded dec[GEMM_MAX_RM], const phi_block_q8_k *const y[],
    gemm_kacc acc[GEMM_MAX_RM][GEMM_COL_GROUP], int c0)
{
    int32x4_t isum[GEMM_MAX_RM][GEMM_MAX_RN] = {{vdupq_n_s32(0)}}; /* all zero */
    for (int g = 0; g < PHI_QK_K / 16; g++) {
        int8x16_t q[GEMM_MAX_RM];
#pragma GCC unroll 4
        for (int r = 0; r < rm; r++)
            q[r] = vld1q_s8(dec[r].q + 16 * g);
#pragma GCC unroll 6
        for (int c = 0; c < rn; c++)
#pragma GCC unroll 4
            for (int r = 0; r < rm; r++)
                isum[r][c] = neon_scaled16(isum[r][c], dec[r].scale[g], q[r], y[c]->qs + 16 * g);
    }
#pragma GCC unroll 6
    for (int c = 0; c < rn; c++)
#pragma GCC unroll 4
        for (int r = 0; r < rm; r++) {
            int32_t msum = neon_min_sum(vld1q_u8(dec[r].min), y[c]->bsums);
            acc[r][c0 + c] += neon_superblock_sum(y[c], dec[r].d, dec[r].dmin, isum[r][c], msum);
        }
}

/* The float types, as X(TYPE, name): they have no integer dot, so
 * neon_dotprod.c keeps neon.c's gemm for them. Every block type has one
 * (PHI_BLOCK32_TYPES, PHI_SUPERBLOCK_TYPES). */
#define PHI_NEON_GEMM_FLOAT_TYPES(X) X(F32, f32) X(F16, f16) X(BF16, bf16)

#endif
