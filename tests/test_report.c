/* test_report.c — the statistics behind `unigfn report table` (mean, std with n-1, sem, Student-t ci95),
 * label ordering and filters, golden Markdown/LaTeX/CSV/HTML tables from a small database built here
 * through store.h, and the pictures of `report curves|samples` (plot/, cairo): PNGs decoded with libpng
 * and checked pixel by pixel, SVGs parsed as XML and PDFs read back by tests/figure_check.py. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mkdtemp, nftw, popen */
#endif
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef UG_HAVE_PNG
#include <png.h>
#endif

#include "check.h"
#include "unigfn/host/report_data.h"
#include "unigfn/host/report_samples.h"
#include "plot/axes.h"
#include "plot/chart.h"
#include "plot/density.h"
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
        double loss = scale * exp(-s / 15.0) + 0.15 * seed + 0.1;
        ug_store_metric(st, id, "loss", s * 5, s == 7 && seed == 1 ? NAN : loss, &err);
    }
    /* the lowest nll comes first, so --reduce min and last differ */
    ug_store_metric(st, id, "nll", 100, nll - 0.25, &err);
    ug_store_metric(st, id, "nll", 200, nll, &err);
    ug_store_metric(st, id, "final_nll", 200, nll, &err);   /* one point per run: a marker plot */
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

static bool near(const unsigned char *p, unsigned rgb, int tol) {
    return abs(p[0] - (int)(rgb >> 16 & 255)) <= tol && abs(p[1] - (int)(rgb >> 8 & 255)) <= tol &&
           abs(p[2] - (int)(rgb & 255)) <= tol;
}

/* pixels of colour rgb (within tol) in the rectangle [x0, x1) x [y0, y1) */
static int count_in(const unsigned char *px, int w, int h, int x0, int y0, int x1, int y1, unsigned rgb, int tol) {
    int n = 0;
    for (int y = y0 < 0 ? 0 : y0; y < y1 && y < h; y++)
        for (int x = x0 < 0 ? 0 : x0; x < x1 && x < w; x++) n += near(px + 3 * ((size_t)y * w + x), rgb, tol);
    return n;
}

static int count_color(const unsigned char *px, int w, int h, unsigned rgb, int tol) {
    return count_in(px, w, h, 0, 0, w, h, rgb, tol);
}

/* dark (text) and mid-gray (its antialiased edges) pixels in a rectangle */
static void ink_in(const unsigned char *px, int w, int h, int x0, int y0, int x1, int y1, int *dark, int *mid) {
    *dark = *mid = 0;
    for (int y = y0 < 0 ? 0 : y0; y < y1 && y < h; y++)
        for (int x = x0 < 0 ? 0 : x0; x < x1 && x < w; x++) {
            const unsigned char *p = px + 3 * ((size_t)y * w + x);
            int lum = (p[0] + p[1] + p[2]) / 3, spread = abs(p[0] - p[1]) + abs(p[1] - p[2]);
            if (spread > 12) continue;   /* coloured: not text */
            *dark += lum < 90;
            *mid += lum >= 110 && lum <= 210;
        }
}

/* colour rgb blended over bg at opacity a, as cairo draws the bands */
static unsigned over(unsigned bg, unsigned rgb, double a) {
    unsigned out = 0;
    for (int k = 2; k >= 0; k--) out = out << 8 | (unsigned)lround((1 - a) * (bg >> (8 * k) & 255) + a * (rgb >> (8 * k) & 255));
    return out;
}
static unsigned over_white(unsigned rgb, double a) { return over(0xffffff, rgb, a); }

static char *stderr_text(void) {
    char ep[128];
    snprintf(ep, sizeof ep, "%s/stderr.txt", g_dir);
    char *t = slurp(ep);
    return t ? t : strdup("");
}

