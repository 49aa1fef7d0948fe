/* cmd_resume.c — `unigfn resume RUN [--threads N]`: continue a run from its last checkpoint. */
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
    "  then not guaranteed bit-identical to an uninterrupted run)\n";

int cli_resume(cli_env *env, int argc, char **argv) {
    ug_run_opts o = {.db_path = env->db_path, .progress = -1};
    if (cli_wants_help(argc, argv)) { fputs(RESUME_USAGE, stdout); return 0; }
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--quiet") == 0) o.quiet = true;
        else if (strcmp(argv[i], "--plain") == 0) o.progress = 0;
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            if (!cli_int_arg_i("resume", "--threads", argv[++i], 1, 4096, &o.threads)) return 2;
        } else if (!o.resume_id && argv[i][0] != '-') o.resume_id = argv[i];
        else { fprintf(stderr, "unigfn resume: unexpected argument '%s'\n", argv[i]); return 2; }
    }
    if (!o.resume_id) { fputs(RESUME_USAGE, stderr); return 2; }
    return ug_run(&o, env->reg);
}
