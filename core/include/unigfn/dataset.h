/* dataset.h — what a dataset plugin provides: its space, training batches, a fixed held-out set,
 * fresh true samples (for sample-based metrics) and optional decoding of x for pictures. */
#ifndef UNIGFN_DATASET_H
#define UNIGFN_DATASET_H

#include "unigfn/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ug_dataset_info {
    uint32_t size;
    ug_space space;
    int64_t train_size;     /* -1 for online generators (every batch is fresh) */
    int64_t heldout_size;   /* number of held-out examples */
    int32_t decoded_dim;    /* dimension of decode() output: 2 for 2-D points, 0 if no decoder */
} ug_dataset_info;

typedef struct ug_dataset_vtable {
    uint32_t size;
    void (*info)(void *self, ug_dataset_info *out);
    /* A training batch [B, D] for training step `step` (online generators draw fresh data from rng). */
    ug_status (*train_batch)(void *self, ug_ctx *ctx, ug_rng *rng, int64_t batch, int64_t step, ug_tensor **out);
    /* Held-out examples [count, D] starting at `offset` (the same on every call). */
    ug_status (*heldout)(void *self, ug_ctx *ctx, int64_t offset, int64_t count, ug_tensor **out);
    /* Fresh samples of the true distribution [count, D] (online generators) or a random subset. */
    ug_status (*sample_true)(void *self, ug_ctx *ctx, ug_rng *rng, int64_t count, ug_tensor **out);
    /* Optional: x [B, D] -> decoded [B, decoded_dim] (Gray code -> 2-D points); NULL if absent. */
    ug_status (*decode)(void *self, ug_ctx *ctx, ug_tensor *x, ug_tensor **out);
    /* ---- appended in ABI 1.1 ---- */
    /* Optional: the unnormalized log density of the target, log R(x) [B] for x [B, D] — the sampling
     * setting of the paper's §2.3, where a reward is given instead of (or beside) data. Objectives
     * with `reward: data` train against it; NULL if absent. */
    ug_tensor *(*log_reward)(void *self, ug_ctx *ctx, ug_tensor *x);
} ug_dataset_vtable;

typedef struct ug_dataset {
    uint32_t size;
    const ug_dataset_vtable *vt;
    void *self;
    ug_dataset_info info;
    const char *name;
} ug_dataset;

#ifdef __cplusplus
}
#endif
#endif
