/* The matrix-matrix products (phi_gemm_fn) shared by avx2.c and avx512.c:
 * register tiles of rm weight rows × rn activation columns (walked by
 * gemm_tiles.h), so that a weight block is loaded and decoded once for rn
 * columns and an activation block once for rm rows. Three families:
 *   float (F32, F16, BF16 against F32): the ISA's full vector width;
 *   blocks of 32 without an offset (Q8_0, Q4_0, Q5_0, IQ4_NL against Q8_0):
 *       signed int8 weights, the sign trick, one float FMA per block;
 *   K-quants (Q2_K .. Q6_K against Q8_K): each row's super-block decoded once
 *       (superblock_decode) into unsigned quants and per-pair int16 scales,
 *       then used for every column of the call.
 * Per output the integer sums are the vec_dot's; only the order of the float
 * additions differs (8 or 16 lanes per block, the min / offset part apart).
 *
 * The including file defines before it (all always inline; rm, rn are
 * constants at each call site):
 *   the float vector of gemm_tiles.h (gemm_fv, GEMM_FLANES, gemm_fzero,
 *       gemm_fload, gemm_fload_w, gemm_ffma, gemm_fsum);
 *   __m256i gemm_dot_i8(__m256i u, __m256i a): Σ u·a of each 4 bytes (u
 *       unsigned, a signed; pair sums below 2^15) as 8 int32;
 *   __m256i gemm_dot_scaled(__m256i acc, __m256i u, __m256i a, __m256i s):
 *       acc + Σ s·u·a with maddubs pairs times the int16 s;
 *   GEMM_RM_F, GEMM_RN_F, GEMM_RM_B32, GEMM_RN_B32, GEMM_RM_K, GEMM_RN_K:
 *       the tile of each family (rm <= GEMM_MAX_RM, rn <= GEMM_MAX_RN). */
#ifndef PHI_KERNELS_GEMM_X86_H
#define PHI_KERNELS_GEMM_X86_H

#include <immintrin.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/attn_x86.h"
#include "kernels/fp16.h"
#include "kernels/quant_blocks.h"
#include "kernels/x86_shared.h"

/* The K-quant family's decoded row (gemm_tiles.h): a super-block as
 * x_e = d·scale·u_e - dmin·min (scalar.c's superblock with the offsets of
 * Q3_K and Q6_K moved into min): u unsigned (0..63), scale repeated for
 * each int16 pair of maddubs' output. */
typedef struct {
    _Alignas(32) uint8_t u[PHI_QK_K];
    _Alignas(32) int16_t scale[PHI_QK_K / 2]; /* elements 2k, 2k+1: their group's */
    _Alignas(32) int16_t min[PHI_QK_K / 16];  /* times the activation's bsums */
    float d, dmin;
} superblock_decoded;

/* One output's K-quant sum across super-blocks: 8 lanes, added at the end. */
typedef __m256 gemm_kacc;

/* F16 to float for the float family's last elements (F16C, exact). */
static inline float gemm_f16_to_f32(uint16_t h)
{
    return _cvtsh_ss(h);
}

#include "kernels/gemm_tiles.h"

/* ---- blocks of 32 against Q8_0 ----------------------------------------- */

static inline bool gemm_block32_type(uint32_t type)
{
    return type == PHI_DT_Q8_0 || type == PHI_DT_Q4_0 || type == PHI_DT_Q5_0 ||
           type == PHI_DT_IQ4_NL;
}

/* The 32 weights of one block as int8 (all within -128..127). */
static inline __m256i block32_signed(uint32_t type, const uint8_t *x)
{
    switch (type) {
    case PHI_DT_Q8_0:
        return _mm256_loadu_si256((const __m256i *)((const phi_block_q8_0 *)x)->qs);
    case PHI_DT_Q4_0:
        return _mm256_sub_epi8(nibbles32(((const phi_block_q4_0 *)x)->qs), _mm256_set1_epi8(8));
    case PHI_DT_Q5_0: {
        const phi_block_q5_0 *b = (const phi_block_q5_0 *)x;
        __m256i u = _mm256_or_si256(nibbles32(b->qs), q5_high_bits(b->qh));
        return _mm256_sub_epi8(u, _mm256_set1_epi8(16));
    }
    default:
        return _mm256_shuffle_epi8(iq4nl_table(), nibbles32(((const phi_block_iq4_nl *)x)->qs));
    }
}

