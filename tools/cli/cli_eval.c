/* cli_eval.c — see cli_eval.h. */
#include "cli_eval.h"

#include <string.h>

#include "unigfn/host/step.h"
#include "unigfn/metric.h"

int cli_eval_metrics(ug_experiment *ex, int64_t step, const char *only, const char *dir, FILE *out, const char *tool,
                     int *evaluated) {
    *evaluated = 0;
    for (int m = 0; m < ex->n_metrics; m++) {
        ug_metric_inst *mi = &ex->metrics[m];
        if (only && strcmp(mi->desc->name, only) != 0) continue;
        ug_metric_out mo;
        ug_error err = {0};
        if (ug_experiment_eval_metric(ex, m, step, dir, &mo, &err)) {
            fprintf(stderr, "%s: %s\n", tool, err.msg);
            return 1;
        }
        fprintf(out, "step %lld metric %d %s:", (long long)step, m, mi->desc->name);
        for (int i = 0; i < mo.n_values; i++) fprintf(out, "  %s%s %.6g", mi->prefix, mo.keys[i], mo.values[i]);
        for (int a = 0; a < mo.n_artifacts; a++) fprintf(out, "  [%s %s]", mo.artifact_kinds[a], mo.artifact_paths[a]);
        fprintf(out, "\n");
        fflush(out);  /* a long evaluation shows each metric as it is done */
        ++*evaluated;
    }
    return 0;
}
