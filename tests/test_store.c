/* test_store.c — the results database: schema/versioning, run lifecycle, non-finite metrics, summaries,
 * restart/resume/crash semantics, artifacts, provenance, queries, and several processes writing one file
 * at once. */
#include <dirent.h>
#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "unigfn/host/sha256.h"
#include "unigfn/host/store.h"

static char dir[64];

static void path_in(char *out, size_t n, const char *name) { snprintf(out, n, "%s/%s", dir, name); }

static void rm_tree(const char *d)
{
    DIR *dp = opendir(d);
    if (!dp) return;
    struct dirent *de;
    char p[512];
    while ((de = readdir(dp)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", d, de->d_name);
            unlink(p);
        }
    closedir(dp);
    rmdir(d);
}

/* Direct SQL on the file, for setting up states the API deliberately cannot produce. */
static int raw_sql(const char *db, const char *sql)
{
    sqlite3 *h;
    if (sqlite3_open(db, &h) != SQLITE_OK) return -1;
    sqlite3_busy_timeout(h, 10000);
    int rc = sqlite3_exec(h, sql, NULL, NULL, NULL);
    sqlite3_close(h);
    return rc;
}

static long long raw_count(const char *db, const char *sql)
{
    sqlite3 *h;
    sqlite3_stmt *st;
    long long n = -1;
    if (sqlite3_open(db, &h) != SQLITE_OK) return -1;
    sqlite3_busy_timeout(h, 10000);
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(h);
    return n;
}

static ug_run_info info_for(const char *id, const char *exp, int64_t seed)
{
    static const char *const keys[] = {"model", "objective", "train.steps"};
    static const char *const vals[] = {"ddpm", "kl_tb", "100"};
    ug_run_info in = {0};
    in.id = id;
    in.experiment = exp;
    in.spec = "model: ddpm\nobjective: kl_tb\n";
    in.param_keys = keys;
    in.param_values = vals;
    in.n_params = 3;
    in.seed = seed;
    in.git_rev = "abc123";
    in.host = "testhost";
    in.build = "release";
    in.blas = "OpenBLAS 0.3.21 SkylakeX threads=4 cpu=avx512";
    in.threads = 4;
    return in;
}

/* ---- callbacks collecting query results ---- */
typedef struct series { int n; int64_t step[64]; double v[64]; } series;
static int collect_point(void *u, int64_t step, double value, double wall)
{
    series *s = u;
    (void)wall;
    if (s->n < 64) { s->step[s->n] = step; s->v[s->n] = value; }
    s->n++;
    return 0;
}
static int count_point(void *u, int64_t step, double value, double wall)
{
    (void)step; (void)value; (void)wall;
    (*(int *)u)++;
    return 0;
}

typedef struct sums { int n; ug_metric_summary m[8]; char keys[8][32]; } sums;
static int collect_summary(void *u, const ug_metric_summary *m)
{
    sums *s = u;
    if (s->n < 8) {
        s->m[s->n] = *m;
        snprintf(s->keys[s->n], 32, "%s", m->key);
        s->m[s->n].key = s->keys[s->n];
    }
    s->n++;
    return 0;
}
static const ug_metric_summary *find_sum(const sums *s, const char *key)
{
    for (int i = 0; i < s->n && i < 8; i++)
        if (strcmp(s->keys[i], key) == 0) return &s->m[i];
    return NULL;
}

typedef struct rows { int n; char ids[8][32]; ug_run_status st[8]; bool has[8]; double last[8], min[8]; } rows;
static int collect_row(void *u, const ug_run_row *r)
{
    rows *s = u;
    if (s->n < 8) {
        snprintf(s->ids[s->n], 32, "%s", r->id);
        s->st[s->n] = r->status;
        s->has[s->n] = r->has_metric;
        s->last[s->n] = r->metric_last;
        s->min[s->n] = r->metric_min;
    }
    s->n++;
    return 0;
}

/* A query callback that reads through the same handle (what `unigfn report` does per run). */
typedef struct nested { ug_store *s; int n, ok; } nested;
static int nested_row(void *u, const ug_run_row *r)
{
    nested *c = u;
    ug_run_record *rec = NULL;
    ug_error e = {0};
    if (ug_store_get_run(c->s, r->id, &rec, &e) == UG_OK && strcmp(rec->id, r->id) == 0) c->ok++;
    ug_run_record_free(rec);
    c->n++;
    return 0;
}

static ug_run_status status_of(ug_store *s, const char *id)
{
    ug_run_status st = UG_RUN_ABSENT;
    ug_error e = {0};
    CHECK(ug_store_run_status(s, id, &st, &e) == UG_OK, "run_status: %s", e.msg);
    return st;
}

static int series_len(ug_store *s, const char *id, const char *key)
{
    int n = 0;
    ug_error e = {0};
    CHECK(ug_store_metric_series(s, id, key, count_point, &n, &e) == UG_OK, "series: %s", e.msg);
    return n;
}

/* ---------------------------------------------------------------- tests */

static void test_schema(void)
{
    char db[128], junk[128], foreign[128];
    path_in(db, sizeof db, "schema.db");
    ug_store *s = NULL;
    ug_error e = {0};
    CHECK(ug_store_open(db, &s, &e) == UG_OK && s, "open fresh: %s", e.msg);
    ug_store_close(s);
    CHECK(raw_count(db, "SELECT count(*) FROM sqlite_master WHERE type='table' AND name IN "
                        "('meta','experiments','runs','params','metrics','summary','artifacts')") == 7,
          "all seven tables exist");
    CHECK(raw_count(db, "SELECT value FROM meta WHERE key='schema_version'") == UG_STORE_SCHEMA_VERSION,
          "schema_version %d", UG_STORE_SCHEMA_VERSION);
    CHECK(raw_count(db, "SELECT count(*) FROM pragma_table_info('runs') WHERE name = 'blas'") == 1, "runs.blas");
    CHECK(raw_count(db, "SELECT count(*) FROM sqlite_master WHERE type='index' AND "
                        "name='metrics_by_run_key_step'") == 1, "metrics index");
    {
        sqlite3 *h;
        sqlite3_stmt *st;
        sqlite3_open(db, &h);
        sqlite3_prepare_v2(h, "PRAGMA journal_mode", -1, &st, NULL);
        sqlite3_step(st);
        CHECK(strcmp((const char *)sqlite3_column_text(st, 0), "wal") == 0, "WAL mode");
        sqlite3_finalize(st);
        sqlite3_close(h);
    }
    /* Reopening an existing store is fine. */
    s = NULL;
    CHECK(ug_store_open(db, &s, &e) == UG_OK && s, "reopen: %s", e.msg);
    ug_store_close(s);

    /* A newer schema is refused with a clear message. */
    CHECK(raw_sql(db, "UPDATE meta SET value = '99' WHERE key = 'schema_version'") == SQLITE_OK, "bump");
    ug_error e2 = {0};
    s = NULL;
    CHECK(ug_store_open(db, &s, &e2) == UG_ERR_STORE && s == NULL, "newer version refused");
    CHECK(strstr(e2.msg, "newer") && strstr(e2.msg, "version 99"), "message: %s", e2.msg);

    /* Not a database at all. */
    path_in(junk, sizeof junk, "junk.db");
    FILE *f = fopen(junk, "w");
    for (int i = 0; i < 200; i++) fputs("this is not sqlite\n", f);
    fclose(f);
    ug_error e3 = {0};
    CHECK(ug_store_open(junk, &s, &e3) == UG_ERR_STORE, "junk file refused");
    CHECK(strstr(e3.msg, "not a database") != NULL, "junk message: %s", e3.msg);

    /* Someone else's SQLite database is not modified. */
    path_in(foreign, sizeof foreign, "foreign.db");
    raw_sql(foreign, "CREATE TABLE t(x)");
    ug_error e4 = {0};
    CHECK(ug_store_open(foreign, &s, &e4) == UG_ERR_STORE, "foreign db refused");
    CHECK(strstr(e4.msg, "not a unigfn") != NULL, "foreign message: %s", e4.msg);
    CHECK(raw_count(foreign, "SELECT count(*) FROM sqlite_master WHERE name='runs'") == 0, "untouched");

    ug_error e5 = {0};
    CHECK(ug_store_open("", &s, &e5) == UG_ERR_ARG, "empty path");
}

/* The schema of version 1 (before runs.blas), as unigfn up to schema version 1 created it. */
static const char V1_SCHEMA[] =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);"
    "CREATE TABLE experiments(name TEXT PRIMARY KEY, created REAL);"
    "CREATE TABLE runs(id TEXT PRIMARY KEY, experiment TEXT NOT NULL REFERENCES experiments(name),"
    "  status TEXT NOT NULL CHECK (status IN ('QUEUED','RUNNING','FINISHED','FAILED','KILLED','CRASHED')),"
    "  error TEXT, spec TEXT, created REAL, started REAL, ended REAL, heartbeat REAL,"
    "  step INTEGER NOT NULL DEFAULT 0, seed INTEGER, git_rev TEXT, host TEXT, build TEXT, threads INTEGER);"
    "CREATE INDEX runs_by_experiment ON runs(experiment, created);"
    "CREATE INDEX runs_by_status ON runs(status);"
    "CREATE TABLE params(run TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  key TEXT NOT NULL, value TEXT, PRIMARY KEY(run, key)) WITHOUT ROWID;"
    "CREATE TABLE metrics(run TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  key TEXT NOT NULL, step INTEGER NOT NULL, value REAL,"
    "  flag TEXT CHECK (flag IS NULL OR flag IN ('nan','inf','-inf')), wall REAL);"
    "CREATE INDEX metrics_by_run_key_step ON metrics(run, key, step);"
    "CREATE TABLE summary(run TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  key TEXT NOT NULL, last REAL, last_flag TEXT, last_step INTEGER,"
    "  min REAL, max REAL, n INTEGER NOT NULL, PRIMARY KEY(run, key)) WITHOUT ROWID;"
    "CREATE TABLE artifacts(run TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  path TEXT NOT NULL, kind TEXT, step INTEGER, bytes INTEGER, sha256 TEXT);"
    "CREATE INDEX artifacts_by_run ON artifacts(run, step);"
    "INSERT INTO meta VALUES('schema_version', '1');"
    "PRAGMA journal_mode=WAL;";

