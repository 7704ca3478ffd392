/* Helpers the AVX2 and AVX-512 kernel files share: both are compiled with at
 * least -mavx2 -mfma -mf16c, and nothing else includes this. Per block, not
 * per element: unpacking nibbles and the packed sub-scales of the K-quants
 * straight into vectors (going through memory would stall on the store
 * forwarding of the narrow stores). Then the polynomial exp and the
 * element-wise kernels, the same at both levels. */
#ifndef PHI_KERNELS_X86_SHARED_H
#define PHI_KERNELS_X86_SHARED_H

#include <immintrin.h>
#include <stdbool.h>
#include <string.h>

#include "kernels/exp_poly.h"
#include "kernels/fp16.h"
#include "kernels/quant_blocks.h"

/* The 32 nibbles of 16 bytes in element order: low nibbles (elements 0..15)
 * in the low lane, high nibbles (16..31) in the high lane. */
static inline __m256i nibbles32(const uint8_t *qs)
{
    __m128i q = _mm_loadu_si128((const __m128i *)qs);
    return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(q, 4), q), _mm256_set1_epi8(0x0f));
}

/* The fp16 header of blocks p and p + stride (the second only when
 * `second`) as 32 bits each: d, and m or s after it for the offset types. */
static inline uint32_t header_pair(const uint8_t *p, size_t stride, bool second, bool offset)
{
    if (offset)
        return phi_load_u32(p);
    return phi_load_u16(p) | (second ? (uint32_t)phi_load_u16(p + stride) << 16 : 0);
}

/* The scales of weight blocks x, x + x_stride against activation blocks y,
 * y + y_stride: [d_w·d_a, d_w'·d_a'] in lanes 0 and 1, or for the offset
 * types [d_w·d_a, m_w·s_a, d_w'·d_a', m_w'·s_a'] (one conversion for all
 * the halves). */
static inline __m128 pair_scales(const uint8_t *x, size_t x_stride, const uint8_t *y,
                                 size_t y_stride, bool second, bool offset)
{
    __m128i wx = _mm_cvtsi32_si128((int)header_pair(x, x_stride, second, offset));
    __m128i ay = _mm_cvtsi32_si128((int)header_pair(y, y_stride, second, offset));
    if (offset) {
        wx = _mm_insert_epi32(wx, second ? (int)phi_load_u32(x + x_stride) : 0, 1);
        ay = _mm_insert_epi32(ay, second ? (int)phi_load_u32(y + y_stride) : 0, 1);
        __m256 v = _mm256_cvtph_ps(_mm_unpacklo_epi64(wx, ay));
        return _mm_mul_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    }
    __m128 v = _mm_cvtph_ps(_mm_unpacklo_epi32(wx, ay)); /* [d_w, d_w', d_a, d_a'] */
    return _mm_mul_ps(v, _mm_movehl_ps(v, v));
}

/* Q4_K / Q5_K (phi_unpack_q4k_scales in vector form): the 8 scales then the
 * 8 mins as int16, from the block's first 16 bytes (d, dmin, scales[12]). */
static inline __m256i q4k_scales_mins(const void *block)
{
    __m128i v = _mm_loadu_si128((const __m128i *)block);    /* [d|dmin, w0, w1, w2] */
    __m128i a = _mm_shuffle_epi32(v, _MM_SHUFFLE(3, 2, 3, 1)); /* [w0, w2, w1, w2] */
    __m128i b = _mm_shuffle_epi32(v, _MM_SHUFFLE(2, 2, 1, 1)); /* [w0, w0, w1, w1] */
    __m128i low = _mm_and_si128(_mm_srlv_epi32(a, _mm_setr_epi32(0, 0, 0, 4)),
                                _mm_setr_epi32(0x3f3f3f3f, 0x0f0f0f0f, 0x3f3f3f3f, 0x0f0f0f0f));
    __m128i high = _mm_and_si128(_mm_srli_epi32(b, 2),
                                 _mm_setr_epi32(0, 0x30303030, 0, 0x30303030));
    return _mm256_cvtepu8_epi16(_mm_or_si128(low, high));
}

