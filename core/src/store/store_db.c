/* store_db.c — the results database connection: opening and closing it, the schema and its version
 * check, retried write transactions, the statement and column helpers the other store files share
 * (store/store_internal.h), and the run status names.
 *
 * Schema versions: a new database gets SCHEMA_SQL at UG_STORE_SCHEMA_VERSION; an older one is brought
 * up to it on open by UPGRADES, in one write transaction that re-reads the version under the lock (two
 * processes opening an old file at once upgrade it once). Each upgrade only adds (a column, a table),
 * so rows written before it read back with the new fields absent (NULL).
 *
 * Concurrency model: many processes may open one file (a sweep with -j N). WAL lets readers run beside
 * one writer; every write is a short BEGIN IMMEDIATE transaction (the write lock is taken up front, so
 * a transaction never has to upgrade a read snapshot, which is the case busy_timeout cannot wait out).
 * SQLite's busy handler waits for the lock; the cases it returns at once (WAL recovery, a stale
 * snapshot, a concurrent journal-mode switch on a fresh file) are retried here with a bounded backoff.
 *
 * Modes (ug_store_open_as): commands that only read open the file with SQLITE_OPEN_READONLY and never
 * create, upgrade or write it, so they work on a database someone else owns, in a read-only folder or on
 * a read-only mount; only CREATE (run, sweep, a merge's output) makes a file that was not there. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* PTHREAD_MUTEX_RECURSIVE, nanosleep, strdup */
#endif
#include "unigfn/host/store.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "unigfn/host/util.h"
#include "store/store_internal.h"

/* Bounds for our own retries on top of busy_timeout (which already waits up to BUSY_TIMEOUT_MS). */
#define BUSY_TIMEOUT_MS 60000
#define RETRY_MAX 200
#define RETRY_WALL_S 120.0

/* ---------------------------------------------------------------- status names */

static const char *const STATUS_NAMES[] = {"ABSENT", "QUEUED", "RUNNING", "FINISHED",
                                           "FAILED", "KILLED", "CRASHED"};

const char *ug_run_status_name(ug_run_status s) {
    if ((int)s < 0 || (int)s > UG_RUN_CRASHED) return "ABSENT";
    return STATUS_NAMES[s];
}

ug_run_status ug_run_status_from_name(const char *name) {
    if (!name) return UG_RUN_ABSENT;
    for (int i = UG_RUN_QUEUED; i <= UG_RUN_CRASHED; i++)
        if (strcmp(name, STATUS_NAMES[i]) == 0) return (ug_run_status)i;
    return UG_RUN_ABSENT;
}

/* ---------------------------------------------------------------- statements and columns */

