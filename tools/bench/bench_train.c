/* bench_train.c — unigfn's side of tools/bench/train: time the training iterations of a real spec
 * (experiments/paper/{mlegfn,ebgfn}-checkerboard.yaml) built through the experiment builder, without
 * the store, the metrics or checkpoints, and measure raw cblas_sgemm on exactly the GEMMs of one
 * iteration, in the same process and with the same threads.
 *
 *   bench_train SPEC [key=value ...] [--steps N] [--reps R] [--serve] [--sgemm 0]
 *   bench_train --blas-info
 *
 * Without --serve the first line is `blas <the run rows' BLAS line>` (a warning on stderr when the BLAS
 * kernels are far below the CPU, blas_info.h); --blas-info prints only that line and the warning, on
 * stdout, for the driver's header (in --serve mode the first line stays "ready").
 *
 * Overrides go to the spec as on `unigfn run` (the driver passes threads=T, 'metrics=[]' and, for
 * EB-GFN, objective.1.k=K). One iteration is the runner's train_step (core/src/runner.c) minus the
 * dataset draw and the logging sums: per objective term, zero the term's gradients, restrict grad
 * recording to its groups, loss, ug_backward, one optimizer step per updated group. The data batch
 * is drawn once by the spec's dataset and reused, so data generation is not timed (the PyTorch side
 * does the same); the draw's own cost is printed as draw_us.
 *
 * GEMM FLOPs are counted analytically from the network shapes (read from the parameter groups) and
 * from how often binary_gfn calls each network per iteration (bgfn_traj.c): a forward call of an MLP
 * on b rows costs 2 b in out per layer; a backward pass 2 b in out for the weight gradient plus 2 b in
 * out for the input gradient of every layer but the first (the state needs no gradient). Bias adds,
 * activations, softmaxes and Adam are not counted. The replay issues those same GEMMs (same M, N, K,
 * transposes and beta as ops_linalg.c) through cblas_sgemm alone. The count is checked: this program
 * links with -Wl,--wrap=cblas_sgemm (tools/meson.build), so every cblas_sgemm of one iteration, the
 * library's included, is counted and printed next to the analytic figures (gemm_calls_seen, gflop_seen).
 *
 * Without --serve: warm-up of N/5 iterations, R repetitions, one key=value line (median). With --serve
 * (tools/bench/train interleaves this with train_torch.py): "ready" after the warm-up, then stdin lines
 * "rep" (N iterations -> "rep ms_iter=..."), "sgemm" (N GEMM replays -> "sgemm ms_iter=...") and
 * "quit" (-> the final line). */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "unigfn/host/blas_info.h"
#include "bench_util.h"
#include "unigfn/host/experiment.h"
#include "unigfn/host/loader.h"
#include "unigfn/host/spec.h"
#include "unigfn/host/step.h"
#include "unigfn/nn.h"
#include "unigfn/host/optim.h"
#include "unigfn/tensor.h"

