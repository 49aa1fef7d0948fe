/* ddpm.h — what the files of the DDPM plugin share: the model object, its schedules and the step
 * densities that the sampler (ddpm.c), the closed forms (ddpm_steps.c) and the L_simple objective
 * (ddpm_simple.c) all use. One shared module holds the model "ddpm" and the objective "ddpm_simple".
 *
 * The family (docs/families.md §5; paper §3.2.1, Eq. 7-8, Prop. 4, §4.3). With T noise levels:
 *   root s_0; s_k = x_{T+1-k} in Ho et al.'s index for k = 1..T, [B, D]; x = s_{T+1}; horizon T+1.
 *   β_k = β̄_k exp(φ_k) clamped to <= 0.999 (β̄_k = Ho's β_{T+1-k}, φ in group "backward", 0 at start);
 *   ᾱ_k = Π_{j >= k} (1 - β_j), the signal level of s_k (Ho's ᾱ_t at t = T+1-k); ᾱ_{T+1} = 1.
 *   P_F step 0:        N(s_1; 0, I)                                                   (the prior)
 *   P_F step k >= 1:   N(s_{k+1}; μ_θ(s_k, k), σ²_k I),
 *                      μ_θ = (s_k - β_k/√(1-ᾱ_k) ε_θ(s_k, t)) / √(1-β_k),  t = T+1-k (Ho's t)
 *                      at k = T a density of x: Gaussian for continuous x, the discretized Gaussian
 *                      of dist.h on the bins of c(x) for binary / categorical x.
 *   P_B step k >= 1:   N(s_k; √(1-β_k) s_{k+1}, β_k I), with c(x) in place of s_{T+1};  log_pb[0] = 0.
 * c(x) = x / x_scale for continuous x (log P_F of x then carries -D log x_scale, the Jacobian, so
 * densities stay those of x), 2x/(K-1) - 1 for K categories (binary: K = 2).
 *
 * Inside P_F, β and ᾱ are host copies (no graph): the learned schedule by default (pf_beta: learned),
 * or β̄ itself (pf_beta: fixed). P_F therefore never depends on φ through the tape, which keeps the
 * groups disjoint and makes Prop. 14 literal for TBC. σ²_k (pf_var) is β_k, the posterior variance
 * β̃_k = (1-ᾱ_{k+1})/(1-ᾱ_k) β_k (β̃_T := β̃_{T-1}, as Ho's and iDDPM's clipped log-variance), or
 * iDDPM's learned interpolation log σ² = f log β_k + (1-f) log β̃_k, f = (v+1)/2 with v a second D-wide
 * output of the ε-network. */
#ifndef DDPM_H
#define DDPM_H

#ifndef UG_PLUGIN
#error "define UG_PLUGIN before including ddpm.h"
#endif
#include "unigfn/plugin.h"

#include "../cont_common.h"

typedef enum ddpm_var { DDPM_VAR_BETA = 0, DDPM_VAR_POSTERIOR, DDPM_VAR_LEARNED } ddpm_var;

typedef struct ddpm {
    int64_t D;
    int T;                  /* noise levels; horizon T+1 */
    uint32_t kind;          /* ug_space_kind of x */
    int64_t K;              /* categories of a discrete x (binary: 2); 0 for continuous */
    float x_scale;          /* continuous x: c(x) = x / x_scale */
    ddpm_var var;
    bool pf_fixed;          /* pf_beta: fixed (P_F uses β̄, not the learned β) */
    double *beta_bar;       /* [T + 1]: β̄_k at k = 1..T ([0] unused) */
    ugm_time_mlp net;       /* ε-network [s, emb(t)] -> D (learned variance: 2D, [ε | v]) */
    ug_tensor *phi;         /* [T] group "backward": log β_k / β̄_k at k - 1 */
    /* P_F's schedule as host copies, refreshed from φ by ddpm_refresh (index k = 0..T+1): */
    double *hb, *hab, *hpost;          /* β_k, ᾱ_k (hab[T+1] = 1), β̃_k */
    float *f_inv, *f_eps, *f_lvb, *f_lvp, *f_sd, *f_sab;  /* [T+1] tables (k = 0 holds harmless values):
                                        * 1/√(1-β_k), β_k/(√(1-ᾱ_k)√(1-β_k)), log β_k, log β̃_k, √(1-ᾱ_k), √ᾱ_k */
    ug_model_info info;
} ddpm;

