/* AVX-512 (F, BW, VL, VNNI) kernels. This file alone is compiled with the
 * AVX-512 flags; the dispatcher installs it over the AVX2 table, so only the
 * kernels that measured faster at 512 bits live here (bench_kernels). Each
 * has its scalar twin in scalar.c and is tested against it. */
#include <immintrin.h>
#include <stdbool.h>

#include "kernels/attn_x86.h"
#include "kernels/fp16.h"
#include "kernels/kernels.h"
#include "kernels/quant_blocks.h"
#include "phi4.h"

/* Lanes [0, n) of a 16-lane vector, for the tails: masked loads and stores
 * neither touch nor fault on the lanes that are off. */
static inline __mmask16 tail_mask(int64_t n)
{
    return (__mmask16)((1u << n) - 1u);
}

/* ---- dot products ---------------------------------------------------- */

static float dot_f32(int64_t n, const float *a, const float *b)
{
    /* Four accumulators hide the FMA latency. */
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
        s2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32), s2);
        s3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48), s3);
    }
    for (; i + 16 <= n; i += 16)
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

static float vec_dot_f32(int64_t n, const void *w, const void *a)
{
    return dot_f32(n, w, a);
}

/* 16 halves or bfloat16s to floats (masked-off lanes read as +0). */
static inline __m512 load_half16(const uint16_t *p, __mmask16 m, bool bf16)
{
    __m256i h = _mm256_maskz_loadu_epi16(m, p);
    if (!bf16)
        return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

/* F16 and BF16 rows differ only in the conversion; bf16 is a constant at
 * each call site. (AVX512-BF16's vdpbf16ps is not used: it would round the
 * F32 activations to bf16, which the scalar twin does not do.) */
static inline __attribute__((always_inline)) float dot_half(int64_t n, const uint16_t *wh,
                                                            const float *af, bool bf16)
{
    const __mmask16 all = 0xffff;
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        s0 = _mm512_fmadd_ps(load_half16(wh + i, all, bf16), _mm512_loadu_ps(af + i), s0);
        s1 = _mm512_fmadd_ps(load_half16(wh + i + 16, all, bf16), _mm512_loadu_ps(af + i + 16), s1);
        s2 = _mm512_fmadd_ps(load_half16(wh + i + 32, all, bf16), _mm512_loadu_ps(af + i + 32), s2);
        s3 = _mm512_fmadd_ps(load_half16(wh + i + 48, all, bf16), _mm512_loadu_ps(af + i + 48), s3);
    }
    for (; i + 16 <= n; i += 16)
        s0 = _mm512_fmadd_ps(load_half16(wh + i, all, bf16), _mm512_loadu_ps(af + i), s0);
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        s1 = _mm512_fmadd_ps(load_half16(wh + i, m, bf16), _mm512_maskz_loadu_ps(m, af + i), s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

static float vec_dot_f16(int64_t n, const void *w, const void *a)
{
    return dot_half(n, w, a, false);
}

static float vec_dot_bf16(int64_t n, const void *w, const void *a)
{
    return dot_half(n, w, a, true);
}

/* Q8_0 and Q4_0 weights against Q8_0 activations, two blocks per 512-bit
 * vector. vpdpbusd multiplies unsigned by signed bytes and adds each four
 * products into an int32 lane without saturating, so with the sign trick
 * (|w| unsigned, a with w's sign) the block sums are exact for w in
 * -128..127 and a in -127..127 (what the Q8_0 quantizer produces). */

/* The 16 bytes of a Q4_0 block as 32 values in -8..7, in element order. */
static inline __m256i unpack_q4_0(const uint8_t *qs)
{
    __m128i q = _mm_loadu_si128((const __m128i *)qs);
    __m256i v = _mm256_set_m128i(_mm_srli_epi16(q, 4), q);
    return _mm256_sub_epi8(_mm256_and_si256(v, _mm256_set1_epi8(0x0f)), _mm256_set1_epi8(8));
}

static inline __m256i load_wblock(const void *w, int64_t i, bool q4)
{
    if (q4)
        return unpack_q4_0(((const phi_block_q4_0 *)w)[i].qs);
    return _mm256_loadu_si256((const __m256i *)((const phi_block_q8_0 *)w)[i].qs);
}

static inline float wblock_d(const void *w, int64_t i, bool q4)
{
    uint16_t d = q4 ? ((const phi_block_q4_0 *)w)[i].d : ((const phi_block_q8_0 *)w)[i].d;
    return _cvtsh_ss(d);
}

static inline __m512i join256(__m256i lo, __m256i hi)
{
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

/* Blocks i and i+1: 16 int32 lanes (8 per block) of exact partial sums. */
static inline __m512i dot_pair(const void *w, const phi_block_q8_0 *y, int64_t i, bool q4)
{
    __m512i av = join256(_mm256_loadu_si256((const __m256i *)y[i].qs),
                         _mm256_loadu_si256((const __m256i *)y[i + 1].qs));
    if (q4) {
        /* The nibbles are already unsigned: Σ(n-8)·a = Σ n·a - Σ 8·a, two
         * vpdpbusd and no sign trick. Lanes of 16 bytes: [low nibbles of i,
         * high of i, low of i+1, high of i+1], matching the activations. */
        const phi_block_q4_0 *x = w;
        __m256i q = _mm256_set_m128i(_mm_loadu_si128((const __m128i *)x[i + 1].qs),
                                     _mm_loadu_si128((const __m128i *)x[i].qs));
        __m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(q), _mm256_srli_epi16(q, 4), 1);
        z = _mm512_and_si512(_mm512_shuffle_i64x2(z, z, _MM_SHUFFLE(3, 1, 2, 0)),
                             _mm512_set1_epi8(0x0f));
        __m512i nsum = _mm512_dpbusd_epi32(_mm512_setzero_si512(), z, av);
        __m512i osum = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(8), av);
        return _mm512_sub_epi32(nsum, osum);
    }
    __m512i wv = join256(load_wblock(w, i, q4), load_wblock(w, i + 1, q4));
    __m512i sa = _mm512_mask_sub_epi8(av, _mm512_movepi8_mask(wv), _mm512_setzero_si512(), av);
    return _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_abs_epi8(wv), sa);
}

