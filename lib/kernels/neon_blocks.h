/* The Q8_0 / Q4_0 dot products of neon.c and neon_dotprod.c, which differ
 * only in how the 32 int8 products of a block become int32 lanes: each file
 * passes its own inline dot_i8x32 to neon_dot_blocks. Static inline, so each
 * file compiles them with its own instruction-set flags. Block layouts:
 * ../shared/docs/gguf-and-quants.md §3. */
#ifndef PHI_KERNELS_NEON_BLOCKS_H
#define PHI_KERNELS_NEON_BLOCKS_H

#include <arm_neon.h>
#include <stdbool.h>
#include <string.h>

#include "kernels/quant_blocks.h"

/* ARMv8.0 converts half to single in hardware (fcvt), exactly. */
static inline float neon_fp16_to_f32(uint16_t h)
{
    __fp16 f;
    memcpy(&f, &h, sizeof f);
    return (float)f;
}

/* 32 quants of a block, in element order: val[0] holds elements 0..15. */
typedef int8x16x2_t neon_q32;

/* Σ w·a over a block's 32 signed bytes, as 4 int32 lanes (exact). */
typedef int32x4_t (*neon_dot_i8x32_fn)(neon_q32 w, neon_q32 a);

static inline neon_q32 neon_load_q8_0(const phi_block_q8_0 *b)
{
    return (neon_q32){{vld1q_s8(b->qs), vld1q_s8(b->qs + 16)}};
}

/* Q4_0 nibbles to -8..7: low nibbles are elements 0..15, high ones 16..31. */
static inline neon_q32 neon_load_q4_0(const phi_block_q4_0 *b)
{
    uint8x16_t q = vld1q_u8(b->qs);
    const int8x16_t eight = vdupq_n_s8(8);
    return (neon_q32){{vsubq_s8(vreinterpretq_s8_u8(vandq_u8(q, vdupq_n_u8(0x0f))), eight),
                       vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(q, 4)), eight)}};
}

/* acc + block i of a Q8_0 or Q4_0 row against activation block a: the 4
 * int32 partial sums, scaled by both blocks' scales, added per lane. */
static inline __attribute__((always_inline)) float32x4_t
neon_add_block(float32x4_t acc, const void *w, int64_t i, const phi_block_q8_0 *a, bool q4,
               neon_dot_i8x32_fn dot)
{
    const phi_block_q4_0 *w4 = (const phi_block_q4_0 *)w + i;
    const phi_block_q8_0 *w8 = (const phi_block_q8_0 *)w + i;
    int32x4_t p = dot(q4 ? neon_load_q4_0(w4) : neon_load_q8_0(w8), neon_load_q8_0(a));
    float d = neon_fp16_to_f32(q4 ? w4->d : w8->d) * neon_fp16_to_f32(a->d);
    return vfmaq_n_f32(acc, vcvtq_f32_s32(p), d);
}

/* Q8_0 and Q4_0 weights against Q8_0 activations. The int32 block sums are
 * exact; each block's scaled partial sums are accumulated per lane (two
 * accumulators over alternating blocks), so only the float summation order
 * differs from the scalar twin. q4 and dot are constants at each call site,
 * so each instance compiles to one straight loop. */
static inline __attribute__((always_inline)) float
neon_dot_blocks(int64_t n, const void *w, const phi_block_q8_0 *y, bool q4, neon_dot_i8x32_fn dot)
{
    int64_t nb = n / PHI_QK8_0, i = 0;
    float32x4_t s0 = vdupq_n_f32(0.0f), s1 = s0;
    for (; i + 2 <= nb; i += 2) {
        s0 = neon_add_block(s0, w, i, &y[i], q4, dot);
        s1 = neon_add_block(s1, w, i + 1, &y[i + 1], q4, dot);
    }
    if (i < nb)
        s0 = neon_add_block(s0, w, i, &y[i], q4, dot);
    return vaddvq_f32(vaddq_f32(s0, s1));
}

#endif
