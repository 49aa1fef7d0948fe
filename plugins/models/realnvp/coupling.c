/* coupling.c — RealNVP's layers f_k, their inverses and their log-determinants (the math is in
 * realnvp.h). Everything is tensor ops, so s_{k+1} and the log-det are differentiable in the layer's
 * parameters and in s_k: a backward walk from x yields z(x; θ) with its gradient (docs/families.md C6),
 * which is what maximum likelihood through kl_tb needs. */
#define UG_PLUGIN
#include "realnvp.h"

#include <stdio.h>

/* c_k as a [1, D] constant (1 = held fixed) and 1 − c_k. */
static ug_tensor *keep_mask(const rnvp *m, ug_ctx *ctx, int k, bool complement) {
    float v[RNVP_MAX_DIM];
    const float *c = m->keep + (size_t)(k - 1) * (size_t)m->D;
    for (int64_t d = 0; d < m->D; d++) v[d] = complement ? 1.0f - c[d] : c[d];
    int64_t sh[2] = {1, m->D};
    return ug_from_f32(ctx, v, 2, sh);
}

/* σ and t of layer k from the fixed coordinates (kept ⊙ u, the same on both sides of f_k). */
static void scale_shift(const rnvp *m, ug_ctx *ctx, int k, ug_tensor *u, ug_tensor **sigma, ug_tensor **t) {
    ug_tensor *c = keep_mask(m, ctx, k, false), *free_ = keep_mask(m, ctx, k, true);  // [1, D]
    ug_tensor *h = ug_mlp_forward(ctx, &m->layer[k - 1].net, ug_mul(ctx, u, c));  // [B, 2D]
    ug_tensor *raw = ug_slice(ctx, h, 1, 0, m->D);                                         // [B, D]
    float sm = m->scale_max;
    ug_tensor *bounded = ug_mul_scalar(ctx, ug_tanh(ctx, ug_mul_scalar(ctx, raw, 1.0f / sm)), sm);  // [B, D]
    *sigma = ug_mul(ctx, bounded, free_);                                                  // [B, D]
    *t = ug_mul(ctx, ug_slice(ctx, h, 1, m->D, m->D), free_);                              // [B, D]
}

/* Σ_d σ_d (+ Σ_d a_d): [B]. */
static ug_tensor *log_det(const rnvp *m, ug_ctx *ctx, int k, ug_tensor *sigma) {
    ug_tensor *ld = ug_sum(ctx, sigma, 1, false);  // [B]
    if (m->actnorm) ld = ug_add(ctx, ld, ug_sum_all(ctx, m->layer[k - 1].an_a));  // [B] + []
    return ld;
}

ug_status rnvp_layer_forward(const rnvp *m, ug_ctx *ctx, int k, ug_tensor *s, ug_tensor **y, ug_tensor **logdet) {
    const rnvp_layer *l = &m->layer[k - 1];
    ug_tensor *u = m->actnorm ? ug_add(ctx, ug_mul(ctx, s, ug_exp(ctx, l->an_a)), l->an_b) : s;  // [B, D]
    ug_tensor *sigma, *t;
    scale_shift(m, ctx, k, u, &sigma, &t);
    *y = ug_add(ctx, ug_mul(ctx, u, ug_exp(ctx, sigma)), t);  // [B, D]
    *logdet = log_det(m, ctx, k, sigma);                      // [B]
    return ug_ctx_status(ctx);
}

ug_status rnvp_layer_inverse(const rnvp *m, ug_ctx *ctx, int k, ug_tensor *y, ug_tensor **s, ug_tensor **logdet) {
    const rnvp_layer *l = &m->layer[k - 1];
    ug_tensor *sigma, *t;
    scale_shift(m, ctx, k, y, &sigma, &t);  // y's fixed coordinates are u's
    ug_tensor *u = ug_mul(ctx, ug_sub(ctx, y, t), ug_exp(ctx, ug_neg(ctx, sigma)));  // [B, D]
    *s = m->actnorm ? ug_mul(ctx, ug_sub(ctx, u, l->an_b), ug_exp(ctx, ug_neg(ctx, l->an_a))) : u;  // [B, D]
    *logdet = log_det(m, ctx, k, sigma);  // [B]
    return ug_ctx_status(ctx);
}

ug_status rnvp_layer_init(rnvp *m, ug_params *P, int k, const int64_t *hidden, int n_hidden, ug_act act, ug_rng *rng) {
    rnvp_layer *l = &m->layer[k - 1];
    char name[32];
    snprintf(name, sizeof name, "coupling.%d", k);
    /* ug_mlp directly: cont_common.h's ugm_time_mlp_init reports errors with ug_params_fail, which the
     * plugin API table does not export (a plugin calling it fails to load) */
    int64_t w[UG_MLP_MAX_LAYERS + 1];
    if (n_hidden < 0 || n_hidden + 2 > UG_MLP_MAX_LAYERS + 1) return UG_ERR_ARG;
    w[0] = m->D;
    for (int i = 0; i < n_hidden; i++) w[i + 1] = hidden[i];
    w[n_hidden + 1] = 2 * m->D;
    ug_status st = ug_mlp_init(&l->net, P, "forward", name, w, n_hidden + 2, act, 0.0f, rng);
    if (st) return st;
    /* zero output layer: σ = t = 0, so the layer starts as the identity (Glow's choice); the weights
     * still get gradients because the hidden activations are not zero */
    ug_linear_layer *out = &l->net.layers[l->net.n_layers - 1];
    if ((st = ug_init_const(out->w, 0.0f)) || (st = ug_init_const(out->b, 0.0f))) return st;
    if (m->actnorm) {
        int64_t sh[1] = {m->D};
        snprintf(name, sizeof name, "actnorm.%d.log_scale", k);
        l->an_a = ug_param(P, "forward", name, 1, sh);  // [D] starts at 0
        snprintf(name, sizeof name, "actnorm.%d.shift", k);
        l->an_b = ug_param(P, "forward", name, 1, sh);  // [D] starts at 0
        if (!l->an_a || !l->an_b) return ug_params_status(P);
    }
    return UG_OK;
}
