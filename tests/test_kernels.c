/* Every SIMD kernel against its scalar twin (lib/kernels/scalar.c), for every
 * kernel level this build and CPU have. A slot is tested when its pointer
 * differs from the scalar table's; dequant is compared at every level. Every
 * SIMD level must fill every other slot the scalar table fills (test_level),
 * so a slot left to the scalar kernel fails instead of passing as scalar
 * compared with itself. Each compared dot prints its worst difference from
 * the scalar twin as a fraction of the bound below. With
 * --levels / --auto (see main) it also checks the dispatcher: which levels
 * exist on this CPU and which one a context takes (PHI4_KERNEL applies).
 *
 * Tolerances. u = 2^-24 (f32 unit roundoff).
 * - quantize_act, dequant, axpy_f32, scale_f32, f32_to_f16: exact (bytes /
 *   bits). The SIMD versions do the same IEEE operations per element in the
 *   same order (f32_to_f16: the same rounding; a NaN only has to stay NaN).
 * - swiglu_f32: within 8u relative, or 1e-35 absolute. The SIMD e^x is a
 *   polynomial within 2 ulp (4u) of expf; 1 + e^x, the division and the
 *   product are the same IEEE operations. Where e^x overflows on one side
 *   and is just below FLT_MAX on the other, the result is -0 against
 *   ~-3e-37·up: the absolute term.
 * - Float dots of n products: both sides are sums of the same n products in
 *   different orders (and with or without FMA), so each is within n·u·Σ|w·a|
 *   of the exact value (Higham, γ_n); the two agree within 2(n+1)·u·Σ|w·a|.
 * - Block dots: the int32 sums inside a block are exact on both sides; the
 *   float part adds nb block terms (scalar) or 8 lane terms per block (SIMD),
 *   each rounded about twice, so they agree within 2(8·nb+16)·u·T with
 *   T = Σ_blocks |d_w·d_a|·Σ_j |q_w·q_a|.
 * - Non-finite inputs: a NaN must give NaN and an inf (with finite other
 *   terms) the same inf. An inf block scale only has to give a non-finite
 *   result: scalar multiplies it by the block sum, SIMD by each partial sum,
 *   and a zero partial sum turns inf into NaN.
 * - Attention: see the attention section. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "arch/ops.h"
#include "check.h"
#include "kernels/fp16.h"
#include "kernels/kernels.h"
#include "kernels/packed.h"
#include "runtime/pool.h"
#include "test_rand.h"
#include "kernels/quant_blocks.h"
#include "phi4.h"

static const double U = 1.0 / 16777216.0;


static int rand_int(int lo, int hi)
{
    return lo + (int)(rand_u32() % (uint32_t)(hi - lo + 1));
}

static bool same_float(float a, float b)
{
    return (isnan(a) && isnan(b)) || phi_bits_from_f32(a) == phi_bits_from_f32(b);
}

static const phi_kernels *scalar_k;

/* The largest |SIMD - scalar| / tolerance of the dot slot being tested. */
static double dot_worst;

static void note_dot_error(float got, float want, double tol)
{
    if (tol > 0.0)
        dot_worst = fmax(dot_worst, fabs((double)got - want) / tol);
}

/* ---- float dots (F32, F16, BF16 weights; dot_f32) --------------------- */

static float weight_value(uint32_t type, const void *w, int64_t i)
{
    switch (type) {
    case PHI_DT_F16: return phi_fp16_to_f32(((const uint16_t *)w)[i]);
    case PHI_DT_BF16: return phi_bf16_to_f32(((const uint16_t *)w)[i]);
    default: return ((const float *)w)[i];
    }
}

static void set_weight(uint32_t type, void *w, int64_t i, float v)
{
    switch (type) {
    case PHI_DT_F16: ((uint16_t *)w)[i] = phi_f32_to_fp16(v); break;
    case PHI_DT_BF16: ((uint16_t *)w)[i] = phi_f32_to_bf16(v); break;
    default: ((float *)w)[i] = v; break;
    }
}

static void set_weight_bits(uint32_t type, void *w, int64_t i, uint16_t half_bits, float f)
{
    if (type == PHI_DT_F32)
        ((float *)w)[i] = f;
    else
        ((uint16_t *)w)[i] = half_bits;
}

/* Whether got, a level's float dot of w and a, is within the bound above
 * of want, the scalar one; reports the difference as `what`. */
static bool float_dot_close(const phi_kernels *k, uint32_t type, int64_t n, const void *w,
                            const float *a, float got, float want, const char *what)
{
    double mag = 0.0;
    for (int64_t i = 0; i < n; i++)
        mag += fabs((double)weight_value(type, w, i) * a[i]);
    bool ok;
    double tol = 0.0;
    if (!isfinite(mag) || isnan(want))
        ok = isnan(want) ? isnan(got) : same_float(got, want);
    else {
        tol = 2.0 * (double)(n + 1) * U * mag;
        ok = fabs((double)got - want) <= tol;
        note_dot_error(got, want, tol);
    }
    if (!ok)
        fprintf(stderr, "  %s %s type %u n %lld: got %.9g want %.9g tol %.3g\n", k->name, what,
                type, (long long)n, got, want, tol);
    return ok;
}

/* One comparison of a float dot: dot_f32 or vec_dot[type]. */
static void cmp_float_dot(const phi_kernels *k, uint32_t type, bool via_dot_f32, int64_t n,
                          const void *w, const float *a, const char *what)
{
    float got, want;
    if (via_dot_f32) {
        got = k->dot_f32(n, w, a);
        want = scalar_k->dot_f32(n, w, a);
    } else {
        got = k->vec_dot[type](n, w, a);
        want = scalar_k->vec_dot[type](n, w, a);
    }
    CHECK(float_dot_close(k, type, n, w, a, got, want, what));
}

/* The extremes of a weight format: largest finite half / bf16 and
 * subnormals, alternating (F32: near FLT_MAX and subnormal). */
static void extreme_float_weights(uint32_t type, void *w, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        switch (i % 4) {
        case 0: set_weight_bits(type, w, i, 0x7bff, 3.0e38f); break;  /* 65504 */
        case 1: set_weight_bits(type, w, i, 0x0001, 1.0e-45f); break;  /* min subnormal */
        case 2: set_weight_bits(type, w, i, 0x83ff, -1.1e-38f); break; /* -max subnormal */
        default: set_weight_bits(type, w, i, 0xfbff, -3.0e38f); break;
        }
    }
}

/* Activations small enough against extreme_float_weights to keep Σ|w·a|
 * finite (0x7bff as bf16 is 2.6e36). */
static float extreme_float_act(uint32_t type)
{
    float a = rand_f() * (type == PHI_DT_F32 ? 1e-4f : 1.0f);
    return type == PHI_DT_BF16 ? a * 1e-3f : a;
}

static void test_float_dot(const phi_kernels *k, uint32_t type, bool via_dot_f32)
{
    static const int64_t sizes[] = {1, 3, 31, 33, 63, 255, 257, 1001, 3072};
    const char *what = via_dot_f32 ? "dot_f32" : "vec_dot";
    enum { MAX = 3072 };
    float *wbuf = malloc(MAX * sizeof(float)); /* big enough for any of the types */
    float *a = malloc(MAX * sizeof(float));
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        int64_t n = sizes[s];
        /* random */
        for (int64_t i = 0; i < n; i++) {
            set_weight(type, wbuf, i, rand_f());
            a[i] = rand_f() * 4.0f;
        }
        cmp_float_dot(k, type, via_dot_f32, n, wbuf, a, what);
        /* all zero weights: exactly zero on both sides */
        for (int64_t i = 0; i < n; i++)
            set_weight(type, wbuf, i, 0.0f);
        CHECK(via_dot_f32 ? k->dot_f32(n, (const float *)wbuf, a) == 0.0f
                          : k->vec_dot[type](n, wbuf, a) == 0.0f);
        /* extremes of the weight format against small activations */
        extreme_float_weights(type, wbuf, n);
        for (int64_t i = 0; i < n; i++)
            a[i] = extreme_float_act(type);
        cmp_float_dot(k, type, via_dot_f32, n, wbuf, a, what);
        /* non-finite: one inf weight (the other products finite), then one NaN,
         * placed last so the tails see them too */
        for (int64_t i = 0; i < n; i++) {
            set_weight(type, wbuf, i, rand_f());
            a[i] = rand_f();
        }
        a[n - 1] = 1.0f;
        set_weight_bits(type, wbuf, n - 1, 0x7c00 /* f16 inf */, INFINITY);
        if (type == PHI_DT_BF16)
            ((uint16_t *)wbuf)[n - 1] = 0x7f80;
        cmp_float_dot(k, type, via_dot_f32, n, wbuf, a, what);
        set_weight_bits(type, wbuf, n - 1, 0x7e00, NAN);
        if (type == PHI_DT_BF16)
            ((uint16_t *)wbuf)[n - 1] = 0x7fc0;
        cmp_float_dot(k, type, via_dot_f32, n, wbuf, a, what);
    }
    free(wbuf);
    free(a);
}

