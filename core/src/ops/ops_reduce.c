/* ops_reduce.c — reductions along one axis and softmax / log-softmax, with their backward rules written
 * with differentiable ops. The broadcasting pair (sum_to / expand) is in ops_broadcast.c. */
#include "tensor/internal.h"

#include <math.h>
#include <string.h>

/* x's shape with dimension `axis` set to 1. */
static void keep_shape(const ug_tensor *x, int axis, int64_t *sh) {
    for (int d = 0; d < x->ndim; d++) sh[d] = d == axis ? 1 : x->shape[d];
}

/* Drop dimension `axis` of a keepdim result (a free view). */
static ug_tensor *squeeze_axis(ug_ctx *ctx, ug_tensor *y, int axis) {
    int64_t sh[UG_MAX_DIMS];
    int k = 0;
    for (int d = 0; d < y->ndim; d++)
        if (d != axis) sh[k++] = y->shape[d];
    return ug_reshape(ctx, y, k, sh);
}

/* Gradient arriving for a reduction, brought back to keepdim layout. */
static ug_tensor *g_keep(ug_ctx *ctx, ug_node *n, ug_tensor *g) {
    int axis = (int)n->i[0];
    ug_tensor *x = n->in[0];
    if (n->i[1]) return g;  /* keepdim already */
    int64_t sh[UG_MAX_DIMS];
    keep_shape(x, axis, sh);
    return ug_reshape(ctx, g, x->ndim, sh);
}

static ug_tensor *out_keep(ug_ctx *ctx, ug_node *n) {
    int axis = (int)n->i[0];
    ug_tensor *x = n->in[0];
    if (n->i[1]) return n->out;
    int64_t sh[UG_MAX_DIMS];
    keep_shape(x, axis, sh);
    return ug_reshape(ctx, n->out, x->ndim, sh);
}

static void bw_sum(ug_ctx *ctx, ug_node *n, ug_tensor *g, ug_tensor **gin, const bool *need) {
    if (!need[0]) return;
    ug_tensor *x = n->in[0];
    gin[0] = ug_expand(ctx, g_keep(ctx, n, g), x->ndim, x->shape);
}

static void bw_max(ug_ctx *ctx, ug_node *n, ug_tensor *g, ug_tensor **gin, const bool *need) {
    if (!need[0]) return;
    ug_tensor *x = n->in[0];
    gin[0] = ug_scatter_add(ctx, ug_zeros_like(ctx, x), (int)n->i[0], n->saved,
                            ug_contiguous(ctx, g_keep(ctx, n, g)));
}

static void bw_lse(ug_ctx *ctx, ug_node *n, ug_tensor *g, ug_tensor **gin, const bool *need) {
    if (!need[0]) return;
    ug_tensor *x = n->in[0];
    /* d lse / dx = softmax(x) = exp(x - lse) */
    gin[0] = ug_mul(ctx, g_keep(ctx, n, g), ug_exp(ctx, ug_sub(ctx, x, out_keep(ctx, n))));
}

static ug_tensor *reduce_op(ug_ctx *ctx, ug_tensor *x, int axis, bool keepdim, int kind, const char *name,
                            ug_backward_fn bw) {
    UG_CHECK_IN(ctx, x);
    if (x->dtype != UG_F32) return ug__fail_null(ctx, name, "expects a float tensor");
    int a = ug__axis(ctx, name, x, axis);
    if (a < 0) return NULL;
    x = ug_contiguous(ctx, x);
    if (!x) return NULL;
    int64_t sh[UG_MAX_DIMS];
    keep_shape(x, a, sh);
    ug_tensor *y = ug__empty(ctx, UG_F32, x->ndim, sh);
    ug_tensor *am = kind == UG_R_MAX ? ug__empty(ctx, UG_I32, x->ndim, sh) : NULL;
    if (!y || (kind == UG_R_MAX && !am)) return NULL;
    ctx->be->reduce(kind, x, a, y, am);
    ug_tensor *out = y;
    if (!keepdim) {
        bool prev = ug_set_grad_enabled(ctx, false);  /* the squeeze is part of this op, not a node */
        out = squeeze_axis(ctx, y, a);
        ug_set_grad_enabled(ctx, prev);
        if (!out) return NULL;
    }
    ug_node *n = ug__record(ctx, out, name, bw, 1, &x);
    if (n) {
        n->i[0] = a;
        n->i[1] = keepdim;
        n->saved = am;
    }
    return out;
}

