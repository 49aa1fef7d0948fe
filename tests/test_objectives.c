/* test_objectives.c — the generic objectives (kl_tb, tb, db, tbc) on the two example models, through
 * the real loader and the spec's schema checks, against exact answers:
 *
 *   exact   tiny_binary's policy interface: log_prob sums to 1; the importance-sampled likelihood over
 *           all D! orders equals the enumerated log p(x) exactly and over M = 2000 sampled backward
 *           trajectories within a few %; forward samples follow exp(log_prob); rescore reproduces
 *           sampled terms; partial trajectories; capability refusals at spec time and at run time.
 *   grads   expected gradients of the stochastic losses equal exact gradients computed by enumerating
 *           every trajectory: kl_tb(reward) (score function, leave-one-out baseline), kl_tb(data) with
 *           score_pb, and tbc (Prop. 14: E grad_phi L_TBC = 4 grad_phi KL(P_B || P_F)).
 *   tb, db, mle   training on tiny_binary reaches the target distribution (total variation < 0.02,
 *           computed exactly from the learned P_F): tb with forward_ratio 1; db with a flow head;
 *           MLE-GFN = kl_tb(data) updating forward + tbc updating backward, data drawn from the target.
 *   gauss   gauss_chain: kl_tb(data) at a random mu equals the closed-form negative ELBO (Monte Carlo
 *           within 3 standard errors) and training reaches the closed-form optimum mu_k = m/n.
 *
 * Usage: test_objectives CASE (meson registers one test per case). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "train_loop.h"

static ug_registry *REG;
static ug_error ERR;

static bool open_run(tl_run *r, const char *yaml, const char *const *ovr, int n) {
    memset(&ERR, 0, sizeof ERR);
    ug_status st = tl_open(r, REG, yaml, ovr, n, &ERR);
    CHECK(st == UG_OK, "tl_open: %s", ERR.msg);
    return st == UG_OK;
}

/* ---- tiny_binary helpers -------------------------------------------------------------------- */

#define MAXX 16
#define MAXO 24

typedef struct target {
    int D, nx;
    double p[MAXX];      /* p*(x) = R(x) / sum R */
    double log_z;        /* log sum R */
} target;

/* Every terminal x as a [2^D, D] batch: row i has x_j = bit j of i. */
static ug_tensor *all_x(ug_ctx *ctx, int D) {
    int nx = 1 << D;
    ug_tensor *x = ug_new2(ctx, nx, D);
    for (int i = 0; i < nx; i++)
        for (int j = 0; j < D; j++) ug_f32(x)[i * D + j] = (float)((i >> j) & 1);
    return x;
}

/* The target distribution from the model's own log_reward. */
static target get_target(tl_run *r) {
    target t = {.D = (int)r->model.info.space.dim};
    t.nx = 1 << t.D;
    ug_tensor *lr = r->model.vt->log_reward(r->model.self, r->ctx, all_x(r->ctx, t.D));
    double s = 0;
    for (int i = 0; i < t.nx; i++) s += t.p[i] = exp(ug_f32(lr)[i]);
    for (int i = 0; i < t.nx; i++) t.p[i] /= s;
    t.log_z = log(s);
    ug_step_reset(r->ctx);
    return t;
}

/* Exact terminal distribution of the current P_F (log_prob enumerates all orders). */
static void model_dist(tl_run *r, int D, double *p) {
    bool g = ug_set_grad_enabled(r->ctx, false);
    ug_tensor *lp = r->model.vt->log_prob(r->model.self, r->ctx, all_x(r->ctx, D));
    CHECK(lp != NULL, "log_prob: %s", ug_ctx_errmsg(r->ctx));
    for (int i = 0; lp && i < (1 << D); i++) p[i] = exp(ug_f32(lp)[i]);
    ug_set_grad_enabled(r->ctx, g);
    ug_step_reset(r->ctx);
}

static double tv_to_target(tl_run *r, const target *t) {
    double p[MAXX], tv = 0;
    model_dist(r, t->D, p);
    for (int i = 0; i < t->nx; i++) tv += 0.5 * fabs(p[i] - t->p[i]);
    return tv;
}

/* Batches of exact draws from the target. */
static ug_status draw_target(void *ud, ug_ctx *ctx, ug_rng *rng, int64_t B, int64_t step, ug_tensor **out) {
    (void)step;
    const target *t = ud;
    ug_tensor *x = ug_new2(ctx, B, t->D);  // [B, D]
    if (!x) return ug_ctx_status(ctx);
    for (int64_t b = 0; b < B; b++) {
        double u = ug_rng_uniform_f64(rng), c = 0;
        int i = 0;
        for (; i < t->nx - 1; i++)
            if (u < (c += t->p[i])) break;
        for (int j = 0; j < t->D; j++) ug_f32(x)[b * t->D + j] = (float)((i >> j) & 1);
    }
    *out = x;
    return UG_OK;
}

static int perms(int D, int perm[MAXO][4]) {
    int p[4] = {0, 1, 2, 3}, n = 0;
    for (;;) {
        memcpy(perm[n++], p, sizeof p);
        int i = D - 2;
        while (i >= 0 && p[i] > p[i + 1]) i--;
        if (i < 0) return n;
        int j = D - 1;
        while (p[j] < p[i]) j--;
        int t = p[i]; p[i] = p[j]; p[j] = t;
        for (int a = i + 1, b = D - 1; a < b; a++, b--) { t = p[a]; p[a] = p[b]; p[b] = t; }
    }
}

/* Every complete trajectory: rows (x, order) for the x in xs (n of them), rescored with the current
 * parameters (terms on the tape). */
static ug_traj all_traj(tl_run *r, int D, const int *xs, int n) {
    int perm[MAXO][4], O = perms(D, perm);
    int64_t B = (int64_t)n * O, sh[2] = {B, D};
    ug_traj tr = {.size = sizeof tr, .batch = B, .start = 0, .steps = D};
    tr.first = ug_full(r->ctx, 2, sh, -1.0f);
    tr.actions = ug_new2(r->ctx, B, D);
    for (int a = 0; a < n; a++)
        for (int o = 0; o < O; o++)
            for (int k = 0; k < D; k++) {
                int pos = perm[o][k];
                ug_f32(tr.actions)[((int64_t)a * O + o) * D + k] = (float)(2 * pos + ((xs[a] >> pos) & 1));
            }
    ug_status st = r->model.vt->rescore(r->model.self, r->ctx, &tr, 0);
    CHECK(st == UG_OK, "rescore: %s", ug_ctx_errmsg(r->ctx));
    return tr;
}

static ug_tensor *sum_steps(ug_ctx *ctx, const ug_traj *tr, bool pf) {
    ug_tensor *acc = NULL;
    for (int k = 0; k < tr->steps; k++) {
        ug_tensor *t = pf ? tr->log_pf[k] : tr->log_pb[k];
        acc = acc ? ug_add(ctx, acc, t) : t;
    }
    return acc;
}

/* Give every table entry a random value so no policy is uniform. */
static void randomize(tl_run *r, float scale, uint64_t seed) {
    ug_rng rng = ug_rng_make(seed, 77);
    for (int g = 0; g < ug_params_group_count(r->P); g++) {
        float *data;
        int64_t n;
        const char *name;
        ug_params_group_info(r->P, g, &name, &data, NULL, &n);
        if (strcmp(name, "logZ") == 0) continue;
        ug_rng_normal(&rng, data, n);
        for (int64_t i = 0; i < n; i++) data[i] *= scale;
    }
}

