/* cmd_rm.c — `unigfn rm RUN ... [--yes] [--force]`: deletes runs, their rows in the database
 * (ug_store_delete_run) and their folders (<dir of the db>/runs/<id>, ug_run_folder).
 *
 * Nothing is deleted until every RUN is found and none is refused; a person then confirms on a terminal
 * (y/N), and without one `--yes` must say so (exit 2 otherwise: a script must not hang on a prompt
 * nobody sees). A run whose lease a live process holds (run_lease.h: it is being run or resumed) is
 * refused unless --force. While a run is deleted this process holds its lease, so a `run` or `resume`
 * of it cannot start half-way; the folder goes first, then the rows, so that a deletion cut off half
 * way leaves a row that `rm` can delete again, never a folder nothing points at. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* nftw */
#endif
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "unigfn/host/run_lease.h"
#include "unigfn/host/run_lookup.h"
#include "unigfn/host/util.h"

#define MAX_RUNS 1024

typedef struct rm_run {
    char id[64];
    char folder[4200];
    bool has_folder;
    bool live;            /* a live process holds its lease (only with --force) */
    ug_run_record *r;
} rm_run;

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    if (remove(path) != 0 && errno != ENOENT) {
        char shown[4300];
        fprintf(stderr, "unigfn rm: cannot remove %s: %s\n", ug_shown(path, SIZE_MAX, shown, sizeof shown),
                strerror(errno));
        return -1;
    }
    return 0;
}

/* The tree at `path`, not following symbolic links (a link in a run folder is removed, not its target). */
static int rm_tree(const char *path) { return nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1; }

/* The runs not being deleted that continue one that is (run --from records from_run = "<id>@<step>"):
 * their rows stay, but the artifact rows they took over name files in the folder that goes. */
static void warn_dependents(ug_store *st, const rm_run *runs, int n);

typedef struct ids { char (*id)[64]; int n, cap; } ids;
static int add_id(void *user, const ug_run_row *row) {
    ids *l = user;
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        void *v = realloc(l->id, (size_t)cap * sizeof *l->id);
        if (!v) return 1;
        l->id = v, l->cap = cap;
    }
    snprintf(l->id[l->n++], sizeof l->id[0], "%s", row->id);
    return 0;
}

static void warn_dependents(ug_store *st, const rm_run *runs, int n) {
    ids all = {0};
    ug_error err = {0};
    (void)ug_store_list_runs(st, NULL, NULL, add_id, &all, &err);
    for (int i = 0; i < all.n; i++) {
        bool going = false;
        for (int k = 0; k < n && !going; k++) going = strcmp(runs[k].id, all.id[i]) == 0;
        ug_run_record *r = NULL;
        if (going || ug_store_get_run(st, all.id[i], &r, &err)) continue;
        for (int p = 0; p < r->n_params; p++) {
            if (strcmp(r->param_keys[p], "from_run") != 0 || !r->param_values[p]) continue;
            for (int k = 0; k < n; k++) {
                size_t l = strlen(runs[k].id);
                if (strncmp(r->param_values[p], runs[k].id, l) == 0 && r->param_values[p][l] == '@')
                    fprintf(stderr, "unigfn rm: note: run %s continues run %s (run --from); it stays, but the "
                                    "artifacts it took over are files of %s, which go\n",
                            r->id, runs[k].id, runs[k].folder);
            }
        }
        ug_run_record_free(r);
    }
    free(all.id);
}

/* y or yes (any case) on stdin. */
static bool confirmed(void) {
    char line[64];
    if (!fgets(line, sizeof line, stdin)) return false;
    line[strcspn(line, "\r\n")] = 0;
    return strcasecmp(line, "y") == 0 || strcasecmp(line, "yes") == 0;
}

