/* ops_shape.c — views (reshape, permute, transpose, slice, detach), copies (contiguous, concat,
 * constant padding) and indexing (gather, scatter_add, index_select, one_hot), each with its backward
 * rule. Slice and pad are each other's backward. */
#include "tensor/internal.h"

#include "base/ckd.h"

#include <string.h>

/* ---- contiguous ---- */
static void bw_identity(ug_ctx *ctx, ug_node *n, ug_tensor *g, ug_tensor **gin, const bool *need) {
    (void)ctx;
    (void)n;
    if (need[0]) gin[0] = g;
}

ug_tensor *ug_contiguous(ug_ctx *ctx, ug_tensor *x) {
    UG_CHECK_IN(ctx, x);
    if (ug_is_contiguous(x)) return x;
    ug_tensor *y = ug__empty(ctx, (ug_dtype)x->dtype, x->ndim, x->shape);
    if (!y) return NULL;
    ctx->be->copy(x, y);
    if (x->dtype == UG_F32) ug__record(ctx, y, "contiguous", bw_identity, 1, &x);
    return y;
}

/* ---- reshape ---- */
static void bw_reshape(ug_ctx *ctx, ug_node *n, ug_tensor *g, ug_tensor **gin, const bool *need) {
    if (!need[0]) return;
    const ug_tensor *in = n->in[0];
    bool one_value = !ug_is_contiguous(g);
    for (int d = 0; d < g->ndim; d++) one_value = one_value && (g->shape[d] == 1 || g->stride[d] == 0);
    if (one_value) {
        /* One value broadcast (the gradient of a sum or mean of everything): broadcast it again in the
         * input's shape instead of copying it out to a tensor of that size first. */
        for (int d = 0; d < g->ndim; d++)
            if (g->shape[d] > 1) g = ug_slice(ctx, g, d, 0, 1);
        const int64_t ones[UG_MAX_DIMS] = {1, 1, 1, 1};
        gin[0] = ug_expand(ctx, ug_reshape(ctx, g, in->ndim, ones), in->ndim, in->shape);
        return;
    }
    gin[0] = ug_reshape(ctx, g, in->ndim, in->shape);
}

ug_tensor *ug_reshape(ug_ctx *ctx, ug_tensor *x, int ndim, const int64_t *shape) {
    UG_CHECK_IN(ctx, x);
    char b[64];
    if (ndim < 0 || ndim > UG_MAX_DIMS) return ug__fail_null(ctx, "reshape", "rank %d out of range", ndim);
    int64_t sh[UG_MAX_DIMS], known = 1;
    int infer = -1;
    for (int d = 0; d < ndim; d++) {
        sh[d] = shape[d];
        if (shape[d] == -1) {
            if (infer >= 0) return ug__fail_null(ctx, "reshape", "more than one -1 in the target shape");
            infer = d;
        } else if (shape[d] < 0 || !ug_ckd_mul_i64(known, shape[d], &known)) {  /* base/ckd.h */
            return ug__fail_null(ctx, "reshape", "target dim %d of size %lld for %s: negative, or the element "
                                 "count overflows", d, (long long)shape[d], ug__shp(x, b));
        }
    }
    int64_t n = ug_numel(x);
    if (infer >= 0) {
        if (known == 0 || n % known) return ug__fail_null(ctx, "reshape", "cannot infer -1 for %s", ug__shp(x, b));
        sh[infer] = n / known;
        known = n;
    }
    if (known != n)
        return ug__fail_null(ctx, "reshape", "%s has %lld elements, target has %lld", ug__shp(x, b),
                             (long long)n, (long long)known);
    ug_tensor *src = ug_contiguous(ctx, x);  /* views of non-contiguous data need a copy first */
    if (!src) return NULL;
    ug_tensor *v = ug__view(ctx, src);
    if (!v) return NULL;
    v->ndim = ndim;
    for (int d = 0; d < UG_MAX_DIMS; d++) v->shape[d] = d < ndim ? sh[d] : 1;
    ug__set_contiguous_strides(v);
    if (src->dtype == UG_F32) ug__record(ctx, v, "reshape", bw_reshape, 1, &src);
    return v;
}

/* ---- permute / transpose ---- */
static void bw_permute(ug_ctx *ctx, ug_node *n, ug_tensor *g, ug_tensor **gin, const bool *need) {
    if (!need[0]) return;
    int inv[UG_MAX_DIMS];
    for (int d = 0; d < n->out->ndim; d++) inv[n->i[d]] = d;
    gin[0] = ug_permute(ctx, g, inv);
}

