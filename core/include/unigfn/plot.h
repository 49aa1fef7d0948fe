/* plot.h — pictures a plugin asks the host to draw (services appended in ABI 1.4).
 *
 * The host draws them with the same cairo code as `unigfn report curves|samples`, so a metric's picture
 * has the CLI's fonts, axes and colour scale and no plugin links or re-implements a drawing library.
 * The format follows the path's extension: .png, .svg or .pdf; any other is UG_ERR_ARG naming it.
 * Structs passed in begin with their size (set it to sizeof) and only grow at the end. */
#ifndef UNIGFN_PLOT_H
#define UNIGFN_PLOT_H

#include <stdint.h>

#include "unigfn/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define UG_DENSITY_MAX_PANELS 4

/* One 2-D histogram: counts [bins, bins], row 0 at the top (largest y), column 0 at the left. */
typedef struct ug_density_panel {
    const int64_t *counts;
    int64_t n;              /* samples histogrammed, those outside the square included */
    const char *title;      /* above the panel; NULL: none */
} ug_density_panel;

/* Panels side by side on one colour scale: density = count / (n * bin area), so panels of different
 * sample counts compare. Both axes are labelled in data units. */
typedef struct ug_density_fig {
    uint32_t size;          /* sizeof(ug_density_fig) */
    const char *title;      /* over the picture; NULL: none */
    int bins;               /* 2 ... 4096 per side */
    double x0, x1, y0, y1;  /* the rectangle the bins cover */
    int sqrt_scale;         /* nonzero: colour ~ sqrt(density / max), so thin tails stay visible */
    int n_panels;           /* 1 ... UG_DENSITY_MAX_PANELS */
    ug_density_panel panels[UG_DENSITY_MAX_PANELS];
} ug_density_fig;

ug_status ug_plot_density(const char *path, const ug_density_fig *fig, ug_error *err);

/* rgb [h, w, 3], 8 bits, row-major: as PNG pixel for pixel; in SVG and PDF as one embedded image of
 * w x h points drawn without smoothing. */
ug_status ug_plot_rgb(const char *path, const uint8_t *rgb, int w, int h, ug_error *err);

#ifdef __cplusplus
}
#endif
#endif
