/* test_arena_scope.c — scoped step memory (tensor.h: ug_arena_mark / ug_arena_release / ug_copy_into).
 * A 200-step sampling chain of a 3-layer MLP at batch 256 without grad keeps its peak arena within 2x
 * of one step's, also when the steps overflow the arena's first block (release across blocks); with
 * grad on, release refuses and the tape stays whole (the gradient through the chain is right); a mark
 * from before ug_step_reset is stale; copy_into's refusals. Prints the arena figures. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "unigfn/nn.h"

/* CHAIN: long enough to show a flat peak against 50 unscoped steps' growth, short enough for a
 * sanitizer build on a busy machine (1000 steps took 28 s of a release build on a loaded 2-core machine). */
enum { B = 256, D = 64, CHAIN = 200 };

typedef struct chain {
    ug_params *P;
    ug_mlp mlp;
} chain;

static void chain_init(chain *c) {
    c->P = ug_params_new();
    ug_rng rng = ug_rng_make(3, 0);
    const int64_t widths[4] = {D, 256, 256, D};
    CHECK(ug_mlp_init(&c->mlp, c->P, "forward", "f", widths, 4, UG_ACT_TANH, 0, &rng) == UG_OK, "mlp init");
    ug_params_finalize(c->P);
}

/* One step of the walk: s' = s + 0.1 tanh(f(s)) + 0.01 eps ([B, D]); a few temporaries besides the MLP. */
static ug_tensor *walk(ug_ctx *ctx, chain *c, ug_rng *rng, ug_tensor *s) {
    int64_t sh[2] = {B, D};
    ug_tensor *f = ug_tanh(ctx, ug_mlp_forward(ctx, &c->mlp, s));
    ug_tensor *eps = ug_rand_normal(ctx, rng, 2, sh);
    return ug_add(ctx, ug_add(ctx, s, ug_mul_scalar(ctx, f, 0.1f)), ug_mul_scalar(ctx, eps, 0.01f));
}

/* T scoped steps from zeros; returns the arena's peak in bytes. */
static size_t run_chain(size_t arena_bytes, int T, bool scoped, float *out_first) {
    chain c;
    chain_init(&c);
    ug_ctx *ctx = ug_ctx_new(arena_bytes);
    ug_set_grad_enabled(ctx, false);
    ug_rng rng = ug_rng_make(5, 1);
    int64_t sh[2] = {B, D};
    ug_tensor *s = ug_zeros(ctx, 2, sh);  // [B, D] the state kept across steps
    int refused = 0;
    for (int t = 0; t < T; t++) {
        ug_mark m = ug_arena_mark(ctx);
        ug_tensor *next = walk(ctx, &c, &rng, s);
        if (scoped) {
            CHECK(ug_copy_into(ctx, s, next) == UG_OK, "copy_into: %s", ug_ctx_errmsg(ctx));
            refused += !ug_arena_release(ctx, m);
        } else {
            s = next;
        }
    }
    CHECK(refused == 0, "release refused %d times without grad", refused);
    CHECK(ug_ctx_status(ctx) == UG_OK, "chain: %s", ug_ctx_errmsg(ctx));
    float v[B * D];
    ug_tensor_get(ctx, s, v, B * D);
    if (out_first) *out_first = v[0];
    size_t peak = ug_arena_peak(ctx);
    ug_ctx_free(ctx);
    ug_params_free(c.P);
    return peak;
}

static void test_chain_memory(void) {
    float a = 0, b = 0, d = 0;
    size_t one = run_chain(64u << 20, 1, true, NULL);
    size_t many = run_chain(64u << 20, CHAIN, true, &a);
    /* 1 MB arena: every step overflows the first block, so release must unwind across blocks */
    size_t small = run_chain(1u << 20, CHAIN, true, &b);
    size_t kept50 = run_chain(64u << 20, 50, false, &d);
    printf("arena peak: one step %.2f MB; %d scoped steps %.2f MB (%.2fx); %d scoped steps from a 1 MB arena "
           "%.2f MB; 50 unscoped steps %.2f MB (%d would hold ~%.0f MB)\n",
           one / 1e6, CHAIN, many / 1e6, (double)many / (double)one, CHAIN, small / 1e6, kept50 / 1e6, CHAIN,
           kept50 / 1e6 * CHAIN / 50);
    CHECK(many <= 2 * one, "%d scoped steps: peak %zu bytes, one step %zu", CHAIN, many, one);
    CHECK(small <= 2 * one, "across blocks: peak %zu bytes, one step %zu", small, one);
    CHECK(kept50 > 10 * one, "without release the arena grows with the steps (%zu vs %zu)", kept50, one);
    CHECK(a == b && isfinite(a), "the same chain whatever the arena's blocks (%g, %g)", (double)a, (double)b);
}

