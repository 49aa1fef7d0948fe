/* ops_elementwise.c — elementwise ops (unary, affine, binary and comparisons, where, dtype casts) and
 * their backward rules.
 * Unary functions keep their derivatives as ops of the same family (order 1 and 2), so a gradient of
 * a gradient needs no special code: backward of f^(k) is g * f^(k+1). */
#include "tensor/internal.h"

#include <math.h>

static bool want_f32(ug_ctx *ctx, const char *op, const ug_tensor *x) {
    if (x->dtype != UG_F32) {
        ug__fail_null(ctx, op, "expects a float tensor, got an index (i32) tensor");
        return false;
    }
    return true;
}

/* ---- unary ---- */
static const char *const unary_names[UG_U_COUNT][3] = {
    [UG_U_EXP] = {"exp", "exp'", "exp''"},          [UG_U_LOG] = {"log", "log'", "log''"},
    [UG_U_LOG1P] = {"log1p", "log1p'", "log1p''"},  [UG_U_SQRT] = {"sqrt", "sqrt'", "sqrt''"},
    [UG_U_SQUARE] = {"square", "square'", "square''"}, [UG_U_ABS] = {"abs", "abs'", "abs''"},
    [UG_U_CLAMP] = {"clamp", "clamp'", "clamp''"},  [UG_U_RELU] = {"relu", "relu'", "relu''"},
    [UG_U_LEAKY] = {"leaky_relu", "leaky_relu'", "leaky_relu''"}, [UG_U_ELU] = {"elu", "elu'", "elu''"},
    [UG_U_SILU] = {"silu", "silu'", "silu''"},      [UG_U_GELU] = {"gelu", "gelu'", "gelu''"},
    [UG_U_SIGMOID] = {"sigmoid", "sigmoid'", "sigmoid''"}, [UG_U_TANH] = {"tanh", "tanh'", "tanh''"},
    [UG_U_SOFTPLUS] = {"softplus", "softplus'", "softplus''"}, [UG_U_POWS] = {"pow_scalar", "pow_scalar'", "pow_scalar''"},
    [UG_U_SIN] = {"sin", "sin'", "sin''"},          [UG_U_COS] = {"cos", "cos'", "cos''"},
    [UG_U_ERF] = {"erf", "erf'", "erf''"},
};

/* Piecewise-linear (or quadratic) functions whose third derivative is zero everywhere it exists. */
static bool third_is_zero(int kind) {
    return kind == UG_U_RELU || kind == UG_U_LEAKY || kind == UG_U_ABS || kind == UG_U_CLAMP ||
           kind == UG_U_SQUARE;
}

static ug_tensor *unary_op(ug_ctx *ctx, ug_tensor *x, int kind, int order, float p0, float p1);

static void bw_unary(ug_ctx *ctx, ug_node *n, ug_tensor *g, ug_tensor **gin, const bool *need) {
    if (!need[0]) return;
    int kind = (int)n->i[0], order = (int)n->i[1];
    ug_tensor *x = n->in[0];
    if (order >= 2) {
        if (third_is_zero(kind)) { gin[0] = ug_zeros_like(ctx, x); return; }
        ug_ctx_fail(ctx, UG_ERR_UNSUPPORTED, "%s: derivatives above the second are not available",
                    unary_names[kind][0]);
        return;
    }
    if (!ug_grad_enabled(ctx) && g->dtype == UG_F32 && g->ndim == x->ndim && ug_numel(g) == ug_numel(x)) {
        /* no graph of the gradient is wanted (create_graph off): one fused pass */
        bool same = true;
        for (int d = 0; d < x->ndim; d++) same = same && g->shape[d] == x->shape[d];
        ug_tensor *gc = same ? ug_contiguous(ctx, g) : NULL, *xc = same ? ug_contiguous(ctx, x) : NULL;
        if (gc && xc) {
            ug_tensor *y = ug__empty(ctx, UG_F32, x->ndim, x->shape);
            if (!y) return;
            float p[2] = {n->f[0], n->f[1]};
            ctx->be->unary_mul(kind, order + 1, p, xc, gc, y);
            gin[0] = y;
            return;
        }
        if (same) return;  /* ug_contiguous failed: its error is on ctx */
    }
    gin[0] = ug_mul(ctx, g, unary_op(ctx, x, kind, order + 1, n->f[0], n->f[1]));
}

