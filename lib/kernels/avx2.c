/* AVX2 + FMA + F16C kernels. This file alone is compiled with
 * -mavx2 -mfma -mf16c; the dispatcher only installs it on CPUs that have all
 * three. Each kernel has its scalar twin in the same slot of scalar.c, and
 * tests/test_kernels.c holds it to that twin. Block layouts:
 * ../shared/docs/gguf-and-quants.md §3. */
#include <immintrin.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "kernels/attn_x86.h"
#include "kernels/fp16.h"
#include "kernels/kernels.h"
#include "kernels/quant_blocks.h"
#include "kernels/x86_shared.h"
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

/* x * inv as scalar.c's quantize_block rounds it: NaN to 0, clamped to ±127,
 * then roundf. */
static inline __m256i quantize8(const float *x, __m256 inv)
{
    __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x), inv);
    v = _mm256_and_ps(v, _mm256_cmp_ps(v, v, _CMP_ORD_Q));
    v = _mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps(-127.0f)), _mm256_set1_ps(127.0f));
    return round_away_epi32(v);
}

/* The largest |x| of n floats (n a multiple of 8), NaNs left out as fmaxf
 * leaves them, and whether there was a NaN: max_ps(a, m) returns m when a is
 * NaN. Order-independent, so the same as the scalar loop. */
static inline float amax_of(const float *x, int n, bool *has_nan)
{
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256 m = _mm256_setzero_ps(), nan = m;
    for (int j = 0; j < n; j += 8) {
        __m256 v = _mm256_loadu_ps(x + j);
        m = _mm256_max_ps(_mm256_and_ps(v, abs_mask), m);
        nan = _mm256_or_ps(nan, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    }
    *has_nan = _mm256_movemask_ps(nan) != 0;
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    return _mm_cvtss_f32(m4);
}

/* 32 activations to int8 in q; returns the two 16-element sums (lanes of
 * 8 int32 each, elements 0-15 and 16-31), for Q8_1's s and Q8_K's bsums. */
static inline void quantize32(const float *x, __m256 inv, int8_t *q, __m256i sums[2])
{
    /* packs_epi32 / packs_epi16 interleave 128-bit lanes; this restores order */
    const __m256i unshuffle = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    __m256i q0 = quantize8(x, inv), q1 = quantize8(x + 8, inv);
    __m256i q2 = quantize8(x + 16, inv), q3 = quantize8(x + 24, inv);
    __m256i v = _mm256_packs_epi16(_mm256_packs_epi32(q0, q1), _mm256_packs_epi32(q2, q3));
    _mm256_storeu_si256((__m256i *)q, _mm256_permutevar8x32_epi32(v, unshuffle));
    sums[0] = _mm256_add_epi32(q0, q1);
    sums[1] = _mm256_add_epi32(q2, q3);
}

/* Sums of the 8 lanes of each of g[0..3], as 4 int32. */
static inline __m128i hsum4_epi32(const __m256i g[4])
{
    __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(g[0], g[1]), _mm256_hadd_epi32(g[2], g[3]));
    return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}

/* Same bytes as scalar.c's quantizers: the scale from phi_q8_scale on an
 * order-independent amax, one IEEE multiply per element, the same clamp and
 * roundf; F16C rounds to nearest even, as phi_f32_to_fp16 does; the sums
 * are exact integers. */
/* Q8_0, and Q8_1 (with_sum) which adds s = d·Σq after d; with_sum is a
 * constant at each call site. */
static inline void quantize_blocks32(const float *x, void *out, int64_t n, bool with_sum)
{
    const size_t bytes = with_sum ? sizeof(phi_block_q8_1) : sizeof(phi_block_q8_0);
    const size_t qs = with_sum ? offsetof(phi_block_q8_1, qs) : offsetof(phi_block_q8_0, qs);
    uint8_t *b = out;
    __m256i sums[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),
                       _mm256_setzero_si256()};
    for (int64_t i = 0; i < n / PHI_QK32; i++, x += PHI_QK32, b += bytes) {
        bool has_nan;
        float amax = amax_of(x, PHI_QK32, &has_nan), inv;
        float d = phi_q8_scale(amax, has_nan, &inv);
        quantize32(x, _mm256_set1_ps(inv), (int8_t *)(b + qs), sums);
        uint16_t h[2] = {_cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT), 0};
        if (with_sum) {
            __m128i s4 = hsum4_epi32(sums);
            int sum = _mm_cvtsi128_si32(s4) + _mm_extract_epi32(s4, 1);
            h[1] = _cvtss_sh(d * (float)sum, _MM_FROUND_TO_NEAREST_INT);
        }
        memcpy(b, h, with_sum ? 4 : 2);
    }
}

