/* report_plot.h — a line chart as a PNG: series of (x, y) points drawn thin (one per run) or bold (a
 * group's mean), colored by group, with axes, "nice" ticks, optional log-scaled y and a legend (host only). */
#ifndef UG_REPORT_PLOT_H
#define UG_REPORT_PLOT_H

#include <stdbool.h>

#include "unigfn/status.h"

typedef struct ug_series {
    const double *x, *y;
    int n;
    int group;        /* color and legend entry */
    bool bold;        /* a mean: wide and opaque; else thin and translucent */
} ug_series;

typedef struct ug_chart {
    const char *title, *xlabel, *ylabel;
    bool logy;
    int width, height;              /* of the plot without the legend; 0: 900 x 540 */
    int n_groups;
    const char *const *group_labels;
} ug_chart;

/* Points with non-finite coordinates (and y <= 0 on a log axis) break the line; *n_dropped (may be
 * NULL) counts the y <= 0 points left out of a log axis. UG_ERR_ARG when nothing is drawable. */
ug_status ug_chart_png(const char *path, const ug_chart *c, const ug_series *s, int n, int *n_dropped, ug_error *err);

/* Tick positions for [lo, hi]: steps of 1, 2 or 5 x 10^k, about `target` of them; returns the count
 * (at most cap) and the step. */
int ug_nice_ticks(double lo, double hi, int target, double *out, int cap, double *step);

#endif
