/* tensor.c — tensor headers: construction in the arena, shape helpers, broadcasting, recording. */
#include "tensor/internal.h"

#include "base/ckd.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t dtype_size(ug_dtype dt) { return dt == UG_I32 ? sizeof(int32_t) : sizeof(float); }

ug_tensor *ug__header(ug_ctx *ctx) {
    ug_tensor *t = ug__alloc(ctx, sizeof *t);
    if (!t) return NULL;
    memset(t, 0, sizeof *t);
    for (int d = 0; d < UG_MAX_DIMS; d++) t->shape[d] = 1;
    t->group = -1;
    t->is_leaf = 1;
    return t;
}

void ug__set_contiguous_strides(ug_tensor *t) {
    int64_t s = 1;
    for (int d = UG_MAX_DIMS - 1; d >= 0; d--) {
        if (d >= t->ndim) { t->stride[d] = s; continue; }
        t->stride[d] = s;
        s *= t->shape[d];
    }
}

int64_t ug_numel(const ug_tensor *x) {
    int64_t n = 1;
    for (int d = 0; d < x->ndim; d++) n *= x->shape[d];
    return n;
}

bool ug_is_contiguous(const ug_tensor *x) {
    int64_t s = 1;
    for (int d = x->ndim - 1; d >= 0; d--) {
        if (x->shape[d] != 1 && x->stride[d] != s) return false;
        s *= x->shape[d];
    }
    return true;
}

const char *ug_shape_str(const ug_tensor *x, char *buf, size_t cap) {
    if (!x) { snprintf(buf, cap, "(null)"); return buf; }
    size_t o = 0;
    o += (size_t)snprintf(buf + o, cap - o, "[");
    for (int d = 0; d < x->ndim && o < cap; d++)
        o += (size_t)snprintf(buf + o, cap - o, d ? ", %lld" : "%lld", (long long)x->shape[d]);
    if (o < cap) snprintf(buf + o, cap - o, "]");
    return buf;
}

const char *ug__shp(const ug_tensor *x, char *buf) { return ug_shape_str(x, buf, 64); }

/* "[d0, d1, ...]" of a shape that may not fit a tensor (so not through ug_shape_str). */
static const char *shape_text(int ndim, const int64_t *shape, char *buf, size_t cap) {
    size_t o = (size_t)snprintf(buf, cap, "[");
    for (int d = 0; d < ndim && o < cap; d++)
        o += (size_t)snprintf(buf + o, cap - o, d ? ", %lld" : "%lld", (long long)shape[d]);
    if (o < cap) snprintf(buf + o, cap - o, "]");
    return buf;
}

ug_tensor *ug__empty_in(ug_ctx *ctx, const char *op, ug_dtype dt, int ndim, const int64_t *shape) {
    if (!op) op = "new";
    if (strncmp(op, "ug_", 3) == 0) op += 3;  /* "matmul", not "ug_matmul": as the ops name themselves */
    if (ndim < 0 || ndim > UG_MAX_DIMS)
        return ug__fail_null(ctx, op, "ndim %d out of range 0..%d", ndim, UG_MAX_DIMS);
    char b[128];
    for (int d = 0; d < ndim; d++)
        if (shape[d] < 0)
            return ug__fail_null(ctx, op, "negative dimension %lld in shape %s", (long long)shape[d],
                                 shape_text(ndim, shape, b, sizeof b));
    int64_t n;
    size_t bytes;
    if (!ug_ckd_numel(ndim, shape, &n) || !ug_ckd_mul_size((size_t)n, dtype_size(dt), &bytes) ||
        bytes > (size_t)PTRDIFF_MAX)
        return ug__fail_null(ctx, op, "shape %s has too many elements to allocate (the %s byte count "
                             "overflows); check the sizes in the spec (train.batch, a metric's samples)",
                             shape_text(ndim, shape, b, sizeof b), dt == UG_I32 ? "int32" : "float32");
    ug_tensor *t = ug__header(ctx);
    if (!t) return NULL;
    t->ndim = ndim;
    t->dtype = (uint8_t)dt;
    for (int d = 0; d < ndim; d++) t->shape[d] = shape[d];
    ug__set_contiguous_strides(t);
    t->device = (uint8_t)ctx->be->device;
    bool had_error = ctx->err.code != UG_OK;
    t->data = ug__alloc_data(ctx, bytes);
    if (!t->data && !had_error) {
        /* the arena said how many bytes; say which tensor wanted them */
        char msg[UG_ERRMSG_MAX];
        snprintf(msg, sizeof msg, "%s", ctx->err.msg);
        ug_ctx_clear_error(ctx);
        ug_ctx_fail(ctx, UG_ERR_NOMEM, "%s: shape %s: %s", op, shape_text(ndim, shape, b, sizeof b), msg);
    }
    return t->data ? t : NULL;
}