static void quantize_q8_0(const float *x, void *out, int64_t n)
{
    quantize_blocks32(x, out, n, false);
}

static void quantize_q8_1(const float *x, void *out, int64_t n)
{
    quantize_blocks32(x, out, n, true);
}

static void quantize_q8_k(const float *x, void *out, int64_t n)
{
    phi_block_q8_k *b = out;
    __m256i g[16];
    for (int64_t i = 0; i < n / PHI_QK_K; i++, x += PHI_QK_K) {
        bool has_nan;
        float amax = amax_of(x, PHI_QK_K, &has_nan), inv;
        b[i].d = phi_q8_scale(amax, has_nan, &inv);
        __m256 vinv = _mm256_set1_ps(inv);
        for (int c = 0; c < 8; c++)
            quantize32(x + 32 * c, vinv, b[i].qs + 32 * c, g + 2 * c);
        /* |bsum| <= 16 * 127, so the saturating pack is exact */
        __m128i lo = _mm_packs_epi32(hsum4_epi32(g), hsum4_epi32(g + 4));
        __m128i hi = _mm_packs_epi32(hsum4_epi32(g + 8), hsum4_epi32(g + 12));
        _mm_storeu_si128((__m128i *)b[i].bsums, lo);
        _mm_storeu_si128((__m128i *)(b[i].bsums + 8), hi);
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

/* ---- matrix products: gemm_x86.h over 8-lane floats --------------------- */

typedef __m256 gemm_fv;
enum {
    GEMM_FLANES = 8,
    /* 16 registers: 12 float accumulators and 4 weight rows; 8 int32 ones, 2
     * weight rows and their scales or magnitudes */
    GEMM_RM_F = 4, GEMM_RN_F = 3, GEMM_RM_B32 = 2, GEMM_RN_B32 = 4, GEMM_RM_K = 2, GEMM_RN_K = 4,
};

static inline gemm_fv gemm_fzero(void)
{
    return _mm256_setzero_ps();
}

static inline gemm_fv gemm_fload(const float *p)
{
    return _mm256_loadu_ps(p);
}

static inline gemm_fv gemm_fload_w(uint32_t type, const uint8_t *row, int64_t i)
{
    if (type == PHI_DT_F32)
        return _mm256_loadu_ps((const float *)row + i);
    return load_half8((const uint16_t *)row + i, type == PHI_DT_BF16);
}

static inline gemm_fv gemm_ffma(gemm_fv a, gemm_fv b, gemm_fv c)
{
    return _mm256_fmadd_ps(a, b, c);
}

static inline float gemm_fsum(gemm_fv v)
{
    return hsum_ps(v);
}

static inline __m256i gemm_dot_i8(__m256i u, __m256i a)
{
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, a), _mm256_set1_epi16(1));
}

static inline __m256i gemm_dot_scaled(__m256i acc, __m256i u, __m256i a, __m256i s)
{
    return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, a), s));
}

#include "kernels/gemm_x86.h"

/* Σ w·a of 32 signed bytes as 8 int32 lanes. maddubs wants one unsigned
 * operand, so feed it |w| and a with w's sign (the sign trick). Exact for
 * w in -128..127 and a in -127..127 (what the quantizers produce): a pair
 * sum is at most 2·128·127 < 2^15, so the int16 never saturates. */
static inline __m256i dot_i8x32(__m256i w, __m256i a)
{
    __m256i p16 = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(a, w));
    return _mm256_madd_epi16(p16, _mm256_set1_epi16(1));
}

/* Σ (u - offset)·a for unsigned u as 8 int32 lanes: maddubs takes u as it
 * is and the offset comes off as Σ offset·a (a second maddubs) before the
 * widening. Pair sums stay within 2·31·127 < 2^15. */
static inline __m256i dot_u8x32(__m256i u, __m256i a, int offset)
{
    __m256i p16 = _mm256_maddubs_epi16(u, a);
    if (offset)
        p16 = _mm256_sub_epi16(p16, _mm256_maddubs_epi16(_mm256_set1_epi8((char)offset), a));
    return _mm256_madd_epi16(p16, _mm256_set1_epi16(1));
}

