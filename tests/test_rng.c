/* test_rng.c — Philox known answers, stream independence, moments of the raw samplers, and
 * chi-square / frequency checks of the tensor samplers (categorical with masks, Bernoulli). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "unigfn/rng.h"

#define N_DRAWS 1000000

/* Chi-square critical values at p = 1e-4 (the seeds are fixed, so this only guards against bugs). */
static double chi2_crit_1e4(int df) {
    static const double t[] = {0, 15.14, 18.42, 21.11, 23.51, 25.74, 27.86, 29.88};
    return df < 8 ? t[df] : 40.0;
}

static void test_known_answers(void) {
    uint32_t out[4];
    const uint32_t c0[4] = {0, 0, 0, 0}, k0[2] = {0, 0};
    ug_philox4x32_10(c0, k0, out);
    CHECK(out[0] == 0x6627e8d5u && out[1] == 0xe169c58du && out[2] == 0xbc57ac4cu &&
              out[3] == 0x9b00dbd8u,
          "zero vector: %08x %08x %08x %08x", out[0], out[1], out[2], out[3]);
    const uint32_t c1[4] = {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu};
    const uint32_t k1[2] = {0xffffffffu, 0xffffffffu};
    ug_philox4x32_10(c1, k1, out);
    CHECK(out[0] == 0x408f276du && out[1] == 0x41c83b0eu && out[2] == 0xa20bc7c6u &&
              out[3] == 0x6d5451fdu,
          "ones vector: %08x %08x %08x %08x", out[0], out[1], out[2], out[3]);
    /* The generator's first block is the bijection at counter (pos=0, stream) under key seed. */
    ug_rng r = ug_rng_make(0, 0);
    ug_rng_u32x4(&r, out);
    CHECK(out[0] == 0x6627e8d5u && r.pos == 1, "rng block 0 = %08x, pos %llu", out[0],
          (unsigned long long)r.pos);
    ug_rng r1 = ug_rng_make(0xffffffffffffffffull, 0xffffffffffffffffull);
    r1.pos = 0xffffffffffffffffull;
    ug_rng_u32x4(&r1, out);
    CHECK(out[0] == 0x408f276du && out[3] == 0x6d5451fdu, "all-ones state = %08x", out[0]);
}

static void test_streams(void) {
    enum { N = 1000 };
    static float a[N], b[N], c[N], d[N];
    ug_rng r1 = ug_rng_make(42, 7), r2 = ug_rng_make(42, 7), r3 = ug_rng_make(42, 8),
           r4 = ug_rng_make(43, 7);
    ug_rng_uniform(&r1, a, N);
    ug_rng_uniform(&r2, b, N);
    ug_rng_uniform(&r3, c, N);
    ug_rng_uniform(&r4, d, N);
    CHECK(memcmp(a, b, sizeof a) == 0, "same (seed, stream) gives the same numbers");
    int same_c = 0, same_d = 0;
    for (int i = 0; i < N; i++) {
        same_c += a[i] == c[i];
        same_d += a[i] == d[i];
    }
    CHECK(same_c < 5, "different streams agree at %d of %d places", same_c, N);
    CHECK(same_d < 5, "different seeds agree at %d of %d places", same_d, N);
    CHECK(r1.pos == (N + 3) / 4, "pos advanced by ceil(n/4): %llu", (unsigned long long)r1.pos);
    /* Calls in multiples of 4 concatenate into the same sequence as one call. */
    ug_rng r5 = ug_rng_make(42, 7);
    ug_rng_uniform(&r5, c, 400);
    ug_rng_uniform(&r5, c + 400, N - 400);
    CHECK(memcmp(a, c, sizeof a) == 0, "split calls reproduce one call");
}

