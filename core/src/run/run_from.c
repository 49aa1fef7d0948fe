/* run_from.c — the checks behind `unigfn run SPEC --from RUN` (run_from.h). Every random draw is keyed
 * by (seed, stream, step) and a checkpoint holds parameters, optimizer and plugin state and the open
 * logging window, so continuing a run of the same spec from its checkpoint at step S gives what a
 * fresh run would have from step S on, bit for bit, provided nothing depends on train.steps. */
#include "unigfn/host/run_from.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "unigfn/host/run_lookup.h"
#include "unigfn/host/util.h"

/* Keys whose values differ between the two flattened specs (train.steps aside), at most 3 of them. */
static int spec_differences(const ug_kv *a, const ug_kv *b, char *out, size_t cap) {
    int n = 0;
    size_t len = 0;
    out[0] = 0;
    for (int pass = 0; pass < 2; pass++) {
        const ug_kv *x = pass ? b : a, *y = pass ? a : b;
        for (int i = 0; i < x->n; i++) {
            if (strcmp(x->k[i], "train.steps") == 0) continue;
            const char *other = ug_kv_get(y, x->k[i]);
            if (pass == 1 && other) continue;  /* seen in the first pass */
            if (other && strcmp(other, x->v[i]) == 0) continue;
            if (n < 3 && len < cap) {
                const char *va = pass ? "(absent)" : x->v[i], *vb = pass ? x->v[i] : (other ? other : "(absent)");
                len += (size_t)snprintf(out + len, cap - len, "%s%s: %s there, %s here", n ? "; " : "", x->k[i],
                                        va, vb);
            }
            n++;
        }
    }
    return n;
}

ug_status ug_run_from_check(ug_store *st, const ug_spec_registry *sreg, const ug_experiment *ex,
                            const char *self_id, const char *from, const char *db_path, char *src_id,
                            size_t id_cap, char *ckpt, size_t ckpt_cap, ug_error *err) {
    char msg[sizeof err->msg];
    ug_status s = ug_find_run(st, from, src_id, id_cap, err);
    if (s) {
        snprintf(msg, sizeof msg, "%s", err->msg);  /* prefixed: the first error stays unless reset */
        return ug_error_reset(err, s, "--from: %s", msg);
    }
    if (strcmp(src_id, self_id) == 0)
        return ug_error_set(err, UG_ERR_ARG, "--from %s: that is this spec's own run; `unigfn resume %s` continues it",
                            from, src_id);
    for (int k = 0; k < ex->n_optims; k++) {
        if (ex->optims[k].cfg.schedule != UG_SCHED_COSINE) continue;
        const char *g = "?";
        ug_params_group_info(ex->params, ex->optim_group[k], &g, NULL, NULL, NULL);
        return ug_error_set(err, UG_ERR_ARG,
                            "--from %s: optimizer group '%s' has a cosine schedule, which depends on "
                            "train.steps, so a continued run would not be the run a fresh start gives",
                            src_id, g);
    }
    ug_run_record *rec = NULL;
    if ((s = ug_store_get_run(st, src_id, &rec, err))) return s;
    if (rec->status == UG_RUN_RUNNING || rec->status == UG_RUN_QUEUED) {
        s = ug_error_set(err, UG_ERR_ARG, "--from %s: the run is %s; its checkpoint is not final", src_id,
                         ug_run_status_name(rec->status));
        ug_run_record_free(rec);
        return s;
    }
    ug_spec *src_spec = NULL;
    s = ug_spec_load_string(rec->experiment, rec->spec ? rec->spec : "", NULL, 0, sreg, &src_spec, err);
    ug_run_record_free(rec);
    if (s) {
        snprintf(msg, sizeof msg, "%s", err->msg);
        return ug_error_reset(err, s, "--from %s: its stored spec no longer loads: %s", src_id, msg);
    }
    ug_kv a = {0}, b = {0};
    char diff[600];
    int n = 0;
    if (ug_spec_flatten(src_spec, ug_kv_add, &a) || ug_spec_flatten(ex->spec, ug_kv_add, &b))
        s = ug_error_set(err, UG_ERR_NOMEM, "--from: out of memory");
    else if ((n = spec_differences(&a, &b, diff, sizeof diff)) > 0)
        s = ug_error_set(err, UG_ERR_ARG, "--from %s: its spec differs from this one in %d key%s other than "
                         "train.steps (%s)", src_id, n, n == 1 ? "" : "s", diff);
    ug_kv_free(&a);
    ug_kv_free(&b);
    ug_spec_free(src_spec);
    if (s) return s;
    char folder[1024];
    ug_run_folder(db_path, src_id, folder, sizeof folder);
    snprintf(ckpt, ckpt_cap, "%s/checkpoint.bin", folder);
    if (access(ckpt, R_OK) != 0)
        return ug_error_set(err, UG_ERR_IO, "--from %s: no checkpoint at %s", src_id, ckpt);
    return UG_OK;
}

ug_status ug_run_from_check_step(const ug_experiment *ex, const char *src_id, int64_t step, int64_t window,
                                 ug_error *err) {
    if (step > ex->steps)
        return ug_error_set(err, UG_ERR_ARG, "--from %s: its checkpoint is at step %lld, past train.steps %lld",
                            src_id, (long long)step, (long long)ex->steps);
    int64_t open = ex->log_every > 0 ? step % ex->log_every : window;
    if (window != open)
        return ug_error_set(err, UG_ERR_ARG,
                            "--from %s: its checkpoint at step %lld has %lld steps in its logging window where a "
                            "fresh run has %lld (it ended at a step that is not a multiple of train.log_every %lld)",
                            src_id, (long long)step, (long long)window, (long long)open, (long long)ex->log_every);
    return UG_OK;
}
