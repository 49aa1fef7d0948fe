/* sb_traj.c — the `sb` model's trajectories: its two Gaussian step densities, forward sampling with
 * P_F (from the prior root or from any index), backward sampling with P_B (from x or any index) and
 * rescoring from states. The model and its math are in sb.c; the conventions (indices, root step,
 * detached states, tempering, rescore from states) are docs/families.md §0.
 *
 *   step 0:      P_F(s_1) = N(0, I),                        log_pb[0] = 0 (the root is the only parent)
 *   step k >= 1: P_F(s_{k+1} | s_k)  = N(s_k + beta_k g_theta(s_k, k), beta_k I)
 *                P_B(s_k | s_{k+1})  = N(a_k s_{k+1} + beta_k h_phi(s_{k+1}, k), beta_k I)
 * with a_k = sqrt(1 - beta_k) for the VP reference and 1 without one; g and h are the networks.
 *
 * Memory: with grad off (evaluation, the frozen half of IPF under a no-grad caller) each step's network
 * activations are released once its state and terms are copied out (scoped step memory, tensor.h), so
 * a T-step chain over a large batch holds one step's activations instead of T. */
#define UG_PLUGIN
#include "unigfn/plugin.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sb.h"

/* The step index k as a [B] time input of the networks (the whole batch shares it). */
static ug_tensor *step_time(ug_ctx *ctx, int64_t B, int k) { return ugm_fill_rows(ctx, B, (float)k); }

/* P_F's mean at step k >= 1: s_k + mu_theta(s_k, k), mu = beta_k g_theta (sb.c). s [B, D] -> [B, D]. */
static ug_tensor *pf_mean(const sb *m, ug_ctx *ctx, ug_tensor *s, int k) {
    ug_tensor *g = ugm_time_mlp_forward(ctx, &m->mu, s, step_time(ctx, s->shape[0], k));  // [B, D]
    return ug_add(ctx, s, ug_mul_scalar(ctx, g, m->beta[k]));
}

/* P_B's mean at step k >= 1: a_k s_{k+1} + nu_phi(s_{k+1}, k), nu = beta_k h_phi. sp [B, D] -> [B, D]. */
static ug_tensor *pb_mean(const sb *m, ug_ctx *ctx, ug_tensor *sp, int k) {
    ug_tensor *base = m->ref_a[k] == 1.0f ? sp : ug_mul_scalar(ctx, sp, m->ref_a[k]);  // [B, D]
    ug_tensor *h = ugm_time_mlp_forward(ctx, &m->nu, sp, step_time(ctx, sp->shape[0], k));  // [B, D]
    return ug_add(ctx, base, ug_mul_scalar(ctx, h, m->beta[k]));
}

/* log N(y; mean, var I) summed over the D coordinates: [B]. mean may be a 0-d scalar. */
static ug_tensor *gauss(ug_ctx *ctx, ug_tensor *y, ug_tensor *mean, float var) {
    return ug_normal_log_prob(ctx, y, mean, ug_scalar(ctx, 0.5f * logf(var)));
}

ug_tensor *sb_log_pf(const sb *m, ug_ctx *ctx, ug_tensor *s, ug_tensor *sp, int k) {
    if (k == 0) return gauss(ctx, sp, ug_scalar(ctx, 0.0f), 1.0f);  // the prior N(0, I)
    return gauss(ctx, sp, pf_mean(m, ctx, s, k), m->beta[k]);
}

ug_tensor *sb_log_pb(const sb *m, ug_ctx *ctx, ug_tensor *s, ug_tensor *sp, int k) {
    if (k == 0) return ug_zeros(ctx, 1, &sp->shape[0]);  // the root: a [B] zero for the objectives' sums
    return gauss(ctx, s, pb_mean(m, ctx, sp, k), m->beta[k]);
}

/* Where a step's results go. Scoped (grad off): into tensors made before the step's mark, after
 * which the step's activations are released; otherwise the results themselves are kept. */
typedef struct keeper {
    bool scoped;
    ug_tensor **states, **lpf, **lpb;  /* the trajectory's arrays */
} keeper;

/* Prepare the scoped copies: states [B, D] at every index but `given` (the request's start, kept as
 * is), and [B] terms for the steps whose terms are wanted. */
static ug_status keeper_init(keeper *kp, ug_ctx *ctx, ug_traj *out, int64_t B, int D, int given, uint32_t flags) {
    kp->scoped = !ug_grad_enabled(ctx);
    kp->states = out->extra;
    kp->lpf = out->log_pf;
    kp->lpb = out->log_pb;
    if (!kp->scoped) return UG_OK;
    for (int i = 0; i <= out->steps; i++)
        if (i != given && !(kp->states[i] = ug_new2(ctx, B, D))) return ug_ctx_status(ctx);
    for (int t = 0; t < out->steps; t++) {
        if (!(flags & UG_TRAJ_NO_PF) && !(kp->lpf[t] = ug_new1(ctx, B))) return ug_ctx_status(ctx);
        if (!(flags & UG_TRAJ_NO_PB) && !(kp->lpb[t] = ug_new1(ctx, B))) return ug_ctx_status(ctx);
    }
    return UG_OK;
}

