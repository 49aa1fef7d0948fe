/* sample_grid.c — a picture of model samples for image datasets: rows x cols decoded model samples
 * (left panel) beside rows x cols fresh true samples (right panel, the dataset's sample_true), written
 * as <artifact_dir>/samples-<step>.png, so a reader sees both at once. The plugin lays out raw pixels
 * and the host writes them (ug_plot_rgb, plot.h: cairo, pixel for pixel), so it links no image library.
 *
 * Layout (what tests/test_sample_grid.sh recomputes): each image is H x W pixels from the dataset's
 * space.shape (C, H, W), every pixel an s x s block (s = `scale`, or with scale 0 the smallest s with
 * s * min(H, W) >= 32); images are `gap` px apart inside a panel, and the panels 8 + 4 * gap px apart,
 * so the seam between them always reads wider than a gap between images. A panel is
 * cols * W * s + (cols - 1) * gap wide and rows * H * s + (rows - 1) * gap high; the picture is two
 * panels and the seam wide, one panel high, with no outer border. Gaps are mid-gray, the seam white.
 *
 * Pixels: intensity v in [0, 1] is drawn as 255 v (0 black, 1 white), gray for C = 1 and RGB for
 * C = 3, as `unigfn report samples` draws its grid. The intensities come from the dataset's `decode`
 * (decoded_dim must be C * H * W; plugins/datasets/images gives [0, 1]), or, for a dataset without a
 * decoder, from a continuous x of dimension C * H * W itself (unigfn/image_layout.h). Either way they
 * are clamped to [0, 1] and a non-finite value is drawn black. Anything else is refused at create,
 * naming the dataset.
 *
 * Values: none. The runner stores an evaluation's artifacts with or without values (runner.c skips the
 * metrics row when n_values is 0), so the picture is reported alone rather than beside a made-up number.
 * The step arena is reset after each sampling chunk: callers must not hold arena tensors across evaluate(). */
#define UG_PLUGIN
#include "unigfn/plugin.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unigfn/image_layout.h"

typedef struct sgrid {
    int64_t rows, cols, scale, gap, chunk;   /* scale 0 = automatic */
} sgrid;

#define IMAGE_MIN_PX 32      /* scale 0: each image at least this many pixels on its shorter side */
#define SEAM_PX(gap) (8 + 4 * (gap))
#define PICTURE_MAX_PX 16384 /* refuse pictures wider or higher than this (memory, viewers) */
#define GAP_GRAY 128
#define SEAM_GRAY 255

static int64_t auto_scale(const sgrid *m, const ug_image_layout *L) {
    if (m->scale > 0) return m->scale;
    int64_t side = L->H < L->W ? L->H : L->W;
    return side >= IMAGE_MIN_PX ? 1 : (IMAGE_MIN_PX + side - 1) / side;
}

/* Picture size for this layout; 0 when it is over PICTURE_MAX_PX either way. */
static int picture_size(const sgrid *m, const ug_image_layout *L, int64_t *pw, int64_t *ph, int64_t *W, int64_t *H) {
    int64_t s = auto_scale(m, L);
    if (L->W > PICTURE_MAX_PX || L->H > PICTURE_MAX_PX) return 0;   /* keeps the products below in range */
    *pw = m->cols * L->W * s + (m->cols - 1) * m->gap;
    *ph = m->rows * L->H * s + (m->rows - 1) * m->gap;
    *W = 2 * *pw + SEAM_PX(m->gap), *H = *ph;
    return *W <= PICTURE_MAX_PX && *H <= PICTURE_MAX_PX;
}

