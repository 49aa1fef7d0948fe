/* ssm.c — sliced score matching (Song et al. 2019), the objective of the paper's Prop. 9: at states
 * x_k drawn from P_B(s_k | x) with x from the data (so x_k ~ p_k, the marginal at index k), with the
 * model's score s = score(x_k, k) and random projections v with E[v v^T] = I,
 *     J = E_{k, x_k, v} lambda_k [ v^T (d s / d x) v + 1/2 (v^T s)^2 ],
 * whose expectation over v is Hyvärinen's score-matching loss E[tr(d s/d x) + 1/2 |s|^2]: by parts it
 * equals 1/2 E|s - grad log p_k|^2 minus a constant, so it is minimal at the true score of p_k. The
 * paper's Prop. 9 shows detailed balance of a ScoreSDE-as-GFlowNet has the same optimum (B.4).
 *
 * Per step (generic: it uses only model.h, docs/families.md §0 C9):
 *   - k per row uniform on 1..n-1 (the noisy states), x_k by one anchored request (cap anchor), else
 *     one k for the batch and a partial NO_PF|NO_PB backward chain from x to index k (cap partial);
 *   - x-hat = requires_grad(detach(x_k)) repeated n_proj times; s = score(x-hat, k); v ~ N(0, I)
 *     (projection: gaussian) or uniform on {-1, 1}^D (rademacher);
 *   - a = v . s, g = grad_x sum(a) with create_graph (the vector-Jacobian product v^T ds/dx), so
 *     v^T (ds/dx) v = g . v; the runner's backward then goes through g: second order.
 *   - variance_reduced: 1/2 |s|^2 in place of 1/2 (v^T s)^2 (its expectation over v; SSM-VR).
 *
 * lambda (time weighting; `lambda: variance`, the default): lambda_k is the mean conditional variance
 * per coordinate of P_B(s_k | x), E_x tr Cov(s_k | x) / D, estimated once at create from 1024 pairs
 * of independent draws from the same x (E|s - s'|^2 = 2 tr Cov), on held-out rows of the dataset (or
 * x = 0 without one). For Gaussian perturbation kernels (ScoreSDE, DDPM) this is sigma_t^2, Song et
 * al.'s weighting, learned from the model's own P_B without family knowledge; it keeps every index's
 * term O(1) where the unweighted one grows like 1/sigma_t^2. A model whose P_B has parameters would
 * need it re-estimated as P_B trains: this keeps the create-time values. `lambda: none` = 1.
 *
 * Logs "sm" (the unweighted per-row estimate's mean) and "score_sq" (mean |s|^2). */
#define UG_PLUGIN
#include "unigfn/plugin.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../traj_terms.h"

#define SSM_PAIRS 1024  /* lambda estimate: pairs of draws per index */
#define SSM_MAX_PROJ 256

typedef struct ssm {
    bool rademacher, vr;
    int n_proj;
    double *lambda;  /* [n], NULL for lambda: none; lambda[0] unused */
    int n;           /* horizon when lambda was estimated */
} ssm;

static const ug_param_spec ssm_params[] = {
    {"projection", UG_P_ENUM, "gaussian", 0, 0, 0, "gaussian|rademacher", "distribution of the projections v"},
    {"n_proj", UG_P_INT, "1", UG_P_MIN | UG_P_MAX, 1, SSM_MAX_PROJ, NULL, "projections per state (their mean is used)"},
    {"variance_reduced", UG_P_BOOL, "false", 0, 0, 0, NULL, "1/2 |s|^2 in place of 1/2 (v.s)^2 (SSM-VR)"},
    {"lambda", UG_P_ENUM, "variance", 0, 0, 0, "variance|none",
     "time weighting: the conditional variance of P_B(s_k | x) per coordinate (sigma_t^2), or 1"},
    {NULL, 0, NULL, 0, 0, 0, NULL, NULL},
};

/* A [B] F32 tensor holding v in every row. */
static ug_tensor *fill_rows(ug_ctx *ctx, int64_t B, float v) { return ug_full(ctx, 1, &B, v); }

/* One value per row from a per-index column: one_hot(k) [B, n] @ col [n, 1] -> [B]. */
static ug_tensor *by_index(ug_ctx *ctx, ug_tensor *k, const double *v, int64_t n, int64_t B) {
    int64_t sh[2] = {n, 1};
    float *col = ug_arena_alloc(ctx, sizeof(float) * (size_t)n);
    if (!col) return NULL;
    for (int64_t j = 0; j < n; j++) col[j] = (float)v[j];
    return ug_reshape(ctx, ug_matmul(ctx, ug_one_hot(ctx, k, n), ug_from_f32(ctx, col, 2, sh)), 1, &B);
}