ug_tensor *ug_sum(ug_ctx *ctx, ug_tensor *x, int axis, bool keepdim) {
    return reduce_op(ctx, x, axis, keepdim, UG_R_SUM, "sum", bw_sum);
}
ug_tensor *ug_max(ug_ctx *ctx, ug_tensor *x, int axis, bool keepdim) {
    return reduce_op(ctx, x, axis, keepdim, UG_R_MAX, "max", bw_max);
}
ug_tensor *ug_logsumexp(ug_ctx *ctx, ug_tensor *x, int axis, bool keepdim) {
    return reduce_op(ctx, x, axis, keepdim, UG_R_LSE, "logsumexp", bw_lse);
}
ug_tensor *ug_mean(ug_ctx *ctx, ug_tensor *x, int axis, bool keepdim) {
    UG_CHECK_IN(ctx, x);
    int a = ug__axis(ctx, "mean", x, axis);
    if (a < 0) return NULL;
    float inv = x->shape[a] ? 1.0f / (float)x->shape[a] : NAN;
    return ug_mul_scalar(ctx, ug_sum(ctx, x, a, keepdim), inv);
}

static ug_tensor *flatten_all(ug_ctx *ctx, ug_tensor *x) {
    UG_CHECK_IN(ctx, x);
    int64_t n = ug_numel(x);
    return ug_reshape(ctx, x, 1, &n);
}
ug_tensor *ug_sum_all(ug_ctx *ctx, ug_tensor *x) { return ug_sum(ctx, flatten_all(ctx, x), 0, false); }
ug_tensor *ug_mean_all(ug_ctx *ctx, ug_tensor *x) { return ug_mean(ctx, flatten_all(ctx, x), 0, false); }

/* ---- softmax family ---- */
static void bw_log_softmax(ug_ctx *ctx, ug_node *n, ug_tensor *g, ug_tensor **gin, const bool *need) {
    if (!need[0]) return;
    int axis = (int)n->i[0];
    ug_tensor *p = ug_exp(ctx, n->out);
    gin[0] = ug_sub(ctx, g, ug_mul(ctx, p, ug_sum(ctx, g, axis, true)));
}

static void bw_softmax(ug_ctx *ctx, ug_node *n, ug_tensor *g, ug_tensor **gin, const bool *need) {
    if (!need[0]) return;
    int axis = (int)n->i[0];
    ug_tensor *y = n->out;
    gin[0] = ug_mul(ctx, y, ug_sub(ctx, g, ug_sum(ctx, ug_mul(ctx, g, y), axis, true)));
}

static ug_tensor *softmax_op(ug_ctx *ctx, ug_tensor *x, int axis, bool lg) {
    const char *name = lg ? "log_softmax" : "softmax";
    UG_CHECK_IN(ctx, x);
    if (x->dtype != UG_F32) return ug__fail_null(ctx, name, "expects a float tensor");
    int a = ug__axis(ctx, name, x, axis);
    if (a < 0) return NULL;
    x = ug_contiguous(ctx, x);
    ug_tensor *y = x ? ug__empty(ctx, UG_F32, x->ndim, x->shape) : NULL;
    if (!y) return NULL;
    ctx->be->softmax(lg, x, a, y);
    ug_node *n = ug__record(ctx, y, name, lg ? bw_log_softmax : bw_softmax, 1, &x);
    if (n) n->i[0] = a;
    return y;
}
ug_tensor *ug_log_softmax(ug_ctx *ctx, ug_tensor *x, int axis) { return softmax_op(ctx, x, axis, true); }
ug_tensor *ug_softmax(ug_ctx *ctx, ug_tensor *x, int axis) { return softmax_op(ctx, x, axis, false); }
