/* report_table.c — building and writing an ablation table (see report_table.h for the layout). */
#include "unigfn/host/report_table.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "unigfn/host/report_data.h"
#include "report/report_stats.h"
#include "unigfn/host/util.h"

int ug_reduce_parse(const char *s, ug_reduce *out) {
    if (strcmp(s, "last") == 0) *out = UG_REDUCE_LAST;
    else if (strcmp(s, "min") == 0) *out = UG_REDUCE_MIN;
    else if (strcmp(s, "max") == 0) *out = UG_REDUCE_MAX;
    else return -1;
    return 0;
}
int ug_spread_parse(const char *s, ug_spread *out) {
    if (strcmp(s, "mean_std") == 0 || strcmp(s, "std") == 0) *out = UG_SPREAD_STD;
    else if (strcmp(s, "sem") == 0) *out = UG_SPREAD_SEM;
    else if (strcmp(s, "ci95") == 0) *out = UG_SPREAD_CI95;
    else return -1;
    return 0;
}
int ug_best_parse(const char *s, ug_best *out) {
    if (strcmp(s, "min") == 0) *out = UG_BEST_MIN;
    else if (strcmp(s, "max") == 0) *out = UG_BEST_MAX;
    else if (strcmp(s, "none") == 0) *out = UG_BEST_NONE;
    else return -1;
    return 0;
}
int ug_table_format_parse(const char *s, ug_table_format *out) {
    if (strcmp(s, "md") == 0 || strcmp(s, "markdown") == 0) *out = UG_TABLE_MD;
    else if (strcmp(s, "latex") == 0 || strcmp(s, "tex") == 0) *out = UG_TABLE_LATEX;
    else if (strcmp(s, "csv") == 0) *out = UG_TABLE_CSV;
    else if (strcmp(s, "html") == 0) *out = UG_TABLE_HTML;
    else return -1;
    return 0;
}

/* ---- labels ---- */
typedef struct labels {
    const char *const **tup;   /* unique tuples, each k strings */
    int n, k;
} labels;

static int tuple_cmp(const char *const *a, const char *const *b, int k) {
    for (int i = 0; i < k; i++) {
        int c = ug_rd_natural_cmp(a[i], b[i]);
        if (c) return c;
    }
    return 0;
}

static bool tuple_eq(const char *const *a, const char *const *b, int k) {
    for (int i = 0; i < k; i++)
        if (strcmp(a[i], b[i]) != 0) return false;
    return true;
}

static int find_label(const labels *l, const char *const *t) {
    for (int i = 0; i < l->n; i++)
        if (tuple_eq(l->tup[i], t, l->k)) return i;
    return -1;
}

/* Insertion sort: a table has tens of labels, and this keeps the key count out of global state. */
static void sort_labels(labels *l) {
    for (int i = 1; i < l->n; i++) {
        const char *const *t = l->tup[i];
        int j = i;
        for (; j > 0 && tuple_cmp(l->tup[j - 1], t, l->k) > 0; j--) l->tup[j] = l->tup[j - 1];
        l->tup[j] = t;
    }
}

/* Display width: UTF-8 code points (all our text is single-width). */
static int disp_width(const char *s) {
    int w = 0;
    for (; *s; s++) w += ((unsigned char)*s & 0xc0) != 0x80;
    return w;
}

static void escape_latex(ug_sbuf *b, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '_': case '&': case '%': case '$': case '#': case '{': case '}': {
            char t[3] = {'\\', *s, 0};
            ug_sbuf_put(b, t);
            break;
        }
        case '~': ug_sbuf_put(b, "\\textasciitilde{}"); break;
        case '^': ug_sbuf_put(b, "\\textasciicircum{}"); break;
        case '\\': ug_sbuf_put(b, "\\textbackslash{}"); break;
        default: {
            char t[2] = {*s, 0};
            ug_sbuf_put(b, t);
        }
        }
    }
}