/* The per-lane scales of dot_pair: block i's in the low half, i+1's above. */
static inline __m512 pair_scale(const void *w, const phi_block_q8_0 *y, int64_t i, bool q4)
{
    __m256 lo = _mm256_set1_ps(wblock_d(w, i, q4) * _cvtsh_ss(y[i].d));
    __m256 hi = _mm256_set1_ps(wblock_d(w, i + 1, q4) * _cvtsh_ss(y[i + 1].d));
    return _mm512_castpd_ps(
        _mm512_insertf64x4(_mm512_castps_pd(_mm512_castps256_ps512(lo)), _mm256_castps_pd(hi), 1));
}

/* Each block's 8 partial sums are scaled and accumulated per lane, so only
 * the float summation order differs from the scalar twin. q4 is a constant
 * at each call site. */
static inline __attribute__((always_inline)) float dot_blocks(int64_t n, const void *w,
                                                              const phi_block_q8_0 *y, bool q4)
{
    int64_t nb = n / PHI_QK8_0, i = 0;
    __m512 s0 = _mm512_setzero_ps(), s1 = s0;
    for (; i + 4 <= nb; i += 4) {
        s0 = _mm512_fmadd_ps(pair_scale(w, y, i, q4), _mm512_cvtepi32_ps(dot_pair(w, y, i, q4)), s0);
        s1 = _mm512_fmadd_ps(pair_scale(w, y, i + 2, q4),
                             _mm512_cvtepi32_ps(dot_pair(w, y, i + 2, q4)), s1);
    }
    if (i + 2 <= nb) {
        s0 = _mm512_fmadd_ps(pair_scale(w, y, i, q4), _mm512_cvtepi32_ps(dot_pair(w, y, i, q4)), s0);
        i += 2;
    }
    float sum = _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
    if (i < nb) { /* the odd last block, at 256 bits */
        __m256i wv = load_wblock(w, i, q4);
        __m256i av = _mm256_loadu_si256((const __m256i *)y[i].qs);
        __m256i p = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_abs_epi8(wv),
                                        _mm256_sign_epi8(av, wv));
        __m256 s = _mm256_mul_ps(_mm256_set1_ps(wblock_d(w, i, q4) * _cvtsh_ss(y[i].d)),
                                 _mm256_cvtepi32_ps(p));
        __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
        h = _mm_add_ps(h, _mm_movehl_ps(h, h));
        sum += _mm_cvtss_f32(_mm_add_ss(h, _mm_movehdup_ps(h)));
    }
    return sum;
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

/* Multiply then add, not FMA, so the result is bit-identical to the scalar
 * twin's two roundings. */
static void axpy_f32(int64_t n, float alpha, const float *x, float *y)
{
    __m512 va = _mm512_set1_ps(alpha);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_add_ps(_mm512_loadu_ps(y + i),
                                              _mm512_mul_ps(va, _mm512_loadu_ps(x + i))));
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        __m512 r = _mm512_add_ps(_mm512_maskz_loadu_ps(m, y + i),
                                 _mm512_mul_ps(va, _mm512_maskz_loadu_ps(m, x + i)));
        _mm512_mask_storeu_ps(y + i, m, r);
    }
}

