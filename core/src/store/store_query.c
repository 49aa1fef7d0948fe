/* store_query.c — the read queries of the results store: list runs (with one metric's summary), a
 * metric's series, a run's metric summaries, its artifacts, and a whole run record with its params,
 * tags and note.
 * Reads take no write lock; a busy first step is retried (ug__store_step_read). */
#include "unigfn/host/store.h"

#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

#include "store/store_internal.h"

/* Shared loop of the callback queries: prepare, bind ?1/?2 as text, hand each row to `row`. */
/* `cb` points at the caller's function pointer (object and function pointers do not mix in C). */
typedef int (*row_fn)(sqlite3_stmt *st, const void *cb, void *user);

static ug_status query_rows(ug_store *s, const char *sql, const char *a, const char *b, row_fn row,
                            const void *cb, void *user, ug_error *err) {
    ug_error e = {UG_OK, ""};
    sqlite3_stmt *st;
    pthread_mutex_lock(&s->mu);
    int rc = ug__store_prep(s, sql, &st, &e);
    if (rc == SQLITE_OK) {
        ug__store_bind_text(st, 1, a);
        if (sqlite3_bind_parameter_count(st) >= 2) ug__store_bind_text(st, 2, b);
        int delivered = 0;
        while ((rc = ug__store_step_read(s, st, delivered)) == SQLITE_ROW) {
            delivered = 1;
            if (row(st, cb, user)) break;
        }
        if (rc == SQLITE_ROW || rc == SQLITE_DONE) rc = SQLITE_OK;
        else if (ug__store_is_busy(rc)) ug_error_set(&e, UG_ERR_STORE, "results db %s: query: still locked", s->path);
        else ug__store_fail(s, &e, rc, "query");
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&s->mu);
    return rc == SQLITE_OK ? UG_OK : ug_error_set(err, e.code, "%s", e.msg);
}

static int run_row(sqlite3_stmt *st, const void *cb, void *user) {
    ug_run_row r = {0};
    r.id = (const char *)sqlite3_column_text(st, 0);
    r.experiment = (const char *)sqlite3_column_text(st, 1);
    r.status = ug_run_status_from_name((const char *)sqlite3_column_text(st, 2));
    r.step = sqlite3_column_int64(st, 3);
    r.created = ug__store_col_time(st, 4);
    r.heartbeat = ug__store_col_time(st, 5);
    r.has_metric = sqlite3_column_type(st, 11) != SQLITE_NULL;
    r.metric_last = r.metric_min = r.metric_max = NAN;
    if (r.has_metric) {
        r.metric_last = ug__store_flagged_value(st, 6, 7);
        r.metric_last_step = sqlite3_column_int64(st, 8);
        r.metric_min = ug__store_col_or_nan(st, 9);
        r.metric_max = ug__store_col_or_nan(st, 10);
        r.metric_n = sqlite3_column_int64(st, 11);
    }
    return (*(const ug_run_row_fn *)cb)(user, &r);
}

ug_status ug_store_list_runs(ug_store *s, const char *experiment, const char *metric, ug_run_row_fn cb,
                             void *user, ug_error *err) {
    if (!s || !cb) return ug_error_set(err, UG_ERR_ARG, "ug_store_list_runs: store or callback is NULL");
    return query_rows(s,
        "SELECT r.id, r.experiment, r.status, r.step, r.created, r.heartbeat,"
        "       m.last, m.last_flag, m.last_step, m.min, m.max, m.n "
        "FROM runs r LEFT JOIN summary m ON m.run = r.id AND m.key = ?1 "
        "WHERE ?2 IS NULL OR r.experiment = ?2 ORDER BY r.created, r.id",
        metric, experiment, run_row, &cb, user, err);
}

static int point_row(sqlite3_stmt *st, const void *cb, void *user) {
    return (*(const ug_metric_point_fn *)cb)(user, sqlite3_column_int64(st, 0), ug__store_flagged_value(st, 1, 2),
                                    ug__store_col_time(st, 3));
}

ug_status ug_store_metric_series(ug_store *s, const char *id, const char *key, ug_metric_point_fn cb,
                                 void *user, ug_error *err) {
    ug_status st = ug__store_need(s, id, "ug_store_metric_series", err);
    if (st != UG_OK) return st;
    if (!key || !cb) return ug_error_set(err, UG_ERR_ARG, "ug_store_metric_series: key or callback is NULL");
    return query_rows(s, "SELECT step, value, flag, wall FROM metrics WHERE run = ?1 AND key = ?2 "
                         "ORDER BY step, rowid", id, key, point_row, &cb, user, err);
}

