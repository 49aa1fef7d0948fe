/* test_hvae.c — the hvae model family (plugins/models/hvae) through the real loader (plugin_harness.h
 * for the registry and the metrics, train_loop.h for spec-built runs), against independent answers:
 *
 *   linear  linear-Gaussian layers (`linear: true`): z_1 ~ N(m_0, S_0), z_{k+1} = A_k z_k + b_k + s_k eps,
 *           x = z_n, so p(x) = N(mu, Sigma) with mu, Sigma by the usual recursion; the bottom-up encoder
 *           z_k = C_k z_{k+1} + c_k + t_k eps makes (z_1..z_L) | x jointly Gaussian, so the ELBO is a sum
 *           of expectations of Gaussian log-densities under known moments (lg_elbo below). Both are
 *           computed here in double from the parameters read back from the model. The nll metric's
 *           `elbo` (M = 1, 10, 1000) must match the closed-form ELBO within 4 Monte Carlo standard errors
 *           (from the within-x variance of log P_F/P_B, measured on the model's own trajectories), and
 *           its `nll` must fall with M toward the exact -log p(x) from above: with a near-posterior
 *           encoder, within the predicted IWAE bias v/(2M) + 4 s.e. (v = the weights' relative variance).
 *   grad    the gradient of kl_tb (reparam: true) w.r.t. every parameter of both groups, averaged over
 *           K batches, against central differences of the closed-form negative ELBO (linear case).
 *   traj    the policy interface: state widths by index, log_pb[0] = 0, rescore reproduces sampled
 *           terms, partial requests, temperature scales the latent variances and not the decoder's,
 *           the refusals (explore, anchor, a wrong state width, reparam through a Bernoulli decoder),
 *           the Bernoulli decoder's log mass by hand (binary x from test_bits).
 *   train   end to end on synthetic2d (continuous): the standard HVAE (kl_tb reparam [forward,
 *           backward]) and MLE-GFN (kl_tb [forward] + tbc [backward]) lower their losses.
 *
 * Usage: test_hvae CASE (meson registers one test per case). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "plugin_harness.h"
#include "train_loop.h"

static harness H;
static ug_error ERR;

static bool open_run(tl_run *r, const char *yaml) {
    memset(&ERR, 0, sizeof ERR);
    ug_status st = tl_open(r, H.reg, yaml, NULL, 0, &ERR);
    CHECK(st == UG_OK, "tl_open: %s", ERR.msg);
    return st == UG_OK;
}

/* ---- the linear-Gaussian HVAE in double ------------------------------------------------------ */

#define MAXL 4
#define MAXW 8

typedef struct lg {
    int L, n;
    int64_t w[MAXL + 2];      /* w[k]: width of s_k, k = 1..n (w[n] = D) */
    bool learned;             /* prior: learned */
    double fl;                /* min_log_std */
    double pm[MAXW], pls[MAXW];                                         /* prior mean, raw log-std */
    double A[MAXL + 1][MAXW * MAXW], b[MAXL + 1][MAXW], s[MAXL + 1][MAXW]; /* p_k: A_k [w_{k+1}, w_k], raw log-std */
    double C[MAXL + 1][MAXW * MAXW], c[MAXL + 1][MAXW], t[MAXL + 1][MAXW]; /* q_k: C_k [w_k, w_{k+1}], raw log-std */
} lg;

/* The plugin's floor: log sigma = fl + softplus(raw - fl); and its inverse. */
static double ls_of(const lg *m, double raw) {
    double u = raw - m->fl;
    return m->fl + (u > 30 ? u : log1p(exp(u)));
}
static double raw_of(const lg *m, double ls) { return m->fl + log(expm1(ls - m->fl)); }

typedef struct slot {
    const char *group;
    char name[40];
    double *v;
    int64_t n;
} slot;

/* Every parameter of the linear model with its place in lg, in the plugin's names. */
static int lg_slots(lg *m, slot *out) {
    int ns = 0;
    if (m->learned) {
        out[ns++] = (slot){"forward", "prior.mean", m->pm, m->w[1]};
        out[ns++] = (slot){"forward", "prior.log_std", m->pls, m->w[1]};
    }
    for (int g = 0; g < 2; g++)
        for (int k = 1; k <= m->L; k++) {
            const char *grp = g ? "backward" : "forward", p = g ? 'q' : 'p';
            int64_t o = g ? m->w[k] : m->w[k + 1];  // output width
            slot *S = &out[ns];
            S[0] = (slot){grp, "", g ? m->C[k] : m->A[k], m->w[k] * m->w[k + 1]};
            S[1] = (slot){grp, "", g ? m->c[k] : m->b[k], o};
            S[2] = (slot){grp, "", g ? m->t[k] : m->s[k], o};
            snprintf(S[0].name, sizeof S[0].name, "%c%d.mean.w", p, k);
            snprintf(S[1].name, sizeof S[1].name, "%c%d.mean.b", p, k);
            snprintf(S[2].name, sizeof S[2].name, "%c%d.log_std", p, k);
            ns += 3;
        }
    return ns;
}

/* Copy the model's parameters into m (to_model false) or m's into the model. */
static bool lg_sync(lg *m, ug_params *P, ug_ctx *ctx, bool to_model) {
    slot S[4 * MAXL + 2];
    int ns = lg_slots(m, S);
    float buf[MAXW * MAXW];
    for (int i = 0; i < ns; i++) {
        ug_tensor *t = ug_params_find(P, S[i].group, S[i].name);
        CHECK(t && ug_numel(t) == S[i].n, "parameter %s/%s of %lld values", S[i].group, S[i].name, (long long)S[i].n);
        if (!t || ug_numel(t) != S[i].n) return false;
        if (to_model) {
            for (int64_t j = 0; j < S[i].n; j++) buf[j] = (float)S[i].v[j];
            CHECK(ug_tensor_set(ctx, t, buf, S[i].n) == UG_OK, "set %s", S[i].name);
        } else {
            CHECK(ug_tensor_get(ctx, t, buf, S[i].n) == UG_OK, "get %s", S[i].name);
            for (int64_t j = 0; j < S[i].n; j++) S[i].v[j] = buf[j];  // exactly the model's floats
        }
    }
    return true;
}

/* Random linear-Gaussian parameters (the model's floats after a round trip). */
static void lg_random(lg *m, uint64_t seed, bool random_encoder) {
    ug_rng r = ug_rng_make(seed, 0);
    float z[MAXW * MAXW];
#define FILL(dst, cnt, mu, sd)                               \
    do {                                                     \
        ug_rng_normal(&r, z, (cnt));                         \
        for (int64_t j_ = 0; j_ < (cnt); j_++) (dst)[j_] = (mu) + (sd) * z[j_]; \
    } while (0)
    FILL(m->pm, m->w[1], 0.0, 0.5);
    FILL(m->pls, m->w[1], 0.2, 0.2);
    for (int k = 1; k <= m->L; k++) {
        FILL(m->A[k], m->w[k] * m->w[k + 1], 0.0, 0.7);
        FILL(m->b[k], m->w[k + 1], 0.0, 0.4);
        FILL(m->s[k], m->w[k + 1], -0.6, 0.2);
        if (random_encoder) {
            FILL(m->C[k], m->w[k] * m->w[k + 1], 0.0, 0.4);
            FILL(m->c[k], m->w[k], 0.0, 0.3);
            FILL(m->t[k], m->w[k], -0.5, 0.2);
        }
    }
#undef FILL
}

