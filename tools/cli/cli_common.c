/* cli_common.c — what the subcommands share: -h detection, opening the store, time formatting, the
 * path of this binary, and the check that what a command wrote reached its file. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

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
