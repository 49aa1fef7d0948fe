/* cmd_show.c — `unigfn show RUN`: a run's status, tags, note, provenance (build, host, BLAS, and the
 * plugins and --init-from checkpoint it was computed from), resolved spec, artifacts and last metrics, with
 * unprintable bytes in the database's strings escaped (ug_shown_text) rather than sent to the terminal. */
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "unigfn/host/runner.h"
#include "unigfn/host/util.h"

/* A string of the database as the terminal may show it (ug_shown_text: unprintable bytes as \xNN). */
static const char *shown(const char *s, char *buf, size_t cap) { return s ? ug_shown_text(s, SIZE_MAX, buf, cap) : "-"; }

static int show_metric(void *user, const ug_metric_summary *m) {
    (void)user;
    char k[512];
    printf("  %-28s %-12.6g (step %lld)  min %-10.6g max %-10.6g n %lld\n", shown(m->key, k, sizeof k), m->last,
           (long long)m->last_step, m->min, m->max, (long long)m->n);
    return 0;
}

static int show_artifact(void *user, const ug_artifact_row *a) {
    (void)user;
    char k[64], p[4200];
    printf("  %-5s step %-8lld %s (%lld bytes)\n", shown(a->kind, k, sizeof k), (long long)a->step,
           shown(a->path, p, sizeof p), (long long)a->bytes);
    return 0;
}

/* One provenance row: kind, name, version, SHA-256 and the file, escaped like the rest. */
static int show_prov(void *user, const ug_provenance *p) {
    (void)user;
    char k[64], n[256], v[128], h[160], f[4200];
    printf("  %-10s %-16s %-8s sha256 %s  %s\n", shown(p->kind, k, sizeof k), shown(p->name, n, sizeof n),
           shown(p->version, v, sizeof v), shown(p->sha256, h, sizeof h), shown(p->path, f, sizeof f));
    return 0;
}

/* The stored spec, line by line, each line escaped like the rest. */
static void show_spec(const char *spec) {
    while (spec && *spec) {
        size_t n = strcspn(spec, "\n"), cap = 4 * n + 4;
        char *buf = malloc(cap);
        if (buf) fputs(ug_shown_text(spec, n, buf, cap), stdout);
        free(buf);
        if (spec[n] == '\n') fputc('\n', stdout), n++;
        spec += n;
    }
}

static const char SHOW_USAGE[] =
    "usage: unigfn show RUN\n"
    "  the run's status, tags and note, provenance (with each plugin's version, SHA-256 and file),\n"
    "  last metrics, artifacts and resolved spec. RUN is a run id or a unique prefix of one.\n"
    "examples:\n"
    "  unigfn show RUN\n";

int cli_show(cli_env *env, int argc, char **argv) {
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    for (int o; (o = cli_getopt(argc, argv, ":h", opts)) != -1;) {
        if (o == 'h') { fputs(SHOW_USAGE, stdout); return 0; }
        return cli_bad_option("show", o, argv, SHOW_USAGE);
    }
    int n;
    char **ops = cli_operands(argc, argv, &n);
    if (n == 0) return cli_usage_error("show", SHOW_USAGE, "which run? (unigfn show RUN; `unigfn ls` lists them)");
    if (n > 1) return cli_extra_operand("show", SHOW_USAGE, "one RUN at a time; `unigfn diff` compares two", ops[1]);
    ug_store *st = cli_open_store(env, UG_STORE_READ);
    if (!st) return 1;
    ug_error err = {0};
    char id[64];
    ug_run_record *r = NULL;
    if (cli_find_run(st, "show", env->db_path, ops[0], id, sizeof id)) {
        ug_store_close(st);
        return 1;
    }
    if (ug_store_get_run(st, id, &r, &err)) {
        fprintf(stderr, "unigfn show: %s\n", err.msg);
        ug_store_close(st);
        return 1;
    }
    char c[32], s[32], e[32], h[32];
    cli_fmt_time(r->created, c, sizeof c);
    cli_fmt_time(r->started, s, sizeof s);
    cli_fmt_time(r->ended, e, sizeof e);
    cli_fmt_time(r->heartbeat, h, sizeof h);
    char b1[160], b2[512], b3[UG_ERRMSG_MAX + 64], b4[160], b5[512], b6[512], b7[512];
    printf("run        %s\nexperiment %s\nstatus     %s\nstep       %lld\n", shown(r->id, b1, sizeof b1),
           shown(r->experiment, b2, sizeof b2), ug_run_status_name(r->status), (long long)r->step);
    if (r->error) printf("error      %s\n", shown(r->error, b3, sizeof b3));
    printf("tags       ");
    for (int i = 0; i < r->n_tags; i++) printf("%s%s", i ? ", " : "", shown(r->tags[i], b1, sizeof b1));
    printf("%s\n", r->n_tags ? "" : "-");
    if (r->note) {
        size_t cap = 4 * strlen(r->note) + 8;
        char *note = malloc(cap);
        if (note) printf("note       %s\n", shown(r->note, note, cap));
        free(note);
    }
    printf("created    %s\nstarted    %s\nended      %s\nheartbeat  %s\n", c, s, e, h);
    printf("seed       %lld\nthreads    %d\ngit        %s\nhost       %s\nbuild      %s\nblas       %s\n",
           (long long)r->seed, r->threads, shown(r->git_rev, b4, sizeof b4), shown(r->host, b5, sizeof b5),
           shown(r->build, b6, sizeof b6), shown(r->blas, b7, sizeof b7));
    if (r->init_from) {
        char b8[160];
        printf("init from  %s (parameters of its last checkpoint)\n", shown(r->init_from, b8, sizeof b8));
    }
    printf("provenance:\n");
    ug_store_provenance(st, id, show_prov, NULL, &err);
    printf("metrics (last):\n");
    ug_store_last_metrics(st, id, show_metric, NULL, &err);
    printf("artifacts:\n");
    ug_store_artifacts(st, id, show_artifact, NULL, &err);
    printf("resolved spec:\n");
    show_spec(r->spec);
    ug_run_record_free(r);
    ug_store_close(st);
    return 0;
}