/* Store state index i and step t's terms (NULL: not wanted), then release the step's memory. */
static ug_status keep(keeper *kp, ug_ctx *ctx, ug_mark mark, int i, ug_tensor *state, int t, ug_tensor *lpf,
                      ug_tensor *lpb) {
    if (ug_ctx_status(ctx)) return ug_ctx_status(ctx);
    if (!kp->scoped) {
        kp->states[i] = state;
        if (lpf) kp->lpf[t] = lpf;
        if (lpb) kp->lpb[t] = lpb;
        return UG_OK;
    }
    if (ug_copy_into(ctx, kp->states[i], state)) return ug_ctx_status(ctx);
    if (lpf && ug_copy_into(ctx, kp->lpf[t], lpf)) return ug_ctx_status(ctx);
    if (lpb && ug_copy_into(ctx, kp->lpb[t], lpb)) return ug_ctx_status(ctx);
    ug_arena_release(ctx, mark);
    return UG_OK;
}

static bool check_states(const sb *m, ug_ctx *ctx, const ug_tensor *s, const char *who) {
    char w[64];
    snprintf(w, sizeof w, "sb.%s", who);
    return ugm_check_states(ctx, s, m->D, w);
}

ug_status sb_sample_forward(void *self, ug_ctx *ctx, ug_rng *rng, const ug_traj_req *req, ug_traj *out) {
    sb *m = self;
    const int n = m->T + 1;
    int i0 = req->start ? req->start_index : 0;
    if (req->explore > 0)
        return ug_ctx_fail(ctx, UG_ERR_UNSUPPORTED, "sb.sample_forward: explore %g has no meaning for Gaussian steps",
                           (double)req->explore);
    if (req->flags & UG_TRAJ_ANCHOR)
        return ug_ctx_fail(ctx, UG_ERR_UNSUPPORTED, "sb.sample_forward: UG_TRAJ_ANCHOR is for backward requests (and sb "
                                                    "has no closed-form marginal of its learned P_B)");
    if (req->start && !check_states(m, ctx, req->start, "sample_forward")) return ug_ctx_status(ctx);
    int64_t B = req->start ? req->start->shape[0] : req->batch;
    if (B <= 0) return ug_ctx_fail(ctx, UG_ERR_ARG, "sb.sample_forward: batch %lld", (long long)B);
    int steps = req->steps < 0 ? n - i0 : req->steps;
    if (i0 < 0 || steps < 0 || i0 + steps > n)
        return ug_ctx_fail(ctx, UG_ERR_ARG, "sb.sample_forward: %d steps from start_index %d (horizon %d)", steps, i0, n);
    /* N(mu, var)^(1/temp) is N(mu, temp var): the prior's variance and every step's are scaled;
     * the recorded terms stay those of the untempered policy (model.h). */
    const float temp = req->temperature > 0 ? req->temperature : 1.0f;
    const bool reparam = (req->flags & UG_TRAJ_REPARAM) != 0;
    int64_t sh[2] = {B, m->D};
    if (ugm_traj_alloc(ctx, out, B, i0, steps, "sb.sample_forward")) return ug_ctx_status(ctx);
    ug_tensor *s = req->start ? req->start : ug_zeros(ctx, 2, sh);  // [B, D] s_{i0} (zeros for the root)
    out->states[0] = out->first = s;
    keeper kp;
    if (keeper_init(&kp, ctx, out, B, m->D, 0, req->flags)) return ug_ctx_status(ctx);
    for (int t = 0; t < steps; t++) {
        const int k = i0 + t;
        ug_mark mark = ug_arena_mark(ctx);
        ug_tensor *eps = ug_rand_normal(ctx, rng, 2, sh);  // [B, D]
        ug_tensor *mean = k == 0 ? NULL : pf_mean(m, ctx, s, k);  // [B, D]
        float var = k == 0 ? 1.0f : m->beta[k];
        ug_tensor *sp = ug_mul_scalar(ctx, eps, sqrtf(temp * var));  // [B, D]
        if (mean) sp = ug_add(ctx, mean, sp);
        /* States are constants unless the caller asks for pathwise gradients (model.h). */
        if (!reparam) sp = ug_detach(ctx, sp);
        ug_tensor *lpf = NULL, *lpb = NULL;  // [B]
        if (!(req->flags & UG_TRAJ_NO_PF)) lpf = gauss(ctx, sp, mean ? mean : ug_scalar(ctx, 0.0f), var);
        if (!(req->flags & UG_TRAJ_NO_PB)) lpb = sb_log_pb(m, ctx, s, sp, k);
        if (keep(&kp, ctx, mark, t + 1, sp, t, lpf, lpb)) return ug_ctx_status(ctx);
        s = out->states[t + 1];
    }
    out->last = s;
    ugm_traj_finish(out, req->flags);
    return ug_ctx_status(ctx);
}

