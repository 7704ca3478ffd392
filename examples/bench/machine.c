#include "machine.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_X86_FMA 1
#endif

double machine_wall_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- a team of threads, timed from a common start to a common end ------- */

typedef void (*team_fn)(void *arg, int ith, int nth);

/* Members wait for `go` before touching the barriers, so a failure to start
 * every thread can send the started ones home. */
typedef struct {
    team_fn fn;
    void *arg;
    int nth;
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    int go;              /* 0 wait, 1 run, -1 give up */
    pthread_barrier_t start, end;
} team;

typedef struct {
    team *t;
    int ith;
} member;

static void *member_main(void *opaque)
{
    member *m = opaque;
    team *t = m->t;
    pthread_mutex_lock(&t->mutex);
    while (!t->go)
        pthread_cond_wait(&t->cond, &t->mutex);
    int go = t->go;
    pthread_mutex_unlock(&t->mutex);
    if (go < 0)
        return NULL;
    pthread_barrier_wait(&t->start);
    t->fn(t->arg, m->ith, t->nth);
    pthread_barrier_wait(&t->end);
    return NULL;
}

/* Wall seconds for fn to run on nth threads (the caller is thread 0), or a
 * negative value if the threads could not be started. */
static double run_team(int nth, team_fn fn, void *arg)
{
    team t = {.fn = fn, .arg = arg, .nth = nth};
    pthread_t *th = calloc((size_t)nth, sizeof *th);
    member *mem = calloc((size_t)nth, sizeof *mem);
    if (!th || !mem) {
        free(th);
        free(mem);
        return -1;
    }
    pthread_mutex_init(&t.mutex, NULL);
    pthread_cond_init(&t.cond, NULL);
    int started = 1;
    for (; started < nth; started++) {
        mem[started] = (member){&t, started};
        if (pthread_create(&th[started], NULL, member_main, &mem[started]))
            break;
    }
    bool ok = started == nth && !pthread_barrier_init(&t.start, NULL, (unsigned)nth);
    if (ok && pthread_barrier_init(&t.end, NULL, (unsigned)nth)) {
        pthread_barrier_destroy(&t.start);
        ok = false;
    }
    pthread_mutex_lock(&t.mutex);
    t.go = ok ? 1 : -1;
    pthread_cond_broadcast(&t.cond);
    pthread_mutex_unlock(&t.mutex);
    double seconds = -1;
    if (ok) {
        pthread_barrier_wait(&t.start);
        double t0 = machine_wall_seconds();
        fn(arg, 0, nth);
        pthread_barrier_wait(&t.end);
        seconds = machine_wall_seconds() - t0;
    }
    for (int i = 1; i < started; i++)
        pthread_join(th[i], NULL);
    if (ok) {
        pthread_barrier_destroy(&t.start);
        pthread_barrier_destroy(&t.end);
    }
    pthread_mutex_destroy(&t.mutex);
    pthread_cond_destroy(&t.cond);
    free(th);
    free(mem);
    return seconds;
}

/* ---- peak arithmetic throughput ---------------------------------------- */

enum { CHAINS = 12 };

/* kernel runs CHAINS independent chains `iters` steps long; a step of a chain
 * is ops_per_step operations (2 per multiply-add, over all lanes). */
typedef struct {
    long iters;
    double ops_per_step;
    float (*kernel)(long iters);
    volatile float sink;
} peak_job;

#define TWELVE(op) op(0) op(1) op(2) op(3) op(4) op(5) op(6) op(7) op(8) op(9) op(10) op(11)

/* The body every peak kernel shares, over its own INIT(k), STEP(k) and
 * SUM(k): the chains set up, `iters` steps of each, then summed into s (of
 * type T, starting at zero) so that no step is dead code. */
#define RUN_CHAINS(T, zero)                                                                    \
    TWELVE(INIT)                                                                               \
    for (long i = 0; i < iters; i++) {                                                         \
        TWELVE(STEP)                                                                           \
    }                                                                                          \
    T s = zero;                                                                                \
    TWELVE(SUM)