static void scale_f32(int64_t n, float alpha, float *x)
{
    __m512 va = _mm512_set1_ps(alpha);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(x + i, _mm512_mul_ps(_mm512_loadu_ps(x + i), va));
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(x + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), va));
    }
}

/* ---- attention: the head_dim loops of attn_x86.h's driver ------------- */

/* Up to 16 K or V values from element i of a row (masked-off lanes read
 * nothing and are 0). Whole chunks use plain loads: masked loads that miss
 * the cache made the kernel 3x slower streaming a cache from memory (AMD
 * EPYC, bench_kernels), though not in cache. */
static inline __m512 load_kv16(const char *row, int64_t i, __mmask16 m, bool f16)
{
    if (m == 0xffff && f16)
        return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const uint16_t *)row + i)));
    if (m == 0xffff)
        return _mm512_loadu_ps((const float *)row + i);
    if (f16)
        return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, (const uint16_t *)row + i));
    return _mm512_maskz_loadu_ps(m, (const float *)row + i);
}

/* The driver takes 8-lane partial sums. */
static inline __m256 fold_ps(__m512 v)
{
    __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
    return _mm256_add_ps(_mm512_castps512_ps256(v), hi);
}

/* As avx2.c's attn_qk_rows, 16 columns at a time and with masked tails; with 32
 * registers, four K rows at once. */
static inline __attribute__((always_inline)) void attn_qk_rows(
    int64_t hd, int ng, int np, const float *q, const char *k, size_t stride, int j, bool f16,
    __m256 part[ATTN_QUAD][ATTN_BLOCK])
{
    __m512 a[4][ATTN_QUAD], kv[4];
#pragma GCC unroll 16
    for (int x = 0; x < np * ng; x++)
        a[x / ng][x % ng] = _mm512_setzero_ps();
    for (int64_t i = 0; i < hd; i += 16) {
        __mmask16 m = hd - i < 16 ? tail_mask(hd - i) : 0xffff;
#pragma GCC unroll 4
        for (int r = 0; r < np; r++)
            kv[r] = load_kv16(k + (size_t)(j + r) * stride, i, m, f16);
#pragma GCC unroll 4
        for (int g = 0; g < ng; g++) {
            __m512 qv = _mm512_maskz_loadu_ps(m, q + g * hd + i);
#pragma GCC unroll 4
            for (int r = 0; r < np; r++)
                a[r][g] = _mm512_fmadd_ps(qv, kv[r], a[r][g]);
        }
    }
#pragma GCC unroll 16
    for (int x = 0; x < np * ng; x++)
        part[x % ng][j + x / ng] = fold_ps(a[x / ng][x % ng]);
}

/* As avx2.c's pv_column, 16 columns wide with a masked tail. */
static inline __attribute__((always_inline)) void attn_pv(
    int64_t hd, int ng, const float w[ATTN_QUAD][ATTN_BLOCK], const char *v, size_t stride,
    int nb, bool f16, float *acc)
{
    for (int64_t i = 0; i < hd; i += 16) {
        __mmask16 m = hd - i < 16 ? tail_mask(hd - i) : 0xffff;
        __m512 vv[ATTN_BLOCK];
#pragma GCC unroll 8
        for (int j = 0; j < ATTN_BLOCK; j++)
            vv[j] = j < nb ? load_kv16(v + j * stride, i, m, f16) : _mm512_setzero_ps();
        for (int g = 0; g < ng; g++) {
            float *a = acc + g * hd + i;
            __m512 s[2] = {_mm512_maskz_loadu_ps(m, a), _mm512_setzero_ps()};
#pragma GCC unroll 8
            for (int j = 0; j < nb; j++)
                s[j % 2] = _mm512_fmadd_ps(_mm512_set1_ps(w[g][j]), vv[j], s[j % 2]);
            _mm512_mask_storeu_ps(a, m, _mm512_add_ps(s[0], s[1]));
        }
    }
}

static void attn_f32(int64_t hd, int32_t n_q, const float *q, const void *k, const void *v,
                     size_t stride, int64_t n_pos, float *max, float *sum, float *acc)
{
    attn_blocks(hd, n_q, q, k, v, stride, n_pos, max, sum, acc, false, 4);
}

static void attn_f16(int64_t hd, int32_t n_q, const float *q, const void *k, const void *v,
                     size_t stride, int64_t n_pos, float *max, float *sum, float *acc)
{
    attn_blocks(hd, n_q, q, k, v, stride, n_pos, max, sum, acc, true, 4);
}

void phi_kernels_init_avx512(phi_kernels *k)
{
    k->name = "avx512";
    k->level = PHI_KERNEL_AVX512;

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
