/* store.h — the results database (SQLite): runs, params, metrics, summaries, artifacts.
 *
 * Host-only: plugins never see this header or SQLite. One file per project (default results.db),
 * WAL mode, so several processes (a sweep with -j N) may write the same file at once; every write is
 * one BEGIN IMMEDIATE transaction retried on SQLITE_BUSY/SQLITE_LOCKED.
 *
 * Conventions a caller must know:
 *  - Times are unix seconds (double). An absent time (never started/ended) reads as 0.
 *  - Non-finite metric values are kept: the row stores value NULL and flag 'nan', 'inf' or '-inf'
 *    (SQLite would turn NaN into NULL anyway). Readers here rebuild NaN/±inf from the flag, so
 *    callbacks always see the value that was logged. summary.min/max ignore non-finite values
 *    (NaN when a metric never had a finite value); summary.last is the value at the highest step
 *    (ties: the latest insert), non-finite included; summary.n counts every value.
 *  - A ug_store handle may be shared between threads (calls are serialised by a mutex), but not
 *    across fork(): open a new handle in the child.
 */
#ifndef UG_STORE_H
#define UG_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "unigfn/status.h"

/* Version 2 added runs.blas; version 3 runs.note and the tags table; version 4 runs.init_from and the
 * provenance table. ug_store_open upgrades an older database in place (store_db.c's list of
 * upgrades, each in one write transaction), so every database this or an earlier unigfn wrote keeps
 * opening; an older unigfn refuses a database once upgraded (its version is newer). */
#define UG_STORE_SCHEMA_VERSION 4

typedef struct ug_store ug_store;

typedef enum ug_run_status {
    UG_RUN_ABSENT = 0, /* no such run (ug_store_run_status only) */
    UG_RUN_QUEUED,
    UG_RUN_RUNNING,
    UG_RUN_FINISHED,
    UG_RUN_FAILED,
    UG_RUN_KILLED,
    UG_RUN_CRASHED,
} ug_run_status;

/* "QUEUED", "RUNNING", ... ("ABSENT" for UG_RUN_ABSENT). */
const char *ug_run_status_name(ug_run_status s);
/* Inverse of the above (case-sensitive); UG_RUN_ABSENT for an unknown name. */
ug_run_status ug_run_status_from_name(const char *name);

/* ---- Opening ---- */
typedef enum ug_store_mode {
    UG_STORE_CREATE = 0, /* read and write; the file and its schema are created when absent (run, sweep,
                            db merge's output) */
    UG_STORE_WRITE,      /* read and write a results database that exists (gc); never creates one */
    UG_STORE_READ,       /* read only (ls, show, export, report, sample, sweep --dry-run): SQLite opens
                            it read-only and nothing is written, created or upgraded. Works where the
                            folder or the file is not writable: a WAL database whose shared-memory
                            file cannot be made there is read as immutable (no -wal with changes
                            beside it, or that is refused). Leaves at most the empty -wal and -shm
                            files that SQLite's readers share. */
} ug_store_mode;

/* Opens the database at `path` as `mode` says. Every mode: creates the schema only in CREATE mode,
 * upgrades an older schema_version to UG_STORE_SCHEMA_VERSION except in READ mode (which reads it as
 * it is), refuses a database whose schema_version is newer, a file that is not SQLite and a path that
 * is not a regular file (a directory, a FIFO, a device). WRITE and READ refuse a missing path ("no
 * results database at PATH") and an empty database. */
ug_status ug_store_open_as(const char *path, ug_store_mode mode, ug_store **out, ug_error *err);
/* ug_store_open_as(path, UG_STORE_CREATE, ...). */
ug_status ug_store_open(const char *path, ug_store **out, ug_error *err);
void ug_store_close(ug_store *s); /* NULL is fine */

/* ---- Run lifecycle ---- */
/* One input a run was computed from (store table `provenance`): a plugin it loaded, or the checkpoint
 * `run --init-from` took its parameters from. */
typedef struct ug_provenance {
    const char *kind;        /* "dataset", "model", "objective", "metric"; "checkpoint" for --init-from */
    const char *name;        /* the plugin's name; for a checkpoint, the source run's id */
    const char *path;        /* the file's resolved path */
    const char *version;     /* the plugin's declared version (may be NULL); for a checkpoint "step N" */
    const char *sha256;      /* hex SHA-256 of the file */
} ug_provenance;

