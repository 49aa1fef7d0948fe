/* store_merge.c — merging a shard database into the results store (`unigfn db merge`, Slurm sweeps):
 * the shard is attached and its runs copied, in one write transaction, when they are new here or
 * further along than the copy here. Tags and notes, which a person adds to either copy, are kept from
 * both: the tags of both copies, and the note of the copy kept unless it has none. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* realpath */
#endif
#include "unigfn/host/store.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store_internal.h"

#define MERGE_RANK(t) "CASE " t ".status WHEN 'FINISHED' THEN 4 WHEN 'RUNNING' THEN 2 WHEN 'QUEUED' THEN 1 ELSE 3 END"
#define MERGE_TIME(t) "coalesce(" t ".ended, " t ".heartbeat, " t ".created, 0)"
#define RUN_COLS "id, experiment, status, error, spec, created, started, ended, heartbeat, step, seed, " \
                 "git_rev, host, build, threads, blas, note, init_from"

typedef struct merge_ctx {
    ug_merge_stats st;
} merge_ctx;

static int merge_count(ug_store *s, const char *sql, int64_t *a, int64_t *b, ug_error *e) {
    sqlite3_stmt *q;
    int rc = ug__store_prep(s, sql, &q, e);
    if (rc != SQLITE_OK) return rc;
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        *a = sqlite3_column_int64(q, 0);
        if (b) *b = sqlite3_column_int64(q, 1);
        rc = SQLITE_OK;
    } else {
        ug__store_fail(s, e, rc, "merge: counting");
    }
    sqlite3_finalize(q);
    return rc;
}

static int merge_body(ug_store *s, void *vctx, ug_error *e) {
    merge_ctx *c = vctx;
    static const char *const steps[] = {
        "DROP TABLE IF EXISTS temp.ug_merge_pick",
        /* the shard's runs that are new here, or further along / newer than the copy here */
        "CREATE TEMP TABLE ug_merge_pick AS SELECT r.id AS id, (m.id IS NULL) AS is_new "
        "FROM shard.runs r LEFT JOIN main.runs m ON m.id = r.id "
        "WHERE m.id IS NULL OR " MERGE_RANK("r") " > " MERGE_RANK("m") " OR (" MERGE_RANK("r") " = " MERGE_RANK("m")
        " AND " MERGE_TIME("r") " > " MERGE_TIME("m") ")",
        "INSERT OR IGNORE INTO main.experiments(name, created) SELECT name, created FROM shard.experiments",
        /* what a person added here to a run about to be replaced: its tags and note stay (below) */
        "DROP TABLE IF EXISTS temp.ug_merge_tags",
        "CREATE TEMP TABLE ug_merge_tags AS SELECT run, tag FROM main.tags "
        "WHERE run IN (SELECT id FROM temp.ug_merge_pick)",
        "DROP TABLE IF EXISTS temp.ug_merge_note",
        "CREATE TEMP TABLE ug_merge_note AS SELECT id, note FROM main.runs "
        "WHERE note IS NOT NULL AND id IN (SELECT id FROM temp.ug_merge_pick)",
        /* ON DELETE CASCADE removes the old params, metrics, summary, artifacts and tags */
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
        /* tags: both copies' of every run of the shard; the note: the picked copy's, else the other's */
        "INSERT OR IGNORE INTO main.tags(run, tag) SELECT run, tag FROM temp.ug_merge_tags",
        "INSERT OR IGNORE INTO main.tags(run, tag) SELECT run, tag FROM shard.tags "
        "WHERE run IN (SELECT id FROM main.runs)",
        "UPDATE main.runs SET note = (SELECT n.note FROM temp.ug_merge_note n WHERE n.id = runs.id) "
        "WHERE note IS NULL AND id IN (SELECT id FROM temp.ug_merge_note)",
        "UPDATE main.runs SET note = (SELECT r.note FROM shard.runs r WHERE r.id = runs.id) "
        "WHERE note IS NULL AND id IN (SELECT id FROM shard.runs WHERE note IS NOT NULL)",
        "DROP TABLE temp.ug_merge_tags",
        "DROP TABLE temp.ug_merge_note",
        "INSERT INTO main.provenance(run, kind, name, path, version, sha256) "
        "SELECT run, kind, name, path, version, sha256 FROM shard.provenance "
        "WHERE run IN (SELECT id FROM temp.ug_merge_pick)",
    };
    memset(&c->st, 0, sizeof c->st);
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        int rc = sqlite3_exec(s->db, steps[i], NULL, NULL, NULL);
        if (rc != SQLITE_OK) return ug__store_fail(s, e, rc, "merge");
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
    return rc == SQLITE_OK ? rc : ug__store_fail(s, e, rc, "merge");
}

ug_status ug_store_merge(ug_store *s, const char *shard_path, ug_merge_stats *stats, ug_error *err) {
    if (!s || !shard_path || !*shard_path)
        return ug_error_set(err, UG_ERR_ARG, "ug_store_merge: no store or shard path");
    if (access(shard_path, R_OK) != 0)
        return ug_error_set(err, UG_ERR_IO, "shard %s: %s", shard_path, strerror(errno));
    char a[4096], b[4096];
    if (realpath(shard_path, a) && realpath(s->path, b) && strcmp(a, b) == 0)
        return ug_error_set(err, UG_ERR_ARG, "shard %s is the output database itself", shard_path);
    /* Opening it through the store checks that it is a unigfn database of a schema we can read (an
     * empty file is not one) and upgrades an older one, which the copy below needs; it creates nothing. */
    ug_store *shard = NULL;
    ug_status st = ug_store_open_as(shard_path, UG_STORE_WRITE, &shard, err);
    ug_store_close(shard);
    if (st != UG_OK) return st;
    merge_ctx c;
    memset(&c, 0, sizeof c);
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *q;
    ug_error e = {UG_OK, ""};
    int rc = ug__store_prep(s, "ATTACH DATABASE ?1 AS shard", &q, &e);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(q, 1, shard_path, -1, SQLITE_STATIC);
        rc = ug__store_run_stmt(s, q, &e, "attaching shard");
        sqlite3_finalize(q);
    }
    if (rc == SQLITE_OK) {
        st = ug__store_write_txn(s, merge_body, &c, err);
        sqlite3_exec(s->db, "DETACH DATABASE shard", NULL, NULL, NULL);
    } else {
        st = ug_error_set(err, UG_ERR_STORE, "%s", e.code ? e.msg : "merge: cannot attach the shard");
    }
    pthread_mutex_unlock(&s->mu);
    if (st == UG_OK && stats) *stats = c.st;
    return st;
}
