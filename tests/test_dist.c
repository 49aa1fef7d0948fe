/* test_dist.c — the distributions of dist.h: log-probabilities against double-precision formulas,
 * gradients against central finite differences (first order, and second order through ug_grad with
 * create_graph for the normal), samplers by their moments, the reparameterized normal's pathwise
 * gradient, masked categoricals, and the discretized Gaussian's bins summing to one. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "unigfn/dist.h"

static ug_ctx *CTX;

static ug_tensor *vec(const float *v, int64_t b, int64_t d) {
    int64_t s[2] = {b, d};
    return ug_from_f32(CTX, v, 2, s);
}

static double normal_ref(double x, double m, double ls) {
    double z = (x - m) / exp(ls);
    return -0.5 * z * z - ls - 0.5 * log(2 * M_PI);
}
static double logistic_ref(double x, double m, double ls) {
    double z = (x - m) / exp(ls);
    return -z - ls - 2 * log1p(exp(-z));
}
static double cdf_tanh(double z) { return 0.5 * (1 + tanh(sqrt(2 / M_PI) * (z + 0.044715 * z * z * z))); }

static void test_values(void) {
    const float x[6] = {0.3f, -1.2f, 2.0f, 0.0f, 0.5f, -0.7f}, m[6] = {0.1f, -1.0f, 1.0f, 0.2f, -0.3f, -0.7f},
                ls[6] = {-0.5f, 0.2f, 0.0f, 0.4f, -1.0f, 0.3f};
    ug_tensor *X = vec(x, 2, 3), *M = vec(m, 2, 3), *L = vec(ls, 2, 3);
    ug_tensor *n = ug_normal_log_prob(CTX, X, M, L), *lg = ug_logistic_log_prob(CTX, X, M, L);  // [2]
    ug_tensor *be = ug_bernoulli_log_prob(CTX, M, ug_from_f32(CTX, (float[]){1, 0, 1, 0, 0, 1}, 2, (int64_t[]){2, 3}));
    CHECK(n && lg && be && n->ndim == 1 && n->shape[0] == 2, "shapes: %s", ug_ctx_errmsg(CTX));
    for (int b = 0; n && lg && be && b < 2; b++) {
        double rn = 0, rl = 0, rb = 0;
        const int bits[6] = {1, 0, 1, 0, 0, 1};
        for (int j = 0; j < 3; j++) {
            int i = b * 3 + j;
            rn += normal_ref(x[i], m[i], ls[i]);
            rl += logistic_ref(x[i], m[i], ls[i]);
            double p = 1 / (1 + exp(-m[i]));
            rb += bits[i] ? log(p) : log(1 - p);
        }
        CHECK_CLOSE(ug_f32(n)[b], rn, 1e-5, 1e-5);
        CHECK_CLOSE(ug_f32(lg)[b], rl, 1e-5, 1e-5);
        CHECK_CLOSE(ug_f32(be)[b], rb, 1e-5, 1e-5);
    }
    /* broadcasting: a scalar log_std against [2, 3] */
    ug_tensor *n2 = ug_normal_log_prob(CTX, X, M, ug_scalar(CTX, 0.0f));
    double r0 = 0;
    for (int j = 0; j < 3; j++) r0 += normal_ref(x[j], m[j], 0.0);
    CHECK(n2 && fabs(ug_f32(n2)[0] - r0) < 1e-5, "broadcast log_std");
    ug_step_reset(CTX);
}

/* d/d(mean, log_std) of sum_b log N(x_b) against central differences; the second derivative in mean
 * (-1/s^2 per element) through a gradient of the gradient. */
