/* main.c — `unigfn`: dispatch to subcommands; plugins are scanned once here. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "unigfn/host/log.h"
#include "unigfn/host/runner.h"
#include "unigfn/host/util.h"
#include "unigfn/plugin.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: unigfn [--db PATH] COMMAND ...\n"
            "  run SPEC [key=value|+key=value|~key ...] [--from RUN] [--force] [--quiet] [--plain] [--check]\n"
            "                                                 train one spec (--check: validate only;\n"
            "                                                 --from: continue RUN's checkpoint, a run of\n"
            "                                                 the same spec with fewer train.steps);\n"
            "                                                 exit 0 finished, 1 failed,\n"
            "                                                 2 spec error, 130 interrupted\n"
            "  resume RUN [--threads N]                       continue a run from its last checkpoint\n"
            "  plugins [NAME]                                 list plugins, or one plugin's parameters\n"
            "  ls [--experiment E] [--tag T] [--metric K]     runs: status, steps, wall time, tags, note\n"
            "                                                 and the params that differ in an experiment\n"
            "  show RUN                                       resolved spec, status and last metrics\n"
            "  diff RUN_A RUN_B                               spec keys that differ and final metrics\n"
            "  tag RUN [TAG ...] [--rm TAG]                   add or remove tags (ls --tag TAG finds them)\n"
            "  note RUN [TEXT]                                replace the run's note\n"
            "  rm RUN ... [--yes] [--force]                   delete runs: rows and run folders (asks first)\n"
            "  sample RUN -n N [--seed S] [--decode] [-o FILE] samples from a trained model, one per line\n"
            "                                                 (--decode: 2-D points, or a PNG grid of images)\n"
            "  eval RUN [metrics...=V ...] [--only PLUGIN]    a run's metrics (or other metric settings) on\n"
            "                                                 its last checkpoint, printed; writes nothing\n"
            "  sweep SPEC [key=v1,v2 ...] [-j N] [--dry-run]  run every job of a sweep (skips FINISHED runs);\n"
            "        [--slurm [--slurm-opt OPT] [--slurm-wait]] --slurm: as a Slurm job array of shards\n"
            "  db merge OUT SHARD...                          merge database shards into OUT, no duplicates\n"
            "  gc --mark-crashed [--stale S]                  stale RUNNING runs become CRASHED\n"
            "  report table --rows K --cols K --metric M ...  ablation table (md, latex, csv) over seeds\n"
            "  report curves --metric M [-o curves.png]       metric against step, per run and group mean ± std\n"
            "  report samples RUN [-o samples.png]            a picture of the model's samples\n"
            "                                                 (pictures: .png, .svg or .pdf by the extension)\n"
            "  report html OUT [--table R:C:M ...]            a static web report: runs, curves, pictures, tables\n"
            "  export RUN|--where K=V ... [--format csv|jsonl] metric time series for other tools\n"
            "  --version                                      version, git revision, plugin ABI and build\n"
            "  doctor [--seconds S] [--threads N]             is the BLAS fast here? kernel, sgemm rates per\n"
            "                                                 OPENBLAS_CORETYPE, threads; exit 1 with advice\n"
            "Each command prints its options and examples with -h.\n"
            "RUN is a run id or a unique prefix of one. The database is results.db unless --db is given.\n"
            "Exit 0 done, 1 failed (no such run, I/O, a failed run), 2 usage or spec error, 130 interrupted\n"
            "(docs/cli.md has them per command).\n");
}

/* The library says everything through log.h; the CLI decides where it lands: what a run reports on
 * stdout (so it can be piped), errors, progress and messages on stderr. */
static void cli_sink(void *user, int channel, const char *text) {
    (void)user;
    FILE *f = channel == UG_OUT_REPORT ? stdout : stderr;
    fputs(text, f);
    fflush(f);
}

