/* ops_image.c — upsampling and group normalization of NCHW tensors. Upsampling is composed from
 * differentiable ops (so gradients of any order come from theirs, and no kernel is needed).
 *
 * Nearest upsampling is two broadcasts (each pixel expanded s times along W, then each row s times along
 * H), whose backward sums the copies back. Bilinear upsampling is separable: along W, then along H,
 * each output is w0 * x[i0] + w1 * x[i1] with torch's source indices and weights (computed on the host,
 * copied in as constants) and index_select picking the neighbours, in torch's order of operations
 * (the W pass inside, then t(h0) w0 + t(h1) w1). Group norm is one op of its own (a UNet has one
 * before nearly every convolution; as a chain of five full-size ops it held most of the network's
 * activation memory): a backend kernel forward and, for the first-order backward, another. */
#include "tensor/internal.h"

#include <math.h>
#include <string.h>

/* ---- upsample2d ---- */

/* Torch's align_corners=False source index for output j at factor s (area_pixel_compute_source_index
 * with scale 1/s, in float), its two neighbours in [0, n) and their weights. */
static void bilinear_taps(int64_t n, int64_t s, int64_t j, int32_t *i0, int32_t *i1, float *w0, float *w1) {
    const float scale = (float)(1.0 / (double)s);
    float src = scale * ((float)j + 0.5f) - 0.5f;
    if (src < 0.0f) src = 0.0f;
    int64_t k = (int64_t)floorf(src);
    if (k > n - 1) k = n - 1;
    float l = src - (float)k;
    l = l < 0.0f ? 0.0f : l > 1.0f ? 1.0f : l;
    *i0 = (int32_t)k;
    *i1 = (int32_t)(k < n - 1 ? k + 1 : k);
    *w0 = 1.0f - l;
    *w1 = l;
}

/* Linear interpolation of x along `axis` (2 or 3) to n * s entries. */
static ug_tensor *interp_axis(ug_ctx *ctx, ug_tensor *x, int axis, int64_t s) {
    UG_CHECK_IN(ctx, x);
    const int64_t n = x->shape[axis], m = n * s;
    int32_t *idx = ug__alloc(ctx, sizeof(int32_t) * (size_t)(2 * m));  // host scratch: i0 [m], i1 [m]
    float *wt = ug__alloc(ctx, sizeof(float) * (size_t)(2 * m));       // w0 [m], w1 [m]
    if (!idx || !wt) return NULL;
    for (int64_t j = 0; j < m; j++) bilinear_taps(n, s, j, &idx[j], &idx[m + j], &wt[j], &wt[m + j]);
    /* the weights broadcast along the last axis ([m]) or the one before it ([m, 1]) */
    const int64_t wsh[2] = {m, 1};
    const int wnd = axis == 3 ? 1 : 2;
    ug_tensor *i0 = ug_from_i32(ctx, idx, 1, &m), *i1 = ug_from_i32(ctx, idx + m, 1, &m);
    ug_tensor *w0 = ug_from_f32(ctx, wt, wnd, wsh), *w1 = ug_from_f32(ctx, wt + m, wnd, wsh);
    ug_tensor *a = ug_mul(ctx, ug_index_select(ctx, x, axis, i0), w0);
    ug_tensor *b = ug_mul(ctx, ug_index_select(ctx, x, axis, i1), w1);
    return ug_add(ctx, a, b);
}

