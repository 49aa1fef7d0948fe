/* store.c — the results database on SQLite: schema, run lifecycle, metrics, summaries, queries.
 *
 * Concurrency model: many processes may open one file (a sweep with -j N). WAL lets readers run beside
 * one writer; every write is a short BEGIN IMMEDIATE transaction (the write lock is taken up front, so
 * a transaction never has to upgrade a read snapshot, which is the case busy_timeout cannot wait out).
 * SQLite's busy handler waits for the lock; the cases it returns at once (WAL recovery, a stale
 * snapshot, a concurrent journal-mode switch on a fresh file) are retried here with a bounded backoff. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* PTHREAD_MUTEX_RECURSIVE, nanosleep, clock_gettime */
#endif
#include "unigfn/host/store.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "unigfn/host/sha256.h"

/* Bounds for our own retries on top of busy_timeout (which already waits up to BUSY_TIMEOUT_MS). */
#define BUSY_TIMEOUT_MS 60000
#define RETRY_MAX 200
#define RETRY_WALL_S 120.0
/* Body return value meaning "failed, message already in the ug_error" (SQLite codes are >= 0). */
#define APP_ERR (-1)

struct ug_store {
    sqlite3 *db;
    char *path;
    pthread_mutex_t mu;
    uint64_t rng;               /* jitter for retry sleeps, so two processes do not retry in step */
    sqlite3_stmt *ins_metric;   /* hot path: prepared once */
    sqlite3_stmt *ups_summary;
};

static const char *const STATUS_NAMES[] = {"ABSENT", "QUEUED", "RUNNING", "FINISHED",
                                           "FAILED", "KILLED", "CRASHED"};

const char *ug_run_status_name(ug_run_status s)
{
    if ((int)s < 0 || (int)s > UG_RUN_CRASHED) return "ABSENT";
    return STATUS_NAMES[s];
}

ug_run_status ug_run_status_from_name(const char *name)
{
    if (!name) return UG_RUN_ABSENT;
    for (int i = UG_RUN_QUEUED; i <= UG_RUN_CRASHED; i++)
        if (strcmp(name, STATUS_NAMES[i]) == 0) return (ug_run_status)i;
    return UG_RUN_ABSENT;
}

/* ---------------------------------------------------------------- small helpers */

static double now_unix(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int is_busy(int rc)
{
    return rc >= 0 && ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED);
}

/* Exponential backoff, 1 ms .. 100 ms, with jitter. */
static void backoff(ug_store *s, int attempt)
{
    long ms = 1L << (attempt < 7 ? attempt : 7);
    if (ms > 100) ms = 100;
    s->rng ^= s->rng << 13; s->rng ^= s->rng >> 7; s->rng ^= s->rng << 17;
    long us = ms * 1000 + (long)(s->rng % (uint64_t)(ms * 1000));
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

/* Records a SQLite failure (not for busy codes, which the caller retries). Returns rc. */
static int db_fail(ug_store *s, ug_error *e, int rc, const char *what)
{
    if (!is_busy(rc))
        ug_error_set(e, UG_ERR_STORE, "results db %s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
    return rc;
}

static int prep(ug_store *s, const char *sql, sqlite3_stmt **st, ug_error *e)
{
    int rc = sqlite3_prepare_v2(s->db, sql, -1, st, NULL);
    if (rc != SQLITE_OK) {
        *st = NULL;
        return db_fail(s, e, rc, "prepare");
    }
    return SQLITE_OK;
}

/* Steps a statement that returns no rows, then resets it (a live statement would block COMMIT). */
static int run_stmt(ug_store *s, sqlite3_stmt *st, ug_error *e, const char *what)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE || rc == SQLITE_ROW) rc = SQLITE_OK;
    else db_fail(s, e, rc, what);
    sqlite3_reset(st);
    return rc;
}

static void bind_text(sqlite3_stmt *st, int i, const char *t)
{
    if (t) sqlite3_bind_text(st, i, t, -1, SQLITE_TRANSIENT);
    else sqlite3_bind_null(st, i);
}

/* One-shot statement with up to 3 text binds and an optional int64 bind at `ipos`. */
static int exec_bound(ug_store *s, const char *sql, const char *a, const char *b, int ipos, int64_t iv,
                      ug_error *e, const char *what)
{
    sqlite3_stmt *st;
    int rc = prep(s, sql, &st, e);
    if (rc != SQLITE_OK) return rc;
    if (a) sqlite3_bind_text(st, 1, a, -1, SQLITE_TRANSIENT);
    if (b) sqlite3_bind_text(st, 2, b, -1, SQLITE_TRANSIENT);
    if (ipos > 0) sqlite3_bind_int64(st, ipos, iv);
    rc = run_stmt(s, st, e, what);
    sqlite3_finalize(st);
    return rc;
}

/* Read-side step: retries a busy first step (nothing delivered yet, so it is safe to start over). */
static int step_read(ug_store *s, sqlite3_stmt *st, int delivered)
{
    double t0 = now_mono();
    for (int attempt = 0;; attempt++) {
        int rc = sqlite3_step(st);
        if (!is_busy(rc) || delivered || attempt >= RETRY_MAX || now_mono() - t0 > RETRY_WALL_S) return rc;
        sqlite3_reset(st);
        backoff(s, attempt);
    }
}

static double flagged_value(sqlite3_stmt *st, int vcol, int fcol)
{
    const char *f = (const char *)sqlite3_column_text(st, fcol);
    if (f) {
        if (strcmp(f, "inf") == 0) return INFINITY;
        if (strcmp(f, "-inf") == 0) return -INFINITY;
        return NAN;
    }
    if (sqlite3_column_type(st, vcol) == SQLITE_NULL) return NAN;
    return sqlite3_column_double(st, vcol);
}

static double col_time(sqlite3_stmt *st, int c)
{
    return sqlite3_column_type(st, c) == SQLITE_NULL ? 0.0 : sqlite3_column_double(st, c);
}

static double col_or_nan(sqlite3_stmt *st, int c)
{
    return sqlite3_column_type(st, c) == SQLITE_NULL ? NAN : sqlite3_column_double(st, c);
}

static char *col_dup(sqlite3_stmt *st, int c)
{
    const char *t = (const char *)sqlite3_column_text(st, c);
    return t ? strdup(t) : NULL;
}

/* ---------------------------------------------------------------- write transactions */

typedef int (*txn_body)(ug_store *s, void *ctx, ug_error *e);

/* Runs body inside BEGIN IMMEDIATE ... COMMIT, retrying the whole transaction on busy/locked.
 * body returns SQLITE_OK, a SQLite code (busy → retry; other → failure recorded in e) or APP_ERR. */
static ug_status write_txn(ug_store *s, txn_body body, void *ctx, ug_error *err)
{
    double t0 = now_mono();
    for (int attempt = 0;; attempt++) {
        ug_error e = {UG_OK, ""};
        int rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        if (rc == SQLITE_OK) {
            rc = body(s, ctx, &e);
            if (rc == SQLITE_OK) {
                rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
                if (rc != SQLITE_OK) db_fail(s, &e, rc, "commit");
            }
            if (rc != SQLITE_OK && !sqlite3_get_autocommit(s->db))
                sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        } else {
            db_fail(s, &e, rc, "begin transaction");
        }
        if (rc == SQLITE_OK) return UG_OK;
        if (is_busy(rc)) {
            if (attempt < RETRY_MAX && now_mono() - t0 < RETRY_WALL_S) {
                backoff(s, attempt);
                continue;
            }
            return ug_error_set(err, UG_ERR_STORE,
                                "results db %s: still locked after %d attempts over %.0f s: %s", s->path,
                                attempt + 1, now_mono() - t0, sqlite3_errstr(rc));
        }
        if (e.code == UG_OK) ug_error_set(&e, UG_ERR_STORE, "results db %s: error %d", s->path, rc);
        return ug_error_set(err, e.code, "%s", e.msg);
    }
}

