/* test_realnvp.c — the realnvp model plugin (plugins/models/realnvp) through the real loader and the
 * spec's schema checks, against independent answers:
 *
 *   traj      log_prob(x) equals Σ log P_F of the backward trajectory from x and of the forward
 *             trajectory that produced x; the backward walk returns the forward walk's states (z
 *             included); log P_B is 0; rescore from states, from `last` and from `first` reproduces
 *             the terms; partial trajectories; temperature scales the base variance while log P_F
 *             stays the untempered N(z; 0, I); backward states carry θ (C6); refusals.
 *   integral  exp(log_prob) integrates to 1: midpoint quadrature on a square, against the share of
 *             forward samples inside that square (a Monte Carlo estimate of the same integral).
 *   jacobian  −Σ_{k≥1} log P_F (and each layer's term) equals log|det| of a central finite-difference
 *             Jacobian of the map z -> x (of each layer), for D = 2 (actnorm, checkerboard) and D = 3
 *             (halves); forward then backward returns the same z.
 *   grads     gradients of −mean log_prob w.r.t. single parameters (coupling weights and biases of
 *             first and last layers, actnorm) against central finite differences.
 *   train     kl_tb(direction: data, updates: [forward]) on synthetic2d continuous (moons) is exact
 *             maximum likelihood (loss = −mean log_prob of the batch); a few hundred steps lower it, and
 *             the nll metric's nll (M = 1: deterministic P_B) equals its nll_exact.
 *
 * Usage: test_realnvp CASE (meson registers one test per case). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "train_loop.h"

static ug_registry *REG;
static ug_error ERR;

/* A run with `model` (a YAML flow map) and no dataset; kl_tb is the objective it would train with. */
static bool open_flow(tl_run *r, const char *model) {
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "seed: 11\ndataset: {plugin: none}\nmodel: %s\n"
             "objective: [{plugin: kl_tb, direction: data, updates: [forward]}]\n"
             "optim: {forward: {lr: 0.001}}\ntrain: {steps: 1, batch: 64}\n",
             model);
    memset(&ERR, 0, sizeof ERR);
    ug_status st = tl_open(r, REG, yaml, NULL, 0, &ERR);
    CHECK(st == UG_OK, "tl_open: %s", ERR.msg);
    return st == UG_OK;
}

/* Add N(0, sd²) to every parameter, so the zero-initialised output layers no longer make the flow the
 * identity. */
static void perturb(tl_run *r, float sd, uint64_t seed) {
    ug_rng rng = ug_rng_make(seed, 0);
    for (int g = 0; g < ug_params_group_count(r->P); g++) {
        float *data;
        int64_t n;
        ug_params_group_info(r->P, g, NULL, &data, NULL, &n);
        float *e = malloc((size_t)n * sizeof *e);
        ug_rng_normal(&rng, e, n);
        for (int64_t i = 0; i < n; i++) data[i] += sd * e[i];
        free(e);
    }
}

/* Σ_k log P_F (pf) or log P_B of a trajectory: [B]. */
static ug_tensor *sum_terms(ug_ctx *ctx, const ug_traj *tr, bool pf) {
    ug_tensor *s = ug_zeros(ctx, 1, &tr->batch);
    for (int k = 0; k < tr->steps; k++) s = ug_add(ctx, s, pf ? tr->log_pf[k] : tr->log_pb[k]);
    return s;
}

static double max_abs_diff(const ug_tensor *a, const ug_tensor *b) {
    double m = 0;
    int64_t n = ug_numel(a);
    if (!a || !b || n != ug_numel(b)) return INFINITY;
    ug_tensor *ac = (ug_tensor *)a, *bc = (ug_tensor *)b;
    for (int64_t i = 0; i < n; i++) m = fmax(m, fabs((double)ug_f32(ac)[i] - ug_f32(bc)[i]));
    return m;
}

static double max_abs(const ug_tensor *a) {
    double m = 0;
    for (int64_t i = 0; i < ug_numel(a); i++) m = fmax(m, fabs(ug_f32((ug_tensor *)a)[i]));
    return m;
}

