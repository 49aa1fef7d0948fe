/* test_sweep_local.c — `unigfn sweep -j 2` end to end with real plugins: 20 short jobs from two worker
 * processes into one database (every job FINISHED exactly once, no lost rows, no "database is locked"),
 * a re-launch that runs nothing, a re-launch that re-runs only FAILED/KILLED runs, SIGTERM recorded as
 * KILLED with the rest left QUEUED, `gc --mark-crashed`, and `report samples` on a swept run. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mkdtemp, nftw, popen */
#endif
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef UG_HAVE_PNG
#include <png.h>

#include "plot/density.h"
#endif

#include "check.h"
#include "unigfn/host/store.h"
#include "unigfn/host/util.h"

static char g_dir[64];
static const char *g_root;

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static const char *SPEC =
    "name: sweep-local\n"
    "seed: 0\n"
    "dataset: {plugin: synthetic2d, data: checkerboard}\n"
    "model: {plugin: binary_gfn, hidden: [8], log_z: false}\n"
    "objective:\n"
    "  - {plugin: kl_tb, updates: [forward]}\n"
    "  - {plugin: tbc, updates: [backward]}\n"
    "optim: {forward: {lr: 1.0e-3}, backward: {lr: 1.0e-4}}\n"
    "train: {steps: 20, batch: 8, log_every: 5}\n"
    "sweep:\n"
    "  model.hidden: [[8], [16]]\n"
    "  seed: 0:10\n";

static char *run_cmd(const char *args, int *status) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cd %s && %s/unigfn --db r.db %s 2>&1", g_dir, g_root, args);
    FILE *p = popen(cmd, "r");
    size_t cap = 1 << 16, n = 0, got;
    char *out = calloc(cap, 1);
    while (p && out && (got = fread(out + n, 1, cap - 1 - n, p)) > 0) n += got;
    *status = p ? pclose(p) : -1;
    return out;
}

typedef struct snap {
    int n;
    char id[64][20];
    ug_run_status status[64];
    double started[64];
    int64_t loss_n[64], gn_n[64];
} snap;

static int snap_metric(void *u, const ug_metric_summary *m) {
    int64_t *v = u;
    if (strcmp(m->key, "loss") == 0) v[0] = m->n;
    if (strcmp(m->key, "grad_norm.forward") == 0) v[1] = m->n;
    return 0;
}

static int snap_row(void *u, const ug_run_row *r) {
    snap *s = u;
    if (s->n == 64) return 1;
    snprintf(s->id[s->n], sizeof s->id[0], "%s", r->id);
    s->status[s->n] = r->status;
    s->n++;
    return 0;
}

static void take_snap(snap *s) {
    memset(s, 0, sizeof *s);
    char db[128];
    snprintf(db, sizeof db, "%s/r.db", g_dir);
    ug_store *st = NULL;
    ug_error err = {0};
    if (access(db, F_OK) != 0) return;  /* not made yet: no runs */
    if (ug_store_open_as(db, UG_STORE_READ, &st, &err)) { CHECK(0, "%s", err.msg); return; }  /* beside the writers */
    ug_store_list_runs(st, NULL, NULL, snap_row, s, &err);
    for (int i = 0; i < s->n; i++) {
        ug_run_record *r = NULL;
        if (ug_store_get_run(st, s->id[i], &r, &err) == UG_OK) s->started[i] = r->started;
        ug_run_record_free(r);
        int64_t v[2] = {0, 0};
        ug_store_last_metrics(st, s->id[i], snap_metric, v, &err);
        s->loss_n[i] = v[0], s->gn_n[i] = v[1];
    }
    ug_store_close(st);
}

static void set_status(const char *id, ug_run_status to) {
    char db[128];
    snprintf(db, sizeof db, "%s/r.db", g_dir);
    ug_store *st = NULL;
    ug_error err = {0};
    CHECK(ug_store_open(db, &st, &err) == UG_OK && ug_store_run_end(st, id, to, "set by the test", 20, &err) == UG_OK,
          "%s", err.msg);
    ug_store_close(st);
}

static int count_status(const snap *s, ug_run_status st) {
    int n = 0;
    for (int i = 0; i < s->n; i++) n += s->status[i] == st;
    return n;
}

