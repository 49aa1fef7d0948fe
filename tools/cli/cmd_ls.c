/* cmd_ls.c — `unigfn ls`: one line per run in the database (its strings with unprintable bytes escaped). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "unigfn/host/runner.h"
#include "unigfn/host/util.h"

static int ls_row(void *user, const ug_run_row *r) {
    (*(int *)user)++;
    char when[32], id[160], ex[512];  /* the database's strings, escaped for the terminal */
    cli_fmt_time(r->created, when, sizeof when);
    printf("%-16s  %-9s  %8lld  %s  %-28s", ug_shown_text(r->id, SIZE_MAX, id, sizeof id), ug_run_status_name(r->status),
           (long long)r->step, when, ug_shown_text(r->experiment, SIZE_MAX, ex, sizeof ex));
    if (r->has_metric) printf("  %.6g", r->metric_last);
    printf("\n");
    return 0;
}

static int add_experiment(void *user, const ug_run_row *r) {
    cli_names_add(user, r->experiment);
    return 0;
}

int cli_ls(cli_env *env, int argc, char **argv) {
    const char *metric = "loss", *experiment = NULL;
    static const char usage[] = "usage: unigfn ls [--metric KEY] [--experiment NAME]\n"
                                "  one line per run: id, status, step, start time, experiment, last value of KEY\n";
    if (cli_wants_help(argc, argv)) { fputs(usage, stdout); return 0; }
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--metric") == 0 && i + 1 < argc) metric = argv[++i];
        else if (strcmp(argv[i], "--experiment") == 0 && i + 1 < argc) experiment = argv[++i];
        else { fputs(usage, stderr); return 2; }
    }
    ug_store *st = cli_open_store(env, UG_STORE_READ);
    if (!st) return 1;
    printf("%-16s  %-9s  %8s  %-19s  %-28s  %s\n", "id", "status", "step", "created", "experiment", metric);
    ug_error err = {0};
    int rows = 0;
    int rc = ug_store_list_runs(st, experiment, metric, ls_row, &rows, &err) ? 1 : 0;
    if (rc) fprintf(stderr, "unigfn: %s\n", err.msg);
    else if (experiment && rows == 0) {   /* a misspelt name, not an empty experiment: say which exist */
        cli_names ns = {.n = 0};
        if (!ug_store_list_runs(st, NULL, metric, add_experiment, &ns, &err))
            cli_unknown_name("ls", "no run of experiment", experiment, &ns);
        cli_names_free(&ns);
        rc = 1;
    }
    ug_store_close(st);
    return rc;
}