/* ---------------------------------------------------------------- schema */

static const char SCHEMA_SQL[] =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);"
    "CREATE TABLE IF NOT EXISTS experiments(name TEXT PRIMARY KEY, created REAL);"
    "CREATE TABLE IF NOT EXISTS runs("
    "  id TEXT PRIMARY KEY,"
    "  experiment TEXT NOT NULL REFERENCES experiments(name),"
    "  status TEXT NOT NULL CHECK (status IN ('QUEUED','RUNNING','FINISHED','FAILED','KILLED','CRASHED')),"
    "  error TEXT, spec TEXT,"
    "  created REAL, started REAL, ended REAL, heartbeat REAL,"
    "  step INTEGER NOT NULL DEFAULT 0, seed INTEGER,"
    "  git_rev TEXT, host TEXT, build TEXT, threads INTEGER);"
    "CREATE INDEX IF NOT EXISTS runs_by_experiment ON runs(experiment, created);"
    "CREATE INDEX IF NOT EXISTS runs_by_status ON runs(status);"
    "CREATE TABLE IF NOT EXISTS params("
    "  run TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  key TEXT NOT NULL, value TEXT, PRIMARY KEY(run, key)) WITHOUT ROWID;"
    /* value is NULL for a non-finite value; flag says which (SQLite stores NaN as NULL). */
    "CREATE TABLE IF NOT EXISTS metrics("
    "  run TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  key TEXT NOT NULL, step INTEGER NOT NULL, value REAL,"
    "  flag TEXT CHECK (flag IS NULL OR flag IN ('nan','inf','-inf')), wall REAL);"
    "CREATE INDEX IF NOT EXISTS metrics_by_run_key_step ON metrics(run, key, step);"
    "CREATE TABLE IF NOT EXISTS summary("
    "  run TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  key TEXT NOT NULL, last REAL, last_flag TEXT, last_step INTEGER,"
    "  min REAL, max REAL, n INTEGER NOT NULL, PRIMARY KEY(run, key)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS artifacts("
    "  run TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  path TEXT NOT NULL, kind TEXT, step INTEGER, bytes INTEGER, sha256 TEXT);"
    "CREATE INDEX IF NOT EXISTS artifacts_by_run ON artifacts(run, step);";

/* Reads the schema state: *version = -1 if no meta table; 0 if meta lacks a usable version;
 * *n_tables = user tables present. */
static int read_schema_state(ug_store *s, long *version, int *n_tables, ug_error *e)
{
    sqlite3_stmt *st;
    int rc = prep(s, "SELECT count(*), sum(name = 'meta') FROM sqlite_master "
                     "WHERE type = 'table' AND name NOT LIKE 'sqlite_%'", &st, e);
    if (rc != SQLITE_OK) return rc;
    rc = step_read(s, st, 0);
    int has_meta = 0;
    if (rc == SQLITE_ROW) {
        *n_tables = sqlite3_column_int(st, 0);
        has_meta = sqlite3_column_int(st, 1) > 0;
        rc = SQLITE_OK;
    } else {
        db_fail(s, e, rc, "reading schema");
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_OK) return rc;
    *version = -1;
    if (!has_meta) return SQLITE_OK;
    *version = 0;
    rc = prep(s, "SELECT value FROM meta WHERE key = 'schema_version'", &st, e);
    if (rc != SQLITE_OK) return rc;
    rc = step_read(s, st, 0);
    if (rc == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(st, 0);
        char *end = NULL;
        long n = v ? strtol(v, &end, 10) : 0;
        *version = (v && end != v && *end == '\0' && n > 0) ? n : 0;
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        rc = SQLITE_OK;
    } else {
        db_fail(s, e, rc, "reading schema version");
    }
    sqlite3_finalize(st);
    return rc;
}

static int check_version(ug_store *s, long version, int n_tables, ug_error *e)
{
    if (version == -1 && n_tables > 0) {
        ug_error_set(e, UG_ERR_STORE, "%s is a SQLite database but not a unigfn results database "
                     "(it has tables but no meta table); refusing to modify it", s->path);
        return APP_ERR;
    }
    if (version == 0) {
        ug_error_set(e, UG_ERR_STORE, "results db %s: meta table has no valid schema_version", s->path);
        return APP_ERR;
    }
    if (version > UG_STORE_SCHEMA_VERSION) {
        ug_error_set(e, UG_ERR_STORE, "results db %s has schema version %ld, newer than this unigfn "
                     "supports (%d); use a newer unigfn or another database file",
                     s->path, version, UG_STORE_SCHEMA_VERSION);
        return APP_ERR;
    }
    return SQLITE_OK;
}

static int create_schema_body(ug_store *s, void *ctx, ug_error *e)
{
    (void)ctx;
    /* Re-check under the write lock: another process may have created it meanwhile. */
    long version = -1;
    int n_tables = 0;
    int rc = read_schema_state(s, &version, &n_tables, e);
    if (rc != SQLITE_OK) return rc;
    if (version != -1 || n_tables > 0) return check_version(s, version, n_tables, e);
    rc = sqlite3_exec(s->db, SCHEMA_SQL, NULL, NULL, NULL);
    if (rc != SQLITE_OK) return db_fail(s, e, rc, "creating schema");
    char v[16];
    snprintf(v, sizeof v, "%d", UG_STORE_SCHEMA_VERSION);
    return exec_bound(s, "INSERT INTO meta(key, value) VALUES('schema_version', ?1)", v, NULL, 0, 0, e,
                      "writing schema version");
}

/* A pragma that may need a lock (journal_mode on a fresh file): retried like a write. */
static int pragma_retry(ug_store *s, const char *sql, ug_error *e)
{
    double t0 = now_mono();
    for (int attempt = 0;; attempt++) {
        int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
        if (rc == SQLITE_OK) return rc;
        if (!is_busy(rc) || attempt >= RETRY_MAX || now_mono() - t0 > RETRY_WALL_S) {
            if (is_busy(rc))
                ug_error_set(e, UG_ERR_STORE, "results db %s: %s: still locked", s->path, sql);
            else
                db_fail(s, e, rc, sql);
            return rc;
        }
        backoff(s, attempt);
    }
}

static const char INS_METRIC_SQL[] =
    "INSERT INTO metrics(run, key, step, value, flag, wall) VALUES(?1, ?2, ?3, ?4, ?5, ?6)";
/* min/max take only finite values (NULL otherwise), so coalesce keeps the side that exists;
 * all SET expressions see the row as it was before the update. */
static const char UPS_SUMMARY_SQL[] =
    "INSERT INTO summary(run, key, last, last_flag, last_step, min, max, n) "
    "VALUES(?1, ?2, ?4, ?5, ?3, ?4, ?4, 1) "
    "ON CONFLICT(run, key) DO UPDATE SET "
    "  last = CASE WHEN excluded.last_step >= last_step THEN excluded.last ELSE last END,"
    "  last_flag = CASE WHEN excluded.last_step >= last_step THEN excluded.last_flag ELSE last_flag END,"
    "  last_step = max(last_step, excluded.last_step),"
    "  min = min(coalesce(min, excluded.min), coalesce(excluded.min, min)),"
    "  max = max(coalesce(max, excluded.max), coalesce(excluded.max, max)),"
    "  n = n + 1";