/* c [n, p] = a [n, k] @ b [k, p] (row-major), with a or b transposed when ta / tb. */
static void mm(const double *a, const double *b, double *c, int n, int k, int p, bool ta, bool tb) {
    for (int i = 0; i < n; i++)
        for (int j = 0; j < p; j++) {
            double s = 0;
            for (int l = 0; l < k; l++) s += (ta ? a[l * n + i] : a[i * k + l]) * (tb ? b[j * k + l] : b[l * p + j]);
            c[i * p + j] = s;
        }
}

/* Cholesky of an SPD [n, n] into lower L; false if not positive definite. */
static bool chol(const double *S, double *Lo, int n) {
    for (int i = 0; i < n; i++)
        for (int j = 0; j <= i; j++) {
            double s = S[i * n + j];
            for (int k = 0; k < j; k++) s -= Lo[i * n + k] * Lo[j * n + k];
            if (i == j) {
                if (!(s > 0)) return false;
                Lo[i * n + i] = sqrt(s);
            } else {
                Lo[i * n + j] = s / Lo[j * n + j];
            }
        }
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) Lo[i * n + j] = 0;
    return true;
}

/* X [n, p] = S^{-1} B for SPD S [n, n]. */
static void spd_solve(const double *S, const double *B, double *X, int n, int p) {
    double Lo[MAXW * MAXW];
    chol(S, Lo, n);
    for (int c = 0; c < p; c++) {
        double y[MAXW];
        for (int i = 0; i < n; i++) {
            double s = B[i * p + c];
            for (int k = 0; k < i; k++) s -= Lo[i * n + k] * y[k];
            y[i] = s / Lo[i * n + i];
        }
        for (int i = n - 1; i >= 0; i--) {
            double s = y[i];
            for (int k = i + 1; k < n; k++) s -= Lo[k * n + i] * X[k * p + c];
            X[i * p + c] = s / Lo[i * n + i];
        }
    }
}

/* The marginals of the generative chain: mean mu[k] and covariance S[k] of s_k, k = 1..n. */
static void lg_marginals(const lg *m, double mu[][MAXW], double S[][MAXW * MAXW]) {
    int d = (int)m->w[1];
    memset(S[1], 0, sizeof S[1]);
    for (int i = 0; i < d; i++) {
        mu[1][i] = m->learned ? m->pm[i] : 0.0;
        S[1][i * d + i] = m->learned ? exp(2 * ls_of(m, m->pls[i])) : 1.0;
    }
    for (int k = 1; k <= m->L; k++) {
        int di = (int)m->w[k], dn = (int)m->w[k + 1];
        double AS[MAXW * MAXW];
        mm(m->A[k], mu[k], mu[k + 1], dn, di, 1, false, false);
        for (int i = 0; i < dn; i++) mu[k + 1][i] += m->b[k][i];
        mm(m->A[k], S[k], AS, dn, di, di, false, false);
        mm(AS, m->A[k], S[k + 1], dn, di, dn, false, true);  // A S A^T
        for (int i = 0; i < dn; i++) S[k + 1][i * dn + i] += exp(2 * ls_of(m, m->s[k][i]));
    }
}

/* log N(x; mu, Sigma) of the marginal of x. */
static double lg_log_px(const lg *m, const double *x) {
    double mu[MAXL + 2][MAXW], S[MAXL + 2][MAXW * MAXW], Lo[MAXW * MAXW], y[MAXW];
    lg_marginals(m, mu, S);
    int D = (int)m->w[m->n];
    if (!chol(S[m->n], Lo, D)) return NAN;
    double q = 0, logdet = 0;
    for (int i = 0; i < D; i++) {
        double s = x[i] - mu[m->n][i];
        for (int k = 0; k < i; k++) s -= Lo[i * D + k] * y[k];
        y[i] = s / Lo[i * D + i];
        q += y[i] * y[i];
        logdet += 2 * log(Lo[i * D + i]);
    }
    return -0.5 * (D * log(2 * M_PI) + logdet + q);
}

/* E_q[log N(y; mean, diag e^{2 ls})] = sum_i -1/2 log 2 pi - ls_i - (r_i^2 + v_i) / (2 e^{2 ls_i})
 * for y - mean with mean r and variances v under q. */
static double exp_logn(const double *r, const double *v, const double *ls, int d) {
    double e = 0;
    for (int i = 0; i < d; i++) e += -0.5 * log(2 * M_PI) - ls[i] - 0.5 * (r[i] * r[i] + v[i]) * exp(-2 * ls[i]);
    return e;
}

/* The ELBO E_q[log p(x, z) - log q(z | x)] of the encoder chain at x, in closed form. Under q the
 * encoder runs from s_n = x down: m_k = C_k m_{k+1} + c_k, V_k = C_k V_{k+1} C_k^T + diag t_k^2,
 * X_k = Cov(z_k, z_{k+1}) = C_k V_{k+1}; then y - A z with y = z_{k+1}, z = z_k has mean
 * m_{k+1} - A m_k - b and covariance V_{k+1} - A X_k - (A X_k)^T + A V_k A^T. E log q_k is minus the
 * entropy of N(., diag t^2), which does not depend on x. */
static double lg_elbo(const lg *m, const double *x) {
    static double mq[MAXL + 2][MAXW], V[MAXL + 2][MAXW * MAXW], X[MAXL + 2][MAXW * MAXW];
    int n = m->n;
    for (int i = 0; i < m->w[n]; i++) mq[n][i] = x[i];
    memset(V[n], 0, sizeof V[n]);
    for (int k = m->L; k >= 1; k--) {
        int dk = (int)m->w[k], du = (int)m->w[k + 1];
        double CV[MAXW * MAXW];
        mm(m->C[k], mq[k + 1], mq[k], dk, du, 1, false, false);
        for (int i = 0; i < dk; i++) mq[k][i] += m->c[k][i];
        mm(m->C[k], V[k + 1], CV, dk, du, du, false, false);
        memcpy(X[k], CV, sizeof(double) * (size_t)(dk * du));
        mm(CV, m->C[k], V[k], dk, du, dk, false, true);
        for (int i = 0; i < dk; i++) V[k][i * dk + i] += exp(2 * ls_of(m, m->t[k][i]));
    }
    double e = 0, r[MAXW], v[MAXW], ls[MAXW];
    int d1 = (int)m->w[1];
    for (int i = 0; i < d1; i++) {
        r[i] = mq[1][i] - (m->learned ? m->pm[i] : 0.0);
        v[i] = V[1][i * d1 + i];
        ls[i] = m->learned ? ls_of(m, m->pls[i]) : 0.0;
    }
    e += exp_logn(r, v, ls, d1);
    for (int k = 1; k <= m->L; k++) {
        int dk = (int)m->w[k], du = (int)m->w[k + 1];
        double Am[MAXW], AX[MAXW * MAXW], AV[MAXW * MAXW], AVA[MAXW * MAXW];
        mm(m->A[k], mq[k], Am, du, dk, 1, false, false);
        mm(m->A[k], X[k], AX, du, dk, du, false, false);
        mm(m->A[k], V[k], AV, du, dk, dk, false, false);
        mm(AV, m->A[k], AVA, du, dk, du, false, true);
        for (int i = 0; i < du; i++) {
            r[i] = mq[k + 1][i] - Am[i] - m->b[k][i];
            v[i] = V[k + 1][i * du + i] - 2 * AX[i * du + i] + AVA[i * du + i];
            ls[i] = ls_of(m, m->s[k][i]);
        }
        e += exp_logn(r, v, ls, du);
        for (int i = 0; i < dk; i++) e -= -0.5 * log(2 * M_PI) - ls_of(m, m->t[k][i]) - 0.5;  // - E log q_k
    }
    return e;
}

