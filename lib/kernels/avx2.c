/* AVX2 + FMA + F16C kernels. This file alone is compiled with
 * -mavx2 -mfma -mf16c; the dispatcher only installs it on CPUs that have all
 * three. Each kernel has its scalar twin in the same slot of scalar.c, and
 * tests/test_kernels.c holds it to that twin. Block layouts:
 * ../shared/docs/gguf-and-quants.md §3. */
#include <immintrin.h>
#include <stdbool.h>
#include <string.h>

#include "kernels/attn_x86.h"
#include "kernels/fp16.h"
#include "kernels/kernels.h"
#include "kernels/quant_blocks.h"
#include "phi4.h"

static inline float fp16_to_f32(uint16_t h)
{
    return _cvtsh_ss(h);
}

/* ---- activation converters ------------------------------------------- */

/* roundf (ties away from zero) for |v| < 2^23: truncate, then step away from
 * zero when the dropped fraction is at least one half. v - trunc(v) is exact,
 * so this matches roundf bit for bit, unlike adding 0.5 (which rounds up
 * 0.49999997 to 1) or _mm256_round_ps (ties to even). */
static inline __m256i round_away_epi32(__m256 v)
{
    const __m256 sign_mask = _mm256_set1_ps(-0.0f);
    __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    __m256 frac = _mm256_andnot_ps(sign_mask, _mm256_sub_ps(v, t));
    __m256 one = _mm256_or_ps(_mm256_set1_ps(1.0f), _mm256_and_ps(sign_mask, v));
    __m256 step = _mm256_and_ps(_mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ), one);
    return _mm256_cvttps_epi32(_mm256_add_ps(t, step));
}

/* Same bytes as scalar.c's quantize_q8_0: amax by max (order-independent),
 * the same scalar divisions for d and 1/d, one IEEE multiply per element and
 * roundf semantics. F16C's conversion rounds to nearest even, as
 * phi_f32_to_fp16 does. */
static void quantize_q8_0(const float *x, void *out, int64_t n)
{
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    /* packs_epi32 / packs_epi16 interleave 128-bit lanes; this restores order. */
    const __m256i unshuffle = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    phi_block_q8_0 *b = out;
    for (int64_t i = 0; i < n / PHI_QK8_0; i++, x += PHI_QK8_0) {
        __m256 v0 = _mm256_loadu_ps(x), v1 = _mm256_loadu_ps(x + 8);
        __m256 v2 = _mm256_loadu_ps(x + 16), v3 = _mm256_loadu_ps(x + 24);
        /* max_ps(x, acc) returns acc when x is NaN, like fmaxf(acc, x). */
        __m256 m = _mm256_max_ps(_mm256_and_ps(v0, abs_mask), _mm256_setzero_ps());
        m = _mm256_max_ps(_mm256_and_ps(v1, abs_mask), m);
        m = _mm256_max_ps(_mm256_and_ps(v2, abs_mask), m);
        m = _mm256_max_ps(_mm256_and_ps(v3, abs_mask), m);
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        float amax = _mm_cvtss_f32(m4);

        float d = amax / 127.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        b[i].d = _cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT);

        __m256 vid = _mm256_set1_ps(id);
        __m256i q0 = round_away_epi32(_mm256_mul_ps(v0, vid));
        __m256i q1 = round_away_epi32(_mm256_mul_ps(v1, vid));
        __m256i q2 = round_away_epi32(_mm256_mul_ps(v2, vid));
        __m256i q3 = round_away_epi32(_mm256_mul_ps(v3, vid));
        /* Keep the low byte of each int32, as the scalar (int8_t) cast does:
         * the same bytes for |q| <= 127, and also when 1/d overflowed and the
         * conversion gave 0x80000000 (a block with amax below ~4e-37). */
        const __m256i low = _mm256_set1_epi32(0xff);
        q0 = _mm256_and_si256(q0, low);
        q1 = _mm256_and_si256(q1, low);
        q2 = _mm256_and_si256(q2, low);
        q3 = _mm256_and_si256(q3, low);
        __m256i q = _mm256_packus_epi16(_mm256_packus_epi32(q0, q1), _mm256_packus_epi32(q2, q3));
        _mm256_storeu_si256((__m256i *)b[i].qs, _mm256_permutevar8x32_epi32(q, unshuffle));
    }
}

