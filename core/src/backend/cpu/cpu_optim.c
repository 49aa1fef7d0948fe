/* cpu_optim.c — the CPU backend's optimizer kernels on flat blocks: the gradient's squared norm,
 * value and norm clipping, the Adam/AdamW and SGD updates.
 *
 * The update arithmetic copies torch.optim's single-tensor CPU path operation for operation (lerp for
 * the first moment, addcmul for the second, the step size and bias corrections formed by the
 * front-end, nn/optim.c, in double and rounded once to float as PyTorch's Python scalars are), so
 * parity checks against a PyTorch reference agree to an ulp or two instead of drifting. The loops take
 * restrict pointers and no branches so the compiler vectorizes them (this is on a benchmark's hot
 * path).
 *
 * C's errno contract makes GCC keep a scalar libm fallback around sqrtf, which blocks
 * auto-vectorization of the Adam loop (and neither optimize("no-math-errno") nor the pragma lifts it
 * in GCC 12). So the Adam body is written with SSE/AVX intrinsics where available: the same IEEE
 * operations in the same order as the scalar tail, hence the same bits at any vector width. */
#include "backend/cpu/cpu.h"

#include <math.h>

#if defined(__AVX__) || defined(__SSE2__)
#include <immintrin.h>
#endif

/* Eight independent partial sums: the loop vectorizes without -ffast-math's reassociation. */
double ug_cpu_sum_squares(const float *restrict g, int64_t n) {
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) acc[j] += (double)g[i + j] * (double)g[i + j];
    for (; i < n; i++) acc[0] += (double)g[i] * (double)g[i];
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

void ug_cpu_clamp(float *restrict g, int64_t n, float c) {
    for (int64_t i = 0; i < n; i++) g[i] = g[i] > c ? c : (g[i] < -c ? -c : g[i]);
}

void ug_cpu_scale(float *restrict g, int64_t n, float s) {
    for (int64_t i = 0; i < n; i++) g[i] *= s;
}

void ug_cpu_lerp(float *restrict s, const float *restrict v, int64_t n, float w) {
    for (int64_t i = 0; i < n; i++) s[i] += w * (v[i] - s[i]);
}

void ug_cpu_swap(float *restrict a, float *restrict b, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        float t = a[i];
        a[i] = b[i];
        b[i] = t;
    }
}

/* torch: exp_avg.lerp_(grad, 1-b1); exp_avg_sq.mul_(b2).addcmul_(grad, grad, value=1-b2);
 * denom = exp_avg_sq.sqrt() / bc2_sqrt + eps; param.addcdiv_(exp_avg, denom, value=-step_size). */
static void adam_kernel(float *restrict p, const float *restrict g, float *restrict m,
                        float *restrict v, int64_t n, float w1, float b2, float w2, float wd_l2,
                        float neg_step, float bc2_sqrt, float eps) {
    int64_t i = 0;
    if (w1 >= 0.5f) {  // lerp's large-weight branch (beta1 <= 0.5): rare, scalar
        const float omw = 1.0f - w1;
        for (; i < n; i++) {
            float gi = g[i] + wd_l2 * p[i];
            float mi = gi - (gi - m[i]) * omw;
            float vi = v[i] * b2 + w2 * gi * gi;
            m[i] = mi;
            v[i] = vi;
            p[i] = p[i] + neg_step * mi / (sqrtf(vi) / bc2_sqrt + eps);
        }
        return;
    }
#if defined(__AVX__)
    {
        const __m256 W1 = _mm256_set1_ps(w1), B2 = _mm256_set1_ps(b2), W2 = _mm256_set1_ps(w2),
                     WD = _mm256_set1_ps(wd_l2), NS = _mm256_set1_ps(neg_step),
                     BC = _mm256_set1_ps(bc2_sqrt), EP = _mm256_set1_ps(eps);
        for (; i + 8 <= n; i += 8) {
            __m256 pi = _mm256_loadu_ps(p + i), gi = _mm256_loadu_ps(g + i);
            __m256 mi = _mm256_loadu_ps(m + i), vi = _mm256_loadu_ps(v + i);
            gi = _mm256_add_ps(gi, _mm256_mul_ps(WD, pi));
            mi = _mm256_add_ps(mi, _mm256_mul_ps(W1, _mm256_sub_ps(gi, mi)));
            vi = _mm256_add_ps(_mm256_mul_ps(vi, B2), _mm256_mul_ps(_mm256_mul_ps(W2, gi), gi));
            _mm256_storeu_ps(m + i, mi);
            _mm256_storeu_ps(v + i, vi);
            __m256 den = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(vi), BC), EP);
            _mm256_storeu_ps(p + i, _mm256_add_ps(pi, _mm256_div_ps(_mm256_mul_ps(NS, mi), den)));
        }
    }