ug_status ug_store_open(const char *path, ug_store **out, ug_error *err)
{
    if (!out) return ug_error_set(err, UG_ERR_ARG, "ug_store_open: out is NULL");
    *out = NULL;
    if (!path || !*path) return ug_error_set(err, UG_ERR_ARG, "ug_store_open: empty database path");
    ug_store *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path))) {
        free(s);
        return ug_error_set(err, UG_ERR_NOMEM, "ug_store_open: out of memory");
    }
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    /* Recursive: a query callback may call another read function on the same handle. */
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&s->mu, &ma);
    pthread_mutexattr_destroy(&ma);
    s->rng = ((uint64_t)getpid() << 32) ^ (uint64_t)(now_unix() * 1e6) ^ (uint64_t)(uintptr_t)s;
    if (!s->rng) s->rng = 88172645463325252ull;

    ug_error e = {UG_OK, ""};
    int rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        ug_error_set(&e, UG_ERR_STORE, "cannot open results db %s: %s", path,
                     s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        goto fail;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);

    long version = -1;
    int n_tables = 0;
    /* The first read also tells a non-database file apart ("file is not a database"). */
    if (read_schema_state(s, &version, &n_tables, &e) != SQLITE_OK) goto fail;
    if (version != -1 || n_tables > 0) {
        if (check_version(s, version, n_tables, &e) != SQLITE_OK) goto fail;
    }
    if (pragma_retry(s, "PRAGMA journal_mode=WAL", &e) != SQLITE_OK) goto fail;
    if (pragma_retry(s, "PRAGMA synchronous=NORMAL", &e) != SQLITE_OK) goto fail;
    if (pragma_retry(s, "PRAGMA foreign_keys=ON", &e) != SQLITE_OK) goto fail;
    if (version == -1 && write_txn(s, create_schema_body, NULL, &e) != UG_OK) goto fail;

    if (sqlite3_prepare_v3(s->db, INS_METRIC_SQL, -1, SQLITE_PREPARE_PERSISTENT, &s->ins_metric, NULL) ||
        sqlite3_prepare_v3(s->db, UPS_SUMMARY_SQL, -1, SQLITE_PREPARE_PERSISTENT, &s->ups_summary, NULL)) {
        db_fail(s, &e, sqlite3_errcode(s->db), "prepare");
        goto fail;
    }
    *out = s;
    return UG_OK;

fail:
    if (e.code == UG_OK) ug_error_set(&e, UG_ERR_STORE, "cannot open results db %s", path);
    ug_store_close(s);
    return ug_error_set(err, e.code, "%s", e.msg);
}

void ug_store_close(ug_store *s)
{
    if (!s) return;
    sqlite3_finalize(s->ins_metric);
    sqlite3_finalize(s->ups_summary);
    sqlite3_close_v2(s->db);
    pthread_mutex_destroy(&s->mu);
    free(s->path);
    free(s);
}

/* ---------------------------------------------------------------- argument checks */

static ug_status need(ug_store *s, const char *id, const char *fn, ug_error *err)
{
    if (!s) return ug_error_set(err, UG_ERR_ARG, "%s: store is NULL", fn);
    if (!id || !*id) return ug_error_set(err, UG_ERR_ARG, "%s: empty run id", fn);
    return UG_OK;
}

static ug_status check_info(const ug_run_info *in, const char *fn, ug_error *err)
{
    if (!in) return ug_error_set(err, UG_ERR_ARG, "%s: info is NULL", fn);
    if (!in->id || !*in->id) return ug_error_set(err, UG_ERR_ARG, "%s: empty run id", fn);
    if (!in->experiment || !*in->experiment)
        return ug_error_set(err, UG_ERR_ARG, "%s: run %s has no experiment name", fn, in->id);
    if (in->n_params < 0 || (in->n_params > 0 && (!in->param_keys || !in->param_values)))
        return ug_error_set(err, UG_ERR_ARG, "%s: bad params (n_params = %d)", fn, in->n_params);
    for (int i = 0; i < in->n_params; i++)
        if (!in->param_keys[i] || !*in->param_keys[i])
            return ug_error_set(err, UG_ERR_ARG, "%s: param %d has an empty key", fn, i);
    return UG_OK;
}

/* ---------------------------------------------------------------- run lifecycle */

typedef struct begin_ctx {
    const ug_run_info *info;
    ug_run_status want;       /* RUNNING for begin, QUEUED for queue */
    ug_begin_outcome outcome;
} begin_ctx;

