/* rng.h — counter-based random numbers (Philox4x32-10) and the tensor samplers built on them.
 *
 * Why counter-based: a draw is a pure function of (seed, stream, position), so a run is reproducible
 * from three integers, the state checkpoints as plain data, independent streams need no coordination,
 * and a GPU kernel can compute the same numbers element by element.
 *
 * Philox4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel random numbers: as easy as 1, 2, 3", SC 2011):
 * key = the 64-bit seed (low word first), counter = (64-bit position, 64-bit stream), low words first.
 * One counter value ("block") gives four 32-bit words; `pos` counts blocks consumed.
 *
 * Layout contract (so another backend can reproduce a call exactly):
 *  - ug_rng_uniform / ug_rng_normal of n values: element i comes from block pos + i/4, word i%4
 *    (normal: words 2j, 2j+1 of a block make the Box–Muller pair for elements 2j, 2j+1); then
 *    pos += ceil(n/4).
 *  - ug_rng_uniform_f64 and ug_rng_u64: one block per call.
 *  - ug_sample_categorical over B rows: row b uses block pos + b (53-bit uniform from words 0,1);
 *    then pos += B.
 *
 * The tensor samplers never record autograd nodes: their outputs are constants. */
#ifndef UNIGFN_RNG_H
#define UNIGFN_RNG_H

#include <stdint.h>

#include "unigfn/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Plain data on purpose: save it with a memcpy, restore it the same way. */
typedef struct ug_rng {
    uint64_t seed;    /* Philox key */
    uint64_t stream;  /* high half of the counter: independent sequences for one seed */
    uint64_t pos;     /* low half of the counter: blocks consumed so far */
} ug_rng;

ug_rng ug_rng_make(uint64_t seed, uint64_t stream);

/* The bare bijection: Philox4x32-10 of counter ctr under key. */
void ug_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* The next block (four 32-bit words); pos += 1. */
void ug_rng_u32x4(ug_rng *rng, uint32_t out[4]);
/* 64 uniform bits from one block (words 0 and 1); pos += 1. */
uint64_t ug_rng_u64(ug_rng *rng);
/* n floats in [0, 1) on a 2^-24 grid (never 1.0). */
void ug_rng_uniform(ug_rng *rng, float *out, int64_t n);
/* n standard normals by Box–Muller; the radius uses u in (0, 1], so log(0) never happens. */
void ug_rng_normal(ug_rng *rng, float *out, int64_t n);
/* One double in [0, 1) on a 2^-53 grid; one block. */
double ug_rng_uniform_f64(ug_rng *rng);
/* Uniform integer in [0, n) without modulo bias (rejection); -1 if n <= 0. */
int64_t ug_rng_randint(ug_rng *rng, int64_t n);

/* ---- Tensor samplers (results in the step arena, F32 unless said otherwise) ---------------- */
ug_tensor *ug_rand_uniform(ug_ctx *ctx, ug_rng *rng, int ndim, const int64_t *shape);  /* U[0,1) */
ug_tensor *ug_rand_normal(ug_ctx *ctx, ug_rng *rng, int ndim, const int64_t *shape);   /* N(0,1) */
/* out[i] = (u_i < p[i]) ? 1 : 0, same shape as p; p may be any strided F32 tensor. */
ug_tensor *ug_rand_bernoulli(ug_ctx *ctx, ug_rng *rng, ug_tensor *p);
/* One index per row of softmax(logits) restricted to mask != 0 (mask NULL = all allowed).
 * logits [B, K] F32, mask [B, K] F32 or NULL -> I32 [B]. Inverse CDF on the max-shifted softmax
 * (double accumulation). A -inf logit is a zero-probability entry; a row with no allowed entry of
 * finite logit, or a NaN/+inf logit, is an error that names the row. */
ug_tensor *ug_sample_categorical(ug_ctx *ctx, ug_rng *rng, ug_tensor *logits, ug_tensor *mask);

#ifdef __cplusplus
}
#endif
#endif
