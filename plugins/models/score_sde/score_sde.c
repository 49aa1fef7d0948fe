/* score_sde.c — ScoreSDE (Song et al. 2021; paper §3.2.2, Obs. 6, Prop. 9, App. B.4) as a GFlowNet:
 * the Euler–Maruyama discretization of the reverse SDE is P_F, that of the forward SDE is P_B
 * (docs/families.md §7; the SDE, the time grid and the closed forms are in sde.h).
 *
 *   step 0 (root):  P_F(s_1) = N(0, sigma_T^2 I)  (VP 1, VE sigma_max^2),  log P_B = 0
 *   step k >= 1:    P_F(s_{k+1} | s_k) = N(s_k + h [g(tau)^2 s_theta(s_k, t_k) - f(s_k, tau)], h g(tau)^2 I),
 *                   P_B(s_k | s_{k+1}) = N(a_k s_{k+1}, v_k I)   (EM step of the forward SDE from t_{k+1})
 * with tau = t_k (pf_time: start, the default: Song et al.'s Euler–Maruyama predictor, B.4's backward
 * step) or tau = t_{k+1} (end: f and g at the step's far end, so P_F's variance equals P_B's v_k, as
 * DDPM's sigma_k^2 = beta_k; with beta(t) rising from 0.1 the start rule's last variance h beta(h) is
 * 3x P_B's h beta(0), which costs ~0.2 nats a coordinate in the ELBO at T = 100).
 * Horizon T + 1; x = s_{T+1} at t = 0. The sum of log P_F - log P_B over a backward trajectory is
 * the EM-discretized ELBO, a bound for every fixed T (Eq. 21, 24).
 *
 * Score parameterizations (`score_param`):
 *   net   s_theta(x, t) = MLP([x, emb(t_scale t)]) / sigma(t)  (scale_by_sigma; sigma(t) the marginal std),
 *         group "forward". flow_head: true adds a separate log F_psi(x, t) (group "flow") and log Z
 *         (group "logZ"): the paper's Prop. 9 setting, a score network in P_F and a flow F for DB.
 *   flow  s = grad_x log F_psi(x, t), F in group "flow" (Eq. 12's grad log F, with create_graph), with
 *         log Z; gives log_flow, so `db` applies (Eq. 17). DB's O(sqrt h) term then vanishes
 *         identically (Prop. 9's condition holds by construction): see tests/test_score_sde.c.
 *
 * Capabilities: score, partial, reparam (P_F is Gaussian with parameter-free noise), reparam_b (no P_B
 * parameters at all), anchor (the chain's marginal, sde.h), step_kl (analytic KL of the chain's
 * posterior to P_F, below), and log_flow + log_z with a flow.
 *
 * step_kl(x, s_k, k), the k-th term of the negative ELBO (model.h), with q the chain's posterior:
 *   k = 0:        KL(N(A_1 x, V_1) || N(0, P)) = D/2 (V_1/P - 1 + log(P/V_1)) + |A_1 x|^2 / (2P)
 *   1 <= k < T:   KL(N(m, w) || N(mu, sf2)) = D/2 (w/sf2 - 1 + log(sf2/w)) + |m - mu|^2 / (2 sf2)
 *                 m = (v_k A_{k+1} x + a_k V_{k+1} s_k) / V_k,  w = v_k V_{k+1} / V_k,  sf2 = h g(tau)^2,
 *                 mu = P_F's mean at s_k
 *   k = T:        -log P_F(x | s_T) = D/2 log(2 pi sf2) + |x - mu|^2 / (2 sf2)
 * so kl_tb's one-step estimator trains score_sde with one score evaluation a row.
 *
 * Memory: with grad off (sampling, evaluation) the T-step samplers keep one step's activations
 * (ug_arena_mark / release; the states and terms are preallocated and copied into). The flow
 * parameterization records tape nodes even then (its score is a gradient), so its steps are kept
 * until the caller's step reset. */
#define UG_PLUGIN
#include "unigfn/plugin.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sde.h"

#define WHO "score_sde"

