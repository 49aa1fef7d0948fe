/* test_sample2d.c — the 2-D sample-quality metric (plugins/metrics/sample2d) through the real loader,
 * with its default sizes (50,000 samples, 200,000 reference points, 64 x 64 cells of 0.2 over
 * [−6.4, 6.4]²), against models whose samples are exact draws of a known law (the test-only model
 * test_points, tests/plugins_test/test_points.c) on checkerboard, Gray-coded and continuous:
 *
 *  exact    the model draws the dataset's own samples: tv equals tv_floor and off_data equals
 *           off_data_floor within their sampling spread (bounds below), off_data_floor is 1 − quantile,
 *           and tv_floor matches its closed form. Per cell the two counts are independent binomials
 *           (n, 1/800) (the 8 filled 2 x 2 checker cells hold 800 cells of 0.2), so with
 *           λ = n/800 = 62.5, E|N − N'| = 2√(λ(1 − 1/800)/π) (normal approximation; the discreteness
 *           correction is below 0.5 % at this λ) and E tv_floor = 800 · 2√(λ/π) / (2n) = 0.0713, with
 *           an sd of 0.0019 over seeds (|N − N'| has variance 2λ (1 − 2/π) per cell);
 *  uniform  exact samples of U([−4, 4]²), checkerboard's square, the plateau of experiments/paper: the
 *           Hamming MMD scores it below its floor, this metric must not. tv = 0.5 (the empty cells
 *           hold half the model's mass; in the filled ones the model has half the true density, and
 *           the counts' noise is negligible beside that gap). off_data = ½ (1 − (L/A) ∫_0^r (1 −
 *           e^{−ρ S(t)}) dt) + ½ (1 − q): a model point in a filled cell is a true point for this
 *           purpose (off with probability 1 − q); one in an empty cell at distance t from the L = 48
 *           units of edge that empty cells share with filled ones (A = 32 of empty area) sees ρ S(t)
 *           reference points in expectation within r, ρ = reference / 32, S(t) = the disk segment of
 *           radius r beyond a line at distance t; r is the metric's own off_data_radius;
 *  wide     continuous U([−8, 8]²): 1 − (6.4/8)² = 0.36 of the mass falls outside the histogram
 *           square (`outside`); tv = 1 − 32/256 = 0.875 counts it;
 *  raw      continuous 2-D data without a decoder (test_gauss, N(0, I)): the points themselves, at the
 *           floor as in `exact`;
 *  refuse   a dataset without a 2-D decoding is refused at create with a message naming the metric.
 *
 * The bounds on "at the floor": with n = 50,000 the spread (sd) over seeds of tv − tv_floor is about
 * 0.002 and of off_data − off_data_floor about 0.0006 (printed by `exact` over its seeds); the checks
 * allow 0.01 and 0.003, about five times that; tv_floor must be within 5 sd of its closed form, and
 * the closed forms of the uniform cases within 0.01. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "plugin_harness.h"

#define CHECKER_GRAY "{plugin: synthetic2d, data: checkerboard, encoding: gray32}"
#define CHECKER_CONT "{plugin: synthetic2d, data: checkerboard, encoding: continuous}"
#define METRIC "{plugin: sample2d}"

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

static int setup_open(setup *s, const char *data, const char *model, const char *metric, ug_error *err) {
    memset(s, 0, sizeof *s);
    s->params = ug_params_new();
    if (!(s->spec = harness_spec(&H, data, model, metric, err)) || harness_dataset(&H, s->spec, CTX, 1, &s->data, err) ||
        harness_model(&H, s->spec, CTX, 1, &s->data, s->params, &s->model, err) ||
        !(s->md = harness_metric(&H, s->spec, CTX, &s->data, &s->model, &s->metric, err)))
        return -1;
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

typedef struct result {
    double tv, tv_floor, off, off_floor, radius, outside, samples, reference;
} result;

/* One evaluation of sample2d on (data, model) with `seed`; 0 on success. */
static int evaluate(const char *data, const char *model, uint64_t seed, result *r) {
    setup s;
    ug_error err = {0};
    ug_metric_out o;
    int rc = -1;
    if (setup_open(&s, data, model, METRIC, &err)) {
        CHECK(0, "setup %s / %s: %s", data, model, err.msg);
    } else if (harness_evaluate(s.md, s.metric, CTX, seed, &s.model, &s.data, 0, ".", &o)) {
        CHECK(0, "evaluate %s / %s: %s", data, model, ug_ctx_errmsg(CTX));
    } else {
        r->tv = harness_value(&o, "tv"), r->tv_floor = harness_value(&o, "tv_floor");
        r->off = harness_value(&o, "off_data"), r->off_floor = harness_value(&o, "off_data_floor");
        r->radius = harness_value(&o, "off_data_radius"), r->outside = harness_value(&o, "outside");
        r->samples = harness_value(&o, "samples"), r->reference = harness_value(&o, "reference");
        CHECK(o.n_values == 8 && r->samples == 50000 && r->reference == 200000, "%d values, samples %g, reference %g",
              o.n_values, r->samples, r->reference);
        rc = 0;
    }
    ug_step_reset(CTX);
    ug_ctx_clear_error(CTX);
    setup_close(&s);
    return rc;
}

