/* sde.h — what the three parts of the score_sde module share: the model's state (the SDE, its time
 * grid and the discrete chain's closed forms), the continuous-time coefficients, and the score network.
 * score_sde.c is the model, dsm.c the denoising-score-matching objective and pf_ode_nll.c the
 * probability-flow likelihood; all three are one shared module, so dsm and pf_ode_nll may read the
 * model's struct (they refuse any model not named "score_sde").
 *
 * The SDE (Song et al. 2021), time t in [0, 1], data at t = 0:
 *   VP:  dx = -1/2 beta(t) x dt + sqrt(beta(t)) dw,   beta(t) = beta_min + t (beta_max - beta_min)
 *   VE:  dx = g(t) dw,  g(t)^2 = d sigma(t)^2 / dt = 2 sigma(t)^2 ln(sigma_max / sigma_min),
 *        sigma(t) = sigma_min (sigma_max / sigma_min)^t
 * so f(x, t) = c(t) x with c = -beta/2 (VP) or 0 (VE): the drift is linear, which is what makes the
 * Euler–Maruyama chain linear-Gaussian and its marginals closed-form.
 *
 * Orientation (docs/families.md §7): GFlowNet index k <-> t_k = 1 - (k-1)/T for k = 1..T+1, h = 1/T;
 * s_1 at t = 1 is drawn from the prior by the root step, s_{T+1} = x at t = 0. P_F is the EM step of
 * the reverse SDE (toward the data), P_B the EM step of the forward SDE (toward the noise):
 *   P_F(s_{k+1} | s_k) = N(s_k + h [g(tau)^2 s_theta(s_k, t_k) - f(s_k, tau)], h g(tau)^2 I)  k >= 1, tau = t_k
 *                        (pf_time: start) or t_{k+1} (end; score_sde.c)
 *   P_B(s_k | s_{k+1}) = N(a_k s_{k+1}, v_k I),  a_k = 1 + h c(t_{k+1}),  v_k = h g(t_{k+1})^2     k >= 1
 *
 * The discrete chain's marginal (exact for this model, not the continuous SDE's):
 *   P_B(s_k | x) = N(A_k x, V_k I),  A_{T+1} = 1, V_{T+1} = 0,  A_k = a_k A_{k+1},  V_k = a_k^2 V_{k+1} + v_k,
 * and its forward posterior, by Bayes on s_{k+1} ~ N(A_{k+1} x, V_{k+1}) and s_k | s_{k+1} ~ P_B:
 *   q(s_{k+1} | s_k, x) = N((v_k A_{k+1} x + a_k V_{k+1} s_k) / V_k,  v_k V_{k+1} / V_k I),
 * the point mass at x for k = T (V_{T+1} = 0). */
#ifndef UG_SCORE_SDE_H
#define UG_SCORE_SDE_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "../cont_common.h"

enum { SDE_VP = 0, SDE_VE = 1 };
enum { SDE_PARAM_NET = 0, SDE_PARAM_FLOW = 1 };

/* Below this t the marginal std of VP is 0 at t = 0; scale_by_sigma divides by it, so t is clamped
 * there (Song et al.'s eps = 1e-5). The chain never evaluates the score at t = 0 (its last P_F step
 * uses t_T = h), only a caller asking for index T+1 or an ODE started at t = 0 would. */
#define SDE_T_FLOOR 1e-5

typedef struct sde_model {
    int64_t D;
    int T;                  /* steps: horizon T + 1 */
    int kind;               /* SDE_VP / SDE_VE */
    double beta_min, beta_max, sigma_min, sigma_max, h;
    int param;              /* SDE_PARAM_NET: s = net(x, t) [/ sigma(t)];  FLOW: s = grad_x log F(x, t) */
    bool scale_by_sigma;    /* net only: s = net / sigma(t) (Song et al.'s noise-conditional scaling) */
    bool pf_end;            /* pf_time: end (P_F's f and g at t_{k+1}; score_sde.c) */
    bool has_flow;          /* log_flow available: flow parameterization, or a separate flow head */
    ugm_time_mlp net;       /* score network (net) or log F network (flow; group "flow") */
    ugm_time_mlp flow;      /* flow head [B, 1] (net + flow_head; group "flow") */
    ug_tensor *log_z;       /* [] group "logZ" when has_flow */
    /* per index k = 0 .. T+1 (host): */
    double *t;              /* t_k (t_0 := 1, the root has no time) */
    double *a, *v;          /* P_B step k: mean factor and variance (k = 1..T) */
    double *A, *V;          /* marginal P_B(s_k | x) = N(A_k x, V_k I); A_0 = V_0 = 0 (root) */
} sde_model;

