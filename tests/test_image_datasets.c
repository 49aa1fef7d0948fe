/* test_image_datasets.c — the image datasets `digits` and `fashion_mnist` (plugins/datasets/images)
 * through the real loader, on small IDX and CSV files this test writes itself (gzipped and not), and
 * on the Debian packages' real files where they are installed (those cases skip, saying why, where not).
 *
 * Case (argv[1]):
 *   idx           IDX header validation: bad magic, wrong type or dims, empty, truncated (plain and
 *                 gzip), corrupt gzip, bytes past the end, missing files: errors naming the path
 *   fashion       fashion_mnist on a written 120/40-image set: levels, file order, limits, gzip = plain,
 *                 pooling, binarization (dynamic statistics and redraws, threshold), dequantization,
 *                 the held-out set fixed across calls and run seeds, epochs, decode
 *   digits        digits on a written 60-line CSV: the seeded split (deterministic, disjoint, complete),
 *                 encodings, CSV errors naming path:line, the missing-file message
 *   plugins       `unigfn plugins` lists both with their schemas; the schema bounds
 *   real_digits   python3-sklearn's digits.csv.gz: 1797 images split 1500/297, levels 0..16
 *   real_fashion  dataset-fashion-mnist's files: 60000/10000 images equal to the file's bytes
 *
 * Binarization statistics pair a binary dataset with a categorical one of the same run seed: batches
 * are a function of (run seed, step, batch size) alone, so step s of both holds the same images, and
 * the binary one's count of ones is compared with Σ v/L over those images within 5 standard deviations. */
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "plugin_harness.h"

/* the packages' locations (the plugins' defaults); -D overrides them to try the skips */
#ifndef DIGITS_PATH
#define DIGITS_PATH "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz"
#endif
#ifndef FMNIST_DIR
#define FMNIST_DIR "/usr/share/datasets/fashion-mnist"
#endif

static harness g_h;
static ug_ctx *g_ctx;
static char g_tmp[512];

/* ---- fixtures ---- */

static int write_bytes(const char *path, bool gz, const void *p, size_t n) {
    if (gz) {
        gzFile f = gzopen(path, "wb");
        if (!f) return -1;
        int ok = n == 0 || gzwrite(f, p, (unsigned)n) == (int)n;
        return gzclose(f) == Z_OK && ok ? 0 : -1;
    }
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(p, 1, n, f);
    return fclose(f) == 0 && w == n ? 0 : -1;
}

/* An IDX file: magic bytes m[4], `nd` sizes, then `ndata` bytes of data. */
static int write_idx(const char *path, bool gz, const uint8_t m[4], int nd, const uint32_t *dims, const uint8_t *data,
                     size_t ndata) {
    size_t n = 4 + 4 * (size_t)nd + ndata;
    uint8_t *b = malloc(n);
    if (!b) return -1;
    memcpy(b, m, 4);
    for (int k = 0; k < nd; k++)
        for (int j = 0; j < 4; j++) b[4 + 4 * k + j] = (uint8_t)(dims[k] >> (24 - 8 * j));
    if (ndata) memcpy(b + 4 + 4 * nd, data, ndata);
    int r = write_bytes(path, gz, b, n);
    free(b);
    return r;
}

static const uint8_t MAGIC3[4] = {0, 0, 8, 3};
enum { NTR = 120, NTE = 40, PX = 784 };
static uint8_t g_train[NTR * PX], g_test[NTE * PX];

/* Gray levels that cover 0..255, with runs of 0 and 255 (a fifth of the pixels each) so that the
 * certain pixels of dynamic binarization are exercised. */
static uint8_t level(int i, int j, int split) {
    uint32_t h = (uint32_t)(i * 2654435761u) ^ (uint32_t)(j * 40503u) ^ (uint32_t)(split * 977u);
    h ^= h >> 13, h *= 0x5bd1e995u, h ^= h >> 15;
    int k = (int)(h % 5);
    return k == 0 ? 0 : k == 1 ? 255 : (uint8_t)(h >> 8);
}

static void make_levels(void) {
    for (int i = 0; i < NTR; i++)
        for (int j = 0; j < PX; j++) g_train[i * PX + j] = level(i, j, 0);
    for (int i = 0; i < NTE; i++)
        for (int j = 0; j < PX; j++) g_test[i * PX + j] = level(i, j, 1);
}

/* A folder under g_tmp holding the two image files (gzipped or not). */
static void fashion_dir(const char *name, bool gz, char *dir, size_t cap) {
    snprintf(dir, cap, "%s/%s", g_tmp, name);
    mkdir(dir, 0755);
    char p[1024];
    const uint32_t dtr[3] = {NTR, 28, 28}, dte[3] = {NTE, 28, 28};
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte%s", dir, gz ? ".gz" : "");
    CHECK(write_idx(p, gz, MAGIC3, 3, dtr, g_train, sizeof g_train) == 0, "cannot write %s", p);
    snprintf(p, sizeof p, "%s/t10k-images-idx3-ubyte%s", dir, gz ? ".gz" : "");
    CHECK(write_idx(p, gz, MAGIC3, 3, dte, g_test, sizeof g_test) == 0, "cannot write %s", p);
}

/* ---- datasets from spec text ---- */

