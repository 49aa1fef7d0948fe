/* report_curves.c — runs → groups → per-run series and per-group mean ± std → plot/chart's picture. */
#include "unigfn/host/report_curves.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plot/chart.h"

void ug_rd_groups_free(ug_rd_groups *g) {
    if (!g) return;
    for (int i = 0; i < g->n; i++) free(g->label[i]);
    free(g->label);
    free(g->of_run);
    free(g->size);
    memset(g, 0, sizeof *g);
}

static char *run_key(const ug_rd_run *r, const char *const *keys, int n) {
    size_t len = 1;
    for (int i = 0; i < n; i++) {
        const char *v = ug_rd_get(r, keys[i]);
        len += (v ? strlen(v) : 0) + 2;
    }
    char *s = malloc(len), *p = s;
    if (!s) return NULL;
    for (int i = 0; i < n; i++) {
        const char *v = ug_rd_get(r, keys[i]);
        if (v) { size_t l = strlen(v); memcpy(p, v, l); p += l; }
        else *p++ = '\x1e';   /* absent differs from any value */
        *p++ = '\x1f';
    }
    *p = 0;
    return s;
}

static char *make_label(const ug_rd_run *r, const char *const *keys, int n) {
    size_t len = 1;
    for (int i = 0; i < n; i++) {
        const char *v = ug_rd_get(r, keys[i]);
        len += strlen(keys[i]) + (v ? strlen(v) : 1) + 2;
    }
    char *s = malloc(len);
    if (!s) return NULL;
    s[0] = 0;
    size_t used = 0;
    for (int i = 0; i < n; i++) {
        const char *v = ug_rd_get(r, keys[i]);
        used += (size_t)snprintf(s + used, len - used, "%s%s=%s", i ? " " : "", keys[i], v ? v : "-");
    }
    return s;
}

/* Groups by `keys`; labels by `label_keys`. */
static int group_by(const ug_rd_set *runs, const char *const *keys, int n_keys, const char *const *label_keys,
                    int n_label, ug_rd_groups *g) {
    memset(g, 0, sizeof *g);
    int cap = runs->n + 1;
    char **gkey = calloc((size_t)cap, sizeof *gkey);
    g->of_run = calloc((size_t)cap, sizeof(int));
    g->label = calloc((size_t)cap, sizeof(char *));
    g->size = calloc((size_t)cap, sizeof(int));
    bool oom = !gkey || !g->of_run || !g->label || !g->size;
    for (int i = 0; i < runs->n && !oom; i++) {
        char *k = run_key(&runs->runs[i], keys, n_keys);
        if (!k) { oom = true; break; }
        int at = -1;
        for (int j = 0; j < g->n && at < 0; j++)
            if (strcmp(gkey[j], k) == 0) at = j;
        if (at < 0) {
            at = g->n++;
            gkey[at] = k;
            if (!(g->label[at] = make_label(&runs->runs[i], label_keys, n_label))) oom = true;
        } else {
            free(k);
        }
        g->of_run[i] = at;
        g->size[at]++;
    }
    for (int j = 0; gkey && j < g->n; j++) free(gkey[j]);
    free(gkey);
    if (oom) { ug_rd_groups_free(g); return -1; }
    return g->n;
}

/* Preference for label keys: the summary keys first, then shallower keys, then by name. */
static int label_rank(const char *k) {
    if (strcmp(k, "dataset") == 0 || strcmp(k, "model") == 0 || strcmp(k, "objective") == 0) return 0;
    int dots = 1;
    for (const char *p = k; *p; p++) dots += *p == '.';
    return dots;
}

static int label_cmp(const void *a, const void *b) {
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    int r = label_rank(x) - label_rank(y);
    return r ? r : strcmp(x, y);
}

/* How many distinct label tuples the groups' first runs give with these keys. */
static int distinct_labels(const ug_rd_set *runs, const ug_rd_groups *g, const char *const *keys, int n) {
    char **lab = calloc((size_t)g->n + 1, sizeof *lab);
    int distinct = 0;
    if (!lab) return -1;
    for (int k = 0; k < g->n; k++) {
        int first = 0;
        while (g->of_run[first] != k) first++;
        lab[k] = run_key(&runs->runs[first], keys, n);
        if (!lab[k]) { distinct = -1; break; }
        bool seen = false;
        for (int j = 0; j < k && !seen; j++) seen = strcmp(lab[j], lab[k]) == 0;
        distinct += !seen;
    }
    for (int k = 0; k < g->n; k++) free(lab[k]);
    free(lab);
    return distinct;
}

