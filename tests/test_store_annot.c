/* test_store_annot.c — tags, notes and deleting runs in the results store (store_annot.c, schema 3):
 * tags are added once, removed all-or-nothing and read back sorted; a note is replaced and removed; a
 * restart keeps both; deleting a run removes every row naming it (checked table by table) and its
 * experiment once empty; a schema-2 database reads as it is read-only and upgrades
 * on a write open; a merge keeps the tags of both copies and the note of the kept one. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mkdtemp */
#endif
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "unigfn/host/store.h"

static char g_dir[64];

static long long raw_count(const char *db, const char *sql) {
    sqlite3 *h;
    sqlite3_stmt *st;
    long long n = -1;
    if (sqlite3_open(db, &h) != SQLITE_OK) return -1;
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(h);
    return n;
}

static int raw_sql(const char *db, const char *sql) {
    sqlite3 *h;
    if (sqlite3_open(db, &h) != SQLITE_OK) return -1;
    int rc = sqlite3_exec(h, sql, NULL, NULL, NULL);
    sqlite3_close(h);
    return rc;
}

/* A FINISHED run `id` of experiment `ex` with two params, a metric and an artifact. */
static void make_run(ug_store *st, const char *id, const char *ex, bool force) {
    static const char *const keys[] = {"model", "seed"};
    static const char *const vals[] = {"m", "1"};
    ug_run_info in = {.id = id, .experiment = ex, .spec = "model: m\n", .param_keys = keys, .param_values = vals,
                      .n_params = 2, .seed = 1, .force = force};
    ug_error e = {0};
    ug_begin_outcome oc;
    CHECK(ug_store_run_begin(st, &in, &oc, &e) == UG_OK, "begin %s: %s", id, e.msg);
    CHECK(ug_store_metric(st, id, "loss", 1, 0.5, &e) == UG_OK, "metric: %s", e.msg);
    char art[128];
    snprintf(art, sizeof art, "%s/%s.txt", g_dir, id);
    FILE *f = fopen(art, "w");
    if (f) fputs("x\n", f), fclose(f);
    CHECK(ug_store_artifact(st, id, art, "txt", 1, &e) == UG_OK, "artifact: %s", e.msg);
    CHECK(ug_store_run_end(st, id, UG_RUN_FINISHED, NULL, 1, &e) == UG_OK, "end: %s", e.msg);
}

/* The run's tags joined by commas and its note, as "a,b|note" ("|" alone for none). */
static void tags_of(ug_store *st, const char *id, char *out, size_t cap) {
    ug_run_record *r = NULL;
    ug_error e = {0};
    snprintf(out, cap, "?");
    if (ug_store_get_run(st, id, &r, &e)) return;
    size_t n = 0;
    out[0] = 0;
    for (int i = 0; i < r->n_tags; i++) n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? "," : "", r->tags[i]);
    snprintf(out + n, cap - n, "|%s", r->note ? r->note : "");
    ug_run_record_free(r);
}

