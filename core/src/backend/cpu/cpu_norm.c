/* cpu_norm.c — the CPU backend's group normalization: the forward (y and each block's mean and rstd) and
 * the first-order backward (dx, dweight, dbias in one pass over the saved statistics).
 *
 * One block is the C/G channels of group g of sample n: M = C/G * S contiguous floats (S = the trailing
 * dims). The statistics take two passes (mean, then the variance about it), each summed in float blocks
 * added in double (sum_f below), so a block of any size or offset loses nothing to cancellation. Per channel y = (x - mean) a_c + bias_c with
 * a_c = rstd w_c (torch's CPU kernel folds the mean into the shift, x a_c + (bias_c - mean a_c), which
 * loses the low bits of y when |mean| >> std; keeping x - mean costs one subtraction an element).
 * The backward is torch's algorithm on centred values: per (n, c) ds = sum gy (x - mean) and db = sum gy,
 * then with s1 = sum_c ds w_c, s2 = sum_c db w_c over the group
 *     dx = gy w_c rstd + A (x - mean) + B,   A = -s1 rstd^3 / M,   B = -s2 rstd / M,
 *     dweight_c += sum_n ds rstd,   dbias_c += sum_n db,
 * which is rstd (gy w - mean(gy w) - xhat mean(gy w xhat)) written so x and gy are read twice and dx
 * written once, with no scratch memory. Blocks are independent (with -Dopenmp the forward splits the
 * samples, the backward the groups); dweight and dbias add the samples in order, so results do not
 * depend on threading. */
#include "backend/cpu/cpu.h"

#include <math.h>

/* Sums: float partial sums over 16 lanes (a vector the compiler keeps in registers) for blocks of BLOCK
 * entries, each block's total added in double, so a long sum neither waits on one chain of dependent adds
 * nor rounds like one float accumulator. The centred forms (x - mean) keep the backward's
 * sum g (x - mean) free of the cancellation sum g x - mean sum g would have when |mean| >> std. */
enum { LANES = 16, BLOCK = 256 };

static double sum_f(const float *restrict x, int64_t n) {
    double s = 0.0;
    for (int64_t b = 0; b < n; b += BLOCK) {
        const int64_t e = n - b < BLOCK ? n : b + BLOCK;
        float l[LANES] = {0};
        int64_t i = b;
        for (; i + LANES <= e; i += LANES)
            for (int k = 0; k < LANES; k++) l[k] += x[i + k];
        float t = 0.0f;
        for (int k = 0; k < LANES; k++) t += l[k];
        for (; i < e; i++) t += x[i];
        s += t;
    }
    return s;
}

static double sq_dev_f(const float *restrict x, int64_t n, float mean) {
    double s = 0.0;
    for (int64_t b = 0; b < n; b += BLOCK) {
        const int64_t e = n - b < BLOCK ? n : b + BLOCK;
        float l[LANES] = {0};
        int64_t i = b;
        for (; i + LANES <= e; i += LANES)
            for (int k = 0; k < LANES; k++) {
                const float d = x[i + k] - mean;
                l[k] += d * d;
            }
        float t = 0.0f;
        for (int k = 0; k < LANES; k++) t += l[k];
        for (; i < e; i++) t += (x[i] - mean) * (x[i] - mean);
        s += t;
    }
    return s;
}

/* sum g (x - mean). (Its own loop: GCC turns a loop with two lane arrays into shuffles, one it keeps in
 * a vector register.) */
static double dot_c(const float *restrict g, const float *restrict x, int64_t n, float mean) {
    double s = 0.0;
    for (int64_t b = 0; b < n; b += BLOCK) {
        const int64_t e = n - b < BLOCK ? n : b + BLOCK;
        float l[LANES] = {0};
        int64_t i = b;
        for (; i + LANES <= e; i += LANES)
            for (int k = 0; k < LANES; k++) l[k] += g[i + k] * (x[i + k] - mean);
        float t = 0.0f;
        for (int k = 0; k < LANES; k++) t += l[k];
        for (; i < e; i++) t += g[i] * (x[i] - mean);
        s += t;
    }
    return s;
}