static const char *TINY_YAML =
    "seed: 3\n"
    "dataset: {plugin: none}\n"
    "model: {plugin: tiny_binary, dim: 3}\n"
    "objective:\n"
    "  - {plugin: tbc, updates: [backward]}\n"
    "optim: {backward: {lr: 0.01}}\n"
    "train: {steps: 10, batch: 64}\n";

/* ---- exact ------------------------------------------------------------------------------------ */

static void test_exact(void) {
    tl_run r;
    if (!open_run(&r, TINY_YAML, NULL, 0)) return;
    CHECK(r.model.info.horizon == 3 && r.model.info.space.kind == UG_SPACE_BINARY, "info");
    CHECK((r.model.info.caps & UG_CAP_LOG_FLOW) == 0, "no flow head by default");
    randomize(&r, 0.5f, 5);  // non-uniform policies whose IS weights still have moderate variance
    ug_ctx *ctx = r.ctx;
    const int D = 3, nx = 8;
    target t = get_target(&r);
    CHECK_CLOSE(t.log_z, log(36.0), 1e-6, 0);  // default R(x) = 1 + idx(x)

    double p[MAXX], s = 0;
    model_dist(&r, D, p);
    for (int i = 0; i < nx; i++) s += p[i];
    CHECK_CLOSE(s, 1.0, 1e-5, 0);

    /* Importance sampling with the exact expectation over P_B: all orders, weights P_B(tau|x). */
    int xs[MAXX];
    for (int i = 0; i < nx; i++) xs[i] = i;
    ug_traj all = all_traj(&r, D, xs, nx);
    ug_tensor *lpf = sum_steps(ctx, &all, true), *lpb = sum_steps(ctx, &all, false);
    const int O = 6;
    double worst_pb = 0, worst_is = 0;
    for (int i = 0; i < nx && lpf; i++) {
        double spb = 0, is = 0;
        for (int o = 0; o < O; o++) {
            double a = ug_f32(lpf)[i * O + o], b = ug_f32(lpb)[i * O + o];
            spb += exp(b);
            is += exp(b) * exp(a - b);
        }
        worst_pb = fmax(worst_pb, fabs(spb - 1));
        worst_is = fmax(worst_is, fabs(log(is) - log(p[i])));
    }
    CHECK(worst_pb < 1e-5, "sum over orders of P_B(tau|x) - 1 = %g", worst_pb);
    CHECK(worst_is < 1e-5, "all-orders IS vs enumerated log p(x): %g", worst_is);
    printf("exact: |sum P_B - 1| <= %.2g, |log IS_all - log p| <= %.2g\n", worst_pb, worst_is);
    ug_step_reset(ctx);

    /* Importance sampling with M = 2000 sampled backward trajectories per x. */
    const int M = 2000;
    ug_rng rng = ug_rng_make(11, 0);
    double worst_rel = 0, worst_rse = 0;
    for (int i = 0; i < nx; i++) {
        int64_t sh[2] = {M, D};
        ug_tensor *x = ug_new(ctx, UG_F32, 2, sh);
        for (int m = 0; m < M; m++)
            for (int j = 0; j < D; j++) ug_f32(x)[m * D + j] = (float)((i >> j) & 1);
        ug_traj tr = {.size = sizeof tr};
        ug_traj_req req = {.size = sizeof req, .start = x, .start_index = D, .steps = -1};
        CHECK(r.model.vt->sample_backward(r.model.self, ctx, &rng, &req, &tr) == UG_OK, "%s", ug_ctx_errmsg(ctx));
        ug_tensor *w = ug_sub(ctx, sum_steps(ctx, &tr, true), sum_steps(ctx, &tr, false));  // [M]
        double est = ug_item(ug_logsumexp(ctx, w, 0, false)) - log((double)M);
        /* relative standard error of the mean weight, from the sample */
        double m1 = 0, m2 = 0;
        for (int m = 0; m < M; m++) {
            double e = exp(ug_f32(w)[m]);
            m1 += e / M;
            m2 += e * e / M;
        }
        double rse = sqrt(fmax(m2 - m1 * m1, 0) / M) / m1, rel = fabs(exp(est - log(p[i])) - 1);
        CHECK(rel < 4 * rse + 1e-6, "IS for x = %d: |p_hat/p - 1| = %g, %g standard errors", i, rel, rel / rse);
        worst_rel = fmax(worst_rel, rel);
        worst_rse = fmax(worst_rse, rse);
        ug_step_reset(ctx);
    }
    CHECK(worst_rel < 0.04, "IS with M = %d: worst |p_hat/p - 1| = %g", M, worst_rel);
    printf("exact: IS with M = %d backward trajectories: worst |p_hat/p - 1| = %.4f (worst relative s.e. %.4f)\n", M,
           worst_rel, worst_rse);

    /* Forward samples follow exp(log_prob); rescore reproduces the sampled terms. */
    const int N = 20000;
    ug_traj tr = {.size = sizeof tr};
    ug_traj_req req = {.size = sizeof req, .batch = N, .steps = -1, .flags = UG_TRAJ_KEEP_STATES};
    CHECK(r.model.vt->sample_forward(r.model.self, ctx, &rng, &req, &tr) == UG_OK, "%s", ug_ctx_errmsg(ctx));
    CHECK(tr.states && tr.steps == D && tr.start == 0 && tr.batch == N, "forward traj shape");
    double cnt[MAXX] = {0}, tvf = 0;
    for (int b = 0; b < N; b++) {
        int id = 0;
        for (int j = 0; j < D; j++) id |= (int)ug_f32(tr.last)[b * D + j] << j;
        cnt[id] += 1.0 / N;
    }
    for (int i = 0; i < nx; i++) tvf += 0.5 * fabs(cnt[i] - p[i]);
    CHECK(tvf < 0.02, "forward samples vs exp(log_prob): TV %g", tvf);
    ug_tensor *pf0 = sum_steps(ctx, &tr, true), *pb0 = sum_steps(ctx, &tr, false);
    ug_traj again = tr;
    again.log_pf = NULL;
    again.log_pb = NULL;
    CHECK(r.model.vt->rescore(r.model.self, ctx, &again, 0) == UG_OK, "%s", ug_ctx_errmsg(ctx));
    ug_tensor *pf1 = sum_steps(ctx, &again, true), *pb1 = sum_steps(ctx, &again, false);
    double dmax = 0;
    for (int b = 0; b < N; b++)
        dmax = fmax(dmax, fabs(ug_f32(pf0)[b] - ug_f32(pf1)[b]) + fabs(ug_f32(pb0)[b] - ug_f32(pb1)[b]));
    CHECK(dmax < 1e-5, "rescore differs from the sampled terms by %g", dmax);
    printf("exact: forward samples vs exp(log_prob): TV %.4f (N = %d); rescore max diff %.2g\n", tvf, N, dmax);

    /* Partial trajectories: one step back from x, then forward again from that state. */
    ug_traj back = {.size = sizeof back};
    ug_traj_req rb = {.size = sizeof rb, .start = all_x(ctx, D), .start_index = D, .steps = 1,
                      .flags = UG_TRAJ_KEEP_STATES};
    CHECK(r.model.vt->sample_backward(r.model.self, ctx, &rng, &rb, &back) == UG_OK, "%s", ug_ctx_errmsg(ctx));
    CHECK(back.start == D - 1 && back.steps == 1, "partial backward covers index %d..%d", back.start, back.start + back.steps);
    ug_traj fwd = {.size = sizeof fwd};
    ug_traj_req rf = {.size = sizeof rf, .start = back.first, .start_index = D - 1, .steps = -1};
    CHECK(r.model.vt->sample_forward(r.model.self, ctx, &rng, &rf, &fwd) == UG_OK, "%s", ug_ctx_errmsg(ctx));
    CHECK(fwd.start == D - 1 && fwd.steps == 1 && isfinite(ug_item(ug_sum_all(ctx, fwd.log_pf[0]))), "partial forward");
    /* A start state at the wrong index is refused with a message. */
    ug_traj bad = {.size = sizeof bad};
    ug_traj_req rbad = {.size = sizeof rbad, .start = back.first, .start_index = D, .steps = -1};
    CHECK(r.model.vt->sample_backward(r.model.self, ctx, &rng, &rbad, &bad) == UG_ERR_ARG &&
              strstr(ug_ctx_errmsg(ctx), "start_index"), "wrong start index: %s", ug_ctx_errmsg(ctx));
    ug_ctx_clear_error(ctx);
    ug_step_reset(ctx);

    /* Run time: db on a model without a flow head fails cleanly with the capability's name. */
    const ug_plugin_desc *db = ug_registry_find(REG, UG_KIND_OBJECTIVE, "db")->desc;
    ug_create_args oa = {.size = sizeof oa, .cfg = r.terms[0].cfg, .ctx = ctx, .model = &r.model};
    ug_error e = {0};
    void *dbo = db->create(&oa, &e);
    CHECK(dbo != NULL, "db create: %s", e.msg);
    if (dbo) {
        ug_step_env env = {.size = sizeof env, .ctx = ctx, .rng = &rng, .model = &r.model, .batch = all_x(ctx, D)};
        ug_loss_out out = {.size = sizeof out};
        ug_status st = ((const ug_objective_vtable *)db->vtable)->loss(dbo, &env, &out);
        CHECK(st == UG_ERR_UNSUPPORTED && strstr(ug_ctx_errmsg(ctx), "log_flow"), "db without flow: %d %s", st,
              ug_ctx_errmsg(ctx));
        printf("exact: run-time refusal: %s\n", ug_ctx_errmsg(ctx));
        db->destroy(dbo);
    }
    ug_ctx_clear_error(ctx);
    ug_step_reset(ctx);
    tl_close(&r);

    /* Spec time: required_caps refuses the combination before anything runs. */
    const char *ovr[] = {"objective.0.plugin=db", "objective.0.updates=[forward]", "optim.forward.lr=0.01"};
    tl_run r2;
    memset(&ERR, 0, sizeof ERR);
    CHECK(tl_open(&r2, REG, TINY_YAML, ovr, 3, &ERR) == UG_ERR_SPEC && strstr(ERR.msg, "log_flow"),
          "db on a flowless model: %s", ERR.msg);
    printf("exact: spec-time refusal: %s\n", ERR.msg);
    const char *ovr2[] = {"objective.0.plugin=kl_tb", "objective.0.direction=reward", "model.plugin=gauss_chain",
                          "model.dim=2", "objective.0.updates=[forward]", "optim.forward.lr=0.01"};
    memset(&ERR, 0, sizeof ERR);
    CHECK(tl_open(&r2, REG, TINY_YAML, ovr2, 6, &ERR) == UG_ERR_SPEC && strstr(ERR.msg, "log_reward"),
          "kl_tb(reward) on gauss_chain: %s", ERR.msg);
    /* D = 4 with explicit log-rewards: 24 orders, still exact. */
    const char *ovr4[] = {"model.dim=4",
                          "model.log_rewards=[0, 1, -1, 2, 0.5, 0, 0, 1, -2, 3, 0, 0, 1, 1, -0.5, 0.25]"};
    if (open_run(&r2, TINY_YAML, ovr4, 2)) {
        randomize(&r2, 1.0f, 9);
        target t4 = get_target(&r2);
        double z = 0;
        const double lr4[16] = {0, 1, -1, 2, 0.5, 0, 0, 1, -2, 3, 0, 0, 1, 1, -0.5, 0.25};
        for (int i = 0; i < 16; i++) z += exp(lr4[i]);
        CHECK_CLOSE(t4.log_z, log(z), 1e-6, 0);
        CHECK_CLOSE(t4.p[9], exp(3.0) / z, 1e-6, 0);
        double p4[MAXX], s4 = 0;
        model_dist(&r2, 4, p4);
        for (int i = 0; i < 16; i++) s4 += p4[i];
        CHECK_CLOSE(s4, 1.0, 1e-5, 0);
        int x9 = 9;
        ug_traj a9 = all_traj(&r2, 4, &x9, 1);
        ug_tensor *l9 = ug_logsumexp(r2.ctx, sum_steps(r2.ctx, &a9, true), 0, false);
        CHECK(a9.batch == 24 && fabs(ug_item(l9) - log(p4[9])) < 1e-5, "D = 4: all orders vs log_prob");
        tl_close(&r2);
    }
    const char *ovr5[] = {"model.log_rewards=[0, 1]"};
    memset(&ERR, 0, sizeof ERR);
    CHECK(tl_open(&r2, REG, TINY_YAML, ovr5, 1, &ERR) != UG_OK && strstr(ERR.msg, "log_rewards has 2 values"),
          "short log_rewards: %s", ERR.msg);
    const char *ovr3[] = {"objective.0.plugin=kl_tb", "objective.0.direction=sideways"};
    memset(&ERR, 0, sizeof ERR);
    CHECK(tl_open(&r2, REG, TINY_YAML, ovr3, 2, &ERR) == UG_ERR_SPEC && strstr(ERR.msg, "direction"),
          "bad enum: %s", ERR.msg);
}

