/* test_synthetic2d.c — the 2-D toy generators and the 32-bit Gray code (compiled in from the plugin's
 * toy2d.c / gray.c), then the synthetic2d plugin loaded through the real loader.
 *
 * Generator moments are checked against values derived by hand (see each reference below) or by a
 * quadrature over the generator's latent variable, within 5 standard errors of the sample. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "plugin_harness.h"
#include "toy2d.h"
#include "unigfn/rng.h"

#define PI 3.14159265358979323846

/* ---- Gray code ---- */

static void test_gray_property(void) {
    int bad_step = 0, bad_inv = 0;
    for (uint32_t m = 0; m < GRAY_MAX_MAG; m++)
        if (__builtin_popcount(gray_of(m) ^ gray_of(m + 1)) != 1) bad_step++;
    for (uint32_t m = 0; m <= GRAY_MAX_MAG; m++)
        if (gray_inverse(gray_of(m)) != m || gray_of(m) > GRAY_MAX_MAG) bad_inv++;
    CHECK(bad_step == 0, "%d neighbouring magnitudes differ in more than one bit", bad_step);
    CHECK(bad_inv == 0, "%d codes do not invert", bad_inv);
    /* the same through the float bit vectors the dataset emits */
    double s = toy2d_int_scale(TOY2D_MOONS);
    float a[16], b[16];
    int bad_bits = 0;
    for (uint32_t m = 0; m + 1 <= GRAY_MAX_MAG; m += 7) {
        gray_encode_coord((float)((m + 0.5) / s), s, a);
        gray_encode_coord((float)((m + 1.5) / s), s, b);
        int diff = 0;
        for (int k = 0; k < 16; k++) diff += a[k] != b[k];
        bad_bits += diff != 1;
    }
    CHECK(bad_bits == 0, "%d float codes of m, m+1 differ in more than one bit", bad_bits);
}

static void test_gray_layout(void) {
    double s = 5000.0;
    /* x: t = +3.5 -> m = 3, Gray 2 = 0b...010; y: t = -5.25 -> sign 1, m = 5, Gray 7 = 0b...111 */
    float pts[2] = {(float)(3.5 / s), (float)(-5.25 / s)}, bits[32];
    int64_t clipped = gray32_encode(pts, 1, s, bits);
    float want[32] = {0};
    want[14] = 1;                                   /* x: bit 0 sign 0; Gray bits MSB first end at 15 */
    want[16] = 1;                                   /* y: sign */
    want[16 + 13] = want[16 + 14] = want[16 + 15] = 1;
    int same = 1;
    for (int k = 0; k < 32; k++) same &= bits[k] == want[k];
    CHECK(same && clipped == 0, "layout: bits do not match sign + Gray(m) MSB first, x then y");
    /* largest magnitude: every Gray bit of 32767 = 0b100000000000000 Gray-coded = 0x4000 */
    float big[16];
    gray_encode_coord((float)(32767.5 / s), s, big);
    CHECK(big[0] == 0 && big[1] == 1 && big[2] == 0 && big[15] == 0, "m = 32767 codes as Gray 0x4000");
    /* -0: a small negative value keeps its sign bit, decodes to 0 */
    float z[16];
    gray_encode_coord((float)(-0.4 / s), s, z);
    CHECK(z[0] == 1 && gray_decode_coord(z, s) == 0.0f, "-0.4/s codes as sign 1, m 0");
    float back[2];
    gray32_decode(bits, 1, s, back);
    CHECK_CLOSE(back[0], 3.0 / s, 1e-6, 0);
    CHECK_CLOSE(back[1], -5.0 / s, 1e-6, 0);
}