static int insert_params(ug_store *s, const ug_run_info *in, ug_error *e)
{
    sqlite3_stmt *st;
    int rc = prep(s, "INSERT INTO params(run, key, value) VALUES(?1, ?2, ?3)", &st, e);
    if (rc != SQLITE_OK) return rc;
    sqlite3_bind_text(st, 1, in->id, -1, SQLITE_STATIC);
    for (int i = 0; i < in->n_params && rc == SQLITE_OK; i++) {
        sqlite3_bind_text(st, 2, in->param_keys[i], -1, SQLITE_STATIC);
        bind_text(st, 3, in->param_values[i]);
        rc = sqlite3_step(st);
        if (rc == SQLITE_DONE) rc = SQLITE_OK;
        else if (rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
            ug_error_set(e, UG_ERR_ARG, "run %s: duplicate param key '%s'", in->id, in->param_keys[i]);
            rc = APP_ERR;
        } else db_fail(s, e, rc, "inserting params");
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return rc;
}

/* Binds the columns shared by INSERT and restart UPDATE: ?1 id, ?2 experiment, ?3 spec, ?4 now,
 * ?5 seed, ?6 git_rev, ?7 host, ?8 build, ?9 threads, ?10 status. */
static void bind_run_cols(sqlite3_stmt *st, const ug_run_info *in, double now, ug_run_status status)
{
    sqlite3_bind_text(st, 1, in->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, in->experiment, -1, SQLITE_STATIC);
    bind_text(st, 3, in->spec);
    sqlite3_bind_double(st, 4, now);
    sqlite3_bind_int64(st, 5, in->seed);
    bind_text(st, 6, in->git_rev);
    bind_text(st, 7, in->host);
    bind_text(st, 8, in->build);
    sqlite3_bind_int(st, 9, in->threads);
    sqlite3_bind_text(st, 10, ug_run_status_name(status), -1, SQLITE_STATIC);
}

static int begin_body(ug_store *s, void *vctx, ug_error *e)
{
    begin_ctx *c = vctx;
    const ug_run_info *in = c->info;
    double now = now_unix();
    sqlite3_stmt *st;
    int rc = prep(s, "INSERT OR IGNORE INTO experiments(name, created) VALUES(?1, ?2)", &st, e);
    if (rc != SQLITE_OK) return rc;
    sqlite3_bind_text(st, 1, in->experiment, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 2, now);
    rc = run_stmt(s, st, e, "inserting experiment");
    sqlite3_finalize(st);
    if (rc != SQLITE_OK) return rc;

    ug_run_status cur = UG_RUN_ABSENT;
    if ((rc = prep(s, "SELECT status FROM runs WHERE id = ?1", &st, e)) != SQLITE_OK) return rc;
    sqlite3_bind_text(st, 1, in->id, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) cur = ug_run_status_from_name((const char *)sqlite3_column_text(st, 0));
    if (rc == SQLITE_ROW || rc == SQLITE_DONE) rc = SQLITE_OK;
    else db_fail(s, e, rc, "reading run status");
    sqlite3_finalize(st);
    if (rc != SQLITE_OK) return rc;

    if (c->want == UG_RUN_QUEUED && cur != UG_RUN_ABSENT) {
        c->outcome = UG_BEGIN_BUSY; /* unused by queue: exists, leave it */
        return SQLITE_OK;
    }
    if (cur == UG_RUN_ABSENT) {
        c->outcome = UG_BEGIN_NEW;
        rc = prep(s, "INSERT INTO runs(id, experiment, spec, created, started, heartbeat, step, seed, "
                     "git_rev, host, build, threads, status) "
                     "VALUES(?1, ?2, ?3, ?4, CASE WHEN ?10 = 'RUNNING' THEN ?4 END, "
                     "CASE WHEN ?10 = 'RUNNING' THEN ?4 END, 0, ?5, ?6, ?7, ?8, ?9, ?10)", &st, e);
        if (rc != SQLITE_OK) return rc;
        bind_run_cols(st, in, now, c->want);
        rc = run_stmt(s, st, e, "inserting run");
        sqlite3_finalize(st);
        if (rc != SQLITE_OK) return rc;
        return insert_params(s, in, e);
    }
    if (!in->force && cur == UG_RUN_FINISHED) {
        c->outcome = UG_BEGIN_FINISHED;
        return SQLITE_OK;
    }
    if (!in->force && cur == UG_RUN_RUNNING) {
        c->outcome = UG_BEGIN_BUSY;
        return SQLITE_OK;
    }
    /* Restart: the id names the same resolved spec, so the old partial results are void. */
    c->outcome = UG_BEGIN_RESTARTED;
    static const char *const wipe[] = {
        "DELETE FROM metrics WHERE run = ?1", "DELETE FROM summary WHERE run = ?1",
        "DELETE FROM artifacts WHERE run = ?1", "DELETE FROM params WHERE run = ?1"};
    for (size_t i = 0; i < sizeof wipe / sizeof wipe[0]; i++)
        if ((rc = exec_bound(s, wipe[i], in->id, NULL, 0, 0, e, "clearing old run")) != SQLITE_OK)
            return rc;
    rc = prep(s, "UPDATE runs SET experiment = ?2, spec = ?3, started = ?4, heartbeat = ?4, ended = NULL, "
                 "error = NULL, step = 0, seed = ?5, git_rev = ?6, host = ?7, build = ?8, threads = ?9, "
                 "status = ?10 WHERE id = ?1", &st, e);
    if (rc != SQLITE_OK) return rc;
    bind_run_cols(st, in, now, UG_RUN_RUNNING);
    rc = run_stmt(s, st, e, "restarting run");
    sqlite3_finalize(st);
    if (rc != SQLITE_OK) return rc;
    return insert_params(s, in, e);
}

ug_status ug_store_run_begin(ug_store *s, const ug_run_info *info, ug_begin_outcome *outcome,
                             ug_error *err)
{
    if (!s) return ug_error_set(err, UG_ERR_ARG, "ug_store_run_begin: store is NULL");
    ug_status st = check_info(info, "ug_store_run_begin", err);
    if (st != UG_OK) return st;
    begin_ctx c = {info, UG_RUN_RUNNING, UG_BEGIN_NEW};
    pthread_mutex_lock(&s->mu);
    st = write_txn(s, begin_body, &c, err);
    pthread_mutex_unlock(&s->mu);
    if (st != UG_OK) return st;
    if (outcome) *outcome = c.outcome;
    else if (c.outcome == UG_BEGIN_FINISHED)
        return ug_error_set(err, UG_ERR_STORE, "run %s is already FINISHED", info->id);
    else if (c.outcome == UG_BEGIN_BUSY)
        return ug_error_set(err, UG_ERR_STORE, "run %s is already RUNNING", info->id);
    return UG_OK;
}

ug_status ug_store_run_queue(ug_store *s, const ug_run_info *info, ug_error *err)
{
    if (!s) return ug_error_set(err, UG_ERR_ARG, "ug_store_run_queue: store is NULL");
    ug_status st = check_info(info, "ug_store_run_queue", err);
    if (st != UG_OK) return st;
    begin_ctx c = {info, UG_RUN_QUEUED, UG_BEGIN_NEW};
    pthread_mutex_lock(&s->mu);
    st = write_txn(s, begin_body, &c, err);
    pthread_mutex_unlock(&s->mu);
    return st;
}

/* Rebuilds a run's summary from its metric rows (aggregate min/max skip the NULL non-finite values). */
static int rebuild_summary(ug_store *s, const char *id, ug_error *e)
{
    int rc = exec_bound(s, "DELETE FROM summary WHERE run = ?1", id, NULL, 0, 0, e, "clearing summary");
    if (rc != SQLITE_OK) return rc;
    return exec_bound(s,
        "INSERT INTO summary(run, key, last, last_flag, last_step, min, max, n) "
        "SELECT m.run, m.key,"
        "  (SELECT value FROM metrics x WHERE x.run = m.run AND x.key = m.key "
        "   ORDER BY x.step DESC, x.rowid DESC LIMIT 1),"
        "  (SELECT flag FROM metrics x WHERE x.run = m.run AND x.key = m.key "
        "   ORDER BY x.step DESC, x.rowid DESC LIMIT 1),"
        "  max(m.step), min(m.value), max(m.value), count(*) "
        "FROM metrics m WHERE m.run = ?1 GROUP BY m.run, m.key",
        id, NULL, 0, 0, e, "rebuilding summary");
}

typedef struct resume_ctx {
    const char *id;
    int64_t from_step, prev_step;
    int threads;  /* > 0: the thread count of the continued segment */
} resume_ctx;

static int resume_body(ug_store *s, void *vctx, ug_error *e)
{
    resume_ctx *c = vctx;
    sqlite3_stmt *st;
    int rc = prep(s, "SELECT status, step, heartbeat FROM runs WHERE id = ?1", &st, e);
    if (rc != SQLITE_OK) return rc;
    sqlite3_bind_text(st, 1, c->id, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        ug_error_set(e, UG_ERR_STORE, "no run %s in %s", c->id, s->path);
        rc = APP_ERR;
    } else if (rc == SQLITE_ROW) {
        ug_run_status cur = ug_run_status_from_name((const char *)sqlite3_column_text(st, 0));
        c->prev_step = sqlite3_column_int64(st, 1);
        if (cur == UG_RUN_RUNNING) {
            ug_error_set(e, UG_ERR_STORE, "run %s is RUNNING (last heartbeat %.0f s ago); if its process "
                         "is gone, mark it crashed before resuming", c->id,
                         now_unix() - col_time(st, 2));
            rc = APP_ERR;
        } else {
            rc = SQLITE_OK;
        }
    } else {
        db_fail(s, e, rc, "reading run");
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_OK) return rc;

    if ((rc = exec_bound(s, "DELETE FROM metrics WHERE run = ?1 AND step > ?2", c->id, NULL, 2,
                         c->from_step, e, "trimming metrics")) != SQLITE_OK ||
        (rc = exec_bound(s, "DELETE FROM artifacts WHERE run = ?1 AND step > ?2", c->id, NULL, 2,
                         c->from_step, e, "trimming artifacts")) != SQLITE_OK ||
        (rc = rebuild_summary(s, c->id, e)) != SQLITE_OK)
        return rc;
    rc = prep(s, "UPDATE runs SET status = 'RUNNING', error = NULL, ended = NULL, heartbeat = ?2, "
                 "step = ?3, threads = CASE WHEN ?4 > 0 THEN ?4 ELSE threads END WHERE id = ?1", &st, e);
    if (rc != SQLITE_OK) return rc;
    sqlite3_bind_text(st, 1, c->id, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 2, now_unix());
    sqlite3_bind_int64(st, 3, c->from_step);
    sqlite3_bind_int(st, 4, c->threads);
    rc = run_stmt(s, st, e, "resuming run");
    sqlite3_finalize(st);
    return rc;
}

ug_status ug_store_run_resume(ug_store *s, const char *id, int64_t from_step, int threads,
                              int64_t *prev_step_out, ug_error *err)
{
    ug_status st = need(s, id, "ug_store_run_resume", err);
    if (st != UG_OK) return st;
    resume_ctx c = {id, from_step, 0, threads};
    pthread_mutex_lock(&s->mu);
    st = write_txn(s, resume_body, &c, err);
    pthread_mutex_unlock(&s->mu);
    if (st == UG_OK && prev_step_out) *prev_step_out = c.prev_step;
    return st;
}

typedef struct history_ctx {
    const char *dst, *src;
    int64_t step;
    const char *const *keys_at_step;  /* GLOB patterns */
    int n_keys;
} history_ctx;

static int history_body(ug_store *s, void *vctx, ug_error *e)
{
    history_ctx *c = vctx;
    sqlite3_stmt *st;
    int rc = prep(s, "SELECT (SELECT status FROM runs WHERE id = ?1), (SELECT status FROM runs WHERE id = ?2)",
                  &st, e);
    if (rc != SQLITE_OK) return rc;
    sqlite3_bind_text(st, 1, c->dst, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, c->src, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *d = (const char *)sqlite3_column_text(st, 0), *f = (const char *)sqlite3_column_text(st, 1);
        rc = SQLITE_OK;
        if (!d || !f) {
            ug_error_set(e, UG_ERR_STORE, "copying history: no run %s in %s", d ? c->src : c->dst, s->path);
            rc = APP_ERR;
        } else if (strcmp(d, "RUNNING") != 0) {
            ug_error_set(e, UG_ERR_STORE, "copying history into run %s: it is %s, not a just-begun RUNNING run",
                         c->dst, d);
            rc = APP_ERR;
        }
    } else {
        db_fail(s, e, rc, "reading runs");
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_OK) return rc;

    if ((rc = exec_bound(s, "DELETE FROM metrics WHERE run = ?1", c->dst, NULL, 0, 0, e, "clearing metrics")) !=
            SQLITE_OK ||
        (rc = exec_bound(s, "DELETE FROM artifacts WHERE run = ?1", c->dst, NULL, 0, 0, e, "clearing artifacts")) !=
            SQLITE_OK ||
        (rc = exec_bound(s, "INSERT INTO metrics(run, key, step, value, flag, wall) "
                            "SELECT ?1, key, step, value, flag, wall FROM metrics "
                            "WHERE run = ?2 AND step < ?3 ORDER BY rowid",
                         c->dst, c->src, 3, c->step, e, "copying metrics")) != SQLITE_OK ||
        (rc = exec_bound(s, "INSERT INTO artifacts(run, path, kind, step, bytes, sha256) "
                            "SELECT ?1, path, kind, step, bytes, sha256 FROM artifacts "
                            "WHERE run = ?2 AND step < ?3 ORDER BY rowid",
                         c->dst, c->src, 3, c->step, e, "copying artifacts")) != SQLITE_OK)
        return rc;
    rc = prep(s, "INSERT INTO metrics(run, key, step, value, flag, wall) "
                 "SELECT ?1, key, step, value, flag, wall FROM metrics WHERE run = ?2 AND step = ?3 AND key GLOB ?4",
              &st, e);
    if (rc != SQLITE_OK) return rc;
    sqlite3_bind_text(st, 1, c->dst, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, c->src, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, c->step);
    for (int i = 0; i < c->n_keys && rc == SQLITE_OK; i++) {
        bind_text(st, 4, c->keys_at_step[i]);
        rc = run_stmt(s, st, e, "copying metrics at the fork step");
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_OK || (rc = rebuild_summary(s, c->dst, e)) != SQLITE_OK) return rc;
    char from[160];
    snprintf(from, sizeof from, "%s@%lld", c->src, (long long)c->step);
    if ((rc = exec_bound(s, "INSERT OR REPLACE INTO params(run, key, value) VALUES (?1, 'from_run', ?2)", c->dst,
                         from, 0, 0, e, "recording from_run")) != SQLITE_OK)
        return rc;
    return exec_bound(s, "UPDATE runs SET step = ?2 WHERE id = ?1", c->dst, NULL, 2, c->step, e, "setting step");
}

ug_status ug_store_copy_history(ug_store *s, const char *dst, const char *src, int64_t step,
                                const char *const *keys_at_step, int n_keys, ug_error *err)
{
    ug_status st = need(s, dst, "ug_store_copy_history", err);
    if (st == UG_OK) st = need(s, src, "ug_store_copy_history", err);
    if (st != UG_OK) return st;
    if (strcmp(dst, src) == 0) return ug_error_set(err, UG_ERR_ARG, "ug_store_copy_history: run %s is its own source", dst);
    if (n_keys < 0 || (n_keys > 0 && !keys_at_step))
        return ug_error_set(err, UG_ERR_ARG, "ug_store_copy_history: %d keys at the step but no list", n_keys);
    history_ctx c = {dst, src, step, keys_at_step, n_keys};
    pthread_mutex_lock(&s->mu);
    st = write_txn(s, history_body, &c, err);
    pthread_mutex_unlock(&s->mu);
    return st;
}

/* A single UPDATE on one run; "no run" when it matched nothing. */
typedef struct update_ctx {
    const char *sql, *id, *what;
    double d;          /* ?2 */
    int64_t i;         /* ?3 */
    const char *t4;    /* ?4 */
    const char *t5;    /* ?5 */
} update_ctx;

static int update_body(ug_store *s, void *vctx, ug_error *e)
{
    update_ctx *c = vctx;
    sqlite3_stmt *st;
    int rc = prep(s, c->sql, &st, e);
    if (rc != SQLITE_OK) return rc;
    sqlite3_bind_text(st, 1, c->id, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 2, c->d);
    sqlite3_bind_int64(st, 3, c->i);
    if (sqlite3_bind_parameter_count(st) >= 4) bind_text(st, 4, c->t4);
    if (sqlite3_bind_parameter_count(st) >= 5) bind_text(st, 5, c->t5);
    rc = run_stmt(s, st, e, c->what);
    sqlite3_finalize(st);
    if (rc == SQLITE_OK && sqlite3_changes(s->db) == 0) {
        ug_error_set(e, UG_ERR_STORE, "%s: no run %s in %s", c->what, c->id, s->path);
        rc = APP_ERR;
    }
    return rc;
}

ug_status ug_store_heartbeat(ug_store *s, const char *id, int64_t step, ug_error *err)
{
    ug_status st = need(s, id, "ug_store_heartbeat", err);
    if (st != UG_OK) return st;
    update_ctx c = {"UPDATE runs SET heartbeat = ?2, step = ?3,"
                    "  error = CASE WHEN status = 'CRASHED' THEN NULL ELSE error END,"
                    "  ended = CASE WHEN status = 'CRASHED' THEN NULL ELSE ended END,"
                    "  status = CASE WHEN status = 'CRASHED' THEN 'RUNNING' ELSE status END "
                    "WHERE id = ?1",
                    id, "heartbeat", now_unix(), step, NULL, NULL};
    pthread_mutex_lock(&s->mu);
    st = write_txn(s, update_body, &c, err);
    pthread_mutex_unlock(&s->mu);
    return st;
}

ug_status ug_store_run_end(ug_store *s, const char *id, ug_run_status status, const char *error,
                           int64_t step, ug_error *err)
{
    ug_status st = need(s, id, "ug_store_run_end", err);
    if (st != UG_OK) return st;
    if (status != UG_RUN_FINISHED && status != UG_RUN_FAILED && status != UG_RUN_KILLED &&
        status != UG_RUN_CRASHED)
        return ug_error_set(err, UG_ERR_ARG, "ug_store_run_end: %s is not a final status",
                            ug_run_status_name(status));
    update_ctx c = {"UPDATE runs SET status = ?4, error = ?5, ended = ?2, heartbeat = ?2, step = ?3 "
                    "WHERE id = ?1",
                    id, "ending run", now_unix(), step, ug_run_status_name(status), error};
    pthread_mutex_lock(&s->mu);
    st = write_txn(s, update_body, &c, err);
    pthread_mutex_unlock(&s->mu);
    return st;
}

typedef struct crash_ctx {
    double stale;
    int n;
} crash_ctx;

static int crash_body(ug_store *s, void *vctx, ug_error *e)
{
    crash_ctx *c = vctx;
    char msg[128];
    snprintf(msg, sizeof msg, "no heartbeat for more than %g s: the process died or hung", c->stale);
    sqlite3_stmt *st;
    int rc = prep(s, "UPDATE runs SET status = 'CRASHED', ended = heartbeat, error = coalesce(error, ?2) "
                     "WHERE status = 'RUNNING' AND (heartbeat IS NULL OR heartbeat < ?1)", &st, e);
    if (rc != SQLITE_OK) return rc;
    sqlite3_bind_double(st, 1, now_unix() - c->stale);
    sqlite3_bind_text(st, 2, msg, -1, SQLITE_TRANSIENT);
    rc = run_stmt(s, st, e, "marking crashed runs");
    sqlite3_finalize(st);
    c->n = rc == SQLITE_OK ? sqlite3_changes(s->db) : 0;
    return rc;
}

ug_status ug_store_mark_crashed(ug_store *s, double stale_seconds, int *n_marked, ug_error *err)
{
    if (!s) return ug_error_set(err, UG_ERR_ARG, "ug_store_mark_crashed: store is NULL");
    if (!(stale_seconds >= 0))
        return ug_error_set(err, UG_ERR_ARG, "ug_store_mark_crashed: stale_seconds must be >= 0");
    crash_ctx c = {stale_seconds, 0};
    pthread_mutex_lock(&s->mu);
    ug_status st = write_txn(s, crash_body, &c, err);
    pthread_mutex_unlock(&s->mu);
    if (n_marked) *n_marked = st == UG_OK ? c.n : 0;
    return st;
}

ug_status ug_store_run_status(ug_store *s, const char *id, ug_run_status *status, ug_error *err)
{
    ug_status st = need(s, id, "ug_store_run_status", err);
    if (st != UG_OK) return st;
    if (!status) return ug_error_set(err, UG_ERR_ARG, "ug_store_run_status: status is NULL");
    *status = UG_RUN_ABSENT;
    ug_error e = {UG_OK, ""};
    sqlite3_stmt *q;
    pthread_mutex_lock(&s->mu);
    int rc = prep(s, "SELECT status FROM runs WHERE id = ?1", &q, &e);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
        rc = step_read(s, q, 0);
        if (rc == SQLITE_ROW) *status = ug_run_status_from_name((const char *)sqlite3_column_text(q, 0));
        if (rc == SQLITE_ROW || rc == SQLITE_DONE) rc = SQLITE_OK;
        else db_fail(s, &e, rc, "reading run status");
        sqlite3_finalize(q);
    }
    pthread_mutex_unlock(&s->mu);
    return rc == SQLITE_OK ? UG_OK : ug_error_set(err, UG_ERR_STORE, "%s", e.msg);
}

