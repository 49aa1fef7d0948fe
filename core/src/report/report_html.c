/* report_html.c — the static web report: the store's runs as one JSON document inside OUT/index.html,
 * with the page's style and script (report_html_assets, from html/report.css and html/report.js) inline,
 * and each run's pictures copied into OUT/img/. The page draws its tables and curves itself, so the
 * report opens from disk with no server and no network. */
#include "unigfn/host/report_html.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "report/report_html_assets.h"
#include "unigfn/host/run_lookup.h"
#include "unigfn/host/runner.h"
#include "unigfn/host/util.h"

/* ---- JSON ---- */

/* Length of the well-formed UTF-8 sequence at s, or 0 (a stray, overlong or surrogate byte). */
static int utf8_len(const unsigned char *s) {
    unsigned c = s[0];
    int n = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 0;
    if (c >= 0xF5 || n == 0) return 0;
    for (int i = 1; i < n; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    if (n == 3 && c == 0xE0 && s[1] < 0xA0) return 0;
    if (n == 3 && c == 0xED && s[1] >= 0xA0) return 0;
    if (n == 4 && c == 0xF0 && s[1] < 0x90) return 0;
    if (n == 4 && c == 0xF4 && s[1] >= 0x90) return 0;
    return n;
}

/* A JSON string that is also safe inside <script>: '<' as \u003c (no "</script>" can close it), control
 * characters escaped, bytes of broken UTF-8 (a database can hold any) as U+FFFD. */
static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p;) {
        unsigned c = *p;
        if (c == '"' || c == '\\') { fputc('\\', f); fputc((int)c, f); p++; }
        else if (c == '\n') { fputs("\\n", f); p++; }
        else if (c == '\t') { fputs("\\t", f); p++; }
        else if (c < 0x20 || c == 0x7F || c == '<' || c == '>' || c == '&') { fprintf(f, "\\u%04x", c); p++; }
        else if (c < 0x80) { fputc((int)c, f); p++; }
        else {
            int n = utf8_len(p);
            if (n) { fwrite(p, 1, (size_t)n, f); p += n; }
            else { fputs("\\ufffd", f); p++; }
        }
    }
    fputc('"', f);
}

static void json_num(FILE *f, double v) {
    if (isfinite(v)) fprintf(f, "%.9g", v);
    else fputs("null", f);   /* JSON has no NaN or inf; the page shows null as "—" */
}

static void html_text(FILE *f, const char *s) {
    for (; s && *s; s++) {
        if (*s == '<') fputs("&lt;", f);
        else if (*s == '>') fputs("&gt;", f);
        else if (*s == '&') fputs("&amp;", f);
        else if (*s == '"') fputs("&quot;", f);
        else fputc(*s, f);
    }
}

/* ---- the runs ---- */

typedef struct point { int64_t step; double v; } point;
typedef struct series { point *p; int64_t n, cap; bool oom; } series;

static int add_point(void *user, int64_t step, double value, double wall) {
    (void)wall;
    series *s = user;
    if (s->n == s->cap) {
        int64_t cap = s->cap ? 2 * s->cap : 256;
        point *np = realloc(s->p, (size_t)cap * sizeof *np);
        if (!np) { s->oom = true; return 1; }
        s->p = np, s->cap = cap;
    }
    s->p[s->n++] = (point){step, value};
    return 0;
}

typedef struct keys { char **k; double *last; int64_t *n_values; int n, cap; bool oom; } keys;

static int add_key(void *user, const ug_metric_summary *m) {
    keys *k = user;
    if (k->n == k->cap) {
        int cap = k->cap ? 2 * k->cap : 16;
        char **nk = realloc(k->k, (size_t)cap * sizeof *nk);
        if (nk) k->k = nk;
        double *nl = realloc(k->last, (size_t)cap * sizeof *nl);
        if (nl) k->last = nl;
        int64_t *nn = realloc(k->n_values, (size_t)cap * sizeof *nn);
        if (nn) k->n_values = nn;
        if (!nk || !nl || !nn) { k->oom = true; return 1; }
        k->cap = cap;
    }
    if (!(k->k[k->n] = strdup(m->key))) { k->oom = true; return 1; }
    k->last[k->n] = m->last;
    k->n_values[k->n++] = m->n;
    return 0;
}