ug_tensor *ug_new(ug_ctx *ctx, ug_dtype dt, int ndim, const int64_t *shape) {
    if (ctx->err.code) return NULL;
    return ug__empty(ctx, dt, ndim, shape);
}
ug_tensor *ug_new1(ug_ctx *ctx, int64_t d0) { return ug_new(ctx, UG_F32, 1, (int64_t[]){d0}); }
ug_tensor *ug_new2(ug_ctx *ctx, int64_t d0, int64_t d1) { return ug_new(ctx, UG_F32, 2, (int64_t[]){d0, d1}); }
ug_tensor *ug_new3(ug_ctx *ctx, int64_t d0, int64_t d1, int64_t d2) {
    return ug_new(ctx, UG_F32, 3, (int64_t[]){d0, d1, d2});
}

ug_tensor *ug_full(ug_ctx *ctx, int ndim, const int64_t *shape, float v) {
    ug_tensor *t = ug_new(ctx, UG_F32, ndim, shape);
    if (t) ctx->be->fill(t, v);
    return t;
}
ug_tensor *ug_zeros(ug_ctx *ctx, int ndim, const int64_t *shape) { return ug_full(ctx, ndim, shape, 0.0f); }
ug_tensor *ug_scalar(ug_ctx *ctx, float v) { return ug_full(ctx, 0, NULL, v); }
ug_tensor *ug_zeros_like(ug_ctx *ctx, const ug_tensor *x) {
    UG_CHECK_IN(ctx, x);
    return ug_zeros(ctx, x->ndim, x->shape);
}

ug_tensor *ug_from_f32(ug_ctx *ctx, const float *src, int ndim, const int64_t *shape) {
    ug_tensor *t = ug_new(ctx, UG_F32, ndim, shape);
    if (t) ctx->be->to_device(t->data, src, (size_t)ug_numel(t) * sizeof(float));
    return t;
}
ug_tensor *ug_from_i32(ug_ctx *ctx, const int32_t *src, int ndim, const int64_t *shape) {
    ug_tensor *t = ug_new(ctx, UG_I32, ndim, shape);
    if (t) ctx->be->to_device(t->data, src, (size_t)ug_numel(t) * sizeof(int32_t));
    return t;
}

ug_tensor *ug_wrap(ug_ctx *ctx, void *data, ug_dtype dt, int ndim, const int64_t *shape) {
    if (ctx->err.code) return NULL;
    if (ndim < 0 || ndim > UG_MAX_DIMS) return ug__fail_null(ctx, "wrap", "ndim %d out of range", ndim);
    int64_t n;
    char b[128];
    if (!ug_ckd_numel(ndim, shape, &n) || n > PTRDIFF_MAX / 4)
        return ug__fail_null(ctx, "wrap", "shape %s has a negative dimension or too many elements",
                             shape_text(ndim, shape, b, sizeof b));
    ug_tensor *t = ug__header(ctx);
    if (!t) return NULL;
    t->ndim = ndim;
    t->dtype = (uint8_t)dt;
    for (int d = 0; d < ndim; d++) t->shape[d] = shape[d];
    ug__set_contiguous_strides(t);
    t->data = data;
    return t;
}

ug_tensor *ug_requires_grad(ug_ctx *ctx, ug_tensor *x) {
    UG_CHECK_IN(ctx, x);
    if (x->dtype != UG_F32) return ug__fail_null(ctx, "requires_grad", "index tensors cannot require grad");
    x->requires_grad = 1;
    return x;
}

ug_tensor *ug__view(ug_ctx *ctx, ug_tensor *x) {
    ug_tensor *v = ug__header(ctx);
    if (!v) return NULL;
    v->data = x->data;
    v->ndim = x->ndim;
    v->dtype = x->dtype;
    v->device = x->device;
    memcpy(v->shape, x->shape, sizeof v->shape);
    memcpy(v->stride, x->stride, sizeof v->stride);
    v->base = x->base ? x->base : x;
    return v;
}

