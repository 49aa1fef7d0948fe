/* report_curves.h — `unigfn report curves`: a metric against step for a set of runs, a thin line per
 * run and a bold mean per group (host only). Runs group automatically by every flattened spec key
 * that varies between them except `seed` and `name` (so seeds of one configuration share a group), or
 * by the keys given. */
#ifndef UG_REPORT_CURVES_H
#define UG_REPORT_CURVES_H

#include <stdbool.h>
#include <stdio.h>

#include "unigfn/host/report_data.h"

typedef struct ug_curves_opts {
    const char *metric;
    const char *const *group_by;   /* NULL: automatic */
    int n_group_by;
    bool logy;
    int width, height;             /* 0: defaults */
    const char *title;             /* NULL: the metric */
    const char *path;
} ug_curves_opts;

/* Writes the PNG; `info` (may be NULL) gets one line per group (label, runs, points). */
ug_status ug_report_curves(ug_store *st, const ug_rd_set *runs, const ug_curves_opts *o, FILE *info, ug_error *err);

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
