/* test_metrics.c — the nll, mmd and density_png metric plugins, loaded through the real loader and
 * run against the test-only model/dataset "test_bits" (tests/plugins_test/test_bits.c), whose
 * distribution is a product of Bernoullis known in closed form:
 *  - nll: with P_B the exact posterior every particle's weight is p(x), so any M gives the exact NLL;
 *    with a skewed P_B, M = 1 gives exact NLL + KL(P_B‖posterior) and large M approaches the exact one
 *    (KL and the χ² that sets the bias are computed by enumerating the D! orders);
 *  - mmd: for product distributions the exp(−0.1·Hamming) kernel factorizes, so E[MMD²] is a product
 *    formula, which the unbiased estimator must hit (the biased one would sit far above);
 *  - density_png: the PNG decodes back with libpng to the size and layout of the host's density picture
 *    (plot/density.h: the plugin only bins, the host draws), its two panels differ, and it has the
 *    host's axes labels and colour bar (Gray-coded and continuous data);
 *  - mmd_rbf and energy on continuous samples: the model gauss_chain (x ~ N(0, I) at its initial μ = 0)
 *    against the test-only dataset test_gauss (N(m, s² I)). Against the same law both statistics and
 *    their true-vs-true floors are 0 within their spread, and the median-heuristic bandwidth is the
 *    closed-form median of ‖X − X′‖² (4 ln 2 in 2-D); against a shifted, narrower Gaussian they hit the
 *    closed forms (Gaussian-kernel expectations; the Rice mean of ‖X − Y‖). */
#include <math.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "plot/density.h"
#include "plugin_harness.h"

/* continuous cases: x ~ N(0, I) from gauss_chain at μ = 0; data N(0, I) or N((1.5, 0), 0.7² I) */
#define SAME_DATA "{plugin: test_gauss, dim: 2, std: 1.0}"
#define SHIFT_DATA "{plugin: test_gauss, dim: 2, mean: [1.5, 0.0], std: 0.7}"
#define UNIT_MODEL "{plugin: gauss_chain, dim: 2, steps: 1, sigma_f: 1.0}"

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

/* Reads density_png's picture back with libpng: its size must be the host's layout of two panels of 64
 * bins (ug_density_geometry), the panels must differ (independent bits are nothing like moons), and the
 * axes and colour bar must be there: text left of the first panel, viridis' ends at the bar's ends. */