#elif defined(__SSE2__)
    {
        const __m128 W1 = _mm_set1_ps(w1), B2 = _mm_set1_ps(b2), W2 = _mm_set1_ps(w2),
                     WD = _mm_set1_ps(wd_l2), NS = _mm_set1_ps(neg_step), BC = _mm_set1_ps(bc2_sqrt),
                     EP = _mm_set1_ps(eps);
        for (; i + 4 <= n; i += 4) {
            __m128 pi = _mm_loadu_ps(p + i), gi = _mm_loadu_ps(g + i);
            __m128 mi = _mm_loadu_ps(m + i), vi = _mm_loadu_ps(v + i);
            gi = _mm_add_ps(gi, _mm_mul_ps(WD, pi));
            mi = _mm_add_ps(mi, _mm_mul_ps(W1, _mm_sub_ps(gi, mi)));
            vi = _mm_add_ps(_mm_mul_ps(vi, B2), _mm_mul_ps(_mm_mul_ps(W2, gi), gi));
            _mm_storeu_ps(m + i, mi);
            _mm_storeu_ps(v + i, vi);
            __m128 den = _mm_add_ps(_mm_div_ps(_mm_sqrt_ps(vi), BC), EP);
            _mm_storeu_ps(p + i, _mm_add_ps(pi, _mm_div_ps(_mm_mul_ps(NS, mi), den)));
        }
    }
#endif
    for (; i < n; i++) {  // tail (and the whole loop without SSE/AVX): same operations, same order
        float gi = g[i] + wd_l2 * p[i];
        float mi = m[i] + w1 * (gi - m[i]);
        float vi = v[i] * b2 + w2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] = p[i] + neg_step * mi / (sqrtf(vi) / bc2_sqrt + eps);
    }
}

void ug_cpu_sgd(float *restrict p, const float *restrict g, float *restrict buf, int64_t n, float wd, float mu,
                float neg_lr, bool first) {
    if (!buf) {
        for (int64_t i = 0; i < n; i++) p[i] = p[i] + neg_lr * (g[i] + wd * p[i]);
    } else if (first) {  // torch: buf = clone(grad) on the first step
        for (int64_t i = 0; i < n; i++) {
            float gi = g[i] + wd * p[i];
            buf[i] = gi;
            p[i] = p[i] + neg_lr * gi;
        }
    } else {
        for (int64_t i = 0; i < n; i++) {
            float bi = buf[i] * mu + (g[i] + wd * p[i]);
            buf[i] = bi;
            p[i] = p[i] + neg_lr * bi;
        }
    }
}

static void decay(float *restrict p, int64_t n, float f) {
    for (int64_t i = 0; i < n; i++) p[i] *= f;
}

void ug_cpu_adam(const ug_adam_args *a) {
    if (a->decoupled) decay(a->p, a->n, a->decay);  // AdamW: p *= 1 - lr * weight_decay, a pass of its own
    adam_kernel(a->p, a->g, a->m, a->v, a->n, a->w1, a->b2, a->w2, a->wd_l2, a->neg_step, a->bc2_sqrt, a->eps);
}
