/* cli_runs.c — `unigfn ls` and `unigfn show RUN`: reading runs back from the database. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "runner.h"

static void fmt_time(double t, char *buf, size_t cap) {
    if (t <= 0) { snprintf(buf, cap, "-"); return; }
    time_t tt = (time_t)t;
    struct tm tm;
    localtime_r(&tt, &tm);
    strftime(buf, cap, "%Y-%m-%d %H:%M:%S", &tm);
}

static int ls_row(void *user, const ug_run_row *r) {
    (void)user;
    char when[32];
    fmt_time(r->created, when, sizeof when);
    printf("%-16s  %-9s  %8lld  %s  %-28s", r->id, ug_run_status_name(r->status), (long long)r->step, when,
           r->experiment);
    if (r->has_metric) printf("  %.6g", r->metric_last);
    printf("\n");
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
    ug_store *st = cli_open_store(env);
    if (!st) return 1;
    printf("%-16s  %-9s  %8s  %-19s  %-28s  %s\n", "id", "status", "step", "created", "experiment", metric);
    ug_error err = {0};
    int rc = ug_store_list_runs(st, experiment, metric, ls_row, NULL, &err) ? 1 : 0;
    if (rc) fprintf(stderr, "unigfn: %s\n", err.msg);
    ug_store_close(st);
    return rc;
}

static int show_metric(void *user, const ug_metric_summary *m) {
    (void)user;
    printf("  %-28s %-12.6g (step %lld)  min %-10.6g max %-10.6g n %lld\n", m->key, m->last, (long long)m->last_step,
           m->min, m->max, (long long)m->n);
    return 0;
}

static int show_artifact(void *user, const ug_artifact_row *a) {
    (void)user;
    printf("  %-5s step %-8lld %s (%lld bytes)\n", a->kind, (long long)a->step, a->path, (long long)a->bytes);
    return 0;
}

int cli_show(cli_env *env, int argc, char **argv) {
    static const char usage[] = "usage: unigfn show RUN\n  the run's resolved spec, status, artifacts and last metrics\n";
    if (cli_wants_help(argc, argv)) { fputs(usage, stdout); return 0; }
    if (argc != 1) { fputs(usage, stderr); return 2; }
    ug_store *st = cli_open_store(env);
    if (!st) return 1;
    ug_error err = {0};
    char id[64];
    ug_run_record *r = NULL;
    if (ug_find_run(st, argv[0], id, sizeof id, &err) || ug_store_get_run(st, id, &r, &err)) {
        fprintf(stderr, "unigfn: %s\n", err.msg);
        ug_store_close(st);
        return 1;
    }
    char c[32], s[32], e[32], h[32];
    fmt_time(r->created, c, sizeof c);
    fmt_time(r->started, s, sizeof s);
    fmt_time(r->ended, e, sizeof e);
    fmt_time(r->heartbeat, h, sizeof h);
    printf("run        %s\nexperiment %s\nstatus     %s\nstep       %lld\n", r->id, r->experiment,
           ug_run_status_name(r->status), (long long)r->step);
    if (r->error) printf("error      %s\n", r->error);
    printf("created    %s\nstarted    %s\nended      %s\nheartbeat  %s\n", c, s, e, h);
    printf("seed       %lld\nthreads    %d\ngit        %s\nhost       %s\nbuild      %s\n", (long long)r->seed,
           r->threads, r->git_rev ? r->git_rev : "-", r->host ? r->host : "-", r->build ? r->build : "-");
    printf("metrics (last):\n");
    ug_store_last_metrics(st, id, show_metric, NULL, &err);
    printf("artifacts:\n");
    ug_store_artifacts(st, id, show_artifact, NULL, &err);
    printf("resolved spec:\n%s", r->spec ? r->spec : "");
    ug_run_record_free(r);
    ug_store_close(st);
    return 0;
}