static inline __attribute__((always_inline)) void gemm_tile_block32(
    int64_t n, uint32_t type, int rm, int rn, const uint8_t *const w[GEMM_MAX_RM],
    const uint8_t *a, size_t a_stride, float out[GEMM_MAX_RM][GEMM_MAX_RN])
{
    const size_t w_bytes = phi_block32_bytes(type), a_bytes = sizeof(phi_block_q8_0);
    __m256 acc[GEMM_MAX_RM][GEMM_MAX_RN];
#pragma GCC unroll 6
    for (int c = 0; c < rn; c++)
#pragma GCC unroll 4
        for (int r = 0; r < rm; r++)
            acc[r][c] = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / PHI_QK32; i++) {
        __m256i wv[GEMM_MAX_RM], wabs[GEMM_MAX_RM];
        __m256 dw[GEMM_MAX_RM];
#pragma GCC unroll 4
        for (int r = 0; r < rm; r++) {
            const uint8_t *x = w[r] + (size_t)i * w_bytes;
            wv[r] = block32_signed(type, x);
            wabs[r] = _mm256_sign_epi8(wv[r], wv[r]);
            dw[r] = _mm256_set1_ps(_cvtsh_ss(phi_load_u16(x)));
        }
#pragma GCC unroll 6
        for (int c = 0; c < rn; c++) {
            const phi_block_q8_0 *y =
                (const phi_block_q8_0 *)(a + (size_t)c * a_stride + (size_t)i * a_bytes);
            __m256i av = _mm256_loadu_si256((const __m256i *)y->qs);
            __m256 da = _mm256_set1_ps(_cvtsh_ss(y->d));
#pragma GCC unroll 4
            for (int r = 0; r < rm; r++) {
                __m256i p = gemm_dot_i8(wabs[r], _mm256_sign_epi8(av, wv[r]));
                acc[r][c] = _mm256_fmadd_ps(dw[r], _mm256_mul_ps(da, _mm256_cvtepi32_ps(p)),
                                            acc[r][c]);
            }
        }
    }
    for (int r = 0; r < rm; r++)
        for (int c = 0; c < rn; c++)
            out[r][c] = hsum_ps(acc[r][c]);
}

/* ---- K-quants against Q8_K ------------------------------------------- */

static inline bool gemm_superblock_type(uint32_t type)
{
    return type == PHI_DT_Q2_K || type == PHI_DT_Q3_K || type == PHI_DT_Q4_K ||
           type == PHI_DT_Q5_K || type == PHI_DT_Q6_K;
}

/* The 16 group scales as int16 (low lane groups 0-7) to one per pair. */
static inline void put_pair_scales(superblock_decoded *o, __m256i groups)
{
    __m256i lo = _mm256_permute2x128_si256(groups, groups, 0x00);
    __m256i hi = _mm256_permute2x128_si256(groups, groups, 0x11);
#pragma GCC unroll 8
    for (int j = 0; j < 8; j++)
        _mm256_store_si256((__m256i *)(o->scale + 16 * j),
                           _mm256_shuffle_epi8(j < 4 ? lo : hi, pick16(2 * (j % 4), 2 * (j % 4) + 1)));
}

/* 8 int16 (per 32 elements) to 16 (per 16). */
static inline __m256i per_group16(__m128i v)
{
    return _mm256_setr_m128i(_mm_unpacklo_epi16(v, v), _mm_unpackhi_epi16(v, v));
}

