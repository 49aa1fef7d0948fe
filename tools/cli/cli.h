/* cli.h — the subcommands of the `unigfn` command-line tool (one cmd_<verb>.c each) and what they share
 * (cli_common.c). */
#ifndef UG_CLI_H
#define UG_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "unigfn/host/loader.h"
#include "unigfn/host/store.h"

typedef struct cli_env {
    const char *db_path;     /* --db, default results.db */
    ug_registry *reg;        /* plugins, scanned once at start */
} cli_env;

/* True when an argument is -h or --help: the command then prints its usage to stdout and returns 0.
 * Commands whose arguments are free-form (a spec path, a run id) check this before parsing, so that
 * `unigfn show -h` is not taken for a run named "-h". */
bool cli_wants_help(int argc, char **argv);

int cli_run(cli_env *env, int argc, char **argv);      /* run SPEC [k=v ...] */
int cli_resume(cli_env *env, int argc, char **argv);   /* resume RUN */
int cli_plugins(cli_env *env, int argc, char **argv);  /* plugins [NAME] */
int cli_ls(cli_env *env, int argc, char **argv);       /* ls */
int cli_show(cli_env *env, int argc, char **argv);     /* show RUN */
int cli_sample(cli_env *env, int argc, char **argv);   /* sample RUN -n N [-o FILE] */
int cli_sweep(cli_env *env, int argc, char **argv);    /* sweep SPEC [AXIS ...] [-j N] [--dry-run] [--slurm] */
int cli_db(cli_env *env, int argc, char **argv);       /* db merge OUT SHARD... */
int cli_gc(cli_env *env, int argc, char **argv);       /* gc --mark-crashed */
int cli_report(cli_env *env, int argc, char **argv);   /* report table|curves|samples ... */
int cli_export(cli_env *env, int argc, char **argv);   /* export RUN|--where ... --format csv|jsonl */

/* Open the store or print why not (returns NULL). */
ug_store *cli_open_store(cli_env *env);

/* A unix time as local "YYYY-mm-dd HH:MM:SS", or "-" when unset (t <= 0). */
void cli_fmt_time(double t, char *buf, size_t cap);

#endif
