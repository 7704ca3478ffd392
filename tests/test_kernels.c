/* Every SIMD kernel against its scalar twin (lib/kernels/scalar.c), for every
 * kernel level this build and CPU have. A slot is tested when its pointer
 * differs from the scalar table's; dequant is compared at every level.
 *
 * Tolerances. u = 2^-24 (f32 unit roundoff).
 * - quantize_act, dequant, axpy_f32, scale_f32: exact (bytes / bits). The
 *   SIMD versions do the same IEEE operations per element in the same order.
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
 *   and a zero partial sum turns inf into NaN. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kernels/fp16.h"
#include "kernels/kernels.h"
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

/* One comparison of a float dot; dot == NULL means vec_dot[type]. */
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
    double mag = 0.0;
    for (int64_t i = 0; i < n; i++)
        mag += fabs((double)weight_value(type, w, i) * a[i]);
    if (!isfinite(mag) || isnan(want)) {
        bool ok = isnan(want) ? isnan(got) : same_float(got, want);
        CHECK(ok);
        if (!ok)
            fprintf(stderr, "  %s %s type %u n %lld: got %g want %g\n", k->name, what, type,
                    (long long)n, got, want);
        return;
    }
    double tol = 2.0 * (double)(n + 1) * U * mag;
    bool ok = fabs((double)got - want) <= tol;
    CHECK(ok);
    if (!ok)
        fprintf(stderr, "  %s %s type %u n %lld: got %.9g want %.9g tol %.3g\n", k->name, what,
                type, (long long)n, got, want, tol);
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
        /* extremes of the weight format: largest finite half / bf16 and
         * subnormals, alternating, against small activations */
        for (int64_t i = 0; i < n; i++) {
            switch (i % 4) {
            case 0: set_weight_bits(type, wbuf, i, 0x7bff, 3.0e38f); break;  /* 65504 */
            case 1: set_weight_bits(type, wbuf, i, 0x0001, 1.0e-45f); break;  /* min subnormal */
            case 2: set_weight_bits(type, wbuf, i, 0x83ff, -1.1e-38f); break; /* -max subnormal */
            default: set_weight_bits(type, wbuf, i, 0xfbff, -3.0e38f); break;
            }
            a[i] = rand_f() * (type == PHI_DT_F32 ? 1e-4f : 1.0f); /* keep Σ|w·a| finite */
        }
        if (type == PHI_DT_BF16) /* 0x7bff as bf16 is 2.6e36; keep the sum finite */
            for (int64_t i = 0; i < n; i++)
                a[i] *= 1e-3f;
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
static void cmp_block_dot(const phi_kernels *k, const block_format *f, int64_t nb,
                          const unsigned char *w, const void *a, const char *what)
{
    int64_t n = nb * f->block;
    float got = k->vec_dot[f->type](n, w, a);
    float want = scalar_k->vec_dot[f->type](n, w, a);
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
    bool ok;
    double tol = 0.0;
    if (isnan(want) && isfinite(mag))
        ok = isnan(got);
    else if (!isfinite(mag))
        ok = !isfinite(got) && !isfinite(want);
    else {
        tol = 2.0 * (double)(18 * nb + 16) * U * mag;
        ok = fabs((double)got - want) <= tol;
    }
    CHECK(ok);
    if (!ok)
        fprintf(stderr, "  %s vec_dot %s type %s nb %lld: got %.9g want %.9g tol %.3g\n",
                k->name, what, phi_dtype_name(f->type), (long long)nb, got, want, tol);
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

        /* extremes: fp16 fields at ±65504 and ± the smallest subnormal by
         * block, quants and sub-scales all at their largest or smallest bit
         * patterns, activations at ±127 with unit and tiny scales */
        static const uint16_t halves[] = {0x7bff, 0x0001, 0xfbff, 0x8001, 0x3c00};
        for (int pattern = 0; pattern < 4; pattern++) {
            for (int64_t b = 0; b < nb; b++) {
                unsigned char *blk = w + b * bytes;
                memset(blk, pattern & 1 ? 0x00 : 0xff, bytes);
                if (pattern & 2)
                    memset(blk + f->quant_lo, b % 2 ? 0x00 : 0xff, (size_t)(f->quant_hi - f->quant_lo));
                for (int h = 0; h < 2; h++)
                    if (f->halves[h] >= 0)
                        set_half(blk, f->halves[h], halves[(b + 2 * h + pattern) % 5]);
                int8_t *q = act_qs(f->act, a, b);
                for (int j = 0; j < f->block; j++)
                    q[j] = (int8_t)(((j + b + pattern) % 3 == 0) ? -127 : 127);
                set_act_scale(f->act, a, b, b % 2 ? 0x1p-14f : 1.0f);
            }
            fix_act_sums(f->act, a, nb);
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

static int test_level(const phi_kernels *k)
{
    int slots = 0;
    for (uint32_t t = 0; t < PHI_DT_COUNT; t++) {
        /* a SIMD table never loses a type the scalar one has */
        CHECK(!scalar_k->quantize_act[t] || k->quantize_act[t]);
        CHECK(!scalar_k->vec_dot[t] || k->vec_dot[t]);
        if (k->quantize_act[t] != scalar_k->quantize_act[t] && t != PHI_DT_F32) {
            test_quantize(k, t);
            slots++;
        }
        if (k->vec_dot[t] != scalar_k->vec_dot[t]) {
            if (t == PHI_DT_F32 || t == PHI_DT_F16 || t == PHI_DT_BF16)
                test_float_dot(k, t, false);
            else if (format_of(t))
                test_block_dot(k, format_of(t));
            else
                CHECK(!"vec_dot slot without a test");
            slots++;
        }
        CHECK(k->gemm[t] == scalar_k->gemm[t]); /* no SIMD gemm yet: add its test first */
    }
    if (k->dot_f32 != scalar_k->dot_f32) {
        test_float_dot(k, PHI_DT_F32, true);
        slots++;
    }
    slots += (k->axpy_f32 != scalar_k->axpy_f32) + (k->scale_f32 != scalar_k->scale_f32);
    test_axpy_scale(k);
    test_dequant(k);
    return slots;
}

int main(void)
{
    phi_err err;
    if (phi_kernels_get(PHI_KERNEL_SCALAR, &scalar_k, &err) != PHI_OK) {
        fprintf(stderr, "no scalar table: %s\n", err.msg);
        return 1;
    }
    test_quantize_edges();
    int tested = 0;
    for (int32_t level = PHI_KERNEL_AVX2; level <= PHI_KERNEL_NEON_DOTPROD; level++) {
        const phi_kernels *k;
        if (phi_kernels_get(level, &k, &err) != PHI_OK)
            continue;
        int slots = test_level(k);
        printf("level %s: %d slots differ from scalar, all compared\n", k->name, slots);
        CHECK(slots > 0);
        tested++;
    }
    if (!tested)
        printf("no SIMD level in this build on this CPU; nothing to compare\n");
    return check_report("test_kernels");
}
