/* cmd_report.c — `unigfn report table|curves|samples`: ablation tables, metric curves and sample
 * pictures from the results database. */
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "unigfn/host/figure.h"
#include "unigfn/host/report_curves.h"
#include "unigfn/host/report_data.h"
#include "unigfn/host/report_samples.h"
#include "unigfn/host/report_table.h"
#include "unigfn/host/runner.h"
#include "unigfn/host/util.h"

#define MAX_KEYS 8
#define MAX_WHERE 32

static const char REPORT_USAGE[] =
    "usage: unigfn report table --rows K[,K] --cols K[,K] --metric M [--where K=V ...]\n"
    "                           [--reduce last|min|max] [--stat mean_std|sem|ci95] [--best min|max|none]\n"
    "                           [--best-in table|row|col] [--format md|latex|csv|html] [--decimals D] [--all] [-o FILE]\n"
    "       unigfn report curves --metric M [--where K=V ...] [--group-by K[,K]] [--log-y] [--log-x]\n"
    "                           [--finished] [--title T] [--width W] [--height H] [-o curves.png]\n"
    "       unigfn report samples RUN [-o samples.png] [-n N] [--bins B] [--range R]\n"
    "       unigfn report html OUT [--where K=V ...] [--table ROWS:COLS:METRIC ...] (unigfn report html -h)\n"
    "Pictures are PNG, SVG or PDF by the -o file's extension (.png, .svg, .pdf).\n"
    "K is any flattened spec key (`unigfn show RUN` lists them under params: model, objective, dataset,\n"
    "seed, model.hidden, objective.0.plugin, ...) or id/experiment/status. --where takes K=V, K!=V or\n"
    "K=V1|V2 and may repeat (all must hold); numbers match numerically (1e-3 = 0.001).\n"
    "table: one cell per (row, col) over the runs in it (seeds), FINISHED runs only unless --all;\n"
    "  --reduce picks each run's value of the metric (default last); --best defaults to max with\n"
    "  --reduce max, else min. curves: every run that logged the metric (--finished: FINISHED only),\n"
    "  grouped by all keys that vary except seed (or --group-by); a group of several runs gets its mean and a\n"
    "  mean ± std band; a metric logged at one step per run is drawn as markers.\n"
    "Exit 0 written, 1 nothing to report (no run matches, no run has the key or logged the metric: the\n"
    "message names the closest ones) or a file cannot be written, 2 a bad option or value.\n"
    "examples:\n"
    "  unigfn report table --rows model.pf_var --cols seed --metric nll --format latex\n"
    "  unigfn report table --rows experiment --cols model.steps --metric nll --where 'seed=0|1' --stat sem\n"
    "  unigfn report curves --metric loss --log-y -o curves.svg\n"
    "  unigfn report samples RUN -o samples.pdf\n"
    "  unigfn report html report/ --table model.pf_var:seed:nll\n";

/* "a,b" → up to MAX_KEYS keys (pointers into a copy the caller frees). */
static int split_keys(const char *s, char **copy, const char **out) {
    *copy = strdup(s);
    if (!*copy) return -1;
    int n = 0;
    for (char *save = NULL, *k = strtok_r(*copy, ",", &save); k && n < MAX_KEYS; k = strtok_r(NULL, ",", &save))
        out[n++] = k;
    return n;
}

typedef struct sel_args {
    ug_rd_filter where[MAX_WHERE];
    int n_where;
} sel_args;

static void sel_free(sel_args *a) {
    for (int i = 0; i < a->n_where; i++) ug_rd_filter_free(&a->where[i]);
}

static int add_where(sel_args *a, const char *cmd, const char *text) {
    ug_error err = {0};
    if (a->n_where == MAX_WHERE) { fprintf(stderr, "unigfn %s: at most %d --where\n", cmd, MAX_WHERE); return -1; }
    if (ug_rd_filter_parse(text, &a->where[a->n_where], &err)) { fprintf(stderr, "unigfn %s: %s\n", cmd, err.msg); return -1; }
    a->n_where++;
    return 0;
}

/* "unigfn report table: --stat must be mean_std, sem or ci95, got 'sd'" */
static void bad_choice(const char *cmd, const char *opt, const char *choices, const char *got) {
    char shown[96];
    fprintf(stderr, "unigfn %s: %s must be %s, got '%s'\n", cmd, opt, choices, ug_shown(got, SIZE_MAX, shown, sizeof shown));
}

