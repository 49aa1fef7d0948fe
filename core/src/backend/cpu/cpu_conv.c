/* cpu_conv.c — the CPU backend's image windows: im2col (torch's unfold) and its adjoint col2im (fold).
 *
 * Convolutions are GEMMs on these columns (ops/ops_conv.c: w [O, C kh kw] @ cols [N, C kh kw, L]), so
 * the arithmetic that matters stays in cblas_sgemm; these two are copies and sums. Per image plane
 * (n, c) and kernel tap (i, j), the columns of one window row p read one input row at a fixed offset
 * and stride. The range of q whose taps fall inside the image is worked out once per tap column j
 * (valid_cols), so the inner loop has no bounds test and is a memcpy at stride 1; the padding is
 * written as zeros (im2col) or skipped (col2im). col2im zeroes its output and then adds in a fixed
 * order (c, i, j, p, q per image), so its sums do not depend on threading: with -Dopenmp the planes
 * (n, c), which touch disjoint memory, are split across threads. */
#include "backend/cpu/cpu.h"

#include <string.h>


/* The smallest q >= 0 with q * s + off >= lim (s >= 1). */
static int64_t first_at_least(int64_t lim, int64_t off, int64_t s) {
    int64_t d = lim - off;
    return d <= 0 ? 0 : (d + s - 1) / s;
}

/* Columns [q0, q1) of a window row whose tap j lands inside [0, W): q sw + off with off = j dw - pw. */
static void valid_cols(const ug_conv_geom *g, int64_t W, int64_t j, int64_t *q0, int64_t *q1) {
    int64_t off = j * g->dw - g->pw;
    int64_t a = first_at_least(0, off, g->sw), b = first_at_least(W, off, g->sw);
    *q0 = a < g->ow ? a : g->ow;
    *q1 = b < g->ow ? b : g->ow;
    if (*q1 < *q0) *q1 = *q0;
}

void ug_cpu_im2col(const ug_tensor *xt, const ug_conv_geom *g, ug_tensor *ct) {
    const int64_t planes = xt->shape[0] * xt->shape[1], H = xt->shape[2], W = xt->shape[3];
    const int64_t L = g->oh * g->ow, KK = g->kh * g->kw, oh = g->oh, ow = g->ow;
    const float *x = xt->data;
    float *cols = ct->data;
PAR_FOR(planes * KK * L > PAR_MIN)
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *img = x + pl * H * W;     // [H, W]
        float *dst = cols + pl * KK * L;       // [kh kw, oh ow]: this plane's rows of the image's columns
        for (int64_t i = 0; i < g->kh; i++)
            for (int64_t j = 0; j < g->kw; j++) {
                float *row = dst + (i * g->kw + j) * L;  // [oh ow]
                int64_t q0, q1;
                valid_cols(g, W, j, &q0, &q1);
                const int64_t off = j * g->dw - g->pw;
                for (int64_t p = 0; p < oh; p++) {
                    float *r = row + p * ow;
                    const int64_t ih = p * g->sh - g->ph + i * g->dh;
                    if (ih < 0 || ih >= H) {
                        memset(r, 0, sizeof(float) * (size_t)ow);
                        continue;
                    }
                    for (int64_t q = 0; q < q0; q++) r[q] = 0.0f;
                    if (q1 > q0) {
                        const float *src = img + ih * W + q0 * g->sw + off;  // x[ih, q0 sw + off], inside the row
                        if (g->sw == 1) memcpy(r + q0, src, sizeof(float) * (size_t)(q1 - q0));
                        else
                            for (int64_t q = q0; q < q1; q++) r[q] = src[(q - q0) * g->sw];
                    }
                    for (int64_t q = q1; q < ow; q++) r[q] = 0.0f;
                }
            }
    }
}

void ug_cpu_col2im(const ug_tensor *ct, const ug_conv_geom *g, ug_tensor *xt) {
    const int64_t planes = xt->shape[0] * xt->shape[1], H = xt->shape[2], W = xt->shape[3];
    const int64_t L = g->oh * g->ow, KK = g->kh * g->kw, oh = g->oh, ow = g->ow;
    const float *cols = ct->data;
    float *x = xt->data;
PAR_FOR(planes * KK * L > PAR_MIN)
    for (int64_t pl = 0; pl < planes; pl++) {
        float *img = x + pl * H * W;             // [H, W]
        const float *srcp = cols + pl * KK * L;  // [kh kw, oh ow]
        memset(img, 0, sizeof(float) * (size_t)(H * W));
        for (int64_t i = 0; i < g->kh; i++)
            for (int64_t j = 0; j < g->kw; j++) {
                const float *row = srcp + (i * g->kw + j) * L;  // [oh ow]
                int64_t q0, q1;
                valid_cols(g, W, j, &q0, &q1);
                const int64_t off = j * g->dw - g->pw;
                for (int64_t p = 0; p < oh; p++) {
                    const int64_t ih = p * g->sh - g->ph + i * g->dh;
                    if (ih < 0 || ih >= H || q1 == q0) continue;
                    const float *r = row + p * ow;
                    float *dst = img + ih * W + q0 * g->sw + off;  // x[ih, q0 sw + off], inside the row
                    if (g->sw == 1)
                        for (int64_t q = q0; q < q1; q++) dst[q - q0] += r[q];
                    else
                        for (int64_t q = q0; q < q1; q++) dst[(q - q0) * g->sw] += r[q];
                }
            }
    }
}
