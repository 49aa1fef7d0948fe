/* sweep.h — a sweep: axes from a spec's `sweep:` block and the command line, expanded into jobs,
 * planned against the results store, and run by local worker processes or a Slurm job array (host only).
 *
 * Axes. Every axis is a dotted spec key with a list of values; a job sets one value per axis as a spec
 * override `key=value`. Jobs are the product of the axes (the last axis moves fastest), except that
 * the axes of one `zip` group move together (they must have equal lengths and count as one factor):
 *     sweep:
 *       model.hidden: [[128, 128], [256, 256]]    # a list: one value per item
 *       seed: 0:5                                  # a range a:b[:step], half-open: 0 1 2 3 4
 *       zip:                                       # a map (one group) or a list of maps
 *         objective: [[{plugin: kl_tb, updates: [forward]}], [{plugin: tb, updates: [forward, logZ]}]]
 *         optim.forward.lr: [1.0e-4, 1.0e-3]
 * On the command line: `key=v1,v2` (commas inside [] {} or quotes do not split), `key=a:b[:step]`,
 * a single `key=value` (a fixed override) and `--zip key=v1,v2` (all --zip axes form one group). A
 * command-line axis replaces the spec's axis of the same key.
 *
 * Jobs run with `sweep={}` first among their overrides: a run's id (the hash of its resolved spec) then
 * depends only on what the job sets, so a re-launched sweep finds its runs again. */
#ifndef UG_SWEEP_H
#define UG_SWEEP_H

#include <stdbool.h>
#include <stdint.h>

#include "unigfn/host/spec.h"
#include "unigfn/host/store.h"

#define UG_SWEEP_MAX_JOBS 100000
#define UG_SWEEP_RESET "sweep={}"

typedef struct ug_sweep ug_sweep;

ug_sweep *ug_sweep_new(void);
void ug_sweep_free(ug_sweep *sw);

/* Axes of a spec's `sweep:` map (a map node; an empty map adds nothing). Errors name "sweep.KEY". */
ug_status ug_sweep_add_cfg(ug_sweep *sw, const ug_cfg *sweep, ug_error *err);
/* One command-line axis "key=v1,v2" / "key=a:b"; zip: into the command line's zip group. */
ug_status ug_sweep_add_arg(ug_sweep *sw, const char *arg, bool zip, ug_error *err);

/* Checks zip groups (equal lengths) and the job count (1 .. UG_SWEEP_MAX_JOBS); returns the count via
 * n_jobs. Must succeed before ug_sweep_job_overrides. */
ug_status ug_sweep_finish(ug_sweep *sw, int64_t *n_jobs, ug_error *err);
/* The overrides of job j: UG_SWEEP_RESET, then one "key=value" per axis, into out (cap entries).
 * Strings live as long as sw. Returns how many were written. */
int ug_sweep_job_overrides(const ug_sweep *sw, int64_t j, const char **out, int cap);
int ug_sweep_n_axes(const ug_sweep *sw);

/* ---- Planning: resolving every job before anything runs ---- */
typedef struct ug_sweep_job {
    int64_t index;
    int n_overrides;
    const char **overrides;   /* [0] is UG_SWEEP_RESET */
    char id[17];
    char *experiment;
    ug_run_status status;     /* in the store when planned (ABSENT without a store) */
    char *changed;            /* FINISHED, but a plugin it was computed with changed since: why (which
                                 plugin, old and new hash; ug_sweep_plan_check_provenance); NULL if not.
                                 Such a job runs again, as `unigfn run` would. */
} ug_sweep_job;

typedef struct ug_sweep_plan {
    int64_t n_jobs;
    ug_sweep_job *jobs;
} ug_sweep_plan;

/* Loads the spec once per job (a failing job is reported as "job N (k=v ...): <spec error>", nothing is
 * run), refuses two jobs that resolve to the same run id, and with a store reads each job's status;
 * `queue` also registers absent jobs as QUEUED so `unigfn ls` shows the plan. */
ug_status ug_sweep_plan_make(const ug_sweep *sw, const char *spec_path, const ug_spec_registry *reg,
                             ug_store *st, bool queue, ug_sweep_plan *out, ug_error *err);
void ug_sweep_plan_free(ug_sweep_plan *p);
/* Every FINISHED job's provenance against the plugins of `reg` as they are now (provenance.h): sets
 * `changed` of each whose plugins changed since; *n_changed receives how many. Reads only. */
struct ug_registry;
ug_status ug_sweep_plan_check_provenance(ug_sweep_plan *p, ug_store *st, struct ug_registry *reg, int *n_changed,
                                         ug_error *err);
/* "k=v k2=v2" (the job's overrides without UG_SWEEP_RESET) into buf. */
void ug_sweep_job_label(const ug_sweep_job *j, char *buf, size_t cap);

/* ---- Local execution ---- */
typedef struct ug_sweep_exec {
    const char *exe;        /* the unigfn binary (the CLI passes /proc/self/exe) */
    const char *spec_path;
    const char *db_path;
    int workers;            /* >= 1 */
    bool quiet;             /* no per-job lines on stdout */
} ug_sweep_exec;

typedef struct ug_sweep_result {
    int skipped_finished;   /* FINISHED before this launch */
    int skipped_running;    /* RUNNING in another process */
    int ran, finished, failed, not_started;
    bool interrupted;
} ug_sweep_result;

/* Runs every planned job that is neither FINISHED (unless `changed`) nor RUNNING: `exe --db DB run SPEC --plain OVERRIDES`,
 * `workers` at a time, each child in its own process group with stdout/stderr in
 * <run folder>/sweep.log and, with several workers and neither OPENBLAS_NUM_THREADS nor OMP_NUM_THREADS
 * set, both set to cores / workers (at least 1). SIGINT/SIGTERM stop launching and are passed on once to the running children
 * (which record KILLED). Returns UG_OK unless the sweep itself could not work (fork, store). */
ug_status ug_sweep_run_local(const ug_sweep_plan *plan, const ug_sweep_exec *o, ug_sweep_result *res,
                             ug_error *err);

/* ---- Slurm ---- */
typedef struct ug_sweep_slurm {
    const char *exe, *spec_path;      /* made absolute in the script */
    const char *dir;                  /* sweep folder: script, logs/, shards/ */
    const char *const *sbatch_opts;   /* each becomes an `#SBATCH OPT` line */
    int n_sbatch_opts;
} ug_sweep_slurm;

/* Writes DIR/sweep.sbatch: one array task per job that is FINISHED neither in the plan's store nor in
 * its own shard DIR/shards/job-N.db, or is `changed` (array index = job number); each task runs
 * `unigfn --db DIR/shards/job-N.db run SPEC --plain OVERRIDES`. *n_tasks = 0 means nothing to do (no
 * script written). `tasks` (may be NULL) receives the job numbers, caller frees. */
ug_status ug_sweep_write_slurm(const ug_sweep_plan *plan, const ug_sweep_slurm *o, char *script, size_t cap,
                               int *n_tasks, int64_t **tasks, ug_error *err);
/* Runs `sbatch --parsable [--wait] SCRIPT`; job_id receives the array's id. With wait, returns after
 * the array has ended (UG_OK even if tasks failed: their status is in the shards). */
ug_status ug_sweep_slurm_submit(const char *script, bool wait, char *job_id, size_t cap, ug_error *err);
/* DIR/shards/job-N.db */
void ug_sweep_shard_path(const char *dir, int64_t job, char *out, size_t cap);

#endif
