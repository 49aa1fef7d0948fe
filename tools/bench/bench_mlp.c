/* bench_mlp.c — unigfn's side of tools/bench/mlp: time one training step (forward, backward, Adam) of
 * the MLP 32 -> 256 -> 256 -> 256 -> 96 with LeakyReLU and a mean-squared-error loss, and, in the same
 * process and with the same threads, the raw cblas_sgemm rate on that step's GEMM shapes (the
 * ceiling unigfn's GEMM-bound large batches are measured against).
 *
 *   bench_mlp --batch B --threads T [--steps N] [--reps R] [--sgemm 0]
 *   bench_mlp --blas-info
 *
 * --sgemm 0 skips the raw-GEMM measurement (for profiling the training step alone).
 * Prints a header line `blas <the run rows' BLAS line>` (with a warning on stderr when the BLAS kernels
 * are far below the CPU, blas_info.h), then one line of key=value pairs for the driver. --blas-info
 * prints only the header and the warning, both on stdout, for the driver's own header. Weights and data come from the same splitmix64
 * generator as tools/bench/mlp_torch.py so both sides train the same network on the same numbers. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "unigfn/nn.h"
#include "unigfn/host/blas_info.h"
#include "unigfn/host/optim.h"
#include "unigfn/tensor.h"
#include "bench_util.h"

#define NW 5
static const int64_t widths[NW] = {32, 256, 256, 256, 96};

typedef struct {
    ug_ctx *ctx;
    ug_params *P;
    ug_mlp mlp;
    ug_optim opt;
    int group;
    int64_t B;
    float *x, *target;
} trainer;

static void train_step(trainer *t) {
    ug_ctx *c = t->ctx;
    ug_step_reset(c);
    ug_params_zero_grad(t->P, 1ull << t->group);
    ug_tensor *x = ug_wrap(c, t->x, UG_F32, 2, (int64_t[]){t->B, widths[0]});
    ug_tensor *y = ug_wrap(c, t->target, UG_F32, 2, (int64_t[]){t->B, widths[NW - 1]});
    ug_tensor *out = ug_mlp_forward(c, &t->mlp, x);
    ug_tensor *loss = ug_mean_all(c, ug_square(c, ug_sub(c, out, y)));
    if (ug_backward(c, loss, 1ull << t->group) != UG_OK || ug_optim_step(&t->opt, NULL) != UG_OK) {
        fprintf(stderr, "bench_mlp: training step failed: %s %s\n", ug_ctx_errmsg(c), t->opt.err.msg);
        exit(1);
    }
}

/* The GEMMs of one step, as unigfn issues them (row-major): forward y = x w^T (NT), weight gradient
 * g^T x (TN, accumulated into the gradient block: beta 1), input gradient g w (NN) for every layer
 * but the first. */
typedef struct {
    float *x[NW], *w[NW], *y[NW], *dw[NW], *dx[NW];
    int64_t B;
} gemm_set;

static void gemm_step(const gemm_set *s) {
    const int B = (int)s->B;
    for (int l = 0; l + 1 < NW; l++) {
        const int in = (int)widths[l], out = (int)widths[l + 1];
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, out, in, 1.0f, s->x[l], in, s->w[l], in,
                    0.0f, s->y[l], out);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, B, 1.0f, s->y[l], out, s->x[l], in,
                    1.0f, s->dw[l], in);
        if (l > 0)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, in, out, 1.0f, s->y[l], out, s->w[l],
                        in, 0.0f, s->dx[l], in);
    }
}

static void run_train(void *p) { train_step(p); }
static void run_gemm(void *p) { gemm_step(p); }

