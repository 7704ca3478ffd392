/* The quantized dot products of neon.c and neon_dotprod.c, which differ only
 * in how 16 int8 products become int32 lanes: each file defines neon_dot,
 * and NEON_BLOCK_DOTS writes every block type's vec_dot over it. The
 * unpacking helpers here also feed gemm_neon.h's tiles. Static inline, so
 * each file compiles them with its own instruction-set flags.
 * Every weight is unpacked to its signed integer q (all of them fit an int8:
 * -127..113 for the codebook, -32..31 or 0..31 for the rest), the sums inside
 * a block or super-block are exact in int32, and only the float part differs
 * from the scalar twin (scalar.c dot_blocks32, dot_superblocks). Block
 * layouts: ../shared/docs/gguf-and-quants.md §3. */
#ifndef PHI_KERNELS_NEON_BLOCKS_H
#define PHI_KERNELS_NEON_BLOCKS_H

#include <arm_neon.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "kernels/fp16.h"
#include "kernels/quant_blocks.h"

/* ARMv8.0 converts half to single in hardware (fcvt), exactly. */
static inline float neon_fp16_to_f32(uint16_t h)
{
    __fp16 f;
    memcpy(&f, &h, sizeof f);
    return (float)f;
}

/* acc + the 16 products w·a, as 4 int32 lanes (exact for any bytes); the
 * including file defines it. */
static inline int32x4_t neon_dot(int32x4_t acc, int8x16_t w, int8x16_t a);

/* 32 quants of a block, in element order: val[0] holds elements 0..15. */
typedef int8x16x2_t neon_q32;

/* Σ w·a over 32 elements, the activations at a. */
static inline int32x4_t neon_dot32(neon_q32 w, const int8_t *a)
{
    return neon_dot(neon_dot(vdupq_n_s32(0), w.val[0], vld1q_s8(a)), w.val[1], vld1q_s8(a + 16));
}

/* The 32 nibbles of 16 bytes in element order (low nibbles first). */
static inline neon_q32 neon_nibbles(const uint8_t *qs)
{
    uint8x16_t q = vld1q_u8(qs);
    return (neon_q32){{vreinterpretq_s8_u8(vandq_u8(q, vdupq_n_u8(0x0f))),
                       vreinterpretq_s8_u8(vshrq_n_u8(q, 4))}};
}

/* Nibbles through the IQ4_NL / IQ4_XS codebook. */
static inline neon_q32 neon_iq4nl(const uint8_t *qs)
{
    int8x16_t table = vld1q_s8(phi_iq4nl_values);
    neon_q32 i = neon_nibbles(qs);
    return (neon_q32){{vqtbl1q_s8(table, vreinterpretq_u8_s8(i.val[0])),
                       vqtbl1q_s8(table, vreinterpretq_u8_s8(i.val[1]))}};
}

/* Byte j = 0x10 where bit j of a Q5 block's qh is set: bit 4 of element j. */
static inline neon_q32 neon_q5_high(const uint8_t qh[4])
{
    static const uint8_t spread[32] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                       2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3};
    static const uint8_t bits[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
    uint8x16_t h = vreinterpretq_u8_u32(vdupq_n_u32(phi_load_u32(qh)));
    uint8x16_t bit = vld1q_u8(bits), bit4 = vdupq_n_u8(0x10);
    uint8x16_t lo = vtstq_u8(vqtbl1q_u8(h, vld1q_u8(spread)), bit);
    uint8x16_t hi = vtstq_u8(vqtbl1q_u8(h, vld1q_u8(spread + 16)), bit);
    return (neon_q32){{vreinterpretq_s8_u8(vandq_u8(lo, bit4)),
                       vreinterpretq_s8_u8(vandq_u8(hi, bit4))}};
}

/* (a | b) - sub in every byte: high bits joined to nibbles, then the
 * format's zero point taken off. */
static inline neon_q32 neon_q32_or_sub(neon_q32 a, neon_q32 b, int sub)
{
    int8x16_t s = vdupq_n_s8((int8_t)sub);
    return (neon_q32){{vsubq_s8(vorrq_s8(a.val[0], b.val[0]), s),
                       vsubq_s8(vorrq_s8(a.val[1], b.val[1]), s)}};
}

/* ---- blocks of 32 ---------------------------------------------------- */

