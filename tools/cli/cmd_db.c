/* cmd_db.c — `unigfn db merge OUT SHARD...`: join the database shards of a Slurm sweep. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char DB_USAGE[] =
    "usage: unigfn db merge OUT.db SHARD.db ...\n"
    "  copies every run of the shards into OUT (created if absent); a run already in OUT is\n"
    "  replaced only by a copy that is further along (FINISHED > FAILED/KILLED/CRASHED >\n"
    "  RUNNING > QUEUED) or newer, so merging twice changes nothing\n";
int cli_db(cli_env *env, int argc, char **argv) {
    (void)env;
    if (cli_wants_help(argc, argv)) { fputs(DB_USAGE, stdout); return 0; }
    if (argc < 3 || strcmp(argv[0], "merge") != 0) {
        fputs(DB_USAGE, stderr);
        return 2;
    }
    ug_store *out = NULL;
    ug_error err = {0};
    if (ug_store_open(argv[1], &out, &err)) {
        fprintf(stderr, "unigfn: %s\n", err.msg);
        return 1;
    }
    int rc = 0;
    ug_merge_stats total = {0};
    for (int i = 2; i < argc; i++) {
        ug_merge_stats ms;
        if (ug_store_merge(out, argv[i], &ms, &err)) {
            fprintf(stderr, "unigfn db merge: %s\n", err.msg);
            rc = 1;
            err = (ug_error){0};
            continue;
        }
        printf("%s: %d added, %d replaced, %d unchanged; %lld metric rows copied\n", argv[i], ms.runs_added,
               ms.runs_replaced, ms.runs_kept, (long long)ms.metric_rows);
        total.runs_added += ms.runs_added;
        total.runs_replaced += ms.runs_replaced;
        total.runs_kept += ms.runs_kept;
        total.metric_rows += ms.metric_rows;
    }
    if (argc > 3)
        printf("total: %d added, %d replaced, %d unchanged; %lld metric rows copied into %s\n", total.runs_added,
               total.runs_replaced, total.runs_kept, (long long)total.metric_rows, argv[1]);
    ug_store_close(out);
    return rc;
}
