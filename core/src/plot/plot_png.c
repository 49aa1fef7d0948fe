/* plot_png.c — the canvas behind `unigfn report curves|samples`: RGB pixels, Wu antialiased lines with
 * alpha blending, filled rectangles, bitmap text, and a PNG writer on libpng (Debian's libpng-dev, the
 * one image dependency the build already has for the density_png metric). */
#include "plot/plot_png.h"

#include <errno.h>
#include <math.h>
#ifdef UG_HAVE_PNG
#include <png.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

ug_status ug_canvas_init(ug_canvas *c, int w, int h, uint32_t bg, ug_error *err) {
    memset(c, 0, sizeof *c);
    if (w < 1 || h < 1 || w > UG_CANVAS_MAX_SIDE || h > UG_CANVAS_MAX_SIDE)
        return ug_error_set(err, UG_ERR_ARG, "canvas %dx%d: sides must be 1..%d", w, h, UG_CANVAS_MAX_SIDE);
    c->px = malloc((size_t)w * (size_t)h * 3);
    if (!c->px) return ug_error_set(err, UG_ERR_NOMEM, "canvas %dx%d: out of memory", w, h);
    c->w = w, c->h = h;
    for (size_t i = 0; i < (size_t)w * (size_t)h; i++) {
        c->px[3 * i] = (uint8_t)(bg >> 16);
        c->px[3 * i + 1] = (uint8_t)(bg >> 8);
        c->px[3 * i + 2] = (uint8_t)bg;
    }
    ug_canvas_unclip(c);
    return UG_OK;
}

void ug_canvas_free(ug_canvas *c) {
    free(c->px);
    c->px = NULL;
}

void ug_canvas_clip(ug_canvas *c, int x0, int y0, int x1, int y1) {
    c->clip_x0 = x0 < 0 ? 0 : x0;
    c->clip_y0 = y0 < 0 ? 0 : y0;
    c->clip_x1 = x1 > c->w ? c->w : x1;
    c->clip_y1 = y1 > c->h ? c->h : y1;
}

void ug_canvas_unclip(ug_canvas *c) { ug_canvas_clip(c, 0, 0, c->w, c->h); }

void ug_canvas_blend(ug_canvas *c, int x, int y, uint32_t color, double a) {
    if (x < c->clip_x0 || y < c->clip_y0 || x >= c->clip_x1 || y >= c->clip_y1 || !(a > 0)) return;
    if (a > 1) a = 1;
    uint8_t *p = c->px + 3 * ((size_t)y * (size_t)c->w + (size_t)x);
    for (int k = 0; k < 3; k++) {
        double src = (double)((color >> (16 - 8 * k)) & 0xff);
        p[k] = (uint8_t)lround(p[k] + a * (src - p[k]));
    }
}

void ug_canvas_rect(ug_canvas *c, int x0, int y0, int x1, int y1, uint32_t color) {
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) ug_canvas_blend(c, x, y, color, 1.0);
}

void ug_canvas_frame(ug_canvas *c, int x0, int y0, int x1, int y1, uint32_t color) {
    ug_canvas_rect(c, x0, y0, x1, y0 + 1, color);
    ug_canvas_rect(c, x0, y1 - 1, x1, y1, color);
    ug_canvas_rect(c, x0, y0, x0 + 1, y1, color);
    ug_canvas_rect(c, x1 - 1, y0, x1, y1, color);
}

/* Liang-Barsky: clips the segment to the box; false if nothing is left. */
static bool clip_segment(double *x0, double *y0, double *x1, double *y1, double bx0, double by0, double bx1,
                         double by1) {
    double t0 = 0, t1 = 1, dx = *x1 - *x0, dy = *y1 - *y0;
    double p[4] = {-dx, dx, -dy, dy}, q[4] = {*x0 - bx0, bx1 - *x0, *y0 - by0, by1 - *y0};
    for (int i = 0; i < 4; i++) {
        if (p[i] == 0) {
            if (q[i] < 0) return false;
            continue;
        }
        double t = q[i] / p[i];
        if (p[i] < 0) { if (t > t1) return false; if (t > t0) t0 = t; }
        else { if (t < t0) return false; if (t < t1) t1 = t; }
    }
    double ax = *x0 + t0 * dx, ay = *y0 + t0 * dy;
    *x1 = *x0 + t1 * dx, *y1 = *y0 + t1 * dy;
    *x0 = ax, *y0 = ay;
    return true;
}

static double fpart(double x) { return x - floor(x); }