ug_status sb_sample_backward(void *self, ug_ctx *ctx, ug_rng *rng, const ug_traj_req *req, ug_traj *out) {
    sb *m = self;
    const int n = m->T + 1;
    if (req->flags & UG_TRAJ_ANCHOR)
        return ug_ctx_fail(ctx, UG_ERR_UNSUPPORTED, "sb.sample_backward: no anchored requests (P_B is learned, its "
                                                    "marginals have no closed form)");
    if (!check_states(m, ctx, req->start, "sample_backward")) return ug_ctx_status(ctx);
    const int j = req->start_index;
    int steps = req->steps < 0 ? j : req->steps;
    if (j < 0 || j > n || steps < 0 || steps > j)
        return ug_ctx_fail(ctx, UG_ERR_ARG, "sb.sample_backward: %d steps back from start_index %d (horizon %d)", steps, j, n);
    /* temperature: P_B is not tempered (model.h defines it for forward, off-policy sampling). */
    const bool reparam = (req->flags & UG_TRAJ_REPARAM) != 0;
    int64_t B = req->start->shape[0], sh[2] = {B, m->D};
    if (ugm_traj_alloc(ctx, out, B, j - steps, steps, "sb.sample_backward")) return ug_ctx_status(ctx);
    ug_tensor *sp = req->start;  // [B, D] s_j
    out->states[steps] = out->last = sp;
    keeper kp;
    if (keeper_init(&kp, ctx, out, B, m->D, steps, req->flags)) return ug_ctx_status(ctx);
    for (int t = 0; t < steps; t++) {
        const int k = j - 1 - t, local = steps - 1 - t;  // step k: s_k -> s_{k+1} = sp
        ug_mark mark = ug_arena_mark(ctx);
        ug_tensor *s, *lpb = NULL, *lpf = NULL;
        if (k == 0) {
            s = ug_zeros(ctx, 2, sh);  // [B, D] the root (never read)
            if (!(req->flags & UG_TRAJ_NO_PB)) lpb = ug_zeros(ctx, 1, &B);
        } else {
            ug_tensor *mean = pb_mean(m, ctx, sp, k);                                                   // [B, D]
            s = ug_add(ctx, mean, ug_mul_scalar(ctx, ug_rand_normal(ctx, rng, 2, sh), sqrtf(m->beta[k])));  // [B, D]
            if (!reparam) s = ug_detach(ctx, s);
            if (!(req->flags & UG_TRAJ_NO_PB)) lpb = gauss(ctx, s, mean, m->beta[k]);
        }
        if (!(req->flags & UG_TRAJ_NO_PF)) lpf = sb_log_pf(m, ctx, s, sp, k);
        if (keep(&kp, ctx, mark, local, s, local, lpf, lpb)) return ug_ctx_status(ctx);
        sp = out->states[local];
    }
    out->first = sp;
    ugm_traj_finish(out, req->flags);
    return ug_ctx_status(ctx);
}

/* Recompute the terms from the states (traj->states, or the copy kept in extra): a trajectory, or any
 * sub-trajectory of one, sampled in either direction. */
ug_status sb_rescore(void *self, ug_ctx *ctx, ug_traj *traj, uint32_t flags) {
    sb *m = self;
    ug_tensor **states = traj->states ? traj->states : traj->extra;
    if (!states || traj->start < 0 || traj->steps < 0 || traj->start + traj->steps > m->T + 1)
        return ug_ctx_fail(ctx, UG_ERR_ARG, "sb.rescore: needs the trajectory's states (sample with UG_TRAJ_KEEP_STATES) "
                           "and indices within 0 .. %d (got start %d, %d steps)", m->T + 1, traj->start, traj->steps);
    size_t np = sizeof(ug_tensor *) * (size_t)(traj->steps > 0 ? traj->steps : 1);
    for (int pf = 0; pf < 2; pf++) {
        ug_tensor ***terms = pf ? &traj->log_pf : &traj->log_pb;
        if (*terms) continue;
        if (!(*terms = ug_arena_alloc(ctx, np))) return ug_ctx_fail(ctx, UG_ERR_NOMEM, "sb.rescore: out of step memory");
        memset(*terms, 0, np);  // entries the flags exclude stay NULL
    }
    for (int t = 0; t < traj->steps; t++) {
        int k = traj->start + t;
        /* the root's tensor (k = 0) is never read */
        if ((k > 0 && !check_states(m, ctx, states[t], "rescore")) || !check_states(m, ctx, states[t + 1], "rescore"))
            return ug_ctx_status(ctx);
        if (!(flags & UG_TRAJ_NO_PF)) traj->log_pf[t] = sb_log_pf(m, ctx, states[t], states[t + 1], k);
        if (!(flags & UG_TRAJ_NO_PB)) traj->log_pb[t] = sb_log_pb(m, ctx, states[t], states[t + 1], k);
    }
    return ug_ctx_status(ctx);
}
