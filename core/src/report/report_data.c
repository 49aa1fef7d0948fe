/* report_data.c — selecting runs for reports: one listing of the runs with a metric's summary, then
 * each run's params (one snapshot per run), filtered in C so every key of the flattened spec works. */
#include "unigfn/host/report_data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dupn(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

void ug_rd_filter_free(ug_rd_filter *f) {
    if (!f) return;
    for (int i = 0; i < f->n_values; i++) free(f->values[i]);
    free(f->values);
    free(f->key);
    memset(f, 0, sizeof *f);
}

ug_status ug_rd_filter_parse(const char *text, ug_rd_filter *f, ug_error *err) {
    memset(f, 0, sizeof *f);
    const char *eq = strchr(text, '=');
    if (!eq || eq == text || (eq == text + 1 && text[0] == '!'))
        return ug_error_set(err, UG_ERR_ARG, "--where '%s': expected KEY=VALUE, KEY!=VALUE or KEY=V1|V2", text);
    const char *kend = eq;
    if (eq[-1] == '!') {
        f->negate = true;
        kend--;
    }
    while (kend > text && kend[-1] == ' ') kend--;
    if (!(f->key = dupn(text, (size_t)(kend - text)))) return ug_error_set(err, UG_ERR_NOMEM, "out of memory");
    const char *v = eq + 1;
    while (*v == ' ') v++;
    int cap = 1;
    for (const char *p = v; *p; p++) cap += *p == '|';
    if (!(f->values = calloc((size_t)cap, sizeof(char *)))) {
        ug_rd_filter_free(f);
        return ug_error_set(err, UG_ERR_NOMEM, "out of memory");
    }
    for (;;) {
        const char *bar = strchr(v, '|');
        size_t n = bar ? (size_t)(bar - v) : strlen(v);
        if (!(f->values[f->n_values++] = dupn(v, n))) {
            ug_rd_filter_free(f);
            return ug_error_set(err, UG_ERR_NOMEM, "out of memory");
        }
        if (!bar) break;
        v = bar + 1;
    }
    return UG_OK;
}

static bool as_number(const char *s, double *out) {
    if (!s || !*s) return false;
    char *end;
    *out = strtod(s, &end);
    return *end == 0 && end != s;
}

bool ug_rd_value_eq(const char *a, const char *b) {
    if (!a || !b) return false;
    if (strcmp(a, b) == 0) return true;
    double x, y;
    return as_number(a, &x) && as_number(b, &y) && x == y;
}

