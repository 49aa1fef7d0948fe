/* pb_erasures.c — which coordinates a trained binary_gfn's backward policy erases first from data:
 * EB-GFN's back-and-forth negatives (ebm_cd) erase K coordinates of a data row with P_B and rebuild
 * them, so a P_B that concentrates on a few positions perturbs only those bits. A diagnostic for
 * experiments/paper/analysis.md, not a test.
 *
 *   build/tools/pb_erasures SPEC CHECKPOINT [key=value ...] [--rows N] [--k K]
 *
 * Builds the spec's experiment, loads the checkpoint, draws N training rows from the spec's dataset
 * (its own seed, so any run's rows are the same), walks K steps back from each with P_B and prints,
 * per erasure, the mean -log P_B next to ln(set positions) (the uniform policy's value), then the share
 * of the first erasure that fell on each position. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag_load.h"
#include "unigfn/model.h"
#include "unigfn/tensor.h"

#define MAX_OVR 32

static int fail(const char *what, const char *msg) {
    fprintf(stderr, "pb_erasures: %s: %s\n", what, msg);
    return 1;
}

int main(int argc, char **argv) {
    const char *spec_path = NULL, *ckpt = NULL, *ovr[MAX_OVR];
    int n_ovr = 0;
    long rows = 2000, K = 3;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--rows") == 0 && i + 1 < argc) rows = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--k") == 0 && i + 1 < argc) K = strtol(argv[++i], NULL, 10);
        else if (!spec_path) spec_path = argv[i];
        else if (!ckpt) ckpt = argv[i];
        else if (strchr(argv[i], '=') && n_ovr < MAX_OVR) ovr[n_ovr++] = argv[i];
        else return fail("usage", "pb_erasures SPEC CHECKPOINT [key=value ...] [--rows N] [--k K]");
    }
    if (!spec_path || !ckpt || rows < 1 || K < 1)
        return fail("usage", "pb_erasures SPEC CHECKPOINT [key=value ...] [--rows N] [--k K]");

    diag_run run;
    if (diag_load(&run, "pb_erasures", spec_path, ovr, n_ovr, ckpt)) return 1;
    ug_experiment *ex = &run.ex;
    const int64_t step = run.step;
    if (strcmp(ex->model.name, "binary_gfn") != 0) {
        diag_free(&run);
        return fail("model", "this reads binary_gfn actions (2 j + v)");
    }
    const int64_t D = ex->model.info.horizon;
    if (K > D) K = D;

    ug_ctx *ctx = ex->ctx;
    ug_set_grad_enabled(ctx, false);
    ug_rng drng = ug_rng_make(ex->seed, 1u << 20), wrng = ug_rng_make(ex->seed, 1u << 21);
    ug_tensor *x = NULL;
    if (ex->data.vt->train_batch(ex->data.self, ctx, &drng, rows, 0, &x) || !x) return fail("data", ug_ctx_errmsg(ctx));
    ug_traj tr = {.size = sizeof tr};
    ug_traj_req req = {.size = sizeof req, .start = x, .start_index = (int32_t)D, .steps = (int32_t)K};
    if (ex->model.vt->sample_backward(ex->model.self, ctx, &wrng, &req, &tr)) return fail("walk", ug_ctx_errmsg(ctx));

    const int64_t B = tr.batch;
    const float *A = ug_f32(tr.actions);  // [B, K] forward order: the first erasure is column K - 1
    long *first = calloc((size_t)D, sizeof *first);
    if (!first) return fail("memory", "histogram");
    printf("step %lld, %lld rows: mean -log P_B of erasure k (uniform: ln of the set positions)\n", (long long)step,
           (long long)B);
    for (int64_t k = 0; k < K; k++) {
        const int64_t t = K - 1 - k;
        const float *lp = ug_f32(tr.log_pb[t]);
        double s = 0;
        for (int64_t b = 0; b < B; b++) {
            s -= lp[b];
            if (k == 0) first[(int64_t)A[b * tr.actions->stride[0] + t * tr.actions->stride[1]] / 2]++;
        }
        printf("  k=%lld  %.3f  (uniform %.3f)\n", (long long)k + 1, s / (double)B, log((double)(D - k)));
    }
    printf("first erasure, %% of rows per position 0..%lld:\n", (long long)D - 1);
    for (int64_t j = 0; j < D; j++) printf("%5.1f%s", 100.0 * (double)first[j] / (double)B, (j + 1) % 16 ? "" : "\n");
    if (D % 16) printf("\n");
    free(first);
    diag_free(&run);
    return 0;
}
