/* run_from.h — `unigfn run SPEC --from RUN`: a run that starts from another run's checkpoint instead
 * of from step 0, e.g. a 1e5-step run that continues a finished 1e4-step run of the same spec. The
 * checks here make sure the continued run is the run a fresh start would have produced (host only). */
#ifndef UG_RUN_FROM_H
#define UG_RUN_FROM_H

#include <stddef.h>
#include <stdint.h>

#include "unigfn/host/experiment.h"
#include "unigfn/host/spec.h"
#include "unigfn/host/store.h"

/* May `ex` (the spec being run, whose run id is self_id) continue run `from` (an id or unique
 * prefix)? The source must exist, be neither RUNNING nor QUEUED, have a checkpoint, and have a
 * resolved spec equal to this one in every key except train.steps; no optimizer schedule may depend
 * on train.steps. Fills src_id and the path of the source's checkpoint. */
ug_status ug_run_from_check(ug_store *st, const ug_spec_registry *sreg, const ug_experiment *ex,
                            const char *self_id, const char *from, const char *db_path, char *src_id,
                            size_t id_cap, char *ckpt, size_t ckpt_cap, ug_error *err);

/* The source checkpoint holds `step` and an open logging window of `window` steps: is that the state
 * of a fresh run of `ex` after `step` steps? (A run that ended at a step that is not a multiple of
 * train.log_every logged a short last window, which a longer run would not have.) */
ug_status ug_run_from_check_step(const ug_experiment *ex, const char *src_id, int64_t step, int64_t window,
                                 ug_error *err);

#endif