static ug_status fwd(tl_run *r, ug_rng *rng, int64_t B, ug_tensor *start, int i0, int steps, uint32_t flags, float temp,
                     ug_traj *tr) {
    ug_traj_req req = {.size = sizeof req, .batch = B, .start = start, .start_index = i0, .steps = steps, .flags = flags,
                       .temperature = temp};
    *tr = (ug_traj){.size = sizeof *tr};
    ug_status st = r->model.vt->sample_forward(r->model.self, r->ctx, rng, &req, tr);
    if (st) fprintf(stderr, "sample_forward: %s\n", ug_ctx_errmsg(r->ctx));
    return st;
}

static ug_status bwd(tl_run *r, ug_tensor *start, int j, int steps, uint32_t flags, ug_traj *tr) {
    ug_traj_req req = {.size = sizeof req, .start = start, .start_index = j, .steps = steps, .flags = flags};
    *tr = (ug_traj){.size = sizeof *tr};
    ug_rng rng = ug_rng_make(5, 5);
    ug_status st = r->model.vt->sample_backward(r->model.self, r->ctx, &rng, &req, tr);
    if (st && !(flags & (UG_TRAJ_REPARAM | UG_TRAJ_ANCHOR))) fprintf(stderr, "sample_backward: %s\n", ug_ctx_errmsg(r->ctx));
    return st;
}

/* ---- traj ------------------------------------------------------------------------------------ */