/* The integer q of the 32 elements of one block (scalar.c value32). */
static inline __attribute__((always_inline)) neon_q32 neon_block32_values(uint32_t type,
                                                                          const uint8_t *x)
{
    const neon_q32 none = {{vdupq_n_s8(0), vdupq_n_s8(0)}};
    const phi_block_q5_0 *q50 = (const phi_block_q5_0 *)x;
    const phi_block_q5_1 *q51 = (const phi_block_q5_1 *)x;
    switch (type) {
    case PHI_DT_Q8_0: {
        const int8_t *qs = ((const phi_block_q8_0 *)x)->qs;
        return (neon_q32){{vld1q_s8(qs), vld1q_s8(qs + 16)}};
    }
    case PHI_DT_Q4_0:
        return neon_q32_or_sub(neon_nibbles(((const phi_block_q4_0 *)x)->qs), none, 8);
    case PHI_DT_Q4_1: return neon_nibbles(((const phi_block_q4_1 *)x)->qs);
    case PHI_DT_Q5_0: return neon_q32_or_sub(neon_nibbles(q50->qs), neon_q5_high(q50->qh), 16);
    case PHI_DT_Q5_1: return neon_q32_or_sub(neon_nibbles(q51->qs), neon_q5_high(q51->qh), 0);
    default: return neon_iq4nl(((const phi_block_iq4_nl *)x)->qs);
    }
}

/* acc + block x against activation block y: its 4 exact partial sums times
 * d_w·d_a; the offset types add m_w·s_a to *offsets. */
static inline __attribute__((always_inline)) float32x4_t
neon_add_block32(float32x4_t acc, uint32_t type, const uint8_t *x, const uint8_t *y,
                 float *offsets)
{
    const bool offset = phi_block32_has_offset(type);
    const size_t a_qs = offset ? offsetof(phi_block_q8_1, qs) : offsetof(phi_block_q8_0, qs);
    int32x4_t p = neon_dot32(neon_block32_values(type, x), (const int8_t *)(y + a_qs));
    if (offset)
        *offsets += neon_fp16_to_f32(phi_load_u16(x + 2)) * neon_fp16_to_f32(phi_load_u16(y + 2));
    float d = neon_fp16_to_f32(phi_load_u16(x)) * neon_fp16_to_f32(phi_load_u16(y));
    return vfmaq_n_f32(acc, vcvtq_f32_s32(p), d);
}

/* Against Q8_0 (Q8_1 for the types with an offset): the scaled partial sums
 * accumulate per lane, two accumulators over alternating blocks. type is a
 * constant at each call site, so each instance is one loop. */
static inline __attribute__((always_inline)) float
neon_dot_blocks32(int64_t n, const void *w, const void *a, uint32_t type)
{
    const bool offset = phi_block32_has_offset(type);
    const size_t w_bytes = phi_block32_bytes(type);
    const size_t a_bytes = offset ? sizeof(phi_block_q8_1) : sizeof(phi_block_q8_0);
    const uint8_t *x = w, *y = a;
    int64_t nb = n / PHI_QK32, i = 0;
    float32x4_t s0 = vdupq_n_f32(0.0f), s1 = s0;
    float offsets = 0.0f;
    for (; i + 2 <= nb; i += 2, x += 2 * w_bytes, y += 2 * a_bytes) {
        s0 = neon_add_block32(s0, type, x, y, &offsets);
        s1 = neon_add_block32(s1, type, x + w_bytes, y + a_bytes, &offsets);
    }
    if (i < nb)
        s0 = neon_add_block32(s0, type, x, y, &offsets);
    return vaddvq_f32(vaddq_f32(s0, s1)) + offsets;
}

/* ---- super-blocks of 256 against Q8_K ---------------------------------
 * Each computes the super-block's exact isum = Σ_g scale_g·Σ q·a (groups of
 * 16 or 32 elements) and msum = Σ_g min_g·bsums[g], then adds them in float
 * with scalar.c's operations (neon_superblock_sum), so the K-quant results
 * are the scalar ones to the bit. */

/* isum + scale · Σ w·a over 16 elements. */
static inline int32x4_t neon_scaled16(int32x4_t isum, int scale, int8x16_t w, const int8_t *a)
{
    return vmlaq_n_s32(isum, neon_dot(vdupq_n_s32(0), w, vld1q_s8(a)), scale);
}

