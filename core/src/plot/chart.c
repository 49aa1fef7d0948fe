/* chart.c — the line chart of `unigfn report curves` on a ug_fig: bands under thin run lines under bold
 * means, clipped to the plot rectangle; the legend below the plot so long group labels never cover data. */
#include "plot/chart.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "plot/axes.h"
#include "plot/fig.h"

#define MAX_LEGEND 16
#define LEGEND_ROW 18
#define INK 0x222222
#define TITLE_PX 17
#define LABEL_PX 14
#define TICK_PX 12
#define LEGEND_PX 13

int ug_chart_legend_height(int n_groups) {
    if (n_groups <= 0) return 0;
    int rows = n_groups <= MAX_LEGEND ? n_groups : MAX_LEGEND + 1;
    return LEGEND_ROW * rows + 12;
}

/* value -> axis units, NAN where the axis cannot show it */
static double tr(double v, bool log_axis) {
    if (!isfinite(v)) return NAN;
    if (!log_axis) return v;
    return v > 0 ? log10(v) : NAN;
}

typedef struct range { double lo, hi; } range;

static void widen(range *r, double u) {
    if (!isfinite(u)) return;
    if (u < r->lo) r->lo = u;
    if (u > r->hi) r->hi = u;
}

/* an empty or single-valued range opened up so the ticks make sense */
static void open_up(range *r, bool log_axis, double pad) {
    if (r->hi > r->lo) {
        double d = pad * (r->hi - r->lo);
        r->lo -= d, r->hi += d;
        return;
    }
    double d = log_axis ? 0.5 : fabs(r->lo) > 0 ? 0.1 * fabs(r->lo) : 0.5;
    r->lo -= d, r->hi += d;
}

static void marker(cairo_t *cr, double x, double y, double r) {
    cairo_new_sub_path(cr);
    cairo_arc(cr, x, y, r, 0, 2 * M_PI);
}

