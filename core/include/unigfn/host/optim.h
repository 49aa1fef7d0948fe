/* optim.h — one optimizer per parameter group: Adam, AdamW, SGD(momentum), with gradient clipping
 * and learning-rate schedules.
 *
 * The update math follows torch.optim exactly (same formulas, same operation order where it changes
 * rounding), so a run can be compared with a PyTorch reference step by step. State mirrors the
 * group's flat block (m, v are `count` floats), so one step is one vectorizable loop and the
 * checkpoint writes the moments as single arrays. The struct is public plain data for checkpoint.c.
 * m and v are allocated through the backend that holds the group (nn/nn_internal.h). */
#ifndef UNIGFN_OPTIM_H
#define UNIGFN_OPTIM_H

#include <stdint.h>

#include "unigfn/nn.h"
#include "unigfn/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ug_optim_algo { UG_OPTIM_ADAM = 0, UG_OPTIM_ADAMW = 1, UG_OPTIM_SGD = 2 } ug_optim_algo;
typedef enum ug_lr_schedule {
    UG_SCHED_CONSTANT = 0,
    UG_SCHED_WARMUP = 1,  /* linear 0 -> lr over warmup_steps, then constant */
    UG_SCHED_COSINE = 2,  /* warm-up as above, then cosine lr -> min_lr, reached at total_steps */
} ug_lr_schedule;

typedef struct ug_optim_config {
    ug_optim_algo algorithm;
    float lr;
    float beta1, beta2, eps;   /* Adam/AdamW */
    float weight_decay;        /* Adam, SGD: L2 added to the gradient; AdamW: decoupled */
    float momentum;            /* SGD (0 = plain SGD) */
    ug_lr_schedule schedule;
    int64_t warmup_steps;
    int64_t total_steps;       /* COSINE */
    float min_lr;              /* COSINE */
    float clip_norm;           /* global L2 norm over the group; 0 = off */
    float clip_value;          /* elementwise |g| <= clip_value; 0 = off */
} ug_optim_config;

/* torch.optim defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 0 (AdamW: 0.01),
 * momentum 0, constant schedule, no clipping. */
ug_optim_config ug_optim_defaults(ug_optim_algo algorithm);

typedef struct ug_optim {
    ug_params *P;
    int group;
    ug_optim_config cfg;
    int64_t step;          /* updates done so far; the next update is step + 1 */
    int64_t count;         /* floats in m and v (the group's size when last seen) */
    float *m;              /* Adam first moment / SGD momentum buffer (NULL when momentum = 0) */
    float *v;              /* Adam second moment (NULL for SGD) */
    int device;            /* ug_device of the group's blocks: m and v are that backend's memory too */
    float last_lr;         /* lr used by the latest update (0 before the first) */
    float last_grad_norm;  /* pre-clip L2 norm of the latest step's gradient */
    ug_error err;          /* first error (bad config, non-finite gradient) */
} ug_optim;

/* Validates the config (lr >= 0, 0 <= beta < 1, eps > 0, momentum in [0, 1), steps sensible) and
 * allocates zeroed state for group `group` of P (which should be finalized). It overwrites *opt
 * without freeing: call ug_optim_free before initialising the same struct again. */
ug_status ug_optim_init(ug_optim *opt, ug_params *P, int group, const ug_optim_config *cfg);
void ug_optim_free(ug_optim *opt);
/* One update from the group's gradient block: value clip, then global-norm clip (as
 * torch.nn.utils.clip_grad_norm_: scale by clip_norm / (norm + 1e-6) when norm > clip_norm), then the
 * algorithm's update at the scheduled lr. The gradient block is clipped in place. *grad_norm (may be
 * NULL) gets the L2 norm before any clipping. A non-finite norm skips the update (parameters and
 * state untouched, step not counted) and returns UG_ERR_NUMERIC. If the group grew (re-finalize), the
 * state grows with zeros. */
ug_status ug_optim_step(ug_optim *opt, float *grad_norm);
/* lr the next step will use. */
float ug_optim_lr(const ug_optim *opt);
/* The schedule itself: lr at update number t (1-based). */
float ug_lr_at(const ug_optim_config *cfg, int64_t t);

/* "adam", "adamw", "sgd" / "constant", "warmup", "cosine"; UG_ERR_ARG if unknown. */
ug_status ug_optim_algo_from_name(const char *name, ug_optim_algo *out);
ug_status ug_lr_schedule_from_name(const char *name, ug_lr_schedule *out);
const char *ug_optim_algo_name(ug_optim_algo a);
const char *ug_lr_schedule_name(ug_lr_schedule s);

#ifdef __cplusplus
}
#endif
#endif
