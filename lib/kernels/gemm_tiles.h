/* The walk over the output of a matrix-matrix product (phi_gemm_fn) in
 * register tiles of rm weight rows × rn activation columns, which
 * gemm_x86.h and gemm_neon.h share, and the float family's tile, the same
 * over any float vector. Three families:
 *   float (F32, F16, BF16 against F32) and blocks of 32 (against Q8_0 or
 *       Q8_1): gemm_register_tiles, one tile of output at a time;
 *   super-blocks of 256 (the K-quants; IQ4_XS on NEON; against Q8_K):
 *       gemm_superblocks, each row's super-block decoded once, then used for
 *       every column of a group of GEMM_COL_GROUP (their accumulators would
 *       not fit the registers).
 *
 * Defined before it (all always inline):
 *   gemm_fv, GEMM_FLANES: a float vector and how many lanes it has;
 *   gemm_fv gemm_fzero(void), gemm_fv gemm_fload(const float *),
 *   gemm_fv gemm_fload_w(uint32_t type, const uint8_t *row, int64_t i)
 *       (weights i .. i + GEMM_FLANES - 1 of an F32 / F16 / BF16 row),
 *   gemm_fv gemm_ffma(gemm_fv a, gemm_fv b, gemm_fv c), float gemm_fsum(gemm_fv),
 *   float gemm_f16_to_f32(uint16_t);
 *   gemm_kacc: the super-block family's accumulator of one output across
 *       super-blocks; superblock_decoded: one row's decoded super-block.
 * Defined after it: the functions declared below. Before PHI_GEMM_ENTRY is
 * expanded: GEMM_RM_F, GEMM_RN_F, GEMM_RM_B32, GEMM_RN_B32, GEMM_RM_K,
 * GEMM_RN_K, each family's tile (rm <= GEMM_MAX_RM, rn <= GEMM_MAX_RN). */
#ifndef PHI_KERNELS_GEMM_TILES_H
#define PHI_KERNELS_GEMM_TILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/dtype.h"
#include "kernels/fp16.h"
#include "kernels/quant_blocks.h"

enum { GEMM_MAX_RM = 4, GEMM_MAX_RN = 6, GEMM_COL_GROUP = 32 };

/* Whether type is in the block-32 or the super-block family of this level. */
static inline bool gemm_block32_type(uint32_t type);
static inline bool gemm_superblock_type(uint32_t type);

/* One rm × rn tile of the block-32 family into out (rm, rn constants at
 * each call site). */
static inline __attribute__((always_inline)) void gemm_tile_block32(
    int64_t n, uint32_t type, int rm, int rn, const uint8_t *const w[GEMM_MAX_RM],
    const uint8_t *a, size_t a_stride, float out[GEMM_MAX_RM][GEMM_MAX_RN]);

static inline void superblock_decode(uint32_t type, const uint8_t *x, superblock_decoded *o);
static inline gemm_kacc gemm_kacc_zero(void);
static inline float gemm_kacc_sum(gemm_kacc acc);

/* Columns [c0, c0 + rn) of a group against the rm decoded rows of a
 * super-block, added to acc; y[c] is column c0 + c's super-block. */
static inline __attribute__((always_inline)) void gemm_tile_superblock(
    int rm, int rn, const superblock_decoded dec[GEMM_MAX_RM], const phi_block_q8_k *const y[],
    gemm_kacc acc[GEMM_MAX_RM][GEMM_COL_GROUP], int c0);

/* Where a tile's rows start: rows past the last valid one repeat it (read,
 * computed and dropped), so that every tile has rm constant. */
static inline void gemm_row_pointers(const void *w, size_t w_stride, int r0, int rm, int n_rows,
                                     const uint8_t *rows[GEMM_MAX_RM])
{
    for (int r = 0; r < rm; r++) {
        int row = r0 + r < n_rows ? r0 + r : n_rows - 1;
        rows[r] = (const uint8_t *)w + (size_t)row * w_stride;
    }
}

static inline void gemm_store(float *y, size_t y_stride, int r0, int rm, int n_rows, int c0,
                              int rn, const float out[GEMM_MAX_RM][GEMM_MAX_RN])
{
    for (int c = 0; c < rn; c++)
        for (int r = 0; r < rm && r0 + r < n_rows; r++)
            y[(size_t)(c0 + c) * y_stride + (size_t)(r0 + r)] = out[r][c];
}