/* A version-1 database holding one KILLED run (id `id`) with params, metrics and a summary row, written
 * as the old code wrote them. */
static void make_v1(const char *db, const char *id)
{
    char sql[2048];
    snprintf(sql, sizeof sql,
             "%s"
             "INSERT INTO experiments VALUES('old-exp', 1700000000);"
             "INSERT INTO runs(id, experiment, status, spec, created, started, heartbeat, step, seed, git_rev, host,"
             "  build, threads) VALUES('%s', 'old-exp', 'KILLED', 'model: x\n', 1700000000, 1700000001, 1700000002,"
             "  5, 7, 'oldrev', 'oldhost', 'oldbuild', 3);"
             "INSERT INTO params VALUES('%s', 'model', 'x');"
             "INSERT INTO metrics VALUES('%s', 'loss', 5, 0.25, NULL, 1700000002);"
             "INSERT INTO summary VALUES('%s', 'loss', 0.25, NULL, 5, 0.25, 0.25, 1);",
             V1_SCHEMA, id, id, id, id);
    CHECK(raw_sql(db, sql) == SQLITE_OK, "create a version-1 database %s", db);
}

static void test_upgrade(void)
{
    char db[128], shard[128], out[128], dev[128];
    path_in(db, sizeof db, "v1.db");
    make_v1(db, "old-run");
    CHECK(raw_count(db, "SELECT count(*) FROM pragma_table_info('runs') WHERE name = 'blas'") == 0, "v1: no blas");
    ug_store *s = NULL;
    ug_error e = {0};
    CHECK(ug_store_open(db, &s, &e) == UG_OK && s, "open v1: %s", e.msg);
    CHECK(raw_count(db, "SELECT value FROM meta WHERE key='schema_version'") == UG_STORE_SCHEMA_VERSION,
          "upgraded to %d", UG_STORE_SCHEMA_VERSION);
    CHECK(raw_count(db, "SELECT count(*) FROM pragma_table_info('runs') WHERE name = 'blas'") == 1, "blas added");
    ug_run_record *r = NULL;
    CHECK(s && ug_store_get_run(s, "old-run", &r, &e) == UG_OK && r, "old run reads: %s", e.msg);
    if (r) {
        CHECK(r->blas == NULL && r->status == UG_RUN_KILLED && r->step == 5 && r->threads == 3 &&
              strcmp(r->host, "oldhost") == 0 && r->n_params == 1, "old run intact, blas absent");
        ug_run_record_free(r);
        r = NULL;
    }
    sums sm = {0};
    CHECK(s && ug_store_last_metrics(s, "old-run", collect_summary, &sm, &e) == UG_OK && sm.n == 1 &&
          sm.m[0].last == 0.25, "old metrics read");
    /* the old run resumes and records the BLAS of its new segment; a new run records its own */
    CHECK(s && ug_store_run_resume(s, "old-run", 5, 0, NULL, &e) == UG_OK &&
          ug_store_run_set_blas(s, "old-run", "OpenBLAS 0.3.21 Haswell threads=1 cpu=avx2", &e) == UG_OK,
          "resume + set_blas: %s", e.msg);
    ug_error e1 = {0};
    CHECK(s && ug_store_run_set_blas(s, "ghost", "x", &e1) == UG_ERR_STORE && strstr(e1.msg, "no run"),
          "set_blas on an absent run: %s", e1.msg);
    ug_run_info in = info_for("new-run", "old-exp", 1);
    ug_begin_outcome oc;
    CHECK(s && ug_store_run_begin(s, &in, &oc, &e) == UG_OK && oc == UG_BEGIN_NEW, "begin in upgraded: %s", e.msg);
    ug_store_close(s);
    s = NULL;
    CHECK(ug_store_open(db, &s, &e) == UG_OK, "reopen upgraded: %s", e.msg);
    if (s && ug_store_get_run(s, "old-run", &r, &e) == UG_OK) {
        CHECK(r->blas && strcmp(r->blas, "OpenBLAS 0.3.21 Haswell threads=1 cpu=avx2") == 0, "resumed blas: %s",
              r->blas ? r->blas : "NULL");
        ug_run_record_free(r);
        r = NULL;
    }
    if (s && ug_store_get_run(s, "new-run", &r, &e) == UG_OK) {
        CHECK(r->blas && strstr(r->blas, "SkylakeX"), "new run's blas: %s", r->blas ? r->blas : "NULL");
        ug_run_record_free(r);
        r = NULL;
    }

    /* a version-1 shard merges into a current database: its run arrives with no BLAS */
    path_in(shard, sizeof shard, "v1-shard.db");
    path_in(out, sizeof out, "v2-out.db");
    make_v1(shard, "shard-run");
    ug_store *o = NULL;
    ug_merge_stats ms;
    CHECK(ug_store_open(out, &o, &e) == UG_OK && ug_store_merge(o, shard, &ms, &e) == UG_OK && ms.runs_added == 1 &&
          ms.metric_rows == 1, "merge a v1 shard: %s", e.msg);
    if (o && ug_store_get_run(o, "shard-run", &r, &e) == UG_OK) {
        CHECK(r->blas == NULL && r->step == 5 && strcmp(r->git_rev, "oldrev") == 0, "merged v1 run");
        ug_run_record_free(r);
        r = NULL;
    }
    /* and a current database's runs merge with their BLAS into it */
    CHECK(o && ug_store_merge(o, db, &ms, &e) == UG_OK && ms.runs_added == 2, "merge current: %s", e.msg);
    if (o && ug_store_get_run(o, "new-run", &r, &e) == UG_OK) {
        CHECK(r->blas && strstr(r->blas, "SkylakeX"), "merged blas: %s", r->blas ? r->blas : "NULL");
        ug_run_record_free(r);
    }
    ug_store_close(o);
    ug_store_close(s);

    /* a version-1 file that already has the column (a development build) upgrades without adding it */
    path_in(dev, sizeof dev, "v1-dev.db");
    make_v1(dev, "dev-run");
    raw_sql(dev, "ALTER TABLE runs ADD COLUMN blas TEXT");
    s = NULL;
    CHECK(ug_store_open(dev, &s, &e) == UG_OK &&
          raw_count(dev, "SELECT value FROM meta WHERE key='schema_version'") == UG_STORE_SCHEMA_VERSION,
          "v1 with the column: %s", e.msg);
    ug_store_close(s);

    /* several processes opening one version-1 file at once upgrade it once, and all open it */
    char race[128];
    path_in(race, sizeof race, "v1-race.db");
    make_v1(race, "race-run");
    pid_t kids[4];
    for (int k = 0; k < 4; k++) {
        kids[k] = fork();
        if (kids[k] == 0) {
            ug_store *c = NULL;
            ug_error ce = {0};
            int bad = ug_store_open(race, &c, &ce) != UG_OK;
            if (bad) fprintf(stderr, "child %d: %s\n", k, ce.msg);
            ug_store_close(c);
            _exit(bad);
        }
    }
    int ok = 0;
    for (int k = 0; k < 4; k++) {
        int st = 1;
        waitpid(kids[k], &st, 0);
        ok += WIFEXITED(st) && WEXITSTATUS(st) == 0;
    }
    CHECK(ok == 4, "%d of 4 concurrent openers succeeded", ok);
    CHECK(raw_count(race, "SELECT value FROM meta WHERE key='schema_version'") == UG_STORE_SCHEMA_VERSION,
          "race: upgraded");

    /* the committed database of the paper's runs (version 1) opens, on a copy */
    const char *src = getenv("UG_SOURCE_ROOT");
    if (src) {
        char from[512], copy[128], cmd[800];
        snprintf(from, sizeof from, "%s/experiments/paper/results.db", src);
        path_in(copy, sizeof copy, "paper.db");
        snprintf(cmd, sizeof cmd, "cp '%s' '%s'", from, copy);
        if (access(from, R_OK) == 0 && system(cmd) == 0) {
            long long n = raw_count(copy, "SELECT count(*) FROM runs");
            s = NULL;
            CHECK(ug_store_open(copy, &s, &e) == UG_OK, "paper results.db: %s", e.msg);
            CHECK(n > 0 && raw_count(copy, "SELECT count(*) FROM runs WHERE blas IS NULL") == n,
                  "paper results.db: %lld runs, none with a BLAS", n);
            ug_store_close(s);
        }
    }
}

