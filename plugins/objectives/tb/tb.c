/* tb.c — squared trajectory balance (Malkin et al. 2022; paper §2 and §4.1):
 *     loss = mean_b ( log Z + sum_k log P_F - log R(x)/T - sum_k log P_B )^2
 * on a batch that mixes forward-sampled trajectories (a fraction forward_ratio of the B rows, with
 * optional uniform exploration) and trajectories sampled backward from the data rows. With the energy
 * model as the reward and forward_ratio 0.5 this is EB-GFN's GFlowNet step (REPRODUCTION.md §3 (a)).
 * `reward: data` takes log R from the dataset instead (a given target, the paper's §2.3).
 * Logs "logZ" and the mean squared residual of each half ("loss_fwd", "loss_bwd"). */
#define UG_PLUGIN
#include "unigfn/plugin.h"

#include <math.h>
#include <stdlib.h>

#include "../traj_terms.h"

typedef struct tb {
    double forward_ratio;
    float explore, inv_temp;
    int64_t batch;
    bool data_reward;  /* reward: data */
} tb;

static const ug_param_spec tb_params[] = {
    {"forward_ratio", UG_P_FLOAT, "0.5", UG_P_MIN | UG_P_MAX, 0, 1, NULL,
     "fraction of the batch sampled forward by P_F; the rest are sampled backward from data rows"},
    {"explore", UG_P_FLOAT, "0", UG_P_MIN | UG_P_MAX, 0, 1, NULL, "probability of a uniformly random action when sampling forward"},
    {"reward_temperature", UG_P_FLOAT, "1", UG_P_MIN | UG_P_MIN_OPEN, 0, 0, NULL, "log R is divided by this"},
    {"batch", UG_P_INT, "0", UG_P_MIN | UG_P_MAX, 0, UG_BOUND_COUNT, NULL, "rows B; 0 = the data batch's rows"},
    UGO_REWARD_PARAM,
    {NULL, 0, NULL, 0, 0, 0, NULL, NULL},
};

/* log Z + sum log P_F - log R / T - sum log P_B per trajectory: [B]. */
static ug_tensor *residual(tb *o, const ug_step_env *env, const ug_traj *tr, ug_tensor *log_z, const char *who) {
    ug_ctx *ctx = env->ctx;
    ug_tensor *lpf = ugo_sum_steps(ctx, tr, true, who);   // [B]
    ug_tensor *lpb = ugo_sum_steps(ctx, tr, false, who);  // [B]
    ug_tensor *logr = ugo_log_reward(env, o->data_reward, tr->last, tr->batch, who);  // [B]
    if (!lpf || !lpb || !logr) return NULL;
    if (o->inv_temp != 1.0f) logr = ug_mul_scalar(ctx, logr, o->inv_temp);
    return ug_add(ctx, ug_sub(ctx, ug_sub(ctx, lpf, lpb), logr), log_z);  // [B]
}

static double mean_sq_value(ug_ctx *ctx, ug_tensor *r) {
    bool g = ug_set_grad_enabled(ctx, false);
    ug_tensor *v = ug_mean_all(ctx, ug_square(ctx, r));
    double d = v ? ug_item(v) : NAN;
    ug_set_grad_enabled(ctx, g);
    return d;
}

