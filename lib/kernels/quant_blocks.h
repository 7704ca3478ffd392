/* Block structs of the quantized formats, byte-exact with GGUF, and the small
 * unpacking helpers every kernel level shares (per block, not per element).
 * Layouts and formulas: ../shared/docs/gguf-and-quants.md §3. */
#ifndef PHI_KERNELS_QUANT_BLOCKS_H
#define PHI_KERNELS_QUANT_BLOCKS_H

#include <assert.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/dtype.h"

#define PHI_QK32 32   /* elements of a Q4_0 .. Q8_1, IQ4_NL block */
#define PHI_QK_K 256  /* elements of a K-quant / IQ4_XS / Q8_K super-block */
#define PHI_QK4_0 PHI_QK32
#define PHI_QK8_0 PHI_QK32

/* Element j of a 32-block with nibbles: low nibble of qs[j] for j < 16, high
 * nibble of qs[j-16] otherwise (Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL, IQ4_XS). */
typedef struct {
    uint16_t d;                  /* fp16 scale */
    uint8_t qs[PHI_QK32 / 2];    /* x = d * (nibble - 8) */
} phi_block_q4_0;
static_assert(sizeof(phi_block_q4_0) == 18, "Q4_0 block is 18 bytes");

typedef struct {
    uint16_t d, m;               /* fp16; x = d * nibble + m */
    uint8_t qs[PHI_QK32 / 2];
} phi_block_q4_1;
static_assert(sizeof(phi_block_q4_1) == 20, "Q4_1 block is 20 bytes");

typedef struct {
    uint16_t d;
    uint8_t qh[4];               /* bit j of the LE u32: bit 4 of element j */
    uint8_t qs[PHI_QK32 / 2];    /* x = d * (q - 16), q in 0..31 */
} phi_block_q5_0;
static_assert(sizeof(phi_block_q5_0) == 22, "Q5_0 block is 22 bytes");

typedef struct {
    uint16_t d, m;               /* x = d * q + m */
    uint8_t qh[4];
    uint8_t qs[PHI_QK32 / 2];
} phi_block_q5_1;
static_assert(sizeof(phi_block_q5_1) == 24, "Q5_1 block is 24 bytes");

typedef struct {
    uint16_t d;
    int8_t qs[PHI_QK32];         /* x = d * q */
} phi_block_q8_0;
static_assert(sizeof(phi_block_q8_0) == 34, "Q8_0 block is 34 bytes");

/* Activation side of Q4_1 / Q5_1: s = fp16(d * Σ qs) carries the block sum,
 * which the weight's offset m multiplies. */
typedef struct {
    uint16_t d, s;
    int8_t qs[PHI_QK32];
} phi_block_q8_1;
static_assert(sizeof(phi_block_q8_1) == 36, "Q8_1 block is 36 bytes");

/* Same layout as Q4_0; x = d * phi_iq4nl_values[nibble]. */
typedef phi_block_q4_0 phi_block_iq4_nl;

/* Element e = 128h + 32j + l (half h, j 0..3, l 0..31) of Q2_K and Q3_K:
 * low bits (qs[32h + l] >> 2j) & 3; its 16-element group (and scale) is e/16. */
typedef struct {
    uint8_t scales[PHI_QK_K / 16]; /* low nibble: scale, high nibble: min */
    uint8_t qs[PHI_QK_K / 4];
    uint16_t d, dmin;            /* x = d*(s & 15)*q - dmin*(s >> 4) */
} phi_block_q2_k;
static_assert(sizeof(phi_block_q2_k) == 84, "Q2_K block is 84 bytes");

typedef struct {
    uint8_t hmask[PHI_QK_K / 8]; /* element e above: bit 4h + j of hmask[l] */
    uint8_t qs[PHI_QK_K / 4];
    uint8_t scales[12];          /* sixteen 6-bit scales, phi_unpack_q3k_scales */
    uint16_t d;                  /* x = d*(scale-32)*(low + 4*hbit - 4) */
} phi_block_q3_k;
static_assert(sizeof(phi_block_q3_k) == 110, "Q3_K block is 110 bytes");