static int open_ds(ug_dataset *d, uint64_t seed, ug_error *err, const char *fmt, ...) {
    char flow[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(flow, sizeof flow, fmt, ap);
    va_end(ap);
    memset(d, 0, sizeof *d);
    memset(err, 0, sizeof *err);
    ug_spec *s = harness_spec(&g_h, flow, NULL, NULL, err);
    if (!s) return -1;
    int r = harness_dataset(&g_h, s, g_ctx, seed, d, err);
    ug_spec_free(s);
    return r ? -1 : 0;
}

static void close_ds(ug_dataset *d) {
    if (d->self) ug_registry_find(g_h.reg, UG_KIND_DATASET, d->name)->desc->destroy(d->self);
    d->self = NULL;
}

/* A create that must fail, with a message holding each of the NULL-terminated strings. */
static void expect_error(const char *what, const char *flow, ...) {
    ug_dataset d;
    ug_error err;
    int r = open_ds(&d, 1, &err, "%s", flow);
    CHECK(r != 0, "%s: created, expected an error", what);
    close_ds(&d);
    va_list ap;
    va_start(ap, flow);
    for (const char *s; (s = va_arg(ap, const char *));)
        CHECK(strstr(err.msg, s) != NULL, "%s: message lacks '%s': %s", what, s, err.msg);
    va_end(ap);
    printf("%s -> %s\n", what, err.msg);
}

/* Host copies of a dataset's tensors (the step arena is reset by the caller). */
static float *batch(ug_dataset *d, uint64_t rng_seed, int64_t B, int64_t step) {
    ug_rng r = ug_rng_make(rng_seed, 5);
    ug_tensor *x = NULL;
    if (d->vt->train_batch(d->self, g_ctx, &r, B, step, &x) || !x) {
        CHECK(0, "%s.train_batch(%lld, %lld): %s", d->name, (long long)B, (long long)step, ug_ctx_errmsg(g_ctx));
        return NULL;
    }
    float *h = malloc((size_t)ug_numel(x) * sizeof *h);
    memcpy(h, ug_f32(x), (size_t)ug_numel(x) * sizeof *h);
    return h;
}

static float *heldout(ug_dataset *d, int64_t off, int64_t n) {
    ug_tensor *x = NULL;
    if (d->vt->heldout(d->self, g_ctx, off, n, &x) || !x) {
        CHECK(0, "%s.heldout(%lld, %lld): %s", d->name, (long long)off, (long long)n, ug_ctx_errmsg(g_ctx));
        return NULL;
    }
    float *h = malloc((size_t)ug_numel(x) * sizeof *h);
    memcpy(h, ug_f32(x), (size_t)ug_numel(x) * sizeof *h);
    return h;
}

/* rows of categorical codes as bytes (NULL if some code is not an integer level 0..max) */
static uint8_t *as_levels(const float *x, int64_t n, int max) {
    uint8_t *b = malloc((size_t)n);
    for (int64_t i = 0; i < n; i++) {
        if (!(x[i] >= 0 && x[i] <= max && x[i] == floorf(x[i]))) {
            free(b);
            return NULL;
        }
        b[i] = (uint8_t)x[i];
    }
    return b;
}

static size_t g_row;   /* row length for qsort */
static int row_cmp(const void *a, const void *b) { return memcmp(a, b, g_row); }

/* Do the rows a [na, D] and b [nb, D] hold the same multiset of images? (sorts copies) */
static bool same_rows(const uint8_t *a, int64_t na, const uint8_t *b, int64_t nb, int64_t D) {
    if (na != nb) return false;
    uint8_t *sa = malloc((size_t)(na * D)), *sb = malloc((size_t)(nb * D));
    memcpy(sa, a, (size_t)(na * D));
    memcpy(sb, b, (size_t)(nb * D));
    g_row = (size_t)D;
    qsort(sa, (size_t)na, (size_t)D, row_cmp);
    qsort(sb, (size_t)nb, (size_t)D, row_cmp);
    bool same = memcmp(sa, sb, (size_t)(na * D)) == 0;
    free(sa), free(sb);
    return same;
}

/* How many rows of a also occur in b. */
static int64_t common_rows(const uint8_t *a, int64_t na, const uint8_t *b, int64_t nb, int64_t D) {
    int64_t c = 0;
    for (int64_t i = 0; i < na; i++)
        for (int64_t j = 0; j < nb; j++)
            if (memcmp(a + i * D, b + j * D, (size_t)D) == 0) { c++; break; }
    return c;
}

/* Binary x against the levels v of the same entries, for dynamic binarization with max level L:
 * exact at v = 0 and v = L, and the count of ones within 5 sd of Σ v/L in each quarter of the levels. */
static void check_bernoulli(const char *what, const float *x, const uint8_t *v, int64_t n, int L) {
    double ones[4] = {0}, mean[4] = {0}, var[4] = {0};
    int64_t bad = 0, nonbin = 0;
    for (int64_t i = 0; i < n; i++) {
        double p = (double)v[i] / L;
        nonbin += x[i] != 0.0f && x[i] != 1.0f;
        if (v[i] == 0 || v[i] == L) { bad += x[i] != (v[i] ? 1.0f : 0.0f); continue; }
        int q = p < 0.25 ? 0 : p < 0.5 ? 1 : p < 0.75 ? 2 : 3;
        ones[q] += x[i], mean[q] += p, var[q] += p * (1 - p);
    }
    CHECK(nonbin == 0 && bad == 0, "%s: %lld non-binary entries, %lld wrong where v is 0 or L", what, (long long)nonbin,
          (long long)bad);
    for (int q = 0; q < 4; q++)
        CHECK(fabs(ones[q] - mean[q]) <= 5 * sqrt(var[q]) + 1e-9,
              "%s: levels in quarter %d: %.0f ones, expected %.1f +- %.1f", what, q, ones[q], mean[q], sqrt(var[q]));
}

/* ---- case idx: header validation ---- */

static void test_idx(void) {
    char dir[1024], p[1200], flow[1400];
    const uint32_t dte[3] = {NTE, 28, 28};
    struct {
        const char *name;
        uint8_t magic[4];
        int nd;
        uint32_t dims[3];
        long ndata_delta;   /* bytes of data beyond (+) or short of (-) what the header gives */
        bool gz;
        const char *want;
    } cases[] = {
        {"bad_magic", {8, 3, 0, 0}, 3, {NTR, 28, 28}, 0, true, "bad IDX magic 08 03 00 00, expected 00 00 08 03"},
        {"float_type", {0, 0, 0x0d, 3}, 3, {NTR, 28, 28}, 0, false, "bad IDX magic 00 00 0d 03"},
        {"labels_file", {0, 0, 8, 1}, 1, {NTR}, -(long)NTR * PX + NTR, true, "bad IDX magic 00 00 08 01"},
        {"wrong_dims", {0, 0, 8, 3}, 3, {NTR, 27, 28}, -(long)NTR * 28, true, "sizes 120 x 27 x 28, expected N x 28 x 28"},
        {"no_images", {0, 0, 8, 3}, 3, {0, 28, 28}, -(long)NTR * PX, false, "sizes 0 x 28 x 28, expected N x 28 x 28"},
        {"truncated", {0, 0, 8, 3}, 3, {NTR, 28, 28}, -100, false, "truncated: the IDX header gives 120 x 28 x 28 "
                                                                        "(94080 bytes of data), the file holds 93980"},
        {"truncated_gz_payload", {0, 0, 8, 3}, 3, {NTR, 28, 28}, -PX, true, "the file holds 93296"},
        {"past_end", {0, 0, 8, 3}, 3, {NTR, 28, 28}, 7, true, "7 bytes past the 94080 bytes of data"},
    };
    static uint8_t big[(NTR + 1) * PX];
    memcpy(big, g_train, sizeof g_train);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        snprintf(dir, sizeof dir, "%s/idx_%s", g_tmp, cases[c].name);
        mkdir(dir, 0755);
        snprintf(p, sizeof p, "%s/t10k-images-idx3-ubyte.gz", dir);
        CHECK(write_idx(p, true, MAGIC3, 3, dte, g_test, sizeof g_test) == 0, "write %s", p);
        snprintf(p, sizeof p, "%s/train-images-idx3-ubyte%s", dir, cases[c].gz ? ".gz" : "");
        CHECK(write_idx(p, cases[c].gz, cases[c].magic, cases[c].nd, cases[c].dims, big,
                        (size_t)((long)sizeof g_train + cases[c].ndata_delta)) == 0, "write %s", p);
        snprintf(flow, sizeof flow, "{plugin: fashion_mnist, dir: '%s'}", dir);
        expect_error(cases[c].name, flow, p, cases[c].want, (const char *)NULL);
    }
    /* a header cut short, a gzip stream cut in half, a gzip stream with a flipped byte */
    snprintf(dir, sizeof dir, "%s/idx_short_header", g_tmp);
    mkdir(dir, 0755);
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte", dir);
    CHECK(write_bytes(p, false, "\0\0\x08\x03\0\0\0\x78\0\0", 10) == 0, "write %s", p);
    snprintf(flow, sizeof flow, "{plugin: fashion_mnist, dir: '%s'}", dir);
    expect_error("short_header", flow, p, "truncated: 10 bytes, shorter than the 16-byte IDX header", (const char *)NULL);

    for (int flip = 0; flip < 2; flip++) {
        snprintf(dir, sizeof dir, "%s/idx_%s", g_tmp, flip ? "corrupt_gz" : "cut_gz");
        mkdir(dir, 0755);
        snprintf(p, sizeof p, "%s/train-images-idx3-ubyte.gz", dir);
        const uint32_t dtr[3] = {NTR, 28, 28};
        CHECK(write_idx(p, true, MAGIC3, 3, dtr, g_train, sizeof g_train) == 0, "write %s", p);
        FILE *f = fopen(p, "rb");
        static uint8_t gzb[1 << 20];
        size_t n = f ? fread(gzb, 1, sizeof gzb, f) : 0;
        if (f) fclose(f);
        CHECK(n > 1000, "gzip fixture of %zu bytes", n);
        if (flip) gzb[n / 2] ^= 0x5a;
        CHECK(write_bytes(p, false, gzb, flip ? n : n / 2) == 0, "rewrite %s", p);
        snprintf(flow, sizeof flow, "{plugin: fashion_mnist, dir: '%s'}", dir);
        /* cut: zlib sees the end of the input mid-stream; flipped: an invalid code or a CRC mismatch
         * (either way the file is not read as data) */
        expect_error(flip ? "corrupt_gz" : "cut_gz", flow, p, "cannot decompress (truncated or corrupt gzip?)", (const char *)NULL);
    }

    /* missing files: the path and the package; the test split missing while the train one is there */
    snprintf(dir, sizeof dir, "%s/idx_empty", g_tmp);
    mkdir(dir, 0755);
    snprintf(flow, sizeof flow, "{plugin: fashion_mnist, dir: '%s'}", dir);
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte.gz", dir);
    expect_error("missing", flow, p, "No such file or directory", "Debian package dataset-fashion-mnist",
                 "apt-get install dataset-fashion-mnist", "set dir:", (const char *)NULL);
    snprintf(dir, sizeof dir, "%s/idx_no_test", g_tmp);
    mkdir(dir, 0755);
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte", dir);
    const uint32_t dtr[3] = {NTR, 28, 28};
    CHECK(write_idx(p, false, MAGIC3, 3, dtr, g_train, sizeof g_train) == 0, "write %s", p);
    snprintf(flow, sizeof flow, "{plugin: fashion_mnist, dir: '%s'}", dir);
    snprintf(p, sizeof p, "%s/t10k-images-idx3-ubyte.gz", dir);
    expect_error("missing_test", flow, p, "dataset-fashion-mnist", (const char *)NULL);
}