static inline void decode_q23_k(const uint8_t *x, bool q3, superblock_decoded *o)
{
    const phi_block_q2_k *x2 = (const phi_block_q2_k *)x;
    const phi_block_q3_k *x3 = (const phi_block_q3_k *)x;
    const uint8_t *qs = q3 ? x3->qs : x2->qs;
    __m256i scales, hmask = _mm256_setzero_si256();
    if (q3) {
        scales = q3k_scales(x3);
        hmask = _mm256_loadu_si256((const __m256i *)x3->hmask);
        _mm256_store_si256((__m256i *)o->min, _mm256_slli_epi16(scales, 2)); /* q = u - 4 */
        o->d = o->dmin = _cvtsh_ss(x3->d);
    } else {
        __m256i mins;
        q2k_scales_mins(x2, &scales, &mins);
        _mm256_store_si256((__m256i *)o->min, mins);
        o->d = _cvtsh_ss(x2->d);
        o->dmin = _cvtsh_ss(x2->dmin);
    }
    put_pair_scales(o, scales);
#pragma GCC unroll 2
    for (int h = 0; h < 2; h++) {
        __m256i q = _mm256_loadu_si256((const __m256i *)(qs + 32 * h));
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) {
            __m256i u = _mm256_and_si256(_mm256_srli_epi16(q, 2 * j), _mm256_set1_epi8(3));
            if (q3)
                u = _mm256_or_si256(u, move_bit(hmask, 4 * h + j, 2));
            _mm256_store_si256((__m256i *)(o->u + 128 * h + 32 * j), u);
        }
    }
}

static inline void decode_q45_k(const uint8_t *x, bool q5, superblock_decoded *o)
{
    const phi_block_q4_k *x4 = (const phi_block_q4_k *)x;
    const phi_block_q5_k *x5 = (const phi_block_q5_k *)x;
    const uint8_t *qs = q5 ? x5->qs : x4->qs;
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    __m256i scm = q4k_scales_mins(x);
    _mm256_store_si256((__m256i *)o->min, per_group16(_mm256_extracti128_si256(scm, 1)));
    put_pair_scales(o, per_group16(_mm256_castsi256_si128(scm)));
    o->d = _cvtsh_ss(q5 ? x5->d : x4->d);
    o->dmin = _cvtsh_ss(q5 ? x5->dmin : x4->dmin);
    __m256i qh = q5 ? _mm256_loadu_si256((const __m256i *)x5->qh) : _mm256_setzero_si256();
#pragma GCC unroll 4
    for (int c = 0; c < 4; c++) {
        __m256i q = _mm256_loadu_si256((const __m256i *)(qs + 32 * c));
        __m256i lo = _mm256_and_si256(q, low4);
        __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low4);
        if (q5) {
            lo = _mm256_or_si256(lo, move_bit(qh, 2 * c, 4));
            hi = _mm256_or_si256(hi, move_bit(qh, 2 * c + 1, 4));
        }
        _mm256_store_si256((__m256i *)(o->u + 64 * c), lo);
        _mm256_store_si256((__m256i *)(o->u + 64 * c + 32), hi);
    }
}

/* Q6_K: q = u - 32 with u's bits 4-5 from qh. */
static inline void decode_q6_k(const uint8_t *x, superblock_decoded *o)
{
    const phi_block_q6_k *b = (const phi_block_q6_k *)x;
    const __m256i low4 = _mm256_set1_epi8(0x0f), bits45 = _mm256_set1_epi8(0x30);
    __m256i scales = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)b->scales));
    _mm256_store_si256((__m256i *)o->min, _mm256_slli_epi16(scales, 5));
    put_pair_scales(o, scales);
    o->d = o->dmin = _cvtsh_ss(b->d);
#pragma GCC unroll 2
    for (int h = 0; h < 2; h++) {
        __m256i q0 = _mm256_loadu_si256((const __m256i *)(b->ql + 64 * h));
        __m256i q1 = _mm256_loadu_si256((const __m256i *)(b->ql + 64 * h + 32));
        __m256i qh = _mm256_loadu_si256((const __m256i *)(b->qh + 32 * h));
        __m256i low[4] = {q0, q1, _mm256_srli_epi16(q0, 4), _mm256_srli_epi16(q1, 4)};
#pragma GCC unroll 4
        for (int g = 0; g < 4; g++) {
            __m256i high = g < 3 ? _mm256_slli_epi16(qh, 4 - 2 * g) : _mm256_srli_epi16(qh, 2);
            high = _mm256_and_si256(high, bits45);
            _mm256_store_si256((__m256i *)(o->u + 128 * h + 32 * g),
                               _mm256_or_si256(_mm256_and_si256(low[g], low4), high));
        }
    }
}

