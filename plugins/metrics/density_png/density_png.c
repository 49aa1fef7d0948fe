/* density_png.c — a picture of the learned 2-D density: histograms of decoded model samples (left)
 * and of fresh true samples (right) on one colour scale, with axes in data units, a colour bar and a
 * title, written as <artifact_dir>/density-<step>.png. The plugin only bins; the host draws
 * (ug_plot_density, plot.h), with the same cairo code as `unigfn report samples`, so the plugin links
 * no drawing library.
 *
 * Also reports `density_tv`, the total-variation distance between the two normalized histograms
 * (mass outside the square counts as one extra bin), a cheap number that moves with the picture.
 * The step arena is reset after each sampling chunk: callers must not hold arena tensors across evaluate(). */
#define UG_PLUGIN
#include "unigfn/plugin.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct dpng {
    int64_t samples, bins, chunk;
    double range;   /* half-width of the square; 0 = from the true samples' extent */
} dpng;

static void *dpng_create(const ug_create_args *a, ug_error *err) {
    dpng *m = calloc(1, sizeof *m);
    if (!m) {
        ug_error_set(err, UG_ERR_NOMEM, "density_png: out of memory");
        return NULL;
    }
    m->samples = ug_cfg_int(a->cfg, "samples", 50000);
    m->bins = ug_cfg_int(a->cfg, "bins", 128);
    m->chunk = ug_cfg_int(a->cfg, "chunk", 2000);
    m->range = ug_cfg_float(a->cfg, "range", 0.0);
    if (m->samples < 1 || m->bins < 2 || m->bins > 4096 || m->chunk < 1 || !(m->range >= 0.0)) {
        ug_error_set(err, UG_ERR_ARG, "density_png: needs samples >= 1, 2 <= bins <= 4096, chunk >= 1, range >= 0");
        free(m);
        return NULL;
    }
    return m;
}

static void dpng_destroy(void *self) { free(self); }

/* x [B, D] -> 2-D points [B, 2] copied to dst: the dataset's decoder, or x itself for continuous D = 2. */
static ug_status to_points(const ug_eval_env *env, ug_tensor *x, int64_t B, float *dst) {
    ug_ctx *ctx = env->ctx;
    const ug_dataset *data = env->data;
    ug_tensor *p = x;   // [B, 2]
    if (data->vt->decode && data->info.decoded_dim == 2) {
        ug_status st = data->vt->decode(data->self, ctx, x, &p);
        if (st) return st;
    }
    if (!p || ug_numel(p) != 2 * B || p->dtype != UG_F32)
        return ug_ctx_status(ctx) ? ug_ctx_status(ctx)
                                  : ug_ctx_fail(ctx, UG_ERR_ARG, "density_png: samples do not decode to [%lld, 2] points", (long long)B);
    return ug_tensor_get(ctx, p, dst, 2 * B);
}

static ug_status draw_points(const dpng *m, const ug_eval_env *env, bool model, int64_t n, float *pts) {
    for (int64_t off = 0; off < n; off += m->chunk) {
        int64_t B = n - off < m->chunk ? n - off : m->chunk;
        ug_tensor *x = NULL;
        ug_status st;
        if (model) {
            const ug_model *mod = env->model;
            ug_traj_req req = {.size = sizeof req, .batch = B, .steps = -1, .flags = UG_TRAJ_NO_PB};
            ug_traj tr = {.size = sizeof tr};
            st = mod->vt->sample_forward(mod->self, env->ctx, env->rng, &req, &tr);
            x = tr.last;
        } else {
            st = env->data->vt->sample_true(env->data->self, env->ctx, env->rng, B, &x);
        }
        if (!st) st = to_points(env, x, B, pts + 2 * off);
        ug_step_reset(env->ctx);
        if (st) return st;
    }
    return UG_OK;
}

/* Counts per bin [bins, bins] (row 0 = top = largest y); returns how many fell outside. */
static int64_t histogram(const float *pts, int64_t n, int64_t bins, double R, int64_t *h) {
    memset(h, 0, (size_t)(bins * bins) * sizeof(int64_t));
    int64_t outside = 0;
    for (int64_t i = 0; i < n; i++) {
        double fx = (pts[2 * i] + R) / (2.0 * R) * (double)bins, fy = (R - pts[2 * i + 1]) / (2.0 * R) * (double)bins;
        if (!(fx >= 0.0 && fx < (double)bins && fy >= 0.0 && fy < (double)bins)) {
            outside++;
            continue;
        }
        h[(int64_t)fy * bins + (int64_t)fx]++;
    }
    return outside;
}

