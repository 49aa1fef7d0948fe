/* d3pm_steps.c — one step of the D3PM GFlowNet as masses and samplers (families.md §6; d3pm.h states the
 * family), and the closed-form per-step terms of its negative ELBO (model.h step_kl; Austin et al.'s
 * L_vb, their Eq. 5).
 *
 * Every step term is built from one table per coordinate over the next state's value j:
 *   log a_j = log Q_k[j, s_{k,d}]              (the P_B mass of s_k from s_{k+1} = j)
 *   log b_j = log (p Q̄_{k+1})_j                (p = p̃_θ(·|s_k) for P_F, onehot(x) for the posterior)
 *   uniform:   a = β/K off s_k, 1 - β + β/K at s_k;  b_j = ᾱ_{k+1} p_j + (1 - ᾱ_{k+1})/K
 *   absorbing: s_k a value v: a = 1 - β at j = v, 0 elsewhere; s_k = [MASK]: a = β for a value, 1 for
 *              [MASK];  b_j = ᾱ_{k+1} p_j for a value, 1 - ᾱ_{k+1} for [MASK]
 * and the step's distribution over j is softmax(log a + log b) (Austin's Eq. 4 for P_F; Bayes' rule
 * q(s_{k+1} | s_k, x) ∝ q(s_k | s_{k+1}) q(s_{k+1} | x) for the posterior). Hence
 *   log P_F(s_{k+1} | s_k) = Σ_d log softmax(log a + log b̃)[s_{k+1,d}]       (k >= 1; b̃ from p̃_θ)
 *   log P_F(s_1 | s_0)     = -D log K (uniform), 0 (absorbing: s_1 is all-MASK)
 *   log P_B(s_k | s_{k+1}) = Σ_d log a[s_{k+1,d}]                             (k >= 1; 0 at k = 0)
 * The negative ELBO's terms (step_kl):
 *   k = 0:        KL(P_B(s_1 | x) || P_F(s_1 | s_0)): uniform D [p log(K p) + (K-1) r log(K r)] with
 *                 p = ᾱ_1 + (1-ᾱ_1)/K, r = (1-ᾱ_1)/K; absorbing 0 (both are all-MASK)
 *   1 <= k <= T:  Σ_d KL(q(s_{k+1,d} | s_k, x) || μ_θ(·|s_k)_d); at k = T, Q̄_{T+1} = I makes q the
 *                 point mass at x and the term -log P_F(x | s_T)
 * Summed over k with s_k ~ P_B(s_k | x) they have the expectation of log P_B(τ|x) - log P_F(τ), because
 * Π_{k>=1} P_B(s_k | s_{k+1}) = P_B(s_1 | x) Π_{k=1}^{T} q(s_{k+1} | s_k, x) on the Markov chain. q uses
 * P_B's columns (a graph in φ); μ_θ P_F's constants. */
#define UG_PLUGIN
#include "d3pm.h"

#include <math.h>
#include <stdio.h>

ug_tensor *d3pm_x0_logp(d3pm *m, ug_ctx *ctx, ug_tensor *s, const d3pm_k *kk) {
    int64_t B = s->shape[0], sh2[2] = {B, m->D * m->Ks}, sh3[3] = {B, m->D, m->K};
    ug_tensor *oh = ug_one_hot(ctx, ug_to_i32(ctx, s), m->Ks);                                   // [B, D, Ks]
    ug_tensor *out = ugm_time_mlp_forward(ctx, &m->net, ug_reshape(ctx, oh, 2, sh2), kk->t);      // [B, D·K]
    return ug_log_softmax(ctx, ug_reshape(ctx, out, 3, sh3), 2);                                 // [B, D, K]
}

/* [1, 1, Ks]: 1 for a value, 0 for [MASK] (absorbing). */
static ug_tensor *value_row(d3pm *m, ug_ctx *ctx) {
    int64_t sh[3] = {1, 1, m->Ks};
    ug_tensor *r = ug_full(ctx, 3, sh, 1.0f);
    return ug_pad(ctx, ug_slice(ctx, r, 2, 0, m->K), (const int64_t[]){0, 0, 0, 0, 0, 1}, 0.0f);
}