/* Provenance rows as "kind:name:version:sha256" joined by spaces, in the order the store gives them. */
static int prov_row(void *user, const ug_provenance *p)
{
    char *buf = user;
    size_t n = strlen(buf);
    snprintf(buf + n, 1024 - n, "%s%s:%s:%s:%s", n ? " " : "", p->kind, p->name, p->version ? p->version : "-",
             p->sha256 ? p->sha256 : "-");
    return 0;
}

static const char *prov_of(ug_store *s, const char *id, char *buf)
{
    ug_error e = {0};
    buf[0] = 0;
    if (ug_store_provenance(s, id, prov_row, buf, &e) != UG_OK) snprintf(buf, 1024, "error: %.900s", e.msg);
    return buf;
}

/* Version 4: runs.init_from and the provenance table. A version-2 file reads as it is read-only (no
 * rows, no init_from) and is upgraded by a writer (through 3, the tags); begin records the rows with the run, a restart
 * replaces them, resume's update replaces the plugins' and keeps the checkpoint's; merge carries them. */
static void test_provenance(void)
{
    char v2[128], buf[1024];
    path_in(v2, sizeof v2, "v2.db");
    make_v1(v2, "v2-run");
    CHECK(raw_sql(v2, "ALTER TABLE runs ADD COLUMN blas TEXT; UPDATE meta SET value = '2' WHERE key = 'schema_version'")
          == SQLITE_OK, "make a version-2 database");
    ug_store *s = NULL;
    ug_error e = {0};
    ug_run_record *r = NULL;
    CHECK(ug_store_open_as(v2, UG_STORE_READ, &s, &e) == UG_OK, "read a v2 file: %s", e.msg);
    CHECK(s && ug_store_get_run(s, "v2-run", &r, &e) == UG_OK && r && r->init_from == NULL, "v2 run reads: %s", e.msg);
    ug_run_record_free(r);
    r = NULL;
    CHECK(s && strcmp(prov_of(s, "v2-run", buf), "") == 0, "v2, read-only: no provenance (%s)", buf);
    ug_store_close(s);
    CHECK(raw_count(v2, "SELECT count(*) FROM sqlite_master WHERE name = 'provenance'") == 0, "read-only: not upgraded");
    s = NULL;
    CHECK(ug_store_open(v2, &s, &e) == UG_OK, "open v2 for writing: %s", e.msg);
    CHECK(raw_count(v2, "SELECT value FROM meta WHERE key='schema_version'") == 4 &&
          raw_count(v2, "SELECT count(*) FROM sqlite_master WHERE name = 'provenance'") == 1 &&
          raw_count(v2, "SELECT count(*) FROM pragma_table_info('runs') WHERE name = 'init_from'") == 1,
          "v2 upgraded to 4: provenance table and runs.init_from");
    CHECK(s && strcmp(prov_of(s, "v2-run", buf), "") == 0, "the old run has no rows (%s)", buf);

    /* given out of order and with one plugin twice: read back in kind order, one row each */
    const ug_provenance rows[] = {
        {"metric", "nll", "/p/nll.so", "1.0", "aa"},          {"checkpoint", "src-run", "/r/ck.bin", "step 7", "cc"},
        {"objective", "tb", "/p/tb.so", "0.1.0", "bb"},       {"dataset", "bits", "/p/bits.so", NULL, "dd"},
        {"model", "gfn", "/p/gfn.so", "1.0", "ee"},           {"objective", "tb", "/p/tb.so", "0.1.0", "bb"},
    };
    ug_run_info in = info_for("prov-run", "prov-exp", 1);
    in.prov = rows;
    in.n_prov = 6;
    in.init_from = "src-run";
    ug_begin_outcome oc;
    CHECK(s && ug_store_run_begin(s, &in, &oc, &e) == UG_OK && oc == UG_BEGIN_NEW, "begin with provenance: %s", e.msg);
    const char *want = "dataset:bits:-:dd model:gfn:1.0:ee objective:tb:0.1.0:bb metric:nll:1.0:aa "
                       "checkpoint:src-run:step 7:cc";
    CHECK(s && strcmp(prov_of(s, "prov-run", buf), want) == 0, "rows: %s", buf);
    CHECK(s && ug_store_get_run(s, "prov-run", &r, &e) == UG_OK && r && r->init_from &&
          strcmp(r->init_from, "src-run") == 0, "init_from recorded");
    ug_run_record_free(r);
    r = NULL;
    /* resume's update: the plugin rows it is given replace theirs, the checkpoint row stays */
    const ug_provenance now[] = {{"objective", "tb", "/q/tb.so", "0.2.0", "b2"}};
    CHECK(s && ug_store_run_update_provenance(s, "prov-run", now, 1, &e) == UG_OK, "update: %s", e.msg);
    CHECK(s && strcmp(prov_of(s, "prov-run", buf), "dataset:bits:-:dd model:gfn:1.0:ee objective:tb:0.2.0:b2 "
                      "metric:nll:1.0:aa checkpoint:src-run:step 7:cc") == 0, "after update: %s", buf);
    ug_error e1 = {0};
    CHECK(s && ug_store_run_update_provenance(s, "ghost", now, 1, &e1) == UG_ERR_STORE && strstr(e1.msg, "no run"),
          "update of an absent run: %s", e1.msg);
    /* a forced restart replaces every row, and the init_from with it */
    CHECK(s && ug_store_run_end(s, "prov-run", UG_RUN_FINISHED, NULL, 10, &e) == UG_OK, "end");
    in.n_prov = 1;
    in.prov = now;
    in.init_from = NULL;
    in.force = true;
    CHECK(s && ug_store_run_begin(s, &in, &oc, &e) == UG_OK && oc == UG_BEGIN_RESTARTED, "restart: %s", e.msg);
    CHECK(s && strcmp(prov_of(s, "prov-run", buf), "objective:tb:0.2.0:b2") == 0, "after restart: %s", buf);
    CHECK(s && ug_store_get_run(s, "prov-run", &r, &e) == UG_OK && r && r->init_from == NULL, "init_from cleared");
    ug_run_record_free(r);
    r = NULL;
    ug_error e2 = {0};
    in.n_prov = -1;
    CHECK(s && ug_store_run_begin(s, &in, &oc, &e2) == UG_ERR_ARG, "a negative row count is refused: %s", e2.msg);
    ug_store_close(s);

    /* merged with its run */
    char out[128];
    path_in(out, sizeof out, "prov-out.db");
    ug_store *o = NULL;
    ug_merge_stats ms;
    CHECK(ug_store_open(out, &o, &e) == UG_OK && ug_store_merge(o, v2, &ms, &e) == UG_OK && ms.runs_added == 2,
          "merge: %s", e.msg);
    CHECK(o && strcmp(prov_of(o, "prov-run", buf), "objective:tb:0.2.0:b2") == 0, "merged rows: %s", buf);
    /* and deleted with it */
    CHECK(o && ug_store_delete_run(o, "prov-run", &e) == UG_OK, "delete: %s", e.msg);
    ug_store_close(o);
    CHECK(raw_count(out, "SELECT count(*) FROM provenance") == 0, "rm takes the provenance rows");
}

