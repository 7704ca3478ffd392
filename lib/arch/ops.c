#include "arch/ops.h"

#include <math.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "kernels/packed.h"
#include "phi4.h"

/* Prefill work items are ROW_TILE weight rows × TOKEN_TILE tokens: 16 rows of
 * a 3072-wide Q4_0 matrix are ~27 KiB and 32 tokens of its Q8_0 activations
 * ~100 KiB, so a tile's weights stay in L1/L2 while its tokens pass over
 * them, and a thread's next item usually reuses the same weight rows. A
 * packed matrix's tiles are its groups (PHI_PACK_ROWS rows), which its
 * kernel walks a quarter at a time. */
enum { ROW_TILE = 16, TOKEN_TILE = 32, DECODE_CHUNK = 64 };
/* Every row range starts on a packed group (multiply_block). */
_Static_assert(DECODE_CHUNK % PHI_PACK_ROWS == 0, "row ranges must be whole packed groups");

#ifdef PHI_HAVE_OPENBLAS
#include <cblas.h>

/* With -Dblas=openblas, a prompt of at least BLAS_MIN_TOKENS tokens with
 * float weights is one cblas_sgemm per matrix (F32) or per BLAS_ROW_TILE
 * rows converted to F32 in the context's scratch (F16, BF16; 128 rows of
 * 8192 are 4 MiB). Shorter prompts stay with the kernels' gemm: sgemm packs
 * the whole weight matrix, which pays off only over many tokens. */
enum { BLAS_MIN_TOKENS = 32, BLAS_ROW_TILE = 128 };

static bool use_blas(uint32_t weight_type, int32_t n)
{
    return n >= BLAS_MIN_TOKENS && (weight_type == PHI_DT_F32 || weight_type == PHI_DT_F16 ||
                                    weight_type == PHI_DT_BF16);
}
#endif

/* Bytes of one token's activation sums for packed weights. */
static size_t sums_bytes(uint32_t weight_type, int64_t cols)
{
    return phi_packed_sums_words(weight_type, cols) * sizeof(int32_t);
}

size_t phi_op_matmul_scratch(uint32_t weight_type, int64_t cols, int32_t n)
{
#ifdef PHI_HAVE_OPENBLAS
    if (use_blas(weight_type, n) && weight_type != PHI_DT_F32)
        return BLAS_ROW_TILE * (size_t)cols * sizeof(float);
#endif
    int act = phi_act_dtype(weight_type);
    size_t row = 0;
    if (act < 0 || act == PHI_DT_F32 || !phi_dtype_row_bytes((uint32_t)act, cols, &row))
        return 0;
    /* Activations, then (packed weights) each token's sums from the
     * next 4-byte boundary. */
    return (row + sums_bytes(weight_type, cols)) * (size_t)n + 4;
}

/* Whether the loader packs t: the level packs its type, t has a whole group
 * and is not packed yet. */
static bool packs(const phi_kernels *k, const phi_tensor *t)
{
    return k->pack[t->type] && k->gemm_packed[t->type] && t->ne[1] >= PHI_PACK_ROWS &&
           !t->packed_rows;
}

int phi_op_pack_matrices(phi_mem *mem, const phi_kernels *k, phi_tensor *const *mats,
                         size_t n_mats, bool in_place, const phi_pack_release *release,
                         void **copies, phi_err *err)
{
    *copies = NULL;
    size_t total = 0, temp = 0;
    for (size_t i = 0; i < n_mats; i++) {
        phi_tensor *t = mats[i];
        if (!packs(k, t))
            continue;
        size_t group_bytes = t->nbytes / (size_t)t->ne[1] * PHI_PACK_ROWS;
        total += (t->nbytes + 63) & ~(size_t)63; /* each copy on a cache line */
        temp = group_bytes > temp ? group_bytes : temp;
    }
    if (total == 0)
        return PHI_OK;
    /* In place, a group's rows are copied aside first; from a read-only
     * mapping, the packed matrices go to one block of their own (the file's
     * pages are then left to the page cache), each starting on a cache line:
     * bench_kernels measured packed Q8_0 at 25 GB/s from memory with 64-byte
     * loads straddling lines, 27 GB/s aligned. */
    uint8_t *dst = phi_alloc_bulk(mem, in_place ? temp : total);
    if (!dst)
        return phi_err_set(err, PHI_E_NOMEM, "out of memory for %zu MiB of packed weights",
                           (in_place ? temp : total) >> 20);
    uint8_t *next = dst;
    for (size_t i = 0; i < n_mats; i++) {
        phi_tensor *t = mats[i];
        if (!packs(k, t))
            continue;
        int64_t groups = t->ne[1] / PHI_PACK_ROWS;
        size_t row_bytes = t->nbytes / (size_t)t->ne[1], group_bytes = row_bytes * PHI_PACK_ROWS;
        const uint8_t *src = t->data;
        uint8_t *out = in_place ? (uint8_t *)t->data : next;
        for (int64_t g = 0; g < groups; g++) {
            const uint8_t *rows = src + (size_t)g * group_bytes;
            if (in_place) {
                memcpy(dst, rows, group_bytes);
                rows = dst;
            }
            phi_pack_group(t->type, t->ne[0], rows, row_bytes, out + (size_t)g * group_bytes);
        }
        if (!in_place) {
            size_t tail = t->nbytes - (size_t)groups * group_bytes;
            memcpy(out + (size_t)groups * group_bytes, src + (size_t)groups * group_bytes, tail);
            t->data = out;
            if (release && release->fn)
                release->fn(release->user, src, t->nbytes);
            next += (t->nbytes + 63) & ~(size_t)63;
        }
        t->packed_rows = groups * PHI_PACK_ROWS;
    }
    if (in_place)
        phi_free(mem, dst);
    else
        *copies = dst;
    return PHI_OK;
}

