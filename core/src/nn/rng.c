/* rng.c — Philox4x32-10, the raw samplers on float arrays, and the tensor samplers built on them.
 *
 * Every draw is a pure function of (seed, stream, pos) so CPU and a future GPU backend agree bit for
 * bit on the integer words (the float transforms are exact except log/sin/cos/exp). */
#include "unigfn/rng.h"

#include "backend/cpu/cpu_exp.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u /* golden ratio */
#define PHILOX_W1 0xBB67AE85u /* sqrt(3) - 1 */

static inline void philox_round(uint32_t c[4], const uint32_t k[2]) {
    uint64_t p0 = (uint64_t)PHILOX_M0 * c[0];
    uint64_t p1 = (uint64_t)PHILOX_M1 * c[2];
    uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
    uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
    uint32_t n0 = hi1 ^ c[1] ^ k[0];
    uint32_t n2 = hi0 ^ c[3] ^ k[1];
    c[0] = n0;
    c[1] = lo1;
    c[2] = n2;
    c[3] = lo0;
}

void ug_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
    uint32_t c[4] = {ctr[0], ctr[1], ctr[2], ctr[3]};
    uint32_t k[2] = {key[0], key[1]};
    for (int r = 0; r < 10; r++) {
        if (r > 0) { /* the key schedule bumps between rounds, not before the first */
            k[0] += PHILOX_W0;
            k[1] += PHILOX_W1;
        }
        philox_round(c, k);
    }
    memcpy(out, c, sizeof c);
}