static void test_grads(void) {
    float x[4] = {0.3f, -1.0f, 0.8f, 2.0f}, m[4] = {0.1f, -0.4f, 1.1f, 1.5f}, ls[4] = {-0.3f, 0.2f, 0.0f, 0.5f};
    ug_tensor *M = ug_requires_grad(CTX, vec(m, 2, 2)), *L = ug_requires_grad(CTX, vec(ls, 2, 2));
    ug_tensor *xs[2] = {M, L}, *g[2] = {0};
    ug_tensor *out = ug_sum_all(CTX, ug_normal_log_prob(CTX, vec(x, 2, 2), M, L));
    CHECK(ug_grad(CTX, out, xs, 2, g, true) == UG_OK, "grad: %s", ug_ctx_errmsg(CTX));
    for (int i = 0; i < 4; i++) {
        double s = exp(ls[i]), dm = (x[i] - m[i]) / (s * s), dl = (x[i] - m[i]) * (x[i] - m[i]) / (s * s) - 1;
        CHECK_CLOSE(ug_f32(ug_contiguous(CTX, g[0]))[i], dm, 1e-4, 1e-5);
        CHECK_CLOSE(ug_f32(ug_contiguous(CTX, g[1]))[i], dl, 1e-4, 1e-5);
    }
    ug_tensor *g2[1] = {0};
    CHECK(ug_grad(CTX, ug_sum_all(CTX, g[0]), xs, 1, g2, false) == UG_OK, "second order: %s", ug_ctx_errmsg(CTX));
    for (int i = 0; i < 4; i++) CHECK_CLOSE(ug_f32(ug_contiguous(CTX, g2[0]))[i], -exp(-2 * ls[i]), 1e-4, 1e-5);
    ug_step_reset(CTX);

    /* discretized Gaussian and logistic: finite differences in the mean (float32, h = 1e-2) */
    const float xg[4] = {-1.0f, -0.2f, 0.6f, 1.0f};
    for (int kind = 0; kind < 2; kind++) {
        ug_tensor *Mg = ug_requires_grad(CTX, vec(m, 1, 4)), *gm[1] = {0};
        ug_tensor *Ls = vec(ls, 1, 4);
        ug_tensor *o = kind ? ug_logistic_log_prob(CTX, vec(xg, 1, 4), Mg, Ls)
                            : ug_discretized_gaussian_log_prob(CTX, vec(xg, 1, 4), Mg, Ls, 16);
        CHECK(ug_grad(CTX, ug_sum_all(CTX, o), &Mg, 1, gm, false) == UG_OK, "grad: %s", ug_ctx_errmsg(CTX));
        for (int i = 0; i < 4; i++) {
            float mp[4], mm[4];
            memcpy(mp, m, sizeof mp);
            memcpy(mm, m, sizeof mm);
            mp[i] += 1e-2f;
            mm[i] -= 1e-2f;
            ug_tensor *op = kind ? ug_logistic_log_prob(CTX, vec(xg, 1, 4), vec(mp, 1, 4), Ls)
                                 : ug_discretized_gaussian_log_prob(CTX, vec(xg, 1, 4), vec(mp, 1, 4), Ls, 16);
            ug_tensor *om = kind ? ug_logistic_log_prob(CTX, vec(xg, 1, 4), vec(mm, 1, 4), Ls)
                                 : ug_discretized_gaussian_log_prob(CTX, vec(xg, 1, 4), vec(mm, 1, 4), Ls, 16);
            double fd = ((double)ug_item(op) - (double)ug_item(om)) / 2e-2;
            CHECK_CLOSE(ug_f32(ug_contiguous(CTX, gm[0]))[i], fd, 2e-2, 2e-3);
        }
        ug_step_reset(CTX);
    }
}

static void test_discretized(void) {
    /* every level of a 16-level grid for one (mean, scale): the probabilities telescope to 1 */
    enum { K = 16 };
    float grid[K];
    for (int i = 0; i < K; i++) grid[i] = -1.0f + 2.0f * (float)i / (K - 1);
    int64_t s[2] = {K, 1};
    ug_tensor *X = ug_from_f32(CTX, grid, 2, s);
    ug_tensor *lp = ug_discretized_gaussian_log_prob(CTX, X, ug_scalar(CTX, 0.13f), ug_scalar(CTX, -1.2f), K);  // [K]
    double tot = 0, ref5 = 0;
    for (int i = 0; lp && i < K; i++) tot += exp(ug_f32(lp)[i]);
    CHECK_CLOSE(tot, 1.0, 1e-4, 0);
    /* an interior level against the formula */
    double inv = exp(1.2), h = 1.0 / (K - 1), c = grid[5] - 0.13;
    ref5 = log(cdf_tanh(inv * (c + h)) - cdf_tanh(inv * (c - h)));
    CHECK(lp && fabs(ug_f32(lp)[5] - ref5) < 1e-4, "level 5: %g vs %g", lp ? ug_f32(lp)[5] : 0, ref5);
    /* edges go to infinity: level 0 is log Phi((-1 + h - mean)/s) */
    double ref0 = log(cdf_tanh(inv * (grid[0] - 0.13 + h)));
    CHECK(lp && fabs(ug_f32(lp)[0] - ref0) < 1e-4, "edge level: %g vs %g", lp ? ug_f32(lp)[0] : 0, ref0);
    CHECK(ug_discretized_gaussian_log_prob(CTX, X, X, X, 1) == NULL && strstr(ug_ctx_errmsg(CTX), "bins = 1"),
          "bins < 2 refused: %s", ug_ctx_errmsg(CTX));
    ug_ctx_clear_error(CTX);
    ug_step_reset(CTX);
}