/* ---- dot products ---------------------------------------------------- */

static float dot_f32(int64_t n, const float *a, const float *b)
{
    /* Four accumulators hide the FMA latency. */
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
    }
    for (; i + 8 <= n; i += 8)
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    float sum = hsum_ps(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    for (; i < n; i++)
        sum += a[i] * b[i];
    return sum;
}

static float vec_dot_f32(int64_t n, const void *w, const void *a)
{
    return dot_f32(n, w, a);
}

/* 8 halves or bfloat16s to floats. */
static inline __m256 load_half8(const uint16_t *p, bool bf16)
{
    __m128i h = _mm_loadu_si128((const __m128i *)p);
    if (!bf16)
        return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

/* F16 and BF16 rows differ only in the conversion; bf16 is a constant at
 * each call site, so each instance compiles to one straight loop. */
static inline __attribute__((always_inline)) float dot_half(int64_t n, const uint16_t *wh,
                                                            const float *af, bool bf16)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_fmadd_ps(load_half8(wh + i, bf16), _mm256_loadu_ps(af + i), s0);
        s1 = _mm256_fmadd_ps(load_half8(wh + i + 8, bf16), _mm256_loadu_ps(af + i + 8), s1);
        s2 = _mm256_fmadd_ps(load_half8(wh + i + 16, bf16), _mm256_loadu_ps(af + i + 16), s2);
        s3 = _mm256_fmadd_ps(load_half8(wh + i + 24, bf16), _mm256_loadu_ps(af + i + 24), s3);
    }
    for (; i + 8 <= n; i += 8)
        s0 = _mm256_fmadd_ps(load_half8(wh + i, bf16), _mm256_loadu_ps(af + i), s0);
    float sum = hsum_ps(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    for (; i < n; i++)
        sum += (bf16 ? phi_bf16_to_f32(wh[i]) : fp16_to_f32(wh[i])) * af[i];
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

/* Σ w·a of 32 signed bytes as 8 int32 lanes. maddubs wants one unsigned
 * operand, so feed it |w| and a with w's sign (the sign trick). Exact for
 * w in -128..127 and a in -127..127 (what quantize_q8_0 produces): a pair
 * sum is at most 2·128·127 < 2^15, so the int16 never saturates. */
static inline __m256i dot_i8x32(__m256i w, __m256i a)
{
    __m256i p16 = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(a, w));
    return _mm256_madd_epi16(p16, _mm256_set1_epi16(1));
}

static inline __m256 block_scale(uint16_t dw, uint16_t da)
{
    return _mm256_set1_ps(fp16_to_f32(dw) * fp16_to_f32(da));
}

/* Σ (n-8)·a for the 16 bytes of a Q4_0 block against 32 activations, as 8
 * int32 lanes. The nibbles n are unsigned already, so maddubs takes them as
 * they are and the offset comes off as Σ 8·a (a second maddubs) before the
 * widening: no sign trick. Pair sums stay within 2·15·127 < 2^15. Element
 * order: low nibbles (elements 0..15) in the low lane, high in the high. */
static inline __m256i dot_q4x32(const uint8_t *qs, __m256i a)
{
    __m128i q = _mm_loadu_si128((const __m128i *)qs);
    __m256i n = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(q, 4), q),
                                 _mm256_set1_epi8(0x0f));
    __m256i p16 = _mm256_sub_epi16(_mm256_maddubs_epi16(n, a),
                                   _mm256_maddubs_epi16(_mm256_set1_epi8(8), a));
    return _mm256_madd_epi16(p16, _mm256_set1_epi16(1));
}

/* Block i of a Q8_0 or Q4_0 row against activation block a. */
static inline __m256i dot_block(const void *w, int64_t i, const phi_block_q8_0 *a, bool q4)
{
    __m256i av = _mm256_loadu_si256((const __m256i *)a->qs);
    if (q4)
        return dot_q4x32(((const phi_block_q4_0 *)w)[i].qs, av);
    return dot_i8x32(_mm256_loadu_si256((const __m256i *)((const phi_block_q8_0 *)w)[i].qs), av);
}

static inline uint16_t wblock_d(const void *w, int64_t i, bool q4)
{
    return q4 ? ((const phi_block_q4_0 *)w)[i].d : ((const phi_block_q8_0 *)w)[i].d;
}

