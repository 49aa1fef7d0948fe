/* cpu_exp.h — exp and expm1 for the CPU kernels' loops, written so the compiler vectorizes them.
 *
 * glibc's expf/expm1f are calls the vectorizer cannot inline (libmvec needs -ffast-math), which left
 * every softmax, logsumexp and ELU a scalar loop: ~6% of an EB-GFN training iteration (tools/bench/
 * train). These are branch-free (selects only) and stay within 2 ulp of the exact values over the float
 * range (checked against double exp/expm1 on every 97th float bit pattern):
 *   exp(x)   = 2^n exp(r), n = round(x / ln 2), r = x - n ln 2 (Cody-Waite split), exp(r) by Cephes'
 *              degree-6 polynomial; 0 below -87.33 (no subnormal results), +inf above 88.72, NaN -> NaN.
 *   expm1(x) = a degree-9 Taylor polynomial for |x| < 0.5 (no cancellation), exp(x) - 1 elsewhere
 *              (1.2 ulp worst for x < 0, the ELU side; 1.8 ulp for x >= 0). exp itself: 1.02 ulp. */
#ifndef UG_CPU_EXP_H
#define UG_CPU_EXP_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* c ? a : b by bit masks. A float ?: that feeds arithmetic is left as a branch by GCC unless
 * -fno-trapping-math (it will not speculate a floating-point operation into one arm), and a branch
 * stops the loop from vectorizing; integer masks have no such concern. */
static inline float ug_cpu_select(int c, float a, float b) {
    uint32_t m = 0u - (uint32_t)(c != 0), ua, ub;
    memcpy(&ua, &a, sizeof ua);
    memcpy(&ub, &b, sizeof ub);
    ua = (ua & m) | (ub & ~m);
    memcpy(&a, &ua, sizeof a);
    return a;
}

static inline float ug_cpu_expf(float x) {
    /* clamp with compares, not fminf/fmaxf, so NaN stays NaN */
    float xc = ug_cpu_select(x < -87.5f, -87.5f, x);
    xc = ug_cpu_select(xc > 88.75f, 88.75f, xc);
    /* 1.5 * 2^23 pushes round(x / ln 2) into the low mantissa bits: n without a float->int
     * conversion (undefined for NaN) */
    const float shift = 12582912.0f;
    float z = xc * 1.44269504088896341f + shift;
    float n = z - shift;
    float r = xc - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    uint32_t zb;
    memcpy(&zb, &z, sizeof zb);
    /* zb = 0x4B400000 + n for |n| < 2^22; 2^n has exponent field n + 127. n reaches 128 just below
     * the overflow threshold, where 2^n itself is not a float: scale by 2^127 and then by 2. */
    uint32_t ef = zb - 0x4B400000u + 127u;
    float extra = ug_cpu_select(ef > 254u, 2.0f, 1.0f);
    ef = ef > 254u ? 254u : ef;
    uint32_t sb = ef << 23;
    float scale;
    memcpy(&scale, &sb, sizeof scale);
    float y = p * scale * extra;
    y = ug_cpu_select(x < -87.33654f, 0.0f, y);
    return ug_cpu_select(x > 88.72283f, INFINITY, y);
}

static inline float ug_cpu_expm1f(float x) {
    float e = ug_cpu_expf(x) - 1.0f;
    /* Taylor to x^9 / 9!: the first omitted term is below 3e-10 relative at |x| = 0.5 */
    float p = 2.75573192e-6f;          /* 1/9! */
    p = p * x + 2.48015873e-5f;        /* 1/8! */
    p = p * x + 1.98412698e-4f;        /* 1/7! */
    p = p * x + 1.38888889e-3f;        /* 1/6! */
    p = p * x + 8.33333333e-3f;        /* 1/5! */
    p = p * x + 4.16666667e-2f;        /* 1/4! */
    p = p * x + 1.66666667e-1f;        /* 1/3! */
    p = p * x + 0.5f;
    p = p * x * x + x;
    return ug_cpu_select(fabsf(x) < 0.5f, p, e);
}

#endif