/* ---- block dots: every block type against its activation type ----------- */

/* Where the parts of a block are: the fp16 fields (scale first; -1: none)
 * and the byte range of the quants. Zeroing the quants leaves each element
 * its offset / min part (x = d*sc*q - dmin*m with q = 0, or -8d for Q4_0,
 * -4d*sc for Q3_K, ...), the part the kernels take off through bsums / s or
 * an offset maddubs. */
typedef struct {
    uint32_t type, act;
    int block;         /* elements per block */
    int halves[2];     /* byte offsets of fp16 fields */
    int quant_lo, quant_hi;
} block_format;

static const block_format formats[] = {
    {PHI_DT_Q8_0, PHI_DT_Q8_0, 32, {0, -1}, 2, 34},
    {PHI_DT_Q4_0, PHI_DT_Q8_0, 32, {0, -1}, 2, 18},
    {PHI_DT_Q4_1, PHI_DT_Q8_1, 32, {0, 2}, 4, 20},
    {PHI_DT_Q5_0, PHI_DT_Q8_0, 32, {0, -1}, 2, 22},
    {PHI_DT_Q5_1, PHI_DT_Q8_1, 32, {0, 2}, 4, 24},
    {PHI_DT_IQ4_NL, PHI_DT_Q8_0, 32, {0, -1}, 2, 18},
    {PHI_DT_Q2_K, PHI_DT_Q8_K, 256, {80, 82}, 16, 80},
    {PHI_DT_Q3_K, PHI_DT_Q8_K, 256, {108, -1}, 0, 96},
    {PHI_DT_Q4_K, PHI_DT_Q8_K, 256, {0, 2}, 16, 144},
    {PHI_DT_Q5_K, PHI_DT_Q8_K, 256, {0, 2}, 16, 176},
    {PHI_DT_Q6_K, PHI_DT_Q8_K, 256, {208, -1}, 0, 192},
    {PHI_DT_IQ4_XS, PHI_DT_Q8_K, 256, {0, -1}, 8, 136},
};

static const block_format *format_of(uint32_t type)
{
    for (size_t f = 0; f < sizeof formats / sizeof *formats; f++)
        if (formats[f].type == type)
            return &formats[f];
    return NULL;
}

static size_t block_bytes(uint32_t type)
{
    return phi_dtype_get(type)->block_bytes;
}

static void set_half(unsigned char *blk, int off, uint16_t h)
{
    memcpy(blk + off, &h, 2);
}

/* Activation blocks: element j's int8, the block scale, and the sums the
 * format carries (Q8_1's s, Q8_K's bsums) recomputed from the quants. */
static int8_t *act_qs(uint32_t act, void *a, int64_t b)
{
    if (act == PHI_DT_Q8_K)
        return ((phi_block_q8_k *)a)[b].qs;
    return act == PHI_DT_Q8_1 ? ((phi_block_q8_1 *)a)[b].qs : ((phi_block_q8_0 *)a)[b].qs;
}

static float act_scale(uint32_t act, const void *a, int64_t b)
{
    if (act == PHI_DT_Q8_K)
        return ((const phi_block_q8_k *)a)[b].d;
    return phi_fp16_to_f32(act == PHI_DT_Q8_1 ? ((const phi_block_q8_1 *)a)[b].d
                                              : ((const phi_block_q8_0 *)a)[b].d);
}

static void set_act_scale(uint32_t act, void *a, int64_t b, float d)
{
    if (act == PHI_DT_Q8_K)
        ((phi_block_q8_k *)a)[b].d = d;
    else if (act == PHI_DT_Q8_1)
        ((phi_block_q8_1 *)a)[b].d = phi_f32_to_fp16(d);
    else
        ((phi_block_q8_0 *)a)[b].d = phi_f32_to_fp16(d);
}

static void fix_act_sums(uint32_t act, void *a, int64_t nb)
{
    for (int64_t b = 0; b < nb; b++) {
        const int8_t *q = act_qs(act, a, b);
        if (act == PHI_DT_Q8_1) {
            int sum = 0;
            for (int j = 0; j < 32; j++)
                sum += q[j];
            phi_block_q8_1 *y = (phi_block_q8_1 *)a + b;
            y->s = phi_f32_to_fp16(phi_fp16_to_f32(y->d) * (float)sum);
        } else if (act == PHI_DT_Q8_K) {
            for (int g = 0; g < 16; g++) {
                int sum = 0;
                for (int j = 0; j < 16; j++)
                    sum += q[16 * g + j];
                ((phi_block_q8_k *)a)[b].bsums[g] = (int16_t)sum;
            }
        }
    }
}

/* Both sides compute the same exact int32 sums inside a block and differ
 * only in how they scale and add them in float: scalar rounds a few times
 * per block and adds nb block terms; SIMD scales up to 16 lane partials per
 * block (and the min / offset part separately) and adds them per lane, then
 * across lanes. Every term is bounded by its share of
 *   T = Σ_j |a_j|·(|w_j| + |o_j|)
 * (a the dequantized activations, w the dequantized weights, o their offset
 * part: each partial sum is a sum of some of these products, split into the
 * quant part |w - o| <= |w| + |o| and the offset part), so by Higham's γ_n
 * each side is within (18·nb + 16)·u·T of the exact value and they agree
 * within 2(18·nb + 16)·u·T. A wrong element or scale costs about T/n or more,
 * far above that for these sizes.
 * Non-finite scales: a NaN must give NaN; an inf only has to give a
 * non-finite result (scalar multiplies it by a block sum, SIMD by partial
 * sums, and a zero partial turns inf into NaN). */
static double block_dot_magnitude(const block_format *f, int64_t nb, const unsigned char *w,
                                  const void *a)
{
    size_t bytes = block_bytes(f->type);
    float *wv = malloc((size_t)f->block * sizeof(float)), *ov = malloc((size_t)f->block * sizeof(float));
    unsigned char *zeroed = malloc(bytes);
    double mag = 0.0;
    for (int64_t b = 0; b < nb; b++) {
        const unsigned char *blk = w + b * bytes;
        memcpy(zeroed, blk, bytes);
        memset(zeroed + f->quant_lo, 0, (size_t)(f->quant_hi - f->quant_lo));
        scalar_k->dequant[f->type](blk, wv, f->block);
        scalar_k->dequant[f->type](zeroed, ov, f->block);
        const int8_t *q = act_qs(f->act, (void *)a, b);
        double da = fabs((double)act_scale(f->act, a, b));
        for (int j = 0; j < f->block; j++)
            mag += da * abs(q[j]) * (fabs((double)wv[j]) + fabs((double)ov[j]));
    }
    free(wv);
    free(ov);
    free(zeroed);
    return mag;
}

static bool dot_within_bound(const phi_kernels *k, const block_format *f, int64_t nb, double mag,
                             float got, float want, const char *what)
{
    bool ok;
    double tol = 0.0;
    if (isnan(want) && isfinite(mag))
        ok = isnan(got);
    else if (!isfinite(mag))
        ok = !isfinite(got) && !isfinite(want);
    else {
        tol = 2.0 * (double)(18 * nb + 16) * U * mag;
        ok = fabs((double)got - want) <= tol;
        note_dot_error(got, want, tol);
    }
    if (!ok)
        fprintf(stderr, "  %s %s type %s nb %lld: got %.9g want %.9g tol %.3g\n", k->name, what,
                phi_dtype_name(f->type), (long long)nb, got, want, tol);
    return ok;
}

static bool block_dot_close(const phi_kernels *k, const block_format *f, int64_t nb,
                            const unsigned char *w, const void *a, float got, float want,
                            const char *what)
{
    return dot_within_bound(k, f, nb, block_dot_magnitude(f, nb, w, a), got, want, what);
}

static void cmp_block_dot(const phi_kernels *k, const block_format *f, int64_t nb,
                          const unsigned char *w, const void *a, const char *what)
{
    int64_t n = nb * f->block;
    float got = k->vec_dot[f->type](n, w, a);
    float want = scalar_k->vec_dot[f->type](n, w, a);
    CHECK(block_dot_close(k, f, nb, w, a, got, want, what));
}

static uint16_t rand_scale(void)
{
    return phi_f32_to_fp16(ldexpf(1.0f + rand_f() * 0.5f, rand_int(-12, 4)));
}