ug_tensor *d3pm_log_a(d3pm *m, ug_ctx *ctx, ug_tensor *s, const d3pm_cols *c, const d3pm_k *kk) {
    ug_tensor *oh = ug_one_hot(ctx, ug_to_i32(ctx, s), m->Ks);                 // [B, D, Ks]
    ug_tensor *a1 = d3pm_coef(ctx, c->a1, kk), *a2 = d3pm_coef(ctx, c->a2, kk);  // [*, 1, 1]
    if (m->kernel == D3PM_UNIFORM) return ug_where(ctx, oh, a2, a1);           // [B, D, K]
    ug_tensor *keep = ug_where(ctx, oh, a2, ug_scalar(ctx, D3PM_NEG));          // a value: kept or nothing
    ug_tensor *from_mask = ug_where(ctx, value_row(m, ctx), a1, ug_scalar(ctx, 0.0f));  // [*, 1, Ks]
    ug_tensor *mk = ug_slice(ctx, oh, 2, m->K, 1);                              // [B, D, 1] s is [MASK]
    return ug_where(ctx, mk, from_mask, keep);                                  // [B, D, Ks]
}

ug_tensor *d3pm_next_logits(d3pm *m, ug_ctx *ctx, ug_tensor *s, ug_tensor *logp, const d3pm_cols *c, const d3pm_k *kk) {
    const int64_t B = s->shape[0], D = m->D, K = m->K;
    ug_tensor *la = d3pm_log_a(m, ctx, s, c, kk);                                // [B, D, Ks]
    ug_tensor *m1 = d3pm_coef(ctx, c->m1, kk), *m2 = d3pm_coef(ctx, c->m2, kk);  // [*, 1, 1]
    ug_tensor *u = ug_add(ctx, logp, m1);                                        // [B, D, K] log ᾱ p_j
    ug_tensor *lb;
    if (m->kernel == D3PM_UNIFORM) {
        /* log(ᾱ p_j + (1-ᾱ)/K) as a logsumexp of the pair, finite when either part is a zero */
        lb = ug_logaddexp(ctx, u, ug_add_scalar(ctx, m2, -logf((float)K)));       // [B, D, K]
    } else {
        int64_t s3[3] = {B, D, 1};
        ug_tensor *parts[2] = {u, ug_expand(ctx, m2, 3, s3)};
        lb = ug_concat(ctx, parts, 2, 2);                                        // [B, D, K+1]
    }
    return ug_add(ctx, la, lb);                                                  // [B, D, Ks]
}

ug_tensor *d3pm_log_onehot(d3pm *m, ug_ctx *ctx, ug_tensor *x) {
    return ug_where(ctx, ug_one_hot(ctx, ug_to_i32(ctx, x), m->K), ug_scalar(ctx, 0.0f), ug_scalar(ctx, D3PM_NEG));
}

ug_tensor *d3pm_pick(ug_ctx *ctx, ug_tensor *lp, ug_tensor *v) {
    int64_t B = v->shape[0], D = v->shape[1], s3[3] = {B, D, 1}, s2[2] = {B, D};
    ug_tensor *g = ug_gather(ctx, lp, 2, ug_reshape(ctx, ug_to_i32(ctx, v), 3, s3));  // [B, D, 1]
    return ug_sum(ctx, ug_reshape(ctx, g, 2, s2), 1, false);                          // [B]
}

/* log P_F of step 0 for B rows: [B]. */
static ug_tensor *root_log_pf(d3pm *m, ug_ctx *ctx, int64_t B) {
    return ugm_fill_rows(ctx, B, m->kernel == D3PM_UNIFORM ? -(float)((double)m->D * log((double)m->K)) : 0.0f);
}

