/* cli.h — the subcommands of the `unigfn` command-line tool (one cmd_<verb>.c each) and what they share
 * (cli_common.c). */
#ifndef UG_CLI_H
#define UG_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "unigfn/host/blas_info.h"
#include "unigfn/host/loader.h"
#include "unigfn/host/report_data.h"
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
int cli_report(cli_env *env, int argc, char **argv);   /* report table|curves|samples|html ... */
int cli_report_html(cli_env *env, int argc, char **argv);  /* report html OUT [...] (argv[0] is "html") */
int cli_export(cli_env *env, int argc, char **argv);   /* export RUN|--where ... --format csv|jsonl */
int cli_doctor(int argc, char **argv);                 /* doctor [--seconds S] [--threads N] (no store, no plugins) */
int cli_diff(cli_env *env, int argc, char **argv);     /* diff RUN RUN */
int cli_tag(cli_env *env, int argc, char **argv);      /* tag RUN [TAG ...] [--rm TAG ...] */
int cli_note(cli_env *env, int argc, char **argv);     /* note RUN [TEXT ...] */
int cli_rm(cli_env *env, int argc, char **argv);       /* rm RUN ... [--yes] [--force] */

/* ---- getopt_long for a command ----
 * A command gets its arguments after the command name; getopt_long wants a program name first, which
 * argv[-1] (the command name in main's argv) is: cli_getopt(argc, argv, ...) is getopt_long on them
 * with opterr off; shortopts must start with ':' (after a '+', which stops at the first operand), so
 * that a missing value returns ':'. cli_bad_option, given what it returned ('?' or ':'), prints
 * "unigfn CMD: unknown option '--x'" or "unigfn CMD: option '--metric' needs a value" and the usage on
 * stderr, and returns 2 for the command to return. After the loop the operands are
 * argv[optind - 1 .. argc - 1]. */
struct option;
int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts);
int cli_bad_option(const char *cmd, int c, char **argv, const char *usage);

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
