/* experiment.h — turning a resolved spec into live objects: dataset → model → objective terms →
 * optimizers → metrics, with every cross-check a spec can fail (host only).
 *
 * Building creates no run row and writes nothing, so every error here is a spec error (exit code 2)
 * that names the file:line:column and key it comes from. */
#ifndef UG_EXPERIMENT_H
#define UG_EXPERIMENT_H

#include "unigfn/host/loader.h"
#include "unigfn/host/spec.h"
#include "unigfn/host/checkpoint.h"
#include "unigfn/host/ema.h"
#include "unigfn/host/optim.h"
#include "unigfn/plugin.h"

#define UG_MAX_TERMS 8
#define UG_MAX_METRICS 16
#define UG_EX_MAX_OPTIMS 16

typedef struct ug_term {
    const ug_plugin_desc *desc;
    void *self;
    const ug_objective_vtable *vt;
    uint64_t update_mask;     /* groups this term's loss is backpropagated into */
    float weight;
    char label[64];           /* "tb", or "tb.1" when a plugin appears twice */
    /* schedule: runs at steps s with start <= s, (stop == 0 or s < stop) and s % every == phase */
    int64_t every, phase, start, stop;
} ug_term;

typedef struct ug_metric_inst {
    const ug_plugin_desc *desc;
    void *self;
    const ug_metric_vtable *vt;
    int64_t every;            /* 0 = train.eval_every */
    bool at_end_only;
    const char *prefix;       /* before each reported key */
} ug_metric_inst;

typedef struct ug_experiment {
    ug_spec *spec;
    ug_ctx *ctx;              /* the training context (step arena) */
    ug_params *params;
    uint64_t seed;
    int threads;
    ug_dataset data;
    const ug_plugin_desc *data_desc;
    ug_model model;
    const ug_plugin_desc *model_desc;
    int n_terms;
    ug_term terms[UG_MAX_TERMS];
    int n_metrics;
    ug_metric_inst metrics[UG_MAX_METRICS];
    int n_optims;             /* one per parameter group that some term updates */
    ug_optim optims[UG_EX_MAX_OPTIMS];
    int optim_group[UG_EX_MAX_OPTIMS];
    ug_ema ema[UG_EX_MAX_OPTIMS];     /* beside optims[k]; ema[k].shadow NULL when its `ema:` is 0 */
    int64_t steps, batch, eval_every, checkpoint_every, log_every;
    bool eval_at_end;
    double max_loss, max_grad_norm;   /* train.max_loss / max_grad_norm: the divergence guard; 0 = off */
} ug_experiment;

/* Random streams: every draw is keyed by (seed, stream, step), so a resumed run repeats exactly. */
enum {
    UG_STREAM_INIT = 1,
    UG_STREAM_DATA = 2,
    UG_STREAM_TERM = 16,      /* + term index */
    UG_STREAM_METRIC = 64,    /* + metric index */
    UG_STREAM_SAMPLE = 128,   /* `unigfn sample` */
};

/* The training step, metric evaluation and the random streams they draw from: step.h. */

/* Build everything from a loaded spec (taken over: freed with the experiment). */
ug_status ug_experiment_build(ug_experiment *ex, ug_spec *spec, ug_registry *reg, ug_error *err);
void ug_experiment_free(ug_experiment *ex);

/* Checkpoint: parameters, optimizer states, parameter averages (blob "ema.<group>"), the step reached
 * and plugin state blobs. `extra` (n_extra may be 0) are the caller's own named blobs, restored into
 * the same buffers on load (sizes must match; a blob marked optional that the file lacks is left
 * untouched, any other missing one is an error). */
ug_status ug_experiment_save(ug_experiment *ex, const char *path, int64_t step, const ug_ckpt_blob *extra,
                             int n_extra, ug_error *err);
ug_status ug_experiment_load(ug_experiment *ex, const char *path, int64_t *step, ug_ckpt_blob *extra,
                             int n_extra, ug_error *err);

/* `run --init-from`: the parameter values alone of the checkpoint at `path` (every group and parameter
 * must match by name and shape: UG_ERR_ARG naming the parameter and both shapes otherwise); the
 * optimizers, the plugins' state and the step stay as built, and the parameter averages restart at the
 * loaded values. *step receives the step the file was written at; `extra` as for ug_experiment_load. */
ug_status ug_experiment_init_params(ug_experiment *ex, const char *path, int64_t *step, ug_ckpt_blob *extra,
                                    int n_extra, ug_error *err);

/* Put the parameter averages (optimizers with `ema:`) in place of the trained values, or back: what
 * metrics see (ug_experiment_eval_metric does it itself) and what `sample` and reports draw from. */
void ug_experiment_use_ema(ug_experiment *ex, bool on);

/* "file:line:col: key" prefix for messages about a spec node. */
const char *ug_cfg_where(const ug_cfg *node, const char *key, char *buf, size_t cap);

#endif
