/* store_metrics.c — metric and artifact writes to the results store: a step's metric values with their
 * running summaries (the hot path: two statements prepared once per handle) and an artifact file's
 * row with its size and sha256. */
#include "unigfn/host/store.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "unigfn/host/sha256.h"
#include "unigfn/host/util.h"
#include "store/store_internal.h"

/* ---------------------------------------------------------------- metrics */

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

int ug__store_prepare_metrics(ug_store *s) {
    return sqlite3_prepare_v3(s->db, INS_METRIC_SQL, -1, SQLITE_PREPARE_PERSISTENT, &s->ins_metric, NULL) ||
           sqlite3_prepare_v3(s->db, UPS_SUMMARY_SQL, -1, SQLITE_PREPARE_PERSISTENT, &s->ups_summary, NULL);
}

typedef struct metrics_ctx {
    const char *id;
    int64_t step;
    int n;
    const char *const *keys;
    const double *values;
} metrics_ctx;

static int metrics_body(ug_store *s, void *vctx, ug_error *e) {
    metrics_ctx *c = vctx;
    double wall = ug_wall_s();
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
            ug__store_bind_text(st, 5, flag);
            if (k == 0) sqlite3_bind_double(st, 6, wall);
            int rc = sqlite3_step(st);
            if (rc == SQLITE_DONE) rc = SQLITE_OK;
            else if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) {
                ug_error_set(e, UG_ERR_STORE, "metric %s: no run %s in %s", c->keys[i], c->id, s->path);
                rc = UG__STORE_APP_ERR;
            } else ug__store_fail(s, e, rc, "inserting metric");
            sqlite3_reset(st);
            sqlite3_clear_bindings(st);
            if (rc != SQLITE_OK) return rc;
        }
    }
    return SQLITE_OK;
}

ug_status ug_store_metrics(ug_store *s, const char *id, int64_t step, int n, const char *const *keys,
                           const double *values, ug_error *err) {
    ug_status st = ug__store_need(s, id, "ug_store_metrics", err);
    if (st != UG_OK) return st;
    if (n < 0 || (n > 0 && (!keys || !values)))
        return ug_error_set(err, UG_ERR_ARG, "ug_store_metrics: bad arrays (n = %d)", n);
    for (int i = 0; i < n; i++)
        if (!keys[i] || !*keys[i])
            return ug_error_set(err, UG_ERR_ARG, "ug_store_metrics: metric %d has an empty key", i);
    if (n == 0) return UG_OK;
    metrics_ctx c = {id, step, n, keys, values};
    pthread_mutex_lock(&s->mu);
    st = ug__store_write_txn(s, metrics_body, &c, err);
    pthread_mutex_unlock(&s->mu);
    return st;
}

ug_status ug_store_metric(ug_store *s, const char *id, const char *key, int64_t step, double value,
                          ug_error *err) {
    return ug_store_metrics(s, id, step, 1, &key, &value, err);
}

/* ---------------------------------------------------------------- artifacts */

typedef struct artifact_ctx {
    const char *id, *path, *kind, *sha;
    int64_t step, bytes;
} artifact_ctx;

static int artifact_body(ug_store *s, void *vctx, ug_error *e) {
    artifact_ctx *c = vctx;
    sqlite3_stmt *st;
    int rc = ug__store_prep(s, "INSERT INTO artifacts(run, path, kind, step, bytes, sha256) "
                               "VALUES(?1, ?2, ?3, ?4, ?5, ?6)", &st, e);
    if (rc != SQLITE_OK) return rc;
    sqlite3_bind_text(st, 1, c->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, c->path, -1, SQLITE_STATIC);
    ug__store_bind_text(st, 3, c->kind);
    sqlite3_bind_int64(st, 4, c->step);
    sqlite3_bind_int64(st, 5, c->bytes);
    sqlite3_bind_text(st, 6, c->sha, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) rc = SQLITE_OK;
    else if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) {
        ug_error_set(e, UG_ERR_STORE, "artifact %s: no run %s in %s", c->path, c->id, s->path);
        rc = UG__STORE_APP_ERR;
    } else ug__store_fail(s, e, rc, "inserting artifact");
    sqlite3_finalize(st);
    return rc;
}

ug_status ug_store_artifact(ug_store *s, const char *id, const char *path, const char *kind,
                            int64_t step, ug_error *err) {
    ug_status st = ug__store_need(s, id, "ug_store_artifact", err);
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
    st = ug__store_write_txn(s, artifact_body, &c, err);
    pthread_mutex_unlock(&s->mu);
    return st;
}
