/* cmd_gc.c — `unigfn gc --mark-crashed`: RUNNING runs whose process died without a word become CRASHED.
 * A silent run whose process still holds its lease (run_lease.h) is alive, however old its heartbeat
 * (a long evaluation beats none): it is left RUNNING and named. */
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
    "  run's lease (it is alive); a later run or sweep restarts them\n";

int cli_gc(cli_env *env, int argc, char **argv) {
    bool mark = false;
    double stale = 300;
    if (cli_wants_help(argc, argv)) { fputs(GC_USAGE, stdout); return 0; }
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--mark-crashed") == 0) mark = true;
        else if (strcmp(argv[i], "--stale") == 0 && i + 1 < argc) {
            /* 'abc' once read as 0 s and marked every live run CRASHED */
            if (!cli_num_arg("gc", "--stale", "a number of seconds", argv[++i], 0, 1e9, &stale)) return 2;
        } else { mark = false; break; }
    }
    if (!mark) {
        fputs(GC_USAGE, stderr);
        return 2;
    }
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
