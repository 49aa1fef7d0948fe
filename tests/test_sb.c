/* test_sb.c — the `sb` model (discrete-time Schrödinger bridge) and the `ipf` objective, through the
 * real loader (plugin_harness.h) and the real spec schemas:
 *
 *   logterms  log P_F and log P_B of sampled forward and backward trajectories (default MLPs with
 *             random weights, VP reference) against a double-precision re-evaluation of the networks
 *             from their parameters; rescore equals the sampled terms (whole and partial trajectories,
 *             flags leave excluded terms alone); grad-off (scoped memory) sampling equals grad-on
 *             sampling; tempered residuals have T times the variance; pathwise derivatives (reparam,
 *             reparam_b) against finite differences; the VP reference's s_1 | x is
 *             N(sqrt(abar) x, (1 - abar) I); ipf half forward equals kl_tb direction data (value and
 *             θ-gradient, same random numbers).
 *   reversal  one IPF half-step (b) against its closed form: P_F fixed and linear,
 *             s_{k+1} = a R s_k + b + sqrt(1 - a^2) eps with R a rotation, from s_1 ~ N(0, I). Its
 *             marginals are N(m_k, I) (m_1 = 0, m_{k+1} = a R m_k + b) and its time reversal is
 *             s_k = m_k + a R^T (s_{k+1} - m_{k+1}) + sqrt(1 - a^2) eps, inside sb's family (fixed
 *             variance beta = 1 - a^2, affine nu). After ipf(backward) training the learned nu must
 *             equal (a R^T - I) s + m_k - a R^T m_{k+1} (slope and per-step offsets), and P_B's chain run
 *             back from x ~ N(m_{T+1}, I) must have P_F's moments (means m_k, covariance I, lag
 *             covariance a R) at every index. It fails if the loss trains P_B in the wrong direction,
 *             uses the wrong step's time input, or does not reach φ; before training the same
 *             moment check is shown to fail.
 *   ipf       IPF alternation through the runner's step (ug_train_step: term schedules, group masks,
 *             one optimizer per group): two forward and two backward blocks as four terms with
 *             start/stop; each term runs exactly in its block, the other policy's parameters do not
 *             move, and each half lowers its own loss over its block (paired: the same trajectories
 *             of the frozen policy, scored before and after the block).
 *
 * Usage: test_sb CASE (meson registers one test per case). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "plugin_harness.h"
#include "train_loop.h"
#include "unigfn/host/experiment.h"
#include "unigfn/host/step.h"

static harness H;
static ug_error ERR;

/* ---- the networks in double precision, from their parameters ------------------------------------ */

typedef struct dnet {
    int nl, temb;
    int64_t in[UG_MLP_MAX_LAYERS], out[UG_MLP_MAX_LAYERS];
    const float *w[UG_MLP_MAX_LAYERS], *b[UG_MLP_MAX_LAYERS];  /* w [out, in] */
} dnet;

static bool dnet_load(ug_params *P, const char *group, const char *name, int temb, dnet *n) {
    memset(n, 0, sizeof *n);
    n->temb = temb;
    for (int i = 0; i < UG_MLP_MAX_LAYERS; i++) {
        char k[64];
        snprintf(k, sizeof k, "%s.%d.w", name, i);
        ug_tensor *w = ug_params_find(P, group, k);
        if (!w) break;
        snprintf(k, sizeof k, "%s.%d.b", name, i);
        ug_tensor *b = ug_params_find(P, group, k);
        if (!b) return false;
        n->out[i] = w->shape[0];
        n->in[i] = w->shape[1];
        n->w[i] = ug_f32(w);
        n->b[i] = ug_f32(b);
        n->nl = i + 1;
    }
    return n->nl > 0;
}

/* ug_time_embedding (nn.h): f_i = exp(-ln(10000) i / (half - 1)), sin then cos, zero column if odd. */
static void demb(double t, int dim, double *out) {
    int half = dim / 2;
    for (int i = 0; i < half; i++) {
        double f = half == 1 ? 1.0 : exp(-log(10000.0) * i / (half - 1));
        out[i] = sin(t * f);
        out[half + i] = cos(t * f);
    }
    if (dim % 2) out[dim - 1] = 0;
}

/* net([s, emb(k)]) with SiLU between layers (sb's default act). */
static void dnet_eval(const dnet *n, const double *s, int D, int k, double *out) {
    double a[1024], h[1024];
    for (int d = 0; d < D; d++) a[d] = s[d];
    if (n->temb) demb((double)k, n->temb, a + D);
    for (int l = 0; l < n->nl; l++) {
        for (int o = 0; o < n->out[l]; o++) {
            double z = n->b[l][o];
            for (int i = 0; i < n->in[l]; i++) z += (double)n->w[l][o * n->in[l] + i] * a[i];
            h[o] = l + 1 < n->nl ? z / (1.0 + exp(-z)) : z;
        }
        memcpy(a, h, sizeof(double) * (size_t)n->out[l]);
    }
    memcpy(out, a, sizeof(double) * (size_t)D);
}

static double dlog_normal(const double *y, const double *mean, double var, int D) {
    double q = 0;
    for (int d = 0; d < D; d++) q += (y[d] - mean[d]) * (y[d] - mean[d]);
    return -0.5 * q / var - 0.5 * D * log(2 * M_PI * var);
}

/* The linear schedule of sb.c, in double: beta_k = beta_max - (beta_max - beta_min)(k - 1)/(T - 1). */
static double lin_beta(int k, int T, double bmin, double bmax) {
    return T == 1 ? bmax : bmax - (bmax - bmin) * (double)(k - 1) / (double)(T - 1);
}

/* ---- small helpers ---------------------------------------------------------------------------- */