/* Random quants and sub-scales (every bit pattern is valid), sane fp16
 * fields (a signed offset for Q4_1 / Q5_1, positive scales otherwise). */
static void random_blocks(const block_format *f, unsigned char *w, int64_t nb)
{
    size_t bytes = block_bytes(f->type);
    for (int64_t b = 0; b < nb; b++) {
        unsigned char *blk = w + b * bytes;
        for (size_t i = 0; i < bytes; i++)
            blk[i] = (unsigned char)rand_u32();
        for (int h = 0; h < 2; h++)
            if (f->halves[h] >= 0)
                set_half(blk, f->halves[h], rand_scale() ^ (h && rand_u32() % 2 ? 0x8000 : 0));
    }
}

/* Extremes by pattern (0..3): fp16 fields at ±65504 and ± the smallest
 * subnormal by block, quants and sub-scales all at their largest or
 * smallest bit patterns. */
static void extreme_blocks(const block_format *f, unsigned char *w, int64_t nb, int pattern)
{
    static const uint16_t halves[] = {0x7bff, 0x0001, 0xfbff, 0x8001, 0x3c00};
    size_t bytes = block_bytes(f->type);
    for (int64_t b = 0; b < nb; b++) {
        unsigned char *blk = w + b * bytes;
        memset(blk, pattern & 1 ? 0x00 : 0xff, bytes);
        if (pattern & 2)
            memset(blk + f->quant_lo, b % 2 ? 0x00 : 0xff, (size_t)(f->quant_hi - f->quant_lo));
        for (int h = 0; h < 2; h++)
            if (f->halves[h] >= 0)
                set_half(blk, f->halves[h], halves[(b + 2 * h + pattern) % 5]);
    }
}

/* Activations at ±127 with unit and tiny scales. */
static void extreme_acts(const block_format *f, void *a, int64_t nb, int pattern)
{
    for (int64_t b = 0; b < nb; b++) {
        int8_t *q = act_qs(f->act, a, b);
        for (int j = 0; j < f->block; j++)
            q[j] = (int8_t)(((j + b + pattern) % 3 == 0) ? -127 : 127);
        set_act_scale(f->act, a, b, b % 2 ? 0x1p-14f : 1.0f);
    }
    fix_act_sums(f->act, a, nb);
}

static void test_block_dot(const phi_kernels *k, const block_format *f)
{
    static const int64_t nblocks[] = {1, 2, 3, 7, 12, 33};
    enum { MAXB = 33 };
    size_t bytes = block_bytes(f->type), abytes = block_bytes(f->act);
    unsigned char *w = calloc(MAXB, bytes);
    void *a = calloc(MAXB, abytes);
    float *x = malloc((size_t)MAXB * (size_t)f->block * sizeof(float));
    for (size_t s = 0; s < sizeof nblocks / sizeof *nblocks; s++) {
        int64_t nb = nblocks[s], n = nb * f->block;
        /* random weights, activations straight from the quantizer */
        random_blocks(f, w, nb);
        for (int64_t i = 0; i < n; i++)
            x[i] = rand_f() * 3.0f;
        scalar_k->quantize_act[f->act](x, a, n);
        cmp_block_dot(k, f, nb, w, a, "random");

        /* all-zero weight blocks: exactly zero */
        memset(w, 0, (size_t)nb * bytes);
        CHECK(k->vec_dot[f->type](n, w, a) == 0.0f);

        /* extremes */
        for (int pattern = 0; pattern < 4; pattern++) {
            extreme_blocks(f, w, nb, pattern);
            extreme_acts(f, a, nb, pattern);
            cmp_block_dot(k, f, nb, w, a, "extreme");
        }

        /* non-finite fp16 fields in the last block: NaN, then inf */
        random_blocks(f, w, nb);
        scalar_k->quantize_act[f->act](x, a, n);
        unsigned char *last = w + (nb - 1) * bytes;
        for (int h = 0; h < 2; h++) {
            if (f->halves[h] < 0)
                continue;
            uint16_t keep;
            memcpy(&keep, last + f->halves[h], 2);
            set_half(last, f->halves[h], 0x7e00);
            cmp_block_dot(k, f, nb, w, a, "nan-scale");
            set_half(last, f->halves[h], 0x7c00);
            cmp_block_dot(k, f, nb, w, a, "inf-scale");
            set_half(last, f->halves[h], keep);
        }
    }
    free(w);
    free(a);
    free(x);
}

/* ---- gemm: every output against the scalar vec_dot ---------------------
 * A NULL gemm slot means the vec_dot loop, so the scalar table's loop is the
 * reference: each output of a level's gemm must be within the bound of that
 * vec_dot comparison (float or block, as above). Tiles of rows and columns
 * change only the order of the float sums. Rows and columns run through odd
 * counts (the tails of every tile shape), rows of one block and of many;
 * the outputs sit in a strided y whose gaps must stay untouched. */

enum gemm_fill { GEMM_RANDOM, GEMM_EXTREME, GEMM_ZEROS };

/* Row r of w (or column r of the activations x, a) per fill. */
static void gemm_fill_row(uint32_t type, enum gemm_fill fill, int r, int64_t n,
                          unsigned char *w)
{
    const block_format *f = format_of(type);
    int64_t nb = f ? n / f->block : 0;
    if (fill == GEMM_EXTREME) {
        if (f)
            extreme_blocks(f, w, nb, r % 4);
        else
            extreme_float_weights(type, w, n);
        return;
    }
    if (f)
        random_blocks(f, w, nb);
    else
        for (int64_t i = 0; i < n; i++)
            set_weight(type, w, i, rand_f());
    if (fill == GEMM_ZEROS) { /* every other row zero; in the others every third block */
        size_t bytes = f ? block_bytes(type) : phi_dtype_get(type)->block_bytes;
        int64_t blocks = f ? nb : n;
        for (int64_t b = 0; b < blocks; b++)
            if (r % 2 == 0 || b % 3 == 1)
                memset(w + b * bytes, 0, bytes);
    }
}

static void gemm_fill_col(uint32_t type, enum gemm_fill fill, int c, int64_t n, float *x,
                          void *a)
{
    const block_format *f = format_of(type);
    for (int64_t i = 0; i < n; i++)
        x[i] = fill == GEMM_EXTREME && !f ? extreme_float_act(type) : rand_f() * 3.0f;
    if (fill == GEMM_ZEROS && c % 3 == 2)
        memset(x, 0, (size_t)n * sizeof(float));
    if (f) {
        scalar_k->quantize_act[f->act](x, a, n);
        if (fill == GEMM_EXTREME)
            extreme_acts(f, a, n / f->block, c % 4);
    } else {
        memcpy(a, x, (size_t)n * sizeof(float));
    }
}

static void gemm_case(const phi_kernels *k, uint32_t type, int64_t n, int rows, int cols,
                      enum gemm_fill fill)
{
    const block_format *f = format_of(type);
    uint32_t act = f ? f->act : PHI_DT_F32;
    size_t w_row = 0, a_row = 0;
    CHECK(phi_dtype_row_bytes(type, n, &w_row) && phi_dtype_row_bytes(act, n, &a_row));
    size_t y_stride = (size_t)rows + 3;
    unsigned char *w = malloc((size_t)rows * w_row), *a = malloc((size_t)cols * a_row);
    float *x = malloc((size_t)n * sizeof(float)), *y = malloc((size_t)cols * y_stride * sizeof(float));
    for (int r = 0; r < rows; r++)
        gemm_fill_row(type, fill, r, n, w + (size_t)r * w_row);
    for (int c = 0; c < cols; c++)
        gemm_fill_col(type, fill, c, n, x, a + (size_t)c * a_row);
    const float gap = -1234.5f;
    for (size_t i = 0; i < (size_t)cols * y_stride; i++)
        y[i] = gap;
    k->gemm[type](n, w, w_row, rows, a, a_row, cols, y, y_stride);
    static const char *const fills[] = {"gemm random", "gemm extreme", "gemm zeros"};
    int bad = 0;
    for (int c = 0; c < cols; c++) {
        const unsigned char *ac = a + (size_t)c * a_row;
        for (int r = 0; r < rows; r++) {
            const unsigned char *wr = w + (size_t)r * w_row;
            float got = y[(size_t)c * y_stride + (size_t)r];
            float want = scalar_k->vec_dot[type](n, wr, ac);
            bool ok = f ? block_dot_close(k, f, n / f->block, wr, ac, got, want, fills[fill])
                        : float_dot_close(k, type, n, wr, (const float *)ac, got, want,
                                          fills[fill]);
            bad += !ok;
        }
        for (size_t r = (size_t)rows; r < y_stride; r++)
            bad += y[(size_t)c * y_stride + r] != gap;
    }
    CHECK(bad == 0);
    if (bad)
        fprintf(stderr, "  %s gemm %s n %lld rows %d cols %d: %d wrong\n", k->name,
                phi_dtype_name(type), (long long)n, rows, cols, bad);
    free(w);
    free(a);
    free(x);
    free(y);
}

