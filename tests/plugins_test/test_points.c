/* test_points.c — TEST-ONLY model "test_points" whose samples are exact draws of a known law on the
 * dataset's space, for the 2-D sample-quality metric (plugins/metrics/sample2d, tests/test_sample2d.c):
 *
 *   law: data     x ~ the dataset's own true distribution (its sample_true): a perfect model, which
 *                 must score at the metric's true-vs-true floors;
 *   law: uniform  the point (u, v) ~ U([−half, half]²), as x: the point itself for continuous 2-D data,
 *                 its 32-bit Gray code (the real encoder of plugins/datasets/synthetic2d/gray.c, with
 *                 `int_scale`, checkerboard's by default) for binary D = 32 data. On checkerboard with
 *                 half = 4 this is the square's uniform density, the plateau the §4.2 runs sat on.
 *
 * One step from s_0 to x; no log P_F (the data's law has no closed form here), so sample_forward
 * requires UG_TRAJ_NO_PF and refuses otherwise. Built into build/tests/, never into build/plugins/. */
#ifndef UG_PLUGIN
#define UG_PLUGIN
#endif
#include "unigfn/plugin.h"

#include <stdlib.h>
#include <string.h>

#include "toy2d.h"

typedef struct points_model {
    const ug_dataset *data;
    bool uniform, gray;
    double half, int_scale;
    ug_space space;
} points_model;

static void *pm_create(const ug_create_args *a, ug_error *err) {
    if (!a->data) {
        ug_error_set(err, UG_ERR_ARG, "test_points: needs a dataset (it samples on the dataset's space)");
        return NULL;
    }
    const ug_space *s = &a->data->info.space;
    bool uniform = strcmp(ug_cfg_str(a->cfg, "law", "data"), "uniform") == 0;
    bool gray = s->kind == UG_SPACE_BINARY && s->dim == 32, cont = s->kind == UG_SPACE_CONTINUOUS && s->dim == 2;
    if (uniform && !gray && !cont) {
        ug_error_set(err, UG_ERR_ARG, "test_points: law uniform needs continuous D = 2 or binary D = 32 (Gray) data");
        return NULL;
    }
    points_model *m = calloc(1, sizeof *m);
    if (!m) {
        ug_error_set(err, UG_ERR_NOMEM, "test_points: out of memory");
        return NULL;
    }
    m->data = a->data;
    m->uniform = uniform;
    m->gray = gray;
    m->half = ug_cfg_float(a->cfg, "half", 4.0);
    m->int_scale = ug_cfg_float(a->cfg, "int_scale", 5461.8654);
    m->space = *s;
    return m;
}

static void pm_destroy(void *self) { free(self); }

static void pm_info(void *self, ug_model_info *out) {
    points_model *m = self;
    uint32_t size = out->size;
    memset(out, 0, sizeof *out);
    out->size = size;
    out->space = m->space;
    out->horizon = 1;
}

static ug_status pm_sample_forward(void *self, ug_ctx *ctx, ug_rng *rng, const ug_traj_req *req, ug_traj *out) {
    points_model *m = self;
    if (req->start || req->batch <= 0 || !(req->flags & UG_TRAJ_NO_PF))
        return ug_ctx_fail(ctx, UG_ERR_UNSUPPORTED,
                           "test_points.sample_forward: only from s0, with UG_TRAJ_NO_PF (it has no log P_F)");
    const int64_t B = req->batch, D = m->space.dim;
    ug_tensor *x = NULL;   // [B, D]
    if (!m->uniform) {
        ug_status st = m->data->vt->sample_true(m->data->self, ctx, rng, B, &x);
        if (st) return st;
    } else {
        float *pts = ug_arena_alloc(ctx, sizeof(float) * (size_t)(2 * B));    // [B, 2] on the host
        float *xh = ug_arena_alloc(ctx, sizeof(float) * (size_t)(B * D));     // [B, D] on the host
        if (!pts || !xh) return ug_ctx_fail(ctx, UG_ERR_NOMEM, "test_points: no memory for %lld rows", (long long)B);
        ug_rng_uniform(rng, pts, 2 * B);
        for (int64_t i = 0; i < 2 * B; i++) pts[i] = (float)((2.0 * pts[i] - 1.0) * m->half);
        if (m->gray) gray32_encode(pts, B, m->int_scale, xh);
        else memcpy(xh, pts, sizeof(float) * (size_t)(2 * B));
        int64_t sh[2] = {B, D};
        if (!(x = ug_from_f32(ctx, xh, 2, sh))) return ug_ctx_status(ctx);
    }
    uint32_t size = out->size;
    memset(out, 0, sizeof *out);
    out->size = size;
    out->batch = B;
    out->start = 0;
    out->steps = 1;
    int64_t sh[2] = {B, D};
    out->first = ug_full(ctx, 2, sh, -1.0f);
    out->last = x;
    return out->first ? UG_OK : ug_ctx_status(ctx);
}

static const ug_param_spec pm_params[] = {
    {"law", UG_P_ENUM, "data", 0, 0, 0, "data|uniform", "data: the dataset's own samples; uniform: U([-half, half]^2)"},
    {"half", UG_P_FLOAT, "4.0", UG_P_MIN | UG_P_MIN_OPEN, 0, 0, NULL, "half-width of the uniform square"},
    {"int_scale", UG_P_FLOAT, "5461.8654", UG_P_MIN | UG_P_MIN_OPEN, 0, 0, NULL,
     "Gray code scale for binary D = 32 data (checkerboard's by default)"},
    {NULL, 0, NULL, 0, 0, 0, NULL, NULL},
};

static const ug_model_vtable pm_vt = {
    .size = sizeof(ug_model_vtable),
    .info = pm_info,
    .sample_forward = pm_sample_forward,
};

static const ug_plugin_desc pm_desc = {
    UG_DESC_HEADER(UG_KIND_MODEL),
    .name = "test_points",
    .version = "1.0",
    .summary = "TEST ONLY: exact samples of the dataset's law or of a uniform square, on the dataset's space",
    .params = pm_params,
    .create = pm_create,
    .destroy = pm_destroy,
    .vtable = &pm_vt,
};

UG_PLUGIN_EXPORT(&pm_desc)
