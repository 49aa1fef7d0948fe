/* model.h — the policy interface: what a model family plugin provides, and the trajectory batch.
 *
 * Every family in the paper is a choice of states and of two policies: the forward policy P_F(s'|s)
 * (parameters θ, group "forward") that builds an object x from s0 in n steps, and the backward policy
 * P_B(s|s') (φ, group "backward", possibly fixed) that explains x by undoing it. Objectives and metrics
 * see only this header; they never know which family produced a trajectory. docs/families.md maps each
 * family of the paper onto these calls.
 *
 * Versioning: every struct begins with its size; fields are only ever appended (ABI minor bump). */
#ifndef UNIGFN_MODEL_H
#define UNIGFN_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "unigfn/rng.h"
#include "unigfn/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The space of terminal objects x (what a dataset yields and a model generates). */
typedef enum ug_space_kind {
    UG_SPACE_BINARY = 1,       /* x in {0,1}^dim, stored as float 0/1 */
    UG_SPACE_CATEGORICAL = 2,  /* x in {0..categories-1}^dim, stored as float integers */
    UG_SPACE_CONTINUOUS = 3,   /* x in R^dim */
} ug_space_kind;

typedef struct ug_space {
    uint32_t kind;        /* ug_space_kind */
    int64_t dim;          /* D */
    int64_t categories;   /* K for categorical, 2 for binary, 0 for continuous */
    int64_t shape[3];     /* optional image layout (C, H, W) for pictures; zeros if none */
} ug_space;

/* Optional capabilities, asked for by name (spec checks) or bit (code). */
enum {
    UG_CAP_LOG_FLOW = 1u << 0,    /* log F(s) for a state: detailed balance */
    UG_CAP_LOG_REWARD = 1u << 1,  /* log R(x): energy / reward-driven objectives */
    UG_CAP_SCORE = 1u << 2,       /* ∇_x log p_t(x): score models (sliced score matching) */
    UG_CAP_LOG_PROB = 1u << 3,    /* exact log p(x): flows, autoregressive */
    UG_CAP_LOG_Z = 1u << 4,       /* learned log Z: trajectory balance */
    UG_CAP_REPARAM = 1u << 5,     /* sample_forward honours UG_TRAJ_REPARAM (pathwise gradients in θ) */
    UG_CAP_PARTIAL = 1u << 6,     /* trajectories can start/stop at intermediate states */
    UG_CAP_REPARAM_B = 1u << 7,   /* sample_backward honours UG_TRAJ_REPARAM (pathwise gradients in φ) */
    /* appended in ABI 1.1 */
    UG_CAP_ANCHOR = 1u << 8,      /* sample_backward honours UG_TRAJ_ANCHOR (closed-form marginals of P_B(.|x)) */
    UG_CAP_STEP_KL = 1u << 9,     /* step_kl: each step's analytic term of KL(P_B(.|x) || P_F) */
};
#define UG_CAP_NAMES                                                                                     \
    "log_flow", "log_reward", "score", "log_prob", "log_z", "reparam", "partial", "reparam_b", "anchor", "step_kl"
#define UG_CAP_COUNT 10

typedef struct ug_model_info {
    uint32_t size;
    ug_space space;        /* space of x */
    int32_t horizon;       /* n: maximum number of steps s0 -> x */
    bool variable_length;  /* trajectories may end before `horizon` (mask marks the taken steps) */
    bool deterministic_pb; /* P_B(τ|x) is a point mass (one trajectory per x: autoregressive, normalizing
                            * flow): every log_pb is 0 and Σ log_pf = log p(x) */
    uint32_t caps;         /* UG_CAP_* this instance provides (may depend on its config) */
} ug_model_info;