/* ---- blocks of 32 (scalar.c: dot_blocks32) ---------------------------- */

/* One weight block against its 32 activations: exact partial sums. */
static inline __m256i dot_block32(uint32_t type, const uint8_t *x, __m256i a)
{
    switch (type) {
    case PHI_DT_Q8_0:
        return dot_i8x32(_mm256_loadu_si256((const __m256i *)((const phi_block_q8_0 *)x)->qs), a);
    case PHI_DT_Q4_0: return dot_u8x32(nibbles32(((const phi_block_q4_0 *)x)->qs), a, 8);
    case PHI_DT_Q4_1: return dot_u8x32(nibbles32(((const phi_block_q4_1 *)x)->qs), a, 0);
    case PHI_DT_Q5_0: {
        const phi_block_q5_0 *b = (const phi_block_q5_0 *)x;
        return dot_u8x32(_mm256_or_si256(nibbles32(b->qs), q5_high_bits(b->qh)), a, 16);
    }
    case PHI_DT_Q5_1: {
        const phi_block_q5_1 *b = (const phi_block_q5_1 *)x;
        return dot_u8x32(_mm256_or_si256(nibbles32(b->qs), q5_high_bits(b->qh)), a, 0);
    }
    default: { /* IQ4_NL: codebook values in -127..113, so the sign trick is exact */
        const phi_block_iq4_nl *b = (const phi_block_iq4_nl *)x;
        return dot_i8x32(_mm256_shuffle_epi8(iq4nl_table(), nibbles32(b->qs)), a);
    }
    }
}

/* Blocks x and x + w_bytes (the second only when `second`; nothing of it
 * is read otherwise) against their activations, into acc[0] and acc[1]: each
 * block's 8 exact partial sums times its d_w·d_a. The scales of both blocks
 * are converted at once; the offset types gather Σ m·s in lanes 1 and 3 of
 * *offsets. */
static inline void add_pair32(uint32_t type, const uint8_t *x, const uint8_t *y, bool second,
                              __m256 acc[2], __m128 *offsets)
{
    const bool offset = phi_block32_has_offset(type);
    const size_t w_bytes = phi_block32_bytes(type);
    const size_t a_bytes = offset ? sizeof(phi_block_q8_1) : sizeof(phi_block_q8_0);
    const size_t a_qs = offset ? offsetof(phi_block_q8_1, qs) : offsetof(phi_block_q8_0, qs);
    __m128 ds = pair_scales(x, w_bytes, y, a_bytes, second, offset);
    if (offset)
        *offsets = _mm_add_ps(*offsets, ds);
    __m256i p0 = dot_block32(type, x, _mm256_loadu_si256((const __m256i *)(y + a_qs)));
    acc[0] = _mm256_fmadd_ps(_mm256_broadcastss_ps(ds), _mm256_cvtepi32_ps(p0), acc[0]);
    if (second) {
        __m256i p1 = dot_block32(type, x + w_bytes,
                                 _mm256_loadu_si256((const __m256i *)(y + a_bytes + a_qs)));
        __m256 d1 = _mm256_permutevar8x32_ps(_mm256_castps128_ps256(ds),
                                             _mm256_set1_epi32(offset ? 2 : 1));
        acc[1] = _mm256_fmadd_ps(d1, _mm256_cvtepi32_ps(p1), acc[1]);
    }
}

/* Against Q8_0 (Q8_1 for the types with an offset). The int32 block sums
 * are exact; each block's 8 partial sums are scaled and accumulated per lane
 * (two accumulators over alternating blocks), so only the float summation
 * order differs from the scalar twin. type is a constant at each call site. */
static inline __attribute__((always_inline)) float dot_blocks32(int64_t n, const void *w,
                                                                const void *a, uint32_t type)
{
    const bool offset = phi_block32_has_offset(type);
    const size_t w_bytes = phi_block32_bytes(type);
    const size_t a_bytes = offset ? sizeof(phi_block_q8_1) : sizeof(phi_block_q8_0);
    const uint8_t *x = w, *y = a;
    int64_t nb = n / PHI_QK32, i = 0;
    __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
    __m128 offsets = _mm_setzero_ps();
    for (; i + 2 <= nb; i += 2, x += 2 * w_bytes, y += 2 * a_bytes)
        add_pair32(type, x, y, true, acc, &offsets);
    if (i < nb)
        add_pair32(type, x, y, false, acc, &offsets);
    float sum = hsum_ps(_mm256_add_ps(acc[0], acc[1]));
    if (offset)
        sum += _mm_cvtss_f32(_mm_movehdup_ps(offsets)) +
               _mm_cvtss_f32(_mm_movehdup_ps(_mm_movehl_ps(offsets, offsets)));
    return sum;
}