static const ug_param_spec sde_params[] = {
    {"dim", UG_P_INT, "0", UG_P_MIN | UG_P_MAX, 0, 1 << 20, NULL, "dimension D of x; 0 = the dataset's"},
    {"sde", UG_P_ENUM, "vp", 0, 0, 0, "vp|ve", "variance preserving (DDPM-like) or variance exploding SDE"},
    {"steps", UG_P_INT, "100", UG_P_MIN | UG_P_MAX, 1, 100000, NULL, "T: Euler–Maruyama steps (h = 1/T; horizon T + 1)"},
    {"beta_min", UG_P_FLOAT, "0.1", UG_P_MIN | UG_P_MIN_OPEN, 0, 0, NULL, "VP: beta(0)"},
    {"beta_max", UG_P_FLOAT, "20", UG_P_MIN | UG_P_MIN_OPEN, 0, 0, NULL, "VP: beta(1)"},
    {"sigma_min", UG_P_FLOAT, "0.01", UG_P_MIN | UG_P_MIN_OPEN, 0, 0, NULL, "VE: sigma(0)"},
    {"sigma_max", UG_P_FLOAT, "10", UG_P_MIN | UG_P_MIN_OPEN, 0, 0, NULL,
     "VE: sigma(1), about the largest distance between data points (the 2-D toys span ~8)"},
    {"hidden", UG_P_INT_LIST, "[256, 256, 256]", UG_P_MIN, 1, 0, NULL, "hidden widths of the score (or flow) MLP"},
    {"act", UG_P_ENUM, "silu", 0, 0, 0, "silu|gelu|tanh|softplus|elu|relu|leaky_relu|none",
     "activation (smooth ones: sliced score matching differentiates the network twice)"},
    {"temb", UG_P_INT, "32", UG_P_MIN | UG_P_MAX, 2, 4096, NULL, "width of the sinusoidal time embedding"},
    {"t_scale", UG_P_FLOAT, "100", UG_P_MIN | UG_P_MIN_OPEN, 0, 0, NULL,
     "the embedding sees t_scale * t: 100 puts the fastest frequency at ~6 grid steps of T = 100"},
    {"score_param", UG_P_ENUM, "net", 0, 0, 0, "net|flow", "score network, or the x-gradient of a log-flow network"},
    {"scale_by_sigma", UG_P_BOOL, "true", 0, 0, 0, NULL, "net: divide the network's output by the marginal std sigma(t)"},
    {"pf_time", UG_P_ENUM, "start", 0, 0, 0, "start|end",
     "P_F's step k evaluates f and g at t_k (Euler–Maruyama) or at t_{k+1} (its variance is then P_B's)"},
    {"flow_head", UG_P_BOOL, "false", 0, 0, 0, NULL, "net: a separate log F(x, t) network and log Z (log_flow, for db)"},
    {NULL, 0, NULL, 0, 0, 0, NULL, NULL},
};

/* ---- checks and small pieces ---- */

static bool check_states(const sde_model *m, ug_ctx *ctx, const ug_tensor *s, const char *call) {
    char w[96];
    snprintf(w, sizeof w, WHO ".%s", call);
    return ugm_check_states(ctx, s, m->D, w);
}

/* log N(y; mean, var I) per row -> [B] */
static ug_tensor *normal_lp(ug_ctx *ctx, ug_tensor *y, ug_tensor *mean, double var) {
    return ug_normal_log_prob(ctx, y, mean, ug_scalar(ctx, (float)(0.5 * log(var))));
}

/* The time at which P_F's step k evaluates f and g: t_k (pf_time: start, Euler–Maruyama) or t_{k+1}
 * (end: then P_F's variance is P_B's step variance v_k, as DDPM's sigma^2 = beta). */
static double pf_tau(const sde_model *m, int k) { return m->pf_end ? m->t[k + 1] : m->t[k]; }
/* P_F's variance at step k >= 1: h g(tau_k)^2. */
static double pf_var(const sde_model *m, int k) { return m->h * sde_g2(m, pf_tau(m, k)); }

/* P_F's mean at s (index k >= 1, batch-wide): s (1 - h c(tau_k)) + h g(tau_k)^2 s_theta(s, t_k). [B, D] */
static ug_tensor *pf_mean(const sde_model *m, ug_ctx *ctx, ug_tensor *s, int k) {
    double tau = pf_tau(m, k);
    ug_tensor *sc = sde_score_t(m, ctx, s, ugm_fill_rows(ctx, s->shape[0], (float)m->t[k]));  // [B, D]
    return ug_add(ctx, ug_mul_scalar(ctx, s, (float)(1.0 - m->h * sde_fcoef(m, tau))),
                  ug_mul_scalar(ctx, sc, (float)(m->h * sde_g2(m, tau))));
}

