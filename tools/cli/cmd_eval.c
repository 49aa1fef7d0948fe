/* cmd_eval.c — `unigfn eval RUN [metric overrides] [--only PLUGIN] [--dir DIR]`: the metrics of RUN's spec,
 * or other metric settings, evaluated on its last checkpoint and printed. Nothing is written to the
 * database and no run is made: it answers "what would the final NLL with 100 particles be" for a run
 * that is finished (or still going) without touching its record.
 *
 * Overrides may change `metrics` (any form: metrics.0.particles=100, 'metrics=[{plugin: mmd}]',
 * +metrics.2.plugin=nll, ~metrics.1) and `threads`, nothing else: a changed model or dataset would not be
 * this run's checkpoint any more. Each metric draws from the runner's own stream at the checkpoint's
 * step, so a metric evaluated here with the run's settings equals what the runner recorded at that step
 * (tests/test_eval_cli.sh checks it). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_eval.h"
#include "unigfn/host/util.h"

#define MAX_OVR 64

static const char USAGE[] =
    "usage: unigfn eval RUN [key=value | +key=value | ~key ...] [--only PLUGIN] [--dir DIR]\n"
    "  evaluate the metrics of RUN's spec on its last checkpoint and print one line per metric\n"
    "  (\"step S metric M NAME:  key value ...\"); nothing is written to the database.\n"
    "  Overrides change the metric settings only (metrics.0.particles=100, 'metrics=[{plugin: mmd}]',\n"
    "  ~metrics.1) or threads. --only PLUGIN: just the metrics of that plugin. --dir DIR: where metrics\n"
    "  that draw pictures write them (default: the current folder).\n"
    "  Exit 0 evaluated; 1 no such run, a metric failed, or --only names none of the run's metrics;\n"
    "  2 bad arguments or overrides.\n"
    "examples:\n"
    "  unigfn eval RUN metrics.0.particles=4 --only nll\n"
    "  unigfn eval RUN 'metrics=[{plugin: mmd_rbf, groups: 2, samples: 500}]'\n";

/* Whether override o names `metrics` (or a key under it) or `threads`. */
static bool allowed_override(const char *o) {
    const char *k = o[0] == '+' || o[0] == '~' ? o + 1 : o;
    size_t n = strcspn(k, "=");
    if (n == 7 && strncmp(k, "threads", 7) == 0) return true;
    return n >= 7 && strncmp(k, "metrics", 7) == 0 && (n == 7 || k[7] == '.');
}

/* --only names no metric of the spec: say which it has, and the closest. */
static void no_such_metric(const cli_loaded *r, const char *only) {
    const char *names[UG_MAX_METRICS];
    char list[512] = "";
    int n = 0;
    for (int m = 0; m < r->ex.n_metrics; m++) {
        const char *nm = r->ex.metrics[m].desc->name;
        bool seen = false;
        for (int k = 0; k < n && !seen; k++) seen = strcmp(names[k], nm) == 0;
        if (seen) continue;
        size_t l = strlen(list);
        snprintf(list + l, sizeof list - l, "%s%s", n ? ", " : "", nm);
        names[n++] = nm;
    }
    const char *near = ug_closest_name(only, names, n);
    char shown[96];
    ug_shown(only, strlen(only), shown, sizeof shown);
    fprintf(stderr, "unigfn eval: run %s has no metric '%s'%s%s%s (its metrics: %s)\n", r->id, shown, near ? " (did you mean '" : "",
            near ? near : "", near ? "'?)" : "", n ? list : "none");
}

int cli_eval(cli_env *env, int argc, char **argv) {
    const char *run = NULL, *only = NULL, *dir = ".", *ovr[MAX_OVR];
    int n_ovr = 0;
    enum { O_ONLY = 256, O_DIR };
    static const struct option opts[] = {{"only", required_argument, NULL, O_ONLY},
                                         {"dir", required_argument, NULL, O_DIR},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c;
    /* permuting keeps the overrides in their order (it matters: ~metrics.1 ~metrics.0) */
    while ((c = cli_getopt(argc, argv, ":h", opts)) != -1) {
        switch (c) {
        case 'h': fputs(USAGE, stdout); return 0;
        case O_ONLY: only = optarg; break;
        case O_DIR: dir = optarg; break;
        default: return cli_bad_option("eval", c, argv, USAGE);
        }
    }
    int n_ops;
    char **ops = cli_operands(argc, argv, &n_ops);
    if (n_ops == 0) return cli_usage_error("eval", USAGE, "which run? (an id or a unique prefix; `unigfn ls` lists them)");
    run = ops[0];
    for (int i = 1; i < n_ops; i++) {
        const char *a = ops[i];
        if (!strchr(a, '=') && a[0] != '~')
            return cli_extra_operand("eval", USAGE, "one RUN; overrides are key=value, +key=value or ~key", a);
        if (!allowed_override(a)) {
            char shown[160];
            ug_shown(a, strlen(a), shown, sizeof shown);
            fprintf(stderr, "unigfn eval: '%s' is not a metric setting: eval changes only metrics... and threads "
                    "(the model and data are the run's checkpoint)\n", shown);
            return 2;
        }
        if (n_ovr == MAX_OVR) { fprintf(stderr, "unigfn eval: too many overrides (at most %d)\n", MAX_OVR); return 2; }
        ovr[n_ovr++] = a;
    }
    cli_loaded r;
    int rc = cli_load_run(env, "eval", run, ovr, n_ovr, &r);
    if (rc) { cli_loaded_free(&r); return rc; }
    if (r.ex.n_metrics == 0) {
        fprintf(stderr, "unigfn eval: run %s has no metrics to evaluate; give some, e.g. 'metrics=[{plugin: nll}]'\n", r.id);
        cli_loaded_free(&r);
        return 2;
    }
    if (r.rec->status != UG_RUN_FINISHED || r.step != r.ex.steps)
        fprintf(stderr, "unigfn eval: run %s is %s: evaluating its last checkpoint, step %lld of %lld\n", r.id,
                ug_run_status_name(r.rec->status), (long long)r.step, (long long)r.ex.steps);
    int evaluated = 0;
    rc = cli_eval_metrics(&r.ex, r.step, only, dir, stdout, "unigfn eval", &evaluated);
    if (rc == 0 && evaluated == 0) {  /* a name the run lacks, as report's --metric: 1 (docs/cli.md) */
        no_such_metric(&r, only);
        rc = 1;
    }
    cli_loaded_free(&r);
    return rc;
}