typedef struct {
    const phi_kernels *k;
    const phi_tensor *w;
    const void *act;   /* activations in the weight's activation type */
    size_t act_row;    /* bytes per activation row */
    int32_t *sums;     /* packed weights: each token's activation sums */
    const float *x;
    int32_t n;
    float *y;
    int act_type;
    atomic_long next_item; /* prefill: the next (row tile, token tile) to take */
    /* decode: thread t's share of the row chunks, [front, back) packed as
     * front << 32 | back (decode_take) */
    _Atomic uint64_t shares[PHI_MAX_THREADS];
} matmul_job;

static void quantize_rows(void *opaque, int ith, int nth)
{
    matmul_job *j = opaque;
    long t0, t1;
    phi_split_range(j->n, ith, nth, &t0, &t1);
    int64_t cols = j->w->ne[0];
    for (long t = t0; t < t1; t++) {
        j->k->quantize_act[j->act_type](j->x + t * cols, (char *)j->act + t * j->act_row, cols);
        if (j->w->packed_rows)
            phi_packed_act_sums(j->w->type, (const char *)j->act + t * j->act_row, cols,
                                j->sums + t * phi_packed_sums_words(j->w->type, cols));
    }
}

/* y for weight rows [r0, r1) and tokens [t0, t1). */
static void multiply_block(const matmul_job *j, long r0, long r1, long t0, long t1)
{
    const phi_tensor *w = j->w;
    int64_t cols = w->ne[0], rows = w->ne[1];
    size_t w_row = w->nbytes / (size_t)rows;
    const char *wdata = (const char *)w->data + r0 * w_row;
    const char *act = (const char *)j->act + t0 * j->act_row;
    float *y = j->y + t0 * rows + r0;
    if (r0 < w->packed_rows) { /* row ranges start and end on group bounds */
        long packed_end = r1 < w->packed_rows ? r1 : (long)w->packed_rows;
        const int32_t *sums = j->sums + (size_t)t0 * phi_packed_sums_words(w->type, cols);
        j->k->gemm_packed[w->type](cols, wdata, (int)((packed_end - r0) / PHI_PACK_ROWS), act,
                                   j->act_row, sums, (int)(t1 - t0), y, (size_t)rows);
        if (packed_end == r1)
            return;
        wdata += (packed_end - r0) * w_row;
        y += packed_end - r0;
        r0 = packed_end;
    }
    phi_gemm_fn gemm = j->k->gemm[w->type];
    if (gemm && t1 - t0 > 1) {
        gemm(cols, wdata, w_row, (int)(r1 - r0), act, j->act_row, (int)(t1 - t0), y, (size_t)rows);
        return;
    }
    phi_vec_dot_fn dot = j->k->vec_dot[w->type];
    for (long t = 0; t < t1 - t0; t++)
        for (long r = 0; r < r1 - r0; r++)
            y[t * rows + r] = dot(cols, wdata + r * w_row, act + t * j->act_row);
}

/* Takes a chunk from share s: the owner from its front, another thread from
 * its back. Returns the chunk, or -1 when the share is empty. */