static ug_tensor *unary_op(ug_ctx *ctx, ug_tensor *x, int kind, int order, float p0, float p1) {
    UG_CHECK_IN(ctx, x);
    const char *name = unary_names[kind][order];
    if (!want_f32(ctx, name, x)) return NULL;
    x = ug_contiguous(ctx, x);
    if (!x) return NULL;
    ug_tensor *y = ug__empty(ctx, UG_F32, x->ndim, x->shape);
    if (!y) return NULL;
    float p[2] = {p0, p1};
    ctx->be->unary(kind, order, p, x, y);
    ug_node *n = ug__record(ctx, y, name, bw_unary, 1, &x);
    if (n) {
        n->i[0] = kind;
        n->i[1] = order;
        n->f[0] = p0;
        n->f[1] = p1;
    }
    return y;
}

ug_tensor *ug_exp(ug_ctx *c, ug_tensor *a) { return unary_op(c, a, UG_U_EXP, 0, 0, 0); }
ug_tensor *ug_log(ug_ctx *c, ug_tensor *a) { return unary_op(c, a, UG_U_LOG, 0, 0, 0); }
ug_tensor *ug_log1p(ug_ctx *c, ug_tensor *a) { return unary_op(c, a, UG_U_LOG1P, 0, 0, 0); }
ug_tensor *ug_sqrt(ug_ctx *c, ug_tensor *a) { return unary_op(c, a, UG_U_SQRT, 0, 0, 0); }
ug_tensor *ug_square(ug_ctx *c, ug_tensor *a) { return unary_op(c, a, UG_U_SQUARE, 0, 0, 0); }
ug_tensor *ug_abs(ug_ctx *c, ug_tensor *a) { return unary_op(c, a, UG_U_ABS, 0, 0, 0); }
ug_tensor *ug_clamp(ug_ctx *c, ug_tensor *a, float lo, float hi) { return unary_op(c, a, UG_U_CLAMP, 0, lo, hi); }
ug_tensor *ug_relu(ug_ctx *c, ug_tensor *a) { return unary_op(c, a, UG_U_RELU, 0, 0, 0); }
ug_tensor *ug_leaky_relu(ug_ctx *c, ug_tensor *a, float s) { return unary_op(c, a, UG_U_LEAKY, 0, s, 0); }
ug_tensor *ug_elu(ug_ctx *c, ug_tensor *a, float alpha) { return unary_op(c, a, UG_U_ELU, 0, alpha, 0); }
ug_tensor *ug_silu(ug_ctx *c, ug_tensor *a) { return unary_op(c, a, UG_U_SILU, 0, 0, 0); }
ug_tensor *ug_gelu(ug_ctx *c, ug_tensor *a) { return unary_op(c, a, UG_U_GELU, 0, 0, 0); }
ug_tensor *ug_sigmoid(ug_ctx *c, ug_tensor *a) { return unary_op(c, a, UG_U_SIGMOID, 0, 0, 0); }
ug_tensor *ug_tanh(ug_ctx *c, ug_tensor *a) { return unary_op(c, a, UG_U_TANH, 0, 0, 0); }
ug_tensor *ug_softplus(ug_ctx *c, ug_tensor *a) { return unary_op(c, a, UG_U_SOFTPLUS, 0, 0, 0); }
ug_tensor *ug_pow_scalar(ug_ctx *c, ug_tensor *a, float p) { return unary_op(c, a, UG_U_POWS, 0, p, 0); }
ug_tensor *ug_sin(ug_ctx *c, ug_tensor *a) { return unary_op(c, a, UG_U_SIN, 0, 0, 0); }
ug_tensor *ug_cos(ug_ctx *c, ug_tensor *a) { return unary_op(c, a, UG_U_COS, 0, 0, 0); }
ug_tensor *ug_erf(ug_ctx *c, ug_tensor *a) { return unary_op(c, a, UG_U_ERF, 0, 0, 0); }

/* ---- affine: y = a*x + b ---- */
static ug_tensor *affine_op(ug_ctx *ctx, ug_tensor *x, float a, float b, const char *name);

static void bw_affine(ug_ctx *ctx, ug_node *n, ug_tensor *g, ug_tensor **gin, const bool *need) {
    if (need[0]) gin[0] = n->f[0] == 1.0f ? g : affine_op(ctx, g, n->f[0], 0.0f, "mul_scalar");
}

static ug_tensor *affine_op(ug_ctx *ctx, ug_tensor *x, float a, float b, const char *name) {
    UG_CHECK_IN(ctx, x);
    if (!want_f32(ctx, name, x)) return NULL;
    x = ug_contiguous(ctx, x);
    if (!x) return NULL;
    ug_tensor *y = ug__empty(ctx, UG_F32, x->ndim, x->shape);
    if (!y) return NULL;
    ctx->be->affine(a, b, x, y);
    ug_node *n = ug__record(ctx, y, name, bw_affine, 1, &x);
    if (n) n->f[0] = a;
    return y;
}

