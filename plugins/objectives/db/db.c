/* db.c — detailed balance (paper §2): on forward-sampled trajectories, for every step
 *     delta_k = log F(s_k) + log P_F(s_{k+1}|s_k) - log F(s_{k+1}) - log P_B(s_k|s_{k+1}),
 * with log F(x) = log R(x)/T at a trajectory's terminal state and log F(s0) from the model's
 * log_flow at index 0 (it plays the role of log Z). loss = mean of delta^2 over the taken steps
 * (traj->mask, when present, marks them; the last taken step of a row is the one into x).
 * Logs "logF0", the mean log F(s0). */
#define UG_PLUGIN
#include "unigfn/plugin.h"

#include <math.h>
#include <stdlib.h>

#include "../traj_terms.h"

typedef struct db {
    float explore, inv_temp;
    int64_t batch;
    bool data_reward;  /* reward: data */
} db;

static const ug_param_spec db_params[] = {
    {"explore", UG_P_FLOAT, "0", UG_P_MIN | UG_P_MAX, 0, 1, NULL, "probability of a uniformly random action when sampling"},
    {"reward_temperature", UG_P_FLOAT, "1", UG_P_MIN | UG_P_MIN_OPEN, 0, 0, NULL, "log R is divided by this"},
    {"batch", UG_P_INT, "0", UG_P_MIN | UG_P_MAX, 0, UG_BOUND_COUNT, NULL, "trajectories per step; 0 = the data batch's rows"},
    UGO_REWARD_PARAM,
    {NULL, 0, NULL, 0, 0, 0, NULL, NULL},
};

static ug_status db_loss(void *self, const ug_step_env *env, ug_loss_out *out) {
    db *o = self;
    ug_ctx *ctx = env->ctx;
    const ug_model *m = env->model;
    const char *who = "db";
    char b[64];
    if (ugo_need_caps(env, UG_CAP_LOG_FLOW | (o->data_reward ? 0u : UG_CAP_LOG_REWARD), who)) return ug_ctx_status(ctx);
    int64_t B = ugo_batch(env, o->batch, who);
    if (B <= 0) return ug_ctx_status(ctx);
    ug_traj tr = {.size = sizeof tr};
    ug_traj_req req = {.size = sizeof req, .batch = B, .steps = -1, .flags = UG_TRAJ_KEEP_STATES,
                       .explore = o->explore, .temperature = 1.0f};
    ug_status st = m->vt->sample_forward(m->self, ctx, env->rng, &req, &tr);
    if (st) return ug_ctx_status(ctx) ? ug_ctx_status(ctx) : ug_ctx_fail(ctx, st, "%s: sample_forward failed", who);
    if (tr.batch != B || !tr.states || tr.steps < 1)
        return ug_ctx_fail(ctx, UG_ERR_ARG, "%s: sample_forward must return %lld rows, at least one step and the states",
                           who, (long long)B);

    ug_tensor *logr = ugo_log_reward(env, o->data_reward, tr.last, B, who);  // [B]
    if (!logr) return ug_ctx_status(ctx);
    if (o->inv_temp != 1.0f) logr = ug_mul_scalar(ctx, logr, o->inv_temp);

    ug_tensor *lf = m->vt->log_flow(m->self, ctx, tr.states[0], tr.start);  // [B] log F(s_0)
    if (!ugo_check_vec(ctx, lf, B, who, "log_flow")) return ug_ctx_status(ctx);
    ug_tensor *lf0 = lf;
    ug_tensor *num = NULL, *den = NULL;  // sum of mask * delta^2 and of mask
    for (int k = 0; k < tr.steps; k++) {
        ug_tensor *lpf = tr.log_pf[k], *lpb = tr.log_pb[k];
        ug_tensor *mk = tr.mask ? tr.mask[k] : NULL;
        if (!ugo_is_vec(lpf, B) || !ugo_is_vec(lpb, B) || (tr.mask && !ugo_is_vec(mk, B)))
            return ug_ctx_fail(ctx, UG_ERR_ARG, "%s: step %d terms must be [%lld] (log_pf %s)", who, k, (long long)B,
                               lpf ? ug_shape_str(lpf, b, sizeof b) : "missing");
        /* Flow of the next state: log R at x. Without a mask every row reaches x at the last step;
         * with one, row b's last taken step k has mask_k = 1 and mask_{k+1} = 0. */
        ug_tensor *next;
        bool last = k == tr.steps - 1;
        if (last) {
            next = logr;
        } else {
            next = m->vt->log_flow(m->self, ctx, tr.states[k + 1], tr.start + k + 1);  // [B]
            if (!ugo_check_vec(ctx, next, B, who, "log_flow")) return ug_ctx_status(ctx);
            if (tr.mask) {
                ug_tensor *ends = ug_mul(ctx, mk, ug_rsub_scalar(ctx, tr.mask[k + 1], 1.0f));  // [B] 1 where x is reached
                next = ug_where(ctx, ends, logr, next);
            }
        }
        ug_tensor *delta = ug_sub(ctx, ug_add(ctx, lf, lpf), ug_add(ctx, next, lpb));  // [B]
        ug_tensor *sq = ug_square(ctx, delta);
        if (mk) sq = ug_mul(ctx, sq, mk);
        num = num ? ug_add(ctx, num, sq) : sq;
        if (mk) den = den ? ug_add(ctx, den, mk) : mk;
        lf = next;
    }
    ug_tensor *loss;
    if (tr.mask) {
        float taken = ug_item(ug_sum_all(ctx, den));
        if (!(taken > 0)) return ug_ctx_fail(ctx, UG_ERR_ARG, "%s: the mask marks no step as taken", who);
        loss = ug_mul_scalar(ctx, ug_sum_all(ctx, num), 1.0f / taken);
    } else {
        loss = ug_mul_scalar(ctx, ug_sum_all(ctx, num), 1.0f / (float)(B * tr.steps));
    }
    if (ug_ctx_status(ctx)) return ug_ctx_status(ctx);
    bool g = ug_set_grad_enabled(ctx, false);
    ugo_log(out, "logF0", ug_item(ug_mean_all(ctx, lf0)));
    ug_set_grad_enabled(ctx, g);
    return ugo_finish(ctx, loss, out, who);
}

