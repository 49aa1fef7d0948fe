/* test_merge.c — merging results-database shards (ug_store_merge, `unigfn db merge`): runs, params,
 * metric rows (non-finite ones too), summaries and artifacts arrive intact; a run already present is
 * replaced only by a copy further along or newer; merging again changes nothing; bad shards are refused.
 * (A shard of schema version 1, before runs.blas, is merged in test_store.c's upgrade test.) */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mkdtemp, nftw */
#endif
#include <ftw.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "unigfn/host/store.h"

static char g_dir[64];

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

/* A run with params, `loss` at steps 1..n (one NaN at step 3), `nll` at the end and one artifact. */
static void make_run(ug_store *st, const char *id, const char *model, int seed, int n, double offset,
                     ug_run_status end, ug_error *err) {
    char seed_s[16];
    snprintf(seed_s, sizeof seed_s, "%d", seed);
    const char *keys[] = {"model", "objective", "seed"};
    const char *vals[] = {model, "tb", seed_s};
    char blas[96];
    snprintf(blas, sizeof blas, "OpenBLAS 0.3.21 SkylakeX threads=%d cpu=avx512", seed + 1);
    ug_run_info info = {.id = id, .experiment = "merge-test", .spec = "name: merge-test\n", .param_keys = keys,
                        .param_values = vals, .n_params = 3, .seed = seed, .host = "h", .blas = blas};
    if (end == UG_RUN_QUEUED) {
        CHECK(ug_store_run_queue(st, &info, err) == UG_OK, "%s", err->msg);
        return;
    }
    ug_begin_outcome oc;
    CHECK(ug_store_run_begin(st, &info, &oc, err) == UG_OK, "%s", err->msg);
    for (int s = 1; s <= n; s++)
        CHECK(ug_store_metric(st, id, "loss", s, s == 3 ? NAN : offset + 1.0 / s, err) == UG_OK, "%s", err->msg);
    CHECK(ug_store_metric(st, id, "nll", n, offset + 0.5, err) == UG_OK, "%s", err->msg);
    char art[160];
    snprintf(art, sizeof art, "%s/%s.txt", g_dir, id);
    FILE *f = fopen(art, "w");
    if (f) {
        fprintf(f, "artifact of %s\n", id);
        fclose(f);
    }
    CHECK(ug_store_artifact(st, id, art, "txt", n, err) == UG_OK, "%s", err->msg);
    if (end != UG_RUN_RUNNING) CHECK(ug_store_run_end(st, id, end, end == UG_RUN_FAILED ? "boom" : NULL, n, err) == UG_OK, "%s", err->msg);
}

/* ---- a text dump of everything a database holds, through the public queries ---- */
typedef struct dump {
    char *s;
    size_t n, cap;
    ug_store *st;
} dump;