static void test_lifecycle(ug_store *s, const char *db)
{
    ug_error e = {0};
    ug_begin_outcome oc = 99;
    ug_run_info a = info_for("run-a", "exp1", 1);
    CHECK(status_of(s, "run-a") == UG_RUN_ABSENT, "absent before begin");
    CHECK(ug_store_run_begin(s, &a, &oc, &e) == UG_OK && oc == UG_BEGIN_NEW, "begin new: %s", e.msg);
    CHECK(status_of(s, "run-a") == UG_RUN_RUNNING, "RUNNING");
    /* A second begin while RUNNING is BUSY and changes nothing. */
    CHECK(ug_store_run_begin(s, &a, &oc, &e) == UG_OK && oc == UG_BEGIN_BUSY, "busy");
    for (int i = 0; i < 5; i++) {
        CHECK(ug_store_metric(s, "run-a", "loss", i * 10, 5.0 - i, &e) == UG_OK, "metric: %s", e.msg);
        CHECK(ug_store_heartbeat(s, "run-a", i * 10, &e) == UG_OK, "heartbeat: %s", e.msg);
    }
    CHECK(ug_store_run_end(s, "run-a", UG_RUN_FINISHED, NULL, 40, &e) == UG_OK, "end: %s", e.msg);
    CHECK(status_of(s, "run-a") == UG_RUN_FINISHED, "FINISHED");

    /* FINISHED id: begin reports it and leaves everything alone; without an outcome it is an error. */
    CHECK(ug_store_run_begin(s, &a, &oc, &e) == UG_OK && oc == UG_BEGIN_FINISHED, "finished outcome");
    CHECK(series_len(s, "run-a", "loss") == 5, "finished run untouched");
    ug_error e2 = {0};
    CHECK(ug_store_run_begin(s, &a, NULL, &e2) == UG_ERR_STORE && strstr(e2.msg, "FINISHED"),
          "NULL outcome on finished: %s", e2.msg);
    CHECK(status_of(s, "run-a") == UG_RUN_FINISHED, "still FINISHED");

    ug_run_record *r = NULL;
    CHECK(ug_store_get_run(s, "run-a", &r, &e) == UG_OK && r, "get_run: %s", e.msg);
    if (r) {
        CHECK(strcmp(r->experiment, "exp1") == 0 && r->status == UG_RUN_FINISHED && r->step == 40,
              "record basics");
        CHECK(r->error == NULL, "no error");
        CHECK(r->seed == 1 && r->threads == 4 && strcmp(r->git_rev, "abc123") == 0 &&
              strcmp(r->host, "testhost") == 0 && strcmp(r->build, "release") == 0 && r->blas &&
              strcmp(r->blas, "OpenBLAS 0.3.21 SkylakeX threads=4 cpu=avx512") == 0, "provenance");
        CHECK(r->spec && strstr(r->spec, "ddpm"), "spec text");
        CHECK(r->created > 1e9 && r->started >= r->created && r->ended >= r->started &&
              r->heartbeat >= r->started, "times %f %f %f", r->created, r->started, r->ended);
        CHECK(r->n_params == 3 && strcmp(r->param_keys[0], "model") == 0 &&
              strcmp(r->param_values[0], "ddpm") == 0 && strcmp(r->param_keys[2], "train.steps") == 0,
              "params sorted");
    }
    ug_run_record_free(r);
    ug_error e3 = {0};
    CHECK(ug_store_get_run(s, "nope", &r, &e3) == UG_ERR_STORE && r == NULL, "get_run absent");

    /* FAILED keeps the message. */
    ug_run_info b = info_for("run-b", "exp1", 2);
    CHECK(ug_store_run_begin(s, &b, &oc, &e) == UG_OK && oc == UG_BEGIN_NEW, "begin b");
    CHECK(ug_store_metric(s, "run-b", "loss", 0, 1.0, &e) == UG_OK, "b metric");
    CHECK(ug_store_run_end(s, "run-b", UG_RUN_FAILED, "loss became NaN at step 3", 3, &e) == UG_OK, "fail");
    r = NULL;
    ug_store_get_run(s, "run-b", &r, &e);
    CHECK(r && r->status == UG_RUN_FAILED && r->error && strcmp(r->error, "loss became NaN at step 3") == 0,
          "FAILED with message");
    ug_run_record_free(r);

    /* KILLED keeps metrics. */
    ug_run_info c = info_for("run-c", "exp2", 3);
    CHECK(ug_store_run_begin(s, &c, &oc, &e) == UG_OK, "begin c");
    for (int i = 0; i < 7; i++) ug_store_metric(s, "run-c", "nll", i, 1.0 / (i + 1), &e);
    CHECK(ug_store_run_end(s, "run-c", UG_RUN_KILLED, "SIGINT", 6, &e) == UG_OK, "kill");
    CHECK(status_of(s, "run-c") == UG_RUN_KILLED && series_len(s, "run-c", "nll") == 7, "KILLED keeps metrics");

    /* Bad calls. */
    ug_error e4 = {0};
    CHECK(ug_store_run_end(s, "run-c", UG_RUN_RUNNING, NULL, 0, &e4) == UG_ERR_ARG, "non-final status");
    ug_error e5 = {0};
    CHECK(ug_store_metric(s, "ghost", "loss", 0, 1.0, &e5) == UG_ERR_STORE && strstr(e5.msg, "no run"),
          "metric for unknown run: %s", e5.msg);
    ug_error e6 = {0};
    CHECK(ug_store_heartbeat(s, "ghost", 0, &e6) == UG_ERR_STORE, "heartbeat unknown run");

    /* Restart of a FAILED id: RUNNING again, error cleared, old metrics gone, params replaced. */
    static const char *const k2[] = {"model", "lr"};
    static const char *const v2[] = {"hvae", "0.001"};
    b.param_keys = k2;
    b.param_values = v2;
    b.n_params = 2;
    CHECK(ug_store_artifact(s, "run-b", db, "db", 0, &e) == UG_OK, "artifact on b");
    CHECK(ug_store_run_begin(s, &b, &oc, &e) == UG_OK && oc == UG_BEGIN_RESTARTED, "restart failed: %s", e.msg);
    r = NULL;
    ug_store_get_run(s, "run-b", &r, &e);
    CHECK(r && r->status == UG_RUN_RUNNING && r->error == NULL && r->ended == 0.0 && r->step == 0, "restarted");
    CHECK(r && r->n_params == 2 && strcmp(r->param_keys[0], "lr") == 0, "params replaced");
    ug_run_record_free(r);
    CHECK(series_len(s, "run-b", "loss") == 0, "old metrics deleted");
    CHECK(raw_count(db, "SELECT count(*) FROM summary WHERE run='run-b'") == 0, "old summary deleted");
    CHECK(raw_count(db, "SELECT count(*) FROM artifacts WHERE run='run-b'") == 0, "old artifacts deleted");

    /* force restarts even a FINISHED run. */
    a.force = true;
    CHECK(ug_store_run_begin(s, &a, &oc, &e) == UG_OK && oc == UG_BEGIN_RESTARTED, "forced restart");
    CHECK(series_len(s, "run-a", "loss") == 0, "forced restart cleared metrics");

    /* QUEUED: registered, then begin takes it over. */
    ug_run_info q = info_for("run-q", "exp2", 9);
    CHECK(ug_store_run_queue(s, &q, &e) == UG_OK && status_of(s, "run-q") == UG_RUN_QUEUED, "queued");
    CHECK(ug_store_run_queue(s, &q, &e) == UG_OK && status_of(s, "run-q") == UG_RUN_QUEUED, "queue twice");
    CHECK(ug_store_run_begin(s, &q, &oc, &e) == UG_OK && oc == UG_BEGIN_RESTARTED &&
          status_of(s, "run-q") == UG_RUN_RUNNING, "queued -> running");

    /* Duplicate param keys are the caller's bug, reported as such, and leave no half-inserted run. */
    static const char *const kd[] = {"x", "x"};
    static const char *const vd[] = {"1", "2"};
    ug_run_info d = info_for("run-dup", "exp2", 0);
    d.param_keys = kd;
    d.param_values = vd;
    d.n_params = 2;
    ug_error e7 = {0};
    CHECK(ug_store_run_begin(s, &d, &oc, &e7) == UG_ERR_ARG && strstr(e7.msg, "duplicate"), "dup: %s", e7.msg);
    CHECK(status_of(s, "run-dup") == UG_RUN_ABSENT, "rolled back");
}