/* Σ_g mins[g]·bsums[g] over the 16 groups of a super-block. */
static inline int32_t neon_min_sum(uint8x16_t mins, const int16_t bsums[16])
{
    int16x8_t m0 = vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(mins)));
    int16x8_t m1 = vreinterpretq_s16_u16(vmovl_high_u8(mins));
    int16x8_t b0 = vld1q_s16(bsums), b1 = vld1q_s16(bsums + 8);
    int32x4_t s = vmull_s16(vget_low_s16(m0), vget_low_s16(b0));
    s = vmlal_high_s16(s, m0, b0);
    s = vmlal_s16(s, vget_low_s16(m1), vget_low_s16(b1));
    return vaddvq_s32(vmlal_high_s16(s, m1, b1));
}

static inline float neon_superblock_sum(const phi_block_q8_k *y, float d, float dmin,
                                        int32x4_t isum, int32_t msum)
{
    return y->d * d * (float)vaddvq_s32(isum) - y->d * dmin * (float)msum;
}

/* Bits 2j, 2j+1 of each byte (the Q2_K / Q3_K field of element 32j + l). */
static inline uint8x16_t neon_bits2(uint8x16_t q, int j)
{
    return vandq_u8(vshlq_u8(q, vdupq_n_s8((int8_t)(-2 * j))), vdupq_n_u8(3));
}

/* Q2_K and Q3_K share the 2-bit walk: element 128h + 32j + l in bits 2j of
 * qs[32h + l], group 8h + 2j (l < 16) or 8h + 2j + 1. Q3_K adds bit 4h + j of
 * hmask[l] as bit 2 and takes 4 off; Q2_K's mins go through bsums. */

/* The 16 group scales of Q2_K (q3 false) or Q3_K super-block x into scales;
 * returns Q2_K's mins (zero for Q3_K, whose offset is in its q). */
static inline uint8x16_t neon_q23k_scales(const uint8_t *x, bool q3, int8_t scales[16])
{
    if (q3) {
        phi_unpack_q3k_scales(((const phi_block_q3_k *)x)->scales, scales);
        return vdupq_n_u8(0);
    }
    uint8x16_t packed = vld1q_u8(((const phi_block_q2_k *)x)->scales);
    vst1q_s8(scales, vreinterpretq_s8_u8(vandq_u8(packed, vdupq_n_u8(0x0f))));
    return vshrq_n_u8(packed, 4);
}

/* Elements 128h + 32j + 16half .. + 15 as signed q, from q (qs + 32h +
 * 16half) and, for Q3_K, hmask (its hmask + 16half). */
static inline int8x16_t neon_q23k_values(uint8x16_t q, uint8x16_t hmask, int h, int j, bool q3)
{
    int8x16_t u = vreinterpretq_s8_u8(neon_bits2(q, j));
    if (!q3)
        return u;
    uint8x16_t high = vdupq_n_u8((uint8_t)(1 << (4 * h + j)));
    uint8x16_t hbit = vandq_u8(vtstq_u8(hmask, high), vdupq_n_u8(4));
    return vsubq_s8(vorrq_s8(u, vreinterpretq_s8_u8(hbit)), vdupq_n_s8(4));
}

static inline __attribute__((always_inline)) float
neon_dot_q23_k(int64_t n, const void *w, const phi_block_q8_k *y, bool q3)
{
    const size_t w_bytes = q3 ? sizeof(phi_block_q3_k) : sizeof(phi_block_q2_k);
    float sum = 0.0f;
    for (int64_t i = 0; i < n / PHI_QK_K; i++, y++) {
        const uint8_t *x = (const uint8_t *)w + (size_t)i * w_bytes;
        const phi_block_q2_k *x2 = (const phi_block_q2_k *)x;
        const phi_block_q3_k *x3 = (const phi_block_q3_k *)x;
        const uint8_t *qs = q3 ? x3->qs : x2->qs;
        int8_t scales[16];
        uint8x16_t mins = neon_q23k_scales(x, q3, scales);
        int32_t msum = q3 ? 0 : neon_min_sum(mins, y->bsums);
        uint8x16_t hmask[2] = {vdupq_n_u8(0), vdupq_n_u8(0)};
        if (q3) {
            hmask[0] = vld1q_u8(x3->hmask);
            hmask[1] = vld1q_u8(x3->hmask + 16);
        }
        int32x4_t isum = vdupq_n_s32(0);
        for (int h = 0; h < 2; h++) {
            uint8x16_t q[2] = {vld1q_u8(qs + 32 * h), vld1q_u8(qs + 32 * h + 16)};
            for (int j = 0; j < 4; j++)
                for (int half = 0; half < 2; half++)
                    isum = neon_scaled16(isum, scales[8 * h + 2 * j + half],
                                         neon_q23k_values(q[half], hmask[half], h, j, q3),
                                         y->qs + 128 * h + 32 * j + 16 * half);
        }
        float d = neon_fp16_to_f32(q3 ? x3->d : x2->d);
        sum += neon_superblock_sum(y, d, q3 ? 0.0f : neon_fp16_to_f32(x2->dmin), isum, msum);
    }
    return sum;
}