static void test_gemm(const phi_kernels *k, uint32_t type)
{
    static const int counts[] = {1, 2, 3, 5, 7, 17};
    enum { N_COUNTS = sizeof counts / sizeof *counts };
    const block_format *f = format_of(type);
    /* one block and many (F32 .. BF16: shorter than a vector, odd tails) */
    int64_t sizes[2] = {7, 1001};
    if (f) {
        sizes[0] = f->block;
        sizes[1] = (f->block == 32 ? 37 : 13) * f->block;
    }
    for (int s = 0; s < 2; s++)
        for (int fill = GEMM_RANDOM; fill <= GEMM_ZEROS; fill++)
            for (int i = 0; i < N_COUNTS; i++)
                for (int j = 0; j < N_COUNTS; j++)
                    gemm_case(k, type, sizes[s], counts[i], counts[j], (enum gemm_fill)fill);
}

/* ---- packed groups of 64 rows (kernels/packed.h) -----------------------
 * Rows filled as for gemm, packed a group at a time; every row must unpack
 * to its bytes, the scalar packed kernel must give the scalar vec_dot's
 * float exactly (it is the same arithmetic in the same order), and a level's
 * own packed kernel must be within vec_dot's bound of it. One matrix of the
 * largest shape (3 groups, 9 tokens) per row length (1 block and many) and
 * fill is packed once; the kernel then runs on every prefix of its groups
 * and tokens (every tail of the 4-token tiles) against references and bounds
 * worked out once per row and token: they, not the kernel, are what costs
 * time (under the sanitizers most of this test's). The gaps of the strided
 * y stay untouched. */
enum { PACKED_MAX_GROUPS = 3, PACKED_MAX_COLS = 9 };

static void packed_case(const phi_kernels *k, uint32_t type, int64_t n, enum gemm_fill fill)
{
    static const int col_counts[] = {1, 2, 3, 4, 5, 7, PACKED_MAX_COLS};
    const int ncounts = (int)(sizeof col_counts / sizeof *col_counts);
    const block_format *f = format_of(type);
    const int rows = PACKED_MAX_GROUPS * PHI_PACK_ROWS, cols = PACKED_MAX_COLS;
    int64_t nb = n / f->block;
    size_t words = phi_packed_sums_words(type, n), w_row = 0, a_row = 0;
    /* packed.h: a word per 32-element block, 4 per super-block for the mins
     * of Q4_K and Q5_K, none for Q6_K (its kernel reads the Q8_K bsums) */
    CHECK(words == (size_t)(type == PHI_DT_Q6_K ? 0 : f->block == 32 ? n / 32 : n / 64));
    CHECK(phi_dtype_row_bytes(type, n, &w_row) && phi_dtype_row_bytes(f->act, n, &a_row));
    size_t y_stride = (size_t)rows + 3, group_bytes = PHI_PACK_ROWS * w_row;
    size_t outputs = (size_t)cols * (size_t)rows;
    unsigned char *w = malloc((size_t)rows * w_row), *packed = malloc((size_t)rows * w_row);
    unsigned char *a = malloc((size_t)cols * a_row), *row = malloc(w_row);
    int32_t *sums = malloc((size_t)cols * words * sizeof *sums);
    float *x = malloc((size_t)n * sizeof(float)), *y = malloc((size_t)cols * y_stride * sizeof(float));
    float *want = malloc(outputs * sizeof *want);
    double *mag = malloc(outputs * sizeof *mag);
    for (int r = 0; r < rows; r++)
        gemm_fill_row(type, fill, r, n, w + (size_t)r * w_row);
    for (int c = 0; c < cols; c++) {
        gemm_fill_col(type, fill, c, n, x, a + (size_t)c * a_row);
        phi_packed_act_sums(type, a + (size_t)c * a_row, n, sums + (size_t)c * words);
    }
    int bad = 0;
    for (int g = 0; g < PACKED_MAX_GROUPS; g++) {
        phi_pack_group(type, n, w + g * group_bytes, w_row, packed + g * group_bytes);
        for (int r = 0; r < PHI_PACK_ROWS; r++) {
            phi_unpack_row(type, n, packed + g * group_bytes, r, row);
            bad += memcmp(row, w + ((size_t)g * PHI_PACK_ROWS + (size_t)r) * w_row, w_row) != 0;
        }
    }
    for (int c = 0; c < cols; c++)
        for (int r = 0; r < rows; r++) {
            const unsigned char *wr = w + (size_t)r * w_row, *ac = a + (size_t)c * a_row;
            want[(size_t)c * rows + r] = scalar_k->vec_dot[type](n, wr, ac);
            mag[(size_t)c * rows + r] = k == scalar_k ? 0.0 : block_dot_magnitude(f, nb, wr, ac);
        }
    static const char *const fills[] = {"packed random", "packed extreme", "packed zeros"};
    const float gap = -1234.5f;
    for (int groups = 1; groups <= PACKED_MAX_GROUPS; groups++)
        for (int i = 0; i < ncounts; i++) {
            int case_cols = col_counts[i], case_rows = groups * PHI_PACK_ROWS, case_bad = 0;
            size_t case_stride = (size_t)case_rows + 3;
            for (size_t j = 0; j < (size_t)case_cols * case_stride; j++)
                y[j] = gap;
            k->gemm_packed[type](n, packed, groups, a, a_row, sums, case_cols, y, case_stride);
            for (int c = 0; c < case_cols; c++) {
                for (int r = 0; r < case_rows; r++) {
                    float got = y[(size_t)c * case_stride + (size_t)r];
                    float ref = want[(size_t)c * rows + r];
                    case_bad += k == scalar_k
                                    ? !same_float(got, ref)
                                    : !dot_within_bound(k, f, nb, mag[(size_t)c * rows + r], got,
                                                        ref, fills[fill]);
                }
                for (size_t r = (size_t)case_rows; r < case_stride; r++)
                    case_bad += y[(size_t)c * case_stride + r] != gap;
            }
            if (case_bad)
                fprintf(stderr, "  %s packed %s %s n %lld groups %d cols %d: %d wrong\n",
                        k->name, fills[fill], phi_dtype_name(type), (long long)n, groups,
                        case_cols, case_bad);
            bad += case_bad;
        }
    CHECK(bad == 0);
    free(w);
    free(packed);
    free(a);
    free(row);
    free(sums);
    free(x);
    free(y);
    free(want);
    free(mag);
}

static void test_packed(const phi_kernels *k, uint32_t type)
{
    const int64_t block = format_of(type)->block;
    const int64_t sizes[] = {block, 37 * block}; /* rows of 1 block and of many */
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++)
        for (int fill = GEMM_RANDOM; fill <= GEMM_ZEROS; fill++)
            packed_case(k, type, sizes[s], (enum gemm_fill)fill);
}

/* ---- quantize_act: byte-identical ------------------------------------ */

static void cmp_quantize(const phi_kernels *k, uint32_t act, const float *x, int64_t n,
                         const char *what)
{
    size_t bytes = 0;
    CHECK(phi_dtype_row_bytes(act, n, &bytes));
    unsigned char *got = malloc(bytes), *want = malloc(bytes);
    memset(got, 0xa5, bytes);
    memset(want, 0x5a, bytes);
    k->quantize_act[act](x, got, n);
    scalar_k->quantize_act[act](x, want, n);
    bool ok = memcmp(got, want, bytes) == 0;
    CHECK(ok);
    if (!ok)
        fprintf(stderr, "  %s quantize_act type %u %s n %lld differs\n", k->name, act, what,
                (long long)n);
    free(got);
    free(want);
}

/* Blocks whose scale has no finite inverse, with what they must give:
 * tiny amax (1/d overflows: amax below ~3.7e-37),
 * amax where d = amax/127 is a float subnormal but 1/d is finite, a NaN,
 * an inf, and FLT_MAX (d finite, the fp16 d overflows). */
static void edge_block(float *x, int n, int kind)
{
    for (int j = 0; j < n; j++)
        x[j] = rand_f();
    float tiny[] = {1e-38f, 3e-37f, 1e-40f, 1e-45f};
    switch (kind) {
    case 0: case 1: case 2: case 3:
        for (int j = 0; j < n; j++)
            x[j] *= tiny[kind];
        break;
    case 4: x[n / 3] = NAN; break;
    case 5: x[n / 2] = -INFINITY; break;
    case 6: x[0] = INFINITY; x[1] = NAN; break;
    case 7: x[n - 1] = -FLT_MAX; break;
    default: /* d subnormal, 1/d finite: amax 1e-36 */
        for (int j = 0; j < n; j++)
            x[j] *= 1e-36f;
        break;
    }
}

