/* cli_run.c — `unigfn run SPEC [key=value ...] [--from RUN]` and `unigfn resume RUN`. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "runner.h"

int cli_run(cli_env *env, int argc, char **argv) {
    ug_run_opts o = {.db_path = env->db_path, .progress = -1};
    const char *overrides[256];
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--force") == 0) o.force = true;
        else if (strcmp(argv[i], "--quiet") == 0) o.quiet = true;
        else if (strcmp(argv[i], "--plain") == 0) o.progress = 0;
        else if (strcmp(argv[i], "--check") == 0) o.check_only = true;
        else if (strcmp(argv[i], "--from") == 0 && i + 1 < argc) o.from_id = argv[++i];
        else if (strchr(argv[i], '=') && o.spec_path) {
            if (o.n_overrides == 256) { fprintf(stderr, "unigfn run: too many overrides\n"); return 2; }
            overrides[o.n_overrides++] = argv[i];
        } else if (!o.spec_path && argv[i][0] != '-') o.spec_path = argv[i];
        else { fprintf(stderr, "unigfn run: unexpected argument '%s'\n", argv[i]); return 2; }
    }
    if (!o.spec_path) { fprintf(stderr, "usage: unigfn run SPEC [key=value ...] [--from RUN] [--force] [--quiet] [--plain] [--check]\n"); return 2; }
    o.overrides = overrides;
    return ug_run(&o, env->reg);
}

int cli_resume(cli_env *env, int argc, char **argv) {
    ug_run_opts o = {.db_path = env->db_path, .progress = -1};
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--quiet") == 0) o.quiet = true;
        else if (strcmp(argv[i], "--plain") == 0) o.progress = 0;
        else if (!o.resume_id) o.resume_id = argv[i];
        else { fprintf(stderr, "unigfn resume: unexpected argument '%s'\n", argv[i]); return 2; }
    }
    if (!o.resume_id) { fprintf(stderr, "usage: unigfn resume RUN\n"); return 2; }
    return ug_run(&o, env->reg);
}
