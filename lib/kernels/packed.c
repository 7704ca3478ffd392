/* The packed layout (packed.h): packing, unpacking, block sums. ISA-neutral:
 * every kernel level reads the same layout. */
#include "kernels/packed.h"

#include <string.h>

#include "kernels/quant_blocks.h"
#include "phi4.h"

bool phi_packed_type(uint32_t type)
{
    return type == PHI_DT_Q4_0 || type == PHI_DT_Q8_0;
}

int phi_packed_offset(uint32_t type)
{
    return type == PHI_DT_Q4_0 ? 8 : type == PHI_DT_Q8_0 ? 128 : 0;
}

/* Quant bytes per block; in the file's layout they follow the fp16 scale d. */
static int quant_bytes(uint32_t type)
{
    return type == PHI_DT_Q4_0 ? PHI_QK32 / 2 : PHI_QK32;
}

void phi_pack_group(uint32_t type, int64_t n, const void *rows, size_t row_bytes, void *group)
{
    const size_t block = phi_block32_bytes(type), column = PHI_PACK_ROWS * block;
    const int nq = quant_bytes(type);
    const uint8_t flip = type == PHI_DT_Q8_0 ? 0x80 : 0x00; /* q + 128 as unsigned */
    uint8_t *out = group;
    for (int64_t b = 0; b < n / PHI_QK32; b++, out += column) {
        for (int r = 0; r < PHI_PACK_ROWS; r++) {
            const uint8_t *x = (const uint8_t *)rows + (size_t)r * row_bytes + (size_t)b * block;
            memcpy(out + 2 * r, x, 2);
            for (int k = 0; k < nq; k++)
                out[phi_packed_byte(r, k)] = x[2 + k] ^ flip;
        }
    }
}

void phi_unpack_row(uint32_t type, int64_t n, const void *group, int r, void *row)
{
    const size_t block = phi_block32_bytes(type), column = PHI_PACK_ROWS * block;
    const int nq = quant_bytes(type);
    const uint8_t flip = type == PHI_DT_Q8_0 ? 0x80 : 0x00;
    const uint8_t *in = group;
    uint8_t *x = row;
    for (int64_t b = 0; b < n / PHI_QK32; b++, in += column, x += block) {
        memcpy(x, in + 2 * r, 2);
        for (int k = 0; k < nq; k++)
            x[2 + k] = in[phi_packed_byte(r, k)] ^ flip;
    }
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