static bool open_run(tl_run *r, const char *yaml) {
    memset(&ERR, 0, sizeof ERR);
    ug_status st = tl_open(r, H.reg, yaml, NULL, 0, &ERR);
    CHECK(st == UG_OK, "tl_open: %s", ERR.msg);
    return st == UG_OK;
}

static ug_tensor *sum_terms(ug_ctx *ctx, const ug_traj *t, bool pf) {
    ug_tensor *acc = NULL;
    for (int k = 0; k < t->steps; k++) {
        ug_tensor *v = pf ? t->log_pf[k] : t->log_pb[k];
        acc = acc ? ug_add(ctx, acc, v) : v;
    }
    return acc;
}

static double row(ug_tensor *t, int64_t b, int d, int D) { return ug_f32(t)[b * D + d]; }

/* Worst |recorded - direct| / (1 + |direct|) over every step and row of a trajectory, both terms. */
static double direct_diff(const ug_traj *tr, const dnet *mu, const dnet *nu, int D, int T, double bmin, double bmax,
                          bool vp) {
    double worst = 0;
    for (int t = 0; t < tr->steps; t++) {
        int k = tr->start + t;
        for (int64_t b = 0; b < tr->batch; b++) {
            double s[8], sp[8], mean[8], net[8], lpf, lpb;
            for (int d = 0; d < D; d++) {
                s[d] = row(tr->states[t], b, d, D);
                sp[d] = row(tr->states[t + 1], b, d, D);
            }
            if (k == 0) {
                double zero[8] = {0};
                lpf = dlog_normal(sp, zero, 1.0, D);
                lpb = 0;
            } else {
                double beta = lin_beta(k, T, bmin, bmax), a = vp ? sqrt(1 - beta) : 1.0;
                dnet_eval(mu, s, D, k, net);
                for (int d = 0; d < D; d++) mean[d] = s[d] + beta * net[d];
                lpf = dlog_normal(sp, mean, beta, D);
                dnet_eval(nu, sp, D, k, net);
                for (int d = 0; d < D; d++) mean[d] = a * sp[d] + beta * net[d];
                lpb = dlog_normal(s, mean, beta, D);
            }
            /* float32 against double: relative to the term's size */
            worst = fmax(worst, fabs(ug_f32(tr->log_pf[t])[b] - lpf) / (1 + fabs(lpf)));
            worst = fmax(worst, fabs(ug_f32(tr->log_pb[t])[b] - lpb) / (1 + fabs(lpb)));
        }
    }
    return worst;
}

/* Worst |a - b| between two trajectories' terms (and states). */
static double traj_diff(const ug_traj *a, const ug_traj *b, int D, bool states) {
    double worst = 0;
    for (int t = 0; t < a->steps; t++)
        for (int64_t r = 0; r < a->batch; r++) {
            worst = fmax(worst, fabs(ug_f32(a->log_pf[t])[r] - ug_f32(b->log_pf[t])[r]));
            worst = fmax(worst, fabs(ug_f32(a->log_pb[t])[r] - ug_f32(b->log_pb[t])[r]));
        }
    for (int t = 0; states && t <= a->steps; t++)
        for (int64_t i = 0; i < a->batch * D; i++)
            worst = fmax(worst, fabs(ug_f32(a->states[t])[i] - ug_f32(b->states[t])[i]));
    return worst;
}

/* ---- logterms ---------------------------------------------------------------------------------- */

static const char *LOG_YAML =
    "seed: 4\n"
    "dataset: {plugin: none}\n"
    "model: {plugin: sb, dim: 2, steps: 6, hidden: [16, 16], temb: 6, beta_min: 0.01, beta_max: 0.3}\n"
    "objective:\n"
    "  - {plugin: ipf, half: forward, updates: [forward]}\n"
    "  - {plugin: kl_tb, direction: data, updates: [forward]}\n"
    "optim: {forward: {lr: 0.001}}\n"
    "train: {steps: 1, batch: 64}\n";

/* Give every parameter (the zero-initialised last layers too) a random value. */
static void randomize(tl_run *r, float scale) {
    ug_rng rng = ug_rng_make(17, 5);
    for (int g = 0; g < ug_params_group_count(r->P); g++) {
        float *data;
        int64_t n;
        ug_params_group_info(r->P, g, NULL, &data, NULL, &n);
        ug_rng_normal(&rng, data, n);
        for (int64_t i = 0; i < n; i++) data[i] *= scale;
    }
}

/* d sum(x) / d theta for one parameter element: the pathwise gradient against central differences of
 * the same draws (same rng) at theta +- h. */
static void check_pathwise(tl_run *r, bool forward, const float *xs) {
    ug_ctx *ctx = r->ctx;
    const ug_model *m = &r->model;
    const char *group = forward ? "forward" : "backward";
    ug_tensor *p = ug_params_find(r->P, group, forward ? "mu.0.w" : "nu.0.w");
    int gi = ug_params_group_index(r->P, group);
    float *g;
    ug_params_group_info(r->P, gi, NULL, NULL, &g, NULL);
    const int64_t at = 3;  // an element of the first layer's weights
    double val[3];
    for (int pass = 0; pass < 3; pass++) {  // 0: the gradient; 1, 2: theta + h, theta - h
        const float h = 1e-2f, orig = ug_f32(p)[at];
        if (pass) ug_f32(p)[at] = orig + (pass == 1 ? h : -h);
        ug_rng rng = ug_rng_make(9, 1);
        ug_tensor *start = forward ? NULL : ug_from_f32(ctx, xs, 2, (int64_t[]){32, 2});  // [32, 2] x
        ug_traj tr = {.size = sizeof tr};
        ug_traj_req req = {.size = sizeof req, .batch = 32, .steps = -1, .flags = UG_TRAJ_REPARAM | UG_TRAJ_KEEP_STATES,
                           .start = forward ? NULL : start, .start_index = forward ? 0 : m->info.horizon};
        ug_status st = forward ? m->vt->sample_forward(m->self, ctx, &rng, &req, &tr)
                               : m->vt->sample_backward(m->self, ctx, &rng, &req, &tr);
        CHECK(st == UG_OK, "reparam sample: %s", ug_ctx_errmsg(ctx));
        if (st) return;
        ug_tensor *y = ug_sum_all(ctx, forward ? tr.last : tr.states[1]);  // x, or s_1 (states[0] is the root)
        val[pass] = ug_item(y);
        if (pass == 0) {
            ug_params_zero_grad(r->P, ~0ull);
            CHECK(ug_backward(ctx, y, 1ull << gi) == UG_OK, "backward: %s", ug_ctx_errmsg(ctx));
            val[0] = g[ug_params_offset(r->P, gi, 0) + at];
        }
        ug_f32(p)[at] = orig;
        ug_step_reset(ctx);
    }
    double fd = (val[1] - val[2]) / 2e-2;
    CHECK(fabs(val[0] - fd) <= 2e-2 * fabs(fd) + 2e-3 && fabs(fd) > 1e-3,
          "pathwise d sum(%s)/d %s.0.w[3] = %.6f vs central difference %.6f", forward ? "x" : "s_1",
          forward ? "mu" : "nu", val[0], fd);
    printf("logterms: reparam%s: pathwise derivative %.5f vs central difference %.5f\n", forward ? "" : "_b", val[0], fd);
}

