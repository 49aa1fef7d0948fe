/* bench_util.h — what the C sides of the benchmarks share: clocks, medians, the repetition timer, the
 * BLAS header line, and the splitmix64 sequence their PyTorch twins (mlp_torch.py, conv_torch.py) draw
 * the same inputs from. */
#ifndef UG_BENCH_UTIL_H
#define UG_BENCH_UTIL_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "unigfn/host/blas_info.h"

static inline double clock_s(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static inline int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of v[0, n) (sorts v); NAN for n <= 0. */
static inline double median(double *v, int n) {
    if (n <= 0) return NAN;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* splitmix64 uniform in [-bound, bound) — the same sequence as the torch scripts' gen(). */
static inline void gen(float *out, int64_t n, uint64_t seed, double bound) {
    uint64_t s = seed;
    for (int64_t i = 0; i < n; i++) {
        s += 0x9E3779B97F4A7C15ull;
        uint64_t z = s;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        out[i] = (float)(((double)(z >> 40) - 8388608.0) / 8388608.0 * bound);
    }
}

/* The BLAS this measures: "blas ..." on stdout, and the warning when its kernels are far below the CPU
 * (on `warn`: stdout for the driver's header, stderr beside a measurement). */
static inline void blas_header(FILE *warn) {
    ug_blas_info bi;
    char w[512], d[256];
    bool slow = ug_blas_check(&bi, w, sizeof w);
    ug_blas_describe(&bi, d, sizeof d);
    printf("blas %s\n", d);
    fflush(stdout);
    if (slow) fprintf(warn, "warning %s\n", w);
}

/* Median wall seconds per call of fn over `reps` repetitions of `steps` calls, after a warm-up of
 * steps/5 calls; *cpu (may be NULL) gets the median process CPU seconds. samples holds 2*reps. */
static inline double time_reps(void (*fn)(void *), void *arg, int steps, int reps, double *samples, double *cpu) {
    double *cs = samples + reps;
    for (int w = 0; w < (steps > 5 ? steps / 5 : 1); w++) fn(arg);  /* warm-up: caches, arena, BLAS */
    for (int r = 0; r < reps; r++) {
        double t0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
        for (int i = 0; i < steps; i++) fn(arg);
        samples[r] = (clock_s(CLOCK_MONOTONIC) - t0) / steps;
        cs[r] = (clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0) / steps;
    }
    if (cpu) *cpu = median(cs, reps);
    return median(samples, reps);
}

#endif