#ifdef HAVE_X86_FMA
__attribute__((target("avx512f"))) static float fma_avx512(long iters)
{
    __m512 mul = _mm512_set1_ps(0.9999999f), add = _mm512_set1_ps(1e-7f);
#define INIT(k) __m512 a##k = _mm512_set1_ps(1.0f + (k) * 1e-3f);
#define STEP(k) a##k = _mm512_fmadd_ps(a##k, mul, add);
#define SUM(k) s = _mm512_add_ps(s, a##k);
    RUN_CHAINS(__m512, _mm512_setzero_ps())
    return _mm512_reduce_add_ps(s);
#undef INIT
#undef STEP
#undef SUM
}

__attribute__((target("avx2,fma"))) static float fma_avx2(long iters)
{
    __m256 mul = _mm256_set1_ps(0.9999999f), add = _mm256_set1_ps(1e-7f);
#define INIT(k) __m256 a##k = _mm256_set1_ps(1.0f + (k) * 1e-3f);
#define STEP(k) a##k = _mm256_fmadd_ps(a##k, mul, add);
#define SUM(k) s = _mm256_add_ps(s, a##k);
    RUN_CHAINS(__m256, _mm256_setzero_ps())
    float out[8];
    _mm256_storeu_ps(out, s);
    return out[0] + out[1] + out[2] + out[3] + out[4] + out[5] + out[6] + out[7];
#undef INIT
#undef STEP
#undef SUM
}

/* The integer dot products the quantized kernels are made of: unsigned times
 * signed bytes, four products into each int32 lane. VNNI does it in one
 * instruction (64 multiply-adds); AVX2 in three (maddubs to int16 pairs,
 * madd with ones to int32, add: 32 multiply-adds). The empty asm makes the
 * operands opaque, so the loop-invariant AVX2 products are not hoisted. */
__attribute__((target("avx512f,avx512bw,avx512vnni"))) static float dot_vnni512(long iters)
{
    __m512i u = _mm512_set1_epi8(3), w = _mm512_set1_epi8(-2);
#define INIT(k) __m512i s##k = _mm512_set1_epi32(k);
#define STEP(k) s##k = _mm512_dpbusd_epi32(s##k, u, w);
#define SUM(k) s = _mm512_add_epi32(s, s##k);
    RUN_CHAINS(__m512i, _mm512_setzero_si512())
    return (float)_mm512_reduce_add_epi32(s);
#undef INIT
#undef STEP
#undef SUM
}

__attribute__((target("avx2"))) static float dot_avx2(long iters)
{
    __m256i u = _mm256_set1_epi8(3), w = _mm256_set1_epi8(-2), ones = _mm256_set1_epi16(1);
#define INIT(k) __m256i s##k = _mm256_set1_epi32(k);
#define STEP(k)                                                                        \
    __asm__ volatile("" : "+x"(u));                                                    \
    s##k = _mm256_add_epi32(s##k, _mm256_madd_epi16(_mm256_maddubs_epi16(u, w), ones));
#define SUM(k) s = _mm256_add_epi32(s, s##k);
    RUN_CHAINS(__m256i, _mm256_setzero_si256())
    int32_t out[8];
    _mm256_storeu_si256((__m256i *)out, s);
    return (float)(out[0] + out[1] + out[2] + out[3] + out[4] + out[5] + out[6] + out[7]);
#undef INIT
#undef STEP
#undef SUM
}
#endif

