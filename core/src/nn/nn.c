/* nn.c — activations by name, linear and conv2d layers with PyTorch's default init, MLPs, the
 * sinusoidal time embedding and layer norm. Forward passes are compositions of tensor.h ops, so they inherit
 * autograd (including second order) and the context's sticky error handling. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "unigfn/nn.h"
#include "tensor/internal.h"

/* ---- Activations ---------------------------------------------------------------------------- */

static const struct {
    const char *name;
    ug_act act;
} act_names[] = {
    {"none", UG_ACT_NONE},       {"identity", UG_ACT_NONE},    {"linear", UG_ACT_NONE},
    {"relu", UG_ACT_RELU},       {"leaky_relu", UG_ACT_LEAKY_RELU}, {"elu", UG_ACT_ELU},
    {"silu", UG_ACT_SILU},       {"swish", UG_ACT_SILU},       {"gelu", UG_ACT_GELU},
    {"tanh", UG_ACT_TANH},       {"sigmoid", UG_ACT_SIGMOID},  {"softplus", UG_ACT_SOFTPLUS},
};

ug_status ug_act_from_name(const char *name, ug_act *out) {
    if (!name || !out) return UG_ERR_ARG;
    for (size_t i = 0; i < sizeof act_names / sizeof act_names[0]; i++)
        if (strcmp(act_names[i].name, name) == 0) {
            *out = act_names[i].act;
            return UG_OK;
        }
    return UG_ERR_ARG;
}

const char *ug_act_name(ug_act act) {
    switch (act) {
    case UG_ACT_NONE: return "none";
    case UG_ACT_RELU: return "relu";
    case UG_ACT_LEAKY_RELU: return "leaky_relu";
    case UG_ACT_ELU: return "elu";
    case UG_ACT_SILU: return "silu";
    case UG_ACT_GELU: return "gelu";
    case UG_ACT_TANH: return "tanh";
    case UG_ACT_SIGMOID: return "sigmoid";
    case UG_ACT_SOFTPLUS: return "softplus";
    }
    return "?";
}

float ug_act_default_param(ug_act act) {
    return act == UG_ACT_LEAKY_RELU ? 0.01f : act == UG_ACT_ELU ? 1.0f : 0.0f;
}

ug_tensor *ug_activation(ug_ctx *ctx, ug_tensor *x, ug_act act, float param) {
    if (param == 0.0f) param = ug_act_default_param(act);
    switch (act) {
    case UG_ACT_NONE: return x;
    case UG_ACT_RELU: return ug_relu(ctx, x);
    case UG_ACT_LEAKY_RELU: return ug_leaky_relu(ctx, x, param);
    case UG_ACT_ELU: return ug_elu(ctx, x, param);
    case UG_ACT_SILU: return ug_silu(ctx, x);
    case UG_ACT_GELU: return ug_gelu(ctx, x);
    case UG_ACT_TANH: return ug_tanh(ctx, x);
    case UG_ACT_SIGMOID: return ug_sigmoid(ctx, x);
    case UG_ACT_SOFTPLUS: return ug_softplus(ctx, x);
    }
    if (ctx) ug_ctx_fail(ctx, UG_ERR_ARG, "ug_activation: unknown activation %d", (int)act);
    return NULL;
}

/* ---- Linear ----------------------------------------------------------------------------------- */

