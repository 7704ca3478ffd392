/* The polynomial e^x of every SIMD level (softmax weights, SwiGLU), after
 * Cephes' expf: x = n·ln2 + r with ln2 in two parts (the first has few bits,
 * so n times it is exact), and e^r = 1 + r + r²·p(r), p's coefficients
 * highest power first; 2^n goes in through the exponent bits. Below EXP_MIN
 * e^x would be subnormal, and the levels return 0; x is clamped to EXP_MAX,
 * where expf overflows, and n = 128 there makes 2^n the bits of +inf. */
#ifndef PHI_KERNELS_EXP_POLY_H
#define PHI_KERNELS_EXP_POLY_H

#define EXP_MIN (-87.3365447505531f)
#define EXP_MAX 88.72283935546875f
#define EXP_LOG2E 1.44269504088896341f
#define EXP_LN2_HI 0.693359375f
#define EXP_LN2_LO (-2.12194440e-4f)
static const float exp_poly[6] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f,
                                  4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f};

#endif
