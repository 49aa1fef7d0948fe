/* test_report.c — the statistics behind `unigfn report table` (mean, std with n-1, sem, Student-t ci95),
 * label ordering and filters, golden Markdown/LaTeX/CSV/HTML tables from a small database built here through
 * store.h, and the PNG commands checked by decoding their files with libpng. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mkdtemp, nftw, popen */
#endif
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef UG_HAVE_PNG
#include <png.h>
#endif

#include "check.h"
#include "unigfn/host/report_data.h"
#include "unigfn/host/report_samples.h"
#include "report/report_stats.h"
#include "unigfn/host/store.h"

static char g_dir[64];
static const char *g_root;   /* UG_BUILD_ROOT */

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static void test_stats(void) {
    ug_stats s;
    double x[] = {1, 2, 3, 4};
    ug_stats_compute(x, 4, &s);
    CHECK(s.n == 4, "n");
    CHECK_CLOSE(s.mean, 2.5, 0, 1e-15);
    CHECK_CLOSE(s.std, sqrt(5.0 / 3.0), 1e-15, 0);              /* n - 1 in the denominator */
    CHECK_CLOSE(s.sem, sqrt(5.0 / 3.0) / 2, 1e-15, 0);
    CHECK_CLOSE(s.ci95, 3.182446305 * sqrt(5.0 / 3.0) / 2, 1e-9, 0);
    /* a large common offset must not eat the variance */
    double y[] = {1e9 + 1, 1e9 + 2, 1e9 + 3};
    ug_stats_compute(y, 3, &s);
    CHECK_CLOSE(s.std, 1.0, 1e-9, 0);
    double one = 7;
    ug_stats_compute(&one, 1, &s);
    CHECK(s.mean == 7 && isnan(s.std) && isnan(s.sem) && isnan(s.ci95), "n = 1 has no spread");
    ug_stats_compute(NULL, 0, &s);
    CHECK(s.n == 0 && isnan(s.mean), "n = 0");
    /* Student t: the table, and the expansion above df 30 against mpmath's quantiles */
    CHECK_CLOSE(ug_student_t975(1), 12.706204736, 0, 1e-9);
    CHECK_CLOSE(ug_student_t975(2), 4.302652730, 0, 1e-9);
    CHECK_CLOSE(ug_student_t975(9), 2.262157163, 0, 1e-9);
    CHECK_CLOSE(ug_student_t975(30), 2.042272456, 0, 1e-9);
    const int df[] = {31, 40, 60, 120, 1000};
    const double t[] = {2.039513446, 2.021075390, 2.000297822, 1.979930405, 1.962339081};
    for (int i = 0; i < 5; i++) CHECK_CLOSE(ug_student_t975(df[i]), t[i], 0, 5e-8);
    CHECK(isnan(ug_student_t975(0)), "df 0");
    for (int d = 1; d < 200; d++) CHECK(ug_student_t975(d + 1) < ug_student_t975(d), "t decreases at df %d", d);
}

static void test_labels_filters(void) {
    CHECK(ug_rd_natural_cmp("64", "128") < 0, "64 < 128");
    CHECK(ug_rd_natural_cmp("[64, 64]", "[128]") < 0, "[64, 64] < [128]");
    CHECK(ug_rd_natural_cmp("a2", "a10") < 0, "a2 < a10");
    CHECK(ug_rd_natural_cmp("-1", "0.5") < 0, "-1 < 0.5");
    CHECK(ug_rd_natural_cmp("kl_tb+tbc", "tb") < 0, "kl_tb+tbc < tb");
    CHECK(ug_rd_natural_cmp("x", "x") == 0, "equal");
    CHECK(ug_rd_value_eq("0.001", "1e-3") && !ug_rd_value_eq("0.001", "0.01") && !ug_rd_value_eq("a", "b"), "value eq");
    char *keys[] = {"model", "optim.forward.lr", "seed"}, *vals[] = {"tb", "0.001", "3"};
    ug_rd_run r = {.id = "abc", .experiment = "e", .status = UG_RUN_FINISHED, .n_params = 3, .keys = keys, .values = vals};
    ug_rd_filter f[3];
    ug_error err = {0};
    CHECK(ug_rd_filter_parse("optim.forward.lr=1e-3", &f[0], &err) == UG_OK, "%s", err.msg);
    CHECK(ug_rd_filter_parse("model != db", &f[1], &err) == UG_OK && f[1].negate, "%s", err.msg);
    CHECK(ug_rd_filter_parse("seed=1|2|3", &f[2], &err) == UG_OK && f[2].n_values == 3, "%s", err.msg);
    CHECK(ug_rd_match(&r, f, 3), "all three hold");
    ug_rd_filter g;
    CHECK(ug_rd_filter_parse("status=RUNNING", &g, &err) == UG_OK && !ug_rd_match(&r, &g, 1), "status filter");
    ug_rd_filter_free(&g);
    CHECK(ug_rd_filter_parse("nokey=1", &g, &err) == UG_OK && !ug_rd_match(&r, &g, 1), "absent key never equals");
    ug_rd_filter_free(&g);
    CHECK(ug_rd_filter_parse("=x", &g, &err) != UG_OK, "empty key refused");
    for (int i = 0; i < 3; i++) ug_rd_filter_free(&f[i]);
}