ug_tensor *ug_permute(ug_ctx *ctx, ug_tensor *x, const int *perm) {
    UG_CHECK_IN(ctx, x);
    int seen[UG_MAX_DIMS] = {0};
    for (int d = 0; d < x->ndim; d++) {
        if (perm[d] < 0 || perm[d] >= x->ndim || seen[perm[d]]++)
            return ug__fail_null(ctx, "permute", "not a permutation of %d dims", x->ndim);
    }
    ug_tensor *v = ug__view(ctx, x);
    if (!v) return NULL;
    for (int d = 0; d < x->ndim; d++) {
        v->shape[d] = x->shape[perm[d]];
        v->stride[d] = x->stride[perm[d]];
    }
    ug_node *n = x->dtype == UG_F32 ? ug__record(ctx, v, "permute", bw_permute, 1, &x) : NULL;
    if (n)
        for (int d = 0; d < x->ndim; d++) n->i[d] = perm[d];
    return v;
}

ug_tensor *ug_transpose(ug_ctx *ctx, ug_tensor *x, int d0, int d1) {
    UG_CHECK_IN(ctx, x);
    int a = ug__axis(ctx, "transpose", x, d0), b = ug__axis(ctx, "transpose", x, d1);
    if (a < 0 || b < 0) return NULL;
    int perm[UG_MAX_DIMS] = {0, 1, 2, 3};
    perm[a] = b;
    perm[b] = a;
    return ug_permute(ctx, x, perm);
}

/* ---- slice and its adjoint, constant padding ---- */
static void bw_slice(ug_ctx *ctx, ug_node *n, ug_tensor *g, ug_tensor **gin, const bool *need) {
    if (!need[0]) return;
    int a = (int)n->i[0];
    int64_t pad[2 * UG_MAX_DIMS] = {0};
    pad[2 * a] = n->i[1];
    pad[2 * a + 1] = n->in[0]->shape[a] - n->i[1] - g->shape[a];
    gin[0] = ug_pad(ctx, g, pad, 0.0f);
}

static void bw_pad(ug_ctx *ctx, ug_node *n, ug_tensor *g, ug_tensor **gin, const bool *need) {
    if (!need[0]) return;
    const ug_tensor *x = n->in[0];
    ug_tensor *gx = g;
    for (int d = 0; d < x->ndim && gx; d++)
        if (n->i[2 * d] || n->i[2 * d + 1]) gx = ug_slice(ctx, gx, d, n->i[2 * d], x->shape[d]);
    gin[0] = gx;
}

/* The result filled with `value` (one backend fill), then x copied into the view of its interior (one
 * backend copy): no kernel of its own, so a backend that has fill and copy has padding. */
ug_tensor *ug_pad(ug_ctx *ctx, ug_tensor *x, const int64_t *pad, float value) {
    UG_CHECK_IN(ctx, x);
    char b[64];
    if (!pad) return ug__fail_null(ctx, "pad", "no pad widths given for %s", ug__shp(x, b));
    if (x->dtype != UG_F32) return ug__fail_null(ctx, "pad", "expects a float tensor, got an i32 tensor %s", ug__shp(x, b));
    int64_t sh[UG_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++) {
        if (pad[2 * d] < 0 || pad[2 * d + 1] < 0)
            return ug__fail_null(ctx, "pad", "negative width (%lld, %lld) on dim %d of %s", (long long)pad[2 * d],
                                 (long long)pad[2 * d + 1], d, ug__shp(x, b));
        sh[d] = x->shape[d] + pad[2 * d] + pad[2 * d + 1];
    }
    ug_tensor *y = ug_full(ctx, x->ndim, sh, value);
    if (!y) return NULL;
    ug_tensor *dst = ug__view(ctx, y);
    if (!dst) return NULL;
    int64_t off = 0;
    for (int d = 0; d < x->ndim; d++) {
        dst->shape[d] = x->shape[d];
        off += pad[2 * d] * y->stride[d];
    }
    dst->data = ug__data_at(y, off);
    ctx->be->copy(x, dst);
    ug_node *n = ug__record(ctx, y, "pad", bw_pad, 1, &x);
    if (n)
        for (int d = 0; d < 2 * x->ndim; d++) n->i[d] = pad[d];
    return y;
}

ug_tensor *ug_slice(ug_ctx *ctx, ug_tensor *x, int axis, int64_t start, int64_t len) {
    UG_CHECK_IN(ctx, x);
    int a = ug__axis(ctx, "slice", x, axis);
    if (a < 0) return NULL;
    if (start < 0 || len < 0 || start + len > x->shape[a]) {
        char b[64];
        return ug__fail_null(ctx, "slice", "range [%lld, %lld) outside dim %d of %s", (long long)start,
                             (long long)(start + len), a, ug__shp(x, b));
    }
    ug_tensor *v = ug__view(ctx, x);
    if (!v) return NULL;
    v->shape[a] = len;
    v->data = ug__data_at(x, start * x->stride[a]);
    ug_node *n = x->dtype == UG_F32 ? ug__record(ctx, v, "slice", bw_slice, 1, &x) : NULL;
    if (n) {
        n->i[0] = a;
        n->i[1] = start;
    }
    return v;
}

