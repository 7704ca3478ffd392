/* ARMv8.2 dot-product (SDOT) kernels. This file alone is compiled with
 * -march=armv8.2-a+dotprod; the dispatcher installs it over the plain NEON
 * table on cores whose HWCAP has ASIMDDP, so only the integer dots live
 * here. Each has its scalar twin in scalar.c and is tested against it. */
#include <arm_neon.h>
#include <stdbool.h>

#include "kernels/kernels.h"
#include "kernels/neon_blocks.h"
#include "kernels/quant_blocks.h"
#include "phi4.h"

/* SDOT adds each four signed byte products into an int32 lane, without
 * saturating: exact for any bytes. */
static inline int32x4_t dot_i8x32(neon_q32 w, neon_q32 a)
{
    return vdotq_s32(vdotq_s32(vdupq_n_s32(0), w.val[0], a.val[0]), w.val[1], a.val[1]);
}

static float vec_dot_q8_0(int64_t n, const void *w, const void *a)
{
    return neon_dot_blocks(n, w, a, false, dot_i8x32);
}

static float vec_dot_q4_0(int64_t n, const void *w, const void *a)
{
    return neon_dot_blocks(n, w, a, true, dot_i8x32);
}

void phi_kernels_init_neon_dotprod(phi_kernels *k)
{
    k->name = "neon-dotprod";
    k->level = PHI_KERNEL_NEON_DOTPROD;

    k->vec_dot[PHI_DT_Q8_0] = vec_dot_q8_0;
    k->vec_dot[PHI_DT_Q4_0] = vec_dot_q4_0;
}
