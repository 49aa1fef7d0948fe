/* test_sweep.c — sweep expansion (product, zip, ranges, command-line axes), its errors, the plan (run
 * ids as `unigfn run` computes them, QUEUED rows, duplicate ids) and the Slurm script, without plugins. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mkdtemp, nftw */
#endif
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "unigfn/host/spec.h"
#include "unigfn/host/store.h"
#include "unigfn/host/sweep.h"

static char g_dir[64];

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static const char *BASE =
    "name: sw\n"
    "seed: 0\n"
    "dataset: {plugin: d}\n"
    "model: {plugin: m, hidden: [8]}\n"
    "objective: [{plugin: o, updates: [forward]}]\n"
    "optim: {forward: {lr: 0.01}}\n"
    "train: {steps: 1}\n";

/* Expand `sweep_yaml` (may be "") plus command-line axes; returns the job count or -1 (err filled). */
static int64_t expand(ug_sweep **out, const char *sweep_yaml, const char *const *args, const bool *zip, int n_args,
                      ug_error *err) {
    char text[4096];
    snprintf(text, sizeof text, "%s%s", BASE, sweep_yaml);
    ug_spec *spec = NULL;
    *out = NULL;
    if (ug_spec_load_string("t.yaml", text, NULL, 0, NULL, &spec, err)) return -1;
    ug_sweep *sw = ug_sweep_new();
    ug_status s = ug_sweep_add_cfg(sw, ug_spec_section(spec, "sweep"), err);
    for (int i = 0; i < n_args && !s; i++) s = ug_sweep_add_arg(sw, args[i], zip ? zip[i] : false, err);
    int64_t n = 0;
    if (!s) s = ug_sweep_finish(sw, &n, err);
    ug_spec_free(spec);
    if (s) {
        ug_sweep_free(sw);
        return -1;
    }
    *out = sw;
    return n;
}

static void job_str(const ug_sweep *sw, int64_t j, char *buf, size_t cap) {
    const char *o[32];
    int n = ug_sweep_job_overrides(sw, j, o, 32);
    buf[0] = 0;
    for (int i = 0; i < n; i++) {
        strncat(buf, i ? " " : "", cap - strlen(buf) - 1);
        strncat(buf, o[i], cap - strlen(buf) - 1);
    }
}

