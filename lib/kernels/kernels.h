/* The kernel table: the inner loops every architecture needs, one table per
 * instruction set. A table starts as the scalar reference and each ISA file
 * overwrites the entries it implements, so every SIMD kernel has its scalar
 * twin in the same slot of the scalar table (tests compare the two).
 *
 * Matrix products pair a weight type with an activation type (phi_act_dtype):
 * the activations are converted once per matmul (quantize_act) and every
 * weight row is then dotted with them (vec_dot, or gemm for tiles). */
#ifndef PHI_KERNELS_H
#define PHI_KERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/dtype.h"
#include "core/err.h"

typedef void (*phi_quantize_fn)(const float *x, void *out, int64_t n);
typedef float (*phi_vec_dot_fn)(int64_t n, const void *w_row, const void *a_row);
/* y[c * y_stride + r] = dot(w row r, activation row c) for r < n_rows,
 * c < n_cols; rows and columns are strided in bytes (w, a) or floats (y). */
typedef void (*phi_gemm_fn)(int64_t n, const void *w, size_t w_stride, int n_rows,
                            const void *a, size_t a_stride, int n_cols, float *y,
                            size_t y_stride);
/* Packed weights (packed.h): y[t * y_stride + g * PHI_PACK_ROWS + r] =
 * dot(row r of group g, activation row t) for g < n_groups, t < n_tok;
 * groups are contiguous, PHI_PACK_ROWS rows' bytes each. a_sums holds
 * phi_packed_act_sums of token t's row at a_sums + t * phi_packed_sums_words. */
typedef void (*phi_gemm_packed_fn)(int64_t n, const void *w, int n_groups, const void *a,
                                   size_t a_stride, const int32_t *a_sums, int n_tok, float *y,
                                   size_t y_stride);
typedef void (*phi_dequant_fn)(const void *src, float *dst, int64_t n);
/* Attention of n_q query heads that share one KV head over n_pos cached
 * positions, as an online softmax: one pass over K and V, no score row.
 * q: n_q rows of head_dim floats, already scaled. k, v: rows of head_dim
 * values of the slot's type, row p at byte offset p * row_stride (the caller
 * picks the range [start, end) by where k and v point and n_pos >= 1).
 * Per head h the call continues a running state: max[h] (the largest score
 * so far; -INFINITY to start), sum[h] (Σ exp(score - max)) and acc[h *
 * head_dim ...] (Σ exp(score - max) · v; zero to start). The attention
 * output of a range is acc / sum, and the states of two ranges merge
 * (phi_op_attention does both). */
typedef void (*phi_attn_fn)(int64_t head_dim, int32_t n_q, const float *q, const void *k,
                            const void *v, size_t row_stride, int64_t n_pos, float *max,
                            float *sum, float *acc);

typedef struct phi_kernels {
    const char *name;   /* "scalar", "avx2", "avx512", "neon", "neon-dotprod" */
    int32_t level;      /* PHI_KERNEL_* */

    /* Indexed by the activation type (F32, Q8_0, Q8_1, Q8_K). */
    phi_quantize_fn quantize_act[PHI_DT_COUNT];
    /* Indexed by the weight type. NULL: the type is not supported. */
    phi_vec_dot_fn vec_dot[PHI_DT_COUNT];
    phi_gemm_fn gemm[PHI_DT_COUNT];       /* NULL: loop over vec_dot */
    /* Products over packed matrices (kernels/packed.h). The loader packs a
     * type's matrices when pack[type] is set: only where the level's packed
     * kernels beat its row kernels on this CPU (the scalar ones are the
     * reference, slower than its row loop). Every slot is tested either way. */
    phi_gemm_packed_fn gemm_packed[PHI_DT_COUNT];
    bool pack[PHI_DT_COUNT];
    phi_dequant_fn dequant[PHI_DT_COUNT]; /* rows to float (embeddings, tests) */

    /* Float vector helpers (attention, norms). */
    float (*dot_f32)(int64_t n, const float *a, const float *b);
    void (*axpy_f32)(int64_t n, float alpha, const float *x, float *y); /* y += alpha*x */
    void (*scale_f32)(int64_t n, float alpha, float *x);                 /* x *= alpha */
    /* Element-wise work between the matrix products of a token. */
    void (*f32_to_f16)(int64_t n, const float *x, uint16_t *h); /* to nearest even */
    /* out = silu(gate)·up = gate / (1 + e^-gate) · up */
    void (*swiglu_f32)(int64_t n, const float *gate, const float *up, float *out);

    /* Indexed by the KV cache type (F32, F16). NULL: not supported. */
    phi_attn_fn attn[PHI_DT_COUNT];
} phi_kernels;

/* Activation type that weights of type w are dotted with; -1 if none. */
int phi_act_dtype(uint32_t w);

/* The table for a level (PHI_KERNEL_AUTO picks the best the CPU has, after
 * the PHI4_KERNEL environment variable). PHI_E_UNSUPPORTED when the level is
 * not compiled in or the CPU lacks it. Tables are static and immutable after
 * the first call; the call is thread-safe. */
int phi_kernels_get(int32_t level, const phi_kernels **out, phi_err *err);

/* Table builders, one per instruction-set file. */
void phi_kernels_init_scalar(phi_kernels *k);
#ifdef PHI_HAVE_AVX2
void phi_kernels_init_avx2(phi_kernels *k);
#endif
#ifdef PHI_HAVE_AVX512
void phi_kernels_init_avx512(phi_kernels *k);
#endif
#ifdef PHI_HAVE_NEON
void phi_kernels_init_neon(phi_kernels *k);
#endif
#ifdef PHI_HAVE_NEON_DOTPROD
void phi_kernels_init_neon_dotprod(phi_kernels *k);
#endif

#endif