/* Exponential backoff, 1 ms .. 100 ms, with jitter. */
static void backoff(ug_store *s, int attempt) {
    long ms = 1L << (attempt < 7 ? attempt : 7);
    if (ms > 100) ms = 100;
    s->rng ^= s->rng << 13; s->rng ^= s->rng >> 7; s->rng ^= s->rng << 17;
    long us = ms * 1000 + (long)(s->rng % (uint64_t)(ms * 1000));
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

/* Records a SQLite failure (not for busy codes, which the caller retries). Returns rc. */
int ug__store_fail(ug_store *s, ug_error *e, int rc, const char *what) {
    if (!ug__store_is_busy(rc))
        ug_error_set(e, UG_ERR_STORE, "results db %s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
    return rc;
}

int ug__store_prep(ug_store *s, const char *sql, sqlite3_stmt **st, ug_error *e) {
    int rc = sqlite3_prepare_v2(s->db, sql, -1, st, NULL);
    if (rc != SQLITE_OK) {
        *st = NULL;
        return ug__store_fail(s, e, rc, "prepare");
    }
    return SQLITE_OK;
}

/* Steps a statement that returns no rows, then resets it (a live statement would block COMMIT). */
int ug__store_run_stmt(ug_store *s, sqlite3_stmt *st, ug_error *e, const char *what) {
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE || rc == SQLITE_ROW) rc = SQLITE_OK;
    else ug__store_fail(s, e, rc, what);
    sqlite3_reset(st);
    return rc;
}

void ug__store_bind_text(sqlite3_stmt *st, int i, const char *t) {
    if (t) sqlite3_bind_text(st, i, t, -1, SQLITE_TRANSIENT);
    else sqlite3_bind_null(st, i);
}

/* One-shot statement with up to 2 text binds and an optional int64 bind at `ipos`. */
int ug__store_exec_bound(ug_store *s, const char *sql, const char *a, const char *b, int ipos, int64_t iv,
                         ug_error *e, const char *what) {
    sqlite3_stmt *st;
    int rc = ug__store_prep(s, sql, &st, e);
    if (rc != SQLITE_OK) return rc;
    if (a) sqlite3_bind_text(st, 1, a, -1, SQLITE_TRANSIENT);
    if (b) sqlite3_bind_text(st, 2, b, -1, SQLITE_TRANSIENT);
    if (ipos > 0) sqlite3_bind_int64(st, ipos, iv);
    rc = ug__store_run_stmt(s, st, e, what);
    sqlite3_finalize(st);
    return rc;
}

/* Read-side step: retries a busy first step (nothing delivered yet, so it is safe to start over). */
int ug__store_step_read(ug_store *s, sqlite3_stmt *st, int delivered) {
    double t0 = ug_now_s();
    for (int attempt = 0;; attempt++) {
        int rc = sqlite3_step(st);
        if (!ug__store_is_busy(rc) || delivered || attempt >= RETRY_MAX || ug_now_s() - t0 > RETRY_WALL_S)
            return rc;
        sqlite3_reset(st);
        backoff(s, attempt);
    }
}

double ug__store_flagged_value(sqlite3_stmt *st, int vcol, int fcol) {
    const char *f = (const char *)sqlite3_column_text(st, fcol);
    if (f) {
        if (strcmp(f, "inf") == 0) return INFINITY;
        if (strcmp(f, "-inf") == 0) return -INFINITY;
        return NAN;
    }
    if (sqlite3_column_type(st, vcol) == SQLITE_NULL) return NAN;
    return sqlite3_column_double(st, vcol);
}

double ug__store_col_time(sqlite3_stmt *st, int c) {
    return sqlite3_column_type(st, c) == SQLITE_NULL ? 0.0 : sqlite3_column_double(st, c);
}

double ug__store_col_or_nan(sqlite3_stmt *st, int c) {
    return sqlite3_column_type(st, c) == SQLITE_NULL ? NAN : sqlite3_column_double(st, c);
}

char *ug__store_col_dup(sqlite3_stmt *st, int c) {
    const char *t = (const char *)sqlite3_column_text(st, c);
    return t ? strdup(t) : NULL;
}

/* ---------------------------------------------------------------- write transactions */

/* Runs body inside BEGIN IMMEDIATE ... COMMIT, retrying the whole transaction on busy/locked.
 * body returns SQLITE_OK, a SQLite code (busy → retry; other → failure recorded in e) or
 * UG__STORE_APP_ERR. */
ug_status ug__store_write_txn(ug_store *s, ug__store_txn_body body, void *ctx, ug_error *err) {
    if (s->mode == UG_STORE_READ)
        return ug_error_set(err, UG_ERR_STORE, "results db %s: opened read-only; nothing is written", s->path);
    double t0 = ug_now_s();
    for (int attempt = 0;; attempt++) {
        ug_error e = {UG_OK, ""};
        int rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        if (rc == SQLITE_OK) {
            rc = body(s, ctx, &e);
            if (rc == SQLITE_OK) {
                rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
                if (rc != SQLITE_OK) ug__store_fail(s, &e, rc, "commit");
            }
            if (rc != SQLITE_OK && !sqlite3_get_autocommit(s->db))
                sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        } else {
            ug__store_fail(s, &e, rc, "begin transaction");
        }
        if (rc == SQLITE_OK) return UG_OK;
        if (ug__store_is_busy(rc)) {
            if (attempt < RETRY_MAX && ug_now_s() - t0 < RETRY_WALL_S) {
                backoff(s, attempt);
                continue;
            }
            return ug_error_set(err, UG_ERR_STORE,
                                "results db %s: still locked after %d attempts over %.0f s: %s", s->path,
                                attempt + 1, ug_now_s() - t0, sqlite3_errstr(rc));
        }
        if (e.code == UG_OK) ug_error_set(&e, UG_ERR_STORE, "results db %s: error %d", s->path, rc);
        return ug_error_set(err, e.code, "%s", e.msg);
    }
}

/* ---------------------------------------------------------------- schema */

/* A run's tags (`unigfn tag`), from schema version 3 on; also the 2 -> 3 upgrade, so IF NOT EXISTS. */
#define TAGS_SQL                                                                                         \
    "CREATE TABLE IF NOT EXISTS tags("                                                                   \
    "  run TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"                                         \
    "  tag TEXT NOT NULL, PRIMARY KEY(run, tag)) WITHOUT ROWID;"

/* What a run was computed from (version 4): one row per plugin it loaded (kind, name, the library's
 * resolved path, its declared version, the file's SHA-256) and, for `run --init-from`, one of kind
 * 'checkpoint' (name: the source run, version: "step N", the checkpoint file's path and hash). */
#define PROVENANCE_SQL                                                                                  \
    "CREATE TABLE IF NOT EXISTS provenance("                                                            \
    "  run TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"                                        \
    "  kind TEXT NOT NULL, name TEXT NOT NULL, path TEXT, version TEXT, sha256 TEXT,"                   \
    "  PRIMARY KEY(run, kind, name)) WITHOUT ROWID;"

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
    "  git_rev TEXT, host TEXT, build TEXT, threads INTEGER,"
    "  blas TEXT, note TEXT, init_from TEXT);"
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
    "CREATE INDEX IF NOT EXISTS artifacts_by_run ON artifacts(run, step);"
    TAGS_SQL
    PROVENANCE_SQL;

/* Reads the schema state: *version = -1 if no meta table; 0 if meta lacks a usable version;
 * *n_tables = user tables present. */
static int read_schema_state(ug_store *s, long *version, int *n_tables, ug_error *e) {
    sqlite3_stmt *st;
    int rc = ug__store_prep(s, "SELECT count(*), sum(name = 'meta') FROM sqlite_master "
                               "WHERE type = 'table' AND name NOT LIKE 'sqlite_%'", &st, e);
    if (rc != SQLITE_OK) return rc;
    rc = ug__store_step_read(s, st, 0);
    int has_meta = 0;
    if (rc == SQLITE_ROW) {
        *n_tables = sqlite3_column_int(st, 0);
        has_meta = sqlite3_column_int(st, 1) > 0;
        rc = SQLITE_OK;
    } else {
        ug__store_fail(s, e, rc, "reading schema");
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_OK) return rc;
    *version = -1;
    if (!has_meta) return SQLITE_OK;
    *version = 0;
    rc = ug__store_prep(s, "SELECT value FROM meta WHERE key = 'schema_version'", &st, e);
    if (rc != SQLITE_OK) return rc;
    rc = ug__store_step_read(s, st, 0);
    if (rc == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(st, 0);
        char *end = NULL;
        long n = v ? strtol(v, &end, 10) : 0;
        *version = (v && end != v && *end == '\0' && n > 0) ? n : 0;
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        rc = SQLITE_OK;
    } else {
        ug__store_fail(s, e, rc, "reading schema version");
    }
    sqlite3_finalize(st);
    return rc;
}

static int check_version(ug_store *s, long version, int n_tables, ug_error *e) {
    if (version == -1 && n_tables > 0) {
        ug_error_set(e, UG_ERR_STORE, "%s is a SQLite database but not a unigfn results database "
                     "(it has tables but no meta table)%s", s->path,
                     s->mode == UG_STORE_READ ? "" : "; refusing to modify it");
        return UG__STORE_APP_ERR;
    }
    if (version == 0) {
        ug_error_set(e, UG_ERR_STORE, "results db %s: meta table has no valid schema_version", s->path);
        return UG__STORE_APP_ERR;
    }
    if (version > UG_STORE_SCHEMA_VERSION) {
        ug_error_set(e, UG_ERR_STORE, "results db %s has schema version %ld, newer than this unigfn "
                     "supports (%d); use a newer unigfn or another database file",
                     s->path, version, UG_STORE_SCHEMA_VERSION);
        return UG__STORE_APP_ERR;
    }
    return SQLITE_OK;
}

static int create_schema_body(ug_store *s, void *ctx, ug_error *e) {
    (void)ctx;
    /* Re-check under the write lock: another process may have created it meanwhile. */
    long version = -1;
    int n_tables = 0;
    int rc = read_schema_state(s, &version, &n_tables, e);
    if (rc != SQLITE_OK) return rc;
    if (version != -1 || n_tables > 0) return check_version(s, version, n_tables, e);
    rc = sqlite3_exec(s->db, SCHEMA_SQL, NULL, NULL, NULL);
    if (rc != SQLITE_OK) return ug__store_fail(s, e, rc, "creating schema");
    char v[16];
    snprintf(v, sizeof v, "%d", UG_STORE_SCHEMA_VERSION);
    return ug__store_exec_bound(s, "INSERT INTO meta(key, value) VALUES('schema_version', ?1)", v, NULL, 0, 0,
                                e, "writing schema version");
}

/* The upgrades from each older version: UPGRADES[i] takes a database from version i + 1 to i + 2 by
 * adding `column` to `table` (none when NULL) and then running `sql` (none when NULL), which must be
 * harmless to run again (CREATE ... IF NOT EXISTS). A column added by hand (or by a development build)
 * before is left as it is. */
static const struct {
    const char *table, *column, *decl, *sql;
} UPGRADES[UG_STORE_SCHEMA_VERSION - 1] = {
    {"runs", "blas", "TEXT", NULL},     /* 1 -> 2: the BLAS a run used (ug_blas_describe) */
    {"runs", "note", "TEXT", TAGS_SQL}, /* 2 -> 3: a note and tags per run (unigfn note, unigfn tag) */
    {"runs", "init_from", "TEXT", PROVENANCE_SQL}, /* 3 -> 4: run --init-from's source; plugin provenance */
};

static int has_column(ug_store *s, const char *table, const char *column, bool *has, ug_error *e) {
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM pragma_table_info('%s') WHERE name = ?1", table);
    sqlite3_stmt *st;
    int rc = ug__store_prep(s, sql, &st, e);
    if (rc != SQLITE_OK) return rc;
    sqlite3_bind_text(st, 1, column, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *has = sqlite3_column_int(st, 0) > 0;
        rc = SQLITE_OK;
    } else {
        ug__store_fail(s, e, rc, "reading the schema");
    }
    sqlite3_finalize(st);
    return rc;
}

static int upgrade_body(ug_store *s, void *ctx, ug_error *e) {
    (void)ctx;
    long version = -1;
    int n_tables = 0;
    int rc = read_schema_state(s, &version, &n_tables, e);
    if (rc != SQLITE_OK) return rc;
    if ((rc = check_version(s, version, n_tables, e)) != SQLITE_OK) return rc;
    for (long v = version; v < UG_STORE_SCHEMA_VERSION; v++) {
        bool has = !UPGRADES[v - 1].column;
        if (!has && (rc = has_column(s, UPGRADES[v - 1].table, UPGRADES[v - 1].column, &has, e)) != SQLITE_OK)
            return rc;
        if (!has) {
            char sql[256];
            snprintf(sql, sizeof sql, "ALTER TABLE %s ADD COLUMN %s %s", UPGRADES[v - 1].table, UPGRADES[v - 1].column,
                     UPGRADES[v - 1].decl);
            rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
            if (rc != SQLITE_OK) return ug__store_fail(s, e, rc, "upgrading the schema");
        }
        if (UPGRADES[v - 1].sql && (rc = sqlite3_exec(s->db, UPGRADES[v - 1].sql, NULL, NULL, NULL)) != SQLITE_OK)
            return ug__store_fail(s, e, rc, "upgrading the schema");
    }
    if (version >= UG_STORE_SCHEMA_VERSION) return SQLITE_OK; /* another process did it meanwhile */
    char v[16];
    snprintf(v, sizeof v, "%d", UG_STORE_SCHEMA_VERSION);
    return ug__store_exec_bound(s, "UPDATE meta SET value = ?1 WHERE key = 'schema_version'", v, NULL, 0, 0, e,
                                "writing schema version");
}

/* A pragma that may need a lock (journal_mode on a fresh file): retried like a write. */
static int pragma_retry(ug_store *s, const char *sql, ug_error *e) {
    double t0 = ug_now_s();
    for (int attempt = 0;; attempt++) {
        int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
        if (rc == SQLITE_OK) return rc;
        if (!ug__store_is_busy(rc) || attempt >= RETRY_MAX || ug_now_s() - t0 > RETRY_WALL_S) {
            if (ug__store_is_busy(rc))
                ug_error_set(e, UG_ERR_STORE, "results db %s: %s: still locked", s->path, sql);
            else
                ug__store_fail(s, e, rc, sql);
            return rc;
        }
        backoff(s, attempt);
    }
}

/* ---------------------------------------------------------------- opening and closing */

/* What a path that is not a regular file is, for the refusal. */
static const char *file_kind(mode_t m) {
    if (S_ISDIR(m)) return "a directory";
    if (S_ISFIFO(m)) return "a FIFO";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    if (S_ISSOCK(m)) return "a socket";
    return "not a regular file";
}

/* Checks what is at the path before SQLite opens it (a FIFO would block the open, a directory gives
 * "unable to open database file"). Nothing there is fine only for UG_STORE_CREATE. */
static int check_path(ug_store *s, ug_error *e) {
    struct stat sb;
    if (stat(s->path, &sb) != 0) {
        if (errno == ENOENT && s->mode == UG_STORE_CREATE) return SQLITE_OK;
        if (errno == ENOENT)
            ug_error_set(e, UG_ERR_IO, "no results database at %s", s->path);
        else
            ug_error_set(e, UG_ERR_IO, "cannot open results db %s: %s", s->path, strerror(errno));
        return UG__STORE_APP_ERR;
    }
    if (!S_ISREG(sb.st_mode)) {
        ug_error_set(e, UG_ERR_IO, "results db %s: %s, not a database file", s->path, file_kind(sb.st_mode));
        return UG__STORE_APP_ERR;
    }
    return SQLITE_OK;
}

/* Whether PATH-suffix exists. */
static bool side_file(const char *path, const char *suffix) {
    char f[4200];
    struct stat sb;
    snprintf(f, sizeof f, "%s%s", path, suffix);
    return stat(f, &sb) == 0;
}

/* A read-only connection to a WAL database makes the -wal and -shm files it needs but cannot remove
 * them when it closes (only a connection that may write checkpoints and deletes them), so `unigfn ls`
 * would leave two files beside a database that had none. When there were none at open, close through
 * one writable connection that reads and writes nothing: SQLite removes the files only if it gets the
 * database's exclusive lock, i.e. when no other process has it open, and with no WAL frames there is
 * nothing to checkpoint, so the database file is not touched. */
static void tidy_wal(const char *path) {
    if (access(path, W_OK) != 0) return;
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK)
        sqlite3_exec(db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL);
    sqlite3_close_v2(db);
}

