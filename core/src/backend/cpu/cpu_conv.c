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

#include <cblas.h>
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

/* The columns of `planes` consecutive H x W planes of x into cols [planes kh kw, oh ow]. */
static void im2col_planes(const float *x, int64_t planes, int64_t H, int64_t W, const ug_conv_geom *g, float *cols) {
    const int64_t L = g->oh * g->ow, KK = g->kh * g->kw, oh = g->oh, ow = g->ow;
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

/* The adjoint of im2col_planes: cols [planes kh kw, oh ow] summed into the planes of x (overwritten). */
static void col2im_planes(const float *cols, int64_t planes, int64_t H, int64_t W, const ug_conv_geom *g, float *x) {
    const int64_t L = g->oh * g->ow, KK = g->kh * g->kw, oh = g->oh, ow = g->ow;
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

void ug_cpu_im2col(const ug_tensor *xt, const ug_conv_geom *g, ug_tensor *ct) {
    im2col_planes(xt->data, xt->shape[0] * xt->shape[1], xt->shape[2], xt->shape[3], g, ct->data);
}

void ug_cpu_col2im(const ug_tensor *ct, const ug_conv_geom *g, ug_tensor *xt) {
    col2im_planes(ct->data, xt->shape[0] * xt->shape[1], xt->shape[2], xt->shape[3], g, xt->data);
}

/* ---- convolution as one image at a time: im2col into a scratch buffer, then GEMMs ----
 * Shapes (backend.h): x [N, C, H, W], w [O, C/G kh kw] (groups G), y [N, O, oh ow]; group gi of image
 * n uses rows gi Kg .. (gi+1) Kg of the image's columns (Kg = C/G kh kw: the rows are ordered c, i, j)
 * and output channels gi Og .. (gi+1) Og. The scratch holds one image's columns, which is what keeps
 * the whole batch's columns out of memory. */
static float *scratch_cols(int64_t C, const ug_conv_geom *g) {
    return ug_cpu_alloc(sizeof(float) * (size_t)(C * g->kh * g->kw * g->oh * g->ow));
}

bool ug_cpu_conv2d(const ug_tensor *xt, const ug_tensor *wt, const ug_tensor *bt, const ug_conv_geom *g, int64_t G,
                   ug_tensor *yt) {
    const int64_t N = xt->shape[0], C = xt->shape[1], H = xt->shape[2], W = xt->shape[3], O = yt->shape[1];
    const int64_t L = g->oh * g->ow, Kg = C / G * g->kh * g->kw, Og = O / G;
    float *cols = scratch_cols(C, g);  // [C kh kw, L]
    if (!cols) return false;
    const float *x = xt->data, *w = wt->data, *b = bt ? bt->data : NULL;
    float *y = yt->data;
    for (int64_t n = 0; n < N; n++) {
        im2col_planes(x + n * C * H * W, C, H, W, g, cols);
        for (int64_t gi = 0; gi < G; gi++)  // y_n,g [Og, L] = w_g [Og, Kg] @ cols_g [Kg, L]
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)Og, (int)L, (int)Kg, 1.0f, w + gi * Og * Kg,
                        (int)Kg, cols + gi * Kg * L, (int)L, 0.0f, y + (n * O + gi * Og) * L, (int)L);
        for (int64_t o = 0; b && o < O; o++) {  // the image's output is still in cache
            float *restrict yo = y + (n * O + o) * L;
            for (int64_t l = 0; l < L; l++) yo[l] += b[o];
        }
    }
    ug_cpu_free(cols);
    return true;
}

bool ug_cpu_conv2d_grad_input(const ug_tensor *gyt, const ug_tensor *wt, const ug_conv_geom *g, int64_t G,
                              ug_tensor *gxt) {
    const int64_t N = gxt->shape[0], C = gxt->shape[1], H = gxt->shape[2], W = gxt->shape[3], O = gyt->shape[1];
    const int64_t L = g->oh * g->ow, Kg = C / G * g->kh * g->kw, Og = O / G;
    float *cols = scratch_cols(C, g);  // [C kh kw, L]
    if (!cols) return false;
    const float *gy = gyt->data, *w = wt->data;
    float *gx = gxt->data;
    for (int64_t n = 0; n < N; n++) {
        for (int64_t gi = 0; gi < G; gi++)  // cols_g [Kg, L] = w_g^T [Kg, Og] @ gy_n,g [Og, L]
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)Kg, (int)L, (int)Og, 1.0f, w + gi * Og * Kg,
                        (int)Kg, gy + (n * O + gi * Og) * L, (int)L, 0.0f, cols + gi * Kg * L, (int)L);
        col2im_planes(cols, C, H, W, g, gx + n * C * H * W);
    }
    ug_cpu_free(cols);
    return true;
}

bool ug_cpu_conv2d_grad_weight(const ug_tensor *xt, const ug_tensor *gyt, const ug_conv_geom *g, int64_t G,
                               ug_tensor *gwt) {
    const int64_t N = xt->shape[0], C = xt->shape[1], H = xt->shape[2], W = xt->shape[3], O = gyt->shape[1];
    const int64_t L = g->oh * g->ow, Kg = C / G * g->kh * g->kw, Og = O / G;
    float *cols = scratch_cols(C, g);  // [C kh kw, L]
    if (!cols) return false;
    const float *x = xt->data, *gy = gyt->data;
    float *gw = gwt->data;
    if (N == 0) memset(gw, 0, sizeof(float) * (size_t)(O * Kg));
    for (int64_t n = 0; n < N; n++) {
        im2col_planes(x + n * C * H * W, C, H, W, g, cols);
        for (int64_t gi = 0; gi < G; gi++)  // gw_g [Og, Kg] (+)= gy_n,g [Og, L] @ cols_g^T [L, Kg], images in order
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)Og, (int)Kg, (int)L, 1.0f, gy + (n * O + gi * Og) * L,
                        (int)L, cols + gi * Kg * L, (int)L, n ? 1.0f : 0.0f, gw + gi * Og * Kg, (int)Kg);
    }
    ug_cpu_free(cols);
    return true;
}
