/* cli.h — the subcommands of the `unigfn` command-line tool (one cmd_<verb>.c each) and what they share
 * (cli_common.c). */
#ifndef UG_CLI_H
#define UG_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "unigfn/host/blas_info.h"
#include "unigfn/host/experiment.h"
#include "unigfn/host/loader.h"
#include "unigfn/host/report_data.h"
#include "unigfn/host/store.h"

typedef struct cli_env {
    const char *db_path;     /* --db, default results.db */
    ug_registry *reg;        /* plugins, scanned once at start */
} cli_env;

int cli_run(cli_env *env, int argc, char **argv);      /* run SPEC [k=v ...] */
int cli_resume(cli_env *env, int argc, char **argv);   /* resume RUN */
int cli_plugins(cli_env *env, int argc, char **argv);  /* plugins [NAME] */
int cli_ls(cli_env *env, int argc, char **argv);       /* ls */
int cli_show(cli_env *env, int argc, char **argv);     /* show RUN */
int cli_sample(cli_env *env, int argc, char **argv);   /* sample RUN -n N [--seed S] [--decode] [-o FILE] */
int cli_eval(cli_env *env, int argc, char **argv);     /* eval RUN [metric overrides] [--only PLUGIN] [--dir DIR] */
int cli_sweep(cli_env *env, int argc, char **argv);    /* sweep SPEC [AXIS ...] [-j N] [--dry-run] [--slurm] */
int cli_db(cli_env *env, int argc, char **argv);       /* db merge OUT SHARD... */
int cli_gc(cli_env *env, int argc, char **argv);       /* gc --mark-crashed */
int cli_report(cli_env *env, int argc, char **argv);   /* report table|curves|samples|html ... */
int cli_report_html(cli_env *env, int argc, char **argv);  /* report html OUT [...] (argv[0] is "html") */
int cli_export(cli_env *env, int argc, char **argv);   /* export RUN|--where ... --format csv|jsonl */
int cli_doctor(int argc, char **argv);                 /* doctor [--seconds S] [--threads N] (no store, no plugins) */
int cli_diff(cli_env *env, int argc, char **argv);     /* diff RUN RUN */
int cli_tag(cli_env *env, int argc, char **argv);      /* tag RUN [TAG ...] [--rm TAG ...] */
int cli_note(cli_env *env, int argc, char **argv);     /* note RUN [TEXT ...] */
int cli_rm(cli_env *env, int argc, char **argv);       /* rm RUN ... [--yes] [--force] */

/* ---- getopt_long for a command (docs/cli.md: the conventions every command follows) ----
 * A command gets its arguments after the command name; getopt_long wants a program name first, which
 * argv[-1] (the command name in main's argv) is: cli_getopt(argc, argv, ...) is getopt_long on them
 * with opterr off, restarted whenever it is given another vector. shortopts must start with ':' (after
 * a '+', which stops at the first operand: for commands whose operands may start with '-'), so that a
 * missing value returns ':'. Long options take `--opt value` and `--opt=value`; `--` ends the options.
 * Without '+' operands and options may come in any order (getopt moves the operands to the end), and
 * an operand such as key=value or model.x=-1 is never taken for an option, not starting with '-'.
 * Long-only options use values of 256 and up. After the loop cli_operands gives the operands.
 * cli_bad_option, given what getopt returned ('?' or ':'), prints why on stderr and returns 2 for the
 * command to return: "unigfn CMD: -n needs a value" (one line), or "unknown option '--x'" (with the
 * closest option: did you mean), "option '--s' is ambiguous: --seed, --stale" or "option '--force'
 * takes no value", each followed by the synopsis (cli_synopsis). */
struct option;
int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts);
int cli_bad_option(const char *cmd, int c, char **argv, const char *usage);
/* The operands left once cli_getopt has returned -1: *n of them from the pointer returned. */
char **cli_operands(int argc, char **argv, int *n);
/* A command line that does not say what the command needs (a missing or extra operand, a missing
 * required option, two options that exclude each other): "unigfn CMD: " and the reason on stderr's
 * first line, then the synopsis (cli_synopsis; none when usage is NULL); returns 2. */