ug_tensor *ug_add_scalar(ug_ctx *c, ug_tensor *a, float s) { return affine_op(c, a, 1.0f, s, "add_scalar"); }
ug_tensor *ug_mul_scalar(ug_ctx *c, ug_tensor *a, float s) { return affine_op(c, a, s, 0.0f, "mul_scalar"); }
ug_tensor *ug_rsub_scalar(ug_ctx *c, ug_tensor *a, float s) { return affine_op(c, a, -1.0f, s, "rsub_scalar"); }
ug_tensor *ug_neg(ug_ctx *c, ug_tensor *a) { return affine_op(c, a, -1.0f, 0.0f, "neg"); }

/* ---- binary with broadcasting ---- */
static const char *const bin_names[] = {"add", "sub", "mul", "div", "pow", "logaddexp", "ge", "gt", "le", "lt", "eq"};
static ug_tensor *binary_op(ug_ctx *ctx, int kind, ug_tensor *a, ug_tensor *b);

static void bw_binary(ug_ctx *ctx, ug_node *n, ug_tensor *g, ug_tensor **gin, const bool *need) {
    ug_tensor *a = n->in[0], *b = n->in[1], *y = n->out;
    ug_tensor *ga = NULL, *gb = NULL;
    switch ((int)n->i[0]) {
    case UG_B_ADD:
        ga = need[0] ? g : NULL;
        gb = need[1] ? g : NULL;
        break;
    case UG_B_SUB:
        ga = need[0] ? g : NULL;
        gb = need[1] ? ug_neg(ctx, g) : NULL;
        break;
    case UG_B_MUL:
        ga = need[0] ? ug_mul(ctx, g, b) : NULL;
        gb = need[1] ? ug_mul(ctx, g, a) : NULL;
        break;
    case UG_B_DIV:
        ga = need[0] ? ug_div(ctx, g, b) : NULL;
        gb = need[1] ? ug_neg(ctx, ug_div(ctx, ug_mul(ctx, g, y), b)) : NULL;
        break;
    case UG_B_POW:
        ga = need[0] ? ug_mul(ctx, g, ug_mul(ctx, b, ug_pow(ctx, a, ug_add_scalar(ctx, b, -1.0f)))) : NULL;
        gb = need[1] ? ug_mul(ctx, g, ug_mul(ctx, y, ug_log(ctx, a))) : NULL;
        break;
    case UG_B_LAE:  /* d/da log(e^a + e^b) = e^(a - y): logsumexp's softmax weights */
        ga = need[0] ? ug_mul(ctx, g, ug_exp(ctx, ug_sub(ctx, a, y))) : NULL;
        gb = need[1] ? ug_mul(ctx, g, ug_exp(ctx, ug_sub(ctx, b, y))) : NULL;
        break;
    default: break;
    }
    if (ga) gin[0] = ug__unbroadcast(ctx, ga, a);
    if (gb) gin[1] = ug__unbroadcast(ctx, gb, b);
}

static ug_tensor *binary_op(ug_ctx *ctx, int kind, ug_tensor *a, ug_tensor *b) {
    UG_CHECK_IN(ctx, a);
    UG_CHECK_IN(ctx, b);
    const char *name = bin_names[kind];
    if (!want_f32(ctx, name, a) || !want_f32(ctx, name, b)) return NULL;
    int nd;
    int64_t sh[UG_MAX_DIMS];
    if (!ug__broadcast_shape(ctx, name, a, b, &nd, sh)) return NULL;
    ug_tensor *y = ug__empty_in(ctx, name, UG_F32, nd, sh);  /* a broadcast result too big is named "add" */
    if (!y) return NULL;
    ctx->be->binary(kind, a, b, y);
    if (kind >= UG_B_GE) return y;  /* comparisons: a step function, no gradient and no node */
    ug_tensor *in[2] = {a, b};
    ug_node *n = ug__record(ctx, y, name, bw_binary, 2, in);
    if (n) n->i[0] = kind;
    return y;
}

