/* ops_conv.c — 2-D convolution, transposed convolution and average pooling (NCHW).
 *
 * Convolution is three bilinear ops (the backend's conv2d, conv2d_grad_input, conv2d_grad_weight):
 *   conv2d            y = w [O, C/G kh kw] @ im2col(x) (+ bias [O], added by the same kernel: a separate
 *                     add would hold a second copy of every convolution's output)   per image and group
 *   conv_transpose2d  y = the adjoint of a conv2d in its input: col2im(w^T @ x)
 * and the third, the adjoint in the weight, appears in their gradients. The gradient of each of the
 * three is made of the other two (see the block below), so second order needs no code of its own.
 * The backend rebuilds one image's windows at a time in scratch memory, so a node keeps only its
 * inputs: the columns of a whole batch (kh kw / (sh sw) times x's memory) are never held, which is
 * what torch's CPU path does too. That matters for a UNet, whose tape would otherwise hold every
 * layer's columns until the backward.
 * Pooling uses two linear window ops: im2col_op (x [N, C, H, W] -> its windows as columns
 * [N, C kh kw, OH OW], torch's unfold) and col2im_op (the adjoint, torch's fold), each the other's
 * backward:
 *   avg_pool2d        y = mean over the kh kw rows of im2col(x seen as [N C, 1, H, W])
 *
 * A node has eight saved integers and a geometry has ten, so the geometry is saved as five (h, w)
 * pairs packed two to an int64 (every value is checked below 2^31: BLAS takes int). */
#include "tensor/internal.h"

#include <string.h>

#define GEOM_MAX ((int64_t)1 << 31)

static int64_t pack2(int64_t h, int64_t w) { return h | (w << 32); }
static int64_t lo32(int64_t v) { return v & 0xffffffff; }
static int64_t hi32(int64_t v) { return v >> 32; }

static void geom_save(ug_node *n, const ug_conv_geom *g) {
    n->i[0] = pack2(g->kh, g->kw);
    n->i[1] = pack2(g->sh, g->sw);
    n->i[2] = pack2(g->ph, g->pw);
    n->i[3] = pack2(g->dh, g->dw);
    n->i[4] = pack2(g->oh, g->ow);
}

static ug_conv_geom geom_load(const ug_node *n) {
    return (ug_conv_geom){.kh = lo32(n->i[0]), .kw = hi32(n->i[0]), .sh = lo32(n->i[1]), .sw = hi32(n->i[1]),
                          .ph = lo32(n->i[2]), .pw = hi32(n->i[2]), .dh = lo32(n->i[3]), .dw = hi32(n->i[3]),
                          .oh = lo32(n->i[4]), .ow = hi32(n->i[4])};
}

/* ---- the window ops (callers checked the geometry against the image) ---- */
static ug_tensor *col2im_op(ug_ctx *ctx, ug_tensor *cols, const ug_conv_geom *g, int64_t H, int64_t W);

static void bw_im2col(ug_ctx *ctx, ug_node *n, ug_tensor *g, ug_tensor **gin, const bool *need) {
    if (!need[0]) return;
    ug_conv_geom geo = geom_load(n);
    gin[0] = col2im_op(ctx, g, &geo, n->in[0]->shape[2], n->in[0]->shape[3]);
}

/* x [N, C, H, W] -> [N, C kh kw, oh ow] */
static ug_tensor *im2col_op(ug_ctx *ctx, ug_tensor *x, const ug_conv_geom *g) {
    UG_CHECK_IN(ctx, x);
    x = ug_contiguous(ctx, x);
    if (!x) return NULL;
    int64_t sh[3] = {x->shape[0], x->shape[1] * g->kh * g->kw, g->oh * g->ow};
    ug_tensor *cols = ug__empty(ctx, UG_F32, 3, sh);  // [N, C kh kw, oh ow]
    if (!cols) return NULL;
    if (ug_numel(cols) > 0) ctx->be->im2col(x, g, cols);
    ug_node *n = ug__record(ctx, cols, "im2col", bw_im2col, 1, &x);
    if (n) geom_save(n, g);
    return cols;
}