int main(int argc, char **argv) {
    ug_log_set_sink(cli_sink, NULL);
    cli_env env = {.db_path = "results.db"};
    /* --db may come anywhere; take it out of argv. */
    int n = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--db") == 0 && i + 1 == argc) { fprintf(stderr, "unigfn: --db needs a value\n"); return 2; }
        if (strcmp(argv[i], "--db") == 0) { env.db_path = argv[++i]; continue; }
        if (strncmp(argv[i], "--db=", 5) == 0) { env.db_path = argv[i] + 5; continue; }
        argv[++n] = argv[i];
    }
    argc = n + 1;
    if (argc >= 2 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0)) {
        ug_build_version v = ug_build_version_get();
        printf("unigfn %s (git %s; plugin ABI %d.%d; %s)\n", v.version, v.git_rev, UG_ABI_MAJOR, UG_ABI_MINOR, v.build);
        return 0;
    }
    /* doctor needs neither plugins nor the store (and its probes run many times: start fast). */
    if (argc >= 2 && strcmp(argv[1], "doctor") == 0) return cli_doctor(argc - 2, argv + 2);
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
        if (argc < 2) fprintf(stderr, "unigfn: which command? (the list follows; unigfn COMMAND -h for one)\n");
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    env.reg = ug_registry_new();
    ug_error err = {0};
    if (!env.reg || ug_registry_scan_default(env.reg, &err)) {
        fprintf(stderr, "unigfn: %s\n", err.code ? err.msg : "out of memory");
        ug_registry_free(env.reg); /* with the plugins loaded before the refused folder */
        return 1;
    }
    const char *cmd = argv[1];
    int rc;
    if (strcmp(cmd, "run") == 0) rc = cli_run(&env, argc - 2, argv + 2);
    else if (strcmp(cmd, "resume") == 0) rc = cli_resume(&env, argc - 2, argv + 2);
    else if (strcmp(cmd, "plugins") == 0) rc = cli_plugins(&env, argc - 2, argv + 2);
    else if (strcmp(cmd, "ls") == 0) rc = cli_ls(&env, argc - 2, argv + 2);
    else if (strcmp(cmd, "show") == 0) rc = cli_show(&env, argc - 2, argv + 2);
    else if (strcmp(cmd, "diff") == 0) rc = cli_diff(&env, argc - 2, argv + 2);
    else if (strcmp(cmd, "tag") == 0) rc = cli_tag(&env, argc - 2, argv + 2);
    else if (strcmp(cmd, "note") == 0) rc = cli_note(&env, argc - 2, argv + 2);
    else if (strcmp(cmd, "rm") == 0) rc = cli_rm(&env, argc - 2, argv + 2);
    else if (strcmp(cmd, "sample") == 0) rc = cli_sample(&env, argc - 2, argv + 2);
    else if (strcmp(cmd, "eval") == 0) rc = cli_eval(&env, argc - 2, argv + 2);
    else if (strcmp(cmd, "sweep") == 0) rc = cli_sweep(&env, argc - 2, argv + 2);
    else if (strcmp(cmd, "db") == 0) rc = cli_db(&env, argc - 2, argv + 2);
    else if (strcmp(cmd, "gc") == 0) rc = cli_gc(&env, argc - 2, argv + 2);
    else if (strcmp(cmd, "report") == 0) rc = cli_report(&env, argc - 2, argv + 2);
    else if (strcmp(cmd, "export") == 0) rc = cli_export(&env, argc - 2, argv + 2);
    else {
        static const char *const commands[] = {"run", "resume", "plugins", "ls", "show", "diff", "tag", "note", "rm",
                                               "sample", "eval", "sweep", "db", "gc", "report", "export", "doctor"};
        const char *near = ug_closest_name(cmd, commands, (int)(sizeof commands / sizeof commands[0]));
        char shown[160];
        fprintf(stderr, "unigfn: unknown command '%s'", ug_shown(cmd, SIZE_MAX, shown, sizeof shown));
        if (near) fprintf(stderr, " (did you mean '%s'?)", near);
        fputc('\n', stderr);
        usage(stderr);
        rc = 2;
    }
    ug_registry_free(env.reg);
    /* Whatever the command wrote to stdout must have arrived (a full disk, /dev/full, a closed pipe
     * under an ignored SIGPIPE): otherwise say so and fail, even when the command itself succeeded. */
    if (rc == 0 && cli_close_output(NULL, stdout, NULL)) rc = 1;  /* a failed command has said why already */
    return rc;
}
