/* run_init.h — `unigfn run SPEC --init-from RUN`: a run whose parameters start from another run's last
 * checkpoint instead of the spec's initialisation (fine-tuning: another objective, dataset or learning
 * rate on a trained model). Only the parameter values are taken: the optimizer state, the step, the
 * plugins' state and the logging window start fresh, so the run is a new run from step 0 (unlike
 * `--from`, which continues the same run). Its id is not the spec's: a fine-tuned run must never be
 * taken for a from-scratch run of the same spec (host only). */
#ifndef UG_RUN_INIT_H
#define UG_RUN_INIT_H

#include <stddef.h>
#include <stdint.h>

#include "unigfn/host/experiment.h"
#include "unigfn/host/store.h"

/* The id of the run of spec id `spec_id` initialised from run `src_id`: the first 16 hex digits of
 * SHA-256("<spec_id> init-from <src_id>"), so the same spec from the same source finds its run again
 * and from another source (or from scratch) is another run. out: at least 17 bytes. */
void ug_run_init_id(const char *spec_id, const char *src_id, char *out, size_t cap);

/* Finds run `from` (an id or unique prefix; it must be neither RUNNING nor QUEUED), loads its last
 * checkpoint's parameter values into `ex` (ug_experiment_init_params) after checking the file is that
 * run's (ug_ckpt_identity_check), and fills src_id, the checkpoint's path and the step it was written at.
 * UG_ERR_ARG when a group or parameter does not match this model (the message names the parameter and
 * both shapes): the spec does not fit the source, a spec error. Any other code: the source is missing
 * or unreadable. Nothing is written. *legacy: the checkpoint predates run identities (not checked). */
ug_status ug_run_init_load(ug_store *st, ug_experiment *ex, const char *from, const char *db_path, char *src_id,
                           size_t id_cap, char *ckpt, size_t ckpt_cap, int64_t *step, bool *legacy, ug_error *err);

#endif
