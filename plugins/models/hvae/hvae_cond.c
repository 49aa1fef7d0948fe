/* hvae_cond.c — the HVAE's conditional distributions (hvae.h): the prior of z_1, the top-down steps
 * and decoder of P_F, the bottom-up encoder steps of P_B; their parameters from the networks (or the
 * affine maps of `linear: true`), their log-densities and their samplers (dist.h).
 *
 * Every log term is a log-density w.r.t. Lebesgue measure, except the Bernoulli decoder's, which is a
 * log mass (families.md C3). Samples are constants unless the caller asks for reparameterized ones,
 * mean + sigma * eps with eps ~ N(0, I), which carry gradients into the sampling policy's parameters
 * (families.md C6; what kl_tb's `reparam: true` uses for the encoder, Prop. 2's pathwise ELBO). */
#define UG_PLUGIN
#include "hvae.h"

#include <math.h>
#include <stdio.h>

ug_status hvae_cond_init(hvae_cond *c, ug_params *P, const char *group, const char *name, int64_t in, int64_t out,
                         bool bernoulli, bool linear, const int64_t *hidden, int n_hidden, ug_act act, ug_rng *rng) {
    char nm[64];
    c->in = in;
    c->out = out;
    c->bernoulli = bernoulli;
    c->linear = linear;
    if (linear) {
        snprintf(nm, sizeof nm, "%s.mean", name);
        ug_status st = ug_linear_layer_init(&c->lin, P, group, nm, in, out, true, rng);  // w [out, in], b [out]
        if (st || bernoulli) return st;
        snprintf(nm, sizeof nm, "%s.log_std", name);
        c->log_std = ug_param(P, group, nm, 1, &out);  // [out] raw log-std, starts at 0 (sigma ~ 1)
        return c->log_std ? UG_OK : ug_params_status(P);
    }
    int64_t w[UG_MLP_MAX_LAYERS + 1];  // n_hidden <= UG_MLP_MAX_LAYERS - 1, checked by hvae_create
    w[0] = in;
    for (int i = 0; i < n_hidden; i++) w[i + 1] = hidden[i];
    w[n_hidden + 1] = bernoulli ? out : 2 * out;  // [mean | raw log-std] or logits
    return ug_mlp_init(&c->net, P, group, name, w, n_hidden + 2, act, 0.0f, rng);
}

/* The smooth floor of hvae.h: min + softplus(raw - min), elementwise. */
static ug_tensor *floored(const hvae *m, ug_ctx *ctx, ug_tensor *raw) {
    ug_tensor *u = ug_softplus(ctx, ug_add_scalar(ctx, raw, -m->min_log_std));
    return ug_add_scalar(ctx, u, m->min_log_std);
}

/* Gaussian conditional at z [B, in]: *mean [B, out] and *log_std ([B, out], or [out] when linear). */
static void gauss_params(const hvae *m, ug_ctx *ctx, const hvae_cond *c, ug_tensor *z, ug_tensor **mean,
                         ug_tensor **log_std) {
    if (c->linear) {
        *mean = ug_linear_layer_forward(ctx, &c->lin, z);  // [B, out]
        *log_std = floored(m, ctx, c->log_std);             // [out], broadcast over rows
        return;
    }
    ug_tensor *h = ug_mlp_forward(ctx, &c->net, z);  // [B, 2 out]
    *mean = ug_slice(ctx, h, 1, 0, c->out);                        // [B, out]
    *log_std = floored(m, ctx, ug_slice(ctx, h, 1, c->out, c->out));  // [B, out]
}

/* Bernoulli decoder logits at z [B, in] -> [B, out]. */
static ug_tensor *logits_of(ug_ctx *ctx, const hvae_cond *c, ug_tensor *z) {
    return c->linear ? ug_linear_layer_forward(ctx, &c->lin, z) : ug_mlp_forward(ctx, &c->net, z);
}

