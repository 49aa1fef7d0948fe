/* d3pm.h — what the files of the D3PM plugin share: the model object, its schedules and the step
 * terms that the sampler (d3pm.c), the closed forms (d3pm_steps.c) and the hybrid objective
 * (d3pm_hybrid.c) all use. One shared module holds the model "d3pm" and the objective "d3pm_hybrid".
 *
 * The family: discrete diffusion (Austin et al. 2021, "Structured Denoising Diffusion Models in
 * Discrete State-Spaces"; paper Obs. 5, Eq. 9-10; docs/families.md §6). x ∈ {0..K-1}^D (binary: K = 2)
 * and T noise levels:
 *   root s_0; s_k ∈ {0..Ks-1}^D for k = 1..T, stored [B, D] as float codes (Austin's x_t at
 *   t = T+1-k); x = s_{T+1}; horizon T+1. Ks = K for the uniform kernel, K+1 for the absorbing one,
 *   whose code K is [MASK].
 *   P_B(s_k | s_{k+1}) = Π_d Cat(s_{k,d}; onehot(s_{k+1,d}) Q_k), k = 1..T; log_pb[0] = 0.
 *     uniform:   Q_k = (1-β_k) I + β_k/K 11ᵀ (doubly stochastic: the uniform law is stationary)
 *     absorbing: Q_k = (1-β_k) I + β_k 1 e_MASKᵀ, [MASK] maps to itself; β_1 = 1, so s_1 is all-MASK
 *   marginal P_B(s_k | x) = Cat(onehot(x) Q_T ⋯ Q_k), ᾱ_k = Π_{j>=k} (1-β_j) (ᾱ_{T+1} = 1):
 *     uniform:   ᾱ_k I + (1-ᾱ_k)/K 11ᵀ;   absorbing: x kept with ᾱ_k, else [MASK]
 *   P_F step 0: uniform: s_1 ~ uniform, log_pf = -D log K (the stationary law); absorbing: s_1 is
 *     all-MASK, a Dirac (log_pf = 0): no root draw.
 *   P_F step k >= 1 (Austin's x0-parameterization, their Eq. 4): a network gives p̃_θ(x̃ | s_k) per
 *     coordinate (softmax over the K values of x) and
 *       μ_θ(s_{k+1,d} = j | s_k) ∝ Σ_x̃ q(s_{k+1,d} = j, s_{k,d} | x̃) p̃_θ(x̃ | s_k)_d
 *                              = Q_k[j, s_{k,d}] · (p̃_θ(·|s_k)_d Q̄_{k+1})_j,    Q̄_{k+1} = Q_T ⋯ Q_{k+1}
 *     normalized over j. This is Σ_x̃ q(s_{k+1} | s_k, x̃) w(x̃) with w ∝ q(s_k | x̃) p̃(x̃): the
 *     posterior of the forward process mixed over p̃ reweighted by how well x̃ explains s_k, so values
 *     x̃ that cannot have produced s_k get no mass (an unmasked coordinate is copied; at k = T no
 *     [MASK] is produced). With p̃ = onehot(x) it is the posterior q(s_{k+1} | s_k, x) exactly.
 * The schedule β_k = min(β̄_k e^{φ_k}, β_max) (φ in group "backward", 0 at start; β_max = 1 - 2^-20
 * keeps log(1 - β) finite; the absorbing kernel's β_1 is 1 and ignores φ_1). Inside P_F, β is a host
 * copy (pf_beta: learned, the default) or β̄ (pf_beta: fixed), so P_F never depends on φ through the
 * tape, as in the ddpm plugin: Prop. 14 then holds literally for TBC.
 *
 * Log zeros: structural zeros of Q (an unmasked coordinate never becomes another value; [MASK] never
 * unmasks; no [MASK] after the last step) are the finite D3PM_NEG = -1e4 in every log table, whose
 * exp is exactly 0 in float and double: softmaxes then give those entries probability 0 without
 * -inf, so no 0 · inf reaches a value or a gradient. Samplers mask them explicitly (temperature
 * cannot revive them). A log-probability near -1e4 therefore means "impossible". */
#ifndef D3PM_H
#define D3PM_H

#ifndef UG_PLUGIN
#error "define UG_PLUGIN before including d3pm.h"
#endif
#include "unigfn/plugin.h"

#include "../cont_common.h"