/* Byte j = 0x10 where bit j of the Q5 block's qh is set: bit 4 of element j. */
static inline __m256i q5_high_bits(const uint8_t qh[4])
{
    const __m256i spread = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                            2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i bit = _mm256_set1_epi64x(0x8040201008040201);
    __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)phi_load_u32(qh)), spread);
    __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(v, bit), bit);
    return _mm256_and_si256(set, _mm256_set1_epi8(0x10));
}

static inline __m256i iq4nl_table(void)
{
    return _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)phi_iq4nl_values));
}

/* int16 element k of each 128-bit lane, broadcast over that lane: the
 * shuffle control. */
static inline __m256i pick16(int lo, int hi)
{
    return _mm256_setr_m128i(_mm_set1_epi16((short)(2 * lo | (2 * lo + 1) << 8)),
                             _mm_set1_epi16((short)(2 * hi | (2 * hi + 1) << 8)));
}

/* Bit s of every byte moved to bit `to` (the rest cleared); s and to are
 * constants after inlining. */
static inline __m256i move_bit(__m256i v, int s, int to)
{
    __m256i m = _mm256_set1_epi8((char)(1 << to));
    if (s > to)
        return _mm256_and_si256(_mm256_srli_epi16(v, s - to), m);
    return _mm256_and_si256(_mm256_slli_epi16(v, to - s), m);
}

/* e^x to about 2 ulp by exp_poly.h's polynomial: exactly 1 at 0, 0 below
 * EXP_MIN and at -inf, +inf from EXP_MAX up, NaN for NaN (max and min
 * return their second operand, x, when x is NaN). */
static inline __m256 exp8_ps(__m256 x)
{
    const __m256 lo = _mm256_set1_ps(EXP_MIN);
    __m256 underflow = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
    x = _mm256_min_ps(_mm256_set1_ps(EXP_MAX), _mm256_max_ps(lo, x));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(EXP_LOG2E)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(EXP_LN2_HI), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(EXP_LN2_LO), r);
    __m256 p = _mm256_set1_ps(exp_poly[0]);
    for (int c = 1; c < 6; c++)
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(exp_poly[c]));
    p = _mm256_fmadd_ps(_mm256_mul_ps(p, r), r, _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i e = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
    e = _mm256_slli_epi32(e, 23); /* 2^n */
    return _mm256_andnot_ps(underflow, _mm256_mul_ps(p, _mm256_castsi256_ps(e)));
}

/* The element-wise kernels of both levels: 256 bits are plenty for vectors
 * of a few thousand floats per token. A tail goes through the same vector
 * code on a zero-padded copy, so every element sees the same arithmetic. */
static inline __m256 swiglu8(__m256 g, __m256 u)
{
    __m256 e = exp8_ps(_mm256_sub_ps(_mm256_setzero_ps(), g));
    return _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(_mm256_set1_ps(1.0f), e)), u);
}

static void x86_swiglu_f32(int64_t n, const float *gate, const float *up, float *out)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, swiglu8(_mm256_loadu_ps(gate + i), _mm256_loadu_ps(up + i)));
    if (i < n) {
        float gt[8] = {0}, ut[8] = {0}, ot[8];
        memcpy(gt, gate + i, (size_t)(n - i) * sizeof(float));
        memcpy(ut, up + i, (size_t)(n - i) * sizeof(float));
        _mm256_storeu_ps(ot, swiglu8(_mm256_loadu_ps(gt), _mm256_loadu_ps(ut)));
        memcpy(out + i, ot, (size_t)(n - i) * sizeof(float));
    }
}

static void x86_f32_to_f16(int64_t n, const float *x, uint16_t *h)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(h + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    if (i < n) {
        float xt[8] = {0};
        uint16_t ht[8];
        memcpy(xt, x + i, (size_t)(n - i) * sizeof(float));
        _mm_storeu_si128((__m128i *)ht,
                         _mm256_cvtps_ph(_mm256_loadu_ps(xt), _MM_FROUND_TO_NEAREST_INT));
        memcpy(h + i, ht, (size_t)(n - i) * sizeof(uint16_t));
    }
}

