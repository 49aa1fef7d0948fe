/* test_metrics.c — the nll, mmd and density_png metric plugins, loaded through the real loader and
 * run against the test-only model/dataset "test_bits" (tests/plugins_test/test_bits.c), whose
 * distribution is a product of Bernoullis known in closed form:
 *  - nll: with P_B the exact posterior every particle's weight is p(x), so any M gives the exact NLL;
 *    with a skewed P_B, M = 1 gives exact NLL + KL(P_B‖posterior) and large M approaches the exact one
 *    (KL and the χ² that sets the bias are computed by enumerating the D! orders);
 *  - mmd: for product distributions the exp(−0.1·Hamming) kernel factorizes, so E[MMD²] is a product
 *    formula, which the unbiased estimator must hit (the biased one would sit far above);
 *  - density_png: the PNG decodes back with libpng to the expected size. */
#include <math.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "plugin_harness.h"

typedef struct setup {
    ug_spec *spec;
    ug_dataset data;
    ug_model model;
    ug_params *params;
    const ug_plugin_desc *md;
    void *metric;
} setup;

static harness H;
static ug_ctx *CTX;

static int setup_open(setup *s, const char *data, const char *model, const char *metric) {
    ug_error err = {0};
    memset(s, 0, sizeof *s);
    s->params = ug_params_new();
    if (!(s->spec = harness_spec(&H, data, model, metric, &err)) || harness_dataset(&H, s->spec, CTX, 1, &s->data, &err) ||
        harness_model(&H, s->spec, CTX, 1, &s->data, s->params, &s->model, &err) ||
        !(s->md = harness_metric(&H, s->spec, CTX, &s->data, &s->model, &s->metric, &err))) {
        CHECK(0, "setup %s / %s / %s: %s", data, model, metric, err.msg);
        return -1;
    }
    return 0;
}

static void setup_close(setup *s) {
    if (s->metric) s->md->destroy(s->metric);
    const ug_plugin_ref *r;
    if (s->model.self && (r = ug_registry_find(H.reg, UG_KIND_MODEL, s->model.name))) r->desc->destroy(s->model.self);
    if (s->data.self && (r = ug_registry_find(H.reg, UG_KIND_DATASET, s->data.name))) r->desc->destroy(s->data.self);
    ug_params_free(s->params);
    ug_spec_free(s->spec);
}

static ug_status run(setup *s, uint64_t seed, int64_t step, const char *dir, ug_metric_out *out) {
    ug_status st = harness_evaluate(s->md, s->metric, CTX, seed, &s->model, &s->data, step, dir, out);
    if (st) fprintf(stderr, "evaluate: %s\n", ug_ctx_errmsg(CTX));
    ug_step_reset(CTX);
    ug_ctx_clear_error(CTX);
    return st;
}

/* Mean of −log p(x) over the first n held-out rows of a test_bits dataset with default probs. */
static double exact_nll(setup *s, int64_t n) {
    int64_t D = s->data.info.space.dim;
    ug_tensor *x = NULL;
    if (s->data.vt->heldout(s->data.self, CTX, 0, n, &x)) return NAN;
    double tot = 0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < D; j++) {
            double p = 0.2 + 0.6 * (double)j / (double)(D - 1);
            tot -= log(ug_f32(x)[i * D + j] > 0.5f ? p : 1 - p);
        }
    ug_step_reset(CTX);
    return tot / (double)n;
}

/* Over the D! forward orders of a full x: P_B(order) for test_bits with pb_skew, against the uniform
 * posterior 1/D!. Returns KL(P_B‖post), and the sd of log(D!·P_B) and χ²(post‖P_B) through pointers. */
static double order_stats(int D, double skew, double *sd, double *chi2) {
    int perm[8], n_fact = 1;
    for (int i = 0; i < D; i++) perm[i] = i, n_fact *= i + 1;
    double kl = 0, m2 = 0, c = 0;
    for (int it = 0; it < n_fact; it++) {
        /* it-th permutation by the factorial number system */
        int avail[8], rem = it, f = n_fact;
        for (int i = 0; i < D; i++) avail[i] = i;
        for (int i = 0; i < D; i++) {
            f /= D - i;
            int k = rem / f;
            rem %= f;
            perm[i] = avail[k];
            memmove(avail + k, avail + k + 1, sizeof(int) * (size_t)(D - i - k - 1));
        }
        /* backward: erase perm[t] from {perm[0..t]} for t = D-1 .. 0 */
        double lp = 0;
        for (int t = D - 1; t >= 0; t--) {
            double z = 0;
            for (int u = 0; u <= t; u++) z += exp(skew * perm[u]);
            lp += skew * perm[t] - log(z);
        }
        double pb = exp(lp), l = lp + log((double)n_fact);
        kl += pb * l;
        m2 += pb * l * l;
        c += (1.0 / n_fact) * (1.0 / n_fact) / pb;
    }
    *sd = sqrt(m2 - kl * kl);
    *chi2 = c - 1.0;
    return kl;
}