enum { N_EDGE_KINDS = 9 };

static void test_quantize(const phi_kernels *k, uint32_t act)
{
    const int block = (int)phi_dtype_get(act)->block;
    static const int64_t nblocks[] = {1, 2, 7, 33};
    float *x = malloc(33 * 256 * sizeof(float));
    for (size_t s = 0; s < sizeof nblocks / sizeof *nblocks; s++) {
        int64_t nb = nblocks[s], n = nb * block;
        for (int64_t i = 0; i < n; i++)
            x[i] = rand_f() * ldexpf(1.0f, rand_int(-20, 20));
        cmp_quantize(k, act, x, n, "random");
        memset(x, 0, (size_t)n * sizeof(float));
        cmp_quantize(k, act, x, n, "zero");
        /* halfway cases: amax 127 makes the scale exactly 1, so k + 0.5
         * must round away from zero; 0.49999997 must not round up */
        for (int64_t i = 0; i < n; i++) {
            int r = (int)(i % block);
            x[i] = r == 0 ? 127.0f
                 : r == 1 ? -0.49999997f
                 : r == 2 ? 0.49999997f
                          : (float)rand_int(-126, 125) + (r % 2 ? 0.5f : -0.5f);
        }
        cmp_quantize(k, act, x, n, "ties");
        /* tiny (subnormal fp16 scale, 1/d still finite) and huge (the fp16
         * scale overflows to inf) */
        for (int64_t i = 0; i < n; i++)
            x[i] = rand_f() * (i / block % 2 ? 1e-30f : 3e16f);
        cmp_quantize(k, act, x, n, "extreme");
        /* signed zeros and one element per block alone carrying the max */
        for (int64_t i = 0; i < n; i++)
            x[i] = i % block == (i / block) % block ? -5.0f : (i % 2 ? -0.0f : 0.0f);
        cmp_quantize(k, act, x, n, "sparse");
        /* a different edge case in each block */
        for (int64_t b = 0; b < nb; b++)
            edge_block(x + b * block, block, (int)((b + s) % N_EDGE_KINDS));
        cmp_quantize(k, act, x, n, "edges");
    }
    free(x);
}

/* The scalar quantizers on the edge blocks, against what they must give
 * (the SIMD ones are held to the same bytes above): well-defined int8s in
 * -127..127, a zero block where 1/d is not finite, a NaN scale for a NaN,
 * and the exact sums. */
static void test_quantize_edges(void)
{
    static const uint32_t acts[] = {PHI_DT_Q8_0, PHI_DT_Q8_1, PHI_DT_Q8_K};
    float x[256];
    union {
        phi_block_q8_0 q8_0;
        phi_block_q8_1 q8_1;
        phi_block_q8_k q8_k;
    } out;
    for (size_t t = 0; t < 3; t++) {
        uint32_t act = acts[t];
        int block = (int)phi_dtype_get(act)->block;
        for (int kind = 0; kind < N_EDGE_KINDS; kind++) {
            edge_block(x, block, kind);
            memset(&out, 0x5a, sizeof out);
            scalar_k->quantize_act[act](x, &out, block);
            const int8_t *q = act_qs(act, &out, 0);
            float d = act_scale(act, &out, 0);
            bool has_nan = kind == 4 || kind == 6, zeros = kind <= 6;
            bool ok = has_nan ? isnan(d) : kind == 5 ? isinf(d) : !isnan(d);
            int sum = 0, nonzero = 0;
            for (int j = 0; j < block; j++) {
                ok &= q[j] != -128;
                sum += q[j];
                nonzero += q[j] != 0;
            }
            if (kind == 7) /* FLT_MAX: it maps to -127, the O(1) rest to 0 */
                ok &= q[block - 1] == -127 && nonzero == 1;
            else
                ok &= zeros ? nonzero == 0 : nonzero > block / 2;
            if (act == PHI_DT_Q8_K) {
                int bsum = 0;
                for (int g = 0; g < 16; g++)
                    bsum += out.q8_k.bsums[g];
                ok &= bsum == sum && (kind != 8 || (d > 0 && d < FLT_MIN));
            }
            if (act == PHI_DT_Q8_1 && !has_nan && kind != 5)
                ok &= phi_fp16_to_f32(out.q8_1.s) == phi_fp16_to_f32(phi_f32_to_fp16(d * (float)sum));
            CHECK(ok);
            if (!ok)
                fprintf(stderr, "  scalar quantize_act %s edge kind %d: d %g\n",
                        phi_dtype_name(act), kind, d);
        }
    }
}

/* ---- float helpers: bit-identical ------------------------------------ */

static void test_axpy_scale(const phi_kernels *k)
{
    static const int64_t sizes[] = {1, 3, 31, 33, 63, 255, 257, 1001};
    enum { MAX = 1001 };
    float x[MAX], y0[MAX], yk[MAX], ys[MAX];
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        int64_t n = sizes[s];
        for (int64_t i = 0; i < n; i++) {
            x[i] = rand_f() * 10.0f;
            y0[i] = rand_f();
        }
        x[n / 2] = INFINITY; /* inf and NaN lanes, in a body or a tail */
        x[n - 1] = NAN;
        y0[0] = 3e38f;
        float alpha = n % 2 ? 0.37f : -1e3f;
        bool same = true;
        if (k->axpy_f32 != scalar_k->axpy_f32) {
            memcpy(yk, y0, sizeof y0);
            memcpy(ys, y0, sizeof y0);
            k->axpy_f32(n, alpha, x, yk);
            scalar_k->axpy_f32(n, alpha, x, ys);
            for (int64_t i = 0; i < MAX; i++) /* also: nothing written past n */
                same &= same_float(yk[i], ys[i]);
            CHECK(same);
        }
        if (k->scale_f32 != scalar_k->scale_f32) {
            memcpy(yk, x, sizeof x);
            memcpy(ys, x, sizeof x);
            k->scale_f32(n, alpha, yk);
            scalar_k->scale_f32(n, alpha, ys);
            same = true;
            for (int64_t i = 0; i < MAX; i++)
                same &= same_float(yk[i], ys[i]);
            CHECK(same);
        }
    }
}

/* ---- element-wise ----------------------------------------------------- */

static void test_elementwise(const phi_kernels *k)
{
    static const int64_t sizes[] = {1, 3, 7, 8, 9, 31, 33, 255, 1001};
    /* overflow and underflow of e^-g, fp16's limits (65504 is the largest
     * half, 65520 rounds to inf, 2^-24 is the smallest subnormal), NaN, inf */
    static const float edges[] = {INFINITY, -INFINITY, NAN, -0.0f, 88.5f, -88.5f, 88.75f,
                                  -88.75f, 87.5f, -87.5f, 65504.0f, 65519.0f, 65520.0f,
                                  -1e10f, 5.96e-8f, 2.98e-8f, 6.1e-5f, 1e-30f};
    enum { MAX = 1001, N_EDGES = sizeof edges / sizeof edges[0] };
    float g[MAX], u[MAX], yk[MAX + 1], ys[MAX + 1];
    uint16_t hk[MAX + 1], hs[MAX + 1];
    double worst = 0.0;
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        int64_t n = sizes[s];
        for (int64_t i = 0; i < n; i++) {
            g[i] = i % 3 == 1 ? edges[(i / 3 + s) % N_EDGES] : rand_f() * 40.0f;
            u[i] = rand_f() * 10.0f;
        }
        u[n / 2] = NAN;
        yk[n] = ys[n] = 7.0f; /* nothing written past n */
        hk[n] = hs[n] = 0x1234;
        if (k->f32_to_f16 != scalar_k->f32_to_f16) {
            k->f32_to_f16(n, g, hk);
            scalar_k->f32_to_f16(n, g, hs);
            bool same = hk[n] == hs[n];
            for (int64_t i = 0; i < n; i++)
                same &= isnan(g[i]) ? (hk[i] & 0x7c00) == 0x7c00 && (hk[i] & 0x3ff) != 0
                                    : hk[i] == hs[i];
            CHECK(same);
        }
        if (k->swiglu_f32 != scalar_k->swiglu_f32) {
            k->swiglu_f32(n, g, u, yk);
            scalar_k->swiglu_f32(n, g, u, ys);
            bool ok = yk[n] == ys[n];
            for (int64_t i = 0; i < n; i++) {
                if (!isfinite(ys[i]) || !isfinite(yk[i])) {
                    ok &= same_float(yk[i], ys[i]);
                    continue;
                }
                double err = fabs((double)yk[i] - ys[i]), tol = 8.0 * U * fabs(ys[i]) + 1e-35;
                worst = fmax(worst, err / tol);
                ok &= err <= tol;
            }
            CHECK(ok);
        }
    }
    if (k->swiglu_f32 != scalar_k->swiglu_f32)
        printf("level %s: swiglu_f32 within %.3f of its tolerance\n", k->name, worst);
}

