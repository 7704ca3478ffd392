/* AdvSIMD (NEON) kernels for the ARMv8-A baseline: every AArch64 core has
 * them, so this file needs no extra flags. Each kernel has its scalar twin in
 * the same slot of scalar.c, and tests/test_kernels.c holds it to that twin.
 * neon_dotprod.c overwrites the integer dots on cores with SDOT. Half
 * precision is only converted (ARMv8.0 has the conversions), never computed
 * in: FP16 arithmetic would round the F32 activations, which the scalar twin
 * does not do. Block layouts: ../shared/docs/gguf-and-quants.md §3. */
#include <arm_neon.h>
#include <stdbool.h>

#include "kernels/fp16.h"
#include "kernels/kernels.h"
#include "kernels/neon_blocks.h"
#include "kernels/quant_blocks.h"
#include "phi4.h"

/* ---- activation converters ------------------------------------------- */

/* Same bytes as scalar.c's quantize_q8_0: amax by maxNum from +0 (fmaxf's
 * rule: a NaN loses to a number, and +0 is always there, so no NaN survives;
 * the order does not matter), the same scalar divisions for d and 1/d and
 * the same fp16 rounding of d, one IEEE multiply per element, and fcvtas,
 * which rounds ties away from zero as roundf does. Narrowing keeps the low
 * byte of each int32, as the scalar (int8_t) cast of the saturated
 * conversion does, so even a block whose 1/d overflowed matches. */
static void quantize_q8_0(const float *x, void *out, int64_t n)
{
    phi_block_q8_0 *b = out;
    for (int64_t i = 0; i < n / PHI_QK8_0; i++, x += PHI_QK8_0) {
        float32x4_t v[8];
        float32x4_t m = vdupq_n_f32(0.0f);
        for (int k = 0; k < 8; k++) {
            v[k] = vld1q_f32(x + 4 * k);
            m = vmaxnmq_f32(m, vabsq_f32(v[k]));
        }
        float amax = vmaxnmvq_f32(m);

        float d = amax / 127.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        b[i].d = phi_f32_to_fp16(d);

        int16x8_t h[4];
        for (int k = 0; k < 4; k++)
            h[k] = vmovn_high_s32(vmovn_s32(vcvtaq_s32_f32(vmulq_n_f32(v[2 * k], id))),
                                  vcvtaq_s32_f32(vmulq_n_f32(v[2 * k + 1], id)));
        vst1q_s8(b[i].qs, vmovn_high_s16(vmovn_s16(h[0]), h[1]));
        vst1q_s8(b[i].qs + 16, vmovn_high_s16(vmovn_s16(h[2]), h[3]));
    }
}

/* ---- dot products ---------------------------------------------------- */

static float dot_f32(int64_t n, const float *a, const float *b)
{
    /* Four accumulators hide the FMA latency. */
    float32x4_t s0 = vdupq_n_f32(0.0f), s1 = s0, s2 = s0, s3 = s0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = vfmaq_f32(s0, vld1q_f32(a + i), vld1q_f32(b + i));
        s1 = vfmaq_f32(s1, vld1q_f32(a + i + 4), vld1q_f32(b + i + 4));
        s2 = vfmaq_f32(s2, vld1q_f32(a + i + 8), vld1q_f32(b + i + 8));
        s3 = vfmaq_f32(s3, vld1q_f32(a + i + 12), vld1q_f32(b + i + 12));
    }
    for (; i + 4 <= n; i += 4)
        s0 = vfmaq_f32(s0, vld1q_f32(a + i), vld1q_f32(b + i));
    float sum = vaddvq_f32(vaddq_f32(vaddq_f32(s0, s1), vaddq_f32(s2, s3)));
    for (; i < n; i++)
        sum += a[i] * b[i];
    return sum;
}

static float vec_dot_f32(int64_t n, const void *w, const void *a)
{
    return dot_f32(n, w, a);
}

/* 8 halves or bfloat16s to floats: val[0] holds elements 0..3. A bfloat16 is
 * the top half of a float, so widening it is a shift. */
static inline float32x4x2_t load_half8(const uint16_t *p, bool bf16)
{
    uint16x8_t h = vld1q_u16(p);
    if (bf16)
        return (float32x4x2_t){{vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(h), 16)),
                                vreinterpretq_f32_u32(vshll_high_n_u16(h, 16))}};
    float16x8_t f = vreinterpretq_f16_u16(h);
    return (float32x4x2_t){{vcvt_f32_f16(vget_low_f16(f)), vcvt_high_f32_f16(f)}};
}

