/* ema.h — an exponential moving average of one parameter group's values (Polyak averaging, as DDPM
 * and score models evaluate with): shadow ← shadow + (1 − decay)·(value − shadow) after each of the
 * group's optimizer steps (torch's `shadow.lerp_(value, 1 - decay)`). The run loop keeps one per group
 * whose optimizer sets `ema:`, swaps the averages in for metrics and sampling, and checkpoints them. */
#ifndef UG_EMA_H
#define UG_EMA_H

#include <stdint.h>

#include "unigfn/nn.h"
#include "unigfn/status.h"

typedef struct ug_ema {
    ug_params *P;
    int group;
    float decay;        /* 0 < decay < 1 */
    float *shadow;      /* [count] the averages, in the backend's memory (host memory on CPU); NULL when unused */
    int64_t count;      /* floats in the group */
    int swapped;        /* 1 while the averages sit in the group's block (ug_ema_swap) */
} ug_ema;

/* Start the average at the group's current values. UG_ERR_ARG for a decay outside (0, 1). */
ug_status ug_ema_init(ug_ema *e, ug_params *P, int group, float decay, ug_error *err);
void ug_ema_free(ug_ema *e);
/* Start the average again at the group's current values (after they were loaded from elsewhere). */
void ug_ema_restart(ug_ema *e);
/* One averaging step from the group's values (after its optimizer stepped). */
void ug_ema_update(ug_ema *e);
/* Exchange the averages and the group's values; a second call restores both bit for bit. */
void ug_ema_swap(ug_ema *e);

#endif