static void test_traj(void) {
    tl_run r;
    if (!open_flow(&r, "{plugin: realnvp, dim: 2, layers: 4, hidden: [32, 32], actnorm: true}")) return;
    perturb(&r, 0.2f, 21);
    ug_ctx *ctx = r.ctx;
    const int L = 4, n = L + 1;
    CHECK(r.model.info.horizon == n && r.model.info.deterministic_pb && !r.model.info.variable_length, "info: horizon %d",
          r.model.info.horizon);
    CHECK(ug_model_has(&r.model, UG_CAP_LOG_PROB | UG_CAP_REPARAM | UG_CAP_PARTIAL) && !ug_model_has(&r.model, UG_CAP_LOG_Z) &&
              !ug_model_has(&r.model, UG_CAP_REPARAM_B),
          "caps 0x%x", r.model.info.caps);
    ug_set_grad_enabled(ctx, false);
    ug_rng rng = ug_rng_make(3, 0);
    const int64_t B = 512;
    ug_traj f, b;
    if (fwd(&r, &rng, B, NULL, 0, -1, UG_TRAJ_KEEP_STATES, 0, &f)) return;
    CHECK(f.steps == n && f.start == 0 && f.states && f.last == f.states[n], "forward covers 0 .. %d", n);
    ug_tensor *x = f.last, *lp_f = sum_terms(ctx, &f, true), *lp = r.model.vt->log_prob(r.model.self, ctx, x);  // [B]
    if (bwd(&r, x, n, -1, UG_TRAJ_KEEP_STATES, &b)) return;
    ug_tensor *lp_b = sum_terms(ctx, &b, true);  // [B]
    double d_f = max_abs_diff(lp, lp_f), d_b = max_abs_diff(lp, lp_b), scale = max_abs(lp);
    CHECK(d_f <= 2e-6 * (1 + scale) && d_b <= 2e-6 * (1 + scale),
          "log_prob vs Σ log_pf: forward %.3g, backward %.3g (|log p| up to %.3g)", d_f, d_b, scale);
    CHECK(max_abs(sum_terms(ctx, &f, false)) == 0 && max_abs(sum_terms(ctx, &b, false)) == 0, "log_pb is 0");
    /* the backward walk retraces the forward one; z = s_1 in particular */
    double dz = 0, zmax = max_abs(f.states[1]);
    for (int i = 1; i <= n; i++) dz = fmax(dz, max_abs_diff(f.states[i], b.states[i]));
    CHECK(dz <= 2e-5 * (1 + zmax), "states forward vs backward: max |diff| %.3g", dz);
    /* per step as well: the log-det from s_k (forward) and from s_{k+1} (backward) */
    double dstep = 0;
    for (int k = 0; k < n; k++) dstep = fmax(dstep, max_abs_diff(f.log_pf[k], b.log_pf[k]));
    CHECK(dstep <= 2e-5, "per-step log_pf forward vs backward: %.3g", dstep);
    printf("traj: B = %lld, log p(x) in [-%.2f, ...]: |log_prob - Σ log_pf| forward %.2e, backward %.2e; "
           "|z_fwd - z_bwd| %.2e (|z| up to %.2f); per step %.2e\n",
           (long long)B, scale, d_f, d_b, dz, zmax, dstep);

    /* rescore: from the states, from last alone, from a non-root first */
    ug_traj rs = f;
    rs.log_pf = NULL, rs.log_pb = NULL, rs.extra = NULL;
    CHECK(r.model.vt->rescore(r.model.self, ctx, &rs, 0) == UG_OK, "rescore(states): %s", ug_ctx_errmsg(ctx));
    double d1 = max_abs_diff(sum_terms(ctx, &rs, true), lp_f);
    rs.states = NULL, rs.first = NULL, rs.log_pf = NULL, rs.log_pb = NULL;
    CHECK(r.model.vt->rescore(r.model.self, ctx, &rs, 0) == UG_OK, "rescore(last): %s", ug_ctx_errmsg(ctx));
    double d2 = max_abs_diff(sum_terms(ctx, &rs, true), lp_f);
    ug_traj sub = {.size = sizeof sub, .batch = B, .start = 2, .steps = n - 2, .first = f.states[2]};
    CHECK(r.model.vt->rescore(r.model.self, ctx, &sub, 0) == UG_OK, "rescore(first): %s", ug_ctx_errmsg(ctx));
    double d3 = 0;
    for (int t = 0; t < sub.steps; t++) d3 = fmax(d3, max_abs_diff(sub.log_pf[t], f.log_pf[2 + t]));
    CHECK(d1 <= 2e-6 * (1 + scale) && d2 <= 2e-6 * (1 + scale) && d3 <= 2e-5, "rescore: states %.3g, last %.3g, first %.3g",
          d1, d2, d3);
    ug_traj none = {.size = sizeof none, .batch = B, .start = 0, .steps = n};
    CHECK(r.model.vt->rescore(r.model.self, ctx, &none, 0) == UG_ERR_ARG, "rescore without states or endpoints refused");
    ug_ctx_clear_error(ctx);

    /* partial: forward from s_2 lands on the same x; backward 2 steps from s_3 lands on s_1 */
    ug_traj pf, pb;
    if (fwd(&r, &rng, 0, f.states[2], 2, -1, 0, 0, &pf) || bwd(&r, f.states[3], 3, 2, 0, &pb)) return;
    CHECK(pf.start == 2 && pf.steps == n - 2 && max_abs_diff(pf.last, x) <= 1e-6 * (1 + max_abs(x)),
          "partial forward: %.3g", max_abs_diff(pf.last, x));
    CHECK(pb.start == 1 && pb.steps == 2 && max_abs_diff(pb.first, f.states[1]) <= 2e-5 * (1 + zmax),
          "partial backward: %.3g", max_abs_diff(pb.first, f.states[1]));

    /* temperature 4: z ~ N(0, 4 I), but log_pf[0] is log N(z; 0, I) */
    ug_traj t4;
    const int64_t BT = 8192;
    if (fwd(&r, &rng, BT, NULL, 0, 1, UG_TRAJ_KEEP_STATES, 4.0f, &t4)) return;
    double v = 0, dl = 0;
    for (int64_t i = 0; i < BT; i++) {
        double z0 = ug_f32(t4.states[1])[2 * i], z1 = ug_f32(t4.states[1])[2 * i + 1];
        v += (z0 * z0 + z1 * z1) / (2.0 * BT);
        dl = fmax(dl, fabs(ug_f32(t4.log_pf[0])[i] - (-0.5 * (z0 * z0 + z1 * z1) - log(2 * M_PI))));
    }
    CHECK(fabs(v - 4.0) < 5 * 4.0 * sqrt(2.0 / (2.0 * BT)) && dl < 1e-5, "temperature 4: var %.4f, |log_pf[0] - log N(z)| %.2g",
          v, dl);
    printf("traj: rescore diffs %.2e / %.2e / %.2e; temperature 4 gives var(z) %.4f\n", d1, d2, d3, v);

    /* C6: with grad on, the backward walk's states are functions of θ */
    ug_set_grad_enabled(ctx, true);
    ug_traj g;
    if (bwd(&r, x, n, -1, UG_TRAJ_KEEP_STATES, &g)) return;
    CHECK(g.states[1]->requires_grad && !g.states[n]->requires_grad, "z(x; θ) carries θ");
    ug_set_grad_enabled(ctx, false);

    /* refusals: explore (no finite action set), reparameterized or anchored backward */
    ug_traj_req req = {.size = sizeof req, .batch = 4, .steps = -1, .explore = 0.1f};
    ug_traj e = {.size = sizeof e};
    CHECK(r.model.vt->sample_forward(r.model.self, ctx, &rng, &req, &e) == UG_ERR_UNSUPPORTED &&
              strstr(ug_ctx_errmsg(ctx), "realnvp"),
          "explore refused: %s", ug_ctx_errmsg(ctx));
    ug_ctx_clear_error(ctx);
    CHECK(bwd(&r, x, n, -1, UG_TRAJ_REPARAM, &e) == UG_ERR_UNSUPPORTED, "reparam backward refused");
    ug_ctx_clear_error(ctx);
    CHECK(bwd(&r, x, n, 0, UG_TRAJ_ANCHOR, &e) == UG_ERR_UNSUPPORTED, "anchor refused");
    ug_ctx_clear_error(ctx);
    ug_step_reset(ctx);
    tl_close(&r);

    /* create-time refusals, with the plugin's name in the message */
    const char *bad[] = {"{plugin: realnvp}", "{plugin: realnvp, dim: 2, act: nope}"};
    for (int i = 0; i < 2; i++) {
        char yaml[512];
        snprintf(yaml, sizeof yaml,
                 "dataset: {plugin: none}\nmodel: %s\nobjective: [{plugin: kl_tb, updates: [forward]}]\n"
                 "optim: {forward: {lr: 0.001}}\ntrain: {steps: 1}\n", bad[i]);
        memset(&ERR, 0, sizeof ERR);
        CHECK(tl_open(&r, REG, yaml, NULL, 0, &ERR) != UG_OK && (strstr(ERR.msg, "realnvp") || strstr(ERR.msg, "act")),
              "refused: %s", ERR.msg);
    }
}