static void keys_free(keys *k) {
    for (int i = 0; i < k->n; i++) free(k->k[i]);
    free(k->k);
    free(k->last);
    free(k->n_values);
}

/* A picture of a run into OUT/img/: found where it was written, else in the run's folder beside the
 * database (a database moved or merged with its runs/). */
typedef struct pictures {
    const char *out_dir, *db_path, *id;
    FILE *f, *info;
    int n;
    bool io_error;
} pictures;

static int copy_file(const char *from, const char *to) {
    FILE *a = fopen(from, "rb");
    if (!a) return -1;
    FILE *b = fopen(to, "wb");
    if (!b) { fclose(a); return -1; }
    char buf[65536];
    size_t n;
    int rc = 0;
    while ((n = fread(buf, 1, sizeof buf, a)) > 0)
        if (fwrite(buf, 1, n, b) != n) { rc = -1; break; }
    if (ferror(a)) rc = -1;
    fclose(a);
    if (fclose(b)) rc = -1;
    return rc;
}

static int add_picture(void *user, const ug_artifact_row *a) {
    pictures *P = user;
    const char *ext = strrchr(a->path, '.');
    if (!ext || (strcmp(ext, ".png") != 0 && strcmp(ext, ".svg") != 0)) return 0;
    const char *base = strrchr(a->path, '/');
    base = base ? base + 1 : a->path;
    char src[2048], dst[2048], rel[1200], folder[1024];
    struct stat sb;
    snprintf(src, sizeof src, "%s", a->path);
    if (stat(src, &sb) != 0) {
        ug_run_folder(P->db_path, P->id, folder, sizeof folder);
        snprintf(src, sizeof src, "%s/%s", folder, base);
    }
    snprintf(rel, sizeof rel, "img/%s-%s", P->id, base);
    snprintf(dst, sizeof dst, "%s/%s", P->out_dir, rel);
    if (stat(src, &sb) != 0 || copy_file(src, dst) != 0) {
        if (P->info) fprintf(P->info, "note: run %s: picture %s not found (left out)\n", P->id, a->path);
        return 0;
    }
    fputs(P->n++ ? "," : "", P->f);
    fputs("{\"src\":", P->f);
    json_str(P->f, rel);
    fputs(",\"step\":", P->f);
    fprintf(P->f, "%lld", (long long)a->step);
    fputs(",\"name\":", P->f);
    json_str(P->f, base);
    fputc('}', P->f);
    return 0;
}

/* What the run was computed from (plugins' path, version, SHA-256; --init-from's checkpoint). */
typedef struct prov_ctx { FILE *f; int n; } prov_ctx;

static int add_prov(void *user, const ug_provenance *p) {
    prov_ctx *c = user;
    fputs(c->n++ ? ",{\"kind\":" : "{\"kind\":", c->f);
    json_str(c->f, p->kind);
    const char *more[][2] = {{"name", p->name}, {"path", p->path}, {"version", p->version}, {"sha256", p->sha256}};
    for (size_t i = 0; i < sizeof more / sizeof more[0]; i++) {
        fprintf(c->f, ",\"%s\":", more[i][0]);
        if (more[i][1]) json_str(c->f, more[i][1]); else fputs("null", c->f);
    }
    fputc('}', c->f);
    return 0;
}

