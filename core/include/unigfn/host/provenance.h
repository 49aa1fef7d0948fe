/* provenance.h — what a run is computed from, beyond its resolved spec: the plugin libraries it loads
 * (resolved path, declared version, SHA-256 of the file) and, for `run --init-from`, the checkpoint
 * its parameters start from. The run id hashes only the spec, so an edited plugin gives the same id:
 * these rows, recorded with the run (store table `provenance`), are how a re-run tells that the
 * FINISHED run was computed by other code and must run again (host only). */
#ifndef UG_PROVENANCE_H
#define UG_PROVENANCE_H

#include <stddef.h>
#include <stdint.h>

#include "unigfn/host/experiment.h"
#include "unigfn/host/loader.h"
#include "unigfn/host/store.h"

#define UG_PROV_MAX (2 + UG_MAX_TERMS + UG_MAX_METRICS + 1)

/* Rows of one run. Plugin rows point into the registry (which must outlive the set); the checkpoint
 * row's strings live in the set. */
typedef struct ug_prov_set {
    int n;
    ug_provenance rows[UG_PROV_MAX];
    char ckpt_name[64], ckpt_version[32], ckpt_sha256[65], ckpt_path[4096];
} ug_prov_set;

/* The plugins `ex` was built from (found again in `reg` by kind and name): its dataset, model, and each
 * objective and metric once. UG_ERR_IO when a library file can no longer be read to hash it. */
ug_status ug_prov_of_experiment(const ug_experiment *ex, ug_registry *reg, ug_prov_set *out, ug_error *err);

/* Appends the row of the checkpoint at `path` (hashed here) of run `src_id` at `step`. */
ug_status ug_prov_add_checkpoint(ug_prov_set *set, const char *src_id, const char *path, int64_t step,
                                 ug_error *err);

/* Has anything run `id` was recorded as computed from changed? Each recorded row is compared with the
 * row of the same kind and name in `now` (may be NULL) or, for a plugin `now` lacks, with the plugin of
 * that kind and name in `reg` (may be NULL), its file hashed now. Not a change: a run with no rows (one
 * recorded before provenance was), a row with nothing to compare it with (a plugin the registry no
 * longer has: building the run then fails and says why). *n_changed receives the number of changed
 * rows; `why` (cap bytes) names the first with its recorded and present hash prefixes
 * ("objective 'tb' sha256 1a2b3c4d5e6f, now 5e6f7a8b9c0d"), and " (and N more)" when there are more. */
ug_status ug_prov_changed(ug_store *st, const char *id, ug_registry *reg, const ug_prov_set *now, int *n_changed,
                          char *why, size_t cap, ug_error *err);

#endif