static ug_status dpng_evaluate(void *self, const ug_eval_env *env, ug_metric_out *out) {
    const dpng *m = self;
    ug_ctx *ctx = env->ctx;
    const ug_dataset *data = env->data;
    bool decodable = (data->vt->decode && data->info.decoded_dim == 2) ||
                     (data->info.space.kind == UG_SPACE_CONTINUOUS && data->info.space.dim == 2);
    if (!decodable) return ug_ctx_fail(ctx, UG_ERR_UNSUPPORTED, "density_png: dataset '%s' has no 2-D decoding", data->name ? data->name : "?");
    int64_t n = m->samples, bins = m->bins;
    float *pm = malloc((size_t)(2 * n) * sizeof(float)), *pt = malloc((size_t)(2 * n) * sizeof(float));
    int64_t *hm = malloc((size_t)(bins * bins) * sizeof(int64_t)), *ht = malloc((size_t)(bins * bins) * sizeof(int64_t));
    ug_status st = UG_OK;
    if (!pm || !pt || !hm || !ht) st = ug_ctx_fail(ctx, UG_ERR_NOMEM, "density_png: out of memory");
    bool grad = ug_set_grad_enabled(ctx, false);
    if (!st) st = draw_points(m, env, true, n, pm);
    if (!st) st = draw_points(m, env, false, n, pt);
    ug_set_grad_enabled(ctx, grad);
    if (!st) {
        double R = m->range;
        if (R <= 0.0) {   /* the true distribution's extent, with a margin */
            for (int64_t i = 0; i < 2 * n; i++)
                if (isfinite(pt[i]) && fabs(pt[i]) > R) R = fabs(pt[i]);
            R = R > 0.0 ? 1.05 * R : 4.5;
        }
        int64_t om = histogram(pm, n, bins, R, hm), ot = histogram(pt, n, bins, R, ht);
        double tv = fabs((double)(om - ot));
        for (int64_t i = 0; i < bins * bins; i++) tv += fabs((double)(hm[i] - ht[i]));
        tv = 0.5 * tv / (double)n;
        const char *dir = env->artifact_dir ? env->artifact_dir : ug_run_dir();
        char path[512], title[160], right[96];
        snprintf(title, sizeof title, "density at step %lld (total variation %.3f)", (long long)env->step, tv);
        snprintf(right, sizeof right, "true samples (%s)", data->name ? data->name : "?");
        ug_density_fig fig = {.size = sizeof fig, .title = title, .bins = (int)bins, .x0 = -R, .x1 = R, .y0 = -R, .y1 = R,
                              .sqrt_scale = 1, .n_panels = 2};
        fig.panels[0] = (ug_density_panel){.counts = hm, .n = n, .title = "model samples"};
        fig.panels[1] = (ug_density_panel){.counts = ht, .n = n, .title = right};
        ug_error perr = {0};
        int len = snprintf(path, sizeof path, "%s/density-%lld.png", dir, (long long)env->step);
        if (len < 0 || (size_t)len >= sizeof path)
            st = ug_ctx_fail(ctx, UG_ERR_IO, "density_png: artifact path too long under '%s'", dir);
        else if (ug_plot_density(path, &fig, &perr))
            st = ug_ctx_fail(ctx, perr.code, "density_png: %s", perr.msg);
        else {
            out->n_values = 1;
            out->keys[0] = "density_tv";
            out->values[0] = tv;
            out->n_artifacts = 1;
            memcpy(out->artifact_paths[0], path, (size_t)len + 1);
            out->artifact_kinds[0] = "png";
        }
    }
    free(pm), free(pt), free(hm), free(ht);
    return st;
}

static const ug_param_spec dpng_params[] = {
    {"samples", UG_P_INT, "50000", UG_P_MIN | UG_P_MAX, 1, UG_BOUND_COUNT, NULL, "model samples and true samples histogrammed"},
    {"bins", UG_P_INT, "128", UG_P_MIN | UG_P_MAX, 2, 4096, NULL, "histogram bins per axis"},
    {"range", UG_P_FLOAT, "0", UG_P_MIN, 0, 0, NULL, "half-width of the square shown; 0 = 1.05 x the true samples' extent"},
    {"chunk", UG_P_INT, "2000", UG_P_MIN | UG_P_MAX, 1, UG_BOUND_COUNT, NULL, "samples drawn per model call (bounds memory)"},
    {NULL, 0, NULL, 0, 0, 0, NULL, NULL},
};

static const ug_metric_vtable dpng_vt = {.size = sizeof(ug_metric_vtable), .evaluate = dpng_evaluate};

static const ug_plugin_desc dpng_desc = {
    UG_DESC_HEADER(UG_KIND_METRIC),
    .name = "density_png",
    .version = "1.1",
    .summary = "PNG of 2-D histograms of decoded model samples and true samples, with axes and a colour scale",
    .params = dpng_params,
    .create = dpng_create,
    .destroy = dpng_destroy,
    .vtable = &dpng_vt,
};

UG_PLUGIN_EXPORT(&dpng_desc)
