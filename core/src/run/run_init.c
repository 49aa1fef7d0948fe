/* run_init.c — the source of `unigfn run SPEC --init-from RUN` (run_init.h): found, checked to be that
 * run's checkpoint, its parameter values loaded, and the fine-tuned run's own id. */
#include "unigfn/host/run_init.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "unigfn/host/run_lease.h"
#include "unigfn/host/run_lookup.h"
#include "unigfn/host/sha256.h"

void ug_run_init_id(const char *spec_id, const char *src_id, char *out, size_t cap) {
    char text[160], hex[65];
    int n = snprintf(text, sizeof text, "%s init-from %s", spec_id, src_id);
    ug_sha256_hex(text, n > 0 && (size_t)n < sizeof text ? (size_t)n : strlen(text), hex);
    snprintf(out, cap, "%.16s", hex);
}

ug_status ug_run_init_load(ug_store *st, ug_experiment *ex, const char *from, const char *db_path, char *src_id,
                           size_t id_cap, char *ckpt, size_t ckpt_cap, int64_t *step, bool *legacy, ug_error *err) {
    char msg[sizeof err->msg];
    *legacy = false;
    ug_status s = ug_find_run(st, from, src_id, id_cap, err);
    if (s) {
        snprintf(msg, sizeof msg, "%s", err->msg);  /* prefixed: the first error stays unless reset */
        return ug_error_reset(err, UG_ERR_IO, "--init-from: %s", msg);
    }
    ug_run_record *rec = NULL;
    if ((s = ug_store_get_run(st, src_id, &rec, err))) return s;
    if (rec->status == UG_RUN_RUNNING || rec->status == UG_RUN_QUEUED) {
        s = ug_error_set(err, UG_ERR_IO, "--init-from %s: the run is %s; its checkpoint is not final", src_id,
                         ug_run_status_name(rec->status));
        ug_run_record_free(rec);
        return s;
    }
    char folder[1024];
    ug_run_folder(db_path, src_id, folder, sizeof folder);
    snprintf(ckpt, ckpt_cap, "%s/checkpoint.bin", folder);
    if (access(ckpt, R_OK) != 0) {
        ug_run_record_free(rec);
        return ug_error_set(err, UG_ERR_IO, "--init-from %s: no checkpoint at %s", src_id, ckpt);
    }
    ug_ckpt_identity ident;
    ug_ckpt_blob idb = ug_ckpt_identity_blob(&ident);
    s = ug_experiment_init_params(ex, ckpt, step, &idb, 1, err);
    if (s) {
        snprintf(msg, sizeof msg, "%s", err->msg);
        ug_run_record_free(rec);
        return ug_error_reset(err, s, "--init-from %s: %s", src_id, msg);
    }
    /* The step bound is the source's own (its train.steps is in its spec, not ours): the row's step is. */
    s = ug_ckpt_identity_check(&ident, idb.found, ckpt, *step, rec->step, rec, legacy, err);
    ug_run_record_free(rec);
    if (s) {
        snprintf(msg, sizeof msg, "%s", err->msg);
        return ug_error_reset(err, UG_ERR_IO, "--init-from %s: %s", src_id, msg);
    }
    return UG_OK;
}