/* Element 64c + l (l < 32) is the low nibble of qs[32c + l], in sub-block
 * 2c; element 64c + 32 + l the high nibble, in sub-block 2c+1. */
typedef struct {
    uint16_t d, dmin;
    uint8_t scales[12];          /* eight 6-bit scales and mins, phi_unpack_q4k_scales */
    uint8_t qs[PHI_QK_K / 2];    /* x = d*sc*q - dmin*m */
} phi_block_q4_k;
static_assert(sizeof(phi_block_q4_k) == 144, "Q4_K block is 144 bytes");

typedef struct {
    uint16_t d, dmin;
    uint8_t scales[12];
    uint8_t qh[PHI_QK_K / 8];    /* bit 2c of qh[l]: element 64c+l; bit 2c+1: 64c+32+l */
    uint8_t qs[PHI_QK_K / 2];
} phi_block_q5_k;
static_assert(sizeof(phi_block_q5_k) == 176, "Q5_K block is 176 bytes");

/* Half h of 128 elements uses ql + 64h, qh + 32h; for l < 32 element
 * 128h + 32g + l takes (g odd ? ql[l+32] : ql[l]) >> (g >= 2 ? 4 : 0) as its
 * low nibble and (qh[l] >> 2g) & 3 as bits 4-5; scale index e/16. */
typedef struct {
    uint8_t ql[PHI_QK_K / 2];
    uint8_t qh[PHI_QK_K / 4];
    int8_t scales[PHI_QK_K / 16];
    uint16_t d;                  /* x = d*scale*(q - 32) */
} phi_block_q6_k;
static_assert(sizeof(phi_block_q6_k) == 210, "Q6_K block is 210 bytes");

/* Activation side of the K-quants and IQ4_XS: bsums[k] = Σ qs[16k .. 16k+15]
 * lets offsets and mins skip the individual activations. */
typedef struct {
    float d;
    int8_t qs[PHI_QK_K];
    int16_t bsums[PHI_QK_K / 16];
} phi_block_q8_k;
static_assert(sizeof(phi_block_q8_k) == 292, "Q8_K block is 292 bytes");

/* 8 sub-blocks ib of 32, each laid out as a Q4_0 block's nibbles at qs + 16ib. */
typedef struct {
    uint16_t d;
    uint16_t scales_h;           /* bits 2ib..2ib+1: bits 4-5 of scale ib */
    uint8_t scales_l[4];         /* nibble ib%2 of byte ib/2: bits 0-3 of scale ib */
    uint8_t qs[PHI_QK_K / 2];    /* x = d*(scale-32)*phi_iq4nl_values[nibble] */
} phi_block_iq4_xs;
static_assert(sizeof(phi_block_iq4_xs) == 136, "IQ4_XS block is 136 bytes");

/* The block types of the kernel tables as X(TYPE, name) lists, for the
 * per-type wrappers and the table entries of every level. */
#define PHI_BLOCK32_TYPES(X) \
    X(Q8_0, q8_0) X(Q4_0, q4_0) X(Q4_1, q4_1) X(Q5_0, q5_0) X(Q5_1, q5_1) X(IQ4_NL, iq4_nl)
#define PHI_SUPERBLOCK_TYPES(X) \
    X(Q2_K, q2_k) X(Q3_K, q3_k) X(Q4_K, q4_k) X(Q5_K, q5_k) X(Q6_K, q6_k) X(IQ4_XS, iq4_xs)

/* Of the blocks of 32, Q4_1 and Q5_1 carry an offset m after d (and pair
 * with Q8_1 activations); every one starts with its fp16 scale d. */
static inline bool phi_block32_has_offset(uint32_t type)
{
    return type == PHI_DT_Q4_1 || type == PHI_DT_Q5_1;
}

static inline size_t phi_block32_bytes(uint32_t type)
{
    switch (type) {
    case PHI_DT_Q8_0: return sizeof(phi_block_q8_0);
    case PHI_DT_Q4_1: return sizeof(phi_block_q4_1);
    case PHI_DT_Q5_0: return sizeof(phi_block_q5_0);
    case PHI_DT_Q5_1: return sizeof(phi_block_q5_1);
    default: return sizeof(phi_block_q4_0); /* Q4_0, IQ4_NL */
    }
}