ug_tensor *d3pm_log_pf(d3pm *m, ug_ctx *ctx, const d3pm_sched *sc, ug_tensor *s, ug_tensor *sp, int k) {
    if (k == 0) return root_log_pf(m, ctx, sp->shape[0]);
    d3pm_k kk = d3pm_batch_k(m, ctx, s->shape[0], k);
    ug_tensor *lg = d3pm_next_logits(m, ctx, s, d3pm_x0_logp(m, ctx, s, &kk), &sc->pf, &kk);  // [B, D, Ks]
    return d3pm_pick(ctx, ug_log_softmax(ctx, lg, 2), sp);                                    // [B]
}

ug_tensor *d3pm_log_pb(d3pm *m, ug_ctx *ctx, const d3pm_sched *sc, ug_tensor *s, ug_tensor *sp, int k) {
    if (k == 0) return ug_zeros(ctx, 1, &s->shape[0]);  // the root is s_1's only parent
    d3pm_k kk = d3pm_batch_k(m, ctx, s->shape[0], k);
    return d3pm_pick(ctx, d3pm_log_a(m, ctx, s, &sc->pb, &kk), sp);  // [B]
}

/* Codes uniform over 0 .. K-1, [B, D] (a truncated U[0,1)·K, clamped against rounding up to K). */
static ug_tensor *uniform_codes(d3pm *m, ug_ctx *ctx, ug_rng *rng, int64_t B) {
    int64_t sh[2] = {B, m->D};
    ug_tensor *u = ug_mul_scalar(ctx, ug_rand_uniform(ctx, rng, 2, sh), (float)m->K);
    return ug_clamp(ctx, ug_to_f32(ctx, ug_to_i32(ctx, u)), 0.0f, (float)(m->K - 1));
}

ug_tensor *d3pm_pf_sample(d3pm *m, ug_ctx *ctx, ug_rng *rng, const d3pm_sched *sc, ug_tensor *s, int k, float temp,
                          float explore, ug_tensor **lpf) {
    const int64_t B = s->shape[0], D = m->D, Ks = m->Ks, sh[2] = {B, D}, flat[2] = {B * D, Ks};
    if (k == 0) {
        /* the stationary law (tempering a uniform law leaves it uniform), or the all-MASK Dirac */
        ug_tensor *sp = m->kernel == D3PM_UNIFORM ? uniform_codes(m, ctx, rng, B) : ug_full(ctx, 2, sh, (float)m->K);
        if (lpf) *lpf = root_log_pf(m, ctx, B);
        return sp;
    }
    d3pm_k kk = d3pm_batch_k(m, ctx, B, k);
    ug_tensor *lg = d3pm_next_logits(m, ctx, s, d3pm_x0_logp(m, ctx, s, &kk), &sc->pf, &kk);  // [B, D, Ks]
    ug_tensor *fl = ug_reshape(ctx, ug_detach(ctx, lg), 2, flat);                               // [B·D, Ks]
    /* structural zeros are excluded by a mask, so no temperature can give them mass */
    ug_tensor *supp = ug_gt(ctx, fl, ug_scalar(ctx, 0.5f * D3PM_NEG));                          // [B·D, Ks]
    ug_tensor *lt = temp == 1.0f ? fl : ug_mul_scalar(ctx, fl, 1.0f / temp);
    ug_tensor *v = ug_to_f32(ctx, ug_sample_categorical(ctx, rng, lt, supp));                   // [B·D]
    if (explore > 0.0f) {
        int64_t n = B * D;
        ug_tensor *alt = ug_sample_categorical(ctx, rng, ug_zeros(ctx, 2, flat), supp);         // uniform on the support
        ug_tensor *coin = ug_lt(ctx, ug_rand_uniform(ctx, rng, 1, &n), ug_scalar(ctx, explore));
        v = ug_where(ctx, coin, ug_to_f32(ctx, alt), v);
    }
    ug_tensor *sp = ug_reshape(ctx, v, 2, sh);  // [B, D] codes
    if (lpf) *lpf = d3pm_pick(ctx, ug_log_softmax(ctx, lg, 2), sp);
    return sp;
}

