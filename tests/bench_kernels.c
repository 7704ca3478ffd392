/* Single-threaded kernel throughput at every kernel level this build and CPU
 * have: row kernels at Phi-4-mini's row lengths (3072 = n_embd, 8192 = n_ff),
 * with data in cache, whole-matrix matvecs with the weights streamed from
 * memory (the decode bottleneck: each call takes the next of enough copies of
 * the matrix to fill 256 MiB, so no cache holds them), one layer of a
 * Phi-4 decode step's attention at a long context with each KV cache type (its 10 KV heads'
 * rows, 20 or 40 MiB, also mostly stream from memory), and prompt-sized
 * matrix products: 64 tokens through whole matrices with the level's gemm
 * next to the loop of vec_dot over the same tiles that a NULL gemm slot
 * means (the scalar level is left out there: it has no gemm, and its loop
 * would take seconds). GB/s counts the bytes
 * a call reads (and writes); GFLOP/s counts a multiply-add as 2. Each figure
 * is the best of several timed batches of about 50 ms. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/fp16.h"
#include "kernels/kernels.h"
#include "kernels/packed.h"
#include "test_rand.h"
#include "kernels/quant_blocks.h"
#include "phi4.h"

static volatile float sink;

/* The benchmarking thread's CPU time, not wall time: on a shared machine the
 * time the scheduler gives other processes does not count (cache and memory
 * contention still do). */
static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}


/* What one benchmark calls: kind selects the kernel, the rest is its data. */
enum kind {
    VEC_DOT, DOT_F32, AXPY, SCALE, TO_F16, SWIGLU, QUANTIZE, MATVEC, MATVEC_PACKED, ATTN,
    GEMM_LOOP, GEMM
};

/* Prompt processing: GEMM_TOKENS activation rows; the loop goes over
 * GEMM_ROW_TILE weight rows at a time, every token per tile (ops.c's tiles). */
enum { GEMM_TOKENS = 64, GEMM_ROW_TILE = 16 };

/* Phi-4's attention: head_dim 128, 40 query heads over 10 KV heads. */
enum { ATTN_HEAD_DIM = 128, ATTN_GROUP = 4, ATTN_KV_HEADS = 10 };

/* Bytes of weight copies a matvec cycles through: past any L3 cache (a
 * 14 MB matrix alone stays in this machine's). PHI4_BENCH_SPAN_MIB=1 keeps
 * one copy, for the kernels' speed from cache next to their speed from DRAM. */
static size_t matvec_span(void)
{
    const char *mib = getenv("PHI4_BENCH_SPAN_MIB");
    return (size_t)(mib && atoi(mib) > 0 ? atoi(mib) : 256) << 20;
}

typedef struct {
    enum kind kind;
    uint32_t type;      /* weight type (VEC_DOT, MATVEC), activation type (QUANTIZE) or
                           KV cache type (ATTN) */
    int64_t n, rows;    /* row length; rows for MATVEC and GEMM*, positions for ATTN */
    size_t w_row;       /* bytes per weight row (K and V row for ATTN) */
    size_t copies, next; /* MATVEC: copies of the matrix in w, the one the next call reads */
    size_t act_row;     /* GEMM*: bytes per activation row */
    void *w, *a;        /* ATTN: K and V, ATTN_KV_HEADS heads of `rows` rows each */
    float *x, *y;       /* ATTN: the query heads and the outputs with max and sum */
    int32_t *sums;      /* MATVEC_PACKED: the activation sums */
} bench;

/* One decode step of a layer: every KV head's group of query heads over
 * all the positions. */
static void attend_layer(const phi_kernels *k, bench *b)
{
    size_t head = b->w_row * (size_t)b->rows;
    for (int g = 0; g < ATTN_KV_HEADS; g++) {
        float *acc = b->y, *max = acc + ATTN_GROUP * b->n, *sum = max + ATTN_GROUP;
        for (int h = 0; h < ATTN_GROUP; h++) {
            max[h] = -INFINITY;
            sum[h] = 0.0f;
        }
        memset(acc, 0, (size_t)(ATTN_GROUP * b->n) * sizeof(float));
        k->attn[b->type](b->n, ATTN_GROUP, b->x + g * ATTN_GROUP * b->n,
                         (const char *)b->w + g * head, (const char *)b->a + g * head,
                         b->w_row, b->rows, max, sum, acc);
        sink = acc[0] / sum[0];
    }
}

