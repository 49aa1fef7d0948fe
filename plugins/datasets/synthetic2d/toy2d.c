/* toy2d.c — generators of the seven 2-D distributions (REPRODUCTION.md §1, after ffjord's
 * inf_train_gen that EB-GFN uses), drawing every random number from a Philox stream.
 *
 * The structured sets (circles, moons, pinwheel, 2spirals) are built in blocks as the reference does
 * (evenly spaced angles, equal points per arm, paired spiral arms) and their rows are then shuffled,
 * so any prefix of a batch or of the held-out set is a fair sample. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "toy2d.h"

#define PI 3.14159265358979323846

static const char *const names[TOY2D_COUNT] = {"2spirals", "8gaussians", "circles", "moons",
                                               "pinwheel", "swissroll", "checkerboard"};
/* f_scale = max|coordinate| over 5000 samples + 1, int_scale = 2^15 / (f_scale + 1): EB-GFN's values */
static const double int_scales[TOY2D_COUNT] = {5978.4863, 5289.6178, 5668.6374, 5779.7561,
                                               5510.8766, 6222.6325, 5461.8654};

int toy2d_from_name(const char *name) {
    if (!name) return -1;
    for (int k = 0; k < TOY2D_COUNT; k++)
        if (strcmp(name, names[k]) == 0) return k;
    return -1;
}

const char *toy2d_name(int kind) { return kind >= 0 && kind < TOY2D_COUNT ? names[kind] : "?"; }

double toy2d_int_scale(int kind) { return kind >= 0 && kind < TOY2D_COUNT ? int_scales[kind] : 0.0; }

/* Fisher–Yates over the rows of [n, 2]. */
static void shuffle_rows(ug_rng *rng, int64_t n, float *p) {
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = ug_rng_randint(rng, i + 1);
        float x = p[2 * i], y = p[2 * i + 1];
        p[2 * i] = p[2 * j], p[2 * i + 1] = p[2 * j + 1];
        p[2 * j] = x, p[2 * j + 1] = y;
    }
}

static void add_noise(ug_rng *rng, int64_t n, float *p, double sd) {
    float z[2];
    for (int64_t i = 0; i < n; i++) {
        ug_rng_normal(rng, z, 2);
        p[2 * i] = (float)(p[2 * i] + sd * z[0]);
        p[2 * i + 1] = (float)(p[2 * i + 1] + sd * z[1]);
    }
}

/* s = sqrt(u)·3π (540°); arm 1 = (−s cos s + u′/2, s sin s + u″/2), arm 2 = its negation; /3, +N(0, .1²). */
static void two_spirals(ug_rng *rng, int64_t n, float *p) {
    float u[3];
    for (int64_t i = 0; i < n; i += 2) {
        ug_rng_uniform(rng, u, 3);
        double s = sqrt((double)u[0]) * 3.0 * PI;
        double x = (-cos(s) * s + 0.5 * u[1]) / 3.0, y = (sin(s) * s + 0.5 * u[2]) / 3.0;
        if (i + 1 < n) {
            p[2 * i] = (float)x, p[2 * i + 1] = (float)y;
            p[2 * i + 2] = (float)-x, p[2 * i + 3] = (float)-y;
        } else {   /* odd n: the last point takes a random arm */
            double sg = ug_rng_randint(rng, 2) ? -1.0 : 1.0;
            p[2 * i] = (float)(sg * x), p[2 * i + 1] = (float)(sg * y);
        }
    }
    shuffle_rows(rng, n, p);
    add_noise(rng, n, p, 0.1);
}

/* centre (one of 8, 4 units out) + N(0, .5²), all divided by 1.414 */
static void eight_gaussians(ug_rng *rng, int64_t n, float *p) {
    const double r = 4.0, d = 4.0 / sqrt(2.0);
    const double cx[8] = {r, -r, 0, 0, d, d, -d, -d}, cy[8] = {0, 0, r, -r, d, -d, d, -d};
    float z[2];
    for (int64_t i = 0; i < n; i++) {
        ug_rng_normal(rng, z, 2);
        int64_t c = ug_rng_randint(rng, 8);
        p[2 * i] = (float)((0.5 * z[0] + cx[c]) / 1.414);
        p[2 * i + 1] = (float)((0.5 * z[1] + cy[c]) / 1.414);
    }
}

/* sklearn make_circles(factor .5, noise .08) ×3: n/2 (rounded down) evenly spaced angles on the
 * unit circle without the duplicate endpoint, the rest on radius .5; shuffled, then noise. */
static void circles(ug_rng *rng, int64_t n, float *p) {
    int64_t n_out = n / 2, n_in = n - n_out;
    for (int64_t i = 0; i < n_out; i++) {
        double a = 2.0 * PI * (double)i / (double)n_out;
        p[2 * i] = (float)cos(a), p[2 * i + 1] = (float)sin(a);
    }
    for (int64_t i = 0; i < n_in; i++) {
        double a = 2.0 * PI * (double)i / (double)n_in;
        p[2 * (n_out + i)] = (float)(0.5 * cos(a)), p[2 * (n_out + i) + 1] = (float)(0.5 * sin(a));
    }
    shuffle_rows(rng, n, p);
    add_noise(rng, n, p, 0.08);
    for (int64_t i = 0; i < 2 * n; i++) p[i] *= 3.0f;
}