#define MAX_OVR 32
#define MAX_W 8

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double cpu_s(void) {  /* process CPU time, all threads: under a shared machine's load the
                              * wall time also measures the scheduler's share */
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static long maxrss_kb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* ---- every cblas_sgemm of the process goes through here (-Wl,--wrap=cblas_sgemm) ---- */
void __real_cblas_sgemm(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, blasint M,
                        blasint N, blasint K, float alpha, const float *A, blasint lda, const float *B,
                        blasint ldb, float beta, float *C, blasint ldc);
void __wrap_cblas_sgemm(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, blasint M,
                        blasint N, blasint K, float alpha, const float *A, blasint lda, const float *B,
                        blasint ldb, float beta, float *C, blasint ldc);

static bool g_count;
static int64_t g_calls;
static double g_flops;

void __wrap_cblas_sgemm(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, blasint M,
                        blasint N, blasint K, float alpha, const float *A, blasint lda, const float *B,
                        blasint ldb, float beta, float *C, blasint ldc) {
    if (g_count) {
        g_calls++;
        g_flops += 2.0 * (double)M * (double)N * (double)K;
    }
    __real_cblas_sgemm(order, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* ---- one training iteration: the runner's step (step.c) on a fixed batch ---- */
typedef struct bench {
    ug_experiment ex;
    float *batch;          // [B, D] drawn once
    int64_t shape[2];
    int64_t step;
} bench;

static void die(const char *what, const char *msg) {
    fprintf(stderr, "bench_train: %s: %s\n", what, msg);
    exit(1);
}

static void train_iteration(bench *b) {
    ug_experiment *ex = &b->ex;
    ug_step_reset(ex->ctx);
    ug_tensor *x = ug_wrap(ex->ctx, b->batch, UG_F32, 2, b->shape);  // [B, D]
    ug_step_losses out;
    ug_error err = {0};
    if (ug_step_terms(ex, b->step, x, &out, &err)) die("step", err.msg);
    b->step++;
}

/* ---- the GEMMs of one iteration ---- */
typedef struct net {
    const char *group;
    int nw;
    int64_t w[MAX_W];      // widths {in, hidden..., out}
} net;

typedef struct gemm_call {
    int ta, tb, M, N, K;
    float beta;
    int net, layer, kind;  // kind 0 forward, 1 weight gradient, 2 input gradient
} gemm_call;

typedef struct plan {
    net nets[4];
    int n_nets;
    gemm_call *calls;
    int n, cap;
    double flops;
    int64_t maxb;
} plan;

/* The widths of the MLP that group `g` holds: its 2-D parameters in declaration order, [out, in] each. */
static int group_net(const ug_params *P, const char *group, net *out) {
    int g = ug_params_group_index(P, group);
    if (g < 0) return -1;
    out->group = group;
    out->nw = 0;
    for (int i = 0; i < ug_params_group_size(P, g); i++) {
        const ug_tensor *t = ug_params_get(P, g, i);
        if (t->ndim != 2) continue;
        if (out->nw == 0) out->w[out->nw++] = t->shape[1];
        else if (out->w[out->nw - 1] != t->shape[1]) return -1;  // not a chain: not an MLP
        if (out->nw >= MAX_W) return -1;
        out->w[out->nw++] = t->shape[0];
    }
    return out->nw >= 2 ? 0 : -1;
}

static void add_call(plan *p, gemm_call c) {
    if (p->n == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 256;
        p->calls = realloc(p->calls, sizeof *p->calls * (size_t)p->cap);
        if (!p->calls) die("plan", "out of memory");
    }
    p->calls[p->n++] = c;
    p->flops += 2.0 * c.M * c.N * c.K;
}

/* `fwd` forward calls and `bwd` backward passes of net i on b rows, as ops_linalg.c issues them. */
static void add_mlp(plan *p, int i, int64_t b, int fwd, int bwd) {
    if (i < 0) die("plan", "a network the objectives call is missing");
    const net *n = &p->nets[i];
    if (b > p->maxb) p->maxb = b;
    for (int c = 0; c < fwd; c++)
        for (int l = 0; l + 1 < n->nw; l++)  // y = x W^T + bias (beta 1 over the bias rows)
            add_call(p, (gemm_call){0, 1, (int)b, (int)n->w[l + 1], (int)n->w[l], 1.0f, i, l, 0});
    for (int c = 0; c < bwd; c++)
        for (int l = n->nw - 2; l >= 0; l--) {
            // dW += g^T x straight into the gradient block; dx = g W except for the first layer
            add_call(p, (gemm_call){1, 0, (int)n->w[l + 1], (int)n->w[l], (int)b, 1.0f, i, l, 1});
            if (l > 0) add_call(p, (gemm_call){0, 0, (int)b, (int)n->w[l], (int)n->w[l + 1], 0.0f, i, l, 2});
        }
}

static int find_net(const plan *p, const char *group) {
    for (int i = 0; i < p->n_nets; i++)
        if (!strcmp(p->nets[i].group, group)) return i;
    return -1;
}

/* Network calls of a binary_gfn walk of `steps` steps on b rows (bgfn_traj.c): a shared trunk is called
 * at every state (steps + 1); separate nets each `steps` times (the first state needs only the policy
 * of the walk's direction, the last only the other). `graph`: those calls are differentiated. */
static void add_walk(plan *p, bool shared, int64_t b, int steps, bool graph_f, bool graph_b) {
    if (shared) {
        add_mlp(p, find_net(p, "forward"), b, steps + 1, graph_f ? steps + 1 : 0);
    } else {
        add_mlp(p, find_net(p, "forward"), b, steps, graph_f ? steps : 0);
        add_mlp(p, find_net(p, "backward"), b, steps, graph_b ? steps : 0);
    }
}

/* FLOP plan of one iteration, from the resolved spec. Knows the four objectives the paper specs use;
 * returns -1 (no FLOP count) for anything else. */
static int build_plan(bench *bn, plan *p, int *K_out) {
    ug_experiment *ex = &bn->ex;
    const char *groups[] = {"forward", "backward", "energy"};
    for (int i = 0; i < 3; i++)
        if (group_net(ex->params, groups[i], &p->nets[p->n_nets]) == 0) p->n_nets++;
    const ug_cfg *model = ug_spec_section(ex->spec, "model");
    if (strcmp(ex->model.name, "binary_gfn") != 0) return -1;
    const bool shared = ug_cfg_bool(model, "shared_trunk", false);
    const int64_t B = bn->shape[0];
    const int D = (int)ex->model.info.horizon;
    const int ie = find_net(p, "energy");
    int gf = ug_params_group_index(ex->params, "forward"), gb = ug_params_group_index(ex->params, "backward");
    *K_out = 0;
    for (int t = 0; t < ex->n_terms; t++) {
        const ug_cfg *o = ug_spec_objective(ex->spec, t);
        const char *name = ex->terms[t].desc->name;
        uint64_t um = ex->terms[t].update_mask;
        bool upd_f = gf >= 0 && ((um >> gf) & 1u), upd_b = gb >= 0 && ((um >> gb) & 1u);
        if (!strcmp(name, "kl_tb") && !strcmp(ug_cfg_str(o, "direction", "data"), "data") &&
            !ug_cfg_bool(o, "score_pb", false)) {
            add_walk(p, shared, B, D, upd_f, upd_b);
        } else if (!strcmp(name, "tbc")) {
            add_walk(p, shared, 2 * ug_cfg_int(o, "pairs", 1) * B, D, upd_f, upd_b);
        } else if (!strcmp(name, "tb") && ug_cfg_float(o, "explore", 0) == 0) {
            int64_t Bt = ug_cfg_int(o, "batch", 0) > 0 ? ug_cfg_int(o, "batch", 0) : B;
            int64_t Bf = llround((double)Bt * ug_cfg_float(o, "forward_ratio", 0.5)), Bb = Bt - Bf;
            if (Bf > 0) add_walk(p, shared, Bf, D, upd_f, upd_b);
            if (Bb > 0) add_walk(p, shared, Bb, D, upd_f, upd_b);
            bool upd_e = ie >= 0 && ((um >> ug_params_group_index(ex->params, "energy")) & 1u);
            if (Bf > 0) add_mlp(p, ie, Bf, 1, upd_e);
            if (Bb > 0) add_mlp(p, ie, Bb, 1, upd_e);
        } else if (!strcmp(name, "ebm_cd")) {
            int64_t k = ug_cfg_int(o, "k", 0), ka = ug_cfg_int(o, "k_anneal_steps", 100000);
            if (k <= 0) k = ka <= 0 ? D : (int64_t)floor((double)D * 1.0 / (double)ka);  // step 0
            if (k < 1) k = 1;
            if (k > D) k = D;
            *K_out = (int)k;
            add_mlp(p, ie, B, 1, 1);                             // log R(data), differentiated
            add_walk(p, shared, B, (int)k, false, false);        // erase K (no grad)
            add_walk(p, shared, B, (int)k, false, false);        // rebuild K (no grad)
            add_mlp(p, ie, B, 1, 0);                             // log R(x')
            add_mlp(p, ie, B, 1, 1);                             // log R(negatives), differentiated
        } else {
            return -1;
        }
    }
    return 0;
}

typedef struct replay {
    const plan *p;
    float *x[4][MAX_W], *w[4][MAX_W], *y[4][MAX_W], *dw[4][MAX_W], *dx[4][MAX_W];
} replay;

static float *fill_buf(int64_t n, float v) {
    float *b = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
    if (!b) die("replay", "out of memory");
    for (int64_t i = 0; i < n; i++) b[i] = v * (float)((i * 7919) % 1000 - 500) / 500.0f;
    return b;
}

static void replay_init(replay *r, const plan *p) {
    memset(r, 0, sizeof *r);
    r->p = p;
    for (int i = 0; i < p->n_nets; i++)
        for (int l = 0; l + 1 < p->nets[i].nw; l++) {
            int64_t in = p->nets[i].w[l], out = p->nets[i].w[l + 1], B = p->maxb;
            r->x[i][l] = fill_buf(B * in, 1.0f);
            r->dx[i][l] = fill_buf(B * in, 0.0f);
            r->w[i][l] = fill_buf(out * in, 0.05f);
            r->dw[i][l] = fill_buf(out * in, 0.0f);
            r->y[i][l] = fill_buf(B * out, 0.01f);
        }
}

static void replay_free(replay *r) {
    for (int i = 0; i < 4; i++)
        for (int l = 0; l < MAX_W; l++) {
            free(r->x[i][l]);
            free(r->dx[i][l]);
            free(r->w[i][l]);
            free(r->dw[i][l]);
            free(r->y[i][l]);
        }
}

static void replay_run(const replay *r) {
    const plan *p = r->p;
    for (int c = 0; c < p->n; c++) {
        const gemm_call *g = &p->calls[c];
        const int i = g->net, l = g->layer;
        const CBLAS_TRANSPOSE ta = g->ta ? CblasTrans : CblasNoTrans, tb = g->tb ? CblasTrans : CblasNoTrans;
        const int lda = g->ta ? g->M : g->K, ldb = g->tb ? g->K : g->N;
        if (g->kind == 0)       // x [M=B, K=in] * w^T ([N=out, K=in]) -> y [B, out]
            cblas_sgemm(CblasRowMajor, ta, tb, g->M, g->N, g->K, 1.0f, r->x[i][l], lda, r->w[i][l], ldb, g->beta,
                        r->y[i][l], g->N);
        else if (g->kind == 1)  // y^T ([K=B, M=out]) * x [B, N=in] -> dw [out, in]
            cblas_sgemm(CblasRowMajor, ta, tb, g->M, g->N, g->K, 1.0f, r->y[i][l], lda, r->x[i][l], ldb, g->beta,
                        r->dw[i][l], g->N);
        else                    // y [M=B, K=out] * w [out, N=in] -> dx [B, in]
            cblas_sgemm(CblasRowMajor, ta, tb, g->M, g->N, g->K, 1.0f, r->y[i][l], lda, r->w[i][l], ldb, g->beta,
                        r->dx[i][l], g->N);
    }
}

/* Wall seconds per iteration; *cpu gets CPU seconds per iteration. */
static double time_iters(bench *b, int n, double *cpu) {
    double t0 = now_s(), c0 = cpu_s();
    for (int i = 0; i < n; i++) train_iteration(b);
    *cpu = (cpu_s() - c0) / n;
    return (now_s() - t0) / n;
}

static double time_replay(const replay *r, int n, double *cpu) {
    double t0 = now_s(), c0 = cpu_s();
    for (int i = 0; i < n; i++) replay_run(r);
    *cpu = (cpu_s() - c0) / n;
    return (now_s() - t0) / n;
}

int main(int argc, char **argv) {
    const char *spec_path = NULL;
    const char *ovr[MAX_OVR];
    int n_ovr = 0, steps = 50, reps = 5, serve = 0, sgemm = 1;
    if (argc == 2 && !strcmp(argv[1], "--blas-info")) {
        blas_header(stdout);
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--steps") && i + 1 < argc) steps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--sgemm") && i + 1 < argc) sgemm = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--serve")) serve = 1;
        else if (argv[i][0] != '-' && !spec_path) spec_path = argv[i];
        else if (argv[i][0] != '-' && strchr(argv[i], '=') && n_ovr < MAX_OVR) ovr[n_ovr++] = argv[i];
        else {
            fprintf(stderr, "usage: bench_train SPEC [key=value ...] [--steps N] [--reps R] [--serve] [--sgemm 0] | --blas-info\n");
            return 2;
        }
    }
    if (!spec_path || steps < 1 || reps < 1 || reps > 1000) {
        fprintf(stderr, "usage: bench_train SPEC [key=value ...] [--steps N] [--reps R] [--serve] [--sgemm 0] | --blas-info\n");
        return 2;
    }

    ug_error err = {0};
    ug_registry *reg = ug_registry_new();
    if (!reg || ug_registry_scan_default(reg, &err)) die("plugins", err.msg);
    ug_spec_registry sreg;
    ug_registry_spec_view(reg, &sreg);
    ug_spec *spec = NULL;
    if (ug_spec_load(spec_path, ovr, n_ovr, &sreg, &spec, &err)) die("spec", err.msg);
    bench b = {0};
    if (ug_experiment_build(&b.ex, spec, reg, &err)) die("experiment", err.msg);
    ug_experiment *ex = &b.ex;
    if (!serve) blas_header(stderr); /* the spec's thread count is set by now */

    /* One batch from the spec's dataset, kept outside the step arena. */
    ug_rng drng = ug_experiment_rng(ex, UG_STREAM_DATA, 0);
    ug_tensor *x0 = NULL;
    double td = now_s();
    const int n_draw = 50;
    for (int i = 0; i < n_draw; i++) {
        ug_step_reset(ex->ctx);
        if (ex->data.vt->train_batch(ex->data.self, ex->ctx, &drng, ex->batch, i, &x0) || !x0)
            die("dataset", ug_ctx_errmsg(ex->ctx));
    }
    double draw_us = (now_s() - td) / n_draw * 1e6;
    x0 = ug_contiguous(ex->ctx, x0);
    if (!x0 || x0->ndim != 2) die("dataset", "the batch is not [B, D]");
    b.shape[0] = x0->shape[0];
    b.shape[1] = x0->shape[1];
    b.batch = malloc(sizeof(float) * (size_t)ug_numel(x0));
    if (!b.batch) die("batch", "out of memory");
    memcpy(b.batch, ug_f32(x0), sizeof(float) * (size_t)ug_numel(x0));

    plan p = {0};
    int K = 0;
    const bool have_plan = build_plan(&b, &p, &K) == 0;
    replay r;
    replay_init(&r, &p);

    /* Parameters, gradients and two Adam moments per parameter. */
    const int64_t n_params = ug_params_total(ex->params);
    const double param_kb = 4.0 * 4.0 * (double)n_params / 1024.0;
    const long rss0 = maxrss_kb();

    const int warm = steps / 5 > 0 ? steps / 5 : 1;
    double cpu;
    time_iters(&b, warm, &cpu);
    g_count = true;  /* one iteration's GEMMs, as issued, against the analytic plan */
    train_iteration(&b);
    g_count = false;
    if (sgemm && have_plan) time_replay(&r, warm, &cpu);
    double *samples = malloc(sizeof(double) * 1000), *gsamples = malloc(sizeof(double) * 1000);
    double *csamples = malloc(sizeof(double) * 1000), *cgsamples = malloc(sizeof(double) * 1000);
    int ns = 0, ng = 0;
    if (serve) {
        printf("ready\n");
        fflush(stdout);
        char line[64];
        while (fgets(line, sizeof line, stdin)) {
            if (!strncmp(line, "rep", 3)) {
                double t = time_iters(&b, steps, &cpu);
                if (ns < 1000) {
                    csamples[ns] = cpu;
                    samples[ns++] = t;
                }
                printf("rep ms_iter=%.6f cpu_ms_iter=%.6f\n", t * 1e3, cpu * 1e3);
            } else if (!strncmp(line, "sgemm", 5)) {
                double t = have_plan ? time_replay(&r, steps, &cpu) : NAN;
                if (!have_plan) cpu = NAN;
                if (ng < 1000) {
                    cgsamples[ng] = cpu;
                    gsamples[ng++] = t;
                }
                printf("sgemm ms_iter=%.6f cpu_ms_iter=%.6f\n", t * 1e3, cpu * 1e3);
            } else if (!strncmp(line, "quit", 4)) {
                break;
            } else if (line[0] != '\n') {
                die("serve", "unknown command");
            }
            fflush(stdout);
        }
    } else {
        for (int i = 0; i < reps; i++) {
            samples[ns] = time_iters(&b, steps, &cpu);
            csamples[ns++] = cpu;
        }
        if (sgemm && have_plan)
            for (int i = 0; i < reps; i++) {
                gsamples[ng] = time_replay(&r, steps, &cpu);
                cgsamples[ng++] = cpu;
            }
    }
    const double it_s = median(samples, ns), gm_s = median(gsamples, ng), cpu_it = median(csamples, ns),
                 cpu_gm = median(cgsamples, ng);
    const double flops = have_plan ? p.flops : NAN;
    printf("unigfn spec=%s threads=%d steps=%d reps=%d k=%d batch=%lld ms_iter=%.6f cpu_ms_iter=%.6f gflop_iter=%.4f gflops=%.3f "
           "sgemm_ms=%.6f sgemm_cpu_ms=%.6f sgemm_gflops=%.3f gemm_calls=%d params=%lld param_kb=%.0f arena_peak_kb=%zu "
           "maxrss_kb=%ld maxrss_delta_kb=%ld draw_us=%.1f gemm_calls_seen=%lld gflop_seen=%.4f\n",
           ug_spec_name(ex->spec), ug_get_threads(ex->ctx), steps, ns, K, (long long)b.shape[0], it_s * 1e3, cpu_it * 1e3,
           flops * 1e-9, flops / it_s * 1e-9, gm_s * 1e3, cpu_gm * 1e3, flops / gm_s * 1e-9, p.n, (long long)n_params, param_kb,
           ug_arena_peak(ex->ctx) / 1024, maxrss_kb(), maxrss_kb() - rss0, draw_us, (long long)g_calls, g_flops * 1e-9);
    fflush(stdout);

    replay_free(&r);
    free(p.calls);
    free(samples);
    free(gsamples);
    free(csamples);
    free(cgsamples);
    free(b.batch);
    ug_experiment_free(ex);
    ug_registry_free(reg);
    return 0;
}
