/* Choosing a kernel table once, from what the CPU can do. */
#include <stdlib.h>
#include <string.h>
#include <threads.h>

#include "kernels/kernels.h"
#include "phi4.h"

#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
/* The kernel's AT_HWCAP bits (arch/arm64 uapi hwcap.h), for older headers. */
#ifndef HWCAP_ASIMD
#define HWCAP_ASIMD (1 << 1)
#endif
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif
#endif

int phi_act_dtype(uint32_t w)
{
    switch (w) {
    case PHI_DT_F32: case PHI_DT_F16: case PHI_DT_BF16:
        return PHI_DT_F32;
    case PHI_DT_Q4_0: case PHI_DT_Q5_0: case PHI_DT_Q8_0: case PHI_DT_IQ4_NL:
        return PHI_DT_Q8_0;
    case PHI_DT_Q4_1: case PHI_DT_Q5_1: /* their offset m needs the block sums */
        return PHI_DT_Q8_1;
    case PHI_DT_Q2_K: case PHI_DT_Q3_K: case PHI_DT_Q4_K: case PHI_DT_Q5_K: case PHI_DT_Q6_K:
    case PHI_DT_IQ4_XS:
        return PHI_DT_Q8_K;
    default:
        return -1;
    }
}

enum { N_LEVELS = 6 };
static phi_kernels tables[N_LEVELS];
static bool available[N_LEVELS];
static once_flag tables_once = ONCE_FLAG_INIT;

static bool cpu_has(int32_t level)
{
    switch (level) {
    case PHI_KERNEL_SCALAR:
        return true;
#if defined(__x86_64__) || defined(__i386__)
    case PHI_KERNEL_AVX2:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
               __builtin_cpu_supports("f16c");
    case PHI_KERNEL_AVX512:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni") &&
               __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c") &&
               cpu_has(PHI_KERNEL_AVX2); /* its table is built over the AVX2 one */
#endif
#if defined(__aarch64__) && defined(__linux__)
    case PHI_KERNEL_NEON:
        return (getauxval(AT_HWCAP) & HWCAP_ASIMD) != 0;
    case PHI_KERNEL_NEON_DOTPROD:
        return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0 &&
               cpu_has(PHI_KERNEL_NEON); /* its table is built over the NEON one */
#elif defined(__aarch64__)
    case PHI_KERNEL_NEON:
        return true; /* AdvSIMD is part of every ARMv8-A core; SDOT is not known here */
#endif
    default:
        return false;
    }
}

static void build_tables(void)
{
    phi_kernels_init_scalar(&tables[PHI_KERNEL_SCALAR]);
    available[PHI_KERNEL_SCALAR] = true;
#ifdef PHI_HAVE_AVX2
    if (cpu_has(PHI_KERNEL_AVX2)) {
        phi_kernels_init_scalar(&tables[PHI_KERNEL_AVX2]);
        phi_kernels_init_avx2(&tables[PHI_KERNEL_AVX2]);
        available[PHI_KERNEL_AVX2] = true;
    }
#endif
#ifdef PHI_HAVE_AVX512
    if (cpu_has(PHI_KERNEL_AVX512)) {
        phi_kernels_init_scalar(&tables[PHI_KERNEL_AVX512]);
        phi_kernels_init_avx2(&tables[PHI_KERNEL_AVX512]);
        phi_kernels_init_avx512(&tables[PHI_KERNEL_AVX512]);
        available[PHI_KERNEL_AVX512] = true;
    }
#endif
#ifdef PHI_HAVE_NEON
    if (cpu_has(PHI_KERNEL_NEON)) {
        phi_kernels_init_scalar(&tables[PHI_KERNEL_NEON]);
        phi_kernels_init_neon(&tables[PHI_KERNEL_NEON]);
        available[PHI_KERNEL_NEON] = true;
    }
#endif
#ifdef PHI_HAVE_NEON_DOTPROD
    if (cpu_has(PHI_KERNEL_NEON_DOTPROD)) {
        phi_kernels_init_scalar(&tables[PHI_KERNEL_NEON_DOTPROD]);
        phi_kernels_init_neon(&tables[PHI_KERNEL_NEON_DOTPROD]);
        phi_kernels_init_neon_dotprod(&tables[PHI_KERNEL_NEON_DOTPROD]);
        available[PHI_KERNEL_NEON_DOTPROD] = true;
    }
#endif
    (void)cpu_has;
}

static const char *const level_names[N_LEVELS] = {
    "auto", "scalar", "avx2", "avx512", "neon", "neon-dotprod",
};

static int32_t level_from_env(void)
{
    const char *s = getenv("PHI4_KERNEL");
    if (!s || !*s)
        return PHI_KERNEL_AUTO;
    for (int32_t i = 1; i < N_LEVELS; i++)
        if (strcmp(s, level_names[i]) == 0)
            return i;
    return -1;
}

int phi_kernels_get(int32_t level, const phi_kernels **out, phi_err *err)
{
    call_once(&tables_once, build_tables);
    if (level == PHI_KERNEL_AUTO) {
        level = level_from_env();
        if (level < 0)
            return phi_err_set(err, PHI_E_INVALID_ARG,
                               "PHI4_KERNEL='%s' is not one of scalar, avx2, avx512, neon, "
                               "neon-dotprod", getenv("PHI4_KERNEL"));
    }
    if (level == PHI_KERNEL_AUTO) {
        for (int32_t i = N_LEVELS - 1; i >= 1; i--)
            if (available[i]) {
                *out = &tables[i];
                return PHI_OK;
            }
    }
    if (level < 1 || level >= N_LEVELS)
        return phi_err_set(err, PHI_E_INVALID_ARG, "unknown kernel level %d", (int)level);
    if (!available[level])
        return phi_err_set(err, PHI_E_UNSUPPORTED,
                           "kernel level '%s' is not available in this build on this CPU",
                           level_names[level]);
    *out = &tables[level];
    return PHI_OK;
}