float *ug_f32(const ug_tensor *x) { return x && x->dtype == UG_F32 ? (float *)x->data : NULL; }
int32_t *ug_i32(const ug_tensor *x) { return x && x->dtype == UG_I32 ? (int32_t *)x->data : NULL; }
float ug_item(const ug_tensor *x) {
    const ug_backend *be = x ? ug_backend_get(x->device) : NULL;
    if (!be) return 0.0f;
    if (x->dtype == UG_I32) {
        int32_t v;
        be->to_host(&v, x->data, sizeof v);
        return (float)v;
    }
    float v;
    be->to_host(&v, x->data, sizeof v);
    return v;
}

/* What both host copies check: a tensor on this context's backend with n elements. */
static bool host_copy_ok(ug_ctx *ctx, const char *op, const ug_tensor *x, const void *buf, int64_t n) {
    char b[64];
    if (!x || !buf) {
        ug_ctx_fail(ctx, UG_ERR_ARG, "%s: %s is NULL", op, x ? "the host buffer" : "the tensor");
        return false;
    }
    if (x->device != ctx->be->device) {
        ug_ctx_fail(ctx, UG_ERR_ARG, "%s: tensor %s is on device %d, this context's backend (%s) is device %d", op,
                    ug__shp(x, b), (int)x->device, ctx->be->name, ctx->be->device);
        return false;
    }
    if (n != ug_numel(x)) {
        ug_ctx_fail(ctx, UG_ERR_ARG, "%s: host buffer of %lld elements for tensor %s of %lld", op, (long long)n,
                    ug__shp(x, b), (long long)ug_numel(x));
        return false;
    }
    return true;
}

ug_status ug_tensor_set(ug_ctx *ctx, ug_tensor *x, const void *src, int64_t n) {
    if (!ctx) return UG_ERR_ARG;
    if (ctx->err.code) return ctx->err.code;
    if (!host_copy_ok(ctx, "tensor_set", x, src, n)) return ctx->err.code;
    char b[64];
    for (int d = 0; d < x->ndim; d++)
        if (x->stride[d] == 0 && x->shape[d] > 1)
            return ug_ctx_fail(ctx, UG_ERR_ARG, "tensor_set: tensor %s is a broadcast view (stride 0 on dim %d)",
                               ug__shp(x, b), d);
    if (x->node)
        return ug_ctx_fail(ctx, UG_ERR_ARG, "tensor_set: tensor %s was produced by a recorded '%s'; writing into it "
                           "would change its graph", ug__shp(x, b), x->node->op);
    size_t bytes = (size_t)n * dtype_size((ug_dtype)x->dtype);
    if (ug_is_contiguous(x)) {
        ctx->be->to_device(x->data, src, bytes);
        return UG_OK;
    }
    ug_tensor *tmp = ug__empty(ctx, (ug_dtype)x->dtype, x->ndim, x->shape);  // contiguous staging on the device
    if (!tmp) return ctx->err.code;
    ctx->be->to_device(tmp->data, src, bytes);
    ctx->be->copy(tmp, x);
    return UG_OK;
}

ug_status ug_tensor_get(ug_ctx *ctx, const ug_tensor *x, void *dst, int64_t n) {
    if (!ctx) return UG_ERR_ARG;
    if (ctx->err.code) return ctx->err.code;
    if (!host_copy_ok(ctx, "tensor_get", x, dst, n)) return ctx->err.code;
    size_t bytes = (size_t)n * dtype_size((ug_dtype)x->dtype);
    if (ug_is_contiguous(x)) {
        ctx->be->to_host(dst, x->data, bytes);
        return UG_OK;
    }
    ug_tensor *tmp = ug__empty(ctx, (ug_dtype)x->dtype, x->ndim, x->shape);  // contiguous staging on the device
    if (!tmp) return ctx->err.code;
    ctx->be->copy(x, tmp);
    ctx->be->to_host(dst, tmp->data, bytes);
    return UG_OK;
}

int ug__axis(ug_ctx *ctx, const char *op, const ug_tensor *x, int axis) {
    int a = axis < 0 ? axis + x->ndim : axis;
    if (a < 0 || a >= x->ndim) {
        char b[64];
        ug__fail_null(ctx, op, "axis %d out of range for shape %s", axis, ug__shp(x, b));
        return -1;
    }
    return a;
}

bool ug__same_shape(const ug_tensor *a, const ug_tensor *b) {
    if (a->ndim != b->ndim) return false;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d]) return false;
    return true;
}