static void test_gray_roundtrip(void) {
    ug_rng rng = ug_rng_make(11, 0);
    int bad = 0;
    double worst = 0;
    for (int kind = 0; kind < TOY2D_COUNT; kind++) {
        double s = toy2d_int_scale(kind), lim = 32767.0 / s;
        enum { N = 5000 };
        static float pts[2 * N], bits[32 * N], back[2 * N];
        ug_rng_uniform(&rng, pts, 2 * N);
        for (int i = 0; i < 2 * N; i++) pts[i] = (float)((2.0 * pts[i] - 1.0) * lim);
        int64_t clipped = gray32_encode(pts, N, s, bits);
        gray32_decode(bits, N, s, back);
        bad += clipped != 0;
        for (int i = 0; i < 2 * N; i++) {
            double e = fabs((double)back[i] - pts[i]);
            worst = e > worst ? e : worst;
            /* truncation: same sign (or zero), never larger, less than one step below */
            if (!(e <= 1.0 / s + 1e-6 * fabs(pts[i])) || fabs(back[i]) > fabs(pts[i]) + 1e-6) bad++;
        }
        for (int i = 0; i < 32 * N; i++) bad += bits[i] != 0.0f && bits[i] != 1.0f;
    }
    CHECK(bad == 0, "%d round-trip failures (worst error %.3g)", bad, worst);
}

static void test_gray_clipping(void) {
    double s = toy2d_int_scale(TOY2D_2SPIRALS);
    float pts[6] = {10.0f, -10.0f, (float)(32767.2 / s), (float)(-32768.5 / s), NAN, 0.0f}, bits[96], back[6];
    int64_t clipped = gray32_encode(pts, 3, s, bits);
    CHECK(clipped == 4, "clipped %lld coordinates, expected 4 (±10, -32768.5/s and the NaN)", (long long)clipped);
    gray32_decode(bits, 3, s, back);
    CHECK_CLOSE(back[0], 32767.0 / s, 1e-6, 0);
    CHECK_CLOSE(back[1], -32767.0 / s, 1e-6, 0);
    CHECK_CLOSE(back[2], 32767.0 / s, 1e-6, 0);
    CHECK_CLOSE(back[3], -32767.0 / s, 1e-6, 0);
    CHECK(fabs(back[4]) <= 32767.0 / s + 1e-6 && back[5] == 0.0f, "NaN clipped to a finite code");
    float inf_bits[16];
    CHECK(gray_encode_coord(-INFINITY, s, inf_bits) == 1 && inf_bits[0] == 1, "-inf clipped with its sign");
}

/* ---- generator moments ---- */

typedef struct moments {
    double mx, my, xx, yy, xy;   /* E[X], E[Y], E[X²], E[Y²], E[XY] */
} moments;

/* Compare sample moments of n points against ref, within 5 standard errors of each statistic. */
static void check_moments(const char *name, const float *p, int64_t n, moments ref) {
    double s[5] = {0}, ss[5] = {0};
    for (int64_t i = 0; i < n; i++) {
        double x = p[2 * i], y = p[2 * i + 1], v[5] = {x, y, x * x, y * y, x * y};
        for (int k = 0; k < 5; k++) s[k] += v[k], ss[k] += v[k] * v[k];
    }
    const double want[5] = {ref.mx, ref.my, ref.xx, ref.yy, ref.xy};
    const char *lab[5] = {"E[X]", "E[Y]", "E[X^2]", "E[Y^2]", "E[XY]"};
    for (int k = 0; k < 5; k++) {
        double mean = s[k] / n, se = sqrt((ss[k] / n - mean * mean) / n);
        CHECK(fabs(mean - want[k]) <= 5 * se + 1e-4, "%s %s = %.5f, expected %.5f (se %.5f)", name, lab[k], mean,
              want[k], se);
    }
}

/* ∫_a^b f(t) w(t) dt by composite Simpson with 20000 intervals. */
typedef double (*fn1)(double t, int which);
static double simpson(fn1 f, int which, double a, double b) {
    const int N = 20000;
    double h = (b - a) / N, s = f(a, which) + f(b, which);
    for (int i = 1; i < N; i++) s += (i % 2 ? 4.0 : 2.0) * f(a + i * h, which);
    return s * h / 3.0;
}

/* swissroll: t uniform on [1.5π, 4.5π] (density 1/(3π)) */
static double swiss_f(double t, int w) {
    double d = 1.0 / (3.0 * PI), c = cos(t), s = sin(t);
    switch (w) {
    case 0: return d * t * c;
    case 1: return d * t * s;
    case 2: return d * t * t * c * c;
    case 3: return d * t * t * s * s;
    default: return d * t * t * c * s;
    }
}

