/* gauss_chain.c — EXAMPLE model family: an n-step Gaussian chain in R^D whose negative ELBO and its
 * optimum are known in closed form, so continuous-space objectives can be checked exactly.
 *
 *   s0 = 0;  P_F(s_{k+1} | s_k) = N(s_k + mu_k, sf^2 I)      mu_k learnable (group "forward", [n, D])
 *   P_B(s_k | s_{k+1}) = N(s_{k+1} k/(k+1), sb^2 k/(k+1) I)  for k >= 1 (fixed; a Brownian bridge
 *                        pinned at s0 = 0 with per-step variance sb^2),
 *   P_B(s_0 | s_1)     = Dirac at 0, log P_B = 0.
 * Sampling is reparameterized (s_{k+1} = s_k + mu_k + sf eps), so forward samples carry pathwise
 * gradients in mu (UG_CAP_REPARAM). x = s_n ~ N(sum_k mu_k, n sf^2 I) exactly (UG_CAP_LOG_PROB).
 *
 * Closed form of the negative ELBO  L(mu) = E_{x~data} E_{tau~P_B(.|x)} [sum_k log P_B - log P_F].
 * Under P_B(.|x) the path is a Brownian bridge from 0 to x, so each increment d_k = s_{k+1} - s_k is
 * N(x/n, sb^2 (1 - 1/n) I) (a random walk's step given its sum), and the bridge's own log-density
 * has expectation -sum_{k=1}^{n-1} (D/2)(1 + log(2 pi sb^2 k/(k+1))) (a Gaussian's negative entropy).
 * With data x ~ N(m, s^2 I):
 *   E||d_k - mu_k||^2 = ||m/n - mu_k||^2 + D s^2/n^2 + D sb^2 (n-1)/n
 *   L(mu) = -sum_{k=1}^{n-1} (D/2)(1 + log(2 pi sb^2 k/(k+1)))
 *           + n (D/2) log(2 pi sf^2)
 *           + 1/(2 sf^2) sum_{k=0}^{n-1} [ ||m/n - mu_k||^2 + D s^2/n^2 + D sb^2 (n-1)/n ]
 * a quadratic in mu minimised by mu_k = m/n for every k (the fixed P_B spreads x evenly over the n
 * steps, so P_F's best per-step mean is that share). tests/test_objectives.c checks both.
 *
 * Closed forms for the one-step estimator (UG_CAP_ANCHOR, UG_CAP_STEP_KL): the bridge's marginal is
 *   P_B(s_k | x) = N((k/n) x, sb^2 k (n-k)/n I)       (k = 0: the root s_0 = 0)
 * and its forward posterior q(s_{k+1} | s_k, x) = N(s_k + (x - s_k)/(n-k), sb^2 (n-k-1)/(n-k) I), the
 * point mass at x for k = n-1. So step k's term is
 *   KL(q || P_F) = (D/2)(v/sf^2 - 1 + log(sf^2/v)) + ||(x - s_k)/(n-k) - mu_k||^2 / (2 sf^2),  v = that variance,
 * and for k = n-1, -log P_F(x | s_{n-1}) = (D/2) log(2 pi sf^2) + ||x - s_{n-1} - mu_{n-1}||^2 / (2 sf^2). */
#define UG_PLUGIN
#include "unigfn/plugin.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../cont_common.h"

typedef struct chain {
    int D, n;
    float sf, sb;
    ug_tensor *mu;  /* [n, D] */
} chain;

static const ug_param_spec chain_params[] = {
    {"dim", UG_P_INT, "2", UG_P_MIN | UG_P_MAX, 1, 4096, NULL, "dimension D of the states"},
    {"steps", UG_P_INT, "4", UG_P_MIN | UG_P_MAX, 1, 1024, NULL, "number of steps n"},
    {"sigma_f", UG_P_FLOAT, "1.0", UG_P_MIN | UG_P_MIN_OPEN, 0, 0, NULL, "forward step standard deviation"},
    {"sigma_b", UG_P_FLOAT, "0.5", UG_P_MIN | UG_P_MIN_OPEN, 0, 0, NULL, "backward bridge per-step standard deviation"},
    {NULL, 0, NULL, 0, 0, 0, NULL, NULL},
};