static void *sgrid_create(const ug_create_args *a, ug_error *err) {
    sgrid m = {
        .rows = ug_cfg_int(a->cfg, "rows", 8),
        .cols = ug_cfg_int(a->cfg, "cols", 8),
        .scale = ug_cfg_int(a->cfg, "scale", 0),
        .gap = ug_cfg_int(a->cfg, "gap", 1),
        .chunk = ug_cfg_int(a->cfg, "chunk", 256),
    };
    if (m.rows < 1 || m.rows > 256 || m.cols < 1 || m.cols > 256 || m.scale < 0 || m.scale > 64 || m.gap < 0 ||
        m.gap > 64 || m.chunk < 1) {
        ug_error_set(err, UG_ERR_ARG, "sample_grid: needs 1 <= rows <= 256, 1 <= cols <= 256, 0 <= scale <= 64, "
                     "0 <= gap <= 64, chunk >= 1 (got rows %lld, cols %lld, scale %lld, gap %lld, chunk %lld)",
                     (long long)m.rows, (long long)m.cols, (long long)m.scale, (long long)m.gap, (long long)m.chunk);
        return NULL;
    }
    if (a->data) {   /* refuse before training what could never be drawn */
        ug_image_layout L;
        char why[160];
        const char *name = a->data->name ? a->data->name : "?";
        if (!ug_image_layout_of(a->data, &L, why, sizeof why)) {
            ug_error_set(err, UG_ERR_UNSUPPORTED, "sample_grid: dataset '%s' %s", name, why);
            return NULL;
        }
        int64_t pw, ph, W, H;
        if (!picture_size(&m, &L, &pw, &ph, &W, &H)) {
            ug_error_set(err, UG_ERR_ARG, "sample_grid: a %lld x %lld grid of %lld x %lld images (dataset '%s') at scale %lld is "
                         "over %d px on a side: lower rows, cols or scale", (long long)m.rows, (long long)m.cols,
                         (long long)L.H, (long long)L.W, name, (long long)auto_scale(&m, &L), PICTURE_MAX_PX);
            return NULL;
        }
    }
    sgrid *p = malloc(sizeof *p);
    if (!p) {
        ug_error_set(err, UG_ERR_NOMEM, "sample_grid: out of memory");
        return NULL;
    }
    *p = m;
    return p;
}

static void sgrid_destroy(void *self) { free(self); }

/* n samples [n, C*H*W] of intensities into dst: the model's (sample_forward) or the data's (sample_true),
 * decoded where the dataset has a decoder, in chunks with the arena reset after each. */
static ug_status draw_images(const sgrid *m, const ug_eval_env *env, const ug_image_layout *L, bool model, int64_t n, float *dst) {
    ug_ctx *ctx = env->ctx;
    const ug_dataset *data = env->data;
    int64_t chw = L->C * L->H * L->W;
    for (int64_t off = 0; off < n; off += m->chunk) {
        int64_t B = n - off < m->chunk ? n - off : m->chunk;
        ug_tensor *x = NULL;   // [B, D]
        ug_status st;
        if (model) {
            const ug_model *mod = env->model;
            ug_traj_req req = {.size = sizeof req, .batch = B, .steps = -1, .flags = UG_TRAJ_NO_PB};
            ug_traj tr = {.size = sizeof tr};
            st = mod->vt->sample_forward(mod->self, ctx, env->rng, &req, &tr);
            x = tr.last;
        } else {
            st = data->vt->sample_true(data->self, ctx, env->rng, B, &x);
        }
        ug_tensor *p = x;   // [B, C*H*W]
        if (!st && x && L->decode) st = data->vt->decode(data->self, ctx, x, &p);
        if (!st && (!p || ug_numel(p) != B * chw || p->dtype != UG_F32)) {
            char buf[64];
            st = ug_ctx_status(ctx) ? ug_ctx_status(ctx)
                                    : ug_ctx_fail(ctx, UG_ERR_ARG, "sample_grid: %s samples of dataset '%s' are %s, not [%lld, %lld] images",
                                                  model ? "model" : "true", data->name ? data->name : "?",
                                                  p ? ug_shape_str(p, buf, sizeof buf) : "missing", (long long)B, (long long)chw);
        }
        if (!st) st = ug_tensor_get(ctx, p, dst + off * chw, B * chw);
        ug_step_reset(ctx);
        if (st) return st;
    }
    return UG_OK;
}

/* One panel of n = rows*cols images (row-major in the grid) with its top-left corner at column x0. */
static void paint(const sgrid *m, const ug_image_layout *L, int64_t s, const float *imgs, unsigned char *pic, int64_t Wpic, int64_t x0) {
    int64_t hw = L->H * L->W;
    for (int64_t i = 0; i < m->rows * m->cols; i++) {
        const float *img = imgs + i * L->C * hw;
        int64_t gx = x0 + (i % m->cols) * (L->W * s + m->gap), gy = (i / m->cols) * (L->H * s + m->gap);
        for (int64_t r = 0; r < L->H * s; r++)
            for (int64_t c = 0; c < L->W * s; c++) {
                unsigned char *px = pic + 3 * ((gy + r) * Wpic + gx + c);
                for (int k = 0; k < 3; k++) {
                    float v = img[(L->C == 3 ? k : 0) * hw + (r / s) * L->W + c / s];
                    v = v > 0.0f ? (v < 1.0f ? v : 1.0f) : 0.0f;   /* NaN -> 0 too */
                    px[k] = (unsigned char)lrintf(255.0f * v);
                }
            }
    }
}

