/* bench_conv.c — unigfn's side of tools/bench/conv: (a) conv2d forward + backward, N 64, C 32 -> 64,
 * 28x28, 3x3, padding 1, with the raw cblas_sgemm rate on the same GEMM shapes in the same process and
 * threads (the ceiling an im2col convolution is measured against); (b) one training step (forward,
 * backward, Adam) of a UNet (ug_unet, channels 32-64-128, attention at 7x7) on 28x28 images, batch 64,
 * MSE loss against a fixed target.
 *
 *   bench_conv --case conv|unet --threads T [--steps N] [--reps R] [--batch B]
 *   bench_conv --blas-info
 *
 * Prints one line of key=value pairs for the driver (wall and process-CPU medians per step, peak RSS,
 * step-arena peak; conv also GFLOP/s and the sgemm rate). Inputs come from the same splitmix64 generator
 * as conv_torch.py; weights are each side's default init (timing does not depend on their values). */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "unigfn/host/blas_info.h"
#include "unigfn/host/optim.h"
#include "unigfn/nn.h"
#include "unigfn/tensor.h"
#include "bench_util.h"

enum { CN = 64, CC = 32, CO = 64, CH = 28, CK = 3 };  /* the conv case; output 28x28 (padding 1) */

typedef struct {
    ug_ctx *ctx;
    ug_params *P;
    int group;
    ug_conv2d_layer conv;
    ug_unet unet;
    ug_optim opt;
    int64_t B;
    float *x, *g, *t;  /* conv: x [N, C, H, W], g [N, O, H, W]; unet: x [B, 1, 28, 28], g target, t [B] */
} bench;

static void fail(bench *b, const char *what) {
    fprintf(stderr, "bench_conv: %s failed: %s %s\n", what, ug_ctx_errmsg(b->ctx), b->opt.err.msg);
    exit(1);
}

/* d/dx, d/dw, d/db of sum(conv(x) * g): the forward and the two backward GEMMs of every image. */
static void conv_step(void *p) {
    bench *b = p;
    ug_ctx *c = b->ctx;
    ug_step_reset(c);
    ug_tensor *x = ug_requires_grad(c, ug_wrap(c, b->x, UG_F32, 4, (int64_t[]){CN, CC, CH, CH}));  // [N, C, H, W]
    ug_tensor *g = ug_wrap(c, b->g, UG_F32, 4, (int64_t[]){CN, CO, CH, CH});                       // [N, O, H, W]
    ug_tensor *y = ug_conv2d_layer_forward(c, &b->conv, x);                                       // [N, O, H, W]
    ug_tensor *loss = ug_sum_all(c, ug_mul(c, y, g));                                             // []
    ug_tensor *wrt[3] = {x, b->conv.w, b->conv.b}, *d[3];  /* one backward pass for all three */
    if (ug_grad(c, loss, wrt, 3, d, false) != UG_OK) fail(b, "conv step");
}

static void unet_step(void *p) {
    bench *b = p;
    ug_ctx *c = b->ctx;
    const int64_t S = b->unet.cfg.image_size;
    ug_step_reset(c);
    ug_params_zero_grad(b->P, 1ull << b->group);
    ug_tensor *x = ug_wrap(c, b->x, UG_F32, 4, (int64_t[]){b->B, 1, S, S});    // [B, 1, S, S]
    ug_tensor *y = ug_wrap(c, b->g, UG_F32, 4, (int64_t[]){b->B, 1, S, S});    // [B, 1, S, S]
    ug_tensor *t = ug_wrap(c, b->t, UG_F32, 1, (int64_t[]){b->B});             // [B]
    ug_tensor *out = ug_unet_forward(c, &b->unet, x, t);                       // [B, 1, S, S]
    ug_tensor *loss = ug_mean_all(c, ug_square(c, ug_sub(c, out, y)));         // []
    if (ug_backward(c, loss, 1ull << b->group) != UG_OK || ug_optim_step(&b->opt, NULL) != UG_OK)
        fail(b, "unet step");
}

/* The GEMMs of conv_step as the im2col convolution issues them, per image: forward w [O, CKK] @ cols
 * [CKK, L]; weight gradient g [O, L] @ cols^T (accumulated: beta 1); column gradient w^T @ g. */
typedef struct {
    float *w, *cols, *y, *dw, *dcols;
} gemm_set;

static void gemm_step(void *p) {
    const gemm_set *s = p;
    const int O = CO, K = CC * CK * CK, L = CH * CH;
    for (int n = 0; n < CN; n++) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, O, L, K, 1.0f, s->w, K, s->cols, L, 0.0f, s->y, L);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, O, K, L, 1.0f, s->y, L, s->cols, L, 1.0f, s->dw, K);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, L, O, 1.0f, s->w, K, s->y, L, 0.0f, s->dcols, L);
    }
}

