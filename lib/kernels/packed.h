/* Weight rows interleaved in groups of PHI_PACK_ROWS for the matrix kernels.
 *
 * A matrix-vector product over the file's row layout spends most of its
 * instructions per block (unpack 16 or 32 bytes, scale, reduce one row) and
 * stalls on memory it cannot ask for early enough. In a packed group the
 * same block column of 64 rows lies together: 64 fp16 scales (128 bytes),
 * then the quants in slices of 4 bytes per row. A slice is 4 vectors of 64
 * bytes, one per quarter of the rows, whose 32-bit lane r holds the 4 bytes
 * of row 16·quarter + r. One vector load feeds 16 rows, and an activation
 * dword broadcast once feeds all 64: per weight byte, a quarter of the
 * activation loads and of the per-column work (scales, block sums) of 16-row
 * groups. Read from memory by two threads, 64-row groups took a Q4_0 matrix
 * of 8192 columns 1.3x faster than 16-row groups, and one of 3072 1.1x.
 *
 *   Q4_0: 4 slices; slice v, lane r of quarter h = row 16h + r's
 *         qs[4v .. 4v+3]: low nibbles are elements 4v.., high nibbles
 *         elements 16+4v..; stored as in the file (nibble = q + 8).
 *   Q8_0: 8 slices; slice v, lane r of quarter h = row 16h + r's
 *         qs[4v .. 4v+3] + 128 as unsigned bytes (VNNI multiplies unsigned
 *         by signed bytes).
 *
 * So both are "unsigned u = q + offset" (offset 8 or 128), and a row's
 * block sum is Σ u·a − offset·Σ a, with Σ a per activation block computed
 * once per token (phi_act_block_sums). A group takes exactly the bytes of its
 * 64 rows, so a matrix read into memory is packed in place; only whole
 * groups are packed, the last rows % 64 keep the file's layout. */
#ifndef PHI_KERNELS_PACKED_H
#define PHI_KERNELS_PACKED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    PHI_PACK_ROWS = 64,
    PHI_PACK_LANES = 16,    /* rows in one quant vector (a quarter) */
    PHI_PACK_SCALES = 128,  /* bytes of scales before a block column's quants */
    PHI_PACK_VECTOR = 64,   /* bytes of one quant vector */
    PHI_PACK_SLICE = PHI_PACK_VECTOR * (PHI_PACK_ROWS / PHI_PACK_LANES), /* 4 quant bytes of every row */
};

/* The packed types, all of 32-element blocks. */
#define PHI_PACKED32_TYPES(X) X(Q4_0, q4_0) X(Q8_0, q8_0)

/* Each kernel file's entry points gemm_packed_q4_0 and gemm_packed_q8_0,
 * over its gemm_packed_blocks32 with the type as a constant. */
#define PHI_PACKED32_ENTRY(T, name)                                                            \
    static void gemm_packed_##name(int64_t n, const void *w, int n_groups, const void *a,      \
                                   size_t a_stride, const int32_t *a_sums, int n_tok, float *y, \
                                   size_t y_stride)                                            \
    {                                                                                          \
        gemm_packed_blocks32(n, w, n_groups, a, a_stride, a_sums, n_tok, y, y_stride,          \
                             PHI_DT_##T);                                                      \
    }

/* Where quant byte k (0 .. 15 for Q4_0, 0 .. 31 for Q8_0) of row r lies in a
 * block column: slice k / 4, quarter r / 16, lane r % 16, byte k % 4. */
static inline size_t phi_packed_byte(int r, int k)
{
    return PHI_PACK_SCALES + (size_t)(k / 4) * PHI_PACK_SLICE +
           (size_t)(r / PHI_PACK_LANES) * PHI_PACK_VECTOR + (size_t)(r % PHI_PACK_LANES) * 4 +
           (size_t)(k % 4);
}

/* Whether `type` has a packed layout (Q4_0, Q8_0). */
bool phi_packed_type(uint32_t type);

/* The offset added to every quant (8 or 128); 0 if the type has no layout. */
int phi_packed_offset(uint32_t type);

/* Rows [0, 64) of n columns, row r at rows + r * row_bytes, into one group
 * at `group` (64 * row_bytes bytes; must not overlap `rows`). */
void phi_pack_group(uint32_t type, int64_t n, const void *rows, size_t row_bytes, void *group);

/* Row r of a group back in the file's layout (row_bytes bytes at `row`). */
void phi_unpack_row(uint32_t type, int64_t n, const void *group, int r, void *row);

/* Σ q over each 32-element block of one Q8_0 activation row (n / 32 sums). */
void phi_act_block_sums(const void *act_q8_0, int64_t n, int32_t *sums);

#endif
