/* cpu_unary.c — CPU kernels for the unary functions and their first two derivatives.
 * One tight loop per (function, order) so the compiler can vectorize each; the switch is outside.
 * ug_cpu_unary_mul (the backward without a graph) runs the same loops a chunk at a time times g. */
#include "backend/cpu/cpu.h"

#include <math.h>

#include "backend/cpu/cpu_exp.h"

#define LOOP(expr)                                  \
    do {                                            \
        for (int64_t i = 0; i < n; i++) {           \
            float v = x[i];                         \
            y[i] = (expr);                          \
        }                                           \
    } while (0)

static inline float sigm(float v) { return 1.0f / (1.0f + ug_cpu_expf(-v)); }  /* vectorizes (cpu_exp.h) */
static inline float softplus_f(float v) { return v > 20.0f ? v : log1pf(expf(v)); }
static inline float gelu_pdf(float v) { return 0.3989422804014327f * ug_cpu_expf(-0.5f * v * v); }
static inline float gelu_cdf(float v) { return 0.5f * (1.0f + erff(v * 0.7071067811865476f)); }
/* d/dx erf(x) = 2/sqrt(pi) exp(-x^2) */
static inline float erf_d1(float v) { return 1.1283791670955126f * ug_cpu_expf(-v * v); }

/* x^p for p a float: integral p works for negative x too (as torch.pow). */
static inline float powf_signed(float v, float p) { return powf(v, p); }

