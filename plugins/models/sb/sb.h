/* sb.h — the state of the `sb` model (discrete-time Schrödinger bridge, sb.c) and the per-step pieces
 * its trajectory code (sb_traj.c) shares with it. Private to this plugin: sb.c explains the math. */
#ifndef UG_MODELS_SB_H
#define UG_MODELS_SB_H

#include <stdbool.h>
#include <stdint.h>

#include "../cont_common.h"

#define SB_MAX_STEPS 1000

typedef enum sb_reference { SB_REF_VP = 0, SB_REF_NONE = 1 } sb_reference;

typedef struct sb {
    int D, T;                     /* dimension; steps k = 1..T between the prior s_1 and x = s_{T+1} */
    sb_reference ref;             /* P_B's fixed part (the reference noising step) */
    float beta[SB_MAX_STEPS + 1]; /* beta[k] = sigma_k^2, k = 1..T (beta[0] unused) */
    float ref_a[SB_MAX_STEPS + 1];/* reference mean coefficient: P_B mean = ref_a[k] s_{k+1} + net (1 or sqrt(1 - beta)) */
    ugm_time_mlp mu;              /* g_theta: P_F's drift is beta_k g_theta(s_k, k), group "forward" */
    ugm_time_mlp nu;              /* h_phi: P_B's correction is beta_k h_phi(s_{k+1}, k), group "backward" */
} sb;

/* Step k's log densities (sb_traj.c). s = s_k, sp = s_{k+1}, both [B, D]; k = 0 is the prior step. */
ug_tensor *sb_log_pf(const sb *m, ug_ctx *ctx, ug_tensor *s, ug_tensor *sp, int k);  // [B]
ug_tensor *sb_log_pb(const sb *m, ug_ctx *ctx, ug_tensor *s, ug_tensor *sp, int k);  // [B]

ug_status sb_sample_forward(void *self, ug_ctx *ctx, ug_rng *rng, const ug_traj_req *req, ug_traj *out);
ug_status sb_sample_backward(void *self, ug_ctx *ctx, ug_rng *rng, const ug_traj_req *req, ug_traj *out);
ug_status sb_rescore(void *self, ug_ctx *ctx, ug_traj *traj, uint32_t flags);

#endif