/* ---- integral -------------------------------------------------------------------------------- */

static void test_integral(void) {
    tl_run r;
    if (!open_flow(&r, "{plugin: realnvp, dim: 2, layers: 4, hidden: [32, 32], actnorm: true}")) return;
    perturb(&r, 0.2f, 22);
    ug_ctx *ctx = r.ctx;
    ug_set_grad_enabled(ctx, false);
    double t0 = tl_now();
    const double R = 14.0;
    const int N = 1400;  // grid points per axis: h = 0.02
    const double h = 2 * R / N;
    const int64_t rows = 10000;
    double I = 0, lmax = -INFINITY;
    float *pts = malloc(sizeof(float) * 2 * rows);
    int64_t filled = 0, total = (int64_t)N * N;
    for (int64_t idx = 0; idx < total; idx++) {
        pts[2 * filled] = (float)(-R + h * ((double)(idx / N) + 0.5));
        pts[2 * filled + 1] = (float)(-R + h * ((double)(idx % N) + 0.5));
        if (++filled == rows || idx == total - 1) {
            int64_t sh[2] = {filled, 2};
            ug_tensor *lp = r.model.vt->log_prob(r.model.self, ctx, ug_from_f32(ctx, pts, 2, sh));  // [filled]
            CHECK(lp != NULL, "log_prob: %s", ug_ctx_errmsg(ctx));
            if (!lp) break;
            for (int64_t i = 0; i < filled; i++) {
                I += exp((double)ug_f32(lp)[i]) * h * h;
                lmax = fmax(lmax, ug_f32(lp)[i]);
            }
            filled = 0;
            ug_step_reset(ctx);
        }
    }
    free(pts);
    /* the same integral by Monte Carlo: the share of model samples inside the square */
    ug_rng rng = ug_rng_make(9, 0);
    int64_t inside = 0, M = 0;
    for (int c = 0; c < 20; c++) {
        ug_traj f;
        if (fwd(&r, &rng, 10000, NULL, 0, -1, UG_TRAJ_NO_PF | UG_TRAJ_NO_PB, 0, &f)) break;
        for (int64_t i = 0; i < 10000; i++, M++)
            inside += fabs(ug_f32(f.last)[2 * i]) < R && fabs(ug_f32(f.last)[2 * i + 1]) < R;
        ug_step_reset(ctx);
    }
    double p = (double)inside / (double)M, se = sqrt(fmax(p * (1 - p), 1.0 / M) / (double)M);
    CHECK(fabs(I - 1) < 3e-3, "∫ p = %.5f on [-%g, %g]^2", I, R, R);
    CHECK(fabs(I - p) < fmax(4 * se, 1e-3), "quadrature %.5f vs Monte Carlo share inside %.5f ± %.5f", I, p, se);
    printf("integral: ∫ exp(log_prob) over [-%g, %g]^2 (%d x %d midpoints, h = %.3f) = %.5f; share of %lld samples "
           "inside %.5f ± %.5f; max log p %.2f (%.1f s)\n",
           R, R, N, N, h, I, (long long)M, p, se, lmax, tl_now() - t0);
    tl_close(&r);
}