/* 2spirals: s = 3π√u, density 2s/(3π)² on [0, 3π] */
static double spiral_f(double s, int w) {
    double d = 2.0 * s / (9.0 * PI * PI), c = cos(s), sn = sin(s);
    switch (w) {
    case 0: return d * s * c;
    case 1: return d * s * sn;
    case 2: return d * s * s * c * c;
    case 3: return d * s * s * sn * sn;
    default: return d * s * s * c * sn;
    }
}

static moments ref_moments(int kind) {
    moments r = {0};
    switch (kind) {
    case TOY2D_8GAUSSIANS: {
        /* mean of cx² over the 8 centres: (16+16+0+0+4·8)/8 = 8; plus 0.5²; all over 1.414² */
        r.xx = r.yy = (8.0 + 0.25) / (1.414 * 1.414);
        break;
    }
    case TOY2D_CIRCLES:
        /* E[X²] = 9 (½·½·1 + ½·½·0.25 + 0.08²) = 9 · 0.3189 */
        r.xx = r.yy = 9.0 * (0.25 + 0.0625 + 0.0064);
        break;
    case TOY2D_MOONS: {
        /* unscaled: E[x] = ½, E[y] = ¼, E[x²] = 1 + .01, E[y²] = 0.625 − 1/π + .01,
         * E[xy] = ½·(0.5 − 2/π) ... then X = 2x − 1, Y = 2y − 0.2 */
        double ex = 0.5, ey = 0.25, exx = 1.0 + 0.01, eyy = 0.625 - 1.0 / PI + 0.01, exy = 0.5 * (0.5 - 2.0 / PI);
        r.mx = 2 * ex - 1, r.my = 2 * ey - 0.2;
        r.xx = 4 * exx - 4 * ex + 1;
        r.yy = 4 * eyy - 0.8 * ey + 0.04;
        r.xy = 4 * exy - 0.4 * ex - 2 * ey + 0.2;
        break;
    }
    case TOY2D_PINWHEEL:
        /* |p|² = 4(f0² + f1²), E = 4(1 + .09 + .01); 5-fold symmetry makes the covariance isotropic */
        r.xx = r.yy = 2.0 * (1.0 + 0.09 + 0.01);
        break;
    case TOY2D_SWISSROLL: {
        double a = 1.5 * PI, b = 4.5 * PI;
        r.mx = simpson(swiss_f, 0, a, b) / 5.0;   /* = 2/5 in closed form */
        r.my = simpson(swiss_f, 1, a, b) / 5.0;   /* = 2/(15π) */
        r.xx = (simpson(swiss_f, 2, a, b) + 1.0) / 25.0;
        r.yy = (simpson(swiss_f, 3, a, b) + 1.0) / 25.0;
        r.xy = simpson(swiss_f, 4, a, b) / 25.0;
        break;
    }
    case TOY2D_2SPIRALS: {
        /* arm (−s cos s + u′/2, s sin s + u″/2), negated half the time: means vanish, /3, +N(0, .1²) */
        double b = 3.0 * PI, Esc = simpson(spiral_f, 0, 0, b), Ess = simpson(spiral_f, 1, 0, b);
        double Ecc = simpson(spiral_f, 2, 0, b), Eqq = simpson(spiral_f, 3, 0, b), Ecs = simpson(spiral_f, 4, 0, b);
        r.xx = (Ecc - 0.5 * Esc + 1.0 / 12.0) / 9.0 + 0.01;
        r.yy = (Eqq + 0.5 * Ess + 1.0 / 12.0) / 9.0 + 0.01;
        r.xy = (-Ecs - 0.25 * Esc + 0.25 * Ess + 0.0625) / 9.0;
        break;
    }
    case TOY2D_CHECKERBOARD:
        /* both coordinates uniform on [−4, 4): variance 64/12; E[XY] = 4 E[x1 · (⌊x1⌋ mod 2)] = 4 · ¼ */
        r.xx = r.yy = 16.0 / 3.0;
        r.xy = 1.0;
        break;
    }
    return r;
}

