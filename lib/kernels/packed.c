/* The packed layout (packed.h): packing, unpacking, block sums. ISA-neutral:
 * every kernel level reads the same layout. */
#include "kernels/packed.h"

#include <string.h>

#include "core/dtype.h"
#include "kernels/quant_blocks.h"
#include "phi4.h"

bool phi_packed_type(uint32_t type)
{
    return type == PHI_DT_Q4_0 || type == PHI_DT_Q8_0 || type == PHI_DT_Q4_K ||
           type == PHI_DT_Q5_K || type == PHI_DT_Q6_K;
}

int phi_packed_offset(uint32_t type)
{
    return type == PHI_DT_Q4_0 ? 8 : type == PHI_DT_Q8_0 ? 128 : 0;
}

/* Bytes [first, first + 4 * vectors) of each row's block as vectors of 4
 * bytes per row, from `at` in the block column. */
static size_t interleaved(int r, int k, int first, size_t at)
{
    int i = k - first;
    return at + (size_t)(i / 4) * PHI_PACK_VECTOR + (size_t)r * 4 + (size_t)(i % 4);
}

/* Where byte k of row r's block goes in a block column (packed.h). */
static size_t packed_byte(uint32_t type, int r, int k)
{
    if (type == PHI_DT_Q6_K) { /* ql[128], qh[64], scales[16], d */
        if (k < 128)
            return interleaved(r, k, 0, PHI_PACK_Q6K_QL);
        if (k < 192)
            return interleaved(r, k, 128, PHI_PACK_Q6K_QH);
        if (k < 208)
            return interleaved(r, k, 192, PHI_PACK_SCALES);
        return 2 * (size_t)r + (size_t)(k - 208);
    }
    if (k < 2) /* d */
        return 2 * (size_t)r + (size_t)k;
    if (type != PHI_DT_Q4_K && type != PHI_DT_Q5_K)
        return interleaved(r, k, 2, PHI_PACK_SCALES);
    if (k < 4) /* dmin */
        return PHI_PACK_SCALES + 2 * (size_t)r + (size_t)(k - 2);
    if (k < 16) /* the 12 bytes of 6-bit scales and mins */
        return interleaved(r, k, 4, 2 * PHI_PACK_SCALES);
    if (type == PHI_DT_Q4_K)
        return interleaved(r, k, 16, PHI_PACK_Q4K_QUANTS);
    if (k < 48) /* Q5_K's qh */
        return interleaved(r, k, 16, PHI_PACK_Q4K_QUANTS);
    return interleaved(r, k, 48, PHI_PACK_Q5K_QUANTS);
}

/* Q8_0's quants go in as q + 128 (packed.h). */
static uint8_t flip(uint32_t type, int k)
{
    return type == PHI_DT_Q8_0 && k >= 2 ? 0x80 : 0x00;
}

void phi_pack_group(uint32_t type, int64_t n, const void *rows, size_t row_bytes, void *group)
{
    const phi_dtype_info *info = phi_dtype_get(type);
    const int block = (int)info->block_bytes;
    const size_t column = PHI_PACK_ROWS * info->block_bytes;
    uint8_t *out = group;
    for (int64_t b = 0; b < n / info->block; b++, out += column)
        for (int r = 0; r < PHI_PACK_ROWS; r++) {
            const uint8_t *x = (const uint8_t *)rows + (size_t)r * row_bytes + (size_t)b * (size_t)block;
            for (int k = 0; k < block; k++)
                out[packed_byte(type, r, k)] = x[k] ^ flip(type, k);
        }
}

void phi_unpack_row(uint32_t type, int64_t n, const void *group, int r, void *row)
{
    const phi_dtype_info *info = phi_dtype_get(type);
    const int block = (int)info->block_bytes;
    const size_t column = PHI_PACK_ROWS * info->block_bytes;
    const uint8_t *in = group;
    uint8_t *x = row;
    for (int64_t b = 0; b < n / info->block; b++, in += column, x += block)
        for (int k = 0; k < block; k++)
            x[k] = in[packed_byte(type, r, k)] ^ flip(type, k);
}

void phi_act_block_sums(const void *act_q8_0, int64_t n, int32_t *sums)
{
    const phi_block_q8_0 *a = act_q8_0;
    for (int64_t b = 0; b < n / PHI_QK32; b++) {
        int32_t s = 0;
        for (int j = 0; j < PHI_QK32; j++)
            s += a[b].qs[j];
        sums[b] = s;
    }
}
