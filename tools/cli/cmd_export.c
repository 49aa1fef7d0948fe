/* cmd_export.c — `unigfn export RUN...|--where K=V ... [--metric M ...] [--format csv|jsonl]`: metric
 * time series as plain rows for other tools (pandas, R, a spreadsheet). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "unigfn/host/report_data.h"
#include "unigfn/host/runner.h"
#include "unigfn/host/util.h"

#define MAX_SEL 64

static void export_usage(FILE *f) {
    fprintf(f,
            "usage: unigfn export RUN ... | --where K=V ... [--metric M ...] [--params K[,K]] [--finished]\n"
            "                    [--format csv|jsonl] [-o FILE]\n"
            "  one row per logged value: run, experiment, the --params columns, metric, step, value, wall\n"
            "  (unix seconds). Every metric of each run unless --metric is given. Non-finite values are\n"
            "  written as nan/inf/-inf in CSV and as \"value\": null with \"flag\" in JSONL.\n");
}

static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p == '\n') fputs("\\n", f);
        else if (*p == '\t') fputs("\\t", f);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

typedef struct exp_ctx {
    FILE *f;
    bool jsonl;
    const ug_rd_run *run;
    const char *metric;
    const char **params;
    int n_params;
    int64_t rows;
} exp_ctx;

static int put_point(void *user, int64_t step, double v, double wall) {
    exp_ctx *c = user;
    FILE *f = c->f;
    const char *flag = isnan(v) ? "nan" : isinf(v) ? (v > 0 ? "inf" : "-inf") : NULL;
    if (c->jsonl) {
        fputs("{\"run\": ", f);
        json_str(f, c->run->id);
        fputs(", \"experiment\": ", f);
        json_str(f, c->run->experiment);
        for (int i = 0; i < c->n_params; i++) {
            fputs(", ", f);
            json_str(f, c->params[i]);
            fputs(": ", f);
            const char *pv = ug_rd_get(c->run, c->params[i]);
            if (pv) json_str(f, pv);
            else fputs("null", f);
        }
        fputs(", \"metric\": ", f);
        json_str(f, c->metric);
        fprintf(f, ", \"step\": %lld, \"value\": ", (long long)step);
        if (flag) fprintf(f, "null, \"flag\": \"%s\"", flag);
        else fprintf(f, "%.17g", v);
        fprintf(f, ", \"wall\": %.6f}\n", wall);
    } else {
        ug_csv_field(f, c->run->id);
        fputc(',', f);
        ug_csv_field(f, c->run->experiment);
        for (int i = 0; i < c->n_params; i++) {
            fputc(',', f);
            const char *pv = ug_rd_get(c->run, c->params[i]);
            ug_csv_field(f, pv ? pv : "");
        }
        fputc(',', f);
        ug_csv_field(f, c->metric);
        if (flag) fprintf(f, ",%lld,%s,%.6f\n", (long long)step, flag, wall);
        else fprintf(f, ",%lld,%.17g,%.6f\n", (long long)step, v, wall);
    }
    c->rows++;
    return 0;
}

typedef struct keys_ctx {
    char **k;
    int n, cap;
} keys_ctx;

static int collect_key(void *user, const ug_metric_summary *m) {
    keys_ctx *c = user;
    if (c->n == c->cap) {
        int cap = c->cap ? 2 * c->cap : 32;
        char **k = realloc(c->k, (size_t)cap * sizeof *k);
        if (!k) return 1;
        c->k = k, c->cap = cap;
    }
    if (!(c->k[c->n] = strdup(m->key))) return 1;
    c->n++;
    return 0;
}

int cli_export(cli_env *env, int argc, char **argv) {
    const char *runs[MAX_SEL], *metrics[MAX_SEL], *outp = NULL, *params_s = NULL;
    int n_runs = 0, n_metrics = 0, n_where = 0, rc = 2;
    ug_rd_filter where[MAX_SEL];
    bool jsonl = false, finished = false;
    ug_error err = {0};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) { export_usage(stdout); rc = 0; goto bad; }
        if (strcmp(a, "--finished") == 0) { finished = true; continue; }
        if (a[0] != '-') {
            if (n_runs == MAX_SEL) { fprintf(stderr, "unigfn export: at most %d runs\n", MAX_SEL); goto bad; }
            runs[n_runs++] = a;
            continue;
        }
        if (!v) { fprintf(stderr, "unigfn export: '%s' needs a value or is unknown\n", a); goto bad; }
        i++;
        if (strcmp(a, "--where") == 0) {
            if (n_where == MAX_SEL || ug_rd_filter_parse(v, &where[n_where], &err)) {
                fprintf(stderr, "unigfn export: %s\n", err.code ? err.msg : "too many --where");
                goto bad;
            }
            n_where++;
        } else if (strcmp(a, "--metric") == 0 && n_metrics < MAX_SEL) metrics[n_metrics++] = v;
        else if (strcmp(a, "--params") == 0) params_s = v;
        else if (strcmp(a, "-o") == 0) outp = v;
        else if (strcmp(a, "--format") == 0) {
            if (strcmp(v, "jsonl") == 0) jsonl = true;
            else if (strcmp(v, "csv") == 0) jsonl = false;
            else { fprintf(stderr, "unigfn export: --format csv|jsonl\n"); goto bad; }
        } else { fprintf(stderr, "unigfn export: unknown option '%s'\n", a); goto bad; }
    }
    if (n_runs == 0 && n_where == 0) { export_usage(stderr); goto bad; }
    char *pcopy = params_s ? strdup(params_s) : NULL;
    const char *params[MAX_SEL];
    int n_params = 0;
    for (char *save = NULL, *k = pcopy ? strtok_r(pcopy, ",", &save) : NULL; k && n_params < MAX_SEL;
         k = strtok_r(NULL, ",", &save))
        params[n_params++] = k;
    ug_store *st = cli_open_store(env, UG_STORE_READ);
    ug_rd_set sel = {0};
    FILE *f = NULL;
    rc = 1;
    if (!st) goto out;
    if (ug_rd_select(st, NULL, where, n_where, finished, &sel, &err)) { fprintf(stderr, "unigfn export: %s\n", err.msg); goto out; }
    /* named runs: keep those (in the order given) */
    if (n_runs) {
        int k = 0;
        char ids[MAX_SEL][64];
        for (int r = 0; r < n_runs; r++)
            if (ug_find_run(st, runs[r], ids[r], sizeof ids[r], &err)) { fprintf(stderr, "unigfn export: %s\n", err.msg); goto out; }
        for (int i = 0; i < sel.n; i++) {
            bool want = false;
            for (int r = 0; r < n_runs && !want; r++) want = strcmp(sel.runs[i].id, ids[r]) == 0;
            if (want) sel.runs[k++] = sel.runs[i];
            else ug_rd_run_free(&sel.runs[i]);
        }
        sel.n = k;
    }
    if (sel.n == 0) { fprintf(stderr, "unigfn export: no run matches\n"); goto out; }
    /* a --metric no selected run logged is a mistake (a misspelling), not an empty export */
    if (n_metrics) {
        cli_names ns = {.n = 0};
        cli_metric_names(st, &sel, &ns);
        int missing = -1;
        for (int m = 0; m < n_metrics && missing < 0; m++)
            if (!cli_names_has(&ns, metrics[m])) missing = m;
        if (missing >= 0) cli_unknown_name("export", "no selected run logged metric", metrics[missing], &ns);
        cli_names_free(&ns);
        if (missing >= 0) goto out;
    }
    f = outp ? fopen(outp, "w") : stdout;
    if (!f) { perror(outp); goto out; }
    if (!jsonl) {
        fputs("run,experiment", f);
        for (int i = 0; i < n_params; i++) { fputc(',', f); ug_csv_field(f, params[i]); }
        fputs(",metric,step,value,wall\n", f);
    }
    exp_ctx c = {.f = f, .jsonl = jsonl, .params = params, .n_params = n_params};
    for (int i = 0; i < sel.n; i++) {
        c.run = &sel.runs[i];
        keys_ctx kc = {0};
        const char *const *keys = metrics;
        int nk = n_metrics;
        if (!n_metrics) {
            if (ug_store_last_metrics(st, c.run->id, collect_key, &kc, &err)) { fprintf(stderr, "unigfn export: %s\n", err.msg); goto out; }
            keys = (const char *const *)kc.k;
            nk = kc.n;
        }
        for (int m = 0; m < nk; m++) {
            c.metric = keys[m];
            if (ug_store_metric_series(st, c.run->id, keys[m], put_point, &c, &err)) {
                fprintf(stderr, "unigfn export: %s\n", err.msg);
                break;
            }
        }
        for (int m = 0; m < kc.n; m++) free(kc.k[m]);
        free(kc.k);
        if (err.code) goto out;
    }
    FILE *written = f;
    f = NULL;
    if (cli_close_output("export", written, outp)) goto out;
    rc = 0;
    if (outp) fprintf(stderr, "unigfn: wrote %lld rows of %d run%s to %s\n", (long long)c.rows, sel.n, sel.n == 1 ? "" : "s", outp);
out:
    if (f && f != stdout) fclose(f);  /* after an error; the written path is checked above */
    ug_rd_set_free(&sel);
    ug_store_close(st);
    free(pcopy);
bad:
    for (int i = 0; i < n_where; i++) ug_rd_filter_free(&where[i]);
    return rc;
}