/* One run's object: row, params, last metrics, thinned series, provenance, pictures. */
static ug_status write_run(FILE *f, ug_store *st, const ug_rd_run *r, const char *out_dir, const ug_html_opts *o,
                           FILE *info, ug_error *err) {
    ug_run_record *rec = NULL;
    if (ug_store_get_run(st, r->id, &rec, err)) return err->code;
    keys k = {0};
    ug_status s = ug_store_last_metrics(st, r->id, add_key, &k, err);
    if (!s && k.oom) s = ug_error_set(err, UG_ERR_NOMEM, "report html: out of memory");
    if (s) { keys_free(&k); ug_run_record_free(rec); return s; }
    fputs("{\"id\":", f);
    json_str(f, r->id);
    fputs(",\"experiment\":", f);
    json_str(f, r->experiment);
    fprintf(f, ",\"status\":\"%s\",\"step\":%lld", ug_run_status_name(r->status), (long long)r->step);
    fputs(",\"created\":", f);
    json_num(f, rec->created);
    double end = rec->ended > 0 ? rec->ended : rec->heartbeat;
    fputs(",\"duration\":", f);
    json_num(f, rec->started > 0 && end >= rec->started ? end - rec->started : NAN);
    fputs(",\"error\":", f);
    if (rec->error) json_str(f, rec->error); else fputs("null", f);
    const char *more[][2] = {{"git_rev", rec->git_rev}, {"host", rec->host}, {"build", rec->build}, {"blas", rec->blas}};
    for (size_t i = 0; i < sizeof more / sizeof more[0]; i++) {
        fprintf(f, ",\"%s\":", more[i][0]);
        if (more[i][1]) json_str(f, more[i][1]); else fputs("null", f);
    }
    fputs(",\"params\":{", f);
    for (int i = 0; i < r->n_params; i++) {
        fputs(i ? "," : "", f);
        json_str(f, r->keys[i]);
        fputc(':', f);
        json_str(f, r->values[i]);
    }
    fputs("},\"last\":{", f);
    for (int i = 0; i < k.n; i++) {
        fputs(i ? "," : "", f);
        json_str(f, k.k[i]);
        fputc(':', f);
        json_num(f, k.last[i]);
    }
    fputs("},\"series\":{", f);
    int max_points = o->max_points > 0 ? o->max_points : 400;
    for (int i = 0; i < k.n && !s; i++) {
        series se = {0};
        s = ug_store_metric_series(st, r->id, k.k[i], add_point, &se, err);
        if (!s && se.oom) s = ug_error_set(err, UG_ERR_NOMEM, "report html: out of memory");
        if (!s) {
            fputs(i ? "," : "", f);
            json_str(f, k.k[i]);
            fputs(":[", f);
            /* evenly thinned: the i-th of max_points picks point floor(i (n-1) / (max_points-1)), so the
             * first and last are always there */
            int64_t m = se.n <= max_points ? se.n : max_points, prev = -1;
            for (int64_t j = 0; j < m; j++) {
                int64_t at = m == 1 ? se.n - 1 : (int64_t)((double)j * (double)(se.n - 1) / (double)(m - 1));
                if (at == prev) continue;
                fprintf(f, "%s[%lld,", prev >= 0 ? "," : "", (long long)se.p[at].step);
                json_num(f, se.p[at].v);
                fputc(']', f);
                prev = at;
            }
            fputc(']', f);
        }
        free(se.p);
    }
    if (!s) {
        fputs("},\"provenance\":[", f);
        prov_ctx pc = {f, 0};
        s = ug_store_provenance(st, r->id, add_prov, &pc, err);
        fputs("]", f);
    }
    if (!s) {
        fputs(",\"pictures\":[", f);
        pictures P = {out_dir, o->db_path, r->id, f, info, 0, false};
        s = ug_store_artifacts(st, r->id, add_picture, &P, err);
        fputs("]}", f);
    }
    keys_free(&k);
    ug_run_record_free(rec);
    return s;
}

/* ---- the page ---- */

static void write_tables(FILE *f, const ug_html_opts *o, FILE *info, ug_status *s, ug_error *err) {
    for (int t = 0; t < o->n_tables && !*s; t++) {
        const ug_html_table *T = &o->tables[t];
        ug_table_obs_set os;
        if ((*s = ug_table_obs_from_runs(T->runs, &T->spec, &os, err))) return;
        fputs("<div class=\"table-block\">\n", f);
        if (os.n == 0) {
            fputs("<p class=\"empty\">no FINISHED run logged ", f);
            html_text(f, T->spec.metric);
            fputs("</p>\n", f);
            if (info) fprintf(info, "note: table %d: no selected FINISHED run logged '%s'\n", t + 1, T->spec.metric);
        } else {
            *s = ug_table_write(f, &T->spec, os.obs, os.n, err);
        }
        fputs("</div>\n", f);
        ug_table_obs_set_free(&os);
    }
}

