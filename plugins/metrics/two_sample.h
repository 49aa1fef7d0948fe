/* two_sample.h — what the two-sample metrics on continuous samples (mmd_rbf, energy) share: the space
 * check, drawing model samples and fresh true samples in chunks into host memory, and the loop over
 * groups that also measures each statistic's noise floor.
 *
 * The floor: the same statistic between two independent sets of true samples, drawn like the model's
 * (same size, same kernel or distance). An unbiased statistic has expectation 0 there, so its spread
 * over groups is what "indistinguishable from the data at this sample size" looks like; a model is at
 * the floor when its value is within that spread.
 *
 * Memory: every chunk's tensors die at ug_step_reset (as in mmd.c), so callers must not hold arena
 * tensors across evaluate(); the samples live in three host arrays of n·D floats.
 *
 * Header-only on purpose: every metric is its own shared module and must not link another (STYLE.md),
 * so these are static inline. Include after `#define UG_PLUGIN` and "unigfn/plugin.h". */
#ifndef UG_METRICS_TWO_SAMPLE_H
#define UG_METRICS_TWO_SAMPLE_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

/* Model and dataset must both be continuous of one dimension. */
static inline ug_status ts_check_space(const ug_eval_env *env, const char *who) {
    const ug_space *ms = &env->model->info.space, *ds = &env->data->info.space;
    if (ms->kind != UG_SPACE_CONTINUOUS || ds->kind != UG_SPACE_CONTINUOUS || ms->dim != ds->dim)
        return ug_ctx_fail(env->ctx, UG_ERR_ARG,
                           "%s: needs continuous samples of one dimension; the model's space is kind %u D=%lld, the "
                           "dataset's kind %u D=%lld",
                           who, ms->kind, (long long)ms->dim, ds->kind, (long long)ds->dim);
    return UG_OK;
}

/* A [B, D] f32 tensor into host rows at dst. */
static inline ug_status ts_copy_rows(ug_ctx *ctx, ug_tensor *t, int64_t B, int64_t D, const char *who, const char *what,
                                     float *dst) {
    if (!t || ug_numel(t) != B * D || t->dtype != UG_F32)
        return ug_ctx_status(ctx) ? ug_ctx_status(ctx)
                                  : ug_ctx_fail(ctx, UG_ERR_ARG, "%s: %s is not [%lld, %lld] f32", who, what, (long long)B,
                                                (long long)D);
    return ug_tensor_get(ctx, t, dst, B * D);
}

/* n samples into x [n, D], `chunk` per call: forward from s0 (model) or the dataset's sample_true. */
static inline ug_status ts_samples(const ug_eval_env *env, bool model, int64_t n, int64_t chunk, const char *who, float *x) {
    int64_t D = env->data->info.space.dim;
    for (int64_t off = 0; off < n; off += chunk) {
        int64_t B = n - off < chunk ? n - off : chunk;
        ug_tensor *t = NULL;
        ug_status st;
        if (model) {
            const ug_model *mod = env->model;
            ug_traj_req req = {.size = sizeof req, .batch = B, .steps = -1, .flags = UG_TRAJ_NO_PB | UG_TRAJ_NO_PF};
            ug_traj tr = {.size = sizeof tr};
            st = mod->vt->sample_forward(mod->self, env->ctx, env->rng, &req, &tr);
            t = tr.last;
        } else {
            st = env->data->vt->sample_true(env->data->self, env->ctx, env->rng, B, &t);
        }
        if (!st) st = ts_copy_rows(env->ctx, t, B, D, who, model ? "a model sample batch" : "a true sample batch", x + off * D);
        ug_step_reset(env->ctx);
        if (st) return st;
    }
    return UG_OK;
}

static inline double ts_sqdist(const float *a, const float *b, int64_t D) {
    double s = 0.0;
    for (int64_t d = 0; d < D; d++) s += ((double)a[d] - b[d]) * ((double)a[d] - b[d]);
    return s;
}

/* Sample mean and standard deviation (n − 1) of v [n]. */
static inline void ts_mean_sd(const double *v, int64_t n, double *mean, double *sd) {
    double s = 0.0, ss = 0.0;
    for (int64_t i = 0; i < n; i++) s += v[i];
    *mean = s / (double)n;
    for (int64_t i = 0; i < n; i++) ss += (v[i] - *mean) * (v[i] - *mean);
    *sd = n > 1 ? sqrt(ss / (double)(n - 1)) : 0.0;
}

/* One group's statistic: model samples x, true samples y and y2 (each [n, D]) -> *stat (x vs y),
 * *floor (y2 vs y) and *aux (e.g. the bandwidth used; 0 if none). */
typedef ug_status (*ts_group_fn)(void *ud, const ug_eval_env *env, const float *x, const float *y, const float *y2,
                                 int64_t n, int64_t D, double *stat, double *floor, double *aux);

/* `groups` independent groups of n samples each: stat/floor/aux [groups]. Grad mode is off meanwhile. */
static inline ug_status ts_run_groups(const ug_eval_env *env, int64_t groups, int64_t n, int64_t chunk, const char *who,
                                      ts_group_fn fn, void *ud, double *stat, double *floor, double *aux) {
    ug_ctx *ctx = env->ctx;
    ug_status st = ts_check_space(env, who);
    if (st) return st;
    int64_t D = env->data->info.space.dim;
    float *x = malloc((size_t)(n * D) * sizeof(float)), *y = malloc((size_t)(n * D) * sizeof(float)),
          *y2 = malloc((size_t)(n * D) * sizeof(float));
    if (!x || !y || !y2)
        st = ug_ctx_fail(ctx, UG_ERR_NOMEM, "%s: out of memory for 3 x %lld samples of dimension %lld", who, (long long)n,
                         (long long)D);
    bool grad = ug_set_grad_enabled(ctx, false);
    for (int64_t g = 0; !st && g < groups; g++) {
        if ((st = ts_samples(env, true, n, chunk, who, x)) || (st = ts_samples(env, false, n, chunk, who, y)) ||
            (st = ts_samples(env, false, n, chunk, who, y2)))
            break;
        st = fn(ud, env, x, y, y2, n, D, stat + g, floor + g, aux + g);
    }
    ug_set_grad_enabled(ctx, grad);
    free(x), free(y), free(y2);
    return st;
}

#endif
