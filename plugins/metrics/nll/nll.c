/* nll.c — negative log-likelihood of held-out data by importance sampling over backward trajectories
 * (paper Eq. 24, REPRODUCTION.md §4):
 *     log p̂(x) = logsumexp_j [log P_F(τ_j) − log P_B(τ_j | x)] − log M,   τ_j ~ P_B(· | x),
 * reported as the mean of −log p̂ in nats (`nll`) with its standard error (`nll_sem`). Jensen makes
 * log p̂ a stochastic lower bound of log p(x), so `nll` is biased upward and shrinks as M grows.
 * From the same particles, `elbo` is the mean over rows and particles of log P_F(τ) − log P_B(τ|x):
 * an unbiased estimate of the ELBO (paper Prop. 2: log p(x) − KL(P_B‖posterior)), so −elbo ≥ the
 * NLL that `nll` approaches, with equality when P_B is the exact posterior. For discrete spaces
 * (binary, categorical) `bpd` is `nll` in bits per dimension, nll / (D ln 2); continuous data have no
 * bits without the dataset's quantization, so they get none.
 * Models with an exact likelihood (UG_CAP_LOG_PROB) also get `nll_exact` on the same rows.
 *
 * Memory: each row is repeated M times and handed to sample_backward in chunks of at most `chunk`
 * trajectories; the step arena is reset after every chunk, so callers must not hold arena tensors
 * across evaluate(). */
#define UG_PLUGIN
#include "unigfn/plugin.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct nll {
    int64_t particles, samples, batch, chunk;
} nll;

static void *nll_create(const ug_create_args *a, ug_error *err) {
    nll *m = calloc(1, sizeof *m);
    if (!m) {
        ug_error_set(err, UG_ERR_NOMEM, "nll: out of memory");
        return NULL;
    }
    m->particles = ug_cfg_int(a->cfg, "particles", 100);
    m->samples = ug_cfg_int(a->cfg, "samples", 4000);
    m->batch = ug_cfg_int(a->cfg, "batch", 1000);
    m->chunk = ug_cfg_int(a->cfg, "chunk", 2000);
    if (m->particles < 1 || m->samples < 1 || m->batch < 1 || m->chunk < 1) {
        ug_error_set(err, UG_ERR_ARG, "nll: particles, samples, batch and chunk must be >= 1");
        free(m);
        return NULL;
    }
    return m;
}

static void nll_destroy(void *self) { free(self); }

/* Copy a [B] tensor (any strides) into doubles. */
static ug_status read_vec(ug_ctx *ctx, ug_tensor *t, int64_t n, const char *what, int k, double *out) {
    if (!t) return ug_ctx_fail(ctx, UG_ERR_UNSUPPORTED, "nll: the model returned no %s for step %d", what, k);
    if (ug_ctx_status(ctx)) return ug_ctx_status(ctx);
    if (ug_numel(t) != n || t->dtype != UG_F32)
        return ug_ctx_fail(ctx, UG_ERR_ARG, "nll: %s of step %d is not a [%lld] f32 tensor", what, k, (long long)n);
    float *p = ug_arena_alloc(ctx, (size_t)n * sizeof(float));   // [B] on the host
    ug_status st = p ? ug_tensor_get(ctx, t, p, n) : ug_ctx_status(ctx);
    if (st) return st;
    for (int64_t b = 0; b < n; b++) out[b] = p[b];
    return UG_OK;
}

/* log P_F(τ) − log P_B(τ|x) of every trajectory in `tr` into lw [B]. */
static ug_status log_weights(ug_ctx *ctx, const ug_traj *tr, double *lw, double *tmp, double *mask) {
    int64_t B = tr->batch;
    for (int64_t b = 0; b < B; b++) lw[b] = 0.0;
    ug_status st;
    for (int k = 0; k < tr->steps; k++) {
        if (tr->mask && (st = read_vec(ctx, tr->mask[k], B, "mask", k, mask))) return st;
        if (!tr->log_pf || !tr->log_pb)
            return ug_ctx_fail(ctx, UG_ERR_UNSUPPORTED, "nll: the model's backward trajectories carry no log P_F / log P_B");
        if ((st = read_vec(ctx, tr->log_pf[k], B, "log_pf", k, tmp))) return st;
        for (int64_t b = 0; b < B; b++)
            if (!tr->mask || mask[b] != 0.0) lw[b] += tmp[b];
        if ((st = read_vec(ctx, tr->log_pb[k], B, "log_pb", k, tmp))) return st;
        for (int64_t b = 0; b < B; b++)
            if (!tr->mask || mask[b] != 0.0) lw[b] -= tmp[b];
    }
    return UG_OK;
}