/* log N(y; mean, var I) per row: y, mean broadcast to [B, D] -> [B] (dist.h's normal). */
static ug_tensor *gauss_logpdf(ug_ctx *ctx, ug_tensor *y, ug_tensor *mean, float var, int D) {
    (void)D;
    return ug_normal_log_prob(ctx, y, mean, ug_scalar(ctx, 0.5f * logf(var)));  // [B]
}

static ug_tensor *mu_k(chain *m, ug_ctx *ctx, int k) { return ug_slice(ctx, m->mu, 0, k, 1); }  // [1, D]

static bool check_states(chain *m, ug_ctx *ctx, ug_tensor *s, const char *who);

static ug_tensor *row_onehot(chain *m, ug_ctx *ctx, ug_tensor *k, int64_t B, const char *who) {
    char w[96];
    snprintf(w, sizeof w, "gauss_chain.%s", who);
    if (!ugm_check_rows(ctx, k, B, w)) return NULL;
    return ug_one_hot(ctx, k, m->n);  // [B, n]; fails on an index outside 0 .. n-1
}

/* s_k ~ P_B(s_k | x) for each row's k: (k/n) x + sb sqrt(k (n-k)/n) eps. */
static ug_status sample_anchor(chain *m, ug_ctx *ctx, ug_rng *rng, const ug_traj_req *req, ug_traj *out) {
    int64_t B = req->start->shape[0], sh[2] = {B, m->D};
    ug_tensor *oh = row_onehot(m, ctx, req->row_index, B, "sample_backward(anchor)");  // [B, n]
    if (!oh) return ug_ctx_status(ctx);
    float a[1024], sd[1024];
    for (int k = 0; k < m->n; k++) {
        a[k] = (float)k / (float)m->n;
        sd[k] = m->sb * sqrtf((float)k * (float)(m->n - k) / (float)m->n);
    }
    ug_tensor *ar = ugm_by_row(ctx, oh, ugm_column(ctx, a, m->n)), *sr = ugm_by_row(ctx, oh, ugm_column(ctx, sd, m->n));  // [B, 1]
    ug_tensor *eps = ug_rand_normal(ctx, rng, 2, sh);  // [B, D]
    ug_tensor *s = ug_add(ctx, ug_mul(ctx, req->start, ar), ug_mul(ctx, eps, sr));  // [B, D]
    if (!(req->flags & UG_TRAJ_REPARAM)) s = ug_detach(ctx, s);
    *out = (ug_traj){.size = out->size, .batch = B, .start = -1, .steps = 0, .first = s, .last = s};
    return ug_ctx_status(ctx);
}

/* Step k's term of the negative ELBO (the header comment's closed forms), per row: [B]. */
static ug_tensor *chain_step_kl(void *self, ug_ctx *ctx, ug_tensor *x, ug_tensor *s, ug_tensor *k) {
    chain *m = self;
    if (!check_states(m, ctx, x, "step_kl") || !check_states(m, ctx, s, "step_kl")) return NULL;
    int64_t B = x->shape[0];
    ug_tensor *oh = row_onehot(m, ctx, k, B, "step_kl");  // [B, n]
    if (!oh) return NULL;
    float c[1024], w[1024];
    const double sf2 = (double)m->sf * m->sf, sb2 = (double)m->sb * m->sb, D = m->D;
    for (int j = 0; j < m->n; j++) {
        w[j] = 1.0f / (float)(m->n - j);
        if (j == m->n - 1) {
            c[j] = (float)(0.5 * D * log(2 * M_PI * sf2));
        } else {
            double v = sb2 * (double)(m->n - j - 1) / (double)(m->n - j);
            c[j] = (float)(0.5 * D * (v / sf2 - 1 + log(sf2 / v)));
        }
    }
    ug_tensor *mu = ugm_by_row(ctx, oh, m->mu);  // [B, D] mu_k of each row
    ug_tensor *wr = ugm_by_row(ctx, oh, ugm_column(ctx, w, m->n)), *cr = ugm_by_row(ctx, oh, ugm_column(ctx, c, m->n));  // [B, 1]
    ug_tensor *d = ug_sub(ctx, ug_mul(ctx, ug_sub(ctx, x, s), wr), mu);  // [B, D]
    ug_tensor *q = ug_mul_scalar(ctx, ug_sum(ctx, ug_square(ctx, d), 1, false), (float)(0.5 / sf2));  // [B]
    int64_t sb1[1] = {B};
    return ug_add(ctx, q, ug_reshape(ctx, cr, 1, sb1));  // [B]
}