/* ---- jacobian ------------------------------------------------------------------------------- */

/* log|det| of a D x D matrix (row-major, copied) by Gaussian elimination with partial pivoting. */
static double logabsdet(const double *A0, int D) {
    double A[16];
    memcpy(A, A0, sizeof(double) * (size_t)(D * D));
    double s = 0;
    for (int c = 0; c < D; c++) {
        int p = c;
        for (int i = c + 1; i < D; i++)
            if (fabs(A[i * D + c]) > fabs(A[p * D + c])) p = i;
        if (p != c)
            for (int j = 0; j < D; j++) {
                double t = A[c * D + j];
                A[c * D + j] = A[p * D + j], A[p * D + j] = t;
            }
        s += log(fabs(A[c * D + c]));
        for (int i = c + 1; i < D; i++) {
            double f = A[i * D + c] / A[c * D + c];
            for (int j = c; j < D; j++) A[i * D + j] -= f * A[c * D + j];
        }
    }
    return s;
}

/* For P points z (rows of one batch) and each layer k: the finite-difference Jacobian of s_k -> s_{k+1}
 * and of z -> x, against the model's per-step log_pf and their sum. */
static void jacobian_case(const char *model, int D, int L, uint64_t seed) {
    tl_run r;
    if (!open_flow(&r, model)) return;
    perturb(&r, 0.2f, seed);
    ug_ctx *ctx = r.ctx;
    ug_set_grad_enabled(ctx, false);
    const int P = 6, n = L + 1;
    const float eps = 2e-3f;
    ug_rng rng = ug_rng_make(seed, 1);
    ug_traj f, b;
    if (fwd(&r, &rng, P, NULL, 0, -1, UG_TRAJ_KEEP_STATES, 0, &f)) return;
    /* each layer: one batch of 2 D P perturbed copies of s_k, pushed one step */
    double worst_layer = 0, worst_total = 0, ld_total[8] = {0}, fd_total[8] = {0};
    for (int k = 1; k < n; k++) {
        int64_t sh[2] = {2 * D * P, D};
        ug_tensor *in = ug_new(ctx, UG_F32, 2, sh);  // [2 D P, D]
        for (int p = 0; p < P; p++)
            for (int j = 0; j < D; j++)
                for (int sgn = 0; sgn < 2; sgn++) {
                    float *row = ug_f32(in) + ((p * D + j) * 2 + sgn) * D;
                    memcpy(row, ug_f32(f.states[k]) + p * D, sizeof(float) * (size_t)D);
                    row[j] += sgn ? -eps : eps;
                }
        ug_traj one;
        if (fwd(&r, &rng, 0, in, k, 1, 0, 0, &one)) return;
        for (int p = 0; p < P; p++) {
            double J[16];
            for (int j = 0; j < D; j++)  // column j: ∂s_{k+1} / ∂s_k[j]
                for (int i = 0; i < D; i++) {
                    double up = ug_f32(one.last)[((p * D + j) * 2) * D + i], dn = ug_f32(one.last)[((p * D + j) * 2 + 1) * D + i];
                    J[i * D + j] = (up - dn) / (2.0 * eps);
                }
            double fd = logabsdet(J, D), ld = -ug_f32(f.log_pf[k])[p];
            worst_layer = fmax(worst_layer, fabs(fd - ld));
            fd_total[p] += fd;
            ld_total[p] += ld;
        }
    }
    /* the whole map z -> x at once */
    {
        int64_t sh[2] = {2 * D * P, D};
        ug_tensor *in = ug_new(ctx, UG_F32, 2, sh);  // [2 D P, D]
        for (int p = 0; p < P; p++)
            for (int j = 0; j < D; j++)
                for (int sgn = 0; sgn < 2; sgn++) {
                    float *row = ug_f32(in) + ((p * D + j) * 2 + sgn) * D;
                    memcpy(row, ug_f32(f.states[1]) + p * D, sizeof(float) * (size_t)D);
                    row[j] += sgn ? -eps : eps;
                }
        ug_traj all;
        if (fwd(&r, &rng, 0, in, 1, -1, 0, 0, &all)) return;
        for (int p = 0; p < P; p++) {
            double J[16];
            for (int j = 0; j < D; j++)
                for (int i = 0; i < D; i++)
                    J[i * D + j] = (ug_f32(all.last)[((p * D + j) * 2) * D + i] - ug_f32(all.last)[((p * D + j) * 2 + 1) * D + i]) /
                                   (2.0 * eps);
            worst_total = fmax(worst_total, fabs(logabsdet(J, D) - ld_total[p]));
        }
    }
    CHECK(worst_layer < 3e-3 && worst_total < 5e-3, "D = %d: log|det J| vs finite differences: per layer %.2g, whole map %.2g", D,
          worst_layer, worst_total);
    /* invertibility: back from x to z */
    if (bwd(&r, f.last, n, -1, UG_TRAJ_KEEP_STATES, &b)) return;
    double dz = max_abs_diff(b.states[1], f.states[1]);
    CHECK(dz < 2e-5 * (1 + max_abs(f.states[1])), "D = %d: z back from x differs by %.3g", D, dz);
    printf("jacobian D = %d (%s): |log|det J_fd| - log|det J|| per layer %.2e, whole map %.2e (e.g. %.4f vs %.4f); "
           "|z - f^-1(f(z))| %.2e\n",
           D, model, worst_layer, worst_total, fd_total[0], ld_total[0], dz);
    tl_close(&r);
}