/* A read-only connection to a WAL database needs its -shm file; where the folder is not writable and
 * no writer has left one, SQLite cannot make it and every read fails (SQLITE_READONLY_DIRECTORY,
 * SQLITE_CANTOPEN). No process can be writing then (a writer needs the -wal and -shm files in that
 * folder), so the file alone is the whole database, unless a -wal with frames was left behind: those
 * changes cannot be read without a -shm, and showing the database without them would be wrong. */
static bool wants_immutable(int rc) {
#ifdef SQLITE_READONLY_DIRECTORY
    if (rc == SQLITE_READONLY_DIRECTORY || rc == SQLITE_READONLY_CANTINIT) return true;
#endif
    return (rc & 0xff) == SQLITE_CANTOPEN;  /* not SQLITE_READONLY_ROLLBACK: a hot journal is refused */
}

static int reopen_immutable(ug_store *s, ug_error *e) {
    char wal[4200];
    struct stat sb;
    snprintf(wal, sizeof wal, "%s-journal", s->path);
    if (stat(wal, &sb) == 0 && sb.st_size > 0) {
        ug_error_set(e, UG_ERR_STORE,
                     "results db %s: cannot read it here: %s holds a transaction that was cut off, which only "
                     "a writer can roll back, and this folder is not writable", s->path, wal);
        return UG__STORE_APP_ERR;
    }
    snprintf(wal, sizeof wal, "%s-wal", s->path);
    if (stat(wal, &sb) == 0 && sb.st_size > 0) {
        ug_error_set(e, UG_ERR_STORE,
                     "results db %s: cannot read it here: %s holds %lld bytes of changes not yet in the database, "
                     "and SQLite cannot read them without making %s-shm, which this folder does not allow; "
                     "make the folder writable, or read a copy of it made somewhere writable",
                     s->path, wal, (long long)sb.st_size, s->path);
        return UG__STORE_APP_ERR;
    }
    /* file:PATH?immutable=1, the path percent-encoded (it may hold '?', '#' or '%') */
    ug_sbuf uri = {0};
    ug_sbuf_put(&uri, "file:");
    for (const unsigned char *p = (const unsigned char *)s->path; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("/._-~", *p))
            ug_sbuf_putn(&uri, (const char *)p, 1);
        else
            ug_sbuf_printf(&uri, "%%%02X", *p);
    }
    ug_sbuf_put(&uri, "?immutable=1");
    if (uri.oom) {
        free(uri.s);
        ug_error_set(e, UG_ERR_NOMEM, "results db %s: out of memory", s->path);
        return UG__STORE_APP_ERR;
    }
    sqlite3_close_v2(s->db);
    s->db = NULL;
    int rc = sqlite3_open_v2(uri.s, &s->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL);
    free(uri.s);
    if (rc != SQLITE_OK) {
        ug_error_set(e, UG_ERR_STORE, "cannot open results db %s read-only: %s", s->path,
                     s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        return rc;
    }
    sqlite3_extended_result_codes(s->db, 1);
    return SQLITE_OK;
}

