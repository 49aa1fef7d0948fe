/* report_samples.c — model samples as a picture: rebuild the run, sample forward in chunks (the step
 * arena is reset after each, so only plain float copies survive), then a 2-D density or an image grid. */
#include "unigfn/host/report_samples.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unigfn/host/experiment.h"
#include "unigfn/host/step.h"
#include "plot/plot_png.h"
#include "unigfn/host/runner.h"

/* Viridis at five stops, interpolated: dark purple (empty) to yellow (densest). */
static uint32_t viridis(double t) {
    static const double stops[5][3] = {{68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}};
    if (!(t > 0)) t = 0;
    if (t > 1) t = 1;
    double p = t * 4;
    int i = p >= 4 ? 3 : (int)p;
    double f = p - i;
    uint32_t c = 0;
    for (int k = 0; k < 3; k++) c = (c << 8) | (uint32_t)lround(stops[i][k] + f * (stops[i + 1][k] - stops[i][k]));
    return c;
}

static void histogram_panel(ug_canvas *cv, int x0, int y0, int scale, const float *pts, int64_t n, int bins,
                            double range, int64_t *outside) {
    double *h = calloc((size_t)bins * (size_t)bins, sizeof *h);
    if (!h) return;
    double mx = 0;
    *outside = 0;
    for (int64_t i = 0; i < n; i++) {
        double x = pts[2 * i], y = pts[2 * i + 1];
        int bx = (int)floor((x + range) / (2 * range) * bins), by = (int)floor((range - y) / (2 * range) * bins);
        if (!isfinite(x) || !isfinite(y) || bx < 0 || by < 0 || bx >= bins || by >= bins) { (*outside)++; continue; }
        double v = ++h[(size_t)by * bins + bx];
        if (v > mx) mx = v;
    }
    for (int by = 0; by < bins; by++)
        for (int bx = 0; bx < bins; bx++) {
            uint32_t c = viridis(mx > 0 ? h[(size_t)by * bins + bx] / mx : 0);
            ug_canvas_rect(cv, x0 + bx * scale, y0 + by * scale, x0 + (bx + 1) * scale, y0 + (by + 1) * scale, c);
        }
    free(h);
}

ug_status ug_density_png(const char *path, const float *model, int64_t n_model, const float *truth, int64_t n_true,
                         int bins, double range, const char *left_title, const char *right_title, ug_error *err) {
    if (bins < 2 || bins > 2048 || !(range > 0))
        return ug_error_set(err, UG_ERR_ARG, "density picture: needs 2 <= bins <= 2048 and range > 0");
    int scale = bins >= 256 ? 1 : (256 + bins - 1) / bins;
    int side = bins * scale, gap = 12, m = 10, top = 22, foot = 28;
    int panels = truth && n_true > 0 ? 2 : 1;
    int W = 2 * m + panels * side + (panels - 1) * gap, H = top + side + foot;
    ug_canvas cv;
    ug_status s = ug_canvas_init(&cv, W, H, 0xffffff, err);
    if (s) return s;
    int64_t out_m = 0, out_t = 0;
    histogram_panel(&cv, m, top, scale, model, n_model, bins, range, &out_m);
    ug_canvas_text(&cv, m, 8, left_title, 0x222222, 1);
    if (panels == 2) {
        histogram_panel(&cv, m + side + gap, top, scale, truth, n_true, bins, range, &out_t);
        ug_canvas_text(&cv, m + side + gap, 8, right_title, 0x222222, 1);
    }
    char foot1[160], foot2[160];
    snprintf(foot1, sizeof foot1, "%lld samples, %dx%d bins on [-%.3g, %.3g]^2", (long long)n_model, bins, bins, range,
             range);
    snprintf(foot2, sizeof foot2, "outside the square: model %.2f%%%s", n_model ? 100.0 * out_m / n_model : 0.0,
             panels == 2 ? "" : " (no true samples)");
    if (panels == 2) {
        size_t l = strlen(foot2);
        snprintf(foot2 + l, sizeof foot2 - l, ", data %.2f%%", n_true ? 100.0 * out_t / n_true : 0.0);
    }
    ug_canvas_text(&cv, m, top + side + 6, foot1, 0x222222, 1);
    ug_canvas_text(&cv, m, top + side + 17, foot2, 0x222222, 1);
    s = ug_canvas_write_png(&cv, path, err);
    ug_canvas_free(&cv);
    return s;
}