static void test_tags_and_note(const char *db) {
    ug_store *st = NULL;
    ug_error e = {0};
    CHECK(ug_store_open(db, &st, &e) == UG_OK, "open: %s", e.msg);
    if (!st) return;
    make_run(st, "r1", "ex", false);
    char got[256];
    const char *add[] = {"zeta", "best", "best"};
    CHECK(ug_store_tag(st, "r1", add, 3, NULL, 0, &e) == UG_OK, "tag: %s", e.msg);
    tags_of(st, "r1", got, sizeof got);
    CHECK(strcmp(got, "best,zeta|") == 0, "tags sorted, once each: %s", got);
    const char *rm_bad[] = {"zeta", "nope"};
    ug_error e2 = {0};
    CHECK(ug_store_tag(st, "r1", NULL, 0, rm_bad, 2, &e2) == UG_ERR_ARG && strstr(e2.msg, "run r1 has no tag 'nope'"),
          "removing a tag the run lacks: %s", e2.msg);
    tags_of(st, "r1", got, sizeof got);
    CHECK(strcmp(got, "best,zeta|") == 0, "... changes nothing (zeta stays): %s", got);
    const char *bad[] = {"two words"};
    ug_error e3 = {0};
    CHECK(ug_store_tag(st, "r1", bad, 1, NULL, 0, &e3) == UG_ERR_ARG && strstr(e3.msg, "a space"), "a bad tag: %s",
          e3.msg);
    CHECK(ug_store_tag_check("a,b", &e3) == UG_ERR_ARG && ug_store_tag_check("-x", &e3) == UG_ERR_ARG &&
              ug_store_tag_check("", &e3) == UG_ERR_ARG && ug_store_tag_check("bad\x1b", &e3) == UG_ERR_ARG &&
              ug_store_tag_check("lr-1e-3_v2", &e3) == UG_OK && ug_store_tag_check("résumé", &e3) == UG_OK,
          "tag_check");
    const char *rm_ok[] = {"zeta"}, *add2[] = {"v2"};
    CHECK(ug_store_tag(st, "r1", add2, 1, rm_ok, 1, &e) == UG_OK, "add and remove at once: %s", e.msg);
    CHECK(ug_store_set_note(st, "r1", "first note", &e) == UG_OK && ug_store_set_note(st, "r1", "second", &e) == UG_OK,
          "note: %s", e.msg);
    tags_of(st, "r1", got, sizeof got);
    CHECK(strcmp(got, "best,v2|second") == 0, "tags and the replaced note: %s", got);
    ug_error e4 = {0}, e5 = {0};
    CHECK(ug_store_set_note(st, "ghost", "x", &e4) == UG_ERR_STORE && strstr(e4.msg, "no run ghost"), "%s", e4.msg);
    CHECK(ug_store_tag(st, "ghost", add2, 1, NULL, 0, &e5) == UG_ERR_STORE && strstr(e5.msg, "no run ghost"), "%s",
          e5.msg);
    /* a restart (run --force) replaces the results, not what a person wrote on the run */
    make_run(st, "r1", "ex", true);
    tags_of(st, "r1", got, sizeof got);
    CHECK(strcmp(got, "best,v2|second") == 0, "a restart keeps tags and note: %s", got);
    CHECK(ug_store_set_note(st, "r1", "", &e) == UG_OK, "remove the note: %s", e.msg);
    tags_of(st, "r1", got, sizeof got);
    CHECK(strcmp(got, "best,v2|") == 0, "note removed: %s", got);
    ug_store_close(st);
}

static void test_delete(const char *db) {
    ug_store *st = NULL;
    ug_error e = {0};
    CHECK(ug_store_open(db, &st, &e) == UG_OK, "open: %s", e.msg);
    if (!st) return;
    make_run(st, "d1", "gone", false);
    make_run(st, "d2", "kept", false);
    make_run(st, "d3", "kept", false);
    const char *t[] = {"x"};
    CHECK(ug_store_tag(st, "d1", t, 1, NULL, 0, &e) == UG_OK && ug_store_tag(st, "d2", t, 1, NULL, 0, &e) == UG_OK,
          "%s", e.msg);
    CHECK(ug_store_delete_run(st, "d1", &e) == UG_OK && ug_store_delete_run(st, "d2", &e) == UG_OK, "delete: %s", e.msg);
    static const char *const tables[] = {"params", "metrics", "summary", "artifacts", "tags"};
    for (int i = 0; i < 5; i++) {
        char sql[128];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM %s WHERE run IN ('d1', 'd2')", tables[i]);
        CHECK(raw_count(db, sql) == 0, "no %s row of a deleted run", tables[i]);
        snprintf(sql, sizeof sql, "SELECT count(*) FROM %s WHERE run = 'd3'", tables[i]);
        CHECK(raw_count(db, sql) == (i == 4 ? 0 : i == 0 ? 2 : 1), "the other run's %s rows stay", tables[i]);
    }
    CHECK(raw_count(db, "SELECT count(*) FROM runs WHERE id IN ('d1', 'd2')") == 0, "the runs rows are gone");
    CHECK(raw_count(db, "SELECT count(*) FROM experiments WHERE name = 'gone'") == 0, "the emptied experiment is gone");
    CHECK(raw_count(db, "SELECT count(*) FROM experiments WHERE name = 'kept'") == 1, "one with a run left stays");
    ug_error e2 = {0};
    CHECK(ug_store_delete_run(st, "d1", &e2) == UG_ERR_STORE && strstr(e2.msg, "no run d1"), "twice: %s", e2.msg);
    ug_store_close(st);
}

