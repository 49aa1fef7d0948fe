/* density.c — 2-D histograms as a picture: panels side by side on one colour scale (density, so panels
 * of different sample counts compare), each with x and y axes in data units and a footer with its sample
 * count and the share outside the square, a colour bar at the right and a title. Behind `unigfn report
 * samples` for 2-D data and, through the services table, the density_png metric. */
#include "plot/density.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "plot/axes.h"
#include "plot/fig.h"

#define INK 0x222222
#define MIN_SIDE 256     /* bins are upscaled by a whole factor to at least this many px */
#define MARGIN_L 64      /* y tick labels and the y label */
#define GAP 40           /* between panels: room for both panels' end labels */
#define BAR_GAP 22
#define BAR_W 16
#define MARGIN_R 86      /* colour bar labels and its rotated title */
#define PANEL_TITLE 22
#define MARGIN_B 62      /* x tick labels, x label, footer */
#define TICK_PX 12

ug_status ug_density_geometry(const ug_density_fig *fig, ug_density_geom *g, ug_error *err) {
    if (!fig || fig->size < offsetof(ug_density_fig, panels) + sizeof fig->panels)
        return ug_error_set(err, UG_ERR_ARG, "density picture: the ug_density_fig's size %u is too small (set it to sizeof)",
                            fig ? (unsigned)fig->size : 0u);
    if (fig->bins < 2 || fig->bins > 4096)
        return ug_error_set(err, UG_ERR_ARG, "density picture: bins must be in 2 ... 4096, got %d", fig->bins);
    if (fig->n_panels < 1 || fig->n_panels > UG_DENSITY_MAX_PANELS)
        return ug_error_set(err, UG_ERR_ARG, "density picture: 1 ... %d panels, got %d", UG_DENSITY_MAX_PANELS, fig->n_panels);
    if (!(isfinite(fig->x0) && isfinite(fig->x1) && fig->x1 > fig->x0 && isfinite(fig->y0) && isfinite(fig->y1) &&
          fig->y1 > fig->y0))
        return ug_error_set(err, UG_ERR_ARG, "density picture: the square [%g, %g] x [%g, %g] is empty or not finite",
                            fig->x0, fig->x1, fig->y0, fig->y1);
    for (int p = 0; p < fig->n_panels; p++)
        if (!fig->panels[p].counts || fig->panels[p].n < 0)
            return ug_error_set(err, UG_ERR_ARG, "density picture: panel %d has no counts or a negative n", p);
    g->scale = fig->bins >= MIN_SIDE ? 1 : (MIN_SIDE + fig->bins - 1) / fig->bins;
    g->side = fig->bins * g->scale;
    g->panel_y = (fig->title ? 40 : 12) + PANEL_TITLE;
    for (int p = 0; p < fig->n_panels; p++) g->panel_x[p] = MARGIN_L + p * (g->side + GAP);
    g->bar_x = g->panel_x[fig->n_panels - 1] + g->side + BAR_GAP;
    g->bar_w = BAR_W;
    g->w = g->bar_x + BAR_W + MARGIN_R;
    g->h = g->panel_y + g->side + MARGIN_B;
    return UG_OK;
}

/* density -> colour position in [0, 1] */
static double shade(double d, double dmax, bool sq) {
    double t = dmax > 0 ? d / dmax : 0;
    return sq ? sqrt(t) : t;
}