static void test_logterms(void) {
    tl_run r;
    if (!open_run(&r, LOG_YAML)) return;
    const ug_model *m = &r.model;
    ug_ctx *ctx = r.ctx;
    const int D = 2, T = 6;
    CHECK(m->info.horizon == T + 1 && m->info.space.kind == UG_SPACE_CONTINUOUS && m->info.space.dim == D, "info");
    CHECK(ug_model_has(m, UG_CAP_PARTIAL | UG_CAP_REPARAM | UG_CAP_REPARAM_B) && !m->info.deterministic_pb, "caps");
    /* Fresh: both last layers are zero, so P_B is the VP reference and P_F the random walk. */
    dnet mu, nu;
    CHECK(dnet_load(r.P, "forward", "mu", 6, &mu) && dnet_load(r.P, "backward", "nu", 6, &nu) && mu.nl == 3, "networks");
    double zmax = 0;
    for (int i = 0; i < D * 16; i++) zmax = fmax(zmax, fabs(mu.w[2][i]) + fabs(nu.w[2][i]));
    CHECK(zmax == 0, "last layers start at zero (%g)", zmax);
    randomize(&r, 0.4f);
    ug_rng rng = ug_rng_make(3, 0);

    /* Forward from the root and backward from x, against the direct evaluation. */
    ug_traj f = {.size = sizeof f};
    ug_traj_req rf = {.size = sizeof rf, .batch = 64, .steps = -1, .flags = UG_TRAJ_KEEP_STATES};
    CHECK(m->vt->sample_forward(m->self, ctx, &rng, &rf, &f) == UG_OK, "%s", ug_ctx_errmsg(ctx));
    double df = direct_diff(&f, &mu, &nu, D, T, 0.01, 0.3, true);
    CHECK(df < 2e-4, "forward terms vs direct: %g", df);
    ug_tensor *x = f.last;
    ug_traj b = {.size = sizeof b};
    ug_traj_req rb = {.size = sizeof rb, .start = x, .start_index = T + 1, .steps = -1, .flags = UG_TRAJ_KEEP_STATES};
    CHECK(m->vt->sample_backward(m->self, ctx, &rng, &rb, &b) == UG_OK, "%s", ug_ctx_errmsg(ctx));
    double db = direct_diff(&b, &mu, &nu, D, T, 0.01, 0.3, true);
    CHECK(b.start == 0 && b.steps == T + 1 && db < 2e-4, "backward terms vs direct: %g", db);
    printf("logterms: |recorded - direct| / (1 + |direct|) <= %.2g (forward), %.2g (backward), 64 rows x %d steps\n", df, db, T + 1);

    /* rescore: the same terms from the states; flags leave the excluded term alone. */
    ug_traj again = b;
    again.log_pf = again.log_pb = NULL;
    CHECK(m->vt->rescore(m->self, ctx, &again, 0) == UG_OK, "%s", ug_ctx_errmsg(ctx));
    double dr = traj_diff(&b, &again, D, false);
    ug_traj one = f;
    one.log_pf = ug_arena_alloc(ctx, sizeof(ug_tensor *) * (size_t)f.steps);
    one.log_pb = ug_arena_alloc(ctx, sizeof(ug_tensor *) * (size_t)f.steps);
    for (int t = 0; t < f.steps; t++) one.log_pf[t] = one.log_pb[t] = NULL;
    CHECK(m->vt->rescore(m->self, ctx, &one, UG_TRAJ_NO_PF) == UG_OK, "%s", ug_ctx_errmsg(ctx));
    bool untouched = true;
    for (int t = 0; t < f.steps; t++) untouched = untouched && one.log_pf[t] == NULL && one.log_pb[t] != NULL;
    CHECK(untouched, "rescore with NO_PF left log_pf alone and filled log_pb");
    /* A sub-trajectory: indices 2..5 of f. */
    ug_traj sub = {.size = sizeof sub, .batch = f.batch, .start = 2, .steps = 3, .states = f.states + 2};
    CHECK(m->vt->rescore(m->self, ctx, &sub, 0) == UG_OK, "%s", ug_ctx_errmsg(ctx));
    double ds = 0;
    for (int t = 0; t < 3; t++)
        for (int64_t i = 0; i < f.batch; i++)
            ds = fmax(ds, fabs(ug_f32(sub.log_pf[t])[i] - ug_f32(f.log_pf[t + 2])[i]) +
                              fabs(ug_f32(sub.log_pb[t])[i] - ug_f32(f.log_pb[t + 2])[i]));
    CHECK(dr < 1e-5 && ds < 1e-5, "rescore vs sampled: %g (whole), %g (indices 2..5)", dr, ds);
    printf("logterms: rescore vs sampled terms: %.2g (whole backward), %.2g (sub-trajectory 2..5)\n", dr, ds);

    /* Partial: 3 steps back from x, then forward again from there; terms against the direct formulas. */
    ug_traj pb = {.size = sizeof pb}, pf = {.size = sizeof pf};
    ug_traj_req rpb = {.size = sizeof rpb, .start = x, .start_index = T + 1, .steps = 3, .flags = UG_TRAJ_KEEP_STATES};
    CHECK(m->vt->sample_backward(m->self, ctx, &rng, &rpb, &pb) == UG_OK && pb.start == T - 2 && pb.steps == 3,
          "partial backward: %s", ug_ctx_errmsg(ctx));
    ug_traj_req rpf = {.size = sizeof rpf, .start = pb.first, .start_index = T - 2, .steps = -1,
                       .flags = UG_TRAJ_KEEP_STATES};
    CHECK(m->vt->sample_forward(m->self, ctx, &rng, &rpf, &pf) == UG_OK && pf.start == T - 2 && pf.steps == 3,
          "partial forward: %s", ug_ctx_errmsg(ctx));
    double dp = fmax(direct_diff(&pb, &mu, &nu, D, T, 0.01, 0.3, true), direct_diff(&pf, &mu, &nu, D, T, 0.01, 0.3, true));
    CHECK(dp < 2e-4, "partial trajectories vs direct: %g", dp);
    ug_traj bad = {.size = sizeof bad};
    ug_traj_req rbad = {.size = sizeof rbad, .start = x, .start_index = T + 1, .steps = T + 2};
    CHECK(m->vt->sample_backward(m->self, ctx, &rng, &rbad, &bad) == UG_ERR_ARG && strstr(ug_ctx_errmsg(ctx), "start_index"),
          "too many steps refused: %s", ug_ctx_errmsg(ctx));
    ug_ctx_clear_error(ctx);
    ug_step_reset(ctx);

    /* Grad off (scoped step memory) samples exactly what grad on samples. */
    for (int dir = 0; dir < 2; dir++) {
        ug_traj t2[2];
        ug_tensor *x0 = NULL;
        for (int gmode = 0; gmode < 2; gmode++) {
            bool prev = ug_set_grad_enabled(ctx, gmode == 1);
            ug_rng rr = ug_rng_make(21, 2);
            if (dir == 1 && !x0) {
                x0 = ug_rand_normal(ctx, &rr, 2, (int64_t[]){500, D});
                rr = ug_rng_make(21, 2);
            }
            t2[gmode] = (ug_traj){.size = sizeof(ug_traj)};
            ug_traj_req q = {.size = sizeof q, .batch = 500, .steps = -1, .flags = UG_TRAJ_KEEP_STATES,
                             .start = x0, .start_index = dir ? T + 1 : 0};
            ug_status st = dir ? m->vt->sample_backward(m->self, ctx, &rr, &q, &t2[gmode])
                               : m->vt->sample_forward(m->self, ctx, &rr, &q, &t2[gmode]);
            CHECK(st == UG_OK, "%s", ug_ctx_errmsg(ctx));
            ug_set_grad_enabled(ctx, prev);
        }
        double dg = traj_diff(&t2[0], &t2[1], D, true);
        CHECK(dg == 0, "%s: grad-off and grad-on samples differ by %g", dir ? "backward" : "forward", dg);
        ug_step_reset(ctx);
    }

    /* Tempered forward: residuals (s_{k+1} - mean)/sigma_k have variance 2 at temperature 2, while the
     * recorded terms stay the untempered densities (checked against the direct evaluation). */
    ug_traj tt = {.size = sizeof tt};
    ug_traj_req rt = {.size = sizeof rt, .batch = 4000, .steps = -1, .flags = UG_TRAJ_KEEP_STATES, .temperature = 2.0f};
    CHECK(m->vt->sample_forward(m->self, ctx, &rng, &rt, &tt) == UG_OK, "%s", ug_ctx_errmsg(ctx));
    double ss = 0;
    long cnt = 0;
    for (int k = 0; k <= T; k++)
        for (int64_t i = 0; i < 4000; i++) {
            double s[2], net[2] = {0, 0}, var = k ? lin_beta(k, T, 0.01, 0.3) : 1.0;
            for (int d = 0; d < D; d++) s[d] = row(tt.states[k], i, d, D);
            if (k) dnet_eval(&mu, s, D, k, net);
            for (int d = 0; d < D; d++) {
                double e = row(tt.states[k + 1], i, d, D) - (k ? s[d] + var * net[d] : 0);
                ss += e * e / var;
                cnt++;
            }
        }
    double v2 = ss / (double)cnt, se = sqrt(2.0 * 4.0 / (double)cnt);  // var of chi^2_1 scaled by 2: 2*2^2
    tt.batch = 64;  // the direct check on the first rows
    double dt = direct_diff(&tt, &mu, &nu, D, T, 0.01, 0.3, true);
    CHECK(fabs(v2 - 2.0) < 4 * se && dt < 2e-4, "temperature 2: residual variance %.4f (want 2 +- %.4f), terms %g", v2, se, dt);
    printf("logterms: temperature 2: standardized residual variance %.4f +- %.4f (want 2); terms untempered (%.2g)\n",
           v2, se, dt);
    ug_traj_req rx = {.size = sizeof rx, .batch = 4, .steps = -1, .explore = 0.1f};
    CHECK(m->vt->sample_forward(m->self, ctx, &rng, &rx, &tt) == UG_ERR_UNSUPPORTED, "explore refused");
    ug_ctx_clear_error(ctx);
    ug_step_reset(ctx);

    /* Pathwise derivatives in both directions. */
    check_pathwise(&r, true, NULL);
    ug_rng xr = ug_rng_make(8, 8);
    float xs[64];
    ug_rng_normal(&xr, xs, 64);
    check_pathwise(&r, false, xs);

    /* ipf half forward = kl_tb direction data: the same value and θ-gradient from the same draws. */
    int gi = ug_params_group_index(r.P, "forward");
    float *grad;
    int64_t ng;
    ug_params_group_info(r.P, gi, NULL, NULL, &grad, &ng);
    double lv[2], *gcopy = calloc((size_t)ng, sizeof(double)), gdiff = 0, gscale = 0;
    for (int t = 0; t < 2; t++) {
        ug_rng orng = ug_rng_make(31, 0), drng = ug_rng_make(32, 0);
        ug_tensor *data = ug_rand_normal(ctx, &drng, 2, (int64_t[]){128, D});
        ug_step_env env = {.size = sizeof env, .ctx = ctx, .rng = &orng, .model = m, .batch = data,
                           .update_mask = 1ull << gi};
        ug_loss_out out = {.size = sizeof out};
        ug_status st = ((const ug_objective_vtable *)r.terms[t].desc->vtable)->loss(r.terms[t].self, &env, &out);
        CHECK(st == UG_OK, "%s: %s", r.terms[t].desc->name, ug_ctx_errmsg(ctx));
        if (st) break;
        lv[t] = ug_item(out.loss);
        ug_params_zero_grad(r.P, ~0ull);
        CHECK(ug_backward(ctx, out.loss, 1ull << gi) == UG_OK, "%s", ug_ctx_errmsg(ctx));
        for (int64_t i = 0; i < ng; i++) {
            if (t == 0) gcopy[i] = grad[i];
            else {
                gdiff = fmax(gdiff, fabs(gcopy[i] - grad[i]));
                gscale = fmax(gscale, fabs(grad[i]));
            }
        }
        ug_step_reset(ctx);
    }
    free(gcopy);
    CHECK(strcmp(r.terms[0].desc->name, "ipf") == 0 && strcmp(r.terms[1].desc->name, "kl_tb") == 0, "term order");
    CHECK(fabs(lv[0] - lv[1]) <= 1e-5 * fabs(lv[1]) && gdiff <= 1e-5 * gscale && gscale > 0,
          "ipf(forward) %.7f vs kl_tb(data) %.7f; gradients differ by %g (scale %g)", lv[0], lv[1], gdiff, gscale);
    printf("logterms: ipf(forward) loss %.6f = kl_tb(data) %.6f; max gradient difference %.2g (max |grad| %.3g)\n", lv[0],
           lv[1], gdiff, gscale);
    tl_close(&r);

    /* The VP reference (fresh model, default T = 20 and linear 1e-3 .. 0.6; small networks, whose
     * zero last layers make them irrelevant here): s_1 | x is N(sqrt(abar) x, (1 - abar) I). */
    tl_run q;
    if (!open_run(&q, "seed: 1\ndataset: {plugin: none}\nmodel: {plugin: sb, hidden: [8]}\n"
                      "objective: [{plugin: ipf, half: forward, updates: [forward]}]\n"
                      "optim: {forward: {lr: 0.001}}\ntrain: {steps: 1, batch: 8}\n"))
        return;
    double abar = 1;
    for (int k = 1; k <= 20; k++) abar *= 1 - lin_beta(k, 20, 1e-3, 0.6);
    const int N = 20000;
    float *xv = malloc(sizeof(float) * 2 * N);
    for (int i = 0; i < N; i++) {
        xv[2 * i] = 3.0f;
        xv[2 * i + 1] = -2.0f;
    }
    bool prev = ug_set_grad_enabled(q.ctx, false);
    ug_tensor *xc = ug_from_f32(q.ctx, xv, 2, (int64_t[]){N, 2});
    ug_traj e = {.size = sizeof e};
    ug_traj_req re = {.size = sizeof re, .start = xc, .start_index = 21, .steps = 20, .flags = UG_TRAJ_NO_PF};
    CHECK(q.model.vt->sample_backward(q.model.self, q.ctx, &rng, &re, &e) == UG_OK && e.start == 1,
          "%s", ug_ctx_errmsg(q.ctx));
    double mean[2] = {0, 0}, var[2] = {0, 0};
    for (int i = 0; i < N; i++)
        for (int d = 0; d < 2; d++) mean[d] += row(e.first, i, d, 2) / N;
    for (int i = 0; i < N; i++)
        for (int d = 0; d < 2; d++) var[d] += pow(row(e.first, i, d, 2) - mean[d], 2) / (N - 1);
    double want[2] = {3 * sqrt(abar), -2 * sqrt(abar)}, sev = (1 - abar) * sqrt(2.0 / N), sem = sqrt((1 - abar) / N);
    for (int d = 0; d < 2; d++)
        CHECK(fabs(mean[d] - want[d]) < 4 * sem && fabs(var[d] - (1 - abar)) < 4 * sev,
              "VP reference s_1 | x: coordinate %d mean %.4f (want %.4f), var %.4f (want %.4f)", d, mean[d], want[d], var[d],
              1 - abar);
    printf("logterms: VP reference, abar = %.3g: s_1 | x = (3, -2): mean (%.4f, %.4f) want (%.4f, %.4f) +- %.4f; "
           "var (%.4f, %.4f) want %.4f +- %.4f\n", abar, mean[0], mean[1], want[0], want[1], sem, var[0], var[1],
           1 - abar, sev);
    ug_set_grad_enabled(q.ctx, prev);
    free(xv);
    tl_close(&q);
}