ug_status ug_image_grid_png(const char *path, const float *x, int64_t n, int C, int H, int W, ug_error *err) {
    if (n < 1 || (C != 1 && C != 3) || H < 1 || W < 1)
        return ug_error_set(err, UG_ERR_ARG, "image grid: bad layout %lld x (%d, %d, %d)", (long long)n, C, H, W);
    int cols = (int)ceil(sqrt((double)n)), rows = (int)((n + cols - 1) / cols);
    int big = H > W ? H : W;
    int scale = big >= 56 ? 1 : (56 + big - 1) / big, gap = 2;
    int CW = cols * (W * scale + gap) + gap, CH = rows * (H * scale + gap) + gap;
    ug_canvas cv;
    ug_status s = ug_canvas_init(&cv, CW, CH, 0x808080, err);
    if (s) return s;
    size_t hw = (size_t)H * (size_t)W;
    for (int64_t i = 0; i < n; i++) {
        int gx = gap + (int)(i % cols) * (W * scale + gap), gy = gap + (int)(i / cols) * (H * scale + gap);
        const float *img = x + (size_t)i * (size_t)C * hw;
        for (int r = 0; r < H; r++)
            for (int c = 0; c < W; c++) {
                uint32_t col = 0;
                for (int k = 0; k < 3; k++) {
                    double v = img[(size_t)(C == 3 ? k : 0) * hw + (size_t)r * W + c];
                    v = isfinite(v) ? (v < 0 ? 0 : v > 1 ? 1 : v) : 0;
                    col = (col << 8) | (uint32_t)lround(255 * v);
                }
                ug_canvas_rect(&cv, gx + c * scale, gy + r * scale, gx + (c + 1) * scale, gy + (r + 1) * scale, col);
            }
    }
    s = ug_canvas_write_png(&cv, path, err);
    ug_canvas_free(&cv);
    return s;
}

/* ---- from a run ---- */
typedef struct fbuf {
    float *v;
    int64_t n, cap;   /* floats */
} fbuf;

static int fbuf_add(fbuf *b, const float *src, int64_t n) {
    if (b->n + n > b->cap) {
        int64_t cap = b->cap ? 2 * b->cap : 4096;
        while (cap < b->n + n) cap *= 2;
        float *v = realloc(b->v, (size_t)cap * sizeof *v);
        if (!v) return -1;
        b->v = v, b->cap = cap;
    }
    memcpy(b->v + b->n, src, (size_t)n * sizeof *src);
    b->n += n;
    return 0;
}

/* x [B, D] → floats appended: decoded 2-D points when `points`, else x itself. */
static ug_status take(ug_experiment *ex, ug_tensor *x, bool points, fbuf *out, ug_error *err) {
    ug_ctx *ctx = ex->ctx;
    ug_tensor *p = x;   // [B, 2] or [B, D]
    if (points && ex->data.vt->decode && ex->data.info.decoded_dim == 2) {
        if (ex->data.vt->decode(ex->data.self, ctx, x, &p) || !p)
            return ug_error_set(err, UG_ERR_PLUGIN, "dataset '%s': decode failed: %s", ex->data.name, ug_ctx_errmsg(ctx));
    }
    ug_tensor *c = ug_contiguous(ctx, p);
    if (!c || !ug_f32(c)) return ug_error_set(err, UG_ERR_INTERNAL, "samples: %s", ug_ctx_errmsg(ctx));
    if (fbuf_add(out, ug_f32(c), ug_numel(c))) return ug_error_set(err, UG_ERR_NOMEM, "samples: out of memory");
    return UG_OK;
}