static long decode_take(matmul_job *j, int s, bool owner)
{
    uint64_t cur = atomic_load_explicit(&j->shares[s], memory_order_relaxed);
    for (;;) {
        uint32_t front = (uint32_t)(cur >> 32), back = (uint32_t)cur;
        if (front >= back)
            return -1;
        uint64_t next = owner ? cur + ((uint64_t)1 << 32) : cur - 1;
        if (atomic_compare_exchange_weak_explicit(&j->shares[s], &cur, next,
                                                  memory_order_relaxed, memory_order_relaxed))
            return owner ? front : back - 1;
    }
}

/* One token (decode): each thread streams its own contiguous share of the
 * rows, DECODE_CHUNK rows at a time from the front, and when it is done
 * takes chunks from the back of the others' shares. Long runs of sequential
 * reads stream fastest (chunks dealt round-robin were 9% slower on Q4_0),
 * and a thread the machine slows down does not hold up the rest. */
static void multiply_rows(void *opaque, int ith, int nth)
{
    matmul_job *j = opaque;
    long rows = (long)j->w->ne[1];
    for (int k = 0; k < nth; k++) {
        int s = (ith + k) % nth;
        for (long c; (c = decode_take(j, s, k == 0)) >= 0;) {
            long r0 = c * DECODE_CHUNK, r1 = r0 + DECODE_CHUNK < rows ? r0 + DECODE_CHUNK : rows;
            multiply_block(j, r0, r1, 0, j->n);
        }
    }
}

/* Several tokens (prefill): threads take (row tile, token tile) items in
 * row-tile order until none are left, so a thread the machine slows down
 * takes fewer and the others finish the matrix. */
static void multiply_tiles(void *opaque, int ith, int nth)
{
    matmul_job *j = opaque;
    long rows = (long)j->w->ne[1];
    long row_tile = j->w->packed_rows ? PHI_PACK_ROWS : ROW_TILE;
    long row_tiles = (rows + row_tile - 1) / row_tile;
    long token_tiles = ((long)j->n + TOKEN_TILE - 1) / TOKEN_TILE;
    for (long item; (item = atomic_fetch_add_explicit(&j->next_item, 1, memory_order_relaxed)) <
                    row_tiles * token_tiles;) {
        long r0 = item / token_tiles * row_tile, t0 = item % token_tiles * TOKEN_TILE;
        long r1 = r0 + row_tile < rows ? r0 + row_tile : rows;
        long t1 = t0 + TOKEN_TILE < j->n ? t0 + TOKEN_TILE : j->n;
        multiply_block(j, r0, r1, t0, t1);
    }
}

#ifdef PHI_HAVE_OPENBLAS
typedef struct {
    const phi_kernels *k;
    const phi_tensor *w;
    long r0, r1;   /* the weight rows of the tile */
    float *tile;   /* (r1 - r0) rows of ne[0] floats */
} convert_job;

static void convert_rows(void *opaque, int ith, int nth)
{
    const convert_job *j = opaque;
    int64_t cols = j->w->ne[0];
    size_t w_row = j->w->nbytes / (size_t)j->w->ne[1];
    long t0, t1;
    phi_split_range(j->r1 - j->r0, ith, nth, &t0, &t1);
    for (long r = t0; r < t1; r++)
        j->k->dequant[j->w->type]((const char *)j->w->data + (size_t)(j->r0 + r) * w_row,
                                  j->tile + r * cols, cols);
}

/* y = x · Wᵀ by OpenBLAS, from the calling thread with as many OpenBLAS
 * threads as the context has (a process-wide setting, changed only when a
 * context with another count comes by); the pool converts F16 / BF16 tiles. */
static void matmul_blas(const phi_runtime *rt, const phi_tensor *w, const float *x, int32_t n,
                        float *y, float *tile)
{
    int threads = phi_pool_size(rt->pool);
    if (openblas_get_num_threads() != threads)
        openblas_set_num_threads(threads);
    int cols = (int)w->ne[0], rows = (int)w->ne[1];
    if (w->type == PHI_DT_F32) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, rows, cols, 1.0f, x, cols,
                    (const float *)w->data, cols, 0.0f, y, rows);
        return;
    }
    for (long r0 = 0; r0 < rows; r0 += BLAS_ROW_TILE) {
        convert_job job = {.k = rt->k, .w = w, .r0 = r0, .tile = tile,
                           .r1 = r0 + BLAS_ROW_TILE < rows ? r0 + BLAS_ROW_TILE : rows};
        phi_pool_run(rt->pool, convert_rows, &job);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, (int)(job.r1 - r0), cols, 1.0f, x,
                    cols, tile, cols, 0.0f, y + r0, rows);
    }
}
#endif

