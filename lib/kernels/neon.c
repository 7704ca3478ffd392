/* AdvSIMD (NEON) kernels for the ARMv8-A baseline: every AArch64 core has
 * them, so this file needs no extra flags. Each kernel has its scalar twin in
 * the same slot of scalar.c, and tests/test_kernels.c holds it to that twin.
 * neon_dotprod.c overwrites the integer dots on cores with SDOT. Half
 * precision is only converted (ARMv8.0 has the conversions), never computed
 * in: FP16 arithmetic would round the F32 activations, which the scalar twin
 * does not do. Block layouts: ../shared/docs/gguf-and-quants.md §3. */
#include <arm_neon.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "kernels/exp_poly.h"
#include "kernels/fp16.h"
#include "kernels/kernels.h"
#include "kernels/neon_blocks.h"
#include "kernels/quant_blocks.h"
#include "phi4.h"

/* ---- activation converters ------------------------------------------- */

/* One block of n activations (a multiple of 16) to int8, the same bytes as
 * scalar.c's quantize_block: amax by maxNum from +0 (fmaxf's rule: a NaN
 * loses to a number; the order does not matter), the scale from
 * phi_q8_scale, one IEEE multiply per element, the same clamp, and fcvtas,
 * which rounds ties away from zero as roundf does and turns a NaN (FMIN and
 * FMAX pass it through) into 0, as the scalar rule does. sums[k] gets the
 * exact sum of the int8s 16k .. 16k+15 (Q8_1's s, Q8_K's bsums). Returns d. */
static inline float quantize_block(const float *x, int n, int8_t *q, int16_t *sums)
{
    float32x4_t m = vdupq_n_f32(0.0f);
    uint32x4_t nan = vdupq_n_u32(0);
    for (int j = 0; j < n; j += 4) {
        float32x4_t v = vld1q_f32(x + j);
        m = vmaxnmq_f32(m, vabsq_f32(v));
        nan = vorrq_u32(nan, vmvnq_u32(vceqq_f32(v, v)));
    }
    float inv;
    float d = phi_q8_scale(vmaxnmvq_f32(m), vmaxvq_u32(nan) != 0, &inv);
    const float32x4_t lo = vdupq_n_f32(-127.0f), hi = vdupq_n_f32(127.0f);
    for (int j = 0; j < n; j += 16) {
        int32x4_t r[4];
        for (int k = 0; k < 4; k++) {
            float32x4_t v = vmulq_n_f32(vld1q_f32(x + j + 4 * k), inv);
            r[k] = vcvtaq_s32_f32(vminq_f32(vmaxq_f32(v, lo), hi));
        }
        /* every value is in -127..127, so narrowing is exact */
        int16x8_t h0 = vmovn_high_s32(vmovn_s32(r[0]), r[1]);
        int16x8_t h1 = vmovn_high_s32(vmovn_s32(r[2]), r[3]);
        int8x16_t q16 = vmovn_high_s16(vmovn_s16(h0), h1);
        vst1q_s8(q + j, q16);
        sums[j / 16] = vaddlvq_s8(q16);
    }
    return d;
}

static void quantize_q8_0(const float *x, void *out, int64_t n)
{
    phi_block_q8_0 *b = out;
    int16_t sums[2];
    for (int64_t i = 0; i < n / PHI_QK32; i++, x += PHI_QK32)
        b[i].d = phi_f32_to_fp16(quantize_block(x, PHI_QK32, b[i].qs, sums));
}

static void quantize_q8_1(const float *x, void *out, int64_t n)
{
    phi_block_q8_1 *b = out;
    int16_t sums[2];
    for (int64_t i = 0; i < n / PHI_QK32; i++, x += PHI_QK32) {
        float d = quantize_block(x, PHI_QK32, b[i].qs, sums);
        b[i].d = phi_f32_to_fp16(d);
        b[i].s = phi_f32_to_fp16(d * (float)(sums[0] + sums[1]));
    }
}

static void quantize_q8_k(const float *x, void *out, int64_t n)
{
    phi_block_q8_k *b = out;
    for (int64_t i = 0; i < n / PHI_QK_K; i++, x += PHI_QK_K)
        b[i].d = quantize_block(x, PHI_QK_K, b[i].qs, b[i].bsums);
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
static inline int32x4_t neon_dot(int32x4_t acc, int8x16_t w, int8x16_t a)
{
    acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(w), vget_low_s8(a)));
    return vpadalq_s16(acc, vmull_high_s8(w, a));
}

NEON_BLOCK_DOTS

/* ---- matrix products: gemm_neon.h ------------------------------------ */

/* Tiles for the 32 vector registers as GCC allocates them (few spills):
 * blocks of 32 only 2 × 4, as the widening multiplies of neon_dot need
 * temporaries (8 accumulators, 4 registers of weights, 2 of activations);
 * super-blocks 4 × 4 (16 int32 sums, one group of 16 quants per row, a
 * column's 16 activations). */