const char *ug_rd_get(const ug_rd_run *r, const char *key) {
    if (strcmp(key, "id") == 0) return r->id;
    if (strcmp(key, "experiment") == 0) return r->experiment;
    if (strcmp(key, "status") == 0) return ug_run_status_name(r->status);
    int lo = 0, hi = r->n_params - 1;
    while (lo <= hi) {   /* params are sorted by key */
        int mid = (lo + hi) / 2;
        int c = strcmp(r->keys[mid], key);
        if (c == 0) return r->values[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return NULL;
}

bool ug_rd_match(const ug_rd_run *r, const ug_rd_filter *f, int n) {
    for (int i = 0; i < n; i++) {
        const char *v = ug_rd_get(r, f[i].key);
        bool any = false;
        for (int k = 0; k < f[i].n_values && !any; k++) any = ug_rd_value_eq(v, f[i].values[k]);
        if (any == f[i].negate) return false;
    }
    return true;
}

void ug_rd_run_free(ug_rd_run *r) {
    for (int i = 0; i < r->n_params; i++) {
        free(r->keys[i]);
        free(r->values[i]);
    }
    free(r->keys);
    free(r->values);
    free(r->id);
    free(r->experiment);
}

void ug_rd_set_free(ug_rd_set *s) {
    if (!s) return;
    for (int i = 0; i < s->n; i++) ug_rd_run_free(&s->runs[i]);
    free(s->runs);
    s->runs = NULL;
    s->n = 0;
}

typedef struct list_ctx {
    ug_rd_set *set;
    int cap;
    bool finished_only, oom;
} list_ctx;

static int list_row(void *user, const ug_run_row *row) {
    list_ctx *c = user;
    if (c->finished_only && row->status != UG_RUN_FINISHED) return 0;
    if (c->set->n == c->cap) {
        int cap = c->cap ? 2 * c->cap : 64;
        ug_rd_run *r = realloc(c->set->runs, (size_t)cap * sizeof *r);
        if (!r) { c->oom = true; return 1; }
        c->set->runs = r, c->cap = cap;
    }
    ug_rd_run *r = &c->set->runs[c->set->n];
    memset(r, 0, sizeof *r);
    r->id = strdup(row->id);
    r->experiment = strdup(row->experiment);
    if (!r->id || !r->experiment) {
        free(r->id);
        free(r->experiment);
        c->oom = true;
        return 1;
    }
    r->status = row->status;
    r->step = row->step;
    r->has_metric = row->has_metric;
    r->last = row->metric_last, r->min = row->metric_min, r->max = row->metric_max;
    r->n_values = row->metric_n;
    c->set->n++;
    return 0;
}

ug_status ug_rd_select(ug_store *st, const char *metric, const ug_rd_filter *f, int n_filters, bool finished_only,
                       ug_rd_set *out, ug_error *err) {
    memset(out, 0, sizeof *out);
    list_ctx c = {.set = out, .finished_only = finished_only};
    ug_status s = ug_store_list_runs(st, NULL, metric, list_row, &c, err);
    if (!s && c.oom) s = ug_error_set(err, UG_ERR_NOMEM, "out of memory");
    int kept = 0, i = 0;
    for (; i < out->n && !s; i++) {
        ug_rd_run *r = &out->runs[i];
        ug_run_record *rec = NULL;
        s = ug_store_get_run(st, r->id, &rec, err);
        if (s) {
            ug_rd_run_free(r);
            /* deleted between the listing and now: not an error */
            if (s == UG_ERR_STORE && strncmp(err->msg, "no run", 6) == 0) { s = UG_OK; err->code = UG_OK; }
            continue;
        }
        r->n_params = rec->n_params;
        r->keys = rec->param_keys;
        r->values = rec->param_values;
        rec->param_keys = rec->param_values = NULL;
        rec->n_params = 0;
        ug_run_record_free(rec);
        if (ug_rd_match(r, f, n_filters)) out->runs[kept++] = *r;
        else ug_rd_run_free(r);
    }
    for (; i < out->n; i++) ug_rd_run_free(&out->runs[i]);  /* left unread after an error */
    out->n = kept;
    if (s) ug_rd_set_free(out);
    return s;
}

int ug_rd_natural_cmp(const char *a, const char *b) {
    while (*a && *b) {
        bool da = (*a >= '0' && *a <= '9') || ((*a == '-' || *a == '.') && a[1] >= '0' && a[1] <= '9');
        bool db = (*b >= '0' && *b <= '9') || ((*b == '-' || *b == '.') && b[1] >= '0' && b[1] <= '9');
        if (da && db) {
            char *ea, *eb;
            double x = strtod(a, &ea), y = strtod(b, &eb);
            if (ea != a && eb != b) {
                if (x < y) return -1;
                if (x > y) return 1;
                a = ea, b = eb;
                continue;
            }
        }
        if (*a != *b) return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
        a++, b++;
    }
    return *a ? 1 : *b ? -1 : 0;
}

static int str_cmp(const void *x, const void *y) { return strcmp(*(const char *const *)x, *(const char *const *)y); }

int ug_rd_varying_keys(const ug_rd_set *s, const char *const *ignore, int n_ignore, const char ***out) {
    *out = NULL;
    int cap = 0, n = 0;
    const char **keys = NULL;
    /* every key of any run, once */
    for (int i = 0; i < s->n; i++)
        for (int k = 0; k < s->runs[i].n_params; k++) {
            const char *key = s->runs[i].keys[k];
            bool skip = false;
            for (int j = 0; j < n_ignore && !skip; j++) skip = strcmp(ignore[j], key) == 0;
            for (int j = 0; j < n && !skip; j++) skip = strcmp(keys[j], key) == 0;
            if (skip) continue;
            if (n == cap) {
                cap = cap ? 2 * cap : 64;
                const char **nk = realloc(keys, (size_t)cap * sizeof *nk);
                if (!nk) { free(keys); return -1; }
                keys = nk;
            }
            keys[n++] = key;
        }
    int m = 0;
    for (int j = 0; j < n; j++) {
        const char *first = ug_rd_get(&s->runs[0], keys[j]);
        bool differs = false;
        for (int i = 1; i < s->n && !differs; i++) {
            const char *v = ug_rd_get(&s->runs[i], keys[j]);
            differs = (v == NULL) != (first == NULL) || (v && strcmp(v, first) != 0);
        }
        if (differs) keys[m++] = keys[j];
    }
    if (m > 1) qsort(keys, (size_t)m, sizeof *keys, str_cmp);
    *out = keys;
    return m;
}