static int summary_row(sqlite3_stmt *st, const void *cb, void *user) {
    ug_metric_summary m;
    m.key = (const char *)sqlite3_column_text(st, 0);
    m.last = ug__store_flagged_value(st, 1, 2);
    m.last_step = sqlite3_column_int64(st, 3);
    m.min = ug__store_col_or_nan(st, 4);
    m.max = ug__store_col_or_nan(st, 5);
    m.n = sqlite3_column_int64(st, 6);
    return (*(const ug_metric_summary_fn *)cb)(user, &m);
}

ug_status ug_store_last_metrics(ug_store *s, const char *id, ug_metric_summary_fn cb, void *user,
                                ug_error *err) {
    ug_status st = ug__store_need(s, id, "ug_store_last_metrics", err);
    if (st != UG_OK) return st;
    if (!cb) return ug_error_set(err, UG_ERR_ARG, "ug_store_last_metrics: callback is NULL");
    return query_rows(s, "SELECT key, last, last_flag, last_step, min, max, n FROM summary "
                         "WHERE run = ?1 ORDER BY key", id, NULL, summary_row, &cb, user, err);
}

static int artifact_row(sqlite3_stmt *st, const void *cb, void *user) {
    ug_artifact_row a;
    a.path = (const char *)sqlite3_column_text(st, 0);
    a.kind = (const char *)sqlite3_column_text(st, 1);
    a.step = sqlite3_column_int64(st, 2);
    a.bytes = sqlite3_column_int64(st, 3);
    a.sha256 = (const char *)sqlite3_column_text(st, 4);
    return (*(const ug_artifact_fn *)cb)(user, &a);
}

ug_status ug_store_artifacts(ug_store *s, const char *id, ug_artifact_fn cb, void *user, ug_error *err) {
    ug_status st = ug__store_need(s, id, "ug_store_artifacts", err);
    if (st != UG_OK) return st;
    if (!cb) return ug_error_set(err, UG_ERR_ARG, "ug_store_artifacts: callback is NULL");
    return query_rows(s, "SELECT path, kind, step, bytes, sha256 FROM artifacts WHERE run = ?1 "
                         "ORDER BY step, rowid", id, NULL, artifact_row, &cb, user, err);
}

/* get_run: the run row, then its params appended to growing arrays. */
typedef struct get_ctx {
    ug_run_record *r;
    int cap, oom;
} get_ctx;

static int record_row(sqlite3_stmt *st, const void *cb, void *user) {
    (void)cb;
    get_ctx *g = user;
    ug_run_record *r = calloc(1, sizeof *r);
    if (!r) { g->oom = 1; return 1; }
    g->r = r;
    r->id = ug__store_col_dup(st, 0);
    r->experiment = ug__store_col_dup(st, 1);
    r->status = ug_run_status_from_name((const char *)sqlite3_column_text(st, 2));
    r->error = ug__store_col_dup(st, 3);
    r->spec = ug__store_col_dup(st, 4);
    r->created = ug__store_col_time(st, 5);
    r->started = ug__store_col_time(st, 6);
    r->ended = ug__store_col_time(st, 7);
    r->heartbeat = ug__store_col_time(st, 8);
    r->step = sqlite3_column_int64(st, 9);
    r->seed = sqlite3_column_int64(st, 10);
    r->git_rev = ug__store_col_dup(st, 11);
    r->host = ug__store_col_dup(st, 12);
    r->build = ug__store_col_dup(st, 13);
    r->threads = sqlite3_column_int(st, 14);
    r->blas = ug__store_col_dup(st, 15);
    r->note = ug__store_col_dup(st, 16);
    if (!r->id || !r->experiment || (!r->note && sqlite3_column_type(st, 16) != SQLITE_NULL)) g->oom = 1;
    r->init_from = ug__store_col_dup(st, 17);
    return 1;
}