enum { GEMM_RM_B32 = 2, GEMM_RN_B32 = 4, GEMM_RM_K = 4, GEMM_RN_K = 4 };
#include "kernels/gemm_neon.h"
PHI_NEON_GEMM_FLOAT_TYPES(PHI_GEMM_ENTRY)
PHI_BLOCK32_TYPES(PHI_GEMM_ENTRY)
PHI_SUPERBLOCK_TYPES(PHI_GEMM_ENTRY)

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

/* ---- element-wise ----------------------------------------------------- */

/* e^x to about 2 ulp by exp_poly.h's polynomial: exactly 1 at 0, 0 below
 * EXP_MIN and at -inf, +inf from EXP_MAX up, NaN for NaN (FMAX and FMIN
 * keep a NaN). */
static inline float32x4_t exp4(float32x4_t x)
{
    const float32x4_t lo = vdupq_n_f32(EXP_MIN);
    uint32x4_t underflow = vcltq_f32(x, lo);
    x = vminq_f32(vmaxq_f32(x, lo), vdupq_n_f32(EXP_MAX));
    float32x4_t n = vrndnq_f32(vmulq_n_f32(x, EXP_LOG2E));
    float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(EXP_LN2_HI));
    r = vfmsq_f32(r, n, vdupq_n_f32(EXP_LN2_LO));
    float32x4_t p = vdupq_n_f32(exp_poly[0]);
    for (int c = 1; c < 6; c++)
        p = vfmaq_f32(vdupq_n_f32(exp_poly[c]), p, r);
    p = vfmaq_f32(vaddq_f32(r, vdupq_n_f32(1.0f)), vmulq_f32(p, r), r);
    /* 2^n: the clamp keeps n in -126..128 (a NaN converts to 0) */
    int32x4_t e = vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127));
    float32x4_t y = vmulq_f32(p, vreinterpretq_f32_s32(vshlq_n_s32(e, 23)));
    return vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(y), underflow));
}

/* A tail goes through the same vector code on a zero-padded copy, so every
 * element sees the same arithmetic. */
static inline float32x4_t swiglu4(float32x4_t g, float32x4_t u)
{
    float32x4_t e = exp4(vnegq_f32(g));
    return vmulq_f32(vdivq_f32(g, vaddq_f32(vdupq_n_f32(1.0f), e)), u);
}

static void swiglu_f32(int64_t n, const float *gate, const float *up, float *out)
{
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        vst1q_f32(out + i, swiglu4(vld1q_f32(gate + i), vld1q_f32(up + i)));
    if (i < n) {
        float gt[4] = {0}, ut[4] = {0}, ot[4];
        memcpy(gt, gate + i, (size_t)(n - i) * sizeof(float));
        memcpy(ut, up + i, (size_t)(n - i) * sizeof(float));
        vst1q_f32(ot, swiglu4(vld1q_f32(gt), vld1q_f32(ut)));
        memcpy(out + i, ot, (size_t)(n - i) * sizeof(float));
    }
}

static void f32_to_f16(int64_t n, const float *x, uint16_t *h)
{
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        vst1_u16(h + i, vreinterpret_u16_f16(vcvt_f16_f32(vld1q_f32(x + i))));
    if (i < n) {
        float xt[4] = {0};
        uint16_t ht[4];
        memcpy(xt, x + i, (size_t)(n - i) * sizeof(float));
        vst1_u16(ht, vreinterpret_u16_f16(vcvt_f16_f32(vld1q_f32(xt))));
        memcpy(h + i, ht, (size_t)(n - i) * sizeof(uint16_t));
    }
}

/* ---- attention: attn_blocks.h's driver over 4-lane vectors ------------ */

typedef float32x4_t attn_part;
typedef float32x4x2_t attn_scores;
#include "kernels/attn_blocks.h"

/* 4 K or V values from element i of a row. */
static inline float32x4_t load_kv4(const char *row, int64_t i, bool f16)
{
    if (f16)
        return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16((const uint16_t *)row + i)));
    return vld1q_f32((const float *)row + i);
}

/* The last n < 4 values from element i of a row, zero above: no read past
 * the row. */
static inline float32x4_t load_kv_tail(const char *row, int64_t i, int n, bool f16)
{
    size_t size = f16 ? sizeof(uint16_t) : sizeof(float);
    unsigned char buf[16] = {0};
    memcpy(buf, row + (size_t)i * size, (size_t)n * size);
    return load_kv4((const char *)buf, 0, f16);
}

/* Scores of np (1 or 2) consecutive K rows from row j, as in avx2.c: ng and
 * np are constants at each call site, so a[][] and kv[] live in registers. */
static inline __attribute__((always_inline)) void attn_qk_rows(
    int64_t hd, int ng, int np, const float *q, const char *k, size_t stride, int j, bool f16,
    attn_part part[ATTN_QUAD][ATTN_BLOCK])
{
    float32x4_t a[2][ATTN_QUAD], kv[2];
    for (int x = 0; x < np * ng; x++)
        a[x / ng][x % ng] = vdupq_n_f32(0.0f);
    for (int64_t i = 0; i < hd; i += 4) {
        int n = hd - i < 4 ? (int)(hd - i) : 4;
        for (int r = 0; r < np; r++) {
            const char *row = k + (size_t)(j + r) * stride;
            kv[r] = n == 4 ? load_kv4(row, i, f16) : load_kv_tail(row, i, n, f16);
        }
        for (int g = 0; g < ng; g++) {
            const char *qg = (const char *)(q + g * hd);
            float32x4_t qv = n == 4 ? load_kv4(qg, i, false) : load_kv_tail(qg, i, n, false);
            for (int r = 0; r < np; r++)
                a[r][g] = vfmaq_f32(a[r][g], qv, kv[r]);
        }
    }
    for (int x = 0; x < np * ng; x++)
        part[x % ng][j + x / ng] = a[x / ng][x % ng];
}

