/* ar.h — what the two files of the autoregressive plugin share: the model object, its MADE network
 * (ar.c builds it) and the trajectory entry points (ar_traj.c) that ar.c puts in the vtable.
 *
 * The family (paper Obs. 11, docs/families.md §2): x in {0..K-1}^D is written one coordinate a step in
 * a fixed order π (π[t] is the position written by step t; rank[d] is the step that writes position d).
 * State index i has exactly the positions of rank < i set; the others hold the sentinel −1, so s_0 is
 * all −1 (a real fixed state, no root step) and x = s_D. P_F(s_{i+1} | s_i) = p_θ(x_{π[i]} | x_{π[<i]})
 * is a softmax over K logits; P_B is the Dirac "unset the last written coordinate" (log P_B = 0,
 * deterministic_pb), so every x has one trajectory and Σ log P_F = log p(x) exactly.
 *
 * The network is a MADE (Germain et al. 2015, "MADE: Masked Autoencoder for Distribution
 * Estimation"): an MLP whose weights are multiplied by constant 0/1 masks inside the forward pass.
 * Degrees: an input unit of position d has degree rank[d] + 1 (1 .. D); hidden unit k of layer l has a
 * degree m_l(k) in [1, D − 1]; a hidden unit sees the units of the layer below whose degree is <= its
 * own; the K output logits of position d (degree rank[d] + 1) see the units of degree < rank[d] + 1.
 * By induction the logits of position d depend only on the inputs of the positions of smaller rank,
 * so ONE pass on x gives all D conditionals, and the same pass on a partial state s_i gives the next
 * conditional (position π[i]) exactly, whatever the unset inputs hold.
 *
 * Input encoding (per coordinate, unset = zeros): one-hot over K, or one "ordinal" value
 * −1 + 2v/(K − 1) (binary: ±1). Zeros for an unset coordinate are a convention only: the logits read
 * at s_i are those of position π[i], and by the masks they see only set inputs (the ordinal code of
 * the middle value of an odd K is 0 too, which is harmless for the same reason). Output: [B, D·K]
 * logits, position-major (column d·K + v). */
#ifndef AR_H
#define AR_H

#ifndef UG_PLUGIN
#error "define UG_PLUGIN before including ar.h"
#endif
#include "unigfn/plugin.h"

#define AR_MAX_HIDDEN 16          /* hidden layers */
#define AR_MAX_WIDTH 65536        /* units of one hidden layer */
#define AR_MAX_DIM 65536          /* D */
#define AR_MAX_K 1024             /* categories */

typedef struct ar_model {
    int64_t D, K;
    int64_t per;                  /* inputs a coordinate: K (one-hot) or 1 (ordinal) */
    bool onehot, has_logz;
    int32_t *order;               /* [D] π: step t writes position order[t] */
    int32_t *rank;                /* [D] its inverse */
    int n_lin;                    /* linear layers: hidden layers + 1 */
    ug_linear_layer lin[AR_MAX_HIDDEN + 1];
    float *mask[AR_MAX_HIDDEN + 1];   /* host [out, in] 0/1 of each layer */
    ug_act act;
    ug_tensor *logz;              /* [] group "logZ" when log_z */
    ug_model_info info;
} ar_model;

/* The masked weights W_l ⊙ M_l of every layer ([out, in] each) into w[0 .. n_lin-1]: made once per
 * call and shared by all its network passes (with grad on, one product node a layer per call). */
ug_status ar_masked_weights(const ar_model *m, ug_ctx *ctx, ug_tensor **w);
/* Logits of the state whose host values (−1 = unset) are st [B, D]: of every position, [B, D·K], when
 * pos < 0; else of position `pos` only, [B, K] (the output layer restricted to its K rows: what one
 * sampling step needs). */
ug_tensor *ar_logits(const ar_model *m, ug_ctx *ctx, ug_tensor *const *w, const float *st, int64_t B, int64_t pos);

/* ug_model_vtable entries (ar_traj.c). */
ug_status ar_sample_forward(void *self, ug_ctx *ctx, ug_rng *rng, const ug_traj_req *req, ug_traj *out);
ug_status ar_sample_backward(void *self, ug_ctx *ctx, ug_rng *rng, const ug_traj_req *req, ug_traj *out);
ug_status ar_rescore(void *self, ug_ctx *ctx, ug_traj *traj, uint32_t flags);
ug_tensor *ar_log_prob(void *self, ug_ctx *ctx, ug_tensor *x);

#endif
