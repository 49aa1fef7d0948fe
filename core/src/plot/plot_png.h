/* plot_png.h — a small RGB canvas (antialiased lines, rectangles, 5x8 bitmap text) written as PNG with
 * libpng: enough for line plots and sample pictures with no font or graphics library (host only). */
#ifndef UG_PLOT_PNG_H
#define UG_PLOT_PNG_H

#include <stdbool.h>
#include <stdint.h>

#include "unigfn/status.h"

#define UG_FONT_W 5
#define UG_FONT_H 8
#define UG_FONT_ADVANCE 6      /* pixels per character at scale 1 */
#define UG_CANVAS_MAX_SIDE 8192

typedef struct ug_canvas {
    int w, h;
    uint8_t *px;              /* [h, w, 3] RGB */
    int clip_x0, clip_y0, clip_x1, clip_y1;   /* drawing is limited to [x0, x1) x [y0, y1) */
} ug_canvas;

/* 0xRRGGBB */
ug_status ug_canvas_init(ug_canvas *c, int w, int h, uint32_t background, ug_error *err);
void ug_canvas_free(ug_canvas *c);
void ug_canvas_clip(ug_canvas *c, int x0, int y0, int x1, int y1);   /* clamped to the canvas */
void ug_canvas_unclip(ug_canvas *c);

/* Blends `color` over pixel (x, y) with weight alpha in [0, 1]. */
void ug_canvas_blend(ug_canvas *c, int x, int y, uint32_t color, double alpha);
void ug_canvas_rect(ug_canvas *c, int x0, int y0, int x1, int y1, uint32_t color);   /* filled, [x0,x1) */
void ug_canvas_frame(ug_canvas *c, int x0, int y0, int x1, int y1, uint32_t color);  /* 1-px outline */
/* Antialiased (Wu) line of `width` pixels (>= 1) and opacity alpha; clipped to the clip rectangle. */
void ug_canvas_line(ug_canvas *c, double x0, double y0, double x1, double y1, uint32_t color, double alpha,
                    double width);
/* Text with its top-left corner at (x, y); scale >= 1 magnifies each font pixel. Returns the width. */
int ug_canvas_text(ug_canvas *c, int x, int y, const char *s, uint32_t color, int scale);
int ug_text_width(const char *s, int scale);

ug_status ug_canvas_write_png(const ug_canvas *c, const char *path, ug_error *err);

/* plot_font.c: is font pixel (row, col) of character ch inked? Unknown characters draw as '?'. */
bool ug_font_pixel(unsigned char ch, int row, int col);

#endif