/* tests/figure_check.py ARGS: exit 0 when every check it prints holds */
static int figure_check(const char *args) {
    char cmd[2048];
    const char *src = getenv("UG_SOURCE_ROOT") ? getenv("UG_SOURCE_ROOT") : ".";
    snprintf(cmd, sizeof cmd, "python3 %s/tests/figure_check.py %s", src, args);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#define G0 0x1f77b4u   /* binary_gfn kl_tb+tbc: 3 runs */
#define G1 0xff7f0eu   /* binary_gfn tb: 3 runs */
#define G2 0x2ca02cu   /* tiny_binary: 1 run, no band */

static void test_curves_png(void) {
    int status, w = 0, h = 0;
    char path[160], args[400];
    snprintf(path, sizeof path, "%s/curves.png", g_dir);
    snprintf(args, sizeof args, "report curves --metric loss -o %s", path);
    char *out = cli(args, &status);
    CHECK(status == 0 && strstr(out, "group 0: model=binary_gfn objective=kl_tb+tbc (3 runs): r00 r01 r02") &&
              strstr(out, "group 1: model=binary_gfn objective=tb (3 runs): r10 r11 r19") &&
              strstr(out, "group 2: model=tiny_binary objective=kl_tb+tbc (1 run): r20"),
          "curves:\n%s", out);
    free(out);
    unsigned char *px = read_png(path, &w, &h);
    CHECK(px != NULL, "curves.png does not decode");
    if (!px) return;
    int H0 = 540;
    CHECK(w == 900 && h == H0 + ug_chart_legend_height(3) && ug_chart_legend_height(3) == 3 * 18 + 12, "curves size %dx%d", w, h);
    /* bold means (and the one-run group's bold line) in the group colours */
    int c0 = count_color(px, w, h, G0, 8), c1 = count_color(px, w, h, G1, 8), c2 = count_color(px, w, h, G2, 8);
    CHECK(c0 > 400 && c1 > 400 && c2 > 400, "group colours: %d %d %d", c0, c1, c2);
    /* mean ± std bands: the group colour at 0.2 over white (for group 0 also under group 1's band, drawn
     * after it), over a large area for the two groups of three runs; the one-run group has none (only
     * antialiased edges of its line come near) */
    int b0 = count_color(px, w, h, over_white(G0, 0.2), 3) + count_color(px, w, h, over(over_white(G0, 0.2), G1, 0.2), 3);
    int b1 = count_color(px, w, h, over_white(G1, 0.2), 3), b2 = count_color(px, w, h, over_white(G2, 0.2), 3);
    CHECK(b0 > 3000 && b1 > 3000 && b2 < 400, "band pixels: %d %d %d (group 2 has one run: no band)", b0, b1, b2);
    CHECK(count_color(px, w, h, 0xffffff, 0) > w * h / 3, "mostly white background");
    /* real text: dark strokes with antialiased gray edges in the title, y label, x tick labels and legend */
    int dark, mid;
    ink_in(px, w, h, 300, 0, 600, 40, &dark, &mid);
    CHECK(dark > 60 && mid > 30, "title 'loss': %d dark, %d gray px", dark, mid);
    ink_in(px, w, h, 0, 100, 34, 420, &dark, &mid);
    CHECK(dark > 30 && mid > 15, "rotated y label: %d dark, %d gray px", dark, mid);
    ink_in(px, w, h, 60, H0 - 50, 880, H0 - 30, &dark, &mid);
    CHECK(dark > 80 && mid > 40, "x tick labels: %d dark, %d gray px", dark, mid);
    ink_in(px, w, h, 80, H0 + 6, 600, h, &dark, &mid);
    CHECK(dark > 300 && mid > 150, "legend labels: %d dark, %d gray px", dark, mid);
    /* legend swatches: a bold line per group in its colour, left of the labels */
    CHECK(count_in(px, w, h, 0, H0, 200, h, G0, 8) > 20 && count_in(px, w, h, 0, H0, 200, h, G1, 8) > 20 &&
              count_in(px, w, h, 0, H0, 200, h, G2, 8) > 20,
          "legend swatches");
    free(px);

    snprintf(path, sizeof path, "%s/curves_log.png", g_dir);
    snprintf(args, sizeof args, "report curves --metric loss --log-y --log-x --group-by model --width 640 --height 400 -o %s", path);
    out = cli(args, &status);
    free(out);
    px = read_png(path, &w, &h);
    CHECK(status == 0 && px && w == 640 && h == 400 + ug_chart_legend_height(2), "log curves %dx%d", w, h);
    free(px);
}

static void test_curves_vector(void) {
    int status;
    char path[160], args[600];
    /* SVG: XML with the group colours as strokes, bands as translucent fills for the two groups of
     * three runs, glyphs for every label, legend swatches below the plot */
    snprintf(path, sizeof path, "%s/curves.svg", g_dir);
    snprintf(args, sizeof args, "report curves --metric loss -o %s", path);
    free(cli(args, &status));
    CHECK(status == 0, "curves.svg: exit %d", status);
    snprintf(args, sizeof args, "svg %s --size 900x606 --stroke 1f77b4 --stroke ff7f0e --stroke 2ca02c --band 1f77b4 "
             "--band ff7f0e --no-band 2ca02c --legend 3 --glyphs 150", path);
    CHECK(figure_check(args) == 0, "figure_check %s", args);
    /* PDF: one page whose text holds the title, axis label and legend entries */
    snprintf(path, sizeof path, "%s/curves.pdf", g_dir);
    snprintf(args, sizeof args, "report curves --metric loss --title 'loss by objective' -o %s", path);
    free(cli(args, &status));
    CHECK(status == 0, "curves.pdf: exit %d", status);
    char *pdf = slurp(path);
    CHECK(pdf && strncmp(pdf, "%PDF-", 5) == 0, "curves.pdf does not start with %%PDF-");
    free(pdf);
    snprintf(args, sizeof args, "pdf %s --pages 1 --text 'loss by objective' --text step "
             "--text 'model=binary_gfn objective=tb (3 runs)' --text 'model=tiny_binary objective=kl_tb+tbc (1 run)'", path);
    CHECK(figure_check(args) == 0, "figure_check %s", args);
}

static void test_bad_extension(void) {
    int status;
    char path[160], args[400];
    snprintf(path, sizeof path, "%s/curves.bmp", g_dir);
    snprintf(args, sizeof args, "report curves --metric loss -o %s", path);
    free(cli(args, &status));
    char *e = stderr_text();
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 2 && strstr(e, "unknown picture format '.bmp' (use .png, .svg or .pdf)"),
          "-o curves.bmp: exit %d: %s", WEXITSTATUS(status), e);
    CHECK(access(path, F_OK) != 0, "curves.bmp was created");
    free(e);
    free(cli("report curves --metric loss -o curves", &status));
    e = stderr_text();
    CHECK(WEXITSTATUS(status) == 2 && strstr(e, "curves: no picture format: the file name needs an extension, .png, .svg or .pdf"),
          "-o curves: exit %d: %s", WEXITSTATUS(status), e);
    free(e);
    /* samples: refused before the run is looked at (r00 has no checkpoint: that would be exit 1) */
    free(cli("report samples r00 -o s.jpeg", &status));
    e = stderr_text();
    CHECK(WEXITSTATUS(status) == 2 && strstr(e, "unigfn report samples: -o s.jpeg: unknown picture format '.jpeg'"),
          "samples -o s.jpeg: exit %d: %s", WEXITSTATUS(status), e);
    free(e);
    ug_error err = {0};
    float pt[2] = {0, 0};
    CHECK(ug_samples_density("x.gif", pt, 1, NULL, 0, 4, 1.0, NULL, "m", "d", &err) == UG_ERR_ARG &&
              strstr(err.msg, "x.gif: unknown picture format '.gif'"),
          "library: %s", err.msg);
}