/* ---------------------------------------------------------------- metrics and artifacts */

typedef struct metrics_ctx {
    const char *id;
    int64_t step;
    int n;
    const char *const *keys;
    const double *values;
} metrics_ctx;

static int metrics_body(ug_store *s, void *vctx, ug_error *e)
{
    metrics_ctx *c = vctx;
    double wall = now_unix();
    for (int i = 0; i < c->n; i++) {
        double v = c->values[i];
        const char *flag = isnan(v) ? "nan" : isinf(v) ? (v > 0 ? "inf" : "-inf") : NULL;
        for (int k = 0; k < 2; k++) {
            sqlite3_stmt *st = k == 0 ? s->ins_metric : s->ups_summary;
            sqlite3_bind_text(st, 1, c->id, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 2, c->keys[i], -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 3, c->step);
            if (flag) sqlite3_bind_null(st, 4);
            else sqlite3_bind_double(st, 4, v);
            bind_text(st, 5, flag);
            if (k == 0) sqlite3_bind_double(st, 6, wall);
            int rc = sqlite3_step(st);
            if (rc == SQLITE_DONE) rc = SQLITE_OK;
            else if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) {
                ug_error_set(e, UG_ERR_STORE, "metric %s: no run %s in %s", c->keys[i], c->id, s->path);
                rc = APP_ERR;
            } else db_fail(s, e, rc, "inserting metric");
            sqlite3_reset(st);
            sqlite3_clear_bindings(st);
            if (rc != SQLITE_OK) return rc;
        }
    }
    return SQLITE_OK;
}

