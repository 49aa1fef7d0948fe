/* ipf.c — the two half-steps of iterative proportional fitting (IPF) for a Schrödinger bridge whose
 * forward and backward policies are both learned (paper Observation 10, §3.2.2; De Bortoli et al.
 * 2021 "Diffusion Schrödinger Bridge", Vargas et al. 2021), by trajectory log-likelihood, written
 * against model.h only (any model with a learned P_B and sample_forward/sample_backward; the `sb`
 * model is the one made for it).
 *
 * IPF alternates two projections of path measures. With the other policy held fixed:
 *   half: forward   τ ~ p_data(x) P_B(τ | x):  min_θ KL(p_data P_B || P_F)
 *                     loss = mean_b Σ_k [log P_B − log P_F](τ_b)      (updates: [forward])
 *                   i.e. kl_tb direction data, the negative ELBO (Eq. 21); same value, same θ-gradient
 *                   (tests/test_sb.c checks both). Offered here so that an IPF spec reads as the two
 *                   halves of one objective and logs under one name.
 *   half: backward  τ ~ P_F (from the prior root):  min_φ KL(P_F || q_F P_B) with q_F P_F's own
 *                   marginal of x, = E_{τ~P_F}[−Σ_k log P_B(τ)] + const(θ):
 *                     loss = mean_b −Σ_k log P_B(τ_b)                 (updates: [backward])
 *                   the maximum likelihood of P_F's paths under P_B. For Gaussian P_B steps of fixed
 *                   variance this is mean matching, its minimiser P_B's mean = E_{P_F}[s_k | s_{k+1}]
 *                   exactly at any step size (DSB's mean-matching target uses the forward drift at
 *                   two points instead, which needs the model's drift, not in model.h, and is exact
 *                   only as the steps shrink). No data is used; `batch` sets how many paths.
 * The states are detached (no UG_TRAJ_REPARAM), so the gradient is exactly that of the projection:
 * nothing flows through the sampled path into the fixed policy, which the run loop also keeps out of
 * the graph (only the term's `updates` groups are variables).
 *
 * Logs "log_ratio" = mean_b Σ_k [log P_F − log P_B]. Forward: the ELBO estimate. Backward: under P_F it
 * is E log q_F(x) + E KL(P_F(τ|x) || P_B(τ|x)) ≥ −H(q_F), an upper bound on P_F's negative entropy whose
 * gap is how far P_B is from P_F's time reversal.
 *
 * The alternation is a spec, not code: the terms' `start`/`stop` schedules (run loop) put each half in
 * its blocks (one term per block; experiments/continuous/specs/sb.yaml). DSB caches the frozen
 * policy's trajectories at the start of each half and reuses them; that only saves sampling time:
 * while the other policy is frozen, fresh paths every step come from the very distribution a cache
 * would hold, so the expected gradient is the same (and the draws are independent across steps). */
#define UG_PLUGIN
#include "unigfn/plugin.h"

#include <stdlib.h>
#include <string.h>

#include "../traj_terms.h"

typedef struct ipf {
    bool backward;   /* half */
    int64_t batch;   /* backward: trajectories per step, 0 = the data batch's rows */
} ipf;

static const ug_param_spec ipf_params[] = {
    {"half", UG_P_ENUM, NULL, UG_P_REQUIRED, 0, 0, "forward|backward",
     "forward: fit P_F to P_B's paths from data (= kl_tb data); backward: fit P_B to P_F's paths from the prior"},
    {"batch", UG_P_INT, "0", UG_P_MIN | UG_P_MAX, 0, UG_BOUND_COUNT, NULL, "backward: P_F trajectories per step; 0 = the data batch's rows"},
    {NULL, 0, NULL, 0, 0, 0, NULL, NULL},
};

static ug_status ipf_loss(void *self, const ug_step_env *env, ug_loss_out *out) {
    ipf *o = self;
    ug_ctx *ctx = env->ctx;
    const ug_model *m = env->model;
    const char *who = o->backward ? "ipf(backward)" : "ipf(forward)";
    ug_traj tr = {.size = sizeof tr};
    ug_status st;
    int64_t B;
    if (o->backward) {
        if ((B = ugo_batch(env, o->batch, who)) <= 0) return ug_ctx_status(ctx);
        ug_traj_req req = {.size = sizeof req, .batch = B, .steps = -1, .temperature = 1.0f};
        st = m->vt->sample_forward(m->self, ctx, env->rng, &req, &tr);
    } else {
        ug_tensor *x = ugo_data(env, who);  // [B, ...]
        if (!x || ugo_need_backward(env, who)) return ug_ctx_status(ctx);
        B = x->shape[0];
        ug_traj_req req = {.size = sizeof req, .start = x, .start_index = m->info.horizon, .steps = -1};
        st = m->vt->sample_backward(m->self, ctx, env->rng, &req, &tr);
    }
    if (st)
        return ug_ctx_status(ctx) ? ug_ctx_status(ctx)
                                  : ug_ctx_fail(ctx, st, "%s: sample_%s failed", who, o->backward ? "forward" : "backward");
    if (tr.batch != B)
        return ug_ctx_fail(ctx, UG_ERR_ARG, "%s: the model returned %lld trajectories for %lld", who, (long long)tr.batch,
                           (long long)B);
    ug_tensor *lpf = ugo_sum_steps(ctx, &tr, true, who);   // [B]
    ug_tensor *lpb = ugo_sum_steps(ctx, &tr, false, who);  // [B]
    if (!lpf || !lpb) return ug_ctx_status(ctx);
    ug_tensor *loss = o->backward ? ug_neg(ctx, ug_mean_all(ctx, lpb)) : ug_mean_all(ctx, ug_sub(ctx, lpb, lpf));
    if (ug_ctx_status(ctx)) return ug_ctx_status(ctx);
    bool g = ug_set_grad_enabled(ctx, false);
    ugo_log(out, "log_ratio", ug_item(ug_mean_all(ctx, ug_sub(ctx, lpf, lpb))));
    ug_set_grad_enabled(ctx, g);
    return ugo_finish(ctx, loss, out, who);
}

static void *ipf_create(const ug_create_args *args, ug_error *err) {
    const char *half = ug_cfg_str(args->cfg, "half", "");
    if (strcmp(half, "forward") != 0 && strcmp(half, "backward") != 0) {
        ug_error_set(err, UG_ERR_ARG, "ipf: half '%s' is neither forward nor backward", half);
        return NULL;
    }
    ipf *o = calloc(1, sizeof *o);
    if (!o) {
        ug_error_set(err, UG_ERR_NOMEM, "ipf: out of memory");
        return NULL;
    }
    o->backward = strcmp(half, "backward") == 0;
    o->batch = ug_cfg_int(args->cfg, "batch", 0);
    if (!o->backward && o->batch != 0) {
        ug_error_set(err, UG_ERR_ARG, "ipf: batch is for half backward (half forward uses the data batch)");
        free(o);
        return NULL;
    }
    return o;
}

static void ipf_destroy(void *self) { free(self); }

static const ug_objective_vtable ipf_vt = {.size = sizeof(ug_objective_vtable), .loss = ipf_loss};

static const ug_plugin_desc ipf_desc = {
    UG_DESC_HEADER(UG_KIND_OBJECTIVE),
    .name = "ipf",
    .version = "0.1.0",
    .summary = "IPF half-steps of a Schrödinger bridge: fit P_F to P_B's data paths, or P_B to P_F's prior paths",
    .params = ipf_params,
    .create = ipf_create,
    .destroy = ipf_destroy,
    .vtable = &ipf_vt,
};

UG_PLUGIN_EXPORT(&ipf_desc)
