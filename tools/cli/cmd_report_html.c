/* cmd_report_html.c — `unigfn report html OUT/ [--where K=V ...] [--table ROWS:COLS:METRIC[:REDUCE] ...]`:
 * the static web report of the database (core/src/report/report_html.c writes it). cmd_report.c passes
 * the arguments after "html". */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "unigfn/host/report_html.h"

#define MAX_WHERE 32
#define MAX_TABLES 16
#define MAX_TABLE_KEYS 8

static const char HTML_USAGE[] =
    "usage: unigfn report html OUT [--where K=V ...] [--table ROWS:COLS:METRIC[:REDUCE] ...] [--finished]\n"
    "                              [--title T] [--points N]\n"
    "  writes OUT/index.html, a self-contained page (no server, no network; open it from disk), and\n"
    "  OUT/img/ with the runs' pictures: the runs table (click a header to sort, type text or\n"
    "  key=value to filter, tick runs to plot them), metric curves (mean ± std over seeds where runs\n"
    "  differ only in the seed; log y), each run's params, final metrics and pictures.\n"
    "  --where K=V     select runs as report table does (K=V, K!=V, K=V1|V2; repeatable)\n"
    "  --finished      FINISHED runs only (default: every run, failed ones with their error)\n"
    "  --table R:C:M   an ablation table as `report table --rows R --cols C --metric M` (R, C: keys\n"
    "                  joined by ','; REDUCE last|min|max, default last), over FINISHED runs; repeatable\n"
    "  --points N      at most N points a metric series (default 400; the first and last kept)\n"
    "examples:\n"
    "  unigfn report html report/ --table model.pf_var:seed:nll\n"
    "  unigfn report html report/ --where 'seed!=1' --finished --title 'first runs' --points 200\n";

typedef struct table_arg {
    char *copy;
    const char *rk[MAX_TABLE_KEYS], *ck[MAX_TABLE_KEYS];
    ug_rd_set runs;
} table_arg;

/* "a,b:c:metric[:reduce]" → the table spec; 0, or -1 with the reason printed. */
static int parse_table(const char *text, table_arg *ta, ug_table_spec *t) {
    memset(t, 0, sizeof *t);
    t->decimals = -1;
    ta->copy = strdup(text);
    if (!ta->copy) return -1;
    char *part[5] = {0};
    int n = 0;
    for (char *save = NULL, *p = strtok_r(ta->copy, ":", &save); p && n < 5; p = strtok_r(NULL, ":", &save)) part[n++] = p;
    if (n < 3 || n > 4) {
        fprintf(stderr, "unigfn report html: --table needs ROWS:COLS:METRIC[:REDUCE], got '%s'\n", text);
        return -1;
    }
    if (n == 4 && ug_reduce_parse(part[3], &t->reduce)) {
        fprintf(stderr, "unigfn report html: --table '%s': REDUCE must be last, min or max, got '%s'\n", text, part[3]);
        return -1;
    }
    for (int side = 0; side < 2; side++) {
        const char **keys = side ? ta->ck : ta->rk;
        int k = 0;
        for (char *save = NULL, *p = strtok_r(part[side], ",", &save); p; p = strtok_r(NULL, ",", &save)) {
            if (k == MAX_TABLE_KEYS) {
                fprintf(stderr, "unigfn report html: --table '%s': at most %d keys a side\n", text, MAX_TABLE_KEYS);
                return -1;
            }
            keys[k++] = p;
        }
        if (side) t->n_col_keys = k, t->col_keys = keys;
        else t->n_row_keys = k, t->row_keys = keys;
    }
    t->metric = part[2];
    t->best = t->reduce == UG_REDUCE_MAX ? UG_BEST_MAX : UG_BEST_MIN;
    t->format = UG_TABLE_HTML;
    return 0;
}