/* ---- grads ------------------------------------------------------------------------------------ */

/* Copy of the gradient blocks of groups `mask`, concatenated. */
static int64_t grad_copy(tl_run *r, uint64_t mask, double *out) {
    int64_t n = 0;
    for (int g = 0; g < ug_params_group_count(r->P); g++) {
        if (!((mask >> g) & 1u)) continue;
        float *gr;
        int64_t c;
        ug_params_group_info(r->P, g, NULL, NULL, &gr, &c);
        for (int64_t i = 0; i < c; i++) out[n++] = gr ? gr[i] : 0;
    }
    return n;
}

static uint64_t gmask(tl_run *r, const char *a, const char *b) {
    uint64_t m = 0;
    if (a) m |= 1ull << ug_params_group_index(r->P, a);
    if (b) m |= 1ull << ug_params_group_index(r->P, b);
    return m;
}

/* Exact objective by enumeration: reward: KL(P_F || P_B R) = sum_tau P_F(tau) [lpf - lpb - log R];
 * data: E_{x~p*} KL(P_B(.|x) || P_F) = sum_x p*(x) sum_tau P_B(tau|x) [lpb - lpf]. */
static ug_tensor *exact_kl(tl_run *r, const target *t, bool reward) {
    ug_ctx *ctx = r->ctx;
    int xs[MAXX];
    for (int i = 0; i < t->nx; i++) xs[i] = i;
    ug_traj all = all_traj(r, t->D, xs, t->nx);
    ug_tensor *lpf = sum_steps(ctx, &all, true), *lpb = sum_steps(ctx, &all, false);  // [nx O]
    int O = (int)(all.batch / t->nx);
    ug_tensor *w = ug_new1(ctx, all.batch);  // p*(x) or log R(x) per row
    for (int i = 0; i < t->nx; i++)
        for (int o = 0; o < O; o++)
            ug_f32(w)[i * O + o] = reward ? (float)(log(t->p[i]) + t->log_z) : (float)t->p[i];
    if (reward) return ug_sum_all(ctx, ug_mul(ctx, ug_exp(ctx, lpf), ug_sub(ctx, ug_sub(ctx, lpf, lpb), w)));
    return ug_sum_all(ctx, ug_mul(ctx, ug_mul(ctx, w, ug_exp(ctx, lpb)), ug_sub(ctx, lpb, lpf)));
}

