/* ema.c — the parameter moving average of ema.h. The averages live in the backend's memory beside the
 * group's block, and the update and the exchange are backend entries (lerp, swap: a lerp in float, as
 * torch.Tensor.lerp_ computes it for weights below 0.5), so nothing here touches parameter values. */
#include "unigfn/host/ema.h"

#include <string.h>

#include "nn/nn_internal.h"

ug_status ug_ema_init(ug_ema *e, ug_params *P, int group, float decay, ug_error *err) {
    memset(e, 0, sizeof *e);
    if (!(decay > 0.0f && decay < 1.0f))
        return ug_error_set(err, UG_ERR_ARG, "ema: decay %g is outside (0, 1)", (double)decay);
    const char *name = "?";
    float *v = NULL;
    int64_t n = 0;
    if (ug_params_group_info(P, group, &name, &v, NULL, &n) || !v || n <= 0)
        return ug_error_set(err, UG_ERR_ARG, "ema: parameter group %d has no values", group);
    const ug_backend *be = ug__params_backend(P);
    e->shadow = be->alloc((size_t)n * sizeof *e->shadow);
    if (!e->shadow) return ug_error_set(err, UG_ERR_NOMEM, "ema: no memory for %lld averages of group '%s'",
                                        (long long)n, name);
    ug__copy_floats(be, e->shadow, v, n);
    e->P = P;
    e->group = group;
    e->decay = decay;
    e->count = n;
    return UG_OK;
}

void ug_ema_free(ug_ema *e) {
    if (e->shadow) ug__params_backend(e->P)->free(e->shadow);
    memset(e, 0, sizeof *e);
}

void ug_ema_restart(ug_ema *e) {
    if (!e->shadow) return;
    if (e->swapped) ug_ema_swap(e);  /* the trained values back in the block first */
    float *v = NULL;
    ug_params_group_info(e->P, e->group, NULL, &v, NULL, NULL);
    ug__copy_floats(ug__params_backend(e->P), e->shadow, v, e->count);
}

void ug_ema_update(ug_ema *e) {
    if (!e->shadow) return;
    float *v = NULL;
    ug_params_group_info(e->P, e->group, NULL, &v, NULL, NULL);
    ug__params_backend(e->P)->lerp(e->shadow, v, e->count, 1.0f - e->decay);
}

void ug_ema_swap(ug_ema *e) {
    if (!e->shadow) return;
    float *v = NULL;
    ug_params_group_info(e->P, e->group, NULL, &v, NULL, NULL);
    ug__params_backend(e->P)->swap(v, e->shadow, e->count);
    e->swapped ^= 1;
}