static void test_nonfinite_and_summary(ug_store *s, const char *db)
{
    ug_error e = {0};
    ug_begin_outcome oc;
    ug_run_info in = info_for("run-nf", "exp3", 0);
    CHECK(ug_store_run_begin(s, &in, &oc, &e) == UG_OK, "begin");
    /* steps 0..5: 3, NaN, 1, +inf, 7, then step 2 arrives late (does not become "last"). */
    CHECK(ug_store_metric(s, "run-nf", "x", 0, 3.0, &e) == UG_OK, "m0");
    CHECK(ug_store_metric(s, "run-nf", "x", 1, NAN, &e) == UG_OK, "nan accepted: %s", e.msg);
    CHECK(ug_store_metric(s, "run-nf", "x", 3, 1.0, &e) == UG_OK, "m3");
    CHECK(ug_store_metric(s, "run-nf", "x", 4, INFINITY, &e) == UG_OK, "inf accepted");
    CHECK(ug_store_metric(s, "run-nf", "x", 5, 7.0, &e) == UG_OK, "m5");
    CHECK(ug_store_metric(s, "run-nf", "x", 2, -2.0, &e) == UG_OK, "late m2");
    const char *keys[] = {"y", "z", "w"};
    double vals[] = {-INFINITY, NAN, 0.5};
    CHECK(ug_store_metrics(s, "run-nf", 6, 3, keys, vals, &e) == UG_OK, "batch");

    /* Rows are kept with value NULL and a flag. */
    CHECK(raw_count(db, "SELECT count(*) FROM metrics WHERE run='run-nf'") == 9, "nothing dropped");
    CHECK(raw_count(db, "SELECT count(*) FROM metrics WHERE run='run-nf' AND flag='nan' AND value IS NULL") == 2,
          "nan flagged");
    CHECK(raw_count(db, "SELECT count(*) FROM metrics WHERE run='run-nf' AND flag='inf' AND value IS NULL") == 1,
          "inf flagged");
    CHECK(raw_count(db, "SELECT count(*) FROM metrics WHERE run='run-nf' AND flag='-inf' AND value IS NULL") == 1,
          "-inf flagged");

    /* Readers get the logged values back. */
    series sx = {0};
    CHECK(ug_store_metric_series(s, "run-nf", "x", collect_point, &sx, &e) == UG_OK, "series");
    CHECK(sx.n == 6, "6 points, got %d", sx.n);
    CHECK(sx.step[0] == 0 && sx.step[1] == 1 && sx.step[2] == 2 && sx.step[5] == 5, "ordered by step");
    CHECK(sx.v[0] == 3.0 && isnan(sx.v[1]) && sx.v[2] == -2.0 && isinf(sx.v[4]) && sx.v[4] > 0, "values");

    sums sm = {0};
    CHECK(ug_store_last_metrics(s, "run-nf", collect_summary, &sm, &e) == UG_OK, "summary");
    CHECK(sm.n == 4, "four keys, got %d", sm.n);
    const ug_metric_summary *x = find_sum(&sm, "x"), *y = find_sum(&sm, "y"), *z = find_sum(&sm, "z"),
                            *w = find_sum(&sm, "w");
    CHECK(x && x->last == 7.0 && x->last_step == 5 && x->min == -2.0 && x->max == 7.0 && x->n == 6,
          "x summary: last %g step %lld min %g max %g n %lld", x ? x->last : 0, x ? (long long)x->last_step : 0,
          x ? x->min : 0, x ? x->max : 0, x ? (long long)x->n : 0);
    CHECK(y && isinf(y->last) && y->last < 0 && isnan(y->min) && isnan(y->max) && y->n == 1, "y: -inf last");
    CHECK(z && isnan(z->last) && isnan(z->min) && z->n == 1, "z: nan last");
    CHECK(w && w->last == 0.5 && w->min == 0.5 && w->max == 0.5, "w");
    /* A non-finite value at the newest step becomes last, but min/max stay finite. */
    CHECK(ug_store_metric(s, "run-nf", "w", 7, NAN, &e) == UG_OK && ug_store_metric(s, "run-nf", "w", 8, -1.0, &e) == UG_OK &&
          ug_store_metric(s, "run-nf", "w", 9, NAN, &e) == UG_OK, "w more");
    sums sm2 = {0};
    ug_store_last_metrics(s, "run-nf", collect_summary, &sm2, &e);
    w = find_sum(&sm2, "w");
    CHECK(w && isnan(w->last) && w->last_step == 9 && w->min == -1.0 && w->max == 0.5 && w->n == 4, "w after nan");

    /* list_runs with that metric. */
    rows rw = {0};
    CHECK(ug_store_list_runs(s, "exp3", "x", collect_row, &rw, &e) == UG_OK, "list");
    CHECK(rw.n == 1 && strcmp(rw.ids[0], "run-nf") == 0 && rw.has[0] && rw.last[0] == 7.0 && rw.min[0] == -2.0,
          "list row");
    rows all = {0};
    CHECK(ug_store_list_runs(s, NULL, NULL, collect_row, &all, &e) == UG_OK && all.n >= 5 && !all.has[0],
          "list all (%d)", all.n);
    nested nc = {s, 0, 0};
    CHECK(ug_store_list_runs(s, NULL, NULL, nested_row, &nc, &e) == UG_OK && nc.n == all.n && nc.ok == nc.n,
          "get_run inside list_runs: %d of %d", nc.ok, nc.n);
    /* The handle is still usable for writes afterwards (no transaction left open). */
    CHECK(ug_store_metric(s, "run-nf", "after", 0, 1.0, &e) == UG_OK, "write after nested read: %s", e.msg);
}