/* Mean gradient of term 0's loss over K draws vs `scale` times the exact gradient: every coordinate
 * within 5 standard errors and the relative error of the whole vector small. */
static void check_estimator(tl_run *r, const target *t, bool reward, uint64_t mask, double scale, int K,
                            const char *label) {
    enum { MAXP = 1024 };
    static double exact[MAXP], sum[MAXP], sq[MAXP], g[MAXP];
    ug_params_zero_grad(r->P, ~0ull);
    ug_tensor *kl = exact_kl(r, t, reward);
    CHECK(kl && ug_backward(r->ctx, kl, mask) == UG_OK, "exact backward: %s", ug_ctx_errmsg(r->ctx));
    int64_t n = grad_copy(r, mask, exact);
    ug_step_reset(r->ctx);
    memset(sum, 0, sizeof sum);
    memset(sq, 0, sizeof sq);
    tl_term *T = &r->terms[0];
    for (int k = 0; k < K; k++) {
        ug_params_zero_grad(r->P, ~0ull);
        ug_tensor *batch = NULL;
        draw_target((void *)t, r->ctx, &r->data_rng, r->batch, k, &batch);
        ug_step_env env = {.size = sizeof env, .ctx = r->ctx, .rng = &T->rng, .model = &r->model, .batch = batch,
                           .step = k, .total_steps = K, .update_mask = mask};
        ug_loss_out out = {.size = sizeof out};
        ug_status st = ((const ug_objective_vtable *)T->desc->vtable)->loss(T->self, &env, &out);
        if (!st) st = ug_backward(r->ctx, out.loss, mask);
        CHECK(st == UG_OK, "%s: %s", label, ug_ctx_errmsg(r->ctx));
        if (st) return;
        grad_copy(r, mask, g);
        for (int64_t i = 0; i < n; i++) {
            sum[i] += g[i];
            sq[i] += g[i] * g[i];
        }
        ug_step_reset(r->ctx);
    }
    double worst_z = 0, err2 = 0, ex2 = 0;
    for (int64_t i = 0; i < n; i++) {
        double mean = sum[i] / K, var = fmax(sq[i] / K - mean * mean, 0), se = sqrt(var / K);
        double want = scale * exact[i];
        if (se > 0) worst_z = fmax(worst_z, fabs(mean - want) / se);
        else CHECK(fabs(mean - want) < 1e-6, "%s: coordinate %lld is constant %g, exact %g", label, (long long)i, mean, want);
        err2 += (mean - want) * (mean - want);
        ex2 += want * want;
    }
    double rel = sqrt(err2 / ex2);
    CHECK(worst_z < 5.0, "%s: worst coordinate is %.2f standard errors from the exact gradient", label, worst_z);
    CHECK(rel < 0.1, "%s: relative error of the mean gradient %.3f", label, rel);
    printf("grads: %-22s %lld coordinates, worst |z| = %.2f, relative error %.4f (K = %d)\n", label, (long long)n,
           worst_z, rel, K);
}

static void test_grads(void) {
    /* kl_tb(reward): P_F and P_B both in `updates`. */
    const char *ovr[] = {"objective.0.plugin=kl_tb", "objective.0.direction=reward",
                         "objective.0.updates=[forward, backward]", "optim.forward.lr=0.01", "train.batch=128"};
    tl_run r;
    if (open_run(&r, TINY_YAML, ovr, 5)) {
        randomize(&r, 1.0f, 21);
        target t = get_target(&r);
        check_estimator(&r, &t, true, gmask(&r, "forward", "backward"), 1.0, 600, "kl_tb(reward)");
        tl_close(&r);
    }
    /* kl_tb(data) with score_pb: the full gradient of E_x KL(P_B || P_F) in both groups. */
    const char *ovr2[] = {"objective.0.plugin=kl_tb", "objective.0.score_pb=true",
                          "objective.0.updates=[forward, backward]", "optim.forward.lr=0.01", "train.batch=128"};
    if (open_run(&r, TINY_YAML, ovr2, 5)) {
        randomize(&r, 1.0f, 22);
        target t = get_target(&r);
        check_estimator(&r, &t, false, gmask(&r, "forward", "backward"), 1.0, 600, "kl_tb(data, score_pb)");
        tl_close(&r);
    }
    /* tbc: Prop. 14, E grad_phi L_TBC = 4 grad_phi E_x KL(P_B(.|x) || P_F). */
    const char *ovr3[] = {"train.batch=128"};
    if (open_run(&r, TINY_YAML, ovr3, 1)) {
        randomize(&r, 1.0f, 23);
        target t = get_target(&r);
        check_estimator(&r, &t, false, gmask(&r, "backward", NULL), 4.0, 600, "tbc (Prop. 14)");
        tl_close(&r);
    }
}

/* E_{x~p*} KL(P_B(.|x) || P_F(.|x)) = E_x [log p_T(x) - E_{P_B} log P_F/P_B], by enumeration. */
static double elbo_gap(tl_run *r, const target *t) {
    double p[MAXX];
    model_dist(r, t->D, p);
    int xs[MAXX];
    for (int i = 0; i < t->nx; i++) xs[i] = i;
    bool g = ug_set_grad_enabled(r->ctx, false);
    ug_traj all = all_traj(r, t->D, xs, t->nx);
    ug_tensor *lpf = sum_steps(r->ctx, &all, true), *lpb = sum_steps(r->ctx, &all, false);
    int O = (int)(all.batch / t->nx);
    double gap = 0;
    for (int i = 0; i < t->nx; i++)
        for (int o = 0; o < O; o++) {
            double a = ug_f32(lpf)[i * O + o], b = ug_f32(lpb)[i * O + o];
            gap += t->p[i] * exp(b) * (log(p[i]) - (a - b));
        }
    ug_set_grad_enabled(r->ctx, g);
    ug_step_reset(r->ctx);
    return gap;
}

/* tbc alone on a fixed, random P_F: P_B must converge to P_F's posterior over orders (Prop. 14 at
 * work: TBC's gradient is the gradient of KL(P_B || P_F)). */