/* The closest key any run of s has, or id/experiment/status (did-you-mean); NULL when none is close. */
static const char *closest_key(const ug_rd_set *s, const char *key) {
    static const char *const fixed[] = {"id", "experiment", "status"};
    const char *best = ug_closest_name(key, fixed, 3);
    for (int i = 0; i < s->n && !best; i++)
        best = ug_closest_name(key, (const char *const *)s->runs[i].keys, s->runs[i].n_params);
    return best;
}

/* Why a selection came out empty: the values each filtered key does have. */
static void explain_empty(ug_store *st, const sel_args *a, bool finished_only, const char *metric) {
    ug_rd_set all = {0};
    ug_error err = {0};
    if (ug_rd_select(st, NULL, NULL, 0, false, &all, &err)) return;
    int fin = 0;
    for (int i = 0; i < all.n; i++) fin += all.runs[i].status == UG_RUN_FINISHED;
    fprintf(stderr, "unigfn report: no %srun%s%s%s matches (the database has %d runs, %d FINISHED)\n",
            finished_only ? "FINISHED " : "", metric ? " that logged '" : "", metric ? metric : "", metric ? "'" : "",
            all.n, fin);
    for (int w = 0; w < a->n_where; w++) {
        const char *seen[12];
        int ns = 0, more = 0;
        for (int i = 0; i < all.n; i++) {
            const char *v = ug_rd_get(&all.runs[i], a->where[w].key);
            if (!v) continue;
            bool dup = false;
            for (int k = 0; k < ns && !dup; k++) dup = strcmp(seen[k], v) == 0;
            if (dup) continue;
            if (ns < 12) seen[ns++] = v;
            else more++;
        }
        if (ns == 0) {
            const char *near = closest_key(&all, a->where[w].key);
            char k[256], nb[256];
            ug_shown(a->where[w].key, SIZE_MAX, k, sizeof k);
            if (near) fprintf(stderr, "  --where %s: no run has the key '%s' (did you mean '%s'?)\n", k, k,
                              ug_shown_text(near, SIZE_MAX, nb, sizeof nb));
            else fprintf(stderr, "  --where %s: no run has the key '%s'\n", k, k);
            continue;
        }
        fprintf(stderr, "  --where %s: values present:", a->where[w].key);
        char shown[256];  /* the database's strings, escaped */
        for (int k = 0; k < ns; k++) fprintf(stderr, " %s", ug_shown_text(seen[k], SIZE_MAX, shown, sizeof shown));
        if (more) fprintf(stderr, " ... (%d more)", more);
        fputc('\n', stderr);
    }
    ug_rd_set_free(&all);
}

static bool any_has_key(const ug_rd_set *s, const char *key) {
    for (int i = 0; i < s->n; i++)
        if (ug_rd_get(&s->runs[i], key)) return true;
    return false;
}

static void key_hint(const ug_rd_set *s, const char *key) {
    char shown[256], k[256];  /* the database's strings, escaped */
    const char *near = closest_key(s, key);
    if (near) {
        fprintf(stderr, "unigfn report: no selected run has the key '%s' (did you mean '%s'?)\n",
                ug_shown(key, SIZE_MAX, k, sizeof k), ug_shown_text(near, SIZE_MAX, shown, sizeof shown));
        return;
    }
    fprintf(stderr, "unigfn report: no selected run has the key '%s'; keys look like:", ug_shown(key, SIZE_MAX, k, sizeof k));
    if (s->n)
        for (int j = 0; j < s->runs[0].n_params && j < 24; j++)
            fprintf(stderr, " %s", ug_shown_text(s->runs[0].keys[j], SIZE_MAX, shown, sizeof shown));
    fprintf(stderr, " ... (`unigfn show RUN` lists them all)\n");
}

/* "no selected run logged metric 'M'", with the closest name they did log (did-you-mean). */
static void metric_hint(ug_store *st, const ug_rd_set *sel, const char *metric) {
    cli_names ns = {.n = 0};
    cli_metric_names(st, sel, &ns);
    cli_unknown_name("report", "no selected run logged metric", metric, &ns);
    cli_names_free(&ns);
}

