/* cli_common.c — what the subcommands share: -h detection, opening the store, time formatting, the
 * path of this binary. */
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

ug_store *cli_open_store(cli_env *env) {
    ug_store *st = NULL;
    ug_error err = {0};
    if (ug_store_open(env->db_path, &st, &err)) {
        fprintf(stderr, "unigfn: %s\n", err.msg);
        return NULL;
    }
    return st;
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
