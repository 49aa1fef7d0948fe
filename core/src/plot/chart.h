/* chart.h — the line chart behind `unigfn report curves`: series of (x, y) points drawn thin (one per
 * run) or bold (a group's mean) with an optional mean ± std band, coloured by group, on linear or log
 * axes, with title, axis labels and a legend; or, for a metric logged once per run, markers with the
 * band as an error bar. Any format ug_fig_open takes (host only). */
#ifndef UG_PLOT_CHART_H
#define UG_PLOT_CHART_H

#include <stdbool.h>

#include "unigfn/status.h"

typedef struct ug_series {
    const double *x, *y;      /* [n] */
    const double *lo, *hi;    /* [n] the band (mean - std, mean + std), or NULL; NaN where it has none */
    int n;
    int group;                /* colour and legend entry */
    bool bold;                /* a mean: wide and opaque; else thin and translucent */
} ug_series;

typedef struct ug_chart {
    const char *title, *xlabel, *ylabel;
    bool logx, logy;
    bool markers;             /* every point a marker, no lines (a metric logged once per run) */
    int width, height;        /* of the chart without the legend; 0: 900 x 540 */
    int n_groups;
    const char *const *group_labels;
} ug_chart;

/* Points with a non-finite coordinate (or <= 0 on a log axis) break the line; *dropped_x and *dropped_y
 * (may be NULL) count the points left out of a log axis for being <= 0. UG_ERR_ARG when nothing is
 * drawable. */
ug_status ug_chart_draw(const char *path, const ug_chart *c, const ug_series *s, int n, int *dropped_x, int *dropped_y,
                        ug_error *err);

/* The legend's height below a chart of n_groups groups (the picture is height + this high). */
int ug_chart_legend_height(int n_groups);

#endif
