/* cmd_diff.c — `unigfn diff RUN RUN`: what tells two runs apart. The spec keys whose values differ
 * (a key only one of them has included) and every metric's final value side by side with B - A, under
 * a short header naming both runs. Read-only: the database is opened UG_STORE_READ. */
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "unigfn/host/util.h"

#define W_VALUE 32  /* a value wider than this is cut with an ellipsis */
#define ABSENT "(absent)"

/* One table of rows of up to 4 cells, printed with aligned columns once every row is in. */
typedef struct table {
    char (*cell)[4][160];
    int n, cap, cols;
} table;

static void add_row(table *t, const char *a, const char *b, const char *c, const char *d) {
    if (t->n == t->cap) {
        int cap = t->cap ? 2 * t->cap : 32;
        void *v = realloc(t->cell, (size_t)cap * sizeof *t->cell);
        if (!v) return;  /* out of memory: the row is dropped (the command still says what it can) */
        t->cell = v, t->cap = cap;
    }
    const char *in[4] = {a, b, c, d};
    for (int k = 0; k < 4; k++) snprintf(t->cell[t->n][k], sizeof t->cell[t->n][k], "%s", in[k] ? in[k] : "");
    t->n++;
}

static void print_table(const table *t, const char *indent) {
    size_t w[4] = {0};
    for (int i = 0; i < t->n; i++)
        for (int k = 0; k < t->cols; k++)
            if (cli_width(t->cell[i][k]) > w[k]) w[k] = cli_width(t->cell[i][k]);
    for (int i = 0; i < t->n; i++) {
        ug_sbuf line = {0};
        ug_sbuf_put(&line, indent);
        for (int k = 0; k < t->cols; k++) {
            ug_sbuf_put(&line, t->cell[i][k]);
            for (size_t x = cli_width(t->cell[i][k]); k + 1 < t->cols && x < w[k] + 2; x++) ug_sbuf_put(&line, " ");
        }
        while (line.n > 0 && line.s[line.n - 1] == ' ') line.s[--line.n] = 0;
        printf("%s\n", line.s ? line.s : "");
        free(line.s);
    }
}

/* ---- final metrics: the summary rows of both runs, merged by key ---- */
typedef struct metric_val {
    char key[256];
    double last;
} metric_val;

typedef struct metric_list {
    metric_val *v;
    int n, cap;
} metric_list;

static int add_metric(void *user, const ug_metric_summary *m) {
    metric_list *l = user;
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 32;
        metric_val *v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v) return 1;
        l->v = v, l->cap = cap;
    }
    snprintf(l->v[l->n].key, sizeof l->v[l->n].key, "%s", m->key);
    l->v[l->n++].last = m->last;
    return 0;
}

static void fmt_value(double v, char *buf, size_t cap) { snprintf(buf, cap, "%.6g", v); }

static void header_rows(table *t, const ug_run_record *a, const ug_run_record *b) {
    const ug_run_record *r[2] = {a, b};
    char cells[2][6][160];
    for (int i = 0; i < 2; i++) {
        char tot[40] = "";
        for (int p = 0; p < r[i]->n_params; p++)
            if (strcmp(r[i]->param_keys[p], "train.steps") == 0 && r[i]->param_values[p])
                snprintf(tot, sizeof tot, "/%.30s", r[i]->param_values[p]);
        ug_shown_text(r[i]->id, SIZE_MAX, cells[i][0], sizeof cells[i][0]);
        cli_fit(r[i]->experiment, W_VALUE, cells[i][1], sizeof cells[i][1]);
        snprintf(cells[i][2], sizeof cells[i][2], "%s", ug_run_status_name(r[i]->status));
        snprintf(cells[i][3], sizeof cells[i][3], "%lld%s", (long long)r[i]->step, tot);
        double end = r[i]->ended > 0 ? r[i]->ended : r[i]->heartbeat;
        cli_fmt_duration(r[i]->started > 0 && end > 0 ? end - r[i]->started : NAN, cells[i][4], sizeof cells[i][4]);
        ug_sbuf tags = {0};
        for (int k = 0; k < r[i]->n_tags; k++) ug_sbuf_printf(&tags, "%s%s", k ? "," : "", r[i]->tags[k]);
        cli_fit(tags.s ? tags.s : "-", W_VALUE, cells[i][5], sizeof cells[i][5]);
        free(tags.s);
    }
    static const char *const names[6] = {"run", "experiment", "status", "steps", "duration", "tags"};
    add_row(t, "", "A", "B", NULL);
    for (int k = 0; k < 6; k++) {
        if (k == 5 && a->n_tags == 0 && b->n_tags == 0) continue;
        add_row(t, names[k], cells[0][k], cells[1][k], NULL);
    }
    if (a->note || b->note) {
        char na[160], nb[160];
        add_row(t, "note", cli_fit(a->note ? a->note : "-", W_VALUE, na, sizeof na),
                cli_fit(b->note ? b->note : "-", W_VALUE, nb, sizeof nb), NULL);
    }
}

