/* report_html.h — `unigfn report html OUT/`: a static, self-contained web report of a results database
 * (the runs table, sortable and filterable; each run's params, final metrics, curves and pictures; the
 * ablation tables asked for). No server and no network: OUT/index.html carries the data as JSON and the
 * page's script and style inline; the runs' pictures are copied into OUT/img/ (host only). */
#ifndef UG_REPORT_HTML_H
#define UG_REPORT_HTML_H

#include <stdio.h>

#include "unigfn/host/report_data.h"
#include "unigfn/host/report_table.h"
#include "unigfn/host/store.h"

/* An ablation table: its spec and the runs it is over (selected with its metric, as `report table`). */
typedef struct ug_html_table {
    ug_table_spec spec;
    const ug_rd_set *runs;
} ug_html_table;

typedef struct ug_html_opts {
    const char *db_path;          /* where run folders are found (pictures) and what the page names */
    const char *title;            /* NULL: "unigfn report: <db>" */
    int max_points;               /* per metric series (evenly thinned, the last point kept); <= 0: 400 */
    const ug_html_table *tables;
    int n_tables;
} ug_html_opts;

/* Writes OUT/index.html (and OUT/img/) for `runs`. Notes (a picture whose file is gone, a table
 * without values) go to `info` when it is not NULL. */
ug_status ug_report_html(ug_store *st, const ug_rd_set *runs, const char *out_dir, const ug_html_opts *o, FILE *info,
                         ug_error *err);

#endif