static void gn_dims(const ug_tensor *x, int64_t G, int64_t *N, int64_t *C, int64_t *S) {
    *N = x->shape[0];
    *C = x->shape[1];
    int64_t s = 1;
    for (int d = 2; d < x->ndim; d++) s *= x->shape[d];
    *S = s;
    (void)G;
}

void ug_cpu_group_norm(const ug_tensor *xt, const ug_tensor *wt, const ug_tensor *bt, int64_t G, float eps,
                       ug_tensor *yt, ug_tensor *st) {
    int64_t N, C, S;
    gn_dims(xt, G, &N, &C, &S);
    const int64_t Cg = C / G, M = Cg * S;
    const float *x = xt->data, *w = wt ? wt->data : NULL, *b = bt ? bt->data : NULL;
    float *y = yt->data, *stats = st->data;  // stats [N, G, 2]: mean, rstd
PAR_FOR(N * C * S > PAR_MIN)
    for (int64_t n = 0; n < N; n++)
        for (int64_t g = 0; g < G; g++) {
            const float *xb = x + (n * C + g * Cg) * S;  // [Cg, S]
            float *yb = y + (n * C + g * Cg) * S;
            const float mf = (float)(M ? sum_f(xb, M) / (double)M : 0.0);
            const double v = sq_dev_f(xb, M, mf);  /* centred on the rounded mean: what y subtracts */
            const float rstd = (float)(1.0 / sqrt((M ? v / (double)M : 0.0) + (double)eps));
            stats[(n * G + g) * 2] = mf;
            stats[(n * G + g) * 2 + 1] = rstd;
            for (int64_t c = 0; c < Cg; c++) {
                const int64_t ch = g * Cg + c;
                const float a = w ? rstd * w[ch] : rstd, off = b ? b[ch] : 0.0f;
                const float *restrict xc = xb + c * S;
                float *restrict yc = yb + c * S;
                for (int64_t i = 0; i < S; i++) yc[i] = (xc[i] - mf) * a + off;
            }
        }
}

void ug_cpu_group_norm_backward(const ug_tensor *xt, const ug_tensor *wt, const ug_tensor *st, int64_t G,
                                const ug_tensor *gyt, ug_tensor *gxt, ug_tensor *gwt, ug_tensor *gbt) {
    int64_t N, C, S;
    gn_dims(xt, G, &N, &C, &S);
    const int64_t Cg = C / G, M = Cg * S;
    const float *x = xt->data, *w = wt ? wt->data : NULL, *stats = st->data, *gy = gyt->data;
    float *gx = gxt ? gxt->data : NULL, *gw = gwt ? gwt->data : NULL, *gb = gbt ? gbt->data : NULL;
    /* Groups outermost: a group's channels belong to one thread, which adds the samples into dweight and
     * dbias in order. */
PAR_FOR(N * C * S > PAR_MIN)
    for (int64_t g = 0; g < G; g++)
        for (int64_t n = 0; n < N; n++) {
            const float mean = stats[(n * G + g) * 2], rstd = stats[(n * G + g) * 2 + 1];
            double s1 = 0.0, s2 = 0.0;
            for (int64_t c = 0; c < Cg; c++) {
                const int64_t ch = g * Cg + c;
                const float *restrict xc = x + (n * C + ch) * S, *restrict gc = gy + (n * C + ch) * S;
                const double a = dot_c(gc, xc, S, mean), e = sum_f(gc, S);
                const double wc = w ? w[ch] : 1.0;
                s1 += a * wc;
                s2 += e * wc;
                if (gw) gw[ch] += (float)(a * rstd);
                if (gb) gb[ch] += (float)e;
            }
            if (!gx) continue;
            const double r = rstd, A = M ? -s1 * r * r * r / (double)M : 0.0;
            const float Af = (float)A, Bf = (float)(M ? -s2 * r / (double)M : 0.0);
            for (int64_t c = 0; c < Cg; c++) {
                const int64_t ch = g * Cg + c;
                const float k = (w ? w[ch] : 1.0f) * rstd;
                const float *restrict xc = x + (n * C + ch) * S, *restrict gc = gy + (n * C + ch) * S;
                float *restrict dc = gx + (n * C + ch) * S;
                for (int64_t i = 0; i < S; i++) dc[i] = gc[i] * k + Af * (xc[i] - mean) + Bf;
            }
        }
}