int ug_rd_group(const ug_rd_set *runs, const char *const *keys, int n_keys, ug_rd_groups *out) {
    if (keys) return group_by(runs, keys, n_keys, keys, n_keys, out);
    static const char *const ignore[] = {"seed", "name"};
    const char **vary = NULL;
    int nv = ug_rd_varying_keys(runs, ignore, 2, &vary);
    if (nv < 0) return -1;
    int n = group_by(runs, vary, nv, vary, 0, out);
    /* Label with as few keys as tell the groups apart: a zipped axis moves many flattened keys
     * (objective, objective.0.plugin, optim.*, ...) and one of them is enough. */
    const char **order = malloc(((size_t)nv + 1) * sizeof *order), **chosen = malloc(((size_t)nv + 1) * sizeof *chosen);
    int nc = 0, have = 1;
    if (!order || !chosen) n = -1;
    if (n > 1) {
        memcpy(order, vary, (size_t)nv * sizeof *order);
        qsort(order, (size_t)nv, sizeof *order, label_cmp);
        for (int i = 0; i < nv && have < n; i++) {
            chosen[nc] = order[i];
            int d = distinct_labels(runs, out, chosen, nc + 1);
            if (d < 0) { n = -1; break; }
            if (d > have) { have = d; nc++; }
        }
    }
    for (int k = 0; n > 0 && k < out->n; k++) {
        int first = 0;
        while (out->of_run[first] != k) first++;
        free(out->label[k]);
        /* one configuration: name it by its experiment */
        out->label[k] = nc ? make_label(&runs->runs[first], chosen, nc) : strdup(runs->runs[first].experiment);
        if (!out->label[k]) n = -1;
    }
    if (n < 0) ug_rd_groups_free(out);
    free(order);
    free(chosen);
    free(vary);
    return n;
}

typedef struct series_buf {
    double *x, *y;
    double *lo, *hi;   /* group means: mean ∓ std where two or more runs logged the step, else NaN */
    int n, cap;
    bool oom;
} series_buf;

static int add_point(void *user, int64_t step, double value, double wall) {
    (void)wall;
    series_buf *b = user;
    if (b->n == b->cap) {
        int cap = b->cap ? 2 * b->cap : 256;
        double *x = realloc(b->x, (size_t)cap * sizeof *x);
        if (x) b->x = x;
        double *y = realloc(b->y, (size_t)cap * sizeof *y);
        if (y) b->y = y;
        if (!x || !y) { b->oom = true; return 1; }
        b->cap = cap;
    }
    b->x[b->n] = (double)step;
    b->y[b->n] = value;
    b->n++;
    return 0;
}

static int dbl_cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