/* a = linspace(0, π, k) including both ends (a single point sits at 0) */
static double linspace_pi(int64_t i, int64_t k) { return k > 1 ? PI * (double)i / (double)(k - 1) : 0.0; }

/* sklearn make_moons(noise .1) ×2 − (1, .2): outer (cos a, sin a) for n/2 points, inner
 * (1 − cos a, 1 − sin a − .5) for the rest; shuffled, then noise, then scaled and shifted. */
static void moons(ug_rng *rng, int64_t n, float *p) {
    int64_t n_out = n / 2, n_in = n - n_out;
    for (int64_t i = 0; i < n_out; i++) {
        double a = linspace_pi(i, n_out);
        p[2 * i] = (float)cos(a), p[2 * i + 1] = (float)sin(a);
    }
    for (int64_t i = 0; i < n_in; i++) {
        double a = linspace_pi(i, n_in);
        p[2 * (n_out + i)] = (float)(1.0 - cos(a)), p[2 * (n_out + i) + 1] = (float)(1.0 - sin(a) - 0.5);
    }
    shuffle_rows(rng, n, p);
    add_noise(rng, n, p, 0.1);
    for (int64_t i = 0; i < n; i++) {
        p[2 * i] = (float)(2.0 * p[2 * i] - 1.0);
        p[2 * i + 1] = (float)(2.0 * p[2 * i + 1] - 0.2);
    }
}

/* 5 arms with equal counts: the reference makes batch//5 points per arm and shuffles. To return
 * exactly n rows we deal ceil(n/5) labels per arm, shuffle the labels and keep the first n. */
static int pinwheel(ug_rng *rng, int64_t n, float *p) {
    const int arms = 5;
    int64_t per = (n + arms - 1) / arms, total = per * arms;
    unsigned char *label = malloc((size_t)(total > 0 ? total : 1));
    if (!label) return -1;
    for (int64_t i = 0; i < total; i++) label[i] = (unsigned char)(i / per);
    for (int64_t i = total - 1; i > 0; i--) {
        int64_t j = ug_rng_randint(rng, i + 1);
        unsigned char t = label[i];
        label[i] = label[j], label[j] = t;
    }
    float z[2];
    for (int64_t i = 0; i < n; i++) {
        ug_rng_normal(rng, z, 2);
        double f0 = 1.0 + 0.3 * z[0], f1 = 0.1 * z[1];
        double th = 2.0 * PI * label[i] / arms + 0.25 * exp(f0);
        double c = cos(th), s = sin(th);
        p[2 * i] = (float)(2.0 * (f0 * c + f1 * s));
        p[2 * i + 1] = (float)(2.0 * (-f0 * s + f1 * c));
    }
    free(label);
    return 0;
}

/* sklearn make_swiss_roll(noise 1) columns (0, 2), /5: t = 1.5π(1 + 2u), (t cos t, t sin t) + N(0, 1) */
static void swissroll(ug_rng *rng, int64_t n, float *p) {
    float u, z[2];
    for (int64_t i = 0; i < n; i++) {
        ug_rng_uniform(rng, &u, 1);
        ug_rng_normal(rng, z, 2);
        double t = 1.5 * PI * (1.0 + 2.0 * u);
        p[2 * i] = (float)((t * cos(t) + z[0]) / 5.0);
        p[2 * i + 1] = (float)((t * sin(t) + z[1]) / 5.0);
    }
}

/* x1 = 4u − 2, x2 = u′ − 2·{0,1} + (⌊x1⌋ mod 2), times 2: uniform on the 8 dark squares of a 4×4 board */
static void checkerboard(ug_rng *rng, int64_t n, float *p) {
    float u[2];
    for (int64_t i = 0; i < n; i++) {
        ug_rng_uniform(rng, u, 2);
        double x1 = 4.0 * u[0] - 2.0;
        int64_t fl = (int64_t)floor(x1);
        double parity = (double)(((fl % 2) + 2) % 2);   /* Python's floor mod: never negative */
        double x2 = u[1] - 2.0 * (double)ug_rng_randint(rng, 2) + parity;
        p[2 * i] = (float)(2.0 * x1);
        p[2 * i + 1] = (float)(2.0 * x2);
    }
}

int toy2d_sample(int kind, ug_rng *rng, int64_t n, float *out) {
    if (n < 0 || !rng || (n > 0 && !out)) return -1;
    switch (kind) {
    case TOY2D_2SPIRALS: two_spirals(rng, n, out); return 0;
    case TOY2D_8GAUSSIANS: eight_gaussians(rng, n, out); return 0;
    case TOY2D_CIRCLES: circles(rng, n, out); return 0;
    case TOY2D_MOONS: moons(rng, n, out); return 0;
    case TOY2D_PINWHEEL: return pinwheel(rng, n, out);
    case TOY2D_SWISSROLL: swissroll(rng, n, out); return 0;
    case TOY2D_CHECKERBOARD: checkerboard(rng, n, out); return 0;
    default: return -1;
    }
}
