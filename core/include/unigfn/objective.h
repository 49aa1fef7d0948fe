/* objective.h — what an objective plugin provides: a loss for one training step, written against the
 * policy interface only. The runner backpropagates each loss into the parameter groups the spec lists
 * under `updates:` for that term and steps one optimizer per group. */
#ifndef UNIGFN_OBJECTIVE_H
#define UNIGFN_OBJECTIVE_H

#include "unigfn/dataset.h"
#include "unigfn/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Everything a loss may look at in one step. */
typedef struct ug_step_env {
    uint32_t size;
    ug_ctx *ctx;
    ug_rng *rng;              /* this term's stream for this step */
    const ug_model *model;
    const ug_dataset *data;
    ug_tensor *batch;         /* [B, D] training data for this step (shared by all terms) */
    int64_t step, total_steps;
    uint64_t update_mask;     /* groups this term updates (bit g = group g) */
} ug_step_env;

#define UG_LOSS_MAX_LOGS 8

typedef struct ug_loss_out {
    uint32_t size;
    ug_tensor *loss;                      /* one element; differentiated into update_mask */
    int n_logs;                           /* extra scalars to log, e.g. "logZ", "accept_rate" */
    const char *log_keys[UG_LOSS_MAX_LOGS];
    double log_values[UG_LOSS_MAX_LOGS];
} ug_loss_out;

typedef struct ug_objective_vtable {
    uint32_t size;
    ug_status (*loss)(void *self, const ug_step_env *env, ug_loss_out *out);
    /* Optional state beyond parameters (replay buffers, running baselines), saved with checkpoints. */
    ug_status (*save_state)(void *self, void **blob, size_t *bytes);
    ug_status (*load_state)(void *self, const void *blob, size_t bytes);
} ug_objective_vtable;

#ifdef __cplusplus
}
#endif
#endif