ug_tensor *ug_add(ug_ctx *c, ug_tensor *a, ug_tensor *b) { return binary_op(c, UG_B_ADD, a, b); }
ug_tensor *ug_sub(ug_ctx *c, ug_tensor *a, ug_tensor *b) { return binary_op(c, UG_B_SUB, a, b); }
ug_tensor *ug_mul(ug_ctx *c, ug_tensor *a, ug_tensor *b) { return binary_op(c, UG_B_MUL, a, b); }
ug_tensor *ug_div(ug_ctx *c, ug_tensor *a, ug_tensor *b) { return binary_op(c, UG_B_DIV, a, b); }
ug_tensor *ug_pow(ug_ctx *c, ug_tensor *a, ug_tensor *b) { return binary_op(c, UG_B_POW, a, b); }
ug_tensor *ug_logaddexp(ug_ctx *c, ug_tensor *a, ug_tensor *b) { return binary_op(c, UG_B_LAE, a, b); }
ug_tensor *ug_ge(ug_ctx *c, ug_tensor *a, ug_tensor *b) { return binary_op(c, UG_B_GE, a, b); }
ug_tensor *ug_gt(ug_ctx *c, ug_tensor *a, ug_tensor *b) { return binary_op(c, UG_B_GT, a, b); }
ug_tensor *ug_le(ug_ctx *c, ug_tensor *a, ug_tensor *b) { return binary_op(c, UG_B_LE, a, b); }
ug_tensor *ug_lt(ug_ctx *c, ug_tensor *a, ug_tensor *b) { return binary_op(c, UG_B_LT, a, b); }
ug_tensor *ug_eq(ug_ctx *c, ug_tensor *a, ug_tensor *b) { return binary_op(c, UG_B_EQ, a, b); }

/* ---- where ---- */
static void bw_where(ug_ctx *ctx, ug_node *n, ug_tensor *g, ug_tensor **gin, const bool *need) {
    ug_tensor *zero = ug_scalar(ctx, 0.0f);
    if (need[0]) gin[0] = ug__unbroadcast(ctx, ug_where(ctx, n->saved, g, zero), n->in[0]);
    if (need[1]) gin[1] = ug__unbroadcast(ctx, ug_where(ctx, n->saved, zero, g), n->in[1]);
}

ug_tensor *ug_where(ug_ctx *ctx, ug_tensor *cond, ug_tensor *a, ug_tensor *b) {
    UG_CHECK_IN(ctx, cond);
    UG_CHECK_IN(ctx, a);
    UG_CHECK_IN(ctx, b);
    if (!want_f32(ctx, "where", cond) || !want_f32(ctx, "where", a) || !want_f32(ctx, "where", b)) return NULL;
    int nd1, nd;
    int64_t s1[UG_MAX_DIMS], sh[UG_MAX_DIMS];
    if (!ug__broadcast_shape(ctx, "where", a, b, &nd1, s1)) return NULL;
    ug_tensor tmp = *a;
    tmp.ndim = nd1;
    for (int d = 0; d < nd1; d++) tmp.shape[d] = s1[d];
    if (!ug__broadcast_shape(ctx, "where", cond, &tmp, &nd, sh)) return NULL;
    ug_tensor *y = ug__empty(ctx, UG_F32, nd, sh);
    if (!y) return NULL;
    ctx->be->where(cond, a, b, y);
    ug_tensor *in[2] = {a, b};
    ug_node *n = ug__record(ctx, y, "where", bw_where, 2, in);
    if (n) n->saved = cond;
    return y;
}

ug_tensor *ug_masked_fill(ug_ctx *ctx, ug_tensor *x, ug_tensor *mask, float value) {
    return ug_where(ctx, mask, ug_scalar(ctx, value), x);
}

/* ---- dtype casts: no node (an I32 tensor never carries a gradient, and truncation's derivative is
 * zero wherever it exists) ---- */
ug_tensor *ug_cast(ug_ctx *ctx, ug_tensor *x, ug_dtype dt) {
    UG_CHECK_IN(ctx, x);
    if (dt != UG_F32 && dt != UG_I32) {
        char b[64];
        return ug__fail_null(ctx, "cast", "unknown dtype %d for %s", (int)dt, ug__shp(x, b));
    }
    if (x->dtype == dt) return x;
    x = ug_contiguous(ctx, x);
    if (!x) return NULL;
    ug_tensor *y = ug__empty(ctx, dt, x->ndim, x->shape);
    if (!y) return NULL;
    ctx->be->cast(x, y);
    return y;
}

ug_tensor *ug_to_i32(ug_ctx *c, ug_tensor *x) { return ug_cast(c, x, UG_I32); }
ug_tensor *ug_to_f32(ug_ctx *c, ug_tensor *x) { return ug_cast(c, x, UG_F32); }