ug_tensor *d3pm_pb_sample(d3pm *m, ug_ctx *ctx, ug_rng *rng, ug_tensor *sp, int k) {
    const int64_t B = sp->shape[0], sh[2] = {B, m->D};
    ug_tensor *flip = ug_lt(ctx, ug_rand_uniform(ctx, rng, 2, sh), ug_scalar(ctx, (float)m->hb[k]));  // [B, D]
    /* uniform: with β_k redraw uniformly (Q_k's mixture); absorbing: with β_k mask (masks stay) */
    ug_tensor *noise = m->kernel == D3PM_UNIFORM ? uniform_codes(m, ctx, rng, B) : ug_scalar(ctx, (float)m->K);
    return ug_where(ctx, flip, noise, sp);  // [B, D]
}

ug_tensor *d3pm_marginal_sample(d3pm *m, ug_ctx *ctx, ug_rng *rng, ug_tensor *x, const int32_t *kh) {
    const int64_t B = x->shape[0], sh[2] = {B, m->D}, col[2] = {B, 1};
    float *h = ug_arena_alloc(ctx, sizeof(float) * 2 * (size_t)B);  // [B] ᾱ_k, [B] not the root
    if (!h) {
        ug_ctx_fail(ctx, UG_ERR_NOMEM, "d3pm: out of step memory");
        return NULL;
    }
    for (int64_t b = 0; b < B; b++) h[b] = (float)m->hab[kh[b]], h[B + b] = kh[b] > 0 ? 1.0f : 0.0f;
    ug_tensor *keep = ug_lt(ctx, ug_rand_uniform(ctx, rng, 2, sh), ug_from_f32(ctx, h, 2, col));  // [B, D]
    ug_tensor *noise = m->kernel == D3PM_UNIFORM ? uniform_codes(m, ctx, rng, B) : ug_scalar(ctx, (float)m->K);
    ug_tensor *s = ug_where(ctx, keep, x, noise);                                                // [B, D]
    return ug_mul(ctx, s, ug_from_f32(ctx, h + B, 2, col));  // the root rows: zeros
}

/* The posterior's unnormalized log q(s_{k+1} = j | s_k, x): d3pm_next_logits of log onehot(x). For the
 * uniform kernel log b takes two values per row, log(ᾱ + (1-ᾱ)/K) at j = x and log((1-ᾱ)/K) elsewhere,
 * so they are made on the [*, 1, 1] coefficients and placed by the one-hot of x: the same ops on the
 * same numbers (0 + m1 = m1, NEG + m1, then the pair's logaddexp) as the [B, D, K] route, so the same
 * values bit for bit, without a [B, D, K] logaddexp. */
static ug_tensor *posterior_logits(d3pm *m, ug_ctx *ctx, ug_tensor *s, ug_tensor *x, const d3pm_cols *c,
                                   const d3pm_k *kk) {
    if (m->kernel != D3PM_UNIFORM) return d3pm_next_logits(m, ctx, s, d3pm_log_onehot(m, ctx, x), c, kk);
    ug_tensor *m1 = d3pm_coef(ctx, c->m1, kk), *m2 = d3pm_coef(ctx, c->m2, kk);   // [*, 1, 1]
    ug_tensor *v = ug_add_scalar(ctx, m2, -logf((float)m->K));                    // log((1-ᾱ)/K)
    ug_tensor *hit = ug_logaddexp(ctx, m1, v), *miss = ug_logaddexp(ctx, ug_add_scalar(ctx, m1, D3PM_NEG), v);
    ug_tensor *lb = ug_where(ctx, ug_one_hot(ctx, ug_to_i32(ctx, x), m->K), hit, miss);  // [B, D, K]
    return ug_add(ctx, d3pm_log_a(m, ctx, s, c, kk), lb);                          // [B, D, K]
}