/* Step k's terms from s (index k) and sp (index k+1); either output may be skipped (NULL). */
static void step_terms(const sde_model *m, ug_ctx *ctx, ug_tensor *s, ug_tensor *sp, int k, ug_tensor **lpf,
                       ug_tensor **lpb) {
    int64_t B = sp->shape[0];
    if (k == 0) {
        if (lpf) *lpf = normal_lp(ctx, sp, ug_scalar(ctx, 0.0f), sde_prior_var(m));  // [B]
        if (lpb) *lpb = ug_zeros(ctx, 1, &B);                                       // the root is s_1's only parent
        return;
    }
    if (lpf) *lpf = normal_lp(ctx, sp, pf_mean(m, ctx, s, k), pf_var(m, k));  // [B]
    if (lpb) *lpb = normal_lp(ctx, s, ug_mul_scalar(ctx, sp, (float)m->a[k]), m->v[k]);   // [B]
}

/* Preallocated per-step outputs for the scoped (grad off) samplers: states and [B] terms. */
static bool prealloc(const sde_model *m, ug_ctx *ctx, ug_traj *out, int steps, uint32_t flags) {
    ug_tensor **states = out->extra;
    int64_t B = out->batch, sh[2] = {B, m->D};
    for (int i = 0; i <= steps; i++)
        if (!(states[i] = ug_zeros(ctx, 2, sh))) return false;
    for (int i = 0; i < steps; i++) {
        if (!(flags & UG_TRAJ_NO_PF) && !(out->log_pf[i] = ug_zeros(ctx, 1, &B))) return false;
        if (!(flags & UG_TRAJ_NO_PB) && !(out->log_pb[i] = ug_zeros(ctx, 1, &B))) return false;
    }
    return true;
}

/* End of one scoped step: copy what the trajectory keeps into the preallocated tensors, then drop
 * the step's activations (a no-op when tape nodes were recorded: the flow parameterization). */
static void keep_step(ug_ctx *ctx, ug_mark mk, ug_tensor *dst_s, ug_tensor *s, ug_tensor *dst_pf, ug_tensor *pf,
                      ug_tensor *dst_pb, ug_tensor *pb) {
    ug_copy_into(ctx, dst_s, s);
    if (dst_pf && pf) ug_copy_into(ctx, dst_pf, pf);
    if (dst_pb && pb) ug_copy_into(ctx, dst_pb, pb);
    ug_arena_release(ctx, mk);
}

/* ---- sampling ---- */

static ug_status sde_sample_forward(void *self, ug_ctx *ctx, ug_rng *rng, const ug_traj_req *req, ug_traj *out) {
    sde_model *m = self;
    int n = m->T + 1;
    int i0 = req->start ? req->start_index : 0;
    if (req->start && !check_states(m, ctx, req->start, "sample_forward")) return ug_ctx_status(ctx);
    int64_t B = req->start ? req->start->shape[0] : req->batch;
    if (B <= 0) return ug_ctx_fail(ctx, UG_ERR_ARG, WHO ".sample_forward: batch %lld", (long long)B);
    int steps = req->steps < 0 ? n - i0 : req->steps;
    if (i0 < 0 || steps < 0 || i0 + steps > n)
        return ug_ctx_fail(ctx, UG_ERR_ARG, WHO ".sample_forward: %d steps from index %d (horizon %d)", steps, i0, n);
    if (req->explore > 0)
        return ug_ctx_fail(ctx, UG_ERR_UNSUPPORTED, WHO ".sample_forward: explore is for finite action sets");
    uint32_t fl = req->flags;
    bool reparam = fl & UG_TRAJ_REPARAM;
    double temp = req->temperature > 0 ? req->temperature : 1.0;  /* Gaussian variances x T */
    int64_t sh[2] = {B, m->D};
    ug_tensor *s = req->start ? req->start : ug_zeros(ctx, 2, sh);  // [B, D]
    if (!s || ugm_traj_alloc(ctx, out, B, i0, steps, WHO ".sample_forward")) return ug_ctx_status(ctx);
    ug_tensor **states = out->extra;
    bool scoped = !ug_grad_enabled(ctx) && !reparam;
    if (scoped && !prealloc(m, ctx, out, steps, fl)) return ug_ctx_status(ctx);
    if (scoped) ug_copy_into(ctx, states[0], s);
    else states[0] = s;
    s = states[0];
    for (int j = 0; j < steps; j++) {
        int k = i0 + j;
        ug_mark mk = ug_arena_mark(ctx);
        ug_tensor *mean, *sp;
        double var;
        if (k == 0) {
            mean = ug_zeros(ctx, 2, sh);
            var = sde_prior_var(m);
        } else {
            mean = pf_mean(m, ctx, s, k);  // [B, D]
            var = pf_var(m, k);
        }
        ug_tensor *eps = ug_rand_normal(ctx, rng, 2, sh);  // [B, D]
        sp = ug_add(ctx, reparam ? mean : ug_detach(ctx, mean), ug_mul_scalar(ctx, eps, (float)sqrt(var * temp)));
        ug_tensor *lpf = NULL, *lpb = NULL;
        if (!(fl & UG_TRAJ_NO_PF)) lpf = normal_lp(ctx, sp, mean, var);  // [B] untempered (model.h)
        if (!(fl & UG_TRAJ_NO_PB)) step_terms(m, ctx, s, sp, k, NULL, &lpb);
        if (ug_ctx_status(ctx)) return ug_ctx_status(ctx);
        if (scoped) {
            keep_step(ctx, mk, states[j + 1], sp, out->log_pf[j], lpf, out->log_pb[j], lpb);
        } else {
            states[j + 1] = sp;
            out->log_pf[j] = lpf;
            out->log_pb[j] = lpb;
        }
        s = states[j + 1];
    }
    out->first = states[0];
    out->last = s;
    ugm_traj_finish(out, fl);
    return ug_ctx_status(ctx);
}