/* Set the encoder near the exact posterior: the generative chain reversed is Markov, with
 * p(z_k | z_{k+1}) = N(mu_k + K (z_{k+1} - mu_{k+1}), S_k - K A_k S_k), K = S_k A_k^T S_{k+1}^{-1};
 * the encoder takes its mean map and the square roots of its conditional variances times `inflate`
 * (diagonal, so q is not exactly the posterior; wider, so the importance weights stay tame). */
static void lg_near_posterior(lg *m, double inflate) {
    double mu[MAXL + 2][MAXW], S[MAXL + 2][MAXW * MAXW];
    lg_marginals(m, mu, S);
    for (int k = 1; k <= m->L; k++) {
        int dk = (int)m->w[k], du = (int)m->w[k + 1];
        double AS[MAXW * MAXW], Kt[MAXW * MAXW], KAS[MAXW * MAXW], Km[MAXW];
        mm(m->A[k], S[k], AS, du, dk, dk, false, false);    // A S_k [du, dk]
        spd_solve(S[k + 1], AS, Kt, du, dk);                 // K^T = S_{k+1}^{-1} A S_k
        for (int i = 0; i < dk; i++)
            for (int j = 0; j < du; j++) m->C[k][i * du + j] = Kt[j * dk + i];
        mm(m->C[k], mu[k + 1], Km, dk, du, 1, false, false);
        for (int i = 0; i < dk; i++) m->c[k][i] = mu[k][i] - Km[i];
        mm(m->C[k], AS, KAS, dk, du, dk, false, false);     // K A S_k
        for (int i = 0; i < dk; i++) m->t[k][i] = raw_of(m, log(inflate * sqrt(S[k][i * dk + i] - KAS[i * dk + i])));
    }
}

/* ---- helpers on trajectories ----------------------------------------------------------------- */

/* log P_F(tau) - log P_B(tau | x) per row into w (host). */
static bool traj_weights(ug_ctx *ctx, const ug_traj *tr, double *w) {
    float *buf = ug_arena_alloc(ctx, (size_t)tr->batch * sizeof(float));  // [B] on the host
    for (int64_t b = 0; b < tr->batch; b++) w[b] = 0;
    for (int k = 0; k < tr->steps; k++)
        for (int pf = 0; pf < 2; pf++) {
            ug_tensor *t = pf ? tr->log_pf[k] : tr->log_pb[k];
            CHECK(buf && t && ug_numel(t) == tr->batch, "log_%s[%d] of %lld rows", pf ? "pf" : "pb", k, (long long)tr->batch);
            if (!buf || !t || ug_numel(t) != tr->batch) return false;
            ug_tensor_get(ctx, t, buf, tr->batch);
            for (int64_t b = 0; b < tr->batch; b++) w[b] += pf ? buf[b] : -buf[b];
        }
    return true;
}

/* n copies of each of the rows of xs [r, D] (host) as [r n, D]. */
static ug_tensor *repeat_rows(ug_ctx *ctx, const float *xs, int64_t r, int64_t D, int64_t n) {
    ug_tensor *x = ug_new2(ctx, r * n, D);
    for (int64_t i = 0; i < r; i++)
        for (int64_t j = 0; j < n; j++) memcpy(ug_f32(x) + (i * n + j) * D, xs + i * D, (size_t)D * sizeof(float));
    return x;
}

/* ---- linear: the nll metric against the closed forms ------------------------------------------ */

static const char *LINEAR_YAML =
    "seed: 3\n"
    "dataset: {plugin: synthetic2d, data: moons, encoding: continuous, heldout_size: 500}\n"
    "model: {plugin: hvae, linear: true, latents: [3, 2], prior: %s}\n"
    "objective: [{plugin: kl_tb, reparam: true, updates: [forward, backward]}]\n"
    "optim: {forward: {lr: 0.001}, backward: {lr: 0.001}}\n"
    "train: {steps: 1, batch: 256}\n"
    "metrics:\n"
    "  - {plugin: nll, particles: 1, samples: 500}\n"
    "  - {plugin: nll, particles: 10, samples: 500}\n"
    "  - {plugin: nll, particles: 1000, samples: 500}\n";

