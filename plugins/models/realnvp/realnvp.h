/* realnvp.h — what the two files of the RealNVP plugin share: the model object and the coupling
 * layers (coupling.c) that the policy interface (realnvp.c) walks through.
 *
 * The family (Dinh et al. 2017, "Density estimation using Real NVP"; the paper's Observation 12,
 * docs/families.md §3) as a GFlowNet of L + 1 steps:
 *     s_0 = root (never read), s_1 = z ~ N(0, I), s_{k+1} = f_k(s_k) for k = 1..L, x = s_{L+1}.
 * Step 0 is the prior step, log P_F = log N(z; 0, I). Steps k >= 1 are Dirac in both directions, with
 * log P_F = -log|det ∂f_k/∂s (s_k)| and log P_B = 0 (model.h's Dirac convention), so Σ_k log P_F is
 * the change-of-variables log p(x) and P_B(τ|x) is one point (deterministic_pb).
 *
 * Layer k (1-based) is an optional per-dimension affine ("actnorm", learned, no batch statistics: rows
 * never interact) followed by an affine coupling:
 *     u = s ⊙ exp(a_k) + b_k                                  (identity when actnorm is off)
 *     [r, t] = NN_k(u ⊙ c_k)                                  c_k: the coordinates held fixed
 *     σ = scale_max · tanh(r / scale_max) ⊙ (1 − c_k),  t ← t ⊙ (1 − c_k)
 *     f_k(s) = u ⊙ exp(σ) + t,      log|det ∂f_k/∂s| = Σ_d a_k,d + Σ_d σ_d
 * The bound |σ| < scale_max keeps one layer from blowing a coordinate up or down by more than
 * exp(scale_max) (the usual failure of unbounded log-scales early in training). Because f_k leaves the
 * c_k coordinates alone, NN_k sees the same input from either side and the inverse is explicit:
 *     u = (y − t) ⊙ exp(−σ),   s = (u − b_k) ⊙ exp(−a_k),
 * with the same log-det: it can be computed from s_k or from s_{k+1}.
 * Masks alternate: odd layers transform the set A, even layers its complement; A = even indices
 * (checkerboard) or the first ⌈D/2⌉ indices (halves). For D = 2 both give "coordinate 0, then 1, …".
 * NN_k's last layer starts at zero, so every layer starts as the identity and p(x) starts as N(0, I). */
#ifndef REALNVP_H
#define REALNVP_H

#ifndef UG_PLUGIN
#error "define UG_PLUGIN before including realnvp.h"
#endif
#include "unigfn/plugin.h"

#include "../cont_common.h"

#define RNVP_MAX_LAYERS 64
#define RNVP_MAX_DIM 4096

typedef struct rnvp_layer {
    ug_mlp net;           /* D -> hidden -> 2D: raw log-scales and shifts */
    ug_tensor *an_a;      /* [D] actnorm log-scale, NULL without actnorm */
    ug_tensor *an_b;      /* [D] actnorm shift */
} rnvp_layer;

typedef struct rnvp {
    int64_t D;
    int L;                /* coupling layers; horizon L + 1 */
    float scale_max;
    bool actnorm, has_logz;
    float *keep;          /* [L, D] host masks c_k: 1 = held fixed by layer k + 1 */
    rnvp_layer layer[RNVP_MAX_LAYERS];
    ug_tensor *logz;      /* [] group "logZ" when log_z */
    ug_model_info info;
} rnvp;

/* Layer k (1 .. L) at s_k: s_{k+1} = f_k(s_k) into *y and log|det ∂f_k/∂s (s_k)| [B] into *logdet. */
ug_status rnvp_layer_forward(const rnvp *m, ug_ctx *ctx, int k, ug_tensor *s, ug_tensor **y, ug_tensor **logdet);
/* Its inverse from y = s_{k+1}: s_k = f_k^{-1}(y) into *s and the same log|det ∂f_k/∂s (s_k)| [B]. */
ug_status rnvp_layer_inverse(const rnvp *m, ug_ctx *ctx, int k, ug_tensor *y, ug_tensor **s, ug_tensor **logdet);
/* Declare layer k's parameters (group "forward") and zero its net's last layer. */
ug_status rnvp_layer_init(rnvp *m, ug_params *P, int k, const int64_t *hidden, int n_hidden, ug_act act, ug_rng *rng);

#endif