/* log P_F(s_{k+1} | s_k) and log P_B(s_k | s_{k+1}) for step k. */
static ug_tensor *chain_log_pf(chain *m, ug_ctx *ctx, ug_tensor *s, ug_tensor *sp, int k) {
    return gauss_logpdf(ctx, sp, ug_add(ctx, s, mu_k(m, ctx, k)), m->sf * m->sf, m->D);
}
static ug_tensor *chain_log_pb(chain *m, ug_ctx *ctx, ug_tensor *s, ug_tensor *sp, int k) {
    if (k == 0) return ug_zeros(ctx, 1, &s->shape[0]);  // Dirac at s0: the objectives' sums need a [B] term
    float a = (float)k / (float)(k + 1);
    return gauss_logpdf(ctx, s, ug_mul_scalar(ctx, sp, a), m->sb * m->sb * a, m->D);
}

static void chain_info(void *self, ug_model_info *out) {
    chain *m = self;
    out->space = (ug_space){.kind = UG_SPACE_CONTINUOUS, .dim = m->D};
    out->horizon = m->n;
    out->variable_length = false;
    out->deterministic_pb = false;
    out->caps = UG_CAP_REPARAM | UG_CAP_LOG_PROB | UG_CAP_PARTIAL | UG_CAP_ANCHOR | UG_CAP_STEP_KL;
}

static bool check_states(chain *m, ug_ctx *ctx, ug_tensor *s, const char *who) {
    char w[96];
    snprintf(w, sizeof w, "gauss_chain.%s", who);
    return ugm_check_states(ctx, s, m->D, w);
}

static ug_status chain_sample_forward(void *self, ug_ctx *ctx, ug_rng *rng, const ug_traj_req *req, ug_traj *out) {
    chain *m = self;
    int i0 = req->start ? req->start_index : 0;
    if (req->start && !check_states(m, ctx, req->start, "sample_forward")) return ug_ctx_status(ctx);
    int64_t B = req->start ? req->start->shape[0] : req->batch;
    if (B <= 0) return ug_ctx_fail(ctx, UG_ERR_ARG, "gauss_chain.sample_forward: batch %lld", (long long)B);
    int steps = req->steps < 0 ? m->n - i0 : req->steps;
    if (i0 < 0 || i0 + steps > m->n)
        return ug_ctx_fail(ctx, UG_ERR_ARG, "gauss_chain.sample_forward: %d steps from index %d (n = %d)", steps, i0, m->n);
    /* A Gaussian tempered by 1/T is the Gaussian with T times the variance. `explore` has no
     * meaning for this continuous example and is ignored. */
    float temp = req->temperature > 0 ? req->temperature : 1.0f;
    float noise = m->sf * sqrtf(temp);
    int64_t sh[2] = {B, m->D};
    ug_tensor *s = req->start ? req->start : ug_zeros(ctx, 2, sh);  // [B, D]
    if (!s || ugm_traj_alloc(ctx, out, B, i0, steps, "gauss_chain.sample_forward")) return ug_ctx_status(ctx);
    ug_tensor **states = out->extra;
    states[0] = out->first = s;
    for (int t = 0; t < steps; t++) {
        int k = i0 + t;
        ug_tensor *eps = ug_rand_normal(ctx, rng, 2, sh);                                    // [B, D]
        ug_tensor *sp = ug_add(ctx, ug_add(ctx, s, mu_k(m, ctx, k)), ug_mul_scalar(ctx, eps, noise));  // [B, D]
        /* States are constants unless the caller asks for pathwise gradients (model.h). */
        if (!(req->flags & UG_TRAJ_REPARAM)) sp = ug_detach(ctx, sp);
        if (!(req->flags & UG_TRAJ_NO_PF)) out->log_pf[t] = chain_log_pf(m, ctx, s, sp, k);
        if (!(req->flags & UG_TRAJ_NO_PB)) out->log_pb[t] = chain_log_pb(m, ctx, s, sp, k);
        states[t + 1] = s = sp;
    }
    out->last = s;
    if (!(req->flags & UG_TRAJ_KEEP_STATES)) out->states = NULL;
    return ug_ctx_status(ctx);
}