static void test_product_zip_ranges(void) {
    ug_error err = {0};
    ug_sweep *sw;
    /* product: the last axis moves fastest; ranges are half-open */
    int64_t n = expand(&sw, "sweep:\n  model.hidden: [[8], [16, 16]]\n  seed: 0:3\n", NULL, NULL, 0, &err);
    CHECK(n == 6, "jobs %lld (%s)", (long long)n, err.msg);
    char b[512];
    if (sw) {
        job_str(sw, 0, b, sizeof b);
        CHECK(strcmp(b, "sweep={} model.hidden=[8] seed=0") == 0, "job 0: %s", b);
        job_str(sw, 4, b, sizeof b);
        CHECK(strcmp(b, "sweep={} model.hidden=[16, 16] seed=1") == 0, "job 4: %s", b);
        CHECK(ug_sweep_job_overrides(sw, 6, (const char *[4]){0}, 4) == 0, "job 6 is out of range");
    }
    ug_sweep_free(sw);

    /* zip: two axes move together and count once; a range with a step; a single value is an override */
    n = expand(&sw, "sweep:\n  seed: 0:10:4\n  zip:\n    model.plugin: [a, b]\n    train.steps: [5, 7]\n"
                    "  train.batch: 3\n", NULL, NULL, 0, &err);
    CHECK(n == 6, "zip jobs %lld (%s)", (long long)n, err.msg);
    if (sw) {
        job_str(sw, 5, b, sizeof b);
        CHECK(strcmp(b, "sweep={} seed=8 model.plugin=b train.steps=7 train.batch=3") == 0, "zip job 5: %s", b);
    }
    ug_sweep_free(sw);

    /* a list of zip groups; strings that would read as other types keep their quotes */
    n = expand(&sw, "sweep:\n  zip:\n    - {a.x: ['1.0', 'yes'], a.y: [p, 'q r']}\n    - {b: [{k: v}, {k: w}]}\n", NULL,
               NULL, 0, &err);
    CHECK(n == 4, "zip list jobs %lld (%s)", (long long)n, err.msg);
    if (sw) {
        job_str(sw, 3, b, sizeof b);
        CHECK(strcmp(b, "sweep={} a.x='yes' a.y='q r' b={k: w}") == 0, "quoted job 3: %s", b);
        job_str(sw, 0, b, sizeof b);
        CHECK(strcmp(b, "sweep={} a.x='1.0' a.y=p b={k: v}") == 0, "quoted job 0: %s", b);
    }
    ug_sweep_free(sw);

    /* command line: commas inside brackets do not split; a CLI axis replaces the spec's; --zip group */
    const char *args[] = {"model.hidden=[8, 8],[32]", "seed=5,6", "x.a=1,2", "x.b=3,4"};
    const bool zip[] = {false, false, true, true};
    n = expand(&sw, "sweep:\n  seed: 0:3\n", args, zip, 4, &err);
    CHECK(n == 8, "cli jobs %lld (%s)", (long long)n, err.msg);
    if (sw) {
        job_str(sw, 0, b, sizeof b);
        CHECK(strcmp(b, "sweep={} model.hidden=[8, 8] seed=5 x.a=1 x.b=3") == 0, "cli job 0: %s", b);
        job_str(sw, 7, b, sizeof b);
        CHECK(strcmp(b, "sweep={} model.hidden=[32] seed=6 x.a=2 x.b=4") == 0, "cli job 7: %s", b);
        CHECK(ug_sweep_n_axes(sw) == 4, "axes %d", ug_sweep_n_axes(sw));
    }
    ug_sweep_free(sw);

    /* no sweep at all: one job, just the reset */
    n = expand(&sw, "", NULL, NULL, 0, &err);
    CHECK(n == 1, "no sweep: %lld", (long long)n);
    if (sw) {
        job_str(sw, 0, b, sizeof b);
        CHECK(strcmp(b, "sweep={}") == 0, "no sweep job: %s", b);
    }
    ug_sweep_free(sw);
}

static void expect_error(const char *sweep_yaml, const char *arg, const char *needle) {
    ug_error err = {0};
    ug_sweep *sw;
    const char *args[1] = {arg};
    int64_t n = expand(&sw, sweep_yaml, arg ? args : NULL, NULL, arg ? 1 : 0, &err);
    CHECK(n < 0 && strstr(err.msg, needle), "'%s' / '%s': expected an error with '%s', got %lld '%s'", sweep_yaml,
          arg ? arg : "", needle, (long long)n, err.msg);
    ug_sweep_free(sw);
}

static void test_errors(void) {
    expect_error("sweep:\n  zip:\n    a: [1, 2]\n    b: [1, 2, 3]\n", NULL, "need equal lengths");
    expect_error("sweep:\n  seed: 5:0\n", NULL, "is empty");
    expect_error("sweep:\n  seed: []\n", NULL, "empty list");
    expect_error("sweep:\n  model: {plugin: m}\n", NULL, "not a map");
    expect_error("sweep:\n  a: [1]\n  zip: {a: [2]}\n", NULL, "appears twice");
    expect_error("", "sweep.a=1,2", "cannot set the sweep");
    expect_error("", "seed=1,,2", "empty value");
    expect_error("", "noequals", "expected key=");
    expect_error("", "a='x,y", "unterminated quote");
    expect_error("sweep:\n  zip: {zip: {a: [1]}}\n", NULL, "do not nest");
    expect_error("", "seed=0:200000", "more than");
}