ug_status ug_store_metrics(ug_store *s, const char *id, int64_t step, int n, const char *const *keys,
                           const double *values, ug_error *err)
{
    ug_status st = need(s, id, "ug_store_metrics", err);
    if (st != UG_OK) return st;
    if (n < 0 || (n > 0 && (!keys || !values)))
        return ug_error_set(err, UG_ERR_ARG, "ug_store_metrics: bad arrays (n = %d)", n);
    for (int i = 0; i < n; i++)
        if (!keys[i] || !*keys[i])
            return ug_error_set(err, UG_ERR_ARG, "ug_store_metrics: metric %d has an empty key", i);
    if (n == 0) return UG_OK;
    metrics_ctx c = {id, step, n, keys, values};
    pthread_mutex_lock(&s->mu);
    st = write_txn(s, metrics_body, &c, err);
    pthread_mutex_unlock(&s->mu);
    return st;
}

ug_status ug_store_metric(ug_store *s, const char *id, const char *key, int64_t step, double value,
                          ug_error *err)
{
    return ug_store_metrics(s, id, step, 1, &key, &value, err);
}

typedef struct artifact_ctx {
    const char *id, *path, *kind, *sha;
    int64_t step, bytes;
} artifact_ctx;

static int artifact_body(ug_store *s, void *vctx, ug_error *e)
{
    artifact_ctx *c = vctx;
    sqlite3_stmt *st;
    int rc = prep(s, "INSERT INTO artifacts(run, path, kind, step, bytes, sha256) "
                     "VALUES(?1, ?2, ?3, ?4, ?5, ?6)", &st, e);
    if (rc != SQLITE_OK) return rc;
    sqlite3_bind_text(st, 1, c->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, c->path, -1, SQLITE_STATIC);
    bind_text(st, 3, c->kind);
    sqlite3_bind_int64(st, 4, c->step);
    sqlite3_bind_int64(st, 5, c->bytes);
    sqlite3_bind_text(st, 6, c->sha, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) rc = SQLITE_OK;
    else if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) {
        ug_error_set(e, UG_ERR_STORE, "artifact %s: no run %s in %s", c->path, c->id, s->path);
        rc = APP_ERR;
    } else db_fail(s, e, rc, "inserting artifact");
    sqlite3_finalize(st);
    return rc;
}

