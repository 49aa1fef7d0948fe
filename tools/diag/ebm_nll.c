/* ebm_nll.c — the NLL of a trained model's own energy (log R), to tell apart the two halves of
 * EB-GFN: if the energy model's NLL is low while the GFlowNet's is not, the sampler lags its reward;
 * if both are high, the energy has not learned the data yet. A diagnostic for
 * experiments/paper/analysis.md, not a test.
 *
 *   build/tools/ebm_nll SPEC CHECKPOINT [key=value ...] [--codes N] [--groups G] [--rows R]
 *
 * log p_E(x) = log R(x) − log Z with Z = Σ over all 2^D binary codes of R(u) = 2^D · E_u[R(u)], u
 * uniform on {0,1}^D (the EB-GFN paper's estimate): each of G groups draws N codes and gives one
 * estimate of log Z; the NLL is the mean of −log R over the first R held-out rows plus log Z, printed
 * per group and as mean ± sd over groups. log Ẑ from a finite sample is biased low (Jensen), so the
 * printed NLL is biased low too; the spread between groups says by how much it can be trusted. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag_load.h"
#include "unigfn/model.h"
#include "unigfn/tensor.h"

#define MAX_OVR 32
#define CHUNK 4096

static int fail(const char *what, const char *msg) {
    fprintf(stderr, "ebm_nll: %s: %s\n", what, msg);
    return 1;
}

/* log R of a [B, D] tensor appended to out[*n]. */
static int log_rewards(ug_experiment *ex, ug_tensor *x, double *out, int64_t *n) {
    ug_tensor *r = ex->model.vt->log_reward(ex->model.self, ex->ctx, x);  // [B]
    if (!r || !(r = ug_contiguous(ex->ctx, r))) return 1;
    const float *p = ug_f32(r);
    for (int64_t b = 0; b < x->shape[0]; b++) out[(*n)++] = p[b];
    return 0;
}

/* One group's log Z from N uniform codes: D ln 2 + logsumexp(log R(u_i)) − ln N. */
static int log_z(ug_experiment *ex, uint64_t stream, int64_t N, int64_t D, double *lr, double *out) {
    ug_rng rng = ug_rng_make(ex->seed, stream);
    int64_t n = 0;
    for (int64_t off = 0; off < N; off += CHUNK) {
        int64_t B = N - off < CHUNK ? N - off : CHUNK;
        ug_tensor *u = ug_new2(ex->ctx, B, D);  // [B, D] uniform bits
        if (!u) return 1;
        float *up = ug_f32(u);
        ug_rng_uniform(&rng, up, B * D);
        for (int64_t i = 0; i < B * D; i++) up[i] = up[i] < 0.5f ? 0.0f : 1.0f;
        if (log_rewards(ex, u, lr, &n)) return 1;
        ug_step_reset(ex->ctx);
    }
    double mx = -INFINITY, s = 0;
    for (int64_t i = 0; i < N; i++) mx = lr[i] > mx ? lr[i] : mx;
    for (int64_t i = 0; i < N; i++) s += exp(lr[i] - mx);
    *out = (double)D * log(2.0) + mx + log(s) - log((double)N);
    return 0;
}

int main(int argc, char **argv) {
    const char *spec_path = NULL, *ckpt = NULL, *ovr[MAX_OVR];
    const char *usage = "ebm_nll SPEC CHECKPOINT [key=value ...] [--codes N] [--groups G] [--rows R]";
    int n_ovr = 0;
    long codes = 1L << 18, groups = 5, rows = 4000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--codes") == 0 && i + 1 < argc) codes = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--groups") == 0 && i + 1 < argc) groups = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--rows") == 0 && i + 1 < argc) rows = strtol(argv[++i], NULL, 10);
        else if (!spec_path) spec_path = argv[i];
        else if (!ckpt) ckpt = argv[i];
        else if (strchr(argv[i], '=') && n_ovr < MAX_OVR) ovr[n_ovr++] = argv[i];
        else return fail("usage", usage);
    }
    if (!spec_path || !ckpt || codes < 2 || groups < 1 || rows < 1) return fail("usage", usage);

    diag_run run;
    if (diag_load(&run, "ebm_nll", spec_path, ovr, n_ovr, ckpt)) return 1;
    ug_experiment *ex = &run.ex;
    double *lr = NULL;
    int rc = 1;  // every exit below goes through `out`, which frees the run and the buffer
    if (!(ex->model.info.caps & UG_CAP_LOG_REWARD) || !ex->model.vt->log_reward) {
        fail("model", "this model has no log_reward (an energy model)");
        goto out;
    }
    if (ex->model.info.space.kind != UG_SPACE_BINARY) {
        fail("model", "the uniform proposal needs a binary space");
        goto out;
    }
    const int64_t D = ex->model.info.space.dim;
    ug_set_grad_enabled(ex->ctx, false);

    ug_dataset_info di = {.size = sizeof di};
    ex->data.vt->info(ex->data.self, &di);
    if (rows > di.heldout_size) rows = di.heldout_size;
    if (!(lr = malloc((size_t)(codes > rows ? codes : rows) * sizeof *lr))) {
        fail("memory", "log R buffer");
        goto out;
    }
    int64_t n = 0;
    for (int64_t off = 0; off < rows; off += CHUNK) {
        int64_t B = rows - off < CHUNK ? rows - off : CHUNK;
        ug_tensor *x = NULL;
        if (ex->data.vt->heldout(ex->data.self, ex->ctx, off, B, &x) || !x) {
            fail("data", ug_ctx_errmsg(ex->ctx));
            goto out;
        }
        if (log_rewards(ex, x, lr, &n)) {
            fail("log_reward", ug_ctx_errmsg(ex->ctx));
            goto out;
        }
        ug_step_reset(ex->ctx);
    }
    double mean_lr = 0;
    for (int64_t i = 0; i < rows; i++) mean_lr += lr[i] / (double)rows;
    printf("step %lld: mean log R over %ld held-out rows %.4f; log Z from %ld uniform codes per group\n",
           (long long)run.step, rows, mean_lr, codes);
    double s1 = 0, s2 = 0;
    for (long g = 0; g < groups; g++) {
        double lz;
        if (log_z(ex, (1u << 22) + (uint64_t)g, codes, D, lr, &lz)) {
            fail("log_reward", ug_ctx_errmsg(ex->ctx));
            goto out;
        }
        double nll = lz - mean_lr;
        printf("  group %ld: log Z %.4f  NLL %.4f\n", g, lz, nll);
        s1 += nll;
        s2 += nll * nll;
    }
    double mean = s1 / (double)groups, var = groups > 1 ? (s2 - s1 * mean) / (double)(groups - 1) : 0;
    printf("energy-model NLL %.4f ± %.4f (sd over %ld groups)\n", mean, sqrt(var > 0 ? var : 0), groups);
    rc = 0;
out:
    free(lr);
    diag_free(&run);
    return rc;
}
