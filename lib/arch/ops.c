#include "arch/ops.h"

#include <math.h>
#include <string.h>

/* Rows per tile when several tokens share a weight tile: 16 rows of a
 * 3072-wide Q4_0 matrix are ~27 KiB, which stay in L1/L2 while every token
 * of the batch passes over them. */
enum { ROW_TILE = 16 };

size_t phi_op_matmul_scratch(uint32_t weight_type, int64_t cols, int32_t n)
{
    int act = phi_act_dtype(weight_type);
    size_t row = 0;
    if (act < 0 || act == PHI_DT_F32 || !phi_dtype_row_bytes((uint32_t)act, cols, &row))
        return 0;
    return row * (size_t)n;
}

typedef struct {
    const phi_kernels *k;
    const phi_tensor *w;
    const void *act;   /* activations in the weight's activation type */
    size_t act_row;    /* bytes per activation row */
    const float *x;
    int32_t n;
    float *y;
    int act_type;
} matmul_job;

static void quantize_rows(void *opaque, int ith, int nth)
{
    matmul_job *j = opaque;
    long t0, t1;
    phi_split_range(j->n, ith, nth, &t0, &t1);
    int64_t cols = j->w->ne[0];
    for (long t = t0; t < t1; t++)
        j->k->quantize_act[j->act_type](j->x + t * cols, (char *)j->act + t * j->act_row, cols);
}

static void multiply_rows(void *opaque, int ith, int nth)
{
    matmul_job *j = opaque;
    const phi_tensor *w = j->w;
    int64_t cols = w->ne[0], rows = w->ne[1];
    size_t w_row = w->nbytes / (size_t)rows;
    long r0, r1;
    phi_split_range((long)((rows + ROW_TILE - 1) / ROW_TILE), ith, nth, &r0, &r1);
    r0 *= ROW_TILE;
    r1 = r1 * ROW_TILE < rows ? r1 * ROW_TILE : rows;
    const char *wdata = w->data;
    const char *act = j->act;
    phi_gemm_fn gemm = j->k->gemm[w->type];
    phi_vec_dot_fn dot = j->k->vec_dot[w->type];
    for (long rt = r0; rt < r1; rt += ROW_TILE) {
        int n_rows = (int)(r1 - rt < ROW_TILE ? r1 - rt : ROW_TILE);
        if (gemm) {
            gemm(cols, wdata + rt * w_row, w_row, n_rows, act, j->act_row, j->n, j->y + rt,
                 (size_t)rows);
            continue;
        }
        for (int32_t t = 0; t < j->n; t++) {
            const char *a = act + t * j->act_row;
            float *y = j->y + (size_t)t * rows;
            for (long r = rt; r < rt + n_rows; r++)
                y[r] = dot(cols, wdata + r * w_row, a);
        }
    }
}

void phi_op_matmul(const phi_runtime *rt, const phi_tensor *w, const float *x, int32_t n,
                   float *y, void *scratch)
{
    matmul_job job = {
        .k = rt->k, .w = w, .x = x, .n = n, .y = y,
        .act_type = phi_act_dtype(w->type),
    };
    if (job.act_type == PHI_DT_F32) {
        job.act = x;
        job.act_row = (size_t)w->ne[0] * sizeof(float);
    } else {
        phi_dtype_row_bytes((uint32_t)job.act_type, w->ne[0], &job.act_row);
        job.act = scratch;
        if (n > 1)
            phi_pool_run(rt->pool, quantize_rows, &job);
        else
            quantize_rows(&job, 0, 1);
    }
    phi_pool_run(rt->pool, multiply_rows, &job);
}

void phi_op_get_row(const phi_runtime *rt, const phi_tensor *w, int64_t row, float *dst)
{
    size_t w_row = w->nbytes / (size_t)w->ne[1];
    rt->k->dequant[w->type]((const char *)w->data + row * w_row, dst, w->ne[0]);
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

void phi_op_softmax(float *x, int64_t n)
{
    float max = x[0];
    for (int64_t i = 1; i < n; i++)
        max = x[i] > max ? x[i] : max;
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) {
        x[i] = expf(x[i] - max);
        sum += x[i];
    }
    float inv = (float)(1.0 / sum);
    for (int64_t i = 0; i < n; i++)
        x[i] *= inv;
}
