/* image_layout.h — whether a dataset's samples are pictures, and how to get their pixels: the one rule
 * that the sample_grid metric (a plugin) and `unigfn sample --decode` (the host) both draw by.
 *
 * A dataset is drawable when its space names an image shape (C, H, W) with C = 1 (gray) or 3 (RGB), and
 * either it decodes x to C*H*W intensities in [0, 1] (plugins/datasets/images does) or x itself is
 * continuous of dimension C*H*W. Header-only (static inline) because plugins link nothing but the host's
 * services table, and this is plain arithmetic on the dataset's info. Include after "unigfn/plugin.h"
 * in a plugin, or "unigfn/dataset.h" in host code. */
#ifndef UNIGFN_IMAGE_LAYOUT_H
#define UNIGFN_IMAGE_LAYOUT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "unigfn/dataset.h"

typedef struct ug_image_layout {
    int64_t C, H, W;
    bool decode; /* pixels through the dataset's decode(); else x is drawn as it is */
} ug_image_layout;

/* 1 with *L filled, or 0 with why the samples are not pictures in `why` (a phrase that follows the
 * dataset's name: "dataset 'x' has no image layout ..."). */
static inline int ug_image_layout_of(const ug_dataset *d, ug_image_layout *L, char *why, size_t cap) {
    const ug_space *sp = &d->info.space;
    if (sp->shape[1] <= 0 || sp->shape[2] <= 0) {
        snprintf(why, cap, "has no image layout (space.shape (C, H, W) is unset)");
        return 0;
    }
    L->C = sp->shape[0] > 0 ? sp->shape[0] : 1, L->H = sp->shape[1], L->W = sp->shape[2];
    if (L->C != 1 && L->C != 3) {
        snprintf(why, cap, "has %lld channels (only 1, gray, and 3, RGB, can be drawn)", (long long)L->C);
        return 0;
    }
    int64_t chw = L->C * L->H * L->W;
    L->decode = d->vt->decode && d->info.decoded_dim > 0;
    if (L->decode && d->info.decoded_dim != chw) {
        snprintf(why, cap, "decodes to %d values, not the C*H*W = %lld of its shape (%lld, %lld, %lld)", (int)d->info.decoded_dim,
                 (long long)chw, (long long)L->C, (long long)L->H, (long long)L->W);
        return 0;
    }
    if (!L->decode && !(sp->kind == UG_SPACE_CONTINUOUS && sp->dim == chw)) {
        snprintf(why, cap, "has no decoder and its x is not continuous of dimension C*H*W = %lld", (long long)chw);
        return 0;
    }
    return 1;
}

#endif