/* With grad on, release keeps the tape: d sum(s_T) / d(bias of the last layer) through 5 steps equals
 * a central finite difference. */
static double chain_value(chain *c, ug_ctx *ctx, int T) {
    ug_rng rng = ug_rng_make(5, 1);
    int64_t sh[2] = {B, D};
    ug_tensor *s = ug_zeros(ctx, 2, sh);
    for (int t = 0; t < T; t++) s = walk(ctx, c, &rng, s);
    double v = ug_item(ug_sum_all(ctx, s));
    ug_step_reset(ctx);
    return v;
}

static void test_grad_keeps_tape(void) {
    chain c;
    chain_init(&c);
    ug_ctx *ctx = ug_ctx_new(64u << 20);
    ug_rng rng = ug_rng_make(5, 1);
    int64_t sh[2] = {B, D};
    ug_tensor *s = ug_zeros(ctx, 2, sh), *keep = ug_zeros(ctx, 2, sh);
    int released = 0;
    for (int t = 0; t < 5; t++) {
        ug_mark m = ug_arena_mark(ctx);
        ug_tensor *next = walk(ctx, &c, &rng, s);
        CHECK(ug_copy_into(ctx, keep, next) == UG_ERR_ARG && strstr(ug_ctx_errmsg(ctx), "carries a graph"),
              "copy_into refuses a graph under grad: %s", ug_ctx_errmsg(ctx));
        ug_ctx_clear_error(ctx);
        released += ug_arena_release(ctx, m);
        s = next;
    }
    CHECK(released == 0, "release refused with tape nodes since the mark (%d released)", released);
    ug_tensor *bias = c.mlp.layers[2].b, *g[1] = {0};
    CHECK(ug_grad(ctx, ug_sum_all(ctx, s), &bias, 1, g, false) == UG_OK, "grad: %s", ug_ctx_errmsg(ctx));
    float gv[D];
    ug_tensor_get(ctx, g[0], gv, D);
    ug_step_reset(ctx);
    float *bv = (float *)bias->data;
    const float h = 1e-2f, b0 = bv[7];
    ug_set_grad_enabled(ctx, false);
    bv[7] = b0 + h;
    double up = chain_value(&c, ctx, 5);
    bv[7] = b0 - h;
    double dn = chain_value(&c, ctx, 5);
    bv[7] = b0;
    CHECK_CLOSE(gv[7], (up - dn) / (2 * h), 2e-2, 0.5);
    /* a mark from before ug_step_reset is stale */
    ug_mark m = ug_arena_mark(ctx);
    ug_zeros(ctx, 2, sh);
    ug_step_reset(ctx);
    CHECK(!ug_arena_release(ctx, m), "a stale mark is refused");
    /* copy_into refusals */
    ug_tensor *x = ug_zeros(ctx, 2, sh), *y = ug_zeros(ctx, 1, (int64_t[]){D});
    CHECK(ug_copy_into(ctx, x, y) == UG_ERR_ARG && strstr(ug_ctx_errmsg(ctx), "differ"), "shape: %s", ug_ctx_errmsg(ctx));
    ug_ctx_clear_error(ctx);
    CHECK(ug_copy_into(ctx, c.mlp.layers[0].b, ug_zeros(ctx, 1, (int64_t[]){256})) == UG_ERR_ARG && strstr(ug_ctx_errmsg(ctx), "parameter"),
          "into a parameter: %s", ug_ctx_errmsg(ctx));
    ug_ctx_clear_error(ctx);
    ug_ctx_free(ctx);
    ug_params_free(c.P);
}

int main(void) {
    test_chain_memory();
    test_grad_keeps_tape();
    return CHECK_DONE();
}