static void test_categorical(void) {
    const float lg[6] = {0.5f, -1.0f, 2.0f, 0.0f, 0.0f, 1.0f}, mk[6] = {1, 1, 0, 1, 0, 1};
    int64_t s[2] = {2, 3}, s1[1] = {2};
    ug_tensor *idx = ug_new(CTX, UG_I32, 1, s1);
    ug_i32(idx)[0] = 1;
    ug_i32(idx)[1] = 2;
    ug_tensor *lp = ug_categorical_log_prob(CTX, ug_from_f32(CTX, lg, 2, s), ug_from_f32(CTX, mk, 2, s), idx);
    double r0 = -1.0 - log(exp(0.5) + exp(-1.0)), r1 = 1.0 - log(exp(0.0) + exp(1.0));
    CHECK(lp && fabs(ug_f32(lp)[0] - r0) < 1e-5 && fabs(ug_f32(lp)[1] - r1) < 1e-5, "masked log-softmax: %s",
          ug_ctx_errmsg(CTX));
    ug_i32(idx)[0] = 2;  // a masked-out entry is impossible
    lp = ug_categorical_log_prob(CTX, ug_from_f32(CTX, lg, 2, s), ug_from_f32(CTX, mk, 2, s), idx);
    CHECK(lp && isinf(ug_f32(lp)[0]) && ug_f32(lp)[0] < 0, "masked entry has log-prob -inf");
    CHECK(ug_categorical_log_prob(CTX, ug_from_f32(CTX, lg, 2, s), NULL, ug_from_f32(CTX, lg, 1, s1)) == NULL &&
              strstr(ug_ctx_errmsg(CTX), "int32"),
          "float idx refused: %s", ug_ctx_errmsg(CTX));
    ug_ctx_clear_error(CTX);
    ug_step_reset(CTX);
}

static void test_samplers(void) {
    enum { N = 20000 };
    ug_rng rng = ug_rng_make(11, 0);
    int64_t s[2] = {N, 1};
    ug_tensor *M = ug_requires_grad(CTX, ug_full(CTX, 2, s, 1.5f)), *L = ug_full(CTX, 2, s, logf(0.5f));
    ug_tensor *x = ug_normal_sample(CTX, &rng, M, L, true);
    double mu = 0, var = 0;
    for (int i = 0; x && i < N; i++) mu += ug_f32(x)[i] / N;
    for (int i = 0; x && i < N; i++) var += (ug_f32(x)[i] - mu) * (ug_f32(x)[i] - mu) / (N - 1);
    CHECK(fabs(mu - 1.5) < 5 * 0.5 / sqrt(N) && fabs(var - 0.25) < 0.02, "normal sample: mean %g var %g", mu, var);
    ug_tensor *g[1] = {0};
    CHECK(ug_grad(CTX, ug_sum_all(CTX, x), &M, 1, g, false) == UG_OK && fabs(ug_f32(g[0])[0] - 1.0) < 1e-6,
          "pathwise gradient d sample / d mean = 1");
    ug_tensor *xd = ug_normal_sample(CTX, &rng, M, L, false);
    CHECK(xd && !xd->requires_grad, "a non-reparameterized sample is a constant");
    ug_tensor *b = ug_bernoulli_sample(CTX, &rng, ug_full(CTX, 2, s, logf(0.3f / 0.7f)));
    double f = 0;
    for (int i = 0; b && i < N; i++) f += ug_f32(b)[i] / N;
    CHECK(fabs(f - 0.3) < 5 * sqrt(0.21 / N), "bernoulli frequency %g", f);
    ug_step_reset(CTX);
}

int main(void) {
    CTX = ug_ctx_new(16 << 20);
    test_values();
    test_grads();
    test_discretized();
    test_categorical();
    test_samplers();
    ug_ctx_free(CTX);
    return CHECK_DONE();
}