ug_status ug_report_samples(ug_store *st, ug_registry *reg, const char *db_path, const char *id,
                            const ug_samples_opts *o, char *what, size_t cap, ug_error *err) {
    ug_run_record *rec = NULL;
    ug_spec *spec = NULL;
    ug_spec_registry sreg;
    ug_registry_spec_view(reg, &sreg);
    ug_status s = ug_store_get_run(st, id, &rec, err);
    if (s) return s;
    if (ug_spec_load_string(rec->experiment, rec->spec ? rec->spec : "", NULL, 0, &sreg, &spec, err)) {
        ug_run_record_free(rec);
        return err->code;
    }
    ug_experiment ex;   /* ug_experiment_build zeroes it first and takes the spec */
    char folder[1024], ckpt[1100];
    ug_run_folder(db_path, id, folder, sizeof folder);
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.bin", folder);
    int64_t step = 0;
    fbuf model = {0}, truth = {0};
    if ((s = ug_experiment_build(&ex, spec, reg, err))) goto done;
    if (access(ckpt, R_OK) != 0) {
        s = ug_error_set(err, UG_ERR_IO, "run %s: no checkpoint at %s (a run merged from a Slurm shard keeps its "
                         "checkpoint beside the shard: pass that shard as --db)", id, ckpt);
        goto done;
    }
    if ((s = ug_experiment_load(&ex, ckpt, &step, NULL, 0, err))) goto done;
    ug_experiment_use_ema(&ex, true);  /* samples from the parameter averages where `ema:` is on */
    const ug_space *sp = &ex.model.info.space;
    const ug_space *dsp = &ex.data.info.space;
    bool pts = (ex.data.vt->decode && ex.data.info.decoded_dim == 2) ||
               (sp->kind == UG_SPACE_CONTINUOUS && sp->dim == 2);
    int C = 0, H = 0, W = 0;
    const int64_t *shape = dsp->shape[1] > 0 ? dsp->shape : sp->shape;
    if (!pts) {
        if (shape[1] > 0 && shape[2] > 0) {
            C = shape[0] > 0 ? (int)shape[0] : 1, H = (int)shape[1], W = (int)shape[2];
        } else {
            int side = (int)lround(sqrt((double)sp->dim));
            if ((int64_t)side * side == sp->dim && side > 1) C = 1, H = side, W = side;
        }
        if (!(C == 1 || C == 3) || (int64_t)C * H * W != sp->dim) {
            s = ug_error_set(err, UG_ERR_UNSUPPORTED, "run %s: cannot draw samples of dimension %lld: the dataset '%s' has "
                             "no 2-D decoder and no image layout", id, (long long)sp->dim, ex.data.name);
            goto done;
        }
    }
    int64_t n = o->n > 0 ? o->n : pts ? 20000 : 64;
    ug_set_grad_enabled(ex.ctx, false);
    ug_rng rng = ug_experiment_rng(&ex, UG_STREAM_SAMPLE, 0);
    for (int64_t done_n = 0; done_n < n && !s;) {
        int64_t b = n - done_n > 4096 ? 4096 : n - done_n;
        ug_step_reset(ex.ctx);
        ug_traj_req req = {.size = sizeof req, .batch = b, .steps = -1, .flags = UG_TRAJ_NO_PB};
        ug_traj tr = {.size = sizeof tr};
        if (ex.model.vt->sample_forward(ex.model.self, ex.ctx, &rng, &req, &tr) || !tr.last) {
            s = ug_error_set(err, UG_ERR_PLUGIN, "model '%s': sampling failed: %s", ex.model_desc->name, ug_ctx_errmsg(ex.ctx));
            break;
        }
        s = take(&ex, tr.last, pts, &model, err);
        done_n += b;
    }
    if (!s && pts && ex.data.vt->sample_true) {
        ug_rng trng = ug_experiment_rng(&ex, UG_STREAM_SAMPLE, 1);
        for (int64_t done_n = 0; done_n < n && !s;) {
            int64_t b = n - done_n > 4096 ? 4096 : n - done_n;
            ug_step_reset(ex.ctx);
            ug_tensor *x = NULL;
            if (ex.data.vt->sample_true(ex.data.self, ex.ctx, &trng, b, &x) || !x) {
                s = ug_error_set(err, UG_ERR_PLUGIN, "dataset '%s': sample_true failed: %s", ex.data.name, ug_ctx_errmsg(ex.ctx));
                break;
            }
            s = take(&ex, x, true, &truth, err);
            done_n += b;
        }
    }
    ug_step_reset(ex.ctx);
    if (s) goto done;
    if (pts) {
        double r = o->range;
        if (!(r > 0)) {
            /* the square that holds the true samples (else the model's), with a margin */
            const fbuf *ref = truth.n ? &truth : &model;
            for (int64_t i = 0; i < ref->n; i++)
                if (isfinite(ref->v[i]) && fabs(ref->v[i]) > r) r = fabs(ref->v[i]);
            r = r > 0 ? 1.05 * r : 1.0;
        }
        int bins = o->bins > 0 ? o->bins : 128;
        char lt[160], rt[160];
        snprintf(lt, sizeof lt, "model: run %.8s, step %lld", id, (long long)step);
        const char *which = NULL;   /* e.g. synthetic2d's `data: checkerboard` */
        for (int i = 0; i < rec->n_params; i++)
            if (strcmp(rec->param_keys[i], "dataset.data") == 0) which = rec->param_values[i];
        snprintf(rt, sizeof rt, "data: %s%s%s", ex.data.name, which ? " " : "", which ? which : "");
        s = ug_density_png(o->path, model.v, model.n / 2, truth.v, truth.n / 2, bins, r, lt, rt, err);
        if (!s)
            snprintf(what, cap, "2-D density of %lld model samples%s (run %s, step %lld), %d bins on [-%.3g, %.3g]^2", (long long)n,
                     truth.n ? " beside the data's" : "", id, (long long)step, bins, r, r);
    } else {
        /* pixel values into [0, 1]: binary and categorical by level, continuous by their range */
        float lo = INFINITY, hi = -INFINITY;
        for (int64_t i = 0; i < model.n; i++)
            if (isfinite(model.v[i])) { if (model.v[i] < lo) lo = model.v[i]; if (model.v[i] > hi) hi = model.v[i]; }
        double a = 0, k = 1;
        if (sp->kind == UG_SPACE_CATEGORICAL && sp->categories > 1) k = 1.0 / (double)(sp->categories - 1);
        else if (sp->kind == UG_SPACE_CONTINUOUS && !(lo >= 0 && hi <= 1)) {
            if (lo >= -1 && hi <= 1) a = 1, k = 0.5;
            else if (hi > lo) a = -lo, k = 1.0 / (hi - lo);
        }
        for (int64_t i = 0; i < model.n; i++) model.v[i] = (float)((model.v[i] + a) * k);
        s = ug_image_grid_png(o->path, model.v, n, C, H, W, err);
        if (!s)
            snprintf(what, cap, "grid of %lld sampled %dx%d%s images (run %s, step %lld)", (long long)n, H, W,
                     C == 3 ? " RGB" : "", id, (long long)step);
    }
done:
    free(model.v);
    free(truth.v);
    ug_experiment_free(&ex);   /* it owns the spec, built or not */
    ug_run_record_free(rec);
    return s;
}