static void test_resume_and_crash(ug_store *s, const char *db)
{
    ug_error e = {0};
    ug_begin_outcome oc;
    ug_run_info in = info_for("run-r", "exp4", 0);
    CHECK(ug_store_run_begin(s, &in, &oc, &e) == UG_OK, "begin");
    for (int i = 0; i <= 10; i++) {
        const char *k[] = {"loss", "nll"};
        double v[] = {10.0 - i, i == 8 ? NAN : 100.0 + i};
        ug_store_metrics(s, "run-r", i, 2, k, v, &e);
    }
    char art[128];
    path_in(art, sizeof art, "sample.bin");
    FILE *f = fopen(art, "wb");
    fputs("abc", f);
    fclose(f);
    CHECK(ug_store_artifact(s, "run-r", art, "samples", 4, &e) == UG_OK, "artifact: %s", e.msg);
    CHECK(ug_store_artifact(s, "run-r", art, "samples", 9, &e) == UG_OK, "artifact 2");
    ug_error ea = {0};
    CHECK(ug_store_artifact(s, "run-r", "/nonexistent/x.png", "png", 1, &ea) == UG_ERR_IO, "missing file");
    CHECK(raw_count(db, "SELECT count(*) FROM artifacts WHERE run='run-r' AND bytes=3 AND sha256="
                        "'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'") == 2,
          "artifact bytes/sha256");

    /* Resume refuses a RUNNING run and an absent one. */
    ug_error e1 = {0};
    CHECK(ug_store_run_resume(s, "run-r", 5, 0, NULL, &e1) == UG_ERR_STORE && strstr(e1.msg, "RUNNING"),
          "resume RUNNING refused: %s", e1.msg);
    ug_error e2 = {0};
    CHECK(ug_store_run_resume(s, "ghost", 5, 0, NULL, &e2) == UG_ERR_STORE, "resume absent refused");

    CHECK(ug_store_run_end(s, "run-r", UG_RUN_KILLED, "SIGTERM", 10, &e) == UG_OK, "kill");
    int64_t prev = -1;
    CHECK(ug_store_run_resume(s, "run-r", 5, 0, &prev, &e) == UG_OK, "resume: %s", e.msg);
    CHECK(prev == 10, "prev step %lld", (long long)prev);
    ug_run_record *r = NULL;
    ug_store_get_run(s, "run-r", &r, &e);
    CHECK(r && r->status == UG_RUN_RUNNING && r->step == 5 && r->error == NULL && r->ended == 0.0, "resumed");
    CHECK(r && r->threads == 4, "threads 0 keeps the recorded count: %d", r ? r->threads : -1);
    ug_run_record_free(r);
    CHECK(series_len(s, "run-r", "loss") == 6 && series_len(s, "run-r", "nll") == 6, "steps 0..5 kept");
    CHECK(raw_count(db, "SELECT max(step) FROM metrics WHERE run='run-r'") == 5, "nothing after 5");
    CHECK(raw_count(db, "SELECT count(*) FROM artifacts WHERE run='run-r'") == 1, "artifact at 9 dropped");
    sums sm = {0};
    ug_store_last_metrics(s, "run-r", collect_summary, &sm, &e);
    const ug_metric_summary *l = find_sum(&sm, "loss");
    CHECK(l && l->last == 5.0 && l->last_step == 5 && l->min == 5.0 && l->max == 10.0 && l->n == 6,
          "summary rebuilt");
    /* Re-logging steps 6..10 after resume gives one row each, not two. */
    for (int i = 6; i <= 10; i++) ug_store_metric(s, "run-r", "loss", i, 10.0 - i, &e);
    CHECK(series_len(s, "run-r", "loss") == 11, "no duplicates after resume");
    sums sm2 = {0};
    ug_store_last_metrics(s, "run-r", collect_summary, &sm2, &e);
    l = find_sum(&sm2, "loss");
    CHECK(l && l->last == 0.0 && l->last_step == 10 && l->n == 11, "summary continues");
    /* Rebuild keeps nan flags out of min/max and counts them. */
    for (int i = 6; i <= 8; i++) ug_store_metric(s, "run-r", "nll", i, i == 8 ? NAN : 100.0 + i, &e);
    CHECK(ug_store_run_end(s, "run-r", UG_RUN_KILLED, NULL, 8, &e) == UG_OK, "kill again");
    CHECK(ug_store_run_resume(s, "run-r", 8, 2, NULL, &e) == UG_OK, "resume at 8 on 2 threads");
    r = NULL;
    ug_store_get_run(s, "run-r", &r, &e);
    CHECK(r && r->threads == 2, "resume records the segment's threads: %d", r ? r->threads : -1);
    ug_run_record_free(r);
    sums sm3 = {0};
    ug_store_last_metrics(s, "run-r", collect_summary, &sm3, &e);
    const ug_metric_summary *nl = find_sum(&sm3, "nll");
    CHECK(nl && isnan(nl->last) && nl->last_step == 8 && nl->max == 107.0 && nl->n == 9, "rebuilt with nan");

    /* Stale heartbeat → CRASHED; a fresh RUNNING run is left alone. */
    ug_run_info fresh = info_for("run-fresh", "exp4", 0);
    CHECK(ug_store_run_begin(s, &fresh, &oc, &e) == UG_OK, "fresh");
    raw_sql(db, "UPDATE runs SET heartbeat = heartbeat - 1000 WHERE id = 'run-r'");
    /* Other RUNNING runs from earlier tests are fresh too. */
    int n = -1;
    CHECK(ug_store_mark_crashed(s, 300.0, &n, &e) == UG_OK && n == 1, "marked %d", n);
    CHECK(status_of(s, "run-r") == UG_RUN_CRASHED && status_of(s, "run-fresh") == UG_RUN_RUNNING, "crashed");
    r = NULL;
    ug_store_get_run(s, "run-r", &r, &e);
    CHECK(r && r->error && strstr(r->error, "heartbeat") && r->ended > 0 && r->ended == r->heartbeat,
          "crash message");
    ug_run_record_free(r);
    CHECK(series_len(s, "run-r", "loss") == 9, "crash keeps metrics (steps 0..8 after the resume at 8)");
    CHECK(ug_store_mark_crashed(s, 300.0, &n, &e) == UG_OK && n == 0, "idempotent");
    /* A crashed run begun again is restarted. */
    CHECK(ug_store_run_begin(s, &in, &oc, &e) == UG_OK && oc == UG_BEGIN_RESTARTED, "crashed restarts");
    /* A heartbeat revives a run that was marked crashed while alive. */
    raw_sql(db, "UPDATE runs SET heartbeat = heartbeat - 1000 WHERE id = 'run-fresh'");
    CHECK(ug_store_mark_crashed(s, 300.0, &n, &e) == UG_OK && n == 1, "fresh marked");
    CHECK(ug_store_heartbeat(s, "run-fresh", 3, &e) == UG_OK && status_of(s, "run-fresh") == UG_RUN_RUNNING,
          "heartbeat revives");
    r = NULL;
    ug_store_get_run(s, "run-fresh", &r, &e);
    CHECK(r && r->error == NULL && r->ended == 0.0 && r->step == 3, "revived cleanly");
    ug_run_record_free(r);
}

