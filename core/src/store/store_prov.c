/* store_prov.c — a run's provenance rows (schema version 4): what it was computed from, written when
 * the run begins (store_runs.c calls ug__store_put_provenance inside its transaction, so a restart
 * replaces them with the row), updated by `resume` (the rows of the plugins it goes on with) and read
 * back for `show` and for the re-run check of provenance.h. */
#include "unigfn/host/store.h"

#include <pthread.h>
#include <sqlite3.h>
#include <string.h>

#include "store/store_internal.h"

/* INSERT OR REPLACE of n rows of run id. */
static int upsert_rows(ug_store *s, const char *id, const ug_provenance *p, int n, ug_error *e) {
    sqlite3_stmt *st;
    /* OR REPLACE: a plugin named twice (two terms of one objective) is one row */
    int rc = ug__store_prep(s, "INSERT OR REPLACE INTO provenance(run, kind, name, path, version, sha256) "
                           "VALUES(?1, ?2, ?3, ?4, ?5, ?6)", &st, e);
    if (rc != SQLITE_OK) return rc;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    for (int i = 0; i < n && rc == SQLITE_OK; i++) {
        if (!p[i].kind || !p[i].name) {
            ug_error_set(e, UG_ERR_ARG, "run %s: provenance row %d has no kind or name", id, i);
            rc = UG__STORE_APP_ERR;
            break;
        }
        ug__store_bind_text(st, 2, p[i].kind);
        ug__store_bind_text(st, 3, p[i].name);
        ug__store_bind_text(st, 4, p[i].path);
        ug__store_bind_text(st, 5, p[i].version);
        ug__store_bind_text(st, 6, p[i].sha256);
        rc = ug__store_run_stmt(s, st, e, "recording provenance");
    }
    sqlite3_finalize(st);
    return rc;
}

int ug__store_put_provenance(ug_store *s, const char *id, const ug_provenance *p, int n, ug_error *e) {
    int rc = ug__store_exec_bound(s, "DELETE FROM provenance WHERE run = ?1", id, NULL, 0, 0, e,
                                  "clearing provenance");
    return rc != SQLITE_OK || n <= 0 ? rc : upsert_rows(s, id, p, n, e);
}

typedef struct update_ctx {
    const char *id;
    const ug_provenance *p;
    int n;
} update_ctx;

static int update_body(ug_store *s, void *vctx, ug_error *e) {
    update_ctx *c = vctx;
    sqlite3_stmt *st;
    int rc = ug__store_prep(s, "SELECT 1 FROM runs WHERE id = ?1", &st, e);
    if (rc != SQLITE_OK) return rc;
    sqlite3_bind_text(st, 1, c->id, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE) {
        ug_error_set(e, UG_ERR_STORE, "recording provenance: no run %s in %s", c->id, s->path);
        return UG__STORE_APP_ERR;
    }
    if (rc != SQLITE_ROW) return ug__store_fail(s, e, rc, "reading run");
    return c->n > 0 ? upsert_rows(s, c->id, c->p, c->n, e) : SQLITE_OK;
}

ug_status ug_store_run_update_provenance(ug_store *s, const char *id, const ug_provenance *rows, int n,
                                         ug_error *err) {
    ug_status st = ug__store_need(s, id, "ug_store_run_update_provenance", err);
    if (st != UG_OK) return st;
    if (n < 0 || (n > 0 && !rows)) return ug_error_set(err, UG_ERR_ARG, "ug_store_run_update_provenance: %d rows", n);
    update_ctx c = {id, rows, n};
    pthread_mutex_lock(&s->mu);
    st = ug__store_write_txn(s, update_body, &c, err);
    pthread_mutex_unlock(&s->mu);
    return st;
}

ug_status ug_store_provenance(ug_store *s, const char *id, ug_provenance_fn cb, void *user, ug_error *err) {
    ug_status st = ug__store_need(s, id, "ug_store_provenance", err);
    if (st != UG_OK) return st;
    if (!cb) return ug_error_set(err, UG_ERR_ARG, "ug_store_provenance: callback is NULL");
    if (s->version < UG__STORE_V_PROV) return UG_OK; /* an older file opened read-only: no table, no rows */
    ug_error e = {UG_OK, ""};
    sqlite3_stmt *q;
    pthread_mutex_lock(&s->mu);
    int rc = ug__store_prep(s, "SELECT kind, name, path, version, sha256 FROM provenance WHERE run = ?1 "
                               "ORDER BY CASE kind WHEN 'dataset' THEN 0 WHEN 'model' THEN 1 WHEN 'objective' THEN 2 "
                               "WHEN 'metric' THEN 3 ELSE 4 END, kind, name", &q, &e);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
        int delivered = 0;
        while ((rc = ug__store_step_read(s, q, delivered)) == SQLITE_ROW) {
            delivered = 1;
            ug_provenance p = {(const char *)sqlite3_column_text(q, 0), (const char *)sqlite3_column_text(q, 1),
                               (const char *)sqlite3_column_text(q, 2), (const char *)sqlite3_column_text(q, 3),
                               (const char *)sqlite3_column_text(q, 4)};
            if (cb(user, &p)) break;
        }
        if (rc == SQLITE_ROW || rc == SQLITE_DONE) rc = SQLITE_OK;
        else if (ug__store_is_busy(rc)) ug_error_set(&e, UG_ERR_STORE, "results db %s: query: still locked", s->path);
        else ug__store_fail(s, &e, rc, "reading provenance");
        sqlite3_finalize(q);
    }
    pthread_mutex_unlock(&s->mu);
    return rc == SQLITE_OK ? UG_OK : ug_error_set(err, e.code, "%s", e.msg);
}
