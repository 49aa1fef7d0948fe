/* runner.h — one training run end to end: spec → experiment → run row → train/eval/checkpoint loop →
 * final status, with signals and failures recorded in the store (host only). */
#ifndef UG_RUNNER_H
#define UG_RUNNER_H

#include <stdbool.h>

#include "unigfn/host/loader.h"
#include "unigfn/host/run_lookup.h"
#include "unigfn/host/store.h"

/* Process exit codes of `unigfn run` / `resume`. */
enum { UG_EXIT_OK = 0, UG_EXIT_FAILED = 1, UG_EXIT_SPEC = 2, UG_EXIT_INTERRUPTED = 130 };

typedef struct ug_run_opts {
    const char *spec_path;            /* run: the spec file */
    const char *const *overrides;     /* key=value */
    int n_overrides;
    const char *resume_id;            /* resume: the run id (or unique prefix) instead of a spec */
    const char *db_path;              /* default results.db */
    bool force;                       /* re-run a FINISHED run */
    bool check_only;                  /* validate and build, print the run id, write nothing */
    int progress;                     /* -1 auto (terminal), 0 plain lines, 1 progress line */
    bool quiet;
    const char *from_id;              /* run: start from this run's checkpoint (run_from.h) */
    const char *init_from;            /* run: parameters only from this run's last checkpoint (run_init.h) */
    int threads;                      /* resume: > 0 continues on this many CPU threads, not the spec's */
} ug_run_opts;

/* Runs and returns the process exit code; messages go to stderr. */
int ug_run(const ug_run_opts *opts, ug_registry *reg);

/* The signal policy of a run (runner.c): SIGINT, SIGTERM, SIGHUP and SIGPIPE set a flag the training
 * loop polls (a second INT/TERM/HUP ends the process; SIGPIPE is ignored after the first); SIGXFSZ is
 * ignored so an oversized write fails with EFBIG. ug_signal_seen: the first such signal, or 0. */
void ug_signals_install(void);
int ug_signal_seen(void);

/* What this build is, as a run row records it: the project version (meson's), the git revision it was
 * built from (vcs_tag: "unknown" outside a git checkout) and the compiler / buildtype line. Static strings. */
typedef struct ug_build_version {
    const char *version, *git_rev, *build;
} ug_build_version;
ug_build_version ug_build_version_get(void);

#endif
