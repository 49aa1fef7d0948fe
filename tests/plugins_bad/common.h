/* common.h — a small, genuine objective (KL(P_B||P_F) from data) that the deliberately broken test
 * plugins wrap in faulty descriptors, so each one differs from a good plugin in exactly one way. */
#ifndef UG_TEST_BAD_COMMON_H
#define UG_TEST_BAD_COMMON_H

#define UG_PLUGIN
#include "unigfn/plugin.h"

#include <stdlib.h>

typedef struct kl_obj {
    float weight;
} kl_obj;

static void *kl_create(const ug_create_args *args, ug_error *err) {
    kl_obj *o = calloc(1, sizeof *o);
    if (!o) {
        ug_error_set(err, UG_ERR_NOMEM, "out of memory");
        return NULL;
    }
    o->weight = (float)ug_cfg_float(args->cfg, "scale", 1.0);
    return o;
}

static void kl_destroy(void *self) { free(self); }

/* mean over the batch of sum_k (log P_B - log P_F) along backward trajectories from the data. */
static ug_status kl_loss(void *self, const ug_step_env *env, ug_loss_out *out) {
    kl_obj *o = self;
    ug_traj_req req = {.size = sizeof req, .start = env->batch, .start_index = env->model->info.horizon,
                       .steps = -1};
    ug_traj t = {.size = sizeof t};
    ug_status s = env->model->vt->sample_backward(env->model->self, env->ctx, env->rng, &req, &t);
    if (s != UG_OK) return s;
    ug_tensor *acc = NULL;   // [B]
    for (int k = 0; k < t.steps; k++) {
        ug_tensor *d = ug_sub(env->ctx, t.log_pb[k], t.log_pf[k]);   // [B]
        if (t.mask) d = ug_mul(env->ctx, d, t.mask[k]);
        acc = acc ? ug_add(env->ctx, acc, d) : d;
    }
    if (!acc) return ug_ctx_fail(env->ctx, UG_ERR_ARG, "kl: trajectories have no steps");
    out->loss = ug_mul_scalar(env->ctx, ug_mean_all(env->ctx, acc), o->weight);   // []
    return ug_ctx_status(env->ctx);
}

static const ug_param_spec kl_params[] = {
    {"scale", UG_P_FLOAT, "1", UG_P_MIN | UG_P_MIN_OPEN, 0, 0, NULL, "multiplier of the loss"},
    {NULL, 0, NULL, 0, 0, 0, NULL, NULL},
};

static const ug_objective_vtable kl_vtable = {.size = sizeof(ug_objective_vtable), .loss = kl_loss};

#endif
