/* Every SIMD kernel against its scalar twin (lib/kernels/scalar.c), for every
 * kernel level this build and CPU have. A slot is tested when its pointer
 * differs from the scalar table's; dequant is compared at every level. With
 * --levels / --auto (see main) it also checks the dispatcher: which levels
 * exist on this CPU and which one a context takes (PHI4_KERNEL applies).
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

/* ---- block dots (Q8_0, Q4_0 weights; Q8_0 activations) ----------------- */

/* Weight q of element j of block b, and the block's fp16 scale. */
static int block_q(uint32_t type, const void *w, int64_t b, int j)
{
    if (type == PHI_DT_Q8_0)
        return ((const phi_block_q8_0 *)w)[b].qs[j];
    const phi_block_q4_0 *x = (const phi_block_q4_0 *)w + b;
    return j < 16 ? (x->qs[j] & 0x0f) - 8 : (x->qs[j - 16] >> 4) - 8;
}

static uint16_t block_d(uint32_t type, const void *w, int64_t b)
{
    return type == PHI_DT_Q8_0 ? ((const phi_block_q8_0 *)w)[b].d
                               : ((const phi_block_q4_0 *)w)[b].d;
}

static void set_block_d(uint32_t type, void *w, int64_t b, uint16_t d)
{
    if (type == PHI_DT_Q8_0)
        ((phi_block_q8_0 *)w)[b].d = d;
    else
        ((phi_block_q4_0 *)w)[b].d = d;
}

/* Set element j of block b to q (Q4_0: -8..7). */
static void set_block_q(uint32_t type, void *w, int64_t b, int j, int q)
{
    if (type == PHI_DT_Q8_0) {
        ((phi_block_q8_0 *)w)[b].qs[j] = (int8_t)q;
        return;
    }
    uint8_t *p = &((phi_block_q4_0 *)w)[b].qs[j % 16];
    uint8_t nib = (uint8_t)(q + 8);
    *p = j < 16 ? (uint8_t)((*p & 0xf0) | nib) : (uint8_t)((*p & 0x0f) | (nib << 4));
}

static void cmp_block_dot(const phi_kernels *k, uint32_t type, int64_t nb, const void *w,
                          const phi_block_q8_0 *a, const char *what)
{
    int64_t n = nb * 32;
    float got = k->vec_dot[type](n, w, a);
    float want = scalar_k->vec_dot[type](n, w, a);
    double mag = 0.0;
    bool inf_scale = false;
    for (int64_t b = 0; b < nb; b++) {
        double s = fabs((double)phi_fp16_to_f32(block_d(type, w, b)) * phi_fp16_to_f32(a[b].d));
        inf_scale |= isinf(s);
        long isum = 0;
        for (int j = 0; j < 32; j++)
            isum += labs((long)block_q(type, w, b, j) * a[b].qs[j]);
        mag += s * (double)isum;
    }
    bool ok;
    double tol = 0.0;
    if (isnan(want))
        ok = isnan(got);
    else if (inf_scale)
        ok = !isfinite(got) && !isfinite(want);
    else {
        tol = 2.0 * (double)(8 * nb + 16) * U * mag;
        ok = fabs((double)got - want) <= tol;
    }
    CHECK(ok);
    if (!ok)
        fprintf(stderr, "  %s vec_dot %s type %u nb %lld: got %.9g want %.9g tol %.3g\n",
                k->name, what, type, (long long)nb, got, want, tol);
}

static uint16_t rand_scale(void)
{
    return phi_f32_to_fp16(ldexpf(1.0f + rand_f() * 0.5f, rand_int(-12, 4)));
}

