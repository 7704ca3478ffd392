/* AVX-512 (F, BW, VL, VNNI) kernels. This file alone is compiled with the
 * AVX-512 flags; the dispatcher installs it over the AVX2 table, so only the
 * kernels that measured faster at 512 bits live here (bench_kernels). Each
 * has its scalar twin in scalar.c and is tested against it. */
#include <immintrin.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "kernels/attn_x86.h"
#include "kernels/fp16.h"
#include "kernels/kernels.h"
#include "kernels/packed.h"
#include "kernels/quant_blocks.h"
#include "kernels/x86_shared.h"
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

/* ---- matrix products: gemm_x86.h over 16-lane floats -------------------- */

typedef __m512 gemm_fv;
enum {
    GEMM_FLANES = 16,
    /* 32 registers: 24 float accumulators and 4 weight rows; 16 int32 ones,
     * 4 weight rows and their scales or magnitudes. The integer families
     * stay at 256 bits, where VNNI does the maddubs + madd of AVX2 in one
     * instruction (on AMD Zen 4, 512-bit integer ops run as two halves). */
    GEMM_RM_F = 4, GEMM_RN_F = 6, GEMM_RM_B32 = 4, GEMM_RN_B32 = 4, GEMM_RM_K = 4, GEMM_RN_K = 4,
};

static inline gemm_fv gemm_fzero(void)
{
    return _mm512_setzero_ps();
}

static inline gemm_fv gemm_fload(const float *p)
{
    return _mm512_loadu_ps(p);
}

static inline gemm_fv gemm_fload_w(uint32_t type, const uint8_t *row, int64_t i)
{
    if (type == PHI_DT_F32)
        return _mm512_loadu_ps((const float *)row + i);
    return load_half16((const uint16_t *)row + i, 0xffff, type == PHI_DT_BF16);
}

static inline gemm_fv gemm_ffma(gemm_fv a, gemm_fv b, gemm_fv c)
{
    return _mm512_fmadd_ps(a, b, c);
}

static inline float gemm_fsum(gemm_fv v)
{
    return _mm512_reduce_add_ps(v);
}

static inline __m256i gemm_dot_i8(__m256i u, __m256i a)
{
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, a);
}

static inline __m256i gemm_dot_scaled(__m256i acc, __m256i u, __m256i a, __m256i s)
{
    return _mm256_dpwssd_epi32(acc, _mm256_maddubs_epi16(u, a), s);
}

#include "kernels/gemm_x86.h"

/* ---- integer building blocks ------------------------------------------ */

static inline __m512i join256(__m256i lo, __m256i hi)
{
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

/* Σ w·a over each group of 4 bytes, as 16 int32 lanes: vpdpbusd multiplies
 * unsigned by signed bytes and adds without saturating. Unsigned weights go
 * in as they are (Σ (u - offset)·a takes a second vpdpbusd of the offset);
 * signed ones through the sign trick (|w|, a with w's sign), exact for w in
 * -128..127 and a in -127..127 (what the quantizers produce). */
static inline __m512i dot_u8(__m512i u, __m512i a, int offset)
{
    __m512i sum = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u, a);
    if (offset)
        sum = _mm512_sub_epi32(sum, _mm512_dpbusd_epi32(_mm512_setzero_si512(),
                                                        _mm512_set1_epi8((char)offset), a));
    return sum;
}

static inline __m512i dot_i8(__m512i w, __m512i a)
{
    __m512i sa = _mm512_mask_sub_epi8(a, _mm512_movepi8_mask(w), _mm512_setzero_si512(), a);
    return _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_abs_epi8(w), sa);
}

/* The codebook's magnitudes for a byte shuffle, in every 128-bit lane; its
 * values are negative exactly for the indices below 8. */
static inline __m512i iq4nl_magnitudes(void)
{
    const __m128i k = _mm_loadu_si128((const __m128i *)phi_iq4nl_values);
    return _mm512_broadcast_i32x4(_mm_abs_epi8(k));
}

/* Codebook indices -> |value|, and the activations with the value's sign. */
static inline __m512i iq4nl_lookup(__m512i idx, __m512i *a)
{
    __mmask64 negative = _mm512_cmplt_epu8_mask(idx, _mm512_set1_epi8(8));
    *a = _mm512_mask_sub_epi8(*a, negative, _mm512_setzero_si512(), *a);
    return _mm512_shuffle_epi8(iq4nl_magnitudes(), idx);
}

/* ---- blocks of 32 (scalar.c: dot_blocks32), two per 512-bit vector ---- */

/* The weights of blocks x and x + w_bytes (the second only when `second`:
 * its loads are masked off otherwise, so nothing past the row is read) as 64
 * bytes in element order: Q8_0 signed, IQ4_NL codebook indices, the others
 * unsigned (Q5's fifth bit from qh, a 32-bit mask per block). */
static inline __m512i unpack_pair32(uint32_t type, const uint8_t *x, size_t w_bytes, bool second)
{
    const __mmask16 m2 = second ? 0xffff : 0;
    if (type == PHI_DT_Q8_0) {
        const size_t qs = offsetof(phi_block_q8_0, qs);
        return join256(_mm256_loadu_si256((const __m256i *)(x + qs)),
                       _mm256_maskz_loadu_epi8(second ? 0xffffffffu : 0, x + w_bytes + qs));
    }
    size_t qs = type == PHI_DT_Q4_1 ? offsetof(phi_block_q4_1, qs)
              : type == PHI_DT_Q5_0 ? offsetof(phi_block_q5_0, qs)
              : type == PHI_DT_Q5_1 ? offsetof(phi_block_q5_1, qs)
                                    : offsetof(phi_block_q4_0, qs);
    __m128i q0 = _mm_loadu_si128((const __m128i *)(x + qs));
    __m256i q = _mm256_inserti128_si256(_mm256_castsi128_si256(q0),
                                        _mm_maskz_loadu_epi8(m2, x + w_bytes + qs), 1);
    /* lanes [q_i, q_i+1, q_i >> 4, q_i+1 >> 4] -> [low i, high i, low i+1, high i+1] */
    __m512i z = join256(q, _mm256_srli_epi16(q, 4));
    z = _mm512_shuffle_i64x2(z, z, _MM_SHUFFLE(3, 1, 2, 0));
    z = _mm512_and_si512(z, _mm512_set1_epi8(0x0f));
    if (type == PHI_DT_Q5_0 || type == PHI_DT_Q5_1) {
        size_t qh = type == PHI_DT_Q5_0 ? offsetof(phi_block_q5_0, qh)
                                        : offsetof(phi_block_q5_1, qh);
        uint64_t bits = phi_load_u32(x + qh);
        if (second)
            bits |= (uint64_t)phi_load_u32(x + w_bytes + qh) << 32;
        z = _mm512_mask_add_epi8(z, (__mmask64)bits, z, _mm512_set1_epi8(0x10));
    }
    return z;
}

/* Exact partial sums of two blocks against their 64 activations. */
static inline __m512i dot_pair32(uint32_t type, __m512i w, __m512i a)
{
    switch (type) {
    case PHI_DT_Q8_0: return dot_i8(w, a);
    case PHI_DT_Q4_0: return dot_u8(w, a, 8);
    case PHI_DT_Q5_0: return dot_u8(w, a, 16);
    case PHI_DT_IQ4_NL: {
        __m512i u = iq4nl_lookup(w, &a);
        return dot_u8(u, a, 0);
    }
    default: return dot_u8(w, a, 0); /* Q4_1, Q5_1 */
    }
}

/* acc + blocks x and x + w_bytes (the second only when `second`) against
 * their activations: the exact partial sums times each block's d_w·d_a. */