static void test_uniform_moments(void) {
    float *x = malloc(N_DRAWS * sizeof *x);
    ug_rng r = ug_rng_make(1234, 0);
    ug_rng_uniform(&r, x, N_DRAWS);
    double s = 0, s2 = 0;
    float lo = 1, hi = 0;
    for (int i = 0; i < N_DRAWS; i++) {
        s += x[i];
        lo = x[i] < lo ? x[i] : lo;
        hi = x[i] > hi ? x[i] : hi;
    }
    double mean = s / N_DRAWS;
    for (int i = 0; i < N_DRAWS; i++) s2 += (x[i] - mean) * (x[i] - mean);
    double var = s2 / (N_DRAWS - 1);
    CHECK(lo >= 0.0f && hi < 1.0f, "uniform range [%g, %g]", lo, hi);
    CHECK(fabs(mean - 0.5) < 4 * sqrt(1.0 / 12 / N_DRAWS), "uniform mean %.6f", mean);
    CHECK(fabs(var - 1.0 / 12) < 4 * sqrt(1.0 / 180 / N_DRAWS), "uniform var %.6f", var);
    /* The grid: every value times 2^24 is an integer. */
    int on_grid = 1;
    for (int i = 0; i < 1000; i++) on_grid &= (x[i] * 16777216.0f) == floorf(x[i] * 16777216.0f);
    CHECK(on_grid, "uniform values lie on the 2^-24 grid");
    free(x);

    double f = 0;
    int f_ok = 1;
    for (int i = 0; i < 10000; i++) {
        double u = ug_rng_uniform_f64(&r);
        f_ok &= u >= 0.0 && u < 1.0;
        f += u;
    }
    CHECK(f_ok && fabs(f / 10000 - 0.5) < 4 * sqrt(1.0 / 12 / 10000), "uniform_f64 mean %g",
          f / 10000);
}

static void test_normal_moments(void) {
    float *x = malloc(N_DRAWS * sizeof *x);
    ug_rng r = ug_rng_make(99, 3);
    ug_rng_normal(&r, x, N_DRAWS);
    double s = 0, s2 = 0;
    int finite = 1;
    for (int i = 0; i < N_DRAWS; i++) {
        s += x[i];
        finite &= isfinite(x[i]);
    }
    double mean = s / N_DRAWS;
    for (int i = 0; i < N_DRAWS; i++) s2 += (x[i] - mean) * (x[i] - mean);
    double var = s2 / (N_DRAWS - 1);
    CHECK(finite, "normal draws are finite");
    CHECK(fabs(mean) < 4 / sqrt(N_DRAWS), "normal mean %.6f", mean);
    CHECK(fabs(var - 1) < 4 * sqrt(2.0 / N_DRAWS), "normal var %.6f", var);
    /* An odd count fills exactly n values. */
    float tail[7];
    tail[6] = 12345.0f;
    ug_rng_normal(&r, tail, 6);
    CHECK(tail[6] == 12345.0f, "normal writes only n values");
    free(x);
}

static void test_randint(void) {
    enum { K = 7, N = 700000 };
    long cnt[K] = {0};
    ug_rng r = ug_rng_make(5, 5);
    int in_range = 1;
    for (int i = 0; i < N; i++) {
        int64_t v = ug_rng_randint(&r, K);
        in_range &= v >= 0 && v < K;
        if (v >= 0 && v < K) cnt[v]++;
    }
    double chi2 = 0, e = (double)N / K;
    for (int k = 0; k < K; k++) chi2 += (cnt[k] - e) * (cnt[k] - e) / e;
    CHECK(in_range, "randint in [0, %d)", K);
    CHECK(chi2 < chi2_crit_1e4(K - 1), "randint chi2 %.2f", chi2);
    CHECK(ug_rng_randint(&r, 0) == -1 && ug_rng_randint(&r, -3) == -1, "randint(n<=0) = -1");
    CHECK(ug_rng_randint(&r, 1) == 0, "randint(1) = 0");
}