static double logmeanexp(const double *v, int64_t m) {
    double mx = -INFINITY;
    for (int64_t j = 0; j < m; j++)
        if (v[j] > mx) mx = v[j];
    if (!isfinite(mx)) return mx;   /* every particle impossible (-inf), or a NaN/+inf to pass on */
    double s = 0.0;
    for (int64_t j = 0; j < m; j++) s += exp(v[j] - mx);
    return mx + log(s) - log((double)m);
}

/* Rows xb [rows, D] (host memory) -> log p̂ of each into logp, and log p into exact when asked. */
static ug_status estimate(const nll *m, const ug_eval_env *env, const float *xb, int64_t rows, int64_t M,
                          double *logp, double *elbo, double *exact, double *scratch) {
    ug_ctx *ctx = env->ctx;
    const ug_model *mod = env->model;
    int64_t D = mod->info.space.dim;
    int64_t per = m->chunk / M > 0 ? m->chunk / M : 1;   /* rows per sample_backward call */
    double *lw = scratch, *tmp = scratch + per * M, *mask = scratch + 2 * per * M;
    for (int64_t r0 = 0; r0 < rows; r0 += per) {
        int64_t r = rows - r0 < per ? rows - r0 : per, B = r * M;
        float *px = ug_arena_alloc(ctx, (size_t)(B * D) * sizeof(float));   // [r*M, D] on the host
        if (!px) return ug_ctx_status(ctx);
        for (int64_t i = 0; i < r; i++)
            for (int64_t j = 0; j < M; j++) memcpy(px + (i * M + j) * D, xb + (r0 + i) * D, (size_t)D * sizeof(float));
        int64_t xshape[2] = {B, D};
        ug_tensor *x = ug_from_f32(ctx, px, 2, xshape);   // [r*M, D], row i repeated M times
        if (!x) return ug_ctx_status(ctx);
        ug_traj_req req = {.size = sizeof req, .batch = B, .start = x, .start_index = mod->info.horizon, .steps = -1};
        ug_traj tr = {.size = sizeof tr};
        ug_status st = mod->vt->sample_backward(mod->self, ctx, env->rng, &req, &tr);
        if (st) return st;
        if (tr.batch != B) return ug_ctx_fail(ctx, UG_ERR_ARG, "nll: asked for %lld backward trajectories, got %lld", (long long)B, (long long)tr.batch);
        if ((st = log_weights(ctx, &tr, lw, tmp, mask))) return st;
        for (int64_t i = 0; i < r; i++) {
            logp[r0 + i] = logmeanexp(lw + i * M, M);
            double e = 0.0;
            for (int64_t j = 0; j < M; j++) e += lw[i * M + j];
            elbo[r0 + i] = e / (double)M;
        }
        if (exact) {
            int64_t shape[2] = {r, D};
            ug_tensor *xr = ug_from_f32(ctx, xb + r0 * D, 2, shape);   // [r, D]
            ug_tensor *lp = xr ? mod->vt->log_prob(mod->self, ctx, xr) : NULL;   // [r]
            if (!lp) return ug_ctx_status(ctx) ? ug_ctx_status(ctx) : ug_ctx_fail(ctx, UG_ERR_INTERNAL, "nll: log_prob failed");
            if ((st = read_vec(ctx, lp, r, "log_prob", 0, exact + r0))) return st;
        }
        ug_step_reset(ctx);   /* memory stays bounded by one chunk */
    }
    return UG_OK;
}

static void mean_sem(const double *v, int64_t n, double *mean, double *sem) {
    double s = 0.0, ss = 0.0;
    for (int64_t i = 0; i < n; i++) s += v[i];
    *mean = s / (double)n;
    for (int64_t i = 0; i < n; i++) ss += (v[i] - *mean) * (v[i] - *mean);
    *sem = n > 1 ? sqrt(ss / (double)(n - 1) / (double)n) : 0.0;
}

