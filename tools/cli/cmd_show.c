/* cmd_show.c — `unigfn show RUN`: a run's resolved spec, status, artifacts and last metrics. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "unigfn/host/runner.h"

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
    ug_store *st = cli_open_store(env, UG_STORE_READ);
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
    cli_fmt_time(r->created, c, sizeof c);
    cli_fmt_time(r->started, s, sizeof s);
    cli_fmt_time(r->ended, e, sizeof e);
    cli_fmt_time(r->heartbeat, h, sizeof h);
    printf("run        %s\nexperiment %s\nstatus     %s\nstep       %lld\n", r->id, r->experiment,
           ug_run_status_name(r->status), (long long)r->step);
    if (r->error) printf("error      %s\n", r->error);
    printf("created    %s\nstarted    %s\nended      %s\nheartbeat  %s\n", c, s, e, h);
    printf("seed       %lld\nthreads    %d\ngit        %s\nhost       %s\nbuild      %s\nblas       %s\n",
           (long long)r->seed, r->threads, r->git_rev ? r->git_rev : "-", r->host ? r->host : "-",
           r->build ? r->build : "-", r->blas ? r->blas : "-");
    printf("metrics (last):\n");
    ug_store_last_metrics(st, id, show_metric, NULL, &err);
    printf("artifacts:\n");
    ug_store_artifacts(st, id, show_artifact, NULL, &err);
    printf("resolved spec:\n%s", r->spec ? r->spec : "");
    ug_run_record_free(r);
    ug_store_close(st);
    return 0;
}