typedef struct ug_run_info {
    const char *id;          /* required: the run id (hash of the resolved spec) */
    const char *experiment;  /* required: inserted into experiments if new */
    const char *spec;        /* resolved YAML text; may be NULL */
    const char *const *param_keys;   /* flattened resolved spec, n_params pairs */
    const char *const *param_values;
    int n_params;
    int64_t seed;
    const char *git_rev, *host, *build; /* may be NULL */
    const char *blas;        /* the BLAS it runs on (ug_blas_describe's line); may be NULL */
    int threads;
    bool force;              /* begin: restart even a FINISHED or RUNNING run */
    const ug_provenance *prov; /* begin: what the run is computed from, n_prov rows (replacing any) */
    int n_prov;
    const char *init_from;   /* begin: the run whose parameters it starts from (run --init-from); may be NULL */
} ug_run_info;

typedef enum ug_begin_outcome {
    UG_BEGIN_NEW = 0,     /* the id was not there: inserted as RUNNING */
    UG_BEGIN_RESTARTED,   /* was QUEUED/FAILED/KILLED/CRASHED (or forced): reset to RUNNING, old
                             metrics/summary/artifacts deleted, params/spec/provenance replaced */
    UG_BEGIN_FINISHED,    /* already FINISHED: nothing changed; the caller should skip it */
    UG_BEGIN_BUSY,        /* already RUNNING (another process?): nothing changed. If that process
                             died, ug_store_mark_crashed turns it CRASHED and a later begin restarts */
} ug_begin_outcome;

/* Starts a run as RUNNING (created/started/heartbeat = now, step = 0). `outcome` says what happened;
 * if it is NULL, the FINISHED and BUSY cases are errors (UG_ERR_STORE) instead, so a caller that does
 * not look can never silently skip or double-run. */
ug_status ug_store_run_begin(ug_store *s, const ug_run_info *info, ug_begin_outcome *outcome,
                             ug_error *err);

/* Registers a run as QUEUED if the id is absent (a sweep's plan); a no-op if it exists.
 * `info->force` is ignored. */
ug_status ug_store_run_queue(ug_store *s, const ug_run_info *info, ug_error *err);

/* `unigfn resume`: sets the run RUNNING again, keeping its metrics up to the checkpoint. Rows of
 * metrics and artifacts with step > from_step are deleted (they will be produced again) and the
 * summary is rebuilt from what remains; step becomes from_step, error and ended are cleared.
 * `threads` > 0 replaces the recorded thread count (the column then holds the latest segment's; 0
 * keeps it). `prev_step_out` (may be NULL) receives the step the run had reached before. Refuses an
 * absent run and a RUNNING one (mark it crashed first if its process is gone). */
ug_status ug_store_run_resume(ug_store *s, const char *id, int64_t from_step, int threads,
                              int64_t *prev_step_out, ug_error *err);

/* Replaces the run's BLAS description (`resume`: the column then holds the latest segment's, like
 * threads). "no run" when absent. */
ug_status ug_store_run_set_blas(ug_store *s, const char *id, const char *blas, ug_error *err);

/* `unigfn run --from`: run `dst`, just begun (RUNNING), takes the history of run `src` up to `step`, the
 * step of the checkpoint it continues from: src's metric and artifact rows with step < `step`, and of
 * its rows at `step` whose key matches one of the GLOB patterns keys_at_step (the training logs; a
 * row matching two patterns is copied twice, so keep them disjoint; metrics due at `step` are
 * evaluated again by the run, and src's end-of-run metrics are not part of a longer run's history).
 * Artifact rows keep their paths, so they name src's files. Records the param from_run = "<src>@<step>",
 * rebuilds dst's summary and sets its step. Whatever dst held is replaced. */
ug_status ug_store_copy_history(ug_store *s, const char *dst, const char *src, int64_t step,
                                const char *const *keys_at_step, int n_keys, ug_error *err);

/* Records liveness and progress. A run wrongly marked CRASHED (stale heartbeat while it was still
 * alive, e.g. a long evaluation) becomes RUNNING again. */
ug_status ug_store_heartbeat(ug_store *s, const char *id, int64_t step, ug_error *err);

/* Ends a run: status must be FINISHED, FAILED, KILLED or CRASHED; `error` (may be NULL) is stored as
 * the run's message. Metrics are always kept. */