/* E tv between two independent histograms of n true checkerboard points (800 filled cells), and its
 * sd in *sd: per cell the difference D of the counts is about N(0, 2λ), so |D| has variance
 * 2λ (1 − 2/π); the cells are treated as independent (the multinomial's coupling only lowers it). */
static double tv_floor_closed_form(double n, double *sd) {
    double lam = n / 800.0, v = 2.0 * lam * (1.0 - 1.0 / 800.0);
    *sd = sqrt(800.0 * v * (1.0 - 2.0 / M_PI)) / (2.0 * n);
    return 800.0 * sqrt(2.0 * v / M_PI) / (2.0 * n);
}

/* E off_data of U([−4, 4]²) on checkerboard, given the radius r (see the top of the file). */
static double uniform_off_closed_form(double r, double reference, double q) {
    double rho = reference / 32.0, strip = 0.0;
    const int N = 2000;
    for (int i = 0; i < N; i++) {   /* midpoint rule over t in [0, r] */
        double t = (i + 0.5) * r / N;
        double seg = r * r * acos(t / r) - t * sqrt(r * r - t * t);
        strip += (1.0 - exp(-rho * seg)) * r / N;
    }
    return 0.5 * (1.0 - 48.0 / 32.0 * strip) + 0.5 * (1.0 - q);
}

static void at_floor(const char *what, const result *r) {
    CHECK(fabs(r->tv - r->tv_floor) <= 0.01, "%s: tv %.4f vs tv_floor %.4f", what, r->tv, r->tv_floor);
    CHECK(fabs(r->off - r->off_floor) <= 0.003, "%s: off_data %.4f vs off_data_floor %.4f", what, r->off, r->off_floor);
    CHECK(fabs(r->off_floor - 0.01) <= 0.003, "%s: off_data_floor %.4f, expected 1 - 0.99", what, r->off_floor);
    CHECK(r->outside == 0, "%s: outside %.4f for true samples", what, r->outside);
}

static void test_exact(void) {
    const char *datas[2] = {CHECKER_GRAY, CHECKER_CONT};
    double sd;
    const double want = tv_floor_closed_form(50000, &sd);
    for (int k = 0; k < 2; k++) {
        double dtv[3], doff[3];
        for (int seed = 0; seed < 3; seed++) {
            result r;
            if (evaluate(datas[k], "{plugin: test_points, law: data}", 100 + seed, &r)) return;
            at_floor(datas[k], &r);
            CHECK(fabs(r.tv_floor - want) <= 5 * sd, "%s: tv_floor %.4f, closed form %.4f ± %.4f", datas[k], r.tv_floor, want, sd);
            CHECK(r.radius > 0.005 && r.radius < 0.05, "%s: off_data_radius %.4f", datas[k], r.radius);
            dtv[seed] = r.tv - r.tv_floor, doff[seed] = r.off - r.off_floor;
            printf("exact %s seed %d: tv %.4f (floor %.4f, closed form %.4f ± %.4f), off_data %.4f (floor %.4f), radius %.4f\n",
                   k ? "continuous" : "gray32", seed, r.tv, r.tv_floor, want, sd, r.off, r.off_floor, r.radius);
        }
        double mt = (dtv[0] + dtv[1] + dtv[2]) / 3, mo = (doff[0] + doff[1] + doff[2]) / 3, st = 0, so = 0;
        for (int i = 0; i < 3; i++) st += (dtv[i] - mt) * (dtv[i] - mt), so += (doff[i] - mo) * (doff[i] - mo);
        printf("exact %s: sd over seeds of tv - tv_floor %.4f, of off_data - off_data_floor %.4f\n", k ? "continuous" : "gray32",
               sqrt(st / 2), sqrt(so / 2));
    }
}