ug_status ug_linear_layer_init(ug_linear_layer *L, ug_params *P, const char *group, const char *name,
                               int64_t in, int64_t out, bool bias, ug_rng *rng) {
    if (!L || !P || !name || !rng || in <= 0 || out <= 0)
        return ug_params_fail(P, UG_ERR_ARG, "linear layer '%s/%s': in %lld, out %lld%s",
                              group ? group : "?", name ? name : "?", (long long)in,
                              (long long)out, rng ? "" : ", rng NULL");
    memset(L, 0, sizeof *L);
    char pname[256];
    int64_t wshape[2] = {out, in}, bshape[1] = {out};
    snprintf(pname, sizeof pname, "%s.w", name);
    L->w = ug_param(P, group, pname, 2, wshape);  // [out, in]
    if (!L->w) return ug_params_status(P);
    if (bias) {
        snprintf(pname, sizeof pname, "%s.b", name);
        L->b = ug_param(P, group, pname, 1, bshape);  // [out]
        if (!L->b) return ug_params_status(P);
    }
    L->in = in;
    L->out = out;
    /* kaiming_uniform_(a=sqrt(5)): gain sqrt(2/(1+5)), bound = gain*sqrt(3/in) = 1/sqrt(in). */
    float bound = (float)(1.0 / sqrt((double)in));
    ug_init_uniform(L->w, -bound, bound, rng);
    if (L->b) ug_init_uniform(L->b, -bound, bound, rng);
    return UG_OK;
}

ug_tensor *ug_linear_layer_forward(ug_ctx *ctx, const ug_linear_layer *L, ug_tensor *x) {
    if (!L) {
        if (ctx) ug_ctx_fail(ctx, UG_ERR_ARG, "ug_linear_layer_forward: layer is NULL");
        return NULL;
    }
    return ug_linear(ctx, x, L->w, L->b);  // [B, out]
}

/* ---- Conv2d ----------------------------------------------------------------------------------- */

ug_status ug_conv2d_layer_init(ug_conv2d_layer *L, ug_params *P, const char *group, const char *name, int64_t in,
                               int64_t out, int64_t kh, int64_t kw, const ug_conv2d_opts *opts, bool bias,
                               ug_rng *rng) {
    const int64_t groups = opts && opts->groups ? opts->groups : 1;
    if (!L || !P || !name || !rng || in <= 0 || out <= 0 || kh <= 0 || kw <= 0 || groups <= 0 || in % groups ||
        out % groups || (opts && (opts->output_padding[0] || opts->output_padding[1])))
        return ug_params_fail(P, UG_ERR_ARG, "conv2d layer '%s/%s': in %lld, out %lld, kernel %lld x %lld, groups %lld"
                              "%s%s", group ? group : "?", name ? name : "?", (long long)in, (long long)out,
                              (long long)kh, (long long)kw, (long long)groups, rng ? "" : ", rng NULL",
                              opts && (opts->output_padding[0] || opts->output_padding[1]) ? ", output_padding set" : "");
    memset(L, 0, sizeof *L);
    char pname[256];
    int64_t wshape[4] = {out, in / groups, kh, kw}, bshape[1] = {out};
    snprintf(pname, sizeof pname, "%s.w", name);
    L->w = ug_param(P, group, pname, 4, wshape);  // [out, in/groups, kh, kw]
    if (!L->w) return ug_params_status(P);
    if (bias) {
        snprintf(pname, sizeof pname, "%s.b", name);
        L->b = ug_param(P, group, pname, 1, bshape);  // [out]
        if (!L->b) return ug_params_status(P);
    }
    L->in = in;
    L->out = out;
    L->kh = kh;
    L->kw = kw;
    if (opts) L->opts = *opts;
    /* kaiming_uniform_(a=sqrt(5)) with fan_in = in/groups * kh * kw: bound = 1/sqrt(fan_in), as Linear. */
    float bound = (float)(1.0 / sqrt((double)(in / groups * kh * kw)));
    ug_init_uniform(L->w, -bound, bound, rng);
    if (L->b) ug_init_uniform(L->b, -bound, bound, rng);
    return UG_OK;
}

ug_tensor *ug_conv2d_layer_forward(ug_ctx *ctx, const ug_conv2d_layer *L, ug_tensor *x) {
    if (!L) {
        if (ctx) ug_ctx_fail(ctx, UG_ERR_ARG, "ug_conv2d_layer_forward: layer is NULL");
        return NULL;
    }
    return ug_conv2d(ctx, x, L->w, L->b, &L->opts);  // [N, out, OH, OW]
}

/* ---- MLP -------------------------------------------------------------------------------------- */