static void linear_case(const char *label, bool learned, bool near_posterior) {
    char yaml[2048];
    snprintf(yaml, sizeof yaml, LINEAR_YAML, learned ? "learned" : "fixed");
    tl_run r;
    if (!open_run(&r, yaml)) return;
    ug_ctx *ctx = r.ctx;
    lg m = {.L = 2, .n = 3, .w = {0, 3, 2, 2}, .learned = learned, .fl = -5.0};
    CHECK(r.model.info.horizon == 3 && ug_model_has(&r.model, UG_CAP_REPARAM_B | UG_CAP_REPARAM | UG_CAP_PARTIAL),
          "hvae info: horizon %d caps %#x", r.model.info.horizon, r.model.info.caps);
    lg_random(&m, learned ? 11 : 12, !near_posterior);
    if (near_posterior) lg_near_posterior(&m, 1.15);
    lg_sync(&m, r.P, ctx, true);
    lg_sync(&m, r.P, ctx, false);  // the closed forms use exactly the model's floats

    const int64_t N = 500, D = 2;
    static float xs[500 * 2];
    ug_tensor *hx = NULL;
    CHECK(r.data.vt->heldout(r.data.self, ctx, 0, N, &hx) == UG_OK && hx, "held-out rows");
    ug_tensor_get(ctx, hx, xs, N * D);
    ug_step_reset(ctx);
    double elbo_cf = 0, logp = 0;
    for (int64_t i = 0; i < N; i++) {
        double x[2] = {xs[i * D], xs[i * D + 1]};
        elbo_cf += lg_elbo(&m, x) / (double)N;
        logp += lg_log_px(&m, x) / (double)N;
    }

    /* The Monte Carlo spread from the model's own trajectories: within-x variance of the log weight w
     * (P draws for each of the N rows), and on Nv rows the relative variance v of e^{w - log p(x)}. */
    const int64_t P = 20, Nv = 50, Pv = 400;
    static double w[500 * 20 > 50 * 400 ? 500 * 20 : 50 * 400];
    bool g = ug_set_grad_enabled(ctx, false);
    ug_rng rng = ug_rng_make(77, 0);
    double var_w = 0, v_rel = 0;
    for (int64_t r0 = 0; r0 < N; r0 += 100) {
        ug_traj tr = {.size = sizeof tr};
        ug_traj_req req = {.size = sizeof req, .start = repeat_rows(ctx, xs + r0 * D, 100, D, P), .start_index = 3, .steps = -1};
        CHECK(r.model.vt->sample_backward(r.model.self, ctx, &rng, &req, &tr) == UG_OK, "%s", ug_ctx_errmsg(ctx));
        traj_weights(ctx, &tr, w);
        for (int64_t i = 0; i < 100; i++) {
            double s1 = 0, s2 = 0;
            for (int64_t j = 0; j < P; j++) s1 += w[i * P + j], s2 += w[i * P + j] * w[i * P + j];
            var_w += (s2 - s1 * s1 / P) / (P - 1) / (double)N;
        }
        ug_step_reset(ctx);
    }
    {
        ug_traj tr = {.size = sizeof tr};
        ug_traj_req req = {.size = sizeof req, .start = repeat_rows(ctx, xs, Nv, D, Pv), .start_index = 3, .steps = -1};
        CHECK(r.model.vt->sample_backward(r.model.self, ctx, &rng, &req, &tr) == UG_OK, "%s", ug_ctx_errmsg(ctx));
        traj_weights(ctx, &tr, w);
        for (int64_t i = 0; i < Nv; i++) {
            double x[2] = {xs[i * D], xs[i * D + 1]}, lp = lg_log_px(&m, x), s1 = 0, s2 = 0;
            for (int64_t j = 0; j < Pv; j++) {
                double e = exp(w[i * Pv + j] - lp);
                s1 += e, s2 += e * e;
            }
            v_rel += (s2 / Pv - (s1 / Pv) * (s1 / Pv)) / (double)Nv;
        }
        ug_step_reset(ctx);
    }
    ug_set_grad_enabled(ctx, g);

    const int64_t Ms[3] = {1, 10, 1000};
    double nll[3], elbo[3];
    for (int i = 0; i < 3; i++) {
        const ug_cfg *mc = ug_spec_metric(r.spec, i);
        const ug_plugin_desc *d = harness_desc(&H, UG_KIND_METRIC, mc);
        ug_create_args a = {.size = sizeof a, .cfg = mc, .ctx = ctx, .data = &r.data, .model = &r.model};
        memset(&ERR, 0, sizeof ERR);
        void *self = d ? d->create(&a, &ERR) : NULL;
        CHECK(self, "nll metric: %s", ERR.msg);
        if (!self) return;
        ug_metric_out o;
        double t0 = tl_now();
        CHECK(harness_evaluate(d, self, ctx, 100 + (uint64_t)i, &r.model, &r.data, 0, ".", &o) == UG_OK, "nll: %s",
              ug_ctx_errmsg(ctx));
        nll[i] = harness_value(&o, "nll");
        elbo[i] = harness_value(&o, "elbo");
        double se = sqrt(var_w / (double)(N * Ms[i]));
        CHECK(fabs(elbo[i] - elbo_cf) < 4 * se, "%s: M = %lld: elbo %.5f vs closed form %.5f (s.e. %.5f)", label,
              (long long)Ms[i], elbo[i], elbo_cf, se);
        printf("%s: M = %4lld: elbo %.5f vs closed form %.5f +- %.5f (4 s.e. allowed); nll %.5f vs exact %.5f (%.2f s)\n",
               label, (long long)Ms[i], elbo[i], elbo_cf, se, nll[i], -logp, tl_now() - t0);
        d->destroy(self);
    }
    CHECK(fabs(nll[0] + elbo[0]) < 1e-9 * (1 + fabs(nll[0])), "M = 1: nll %.6f is -elbo %.6f", nll[0], elbo[0]);
    CHECK(-elbo_cf > -logp, "closed forms: -ELBO %.5f above -log p %.5f", -elbo_cf, -logp);
    /* The IWAE gap: log p - E log p_hat_M ~ v / (2M), s.e. of the mean over N rows ~ sqrt(v / (M N)). */
    double se_iw = sqrt(v_rel / (double)(Ms[2] * N)), bias = v_rel / (2.0 * (double)Ms[2]);
    double gap = nll[2] - (-logp);
    printf("%s: exact -log p %.5f; -ELBO %.5f (gap %.4f); nll M = 1000 %.5f (gap %.5f; predicted IWAE bias %.5f, "
           "s.e. %.5f; weight rel. variance %.3f; within-x sd of log w %.3f)\n",
           label, -logp, -elbo_cf, logp - elbo_cf, nll[2], gap, bias, se_iw, v_rel, sqrt(var_w));
    CHECK(nll[0] > nll[1] && nll[1] > nll[2], "%s: nll falls with M: %.5f, %.5f, %.5f", label, nll[0], nll[1], nll[2]);
    if (near_posterior) {
        CHECK(gap > -4 * se_iw && gap < bias + 4 * se_iw, "%s: nll(1000) - exact = %.5f, want in [%.5f, %.5f]", label, gap,
              -4 * se_iw, bias + 4 * se_iw);
        CHECK(v_rel < 2, "%s: near-posterior weights: relative variance %.3f", label, v_rel);
    } else {
        /* a random encoder: heavy-tailed weights, so only the bound's direction is checked */
        CHECK(gap > -0.01 && gap < logp - elbo_cf, "%s: nll(1000) - exact = %.5f, want in (-0.01, %.5f)", label, gap,
              logp - elbo_cf);
    }
    tl_close(&r);
}

static void test_linear(void) {
    linear_case("linear, fixed prior, random encoder", false, false);
    linear_case("linear, learned prior, near-posterior encoder", true, true);
}

/* ---- grad: the reparameterized ELBO gradient against finite differences ---------------------- */

static double mean_neg_elbo(const lg *m, const float *xs, int64_t B) {
    double s = 0;
    for (int64_t b = 0; b < B; b++) {
        double x[2] = {xs[2 * b], xs[2 * b + 1]};
        s -= lg_elbo(m, x);
    }
    return s / (double)B;
}