/* Draw B samples from one row of logits repeated B times and compare counts with softmax. */
static void categorical_chi2(ug_ctx *ctx, const float *logit_row, const float *mask_row, int K,
                             const char *what) {
    enum { B = 200000 };
    float *L = malloc((size_t)B * K * sizeof *L), *M = malloc((size_t)B * K * sizeof *M);
    for (int b = 0; b < B; b++) {
        memcpy(L + (size_t)b * K, logit_row, K * sizeof *L);
        for (int k = 0; k < K; k++) M[(size_t)b * K + k] = mask_row ? mask_row[k] : 1.0f;
    }
    int64_t shape[2] = {B, K};
    ug_tensor *lt = ug_from_f32(ctx, L, 2, shape);  // [B, K]
    ug_tensor *mt = mask_row ? ug_from_f32(ctx, M, 2, shape) : NULL;  // [B, K]
    ug_rng r = ug_rng_make(2024, 1);
    ug_tensor *idx = ug_sample_categorical(ctx, &r, lt, mt);  // [B] I32
    CHECK(idx != NULL, "%s: sample failed: %s", what, ug_ctx_errmsg(ctx));
    if (!idx) goto done;
    CHECK(idx->dtype == UG_I32 && idx->ndim == 1 && idx->shape[0] == B, "%s: output [B] I32", what);
    CHECK(r.pos == B, "%s: one block per row (pos %llu)", what, (unsigned long long)r.pos);
    double p[16], z = 0, mx = -INFINITY;
    for (int k = 0; k < K; k++)
        if ((!mask_row || mask_row[k] != 0) && logit_row[k] > mx) mx = logit_row[k];
    for (int k = 0; k < K; k++) {
        p[k] = (!mask_row || mask_row[k] != 0) ? exp(logit_row[k] - mx) : 0.0;
        z += p[k];
    }
    long cnt[16] = {0};
    const int32_t *o = ug_i32(idx);
    int in_range = 1;
    for (int b = 0; b < B; b++) {
        in_range &= o[b] >= 0 && o[b] < K;
        if (o[b] >= 0 && o[b] < K) cnt[o[b]]++;
    }
    CHECK(in_range, "%s: indices in range", what);
    double chi2 = 0;
    int df = -1;
    for (int k = 0; k < K; k++) {
        double e = B * p[k] / z;
        if (e == 0) {
            CHECK(cnt[k] == 0, "%s: zero-probability entry %d drawn %ld times", what, k, cnt[k]);
            continue;
        }
        chi2 += (cnt[k] - e) * (cnt[k] - e) / e;
        df++;
    }
    CHECK(chi2 < chi2_crit_1e4(df), "%s: chi2 %.2f with %d dof", what, chi2, df);
done:
    free(L);
    free(M);
}