ug_tensor *d3pm_kl_terms(d3pm *m, ug_ctx *ctx, const d3pm_sched *sc, const d3pm_k *kk, ug_tensor *x, ug_tensor *s,
                         ug_tensor **logp0) {
    ug_tensor *lp0 = d3pm_x0_logp(m, ctx, s, kk);                                                      // [B, D, K]
    ug_tensor *lmu = ug_log_softmax(ctx, d3pm_next_logits(m, ctx, s, lp0, &sc->pf, kk), 2);            // [B, D, Ks]
    ug_tensor *lq = ug_log_softmax(ctx, posterior_logits(m, ctx, s, x, &sc->pb, kk), 2);               // [B, D, Ks]
    ug_tensor *el = ug_mul(ctx, ug_exp(ctx, lq), ug_sub(ctx, lq, lmu));                                // [B, D, Ks]
    if (logp0) *logp0 = lp0;
    return ug_sum(ctx, ug_sum(ctx, el, 2, false), 1, false);                                           // [B]
}

ug_tensor *d3pm_prior_kl(d3pm *m, ug_ctx *ctx, const d3pm_sched *sc) {
    int64_t one = 1;
    if (m->kernel == D3PM_ABSORBING) return ug_zeros(ctx, 1, &one);
    const float K = (float)m->K;
    ug_tensor *a = ug_exp(ctx, ug_slice(ctx, sc->log_ab, 0, 0, 1));                                  // [1] ᾱ_1
    ug_tensor *p = ug_add_scalar(ctx, ug_mul_scalar(ctx, a, (K - 1) / K), 1.0f / K);                 // [1] q(s = x)
    ug_tensor *t1 = ug_mul(ctx, p, ug_log1p(ctx, ug_mul_scalar(ctx, a, K - 1)));                     // p log(K p)
    ug_tensor *om = ug_rsub_scalar(ctx, a, 1.0f);                                                    // 1 - ᾱ_1
    ug_tensor *t2 = ug_mul(ctx, ug_mul_scalar(ctx, om, (K - 1) / K), ug_log(ctx, ug_clamp(ctx, om, 1e-30f, INFINITY)));
    return ug_mul_scalar(ctx, ug_add(ctx, t1, t2), (float)m->D);                                     // [1]
}

bool d3pm_check_codes(d3pm *m, ug_ctx *ctx, const ug_tensor *s, int64_t hi, bool all_mask, const char *who,
                      const char *what) {
    char b[64];
    if (!ugm_check_states(ctx, s, m->D, who)) return false;
    int64_t n = ug_numel(s);
    float *v = ug_arena_alloc(ctx, sizeof(float) * (size_t)n);
    if (!v) {
        ug_ctx_fail(ctx, UG_ERR_NOMEM, "%s: out of step memory", who);
        return false;
    }
    if (ug_tensor_get(ctx, s, v, n)) return false;
    for (int64_t i = 0; i < n; i++) {
        bool ok = all_mask ? v[i] == (float)m->K : (v[i] >= 0 && v[i] < (float)hi && v[i] == floorf(v[i]));
        if (ok) continue;
        char want[96];
        if (all_mask) snprintf(want, sizeof want, "[MASK] (the code %lld) everywhere at index 1", (long long)m->K);
        else if (hi > m->K) snprintf(want, sizeof want, "a code 0 .. %lld (%lld = [MASK])", (long long)m->K, (long long)m->K);
        else snprintf(want, sizeof want, "a value 0 .. %lld", (long long)(m->K - 1));
        ug_ctx_fail(ctx, UG_ERR_ARG, "%s: %s %s row %lld column %lld holds %g; want %s", who, what, ug_shape_str(s, b, sizeof b),
                    (long long)(i / m->D), (long long)(i % m->D), (double)v[i], want);
        return false;
    }
    return true;
}

bool d3pm_check_index(d3pm *m, ug_ctx *ctx, const ug_tensor *s, int i, const char *who, const char *what) {
    if (i == 0) return ugm_check_states(ctx, s, m->D, who);  // the root is never read
    if (i == m->T + 1) return d3pm_check_codes(m, ctx, s, m->K, false, who, what);
    return d3pm_check_codes(m, ctx, s, m->Ks, m->kernel == D3PM_ABSORBING && i == 1, who, what);
}