static void test_grad(void) {
    const char *yaml =
        "seed: 4\n"
        "dataset: {plugin: synthetic2d, data: moons, encoding: continuous, heldout_size: 500}\n"
        "model: {plugin: hvae, linear: true, latents: [3, 2], prior: learned}\n"
        "objective: [{plugin: kl_tb, reparam: true, updates: [forward, backward]}]\n"
        "optim: {forward: {lr: 0.001}, backward: {lr: 0.001}}\n"
        "train: {steps: 1, batch: 64}\n";
    tl_run r;
    if (!open_run(&r, yaml)) return;
    ug_ctx *ctx = r.ctx;
    lg m = {.L = 2, .n = 3, .w = {0, 3, 2, 2}, .learned = true, .fl = -5.0};
    lg_random(&m, 21, true);
    lg_sync(&m, r.P, ctx, true);
    lg_sync(&m, r.P, ctx, false);
    const int64_t B = 64, D = 2;
    float xs[64 * 2];
    ug_tensor *hx = NULL;
    r.data.vt->heldout(r.data.self, ctx, 0, B, &hx);
    ug_tensor_get(ctx, hx, xs, B * D);
    ug_step_reset(ctx);

    slot S[4 * MAXL + 2];
    int ns = lg_slots(&m, S);
    int64_t total = 0;
    for (int i = 0; i < ns; i++) total += S[i].n;
    double *g1 = calloc((size_t)total, sizeof(double)), *g2 = calloc((size_t)total, sizeof(double));
    float buf[MAXW * MAXW];
    const int K = 2000;
    tl_term *T = &r.terms[0];
    double t0 = tl_now();
    for (int rep = 0; rep < K; rep++) {
        ug_params_zero_grad(r.P, ~0ull);
        ug_tensor *x = ug_from_f32(ctx, xs, 2, (int64_t[]){B, D});
        ug_step_env env = {.size = sizeof env, .ctx = ctx, .rng = &T->rng, .model = &r.model, .batch = x,
                           .update_mask = T->mask};
        ug_loss_out out = {.size = sizeof out};
        CHECK(((const ug_objective_vtable *)T->desc->vtable)->loss(T->self, &env, &out) == UG_OK, "%s", ug_ctx_errmsg(ctx));
        CHECK(ug_backward(ctx, out.loss, T->mask) == UG_OK, "%s", ug_ctx_errmsg(ctx));
        int64_t off = 0;
        for (int i = 0; i < ns; i++) {
            ug_tensor *p = ug_params_find(r.P, S[i].group, S[i].name);
            ug_tensor_get(ctx, p->grad, buf, S[i].n);
            for (int64_t j = 0; j < S[i].n; j++, off++) g1[off] += buf[j] / K, g2[off] += (double)buf[j] * buf[j] / K;
        }
        ug_step_reset(ctx);
    }
    double t_mc = tl_now() - t0, worst_z = 0, fd_over_se = 0, enc_norm = 0;
    int64_t off = 0;
    for (int i = 0; i < ns; i++)
        for (int64_t j = 0; j < S[i].n; j++, off++) {
            const double h = 1e-5, v0 = S[i].v[j];
            S[i].v[j] = v0 + h;
            double lp = mean_neg_elbo(&m, xs, B);
            S[i].v[j] = v0 - h;
            double lm = mean_neg_elbo(&m, xs, B);
            S[i].v[j] = v0;
            double fd = (lp - lm) / (2 * h), se = sqrt(fmax(g2[off] - g1[off] * g1[off], 0) / (K - 1));
            double z = fabs(g1[off] - fd) / (se + 1e-6 * (1 + fabs(fd)));
            CHECK(z < 4.5, "d(-ELBO)/d %s/%s[%lld]: Monte Carlo %.5f +- %.5f vs finite differences %.5f", S[i].group,
                  S[i].name, (long long)j, g1[off], se, fd);
            if (z > worst_z) worst_z = z;
            if (j == 0)
                printf("grad: d(-ELBO)/d %s/%s[0]: Monte Carlo %.5f +- %.5f, finite differences %.5f\n", S[i].group,
                       S[i].name, g1[off], se, fd);
            if (strcmp(S[i].group, "backward") == 0) {
                enc_norm += fd * fd;
                if (fabs(fd) / se > fd_over_se) fd_over_se = fabs(fd) / se;
            }
        }
    /* The check has teeth: the encoder's gradient is far from 0 in Monte Carlo units (the score of a
     * detached sample, which averages to 0, would fail it). */
    CHECK(fd_over_se > 20, "the encoder gradient is only %.1f s.e. from 0", fd_over_se);
    printf("grad: %lld parameters (%d tensors); K = %d batches of %lld (%.1f s); worst |MC - FD| = %.2f s.e.; "
           "encoder |grad| %.4f, largest encoder component %.0f s.e. from 0\n",
           (long long)total, ns, K, (long long)B, t_mc, worst_z, sqrt(enc_norm), fd_over_se);
    free(g1);
    free(g2);
    tl_close(&r);
}

/* ---- warmup: kl_tb's KL warm-up on the same trajectories ----------------------------------------- */

/* One loss of term t at `step` with a copy of rng (so every term sees the same backward trajectories). */
static double term_loss(tl_run *r, int t, const ug_rng *rng, const float *xs, int64_t B, int64_t step,
                        double *log_ratio) {
    ug_ctx *ctx = r->ctx;
    ug_rng g = *rng;
    ug_tensor *x = ug_from_f32(ctx, xs, 2, (int64_t[]){B, 2});
    ug_step_env env = {.size = sizeof env, .ctx = ctx, .rng = &g, .model = &r->model, .batch = x,
                       .update_mask = r->terms[t].mask, .step = step, .total_steps = 100};
    ug_loss_out out = {.size = sizeof out};
    const ug_objective_vtable *vt = r->terms[t].desc->vtable;
    CHECK(vt->loss(r->terms[t].self, &env, &out) == UG_OK, "term %d: %s", t, ug_ctx_errmsg(ctx));
    double v = out.loss ? ug_item(out.loss) : NAN;
    *log_ratio = NAN;
    for (int i = 0; i < out.n_logs; i++)
        if (strcmp(out.log_keys[i], "log_ratio") == 0) *log_ratio = out.log_values[i];
    ug_step_reset(ctx);
    return v;
}

/* warmup W at step s weights all terms but the last log P_F by beta = min(1, (s+1)/W), so on one set of
 * trajectories: loss(beta) = beta loss(1) + (1 - beta) loss(0), loss(0) = -mean log P_F(x | z_L), and
 * from step W - 1 on it is the plain negative ELBO; log_ratio stays the (unweighted) ELBO throughout. */
static void test_warmup(void) {
    const char *yaml =
        "seed: 5\n"
        "dataset: {plugin: synthetic2d, data: 8gaussians, encoding: continuous, heldout_size: 500}\n"
        "model: {plugin: hvae, latents: [3, 2], hidden: [16]}\n"
        "objective:\n"
        "  - {plugin: kl_tb, reparam: true, updates: [forward, backward]}\n"
        "  - {plugin: kl_tb, reparam: true, warmup: 4, updates: [forward, backward]}\n"
        "  - {plugin: kl_tb, reparam: true, warmup: 1000000000, updates: [forward, backward]}\n"
        "optim: {forward: {lr: 0.001}, backward: {lr: 0.001}}\n"
        "train: {steps: 1, batch: 64}\n";
    tl_run r;
    if (!open_run(&r, yaml)) return;
    const int64_t B = 64;
    float xs[64 * 2];
    ug_tensor *hx = NULL;
    r.data.vt->heldout(r.data.self, r.ctx, 0, B, &hx);
    ug_tensor_get(r.ctx, hx, xs, B * 2);
    ug_step_reset(r.ctx);
    ug_rng rng = r.terms[0].rng;
    double lr_full, lr_w, lr_0;
    double full = term_loss(&r, 0, &rng, xs, B, 0, &lr_full);
    double recon = term_loss(&r, 2, &rng, xs, B, 0, &lr_0);  // beta = 1e-9: the likelihood term alone
    CHECK(fabs(lr_full + full) < 1e-6 * (1 + fabs(full)), "log_ratio %.6f is not -loss %.6f", lr_full, full);
    CHECK(fabs(lr_0 - lr_full) < 1e-5 * (1 + fabs(full)), "warmup changed log_ratio: %.6f vs %.6f", lr_0, lr_full);
    CHECK(fabs(full - recon) > 0.1, "the KL part is too small to test: loss %.4f, likelihood term %.4f", full, recon);
    for (int64_t step = 0; step < 6; step++) {
        double beta = step + 1 < 4 ? (double)(step + 1) / 4.0 : 1.0;
        double w = term_loss(&r, 1, &rng, xs, B, step, &lr_w);
        double want = beta * full + (1 - beta) * recon;
        CHECK(fabs(w - want) < 1e-5 * (1 + fabs(want)), "step %lld (beta %.2f): loss %.6f, want %.6f", (long long)step,
              beta, w, want);
        CHECK(fabs(lr_w - lr_full) < 1e-5 * (1 + fabs(full)), "step %lld: log_ratio %.6f vs %.6f", (long long)step, lr_w,
              lr_full);
    }
    printf("warmup: -ELBO %.4f, likelihood term %.4f; warmup 4 gives beta-mixtures of the two at steps 0-2 and "
           "the -ELBO from step 3\n", full, recon);
    tl_close(&r);
    /* refused where it has no meaning */
    ug_error err = {0};
    tl_run r2;
    const char *bad =
        "dataset: {plugin: synthetic2d, data: moons, encoding: continuous}\nmodel: {plugin: hvae}\n"
        "objective: [{plugin: kl_tb, score_pb: true, warmup: 10, updates: [forward]}]\n"
        "optim: {forward: {lr: 0.001}}\ntrain: {steps: 1, batch: 8}\n";
    CHECK(tl_open(&r2, H.reg, bad, NULL, 0, &err) != UG_OK && strstr(err.msg, "warmup"),
          "warmup with score_pb was not refused with a message naming it: '%s'", err.msg);
}

