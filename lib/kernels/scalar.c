/* The scalar reference kernels: plain C, no intrinsics. Every other kernel
 * table starts as a copy of this one, and the tests hold SIMD kernels to
 * these results. Block layouts: ../shared/docs/gguf-and-quants.md §3. */
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "kernels/fp16.h"
#include "kernels/kernels.h"
#include "kernels/packed.h"
#include "kernels/quant_blocks.h"
#include "phi4.h"

/* ---- activation converters ------------------------------------------- */

static void quantize_f32(const float *x, void *out, int64_t n)
{
    memcpy(out, x, (size_t)n * sizeof(float));
}

/* One block of activations to int8: q = round(x * inv) with roundf's ties
 * away from zero, clamped to ±127 and NaN to 0 (so the conversion is always
 * defined); d from phi_q8_scale. Unlike llama.cpp's Q8_K (signed scale,
 * ties to even) all three formats share this rule. Returns d. */
static float quantize_block(const float *x, int n, int8_t *q)
{
    float amax = 0.0f;
    bool has_nan = false;
    for (int j = 0; j < n; j++) {
        amax = fmaxf(amax, fabsf(x[j]));
        has_nan |= isnan(x[j]);
    }
    float inv;
    float d = phi_q8_scale(amax, has_nan, &inv);
    for (int j = 0; j < n; j++) {
        float v = x[j] * inv;
        v = isnan(v) ? 0.0f : fminf(fmaxf(v, -127.0f), 127.0f);
        q[j] = (int8_t)roundf(v);
    }
    return d;
}

static void quantize_q8_0(const float *x, void *out, int64_t n)
{
    phi_block_q8_0 *b = out;
    for (int64_t i = 0; i < n / PHI_QK32; i++, x += PHI_QK32)
        b[i].d = phi_f32_to_fp16(quantize_block(x, PHI_QK32, b[i].qs));
}

static void quantize_q8_1(const float *x, void *out, int64_t n)
{
    phi_block_q8_1 *b = out;
    for (int64_t i = 0; i < n / PHI_QK32; i++, x += PHI_QK32) {
        float d = quantize_block(x, PHI_QK32, b[i].qs);
        int sum = 0;
        for (int j = 0; j < PHI_QK32; j++)
            sum += b[i].qs[j];
        b[i].d = phi_f32_to_fp16(d);
        b[i].s = phi_f32_to_fp16(d * (float)sum);
    }
}

