/* sample2d.c — sample quality in the decoded 2-D plane (issue 19): model samples decoded to points
 * (Gray code -> point, or the points themselves for continuous 2-D data) against fresh true samples,
 * by two statistics that each come with their true-vs-true floor at the same sample size.
 *
 * Why beside `mmd`: the Hamming-kernel MMD on Gray codes is blind where it matters. Exact samples of the
 * uniform distribution on checkerboard's square score below the true-vs-true value (the Gray code of the
 * checkerboard shares its moments of order 1-3 with the uniform square, experiments/paper/analysis.md),
 * and on 2spirals a model with a third of its samples off the data scored MMD 1.4. Both statistics here
 * look at the points:
 *
 *   tv        = ½ Σ_c |p̂_c − q̂_c|: total variation between the histograms of n model points (p̂) and
 *               n true points (q̂) on a grid of bins × bins cells over [−range, range]²; the mass
 *               outside the square (and non-finite points) is one more cell, so a model cannot hide
 *               mass by throwing it far away. Uniform on checkerboard's square: 0.5 (half its mass
 *               falls on empty cells, and the other half is at half the density).
 *   tv_floor  = the same between two independent true sets of n points: what a perfect model shows,
 *               the estimator's upward bias from the finite counts (it shrinks like √(cells / n)).
 *   off_data  = the fraction of model points farther from the data than `quantile` (0.99) of true
 *               points are: d(z) = distance from z to its nearest neighbour among `reference` true
 *               points R; r = the `quantile` quantile of d over n held-out true points; off_data =
 *               #{x : d(x) > r} / n. Uniform on checkerboard's square: ≈ 0.49 (the empty cells, less
 *               a strip of width r along their edges).
 *   off_data_floor = #{y : d(y) > r} / n for another independent true set: ≈ 1 − quantile.
 *   off_data_radius = r, in the units of the decoded points.
 *
 * Sets per evaluation (all fresh, all independent): model X (n), true Y (n), Y2 (n), R (reference).
 * tv = TV(X, Y), tv_floor = TV(Y2, Y); r from Y2; off_data from X, off_data_floor from Y. Also reported:
 * `outside` (the model mass outside the square, included in tv), and the sample sizes `samples` and
 * `reference`, so that a table row says what its floor was measured at.
 *
 * Nearest neighbours are exact: a 2-D k-d tree over R (built in place by median splits, leaves of
 * KD_LEAF points), queried with branch-and-bound; d is computed in double. Cost: n (model draws) +
 * 2n + reference (true draws) samples, O((3n + reference) log reference) for the distances.
 * The step arena is reset after each sampling chunk: callers must not hold arena tensors across
 * evaluate(). */
#define UG_PLUGIN
#include "unigfn/plugin.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define KD_LEAF 8

typedef struct s2d_metric {
    int64_t samples, reference, bins, chunk;
    double range, quantile;
} s2d_metric;

static const ug_param_spec s2d_params[] = {
    {"samples", UG_P_INT, "50000", UG_P_MIN | UG_P_MAX, 100, UG_BOUND_COUNT, NULL,
     "model points, and points of each of the two true sets (tv's and the off-data radius's)"},
    {"reference", UG_P_INT, "200000", UG_P_MIN | UG_P_MAX, 100, UG_BOUND_COUNT, NULL,
     "true points the nearest-neighbour distances are measured to"},
    {"bins", UG_P_INT, "64", UG_P_MIN | UG_P_MAX, 2, 4096, NULL, "histogram cells per axis for tv"},
    {"range", UG_P_FLOAT, "6.4", UG_P_MIN | UG_P_MIN_OPEN, 0, 0, NULL,
     "half-width of the histogram square [-range, range]^2 (6.4: every 32-bit Gray code of synthetic2d, at most "
     "±6.2, in cells of 0.2 whose edges fall on checkerboard's)"},
    {"quantile", UG_P_FLOAT, "0.99", UG_P_MIN | UG_P_MAX | UG_P_MIN_OPEN | UG_P_MAX_OPEN, 0, 1, NULL,
     "off_data counts model points farther from the reference than this quantile of held-out true points"},
    {"chunk", UG_P_INT, "2000", UG_P_MIN | UG_P_MAX, 1, UG_BOUND_COUNT, NULL, "samples drawn per model call (bounds memory)"},
    {NULL, 0, NULL, 0, 0, 0, NULL, NULL},
};

/* What the points come from: the dataset's 2-D decoder, or continuous 2-D states themselves. */
static bool has_decoder(const ug_dataset *d) { return d->vt->decode && d->info.decoded_dim == 2; }
static bool decodable(const ug_dataset *d) {
    return has_decoder(d) || (d->info.space.kind == UG_SPACE_CONTINUOUS && d->info.space.dim == 2);
}

