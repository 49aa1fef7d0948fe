/* store_runs.c — the run lifecycle in the results store: begin (new, restarted or skipped), queue,
 * resume from a checkpoint, copy another run's history (run --from), heartbeat, end, mark stale runs
 * crashed, and read a run's status. A begin that writes the row writes its provenance with it. Every write is one ug__store_write_txn (store_db.c). */
#include "unigfn/host/store.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unigfn/host/util.h"
#include "store/store_internal.h"

/* ---------------------------------------------------------------- argument checks */

static ug_status check_info(const ug_run_info *in, const char *fn, ug_error *err) {
    if (!in) return ug_error_set(err, UG_ERR_ARG, "%s: info is NULL", fn);
    if (!in->id || !*in->id) return ug_error_set(err, UG_ERR_ARG, "%s: empty run id", fn);
    if (!in->experiment || !*in->experiment)
        return ug_error_set(err, UG_ERR_ARG, "%s: run %s has no experiment name", fn, in->id);
    if (in->n_params < 0 || (in->n_params > 0 && (!in->param_keys || !in->param_values)))
        return ug_error_set(err, UG_ERR_ARG, "%s: bad params (n_params = %d)", fn, in->n_params);
    for (int i = 0; i < in->n_params; i++)
        if (!in->param_keys[i] || !*in->param_keys[i])
            return ug_error_set(err, UG_ERR_ARG, "%s: param %d has an empty key", fn, i);
    if (in->n_prov < 0 || (in->n_prov > 0 && !in->prov))
        return ug_error_set(err, UG_ERR_ARG, "%s: bad provenance (n_prov = %d)", fn, in->n_prov);
    return UG_OK;
}

/* ---------------------------------------------------------------- run lifecycle */

typedef struct begin_ctx {
    const ug_run_info *info;
    ug_run_status want;       /* RUNNING for begin, QUEUED for queue */
    ug_begin_outcome outcome;
} begin_ctx;