ug_status ug_store_run_end(ug_store *s, const char *id, ug_run_status status, const char *error,
                           int64_t step, ug_error *err);

/* RUNNING runs whose heartbeat is older than `stale_seconds` become CRASHED (ended = last heartbeat).
 * `n_marked` (may be NULL) receives how many. */
ug_status ug_store_mark_crashed(ug_store *s, double stale_seconds, int *n_marked, ug_error *err);
/* The same, but a run for which live(user, id) returns true is left RUNNING: its process is known to
 * be alive (it holds the run's lease, run_lease.h). live is called inside the write transaction, once
 * per stale run and again if the transaction is retried; it must not use the store. */
typedef bool (*ug_run_live_fn)(void *user, const char *id);
ug_status ug_store_mark_crashed_unless(ug_store *s, double stale_seconds, ug_run_live_fn live, void *user,
                                       int *n_marked, ug_error *err);

/* UG_RUN_ABSENT (and UG_OK) when there is no such run. */
ug_status ug_store_run_status(ug_store *s, const char *id, ug_run_status *status, ug_error *err);

/* ---- Metrics and artifacts ---- */
ug_status ug_store_metric(ug_store *s, const char *id, const char *key, int64_t step, double value,
                          ug_error *err);
/* n values at one step, in one transaction. */
ug_status ug_store_metrics(ug_store *s, const char *id, int64_t step, int n, const char *const *keys,
                           const double *values, ug_error *err);
/* Records a file written by the run; bytes and sha256 are computed here (UG_ERR_IO if unreadable). */
ug_status ug_store_artifact(ug_store *s, const char *id, const char *path, const char *kind,
                            int64_t step, ug_error *err);

/* ---- Queries (for the CLI) ----
 * Callbacks return 0 to continue, non-zero to stop early (the query still returns UG_OK).
 * Strings passed to callbacks live only for the duration of the call. A callback may call the read
 * functions below on the same handle, but must not write through it (collect, then write after). */
typedef struct ug_run_row {
    const char *id, *experiment;
    ug_run_status status;
    int64_t step;
    double created, heartbeat;
    /* Summary of the metric asked for in ug_store_list_runs (has_metric = false if none). */
    bool has_metric;
    double metric_last, metric_min, metric_max;
    int64_t metric_last_step, metric_n;
} ug_run_row;
typedef int (*ug_run_row_fn)(void *user, const ug_run_row *row);

/* Runs ordered by creation time. `experiment` NULL = all; `metric` NULL = no summary. */
ug_status ug_store_list_runs(ug_store *s, const char *experiment, const char *metric, ug_run_row_fn cb,
                             void *user, ug_error *err);

typedef struct ug_run_record {
    char *id, *experiment, *error, *spec, *git_rev, *host, *build; /* NULL when absent */
    char *blas;                  /* NULL when absent (runs recorded before schema version 2) */
    ug_run_status status;
    double created, started, ended, heartbeat;
    int64_t step, seed;
    int threads;
    int n_params;
    char **param_keys, **param_values; /* sorted by key */
    char *note;                  /* ug_store_set_note's text; NULL when none (or a database before version 3) */
    int n_tags;
    char **tags;                 /* sorted; none in a database before version 3 */
    char *init_from;             /* run --init-from's source run; NULL for other runs (and before version 4) */
} ug_run_record;

/* Every column of one run plus its params. UG_ERR_STORE "no run ..." when absent.
 * Free with ug_run_record_free. */
ug_status ug_store_get_run(ug_store *s, const char *id, ug_run_record **out, ug_error *err);
void ug_run_record_free(ug_run_record *r);

/* One metric of one run, ordered by step (then insertion). */
typedef int (*ug_metric_point_fn)(void *user, int64_t step, double value, double wall);
ug_status ug_store_metric_series(ug_store *s, const char *id, const char *key, ug_metric_point_fn cb,
                                 void *user, ug_error *err);

typedef struct ug_metric_summary {
    const char *key;
    double last;       /* may be NaN/±inf */
    int64_t last_step;
    double min, max;   /* over finite values; NaN if there were none */
    int64_t n;         /* every value logged, non-finite included */
} ug_metric_summary;
typedef int (*ug_metric_summary_fn)(void *user, const ug_metric_summary *m);
/* The summary row of every metric of a run, ordered by key. */
ug_status ug_store_last_metrics(ug_store *s, const char *id, ug_metric_summary_fn cb, void *user,
                                ug_error *err);