static void *s2d_create(const ug_create_args *a, ug_error *err) {
    if (a->data && !decodable(a->data)) {
        ug_error_set(err, UG_ERR_UNSUPPORTED,
                     "sample2d: dataset '%s' has no 2-D decoding (needs decode() to 2-D points, or continuous D = 2)",
                     a->data->name ? a->data->name : "?");
        return NULL;
    }
    s2d_metric *m = calloc(1, sizeof *m);
    if (!m) {
        ug_error_set(err, UG_ERR_NOMEM, "sample2d: out of memory");
        return NULL;
    }
    m->samples = ug_cfg_int(a->cfg, "samples", 50000);
    m->reference = ug_cfg_int(a->cfg, "reference", 200000);
    m->bins = ug_cfg_int(a->cfg, "bins", 64);
    m->chunk = ug_cfg_int(a->cfg, "chunk", 2000);
    m->range = ug_cfg_float(a->cfg, "range", 6.4);
    m->quantile = ug_cfg_float(a->cfg, "quantile", 0.99);
    if (m->samples < 100 || m->reference < 100 || m->bins < 2 || m->bins > 4096 || m->chunk < 1 || !(m->range > 0) ||
        !isfinite(m->range) || !(m->quantile > 0 && m->quantile < 1)) {
        ug_error_set(err, UG_ERR_ARG,
                     "sample2d: needs samples >= 100, reference >= 100, 2 <= bins <= 4096, chunk >= 1, range > 0, "
                     "0 < quantile < 1");
        free(m);
        return NULL;
    }
    return m;
}

static void s2d_destroy(void *self) { free(self); }

/* ---- drawing points ------------------------------------------------------------------------ */

/* x [B, D] -> its 2-D points [B, 2] into dst. */
static ug_status to_points(const ug_eval_env *env, ug_tensor *x, int64_t B, const char *what, float *dst) {
    ug_ctx *ctx = env->ctx;
    const ug_dataset *data = env->data;
    char sb[64];
    ug_tensor *p = x;   // [B, 2]
    if (has_decoder(data)) {
        ug_status st = data->vt->decode(data->self, ctx, x, &p);
        if (st) return st;
    }
    if (!p || p->ndim != 2 || p->shape[0] != B || p->shape[1] != 2 || p->dtype != UG_F32)
        return ug_ctx_status(ctx) ? ug_ctx_status(ctx)
                                  : ug_ctx_fail(ctx, UG_ERR_ARG, "sample2d: %s decodes to %s, not [%lld, 2] f32 points", what,
                                                p ? ug_shape_str(p, sb, sizeof sb) : "NULL", (long long)B);
    return ug_tensor_get(ctx, p, dst, 2 * B);
}

/* n points into pts [n, 2]: model samples (forward from s0) or the dataset's fresh true samples. */
static ug_status draw_points(const s2d_metric *m, const ug_eval_env *env, bool model, int64_t n, float *pts) {
    const char *what = model ? "a model sample batch" : "a true sample batch";
    for (int64_t off = 0; off < n; off += m->chunk) {
        int64_t B = n - off < m->chunk ? n - off : m->chunk;
        ug_tensor *x = NULL;
        ug_status st;
        if (model) {
            const ug_model *mod = env->model;
            ug_traj_req req = {.size = sizeof req, .batch = B, .steps = -1, .flags = UG_TRAJ_NO_PB | UG_TRAJ_NO_PF};
            ug_traj tr = {.size = sizeof tr};
            st = mod->vt->sample_forward(mod->self, env->ctx, env->rng, &req, &tr);
            x = tr.last;
        } else {
            st = env->data->vt->sample_true(env->data->self, env->ctx, env->rng, B, &x);
        }
        if (!st) st = to_points(env, x, B, what, pts + 2 * off);
        ug_step_reset(env->ctx);
        if (st) return st;
    }
    return UG_OK;
}

/* ---- total variation between histograms ----------------------------------------------------- */

/* Counts of pts [n, 2] in h [bins² + 1]: cell (row, col) of the square, the last one for everything
 * outside it (non-finite points included). */
static void histogram(const float *pts, int64_t n, int64_t bins, double R, int64_t *h) {
    memset(h, 0, (size_t)(bins * bins + 1) * sizeof(int64_t));
    for (int64_t i = 0; i < n; i++) {
        double fx = ((double)pts[2 * i] + R) / (2.0 * R) * (double)bins;
        double fy = ((double)pts[2 * i + 1] + R) / (2.0 * R) * (double)bins;
        if (!(fx >= 0.0 && fx < (double)bins && fy >= 0.0 && fy < (double)bins)) h[bins * bins]++;
        else h[(int64_t)fy * bins + (int64_t)fx]++;
    }
}