static void run_once(const phi_kernels *k, bench *b)
{
    switch (b->kind) {
    case VEC_DOT: sink = k->vec_dot[b->type](b->n, b->w, b->a); break;
    case DOT_F32: sink = k->dot_f32(b->n, b->x, b->y); break;
    case AXPY: k->axpy_f32(b->n, 1e-3f, b->x, b->y); break;
    case SCALE: k->scale_f32(b->n, 0.999f, b->y); break;
    case TO_F16: k->f32_to_f16(b->n, b->x, b->a); break;
    case SWIGLU: k->swiglu_f32(b->n, b->x, b->y, b->y); break; /* out over up, as it may */
    case QUANTIZE: k->quantize_act[b->type](b->x, b->a, b->n); break;
    case MATVEC: {
        const char *w = (const char *)b->w + b->next * b->w_row * (size_t)b->rows;
        b->next = (b->next + 1) % b->copies;
        for (int64_t r = 0; r < b->rows; r++)
            b->y[r] = k->vec_dot[b->type](b->n, w + r * b->w_row, b->a);
        break;
    }
    case MATVEC_PACKED: {
        const char *w = (const char *)b->w + b->next * b->w_row * (size_t)b->rows;
        b->next = (b->next + 1) % b->copies;
        k->gemm_packed[b->type](b->n, w, (int)(b->rows / PHI_PACK_ROWS), b->a, 0, b->sums, 1,
                                b->y, 0);
        break;
    }
    case ATTN: attend_layer(k, b); break;
    case GEMM_LOOP:
        for (int64_t r0 = 0; r0 < b->rows; r0 += GEMM_ROW_TILE)
            for (int t = 0; t < GEMM_TOKENS; t++)
                for (int64_t r = r0; r < r0 + GEMM_ROW_TILE && r < b->rows; r++)
                    b->y[t * b->rows + r] = k->vec_dot[b->type](
                        b->n, (const char *)b->w + r * b->w_row, (const char *)b->a + t * b->act_row);
        break;
    case GEMM:
        k->gemm[b->type](b->n, b->w, b->w_row, (int)b->rows, b->a, b->act_row, GEMM_TOKENS, b->y,
                         (size_t)b->rows);
        break;
    }
}

/* Seconds per call, best of 5 batches. */
static double time_call(const phi_kernels *k, bench *b)
{
    long reps = 1;
    for (;;) {
        double t0 = now();
        for (long i = 0; i < reps; i++)
            run_once(k, b);
        if (now() - t0 > 0.05)
            break;
        reps *= 2;
    }
    double best = 1e30;
    for (int t = 0; t < 5; t++) {
        double t0 = now();
        for (long i = 0; i < reps; i++)
            run_once(k, b);
        double dt = (now() - t0) / (double)reps;
        best = dt < best ? dt : best;
    }
    return best;
}

static size_t row_bytes(uint32_t type, int64_t n)
{
    size_t r = 0;
    phi_dtype_row_bytes(type, n, &r);
    return r;
}

/* Random bytes (every quant and sub-scale pattern is valid), with every
 * value or fp16 block scale / offset set to a sane finite number. */
static void fill_weights(uint32_t type, void *w, size_t bytes, int64_t n, int64_t rows)
{
    unsigned char *p = w;
    for (size_t i = 0; i < bytes; i++)
        p[i] = (unsigned char)rand_u32();
    int64_t count = n * rows;
    const phi_dtype_info *info = phi_dtype_get(type);
    int halves[2] = {0, -1}; /* byte offsets of the fp16 fields in a block */
    switch (type) {
    case PHI_DT_F32:
        for (int64_t i = 0; i < count; i++)
            ((float *)w)[i] = rand_f();
        return;
    case PHI_DT_F16:
        for (int64_t i = 0; i < count; i++)
            ((uint16_t *)w)[i] = phi_f32_to_fp16(rand_f());
        return;
    case PHI_DT_BF16:
        for (int64_t i = 0; i < count; i++)
            ((uint16_t *)w)[i] = phi_f32_to_bf16(rand_f());
        return;
    case PHI_DT_Q4_1: case PHI_DT_Q5_1: case PHI_DT_Q4_K: case PHI_DT_Q5_K: halves[1] = 2; break;
    case PHI_DT_Q2_K: halves[0] = 80; halves[1] = 82; break;
    case PHI_DT_Q3_K: halves[0] = 108; break;
    case PHI_DT_Q6_K: halves[0] = 208; break;
    default: break;
    }
    uint16_t h = phi_f32_to_fp16(0.01f);
    for (int64_t b = 0; b < count / info->block; b++)
        for (int k = 0; k < 2; k++)
            if (halves[k] >= 0)
                memcpy(p + (size_t)b * info->block_bytes + halves[k], &h, 2);
}