/* ---- dequant: exact at every level ----------------------------------- */

static void test_dequant(const phi_kernels *k)
{
    enum { N = 32 * 33 };
    unsigned char src[N * 4];
    float got[N], want[N];
    for (uint32_t t = 0; t < PHI_DT_COUNT; t++) {
        CHECK((k->dequant[t] == NULL) == (scalar_k->dequant[t] == NULL));
        if (!k->dequant[t] || !scalar_k->dequant[t])
            continue;
        size_t bytes = 0;
        if (!phi_dtype_row_bytes(t, N, &bytes) || bytes > sizeof src)
            continue;
        for (size_t i = 0; i < bytes; i++)
            src[i] = (unsigned char)rand_u32();
        k->dequant[t](src, got, N);
        scalar_k->dequant[t](src, want, N);
        bool same = true;
        for (int i = 0; i < N; i++)
            same &= same_float(got[i], want[i]);
        CHECK(same);
    }
}

/* ---- attention --------------------------------------------------------
 *
 * Every level, the scalar reference included, against attention computed in
 * double from the same stored K and V values (exact max, then softmax), and
 * each SIMD level against the scalar twin. For one side against the exact
 * output of a head (n positions, S = max_j Σ_i |q_i k_ji|, R = the range of
 * the scores, V = max |v|):
 *   - a float score is within hd·u·S of the exact one, which scales its
 *     weight e^(s - max) by at most e^(hd·u·S);
 *   - s - max is rounded (u·R), exp is within 2 ulp, and each raise of the
 *     running max rescales what came before by a rounded exp (at most
 *     u·(R + 3n) over all raises);
 *   - the sums of n weights and of n weighted values add n·u each, the
 *     final division 2u;
 *   - weights off by a relative ε move a weighted mean of values bounded by
 *     V by at most 2εV.
 * So |o - exact| <= tol = 2·V·u·((hd + 2)·S + 2R + 5n + 16), and two levels
 * agree within 2·tol. */

static double attn_worst; /* largest error / tolerance of the level being tested */

enum attn_scores { SCORES_NORMAL, SCORES_HUGE, SCORES_TINY, SCORES_RISING };

typedef struct {
    uint32_t type;        /* PHI_DT_F32 or PHI_DT_F16 */
    int64_t hd, n_pos;
    int32_t n_q;
    size_t stride;        /* a row and 3 values of NaN padding, except after the last row */
    float *q;             /* n_q rows of hd */
    unsigned char *k, *v;
} attn_data;

static size_t kv_size(uint32_t type)
{
    return type == PHI_DT_F16 ? sizeof(uint16_t) : sizeof(float);
}

static float kv_get(const attn_data *d, const unsigned char *rows, int64_t p, int64_t i)
{
    const unsigned char *r = rows + p * d->stride;
    return d->type == PHI_DT_F16 ? phi_fp16_to_f32(phi_load_u16(r + 2 * i))
                                 : ((const float *)r)[i];
}

static void kv_put(const attn_data *d, unsigned char *rows, int64_t p, int64_t i, float x)
{
    unsigned char *r = rows + p * d->stride;
    if (d->type == PHI_DT_F16) {
        uint16_t h = phi_f32_to_fp16(x);
        memcpy(r + 2 * i, &h, 2);
    } else {
        ((float *)r)[i] = x;
    }
}

static double exact_score(const attn_data *d, int32_t h, int64_t p, double *abs_sum)
{
    double s = 0.0, a = 0.0;
    for (int64_t i = 0; i < d->hd; i++) {
        double x = (double)d->q[h * d->hd + i] * kv_get(d, d->k, p, i);
        s += x;
        a += fabs(x);
    }
    if (abs_sum)
        *abs_sum = a;
    return s;
}

static attn_data attn_make(uint32_t type, int64_t hd, int32_t n_q, int64_t n_pos,
                           enum attn_scores scores)
{
    attn_data d = {.type = type, .hd = hd, .n_pos = n_pos, .n_q = n_q};
    d.stride = (size_t)(hd + 3) * kv_size(type);
    size_t bytes = (size_t)(n_pos - 1) * d.stride + (size_t)hd * kv_size(type);
    d.q = malloc((size_t)(n_q * hd) * sizeof(float));
    d.k = malloc(bytes);
    d.v = malloc(bytes);
    for (int64_t p = 0; p < n_pos; p++) {
        for (int64_t i = 0; i < hd + 3; i++) {
            bool pad = i >= hd;
            if (pad && p == n_pos - 1)
                break;
            kv_put(&d, d.k, p, i, pad ? NAN : rand_f());
            kv_put(&d, d.v, p, i, pad ? NAN : rand_f() * 3.0f);
        }
    }
    if (scores == SCORES_RISING) /* K rows along one direction, growing: a new max each row */
        for (int64_t p = 0; p < n_pos; p++)
            for (int64_t i = 0; i < hd; i++)
                kv_put(&d, d.k, p, i, (float)(p + 1) / (float)n_pos * (i % 2 ? 0.5f : -0.25f));
    for (int64_t i = 0; i < n_q * hd; i++)
        d.q[i] = rand_f();
    /* scale each head's query so that its largest |score| is what the case asks for (and,
     * rising, the last score the largest) */
    static const double target[] = {3.0, 100.0, 1e-6, 60.0};
    for (int32_t h = 0; h < n_q; h++) {
        double top = 0.0;
        for (int64_t p = 0; p < n_pos; p++)
            top = fmax(top, fabs(exact_score(&d, h, p, NULL)));
        if (scores == SCORES_RISING && exact_score(&d, h, n_pos - 1, NULL) < 0.0)
            top = -top;
        for (int64_t i = 0; i < hd && top != 0.0; i++)
            d.q[h * hd + i] = (float)(d.q[h * hd + i] * target[scores] / top);
    }
    return d;
}

static void attn_free(attn_data *d)
{
    free(d->q);
    free(d->k);
    free(d->v);
}

/* The exact output of head h over positions [0, n_pos), and its tolerance. */
static double attn_exact(const attn_data *d, int32_t h, double *out)
{
    double *s = malloc((size_t)d->n_pos * sizeof(double));
    double max = -INFINITY, min = INFINITY, big = 0.0, vmax = 0.0, total = 0.0;
    for (int64_t p = 0; p < d->n_pos; p++) {
        double a;
        s[p] = exact_score(d, h, p, &a);
        max = fmax(max, s[p]);
        min = fmin(min, s[p]);
        big = fmax(big, a);
    }
    for (int64_t i = 0; i < d->hd; i++)
        out[i] = 0.0;
    for (int64_t p = 0; p < d->n_pos; p++) {
        double w = exp(s[p] - max);
        total += w;
        for (int64_t i = 0; i < d->hd; i++) {
            double v = kv_get(d, d->v, p, i);
            out[i] += w * v;
            vmax = fmax(vmax, fabs(v));
        }
    }
    for (int64_t i = 0; i < d->hd; i++)
        out[i] /= total;
    free(s);
    return 2.0 * vmax * U *
           ((double)(d->hd + 2) * big + 2.0 * (max - min) + 5.0 * (double)d->n_pos + 16.0);
}

/* The kernel over [0, n_pos), in one call or continued at `split`;
 * out = acc / sum per head. */
static void attn_run(const phi_kernels *k, const attn_data *d, int64_t split, float *out)
{
    float *max = malloc((size_t)d->n_q * sizeof(float));
    float *sum = malloc((size_t)d->n_q * sizeof(float));
    for (int32_t h = 0; h < d->n_q; h++) {
        max[h] = -INFINITY;
        sum[h] = 0.0f;
    }
    memset(out, 0, (size_t)(d->n_q * d->hd) * sizeof(float));
    phi_attn_fn attn = k->attn[d->type];
    if (split > 0)
        attn(d->hd, d->n_q, d->q, d->k, d->v, d->stride, split, max, sum, out);
    attn(d->hd, d->n_q, d->q, d->k + split * d->stride, d->v + split * d->stride, d->stride,
         d->n_pos - split, max, sum, out);
    for (int32_t h = 0; h < d->n_q; h++)
        for (int64_t i = 0; i < d->hd; i++)
            out[h * d->hd + i] /= sum[h];
    free(max);
    free(sum);
}