int main(int argc, char **argv) {
    const char *cas = "conv";
    int threads = 1, steps = 3, reps = 5;
    int64_t B = 64;
    if (argc == 2 && !strcmp(argv[1], "--blas-info")) {
        blas_header(stdout);
        return 0;
    }
    static const char usage[] =
        "usage: bench_conv --case conv|unet --threads T [--steps N] [--reps R] [--batch B] | --blas-info\n";
    if (argc % 2 == 0) {
        bool help = !strcmp(argv[argc - 1], "-h") || !strcmp(argv[argc - 1], "--help");
        fputs(usage, help ? stdout : stderr);
        return help ? 0 : 2;
    }
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--case")) cas = argv[i + 1];
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--steps")) steps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--batch")) B = atoll(argv[i + 1]);
        else { fputs(usage, stderr); return 2; }
    }
    const bool is_conv = !strcmp(cas, "conv");
    if ((!is_conv && strcmp(cas, "unet")) || B < 1 || threads < 1 || steps < 1 || reps < 1 || reps > 1000) {
        fputs(usage, stderr);
        return 2;
    }

    bench b = {.B = B};
    b.ctx = ug_ctx_new(256u << 20);
    ug_set_threads(b.ctx, threads);
    blas_header(stderr);
    b.P = ug_params_new();
    ug_rng rng = ug_rng_make(1, 0);
    ug_status st;
    if (is_conv) {
        ug_conv2d_opts o = {.padding = {1, 1}};
        st = ug_conv2d_layer_init(&b.conv, b.P, "forward", "conv", CC, CO, CK, CK, &o, true, &rng);
    } else {
        ug_unet_config cfg = {.in_channels = 1, .out_channels = 1, .base_channels = 32, .n_levels = 3,
                              .ch_mult = {1, 2, 4}, .blocks_per_level = 1, .n_attn = 1, .attn_res = {7},
                              .image_size = 28};
        st = ug_unet_init(&b.unet, b.P, "forward", &cfg, &rng);
    }
    if (st != UG_OK || ug_params_finalize(b.P) != UG_OK) {
        fprintf(stderr, "bench_conv: %s\n", ug_params_errmsg(b.P));
        return 1;
    }
    b.group = ug_params_group_index(b.P, "forward");
    int64_t nparam = 0;
    ug_params_group_info(b.P, b.group, NULL, NULL, NULL, &nparam);
    const int64_t nx = is_conv ? (int64_t)CN * CC * CH * CH : B * 28 * 28;
    const int64_t ng = is_conv ? (int64_t)CN * CO * CH * CH : B * 28 * 28;
    b.x = malloc(sizeof(float) * (size_t)nx);
    b.g = malloc(sizeof(float) * (size_t)ng);
    b.t = malloc(sizeof(float) * (size_t)B);
    gen(b.x, nx, 1, 1.0);
    gen(b.g, ng, 2, 1.0);
    gen(b.t, B, 3, 1.0);
    for (int64_t i = 0; i < B; i++) b.t[i] = floorf((b.t[i] + 1.0f) * 500.0f);  // timesteps 0 .. 999
    if (!is_conv) {
        ug_optim_config oc = ug_optim_defaults(UG_OPTIM_ADAM);
        if (ug_optim_init(&b.opt, b.P, b.group, &oc) != UG_OK) {
            fprintf(stderr, "bench_conv: %s\n", b.opt.err.msg);
            return 1;
        }
    }

    double *samples = malloc(2 * sizeof(double) * (size_t)reps), cpu_s;
    double step_s = time_reps(is_conv ? conv_step : unet_step, &b, steps, reps, samples, &cpu_s);
    struct rusage ru;  /* before the GEMM buffers below exist */
    getrusage(RUSAGE_SELF, &ru);
    /* forward, weight gradient and input gradient: 2 N O (C k k) OH OW each */
    const double flops = 3.0 * 2.0 * CN * CO * (double)(CC * CK * CK) * (CH * CH);
    double gemm_s = NAN;
    if (is_conv) {
        const int64_t K = CC * CK * CK, L = CH * CH;
        gemm_set gs = {malloc(sizeof(float) * (size_t)(CO * K)), malloc(sizeof(float) * (size_t)(K * L)),
                       malloc(sizeof(float) * (size_t)(CO * L)), calloc((size_t)(CO * K), sizeof(float)),
                       malloc(sizeof(float) * (size_t)(K * L))};
        gen(gs.w, CO * K, 20, 0.1);
        gen(gs.cols, K * L, 21, 1.0);
        gen(gs.y, CO * L, 22, 1.0);
        gemm_s = time_reps(gemm_step, &gs, steps, reps, samples, NULL);
        free(gs.w);
        free(gs.cols);
        free(gs.y);
        free(gs.dw);
        free(gs.dcols);
    }
    printf("unigfn case=%s batch=%lld threads=%d steps=%d reps=%d params=%lld ms_step=%.6f cpu_ms_step=%.6f "
           "gflops=%.3f sgemm_ms=%.6f sgemm_gflops=%.3f maxrss_kb=%ld arena_peak_kb=%zu\n",
           cas, (long long)(is_conv ? CN : B), threads, steps, reps, (long long)nparam, step_s * 1e3, cpu_s * 1e3,
           is_conv ? flops / step_s * 1e-9 : NAN, gemm_s * 1e3, is_conv ? flops / gemm_s * 1e-9 : NAN, ru.ru_maxrss,
           ug_arena_peak(b.ctx) / 1024);
    free(samples);
    free(b.x);
    free(b.g);
    free(b.t);
    if (!is_conv) ug_optim_free(&b.opt);
    ug_params_free(b.P);
    ug_ctx_free(b.ctx);
    return 0;
}