/* A metric logged once per run: markers (no empty plot) and a note on stderr. */
static void test_single_point(void) {
    int status, w = 0, h = 0;
    char path[160], args[400];
    snprintf(path, sizeof path, "%s/single.png", g_dir);
    snprintf(args, sizeof args, "report curves --metric final_nll -o %s", path);
    char *out = cli(args, &status), *e = stderr_text();
    CHECK(status == 0 && strstr(out, "wrote ") &&
              strstr(e, "note: every run logged 'final_nll' at one step only: drawn as markers, each group's mean ± std "
                        "over its runs as an error bar"),
          "single point: exit %d\n%s%s", status, out, e);
    free(out);
    free(e);
    unsigned char *px = read_png(path, &w, &h);
    CHECK(px != NULL, "single.png does not decode");
    if (px) {
        /* a filled disc of radius 5.5 px per group mean in the plot area (~95 px each), plus the legend's */
        int c0 = count_in(px, w, h, 0, 0, w, 540, G0, 10), c1 = count_in(px, w, h, 0, 0, w, 540, G1, 10);
        int c2 = count_in(px, w, h, 0, 0, w, 540, G2, 10);
        CHECK(c0 > 40 && c1 > 40 && c2 > 40, "markers: %d %d %d px", c0, c1, c2);
    }
    free(px);
    snprintf(path, sizeof path, "%s/single.svg", g_dir);
    snprintf(args, sizeof args, "report curves --metric final_nll -o %s", path);
    free(cli(args, &status));
    snprintf(args, sizeof args, "svg %s --size 900x606 --markers 1f77b4 --markers ff7f0e --markers 2ca02c --errorbar 1f77b4 "
             "--errorbar ff7f0e --no-band 1f77b4", path);
    CHECK(status == 0 && figure_check(args) == 0, "figure_check %s", args);
    /* a metric with several steps prints no such note */
    snprintf(args, sizeof args, "report curves --metric nll -o %s/nll.png", g_dir);
    free(cli(args, &status));
    e = stderr_text();
    CHECK(status == 0 && !strstr(e, "markers"), "nll has two steps per run: %s", e);
    free(e);
}