/* Cells that pool runs differing in more than the seed: say so, they are not "over seeds". */
static void warn_pooling(const ug_rd_set *sel, const int *cell, int n_cells, const char *const *ignore, int n_ignore) {
    int warned = 0;
    for (int c = 0; c < n_cells && warned < 3; c++) {
        ug_rd_set view = {malloc((size_t)sel->n * sizeof(ug_rd_run)), 0};
        if (!view.runs) return;
        for (int i = 0; i < sel->n; i++)
            if (cell[i] == c) view.runs[view.n++] = sel->runs[i];
        const char **vary = NULL;
        int nv = view.n > 1 ? ug_rd_varying_keys(&view, ignore, n_ignore, &vary) : 0;
        if (nv > 0) {
            fprintf(stderr, "note: a cell pools %d runs that differ in more than the seed:", view.n);
            for (int k = 0; k < nv && k < 4; k++) fprintf(stderr, " %s", vary[k]);
            fprintf(stderr, "%s; add such keys to --rows/--cols or --where to separate them\n", nv > 4 ? " ..." : "");
            warned++;
        }
        free(vary);
        free(view.runs);
    }
}

static int report_table(cli_env *env, int argc, char **argv) {
    const char *rows_s = NULL, *cols_s = NULL, *metric = NULL, *outp = NULL;
    ug_table_spec t = {.decimals = -1};
    bool best_set = false, all = false;
    sel_args sa = {0};
    int rc = 2;
    enum { O_ROWS = 256, O_COLS, O_METRIC, O_WHERE, O_REDUCE, O_STAT, O_BEST, O_FORMAT, O_DECIMALS, O_BEST_IN, O_ALL };
    static const struct option opts[] = {
        {"rows", required_argument, NULL, O_ROWS},       {"cols", required_argument, NULL, O_COLS},
        {"metric", required_argument, NULL, O_METRIC},   {"where", required_argument, NULL, O_WHERE},
        {"reduce", required_argument, NULL, O_REDUCE},   {"stat", required_argument, NULL, O_STAT},
        {"best", required_argument, NULL, O_BEST},       {"format", required_argument, NULL, O_FORMAT},
        {"decimals", required_argument, NULL, O_DECIMALS}, {"best-in", required_argument, NULL, O_BEST_IN},
        {"all", no_argument, NULL, O_ALL},               {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    for (int c; (c = cli_getopt(argc, argv, ":ho:", opts)) != -1;) {
        const char *v = optarg;
        switch (c) {
        case 'h': fputs(REPORT_USAGE, stdout); sel_free(&sa); return 0;
        case O_ALL: all = true; break;
        case O_ROWS: rows_s = v; break;
        case O_COLS: cols_s = v; break;
        case O_METRIC: metric = v; break;
        case 'o': outp = v; break;
        case O_WHERE: if (add_where(&sa, "report table", v)) goto bad; break;
        case O_REDUCE: if (ug_reduce_parse(v, &t.reduce)) { bad_choice("report table", "--reduce", "last, min or max", v); goto bad; } break;
        case O_STAT: if (ug_spread_parse(v, &t.spread)) { bad_choice("report table", "--stat", "mean_std, sem or ci95", v); goto bad; } break;
        case O_BEST:
            best_set = true;
            if (ug_best_parse(v, &t.best)) { bad_choice("report table", "--best", "min, max or none", v); goto bad; }
            break;
        case O_FORMAT:
            if (ug_table_format_parse(v, &t.format)) { bad_choice("report table", "--format", "md, latex, csv or html", v); goto bad; }
            break;
        case O_DECIMALS: if (!cli_int_arg_i("report table", "--decimals", v, 0, 17, &t.decimals)) goto bad; break;
        case O_BEST_IN:
            if (strcmp(v, "table") == 0) t.scope = UG_BEST_TABLE;
            else if (strcmp(v, "row") == 0) t.scope = UG_BEST_ROW;
            else if (strcmp(v, "col") == 0) t.scope = UG_BEST_COL;
            else { bad_choice("report table", "--best-in", "table, row or col", v); goto bad; }
            break;
        default: rc = cli_bad_option("report table", c, argv, REPORT_USAGE); goto bad;
        }
    }
    int n_ops;
    char **ops = cli_operands(argc, argv, &n_ops);
    if (n_ops) { rc = cli_extra_operand("report table", REPORT_USAGE, "a table takes options only", ops[0]); goto bad; }
    const char *missing = !rows_s ? "--rows is required (the key or keys, joined by ',', of the rows)"
                        : !cols_s ? "--cols is required (the key or keys, joined by ',', of the columns)"
                        : !metric ? "--metric is required (the metric in the cells)" : NULL;
    if (missing) { rc = cli_usage_error("report table", REPORT_USAGE, "%s", missing); goto bad; }
    if (!best_set) t.best = t.reduce == UG_REDUCE_MAX ? UG_BEST_MAX : UG_BEST_MIN;
    t.metric = metric;
    char *rc_copy = NULL, *cc_copy = NULL;
    const char *rk[MAX_KEYS], *ck[MAX_KEYS];
    t.n_row_keys = split_keys(rows_s, &rc_copy, rk);
    t.n_col_keys = split_keys(cols_s, &cc_copy, ck);
    t.row_keys = rk, t.col_keys = ck;
    ug_store *st = NULL;
    ug_rd_set sel = {0};
    ug_table_obs_set os = {0};
    int *cell = NULL;
    FILE *f = NULL;
    rc = 1;
    if (t.n_row_keys < 1 || t.n_col_keys < 1) {
        fprintf(stderr, "unigfn report table: --%s names no key, got '%s'\n", t.n_row_keys < 1 ? "rows" : "cols",
                t.n_row_keys < 1 ? rows_s : cols_s);
        rc = 2;
        goto out;
    }
    if (!(st = cli_open_store(env, UG_STORE_READ))) goto out;
    ug_error err = {0};
    if (ug_rd_select(st, metric, sa.where, sa.n_where, !all, &sel, &err)) { fprintf(stderr, "unigfn report: %s\n", err.msg); goto out; }
    if (sel.n == 0) { explain_empty(st, &sa, !all, NULL); goto out; }
    for (int k = 0; k < t.n_row_keys + t.n_col_keys; k++) {
        const char *key = k < t.n_row_keys ? rk[k] : ck[k - t.n_row_keys];
        if (!any_has_key(&sel, key)) { key_hint(&sel, key); goto out; }
    }
    int kk = t.n_row_keys + t.n_col_keys;
    if (ug_table_obs_from_runs(&sel, &t, &os, &err)) { fprintf(stderr, "unigfn report: %s\n", err.msg); goto out; }
    const ug_table_obs *obs = os.obs;
    const char **labels = os.labels;
    int n_obs = os.n;
    cell = calloc((size_t)sel.n + 1, sizeof *cell);
    ug_rd_set with = {malloc(((size_t)sel.n + 1) * sizeof(ug_rd_run)), 0};
    if (!cell || !with.runs) { free(with.runs); fprintf(stderr, "unigfn report: out of memory\n"); goto out; }
    for (int i = 0; i < sel.n; i++)   /* the runs of the observations, in their order */
        if (sel.runs[i].has_metric) with.runs[with.n++] = sel.runs[i];
    if (os.n_without && n_obs > 0)  /* none logged it: the name is wrong, which metric_hint says */
        fprintf(stderr, "note: %d of the %d selected runs never logged '%s' (left out)\n", os.n_without, sel.n, metric);
    if (n_obs == 0) { metric_hint(st, &sel, metric); free(with.runs); goto out; }
    /* cells by label equality, for the pooling note */
    int n_cells = 0;
    for (int i = 0; i < n_obs; i++) {
        cell[i] = -1;
        for (int j = 0; j < i && cell[i] < 0; j++) {
            bool same = true;
            for (int k = 0; k < kk && same; k++) same = strcmp(labels[(size_t)i * kk + k], labels[(size_t)j * kk + k]) == 0;
            if (same) cell[i] = cell[j];
        }
        if (cell[i] < 0) cell[i] = n_cells++;
    }
    const char *ignore[2 + 2 * MAX_KEYS] = {"seed", "name"};
    for (int k = 0; k < kk; k++) ignore[2 + k] = k < t.n_row_keys ? rk[k] : ck[k - t.n_row_keys];
    warn_pooling(&with, cell, n_cells, ignore, 2 + kk);
    free(with.runs);
    f = outp ? fopen(outp, "w") : stdout;
    if (!f) { perror(outp); goto out; }
    if (ug_table_write(f, &t, obs, n_obs, &err)) { fprintf(stderr, "unigfn report: %s\n", err.msg); goto out; }
    FILE *written = f;
    f = NULL;
    if (cli_close_output("report table", written, outp)) goto out;
    rc = 0;
    if (outp) fprintf(stderr, "unigfn: wrote the table (%d runs) to %s\n", n_obs, outp);
out:
    if (f && f != stdout) fclose(f);  /* after an error; the written path is checked above */
    ug_table_obs_set_free(&os);
    free(cell);
    ug_rd_set_free(&sel);
    ug_store_close(st);
    free(rc_copy);
    free(cc_copy);
bad:
    sel_free(&sa);
    return rc;
}

/* -o names the format by its extension: a wrong one is a usage error (exit 2) before any work. */
static bool picture_path_ok(const char *cmd, const char *path) {
    ug_fig_format fmt;
    ug_error err = {0};
    if (ug_fig_format_of(path, &fmt, &err) == UG_OK) return true;
    fprintf(stderr, "unigfn %s: -o %s\n", cmd, err.msg);
    return false;
}

static int report_curves(cli_env *env, int argc, char **argv) {
    ug_curves_opts o = {.path = "curves.png"};
    const char *group_s = NULL;
    bool finished = false;
    sel_args sa = {0};
    int rc = 2;
    enum { O_METRIC = 256, O_WHERE, O_GROUP_BY, O_TITLE, O_WIDTH, O_HEIGHT, O_LOG_Y, O_LOG_X, O_FINISHED };
    static const struct option opts[] = {
        {"metric", required_argument, NULL, O_METRIC}, {"where", required_argument, NULL, O_WHERE},
        {"group-by", required_argument, NULL, O_GROUP_BY}, {"title", required_argument, NULL, O_TITLE},
        {"width", required_argument, NULL, O_WIDTH},   {"height", required_argument, NULL, O_HEIGHT},
        {"log-y", no_argument, NULL, O_LOG_Y},         {"logy", no_argument, NULL, O_LOG_Y},
        {"log-x", no_argument, NULL, O_LOG_X},         {"logx", no_argument, NULL, O_LOG_X},
        {"finished", no_argument, NULL, O_FINISHED},   {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    for (int c; (c = cli_getopt(argc, argv, ":ho:", opts)) != -1;) {
        const char *v = optarg;
        switch (c) {
        case 'h': fputs(REPORT_USAGE, stdout); sel_free(&sa); return 0;
        case O_LOG_Y: o.logy = true; break;
        case O_LOG_X: o.logx = true; break;
        case O_FINISHED: finished = true; break;
        case O_METRIC: o.metric = v; break;
        case 'o': o.path = v; break;
        case O_WHERE: if (add_where(&sa, "report curves", v)) goto bad; break;
        case O_GROUP_BY: group_s = v; break;
        case O_TITLE: o.title = v; break;
        case O_WIDTH: if (!cli_int_arg_i("report curves", "--width", v, 200, 8000, &o.width)) goto bad; break;
        case O_HEIGHT: if (!cli_int_arg_i("report curves", "--height", v, 150, 8000, &o.height)) goto bad; break;
        default: rc = cli_bad_option("report curves", c, argv, REPORT_USAGE); goto bad;
        }
    }
    int n_ops;
    char **ops = cli_operands(argc, argv, &n_ops);
    if (n_ops) { rc = cli_extra_operand("report curves", REPORT_USAGE, "curves take options only", ops[0]); goto bad; }
    if (!o.metric) { rc = cli_usage_error("report curves", REPORT_USAGE, "--metric is required (the metric to draw)"); goto bad; }
    if (!picture_path_ok("report curves", o.path)) goto bad;
    char *gcopy = NULL;
    const char *gk[MAX_KEYS];
    if (group_s) {
        o.n_group_by = split_keys(group_s, &gcopy, gk);
        o.group_by = gk;
    }
    ug_store *st = cli_open_store(env, UG_STORE_READ);
    ug_rd_set sel = {0};
    ug_error err = {0};
    rc = 1;
    if (!st) goto out;
    if (ug_rd_select(st, o.metric, sa.where, sa.n_where, finished, &sel, &err)) { fprintf(stderr, "unigfn report: %s\n", err.msg); goto out; }
    /* only runs that logged the metric */
    int k = 0;
    for (int i = 0; i < sel.n; i++) {
        if (sel.runs[i].has_metric) sel.runs[k++] = sel.runs[i];
        else ug_rd_run_free(&sel.runs[i]);
    }
    sel.n = k;
    if (sel.n == 0) { explain_empty(st, &sa, finished, o.metric); goto out; }
    for (int i = 0; i < o.n_group_by; i++)
        if (!any_has_key(&sel, gk[i])) { key_hint(&sel, gk[i]); goto out; }
    ug_curves_result res;
    if (ug_report_curves(st, &sel, &o, stdout, &res, &err)) { fprintf(stderr, "unigfn report: %s\n", err.msg); goto out; }
    printf("wrote %s: %s against step, %d run%s\n", o.path, o.metric, sel.n, sel.n == 1 ? "" : "s");
    if (res.markers)
        fprintf(stderr, "note: every run logged '%s' at one step only: drawn as markers%s\n", o.metric,
                res.n_bands ? ", each group's mean ± std over its runs as an error bar" : "");
    if (res.dropped_y) fprintf(stderr, "note: %d values <= 0 left out of the log y axis\n", res.dropped_y);
    if (res.dropped_x) fprintf(stderr, "note: %d points at step <= 0 left out of the log x axis\n", res.dropped_x);
    rc = 0;
out:
    ug_rd_set_free(&sel);
    ug_store_close(st);
    free(gcopy);
bad:
    sel_free(&sa);
    return rc;
}

static int report_samples(cli_env *env, int argc, char **argv) {
    ug_samples_opts o = {.path = "samples.png"};
    const char *run = NULL;
    enum { O_BINS = 256, O_RANGE };
    static const struct option opts[] = {{"bins", required_argument, NULL, O_BINS},
                                         {"range", required_argument, NULL, O_RANGE},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    for (int c; (c = cli_getopt(argc, argv, ":hn:o:", opts)) != -1;) {
        const char *v = optarg;
        long long n;
        switch (c) {
        case 'h': fputs(REPORT_USAGE, stdout); return 0;
        case 'o': o.path = v; break;
        case 'n':
            if (!cli_int_arg("report samples", "-n", v, 1, 1000000000, &n)) return 2;
            o.n = n;
            break;
        case O_BINS: if (!cli_int_arg_i("report samples", "--bins", v, 2, 2048, &o.bins)) return 2; break;
        case O_RANGE: if (!cli_num_arg("report samples", "--range", "a half-width", v, 1e-30, 1e30, &o.range)) return 2; break;
        default: return cli_bad_option("report samples", c, argv, REPORT_USAGE);
        }
    }
    int n_ops;
    char **ops = cli_operands(argc, argv, &n_ops);
    if (n_ops == 0) return cli_usage_error("report samples", REPORT_USAGE, "which run? (unigfn report samples RUN; `unigfn ls` lists them)");
    if (n_ops > 1) return cli_extra_operand("report samples", REPORT_USAGE, "one RUN at a time", ops[1]);
    run = ops[0];
    if (!picture_path_ok("report samples", o.path)) return 2;
    ug_store *st = cli_open_store(env, UG_STORE_READ);
    if (!st) return 1;
    ug_error err = {0};
    char id[64], what[512];
    int rc = 0;
    if (cli_find_run(st, "report samples", env->db_path, run, id, sizeof id)) {
        rc = 1;
    } else if (ug_report_samples(st, env->reg, env->db_path, id, &o, what, sizeof what, &err)) {
        fprintf(stderr, "unigfn report: %s\n", err.msg);
        rc = 1;
    } else {
        printf("wrote %s: %s\n", o.path, what);
    }
    ug_store_close(st);
    return rc;
}

int cli_report(cli_env *env, int argc, char **argv) {
    static const char *const kinds[] = {"table", "curves", "samples", "html"};
    if (argc >= 1 && strcmp(argv[0], "table") == 0) return report_table(env, argc - 1, argv + 1);
    if (argc >= 1 && strcmp(argv[0], "curves") == 0) return report_curves(env, argc - 1, argv + 1);
    if (argc >= 1 && strcmp(argv[0], "samples") == 0) return report_samples(env, argc - 1, argv + 1);
    if (argc >= 1 && strcmp(argv[0], "html") == 0) return cli_report_html(env, argc - 1, argv + 1);
    if (argc >= 1 && (strcmp(argv[0], "-h") == 0 || strcmp(argv[0], "--help") == 0)) {
        fputs(REPORT_USAGE, stdout);
        return 0;
    }
    if (argc == 0) return cli_usage_error("report", REPORT_USAGE, "which report? (table, curves, samples or html)");
    char shown[160];
    ug_shown(argv[0], SIZE_MAX, shown, sizeof shown);
    if (argv[0][0] == '-') return cli_usage_error("report", REPORT_USAGE, "unknown option '%s'", shown);
    const char *near = ug_closest_name(argv[0], kinds, 4);
    if (near) return cli_usage_error("report", REPORT_USAGE, "unknown report '%s' (did you mean '%s'?)", shown, near);
    return cli_usage_error("report", REPORT_USAGE, "unknown report '%s' (table, curves, samples or html)", shown);
}
