#include "core/dtype.h"

#include "core/mem.h"

static const phi_dtype_info table[PHI_DT_COUNT] = {
    [PHI_DT_F32] = {"F32", 1, 4},
    [PHI_DT_F16] = {"F16", 1, 2},
    [PHI_DT_Q4_0] = {"Q4_0", 32, 18},
    [PHI_DT_Q4_1] = {"Q4_1", 32, 20},
    [PHI_DT_Q5_0] = {"Q5_0", 32, 22},
    [PHI_DT_Q5_1] = {"Q5_1", 32, 24},
    [PHI_DT_Q8_0] = {"Q8_0", 32, 34},
    [PHI_DT_Q8_1] = {"Q8_1", 32, 36},
    [PHI_DT_Q2_K] = {"Q2_K", 256, 84},
    [PHI_DT_Q3_K] = {"Q3_K", 256, 110},
    [PHI_DT_Q4_K] = {"Q4_K", 256, 144},
    [PHI_DT_Q5_K] = {"Q5_K", 256, 176},
    [PHI_DT_Q6_K] = {"Q6_K", 256, 210},
    [PHI_DT_Q8_K] = {"Q8_K", 256, 292},
    [PHI_DT_IQ2_XXS] = {"IQ2_XXS", 256, 66},
    [PHI_DT_IQ2_XS] = {"IQ2_XS", 256, 74},
    [PHI_DT_IQ3_XXS] = {"IQ3_XXS", 256, 98},
    [PHI_DT_IQ1_S] = {"IQ1_S", 256, 50},
    [PHI_DT_IQ4_NL] = {"IQ4_NL", 32, 18},
    [PHI_DT_IQ3_S] = {"IQ3_S", 256, 110},
    [PHI_DT_IQ2_S] = {"IQ2_S", 256, 82},
    [PHI_DT_IQ4_XS] = {"IQ4_XS", 256, 136},
    [PHI_DT_I8] = {"I8", 1, 1},
    [PHI_DT_I16] = {"I16", 1, 2},
    [PHI_DT_I32] = {"I32", 1, 4},
    [PHI_DT_I64] = {"I64", 1, 8},
    [PHI_DT_F64] = {"F64", 1, 8},
    [PHI_DT_IQ1_M] = {"IQ1_M", 256, 56},
    [PHI_DT_BF16] = {"BF16", 1, 2},
    [PHI_DT_TQ1_0] = {"TQ1_0", 256, 54},
    [PHI_DT_TQ2_0] = {"TQ2_0", 256, 66},
    [PHI_DT_MXFP4] = {"MXFP4", 32, 17},
};

const phi_dtype_info *phi_dtype_get(uint32_t code)
{
    if (code >= PHI_DT_COUNT || !table[code].name)
        return NULL;
    return &table[code];
}

const char *phi_dtype_name(uint32_t code)
{
    const phi_dtype_info *info = phi_dtype_get(code);
    return info ? info->name : "unknown";
}

bool phi_dtype_row_bytes(uint32_t code, int64_t n, size_t *out)
{
    const phi_dtype_info *info = phi_dtype_get(code);
    if (!info || n < 0 || n % info->block)
        return false;
    /* The block count must fit size_t before it is multiplied (32-bit hosts). */
    uint64_t blocks = (uint64_t)(n / info->block);
    if (blocks > SIZE_MAX)
        return false;
    return !phi_mul_overflows((size_t)blocks, info->block_bytes, out);
}
