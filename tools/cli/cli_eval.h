/* cli_eval.h — a spec's metrics evaluated on a loaded checkpoint and printed, one line per metric: what
 * `unigfn eval RUN` (tools/cli/cmd_eval.c) and the diagnostic tools/diag/metric_at share, so both print
 * the same numbers in the same form. Needs only the host library (no store, no CLI state). */
#ifndef UG_CLI_EVAL_H
#define UG_CLI_EVAL_H

#include <stdint.h>
#include <stdio.h>

#include "unigfn/host/experiment.h"

/* Evaluate every metric of ex whose plugin is `only` (NULL: all, at_end_only ones too) at `step` with the
 * runner's own random streams (ug_experiment_eval_metric), artifacts written into `dir`, and print
 *     step S metric M NAME:  KEY VALUE  KEY VALUE ...  [KIND PATH]
 * on out (values with 6 significant digits, keys with the metric's prefix). *evaluated counts them. 0, or
 * 1 after printing "TOOL: why" on stderr for the first metric that fails. */
int cli_eval_metrics(ug_experiment *ex, int64_t step, const char *only, const char *dir, FILE *out, const char *tool,
                     int *evaluated);

#endif