static void test_plan_and_slurm(void) {
    char spec_path[128], db[128];
    snprintf(spec_path, sizeof spec_path, "%s/s.yaml", g_dir);
    snprintf(db, sizeof db, "%s/r.db", g_dir);
    char text[2048];
    snprintf(text, sizeof text, "%ssweep:\n  seed: 0:2\n  model.hidden: [[4], [8]]\n", BASE);
    write_file(spec_path, text);
    ug_error err = {0};
    ug_spec *spec = NULL;
    CHECK(ug_spec_load(spec_path, NULL, 0, NULL, &spec, &err) == UG_OK, "%s", err.msg);
    ug_sweep *sw = ug_sweep_new();
    int64_t n = 0;
    CHECK(ug_sweep_add_cfg(sw, ug_spec_section(spec, "sweep"), &err) == UG_OK && ug_sweep_finish(sw, &n, &err) == UG_OK,
          "%s", err.msg);
    ug_spec_free(spec);
    ug_store *st = NULL;
    CHECK(ug_store_open(db, &st, &err) == UG_OK, "%s", err.msg);
    ug_sweep_plan plan;
    CHECK(ug_sweep_plan_make(sw, spec_path, NULL, st, true, &plan, &err) == UG_OK, "plan: %s", err.msg);
    CHECK(plan.n_jobs == 4, "plan jobs %lld", (long long)plan.n_jobs);
    if (plan.n_jobs != 4) {
        ug_sweep_free(sw);
        ug_store_close(st);
        return;
    }
    for (int64_t j = 0; j < plan.n_jobs; j++) {
        /* the id a job gets is the id `unigfn run SPEC OVERRIDES` computes */
        ug_spec *one = NULL;
        CHECK(ug_spec_load(spec_path, plan.jobs[j].overrides, plan.jobs[j].n_overrides, NULL, &one, &err) == UG_OK,
              "%s", err.msg);
        if (one) CHECK(strcmp(ug_spec_id(one), plan.jobs[j].id) == 0, "job %lld id", (long long)j);
        ug_spec_free(one);
        ug_run_status rs = UG_RUN_ABSENT;
        ug_store_run_status(st, plan.jobs[j].id, &rs, &err);
        CHECK(rs == UG_RUN_QUEUED && plan.jobs[j].status == UG_RUN_ABSENT, "job %lld queued: %s", (long long)j,
              ug_run_status_name(rs));
        CHECK(strcmp(plan.jobs[j].experiment, "sw") == 0, "experiment %s", plan.jobs[j].experiment);
    }
    /* `sweep={}` makes job 0 the same run as the spec without its sweep block */
    char plain[2048];
    snprintf(plain, sizeof plain, "%s", BASE);
    ug_spec *nosweep = NULL;
    const char *ovr[] = {"seed=0", "model.hidden=[4]"};
    CHECK(ug_spec_load_string("x.yaml", plain, ovr, 2, NULL, &nosweep, &err) == UG_OK, "%s", err.msg);
    if (nosweep) CHECK(strcmp(ug_spec_id(nosweep), plan.jobs[0].id) == 0, "job 0 = plain spec");
    ug_spec_free(nosweep);

    /* a second plan sees the QUEUED status; a FINISHED job is skipped by the Slurm script */
    ug_store_run_end(st, plan.jobs[1].id, UG_RUN_FINISHED, NULL, 1, &err);
    ug_sweep_plan plan2;
    if (ug_sweep_plan_make(sw, spec_path, NULL, st, false, &plan2, &err) != UG_OK) {
        CHECK(0, "plan 2: %s", err.msg);
        ug_sweep_plan_free(&plan);
        ug_sweep_free(sw);
        ug_store_close(st);
        return;
    }
    CHECK(plan2.jobs[0].status == UG_RUN_QUEUED && plan2.jobs[1].status == UG_RUN_FINISHED, "statuses %s %s",
          ug_run_status_name(plan2.jobs[0].status), ug_run_status_name(plan2.jobs[1].status));
    char sdir[160], script[600];
    snprintf(sdir, sizeof sdir, "%s/slurm", g_dir);
    const char *opts[] = {"--time=00:05:00", "--partition=debug"};
    ug_sweep_slurm so = {.exe = "/bin/true", .spec_path = spec_path, .dir = sdir, .sbatch_opts = opts, .n_sbatch_opts = 2};
    int n_tasks = 0;
    int64_t *tasks = NULL;
    CHECK(ug_sweep_write_slurm(&plan2, &so, script, sizeof script, &n_tasks, &tasks, &err) == UG_OK, "%s", err.msg);
    CHECK(n_tasks == 3 && tasks && tasks[0] == 0 && tasks[1] == 2 && tasks[2] == 3, "tasks %d", n_tasks);
    free(tasks);
    FILE *f = fopen(script, "r");
    char body[8192] = "";
    if (f) {
        size_t got = fread(body, 1, sizeof body - 1, f);
        body[got] = 0;
        fclose(f);
    }
    CHECK(strstr(body, "#SBATCH --array=0,2-3\n") != NULL, "array line in:\n%s", body);
    CHECK(strstr(body, "#SBATCH --time=00:05:00\n#SBATCH --partition=debug\n") != NULL, "options");
    CHECK(strstr(body, "  3) set -- 'sweep={}' 'seed=1' 'model.hidden=[8]' ;;") != NULL, "job 3 line");
    CHECK(strstr(body, "/shards/job-${SLURM_ARRAY_TASK_ID}.db\" run ") != NULL, "shard per task");
    CHECK(strstr(body, "  1)") == NULL, "FINISHED job 1 has no task");
    /* the script is valid shell: run task 3 with a stand-in binary that prints its arguments */
    char cmd[2400], out[1024] = "";
    snprintf(cmd, sizeof cmd, "sed 's#^exec .*#printf \"%%s|\" \"$@\"#' %s > %s.t && SLURM_ARRAY_TASK_ID=3 bash %s.t", script,
             script, script);
    FILE *p = popen(cmd, "r");
    if (p) {
        size_t got = fread(out, 1, sizeof out - 1, p);
        out[got] = 0;
        pclose(p);
    }
    CHECK(strcmp(out, "sweep={}|seed=1|model.hidden=[8]|") == 0, "task 3 arguments: '%s'", out);
    ug_sweep_plan_free(&plan);
    ug_sweep_plan_free(&plan2);

    /* an axis that leaves the resolved spec unchanged makes two jobs one run: refused up front */
    ug_sweep *dup = ug_sweep_new();
    CHECK(ug_sweep_add_arg(dup, "name=a,b", false, &err) == UG_OK && ug_sweep_finish(dup, &n, &err) == UG_OK, "%s", err.msg);
    ug_sweep_plan p3;
    ug_error e3 = {0};
    CHECK(ug_sweep_plan_make(dup, spec_path, NULL, NULL, false, &p3, &e3) != UG_OK && strstr(e3.msg, "same spec"),
          "duplicate ids: %s", e3.msg);
    ug_sweep_free(dup);
    /* a job whose overrides break the spec is reported with its number and overrides */
    ug_sweep *badsw = ug_sweep_new();
    CHECK(ug_sweep_add_arg(badsw, "train.steps=1,oops", false, &err) == UG_OK && ug_sweep_finish(badsw, &n, &err) == UG_OK,
          "%s", err.msg);
    ug_error e4 = {0};
    CHECK(ug_sweep_plan_make(badsw, spec_path, NULL, NULL, false, &p3, &e4) != UG_OK &&
              strstr(e4.msg, "job 1 (train.steps=oops)") && strstr(e4.msg, "train.steps"),
          "bad job: %s", e4.msg);
    ug_sweep_free(badsw);
    ug_sweep_free(sw);
    ug_store_close(st);
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/ug-test-sweep-XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_product_zip_ranges();
    test_errors();
    test_plan_and_slurm();
    nftw(g_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return CHECK_DONE();
}