static void escape_md(ug_sbuf *b, const char *s) {
    for (; *s; s++) {
        char t[2] = {*s, 0};
        if (*s == '|') ug_sbuf_put(b, "\\|");
        else ug_sbuf_put(b, t);
    }
}

/* Text inside an HTML element: the five characters that could end or open markup. */
static void escape_html(ug_sbuf *b, const char *s) {
    for (; *s; s++) {
        if (*s == '<') ug_sbuf_put(b, "&lt;");
        else if (*s == '>') ug_sbuf_put(b, "&gt;");
        else if (*s == '&') ug_sbuf_put(b, "&amp;");
        else if (*s == '"') ug_sbuf_put(b, "&quot;");
        else if (*s == '\'') ug_sbuf_put(b, "&#39;");
        else ug_sbuf_printf(b, "%c", *s);
    }
}

static void escape_for_file(FILE *f, const char *s) {
    ug_sbuf b = {0};
    escape_html(&b, s ? s : "value");
    if (b.s) fputs(b.s, f);
    free(b.s);
}

static void escape_for(ug_sbuf *b, const char *s, ug_table_format fmt) {
    if (fmt == UG_TABLE_LATEX) escape_latex(b, s);
    else if (fmt == UG_TABLE_HTML) escape_html(b, s);
    else escape_md(b, s);
}

static void join_label(ug_sbuf *b, const char *const *t, int k, ug_table_format fmt) {
    for (int i = 0; i < k; i++) {
        if (i) ug_sbuf_put(b, ", ");
        escape_for(b, t[i], fmt);
    }
}

/* decimals for 4 significant digits of v; -1 = scientific */
static int auto_decimals(double v) {
    double a = fabs(v);
    if (!isfinite(a) || a == 0) return 3;
    if (a < 1e-4 || a >= 1e6) return -1;
    int d = 3 - (int)floor(log10(a));
    return d < 0 ? 0 : d > 8 ? 8 : d;
}

static void fmt_num(char *buf, size_t cap, double v, int d) {
    if (isnan(v)) snprintf(buf, cap, "nan");
    else if (isinf(v)) snprintf(buf, cap, v > 0 ? "inf" : "-inf");
    else if (d < 0) snprintf(buf, cap, "%.3e", v);
    else snprintf(buf, cap, "%.*f", d, v);
}

static void fmt_full(char *buf, size_t cap, double v) {
    if (isnan(v)) snprintf(buf, cap, "nan");
    else if (isinf(v)) snprintf(buf, cap, v > 0 ? "inf" : "-inf");
    else snprintf(buf, cap, "%.10g", v);
}

static double spread_of(const ug_stats *s, ug_spread k) {
    return k == UG_SPREAD_SEM ? s->sem : k == UG_SPREAD_CI95 ? s->ci95 : s->std;
}

static const char *spread_name(ug_spread k) {
    return k == UG_SPREAD_SEM ? "standard error" : k == UG_SPREAD_CI95 ? "95% CI half-width (Student t)" : "std (n-1)";
}

/* The cell's text for md/latex; "" for a missing cell. */
static void cell_text(ug_sbuf *b, const ug_stats *s, const ug_table_spec *t, bool bold) {
    bool tex = t->format == UG_TABLE_LATEX;
    if (s->n == 0) {
        ug_sbuf_put(b, tex ? "---" : "\xe2\x80\x94");
        return;
    }
    int d = t->decimals >= 0 ? t->decimals : auto_decimals(s->mean);
    char m[64], sp[64];
    fmt_num(m, sizeof m, s->mean, d);
    bool html = t->format == UG_TABLE_HTML;
    if (bold) ug_sbuf_put(b, tex ? "\\textbf{" : html ? "<b>" : "**");
    ug_sbuf_put(b, m);
    if (s->n >= 2) {
        fmt_num(sp, sizeof sp, spread_of(s, t->spread), d);
        ug_sbuf_put(b, tex ? " $\\pm$ " : " \xc2\xb1 ");
        ug_sbuf_put(b, sp);
    }
    if (bold) ug_sbuf_put(b, tex ? "}" : html ? "</b>" : "**");
    ug_sbuf_printf(b, tex ? " {\\scriptsize (n=%d)}" : html ? " <small>(n=%d)</small>" : " (n=%d)", s->n);
}

