/* mmd_rbf.c — maximum mean discrepancy with a Gaussian kernel between model samples and fresh true
 * samples of a continuous space, with its noise floor (issue 18's sample-quality metric; Gretton et
 * al. 2012, Lemma 6's unbiased estimator):
 *
 *   k(a, b) = exp(−‖a − b‖² / (2 σ²))
 *   MMD²_u  = 1/(n(n−1)) Σ_{i≠j} k(x_i, x_j) + 1/(n(n−1)) Σ_{i≠j} k(y_i, y_j) − 2/n² Σ_{i,j} k(x_i, y_j)
 *
 * σ² is the median heuristic unless `bandwidth` fixes σ: the median of the pairwise squared distances
 * of the pooled samples (the first `median_rows` model and true samples of the group; the lower of
 * the two middle values for an even count). Each of `groups` groups draws n = `samples` model samples
 * x and two independent true sets y, y2; `mmd_rbf` is the mean over groups of MMD²_u(x, y) and
 * `mmd_floor` that of MMD²_u(y2, y) with the same σ: the value a perfect model would show at this
 * sample size. Both come with their standard deviation over groups (`…_sd`); `mmd_bandwidth` is the
 * mean σ used. Values are MMD² itself (not scaled: the binary `mmd` plugin reports ×1e-4).
 *
 * For Gaussians the expectation is closed-form (tests/test_metrics.c checks it): with X ~ N(μ₁, s₁² I)
 * and Y ~ N(μ₂, s₂² I) in D dimensions,
 *   E k(X, Y) = (σ² / (σ² + s₁² + s₂²))^{D/2} · exp(−‖μ₁ − μ₂‖² / (2 (σ² + s₁² + s₂²))).
 *
 * Why a plugin beside `mmd` instead of a `kernel: rbf` option there: `mmd` is the EB-GFN metric (a rate
 * `bandwidth` in exp(−bandwidth·d), values ×1e-4, run ids of the paper's runs); this one has another
 * bandwidth meaning, a data-dependent bandwidth, a floor and unscaled values. One name per convention
 * keeps tables from mixing them. Cost: 3.5 n² kernel evaluations a group (x–x, y–y, x–y, y2–y2, y2–y
 * with y–y shared), plus the median over (2m choose 2) pairs for m = median_rows. */
#define UG_PLUGIN
#include "unigfn/plugin.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../two_sample.h"

typedef struct mmd_rbf {
    int64_t groups, samples, chunk, median_rows;
    double bandwidth;   /* σ; 0 = median heuristic */
    double *pairs;      /* scratch for the median: (2m choose 2) */
    int64_t pairs_cap;
} mmd_rbf;

static const ug_param_spec mmd_rbf_params[] = {
    {"groups", UG_P_INT, "5", UG_P_MIN | UG_P_MAX, 1, UG_BOUND_COUNT, NULL, "independent groups averaged (the _sd values are their spread)"},
    {"samples", UG_P_INT, "4000", UG_P_MIN | UG_P_MAX, 2, UG_BOUND_COUNT, NULL, "model samples and true samples (each set) per group"},
    {"bandwidth", UG_P_FLOAT, "0", UG_P_MIN, 0, 0, NULL,
     "kernel length sigma in exp(-|a-b|^2 / (2 sigma^2)); 0 = median heuristic on the pooled samples"},
    {"median_rows", UG_P_INT, "1000", UG_P_MIN | UG_P_MAX, 2, UG_BOUND_COUNT, NULL, "model and true samples pooled for the median heuristic"},
    {"chunk", UG_P_INT, "2000", UG_P_MIN | UG_P_MAX, 1, UG_BOUND_COUNT, NULL, "samples drawn per model call (bounds memory)"},
    {NULL, 0, NULL, 0, 0, 0, NULL, NULL},
};

/* The k-th smallest of v [n] (quickselect; v is reordered). */
static double select_kth(double *v, int64_t n, int64_t k) {
    int64_t lo = 0, hi = n - 1;
    while (lo < hi) {
        double p = v[lo + (hi - lo) / 2];
        int64_t i = lo, j = hi;
        while (i <= j) {
            while (v[i] < p) i++;
            while (v[j] > p) j--;
            if (i <= j) {
                double t = v[i];
                v[i++] = v[j], v[j--] = t;
            }
        }
        if (k <= j) hi = j;
        else if (k >= i) lo = i;
        else return v[k];
    }
    return v[k];
}

/* Median pairwise squared distance of the first m rows of x and of y, pooled. */
static ug_status median_sqdist(mmd_rbf *m, ug_ctx *ctx, const float *x, const float *y, int64_t n, int64_t D, double *med) {
    int64_t r = n < m->median_rows ? n : m->median_rows, P = 2 * r, np = P * (P - 1) / 2;
    if (np > m->pairs_cap) {
        double *p = realloc(m->pairs, (size_t)np * sizeof(double));
        if (!p) return ug_ctx_fail(ctx, UG_ERR_NOMEM, "mmd_rbf: out of memory for %lld pair distances", (long long)np);
        m->pairs = p, m->pairs_cap = np;
    }
    int64_t c = 0;
    for (int64_t i = 0; i < P; i++) {
        const float *a = i < r ? x + i * D : y + (i - r) * D;
        for (int64_t j = i + 1; j < P; j++) m->pairs[c++] = ts_sqdist(a, j < r ? x + j * D : y + (j - r) * D, D);
    }
    *med = select_kth(m->pairs, np, (np - 1) / 2);
    return UG_OK;
}

