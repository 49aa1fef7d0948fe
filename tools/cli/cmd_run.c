/* cmd_run.c — `unigfn run SPEC [key=value ...] [--from RUN | --init-from RUN]`: train one spec into the
 * database. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "unigfn/host/runner.h"

static const char RUN_USAGE[] =
    "usage: unigfn run SPEC [key=value ...] [--from RUN | --init-from RUN] [--force] [--quiet] [--plain]\n"
    "                  [--check] [--blas-core auto]\n"
    "  train one spec into the database; key=value overrides any flattened spec key, once (model.hidden=[64],\n"
    "  objective.0.lr=...). --from RUN: continue RUN's checkpoint (the same spec with fewer train.steps);\n"
    "  --init-from RUN: a new run from step 0 whose model parameters (only: not the optimizer state, the\n"
    "  step or plugin state) come from RUN's last checkpoint, for fine-tuning; every parameter must have\n"
    "  RUN's shape (else exit 2, nothing recorded). Its run id hashes the spec's id with RUN's, so it is never\n"
    "  the from-scratch run of the spec, and `unigfn show` names RUN. A FINISHED run is run again when a\n"
    "  plugin it was computed with changed since (its SHA-256, which `unigfn show` prints) or, for\n"
    "  --init-from, RUN's checkpoint did; the line that says so names it.\n"
    "  --force: run again although a FINISHED run of this spec exists; --check: validate only;\n"
    "  --plain: one progress line per log step (for logs). Exit 0 finished, 1 failed, 2 spec error,\n"
    "  130 interrupted (recorded KILLED with a checkpoint; `unigfn resume RUN` continues it).\n"
    "  --blas-core auto: when OpenBLAS runs kernels far below this CPU, measure the candidate cores as\n"
    "  `unigfn doctor` does and run on the fastest one whose results check out (re-executes with\n"
    "  OPENBLAS_CORETYPE set; the run row records it). Off unless given.\n";
int cli_run(cli_env *env, int argc, char **argv) {
    ug_run_opts o = {.db_path = env->db_path, .progress = -1};
    const char *overrides[256];
    bool blas_auto = false;
    if (cli_wants_help(argc, argv)) { fputs(RUN_USAGE, stdout); return 0; }
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--force") == 0) o.force = true;
        else if (strcmp(argv[i], "--quiet") == 0) o.quiet = true;
        else if (strcmp(argv[i], "--plain") == 0) o.progress = 0;
        else if (strcmp(argv[i], "--check") == 0) o.check_only = true;
        else if (strcmp(argv[i], "--from") == 0 && i + 1 < argc) o.from_id = argv[++i];
        else if (strcmp(argv[i], "--init-from") == 0 && i + 1 < argc) o.init_from = argv[++i];
        else if (strcmp(argv[i], "--blas-core") == 0 && i + 1 < argc) {
            if (strcmp(argv[++i], "auto") != 0) { fprintf(stderr, "unigfn run: --blas-core takes 'auto'\n"); return 2; }
            blas_auto = true;
        }
        else if (strchr(argv[i], '=') && o.spec_path) {
            if (o.n_overrides == 256) { fprintf(stderr, "unigfn run: too many overrides\n"); return 2; }
            overrides[o.n_overrides++] = argv[i];
        } else if (!o.spec_path && argv[i][0] != '-') o.spec_path = argv[i];
        else { fprintf(stderr, "unigfn run: unexpected argument '%s'\n", argv[i]); return 2; }
    }
    if (!o.spec_path) { fputs(RUN_USAGE, stderr); return 2; }
    if (o.from_id && o.init_from) {
        fprintf(stderr, "unigfn run: --from continues a run, --init-from starts a new one from its parameters: "
                        "give one of them\n");
        return 2;
    }
    o.overrides = overrides;
    if (blas_auto && !o.check_only) cli_blas_core_auto(env, "run", argc, argv); /* may re-execute */
    return ug_run(&o, env->reg);
}