/* The prior of z_1 for B rows: mean [B, d_1] (a sampler needs the rows' shape) and log_std. */
static void prior_params(const hvae *m, ug_ctx *ctx, int64_t B, ug_tensor **mean, ug_tensor **log_std) {
    int64_t sh[2] = {B, m->width[1]}, row[2] = {1, m->width[1]};
    if (!m->learned_prior) {
        *mean = ug_zeros(ctx, 2, sh);    // [B, d_1]
        *log_std = ug_scalar(ctx, 0.0f);  // []
        return;
    }
    *mean = ug_expand(ctx, ug_reshape(ctx, m->prior_mean, 2, row), 2, sh);  // [B, d_1] (stride-0 rows)
    *log_std = floored(m, ctx, m->prior_log_std);                          // [d_1]
}

ug_tensor *hvae_log_pf(const hvae *m, ug_ctx *ctx, ug_tensor *s, ug_tensor *sp, int k) {
    ug_tensor *mean, *ls;
    if (k == 0) {
        prior_params(m, ctx, sp->shape[0], &mean, &ls);
        return ug_normal_log_prob(ctx, sp, mean, ls);  // [B]
    }
    const hvae_cond *c = &m->pf[k];
    if (c->bernoulli) return ug_bernoulli_log_prob(ctx, logits_of(ctx, c, s), sp);  // [B]
    gauss_params(m, ctx, c, s, &mean, &ls);
    return ug_normal_log_prob(ctx, sp, mean, ls);  // [B]
}

ug_tensor *hvae_log_pb(const hvae *m, ug_ctx *ctx, ug_tensor *s, ug_tensor *sp, int k) {
    if (k == 0) return ug_zeros(ctx, 1, &sp->shape[0]);  // [B]: the root is z_1's only parent
    ug_tensor *mean, *ls;
    gauss_params(m, ctx, &m->q[k], sp, &mean, &ls);
    return ug_normal_log_prob(ctx, s, mean, ls);  // [B]
}

ug_tensor *hvae_sample_pf(const hvae *m, ug_ctx *ctx, ug_rng *rng, ug_tensor *s, int k, float temp, bool reparam,
                          ug_tensor **lp) {
    ug_tensor *mean, *ls;
    if (k > 0 && m->pf[k].bernoulli) {
        ug_tensor *logits = logits_of(ctx, &m->pf[k], s);  // [B, D]
        ug_tensor *x = ug_bernoulli_sample(ctx, rng, logits);  // [B, D] 0/1, never differentiable
        if (lp) *lp = ug_bernoulli_log_prob(ctx, logits, x);
        return x;
    }
    if (k == 0)
        prior_params(m, ctx, s->shape[0], &mean, &ls);
    else
        gauss_params(m, ctx, &m->pf[k], s, &mean, &ls);
    /* N^{1/T} is N(mean, T sigma^2): temperature scales the latent variances (the prior's included);
     * the decoder's noise, step n-1, is left as it is. The log-density stays the untempered one. */
    ug_tensor *ls_t = (temp != 1.0f && k < m->n - 1) ? ug_add_scalar(ctx, ls, 0.5f * logf(temp)) : ls;
    ug_tensor *sp = ug_normal_sample(ctx, rng, mean, ls_t, reparam);  // [B, width[k+1]]
    if (lp) *lp = ug_normal_log_prob(ctx, sp, mean, ls);
    return sp;
}

ug_tensor *hvae_sample_pb(const hvae *m, ug_ctx *ctx, ug_rng *rng, ug_tensor *sp, int k, bool reparam, ug_tensor **lp) {
    ug_tensor *mean, *ls;
    gauss_params(m, ctx, &m->q[k], sp, &mean, &ls);
    ug_tensor *s = ug_normal_sample(ctx, rng, mean, ls, reparam);  // [B, d_k]
    if (lp) *lp = ug_normal_log_prob(ctx, s, mean, ls);
    return s;
}