/* Without a known FMA unit: a multiply and an add (2 flops) per lane. */
static float fma_generic(long iters)
{
    typedef float f4 __attribute__((vector_size(16)));
    f4 mul = {0.9999999f, 0.9999999f, 0.9999999f, 0.9999999f}, add = {1e-7f, 1e-7f, 1e-7f, 1e-7f};
#define INIT(k) f4 a##k = {1.0f + (k) * 1e-3f, 1.0f, 1.0f, 1.0f};
#define STEP(k) a##k = a##k * mul + add;
#define SUM(k) s += a##k;
    RUN_CHAINS(f4, ((f4){0, 0, 0, 0}))
    return s[0] + s[1] + s[2] + s[3];
#undef INIT
#undef STEP
#undef SUM
}

static void peak_member(void *arg, int ith, int nth)
{
    (void)ith;
    (void)nth;
    peak_job *j = arg;
    j->sink = j->kernel(j->iters);
}

/* Best of three runs on n_threads, in G operations per second, after a
 * calibration on one thread to about 0.2 s a run; negative if the threads
 * could not be started. */
static double run_peak(int n_threads, peak_job *job)
{
    job->iters = 1 << 16;
    double t;
    while ((t = run_team(1, peak_member, job)) < 0.02 && job->iters < (1L << 40))
        job->iters *= 4;
    if (t < 0)
        return -1;
    job->iters = (long)((double)job->iters * 0.2 / t) + 1;
    double best = 0;
    for (int run = 0; run < 3; run++) {
        t = run_team(n_threads, peak_member, job);
        if (t < 0)
            return -1;
        double ops = job->ops_per_step * CHAINS * (double)job->iters * n_threads;
        if (ops / t > best)
            best = ops / t;
    }
    return best / 1e9;
}

int machine_peak_flops(int n_threads, machine_peak *out, char *msg, size_t msg_cap)
{
    peak_job fma = {.kernel = fma_generic, .ops_per_step = 2 * 4}, dot = {0};
    out->isa = "generic";
    out->int8_isa = "none";
    out->int8_gops = 0;
#ifdef HAVE_X86_FMA
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) {
        fma = (peak_job){.kernel = fma_avx512, .ops_per_step = 2 * 16};
        out->isa = "avx512";
    } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        fma = (peak_job){.kernel = fma_avx2, .ops_per_step = 2 * 8};
        out->isa = "avx2";
    }
    if (__builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw")) {
        dot = (peak_job){.kernel = dot_vnni512, .ops_per_step = 2 * 64};
        out->int8_isa = "avx512-vnni";
    } else if (__builtin_cpu_supports("avx2")) {
        dot = (peak_job){.kernel = dot_avx2, .ops_per_step = 2 * 32};
        out->int8_isa = "avx2";
    }
#endif
    out->gflops = run_peak(n_threads, &fma);
    if (out->gflops >= 0 && dot.kernel)
        out->int8_gops = run_peak(n_threads, &dot);
    if (out->gflops < 0 || out->int8_gops < 0)
        return snprintf(msg, msg_cap, "cannot start %d threads", n_threads), -1;
    return 0;
}

/* ---- STREAM-style bandwidth -------------------------------------------- */

/* Vectors of 16 bytes make the loops wide without ISA flags; may_alias lets
 * the read kernel view floats as integers. */
typedef float f32x4 __attribute__((vector_size(16), may_alias));
typedef uint64_t u64x2 __attribute__((vector_size(16), may_alias));

enum { KERNEL_INIT, KERNEL_COPY, KERNEL_TRIAD, KERNEL_READ };
enum { HUGE_PAGE = 2 << 20 };

typedef struct {
    f32x4 *a, *b, *c;
    size_t n_vec;      /* vectors per array */
    int kernel;
    volatile uint64_t sink;
} stream_job;

