/* rng.c — the generator's host side (Philox4x32-10 on a caller's buffer, single draws) and the tensor
 * samplers, whose draws the backend makes (rng_fill, rng_bernoulli, sample_categorical).
 *
 * Every draw is a pure function of (seed, stream, pos) so CPU and a future GPU backend agree bit for
 * bit on the integer words (the float transforms are exact except log/sin/cos/exp). The arithmetic is
 * in base/philox.h, shared with the CPU backend's kernels; the front-ends here check arguments,
 * allocate, call the backend and advance `pos` as rng.h's layout contract says. */
#include "unigfn/rng.h"

#include <stdbool.h>

#include "base/philox.h"
#include "tensor/internal.h"

void ug_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
    ug__philox4x32_10(ctr, key, out);
}

/* Block number `blk` of the generator without touching its state. */
static inline void block_at(const ug_rng *rng, uint64_t blk, uint32_t out[4]) {
    ug__philox_block(rng->seed, rng->stream, blk, out);
}

ug_rng ug_rng_make(uint64_t seed, uint64_t stream) {
    ug_rng r = {seed, stream, 0};
    return r;
}

void ug_rng_u32x4(ug_rng *rng, uint32_t out[4]) {
    block_at(rng, rng->pos, out);
    rng->pos++;
}

uint64_t ug_rng_u64(ug_rng *rng) {
    uint32_t w[4];
    ug_rng_u32x4(rng, w);
    return ((uint64_t)w[1] << 32) | w[0];
}

void ug_rng_uniform(ug_rng *rng, float *out, int64_t n) {
    if (!rng || !out || n <= 0) return;
    ug__philox_uniform(rng->seed, rng->stream, rng->pos, out, n);
    rng->pos += (uint64_t)(n + 3) / 4;
}

void ug_rng_normal(ug_rng *rng, float *out, int64_t n) {
    if (!rng || !out || n <= 0) return;
    ug__philox_normal(rng->seed, rng->stream, rng->pos, out, n);
    rng->pos += (uint64_t)(n + 3) / 4;
}

double ug_rng_uniform_f64(ug_rng *rng) {
    return (double)(ug_rng_u64(rng) >> 11) * 0x1p-53;
}

int64_t ug_rng_randint(ug_rng *rng, int64_t n) {
    if (!rng || n <= 0) return -1;
    uint64_t un = (uint64_t)n;
    /* Values below 2^64 mod n would be over-represented by the final modulo: reject them. */
    uint64_t threshold = (0 - un) % un;
    for (;;) {
        uint64_t x = ug_rng_u64(rng);
        if (x >= threshold) return (int64_t)(x % un);
    }
}

/* ---- Tensor samplers ---------------------------------------------------------------------- */

/* Blocks an n-element fill uses (rng.h: four values per block). */
static uint64_t blocks_for(int64_t n) { return n > 0 ? (uint64_t)(n + 3) / 4 : 0; }

static ug_tensor *rand_fill(ug_ctx *ctx, ug_rng *rng, int ndim, const int64_t *shape, int kind,
                            const char *op) {
    if (!ctx) return NULL;
    if (ug_ctx_status(ctx) != UG_OK) return NULL;
    if (!rng) {
        ug_ctx_fail(ctx, UG_ERR_ARG, "%s: rng is NULL", op);
        return NULL;
    }
    ug_tensor *t = ug_new(ctx, UG_F32, ndim, shape);  // [shape]
    if (!t) return NULL;
    ctx->be->rng_fill(kind, rng, false, 0.0f, 0.0f, t);
    rng->pos += blocks_for(ug_numel(t));
    return t;
}

ug_tensor *ug_rand_uniform(ug_ctx *ctx, ug_rng *rng, int ndim, const int64_t *shape) {
    return rand_fill(ctx, rng, ndim, shape, UG_RNG_UNIFORM, "ug_rand_uniform");
}