/* Row indices uniform on 1..n-1: a categorical over 0..n-1 with the root masked out. [B] I32 */
static ug_tensor *noisy_indices(ug_ctx *ctx, ug_rng *rng, int64_t B, int64_t n) {
    int64_t sh[2] = {B, n};
    float *mk = ug_arena_alloc(ctx, sizeof(float) * (size_t)(B * n));
    if (!mk) return NULL;
    for (int64_t i = 0; i < B * n; i++) mk[i] = (i % n) != 0;
    return ug_sample_categorical(ctx, rng, ug_zeros(ctx, 2, sh), ug_from_f32(ctx, mk, 2, sh));
}

/* x_k for each row of x: anchored (per-row k) or by a partial chain (one k). kf [B] F32 gets k. */
static ug_tensor *draw_states(const ug_model *m, ug_ctx *ctx, ug_rng *rng, ug_tensor *x, bool anchor, int32_t *k_out,
                              ug_tensor **kf, ug_tensor **kidx, const char *who) {
    int64_t B = x->shape[0], n = m->info.horizon;
    ug_traj tr = {.size = sizeof tr};
    ug_traj_req req = {.size = sizeof req, .start = x, .start_index = (int32_t)n, .flags = UG_TRAJ_NO_PF | UG_TRAJ_NO_PB};
    if (anchor) {
        ug_tensor *k = noisy_indices(ctx, rng, B, n);  // [B] I32
        if (!k) return NULL;
        req.flags |= UG_TRAJ_ANCHOR;
        req.steps = 0;
        req.row_index = k;
        *kf = ug_to_f32(ctx, k);
        *kidx = k;
    } else {
        int32_t k = 1 + (int32_t)ug_rng_randint(rng, n - 1);
        req.steps = (int32_t)n - k;
        *kf = fill_rows(ctx, B, (float)k);
        *kidx = NULL;
        if (k_out) *k_out = k;
    }
    ug_status st = m->vt->sample_backward(m->self, ctx, rng, &req, &tr);
    if (st) {
        if (!ug_ctx_status(ctx)) ug_ctx_fail(ctx, st, "%s: sample_backward failed", who);
        return NULL;
    }
    ug_tensor *s = anchor ? tr.last : tr.first;
    if (!s || tr.batch != B) {
        ug_ctx_fail(ctx, UG_ERR_ARG, "%s: the backward request returned no states for %lld rows", who, (long long)B);
        return NULL;
    }
    return s;
}