/* s_k ~ P_B(s_k | x) for each row's k: A_k x + sqrt(V_k) eps (the root, k = 0, is zeros). */
static ug_status sample_anchor(sde_model *m, ug_ctx *ctx, ug_rng *rng, const ug_traj_req *req, ug_traj *out) {
    int64_t B = req->start->shape[0], sh[2] = {B, m->D};
    int n = m->T + 1;
    if (!ugm_check_rows(ctx, req->row_index, B, WHO ".sample_backward(anchor)")) return ug_ctx_status(ctx);
    ug_tensor *oh = ug_one_hot(ctx, req->row_index, n);  // [B, T+1]; fails outside 0..T
    double *sd = ug_arena_alloc(ctx, sizeof(double) * (size_t)n);  /* sqrt V_k */
    if (!sd) return ug_ctx_status(ctx);
    for (int k = 0; k < n; k++) sd[k] = sqrt(m->V[k]);
    ug_tensor *ar = sde_rows(ctx, oh, m->A, n), *sr = sde_rows(ctx, oh, sd, n);  // [B, 1]
    ug_tensor *eps = ug_rand_normal(ctx, rng, 2, sh);                             // [B, D]
    ug_tensor *s = ug_add(ctx, ug_mul(ctx, req->start, ar), ug_mul(ctx, eps, sr));  // [B, D]
    if (!(req->flags & UG_TRAJ_REPARAM)) s = ug_detach(ctx, s);
    *out = (ug_traj){.size = out->size, .batch = B, .start = -1, .steps = 0, .first = s, .last = s};
    return ug_ctx_status(ctx);
}

