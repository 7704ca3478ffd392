/* Half and bfloat16 conversions, exact (round to nearest even), portable. */
#ifndef PHI_KERNELS_FP16_H
#define PHI_KERNELS_FP16_H

#include <stdint.h>
#include <string.h>

static inline float phi_f32_from_bits(uint32_t b)
{
    float f;
    memcpy(&f, &b, 4);
    return f;
}

static inline uint32_t phi_bits_from_f32(float f)
{
    uint32_t b;
    memcpy(&b, &f, 4);
    return b;
}

static inline float phi_fp16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ff;
    if (exp == 0x1f)
        return phi_f32_from_bits(sign | 0x7f800000u | (mant << 13));
    if (exp == 0) {
        /* zero or subnormal: mant * 2^-24 */
        float v = (float)mant * (1.0f / 16777216.0f);
        return sign ? -v : v;
    }
    return phi_f32_from_bits(sign | ((exp + 112) << 23) | (mant << 13));
}

static inline uint16_t phi_f32_to_fp16(float f)
{
    uint32_t x = phi_bits_from_f32(f);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t abs = x & 0x7fffffff;
    if (abs >= 0x7f800000u) /* inf or nan */
        return (uint16_t)(sign | 0x7c00 | (abs > 0x7f800000u ? 0x200 : 0));
    if (abs >= 0x477ff000u) /* rounds to >= 65520: overflow to inf */
        return (uint16_t)(sign | 0x7c00);
    if (abs < 0x38800000u) { /* below the smallest normal half: subnormal */
        float v = phi_f32_from_bits(abs) * 16777216.0f; /* in units of 2^-24 */
        uint32_t m = (uint32_t)v;
        float rem = v - (float)m;
        if (rem > 0.5f || (rem == 0.5f && (m & 1)))
            m++;
        return (uint16_t)(sign | m);
    }
    uint32_t mant = abs & 0x7fffff;
    uint32_t exp = (abs >> 23) - 112;
    uint32_t h = (exp << 10) | (mant >> 13);
    uint32_t rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1)))
        h++; /* may carry into the exponent, which is the right result */
    return (uint16_t)(sign | h);
}

static inline float phi_bf16_to_f32(uint16_t b)
{
    return phi_f32_from_bits((uint32_t)b << 16);
}

static inline uint16_t phi_f32_to_bf16(float f)
{
    uint32_t x = phi_bits_from_f32(f);
    if ((x & 0x7fffffff) > 0x7f800000u)
        return (uint16_t)((x >> 16) | 0x40); /* quiet nan */
    x += 0x7fff + ((x >> 16) & 1);
    return (uint16_t)(x >> 16);
}

static inline uint16_t phi_load_u16(const void *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

#endif