/* ---- case fashion ---- */

static void test_fashion(void) {
    char gzd[1024], plain[1024];
    fashion_dir("fm_gz", true, gzd, sizeof gzd);
    fashion_dir("fm_plain", false, plain, sizeof plain);
    ug_error err;
    ug_dataset cat = {0}, catp = {0}, cat2 = {0}, bin = {0}, bin2 = {0}, binh = {0}, thr = {0}, cont = {0}, pool = {0},
               lim = {0};
    CHECK(open_ds(&cat, 1, &err, "{plugin: fashion_mnist, dir: '%s', encoding: categorical}", gzd) == 0, "%s", err.msg);
    CHECK(open_ds(&catp, 1, &err, "{plugin: fashion_mnist, dir: '%s', encoding: categorical}", plain) == 0, "%s", err.msg);
    CHECK(open_ds(&cat2, 2, &err, "{plugin: fashion_mnist, dir: '%s', encoding: categorical}", gzd) == 0, "%s", err.msg);
    CHECK(open_ds(&bin, 1, &err, "{plugin: fashion_mnist, dir: '%s'}", gzd) == 0, "%s", err.msg);
    CHECK(open_ds(&bin2, 2, &err, "{plugin: fashion_mnist, dir: '%s'}", gzd) == 0, "%s", err.msg);
    CHECK(open_ds(&binh, 1, &err, "{plugin: fashion_mnist, dir: '%s', heldout_seed: 7}", gzd) == 0, "%s", err.msg);
    CHECK(open_ds(&thr, 1, &err, "{plugin: fashion_mnist, dir: '%s', binarize: threshold, threshold: 0.3}", plain) == 0,
          "%s", err.msg);
    CHECK(open_ds(&cont, 1, &err, "{plugin: fashion_mnist, dir: '%s', encoding: continuous}", gzd) == 0, "%s", err.msg);
    CHECK(open_ds(&pool, 1, &err, "{plugin: fashion_mnist, dir: '%s', encoding: categorical, pool: 2}", gzd) == 0, "%s",
          err.msg);
    CHECK(open_ds(&lim, 1, &err, "{plugin: fashion_mnist, dir: '%s', encoding: categorical, train_size: 10, test_size: 5}",
                  gzd) == 0, "%s", err.msg);
    if (!cat.self || !catp.self || !cat2.self || !bin.self || !bin2.self || !binh.self || !thr.self || !cont.self ||
        !pool.self || !lim.self)
        goto done;

    /* spaces */
    const ug_space *s = &cat.info.space;
    CHECK(s->kind == UG_SPACE_CATEGORICAL && s->categories == 256 && s->dim == PX && s->shape[0] == 1 &&
          s->shape[1] == 28 && s->shape[2] == 28, "categorical space: kind %u K %lld dim %lld", s->kind,
          (long long)s->categories, (long long)s->dim);
    CHECK(cat.info.train_size == NTR && cat.info.heldout_size == NTE && cat.info.decoded_dim == PX, "categorical info");
    s = &bin.info.space;
    CHECK(s->kind == UG_SPACE_BINARY && s->categories == 2 && s->dim == PX, "binary space");
    s = &cont.info.space;
    CHECK(s->kind == UG_SPACE_CONTINUOUS && s->categories == 0 && s->dim == PX, "continuous space");
    s = &pool.info.space;
    CHECK(s->dim == 196 && s->shape[1] == 14 && s->shape[2] == 14 && s->categories == 256, "pooled space dim %lld",
          (long long)s->dim);
    CHECK(lim.info.train_size == 10 && lim.info.heldout_size == 5, "limits: train %lld, held-out %lld",
          (long long)lim.info.train_size, (long long)lim.info.heldout_size);

    /* categorical: the held-out set is the test file in file order, identical for gzip and plain */
    float *h = heldout(&cat, 0, NTE), *hp = heldout(&catp, 0, NTE);
    uint8_t *hl = h ? as_levels(h, NTE * PX, 255) : NULL;
    CHECK(hl && memcmp(hl, g_test, sizeof g_test) == 0, "categorical held-out set != the test file's bytes");
    CHECK(h && hp && memcmp(h, hp, sizeof(float) * NTE * PX) == 0, "gzip and plain files read differently");
    free(h), free(hl), free(hp);
    /* an epoch of batches (3 x 40) is the train file's images, each once; gzip = plain; seeds reorder */
    uint8_t epoch[NTR * PX], epoch2[NTR * PX], epoch_p[NTR * PX];
    bool ok = true;
    for (int st = 0; st < 3; st++) {
        float *x = batch(&cat, 9, 40, st), *x2 = batch(&cat2, 9, 40, st), *xp = batch(&catp, 9, 40, st);
        uint8_t *l = x ? as_levels(x, 40 * PX, 255) : NULL, *l2 = x2 ? as_levels(x2, 40 * PX, 255) : NULL,
                *lp = xp ? as_levels(xp, 40 * PX, 255) : NULL;
        ok &= l && l2 && lp;
        if (l && l2 && lp) {
            memcpy(epoch + st * 40 * PX, l, 40 * PX);
            memcpy(epoch2 + st * 40 * PX, l2, 40 * PX);
            memcpy(epoch_p + st * 40 * PX, lp, 40 * PX);
        }
        free(x), free(x2), free(xp), free(l), free(l2), free(lp);
        ug_step_reset(g_ctx);
    }
    CHECK(ok, "categorical batches hold codes outside 0..255");
    if (ok) {
        CHECK(same_rows(epoch, NTR, g_train, NTR, PX), "an epoch of run seed 1 is not the train file's images, once each");
        CHECK(same_rows(epoch2, NTR, g_train, NTR, PX), "an epoch of run seed 2 is not the train file's images, once each");
        CHECK(memcmp(epoch, epoch_p, sizeof epoch) == 0, "gzip and plain batches differ");
        CHECK(memcmp(epoch, epoch2, sizeof epoch) != 0, "run seeds 1 and 2 give the same order");
        CHECK(memcmp(epoch, g_train, sizeof epoch) != 0, "batches in file order: not shuffled");
    }
    /* the next epoch is another permutation; a batch across the epoch boundary draws from both */
    float *e1 = batch(&cat, 9, 40, 3);
    uint8_t *e1l = e1 ? as_levels(e1, 40 * PX, 255) : NULL;
    CHECK(e1l && memcmp(e1l, epoch, 40 * PX) != 0, "epoch 2 starts in epoch 1's order");
    free(e1), free(e1l);
    float *xb = batch(&cat, 9, 50, 2);   /* positions 100..149: the last 20 of epoch 0, then 30 of epoch 1 */
    uint8_t *xbl = xb ? as_levels(xb, 50 * PX, 255) : NULL;
    CHECK(xbl && memcmp(xbl, epoch + 100 * PX, 20 * PX) == 0, "a batch across epochs does not continue epoch 0");
    free(xb), free(xbl);
    ug_step_reset(g_ctx);

    /* limits: the first images of each file */
    float *lh = heldout(&lim, 0, 5), *lx = batch(&lim, 1, 10, 0);
    uint8_t *lhl = lh ? as_levels(lh, 5 * PX, 255) : NULL, *lxl = lx ? as_levels(lx, 10 * PX, 255) : NULL;
    CHECK(lhl && memcmp(lhl, g_test, 5 * PX) == 0, "test_size 5: not the first 5 test images");
    CHECK(lxl && same_rows(lxl, 10, g_train, 10, PX), "train_size 10: an epoch is not the first 10 train images");
    free(lh), free(lx), free(lhl), free(lxl);
    ug_tensor *bad = NULL;
    CHECK(lim.vt->heldout(lim.self, g_ctx, 3, 3, &bad) == UG_ERR_ARG && !bad, "held-out rows past test_size refused");
    ug_ctx_clear_error(g_ctx);

    /* pool 2: each code is the rounded mean of a 2x2 block */
    float *ph = heldout(&pool, 0, NTE);
    int64_t pbad = 0;
    for (int i = 0; ph && i < NTE; i++)
        for (int r = 0; r < 14; r++)
            for (int c = 0; c < 14; c++) {
                const uint8_t *a = g_test + i * PX;
                int sum = a[56 * r + 2 * c] + a[56 * r + 2 * c + 1] + a[56 * r + 28 + 2 * c] + a[56 * r + 28 + 2 * c + 1];
                pbad += ph[i * 196 + r * 14 + c] != (float)((sum + 2) / 4);
            }
    CHECK(ph && pbad == 0, "pool 2: %lld codes differ from the rounded 2x2 means", (long long)pbad);
    free(ph);

    /* dynamic binarization: Bernoulli(v / 255) of the same images as the categorical batch (paired by
     * run seed and step), redrawn for every batch, reproducible from the same stream */
    uint8_t *lv = malloc(3 * 40 * PX);
    float *bx = malloc(sizeof(float) * 3 * 40 * PX);
    for (int st = 0; st < 3; st++) {
        float *c = batch(&cat, 4, 40, st), *b = batch(&bin, 4, 40, st);
        uint8_t *l = c ? as_levels(c, 40 * PX, 255) : NULL;
        if (l && b) memcpy(lv + st * 40 * PX, l, 40 * PX), memcpy(bx + st * 40 * PX, b, sizeof(float) * 40 * PX);
        free(c), free(b), free(l);
        ug_step_reset(g_ctx);
    }
    check_bernoulli("dynamic train batches", bx, lv, 3 * 40 * PX, 255);
    float *b1 = batch(&bin, 11, 40, 0), *b2 = batch(&bin, 12, 40, 0), *b1again = batch(&bin, 11, 40, 0);
    if (b1 && b2 && b1again) {
        int64_t diff = 0;
        for (int i = 0; i < 40 * PX; i++) diff += b1[i] != b2[i];
        /* E[diff] = Σ 2p(1-p) over the uncertain 3/5 of pixels, about 0.2 of all entries */
        CHECK(diff > 40 * PX / 10, "a batch drawn again with another stream differs in %lld of %d entries", (long long)diff,
              40 * PX);
        CHECK(memcmp(b1, b1again, sizeof(float) * 40 * PX) == 0, "the same step and stream give a different batch");
        check_bernoulli("batch redrawn", b2, lv, 40 * PX, 255);
    }
    free(b1), free(b2), free(b1again), free(lv), free(bx);
    ug_step_reset(g_ctx);

    /* the held-out set: binarized once, the same on every call and for every run seed, another with
     * another heldout_seed; Bernoulli(v / 255) of the test images */
    float *bh = heldout(&bin, 0, NTE), *bh_again = heldout(&bin, 0, NTE), *bh2 = heldout(&bin2, 0, NTE),
          *bhh = heldout(&binh, 0, NTE), *bh_off = heldout(&bin, 10, 7);
    if (bh && bh_again && bh2 && bhh && bh_off) {
        CHECK(memcmp(bh, bh_again, sizeof(float) * NTE * PX) == 0, "held-out set changes between calls");
        CHECK(memcmp(bh, bh2, sizeof(float) * NTE * PX) == 0, "held-out set depends on the run seed");
        CHECK(memcmp(bh + 10 * PX, bh_off, sizeof(float) * 7 * PX) == 0, "held-out rows at offset 10 differ");
        CHECK(memcmp(bh, bhh, sizeof(float) * NTE * PX) != 0, "heldout_seed 7 gives the same binarization");
        check_bernoulli("held-out set", bh, g_test, NTE * PX, 255);
        check_bernoulli("held-out set, heldout_seed 7", bhh, g_test, NTE * PX, 255);
    }
    free(bh), free(bh_again), free(bh2), free(bhh), free(bh_off);

    /* threshold: 1 exactly where v / 255 > 0.3 (v >= 77), batches and held-out set */
    float *tc = batch(&cat, 3, 40, 1), *tb = batch(&thr, 3, 40, 1), *th = heldout(&thr, 0, NTE);
    int64_t tbad = 0;
    for (int i = 0; tc && tb && i < 40 * PX; i++) tbad += tb[i] != (tc[i] > 0.3f * 255 ? 1.0f : 0.0f);
    for (int i = 0; th && i < NTE * PX; i++) tbad += th[i] != (g_test[i] >= 77 ? 1.0f : 0.0f);
    CHECK(tc && tb && th && tbad == 0, "threshold 0.3: %lld entries wrong", (long long)tbad);
    free(tc), free(tb), free(th);
    ug_step_reset(g_ctx);

    /* continuous: (v + u) / 256 in [v/256, (v+1)/256), u uniform (mean 1/2, variance 1/12), redrawn */
    float *cc = batch(&cat, 6, 40, 0), *cx = batch(&cont, 6, 40, 0), *cx2 = batch(&cont, 7, 40, 0), *ch = heldout(&cont, 0, NTE);
    if (cc && cx && cx2 && ch) {
        int64_t out = 0, same = 0;
        double su = 0;
        for (int i = 0; i < 40 * PX; i++) {
            double u = (double)cx[i] * 256 - cc[i], u2 = (double)cx2[i] * 256 - cc[i];
            out += !(u >= 0 && u < 1 && u2 >= 0 && u2 < 1 && cx[i] < 1.0f);
            same += cx[i] == cx2[i];
            su += u;
        }
        int n = 40 * PX;
        CHECK(out == 0, "continuous: %lld values outside [v, v + 1) / 256 or at 1", (long long)out);
        CHECK(fabs(su / n - 0.5) <= 5 * sqrt(1.0 / 12 / n), "continuous: mean dequantization noise %.4f, expected 0.5", su / n);
        CHECK(same < n / 100, "continuous: %lld of %d values equal when drawn again", (long long)same, n);
        int64_t hout = 0;
        for (int i = 0; i < NTE * PX; i++) {
            double u = (double)ch[i] * 256 - g_test[i];
            hout += !(u >= 0 && u < 1);
        }
        CHECK(hout == 0, "continuous held-out: %lld values outside [v, v + 1) / 256", (long long)hout);
    }
    free(cc), free(cx), free(cx2), free(ch);
    ug_step_reset(g_ctx);

    /* sample_true: test images, encoded like batches */
    ug_rng r = ug_rng_make(3, 3);
    ug_tensor *t = NULL, *dec = NULL;
    CHECK(cat.vt->sample_true(cat.self, g_ctx, &r, 25, &t) == UG_OK && t && t->shape[0] == 25, "sample_true");
    uint8_t *tl = t ? as_levels(ug_f32(t), 25 * PX, 255) : NULL;
    CHECK(tl && common_rows(tl, 25, g_test, NTE, PX) == 25, "sample_true rows are not test images");
    free(tl);
    /* decode: intensities in [0, 1] (categorical / 255, binary as is) */
    CHECK(t && cat.vt->decode(cat.self, g_ctx, t, &dec) == UG_OK && dec && dec->shape[1] == PX, "decode");
    int64_t dbad = 0;
    for (int i = 0; dec && i < 25 * PX; i++) dbad += fabsf(ug_f32(dec)[i] - ug_f32(t)[i] / 255.0f) > 1e-6f;
    CHECK(dbad == 0, "categorical decode is not v / 255 in %lld entries", (long long)dbad);
    ug_tensor *wrong = ug_zeros(g_ctx, 2, (int64_t[]){4, 196});
    CHECK(cat.vt->decode(cat.self, g_ctx, wrong, &dec) == UG_ERR_ARG, "decode of [4, 196] refused on 28x28");
    ug_ctx_clear_error(g_ctx);
    CHECK(cat.vt->train_batch(cat.self, g_ctx, &r, 0, 0, &t) == UG_ERR_ARG, "an empty batch refused");
    ug_ctx_clear_error(g_ctx);

    /* limits past the files, by the schema and by the file */
    char flow[1400];
    snprintf(flow, sizeof flow, "{plugin: fashion_mnist, dir: '%s', train_size: 121}", gzd);
    expect_error("train_size past the file", flow, "train_size 121 is more than the 120 images in", gzd, (const char *)NULL);
    snprintf(flow, sizeof flow, "{plugin: fashion_mnist, dir: '%s', test_size: 41}", plain);
    expect_error("test_size past the file", flow, "test_size 41 is more than the 40 images in", plain, (const char *)NULL);
    snprintf(flow, sizeof flow, "{plugin: fashion_mnist, dir: '%s', pool: 3}", gzd);
    expect_error("pool 3", flow, "pool", (const char *)NULL);
done:
    close_ds(&cat), close_ds(&catp), close_ds(&cat2), close_ds(&bin), close_ds(&bin2), close_ds(&binh);
    close_ds(&thr), close_ds(&cont), close_ds(&pool), close_ds(&lim);
    ug_step_reset(g_ctx);
}

