/* Building blocks shared by the architectures' forward passes. Each splits
 * its work over the runtime's thread pool and leaves inner loops to the
 * kernel table. Shapes: a batch of n tokens is n rows of contiguous floats. */
#ifndef PHI_ARCH_OPS_H
#define PHI_ARCH_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "arch/arch.h"
#include "format/source.h"

/* Bytes of scratch phi_op_matmul needs for n tokens of `cols` inputs. */
size_t phi_op_matmul_scratch(uint32_t weight_type, int64_t cols, int32_t n);

/* y[t][r] = sum_c W[r][c] x[t][c], for W = {ne[0] = cols, ne[1] = rows};
 * x is n rows of `cols` floats, y n rows of `rows` floats. `scratch` holds
 * the converted activations (phi_op_matmul_scratch bytes). */
void phi_op_matmul(const phi_runtime *rt, const phi_tensor *w, const float *x, int32_t n,
                   float *y, void *scratch);

/* Told the old bytes of a matrix packed into a copy: nothing reads them again. */
typedef struct phi_pack_release {
    void (*fn)(void *user, const void *data, size_t bytes);
    void *user;
} phi_pack_release;

/* Rearrange the matrices whose type the kernels want packed (kernels/
 * packed.h): in place when the weights are writable memory, else into one
 * new block returned in *copies (NULL if none; the caller frees it after the
 * model), telling `release` (may be NULL) of each matrix copied. Sets each
 * packed tensor's packed_rows (and data when copied). */
int phi_op_pack_matrices(phi_mem *mem, const phi_kernels *k, phi_tensor *const *mats,
                         size_t n_mats, bool in_place, const phi_pack_release *release,
                         void **copies, phi_err *err);

/* Dequantize row `row` of an embedding-like tensor into dst (ne[0] floats). */
void phi_op_get_row(const phi_runtime *rt, const phi_tensor *w, int64_t row, float *dst);

/* out = x / sqrt(mean(x^2) + eps) * weight, per row of `dim` floats. */
void phi_op_rmsnorm(const float *x, const float *weight, int64_t dim, int32_t n, float eps,
                    float *out);

/* One layer's causal attention for n tokens over a KV cache. */
typedef struct phi_attn_op {
    int32_t n_head, n_head_kv, head_dim;  /* query head h reads KV head h / (n_head/n_head_kv) */
    uint32_t kv_type;      /* PHI_DT_F32 or PHI_DT_F16 */
    const void *k, *v;     /* KV head g's row for position p at g*head_bytes + p*row_bytes */
    size_t head_bytes, row_bytes;
    const float *q;        /* token t's query heads at q + t*q_stride, already scaled */
    size_t q_stride;
    float *out;            /* token t's n_head outputs at out + t*out_stride */
    size_t out_stride;
    int32_t n, pos0;       /* token t is at position pos0 + t and sees [0, pos0 + t] */
    float *partials;       /* phi_op_attention_scratch(n_head, head_dim) floats */
} phi_attn_op;

/* Floats of scratch phi_op_attention needs: the partial results of a
 * decode step split over threads (independent of the context length). */
size_t phi_op_attention_scratch(int32_t n_head, int32_t head_dim);

/* Every (token, KV head) pair is a task for the pool. A single token (decode)
 * also splits its positions into chunks, so that every thread has work
 * however few KV heads there are, and merges the chunks' partial results. */
void phi_op_attention(const phi_runtime *rt, const phi_attn_op *op);

#endif