/* Q4_K and Q5_K: per 64-element chunk c, 32 bytes of qs give the low
 * nibbles (sub-block 2c, elements 64c + l) and the high ones (2c + 1);
 * Q5_K ORs in bit 2c / 2c + 1 of qh[l] as bit 4. Each sub-block's min
 * covers two bsums. */

/* 8 bytes, one per 32-element sub-block, to 16, one per group of 16. */
static inline uint8x16_t neon_per_group16(uint8x8_t v)
{
    return vcombine_u8(vzip1_u8(v, v), vzip2_u8(v, v));
}

/* Elements 64c + 16half .. + 15 (val[0], sub-block 2c) and the 16 from
 * 64c + 32 + 16half (val[1], sub-block 2c + 1), from qs and, for Q5_K, qh
 * (its qh + 16half). */
static inline int8x16x2_t neon_q45k_values(const uint8_t *qs, uint8x16_t qh, int c, int half,
                                           bool q5)
{
    const uint8x16_t low4 = vdupq_n_u8(0x0f), bit4 = vdupq_n_u8(0x10);
    uint8x16_t b = vld1q_u8(qs + 32 * c + 16 * half);
    uint8x16_t l = vandq_u8(b, low4), u = vshrq_n_u8(b, 4);
    if (q5) {
        uint8x16_t bit_l = vdupq_n_u8((uint8_t)(1 << 2 * c));
        uint8x16_t bit_u = vdupq_n_u8((uint8_t)(2 << 2 * c));
        l = vorrq_u8(l, vandq_u8(vtstq_u8(qh, bit_l), bit4));
        u = vorrq_u8(u, vandq_u8(vtstq_u8(qh, bit_u), bit4));
    }
    return (int8x16x2_t){{vreinterpretq_s8_u8(l), vreinterpretq_s8_u8(u)}};
}

static inline __attribute__((always_inline)) float
neon_dot_q45_k(int64_t n, const void *w, const phi_block_q8_k *y, bool q5)
{
    float sum = 0.0f;
    for (int64_t i = 0; i < n / PHI_QK_K; i++, y++) {
        const phi_block_q4_k *x4 = (const phi_block_q4_k *)w + i;
        const phi_block_q5_k *x5 = (const phi_block_q5_k *)w + i;
        const uint8_t *qs = q5 ? x5->qs : x4->qs;
        uint8_t sc[8], m[8];
        phi_unpack_q4k_scales(q5 ? x5->scales : x4->scales, sc, m);
        int32_t msum = neon_min_sum(neon_per_group16(vld1_u8(m)), y->bsums);
        uint8x16_t qh[2] = {vdupq_n_u8(0), vdupq_n_u8(0)};
        if (q5) {
            qh[0] = vld1q_u8(x5->qh);
            qh[1] = vld1q_u8(x5->qh + 16);
        }
        int32x4_t isum = vdupq_n_s32(0);
        for (int c = 0; c < 4; c++) {
            int32x4_t lo = vdupq_n_s32(0), hi = lo;
            for (int half = 0; half < 2; half++) {
                int8x16x2_t q = neon_q45k_values(qs, qh[half], c, half, q5);
                const int8_t *a = y->qs + 64 * c + 16 * half;
                lo = neon_dot(lo, q.val[0], vld1q_s8(a));
                hi = neon_dot(hi, q.val[1], vld1q_s8(a + 32));
            }
            isum = vmlaq_n_s32(isum, lo, sc[2 * c]);
            isum = vmlaq_n_s32(isum, hi, sc[2 * c + 1]);
        }
        float d = neon_fp16_to_f32(q5 ? x5->d : x4->d);
        sum += neon_superblock_sum(y, d, neon_fp16_to_f32(q5 ? x5->dmin : x4->dmin), isum, msum);
    }
    return sum;
}