static void test_nll(void) {
    setup s;
    ug_metric_out o;
    /* P_B = posterior: every particle is exact, whatever M, batch and chunk (7-row batches, 10-trajectory chunks) */
    if (setup_open(&s, "{plugin: test_bits, dim: 4}", "{plugin: test_bits, dim: 4}",
                   "{plugin: nll, particles: 3, samples: 100, batch: 7, chunk: 10}") == 0) {
        double want = exact_nll(&s, 100);
        CHECK(run(&s, 1, 0, ".", &o) == UG_OK, "nll evaluate");
        CHECK_CLOSE(harness_value(&o, "nll"), want, 0, 2e-5);
        CHECK_CLOSE(harness_value(&o, "nll_exact"), want, 0, 2e-5);
        /* exact posterior: every log weight is log p(x), so -elbo is the NLL too; D = 4 binary dims */
        CHECK_CLOSE(-harness_value(&o, "elbo"), want, 0, 2e-5);
        CHECK_CLOSE(harness_value(&o, "bpd"), harness_value(&o, "nll") / (4 * log(2.0)), 1e-12, 0);
        CHECK(harness_value(&o, "nll_sem") > 0.05 && harness_value(&o, "nll_sem") < 0.3, "nll_sem %g",
              harness_value(&o, "nll_sem"));
    }
    setup_close(&s);

    /* a skewed P_B: M = 1 is biased up by exactly KL(P_B‖posterior) in expectation */
    const double skew = 1.5;
    double sd, chi2, kl = order_stats(4, skew, &sd, &chi2);
    double n1 = NAN, n10 = NAN, nbig = NAN, ex = NAN;
    if (setup_open(&s, "{plugin: test_bits, dim: 4}", "{plugin: test_bits, dim: 4, pb_skew: 1.5}",
                   "{plugin: nll, particles: 1, samples: 1000}") == 0) {
        ex = exact_nll(&s, 1000);
        CHECK(run(&s, 2, 0, ".", &o) == UG_OK, "nll evaluate");
        n1 = harness_value(&o, "nll");
        CHECK(fabs(n1 - (ex + kl)) <= 5 * sd / sqrt(1000.0), "M=1: nll %.5f, expected exact %.5f + KL %.5f (sd %.4f)", n1,
              ex, kl, sd / sqrt(1000.0));
        /* at M = 1 the ELBO is the same single log weight */
        CHECK_CLOSE(-harness_value(&o, "elbo"), n1, 1e-12, 1e-12);
        CHECK_CLOSE(harness_value(&o, "nll_exact"), ex, 0, 2e-5);
    }
    setup_close(&s);
    if (setup_open(&s, "{plugin: test_bits, dim: 4}", "{plugin: test_bits, dim: 4, pb_skew: 1.5}",
                   "{plugin: nll, particles: 10, samples: 1000}") == 0 && run(&s, 3, 0, ".", &o) == UG_OK) {
        n10 = harness_value(&o, "nll");
        /* the ELBO does not tighten with M: E[-elbo] = NLL + KL(P_B‖posterior) at any M */
        double ne = -harness_value(&o, "elbo");
        CHECK(fabs(ne - (ex + kl)) <= 5 * sd / sqrt(1000.0),
              "M=10: -elbo %.5f, expected exact %.5f + KL %.5f", ne, ex, kl);
        CHECK(ne > n10, "-elbo %.5f above the IS estimate %.5f", ne, n10);
    }
    setup_close(&s);
    if (setup_open(&s, "{plugin: test_bits, dim: 4}", "{plugin: test_bits, dim: 4, pb_skew: 1.5}",
                   "{plugin: nll, particles: 2000, samples: 200, chunk: 20000}") == 0 && run(&s, 4, 0, ".", &o) == UG_OK) {
        nbig = harness_value(&o, "nll");
        double ex200 = exact_nll(&s, 200);
        /* the bias of −log p̂ is about χ²/(2M) */
        CHECK(fabs(nbig - ex200) <= 3 * chi2 / (2 * 2000) + 2e-3, "M=2000: nll %.5f vs exact %.5f (χ² %.3f)", nbig, ex200, chi2);
    }
    setup_close(&s);
    CHECK(n1 > n10 && n10 > ex && kl > 0.05, "the bound tightens with M: M=1 %.4f, M=10 %.4f, exact %.4f (KL %.4f)", n1,
          n10, ex, kl);
    printf("nll: exact %.4f, M=1 %.4f (KL %.4f), M=10 %.4f, M=2000 (200 rows) %.4f, chi2 %.3f\n", ex, n1, kl, n10, nbig, chi2);

    /* a model of another dimension is refused with a message, not a crash */
    if (setup_open(&s, "{plugin: test_bits, dim: 5}", "{plugin: test_bits, dim: 4}", "{plugin: nll}") == 0)
        CHECK(harness_evaluate(s.md, s.metric, CTX, 1, &s.model, &s.data, 0, ".", &o) == UG_ERR_ARG &&
                  strstr(ug_ctx_errmsg(CTX), "space"),
              "dimension mismatch refused: %s", ug_ctx_errmsg(CTX));
    ug_ctx_clear_error(CTX);
    setup_close(&s);

    /* cross-check with the example model tiny_binary (exact log_prob by enumeration), when it is built */
    if (ug_registry_find(H.reg, UG_KIND_MODEL, "tiny_binary")) {
        if (setup_open(&s, "{plugin: test_bits, dim: 3}", "{plugin: tiny_binary, dim: 3}",
                       "{plugin: nll, particles: 1000, samples: 200, chunk: 20000}") == 0 && run(&s, 5, 0, ".", &o) == UG_OK) {
            double a = harness_value(&o, "nll"), b = harness_value(&o, "nll_exact");
            CHECK(isfinite(b) && fabs(a - b) < 0.01 && a >= b - 1e-3, "tiny_binary: nll %.5f vs exact %.5f", a, b);
            printf("tiny_binary cross-check: nll(M=1000) %.5f, nll_exact %.5f\n", a, b);
        }
        setup_close(&s);
    } else {
        printf("tiny_binary not built: cross-check skipped\n");
    }
}

