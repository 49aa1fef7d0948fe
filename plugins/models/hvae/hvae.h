/* hvae.h — what the three files of the hierarchical-VAE plugin share: the model object, its
 * conditionals (hvae_cond.c) and the trajectory entry points (hvae_traj.c) that hvae.c puts in the
 * vtable.
 *
 * The family (paper §3.1, Obs. 1, Eq. 5–6; docs/families.md §4). With L latent layers the trajectory
 * is s_0 (abstract root) -> z_1 -> ... -> z_L -> x, horizon n = L + 1, s_k = z_k [B, d_k] for
 * k = 1..L and s_n = x [B, D]:
 *   P_F step 0      z_1 ~ N(0, I) (prior: fixed) or N(m, diag e^{2 l}) (prior: learned)
 *   P_F step k      z_{k+1} ~ N(mu_k(z_k), diag sigma_k(z_k)^2)                    1 <= k <= n-2
 *   P_F step n-1    x ~ N(mu(z_L), diag sigma(z_L)^2) (CONTINUOUS) or Bernoulli(sigmoid l(z_L)) (BINARY)
 *   P_B step k      z_k ~ q_k(z_k | z_{k+1}) = N(nu_k(z_{k+1}), diag tau_k(z_{k+1})^2)   1 <= k <= n-1
 *   P_B step 0      the root is z_1's only parent: log_pb[0] = 0
 * so sum_k log_pf - sum_k log_pb = log p(x, z) - log q(z | x), whose mean under P_B(.|x) is the
 * bottom-up HVAE's ELBO (Eq. 3–4) and whose logmeanexp over M draws is the IWAE bound (Eq. 24).
 *
 * Each conditional is an MLP in -> hidden -> 2 out (mean | raw log-std), or with `linear: true` an
 * affine mean W z + b with a free raw log-std vector (the linear-Gaussian model: its p(x) and ELBO are
 * closed-form Gaussians, tests/test_hvae.c). Every log-std, the networks' and the free ones, goes
 * through the same smooth floor
 *     log sigma = min_log_std + softplus(raw - min_log_std)
 * (about raw above the floor, never below it, with a gradient everywhere: a hard clamp would stop a
 * collapsed variance from recovering). The Bernoulli decoder has D logits and no log-std. */
#ifndef HVAE_H
#define HVAE_H

#ifndef UG_PLUGIN
#error "define UG_PLUGIN before including hvae.h"
#endif
#include "unigfn/plugin.h"

#define HVAE_MAX_LATENTS 32

/* One conditional y | z: Gaussian N(mean(z), diag e^{2 log_std(z)}) or Bernoulli(logits(z)). */
typedef struct hvae_cond {
    int64_t in, out;      /* widths of z and y */
    bool bernoulli;       /* the binary decoder: `out` logits */
    bool linear;          /* affine mean (lin) and a free raw log-std (log_std); else the MLP net */
    ug_mlp net;           /* in -> hidden -> 2 out (Gaussian) or out (Bernoulli) */
    ug_linear_layer lin;  /* in -> out */
    ug_tensor *log_std;   /* [out] raw, linear Gaussian only */
} hvae_cond;

typedef struct hvae {
    int L, n;                          /* latent layers, horizon n = L + 1 */
    int64_t width[HVAE_MAX_LATENTS + 2]; /* state width by index: width[0] = d_1 (the root's zeros),
                                        * width[k] = d_k, width[n] = D */
    bool binary;                       /* Bernoulli decoder (BINARY x), else Gaussian (CONTINUOUS x) */
    bool learned_prior;
    ug_tensor *prior_mean, *prior_log_std; /* [d_1] each (learned prior; log-std raw) */
    float min_log_std;
    hvae_cond pf[HVAE_MAX_LATENTS + 1];  /* pf[k], k = 1..n-1: s_k -> s_{k+1}; pf[n-1] is the decoder */
    hvae_cond q[HVAE_MAX_LATENTS + 1];   /* q[k], k = 1..n-1: s_{k+1} -> s_k (the encoder) */
    ug_model_info info;
} hvae;

/* ---- hvae_cond.c ---- */
/* Declare the conditional's parameters: "<name>.<i>" MLP layers, or "<name>.mean" (.w, .b) and
 * "<name>.log_std" when linear. n_hidden <= UG_MLP_MAX_LAYERS - 1. */
ug_status hvae_cond_init(hvae_cond *c, ug_params *P, const char *group, const char *name, int64_t in, int64_t out,
                         bool bernoulli, bool linear, const int64_t *hidden, int n_hidden, ug_act act, ug_rng *rng);
/* log P_F(s_{k+1} | s_k) [B] for step k (k = 0: the prior density of s_1). */
ug_tensor *hvae_log_pf(const hvae *m, ug_ctx *ctx, ug_tensor *s, ug_tensor *sp, int k);
/* log P_B(s_k | s_{k+1}) [B] for step k (k = 0: zeros). */
ug_tensor *hvae_log_pb(const hvae *m, ug_ctx *ctx, ug_tensor *s, ug_tensor *sp, int k);
/* s_{k+1} ~ P_F(. | s_k) [B, width[k+1]]: latent steps with variance x temp, the decoder untempered;
 * reparam keeps the sample differentiable (Gaussian steps only). *lp (when lp != NULL) gets log P_F of
 * the sample under the untempered policy. B is the batch (s is the root's zeros at k = 0). */
ug_tensor *hvae_sample_pf(const hvae *m, ug_ctx *ctx, ug_rng *rng, ug_tensor *s, int k, float temp, bool reparam,
                          ug_tensor **lp);
/* s_k ~ q_k(. | s_{k+1}) [B, width[k]] for k >= 1; *lp (when lp != NULL) gets its log-density. */
ug_tensor *hvae_sample_pb(const hvae *m, ug_ctx *ctx, ug_rng *rng, ug_tensor *sp, int k, bool reparam, ug_tensor **lp);

/* ---- hvae_traj.c: ug_model_vtable entries ---- */
ug_status hvae_sample_forward(void *self, ug_ctx *ctx, ug_rng *rng, const ug_traj_req *req, ug_traj *out);
ug_status hvae_sample_backward(void *self, ug_ctx *ctx, ug_rng *rng, const ug_traj_req *req, ug_traj *out);
ug_status hvae_rescore(void *self, ug_ctx *ctx, ug_traj *traj, uint32_t flags);

#endif