/* ---- reversal: one IPF half-step (b) in closed form ---------------------------------------------- */

enum { RT = 4, RTEMB = 16 };
static const double RA = 0.8, RANG = 0.6, RB[2] = {0.5, -0.3}, RBETA = 0.36;  // beta = 1 - a^2

static const char *REV_YAML =
    "seed: 2\n"
    "dataset: {plugin: none}\n"
    "model: {plugin: sb, dim: 2, steps: 4, sigma: constant, beta_max: 0.36, reference: none, hidden: [], temb: 16}\n"
    "objective: [{plugin: ipf, half: backward, updates: [backward], batch: 512}]\n"
    "optim: {backward: {lr: 0.03, schedule: cosine}}\n"
    "train: {steps: 1500, batch: 512}\n";

/* a R (rot = +1) or a R^T (rot = -1) applied to v. */
static void arot(int rot, const double *v, double *out) {
    double c = cos(RANG), s = sin(RANG) * rot;
    out[0] = RA * (c * v[0] - s * v[1]);
    out[1] = RA * (s * v[0] + c * v[1]);
}

/* Moments of P_B's chain run back from N = 20000 draws of x ~ N(m_{T+1}, I): the worst error of the
 * means against m_k, of the covariances against I and of the lag covariances E[(s_{k+1} - m)(s_k - m)^T]
 * against a R, over k = 1..T. */