static void caption(ug_sbuf *b, const ug_table_spec *t) {
    static const char *const red[] = {"last", "minimum", "maximum"};
    ug_sbuf_printf(b, "%s: %s value of each run; mean %s %s over the n runs of a cell", t->metric ? t->metric : "value",
              red[t->reduce], t->format == UG_TABLE_LATEX ? "$\\pm$" : "\xc2\xb1", spread_name(t->spread));
    if (t->best != UG_BEST_NONE)
        ug_sbuf_printf(b, "; bold: best (%s)%s", t->best == UG_BEST_MIN ? "lowest" : "highest",
                  t->scope == UG_BEST_ROW ? " in each row" : t->scope == UG_BEST_COL ? " in each column" : "");
    ug_sbuf_put(b, t->format == UG_TABLE_LATEX ? "; --- no run" : "; \xe2\x80\x94 no run");
}

ug_status ug_table_write(FILE *f, const ug_table_spec *t, const ug_table_obs *obs, int n_obs, ug_error *err) {
    if (t->n_row_keys < 1 || t->n_col_keys < 1) return ug_error_set(err, UG_ERR_ARG, "table: needs row and column keys");
    labels rows = {calloc((size_t)n_obs + 1, sizeof(char **)), 0, t->n_row_keys};
    labels cols = {calloc((size_t)n_obs + 1, sizeof(char **)), 0, t->n_col_keys};
    int *ri = calloc((size_t)n_obs + 1, sizeof(int)), *ci = calloc((size_t)n_obs + 1, sizeof(int));
    double *vals = calloc((size_t)n_obs + 1, sizeof(double));
    ug_stats *st = NULL;
    bool *best = NULL;
    ug_status status = UG_OK;
    ug_sbuf *txt = NULL;
    if (!rows.tup || !cols.tup || !ri || !ci || !vals) { status = ug_error_set(err, UG_ERR_NOMEM, "table: out of memory"); goto done; }
    for (int i = 0; i < n_obs; i++) {
        if (find_label(&rows, obs[i].row) < 0) rows.tup[rows.n++] = obs[i].row;
        if (find_label(&cols, obs[i].col) < 0) cols.tup[cols.n++] = obs[i].col;
    }
    sort_labels(&rows);
    sort_labels(&cols);
    int R = rows.n, C = cols.n;
    size_t nc = (size_t)R * (size_t)C;
    st = calloc(nc + 1, sizeof *st);
    best = calloc(nc + 1, sizeof *best);
    int *count = calloc(nc + 1, sizeof(int)), *start = calloc(nc + 2, sizeof(int));
    if (!st || !best || !count || !start) {
        free(count);
        free(start);
        status = ug_error_set(err, UG_ERR_NOMEM, "table: out of memory");
        goto done;
    }
    for (int i = 0; i < n_obs; i++) {
        ri[i] = find_label(&rows, obs[i].row);
        ci[i] = find_label(&cols, obs[i].col);
        count[(size_t)ri[i] * C + ci[i]]++;
    }
    for (size_t k = 0; k < nc; k++) start[k + 1] = start[k] + count[k];
    memset(count, 0, nc * sizeof(int));
    for (int i = 0; i < n_obs; i++) {
        size_t k = (size_t)ri[i] * C + ci[i];
        vals[start[k] + count[k]++] = obs[i].value;
    }
    for (size_t k = 0; k < nc; k++) ug_stats_compute(vals + start[k], count[k], &st[k]);
    free(count);
    free(start);

    /* best cells: finite means with at least one run, within the chosen scope; ties all win */
    if (t->best != UG_BEST_NONE) {
        int n_scopes = t->scope == UG_BEST_ROW ? R : t->scope == UG_BEST_COL ? C : 1;
        for (int g = 0; g < n_scopes; g++) {
            double b = NAN;
            for (int pass = 0; pass < 2; pass++)
                for (int r = 0; r < R; r++)
                    for (int c = 0; c < C; c++) {
                        if ((t->scope == UG_BEST_ROW && r != g) || (t->scope == UG_BEST_COL && c != g)) continue;
                        size_t k = (size_t)r * C + c;
                        double m = st[k].mean;
                        if (st[k].n == 0 || !isfinite(m)) continue;
                        if (pass == 0) {
                            if (isnan(b) || (t->best == UG_BEST_MIN ? m < b : m > b)) b = m;
                        } else if (m == b) {
                            best[k] = true;
                        }
                    }
        }
    }

    if (t->format == UG_TABLE_CSV) {
        for (int i = 0; i < t->n_row_keys; i++) { ug_csv_field(f, t->row_keys[i]); fputc(',', f); }
        for (int i = 0; i < t->n_col_keys; i++) { ug_csv_field(f, t->col_keys[i]); fputc(',', f); }
        fputs("n,mean,std,sem,ci95,best\n", f);
        for (int r = 0; r < R; r++)
            for (int c = 0; c < C; c++) {
                size_t k = (size_t)r * C + c;
                for (int i = 0; i < rows.k; i++) { ug_csv_field(f, rows.tup[r][i]); fputc(',', f); }
                for (int i = 0; i < cols.k; i++) { ug_csv_field(f, cols.tup[c][i]); fputc(',', f); }
                char a[64] = "", s1[64] = "", s2[64] = "", s3[64] = "";
                if (st[k].n >= 1) fmt_full(a, sizeof a, st[k].mean);
                if (st[k].n >= 2) {
                    fmt_full(s1, sizeof s1, st[k].std);
                    fmt_full(s2, sizeof s2, st[k].sem);
                    fmt_full(s3, sizeof s3, st[k].ci95);
                }
                fprintf(f, "%d,%s,%s,%s,%s,%d\n", st[k].n, a, s1, s2, s3, best[k] ? 1 : 0);
            }
        goto done;
    }

    /* md / latex: every cell's text first (md pads columns to equal width) */
    size_t ntxt = (size_t)(R + 1) * (size_t)(C + 1);
    txt = calloc(ntxt, sizeof *txt);
    if (!txt) { status = ug_error_set(err, UG_ERR_NOMEM, "table: out of memory"); goto done; }
    ug_sbuf *corner = &txt[0];
    join_label(corner, t->row_keys, t->n_row_keys, t->format);
    ug_sbuf_put(corner, " / ");
    join_label(corner, t->col_keys, t->n_col_keys, t->format);
    for (int c = 0; c < C; c++) join_label(&txt[c + 1], cols.tup[c], cols.k, t->format);
    for (int r = 0; r < R; r++) {
        join_label(&txt[(size_t)(r + 1) * (C + 1)], rows.tup[r], rows.k, t->format);
        for (int c = 0; c < C; c++)
            cell_text(&txt[(size_t)(r + 1) * (C + 1) + c + 1], &st[(size_t)r * C + c], t, best[(size_t)r * C + c]);
    }
    for (size_t k = 0; k < ntxt; k++)
        if (txt[k].oom) { status = ug_error_set(err, UG_ERR_NOMEM, "table: out of memory"); goto done; }
    ug_sbuf cap = {0};
    caption(&cap, t);
    if (t->format == UG_TABLE_HTML) {
        ug_sbuf ecap = {0};
        escape_html(&ecap, cap.s ? cap.s : "");
        fputs("<table class=\"ablation\">\n<caption>", f);
        escape_for_file(f, t->metric);
        fprintf(f, "</caption>\n");
        for (int r = 0; r <= R; r++) {
            fputs(r == 0 ? "<thead><tr>" : "<tr>", f);
            for (int c = 0; c <= C; c++) {
                const char *tag = r == 0 || c == 0 ? "th" : "td";
                fprintf(f, "<%s>%s</%s>", tag, txt[(size_t)r * (C + 1) + c].s ? txt[(size_t)r * (C + 1) + c].s : "", tag);
            }
            fputs(r == 0 ? "</tr></thead><tbody>\n" : "</tr>\n", f);
        }
        fprintf(f, "</tbody>\n</table>\n<p class=\"caption\">%s</p>\n", ecap.s ? ecap.s : "");
        free(ecap.s);
    } else if (t->format == UG_TABLE_LATEX) {
        fprintf(f, "%% %s\n\\begin{tabular}{l", cap.s ? cap.s : "");
        for (int c = 0; c < C; c++) fputc('r', f);
        fputs("}\n\\hline\n", f);
        for (int r = 0; r <= R; r++) {
            for (int c = 0; c <= C; c++) fprintf(f, "%s%s", c ? " & " : "", txt[(size_t)r * (C + 1) + c].s);
            fputs(" \\\\\n", f);
            if (r == 0) fputs("\\hline\n", f);
        }
        fputs("\\hline\n\\end{tabular}\n", f);
    } else {
        int *w = calloc((size_t)C + 1, sizeof(int));
        if (!w) { free(cap.s); status = ug_error_set(err, UG_ERR_NOMEM, "table: out of memory"); goto done; }
        for (int r = 0; r <= R; r++)
            for (int c = 0; c <= C; c++) {
                int dw = disp_width(txt[(size_t)r * (C + 1) + c].s);
                if (dw > w[c]) w[c] = dw;
            }
        for (int r = 0; r <= R; r++) {
            for (int c = 0; c <= C; c++) {
                const char *s = txt[(size_t)r * (C + 1) + c].s;
                fprintf(f, "| %s%*s ", s, w[c] - disp_width(s), "");
            }
            fputs("|\n", f);
            if (r == 0) {
                for (int c = 0; c <= C; c++) {
                    fputs(c ? "|-" : "|:", f);
                    for (int k = 0; k < w[c]; k++) fputc('-', f);
                    fputs(c ? ":" : "-", f);
                }
                fputs("|\n", f);
            }
        }
        fprintf(f, "\n%s\n", cap.s ? cap.s : "");
        free(w);
    }
    free(cap.s);
done:
    if (txt) {
        size_t ntxt = (size_t)(rows.n + 1) * (size_t)(cols.n + 1);
        for (size_t k = 0; k < ntxt; k++) free(txt[k].s);
        free(txt);
    }
    free(rows.tup);
    free(cols.tup);
    free(ri);
    free(ci);
    free(vals);
    free(st);
    free(best);
    return status;
}