static void *db_create(const ug_create_args *args, ug_error *err) {
    db *o = calloc(1, sizeof *o);
    if (!o) {
        ug_error_set(err, UG_ERR_NOMEM, "db: out of memory");
        return NULL;
    }
    o->explore = (float)ug_cfg_float(args->cfg, "explore", 0.0);
    o->inv_temp = (float)(1.0 / ug_cfg_float(args->cfg, "reward_temperature", 1.0));
    o->batch = ug_cfg_int(args->cfg, "batch", 0);
    if (!ugo_reward_from_data(args, "db", &o->data_reward, err)) {
        free(o);
        return NULL;
    }
    if (!(o->explore >= 0 && o->explore <= 1) || !isfinite(o->inv_temp)) {
        ug_error_set(err, UG_ERR_ARG, "db: explore must lie in [0, 1], reward_temperature > 0");
        free(o);
        return NULL;
    }
    return o;
}

static void db_destroy(void *self) { free(self); }

static uint32_t db_caps(const ug_cfg *cfg) { return UG_CAP_LOG_FLOW | ugo_reward_caps(cfg); }

static const ug_objective_vtable db_vt = {.size = sizeof(ug_objective_vtable), .loss = db_loss};

static const ug_plugin_desc db_desc = {
    UG_DESC_HEADER(UG_KIND_OBJECTIVE),
    .name = "db",
    .version = "0.1.0",
    .summary = "detailed balance on forward-sampled trajectories with a learned state flow and log F(x) = log R(x)",
    .params = db_params,
    .create = db_create,
    .destroy = db_destroy,
    .vtable = &db_vt,
    .required_caps = db_caps,
};

UG_PLUGIN_EXPORT(&db_desc)