static const char *const score_names[] = {"normal", "huge", "tiny", "rising"};

static void attn_case(const phi_kernels *k, uint32_t type, int64_t hd, int32_t n_q,
                      int64_t n_pos, enum attn_scores scores)
{
    attn_data d = attn_make(type, hd, n_q, n_pos, scores);
    size_t n_out = (size_t)(n_q * hd);
    float *got = malloc(n_out * sizeof(float)), *cont = malloc(n_out * sizeof(float));
    float *want = malloc(n_out * sizeof(float));
    double *exact = malloc((size_t)hd * sizeof(double));
    attn_run(k, &d, 0, got);
    attn_run(k, &d, n_pos / 3, cont); /* the state carries over between calls */
    bool vs_scalar = k->attn[type] != scalar_k->attn[type];
    if (vs_scalar)
        attn_run(scalar_k, &d, 0, want);
    bool ok = true;
    double worst = 0.0, tol = 0.0;
    for (int32_t h = 0; h < n_q; h++) {
        tol = attn_exact(&d, h, exact);
        for (int64_t i = 0; i < hd; i++) {
            size_t at = (size_t)(h * hd + i);
            double e = fmax(fabs(got[at] - exact[i]), fabs(cont[at] - exact[i]));
            if (vs_scalar)
                e = fmax(e, fabs((double)got[at] - want[at]) / 2.0);
            worst = fmax(worst, e / tol);
            attn_worst = fmax(attn_worst, e / tol);
            ok &= e <= tol; /* false for NaN */
            if (n_pos == 1) /* one position: its V row, exactly */
                ok &= got[at] == kv_get(&d, d.v, 0, i);
        }
    }
    CHECK(ok);
    if (!ok)
        fprintf(stderr, "  %s attn %s hd %lld n_q %d n_pos %lld %s: error %.3g x tol (%.3g)\n",
                k->name, type == PHI_DT_F16 ? "f16" : "f32", (long long)hd, (int)n_q,
                (long long)n_pos, score_names[scores], worst, tol);

    /* a NaN score (NaN in a K row) makes every output of every head NaN */
    kv_put(&d, d.k, n_pos / 2, hd - 1, NAN);
    attn_run(k, &d, 0, got);
    bool all_nan = true;
    for (size_t i = 0; i < n_out; i++)
        all_nan &= isnan(got[i]);
    CHECK(all_nan);
    free(got);
    free(cont);
    free(want);
    free(exact);
    attn_free(&d);
}

static void test_attention(const phi_kernels *k)
{
    static const int64_t head_dims[] = {3, 20, 96, 128, 200};
    static const int32_t groups[] = {1, 3, 4, 5, 9};
    static const int64_t positions[] = {1, 2, 7, 8, 9, 15, 16, 17, 100, 1000};
    static const uint32_t types[] = {PHI_DT_F32, PHI_DT_F16};
    for (size_t t = 0; t < 2; t++) {
        CHECK(k->attn[types[t]] != NULL);
        if (!k->attn[types[t]])
            continue;
        for (size_t a = 0; a < sizeof head_dims / sizeof *head_dims; a++)
            for (size_t b = 0; b < sizeof groups / sizeof *groups; b++)
                for (size_t c = 0; c < sizeof positions / sizeof *positions; c++)
                    for (int sc = SCORES_NORMAL; sc <= SCORES_RISING; sc++) {
                        if (positions[c] == 1000 && (groups[b] != 5 || (head_dims[a] != 20 &&
                                                                     head_dims[a] != 128)))
                            continue; /* the long range needs a few shapes, not all */
                        attn_case(k, types[t], head_dims[a], groups[b], positions[c],
                                  (enum attn_scores)sc);
                    }
    }
}

/* phi_op_attention, which deals (KV head, token, chunk) tasks to a pool and
 * merges a decode step's chunks, against the exact causal attention of
 * every token and head, with 1 to 4 threads. */
static void op_case(const phi_kernels *k, phi_pool *pool, uint32_t type, int32_t n_head_kv,
                    int32_t group, int64_t hd, int32_t pos0, int32_t n, float q_scale)
{
    int32_t n_head = n_head_kv * group, n_ctx = pos0 + n + 5;
    /* every KV head's rows, each a valid attn_data over the whole cache */
    attn_data *heads = malloc((size_t)n_head_kv * sizeof *heads);
    for (int32_t g = 0; g < n_head_kv; g++)
        heads[g] = attn_make(type, hd, 1, n_ctx, SCORES_NORMAL);
    size_t row = (size_t)hd * kv_size(type), head_bytes = (size_t)n_ctx * row;
    unsigned char *kc = malloc((size_t)n_head_kv * head_bytes);
    unsigned char *vc = malloc((size_t)n_head_kv * head_bytes);
    for (int32_t g = 0; g < n_head_kv; g++)
        for (int32_t p = 0; p < n_ctx; p++) {
            memcpy(kc + g * head_bytes + p * row, heads[g].k + p * heads[g].stride, row);
            memcpy(vc + g * head_bytes + p * row, heads[g].v + p * heads[g].stride, row);
        }
    size_t q_stride = (size_t)(n_head * hd + 7), out_stride = (size_t)(n_head * hd + 5);
    float *q = malloc((size_t)n * q_stride * sizeof(float));
    float *out = malloc((size_t)n * out_stride * sizeof(float));
    float *partials = malloc(phi_op_attention_scratch(n_head, (int32_t)hd) * sizeof(float));
    for (size_t i = 0; i < (size_t)n * q_stride; i++)
        q[i] = rand_f() * q_scale;
    phi_attn_op op = {
        .n_head = n_head, .n_head_kv = n_head_kv, .head_dim = (int32_t)hd, .kv_type = type,
        .k = kc, .v = vc, .head_bytes = head_bytes, .row_bytes = row,
        .q = q, .q_stride = q_stride, .out = out, .out_stride = out_stride,
        .n = n, .pos0 = pos0, .partials = partials,
    };
    atomic_int stop = 0;
    phi_runtime rt = {.k = k, .pool = pool, .interrupt = &stop};
    phi_op_attention(&rt, &op);

    double *exact = malloc((size_t)hd * sizeof(double));
    bool ok = true;
    for (int32_t t = 0; t < n; t++)
        for (int32_t h = 0; h < n_head; h++) {
            attn_data view = heads[h / group];
            view.q = q + t * q_stride + (size_t)h * hd;
            view.n_pos = pos0 + t + 1;
            view.stride = row;
            view.k = kc + (size_t)(h / group) * head_bytes;
            view.v = vc + (size_t)(h / group) * head_bytes;
            double tol = attn_exact(&view, 0, exact);
            for (int64_t i = 0; i < hd; i++) {
                double e = fabs(out[t * out_stride + (size_t)h * hd + i] - exact[i]);
                attn_worst = fmax(attn_worst, e / tol);
                ok &= e <= tol;
            }
        }
    CHECK(ok);
    if (!ok)
        fprintf(stderr,
                "  %s attention op %s threads %d kv heads %d group %d hd %lld pos0 %d n %d\n",
                k->name, type == PHI_DT_F16 ? "f16" : "f32", phi_pool_size(pool), (int)n_head_kv,
                (int)group, (long long)hd, (int)pos0, (int)n);
    for (int32_t g = 0; g < n_head_kv; g++)
        attn_free(&heads[g]);
    free(heads);
    free(kc);
    free(vc);
    free(q);
    free(out);
    free(partials);
    free(exact);
}

static void test_attention_op(const phi_kernels *k)
{
    phi_mem mem;
    phi_mem_init_default(&mem);
    for (int threads = 1; threads <= 4; threads++) {
        phi_pool *pool;
        phi_err err;
        if (phi_pool_new(&mem, threads, &pool, &err) != PHI_OK) {
            CHECK(!"pool");
            return;
        }
        static const int32_t pos0s[] = {0, 14, 15, 31, 47, 63, 200};
        for (uint32_t type = PHI_DT_F32; type <= PHI_DT_F16; type++) {
            for (size_t i = 0; i < sizeof pos0s / sizeof *pos0s; i++) {
                op_case(k, pool, type, 1, 4, 32, pos0s[i], 1, 0.5f); /* decode */
                op_case(k, pool, type, 2, 3, 20, pos0s[i], 1, 0.5f);
                op_case(k, pool, type, 3, 5, 96, pos0s[i], 1, 0.5f);
                op_case(k, pool, type, 1, 10, 24, pos0s[i], 1, 0.5f); /* more than 8 query heads */
            }
            /* scores of several hundred: the chunks' maxima differ by more than the
             * float exp range, so the merge must rescale to the largest */
            op_case(k, pool, type, 1, 4, 32, 200, 1, 100.0f);
            op_case(k, pool, type, 2, 3, 20, 0, 9, 0.5f); /* prefill */
            op_case(k, pool, type, 3, 4, 36, 20, 13, 0.5f);
            op_case(k, pool, type, 1, 10, 24, 5, 6, 0.5f);
        }
        phi_pool_free(pool);
    }
}

