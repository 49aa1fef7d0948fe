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

/* Stride 1 and an output as wide as the input (ow == W: kw = 2 pw + 1 taps dw apart, the "same"
 * convolution of a UNet): window row p of tap (i, j) reads input row p + di from column q + dj on
 * (di = i dh - ph, dj = j dw - pw, |dj| <= pw < W), so the tap's whole row of columns is the plane
 * shifted by d = di W + dj. One copy per tap instead of one per window row; what the shift wraps into
 * a neighbouring row (the |dj| padding columns of each window row) is patched afterwards. */
static bool flat_shift(int64_t H, int64_t W, const ug_conv_geom *g) {
    return g->sh == 1 && g->sw == 1 && g->ow == W && g->pw < W && g->oh > 0 && H > 0;
}

/* Window rows [*p0, *p1) of tap row i read rows inside the image. */
static void valid_rows(const ug_conv_geom *g, int64_t H, int64_t i, int64_t *p0, int64_t *p1) {
    const int64_t di = i * g->dh - g->ph;
    int64_t a = di < 0 ? -di : 0, b = H - di < g->oh ? H - di : g->oh;
    *p0 = a < g->oh ? a : g->oh;
    *p1 = b > *p0 ? b : *p0;
}

/* The columns of one plane (flat_shift geometry) into rows of stride ld. */
static void im2col_plane_flat(const float *restrict img, int64_t H, int64_t W, const ug_conv_geom *g,
                              float *restrict dst, int64_t ld) {
    const int64_t ow = W, oh = g->oh;
    for (int64_t i = 0; i < g->kh; i++) {
        int64_t p0, p1;
        valid_rows(g, H, i, &p0, &p1);
        const int64_t di = i * g->dh - g->ph;
        for (int64_t j = 0; j < g->kw; j++) {
            float *row = dst + (i * g->kw + j) * ld;  // [oh ow]
            const int64_t dj = j * g->dw - g->pw, lo = dj < 0 ? -dj : 0, hi = dj > 0 ? dj : 0;
            memset(row, 0, sizeof(float) * (size_t)(p0 * ow));
            memset(row + p1 * ow, 0, sizeof(float) * (size_t)((oh - p1) * ow));
            if (p1 == p0) continue;
            /* row[l] = img[l + d] for l in window rows [p0, p1), less the ends that would leave the plane */
            const int64_t l0 = p0 * ow + lo, l1 = p1 * ow - hi;
            memcpy(row + l0, img + l0 + di * W + dj, sizeof(float) * (size_t)(l1 - l0));
            for (int64_t p = p0; p < p1; p++) {  // the padding columns the shift filled from the next row
                for (int64_t q = 0; q < lo; q++) row[p * ow + q] = 0.0f;
                for (int64_t q = ow - hi; q < ow; q++) row[p * ow + q] = 0.0f;
            }
        }
    }
}

/* The columns of `planes` consecutive H x W planes of x into cols: plane pl's tap t is the row
 * cols + (pl kh kw + t) ld, oh ow entries long (ld >= oh ow: images side by side for one GEMM). */
