/* cmd_export.c — `unigfn export RUN...|--where K=V ... [--metric M ...] [--format csv|jsonl]`: metric
 * time series as plain rows for other tools (pandas, R, a spreadsheet). */
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "unigfn/host/report_data.h"
#include "unigfn/host/runner.h"
#include "unigfn/host/util.h"

#define MAX_SEL 64

static const char EXPORT_USAGE[] =
    "usage: unigfn export RUN ... | --where K=V ... [--metric M ...] [--params K[,K]] [--finished]\n"
    "                    [--format csv|jsonl] [-o FILE]\n"
    "  one row per logged value: run, experiment, the --params columns, metric, step, value, wall\n"
    "  (unix seconds). Every metric of each run unless --metric is given. Non-finite values are\n"
    "  written as nan/inf/-inf in CSV and as \"value\": null with \"flag\" in JSONL.\n"
    "  Exit 1 when a RUN is not in the database or no selected run logged a --metric (the closest\n"
    "  names are given).\n"
    "examples:\n"
    "  unigfn export RUN --format jsonl -o RUN.jsonl\n"
    "  unigfn export --where 'seed=0|1' --metric loss --params seed,model.pf_var\n";

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
    enum { O_WHERE = 256, O_METRIC, O_PARAMS, O_FORMAT, O_FINISHED };
    static const struct option opts[] = {{"where", required_argument, NULL, O_WHERE},
                                         {"metric", required_argument, NULL, O_METRIC},
                                         {"params", required_argument, NULL, O_PARAMS},
                                         {"format", required_argument, NULL, O_FORMAT},
                                         {"finished", no_argument, NULL, O_FINISHED},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    for (int c; (c = cli_getopt(argc, argv, ":ho:", opts)) != -1;) {
        const char *v = optarg;
        switch (c) {
        case 'h': fputs(EXPORT_USAGE, stdout); rc = 0; goto bad;
        case O_FINISHED: finished = true; break;
        case O_WHERE:
            if (n_where == MAX_SEL) { fprintf(stderr, "unigfn export: at most %d --where\n", MAX_SEL); goto bad; }
            if (ug_rd_filter_parse(v, &where[n_where], &err)) { fprintf(stderr, "unigfn export: %s\n", err.msg); goto bad; }
            n_where++;
            break;
        case O_METRIC:
            if (n_metrics == MAX_SEL) { fprintf(stderr, "unigfn export: at most %d --metric\n", MAX_SEL); goto bad; }
            metrics[n_metrics++] = v;
            break;
        case O_PARAMS: params_s = v; break;
        case 'o': outp = v; break;
        case O_FORMAT:
            if (strcmp(v, "jsonl") == 0) jsonl = true;
            else if (strcmp(v, "csv") == 0) jsonl = false;
            else {
                char shown[96];
                fprintf(stderr, "unigfn export: --format must be csv or jsonl, got '%s'\n", ug_shown(v, SIZE_MAX, shown, sizeof shown));
                goto bad;
            }
            break;
        default: rc = cli_bad_option("export", c, argv, EXPORT_USAGE); goto bad;
        }
    }
    char **ops = cli_operands(argc, argv, &n_runs);
    if (n_runs > MAX_SEL) { fprintf(stderr, "unigfn export: at most %d runs\n", MAX_SEL); goto bad; }
    for (int i = 0; i < n_runs; i++) runs[i] = ops[i];
    if (n_runs == 0 && n_where == 0) {
        rc = cli_usage_error("export", EXPORT_USAGE, "which runs? (RUN ... or --where K=V; `unigfn ls` lists them)");
        goto bad;
    }
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
            if (cli_find_run(st, "export", env->db_path, runs[r], ids[r], sizeof ids[r])) goto out;
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