ug_status ug_chart_draw(const char *path, const ug_chart *ch, const ug_series *s, int n, int *dropped_x, int *dropped_y,
                        ug_error *err) {
    int W = ch->width > 0 ? ch->width : 900, H0 = ch->height > 0 ? ch->height : 540;
    int dx = 0, dy = 0;
    range xr = {INFINITY, -INFINITY}, yr = {INFINITY, -INFINITY};
    for (int i = 0; i < n; i++)
        for (int k = 0; k < s[i].n; k++) {
            double x = s[i].x[k], y = s[i].y[k];
            if (ch->logx && isfinite(x) && x <= 0) { dx++; continue; }
            if (ch->logy && isfinite(y) && y <= 0) { dy++; continue; }
            double u = tr(x, ch->logx), v = tr(y, ch->logy);
            if (!isfinite(u) || !isfinite(v)) continue;
            widen(&xr, u), widen(&yr, v);
            if (s[i].lo) widen(&yr, tr(s[i].lo[k], ch->logy));
            if (s[i].hi) widen(&yr, tr(s[i].hi[k], ch->logy));
        }
    if (dropped_x) *dropped_x = dx;
    if (dropped_y) *dropped_y = dy;
    if (!(xr.lo <= xr.hi))
        return ug_error_set(err, UG_ERR_ARG, "%s: no finite point to plot%s", path,
                            dx || dy ? " (every value is <= 0 on a log axis)" : "");
    open_up(&xr, ch->logx, ch->markers ? 0.04 : 0);
    open_up(&yr, ch->logy, 0.04);

    ug_fig fig;
    int leg_h = ug_chart_legend_height(ch->n_groups), H = H0 + leg_h;
    if (ug_fig_open(&fig, path, W, H, ch->title, err)) return err->code;
    cairo_t *cr = fig.cr;

    ug_axis ya = {.lo = yr.lo, .hi = yr.hi, .log = ch->logy}, xa = {.lo = xr.lo, .hi = xr.hi, .log = ch->logx};
    ug_tick yt[UG_TICKS_MAX], xt[UG_TICKS_MAX];
    int nyt = ug_axis_ticks(&ya, 6, yt, UG_TICKS_MAX), nxt = ug_axis_ticks(&xa, 8, xt, UG_TICKS_MAX);
    double ylw = 0;
    for (int i = 0; i < nyt; i++) {
        double w = ug_tick_width(&fig, &yt[i], TICK_PX);
        if (w > ylw) ylw = w;
    }
    double T = ch->title ? 46 : 20, B = H0 - 58, L = ceil(14 + LABEL_PX + 10 + ylw + 9), R = W - 24;
    if (R - L < 60 || B - T < 60) {
        ug_fig_discard(&fig);
        return ug_error_set(err, UG_ERR_ARG, "%s: %dx%d is too small for a chart", path, W, H0);
    }
    xa.a = L, xa.b = R, ya.a = B, ya.b = T;
    ug_draw_axes(&fig, &xa, xt, nxt, &ya, yt, nyt, TICK_PX, UG_AXES_GRID);
    if (ch->title) ug_fig_text(&fig, (L + R) / 2, 14, 0.5, 0, TITLE_PX, true, 0, INK, ch->title);
    char lab[256];
    if (ch->ylabel) {
        snprintf(lab, sizeof lab, "%s%s", ch->ylabel, ch->logy ? " (log scale)" : "");
        ug_fig_text(&fig, 14 + LABEL_PX / 2.0, (T + B) / 2, 0.5, 0.5, LABEL_PX, false, -M_PI / 2, INK, lab);
    }
    if (ch->xlabel) {
        snprintf(lab, sizeof lab, "%s%s", ch->xlabel, ch->logx ? " (log scale)" : "");
        ug_fig_text(&fig, (L + R) / 2, B + 5 + 4 + TICK_PX + 14, 0.5, 0, LABEL_PX, false, 0, INK, lab);
    }

    cairo_save(cr);
    cairo_rectangle(cr, L + 1, T + 1, R - L - 1, B - T - 1);
    cairo_clip(cr);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
#define PX(x) ug_axis_px(&xa, tr((x), ch->logx))
#define PY(y) ug_axis_px(&ya, tr((y), ch->logy))
    /* a band point on a log axis whose lower edge is <= 0 reaches the bottom of the plot */
#define PLO(v) (ch->logy && isfinite(v) && (v) <= 0 ? B + 2 : PY(v))
    /* bands (lines only; markers show them as error bars) */
    for (int i = 0; i < n && !ch->markers; i++) {
        if (!s[i].lo || !s[i].hi) continue;
        ug_fig_color(&fig, ug_palette(s[i].group), 0.2);
        for (int k = 0; k < s[i].n;) {
            int e = k;
            while (e < s[i].n && isfinite(PX(s[i].x[e])) && isfinite(PY(s[i].hi[e])) && isfinite(PLO(s[i].lo[e]))) e++;
            if (e - k >= 2) {
                for (int q = k; q < e; q++) cairo_line_to(cr, PX(s[i].x[q]), PY(s[i].hi[q]));
                for (int q = e - 1; q >= k; q--) cairo_line_to(cr, PX(s[i].x[q]), PLO(s[i].lo[q]));
                cairo_close_path(cr);
                cairo_fill(cr);
            }
            k = e > k ? e : k + 1;
        }
    }
    /* thin lines under bold ones */
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < n; i++) {
            if (s[i].bold != (pass == 1)) continue;
            uint32_t col = ug_palette(s[i].group);
            double a = s[i].bold ? 1.0 : 0.4, w = s[i].bold ? 2.4 : 1.1;
            if (ch->markers) {
                /* groups side by side around their step, or every group's markers would overlap */
                double dodge = ch->n_groups > 1 ? (s[i].group - (ch->n_groups - 1) / 2.0) * fmin(18.0, (R - L) / (4.0 * ch->n_groups)) : 0;
                for (int k = 0; k < s[i].n; k++) {
                    double px = PX(s[i].x[k]) + dodge, py = PY(s[i].y[k]);
                    if (!isfinite(px) || !isfinite(py)) continue;
                    if (s[i].bold && s[i].lo && s[i].hi && isfinite(PY(s[i].hi[k])) && isfinite(PLO(s[i].lo[k]))) {
                        double top = PY(s[i].hi[k]), bot = PLO(s[i].lo[k]);
                        ug_fig_color(&fig, col, 1);
                        cairo_set_line_width(cr, 1.6);
                        cairo_move_to(cr, px, top), cairo_line_to(cr, px, bot);
                        cairo_move_to(cr, px - 5, top), cairo_line_to(cr, px + 5, top);
                        cairo_move_to(cr, px - 5, bot), cairo_line_to(cr, px + 5, bot);
                        cairo_stroke(cr);
                    }
                    marker(cr, px, py, s[i].bold ? 5.5 : 4);
                    ug_fig_color(&fig, col, s[i].bold ? 1 : 0.75);
                    if (s[i].bold) {
                        cairo_fill(cr);
                    } else {
                        cairo_set_line_width(cr, 1.4);
                        cairo_stroke(cr);
                    }
                }
                continue;
            }
            ug_fig_color(&fig, col, a);
            cairo_set_line_width(cr, w);
            for (int k = 0; k < s[i].n; k++) {
                double px = PX(s[i].x[k]), py = PY(s[i].y[k]);
                bool ok = isfinite(px) && isfinite(py);
                bool prev = k > 0 && isfinite(PX(s[i].x[k - 1])) && isfinite(PY(s[i].y[k - 1]));
                bool next = k + 1 < s[i].n && isfinite(PX(s[i].x[k + 1])) && isfinite(PY(s[i].y[k + 1]));
                if (!ok) continue;
                if (prev) cairo_line_to(cr, px, py);
                else cairo_move_to(cr, px, py);
                if (!next) {
                    cairo_stroke(cr);
                    if (!prev) {   /* an isolated point: a dot, or it would not show */
                        marker(cr, px, py, s[i].bold ? 3.5 : 2.5);
                        cairo_fill(cr);
                    }
                }
            }
        }