/* Q6_K: per half h and 16 columns k, ql[l] and ql[l + 32] give the low
 * nibbles of groups 0, 1 (low nibbles) and 2, 3 (high nibbles) of that half,
 * qh[l]'s 2-bit fields bits 4-5; q = u - 32. */

/* Elements 128h + 32g + 16k .. + 15 of groups g = 0..3 as signed q. */
static inline void neon_q6k_values(const phi_block_q6_k *x, int h, int k, int8x16_t q[4])
{
    const uint8x16_t low4 = vdupq_n_u8(0x0f), three = vdupq_n_u8(3);
    const int8x16_t off = vdupq_n_s8(32);
    uint8x16_t l0 = vld1q_u8(x->ql + 64 * h + 16 * k);
    uint8x16_t l1 = vld1q_u8(x->ql + 64 * h + 32 + 16 * k);
    uint8x16_t hb = vld1q_u8(x->qh + 32 * h + 16 * k);
    uint8x16_t u[4] = {
        vorrq_u8(vandq_u8(l0, low4), vshlq_n_u8(vandq_u8(hb, three), 4)),
        vorrq_u8(vandq_u8(l1, low4), vshlq_n_u8(vandq_u8(vshrq_n_u8(hb, 2), three), 4)),
        vorrq_u8(vshrq_n_u8(l0, 4), vshlq_n_u8(vandq_u8(vshrq_n_u8(hb, 4), three), 4)),
        vorrq_u8(vshrq_n_u8(l1, 4), vshlq_n_u8(vshrq_n_u8(hb, 6), 4)),
    };
    for (int g = 0; g < 4; g++)
        q[g] = vsubq_s8(vreinterpretq_s8_u8(u[g]), off);
}

static inline float neon_dot_q6_k(int64_t n, const void *w, const phi_block_q8_k *y)
{
    const phi_block_q6_k *x = w;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / PHI_QK_K; i++, x++, y++) {
        int32x4_t isum = vdupq_n_s32(0);
        for (int h = 0; h < 2; h++)
            for (int k = 0; k < 2; k++) {
                int8x16_t q[4];
                neon_q6k_values(x, h, k, q);
                for (int g = 0; g < 4; g++)
                    isum = neon_scaled16(isum, x->scales[8 * h + 2 * g + k], q[g],
                                         y->qs + 128 * h + 32 * g + 16 * k);
            }
        sum += neon_superblock_sum(y, neon_fp16_to_f32(x->d), 0.0f, isum, 0);
    }
    return sum;
}

/* IQ4_XS: each 32-element sub-block is a Q4_0-style block of codebook
 * indices, with its own scale (-32..31). */
static inline float neon_dot_iq4_xs(int64_t n, const void *w, const phi_block_q8_k *y)
{
    const phi_block_iq4_xs *x = w;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / PHI_QK_K; i++, x++, y++) {
        int32x4_t isum = vdupq_n_s32(0);
        for (int ib = 0; ib < 8; ib++)
            isum = vmlaq_n_s32(isum, neon_dot32(neon_iq4nl(x->qs + 16 * ib), y->qs + 32 * ib),
                               phi_iq4xs_scale(x, ib));
        sum += neon_superblock_sum(y, neon_fp16_to_f32(x->d), 0.0f, isum, 0);
    }
    return sum;
}

/* The vec_dot of every block type, over the including file's neon_dot. */
#define NEON_BLOCK32_DOT(T, name)                                              \
    static float vec_dot_##name(int64_t n, const void *w, const void *a)       \
    {                                                                          \
        return neon_dot_blocks32(n, w, a, PHI_DT_##T);                         \
    }
#define NEON_K_DOT(name, call)                                                 \
    static float vec_dot_##name(int64_t n, const void *w, const void *a)       \
    {                                                                          \
        return call;                                                           \
    }
#define NEON_BLOCK_DOTS                                                        \
    PHI_BLOCK32_TYPES(NEON_BLOCK32_DOT)                                        \
    NEON_K_DOT(q2_k, neon_dot_q23_k(n, w, a, false))                           \
    NEON_K_DOT(q3_k, neon_dot_q23_k(n, w, a, true))                            \
    NEON_K_DOT(q4_k, neon_dot_q45_k(n, w, a, false))                           \
    NEON_K_DOT(q5_k, neon_dot_q45_k(n, w, a, true))                            \
    NEON_K_DOT(q6_k, neon_dot_q6_k(n, w, a))                                   \
    NEON_K_DOT(iq4_xs, neon_dot_iq4_xs(n, w, a))

#endif