static inline __m512 add_pair32(uint32_t type, const uint8_t *x, const uint8_t *y, bool second,
                                __m512i spread, __m512 acc, __m128 *offsets)
{
    const bool offset = phi_block32_has_offset(type);
    const size_t w_bytes = phi_block32_bytes(type);
    const size_t a_bytes = offset ? sizeof(phi_block_q8_1) : sizeof(phi_block_q8_0);
    const size_t a_qs = offset ? offsetof(phi_block_q8_1, qs) : offsetof(phi_block_q8_0, qs);
    __m512i av = join256(_mm256_loadu_si256((const __m256i *)(y + a_qs)),
                         _mm256_maskz_loadu_epi8(second ? 0xffffffffu : 0, y + a_bytes + a_qs));
    __m512i p = dot_pair32(type, unpack_pair32(type, x, w_bytes, second), av);
    __m128 ds = pair_scales(x, w_bytes, y, a_bytes, second, offset);
    if (offset)
        *offsets = _mm_add_ps(*offsets, ds);
    __m512 scale = _mm512_permutexvar_ps(spread, _mm512_castps128_ps512(ds));
    return _mm512_fmadd_ps(scale, _mm512_cvtepi32_ps(p), acc);
}

/* Blocks i and i+1 per step: each block's 8 partial sums are scaled and
 * accumulated per lane, so only the float summation order differs from the
 * scalar twin; an odd last block goes alone with the upper half zero. The
 * block scales are converted two blocks at a time; the offset types gather
 * Σ m·s in lanes 1 and 3 of `offsets`. type is a constant at each call site. */
static inline __attribute__((always_inline)) float dot_blocks32(int64_t n, const void *w,
                                                                const void *a, uint32_t type)
{
    const bool offset = phi_block32_has_offset(type);
    const size_t w_bytes = phi_block32_bytes(type);
    const size_t a_bytes = offset ? sizeof(phi_block_q8_1) : sizeof(phi_block_q8_0);
    /* lanes 0-7 take block i's scale, 8-15 block i+1's */
    const __m512i spread = join256(_mm256_setzero_si256(), _mm256_set1_epi32(offset ? 2 : 1));
    const uint8_t *x = w, *y = a;
    int64_t nb = n / PHI_QK32, i = 0;
    __m512 s0 = _mm512_setzero_ps(), s1 = s0;
    __m128 offsets = _mm_setzero_ps();
    for (; i + 4 <= nb; i += 4, x += 4 * w_bytes, y += 4 * a_bytes) {
        s0 = add_pair32(type, x, y, true, spread, s0, &offsets);
        s1 = add_pair32(type, x + 2 * w_bytes, y + 2 * a_bytes, true, spread, s1, &offsets);
    }
    for (; i < nb; i += 2, x += 2 * w_bytes, y += 2 * a_bytes)
        s0 = add_pair32(type, x, y, i + 1 < nb, spread, s0, &offsets);
    float sum = _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
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

/* ---- packed groups of 64 rows (packed.h; scalar.c: gemm_packed_blocks32)
 * One 512-bit vector is 4 quant bytes of each of 16 rows; a vpdpbusd
 * against one broadcast activation dword adds them to the 16 row sums. Per
 * block column the offset comes off with the token's block sum, and one FMA
 * scales 16 exact sums by their rows' d_w times the token's d_a (the scalar
 * twin's dd, then one rounding less). */

/* Decode prefetches the weights this many bytes ahead of the column it
 * multiplies, into L1: with the hardware prefetchers alone a core keeps too
 * few lines in flight when the memory is fast. Long one-token calls, 2
 * threads, alternated: Q8_0 55 -> 59-63 GB/s, Q4_0 +3% (2 KiB ahead was as
 * good for Q4_0, 6-8 KiB for Q8_0); model decode x1.12 (Q4_0) and x1.08
 * (Q8_0). When the machine gave ~36 GB/s it made no difference. */
enum { QUARTERS = PHI_PACK_ROWS / PHI_PACK_LANES, PREFETCH_AHEAD = 4096 };

/* The tile's float sums, nq quarters × nt tokens: zeroed, then stored to
 * y[t * y_stride + 16 (q0 + q) + r]. */
static inline __attribute__((always_inline)) void zero_tile(__m512 acc[QUARTERS][4], int nq, int nt)
{
#pragma GCC unroll 4
    for (int q = 0; q < nq; q++)
#pragma GCC unroll 4
        for (int t = 0; t < nt; t++)
            acc[q][t] = _mm512_setzero_ps();
}

static inline __attribute__((always_inline)) void store_tile(__m512 acc[QUARTERS][4], int q0,
                                                             int nq, int nt, float *y,
                                                             size_t y_stride)
{
#pragma GCC unroll 4
    for (int q = 0; q < nq; q++)
#pragma GCC unroll 4
        for (int t = 0; t < nt; t++)
            _mm512_storeu_ps(y + (size_t)t * y_stride + (size_t)(q0 + q) * PHI_PACK_LANES,
                             acc[q][t]);
}

/* The longest block column decode prefetches in a burst. On the Intel VM
 * every packed type streamed faster with its burst (the K-quants at
 * 0.6-0.77 of a read loop without, 0.85-1.05 with); on a Zen 4 the long
 * bursts made decode slower
 * (Phi-4-mini Q4_K_M generation 8.5-9.1 tok/s without, 6.8-7.4 with; Q8_0
 * 5.9-6.1 against 4.5), while Q4_0's short one (18 lines, against Q8_0's
 * 34 and the K-quants' 144-210) still helps: there the hardware prefetcher
 * keeps up on its own. Set once, at start-up.
 * Without the bursts, packed Q5_K and Q6_K still streamed from memory at
 * half the speed of their row kernels there (one thread: 10 GB/s against
 * 15-24), with or without other prefetches or orders of their loads, so on
 * AMD those two keep the file's rows (Q4_K_M generation 10.3-12.3 tok/s
 * against 7.3-8.9, its 256-token prompts 45 tok/s against 60). */
static size_t burst_max_bytes = SIZE_MAX;

/* Decode: every line of the block column at col + PREFETCH_AHEAD, in one
 * burst at the column's start (one prefetch per quant load, or every
 * other line, measured slower on Intel), if it is not longer than
 * burst_max_bytes. */
static inline __attribute__((always_inline)) void prefetch_column(const uint8_t *col, size_t column)
{
    if (column > burst_max_bytes)
        return;
    for (size_t line = 0; line < column; line += 64)
        _mm_prefetch((const char *)col + PREFETCH_AHEAD + line, _MM_HINT_T0);
}

/* One block column's Σ u·a for nq quarters (their vectors PHI_PACK_VECTOR
 * apart from `quants`) × nt tokens (quants qs[t]), added to isum[q][t] in two
 * chains (low and high nibbles, or even and odd slices) that halve the
 * dependent latency. nq · nt <= 4; both are constants at each call site. */
static inline __attribute__((always_inline)) void column_dots(
    uint32_t type, const uint8_t *quants, int nq, const uint8_t *const qs[4], int nt,
    __m512i isum[QUARTERS][4], __m512i isum2[QUARTERS][4])
{
    const __m512i low4 = _mm512_set1_epi8(0x0f);
    if (type == PHI_DT_Q8_0) {
#pragma GCC unroll 8
        for (int v = 0; v < 8; v++) {
            __m512i u[QUARTERS];
#pragma GCC unroll 4
            for (int q = 0; q < nq; q++)
                u[q] = _mm512_loadu_si512(quants + v * PHI_PACK_SLICE + q * PHI_PACK_VECTOR);
#pragma GCC unroll 4
            for (int t = 0; t < nt; t++) {
                __m512i a4 = _mm512_set1_epi32((int)phi_load_u32(qs[t] + 4 * v));
#pragma GCC unroll 4
                for (int q = 0; q < nq; q++) {
                    if (v % 2)
                        isum2[q][t] = _mm512_dpbusd_epi32(isum2[q][t], u[q], a4);
                    else
                        isum[q][t] = _mm512_dpbusd_epi32(isum[q][t], u[q], a4);
                }
            }
        }
        return;
    }
#pragma GCC unroll 4
    for (int v = 0; v < 4; v++) {
        __m512i lo[QUARTERS], hi[QUARTERS];
#pragma GCC unroll 4
        for (int q = 0; q < nq; q++) {
            __m512i x = _mm512_loadu_si512(quants + v * PHI_PACK_SLICE + q * PHI_PACK_VECTOR);
            lo[q] = _mm512_and_si512(x, low4);
            hi[q] = _mm512_and_si512(_mm512_srli_epi16(x, 4), low4);
        }
#pragma GCC unroll 4
        for (int t = 0; t < nt; t++) {
            __m512i a_lo = _mm512_set1_epi32((int)phi_load_u32(qs[t] + 4 * v));
            __m512i a_hi = _mm512_set1_epi32((int)phi_load_u32(qs[t] + 16 + 4 * v));
#pragma GCC unroll 4
            for (int q = 0; q < nq; q++) {
                isum[q][t] = _mm512_dpbusd_epi32(isum[q][t], lo[q], a_lo);
                isum2[q][t] = _mm512_dpbusd_epi32(isum2[q][t], hi[q], a_hi);
            }
        }
    }
}

/* Quarters [q0, q0 + nq) of a Q4_0 or Q8_0 group against nt tokens (nq · nt
 * <= 4): y[t * y_stride + 16 (q0 + q) + r], token t's block sums at sums +
 * t * words (gemm_packed_groups walks the tiles). */
static inline __attribute__((always_inline)) void packed_tile(
    uint32_t type, int64_t nb, const uint8_t *group, int q0, int nq, const uint8_t *a,
    size_t a_stride, const int32_t *sums, size_t words, int nt, float *y, size_t y_stride)
{
    const size_t column = PHI_PACK_ROWS * phi_block32_bytes(type);
    const int32_t offset = phi_packed_offset(type);
    __m512 acc[QUARTERS][4];
    zero_tile(acc, nq, nt);
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *col = group + (size_t)b * column;
        if (nt == 1) /* decode: the weights stream from memory */
            prefetch_column(col, column);
        const uint8_t *act[4], *qs[4];
        __m512i isum[QUARTERS][4], isum2[QUARTERS][4];
#pragma GCC unroll 4
        for (int t = 0; t < nt; t++) {
            act[t] = a + (size_t)t * a_stride + (size_t)b * sizeof(phi_block_q8_0);
            qs[t] = act[t] + offsetof(phi_block_q8_0, qs);
            __m512i start = _mm512_set1_epi32(-offset * sums[(size_t)t * words + (size_t)b]);
#pragma GCC unroll 4
            for (int q = 0; q < nq; q++) {
                isum[q][t] = start;
                isum2[q][t] = _mm512_setzero_si512();
            }
        }
        column_dots(type, col + PHI_PACK_SCALES + (size_t)q0 * PHI_PACK_VECTOR, nq, qs, nt, isum,
                    isum2);
#pragma GCC unroll 4
        for (int q = 0; q < nq; q++) {
            __m512 dw = _mm512_cvtph_ps(
                _mm256_loadu_si256((const __m256i *)(col + 2 * PHI_PACK_LANES * (q0 + q))));
#pragma GCC unroll 4
            for (int t = 0; t < nt; t++) {
                __m512 dd = _mm512_mul_ps(dw, _mm512_set1_ps(_cvtsh_ss(phi_load_u16(act[t]))));
                acc[q][t] = _mm512_fmadd_ps(
                    dd, _mm512_cvtepi32_ps(_mm512_add_epi32(isum[q][t], isum2[q][t])), acc[q][t]);
            }
        }
    }
    store_tile(acc, q0, nq, nt, y, y_stride);
}