/* The non-linear 4-bit codebook of IQ4_NL and IQ4_XS. */
static const int8_t phi_iq4nl_values[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                            1,    13,   25,  38,  53,  69,  89,  113};

/* The scale of one block of activations quantized to int8 (Q8_0, Q8_1, Q8_K),
 * from the block's largest |x| (NaNs left out) and whether it holds a NaN;
 * *inv is what every x is multiplied by before rounding. Every level calls
 * this, so they agree to the bit. Blocks whose scale has no finite inverse
 * (all zero, amax below ~4e-37 where 1/d overflows, a NaN) quantize to
 * zeros; a NaN block gets a NaN scale, so the NaN still reaches the dot. */
static inline float phi_q8_scale(float amax, bool has_nan, float *inv)
{
    float d = has_nan ? NAN : amax / 127.0f;
    float id = 1.0f / d;
    *inv = isfinite(id) ? id : 0.0f;
    return d;
}

static inline uint32_t phi_load_u32(const void *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* Q4_K / Q5_K: the 8 scales and 8 mins (0..63) out of 12 bytes. Bytes 0-3
 * and 4-7 hold scales / mins 0-3 in their low 6 bits and bits 4-5 of scales /
 * mins 4-7 in their top 2; bytes 8-11 hold bits 0-3 of scales 4-7 (low
 * nibble) and mins 4-7 (high nibble). Word-wide, as every level uses it. */
static inline void phi_unpack_q4k_scales(const uint8_t b[12], uint8_t sc[8], uint8_t m[8])
{
    uint32_t w0 = phi_load_u32(b), w1 = phi_load_u32(b + 4), w2 = phi_load_u32(b + 8);
    uint32_t s_lo = w0 & 0x3f3f3f3fu, m_lo = w1 & 0x3f3f3f3fu;
    uint32_t s_hi = (w2 & 0x0f0f0f0fu) | ((w0 >> 2) & 0x30303030u);
    uint32_t m_hi = ((w2 >> 4) & 0x0f0f0f0fu) | ((w1 >> 2) & 0x30303030u);
    memcpy(sc, &s_lo, 4);
    memcpy(sc + 4, &s_hi, 4);
    memcpy(m, &m_lo, 4);
    memcpy(m + 4, &m_hi, 4);
}

/* Q3_K: the 16 scales minus 32 (-32..31) out of 12 bytes. Scale i takes its
 * low nibble from byte i%8 (low nibble for i < 8, high for i >= 8) and bits
 * 4-5 from byte 8 + i%4, bit pair i/4. */
static inline void phi_unpack_q3k_scales(const uint8_t b[12], int8_t sc[16])
{
    uint32_t w0 = phi_load_u32(b), w1 = phi_load_u32(b + 4), w2 = phi_load_u32(b + 8);
    uint32_t s[4] = {
        (w0 & 0x0f0f0f0fu) | ((w2 << 4) & 0x30303030u),
        (w1 & 0x0f0f0f0fu) | ((w2 << 2) & 0x30303030u),
        ((w0 >> 4) & 0x0f0f0f0fu) | (w2 & 0x30303030u),
        ((w1 >> 4) & 0x0f0f0f0fu) | ((w2 >> 2) & 0x30303030u),
    };
    /* 32 off each byte without borrows between them: with the top bit set
     * first, every byte is at least 0x80 before the subtraction */
    for (int i = 0; i < 4; i++)
        s[i] = ((s[i] | 0x80808080u) - 0x20202020u) ^ 0x80808080u;
    memcpy(sc, s, 16);
}

/* IQ4_XS: scale of sub-block ib minus 32 (-32..31). */
static inline int phi_iq4xs_scale(const phi_block_iq4_xs *b, int ib)
{
    int lo = (b->scales_l[ib / 2] >> (4 * (ib % 2))) & 0xf;
    int hi = (b->scales_h >> (2 * ib)) & 3;
    return (lo | (hi << 4)) - 32;
}

#endif
