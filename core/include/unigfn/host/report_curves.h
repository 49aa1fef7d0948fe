/* report_curves.h — `unigfn report curves`: a metric against step for a set of runs, a thin line per
 * run and, for a group of several runs, a bold mean with a mean ± std band (host only). Runs group
 * automatically by every flattened spec key that varies between them except `seed` and `name` (so
 * seeds of one configuration share a group), or by the keys given. A metric every run logged at one
 * step only is drawn as markers, the group's mean ± std as an error bar. PNG, SVG or PDF by the
 * path's extension. */
#ifndef UG_REPORT_CURVES_H
#define UG_REPORT_CURVES_H

#include <stdbool.h>
#include <stdio.h>

#include "unigfn/host/report_data.h"

typedef struct ug_curves_opts {
    const char *metric;
    const char *const *group_by;   /* NULL: automatic */
    int n_group_by;
    bool logx, logy;
    int width, height;             /* 0: defaults */
    const char *title;             /* NULL: the metric */
    const char *path;              /* .png, .svg or .pdf */
} ug_curves_opts;

/* What the caller may want to tell the reader about the picture. */
typedef struct ug_curves_result {
    int dropped_x, dropped_y;      /* points left out of a log axis for being <= 0 */
    bool markers;                  /* every run logged the metric at one step only: drawn as markers */
    int n_bands;                   /* groups of two or more runs, drawn with a mean ± std band */
} ug_curves_result;

/* Writes the picture; `info` (may be NULL) gets one line per group (label, runs, points); `res` may
 * be NULL. */
ug_status ug_report_curves(ug_store *st, const ug_rd_set *runs, const ug_curves_opts *o, FILE *info,
                           ug_curves_result *res, ug_error *err);

/* Group index of every run (groups numbered in order of first appearance) and a label per group
 * ("k=v k2=v2"). Returns the number of groups, -1 when out of memory. Free with ug_rd_groups_free. */
typedef struct ug_rd_groups {
    int n;
    int *of_run;      /* [runs->n] */
    char **label;     /* [n] */
    int *size;        /* [n] runs per group */
} ug_rd_groups;
int ug_rd_group(const ug_rd_set *runs, const char *const *keys, int n_keys, ug_rd_groups *out);
void ug_rd_groups_free(ug_rd_groups *g);

#endif