/* P_B's schedule as tensors with a graph in φ (when φ is tracked), for one call. */
typedef struct ddpm_sched {
    ug_tensor *beta;    /* [T]: β_k at k - 1 */
    ug_tensor *log_ab;  /* [T]: log ᾱ_k at k - 1 */
} ddpm_sched;

/* Which k a computation is for: one k for the whole batch (oh == NULL), or each row's own, as the
 * one-hot oh [B, T+1] of k with t [B] F32 = T+1-k. */
typedef struct ddpm_k {
    int k;
    ug_tensor *oh;
    ug_tensor *t;
} ddpm_k;

/* ---- ddpm_sched.c ---- */
/* β̄ of the configured schedule into m->beta_bar; a message in err on failure. */
bool ddpm_beta_bar(ddpm *m, const char *schedule, double beta_start, double beta_end, ug_error *err);
/* Refresh P_F's host tables from φ (or β̄) and build P_B's tensors; the context's status. */
ug_status ddpm_schedule(ddpm *m, ug_ctx *ctx, ddpm_sched *sc);
/* A per-k coefficient of P_F's host table tab ([T+1]): a 0-d tensor for a batch-wide k, [B, 1] per row. */
ug_tensor *ddpm_coef(ddpm *m, ug_ctx *ctx, const ddpm_k *kk, const float *tab);
/* [T] tensor v (index k - 1) as a [T+1, 1] table with v0 at k = 0, for ugm_by_row. */
ug_tensor *ddpm_table(ug_ctx *ctx, ug_tensor *v, int T, float v0);
/* ddpm_k for per-row indices k [B] I32 (checked: 0 .. T). NULL-free on success. */
bool ddpm_rows(ddpm *m, ug_ctx *ctx, ug_tensor *k, int64_t B, const char *who, ddpm_k *out);

/* ---- ddpm_steps.c ---- */
/* c(x): the continuous image of x [B, D] (x / x_scale for continuous x). */
ug_tensor *ddpm_cx(ddpm *m, ug_ctx *ctx, ug_tensor *x);
/* The ε-network on s [B, D] at Ho's time t [B]: [B, D], or [B, 2D] = [ε | v] with a learned variance. */
ug_tensor *ddpm_net(ddpm *m, ug_ctx *ctx, ug_tensor *s, ug_tensor *t);
/* P_F's Gaussian at step k >= 1 from the network output `out` of s: mean [B, D] and log σ² ([B, D],
 * [B, 1] or 0-d). */
void ddpm_pf_gauss(ddpm *m, ug_ctx *ctx, const ddpm_k *kk, ug_tensor *s, ug_tensor *out, ug_tensor **mean,
                   ug_tensor **logvar);
/* log P_F(sp | s) at a batch-wide step k (0 .. T), [B]; sp is x at k = T. */
ug_tensor *ddpm_log_pf(ddpm *m, ug_ctx *ctx, ug_tensor *s, ug_tensor *sp, int k);
/* log P_B(s | sp) at step k (0 .. T), [B]. */
ug_tensor *ddpm_log_pb(ddpm *m, ug_ctx *ctx, const ddpm_sched *sc, ug_tensor *s, ug_tensor *sp, int k);
/* s_{k+1} ~ P_F(.|s_k) tempered (variance x temp) at a batch-wide k; *lpf = its untempered log P_F
 * unless lpf is NULL. reparam: the sample keeps its graph (continuous x only). */
ug_tensor *ddpm_pf_sample(ddpm *m, ug_ctx *ctx, ug_rng *rng, ug_tensor *s, int k, float temp, bool reparam,
                          ug_tensor **lpf);
/* s_k ~ P_B(.|sp) at step k >= 1; reparam: differentiable in φ. */
ug_tensor *ddpm_pb_sample(ddpm *m, ug_ctx *ctx, ug_rng *rng, const ddpm_sched *sc, ug_tensor *sp, int k, bool reparam);
/* Step k's term of the negative ELBO per row (model.h step_kl) from the network output `out` at s:
 * k = 0 KL(P_B(s_1|x) || N(0, I)); 1 <= k < T KL(q(s_{k+1}|s_k, x) || P_F); k = T -log P_F(x | s_T).
 * detach_mean: P_F's mean enters as a constant (iDDPM's L_vlb, which trains only the variance). */
ug_tensor *ddpm_kl_terms(ddpm *m, ug_ctx *ctx, const ddpm_sched *sc, const ddpm_k *kk, ug_tensor *x, ug_tensor *s,
                         ug_tensor *out, bool detach_mean);

/* The objective exported beside the model (ddpm_simple.c). */
extern const ug_plugin_desc ddpm_simple_desc;

#endif
