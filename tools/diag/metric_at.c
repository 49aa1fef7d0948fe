/* metric_at.c — evaluate a spec's metrics on a run's checkpoint, outside the run: the final-budget
 * numbers (NLL with M = 100, MMD) of a run that is still going, or any metric at any saved step,
 * without touching the run or its database. A diagnostic for experiments/paper/analysis.md.
 *
 *   build/tools/metric_at SPEC CHECKPOINT [key=value ...] [--only PLUGIN] [--dir DIR]
 *
 * Overrides replace spec keys as in `unigfn run` (e.g. 'metrics=[{plugin: nll, particles: 100}]').
 * Each metric is evaluated by the runner's own ug_experiment_eval_metric at the checkpoint's step
 * (its stream keyed by seed, metric index and step), so a metric evaluated here at step S equals the
 * runner's at S.
 * Metrics marked at_end_only are evaluated too. Artifacts (PNGs) go to --dir (default ".").
 *
 * For a run in a results database `unigfn eval RUN [metric overrides]` does the same on the run's own
 * stored spec and last checkpoint, through the same evaluation and printing (tools/cli/cli_eval.c);
 * this tool stays for a spec and checkpoint outside any database (a checkpoint of an earlier step, a
 * copied file), which experiments/paper/sample2d.py relies on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../cli/cli_eval.h"
#include "diag_load.h"

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
        else if ((strchr(argv[i], '=') || argv[i][0] == '~') && n_ovr < MAX_OVR) ovr[n_ovr++] = argv[i];
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
    int evaluated = 0;
    int rc = cli_eval_metrics(&run.ex, run.step, only, dir, stdout, "metric_at", &evaluated);
    if (rc == 0 && evaluated == 0) {
        fprintf(stderr, "metric_at: no metric%s%s in the spec\n", only ? " named " : "", only ? only : "");
        rc = 1;
    }
    diag_free(&run);
    return rc;
}