/* PHI4_BENCH_TYPES=Q8_0,Q4_K: only the weight-typed figures of those types
 * (the KV cache types of the attention figures and the activation types of
 * the quantizers are not weight types: they always run). */
static bool type_selected(enum kind kind, uint32_t type)
{
    const char *list = getenv("PHI4_BENCH_TYPES");
    if (!list || !*list || kind == ATTN || kind == QUANTIZE)
        return true;
    const char *name = phi_dtype_name(type);
    size_t len = strlen(name);
    for (const char *p = list; (p = strstr(p, name)) != NULL; p += len)
        if ((p == list || p[-1] == ',') && (p[len] == ',' || p[len] == '\0'))
            return true;
    return false;
}

/* Sets up one benchmark, times it at every level, prints one line each. */
static void report(const phi_kernels **levels, int n_levels, enum kind kind, uint32_t type,
                   int64_t n, int64_t rows)
{
    if (!type_selected(kind, type))
        return;
    bench b = {.kind = kind, .type = type, .n = n, .rows = rows};
    /* ATTN: x holds every query head, y a group's outputs, maxima and sums */
    int64_t nx = kind == ATTN ? n * ATTN_GROUP * ATTN_KV_HEADS : n;
    int64_t ny = kind == ATTN ? (n + 2) * ATTN_GROUP : n > rows ? n : rows;
    b.x = malloc((size_t)nx * sizeof(float));
    b.y = malloc((size_t)ny * sizeof(float));
    for (int64_t i = 0; i < nx; i++)
        b.x[i] = rand_f() * 0.1f;
    for (int64_t i = 0; i < ny; i++)
        b.y[i] = rand_f();
    char label[64];
    double bytes = 0, flops = 2.0 * (double)n * (double)(rows ? rows : 1);
    int act = kind == QUANTIZE ? (int)type : phi_act_dtype(type);
    if (kind == TO_F16)
        b.a = malloc((size_t)n * sizeof(uint16_t));
    if (kind == VEC_DOT || kind == MATVEC || kind == MATVEC_PACKED || kind == QUANTIZE) {
        b.a = malloc(row_bytes((uint32_t)act, n));
        levels[0]->quantize_act[act](b.x, b.a, n);
    }
    if (kind == MATVEC_PACKED) {
        b.sums = malloc(phi_packed_sums_words(type, n) * sizeof *b.sums);
        phi_packed_act_sums(type, b.a, n, b.sums);
    }
    switch (kind) {
    case VEC_DOT:
    case MATVEC:
    case MATVEC_PACKED: {
        int64_t r = kind == VEC_DOT ? 1 : rows;
        b.w_row = row_bytes(type, n);
        size_t matrix = b.w_row * (size_t)r;
        b.copies = kind == VEC_DOT ? 1 : (matvec_span() + matrix - 1) / matrix;
        /* on cache lines, as the loader puts a file's weights */
        b.w = aligned_alloc(64, (matrix * b.copies + 63) / 64 * 64);
        fill_weights(type, b.w, matrix, n, r);
        if (kind == MATVEC_PACKED) { /* the first copy packed, through the spare last one */
            char *spare = (char *)b.w + (b.copies - 1) * matrix;
            memcpy(spare, b.w, matrix);
            for (int64_t g = 0; g < r / PHI_PACK_ROWS; g++)
                phi_pack_group(type, n, spare + (size_t)g * PHI_PACK_ROWS * b.w_row, b.w_row,
                               (char *)b.w + (size_t)g * PHI_PACK_ROWS * b.w_row);
        }
        for (size_t c = 1; c < b.copies; c++)
            memcpy((char *)b.w + c * matrix, b.w, matrix);
        /* MATVEC counts the weights only: they are what streams from memory */
        bytes = (double)(b.w_row * (size_t)r) + (kind == VEC_DOT ? (double)row_bytes((uint32_t)act, n) : 0);
        if (kind == VEC_DOT)
            snprintf(label, sizeof label, "vec_dot %s", phi_dtype_name(type));
        else
            snprintf(label, sizeof label, "matvec %s%s %lldx%lld", phi_dtype_name(type),
                     kind == MATVEC_PACKED ? " packed" : "", (long long)rows, (long long)n);
        break;
    }
    case DOT_F32: bytes = 8.0 * (double)n; snprintf(label, sizeof label, "dot_f32"); break;
    case AXPY: bytes = 12.0 * (double)n; snprintf(label, sizeof label, "axpy_f32"); break;
    case SCALE:
        bytes = 8.0 * (double)n;
        flops = (double)n;
        snprintf(label, sizeof label, "scale_f32");
        break;
    case TO_F16:
        bytes = 6.0 * (double)n;
        flops = 0;
        snprintf(label, sizeof label, "f32_to_f16");
        break;
    case SWIGLU:
        bytes = 12.0 * (double)n;
        flops = 0;
        snprintf(label, sizeof label, "swiglu_f32");
        break;
    case QUANTIZE:
        bytes = 4.0 * (double)n + (double)row_bytes(type, n);
        flops = 0;
        snprintf(label, sizeof label, "quantize_act %s", phi_dtype_name(type));
        break;
    case ATTN: {
        b.w_row = row_bytes(type, n);
        size_t all = b.w_row * (size_t)rows * ATTN_KV_HEADS;
        b.w = malloc(all);
        b.a = malloc(all);
        fill_weights(type, b.w, all, n, rows * ATTN_KV_HEADS);
        fill_weights(type, b.a, all, n, rows * ATTN_KV_HEADS);
        bytes = 2.0 * (double)all;
        flops = 4.0 * (double)n * (double)rows * ATTN_GROUP * ATTN_KV_HEADS;
        snprintf(label, sizeof label, "attn kv %s %lld pos", phi_dtype_name(type), (long long)rows);
        break;
    }
    case GEMM_LOOP:
    case GEMM:
        break; /* report_gemm's */
    }
    double t_scalar = 0;
    for (int l = 0; l < n_levels; l++) {
        if (kind == MATVEC_PACKED && !levels[l]->gemm_packed[type])
            continue;
        double t = time_call(levels[l], &b);
        if (l == 0)
            t_scalar = t;
        printf("%-26s n=%-5lld %-12s %10.2f us %8.2f GB/s", label, (long long)n, levels[l]->name,
               t * 1e6, bytes / t * 1e-9);
        if (flops > 0)
            printf(" %8.2f GFLOP/s", flops / t * 1e-9);
        printf("  x%.1f\n", t_scalar / t);
    }
    free(b.x);
    free(b.y);
    free(b.w);
    free(b.a);
    free(b.sums);
}