static void test_block_dot(const phi_kernels *k, uint32_t type)
{
    static const int64_t nblocks[] = {1, 2, 3, 7, 33, 96, 128};
    enum { MAXB = 128 };
    phi_block_q8_0 *w = calloc(MAXB, sizeof(phi_block_q8_0)); /* big enough for Q4_0 too */
    phi_block_q8_0 *a = calloc(MAXB, sizeof(phi_block_q8_0));
    float *x = malloc(MAXB * 32 * sizeof(float));
    int qmin = type == PHI_DT_Q8_0 ? -128 : -8, qmax = type == PHI_DT_Q8_0 ? 127 : 7;
    for (size_t s = 0; s < sizeof nblocks / sizeof *nblocks; s++) {
        int64_t nb = nblocks[s];
        /* random weights and activations straight from the quantizer */
        for (int64_t b = 0; b < nb; b++) {
            set_block_d(type, w, b, rand_scale());
            for (int j = 0; j < 32; j++)
                set_block_q(type, w, b, j, rand_int(qmin, qmax));
        }
        for (int64_t i = 0; i < nb * 32; i++)
            x[i] = rand_f() * 3.0f;
        scalar_k->quantize_act[PHI_DT_Q8_0](x, a, nb * 32);
        cmp_block_dot(k, type, nb, w, a, "random");

        /* all-zero weight blocks (d and qs) */
        memset(w, 0, MAXB * sizeof(phi_block_q8_0));
        CHECK(k->vec_dot[type](nb * 32, w, a) == 0.0f);

        /* extreme quants: every weight at qmin or qmax against activations
         * at -127 / +127 of the same or opposite sign, so the int sums are
         * as large as they get; largest fp16 scale on one side, smallest
         * subnormal on some blocks */
        for (int64_t b = 0; b < nb; b++) {
            set_block_d(type, w, b, b % 3 == 2 ? 0x0001 : 0x7bff);
            a[b].d = b % 2 ? 0x0400 /* 2^-14 */ : 0x3c00 /* 1 */;
            int pattern = (int)(b % 4);
            for (int j = 0; j < 32; j++) {
                set_block_q(type, w, b, j, pattern < 2 ? qmin : qmax);
                a[b].qs[j] = (int8_t)((pattern % 2) == (j % 2) ? 127 : -127);
            }
        }
        cmp_block_dot(k, type, nb, w, a, "extreme");
        for (int64_t b = 0; b < nb; b++)
            for (int j = 0; j < 32; j++) {
                set_block_q(type, w, b, j, qmin);
                a[b].qs[j] = (int8_t)(b % 2 ? -127 : 127);
            }
        cmp_block_dot(k, type, nb, w, a, "all-min");

        /* non-finite scales in the last block: NaN, then inf */
        for (int64_t b = 0; b < nb; b++) {
            set_block_d(type, w, b, rand_scale());
            for (int j = 0; j < 32; j++) {
                set_block_q(type, w, b, j, rand_int(qmin, qmax));
                a[b].qs[j] = (int8_t)rand_int(-127, 127);
            }
            a[b].d = rand_scale();
        }
        set_block_d(type, w, nb - 1, 0x7e00);
        cmp_block_dot(k, type, nb, w, a, "nan-scale");
        set_block_d(type, w, nb - 1, 0x7c00);
        cmp_block_dot(k, type, nb, w, a, "inf-scale");
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

static void test_quantize(const phi_kernels *k, uint32_t act)
{
    static const int64_t nblocks[] = {1, 2, 7, 33, 128};
    float *x = malloc(128 * 32 * sizeof(float));
    for (size_t s = 0; s < sizeof nblocks / sizeof *nblocks; s++) {
        int64_t nb = nblocks[s], n = nb * 32;
        for (int64_t i = 0; i < n; i++)
            x[i] = rand_f() * ldexpf(1.0f, rand_int(-20, 20));
        cmp_quantize(k, act, x, n, "random");
        memset(x, 0, (size_t)n * sizeof(float));
        cmp_quantize(k, act, x, n, "zero");
        /* halfway cases: amax 127 makes the scale exactly 1, so k + 0.5
         * must round away from zero; 0.49999997 must not round up */
        for (int64_t i = 0; i < n; i++) {
            int r = (int)(i % 32);
            x[i] = r == 0 ? 127.0f
                 : r == 1 ? -0.49999997f
                 : r == 2 ? 0.49999997f
                          : (float)rand_int(-126, 125) + (r % 2 ? 0.5f : -0.5f);
        }
        cmp_quantize(k, act, x, n, "ties");
        /* tiny (subnormal fp16 scale, 1/d still finite) and huge (the fp16
         * scale overflows to inf) */
        for (int64_t i = 0; i < n; i++)
            x[i] = rand_f() * (i / 32 % 2 ? 1e-30f : 3e16f);
        cmp_quantize(k, act, x, n, "extreme");
        /* signed zeros and one element per block alone carrying the max */
        for (int64_t i = 0; i < n; i++)
            x[i] = i % 32 == (i / 32) % 32 ? -5.0f : (i % 2 ? -0.0f : 0.0f);
        cmp_quantize(k, act, x, n, "sparse");
    }
    free(x);
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
            else if (t == PHI_DT_Q8_0 || t == PHI_DT_Q4_0)
                test_block_dot(k, t);
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

/* What a new context reports as its kernel with the level left at AUTO
 * (PHI4_KERNEL applies): a table name, or "unsupported" / "invalid" for the
 * error the lookup must give. */
static void check_auto(const char *want)
{
    phi_ctx *ctx;
    CHECK_EQ(phi_ctx_new(&ctx), PHI_OK);
    char name[32] = "";
    size_t n = 0;
    int32_t rc = phi_info_str(ctx, PHI_INFO_KERNEL_NAME, name, sizeof name, &n);
    int32_t want_rc = !strcmp(want, "unsupported") ? PHI_E_UNSUPPORTED
                    : !strcmp(want, "invalid")     ? PHI_E_INVALID_ARG
                                                   : PHI_OK;
    CHECK_EQ(rc, want_rc);
    if (rc == PHI_OK) {
        CHECK(!strcmp(name, want));
        printf("auto level: %s\n", name);
    } else {
        const char *env = getenv("PHI4_KERNEL");
        CHECK(env && strstr(phi_errmsg(ctx), env)); /* the message names the level asked for */
        printf("auto level: error %d: %s\n", (int)rc, phi_errmsg(ctx));
    }
    phi_ctx_free(ctx);
}

/* test_kernels [--levels NAME,NAME...] [--auto NAME]
 *   --levels  the SIMD levels this build must offer on this CPU, exactly
 *             (tests/meson.build knows them where it picks the CPU: qemu)
 *   --auto    see check_auto */
int main(int argc, char **argv)
{
    const char *want_levels = NULL, *want_auto = NULL;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && !strcmp(argv[i], "--levels"))
            want_levels = argv[++i];
        else if (i + 1 < argc && !strcmp(argv[i], "--auto"))
            want_auto = argv[++i];
        else {
            fprintf(stderr, "usage: test_kernels [--levels NAME,NAME...] [--auto NAME]\n");
            return 2;
        }
    }
    phi_err err;
    if (phi_kernels_get(PHI_KERNEL_SCALAR, &scalar_k, &err) != PHI_OK) {
        fprintf(stderr, "no scalar table: %s\n", err.msg);
        return 1;
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
        int slots = test_level(k);
        printf("level %s: %d slots differ from scalar, all compared\n", k->name, slots);
        CHECK(slots > 0);
        snprintf(levels + strlen(levels), sizeof levels - strlen(levels), "%s%s",
                 *levels ? "," : "", k->name);
    }
    if (!*levels)
        printf("no SIMD level in this build on this CPU; nothing to compare\n");
    if (want_levels) {
        bool same = !strcmp(levels, want_levels);
        CHECK(same);
        if (!same)
            fprintf(stderr, "  levels available: '%s', expected '%s'\n", levels, want_levels);
    }
    if (want_auto)
        check_auto(want_auto);
    return check_report("test_kernels");
}
