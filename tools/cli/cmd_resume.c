/* cmd_resume.c — `unigfn resume RUN [--threads N]`: continue a run from its last checkpoint. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "unigfn/host/runner.h"

static const char RESUME_USAGE[] =
    "usage: unigfn resume RUN [--threads N] [--quiet] [--plain]\n"
    "  continue a run from its last checkpoint with the spec stored with it; a FINISHED run is left as\n"
    "  it is. A checkpoint of another run (or another database, or past the step the database records)\n"
    "  is refused, and so is a missing one once the run has recorded steps: nothing is changed then.\n"
    "  RUN is a run id or a unique prefix of one. --threads N:\n"
    "  continue on N CPU threads instead of the spec's (same run; recorded in its row; the result is\n"
    "  then not guaranteed bit-identical to an uninterrupted run)\n"
    "  Exit 0 finished (or FINISHED before), 1 failed or no such run, 130 interrupted again.\n"
    "examples:\n"
    "  unigfn resume RUN\n"
    "  unigfn resume RUN --threads 2 --plain\n";

int cli_resume(cli_env *env, int argc, char **argv) {
    ug_run_opts o = {.db_path = env->db_path, .progress = -1};
    enum { O_THREADS = 256, O_QUIET, O_PLAIN };
    static const struct option opts[] = {{"threads", required_argument, NULL, O_THREADS},
                                         {"quiet", no_argument, NULL, O_QUIET},
                                         {"plain", no_argument, NULL, O_PLAIN},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c;
    while ((c = cli_getopt(argc, argv, ":h", opts)) != -1) {
        switch (c) {
        case 'h': fputs(RESUME_USAGE, stdout); return 0;
        case O_QUIET: o.quiet = true; break;
        case O_PLAIN: o.progress = 0; break;
        case O_THREADS:
            if (!cli_int_arg_i("resume", "--threads", optarg, 1, 4096, &o.threads)) return 2;
            break;
        default: return cli_bad_option("resume", c, argv, RESUME_USAGE);
        }
    }
    int n;
    char **ops = cli_operands(argc, argv, &n);
    if (n == 0) return cli_usage_error("resume", RESUME_USAGE, "which run? (unigfn resume RUN; `unigfn ls` lists them)");
    if (n > 1) return cli_extra_operand("resume", RESUME_USAGE, "one RUN at a time", ops[1]);
    o.resume_id = ops[0];
    return ug_run(&o, env->reg);
}