static void test_categorical(void) {
    ug_ctx *ctx = ug_ctx_new(1 << 20);
    const float l5[5] = {0.3f, -1.0f, 2.0f, 0.0f, 1.1f};
    categorical_chi2(ctx, l5, NULL, 5, "no mask");
    const float l6[6] = {1.0f, 5.0f, 0.5f, -0.5f, 8.0f, 0.0f};
    const float m6[6] = {1, 0, 1, 1, 0, 1};  // the two largest logits are masked out
    categorical_chi2(ctx, l6, m6, 6, "mask");
    const float l4[4] = {0.0f, -INFINITY, 1.0f, -2.0f};
    categorical_chi2(ctx, l4, NULL, 4, "-inf logit");
    ug_step_reset(ctx);

    /* A row with every entry masked is refused, and the message names the row. */
    float L[6] = {0, 1, 2, 3, 4, 5}, M[6] = {1, 1, 1, 0, 0, 0};
    int64_t shape[2] = {2, 3};
    ug_tensor *lt = ug_from_f32(ctx, L, 2, shape), *mt = ug_from_f32(ctx, M, 2, shape);
    ug_rng r = ug_rng_make(1, 1);
    ug_tensor *bad = ug_sample_categorical(ctx, &r, lt, mt);
    CHECK(bad == NULL && ug_ctx_status(ctx) == UG_ERR_ARG, "all-masked row refused");
    CHECK(strstr(ug_ctx_errmsg(ctx), "row 1") != NULL, "message names the row: %s",
          ug_ctx_errmsg(ctx));
    CHECK(r.pos == 0, "a failed draw consumes nothing");
    ug_ctx_clear_error(ctx);
    L[1] = NAN;
    lt = ug_from_f32(ctx, L, 2, shape);
    bad = ug_sample_categorical(ctx, &r, lt, NULL);
    CHECK(bad == NULL && strstr(ug_ctx_errmsg(ctx), "row 0") != NULL, "NaN logit refused: %s",
          ug_ctx_errmsg(ctx));
    ug_ctx_clear_error(ctx);
    int64_t s1[1] = {3};
    bad = ug_sample_categorical(ctx, &r, ug_from_f32(ctx, L, 1, s1), NULL);
    CHECK(bad == NULL && ug_ctx_status(ctx) == UG_ERR_ARG, "1-D logits refused");
    ug_ctx_clear_error(ctx);

    /* One mask row broadcast over the batch (stride 0), and transposed (strided) logits. */
    float lt_[12] = {0, 3, 1, 2, 1, 0, 5, 4, 2, 1, 0, 3}, m1[4] = {1, 0, 1, 1};
    int64_t s34[2] = {3, 4}, s14[2] = {1, 4}, s43[2] = {4, 3};
    ug_tensor *lT = ug_transpose(ctx, ug_from_f32(ctx, lt_, 2, s43), 0, 1);  // [3, 4] view
    ug_tensor *mB = ug_expand(ctx, ug_from_f32(ctx, m1, 2, s14), 2, s34);    // [3, 4], stride 0
    CHECK(lT && mB && !ug_is_contiguous(lT) && mB->stride[0] == 0, "strided inputs built: %s",
          ug_ctx_errmsg(ctx));
    int never_masked = 1;
    for (int rep = 0; rep < 200 && lT && mB; rep++) {
        ug_tensor *ix = ug_sample_categorical(ctx, &r, lT, mB);  // [3]
        for (int b = 0; ix && b < 3; b++) never_masked &= ug_i32(ix)[b] != 1;
    }
    CHECK(never_masked && ug_ctx_status(ctx) == UG_OK, "broadcast mask respected: %s",
          ug_ctx_errmsg(ctx));
    /* Strided logits with a one-hot-like row: row b of lT is column b of lt_, so argmax is known. */
    float big[12];
    for (int i = 0; i < 12; i++) big[i] = -1e4f;
    big[1 * 3 + 0] = 0;  // lT[0][1]
    big[3 * 3 + 1] = 0;  // lT[1][3]
    big[0 * 3 + 2] = 0;  // lT[2][0]
    ug_tensor *bT = ug_transpose(ctx, ug_from_f32(ctx, big, 2, s43), 0, 1);  // [3, 4]
    ug_tensor *ix = ug_sample_categorical(ctx, &r, bT, NULL);                 // [3]
    CHECK(ix && ug_i32(ix)[0] == 1 && ug_i32(ix)[1] == 3 && ug_i32(ix)[2] == 0,
          "strided logits read correctly");
    /* An empty batch is fine. */
    int64_t s0k[2] = {0, 4};
    ug_tensor *e = ug_sample_categorical(ctx, &r, ug_zeros(ctx, 2, s0k), NULL);
    CHECK(e && e->shape[0] == 0 && ug_ctx_status(ctx) == UG_OK, "empty batch: %s", ug_ctx_errmsg(ctx));
    ug_ctx_clear_error(ctx);
    ug_ctx_free(ctx);
}

