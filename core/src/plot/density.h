/* density.h — where ug_plot_density (unigfn/plot.h) puts things, for the callers and the tests that
 * read its pixels back (host only). Every length is a whole number of pixels: a bin is a scale x scale
 * block, so the PNG shows each bin's colour exactly. */
#ifndef UG_PLOT_DENSITY_H
#define UG_PLOT_DENSITY_H

#include "unigfn/plot.h"

typedef struct ug_density_geom {
    int w, h;                               /* the picture */
    int scale;                              /* px per bin on a side: ceil(256 / bins), at least 1 */
    int side;                               /* bins * scale */
    int panel_x[UG_DENSITY_MAX_PANELS];     /* left column of each panel's bins */
    int panel_y;                            /* top row of every panel's bins */
    int bar_x, bar_w;                       /* the colour scale: bar_w columns from bar_x, rows panel_y ... +side */
} ug_density_geom;

/* Checks fig (UG_ERR_ARG naming what is wrong) and lays it out. */
ug_status ug_density_geometry(const ug_density_fig *fig, ug_density_geom *g, ug_error *err);

#endif