static ug_status sde_sample_backward(void *self, ug_ctx *ctx, ug_rng *rng, const ug_traj_req *req, ug_traj *out) {
    sde_model *m = self;
    int n = m->T + 1;
    if (!check_states(m, ctx, req->start, "sample_backward")) return ug_ctx_status(ctx);
    int j0 = req->start_index;
    if (req->flags & UG_TRAJ_ANCHOR) {
        if (j0 != n || req->size <= offsetof(ug_traj_req, row_index))
            return ug_ctx_fail(ctx, UG_ERR_ARG, WHO ".sample_backward: an anchored request starts at x (index %d), "
                               "with row_index", n);
        return sample_anchor(m, ctx, rng, req, out);
    }
    int steps = req->steps < 0 ? j0 : req->steps;
    if (j0 < 0 || j0 > n || steps < 0 || steps > j0)
        return ug_ctx_fail(ctx, UG_ERR_ARG, WHO ".sample_backward: %d steps from index %d (horizon %d)", steps, j0, n);
    uint32_t fl = req->flags;
    bool reparam = fl & UG_TRAJ_REPARAM;
    int64_t B = req->start->shape[0], sh[2] = {B, m->D};
    if (ugm_traj_alloc(ctx, out, B, j0 - steps, steps, WHO ".sample_backward")) return ug_ctx_status(ctx);
    ug_tensor **states = out->extra;
    bool scoped = !ug_grad_enabled(ctx) && !reparam;
    if (scoped && !prealloc(m, ctx, out, steps, fl)) return ug_ctx_status(ctx);
    if (scoped) ug_copy_into(ctx, states[steps], req->start);
    else states[steps] = req->start;
    ug_tensor *sp = states[steps];
    for (int i = 0; i < steps; i++) {
        int k = j0 - 1 - i, local = steps - 1 - i;  // step k: s_k <- s_{k+1} = sp
        ug_mark mk = ug_arena_mark(ctx);
        ug_tensor *s;
        if (k == 0) {
            s = ug_zeros(ctx, 2, sh);  // [B, D] the root
        } else {
            ug_tensor *eps = ug_rand_normal(ctx, rng, 2, sh);  // [B, D]
            s = ug_add(ctx, ug_mul_scalar(ctx, sp, (float)m->a[k]), ug_mul_scalar(ctx, eps, (float)sqrt(m->v[k])));
            if (!reparam) s = ug_detach(ctx, s);
        }
        ug_tensor *lpf = NULL, *lpb = NULL;
        step_terms(m, ctx, s, sp, k, (fl & UG_TRAJ_NO_PF) ? NULL : &lpf, (fl & UG_TRAJ_NO_PB) ? NULL : &lpb);
        if (ug_ctx_status(ctx)) return ug_ctx_status(ctx);
        if (scoped) {
            keep_step(ctx, mk, states[local], s, out->log_pf[local], lpf, out->log_pb[local], lpb);
        } else {
            states[local] = s;
            out->log_pf[local] = lpf;
            out->log_pb[local] = lpb;
        }
        sp = states[local];
    }
    out->first = states[0];
    out->last = states[steps];
    ugm_traj_finish(out, fl);
    return ug_ctx_status(ctx);
}

/* Recompute the terms from the recorded states (traj->states, or the copy kept in extra). */
static ug_status sde_rescore(void *self, ug_ctx *ctx, ug_traj *traj, uint32_t flags) {
    sde_model *m = self;
    ug_tensor **states = traj->states ? traj->states : traj->extra;
    if (!states || traj->start < 0 || traj->start + traj->steps > m->T + 1)
        return ug_ctx_fail(ctx, UG_ERR_ARG, WHO ".rescore: needs the trajectory's states (sample with KEEP_STATES)");
    size_t np = sizeof(ug_tensor *) * (size_t)(traj->steps > 0 ? traj->steps : 1);
    if (!traj->log_pf && !(traj->log_pf = ug_arena_alloc(ctx, np))) return ug_ctx_fail(ctx, UG_ERR_NOMEM, WHO ".rescore");
    if (!traj->log_pb && !(traj->log_pb = ug_arena_alloc(ctx, np))) return ug_ctx_fail(ctx, UG_ERR_NOMEM, WHO ".rescore");
    for (int j = 0; j < traj->steps; j++) {
        int k = traj->start + j;
        if (!check_states(m, ctx, states[j], "rescore") || !check_states(m, ctx, states[j + 1], "rescore"))
            return ug_ctx_status(ctx);
        step_terms(m, ctx, states[j], states[j + 1], k, (flags & UG_TRAJ_NO_PF) ? NULL : &traj->log_pf[j],
                   (flags & UG_TRAJ_NO_PB) ? NULL : &traj->log_pb[j]);
    }
    return ug_ctx_status(ctx);
}

/* ---- closed forms ---- */