/* ---- case digits ---- */

enum { ND = 60 };
static uint8_t g_dig[ND * 64];

static void write_digits_csv(const char *path, bool gz, int bad_line, const char *bad_text) {
    char *text = malloc(ND * 64 * 4 + 4096);
    size_t n = 0;
    for (int i = 0; i < ND; i++) {
        if (i + 1 == bad_line) {
            n += (size_t)sprintf(text + n, "%s\n", bad_text);
            continue;
        }
        for (int j = 0; j < 64; j++) n += (size_t)sprintf(text + n, "%d,", g_dig[i * 64 + j]);
        n += (size_t)sprintf(text + n, "%d\n", i % 10);
    }
    CHECK(write_bytes(path, gz, text, n) == 0, "write %s", path);
    free(text);
}

static void test_digits(void) {
    for (int i = 0; i < ND; i++)
        for (int j = 0; j < 64; j++) g_dig[i * 64 + j] = level(i, j, 2) % 17;
    CHECK(common_rows(g_dig, ND, g_dig, ND, 64) == ND && same_rows(g_dig, ND, g_dig, ND, 64), "fixture");
    int64_t dup = 0;
    for (int i = 0; i < ND; i++)
        for (int k = i + 1; k < ND; k++) dup += memcmp(g_dig + i * 64, g_dig + k * 64, 64) == 0;
    CHECK(dup == 0, "the fixture's rows must be distinct for the disjointness check");
    char gz[1024], plain[1024];
    snprintf(gz, sizeof gz, "%s/digits.csv.gz", g_tmp);
    snprintf(plain, sizeof plain, "%s/digits.csv", g_tmp);
    write_digits_csv(gz, true, 0, NULL);
    write_digits_csv(plain, false, 0, NULL);
    ug_error err;
    ug_dataset a = {0}, b = {0}, c = {0}, p = {0}, bin = {0}, thr = {0};
    CHECK(open_ds(&a, 1, &err, "{plugin: digits, path: '%s', test_size: 15}", gz) == 0, "%s", err.msg);
    CHECK(open_ds(&b, 2, &err, "{plugin: digits, path: '%s', test_size: 15}", gz) == 0, "%s", err.msg);
    CHECK(open_ds(&c, 1, &err, "{plugin: digits, path: '%s', test_size: 15, split_seed: 1}", gz) == 0, "%s", err.msg);
    CHECK(open_ds(&p, 1, &err, "{plugin: digits, path: '%s', test_size: 15}", plain) == 0, "%s", err.msg);
    CHECK(open_ds(&bin, 1, &err, "{plugin: digits, path: '%s', test_size: 15, encoding: binary}", gz) == 0, "%s", err.msg);
    CHECK(open_ds(&thr, 1, &err, "{plugin: digits, path: '%s', test_size: 15, encoding: binary, binarize: threshold}", gz) == 0,
          "%s", err.msg);
    if (!a.self || !b.self || !c.self || !p.self || !bin.self || !thr.self) goto done;
    const ug_space *s = &a.info.space;
    CHECK(s->kind == UG_SPACE_CATEGORICAL && s->categories == 17 && s->dim == 64 && s->shape[0] == 1 && s->shape[1] == 8 &&
          s->shape[2] == 8, "digits space: kind %u K %lld dim %lld", s->kind, (long long)s->categories, (long long)s->dim);
    CHECK(a.info.train_size == ND - 15 && a.info.heldout_size == 15, "split sizes %lld / %lld", (long long)a.info.train_size,
          (long long)a.info.heldout_size);

    /* the split: train (one epoch) and test are disjoint and together the file; fixed by split_seed */
    float *ha = heldout(&a, 0, 15), *hb = heldout(&b, 0, 15), *hc = heldout(&c, 0, 15), *hp = heldout(&p, 0, 15);
    float *ta = batch(&a, 1, ND - 15, 0), *tb = batch(&b, 1, ND - 15, 0), *tc = batch(&c, 1, ND - 15, 0);
    uint8_t *hal = ha ? as_levels(ha, 15 * 64, 16) : NULL, *hcl = hc ? as_levels(hc, 15 * 64, 16) : NULL;
    uint8_t *tal = ta ? as_levels(ta, (ND - 15) * 64, 16) : NULL, *tbl = tb ? as_levels(tb, (ND - 15) * 64, 16) : NULL;
    uint8_t *tcl = tc ? as_levels(tc, (ND - 15) * 64, 16) : NULL;
    if (hal && hcl && tal && tbl && tcl && hb && hp) {
        uint8_t all[ND * 64];
        memcpy(all, hal, 15 * 64);
        memcpy(all + 15 * 64, tal, (ND - 15) * 64);
        CHECK(common_rows(hal, 15, tal, ND - 15, 64) == 0, "train and test share images");
        CHECK(same_rows(all, ND, g_dig, ND, 64), "train + test is not the file's images, each once");
        memcpy(all, hcl, 15 * 64);
        memcpy(all + 15 * 64, tcl, (ND - 15) * 64);
        CHECK(common_rows(hcl, 15, tcl, ND - 15, 64) == 0, "split_seed 1: train and test share images");
        CHECK(same_rows(all, ND, g_dig, ND, 64), "split_seed 1: train + test is not the file");
        CHECK(memcmp(ha, hb, sizeof(float) * 15 * 64) == 0, "the split depends on the run seed");
        CHECK(memcmp(ha, hp, sizeof(float) * 15 * 64) == 0, "gzip and plain CSV split differently");
        CHECK(common_rows(hal, 15, hcl, 15, 64) < 15, "split_seed 0 and 1 hold out the same images");
        CHECK(same_rows(tal, ND - 15, tbl, ND - 15, 64) && memcmp(tal, tbl, (ND - 15) * 64) != 0,
              "run seeds 1 and 2: the same train images in another order expected");
        /* the test rows keep file order */
        int64_t last = -1, ordered = 1;
        for (int i = 0; i < 15; i++)
            for (int k = 0; k < ND; k++)
                if (memcmp(hal + i * 64, g_dig + k * 64, 64) == 0) { ordered &= k > last; last = k; }
        CHECK(ordered, "the held-out rows are not in file order");
    } else
        CHECK(0, "digits codes outside 0..16");
    free(ha), free(hb), free(hc), free(hp), free(ta), free(tb), free(tc), free(hal), free(hcl), free(tal), free(tbl), free(tcl);
    ug_step_reset(g_ctx);

    /* binary: dynamic Bernoulli(v / 16) over the same images; threshold 0.5: v > 8 */
    uint8_t lv[3 * 45 * 64];
    float bx[3 * 45 * 64], tx[3 * 45 * 64];
    bool ok = true;
    for (int st = 0; st < 3; st++) {
        float *cx = batch(&a, 8, 45, st), *bb = batch(&bin, 8, 45, st), *tt = batch(&thr, 8, 45, st);
        uint8_t *l = cx ? as_levels(cx, 45 * 64, 16) : NULL;
        ok &= l && bb && tt;
        if (l && bb && tt) memcpy(lv + st * 45 * 64, l, 45 * 64), memcpy(bx + st * 45 * 64, bb, sizeof(float) * 45 * 64),
                          memcpy(tx + st * 45 * 64, tt, sizeof(float) * 45 * 64);
        free(cx), free(bb), free(tt), free(l);
        ug_step_reset(g_ctx);
    }
    if (ok) {
        check_bernoulli("digits dynamic", bx, lv, 3 * 45 * 64, 16);
        int64_t tbad = 0;
        for (int i = 0; i < 3 * 45 * 64; i++) tbad += tx[i] != (lv[i] > 8 ? 1.0f : 0.0f);
        CHECK(tbad == 0, "digits threshold 0.5: %lld entries are not [v > 8]", (long long)tbad);
    }
    /* continuous: (v + u) / 17 in [v, v + 1) / 17, below 1 */
    ug_dataset cont = {0};
    CHECK(open_ds(&cont, 1, &err, "{plugin: digits, path: '%s', test_size: 15, encoding: continuous}", gz) == 0, "%s", err.msg);
    float *cc = batch(&a, 2, 45, 0), *cx = cont.self ? batch(&cont, 2, 45, 0) : NULL;
    int64_t cout = 0;
    for (int i = 0; cc && cx && i < 45 * 64; i++) {
        double u = (double)cx[i] * 17 - cc[i];
        cout += !(u >= 0 && u < 1 && cx[i] < 1.0f);
    }
    CHECK(cc && cx && cout == 0, "digits continuous: %lld values outside [v, v + 1) / 17", (long long)cout);
    CHECK(cont.info.space.kind == UG_SPACE_CONTINUOUS && cont.info.space.dim == 64, "digits continuous space");
    free(cc), free(cx);
    close_ds(&cont);
    ug_tensor *t = NULL, *dec = NULL;
    ug_rng r = ug_rng_make(1, 1);
    CHECK(a.vt->sample_true(a.self, g_ctx, &r, 8, &t) == UG_OK && t, "sample_true");
    CHECK(t && a.vt->decode(a.self, g_ctx, t, &dec) == UG_OK && dec, "decode");
    int64_t dbad = 0;
    for (int i = 0; dec && i < 8 * 64; i++) dbad += fabsf(ug_f32(dec)[i] - ug_f32(t)[i] / 16.0f) > 1e-6f;
    CHECK(dbad == 0, "digits decode is not v / 16 in %lld entries", (long long)dbad);
    ug_step_reset(g_ctx);

    /* errors */
    char flow[1400], bad[1024];
    snprintf(flow, sizeof flow, "{plugin: digits, path: '%s', test_size: 60}", gz);
    expect_error("test_size = all", flow, "1 <= test_size < 60", gz, (const char *)NULL);
    snprintf(bad, sizeof bad, "%s/bad17.csv.gz", g_tmp);
    write_digits_csv(bad, true, 3, "0,0,17,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,"
                                   "0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1");
    snprintf(flow, sizeof flow, "{plugin: digits, path: '%s'}", bad);
    char where[1100];
    snprintf(where, sizeof where, "%s:3: field 3 is '17", bad);
    expect_error("level 17", flow, where, "expected an integer 0..16", (const char *)NULL);
    snprintf(bad, sizeof bad, "%s/short.csv", g_tmp);
    write_digits_csv(bad, false, 5, "1,2,3");
    snprintf(flow, sizeof flow, "{plugin: digits, path: '%s'}", bad);
    snprintf(where, sizeof where, "%s:5: fewer fields, expected 65", bad);
    expect_error("short line", flow, where, (const char *)NULL);
    /* a gzip stream cut short */
    snprintf(bad, sizeof bad, "%s/cut.csv.gz", g_tmp);
    write_digits_csv(bad, true, 0, NULL);
    FILE *f = fopen(bad, "rb");
    static uint8_t gzb[1 << 16];
    size_t n = f ? fread(gzb, 1, sizeof gzb, f) : 0;
    if (f) fclose(f);
    CHECK(n > 200 && n < sizeof gzb && write_bytes(bad, false, gzb, n - 100) == 0, "cut %s (%zu bytes)", bad, n);
    snprintf(flow, sizeof flow, "{plugin: digits, path: '%s'}", bad);
    expect_error("cut gzip CSV", flow, bad, "truncated or corrupt gzip", (const char *)NULL);
    snprintf(bad, sizeof bad, "%s/nonexistent/digits.csv.gz", g_tmp);
    snprintf(flow, sizeof flow, "{plugin: digits, path: '%s'}", bad);
    expect_error("missing digits", flow, bad, "Debian package python3-sklearn", "set path:", (const char *)NULL);
done:
    close_ds(&a), close_ds(&b), close_ds(&c), close_ds(&p), close_ds(&bin), close_ds(&thr);
}