/* ---- super-blocks of 256 against Q8_K (scalar.c: dot_superblocks) -----
 * 64 elements per step: maddubs of the unsigned quants with the signed
 * activations (pair sums below 2·63·127 < 2^15), then vpdpwssd multiplies
 * each int16 pair sum by its group's scale and accumulates in int32: the
 * exact Σ_g scale_g·Σ q·a. Offsets and mins come off through bsums; one
 * float FMA per super-block. */

/* The int16 group scales of a 64-element step: lane L (elements 2L, 2L+1)
 * gets scales16[first + L / per], per = 16 / 8 lanes for 32 / 16-element
 * groups. */
static inline __m512i step_scales(__m512i scales16, int first, int per)
{
    const __m512i lane = _mm512_set_epi16(31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18,
                                          17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2,
                                          1, 0);
    __m512i idx = _mm512_add_epi16(_mm512_srli_epi16(lane, per == 16 ? 4 : 3),
                                   _mm512_set1_epi16((short)first));
    return _mm512_permutexvar_epi16(idx, scales16);
}

/* Scales k and k + 1 of a vector holding 8 int16 scales in each 128-bit
 * lane: k in the low 256 bits, k + 1 in the high (an in-lane byte shuffle,
 * cheaper than step_scales' cross-lane one). */
static inline __m512i pick_scales(__m512i scales, int k)
{
    const short lo = (short)((2 * k) | (2 * k + 1) << 8);
    const short hi = (short)((2 * k + 2) | (2 * k + 3) << 8);
    return _mm512_shuffle_epi8(scales, _mm512_inserti64x4(_mm512_set1_epi16(lo),
                                                          _mm256_set1_epi16(hi), 1));
}

static inline __m512i scaled_dot(__m512i isum, __m512i u, const int8_t *a, __m512i scales)
{
    __m512i p16 = _mm512_maddubs_epi16(u, _mm512_loadu_si512(a));
    return _mm512_dpwssd_epi32(isum, p16, scales);
}

static inline __m512i broadcast256(const void *p)
{
    return _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)p));
}

/* Per-byte bit masks: bit lo in the lower 32 bytes, bit hi in the upper. */
static inline __m512i bit_pair(int lo, int hi)
{
    return join256(_mm256_set1_epi8((char)(1 << lo)), _mm256_set1_epi8((char)(1 << hi)));
}

static inline __m512 add_superblock(__m512 acc, float scale, __m512i isum)
{
    return _mm512_fmadd_ps(_mm512_set1_ps(scale), _mm512_cvtepi32_ps(isum), acc);
}

/* Q2_K and Q3_K: per half h the 32 bytes of qs, shifted by 0/2 and 4/6,
 * give elements 128h + 0..63 and 64..127; groups of 16. */
