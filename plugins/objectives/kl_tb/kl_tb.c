/* kl_tb.c — KL trajectory balance: the KL divergence between the forward and backward trajectory
 * distributions, estimated from one batch of trajectories (paper §2, Eq. 21; Prop. 2 and 4).
 *
 * direction: data   KL(P_B(.|x) || P_F) with x from the data batch and tau ~ P_B(.|x):
 *                     loss = mean_b sum_k [log P_B - log P_F](tau_b)
 *                   which is the negative ELBO, -E log P_F(tau)/P_B(tau|x) (Eq. 21), so minimising it
 *                   over the forward group maximises a lower bound of log p_T(x). P_B is a proposal
 *                   here: list only `forward` under `updates` (MLE-GFN trains P_B with tbc). With
 *                   score_pb, updating P_B's group with this term gets the full gradient of the KL.
 * direction: reward KL(P_F || P_B R / Z) with tau ~ P_F and f(tau) = sum log P_F - sum log P_B - log R(x)
 *                   (a reverse KL up to the constant log Z).
 * Both log "log_ratio" = mean_b sum_k [log P_F - log P_B] (data: the ELBO estimate).
 *
 * warmup (data, full estimator): KL warm-up (Bowman et al. 2016; Sønderby et al. 2016, "deterministic
 * warm-up"). With beta = min(1, (step + 1) / warmup) the loss is
 *     mean_b [ beta (log P_B - sum_{k<n-1} log P_F) - log P_F(x | s_{n-1}) ](tau_b),
 * i.e. the last step's log P_F (the likelihood of x) at full weight and every other term (the prior
 * and the posterior's KL to it) scaled by beta; from step warmup on it is the negative ELBO again.
 * A hierarchical VAE started on the full ELBO pays the KL before its decoder can use the latents and
 * collapses them onto the prior (posterior collapse); the warm-up lets the latents carry x first. */
#define UG_PLUGIN
#include "unigfn/plugin.h"

#include <stdlib.h>
#include <string.h>

#include "../traj_terms.h"

typedef struct kl_tb {
    bool reward;      /* direction */
    bool score_pb;
    int64_t batch;
    float inv_temp;
    bool data_reward;  /* reward: data */
    bool one_step;     /* data: estimator one_step */
    bool reparam;      /* data: pathwise gradients through P_B's samples */
    int64_t warmup;    /* data: KL warm-up steps (0 = off) */
} kl_tb;

static const ug_param_spec kl_tb_params[] = {
    {"direction", UG_P_ENUM, "data", 0, 0, 0, "data|reward", "KL(P_B||P_F) from data, or KL(P_F||P_B) with the reward"},
    {"score_pb", UG_P_BOOL, "false", 0, 0, 0, NULL,
     "data: add the score-function term so a P_B group in `updates` gets the KL's full gradient"},
    {"batch", UG_P_INT, "0", UG_P_MIN | UG_P_MAX, 0, UG_BOUND_COUNT, NULL, "reward: trajectories per step; 0 = the data batch's rows"},
    {"reward_temperature", UG_P_FLOAT, "1", UG_P_MIN | UG_P_MIN_OPEN, 0, 0, NULL, "reward: log R / T"},
    UGO_REWARD_PARAM,
    {"estimator", UG_P_ENUM, "full", UG_P_ID_OPTIONAL, 0, 0, "full|one_step",
     "data: the whole backward trajectory, or one step a row with the model's closed forms (anchor, step_kl)"},
    {"reparam", UG_P_BOOL, "false", UG_P_ID_OPTIONAL, 0, 0, NULL,
     "data: reparameterized P_B samples, so P_B's groups get the pathwise gradient (model cap reparam_b)"},
    {"warmup", UG_P_INT, "0", UG_P_MIN | UG_P_MAX | UG_P_ID_OPTIONAL, 0, UG_BOUND_STEPS, NULL,
     "data: KL warm-up over this many steps: all terms but the last step's log P_F (the likelihood of x) "
     "weighted by min(1, (step+1)/warmup); 0 = off"},
    {NULL, 0, NULL, 0, 0, 0, NULL, NULL},
};

/* Leave-one-out centred weights, detached: w_b = f_b - mean_{c != b} f_c = B/(B-1) (f_b - mean f).
 * Each baseline is independent of its own sample, so E[w_b grad log p(tau_b)] = E[f_b grad log p(tau_b)]
 * exactly. With B = 1 there is nothing to leave out and w = f. */
static ug_tensor *loo_weights(ug_ctx *ctx, ug_tensor *f, int64_t B) {
    ug_tensor *fd = ug_detach(ctx, f);  // [B]
    if (B < 2) return fd;
    return ug_mul_scalar(ctx, ug_sub(ctx, fd, ug_mean_all(ctx, fd)), (float)B / (float)(B - 1));  // [B]
}