static void test_tbc_alone(void) {
    const char *yaml =
        "seed: 8\n"
        "dataset: {plugin: none}\n"
        "model: {plugin: tiny_binary, dim: 3}\n"
        "objective: [{plugin: tbc, updates: [backward], pairs: 2}]\n"
        "optim: {backward: {lr: 0.05, schedule: cosine, min_lr: 0.0005}}\n"
        "train: {steps: 1500, batch: 64}\n";
    tl_run r;
    if (!open_run(&r, yaml, NULL, 0)) return;
    float *fw;
    int64_t n;
    ug_params_group_info(r.P, ug_params_group_index(r.P, "forward"), NULL, &fw, NULL, &n);
    ug_rng rng = ug_rng_make(31, 0);
    ug_rng_normal(&rng, fw, n);  // a random P_F, never trained here
    target t = get_target(&r);
    double gap0 = elbo_gap(&r, &t), t0 = tl_now();
    memset(&ERR, 0, sizeof ERR);
    CHECK(tl_train(&r, r.steps, draw_target, &t, &ERR) == UG_OK, "tbc alone: %s", ERR.msg);
    double gap = elbo_gap(&r, &t);
    CHECK(gap < 0.01 && gap0 > 0.1, "tbc alone: ELBO gap %.4f -> %.4f", gap0, gap);
    printf("tbc alone (fixed random P_F): ELBO gap %.4f -> %.5f nats in %lld steps (%.1f s), log_ratio_sd %.4f\n", gap0,
           gap, (long long)r.steps, tl_now() - t0, tl_log(&r, 0, "log_ratio_sd"));
    tl_close(&r);
}

/* ---- training to the target ------------------------------------------------------------------- */

static void train_to_target(const char *label, const char *yaml, int64_t steps, bool data, double *tv_out) {
    tl_run r;
    if (!open_run(&r, yaml, NULL, 0)) return;
    target t = get_target(&r);
    double tv0 = tv_to_target(&r, &t), t0 = tl_now();
    memset(&ERR, 0, sizeof ERR);
    ug_status st = tl_train(&r, steps, data ? draw_target : NULL, data ? &t : NULL, &ERR);
    CHECK(st == UG_OK, "%s: %s", label, ERR.msg);
    double tv = tv_to_target(&r, &t), secs = tl_now() - t0;
    CHECK(tv < 0.02, "%s: total variation to the target %.4f", label, tv);
    CHECK(secs < 20, "%s: training took %.1f s", label, secs);
    printf("%s: TV %.4f -> %.4f after %lld steps (%.1f s); last loss", label, tv0, tv, (long long)steps, secs);
    for (int k = 0; k < r.n_terms; k++) printf(" %s %.3g", r.terms[k].desc->name, r.terms[k].loss);
    printf("\n");
    if (tv_out) *tv_out = tv;
    if (strcmp(label, "tb") == 0) {
        double lz = tl_log(&r, 0, "logZ");
        CHECK(fabs(lz - t.log_z) < 0.02, "tb: logZ %.4f vs log sum R %.4f", lz, t.log_z);
        printf("tb: logZ %.4f, log sum R %.4f\n", lz, t.log_z);
    }
    if (strcmp(label, "db") == 0) {
        double lf = tl_log(&r, 0, "logF0");
        CHECK(fabs(lf - t.log_z) < 0.05, "db: log F(s0) %.4f vs log sum R %.4f", lf, t.log_z);
        printf("db: log F(s0) %.4f, log sum R %.4f\n", lf, t.log_z);
    }
    if (strcmp(label, "mle") == 0) {
        double gap = elbo_gap(&r, &t);
        CHECK(gap < 0.01, "mle: ELBO gap %.4f", gap);
        printf("mle: ELBO gap E_x KL(P_B(.|x) || P_F(.|x)) = %.5f nats\n", gap);
    }
    tl_close(&r);
}

static const char *TB_YAML =
    "seed: 1\n"
    "dataset: {plugin: none}\n"
    "model: {plugin: tiny_binary, dim: 3}\n"
    "objective:\n"
    "  - {plugin: tb, updates: [forward, backward, logZ], forward_ratio: 1, batch: 32}\n"
    "optim:\n"
    "  forward: {lr: 0.05}\n"
    "  backward: {lr: 0.05}\n"
    "  logZ: {lr: 0.1}\n"
    "train: {steps: 1500, batch: 32}\n";

/* The same with MLP policies and off-policy (exploring) forward samples. */
static const char *TB_MLP_YAML =
    "seed: 6\n"
    "dataset: {plugin: none}\n"
    "model: {plugin: tiny_binary, dim: 3, net: mlp, hidden: [32, 32]}\n"
    "objective:\n"
    "  - {plugin: tb, updates: [forward, backward, logZ], forward_ratio: 1, batch: 32, explore: 0.2}\n"
    "optim:\n"
    "  forward: {lr: 0.01}\n"
    "  backward: {lr: 0.01}\n"
    "  logZ: {lr: 0.1}\n"
    "train: {steps: 2000, batch: 32}\n";

static const char *DB_YAML =
    "seed: 2\n"
    "dataset: {plugin: none}\n"
    "model: {plugin: tiny_binary, dim: 3, flow: true}\n"
    "objective:\n"
    "  - {plugin: db, updates: [forward, backward, flow], batch: 32}\n"
    "optim:\n"
    "  forward: {lr: 0.05}\n"
    "  backward: {lr: 0.05}\n"
    "  flow: {lr: 0.05}\n"
    "train: {steps: 1500, batch: 32}\n";

static const char *MLE_YAML =
    "seed: 4\n"
    "dataset: {plugin: none}\n"
    "model: {plugin: tiny_binary, dim: 3}\n"
    "objective:\n"
    "  - {plugin: kl_tb, updates: [forward]}\n"
    "  - {plugin: tbc, updates: [backward]}\n"
    "optim:\n"
    "  forward: {lr: 0.05, schedule: cosine, min_lr: 0.0005}\n"
    "  backward: {lr: 0.05, schedule: cosine, min_lr: 0.0005}\n"
    "train: {steps: 2000, batch: 128}\n";

/* ---- EB-GFN end to end on binary_gfn (D = 4, every trajectory enumerable) ---------------------- */

/* The paper's EB-GFN iteration at small D: the GFlowNet (shared trunk, log Z) trained by tb with half
 * its trajectories from data and the energy's reward, the energy trained by ebm_cd's back-and-forth
 * negatives, data from a fixed correlated target. The GFlowNet's exact terminal distribution (all 16 x
 * times 24 orders, rescored) must reach the target, and so must the energy model's exp(-E)/Z. */
static const char *EBGFN_YAML =
    "seed: 5\n"
    "dataset: {plugin: test_bits, dim: 4}\n"
    "model: {plugin: binary_gfn, hidden: [64, 64], shared_trunk: true, log_z: true, energy: true,\n"
    "        energy_hidden: [64, 64]}\n"
    "objective:\n"
    "  - {plugin: tb, forward_ratio: 0.5, batch: 256, updates: [forward, logZ]}\n"
    "  - {plugin: ebm_cd, k_anneal_steps: 500, updates: [energy]}\n"
    "optim:\n"
    "  forward: {lr: 0.001, schedule: cosine, min_lr: 0.00005}\n"
    "  logZ: {lr: 0.1, schedule: cosine, min_lr: 0.005}\n"
    "  energy: {lr: 0.001, schedule: cosine, min_lr: 0.00005}\n"
    "train: {steps: 5000, batch: 256}\n";