static ug_status ssm_loss(void *self, const ug_step_env *env, ug_loss_out *out) {
    const ssm *o = self;
    ug_ctx *ctx = env->ctx;
    const ug_model *m = env->model;
    const char *who = "ssm";
    ug_tensor *x = ugo_data(env, who);  // [B, D]
    if (!x || ugo_need_backward(env, who) || ugo_need_caps(env, UG_CAP_SCORE, who)) return ug_ctx_status(ctx);
    bool anchor = ug_model_has(m, UG_CAP_ANCHOR);
    if (!anchor && ugo_need_caps(env, UG_CAP_PARTIAL, who)) return ug_ctx_status(ctx);
    int64_t B = x->shape[0], n = m->info.horizon;
    if (n < 2) return ug_ctx_fail(ctx, UG_ERR_ARG, "%s: the model's horizon %lld has no noisy state", who, (long long)n);
    if (o->lambda && o->n != n)
        return ug_ctx_fail(ctx, UG_ERR_ARG, "%s: lambda was estimated for horizon %d, the model has %lld", who, o->n,
                           (long long)n);
    int32_t k1 = 0;
    ug_tensor *kf = NULL, *kidx = NULL;
    ug_tensor *xk = draw_states(m, ctx, env->rng, x, anchor, &k1, &kf, &kidx, who);  // [B, D]
    if (!xk) return ug_ctx_status(ctx);
    int64_t D = ug_numel(xk) / B, R = B * o->n_proj, shv[2] = {R, D};
    /* n_proj copies of every row: copy c holds rows [c B, (c+1) B) */
    ug_tensor *cx[SSM_MAX_PROJ], *ck[SSM_MAX_PROJ];
    for (int c = 0; c < o->n_proj; c++) cx[c] = xk, ck[c] = kf;
    ug_tensor *xr = o->n_proj > 1 ? ug_concat(ctx, cx, o->n_proj, 0) : xk;    // [R, D]
    ug_tensor *kr = o->n_proj > 1 ? ug_concat(ctx, ck, o->n_proj, 0) : kf;    // [R]
    ug_tensor *xh = ug_requires_grad(ctx, ug_detach(ctx, xr));                // [R, D]
    ug_tensor *s = m->vt->score(m->self, ctx, xh, kr);                          // [R, D]
    if (!s || ug_numel(s) != R * D) {
        char b[64];
        return ug_ctx_status(ctx) ? ug_ctx_status(ctx)
                                  : ug_ctx_fail(ctx, UG_ERR_ARG, "%s: score returned %s, want [%lld, %lld]", who,
                                                s ? ug_shape_str(s, b, sizeof b) : "NULL", (long long)R, (long long)D);
    }
    ug_tensor *v;  // [R, D]
    if (o->rademacher) {
        ug_tensor *u = ug_rand_uniform(ctx, env->rng, 2, shv);
        v = ug_rsub_scalar(ctx, ug_mul_scalar(ctx, ug_lt(ctx, u, ug_scalar(ctx, 0.5f)), 2.0f), 1.0f);
    } else {
        v = ug_rand_normal(ctx, env->rng, 2, shv);
    }
    ug_tensor *a = ug_sum(ctx, ug_mul(ctx, v, s), 1, false);  // [R] v . s
    ug_tensor *g = NULL;                                       // [R, D] v^T ds/dx
    ug_status st = ug_grad(ctx, ug_sum_all(ctx, a), &xh, 1, &g, true);
    if (st) return st;
    ug_tensor *quad = ug_sum(ctx, ug_mul(ctx, g, v), 1, false);  // [R] v^T (ds/dx) v
    ug_tensor *ssq = ug_sum(ctx, ug_square(ctx, s), 1, false);   // [R] |s|^2
    ug_tensor *half = ug_mul_scalar(ctx, o->vr ? ssq : ug_square(ctx, a), 0.5f);
    ug_tensor *term = ug_add(ctx, quad, half);  // [R]
    ug_tensor *loss;
    if (o->lambda) {
        ug_tensor *lam;  // [B]
        if (kidx) {
            lam = by_index(ctx, kidx, o->lambda, n, B);
        } else {
            lam = fill_rows(ctx, B, (float)o->lambda[k1]);
        }
        ug_tensor *cl[SSM_MAX_PROJ];
        for (int c = 0; c < o->n_proj; c++) cl[c] = lam;
        ug_tensor *lr = o->n_proj > 1 ? ug_concat(ctx, cl, o->n_proj, 0) : lam;  // [R]
        loss = ug_mean_all(ctx, ug_mul(ctx, term, lr));
    } else {
        loss = ug_mean_all(ctx, term);
    }
    if (ug_ctx_status(ctx)) return ug_ctx_status(ctx);
    bool gm = ug_set_grad_enabled(ctx, false);
    ugo_log(out, "sm", ug_item(ug_mean_all(ctx, ug_detach(ctx, term))));
    ugo_log(out, "score_sq", ug_item(ug_mean_all(ctx, ug_detach(ctx, ssq))));
    ug_set_grad_enabled(ctx, gm);
    return ugo_finish(ctx, loss, out, who);
}