static void im2col_planes(const float *x, int64_t planes, int64_t H, int64_t W, const ug_conv_geom *g, float *cols,
                          int64_t ld) {
    const int64_t KK = g->kh * g->kw, oh = g->oh, ow = g->ow;
    const bool flat = flat_shift(H, W, g);
PAR_FOR(planes * KK * oh * ow > PAR_MIN)
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *img = x + pl * H * W;     // [H, W]
        float *dst = cols + pl * KK * ld;      // [kh kw, oh ow] at row stride ld
        if (flat) {
            im2col_plane_flat(img, H, W, g, dst, ld);
            continue;
        }
        for (int64_t i = 0; i < g->kh; i++)
            for (int64_t j = 0; j < g->kw; j++) {
                float *row = dst + (i * g->kw + j) * ld;  // [oh ow]
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

/* The adjoint of im2col_planes: cols (rows of stride ld) summed into the planes of x (overwritten). */
static void col2im_planes(const float *cols, int64_t planes, int64_t H, int64_t W, const ug_conv_geom *g, float *x,
                          int64_t ld) {
    const int64_t KK = g->kh * g->kw, oh = g->oh, ow = g->ow;
PAR_FOR(planes * KK * oh * ow > PAR_MIN)
    for (int64_t pl = 0; pl < planes; pl++) {
        float *img = x + pl * H * W;             // [H, W]
        const float *srcp = cols + pl * KK * ld;  // [kh kw, oh ow] at row stride ld
        memset(img, 0, sizeof(float) * (size_t)(H * W));
        for (int64_t i = 0; i < g->kh; i++)
            for (int64_t j = 0; j < g->kw; j++) {
                const float *row = srcp + (i * g->kw + j) * ld;  // [oh ow]
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

/* col2im_planes for columns the caller owns (a convolution's scratch): with the flat_shift geometry
 * each tap's padding entries are zeroed in place, then the tap's row is added to the plane shifted by
 * d in one loop. Adding 0 to a sum that started at +0 changes no bit, and each pixel still gets its
 * taps in (i, j) order, so the result is col2im_planes' bit for bit. */
static void col2im_planes_own(float *cols, int64_t planes, int64_t H, int64_t W, const ug_conv_geom *g, float *x,
                              int64_t ld) {
    if (!flat_shift(H, W, g)) {
        col2im_planes(cols, planes, H, W, g, x, ld);
        return;
    }
    const int64_t KK = g->kh * g->kw, ow = W;
PAR_FOR(planes * KK * g->oh * ow > PAR_MIN)
    for (int64_t pl = 0; pl < planes; pl++) {
        float *restrict img = x + pl * H * W;  // [H, W]
        float *srcp = cols + pl * KK * ld;     // [kh kw, oh ow] at row stride ld
        memset(img, 0, sizeof(float) * (size_t)(H * W));
        for (int64_t i = 0; i < g->kh; i++) {
            int64_t p0, p1;
            valid_rows(g, H, i, &p0, &p1);
            const int64_t di = i * g->dh - g->ph;
            for (int64_t j = 0; j < g->kw && p1 > p0; j++) {
                float *restrict row = srcp + (i * g->kw + j) * ld;  // [oh ow]
                const int64_t dj = j * g->dw - g->pw, lo = dj < 0 ? -dj : 0, hi = dj > 0 ? dj : 0;
                for (int64_t p = p0; p < p1; p++) {
                    for (int64_t q = 0; q < lo; q++) row[p * ow + q] = 0.0f;
                    for (int64_t q = ow - hi; q < ow; q++) row[p * ow + q] = 0.0f;
                }
                const int64_t l0 = p0 * ow + lo, l1 = p1 * ow - hi, d = di * W + dj;
                for (int64_t l = l0; l < l1; l++) img[l + d] += row[l];  // pixel l + d is inside the plane
            }
        }
    }
}

void ug_cpu_im2col(const ug_tensor *xt, const ug_conv_geom *g, ug_tensor *ct) {
    im2col_planes(xt->data, xt->shape[0] * xt->shape[1], xt->shape[2], xt->shape[3], g, ct->data, g->oh * g->ow);
}

void ug_cpu_col2im(const ug_tensor *ct, const ug_conv_geom *g, ug_tensor *xt) {
    col2im_planes(ct->data, xt->shape[0] * xt->shape[1], xt->shape[2], xt->shape[3], g, xt->data, g->oh * g->ow);
}

/* ---- convolution as GEMMs over a few images' columns at a time ----
 * Shapes (backend.h): x [N, C, H, W], w [O, C/G kh kw] (groups G), y [N, O, oh ow]; group gi uses rows
 * gi Kg .. (gi+1) Kg of an image's columns (Kg = C/G kh kw: the rows are ordered c, i, j) and output
 * channels gi Og .. (gi+1) Og. The scratch holds the columns of B images side by side ([C kh kw, B L]),
 * never the whole batch's: B is 1 for large images and grows for small ones until a GEMM is B L >=
 * GEMM_COLS wide (a 7 x 7 image alone gives 49-column GEMMs that stream the whole weight per image) or
 * the columns would outgrow COLS_MAX. Then the outputs and upstream gradients of those B images are
 * gathered to [O, B L] beside them. A 1 x 1 convolution with stride 1 and no padding goes one image at a
 * time and needs no columns at all: they are x (measured: gathering 7 x 7 images for it cost more than
 * the wider GEMM gained). */
enum { GEMM_COLS = 512, COLS_MAX = 1 << 18 };  /* 1 MB of columns: what a core's L2 keeps for the GEMM */

typedef struct {
    int64_t N, C, H, W, O, L, Kg, Og, KK, B;
    bool pointwise;  /* 1 x 1, stride 1, no padding: an image's columns are the image */
} conv_plan;

static conv_plan plan_of(int64_t N, int64_t C, int64_t H, int64_t W, int64_t O, const ug_conv_geom *g, int64_t G) {
    conv_plan p = {.N = N, .C = C, .H = H, .W = W, .O = O, .L = g->oh * g->ow, .Kg = C / G * g->kh * g->kw,
                   .Og = O / G, .KK = g->kh * g->kw};
    p.pointwise = g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->ph == 0 && g->pw == 0;
    p.B = p.L >= GEMM_COLS || p.pointwise ? 1 : (GEMM_COLS + p.L - 1) / p.L;
    while (p.B > 1 && p.B * p.L * C * p.KK > COLS_MAX) p.B--;
    if (p.B > N) p.B = N > 0 ? N : 1;
    return p;
}

/* Columns [C KK, B L] and, when B > 1, an [O, B L] block of outputs or gradients. */
static float *conv_scratch(const conv_plan *p, float **ob) {
    const size_t cols = p->B == 1 && p->pointwise ? 0 : (size_t)(p->C * p->KK * p->B * p->L);
    const size_t outs = p->B > 1 ? (size_t)(p->O * p->B * p->L) : 0;
    float *s = ug_cpu_alloc(sizeof(float) * (cols + outs + 1));
    *ob = s ? s + cols : NULL;
    return s;
}

/* Images [n0, n0 + b) of t [N, R, L] <-> the block [R, b L] (image k's rows at column k L). */
static void gather_rows(const float *t, int64_t n0, int64_t b, int64_t R, int64_t L, float *blk) {
    for (int64_t k = 0; k < b; k++)
        for (int64_t r = 0; r < R; r++) memcpy(blk + r * b * L + k * L, t + ((n0 + k) * R + r) * L, sizeof(float) * (size_t)L);
}

bool ug_cpu_conv2d(const ug_tensor *xt, const ug_tensor *wt, const ug_tensor *bt, const ug_conv_geom *g, int64_t G,
                   ug_tensor *yt) {
    const conv_plan P = plan_of(xt->shape[0], xt->shape[1], xt->shape[2], xt->shape[3], yt->shape[1], g, G);
    const int64_t C = P.C, L = P.L, Kg = P.Kg, Og = P.Og, O = P.O, HW = P.H * P.W;
    float *ob, *cols = conv_scratch(&P, &ob);  // cols [C kh kw, B L], ob [O, B L] when B > 1
    if (!cols) return false;
    const float *x = xt->data, *w = wt->data, *b = bt ? bt->data : NULL;
    float *y = yt->data;
    for (int64_t n0 = 0; n0 < P.N; n0 += P.B) {
        const int64_t nb = P.N - n0 < P.B ? P.N - n0 : P.B, ld = nb * L;
        const float *c = x + n0 * C * HW;
        if (!(nb == 1 && P.pointwise)) {
            for (int64_t k = 0; k < nb; k++) im2col_planes(x + (n0 + k) * C * HW, C, P.H, P.W, g, cols + k * L, ld);
            c = cols;
        }
        float *out = P.B > 1 ? ob : y + n0 * O * L;  // [O, nb L]
        for (int64_t gi = 0; gi < G; gi++)  // out_g [Og, nb L] = w_g [Og, Kg] @ cols_g [Kg, nb L]
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)Og, (int)ld, (int)Kg, 1.0f, w + gi * Og * Kg,
                        (int)Kg, c + gi * Kg * ld, (int)ld, 0.0f, out + gi * Og * ld, (int)ld);
        for (int64_t k = 0; k < nb && (P.B > 1 || b); k++)  // to y [N, O, L], the bias added while in cache
            for (int64_t o = 0; o < O; o++) {
                float *restrict yo = y + ((n0 + k) * O + o) * L;
                const float bo = b ? b[o] : 0.0f;
                if (P.B == 1) {
                    for (int64_t l = 0; l < L; l++) yo[l] += bo;
                    continue;
                }
                const float *restrict src = ob + o * ld + k * L;
                if (b)
                    for (int64_t l = 0; l < L; l++) yo[l] = src[l] + bo;
                else
                    memcpy(yo, src, sizeof(float) * (size_t)L);
            }
    }
    ug_cpu_free(cols);
    return true;
}

bool ug_cpu_conv2d_grad_input(const ug_tensor *gyt, const ug_tensor *wt, const ug_conv_geom *g, int64_t G,
                              ug_tensor *gxt) {
    const conv_plan P = plan_of(gxt->shape[0], gxt->shape[1], gxt->shape[2], gxt->shape[3], gyt->shape[1], g, G);
    const int64_t C = P.C, L = P.L, Kg = P.Kg, Og = P.Og, O = P.O, HW = P.H * P.W;
    float *ob, *cols = conv_scratch(&P, &ob);
    if (!cols) return false;
    const float *gy = gyt->data, *w = wt->data;
    float *gx = gxt->data;
    for (int64_t n0 = 0; n0 < P.N; n0 += P.B) {
        const int64_t nb = P.N - n0 < P.B ? P.N - n0 : P.B, ld = nb * L;
        const float *src = gy + n0 * O * L;  // [O, nb L]
        if (P.B > 1) {
            gather_rows(gy, n0, nb, O, L, ob);
            src = ob;
        }
        float *dst = nb == 1 && P.pointwise ? gx + n0 * C * HW : cols;  // [C kh kw, nb L]
        for (int64_t gi = 0; gi < G; gi++)  // dst_g [Kg, nb L] = w_g^T [Kg, Og] @ src_g [Og, nb L]
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)Kg, (int)ld, (int)Og, 1.0f, w + gi * Og * Kg,
                        (int)Kg, src + gi * Og * ld, (int)ld, 0.0f, dst + gi * Kg * ld, (int)ld);
        if (dst != cols) continue;
        for (int64_t k = 0; k < nb; k++) col2im_planes_own(cols + k * L, C, P.H, P.W, g, gx + (n0 + k) * C * HW, ld);
    }
    ug_cpu_free(cols);
    return true;
}

bool ug_cpu_conv2d_grad_weight(const ug_tensor *xt, const ug_tensor *gyt, const ug_conv_geom *g, int64_t G,
                               ug_tensor *gwt) {
    const conv_plan P = plan_of(xt->shape[0], xt->shape[1], xt->shape[2], xt->shape[3], gyt->shape[1], g, G);
    const int64_t C = P.C, L = P.L, Kg = P.Kg, Og = P.Og, O = P.O, HW = P.H * P.W;
    float *ob, *cols = conv_scratch(&P, &ob);
    if (!cols) return false;
    const float *x = xt->data, *gy = gyt->data;
    float *gw = gwt->data;
    if (P.N == 0) memset(gw, 0, sizeof(float) * (size_t)(O * Kg));
    for (int64_t n0 = 0; n0 < P.N; n0 += P.B) {
        const int64_t nb = P.N - n0 < P.B ? P.N - n0 : P.B, ld = nb * L;
        const float *c = x + n0 * C * HW, *src = gy + n0 * O * L;
        if (!(nb == 1 && P.pointwise)) {
            for (int64_t k = 0; k < nb; k++) im2col_planes(x + (n0 + k) * C * HW, C, P.H, P.W, g, cols + k * L, ld);
            c = cols;
        }
        if (P.B > 1) {
            gather_rows(gy, n0, nb, O, L, ob);
            src = ob;
        }
        for (int64_t gi = 0; gi < G; gi++)  // gw_g [Og, Kg] (+)= src_g [Og, nb L] @ cols_g^T [nb L, Kg], in image order
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)Og, (int)Kg, (int)ld, 1.0f, src + gi * Og * ld,
                        (int)ld, c + gi * Kg * ld, (int)ld, n0 ? 1.0f : 0.0f, gw + gi * Og * Kg, (int)Kg);
    }
    ug_cpu_free(cols);
    return true;
}