/* Block number `blk` of the generator without touching its state. */
static inline void block_at(const ug_rng *rng, uint64_t blk, uint32_t out[4]) {
    uint32_t ctr[4] = {(uint32_t)blk, (uint32_t)(blk >> 32), (uint32_t)rng->stream,
                       (uint32_t)(rng->stream >> 32)};
    uint32_t key[2] = {(uint32_t)rng->seed, (uint32_t)(rng->seed >> 32)};
    ug_philox4x32_10(ctr, key, out);
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

/* Top 24 bits -> [0, 1): exactly representable in float, so 1.0 cannot appear by rounding. */
static inline float u24(uint32_t w) { return (float)(w >> 8) * 0x1p-24f; }
/* (0, 1]: the Box–Muller radius needs log(u) finite. */
static inline float u24_open0(uint32_t w) { return (float)((w >> 8) + 1) * 0x1p-24f; }

void ug_rng_uniform(ug_rng *rng, float *out, int64_t n) {
    if (!rng || !out || n <= 0) return;
    uint64_t nblk = (uint64_t)(n + 3) / 4;
    for (uint64_t b = 0; b < nblk; b++) {
        uint32_t w[4];
        block_at(rng, rng->pos + b, w);
        int64_t i0 = (int64_t)b * 4;
        int64_t m = n - i0 < 4 ? n - i0 : 4;
        for (int64_t j = 0; j < m; j++) out[i0 + j] = u24(w[j]);
    }
    rng->pos += nblk;
}

void ug_rng_normal(ug_rng *rng, float *out, int64_t n) {
    if (!rng || !out || n <= 0) return;
    const float two_pi = 6.28318530717958647692f;
    uint64_t nblk = (uint64_t)(n + 3) / 4;
    for (uint64_t b = 0; b < nblk; b++) {
        uint32_t w[4];
        block_at(rng, rng->pos + b, w);
        int64_t i0 = (int64_t)b * 4;
        for (int pair = 0; pair < 2; pair++) {
            int64_t i = i0 + 2 * pair;
            if (i >= n) break;
            float r = sqrtf(-2.0f * logf(u24_open0(w[2 * pair])));
            float th = two_pi * u24(w[2 * pair + 1]);
            out[i] = r * cosf(th);
            if (i + 1 < n) out[i + 1] = r * sinf(th);
        }
    }
    rng->pos += nblk;
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

/* Offset (in elements) of the i-th element in row-major order of a possibly strided tensor. */
static int64_t elem_offset(const ug_tensor *t, int64_t i) {
    int64_t off = 0;
    for (int d = t->ndim - 1; d >= 0; d--) {
        int64_t n = t->shape[d];
        off += (i % n) * t->stride[d];
        i /= n;
    }
    return off;
}

static ug_tensor *rand_fill(ug_ctx *ctx, ug_rng *rng, int ndim, const int64_t *shape, int normal,
                            const char *op) {
    if (!ctx) return NULL;
    if (ug_ctx_status(ctx) != UG_OK) return NULL;
    if (!rng) {
        ug_ctx_fail(ctx, UG_ERR_ARG, "%s: rng is NULL", op);
        return NULL;
    }
    ug_tensor *t = ug_new(ctx, UG_F32, ndim, shape);  // [shape]
    if (!t) return NULL;
    if (normal)
        ug_rng_normal(rng, ug_f32(t), ug_numel(t));
    else
        ug_rng_uniform(rng, ug_f32(t), ug_numel(t));
    return t;
}

ug_tensor *ug_rand_uniform(ug_ctx *ctx, ug_rng *rng, int ndim, const int64_t *shape) {
    return rand_fill(ctx, rng, ndim, shape, 0, "ug_rand_uniform");
}

ug_tensor *ug_rand_normal(ug_ctx *ctx, ug_rng *rng, int ndim, const int64_t *shape) {
    return rand_fill(ctx, rng, ndim, shape, 1, "ug_rand_normal");
}

ug_tensor *ug_rand_bernoulli(ug_ctx *ctx, ug_rng *rng, ug_tensor *p) {
    if (!ctx) return NULL;
    if (ug_ctx_status(ctx) != UG_OK) return NULL;
    if (!rng || !p) {
        ug_ctx_fail(ctx, UG_ERR_ARG, "ug_rand_bernoulli: %s is NULL", rng ? "p" : "rng");
        return NULL;
    }
    if (p->dtype != UG_F32 || p->device != UG_CPU) {
        ug_ctx_fail(ctx, UG_ERR_ARG, "ug_rand_bernoulli: p must be a CPU F32 tensor");
        return NULL;
    }
    ug_tensor *out = ug_new(ctx, UG_F32, p->ndim, p->shape);  // [p's shape], values 0/1
    if (!out) return NULL;
    int64_t n = ug_numel(p);
    float *o = ug_f32(out);
    ug_rng_uniform(rng, o, n);  // u_i, replaced in place by the indicator
    const float *pd = ug_f32(p);
    bool contig = ug_is_contiguous(p);
    for (int64_t i = 0; i < n; i++) {
        float pi = contig ? pd[i] : pd[elem_offset(p, i)];
        o[i] = o[i] < pi ? 1.0f : 0.0f;
    }
    return out;
}

/* The weights of one contiguous, unmasked row of logits: w[k] = exp(l[k] - max l) (float exp, as the
 * general row_weights below, so the draws are the same), their double total and the last positive
 * one. The max and the exps run 8 lanes wide; as one scalar loop this was ~4% of an MLE-GFN iteration.
 * False, with nothing decided, for a row with NaN or +inf or with no finite entry: row_weights then
 * reports it. */
static bool row_weights_contiguous(const float *l, int64_t K, float *wf, double *w, double *total, int64_t *last) {
    float m8[8];
    uint32_t bad8[8];
    for (int j = 0; j < 8; j++) m8[j] = -INFINITY, bad8[j] = 0;
    int64_t k = 0;
    for (; k + 8 <= K; k += 8)
        for (int j = 0; j < 8; j++) {
            float x = l[k + j];
            bad8[j] |= (uint32_t)(x != x) | (uint32_t)(x == INFINITY);
            m8[j] = ug_cpu_select(x > m8[j], x, m8[j]);
        }
    float mx = -INFINITY;
    uint32_t bad = 0;
    for (; k < K; k++) {
        bad |= (uint32_t)(l[k] != l[k]) | (uint32_t)(l[k] == INFINITY);
        if (l[k] > mx) mx = l[k];
    }
    for (int j = 0; j < 8; j++) {
        bad |= bad8[j];
        if (m8[j] > mx) mx = m8[j];
    }
    if (bad || mx == -INFINITY) return false;
    for (k = 0; k < K; k++) wf[k] = ug_cpu_expf(l[k] - mx);
    double t = 0.0;
    int64_t lp = -1;
    for (k = 0; k < K; k++) {
        w[k] = (double)wf[k];
        t += w[k];
        if (wf[k] > 0.0f) lp = k;
    }
    *total = t;
    *last = lp;
    return true;
}

/* The same for any row (strided, masked: mask 0 = not allowed), with the messages for a bad row. */
static ug_status row_weights(ug_ctx *ctx, const char *op, int64_t b, int64_t B, const float *lr, int64_t ls1,
                             const float *mr, int64_t ms1, int64_t K, double *w, double *total, int64_t *last) {
    float mx = -INFINITY;
    for (int64_t k = 0; k < K; k++) {
        if (mr && mr[k * ms1] == 0.0f) continue;
        float l = lr[k * ls1];
        if (isnan(l) || l == INFINITY)
            return ug_ctx_fail(ctx, UG_ERR_NUMERIC, "%s: row %lld has logit %g at index %lld", op, (long long)b,
                               (double)l, (long long)k);
        if (l > mx) mx = l;
    }
    if (mx == -INFINITY)
        return ug_ctx_fail(ctx, UG_ERR_ARG, "%s: row %lld of %lld has no allowed entry (all masked or -inf)", op,
                           (long long)b, (long long)B);
    double t = 0.0;
    int64_t lp = -1;
    for (int64_t k = 0; k < K; k++) {
        double wk = 0.0;
        /* float exp (cpu_exp.h, within 1 ulp; glibc's double exp was ~1.5% of a training
         * iteration); the cumulative sum stays double */
        if (!(mr && mr[k * ms1] == 0.0f)) wk = (double)ug_cpu_expf(lr[k * ls1] - mx);
        w[k] = wk;
        t += wk;
        if (wk > 0.0) lp = k;
    }
    *total = t;
    *last = lp;
    return UG_OK;
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
    if (logits->ndim != 2 || logits->dtype != UG_F32 || logits->device != UG_CPU) {
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
                 mask->dtype != UG_F32 || mask->device != UG_CPU)) {
        ug_ctx_fail(ctx, UG_ERR_ARG, "%s: mask %s must be CPU F32 with the shape of logits %s", op,
                    ug_shape_str(mask, mb, sizeof mb), ug_shape_str(logits, sb, sizeof sb));
        return NULL;
    }
    int64_t oshape[1] = {B};
    ug_tensor *out = ug_new(ctx, UG_I32, 1, oshape);  // [B] I32
    if (!out) return NULL;
    int32_t *o = ug_i32(out);
    const float *L = ug_f32(logits);
    const float *M = mask ? ug_f32(mask) : NULL;
    const int64_t ls0 = logits->stride[0], ls1 = logits->stride[1];
    const int64_t ms0 = mask ? mask->stride[0] : 0, ms1 = mask ? mask->stride[1] : 0;
    double *w = malloc((size_t)K * (sizeof *w + sizeof(float)));  // [K] unnormalised probabilities of one row
    float *wf = (float *)(w + K);                                   // [K] the same in float
    if (!w) {
        ug_ctx_fail(ctx, UG_ERR_NOMEM, "%s: no memory for %lld weights", op, (long long)K);
        return NULL;
    }
    const uint64_t pos0 = rng->pos;
    ug_status st = UG_OK;
    for (int64_t b = 0; b < B && st == UG_OK; b++) {
        const float *lr = L + b * ls0;
        const float *mr = M ? M + b * ms0 : NULL;
        double total = 0.0;
        int64_t last = -1;  // last entry with positive weight: the fallback for rounding at the top
        if (!(!mr && ls1 == 1 && row_weights_contiguous(lr, K, wf, w, &total, &last)) &&
            (st = row_weights(ctx, op, b, B, lr, ls1, mr, ms1, K, w, &total, &last)) != UG_OK)
            break;
        uint32_t words[4];
        block_at(rng, pos0 + (uint64_t)b, words);
        double u = (double)((((uint64_t)words[1] << 32) | words[0]) >> 11) * 0x1p-53 * total;
        double cum = 0.0;
        int64_t pick = last;
        /* First k whose cumulative weight exceeds u: zero-weight entries can never be it. */
        for (int64_t k = 0; k < K; k++) {
            cum += w[k];
            if (cum > u && w[k] > 0.0) {
                pick = k;
                break;
            }
        }
        o[b] = (int32_t)pick;
    }
    free(w);
    if (st != UG_OK) return NULL;
    rng->pos = pos0 + (uint64_t)B;
    return out;
}