/* GEMM_TOKENS tokens through a rows × n matrix at every SIMD level: the
 * vec_dot loop, then the gemm when the level has one for the type. */
static void report_gemm(const phi_kernels **levels, int n_levels, uint32_t type, int64_t n,
                        int64_t rows)
{
    if (!type_selected(GEMM, type))
        return;
    int act = phi_act_dtype(type);
    bench b = {.type = type, .n = n, .rows = rows};
    b.w_row = row_bytes(type, n);
    b.act_row = row_bytes((uint32_t)act, n);
    b.w = malloc(b.w_row * (size_t)rows);
    b.a = malloc(b.act_row * GEMM_TOKENS);
    b.x = malloc((size_t)n * sizeof(float));
    b.y = malloc((size_t)rows * GEMM_TOKENS * sizeof(float));
    fill_weights(type, b.w, b.w_row * (size_t)rows, n, rows);
    for (int t = 0; t < GEMM_TOKENS; t++) {
        for (int64_t i = 0; i < n; i++)
            b.x[i] = rand_f();
        levels[0]->quantize_act[act](b.x, (char *)b.a + t * b.act_row, n);
    }
    double flops = 2.0 * (double)n * (double)rows * GEMM_TOKENS;
    char label[64];
    snprintf(label, sizeof label, "gemm %s %lldx%lld x%d", phi_dtype_name(type), (long long)rows,
             (long long)n, GEMM_TOKENS);
    for (int l = 1; l < n_levels; l++) {
        b.kind = GEMM_LOOP;
        double loop = time_call(levels[l], &b);
        printf("%-26s %-12s vec_dot loop %8.2f GFLOP/s", label, levels[l]->name, flops / loop * 1e-9);
        if (levels[l]->gemm[type]) {
            b.kind = GEMM;
            double t = time_call(levels[l], &b);
            printf("   gemm %8.2f GFLOP/s  x%.1f over the loop", flops / t * 1e-9, loop / t);
        }
        printf("\n");
    }
    free(b.w);
    free(b.a);
    free(b.x);
    free(b.y);
}