/* step_kl (header comment): x, s [B, D], k [B] I32 in 0..T -> [B]. */
static ug_tensor *sde_step_kl(void *self, ug_ctx *ctx, ug_tensor *x, ug_tensor *s, ug_tensor *k) {
    sde_model *m = self;
    if (!check_states(m, ctx, x, "step_kl") || !check_states(m, ctx, s, "step_kl")) return NULL;
    int64_t B = x->shape[0];
    int T = m->T, n = T + 1;
    if (s->shape[0] != B || !ugm_check_rows(ctx, k, B, WHO ".step_kl")) {
        if (!ug_ctx_status(ctx)) ug_ctx_fail(ctx, UG_ERR_ARG, WHO ".step_kl: x and s_k have different rows");
        return NULL;
    }
    double *tab = ug_arena_alloc(ctx, sizeof(double) * 6 * (size_t)n);
    if (!tab) return NULL;
    double *cst = tab, *w = tab + n, *px = tab + 2 * n, *ps = tab + 3 * n, *mus = tab + 4 * n, *mug = tab + 5 * n;
    const double D = (double)m->D, P = sde_prior_var(m);
    for (int j = 0; j < n; j++) {
        if (j == 0) {  /* the prior step: q(s_1 | x) = N(A_1 x, V_1) against N(0, P) */
            cst[j] = 0.5 * D * (m->V[1] / P - 1 + log(P / m->V[1]));
            w[j] = 0.5 / P;
            px[j] = m->A[1], ps[j] = 0, mus[j] = 0, mug[j] = 0;
            continue;
        }
        double sf2 = pf_var(m, j);
        w[j] = 0.5 / sf2;
        mus[j] = 1.0 - m->h * sde_fcoef(m, pf_tau(m, j));
        mug[j] = sf2;
        if (j == T) {  /* q is the point mass at x: the term is -log P_F(x | s_T) */
            cst[j] = 0.5 * D * log(2 * M_PI * sf2);
            px[j] = 1, ps[j] = 0;
        } else {
            double pv = m->v[j] * m->V[j + 1] / m->V[j];
            cst[j] = 0.5 * D * (pv / sf2 - 1 + log(sf2 / pv));
            px[j] = m->v[j] * m->A[j + 1] / m->V[j];
            ps[j] = m->a[j] * m->V[j + 1] / m->V[j];
        }
    }
    ug_tensor *oh = ug_one_hot(ctx, k, n);  // [B, T+1]; fails outside 0..T
    ug_tensor *tr = sde_rows(ctx, oh, m->t, n);  // [B, 1] t_k (1 at the root: finite, multiplied by 0)
    int64_t b1[1] = {B};
    ug_tensor *sc = sde_score_t(m, ctx, s, ug_reshape(ctx, tr, 1, b1));  // [B, D]
    ug_tensor *mean_q = ug_add(ctx, ug_mul(ctx, x, sde_rows(ctx, oh, px, n)), ug_mul(ctx, s, sde_rows(ctx, oh, ps, n)));
    ug_tensor *mu = ug_add(ctx, ug_mul(ctx, s, sde_rows(ctx, oh, mus, n)), ug_mul(ctx, sc, sde_rows(ctx, oh, mug, n)));
    ug_tensor *d2 = ug_sum(ctx, ug_square(ctx, ug_sub(ctx, mean_q, mu)), 1, true);  // [B, 1]
    ug_tensor *term = ug_add(ctx, ug_mul(ctx, d2, sde_rows(ctx, oh, w, n)), sde_rows(ctx, oh, cst, n));  // [B, 1]
    return ug_reshape(ctx, term, 1, b1);  // [B]
}

/* ---- capabilities ---- */

static ug_tensor *sde_score(void *self, ug_ctx *ctx, ug_tensor *x, ug_tensor *t) {
    sde_model *m = self;
    char b[64];
    if (!check_states(m, ctx, x, "score")) return NULL;
    if (!t || t->ndim != 1 || t->shape[0] != x->shape[0] || t->dtype != UG_F32) {
        ug_ctx_fail(ctx, UG_ERR_ARG, WHO ".score: t must be F32 [%lld] (indices), got %s", (long long)x->shape[0],
                    t ? ug_shape_str(t, b, sizeof b) : "NULL");
        return NULL;
    }
    return sde_score_t(m, ctx, x, sde_time_of_index(m, ctx, t));  // [B, D]
}

static ug_tensor *sde_log_flow(void *self, ug_ctx *ctx, ug_tensor *s, int32_t index) {
    sde_model *m = self;
    if (!m->has_flow) {
        ug_ctx_fail(ctx, UG_ERR_UNSUPPORTED, WHO ".log_flow: needs score_param: flow or flow_head: true");
        return NULL;
    }
    if (!check_states(m, ctx, s, "log_flow")) return NULL;
    int64_t B = s->shape[0];
    if (index < 0 || index > m->T + 1) {
        ug_ctx_fail(ctx, UG_ERR_ARG, WHO ".log_flow: index %d outside 0..%d", (int)index, m->T + 1);
        return NULL;
    }
    if (index == 0) return ug_expand(ctx, m->log_z, 1, &B);                      // [B] log Z
    return sde_log_f(m, ctx, s, ugm_fill_rows(ctx, B, (float)m->t[index]));      // [B]
}

