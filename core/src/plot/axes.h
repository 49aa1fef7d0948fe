/* axes.h — linear and log axes for the pictures of core/src/plot/: "nice" tick positions, their labels
 * (powers of ten drawn as 10 with a raised exponent), and the frame with ticks, labels and grid lines
 * (host only). */
#ifndef UG_PLOT_AXES_H
#define UG_PLOT_AXES_H

#include <stdbool.h>

#include "plot/fig.h"

/* An axis maps axis units u in [lo, hi] (log10 of the value on a log axis) onto device coordinates
 * [a, b]: for a y axis a is the bottom, so a > b. */
typedef struct ug_axis {
    double lo, hi;
    bool log;
    double a, b;
} ug_axis;

static inline double ug_axis_px(const ug_axis *ax, double u) { return ax->a + (u - ax->lo) / (ax->hi - ax->lo) * (ax->b - ax->a); }

#define UG_TICKS_MAX 40
#define UG_TICK_PLAIN (-9999)   /* pow10 of a tick shown as plain text */

typedef struct ug_tick {
    double u;          /* axis units */
    char text[40];     /* the label, or the mantissa-less "10" when pow10 is set */
    int pow10;         /* UG_TICK_PLAIN, or the exponent k of a label drawn as 10^k */
} ug_tick;

/* Tick positions for [lo, hi]: steps of 1, 2 or 5 x 10^k, about `target` of them; returns the count
 * (at most cap) and the step. */
int ug_nice_ticks(double lo, double hi, int target, double *out, int cap, double *step);

/* About `target` labelled ticks of ax (log axes: decades, or 1-2-5 / every digit inside few decades). */
int ug_axis_ticks(const ug_axis *ax, int target, ug_tick *t, int cap);

double ug_tick_width(ug_fig *f, const ug_tick *t, double size);
/* Draws a tick label anchored as ug_fig_text does (va 0 top, 0.5 middle). */
void ug_tick_draw(ug_fig *f, const ug_tick *t, double x, double y, double ha, double va, double size, uint32_t rgb);

enum {
    UG_AXES_GRID = 1,         /* light lines across at every tick */
    UG_AXES_NO_YLABELS = 2,   /* tick marks only on y (a second panel beside a labelled one) */
};

/* The frame of the rectangle [x.a, x.b] x [y.b, y.a] with outward ticks and their labels (x below,
 * y left) in `size` px type. */
void ug_draw_axes(ug_fig *f, const ug_axis *x, const ug_tick *xt, int nxt, const ug_axis *y, const ug_tick *yt, int nyt,
                  double size, unsigned flags);

#endif