typedef struct ug_artifact_row {
    const char *path, *kind, *sha256;
    int64_t step, bytes;
} ug_artifact_row;
typedef int (*ug_artifact_fn)(void *user, const ug_artifact_row *a);
/* Artifacts of a run, ordered by step then insertion. */
ug_status ug_store_artifacts(ug_store *s, const char *id, ug_artifact_fn cb, void *user, ug_error *err);

/* ---- Annotations: tags and a note per run (`unigfn tag`, `unigfn note`), and deleting a run ----
 * Tags and the note belong to the run id: a restart (run --force) keeps them, ug_store_merge carries
 * them, ug_store_delete_run removes them with the run. ug_store_get_run reads them back. */

/* UG_OK when `tag` may be a tag: 1 to UG_TAG_MAX bytes, none of them a space, a control character or a
 * comma (ls joins tags with commas), and not starting with '-' (it would read as an option);
 * UG_ERR_ARG saying why otherwise. */
#define UG_TAG_MAX 64
ug_status ug_store_tag_check(const char *tag, ug_error *err);

/* Adds the tags add[0..n_add) (one the run has already is no change) and removes rm[0..n_rm), in one
 * transaction: nothing changes when a tag to add is not a valid tag, a tag to remove is not on the run
 * (UG_ERR_ARG "run ID has no tag 'T'"), or there is no such run (UG_ERR_STORE "no run ..."). */
ug_status ug_store_tag(ug_store *s, const char *id, const char *const *add, int n_add, const char *const *rm,
                       int n_rm, ug_error *err);

/* Replaces the run's note; NULL or "" removes it. "no run ..." when absent. */
ug_status ug_store_set_note(ug_store *s, const char *id, const char *note, ug_error *err);

/* Deletes the run and every row that names it (params, metrics, summary, artifacts, tags, provenance) in
 * one transaction, and its experiment when no other run is left in it. The run's files are the caller's
 * (run_lookup.h: ug_run_folder). "no run ..." when absent. */
ug_status ug_store_delete_run(ug_store *s, const char *id, ug_error *err);

/* A run's provenance rows, ordered dataset, model, objectives, metrics (each by name), checkpoint. A run
 * recorded before provenance existed (or a database older than version 4) has none: UG_OK, no call. */
typedef int (*ug_provenance_fn)(void *user, const ug_provenance *p);
ug_status ug_store_provenance(ug_store *s, const char *id, ug_provenance_fn cb, void *user, ug_error *err);

/* `resume`: the n rows replace the run's rows of the same kind and name (the plugins of the segment it
 * goes on with, like its BLAS); its other rows (--init-from's checkpoint) stay. "no run" when absent. */
ug_status ug_store_run_update_provenance(ug_store *s, const char *id, const ug_provenance *rows, int n,
                                         ug_error *err);

/* ---- Merging database shards (`unigfn db merge`, Slurm sweeps) ---- */
typedef struct ug_merge_stats {
    int runs_added;        /* absent here before */
    int runs_replaced;     /* present, replaced by the shard's copy (further along, or newer) */
    int runs_kept;         /* present and at least as far along here: unchanged */
    int64_t metric_rows;   /* metric rows copied */
} ug_merge_stats;

/* Copies the runs of the unigfn database at `shard_path` into s, with their experiments, params,
 * metrics (in their insertion order), summaries, artifacts and provenance (not their run folders:
 * run_carry.h). A run already here is replaced only
 * when the shard's copy is further along (FINISHED > FAILED/KILLED/CRASHED > RUNNING > QUEUED) or, at
 * the same rank, ended (else last beat) later; so merging the same shard again changes nothing. Tags
 * and notes come from both copies: every tag either has, and the kept copy's note unless it has none. One
 * write transaction per shard: a failed merge leaves s as it was. Refuses a missing shard, a file that
 * is not a unigfn database, a newer schema, and s's own file; a shard of an older schema is upgraded
 * in place first (ug_store_open). `stats` may be NULL. */
ug_status ug_store_merge(ug_store *s, const char *shard_path, ug_merge_stats *stats, ug_error *err);

#endif