ug_status ug_store_artifact(ug_store *s, const char *id, const char *path, const char *kind,
                            int64_t step, ug_error *err)
{
    ug_status st = need(s, id, "ug_store_artifact", err);
    if (st != UG_OK) return st;
    if (!path || !*path) return ug_error_set(err, UG_ERR_ARG, "ug_store_artifact: empty path");
    /* Hash before taking the write lock: reading a large file must not stall other writers. */
    FILE *f = fopen(path, "rb");
    if (!f) return ug_error_set(err, UG_ERR_IO, "artifact %s: cannot open: %s", path, strerror(errno));
    ug_sha256_ctx h;
    ug_sha256_init(&h);
    unsigned char buf[1 << 16];
    int64_t bytes = 0;
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0) {
        ug_sha256_update(&h, buf, got);
        bytes += (int64_t)got;
    }
    int bad = ferror(f);
    int saved = errno;
    fclose(f);
    if (bad) return ug_error_set(err, UG_ERR_IO, "artifact %s: read error: %s", path, strerror(saved));
    uint8_t d[32];
    char hex[65];
    ug_sha256_final(&h, d);
    ug_sha256_to_hex(d, hex);
    artifact_ctx c = {id, path, kind, hex, step, bytes};
    pthread_mutex_lock(&s->mu);
    st = write_txn(s, artifact_body, &c, err);
    pthread_mutex_unlock(&s->mu);
    return st;
}

/* ---------------------------------------------------------------- queries */

/* Shared loop of the callback queries: prepare, bind ?1/?2 as text, hand each row to `row`. */
/* `cb` points at the caller's function pointer (object and function pointers do not mix in C). */
typedef int (*row_fn)(sqlite3_stmt *st, const void *cb, void *user);

static ug_status query_rows(ug_store *s, const char *sql, const char *a, const char *b, row_fn row,
                            const void *cb, void *user, ug_error *err)
{
    ug_error e = {UG_OK, ""};
    sqlite3_stmt *st;
    pthread_mutex_lock(&s->mu);
    int rc = prep(s, sql, &st, &e);
    if (rc == SQLITE_OK) {
        bind_text(st, 1, a);
        if (sqlite3_bind_parameter_count(st) >= 2) bind_text(st, 2, b);
        int delivered = 0;
        while ((rc = step_read(s, st, delivered)) == SQLITE_ROW) {
            delivered = 1;
            if (row(st, cb, user)) break;
        }
        if (rc == SQLITE_ROW || rc == SQLITE_DONE) rc = SQLITE_OK;
        else if (is_busy(rc)) ug_error_set(&e, UG_ERR_STORE, "results db %s: query: still locked", s->path);
        else db_fail(s, &e, rc, "query");
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&s->mu);
    return rc == SQLITE_OK ? UG_OK : ug_error_set(err, e.code, "%s", e.msg);
}

static int run_row(sqlite3_stmt *st, const void *cb, void *user)
{
    ug_run_row r = {0};
    r.id = (const char *)sqlite3_column_text(st, 0);
    r.experiment = (const char *)sqlite3_column_text(st, 1);
    r.status = ug_run_status_from_name((const char *)sqlite3_column_text(st, 2));
    r.step = sqlite3_column_int64(st, 3);
    r.created = col_time(st, 4);
    r.heartbeat = col_time(st, 5);
    r.has_metric = sqlite3_column_type(st, 11) != SQLITE_NULL;
    r.metric_last = r.metric_min = r.metric_max = NAN;
    if (r.has_metric) {
        r.metric_last = flagged_value(st, 6, 7);
        r.metric_last_step = sqlite3_column_int64(st, 8);
        r.metric_min = col_or_nan(st, 9);
        r.metric_max = col_or_nan(st, 10);
        r.metric_n = sqlite3_column_int64(st, 11);
    }
    return (*(const ug_run_row_fn *)cb)(user, &r);
}

ug_status ug_store_list_runs(ug_store *s, const char *experiment, const char *metric, ug_run_row_fn cb,
                             void *user, ug_error *err)
{
    if (!s || !cb) return ug_error_set(err, UG_ERR_ARG, "ug_store_list_runs: store or callback is NULL");
    return query_rows(s,
        "SELECT r.id, r.experiment, r.status, r.step, r.created, r.heartbeat,"
        "       m.last, m.last_flag, m.last_step, m.min, m.max, m.n "
        "FROM runs r LEFT JOIN summary m ON m.run = r.id AND m.key = ?1 "
        "WHERE ?2 IS NULL OR r.experiment = ?2 ORDER BY r.created, r.id",
        metric, experiment, run_row, &cb, user, err);
}

static int point_row(sqlite3_stmt *st, const void *cb, void *user)
{
    return (*(const ug_metric_point_fn *)cb)(user, sqlite3_column_int64(st, 0), flagged_value(st, 1, 2),
                                    col_time(st, 3));
}

ug_status ug_store_metric_series(ug_store *s, const char *id, const char *key, ug_metric_point_fn cb,
                                 void *user, ug_error *err)
{
    ug_status st = need(s, id, "ug_store_metric_series", err);
    if (st != UG_OK) return st;
    if (!key || !cb) return ug_error_set(err, UG_ERR_ARG, "ug_store_metric_series: key or callback is NULL");
    return query_rows(s, "SELECT step, value, flag, wall FROM metrics WHERE run = ?1 AND key = ?2 "
                         "ORDER BY step, rowid", id, key, point_row, &cb, user, err);
}

static int summary_row(sqlite3_stmt *st, const void *cb, void *user)
{
    ug_metric_summary m;
    m.key = (const char *)sqlite3_column_text(st, 0);
    m.last = flagged_value(st, 1, 2);
    m.last_step = sqlite3_column_int64(st, 3);
    m.min = col_or_nan(st, 4);
    m.max = col_or_nan(st, 5);
    m.n = sqlite3_column_int64(st, 6);
    return (*(const ug_metric_summary_fn *)cb)(user, &m);
}

ug_status ug_store_last_metrics(ug_store *s, const char *id, ug_metric_summary_fn cb, void *user,
                                ug_error *err)
{
    ug_status st = need(s, id, "ug_store_last_metrics", err);
    if (st != UG_OK) return st;
    if (!cb) return ug_error_set(err, UG_ERR_ARG, "ug_store_last_metrics: callback is NULL");
    return query_rows(s, "SELECT key, last, last_flag, last_step, min, max, n FROM summary "
                         "WHERE run = ?1 ORDER BY key", id, NULL, summary_row, &cb, user, err);
}

static int artifact_row(sqlite3_stmt *st, const void *cb, void *user)
{
    ug_artifact_row a;
    a.path = (const char *)sqlite3_column_text(st, 0);
    a.kind = (const char *)sqlite3_column_text(st, 1);
    a.step = sqlite3_column_int64(st, 2);
    a.bytes = sqlite3_column_int64(st, 3);
    a.sha256 = (const char *)sqlite3_column_text(st, 4);
    return (*(const ug_artifact_fn *)cb)(user, &a);
}

