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

/* Dequantize row `row` of an embedding-like tensor into dst (ne[0] floats). */
void phi_op_get_row(const phi_runtime *rt, const phi_tensor *w, int64_t row, float *dst);

/* out = x / sqrt(mean(x^2) + eps) * weight, per row of `dim` floats. */
void phi_op_rmsnorm(const float *x, const float *weight, int64_t dim, int32_t n, float eps,
                    float *out);

/* Softmax of n floats in place. */
void phi_op_softmax(float *x, int64_t n);

static inline float phi_silu(float x)
{
    return x / (1.0f + __builtin_expf(-x));
}

#endif