static inline __attribute__((always_inline)) float dot_q23_k(int64_t n, const void *w,
                                                             const phi_block_q8_k *y, bool q3)
{
    const __m512i three = _mm512_set1_epi8(3);
    const __m512i shift01 = join256(_mm256_set1_epi16(0), _mm256_set1_epi16(2));
    const __m512i shift23 = join256(_mm256_set1_epi16(4), _mm256_set1_epi16(6));
    __m512 acc = _mm512_setzero_ps();
    __m256 acc_min = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / PHI_QK_K; i++, y++) {
        const phi_block_q2_k *x2 = (const phi_block_q2_k *)w + i;
        const phi_block_q3_k *x3 = (const phi_block_q3_k *)w + i;
        __m256i bsums = _mm256_loadu_si256((const __m256i *)y->bsums);
        __m256i sc16;
        __m512i isum = _mm512_setzero_si512(), hmask = _mm512_setzero_si512();
        if (q3) {
            sc16 = q3k_scales(x3);
            hmask = broadcast256(x3->hmask);
            /* q = u - 4: Σ sc·(Σ u·a - 4·bsum) */
            __m256i off = _mm256_slli_epi32(_mm256_madd_epi16(sc16, bsums), 2);
            isum = _mm512_zextsi256_si512(_mm256_sub_epi32(_mm256_setzero_si256(), off));
        } else {
            __m256i mins;
            q2k_scales_mins(x2, &sc16, &mins);
            __m256i msum = _mm256_madd_epi16(mins, bsums);
            acc_min = _mm256_fmadd_ps(_mm256_set1_ps(y->d * _cvtsh_ss(x2->dmin)),
                                      _mm256_cvtepi32_ps(msum), acc_min);
        }
        __m512i scales = _mm512_castsi256_si512(sc16);
        const uint8_t *qs = q3 ? x3->qs : x2->qs;
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            __m512i q = broadcast256(qs + 32 * h);
            __m512i u01 = _mm512_and_si512(_mm512_srlv_epi16(q, shift01), three);
            __m512i u23 = _mm512_and_si512(_mm512_srlv_epi16(q, shift23), three);
            if (q3) {
                __mmask64 h01 = _mm512_test_epi8_mask(hmask, bit_pair(4 * h, 4 * h + 1));
                __mmask64 h23 = _mm512_test_epi8_mask(hmask, bit_pair(4 * h + 2, 4 * h + 3));
                u01 = _mm512_mask_add_epi8(u01, h01, u01, _mm512_set1_epi8(4));
                u23 = _mm512_mask_add_epi8(u23, h23, u23, _mm512_set1_epi8(4));
            }
            isum = scaled_dot(isum, u01, y->qs + 128 * h, step_scales(scales, 8 * h, 8));
            isum = scaled_dot(isum, u23, y->qs + 128 * h + 64, step_scales(scales, 8 * h + 4, 8));
        }
        acc = add_superblock(acc, y->d * _cvtsh_ss(q3 ? x3->d : x2->d), isum);
    }
    return _mm512_reduce_add_ps(_mm512_sub_ps(acc, _mm512_castps256_ps512(acc_min)));
}

/* Q4_K and Q5_K, up to four super-blocks at a time: their 16-byte headers
 * (d, dmin, 6-bit scales and mins) are unpacked together, one per 128-bit
 * lane, so the unpacking, the fp16 conversions and the mins' products with
 * the activation sums are shared by four (hot Q4_K rows 1.2x faster than
 * one super-block at a time). Per super-block, 64 bytes of qs (chunks c,
 * c+1) split into nibbles and regrouped so each vector is one chunk in
 * element order (sub-blocks 2c, 2c+1); Q5_K adds bit 2c / 2c+1 of qh as 16. */
static inline __attribute__((always_inline)) void q45k_group(const void *w, int64_t i,
                                                             const phi_block_q8_k *y, int m,
                                                             bool q5, __m512 *acc,
                                                             __m512 *acc_min)
{
    const size_t stride = q5 ? sizeof(phi_block_q5_k) : sizeof(phi_block_q4_k);
    const uint8_t *x = (const uint8_t *)w + (size_t)i * stride;
    y += i;
    __m512i h = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)x));
    if (m > 1)
        h = _mm512_inserti32x4(h, _mm_loadu_si128((const __m128i *)(x + stride)), 1);
    if (m > 2)
        h = _mm512_inserti32x4(h, _mm_loadu_si128((const __m128i *)(x + 2 * stride)), 2);
    if (m > 3)
        h = _mm512_inserti32x4(h, _mm_loadu_si128((const __m128i *)(x + 3 * stride)), 3);
    /* Each lane [d|dmin, w0, w1, w2] becomes bytes [sc0..7 | m0..7]
     * (q4k_scales_mins, four at once). */
    __m512i a = _mm512_shuffle_epi32(h, _MM_SHUFFLE(3, 2, 3, 1));
    __m512i b = _mm512_shuffle_epi32(h, _MM_SHUFFLE(2, 2, 1, 1));
    __m512i low = _mm512_and_si512(
        _mm512_srlv_epi32(a, _mm512_broadcast_i32x4(_mm_setr_epi32(0, 0, 0, 4))),
        _mm512_broadcast_i32x4(_mm_setr_epi32(0x3f3f3f3f, 0x0f0f0f0f, 0x3f3f3f3f, 0x0f0f0f0f)));
    __m512i high = _mm512_and_si512(
        _mm512_srli_epi32(b, 2),
        _mm512_broadcast_i32x4(_mm_setr_epi32(0, 0x30303030, 0, 0x30303030)));
    __m512i sm = _mm512_or_si512(low, high);

    /* [d_j·d_a, dmin_j·d_a] for super-block j in floats 2j, 2j + 1 */
    __m128i dh = _mm512_castsi512_si128(_mm512_permutexvar_epi32(
        _mm512_setr_epi32(0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), h));
    __m128 da = _mm_setr_ps(y[0].d, m > 1 ? y[1].d : 0.0f, m > 2 ? y[2].d : 0.0f,
                            m > 3 ? y[3].d : 0.0f);
    __m512 ds = _mm512_castps256_ps512(_mm256_mul_ps(
        _mm256_cvtph_ps(dh), _mm256_permutevar8x32_ps(_mm256_castps128_ps256(da),
                                                      _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3))));

    /* mins: Σ_s m_s·(bsums[2s] + bsums[2s+1]), each m_s twice against the
     * bsums pair, two super-blocks per vector */
    __m512i mins2 = _mm512_shuffle_epi8(
        sm, _mm512_broadcast_i32x4(
                _mm_setr_epi8(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15)));
    for (int p = 0; p < m; p += 2) {
        __m512i mins = _mm512_cvtepu8_epi16(p == 0 ? _mm512_castsi512_si256(mins2)
                                                   : _mm512_extracti64x4_epi64(mins2, 1));
        __m512i bsums = _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)y[p].bsums));
        if (p + 1 < m)
            bsums = _mm512_inserti64x4(
                bsums, _mm256_loadu_si256((const __m256i *)y[p + 1].bsums), 1);
        __m512i pick = _mm512_inserti64x4(_mm512_set1_epi32(2 * p + 1),
                                          _mm256_set1_epi32(2 * p + 3), 1);
        *acc_min = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_madd_epi16(mins, bsums)),
                                   _mm512_permutexvar_ps(pick, ds), *acc_min);
    }

    const __m512i low4 = _mm512_set1_epi8(0x0f);
    __m512i scales4 = _mm512_unpacklo_epi8(sm, _mm512_setzero_si512());
    for (int j = 0; j < m; j++, x += stride, y++) {
        /* super-block j's 8 scales as int16 in every lane; then per step
         * scale 2k in the low half and 2k + 1 in the high half */
        __m512i scales = j == 0   ? _mm512_shuffle_i32x4(scales4, scales4, 0x00)
                         : j == 1 ? _mm512_shuffle_i32x4(scales4, scales4, 0x55)
                         : j == 2 ? _mm512_shuffle_i32x4(scales4, scales4, 0xaa)
                                  : _mm512_shuffle_i32x4(scales4, scales4, 0xff);
        const uint8_t *qs = x + (q5 ? offsetof(phi_block_q5_k, qs) : offsetof(phi_block_q4_k, qs));
        __m512i qh = q5 ? broadcast256(x + offsetof(phi_block_q5_k, qh)) : _mm512_setzero_si512();
        __m512i isum = _mm512_setzero_si512();
#pragma GCC unroll 2
        for (int c = 0; c < 4; c += 2) {
            __m512i q = _mm512_loadu_si512(qs + 32 * c);
            __m512i lo = _mm512_and_si512(q, low4);
            __m512i hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), low4);
            __m512i u0 = _mm512_shuffle_i64x2(lo, hi, _MM_SHUFFLE(1, 0, 1, 0));
            __m512i u1 = _mm512_shuffle_i64x2(lo, hi, _MM_SHUFFLE(3, 2, 3, 2));
            if (q5) {
                __mmask64 b0 = _mm512_test_epi8_mask(qh, bit_pair(2 * c, 2 * c + 1));
                __mmask64 b1 = _mm512_test_epi8_mask(qh, bit_pair(2 * c + 2, 2 * c + 3));
                u0 = _mm512_mask_add_epi8(u0, b0, u0, _mm512_set1_epi8(16));
                u1 = _mm512_mask_add_epi8(u1, b1, u1, _mm512_set1_epi8(16));
            }
            isum = scaled_dot(isum, u0, y->qs + 64 * c, pick_scales(scales, 2 * c));
            isum = scaled_dot(isum, u1, y->qs + 64 * c + 64, pick_scales(scales, 2 * c + 2));
        }
        *acc = _mm512_fmadd_ps(_mm512_permutexvar_ps(_mm512_set1_epi32(2 * j), ds),
                               _mm512_cvtepi32_ps(isum), *acc);
    }
}