/* One Wu line of width 1 (pixel centres at integer + 0.5 are handled by the caller's coordinates). */
static void wu_line(ug_canvas *c, double x0, double y0, double x1, double y1, uint32_t col, double a) {
    bool steep = fabs(y1 - y0) > fabs(x1 - x0);
    if (steep) { double t = x0; x0 = y0; y0 = t; t = x1; x1 = y1; y1 = t; }
    if (x0 > x1) { double t = x0; x0 = x1; x1 = t; t = y0; y0 = y1; y1 = t; }
    double dx = x1 - x0, dy = y1 - y0;
    double g = dx == 0 ? 1 : dy / dx;
    long xs = lround(x0), xe = lround(x1);
    if (xe - xs > 4 * UG_CANVAS_MAX_SIDE) return;
    for (long x = xs; x <= xe; x++) {
        double y = y0 + g * ((double)x - x0);
        /* end pixels get partial coverage along the line */
        double cover = 1.0;
        if (x == xs) cover = 1.0 - fpart(x0 + 0.5);
        if (x == xe) cover = xs == xe ? fabs(x1 - x0) : fpart(x1 + 0.5);
        if (cover <= 0) continue;
        long yi = (long)floor(y);
        double f = y - (double)yi;
        if (steep) {
            ug_canvas_blend(c, (int)yi, (int)x, col, a * cover * (1 - f));
            ug_canvas_blend(c, (int)yi + 1, (int)x, col, a * cover * f);
        } else {
            ug_canvas_blend(c, (int)x, (int)yi, col, a * cover * (1 - f));
            ug_canvas_blend(c, (int)x, (int)yi + 1, col, a * cover * f);
        }
    }
}

void ug_canvas_line(ug_canvas *c, double x0, double y0, double x1, double y1, uint32_t color, double alpha,
                    double width) {
    if (!isfinite(x0) || !isfinite(y0) || !isfinite(x1) || !isfinite(y1)) return;
    double m = width + 2;
    if (!clip_segment(&x0, &y0, &x1, &y1, c->clip_x0 - m, c->clip_y0 - m, c->clip_x1 + m, c->clip_y1 + m)) return;
    double dx = x1 - x0, dy = y1 - y0, len = sqrt(dx * dx + dy * dy);
    double nx = len > 0 ? -dy / len : 0, ny = len > 0 ? dx / len : 1;
    /* a wide line is parallel unit lines one pixel apart, the outer two weighted by what is left over */
    int k = (int)ceil(width);
    if (k < 1) k = 1;
    for (int i = 0; i < k; i++) {
        double off = (double)i - (double)(k - 1) / 2.0;
        double w = 1.0;
        if (k > 1 && (i == 0 || i == k - 1)) w = (width - (double)(k - 2)) / 2.0;
        wu_line(c, x0 + off * nx, y0 + off * ny, x1 + off * nx, y1 + off * ny, color, alpha * w);
    }
}

int ug_text_width(const char *s, int scale) {
    int n = (int)strlen(s);
    return n ? (n * UG_FONT_ADVANCE - 1) * scale : 0;
}

int ug_canvas_text(ug_canvas *c, int x, int y, const char *s, uint32_t color, int scale) {
    if (scale < 1) scale = 1;
    int x0 = x;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        for (int r = 0; r < UG_FONT_H; r++)
            for (int q = 0; q < UG_FONT_W; q++)
                if (ug_font_pixel(*p, r, q))
                    ug_canvas_rect(c, x + q * scale, y + r * scale, x + (q + 1) * scale, y + (r + 1) * scale, color);
        x += UG_FONT_ADVANCE * scale;
    }
    return x - x0 - (x > x0 ? scale : 0);
}

#ifndef UG_HAVE_PNG
ug_status ug_canvas_write_png(const ug_canvas *c, const char *path, ug_error *err) {
    (void)c;
    return ug_error_set(err, UG_ERR_UNSUPPORTED, "%s: this unigfn was built without libpng (install libpng-dev "
                        "and reconfigure)", path);
}
#else
/* A half-written picture is removed, but only a regular file: `-o /dev/full` run as root must not
 * delete the device node. */
static void remove_partial(const char *path) {
    struct stat sb;
    if (lstat(path, &sb) == 0 && S_ISREG(sb.st_mode)) remove(path);
}

/* libpng's own handlers print to stderr; the library reports through err instead. */
static void png_fail(png_structp png, png_const_charp msg) {
    char *why = png_get_error_ptr(png);
    if (why) snprintf(why, 128, "%s", msg);
    png_longjmp(png, 1);
}
static void png_warn(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg;
}

ug_status ug_canvas_write_png(const ug_canvas *c, const char *path, ug_error *err) {
    FILE *f = fopen(path, "wb");
    if (!f) return ug_error_set(err, UG_ERR_IO, "%s: %s", path, strerror(errno));
    static char why[128];
    why[0] = 0;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, why, png_fail, png_warn);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    png_bytep *rows = malloc((size_t)c->h * sizeof *rows);
    if (!png || !info || !rows) {
        png_destroy_write_struct(&png, &info);
        free(rows);
        fclose(f);
        return ug_error_set(err, UG_ERR_NOMEM, "%s: out of memory for the PNG writer", path);
    }
    if (setjmp(png_jmpbuf(png))) {
        int e = ferror(f) ? errno : 0;
        png_destroy_write_struct(&png, &info);
        free(rows);
        fclose(f);
        remove_partial(path);
        return ug_error_set(err, UG_ERR_IO, "%s: cannot write the image: %s", path,
                            e ? strerror(e) : why[0] ? why : "libpng failed");
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)c->w, (png_uint_32)c->h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < c->h; y++) rows[y] = c->px + (size_t)y * (size_t)c->w * 3;
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(rows);
    int e = fflush(f) ? errno : ferror(f) ? EIO : 0;  /* a short write libpng did not see */
    if (fclose(f) && !e) e = errno;
    if (e) {
        remove_partial(path);
        return ug_error_set(err, UG_ERR_IO, "%s: cannot write: %s", path, strerror(e));
    }
    return UG_OK;
}
#endif
