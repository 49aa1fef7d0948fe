/* report_data.h — choosing runs from the results store for reports and exports: filters on flattened
 * spec params (`--where model.hidden=256`), each run's params and the summary of one metric, and the
 * automatic grouping of runs that differ only in their seed (host only). */
#ifndef UG_REPORT_DATA_H
#define UG_REPORT_DATA_H

#include <stdbool.h>
#include <stdint.h>

#include "unigfn/host/store.h"

typedef struct ug_rd_run {
    char *id, *experiment;
    ug_run_status status;
    int64_t step;
    int n_params;
    char **keys, **values;    /* the flattened spec, sorted by key */
    bool has_metric;          /* the metric asked for in ug_rd_select */
    double last, min, max;
    int64_t n_values;
} ug_rd_run;

typedef struct ug_rd_set {
    ug_rd_run *runs;          /* in creation order */
    int n;
} ug_rd_set;

/* KEY=V, KEY!=V, KEY=V1|V2 (any of). Numbers compare as numbers (1e-3 matches 0.001). Besides the
 * params, KEY may be `id`, `experiment` or `status`. */
typedef struct ug_rd_filter {
    char *key;
    char **values;
    int n_values;
    bool negate;
} ug_rd_filter;

ug_status ug_rd_filter_parse(const char *text, ug_rd_filter *f, ug_error *err);
void ug_rd_filter_free(ug_rd_filter *f);

/* A run's value for KEY (a param or id/experiment/status); NULL if the run has no such key. */
const char *ug_rd_get(const ug_rd_run *r, const char *key);
/* Text equality, or numeric equality when both read fully as numbers. */
bool ug_rd_value_eq(const char *a, const char *b);
bool ug_rd_match(const ug_rd_run *r, const ug_rd_filter *f, int n_filters);

/* Runs that pass every filter, with params and the summary of `metric` (NULL: none). finished_only
 * keeps FINISHED runs only. */
ug_status ug_rd_select(ug_store *st, const char *metric, const ug_rd_filter *f, int n_filters, bool finished_only,
                       ug_rd_set *out, ug_error *err);
void ug_rd_set_free(ug_rd_set *s);
void ug_rd_run_free(ug_rd_run *r);   /* one run's strings (for callers that drop runs from a set) */

/* "Natural" order for labels: numbers inside text compare as numbers ("64" < "128", "[64]" < "[128]"). */
int ug_rd_natural_cmp(const char *a, const char *b);

/* Keys whose value differs between the runs (absent counts as a value), sorted; the caller frees the
 * array (the strings belong to the runs). `ignore` keys are left out. */
int ug_rd_varying_keys(const ug_rd_set *s, const char *const *ignore, int n_ignore, const char ***out);

#endif