/* ---- case plugins: the CLI lists both, with their schemas ---- */

static void test_plugins(void) {
    const char *root = getenv("UG_BUILD_ROOT");
    const char *names[2] = {"digits", "fashion_mnist"};
    const char *keys[2][9] = {{"encoding", "binarize", "threshold", "test_size", "split_seed", "heldout_seed", "path", NULL},
                              {"encoding", "binarize", "threshold", "pool", "train_size", "test_size", "heldout_seed", "dir", NULL}};
    char cmd[4200], line[1024];
    snprintf(cmd, sizeof cmd, "'%s/unigfn' plugins", root);
    FILE *f = popen(cmd, "r");
    int listed[2] = {0, 0};
    while (f && fgets(line, sizeof line, f))
        for (int k = 0; k < 2; k++) {
            char want[64];
            snprintf(want, sizeof want, "dataset    %s ", names[k]);
            listed[k] |= strncmp(line, want, strlen(want)) == 0;
        }
    CHECK(f && pclose(f) == 0, "%s failed", cmd);
    for (int k = 0; k < 2; k++) {
        CHECK(listed[k], "`unigfn plugins` does not list dataset %s", names[k]);
        snprintf(cmd, sizeof cmd, "'%s/unigfn' plugins %s", root, names[k]);
        f = popen(cmd, "r");
        char out[16384] = "";
        size_t n = f ? fread(out, 1, sizeof out - 1, f) : 0;
        out[n] = 0;
        CHECK(f && pclose(f) == 0, "%s failed", cmd);
        for (int j = 0; keys[k][j]; j++) {
            char want[64];
            snprintf(want, sizeof want, "\n    %s ", keys[k][j]);
            CHECK(strstr(out, want), "`unigfn plugins %s` lacks the key %s:\n%s", names[k], keys[k][j], out);
        }
    }
    /* the schemas' bounds, before any file is opened */
    ug_error err = {0};
    ug_spec *s = harness_spec(&g_h, "{plugin: fashion_mnist, pool: 3}", NULL, NULL, &err);
    CHECK(!s && strstr(err.msg, "pool"), "pool: 3 accepted by the schema: %s", err.msg);
    ug_spec_free(s);
    memset(&err, 0, sizeof err);
    s = harness_spec(&g_h, "{plugin: digits, threshold: 1}", NULL, NULL, &err);
    CHECK(!s && strstr(err.msg, "threshold"), "threshold: 1 accepted by the schema: %s", err.msg);
    ug_spec_free(s);
    memset(&err, 0, sizeof err);
    s = harness_spec(&g_h, "{plugin: digits, encoding: gray}", NULL, NULL, &err);
    CHECK(!s && strstr(err.msg, "encoding"), "encoding: gray accepted by the schema: %s", err.msg);
    ug_spec_free(s);
}

