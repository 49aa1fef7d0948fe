/* blas_rate.c — how fast cblas_sgemm runs here on the project's GEMM shapes, whether its results are
 * right, and the start-up check built on it (blas_info.h).
 *
 * The shapes are one hidden layer of the project's MLPs at a large batch (M = 512 rows, N = K = 256), in
 * the three forms a training step issues (ops_linalg.c): forward x w^T, weight gradient g^T x
 * accumulated with beta 1, input gradient g w. The rate is the FLOPs of whole rounds of the three over
 * their wall time, rounds repeated until `seconds` have passed. The check compares each shape, and an
 * odd-sized one that exercises the kernels' edge paths, against a float64 triple loop, on every 7th row
 * and the last (the row blocks a kernel set splits into all get visited, and the check stays cheap
 * enough for an ASan build). */
#include "unigfn/host/blas_info.h"

#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RM 512
#define RN 256
#define RK 256

static double mono_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void fill(float *x, size_t n, uint64_t seed) {
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)((double)(s >> 40) / 8388608.0 - 1.0); /* uniform in [-1, 1) */
    }
}

/* One GEMM C = op(A) op(B) (row-major, beta 0) checked against float64 on rows i % 7 == 0 and the last. */
static double check_one(bool ta, bool tb, int M, int N, int K, float *a, float *b, float *c) {
    int lda = ta ? M : K, ldb = tb ? K : N;
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, 1.0f, a,
                lda, b, ldb, 0.0f, c, N);
    double worst = 0;
    for (int i = 0; i < M; i++) {
        if (i % 7 && i != M - 1) continue;
        for (int j = 0; j < N; j++) {
            double ref = 0, mag = 0;
            for (int k = 0; k < K; k++) {
                double x = ta ? a[(size_t)k * lda + i] : a[(size_t)i * lda + k];
                double y = tb ? b[(size_t)j * ldb + k] : b[(size_t)k * ldb + j];
                ref += x * y;
                mag += fabs(x * y);
            }
            double err = fabs((double)c[(size_t)i * N + j] - ref) / (mag > 0 ? mag : 1);
            if (!(err <= worst)) worst = err; /* NaN sticks */
        }
    }
    return worst;
}

int ug_blas_sgemm_rate(double seconds, bool check, ug_sgemm_rate *out) {
    memset(out, 0, sizeof *out);
    out->max_err = NAN;
    /* x [M, K], w [N, K], y [M, N], dw [N, K], dx [M, K] */
    float *x = malloc(sizeof(float) * RM * RK), *w = malloc(sizeof(float) * RN * RK);
    float *y = malloc(sizeof(float) * RM * RN), *dw = calloc(RN * RK, sizeof(float));
    float *dx = malloc(sizeof(float) * RM * RK);
    int rc = -1;
    if (!x || !w || !y || !dw || !dx) goto done;
    fill(x, RM * RK, 1);
    fill(w, RN * RK, 2);
    fill(y, RM * RN, 3);
    if (check) {
        double e = check_one(false, true, RM, RN, RK, x, w, y);   /* forward: x w^T */
        double e2 = check_one(true, false, RN, RK, RM, y, x, dw); /* weight gradient: y^T x */
        double e3 = check_one(false, false, RM, RK, RN, y, w, dx); /* input gradient: y w */
        double e4 = check_one(false, false, 67, 45, 33, x, w, y);  /* odd sizes: the edge paths */
        out->max_err = fmax(fmax(e, e2), fmax(e3, e4));
        if (isnan(e) || isnan(e2) || isnan(e3) || isnan(e4)) out->max_err = NAN;
        fill(y, RM * RN, 3);
        memset(dw, 0, sizeof(float) * RN * RK);
    }
    const double flops = 3 * 2.0 * RM * RN * RK;
    int rounds = 0;
    double t0 = 0, t = 0;
    for (int r = -1;; r++) {
        if (r == 0) t0 = mono_s(); /* round -1 warms up caches and the thread pool */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, RM, RN, RK, 1.0f, x, RK, w, RK, 0.0f, y, RN);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, RN, RK, RM, 1.0f, y, RN, x, RK, 1.0f, dw, RK);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, RM, RK, RN, 1.0f, y, RN, w, RK, 0.0f, dx, RK);
        if (r < 0) continue;
        rounds++;
        t = mono_s() - t0;
        if ((t >= seconds && rounds >= 2) || rounds >= 1000000) break;
    }
    out->seconds = t;
    out->calls = 3 * rounds;
    out->gflops = t > 0 ? flops * rounds / t * 1e-9 : 0;
    rc = 0;
done:
    free(x);
    free(w);
    free(y);
    free(dw);
    free(dx);
    return rc;
}

bool ug_blas_check(ug_blas_info *bi, char *warning, size_t cap) {
    ug_blas_info_get(bi);
    if (cap) warning[0] = 0;
    ug_blas_advice adv;
    ug_blas_advise(bi->corename, &bi->cpu, &adv);
    const char *done = getenv(UG_BLAS_CHECKED_ENV);
    if (!adv.warn || (done && *done)) return false;
    ug_sgemm_rate r;
    double gflops = ug_blas_sgemm_rate(0.25, false, &r) == 0 ? r.gflops : 0;
    ug_blas_warning_text(bi, &adv, gflops, warning, cap);
    return true;
}