static ug_status nll_evaluate(void *self, const ug_eval_env *env, ug_metric_out *out) {
    const nll *m = self;
    ug_ctx *ctx = env->ctx;
    const ug_model *mod = env->model;
    const ug_dataset *data = env->data;
    int64_t D = mod->info.space.dim;
    if (data->info.space.dim != D || data->info.space.kind != mod->info.space.kind)
        return ug_ctx_fail(ctx, UG_ERR_ARG, "nll: the model's space (kind %u, D=%lld) differs from the dataset's (kind %u, D=%lld)",
                           mod->info.space.kind, (long long)D, data->info.space.kind, (long long)data->info.space.dim);
    int64_t n = m->samples < data->info.heldout_size ? m->samples : data->info.heldout_size;
    if (n < 1) return ug_ctx_fail(ctx, UG_ERR_ARG, "nll: the dataset has no held-out rows");
    if (n < m->samples)
        ug_message(UG_LOG_WARN, "nll: samples = %lld but the held-out set has %lld rows: using all of them",
                   (long long)m->samples, (long long)n);
    /* a Dirac P_B gives every particle the same trajectory: one is exact */
    int64_t M = mod->info.deterministic_pb ? 1 : m->particles;
    bool want_exact = ug_model_has(mod, UG_CAP_LOG_PROB) && mod->vt->log_prob;
    int64_t per = m->chunk / M > 0 ? m->chunk / M : 1;
    int64_t bsz = m->batch < n ? m->batch : n;
    double *logp = malloc((size_t)n * sizeof(double));
    double *elbo = malloc((size_t)n * sizeof(double));
    double *exact = want_exact ? malloc((size_t)n * sizeof(double)) : NULL;
    double *scratch = malloc((size_t)(3 * per * M) * sizeof(double));
    float *xb = malloc((size_t)(bsz * D) * sizeof(float));
    bool grad = ug_set_grad_enabled(ctx, false);
    ug_status st = UG_OK;
    if (!logp || !elbo || (want_exact && !exact) || !scratch || !xb) st = ug_ctx_fail(ctx, UG_ERR_NOMEM, "nll: out of memory");
    for (int64_t off = 0; !st && off < n; off += bsz) {
        int64_t cnt = n - off < bsz ? n - off : bsz;
        ug_tensor *x = NULL;   // [cnt, D]
        if ((st = data->vt->heldout(data->self, ctx, off, cnt, &x))) break;
        if (!x || ug_numel(x) != cnt * D) {
            st = ug_ctx_fail(ctx, UG_ERR_ARG, "nll: held-out rows are not [%lld, %lld]", (long long)cnt, (long long)D);
            break;
        }
        if ((st = ug_tensor_get(ctx, x, xb, cnt * D))) break;
        ug_step_reset(ctx);
        st = estimate(m, env, xb, cnt, M, logp + off, elbo + off, exact ? exact + off : NULL, scratch);
    }
    ug_set_grad_enabled(ctx, grad);
    if (!st) {
        for (int64_t i = 0; i < n; i++) logp[i] = -logp[i];
        double mean, sem;
        mean_sem(logp, n, &mean, &sem);
        out->n_values = 0;
        out->keys[out->n_values] = "nll", out->values[out->n_values++] = mean;
        out->keys[out->n_values] = "nll_sem", out->values[out->n_values++] = sem;
        if (mod->info.space.kind == UG_SPACE_BINARY || mod->info.space.kind == UG_SPACE_CATEGORICAL)
            out->keys[out->n_values] = "bpd", out->values[out->n_values++] = mean / ((double)D * log(2.0));
        double emean, esem;
        mean_sem(elbo, n, &emean, &esem);
        out->keys[out->n_values] = "elbo", out->values[out->n_values++] = emean;
        if (exact) {
            for (int64_t i = 0; i < n; i++) exact[i] = -exact[i];
            mean_sem(exact, n, &mean, &sem);
            out->keys[out->n_values] = "nll_exact", out->values[out->n_values++] = mean;
        }
    }
    free(logp);
    free(elbo);
    free(exact);
    free(scratch);
    free(xb);
    return st;
}

static const ug_param_spec nll_params[] = {
    {"particles", UG_P_INT, "100", UG_P_MIN | UG_P_MAX, 1, UG_BOUND_COUNT, NULL, "M: backward trajectories per held-out point"},
    {"samples", UG_P_INT, "4000", UG_P_MIN | UG_P_MAX, 1, UG_BOUND_COUNT, NULL, "held-out points evaluated (at most the held-out size)"},
    {"batch", UG_P_INT, "1000", UG_P_MIN | UG_P_MAX, 1, UG_BOUND_COUNT, NULL, "held-out points fetched at a time"},
    {"chunk", UG_P_INT, "2000", UG_P_MIN | UG_P_MAX, 1, UG_BOUND_COUNT, NULL,
     "trajectories per sample_backward call (bounds memory; at least one point's M particles)"},
    {NULL, 0, NULL, 0, 0, 0, NULL, NULL},
};

static const ug_metric_vtable nll_vt = {.size = sizeof(ug_metric_vtable), .evaluate = nll_evaluate};

static const ug_plugin_desc nll_desc = {
    UG_DESC_HEADER(UG_KIND_METRIC),
    .name = "nll",
    .version = "1.0",
    .summary = "held-out NLL (nats; bpd for discrete data) by importance sampling over M backward trajectories "
               "(Eq. 24), and the ELBO from the same particles",
    .params = nll_params,
    .create = nll_create,
    .destroy = nll_destroy,
    .vtable = &nll_vt,
};

UG_PLUGIN_EXPORT(&nll_desc)
