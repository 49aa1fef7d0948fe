/* ddpm_steps.c — one step of the DDPM GFlowNet as densities and samplers (families.md §5), and the
 * closed-form per-step terms of its negative ELBO (model.h step_kl; Ho et al. 2020, Eq. 5-7).
 *
 * Step terms at a batch-wide step k (sampling, rescoring) and per row (step_kl, L_simple), for
 * states s [B, D]:
 *   log P_F(s_1 | s_0)      = log N(s_1; 0, I)                                       (k = 0)
 *   log P_F(s_{k+1} | s_k)  = log N(s_{k+1}; μ_θ(s_k, k), σ²_k I)                    (k >= 1)
 *                           = log DiscretizedN(c(x); μ_θ, σ²_T) on K bins at k = T for discrete x
 *   log P_B(s_k | s_{k+1})  = log N(s_k; √(1-β_k) s_{k+1}, β_k I),  c(x) for s_{T+1}   (k >= 1; 0 at k = 0)
 * Densities are over R^D, so log P_B keeps -(D/2) log(2π β_k): that is what makes φ learnable.
 *
 * The negative ELBO per step (Ho's L_T, L_{t-1}, L_0 in our index; q is P_B's forward posterior):
 *   k = 0:        KL(N(√ᾱ_1 c, (1-ᾱ_1) I) || N(0, I))
 *                 = ½ [D(1-ᾱ_1) + ᾱ_1 ||c||² - D - D log(1-ᾱ_1)]
 *   1 <= k < T:   KL(q(s_{k+1} | s_k, x) || P_F(s_{k+1} | s_k)),  q = N(μ̃, β̃_k I),
 *                 μ̃ = √ᾱ_{k+1} β_k/(1-ᾱ_k) c + √(1-β_k)(1-ᾱ_{k+1})/(1-ᾱ_k) s_k,
 *                 β̃_k = (1-ᾱ_{k+1})/(1-ᾱ_k) β_k   (Ho's Eq. 6-7 at t = T+1-k)
 *                 = ½ Σ_d [β̃/σ² - 1 + log(σ²/β̃) + (μ̃ - μ_θ)²/σ²]
 *   k = T:        -log P_F(x | s_T)   (q is the point mass at x)
 * Summed over k with s_k ~ P_B(s_k | x) they have the expectation of log P_B(τ|x) - log P_F(τ),
 * because Π_{k>=1} P_B(s_k | s_{k+1}) = P_B(s_1 | x) Π_{k=1}^{T-1} q(s_{k+1} | s_k, x) (Bayes' rule on
 * the Markov chain). q uses P_B's β (a graph in φ); μ_θ and σ² use P_F's host copies. */
#define UG_PLUGIN
#include "ddpm.h"

#include <math.h>

ug_tensor *ddpm_cx(ddpm *m, ug_ctx *ctx, ug_tensor *x) {
    if (m->kind == UG_SPACE_CONTINUOUS) return m->x_scale == 1.0f ? x : ug_mul_scalar(ctx, x, 1.0f / m->x_scale);
    return ug_add_scalar(ctx, ug_mul_scalar(ctx, x, 2.0f / (float)(m->K - 1)), -1.0f);  // [B, D] in [-1, 1]
}

ug_tensor *ddpm_net(ddpm *m, ug_ctx *ctx, ug_tensor *s, ug_tensor *t) {
    return ugm_time_mlp_forward(ctx, &m->net, s, t);  // [B, D] or [B, 2D]
}