/* ---- the database the goldens read ---- */
static void add_run(ug_store *st, const char *id, const char *model, const char *obj, int seed, double nll, bool finish) {
    char seed_s[16];
    snprintf(seed_s, sizeof seed_s, "%d", seed);
    const char *keys[] = {"dataset", "dataset.data", "model", "objective", "seed"};
    const char *vals[] = {"synthetic2d", "checkerboard", model, obj, seed_s};
    ug_run_info info = {.id = id, .experiment = "report-test", .param_keys = keys, .param_values = vals, .n_params = 5,
                        .seed = seed};
    ug_error err = {0};
    ug_begin_outcome oc;
    CHECK(ug_store_run_begin(st, &info, &oc, &err) == UG_OK, "%s", err.msg);
    double scale = strcmp(model, "binary_gfn") == 0 ? 3.0 : 1.5;
    for (int s = 1; s <= 40; s++) {
        double loss = scale * exp(-s / 15.0) + 0.02 * seed + 0.1;
        ug_store_metric(st, id, "loss", s * 5, s == 7 && seed == 1 ? NAN : loss, &err);
    }
    /* the lowest nll comes first, so --reduce min and last differ */
    ug_store_metric(st, id, "nll", 100, nll - 0.25, &err);
    ug_store_metric(st, id, "nll", 200, nll, &err);
    if (finish) ug_store_run_end(st, id, UG_RUN_FINISHED, NULL, 200, &err);
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) n = 0;
    if (s) s[n] = 0;
    fclose(f);
    return s;
}

/* Runs the CLI; returns its stdout (caller frees) and the exit status. */
static char *cli(const char *args, int *status) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s/unigfn --db %s/r.db %s 2>%s/stderr.txt", g_root, g_dir, args, g_dir);
    FILE *p = popen(cmd, "r");
    size_t cap = 1 << 16, n = 0;
    char *out = calloc(cap, 1);
    if (!p || !out) {
        *status = -1;
        return out;
    }
    size_t got;
    while ((got = fread(out + n, 1, cap - 1 - n, p)) > 0) n += got;
    *status = pclose(p);
    return out;
}

static void golden(const char *args, const char *file) {
    int status = 0;
    char *got = cli(args, &status);
    char path[512];
    snprintf(path, sizeof path, "%s/tests/%s", getenv("UG_SOURCE_ROOT") ? getenv("UG_SOURCE_ROOT") : ".", file);
    if (getenv("UG_UPDATE_GOLDEN")) {
        FILE *f = fopen(path, "w");
        if (f) { fputs(got, f); fclose(f); }
    }
    char *want = slurp(path);
    CHECK(status == 0, "%s: exit %d", args, status);
    CHECK(want && strcmp(got, want) == 0, "%s differs from %s:\n--- got\n%s--- want\n%s", args, file, got,
          want ? want : "(missing)");
    free(got);
    free(want);
}