/* ---- continuous-time coefficients (host) ---- */
static inline double sde_beta(const sde_model *m, double t) { return m->beta_min + t * (m->beta_max - m->beta_min); }
static inline double sde_sigma_ve(const sde_model *m, double t) { return m->sigma_min * pow(m->sigma_max / m->sigma_min, t); }
/* g(t)^2 */
static inline double sde_g2(const sde_model *m, double t) {
    if (m->kind == SDE_VP) return sde_beta(m, t);
    double s = sde_sigma_ve(m, t);
    return 2.0 * s * s * log(m->sigma_max / m->sigma_min);
}
/* f(x, t) = c(t) x */
static inline double sde_fcoef(const sde_model *m, double t) { return m->kind == SDE_VP ? -0.5 * sde_beta(m, t) : 0.0; }
/* The prior of the root step: N(0, prior_var I) (VP 1, VE sigma_max^2). */
static inline double sde_prior_var(const sde_model *m) { return m->kind == SDE_VP ? 1.0 : m->sigma_max * m->sigma_max; }
/* integral_0^t beta (VP). */
static inline double sde_int_beta(const sde_model *m, double t) {
    return m->beta_min * t + 0.5 * (m->beta_max - m->beta_min) * t * t;
}

/* ---- tensors ---- */

/* The network's input time: t [B] F32 -> itself; kept in one place so every caller agrees. */

/* sigma(t) [B] for scale_by_sigma: VP the marginal std sqrt(1 - exp(-int beta)), written as
 * tanh(u/2) (1 + exp(-u)) so it stays accurate for small t in float; VE sigma_min (max/min)^t. */
static inline ug_tensor *sde_sigma_t(const sde_model *m, ug_ctx *ctx, ug_tensor *t) {
    ug_tensor *tc = ug_clamp(ctx, t, (float)SDE_T_FLOOR, INFINITY);  // [B]
    if (m->kind == SDE_VE)
        return ug_mul_scalar(ctx, ug_exp(ctx, ug_mul_scalar(ctx, tc, (float)log(m->sigma_max / m->sigma_min))),
                             (float)m->sigma_min);  // [B]
    ug_tensor *u = ug_add(ctx, ug_mul_scalar(ctx, tc, (float)m->beta_min),
                          ug_mul_scalar(ctx, ug_square(ctx, tc), (float)(0.5 * (m->beta_max - m->beta_min))));  // [B]
    ug_tensor *var = ug_mul(ctx, ug_tanh(ctx, ug_mul_scalar(ctx, u, 0.5f)), ug_add_scalar(ctx, ug_exp(ctx, ug_neg(ctx, u)), 1.0f));
    return ug_sqrt(ctx, var);  // [B]
}

/* log F(x, t) [B] of the flow network (flow parameterization) or the flow head. */
static inline ug_tensor *sde_log_f(const sde_model *m, ug_ctx *ctx, ug_tensor *x, ug_tensor *t) {
    const ugm_time_mlp *n = m->param == SDE_PARAM_FLOW ? &m->net : &m->flow;
    int64_t B = x->shape[0];
    return ug_reshape(ctx, ugm_time_mlp_forward(ctx, n, x, t), 1, &B);  // [B]
}

/* The score s(x, t) [B, D] at continuous times t [B] (F32), differentiable in x and in the parameters
 * to second order when grad is on. The flow parameterization differentiates log F with create_graph;
 * with grad off (sampling, evaluation) it turns grad on for that and returns a constant. */
static inline ug_tensor *sde_score_t(const sde_model *m, ug_ctx *ctx, ug_tensor *x, ug_tensor *t) {
    if (m->param == SDE_PARAM_NET) {
        ug_tensor *out = ugm_time_mlp_forward(ctx, &m->net, x, t);  // [B, D]
        if (!m->scale_by_sigma) return out;
        int64_t sh[2] = {x->shape[0], 1};
        return ug_div(ctx, out, ug_reshape(ctx, sde_sigma_t(m, ctx, t), 2, sh));  // [B, D]
    }
    bool on = ug_grad_enabled(ctx);
    if (!on) ug_set_grad_enabled(ctx, true);
    /* differentiate w.r.t. x itself when it is already a variable (sliced score matching's x-hat, a
     * reparameterized state), so the score stays a function of it; otherwise w.r.t. a fresh leaf */
    ug_tensor *xv = x->requires_grad && on ? x : ug_requires_grad(ctx, ug_detach(ctx, x));  // [B, D]
    ug_tensor *lf = sde_log_f(m, ctx, xv, t);  // [B]
    ug_tensor *g = NULL;
    if (lf) ug_grad(ctx, ug_sum_all(ctx, lf), &xv, 1, &g, on);
    if (!on) {
        ug_set_grad_enabled(ctx, false);
        g = g ? ug_detach(ctx, g) : NULL;
    }
    return g;  // [B, D]
}

/* t_k [B] for float indices k [B]: t = (T + 1 - k) / T. */
static inline ug_tensor *sde_time_of_index(const sde_model *m, ug_ctx *ctx, ug_tensor *k) {
    return ug_rsub_scalar(ctx, ug_mul_scalar(ctx, k, (float)(1.0 / m->T)), (float)((m->T + 1.0) / m->T));
}

/* One table value per row: one_hot(k) [B, n] @ column [n, 1] -> [B, 1]. */
static inline ug_tensor *sde_rows(ug_ctx *ctx, ug_tensor *onehot, const double *v, int64_t n) {
    float buf[4096];
    float *p = n <= 4096 ? buf : ug_arena_alloc(ctx, (size_t)n * sizeof(float));
    if (!p) return NULL;
    for (int64_t i = 0; i < n; i++) p[i] = (float)v[i];
    return ugm_by_row(ctx, onehot, ugm_column(ctx, p, n));  // [B, 1]
}

#endif