static void bw_col2im(ug_ctx *ctx, ug_node *n, ug_tensor *g, ug_tensor **gin, const bool *need) {
    if (!need[0]) return;
    ug_conv_geom geo = geom_load(n);
    gin[0] = im2col_op(ctx, g, &geo);
}

/* cols [N, C kh kw, oh ow] -> [N, C, H, W] */
static ug_tensor *col2im_op(ug_ctx *ctx, ug_tensor *cols, const ug_conv_geom *g, int64_t H, int64_t W) {
    UG_CHECK_IN(ctx, cols);
    cols = ug_contiguous(ctx, cols);
    if (!cols) return NULL;
    int64_t sh[4] = {cols->shape[0], cols->shape[1] / (g->kh * g->kw), H, W};
    ug_tensor *x = ug__empty(ctx, UG_F32, 4, sh);  // [N, C, H, W]
    if (!x) return NULL;
    if (ug_numel(x) > 0) ctx->be->col2im(cols, g, x);
    ug_node *n = ug__record(ctx, x, "col2im", bw_col2im, 1, &cols);
    if (n) geom_save(n, g);
    return x;
}

/* ---- the three convolution products (backend.h), closed under differentiation ----
 * conv(x, w), gin(gy, w) = its adjoint in x, gw(x, gy) = its adjoint in w are bilinear, and the
 * gradients of each are the other two (upstream G):
 *   conv: dx = gin(G, w)     dw = gw(x, G)
 *   gin:  dgy = conv(G, w)   dw = gw(G, gy)
 *   gw:   dx = gin(gy, G)    dgy = conv(x, G)
 * so gradients of any order are these ops again (conv2d's bias, a third input, gets the sum of G over
 * images and pixels, linear in G). A node saves only its inputs (and the geometry in
 * i[0..4], the groups in i[5]): the windows are rebuilt one image at a time inside the backend's
 * kernels, never stored for the whole batch. */
static ug_tensor *conv_op(ug_ctx *ctx, ug_tensor *x, ug_tensor *w, ug_tensor *bias, const ug_conv_geom *g,
                          int64_t G);
static ug_tensor *conv_gin_op(ug_ctx *ctx, ug_tensor *gy, ug_tensor *w, const ug_conv_geom *g, int64_t G, int64_t H,
                              int64_t W);
static ug_tensor *conv_gw_op(ug_ctx *ctx, ug_tensor *x, ug_tensor *gy, const ug_conv_geom *g, int64_t G,
                             const int64_t *wshape);

/* d/d bias of conv2d's output [N, O, oh, ow]: the sum of g over images and pixels, added straight into
 * the bias's gradient block under ug_backward (images first, a vectorized pass, then each channel's
 * pixels), else as differentiable ops. */
static void bw_conv_bias(ug_ctx *ctx, ug_tensor *g, ug_tensor *bias, ug_tensor **gin) {
    const int64_t N = g->shape[0], O = g->shape[1], L = g->shape[2] * g->shape[3];
    if (ug__direct_param(ctx, bias) && ug_is_contiguous(bias->grad) && ug_is_contiguous(g)) {
        ug_tensor *s = ug_sum(ctx, ug_reshape(ctx, g, 2, (int64_t[]){N, O * L}), 0, false);  // [O L]
        if (!s) return;
        ctx->be->sum_acc(ug_reshape(ctx, s, 2, (int64_t[]){O, L}), 1, bias->grad);       // [O] += row sums
        return;
    }
    gin[2] = ug_reshape(ctx, ug_sum_to(ctx, g, 3, (int64_t[]){O, 1, 1}), 1, &O);  // [O]
}

static void bw_conv(ug_ctx *ctx, ug_node *n, ug_tensor *g, ug_tensor **gin, const bool *need) {
    ug_conv_geom geo = geom_load(n);
    ug_tensor *x = n->in[0], *w = n->in[1];
    g = ug_contiguous(ctx, g);  /* once for all three (a concat's gradient arrives as a strided slice) */
    if (!g) return;
    if (need[0]) gin[0] = conv_gin_op(ctx, g, w, &geo, n->i[5], x->shape[2], x->shape[3]);
    if (need[1]) gin[1] = conv_gw_op(ctx, x, g, &geo, n->i[5], w->shape);
    if (n->nin > 2 && need[2]) bw_conv_bias(ctx, g, n->in[2], gin);
}

