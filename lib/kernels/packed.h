/* Weight rows interleaved in groups of PHI_PACK_ROWS for the matrix kernels.
 *
 * A matrix-vector product over the file's row layout spends most of its
 * instructions per block (unpack 16 or 32 bytes, scale, reduce one row) and
 * stalls on memory it cannot ask for early enough. In a packed group the
 * same block column of 64 rows lies together: first the fp16 scales of the
 * 64 rows (128 bytes per scale of a block), then the rest of each block, its
 * body, in slices of 4 bytes per row. A slice is 4 vectors of 64 bytes, one
 * per quarter of the rows, whose 32-bit lane r holds the 4 bytes of row
 * 16·quarter + r. One vector load feeds 16 rows, and an activation dword
 * broadcast once feeds all 64: per weight byte, a quarter of the activation
 * loads and of the per-column work (scales, block sums) of 16-row groups.
 * Read from memory by two threads, 64-row groups took a Q4_0 matrix of 8192
 * columns 1.3x faster than 16-row groups, and one of 3072 1.1x.
 *
 *   Q4_0: d; body qs[16]: 4 slices, low nibbles elements 4v.., high
 *         nibbles elements 16+4v.. of slice v; stored as in the file
 *         (nibble = q + 8).
 *   Q8_0: d; body qs[32] + 128 as unsigned bytes (VNNI multiplies unsigned
 *         by signed bytes): 8 slices.
 *   Q4_K: d, dmin; body scales[12] then qs[128] as in the file: 3 slices of
 *         6-bit scales and mins, then 32 of quants (slice 3 + 8c + v holds
 *         qs[32c + 4v ..], elements 64c + 4v.. and 64c + 32 + 4v..).
 *   Q5_K: d, dmin; body scales[12], qh[32], qs[128]: 3, 8 and 32 slices.
 *   Q6_K: d (the last 2 bytes of its block); body 192 bytes of 6-bit
 *         quants, 3 bytes for 4 (packed.c: q6k_encode), then scales[16]:
 *         48 and 4 slices. Slice 24h + 3v + j holds quant j of columns
 *         4v..4v+3 of half h in its low 6 bits; the top 2 bits of the 3
 *         slices' bytes, quant 3.
 *
 * Q4_0 and Q8_0 are "unsigned u = q + offset" (offset 8 or 128), and a row's
 * block sum is Σ u·a − offset·Σ a, with Σ a per activation block computed
 * once per token (phi_packed_act_sums). The K-quants' quants are unsigned
 * already; their mins take each 32-element sub-block's Σ a, which the same
 * call lays out as bytes a VNNI dot can multiply by 4 mins at once; Q6_K's
 * offset of 32 comes off with the Q8_K activation's own bsums. A group
 * takes exactly the bytes of its 64 rows, so a matrix read into memory is
 * packed in place; only whole groups are packed, the last rows % 64 keep the
 * file's layout. */
#ifndef PHI_KERNELS_PACKED_H
#define PHI_KERNELS_PACKED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    PHI_PACK_ROWS = 64,
    PHI_PACK_LANES = 16,    /* rows in one quant vector (a quarter) */
    PHI_PACK_SCALES = 128,  /* bytes of one fp16 scale of every row */
    PHI_PACK_VECTOR = 64,   /* bytes of one quant vector */
    PHI_PACK_SLICE = PHI_PACK_VECTOR * (PHI_PACK_ROWS / PHI_PACK_LANES), /* 4 body bytes of every row */
    PHI_PACK_MAX_BLOCK = 210, /* bytes of the largest packed block (Q6_K) */
};

/* The packed types of 32-element blocks. */
#define PHI_PACKED32_TYPES(X) X(Q4_0, q4_0) X(Q8_0, q8_0)
/* The packed K-quants, against Q8_K activations. */
#define PHI_PACKED_K_TYPES(X) X(Q4_K, q4_k) X(Q5_K, q5_k) X(Q6_K, q6_k)

/* Each kernel file's entry points gemm_packed_q4_0 and gemm_packed_q8_0,
 * over its gemm_packed_blocks32 with the type as a constant; likewise
 * gemm_packed_q4_k, _q5_k and _q6_k over gemm_packed_superblocks. */
#define PHI_PACKED_ENTRY(T, name, body)                                                        \
    static void gemm_packed_##name(int64_t n, const void *w, int n_groups, const void *a,      \
                                   size_t a_stride, const int32_t *a_sums, int n_tok, float *y, \
                                   size_t y_stride)                                            \
    {                                                                                          \
        body(n, w, n_groups, a, a_stride, a_sums, n_tok, y, y_stride, PHI_DT_##T);             \
    }
#define PHI_PACKED32_ENTRY(T, name) PHI_PACKED_ENTRY(T, name, gemm_packed_blocks32)
#define PHI_PACKED_K_ENTRY(T, name) PHI_PACKED_ENTRY(T, name, gemm_packed_superblocks)

/* Where body byte k of row r lies in a block column, from the end of the
 * scales: slice k / 4, quarter r / 16, lane r % 16, byte k % 4. */
static inline size_t phi_packed_byte(int r, int k)
{
    return (size_t)(k / 4) * PHI_PACK_SLICE + (size_t)(r / PHI_PACK_LANES) * PHI_PACK_VECTOR +
           (size_t)(r % PHI_PACK_LANES) * 4 + (size_t)(k % 4);
}

/* Whether `type` has a packed layout (Q4_0, Q8_0, Q4_K, Q5_K, Q6_K). */
bool phi_packed_type(uint32_t type);

/* The offset added to every quant (8 or 128; 0 for the K-quants, whose
 * quants are unsigned). */
int phi_packed_offset(uint32_t type);

/* Rows [0, 64) of n columns, row r at rows + r * row_bytes, into one group
 * at `group` (64 * row_bytes bytes; must not overlap `rows`). */
void phi_pack_group(uint32_t type, int64_t n, const void *rows, size_t row_bytes, void *group);

/* Row r of a group back in the file's layout (row_bytes bytes at `row`). */
void phi_unpack_row(uint32_t type, int64_t n, const void *group, int r, void *row);

/* 32-bit words per token of the activation sums of a packed type's kernel:
 * n / 32 for Q4_0 and Q8_0, n / 64 for Q4_K and Q5_K, none for Q6_K. */
size_t phi_packed_sums_words(uint32_t type, int64_t n);

/* The activation sums of one activation row (Q8_0 for Q4_0 and Q8_0, Q8_K
 * for the K-quants), phi_packed_sums_words(type, n) words at `sums`:
 *   Q4_0, Q8_0: Σ q over each 32-element block.
 *   Q4_K, Q5_K: per super-block, 4 words of bytes: the sums s_j of its 8
 *   sub-blocks of 32 (bsums[2j] + bsums[2j+1], |s_j| <= 32·127) split as
 *   s_j = 64·hi_j + lo_j, hi_j in [-64, 63], lo_j in [0, 63]; word 0 holds
 *   hi_0..3, word 1 lo_0..3, word 2 hi_4..7, word 3 lo_4..7, so that a VNNI
 *   dot of 4 mins (unsigned bytes) with a word is exact. */
void phi_packed_act_sums(uint32_t type, const void *act, int64_t n, int32_t *sums);

#endif
