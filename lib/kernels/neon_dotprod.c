/* ARMv8.2 dot-product (SDOT) kernels. This file alone is compiled with
 * -march=armv8.2-a+dotprod; the dispatcher installs it over the plain NEON
 * table on cores whose HWCAP has ASIMDDP, so only the integer dots live
 * here (neon_blocks.h, over the neon_dot below). Each has its scalar twin
 * in scalar.c and is tested against it. */
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

void phi_kernels_init_neon_dotprod(phi_kernels *k)
{
    k->name = "neon-dotprod";
    k->level = PHI_KERNEL_NEON_DOTPROD;

#define SET_DOT(T, name) k->vec_dot[PHI_DT_##T] = vec_dot_##name;
    PHI_BLOCK32_TYPES(SET_DOT)
    PHI_SUPERBLOCK_TYPES(SET_DOT)
#undef SET_DOT
}