/* ---- concat ---- */
static void bw_concat(ug_ctx *ctx, ug_node *n, ug_tensor *g, ug_tensor **gin, const bool *need) {
    int axis = (int)n->i[0];
    int64_t off = 0;
    for (int i = 0; i < n->nin; i++) {
        int64_t len = n->in[i]->shape[axis];
        if (need[i]) gin[i] = ug_slice(ctx, g, axis, off, len);
        off += len;
    }
}

ug_tensor *ug_concat(ug_ctx *ctx, ug_tensor *const *xs, int n, int axis) {
    if (ctx->err.code) return NULL;
    if (n <= 0) return ug__fail_null(ctx, "concat", "no inputs");
    for (int i = 0; i < n; i++) UG_CHECK_IN(ctx, xs[i]);
    int a = ug__axis(ctx, "concat", xs[0], axis);
    if (a < 0) return NULL;
    int64_t sh[UG_MAX_DIMS];
    memcpy(sh, xs[0]->shape, sizeof sh);
    sh[a] = 0;
    for (int i = 0; i < n; i++) {
        const ug_tensor *x = xs[i];
        bool ok = x->ndim == xs[0]->ndim && x->dtype == xs[0]->dtype;
        for (int d = 0; ok && d < x->ndim; d++)
            if (d != a && x->shape[d] != xs[0]->shape[d]) ok = false;
        if (!ok) {
            char b0[64], bi[64];
            return ug__fail_null(ctx, "concat", "input %d %s does not match input 0 %s along axis %d", i,
                                 ug__shp(x, bi), ug__shp(xs[0], b0), a);
        }
        sh[a] += x->shape[a];
    }
    ug_tensor *y = ug__empty(ctx, (ug_dtype)xs[0]->dtype, xs[0]->ndim, sh);
    if (!y) return NULL;
    int64_t off = 0;
    for (int i = 0; i < n; i++) {
        ug_tensor *dst = ug__view(ctx, y);
        if (!dst) return NULL;
        dst->shape[a] = xs[i]->shape[a];
        dst->data = ug__data_at(y, off * y->stride[a]);
        ctx->be->copy(xs[i], dst);
        off += xs[i]->shape[a];
    }
    if (y->dtype == UG_F32) {
        ug_node *nd = ug__record(ctx, y, "concat", bw_concat, n, xs);
        if (nd) nd->i[0] = a;
    }
    return y;
}

/* ---- gather / scatter_add / index_select ---- */
static bool check_index(ug_ctx *ctx, const char *op, const ug_tensor *x, int a, const ug_tensor *idx) {
    char bx[64], bi[64];
    if (idx->dtype != UG_I32) {
        ug__fail_null(ctx, op, "index must be an i32 tensor");
        return false;
    }
    if (idx->ndim != x->ndim) {
        ug__fail_null(ctx, op, "index %s and input %s differ in rank", ug__shp(idx, bi), ug__shp(x, bx));
        return false;
    }
    for (int d = 0; d < x->ndim; d++)
        if (d != a && idx->shape[d] != x->shape[d]) {
            ug__fail_null(ctx, op, "index %s and input %s differ outside axis %d", ug__shp(idx, bi),
                          ug__shp(x, bx), a);
            return false;
        }
    int64_t bad = ctx->be->index_check(idx, x->shape[a]);
    if (bad >= 0) {
        ug__fail_null(ctx, op, "index %d out of range [0, %lld) on axis %d of %s", ug__i32_at(ctx, idx, bad),
                      (long long)x->shape[a], a, ug__shp(x, bx));
        return false;
    }
    return true;
}

static void bw_gather(ug_ctx *ctx, ug_node *n, ug_tensor *g, ug_tensor **gin, const bool *need) {
    if (need[0])
        gin[0] = ug_scatter_add(ctx, ug_zeros_like(ctx, n->in[0]), (int)n->i[0], n->saved, g);
}

ug_tensor *ug_gather(ug_ctx *ctx, ug_tensor *x, int axis, ug_tensor *idx) {
    UG_CHECK_IN(ctx, x);
    UG_CHECK_IN(ctx, idx);
    int a = ug__axis(ctx, "gather", x, axis);
    if (a < 0) return NULL;
    x = ug_contiguous(ctx, x);
    idx = ug_contiguous(ctx, idx);
    if (!x || !idx || !check_index(ctx, "gather", x, a, idx)) return NULL;
    ug_tensor *y = ug__empty(ctx, UG_F32, idx->ndim, idx->shape);
    if (!y) return NULL;
    ctx->be->gather(x, a, idx, y);
    ug_node *n = ug__record(ctx, y, "gather", bw_gather, 1, &x);
    if (n) {
        n->i[0] = a;
        n->saved = idx;
    }
    return y;
}

