/* cli.h — the subcommands of the `unigfn` command-line tool and what they share. */
#ifndef UG_CLI_H
#define UG_CLI_H

#include "loader.h"
#include "store.h"

typedef struct cli_env {
    const char *db_path;     /* --db, default results.db */
    ug_registry *reg;        /* plugins, scanned once at start */
} cli_env;

int cli_run(cli_env *env, int argc, char **argv);      /* run SPEC [k=v ...] */
int cli_resume(cli_env *env, int argc, char **argv);   /* resume RUN */
int cli_plugins(cli_env *env, int argc, char **argv);  /* plugins [NAME] */
int cli_ls(cli_env *env, int argc, char **argv);       /* ls */
int cli_show(cli_env *env, int argc, char **argv);     /* show RUN */
int cli_sample(cli_env *env, int argc, char **argv);   /* sample RUN -n N [-o FILE] */

/* Open the store or print why not (returns NULL). */
ug_store *cli_open_store(cli_env *env);

#endif