static void ebgfn_dists(tl_run *r, double *pf, double *pe) {
    int xs[MAXX];
    for (int i = 0; i < MAXX; i++) xs[i] = i;
    bool g = ug_set_grad_enabled(r->ctx, false);
    ug_traj tr = all_traj(r, 4, xs, MAXX);
    ug_tensor *lpf = sum_steps(r->ctx, &tr, true);  // [16 * 24]
    for (int i = 0; i < MAXX; i++) {
        pf[i] = 0;
        for (int o = 0; lpf && o < 24; o++) pf[i] += exp(ug_f32(lpf)[i * 24 + o]);
    }
    ug_tensor *lr = r->model.vt->log_reward(r->model.self, r->ctx, all_x(r->ctx, 4));  // [16]
    double s = 0;
    for (int i = 0; lr && i < MAXX; i++) s += pe[i] = exp(ug_f32(lr)[i]);
    for (int i = 0; i < MAXX; i++) pe[i] /= s;
    ug_set_grad_enabled(r->ctx, g);
    ug_step_reset(r->ctx);
}

static void test_ebgfn(void) {
    tl_run r;
    if (!open_run(&r, EBGFN_YAML, NULL, 0)) return;
    target t = {.D = 4, .nx = MAXX};
    double s = 0;
    for (int i = 0; i < MAXX; i++) s += t.p[i] = exp(2.0 * sin(1.7 * i + 0.3));  // ratios up to e^4
    for (int i = 0; i < MAXX; i++) t.p[i] /= s;
    double pf[MAXX], pe[MAXX], tvf0 = 0, tve0 = 0, tvf = 0, tve = 0, t0 = tl_now();
    ebgfn_dists(&r, pf, pe);
    for (int i = 0; i < MAXX; i++) tvf0 += 0.5 * fabs(pf[i] - t.p[i]), tve0 += 0.5 * fabs(pe[i] - t.p[i]);
    memset(&ERR, 0, sizeof ERR);
    CHECK(tl_train(&r, r.steps, draw_target, &t, &ERR) == UG_OK, "ebgfn: %s", ERR.msg);
    ebgfn_dists(&r, pf, pe);
    for (int i = 0; i < MAXX; i++) tvf += 0.5 * fabs(pf[i] - t.p[i]), tve += 0.5 * fabs(pe[i] - t.p[i]);
    printf("ebgfn (D = 4): TV of the GFlowNet's terminal distribution %.4f -> %.4f, of exp(-E)/Z %.4f -> %.4f "
           "after %lld steps (%.1f s); accept rate %.3f, K %.0f\n", tvf0, tvf, tve0, tve, (long long)r.steps,
           tl_now() - t0, tl_log(&r, 1, "accept_rate"), tl_log(&r, 1, "K"));
    CHECK(tvf0 > 0.1, "the target is too close to the initial model to test (TV %.4f)", tvf0);
    CHECK(tvf < 0.03, "ebgfn: GFlowNet terminal distribution TV %.4f to the target", tvf);
    CHECK(tve < 0.03, "ebgfn: energy model TV %.4f to the target", tve);
    tl_close(&r);
}

/* ---- gauss_chain ------------------------------------------------------------------------------ */

typedef struct gdata {
    int D;
    double m[8], s;
} gdata;

static ug_status draw_gauss(void *ud, ug_ctx *ctx, ug_rng *rng, int64_t B, int64_t step, ug_tensor **out) {
    (void)step;
    const gdata *g = ud;
    ug_tensor *x = ug_new2(ctx, B, g->D);  // [B, D]
    if (!x) return ug_ctx_status(ctx);
    ug_rng_normal(rng, ug_f32(x), B * g->D);
    for (int64_t b = 0; b < B; b++)
        for (int j = 0; j < g->D; j++) ug_f32(x)[b * g->D + j] = (float)(g->m[j] + g->s * ug_f32(x)[b * g->D + j]);
    *out = x;
    return UG_OK;
}

/* The closed form in gauss_chain.c's header comment. */
static double gauss_nelbo(const float *mu, int n, int D, double sf, double sb, const gdata *g) {
    double L = 0;
    for (int k = 1; k < n; k++) L -= 0.5 * D * (1 + log(2 * M_PI * sb * sb * k / (k + 1)));
    L += n * 0.5 * D * log(2 * M_PI * sf * sf);
    for (int k = 0; k < n; k++) {
        double q = D * g->s * g->s / ((double)n * n) + D * sb * sb * (n - 1) / n;
        for (int j = 0; j < D; j++) q += pow(g->m[j] / n - mu[k * D + j], 2);
        L += q / (2 * sf * sf);
    }
    return L;
}

/* log_prob is the exact marginal N(sum mu, n sf^2 I); the importance-sampled estimate over the bridge
 * P_B must agree. (With sigma_b < sigma_f / sqrt 2 the weights have infinite variance, so this uses
 * sigma_b = sigma_f.) */
static void test_gauss_is(void) {
    const char *yaml =
        "dataset: {plugin: none}\n"
        "model: {plugin: gauss_chain, dim: 2, steps: 4, sigma_f: 1.0, sigma_b: 1.0}\n"
        "objective: [{plugin: kl_tb, updates: [forward]}]\n"
        "optim: {forward: {lr: 0.05}}\n"
        "train: {steps: 1}\n";
    tl_run r;
    if (!open_run(&r, yaml, NULL, 0)) return;
    const int D = 2, n = 4;
    ug_tensor *mu = ug_params_find(r.P, "forward", "mu");
    ug_rng init = ug_rng_make(98, 0);
    ug_rng_normal(&init, ug_f32(mu), n * D);
    for (int i = 0; i < n * D; i++) ug_f32(mu)[i] *= 0.3f;  // unequal steps: P_B is not the posterior
    int64_t M = 20000, sh[2] = {M, D};
    ug_tensor *x = ug_new(r.ctx, UG_F32, 2, sh);
    for (int64_t i = 0; i < M; i++) {
        ug_f32(x)[i * D] = 0.5f;
        ug_f32(x)[i * D + 1] = -1.0f;
    }
    ug_traj tr = {.size = sizeof tr};
    ug_traj_req req = {.size = sizeof req, .start = x, .start_index = n, .steps = -1};
    ug_rng rng = ug_rng_make(7, 0);
    ug_set_grad_enabled(r.ctx, false);
    CHECK(r.model.vt->sample_backward(r.model.self, r.ctx, &rng, &req, &tr) == UG_OK, "%s", ug_ctx_errmsg(r.ctx));
    ug_tensor *w = ug_sub(r.ctx, sum_steps(r.ctx, &tr, true), sum_steps(r.ctx, &tr, false));  // [M]
    double est = ug_item(ug_logsumexp(r.ctx, w, 0, false)) - log((double)M);
    double exact = ug_item(r.model.vt->log_prob(r.model.self, r.ctx, ug_slice(r.ctx, x, 0, 0, 1)));
    double m1 = 0, m2 = 0;
    for (int64_t i = 0; i < M; i++) {
        double e = exp(ug_f32(w)[i] - exact);
        m1 += e / (double)M;
        m2 += e * e / (double)M;
    }
    double rse = sqrt(fmax(m2 - m1 * m1, 0) / (double)M) / m1;
    CHECK(fabs(exp(est - exact) - 1) < fmax(4 * rse, 1e-4) && rse < 0.02, "gauss IS log p %.4f vs exact %.4f (rel s.e. %.4f)",
          est, exact, rse);
    printf("gauss: IS log p(x) with M = %lld: %.4f (relative s.e. %.4f), exact log_prob %.4f\n", (long long)M, est,
           rse, exact);
    tl_close(&r);
}