/* x - detach(x): value 0, gradient that of x. Multiplying it by detached weights adds a score-function
 * term to a loss's gradient without changing the loss's value. */
static ug_tensor *zero_with_grad(ug_ctx *ctx, ug_tensor *x) { return ug_sub(ctx, x, ug_detach(ctx, x)); }

/* The one-step estimator (estimator: one_step). With k uniform on 0 .. n-1 and s_k ~ P_B(s_k | x),
 *     n · step_kl(x, s_k, k)
 * has expectation sum_k E[step term k] = E_{P_B(τ|x)}[log P_B(τ|x) - log P_F(τ)], the full
 * estimator's, so it is unbiased for the same loss; its variance is that of one analytic step instead
 * of a whole sampled path's (what DDPM trains with). Gradients reach P_F's groups through step_kl. */
static ug_status loss_one_step(const ug_step_env *env, ug_loss_out *out) {
    ug_ctx *ctx = env->ctx;
    const char *who = "kl_tb(data, one_step)";
    const ug_model *m = env->model;
    ug_tensor *x = ugo_data(env, who);
    if (!x || ugo_need_backward(env, who) || ugo_need_caps(env, UG_CAP_ANCHOR | UG_CAP_STEP_KL, who))
        return ug_ctx_status(ctx);
    int64_t B = x->shape[0], n = m->info.horizon, sh[2] = {B, n};
    ug_tensor *k = ug_sample_categorical(ctx, env->rng, ug_zeros(ctx, 2, sh), NULL);  // [B] I32, uniform
    if (!k) return ug_ctx_status(ctx);
    ug_traj tr = {.size = sizeof tr};
    ug_traj_req req = {.size = sizeof req, .start = x, .start_index = (int32_t)n, .steps = 0,
                       .flags = UG_TRAJ_ANCHOR, .row_index = k};
    ug_status st = m->vt->sample_backward(m->self, ctx, env->rng, &req, &tr);
    if (st) return ug_ctx_status(ctx) ? ug_ctx_status(ctx) : ug_ctx_fail(ctx, st, "%s: sample_backward failed", who);
    if (tr.batch != B || !tr.last)
        return ug_ctx_fail(ctx, UG_ERR_ARG, "%s: an anchored request returned %lld rows for %lld", who,
                           (long long)tr.batch, (long long)B);
    ug_tensor *kl = m->vt->step_kl(m->self, ctx, x, tr.last, k);  // [B]
    if (!ugo_check_vec(ctx, kl, B, who, "step_kl")) return ug_ctx_status(ctx);
    ug_tensor *loss = ug_mul_scalar(ctx, ug_mean_all(ctx, kl), (float)n);
    if (ug_ctx_status(ctx)) return ug_ctx_status(ctx);
    ugo_log(out, "log_ratio", -ug_item(loss));
    return ugo_finish(ctx, loss, out, who);
}

static ug_status loss_data(kl_tb *o, const ug_step_env *env, ug_loss_out *out) {
    ug_ctx *ctx = env->ctx;
    const char *who = "kl_tb(data)";
    if (o->one_step) return loss_one_step(env, out);
    ug_tensor *x = ugo_data(env, who);
    if (!x || ugo_need_backward(env, who)) return ug_ctx_status(ctx);
    if (o->reparam && ugo_need_caps(env, UG_CAP_REPARAM_B, who)) return ug_ctx_status(ctx);
    ug_traj tr = {.size = sizeof tr};
    /* reparam: the sampled states carry d/dφ, so the mean below is itself the pathwise gradient of
     * the KL in P_B's parameters (score_pb, the score-function form, is then refused). */
    ug_traj_req req = {.size = sizeof req, .start = x, .start_index = env->model->info.horizon, .steps = -1,
                       .flags = o->reparam ? UG_TRAJ_REPARAM : 0u};
    ug_status st = env->model->vt->sample_backward(env->model->self, ctx, env->rng, &req, &tr);
    if (st) return ug_ctx_status(ctx) ? ug_ctx_status(ctx) : ug_ctx_fail(ctx, st, "%s: sample_backward failed", who);
    if (tr.batch != x->shape[0]) return ug_ctx_fail(ctx, UG_ERR_ARG, "%s: sample_backward returned %lld rows for %lld", who, (long long)tr.batch, (long long)x->shape[0]);
    ug_tensor *lpf = ugo_sum_steps(ctx, &tr, true, who);   // [B]
    ug_tensor *lpb = ugo_sum_steps(ctx, &tr, false, who);  // [B]
    if (!lpf || !lpb) return ug_ctx_status(ctx);
    ug_tensor *g = ug_sub(ctx, lpb, lpf);  // [B] log P_B - log P_F per trajectory
    ug_tensor *loss = ug_mean_all(ctx, g);
    double elbo = -ug_item(loss);
    if (o->warmup > 0 && env->step + 1 < o->warmup) {
        /* beta g - (1 - beta) log P_F(x | s_{n-1}) = beta (log P_B - the other log P_F terms) - the last */
        float beta = (float)((double)(env->step + 1) / (double)o->warmup);
        ug_tensor *last = tr.log_pf ? tr.log_pf[tr.steps - 1] : NULL;  // [B], checked by ugo_sum_steps
        loss = ug_mean_all(ctx, ug_sub(ctx, ug_mul_scalar(ctx, g, beta), ug_mul_scalar(ctx, last, 1.0f - beta)));
    }
    /* grad_phi KL(P_B||P_F) = E[g grad log P_B] + E[grad g]; the second is E[grad log P_B] = 0 plus the
     * forward part already in `loss`. score_pb adds the first with a leave-one-out baseline. */
    if (o->score_pb)
        loss = ug_add(ctx, loss, ug_mean_all(ctx, ug_mul(ctx, loo_weights(ctx, g, tr.batch), zero_with_grad(ctx, lpb))));
    if (ug_ctx_status(ctx)) return ug_ctx_status(ctx);
    ugo_log(out, "log_ratio", elbo);
    return ugo_finish(ctx, loss, out, who);
}