/* Q8_0 and Q4_0 weights against Q8_0 activations. The int32 block sums are
 * exact; each block's 8 partial sums are scaled and accumulated per lane (two
 * accumulators over alternating blocks), so only the float summation order
 * differs from the scalar twin. q4 is a constant at each call site. */
static inline __attribute__((always_inline)) float dot_blocks(int64_t n, const void *w,
                                                              const phi_block_q8_0 *y, bool q4)
{
    int64_t nb = n / PHI_QK8_0, i = 0;
    __m256 s0 = _mm256_setzero_ps(), s1 = s0;
    for (; i + 2 <= nb; i += 2) {
        __m256i p0 = dot_block(w, i, &y[i], q4);
        __m256i p1 = dot_block(w, i + 1, &y[i + 1], q4);
        s0 = _mm256_fmadd_ps(block_scale(wblock_d(w, i, q4), y[i].d), _mm256_cvtepi32_ps(p0), s0);
        s1 = _mm256_fmadd_ps(block_scale(wblock_d(w, i + 1, q4), y[i + 1].d),
                             _mm256_cvtepi32_ps(p1), s1);
    }
    if (i < nb) {
        __m256i p0 = dot_block(w, i, &y[i], q4);
        s0 = _mm256_fmadd_ps(block_scale(wblock_d(w, i, q4), y[i].d), _mm256_cvtepi32_ps(p0), s0);
    }
    return hsum_ps(_mm256_add_ps(s0, s1));
}

static float vec_dot_q8_0(int64_t n, const void *w, const void *a)
{
    return dot_blocks(n, w, a, false);
}

static float vec_dot_q4_0(int64_t n, const void *w, const void *a)
{
    return dot_blocks(n, w, a, true);
}

/* ---- float vector helpers -------------------------------------------- */

/* Multiply then add, not FMA: two roundings, as in the scalar twin, so the
 * result is bit-identical (these run on the residual stream and attention). */
static void axpy_f32(int64_t n, float alpha, const float *x, float *y)
{
    __m256 va = _mm256_set1_ps(alpha);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(y + i),
                                              _mm256_mul_ps(va, _mm256_loadu_ps(x + i))));
    for (; i < n; i++)
        y[i] += alpha * x[i];
}

static void scale_f32(int64_t n, float alpha, float *x)
{
    __m256 va = _mm256_set1_ps(alpha);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), va));
    for (; i < n; i++)
        x[i] *= alpha;
}

/* ---- attention: the head_dim loops of attn_x86.h's driver ------------- */

/* 8 K or V values from element i of a row. */
static inline __m256 load_kv8(const char *row, int64_t i, bool f16)
{
    if (f16)
        return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)row + i)));
    return _mm256_loadu_ps((const float *)row + i);
}

/* The last n < 8 values from element i of a row, zero above: no read past
 * the row. */
static inline __m256 load_kv_tail(const char *row, int64_t i, int n, bool f16)
{
    size_t size = f16 ? sizeof(uint16_t) : sizeof(float);
    unsigned char buf[32] = {0};
    memcpy(buf, row + (size_t)i * size, (size_t)n * size);
    return load_kv8((const char *)buf, 0, f16);
}