/* A batch of B trajectories s_start -> ... -> s_end. Plain data; everything lives in the step arena.
 * Step k (0 <= k < steps) goes from state index start+k to start+k+1 in forward order, whichever
 * direction it was sampled in. Per-step terms are [B] tensors; log_pf[k] = log P_F(s_{k+1}|s_k) and
 * log_pb[k] = log P_B(s_k|s_{k+1}).
 *
 * Conventions every family follows (docs/families.md):
 *  - Masses and densities: discrete coordinates give log masses, continuous ones log densities with
 *    respect to Lebesgue measure. A step whose P_F and P_B are both Dirac (s_{k+1} = f(s_k), f a
 *    bijection) has log_pf = -log|det ∂f/∂s (s_k)| and log_pb = 0. A Dirac P_B paired with a
 *    stochastic P_F has log_pb = 0 and log_pf the mass/density of what P_F adds.
 *  - The root: s_0 is a fixed state. A family whose first latent is random (DDPM, HVAE, flows,
 *    diffusion) uses an abstract root: step 0 draws s_1 from the prior, with log_pf[0] = log p(s_1)
 *    and log_pb[0] = 0, counted in `horizon`. The root's tensor is unspecified (zeros) and identified
 *    by index 0; log_flow(s, 0) is log Z.
 *  - Gradients through states: sampled states are constants (log terms depend on parameters only
 *    through the densities) unless the request sets UG_TRAJ_REPARAM; states made by Dirac maps are
 *    always differentiable in that map's parameters.
 *  - With UG_TRAJ_NO_PF (NO_PB) the log_pf (log_pb) array may be NULL or hold NULL entries.
 *  - Variable length: rows are aligned at index 0 = s_0; row b's x sits at its own index L_b <=
 *    horizon; steps after L_b have mask 0, log terms 0 and states repeating x; `last` holds each
 *    row's x. A backward request with start_index == horizon means "from each row's x".
 *  - State shapes are family-defined and may differ by index (HVAE latents). When ug_space.shape is
 *    set, a row of x is C*H*W values in C, H, W row-major order. */
typedef struct ug_traj {
    uint32_t size;
    int64_t batch;          /* B */
    int32_t start, steps;   /* covers state indices start .. start+steps */
    ug_tensor **states;     /* steps+1 tensors [B, ...] (NULL unless UG_TRAJ_KEEP_STATES) */
    ug_tensor **log_pf;     /* steps tensors [B]; NULL entries when UG_TRAJ_NO_PF */
    ug_tensor **log_pb;     /* steps tensors [B]; NULL entries when UG_TRAJ_NO_PB */
    ug_tensor **mask;       /* steps tensors [B] of 0/1, or NULL when every step is taken */
    ug_tensor *first;       /* [B, ...] the state at index start */
    ug_tensor *last;        /* [B, ...] the state at index start+steps (x when it is terminal) */
    ug_tensor *actions;     /* [B, steps] family-specific step record, enough to re-score (may be NULL) */
    void *extra;            /* family-private data for rescore (arena memory) */
} ug_traj;

enum {
    UG_TRAJ_KEEP_STATES = 1u << 0,  /* fill traj->states */
    UG_TRAJ_NO_PF = 1u << 1,        /* log P_F not needed */
    UG_TRAJ_NO_PB = 1u << 2,        /* log P_B not needed */
    UG_TRAJ_REPARAM = 1u << 3,      /* stochastic steps are reparameterized: sampled states are
                                     * differentiable in the sampling policy's parameters (θ forward, φ
                                     * backward). A model without UG_CAP_REPARAM (forward) or
                                     * UG_CAP_REPARAM_B (backward) returns UG_ERR_UNSUPPORTED. */
    /* appended in ABI 1.1: a backward request from terminal x (start_index == horizon) that draws
     * row b's state at index row_index[b] (0 .. horizon-1) straight from the marginal P_B(s_k | x),
     * without the steps in between. The result has steps = 0 and first = last = those states
     * (start = -1: the index is per row). Models with UG_CAP_ANCHOR honour it; others refuse. */
    UG_TRAJ_ANCHOR = 1u << 4,
};

/* What to sample. Forward: `batch` trajectories from s0 (start == NULL) or from the given states at
 * index `start_index`. Backward: from the given states (terminal x when start_index == horizon). */
typedef struct ug_traj_req {
    uint32_t size;
    int64_t batch;          /* forward from s0 only; otherwise taken from start */
    ug_tensor *start;       /* [B, ...] starting states, or NULL for s0 (forward) */
    int32_t start_index;    /* index of `start` along the trajectory (0 = s0, horizon = x) */
    int32_t steps;          /* number of steps, -1 = all the way (to x forward, to s0 backward) */
    uint32_t flags;         /* UG_TRAJ_* */
    /* Off-policy sampling (forward only). log_pf/log_pb are always those of the model's untempered,
     * non-exploring policy at the sampled action. */
    float explore;          /* probability of a uniformly random valid action; defined for finite action
                             * sets: a family without one returns UG_ERR_UNSUPPORTED when explore > 0 */
    float temperature;      /* divides categorical logits, multiplies Gaussian variances, ignored by
                             * Dirac steps; 0 means 1 */
    /* appended in ABI 1.1 */
    ug_tensor *row_index;   /* [B] I32: per-row state indices for UG_TRAJ_ANCHOR (NULL otherwise) */
} ug_traj_req;

