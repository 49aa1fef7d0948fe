/* axes.c — tick positions and labels, and the axes frame the chart and the density picture share. */
#include "plot/axes.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define INK 0x222222
#define GRID 0xe4e4e4
#define TICK_LEN 5.0

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

static void linear_label(char *buf, size_t cap, double v, double step) {
    double a = fabs(v) > fabs(step) ? fabs(v) : fabs(step);
    if (a >= 1e6 || (step < 1e-4 && v != 0)) {
        snprintf(buf, cap, "%.2e", v);
        return;
    }
    int d = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    snprintf(buf, cap, "%.*f", d, v);
}

/* u = log10 of the value: near 1 as the number, far from it as 10^k or m×10^k */
static void log_label(ug_tick *t) {
    double k = floor(t->u + 1e-9), m = pow(10, t->u - k);
    t->pow10 = UG_TICK_PLAIN;
    if (k >= -2 && k <= 3) {
        snprintf(t->text, sizeof t->text, "%.4g", pow(10, t->u));
    } else {
        t->pow10 = (int)k;
        if (fabs(m - 1) < 1e-6) snprintf(t->text, sizeof t->text, "10");
        else snprintf(t->text, sizeof t->text, "%.3g" "\xc3\x97" "10", m);   /* m×10 in UTF-8 */
    }
}

int ug_axis_ticks(const ug_axis *ax, int target, ug_tick *t, int cap) {
    double v[UG_TICKS_MAX], step = 1;
    if (cap > UG_TICKS_MAX) cap = UG_TICKS_MAX;
    int n = 0;
    if (!ax->log) {
        n = ug_nice_ticks(ax->lo, ax->hi, target, v, cap, &step);
        for (int i = 0; i < n; i++) {
            t[i].u = v[i], t[i].pow10 = UG_TICK_PLAIN;
            linear_label(t[i].text, sizeof t[i].text, v[i], step);
        }
        return n;
    }
    if (ax->hi - ax->lo < 1) {
        /* under a decade: evenly spaced values read better than the few powers inside it */
        double lo = pow(10, ax->lo), hi = pow(10, ax->hi);
        n = ug_nice_ticks(lo, hi, target, v, cap, &step);
        int k = 0;
        for (int i = 0; i < n; i++)
            if (v[i] > 0) {
                t[k].u = log10(v[i]), t[k].pow10 = UG_TICK_PLAIN;
                linear_label(t[k].text, sizeof t[k].text, v[i], step);
                k++;
            }
        return k;
    }
    if (ax->hi - ax->lo >= 4) {
        /* many decades: every k-th power of ten */
        int k = (int)ceil((ax->hi - ax->lo) / (target > 1 ? target : 1));
        for (double u = ceil(ax->lo); u <= ax->hi + 1e-9 && n < cap; u += k) v[n++] = u;
    } else {
        /* a few decades: 1, 2, 5 x 10^k; within about one decade, every digit */
        static const double m125[] = {1, 2, 5}, m19[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
        for (int pass = 0; pass < 2 && n < 3; pass++) {
            const double *m = pass ? m19 : m125;
            int nm = pass ? 9 : 3;
            n = 0;
            for (double d = floor(ax->lo); d <= ax->hi && n < cap; d += 1)
                for (int i = 0; i < nm && n < cap; i++) {
                    double u = d + log10(m[i]);
                    if (u >= ax->lo - 1e-12 && u <= ax->hi + 1e-12) v[n++] = u;
                }
        }
    }
    for (int i = 0; i < n; i++) {
        t[i].u = v[i];
        log_label(&t[i]);
    }
    return n;
}

/* the exponent of 10^k at 0.72 of the size, raised by 0.45 em */
double ug_tick_width(ug_fig *f, const ug_tick *t, double size) {
    double w = ug_fig_text_width(f, size, false, t->text);
    if (t->pow10 != UG_TICK_PLAIN) {
        char e[16];
        snprintf(e, sizeof e, "%d", t->pow10);
        w += ug_fig_text_width(f, 0.72 * size, false, e);
    }
    return w;
}

void ug_tick_draw(ug_fig *f, const ug_tick *t, double x, double y, double ha, double va, double size, uint32_t rgb) {
    if (t->pow10 == UG_TICK_PLAIN) {
        ug_fig_text(f, x, y, ha, va, size, false, 0, rgb, t->text);
        return;
    }
    char e[16];
    snprintf(e, sizeof e, "%d", t->pow10);
    double wb = ug_fig_text_width(f, size, false, t->text), we = ug_fig_text_width(f, 0.72 * size, false, e);
    double x0 = x - ha * (wb + we);
    ug_fig_text(f, x0, y, 0, va, size, false, 0, rgb, t->text);
    ug_fig_text(f, x0 + wb, y - 0.45 * size, 0, va, 0.72 * size, false, 0, rgb, e);
}

void ug_draw_axes(ug_fig *f, const ug_axis *x, const ug_tick *xt, int nxt, const ug_axis *y, const ug_tick *yt, int nyt,
                  double size, unsigned flags) {
    cairo_t *cr = f->cr;
    double L = x->a, R = x->b, B = y->a, T = y->b;
    /* 1-px lines on pixel centres so they stay sharp in the PNG */
    cairo_set_line_width(cr, 1);
    if (flags & UG_AXES_GRID) {
        ug_fig_color(f, GRID, 1);
        for (int i = 0; i < nyt; i++) {
            double py = floor(ug_axis_px(y, yt[i].u)) + 0.5;
            if (py <= T || py >= B) continue;
            cairo_move_to(cr, L, py), cairo_line_to(cr, R, py);
        }
        for (int i = 0; i < nxt; i++) {
            double px = floor(ug_axis_px(x, xt[i].u)) + 0.5;
            if (px <= L || px >= R) continue;
            cairo_move_to(cr, px, T), cairo_line_to(cr, px, B);
        }
        cairo_stroke(cr);
    }
    /* the frame lies just outside [L, R) x [T, B), so it never covers a picture's edge pixels */
    ug_fig_color(f, INK, 1);
    cairo_rectangle(cr, floor(L) - 0.5, floor(T) - 0.5, floor(R) - floor(L) + 1, floor(B) - floor(T) + 1);
    cairo_stroke(cr);
    for (int i = 0; i < nyt; i++) {
        double py = floor(ug_axis_px(y, yt[i].u)) + 0.5;
        if (py < T - 1 || py > B + 1) continue;
        cairo_move_to(cr, floor(L) - 0.5 - TICK_LEN, py), cairo_line_to(cr, floor(L) - 0.5, py);
        cairo_stroke(cr);
        if (!(flags & UG_AXES_NO_YLABELS)) ug_tick_draw(f, &yt[i], L - TICK_LEN - 4, py, 1, 0.5, size, INK);
    }
    for (int i = 0; i < nxt; i++) {
        double px = floor(ug_axis_px(x, xt[i].u)) + 0.5;
        if (px < L - 1 || px > R + 1) continue;
        cairo_move_to(cr, px, floor(B) + 0.5), cairo_line_to(cr, px, floor(B) + 0.5 + TICK_LEN);
        cairo_stroke(cr);
        ug_tick_draw(f, &xt[i], px, B + TICK_LEN + 4 + (xt[i].pow10 != UG_TICK_PLAIN ? 0.45 * size : 0), 0.5, 0, size, INK);
    }
}