static void test_tables(void) {
    char db[128];
    snprintf(db, sizeof db, "%s/r.db", g_dir);
    ug_store *st = NULL;
    ug_error err = {0};
    CHECK(ug_store_open(db, &st, &err) == UG_OK, "%s", err.msg);
    add_run(st, "r00", "binary_gfn", "kl_tb+tbc", 0, 10.0, true);
    add_run(st, "r01", "binary_gfn", "kl_tb+tbc", 1, 10.5, true);
    add_run(st, "r02", "binary_gfn", "kl_tb+tbc", 2, 11.0, true);
    add_run(st, "r10", "binary_gfn", "tb", 0, 12.0, true);
    add_run(st, "r11", "binary_gfn", "tb", 1, 12.4, true);
    add_run(st, "r19", "binary_gfn", "tb", 9, 1.0, false);            /* RUNNING: not in the table */
    add_run(st, "r20", "tiny_binary", "kl_tb+tbc", 0, 3.25, true);    /* n = 1; tiny_binary x tb: no run */
    ug_store_close(st);
    golden("report table --rows model --cols objective --metric nll", "test_report_table.md");
    golden("report table --rows model --cols objective --metric nll --format latex --stat ci95 --reduce min",
           "test_report_table.tex");
    golden("report table --rows model --cols objective,seed --metric nll --format csv", "test_report_table.csv");
    golden("report table --rows model --cols objective --metric nll --format html", "test_report_table.html");
    /* --all takes the RUNNING run in (and it becomes the best cell); --where narrows; --best max */
    int status;
    char *out = cli("report table --rows model --cols objective --metric nll --all --best max --stat sem", &status);
    CHECK(status == 0 && strstr(out, "| 8.467 ± 3.735 (n=3)") && strstr(out, "**10.50 ± 0.29** (n=3)"),
          "--all --best max --stat sem:\n%s", out);
    free(out);
    out = cli("report table --rows model --cols objective --metric nll --where model!=binary_gfn --where dataset.data=checkerboard",
              &status);
    CHECK(status == 0 && !strstr(out, "binary_gfn") && strstr(out, "**3.250** (n=1)"), "--where:\n%s", out);
    free(out);
    out = cli("report table --rows model --cols objective --metric nll --where dataset=circles", &status);
    char *err_text = NULL;
    char ep[128];
    snprintf(ep, sizeof ep, "%s/stderr.txt", g_dir);
    err_text = slurp(ep);
    CHECK(status != 0 && err_text && strstr(err_text, "values present: synthetic2d"), "empty selection: %s", err_text);
    free(err_text);
    free(out);
    out = cli("report table --rows model.hidden --cols objective --metric nll", &status);
    err_text = slurp(ep);
    CHECK(status != 0 && err_text && strstr(err_text, "no selected run has the key 'model.hidden'"), "bad key: %s", err_text);
    free(err_text);
    free(out);
    /* export: every logged value, NaN kept as nan */
    out = cli("export r01 --metric loss --format csv --params model,seed", &status);
    int lines = 0;
    for (char *p = out; *p; p++) lines += *p == '\n';
    CHECK(status == 0 && lines == 41 && strncmp(out, "run,experiment,model,seed,metric,step,value,wall\n", 49) == 0 &&
              strstr(out, "r01,report-test,binary_gfn,1,loss,35,nan,"),
          "export csv (%d lines):\n%.300s", lines, out);
    free(out);
    out = cli("export --where objective=tb --metric nll --format jsonl", &status);
    lines = 0;
    for (char *p = out; *p; p++) lines += *p == '\n';
    CHECK(status == 0 && lines == 6 && strstr(out, "{\"run\": \"r19\", \"experiment\": \"report-test\", \"metric\": \"nll\", \"step\": 200, \"value\": 1, "),
          "export jsonl:\n%s", out);
    free(out);
}

#ifdef UG_HAVE_PNG
/* Decodes a PNG into RGB; returns NULL if libpng rejects it. */
static unsigned char *read_png(const char *path, int *w, int *h) {
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&img, path)) return NULL;
    img.format = PNG_FORMAT_RGB;
    unsigned char *buf = malloc(PNG_IMAGE_SIZE(img));
    if (!buf || !png_image_finish_read(&img, NULL, buf, 0, NULL)) {
        free(buf);
        png_image_free(&img);
        return NULL;
    }
    *w = (int)img.width, *h = (int)img.height;
    return buf;
}

static int count_color(const unsigned char *px, int w, int h, unsigned rgb, int tol) {
    int n = 0;
    for (int i = 0; i < w * h; i++) {
        int dr = px[3 * i] - (int)(rgb >> 16 & 255), dg = px[3 * i + 1] - (int)(rgb >> 8 & 255), db = px[3 * i + 2] - (int)(rgb & 255);
        n += abs(dr) <= tol && abs(dg) <= tol && abs(db) <= tol;
    }
    return n;
}