/* The per-type entry points of the K-quant dots of either level, over its
 * dot_q23_k and dot_q45_k. */
#define PHI_X86_K_ENTRY(name, dot, flag)                                       \
    static float vec_dot_##name(int64_t n, const void *w, const void *a)       \
    {                                                                          \
        return dot(n, w, a, flag);                                             \
    }
#define PHI_X86_K_ENTRIES                                                      \
    PHI_X86_K_ENTRY(q2_k, dot_q23_k, false)                                    \
    PHI_X86_K_ENTRY(q3_k, dot_q23_k, true)                                     \
    PHI_X86_K_ENTRY(q4_k, dot_q45_k, false)                                    \
    PHI_X86_K_ENTRY(q5_k, dot_q45_k, true)

/* Q3_K (phi_unpack_q3k_scales in vector form): the 16 scales minus 32 as
 * int16. The 16 bytes at offset 94 end with the block's d, so the load stays
 * inside the block; the scales are bytes 2..13 of it. */
static inline __m256i q3k_scales(const phi_block_q3_k *x)
{
    __m128i v = _mm_srli_si128(_mm_loadu_si128((const __m128i *)((const uint8_t *)x + 94)), 2);
    __m128i w01 = _mm_shuffle_epi32(v, _MM_SHUFFLE(1, 0, 1, 0)); /* [w0, w1, w0, w1] */
    __m128i w2 = _mm_shuffle_epi32(v, _MM_SHUFFLE(2, 2, 2, 2));
    __m128i low = _mm_and_si128(_mm_srlv_epi32(w01, _mm_setr_epi32(0, 0, 4, 4)),
                                _mm_set1_epi8(0x0f));
    __m128i high = _mm_srlv_epi32(_mm_sllv_epi32(w2, _mm_setr_epi32(4, 2, 0, 0)),
                                  _mm_setr_epi32(0, 0, 0, 2));
    __m128i s = _mm_or_si128(low, _mm_and_si128(high, _mm_set1_epi8(0x30)));
    return _mm256_cvtepi8_epi16(_mm_sub_epi8(s, _mm_set1_epi8(32)));
}

/* Q2_K: the 16 scales (low nibbles) and mins (high nibbles) as int16. */
static inline void q2k_scales_mins(const phi_block_q2_k *x, __m256i *scales, __m256i *mins)
{
    __m128i b = _mm_loadu_si128((const __m128i *)x->scales);
    *scales = _mm256_cvtepu8_epi16(_mm_and_si128(b, _mm_set1_epi8(0x0f)));
    *mins = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(b, 4), _mm_set1_epi8(0x0f)));
}

/* IQ4_XS (phi_iq4xs_scale in vector form): the 8 sub-block scales minus 32
 * as int16. */
static inline __m128i iq4xs_scales(const phi_block_iq4_xs *x)
{
    __m128i l = _mm_cvtsi32_si128((int)phi_load_u32(x->scales_l));
    __m128i low = _mm_unpacklo_epi8(_mm_and_si128(l, _mm_set1_epi8(0x0f)),
                                    _mm_and_si128(_mm_srli_epi16(l, 4), _mm_set1_epi8(0x0f)));
    __m128i h = _mm_set1_epi32(x->scales_h), three = _mm_set1_epi32(3);
    __m128i h03 = _mm_and_si128(_mm_srlv_epi32(h, _mm_setr_epi32(0, 2, 4, 6)), three);
    __m128i h47 = _mm_and_si128(_mm_srlv_epi32(h, _mm_setr_epi32(8, 10, 12, 14)), three);
    __m128i high = _mm_packs_epi32(h03, h47);
    return _mm_sub_epi16(_mm_or_si128(_mm_cvtepu8_epi16(low), _mm_slli_epi16(high, 4)),
                         _mm_set1_epi16(32));
}

#endif