/* `run --from`: history before the step, training keys at the step, summary, from_run, refusals. */
static void test_copy_history(ug_store *s, const char *db)
{
    ug_error e = {0};
    ug_begin_outcome oc;
    ug_run_info src = info_for("hist-src", "exp5", 0), dst = info_for("hist-dst", "exp5", 0);
    CHECK(ug_store_run_begin(s, &src, &oc, &e) == UG_OK, "begin src");
    for (int i = 1; i <= 4; i++) {
        const char *k[] = {"loss", "tb.logZ", "curve_nll"};
        double v[] = {10.0 - i, i == 2 ? NAN : (double)i, 20.0 + i};
        ug_store_metrics(s, "hist-src", i * 10, 3, k, v, &e);
    }
    ug_store_metric(s, "hist-src", "nll", 40, 21.5, &e);  /* an end-of-run metric */
    char art[128];
    path_in(art, sizeof art, "pic.png");
    FILE *f = fopen(art, "wb");
    fputs("png", f);
    fclose(f);
    ug_store_artifact(s, "hist-src", art, "png", 20, &e);
    ug_store_artifact(s, "hist-src", art, "png", 40, &e);
    ug_store_run_end(s, "hist-src", UG_RUN_FINISHED, NULL, 40, &e);

    const char *pats[] = {"loss", "tb.*"};
    ug_error e1 = {0};
    CHECK(ug_store_copy_history(s, "hist-dst", "hist-src", 40, pats, 2, &e1) == UG_ERR_STORE &&
              strstr(e1.msg, "no run hist-dst"), "absent dst refused: %s", e1.msg);
    ug_error e2 = {0};
    CHECK(ug_store_copy_history(s, "hist-src", "hist-src", 40, pats, 2, &e2) == UG_ERR_ARG, "src == dst refused");
    ug_error e3 = {0};
    CHECK(ug_store_copy_history(s, "hist-src", "run-r", 40, pats, 2, &e3) == UG_ERR_STORE &&
              strstr(e3.msg, "FINISHED, not a just-begun RUNNING run"), "finished dst refused: %s", e3.msg);

    CHECK(ug_store_run_begin(s, &dst, &oc, &e) == UG_OK, "begin dst");
    ug_store_metric(s, "hist-dst", "stale", 5, 1.0, &e);  /* replaced by the copy */
    CHECK(ug_store_copy_history(s, "hist-dst", "hist-src", 40, pats, 2, &e) == UG_OK, "copy: %s", e.msg);
    CHECK(raw_count(db, "SELECT count(*) FROM metrics WHERE run='hist-dst'") == 3 * 3 + 2, "rows: 3 steps x 3 + 2 at 40");
    CHECK(raw_count(db, "SELECT count(*) FROM metrics WHERE run='hist-dst' AND step=40 AND key IN ('nll','curve_nll')") == 0,
          "metrics at the step not copied");
    CHECK(raw_count(db, "SELECT count(*) FROM metrics WHERE run='hist-dst' AND key='stale'") == 0, "dst's rows replaced");
    CHECK(raw_count(db, "SELECT count(*) FROM metrics WHERE run='hist-dst' AND flag='nan'") == 1, "nan flag copied");
    CHECK(raw_count(db, "SELECT count(*) FROM artifacts WHERE run='hist-dst' AND step=20") == 1 &&
              raw_count(db, "SELECT count(*) FROM artifacts WHERE run='hist-dst'") == 1, "artifact before the step only");
    CHECK(raw_count(db, "SELECT count(*) FROM params WHERE run='hist-dst' AND key='from_run' AND value='hist-src@40'") == 1,
          "from_run recorded");
    CHECK(raw_count(db, "SELECT step FROM runs WHERE id='hist-dst'") == 40 && status_of(s, "hist-dst") == UG_RUN_RUNNING,
          "dst RUNNING at step 40");
    sums sm = {0};
    ug_store_last_metrics(s, "hist-dst", collect_summary, &sm, &e);
    const ug_metric_summary *l = find_sum(&sm, "loss"), *c = find_sum(&sm, "curve_nll");
    CHECK(l && l->last == 6.0 && l->last_step == 40 && l->min == 6.0 && l->max == 9.0 && l->n == 4, "loss summary");
    CHECK(c && c->last == 23.0 && c->last_step == 30 && c->n == 3, "curve summary");
    CHECK(raw_count(db, "SELECT count(*) FROM metrics WHERE run='hist-src'") == 13, "src untouched");
}