void ug_cpu_unary(int kind, int order, const float *p, const ug_tensor *xt, ug_tensor *yt) {
    const float *restrict x = xt->data;
    float *restrict y = yt->data;
    int64_t n = 1;
    for (int d = 0; d < xt->ndim; d++) n *= xt->shape[d];
    float p0 = p ? p[0] : 0.0f, p1 = p ? p[1] : 0.0f;
    switch (kind * 4 + order) {
    case UG_U_EXP * 4 + 0: case UG_U_EXP * 4 + 1: case UG_U_EXP * 4 + 2: LOOP(ug_cpu_expf(v)); break;
    case UG_U_LOG * 4 + 0: LOOP(logf(v)); break;
    case UG_U_LOG * 4 + 1: LOOP(1.0f / v); break;
    case UG_U_LOG * 4 + 2: LOOP(-1.0f / (v * v)); break;
    case UG_U_LOG1P * 4 + 0: LOOP(log1pf(v)); break;
    case UG_U_LOG1P * 4 + 1: LOOP(1.0f / (1.0f + v)); break;
    case UG_U_LOG1P * 4 + 2: LOOP(-1.0f / ((1.0f + v) * (1.0f + v))); break;
    case UG_U_SQRT * 4 + 0: LOOP(sqrtf(v)); break;
    case UG_U_SQRT * 4 + 1: LOOP(0.5f / sqrtf(v)); break;
    case UG_U_SQRT * 4 + 2: LOOP(-0.25f / (v * sqrtf(v))); break;
    case UG_U_SQUARE * 4 + 0: LOOP(v * v); break;
    case UG_U_SQUARE * 4 + 1: LOOP(2.0f * v); break;
    case UG_U_SQUARE * 4 + 2: LOOP(2.0f + 0.0f * v); break;
    case UG_U_ABS * 4 + 0: LOOP(fabsf(v)); break;
    case UG_U_ABS * 4 + 1: LOOP(v > 0.0f ? 1.0f : (v < 0.0f ? -1.0f : 0.0f)); break;
    case UG_U_ABS * 4 + 2: LOOP(0.0f * v); break;
    case UG_U_CLAMP * 4 + 0: LOOP(v < p0 ? p0 : (v > p1 ? p1 : v)); break;
    case UG_U_CLAMP * 4 + 1: LOOP(v >= p0 && v <= p1 ? 1.0f : 0.0f); break;
    case UG_U_CLAMP * 4 + 2: LOOP(0.0f * v); break;
    /* relu / leaky_relu by selects (cpu_exp.h): a ?: on floats stays a branch, and a branch on the
     * sign of a pre-activation is mispredicted about half the time and keeps the loop scalar */
    case UG_U_RELU * 4 + 0: LOOP(ug_cpu_select(v > 0.0f, v, 0.0f)); break;
    case UG_U_RELU * 4 + 1: LOOP(ug_cpu_select(v > 0.0f, 1.0f, 0.0f)); break;
    case UG_U_RELU * 4 + 2: LOOP(0.0f * v); break;
    /* Two selects and a multiply-add, not `v > 0 ? v : p0 * v`: GCC will not if-convert a multiply
     * that only one arm does (it could trap), which left a scalar loop mispredicting on every sign
     * change (~18% of a training step). Same values: v + p0*0 = v and 0 + p0*v = p0*v; NaN stays NaN. */
    case UG_U_LEAKY * 4 + 0: LOOP(ug_cpu_select(v > 0.0f, v, p0 * v)); break;
    case UG_U_LEAKY * 4 + 1: LOOP(ug_cpu_select(v > 0.0f, 1.0f, p0)); break;
    case UG_U_LEAKY * 4 + 2: LOOP(0.0f * v); break;
    /* exp/expm1 and the select from cpu_exp.h: inlined and branch-free, so these loops vectorize
     * (glibc's expf/expm1f are opaque calls, and `v > 0 ? v : p0 * e` would stay a branch) */
    case UG_U_ELU * 4 + 0: LOOP(ug_cpu_select(v > 0.0f, v, p0 * ug_cpu_expm1f(v))); break;
    case UG_U_ELU * 4 + 1: LOOP(ug_cpu_select(v > 0.0f, 1.0f, p0 * ug_cpu_expf(v))); break;
    case UG_U_ELU * 4 + 2: LOOP(ug_cpu_select(v > 0.0f, 0.0f, p0 * ug_cpu_expf(v))); break;
    case UG_U_SILU * 4 + 0: LOOP(v * sigm(v)); break;
    case UG_U_SILU * 4 + 1: LOOP(sigm(v) * (1.0f + v * (1.0f - sigm(v)))); break;
    case UG_U_SILU * 4 + 2: LOOP(sigm(v) * (1.0f - sigm(v)) * (2.0f + v * (1.0f - 2.0f * sigm(v)))); break;
    case UG_U_GELU * 4 + 0: LOOP(v * gelu_cdf(v)); break;
    case UG_U_GELU * 4 + 1: LOOP(gelu_cdf(v) + v * gelu_pdf(v)); break;
    case UG_U_GELU * 4 + 2: LOOP(gelu_pdf(v) * (2.0f - v * v)); break;
    case UG_U_SIGMOID * 4 + 0: LOOP(sigm(v)); break;
    case UG_U_SIGMOID * 4 + 1: LOOP(sigm(v) * (1.0f - sigm(v))); break;
    case UG_U_SIGMOID * 4 + 2: LOOP(sigm(v) * (1.0f - sigm(v)) * (1.0f - 2.0f * sigm(v))); break;
    case UG_U_TANH * 4 + 0: LOOP(tanhf(v)); break;
    case UG_U_TANH * 4 + 1: LOOP(1.0f - tanhf(v) * tanhf(v)); break;
    case UG_U_TANH * 4 + 2: LOOP(-2.0f * tanhf(v) * (1.0f - tanhf(v) * tanhf(v))); break;
    case UG_U_SOFTPLUS * 4 + 0: LOOP(softplus_f(v)); break;
    case UG_U_SOFTPLUS * 4 + 1: LOOP(sigm(v)); break;
    case UG_U_SOFTPLUS * 4 + 2: LOOP(sigm(v) * (1.0f - sigm(v))); break;
    /* Powers: order k is p(p-1)..(p-k+1) x^(p-k); p1 carries the falling-factorial coefficient. */
    case UG_U_POWS * 4 + 0: LOOP(powf_signed(v, p0)); break;
    case UG_U_POWS * 4 + 1: LOOP(p0 == 1.0f ? 1.0f : p0 * powf_signed(v, p0 - 1.0f)); break;
    case UG_U_POWS * 4 + 2:
        LOOP(p0 == 1.0f || p0 == 0.0f ? 0.0f : (p0 == 2.0f ? 2.0f : p0 * (p0 - 1.0f) * powf_signed(v, p0 - 2.0f)));
        break;
    /* sin and cos through libm (scalar calls: these are for embeddings and schedules, not hot loops) */
    case UG_U_SIN * 4 + 0: LOOP(sinf(v)); break;
    case UG_U_SIN * 4 + 1: LOOP(cosf(v)); break;
    case UG_U_SIN * 4 + 2: LOOP(-sinf(v)); break;
    case UG_U_COS * 4 + 0: LOOP(cosf(v)); break;
    case UG_U_COS * 4 + 1: LOOP(-sinf(v)); break;
    case UG_U_COS * 4 + 2: LOOP(-cosf(v)); break;
    case UG_U_ERF * 4 + 0: LOOP(erff(v)); break;
    case UG_U_ERF * 4 + 1: LOOP(erf_d1(v)); break;
    case UG_U_ERF * 4 + 2: LOOP(-2.0f * v * erf_d1(v)); break;
    default: LOOP(NAN * v); break;
    }
    (void)p1;
}

/* y = g * f^(order)(x) a chunk at a time: the chunk of f^(order) is still in L1 when it is scaled, so
 * the backward of an activation reads x and g and writes y once, where the composed ops (derivative
 * into a new tensor, then a multiply) wrote and re-read a whole extra tensor. */
void ug_cpu_unary_mul(int kind, int order, const float *p, const ug_tensor *xt, const ug_tensor *gt, ug_tensor *yt) {
    enum { CHUNK = 2048 };
    int64_t n = 1;
    for (int d = 0; d < xt->ndim; d++) n *= xt->shape[d];
    const float *restrict g = gt->data;
    float *restrict y = yt->data;
    ug_tensor xc = *xt, yc = *yt;
    xc.ndim = yc.ndim = 1;
    for (int64_t i0 = 0; i0 < n; i0 += CHUNK) {
        int64_t m = n - i0 < CHUNK ? n - i0 : CHUNK;
        xc.shape[0] = yc.shape[0] = m;
        xc.data = (float *)xt->data + i0;
        yc.data = y + i0;
        ug_cpu_unary(kind, order, p, &xc, &yc);
        for (int64_t i = 0; i < m; i++) y[i0 + i] *= g[i0 + i];
    }
}
