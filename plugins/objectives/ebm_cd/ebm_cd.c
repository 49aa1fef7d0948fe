/* ebm_cd.c — EB-GFN's energy step (REPRODUCTION §3 (b), (c)): contrastive divergence for the model's
 * energy, log R(x) = -E(x), with negatives made by the GFlowNet's "back-and-forth" proposal.
 *
 * Proposal from a data point x (state index n = horizon): erase K coordinates with P_B
 * (sample_backward, K steps from x: x = u_n -> ... -> u_{n-K}), then rebuild them with P_F
 * (sample_forward, K steps from u_{n-K}: u_{n-K} = w_{n-K} -> ... -> w_n = x'). The reverse move
 * (x' -> x) erases from x' the rebuilt positions in reverse order (w_n -> ... -> w_{n-K}) and rebuilds
 * x along the erase path reversed (u_{n-K} -> ... -> u_n). Every term of both moves is already in the
 * two trajectories, because each records both policies per step:
 *     log q(x -> x') = Σ_k tb.log_pb[k] + Σ_k tf.log_pf[k]     (erase x with P_B, rebuild x' with P_F)
 *     log q(x' -> x) = Σ_k tf.log_pb[k] + Σ_k tb.log_pf[k]     (erase x' with P_B, rebuild x with P_F)
 *     log-ratio      = log R(x') - log R(x) + log q(x' -> x) - log q(x -> x')
 * (tb = the backward trajectory, tf = the forward one). x' is accepted with probability
 * sigmoid(log-ratio) (Barker's rule: detailed balance holds for any P_F, P_B with full support, since
 * path pairs and their reverses correspond one to one). All of this runs with grad mode off.
 *
 * Loss = -(mean log R(data) - mean log R(negatives)), the negatives being x' where accepted and x
 * elsewhere; its gradient reaches only the energy (spec it with `updates: [energy]`).
 * K grows linearly from 1 to the horizon over k_anneal_steps training steps, as the reference's lin_k:
 * K = clamp(floor(horizon * (step + 1) / k_anneal_steps), 1, horizon); `k` > 0 fixes it instead.
 * Logs: K, accept_rate. */
#define UG_PLUGIN
#include "unigfn/plugin.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const ug_param_spec ebm_schema[] = {
    {"k_anneal_steps", UG_P_INT, "100000", UG_P_MIN | UG_P_MAX, 0, UG_BOUND_STEPS, NULL,
     "steps over which K (coordinates erased and rebuilt) grows linearly from 1 to D; 0 = D at once"},
    {"k", UG_P_INT, "0", UG_P_MIN | UG_P_MAX, 0, UG_BOUND_COUNT, NULL, "fixed K instead of the schedule; 0 = use the schedule"},
    {NULL, 0, NULL, 0, 0, 0, NULL, NULL},
};

typedef struct ebm_cd {
    int64_t k_anneal, k_fixed;
} ebm_cd;

static void *ebm_create(const ug_create_args *a, ug_error *err) {
    if (!a || !a->model) {
        ug_error_set(err, UG_ERR_ARG, "ebm_cd: needs a model");
        return NULL;
    }
    const uint32_t need = UG_CAP_LOG_REWARD | UG_CAP_PARTIAL;
    if ((a->model->info.caps & need) != need) {
        ug_error_set(err, UG_ERR_UNSUPPORTED, "ebm_cd: model '%s' lacks %s", a->model->name ? a->model->name : "?",
                     (a->model->info.caps & UG_CAP_LOG_REWARD) ? "partial trajectories" : "log_reward (an energy)");
        return NULL;
    }
    ebm_cd *o = calloc(1, sizeof *o);
    if (!o) {
        ug_error_set(err, UG_ERR_NOMEM, "ebm_cd: no memory");
        return NULL;
    }
    o->k_anneal = ug_cfg_int(a->cfg, "k_anneal_steps", 100000);
    o->k_fixed = ug_cfg_int(a->cfg, "k", 0);
    return o;
}

static void ebm_destroy(void *self) { free(self); }

static int32_t k_at(const ebm_cd *o, int64_t step, int32_t n) {
    int64_t k;
    if (o->k_fixed > 0) k = o->k_fixed;
    else if (o->k_anneal <= 0) k = n;
    else k = (int64_t)floor((double)n * (double)(step + 1) / (double)o->k_anneal);
    return (int32_t)(k < 1 ? 1 : k > n ? n : k);
}

static ug_status fail_ctx(ug_ctx *ctx, const char *what) {
    ug_status st = ug_ctx_status(ctx);
    return st != UG_OK ? st : ug_ctx_fail(ctx, UG_ERR_INTERNAL, "ebm_cd: %s failed without a message", what);
}

/* Σ_k terms[k][b] into acc[b] with sign (terms are [B] tensors, possibly strided; tmp [B] host scratch). */
static ug_status accumulate(ug_ctx *ctx, double *acc, ug_tensor *const *terms, int steps, int64_t B, double sign,
                            float *tmp) {
    for (int k = 0; k < steps; k++) {
        ug_status st = ug_tensor_get(ctx, terms[k], tmp, B);
        if (st) return st;
        for (int64_t b = 0; b < B; b++) acc[b] += sign * (double)tmp[b];
    }
    return UG_OK;
}