static int insert_params(ug_store *s, const ug_run_info *in, ug_error *e) {
    sqlite3_stmt *st;
    int rc = ug__store_prep(s, "INSERT INTO params(run, key, value) VALUES(?1, ?2, ?3)", &st, e);
    if (rc != SQLITE_OK) return rc;
    sqlite3_bind_text(st, 1, in->id, -1, SQLITE_STATIC);
    for (int i = 0; i < in->n_params && rc == SQLITE_OK; i++) {
        sqlite3_bind_text(st, 2, in->param_keys[i], -1, SQLITE_STATIC);
        ug__store_bind_text(st, 3, in->param_values[i]);
        rc = sqlite3_step(st);
        if (rc == SQLITE_DONE) rc = SQLITE_OK;
        else if (rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
            ug_error_set(e, UG_ERR_ARG, "run %s: duplicate param key '%s'", in->id, in->param_keys[i]);
            rc = UG__STORE_APP_ERR;
        } else ug__store_fail(s, e, rc, "inserting params");
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return rc;
}

/* Binds the columns shared by INSERT and restart UPDATE: ?1 id, ?2 experiment, ?3 spec, ?4 now,
 * ?5 seed, ?6 git_rev, ?7 host, ?8 build, ?9 threads, ?10 status, ?11 blas, ?12 init_from. */
static void bind_run_cols(sqlite3_stmt *st, const ug_run_info *in, double now, ug_run_status status) {
    sqlite3_bind_text(st, 1, in->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, in->experiment, -1, SQLITE_STATIC);
    ug__store_bind_text(st, 3, in->spec);
    sqlite3_bind_double(st, 4, now);
    sqlite3_bind_int64(st, 5, in->seed);
    ug__store_bind_text(st, 6, in->git_rev);
    ug__store_bind_text(st, 7, in->host);
    ug__store_bind_text(st, 8, in->build);
    sqlite3_bind_int(st, 9, in->threads);
    sqlite3_bind_text(st, 10, ug_run_status_name(status), -1, SQLITE_STATIC);
    ug__store_bind_text(st, 11, in->blas);
    ug__store_bind_text(st, 12, in->init_from);
}

static int begin_body(ug_store *s, void *vctx, ug_error *e) {
    begin_ctx *c = vctx;
    const ug_run_info *in = c->info;
    double now = ug_wall_s();
    sqlite3_stmt *st;
    int rc = ug__store_prep(s, "INSERT OR IGNORE INTO experiments(name, created) VALUES(?1, ?2)", &st, e);
    if (rc != SQLITE_OK) return rc;
    sqlite3_bind_text(st, 1, in->experiment, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 2, now);
    rc = ug__store_run_stmt(s, st, e, "inserting experiment");
    sqlite3_finalize(st);
    if (rc != SQLITE_OK) return rc;

    ug_run_status cur = UG_RUN_ABSENT;
    if ((rc = ug__store_prep(s, "SELECT status FROM runs WHERE id = ?1", &st, e)) != SQLITE_OK) return rc;
    sqlite3_bind_text(st, 1, in->id, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) cur = ug_run_status_from_name((const char *)sqlite3_column_text(st, 0));
    if (rc == SQLITE_ROW || rc == SQLITE_DONE) rc = SQLITE_OK;
    else ug__store_fail(s, e, rc, "reading run status");
    sqlite3_finalize(st);
    if (rc != SQLITE_OK) return rc;

    if (c->want == UG_RUN_QUEUED && cur != UG_RUN_ABSENT) {
        c->outcome = UG_BEGIN_BUSY; /* unused by queue: exists, leave it */
        return SQLITE_OK;
    }
    if (cur == UG_RUN_ABSENT) {
        c->outcome = UG_BEGIN_NEW;
        rc = ug__store_prep(s, "INSERT INTO runs(id, experiment, spec, created, started, heartbeat, step, seed, "
                               "git_rev, host, build, threads, status, blas, init_from) "
                               "VALUES(?1, ?2, ?3, ?4, CASE WHEN ?10 = 'RUNNING' THEN ?4 END, "
                               "CASE WHEN ?10 = 'RUNNING' THEN ?4 END, 0, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)", &st, e);
        if (rc != SQLITE_OK) return rc;
        bind_run_cols(st, in, now, c->want);
        rc = ug__store_run_stmt(s, st, e, "inserting run");
        sqlite3_finalize(st);
        if (rc != SQLITE_OK || (rc = insert_params(s, in, e)) != SQLITE_OK) return rc;
        return ug__store_put_provenance(s, in->id, in->prov, in->n_prov, e);
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
        if ((rc = ug__store_exec_bound(s, wipe[i], in->id, NULL, 0, 0, e, "clearing old run")) != SQLITE_OK)
            return rc;
    rc = ug__store_prep(s, "UPDATE runs SET experiment = ?2, spec = ?3, started = ?4, heartbeat = ?4, ended = NULL, "
                           "error = NULL, step = 0, seed = ?5, git_rev = ?6, host = ?7, build = ?8, threads = ?9, "
                           "status = ?10, blas = ?11, init_from = ?12 WHERE id = ?1", &st, e);
    if (rc != SQLITE_OK) return rc;
    bind_run_cols(st, in, now, UG_RUN_RUNNING);
    rc = ug__store_run_stmt(s, st, e, "restarting run");
    sqlite3_finalize(st);
    if (rc != SQLITE_OK || (rc = insert_params(s, in, e)) != SQLITE_OK) return rc;
    return ug__store_put_provenance(s, in->id, in->prov, in->n_prov, e);
}

ug_status ug_store_run_begin(ug_store *s, const ug_run_info *info, ug_begin_outcome *outcome,
                             ug_error *err) {
    if (!s) return ug_error_set(err, UG_ERR_ARG, "ug_store_run_begin: store is NULL");
    ug_status st = check_info(info, "ug_store_run_begin", err);
    if (st != UG_OK) return st;
    begin_ctx c = {info, UG_RUN_RUNNING, UG_BEGIN_NEW};
    pthread_mutex_lock(&s->mu);
    st = ug__store_write_txn(s, begin_body, &c, err);
    pthread_mutex_unlock(&s->mu);
    if (st != UG_OK) return st;
    if (outcome) *outcome = c.outcome;
    else if (c.outcome == UG_BEGIN_FINISHED)
        return ug_error_set(err, UG_ERR_STORE, "run %s is already FINISHED", info->id);
    else if (c.outcome == UG_BEGIN_BUSY)
        return ug_error_set(err, UG_ERR_STORE, "run %s is already RUNNING", info->id);
    return UG_OK;
}

ug_status ug_store_run_queue(ug_store *s, const ug_run_info *info, ug_error *err) {
    if (!s) return ug_error_set(err, UG_ERR_ARG, "ug_store_run_queue: store is NULL");
    ug_status st = check_info(info, "ug_store_run_queue", err);
    if (st != UG_OK) return st;
    begin_ctx c = {info, UG_RUN_QUEUED, UG_BEGIN_NEW};
    pthread_mutex_lock(&s->mu);
    st = ug__store_write_txn(s, begin_body, &c, err);
    pthread_mutex_unlock(&s->mu);
    return st;
}

/* Rebuilds a run's summary from its metric rows (aggregate min/max skip the NULL non-finite values). */
static int rebuild_summary(ug_store *s, const char *id, ug_error *e) {
    int rc = ug__store_exec_bound(s, "DELETE FROM summary WHERE run = ?1", id, NULL, 0, 0, e, "clearing summary");
    if (rc != SQLITE_OK) return rc;
    return ug__store_exec_bound(s,
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

static int resume_body(ug_store *s, void *vctx, ug_error *e) {
    resume_ctx *c = vctx;
    sqlite3_stmt *st;
    int rc = ug__store_prep(s, "SELECT status, step, heartbeat FROM runs WHERE id = ?1", &st, e);
    if (rc != SQLITE_OK) return rc;
    sqlite3_bind_text(st, 1, c->id, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        ug_error_set(e, UG_ERR_STORE, "no run %s in %s", c->id, s->path);
        rc = UG__STORE_APP_ERR;
    } else if (rc == SQLITE_ROW) {
        ug_run_status cur = ug_run_status_from_name((const char *)sqlite3_column_text(st, 0));
        c->prev_step = sqlite3_column_int64(st, 1);
        if (cur == UG_RUN_RUNNING) {
            ug_error_set(e, UG_ERR_STORE, "run %s is RUNNING (last heartbeat %.0f s ago); if its process "
                         "is gone, mark it crashed before resuming", c->id,
                         ug_wall_s() - ug__store_col_time(st, 2));
            rc = UG__STORE_APP_ERR;
        } else {
            rc = SQLITE_OK;
        }
    } else {
        ug__store_fail(s, e, rc, "reading run");
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_OK) return rc;

    if ((rc = ug__store_exec_bound(s, "DELETE FROM metrics WHERE run = ?1 AND step > ?2", c->id, NULL, 2,
                                   c->from_step, e, "trimming metrics")) != SQLITE_OK ||
        (rc = ug__store_exec_bound(s, "DELETE FROM artifacts WHERE run = ?1 AND step > ?2", c->id, NULL, 2,
                                   c->from_step, e, "trimming artifacts")) != SQLITE_OK ||
        (rc = rebuild_summary(s, c->id, e)) != SQLITE_OK)
        return rc;
    rc = ug__store_prep(s, "UPDATE runs SET status = 'RUNNING', error = NULL, ended = NULL, heartbeat = ?2, "
                           "step = ?3, threads = CASE WHEN ?4 > 0 THEN ?4 ELSE threads END WHERE id = ?1", &st, e);
    if (rc != SQLITE_OK) return rc;
    sqlite3_bind_text(st, 1, c->id, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 2, ug_wall_s());
    sqlite3_bind_int64(st, 3, c->from_step);
    sqlite3_bind_int(st, 4, c->threads);
    rc = ug__store_run_stmt(s, st, e, "resuming run");
    sqlite3_finalize(st);
    return rc;
}

ug_status ug_store_run_resume(ug_store *s, const char *id, int64_t from_step, int threads,
                              int64_t *prev_step_out, ug_error *err) {
    ug_status st = ug__store_need(s, id, "ug_store_run_resume", err);
    if (st != UG_OK) return st;
    resume_ctx c = {id, from_step, 0, threads};
    pthread_mutex_lock(&s->mu);
    st = ug__store_write_txn(s, resume_body, &c, err);
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

static int history_body(ug_store *s, void *vctx, ug_error *e) {
    history_ctx *c = vctx;
    sqlite3_stmt *st;
    int rc = ug__store_prep(s, "SELECT (SELECT status FROM runs WHERE id = ?1), "
                               "(SELECT status FROM runs WHERE id = ?2)", &st, e);
    if (rc != SQLITE_OK) return rc;
    sqlite3_bind_text(st, 1, c->dst, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, c->src, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *d = (const char *)sqlite3_column_text(st, 0), *f = (const char *)sqlite3_column_text(st, 1);
        rc = SQLITE_OK;
        if (!d || !f) {
            ug_error_set(e, UG_ERR_STORE, "copying history: no run %s in %s", d ? c->src : c->dst, s->path);
            rc = UG__STORE_APP_ERR;
        } else if (strcmp(d, "RUNNING") != 0) {
            ug_error_set(e, UG_ERR_STORE, "copying history into run %s: it is %s, not a just-begun RUNNING run",
                         c->dst, d);
            rc = UG__STORE_APP_ERR;
        }
    } else {
        ug__store_fail(s, e, rc, "reading runs");
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_OK) return rc;

    if ((rc = ug__store_exec_bound(s, "DELETE FROM metrics WHERE run = ?1", c->dst, NULL, 0, 0, e,
                                   "clearing metrics")) != SQLITE_OK ||
        (rc = ug__store_exec_bound(s, "DELETE FROM artifacts WHERE run = ?1", c->dst, NULL, 0, 0, e,
                                   "clearing artifacts")) != SQLITE_OK ||
        (rc = ug__store_exec_bound(s, "INSERT INTO metrics(run, key, step, value, flag, wall) "
                                      "SELECT ?1, key, step, value, flag, wall FROM metrics "
                                      "WHERE run = ?2 AND step < ?3 ORDER BY rowid",
                                   c->dst, c->src, 3, c->step, e, "copying metrics")) != SQLITE_OK ||
        (rc = ug__store_exec_bound(s, "INSERT INTO artifacts(run, path, kind, step, bytes, sha256) "
                                      "SELECT ?1, path, kind, step, bytes, sha256 FROM artifacts "
                                      "WHERE run = ?2 AND step < ?3 ORDER BY rowid",
                                   c->dst, c->src, 3, c->step, e, "copying artifacts")) != SQLITE_OK)
        return rc;
    rc = ug__store_prep(s, "INSERT INTO metrics(run, key, step, value, flag, wall) "
                           "SELECT ?1, key, step, value, flag, wall FROM metrics "
                           "WHERE run = ?2 AND step = ?3 AND key GLOB ?4", &st, e);
    if (rc != SQLITE_OK) return rc;
    sqlite3_bind_text(st, 1, c->dst, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, c->src, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, c->step);
    for (int i = 0; i < c->n_keys && rc == SQLITE_OK; i++) {
        ug__store_bind_text(st, 4, c->keys_at_step[i]);
        rc = ug__store_run_stmt(s, st, e, "copying metrics at the fork step");
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_OK || (rc = rebuild_summary(s, c->dst, e)) != SQLITE_OK) return rc;
    char from[160];
    snprintf(from, sizeof from, "%s@%lld", c->src, (long long)c->step);
    if ((rc = ug__store_exec_bound(s, "INSERT OR REPLACE INTO params(run, key, value) VALUES (?1, 'from_run', ?2)",
                                   c->dst, from, 0, 0, e, "recording from_run")) != SQLITE_OK)
        return rc;
    return ug__store_exec_bound(s, "UPDATE runs SET step = ?2 WHERE id = ?1", c->dst, NULL, 2, c->step, e,
                                "setting step");
}

ug_status ug_store_copy_history(ug_store *s, const char *dst, const char *src, int64_t step,
                                const char *const *keys_at_step, int n_keys, ug_error *err) {
    ug_status st = ug__store_need(s, dst, "ug_store_copy_history", err);
    if (st == UG_OK) st = ug__store_need(s, src, "ug_store_copy_history", err);
    if (st != UG_OK) return st;
    if (strcmp(dst, src) == 0)
        return ug_error_set(err, UG_ERR_ARG, "ug_store_copy_history: run %s is its own source", dst);
    if (n_keys < 0 || (n_keys > 0 && !keys_at_step))
        return ug_error_set(err, UG_ERR_ARG, "ug_store_copy_history: %d keys at the step but no list", n_keys);
    history_ctx c = {dst, src, step, keys_at_step, n_keys};
    pthread_mutex_lock(&s->mu);
    st = ug__store_write_txn(s, history_body, &c, err);
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

static int update_body(ug_store *s, void *vctx, ug_error *e) {
    update_ctx *c = vctx;
    sqlite3_stmt *st;
    int rc = ug__store_prep(s, c->sql, &st, e);
    if (rc != SQLITE_OK) return rc;
    sqlite3_bind_text(st, 1, c->id, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 2, c->d);
    sqlite3_bind_int64(st, 3, c->i);
    if (sqlite3_bind_parameter_count(st) >= 4) ug__store_bind_text(st, 4, c->t4);
    if (sqlite3_bind_parameter_count(st) >= 5) ug__store_bind_text(st, 5, c->t5);
    rc = ug__store_run_stmt(s, st, e, c->what);
    sqlite3_finalize(st);
    if (rc == SQLITE_OK && sqlite3_changes(s->db) == 0) {
        ug_error_set(e, UG_ERR_STORE, "%s: no run %s in %s", c->what, c->id, s->path);
        rc = UG__STORE_APP_ERR;
    }
    return rc;
}

ug_status ug_store_heartbeat(ug_store *s, const char *id, int64_t step, ug_error *err) {
    ug_status st = ug__store_need(s, id, "ug_store_heartbeat", err);
    if (st != UG_OK) return st;
    update_ctx c = {"UPDATE runs SET heartbeat = ?2, step = ?3,"
                    "  error = CASE WHEN status = 'CRASHED' THEN NULL ELSE error END,"
                    "  ended = CASE WHEN status = 'CRASHED' THEN NULL ELSE ended END,"
                    "  status = CASE WHEN status = 'CRASHED' THEN 'RUNNING' ELSE status END "
                    "WHERE id = ?1",
                    id, "heartbeat", ug_wall_s(), step, NULL, NULL};
    pthread_mutex_lock(&s->mu);
    st = ug__store_write_txn(s, update_body, &c, err);
    pthread_mutex_unlock(&s->mu);
    return st;
}

ug_status ug_store_run_set_blas(ug_store *s, const char *id, const char *blas, ug_error *err) {
    ug_status st = ug__store_need(s, id, "ug_store_run_set_blas", err);
    if (st != UG_OK) return st;
    update_ctx c = {"UPDATE runs SET blas = ?4 WHERE id = ?1", id, "recording the BLAS", 0, 0, blas, NULL};
    pthread_mutex_lock(&s->mu);
    st = ug__store_write_txn(s, update_body, &c, err);
    pthread_mutex_unlock(&s->mu);
    return st;
}

ug_status ug_store_run_end(ug_store *s, const char *id, ug_run_status status, const char *error,
                           int64_t step, ug_error *err) {
    ug_status st = ug__store_need(s, id, "ug_store_run_end", err);
    if (st != UG_OK) return st;
    if (status != UG_RUN_FINISHED && status != UG_RUN_FAILED && status != UG_RUN_KILLED &&
        status != UG_RUN_CRASHED)
        return ug_error_set(err, UG_ERR_ARG, "ug_store_run_end: %s is not a final status",
                            ug_run_status_name(status));
    update_ctx c = {"UPDATE runs SET status = ?4, error = ?5, ended = ?2, heartbeat = ?2, step = ?3 "
                    "WHERE id = ?1",
                    id, "ending run", ug_wall_s(), step, ug_run_status_name(status), error};
    pthread_mutex_lock(&s->mu);
    st = ug__store_write_txn(s, update_body, &c, err);
    pthread_mutex_unlock(&s->mu);
    return st;
}

typedef struct crash_ctx {
    double stale;
    ug_run_live_fn live;  /* NULL: every stale RUNNING run */
    void *user;
    int n;
} crash_ctx;

static int crash_body(ug_store *s, void *vctx, ug_error *e) {
    crash_ctx *c = vctx;
    char msg[128];
    snprintf(msg, sizeof msg, "no heartbeat for more than %g s: the process died or hung", c->stale);
    double before = ug_wall_s() - c->stale;
    c->n = 0;
    /* The stale RUNNING runs, each asked about (its process may be alive and merely silent: a long
     * evaluation beats no heartbeat), then marked one by one with the same staleness condition. */
    char **ids = NULL;
    int n_ids = 0, cap = 0;
    sqlite3_stmt *st;
    int rc = ug__store_prep(s, "SELECT id FROM runs WHERE status = 'RUNNING' AND (heartbeat IS NULL OR heartbeat < ?1)",
                            &st, e);
    if (rc != SQLITE_OK) return rc;
    sqlite3_bind_double(st, 1, before);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n_ids == cap) {
            int nc = cap ? 2 * cap : 16;
            char **g = realloc(ids, (size_t)nc * sizeof *g);
            if (!g) { rc = SQLITE_NOMEM; break; }
            ids = g, cap = nc;
        }
        if (!(ids[n_ids] = ug__store_col_dup(st, 0))) { rc = SQLITE_NOMEM; break; }
        n_ids++;
    }
    if (rc == SQLITE_DONE) rc = SQLITE_OK;
    else if (!ug__store_is_busy(rc)) ug__store_fail(s, e, rc, "reading running runs");
    sqlite3_finalize(st);
    st = NULL;
    if (rc == SQLITE_OK)
        rc = ug__store_prep(s, "UPDATE runs SET status = 'CRASHED', ended = heartbeat, error = coalesce(error, ?2) "
                               "WHERE id = ?3 AND status = 'RUNNING' AND (heartbeat IS NULL OR heartbeat < ?1)", &st, e);
    for (int i = 0; rc == SQLITE_OK && i < n_ids; i++) {
        if (c->live && c->live(c->user, ids[i])) continue;
        sqlite3_bind_double(st, 1, before);
        sqlite3_bind_text(st, 2, msg, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, ids[i], -1, SQLITE_STATIC);
        rc = ug__store_run_stmt(s, st, e, "marking crashed runs");
        if (rc == SQLITE_OK) c->n += sqlite3_changes(s->db);
    }
    sqlite3_finalize(st);
    for (int i = 0; i < n_ids; i++) free(ids[i]);
    free(ids);
    return rc;
}

ug_status ug_store_mark_crashed_unless(ug_store *s, double stale_seconds, ug_run_live_fn live, void *user,
                                       int *n_marked, ug_error *err) {
    if (!s) return ug_error_set(err, UG_ERR_ARG, "ug_store_mark_crashed: store is NULL");
    if (!(stale_seconds >= 0))
        return ug_error_set(err, UG_ERR_ARG, "ug_store_mark_crashed: stale_seconds must be >= 0");
    crash_ctx c = {stale_seconds, live, user, 0};
    pthread_mutex_lock(&s->mu);
    ug_status st = ug__store_write_txn(s, crash_body, &c, err);
    pthread_mutex_unlock(&s->mu);
    if (n_marked) *n_marked = st == UG_OK ? c.n : 0;
    return st;
}

ug_status ug_store_mark_crashed(ug_store *s, double stale_seconds, int *n_marked, ug_error *err) {
    return ug_store_mark_crashed_unless(s, stale_seconds, NULL, NULL, n_marked, err);
}

ug_status ug_store_run_status(ug_store *s, const char *id, ug_run_status *status, ug_error *err) {
    ug_status st = ug__store_need(s, id, "ug_store_run_status", err);
    if (st != UG_OK) return st;
    if (!status) return ug_error_set(err, UG_ERR_ARG, "ug_store_run_status: status is NULL");
    *status = UG_RUN_ABSENT;
    ug_error e = {UG_OK, ""};
    sqlite3_stmt *q;
    pthread_mutex_lock(&s->mu);
    int rc = ug__store_prep(s, "SELECT status FROM runs WHERE id = ?1", &q, &e);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
        rc = ug__store_step_read(s, q, 0);
        if (rc == SQLITE_ROW) *status = ug_run_status_from_name((const char *)sqlite3_column_text(q, 0));
        if (rc == SQLITE_ROW || rc == SQLITE_DONE) rc = SQLITE_OK;
        else ug__store_fail(s, &e, rc, "reading run status");
        sqlite3_finalize(q);
    }
    pthread_mutex_unlock(&s->mu);
    return rc == SQLITE_OK ? UG_OK : ug_error_set(err, UG_ERR_STORE, "%s", e.msg);
}