#define D3PM_NEG (-1.0e4f)                    /* log of a structural zero */
#define D3PM_BETA_MAX (1.0 - 1.0 / 1048576.0) /* 1 - 2^-20, exact in float */
#define D3PM_MAX_K 4096                        /* data categories */

typedef enum d3pm_kernel { D3PM_UNIFORM = 0, D3PM_ABSORBING = 1 } d3pm_kernel;

typedef struct d3pm {
    int64_t D, K, Ks;       /* coordinates, data values, state values (K+1 with [MASK] = K) */
    int T;                  /* noise levels; horizon T+1 */
    d3pm_kernel kernel;
    bool pf_fixed;          /* pf_beta: fixed (P_F uses β̄) */
    double *beta_bar;       /* [T+1]: β̄_k at k = 1..T ([0] unused) */
    /* host copies refreshed from φ by d3pm_schedule (index k = 0..T+1): */
    double *hb, *hab;       /* P_B's β_k and ᾱ_k (hab[T+1] = 1) */
    double *fb, *fab;       /* P_F's β_k and ᾱ_k */
    float *pf_col;          /* [4 (T+1)]: P_F's coefficient columns a1, a2, m1, m2 (d3pm_cols) */
    ugm_time_mlp net;       /* p̃-network: [onehot(s) (D·Ks), emb(t)] -> D·K logits */
    ug_tensor *phi;         /* [T] group "backward": log β_k / β̄_k at k - 1 */
    ug_model_info info;
} d3pm;

/* Step k's coefficients as [T+1, 1] columns (row k; row 0 holds harmless zeros), for one call:
 *   a1, a2: the kernel Q_k. uniform: log(β_k/K), log(1 - β_k + β_k/K) (off-diagonal, diagonal);
 *           absorbing: log β_k, log(1 - β_k) (to [MASK], kept).
 *   m1, m2: the marginal Q̄_{k+1} of the next state: log ᾱ_{k+1}, log(1 - ᾱ_{k+1}) (NEG at k = T).
 * P_F's are constants made from host copies; P_B's carry a graph in φ when φ is tracked. */
typedef struct d3pm_cols {
    ug_tensor *a1, *a2, *m1, *m2;
} d3pm_cols;

/* P_B's schedule as tensors with a graph in φ (when it is tracked), for one call. */
typedef struct d3pm_sched {
    ug_tensor *beta;    /* [T]: β_k at k - 1 */
    ug_tensor *log_ab;  /* [T]: log ᾱ_k at k - 1 (NEG for the absorbing ᾱ_1 = 0) */
    d3pm_cols pb;       /* P_B's columns (the posterior q of step_kl) */
    d3pm_cols pf;       /* P_F's columns (constants) */
} d3pm_sched;

/* Which k: one for the whole batch (oh == NULL), or each row's own as the one-hot oh [B, T+1]; t [B]
 * F32 is the network's time T+1-k (Austin's t). */
typedef struct d3pm_k {
    int k;
    ug_tensor *oh;
    ug_tensor *t;
} d3pm_k;

/* ---- d3pm_sched.c ---- */
/* β̄ of the configured schedule into m->beta_bar; a message in err on failure. */
bool d3pm_beta_bar(d3pm *m, const char *schedule, double beta_start, double beta_end, ug_error *err);
/* Refresh the host copies from φ and build P_B's tensors and both column sets; the context's status. */
ug_status d3pm_schedule(d3pm *m, ug_ctx *ctx, d3pm_sched *sc);
/* Row k of a column: [1, 1, 1] for a batch-wide k, [B, 1, 1] per row. */
ug_tensor *d3pm_coef(ug_ctx *ctx, ug_tensor *col, const d3pm_k *kk);
/* A batch-wide k for B rows. */
d3pm_k d3pm_batch_k(d3pm *m, ug_ctx *ctx, int64_t B, int k);
/* d3pm_k for per-row indices k [B] I32 (checked: 0 .. T). */
bool d3pm_rows(d3pm *m, ug_ctx *ctx, ug_tensor *k, int64_t B, const char *who, d3pm_k *out);