static inline void superblock_decode(uint32_t type, const uint8_t *x, superblock_decoded *o)
{
    switch (type) {
    case PHI_DT_Q2_K: decode_q23_k(x, false, o); break;
    case PHI_DT_Q3_K: decode_q23_k(x, true, o); break;
    case PHI_DT_Q4_K: decode_q45_k(x, false, o); break;
    case PHI_DT_Q5_K: decode_q45_k(x, true, o); break;
    default: decode_q6_k(x, o); break;
    }
}

/* Columns [c0, c0 + rn) of a group against the rm decoded rows of a
 * super-block: the exact Σ scale·u·a and Σ min·bsum per (row, column),
 * scaled into acc. */
static inline __attribute__((always_inline)) void gemm_tile_superblock(
    int rm, int rn, const superblock_decoded dec[GEMM_MAX_RM], const phi_block_q8_k *const y[],
    gemm_kacc acc[GEMM_MAX_RM][GEMM_COL_GROUP], int c0)
{
    __m256i isum[GEMM_MAX_RM][GEMM_MAX_RN];
#pragma GCC unroll 6
    for (int c = 0; c < rn; c++)
#pragma GCC unroll 4
        for (int r = 0; r < rm; r++)
            isum[r][c] = _mm256_setzero_si256();
#pragma GCC unroll 2
    for (int j = 0; j < PHI_QK_K / 32; j++) {
        __m256i u[GEMM_MAX_RM], s[GEMM_MAX_RM];
#pragma GCC unroll 4
        for (int r = 0; r < rm; r++) {
            u[r] = _mm256_load_si256((const __m256i *)(dec[r].u + 32 * j));
            s[r] = _mm256_load_si256((const __m256i *)(dec[r].scale + 16 * j));
        }
#pragma GCC unroll 6
        for (int c = 0; c < rn; c++) {
            __m256i av = _mm256_loadu_si256((const __m256i *)(y[c]->qs + 32 * j));
#pragma GCC unroll 4
            for (int r = 0; r < rm; r++)
                isum[r][c] = gemm_dot_scaled(isum[r][c], u[r], av, s[r]);
        }
    }
    /* acc += d_a·(d·isum - dmin·msum) */
    __m256 d[GEMM_MAX_RM], dmin[GEMM_MAX_RM];
#pragma GCC unroll 4
    for (int r = 0; r < rm; r++) {
        d[r] = _mm256_set1_ps(dec[r].d);
        dmin[r] = _mm256_set1_ps(dec[r].dmin);
    }
#pragma GCC unroll 6
    for (int c = 0; c < rn; c++) {
        __m256i bsums = _mm256_loadu_si256((const __m256i *)y[c]->bsums);
        __m256 da = _mm256_set1_ps(y[c]->d);
#pragma GCC unroll 4
        for (int r = 0; r < rm; r++) {
            __m256i msum = _mm256_madd_epi16(_mm256_load_si256((const __m256i *)dec[r].min), bsums);
            __m256 v = _mm256_fmsub_ps(d[r], _mm256_cvtepi32_ps(isum[r][c]),
                                       _mm256_mul_ps(dmin[r], _mm256_cvtepi32_ps(msum)));
            acc[r][c0 + c] = _mm256_fmadd_ps(da, v, acc[r][c0 + c]);
        }
    }
}

static inline gemm_kacc gemm_kacc_zero(void)
{
    return _mm256_setzero_ps();
}

static inline float gemm_kacc_sum(gemm_kacc acc)
{
    return hsum_ps(acc);
}

/* The types with a gemm, as X(TYPE, name); Q4_1, Q5_1 and IQ4_XS keep the
 * vec_dot loop. */
#define PHI_X86_GEMM_TYPES(X)                                                              \
    X(F32, f32) X(F16, f16) X(BF16, bf16) X(Q8_0, q8_0) X(Q4_0, q4_0) X(Q5_0, q5_0)        \
    X(IQ4_NL, iq4_nl) X(Q2_K, q2_k) X(Q3_K, q3_k) X(Q4_K, q4_k) X(Q5_K, q5_k) X(Q6_K, q6_k)
PHI_X86_GEMM_TYPES(PHI_GEMM_ENTRY)

#endif
