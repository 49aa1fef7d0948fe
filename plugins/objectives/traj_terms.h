/* traj_terms.h — small helpers the trajectory objectives (kl_tb, tb, db, tbc) share: summing a
 * trajectory batch's per-step terms, checking shapes and capabilities, and logging scalars.
 *
 * Header-only on purpose: every objective is its own shared module and must not link another, so
 * the helpers are static inline and compiled into each plugin that includes them. Include after
 * `#define UG_PLUGIN` and "unigfn/plugin.h". */
#ifndef UG_OBJ_TRAJ_TERMS_H
#define UG_OBJ_TRAJ_TERMS_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

/* t must be a one-dimensional [B] tensor. */
static inline bool ugo_is_vec(const ug_tensor *t, int64_t B) { return t && t->ndim == 1 && t->shape[0] == B; }

/* Fail the context unless the model provides `caps` (bits) and the matching vtable entries. */
static inline ug_status ugo_need_caps(const ug_step_env *env, uint32_t caps, const char *who) {
    const ug_model *m = env->model;
    for (uint32_t bit = 1; bit && bit <= caps; bit <<= 1) {
        if (!(caps & bit)) continue;
        bool fn = true;
        if (bit == UG_CAP_LOG_FLOW) fn = m->vt->log_flow != NULL;
        if (bit == UG_CAP_LOG_REWARD) fn = m->vt->log_reward != NULL;
        if (bit == UG_CAP_LOG_Z) fn = m->vt->log_z != NULL;
        if (bit == UG_CAP_LOG_PROB) fn = m->vt->log_prob != NULL;
        if (bit == UG_CAP_SCORE) fn = m->vt->score != NULL;
        if (bit == UG_CAP_STEP_KL) fn = m->vt->step_kl != NULL;  /* host copies of vtables are zero-padded */
        if (!ug_model_has(m, bit) || !fn)
            return ug_ctx_fail(env->ctx, UG_ERR_UNSUPPORTED, "%s: model '%s' does not provide capability '%s'", who,
                               m->name ? m->name : "?", ug_cap_name(bit));
    }
    return UG_OK;
}

/* `reward: model | data` of the reward-based objectives: which plugin's log R they train against. */
#define UGO_REWARD_PARAM                                                                                  \
    {"reward", UG_P_ENUM, "model", UG_P_ID_OPTIONAL, 0, 0, "model|data",                                  \
     "log R from the model (e.g. EB-GFN's energy) or from the dataset (a given target, paper §2.3)"}

/* Parse `reward:` at create time: true for data, which must then provide log_reward. */
static inline bool ugo_reward_from_data(const ug_create_args *a, const char *who, bool *data, ug_error *err) {
    *data = strcmp(ug_cfg_str(a->cfg, "reward", "model"), "data") == 0;
    if (*data && !(a->data && a->data->vt && a->data->vt->size > offsetof(ug_dataset_vtable, log_reward) &&
                   a->data->vt->log_reward)) {
        ug_error_set(err, UG_ERR_ARG, "%s: reward: data, but dataset '%s' gives no log_reward", who,
                     a->data && a->data->name ? a->data->name : "?");
        return false;
    }
    return true;
}

/* The model's reward capability, unless the reward comes from the dataset. */
static inline uint32_t ugo_reward_caps(const ug_cfg *cfg) {
    return strcmp(ug_cfg_str(cfg, "reward", "model"), "data") == 0 ? 0u : UG_CAP_LOG_REWARD;
}

/* log R(x) [B] from the model or the dataset; fails the context on a misshapen result. */
static inline ug_tensor *ugo_log_reward(const ug_step_env *env, bool data, ug_tensor *x, int64_t B, const char *who) {
    ug_tensor *r = data ? env->data->vt->log_reward(env->data->self, env->ctx, x)
                        : env->model->vt->log_reward(env->model->self, env->ctx, x);
    if (!ugo_is_vec(r, B)) {
        char b[64];
        if (!ug_ctx_status(env->ctx))
            ug_ctx_fail(env->ctx, UG_ERR_ARG, "%s: log_reward of the %s is %s, want [%lld]", who, data ? "dataset" : "model",
                        r ? ug_shape_str(r, b, sizeof b) : "missing", (long long)B);
        return NULL;
    }
    return r;
}

