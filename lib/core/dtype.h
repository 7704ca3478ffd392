/* Element types of weight tensors. The numbers are ggml's type codes, so a
 * GGUF tensor's type field is a phi_dtype as it stands; other formats map
 * their types onto these. */
#ifndef PHI_CORE_DTYPE_H
#define PHI_CORE_DTYPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum phi_dtype {
    PHI_DT_F32 = 0,
    PHI_DT_F16 = 1,
    PHI_DT_Q4_0 = 2,
    PHI_DT_Q4_1 = 3,
    PHI_DT_Q5_0 = 6,
    PHI_DT_Q5_1 = 7,
    PHI_DT_Q8_0 = 8,
    PHI_DT_Q8_1 = 9,
    PHI_DT_Q2_K = 10,
    PHI_DT_Q3_K = 11,
    PHI_DT_Q4_K = 12,
    PHI_DT_Q5_K = 13,
    PHI_DT_Q6_K = 14,
    PHI_DT_Q8_K = 15,
    PHI_DT_IQ2_XXS = 16,
    PHI_DT_IQ2_XS = 17,
    PHI_DT_IQ3_XXS = 18,
    PHI_DT_IQ1_S = 19,
    PHI_DT_IQ4_NL = 20,
    PHI_DT_IQ3_S = 21,
    PHI_DT_IQ2_S = 22,
    PHI_DT_IQ4_XS = 23,
    PHI_DT_I8 = 24,
    PHI_DT_I16 = 25,
    PHI_DT_I32 = 26,
    PHI_DT_I64 = 27,
    PHI_DT_F64 = 28,
    PHI_DT_IQ1_M = 29,
    PHI_DT_BF16 = 30,
    PHI_DT_TQ1_0 = 34,
    PHI_DT_TQ2_0 = 35,
    PHI_DT_MXFP4 = 39,
    PHI_DT_COUNT = 40 /* one past the largest code this build knows */
};

typedef struct phi_dtype_info {
    const char *name;    /* "Q4_K"; NULL for a code that names no type */
    uint32_t block;      /* elements per block */
    uint32_t block_bytes;
} phi_dtype_info;

/* NULL for codes outside the table or retired codes. */
const phi_dtype_info *phi_dtype_get(uint32_t code);
/* The type's name, or "unknown". */
const char *phi_dtype_name(uint32_t code);
/* Bytes of one row of n elements; false when n is not a whole number of
 * blocks, the type is unknown, or the size overflows. */
bool phi_dtype_row_bytes(uint32_t code, int64_t n, size_t *out);

#endif