#define BLOCKS32(T, name)                                                      \
    static float vec_dot_##name(int64_t n, const void *w, const void *a)       \
    {                                                                          \
        return dot_blocks32(n, w, a, PHI_DT_##T);                              \
    }
PHI_BLOCK32_TYPES(BLOCKS32)
#undef BLOCKS32

/* ---- super-blocks of 256 against Q8_K (scalar.c: dot_superblocks) -----
 * Per super-block the quants go through maddubs (unsigned quants against the
 * signed activations; pair sums below 2·63·127 < 2^15), madd applies each
 * 16- or 32-element group's scale (int16, broadcast by a byte shuffle) and
 * the int32 lanes collect the exact Σ_g scale_g·Σ q·a; offsets and mins come
 * off through the activation's bsums. One float FMA per super-block. */

/* madd of maddubs(u, a) with int16 group scales: Σ scale·u·a as 8 int32. */
static inline __m256i scaled_dot(__m256i u, const int8_t *a, __m256i scales, __m256i pick)
{
    __m256i p16 = _mm256_maddubs_epi16(u, _mm256_loadu_si256((const __m256i *)a));
    return _mm256_madd_epi16(p16, _mm256_shuffle_epi8(scales, pick));
}

/* acc + the exact super-block sum times d_a·d_w, per lane. */
static inline __m256 add_superblock(__m256 acc, float scale, __m256i isum)
{
    return _mm256_fmadd_ps(_mm256_set1_ps(scale), _mm256_cvtepi32_ps(isum), acc);
}

/* Q6_K: bits `shift`, shift+1 of every qh byte as bits 4-5. */
static inline __m256i q6_high_bits(__m256i qh, int shift)
{
    __m256i two_bits = _mm256_and_si256(_mm256_srli_epi16(qh, shift), _mm256_set1_epi8(3));
    return _mm256_slli_epi16(two_bits, 4);
}

/* Q2_K and Q3_K share the 2-bit walk: element 128h + 32j + l in bits 2j of
 * qs[32h + l], groups of 16 (8h + 2j in the low lane, 8h + 2j + 1 high). */
static inline __attribute__((always_inline)) float dot_q23_k(int64_t n, const void *w,
                                                             const phi_block_q8_k *y, bool q3)
{
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / PHI_QK_K; i++, y++) {
        const phi_block_q2_k *x2 = (const phi_block_q2_k *)w + i;
        const phi_block_q3_k *x3 = (const phi_block_q3_k *)w + i;
        const uint8_t *qs = q3 ? x3->qs : x2->qs;
        __m256i bsums = _mm256_loadu_si256((const __m256i *)y->bsums);
        __m256i scales, hmask = _mm256_setzero_si256();
        __m256i isum = _mm256_setzero_si256();
        if (q3) {
            scales = q3k_scales(x3);
            hmask = _mm256_loadu_si256((const __m256i *)x3->hmask);
            /* q = u - 4: Σ sc·(Σ u·a - 4·bsum) */
            isum = _mm256_slli_epi32(_mm256_madd_epi16(scales, bsums), 2);
            isum = _mm256_sub_epi32(_mm256_setzero_si256(), isum);
        } else {
            __m256i mins;
            q2k_scales_mins(x2, &scales, &mins);
            __m256i msum = _mm256_madd_epi16(mins, bsums);
            acc = _mm256_fmadd_ps(_mm256_set1_ps(-y->d * fp16_to_f32(x2->dmin)),
                                  _mm256_cvtepi32_ps(msum), acc);
        }
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(qs + 32 * h));
            __m256i sc = h ? _mm256_permute2x128_si256(scales, scales, 0x11)
                           : _mm256_permute2x128_si256(scales, scales, 0x00);
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++) {
                __m256i u = _mm256_and_si256(_mm256_srli_epi16(q, 2 * j), _mm256_set1_epi8(3));
                if (q3)
                    u = _mm256_or_si256(u, move_bit(hmask, 4 * h + j, 2));
                isum = _mm256_add_epi32(isum, scaled_dot(u, y->qs + 128 * h + 32 * j, sc,
                                                         pick16(2 * j, 2 * j + 1)));
            }
        }
        acc = add_superblock(acc, y->d * fp16_to_f32(q3 ? x3->d : x2->d), isum);
    }
    return hsum_ps(acc);
}

