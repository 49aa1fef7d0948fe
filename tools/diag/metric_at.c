/* metric_at.c — evaluate a spec's metrics on a run's checkpoint, outside the run: the final-budget
 * numbers (NLL with M = 100, MMD) of a run that is still going, or any metric at any saved step,
 * without touching the run or its database. A diagnostic for experiments/paper/analysis.md.
 *
 *   build/tools/metric_at SPEC CHECKPOINT [key=value ...] [--only PLUGIN] [--dir DIR]
 *
 * Overrides replace spec keys as in `unigfn run` (e.g. 'metrics=[{plugin: nll, particles: 100}]').
 * Each metric draws from the stream the runner would give it at the checkpoint's step
 * (seed, metric index, step), so a metric evaluated here at step S equals the runner's at S.
 * Metrics marked at_end_only are evaluated too. Artifacts (PNGs) go to --dir (default "."). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag_load.h"
#include "unigfn/metric.h"
#include "unigfn/rng.h"

#define MAX_OVR 32

int main(int argc, char **argv) {
    const char *spec_path = NULL, *ckpt = NULL, *only = NULL, *dir = ".", *ovr[MAX_OVR];
    const char *usage = "metric_at SPEC CHECKPOINT [key=value ...] [--only PLUGIN] [--dir DIR]";
    int n_ovr = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) only = argv[++i];
        else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) dir = argv[++i];
        else if (!spec_path) spec_path = argv[i];
        else if (!ckpt) ckpt = argv[i];
        else if (strchr(argv[i], '=') && n_ovr < MAX_OVR) ovr[n_ovr++] = argv[i];
        else {
            fprintf(stderr, "metric_at: usage: %s\n", usage);
            return 1;
        }
    }
    if (!spec_path || !ckpt) {
        fprintf(stderr, "metric_at: usage: %s\n", usage);
        return 1;
    }
    diag_run run;
    if (diag_load(&run, "metric_at", spec_path, ovr, n_ovr, ckpt)) return 1;
    ug_experiment *ex = &run.ex;
    int rc = 0, evaluated = 0;
    for (int m = 0; m < ex->n_metrics && rc == 0; m++) {
        ug_metric_inst *mi = &ex->metrics[m];
        if (only && strcmp(mi->desc->name, only) != 0) continue;
        ug_step_reset(ex->ctx);
        bool prev = ug_set_grad_enabled(ex->ctx, false);
        ug_rng r = ug_rng_make(ex->seed, ((UG_STREAM_METRIC + (uint64_t)m) << 40) | (uint64_t)run.step);
        ug_eval_env env = {.size = sizeof env, .ctx = ex->ctx, .rng = &r, .model = &ex->model,
                           .data = &ex->data, .step = run.step, .artifact_dir = dir};
        ug_metric_out out = {.size = sizeof out};
        ug_status s = mi->vt->evaluate(mi->self, &env, &out);
        ug_set_grad_enabled(ex->ctx, prev);
        if (s || ug_ctx_status(ex->ctx)) {
            fprintf(stderr, "metric_at: metric %d (%s): %s\n", m, mi->desc->name,
                    ug_ctx_status(ex->ctx) ? ug_ctx_errmsg(ex->ctx) : "evaluate() failed without a message");
            rc = 1;
            break;
        }
        printf("step %lld metric %d %s:", (long long)run.step, m, mi->desc->name);
        for (int i = 0; i < out.n_values; i++) printf("  %s%s %.6g", mi->prefix, out.keys[i], out.values[i]);
        for (int a = 0; a < out.n_artifacts; a++) printf("  [%s %s]", out.artifact_kinds[a], out.artifact_paths[a]);
        printf("\n");
        fflush(stdout);
        evaluated++;
    }
    if (rc == 0 && evaluated == 0) {
        fprintf(stderr, "metric_at: no metric%s%s in the spec\n", only ? " named " : "", only ? only : "");
        rc = 1;
    }
    diag_free(&run);
    return rc;
}
