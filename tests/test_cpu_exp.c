/* test_cpu_exp.c — accuracy of the CPU kernels' inlined exp/expm1 (core/src/cpu_exp.h) against double
 * exp/expm1 over the whole float range, plus the special values the kernels rely on (NaN stays NaN,
 * the overflow and underflow edges, -inf -> 0 for masked softmax entries) and the bit-mask select. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "backend/cpu/cpu_exp.h"

/* distance in units in the last place of the float nearest to the exact value */
static double ulp_err(float got, double want) {
    float wf = (float)want;
    if (got == wf) return 0.0;
    if (isinf(wf) || isinf(got)) return isinf(wf) && isinf(got) && (wf > 0) == (got > 0) ? 0.0 : INFINITY;
    double ulp = wf == 0.0f ? ldexp(1.0, -149) : nextafterf(fabsf(wf), INFINITY) - fabsf(wf);
    return fabs((double)got - want) / ulp;
}

static float from_bits(uint32_t b) {
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

int main(void) {
    double worst_exp = 0, worst_em1 = 0;
    float at_exp = 0, at_em1 = 0;
    long n = 0;
    /* every 97th bit pattern: all exponents, both signs, mantissas spread over each binade */
    for (uint64_t b = 0; b <= 0xFFFFFFFFu; b += 97) {
        float x = from_bits((uint32_t)b);
        if (isnan(x)) continue;
        n++;
        double e = exp((double)x);
        /* results below FLT_MIN are flushed to 0 by design (no subnormals): compare those to 0 */
        if (e < 1.1754944e-38) {
            if (ug_cpu_expf(x) != 0.0f && x < -87.33654f) {
                CHECK(0, "expf(%.9g) = %.9g, want 0 below the normal range", x, ug_cpu_expf(x));
            }
        } else {
            double u = ulp_err(ug_cpu_expf(x), e);
            if (u > worst_exp) worst_exp = u, at_exp = x;
        }
        if (x > -88.0f) {
            double u = ulp_err(ug_cpu_expm1f(x), expm1((double)x));
            /* at tiny |x| expm1(x) = x; an absolute 1 ulp of x is what the polynomial gives */
            if (u > worst_em1) worst_em1 = u, at_em1 = x;
        }
    }
    printf("checked %ld floats: expf worst %.2f ulp at %.9g, expm1f worst %.2f ulp at %.9g\n", n, worst_exp,
           at_exp, worst_em1, at_em1);
    CHECK(worst_exp <= 2.0, "expf worst %.3f ulp at %.9g", worst_exp, at_exp);
    CHECK(worst_em1 <= 2.0, "expm1f worst %.3f ulp at %.9g", worst_em1, at_em1);

    CHECK(isnan(ug_cpu_expf(NAN)), "expf(NaN) = %g", ug_cpu_expf(NAN));
    CHECK(isnan(ug_cpu_expm1f(NAN)), "expm1f(NaN) = %g", ug_cpu_expm1f(NAN));
    CHECK(ug_cpu_expf(-INFINITY) == 0.0f, "expf(-inf) = %g", ug_cpu_expf(-INFINITY));
    CHECK(ug_cpu_expm1f(-INFINITY) == -1.0f, "expm1f(-inf) = %g", ug_cpu_expm1f(-INFINITY));
    CHECK(isinf(ug_cpu_expf(INFINITY)) && ug_cpu_expf(INFINITY) > 0, "expf(inf) = %g", ug_cpu_expf(INFINITY));
    CHECK(isinf(ug_cpu_expf(89.0f)), "expf(89) = %g", ug_cpu_expf(89.0f));
    CHECK(ug_cpu_expf(0.0f) == 1.0f, "expf(0) = %.9g", ug_cpu_expf(0.0f));
    CHECK(ug_cpu_expm1f(0.0f) == 0.0f, "expm1f(0) = %.9g", ug_cpu_expm1f(0.0f));
    /* the largest finite result: n = 128 takes the 2^127 * 2 path */
    float top = nextafterf(88.72283f, 0.0f);
    CHECK(isfinite(ug_cpu_expf(top)) && ulp_err(ug_cpu_expf(top), exp((double)top)) <= 2.0, "expf(%.9g) = %.9g",
          top, ug_cpu_expf(top));
    CHECK_CLOSE(ug_cpu_expf(-87.0f), exp(-87.0), 3e-7, 0);

    CHECK(ug_cpu_select(1, 2.0f, 3.0f) == 2.0f && ug_cpu_select(0, 2.0f, 3.0f) == 3.0f, "select");
    CHECK(isnan(ug_cpu_select(1, NAN, 3.0f)) && ug_cpu_select(0, NAN, 3.0f) == 3.0f, "select keeps NaN");
    CHECK(signbit(ug_cpu_select(1, -0.0f, 1.0f)), "select keeps -0");
    return CHECK_DONE();
}