ug_status ug_table_obs_from_runs(const ug_rd_set *runs, const ug_table_spec *t, ug_table_obs_set *out, ug_error *err) {
    memset(out, 0, sizeof *out);
    int kk = t->n_row_keys + t->n_col_keys;
    out->obs = calloc((size_t)runs->n + 1, sizeof *out->obs);
    out->labels = calloc(((size_t)runs->n + 1) * (size_t)kk, sizeof *out->labels);
    if (!out->obs || !out->labels) {
        ug_table_obs_set_free(out);
        return ug_error_set(err, UG_ERR_NOMEM, "table: out of memory");
    }
    for (int i = 0; i < runs->n; i++) {
        const ug_rd_run *r = &runs->runs[i];
        if (!r->has_metric) { out->n_without++; continue; }
        const char **lab = out->labels + (size_t)out->n * kk;
        for (int k = 0; k < kk; k++) {
            const char *v = ug_rd_get(r, k < t->n_row_keys ? t->row_keys[k] : t->col_keys[k - t->n_row_keys]);
            lab[k] = v ? v : "-";
        }
        double v = t->reduce == UG_REDUCE_MIN ? r->min : t->reduce == UG_REDUCE_MAX ? r->max : r->last;
        out->obs[out->n++] = (ug_table_obs){lab, lab + t->n_row_keys, v};
    }
    return UG_OK;
}

void ug_table_obs_set_free(ug_table_obs_set *s) {
    free(s->obs);
    free(s->labels);
    memset(s, 0, sizeof *s);
}