ug_status ug_plot_density(const char *path, const ug_density_fig *fig, ug_error *err) {
    ug_density_geom g;
    if (ug_density_geometry(fig, &g, err)) return err->code;
    int bins = fig->bins, np = fig->n_panels;
    double area = (fig->x1 - fig->x0) / bins * ((fig->y1 - fig->y0) / bins), dmax = 0;
    for (int p = 0; p < np; p++) {
        const ug_density_panel *pa = &fig->panels[p];
        for (int64_t i = 0; pa->n > 0 && i < (int64_t)bins * bins; i++) {
            double d = (double)pa->counts[i] / ((double)pa->n * area);
            if (d > dmax) dmax = d;
        }
    }
    ug_fig f;
    if (ug_fig_open(&f, path, g.w, g.h, fig->title, err)) return err->code;
    cairo_t *cr = f.cr;
    /* cairo's SVG has no "pixelated" rendering hint, so a browser would smooth an upscaled image: there
     * the bins are drawn at their final size (PNG and PDF keep one pixel a bin, unsmoothed) */
    int up = f.fmt == UG_FIG_SVG ? g.scale : 1, ib = bins * up;
    cairo_surface_t *img = cairo_image_surface_create(CAIRO_FORMAT_RGB24, ib, ib);
    if (cairo_surface_status(img)) {
        cairo_surface_destroy(img);
        ug_fig_discard(&f);
        return ug_error_set(err, UG_ERR_NOMEM, "%s: out of memory for %d x %d bins", path, ib, ib);
    }
    bool sq = fig->sqrt_scale != 0;
    ug_axis xa = {.lo = fig->x0, .hi = fig->x1}, ya = {.lo = fig->y0, .hi = fig->y1};
    ug_tick xt[UG_TICKS_MAX], yt[UG_TICKS_MAX];
    int nxt = ug_axis_ticks(&xa, 5, xt, UG_TICKS_MAX), nyt = ug_axis_ticks(&ya, 5, yt, UG_TICKS_MAX);
    for (int p = 0; p < np; p++) {
        const ug_density_panel *pa = &fig->panels[p];
        unsigned char *px = cairo_image_surface_get_data(img);
        int stride = cairo_image_surface_get_stride(img);
        cairo_surface_flush(img);
        for (int r = 0; r < ib; r++)
            for (int c = 0; c < ib; c++) {
                double d = pa->n > 0 ? (double)pa->counts[(size_t)(r / up) * bins + c / up] / ((double)pa->n * area) : 0;
                ((uint32_t *)(px + (size_t)r * stride))[c] = ug_viridis(shade(d, dmax, sq));
            }
        cairo_surface_mark_dirty(img);
        int x0 = g.panel_x[p], y0 = g.panel_y;
        cairo_save(cr);
        cairo_translate(cr, x0, y0);
        cairo_scale(cr, (double)g.scale / up, (double)g.scale / up);
        cairo_set_source_surface(cr, img, 0, 0);
        cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST);
        cairo_rectangle(cr, 0, 0, ib, ib);
        cairo_fill(cr);
        cairo_restore(cr);
        xa.a = x0, xa.b = x0 + g.side, ya.a = y0 + g.side, ya.b = y0;
        ug_draw_axes(&f, &xa, xt, nxt, &ya, yt, nyt, TICK_PX, p ? UG_AXES_NO_YLABELS : 0);
        if (pa->title) ug_fig_text(&f, x0 + g.side / 2.0, y0 - PANEL_TITLE + 4, 0.5, 0, 13, true, 0, INK, pa->title);
        ug_fig_text(&f, x0 + g.side / 2.0, y0 + g.side + 26, 0.5, 0, 13, false, 0, INK, "x");
        int64_t inside = 0;
        for (int64_t i = 0; i < (int64_t)bins * bins; i++) inside += pa->counts[i];
        char foot[160];
        if (pa->n > 0)
            snprintf(foot, sizeof foot, "%lld samples, %.2f%% outside", (long long)pa->n, 100.0 * (double)(pa->n - inside) / (double)pa->n);
        else
            snprintf(foot, sizeof foot, "no samples");
        ug_fig_text(&f, x0 + g.side / 2.0, y0 + g.side + 45, 0.5, 0, 11, false, 0, 0x555555, foot);
    }
    cairo_surface_destroy(img);
    ug_fig_text(&f, 14 + 6.5, g.panel_y + g.side / 2.0, 0.5, 0.5, 13, false, -M_PI / 2, INK, "y");
    if (fig->title) ug_fig_text(&f, g.w / 2.0, 12, 0.5, 0, 16, true, 0, INK, fig->title);

    /* the colour bar: viridis is piecewise linear in RGB, so a gradient through its stops is exact */
    int top = g.panel_y, bot = g.panel_y + g.side;
    cairo_pattern_t *grad = cairo_pattern_create_linear(0, bot, 0, top);
    for (int k = 0; k <= 8; k++) {
        uint32_t c = ug_viridis(k / 8.0);
        cairo_pattern_add_color_stop_rgb(grad, k / 8.0, (c >> 16 & 255) / 255.0, (c >> 8 & 255) / 255.0, (c & 255) / 255.0);
    }
    cairo_set_source(cr, grad);
    cairo_rectangle(cr, g.bar_x, top, BAR_W, g.side);
    cairo_fill(cr);
    cairo_pattern_destroy(grad);
    ug_fig_color(&f, INK, 1);
    cairo_set_line_width(cr, 1);
    cairo_rectangle(cr, g.bar_x - 0.5, top - 0.5, BAR_W + 1, g.side + 1);
    cairo_stroke(cr);
    ug_axis da = {.lo = 0, .hi = dmax > 0 ? dmax : 1};
    ug_tick dt[UG_TICKS_MAX];
    int ndt = ug_axis_ticks(&da, 5, dt, UG_TICKS_MAX);
    double lw = 0;
    for (int i = 0; i < ndt; i++) lw = fmax(lw, ug_tick_width(&f, &dt[i], TICK_PX));
    for (int i = 0; i < ndt; i++) {
        double y = floor(bot - shade(dt[i].u, da.hi, sq) * g.side) + 0.5;
        if (y < top - 1 || y > bot + 1) continue;
        cairo_move_to(cr, g.bar_x + BAR_W + 0.5, y), cairo_line_to(cr, g.bar_x + BAR_W + 5.5, y);
        cairo_stroke(cr);
        ug_tick_draw(&f, &dt[i], g.bar_x + BAR_W + 9, y, 0, 0.5, TICK_PX, INK);
    }
    ug_fig_text(&f, fmin(g.bar_x + BAR_W + 9 + lw + 14, g.w - 10), top + g.side / 2.0, 0.5, 0.5, 13, false, -M_PI / 2, INK,
                sq ? "density (square-root colour scale)" : "density");
    return ug_fig_close(&f, err);
}