/* E[MMD²] for products of Bernoullis under exp(−bw·Hamming): E k = Π_d (1 − (1 − e^{−bw}) P(x_d ≠ y_d)). */
static double mmd2_product(const double *p, const double *q, int D, double bw) {
    double a = 1 - exp(-bw), kpp = 1, kqq = 1, kpq = 1;
    for (int d = 0; d < D; d++) {
        kpp *= 1 - a * 2 * p[d] * (1 - p[d]);
        kqq *= 1 - a * 2 * q[d] * (1 - q[d]);
        kpq *= 1 - a * (p[d] * (1 - q[d]) + q[d] * (1 - p[d]));
    }
    return kpp + kqq - 2 * kpq;
}

static void test_mmd(void) {
    enum { D = 32 };
    double p[D], q[D];
    char qs[1024] = "[";
    for (int d = 0; d < D; d++) {
        p[d] = 0.2 + 0.6 * d / (D - 1.0);
        q[d] = d % 2 ? p[d] + 0.15 : p[d] - 0.1;
        snprintf(qs + strlen(qs), sizeof qs - strlen(qs), "%s%.6f", d ? ", " : "", q[d]);
    }
    strcat(qs, "]");
    setup s;
    ug_metric_out o;
    const int G = 16;
    /* the model against its own distribution: ≈ 0 within noise */
    double same = NAN, same_sd = NAN;
    if (setup_open(&s, "{plugin: test_bits, dim: 32}", "{plugin: test_bits, dim: 32}",
                   "{plugin: mmd, groups: 16, samples: 1000, chunk: 300}") == 0 && run(&s, 21, 0, ".", &o) == UG_OK) {
        same = harness_value(&o, "mmd"), same_sd = harness_value(&o, "mmd_sd");
        CHECK(fabs(same) <= 5 * same_sd / sqrt(G) && same_sd > 0, "same distribution: mmd %.3f ± %.3f (×1e-4)", same, same_sd);
    }
    setup_close(&s);
    /* against another product distribution: the closed form */
    char dspec[1200];
    snprintf(dspec, sizeof dspec, "{plugin: test_bits, dim: 32, probs: %s}", qs);
    double want = mmd2_product(p, q, D, 0.1) / 1e-4, diff = NAN, diff_sd = NAN;
    if (setup_open(&s, dspec, "{plugin: test_bits, dim: 32}", "{plugin: mmd, groups: 16, samples: 1000}") == 0 &&
        run(&s, 7, 0, ".", &o) == UG_OK) {
        diff = harness_value(&o, "mmd"), diff_sd = harness_value(&o, "mmd_sd");
        CHECK(fabs(diff - want) <= 5 * diff_sd / sqrt(G), "different: mmd %.3f ± %.3f, E[MMD²]/1e-4 = %.3f", diff,
              diff_sd, want);
        CHECK(diff > 10 * fabs(same) && diff > 5 * diff_sd / sqrt(G), "different distributions must stand out");
    }
    setup_close(&s);
    printf("mmd (x1e-4): same %.3f ± %.3f, different %.3f ± %.3f (closed form %.3f)\n", same, same_sd, diff, diff_sd, want);

    /* the model's independent bits against the checkerboard's Gray codes: large */
    if (setup_open(&s, "{plugin: synthetic2d, data: checkerboard}", "{plugin: test_bits, dim: 32}",
                   "{plugin: mmd, groups: 2, samples: 500}") == 0 && run(&s, 8, 0, ".", &o) == UG_OK)
        CHECK(harness_value(&o, "mmd") > 50, "bits vs checkerboard: mmd %.2f", harness_value(&o, "mmd"));
    setup_close(&s);
}