ug_status ug_store_open(const char *path, ug_store **out, ug_error *err) {
    return ug_store_open_as(path, UG_STORE_CREATE, out, err);
}

ug_status ug_store_open_as(const char *path, ug_store_mode mode, ug_store **out, ug_error *err) {
    if (!out) return ug_error_set(err, UG_ERR_ARG, "ug_store_open: out is NULL");
    *out = NULL;
    if (!path || !*path) return ug_error_set(err, UG_ERR_ARG, "ug_store_open: empty database path");
    if (mode != UG_STORE_CREATE && mode != UG_STORE_WRITE && mode != UG_STORE_READ)
        return ug_error_set(err, UG_ERR_ARG, "ug_store_open: unknown mode %d", (int)mode);
    ug_store *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path))) {
        free(s);
        return ug_error_set(err, UG_ERR_NOMEM, "ug_store_open: out of memory");
    }
    s->mode = mode;
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    /* Recursive: a query callback may call another read function on the same handle. */
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&s->mu, &ma);
    pthread_mutexattr_destroy(&ma);
    s->rng = ((uint64_t)getpid() << 32) ^ (uint64_t)(ug_wall_s() * 1e6) ^ (uint64_t)(uintptr_t)s;
    if (!s->rng) s->rng = 88172645463325252ull;

    ug_error e = {UG_OK, ""};
    if (check_path(s, &e) != SQLITE_OK) goto fail;
    s->tidy_wal = mode == UG_STORE_READ && !side_file(path, "-wal") && !side_file(path, "-shm");
    int flags = mode == UG_STORE_READ ? SQLITE_OPEN_READONLY
              : mode == UG_STORE_WRITE ? SQLITE_OPEN_READWRITE
                                       : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    int rc = sqlite3_open_v2(path, &s->db, flags, NULL);
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
    rc = read_schema_state(s, &version, &n_tables, &e);
    if (rc != SQLITE_OK && mode == UG_STORE_READ && wants_immutable(rc)) {
        e = (ug_error){UG_OK, ""};
        if (reopen_immutable(s, &e) != SQLITE_OK) goto fail;
        rc = read_schema_state(s, &version, &n_tables, &e);
    }
    if (rc != SQLITE_OK) goto fail;
    if (version != -1 || n_tables > 0) {
        if (check_version(s, version, n_tables, &e) != SQLITE_OK) goto fail;
    } else if (mode != UG_STORE_CREATE) {
        ug_error_set(&e, UG_ERR_STORE, "results db %s is empty: no unigfn results database there", path);
        goto fail;
    }
    s->version = version;
    if (mode == UG_STORE_READ) {
        *out = s;
        return UG_OK;
    }
    if (pragma_retry(s, "PRAGMA journal_mode=WAL", &e) != SQLITE_OK) goto fail;
    if (pragma_retry(s, "PRAGMA synchronous=NORMAL", &e) != SQLITE_OK) goto fail;
    if (pragma_retry(s, "PRAGMA foreign_keys=ON", &e) != SQLITE_OK) goto fail;
    if (version == -1 && ug__store_write_txn(s, create_schema_body, NULL, &e) != UG_OK) goto fail;
    /* After creating too: an older unigfn may have created the file first, between our two reads. */
    if (version < UG_STORE_SCHEMA_VERSION && ug__store_write_txn(s, upgrade_body, NULL, &e) != UG_OK) goto fail;
    s->version = UG_STORE_SCHEMA_VERSION;

    if (ug__store_prepare_metrics(s)) {
        ug__store_fail(s, &e, sqlite3_errcode(s->db), "prepare");
        goto fail;
    }
    *out = s;
    return UG_OK;

fail:
    if (e.code == UG_OK) ug_error_set(&e, UG_ERR_STORE, "cannot open results db %s", path);
    ug_store_close(s);
    return ug_error_set(err, e.code, "%s", e.msg);
}

void ug_store_close(ug_store *s) {
    if (!s) return;
    sqlite3_finalize(s->ins_metric);
    sqlite3_finalize(s->ups_summary);
    sqlite3_close_v2(s->db);
    if (s->tidy_wal && (side_file(s->path, "-wal") || side_file(s->path, "-shm"))) tidy_wal(s->path);
    pthread_mutex_destroy(&s->mu);
    free(s->path);
    free(s);
}

/* ---------------------------------------------------------------- argument checks */

ug_status ug__store_need(ug_store *s, const char *id, const char *fn, ug_error *err) {
    if (!s) return ug_error_set(err, UG_ERR_ARG, "%s: store is NULL", fn);
    if (!id || !*id) return ug_error_set(err, UG_ERR_ARG, "%s: empty run id", fn);
    return UG_OK;
}