static void backward_moments(tl_run *r, const double m_k[][2], double *e_mean, double *e_cov, double *e_lag) {
    const int N = 20000, D = 2;
    ug_ctx *ctx = r->ctx;
    bool prev = ug_set_grad_enabled(ctx, false);
    ug_rng rng = ug_rng_make(12, 3);
    float *xv = malloc(sizeof(float) * D * N);
    ug_rng_normal(&rng, xv, D * N);
    for (int i = 0; i < N; i++)
        for (int d = 0; d < D; d++) xv[i * D + d] += (float)m_k[RT + 1][d];
    ug_tensor *x = ug_from_f32(ctx, xv, 2, (int64_t[]){N, D});
    ug_traj tr = {.size = sizeof tr};
    ug_traj_req req = {.size = sizeof req, .start = x, .start_index = RT + 1, .steps = RT,
                       .flags = UG_TRAJ_KEEP_STATES | UG_TRAJ_NO_PF | UG_TRAJ_NO_PB};
    CHECK(r->model.vt->sample_backward(r->model.self, ctx, &rng, &req, &tr) == UG_OK, "%s", ug_ctx_errmsg(ctx));
    *e_mean = *e_cov = *e_lag = 0;
    double ar[2][2];  // a R as a matrix: column j = a R e_j
    for (int j = 0; j < 2; j++) {
        double ej[2] = {j == 0, j == 1}, col[2];
        arot(+1, ej, col);
        ar[0][j] = col[0];
        ar[1][j] = col[1];
    }
    for (int k = 1; k <= RT; k++) {
        ug_tensor *s = tr.states[k - 1], *sp = tr.states[k];  // indices k and k + 1 (tr.start = 1)
        double mu[2] = {0, 0}, c[2][2] = {{0}}, l[2][2] = {{0}};
        for (int i = 0; i < N; i++)
            for (int d = 0; d < 2; d++) mu[d] += row(s, i, d, D) / N;
        for (int i = 0; i < N; i++)
            for (int a = 0; a < 2; a++)
                for (int b = 0; b < 2; b++) {
                    c[a][b] += (row(s, i, a, D) - m_k[k][a]) * (row(s, i, b, D) - m_k[k][b]) / N;
                    l[a][b] += (row(sp, i, a, D) - m_k[k + 1][a]) * (row(s, i, b, D) - m_k[k][b]) / N;
                }
        for (int a = 0; a < 2; a++) {
            *e_mean = fmax(*e_mean, fabs(mu[a] - m_k[k][a]));
            for (int b = 0; b < 2; b++) {
                *e_cov = fmax(*e_cov, fabs(c[a][b] - (a == b)));
                *e_lag = fmax(*e_lag, fabs(l[a][b] - ar[a][b]));
            }
        }
    }
    free(xv);
    ug_set_grad_enabled(ctx, prev);
    ug_step_reset(ctx);
}

