/* report_table.h — an ablation table: one cell per (row, column) label pair, the mean and spread of
 * the run values that fall in it, the best cell in bold, written as Markdown, LaTeX, CSV or an HTML
 * <table> (host only; `report html` embeds it).
 *
 * Markdown/LaTeX cell: "MEAN ± SPREAD (n=K)" (just "MEAN (n=1)" for one run), the best cell's numbers
 * in bold, "—" (LaTeX "---") where no run fell. Numbers: 4 significant digits of the mean, the spread
 * to the same decimal place (scientific outside 1e-4 .. 1e6), or `decimals` fixed. Rows and columns
 * are sorted in natural order (numbers inside labels compare as numbers). CSV is one line per cell
 * (missing ones too, with n = 0) with full-precision numbers: the row key columns, the column key
 * columns, n, mean, std, sem, ci95, best. */
#ifndef UG_REPORT_TABLE_H
#define UG_REPORT_TABLE_H

#include <stdbool.h>
#include <stdio.h>

#include "unigfn/status.h"

typedef enum ug_reduce { UG_REDUCE_LAST = 0, UG_REDUCE_MIN, UG_REDUCE_MAX } ug_reduce;
typedef enum ug_spread { UG_SPREAD_STD = 0, UG_SPREAD_SEM, UG_SPREAD_CI95 } ug_spread;
typedef enum ug_best { UG_BEST_NONE = 0, UG_BEST_MIN, UG_BEST_MAX } ug_best;
typedef enum ug_best_scope { UG_BEST_TABLE = 0, UG_BEST_ROW, UG_BEST_COL } ug_best_scope;
typedef enum ug_table_format { UG_TABLE_MD = 0, UG_TABLE_LATEX, UG_TABLE_CSV, UG_TABLE_HTML } ug_table_format;

typedef struct ug_table_spec {
    int n_row_keys, n_col_keys;               /* >= 1 each */
    const char *const *row_keys, *const *col_keys;
    const char *metric;                       /* for the caption */
    ug_reduce reduce;                         /* for the caption (values arrive reduced) */
    ug_spread spread;
    ug_best best;
    ug_best_scope scope;
    ug_table_format format;
    int decimals;                             /* < 0: automatic */
} ug_table_spec;

/* One run's value: its row labels (n_row_keys strings) and column labels (n_col_keys strings). */
typedef struct ug_table_obs {
    const char *const *row;
    const char *const *col;
    double value;
} ug_table_obs;

ug_status ug_table_write(FILE *f, const ug_table_spec *t, const ug_table_obs *obs, int n_obs, ug_error *err);

/* A table's observations from selected runs (report_data.h): one for each run that has the metric the
 * runs were selected with, labelled by its values of the row and column keys ("-" where it lacks one),
 * valued by t->reduce of its summary. `n_without`: runs left out for lacking the metric. */
struct ug_rd_set;
typedef struct ug_table_obs_set {
    ug_table_obs *obs;
    const char **labels;      /* n * (n_row_keys + n_col_keys), the runs' strings */
    int n, n_without;
} ug_table_obs_set;
ug_status ug_table_obs_from_runs(const struct ug_rd_set *runs, const ug_table_spec *t, ug_table_obs_set *out,
                                 ug_error *err);
void ug_table_obs_set_free(ug_table_obs_set *s);

/* Parsing the CLI's words: 0 and the value, or -1 for an unknown word. */
int ug_reduce_parse(const char *s, ug_reduce *out);      /* last|min|max */
int ug_spread_parse(const char *s, ug_spread *out);      /* mean_std|std|sem|ci95 */
int ug_best_parse(const char *s, ug_best *out);          /* min|max|none */
int ug_table_format_parse(const char *s, ug_table_format *out);   /* md|latex|csv|html */

#endif