void ddpm_pf_gauss(ddpm *m, ug_ctx *ctx, const ddpm_k *kk, ug_tensor *s, ug_tensor *out, ug_tensor **mean,
                   ug_tensor **logvar) {
    bool learned = m->var == DDPM_VAR_LEARNED;
    ug_tensor *eps = learned ? ug_slice(ctx, out, 1, 0, m->D) : out;  // [B, D] ε_θ
    *mean = ug_sub(ctx, ug_mul(ctx, s, ddpm_coef(m, ctx, kk, m->f_inv)),
                   ug_mul(ctx, eps, ddpm_coef(m, ctx, kk, m->f_eps)));  // [B, D]
    if (m->var == DDPM_VAR_BETA) {
        *logvar = ddpm_coef(m, ctx, kk, m->f_lvb);  // [] or [B, 1]
    } else if (m->var == DDPM_VAR_POSTERIOR) {
        *logvar = ddpm_coef(m, ctx, kk, m->f_lvp);
    } else {
        /* iDDPM (Nichol & Dhariwal 2021, Eq. 15): log σ² = f log β + (1 - f) log β̃, f = (v + 1)/2 */
        ug_tensor *v = ug_slice(ctx, out, 1, m->D, m->D);                        // [B, D]
        ug_tensor *f = ug_mul_scalar(ctx, ug_add_scalar(ctx, v, 1.0f), 0.5f);    // [B, D]
        ug_tensor *lp = ddpm_coef(m, ctx, kk, m->f_lvp), *lb = ddpm_coef(m, ctx, kk, m->f_lvb);
        *logvar = ug_add(ctx, lp, ug_mul(ctx, f, ug_sub(ctx, lb, lp)));          // [B, D]
    }
}

/* log P_F of x at the last step from P_F's Gaussian (mean, logvar) over c(x): a density of x, so a
 * scaled continuous x gets the Jacobian -D log x_scale. */
static ug_tensor *last_logp(ddpm *m, ug_ctx *ctx, ug_tensor *x, ug_tensor *mean, ug_tensor *logvar) {
    ug_tensor *ls = ug_mul_scalar(ctx, logvar, 0.5f);
    if (m->kind == UG_SPACE_CONTINUOUS) {
        ug_tensor *lp = ug_normal_log_prob(ctx, ddpm_cx(m, ctx, x), mean, ls);                      // [B]
        return m->x_scale == 1.0f ? lp : ug_add_scalar(ctx, lp, -(float)m->D * logf(m->x_scale));
    }
    return ug_discretized_gaussian_log_prob(ctx, ddpm_cx(m, ctx, x), mean, ls, (int)m->K);         // [B]
}

static ddpm_k batch_k(ddpm *m, ug_ctx *ctx, int64_t B, int k) {
    return (ddpm_k){.k = k, .oh = NULL, .t = ugm_fill_rows(ctx, B, (float)(m->T + 1 - k))};  // t [B]
}

ug_tensor *ddpm_log_pf(ddpm *m, ug_ctx *ctx, ug_tensor *s, ug_tensor *sp, int k) {
    if (k == 0) return ug_normal_log_prob(ctx, sp, ug_scalar(ctx, 0.0f), ug_scalar(ctx, 0.0f));  // [B]
    ddpm_k kk = batch_k(m, ctx, s->shape[0], k);
    ug_tensor *mean, *lv;
    ddpm_pf_gauss(m, ctx, &kk, s, ddpm_net(m, ctx, s, kk.t), &mean, &lv);
    if (k == m->T) return last_logp(m, ctx, sp, mean, lv);
    return ug_normal_log_prob(ctx, sp, mean, ug_mul_scalar(ctx, lv, 0.5f));  // [B]
}

ug_tensor *ddpm_log_pb(ddpm *m, ug_ctx *ctx, const ddpm_sched *sc, ug_tensor *s, ug_tensor *sp, int k) {
    if (k == 0) return ug_zeros(ctx, 1, &s->shape[0]);  // the root is s_1's only parent
    ug_tensor *b = ug_slice(ctx, sc->beta, 0, k - 1, 1);                            // [1] β_k
    ug_tensor *src = k == m->T ? ddpm_cx(m, ctx, sp) : sp;                          // [B, D]
    ug_tensor *mean = ug_mul(ctx, src, ug_sqrt(ctx, ug_rsub_scalar(ctx, b, 1.0f)));  // [B, D]
    return ug_normal_log_prob(ctx, s, mean, ug_mul_scalar(ctx, ug_log(ctx, b), 0.5f));  // [B]
}