/* ½ Σ |a − b| / n over the cells of two histograms of n points each. */
static double tv_counts(const int64_t *a, const int64_t *b, int64_t cells, int64_t n) {
    int64_t s = 0;
    for (int64_t c = 0; c < cells; c++) s += a[c] > b[c] ? a[c] - b[c] : b[c] - a[c];
    return 0.5 * (double)s / (double)n;
}

/* ---- exact nearest neighbours: a 2-D k-d tree over the reference points ----------------------- */

/* Reorder rows lo..hi-1 of p [*, 2] so that row k has the k-th smallest coordinate `ax`, rows before it
 * no larger and rows after it no smaller (quickselect, Hoare partition). */
static void select_rows(float *p, int64_t lo, int64_t hi, int64_t k, int ax) {
    hi--;
    while (lo < hi) {
        float piv = p[2 * (lo + (hi - lo) / 2) + ax];
        int64_t i = lo, j = hi;
        while (i <= j) {
            while (p[2 * i + ax] < piv) i++;
            while (p[2 * j + ax] > piv) j--;
            if (i <= j) {
                float x = p[2 * i], y = p[2 * i + 1];
                p[2 * i] = p[2 * j], p[2 * i + 1] = p[2 * j + 1];
                p[2 * j] = x, p[2 * j + 1] = y;
                i++, j--;
            }
        }
        if (k <= j) hi = j;
        else if (k >= i) lo = i;
        else return;
    }
}

/* The tree is implicit: the node of rows lo..hi-1 splits at mid = (lo + hi) / 2 on axis depth % 2. */
static void kd_build(float *p, int64_t lo, int64_t hi, int depth) {
    if (hi - lo <= KD_LEAF) return;
    int64_t mid = lo + (hi - lo) / 2;
    select_rows(p, lo, hi, mid, depth & 1);
    kd_build(p, lo, mid, depth + 1);
    kd_build(p, mid + 1, hi, depth + 1);
}

static inline double sqd(const float *a, double qx, double qy) {
    double dx = (double)a[0] - qx, dy = (double)a[1] - qy;
    return dx * dx + dy * dy;
}

static void kd_nearest(const float *p, int64_t lo, int64_t hi, int depth, double qx, double qy, double *best) {
    if (hi - lo <= KD_LEAF) {
        for (int64_t i = lo; i < hi; i++) {
            double d = sqd(p + 2 * i, qx, qy);
            if (d < *best) *best = d;
        }
        return;
    }
    int64_t mid = lo + (hi - lo) / 2;
    double d = sqd(p + 2 * mid, qx, qy);
    if (d < *best) *best = d;
    double diff = (depth & 1 ? qy : qx) - (double)p[2 * mid + (depth & 1)];
    /* the near side first; the far side only if the splitting line is closer than the best so far */
    if (diff < 0) {
        kd_nearest(p, lo, mid, depth + 1, qx, qy, best);
        if (diff * diff < *best) kd_nearest(p, mid + 1, hi, depth + 1, qx, qy, best);
    } else {
        kd_nearest(p, mid + 1, hi, depth + 1, qx, qy, best);
        if (diff * diff < *best) kd_nearest(p, lo, mid, depth + 1, qx, qy, best);
    }
}