ug_tensor *ug_upsample2d(ug_ctx *ctx, ug_tensor *x, int64_t scale, ug_upsample_mode mode) {
    UG_CHECK_IN(ctx, x);
    char sx[64];
    if (x->dtype != UG_F32 || x->ndim != 4)
        return ug__fail_null(ctx, "upsample2d", "x %s: needs a float [N, C, H, W]", ug__shp(x, sx));
    const int64_t N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3], s = scale;
    if (s < 1 || (mode != UG_UPSAMPLE_NEAREST && mode != UG_UPSAMPLE_BILINEAR) || H * s > INT32_MAX ||
        W * s > INT32_MAX)
        return ug__fail_null(ctx, "upsample2d", "x %s: scale %lld and mode %d: need an integer scale >= 1 and "
                             "UG_UPSAMPLE_NEAREST or UG_UPSAMPLE_BILINEAR", ug__shp(x, sx), (long long)s, (int)mode);
    if (s == 1) return x;
    if (mode == UG_UPSAMPLE_BILINEAR) {
        ug_tensor *xw = interp_axis(ctx, x, 3, s);  // [N, C, H, W s]
        return interp_axis(ctx, xw, 2, s);         // [N, C, H s, W s]
    }
    ug_tensor *v = ug_reshape(ctx, x, 3, (int64_t[]){N * C * H, W, 1});
    v = ug_expand(ctx, v, 3, (int64_t[]){N * C * H, W, s});                     // each pixel s times
    v = ug_reshape(ctx, v, 4, (int64_t[]){N * C, H, 1, W * s});                 // [N C, H, 1, W s]
    v = ug_expand(ctx, v, 4, (int64_t[]){N * C, H, s, W * s});                  // each row s times
    return ug_reshape(ctx, v, 4, (int64_t[]){N, C, H * s, W * s});              // [N, C, H s, W s]
}

/* ---- group_norm ----
 * One kernel forward (y and each block's mean and rstd, saved on the node). Backward has two ways:
 * without a graph of the gradient (create_graph off: grad mode is off while the rule runs) one kernel
 * gives dx, dweight and dbias from the saved statistics, the last two straight into the parameters'
 * gradient blocks under ug_backward; with create_graph the gradient is built from differentiable ops,
 * the mean and rstd recomputed from x by ops (the saved ones are constants to the tape), so it can be
 * differentiated again. Both are, with xhat = (x - mean) rstd and gh = g weight,
 *     dx = rstd (gh - mean(gh) - xhat mean(gh xhat)),  dweight = sum g xhat,  dbias = sum g
 * (means over each block, sums over all but the channel axis). */

/* x [N, C, ...] seen as [N, G, M], and its xhat [N, G, M] and rstd [N, G, 1], by differentiable ops. */
static ug_tensor *gn_xhat(ug_ctx *ctx, ug_tensor *x, int64_t G, int64_t M, float eps, ug_tensor **rstd) {
    const int64_t N = x->shape[0];
    ug_tensor *xr = ug_reshape(ctx, x, 3, (int64_t[]){N, G, M});               // [N, G, M]
    ug_tensor *xc = ug_sub(ctx, xr, ug_mean(ctx, xr, -1, true));               // [N, G, M]
    ug_tensor *var = ug_mean(ctx, ug_square(ctx, xc), -1, true);               // [N, G, 1] biased
    *rstd = ug_pow_scalar(ctx, ug_add_scalar(ctx, var, eps), -0.5f);           // [N, G, 1]
    return ug_mul(ctx, xc, *rstd);                                             // [N, G, M]
}