/* ---- the real files ---- */

static int test_real_digits(void) {
    if (access(DIGITS_PATH, R_OK) != 0) {
        printf("SKIP: %s is not installed (apt-get install python3-sklearn)\n", DIGITS_PATH);
        return 77;
    }
    /* the file read here independently of the plugin's reader */
    gzFile f = gzopen(DIGITS_PATH, "rb");
    static uint8_t file[2000 * 64];
    char line[4096];
    int n = 0, bad = 0;
    while (f && n < 2000 && gzgets(f, line, sizeof line)) {
        char *p = line;
        for (int j = 0; j < 64; j++) {
            long v = strtol(p, &p, 10);
            bad += v < 0 || v > 16 || *p != ',';
            file[n * 64 + j] = (uint8_t)v;
            p++;
        }
        n++;
    }
    if (f) gzclose(f);
    CHECK(n == 1797 && bad == 0, "%s: %d lines, %d bad fields", DIGITS_PATH, n, bad);
    ug_error err;
    ug_dataset d = {0}, e = {0};
    CHECK(open_ds(&d, 1, &err, "{plugin: digits}") == 0, "%s", err.msg);
    CHECK(open_ds(&e, 1, &err, "{plugin: digits, encoding: binary}") == 0, "%s", err.msg);
    if (d.self && e.self) {
        CHECK(d.info.train_size == 1500 && d.info.heldout_size == 297 && d.info.space.categories == 17 &&
              d.info.space.dim == 64, "digits: train %lld, held-out %lld, K %lld", (long long)d.info.train_size,
              (long long)d.info.heldout_size, (long long)d.info.space.categories);
        float *h = heldout(&d, 0, 297), *t = batch(&d, 1, 1500, 0);
        uint8_t *hl = h ? as_levels(h, 297 * 64, 16) : NULL, *tl = t ? as_levels(t, 1500 * 64, 16) : NULL;
        CHECK(hl && tl, "digits codes outside 0..16");
        if (hl && tl && n == 1797) {
            static uint8_t all[1797 * 64];
            memcpy(all, hl, 297 * 64);
            memcpy(all + 297 * 64, tl, 1500 * 64);
            CHECK(same_rows(all, 1797, file, 1797, 64), "train + test is not the file's 1797 images, each once");
            int used[17] = {0}, levels = 0;
            for (int i = 0; i < 1797 * 64; i++) used[all[i]] = 1;
            for (int k = 0; k < 17; k++) levels += used[k];
            CHECK(levels == 17, "the digits use %d of the 17 levels", levels);
            float *b = batch(&e, 1, 1500, 0);
            if (b) check_bernoulli("real digits, dynamic", b, tl, 1500 * 64, 16);
            free(b);
        }
        free(h), free(t), free(hl), free(tl);
    }
    close_ds(&d), close_ds(&e);
    ug_step_reset(g_ctx);
    return 0;
}

