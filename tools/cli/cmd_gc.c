/* cmd_gc.c — `unigfn gc --mark-crashed`: RUNNING runs whose process died without a word become CRASHED. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char GC_USAGE[] =
    "usage: unigfn gc --mark-crashed [--stale SECONDS]\n"
    "  RUNNING runs whose last heartbeat is older than SECONDS (default 300; a live run\n"
    "  beats every 10 s between steps) become CRASHED; a later run or sweep restarts them\n";

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
    if (ug_store_mark_crashed(st, stale, &n, &err)) {
        fprintf(stderr, "unigfn gc: %s\n", err.msg);
        rc = 1;
    } else {
        printf("gc: %d RUNNING run%s with no heartbeat for %g s marked CRASHED in %s\n", n, n == 1 ? "" : "s", stale,
               env->db_path);
    }
    ug_store_close(st);
    return rc;
}