int cli_report_html(cli_env *env, int argc, char **argv) {
    static const struct option opts[] = {
        {"where", required_argument, 0, 'w'}, {"table", required_argument, 0, 't'},
        {"finished", no_argument, 0, 'f'},    {"title", required_argument, 0, 'T'},
        {"points", required_argument, 0, 'p'}, {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    ug_rd_filter where[MAX_WHERE];
    int n_where = 0, n_tables = 0, rc = 2;
    table_arg targ[MAX_TABLES];
    ug_html_table tables[MAX_TABLES];
    memset(targ, 0, sizeof targ);
    memset(tables, 0, sizeof tables);
    bool finished = false;
    ug_html_opts o = {.db_path = env->db_path};
    ug_error err = {0};
    ug_store *st = NULL;
    ug_rd_set sel = {0};
    int c;
    /* permuting: OUT may come before or after the options */
    while ((c = cli_getopt(argc, argv, ":h", opts)) != -1) {
        switch (c) {
        case 'h': fputs(HTML_USAGE, stdout); rc = 0; goto out;
        case 'f': finished = true; break;
        case 'T': o.title = optarg; break;
        case 'p': if (!cli_int_arg_i("report html", "--points", optarg, 2, 1000000, &o.max_points)) goto out; break;
        case 'w':
            if (n_where == MAX_WHERE) { fprintf(stderr, "unigfn report html: at most %d --where\n", MAX_WHERE); goto out; }
            if (ug_rd_filter_parse(optarg, &where[n_where], &err)) { fprintf(stderr, "unigfn report html: %s\n", err.msg); goto out; }
            n_where++;
            break;
        case 't':
            if (n_tables == MAX_TABLES) { fprintf(stderr, "unigfn report html: at most %d --table\n", MAX_TABLES); goto out; }
            if (parse_table(optarg, &targ[n_tables], &tables[n_tables].spec)) { free(targ[n_tables].copy); targ[n_tables].copy = NULL; goto out; }
            n_tables++;
            break;
        default: rc = cli_bad_option("report html", c, argv, HTML_USAGE); goto out;
        }
    }
    int n_ops;
    char **ops = cli_operands(argc, argv, &n_ops);
    if (n_ops == 0) { rc = cli_usage_error("report html", HTML_USAGE, "which folder? (unigfn report html OUT)"); goto out; }
    if (n_ops > 1) { rc = cli_extra_operand("report html", HTML_USAGE, "one folder OUT", ops[1]); goto out; }
    /* "report/" and "report" are one folder: no "report//index.html" in what is printed */
    char out_dir[4096];
    snprintf(out_dir, sizeof out_dir, "%s", ops[0]);
    for (size_t n = strlen(out_dir); n > 1 && out_dir[n - 1] == '/'; n--) out_dir[n - 1] = 0;
    rc = 1;
    if (!(st = cli_open_store(env, UG_STORE_READ))) goto out;
    if (ug_rd_select(st, NULL, where, n_where, finished, &sel, &err)) { fprintf(stderr, "unigfn report html: %s\n", err.msg); goto out; }
    if (sel.n == 0) { fprintf(stderr, "unigfn report html: no run matches\n"); goto out; }
    for (int i = 0; i < n_tables; i++) {
        if (ug_rd_select(st, tables[i].spec.metric, where, n_where, true, &targ[i].runs, &err)) {
            fprintf(stderr, "unigfn report html: %s\n", err.msg);
            goto out;
        }
        tables[i].runs = &targ[i].runs;
    }
    o.tables = tables, o.n_tables = n_tables;
    if (ug_report_html(st, &sel, out_dir, &o, stderr, &err)) { fprintf(stderr, "unigfn report html: %s\n", err.msg); goto out; }
    printf("wrote %s/index.html (%d run%s%s); open it in a browser, no server needed\n", out_dir, sel.n, sel.n == 1 ? "" : "s",
           n_tables ? ", with the tables" : "");
    rc = 0;
out:
    for (int i = 0; i < n_where; i++) ug_rd_filter_free(&where[i]);
    for (int i = 0; i < MAX_TABLES; i++) {
        free(targ[i].copy);
        ug_rd_set_free(&targ[i].runs);
    }
    ug_rd_set_free(&sel);
    ug_store_close(st);
    return rc;
}