static void test_reversal(void) {
    tl_run r;
    if (!open_run(&r, REV_YAML)) return;
    const int D = 2;
    /* P_F: mu(s) = beta g(s) = (a R - I) s + b, so g = ((a R - I) s + b) / beta, with no time input
     * (the embedding's weights stay 0). */
    ug_tensor *w = ug_params_find(r.P, "forward", "mu.0.w"), *bb = ug_params_find(r.P, "forward", "mu.0.b");
    CHECK(w && bb && w->shape[0] == 2 && w->shape[1] == 2 + RTEMB, "affine networks: mu.0.w is [2, 2 + temb]");
    if (!w || !bb) {
        tl_close(&r);
        return;
    }
    for (int j = 0; j < 2; j++) {
        double ej[2] = {j == 0, j == 1}, col[2];
        arot(+1, ej, col);
        for (int o = 0; o < 2; o++) ug_f32(w)[o * (2 + RTEMB) + j] = (float)((col[o] - (o == j)) / RBETA);
    }
    for (int o = 0; o < 2; o++) ug_f32(bb)[o] = (float)(RB[o] / RBETA);
    /* Closed form: m_1 = 0, m_{k+1} = a R m_k + b; the reversal's offset c*_k = m_k - a R^T m_{k+1}. */
    double m_k[RT + 2][2] = {{0}}, cstar[RT + 1][2];
    for (int k = 1; k <= RT; k++) {
        arot(+1, m_k[k], m_k[k + 1]);
        for (int d = 0; d < 2; d++) m_k[k + 1][d] += RB[d];
    }
    for (int k = 1; k <= RT; k++) {
        double t[2];
        arot(-1, m_k[k + 1], t);
        for (int d = 0; d < 2; d++) cstar[k][d] = m_k[k][d] - t[d];
    }
    double e0m, e0c, e0l;
    backward_moments(&r, m_k, &e0m, &e0c, &e0l);
    printf("reversal: before training (P_B = a Brownian step back): worst errors mean %.3f, cov %.3f, lag cov %.3f\n",
           e0m, e0c, e0l);
    CHECK(e0m > 0.2 && e0c > 0.3, "the untrained P_B should fail the moment check (mean %.3f, cov %.3f)", e0m, e0c);

    double first = 0, last = 0;
    for (int64_t s = 0; s < r.steps; s++) {
        ug_status st = tl_step(&r, NULL, NULL, &ERR);
        CHECK(st == UG_OK, "%s", ERR.msg);
        if (st) break;
        if (s < 50) first += r.terms[0].loss / 50;
        if (s >= r.steps - 50) last += r.terms[0].loss / 50;
    }
    printf("reversal: ipf(backward) loss, mean of the first / last 50 of %lld steps: %.4f -> %.4f\n", (long long)r.steps,
           first, last);
    /* At the exact reversal each step's -log P_B is (D/2) log(2 pi beta) + |eps|^2/2, of mean
     * (D/2)(1 + log(2 pi beta)) and variance D/2: over T steps, 512 rows and 50 steps the mean has
     * s.e. sqrt(T (D/2) / (512 * 50)) = 0.0125. */
    const double lstar = RT * (D / 2.0) * (1 + log(2 * M_PI * RBETA)), lse = sqrt(RT * D / 2.0 / (512.0 * 50));
    printf("reversal: closed-form optimum of the loss T (D/2)(1 + log(2 pi beta)) = %.4f, last 50 steps %.4f +- %.4f\n",
           lstar, last, lse);
    CHECK(last < first && fabs(last - lstar) < 4 * lse, "the loss falls to its closed-form optimum %.4f (last %.4f)",
          lstar, last);

    /* The learned nu(s, k) = beta (W s + U emb(k) + b) against (a R^T - I) s + c*_k. */
    dnet nu;
    CHECK(dnet_load(r.P, "backward", "nu", RTEMB, &nu) && nu.nl == 1, "nu is affine");
    double e_slope = 0, e_off = 0;
    for (int j = 0; j < 2; j++) {
        double ej[2] = {j == 0, j == 1}, col[2];
        arot(-1, ej, col);
        for (int o = 0; o < 2; o++)
            e_slope = fmax(e_slope, fabs(RBETA * nu.w[0][o * (2 + RTEMB) + j] - (col[o] - (o == j))));
    }
    for (int k = 1; k <= RT; k++) {
        double zero[2] = {0, 0}, off[2];
        dnet_eval(&nu, zero, D, k, off);
        for (int d = 0; d < 2; d++) e_off = fmax(e_off, fabs(RBETA * off[d] - cstar[k][d]));
    }
    printf("reversal: learned nu vs the closed-form reversal: slope (a R^T - I) worst error %.4f, per-step offsets "
           "m_k - a R^T m_{k+1} worst error %.4f\n", e_slope, e_off);
    CHECK(e_slope < 0.02 && e_off < 0.03, "slope error %.4f, offset error %.4f", e_slope, e_off);
    double em, ec, el;
    backward_moments(&r, m_k, &em, &ec, &el);
    printf("reversal: P_B's chain from x ~ N(m_5, I), 20000 rows: worst errors mean %.4f, cov %.4f, lag cov %.4f "
           "(Monte Carlo s.e. ~0.007 / 0.01 / 0.01)\n", em, ec, el);
    CHECK(em < 0.04 && ec < 0.05 && el < 0.05, "moments of P_B's chain: mean %.4f, cov %.4f, lag %.4f", em, ec, el);
    tl_close(&r);
}

