/* cmd_run.c — `unigfn run SPEC [key=value | +key=value | ~key ...] [--from RUN | --init-from RUN]`: train
 * one spec into the database. */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "unigfn/host/runner.h"
#include "unigfn/host/util.h"

static const char RUN_USAGE[] =
    "usage: unigfn run SPEC [key=value | +key=value | ~key ...] [--from RUN | --init-from RUN] [--force]\n"
    "                  [--quiet] [--plain] [--check] [--blas-core auto]\n"
    "  train one spec into the database; key=value sets any dotted spec key, once (model.hidden=[64],\n"
    "  objective.0.weight=0.5); +key=value adds a key the spec does not write (an error if it does);\n"
    "  ~key deletes one it writes (metrics, metrics.2, optim.forward.ema). Values may refer to other keys\n"
    "  as ${train.log_every}; the examples below show each form.\n"
    "  --from RUN: continue RUN's checkpoint (the same spec with fewer train.steps);\n"
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
    "  OPENBLAS_CORETYPE set; the run row records it). Off unless given.\n"
    "examples:\n"
    "  unigfn run experiments/smoke/first-run.yaml optim.forward.lr=3e-4 train.steps=4000\n"
    "  unigfn run experiments/smoke/first-run.yaml 'model.hidden=[64]' objective.0.weight=0.5 '~metrics.2' \\\n"
    "             '+train.eval_every=${train.log_every}' --check\n"
    "  unigfn run experiments/smoke/first-run.yaml '~optim.forward.ema' seed=1 --check\n"
    "  unigfn run experiments/smoke/first-run.yaml --init-from RUN train.steps=2000\n";

/* An operand after SPEC that is no override: a second spec, a misplaced run id. */
static bool is_override(const char *a) { return strchr(a, '=') || a[0] == '~'; }

int cli_run(cli_env *env, int argc, char **argv) {
    ug_run_opts o = {.db_path = env->db_path, .progress = -1};
    const char *overrides[256];
    bool blas_auto = false;
    enum { O_FROM = 256, O_INIT_FROM, O_BLAS, O_FORCE, O_QUIET, O_PLAIN, O_CHECK };
    static const struct option opts[] = {
        {"from", required_argument, NULL, O_FROM},   {"init-from", required_argument, NULL, O_INIT_FROM},
        {"blas-core", required_argument, NULL, O_BLAS}, {"force", no_argument, NULL, O_FORCE},
        {"quiet", no_argument, NULL, O_QUIET},       {"plain", no_argument, NULL, O_PLAIN},
        {"check", no_argument, NULL, O_CHECK},       {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int c;
    /* permuting: options may follow the overrides; key=value, +key=value and ~key never start with '-' */
    while ((c = cli_getopt(argc, argv, ":h", opts)) != -1) {
        switch (c) {
        case 'h': fputs(RUN_USAGE, stdout); return 0;
        case O_FROM: o.from_id = optarg; break;
        case O_INIT_FROM: o.init_from = optarg; break;
        case O_FORCE: o.force = true; break;
        case O_QUIET: o.quiet = true; break;
        case O_PLAIN: o.progress = 0; break;
        case O_CHECK: o.check_only = true; break;
        case O_BLAS:
            if (strcmp(optarg, "auto") != 0) {
                char shown[96];
                fprintf(stderr, "unigfn run: --blas-core takes 'auto', got '%s'\n", ug_shown(optarg, SIZE_MAX, shown, sizeof shown));
                return 2;
            }
            blas_auto = true;
            break;
        default: return cli_bad_option("run", c, argv, RUN_USAGE);
        }
    }
    int n_ops;
    char **ops = cli_operands(argc, argv, &n_ops);
    if (n_ops == 0) return cli_usage_error("run", RUN_USAGE, "which spec? (unigfn run SPEC [key=value ...])");
    o.spec_path = ops[0];
    for (int i = 1; i < n_ops; i++) {
        if (!is_override(ops[i]))
            return cli_extra_operand("run", RUN_USAGE, "one SPEC; overrides are key=value, +key=value or ~key", ops[i]);
        if (o.n_overrides == 256) { fprintf(stderr, "unigfn run: too many overrides (at most 256)\n"); return 2; }
        overrides[o.n_overrides++] = ops[i];
    }
    if (o.from_id && o.init_from)
        return cli_usage_error("run", NULL, "--from continues a run, --init-from starts a new one from its parameters: "
                                            "give one of them");
    o.overrides = overrides;
    if (blas_auto && !o.check_only) cli_blas_core_auto(env, "run", argc, argv); /* may re-execute */
    return ug_run(&o, env->reg);
}