/* KL(P_F || P_B R/Z) = E_{P_F}[f] + log Z with f = log P_F - log P_B - log R. Gradients:
 *  - reparameterized models: the samples are differentiable paths, so loss = mean f is itself an
 *    unbiased pathwise estimate of the gradient of E[f].
 *  - otherwise (discrete steps), grad E_{P_F}[f] = E[f grad log P_F] + E[grad f]. In grad f the term
 *    grad log P_F has expectation E[grad log P_F] = 0, so it is dropped (log P_F is detached inside f);
 *    what remains is -E[grad log P_B + grad log R], which reaches P_B's (and the reward's) groups if
 *    they are listed under `updates`. The surrogate is
 *        loss = mean_b[ w_b (LPF_b - detach LPF_b) ] + mean_b[ detach(LPF_b) - LPB_b - logR_b ]
 *    with w the leave-one-out centred detached f (loo_weights). Its gradient is
 *        (1/B) sum_b [ w_b grad log P_F(tau_b) - grad log P_B(tau_b|x_b) - grad log R(x_b) ],
 *    an unbiased estimate of grad KL(P_F || P_B R/Z), and its value is mean f (the first term is 0). */
static ug_status loss_reward(kl_tb *o, const ug_step_env *env, ug_loss_out *out) {
    ug_ctx *ctx = env->ctx;
    const char *who = "kl_tb(reward)";
    const ug_model *m = env->model;
    if (!o->data_reward && ugo_need_caps(env, UG_CAP_LOG_REWARD, who)) return ug_ctx_status(ctx);
    int64_t B = ugo_batch(env, o->batch, who);
    if (B <= 0) return ug_ctx_status(ctx);
    ug_traj tr = {.size = sizeof tr};
    /* Pathwise gradients where the model can give them: the states then carry d/dθ. */
    bool reparam = ug_model_has(m, UG_CAP_REPARAM);
    ug_traj_req req = {.size = sizeof req, .batch = B, .steps = -1, .temperature = 1.0f,
                       .flags = reparam ? UG_TRAJ_REPARAM : 0u};
    ug_status st = m->vt->sample_forward(m->self, ctx, env->rng, &req, &tr);
    if (st) return ug_ctx_status(ctx) ? ug_ctx_status(ctx) : ug_ctx_fail(ctx, st, "%s: sample_forward failed", who);
    if (tr.batch != B) return ug_ctx_fail(ctx, UG_ERR_ARG, "%s: sample_forward returned %lld rows for %lld", who, (long long)tr.batch, (long long)B);
    ug_tensor *lpf = ugo_sum_steps(ctx, &tr, true, who);   // [B]
    ug_tensor *lpb = ugo_sum_steps(ctx, &tr, false, who);  // [B]
    ug_tensor *logr = ugo_log_reward(env, o->data_reward, tr.last, B, who);  // [B]
    if (!lpf || !lpb || !logr) return ug_ctx_status(ctx);
    if (o->inv_temp != 1.0f) logr = ug_mul_scalar(ctx, logr, o->inv_temp);
    ug_tensor *f = ug_sub(ctx, ug_sub(ctx, lpf, lpb), logr);  // [B]
    ug_tensor *loss;
    if (reparam) {
        loss = ug_mean_all(ctx, f);
    } else {
        ug_tensor *f_nopf = ug_sub(ctx, ug_sub(ctx, ug_detach(ctx, lpf), lpb), logr);  // [B]
        ug_tensor *score = ug_mean_all(ctx, ug_mul(ctx, loo_weights(ctx, f, B), zero_with_grad(ctx, lpf)));
        loss = ug_add(ctx, score, ug_mean_all(ctx, f_nopf));
    }
    if (ug_ctx_status(ctx)) return ug_ctx_status(ctx);
    bool g = ug_set_grad_enabled(ctx, false);
    double ratio = ug_item(ug_mean_all(ctx, ug_sub(ctx, lpf, lpb)));
    double mr = ug_item(ug_mean_all(ctx, logr));
    ug_set_grad_enabled(ctx, g);
    ugo_log(out, "log_ratio", ratio);
    ugo_log(out, "log_reward", mr);
    return ugo_finish(ctx, loss, out, who);
}