static ug_status chain_sample_backward(void *self, ug_ctx *ctx, ug_rng *rng, const ug_traj_req *req, ug_traj *out) {
    chain *m = self;
    if (!check_states(m, ctx, req->start, "sample_backward")) return ug_ctx_status(ctx);
    int j = req->start_index;
    if (req->flags & UG_TRAJ_ANCHOR) {
        if (j != m->n || req->size <= offsetof(ug_traj_req, row_index))
            return ug_ctx_fail(ctx, UG_ERR_ARG, "gauss_chain.sample_backward: an anchored request starts at x (index %d), "
                               "with row_index", m->n);
        return sample_anchor(m, ctx, rng, req, out);
    }
    int steps = req->steps < 0 ? j : req->steps;
    if (j < 0 || j > m->n || steps > j)
        return ug_ctx_fail(ctx, UG_ERR_ARG, "gauss_chain.sample_backward: %d steps from index %d (n = %d)", steps, j, m->n);
    int64_t B = req->start->shape[0], sh[2] = {B, m->D};
    if (ugm_traj_alloc(ctx, out, B, j - steps, steps, "gauss_chain.sample_backward")) return ug_ctx_status(ctx);
    ug_tensor **states = out->extra;
    ug_tensor *sp = req->start;
    states[steps] = out->last = sp;
    for (int t = 0; t < steps; t++) {
        int k = j - 1 - t, local = steps - 1 - t;  // step k: s_k -> s_{k+1} = sp
        ug_tensor *s;
        if (k == 0) {
            s = ug_zeros(ctx, 2, sh);  // [B, D] s0
        } else {
            float a = (float)k / (float)(k + 1);
            ug_tensor *eps = ug_rand_normal(ctx, rng, 2, sh);  // [B, D]
            s = ug_add(ctx, ug_mul_scalar(ctx, sp, a), ug_mul_scalar(ctx, eps, m->sb * sqrtf(a)));
        }
        if (!(req->flags & UG_TRAJ_NO_PF)) out->log_pf[local] = chain_log_pf(m, ctx, s, sp, k);
        if (!(req->flags & UG_TRAJ_NO_PB)) out->log_pb[local] = chain_log_pb(m, ctx, s, sp, k);
        states[local] = sp = s;
    }
    out->first = sp;
    if (!(req->flags & UG_TRAJ_KEEP_STATES)) out->states = NULL;
    return ug_ctx_status(ctx);
}