#undef PX
#undef PY
#undef PLO
    cairo_restore(cr);

    /* legend: one row per group, its swatch as the group is drawn */
    int rows = ch->n_groups <= MAX_LEGEND ? ch->n_groups : MAX_LEGEND + 1;
    for (int g = 0; g < rows; g++) {
        double y = H0 + 6 + LEGEND_ROW * g + LEGEND_ROW / 2.0;
        if (g == MAX_LEGEND) {
            snprintf(lab, sizeof lab, "... and %d more groups", ch->n_groups - MAX_LEGEND);
            ug_fig_text(&fig, L + 34, y, 0, 0.5, LEGEND_PX, false, 0, INK, lab);
            break;
        }
        bool band = false, bold = false;
        for (int i = 0; i < n; i++)
            if (s[i].group == g) band |= s[i].lo != NULL, bold |= s[i].bold;
        uint32_t col = ug_palette(g);
        if (ch->markers) {
            marker(cr, L + 13, y, 5);
            ug_fig_color(&fig, col, 1);
            cairo_fill(cr);
        } else {
            if (band) {
                ug_fig_color(&fig, col, 0.2);
                cairo_rectangle(cr, L, y - 5, 26, 10);
                cairo_fill(cr);
            }
            ug_fig_color(&fig, col, 1);
            cairo_set_line_width(cr, bold ? 2.4 : 1.1);
            cairo_move_to(cr, L, y), cairo_line_to(cr, L + 26, y);
            cairo_stroke(cr);
        }
        const char *text = ch->group_labels && ch->group_labels[g] ? ch->group_labels[g] : "";
        ug_fig_text(&fig, L + 34, y, 0, 0.5, LEGEND_PX, false, 0, INK, text);
    }
    return ug_fig_close(&fig, err);
}
