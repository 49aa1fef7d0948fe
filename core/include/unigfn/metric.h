/* metric.h — what a metric plugin provides: named scalars (and optional artifacts such as PNG files)
 * computed from the model and the dataset every `eval_every` steps. */
#ifndef UNIGFN_METRIC_H
#define UNIGFN_METRIC_H

#include "unigfn/dataset.h"
#include "unigfn/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ug_eval_env {
    uint32_t size;
    ug_ctx *ctx;              /* grad mode is off during evaluation */
    ug_rng *rng;              /* the metric's stream for this evaluation */
    const ug_model *model;
    const ug_dataset *data;
    int64_t step;
    const char *artifact_dir; /* where files may be written (exists) */
} ug_eval_env;

#define UG_METRIC_MAX_VALUES 8
#define UG_METRIC_MAX_ARTIFACTS 4

typedef struct ug_metric_out {
    uint32_t size;
    int n_values;
    const char *keys[UG_METRIC_MAX_VALUES];   /* static strings or owned by the metric */
    double values[UG_METRIC_MAX_VALUES];
    int n_artifacts;
    char artifact_paths[UG_METRIC_MAX_ARTIFACTS][512];
    const char *artifact_kinds[UG_METRIC_MAX_ARTIFACTS];   /* "png", "csv", ... */
} ug_metric_out;

typedef struct ug_metric_vtable {
    uint32_t size;
    ug_status (*evaluate)(void *self, const ug_eval_env *env, ug_metric_out *out);
} ug_metric_vtable;

#ifdef __cplusplus
}
#endif
#endif