static void bw_conv_gin(ug_ctx *ctx, ug_node *n, ug_tensor *g, ug_tensor **gin, const bool *need) {
    ug_conv_geom geo = geom_load(n);
    ug_tensor *gy = n->in[0], *w = n->in[1];
    if (need[0]) gin[0] = conv_op(ctx, g, w, NULL, &geo, n->i[5]);
    if (need[1]) gin[1] = conv_gw_op(ctx, g, gy, &geo, n->i[5], w->shape);
}

static void bw_conv_gw(ug_ctx *ctx, ug_node *n, ug_tensor *g, ug_tensor **gin, const bool *need) {
    ug_conv_geom geo = geom_load(n);
    ug_tensor *x = n->in[0], *gy = n->in[1];
    if (need[0]) gin[0] = conv_gin_op(ctx, gy, g, &geo, n->i[5], x->shape[2], x->shape[3]);
    if (need[1]) gin[1] = conv_op(ctx, x, g, NULL, &geo, n->i[5]);
}

static ug_node *record_conv(ug_ctx *ctx, ug_tensor *out, const char *op, ug_backward_fn bw, ug_tensor *a,
                            ug_tensor *b, ug_tensor *bias, const ug_conv_geom *g, int64_t G) {
    ug_tensor *in[3] = {a, b, bias};
    ug_node *n = ug__record(ctx, out, op, bw, bias ? 3 : 2, in);
    if (n) {
        geom_save(n, g);
        n->i[5] = G;
    }
    return n;
}

static ug_tensor *conv_fail_nomem(ug_ctx *ctx, const char *op, const ug_tensor *a, const ug_tensor *b) {
    char sa[64], sb[64];
    return ug__fail_null(ctx, op, "out of memory for one image's windows (%s, %s)", ug__shp(a, sa), ug__shp(b, sb));
}

/* x [N, C, H, W], w [O, C/G, kh, kw], bias [O] or NULL -> [N, O, oh, ow] */
static ug_tensor *conv_op(ug_ctx *ctx, ug_tensor *x, ug_tensor *w, ug_tensor *bias, const ug_conv_geom *g,
                          int64_t G) {
    UG_CHECK_IN(ctx, x);
    UG_CHECK_IN(ctx, w);
    x = ug_contiguous(ctx, x);
    w = ug_contiguous(ctx, w);
    ug_tensor *bc = bias ? ug_contiguous(ctx, bias) : NULL;
    if (!x || !w || (bias && !bc)) return NULL;
    ug_tensor *y = ug__empty(ctx, UG_F32, 4, (int64_t[]){x->shape[0], w->shape[0], g->oh, g->ow});
    if (!y) return NULL;
    if (ug_numel(y) > 0 && !ctx->be->conv2d(x, w, bc, g, G, y)) return conv_fail_nomem(ctx, "conv2d", x, w);
    record_conv(ctx, y, "conv2d", bw_conv, x, w, bc, g, G);
    return y;
}

/* gy [N, O, oh, ow], w [O, C/G, kh, kw] -> [N, C, H, W] */
static ug_tensor *conv_gin_op(ug_ctx *ctx, ug_tensor *gy, ug_tensor *w, const ug_conv_geom *g, int64_t G, int64_t H,
                              int64_t W) {
    UG_CHECK_IN(ctx, gy);
    UG_CHECK_IN(ctx, w);
    gy = ug_contiguous(ctx, gy);
    w = ug_contiguous(ctx, w);
    if (!gy || !w) return NULL;
    ug_tensor *gx = ug__empty(ctx, UG_F32, 4, (int64_t[]){gy->shape[0], w->shape[1] * G, H, W});
    if (!gx) return NULL;
    if (ug_numel(gx) > 0) {
        if (ug_numel(gy) == 0) ctx->be->zero(gx->data, sizeof(float) * (size_t)ug_numel(gx));
        else if (!ctx->be->conv2d_grad_input(gy, w, g, G, gx)) return conv_fail_nomem(ctx, "conv2d_grad_input", gy, w);
    }
    record_conv(ctx, gx, "conv2d_grad_input", bw_conv_gin, gy, w, NULL, g, G);
    return gx;
}