static ug_tensor *sde_log_z(void *self, ug_ctx *ctx) {
    sde_model *m = self;
    if (!m->log_z) ug_ctx_fail(ctx, UG_ERR_UNSUPPORTED, WHO ".log_z: needs score_param: flow or flow_head: true");
    return m->log_z;
}

static void sde_info(void *self, ug_model_info *out) {
    sde_model *m = self;
    out->space = (ug_space){.kind = UG_SPACE_CONTINUOUS, .dim = m->D};
    out->horizon = m->T + 1;
    out->variable_length = false;
    out->deterministic_pb = false;
    out->caps = UG_CAP_SCORE | UG_CAP_PARTIAL | UG_CAP_REPARAM | UG_CAP_REPARAM_B | UG_CAP_ANCHOR | UG_CAP_STEP_KL;
    if (m->has_flow) out->caps |= UG_CAP_LOG_FLOW | UG_CAP_LOG_Z;
}

/* ---- create / destroy ---- */

/* The time grid and the chain's per-step and marginal coefficients (sde.h). */
static bool build_tables(sde_model *m) {
    int T = m->T, n = T + 2;
    double *buf = calloc((size_t)n * 5, sizeof(double));
    if (!buf) return false;
    m->t = buf, m->a = buf + n, m->v = buf + 2 * n, m->A = buf + 3 * n, m->V = buf + 4 * n;
    m->t[0] = 1.0;
    for (int k = 1; k <= T + 1; k++) m->t[k] = 1.0 - (double)(k - 1) / T;
    m->t[T + 1] = 0.0;
    m->A[T + 1] = 1.0, m->V[T + 1] = 0.0;
    for (int k = T; k >= 1; k--) {
        double tp = m->t[k + 1];  /* P_B's EM step starts at s_{k+1}'s time */
        m->a[k] = 1.0 + m->h * sde_fcoef(m, tp);
        m->v[k] = m->h * sde_g2(m, tp);
        m->A[k] = m->a[k] * m->A[k + 1];
        m->V[k] = m->a[k] * m->a[k] * m->V[k + 1] + m->v[k];
    }
    return true;
}

static void sde_destroy(void *self) {
    sde_model *m = self;
    if (!m) return;
    free(m->t);
    free(m);
}