static ug_status ebm_loss(void *self, const ug_step_env *env, ug_loss_out *out) {
    const ebm_cd *o = self;
    ug_ctx *ctx = env->ctx;
    const ug_model *model = env->model;
    const ug_model_vtable *vt = model->vt;
    ug_tensor *x = env->batch;  // [B, D]
    char sb[64];
    if (!x || x->ndim != 2 || x->shape[1] != model->info.space.dim)
        return ug_ctx_fail(ctx, UG_ERR_ARG, "ebm_cd: batch %s must be [B, %lld]",
                           x ? ug_shape_str(x, sb, sizeof sb) : "NULL", (long long)model->info.space.dim);
    const int64_t B = x->shape[0];
    const int32_t n = model->info.horizon;
    const int32_t K = k_at(o, env->step, n);

    ug_tensor *lr_data = vt->log_reward(model->self, ctx, x);  // [B], graph into the energy
    if (!lr_data) return fail_ctx(ctx, "log_reward(data)");

    const bool prev = ug_set_grad_enabled(ctx, false);
    ug_status st = UG_OK;
    ug_tensor *neg = NULL;
    double accepted = 0.0;
    do {
        ug_traj tb = {.size = sizeof tb}, tf = {.size = sizeof tf};
        ug_traj_req rb = {.size = sizeof rb, .start = x, .start_index = n, .steps = K};
        if ((st = vt->sample_backward(model->self, ctx, env->rng, &rb, &tb))) break;
        ug_traj_req rf = {.size = sizeof rf, .start = tb.first, .start_index = n - K, .steps = K,
                          .temperature = 1.0f};
        if ((st = vt->sample_forward(model->self, ctx, env->rng, &rf, &tf))) break;
        ug_tensor *xp = ug_contiguous(ctx, tf.last);                         // [B, D] x'
        ug_tensor *lr_xp = xp ? vt->log_reward(model->self, ctx, xp) : NULL;  // [B]
        /* host scratch, [B] each: the log-ratios, uniforms, log R(x) and log R(x'), one term, the choice */
        double *ratio = ug_arena_alloc(ctx, (size_t)B * sizeof(double));
        float *u = ug_arena_alloc(ctx, (size_t)B * 5 * sizeof(float));
        if (!lr_xp || !ratio || !u) {
            st = fail_ctx(ctx, "the back-and-forth proposal");
            break;
        }
        float *lx = u + B, *lxp = u + 2 * B, *tmp = u + 3 * B, *take = u + 4 * B;
        if ((st = ug_tensor_get(ctx, lr_data, lx, B)) || (st = ug_tensor_get(ctx, lr_xp, lxp, B))) break;
        for (int64_t b = 0; b < B; b++) ratio[b] = (double)lxp[b] - (double)lx[b];
        if ((st = accumulate(ctx, ratio, tf.log_pb, K, B, +1.0, tmp)) ||  // reverse: erase x' with P_B
            (st = accumulate(ctx, ratio, tb.log_pf, K, B, +1.0, tmp)) ||  // reverse: rebuild x with P_F
            (st = accumulate(ctx, ratio, tb.log_pb, K, B, -1.0, tmp)) ||  // forward: erase x with P_B
            (st = accumulate(ctx, ratio, tf.log_pf, K, B, -1.0, tmp)))    // forward: rebuild x' with P_F
            break;
        ug_rng_uniform(env->rng, u, B);
        for (int64_t b = 0; b < B; b++) {
            /* accept with sigmoid(r): u < 1 / (1 + e^-r); NaN rejects */
            bool acc = (double)u[b] < 1.0 / (1.0 + exp(-ratio[b]));
            accepted += acc;
            take[b] = acc ? 1.0f : 0.0f;
        }
        int64_t tshape[2] = {B, 1};
        neg = ug_where(ctx, ug_from_f32(ctx, take, 2, tshape), xp, x);  // [B, D]: x' where accepted, else x
        if (!neg) st = fail_ctx(ctx, "the negatives");
    } while (0);
    ug_set_grad_enabled(ctx, prev);
    if (st != UG_OK) return st;

    ug_tensor *lr_neg = vt->log_reward(model->self, ctx, neg);  // [B]
    ug_tensor *loss = ug_neg(ctx, ug_sub(ctx, ug_mean_all(ctx, lr_data), ug_mean_all(ctx, lr_neg)));  // []
    if (!loss) return fail_ctx(ctx, "the loss");
    out->loss = loss;
    out->n_logs = 2;
    out->log_keys[0] = "K";
    out->log_values[0] = K;
    out->log_keys[1] = "accept_rate";
    out->log_values[1] = accepted / (double)B;
    return UG_OK;
}

static uint32_t ebm_required_caps(const ug_cfg *cfg) {
    (void)cfg;
    return UG_CAP_LOG_REWARD | UG_CAP_PARTIAL;
}

static const ug_objective_vtable ebm_vtable = {
    .size = sizeof(ug_objective_vtable),
    .loss = ebm_loss,
    .save_state = NULL,
    .load_state = NULL,
};

static const ug_plugin_desc ebm_desc = {
    UG_DESC_HEADER(UG_KIND_OBJECTIVE),
    .name = "ebm_cd",
    .version = "1.0",
    .summary = "EB-GFN energy step: contrastive divergence with back-and-forth GFlowNet negatives (MH-corrected)",
    .params = ebm_schema,
    .create = ebm_create,
    .destroy = ebm_destroy,
    .vtable = &ebm_vtable,
    .required_caps = ebm_required_caps,
};

UG_PLUGIN_EXPORT(&ebm_desc)
