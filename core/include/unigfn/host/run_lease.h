/* run_lease.h — what ties a process and a checkpoint to one run row (host only).
 *
 * The lease: at most one live process owns a run. `run`, `run --force` and `resume` (and so every
 * sweep job, which is a `unigfn run`) take it before they touch the run's row or files, and hold it
 * until the process ends; the kernel drops it when the process dies, however it dies. It is an
 * advisory write lock on `<run folder>/lock`, which names the holder (pid, host, since when) so that a
 * refused process can say who has the run. `gc --mark-crashed` asks ug_run_lease_holder before it
 * marks a silent RUNNING run CRASHED.
 *
 * The identity: every checkpoint a run writes carries the run id, the SHA-256 of the run's stored
 * spec and the row's start time (which tells one attempt of a run, in one database, from another run
 * of the same spec elsewhere); `resume` and `sample` compare it with the row before they trust the
 * file. A checkpoint written before identities existed has none and is accepted with a warning. */
#ifndef UG_RUN_LEASE_H
#define UG_RUN_LEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "unigfn/host/checkpoint.h"
#include "unigfn/host/store.h"

/* ---- the lease ---- */
typedef struct ug_run_lease {
    int fd;           /* -1 when not held */
    bool unlocked;    /* the file system refused locks (ENOLCK, ...): held without enforcement */
    char path[1100];
} ug_run_lease;

/* Takes the lease of the run `id` whose folder is `folder` (which must exist). UG_OK with the lease
 * held; otherwise an error naming the run, and when another process holds it, that process ("pid 123
 * on host h since 2026-...") and the lock file. Where the file system has no locks the lease is
 * taken unenforced (l->unlocked) and a warning says so. */
ug_status ug_run_lease_take(ug_run_lease *l, const char *folder, const char *id, ug_error *err);

/* Removes the lock file and drops the lock (no-op when not held). */
void ug_run_lease_release(ug_run_lease *l);

/* Whether a live process holds the lease of the run in `folder`: 1 (and `who` describes it), 0 when
 * nobody does (or there is no lock file), -1 when it cannot be told (`who` says why). Never call it
 * for a lease this process holds. */
int ug_run_lease_holder(const char *folder, char *who, size_t cap);

/* ---- the identity a checkpoint carries (blob UG_CKPT_IDENTITY) ---- */
#define UG_CKPT_IDENTITY "run.identity"
typedef struct ug_ckpt_identity {
    uint32_t version;       /* 1 */
    char run_id[64];        /* NUL-terminated */
    char spec_sha256[68];   /* hex SHA-256 of the row's stored spec text, NUL-terminated */
    double started;         /* runs.started of the row when the checkpoint was written */
} ug_ckpt_identity;

/* The identity of run `id` whose stored spec is `spec` and row started at `started`. */
void ug_ckpt_identity_make(ug_ckpt_identity *ci, const char *id, const char *spec, double started);

/* A checkpoint blob descriptor for `ci` (optional on load: older checkpoints have none). */
ug_ckpt_blob ug_ckpt_identity_blob(ug_ckpt_identity *ci);

/* Checks a loaded checkpoint `path` at `step` against run `rec` of train.steps `steps`: the step
 * within [0, steps] and not past the step the row records, and (when `found`, the identity blob was in
 * the file) the run id, spec hash and start time of `ci` equal to the row's. An error says what
 * differs and what to do; UG_OK otherwise, with *legacy set when the file had no identity. */
ug_status ug_ckpt_identity_check(const ug_ckpt_identity *ci, bool found, const char *path, int64_t step,
                                 int64_t steps, const ug_run_record *rec, bool *legacy, ug_error *err);

#endif