/* Fails, naming the slot, where a SIMD level still holds the scalar kernel. */
static void check_own(const phi_kernels *k, bool own, const char *slot, uint32_t t)
{
    CHECK(own);
    if (!own)
        fprintf(stderr, "  %s %s %s: the scalar kernel, not the level's own\n", k->name, slot,
                phi_dtype_name(t));
}

static void print_dot_worst(const phi_kernels *k, const char *slot, uint32_t t)
{
    printf("  %s %s %s: worst |simd - scalar| %.4f of its bound\n", k->name, slot,
           phi_dtype_name(t), dot_worst);
}

static int test_level(const phi_kernels *k)
{
    int slots = 0;
    for (uint32_t t = 0; t < PHI_DT_COUNT; t++) {
        /* a SIMD table never loses a type the scalar one has */
        CHECK(!scalar_k->quantize_act[t] || k->quantize_act[t]);
        CHECK(!scalar_k->vec_dot[t] || k->vec_dot[t]);
        /* quantize_act[F32] is a copy, nothing for an instruction set to do */
        if (scalar_k->quantize_act[t] && t != PHI_DT_F32) {
            check_own(k, k->quantize_act[t] != scalar_k->quantize_act[t], "quantize_act", t);
            test_quantize(k, t);
            slots++;
        }
        if (scalar_k->vec_dot[t]) {
            check_own(k, k->vec_dot[t] != scalar_k->vec_dot[t], "vec_dot", t);
            dot_worst = 0.0;
            if (t == PHI_DT_F32 || t == PHI_DT_F16 || t == PHI_DT_BF16)
                test_float_dot(k, t, false);
            else if (format_of(t))
                test_block_dot(k, format_of(t));
            else
                CHECK(!"vec_dot slot without a test");
            print_dot_worst(k, "vec_dot", t);
            slots++;
        }
        /* A type a level packs has the level's own kernel (the scalar slot
         * is only the reference), and only packed types are packed. */
        if (k->pack[t]) {
            CHECK(scalar_k->gemm_packed[t] != NULL);
            check_own(k, k->gemm_packed[t] != scalar_k->gemm_packed[t], "gemm_packed", t);
        }
        if (k->gemm_packed[t] != scalar_k->gemm_packed[t]) {
            dot_worst = 0.0;
            test_packed(k, t);
            print_dot_worst(k, "gemm_packed", t);
            slots++;
        }
        if (k->gemm[t] != scalar_k->gemm[t]) {
            CHECK(k->vec_dot[t] != NULL);
            dot_worst = 0.0;
            if (k->vec_dot[t])
                test_gemm(k, t);
            print_dot_worst(k, "gemm", t);
            slots++;
        }
    }
    check_own(k, k->dot_f32 != scalar_k->dot_f32, "dot_f32", PHI_DT_F32);
    dot_worst = 0.0;
    test_float_dot(k, PHI_DT_F32, true);
    print_dot_worst(k, "dot_f32", PHI_DT_F32);
    check_own(k, k->axpy_f32 != scalar_k->axpy_f32, "axpy_f32", PHI_DT_F32);
    check_own(k, k->scale_f32 != scalar_k->scale_f32, "scale_f32", PHI_DT_F32);
    check_own(k, k->f32_to_f16 != scalar_k->f32_to_f16, "f32_to_f16", PHI_DT_F32);
    check_own(k, k->swiglu_f32 != scalar_k->swiglu_f32, "swiglu_f32", PHI_DT_F32);
    check_own(k, k->attn[PHI_DT_F32] != scalar_k->attn[PHI_DT_F32], "attn", PHI_DT_F32);
    check_own(k, k->attn[PHI_DT_F16] != scalar_k->attn[PHI_DT_F16], "attn", PHI_DT_F16);
    slots += 7;
    test_axpy_scale(k);
    test_elementwise(k);
    test_dequant(k);
    test_attention(k);
    test_attention_op(k);
    return slots;
}

/* What a new context reports as its kernel with the level left at AUTO
 * (PHI4_KERNEL applies), against `want`: a table name, or "unsupported" /
 * "invalid" for the error the lookup must give. NULL wants only that the
 * lookup succeeds (PHI4_KERNEL is unset or names a level the CPU has). */
static void check_auto(const char *want)
{
    phi_ctx *ctx;
    CHECK_EQ(phi_ctx_new(&ctx), PHI_OK);
    char name[32] = "";
    size_t n = 0;
    int32_t rc = phi_info_str(ctx, PHI_INFO_KERNEL_NAME, name, sizeof name, &n);
    int32_t want_rc = !want                          ? PHI_OK
                    : !strcmp(want, "unsupported") ? PHI_E_UNSUPPORTED
                    : !strcmp(want, "invalid")     ? PHI_E_INVALID_ARG
                                                   : PHI_OK;
    CHECK_EQ(rc, want_rc);
    if (rc == PHI_OK) {
        CHECK(!want || !strcmp(name, want));
        printf("auto level: %s\n", name);
    } else {
        const char *env = getenv("PHI4_KERNEL");
        CHECK(env && strstr(phi_errmsg(ctx), env)); /* the message names the level asked for */
        printf("auto level: error %d: %s\n", (int)rc, phi_errmsg(ctx));
    }
    phi_ctx_free(ctx);
}

/* test_kernels [--levels NAME,NAME...] [--auto NAME] [--choice-only]
 *   --levels       the SIMD levels this build must offer on this CPU, exactly
 *                  (tests/meson.build knows them where it picks the CPU: qemu)
 *   --auto         see check_auto; without it the level AUTO takes is only
 *                  printed ("auto level: NAME", which tools/run-tests reads)
 *   --choice-only  the two checks above without comparing the kernels: the
 *                  runs that vary PHI4_KERNEL or the emulated CPU test the
 *                  choice, and one full run per build compares every level */
int main(int argc, char **argv)
{
    const char *want_levels = NULL, *want_auto = NULL;
    bool choice_only = false;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && !strcmp(argv[i], "--levels"))
            want_levels = argv[++i];
        else if (i + 1 < argc && !strcmp(argv[i], "--auto"))
            want_auto = argv[++i];
        else if (!strcmp(argv[i], "--choice-only"))
            choice_only = true;
        else {
            fprintf(stderr,
                    "usage: test_kernels [--levels NAME,NAME...] [--auto NAME] [--choice-only]\n");
            return 2;
        }
    }
    phi_err err;
    if (phi_kernels_get(PHI_KERNEL_SCALAR, &scalar_k, &err) != PHI_OK) {
        fprintf(stderr, "no scalar table: %s\n", err.msg);
        return 1;
    }
    if (!choice_only) {
        test_quantize_edges();
        /* the packed layout and its scalar kernel, against the row kernel */
        for (uint32_t t = 0; t < PHI_DT_COUNT; t++)
            if (scalar_k->gemm_packed[t])
                test_packed(scalar_k, t);
        /* the references themselves, against exact attention */
        test_attention(scalar_k);
        test_attention_op(scalar_k);
        printf("level scalar: attention within %.3f of its tolerance\n", attn_worst);
    }
    char levels[128] = "";
    for (int32_t level = PHI_KERNEL_AVX2; level <= PHI_KERNEL_NEON_DOTPROD; level++) {
        const phi_kernels *k;
        int32_t rc = phi_kernels_get(level, &k, &err);
        if (rc != PHI_OK) {
            CHECK_EQ(rc, PHI_E_UNSUPPORTED);
            continue;
        }
        CHECK_EQ(k->level, level);
        if (!choice_only) {
            attn_worst = 0.0;
            int slots = test_level(k);
            printf("level %s: %d slots of its own, all compared; attention within %.3f of "
                   "its tolerance\n", k->name, slots, attn_worst);
        }
        snprintf(levels + strlen(levels), sizeof levels - strlen(levels), "%s%s",
                 *levels ? "," : "", k->name);
    }
    if (!*levels && !choice_only)
        printf("no SIMD level in this build on this CPU; nothing to compare\n");
    if (want_levels) {
        bool same = !strcmp(levels, want_levels);
        CHECK(same);
        if (!same)
            fprintf(stderr, "  levels available: '%s', expected '%s'\n", levels, want_levels);
    }
    check_auto(want_auto);
    return check_report("test_kernels");
}
