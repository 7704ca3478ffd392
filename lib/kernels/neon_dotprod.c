/* ARMv8.2 dot-product (SDOT) kernels. This file alone is compiled with
 * -march=armv8.2-a+dotprod; the dispatcher installs it over the plain NEON
 * table on cores whose HWCAP has ASIMDDP, so only the integer dots live
 * here (neon_blocks.h's vec_dots and gemm_neon.h's quantized gemms, over
 * the neon_dot below). Each has its scalar twin in scalar.c and is tested
 * against it. */
#include <arm_neon.h>
#include <stdbool.h>

#include "kernels/kernels.h"
#include "kernels/neon_blocks.h"
#include "kernels/quant_blocks.h"
#include "phi4.h"

/* SDOT adds each four signed byte products into an int32 lane, without
 * saturating: exact for any bytes. */
static inline int32x4_t neon_dot(int32x4_t acc, int8x16_t w, int8x16_t a)
{
    return vdotq_s32(acc, w, a);
}

NEON_BLOCK_DOTS

/* gemm_neon.h's tiles: with one SDOT per 16 products and no temporaries,
 * blocks of 32 go to 3 × 4 (12 accumulators, 6 registers of weights, 2 of
 * activations, the column's scales and offsets); super-blocks 4 × 4 as in
 * neon.c. The float family is neon.c's. */
enum { GEMM_RM_B32 = 3, GEMM_RN_B32 = 4, GEMM_RM_K = 4, GEMM_RN_K = 4 };
#include "kernels/gemm_neon.h"
PHI_BLOCK32_TYPES(PHI_GEMM_ENTRY)
PHI_SUPERBLOCK_TYPES(PHI_GEMM_ENTRY)

void phi_kernels_init_neon_dotprod(phi_kernels *k)
{
    k->name = "neon-dotprod";
    k->level = PHI_KERNEL_NEON_DOTPROD;

#define SET_DOT(T, name) k->vec_dot[PHI_DT_##T] = vec_dot_##name;
    PHI_BLOCK32_TYPES(SET_DOT)
    PHI_SUPERBLOCK_TYPES(SET_DOT)
#undef SET_DOT
#define SET_GEMM(T, name) k->gemm[PHI_DT_##T] = gemm_##name;
    PHI_BLOCK32_TYPES(SET_GEMM)
    PHI_SUPERBLOCK_TYPES(SET_GEMM)
#undef SET_GEMM
}
