/* figure.h — which picture format a path names (host only). Every picture unigfn writes goes through one
 * cairo drawing code (core/src/plot/) and takes its format from the file's extension, so the CLI can
 * refuse a bad -o before it reads a database or samples a model. */
#ifndef UG_HOST_FIGURE_H
#define UG_HOST_FIGURE_H

#include "unigfn/status.h"

typedef enum ug_fig_format { UG_FIG_PNG = 1, UG_FIG_SVG, UG_FIG_PDF } ug_fig_format;

#define UG_FIG_FORMATS ".png, .svg or .pdf"

/* The format of `path` by its extension (case-insensitive), or UG_ERR_ARG with a message naming the
 * extension and the allowed ones. */
ug_status ug_fig_format_of(const char *path, ug_fig_format *fmt, ug_error *err);

#endif