static void *sde_create(const ug_create_args *args, ug_error *err) {
    const ug_cfg *c = args->cfg;
    sde_model *m = calloc(1, sizeof *m);
    if (!m) {
        ug_error_set(err, UG_ERR_NOMEM, WHO ": out of memory");
        return NULL;
    }
    int64_t dim = ug_cfg_int(c, "dim", 0);
    if (args->data) {
        const ug_space *sp = &args->data->info.space;
        if (sp->kind != UG_SPACE_CONTINUOUS || (dim && dim != sp->dim)) {
            ug_error_set(err, UG_ERR_ARG, WHO ": dataset '%s' must be continuous%s (kind %u, D = %lld)",
                         args->data->name ? args->data->name : "?", dim ? " of dimension `dim`" : "", sp->kind,
                         (long long)sp->dim);
            goto fail;
        }
        dim = sp->dim;
    }
    if (dim < 1) {
        ug_error_set(err, UG_ERR_ARG, WHO ": without a dataset, set dim >= 1");
        goto fail;
    }
    m->D = dim;
    m->T = (int)ug_cfg_int(c, "steps", 100);
    m->h = 1.0 / m->T;
    m->kind = strcmp(ug_cfg_str(c, "sde", "vp"), "ve") == 0 ? SDE_VE : SDE_VP;
    m->beta_min = ug_cfg_float(c, "beta_min", 0.1);
    m->beta_max = ug_cfg_float(c, "beta_max", 20);
    m->sigma_min = ug_cfg_float(c, "sigma_min", 0.01);
    m->sigma_max = ug_cfg_float(c, "sigma_max", 10);
    m->param = strcmp(ug_cfg_str(c, "score_param", "net"), "flow") == 0 ? SDE_PARAM_FLOW : SDE_PARAM_NET;
    m->scale_by_sigma = ug_cfg_bool(c, "scale_by_sigma", true) && m->param == SDE_PARAM_NET;
    bool head = ug_cfg_bool(c, "flow_head", false);
    m->pf_end = strcmp(ug_cfg_str(c, "pf_time", "start"), "end") == 0;
    if (m->kind == SDE_VP && !(m->beta_max >= m->beta_min)) {
        ug_error_set(err, UG_ERR_ARG, WHO ": beta_max (%g) must be >= beta_min (%g)", m->beta_max, m->beta_min);
        goto fail;
    }
    if (m->kind == SDE_VE && !(m->sigma_max > m->sigma_min)) {
        ug_error_set(err, UG_ERR_ARG, WHO ": sigma_max (%g) must exceed sigma_min (%g)", m->sigma_max, m->sigma_min);
        goto fail;
    }
    if (head && m->param == SDE_PARAM_FLOW) {
        ug_error_set(err, UG_ERR_ARG, WHO ": flow_head is for score_param: net (the flow parameterization is its own flow)");
        goto fail;
    }
    /* VP with a large beta h: a_k = 1 - h beta / 2 must stay positive for the chain to be a contraction */
    if (m->kind == SDE_VP && !(0.5 * m->h * m->beta_max < 1.0)) {
        ug_error_set(err, UG_ERR_ARG, WHO ": h beta_max / 2 = %g >= 1: take more steps", 0.5 * m->h * m->beta_max);
        goto fail;
    }
    ug_act act;
    if (ug_act_from_name(ug_cfg_str(c, "act", "silu"), &act)) {
        ug_error_set(err, UG_ERR_ARG, WHO ": unknown act '%s'", ug_cfg_str(c, "act", "?"));
        goto fail;
    }
    int64_t hidden[UG_MLP_MAX_LAYERS];
    int nh = ug_cfg_ints(c, "hidden", hidden, UG_MLP_MAX_LAYERS);
    if (nh > UG_MLP_MAX_LAYERS - 1) {
        ug_error_set(err, UG_ERR_ARG, WHO ": %d hidden layers (at most %d)", nh, UG_MLP_MAX_LAYERS - 1);
        goto fail;
    }
    if (nh < 0) nh = 0;
    int64_t temb = ug_cfg_int(c, "temb", 32);
    float ts = (float)ug_cfg_float(c, "t_scale", 100);
    if (!build_tables(m)) {
        ug_error_set(err, UG_ERR_NOMEM, WHO ": out of memory for the time grid");
        goto fail;
    }
    ug_params *P = args->params;
    ug_status st;
    if (m->param == SDE_PARAM_NET) {
        st = ugm_time_mlp_init(&m->net, P, "forward", "score", m->D, m->D, temb, ts, hidden, nh, act, args->rng);
        if (!st && head) st = ugm_time_mlp_init(&m->flow, P, "flow", "flow", m->D, 1, temb, ts, hidden, nh, act, args->rng);
    } else {
        st = ugm_time_mlp_init(&m->net, P, "flow", "flow", m->D, 1, temb, ts, hidden, nh, act, args->rng);
    }
    m->has_flow = head || m->param == SDE_PARAM_FLOW;
    if (!st && m->has_flow && !(m->log_z = ug_param(P, "logZ", "logZ", 0, NULL))) st = ug_params_status(P);
    if (st || ug_params_finalize(P)) {
        ug_error_set(err, UG_ERR_ARG, WHO ": %s", ug_params_errmsg(P));
        goto fail;
    }
    return m;
fail:
    sde_destroy(m);
    return NULL;
}

static const ug_model_vtable sde_vt = {
    .size = sizeof(ug_model_vtable),
    .info = sde_info,
    .sample_forward = sde_sample_forward,
    .sample_backward = sde_sample_backward,
    .rescore = sde_rescore,
    .log_flow = sde_log_flow,
    .score = sde_score,
    .log_z = sde_log_z,
    .step_kl = sde_step_kl,
};

const ug_plugin_desc sde_model_desc = {
    UG_DESC_HEADER(UG_KIND_MODEL),
    .name = "score_sde",
    .version = "0.1.0",
    .summary = "ScoreSDE (VP/VE): Euler–Maruyama reverse SDE with a score network as P_F, the forward SDE as P_B",
    .params = sde_params,
    .create = sde_create,
    .destroy = sde_destroy,
    .vtable = &sde_vt,
};

extern const ug_plugin_desc sde_dsm_desc, sde_ode_desc;
UG_PLUGIN_EXPORT(&sde_model_desc, &sde_dsm_desc, &sde_ode_desc)
