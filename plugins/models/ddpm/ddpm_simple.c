/* ddpm_simple.c — Ho et al. (2020)'s L_simple for the ddpm model, and improved DDPM's hybrid loss
 * (Nichol & Dhariwal 2021, §3.1), exported from the ddpm plugin's module (it needs the model's
 * schedule and ε-network, which no generic hook exposes: docs/families.md §5, §9 "L_simple").
 *
 *   L_simple = E_{x, k ~ U{1..T}, ε ~ N(0, I)} mean_d (ε - ε_θ(√ᾱ_k c(x) + √(1-ᾱ_k) ε, t = T+1-k))²
 * the unweighted ε-regression of Ho's Eq. 14, averaged over coordinates as their code does
 * (mean_flat). ᾱ is P_F's schedule as constants: the learned β's by default (so with MLE-GFN the
 * network regresses the noise of the P_B it is trained against), β̄ with pf_beta: fixed. It is a
 * reweighting of the negative ELBO's k >= 1 terms with analytic KLs (Prop. 4), not a function of
 * log P_F / log P_B, hence its own objective.
 *
 * vlb_weight λ > 0 (needs pf_var: learned) adds iDDPM's λ L_vlb on the same rows and draws:
 *   L_vlb = T · E_k step_kl(x, s_k, k) / D      (k ~ U{1..T}; the prior term k = 0 has no θ)
 * with P_F's mean detached inside, so L_vlb trains only the variance head and L_simple the mean (the
 * paper's stop-gradient). Per coordinate and in nats; iDDPM's λ = 0.001 is for its bits per
 * coordinate, so theirs is about λ = 0.0014 here. The spec composition [ddpm_simple, kl_tb
 * estimator: one_step with weight λ/D] is unbiased for the same sum but lets L_vlb train the mean
 * too: there is no stop-gradient a spec can ask for, which is why this option exists.
 * Logs "mse" and, with λ > 0, "vlb" (T · mean step_kl, nats: the ELBO's k >= 1 part). */
#define UG_PLUGIN
#include "ddpm.h"

#include <stdlib.h>
#include <string.h>

typedef struct simple {
    float vlb_weight;
} simple;

static const ug_param_spec simple_params[] = {
    {"vlb_weight", UG_P_FLOAT, "0", UG_P_MIN, 0, 0, NULL,
     "lambda of iDDPM's hybrid L_simple + lambda L_vlb (per coordinate, nats; needs pf_var: learned)"},
    {NULL, 0, NULL, 0, 0, 0, NULL, NULL},
};

static ug_status simple_loss(void *self, const ug_step_env *env, ug_loss_out *out) {
    simple *o = self;
    ug_ctx *ctx = env->ctx;
    ddpm *m = env->model->self;
    const char *who = "ddpm_simple";
    ug_tensor *x = env->batch;  // [B, D]
    if (!x) return ug_ctx_fail(ctx, UG_ERR_ARG, "%s: needs a data batch", who);
    if (!ugm_check_states(ctx, x, m->D, "ddpm_simple: the data batch")) return ug_ctx_status(ctx);
    int64_t B = x->shape[0], sh[2] = {B, m->D};
    int32_t *kh = ug_arena_alloc(ctx, sizeof(int32_t) * (size_t)B);
    if (!kh) return ug_ctx_fail(ctx, UG_ERR_NOMEM, "%s: out of step memory", who);
    for (int64_t b = 0; b < B; b++) kh[b] = (int32_t)(1 + ug_rng_randint(env->rng, m->T));  // k ~ U{1..T}
    ddpm_k kk;
    ddpm_sched sc;
    if (!ddpm_rows(m, ctx, ug_from_i32(ctx, kh, 1, &B), B, who, &kk) || ddpm_schedule(m, ctx, &sc))
        return ug_ctx_status(ctx);
    ug_tensor *eps = ug_rand_normal(ctx, env->rng, 2, sh);  // [B, D]
    ug_tensor *s = ug_add(ctx, ug_mul(ctx, ddpm_cx(m, ctx, x), ddpm_coef(m, ctx, &kk, m->f_sab)),
                          ug_mul(ctx, eps, ddpm_coef(m, ctx, &kk, m->f_sd)));  // [B, D] s_k ~ P_B(s_k | x)
    ug_tensor *net = ddpm_net(m, ctx, s, kk.t);                                  // [B, D] or [B, 2D]
    ug_tensor *pred = m->var == DDPM_VAR_LEARNED ? ug_slice(ctx, net, 1, 0, m->D) : net;  // [B, D]
    ug_tensor *mse = ug_mean_all(ctx, ug_square(ctx, ug_sub(ctx, eps, pred)));
    ug_tensor *loss = mse;
    ug_tensor *vlb = NULL;
    if (o->vlb_weight > 0) {
        ug_tensor *kl = ddpm_kl_terms(m, ctx, &sc, &kk, x, s, net, true);  // [B]
        vlb = ug_mul_scalar(ctx, ug_mean_all(ctx, kl), (float)m->T);
        loss = ug_add(ctx, loss, ug_mul_scalar(ctx, vlb, o->vlb_weight / (float)m->D));
    }
    if (ug_ctx_status(ctx)) return ug_ctx_status(ctx);
    bool g = ug_set_grad_enabled(ctx, false);
    if (out->n_logs < UG_LOSS_MAX_LOGS) out->log_keys[out->n_logs] = "mse", out->log_values[out->n_logs++] = ug_item(mse);
    if (vlb && out->n_logs < UG_LOSS_MAX_LOGS) out->log_keys[out->n_logs] = "vlb", out->log_values[out->n_logs++] = ug_item(vlb);
    ug_set_grad_enabled(ctx, g);
    out->loss = loss;
    return ug_ctx_status(ctx);
}

static void *simple_create(const ug_create_args *a, ug_error *err) {
    const ug_model *mod = a->model;
    if (!mod || !mod->name || strcmp(mod->name, "ddpm") != 0 || !mod->self) {
        ug_error_set(err, UG_ERR_ARG, "ddpm_simple: Ho's L_simple needs the model 'ddpm' (its schedule and epsilon "
                                      "network), not '%s'", mod && mod->name ? mod->name : "?");
        return NULL;
    }
    simple *o = calloc(1, sizeof *o);
    if (!o) {
        ug_error_set(err, UG_ERR_NOMEM, "ddpm_simple: out of memory");
        return NULL;
    }
    o->vlb_weight = (float)ug_cfg_float(a->cfg, "vlb_weight", 0);
    const ddpm *m = mod->self;
    if (o->vlb_weight > 0 && m->var != DDPM_VAR_LEARNED) {
        ug_error_set(err, UG_ERR_ARG, "ddpm_simple: vlb_weight %g: the hybrid's L_vlb trains only a learned variance "
                                      "(its mean is detached); set the model's pf_var: learned", (double)o->vlb_weight);
        free(o);
        return NULL;
    }
    return o;
}

static void simple_destroy(void *self) { free(self); }

static const ug_objective_vtable simple_vt = {.size = sizeof(ug_objective_vtable), .loss = simple_loss};

const ug_plugin_desc ddpm_simple_desc = {
    UG_DESC_HEADER(UG_KIND_OBJECTIVE),
    .name = "ddpm_simple",
    .version = "0.1.0",
    .summary = "Ho's L_simple (unweighted epsilon-MSE at uniform k) for the ddpm model; vlb_weight: iDDPM's hybrid",
    .params = simple_params,
    .create = simple_create,
    .destroy = simple_destroy,
    .vtable = &simple_vt,
};
