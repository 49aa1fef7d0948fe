/* fig.h — one picture on a cairo surface chosen by the file's extension (PNG image, SVG or PDF), and the
 * text and colour helpers every picture of core/src/plot/ draws with (host only).
 *
 * Units are pixels for PNG and points for SVG/PDF, the same numbers: a 900 x 540 chart is 900 x 540 px
 * or 12.5 x 7.5 in. Text uses cairo's toy API with the "sans-serif" face fontconfig resolves (DejaVu Sans
 * on Debian): enough for labels, and no font file is shipped. */
#ifndef UG_PLOT_FIG_H
#define UG_PLOT_FIG_H

#include <cairo.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "unigfn/host/figure.h"
#include "unigfn/status.h"

#define UG_FIG_MAX_SIDE 16384   /* px; also the limit of cairo's image surfaces is 32767 */

typedef struct ug_fig {
    cairo_surface_t *surface;
    cairo_t *cr;
    ug_fig_format fmt;
    const char *path;       /* the caller's string, alive until close */
    FILE *file;
    int write_errno;        /* the first failed write's errno */
    int w, h;
} ug_fig;

/* Creates path's surface (format by extension) with a white background. On error nothing is left open
 * and no file is created for an unknown extension. */
ug_status ug_fig_open(ug_fig *f, const char *path, int w, int h, const char *title, ug_error *err);
/* Finishes and writes the picture; a failed write removes the partial file when it is a regular file
 * (never a device such as /dev/full). */
ug_status ug_fig_close(ug_fig *f, ug_error *err);
/* After a drawing error: releases everything and removes the partial file. */
void ug_fig_discard(ug_fig *f);

/* 0xRRGGBB at opacity alpha as the source colour. */
void ug_fig_color(ug_fig *f, uint32_t rgb, double alpha);

/* Text anchored at (x, y): ha 0 left, 0.5 centre, 1 right; va 0 top, 0.5 middle, 1 baseline, measured
 * on the font size (not the glyphs) so labels of one row line up. angle in radians as cairo_rotate
 * takes it (-pi/2: read bottom to top, for a y axis label). Returns the advance width. */
double ug_fig_text(ug_fig *f, double x, double y, double ha, double va, double size, bool bold, double angle,
                   uint32_t rgb, const char *s);
double ug_fig_text_width(ug_fig *f, double size, bool bold, const char *s);

/* Viridis (dark purple 0 -> yellow 1), clamped; NaN maps to 0. */
uint32_t ug_viridis(double t);

/* The 10-colour qualitative palette of the charts (matplotlib's tab10). */
uint32_t ug_palette(int i);

#endif