static void bw_group_norm(ug_ctx *ctx, ug_node *n, ug_tensor *g, ug_tensor **gin, const bool *need) {
    ug_tensor *x = n->in[0], *w = n->in[1], *b = n->in[2];
    const int64_t N = x->shape[0], C = x->shape[1], G = n->i[0], M = n->i[1];
    const int64_t csh[3] = {C, 1, 1};  // a [C] parameter against x's trailing dims: [C, 1, ...]
    if (!ug_grad_enabled(ctx)) {
        ug_tensor *gc = ug_contiguous(ctx, g);                                      // [N, C, ...]
        ug_tensor *gx = need[0] ? ug__empty(ctx, UG_F32, x->ndim, x->shape) : NULL;  // [N, C, ...]
        const bool dw = w && need[1] && ug__direct_param(ctx, w) && ug_is_contiguous(w->grad);
        const bool db = b && need[2] && ug__direct_param(ctx, b) && ug_is_contiguous(b->grad);
        ug_tensor *gw = w && need[1] ? (dw ? w->grad : ug_zeros(ctx, 1, &C)) : NULL;  // [C]
        ug_tensor *gb = b && need[2] ? (db ? b->grad : ug_zeros(ctx, 1, &C)) : NULL;  // [C]
        if (!gc || (need[0] && !gx) || (w && need[1] && !gw) || (b && need[2] && !gb)) return;
        ctx->be->group_norm_backward(x, w, n->saved, G, gc, gx, gw, gb);
        gin[0] = gx;
        gin[1] = dw ? NULL : gw;
        gin[2] = db ? NULL : gb;
        return;
    }
    ug_tensor *rstd, *xhat = gn_xhat(ctx, x, G, M, n->f[0], &rstd);            // [N, G, M], [N, G, 1]
    if (need[0]) {
        ug_tensor *gh = w ? ug_mul(ctx, g, ug_reshape(ctx, w, x->ndim - 1, csh)) : g;  // [N, C, ...]
        ug_tensor *ghr = ug_reshape(ctx, gh, 3, (int64_t[]){N, G, M});               // [N, G, M]
        ug_tensor *proj = ug_mul(ctx, xhat, ug_mean(ctx, ug_mul(ctx, ghr, xhat), -1, true));
        ug_tensor *dx = ug_mul(ctx, rstd, ug_sub(ctx, ug_sub(ctx, ghr, ug_mean(ctx, ghr, -1, true)), proj));
        gin[0] = ug_reshape(ctx, dx, x->ndim, x->shape);                             // [N, C, ...]
    }
    if (w && need[1]) {
        ug_tensor *gxh = ug_mul(ctx, g, ug_reshape(ctx, xhat, x->ndim, x->shape));   // [N, C, ...]
        gin[1] = ug_reshape(ctx, ug_sum_to(ctx, gxh, x->ndim - 1, csh), 1, &C);     // [C]
    }
    if (b && need[2]) gin[2] = ug_reshape(ctx, ug_sum_to(ctx, g, x->ndim - 1, csh), 1, &C);  // [C]
}

ug_tensor *ug_group_norm(ug_ctx *ctx, ug_tensor *x, int64_t groups, ug_tensor *weight, ug_tensor *bias, float eps) {
    UG_CHECK_IN(ctx, x);
    char sx[64], sw[64];
    if (x->dtype != UG_F32 || x->ndim < 2)
        return ug__fail_null(ctx, "group_norm", "x %s: needs a float [N, C, ...]", ug__shp(x, sx));
    const int64_t N = x->shape[0], C = x->shape[1], G = groups;
    if (G < 1 || C % G || !(eps >= 0.0f))
        return ug__fail_null(ctx, "group_norm", "x %s with %lld groups, eps %g: groups must divide C and eps be >= 0",
                             ug__shp(x, sx), (long long)G, (double)eps);
    ug_tensor *const ab[2] = {weight, bias};
    for (int k = 0; k < 2; k++)
        if (ab[k] && (ab[k]->ndim != 1 || ab[k]->shape[0] != C || ab[k]->dtype != UG_F32))
            return ug__fail_null(ctx, "group_norm", "%s %s must be a float [%lld] for x %s", k ? "bias" : "weight",
                                 ug__shp(ab[k], sw), (long long)C, ug__shp(x, sx));
    const int64_t M = N * C != 0 ? ug_numel(x) / (N * C) * (C / G) : 0;  // entries of one group of one sample
    x = ug_contiguous(ctx, x);
    if (weight) weight = ug_contiguous(ctx, weight);
    if (bias) bias = ug_contiguous(ctx, bias);
    if (!x || (ab[0] && !weight) || (ab[1] && !bias)) return NULL;
    ug_tensor *y = ug__empty(ctx, UG_F32, x->ndim, x->shape);             // [N, C, ...]
    ug_tensor *stats = ug__empty(ctx, UG_F32, 3, (int64_t[]){N, G, 2});  // [N, G, 2]: mean, rstd
    if (!y || !stats) return NULL;
    if (ug_numel(y) > 0) ctx->be->group_norm(x, weight, bias, G, eps, y, stats);
    ug_tensor *in[3] = {x, weight, bias};
    ug_node *n = ug__record(ctx, y, "group_norm", bw_group_norm, 3, in);
    if (n) {
        n->i[0] = G;
        n->i[1] = M;
        n->f[0] = eps;
        n->saved = stats;
    }
    return y;  // [N, C, ...]
}