/* Mean and standard error of term 0's (kl_tb, data direction) loss over K fresh data batches at the
 * current parameters; each batch also checks that log_ratio is the ELBO, -loss. */
static double mc_kl_tb(tl_run *r, gdata *g, int K, double *se) {
    double s1 = 0, s2 = 0;
    tl_term *T = &r->terms[0];
    for (int k = 0; k < K; k++) {
        ug_tensor *batch = NULL;
        draw_gauss(g, r->ctx, &r->data_rng, r->batch, k, &batch);
        ug_step_env env = {.size = sizeof env, .ctx = r->ctx, .rng = &T->rng, .model = &r->model, .batch = batch,
                           .update_mask = T->mask};
        ug_loss_out out = {.size = sizeof out};
        CHECK(((const ug_objective_vtable *)T->desc->vtable)->loss(T->self, &env, &out) == UG_OK, "%s",
              ug_ctx_errmsg(r->ctx));
        double v = out.loss ? ug_item(out.loss) : NAN;
        s1 += v;
        s2 += v * v;
        CHECK(out.n_logs >= 1 && strcmp(out.log_keys[0], "log_ratio") == 0, "kl_tb logs log_ratio");
        CHECK_CLOSE(out.log_values[0], -v, 1e-6, 1e-6);  // data direction: log_ratio = ELBO = -loss
        ug_step_reset(r->ctx);
    }
    double mean = s1 / K;
    *se = sqrt(fmax(s2 / K - mean * mean, 0) / K);
    return mean;
}

static void test_gauss(void) {
    const char *yaml =
        "seed: 5\n"
        "dataset: {plugin: none}\n"
        "model: {plugin: gauss_chain, dim: 2, steps: 4, sigma_f: 1.0, sigma_b: 0.5}\n"
        "objective:\n"
        "  - {plugin: kl_tb, updates: [forward]}\n"
        "optim:\n"
        "  forward: {lr: 0.05, schedule: cosine, min_lr: 0.001}\n"
        "train: {steps: 1500, batch: 256}\n";
    tl_run r;
    if (!open_run(&r, yaml, NULL, 0)) return;
    const int D = 2, n = 4;
    gdata g = {.D = D, .m = {1.2, -0.8}, .s = 0.7};
    CHECK((r.model.info.caps & UG_CAP_REPARAM) && r.model.info.horizon == n, "gauss_chain info");
    ug_tensor *mu = ug_params_find(r.P, "forward", "mu");
    CHECK(mu && ug_numel(mu) == n * D, "mu parameter");
    if (!mu) return;
    ug_rng init = ug_rng_make(99, 0);
    ug_rng_normal(&init, ug_f32(mu), n * D);

    /* Monte Carlo of the kl_tb(data) loss at this mu vs the closed form. */
    double want = gauss_nelbo(ug_f32(mu), n, D, 1.0, 0.5, &g);
    const int K = 200;
    double se, mean = mc_kl_tb(&r, &g, K, &se);
    CHECK(fabs(mean - want) < 3 * se, "negative ELBO: Monte Carlo %.5f +- %.5f, closed form %.5f", mean, se, want);
    printf("gauss: negative ELBO at a random mu: Monte Carlo %.5f +- %.5f (K = %d batches of %lld), closed form %.5f\n",
           mean, se, K, (long long)r.batch, want);

    /* Training reaches the closed-form optimum mu_k = m / n. */
    double t0 = tl_now();
    memset(&ERR, 0, sizeof ERR);
    CHECK(tl_train(&r, r.steps, draw_gauss, &g, &ERR) == UG_OK, "train: %s", ERR.msg);
    double worst = 0;
    for (int k = 0; k < n; k++)
        for (int j = 0; j < D; j++) worst = fmax(worst, fabs(ug_f32(mu)[k * D + j] - g.m[j] / n));
    double opt[8];
    for (int k = 0; k < n; k++)
        for (int j = 0; j < D; j++) opt[k * D + j] = g.m[j] / n;
    float optf[8];
    for (int i = 0; i < n * D; i++) optf[i] = (float)opt[i];
    CHECK(worst < 0.05, "gauss: worst |mu - m/n| = %.4f", worst);
    printf("gauss: after %lld steps (%.1f s) worst |mu_k - m/n| = %.4f; optimal negative ELBO %.5f\n",
           (long long)r.steps, tl_now() - t0, worst, gauss_nelbo(optf, n, D, 1.0, 0.5, &g));
    tl_close(&r);
}

/* kl_tb's one-step estimator on the Gaussian chain: unbiased for the same closed-form negative ELBO
 * (with a smaller spread than the full path's), and training with it reaches mu_k = m/n; refused
 * where the model lacks the closed forms; reparam: P_B's pathwise gradient needs reparam_b. */
