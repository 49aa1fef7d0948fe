/* tbc.c — trajectory-balance consistency (paper Eq. 22): for each data row x, trajectories tau, tau'
 * ~ P_B(.|x) and
 *     loss = mean ( log P_F(tau)/P_B(tau|x) - log P_F(tau')/P_B(tau'|x) )^2 .
 * A trained GFlowNet has P_F(tau)/P_B(tau|x) = R(x)/Z for every tau ending in x, so the squared
 * difference vanishes without knowing R. With `updates: [backward]` it trains phi: by Prop. 14 the
 * expected gradient of one pair's loss is 4 grad_phi KL(P_B(.|x) || P_F) (the sampling of tau is not
 * differentiated; the score-function part comes out of the square). This is Algorithm 1's step 5.
 * `pairs` draws that many independent pairs per row (all 2 * pairs * B trajectories in one call).
 * Logs "log_ratio" (mean log P_F/P_B over all trajectories) and "log_ratio_sd" = sqrt(loss / 2), the
 * within-x spread of the log-ratio. */
#define UG_PLUGIN
#include "unigfn/plugin.h"

#include <math.h>
#include <stdlib.h>

#include "../traj_terms.h"

typedef struct tbc {
    int pairs;
} tbc;

static const ug_param_spec tbc_params[] = {
    {"pairs", UG_P_INT, "1", UG_P_MIN | UG_P_MAX, 1, 64, NULL, "independent (tau, tau') pairs per data row"},
    {NULL, 0, NULL, 0, 0, 0, NULL, NULL},
};

static ug_status tbc_loss(void *self, const ug_step_env *env, ug_loss_out *out) {
    tbc *o = self;
    ug_ctx *ctx = env->ctx;
    const ug_model *m = env->model;
    const char *who = "tbc";
    ug_tensor *x = ugo_data(env, who);  // [B, ...]
    if (!x || ugo_need_backward(env, who)) return ug_ctx_status(ctx);
    const int64_t B = x->shape[0], half = (int64_t)o->pairs * B;
    /* Rows: copy c of x occupies [c B, (c+1) B); tau uses copies 0..pairs-1, tau' the rest. */
    ug_tensor *copies[128];
    for (int c = 0; c < 2 * o->pairs; c++) copies[c] = x;
    ug_tensor *xx = ug_concat(ctx, copies, 2 * o->pairs, 0);  // [2 pairs B, ...]
    if (!xx) return ug_ctx_status(ctx);
    ug_traj tr = {.size = sizeof tr};
    ug_traj_req req = {.size = sizeof req, .start = xx, .start_index = m->info.horizon, .steps = -1};
    ug_status st = m->vt->sample_backward(m->self, ctx, env->rng, &req, &tr);
    if (st) return ug_ctx_status(ctx) ? ug_ctx_status(ctx) : ug_ctx_fail(ctx, st, "%s: sample_backward failed", who);
    if (tr.batch != 2 * half)
        return ug_ctx_fail(ctx, UG_ERR_ARG, "%s: sample_backward returned %lld rows for %lld", who, (long long)tr.batch,
                           (long long)(2 * half));
    ug_tensor *lpf = ugo_sum_steps(ctx, &tr, true, who);   // [2 half]
    ug_tensor *lpb = ugo_sum_steps(ctx, &tr, false, who);  // [2 half]
    if (!lpf || !lpb) return ug_ctx_status(ctx);
    ug_tensor *r = ug_sub(ctx, lpf, lpb);                                                   // [2 half]
    ug_tensor *d = ug_sub(ctx, ug_slice(ctx, r, 0, 0, half), ug_slice(ctx, r, 0, half, half));  // [half]
    ug_tensor *loss = ug_mean_all(ctx, ug_square(ctx, d));
    if (ug_ctx_status(ctx)) return ug_ctx_status(ctx);
    bool g = ug_set_grad_enabled(ctx, false);
    ugo_log(out, "log_ratio", ug_item(ug_mean_all(ctx, r)));
    ugo_log(out, "log_ratio_sd", sqrt(ug_item(loss) / 2.0));
    ug_set_grad_enabled(ctx, g);
    return ugo_finish(ctx, loss, out, who);
}

static void *tbc_create(const ug_create_args *args, ug_error *err) {
    /* One trajectory per x (autoregressive, flows): tau = tau' always, so the loss is 0 and trains nothing. */
    if (args && args->model && args->model->info.deterministic_pb) {
        ug_error_set(err, UG_ERR_UNSUPPORTED, "tbc: model '%s' has a deterministic P_B (one trajectory per x), so tau = tau' "
                     "and the loss is identically 0", args->model->name ? args->model->name : "?");
        return NULL;
    }
    tbc *o = calloc(1, sizeof *o);
    if (!o) {
        ug_error_set(err, UG_ERR_NOMEM, "tbc: out of memory");
        return NULL;
    }
    o->pairs = (int)ug_cfg_int(args->cfg, "pairs", 1);
    if (o->pairs < 1 || o->pairs > 64) {
        ug_error_set(err, UG_ERR_ARG, "tbc: pairs %d outside [1, 64]", o->pairs);
        free(o);
        return NULL;
    }
    return o;
}

static void tbc_destroy(void *self) { free(self); }

static const ug_objective_vtable tbc_vt = {.size = sizeof(ug_objective_vtable), .loss = tbc_loss};

static const ug_plugin_desc tbc_desc = {
    UG_DESC_HEADER(UG_KIND_OBJECTIVE),
    .name = "tbc",
    .version = "0.1.0",
    .summary = "trajectory-balance consistency (Eq. 22): trains P_B from pairs of backward trajectories of data",
    .params = tbc_params,
    .create = tbc_create,
    .destroy = tbc_destroy,
    .vtable = &tbc_vt,
};

UG_PLUGIN_EXPORT(&tbc_desc)