/* ---- traj: the policy interface ------------------------------------------------------------ */

/* x [rows, cols] (any strides) into a host buffer of the step arena. */
static float *host(ug_ctx *ctx, const ug_tensor *x) {
    float *p = ug_arena_alloc(ctx, (size_t)ug_numel(x) * sizeof(float));
    if (p) ug_tensor_get(ctx, x, p, ug_numel(x));
    return p;
}

static bool has_shape(const ug_tensor *t, int64_t rows, int64_t cols) {
    return t && ((cols == 0 && t->ndim == 1 && t->shape[0] == rows) ||
                 (cols > 0 && t->ndim == 2 && t->shape[0] == rows && t->shape[1] == cols));
}

/* Rescoring a copy of tr's states gives back its terms. */
static void check_rescore(tl_run *r, const ug_traj *tr, const char *what) {
    ug_ctx *ctx = r->ctx;
    ug_traj re = *tr;
    re.log_pf = re.log_pb = NULL;
    re.extra = NULL;
    CHECK(r->model.vt->rescore(r->model.self, ctx, &re, 0) == UG_OK, "%s: rescore: %s", what, ug_ctx_errmsg(ctx));
    double worst = 0;
    for (int k = 0; k < tr->steps; k++)
        for (int pf = 0; pf < 2; pf++) {
            float *a = host(ctx, pf ? tr->log_pf[k] : tr->log_pb[k]), *b = host(ctx, pf ? re.log_pf[k] : re.log_pb[k]);
            for (int64_t i = 0; i < tr->batch; i++) worst = fmax(worst, fabs(a[i] - b[i]) / (1 + fabs(a[i])));
        }
    CHECK(worst < 1e-5, "%s: rescore differs from the sampled terms by %.3g (relative)", what, worst);
    printf("traj: %s: rescore reproduces all %d x 2 terms (worst relative difference %.2g)\n", what, tr->steps, worst);
}

/* A refused request: the status and a word of the message. */
static void check_refused(ug_ctx *ctx, ug_status st, ug_status want, const char *word, const char *what) {
    CHECK(st == want && strstr(ug_ctx_errmsg(ctx), word), "%s: status %d (want %d), message '%s' (want '%s')", what, st,
          want, ug_ctx_errmsg(ctx), word);
    printf("traj: refused %s: %s\n", what, ug_ctx_errmsg(ctx));
    ug_ctx_clear_error(ctx);
}

static void traj_nonlinear(void) {
    const char *yaml =
        "seed: 6\n"
        "dataset: {plugin: synthetic2d, data: moons, encoding: continuous}\n"
        "model: {plugin: hvae, latents: [3, 2], hidden: [16, 16], prior: learned}\n"
        "objective: [{plugin: kl_tb, reparam: true, updates: [forward, backward]}]\n"
        "optim: {forward: {lr: 0.001}, backward: {lr: 0.001}}\n"
        "train: {steps: 1, batch: 64}\n";
    tl_run r;
    if (!open_run(&r, yaml)) return;
    ug_ctx *ctx = r.ctx;
    const ug_model *M = &r.model;
    const int64_t B = 64, w[4] = {3, 3, 2, 2};
    ug_rng rng = ug_rng_make(5, 0);
    CHECK(M->info.horizon == 3 && M->info.space.kind == UG_SPACE_CONTINUOUS && M->info.space.dim == 2 &&
              !M->info.deterministic_pb,
          "info: horizon %d, space kind %u dim %lld", M->info.horizon, M->info.space.kind, (long long)M->info.space.dim);
    ug_traj f = {.size = sizeof f};
    ug_traj_req req = {.size = sizeof req, .batch = B, .steps = -1, .flags = UG_TRAJ_KEEP_STATES};
    CHECK(M->vt->sample_forward(M->self, ctx, &rng, &req, &f) == UG_OK, "forward: %s", ug_ctx_errmsg(ctx));
    CHECK(f.start == 0 && f.steps == 3 && f.states && f.last == f.states[3], "forward: start %d steps %d", f.start, f.steps);
    for (int k = 0; f.states && k <= 3; k++) CHECK(has_shape(f.states[k], B, w[k]), "forward: state %d is [%lld, %lld]", k, (long long)B, (long long)w[k]);
    for (int k = 0; k < 3; k++) CHECK(has_shape(f.log_pf[k], B, 0) && has_shape(f.log_pb[k], B, 0), "forward terms of step %d", k);
    float *lpb0 = host(ctx, f.log_pb[0]);
    double z = 0;
    for (int64_t i = 0; i < B; i++) z = fmax(z, fabs(lpb0[i]));
    CHECK(z == 0, "log_pb[0] is 0 (the root is z_1's only parent), got %g", z);
    check_rescore(&r, &f, "forward from the root");

    ug_traj b = {.size = sizeof b};
    req = (ug_traj_req){.size = sizeof req, .start = f.last, .start_index = 3, .steps = -1, .flags = UG_TRAJ_KEEP_STATES};
    CHECK(M->vt->sample_backward(M->self, ctx, &rng, &req, &b) == UG_OK, "backward: %s", ug_ctx_errmsg(ctx));
    CHECK(b.start == 0 && b.steps == 3 && b.first == b.states[0] && b.last == f.last, "backward: start %d steps %d", b.start, b.steps);
    for (int k = 0; b.states && k <= 3; k++) CHECK(has_shape(b.states[k], B, w[k]), "backward: state %d", k);
    check_rescore(&r, &b, "backward from x");

    /* partial: one step back from x, then the rest from index 2; forward from index 1 */
    ug_traj p1 = {.size = sizeof p1}, p2 = {.size = sizeof p2}, p3 = {.size = sizeof p3};
    req = (ug_traj_req){.size = sizeof req, .start = f.last, .start_index = 3, .steps = 1, .flags = UG_TRAJ_KEEP_STATES};
    CHECK(M->vt->sample_backward(M->self, ctx, &rng, &req, &p1) == UG_OK, "partial backward: %s", ug_ctx_errmsg(ctx));
    CHECK(p1.start == 2 && p1.steps == 1 && has_shape(p1.first, B, 2), "partial backward: start %d steps %d", p1.start, p1.steps);
    req = (ug_traj_req){.size = sizeof req, .start = p1.first, .start_index = 2, .steps = -1};
    CHECK(M->vt->sample_backward(M->self, ctx, &rng, &req, &p2) == UG_OK, "backward from index 2: %s", ug_ctx_errmsg(ctx));
    CHECK(p2.start == 0 && p2.steps == 2 && has_shape(p2.first, B, 3) && !p2.states, "backward from index 2: start %d steps %d",
          p2.start, p2.steps);
    req = (ug_traj_req){.size = sizeof req, .start = b.states[1], .start_index = 1, .steps = 1, .flags = UG_TRAJ_KEEP_STATES};
    CHECK(M->vt->sample_forward(M->self, ctx, &rng, &req, &p3) == UG_OK, "forward from index 1: %s", ug_ctx_errmsg(ctx));
    CHECK(p3.start == 1 && p3.steps == 1 && has_shape(p3.last, B, 2), "forward from index 1: start %d steps %d", p3.start, p3.steps);
    check_rescore(&r, &p3, "forward from index 1, one step");
    /* NO_PF leaves the forward terms alone */
    ug_traj re = b;
    ug_tensor *keep = re.log_pf[1];
    CHECK(M->vt->rescore(M->self, ctx, &re, UG_TRAJ_NO_PF) == UG_OK && re.log_pf[1] == keep, "rescore with NO_PF");

    /* refusals */
    req = (ug_traj_req){.size = sizeof req, .batch = B, .steps = -1, .explore = 0.1f};
    check_refused(ctx, M->vt->sample_forward(M->self, ctx, &rng, &req, &p1), UG_ERR_UNSUPPORTED, "explore", "explore 0.1");
    req = (ug_traj_req){.size = sizeof req, .start = f.last, .start_index = 3, .steps = 0, .flags = UG_TRAJ_ANCHOR,
                        .row_index = ug_zeros(ctx, 1, &B)};
    check_refused(ctx, M->vt->sample_backward(M->self, ctx, &rng, &req, &p1), UG_ERR_UNSUPPORTED, "anchored", "an anchored request");
    req = (ug_traj_req){.size = sizeof req, .start = f.states[1], .start_index = 2, .steps = -1};
    check_refused(ctx, M->vt->sample_backward(M->self, ctx, &rng, &req, &p1), UG_ERR_ARG, "[B, 2]", "a [B, 3] state at index 2");
    req = (ug_traj_req){.size = sizeof req, .start = f.last, .start_index = 3, .steps = 4};
    check_refused(ctx, M->vt->sample_backward(M->self, ctx, &rng, &req, &p1), UG_ERR_ARG, "4 steps", "4 steps back from x");
    ug_step_reset(ctx);
    tl_close(&r);
}