static void test_density(void) {
    int w = 0, h = 0;
    char path[160], args[400];
    /* every model point in one cell; the data spread evenly over the 16 cells */
    float model[2 * 500], truth[2 * 400];
    for (int i = 0; i < 500; i++) model[2 * i] = 0.55f, model[2 * i + 1] = -0.55f;
    for (int i = 0; i < 400; i++) truth[2 * i] = (float)(i % 20) / 10 - 0.95f, truth[2 * i + 1] = (float)(i / 20) / 10 - 0.95f;
    snprintf(path, sizeof path, "%s/density.png", g_dir);
    ug_error err = {0};
    CHECK(ug_samples_density(path, model, 500, truth, 400, 4, 1.0, "run abc at step 9", "model samples", "data", &err) == UG_OK,
          "%s", err.msg);
    ug_density_fig fig = {.size = sizeof fig, .title = "t", .bins = 4, .x0 = -1, .x1 = 1, .y0 = -1, .y1 = 1, .n_panels = 2};
    int64_t zero[16] = {0};
    fig.panels[0].counts = fig.panels[1].counts = zero;
    ug_density_geom g;
    CHECK(ug_density_geometry(&fig, &g, &err) == UG_OK && g.scale == 64 && g.side == 256, "geometry: %s", err.msg);
    unsigned char *px = read_png(path, &w, &h);
    CHECK(px != NULL, "density.png does not decode");
    if (px) {
        CHECK(w == g.w && h == g.h && g.panel_x[1] - g.panel_x[0] > g.side, "density size %dx%d, want %dx%d", w, h, g.w, g.h);
        /* x = 0.55 -> column 3, y = -0.55 -> row 3 (rows go down); one colour scale for both panels:
         * the model's cell has density 500 / (500 * 0.25) = 4 (the top colour), each data cell
         * 25 / (400 * 0.25) = 0.25, 1/16 of the scale (viridis(1/16) = (70, 23, 103)), empty cells the bottom colour */
        const unsigned char *c = px + 3 * ((size_t)(g.panel_y + 3 * 64 + 30) * w + g.panel_x[0] + 3 * 64 + 30);
        CHECK(c[0] == 253 && c[1] == 231 && c[2] == 37, "dense cell %d %d %d", c[0], c[1], c[2]);
        const unsigned char *e = px + 3 * ((size_t)(g.panel_y + 30) * w + g.panel_x[0] + 30);
        CHECK(e[0] == 68 && e[1] == 1 && e[2] == 84, "empty cell %d %d %d", e[0], e[1], e[2]);
        const unsigned char *d = px + 3 * ((size_t)(g.panel_y + 100) * w + g.panel_x[1] + 100);
        CHECK(d[0] == 70 && d[1] == 23 && d[2] == 103, "data cell %d %d %d", d[0], d[1], d[2]);
        /* every bin is a whole 64 x 64 block of one colour: corners of the dense cell */
        const unsigned char *c00 = px + 3 * ((size_t)(g.panel_y + 3 * 64) * w + g.panel_x[0] + 3 * 64);
        const unsigned char *c11 = px + 3 * ((size_t)(g.panel_y + 4 * 64 - 1) * w + g.panel_x[0] + 4 * 64 - 1);
        CHECK(near(c00, 0xfde725, 0) && near(c11, 0xfde725, 0), "dense cell corners");
        /* the colour bar: bottom colour at the bottom, top at the top, viridis(0.5) half way */
        int bx = g.bar_x + g.bar_w / 2;
        const unsigned char *bt = px + 3 * ((size_t)(g.panel_y + 1) * w + bx), *bb = px + 3 * ((size_t)(g.panel_y + g.side - 2) * w + bx);
        const unsigned char *bm = px + 3 * ((size_t)(g.panel_y + g.side / 2) * w + bx);
        CHECK(near(bt, 0xfde725, 6) && near(bb, 0x440154, 6) && near(bm, 0x21908d, 6), "colour bar top %d,%d,%d mid %d,%d,%d bottom %d,%d,%d",
              bt[0], bt[1], bt[2], bm[0], bm[1], bm[2], bb[0], bb[1], bb[2]);
        /* text: the title, y tick labels left of panel 0, x tick labels under each panel, colour bar labels */
        int dark, mid;
        ink_in(px, w, h, 0, 0, w, 34, &dark, &mid);
        CHECK(dark > 60 && mid > 30, "title: %d dark, %d gray", dark, mid);
        ink_in(px, w, h, 0, g.panel_y, g.panel_x[0] - 8, g.panel_y + g.side, &dark, &mid);
        CHECK(dark > 40 && mid > 20, "y axis labels: %d dark, %d gray", dark, mid);
        for (int p = 0; p < 2; p++) {
            ink_in(px, w, h, g.panel_x[p] - 10, g.panel_y + g.side + 6, g.panel_x[p] + g.side + 10, g.panel_y + g.side + 24, &dark, &mid);
            CHECK(dark > 40 && mid > 20, "panel %d x tick labels: %d dark, %d gray", p, dark, mid);
        }
        ink_in(px, w, h, g.bar_x + g.bar_w + 6, g.panel_y - 6, w, g.panel_y + g.side + 6, &dark, &mid);
        CHECK(dark > 60 && mid > 30, "colour bar labels: %d dark, %d gray", dark, mid);
    }
    free(px);
    /* the same picture as SVG (an embedded image, glyphs) and PDF */
    snprintf(path, sizeof path, "%s/density.svg", g_dir);
    CHECK(ug_samples_density(path, model, 500, truth, 400, 4, 1.0, "run abc at step 9", "model samples", "data", &err) == UG_OK, "%s", err.msg);
    snprintf(args, sizeof args, "svg %s --size %dx%d --images 2 --glyphs 60", path, g.w, g.h);
    CHECK(figure_check(args) == 0, "figure_check %s", args);
    snprintf(path, sizeof path, "%s/density.pdf", g_dir);
    CHECK(ug_samples_density(path, model, 500, truth, 400, 4, 1.0, "run abc at step 9", "model samples", "data", &err) == UG_OK, "%s", err.msg);
    snprintf(args, sizeof args, "pdf %s --pages 1 --text 'run abc at step 9' --text 'model samples' --text density --text '500 samples'", path);
    CHECK(figure_check(args) == 0, "figure_check %s", args);
}