static void test_bernoulli_and_tensors(void) {
    ug_ctx *ctx = ug_ctx_new(1 << 20);
    enum { N = 300000 };
    float *p = malloc(N * sizeof *p);
    for (int i = 0; i < N; i++) p[i] = i % 3 == 0 ? 0.3f : (i % 3 == 1 ? 0.0f : 1.0f);
    int64_t shape[1] = {N};
    ug_tensor *pt = ug_from_f32(ctx, p, 1, shape);  // [N]
    ug_rng r = ug_rng_make(7, 0);
    ug_tensor *x = ug_rand_bernoulli(ctx, &r, pt);  // [N] 0/1
    CHECK(x && x->shape[0] == N, "bernoulli output [N]: %s", ug_ctx_errmsg(ctx));
    if (x) {
        const float *xv = ug_f32(x);
        long ones = 0, n03 = 0, bad0 = 0, bad1 = 0, nonbin = 0;
        for (int i = 0; i < N; i++) {
            nonbin += xv[i] != 0.0f && xv[i] != 1.0f;
            if (i % 3 == 0) { ones += xv[i] == 1.0f; n03++; }
            if (i % 3 == 1) bad0 += xv[i] != 0.0f;
            if (i % 3 == 2) bad1 += xv[i] != 1.0f;
        }
        double f = (double)ones / n03;
        CHECK(nonbin == 0, "bernoulli values are 0/1");
        CHECK(fabs(f - 0.3) < 4 * sqrt(0.3 * 0.7 / n03), "bernoulli frequency %.5f", f);
        CHECK(bad0 == 0 && bad1 == 0, "p = 0 and p = 1 are exact (%ld, %ld)", bad0, bad1);
    }
    free(p);

    /* Tensor samplers follow the raw layout contract. */
    int64_t s2[2] = {3, 5};
    ug_rng a = ug_rng_make(11, 2), b = ug_rng_make(11, 2);
    ug_tensor *u = ug_rand_uniform(ctx, &a, 2, s2);  // [3, 5]
    ug_tensor *z = ug_rand_normal(ctx, &a, 2, s2);   // [3, 5]
    float ru[15], rz[15];
    ug_rng_uniform(&b, ru, 15);
    ug_rng_normal(&b, rz, 15);
    CHECK(u && z && memcmp(ug_f32(u), ru, sizeof ru) == 0 && memcmp(ug_f32(z), rz, sizeof rz) == 0,
          "tensor samplers match the raw streams");
    CHECK(u && u->ndim == 2 && u->shape[0] == 3 && u->shape[1] == 5 && !u->requires_grad,
          "uniform tensor shape and no grad");
    /* Strided p: a transposed [2, 3] of probabilities 0/1 gives its exact transpose. */
    float p01[6] = {1, 0, 0, 1, 1, 0};
    int64_t s23[2] = {2, 3};
    ug_tensor *pT = ug_transpose(ctx, ug_from_f32(ctx, p01, 2, s23), 0, 1);  // [3, 2] view
    ug_tensor *bT = ug_rand_bernoulli(ctx, &a, pT);                         // [3, 2]
    int exact = bT != NULL && bT->shape[0] == 3 && bT->shape[1] == 2;
    for (int i = 0; exact && i < 3; i++)
        for (int j = 0; j < 2; j++) exact &= ug_f32(bT)[i * 2 + j] == p01[j * 3 + i];
    CHECK(exact, "bernoulli reads strided p: %s", ug_ctx_errmsg(ctx));
    CHECK(ug_rand_uniform(ctx, NULL, 2, s2) == NULL && ug_ctx_status(ctx) == UG_ERR_ARG,
          "NULL rng refused");
    ug_ctx_clear_error(ctx);
    ug_ctx_free(ctx);
}

int main(void) {
    test_known_answers();
    test_streams();
    test_uniform_moments();
    test_normal_moments();
    test_randint();
    test_categorical();
    test_bernoulli_and_tensors();
    return CHECK_DONE();
}