/* The spec keys that differ: both runs' params are sorted by key, so one merge pass finds them. */
static int spec_rows(table *t, const ug_run_record *a, const ug_run_record *b, int *n_keys) {
    int i = 0, j = 0, n = 0;
    *n_keys = 0;
    char ks[256], va[160], vb[160];
    while (i < a->n_params || j < b->n_params) {
        int c = i >= a->n_params ? 1 : j >= b->n_params ? -1 : strcmp(a->param_keys[i], b->param_keys[j]);
        const char *k = c <= 0 ? a->param_keys[i] : b->param_keys[j];
        const char *x = c <= 0 ? a->param_values[i] : NULL, *y = c >= 0 ? b->param_values[j] : NULL;
        (*n_keys)++;
        bool differ = c != 0 || !(x == y || (x && y && strcmp(x, y) == 0));
        if (differ) {
            n++;
            add_row(t, ug_shown_text(k, SIZE_MAX, ks, sizeof ks), c <= 0 ? cli_fit(x ? x : "", W_VALUE, va, sizeof va) : ABSENT,
                    c >= 0 ? cli_fit(y ? y : "", W_VALUE, vb, sizeof vb) : ABSENT, NULL);
        }
        if (c <= 0) i++;
        if (c >= 0) j++;
    }
    return n;
}

static void metric_rows(table *t, const metric_list *a, const metric_list *b) {
    add_row(t, "metric", "A", "B", "B - A");
    int i = 0, j = 0;
    char ks[256], va[40], vb[40], d[40];
    while (i < a->n || j < b->n) {
        int c = i >= a->n ? 1 : j >= b->n ? -1 : strcmp(a->v[i].key, b->v[j].key);
        const char *k = c <= 0 ? a->v[i].key : b->v[j].key;
        if (c <= 0) fmt_value(a->v[i].last, va, sizeof va);
        if (c >= 0) fmt_value(b->v[j].last, vb, sizeof vb);
        if (c == 0) snprintf(d, sizeof d, "%+.6g", b->v[j].last - a->v[i].last);
        add_row(t, ug_shown_text(k, SIZE_MAX, ks, sizeof ks), c <= 0 ? va : ABSENT, c >= 0 ? vb : ABSENT,
                c == 0 ? d : c < 0 ? "(only in A)" : "(only in B)");
        if (c <= 0) i++;
        if (c >= 0) j++;
    }
}

int cli_diff(cli_env *env, int argc, char **argv) {
    static const char usage[] =
        "usage: unigfn diff RUN_A RUN_B\n"
        "  the spec keys whose values differ between two runs (a key only one has included) and the\n"
        "  final value of every metric side by side with B - A\n"
        "examples:\n"
        "  unigfn diff RUN_A RUN_B\n";
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int c;
    while ((c = cli_getopt(argc, argv, ":h", opts)) != -1) {
        if (c == 'h') { fputs(usage, stdout); return 0; }
        return cli_bad_option("diff", c, argv, usage);
    }
    int n_ops;
    char **run = cli_operands(argc, argv, &n_ops);
    if (n_ops != 2) return cli_usage_error("diff", usage, "needs two runs, got %d", n_ops);
    ug_store *st = cli_open_store(env, UG_STORE_READ);
    if (!st) return 1;
    char id[2][64];
    ug_run_record *r[2] = {NULL, NULL};
    metric_list m[2] = {{0}, {0}};
    ug_error err = {0};
    int rc = 0;
    for (int i = 0; i < 2 && rc == 0; i++) {
        if (cli_find_run(st, "diff", env->db_path, run[i], id[i], sizeof id[i])) rc = 1;
        else if (ug_store_get_run(st, id[i], &r[i], &err) || ug_store_last_metrics(st, id[i], add_metric, &m[i], &err)) {
            fprintf(stderr, "unigfn diff: %s\n", err.msg);
            rc = 1;
        }
    }
    if (rc == 0) {
        table t = {.cols = 3};
        header_rows(&t, r[0], r[1]);
        print_table(&t, "");
        t.n = 0;
        add_row(&t, "key", "A", "B", NULL);
        int n_keys = 0, n = spec_rows(&t, r[0], r[1], &n_keys);
        if (n == 0) {
            printf("\nspec: the same %d keys%s\n", n_keys, strcmp(id[0], id[1]) == 0 ? " (the same run)" : "");
        } else {
            printf("\nspec: %d of %d keys differ\n", n, n_keys);
            print_table(&t, "  ");
        }
        t.n = 0;
        t.cols = 4;
        if (m[0].n == 0 && m[1].n == 0) {
            printf("\nfinal metrics: none logged\n");
        } else {
            printf("\nfinal metrics (last value logged):\n");
            metric_rows(&t, &m[0], &m[1]);
            print_table(&t, "  ");
        }
        free(t.cell);
    }
    for (int i = 0; i < 2; i++) {
        ug_run_record_free(r[i]);
        free(m[i].v);
    }
    ug_store_close(st);
    return rc;
}