static void test_grid(void) {
    int w = 0, h = 0;
    char path[160], args[400];
    ug_error err = {0};
    /* image grid: 4 images of 4x4, image k lit at pixel (k, k) */
    float imgs[4 * 16] = {0};
    for (int k = 0; k < 4; k++) imgs[k * 16 + k * 4 + k] = 1.0f;
    snprintf(path, sizeof path, "%s/grid.png", g_dir);
    CHECK(ug_samples_grid(path, imgs, 4, 1, 4, 4, &err) == UG_OK, "%s", err.msg);
    unsigned char *px = read_png(path, &w, &h);
    if (px) {
        int scale = 14, cell = 4 * scale + 2;   /* 56 px images, 2 px gaps */
        CHECK(w == 2 * cell + 2 && h == 2 * cell + 2, "grid size %dx%d", w, h);
        for (int k = 0; k < 4; k++) {
            int gx = 2 + (k % 2) * cell, gy = 2 + (k / 2) * cell;
            const unsigned char *on = px + 3 * ((size_t)(gy + k * scale + 3) * w + gx + k * scale + 3);
            const unsigned char *off = px + 3 * ((size_t)(gy + ((k + 1) % 4) * scale + 3) * w + gx + k * scale + 3);
            CHECK(on[0] == 255 && off[0] == 0, "image %d: on %d off %d", k, on[0], off[0]);
        }
        CHECK(near(px, 0x808080, 0), "gaps are mid-gray");
    } else {
        CHECK(0, "grid.png does not decode");
    }
    free(px);
    snprintf(path, sizeof path, "%s/grid.svg", g_dir);
    CHECK(ug_samples_grid(path, imgs, 4, 1, 4, 4, &err) == UG_OK, "%s", err.msg);
    snprintf(args, sizeof args, "svg %s --size 118x118 --images 1", path);
    CHECK(figure_check(args) == 0, "figure_check %s", args);
    snprintf(path, sizeof path, "%s/grid.pdf", g_dir);
    CHECK(ug_samples_grid(path, imgs, 4, 1, 4, 4, &err) == UG_OK, "%s", err.msg);
    snprintf(args, sizeof args, "pdf %s --pages 1", path);
    CHECK(figure_check(args) == 0, "figure_check %s", args);
}

