/* The scalar reference kernels: plain C, no intrinsics. Every other kernel
 * table starts as a copy of this one, and the tests hold SIMD kernels to
 * these results. Block layouts: ../shared/docs/gguf-and-quants.md §3. */
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "kernels/fp16.h"
#include "kernels/kernels.h"
#include "kernels/quant_blocks.h"
#include "phi4.h"

/* ---- activation converters ------------------------------------------- */

static void quantize_f32(const float *x, void *out, int64_t n)
{
    memcpy(out, x, (size_t)n * sizeof(float));
}

/* Q8_0 with the reference rounding (ties away from zero) and the unrounded
 * scale, as llama.cpp's quantize_row_q8_0_ref does. */
static void quantize_q8_0(const float *x, void *out, int64_t n)
{
    phi_block_q8_0 *b = out;
    for (int64_t i = 0; i < n / PHI_QK8_0; i++, x += PHI_QK8_0) {
        float amax = 0.0f;
        for (int j = 0; j < PHI_QK8_0; j++)
            amax = fmaxf(amax, fabsf(x[j]));
        float d = amax / 127.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        b[i].d = phi_f32_to_fp16(d);
        for (int j = 0; j < PHI_QK8_0; j++)
            b[i].qs[j] = (int8_t)roundf(x[j] * id);
    }
}

/* ---- dot products ---------------------------------------------------- */

static float dot_f32(int64_t n, const float *a, const float *b)
{
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++)
        sum += a[i] * b[i];
    return sum;
}

static float vec_dot_f32(int64_t n, const void *w, const void *a)
{
    return dot_f32(n, w, a);
}

/* F16 and BF16 differ only in the conversion; bf16 is a constant at each
 * call site. */
static inline float half_to_f32(uint16_t h, bool bf16)
{
    return bf16 ? phi_bf16_to_f32(h) : phi_fp16_to_f32(h);
}

static inline float dot_half(int64_t n, const uint16_t *wh, const float *af, bool bf16)
{
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++)
        sum += half_to_f32(wh[i], bf16) * af[i];
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

static float vec_dot_q8_0(int64_t n, const void *w, const void *a)
{
    const phi_block_q8_0 *x = w, *y = a;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / PHI_QK8_0; i++) {
        int32_t isum = 0;
        for (int j = 0; j < PHI_QK8_0; j++)
            isum += x[i].qs[j] * y[i].qs[j];
        sum += phi_fp16_to_f32(x[i].d) * phi_fp16_to_f32(y[i].d) * (float)isum;
    }
    return sum;
}

static float vec_dot_q4_0(int64_t n, const void *w, const void *a)
{
    const phi_block_q4_0 *x = w;
    const phi_block_q8_0 *y = a;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / PHI_QK4_0; i++) {
        int32_t isum = 0;
        for (int j = 0; j < PHI_QK4_0 / 2; j++) {
            int lo = (x[i].qs[j] & 0x0f) - 8;
            int hi = (x[i].qs[j] >> 4) - 8;
            isum += lo * y[i].qs[j] + hi * y[i].qs[j + PHI_QK4_0 / 2];
        }
        sum += phi_fp16_to_f32(x[i].d) * phi_fp16_to_f32(y[i].d) * (float)isum;
    }
    return sum;
}

/* ---- rows to float --------------------------------------------------- */

static void dequant_f32(const void *src, float *dst, int64_t n)
{
    memcpy(dst, src, (size_t)n * sizeof(float));
}

static inline void dequant_half(const uint16_t *h, float *dst, int64_t n, bool bf16)
{
    for (int64_t i = 0; i < n; i++)
        dst[i] = half_to_f32(h[i], bf16);
}

static void dequant_f16(const void *src, float *dst, int64_t n)
{
    dequant_half(src, dst, n, false);
}

static void dequant_bf16(const void *src, float *dst, int64_t n)
{
    dequant_half(src, dst, n, true);
}

static void dequant_q8_0(const void *src, float *dst, int64_t n)
{
    const phi_block_q8_0 *b = src;
    for (int64_t i = 0; i < n / PHI_QK8_0; i++) {
        float d = phi_fp16_to_f32(b[i].d);
        for (int j = 0; j < PHI_QK8_0; j++)
            *dst++ = d * b[i].qs[j];
    }
}