/* ---- ipf: the alternation through the runner's step ------------------------------------------------ */

static const char *IPF_YAML =
    "name: sb-ipf-test\n"
    "seed: 5\n"
    "threads: 1\n"
    "dataset: {plugin: synthetic2d, data: 8gaussians, encoding: continuous}\n"
    "model: {plugin: sb, steps: 10, hidden: [64, 64], reference: none}\n"
    "objective:\n"
    "  - {plugin: ipf, half: forward, updates: [forward], stop: 100}\n"
    "  - {plugin: ipf, half: backward, updates: [backward], start: 100, stop: 200, batch: 256}\n"
    "  - {plugin: ipf, half: forward, updates: [forward], start: 200, stop: 300}\n"
    "  - {plugin: ipf, half: backward, updates: [backward], start: 300, stop: 400, batch: 256}\n"
    "optim: {forward: {lr: 0.003}, backward: {lr: 0.01}}\n"
    "train: {steps: 400, batch: 128}\n"
    "metrics: []\n";

/* Per-row loss of one half on fixed draws: backward, -sum log P_B of P_F paths from the root; forward,
 * sum [log P_B - log P_F] of P_B paths from the fixed data x. The same seed gives the same paths as
 * long as the sampling policy (the frozen one of the block) has not moved. */
static void half_rows(ug_experiment *ex, bool backward, const float *xv, int64_t N, double *out) {
    ug_ctx *ctx = ex->ctx;
    const ug_model *m = &ex->model;
    ug_step_reset(ctx);
    bool prev = ug_set_grad_enabled(ctx, false);
    ug_rng rng = ug_rng_make(77, backward);
    ug_traj tr = {.size = sizeof tr};
    ug_status st;
    if (backward) {
        ug_traj_req q = {.size = sizeof q, .batch = N, .steps = -1};
        st = m->vt->sample_forward(m->self, ctx, &rng, &q, &tr);
    } else {
        ug_traj_req q = {.size = sizeof q, .start = ug_from_f32(ctx, xv, 2, (int64_t[]){N, 2}),
                         .start_index = m->info.horizon, .steps = -1};
        st = m->vt->sample_backward(m->self, ctx, &rng, &q, &tr);
    }
    CHECK(st == UG_OK, "%s", ug_ctx_errmsg(ctx));
    ug_tensor *lpb = sum_terms(ctx, &tr, false), *lpf = sum_terms(ctx, &tr, true);
    for (int64_t i = 0; i < N && !st; i++)
        out[i] = backward ? -ug_f32(lpb)[i] : ug_f32(lpb)[i] - ug_f32(lpf)[i];
    ug_set_grad_enabled(ctx, prev);
    ug_step_reset(ctx);
}

