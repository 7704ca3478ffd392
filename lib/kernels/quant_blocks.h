/* Block structs of the quantized formats, byte-exact with GGUF. */
#ifndef PHI_KERNELS_QUANT_BLOCKS_H
#define PHI_KERNELS_QUANT_BLOCKS_H

#include <assert.h>
#include <stdint.h>

#define PHI_QK4_0 32
#define PHI_QK8_0 32

typedef struct {
    uint16_t d;                  /* fp16 scale */
    uint8_t qs[PHI_QK4_0 / 2];   /* element j: low nibble of qs[j]; j+16: high nibble */
} phi_block_q4_0;
static_assert(sizeof(phi_block_q4_0) == 18, "Q4_0 block is 18 bytes");

typedef struct {
    uint16_t d;
    int8_t qs[PHI_QK8_0];
} phi_block_q8_0;
static_assert(sizeof(phi_block_q8_0) == 34, "Q8_0 block is 34 bytes");

#endif