/* Sum of the 4 lanes. */
static inline float hsum128_ps(__m128 v)
{
    v = _mm_add_ps(v, _mm_movehl_ps(v, v));
    return _mm_cvtss_f32(_mm_add_ss(v, _mm_movehdup_ps(v)));
}

/* Q4_K / Q5_K mins: Σ_s m_s·(bsums[2s] + bsums[2s+1]) as 4 int32 lanes. */
static inline __m128i q4k_min_sums(__m256i scales_mins, const int16_t *bsums)
{
    __m256i b = _mm256_loadu_si256((const __m256i *)bsums);
    __m128i pair = _mm_hadd_epi16(_mm256_castsi256_si128(b), _mm256_extracti128_si256(b, 1));
    return _mm_madd_epi16(_mm256_extracti128_si256(scales_mins, 1), pair);
}

/* Super-block i of a Q4_K (q5 false) or Q5_K row: its quants, the 8 scales
 * as int16 in both lanes, and the min term d_a·dmin·Σ_s m_s·A_s added to
 * *acc_min (4 lanes). */
typedef struct {
    const uint8_t *qs, *qh; /* qh: NULL for Q4_K */
    __m256i scales;
    float d;
} q45k_block;

static inline q45k_block q45k_at(const void *w, int64_t i, const phi_block_q8_k *y, bool q5,
                                 __m128 *acc_min)
{
    const phi_block_q4_k *x4 = (const phi_block_q4_k *)w + i;
    const phi_block_q5_k *x5 = (const phi_block_q5_k *)w + i;
    __m256i scm = q4k_scales_mins(q5 ? (const void *)x5 : (const void *)x4);
    float dmin = _cvtsh_ss(q5 ? x5->dmin : x4->dmin);
    *acc_min = _mm_fmadd_ps(_mm_set1_ps(y->d * dmin), _mm_cvtepi32_ps(q4k_min_sums(scm, y->bsums)),
                            *acc_min);
    return (q45k_block){.qs = q5 ? x5->qs : x4->qs, .qh = q5 ? x5->qh : NULL,
                        .scales = _mm256_permute2x128_si256(scm, scm, 0x00),
                        .d = _cvtsh_ss(q5 ? x5->d : x4->d)};
}

/* Q4_K and Q5_K: per 64-element chunk c one 32-byte load of qs gives the
 * low nibbles (sub-block 2c) and high nibbles (2c + 1); Q5_K ORs in bit 2c /
 * 2c+1 of qh as bit 4. The mins: Σ_s m_s·(bsums[2s] + bsums[2s+1]). */
static inline __attribute__((always_inline)) float dot_q45_k(int64_t n, const void *w,
                                                             const phi_block_q8_k *y, bool q5)
{
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    __m256 acc = _mm256_setzero_ps();
    __m128 acc_min = _mm_setzero_ps();
    for (int64_t i = 0; i < n / PHI_QK_K; i++, y++) {
        q45k_block b = q45k_at(w, i, y, q5, &acc_min);
        __m256i qh = q5 ? _mm256_loadu_si256((const __m256i *)b.qh) : _mm256_setzero_si256();
        __m256i isum = _mm256_setzero_si256();
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(b.qs + 32 * c));
            __m256i lo = _mm256_and_si256(q, low4);
            __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low4);
            if (q5) {
                lo = _mm256_or_si256(lo, move_bit(qh, 2 * c, 4));
                hi = _mm256_or_si256(hi, move_bit(qh, 2 * c + 1, 4));
            }
            isum = _mm256_add_epi32(isum, scaled_dot(lo, y->qs + 64 * c, b.scales,
                                                     pick16(2 * c, 2 * c)));
            isum = _mm256_add_epi32(isum, scaled_dot(hi, y->qs + 64 * c + 32, b.scales,
                                                     pick16(2 * c + 1, 2 * c + 1)));
        }
        acc = add_superblock(acc, y->d * b.d, isum);
    }
    return hsum_ps(acc) - hsum128_ps(acc_min);
}

PHI_X86_K_ENTRIES

