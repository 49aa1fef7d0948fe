/* hvae_traj.c — the HVAE's trajectory requests (model.h): forward sampling (the top-down decoder,
 * P_F), backward sampling (the bottom-up encoder, P_B) and rescoring from states.
 *
 * Indices (families.md C1, C2): step k goes from s_k to s_{k+1}; step 0 draws z_1 from the prior with
 * log_pb[0] = 0; the root s_0 is zeros shaped like z_1 and never read. State widths differ by index
 * (C5): width[k] is checked on every state handed in. Both directions serve partial requests (cap
 * partial): forward from any index i0 (start NULL means the root), backward from any index j down
 * `steps` steps. `temperature` T multiplies the variances of the latent steps 0..n-2 (C7; the
 * prior's included); the decoder, Gaussian or Bernoulli, is sampled untempered, as temperature
 * sampling of VAEs usually goes (backward requests are on-policy, model.h). `explore` has no
 * meaning for Gaussian steps and is refused. Anchored
 * requests are refused: a nonlinear encoder has no closed-form marginal q(z_k | x). The terms recorded
 * are the untempered policy's. The states are kept in `extra` (ugm_traj_alloc) and given out with
 * UG_TRAJ_KEEP_STATES; rescore needs them (C8). */
#define UG_PLUGIN
#include "hvae.h"

#include <stdio.h>

#include "../cont_common.h"

/* s must be F32 [B, width[index]]. */
static bool check_state(const hvae *m, ug_ctx *ctx, const ug_tensor *s, int index, const char *who) {
    char w[96];
    snprintf(w, sizeof w, "hvae.%s (state index %d of 0..%d)", who, index, m->n);
    return ugm_check_states(ctx, s, m->width[index], w);
}

ug_status hvae_sample_forward(void *self, ug_ctx *ctx, ug_rng *rng, const ug_traj_req *req, ug_traj *out) {
    hvae *m = self;
    const char *who = "hvae.sample_forward";
    if (req->explore > 0)
        return ug_ctx_fail(ctx, UG_ERR_UNSUPPORTED, "%s: explore %g: an HVAE's steps are Gaussian (no finite action set)",
                           who, (double)req->explore);
    if (req->flags & UG_TRAJ_ANCHOR) return ug_ctx_fail(ctx, UG_ERR_UNSUPPORTED, "%s: anchored requests are backward only", who);
    bool reparam = (req->flags & UG_TRAJ_REPARAM) != 0;
    int i0 = req->start ? req->start_index : 0;
    if (i0 < 0 || i0 > m->n) return ug_ctx_fail(ctx, UG_ERR_ARG, "%s: start index %d outside 0..%d", who, i0, m->n);
    if (req->start && !check_state(m, ctx, req->start, i0, "sample_forward")) return ug_ctx_status(ctx);
    int64_t B = req->start ? req->start->shape[0] : req->batch;
    if (B <= 0) return ug_ctx_fail(ctx, UG_ERR_ARG, "%s: batch %lld", who, (long long)B);
    int steps = req->steps < 0 ? m->n - i0 : req->steps;
    if (i0 + steps > m->n) return ug_ctx_fail(ctx, UG_ERR_ARG, "%s: %d steps from index %d (n = %d)", who, steps, i0, m->n);
    if (reparam && m->binary && i0 + steps == m->n)
        return ug_ctx_fail(ctx, UG_ERR_UNSUPPORTED, "%s: UG_TRAJ_REPARAM through the Bernoulli decoder (binary x)", who);
    float temp = req->temperature > 0 ? req->temperature : 1.0f;
    int64_t sh[2] = {B, m->width[0]};
    ug_tensor *s = req->start ? req->start : ug_zeros(ctx, 2, sh);  // [B, d_1] the root
    if (!s || ugm_traj_alloc(ctx, out, B, i0, steps, who)) return ug_ctx_status(ctx);
    ug_tensor **states = out->extra;
    states[0] = out->first = s;
    for (int t = 0; t < steps; t++) {
        int k = i0 + t;
        ug_tensor *lpf = NULL;
        ug_tensor *sp = hvae_sample_pf(m, ctx, rng, s, k, temp, reparam, (req->flags & UG_TRAJ_NO_PF) ? NULL : &lpf);  // [B, width[k+1]]
        out->log_pf[t] = lpf;
        if (!(req->flags & UG_TRAJ_NO_PB)) out->log_pb[t] = hvae_log_pb(m, ctx, s, sp, k);  // [B]
        states[t + 1] = s = sp;
        if (ug_ctx_status(ctx)) return ug_ctx_status(ctx);
    }
    out->last = s;
    ugm_traj_finish(out, req->flags);
    return ug_ctx_status(ctx);
}

