/* step.h — one training step and one metric evaluation of a built experiment, without store, folder
 * or printing: what the runner loops over, and what tools/bench and tools/diag call to measure or
 * reproduce exactly the runner's arithmetic (host only). */
#ifndef UG_STEP_H
#define UG_STEP_H

#include <stdbool.h>
#include <stdint.h>

#include "unigfn/host/experiment.h"

/* What one step's terms reported, for the runner's logging window. */
typedef struct ug_step_losses {
    bool ran[UG_MAX_TERMS];                           /* the term's schedule had it run at this step */
    double loss[UG_MAX_TERMS];                        /* each term's loss, before its weight */
    double total;                                     /* sum over terms of weight * loss */
    int n_logs[UG_MAX_TERMS];
    const char *log_keys[UG_MAX_TERMS][UG_LOSS_MAX_LOGS];  /* the plugins' static strings */
    double log_values[UG_MAX_TERMS][UG_LOSS_MAX_LOGS];
} ug_step_losses;

/* The random stream `stream` at training step `step`: (seed, stream, step) keys every draw, so a
 * resumed run repeats exactly. */
ug_rng ug_experiment_rng(const ug_experiment *ex, uint64_t stream, int64_t step);

/* Training step `step` (0-based): reset the step arena, draw the batch from the data stream, then
 * ug_step_terms on it. Any failure names the step and the term or dataset in `err`. */
ug_status ug_train_step(ug_experiment *ex, int64_t step, ug_step_losses *out, ug_error *err);

/* Does the term's schedule (every, phase, start, stop) have it run at `step`? */
bool ug_term_active(const ug_term *term, int64_t step);

/* Every objective term active at `step`, in spec order, on batch x ([B, ...], in the step arena): its
 * loss with only its `updates` groups as variables, backward into those groups, their optimizers'
 * steps and parameter averages, so a later term sees what an earlier one updated. A loss or gradient
 * norm beyond train.max_loss / max_grad_norm fails the step (the divergence guard). */
ug_status ug_step_terms(ug_experiment *ex, int64_t step, ug_tensor *x, ug_step_losses *out, ug_error *err);

/* Is metric m due after `step`? Periodic by its own `every` or train.eval_every; at the end when
 * train.eval_at_end (or the metric is at_end_only). */
bool ug_metric_due(const ug_experiment *ex, int m, int64_t step);

/* Metric m at `step`, as the runner records it: step arena reset, grad off, the metric's own stream,
 * parameter averages in place of the trained values where `ema:` is on.
 * Any failure is returned with its message in `err` (the metric named). */
ug_status ug_experiment_eval_metric(ug_experiment *ex, int m, int64_t step, const char *artifact_dir,
                                    ug_metric_out *out, ug_error *err);

#endif