/* Σ k over i < j within a (b == NULL) or over all i, j across a and b. */
static double ksum(const float *a, const float *b, int64_t n, int64_t D, double inv2s2) {
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) {
        const float *ai = a + i * D;
        if (b)
            for (int64_t j = 0; j < n; j++) s += exp(-inv2s2 * ts_sqdist(ai, b + j * D, D));
        else
            for (int64_t j = i + 1; j < n; j++) s += exp(-inv2s2 * ts_sqdist(ai, a + j * D, D));
    }
    return s;
}

static ug_status mmd_group(void *ud, const ug_eval_env *env, const float *x, const float *y, const float *y2, int64_t n,
                           int64_t D, double *stat, double *floor, double *aux) {
    mmd_rbf *m = ud;
    double s2 = m->bandwidth * m->bandwidth;
    if (!(m->bandwidth > 0)) {
        ug_status st = median_sqdist(m, env->ctx, x, y, n, D, &s2);
        if (st) return st;
        if (!(s2 > 0) || !isfinite(s2))
            return ug_ctx_fail(env->ctx, UG_ERR_NUMERIC, "mmd_rbf: the median squared distance is %g (identical or non-finite samples)", s2);
    }
    double inv = 1.0 / (2.0 * s2), nn = (double)n;
    double kxx = ksum(x, NULL, n, D, inv), kyy = ksum(y, NULL, n, D, inv), kxy = ksum(x, y, n, D, inv);
    double kzz = ksum(y2, NULL, n, D, inv), kzy = ksum(y2, y, n, D, inv);
    /* within-set sums ran over i < j: twice that is the off-diagonal sum */
    double w = 2.0 / (nn * (nn - 1.0));
    *stat = w * kxx + w * kyy - 2.0 * kxy / (nn * nn);
    *floor = w * kzz + w * kyy - 2.0 * kzy / (nn * nn);
    *aux = sqrt(s2);
    return UG_OK;
}

static ug_status mmd_rbf_evaluate(void *self, const ug_eval_env *env, ug_metric_out *out) {
    mmd_rbf *m = self;
    int64_t G = m->groups;
    double *v = malloc(sizeof(double) * (size_t)(3 * G));
    if (!v) return ug_ctx_fail(env->ctx, UG_ERR_NOMEM, "mmd_rbf: out of memory");
    ug_status st = ts_run_groups(env, G, m->samples, m->chunk, "mmd_rbf", mmd_group, m, v, v + G, v + 2 * G);
    if (!st) {
        double mean, sd, bw, bsd;
        out->n_values = 0;
        ts_mean_sd(v, G, &mean, &sd);
        out->keys[out->n_values] = "mmd_rbf", out->values[out->n_values++] = mean;
        out->keys[out->n_values] = "mmd_rbf_sd", out->values[out->n_values++] = sd;
        ts_mean_sd(v + G, G, &mean, &sd);
        out->keys[out->n_values] = "mmd_floor", out->values[out->n_values++] = mean;
        out->keys[out->n_values] = "mmd_floor_sd", out->values[out->n_values++] = sd;
        ts_mean_sd(v + 2 * G, G, &bw, &bsd);
        out->keys[out->n_values] = "mmd_bandwidth", out->values[out->n_values++] = bw;
    }
    free(v);
    return st;
}

static void *mmd_rbf_create(const ug_create_args *a, ug_error *err) {
    mmd_rbf *m = calloc(1, sizeof *m);
    if (!m) {
        ug_error_set(err, UG_ERR_NOMEM, "mmd_rbf: out of memory");
        return NULL;
    }
    m->groups = ug_cfg_int(a->cfg, "groups", 5);
    m->samples = ug_cfg_int(a->cfg, "samples", 4000);
    m->bandwidth = ug_cfg_float(a->cfg, "bandwidth", 0.0);
    m->median_rows = ug_cfg_int(a->cfg, "median_rows", 1000);
    m->chunk = ug_cfg_int(a->cfg, "chunk", 2000);
    if (m->groups < 1 || m->samples < 2 || m->chunk < 1 || m->median_rows < 2 || !(m->bandwidth >= 0)) {
        ug_error_set(err, UG_ERR_ARG, "mmd_rbf: needs groups >= 1, samples >= 2, median_rows >= 2, chunk >= 1, bandwidth >= 0");
        free(m);
        return NULL;
    }
    if (a->data && a->data->info.space.kind != UG_SPACE_CONTINUOUS) {
        ug_error_set(err, UG_ERR_ARG, "mmd_rbf: dataset '%s' is not continuous (use `mmd` for binary or categorical data)",
                     a->data->name ? a->data->name : "?");
        free(m);
        return NULL;
    }
    return m;
}

static void mmd_rbf_destroy(void *self) {
    mmd_rbf *m = self;
    if (m) free(m->pairs);
    free(m);
}

static const ug_metric_vtable mmd_rbf_vt = {.size = sizeof(ug_metric_vtable), .evaluate = mmd_rbf_evaluate};

static const ug_plugin_desc mmd_rbf_desc = {
    UG_DESC_HEADER(UG_KIND_METRIC),
    .name = "mmd_rbf",
    .version = "1.0",
    .summary = "unbiased MMD^2, Gaussian kernel (median-heuristic bandwidth), model vs fresh true samples of a continuous "
               "space, with its true-vs-true floor",
    .params = mmd_rbf_params,
    .create = mmd_rbf_create,
    .destroy = mmd_rbf_destroy,
    .vtable = &mmd_rbf_vt,
};

UG_PLUGIN_EXPORT(&mmd_rbf_desc)