/* ---------------------------------------------------------------- concurrency */

/* Overridable with -D for a heavier stress run by hand. */
#ifndef NPROC
#define NPROC 3
#endif
#define NRUNS 2
#ifndef NROWS
#define NROWS 500
#endif
#define NSHARED 200

/* Each child opens the (not yet existing) file itself, so schema creation races too. */
static int child(const char *db, int k, int go_fd)
{
    char c;
    if (read(go_fd, &c, 1) < 0) return 10;
    ug_store *s = NULL;
    ug_error e = {0};
    if (ug_store_open(db, &s, &e) != UG_OK) { fprintf(stderr, "child %d open: %s\n", k, e.msg); return 1; }
    ug_begin_outcome oc;
    ug_run_info sh = info_for("shared", "conc", 0);
    if (ug_store_run_begin(s, &sh, &oc, &e) != UG_OK || (oc != UG_BEGIN_NEW && oc != UG_BEGIN_BUSY)) {
        fprintf(stderr, "child %d shared begin: %s (%d)\n", k, e.msg, (int)oc);
        return 2;
    }
    char ids[NRUNS][32], key[32];
    for (int r = 0; r < NRUNS; r++) {
        snprintf(ids[r], sizeof ids[r], "c%d-r%d", k, r);
        ug_run_info in = info_for(ids[r], "conc", k * 10 + r);
        if (ug_store_run_begin(s, &in, &oc, &e) != UG_OK || oc != UG_BEGIN_NEW) {
            fprintf(stderr, "child %d begin: %s\n", k, e.msg);
            return 3;
        }
    }
    snprintf(key, sizeof key, "c%d", k);
    /* Many small transactions, interleaved across runs, with heartbeats and a batched form. */
    for (int i = 0; i < NROWS; i++) {
        for (int r = 0; r < NRUNS; r++) {
            ug_status st;
            if (i % 2) {
                const char *ks[] = {"loss"};
                double vs[] = {(double)i};
                st = ug_store_metrics(s, ids[r], i, 1, ks, vs, &e);
            } else {
                st = ug_store_metric(s, ids[r], "loss", i, (double)i, &e);
            }
            if (st == UG_OK && i % 50 == 0) st = ug_store_heartbeat(s, ids[r], i, &e);
            if (st != UG_OK) { fprintf(stderr, "child %d write: %s\n", k, e.msg); return 4; }
        }
        if (i < NSHARED && ug_store_metric(s, "shared", key, i, i == 7 ? NAN : (double)i, &e) != UG_OK) {
            fprintf(stderr, "child %d shared write: %s\n", k, e.msg);
            return 5;
        }
    }
    for (int r = 0; r < NRUNS; r++)
        if (ug_store_run_end(s, ids[r], UG_RUN_FINISHED, NULL, NROWS - 1, &e) != UG_OK) return 6;
    ug_store_close(s);
    return 0;
}

static void test_concurrent(void)
{
    char db[128];
    path_in(db, sizeof db, "conc.db");
    int go[2];
    CHECK(pipe(go) == 0, "pipe");
    fflush(NULL);
    pid_t pids[NPROC];
    for (int k = 0; k < NPROC; k++) {
        pids[k] = fork();
        if (pids[k] == 0) {
            close(go[1]);
            _exit(child(db, k, go[0]));
        }
    }
    close(go[0]);
    close(go[1]); /* EOF releases every child at once */
    for (int k = 0; k < NPROC; k++) {
        int ws = 0;
        waitpid(pids[k], &ws, 0);
        CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "child %d exit status %d", k, ws);
    }

    ug_store *s = NULL;
    ug_error e = {0};
    CHECK(ug_store_open(db, &s, &e) == UG_OK, "open after: %s", e.msg);
    if (!s) return;
    for (int k = 0; k < NPROC; k++) {
        for (int r = 0; r < NRUNS; r++) {
            char id[32];
            snprintf(id, sizeof id, "c%d-r%d", k, r);
            CHECK(status_of(s, id) == UG_RUN_FINISHED, "%s finished", id);
            CHECK(series_len(s, id, "loss") == NROWS, "%s has all %d rows (got %d)", id, NROWS,
                  series_len(s, id, "loss"));
            sums sm = {0};
            ug_store_last_metrics(s, id, collect_summary, &sm, &e);
            const ug_metric_summary *l = find_sum(&sm, "loss");
            CHECK(l && l->n == NROWS && l->last == NROWS - 1 && l->min == 0 && l->max == NROWS - 1,
                  "%s summary", id);
        }
        char key[32];
        snprintf(key, sizeof key, "c%d", k);
        CHECK(series_len(s, "shared", key) == NSHARED, "shared run, key %s complete", key);
    }
    CHECK(raw_count(db, "SELECT count(*) FROM metrics") == (long long)NPROC * NRUNS * NROWS + NPROC * NSHARED,
          "total rows %lld", raw_count(db, "SELECT count(*) FROM metrics"));
    CHECK(raw_count(db, "SELECT count(*) FROM metrics WHERE flag = 'nan'") == NPROC, "nan per child");
    ug_store_close(s);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/ug_store_test_XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_schema();
    test_upgrade();
    test_provenance();

    char db[128];
    path_in(db, sizeof db, "results.db");
    ug_store *s = NULL;
    ug_error e = {0};
    CHECK(ug_store_open(db, &s, &e) == UG_OK, "open: %s", e.msg);
    if (s) {
        test_lifecycle(s, db);
        test_nonfinite_and_summary(s, db);
        test_resume_and_crash(s, db);
        test_copy_history(s, db);
        ug_store_close(s);
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    test_concurrent();
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("concurrent writers: %.2f s\n", (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec));
    rm_tree(dir);
    return CHECK_DONE();
}