int cli_usage_error(const char *cmd, const char *usage, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The synopsis of a usage text (its "usage:" line and the deeper-indented lines that continue it) on
 * stderr, and where the rest is: what follows the reason of a refused command line. */
void cli_synopsis(const char *cmd, const char *usage);
/* An operand too many: "unigfn CMD: unexpected argument 'ARG' (WHAT)", then the usage; returns 2. */
int cli_extra_operand(const char *cmd, const char *usage, const char *what, const char *arg);

/* Resolves RUN (an id or a unique prefix, ug_find_run) into id, or prints why not on stderr: "unigfn
 * CMD: no run 'X' in DB" with the closest id prefix (did you mean), or "... is ambiguous" with the ids
 * it names. 0 when found, 1 otherwise. */
int cli_find_run(ug_store *st, const char *cmd, const char *db_path, const char *run, char *id, size_t cap);

/* Opens the store in `mode` (*st; close it whatever this returns), resolves RUN (cli_find_run) and reads
 * the run; NULL, having said why on stderr, when any of that fails. */
ug_run_record *cli_open_run(cli_env *env, const char *cmd, ug_store_mode mode, const char *run, ug_store **st);

/* s (a string of the database) escaped for the terminal (ug_shown_text) and cut to at most `width`
 * characters, the last one then an ellipsis; into out. Returns out. */
const char *cli_fit(const char *s, size_t width, char *out, size_t cap);
/* Characters (not bytes) of UTF-8 text. */
size_t cli_width(const char *s);
/* A wall time as people read it: 0.4s, 12s, 3m04s, 1h02m; "-" when unknown (negative or NaN). */
void cli_fmt_duration(double seconds, char *buf, size_t cap);

/* ---- cli_args.c: the one strict parser of numeric arguments ----
 * The whole string is one base-10 number within [lo, hi] (no trailing junk, no overflow; numbers in
 * decimal notation only, finite). The *_arg forms print "unigfn CMD: OPT must be a whole number from
 * LO to HI, got 'S'" (or "must be WHAT, got 'S'") on refusal; the command then exits 2. */
typedef enum cli_parse { CLI_PARSE_OK = 0, CLI_PARSE_BAD, CLI_PARSE_RANGE } cli_parse;
cli_parse cli_parse_ll(const char *s, long long lo, long long hi, long long *out);
cli_parse cli_parse_double(const char *s, double lo, double hi, double *out);
bool cli_int_arg(const char *cmd, const char *opt, const char *s, long long lo, long long hi, long long *out);
bool cli_int_arg_i(const char *cmd, const char *opt, const char *s, int lo, int hi, int *out);
/* `what` is what the option is, e.g. "a number of seconds". */
bool cli_num_arg(const char *cmd, const char *opt, const char *what, const char *s, double lo, double hi,
                 double *out);

/* Open the store or print why not (returns NULL). Commands that only read pass UG_STORE_READ (never
 * creates, writes or upgrades the file; works in a read-only folder), gc UG_STORE_WRITE (an existing
 * database only), run and sweep UG_STORE_CREATE. */
ug_store *cli_open_store(cli_env *env, ug_store_mode mode);

/* Flush f (closing it unless it is stdout) and report a write error on it, now or earlier (ferror):
 * "unigfn CMD: cannot write PATH: No space left on device" on stderr and 1; 0 when all is written.
 * Every command's output goes through this at its end (main.c does stdout for all of them), so
 * `> /dev/full` or a full disk is an exit status, not a silent truncation. */
int cli_close_output(const char *cmd, FILE *f, const char *path);

/* The distinct names in a database a misspelt name is checked against: metric names the selected runs
 * logged, or experiment names (at most CLI_NAMES_MAX each). */
#define CLI_NAMES_MAX 512
typedef struct cli_names {
    char *names[CLI_NAMES_MAX];
    int n;
} cli_names;
void cli_names_add(cli_names *ns, const char *name);
bool cli_names_has(const cli_names *ns, const char *name);
void cli_names_free(cli_names *ns);
/* Every metric name logged by the runs of sel. */
void cli_metric_names(ug_store *st, const ug_rd_set *sel, cli_names *out);
/* "unigfn CMD: no selected run logged metric 'M'" (or `what` for another noun), with " (did you mean
 * 'X'?)" when a name in ns is close, on stderr; names escaped. */
void cli_unknown_name(const char *cmd, const char *what, const char *name, const cli_names *ns);

/* ---- cli_run_load.c: a run of the database as live objects (sample, eval) ---- */
typedef struct cli_loaded {
    ug_store *st;          /* open read-only */
    ug_run_record *rec;
    char id[64];
    ug_experiment ex;      /* built from the stored spec and the caller's overrides */
    bool built;
    char ckpt[1100];       /* runs/<id>/checkpoint.bin beside the database */
    int64_t step;          /* the step the checkpoint holds */
} cli_loaded;
/* Find `run` (an id or a unique prefix), build its stored spec with overrides ovr[0..n_ovr) and load its
 * last checkpoint, checked to be this run's. 0, or the exit status after printing "unigfn CMD: why"
 * (2 when an override breaks the spec, 1 otherwise). Free with cli_loaded_free in either case. */
int cli_load_run(cli_env *env, const char *cmd, const char *run, const char *const *ovr, int n_ovr, cli_loaded *out);
void cli_loaded_free(cli_loaded *r);

/* ---- cli_plugin_probe.c: `plugins NAME` beyond the schema ---- */
/* Prints the model capabilities an objective or metric requires, or the parameter groups and
 * capabilities a model has, with the defaults and with each boolean or choice parameter that changes
 * them (the model is built on the first installed dataset it accepts). Nothing for a dataset. */
void cli_show_plugin_needs(cli_env *env, const ug_plugin_desc *d);

/* A unix time as local "YYYY-mm-dd HH:MM:SS", or "-" when unset (t <= 0). */
void cli_fmt_time(double t, char *buf, size_t cap);

/* This very binary (/proc/self/exe), for re-executing it. */
void cli_self_exe(char *out, size_t cap);

/* ---- cli_blas.c: OpenBLAS kernel sets measured in child processes (doctor, --blas-core auto) ---- */
typedef struct cli_probe {
    const char *coretype; /* OPENBLAS_CORETYPE for the child; NULL = removed (OpenBLAS's own choice) */
    bool ran;             /* it printed a probe line */
    ug_blas_probe p;
    char why[96];         /* when it did not: "killed by signal 4 (Illegal instruction)", "exit 1", ... */
} cli_probe;
/* `unigfn doctor --probe --seconds S` in a child with c->coretype (and OPENBLAS_NUM_THREADS = threads
 * when > 0); fills c->ran, c->p, c->why. */
void cli_probe_run(cli_probe *c, double seconds, int threads);
/* It ran, got the core it asked for, and its results matched the reference. */
bool cli_probe_usable(const cli_probe *c);
/* The probe of c[0..n) to recommend (ug_blas_pick: the highest kernel set among the usable ones within
 * noise of the fastest), -1 when none; n <= UG_BLAS_MAX_CANDIDATES + 2. */
int cli_probe_best(const cli_probe *c, int n);
/* `--blas-core auto` of `cmd` (run, sweep): when the kernels in use are far below the CPU, re-executes
 * `unigfn --db DB cmd argv...` with OPENBLAS_CORETYPE set to the fastest verified candidate (and
 * UNIGFN_BLAS_CORE saying so, which the run rows record); returns when it keeps the process as it is. */
void cli_blas_core_auto(const cli_env *env, const char *cmd, int argc, char **argv);

#endif