ug_status ug_mlp_init(ug_mlp *mlp, ug_params *P, const char *group, const char *name,
                      const int64_t *widths, int n_widths, ug_act act, float act_param, ug_rng *rng) {
    if (!mlp || !P || !name || !widths || !rng || n_widths < 2 || n_widths - 1 > UG_MLP_MAX_LAYERS)
        return ug_params_fail(P, UG_ERR_ARG, "MLP '%s/%s': %d widths (2..%d)%s", group ? group : "?",
                              name ? name : "?", n_widths, UG_MLP_MAX_LAYERS + 1,
                              rng ? "" : ", rng NULL");
    for (int i = 0; i < n_widths; i++)
        if (widths[i] <= 0)
            return ug_params_fail(P, UG_ERR_ARG, "MLP '%s/%s': width %d is %lld", group ? group : "?",
                                  name, i, (long long)widths[i]);
    memset(mlp, 0, sizeof *mlp);
    mlp->act = act;
    mlp->act_param = act_param == 0.0f ? ug_act_default_param(act) : act_param;
    for (int i = 0; i + 1 < n_widths; i++) {
        char lname[256];
        snprintf(lname, sizeof lname, "%s.%d", name, i);
        ug_status st = ug_linear_layer_init(&mlp->layers[i], P, group, lname, widths[i],
                                            widths[i + 1], true, rng);
        if (st != UG_OK) return st;
        mlp->n_layers = i + 1;
    }
    return UG_OK;
}

ug_tensor *ug_mlp_forward(ug_ctx *ctx, const ug_mlp *mlp, ug_tensor *x) {
    if (!mlp || mlp->n_layers <= 0) {
        if (ctx) ug_ctx_fail(ctx, UG_ERR_ARG, "ug_mlp_forward: MLP is NULL or empty");
        return NULL;
    }
    /* With nothing to record (grad off, or input and weights constants: sampling, evaluation, a policy
     * another group's loss only reads) the hidden activations are dead once the output exists. The
     * output goes into a tensor allocated before them and the arena is rolled back past them, so a
     * trajectory of D such calls holds D outputs, not D networks' activations. */
    bool records = ug__tracks(ctx, x);
    for (int i = 0; i < mlp->n_layers; i++)
        records = records || ug__tracks(ctx, mlp->layers[i].w) || ug__tracks(ctx, mlp->layers[i].b);
    ug_tensor *out = NULL;
    ug__arena_mark mark = {0};
    const bool fold = !records && x && x->ndim >= 1 && x->ndim <= 4 && ug_ctx_status(ctx) == UG_OK;
    if (fold) {
        int64_t shape[4];
        for (int d = 0; d < x->ndim; d++) shape[d] = x->shape[d];
        shape[x->ndim - 1] = mlp->layers[mlp->n_layers - 1].out;
        if (!(out = ug__empty(ctx, UG_F32, x->ndim, shape))) return NULL;
        mark = ug__arena_get_mark(ctx);
    }
    ug_tensor *h = x;  // [B, widths[0]]
    for (int i = 0; i < mlp->n_layers; i++) {
        h = ug_linear_layer_forward(ctx, &mlp->layers[i], h);  // [B, widths[i+1]]
        if (i + 1 < mlp->n_layers) h = ug_activation(ctx, h, mlp->act, mlp->act_param);
    }
    if (!fold || !h || h->requires_grad || h->ndim != out->ndim || ug_numel(h) != ug_numel(out)) return h;
    ctx->be->copy(h, out);
    ug__arena_release(ctx, mark);
    return out;  // [B, widths[n_widths-1]]
}

/* ---- Time embedding ---------------------------------------------------------------------------- */

