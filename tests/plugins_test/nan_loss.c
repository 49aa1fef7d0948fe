/* nan_loss.c — a test-only objective: a real loss (mean log P_F of forward samples, negated) that turns
 * into NaN from step `at` on, so the runner's handling of a non-finite loss can be tested end to end. */
#define UG_PLUGIN
#include "unigfn/plugin.h"

#include <math.h>
#include <stdlib.h>

typedef struct { int64_t at; } nan_loss;

static const ug_param_spec params[] = {
    {"at", UG_P_INT, "10", UG_P_MIN | UG_P_MAX, 0, UG_BOUND_STEPS, NULL, "first step whose loss is NaN"},
    {0},
};

static void *create(const ug_create_args *a, ug_error *err) {
    nan_loss *s = calloc(1, sizeof *s);
    if (!s) { ug_error_set(err, UG_ERR_NOMEM, "nan_loss: out of memory"); return NULL; }
    s->at = ug_cfg_int(a->cfg, "at", 10);
    return s;
}
static void destroy(void *self) { free(self); }

static ug_status loss(void *self, const ug_step_env *env, ug_loss_out *out) {
    nan_loss *s = self;
    const ug_model *m = env->model;
    ug_traj_req req = {.size = sizeof req, .batch = 8, .steps = -1, .flags = UG_TRAJ_NO_PB};
    ug_traj tr = {.size = sizeof tr};
    ug_status st = m->vt->sample_forward(m->self, env->ctx, env->rng, &req, &tr);
    if (st) return st;
    ug_tensor *sum = tr.log_pf[0];                      // [B]
    for (int k = 1; k < tr.steps; k++) sum = ug_add(env->ctx, sum, tr.log_pf[k]);
    ug_tensor *l = ug_neg(env->ctx, ug_mean_all(env->ctx, sum));  // []
    if (env->step >= s->at) l = ug_mul_scalar(env->ctx, l, NAN);
    out->loss = l;
    return ug_ctx_status(env->ctx);
}

static const ug_objective_vtable vt = {.size = sizeof vt, .loss = loss};
static const ug_plugin_desc desc = {
    UG_DESC_HEADER(UG_KIND_OBJECTIVE), .name = "nan_loss", .version = "1",
    .summary = "TEST ONLY: a loss that becomes NaN at a given step",
    .params = params, .create = create, .destroy = destroy, .vtable = &vt,
};
UG_PLUGIN_EXPORT(&desc)