void phi_op_matmul(const phi_runtime *rt, const phi_tensor *w, const float *x, int32_t n,
                   float *y, void *scratch)
{
#ifdef PHI_HAVE_OPENBLAS
    if (use_blas(w->type, n)) {
        matmul_blas(rt, w, x, n, y, scratch);
        return;
    }
#endif
    matmul_job job = {
        .k = rt->k, .w = w, .x = x, .n = n, .y = y,
        .act_type = phi_act_dtype(w->type),
    };
    atomic_init(&job.next_item, 0);
    int nth = phi_pool_size(rt->pool);
    if (n == 1)
        for (int t = 0; t < nth; t++) {
            long c0, c1;
            phi_split_range((w->ne[1] + DECODE_CHUNK - 1) / DECODE_CHUNK, t, nth, &c0, &c1);
            atomic_init(&job.shares[t], (uint64_t)c0 << 32 | (uint64_t)c1);
        }
    if (job.act_type == PHI_DT_F32) {
        job.act = x;
        job.act_row = (size_t)w->ne[0] * sizeof(float);
    } else {
        phi_dtype_row_bytes((uint32_t)job.act_type, w->ne[0], &job.act_row);
        job.act = scratch;
        job.sums = (int32_t *)((char *)scratch + ((job.act_row * (size_t)n + 3) & ~(size_t)3));
        if (n > 1)
            phi_pool_run(rt->pool, quantize_rows, &job);
        else
            quantize_rows(&job, 0, 1);
    }
    phi_pool_run(rt->pool, n > 1 ? multiply_tiles : multiply_rows, &job);
}

void phi_op_get_row(const phi_runtime *rt, const phi_tensor *w, int64_t row, float *dst)
{
    size_t w_row = w->nbytes / (size_t)w->ne[1];
    if (row >= w->packed_rows) {
        rt->k->dequant[w->type]((const char *)w->data + row * w_row, dst, w->ne[0]);
        return;
    }
    /* A block at a time out of the packed group. */
    const phi_dtype_info *info = phi_dtype_get(w->type);
    const size_t column = (size_t)info->block_bytes * PHI_PACK_ROWS;
    const char *group = (const char *)w->data + (size_t)(row / PHI_PACK_ROWS) * PHI_PACK_ROWS * w_row;
    unsigned char one[PHI_PACK_MAX_BLOCK];
    for (int64_t b = 0; b < w->ne[0] / info->block; b++, dst += info->block) {
        phi_unpack_row(w->type, info->block, group + (size_t)b * column, (int)(row % PHI_PACK_ROWS),
                       one);
        rt->k->dequant[w->type](one, dst, info->block);
    }
}

void phi_op_rmsnorm(const float *x, const float *weight, int64_t dim, int32_t n, float eps,
                    float *out)
{
    for (int32_t t = 0; t < n; t++, x += dim, out += dim) {
        double ss = 0.0;
        for (int64_t i = 0; i < dim; i++)
            ss += (double)x[i] * x[i];
        float scale = (float)(1.0 / sqrt(ss / (double)dim + eps));
        for (int64_t i = 0; i < dim; i++)
            out[i] = x[i] * scale * weight[i];
    }
}

/* ---- attention --------------------------------------------------------- */

/* A decode step splits a KV head's positions into at most MAX_SPLIT chunks
 * of at least MIN_CHUNK positions: a chunk costs a merge of about one
 * position's work. Query heads go to the kernel GROUP_MAX at a time when
 * their running maxima and sums live on the stack. */
enum { MAX_SPLIT = 16, MIN_CHUNK = 16, GROUP_MAX = 8 };

static size_t partial_floats(int32_t n_head, int32_t head_dim)
{
    return (size_t)n_head * ((size_t)head_dim + 2);
}

size_t phi_op_attention_scratch(int32_t n_head, int32_t head_dim)
{
    return MAX_SPLIT * partial_floats(n_head, head_dim);
}

/* Chunk c's running state of every head: acc [n_head][head_dim], then max
 * [n_head] and sum [n_head]. */
typedef struct {
    float *acc, *max, *sum;
} attn_partial;

static attn_partial partial_of(const phi_attn_op *op, int32_t c)
{
    float *at = op->partials + (size_t)c * partial_floats(op->n_head, op->head_dim);
    float *max = at + (size_t)op->n_head * op->head_dim;
    return (attn_partial){at, max, max + op->n_head};
}

static int gcd(int a, int b)
{
    while (b) {
        int r = a % b;
        a = b;
        b = r;
    }
    return a;
}

/* Chunks per KV head for a decode step: the fewest that make n_head_kv x
 * chunks a multiple of the thread count, so that each thread gets the same
 * share of the positions. */