static void group_copy(ug_experiment *ex, const char *name, float *dst, int64_t *n) {
    float *data;
    ug_params_group_info(ex->params, ug_params_group_index(ex->params, name), NULL, &data, NULL, n);
    memcpy(dst, data, sizeof(float) * (size_t)*n);
}

static double group_change(ug_experiment *ex, const char *name, const float *before) {
    float *data;
    int64_t n;
    ug_params_group_info(ex->params, ug_params_group_index(ex->params, name), NULL, &data, NULL, &n);
    double d = 0;
    for (int64_t i = 0; i < n; i++) d = fmax(d, fabs(data[i] - before[i]));
    return d;
}

static void test_ipf(void) {
    ug_spec *spec = NULL;
    memset(&ERR, 0, sizeof ERR);
    CHECK(ug_spec_load_string("sb-ipf.yaml", IPF_YAML, NULL, 0, &H.real, &spec, &ERR) == UG_OK, "spec: %s", ERR.msg);
    if (!spec) return;
    ug_experiment ex;
    memset(&ex, 0, sizeof ex);
    if (ug_experiment_build(&ex, spec, H.reg, &ERR)) {
        CHECK(0, "build: %s", ERR.msg);
        return;
    }
    CHECK(ex.n_terms == 4, "four terms");
    const int64_t blocks[5] = {0, 100, 200, 300, 400};
    const int64_t N = 4000;
    /* fixed data rows for the forward halves' paired losses */
    float *xv = malloc(sizeof(float) * 2 * (size_t)N);
    ug_rng drng = ug_rng_make(99, 0);
    ug_tensor *xd = NULL;
    CHECK(ex.data.vt->train_batch(ex.data.self, ex.ctx, &drng, N, 0, &xd) == UG_OK, "data: %s", ug_ctx_errmsg(ex.ctx));
    memcpy(xv, ug_f32(xd), sizeof(float) * 2 * (size_t)N);
    ug_step_reset(ex.ctx);
    double *before = malloc(sizeof(double) * (size_t)N), *after = malloc(sizeof(double) * (size_t)N);
    float *snap = malloc(sizeof(float) * 200000);
    int64_t ran[4] = {0}, wrong = 0;
    for (int blk = 0; blk < 4; blk++) {
        bool backward = blk % 2 == 1;
        const char *frozen = backward ? "forward" : "backward";
        int64_t n;
        group_copy(&ex, frozen, snap, &n);
        half_rows(&ex, backward, xv, N, before);
        double first = 0, last = 0;
        for (int64_t s = blocks[blk]; s < blocks[blk + 1]; s++) {
            ug_step_losses L;
            ug_status st = ug_train_step(&ex, s, &L, &ERR);
            CHECK(st == UG_OK, "step %lld: %s", (long long)s, ERR.msg);
            if (st) break;
            for (int t = 0; t < 4; t++) {
                ran[t] += L.ran[t];
                wrong += L.ran[t] != (t == blk);
            }
            if (s < blocks[blk] + 10) first += L.loss[blk] / 10;
            if (s >= blocks[blk + 1] - 10) last += L.loss[blk] / 10;
        }
        double frozen_change = group_change(&ex, frozen, snap);
        half_rows(&ex, backward, xv, N, after);
        double md = 0, sd = 0;
        for (int64_t i = 0; i < N; i++) md += (after[i] - before[i]) / (double)N;
        for (int64_t i = 0; i < N; i++) sd += pow(after[i] - before[i] - md, 2) / (double)(N - 1);
        double se = sqrt(sd / (double)N);
        printf("ipf: block %d (steps %lld..%lld, half %s): logged loss %.4f -> %.4f (first/last 10 steps); paired "
               "loss on %lld fixed paths changes by %.4f +- %.4f; frozen group '%s' moved by %g\n", blk,
               (long long)blocks[blk], (long long)blocks[blk + 1] - 1, backward ? "backward" : "forward", first, last,
               (long long)N, md, se, frozen, frozen_change);
        CHECK(frozen_change == 0, "block %d: the frozen group '%s' moved by %g", blk, frozen, frozen_change);
        CHECK(md < -3 * se, "block %d: half %s's own loss falls over its block (%.4f +- %.4f)", blk,
              backward ? "backward" : "forward", md, se);
    }
    for (int t = 0; t < 4; t++)
        CHECK(ran[t] == blocks[t + 1] - blocks[t], "term %d ran %lld steps, its block has %lld", t, (long long)ran[t],
              (long long)(blocks[t + 1] - blocks[t]));
    CHECK(wrong == 0, "%lld (step, term) pairs ran outside their block", (long long)wrong);
    printf("ipf: steps per term %lld, %lld, %lld, %lld (blocks of 100); none outside its block\n", (long long)ran[0],
           (long long)ran[1], (long long)ran[2], (long long)ran[3]);
    free(xv);
    free(before);
    free(after);
    free(snap);
    ug_experiment_free(&ex);
}

int main(int argc, char **argv) {
    const char *which = argc > 1 ? argv[1] : "logterms";
    if (harness_open(&H)) return 1;
    if (strcmp(which, "logterms") == 0) test_logterms();
    else if (strcmp(which, "reversal") == 0) test_reversal();
    else if (strcmp(which, "ipf") == 0) test_ipf();
    else CHECK(0, "unknown case '%s'", which);
    harness_close(&H);
    return CHECK_DONE();
}