int main(int argc, char **argv) {
    int64_t B = 128;
    int threads = 1, steps = 50, reps = 5, sgemm = 1;
    if (argc == 2 && !strcmp(argv[1], "--blas-info")) {
        blas_header(stdout);
        return 0;
    }
    static const char usage[] = "usage: bench_mlp --batch B --threads T [--steps N] [--reps R] [--sgemm 0] | --blas-info\n";
    if (argc % 2 == 0) { /* options come in pairs: a lone --help is not a benchmark with defaults */
        bool help = !strcmp(argv[argc - 1], "-h") || !strcmp(argv[argc - 1], "--help");
        fputs(usage, help ? stdout : stderr);
        return help ? 0 : 2;
    }
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--batch")) B = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--steps")) steps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--sgemm")) sgemm = atoi(argv[i + 1]);
        else { fputs(usage, stderr); return 2; }
    }
    if (B < 1 || threads < 1 || steps < 1 || reps < 1 || reps > 1000) return 2;

    trainer t = {.B = B};
    t.ctx = ug_ctx_new(64u << 20);
    ug_set_threads(t.ctx, threads);
    blas_header(stderr);
    t.P = ug_params_new();
    ug_rng rng = ug_rng_make(1, 0);
    if (ug_mlp_init(&t.mlp, t.P, "forward", "mlp", widths, NW, UG_ACT_LEAKY_RELU, 0.01f, &rng) != UG_OK ||
        ug_params_finalize(t.P) != UG_OK) {
        fprintf(stderr, "bench_mlp: %s\n", ug_params_errmsg(t.P));
        return 1;
    }
    t.group = ug_params_group_index(t.P, "forward");
    for (int l = 0; l + 1 < NW; l++) {  /* nn.Linear's bound 1/sqrt(in), same numbers as the torch side */
        double bound = 1.0 / sqrt((double)widths[l]);
        gen(ug_f32(t.mlp.layers[l].w), ug_numel(t.mlp.layers[l].w), 1000 + 2 * (uint64_t)l, bound);
        gen(ug_f32(t.mlp.layers[l].b), ug_numel(t.mlp.layers[l].b), 1001 + 2 * (uint64_t)l, bound);
    }
    ug_optim_config cfg = ug_optim_defaults(UG_OPTIM_ADAM);
    if (ug_optim_init(&t.opt, t.P, t.group, &cfg) != UG_OK) {
        fprintf(stderr, "bench_mlp: %s\n", t.opt.err.msg);
        return 1;
    }
    t.x = malloc(sizeof(float) * (size_t)(B * widths[0]));
    t.target = malloc(sizeof(float) * (size_t)(B * widths[NW - 1]));
    gen(t.x, B * widths[0], 1, 1.0);
    gen(t.target, B * widths[NW - 1], 2, 1.0);

    double *samples = malloc(2 * sizeof(double) * (size_t)reps), step_cpu_s;
    double step_s = time_reps(run_train, &t, steps, reps, samples, &step_cpu_s);
    struct rusage ru;  /* before the GEMM buffers below exist */
    getrusage(RUSAGE_SELF, &ru);

    /* FLOPs of the GEMMs of one step: forward, weight gradient and input gradient are 2*B*in*out each;
     * the first layer's input gradient is never computed (x needs no gradient). */
    double flops = 0;
    for (int l = 0; l + 1 < NW; l++) flops += (l > 0 ? 6.0 : 4.0) * (double)B * (double)(widths[l] * widths[l + 1]);

    gemm_set gs = {.B = B};
    for (int l = 0; l + 1 < NW; l++) {
        int64_t in = widths[l], out = widths[l + 1];
        gs.x[l] = malloc(sizeof(float) * (size_t)(B * in));
        gs.dx[l] = malloc(sizeof(float) * (size_t)(B * in));
        gs.w[l] = malloc(sizeof(float) * (size_t)(out * in));
        gs.dw[l] = calloc((size_t)(out * in), sizeof(float));
        gs.y[l] = malloc(sizeof(float) * (size_t)(B * out));
        gen(gs.x[l], B * in, 10 + (uint64_t)l, 1.0);
        gen(gs.w[l], out * in, 20 + (uint64_t)l, 0.1);
        gen(gs.y[l], B * out, 30 + (uint64_t)l, 1.0);
    }
    double gemm_s = sgemm ? time_reps(run_gemm, &gs, steps, reps, samples, NULL) : NAN;

    printf("unigfn batch=%lld threads=%d steps=%d reps=%d ms_step=%.6f cpu_ms_step=%.6f gflops=%.3f "
           "sgemm_ms=%.6f sgemm_gflops=%.3f maxrss_kb=%ld arena_peak_kb=%zu\n",
           (long long)B, threads, steps, reps, step_s * 1e3, step_cpu_s * 1e3, flops / step_s * 1e-9, gemm_s * 1e3,
           flops / gemm_s * 1e-9, ru.ru_maxrss, ug_arena_peak(t.ctx) / 1024);

    for (int l = 0; l + 1 < NW; l++) {
        free(gs.x[l]);
        free(gs.dx[l]);
        free(gs.w[l]);
        free(gs.dw[l]);
        free(gs.y[l]);
    }
    free(samples);
    free(t.x);
    free(t.target);
    ug_optim_free(&t.opt);
    ug_params_free(t.P);
    ug_ctx_free(t.ctx);
    return 0;
}