static int32_t split_count(int nth, int32_t n_head_kv, int32_t n_pos)
{
    int32_t chunks = nth / gcd(nth, n_head_kv);
    if (chunks > MAX_SPLIT)
        chunks = MAX_SPLIT;
    if (chunks > n_pos / MIN_CHUNK)
        chunks = n_pos / MIN_CHUNK;
    return chunks > 1 ? chunks : 1;
}

typedef struct {
    const phi_kernels *k;
    const phi_attn_op *op;
    int32_t chunks;
} attn_job;

/* Query heads [h, h + n_q) of token t over positions [p0, p1), from a fresh
 * state. */
static void attend(const attn_job *j, int32_t t, int32_t h, int32_t n_q, long p0, long p1,
                   float *max, float *sum, float *acc)
{
    const phi_attn_op *op = j->op;
    int32_t hd = op->head_dim, kv_head = h / (op->n_head / op->n_head_kv);
    for (int32_t i = 0; i < n_q; i++) {
        max[i] = -INFINITY;
        sum[i] = 0.0f;
    }
    memset(acc, 0, (size_t)n_q * hd * sizeof(float));
    size_t at = (size_t)kv_head * op->head_bytes + (size_t)p0 * op->row_bytes;
    j->k->attn[op->kv_type](hd, n_q, op->q + t * op->q_stride + (size_t)h * hd,
                            (const char *)op->k + at, (const char *)op->v + at, op->row_bytes,
                            p1 - p0, max, sum, acc);
}

/* Tasks are (KV head, token, chunk), dealt round-robin: neighbouring tasks
 * read the same KV head, and the growing causal ranges of a batch spread
 * evenly over the threads. */
static void attention_tasks(void *opaque, int ith, int nth)
{
    const attn_job *j = opaque;
    const phi_attn_op *op = j->op;
    int32_t hd = op->head_dim, group = op->n_head / op->n_head_kv;
    long per_head = (long)op->n * j->chunks;
    for (long task = ith; task < op->n_head_kv * per_head; task += nth) {
        int32_t h = (int32_t)(task / per_head) * group;
        int32_t t = (int32_t)(task % per_head / j->chunks), c = (int32_t)(task % j->chunks);
        long p0, p1;
        phi_split_range((long)op->pos0 + t + 1, c, j->chunks, &p0, &p1);
        if (j->chunks > 1) { /* a decode step: t is 0, merge_chunks finishes */
            attn_partial part = partial_of(op, c);
            attend(j, t, h, group, p0, p1, part.max + h, part.sum + h, part.acc + (size_t)h * hd);
            continue;
        }
        float *out = op->out + t * op->out_stride + (size_t)h * hd;
        for (int32_t g = 0; g < group; g += GROUP_MAX) {
            int32_t n_q = group - g < GROUP_MAX ? group - g : GROUP_MAX;
            float max[GROUP_MAX], sum[GROUP_MAX];
            attend(j, t, h + g, n_q, p0, p1, max, sum, out + (size_t)g * hd);
            for (int32_t i = 0; i < n_q; i++)
                j->k->scale_f32(hd, 1.0f / sum[i], out + (size_t)(g + i) * hd);
        }
    }
}

/* Each head's output from its chunks' states: rescaled to the largest max,
 * summed, divided by the summed weights. */
static void merge_chunks(const attn_job *j)
{
    const phi_attn_op *op = j->op;
    int32_t hd = op->head_dim;
    for (int32_t h = 0; h < op->n_head; h++) {
        float max = -INFINITY, total = 0.0f;
        for (int32_t c = 0; c < j->chunks; c++)
            max = fmaxf(max, partial_of(op, c).max[h]);
        float *out = op->out + (size_t)h * hd;
        memset(out, 0, (size_t)hd * sizeof(float));
        for (int32_t c = 0; c < j->chunks; c++) {
            attn_partial part = partial_of(op, c);
            float w = expf(part.max[h] - max);
            total += w * part.sum[h];
            j->k->axpy_f32(hd, w, part.acc + (size_t)h * hd, out);
        }
        j->k->scale_f32(hd, 1.0f / total, out);
    }
}

void phi_op_attention(const phi_runtime *rt, const phi_attn_op *op)
{
    attn_job job = {.k = rt->k, .op = op, .chunks = 1};
    if (op->n == 1)
        job.chunks = split_count(phi_pool_size(rt->pool), op->n_head_kv, op->pos0 + 1);
    phi_pool_run(rt->pool, attention_tasks, &job);
    if (job.chunks > 1)
        merge_chunks(&job);
}
