/* fig.c — a cairo surface per picture, chosen by the file's extension, written through our own stream
 * callback so a failed write reports the errno (cairo alone only says "error while writing"). */
#include "plot/fig.h"

#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

ug_status ug_fig_format_of(const char *path, ug_fig_format *fmt, ug_error *err) {
    const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path, *dot = strrchr(base, '.');
    if (!dot || !dot[1])
        return ug_error_set(err, UG_ERR_ARG, "%s: no picture format: the file name needs an extension, %s", path,
                            UG_FIG_FORMATS);
    static const struct { const char *ext; ug_fig_format fmt; } known[] = {
        {"png", UG_FIG_PNG}, {"svg", UG_FIG_SVG}, {"pdf", UG_FIG_PDF}};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcasecmp(dot + 1, known[i].ext) == 0) {
            *fmt = known[i].fmt;
            return UG_OK;
        }
    return ug_error_set(err, UG_ERR_ARG, "%s: unknown picture format '%s' (use %s)", path, dot, UG_FIG_FORMATS);
}

static cairo_status_t write_cb(void *closure, const unsigned char *data, unsigned int length) {
    ug_fig *f = closure;
    if (f->write_errno) return CAIRO_STATUS_WRITE_ERROR;
    errno = 0;
    if (fwrite(data, 1, length, f->file) != length) {
        f->write_errno = errno ? errno : EIO;
        return CAIRO_STATUS_WRITE_ERROR;
    }
    return CAIRO_STATUS_SUCCESS;
}

/* `-o /dev/full` run as root must not delete the device node. */
static void remove_partial(const char *path) {
    struct stat sb;
    if (lstat(path, &sb) == 0 && S_ISREG(sb.st_mode)) remove(path);
}

ug_status ug_fig_open(ug_fig *f, const char *path, int w, int h, const char *title, ug_error *err) {
    memset(f, 0, sizeof *f);
    ug_fig_format fmt;
    if (ug_fig_format_of(path, &fmt, err)) return err->code;
    if (w < 1 || h < 1 || w > UG_FIG_MAX_SIDE || h > UG_FIG_MAX_SIDE)
        return ug_error_set(err, UG_ERR_ARG, "%s: a %d x %d picture is outside 1 ... %d on a side", path, w, h,
                            UG_FIG_MAX_SIDE);
    f->fmt = fmt, f->path = path, f->w = w, f->h = h;
    if (!(f->file = fopen(path, "wb"))) return ug_error_set(err, UG_ERR_IO, "%s: %s", path, strerror(errno));
    if (fmt == UG_FIG_PNG) {
        f->surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
    } else if (fmt == UG_FIG_SVG) {
        f->surface = cairo_svg_surface_create_for_stream(write_cb, f, w, h);
        /* px, not pt: a browser shows the SVG at the PNG's size */
        if (cairo_surface_status(f->surface) == CAIRO_STATUS_SUCCESS)
            cairo_svg_surface_set_document_unit(f->surface, CAIRO_SVG_UNIT_PX);
    } else {
        f->surface = cairo_pdf_surface_create_for_stream(write_cb, f, w, h);
        if (cairo_surface_status(f->surface) == CAIRO_STATUS_SUCCESS) {
            cairo_pdf_surface_set_metadata(f->surface, CAIRO_PDF_METADATA_CREATOR, "unigfn");
            if (title) cairo_pdf_surface_set_metadata(f->surface, CAIRO_PDF_METADATA_TITLE, title);
        }
    }
    cairo_status_t cs = cairo_surface_status(f->surface);
    if (!cs) {
        f->cr = cairo_create(f->surface);
        cs = cairo_status(f->cr);
    }
    if (cs) {
        ug_error_set(err, cs == CAIRO_STATUS_NO_MEMORY ? UG_ERR_NOMEM : UG_ERR_INTERNAL, "%s: cairo cannot make a %d x %d picture: %s",
                     path, w, h, cairo_status_to_string(cs));
        ug_fig_discard(f);
        return err->code;
    }
    /* the same text widths in every format: no metric hinting */
    cairo_font_options_t *fo = cairo_font_options_create();
    cairo_font_options_set_hint_metrics(fo, CAIRO_HINT_METRICS_OFF);
    cairo_font_options_set_antialias(fo, CAIRO_ANTIALIAS_GRAY);
    cairo_set_font_options(f->cr, fo);
    cairo_font_options_destroy(fo);
    cairo_set_source_rgb(f->cr, 1, 1, 1);
    cairo_paint(f->cr);
    return UG_OK;
}