/* ---- float weights ----------------------------------------------------- */

static inline float gemm_weight_at(uint32_t type, const uint8_t *row, int64_t i)
{
    const uint16_t *h = (const uint16_t *)row;
    switch (type) {
    case PHI_DT_F16: return gemm_f16_to_f32(h[i]);
    case PHI_DT_BF16: return phi_bf16_to_f32(h[i]);
    default: return ((const float *)row)[i];
    }
}

static inline __attribute__((always_inline)) void gemm_tile_float(
    int64_t n, uint32_t type, int rm, int rn, const uint8_t *const w[GEMM_MAX_RM],
    const uint8_t *a, size_t a_stride, float out[GEMM_MAX_RM][GEMM_MAX_RN])
{
    gemm_fv acc[GEMM_MAX_RM][GEMM_MAX_RN], wv[GEMM_MAX_RM];
    const float *col[GEMM_MAX_RN];
#pragma GCC unroll 6
    for (int c = 0; c < rn; c++) {
        col[c] = (const float *)(a + (size_t)c * a_stride);
#pragma GCC unroll 4
        for (int r = 0; r < rm; r++)
            acc[r][c] = gemm_fzero();
    }
    int64_t i = 0;
    for (; i + GEMM_FLANES <= n; i += GEMM_FLANES) {
#pragma GCC unroll 4
        for (int r = 0; r < rm; r++)
            wv[r] = gemm_fload_w(type, w[r], i);
#pragma GCC unroll 6
        for (int c = 0; c < rn; c++) {
            gemm_fv av = gemm_fload(col[c] + i);
#pragma GCC unroll 4
            for (int r = 0; r < rm; r++)
                acc[r][c] = gemm_ffma(wv[r], av, acc[r][c]);
        }
    }
    /* unrolled, so that acc[][] stays in registers (indexed by variables,
     * the array would live in memory, stored to in the loop above) */
#pragma GCC unroll 4
    for (int r = 0; r < rm; r++)
#pragma GCC unroll 6
        for (int c = 0; c < rn; c++)
            out[r][c] = gemm_fsum(acc[r][c]);
    for (int r = 0; r < rm; r++)
        for (int c = 0; c < rn; c++)
            for (int64_t t = i; t < n; t++)
                out[r][c] += gemm_weight_at(type, w[r], t) * col[c][t];
}

/* ---- the walk ------------------------------------------------------------ */

/* One rm × rn tile of the float or block-32 family into out. */
static inline __attribute__((always_inline)) void gemm_tile(
    int64_t n, uint32_t type, int rm, int rn, const uint8_t *const w[GEMM_MAX_RM],
    const uint8_t *a, size_t a_stride, float out[GEMM_MAX_RM][GEMM_MAX_RN])
{
    if (gemm_block32_type(type))
        gemm_tile_block32(n, type, rm, rn, w, a, a_stride, out);
    else
        gemm_tile_float(n, type, rm, rn, w, a, a_stride, out);
}

/* The phi_gemm_fn contract for the float and block-32 families: rm × rn
 * tiles, then the last columns in one narrower tile. */
static inline __attribute__((always_inline)) void gemm_register_tiles(
    int64_t n, uint32_t type, int rm, int rn, const void *w, size_t w_stride, int n_rows,
    const uint8_t *a, size_t a_stride, int n_cols, float *y, size_t y_stride)
{
    /* Zeroed once so that gcc -O3 does not take gemm_store's reads of the
     * entries a tile wrote for uninitialized ones. */
    float out[GEMM_MAX_RM][GEMM_MAX_RN] = {{0}};
    for (int r0 = 0; r0 < n_rows; r0 += rm) {
        const uint8_t *rows[GEMM_MAX_RM];
        gemm_row_pointers(w, w_stride, r0, rm, n_rows, rows);
        int c0 = 0;
        for (; c0 + rn <= n_cols; c0 += rn) {
            gemm_tile(n, type, rm, rn, rows, a + (size_t)c0 * a_stride, a_stride, out);
            gemm_store(y, y_stride, r0, rm, n_rows, c0, rn, out);
        }
        int left = n_cols - c0;
        const uint8_t *ac = a + (size_t)c0 * a_stride;
        switch (left) { /* cases of rn and above never come */
        case 5: gemm_tile(n, type, rm, 5 % rn, rows, ac, a_stride, out); break;
        case 4: gemm_tile(n, type, rm, 4 % rn, rows, ac, a_stride, out); break;
        case 3: gemm_tile(n, type, rm, 3 % rn, rows, ac, a_stride, out); break;
        case 2: gemm_tile(n, type, rm, 2 % rn, rows, ac, a_stride, out); break;
        case 1: gemm_tile(n, type, rm, 1 % rn, rows, ac, a_stride, out); break;
        default: break;
        }
        if (left > 0)
            gemm_store(y, y_stride, r0, rm, n_rows, c0, left, out);
    }
}