static void test_jacobian(void) {
    jacobian_case("{plugin: realnvp, dim: 2, layers: 4, hidden: [32, 32], actnorm: true}", 2, 4, 31);
    jacobian_case("{plugin: realnvp, dim: 3, layers: 3, hidden: [16], mask: halves, act: tanh}", 3, 3, 32);
    jacobian_case("{plugin: realnvp, dim: 4, layers: 2, hidden: [16, 16], mask: checkerboard, actnorm: true, act: silu}", 4, 2, 33);
}

/* ---- grads ---------------------------------------------------------------------------------- */

/* −mean log_prob over the fixed points, in double. */
static double nll_of(tl_run *r, ug_tensor *x) {
    ug_tensor *lp = r->model.vt->log_prob(r->model.self, r->ctx, x);
    double s = 0;
    for (int64_t i = 0; i < x->shape[0]; i++) s -= ug_f32(lp)[i];
    return s / (double)x->shape[0];
}

static void test_grads(void) {
    tl_run r;
    if (!open_flow(&r, "{plugin: realnvp, dim: 2, layers: 4, hidden: [16, 16], actnorm: true, act: tanh}")) return;
    perturb(&r, 0.2f, 41);
    ug_ctx *ctx = r.ctx;
    const int64_t B = 32;
    int64_t sh[2] = {B, 2};
    float pts[64];
    ug_rng rng = ug_rng_make(41, 1);
    ug_rng_normal(&rng, pts, 2 * B);
    for (int i = 0; i < 2 * B; i++) pts[i] *= 1.5f;
    struct { const char *name; int idx; } probe[] = {
        {"coupling.1.0.w", 3}, {"coupling.1.2.w", 5},  {"coupling.1.2.b", 0},  {"coupling.2.1.w", 17},
        {"coupling.3.2.b", 2}, {"coupling.4.0.b", 7},  {"actnorm.1.log_scale", 1}, {"actnorm.3.shift", 0},
        {"coupling.4.2.w", 56}, {"coupling.4.2.w", 21},
        /* layer 3 transforms coordinate 0 only: the shift output of coordinate 1 is masked, gradient 0 */
        {"coupling.3.2.b", 3},
    };
    const int NP = (int)(sizeof probe / sizeof *probe);
    /* analytic: one backward of −mean log_prob */
    ug_params_zero_grad(r.P, ~0ull);
    ug_set_grad_enabled(ctx, true);
    ug_tensor *x = ug_from_f32(ctx, pts, 2, sh);
    ug_tensor *loss = ug_neg(ctx, ug_mean_all(ctx, r.model.vt->log_prob(r.model.self, ctx, x)));
    CHECK(ug_backward(ctx, loss, ~0ull) == UG_OK, "backward: %s", ug_ctx_errmsg(ctx));
    ug_step_reset(ctx);
    ug_set_grad_enabled(ctx, false);
    double worst = 0;
    for (int i = 0; i < NP; i++) {
        ug_tensor *p = ug_params_find(r.P, "forward", probe[i].name);
        CHECK(p && probe[i].idx < ug_numel(p), "parameter %s[%d]", probe[i].name, probe[i].idx);
        if (!p) continue;
        float *v = ug_f32(p) + probe[i].idx, v0 = *v;
        const float h = 4e-3f;
        x = ug_from_f32(ctx, pts, 2, sh);
        *v = v0 + h;
        double up = nll_of(&r, x);
        *v = v0 - h;
        double dn = nll_of(&r, x);
        *v = v0;
        ug_step_reset(ctx);
        double fd = (up - dn) / (2.0 * h), an = ug_f32(p->grad)[probe[i].idx];
        worst = fmax(worst, fabs(fd - an) / (1e-2 + fabs(an)));
        CHECK(fabs(fd - an) <= 5e-5 + 2e-3 * fabs(an), "d nll / d %s[%d]: autograd %.6f, finite differences %.6f", probe[i].name,
              probe[i].idx, an, fd);
        printf("grads: %-20s[%2d]  autograd %+.6f  finite differences %+.6f\n", probe[i].name, probe[i].idx, an, fd);
    }
    printf("grads: worst |fd - autograd| / (0.01 + |autograd|) = %.3g\n", worst);
    tl_close(&r);
}