/* tick positions and labels: linear steps of 1-2-5, log decades far from 1 as 10^k (m×10^k between
 * them), and evenly spaced values inside a decade */
static void test_ticks(void) {
    ug_tick t[UG_TICKS_MAX];
    ug_axis lin = {.lo = 0, .hi = 1};
    int n = ug_axis_ticks(&lin, 5, t, UG_TICKS_MAX);
    CHECK(n == 6 && strcmp(t[1].text, "0.2") == 0 && strcmp(t[5].text, "1.0") == 0 && t[5].pow10 == UG_TICK_PLAIN,
          "linear [0, 1]: %d ticks, '%s' ... '%s'", n, t[1].text, t[n - 1].text);
    ug_axis decades = {.lo = -6, .hi = 0, .log = true};
    n = ug_axis_ticks(&decades, 6, t, UG_TICKS_MAX);
    CHECK(n == 7 && t[0].pow10 == -6 && strcmp(t[0].text, "10") == 0 && t[3].pow10 == -3 && t[4].pow10 == UG_TICK_PLAIN &&
              strcmp(t[4].text, "0.01") == 0 && strcmp(t[6].text, "1") == 0,
          "log [1e-6, 1]: %d ticks, first 10^%d, fifth '%s'", n, t[0].pow10, t[4].text);
    ug_axis few = {.lo = 3.5, .hi = 5.2, .log = true};
    n = ug_axis_ticks(&few, 6, t, UG_TICKS_MAX);
    CHECK(n == 5 && strcmp(t[0].text, "5000") == 0 && t[1].pow10 == 4 && strcmp(t[1].text, "10") == 0 &&
              t[2].pow10 == 4 && strcmp(t[2].text, "2\xc3\x97" "10") == 0 && fabs(t[3].u - log10(5e4)) < 1e-12 && t[4].pow10 == 5,
          "log [3162, 158489]: %d ticks: '%s' '%s'^%d '%s'^%d", n, t[0].text, t[1].text, t[1].pow10, t[2].text, t[2].pow10);
    ug_axis inside = {.lo = log10(3.7), .hi = log10(5.0), .log = true};
    n = ug_axis_ticks(&inside, 6, t, UG_TICKS_MAX);
    CHECK(n == 7 && strcmp(t[0].text, "3.8") == 0 && strcmp(t[6].text, "5.0") == 0 && fabs(t[1].u - log10(4.0)) < 1e-12,
          "log [3.7, 5]: %d ticks, '%s' ... '%s'", n, t[0].text, t[n - 1].text);
}

static void test_pictures(void) {
    test_ticks();
    test_curves_png();
    test_curves_vector();
    test_bad_extension();
    test_single_point();
    test_density();
    test_grid();
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
        test_pictures();
#else
        fprintf(stderr, "built without libpng: the pictures were not decoded\n");
        CHECK(0, "install libpng-dev: the picture checks decode PNGs with it");
#endif
    } else {
        fprintf(stderr, "UG_BUILD_ROOT is not set: the CLI tables and pictures were not checked\n");
        CHECK(0, "run through meson (it sets UG_BUILD_ROOT)");
    }
    if (getenv("UG_KEEP_TEST_DIR")) fprintf(stderr, "kept %s\n", g_dir);   /* to look at the pictures */
    else nftw(g_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return CHECK_DONE();
}