/* Distance from each row of q [n, 2] to the nearest reference point; +inf for a non-finite row. */
static void nn_dist(const float *ref, int64_t nr, const float *q, int64_t n, double *d) {
    for (int64_t i = 0; i < n; i++) {
        double qx = q[2 * i], qy = q[2 * i + 1], best = INFINITY;
        if (isfinite(qx) && isfinite(qy)) kd_nearest(ref, 0, nr, 0, qx, qy, &best);
        d[i] = sqrt(best);
    }
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double frac_above(const double *d, int64_t n, double r) {
    int64_t c = 0;
    for (int64_t i = 0; i < n; i++) c += d[i] > r;
    return (double)c / (double)n;
}

/* ---- evaluate ------------------------------------------------------------------------------ */

static ug_status s2d_evaluate(void *self, const ug_eval_env *env, ug_metric_out *out) {
    const s2d_metric *m = self;
    ug_ctx *ctx = env->ctx;
    const ug_dataset *data = env->data;
    const ug_space *ms = &env->model->info.space, *ds = &data->info.space;
    if (!decodable(data))
        return ug_ctx_fail(ctx, UG_ERR_UNSUPPORTED, "sample2d: dataset '%s' has no 2-D decoding", data->name ? data->name : "?");
    if (ms->kind != ds->kind || ms->dim != ds->dim)
        return ug_ctx_fail(ctx, UG_ERR_ARG,
                           "sample2d: the model's space (kind %u, D=%lld) differs from the dataset's (kind %u, D=%lld)",
                           ms->kind, (long long)ms->dim, ds->kind, (long long)ds->dim);
    const int64_t n = m->samples, nr = m->reference, cells = m->bins * m->bins + 1;
    float *x = malloc((size_t)n * 2 * sizeof(float)), *y = malloc((size_t)n * 2 * sizeof(float));    // [n, 2]
    float *y2 = malloc((size_t)n * 2 * sizeof(float)), *ref = malloc((size_t)nr * 2 * sizeof(float));  // [n, 2], [nr, 2]
    int64_t *hx = malloc((size_t)cells * sizeof(int64_t)), *hy = malloc((size_t)cells * sizeof(int64_t));
    int64_t *hy2 = malloc((size_t)cells * sizeof(int64_t));
    double *d = malloc((size_t)n * sizeof(double)), *dq = malloc((size_t)n * sizeof(double));   // [n]
    ug_status st = UG_OK;
    if (!x || !y || !y2 || !ref || !hx || !hy || !hy2 || !d || !dq)
        st = ug_ctx_fail(ctx, UG_ERR_NOMEM, "sample2d: out of memory for 3 x %lld + %lld points", (long long)n, (long long)nr);
    bool grad = ug_set_grad_enabled(ctx, false);
    if (!st) st = draw_points(m, env, true, n, x);
    if (!st) st = draw_points(m, env, false, n, y);
    if (!st) st = draw_points(m, env, false, n, y2);
    if (!st) st = draw_points(m, env, false, nr, ref);
    ug_set_grad_enabled(ctx, grad);
    for (int64_t i = 0; !st && i < 2 * nr; i++)
        if (!isfinite(ref[i]))
            st = ug_ctx_fail(ctx, UG_ERR_NUMERIC, "sample2d: the dataset's true sample %lld decodes to a non-finite point",
                             (long long)(i / 2));
    if (!st) {
        histogram(x, n, m->bins, m->range, hx);
        histogram(y, n, m->bins, m->range, hy);
        histogram(y2, n, m->bins, m->range, hy2);
        double tv = tv_counts(hx, hy, cells, n), tv_floor = tv_counts(hy2, hy, cells, n);

        kd_build(ref, 0, nr, 0);
        /* the radius: the quantile (order statistic ⌈q n⌉) of held-out true points' distances */
        nn_dist(ref, nr, y2, n, dq);
        qsort(dq, (size_t)n, sizeof(double), cmp_double);
        int64_t k = (int64_t)ceil(m->quantile * (double)n) - 1;
        double r = dq[k < 0 ? 0 : k >= n ? n - 1 : k];
        nn_dist(ref, nr, x, n, d);
        double off = frac_above(d, n, r);
        nn_dist(ref, nr, y, n, d);
        double off_floor = frac_above(d, n, r);

        out->n_values = 0;
        out->keys[out->n_values] = "tv", out->values[out->n_values++] = tv;
        out->keys[out->n_values] = "tv_floor", out->values[out->n_values++] = tv_floor;
        out->keys[out->n_values] = "off_data", out->values[out->n_values++] = off;
        out->keys[out->n_values] = "off_data_floor", out->values[out->n_values++] = off_floor;
        out->keys[out->n_values] = "off_data_radius", out->values[out->n_values++] = r;
        out->keys[out->n_values] = "outside", out->values[out->n_values++] = (double)hx[cells - 1] / (double)n;
        out->keys[out->n_values] = "samples", out->values[out->n_values++] = (double)n;
        out->keys[out->n_values] = "reference", out->values[out->n_values++] = (double)nr;
    }
    free(x), free(y), free(y2), free(ref), free(hx), free(hy), free(hy2), free(d), free(dq);
    return st;
}

static const ug_metric_vtable s2d_vt = {.size = sizeof(ug_metric_vtable), .evaluate = s2d_evaluate};

static const ug_plugin_desc s2d_desc = {
    UG_DESC_HEADER(UG_KIND_METRIC),
    .name = "sample2d",
    .version = "1.0",
    .summary = "decoded 2-D samples vs fresh true ones: histogram total variation and the fraction off the data, "
               "each with its true-vs-true floor",
    .params = s2d_params,
    .create = s2d_create,
    .destroy = s2d_destroy,
    .vtable = &s2d_vt,
};

UG_PLUGIN_EXPORT(&s2d_desc)