static ug_status sgrid_evaluate(void *self, const ug_eval_env *env, ug_metric_out *out) {
    const sgrid *m = self;
    ug_ctx *ctx = env->ctx;
    const ug_dataset *data = env->data;
    const char *name = data->name ? data->name : "?";
    ug_image_layout L;
    char why[160];
    int64_t pw, ph, Wpic, Hpic;
    if (!ug_image_layout_of(data, &L, why, sizeof why)) return ug_ctx_fail(ctx, UG_ERR_UNSUPPORTED, "sample_grid: dataset '%s' %s", name, why);
    if (!picture_size(m, &L, &pw, &ph, &Wpic, &Hpic))
        return ug_ctx_fail(ctx, UG_ERR_ARG, "sample_grid: the picture for dataset '%s' is over %d px on a side", name, PICTURE_MAX_PX);
    int64_t n = m->rows * m->cols, chw = L.C * L.H * L.W, s = auto_scale(m, &L);
    float *xm = malloc((size_t)(n * chw) * sizeof(float)), *xt = malloc((size_t)(n * chw) * sizeof(float));
    unsigned char *pic = malloc((size_t)(Wpic * Hpic * 3));
    ug_status st = UG_OK;
    if (!xm || !xt || !pic) st = ug_ctx_fail(ctx, UG_ERR_NOMEM, "sample_grid: out of memory for a %lld x %lld picture", (long long)Wpic, (long long)Hpic);
    bool grad = ug_set_grad_enabled(ctx, false);
    if (!st) st = draw_images(m, env, &L, true, n, xm);
    if (!st) st = draw_images(m, env, &L, false, n, xt);
    ug_set_grad_enabled(ctx, grad);
    if (!st) {
        memset(pic, GAP_GRAY, (size_t)(Wpic * Hpic * 3));
        for (int64_t r = 0; r < Hpic; r++) memset(pic + 3 * (r * Wpic + pw), SEAM_GRAY, (size_t)(3 * SEAM_PX(m->gap)));
        paint(m, &L, s, xm, pic, Wpic, 0);
        paint(m, &L, s, xt, pic, Wpic, pw + SEAM_PX(m->gap));
        const char *dir = env->artifact_dir ? env->artifact_dir : ug_run_dir();
        char path[512];
        ug_error perr = {0};
        int len = snprintf(path, sizeof path, "%s/samples-%lld.png", dir, (long long)env->step);
        if (len < 0 || (size_t)len >= sizeof path)
            st = ug_ctx_fail(ctx, UG_ERR_IO, "sample_grid: artifact path too long under '%s'", dir);
        else if (ug_plot_rgb(path, pic, (int)Wpic, (int)Hpic, &perr))
            st = ug_ctx_fail(ctx, perr.code, "sample_grid: %s", perr.msg);
        else {
            out->n_values = 0;
            out->n_artifacts = 1;
            memcpy(out->artifact_paths[0], path, (size_t)len + 1);
            out->artifact_kinds[0] = "png";
        }
    }
    free(xm), free(xt), free(pic);
    return st;
}

static const ug_param_spec sgrid_params[] = {
    {"rows", UG_P_INT, "8", UG_P_MIN | UG_P_MAX, 1, 256, NULL, "images per column of each panel"},
    {"cols", UG_P_INT, "8", UG_P_MIN | UG_P_MAX, 1, 256, NULL, "images per row of each panel"},
    {"scale", UG_P_INT, "0", UG_P_MIN | UG_P_MAX, 0, 64, NULL,
     "pixels per image pixel on a side; 0 = the smallest that makes each image at least 32 px"},
    {"gap", UG_P_INT, "1", UG_P_MIN | UG_P_MAX, 0, 64, NULL, "gray pixels between images; the panels are 8 + 4 gap apart"},
    {"chunk", UG_P_INT, "256", UG_P_MIN | UG_P_MAX, 1, UG_BOUND_COUNT, NULL, "samples drawn per model call (bounds memory)"},
    {NULL, 0, NULL, 0, 0, 0, NULL, NULL},
};

static const ug_metric_vtable sgrid_vt = {.size = sizeof(ug_metric_vtable), .evaluate = sgrid_evaluate};

static const ug_plugin_desc sgrid_desc = {
    UG_DESC_HEADER(UG_KIND_METRIC),
    .name = "sample_grid",
    .version = "1.0",
    .summary = "PNG of a rows x cols grid of decoded model images beside one of true images (no values)",
    .params = sgrid_params,
    .create = sgrid_create,
    .destroy = sgrid_destroy,
    .vtable = &sgrid_vt,
};

UG_PLUGIN_EXPORT(&sgrid_desc)