static void test_uniform(void) {
    const char *datas[2] = {CHECKER_GRAY, CHECKER_CONT};
    for (int k = 0; k < 2; k++) {
        result r;
        if (evaluate(datas[k], "{plugin: test_points, law: uniform, half: 4.0}", 7, &r)) return;
        double want_off = uniform_off_closed_form(r.radius, r.reference, 0.99);
        CHECK(fabs(r.tv - 0.5) <= 0.01, "%s uniform square: tv %.4f, expected 0.5", datas[k], r.tv);
        CHECK(r.tv > r.tv_floor + 0.3, "%s uniform square: tv %.4f not clearly above tv_floor %.4f", datas[k], r.tv, r.tv_floor);
        CHECK(fabs(r.off - want_off) <= 0.01, "%s uniform square: off_data %.4f, closed form %.4f", datas[k], r.off, want_off);
        CHECK(r.off > r.off_floor + 0.4, "%s uniform square: off_data %.4f vs floor %.4f", datas[k], r.off, r.off_floor);
        CHECK(r.outside == 0, "%s uniform square: outside %.4f", datas[k], r.outside);
        printf("uniform square %s: tv %.4f (floor %.4f), off_data %.4f (closed form %.4f; floor %.4f), radius %.4f\n",
               k ? "continuous" : "gray32", r.tv, r.tv_floor, r.off, want_off, r.off_floor, r.radius);
    }
}

static void test_wide(void) {
    result r;
    if (evaluate(CHECKER_CONT, "{plugin: test_points, law: uniform, half: 8.0}", 8, &r)) return;
    CHECK(fabs(r.outside - 0.36) <= 0.01, "wide: outside %.4f, expected 0.36", r.outside);
    CHECK(fabs(r.tv - 0.875) <= 0.01, "wide: tv %.4f, expected 0.875", r.tv);
    printf("uniform [-8, 8]^2 on continuous checkerboard: outside %.4f (0.36), tv %.4f (0.875), off_data %.4f\n", r.outside,
           r.tv, r.off);
}

static void test_raw(void) {
    result r;
    if (evaluate("{plugin: test_gauss, dim: 2, std: 1.0}", "{plugin: test_points, law: data}", 11, &r)) return;
    at_floor("test_gauss N(0, I)", &r);
    printf("test_gauss N(0, I), no decoder: tv %.4f (floor %.4f), off_data %.4f (floor %.4f), radius %.4f\n", r.tv, r.tv_floor,
           r.off, r.off_floor, r.radius);
}

static void test_refuse(void) {
    setup s;
    ug_error err = {0};
    int rc = setup_open(&s, "{plugin: test_bits, dim: 32}", "{plugin: test_bits, dim: 32}", METRIC, &err);
    CHECK(rc != 0 && !s.metric && strstr(err.msg, "sample2d") && strstr(err.msg, "test_bits") && strstr(err.msg, "2-D"),
          "a dataset without a 2-D decoding: rc %d, '%s'", rc, err.msg);
    printf("refused: %s\n", err.msg);
    setup_close(&s);
    /* and a bound of the schema is the spec check's, before any create */
    ug_error e2 = {0};
    ug_spec *sp = harness_spec(&H, CHECKER_GRAY, "{plugin: test_points}", "{plugin: sample2d, samples: 99}", &e2);
    CHECK(!sp && strstr(e2.msg, "samples"), "samples: 99 accepted (%s)", e2.msg);
    ug_spec_free(sp);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: test_sample2d exact|uniform|wide|raw|refuse\n");
        return 2;
    }
    if (harness_open(&H)) {
        CHECK(0, "cannot open the plugin registry");
        return CHECK_DONE();
    }
    char path[4096];
    ug_error err = {0};
    snprintf(path, sizeof path, "%s/tests/plugins_test/test_points.so", getenv("UG_BUILD_ROOT"));
    if (ug_registry_load_file(H.reg, path, &err)) {
        CHECK(0, "load %s: %s", path, err.msg);
        return CHECK_DONE();
    }
    CTX = ug_ctx_new(1 << 22);
    const char *c = argv[1];
    if (!strcmp(c, "exact")) test_exact();
    else if (!strcmp(c, "uniform")) test_uniform();
    else if (!strcmp(c, "wide")) test_wide();
    else if (!strcmp(c, "raw")) test_raw();
    else if (!strcmp(c, "refuse")) test_refuse();
    else CHECK(0, "unknown case '%s'", c);
    ug_ctx_free(CTX);
    harness_close(&H);
    return CHECK_DONE();
}
