/* png_rgb.h — the RGB PNG writer the picture metrics (density_png, sample_grid) share, on libpng.
 *
 * Why here and not core/src/plot/plot_png.h: that canvas is private to the core (host only) and the
 * plugin API does not export it, so a plugin cannot call it. Header-only on purpose: every metric is its
 * own shared module and must not link another (STYLE.md), so the writer is static inline. The module
 * that includes it needs png_dep. Include after "unigfn/plugin.h". */
#ifndef UG_METRICS_PNG_RGB_H
#define UG_METRICS_PNG_RGB_H

#include <png.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* img [h, w, 3] 8-bit RGB, row-major -> path. 0, or -1 with the reason in why (the caller names the
 * metric and the path). */
static inline int ug_png_write_rgb(const char *path, const unsigned char *img, int64_t w, int64_t h, char *why,
                                   size_t cap) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        snprintf(why, cap, "cannot open for writing");
        return -1;
    }
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    png_bytep *rows = malloc((size_t)h * sizeof(png_bytep));
    if (!png || !info || !rows) {
        png_destroy_write_struct(&png, info ? &info : NULL);
        free(rows);
        fclose(f);
        snprintf(why, cap, "out of memory");
        return -1;
    }
    for (int64_t r = 0; r < h; r++) rows[r] = (png_bytep)(img + r * 3 * w);
    if (setjmp(png_jmpbuf(png))) {   /* libpng reports write errors by longjmp */
        png_destroy_write_struct(&png, &info);
        free(rows);
        fclose(f);
        snprintf(why, cap, "libpng write error");
        return -1;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(rows);
    if (fclose(f) != 0) {
        snprintf(why, cap, "write failed on close");
        return -1;
    }
    return 0;
}

#endif