/* F16 and BF16 rows differ only in the conversion; bf16 is a constant at
 * each call site, so each instance compiles to one straight loop. */
static inline __attribute__((always_inline)) float dot_half(int64_t n, const uint16_t *wh,
                                                            const float *af, bool bf16)
{
    float32x4_t s0 = vdupq_n_f32(0.0f), s1 = s0, s2 = s0, s3 = s0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        float32x4x2_t w0 = load_half8(wh + i, bf16), w1 = load_half8(wh + i + 8, bf16);
        s0 = vfmaq_f32(s0, w0.val[0], vld1q_f32(af + i));
        s1 = vfmaq_f32(s1, w0.val[1], vld1q_f32(af + i + 4));
        s2 = vfmaq_f32(s2, w1.val[0], vld1q_f32(af + i + 8));
        s3 = vfmaq_f32(s3, w1.val[1], vld1q_f32(af + i + 12));
    }
    for (; i + 8 <= n; i += 8) {
        float32x4x2_t w0 = load_half8(wh + i, bf16);
        s0 = vfmaq_f32(s0, w0.val[0], vld1q_f32(af + i));
        s1 = vfmaq_f32(s1, w0.val[1], vld1q_f32(af + i + 4));
    }
    float sum = vaddvq_f32(vaddq_f32(vaddq_f32(s0, s1), vaddq_f32(s2, s3)));
    for (; i < n; i++)
        sum += (bf16 ? phi_bf16_to_f32(wh[i]) : neon_fp16_to_f32(wh[i])) * af[i];
    return sum;
}

static float vec_dot_f16(int64_t n, const void *w, const void *a)
{
    return dot_half(n, w, a, false);
}

static float vec_dot_bf16(int64_t n, const void *w, const void *a)
{
    return dot_half(n, w, a, true);
}

/* Without SDOT: widening multiplies (an int8 product always fits in int16,
 * even -128·-128) and pairwise widening adds into int32, so any bytes give
 * the exact sum. */
static inline int32x4_t dot_i8x32(neon_q32 w, neon_q32 a)
{
    int32x4_t s = vpaddlq_s16(vmull_s8(vget_low_s8(w.val[0]), vget_low_s8(a.val[0])));
    s = vpadalq_s16(s, vmull_high_s8(w.val[0], a.val[0]));
    s = vpadalq_s16(s, vmull_s8(vget_low_s8(w.val[1]), vget_low_s8(a.val[1])));
    return vpadalq_s16(s, vmull_high_s8(w.val[1], a.val[1]));
}

static float vec_dot_q8_0(int64_t n, const void *w, const void *a)
{
    return neon_dot_blocks(n, w, a, false, dot_i8x32);
}

static float vec_dot_q4_0(int64_t n, const void *w, const void *a)
{
    return neon_dot_blocks(n, w, a, true, dot_i8x32);
}

/* ---- float vector helpers -------------------------------------------- */

/* Multiply then add, not FMA: two roundings, as in the scalar twin, so the
 * result is bit-identical (these run on the residual stream and attention). */
static void axpy_f32(int64_t n, float alpha, const float *x, float *y)
{
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        vst1q_f32(y + i, vaddq_f32(vld1q_f32(y + i), vmulq_n_f32(vld1q_f32(x + i), alpha)));
    for (; i < n; i++)
        y[i] += alpha * x[i];
}

static void scale_f32(int64_t n, float alpha, float *x)
{
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        vst1q_f32(x + i, vmulq_n_f32(vld1q_f32(x + i), alpha));
    for (; i < n; i++)
        x[i] *= alpha;
}

void phi_kernels_init_neon(phi_kernels *k)
{
    k->name = "neon";
    k->level = PHI_KERNEL_NEON;

    k->quantize_act[PHI_DT_Q8_0] = quantize_q8_0;

    k->vec_dot[PHI_DT_F32] = vec_dot_f32;
    k->vec_dot[PHI_DT_F16] = vec_dot_f16;
    k->vec_dot[PHI_DT_BF16] = vec_dot_bf16;
    k->vec_dot[PHI_DT_Q8_0] = vec_dot_q8_0;
    k->vec_dot[PHI_DT_Q4_0] = vec_dot_q4_0;

    k->dot_f32 = dot_f32;
    k->axpy_f32 = axpy_f32;
    k->scale_f32 = scale_f32;
}
