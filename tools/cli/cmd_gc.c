/* cmd_gc.c — `unigfn gc --mark-crashed`: RUNNING runs whose process died without a word become CRASHED.
 * A silent run whose process still holds its lease (run_lease.h) is alive, however old its heartbeat
 * (a long evaluation beats none): it is left RUNNING and named. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "unigfn/host/run_lease.h"
#include "unigfn/host/run_lookup.h"

typedef struct live_ctx {
    const char *db_path;
    char lines[64][600];  /* the runs left RUNNING, once each (the transaction may be retried) */
    char ids[64][64];
    int n, more;
} live_ctx;

static bool run_is_live(void *user, const char *id) {
    live_ctx *c = user;
    char folder[1024], who[480];
    ug_run_folder(c->db_path, id, folder, sizeof folder);
    int held = ug_run_lease_holder(folder, who, sizeof who);
    if (held == 0) return false;
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->ids[i], id) == 0) return true;
    if (c->n == 64) { c->more++; return true; }
    snprintf(c->ids[c->n], sizeof c->ids[c->n], "%s", id);
    if (held > 0)
        snprintf(c->lines[c->n], sizeof c->lines[c->n], "gc: run %s has no recent heartbeat but is alive (%s holds "
                 "its lease): left RUNNING", id, who);
    else  /* cannot tell: leave it, as marking a live run CRASHED is the worse mistake */
        snprintf(c->lines[c->n], sizeof c->lines[c->n], "gc: run %s: %s; left RUNNING", id, who);
    c->n++;
    return true;
}

static const char GC_USAGE[] =
    "usage: unigfn gc --mark-crashed [--stale SECONDS]\n"
    "  RUNNING runs whose last heartbeat is older than SECONDS (default 300; a live run\n"
    "  beats every 10 s between steps) become CRASHED, unless their process still holds the\n"
    "  run's lease (it is alive); a later run or sweep restarts them\n"
    "examples:\n"
    "  unigfn gc --mark-crashed\n"
    "  unigfn gc --mark-crashed --stale 3600\n";

int cli_gc(cli_env *env, int argc, char **argv) {
    bool mark = false;
    double stale = 300;
    enum { O_MARK = 256, O_STALE };
    static const struct option opts[] = {{"mark-crashed", no_argument, NULL, O_MARK},
                                         {"stale", required_argument, NULL, O_STALE},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    for (int c; (c = cli_getopt(argc, argv, ":h", opts)) != -1;) {
        switch (c) {
        case 'h': fputs(GC_USAGE, stdout); return 0;
        case O_MARK: mark = true; break;
        case O_STALE:
            /* 'abc' once read as 0 s and marked every live run CRASHED */
            if (!cli_num_arg("gc", "--stale", "a number of seconds", optarg, 0, 1e9, &stale)) return 2;
            break;
        default: return cli_bad_option("gc", c, argv, GC_USAGE);
        }
    }
    int n_ops;
    char **ops = cli_operands(argc, argv, &n_ops);
    if (n_ops) return cli_extra_operand("gc", GC_USAGE, "gc takes options only", ops[0]);
    /* the one thing gc does is asked for by name, so that `unigfn gc` alone changes nothing */
    if (!mark) return cli_usage_error("gc", GC_USAGE, "--mark-crashed is required (it is what gc does)");
    ug_store *st = cli_open_store(env, UG_STORE_WRITE);
    if (!st) return 1;
    ug_error err = {0};
    int n = 0;
    int rc = 0;
    live_ctx *live = calloc(1, sizeof *live);
    if (!live) { fprintf(stderr, "unigfn gc: out of memory\n"); ug_store_close(st); return 1; }
    live->db_path = env->db_path;
    if (ug_store_mark_crashed_unless(st, stale, run_is_live, live, &n, &err)) {
        fprintf(stderr, "unigfn gc: %s\n", err.msg);
        rc = 1;
    } else {
        for (int i = 0; i < live->n; i++) printf("%s\n", live->lines[i]);
        if (live->more) printf("gc: %d more live runs left RUNNING\n", live->more);
        printf("gc: %d RUNNING run%s with no heartbeat for %g s marked CRASHED in %s\n", n, n == 1 ? "" : "s", stale,
               env->db_path);
    }
    free(live);
    ug_store_close(st);
    return rc;
}