static void bw_scatter_add(ug_ctx *ctx, ug_node *n, ug_tensor *g, ug_tensor **gin, const bool *need) {
    if (need[0]) gin[0] = g;
    if (need[1]) gin[1] = ug_gather(ctx, g, (int)n->i[0], n->saved);
}

ug_tensor *ug_scatter_add(ug_ctx *ctx, ug_tensor *x, int axis, ug_tensor *idx, ug_tensor *src) {
    UG_CHECK_IN(ctx, x);
    UG_CHECK_IN(ctx, idx);
    UG_CHECK_IN(ctx, src);
    int a = ug__axis(ctx, "scatter_add", x, axis);
    if (a < 0) return NULL;
    idx = ug_contiguous(ctx, idx);
    src = ug_contiguous(ctx, src);
    if (!idx || !src || !check_index(ctx, "scatter_add", x, a, idx)) return NULL;
    if (!ug__same_shape(idx, src)) {
        char bi[64], bs[64];
        return ug__fail_null(ctx, "scatter_add", "index %s and src %s differ", ug__shp(idx, bi), ug__shp(src, bs));
    }
    ug_tensor *y = ug__empty(ctx, UG_F32, x->ndim, x->shape);
    if (!y) return NULL;
    ctx->be->copy(x, y);
    ctx->be->scatter_add(y, a, idx, src);
    ug_tensor *in[2] = {x, src};
    ug_node *n = ug__record(ctx, y, "scatter_add", bw_scatter_add, 2, in);
    if (n) {
        n->i[0] = a;
        n->saved = idx;
    }
    return y;
}

ug_tensor *ug_index_select(ug_ctx *ctx, ug_tensor *x, int axis, ug_tensor *idx) {
    UG_CHECK_IN(ctx, x);
    UG_CHECK_IN(ctx, idx);
    int a = ug__axis(ctx, "index_select", x, axis);
    if (a < 0) return NULL;
    if (idx->ndim != 1 || idx->dtype != UG_I32)
        return ug__fail_null(ctx, "index_select", "index must be a 1-D i32 tensor");
    idx = ug_contiguous(ctx, idx);
    if (!idx) return NULL;
    /* Expand the 1-D index to the output's shape and reuse gather (whose adjoint is scatter_add): the
     * backend's copy of idx seen with x's shape, stride 0 off the axis. */
    int64_t sh[UG_MAX_DIMS];
    memcpy(sh, x->shape, sizeof sh);
    sh[a] = idx->shape[0];
    ug_tensor *full = ug__empty(ctx, UG_I32, x->ndim, sh);
    if (!full) return NULL;
    ug_tensor spread = *full;  // [sh] view of idx, on the stack: the kernel reads it during the call
    spread.data = ug__data_at(idx, 0);
    for (int d = 0; d < UG_MAX_DIMS; d++) spread.stride[d] = d == a ? idx->stride[0] : 0;
    ctx->be->copy(&spread, full);
    return ug_gather(ctx, x, a, full);
}

ug_tensor *ug_one_hot(ug_ctx *ctx, ug_tensor *idx, int64_t k) {
    UG_CHECK_IN(ctx, idx);
    if (idx->dtype != UG_I32) return ug__fail_null(ctx, "one_hot", "index must be an i32 tensor");
    if (idx->ndim >= UG_MAX_DIMS) return ug__fail_null(ctx, "one_hot", "index rank %d leaves no room", idx->ndim);
    idx = ug_contiguous(ctx, idx);
    if (!idx) return NULL;
    int64_t bad = ctx->be->index_check(idx, k);
    if (bad >= 0)
        return ug__fail_null(ctx, "one_hot", "index %d out of range [0, %lld)", ug__i32_at(ctx, idx, bad), (long long)k);
    int64_t sh[UG_MAX_DIMS];
    memcpy(sh, idx->shape, sizeof sh);
    sh[idx->ndim] = k;
    ug_tensor *y = ug__empty(ctx, UG_F32, idx->ndim + 1, sh);
    if (y) ctx->be->one_hot(idx, y);
    return y;
}

ug_tensor *ug_detach(ug_ctx *ctx, ug_tensor *x) {
    UG_CHECK_IN(ctx, x);
    return ug__view(ctx, x);  /* no node: gradients stop here */
}