/* Recompute both terms from the recorded states (traj->states, or the copy kept in extra). */
static ug_status chain_rescore(void *self, ug_ctx *ctx, ug_traj *traj, uint32_t flags) {
    chain *m = self;
    ug_tensor **states = traj->states ? traj->states : traj->extra;
    if (!states || traj->start < 0 || traj->start + traj->steps > m->n)
        return ug_ctx_fail(ctx, UG_ERR_ARG, "gauss_chain.rescore: needs the trajectory's states");
    size_t np = sizeof(ug_tensor *) * (size_t)(traj->steps > 0 ? traj->steps : 1);
    if (!traj->log_pf && !(traj->log_pf = ug_arena_alloc(ctx, np))) return ug_ctx_fail(ctx, UG_ERR_NOMEM, "rescore");
    if (!traj->log_pb && !(traj->log_pb = ug_arena_alloc(ctx, np))) return ug_ctx_fail(ctx, UG_ERR_NOMEM, "rescore");
    for (int t = 0; t < traj->steps; t++) {
        int k = traj->start + t;
        if (!check_states(m, ctx, states[t], "rescore") || !check_states(m, ctx, states[t + 1], "rescore"))
            return ug_ctx_status(ctx);
        traj->log_pf[t] = (flags & UG_TRAJ_NO_PF) ? NULL : chain_log_pf(m, ctx, states[t], states[t + 1], k);
        traj->log_pb[t] = (flags & UG_TRAJ_NO_PB) ? NULL : chain_log_pb(m, ctx, states[t], states[t + 1], k);
    }
    return ug_ctx_status(ctx);
}

/* x ~ N(sum_k mu_k, n sf^2 I). */
static ug_tensor *chain_log_prob(void *self, ug_ctx *ctx, ug_tensor *x) {
    chain *m = self;
    if (!check_states(m, ctx, x, "log_prob")) return NULL;
    int64_t sh[2] = {1, m->D};
    ug_tensor *mean = ug_reshape(ctx, ug_sum(ctx, m->mu, 0, false), 2, sh);  // [1, D]
    return gauss_logpdf(ctx, x, mean, (float)m->n * m->sf * m->sf, m->D);    // [B]
}

static void chain_destroy(void *self) { free(self); }

static void *chain_create(const ug_create_args *args, ug_error *err) {
    chain *m = calloc(1, sizeof *m);
    if (!m) {
        ug_error_set(err, UG_ERR_NOMEM, "gauss_chain: out of memory");
        return NULL;
    }
    m->D = (int)ug_cfg_int(args->cfg, "dim", 2);
    m->n = (int)ug_cfg_int(args->cfg, "steps", 4);
    m->sf = (float)ug_cfg_float(args->cfg, "sigma_f", 1.0);
    m->sb = (float)ug_cfg_float(args->cfg, "sigma_b", 0.5);
    if (m->D < 1 || m->n < 1 || !(m->sf > 0) || !(m->sb > 0)) {
        ug_error_set(err, UG_ERR_ARG, "gauss_chain: need dim >= 1, steps >= 1, sigma_f > 0, sigma_b > 0");
        goto fail;
    }
    if (args->data && (args->data->info.space.kind != UG_SPACE_CONTINUOUS || args->data->info.space.dim != m->D)) {
        ug_error_set(err, UG_ERR_ARG, "gauss_chain: dataset '%s' is not continuous of dimension %d",
                     args->data->name ? args->data->name : "?", m->D);
        goto fail;
    }
    int64_t sh[2] = {m->n, m->D};
    m->mu = ug_param(args->params, "forward", "mu", 2, sh);  // starts at 0
    if (!m->mu || ug_params_finalize(args->params)) {
        ug_error_set(err, UG_ERR_ARG, "gauss_chain: %s", ug_params_errmsg(args->params));
        goto fail;
    }
    return m;
fail:
    free(m);
    return NULL;
}

static const ug_model_vtable chain_vt = {
    .size = sizeof(ug_model_vtable),
    .info = chain_info,
    .sample_forward = chain_sample_forward,
    .sample_backward = chain_sample_backward,
    .rescore = chain_rescore,
    .log_prob = chain_log_prob,
    .step_kl = chain_step_kl,
};

static const ug_plugin_desc chain_desc = {
    UG_DESC_HEADER(UG_KIND_MODEL),
    .name = "gauss_chain",
    .version = "0.1.0",
    .summary = "example: n-step Gaussian chain in R^D with a fixed bridge P_B; closed-form ELBO for tests",
    .params = chain_params,
    .create = chain_create,
    .destroy = chain_destroy,
    .vtable = &chain_vt,
};

UG_PLUGIN_EXPORT(&chain_desc)