static void test_generators(void) {
    enum { N = 200000 };
    static float p[2 * N];
    for (int kind = 0; kind < TOY2D_COUNT; kind++) {
        ug_rng rng = ug_rng_make(1234, (uint64_t)kind);
        CHECK(toy2d_sample(kind, &rng, N, p) == 0, "%s failed", toy2d_name(kind));
        check_moments(toy2d_name(kind), p, N, ref_moments(kind));
        int finite = 1;
        double mx = 0;
        for (int i = 0; i < 2 * N; i++) {
            finite &= isfinite(p[i]);
            mx = fabs(p[i]) > mx ? fabs(p[i]) : mx;
        }
        /* the reference int_scale came from max|coord| + 2: no sample should be near the clip */
        CHECK(finite && mx < 32768.0 / toy2d_int_scale(kind), "%s: max |coord| %.3f beyond the codable %.3f",
              toy2d_name(kind), mx, 32768.0 / toy2d_int_scale(kind));
        CHECK(toy2d_from_name(toy2d_name(kind)) == kind, "name round trip");
    }
    CHECK(toy2d_from_name("spirals") == -1, "unknown name");

    /* The reference int_scale = 2^15 / (max|coord| over 5000 samples + 2) must be one our generators
     * could have produced: it lies within the range seen over 20 draws of 5000 (catches a wrong scale). */
    for (int kind = 0; kind < TOY2D_COUNT; kind++) {
        double lo = INFINITY, hi = 0;
        for (int seed = 0; seed < 20; seed++) {
            ug_rng r = ug_rng_make((uint64_t)seed, 77);
            toy2d_sample(kind, &r, 5000, p);
            double mx = 0;
            for (int i = 0; i < 10000; i++) mx = fmax(mx, fabs(p[i]));
            lo = fmin(lo, 32768.0 / (mx + 2)), hi = fmax(hi, 32768.0 / (mx + 2));
        }
        double ref = toy2d_int_scale(kind);
        CHECK(ref >= 0.99 * lo && ref <= 1.01 * hi, "%s: reference int_scale %.1f outside the implied %.1f .. %.1f",
              toy2d_name(kind), ref, lo, hi);
    }

    /* checkerboard: every point on a dark square, ⌊X/2⌋ + ⌊Y/2⌋ even */
    ug_rng rng = ug_rng_make(5, 5);
    toy2d_sample(TOY2D_CHECKERBOARD, &rng, N, p);
    int off = 0;
    for (int i = 0; i < N; i++) off += (((int)floor(p[2 * i] / 2) + (int)floor(p[2 * i + 1] / 2)) % 2 + 2) % 2 != 0;
    CHECK(off == 0, "checkerboard: %d points on light squares", off);

    /* circles: half the points on each radius (noise rarely crosses the midpoint 2.25), and shuffled */
    toy2d_sample(TOY2D_CIRCLES, &rng, N, p);
    int outer = 0, outer_first = 0;
    for (int i = 0; i < N; i++) {
        int o = hypot(p[2 * i], p[2 * i + 1]) > 2.25;
        outer += o;
        if (i < N / 10) outer_first += o;
    }
    CHECK(fabs(outer / (double)N - 0.5) < 0.005, "circles: outer fraction %.4f", outer / (double)N);
    CHECK(fabs(outer_first / (N / 10.0) - 0.5) < 0.02, "circles: first tenth not shuffled (%.3f outer)",
          outer_first / (N / 10.0));

    /* 8gaussians: every point near a centre (scaled by 1/1.414): within 6 sd of 0.5/1.414 */
    toy2d_sample(TOY2D_8GAUSSIANS, &rng, N, p);
    int far = 0;
    for (int i = 0; i < N; i++) {
        double best = 1e9;
        for (int c = 0; c < 8; c++) {
            double a = c * PI / 4, dx = p[2 * i] - 4 * cos(a) / 1.414, dy = p[2 * i + 1] - 4 * sin(a) / 1.414;
            best = fmin(best, hypot(dx, dy));
        }
        far += best > 6 * 0.5 / 1.414;
    }
    CHECK(far == 0, "8gaussians: %d points far from every centre", far);

    /* odd sizes, tiny sizes, determinism */
    float a[2 * 7], b[2 * 7];
    for (int kind = 0; kind < TOY2D_COUNT; kind++) {
        for (int n = 1; n <= 7; n++) {
            ug_rng r1 = ug_rng_make(9, 1), r2 = ug_rng_make(9, 1);
            CHECK(toy2d_sample(kind, &r1, n, a) == 0 && toy2d_sample(kind, &r2, n, b) == 0, "%s n=%d", toy2d_name(kind), n);
            CHECK(memcmp(a, b, sizeof(float) * 2 * n) == 0, "%s is not deterministic for n=%d", toy2d_name(kind), n);
        }
    }
    CHECK(toy2d_sample(TOY2D_COUNT, &rng, 4, a) == -1, "bad kind refused");
}

