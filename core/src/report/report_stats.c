/* report_stats.c — mean / std / sem / ci95 of a table cell, and the Student-t quantile behind ci95. */
#include "report/report_stats.h"

#include <math.h>

/* t_{0.975, df} for df = 1..30 (computed with mpmath to 30 digits, rounded to 9 decimals). */
static const double T975[30] = {
    12.706204736, 4.302652730, 3.182446305, 2.776445105, 2.570581836, 2.446911851,
    2.364624252,  2.306004135, 2.262157163, 2.228138852, 2.200985160, 2.178812830,
    2.160368656,  2.144786688, 2.131449546, 2.119905299, 2.109815578, 2.100922040,
    2.093024054,  2.085963447, 2.079613845, 2.073873068, 2.068657610, 2.063898562,
    2.059538553,  2.055529439, 2.051830516, 2.048407142, 2.045229642, 2.042272456,
};

double ug_student_t975(int df) {
    if (df < 1) return NAN;
    if (df <= 30) return T975[df - 1];
    /* Cornish-Fisher expansion of t in powers of 1/df around the normal quantile z */
    const double z = 1.959963984540054;
    double v = (double)df, z2 = z * z;
    double g1 = (z2 + 1) * z / 4;
    double g2 = ((5 * z2 + 16) * z2 + 3) * z / 96;
    double g3 = (((3 * z2 + 19) * z2 + 17) * z2 - 15) * z / 384;
    double g4 = ((((79 * z2 + 776) * z2 + 1482) * z2 - 1920) * z2 - 945) * z / 92160;
    return z + g1 / v + g2 / (v * v) + g3 / (v * v * v) + g4 / (v * v * v * v);
}

void ug_stats_compute(const double *x, int n, ug_stats *out) {
    out->n = n;
    out->mean = out->std = out->sem = out->ci95 = NAN;
    if (n < 1) return;
    double sum = 0;
    for (int i = 0; i < n; i++) sum += x[i];
    double mean = sum / n;
    out->mean = mean;
    if (n < 2) return;
    /* sum of squared deviations, minus the square of the (ideally zero) sum of deviations / n */
    double ss = 0, sd = 0;
    for (int i = 0; i < n; i++) {
        double d = x[i] - mean;
        ss += d * d;
        sd += d;
    }
    double var = (ss - sd * sd / n) / (n - 1);
    if (var < 0) var = 0;
    out->std = sqrt(var);
    out->sem = out->std / sqrt((double)n);
    out->ci95 = ug_student_t975(n - 1) * out->sem;
}