static inline __attribute__((always_inline)) float dot_q45_k(int64_t n, const void *w,
                                                             const phi_block_q8_k *y, bool q5)
{
    __m512 acc = _mm512_setzero_ps(), acc_min = _mm512_setzero_ps();
    int64_t blocks = n / PHI_QK_K, i = 0;
    for (; i + 4 <= blocks; i += 4)
        q45k_group(w, i, y, 4, q5, &acc, &acc_min);
    if (i < blocks)
        q45k_group(w, i, y, (int)(blocks - i), q5, &acc, &acc_min);
    return _mm512_reduce_add_ps(_mm512_sub_ps(acc, acc_min));
}

PHI_X86_K_ENTRIES

/* Q6_K: per half, the 64 bytes of ql give groups 0-1 (low nibbles) and 2-3
 * (high nibbles) in element order; qh's 2-bit fields (bits 0-1 / 2-3 for
 * groups 0 / 1, 4-5 / 6-7 for 2 / 3) are shifted into bits 4-5. q = u - 32:
 * Σ sc·(Σ u·a - 32·bsum). */
static float vec_dot_q6_k(int64_t n, const void *w, const void *a)
{
    const phi_block_q6_k *x = w;
    const phi_block_q8_k *y = a;
    const __m512i low4 = _mm512_set1_epi8(0x0f), bits45 = _mm512_set1_epi8(0x30);
    const __m512i shl01 = join256(_mm256_set1_epi16(4), _mm256_set1_epi16(2));
    const __m512i shr23 = join256(_mm256_set1_epi16(0), _mm256_set1_epi16(2));
    __m512 acc = _mm512_setzero_ps();
    for (int64_t i = 0; i < n / PHI_QK_K; i++, x++, y++) {
        __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x->scales));
        __m256i bsums = _mm256_loadu_si256((const __m256i *)y->bsums);
        __m256i off = _mm256_slli_epi32(_mm256_madd_epi16(sc16, bsums), 5);
        __m512i isum = _mm512_zextsi256_si512(_mm256_sub_epi32(_mm256_setzero_si256(), off));
        __m512i scales = _mm512_castsi256_si512(sc16);
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            __m512i q = _mm512_loadu_si512(x->ql + 64 * h);
            __m512i qh = broadcast256(x->qh + 32 * h);
            __m512i u01 = _mm512_or_si512(_mm512_and_si512(q, low4),
                                          _mm512_and_si512(_mm512_sllv_epi16(qh, shl01), bits45));
            __m512i u23 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(q, 4), low4),
                                          _mm512_and_si512(_mm512_srlv_epi16(qh, shr23), bits45));
            isum = scaled_dot(isum, u01, y->qs + 128 * h, step_scales(scales, 8 * h, 8));
            isum = scaled_dot(isum, u23, y->qs + 128 * h + 64, step_scales(scales, 8 * h + 4, 8));
        }
        acc = add_superblock(acc, y->d * _cvtsh_ss(x->d), isum);
    }
    return _mm512_reduce_add_ps(acc);
}

/* IQ4_XS: 64 bytes of qs are four sub-blocks; their nibbles regrouped so
 * each vector is two sub-blocks in element order, looked up as magnitudes
 * with the sign moved onto the activations, then the sub-block scales
 * (-32..31) by vpdpwssd. */
static float vec_dot_iq4_xs(int64_t n, const void *w, const void *a)
{
    const phi_block_iq4_xs *x = w;
    const phi_block_q8_k *y = a;
    const __m512i low4 = _mm512_set1_epi8(0x0f);
    const __m512i first = _mm512_set_epi64(11, 10, 3, 2, 9, 8, 1, 0);
    const __m512i second = _mm512_set_epi64(15, 14, 7, 6, 13, 12, 5, 4);
    __m512 acc = _mm512_setzero_ps();
    for (int64_t i = 0; i < n / PHI_QK_K; i++, x++, y++) {
        __m512i scales = _mm512_castsi128_si512(iq4xs_scales(x));
        __m512i isum = _mm512_setzero_si512();
#pragma GCC unroll 2
        for (int half = 0; half < 2; half++) {
            __m512i q = _mm512_loadu_si512(x->qs + 64 * half);
            __m512i lo = _mm512_and_si512(q, low4);
            __m512i hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), low4);
            __m512i idx[2] = {_mm512_permutex2var_epi64(lo, first, hi),
                              _mm512_permutex2var_epi64(lo, second, hi)};
            for (int p = 0; p < 2; p++) {
                const int8_t *ap = y->qs + 128 * half + 64 * p;
                __m512i av = _mm512_loadu_si512(ap);
                __m512i u = iq4nl_lookup(idx[p], &av);
                __m512i p16 = _mm512_maddubs_epi16(u, av);
                isum = _mm512_dpwssd_epi32(isum, p16, step_scales(scales, 4 * half + 2 * p, 16));
            }
        }
        acc = add_superblock(acc, y->d * _cvtsh_ss(x->d), isum);
    }
    return _mm512_reduce_add_ps(acc);
}

/* ---- packed groups of 64 K-quant rows (packed.h; scalar.c:
 * gemm_packed_superblocks) ----------------------------------------------
 * Per super-block column, quarter and token: the 8 sub-block dots of 16
 * rows by vpdpbusd against broadcast activation dwords (the quants are
 * unsigned, 0..31), each times its rows' 6-bit scale in int32; the mins'
 * Σ m_j·s_j by four vpdpbusd of 4 mins each against the token's split
 * sub-block sums. Then one FMA for the scales and one for the mins, as the
 * row kernel does per super-block. */

/* Byte b (0..3) of every 32-bit lane, zero-extended (vpshufb indexes the
 * bytes of each 128-bit lane). */
static inline __m512i lane_byte(__m512i x, int b)
{
    const __m128i pick = _mm_setr_epi32((int)(0x80808000u | (unsigned)b), (int)(0x80808004u | (unsigned)b),
                                        (int)(0x80808008u | (unsigned)b), (int)(0x8080800cu | (unsigned)b));
    return _mm512_shuffle_epi8(x, _mm512_broadcast_i32x4(pick));
}

/* acc += d_w · d_a · isum per row and token: the rows' fp16 d at the start
 * of the block column col, the token's in its Q8_K block. */