static void test_local(void) {
    char path[128];
    snprintf(path, sizeof path, "%s/spec.yaml", g_dir);
    FILE *f = fopen(path, "w");
    if (f) { fputs(SPEC, f); fclose(f); }
    int status;
    char *out = run_cmd("sweep spec.yaml --dry-run", &status);
    CHECK(status == 0 && strstr(out, "sweep sweep-local: 20 jobs over 2 axes") && strstr(out, "model.hidden=[16] seed=9"),
          "dry run:\n%s", out);
    free(out);
    CHECK(access("r.db", F_OK) != 0, "a dry run creates no database");

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    out = run_cmd("sweep spec.yaml -j 2", &status);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("20 jobs on 2 workers: %.2f s\n", (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    CHECK(status == 0 && strstr(out, "sweep: ran 20: 20 FINISHED, 0 not finished; 0 skipped") && !strstr(out, "locked"),
          "sweep:\n%s", out);
    free(out);
    snap a;
    take_snap(&a);
    CHECK(a.n == 20 && count_status(&a, UG_RUN_FINISHED) == 20, "runs %d finished %d", a.n, count_status(&a, UG_RUN_FINISHED));
    /* exactly once: 20 steps / log_every 5 = 4 rows of each metric per run, no duplicates, none lost */
    for (int i = 0; i < a.n; i++)
        CHECK(a.loss_n[i] == 4 && a.gn_n[i] == 4, "run %s: loss rows %lld, grad_norm rows %lld", a.id[i],
              (long long)a.loss_n[i], (long long)a.gn_n[i]);

    /* re-launch: nothing runs, nothing changes */
    out = run_cmd("sweep spec.yaml -j 2", &status);
    CHECK(status == 0 && strstr(out, "20 FINISHED before (skipped); 0 to run"), "re-launch:\n%s", out);
    free(out);
    snap b;
    take_snap(&b);
    CHECK(memcmp(&a, &b, sizeof a) == 0, "a re-launch changed the database");

    /* FAILED and KILLED runs run again; FINISHED ones do not */
    set_status(a.id[3], UG_RUN_FAILED);
    set_status(a.id[11], UG_RUN_KILLED);
    out = run_cmd("sweep spec.yaml -j 2", &status);
    CHECK(status == 0 && strstr(out, "18 FINISHED before (skipped); 2 to run") && strstr(out, "ran 2: 2 FINISHED"),
          "re-run:\n%s", out);
    free(out);
    take_snap(&b);
    for (int i = 0; i < b.n; i++) {
        bool rerun = i == 3 || i == 11;
        CHECK(b.status[i] == UG_RUN_FINISHED && b.loss_n[i] == 4, "run %s after re-run: %s, %lld loss rows", b.id[i],
              ug_run_status_name(b.status[i]), (long long)b.loss_n[i]);
        CHECK(rerun ? b.started[i] > a.started[i] : b.started[i] == a.started[i], "run %s started %s", b.id[i],
              rerun ? "again" : "only once");
    }

#ifdef UG_HAVE_PNG
    /* report samples on a swept run: a PNG that decodes */
    char cmd[256];
    snprintf(cmd, sizeof cmd, "report samples %s -o samples.png -n 2000 --bins 64", a.id[0]);
    out = run_cmd(cmd, &status);
    CHECK(status == 0 && strstr(out, "wrote samples.png: 2-D density of 2000 model samples beside the data's"), "samples:\n%s", out);
    free(out);
    snprintf(path, sizeof path, "%s/samples.png", g_dir);
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    bool ok = png_image_begin_read_from_file(&img, path);
    unsigned char *buf = ok ? malloc(PNG_IMAGE_SIZE(img)) : NULL;
    img.format = PNG_FORMAT_RGB;
    ok = ok && buf && png_image_finish_read(&img, NULL, buf, 0, NULL);
    /* the host's density layout (plot/density.h) for two panels of 64 bins */
    ug_density_fig fig = {.size = sizeof fig, .title = "t", .bins = 64, .x0 = -1, .x1 = 1, .y0 = -1, .y1 = 1, .n_panels = 2};
    static const int64_t zero[64 * 64];
    fig.panels[0].counts = fig.panels[1].counts = zero;
    ug_density_geom geom;
    ug_error gerr = {0};
    CHECK(ug_density_geometry(&fig, &geom, &gerr) == UG_OK, "%s", gerr.msg);
    CHECK(ok && (int)img.width == geom.w && (int)img.height == geom.h, "samples.png %ux%u, want %dx%d", img.width, img.height,
          geom.w, geom.h);
    free(buf);
    snprintf(cmd, sizeof cmd, "report curves --metric loss --where 'seed=0|1' -o curves.png");
    out = run_cmd(cmd, &status);
    CHECK(status == 0 && strstr(out, "group 1: model.hidden=[16] (2 runs)"), "curves:\n%s", out);
    free(out);
#endif
}

/* SIGTERM to the sweep: running jobs record KILLED, the others stay QUEUED; gc turns a dead RUNNING
 * row CRASHED. */
static void test_interrupt(void) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s/unigfn", g_root);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        if (chdir(g_dir)) _exit(127);
        freopen("interrupt.log", "w", stdout);
        dup2(1, 2);
        execl(cmd, "unigfn", "--db", "r.db", "sweep", "spec.yaml", "-j", "2", "train.steps=100000", "seed=0:4",
              "model.hidden=[8]", (char *)NULL);
        _exit(127);
    }
    /* wait until both workers have their runs RUNNING and training (a logged loss each): polled
     * against a deadline in seconds, far past what a sanitizer build on a busy machine needs */
    char db[128];
    snprintf(db, sizeof db, "%s/r.db", g_dir);
    int running = 0;
    for (double t0 = ug_now_s(); running < 2 && ug_now_s() - t0 < 120;) {
        usleep(50000);
        snap s;
        take_snap(&s);
        running = 0;
        for (int i = 0; i < s.n; i++) running += s.status[i] == UG_RUN_RUNNING && s.loss_n[i] >= 1;
    }
    CHECK(running == 2, "two running jobs that have logged (%d)", running);
    kill(pid, SIGTERM);
    int ws = 0;
    waitpid(pid, &ws, 0);
    CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 130, "sweep exit after SIGTERM: %d", WIFEXITED(ws) ? WEXITSTATUS(ws) : -1);
    snap s;
    take_snap(&s);
    CHECK(count_status(&s, UG_RUN_KILLED) == 2 && count_status(&s, UG_RUN_QUEUED) == 2,
          "after SIGTERM: %d KILLED, %d QUEUED", count_status(&s, UG_RUN_KILLED), count_status(&s, UG_RUN_QUEUED));
    int status;
    char *out = run_cmd("sweep spec.yaml train.steps=100000 seed=0:4 model.hidden=[8] --dry-run", &status);
    CHECK(status == 0 && strstr(out, "KILLED    train.steps=100000 seed=0 model.hidden=[8]") &&
              strstr(out, "QUEUED    train.steps=100000 seed=3 model.hidden=[8]"),
          "dry run after SIGTERM:\n%s", out);
    free(out);

    /* a RUNNING row whose process is gone: the sweep skips it until gc marks it CRASHED */
    ug_store *st = NULL;
    ug_error err = {0};
    const char *k[] = {"seed"}, *v[] = {"77"};
    ug_run_info info = {.id = "deadbeefdeadbeef", .experiment = "sweep-local", .param_keys = k, .param_values = v, .n_params = 1};
    ug_begin_outcome oc;
    CHECK(ug_store_open(db, &st, &err) == UG_OK && ug_store_run_begin(st, &info, &oc, &err) == UG_OK, "%s", err.msg);
    ug_store_close(st);
    out = run_cmd("gc --mark-crashed --stale 0", &status);
    CHECK(status == 0 && strstr(out, "gc: 1 RUNNING run with no heartbeat for 0 s marked CRASHED"), "gc:\n%s", out);
    free(out);
    ug_run_status rs = UG_RUN_ABSENT;
    ug_store_open(db, &st, &err);
    ug_store_run_status(st, "deadbeefdeadbeef", &rs, &err);
    ug_store_close(st);
    CHECK(rs == UG_RUN_CRASHED, "gc left %s", ug_run_status_name(rs));
}

int main(void) {
    g_root = getenv("UG_BUILD_ROOT");
    if (!g_root) {
        fprintf(stderr, "UG_BUILD_ROOT is not set (run through meson)\n");
        return 1;
    }
    snprintf(g_dir, sizeof g_dir, "/tmp/ug-test-sweepj-XXXXXX");
    if (!mkdtemp(g_dir) || chdir(g_dir)) return 1;
    test_local();
    test_interrupt();
    if (!getenv("UG_KEEP_TMP")) nftw(g_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return CHECK_DONE();
}