static ug_status tb_loss(void *self, const ug_step_env *env, ug_loss_out *out) {
    tb *o = self;
    ug_ctx *ctx = env->ctx;
    const ug_model *m = env->model;
    const char *who = "tb";
    if (ugo_need_caps(env, UG_CAP_LOG_Z | (o->data_reward ? 0u : UG_CAP_LOG_REWARD), who)) return ug_ctx_status(ctx);
    int64_t B = ugo_batch(env, o->batch, who);
    if (B <= 0) return ug_ctx_status(ctx);
    int64_t Bf = (int64_t)llround((double)B * o->forward_ratio), Bb = B - Bf;
    ug_tensor *log_z = m->vt->log_z(m->self, ctx);  // []
    if (!log_z || ug_numel(log_z) != 1) return ug_ctx_fail(ctx, UG_ERR_ARG, "%s: log_z must return one element", who);

    ug_tensor *parts[2];
    int np = 0;
    double lf = NAN, lb = NAN;
    if (Bf > 0) {
        ug_traj tr = {.size = sizeof tr};
        ug_traj_req req = {.size = sizeof req, .batch = Bf, .steps = -1, .explore = o->explore, .temperature = 1.0f};
        ug_status st = m->vt->sample_forward(m->self, ctx, env->rng, &req, &tr);
        if (st) return ug_ctx_status(ctx) ? ug_ctx_status(ctx) : ug_ctx_fail(ctx, st, "%s: sample_forward failed", who);
        if (tr.batch != Bf) return ug_ctx_fail(ctx, UG_ERR_ARG, "%s: sample_forward returned %lld rows for %lld", who, (long long)tr.batch, (long long)Bf);
        if (!(parts[np++] = residual(o, env, &tr, log_z, who))) return ug_ctx_status(ctx);
        lf = mean_sq_value(ctx, parts[np - 1]);
    }
    if (Bb > 0) {
        ug_tensor *x = ugo_data(env, who);
        if (!x || ugo_need_backward(env, who)) return ug_ctx_status(ctx);
        if (x->shape[0] < Bb)
            return ug_ctx_fail(ctx, UG_ERR_ARG, "%s: %lld backward rows wanted but the data batch has %lld", who,
                               (long long)Bb, (long long)x->shape[0]);
        ug_traj tr = {.size = sizeof tr};
        ug_traj_req req = {.size = sizeof req, .start = ug_slice(ctx, x, 0, 0, Bb), .start_index = m->info.horizon, .steps = -1};
        ug_status st = req.start ? m->vt->sample_backward(m->self, ctx, env->rng, &req, &tr) : ug_ctx_status(ctx);
        if (st) return ug_ctx_status(ctx) ? ug_ctx_status(ctx) : ug_ctx_fail(ctx, st, "%s: sample_backward failed", who);
        if (tr.batch != Bb) return ug_ctx_fail(ctx, UG_ERR_ARG, "%s: sample_backward returned %lld rows for %lld", who, (long long)tr.batch, (long long)Bb);
        if (!(parts[np++] = residual(o, env, &tr, log_z, who))) return ug_ctx_status(ctx);
        lb = mean_sq_value(ctx, parts[np - 1]);
    }
    ug_tensor *r = np == 1 ? parts[0] : ug_concat(ctx, parts, np, 0);  // [B]
    ug_tensor *loss = ug_mean_all(ctx, ug_square(ctx, r));
    if (ug_ctx_status(ctx)) return ug_ctx_status(ctx);
    ugo_log(out, "logZ", ug_item(log_z));
    if (Bf > 0) ugo_log(out, "loss_fwd", lf);
    if (Bb > 0) ugo_log(out, "loss_bwd", lb);
    return ugo_finish(ctx, loss, out, who);
}

static void *tb_create(const ug_create_args *args, ug_error *err) {
    tb *o = calloc(1, sizeof *o);
    if (!o) {
        ug_error_set(err, UG_ERR_NOMEM, "tb: out of memory");
        return NULL;
    }
    o->forward_ratio = ug_cfg_float(args->cfg, "forward_ratio", 0.5);
    o->explore = (float)ug_cfg_float(args->cfg, "explore", 0.0);
    o->inv_temp = (float)(1.0 / ug_cfg_float(args->cfg, "reward_temperature", 1.0));
    o->batch = ug_cfg_int(args->cfg, "batch", 0);
    if (!ugo_reward_from_data(args, "tb", &o->data_reward, err)) {
        free(o);
        return NULL;
    }
    if (!(o->forward_ratio >= 0 && o->forward_ratio <= 1) || !(o->explore >= 0 && o->explore <= 1) || !isfinite(o->inv_temp)) {
        ug_error_set(err, UG_ERR_ARG, "tb: forward_ratio and explore must lie in [0, 1], reward_temperature > 0");
        free(o);
        return NULL;
    }
    return o;
}

static void tb_destroy(void *self) { free(self); }

static uint32_t tb_caps(const ug_cfg *cfg) { return UG_CAP_LOG_Z | ugo_reward_caps(cfg); }

static const ug_objective_vtable tb_vt = {.size = sizeof(ug_objective_vtable), .loss = tb_loss};

static const ug_plugin_desc tb_desc = {
    UG_DESC_HEADER(UG_KIND_OBJECTIVE),
    .name = "tb",
    .version = "0.1.0",
    .summary = "squared trajectory balance with learned log Z on forward- and data-sampled trajectories",
    .params = tb_params,
    .create = tb_create,
    .destroy = tb_destroy,
    .vtable = &tb_vt,
    .required_caps = tb_caps,
};

UG_PLUGIN_EXPORT(&tb_desc)