static void stream_member(void *arg, int ith, int nth)
{
    stream_job *j = arg;
    /* slices of whole groups of 4 vectors */
    size_t groups = j->n_vec / 4, g0 = groups * (size_t)ith / (size_t)nth,
           g1 = groups * (size_t)(ith + 1) / (size_t)nth;
    f32x4 *restrict a = j->a, *restrict b = j->b, *restrict c = j->c;
    const f32x4 scalar = {3.0f, 3.0f, 3.0f, 3.0f};
    switch (j->kernel) {
    case KERNEL_INIT:
        for (size_t i = 4 * g0; i < 4 * g1; i++) {
            a[i] = (f32x4){1.0f, 1.0f, 1.0f, 1.0f};
            b[i] = (f32x4){2.0f, 2.0f, 2.0f, 2.0f};
            c[i] = (f32x4){0.0f, 0.0f, 0.0f, 0.0f};
        }
        break;
    case KERNEL_COPY:
        for (size_t i = 4 * g0; i < 4 * g1; i += 4) {
            c[i] = a[i];
            c[i + 1] = a[i + 1];
            c[i + 2] = a[i + 2];
            c[i + 3] = a[i + 3];
        }
        break;
    case KERNEL_TRIAD:
        for (size_t i = 4 * g0; i < 4 * g1; i += 4) {
            a[i] = b[i] + scalar * c[i];
            a[i + 1] = b[i + 1] + scalar * c[i + 1];
            a[i + 2] = b[i + 2] + scalar * c[i + 2];
            a[i + 3] = b[i + 3] + scalar * c[i + 3];
        }
        break;
    default: {
        const u64x2 *v = (const u64x2 *)a;
        u64x2 s0 = {0, 0}, s1 = s0, s2 = s0, s3 = s0;
        for (size_t i = 4 * g0; i < 4 * g1; i += 4) {
            s0 += v[i];
            s1 += v[i + 1];
            s2 += v[i + 2];
            s3 += v[i + 3];
        }
        u64x2 s = s0 + s1 + s2 + s3;
        j->sink = s[0] + s[1];
    }
    }
}

int machine_stream_bandwidth(int n_threads, size_t array_mib, int passes, machine_stream *out,
                             char *msg, size_t msg_cap)
{
    memset(out, 0, sizeof *out);
    size_t bytes = array_mib << 20;
    stream_job job = {.n_vec = bytes / sizeof(f32x4)};
    f32x4 **arrays[] = {&job.a, &job.b, &job.c};
    int rc = 0;
    for (size_t i = 0; i < 3; i++) {
        *arrays[i] = aligned_alloc(HUGE_PAGE, (bytes + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE);
        if (!*arrays[i]) {
            snprintf(msg, msg_cap, "out of memory for 3 arrays of %zu MiB", array_mib);
            rc = -1;
            goto done;
        }
#ifdef MADV_HUGEPAGE
        /* Huge pages stream faster where the kernel gives them only on
         * request: the reference must be the best the machine does. */
        madvise(*arrays[i], bytes, MADV_HUGEPAGE);
#endif
    }
    out->array_bytes = bytes;
    job.kernel = KERNEL_INIT;
    if (run_team(n_threads, stream_member, &job) < 0) {
        snprintf(msg, msg_cap, "cannot start %d threads", n_threads);
        rc = -1;
        goto done;
    }
    static const struct {
        int kernel, arrays;
    } kernels[] = {{KERNEL_COPY, 2}, {KERNEL_TRIAD, 3}, {KERNEL_READ, 1}};
    double *gbs[] = {&out->copy_gbs, &out->triad_gbs, &out->read_gbs};
    for (size_t k = 0; k < 3; k++) {
        job.kernel = kernels[k].kernel;
        double best = 1e30;
        for (int p = 0; p < passes; p++) {
            double t = run_team(n_threads, stream_member, &job);
            if (t < 0) {
                snprintf(msg, msg_cap, "cannot start %d threads", n_threads);
                rc = -1;
                goto done;
            }
            best = t < best ? t : best;
        }
        *gbs[k] = (double)kernels[k].arrays * (double)bytes / best / 1e9;
        out->best_gbs = *gbs[k] > out->best_gbs ? *gbs[k] : out->best_gbs;
    }
done:
    free(job.a);
    free(job.b);
    free(job.c);
    return rc;
}