static inline attn_part attn_zero_part(void)
{
    return vdupq_n_f32(0.0f);
}

static inline attn_scores attn_block_scores(const attn_part part[ATTN_BLOCK], int nb)
{
    static const uint32_t lane[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    const float32x4_t none = vdupq_n_f32(-INFINITY);
    attn_scores s;
    for (int h = 0; h < 2; h++) {
        const float32x4_t *p = part + 4 * h;
        float32x4_t sums = vpaddq_f32(vpaddq_f32(p[0], p[1]), vpaddq_f32(p[2], p[3]));
        uint32x4_t valid = vcltq_u32(vld1q_u32(lane + 4 * h), vdupq_n_u32((uint32_t)nb));
        s.val[h] = vbslq_f32(valid, sums, none);
    }
    return s;
}

/* FMAXV returns NaN when a lane is NaN, so a NaN score reaches the weights. */
static inline float attn_scores_max(attn_scores s)
{
    return vmaxvq_f32(vmaxq_f32(s.val[0], s.val[1]));
}

static inline float attn_block_weights(attn_scores s, float max, float w[ATTN_BLOCK])
{
    float32x4_t e0 = exp4(vsubq_f32(s.val[0], vdupq_n_f32(max)));
    float32x4_t e1 = exp4(vsubq_f32(s.val[1], vdupq_n_f32(max)));
    vst1q_f32(w, e0);
    vst1q_f32(w + 4, e1);
    return vaddvq_f32(vaddq_f32(e0, e1));
}

/* One 4-wide column i (n <= 4 wide at the end) of every head's accumulator:
 * the block's V values there are converted once and held in registers for
 * all the heads; even and odd positions go to two FMA chains. */
static inline __attribute__((always_inline)) void pv_column(
    int64_t hd, int64_t i, int n, int ng, const float w[ATTN_QUAD][ATTN_BLOCK], const char *v,
    size_t stride, int nb, bool f16, float *acc)
{
    float32x4_t vv[ATTN_BLOCK];
    for (int j = 0; j < nb; j++)
        vv[j] = n == 4 ? load_kv4(v + j * stride, i, f16) : load_kv_tail(v + j * stride, i, n, f16);
    for (int g = 0; g < ng; g++) {
        float *a = acc + g * hd + i;
        float32x4_t s[2] = {n == 4 ? vld1q_f32(a) : load_kv_tail((const char *)a, 0, n, false),
                            vdupq_n_f32(0.0f)};
        for (int j = 0; j < nb; j++)
            s[j % 2] = vfmaq_n_f32(s[j % 2], vv[j], w[g][j]);
        float32x4_t out = vaddq_f32(s[0], s[1]);
        if (n == 4) {
            vst1q_f32(a, out);
        } else {
            float lanes[4];
            vst1q_f32(lanes, out);
            memcpy(a, lanes, (size_t)n * sizeof(float));
        }
    }
}

ATTN_PV_COLUMNS(4)
ATTN_ENTRY_POINTS(2)

void phi_kernels_init_neon(phi_kernels *k)
{
    k->name = "neon";
    k->level = PHI_KERNEL_NEON;

    k->quantize_act[PHI_DT_Q8_0] = quantize_q8_0;
    k->quantize_act[PHI_DT_Q8_1] = quantize_q8_1;
    k->quantize_act[PHI_DT_Q8_K] = quantize_q8_k;

    k->vec_dot[PHI_DT_F32] = vec_dot_f32;
    k->vec_dot[PHI_DT_F16] = vec_dot_f16;
    k->vec_dot[PHI_DT_BF16] = vec_dot_bf16;
#define SET_DOT(T, name) k->vec_dot[PHI_DT_##T] = vec_dot_##name;
    PHI_BLOCK32_TYPES(SET_DOT)
    PHI_SUPERBLOCK_TYPES(SET_DOT)
#undef SET_DOT
#define SET_GEMM(T, name) k->gemm[PHI_DT_##T] = gemm_##name;
    PHI_NEON_GEMM_FLOAT_TYPES(SET_GEMM)
    PHI_BLOCK32_TYPES(SET_GEMM)
    PHI_SUPERBLOCK_TYPES(SET_GEMM)
#undef SET_GEMM

    k->dot_f32 = dot_f32;
    k->axpy_f32 = axpy_f32;
    k->scale_f32 = scale_f32;
    k->f32_to_f16 = f32_to_f16;
    k->swiglu_f32 = swiglu_f32;

    k->attn[PHI_DT_F32] = attn_f32;
    k->attn[PHI_DT_F16] = attn_f16;
}