/* Temperature T multiplies the latent variances (the prior's and the steps') and leaves the decoder's
 * alone; log_pf stays the untempered density. Linear layers make each step's noise readable. */
static void traj_temperature(void) {
    const char *yaml =
        "seed: 8\n"
        "dataset: {plugin: synthetic2d, data: moons, encoding: continuous}\n"
        "model: {plugin: hvae, linear: true, latents: [3, 2]}\n"
        "objective: [{plugin: kl_tb, updates: [forward]}]\n"
        "optim: {forward: {lr: 0.001}}\n"
        "train: {steps: 1, batch: 64}\n";
    tl_run r;
    if (!open_run(&r, yaml)) return;
    ug_ctx *ctx = r.ctx;
    lg m = {.L = 2, .n = 3, .w = {0, 3, 2, 2}, .fl = -5.0};
    lg_random(&m, 31, true);
    lg_sync(&m, r.P, ctx, true);
    lg_sync(&m, r.P, ctx, false);
    const int64_t N = 20000;
    const float T = 4.0f;
    ug_rng rng = ug_rng_make(9, 0);
    bool g = ug_set_grad_enabled(ctx, false);
    ug_traj f = {.size = sizeof f};
    ug_traj_req req = {.size = sizeof req, .batch = N, .steps = -1, .flags = UG_TRAJ_KEEP_STATES, .temperature = T};
    CHECK(r.model.vt->sample_forward(r.model.self, ctx, &rng, &req, &f) == UG_OK, "%s", ug_ctx_errmsg(ctx));
    float *s[4], *lpf0 = host(ctx, f.log_pf[0]);
    for (int k = 1; k <= 3; k++) s[k] = host(ctx, f.states[k]);
    /* per step k: the residual s_{k+1} - (A s_k + b) (k >= 1), or z_1 itself, and its sample variance */
    double worst = 0, lp_err = 0;
    for (int k = 0; k < 3; k++) {
        int dn = (int)m.w[k + 1], di = k ? (int)m.w[k] : 0;
        for (int i = 0; i < dn; i++) {
            double s1 = 0, s2 = 0;
            for (int64_t b = 0; b < N; b++) {
                double e = s[k + 1][b * dn + i];
                if (k) {
                    e -= m.b[k][i];
                    for (int j = 0; j < di; j++) e -= m.A[k][i * di + j] * s[k][b * di + j];
                }
                s1 += e, s2 += e * e;
            }
            double var = (s2 - s1 * s1 / N) / (N - 1);
            double want = (k ? exp(2 * ls_of(&m, m.s[k][i])) : 1.0) * (k < 2 ? T : 1.0);  // the decoder untempered
            double rel = fabs(var / want - 1);
            CHECK(rel < 5 * sqrt(2.0 / N), "step %d coordinate %d: variance %.4f, want %.4f", k, i, var, want);
            worst = fmax(worst, rel / sqrt(2.0 / N));
            if (i == 0) printf("traj: temperature %.0f: step %d noise variance %.4f (want %.4f)\n", (double)T, k, var, want);
        }
    }
    for (int64_t b = 0; b < N; b++) {
        double q = 0;
        for (int i = 0; i < 3; i++) q += s[1][b * 3 + i] * s[1][b * 3 + i];
        lp_err = fmax(lp_err, fabs(lpf0[b] - (-0.5 * q - 1.5 * log(2 * M_PI))));
    }
    CHECK(lp_err < 1e-4, "log_pf[0] is the untempered log N(z_1; 0, I): worst error %.3g", lp_err);
    printf("traj: temperature: worst variance deviation %.2f s.e.; log_pf[0] untempered within %.2g\n", worst, lp_err);
    ug_set_grad_enabled(ctx, g);
    ug_step_reset(ctx);
    tl_close(&r);
}

/* Binary x (test_bits): the Bernoulli decoder's log mass by hand, no forward reparam, and the spec
 * refusals of a decoder that does not fit the data. */
