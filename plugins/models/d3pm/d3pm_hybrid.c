/* d3pm_hybrid.c — Austin et al. (2021)'s hybrid loss L_vb + λ L_CE (their §3.4, Eq. 5) for the d3pm
 * model, exported from the d3pm plugin's module: the auxiliary term needs the network's p̃_θ(x | s_k),
 * which no generic hook exposes (docs/families.md §6, §9 "L_simple").
 *
 * Per data row x, with k ~ U{1..T} and s_k ~ P_B(s_k | x) (the closed-form marginal):
 *   L_vb = KL_0 + T · step_kl(x, s_k, k)        (KL_0, the root step's term, is exact: no network)
 *   L_CE = -Σ_d log p̃_θ(x_d | s_k)
 *   loss = mean_b (L_vb + λ L_CE)
 * E[L_vb] = Σ_{k=0}^{T} E step_kl = the negative ELBO, as kl_tb's one-step estimator (which draws k in
 * 0..T instead), so λ = 0 trains the same objective with one network pass a row. Both terms are sums
 * over coordinates in nats, so λ means what Austin's hybrid_coeff means (their terms are both means
 * over coordinates); their λ is 0.001 (CIFAR-10) and 0.01 (absorbing text). The same network pass
 * gives both terms. Logs "vb" (the mean L_vb, a negative-ELBO estimate) and "ce" (the mean L_CE). */
#define UG_PLUGIN
#include "d3pm.h"

#include <stdlib.h>
#include <string.h>

typedef struct hybrid {
    float ce_weight;
} hybrid;

static const ug_param_spec hybrid_params[] = {
    {"ce_weight", UG_P_FLOAT, "0.001", UG_P_MIN, 0, 0, NULL,
     "lambda of Austin's L_vb + lambda L_CE (both summed over coordinates, nats); 0 = the one-step negative ELBO"},
    {NULL, 0, NULL, 0, 0, 0, NULL, NULL},
};

static ug_status hybrid_loss(void *self, const ug_step_env *env, ug_loss_out *out) {
    hybrid *o = self;
    ug_ctx *ctx = env->ctx;
    d3pm *m = env->model->self;
    const char *who = "d3pm_hybrid";
    ug_tensor *x = env->batch;  // [B, D]
    if (!x) return ug_ctx_fail(ctx, UG_ERR_ARG, "%s: needs a data batch", who);
    if (!d3pm_check_index(m, ctx, x, m->T + 1, "d3pm_hybrid", "the data batch")) return ug_ctx_status(ctx);
    int64_t B = x->shape[0];
    int32_t *kh = ug_arena_alloc(ctx, sizeof(int32_t) * (size_t)B);
    if (!kh) return ug_ctx_fail(ctx, UG_ERR_NOMEM, "%s: out of step memory", who);
    for (int64_t b = 0; b < B; b++) kh[b] = (int32_t)(1 + ug_rng_randint(env->rng, m->T));  // k ~ U{1..T}
    d3pm_k kk;
    d3pm_sched sc;
    if (!d3pm_rows(m, ctx, ug_from_i32(ctx, kh, 1, &B), B, who, &kk) || d3pm_schedule(m, ctx, &sc)) return ug_ctx_status(ctx);
    ug_tensor *s = d3pm_marginal_sample(m, ctx, env->rng, x, kh);  // [B, D] s_k ~ P_B(s_k | x)
    ug_tensor *lp0 = NULL;
    ug_tensor *kl = d3pm_kl_terms(m, ctx, &sc, &kk, x, s, &lp0);  // [B]
    ug_tensor *vb = ug_add(ctx, ug_mul_scalar(ctx, ug_mean_all(ctx, kl), (float)m->T), ug_sum_all(ctx, d3pm_prior_kl(m, ctx, &sc)));
    ug_tensor *ce = ug_neg(ctx, ug_mean_all(ctx, lp0 ? d3pm_pick(ctx, lp0, x) : NULL));
    ug_tensor *loss = o->ce_weight > 0 ? ug_add(ctx, vb, ug_mul_scalar(ctx, ce, o->ce_weight)) : vb;
    if (ug_ctx_status(ctx)) return ug_ctx_status(ctx);
    bool g = ug_set_grad_enabled(ctx, false);
    if (out->n_logs < UG_LOSS_MAX_LOGS) out->log_keys[out->n_logs] = "vb", out->log_values[out->n_logs++] = ug_item(vb);
    if (out->n_logs < UG_LOSS_MAX_LOGS) out->log_keys[out->n_logs] = "ce", out->log_values[out->n_logs++] = ug_item(ce);
    ug_set_grad_enabled(ctx, g);
    out->loss = loss;
    return ug_ctx_status(ctx);
}

static void *hybrid_create(const ug_create_args *a, ug_error *err) {
    const ug_model *mod = a->model;
    if (!mod || !mod->name || strcmp(mod->name, "d3pm") != 0 || !mod->self) {
        ug_error_set(err, UG_ERR_ARG, "d3pm_hybrid: Austin's hybrid loss needs the model 'd3pm' (its schedule and x0 "
                                      "network), not '%s'", mod && mod->name ? mod->name : "?");
        return NULL;
    }
    hybrid *o = calloc(1, sizeof *o);
    if (!o) {
        ug_error_set(err, UG_ERR_NOMEM, "d3pm_hybrid: out of memory");
        return NULL;
    }
    o->ce_weight = (float)ug_cfg_float(a->cfg, "ce_weight", 0.001);
    return o;
}

static void hybrid_destroy(void *self) { free(self); }

static const ug_objective_vtable hybrid_vt = {.size = sizeof(ug_objective_vtable), .loss = hybrid_loss};

const ug_plugin_desc d3pm_hybrid_desc = {
    UG_DESC_HEADER(UG_KIND_OBJECTIVE),
    .name = "d3pm_hybrid",
    .version = "0.1.0",
    .summary = "Austin's D3PM loss L_vb (one step a row, analytic KLs) + ce_weight * L_CE (x0 cross-entropy), for the d3pm model",
    .params = hybrid_params,
    .create = hybrid_create,
    .destroy = hybrid_destroy,
    .vtable = &hybrid_vt,
};
