/* nn_internal.h — what nn/ files share beyond the public headers (core only). */
#ifndef UG_NN_INTERNAL_H
#define UG_NN_INTERNAL_H

#include <string.h>

#include "backend/backend.h"
#include "unigfn/nn.h"

/* The backend whose memory holds P's blocks (its optimizers' moments live there too). */
const ug_backend *ug__params_backend(const ug_params *P);

/* dst[0, n) = src[0, n) for flat float blocks of be's memory: its copy kernel on 1-D headers. */
static inline void ug__copy_floats(const ug_backend *be, float *dst, const float *src, int64_t n) {
    ug_tensor s;
    memset(&s, 0, sizeof s);
    s.ndim = 1;
    for (int k = 0; k < UG_MAX_DIMS; k++) s.shape[k] = s.stride[k] = 1;
    s.shape[0] = n;
    s.dtype = UG_F32;
    s.device = (uint8_t)be->device;
    ug_tensor d = s;
    s.data = (float *)src;
    d.data = dst;
    be->copy(&s, &d);
}

#endif