static int param_row(sqlite3_stmt *st, const void *cb, void *user) {
    (void)cb;
    get_ctx *g = user;
    ug_run_record *r = g->r;
    if (r->n_params == g->cap) {
        int cap = g->cap ? 2 * g->cap : 16;
        char **k = realloc(r->param_keys, (size_t)cap * sizeof *k);
        if (k) r->param_keys = k;
        char **v = realloc(r->param_values, (size_t)cap * sizeof *v);
        if (v) r->param_values = v;
        if (!k || !v) { g->oom = 1; return 1; }
        g->cap = cap;
    }
    char *k = ug__store_col_dup(st, 0), *v = ug__store_col_dup(st, 1);
    if (!k || (!v && sqlite3_column_type(st, 1) != SQLITE_NULL)) {
        free(k);
        free(v);
        g->oom = 1;
        return 1;
    }
    r->param_keys[r->n_params] = k;
    r->param_values[r->n_params] = v;
    r->n_params++;
    return 0;
}

static int tag_row(sqlite3_stmt *st, const void *cb, void *user) {
    (void)cb;
    get_ctx *g = user;
    ug_run_record *r = g->r;
    char **t = realloc(r->tags, (size_t)(r->n_tags + 1) * sizeof *t);
    if (t) r->tags = t;
    char *tag = t ? ug__store_col_dup(st, 0) : NULL;
    if (!tag) { g->oom = 1; return 1; }
    r->tags[r->n_tags++] = tag;
    return 0;
}

ug_status ug_store_get_run(ug_store *s, const char *id, ug_run_record **out, ug_error *err) {
    ug_status st = ug__store_need(s, id, "ug_store_get_run", err);
    if (st != UG_OK) return st;
    if (!out) return ug_error_set(err, UG_ERR_ARG, "ug_store_get_run: out is NULL");
    *out = NULL;
    get_ctx g = {NULL, 0, 0};
    /* Both reads in one snapshot, so a concurrent restart cannot pair old columns with new params. */
    pthread_mutex_lock(&s->mu);
    /* Skipped when a transaction is already open (a nested call from a query callback). */
    int in_txn = sqlite3_get_autocommit(s->db) && sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK;
    /* An older database (schema 1: no runs.blas; before 3: no note, no tags; before 4: no init_from) is
     * read as it is when opened read-only: the columns it lacks read as NULL. */
    char sql[320];
    snprintf(sql, sizeof sql, "SELECT id, experiment, status, error, spec, created, started, ended, heartbeat, "
             "step, seed, git_rev, host, build, threads, %s, %s, %s FROM runs WHERE id = ?1",
             s->version >= 2 ? "blas" : "NULL", s->version >= UG__STORE_V_ANNOT ? "note" : "NULL",
             s->version >= UG__STORE_V_PROV ? "init_from" : "NULL");
    st = query_rows(s, sql, id, NULL, record_row, NULL, &g, err);
    if (st == UG_OK && g.r && !g.oom)
        st = query_rows(s, "SELECT key, value FROM params WHERE run = ?1 ORDER BY key", id, NULL,
                        param_row, NULL, &g, err);
    if (st == UG_OK && g.r && !g.oom && s->version >= UG__STORE_V_ANNOT)
        st = query_rows(s, "SELECT tag FROM tags WHERE run = ?1 ORDER BY tag", id, NULL, tag_row, NULL, &g, err);
    if (in_txn && sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL); /* never leave a read snapshot open */
    pthread_mutex_unlock(&s->mu);
    if (st == UG_OK && g.oom) st = ug_error_set(err, UG_ERR_NOMEM, "ug_store_get_run: out of memory");
    if (st == UG_OK && !g.r) st = ug_error_set(err, UG_ERR_STORE, "no run %s in %s", id, s->path);
    if (st != UG_OK) {
        ug_run_record_free(g.r);
        return st;
    }
    *out = g.r;
    return UG_OK;
}

void ug_run_record_free(ug_run_record *r) {
    if (!r) return;
    for (int i = 0; i < r->n_params; i++) {
        free(r->param_keys[i]);
        free(r->param_values[i]);
    }
    free(r->param_keys);
    free(r->param_values);
    free(r->id);
    free(r->experiment);
    free(r->error);
    free(r->spec);
    free(r->git_rev);
    free(r->host);
    free(r->build);
    free(r->blas);
    free(r->note);
    for (int i = 0; i < r->n_tags; i++) free(r->tags[i]);
    free(r->tags);
    free(r->init_from);
    free(r);
}