bool ug__broadcast_shape(ug_ctx *ctx, const char *op, const ug_tensor *a, const ug_tensor *b, int *ndim,
                         int64_t *shape) {
    int n = a->ndim > b->ndim ? a->ndim : b->ndim;
    for (int d = 0; d < n; d++) {
        int da = d - (n - a->ndim), db = d - (n - b->ndim);
        int64_t sa = da >= 0 ? a->shape[da] : 1, sb = db >= 0 ? b->shape[db] : 1;
        if (sa != sb && sa != 1 && sb != 1) {
            char ba[64], bb[64];
            ug__fail_null(ctx, op, "shapes %s and %s do not broadcast", ug__shp(a, ba), ug__shp(b, bb));
            return false;
        }
        shape[d] = sa == 1 ? sb : sa;
    }
    *ndim = n;
    return true;
}

void ug__bcast_strides4(const ug_tensor *x, int out_ndim, const int64_t *out_shape, int64_t sh4[4],
                        int64_t st4[4]) {
    int off = 4 - out_ndim;
    for (int d = 0; d < 4; d++) {
        sh4[d] = d < off ? 1 : out_shape[d - off];
        int xd = d - (4 - x->ndim);
        if (xd < 0 || x->shape[xd] == 1) st4[d] = 0;
        else st4[d] = x->stride[xd];
    }
}

ug_node *ug__record(ug_ctx *ctx, ug_tensor *out, const char *op, ug_backward_fn bw, int nin,
                    ug_tensor *const *in) {
    if (!out || !ctx->grad_enabled) return NULL;
    bool any = false;
    for (int i = 0; i < nin; i++) any = any || ug__tracks(ctx, in[i]);
    if (!any) return NULL;
    ug_node *n = ug__alloc(ctx, sizeof *n);
    ug_tensor **ins = ug__alloc(ctx, sizeof(ug_tensor *) * (size_t)(nin > 0 ? nin : 1));
    if (!n || !ins) return NULL;
    memset(n, 0, sizeof *n);
    memcpy(ins, in, sizeof(ug_tensor *) * (size_t)nin);
    n->op = op;
    n->backward = bw;
    n->out = out;
    n->in = ins;
    n->nin = nin;
    if (ctx->tape_n == ctx->tape_cap) {
        int64_t cap = ctx->tape_cap ? ctx->tape_cap * 2 : 1024;
        ug_node **t = realloc(ctx->tape, sizeof(ug_node *) * (size_t)cap);
        if (!t) {
            ug_ctx_fail(ctx, UG_ERR_NOMEM, "%s: cannot grow the tape", op);
            return NULL;
        }
        ctx->tape = t;
        ctx->tape_cap = cap;
    }
    n->seq = ctx->tape_n;
    ctx->tape[ctx->tape_n++] = n;
    out->node = n;
    out->requires_grad = 1;
    out->is_leaf = 0;
    return n;
}

ug_status ug_copy_into(ug_ctx *ctx, ug_tensor *dst, ug_tensor *src) {
    if (!ctx) return UG_ERR_ARG;
    if (ctx->err.code) return ctx->err.code;
    char b1[64], b2[64];
    if (!dst || !src) return ug_ctx_fail(ctx, UG_ERR_ARG, "copy_into: %s is NULL", dst ? "src" : "dst");
    if (!ug__same_shape(dst, src) || dst->dtype != src->dtype)
        return ug_ctx_fail(ctx, UG_ERR_ARG, "copy_into: dst %s and src %s differ in shape or dtype", ug__shp(dst, b1),
                           ug__shp(src, b2));
    for (int d = 0; d < dst->ndim; d++)
        if (dst->stride[d] == 0 && dst->shape[d] > 1)
            return ug_ctx_fail(ctx, UG_ERR_ARG, "copy_into: dst %s is a broadcast view (stride 0 on dim %d)",
                               ug__shp(dst, b1), d);
    if (dst->node || (dst->is_leaf && dst->group >= 0))
        return ug_ctx_fail(ctx, UG_ERR_ARG, "copy_into: dst %s is %s; copy into a plain tensor", ug__shp(dst, b1),
                           dst->node ? "the output of a recorded op" : "a parameter");
    if (ctx->grad_enabled && src->requires_grad)
        return ug_ctx_fail(ctx, UG_ERR_ARG, "copy_into: src %s carries a graph while grad is on; the copy would cut it "
                           "(sample under ug_set_grad_enabled(ctx, false), or keep the graph and skip the release)",
                           ug__shp(src, b2));
    ctx->be->copy(src, dst);
    return UG_OK;
}