static inline __attribute__((always_inline)) void add_scaled(
    __m512 acc[QUARTERS][4], const uint8_t *col, int q0, int nq,
    const phi_block_q8_k *const act[4], int nt, __m512i isum[QUARTERS][4])
{
#pragma GCC unroll 4
    for (int q = 0; q < nq; q++) {
        __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256(
            (const __m256i *)(col + (size_t)(q0 + q) * 2 * PHI_PACK_LANES)));
#pragma GCC unroll 4
        for (int t = 0; t < nt; t++)
            acc[q][t] = _mm512_fmadd_ps(_mm512_mul_ps(dw, _mm512_set1_ps(act[t]->d)),
                                        _mm512_cvtepi32_ps(isum[q][t]), acc[q][t]);
    }
}

/* Scales or mins 4-7 of each row as bytes (phi_unpack_q4k_scales): the low
 * 4 bits from the nibbles in `low` (low4 masks them), bits 4-5 from the top
 * 2 bits of the bytes of `top`. */
static inline __m512i sixbit_upper(__m512i low, __m512i top)
{
    const __m512i low4 = _mm512_set1_epi8(0x0f), bits45 = _mm512_set1_epi8(0x30);
    return _mm512_ternarylogic_epi32( /* (low & low4) | top bits */
        low, _mm512_and_si512(_mm512_srli_epi32(top, 2), bits45), low4, 0xec);
}

static inline __attribute__((always_inline)) void packed_k_tile(
    bool q5, int64_t nb, const uint8_t *group, int q0, int nq, const uint8_t *a, size_t a_stride,
    const int32_t *sums, size_t words, int nt, float *y, size_t y_stride)
{
    const size_t column = PHI_PACK_ROWS * (q5 ? sizeof(phi_block_q5_k) : sizeof(phi_block_q4_k));
    const int first_qh = 3, first_qs = q5 ? 11 : 3; /* slices after the 3 of scales */
    const __m512i low4 = _mm512_set1_epi8(0x0f), low6 = _mm512_set1_epi8(0x3f);
    const __m512i bit4 = _mm512_set1_epi8(0x10);
    __m512 acc[QUARTERS][4];
    zero_tile(acc, nq, nt);
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *col = group + (size_t)i * column;
        if (nt == 1) /* decode: the weights stream from memory */
            prefetch_column(col, column);
        const uint8_t *body = col + 2 * PHI_PACK_SCALES + (size_t)q0 * PHI_PACK_VECTOR;
        const phi_block_q8_k *act[4];
#pragma GCC unroll 4
        for (int t = 0; t < nt; t++)
            act[t] = (const phi_block_q8_k *)(a + (size_t)t * a_stride) + i;
        /* The mins first, straight into acc: fewer vectors live across the
         * quants (phi_unpack_q4k_scales has the layout of the 12 bytes). */
#pragma GCC unroll 4
        for (int q = 0; q < nq; q++) {
            const uint8_t *s = body + q * PHI_PACK_VECTOR;
            __m512i w1 = _mm512_loadu_si512(s + PHI_PACK_SLICE);
            __m512i w2 = _mm512_loadu_si512(s + 2 * PHI_PACK_SLICE);
            __m512i m0 = _mm512_and_si512(w1, low6);
            __m512i m1 = sixbit_upper(_mm512_srli_epi32(w2, 4), w1);
            __m512 dminw = _mm512_cvtph_ps(_mm256_loadu_si256(
                (const __m256i *)(col + PHI_PACK_SCALES + (size_t)(q0 + q) * 2 * PHI_PACK_LANES)));
#pragma GCC unroll 4
            for (int t = 0; t < nt; t++) {
                const int32_t *split = sums + (size_t)t * words + 4 * (size_t)i;
                __m512i hi = _mm512_dpbusd_epi32(_mm512_setzero_si512(), m0, _mm512_set1_epi32(split[0]));
                __m512i lo = _mm512_dpbusd_epi32(_mm512_setzero_si512(), m0, _mm512_set1_epi32(split[1]));
                hi = _mm512_dpbusd_epi32(hi, m1, _mm512_set1_epi32(split[2]));
                lo = _mm512_dpbusd_epi32(lo, m1, _mm512_set1_epi32(split[3]));
                __m512i msum = _mm512_add_epi32(_mm512_slli_epi32(hi, 6), lo);
                acc[q][t] = _mm512_fnmadd_ps(_mm512_mul_ps(dminw, _mm512_set1_ps(act[t]->d)),
                                             _mm512_cvtepi32_ps(msum), acc[q][t]);
            }
        }
        __m512i isum[QUARTERS][4], sc[QUARTERS];
#pragma GCC unroll 4
        for (int q = 0; q < nq; q++)
#pragma GCC unroll 4
            for (int t = 0; t < nt; t++)
                isum[q][t] = _mm512_setzero_si512();
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) { /* sub-blocks 2c (low nibbles) and 2c+1 */
            __m512i dlo[QUARTERS][4], dhi[QUARTERS][4];
#pragma GCC unroll 4
            for (int q = 0; q < nq; q++) {
                if (c % 2 == 0) { /* scales 0-3 of each row as bytes, then 4-7 */
                    const uint8_t *s = body + q * PHI_PACK_VECTOR;
                    __m512i w0 = _mm512_loadu_si512(s);
                    sc[q] = c == 0 ? _mm512_and_si512(w0, low6)
                                   : sixbit_upper(_mm512_loadu_si512(s + 2 * PHI_PACK_SLICE), w0);
                }
#pragma GCC unroll 4
                for (int t = 0; t < nt; t++)
                    dlo[q][t] = dhi[q][t] = _mm512_setzero_si512();
            }
#pragma GCC unroll 8
            for (int v = 0; v < 8; v++) {
                __m512i lo[QUARTERS], hi[QUARTERS];
#pragma GCC unroll 4
                for (int q = 0; q < nq; q++) {
                    const uint8_t *x = body + (size_t)(first_qs + 8 * c + v) * PHI_PACK_SLICE +
                                       q * PHI_PACK_VECTOR;
                    __m512i qs = _mm512_loadu_si512(x);
                    lo[q] = _mm512_and_si512(qs, low4);
                    hi[q] = _mm512_and_si512(_mm512_srli_epi16(qs, 4), low4);
                    if (q5) { /* bit 2c of qh[l] above element 64c + l, 2c + 1 above 64c + 32 + l */
                        __m512i qh = _mm512_loadu_si512(body + (size_t)(first_qh + v) * PHI_PACK_SLICE +
                                                        q * PHI_PACK_VECTOR);
                        __m512i h_lo = c <= 2 ? _mm512_slli_epi16(qh, 4 - 2 * c) : _mm512_srli_epi16(qh, 2);
                        __m512i h_hi = c <= 1 ? _mm512_slli_epi16(qh, 3 - 2 * c)
                                              : _mm512_srli_epi16(qh, 2 * c - 3);
                        lo[q] = _mm512_ternarylogic_epi32(lo[q], h_lo, bit4, 0xf8); /* a | (b & c) */
                        hi[q] = _mm512_ternarylogic_epi32(hi[q], h_hi, bit4, 0xf8);
                    }
                }
#pragma GCC unroll 4
                for (int t = 0; t < nt; t++) {
                    const int8_t *aq = act[t]->qs + 64 * c + 4 * v;
                    __m512i a_lo = _mm512_set1_epi32((int)phi_load_u32(aq));
                    __m512i a_hi = _mm512_set1_epi32((int)phi_load_u32(aq + 32));
#pragma GCC unroll 4
                    for (int q = 0; q < nq; q++) {
                        dlo[q][t] = _mm512_dpbusd_epi32(dlo[q][t], lo[q], a_lo);
                        dhi[q][t] = _mm512_dpbusd_epi32(dhi[q][t], hi[q], a_hi);
                    }
                }
            }
#pragma GCC unroll 4
            for (int q = 0; q < nq; q++) {
                __m512i s_lo = lane_byte(sc[q], 2 * c % 4);
                __m512i s_hi = lane_byte(sc[q], 2 * c % 4 + 1);
#pragma GCC unroll 4
                for (int t = 0; t < nt; t++)
                    isum[q][t] = _mm512_add_epi32(
                        isum[q][t], _mm512_add_epi32(_mm512_mullo_epi32(dlo[q][t], s_lo),
                                                     _mm512_mullo_epi32(dhi[q][t], s_hi)));
            }
        }
        add_scaled(acc, col, q0, nq, act, nt, isum);
    }
    store_tile(acc, q0, nq, nt, y, y_stride);
}