static void test_gauss_one_step(void) {
    const char *yaml =
        "seed: 7\n"
        "dataset: {plugin: none}\n"
        "model: {plugin: gauss_chain, dim: 2, steps: 4, sigma_f: 1.0, sigma_b: 0.5}\n"
        "objective:\n"
        "  - {plugin: kl_tb, estimator: one_step, updates: [forward]}\n"
        "optim:\n"
        "  forward: {lr: 0.05, schedule: cosine, min_lr: 0.001}\n"
        "train: {steps: 1500, batch: 256}\n";
    tl_run r;
    if (!open_run(&r, yaml, NULL, 0)) return;
    const int D = 2, n = 4;
    gdata g = {.D = D, .m = {1.2, -0.8}, .s = 0.7};
    CHECK(ug_model_has(&r.model, UG_CAP_ANCHOR | UG_CAP_STEP_KL), "gauss_chain has anchor and step_kl");
    ug_tensor *mu = ug_params_find(r.P, "forward", "mu");
    if (!mu) return;
    ug_rng init = ug_rng_make(99, 0);
    ug_rng_normal(&init, ug_f32(mu), n * D);
    double want = gauss_nelbo(ug_f32(mu), n, D, 1.0, 0.5, &g);
    const int K = 200;
    double se, mean = mc_kl_tb(&r, &g, K, &se);
    CHECK(fabs(mean - want) < 3 * se, "one-step negative ELBO: Monte Carlo %.5f +- %.5f, closed form %.5f", mean, se, want);
    printf("gauss one_step: negative ELBO at a random mu: Monte Carlo %.5f +- %.5f (K = %d batches of %lld), closed "
           "form %.5f\n", mean, se, K, (long long)r.batch, want);
    double t0 = tl_now();
    memset(&ERR, 0, sizeof ERR);
    CHECK(tl_train(&r, r.steps, draw_gauss, &g, &ERR) == UG_OK, "train: %s", ERR.msg);
    double worst = 0;
    for (int k = 0; k < n; k++)
        for (int j = 0; j < D; j++) worst = fmax(worst, fabs(ug_f32(mu)[k * D + j] - g.m[j] / n));
    CHECK(worst < 0.05, "gauss one_step: worst |mu - m/n| = %.4f", worst);
    printf("gauss one_step: after %lld steps (%.1f s) worst |mu_k - m/n| = %.4f\n", (long long)r.steps, tl_now() - t0, worst);
    tl_close(&r);

    /* refusals: a model without the closed forms; reparam without reparam_b */
    const char *bad[] = {
        "seed: 1\ndataset: {plugin: none}\nmodel: {plugin: tiny_binary, dim: 3}\n"
        "objective: [{plugin: kl_tb, estimator: one_step, updates: [forward]}]\n"
        "optim: {forward: {lr: 0.05}}\ntrain: {steps: 1, batch: 8}\n",
        "seed: 1\ndataset: {plugin: none}\nmodel: {plugin: gauss_chain, dim: 2, steps: 4}\n"
        "objective: [{plugin: kl_tb, reparam: true, updates: [forward]}]\n"
        "optim: {forward: {lr: 0.05}}\ntrain: {steps: 1, batch: 8}\n"};
    const char *words[] = {"anchor", "reparam_b"};
    for (int i = 0; i < 2; i++) {
        memset(&ERR, 0, sizeof ERR);
        ug_status st = tl_open(&r, REG, bad[i], NULL, 0, &ERR);
        if (st == UG_OK) {
            ug_tensor *batch = NULL;
            draw_gauss(&g, r.ctx, &r.data_rng, 8, 0, &batch);
            if (i == 0) batch = ug_zeros(r.ctx, 2, (int64_t[]){8, 3});
            tl_term *t = &r.terms[0];
            ug_step_env env = {.size = sizeof env, .ctx = r.ctx, .rng = &t->rng, .model = &r.model, .batch = batch,
                               .update_mask = t->mask};
            ug_loss_out out = {.size = sizeof out};
            st = ((const ug_objective_vtable *)t->desc->vtable)->loss(t->self, &env, &out);
            snprintf(ERR.msg, sizeof ERR.msg, "%s", ug_ctx_errmsg(r.ctx));
            tl_close(&r);
        }
        CHECK(st != UG_OK && strstr(ERR.msg, words[i]), "refused (%s): %s", words[i], ERR.msg);
    }
}

/* ---- reward: data ------------------------------------------------------------------------------
 * TB and DB with log R from the dataset (test_bits: a product of Bernoullis, normalized so log Z = 0)
 * instead of the model: P_F must reach the dataset's distribution, log Z (resp. log F(s0)) 0; a
 * dataset without log_reward is refused at create time. */
static const char *TB_DATA_YAML =
    "seed: 5\n"
    "dataset: {plugin: test_bits, dim: 3, probs: [0.2, 0.5, 0.85]}\n"
    "model: {plugin: tiny_binary, dim: 3}\n"
    "objective:\n"
    "  - {plugin: tb, reward: data, updates: [forward, backward, logZ], forward_ratio: 1, batch: 32}\n"
    "optim:\n"
    "  forward: {lr: 0.05}\n"
    "  backward: {lr: 0.05}\n"
    "  logZ: {lr: 0.1}\n"
    "train: {steps: 1500, batch: 32}\n";

static void test_data_reward(const char *label, const char *yaml, const char *const *ovr, int n_ovr, const char *lz_key) {
    tl_run r;
    if (!open_run(&r, yaml, ovr, n_ovr)) return;
    target t = {.D = 3, .nx = 8};
    bool g = ug_set_grad_enabled(r.ctx, false);
    ug_tensor *lr = r.data.vt->log_reward(r.data.self, r.ctx, all_x(r.ctx, t.D));  // [8]
    CHECK(lr != NULL, "%s: dataset log_reward: %s", label, ug_ctx_errmsg(r.ctx));
    double s = 0;
    for (int i = 0; lr && i < t.nx; i++) s += t.p[i] = exp(ug_f32(lr)[i]);
    ug_set_grad_enabled(r.ctx, g);
    ug_step_reset(r.ctx);
    CHECK_CLOSE(s, 1.0, 1e-5, 0);  // a normalized reward
    double tv0 = tv_to_target(&r, &t);
    memset(&ERR, 0, sizeof ERR);
    CHECK(tl_train(&r, r.steps, NULL, NULL, &ERR) == UG_OK, "%s: %s", label, ERR.msg);
    double tv = tv_to_target(&r, &t), lz = tl_log(&r, 0, lz_key);
    CHECK(tv < 0.02, "%s: total variation to the dataset's distribution %.4f", label, tv);
    CHECK(fabs(lz) < 0.05, "%s: %s %.4f, want 0 (the dataset's reward is normalized)", label, lz_key, lz);
    printf("%s: TV %.4f -> %.4f after %lld steps, %s %.4f\n", label, tv0, tv, (long long)r.steps, lz_key, lz);
    tl_close(&r);
}

static void test_data_reward_all(void) {
    test_data_reward("tb (reward: data)", TB_DATA_YAML, NULL, 0, "logZ");
    const char *refuse = "seed: 1\n"
                         "dataset: {plugin: none}\n"
                         "model: {plugin: tiny_binary, dim: 3}\n"
                         "objective: [{plugin: tb, reward: data, updates: [forward, logZ], batch: 8}]\n"
                         "optim: {forward: {lr: 0.05}, logZ: {lr: 0.1}}\n"
                         "train: {steps: 1, batch: 8}\n";
    tl_run r;
    memset(&ERR, 0, sizeof ERR);
    ug_status st = tl_open(&r, REG, refuse, NULL, 0, &ERR);
    CHECK(st != UG_OK && strstr(ERR.msg, "reward: data, but dataset"), "no dataset reward refused: %s", ERR.msg);
    if (st == UG_OK) tl_close(&r);
}

int main(int argc, char **argv) {
    const char *which = argc > 1 ? argv[1] : "exact";
    REG = tl_registry(&ERR);
    CHECK(REG != NULL, "registry: %s", ERR.msg);
    if (!REG) return CHECK_DONE();
    for (int i = 0; i < ug_registry_problem_count(REG); i++)
        fprintf(stderr, "note: plugin refused: %s\n", ug_registry_problem(REG, i));
    if (strcmp(which, "exact") == 0) test_exact();
    else if (strcmp(which, "grads") == 0) test_grads();
    else if (strcmp(which, "tb") == 0) {
        train_to_target("tb", TB_YAML, 1500, false, NULL);
        train_to_target("tb (mlp, explore 0.2)", TB_MLP_YAML, 2000, false, NULL);
    }
    else if (strcmp(which, "db") == 0) train_to_target("db", DB_YAML, 1500, false, NULL);
    else if (strcmp(which, "datareward") == 0) test_data_reward_all();
    else if (strcmp(which, "mle") == 0) {
        train_to_target("mle", MLE_YAML, 2000, true, NULL);
        test_tbc_alone();
    }
    else if (strcmp(which, "ebgfn") == 0) test_ebgfn();
    else if (strcmp(which, "gauss") == 0) {
        test_gauss();
        test_gauss_is();
        test_gauss_one_step();
    }
    else CHECK(0, "unknown case '%s'", which);
    ug_registry_free(REG);
    return CHECK_DONE();
}