static inline __attribute__((always_inline)) void gemm_superblocks(
    int64_t n, uint32_t type, int rm, int rn, const void *w, size_t w_stride, int n_rows,
    const uint8_t *a, size_t a_stride, int n_cols, float *y, size_t y_stride)
{
    const size_t w_bytes = phi_dtype_get(type)->block_bytes;
    for (int r0 = 0; r0 < n_rows; r0 += rm) {
        const uint8_t *rows[GEMM_MAX_RM];
        gemm_row_pointers(w, w_stride, r0, rm, n_rows, rows);
        for (int g0 = 0; g0 < n_cols; g0 += GEMM_COL_GROUP) {
            int nc = n_cols - g0 < GEMM_COL_GROUP ? n_cols - g0 : GEMM_COL_GROUP;
            const uint8_t *ag = a + (size_t)g0 * a_stride;
            gemm_kacc acc[GEMM_MAX_RM][GEMM_COL_GROUP];
            for (int r = 0; r < rm; r++)
                for (int c = 0; c < nc; c++)
                    acc[r][c] = gemm_kacc_zero();
            for (int64_t i = 0; i < n / PHI_QK_K; i++) {
                superblock_decoded dec[GEMM_MAX_RM];
                for (int r = 0; r < rm; r++)
                    superblock_decode(type, rows[r] + (size_t)i * w_bytes, &dec[r]);
                const phi_block_q8_k *cols[GEMM_COL_GROUP];
                for (int c = 0; c < nc; c++)
                    cols[c] = (const phi_block_q8_k *)(ag + (size_t)c * a_stride) + i;
                int c = 0;
                for (; c + rn <= nc; c += rn)
                    gemm_tile_superblock(rm, rn, dec, cols + c, acc, c);
                switch (nc - c) { /* cases of rn and above never come */
                case 5: gemm_tile_superblock(rm, 5 % rn, dec, cols + c, acc, c); break;
                case 4: gemm_tile_superblock(rm, 4 % rn, dec, cols + c, acc, c); break;
                case 3: gemm_tile_superblock(rm, 3 % rn, dec, cols + c, acc, c); break;
                case 2: gemm_tile_superblock(rm, 2 % rn, dec, cols + c, acc, c); break;
                case 1: gemm_tile_superblock(rm, 1 % rn, dec, cols + c, acc, c); break;
                default: break;
                }
            }
            for (int r = 0; r < rm && r0 + r < n_rows; r++)
                for (int c = 0; c < nc; c++)
                    y[(size_t)(g0 + c) * y_stride + (size_t)(r0 + r)] = gemm_kacc_sum(acc[r][c]);
        }
    }
}

/* gemm_<name> for weight type T (a constant, so each entry is its own
 * straight-line code). */
#define PHI_GEMM_ENTRY(T, name)                                                            \
    static void gemm_##name(int64_t n, const void *w, size_t w_stride, int n_rows,         \
                            const void *a, size_t a_stride, int n_cols, float *y,          \
                            size_t y_stride)                                               \
    {                                                                                      \
        const uint8_t *ab = a;                                                             \
        if (gemm_superblock_type(PHI_DT_##T))                                              \
            gemm_superblocks(n, PHI_DT_##T, GEMM_RM_K, GEMM_RN_K, w, w_stride, n_rows, ab, \
                             a_stride, n_cols, y, y_stride);                               \
        else if (gemm_block32_type(PHI_DT_##T))                                            \
            gemm_register_tiles(n, PHI_DT_##T, GEMM_RM_B32, GEMM_RN_B32, w, w_stride,      \
                                n_rows, ab, a_stride, n_cols, y, y_stride);                \
        else                                                                               \
            gemm_register_tiles(n, PHI_DT_##T, GEMM_RM_F, GEMM_RN_F, w, w_stride, n_rows,  \
                                ab, a_stride, n_cols, y, y_stride);                        \
    }

#endif