static void put(dump *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(dump *d, const char *fmt, ...) {
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (k < 0) return;
    if (d->n + (size_t)k + 1 > d->cap) {
        d->cap = (d->n + (size_t)k + 1) * 2;
        d->s = realloc(d->s, d->cap);
    }
    memcpy(d->s + d->n, tmp, (size_t)k + 1);
    d->n += (size_t)k;
}

static int dump_point(void *u, int64_t step, double v, double wall) {
    put(u, "    %lld %.17g %.6f\n", (long long)step, v, wall);
    return 0;
}
static const char *g_run;
static int dump_metric(void *u, const ug_metric_summary *m) {
    dump *d = u;
    put(d, "  metric %s last %.17g@%lld min %.17g max %.17g n %lld\n", m->key, m->last, (long long)m->last_step, m->min,
        m->max, (long long)m->n);
    ug_error e = {0};
    ug_store_metric_series(d->st, g_run, m->key, dump_point, d, &e);
    return 0;
}
static int dump_art(void *u, const ug_artifact_row *a) {
    put(u, "  artifact %s %s %lld %lld %s\n", a->path, a->kind, (long long)a->step, (long long)a->bytes, a->sha256);
    return 0;
}
static int dump_run(void *u, const ug_run_row *r) {
    dump *d = u;
    ug_run_record *rec = NULL;
    ug_error e = {0};
    if (ug_store_get_run(d->st, r->id, &rec, &e)) return 1;
    put(d, "run %s %s %s step %lld err %s created %.6f ended %.6f blas %s\n", rec->id, rec->experiment,
        ug_run_status_name(rec->status), (long long)rec->step, rec->error ? rec->error : "-", rec->created, rec->ended,
        rec->blas ? rec->blas : "-");
    for (int i = 0; i < rec->n_params; i++) put(d, "  param %s=%s\n", rec->param_keys[i], rec->param_values[i]);
    g_run = r->id;
    ug_store_last_metrics(d->st, r->id, dump_metric, d, &e);
    ug_store_artifacts(d->st, r->id, dump_art, d, &e);
    ug_run_record_free(rec);
    return 0;
}

static char *dump_db(const char *path) {
    ug_store *st = NULL;
    ug_error e = {0};
    if (ug_store_open(path, &st, &e)) return strdup(e.msg);
    dump d = {.st = st};
    put(&d, "%s", "");
    ug_store_list_runs(st, NULL, NULL, dump_run, &d, &e);
    ug_store_close(st);
    return d.s;
}

/* The dump of one run's section (from "run ID" to the next "run "). */
static char *run_section(const char *all, const char *id) {
    char head[64];
    snprintf(head, sizeof head, "run %s ", id);
    const char *a = strstr(all, head);
    if (!a) return strdup("");
    const char *b = strstr(a + 1, "\nrun ");
    size_t n = b ? (size_t)(b - a + 1) : strlen(a);
    char *s = malloc(n + 1);
    memcpy(s, a, n);
    s[n] = 0;
    return s;
}

static int count_points(void *u, int64_t s, double v, double w) {
    (void)s, (void)v, (void)w;
    (*(int *)u)++;
    return 0;
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/ug-test-merge-XXXXXX");
    if (!mkdtemp(g_dir)) return 1;
    char a[128], b[128], c[128], out[128], junk[128];
    snprintf(a, sizeof a, "%s/a.db", g_dir);
    snprintf(b, sizeof b, "%s/b.db", g_dir);
    snprintf(c, sizeof c, "%s/c.db", g_dir);
    snprintf(out, sizeof out, "%s/out.db", g_dir);
    snprintf(junk, sizeof junk, "%s/junk.db", g_dir);
    ug_error err = {0};
    ug_store *sa = NULL, *sb = NULL, *sc = NULL, *so = NULL;
    CHECK(ug_store_open(a, &sa, &err) == UG_OK && ug_store_open(b, &sb, &err) == UG_OK &&
              ug_store_open(c, &sc, &err) == UG_OK && ug_store_open(out, &so, &err) == UG_OK,
          "%s", err.msg);
    make_run(so, "o1", "binary_gfn", 0, 10, 3.0, UG_RUN_FINISHED, &err);
    make_run(sa, "a1", "binary_gfn", 1, 40, 1.0, UG_RUN_FINISHED, &err);
    make_run(sa, "a2", "tiny_binary", 2, 20, 2.0, UG_RUN_FAILED, &err);
    make_run(sb, "b1", "tiny_binary", 3, 30, 4.0, UG_RUN_FINISHED, &err);
    make_run(sb, "a2", "tiny_binary", 2, 25, 2.5, UG_RUN_FINISHED, &err);   /* the re-run that worked */
    make_run(sb, "a1", "binary_gfn", 1, 0, 0.0, UG_RUN_QUEUED, &err);       /* never started there */
    usleep(20000);
    make_run(sc, "b1", "tiny_binary", 3, 35, 5.0, UG_RUN_FINISHED, &err);   /* a later forced re-run */
    ug_store_close(sa);
    ug_store_close(sb);
    ug_store_close(sc);
    char *da = dump_db(a), *db = dump_db(b), *dc = dump_db(c), *d0 = dump_db(out);

    ug_merge_stats ms;
    CHECK(ug_store_merge(so, a, &ms, &err) == UG_OK, "%s", err.msg);
    CHECK(ms.runs_added == 2 && ms.runs_replaced == 0 && ms.runs_kept == 0 && ms.metric_rows == 40 + 1 + 20 + 1,
          "merge a: %d %d %d %lld", ms.runs_added, ms.runs_replaced, ms.runs_kept, (long long)ms.metric_rows);
    CHECK(ug_store_merge(so, b, &ms, &err) == UG_OK, "%s", err.msg);
    CHECK(ms.runs_added == 1 && ms.runs_replaced == 1 && ms.runs_kept == 1, "merge b: %d %d %d", ms.runs_added,
          ms.runs_replaced, ms.runs_kept);
    ug_store_close(so);
    so = NULL;
    char *d1 = dump_db(out);
    /* every run arrives exactly as its source holds it (times, params, NaN rows, summary, artifacts) */
    const char *expect[][2] = {{"o1", d0}, {"a1", da}, {"a2", db}, {"b1", db}};
    for (int i = 0; i < 4; i++) {
        char *x = run_section(d1, expect[i][0]), *y = run_section(expect[i][1], expect[i][0]);
        CHECK(*x && strcmp(x, y) == 0, "run %s differs after merge:\n%s---\n%s", expect[i][0], x, y);
        free(x);
        free(y);
    }
    CHECK(strstr(d1, "run a2 merge-test FINISHED step 25") != NULL, "a2 FAILED replaced by FINISHED");
    CHECK(strstr(d1, "    3 nan ") != NULL, "the NaN row survives");
    CHECK(strstr(d1, "run a1 merge-test FINISHED step 40 err - created") && strstr(d1, "blas OpenBLAS 0.3.21 SkylakeX threads=2 cpu=avx512\n"),
          "the BLAS column travels:\n%s", d1);
    ug_store *chk = NULL;
    ug_store_open(out, &chk, &err);
    int pts = 0;
    ug_store_metric_series(chk, "a1", "loss", count_points, &pts, &err);
    CHECK(pts == 40, "a1 loss rows %d", pts);
    ug_store_close(chk);

    /* merging both again changes nothing */
    CHECK(ug_store_open(out, &so, &err) == UG_OK, "%s", err.msg);
    CHECK(ug_store_merge(so, a, &ms, &err) == UG_OK && ms.runs_added == 0 && ms.runs_replaced == 0 && ms.runs_kept == 2 &&
              ms.metric_rows == 0,
          "re-merge a: %d %d %d", ms.runs_added, ms.runs_replaced, ms.runs_kept);
    CHECK(ug_store_merge(so, b, &ms, &err) == UG_OK && ms.runs_added == 0 && ms.runs_replaced == 0 && ms.runs_kept == 3,
          "re-merge b: %d %d %d", ms.runs_added, ms.runs_replaced, ms.runs_kept);
    ug_store_close(so);
    so = NULL;
    char *d2 = dump_db(out);
    CHECK(strcmp(d1, d2) == 0, "a second merge changed the database");

    /* a newer FINISHED copy (same rank, ended later) replaces; merging it twice is again a no-op */
    CHECK(ug_store_open(out, &so, &err) == UG_OK, "%s", err.msg);
    CHECK(ug_store_merge(so, c, &ms, &err) == UG_OK && ms.runs_replaced == 1, "merge c: %d", ms.runs_replaced);
    CHECK(ug_store_merge(so, c, &ms, &err) == UG_OK && ms.runs_replaced == 0 && ms.runs_kept == 1, "re-merge c");
    /* refused: the output itself, a missing file, a file that is not a database; nothing changes */
    ug_error e1 = {0}, e2 = {0}, e3 = {0};
    CHECK(ug_store_merge(so, out, &ms, &e1) != UG_OK && strstr(e1.msg, "itself"), "self: %s", e1.msg);
    CHECK(ug_store_merge(so, junk, &ms, &e2) != UG_OK && strstr(e2.msg, "junk.db"), "missing: %s", e2.msg);
    CHECK(access(junk, F_OK) != 0, "a missing shard must not be created");
    FILE *f = fopen(junk, "w");
    if (f) {
        fputs("this is not a database, but it is long enough to look like a file header............\n", f);
        fclose(f);
    }
    CHECK(ug_store_merge(so, junk, &ms, &e3) != UG_OK, "junk accepted");
    ug_store_close(so);
    char *d3 = dump_db(out);
    char *x = run_section(d3, "b1"), *y = run_section(dc, "b1");
    CHECK(strcmp(x, y) == 0, "b1 is the newer copy");
    free(x);
    free(y);

    /* the CLI: a fresh OUT from the three shards, then the same again */
    const char *root = getenv("UG_BUILD_ROOT");
    if (root) {
        char cmd[1024], line[512], all[4096] = "";
        snprintf(cmd, sizeof cmd, "%s/unigfn db merge %s/cli.db %s %s %s 2>&1 && %s/unigfn db merge %s/cli.db %s %s %s 2>&1",
                 root, g_dir, a, b, c, root, g_dir, a, b, c);
        FILE *p = popen(cmd, "r");
        while (p && fgets(line, sizeof line, p)) strncat(all, line, sizeof all - strlen(all) - 1);
        int rc = p ? pclose(p) : -1;
        CHECK(rc == 0, "db merge exit %d:\n%s", rc, all);
        CHECK(strstr(all, "total: 3 added, 2 replaced, 1 unchanged") != NULL, "first merge:\n%s", all);
        CHECK(strstr(all, "total: 0 added, 0 replaced, 6 unchanged; 0 metric rows") != NULL, "second merge:\n%s", all);
    }
    free(da), free(db), free(dc), free(d0), free(d1), free(d2), free(d3);
    nftw(g_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return CHECK_DONE();
}
