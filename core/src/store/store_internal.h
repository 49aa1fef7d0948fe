/* store_internal.h — the ug_store handle and the helpers the store's files share (private to store/).
 *
 * store_db.c defines these helpers (the connection, retried write transactions, statement and column
 * helpers); store_runs.c, store_metrics.c, store_query.c, store_prov.c and store_merge.c use them.
 * Every function that takes a ug_store expects its caller to hold s->mu. */
#ifndef UG_STORE_INTERNAL_H
#define UG_STORE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <sqlite3.h>
#include <stdint.h>

#include "unigfn/host/store.h"

struct ug_store {
    sqlite3 *db;
    char *path;
    pthread_mutex_t mu;
    uint64_t rng;               /* jitter for retry sleeps, so two processes do not retry in step */
    sqlite3_stmt *ins_metric;   /* hot path: prepared once (store_metrics.c); NULL when read-only */
    sqlite3_stmt *ups_summary;
    ug_store_mode mode;         /* UG_STORE_READ: every write is refused (ug__store_write_txn) */
    long version;               /* the schema version the file has (older ones only when read-only) */
    bool tidy_wal;              /* read-only, and no -wal/-shm was beside the file when it opened */
};

/* The first schema version with runs.note and the tags table: a database opened read-only may be older. */
#define UG__STORE_V_ANNOT 3
/* The first with runs.init_from and the provenance table. */
#define UG__STORE_V_PROV 4

/* Body return value meaning "failed, message already in the ug_error" (SQLite codes are >= 0). */
#define UG__STORE_APP_ERR (-1)

/* SQLITE_BUSY or SQLITE_LOCKED, extended codes included: the cases that are retried. */
static inline int ug__store_is_busy(int rc) {
    return rc >= 0 && ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED);
}

/* ---- Statements (store_db.c) ---- */
/* Records a SQLite failure (not for busy codes, which the caller retries). Returns rc. */
int ug__store_fail(ug_store *s, ug_error *e, int rc, const char *what);
/* Prepares sql into *st (NULL on failure). Returns a SQLite code. */
int ug__store_prep(ug_store *s, const char *sql, sqlite3_stmt **st, ug_error *e);
/* Steps a statement that returns no rows, then resets it (a live statement would block COMMIT). */
int ug__store_run_stmt(ug_store *s, sqlite3_stmt *st, ug_error *e, const char *what);
/* Binds t as text at i, or NULL when t is NULL. */
void ug__store_bind_text(sqlite3_stmt *st, int i, const char *t);
/* One-shot statement with up to 2 text binds (?1, ?2; skipped when NULL) and an optional int64 bind at
 * `ipos` (none when ipos <= 0). */
int ug__store_exec_bound(ug_store *s, const char *sql, const char *a, const char *b, int ipos, int64_t iv,
                         ug_error *e, const char *what);
/* Read-side step: retries a busy first step (nothing delivered yet, so it is safe to start over). */
int ug__store_step_read(ug_store *s, sqlite3_stmt *st, int delivered);

/* ---- Columns (store_db.c) ---- */
/* A metric value stored as value + flag: NaN/±inf rebuilt from the flag column. */
double ug__store_flagged_value(sqlite3_stmt *st, int vcol, int fcol);
double ug__store_col_time(sqlite3_stmt *st, int c);   /* 0 for NULL (an absent time) */
double ug__store_col_or_nan(sqlite3_stmt *st, int c); /* NaN for NULL */
char *ug__store_col_dup(sqlite3_stmt *st, int c);     /* strdup of the text, NULL for NULL (or no memory) */

/* ---- Write transactions (store_db.c) ---- */
/* A transaction body: returns SQLITE_OK, a SQLite code (busy → retry; other → failure recorded in e)
 * or UG__STORE_APP_ERR. */
typedef int (*ug__store_txn_body)(ug_store *s, void *ctx, ug_error *e);
/* Runs body inside BEGIN IMMEDIATE ... COMMIT, retrying the whole transaction on busy/locked. */
ug_status ug__store_write_txn(ug_store *s, ug__store_txn_body body, void *ctx, ug_error *err);

/* ---- Argument checks (store_db.c) ---- */
/* UG_ERR_ARG "<fn>: store is NULL" / "<fn>: empty run id", else UG_OK. */
ug_status ug__store_need(ug_store *s, const char *id, const char *fn, ug_error *err);

/* ---- Provenance (store_prov.c) ---- */
/* Replaces run id's provenance rows with the n rows of p; inside the caller's write transaction. */
int ug__store_put_provenance(ug_store *s, const char *id, const ug_provenance *p, int n, ug_error *e);

/* ---- Metric statements (store_metrics.c) ---- */
/* Prepares s->ins_metric and s->ups_summary, once per handle (ug_store_open); non-zero on failure (the
 * connection's error code and message say why). */
int ug__store_prepare_metrics(ug_store *s);

#endif
