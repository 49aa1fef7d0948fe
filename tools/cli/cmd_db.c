/* cmd_db.c — `unigfn db merge OUT SHARD...`: join the database shards of a Slurm sweep, with their run
 * folders (run_carry.h).
 *
 * A failed merge leaves no database behind that was not there: every shard is checked (read-only)
 * before OUT is touched, so a missing or foreign shard merges nothing and creates nothing; OUT is created
 * here only when absent (O_EXCL, so a file that was there is never taken for ours) and removed again,
 * with its -wal and -shm, when a merge into it then fails. A pre-existing OUT is never removed: each
 * shard's merge is one transaction, so a failed one leaves it as it was. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "unigfn/host/run_carry.h"
#include "unigfn/host/run_lookup.h"
#include "unigfn/host/util.h"

static const char DB_USAGE[] =
    "usage: unigfn db merge OUT.db SHARD.db ...\n"
    "  copies every run of the shards into OUT (created if absent); a run already in OUT is\n"
    "  replaced only by a copy that is further along (FINISHED > FAILED/KILLED/CRASHED >\n"
    "  RUNNING > QUEUED) or newer, so merging twice changes nothing. Every shard is checked\n"
    "  first: if one is missing or not a unigfn database, nothing is merged or created.\n"
    "  Each run's folder (checkpoint, pictures: <shard's folder>/runs/ID) is copied with its row to\n"
    "  <OUT's folder>/runs/ID, so `sample`, `resume` and reports work on OUT.\n"
    "  Exit 0 merged, 1 a shard refused or a merge failed (a database this merge created is removed).\n"
    "examples:\n"
    "  unigfn db merge merged.db shards/job-0.db shards/job-1.db\n";

/* A shard that can be merged into out: a readable unigfn database other than out itself. */
static bool shard_ok(const char *shard, const char *out) {
    char a[PATH_MAX], b[PATH_MAX];
    if (realpath(shard, a) && realpath(out, b) && strcmp(a, b) == 0) {
        fprintf(stderr, "unigfn db merge: shard %s is the output database itself\n", shard);
        return false;
    }
    ug_store *st = NULL;
    ug_error err = {0};
    if (ug_store_open_as(shard, UG_STORE_READ, &st, &err)) {
        fprintf(stderr, "unigfn db merge: shard refused: %s\n", err.msg);
        return false;
    }
    ug_store_close(st);
    return true;
}

/* OUT and the files SQLite keeps beside it. */
static void remove_db(const char *path) {
    static const char *const ext[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < sizeof ext / sizeof *ext; i++) {
        char p[PATH_MAX + 16];
        snprintf(p, sizeof p, "%s%s", path, ext[i]);
        unlink(p);
    }
}

int cli_db(cli_env *env, int argc, char **argv) {
    (void)env;
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    for (int c; (c = cli_getopt(argc, argv, ":h", opts)) != -1;) {
        if (c == 'h') { fputs(DB_USAGE, stdout); return 0; }
        return cli_bad_option("db", c, argv, DB_USAGE);
    }
    argv = cli_operands(argc, argv, &argc);
    if (argc == 0) return cli_usage_error("db", DB_USAGE, "which subcommand? (unigfn db merge OUT SHARD...)");
    if (strcmp(argv[0], "merge") != 0) {
        char shown[160];
        return cli_usage_error("db", DB_USAGE, "unknown subcommand '%s' (the one there is: merge)",
                               ug_shown(argv[0], SIZE_MAX, shown, sizeof shown));
    }
    if (argc == 1) return cli_usage_error("db merge", DB_USAGE, "which database to merge into? (unigfn db merge OUT SHARD...)");
    if (argc == 2) return cli_usage_error("db merge", DB_USAGE, "no shards to merge into %s", argv[1]);
    const char *outp = argv[1];
    int bad = 0;
    for (int i = 2; i < argc; i++) bad += !shard_ok(argv[i], outp);
    if (bad) {
        fprintf(stderr, "unigfn db merge: nothing merged (%d of %d shard%s refused)\n", bad, argc - 2,
                argc - 2 == 1 ? "" : "s");
        return 1;
    }
    int fd = open(outp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    bool created = fd >= 0;
    if (fd >= 0) close(fd);
    else if (errno != EEXIST) {
        fprintf(stderr, "unigfn db merge: cannot create %s: %s\n", outp, strerror(errno));
        return 1;
    }
    ug_store *out = NULL;
    ug_error err = {0};
    int rc = 0;
    bool carry_failed = false;
    if (ug_store_open(outp, &out, &err)) {
        fprintf(stderr, "unigfn: %s\n", err.msg);
        rc = 1;
    }
    ug_merge_stats total = {0};
    for (int i = 2; out && i < argc; i++) {
        ug_merge_stats ms;
        if (ug_store_merge(out, argv[i], &ms, &err)) {
            fprintf(stderr, "unigfn db merge: %s\n", err.msg);
            rc = 1;
            err = (ug_error){0};
            if (created) break; /* it goes below: merging on into it would be lost work */
            continue;
        }
        printf("%s: %d added, %d replaced, %d unchanged; %lld metric rows copied\n", argv[i], ms.runs_added,
               ms.runs_replaced, ms.runs_kept, (long long)ms.metric_rows);
        total.runs_added += ms.runs_added;
        total.runs_replaced += ms.runs_replaced;
        total.runs_kept += ms.runs_kept;
        total.metric_rows += ms.metric_rows;
    }
    if (rc == 0 && argc > 3)
        printf("total: %d added, %d replaced, %d unchanged; %lld metric rows copied into %s\n", total.runs_added,
               total.runs_replaced, total.runs_kept, (long long)total.metric_rows, outp);
    /* The run folders once every row is in: each run's folder comes from the shard whose row it kept. A
     * folder that cannot be copied fails the command but keeps the merged rows (merging again retries). */
    int folders = 0;
    for (int i = 2; rc == 0 && i < argc; i++) {
        int n = 0;
        if (ug_run_carry_folders(out, outp, argv[i], &n, &err)) {
            fprintf(stderr, "unigfn db merge: %s (shard %s; the rows are merged: merging again copies it again)\n",
                    err.msg, argv[i]);
            err = (ug_error){0};
            carry_failed = true;
        }
        folders += n;
    }
    if (rc == 0) {
        char dir[PATH_MAX];
        ug_run_folder(outp, "", dir, sizeof dir);
        printf("%d run folder%s copied into %s\n", folders, folders == 1 ? "" : "s", dir);
    }
    ug_store_close(out);
    if (rc && created) {
        remove_db(outp);
        fprintf(stderr, "unigfn db merge: removed %s, which this merge had created\n", outp);
    }
    return rc || carry_failed ? 1 : 0;
}