/* ---- d3pm_steps.c ---- */
/* log p̃_θ(x̃ | s) [B, D, K] from one network pass on s [B, D] at time kk->t. */
ug_tensor *d3pm_x0_logp(d3pm *m, ug_ctx *ctx, ug_tensor *s, const d3pm_k *kk);
/* log Q_k[j, s_{k,d}] for every next value j: [B, D, Ks] (the P_B mass of s_k from each s_{k+1}). */
ug_tensor *d3pm_log_a(d3pm *m, ug_ctx *ctx, ug_tensor *s, const d3pm_cols *c, const d3pm_k *kk);
/* Unnormalized log μ(s_{k+1} = j | s_k) = log a_j + log (p Q̄_{k+1})_j, [B, D, Ks], for log p [B, D, K]
 * (the network's log p̃, or log onehot(x) for the posterior q). */
ug_tensor *d3pm_next_logits(d3pm *m, ug_ctx *ctx, ug_tensor *s, ug_tensor *logp, const d3pm_cols *c, const d3pm_k *kk);
/* log onehot(x) with NEG for the zeros: [B, D, K]. */
ug_tensor *d3pm_log_onehot(d3pm *m, ug_ctx *ctx, ug_tensor *x);
/* Σ_d lp[b, d, v[b, d]] for lp [B, D, n] and codes v [B, D] F32: [B]. */
ug_tensor *d3pm_pick(ug_ctx *ctx, ug_tensor *lp, ug_tensor *v);
/* log P_F(sp | s) at a batch-wide step k (0 .. T): [B]. */
ug_tensor *d3pm_log_pf(d3pm *m, ug_ctx *ctx, const d3pm_sched *sc, ug_tensor *s, ug_tensor *sp, int k);
/* log P_B(s | sp) at step k (0 .. T): [B]. */
ug_tensor *d3pm_log_pb(d3pm *m, ug_ctx *ctx, const d3pm_sched *sc, ug_tensor *s, ug_tensor *sp, int k);
/* s_{k+1} ~ P_F(.|s_k) at a batch-wide k, tempered (logits / temp) and exploring (each coordinate,
 * with probability explore, uniform over the values P_F allows); *lpf = the untempered log P_F unless
 * lpf is NULL. */
ug_tensor *d3pm_pf_sample(d3pm *m, ug_ctx *ctx, ug_rng *rng, const d3pm_sched *sc, ug_tensor *s, int k, float temp,
                          float explore, ug_tensor **lpf);
/* s_k ~ P_B(.|sp) at step k >= 1 (host β: no graph). */
ug_tensor *d3pm_pb_sample(d3pm *m, ug_ctx *ctx, ug_rng *rng, ug_tensor *sp, int k);
/* s_k ~ P_B(s_k | x) for each row's k = kh[b] (host, 0 .. T; the root, zeros, at 0). */
ug_tensor *d3pm_marginal_sample(d3pm *m, ug_ctx *ctx, ug_rng *rng, ug_tensor *x, const int32_t *kh);
/* Steps k >= 1 per row: KL(q(s_{k+1} | s_k, x) || P_F(s_{k+1} | s_k)) summed over coordinates, [B]
 * (at k = T, -log P_F(x | s_T)); *logp0 (when non-NULL) gets the network's log p̃ [B, D, K]. Rows with
 * k = 0 hold some finite value (mask them). */
ug_tensor *d3pm_kl_terms(d3pm *m, ug_ctx *ctx, const d3pm_sched *sc, const d3pm_k *kk, ug_tensor *x, ug_tensor *s,
                         ug_tensor **logp0);
/* Step 0's term KL(P_B(s_1 | x) || P_F(s_1 | s_0)), the same for every x: a [1] tensor (a graph in φ). */
ug_tensor *d3pm_prior_kl(d3pm *m, ug_ctx *ctx, const d3pm_sched *sc);
/* Host check: every value of s [B, D] is an integer code in 0 .. hi-1; with all_mask, every one is
 * [MASK]. Fails the context naming who, what, the row and the column. */
bool d3pm_check_codes(d3pm *m, ug_ctx *ctx, const ug_tensor *s, int64_t hi, bool all_mask, const char *who,
                      const char *what);
/* The codes a state of index i may hold: x (i = T+1) 0..K-1; the absorbing s_1 all-MASK; else 0..Ks-1. */
bool d3pm_check_index(d3pm *m, ug_ctx *ctx, const ug_tensor *s, int i, const char *who, const char *what);

/* The objective exported beside the model (d3pm_hybrid.c). */
extern const ug_plugin_desc d3pm_hybrid_desc;

#endif