ug_status ug_report_html(ug_store *st, const ug_rd_set *runs, const char *out_dir, const ug_html_opts *o, FILE *info,
                         ug_error *err) {
    char img[2048], path[2048], tmp[2100];
    snprintf(img, sizeof img, "%s/img", out_dir);
    if (ug_mkdir_p(img) != 0)
        return ug_error_set(err, UG_ERR_IO, "report html: cannot create %s: %s", img, strerror(errno));
    snprintf(path, sizeof path, "%s/index.html", out_dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return ug_error_set(err, UG_ERR_IO, "report html: cannot write %s: %s", tmp, strerror(errno));

    char title[1200];
    if (o->title) snprintf(title, sizeof title, "%s", o->title);
    else snprintf(title, sizeof title, "unigfn report: %s", o->db_path ? o->db_path : "results.db");
    ug_build_version v = ug_build_version_get();
    time_t now = time(NULL);
    char when[64];
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", gmtime(&now));

    fputs("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>", f);
    html_text(f, title);
    fputs("</title>\n<style>\n", f);
    fputs(ug_report_css, f);
    fputs("</style>\n</head>\n<body>\n<header>\n<h1>", f);
    html_text(f, title);
    fputs("</h1>\n<p class=\"meta\">", f);
    fprintf(f, "%d runs · database ", runs->n);
    html_text(f, o->db_path ? o->db_path : "results.db");
    fprintf(f, " · written %s by unigfn %s (%s)</p>\n</header>\n", when, v.version, v.git_rev);

    ug_status s = UG_OK;
    if (o->n_tables > 0) {
        fputs("<section id=\"tables\">\n<h2>Ablation tables</h2>\n", f);
        write_tables(f, o, info, &s, err);
        fputs("</section>\n", f);
    }
    fputs("<section id=\"runs\">\n<h2>Runs</h2>\n"
          "<div class=\"controls\"><input id=\"filter\" type=\"search\" placeholder=\"filter: text, or key=value\" "
          "aria-label=\"filter runs\"> <span id=\"count\"></span></div>\n"
          "<div class=\"scroll\"><table id=\"runs-table\"></table></div>\n</section>\n"
          "<section id=\"curves\">\n<h2>Curves</h2>\n<div class=\"controls\"><label>metric <select id=\"metric\">"
          "</select></label> <label><input id=\"logy\" type=\"checkbox\"> log y</label> "
          "<span class=\"hint\">the runs ticked in the table (all shown, up to 12, when none is)</span></div>\n"
          "<div id=\"chart\"></div>\n</section>\n"
          "<section id=\"detail\">\n<h2>Run <span id=\"detail-id\"></span></h2>\n<div id=\"detail-body\">"
          "<p class=\"hint\">click a run's id in the table</p></div>\n</section>\n"
          "<noscript><p>This report draws its tables and curves with JavaScript.</p></noscript>\n"
          "<script type=\"application/json\" id=\"ug-data\">\n{\"title\":", f);
    json_str(f, title);
    fputs(",\"runs\":[", f);
    for (int i = 0; i < runs->n && !s; i++) {
        if (i) fputs(",\n", f);
        s = write_run(f, st, &runs->runs[i], out_dir, o, info, err);
    }
    fputs("]}\n</script>\n<script>\n", f);
    fputs(ug_report_js, f);
    fputs("</script>\n</body>\n</html>\n", f);
    if (ferror(f) && !s) s = ug_error_set(err, UG_ERR_IO, "report html: write error on %s", tmp);
    if (fclose(f) && !s) s = ug_error_set(err, UG_ERR_IO, "report html: write error on %s: %s", tmp, strerror(errno));
    if (!s && rename(tmp, path) != 0)
        s = ug_error_set(err, UG_ERR_IO, "report html: cannot rename %s to %s: %s", tmp, path, strerror(errno));
    if (s) remove(tmp);
    return s;
}
