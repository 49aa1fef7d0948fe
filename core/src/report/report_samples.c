/* report_samples.c — model samples as a picture: rebuild the run, sample forward in chunks (the step
 * arena is reset after each, so only plain float copies survive), then a 2-D density (plot/density.c,
 * with axes and a colour scale) or an image grid (raw pixels), in the format of the path's extension. */
#include "unigfn/host/report_samples.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unigfn/host/experiment.h"
#include "unigfn/host/figure.h"
#include "unigfn/host/step.h"
#include "unigfn/plot.h"
#include "unigfn/host/runner.h"

/* Points [n, 2] -> counts [bins, bins] on [-range, range]^2, row 0 at the top (largest y); NULL when
 * out of memory. Points outside the square (or not finite) are left out: the picture reports them. */
static int64_t *histogram(const float *pts, int64_t n, int bins, double range) {
    int64_t *h = calloc((size_t)bins * (size_t)bins, sizeof *h);
    if (!h) return NULL;
    for (int64_t i = 0; i < n; i++) {
        double x = pts[2 * i], y = pts[2 * i + 1];
        double fx = floor((x + range) / (2 * range) * bins), fy = floor((range - y) / (2 * range) * bins);
        if (!(fx >= 0 && fy >= 0 && fx < bins && fy < bins)) continue;   /* NaN fails too */
        h[(size_t)fy * (size_t)bins + (size_t)fx]++;
    }
    return h;
}

ug_status ug_samples_density(const char *path, const float *model, int64_t n_model, const float *truth, int64_t n_true,
                             int bins, double range, const char *title, const char *left_title, const char *right_title,
                             ug_error *err) {
    if (bins < 2 || bins > 2048 || !(range > 0) || !isfinite(range))
        return ug_error_set(err, UG_ERR_ARG, "density picture: needs 2 <= bins <= 2048 and a finite range > 0");
    bool two = truth && n_true > 0;
    int64_t *hm = histogram(model, n_model, bins, range), *ht = two ? histogram(truth, n_true, bins, range) : NULL;
    ug_status s = UG_OK;
    if (!hm || (two && !ht)) {
        s = ug_error_set(err, UG_ERR_NOMEM, "density picture: out of memory for %d x %d bins", bins, bins);
    } else {
        ug_density_fig fig = {.size = sizeof fig, .title = title, .bins = bins, .x0 = -range, .x1 = range, .y0 = -range,
                              .y1 = range, .n_panels = two ? 2 : 1};
        fig.panels[0] = (ug_density_panel){.counts = hm, .n = n_model, .title = left_title};
        if (two) fig.panels[1] = (ug_density_panel){.counts = ht, .n = n_true, .title = right_title};
        s = ug_plot_density(path, &fig, err);
    }
    free(hm);
    free(ht);
    return s;
}

ug_status ug_samples_grid(const char *path, const float *x, int64_t n, int C, int H, int W, ug_error *err) {
    if (n < 1 || (C != 1 && C != 3) || H < 1 || W < 1)
        return ug_error_set(err, UG_ERR_ARG, "image grid: bad layout %lld x (%d, %d, %d)", (long long)n, C, H, W);
    int cols = (int)ceil(sqrt((double)n)), rows = (int)((n + cols - 1) / cols);
    int big = H > W ? H : W;
    int scale = big >= 56 ? 1 : (56 + big - 1) / big, gap = 2;
    int64_t CW = (int64_t)cols * (W * scale + gap) + gap, CH = (int64_t)rows * (H * scale + gap) + gap;
    if (CW > 16384 || CH > 16384)
        return ug_error_set(err, UG_ERR_ARG, "image grid: %lld images of %d x %d make a %lld x %lld picture, over 16384 px "
                            "on a side: ask for fewer with -n", (long long)n, H, W, (long long)CW, (long long)CH);
    uint8_t *px = malloc((size_t)(CW * CH * 3));
    if (!px) return ug_error_set(err, UG_ERR_NOMEM, "image grid: out of memory for a %lld x %lld picture", (long long)CW, (long long)CH);
    memset(px, 0x80, (size_t)(CW * CH * 3));   /* mid-gray gaps */
    size_t hw = (size_t)H * (size_t)W;
    for (int64_t i = 0; i < n; i++) {
        int64_t gx = gap + (i % cols) * (W * scale + gap), gy = gap + (i / cols) * (H * scale + gap);
        const float *img = x + (size_t)i * (size_t)C * hw;
        for (int64_t r = 0; r < (int64_t)H * scale; r++)
            for (int64_t c = 0; c < (int64_t)W * scale; c++) {
                uint8_t *o = px + 3 * ((gy + r) * CW + gx + c);
                for (int k = 0; k < 3; k++) {
                    double v = img[(size_t)(C == 3 ? k : 0) * hw + (size_t)(r / scale) * W + (size_t)(c / scale)];
                    v = isfinite(v) ? (v < 0 ? 0 : v > 1 ? 1 : v) : 0;
                    o[k] = (uint8_t)lround(255 * v);
                }
            }
    }
    ug_status s = ug_plot_rgb(path, px, (int)CW, (int)CH, err);
    free(px);
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
    ug_fig_format fmt;
    if (ug_fig_format_of(o->path, &fmt, err)) return err->code;   /* before the model is built and sampled */
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
        char title[300], rt[160];
        snprintf(title, sizeof title, "%s: run %.8s at step %lld", rec->experiment, id, (long long)step);
        const char *which = NULL;   /* e.g. synthetic2d's `data: checkerboard` */
        for (int i = 0; i < rec->n_params; i++)
            if (strcmp(rec->param_keys[i], "dataset.data") == 0) which = rec->param_values[i];
        snprintf(rt, sizeof rt, "data: %s%s%s", ex.data.name, which ? " " : "", which ? which : "");
        s = ug_samples_density(o->path, model.v, model.n / 2, truth.v, truth.n / 2, bins, r, title, "model samples", rt, err);
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
        s = ug_samples_grid(o->path, model.v, n, C, H, W, err);
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
