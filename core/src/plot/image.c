/* image.c — an RGB pixel buffer as a picture (the image sample grids): pixel for pixel in a PNG, and as
 * one embedded image drawn without smoothing in SVG and PDF, so all three show the same pixels. */
#include <stdlib.h>

#include "plot/fig.h"
#include "unigfn/plot.h"

ug_status ug_plot_rgb(const char *path, const uint8_t *rgb, int w, int h, ug_error *err) {
    if (!rgb || w < 1 || h < 1 || w > UG_FIG_MAX_SIDE || h > UG_FIG_MAX_SIDE)
        return ug_error_set(err, UG_ERR_ARG, "%s: an image of %d x %d pixels is outside 1 ... %d on a side", path, w, h,
                            UG_FIG_MAX_SIDE);
    ug_fig f;
    if (ug_fig_open(&f, path, w, h, NULL, err)) return err->code;
    cairo_surface_t *img = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
    if (cairo_surface_status(img)) {
        cairo_surface_destroy(img);
        ug_fig_discard(&f);
        return ug_error_set(err, UG_ERR_NOMEM, "%s: out of memory for a %d x %d image", path, w, h);
    }
    cairo_surface_flush(img);
    unsigned char *px = cairo_image_surface_get_data(img);
    int stride = cairo_image_surface_get_stride(img);
    for (int r = 0; r < h; r++) {
        uint32_t *row = (uint32_t *)(px + (size_t)r * (size_t)stride);
        const uint8_t *src = rgb + (size_t)r * (size_t)w * 3;
        for (int c = 0; c < w; c++) row[c] = (uint32_t)src[3 * c] << 16 | (uint32_t)src[3 * c + 1] << 8 | src[3 * c + 2];
    }
    cairo_surface_mark_dirty(img);
    cairo_set_source_surface(f.cr, img, 0, 0);
    cairo_pattern_set_filter(cairo_get_source(f.cr), CAIRO_FILTER_NEAREST);
    cairo_paint(f.cr);
    cairo_surface_destroy(img);
    return ug_fig_close(&f, err);
}
