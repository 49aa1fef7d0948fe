/* test_conv_kernels.c — ug_conv2d's forward and first-order gradients (x, w, bias) against a direct
 * convolution summed in double, on geometries that take each path of the CPU kernels
 * (backend/cpu/cpu_conv.c): one image per GEMM (L >= 512 pixels) or several side by side, with a
 * remainder; 1 x 1 convolutions, whose columns are the image itself; the shifted-plane copy for stride 1
 * with an output as wide as the input (3 x 3 and 5 x 5 "same", dilation, a kh x 1 kernel, groups) and
 * the per-row path for the rest (stride 2, no padding). The gradcheck and torch fixture tests use small
 * images, so they see only the batched paths. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "unigfn/rng.h"
#include "unigfn/tensor.h"

typedef struct {
    const char *name;
    int64_t N, C, H, W, O, kh, kw, sh, sw, ph, pw, dh, dw, groups;
} conv_case;

static const conv_case cases[] = {
    {"3x3 same, 24x24 (one image per GEMM)", 3, 4, 24, 24, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1},
    {"1x1 on 24x24 (no columns)", 2, 6, 24, 24, 3, 1, 1, 1, 1, 0, 0, 1, 1, 1},
    {"1x1 on 5x7 (no columns either)", 5, 6, 5, 7, 4, 1, 1, 1, 1, 0, 0, 1, 1, 1},
    {"3x3 same, 7x7, 13 images (11 + remainder 2)", 13, 3, 7, 7, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1},
    {"3x3 dilation 2 same, groups 2", 4, 4, 6, 6, 6, 3, 3, 1, 1, 2, 2, 2, 2, 2},
    {"5x5 same", 3, 3, 9, 8, 4, 5, 5, 1, 1, 2, 2, 1, 1, 1},
    {"3x1 kernel, rows padded only", 2, 3, 6, 5, 2, 3, 1, 1, 1, 1, 0, 1, 1, 1},
    {"3x3 stride 2 pad 1 (per-row path)", 3, 2, 7, 9, 3, 3, 3, 2, 2, 1, 1, 1, 1, 1},
    {"3x3 no padding (narrower output)", 2, 2, 6, 6, 2, 3, 3, 1, 1, 0, 0, 1, 1, 1},
    {"3x3 pad 2 (output wider than the input)", 2, 2, 5, 6, 3, 3, 3, 1, 1, 2, 2, 1, 1, 1},
};

static float *host(ug_ctx *c, ug_tensor *t) {
    float *v = malloc(sizeof(float) * (size_t)ug_numel(t));
    ug_tensor_get(c, t, v, ug_numel(t));
    return v;
}

static double rel(double a, double b) { return fabs(a - b) / fmax(1.0, fabs(b)); }

static void run(ug_ctx *c, const conv_case *k) {
    ug_step_reset(c);
    ug_rng rng = ug_rng_make(11, 0);
    const int64_t G = k->groups, Cg = k->C / G, Og = k->O / G;
    const int64_t OH = (k->H + 2 * k->ph - k->dh * (k->kh - 1) - 1) / k->sh + 1;
    const int64_t OW = (k->W + 2 * k->pw - k->dw * (k->kw - 1) - 1) / k->sw + 1;
    ug_tensor *x = ug_requires_grad(c, ug_rand_normal(c, &rng, 4, (int64_t[]){k->N, k->C, k->H, k->W}));
    ug_tensor *w = ug_requires_grad(c, ug_rand_normal(c, &rng, 4, (int64_t[]){k->O, Cg, k->kh, k->kw}));
    ug_tensor *b = ug_requires_grad(c, ug_rand_normal(c, &rng, 1, (int64_t[]){k->O}));
    ug_tensor *R = ug_rand_normal(c, &rng, 4, (int64_t[]){k->N, k->O, OH, OW});
    ug_conv2d_opts o = {.stride = {k->sh, k->sw}, .padding = {k->ph, k->pw}, .dilation = {k->dh, k->dw},
                        .groups = G};
    ug_tensor *y = ug_conv2d(c, x, w, b, &o);
    ug_tensor *wrt[3] = {x, w, b}, *g[3];
    bool ok = y && y->shape[2] == OH && y->shape[3] == OW &&
              ug_grad(c, ug_sum_all(c, ug_mul(c, y, R)), wrt, 3, g, false) == UG_OK;
    CHECK(ok, "%s: %s", k->name, ug_ctx_errmsg(c));
    if (!ok) return;
    float *xv = host(c, x), *wv = host(c, w), *bv = host(c, b), *rv = host(c, R), *yv = host(c, y);
    float *gx = host(c, g[0]), *gw = host(c, g[1]), *gb = host(c, g[2]);
    double *rx = calloc((size_t)ug_numel(x), sizeof(double)), *rw = calloc((size_t)ug_numel(w), sizeof(double));
    double ey = 0, ex = 0, ew = 0, eb = 0;
    for (int64_t o2 = 0; o2 < k->O; o2++) {
        double db = 0;
        const int64_t gi = o2 / Og;
        for (int64_t n = 0; n < k->N; n++)
            for (int64_t p = 0; p < OH; p++)
                for (int64_t q = 0; q < OW; q++) {
                    const int64_t yi = ((n * k->O + o2) * OH + p) * OW + q;
                    double s = bv[o2];
                    for (int64_t cc = 0; cc < Cg; cc++)
                        for (int64_t i = 0; i < k->kh; i++)
                            for (int64_t j = 0; j < k->kw; j++) {
                                const int64_t ih = p * k->sh - k->ph + i * k->dh, iw = q * k->sw - k->pw + j * k->dw;
                                if (ih < 0 || ih >= k->H || iw < 0 || iw >= k->W) continue;
                                const int64_t xi = ((n * k->C + gi * Cg + cc) * k->H + ih) * k->W + iw;
                                const int64_t wi = ((o2 * Cg + cc) * k->kh + i) * k->kw + j;
                                s += (double)wv[wi] * xv[xi];
                                rx[xi] += (double)wv[wi] * rv[yi];
                                rw[wi] += (double)xv[xi] * rv[yi];
                            }
                    ey = fmax(ey, rel(yv[yi], s));
                    db += rv[yi];
                }
        eb = fmax(eb, rel(gb[o2], db));
    }
    for (int64_t i = 0; i < ug_numel(x); i++) ex = fmax(ex, rel(gx[i], rx[i]));
    for (int64_t i = 0; i < ug_numel(w); i++) ew = fmax(ew, rel(gw[i], rw[i]));
    CHECK(ey < 1e-5 && ex < 1e-5 && ew < 1e-4 && eb < 1e-4, "%s: y %g, dx %g, dw %g, db %g off the direct sums",
          k->name, ey, ex, ew, eb);
    free(xv), free(wv), free(bv), free(rv), free(yv), free(gx), free(gw), free(gb), free(rx), free(rw);
}

int main(void) {
    ug_ctx *c = ug_ctx_new(8 << 20);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run(c, &cases[i]);
    ug_ctx_free(c);
    return CHECK_DONE();
}
