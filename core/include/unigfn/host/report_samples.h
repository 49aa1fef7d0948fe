/* report_samples.h — `unigfn report samples RUN`: a picture of what a trained model generates (host only).
 *
 * 2-D data (a dataset that decodes x to 2-D points, e.g. Gray-coded synthetic2d, or a continuous
 * model with D = 2): histograms of model samples and of fresh true samples side by side on one square.
 * Image data (the space's (C, H, W) layout, or D a perfect square): a grid of sampled images. */
#ifndef UG_REPORT_SAMPLES_H
#define UG_REPORT_SAMPLES_H

#include <stddef.h>
#include <stdint.h>

#include "unigfn/host/loader.h"
#include "unigfn/host/store.h"

typedef struct ug_samples_opts {
    int64_t n;        /* samples; 0: 20000 for 2-D, 64 for images */
    int bins;         /* 2-D histogram bins per side; 0: 128 */
    double range;     /* half-width of the square; 0: from the true samples */
    const char *path;
} ug_samples_opts;

/* Rebuilds run `id`'s model from its stored spec and the last checkpoint in its run folder (next to
 * db_path), samples it and writes the picture (.png, .svg or .pdf by o->path); `what` receives a one-line description of the picture. */
ug_status ug_report_samples(ug_store *st, ug_registry *reg, const char *db_path, const char *id,
                            const ug_samples_opts *o, char *what, size_t cap, ug_error *err);

/* The two pictures from plain arrays (used above; public for tests), PNG, SVG or PDF by the path's
 * extension. Points are [n, 2]: model on the left, truth (may be NULL) on the right, on one colour scale,
 * binned on [-range, range]^2 (plot/density.h lays it out). */
ug_status ug_samples_density(const char *path, const float *model, int64_t n_model, const float *truth, int64_t n_true,
                             int bins, double range, const char *title, const char *left_title, const char *right_title,
                             ug_error *err);
/* x [n, C*H*W] with values already in [0, 1]; C is 1 (gray) or 3 (RGB, channel-major): a grid of
 * ceil(sqrt(n)) columns, each image pixel an s x s block (s * max(H, W) >= 56), 2 px mid-gray gaps. */
ug_status ug_samples_grid(const char *path, const float *x, int64_t n, int C, int H, int W, ug_error *err);

#endif
