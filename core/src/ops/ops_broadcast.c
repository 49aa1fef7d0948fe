/* ops_broadcast.c — broadcasting as differentiable ops: ug_expand (a stride-0 view) and its adjoint
 * ug_sum_to, each the other's backward, and ug__unbroadcast, which every broadcasting op's backward
 * uses to bring a gradient back to its input's shape. Apart from the elementwise and reduction files
 * that both lean on it. */
#include "tensor/internal.h"

#include <string.h>

ug_tensor *ug__unbroadcast(ug_ctx *ctx, ug_tensor *g, const ug_tensor *like) {
    if (!g) return NULL;
    if (ug__same_shape(g, like)) return g;
    return ug_sum_to(ctx, g, like->ndim, like->shape);
}

static void bw_sum_to(ug_ctx *ctx, ug_node *n, ug_tensor *g, ug_tensor **gin, const bool *need) {
    if (need[0]) gin[0] = ug_expand(ctx, g, n->in[0]->ndim, n->in[0]->shape);
}

ug_tensor *ug_sum_to(ug_ctx *ctx, ug_tensor *x, int ndim, const int64_t *shape) {
    UG_CHECK_IN(ctx, x);
    if (ndim > x->ndim) return ug__fail_null(ctx, "sum_to", "target has more dims than the input");
    int off = x->ndim - ndim;
    for (int d = 0; d < ndim; d++)
        if (shape[d] != x->shape[d + off] && shape[d] != 1) {
            char b[64];
            return ug__fail_null(ctx, "sum_to", "cannot reduce %s to a shape with dim %d = %lld",
                                 ug__shp(x, b), d, (long long)shape[d]);
        }
    /* The sums below are an implementation detail: record one node for the whole reduction. */
    bool prev = ug_set_grad_enabled(ctx, false);
    ug_tensor *y = x;
    for (int d = 0; d < x->ndim && y; d++) {
        bool lead = d < off;
        if (lead ? x->shape[d] != 1 : (shape[d - off] == 1 && x->shape[d] != 1)) y = ug_sum(ctx, y, d, true);
    }
    if (y) y = ug_reshape(ctx, ug_contiguous(ctx, y), ndim, shape);
    if (y == x) y = ug__view(ctx, x);
    ug_set_grad_enabled(ctx, prev);
    if (!y) return NULL;
    y->node = NULL;
    y->requires_grad = 0;
    y->is_leaf = 1;
    ug__record(ctx, y, "sum_to", bw_sum_to, 1, &x);
    return y;
}

static void bw_expand(ug_ctx *ctx, ug_node *n, ug_tensor *g, ug_tensor **gin, const bool *need) {
    if (need[0]) gin[0] = ug_sum_to(ctx, g, n->in[0]->ndim, n->in[0]->shape);
}

ug_tensor *ug_expand(ug_ctx *ctx, ug_tensor *x, int ndim, const int64_t *shape) {
    UG_CHECK_IN(ctx, x);
    if (ndim < x->ndim || ndim > UG_MAX_DIMS) return ug__fail_null(ctx, "expand", "bad target rank %d", ndim);
    int off = ndim - x->ndim;
    ug_tensor *v = ug__view(ctx, x);
    if (!v) return NULL;
    v->ndim = ndim;
    for (int d = 0; d < ndim; d++) {
        int xd = d - off;
        int64_t xs = xd >= 0 ? x->shape[xd] : 1;
        if (xs != shape[d] && xs != 1) {
            char b[64];
            return ug__fail_null(ctx, "expand", "cannot expand %s to dim %d = %lld", ug__shp(x, b), d,
                                 (long long)shape[d]);
        }
        v->shape[d] = shape[d];
        v->stride[d] = (xs == 1 && shape[d] != 1) || xd < 0 ? 0 : x->stride[xd];
    }
    for (int d = ndim; d < UG_MAX_DIMS; d++) {
        v->shape[d] = 1;
        v->stride[d] = 1;
    }
    ug__record(ctx, v, "expand", bw_expand, 1, &x);
    return v;
}