ug_tensor *ug_time_embedding(ug_ctx *ctx, ug_tensor *t, int64_t dim) {
    if (!ctx) return NULL;
    if (ug_ctx_status(ctx) != UG_OK) return NULL;
    char sb[64];
    if (!t || t->ndim != 1 || t->dtype != UG_F32 || t->device != ctx->be->device || dim < 2) {
        ug_ctx_fail(ctx, UG_ERR_ARG, "ug_time_embedding: t must be CPU F32 [B] and dim >= 2 (t %s, dim %lld)",
                    t ? ug_shape_str(t, sb, sizeof sb) : "NULL", (long long)dim);
        return NULL;
    }
    const int64_t B = t->shape[0], half = dim / 2;
    /* The frequencies are constants (computed in double, rounded once); everything that touches t is an
     * op, so d/dt (and second order) flows through ug_mul, ug_sin and ug_cos. */
    float *fr = ug__alloc(ctx, sizeof(float) * (size_t)half);
    if (!fr) return NULL;
    const double step = half > 1 ? log(10000.0) / (double)(half - 1) : 0.0;
    for (int64_t i = 0; i < half; i++) fr[i] = (float)exp(-step * (double)i);
    ug_tensor *f = ug_from_f32(ctx, fr, 2, (int64_t[]){1, half});          // [1, half]
    ug_tensor *a = ug_mul(ctx, ug_reshape(ctx, t, 2, (int64_t[]){B, 1}), f); // [B, half]
    ug_tensor *parts[3] = {ug_sin(ctx, a), ug_cos(ctx, a), NULL};           // [B, half] each
    int n = 2;
    if (dim & 1) parts[n++] = ug_zeros(ctx, 2, (int64_t[]){B, 1});           // [B, 1]
    return ug_concat(ctx, parts, n, 1);                                      // [B, dim]
}

/* ---- Layer norm --------------------------------------------------------------------------------- */

ug_status ug_layer_norm_init(ug_layer_norm_layer *L, ug_params *P, const char *group,
                             const char *name, int64_t dim, float eps) {
    if (!L || !P || !name || dim <= 0)
        return ug_params_fail(P, UG_ERR_ARG, "layer norm '%s/%s': dim %lld", group ? group : "?",
                              name ? name : "?", (long long)dim);
    memset(L, 0, sizeof *L);
    char pname[256];
    int64_t shape[1] = {dim};
    snprintf(pname, sizeof pname, "%s.gamma", name);
    L->gamma = ug_param(P, group, pname, 1, shape);  // [dim]
    if (!L->gamma) return ug_params_status(P);
    snprintf(pname, sizeof pname, "%s.beta", name);
    L->beta = ug_param(P, group, pname, 1, shape);  // [dim]
    if (!L->beta) return ug_params_status(P);
    ug_init_const(L->gamma, 1.0f);
    ug_init_const(L->beta, 0.0f);
    L->dim = dim;
    L->eps = eps > 0 ? eps : 1e-5f;
    return UG_OK;
}

ug_tensor *ug_layer_norm(ug_ctx *ctx, const ug_layer_norm_layer *L, ug_tensor *x) {
    if (!ctx) return NULL;
    if (ug_ctx_status(ctx) != UG_OK) return NULL;
    char sb[64];
    if (!L || !x || x->ndim < 1 || x->shape[x->ndim - 1] != L->dim) {
        ug_ctx_fail(ctx, UG_ERR_ARG, "ug_layer_norm: x %s does not end in the layer's dim %lld",
                    x ? ug_shape_str(x, sb, sizeof sb) : "NULL", L ? (long long)L->dim : -1LL);
        return NULL;
    }
    ug_tensor *mu = ug_mean(ctx, x, -1, true);                      // [..., 1]
    ug_tensor *xc = ug_sub(ctx, x, mu);                             // [..., dim]
    ug_tensor *var = ug_mean(ctx, ug_square(ctx, xc), -1, true);    // [..., 1] biased
    ug_tensor *inv = ug_pow_scalar(ctx, ug_add_scalar(ctx, var, L->eps), -0.5f);  // [..., 1]
    ug_tensor *y = ug_mul(ctx, ug_mul(ctx, xc, inv), L->gamma);    // [..., dim]
    return ug_add(ctx, y, L->beta);                                 // [..., dim]
}
