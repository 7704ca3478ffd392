/* The packed layout (packed.h): packing, unpacking, activation sums.
 * ISA-neutral: every kernel level reads the same layout. */
#include "kernels/packed.h"

#include <stddef.h>
#include <string.h>

#include "core/dtype.h"
#include "kernels/quant_blocks.h"
#include "phi4.h"

/* How a packed type's block splits into fp16 scales and body: the scales
 * lead the block, or (Q6_K) end it; the body is the rest, sliced as it is
 * in the file except for Q6_K's quants (q6k_encode). */
typedef struct {
    int scales;       /* fp16 scales of a block (d; d, dmin) */
    size_t scales_at; /* their offset in the block */
    size_t body_at;   /* the body's offset in the block */
    uint8_t flip;     /* XOR on every body byte: Q8_0's q + 128 */
} packed_format;

static bool format_of(uint32_t type, packed_format *f)
{
    switch (type) {
    case PHI_DT_Q4_0: *f = (packed_format){1, 0, 2, 0x00}; return true;
    case PHI_DT_Q8_0: *f = (packed_format){1, 0, 2, 0x80}; return true;
    case PHI_DT_Q4_K:
    case PHI_DT_Q5_K: *f = (packed_format){2, 0, 4, 0x00}; return true;
    case PHI_DT_Q6_K: *f = (packed_format){1, offsetof(phi_block_q6_k, d), 0, 0x00}; return true;
    default: return false;
    }
}

bool phi_packed_type(uint32_t type)
{
    packed_format f;
    return format_of(type, &f);
}

int phi_packed_offset(uint32_t type)
{
    return type == PHI_DT_Q4_0 ? 8 : type == PHI_DT_Q8_0 ? 128 : 0;
}

/* Q6_K's 6-bit quant of element 128h + 32g + l, as the file splits it
 * (phi_block_q6_k) and as the packed body holds it: for each half h and
 * column l, three bytes j = 0..2 (q6k_byte) carry quants g = j in their low
 * 6 bits and 2 bits of quant g = 3 each (bits 0-1, 2-3, 4-5) in their top 2.
 * The three bytes of columns 4v..4v+3 are adjacent 32-bit lanes, so a decode
 * step reads each block column's quants in one sequential sweep, not in
 * three interleaved streams (on a Zen 4 a small gain, within its noise).
 * The scales follow the 192 quant bytes unchanged. */
enum { Q6K_BODY = offsetof(phi_block_q6_k, d) }; /* a Q6_K block without d */

static int q6k_byte(int h, int j, int l)
{
    return 96 * h + 12 * (l / 4) + 4 * j + l % 4;
}

static void q6k_encode(const phi_block_q6_k *x, uint8_t body[Q6K_BODY])
{
    for (int h = 0; h < 2; h++)
        for (int l = 0; l < 32; l++) {
            uint8_t q[4];
            for (int g = 0; g < 4; g++) {
                int low = x->ql[64 * h + l + 32 * (g & 1)] >> (g >= 2 ? 4 : 0) & 0x0f;
                q[g] = (uint8_t)(low | ((x->qh[32 * h + l] >> (2 * g)) & 3) << 4);
            }
            for (int j = 0; j < 3; j++)
                body[q6k_byte(h, j, l)] = (uint8_t)(q[j] | (q[3] >> (2 * j) & 3) << 6);
        }
    memcpy(body + 192, x->scales, sizeof x->scales);
}

static void q6k_decode(const uint8_t body[Q6K_BODY], phi_block_q6_k *x)
{
    for (int h = 0; h < 2; h++)
        for (int l = 0; l < 32; l++) {
            uint8_t q[4] = {0, 0, 0, 0};
            for (int j = 0; j < 3; j++) {
                uint8_t b = body[q6k_byte(h, j, l)];
                q[j] = b & 63;
                q[3] |= (uint8_t)((b >> 6) << (2 * j));
            }
            x->ql[64 * h + l] = (uint8_t)((q[0] & 15) | (q[2] & 15) << 4);
            x->ql[64 * h + 32 + l] = (uint8_t)((q[1] & 15) | (q[3] & 15) << 4);
            x->qh[32 * h + l] = (uint8_t)(q[0] >> 4 | (q[1] >> 4) << 2 | (q[2] >> 4) << 4 | (q[3] >> 4) << 6);
        }
    memcpy(x->scales, body + 192, sizeof x->scales);
}

/* A group is written in order: per block column the rows' scales, then
 * each 4 body bytes of rows 0..63 (phi_packed_byte), so packing gathers
 * 32-bit lanes out of the rows and writes one stream. */
