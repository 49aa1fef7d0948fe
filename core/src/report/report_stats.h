/* report_stats.h — the statistics of an ablation table cell: mean, sample standard deviation (n - 1),
 * standard error and the half-width of a 95% Student-t confidence interval, computed in C because
 * SQLite has no stddev (host only). */
#ifndef UG_REPORT_STATS_H
#define UG_REPORT_STATS_H

typedef struct ug_stats {
    int n;
    double mean;
    double std;     /* sample standard deviation (n - 1); NaN when n < 2 */
    double sem;     /* std / sqrt(n); NaN when n < 2 */
    double ci95;    /* t_{0.975, n-1} * sem: half-width of the 95% interval; NaN when n < 2 */
} ug_stats;

/* Two-pass with the rounding correction (Björck; Chan, Golub & LeVeque), so a large common offset
 * does not eat the variance. Non-finite inputs make mean (and the rest) non-finite. */
void ug_stats_compute(const double *x, int n, ug_stats *out);

/* The 0.975 quantile of Student's t with df degrees of freedom: tabulated exactly (9 decimals) for
 * df <= 30, a fourth-order Cornish-Fisher expansion above (error < 4e-8); NaN for df < 1. */
double ug_student_t975(int df);

#endif