/* Read a PNG's size (and that it decodes) with libpng. */
static int png_size(const char *path, int *w, int *h) {
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&img, path)) return -1;
    img.format = PNG_FORMAT_RGB;
    png_bytep buf = malloc(PNG_IMAGE_SIZE(img));
    int ok = buf && png_image_finish_read(&img, NULL, buf, 0, NULL);
    *w = (int)img.width, *h = (int)img.height;
    /* the two panels must differ somewhere (independent bits are nothing like moons) */
    int differ = 0;
    if (ok)
        for (int y = 0; y < *h && !differ; y++)
            for (int x = 0; x < (*w - 8) / 2 && !differ; x++)
                differ |= memcmp(buf + 3 * (y * *w + x), buf + 3 * (y * *w + x + (*w + 8) / 2), 3) != 0;
    free(buf);
    png_image_free(&img);
    return ok && differ ? 0 : -1;
}

static void test_density_png(void) {
    char dir[] = "/tmp/ug_density_XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(0, "mkdtemp");
        return;
    }
    setup s;
    ug_metric_out o;
    if (setup_open(&s, "{plugin: synthetic2d, data: moons}", "{plugin: test_bits, dim: 32}",
                   "{plugin: density_png, samples: 4000, bins: 64}") == 0 && run(&s, 9, 1234, dir, &o) == UG_OK) {
        char want[512];
        snprintf(want, sizeof want, "%s/density-1234.png", dir);
        CHECK(o.n_artifacts == 1 && strcmp(o.artifact_paths[0], want) == 0 && strcmp(o.artifact_kinds[0], "png") == 0,
              "artifact %s", o.n_artifacts ? o.artifact_paths[0] : "(none)");
        int w = 0, h = 0;
        CHECK(png_size(want, &w, &h) == 0, "libpng cannot read %s back", want);
        CHECK(w == 2 * 256 + 8 && h == 256, "png is %dx%d, expected 520x256 (64 bins x4, two panels, 8 px gap)", w, h);
        double tv = harness_value(&o, "density_tv");
        CHECK(tv > 0.5 && tv <= 1.0, "density_tv %.3f: bits vs moons should be far apart", tv);
        unlink(want);
    }
    setup_close(&s);
    /* a dataset without a 2-D decoding is refused with a message */
    if (setup_open(&s, "{plugin: test_bits, dim: 32}", "{plugin: test_bits, dim: 32}", "{plugin: density_png, samples: 10}") == 0)
        CHECK(harness_evaluate(s.md, s.metric, CTX, 1, &s.model, &s.data, 0, dir, &o) == UG_ERR_UNSUPPORTED,
              "no decoder: %s", ug_ctx_errmsg(CTX));
    ug_ctx_clear_error(CTX);
    setup_close(&s);
    rmdir(dir);
}

int main(void) {
    if (harness_open(&H)) {
        CHECK(0, "cannot open the plugin registry");
        return CHECK_DONE();
    }
    CTX = ug_ctx_new(1 << 22);
    test_nll();
    test_mmd();
    test_density_png();
    ug_ctx_free(CTX);
    harness_close(&H);
    return CHECK_DONE();
}