ug_tensor *ug_rand_normal(ug_ctx *ctx, ug_rng *rng, int ndim, const int64_t *shape) {
    return rand_fill(ctx, rng, ndim, shape, UG_RNG_NORMAL, "ug_rand_normal");
}

ug_tensor *ug_rand_bernoulli(ug_ctx *ctx, ug_rng *rng, ug_tensor *p) {
    if (!ctx) return NULL;
    if (ug_ctx_status(ctx) != UG_OK) return NULL;
    if (!rng || !p) {
        ug_ctx_fail(ctx, UG_ERR_ARG, "ug_rand_bernoulli: %s is NULL", rng ? "p" : "rng");
        return NULL;
    }
    if (p->dtype != UG_F32 || p->device != ctx->be->device) {
        ug_ctx_fail(ctx, UG_ERR_ARG, "ug_rand_bernoulli: p must be a CPU F32 tensor");
        return NULL;
    }
    ug_tensor *out = ug_new(ctx, UG_F32, p->ndim, p->shape);  // [p's shape], values 0/1
    if (!out) return NULL;
    ctx->be->rng_bernoulli(rng, p, out);
    rng->pos += blocks_for(ug_numel(p));
    return out;
}

ug_tensor *ug_sample_categorical(ug_ctx *ctx, ug_rng *rng, ug_tensor *logits, ug_tensor *mask) {
    static const char *op = "ug_sample_categorical";
    if (!ctx) return NULL;
    if (ug_ctx_status(ctx) != UG_OK) return NULL;
    if (!rng || !logits) {
        ug_ctx_fail(ctx, UG_ERR_ARG, "%s: %s is NULL", op, rng ? "logits" : "rng");
        return NULL;
    }
    char sb[64], mb[64];
    const int dev = ctx->be->device;
    if (logits->ndim != 2 || logits->dtype != UG_F32 || logits->device != dev) {
        ug_ctx_fail(ctx, UG_ERR_ARG, "%s: logits must be a CPU F32 [B, K] tensor, got %s", op,
                    ug_shape_str(logits, sb, sizeof sb));
        return NULL;
    }
    const int64_t B = logits->shape[0], K = logits->shape[1];
    if (K <= 0) {
        ug_ctx_fail(ctx, UG_ERR_ARG, "%s: logits %s has no categories", op,
                    ug_shape_str(logits, sb, sizeof sb));
        return NULL;
    }
    if (mask && (mask->ndim != 2 || mask->shape[0] != B || mask->shape[1] != K ||
                 mask->dtype != UG_F32 || mask->device != dev)) {
        ug_ctx_fail(ctx, UG_ERR_ARG, "%s: mask %s must be CPU F32 with the shape of logits %s", op,
                    ug_shape_str(mask, mb, sizeof mb), ug_shape_str(logits, sb, sizeof sb));
        return NULL;
    }
    int64_t oshape[1] = {B};
    ug_tensor *out = ug_new(ctx, UG_I32, 1, oshape);  // [B] I32
    if (!out) return NULL;
    ug_sample_fault f = {0};
    if (!ctx->be->sample_categorical(rng, logits, mask, out, &f)) {
        if (f.kind == UG_SF_BAD_LOGIT)
            ug_ctx_fail(ctx, UG_ERR_NUMERIC, "%s: row %lld has logit %g at index %lld", op, (long long)f.row,
                        (double)f.value, (long long)f.index);
        else if (f.kind == UG_SF_NO_ENTRY)
            ug_ctx_fail(ctx, UG_ERR_ARG, "%s: row %lld of %lld has no allowed entry (all masked or -inf)", op,
                        (long long)f.row, (long long)B);
        else
            ug_ctx_fail(ctx, UG_ERR_NOMEM, "%s: no memory for %lld weights", op, (long long)K);
        return NULL;  // rng untouched
    }
    rng->pos += (uint64_t)B;
    return out;
}