ug_tensor *ddpm_pf_sample(ddpm *m, ug_ctx *ctx, ug_rng *rng, ug_tensor *s, int k, float temp, bool reparam,
                          ug_tensor **lpf) {
    int64_t B = s->shape[0], sh[2] = {B, m->D};
    ug_tensor *eps = ug_rand_normal(ctx, rng, 2, sh);  // [B, D]
    if (k == 0) {
        ug_tensor *sp = temp == 1.0f ? eps : ug_mul_scalar(ctx, eps, sqrtf(temp));  // [B, D] N(0, temp I)
        if (lpf) *lpf = ug_normal_log_prob(ctx, sp, ug_scalar(ctx, 0.0f), ug_scalar(ctx, 0.0f));
        return sp;
    }
    ddpm_k kk = batch_k(m, ctx, B, k);
    ug_tensor *mean, *lv;
    ddpm_pf_gauss(m, ctx, &kk, s, ddpm_net(m, ctx, s, kk.t), &mean, &lv);
    /* N(μ, σ²)^(1/temp) ∝ N(μ, temp σ²): the tempered draw; log P_F stays the untempered density. */
    ug_tensor *sd = ug_exp(ctx, ug_add_scalar(ctx, ug_mul_scalar(ctx, lv, 0.5f), 0.5f * logf(temp)));
    ug_tensor *sp = ug_add(ctx, mean, ug_mul(ctx, eps, sd));  // [B, D]
    if (k == m->T && m->kind != UG_SPACE_CONTINUOUS) {
        /* the discretized Gaussian: the bin of the draw, edge bins open, as a code 0 .. K-1 */
        ug_tensor *u = ug_mul_scalar(ctx, ug_add_scalar(ctx, ug_detach(ctx, sp), 1.0f), 0.5f * (float)(m->K - 1));
        u = ug_add_scalar(ctx, ug_clamp(ctx, u, 0.0f, (float)(m->K - 1)), 0.5f);  // >= 0: truncation floors
        sp = ug_to_f32(ctx, ug_to_i32(ctx, u));                                      // [B, D] codes
        if (lpf) *lpf = last_logp(m, ctx, sp, mean, lv);
        return sp;
    }
    if (!reparam) sp = ug_detach(ctx, sp);
    if (k == m->T && m->x_scale != 1.0f) sp = ug_mul_scalar(ctx, sp, m->x_scale);  // x = x_scale c
    if (lpf) *lpf = k == m->T ? last_logp(m, ctx, sp, mean, lv) : ug_normal_log_prob(ctx, sp, mean, ug_mul_scalar(ctx, lv, 0.5f));
    return sp;
}

ug_tensor *ddpm_pb_sample(ddpm *m, ug_ctx *ctx, ug_rng *rng, const ddpm_sched *sc, ug_tensor *sp, int k, bool reparam) {
    int64_t sh[2] = {sp->shape[0], m->D};
    ug_tensor *b = ug_slice(ctx, sc->beta, 0, k - 1, 1);    // [1] β_k
    ug_tensor *src = k == m->T ? ddpm_cx(m, ctx, sp) : sp;  // [B, D]
    ug_tensor *eps = ug_rand_normal(ctx, rng, 2, sh);       // [B, D]
    ug_tensor *s = ug_add(ctx, ug_mul(ctx, src, ug_sqrt(ctx, ug_rsub_scalar(ctx, b, 1.0f))), ug_mul(ctx, eps, ug_sqrt(ctx, b)));
    return reparam ? s : ug_detach(ctx, s);  // [B, D]
}

