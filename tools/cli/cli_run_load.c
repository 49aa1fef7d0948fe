/* cli_run_load.c — a run of the database back as live objects, for the commands that use a trained
 * model (sample, eval): its stored spec (with the caller's overrides) built into an experiment and its
 * last checkpoint loaded. The checkpoint must name this run (run_lease.h): one left by another run of
 * the same folder would have its numbers passed off as this run's. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "unigfn/host/run_lease.h"
#include "unigfn/host/run_lookup.h"
#include "unigfn/host/runner.h"

/* A spec error after overrides is the caller's (exit 2) when the stored spec loads without them; a
 * stored spec that does not load by itself is the database's problem (exit 1). */
static bool overrides_refused(const ug_run_record *rec, const ug_spec_registry *sreg, ug_status code, int n_ovr) {
    if (code != UG_ERR_SPEC || n_ovr == 0) return false;
    ug_spec *plain = NULL;
    ug_error e = {0};
    bool ok = ug_spec_load_string(rec->experiment, rec->spec ? rec->spec : "", NULL, 0, sreg, &plain, &e) == UG_OK;
    ug_spec_free(plain);
    return ok;
}

int cli_load_run(cli_env *env, const char *cmd, const char *run, const char *const *ovr, int n_ovr, cli_loaded *out) {
    memset(out, 0, sizeof *out);
    if (!(out->st = cli_open_store(env, UG_STORE_READ))) return 1;
    ug_error err = {0};
    ug_spec_registry sreg;
    ug_registry_spec_view(env->reg, &sreg);
    ug_spec *spec = NULL;
    /* a mistyped id: cli_find_run names the closest one */
    if (cli_find_run(out->st, cmd, env->db_path, run, out->id, sizeof out->id)) return 1;
    if (ug_store_get_run(out->st, out->id, &out->rec, &err)) {
        fprintf(stderr, "unigfn %s: %s\n", cmd, err.msg);
        return 1;
    }
    const char *text = out->rec->spec ? out->rec->spec : "";
    if (ug_spec_load_string(out->rec->experiment, text, ovr, n_ovr, &sreg, &spec, &err)) {
        fprintf(stderr, "unigfn %s: %s\n", cmd, err.msg);
        return overrides_refused(out->rec, &sreg, err.code, n_ovr) ? 2 : 1;
    }
    char folder[1024];
    ug_run_folder(env->db_path, out->id, folder, sizeof folder);
    snprintf(out->ckpt, sizeof out->ckpt, "%s/checkpoint.bin", folder);
    out->built = true; /* ug_experiment_build takes the spec and leaves ex freeable whatever happens */
    if (ug_experiment_build(&out->ex, spec, env->reg, &err)) {
        fprintf(stderr, "unigfn %s: %s\n", cmd, err.msg);
        return overrides_refused(out->rec, &sreg, err.code, n_ovr) ? 2 : 1;
    }
    struct stat sb;
    if (lstat(out->ckpt, &sb) != 0 && errno == ENOENT) { /* anything else there: the loader says what */
        fprintf(stderr, "unigfn %s: run %s (%s) has no checkpoint at %s%s\n", cmd, out->id,
                ug_run_status_name(out->rec->status), out->ckpt,
                out->rec->status == UG_RUN_FINISHED ? " (its runs/ folder is not beside this database: copy it along, "
                                                      "or pass the database that ran it as --db)"
                                                    : " (it has not reached train.checkpoint_every or the end yet)");
        return 1;
    }
    ug_ckpt_identity ident;
    ug_ckpt_blob idb = ug_ckpt_identity_blob(&ident);
    bool legacy = false;
    if (ug_experiment_load(&out->ex, out->ckpt, &out->step, &idb, 1, &err) ||
        ug_ckpt_identity_check(&ident, idb.found, out->ckpt, out->step, out->ex.steps, out->rec, &legacy, &err)) {
        fprintf(stderr, "unigfn %s: %s\n", cmd, err.msg);
        return 1;
    }
    if (legacy)
        fprintf(stderr, "unigfn %s: warning: checkpoint %s has no run identity (written before checkpoints named their "
                "run): loaded without checking that it is run %s's\n", cmd, out->ckpt, out->id);
    return 0;
}

void cli_loaded_free(cli_loaded *r) {
    if (r->built) ug_experiment_free(&r->ex);
    ug_run_record_free(r->rec);
    if (r->st) ug_store_close(r->st);
    memset(r, 0, sizeof *r);
}