static int density_picture_ok(const char *path, int *w, int *h) {
    ug_density_fig fig = {.size = sizeof fig, .title = "t", .bins = 64, .x0 = -1, .x1 = 1, .y0 = -1, .y1 = 1, .n_panels = 2};
    static const int64_t zero[64 * 64];
    fig.panels[0].counts = fig.panels[1].counts = zero;
    ug_density_geom g;
    ug_error err = {0};
    if (ug_density_geometry(&fig, &g, &err)) return -1;
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&img, path)) return -1;
    img.format = PNG_FORMAT_RGB;
    png_bytep buf = malloc(PNG_IMAGE_SIZE(img));
    int ok = buf && png_image_finish_read(&img, NULL, buf, 0, NULL);
    *w = (int)img.width, *h = (int)img.height;
    ok = ok && *w == g.w && *h == g.h;
    int differ = 0, dark = 0;
    for (int y = 0; ok && y < g.side && !differ; y++)
        for (int x = 0; x < g.side && !differ; x++)
            differ |= memcmp(buf + 3 * ((size_t)(g.panel_y + y) * *w + g.panel_x[0] + x),
                             buf + 3 * ((size_t)(g.panel_y + y) * *w + g.panel_x[1] + x), 3) != 0;
    for (int y = g.panel_y; ok && y < g.panel_y + g.side; y++)
        for (int x = 0; x < g.panel_x[0] - 8; x++) dark += buf[3 * ((size_t)y * *w + x)] < 90;
    const unsigned char *top = ok ? buf + 3 * ((size_t)(g.panel_y + 1) * *w + g.bar_x + 4) : NULL;
    const unsigned char *bot = ok ? buf + 3 * ((size_t)(g.panel_y + g.side - 2) * *w + g.bar_x + 4) : NULL;
    bool bar = ok && abs(top[0] - 253) < 8 && abs(top[1] - 231) < 8 && abs(bot[0] - 68) < 8 && abs(bot[2] - 84) < 8;
    if (ok && !(differ && dark > 40 && bar))
        fprintf(stderr, "%s: panels differ %d, %d dark px of y tick labels, colour bar %d\n", path, differ, dark, bar);
    free(buf);
    png_image_free(&img);
    return ok && differ && dark > 40 && bar ? 0 : -1;
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
        CHECK(density_picture_ok(want, &w, &h) == 0, "%s (%dx%d) is not the host's density picture", want, w, h);
        double tv = harness_value(&o, "density_tv");
        CHECK(tv > 0.5 && tv <= 1.0, "density_tv %.3f: bits vs moons should be far apart", tv);
        unlink(want);
    }
    setup_close(&s);
    /* continuous 2-D samples (no decoder): the points themselves */
    if (setup_open(&s, "{plugin: synthetic2d, data: moons, encoding: continuous}", UNIT_MODEL,
                   "{plugin: density_png, samples: 4000, bins: 64}") == 0 && run(&s, 10, 77, dir, &o) == UG_OK) {
        char want[512];
        snprintf(want, sizeof want, "%s/density-77.png", dir);
        int w = 0, h = 0;
        CHECK(o.n_artifacts == 1 && density_picture_ok(want, &w, &h) == 0, "continuous png %dx%d", w, h);
        double tv = harness_value(&o, "density_tv");
        CHECK(tv > 0.3 && tv <= 1.0, "density_tv %.3f: N(0, I) vs moons", tv);
        printf("density_png: continuous moons vs N(0, I): %dx%d, density_tv %.3f\n", w, h, tv);
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

/* ---- continuous two-sample metrics against closed forms ------------------------------------------ */

/* E k(X, Y) for X ~ N(0, s1² I), Y ~ N(mu, s2² I) in D dims, k = exp(−‖a − b‖² / (2 sig²)). */
static double ek_gauss(double sig, double s1, double s2, double mu2, int D) {
    double S = sig * sig + s1 * s1 + s2 * s2;
    return pow(sig * sig / S, D / 2.0) * exp(-mu2 / (2 * S));
}

static double mmd2_gauss(double sig, double s1, double s2, double mu2, int D) {
    return ek_gauss(sig, s1, s1, 0, D) + ek_gauss(sig, s2, s2, 0, D) - 2 * ek_gauss(sig, s1, s2, mu2, D);
}

/* Modified Bessel functions of the first kind by their power series (fine for the small arguments here). */
static double bessel_i(int nu, double y) {
    double t = nu ? y / 2 : 1, s = 0;
    for (int k = 0; k < 200 && t > 1e-17 * s; k++) {
        s += t;
        t *= (y * y / 4) / ((k + 1.0) * (k + 1.0 + nu));
    }
    return s;
}

/* E‖Z‖ for Z ~ N(δ, s² I_2), ‖δ‖ = nu: the Rice mean s √(π/2) L_{1/2}(−ν²/(2s²)). */
static double rice_mean(double nu, double s) {
    double x = -nu * nu / (2 * s * s);
    return s * sqrt(M_PI / 2) * exp(x / 2) * ((1 - x) * bessel_i(0, -x / 2) - x * bessel_i(1, -x / 2));
}

static double energy_gauss2(double s1, double s2, double mu) {
    return 2 * rice_mean(mu, sqrt(s1 * s1 + s2 * s2)) - s1 * sqrt(M_PI) - s2 * sqrt(M_PI);
}


static void test_mmd_rbf(void) {
    setup s;
    ug_metric_out o;
    const int G = 8;
    const double rg = sqrt((double)G);
    /* the same law: value and floor 0 within their spread; the bandwidth is the median of 2 χ²_2 = 4 ln 2 */
    double same = NAN, same_sd = NAN, fl = NAN, fl_sd = NAN, bw = NAN;
    if (setup_open(&s, SAME_DATA, UNIT_MODEL, "{plugin: mmd_rbf, groups: 8, samples: 1500, chunk: 700}") == 0 &&
        run(&s, 31, 0, ".", &o) == UG_OK) {
        same = harness_value(&o, "mmd_rbf"), same_sd = harness_value(&o, "mmd_rbf_sd");
        fl = harness_value(&o, "mmd_floor"), fl_sd = harness_value(&o, "mmd_floor_sd"), bw = harness_value(&o, "mmd_bandwidth");
        CHECK(same_sd > 0 && fabs(same) <= 5 * same_sd / rg, "same law: mmd_rbf %.3g ± %.3g", same, same_sd);
        CHECK(fl_sd > 0 && fabs(fl) <= 5 * fl_sd / rg, "same law: mmd_floor %.3g ± %.3g", fl, fl_sd);
        CHECK(fabs(same - fl) <= 5 * sqrt(same_sd * same_sd + fl_sd * fl_sd) / rg, "same law: mmd %.3g vs floor %.3g", same, fl);
        CHECK(fabs(bw * bw / (4 * log(2.0)) - 1) < 0.04, "median heuristic: sigma^2 = %.4f, closed form 4 ln 2 = %.4f", bw * bw,
              4 * log(2.0));
    }
    setup_close(&s);
    /* a shifted, narrower Gaussian at a fixed bandwidth: the closed form */
    double want = mmd2_gauss(1.0, 1.0, 0.7, 2.25, 2), diff = NAN, diff_sd = NAN, fl2 = NAN, fl2_sd = NAN;
    if (setup_open(&s, SHIFT_DATA, UNIT_MODEL, "{plugin: mmd_rbf, groups: 8, samples: 1500, bandwidth: 1.0}") == 0 &&
        run(&s, 32, 0, ".", &o) == UG_OK) {
        diff = harness_value(&o, "mmd_rbf"), diff_sd = harness_value(&o, "mmd_rbf_sd");
        fl2 = harness_value(&o, "mmd_floor"), fl2_sd = harness_value(&o, "mmd_floor_sd");
        CHECK(fabs(diff - want) <= 5 * diff_sd / rg, "shifted: mmd_rbf %.5f ± %.5f, closed form %.5f", diff, diff_sd, want);
        CHECK(fabs(fl2) <= 5 * fl2_sd / rg && diff > 20 * fl2_sd, "shifted: floor %.3g ± %.3g", fl2, fl2_sd);
        CHECK(harness_value(&o, "mmd_bandwidth") == 1.0, "fixed bandwidth reported");
    }
    setup_close(&s);
    /* the same with the median heuristic: the closed form at the bandwidth it reports */
    double med = NAN, med_sd = NAN, bw2 = NAN, want2 = NAN;
    if (setup_open(&s, SHIFT_DATA, UNIT_MODEL, "{plugin: mmd_rbf, groups: 8, samples: 1500}") == 0 && run(&s, 33, 0, ".", &o) == UG_OK) {
        med = harness_value(&o, "mmd_rbf"), med_sd = harness_value(&o, "mmd_rbf_sd"), bw2 = harness_value(&o, "mmd_bandwidth");
        want2 = mmd2_gauss(bw2, 1.0, 0.7, 2.25, 2);
        CHECK(fabs(med - want2) <= 6 * med_sd / rg, "shifted, median bandwidth %.4f: mmd_rbf %.5f ± %.5f, closed form %.5f", bw2,
              med, med_sd, want2);
    }
    setup_close(&s);
    printf("mmd_rbf: same law %.2e ± %.2e (floor %.2e ± %.2e), median bandwidth %.4f (closed form %.4f); shifted, "
           "sigma 1: %.5f ± %.5f vs closed form %.5f (floor %.2e ± %.2e); median sigma %.4f: %.5f ± %.5f vs %.5f\n",
           same, same_sd, fl, fl_sd, bw, sqrt(4 * log(2.0)), diff, diff_sd, want, fl2, fl2_sd, bw2, med, med_sd, want2);
    /* binary data is refused at create, naming the plugin to use */
    ug_error err = {0};
    void *self = NULL;
    ug_spec *sp = harness_spec(&H, "{plugin: test_bits, dim: 4}", "{plugin: test_bits, dim: 4}", "{plugin: mmd_rbf}", &err);
    ug_dataset d;
    if (sp && harness_dataset(&H, sp, CTX, 1, &d, &err) == 0) {
        CHECK(!harness_metric(&H, sp, CTX, &d, NULL, &self, &err) && strstr(err.msg, "mmd_rbf") && strstr(err.msg, "continuous"),
              "binary data refused: %s", err.msg);
        ug_registry_find(H.reg, UG_KIND_DATASET, d.name)->desc->destroy(d.self);
    }
    ug_spec_free(sp);
}

static void test_energy(void) {
    setup s;
    ug_metric_out o;
    const int G = 8;
    const double rg = sqrt((double)G);
    double same = NAN, same_sd = NAN, fl = NAN, fl_sd = NAN;
    if (setup_open(&s, SAME_DATA, UNIT_MODEL, "{plugin: energy, groups: 8, samples: 1500, chunk: 700}") == 0 &&
        run(&s, 41, 0, ".", &o) == UG_OK) {
        same = harness_value(&o, "energy"), same_sd = harness_value(&o, "energy_sd");
        fl = harness_value(&o, "energy_floor"), fl_sd = harness_value(&o, "energy_floor_sd");
        CHECK(same_sd > 0 && fabs(same) <= 5 * same_sd / rg, "same law: energy %.3g ± %.3g", same, same_sd);
        CHECK(fl_sd > 0 && fabs(fl) <= 5 * fl_sd / rg, "same law: energy_floor %.3g ± %.3g", fl, fl_sd);
        CHECK(fabs(same - fl) <= 5 * sqrt(same_sd * same_sd + fl_sd * fl_sd) / rg, "same law: energy %.3g vs floor %.3g", same, fl);
    }
    setup_close(&s);
    double want = energy_gauss2(1.0, 0.7, 1.5), diff = NAN, diff_sd = NAN, fl2 = NAN, fl2_sd = NAN;
    if (setup_open(&s, SHIFT_DATA, UNIT_MODEL, "{plugin: energy, groups: 8, samples: 1500}") == 0 && run(&s, 42, 0, ".", &o) == UG_OK) {
        diff = harness_value(&o, "energy"), diff_sd = harness_value(&o, "energy_sd");
        fl2 = harness_value(&o, "energy_floor"), fl2_sd = harness_value(&o, "energy_floor_sd");
        CHECK(fabs(diff - want) <= 5 * diff_sd / rg, "shifted: energy %.5f ± %.5f, closed form %.5f", diff, diff_sd, want);
        CHECK(fabs(fl2) <= 5 * fl2_sd / rg && diff > 20 * fl2_sd, "shifted: floor %.3g ± %.3g", fl2, fl2_sd);
    }
    setup_close(&s);
    printf("energy: same law %.2e ± %.2e (floor %.2e ± %.2e); shifted: %.5f ± %.5f vs closed form %.5f "
           "(2 x Rice mean %.5f - sqrt(pi) (1 + 0.7)); floor %.2e ± %.2e\n",
           same, same_sd, fl, fl_sd, diff, diff_sd, want, 2 * rice_mean(1.5, sqrt(1.49)), fl2, fl2_sd);
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
    test_mmd_rbf();
    test_energy();
    ug_ctx_free(CTX);
    harness_close(&H);
    return CHECK_DONE();
}