/* Q6_K: per half, ql's two 32-byte rows give the low nibbles of groups
 * 0, 1 (low nibbles) and 2, 3 (high nibbles); qh's 2-bit fields, bits 4-5.
 * q = u - 32: Σ sc·(Σ u·a - 32·bsum). */
static float vec_dot_q6_k(int64_t n, const void *w, const void *a)
{
    const phi_block_q6_k *x = w;
    const phi_block_q8_k *y = a;
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / PHI_QK_K; i++, x++, y++) {
        __m256i scales = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x->scales));
        __m256i bsums = _mm256_loadu_si256((const __m256i *)y->bsums);
        __m256i isum = _mm256_slli_epi32(_mm256_madd_epi16(scales, bsums), 5);
        isum = _mm256_sub_epi32(_mm256_setzero_si256(), isum);
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            __m256i q0 = _mm256_loadu_si256((const __m256i *)(x->ql + 64 * h));
            __m256i q1 = _mm256_loadu_si256((const __m256i *)(x->ql + 64 * h + 32));
            __m256i qh = _mm256_loadu_si256((const __m256i *)(x->qh + 32 * h));
            __m256i hi0 = _mm256_srli_epi16(q0, 4), hi1 = _mm256_srli_epi16(q1, 4);
            __m256i u[4] = {
                _mm256_or_si256(_mm256_and_si256(q0, low4), q6_high_bits(qh, 0)),
                _mm256_or_si256(_mm256_and_si256(q1, low4), q6_high_bits(qh, 2)),
                _mm256_or_si256(_mm256_and_si256(hi0, low4), q6_high_bits(qh, 4)),
                _mm256_or_si256(_mm256_and_si256(hi1, low4), q6_high_bits(qh, 6)),
            };
            __m256i sc = h ? _mm256_permute2x128_si256(scales, scales, 0x11)
                           : _mm256_permute2x128_si256(scales, scales, 0x00);
#pragma GCC unroll 4
            for (int g = 0; g < 4; g++)
                isum = _mm256_add_epi32(isum, scaled_dot(u[g], y->qs + 128 * h + 32 * g, sc,
                                                         pick16(2 * g, 2 * g + 1)));
        }
        acc = add_superblock(acc, y->d * fp16_to_f32(x->d), isum);
    }
    return hsum_ps(acc);
}

/* IQ4_XS: each 32-element sub-block is a Q4_0-style block of codebook
 * indices; the codebook values are signed, so the sign trick, then the
 * sub-block's scale (-32..31) by madd. */
static float vec_dot_iq4_xs(int64_t n, const void *w, const void *a)
{
    const phi_block_iq4_xs *x = w;
    const phi_block_q8_k *y = a;
    const __m256i table = iq4nl_table();
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / PHI_QK_K; i++, x++, y++) {
        __m256i sc = _mm256_broadcastsi128_si256(iq4xs_scales(x));
        __m256i isum = _mm256_setzero_si256();
#pragma GCC unroll 8
        for (int ib = 0; ib < 8; ib++) {
            __m256i v = _mm256_shuffle_epi8(table, nibbles32(x->qs + 16 * ib));
            __m256i av = _mm256_loadu_si256((const __m256i *)(y->qs + 32 * ib));
            __m256i p16 = _mm256_maddubs_epi16(_mm256_sign_epi8(v, v), _mm256_sign_epi8(av, v));
            __m256i scale = _mm256_shuffle_epi8(sc, pick16(ib, ib));
            isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p16, scale));
        }
        acc = add_superblock(acc, y->d * fp16_to_f32(x->d), isum);
    }
    return hsum_ps(acc);
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

/* ---- attention: the head_dim loops of attn_blocks.h's driver ---------- */

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

ATTN_PV_COLUMNS(8)
ATTN_ENTRY_POINTS(2)

void phi_kernels_init_avx2(phi_kernels *k)
{
    k->name = "avx2";
    k->level = PHI_KERNEL_AVX2;

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
    PHI_X86_GEMM_TYPES(SET_GEMM)
#undef SET_GEMM

    k->dot_f32 = dot_f32;
    k->axpy_f32 = axpy_f32;
    k->scale_f32 = scale_f32;
    k->f32_to_f16 = x86_f32_to_f16;
    k->swiglu_f32 = x86_swiglu_f32;

    k->attn[PHI_DT_F32] = attn_f32;
    k->attn[PHI_DT_F16] = attn_f16;
}