int cli_rm(cli_env *env, int argc, char **argv) {
    static const char usage[] =
        "usage: unigfn rm RUN ... [--yes] [--force]\n"
        "  deletes the runs: their rows in the database (params, metrics, summaries, artifacts, tags) and\n"
        "  their run folders. Asks first on a terminal; --yes (-y) deletes without asking, and is needed\n"
        "  when standard input is not a terminal. A run a live process is running or resuming is refused;\n"
        "  --force deletes it anyway (that process then fails at its next write). Exit 1 when a run is not\n"
        "  in the database, is refused, or the answer is not yes (nothing is deleted then).\n"
        "examples:\n"
        "  unigfn rm RUN --yes\n";
    static const struct option opts[] = {{"yes", no_argument, NULL, 'y'}, {"force", no_argument, NULL, 'f'},
                                         {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    bool yes = false, force = false;
    int c;
    while ((c = cli_getopt(argc, argv, ":hyf", opts)) != -1) {
        switch (c) {
        case 'y': yes = true; break;
        case 'f': force = true; break;
        case 'h': fputs(usage, stdout); return 0;
        default: return cli_bad_option("rm", c, argv, usage);
        }
    }
    int n_ops;
    char **ops = cli_operands(argc, argv, &n_ops);
    if (n_ops < 1) return cli_usage_error("rm", usage, "which runs? (RUN is a run id or a unique prefix of one)");
    if (n_ops > MAX_RUNS) {
        fprintf(stderr, "unigfn rm: at most %d runs at once\n", MAX_RUNS);
        return 2;
    }
    if (!yes && !isatty(STDIN_FILENO)) {
        fprintf(stderr, "unigfn rm: standard input is not a terminal, so nobody can confirm the deletion; "
                        "pass --yes to delete without asking\n");
        return 2;
    }
    ug_store *st = cli_open_store(env, UG_STORE_WRITE);
    if (!st) return 1;
    rm_run *runs = calloc((size_t)n_ops, sizeof *runs);
    int n = 0, rc = runs ? 0 : 1;
    if (!runs) fprintf(stderr, "unigfn rm: out of memory\n");
    ug_error err = {0};
    /* 1. every run found, and none refused, before anything is deleted */
    for (int i = 0; rc == 0 && i < n_ops; i++) {
        rm_run *x = &runs[n];
        if (cli_find_run(st, "rm", env->db_path, ops[i], x->id, sizeof x->id)) { rc = 1; break; }
        bool dup = false;
        for (int k = 0; k < n && !dup; k++) dup = strcmp(runs[k].id, x->id) == 0;
        if (dup) continue;
        if (ug_store_get_run(st, x->id, &x->r, &err)) {
            fprintf(stderr, "unigfn rm: %s\n", err.msg);
            rc = 1;
            break;
        }
        n++;
        ug_run_folder(env->db_path, x->id, x->folder, sizeof x->folder);
        struct stat sb;
        x->has_folder = lstat(x->folder, &sb) == 0;
        if (!x->has_folder) continue;
        char who[512];
        int held = ug_run_lease_holder(x->folder, who, sizeof who);
        if (held == 0) continue;
        if (force) {
            x->live = true;
            fprintf(stderr, "unigfn rm: warning: run %s is %s by %s; deleting it anyway (--force)\n", x->id,
                    x->r->status == UG_RUN_RUNNING ? "RUNNING" : "held", held > 0 ? who : "a process that cannot be told");
            continue;
        }
        if (held > 0)
            fprintf(stderr, "unigfn rm: run %s is %s: %s holds its lease (%s/lock); stop that process first (on "
                            "SIGTERM it records KILLED), or pass --force to delete it anyway\n",
                    x->id, x->r->status == UG_RUN_RUNNING ? "RUNNING" : "being resumed or run", who, x->folder);
        else
            fprintf(stderr, "unigfn rm: run %s: cannot tell whether a process holds its lease (%s); pass --force "
                            "to delete it anyway\n", x->id, who);
        rc = 1;
    }
    if (rc == 0) warn_dependents(st, runs, n);
    /* 2. a person says yes */
    if (rc == 0 && !yes) {
        fprintf(stderr, "delete %d run%s from %s, with %s:\n", n, n == 1 ? "" : "s", env->db_path,
                n == 1 ? "its folder" : "their folders");
        for (int i = 0; i < n; i++) {
            char ex[160], dur[32];
            double end = runs[i].r->ended > 0 ? runs[i].r->ended : runs[i].r->heartbeat;
            cli_fmt_duration(runs[i].r->started > 0 && end > 0 ? end - runs[i].r->started : -1, dur, sizeof dur);
            fprintf(stderr, "  %s  %-8s  %-24s  step %lld  %s  %s\n", runs[i].id, ug_run_status_name(runs[i].r->status),
                    cli_fit(runs[i].r->experiment, 24, ex, sizeof ex), (long long)runs[i].r->step, dur,
                    runs[i].has_folder ? runs[i].folder : "(no folder)");
        }
        fprintf(stderr, "delete? [y/N] ");
        fflush(stderr);
        if (!confirmed()) {
            fprintf(stderr, "unigfn rm: nothing deleted\n");
            rc = 1;
        }
    }
    /* 3. each run: its lease taken, its folder, then its rows */
    for (int i = 0; rc == 0 && i < n; i++) {
        rm_run *x = &runs[i];
        ug_run_lease lease = {.fd = -1};
        if (x->has_folder && !x->live && ug_run_lease_take(&lease, x->folder, x->id, &err)) {
            fprintf(stderr, "unigfn rm: %s\n", err.msg);
            rc = 1;
            break;
        }
        if (x->has_folder && rm_tree(x->folder) != 0) {
            fprintf(stderr, "unigfn rm: run %s: its folder %s is not all removed; its rows stay, so `unigfn rm %s` "
                            "can finish once the cause is gone\n", x->id, x->folder, x->id);
            rc = 1;
        } else if (ug_store_delete_run(st, x->id, &err)) {
            fprintf(stderr, "unigfn rm: %s\n", err.msg);
            rc = 1;
        } else {
            printf("deleted run %s%s%s\n", x->id, x->has_folder ? " and " : " (it had no folder)",
                   x->has_folder ? x->folder : "");
        }
        ug_run_lease_release(&lease);
    }
    for (int i = 0; runs && i < n; i++) ug_run_record_free(runs[i].r);
    free(runs);
    ug_store_close(st);
    return rc;
}