static void traj_binary(void) {
    const char *yaml =
        "seed: 9\n"
        "dataset: {plugin: test_bits, dim: 5}\n"
        "model: {plugin: hvae, linear: true, latents: [2]}\n"
        "objective: [{plugin: kl_tb, reparam: true, updates: [forward, backward]}]\n"
        "optim: {forward: {lr: 0.001}, backward: {lr: 0.001}}\n"
        "train: {steps: 1, batch: 64}\n";
    tl_run r;
    if (!open_run(&r, yaml)) return;
    ug_ctx *ctx = r.ctx;
    const ug_model *M = &r.model;
    CHECK(M->info.space.kind == UG_SPACE_BINARY && M->info.space.categories == 2 && M->info.horizon == 2 &&
              ug_model_has(M, UG_CAP_REPARAM_B) && !ug_model_has(M, UG_CAP_REPARAM),
          "binary info: kind %u horizon %d caps %#x", M->info.space.kind, M->info.horizon, M->info.caps);
    const int64_t B = 64;
    ug_rng rng = ug_rng_make(3, 0);
    ug_traj f = {.size = sizeof f};
    ug_traj_req req = {.size = sizeof req, .batch = B, .steps = -1, .flags = UG_TRAJ_KEEP_STATES};
    CHECK(M->vt->sample_forward(M->self, ctx, &rng, &req, &f) == UG_OK, "%s", ug_ctx_errmsg(ctx));
    float W[10], bb[5], *z = host(ctx, f.states[1]), *x = host(ctx, f.last), *lp = host(ctx, f.log_pf[1]);
    ug_tensor_get(ctx, ug_params_find(r.P, "forward", "p1.mean.w"), W, 10);
    ug_tensor_get(ctx, ug_params_find(r.P, "forward", "p1.mean.b"), bb, 5);
    double worst = 0;
    int bad = 0;
    for (int64_t b = 0; b < B; b++) {
        double want = 0;
        for (int i = 0; i < 5; i++) {
            double l = bb[i] + W[i * 2] * z[b * 2] + W[i * 2 + 1] * z[b * 2 + 1], xi = x[b * 5 + i];
            bad += xi != 0 && xi != 1;
            want += xi * l - (l > 0 ? l + log1p(exp(-l)) : log1p(exp(l)));
        }
        worst = fmax(worst, fabs(lp[b] - want));
    }
    CHECK(bad == 0 && worst < 1e-5, "Bernoulli decoder: %d non-binary x, log mass off by %.3g", bad, worst);
    printf("traj: Bernoulli decoder: x in {0,1}, log P_F(x | z_1) by hand within %.2g\n", worst);
    check_rescore(&r, &f, "binary x");
    req.flags = UG_TRAJ_REPARAM;
    check_refused(ctx, M->vt->sample_forward(M->self, ctx, &rng, &req, &f), UG_ERR_UNSUPPORTED, "Bernoulli",
                  "forward reparam with binary x");
    ug_step_reset(ctx);
    tl_close(&r);
    const char *bad_specs[][2] = {
        {"dataset: {plugin: test_bits, dim: 5}\nmodel: {plugin: hvae, decoder: gaussian}\n", "does not fit"},
        {"dataset: {plugin: synthetic2d, data: moons, encoding: continuous}\nmodel: {plugin: hvae, dim: 3}\n", "dim 3"},
        {"dataset: {plugin: synthetic2d, data: moons, encoding: continuous}\nmodel: {plugin: hvae, latents: []}\n", "latents"},
    };
    for (int i = 0; i < 3; i++) {
        char y[1024];
        snprintf(y, sizeof y, "%sobjective: [{plugin: kl_tb, updates: [forward]}]\noptim: {forward: {lr: 0.001}}\n"
                 "train: {steps: 1, batch: 8}\n", bad_specs[i][0]);
        memset(&ERR, 0, sizeof ERR);
        ug_status st = tl_open(&r, H.reg, y, NULL, 0, &ERR);
        if (st == UG_OK) tl_close(&r);
        CHECK(st != UG_OK && strstr(ERR.msg, bad_specs[i][1]), "refused at create: '%s' in '%s'", bad_specs[i][1], ERR.msg);
        printf("traj: refused at create: %s\n", ERR.msg);
    }
}

static void test_traj(void) {
    traj_nonlinear();
    traj_temperature();
    traj_binary();
}

/* ---- train: end to end on synthetic2d ---------------------------------------------------------- */

/* The nll metric (M = 20 on 500 held-out rows) at the run's current parameters: nll and elbo. */
static void quick_nll(tl_run *r, double *nll, double *elbo) {
    const ug_cfg *mc = ug_spec_metric(r->spec, 0);
    const ug_plugin_desc *d = harness_desc(&H, UG_KIND_METRIC, mc);
    ug_create_args a = {.size = sizeof a, .cfg = mc, .ctx = r->ctx, .data = &r->data, .model = &r->model};
    memset(&ERR, 0, sizeof ERR);
    void *self = d ? d->create(&a, &ERR) : NULL;
    CHECK(self, "nll metric: %s", ERR.msg);
    *nll = *elbo = NAN;
    if (!self) return;
    ug_metric_out o;
    CHECK(harness_evaluate(d, self, r->ctx, 5, &r->model, &r->data, r->step, ".", &o) == UG_OK, "nll: %s", ug_ctx_errmsg(r->ctx));
    *nll = harness_value(&o, "nll");
    *elbo = harness_value(&o, "elbo");
    d->destroy(self);
}

/* Train `steps` steps; the mean of term 0's loss over the first 10 and the last 50 steps (the loss is
 * a one-batch Monte Carlo estimate: the window averages its noise). */
static void train_and_compare(tl_run *r, int64_t steps, double *first, double *last) {
    *first = *last = 0;
    for (int64_t s = 0; s < steps; s++) {
        memset(&ERR, 0, sizeof ERR);
        ug_status st = tl_step(r, NULL, NULL, &ERR);
        CHECK(st == UG_OK, "step %lld: %s", (long long)s, ERR.msg);
        if (st) return;
        if (s < 10) *first += r->terms[0].loss / 10;
        if (s >= steps - 50) *last += r->terms[0].loss / 50;
    }
}

static void train_case(const char *label, const char *objective, int64_t steps, double min_drop) {
    char yaml[2048];
    snprintf(yaml, sizeof yaml,
             "seed: 2\n"
             "dataset: {plugin: synthetic2d, data: 8gaussians, encoding: continuous}\n"
             "model: {plugin: hvae, latents: [2, 2], hidden: [64, 64]}\n"
             "objective:\n%s"
             "optim: {forward: {lr: 0.002}, backward: {lr: 0.002}}\n"
             "train: {steps: %lld, batch: 128}\n"
             "metrics: [{plugin: nll, particles: 20, samples: 500}]\n",
             objective, (long long)steps);
    tl_run r;
    if (!open_run(&r, yaml)) return;
    double nll0, elbo0, nll1, elbo1, first, last, t0 = tl_now();
    quick_nll(&r, &nll0, &elbo0);
    train_and_compare(&r, steps, &first, &last);
    quick_nll(&r, &nll1, &elbo1);
    printf("%s: %lld steps (%.1f s): loss %.4f -> %.4f (means of the first 10 and the last 50 steps); held-out nll (M = 20) "
           "%.4f -> %.4f, elbo %.4f -> %.4f\n",
           label, (long long)steps, tl_now() - t0, first, last, nll0, nll1, elbo0, elbo1);
    CHECK(first - last > min_drop, "%s: loss %.4f -> %.4f, want a drop of more than %.2f", label, first, last, min_drop);
    CHECK(nll1 < nll0 - min_drop, "%s: held-out nll %.4f -> %.4f", label, nll0, nll1);
    tl_close(&r);
}

static void test_train(void) {
    /* the standard HVAE: the negative ELBO with the encoder's pathwise gradient */
    train_case("hvae (kl_tb reparam, [forward, backward])",
               "  - {plugin: kl_tb, direction: data, reparam: true, updates: [forward, backward]}\n", 1500, 0.5);
    /* MLE-GFN (Algorithm 1): the decoder by kl_tb, the encoder by tbc (Prop. 14) */
    train_case("mle-gfn (kl_tb [forward] + tbc [backward])",
               "  - {plugin: kl_tb, direction: data, updates: [forward]}\n"
               "  - {plugin: tbc, updates: [backward]}\n", 1500, 0.5);
}

int main(int argc, char **argv) {
    const char *which = argc > 1 ? argv[1] : "linear";
    if (harness_open(&H)) {
        CHECK(0, "harness_open failed");
        return CHECK_DONE();
    }
    if (strcmp(which, "linear") == 0) test_linear();
    else if (strcmp(which, "grad") == 0) test_grad();
    else if (strcmp(which, "traj") == 0) test_traj();
    else if (strcmp(which, "train") == 0) test_train();
    else if (strcmp(which, "warmup") == 0) test_warmup();
    else CHECK(0, "unknown case '%s'", which);
    harness_close(&H);
    return CHECK_DONE();
}