static void dequant_q4_0(const void *src, float *dst, int64_t n)
{
    const phi_block_q4_0 *b = src;
    for (int64_t i = 0; i < n / PHI_QK4_0; i++, dst += PHI_QK4_0) {
        float d = phi_fp16_to_f32(b[i].d);
        for (int j = 0; j < PHI_QK4_0 / 2; j++) {
            dst[j] = d * ((b[i].qs[j] & 0x0f) - 8);
            dst[j + PHI_QK4_0 / 2] = d * ((b[i].qs[j] >> 4) - 8);
        }
    }
}

/* ---- float vector helpers -------------------------------------------- */

static void axpy_f32(int64_t n, float alpha, const float *x, float *y)
{
    for (int64_t i = 0; i < n; i++)
        y[i] += alpha * x[i];
}

static void scale_f32(int64_t n, float alpha, float *x)
{
    for (int64_t i = 0; i < n; i++)
        x[i] *= alpha;
}

/* ---- attention ------------------------------------------------------- */

static inline float kv_value(const void *row, int64_t i, bool f16)
{
    return f16 ? phi_fp16_to_f32(((const uint16_t *)row)[i]) : ((const float *)row)[i];
}

/* The online softmax one position at a time: a score above the running max
 * first scales the sum and the accumulated values down by exp(old - new). */
static inline void attn_rows(int64_t hd, int32_t n_q, const float *q, const void *k,
                             const void *v, size_t stride, int64_t n_pos, float *max,
                             float *sum, float *acc, bool f16)
{
    for (int64_t p = 0; p < n_pos; p++) {
        const char *kr = (const char *)k + p * stride, *vr = (const char *)v + p * stride;
        for (int32_t h = 0; h < n_q; h++) {
            const float *qh = q + h * hd;
            float *ah = acc + h * hd;
            float s = 0.0f;
            for (int64_t i = 0; i < hd; i++)
                s += qh[i] * kv_value(kr, i, f16);
            if (s > max[h]) {
                float c = expf(max[h] - s);
                sum[h] *= c;
                for (int64_t i = 0; i < hd; i++)
                    ah[i] *= c;
                max[h] = s;
            }
            float w = expf(s - max[h]);
            sum[h] += w;
            for (int64_t i = 0; i < hd; i++)
                ah[i] += w * kv_value(vr, i, f16);
        }
    }
}

static void attn_f32(int64_t hd, int32_t n_q, const float *q, const void *k, const void *v,
                     size_t stride, int64_t n_pos, float *max, float *sum, float *acc)
{
    attn_rows(hd, n_q, q, k, v, stride, n_pos, max, sum, acc, false);
}

static void attn_f16(int64_t hd, int32_t n_q, const float *q, const void *k, const void *v,
                     size_t stride, int64_t n_pos, float *max, float *sum, float *acc)
{
    attn_rows(hd, n_q, q, k, v, stride, n_pos, max, sum, acc, true);
}

void phi_kernels_init_scalar(phi_kernels *k)
{
    memset(k, 0, sizeof *k);
    k->name = "scalar";
    k->level = PHI_KERNEL_SCALAR;

    k->quantize_act[PHI_DT_F32] = quantize_f32;
    k->quantize_act[PHI_DT_Q8_0] = quantize_q8_0;

    k->vec_dot[PHI_DT_F32] = vec_dot_f32;
    k->vec_dot[PHI_DT_F16] = vec_dot_f16;
    k->vec_dot[PHI_DT_BF16] = vec_dot_bf16;
    k->vec_dot[PHI_DT_Q8_0] = vec_dot_q8_0;
    k->vec_dot[PHI_DT_Q4_0] = vec_dot_q4_0;

    k->dequant[PHI_DT_F32] = dequant_f32;
    k->dequant[PHI_DT_F16] = dequant_f16;
    k->dequant[PHI_DT_BF16] = dequant_bf16;
    k->dequant[PHI_DT_Q8_0] = dequant_q8_0;
    k->dequant[PHI_DT_Q4_0] = dequant_q4_0;

    k->dot_f32 = dot_f32;
    k->axpy_f32 = axpy_f32;
    k->scale_f32 = scale_f32;

    k->attn[PHI_DT_F32] = attn_f32;
    k->attn[PHI_DT_F16] = attn_f16;
}
