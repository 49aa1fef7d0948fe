/* run_lookup.h — finding a run in the store by id or unique prefix, and where its files live (host only).
 * Apart from the runner so that run --from, sweeps, reports and the CLI find runs without the loop. */
#ifndef UG_RUN_LOOKUP_H
#define UG_RUN_LOOKUP_H

#include <stddef.h>

#include "unigfn/host/store.h"

/* The folder that holds a run's checkpoint and artifacts: <dir of db>/runs/<id>. */
void ug_run_folder(const char *db_path, const char *id, char *out, size_t cap);

/* Resolve a run id or unique prefix against the store ("no run"/"ambiguous" errors). */
ug_status ug_find_run(ug_store *st, const char *prefix, char *id_out, size_t cap, ug_error *err);

/* The run folder plugins see through ug_run_dir() (plugin.h) while a run is live; "." otherwise. */
void ug_set_run_dir(const char *dir);

#endif