/* Q6_K: per 4 columns l of each half h, three body dwords hold the quants
 * of the 4 groups g of 32 (packed.c: q6k_encode): g = 0..2 in their low 6
 * bits, g = 3 in their top 2. Each 16-element group's dot starts at
 * -32·bsums, which takes the offset off before its int8 scale multiplies it. */
static inline __attribute__((always_inline)) void packed_q6k_tile(
    int64_t nb, const uint8_t *group, int q0, int nq, const uint8_t *a, size_t a_stride, int nt,
    float *y, size_t y_stride)
{
    enum { SCALES = 48 }; /* the first slice of scales, after 48 of quants */
    const size_t column = PHI_PACK_ROWS * sizeof(phi_block_q6_k);
    const __m512i low6 = _mm512_set1_epi8(0x3f), top2 = _mm512_set1_epi8((char)0xc0);
    const __m512i low2 = _mm512_set1_epi8(0x03), low4 = _mm512_set1_epi8(0x0f);
    __m512 acc[QUARTERS][4];
    zero_tile(acc, nq, nt);
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *col = group + (size_t)i * column;
        if (nt == 1) /* decode: the weights stream from memory */
            prefetch_column(col, column);
        const uint8_t *body = col + PHI_PACK_SCALES + (size_t)q0 * PHI_PACK_VECTOR;
        const phi_block_q8_k *act[4];
#pragma GCC unroll 4
        for (int t = 0; t < nt; t++)
            act[t] = (const phi_block_q8_k *)(a + (size_t)t * a_stride) + i;
        __m512i isum[QUARTERS][4];
#pragma GCC unroll 4
        for (int q = 0; q < nq; q++)
#pragma GCC unroll 4
            for (int t = 0; t < nt; t++)
                isum[q][t] = _mm512_setzero_si512();
#pragma GCC unroll 4
        for (int part = 0; part < 4; part++) { /* half h, columns l of 16 */
            const int h = part / 2, half = part % 2;
            __m512i dot[4][QUARTERS][4]; /* [g][q][t] */
#pragma GCC unroll 4
            for (int t = 0; t < nt; t++)
#pragma GCC unroll 4
                for (int g = 0; g < 4; g++) {
                    __m512i start = _mm512_set1_epi32(-32 * act[t]->bsums[8 * h + 2 * g + half]);
#pragma GCC unroll 4
                    for (int q = 0; q < nq; q++)
                        dot[g][q][t] = start;
                }
#pragma GCC unroll 4
            for (int v = 4 * half; v < 4 * half + 4; v++) {
                __m512i u[4][QUARTERS]; /* [g][q]: q of group g, 0..63 */
#pragma GCC unroll 4
                for (int q = 0; q < nq; q++) {
                    const uint8_t *at = body + (size_t)(24 * h + 3 * v) * PHI_PACK_SLICE + q * PHI_PACK_VECTOR;
                    __m512i b0 = _mm512_loadu_si512(at);
                    __m512i b1 = _mm512_loadu_si512(at + PHI_PACK_SLICE);
                    __m512i b2 = _mm512_loadu_si512(at + 2 * PHI_PACK_SLICE);
                    u[0][q] = _mm512_and_si512(b0, low6);
                    u[1][q] = _mm512_and_si512(b1, low6);
                    u[2][q] = _mm512_and_si512(b2, low6);
                    /* quant 3: bits 0-1 from b0's top 2, 2-3 from b1's, 4-5 from
                     * b2's (0xe4: c ? a : b) */
                    __m512i t = _mm512_ternarylogic_epi32(_mm512_srli_epi16(b0, 6),
                                                          _mm512_srli_epi16(b1, 4), low2, 0xe4);
                    u[3][q] = _mm512_ternarylogic_epi32(
                        t, _mm512_srli_epi16(_mm512_and_si512(b2, top2), 2), low4, 0xe4);
                }
#pragma GCC unroll 4
                for (int t = 0; t < nt; t++)
#pragma GCC unroll 4
                    for (int g = 0; g < 4; g++) {
                        __m512i a4 = _mm512_set1_epi32(
                            (int)phi_load_u32(act[t]->qs + 128 * h + 32 * g + 4 * v));
#pragma GCC unroll 4
                        for (int q = 0; q < nq; q++)
                            dot[g][q][t] = _mm512_dpbusd_epi32(dot[g][q][t], u[g][q], a4);
                    }
            }
#pragma GCC unroll 4
            for (int q = 0; q < nq; q++) {
                const uint8_t *at = body + q * PHI_PACK_VECTOR;
#pragma GCC unroll 4
                for (int g = 0; g < 4; g++) { /* int8 scale 8h + 2g + half, sign-extended */
                    const int k = 8 * h + 2 * g + half;
                    __m512i w = _mm512_loadu_si512(at + (size_t)(SCALES + k / 4) * PHI_PACK_SLICE);
                    __m512i sc = _mm512_srai_epi32(_mm512_slli_epi32(w, 24 - 8 * (k % 4)), 24);
#pragma GCC unroll 4
                    for (int t = 0; t < nt; t++)
                        isum[q][t] = _mm512_add_epi32(isum[q][t], _mm512_mullo_epi32(dot[g][q][t], sc));
                }
            }
        }
        add_scaled(acc, col, q0, nq, act, nt, isum);
    }
    store_tile(acc, q0, nq, nt, y, y_stride);
}

/* One tile of a packed group: the type is a constant at every call. */
static inline __attribute__((always_inline)) void group_tile(
    uint32_t type, int64_t nb, const uint8_t *group, int q0, int nq, const uint8_t *a,
    size_t a_stride, const int32_t *sums, size_t words, int nt, float *y, size_t y_stride)
{
    if (type == PHI_DT_Q4_0 || type == PHI_DT_Q8_0)
        packed_tile(type, nb, group, q0, nq, a, a_stride, sums, words, nt, y, y_stride);
    else if (type == PHI_DT_Q6_K)
        packed_q6k_tile(nb, group, q0, nq, a, a_stride, nt, y, y_stride);
    else
        packed_k_tile(type == PHI_DT_Q5_K, nb, group, q0, nq, a, a_stride, sums, words, nt, y,
                      y_stride);
}

/* One token (decode, the weights read once from memory) takes all four
 * quarters of a group together, so each activation dword is loaded once for
 * 64 rows; several tokens (prefill, the group in cache) go a quarter at a
 * time, up to 4 sharing each unpacked vector. */