static int test_real_fashion(void) {
    const char *tr = FMNIST_DIR "/train-images-idx3-ubyte.gz", *te = FMNIST_DIR "/t10k-images-idx3-ubyte.gz";
    if (access(tr, R_OK) != 0 || access(te, R_OK) != 0) {
        printf("SKIP: %s is not installed (apt-get install dataset-fashion-mnist)\n", FMNIST_DIR);
        return 77;
    }
    /* the test file read here independently of the plugin's reader: 16 header bytes, then pixels */
    static uint8_t test_px[10000 * PX], head[16];
    gzFile f = gzopen(te, "rb");
    int r1 = f ? gzread(f, head, 16) : -1, r2 = f ? gzread(f, test_px, sizeof test_px) : -1;
    if (f) gzclose(f);
    CHECK(r1 == 16 && r2 == (int)sizeof test_px && head[2] == 8 && head[3] == 3, "%s: read %d + %d bytes", te, r1, r2);
    ug_error err;
    ug_dataset cat = {0}, bin = {0}, pool = {0};
    CHECK(open_ds(&cat, 1, &err, "{plugin: fashion_mnist, encoding: categorical}") == 0, "%s", err.msg);
    CHECK(open_ds(&bin, 1, &err, "{plugin: fashion_mnist, train_size: 2000}") == 0, "%s", err.msg);
    CHECK(open_ds(&pool, 1, &err, "{plugin: fashion_mnist, encoding: categorical, pool: 2, test_size: 100}") == 0, "%s", err.msg);
    if (cat.self && bin.self && pool.self) {
        CHECK(cat.info.train_size == 60000 && cat.info.heldout_size == 10000 && cat.info.space.dim == PX &&
              cat.info.space.categories == 256, "fashion_mnist: train %lld, held-out %lld", (long long)cat.info.train_size,
              (long long)cat.info.heldout_size);
        CHECK(bin.info.train_size == 2000 && pool.info.space.dim == 196, "limits and pooling on the real files");
        float *h = heldout(&cat, 0, 10000);
        uint8_t *hl = h ? as_levels(h, (int64_t)10000 * PX, 255) : NULL;
        CHECK(hl && memcmp(hl, test_px, sizeof test_px) == 0, "the held-out set is not the t10k file's bytes");
        free(h), free(hl);
        float *ph = heldout(&pool, 0, 1);
        int64_t pbad = 0;
        for (int r = 0; ph && r < 14; r++)
            for (int c = 0; c < 14; c++) {
                const uint8_t *a = test_px;
                int s = a[56 * r + 2 * c] + a[56 * r + 2 * c + 1] + a[56 * r + 28 + 2 * c] + a[56 * r + 28 + 2 * c + 1];
                pbad += ph[r * 14 + c] != (float)((s + 2) / 4);
            }
        CHECK(ph && pbad == 0, "pooled first test image: %lld pixels wrong", (long long)pbad);
        free(ph);
        /* dynamic binarization against the same images' levels (train_size 2000: the first 2000 images,
         * so pair with a categorical dataset of the same limit) */
        ug_dataset cat2 = {0};
        CHECK(open_ds(&cat2, 1, &err, "{plugin: fashion_mnist, encoding: categorical, train_size: 2000}") == 0, "%s", err.msg);
        float *c = cat2.self ? batch(&cat2, 2, 500, 1) : NULL, *b = batch(&bin, 2, 500, 1);
        uint8_t *cl = c ? as_levels(c, 500 * PX, 255) : NULL;
        if (cl && b) check_bernoulli("real fashion_mnist, dynamic", b, cl, 500 * PX, 255);
        else CHECK(0, "paired batches");
        free(c), free(b), free(cl);
        close_ds(&cat2);
    }
    close_ds(&cat), close_ds(&bin), close_ds(&pool);
    ug_step_reset(g_ctx);
    return 0;
}

static void rm_tree(const char *dir) {
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

int main(int argc, char **argv) {
    const char *c = argc > 1 ? argv[1] : "";
    if (harness_open(&g_h)) return 1;
    g_ctx = ug_ctx_new(1 << 22);
    const char *tmp = getenv("TMPDIR");
    snprintf(g_tmp, sizeof g_tmp, "%s/ug_images_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(g_tmp)) {
        perror("mkdtemp");
        return 1;
    }
    make_levels();
    int rc = 0;
    if (strcmp(c, "idx") == 0) test_idx();
    else if (strcmp(c, "fashion") == 0) test_fashion();
    else if (strcmp(c, "digits") == 0) test_digits();
    else if (strcmp(c, "plugins") == 0) test_plugins();
    else if (strcmp(c, "real_digits") == 0) rc = test_real_digits();
    else if (strcmp(c, "real_fashion") == 0) rc = test_real_fashion();
    else {
        fprintf(stderr, "usage: test_image_datasets idx|fashion|digits|plugins|real_digits|real_fashion\n");
        rc = 2;
    }
    rm_tree(g_tmp);
    ug_ctx_free(g_ctx);
    harness_close(&g_h);
    if (rc) return rc;
    return CHECK_DONE();
}