/* Fail the context unless the model can sample backward from data (the loader only insists on
 * info and sample_forward). */
static inline ug_status ugo_need_backward(const ug_step_env *env, const char *who) {
    if (env->model->vt->sample_backward) return UG_OK;
    return ug_ctx_fail(env->ctx, UG_ERR_UNSUPPORTED, "%s: model '%s' cannot sample backward (no sample_backward)", who,
                       env->model->name ? env->model->name : "?");
}

/* Sum over the steps of log P_F (pf = true) or log P_B, each step weighted by the trajectory's mask
 * when it has one: [B]. Fails the context on a missing or misshapen term. */
static inline ug_tensor *ugo_sum_steps(ug_ctx *ctx, const ug_traj *t, bool pf, const char *who) {
    char b[64];
    ug_tensor *acc = NULL;
    for (int k = 0; k < t->steps; k++) {
        ug_tensor *term = pf ? (t->log_pf ? t->log_pf[k] : NULL) : (t->log_pb ? t->log_pb[k] : NULL);
        if (!ugo_is_vec(term, t->batch)) {
            ug_ctx_fail(ctx, UG_ERR_ARG, "%s: log_%s[%d] of the trajectory batch is %s, want [%lld]", who,
                        pf ? "pf" : "pb", k, term ? ug_shape_str(term, b, sizeof b) : "missing", (long long)t->batch);
            return NULL;
        }
        if (t->mask && t->mask[k]) {
            if (!ugo_is_vec(t->mask[k], t->batch)) {
                ug_ctx_fail(ctx, UG_ERR_ARG, "%s: mask[%d] is %s, want [%lld]", who, k,
                            ug_shape_str(t->mask[k], b, sizeof b), (long long)t->batch);
                return NULL;
            }
            term = ug_mul(ctx, term, t->mask[k]);
        }
        acc = acc ? ug_add(ctx, acc, term) : term;
    }
    if (!acc) acc = ug_zeros(ctx, 1, &t->batch);  // zero steps: an empty sum
    return acc;  // [B]
}

/* Check a [B] capability output (log_reward, log_flow). */
static inline bool ugo_check_vec(ug_ctx *ctx, ug_tensor *v, int64_t B, const char *who, const char *what) {
    char b[64];
    if (ugo_is_vec(v, B)) return true;
    if (!ug_ctx_status(ctx))
        ug_ctx_fail(ctx, UG_ERR_ARG, "%s: %s returned %s, want [%lld]", who, what,
                    v ? ug_shape_str(v, b, sizeof b) : "NULL", (long long)B);
    return false;
}

/* The data batch [B, ...] this step, or a failure naming the objective. */
static inline ug_tensor *ugo_data(const ug_step_env *env, const char *who) {
    if (env->batch && env->batch->ndim >= 1 && env->batch->shape[0] > 0) return env->batch;
    ug_ctx_fail(env->ctx, UG_ERR_ARG, "%s: needs a data batch (env->batch) but the step has none", who);
    return NULL;
}

/* Batch size of a reward-driven term: `param` when set, else the data batch's rows. */
static inline int64_t ugo_batch(const ug_step_env *env, int64_t param, const char *who) {
    if (param > 0) return param;
    if (env->batch && env->batch->ndim >= 1 && env->batch->shape[0] > 0) return env->batch->shape[0];
    ug_ctx_fail(env->ctx, UG_ERR_ARG, "%s: no data batch to take the batch size from; set `batch`", who);
    return 0;
}

static inline void ugo_log(ug_loss_out *out, const char *key, double v) {
    if (out->n_logs >= UG_LOSS_MAX_LOGS) return;
    out->log_keys[out->n_logs] = key;
    out->log_values[out->n_logs++] = v;
}

/* The loss must be one finite-shaped element. */
static inline ug_status ugo_finish(ug_ctx *ctx, ug_tensor *loss, ug_loss_out *out, const char *who) {
    if (ug_ctx_status(ctx)) return ug_ctx_status(ctx);
    if (!loss || ug_numel(loss) != 1) return ug_ctx_fail(ctx, UG_ERR_INTERNAL, "%s: loss is not a scalar", who);
    out->loss = loss;
    return UG_OK;
}

#endif
