/* binary_gfn.h — what the two files of the binary GFlowNet plugin share: the model object and the
 * trajectory entry points (bgfn_traj.c) that binary_gfn.c puts in the vtable.
 *
 * The family (EB-GFN, Zhang et al. 2022): a state is a vector in {unset, 0, 1}^D stored as a [B, D]
 * float tensor with unset = -1; s0 is all unset; each step sets one unset coordinate, so every
 * trajectory has exactly D steps and state index i has exactly i coordinates set.
 *
 * Logit layout (forward policy): 2D logits, interleaved by position — index 2*j + v is "set position
 * j to value v" — so a forward action's index IS its logit index (actions store 2*j + v as floats).
 * Backward policy: D logits, index j is "erase position j". With shared_trunk the one MLP outputs
 * [2D forward logits | D backward logits] = 3D columns (2D when learn_pb is false).
 *
 * forward_positions uniform (the public EB-GFN code's "tbrf" GFlowNet): P_F picks an unset position
 * uniformly and only the value is learned, a 2-way softmax of that position's pair of logits. The walk
 * then uses pair-normalised logits f[2j+v] - logsumexp(f[2j], f[2j+1]): over the unset positions
 * these sum to n_unset in probability, so the one softmax over the masked 2D entries is exactly
 * 1/n_unset x softmax2, and sampling and pick_logprob need no other change. */
#ifndef BINARY_GFN_H
#define BINARY_GFN_H

#ifndef UG_PLUGIN
#error "define UG_PLUGIN before including binary_gfn.h"
#endif
#include "unigfn/plugin.h"

typedef struct bgfn {
    int64_t D;
    bool shared;       /* one trunk for P_F and P_B (group "forward" holds both θ and φ) */
    bool learn_pb;     /* false: P_B uniform over set positions, no backward parameters */
    bool uniform_pos;  /* P_F: position uniform over the unset ones, only the value learned */
    bool has_logz, has_flow, has_energy;
    ug_mlp pf;         /* separate: D -> hidden -> 2D (group "forward"); shared: D -> hidden -> 3D */
    ug_mlp pb;         /* separate and learn_pb: D -> hidden -> D (group "backward") */
    ug_mlp flow;       /* flow_head: D -> hidden -> 1 (group "flow") */
    ug_mlp energy;     /* energy: D -> energy_hidden -> 1 with ELU (group "energy") */
    ug_tensor *logz;   /* log_z: a 0-d parameter (group "logZ") */
    ug_model_info info;
} bgfn;

/* ug_model_vtable entries (bgfn_traj.c). */
ug_status bgfn_sample_forward(void *self, ug_ctx *ctx, ug_rng *rng, const ug_traj_req *req, ug_traj *out);
ug_status bgfn_sample_backward(void *self, ug_ctx *ctx, ug_rng *rng, const ug_traj_req *req, ug_traj *out);
ug_status bgfn_rescore(void *self, ug_ctx *ctx, ug_traj *traj, uint32_t flags);

#endif