static ug_status kl_tb_loss(void *self, const ug_step_env *env, ug_loss_out *out) {
    kl_tb *o = self;
    return o->reward ? loss_reward(o, env, out) : loss_data(o, env, out);
}

static void *kl_tb_create(const ug_create_args *args, ug_error *err) {
    kl_tb *o = calloc(1, sizeof *o);
    if (!o) {
        ug_error_set(err, UG_ERR_NOMEM, "kl_tb: out of memory");
        return NULL;
    }
    const char *dir = ug_cfg_str(args->cfg, "direction", "data");
    if (strcmp(dir, "data") != 0 && strcmp(dir, "reward") != 0) {
        ug_error_set(err, UG_ERR_ARG, "kl_tb: direction '%s' is neither data nor reward", dir);
        free(o);
        return NULL;
    }
    o->reward = strcmp(dir, "reward") == 0;
    o->score_pb = ug_cfg_bool(args->cfg, "score_pb", false);
    o->batch = ug_cfg_int(args->cfg, "batch", 0);
    o->inv_temp = (float)(1.0 / ug_cfg_float(args->cfg, "reward_temperature", 1.0));
    if (o->reward && !ugo_reward_from_data(args, "kl_tb", &o->data_reward, err)) {
        free(o);
        return NULL;
    }
    o->one_step = strcmp(ug_cfg_str(args->cfg, "estimator", "full"), "one_step") == 0;
    o->reparam = ug_cfg_bool(args->cfg, "reparam", false);
    o->warmup = ug_cfg_int(args->cfg, "warmup", 0);
    if (o->warmup > 0 && (o->reward || o->one_step || o->score_pb)) {
        ug_error_set(err, UG_ERR_ARG, "kl_tb: warmup is for direction data with the full estimator, without score_pb");
        free(o);
        return NULL;
    }
    if (o->reward && (o->one_step || o->reparam)) {
        ug_error_set(err, UG_ERR_ARG, "kl_tb: estimator one_step and reparam are for direction data");
        free(o);
        return NULL;
    }
    if (o->reparam && (o->score_pb || o->one_step)) {
        ug_error_set(err, UG_ERR_ARG, "kl_tb: reparam gives P_B the pathwise gradient: it goes with neither score_pb "
                                      "nor estimator one_step");
        free(o);
        return NULL;
    }
    return o;
}

static void kl_tb_destroy(void *self) { free(self); }

static uint32_t kl_tb_caps(const ug_cfg *cfg) {
    if (strcmp(ug_cfg_str(cfg, "direction", "data"), "reward") == 0) return ugo_reward_caps(cfg);
    uint32_t c = ug_cfg_bool(cfg, "reparam", false) ? UG_CAP_REPARAM_B : 0u;
    if (strcmp(ug_cfg_str(cfg, "estimator", "full"), "one_step") == 0) c |= UG_CAP_ANCHOR | UG_CAP_STEP_KL;
    return c;
}

static const ug_objective_vtable kl_tb_vt = {.size = sizeof(ug_objective_vtable), .loss = kl_tb_loss};

static const ug_plugin_desc kl_tb_desc = {
    UG_DESC_HEADER(UG_KIND_OBJECTIVE),
    .name = "kl_tb",
    .version = "0.1.0",
    .summary = "KL trajectory balance: KL(P_B||P_F) from data (negative ELBO) or KL(P_F||P_B) with a reward",
    .params = kl_tb_params,
    .create = kl_tb_create,
    .destroy = kl_tb_destroy,
    .vtable = &kl_tb_vt,
    .required_caps = kl_tb_caps,
};

UG_PLUGIN_EXPORT(&kl_tb_desc)