/* A database as schema 2 left it: no runs.note, no tags table. */
static void make_v2(const char *db) {
    ug_store *st = NULL;
    ug_error e = {0};
    CHECK(ug_store_open(db, &st, &e) == UG_OK, "open: %s", e.msg);
    if (!st) return;
    make_run(st, "old", "ex", false);
    ug_store_close(st);
    CHECK(raw_sql(db, "DROP TABLE tags; ALTER TABLE runs DROP COLUMN note;"
                      "UPDATE meta SET value = '2' WHERE key = 'schema_version'") == SQLITE_OK,
          "make a schema-2 database");
}

static void test_old_schema(const char *db, const char *shard_db) {
    make_v2(db);
    ug_store *st = NULL;
    ug_error e = {0};
    CHECK(ug_store_open_as(db, UG_STORE_READ, &st, &e) == UG_OK, "read-only open of schema 2: %s", e.msg);
    char got[256];
    tags_of(st, "old", got, sizeof got);
    CHECK(strcmp(got, "|") == 0, "no tags, no note: %s", got);
    const char *t[] = {"x"};
    ug_error e2 = {0};
    CHECK(ug_store_tag(st, "old", t, 1, NULL, 0, &e2) == UG_ERR_STORE && strstr(e2.msg, "read-only"), "%s", e2.msg);
    ug_store_close(st);
    CHECK(raw_count(db, "SELECT value FROM meta WHERE key = 'schema_version'") == 2, "still schema 2");
    st = NULL;
    CHECK(ug_store_open_as(db, UG_STORE_WRITE, &st, &e) == UG_OK, "write open upgrades: %s", e.msg);
    CHECK(raw_count(db, "SELECT value FROM meta WHERE key = 'schema_version'") == UG_STORE_SCHEMA_VERSION, "upgraded");
    CHECK(st && ug_store_tag(st, "old", t, 1, NULL, 0, &e) == UG_OK && ug_store_set_note(st, "old", "n", &e) == UG_OK,
          "tag and note after the upgrade: %s", e.msg);
    tags_of(st, "old", got, sizeof got);
    CHECK(strcmp(got, "x|n") == 0, "%s", got);

    /* merge: a schema-2 shard (upgraded on the way) and a current one; tags of both copies, the kept note */
    make_v2(shard_db);
    ug_merge_stats ms;
    CHECK(ug_store_merge(st, shard_db, &ms, &e) == UG_OK, "merge a schema-2 shard: %s", e.msg);
    tags_of(st, "old", got, sizeof got);
    CHECK(strcmp(got, "x|n") == 0, "the run here keeps its tags and note: %s", got);
    ug_store *sh = NULL;
    CHECK(ug_store_open(shard_db, &sh, &e) == UG_OK, "%s", e.msg);
    make_run(sh, "old", "ex", true);   /* the shard's copy: newer, so it replaces the one here */
    const char *t2[] = {"y"};
    CHECK(sh && ug_store_tag(sh, "old", t2, 1, NULL, 0, &e) == UG_OK, "%s", e.msg);
    make_run(sh, "new", "ex", false);
    CHECK(ug_store_set_note(sh, "new", "from the shard", &e) == UG_OK, "%s", e.msg);
    ug_store_close(sh);
    CHECK(ug_store_merge(st, shard_db, &ms, &e) == UG_OK && ms.runs_replaced == 1 && ms.runs_added == 1,
          "merge: %s (%d replaced, %d added)", e.msg, ms.runs_replaced, ms.runs_added);
    tags_of(st, "old", got, sizeof got);
    CHECK(strcmp(got, "x,y|n") == 0, "a replaced run: the tags of both copies, the note kept: %s", got);
    tags_of(st, "new", got, sizeof got);
    CHECK(strcmp(got, "|from the shard") == 0, "a new run brings its note: %s", got);
    ug_store_close(st);
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/ug_annot_XXXXXX");
    if (!mkdtemp(g_dir)) return perror("mkdtemp"), 1;
    char a[128], b[128], c[128], d[128];
    snprintf(a, sizeof a, "%s/a.db", g_dir);
    snprintf(b, sizeof b, "%s/b.db", g_dir);
    snprintf(c, sizeof c, "%s/c.db", g_dir);
    snprintf(d, sizeof d, "%s/d.db", g_dir);
    test_tags_and_note(a);
    test_delete(b);
    test_old_schema(c, d);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
    return CHECK_DONE();
}