int main(void)
{
    const phi_kernels *levels[8];
    int n_levels = 0;
    phi_err err;
    for (int32_t l = PHI_KERNEL_SCALAR; l <= PHI_KERNEL_NEON_DOTPROD; l++)
        if (phi_kernels_get(l, &levels[n_levels], &err) == PHI_OK)
            n_levels++;
    printf("single thread; x = speed-up over scalar\n");
    static const int64_t lens[] = {3072, 8192};
    static const uint32_t types[] = {PHI_DT_F32, PHI_DT_F16, PHI_DT_BF16, PHI_DT_Q8_0,
                                     PHI_DT_Q4_0, PHI_DT_Q4_1, PHI_DT_Q5_0, PHI_DT_Q5_1,
                                     PHI_DT_IQ4_NL, PHI_DT_Q2_K, PHI_DT_Q3_K, PHI_DT_Q4_K,
                                     PHI_DT_Q5_K, PHI_DT_Q6_K, PHI_DT_IQ4_XS};
    static const uint32_t acts[] = {PHI_DT_Q8_0, PHI_DT_Q8_1, PHI_DT_Q8_K};
    enum { N_TYPES = sizeof types / sizeof *types };
    /* PHI4_BENCH_GEMM=1: only the prompt-sized matrix products */
    const char *only_gemm = getenv("PHI4_BENCH_GEMM");
    if (only_gemm && *only_gemm == '1') {
        for (int t = 0; t < N_TYPES; t++) {
            report_gemm(levels, n_levels, types[t], 3072, 3072);
            report_gemm(levels, n_levels, types[t], 3072, 8192);
        }
        return 0;
    }
    /* PHI4_BENCH_MATVEC=1: only the streamed matvecs (the decode figure) */
    const char *only = getenv("PHI4_BENCH_MATVEC");
    for (int s = 0; s < 2 && !(only && *only == '1'); s++) {
        for (int t = 0; t < N_TYPES; t++)
            report(levels, n_levels, VEC_DOT, types[t], lens[s], 0);
        report(levels, n_levels, DOT_F32, PHI_DT_F32, lens[s], 0);
        report(levels, n_levels, AXPY, PHI_DT_F32, lens[s], 0);
        report(levels, n_levels, SCALE, PHI_DT_F32, lens[s], 0);
        report(levels, n_levels, TO_F16, PHI_DT_F32, lens[s], 0);
        report(levels, n_levels, SWIGLU, PHI_DT_F32, lens[s], 0);
        for (int t = 0; t < 3; t++)
            report(levels, n_levels, QUANTIZE, acts[t], lens[s], 0);
    }
    /* ffn_up (8192 rows of 3072) and ffn_down (3072 rows of 8192) of Phi-4-mini */
    for (int t = 1; t < N_TYPES; t++) {
        report(levels, n_levels, MATVEC, types[t], 3072, 8192);
        report(levels, n_levels, MATVEC, types[t], 8192, 3072);
        if (phi_packed_type(types[t])) { /* the layout the loader gives these types */
            report(levels, n_levels, MATVEC_PACKED, types[t], 3072, 8192);
            report(levels, n_levels, MATVEC_PACKED, types[t], 8192, 3072);
        }
    }
    /* Phi-4 decode attention at 4096 positions, one layer; x40 for a token */
    report(levels, n_levels, ATTN, PHI_DT_F32, ATTN_HEAD_DIM, 4096);
    report(levels, n_levels, ATTN, PHI_DT_F16, ATTN_HEAD_DIM, 4096);
    for (int t = 0; t < N_TYPES && !(only && *only == '1'); t++) {
        report_gemm(levels, n_levels, types[t], 3072, 3072);
        report_gemm(levels, n_levels, types[t], 3072, 8192);
    }
    return 0;
}