static void quantize_q8_k(const float *x, void *out, int64_t n)
{
    phi_block_q8_k *b = out;
    for (int64_t i = 0; i < n / PHI_QK_K; i++, x += PHI_QK_K) {
        b[i].d = quantize_block(x, PHI_QK_K, b[i].qs);
        for (int k = 0; k < PHI_QK_K / 16; k++) {
            int sum = 0;
            for (int j = 0; j < 16; j++)
                sum += b[i].qs[16 * k + j];
            b[i].bsums[k] = (int16_t)sum;
        }
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

/* Nibble j of a 32-block (elements 0..15 low nibbles, 16..31 high). */
static inline int nibble32(const uint8_t *qs, int j)
{
    return j < 16 ? qs[j] & 0x0f : qs[j - 16] >> 4;
}

/* 5-bit value j of a Q5_0 / Q5_1 block. */
static inline int q5_value(const uint8_t *qs, const uint8_t qh[4], int j)
{
    return nibble32(qs, j) | (int)((phi_load_u32(qh) >> j) & 1) << 4;
}

/* ---- blocks of 32: Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL ---------------
 * Every block starts with its fp16 scale d; Q4_1 and Q5_1 follow it with the
 * fp16 offset m (x = d*q + m), the others have x = d*q with q below. type is
 * a constant at each call site, so each instance is a plain loop. */

/* The integer q of element j of one block. */
static inline int value32(uint32_t type, const void *block, int j)
{
    const phi_block_q5_0 *q50 = block;
    const phi_block_q5_1 *q51 = block;
    switch (type) {
    case PHI_DT_Q8_0: return ((const phi_block_q8_0 *)block)->qs[j];
    case PHI_DT_Q4_0: return nibble32(((const phi_block_q4_0 *)block)->qs, j) - 8;
    case PHI_DT_Q4_1: return nibble32(((const phi_block_q4_1 *)block)->qs, j);
    case PHI_DT_Q5_0: return q5_value(q50->qs, q50->qh, j) - 16;
    case PHI_DT_Q5_1: return q5_value(q51->qs, q51->qh, j);
    default: return phi_iq4nl_values[nibble32(((const phi_block_iq4_nl *)block)->qs, j)];
    }
}

/* Against Q8_0 activations: d_w·d_a·Σ q·a per block; the types with an
 * offset go against Q8_1, whose s = d_a·Σ a adds m·s. */
static inline float dot_blocks32(int64_t n, const void *w, const void *a, uint32_t type)
{
    const bool offset = phi_block32_has_offset(type);
    const size_t w_bytes = phi_block32_bytes(type);
    const size_t a_bytes = offset ? sizeof(phi_block_q8_1) : sizeof(phi_block_q8_0);
    const size_t a_qs = offset ? offsetof(phi_block_q8_1, qs) : offsetof(phi_block_q8_0, qs);
    float sum = 0.0f;
    for (int64_t i = 0; i < n / PHI_QK32; i++) {
        const uint8_t *x = (const uint8_t *)w + i * w_bytes, *y = (const uint8_t *)a + i * a_bytes;
        const int8_t *aq = (const int8_t *)(y + a_qs);
        int32_t isum = 0;
        for (int j = 0; j < PHI_QK32; j++)
            isum += value32(type, x, j) * aq[j];
        float dd = phi_fp16_to_f32(phi_load_u16(x)) * phi_fp16_to_f32(phi_load_u16(y));
        float part = dd * (float)isum;
        if (offset)
            part += phi_fp16_to_f32(phi_load_u16(x + 2)) * phi_fp16_to_f32(phi_load_u16(y + 2));
        sum += part;
    }
    return sum;
}

/* x = d*q (+ m): each product is exact in float, so with one rounding at
 * most this is the correctly rounded value of the exact formula. */
static inline void dequant_blocks32(const void *src, float *dst, int64_t n, uint32_t type)
{
    const size_t bytes = phi_block32_bytes(type);
    for (int64_t i = 0; i < n / PHI_QK32; i++, dst += PHI_QK32) {
        const uint8_t *x = (const uint8_t *)src + i * bytes;
        float d = phi_fp16_to_f32(phi_load_u16(x));
        const bool offset = phi_block32_has_offset(type);
        float m = offset ? phi_fp16_to_f32(phi_load_u16(x + 2)) : 0.0f;
        for (int j = 0; j < PHI_QK32; j++)
            dst[j] = offset ? d * value32(type, x, j) + m : d * value32(type, x, j);
    }
}

#define BLOCKS32(T, name)                                                      \
    static float vec_dot_##name(int64_t n, const void *w, const void *a)       \
    {                                                                          \
        return dot_blocks32(n, w, a, PHI_DT_##T);                              \
    }                                                                          \
    static void dequant_##name(const void *src, float *dst, int64_t n)         \
    {                                                                          \
        dequant_blocks32(src, dst, n, PHI_DT_##T);                             \
    }
PHI_BLOCK32_TYPES(BLOCKS32)
#undef BLOCKS32

/* ---- packed groups of 64 rows (packed.h) ------------------------------ */

/* The unsigned u = q + offset of element j of row r in a packed block column. */
static inline int packed_value(uint32_t type, const uint8_t *column, int r, int j)
{
    const uint8_t *sliced = column + PHI_PACK_SCALES;
    if (type == PHI_DT_Q8_0)
        return sliced[phi_packed_byte(r, j)];
    uint8_t byte = sliced[phi_packed_byte(r, j % 16)]; /* elements j and j + 16 */
    return j < 16 ? byte & 15 : byte >> 4;
}

/* As dot_blocks32 for every row and token, in the same order of float
 * operations, so a packed matrix gives the scalar row kernel's results. */
static inline void gemm_packed_blocks32(int64_t n, const void *w, int n_groups, const void *a,
                                        size_t a_stride, const int32_t *a_sums, int n_tok,
                                        float *y, size_t y_stride, uint32_t type)
{
    const int64_t nb = n / PHI_QK32;
    const size_t column = PHI_PACK_ROWS * phi_block32_bytes(type);
    const int offset = phi_packed_offset(type);
    for (int g = 0; g < n_groups; g++)
        for (int t = 0; t < n_tok; t++)
            for (int r = 0; r < PHI_PACK_ROWS; r++) {
                float sum = 0.0f;
                for (int64_t b = 0; b < nb; b++) {
                    const uint8_t *col = (const uint8_t *)w + ((size_t)g * (size_t)nb + (size_t)b) * column;
                    const phi_block_q8_0 *act =
                        (const phi_block_q8_0 *)((const char *)a + (size_t)t * a_stride) + b;
                    int32_t isum = -offset * a_sums[(size_t)t * (size_t)nb + (size_t)b];
                    for (int j = 0; j < PHI_QK32; j++)
                        isum += packed_value(type, col, r, j) * act->qs[j];
                    float dd = phi_fp16_to_f32(phi_load_u16(col + 2 * r)) * phi_fp16_to_f32(act->d);
                    sum += dd * (float)isum;
                }
                y[(size_t)t * y_stride + (size_t)g * PHI_PACK_ROWS + (size_t)r] = sum;
            }
}

PHI_PACKED32_TYPES(PHI_PACKED32_ENTRY)

/* ---- super-blocks of 256: K-quants and IQ4_XS against Q8_K ------------ */

/* A super-block as integers: x_e = d*scale[e/16]*q[e] - dmin*min[e/16]
 * (dmin and min are 0 for the types without mins). */
typedef struct {
    float d, dmin;
    int16_t q[PHI_QK_K];
    int16_t scale[PHI_QK_K / 16], min[PHI_QK_K / 16];
} superblock;

/* The 2-bit field of element e of Q2_K and Q3_K. */
static inline int q2_bits(const uint8_t *qs, int e)
{
    return (qs[32 * (e / 128) + e % 32] >> (2 * (e % 128 / 32))) & 3;
}

static void decode_q2_k(const phi_block_q2_k *x, superblock *s)
{
    s->d = phi_fp16_to_f32(x->d);
    s->dmin = phi_fp16_to_f32(x->dmin);
    for (int e = 0; e < PHI_QK_K; e++)
        s->q[e] = (int16_t)q2_bits(x->qs, e);
    for (int g = 0; g < 16; g++) {
        s->scale[g] = x->scales[g] & 15;
        s->min[g] = x->scales[g] >> 4;
    }
}

static void decode_q3_k(const phi_block_q3_k *x, superblock *s)
{
    s->d = phi_fp16_to_f32(x->d);
    for (int e = 0; e < PHI_QK_K; e++) {
        int hbit = (x->hmask[e % 32] >> (4 * (e / 128) + e % 128 / 32)) & 1;
        s->q[e] = (int16_t)((q2_bits(x->qs, e) | hbit << 2) - 4);
    }
    int8_t sc[16];
    phi_unpack_q3k_scales(x->scales, sc);
    for (int g = 0; g < 16; g++)
        s->scale[g] = sc[g];
}

/* Q4_K and Q5_K: element 64c + l takes the low nibble of qs[32c + l % 32]
 * for l < 32, the high one above; Q5_K adds bit e/32 of qh[e % 32] as bit 4. */
static void decode_q45_k(uint16_t d, uint16_t dmin, const uint8_t scales[12], const uint8_t *qs,
                         const uint8_t *qh, superblock *s)
{
    s->d = phi_fp16_to_f32(d);
    s->dmin = phi_fp16_to_f32(dmin);
    for (int e = 0; e < PHI_QK_K; e++) {
        uint8_t byte = qs[32 * (e / 64) + e % 32];
        int q = e % 64 < 32 ? byte & 0x0f : byte >> 4;
        if (qh)
            q |= ((qh[e % 32] >> (e / 32)) & 1) << 4;
        s->q[e] = (int16_t)q;
    }
    uint8_t sc[8], m[8];
    phi_unpack_q4k_scales(scales, sc, m);
    for (int g = 0; g < 16; g++) {
        s->scale[g] = sc[g / 2];
        s->min[g] = m[g / 2];
    }
}

static void decode_q6_k(const phi_block_q6_k *x, superblock *s)
{
    s->d = phi_fp16_to_f32(x->d);
    for (int e = 0; e < PHI_QK_K; e++) {
        int h = e / 128, g = e % 128 / 32, l = e % 32;
        int low = x->ql[64 * h + l + 32 * (g & 1)] >> (g >= 2 ? 4 : 0) & 0x0f;
        s->q[e] = (int16_t)((low | ((x->qh[32 * h + l] >> (2 * g)) & 3) << 4) - 32);
    }
    for (int g = 0; g < 16; g++)
        s->scale[g] = x->scales[g];
}

static void decode_iq4_xs(const phi_block_iq4_xs *x, superblock *s)
{
    s->d = phi_fp16_to_f32(x->d);
    for (int e = 0; e < PHI_QK_K; e++)
        s->q[e] = phi_iq4nl_values[nibble32(x->qs + 16 * (e / 32), e % 32)];
    for (int g = 0; g < 16; g++)
        s->scale[g] = (int16_t)phi_iq4xs_scale(x, g / 2);
}

static void decode_superblock(uint32_t type, const void *w, int64_t i, superblock *s)
{
    memset(s, 0, sizeof *s);
    const phi_block_q4_k *q4 = (const phi_block_q4_k *)w + i;
    const phi_block_q5_k *q5 = (const phi_block_q5_k *)w + i;
    switch (type) {
    case PHI_DT_Q2_K: decode_q2_k((const phi_block_q2_k *)w + i, s); break;
    case PHI_DT_Q3_K: decode_q3_k((const phi_block_q3_k *)w + i, s); break;
    case PHI_DT_Q4_K: decode_q45_k(q4->d, q4->dmin, q4->scales, q4->qs, NULL, s); break;
    case PHI_DT_Q5_K: decode_q45_k(q5->d, q5->dmin, q5->scales, q5->qs, q5->qh, s); break;
    case PHI_DT_Q6_K: decode_q6_k((const phi_block_q6_k *)w + i, s); break;
    default: decode_iq4_xs((const phi_block_iq4_xs *)w + i, s); break;
    }
}

/* Against Q8_K: every sum inside a super-block is exact in int32 (the
 * largest, Q6_K's, stays below 2^28), then d_a·d·Σ_g scale_g·Σ q·a minus
 * d_a·dmin·Σ_g min_g·bsums[g], as the SIMD kernels compute it. */
static inline float dot_superblocks(int64_t n, const void *w, const void *a, uint32_t type)
{
    const phi_block_q8_k *y = a;
    float sum = 0.0f;
    superblock s;
    for (int64_t i = 0; i < n / PHI_QK_K; i++) {
        decode_superblock(type, w, i, &s);
        int32_t isum = 0, msum = 0;
        for (int g = 0; g < 16; g++) {
            int32_t gsum = 0;
            for (int e = 16 * g; e < 16 * g + 16; e++)
                gsum += s.q[e] * y[i].qs[e];
            isum += s.scale[g] * gsum;
            msum += s.min[g] * y[i].bsums[g];
        }
        sum += y[i].d * s.d * (float)isum - y[i].d * s.dmin * (float)msum;
    }
    return sum;
}

/* d*scale and dmin*min are exact in float (11 + 8 significant bits), and so
 * is their product with q for every type but Q6_K, which rounds once; the
 * difference rounds once: each element is the correctly rounded value of the
 * exact formula (tests/ref computes it in float64 and rounds it once). */
static inline void dequant_superblocks(const void *src, float *dst, int64_t n, uint32_t type)
{
    superblock s;
    for (int64_t i = 0; i < n / PHI_QK_K; i++, dst += PHI_QK_K) {
        decode_superblock(type, src, i, &s);
        for (int e = 0; e < PHI_QK_K; e++)
            dst[e] = s.d * s.scale[e / 16] * s.q[e] - s.dmin * s.min[e / 16];
    }
}

#define SUPERBLOCKS(T, name)                                                   \
    static float vec_dot_##name(int64_t n, const void *w, const void *a)       \
    {                                                                          \
        return dot_superblocks(n, w, a, PHI_DT_##T);                           \
    }                                                                          \
    static void dequant_##name(const void *src, float *dst, int64_t n)         \
    {                                                                          \
        dequant_superblocks(src, dst, n, PHI_DT_##T);                          \
    }
PHI_SUPERBLOCK_TYPES(SUPERBLOCKS)
#undef SUPERBLOCKS

/* ---- packed groups of 64 K-quant rows (packed.h) ---------------------- */

/* Row r's super-block out of a packed block column, put back together
 * (phi_unpack_row, which the tests hold to the file's bytes) and decoded
 * as the row kernel decodes it. */
static void packed_superblock(uint32_t type, const uint8_t *column, int r, superblock *s)
{
    _Alignas(4) uint8_t block[PHI_PACK_MAX_BLOCK];
    phi_unpack_row(type, PHI_QK_K, column, r, block);
    decode_superblock(type, block, 0, s);
}

/* As dot_superblocks for every row and token, in the same order of float
 * operations, with the mins' sums of Q4_K and Q5_K from the token's packed
 * activation sums and Q6_K's offset through each 16-element group's dot:
 * a packed matrix gives the scalar row kernel's results. */
static inline void gemm_packed_superblocks(int64_t n, const void *w, int n_groups, const void *a,
                                           size_t a_stride, const int32_t *a_sums, int n_tok,
                                           float *y, size_t y_stride, uint32_t type)
{
    const int64_t nb = n / PHI_QK_K;
    const size_t column = PHI_PACK_ROWS * phi_dtype_get(type)->block_bytes;
    const size_t words = phi_packed_sums_words(type, n);
    superblock s;
    for (int g = 0; g < n_groups; g++)
        for (int t = 0; t < n_tok; t++)
            for (int r = 0; r < PHI_PACK_ROWS; r++) {
                const phi_block_q8_k *act = (const phi_block_q8_k *)((const char *)a + (size_t)t * a_stride);
                float sum = 0.0f;
                for (int64_t i = 0; i < nb; i++) {
                    const uint8_t *col = (const uint8_t *)w + ((size_t)g * (size_t)nb + (size_t)i) * column;
                    packed_superblock(type, col, r, &s);
                    int32_t isum = 0, msum = 0;
                    if (type == PHI_DT_Q6_K) { /* s.q holds q - 32; add 32 back per group */
                        for (int k = 0; k < 16; k++) {
                            int32_t dot = -32 * act[i].bsums[k];
                            for (int e = 16 * k; e < 16 * k + 16; e++)
                                dot += (s.q[e] + 32) * act[i].qs[e];
                            isum += s.scale[k] * dot;
                        }
                    } else {
                        const int8_t *split = (const int8_t *)(a_sums + (size_t)t * words + 4 * (size_t)i);
                        for (int j = 0; j < 8; j++) {
                            int32_t sub = 0;
                            for (int e = 32 * j; e < 32 * j + 32; e++)
                                sub += s.q[e] * act[i].qs[e];
                            isum += s.scale[2 * j] * sub;
                            msum += s.min[2 * j] * (64 * split[8 * (j / 4) + j % 4] +
                                                    split[8 * (j / 4) + 4 + j % 4]);
                        }
                    }
                    sum += act[i].d * s.d * (float)isum - act[i].d * s.dmin * (float)msum;
                }
                y[(size_t)t * y_stride + (size_t)g * PHI_PACK_ROWS + (size_t)r] = sum;
            }
}

PHI_PACKED_K_TYPES(PHI_PACKED_K_ENTRY)

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

static void f32_to_f16(int64_t n, const float *x, uint16_t *h)
{
    for (int64_t i = 0; i < n; i++)
        h[i] = phi_f32_to_fp16(x[i]);
}

static void swiglu_f32(int64_t n, const float *gate, const float *up, float *out)
{
    for (int64_t i = 0; i < n; i++)
        out[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
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
    k->quantize_act[PHI_DT_Q8_1] = quantize_q8_1;
    k->quantize_act[PHI_DT_Q8_K] = quantize_q8_k;

    k->vec_dot[PHI_DT_F32] = vec_dot_f32;
    k->vec_dot[PHI_DT_F16] = vec_dot_f16;
    k->vec_dot[PHI_DT_BF16] = vec_dot_bf16;
#define SET_DOT(T, name) k->vec_dot[PHI_DT_##T] = vec_dot_##name;
    PHI_BLOCK32_TYPES(SET_DOT)
    PHI_SUPERBLOCK_TYPES(SET_DOT)
#undef SET_DOT

#define SET_PACKED(T, name) k->gemm_packed[PHI_DT_##T] = gemm_packed_##name;
    PHI_PACKED32_TYPES(SET_PACKED)
    PHI_PACKED_K_TYPES(SET_PACKED)
#undef SET_PACKED

    k->dequant[PHI_DT_F32] = dequant_f32;
    k->dequant[PHI_DT_F16] = dequant_f16;
    k->dequant[PHI_DT_BF16] = dequant_bf16;
#define SET_DEQUANT(T, name) k->dequant[PHI_DT_##T] = dequant_##name;
    PHI_BLOCK32_TYPES(SET_DEQUANT)
    PHI_SUPERBLOCK_TYPES(SET_DEQUANT)
#undef SET_DEQUANT

    k->dot_f32 = dot_f32;
    k->axpy_f32 = axpy_f32;
    k->scale_f32 = scale_f32;
    k->f32_to_f16 = f32_to_f16;
    k->swiglu_f32 = swiglu_f32;

    k->attn[PHI_DT_F32] = attn_f32;
    k->attn[PHI_DT_F16] = attn_f16;
}