ug_status ug_report_curves(ug_store *st, const ug_rd_set *runs, const ug_curves_opts *o, FILE *info,
                           ug_curves_result *res, ug_error *err) {
    ug_rd_groups g;
    if (res) memset(res, 0, sizeof *res);
    if (runs->n == 0) return ug_error_set(err, UG_ERR_ARG, "no runs to plot");
    if (ug_rd_group(runs, o->group_by, o->n_group_by, &g) < 0) return ug_error_set(err, UG_ERR_NOMEM, "out of memory");
    series_buf *sb = calloc((size_t)runs->n, sizeof *sb);
    series_buf *mean = calloc((size_t)g.n, sizeof *mean);
    ug_series *ser = calloc((size_t)(runs->n + g.n), sizeof *ser);
    char **labels = calloc((size_t)g.n, sizeof *labels);
    int *with = calloc((size_t)g.n, sizeof(int));
    ug_status s = UG_OK;
    if (!sb || !mean || !ser || !labels || !with) { s = ug_error_set(err, UG_ERR_NOMEM, "out of memory"); goto done; }
    bool once = true;   /* every run that logged the metric logged it at one step */
    for (int i = 0; i < runs->n && !s; i++) {
        s = ug_store_metric_series(st, runs->runs[i].id, o->metric, add_point, &sb[i], err);
        if (!s && sb[i].oom) s = ug_error_set(err, UG_ERR_NOMEM, "out of memory");
        if (!s && sb[i].n) with[g.of_run[i]]++;
        for (int q = 1; q < sb[i].n; q++) once &= sb[i].x[q] == sb[i].x[0];
    }
    /* group mean and std (n - 1) over the union of steps, each step over the runs that logged it */
    for (int k = 0; k < g.n && !s; k++) {
        if (with[k] < 2) continue;
        int total = 0;
        for (int i = 0; i < runs->n; i++)
            if (g.of_run[i] == k) total += sb[i].n;
        double *steps = malloc((size_t)total * sizeof *steps);
        if (!steps) { s = ug_error_set(err, UG_ERR_NOMEM, "out of memory"); break; }
        int m = 0;
        for (int i = 0; i < runs->n; i++)
            if (g.of_run[i] == k) { memcpy(steps + m, sb[i].x, (size_t)sb[i].n * sizeof *steps); m += sb[i].n; }
        qsort(steps, (size_t)m, sizeof *steps, dbl_cmp);
        int u = 0;
        for (int i = 0; i < m; i++)
            if (u == 0 || steps[i] != steps[u - 1]) steps[u++] = steps[i];
        double *my = calloc((size_t)u + 1, sizeof *my), *ss = calloc((size_t)u + 1, sizeof *ss);
        double *lo = malloc(((size_t)u + 1) * sizeof *lo), *hi = malloc(((size_t)u + 1) * sizeof *hi);
        int *cnt = calloc((size_t)u + 1, sizeof *cnt);
        if (!my || !ss || !lo || !hi || !cnt) {
            free(steps), free(my), free(ss), free(lo), free(hi), free(cnt);
            s = ug_error_set(err, UG_ERR_NOMEM, "out of memory");
            break;
        }
        /* two passes (mean, then squared deviations) so a large common offset does not eat the spread */
        for (int pass = 0; pass < 2; pass++) {
            for (int i = 0; i < runs->n; i++) {
                if (g.of_run[i] != k) continue;
                int p = 0;
                for (int q = 0; q < sb[i].n; q++) {
                    while (p < u && steps[p] < sb[i].x[q]) p++;
                    /* a step logged twice (a resumed run) counts once: its last value */
                    if (q + 1 < sb[i].n && sb[i].x[q + 1] == sb[i].x[q]) continue;
                    if (p >= u || !isfinite(sb[i].y[q])) continue;
                    if (pass == 0) my[p] += sb[i].y[q], cnt[p]++;
                    else ss[p] += (sb[i].y[q] - my[p]) * (sb[i].y[q] - my[p]);
                }
            }
            if (pass == 0)
                for (int p = 0; p < u; p++) my[p] = cnt[p] ? my[p] / cnt[p] : NAN;
        }
        for (int p = 0; p < u; p++) {
            double sd = cnt[p] >= 2 ? sqrt(ss[p] / (cnt[p] - 1)) : NAN;
            lo[p] = my[p] - sd, hi[p] = my[p] + sd;
        }
        free(cnt);
        free(ss);
        mean[k] = (series_buf){.x = steps, .y = my, .lo = lo, .hi = hi, .n = u};
    }
    int ns = 0, n_with = 0;
    for (int i = 0; i < runs->n && !s; i++)
        if (sb[i].n) ser[ns++] = (ug_series){.x = sb[i].x, .y = sb[i].y, .n = sb[i].n, .group = g.of_run[i], .bold = with[g.of_run[i]] < 2};
    for (int k = 0; k < g.n && !s; k++)
        if (mean[k].n) ser[ns++] = (ug_series){.x = mean[k].x, .y = mean[k].y, .lo = mean[k].lo, .hi = mean[k].hi, .n = mean[k].n, .group = k, .bold = true};
    for (int k = 0; k < g.n; k++) n_with += with[k];
    if (!s && n_with == 0) s = ug_error_set(err, UG_ERR_ARG, "none of the %d selected runs logged metric '%s'", runs->n, o->metric);
    for (int k = 0; k < g.n && !s; k++) {
        char buf[1200];
        snprintf(buf, sizeof buf, "%s (%d run%s)", g.label[k], with[k], with[k] == 1 ? "" : "s");
        if (!(labels[k] = strdup(buf))) s = ug_error_set(err, UG_ERR_NOMEM, "out of memory");
    }
    int dx = 0, dy = 0;
    if (!s) {
        ug_chart ch = {.title = o->title ? o->title : o->metric, .xlabel = "step", .ylabel = o->metric, .logx = o->logx,
                       .logy = o->logy, .markers = once, .width = o->width, .height = o->height, .n_groups = g.n,
                       .group_labels = (const char *const *)labels};
        s = ug_chart_draw(o->path, &ch, ser, ns, &dx, &dy, err);
    }
    if (!s && res) {
        res->dropped_x = dx, res->dropped_y = dy, res->markers = once;
        for (int k = 0; k < g.n; k++) res->n_bands += mean[k].n > 0;
    }
    if (!s && info)
        for (int k = 0; k < g.n; k++) {
            fprintf(info, "group %d: %s:", k, labels[k]);
            for (int i = 0; i < runs->n; i++)
                if (g.of_run[i] == k) fprintf(info, " %s%s", runs->runs[i].id, sb[i].n ? "" : "(no points)");
            fputc('\n', info);
        }
done:
    for (int i = 0; sb && i < runs->n; i++) { free(sb[i].x); free(sb[i].y); }
    for (int k = 0; mean && k < g.n; k++) { free(mean[k].x); free(mean[k].y); free(mean[k].lo); free(mean[k].hi); }
    for (int k = 0; labels && k < g.n; k++) free(labels[k]);
    free(sb);
    free(mean);
    free(ser);
    free(labels);
    free(with);
    ug_rd_groups_free(&g);
    return s;
}
