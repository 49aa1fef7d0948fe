/* report_plot.c — the line chart behind `unigfn report curves`, on the plot_png canvas. */
#include "report/report_plot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot/plot_png.h"

static const uint32_t PALETTE[10] = {0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd,
                                     0x8c564b, 0xe377c2, 0x7f7f7f, 0xbcbd22, 0x17becf};
#define MAX_LEGEND 16

int ug_nice_ticks(double lo, double hi, int target, double *out, int cap, double *step_out) {
    if (!(hi > lo) || target < 1) return 0;
    double raw = (hi - lo) / target;
    double mag = pow(10, floor(log10(raw)));
    double f = raw / mag;
    double step = (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
    int n = 0;
    for (double v = ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9 && n < cap; v += step)
        out[n++] = fabs(v) < step * 1e-9 ? 0 : v;
    if (step_out) *step_out = step;
    return n;
}

static void tick_label(char *buf, size_t cap, double v, double step, bool log_axis) {
    if (log_axis) {
        /* v is log10 of the value */
        double p = pow(10, v);
        if (fabs(v - round(v)) < 1e-9 && (v < -3 || v > 4)) snprintf(buf, cap, "1e%d", (int)round(v));
        else snprintf(buf, cap, "%.3g", p);
        return;
    }
    double a = fabs(v) > fabs(step) ? fabs(v) : fabs(step);
    if (a >= 1e6 || (step < 1e-4 && v != 0)) {
        snprintf(buf, cap, "%.2e", v);
        return;
    }
    int d = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    snprintf(buf, cap, "%.*f", d, v);
}

ug_status ug_chart_png(const char *path, const ug_chart *ch, const ug_series *s, int n, int *n_dropped,
                       ug_error *err) {
    int W = ch->width > 0 ? ch->width : 900, H0 = ch->height > 0 ? ch->height : 540;
    int dropped = 0;
    double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < s[i].n; k++) {
            double x = s[i].x[k], y = s[i].y[k];
            if (ch->logy) {
                if (isfinite(y) && y <= 0) { dropped++; continue; }
                y = log10(y);
            }
            if (!isfinite(x) || !isfinite(y)) continue;
            if (x < xmin) xmin = x;
            if (x > xmax) xmax = x;
            if (y < ymin) ymin = y;
            if (y > ymax) ymax = y;
        }
    if (n_dropped) *n_dropped = dropped;
    if (!(xmin <= xmax))
        return ug_error_set(err, UG_ERR_ARG, "%s: no finite point to plot%s", path,
                            dropped ? " (every value is <= 0 on the log axis)" : "");
    if (xmax == xmin) xmin -= 0.5, xmax += 0.5;
    if (ymax == ymin) {
        double d = ch->logy ? 0.5 : (fabs(ymin) > 0 ? 0.05 * fabs(ymin) : 0.5);
        ymin -= d, ymax += d;
    } else {
        double pad = 0.04 * (ymax - ymin);
        ymin -= pad, ymax += pad;
    }

    double yt[32], xt[32], ystep = 1, xstep = 1;
    int nyt = 0;
    if (!ch->logy) {
        nyt = ug_nice_ticks(ymin, ymax, 6, yt, 32, &ystep);
    } else if (ymax - ymin >= 4) {
        /* many decades: every k-th power of ten */
        int k = (int)ceil((ymax - ymin) / 8);
        for (double v = ceil(ymin); v <= ymax && nyt < 32; v += k) yt[nyt++] = v;
        ystep = k;
    } else {
        /* a few decades: 1, 2, 5 x 10^k; within one decade, every digit */
        static const double m125[] = {1, 2, 5}, m19[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
        for (int pass = 0; pass < 2 && nyt < 3; pass++) {
            const double *m = pass ? m19 : m125;
            int nm = pass ? 9 : 3;
            nyt = 0;
            for (double d = floor(ymin); d <= ymax && nyt < 32; d += 1)
                for (int i = 0; i < nm && nyt < 32; i++) {
                    double v = d + log10(m[i]);
                    if (v >= ymin && v <= ymax) yt[nyt++] = v;
                }
        }
    }
    int nxt = ug_nice_ticks(xmin, xmax, 8, xt, 32, &xstep);

    char lab[32][48];
    int ylw = 0;
    for (int i = 0; i < nyt; i++) {
        tick_label(lab[i], sizeof lab[i], yt[i], ystep, ch->logy);
        int w = ug_text_width(lab[i], 1);
        if (w > ylw) ylw = w;
    }
    int n_leg = ch->n_groups < MAX_LEGEND ? ch->n_groups : MAX_LEGEND + (ch->n_groups > MAX_LEGEND);
    int leg_h = ch->n_groups > 0 ? 12 * n_leg + 12 : 0;
    int H = H0 + leg_h;
    int L = 14 + ylw + 8, T = 44, Rr = W - 24, B = H0 - 40;
    if (Rr - L < 50 || B - T < 50)
        return ug_error_set(err, UG_ERR_ARG, "%s: %dx%d is too small for a chart", path, W, H0);

    ug_canvas cv;
    ug_status st = ug_canvas_init(&cv, W, H, 0xffffff, err);
    if (st) return st;
    uint32_t ink = 0x222222, grid = 0xe6e6e6;
#define PX(x) ((double)L + ((x) - xmin) / (xmax - xmin) * (double)(Rr - L))
#define PY(y) ((double)B - ((y) - ymin) / (ymax - ymin) * (double)(B - T))
    for (int i = 0; i < nyt; i++) {
        int y = (int)lround(PY(yt[i]));
        if (y < T || y > B) continue;
        ug_canvas_rect(&cv, L, y, Rr, y + 1, grid);
        ug_canvas_rect(&cv, L - 4, y, L, y + 1, ink);
        ug_canvas_text(&cv, L - 7 - ug_text_width(lab[i], 1), y - 4, lab[i], ink, 1);
    }
    for (int i = 0; i < nxt; i++) {
        int x = (int)lround(PX(xt[i]));
        if (x < L || x > Rr) continue;
        char t[48];
        tick_label(t, sizeof t, xt[i], xstep, false);
        ug_canvas_rect(&cv, x, T, x + 1, B, grid);
        ug_canvas_rect(&cv, x, B, x + 1, B + 4, ink);
        ug_canvas_text(&cv, x - ug_text_width(t, 1) / 2, B + 8, t, ink, 1);
    }
    ug_canvas_frame(&cv, L, T, Rr + 1, B + 1, ink);
    if (ch->title) ug_canvas_text(&cv, (W - ug_text_width(ch->title, 2)) / 2, 10, ch->title, ink, 2);
    if (ch->ylabel) {
        char yl[160];
        snprintf(yl, sizeof yl, "%s%s", ch->ylabel, ch->logy ? " (log scale)" : "");
        ug_canvas_text(&cv, L, T - 14, yl, ink, 1);
    }
    if (ch->xlabel) ug_canvas_text(&cv, (L + Rr - ug_text_width(ch->xlabel, 1)) / 2, B + 24, ch->xlabel, ink, 1);

    /* thin lines under bold ones */
    ug_canvas_clip(&cv, L + 1, T + 1, Rr, B);
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < n; i++) {
            if (s[i].bold != (pass == 1)) continue;
            uint32_t col = PALETTE[(s[i].group < 0 ? 0 : s[i].group) % 10];
            double a = s[i].bold ? 1.0 : 0.35, w = s[i].bold ? 2.2 : 1.0;
            bool have = false;
            double px = 0, py = 0;
            int drawn = 0;
            for (int k = 0; k < s[i].n; k++) {
                double x = s[i].x[k], y = s[i].y[k];
                bool ok = isfinite(x) && isfinite(y) && (!ch->logy || y > 0);
                if (!ok) { have = false; continue; }
                double qx = PX(x), qy = PY(ch->logy ? log10(y) : y);
                if (have) ug_canvas_line(&cv, px, py, qx, qy, col, a, w);
                px = qx, py = qy, have = true;
                drawn++;
            }
            if (drawn == 1) ug_canvas_rect(&cv, (int)px - 1, (int)py - 1, (int)px + 2, (int)py + 2, col);
        }
    ug_canvas_unclip(&cv);
#undef PX
#undef PY
    /* legend: one line per group */
    for (int g = 0; g < n_leg; g++) {
        int y = H0 + 4 + 12 * g;
        if (g == MAX_LEGEND) {
            char more[64];
            snprintf(more, sizeof more, "... and %d more groups", ch->n_groups - MAX_LEGEND);
            ug_canvas_text(&cv, L + 22, y, more, ink, 1);
            break;
        }
        ug_canvas_rect(&cv, L, y + 3, L + 16, y + 5, PALETTE[g % 10]);
        ug_canvas_text(&cv, L + 22, y, ch->group_labels && ch->group_labels[g] ? ch->group_labels[g] : "", ink, 1);
    }
    st = ug_canvas_write_png(&cv, path, err);
    ug_canvas_free(&cv);
    return st;
}