typedef struct ug_model_vtable {
    uint32_t size;
    /* Fill `out` (size already set by the caller). */
    void (*info)(void *self, ug_model_info *out);
    /* Sample trajectories with P_F (forward) or P_B (backward). Terms are recorded on the tape with
     * the context's grad mode, so objectives choose what to differentiate by group masks. */
    ug_status (*sample_forward)(void *self, ug_ctx *ctx, ug_rng *rng, const ug_traj_req *req, ug_traj *out);
    ug_status (*sample_backward)(void *self, ug_ctx *ctx, ug_rng *rng, const ug_traj_req *req, ug_traj *out);
    /* Recompute log_pf / log_pb of given trajectories with the current parameters (off-policy terms,
     * replay, acceptance ratios). Reads traj->states when non-NULL, else first/last/actions; must work
     * with extra == NULL (extra is only a within-step cache). Families whose steps are not recorded
     * in `actions` (continuous or multi-coordinate steps) need states: sample with
     * UG_TRAJ_KEEP_STATES if you will rescore. A sub-trajectory (start, steps, states/actions sliced)
     * is valid input. Terms excluded by `flags` (UG_TRAJ_NO_PF / NO_PB) are left as they are. */
    ug_status (*rescore)(void *self, ug_ctx *ctx, ug_traj *traj, uint32_t flags);
    /* ---- optional (NULL when absent; info.caps says which are there for this instance) ---- */
    ug_tensor *(*log_flow)(void *self, ug_ctx *ctx, ug_tensor *state, int32_t index);   /* -> [B] */
    ug_tensor *(*log_reward)(void *self, ug_ctx *ctx, ug_tensor *x);                    /* -> [B] */
    /* ∇_x log of the marginal density of states at trajectory index t ([B] F32, 0..horizon; the
     * family maps it to its own time) under P_B from data. [B, D]; differentiable in x (create_graph,
     * for sliced score matching) and in the parameters; rows do not interact. */
    ug_tensor *(*score)(void *self, ug_ctx *ctx, ug_tensor *x, ug_tensor *t);           /* -> [B, D] */
    ug_tensor *(*log_prob)(void *self, ug_ctx *ctx, ug_tensor *x);                      /* -> [B] */
    ug_tensor *(*log_z)(void *self, ug_ctx *ctx);                                       /* -> [] */
    /* Plugin state beyond parameters (none for most models): appended to checkpoints. */
    ug_status (*save_state)(void *self, void **blob, size_t *bytes);
    ug_status (*load_state)(void *self, const void *blob, size_t bytes);
    /* ---- appended in ABI 1.1 ---- */
    /* Step k's analytic term of the negative ELBO, for families whose P_B(.|x) has closed-form
     * posteriors q(s_{k+1} | s_k, x) (DDPM, D3PM, an HVAE's prior step): for x [B, ...], s = s_k [B, ...]
     * and k [B] I32 (0 .. horizon-1; s_0 is the root),
     *     E_{q(s_{k+1}|s_k,x)} [ log q(s_{k+1} | s_k, x) - log P_F(s_{k+1} | s_k) ]    -> [B]
     * (the last step's q is the point mass at x, so its term is -log P_F(x | s_{n-1})). Summed over k
     * with s_k ~ P_B(s_k | x) it has the expectation of log P_B(τ|x) - log P_F(τ): the one-step
     * estimator of kl_tb (estimator: one_step) draws one k a row. Differentiable in the parameters. */
    ug_tensor *(*step_kl)(void *self, ug_ctx *ctx, ug_tensor *x, ug_tensor *s, ug_tensor *k);
} ug_model_vtable;

/* A created model as the host hands it to objectives and metrics. */
typedef struct ug_model {
    uint32_t size;
    const ug_model_vtable *vt;
    void *self;
    ug_model_info info;
    struct ug_params *params;   /* the parameter groups it declared */
    const char *name;           /* plugin name */
} ug_model;

static inline bool ug_model_has(const ug_model *m, uint32_t cap) { return (m->info.caps & cap) == cap; }

#ifdef __cplusplus
}
#endif
#endif