static void test_pngs(void) {
    int status, w = 0, h = 0;
    char path[160], args[400];
    snprintf(path, sizeof path, "%s/curves.png", g_dir);
    snprintf(args, sizeof args, "report curves --metric loss -o %s", path);
    char *out = cli(args, &status);
    CHECK(status == 0 && strstr(out, "group 0: model=binary_gfn objective=kl_tb+tbc (3 runs): r00 r01 r02") &&
              strstr(out, "group 1: model=binary_gfn objective=tb (3 runs): r10 r11 r19"),
          "curves:\n%s", out);
    free(out);
    unsigned char *px = read_png(path, &w, &h);
    CHECK(px != NULL, "curves.png does not decode");
    if (px) {
        /* 900 x 540 plus a legend of 3 groups; the bold means are drawn in the group colours */
        CHECK(w == 900 && h == 540 + 3 * 12 + 12, "curves size %dx%d", w, h);
        CHECK(count_color(px, w, h, 0x1f77b4, 8) > 60 && count_color(px, w, h, 0xff7f0e, 8) > 60 &&
                  count_color(px, w, h, 0x2ca02c, 8) > 60,
              "group colours: %d %d %d", count_color(px, w, h, 0x1f77b4, 8), count_color(px, w, h, 0xff7f0e, 8),
              count_color(px, w, h, 0x2ca02c, 8));
        CHECK(count_color(px, w, h, 0xffffff, 0) > w * h / 2, "mostly white background");
    }
    free(px);
    snprintf(path, sizeof path, "%s/curves_log.png", g_dir);
    snprintf(args, sizeof args, "report curves --metric loss --logy --group-by model --width 640 --height 400 -o %s", path);
    out = cli(args, &status);
    free(out);
    px = read_png(path, &w, &h);
    CHECK(status == 0 && px && w == 640 && h == 400 + 2 * 12 + 12, "log curves %dx%d", w, h);
    free(px);

    /* density: every model point in one cell → that cell has the top colour of the map */
    float model[2 * 500], truth[2 * 400];
    for (int i = 0; i < 500; i++) model[2 * i] = 0.55f, model[2 * i + 1] = -0.55f;
    for (int i = 0; i < 400; i++) truth[2 * i] = (float)(i % 20) / 10 - 0.95f, truth[2 * i + 1] = (float)(i / 20) / 10 - 0.95f;
    snprintf(path, sizeof path, "%s/density.png", g_dir);
    ug_error err = {0};
    CHECK(ug_density_png(path, model, 500, truth, 400, 4, 1.0, "model", "data", &err) == UG_OK, "%s", err.msg);
    px = read_png(path, &w, &h);
    CHECK(px != NULL, "density.png does not decode");
    if (px) {
        /* 4 bins x 64 px; left panel at (10, 22); x = 0.55 → column 3, y = -0.55 → row 3 (rows go down) */
        CHECK(w == 2 * 10 + 2 * 256 + 12 && h == 22 + 256 + 28, "density size %dx%d", w, h);
        const unsigned char *c = px + 3 * ((size_t)(22 + 3 * 64 + 30) * w + 10 + 3 * 64 + 30);
        CHECK(c[0] == 253 && c[1] == 231 && c[2] == 37, "dense cell %d %d %d", c[0], c[1], c[2]);
        const unsigned char *e = px + 3 * ((size_t)(22 + 30) * w + 10 + 30);
        CHECK(e[0] == 68 && e[1] == 1 && e[2] == 84, "empty cell %d %d %d", e[0], e[1], e[2]);
    }
    free(px);
    /* image grid: 4 images of 4x4, image k lit at pixel (k, k) */
    float imgs[4 * 16] = {0};
    for (int k = 0; k < 4; k++) imgs[k * 16 + k * 4 + k] = 1.0f;
    snprintf(path, sizeof path, "%s/grid.png", g_dir);
    CHECK(ug_image_grid_png(path, imgs, 4, 1, 4, 4, &err) == UG_OK, "%s", err.msg);
    px = read_png(path, &w, &h);
    if (px) {
        int scale = 14, cell = 4 * scale + 2;   /* 56 px images, 2 px gaps */
        CHECK(w == 2 * cell + 2 && h == 2 * cell + 2, "grid size %dx%d", w, h);
        for (int k = 0; k < 4; k++) {
            int gx = 2 + (k % 2) * cell, gy = 2 + (k / 2) * cell;
            const unsigned char *on = px + 3 * ((size_t)(gy + k * scale + 3) * w + gx + k * scale + 3);
            const unsigned char *off = px + 3 * ((size_t)(gy + ((k + 1) % 4) * scale + 3) * w + gx + k * scale + 3);
            CHECK(on[0] == 255 && off[0] == 0, "image %d: on %d off %d", k, on[0], off[0]);
        }
    } else {
        CHECK(0, "grid.png does not decode");
    }
    free(px);
}
#endif

int main(void) {
    g_root = getenv("UG_BUILD_ROOT");
    snprintf(g_dir, sizeof g_dir, "/tmp/ug-test-report-XXXXXX");
    if (!mkdtemp(g_dir)) return 1;
    test_stats();
    test_labels_filters();
    if (g_root) {
        test_tables();
#ifdef UG_HAVE_PNG
        test_pngs();
#endif
    } else {
        fprintf(stderr, "UG_BUILD_ROOT is not set: the CLI tables and pictures were not checked\n");
        CHECK(0, "run through meson (it sets UG_BUILD_ROOT)");
    }
    nftw(g_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return CHECK_DONE();
}