static inline __attribute__((always_inline)) void gemm_packed_groups(
    int64_t n, const void *w, int n_groups, const void *a, size_t a_stride,
    const int32_t *a_sums, int n_tok, float *y, size_t y_stride, uint32_t type)
{
    const phi_dtype_info *info = phi_dtype_get(type);
    const int64_t nb = n / info->block;
    const size_t words = phi_packed_sums_words(type, n);
    const size_t group_bytes = (size_t)nb * PHI_PACK_ROWS * info->block_bytes;
    for (int g = 0; g < n_groups; g++) {
        const uint8_t *group = (const uint8_t *)w + (size_t)g * group_bytes;
        float *yg = y + (size_t)g * PHI_PACK_ROWS;
        if (n_tok == 1) {
            group_tile(type, nb, group, 0, QUARTERS, a, a_stride, a_sums, words, 1, yg, y_stride);
            continue;
        }
        for (int q = 0; q < QUARTERS; q++)
            for (int t = 0; t < n_tok; t += 4) {
                const uint8_t *at = (const uint8_t *)a + (size_t)t * a_stride;
                const int32_t *st = a_sums + (size_t)t * words;
                float *yt = yg + (size_t)t * y_stride;
                switch (n_tok - t) {
                case 1: group_tile(type, nb, group, q, 1, at, a_stride, st, words, 1, yt, y_stride); break;
                case 2: group_tile(type, nb, group, q, 1, at, a_stride, st, words, 2, yt, y_stride); break;
                case 3: group_tile(type, nb, group, q, 1, at, a_stride, st, words, 3, yt, y_stride); break;
                default: group_tile(type, nb, group, q, 1, at, a_stride, st, words, 4, yt, y_stride); break;
                }
            }
    }
}

#define PACKED_ENTRY(T, name) PHI_PACKED_ENTRY(T, name, gemm_packed_groups)
PHI_PACKED32_TYPES(PACKED_ENTRY)
PHI_PACKED_K_TYPES(PACKED_ENTRY)
#undef PACKED_ENTRY

/* ---- activation converters (scalar.c: quantize_block) ----------------- */

/* x * inv as the scalar twin rounds it: NaN to 0, clamped to ±127, roundf
 * (ties away from zero: truncate, then step away from zero when the exact
 * dropped fraction is at least one half). */
static inline __m512i quantize16(const float *x, __m512 inv)
{
    __m512 v = _mm512_mul_ps(_mm512_loadu_ps(x), inv);
    v = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, v, _CMP_ORD_Q), v);
    v = _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(-127.0f)), _mm512_set1_ps(127.0f));
    __m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    __mmask16 up = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_sub_ps(v, t)), _mm512_set1_ps(0.5f),
                                      _CMP_GE_OQ);
    __mmask16 negative = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ);
    t = _mm512_mask_add_ps(t, up & ~negative, t, _mm512_set1_ps(1.0f));
    t = _mm512_mask_sub_ps(t, up & negative, t, _mm512_set1_ps(1.0f));
    return _mm512_cvttps_epi32(t);
}

/* The largest |x| of n floats (n a multiple of 16) with NaNs left out (max
 * returns its second operand for a NaN first one), and whether there was a
 * NaN; order-independent, so the scalar loop's value. */
static inline float amax_of(const float *x, int n, bool *has_nan)
{
    __m512 m = _mm512_setzero_ps();
    __mmask16 nan = 0;
    for (int j = 0; j < n; j += 16) {
        __m512 v = _mm512_loadu_ps(x + j);
        m = _mm512_max_ps(_mm512_abs_ps(v), m);
        nan |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    }
    *has_nan = nan != 0;
    return _mm512_reduce_max_ps(m);
}

/* n (16 or more, a multiple of 16) activations to int8; sums[g] = Σ of
 * each 16. */
static inline void quantize_run(const float *x, int n, float inv, int8_t *q, int32_t *sums)
{
    __m512 vinv = _mm512_set1_ps(inv);
    for (int j = 0; j < n; j += 16) {
        __m512i v = quantize16(x + j, vinv);
        _mm_storeu_si128((__m128i *)(q + j), _mm512_cvtepi32_epi8(v));
        sums[j / 16] = _mm512_reduce_add_epi32(v);
    }
}

/* Q8_0, and Q8_1 (with_sum) which adds s = d·Σq after d; with_sum is a
 * constant at each call site. */
static inline void quantize_blocks32(const float *x, void *out, int64_t n, bool with_sum)
{
    const size_t bytes = with_sum ? sizeof(phi_block_q8_1) : sizeof(phi_block_q8_0);
    const size_t qs = with_sum ? offsetof(phi_block_q8_1, qs) : offsetof(phi_block_q8_0, qs);
    uint8_t *b = out;
    int32_t sums[2];
    for (int64_t i = 0; i < n / PHI_QK32; i++, x += PHI_QK32, b += bytes) {
        bool has_nan;
        float amax = amax_of(x, PHI_QK32, &has_nan), inv;
        float d = phi_q8_scale(amax, has_nan, &inv);
        quantize_run(x, PHI_QK32, inv, (int8_t *)(b + qs), sums);
        uint16_t h[2] = {_cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT),
                         _cvtss_sh(d * (float)(sums[0] + sums[1]), _MM_FROUND_TO_NEAREST_INT)};
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

/* Sums of each 16 of the 64 int8 at q, as int32 lanes 0, 4, 8, 12. */
static inline __m512i sums16(const int8_t *q)
{
    __m512i s = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(1),
                                    _mm512_loadu_si512(q));
    s = _mm512_add_epi32(s, _mm512_srli_epi64(s, 32));
    return _mm512_add_epi32(s, _mm512_bsrli_epi128(s, 8));
}

static void quantize_q8_k(const float *x, void *out, int64_t n)
{
    phi_block_q8_k *b = out;
    for (int64_t i = 0; i < n / PHI_QK_K; i++, x += PHI_QK_K) {
        bool has_nan;
        float amax = amax_of(x, PHI_QK_K, &has_nan), inv;
        b[i].d = phi_q8_scale(amax, has_nan, &inv);
        __m512 vinv = _mm512_set1_ps(inv);
        for (int j = 0; j < PHI_QK_K; j += 16)
            _mm_storeu_si128((__m128i *)(b[i].qs + j),
                             _mm512_cvtepi32_epi8(quantize16(x + j, vinv)));
        /* the 16-element sums from the stored bytes, four per 64; |bsum| <=
         * 16 * 127, so the narrowing to int16 is exact */
        const __mmask16 every4 = 0x1111;
        __m512i all = _mm512_setzero_si512();
        for (int k = 0; k < 4; k++) {
            __m512i four = _mm512_maskz_compress_epi32(every4, sums16(b[i].qs + 64 * k));
            all = _mm512_mask_expand_epi32(all, (__mmask16)(0xf << (4 * k)), four);
        }
        _mm256_storeu_si256((__m256i *)b[i].bsums, _mm512_cvtepi32_epi16(all));
    }
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

/* ---- attention: the head_dim loops of attn_blocks.h's driver ---------- */

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

ATTN_ENTRY_POINTS(4)

void phi_kernels_init_avx512(phi_kernels *k)
{
    k->name = "avx512";
    k->level = PHI_KERNEL_AVX512;

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
#define SET_PACKED(T, name)                         \
    k->gemm_packed[PHI_DT_##T] = gemm_packed_##name; \
    k->pack[PHI_DT_##T] = true;
    PHI_PACKED32_TYPES(SET_PACKED)
    PHI_PACKED_K_TYPES(SET_PACKED)
#undef SET_PACKED
    __builtin_cpu_init();
    if (__builtin_cpu_is("amd")) { /* measured on a Zen 4: see burst_max_bytes */
        burst_max_bytes = PHI_PACK_ROWS * sizeof(phi_block_q4_0);
        k->pack[PHI_DT_Q5_K] = k->pack[PHI_DT_Q6_K] = false;
    }

    k->dot_f32 = dot_f32;
    k->axpy_f32 = axpy_f32;
    k->scale_f32 = scale_f32;
    k->f32_to_f16 = x86_f32_to_f16;
    k->swiglu_f32 = x86_swiglu_f32;

    k->attn[PHI_DT_F32] = attn_f32;
    k->attn[PHI_DT_F16] = attn_f16;
}
