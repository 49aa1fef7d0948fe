/* run_carry.h — run folders follow their rows through `unigfn db merge`. A run's files (checkpoint,
 * pictures) live in <folder of its database>/runs/<id> (ug_run_folder), which is all that `sample`,
 * `resume`, `run --from`, `--init-from` and `report samples` look at; a merge that copied only the rows
 * left a database whose runs cannot be sampled. So the merge copies each folder next to the output too
 * (host only).
 *
 * Copies, not hard links: a run resumed in the merged database rewrites its files in place (sweep.log,
 * pictures), which through a link would change the shard's run as well. */
#ifndef UG_RUN_CARRY_H
#define UG_RUN_CARRY_H

#include "unigfn/host/store.h"

/* After `shard_path` was merged into `out` (the database at out_path): the run folder of every run of
 * the shard whose row in out is now the shard's copy (the same status, step, created and heartbeat) is
 * copied from beside the shard to beside out, replacing the folder there (which was the replaced row's).
 * Skipped: a run the shard has no folder for, a folder that is already out's (the shard lies beside out),
 * and a folder of out that a live process holds the lease of (named in err, nothing else stopped).
 * Merging again copies again. *n_copied receives how many folders were copied. */
ug_status ug_run_carry_folders(ug_store *out, const char *out_path, const char *shard_path, int *n_copied,
                               ug_error *err);

#endif
