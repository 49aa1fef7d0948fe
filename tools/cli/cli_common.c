/* cli_common.c — what the subcommands share: -h detection, opening the store, time formatting, the
 * path of this binary, and the check that what a command wrote reached its file. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "unigfn/host/util.h"

bool cli_wants_help(int argc, char **argv) {
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) return true;
    return false;
}

ug_store *cli_open_store(cli_env *env, ug_store_mode mode) {
    ug_store *st = NULL;
    ug_error err = {0};
    if (ug_store_open_as(env->db_path, mode, &st, &err)) {
        bool absent = mode != UG_STORE_CREATE && access(env->db_path, F_OK) != 0 && errno == ENOENT;
        fprintf(stderr, "unigfn: %s%s\n", err.msg,
                absent ? " (--db PATH names the database; `unigfn run` creates one)" : "");
        return NULL;
    }
    return st;
}

int cli_close_output(const char *cmd, FILE *f, const char *path) {
    if (!f) return 0;
    int e = 0;
    if (fflush(f) != 0) e = errno;
    bool bad = e != 0 || ferror(f);
    if (f != stdout && fclose(f) != 0 && !bad) {
        e = errno;
        bad = true;
    }
    if (!bad) return 0;
    fprintf(stderr, "unigfn%s%s: cannot write %s: %s\n", cmd ? " " : "", cmd ? cmd : "",
            f == stdout || !path ? "standard output" : path, e ? strerror(e) : "a write failed");
    return 1;
}

void cli_fmt_time(double t, char *buf, size_t cap) {
    if (t <= 0) { snprintf(buf, cap, "-"); return; }
    time_t tt = (time_t)t;
    struct tm tm;
    localtime_r(&tt, &tm);
    strftime(buf, cap, "%Y-%m-%d %H:%M:%S", &tm);
}

void cli_self_exe(char *out, size_t cap) {
    ssize_t n = readlink("/proc/self/exe", out, cap - 1);
    if (n <= 0) snprintf(out, cap, "/proc/self/exe");
    else out[n] = 0;
}

void cli_names_add(cli_names *ns, const char *name) {
    if (!name || cli_names_has(ns, name) || ns->n == CLI_NAMES_MAX) return;
    if ((ns->names[ns->n] = strdup(name))) ns->n++;
}

bool cli_names_has(const cli_names *ns, const char *name) {
    for (int k = 0; k < ns->n; k++)
        if (strcmp(ns->names[k], name) == 0) return true;
    return false;
}

void cli_names_free(cli_names *ns) {
    for (int k = 0; k < ns->n; k++) free(ns->names[k]);
    ns->n = 0;
}

static int add_metric_name(void *user, const ug_metric_summary *m) {
    cli_names_add(user, m->key);
    return 0;
}

void cli_metric_names(ug_store *st, const ug_rd_set *sel, cli_names *out) {
    ug_error err = {0};
    for (int i = 0; i < sel->n; i++) (void)ug_store_last_metrics(st, sel->runs[i].id, add_metric_name, out, &err);
}

void cli_unknown_name(const char *cmd, const char *what, const char *name, const cli_names *ns) {
    const char *near = ug_closest_name(name, (const char *const *)ns->names, ns->n);
    char shown[256], near_shown[256];
    ug_shown(name, SIZE_MAX, shown, sizeof shown);
    if (near)
        fprintf(stderr, "unigfn %s: %s '%s' (did you mean '%s'?)\n", cmd, what, shown,
                ug_shown(near, SIZE_MAX, near_shown, sizeof near_shown));
    else
        fprintf(stderr, "unigfn %s: %s '%s'\n", cmd, what, shown);
}