ug_status hvae_sample_backward(void *self, ug_ctx *ctx, ug_rng *rng, const ug_traj_req *req, ug_traj *out) {
    hvae *m = self;
    const char *who = "hvae.sample_backward";
    if (req->flags & UG_TRAJ_ANCHOR)
        return ug_ctx_fail(ctx, UG_ERR_UNSUPPORTED, "%s: anchored requests need closed-form marginals q(z_k | x); "
                           "hvae has none (a nonlinear encoder has none to give)", who);
    bool reparam = (req->flags & UG_TRAJ_REPARAM) != 0;
    int j = req->start_index;
    if (j < 0 || j > m->n) return ug_ctx_fail(ctx, UG_ERR_ARG, "%s: start index %d outside 0..%d", who, j, m->n);
    if (!check_state(m, ctx, req->start, j, "sample_backward")) return ug_ctx_status(ctx);
    int steps = req->steps < 0 ? j : req->steps;
    if (steps > j) return ug_ctx_fail(ctx, UG_ERR_ARG, "%s: %d steps from index %d (n = %d)", who, steps, j, m->n);
    int64_t B = req->start->shape[0], sh[2] = {B, m->width[0]};
    if (ugm_traj_alloc(ctx, out, B, j - steps, steps, who)) return ug_ctx_status(ctx);
    ug_tensor **states = out->extra;
    ug_tensor *sp = req->start;  // s_{k+1}
    states[steps] = out->last = sp;
    for (int t = 0; t < steps; t++) {
        int k = j - 1 - t, local = steps - 1 - t;  // step k: s_k -> s_{k+1} = sp
        ug_tensor *s, *lpb = NULL;
        bool want_pb = !(req->flags & UG_TRAJ_NO_PB);
        if (k == 0) {
            s = ug_zeros(ctx, 2, sh);  // [B, d_1] the root
            if (want_pb) lpb = hvae_log_pb(m, ctx, s, sp, 0);
        } else {
            s = hvae_sample_pb(m, ctx, rng, sp, k, reparam, want_pb ? &lpb : NULL);  // [B, d_k]
        }
        out->log_pb[local] = lpb;
        if (!(req->flags & UG_TRAJ_NO_PF)) out->log_pf[local] = hvae_log_pf(m, ctx, s, sp, k);  // [B]
        states[local] = sp = s;
        if (ug_ctx_status(ctx)) return ug_ctx_status(ctx);
    }
    out->first = sp;
    ugm_traj_finish(out, req->flags);
    return ug_ctx_status(ctx);
}

ug_status hvae_rescore(void *self, ug_ctx *ctx, ug_traj *traj, uint32_t flags) {
    hvae *m = self;
    const char *who = "hvae.rescore";
    ug_tensor **states = traj->states ? traj->states : traj->extra;
    if (!states) return ug_ctx_fail(ctx, UG_ERR_ARG, "%s: needs the trajectory's states (sample with UG_TRAJ_KEEP_STATES)", who);
    if (traj->start < 0 || traj->steps < 0 || traj->start + traj->steps > m->n)
        return ug_ctx_fail(ctx, UG_ERR_ARG, "%s: steps %d from index %d (n = %d)", who, traj->steps, traj->start, m->n);
    size_t np = sizeof(ug_tensor *) * (size_t)(traj->steps > 0 ? traj->steps : 1);
    if (!traj->log_pf && !(traj->log_pf = ug_arena_alloc(ctx, np))) return ug_ctx_fail(ctx, UG_ERR_NOMEM, "%s", who);
    if (!traj->log_pb && !(traj->log_pb = ug_arena_alloc(ctx, np))) return ug_ctx_fail(ctx, UG_ERR_NOMEM, "%s", who);
    for (int t = 0; t < traj->steps; t++) {
        int k = traj->start + t;
        if (!check_state(m, ctx, states[t], k, "rescore") || !check_state(m, ctx, states[t + 1], k + 1, "rescore"))
            return ug_ctx_status(ctx);
        if (!(flags & UG_TRAJ_NO_PF)) traj->log_pf[t] = hvae_log_pf(m, ctx, states[t], states[t + 1], k);
        if (!(flags & UG_TRAJ_NO_PB)) traj->log_pb[t] = hvae_log_pb(m, ctx, states[t], states[t + 1], k);
    }
    return ug_ctx_status(ctx);
}
