/* ema.c — the parameter moving average of ema.h. The update is written as a lerp in float, the way
 * torch.Tensor.lerp_ computes it for weights below 0.5, so a reference implementation reproduces it. */
#include "unigfn/host/ema.h"

#include <stdlib.h>
#include <string.h>

ug_status ug_ema_init(ug_ema *e, ug_params *P, int group, float decay, ug_error *err) {
    memset(e, 0, sizeof *e);
    if (!(decay > 0.0f && decay < 1.0f))
        return ug_error_set(err, UG_ERR_ARG, "ema: decay %g is outside (0, 1)", (double)decay);
    const char *name = "?";
    float *v = NULL;
    int64_t n = 0;
    if (ug_params_group_info(P, group, &name, &v, NULL, &n) || !v || n <= 0)
        return ug_error_set(err, UG_ERR_ARG, "ema: parameter group %d has no values", group);
    e->shadow = malloc((size_t)n * sizeof *e->shadow);
    if (!e->shadow) return ug_error_set(err, UG_ERR_NOMEM, "ema: no memory for %lld averages of group '%s'",
                                        (long long)n, name);
    memcpy(e->shadow, v, (size_t)n * sizeof *v);
    e->P = P;
    e->group = group;
    e->decay = decay;
    e->count = n;
    return UG_OK;
}

void ug_ema_free(ug_ema *e) {
    free(e->shadow);
    memset(e, 0, sizeof *e);
}

void ug_ema_update(ug_ema *e) {
    if (!e->shadow) return;
    float *v = NULL;
    ug_params_group_info(e->P, e->group, NULL, &v, NULL, NULL);
    const float w = 1.0f - e->decay;
    float *restrict s = e->shadow;
    for (int64_t i = 0; i < e->count; i++) s[i] += w * (v[i] - s[i]);
}

void ug_ema_swap(ug_ema *e) {
    if (!e->shadow) return;
    float *v = NULL;
    ug_params_group_info(e->P, e->group, NULL, &v, NULL, NULL);
    for (int64_t i = 0; i < e->count; i++) {
        float t = v[i];
        v[i] = e->shadow[i];
        e->shadow[i] = t;
    }
    e->swapped ^= 1;
}