/* ---- train ---------------------------------------------------------------------------------- */

static ug_status eval_nll(tl_run *r, ug_metric_out *out) {
    const ug_plugin_ref *ref = ug_registry_find(REG, UG_KIND_METRIC, "nll");
    if (!ref) return UG_ERR_PLUGIN;
    ug_error err = {0};
    ug_create_args a = {.size = sizeof a, .cfg = ug_spec_metric(r->spec, 0), .ctx = r->ctx, .data = &r->data, .model = &r->model};
    void *self = ref->desc->create(&a, &err);
    if (!self) {
        fprintf(stderr, "nll create: %s\n", err.msg);
        return UG_ERR_PLUGIN;
    }
    ug_rng rng = ug_rng_make(1, 3);
    ug_eval_env env = {.size = sizeof env, .ctx = r->ctx, .rng = &rng, .model = &r->model, .data = &r->data, .artifact_dir = "."};
    memset(out, 0, sizeof *out);
    out->size = sizeof *out;
    bool g = ug_set_grad_enabled(r->ctx, false);
    ug_status st = ((const ug_metric_vtable *)ref->desc->vtable)->evaluate(self, &env, out);
    if (st) fprintf(stderr, "nll evaluate: %s\n", ug_ctx_errmsg(r->ctx));
    ug_set_grad_enabled(r->ctx, g);
    ug_step_reset(r->ctx);
    ref->desc->destroy(self);
    return st;
}

static double metric_value(const ug_metric_out *o, const char *key) {
    for (int i = 0; i < o->n_values; i++)
        if (strcmp(o->keys[i], key) == 0) return o->values[i];
    return NAN;
}