/* lambda_k = E|s_k - s_k'|^2 / (2 D) for independent draws from the same x (header comment). */
static bool estimate_lambda(ssm *o, const ug_create_args *a, ug_error *err) {
    const ug_model *m = a->model;
    ug_ctx *ctx = a->ctx;
    int64_t n = m->info.horizon, P = SSM_PAIRS, D = m->info.space.dim;
    bool anchor = ug_model_has(m, UG_CAP_ANCHOR);
    if (!ctx || !m->vt->sample_backward || (!anchor && !ug_model_has(m, UG_CAP_PARTIAL))) {
        ug_error_set(err, UG_ERR_ARG, "ssm: lambda: variance needs a model that samples backward (anchor or partial)");
        return false;
    }
    o->n = (int)n;
    o->lambda = calloc((size_t)n, sizeof(double));
    if (!o->lambda) {
        ug_error_set(err, UG_ERR_NOMEM, "ssm: out of memory");
        return false;
    }
    bool g = ug_set_grad_enabled(ctx, false);
    ug_mark mk = ug_arena_mark(ctx);
    ug_rng rng = ug_rng_make(a->seed, 0x73736d6cull);  /* "ssml": its own stream */
    /* P rows of x (held-out data, cycled; zeros without a dataset), each twice: rows i and P + i */
    ug_tensor *x1 = NULL;
    int64_t rows = a->data && a->data->info.heldout_size > 0 ? (a->data->info.heldout_size < P ? a->data->info.heldout_size : P) : 0;
    if (rows > 0 && a->data->vt->heldout(a->data->self, ctx, 0, rows, &x1) == UG_OK && x1) {
        ug_tensor *cs[2 * SSM_PAIRS];
        int c = 0;
        for (int64_t r = 0; r < P; r += rows) cs[c++] = ug_slice(ctx, x1, 0, 0, P - r < rows ? P - r : rows);
        x1 = c > 1 ? ug_concat(ctx, cs, c, 0) : x1;
    } else {
        int64_t sh[2] = {P, D};
        x1 = ug_zeros(ctx, 2, sh);
    }
    ug_tensor *pair[2] = {x1, x1};
    ug_tensor *x2 = ug_concat(ctx, pair, 2, 0);  // [2P, D]
    for (int64_t k = 1; k < n && x2 && !ug_ctx_status(ctx); k++) {
        ug_traj tr = {.size = sizeof tr};
        ug_traj_req req = {.size = sizeof req, .start = x2, .start_index = (int32_t)n,
                           .flags = UG_TRAJ_NO_PF | UG_TRAJ_NO_PB};
        ug_mark step = ug_arena_mark(ctx);
        if (anchor) {
            int32_t *kk = ug_arena_alloc(ctx, sizeof(int32_t) * (size_t)(2 * P));
            if (!kk) break;
            for (int64_t i = 0; i < 2 * P; i++) kk[i] = (int32_t)k;
            int64_t b2 = 2 * P;
            req.flags |= UG_TRAJ_ANCHOR;
            req.row_index = ug_from_i32(ctx, kk, 1, &b2);
        } else {
            req.steps = (int32_t)(n - k);
        }
        if (m->vt->sample_backward(m->self, ctx, &rng, &req, &tr)) break;
        ug_tensor *s = anchor ? tr.last : tr.first;  // [2P, ...]
        if (!s) break;
        int64_t per = ug_numel(s) / (2 * P);
        ug_tensor *d = ug_sub(ctx, ug_slice(ctx, s, 0, 0, P), ug_slice(ctx, s, 0, P, P));
        o->lambda[k] = (double)ug_item(ug_sum_all(ctx, ug_square(ctx, d))) / (2.0 * (double)P * (double)per);
        ug_arena_release(ctx, step);
    }
    ug_status st = ug_ctx_status(ctx);
    if (st) ug_error_set(err, st, "ssm: estimating lambda: %s", ug_ctx_errmsg(ctx));
    ug_arena_release(ctx, mk);
    ug_set_grad_enabled(ctx, g);
    return st == UG_OK;
}

static void ssm_destroy(void *self) {
    ssm *o = self;
    if (o) free(o->lambda);
    free(o);
}

static void *ssm_create(const ug_create_args *a, ug_error *err) {
    ssm *o = calloc(1, sizeof *o);
    if (!o) {
        ug_error_set(err, UG_ERR_NOMEM, "ssm: out of memory");
        return NULL;
    }
    o->rademacher = strcmp(ug_cfg_str(a->cfg, "projection", "gaussian"), "rademacher") == 0;
    o->n_proj = (int)ug_cfg_int(a->cfg, "n_proj", 1);
    o->vr = ug_cfg_bool(a->cfg, "variance_reduced", false);
    if (o->n_proj < 1 || o->n_proj > SSM_MAX_PROJ) {
        ug_error_set(err, UG_ERR_ARG, "ssm: n_proj must lie in 1..%d", SSM_MAX_PROJ);
        ssm_destroy(o);
        return NULL;
    }
    if (strcmp(ug_cfg_str(a->cfg, "lambda", "variance"), "variance") == 0 && a->model &&
        !estimate_lambda(o, a, err)) {
        ssm_destroy(o);
        return NULL;
    }
    return o;
}

static uint32_t ssm_caps(const ug_cfg *cfg) {
    (void)cfg;
    return UG_CAP_SCORE;
}

static const ug_objective_vtable ssm_vt = {.size = sizeof(ug_objective_vtable), .loss = ssm_loss};

static const ug_plugin_desc ssm_desc = {
    UG_DESC_HEADER(UG_KIND_OBJECTIVE),
    .name = "ssm",
    .version = "0.1.0",
    .summary = "sliced score matching at states drawn from P_B(.|x) (Prop. 9), Gaussian or Rademacher projections",
    .params = ssm_params,
    .create = ssm_create,
    .destroy = ssm_destroy,
    .vtable = &ssm_vt,
    .required_caps = ssm_caps,
};

UG_PLUGIN_EXPORT(&ssm_desc)