void phi_pack_group(uint32_t type, int64_t n, const void *rows, size_t row_bytes, void *group)
{
    packed_format f = {0, 0, 0, 0};
    format_of(type, &f);
    const phi_dtype_info *info = phi_dtype_get(type);
    const size_t block = info->block_bytes, body = block - 2 * (size_t)f.scales;
    const uint32_t flip = f.flip * 0x01010101u;
    uint8_t encoded[PHI_PACK_ROWS][Q6K_BODY];
    uint8_t *out = group;
    for (int64_t b = 0; b < n / info->block; b++) {
        const uint8_t *blocks = (const uint8_t *)rows + (size_t)b * block, *bodies[PHI_PACK_ROWS];
        for (int r = 0; r < PHI_PACK_ROWS; r++) {
            const uint8_t *x = blocks + (size_t)r * row_bytes;
            bodies[r] = x + f.body_at;
            if (type == PHI_DT_Q6_K) {
                phi_block_q6_k q6;
                memcpy(&q6, x, sizeof q6);
                q6k_encode(&q6, encoded[r]);
                bodies[r] = encoded[r];
            }
        }
        for (int s = 0; s < f.scales; s++)
            for (int r = 0; r < PHI_PACK_ROWS; r++, out += 2)
                memcpy(out, blocks + (size_t)r * row_bytes + f.scales_at + 2 * s, 2);
        for (size_t k = 0; k < body; k += 4) /* bodies are whole 32-bit lanes */
            for (int r = 0; r < PHI_PACK_ROWS; r++, out += 4) {
                uint32_t lane;
                memcpy(&lane, bodies[r] + k, 4);
                lane ^= flip;
                memcpy(out, &lane, 4);
            }
    }
}

void phi_unpack_row(uint32_t type, int64_t n, const void *group, int r, void *row)
{
    packed_format f = {0, 0, 0, 0};
    format_of(type, &f);
    const phi_dtype_info *info = phi_dtype_get(type);
    const size_t block = info->block_bytes, column = PHI_PACK_ROWS * block;
    const size_t body = block - 2 * (size_t)f.scales;
    const uint32_t flip = f.flip * 0x01010101u;
    const uint8_t *in = group;
    uint8_t *out = row, lanes[PHI_PACK_MAX_BLOCK];
    for (int64_t b = 0; b < n / info->block; b++, in += column, out += block) {
        for (int s = 0; s < f.scales; s++)
            memcpy(out + f.scales_at + 2 * s, in + (size_t)s * PHI_PACK_SCALES + 2 * (size_t)r, 2);
        for (size_t k = 0; k < body; k += 4) {
            uint32_t lane;
            memcpy(&lane, in + (size_t)f.scales * PHI_PACK_SCALES + phi_packed_byte(r, (int)k), 4);
            lane ^= flip;
            memcpy(lanes + k, &lane, 4);
        }
        if (type == PHI_DT_Q6_K) {
            phi_block_q6_k q6;
            memcpy(&q6, out, sizeof q6); /* keeps d */
            q6k_decode(lanes, &q6);
            memcpy(out, &q6, sizeof q6);
        } else {
            memcpy(out + f.body_at, lanes, body);
        }
    }
}

size_t phi_packed_sums_words(uint32_t type, int64_t n)
{
    if (type == PHI_DT_Q4_K || type == PHI_DT_Q5_K)
        return (size_t)(n / PHI_QK_K) * 4;
    return type == PHI_DT_Q4_0 || type == PHI_DT_Q8_0 ? (size_t)(n / PHI_QK32) : 0;
}

void phi_packed_act_sums(uint32_t type, const void *act, int64_t n, int32_t *sums)
{
    if (type == PHI_DT_Q4_K || type == PHI_DT_Q5_K) {
        const phi_block_q8_k *a = act;
        for (int64_t b = 0; b < n / PHI_QK_K; b++, sums += 4) {
            int8_t bytes[16]; /* hi_0..3, lo_0..3, hi_4..7, lo_4..7 */
            for (int j = 0; j < 8; j++) {
                int s = a[b].bsums[2 * j] + a[b].bsums[2 * j + 1];
                int hi = (s - (s & 63)) / 64; /* floor(s / 64) */
                bytes[8 * (j / 4) + j % 4] = (int8_t)hi;
                bytes[8 * (j / 4) + 4 + j % 4] = (int8_t)(s & 63);
            }
            memcpy(sums, bytes, sizeof bytes);
        }
        return;
    }
    const phi_block_q8_0 *a = act;
    for (size_t b = 0; b < phi_packed_sums_words(type, n); b++) {
        int32_t s = 0;
        for (int j = 0; j < PHI_QK32; j++)
            s += a[b].qs[j];
        sums[b] = s;
    }
}