/* x [N, C, H, W], gy [N, O, oh, ow] -> [O, C/G, kh, kw] (wshape) */
static ug_tensor *conv_gw_op(ug_ctx *ctx, ug_tensor *x, ug_tensor *gy, const ug_conv_geom *g, int64_t G,
                             const int64_t *wshape) {
    UG_CHECK_IN(ctx, x);
    UG_CHECK_IN(ctx, gy);
    x = ug_contiguous(ctx, x);
    gy = ug_contiguous(ctx, gy);
    if (!x || !gy) return NULL;
    ug_tensor *gw = ug__empty(ctx, UG_F32, 4, wshape);
    if (!gw) return NULL;
    if (ug_numel(gw) > 0) {
        if (ug_numel(x) == 0 || ug_numel(gy) == 0) ctx->be->zero(gw->data, sizeof(float) * (size_t)ug_numel(gw));
        else if (!ctx->be->conv2d_grad_weight(x, gy, g, G, gw)) return conv_fail_nomem(ctx, "conv2d_grad_weight", x, gy);
    }
    record_conv(ctx, gw, "conv2d_grad_weight", bw_conv_gw, x, gy, NULL, g, G);
    return gw;
}

/* ---- options ---- */
typedef struct {
    int64_t sh, sw, ph, pw, dh, dw, groups, oph, opw;
} conv_opts;

static bool read_opts(ug_ctx *ctx, const char *op, const ug_conv2d_opts *o, conv_opts *r) {
    ug_conv2d_opts z = {{0, 0}, {0, 0}, {0, 0}, 0, {0, 0}};
    if (!o) o = &z;
    *r = (conv_opts){o->stride[0] ? o->stride[0] : 1, o->stride[1] ? o->stride[1] : 1, o->padding[0], o->padding[1],
                     o->dilation[0] ? o->dilation[0] : 1, o->dilation[1] ? o->dilation[1] : 1,
                     o->groups ? o->groups : 1, o->output_padding[0], o->output_padding[1]};
    const int64_t v[9] = {r->sh, r->sw, r->ph, r->pw, r->dh, r->dw, r->groups, r->oph, r->opw};
    for (int k = 0; k < 9; k++)
        if (v[k] < 0 || v[k] >= GEOM_MAX) {
            ug__fail_null(ctx, op, "options out of range: stride (%lld, %lld), padding (%lld, %lld), dilation (%lld, "
                          "%lld), groups %lld, output_padding (%lld, %lld)", (long long)r->sh, (long long)r->sw,
                          (long long)r->ph, (long long)r->pw, (long long)r->dh, (long long)r->dw,
                          (long long)r->groups, (long long)r->oph, (long long)r->opw);
            return false;
        }
    return true;
}

/* x [N, C, H, W] and w [A, B, kh, kw], both float; bias [bias_n] or NULL. */
static bool check_image_weight(ug_ctx *ctx, const char *op, const ug_tensor *x, const ug_tensor *w,
                               const ug_tensor *bias) {
    char sx[64], sw[64];
    if (x->dtype != UG_F32 || w->dtype != UG_F32 || (bias && bias->dtype != UG_F32)) {
        ug__fail_null(ctx, op, "expects float tensors");
        return false;
    }
    if (x->ndim != 4 || w->ndim != 4) {
        ug__fail_null(ctx, op, "x %s and w %s: need x [N, C, H, W] and a 4-D weight", ug__shp(x, sx), ug__shp(w, sw));
        return false;
    }
    for (int d = 0; d < 4; d++)
        if (x->shape[d] >= GEOM_MAX || w->shape[d] >= GEOM_MAX || w->shape[d] == 0) {
            ug__fail_null(ctx, op, "x %s or w %s has a dimension out of range", ug__shp(x, sx), ug__shp(w, sw));
            return false;
        }
    return true;
}