ug_status ug_fig_close(ug_fig *f, ug_error *err) {
    cairo_status_t cs = cairo_status(f->cr);
    cairo_destroy(f->cr);
    f->cr = NULL;
    if (!cs && f->fmt == UG_FIG_PNG) cs = cairo_surface_write_to_png_stream(f->surface, write_cb, f);
    cairo_surface_finish(f->surface);   /* SVG and PDF are written here */
    if (!cs) cs = cairo_surface_status(f->surface);
    cairo_surface_destroy(f->surface);
    f->surface = NULL;
    int e = f->write_errno;
    if (fflush(f->file) && !e) e = errno;
    if (fclose(f->file) && !e) e = errno;
    f->file = NULL;
    if (!e && !cs) return UG_OK;
    remove_partial(f->path);
    return ug_error_set(err, UG_ERR_IO, "%s: cannot write the image: %s", f->path, e ? strerror(e) : cairo_status_to_string(cs));
}

void ug_fig_discard(ug_fig *f) {
    if (f->cr) cairo_destroy(f->cr);
    if (f->surface) {
        cairo_surface_finish(f->surface);
        cairo_surface_destroy(f->surface);
    }
    if (f->file) {
        fclose(f->file);
        remove_partial(f->path);
    }
    memset(f, 0, sizeof *f);
}

void ug_fig_color(ug_fig *f, uint32_t rgb, double alpha) {
    cairo_set_source_rgba(f->cr, (rgb >> 16 & 255) / 255.0, (rgb >> 8 & 255) / 255.0, (rgb & 255) / 255.0, alpha);
}

/* Labels come from specs and may hold any bytes; cairo refuses invalid UTF-8 with a sticky error that
 * would lose the whole picture, so each byte of a bad sequence becomes '?'. */
static void utf8_clean(const char *s, char *out, size_t cap) {
    size_t o = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p && o + 5 < cap) {
        int len = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3 : (*p & 0xf8) == 0xf0 ? 4 : 0;
        bool ok = len > 0 && !(len == 2 && *p < 0xc2);
        for (int k = 1; ok && k < len; k++) ok = (p[k] & 0xc0) == 0x80;
        if (ok && *p >= 0x20 && *p != 0x7f) {
            memcpy(out + o, p, (size_t)len);
            o += (size_t)len, p += len;
        } else {
            out[o++] = '?';
            p++;
        }
    }
    out[o] = 0;
}

static void set_font(ug_fig *f, double size, bool bold) {
    cairo_select_font_face(f->cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(f->cr, size);
}

double ug_fig_text_width(ug_fig *f, double size, bool bold, const char *s) {
    char buf[1024];
    utf8_clean(s, buf, sizeof buf);
    set_font(f, size, bold);
    cairo_text_extents_t te;
    cairo_text_extents(f->cr, buf, &te);
    return te.x_advance;
}

double ug_fig_text(ug_fig *f, double x, double y, double ha, double va, double size, bool bold, double angle,
                   uint32_t rgb, const char *s) {
    char buf[1024];
    utf8_clean(s, buf, sizeof buf);
    set_font(f, size, bold);
    cairo_text_extents_t te;
    cairo_text_extents(f->cr, buf, &te);
    cairo_save(f->cr);
    cairo_translate(f->cr, x, y);
    cairo_rotate(f->cr, angle);
    /* 0.72 em is about the cap height of a sans face: va 0 puts the capitals' tops at y */
    cairo_move_to(f->cr, -ha * te.x_advance, 0.72 * size * (1 - va));
    ug_fig_color(f, rgb, 1);
    cairo_show_text(f->cr, buf);
    cairo_restore(f->cr);
    cairo_new_path(f->cr);
    return te.x_advance;
}

uint32_t ug_viridis(double t) {
    static const double stops[9][3] = {{68, 1, 84},    {71, 44, 122},  {59, 81, 139},  {44, 113, 142}, {33, 144, 141},
                                       {39, 173, 129}, {92, 200, 99},  {170, 220, 50}, {253, 231, 37}};
    if (!(t > 0)) t = 0;
    if (t > 1) t = 1;
    double p = t * 8;
    int i = p >= 8 ? 7 : (int)p;
    double fr = p - i;
    uint32_t c = 0;
    for (int k = 0; k < 3; k++) c = (c << 8) | (uint32_t)lround(stops[i][k] + fr * (stops[i + 1][k] - stops[i][k]));
    return c;
}

uint32_t ug_palette(int i) {
    static const uint32_t tab10[10] = {0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd,
                                       0x8c564b, 0xe377c2, 0x7f7f7f, 0xbcbd22, 0x17becf};
    return tab10[(i < 0 ? 0 : i) % 10];
}