static void test_train(void) {
    const char *yaml =
        "seed: 3\n"
        "dataset: {plugin: synthetic2d, data: moons, encoding: continuous}\n"
        "model: {plugin: realnvp, layers: 6, hidden: [64, 64]}\n"
        "objective: [{plugin: kl_tb, direction: data, updates: [forward]}]\n"
        "optim: {forward: {lr: 0.002}}\n"
        "train: {steps: 400, batch: 256}\n"
        "metrics: [{plugin: nll, particles: 1, samples: 2000}]\n";
    tl_run r;
    memset(&ERR, 0, sizeof ERR);
    if (tl_open(&r, REG, yaml, NULL, 0, &ERR)) {
        CHECK(0, "tl_open: %s", ERR.msg);
        return;
    }
    ug_ctx *ctx = r.ctx;
    /* kl_tb(data) is exact MLE here: its loss on a batch is −mean log_prob of that batch */
    {
        ug_rng drng = ug_rng_make(77, 0);
        ug_tensor *batch = NULL;
        CHECK(r.data.vt->train_batch(r.data.self, ctx, &drng, 256, 0, &batch) == UG_OK, "batch");
        perturb(&r, 0.05f, 51);  // away from the identity start
        tl_term *T = &r.terms[0];
        ug_step_env env = {.size = sizeof env, .ctx = ctx, .rng = &T->rng, .model = &r.model, .data = &r.data, .batch = batch,
                           .update_mask = T->mask};
        ug_loss_out out = {.size = sizeof out};
        CHECK(((const ug_objective_vtable *)T->desc->vtable)->loss(T->self, &env, &out) == UG_OK, "kl_tb: %s", ug_ctx_errmsg(ctx));
        double l = ug_item(out.loss), want = -ug_item(ug_mean_all(ctx, r.model.vt->log_prob(r.model.self, ctx, batch)));
        CHECK(fabs(l - want) < 1e-5 * (1 + fabs(want)), "kl_tb(data) loss %.6f vs -mean log_prob %.6f", l, want);
        printf("train: kl_tb(data) loss %.6f = -mean log_prob %.6f\n", l, want);
        ug_step_reset(ctx);
    }
    ug_metric_out o0, o1;
    if (eval_nll(&r, &o0)) {
        CHECK(0, "nll before training");
        tl_close(&r);
        return;
    }
    double t0 = tl_now(), first = 0, last = 0;
    const int S = (int)r.steps, W = 40;
    for (int s = 0; s < S; s++) {
        memset(&ERR, 0, sizeof ERR);
        if (tl_step(&r, NULL, NULL, &ERR)) {
            CHECK(0, "step %d: %s", s, ERR.msg);
            break;
        }
        if (s < W) first += r.terms[0].loss / W;
        if (s >= S - W) last += r.terms[0].loss / W;
    }
    double secs = tl_now() - t0;
    CHECK(eval_nll(&r, &o1) == UG_OK, "nll after training");
    double n0 = metric_value(&o0, "nll"), n1 = metric_value(&o1, "nll"), e1 = metric_value(&o1, "nll_exact");
    CHECK(last < first - 0.3, "loss falls: first %d steps %.4f, last %d %.4f", W, first, W, last);
    CHECK(n1 < n0 - 0.3, "held-out nll falls: %.4f -> %.4f", n0, n1);
    CHECK(fabs(n1 - e1) <= 1e-5 * (1 + fabs(e1)) && fabs(metric_value(&o0, "nll") - metric_value(&o0, "nll_exact")) < 1e-4,
          "nll (M = 1) %.6f vs nll_exact %.6f", n1, e1);
    CHECK(fabs(-metric_value(&o1, "elbo") - n1) < 1e-5 * (1 + fabs(n1)), "a Dirac P_B makes the ELBO exact: %.6f",
          metric_value(&o1, "elbo"));
    CHECK(fabs(n1 - last) < 0.25, "held-out nll %.4f near the training loss %.4f", n1, last);
    printf("train: moons, %d steps of kl_tb(data) in %.1f s: loss %.4f (first %d) -> %.4f (last %d); held-out nll %.4f -> "
           "%.4f ± %.4f, nll_exact %.4f (entropy floor 2.393)\n",
           S, secs, first, W, last, W, n0, n1, metric_value(&o1, "nll_sem"), e1);
    tl_close(&r);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: test_realnvp traj|integral|jacobian|grads|train\n");
        return 2;
    }
    REG = tl_registry(&ERR);
    if (!REG) {
        fprintf(stderr, "registry: %s\n", ERR.msg);
        return 1;
    }
    const char *c = argv[1];
    if (strcmp(c, "traj") == 0) test_traj();
    else if (strcmp(c, "integral") == 0) test_integral();
    else if (strcmp(c, "jacobian") == 0) test_jacobian();
    else if (strcmp(c, "grads") == 0) test_grads();
    else if (strcmp(c, "train") == 0) test_train();
    else {
        fprintf(stderr, "unknown case '%s'\n", c);
        ug_registry_free(REG);
        return 2;
    }
    ug_registry_free(REG);
    return CHECK_DONE();
}