static bool check_bias(ug_ctx *ctx, const char *op, const ug_tensor *bias, const ug_tensor *w, int64_t O) {
    char sb[64], sw[64];
    if (!bias || (bias->ndim == 1 && bias->shape[0] == O)) return true;
    ug__fail_null(ctx, op, "bias %s must be [%lld], one per output channel of w %s", ug__shp(bias, sb), (long long)O,
                  ug__shp(w, sw));
    return false;
}

/* y [N, O, OH, OW] + bias [O] per channel (bias NULL: y). */
static ug_tensor *add_channel_bias(ug_ctx *ctx, ug_tensor *y, ug_tensor *bias) {
    if (!bias || !y) return y;
    return ug_add(ctx, y, ug_reshape(ctx, bias, 3, (int64_t[]){bias->shape[0], 1, 1}));  // [N, O, OH, OW]
}

/* ---- conv2d ---- */
ug_tensor *ug_conv2d(ug_ctx *ctx, ug_tensor *x, ug_tensor *w, ug_tensor *bias, const ug_conv2d_opts *o) {
    UG_CHECK_IN(ctx, x);
    UG_CHECK_IN(ctx, w);
    conv_opts r;
    if (!check_image_weight(ctx, "conv2d", x, w, bias) || !read_opts(ctx, "conv2d", o, &r)) return NULL;
    char sx[64], sw[64];
    const int64_t N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
    const int64_t O = w->shape[0], kh = w->shape[2], kw = w->shape[3], G = r.groups;
    if (r.oph || r.opw)
        return ug__fail_null(ctx, "conv2d", "output_padding (%lld, %lld) is for conv_transpose2d only",
                             (long long)r.oph, (long long)r.opw);
    if (C % G || O % G || w->shape[1] != C / G)
        return ug__fail_null(ctx, "conv2d", "x %s and w %s with groups %lld: need w [O, C/groups, kh, kw] with C and O "
                             "multiples of groups", ug__shp(x, sx), ug__shp(w, sw), (long long)G);
    if (!check_bias(ctx, "conv2d", bias, w, O)) return NULL;
    const int64_t eh = r.dh * (kh - 1) + 1, ew = r.dw * (kw - 1) + 1;  // the dilated kernel's extent
    if (H + 2 * r.ph < eh || W + 2 * r.pw < ew)
        return ug__fail_null(ctx, "conv2d", "x %s padded by (%lld, %lld) is smaller than w %s's dilated kernel (%lld, "
                             "%lld)", ug__shp(x, sx), (long long)r.ph, (long long)r.pw, ug__shp(w, sw), (long long)eh,
                             (long long)ew);
    ug_conv_geom g = {kh, kw, r.sh, r.sw, r.ph, r.pw, r.dh, r.dw, (H + 2 * r.ph - eh) / r.sh + 1,
                      (W + 2 * r.pw - ew) / r.sw + 1};
    (void)N;
    return conv_op(ctx, x, w, bias, &g, G);  // [N, O, OH, OW], the bias added in the same pass
}