/* ---- the plugin through the real loader ---- */

static void test_plugin(void) {
    harness h;
    if (harness_open(&h)) {
        CHECK(0, "cannot open the plugin registry");
        return;
    }
    ug_ctx *ctx = ug_ctx_new(1 << 20);
    ug_error err = {0};
    ug_dataset d1 = {0}, d2 = {0}, dc = {0};
    ug_spec *spec = harness_spec(&h, "{plugin: synthetic2d, data: checkerboard}", NULL, NULL, &err);
    CHECK(spec != NULL, "spec: %s", err.msg);
    ug_spec *spec2 = harness_spec(&h, "{plugin: synthetic2d, data: checkerboard, heldout_size: 300}", NULL, NULL, &err);
    ug_spec *specc = harness_spec(&h, "{plugin: synthetic2d, data: moons, encoding: continuous}", NULL, NULL, &err);
    ug_error e2 = {0};
    ug_spec *bad = harness_spec(&h, "{plugin: synthetic2d, data: spirals}", NULL, NULL, &e2);
    CHECK(!bad && e2.code == UG_ERR_SPEC && strstr(e2.msg, "2spirals"), "unknown data refused by the schema: %s", e2.msg);
    ug_spec_free(bad);
    if (!spec || !spec2 || !specc) goto done;

    CHECK(harness_dataset(&h, spec, ctx, 1, &d1, &err) == 0, "create: %s", err.msg);
    CHECK(harness_dataset(&h, spec2, ctx, 999, &d2, &err) == 0, "create: %s", err.msg);
    CHECK(harness_dataset(&h, specc, ctx, 1, &dc, &err) == 0, "create: %s", err.msg);
    if (!d1.self || !d2.self || !dc.self) goto done;
    CHECK(d1.info.space.kind == UG_SPACE_BINARY && d1.info.space.dim == 32 && d1.info.space.categories == 2,
          "gray32 space");
    CHECK(d1.info.heldout_size == 4000 && d1.info.train_size == -1 && d1.info.decoded_dim == 2, "gray32 info");
    CHECK(dc.info.space.kind == UG_SPACE_CONTINUOUS && dc.info.space.dim == 2, "continuous space");

    /* the held-out set depends on heldout_seed only: a different run seed gives the same rows */
    ug_tensor *h1 = NULL, *h2 = NULL, *h3 = NULL;
    CHECK(d1.vt->heldout(d1.self, ctx, 0, 300, &h1) == UG_OK, "heldout");
    CHECK(d2.vt->heldout(d2.self, ctx, 0, 300, &h2) == UG_OK, "heldout");
    CHECK(d1.vt->heldout(d1.self, ctx, 100, 50, &h3) == UG_OK, "heldout offset");
    if (h1 && h2 && h3) {
        CHECK(memcmp(ug_f32(h1), ug_f32(h2), 300 * 32 * sizeof(float)) == 0, "held-out rows differ across run seeds");
        CHECK(memcmp(ug_f32(h1) + 100 * 32, ug_f32(h3), 50 * 32 * sizeof(float)) == 0, "offset rows differ");
    }
    ug_tensor *hx = NULL;
    CHECK(d2.vt->heldout(d2.self, ctx, 250, 51, &hx) == UG_ERR_ARG && hx == NULL, "out-of-range held-out refused");
    ug_ctx_clear_error(ctx);

    /* training batches: fresh, binary, decode onto the checkerboard's dark squares */
    ug_rng rng = ug_rng_make(3, 0);
    ug_tensor *x1 = NULL, *x2 = NULL, *pts = NULL;
    CHECK(d1.vt->train_batch(d1.self, ctx, &rng, 256, 0, &x1) == UG_OK, "train_batch");
    CHECK(d1.vt->train_batch(d1.self, ctx, &rng, 256, 1, &x2) == UG_OK, "train_batch");
    if (x1 && x2) {
        CHECK(x1->ndim == 2 && x1->shape[0] == 256 && x1->shape[1] == 32, "batch shape");
        CHECK(memcmp(ug_f32(x1), ug_f32(x2), 256 * 32 * sizeof(float)) != 0, "batches are not fresh");
        int nonbin = 0;
        for (int i = 0; i < 256 * 32; i++) nonbin += ug_f32(x1)[i] != 0.0f && ug_f32(x1)[i] != 1.0f;
        CHECK(nonbin == 0, "non-binary entries");
        CHECK(d1.vt->decode(d1.self, ctx, x1, &pts) == UG_OK && pts && pts->shape[1] == 2, "decode");
        int off = 0;
        for (int i = 0; pts && i < 256; i++) {
            double x = ug_f32(pts)[2 * i], y = ug_f32(pts)[2 * i + 1];
            /* truncation toward zero moves a point by < 1/int_scale: across an edge only rarely */
            off += (((int)floor(x / 2) + (int)floor(y / 2)) % 2 + 2) % 2 != 0;
        }
        CHECK(off <= 2, "%d decoded points off the board's dark squares", off);
    }
    ug_tensor *t = NULL;
    CHECK(d1.vt->sample_true(d1.self, ctx, &rng, 10, &t) == UG_OK && t && t->shape[0] == 10, "sample_true");
    CHECK(d1.vt->train_batch(d1.self, ctx, &rng, 0, 0, &t) == UG_ERR_ARG, "empty batch refused");
    ug_ctx_clear_error(ctx);
    ug_tensor *wrong = ug_zeros(ctx, 2, (int64_t[]){4, 31});
    CHECK(d1.vt->decode(d1.self, ctx, wrong, &t) == UG_ERR_ARG, "decode of [4, 31] refused");
    ug_ctx_clear_error(ctx);

    /* continuous: raw points, decode is the identity; the same distribution as toy2d_sample */
    ug_tensor *c = NULL, *cd = NULL;
    CHECK(dc.vt->train_batch(dc.self, ctx, &rng, 20000, 0, &c) == UG_OK && c && c->shape[1] == 2, "continuous batch");
    CHECK(dc.vt->decode(dc.self, ctx, c, &cd) == UG_OK && cd && memcmp(ug_f32(cd), ug_f32(c), 40000 * sizeof(float)) == 0,
          "continuous decode is the identity");
    if (c) check_moments("moons (plugin, continuous)", ug_f32(c), 20000, ref_moments(TOY2D_MOONS));
done:
    if (d1.self) ug_registry_find(h.reg, UG_KIND_DATASET, "synthetic2d")->desc->destroy(d1.self);
    if (d2.self) ug_registry_find(h.reg, UG_KIND_DATASET, "synthetic2d")->desc->destroy(d2.self);
    if (dc.self) ug_registry_find(h.reg, UG_KIND_DATASET, "synthetic2d")->desc->destroy(dc.self);
    ug_spec_free(spec);
    ug_spec_free(spec2);
    ug_spec_free(specc);
    ug_ctx_free(ctx);
    harness_close(&h);
}

int main(void) {
    test_gray_property();
    test_gray_layout();
    test_gray_roundtrip();
    test_gray_clipping();
    test_generators();
    test_plugin();
    return CHECK_DONE();
}