static inline __m256i lanes_below(int n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* Scores of np (1 or 2) consecutive K rows from row j: two rows give twice
 * the independent FMA chains. ng and np are constants at each call site and
 * the loops over them unroll, so a[][] and kv[] live in registers. */
static inline __attribute__((always_inline)) void attn_qk_rows(
    int64_t hd, int ng, int np, const float *q, const char *k, size_t stride, int j, bool f16,
    __m256 part[ATTN_QUAD][ATTN_BLOCK])
{
    __m256 a[2][ATTN_QUAD], kv[2];
#pragma GCC unroll 8
    for (int x = 0; x < np * ng; x++)
        a[x / ng][x % ng] = _mm256_setzero_ps();
    for (int64_t i = 0; i < hd; i += 8) {
        int n = hd - i < 8 ? (int)(hd - i) : 8;
#pragma GCC unroll 2
        for (int r = 0; r < np; r++) {
            const char *row = k + (size_t)(j + r) * stride;
            kv[r] = n == 8 ? load_kv8(row, i, f16) : load_kv_tail(row, i, n, f16);
        }
#pragma GCC unroll 4
        for (int g = 0; g < ng; g++) {
            const float *qg = q + g * hd + i;
            __m256 qv = n == 8 ? _mm256_loadu_ps(qg) : _mm256_maskload_ps(qg, lanes_below(n));
#pragma GCC unroll 2
            for (int r = 0; r < np; r++)
                a[r][g] = _mm256_fmadd_ps(qv, kv[r], a[r][g]);
        }
    }
#pragma GCC unroll 8
    for (int x = 0; x < np * ng; x++)
        part[x % ng][j + x / ng] = a[x / ng][x % ng];
}

/* One 8-wide column i (n <= 8 wide at the end) of every head's accumulator:
 * the block's V values there are converted once and held in registers for
 * all the heads; even and odd positions go to two FMA chains. */
static inline __attribute__((always_inline)) void pv_column(
    int64_t hd, int64_t i, int n, int ng, const float w[ATTN_QUAD][ATTN_BLOCK], const char *v,
    size_t stride, int nb, bool f16, float *acc)
{
    __m256 vv[ATTN_BLOCK];
#pragma GCC unroll 8
    for (int j = 0; j < ATTN_BLOCK; j++)
        vv[j] = j >= nb ? _mm256_setzero_ps()
              : n == 8  ? load_kv8(v + j * stride, i, f16)
                        : load_kv_tail(v + j * stride, i, n, f16);
    __m256i mask = lanes_below(n);
    for (int g = 0; g < ng; g++) {
        float *a = acc + g * hd + i;
        __m256 s[2] = {n == 8 ? _mm256_loadu_ps(a) : _mm256_maskload_ps(a, mask),
                       _mm256_setzero_ps()};
#pragma GCC unroll 8
        for (int j = 0; j < nb; j++)
            s[j % 2] = _mm256_fmadd_ps(_mm256_set1_ps(w[g][j]), vv[j], s[j % 2]);
        if (n == 8)
            _mm256_storeu_ps(a, _mm256_add_ps(s[0], s[1]));
        else
            _mm256_maskstore_ps(a, mask, _mm256_add_ps(s[0], s[1]));
    }
}

static inline __attribute__((always_inline)) void attn_pv(
    int64_t hd, int ng, const float w[ATTN_QUAD][ATTN_BLOCK], const char *v, size_t stride,
    int nb, bool f16, float *acc)
{
    int64_t i = 0;
    for (; i + 8 <= hd; i += 8)
        pv_column(hd, i, 8, ng, w, v, stride, nb, f16, acc);
    if (i < hd)
        pv_column(hd, i, (int)(hd - i), ng, w, v, stride, nb, f16, acc);
}

static void attn_f32(int64_t hd, int32_t n_q, const float *q, const void *k, const void *v,
                     size_t stride, int64_t n_pos, float *max, float *sum, float *acc)
{
    attn_blocks(hd, n_q, q, k, v, stride, n_pos, max, sum, acc, false, 2);
}

static void attn_f16(int64_t hd, int32_t n_q, const float *q, const void *k, const void *v,
                     size_t stride, int64_t n_pos, float *max, float *sum, float *acc)
{
    attn_blocks(hd, n_q, q, k, v, stride, n_pos, max, sum, acc, true, 2);
}

void phi_kernels_init_avx2(phi_kernels *k)
{
    k->name = "avx2";
    k->level = PHI_KERNEL_AVX2;

    k->quantize_act[PHI_DT_Q8_0] = quantize_q8_0;

    k->vec_dot[PHI_DT_F32] = vec_dot_f32;
    k->vec_dot[PHI_DT_F16] = vec_dot_f16;
    k->vec_dot[PHI_DT_BF16] = vec_dot_bf16;
    k->vec_dot[PHI_DT_Q8_0] = vec_dot_q8_0;
    k->vec_dot[PHI_DT_Q4_0] = vec_dot_q4_0;

    k->dot_f32 = dot_f32;
    k->axpy_f32 = axpy_f32;
    k->scale_f32 = scale_f32;

    k->attn[PHI_DT_F32] = attn_f32;
    k->attn[PHI_DT_F16] = attn_f16;
}