ug_status ug_store_artifacts(ug_store *s, const char *id, ug_artifact_fn cb, void *user, ug_error *err)
{
    ug_status st = need(s, id, "ug_store_artifacts", err);
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

static int record_row(sqlite3_stmt *st, const void *cb, void *user)
{
    (void)cb;
    get_ctx *g = user;
    ug_run_record *r = calloc(1, sizeof *r);
    if (!r) { g->oom = 1; return 1; }
    g->r = r;
    r->id = col_dup(st, 0);
    r->experiment = col_dup(st, 1);
    r->status = ug_run_status_from_name((const char *)sqlite3_column_text(st, 2));
    r->error = col_dup(st, 3);
    r->spec = col_dup(st, 4);
    r->created = col_time(st, 5);
    r->started = col_time(st, 6);
    r->ended = col_time(st, 7);
    r->heartbeat = col_time(st, 8);
    r->step = sqlite3_column_int64(st, 9);
    r->seed = sqlite3_column_int64(st, 10);
    r->git_rev = col_dup(st, 11);
    r->host = col_dup(st, 12);
    r->build = col_dup(st, 13);
    r->threads = sqlite3_column_int(st, 14);
    if (!r->id || !r->experiment) g->oom = 1;
    return 1;
}

static int param_row(sqlite3_stmt *st, const void *cb, void *user)
{
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
    char *k = col_dup(st, 0), *v = col_dup(st, 1);
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

ug_status ug_store_get_run(ug_store *s, const char *id, ug_run_record **out, ug_error *err)
{
    ug_status st = need(s, id, "ug_store_get_run", err);
    if (st != UG_OK) return st;
    if (!out) return ug_error_set(err, UG_ERR_ARG, "ug_store_get_run: out is NULL");
    *out = NULL;
    get_ctx g = {NULL, 0, 0};
    /* Both reads in one snapshot, so a concurrent restart cannot pair old columns with new params. */
    pthread_mutex_lock(&s->mu);
    /* Skipped when a transaction is already open (a nested call from a query callback). */
    int in_txn = sqlite3_get_autocommit(s->db) && sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK;
    st = query_rows(s, "SELECT id, experiment, status, error, spec, created, started, ended, heartbeat, "
                       "step, seed, git_rev, host, build, threads FROM runs WHERE id = ?1",
                    id, NULL, record_row, NULL, &g, err);
    if (st == UG_OK && g.r && !g.oom)
        st = query_rows(s, "SELECT key, value FROM params WHERE run = ?1 ORDER BY key", id, NULL,
                        param_row, NULL, &g, err);
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

void ug_run_record_free(ug_run_record *r)
{
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
    free(r);
}

/* ---------------------------------------------------------------- merging shards */

#define MERGE_RANK(t) "CASE " t ".status WHEN 'FINISHED' THEN 4 WHEN 'RUNNING' THEN 2 WHEN 'QUEUED' THEN 1 ELSE 3 END"
#define MERGE_TIME(t) "coalesce(" t ".ended, " t ".heartbeat, " t ".created, 0)"
#define RUN_COLS "id, experiment, status, error, spec, created, started, ended, heartbeat, step, seed, " \
                 "git_rev, host, build, threads"

typedef struct merge_ctx {
    ug_merge_stats st;
} merge_ctx;

static int merge_count(ug_store *s, const char *sql, int64_t *a, int64_t *b, ug_error *e)
{
    sqlite3_stmt *q;
    int rc = prep(s, sql, &q, e);
    if (rc != SQLITE_OK) return rc;
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        *a = sqlite3_column_int64(q, 0);
        if (b) *b = sqlite3_column_int64(q, 1);
        rc = SQLITE_OK;
    } else {
        db_fail(s, e, rc, "merge: counting");
    }
    sqlite3_finalize(q);
    return rc;
}

static int merge_body(ug_store *s, void *vctx, ug_error *e)
{
    merge_ctx *c = vctx;
    static const char *const steps[] = {
        "DROP TABLE IF EXISTS temp.ug_merge_pick",
        /* the shard's runs that are new here, or further along / newer than the copy here */
        "CREATE TEMP TABLE ug_merge_pick AS SELECT r.id AS id, (m.id IS NULL) AS is_new "
        "FROM shard.runs r LEFT JOIN main.runs m ON m.id = r.id "
        "WHERE m.id IS NULL OR " MERGE_RANK("r") " > " MERGE_RANK("m") " OR (" MERGE_RANK("r") " = " MERGE_RANK("m")
        " AND " MERGE_TIME("r") " > " MERGE_TIME("m") ")",
        "INSERT OR IGNORE INTO main.experiments(name, created) SELECT name, created FROM shard.experiments",
        /* ON DELETE CASCADE removes the old params, metrics, summary and artifacts */
        "DELETE FROM main.runs WHERE id IN (SELECT id FROM temp.ug_merge_pick)",
        "INSERT INTO main.runs(" RUN_COLS ") SELECT " RUN_COLS " FROM shard.runs "
        "WHERE id IN (SELECT id FROM temp.ug_merge_pick)",
        "INSERT INTO main.params(run, key, value) SELECT run, key, value FROM shard.params "
        "WHERE run IN (SELECT id FROM temp.ug_merge_pick)",
        "INSERT INTO main.metrics(run, key, step, value, flag, wall) SELECT run, key, step, value, flag, wall "
        "FROM shard.metrics WHERE run IN (SELECT id FROM temp.ug_merge_pick) ORDER BY rowid",
        "INSERT INTO main.summary(run, key, last, last_flag, last_step, min, max, n) "
        "SELECT run, key, last, last_flag, last_step, min, max, n FROM shard.summary "
        "WHERE run IN (SELECT id FROM temp.ug_merge_pick)",
        "INSERT INTO main.artifacts(run, path, kind, step, bytes, sha256) SELECT run, path, kind, step, bytes, sha256 "
        "FROM shard.artifacts WHERE run IN (SELECT id FROM temp.ug_merge_pick) ORDER BY rowid",
    };
    memset(&c->st, 0, sizeof c->st);
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        int rc = sqlite3_exec(s->db, steps[i], NULL, NULL, NULL);
        if (rc != SQLITE_OK) return db_fail(s, e, rc, "merge");
        if (strstr(steps[i], "INTO main.metrics")) c->st.metric_rows = sqlite3_changes(s->db);
    }
    int64_t picked = 0, added = 0, total = 0;
    int rc = merge_count(s, "SELECT count(*), coalesce(sum(is_new), 0) FROM temp.ug_merge_pick", &picked, &added, e);
    if (rc == SQLITE_OK) rc = merge_count(s, "SELECT count(*) FROM shard.runs", &total, NULL, e);
    if (rc != SQLITE_OK) return rc;
    c->st.runs_added = (int)added;
    c->st.runs_replaced = (int)(picked - added);
    c->st.runs_kept = (int)(total - picked);
    rc = sqlite3_exec(s->db, "DROP TABLE temp.ug_merge_pick", NULL, NULL, NULL);
    return rc == SQLITE_OK ? rc : db_fail(s, e, rc, "merge");
}

ug_status ug_store_merge(ug_store *s, const char *shard_path, ug_merge_stats *stats, ug_error *err)
{
    if (!s || !shard_path || !*shard_path) return ug_error_set(err, UG_ERR_ARG, "ug_store_merge: no store or shard path");
    if (access(shard_path, R_OK) != 0)
        return ug_error_set(err, UG_ERR_IO, "shard %s: %s", shard_path, strerror(errno));
    char a[4096], b[4096];
    if (realpath(shard_path, a) && realpath(s->path, b) && strcmp(a, b) == 0)
        return ug_error_set(err, UG_ERR_ARG, "shard %s is the output database itself", shard_path);
    /* Opening it through the store checks that it is a unigfn database of a schema we can read
     * (and creates nothing: the file exists). */
    ug_store *shard = NULL;
    ug_status st = ug_store_open(shard_path, &shard, err);
    ug_store_close(shard);
    if (st != UG_OK) return st;
    merge_ctx c;
    memset(&c, 0, sizeof c);
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *q;
    ug_error e = {UG_OK, ""};
    int rc = prep(s, "ATTACH DATABASE ?1 AS shard", &q, &e);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(q, 1, shard_path, -1, SQLITE_STATIC);
        rc = run_stmt(s, q, &e, "attaching shard");
        sqlite3_finalize(q);
    }
    if (rc == SQLITE_OK) {
        st = write_txn(s, merge_body, &c, err);
        sqlite3_exec(s->db, "DETACH DATABASE shard", NULL, NULL, NULL);
    } else {
        st = ug_error_set(err, UG_ERR_STORE, "%s", e.code ? e.msg : "merge: cannot attach the shard");
    }
    pthread_mutex_unlock(&s->mu);
    if (st == UG_OK && stats) *stats = c.st;
    return st;
}
