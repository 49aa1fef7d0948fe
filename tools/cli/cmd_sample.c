/* cmd_sample.c — `unigfn sample RUN -n N [--seed S] [-o FILE]`: rebuild the run's model from its stored spec, load
 * its last checkpoint and print N forward samples, one per line (binary as 0/1 strings, categorical as
 * integers, continuous as numbers). A checkpoint that names another run (run_lease.h) is refused: its
 * samples would be passed off as this run's. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "unigfn/host/experiment.h"
#include "unigfn/host/run_lease.h"
#include "unigfn/host/step.h"
#include "unigfn/host/runner.h"

static void print_rows(FILE *f, const ug_tensor *x, uint32_t kind) {
    int64_t B = x->shape[0], D = x->ndim > 1 ? x->shape[1] : 1;
    const float *p = ug_f32(x);
    for (int64_t i = 0; i < B; i++) {
        for (int64_t j = 0; j < D; j++) {
            float v = p[i * D + j];
            if (kind == UG_SPACE_BINARY) fputc(v > 0.5f ? '1' : '0', f);
            else if (kind == UG_SPACE_CATEGORICAL) fprintf(f, j ? " %d" : "%d", (int)v);
            else fprintf(f, j ? " %.7g" : "%.7g", v);
        }
        fputc('\n', f);
    }
}

int cli_sample(cli_env *env, int argc, char **argv) {
    const char *run = NULL, *outp = NULL;
    long long n = 0, seed = 0;
    static const char usage[] = "usage: unigfn sample RUN -n N [--seed S] [-o FILE]\n"
                                "  N samples from the run's last checkpoint, one per line (to FILE or stdout);\n"
                                "  --seed S (default 0) picks another reproducible draw: the same S gives the same rows\n";
    if (cli_wants_help(argc, argv)) { fputs(usage, stdout); return 0; }
    for (int i = 0; i < argc; i++) {
        if ((strcmp(argv[i], "-n") == 0 || strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--seed") == 0) && i + 1 == argc) {
            fprintf(stderr, "unigfn sample: %s needs a value\n", argv[i]);
            return 2;
        }
        if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) {
            if (!cli_int_arg("sample", "-n", argv[++i], 1, 1000000000, &n)) return 2;
        }
        else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            if (!cli_int_arg("sample", "--seed", argv[++i], 0, INT64_MAX / 2, &seed)) return 2;
        }
        else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) outp = argv[++i];
        else if (!run) run = argv[i];
        else { run = NULL; break; }
    }
    if (!run || n <= 0) { fputs(usage, stderr); return 2; }
    ug_store *st = cli_open_store(env, UG_STORE_READ);
    if (!st) return 1;
    ug_error err = {0};
    char id[64];
    ug_run_record *rec = NULL;
    ug_spec *spec = NULL;
    ug_spec_registry sreg;
    ug_registry_spec_view(env->reg, &sreg);
    if (ug_find_run(st, run, id, sizeof id, &err) || ug_store_get_run(st, id, &rec, &err) ||
        ug_spec_load_string(rec->experiment, rec->spec ? rec->spec : "", NULL, 0, &sreg, &spec, &err)) {
        fprintf(stderr, "unigfn: %s\n", err.msg);
        ug_run_record_free(rec);
        ug_store_close(st);
        return 1;
    }
    ug_experiment ex;
    char folder[1024], ckpt[1100];
    ug_run_folder(env->db_path, id, folder, sizeof folder);
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.bin", folder);
    int64_t step = 0;
    int rc = 1;
    ug_ckpt_identity ident;
    ug_ckpt_blob idb = ug_ckpt_identity_blob(&ident);
    bool legacy = false;
    if (ug_experiment_build(&ex, spec, env->reg, &err) || ug_experiment_load(&ex, ckpt, &step, &idb, 1, &err) ||
        ug_ckpt_identity_check(&ident, idb.found, ckpt, step, ex.steps, rec, &legacy, &err)) {
        fprintf(stderr, "unigfn: %s\n", err.msg);
        goto done;
    }
    if (legacy)
        fprintf(stderr, "unigfn: warning: checkpoint %s has no run identity (written before checkpoints named their "
                "run): loaded without checking that it is run %s's\n", ckpt, id);
    ug_experiment_use_ema(&ex, true);  /* samples from the parameter averages where `ema:` is on */
    FILE *f = outp ? fopen(outp, "w") : stdout;
    if (!f) { perror(outp); goto done; }
    ug_set_grad_enabled(ex.ctx, false);
    /* the sample stream at "step" S: S = 0 is the draw sample has always made, each S another */
    ug_rng rng = ug_experiment_rng(&ex, UG_STREAM_SAMPLE, (int64_t)seed);
    for (long long done_n = 0; done_n < n;) {
        int64_t b = n - done_n > 4096 ? 4096 : n - done_n;
        ug_step_reset(ex.ctx);
        ug_traj_req req = {.size = sizeof req, .batch = b, .steps = -1, .flags = UG_TRAJ_NO_PB};
        ug_traj tr = {.size = sizeof tr};
        if (ex.model.vt->sample_forward(ex.model.self, ex.ctx, &rng, &req, &tr) || !tr.last) {
            fprintf(stderr, "unigfn: sampling failed: %s\n", ug_ctx_errmsg(ex.ctx));
            if (outp) fclose(f);
            goto done;
        }
        print_rows(f, ug_contiguous(ex.ctx, tr.last), ex.model.info.space.kind);
        done_n += b;
        if (ferror(f)) break;  /* a full disk: stop sampling, the close below says why */
    }
    if (cli_close_output("sample", f, outp)) goto done;
    if (outp) fprintf(stderr, "unigfn: wrote %lld samples of run %s (step %lld) to %s\n", n, id, (long long)step, outp);
    rc = 0;
done:
    ug_experiment_free(&ex);
    ug_run_record_free(rec);
    ug_store_close(st);
    return rc;
}