/* ---- conv_transpose2d ---- */
ug_tensor *ug_conv_transpose2d(ug_ctx *ctx, ug_tensor *x, ug_tensor *w, ug_tensor *bias, const ug_conv2d_opts *o) {
    UG_CHECK_IN(ctx, x);
    UG_CHECK_IN(ctx, w);
    conv_opts r;
    if (!check_image_weight(ctx, "conv_transpose2d", x, w, bias) || !read_opts(ctx, "conv_transpose2d", o, &r))
        return NULL;
    char sx[64], sw[64];
    const int64_t N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
    const int64_t G = r.groups, Og = w->shape[1], O = Og * G, kh = w->shape[2], kw = w->shape[3];
    if (C % G || w->shape[0] != C)
        return ug__fail_null(ctx, "conv_transpose2d", "x %s and w %s with groups %lld: need w [C, O/groups, kh, kw] "
                             "with C a multiple of groups", ug__shp(x, sx), ug__shp(w, sw), (long long)G);
    if ((r.oph >= r.sh && r.oph >= r.dh) || (r.opw >= r.sw && r.opw >= r.dw))
        return ug__fail_null(ctx, "conv_transpose2d", "output_padding (%lld, %lld) must be smaller than the stride "
                             "(%lld, %lld) or the dilation (%lld, %lld)", (long long)r.oph, (long long)r.opw,
                             (long long)r.sh, (long long)r.sw, (long long)r.dh, (long long)r.dw);
    if (!check_bias(ctx, "conv_transpose2d", bias, w, O)) return NULL;
    const int64_t OH = (H - 1) * r.sh - 2 * r.ph + r.dh * (kh - 1) + r.oph + 1;
    const int64_t OW = (W - 1) * r.sw - 2 * r.pw + r.dw * (kw - 1) + r.opw + 1;
    if (H < 1 || W < 1 || OH < 1 || OW < 1 || OH >= GEOM_MAX || OW >= GEOM_MAX)
        return ug__fail_null(ctx, "conv_transpose2d", "x %s and w %s give an output of %lld x %lld", ug__shp(x, sx),
                             ug__shp(w, sw), (long long)OH, (long long)OW);
    /* The conv2d this transposes maps [N, O, OH, OW] to x's [N, C, H, W]: its windows over the output
     * are x's pixels (oh = H; with output_padding >= stride the last rows lie in no window). */
    ug_conv_geom g = {kh, kw, r.sh, r.sw, r.ph, r.pw, r.dh, r.dw, H, W};
    (void)N;
    /* w [C, O/G, kh, kw] is the weight of that conv2d (C outputs, O/G inputs a group): this is its
     * adjoint in the input. */
    ug_tensor *y = conv_gin_op(ctx, x, w, &g, G, OH, OW);  // [N, O, OH, OW]
    return add_channel_bias(ctx, y, bias);
}

/* ---- avg_pool2d ---- */
ug_tensor *ug_avg_pool2d(ug_ctx *ctx, ug_tensor *x, const int64_t kernel[2], const int64_t stride[2],
                         const int64_t padding[2]) {
    UG_CHECK_IN(ctx, x);
    char sx[64];
    if (x->dtype != UG_F32 || x->ndim != 4)
        return ug__fail_null(ctx, "avg_pool2d", "x %s: needs a float [N, C, H, W]", ug__shp(x, sx));
    if (!kernel) return ug__fail_null(ctx, "avg_pool2d", "kernel is NULL");
    const int64_t kh = kernel[0], kw = kernel[1], sh = stride ? stride[0] : kh, sw = stride ? stride[1] : kw;
    const int64_t ph = padding ? padding[0] : 0, pw = padding ? padding[1] : 0;
    const int64_t N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
    if (kh < 1 || kw < 1 || sh < 1 || sw < 1 || ph < 0 || pw < 0 || 2 * ph > kh || 2 * pw > kw || kh >= GEOM_MAX ||
        kw >= GEOM_MAX || sh >= GEOM_MAX || sw >= GEOM_MAX || H + 2 * ph < kh || W + 2 * pw < kw || H >= GEOM_MAX ||
        W >= GEOM_MAX)
        return ug__fail_null(ctx, "avg_pool2d", "x %s: kernel (%lld, %lld), stride (%lld, %lld), padding (%lld, %lld): "
                             "need kernel and stride >= 1, padding at most half the kernel, the padded image at "
                             "least the kernel", ug__shp(x, sx), (long long)kh, (long long)kw, (long long)sh,
                             (long long)sw, (long long)ph, (long long)pw);
    ug_conv_geom g = {kh, kw, sh, sw, ph, pw, 1, 1, (H + 2 * ph - kh) / sh + 1, (W + 2 * pw - kw) / sw + 1};
    /* Every window sums kh kw taps, padding zeros included (count_include_pad; with floor rounding no
     * window reaches past the padding, so torch divides by kh kw too). */
    ug_tensor *cols = im2col_op(ctx, ug_reshape(ctx, x, 4, (int64_t[]){N * C, 1, H, W}), &g);  // [N C, kh kw, L]
    return ug_reshape(ctx, ug_mean(ctx, cols, 1, false), 4, (int64_t[]){N, C, g.oh, g.ow});  // [N, C, OH, OW]
}