ug_tensor *ddpm_kl_terms(ddpm *m, ug_ctx *ctx, const ddpm_sched *sc, const ddpm_k *kk, ug_tensor *x, ug_tensor *s,
                         ug_tensor *out, bool detach_mean) {
    const int T = m->T;
    const float D = (float)m->D;
    int64_t one = 1;
    ug_tensor *c = ddpm_cx(m, ctx, x);  // [B, D]
    ug_tensor *mp, *lvp;
    ddpm_pf_gauss(m, ctx, kk, s, out, &mp, &lvp);  // [B, D], [B, 1] or [B, D]
    if (detach_mean) mp = ug_detach(ctx, mp);

    /* P_B's posterior q(s_{k+1} | s_k, x) as [T] vectors (index k - 1), a graph in φ. */
    ug_tensor *ab = ug_exp(ctx, sc->log_ab);                                                  // [T] ᾱ_k
    ug_tensor *parts[2] = {ug_slice(ctx, ab, 0, 1, T - 1), ug_full(ctx, 1, &one, 1.0f)};
    ug_tensor *abn = ug_concat(ctx, parts, 2, 0);                                              // [T] ᾱ_{k+1}
    ug_tensor *om = ug_rsub_scalar(ctx, ab, 1.0f);                                             // [T] 1 - ᾱ_k
    ug_tensor *omn = ug_rsub_scalar(ctx, abn, 1.0f);                                           // [T] 1 - ᾱ_{k+1}
    ug_tensor *c1 = ug_div(ctx, ug_mul(ctx, ug_sqrt(ctx, abn), sc->beta), om);                 // [T]
    ug_tensor *c2 = ug_div(ctx, ug_mul(ctx, ug_sqrt(ctx, ug_rsub_scalar(ctx, sc->beta, 1.0f)), omn), om);
    ug_tensor *vq = ug_div(ctx, ug_mul(ctx, omn, sc->beta), om);                               // [T] β̃_k
    /* β̃_T = 0 (q is a point mass there): that row's term is the decoder's, so give it a harmless 1 */
    ug_tensor *vparts[2] = {ug_slice(ctx, vq, 0, 0, T - 1), ug_full(ctx, 1, &one, 1.0f)};
    vq = ug_concat(ctx, vparts, 2, 0);
    ug_tensor *c1r = ugm_by_row(ctx, kk->oh, ddpm_table(ctx, c1, T, 0.0f));                    // [B, 1]
    ug_tensor *c2r = ugm_by_row(ctx, kk->oh, ddpm_table(ctx, c2, T, 1.0f));                    // [B, 1]
    ug_tensor *lvq = ug_log(ctx, ugm_by_row(ctx, kk->oh, ddpm_table(ctx, vq, T, 1.0f)));       // [B, 1]
    ug_tensor *mq = ug_add(ctx, ug_mul(ctx, c, c1r), ug_mul(ctx, s, c2r));                     // [B, D] μ̃

    /* 1 <= k < T: ½ Σ_d [e^{lvq - lvp} - 1 + lvp - lvq + (μ̃ - μ_θ)² e^{-lvp}] */
    ug_tensor *dl = ug_sub(ctx, lvq, lvp);
    ug_tensor *quad = ug_mul(ctx, ug_square(ctx, ug_sub(ctx, mq, mp)), ug_exp(ctx, ug_neg(ctx, lvp)));  // [B, D]
    ug_tensor *el = ug_add(ctx, quad, ug_sub(ctx, ug_add_scalar(ctx, ug_exp(ctx, dl), -1.0f), dl));      // [B, D]
    ug_tensor *mid = ug_mul_scalar(ctx, ug_sum(ctx, el, 1, false), 0.5f);                               // [B]
    /* k = T: -log P_F(x | s_T) */
    ug_tensor *last = ug_neg(ctx, last_logp(m, ctx, x, mp, lvp));                                       // [B]
    /* k = 0: KL of the prior step */
    ug_tensor *ab1 = ug_slice(ctx, ab, 0, 0, 1);                                                       // [1]
    ug_tensor *cc = ug_sum(ctx, ug_square(ctx, c), 1, false);                                           // [B]
    ug_tensor *first = ug_add(ctx, ug_mul(ctx, ab1, cc),
                              ug_mul_scalar(ctx, ug_sub(ctx, ug_neg(ctx, ab1), ug_log1p(ctx, ug_neg(ctx, ab1))), D));
    first = ug_mul_scalar(ctx, first, 0.5f);  // [B] ½ [ᾱ_1 ||c||² + D(-ᾱ_1 - log(1 - ᾱ_1))]

    ug_tensor *m0 = ug_eq(ctx, kk->t, ug_scalar(ctx, (float)(T + 1)));  // [B] k = 0
    ug_tensor *mT = ug_eq(ctx, kk->t, ug_scalar(ctx, 1.0f));            // [B] k = T
    ug_tensor *mm = ug_rsub_scalar(ctx, ug_add(ctx, m0, mT), 1.0f);     // [B] 1 <= k < T
    return ug_add(ctx, ug_add(ctx, ug_mul(ctx, m0, first), ug_mul(ctx, mT, last)), ug_mul(ctx, mm, mid));  // [B]
}
