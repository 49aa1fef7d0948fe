/* test_bw_reuse.c — memory reuse in a first-order backward (core/src/tensor/bw_reuse.c).
 * (a) A deep chain's backward holds a few tensors' worth of memory beyond the forward, not the
 *     forward's size again. (b) On a graph full of aliasing (x + x, concat and its slices, reshapes and
 *     transposes of gradients, one tensor read by several ops, broadcasting, matmul) the gradients with
 *     reuse are bit for bit those of the same backward with create_graph (no reuse, the same rules).
 * (c) What ug_grad returns survives a second backward in the same step that reuses the first one's
 *     memory, also a gradient w.r.t. an intermediate tensor. (d) After ug_arena_release the next
 *     backward still gets right gradients (freed buffers past the mark are forgotten). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "unigfn/rng.h"
#include "unigfn/tensor.h"

enum { R = 64, K = 48 };

static void deep_chain(ug_ctx *c) {
    enum { L = 64, ROWS = 128, COLS = 256 };
    ug_step_reset(c);
    ug_rng rng = ug_rng_make(1, 0);
    ug_tensor *x = ug_requires_grad(c, ug_rand_normal(c, &rng, 2, (int64_t[]){ROWS, COLS}));  // [ROWS, COLS]
    ug_tensor *h = x;
    for (int l = 0; l < L; l++) h = ug_add(c, ug_tanh(c, ug_mul_scalar(c, h, 0.9f)), h);
    ug_tensor *f = ug_sum_all(c, h), *g = NULL;
    const size_t before = ug_arena_used(c), tbytes = sizeof(float) * ROWS * COLS;
    CHECK(f && ug_grad(c, f, &x, 1, &g, false) == UG_OK, "deep chain backward: %s", ug_ctx_errmsg(c));
    const size_t used = ug_arena_used(c) - before;
    printf("deep chain: forward %zu KB, backward %zu KB beyond it (a tensor is %zu KB)\n", before / 1024,
           used / 1024, tbytes / 1024);
    CHECK(used < 8 * tbytes, "the backward of %d layers held %zu bytes (%zu a tensor)", L, used, tbytes);
}

/* f(a [R, K], b [K, R]): every kind of gradient aliasing the engine sees. */
static ug_tensor *tangle(ug_ctx *c, ug_tensor *a, ug_tensor *b, ug_tensor **mid) {
    ug_tensor *aa = ug_add(c, a, a);                                        // both gradients are one tensor
    ug_tensor *m = ug_matmul(c, aa, b);                                     // [R, R]
    ug_tensor *parts[2] = {m, ug_transpose(c, m, 0, 1)};
    ug_tensor *cat = ug_concat(c, parts, 2, 1);                             // [R, 2R]: gradients are slices
    ug_tensor *s = ug_tanh(c, ug_reshape(c, cat, 3, (int64_t[]){R, 2, R}));  // [R, 2, R]
    *mid = s;
    ug_tensor *col = ug_sum(c, s, 2, true);                                 // [R, 2, 1]
    ug_tensor *t = ug_mul(c, ug_sub(c, s, col), ug_sigmoid(c, s));          // s read three times
    ug_tensor *u = ug_reshape(c, ug_transpose(c, t, 0, 2), 2, (int64_t[]){R * 2, R});
    ug_tensor *v = ug_matmul(c, ug_transpose(c, b, 0, 1), ug_transpose(c, a, 0, 1));  // [R, R]
    ug_tensor *w = ug_add(c, ug_slice(c, u, 0, 0, R), ug_mul(c, v, ug_slice(c, u, 0, R, R)));
    return ug_mean_all(c, ug_square(c, w));
}

static bool same_bits(const ug_tensor *p, const ug_tensor *q, ug_ctx *c) {
    const float *x = ug_f32(ug_contiguous(c, (ug_tensor *)p)), *y = ug_f32(ug_contiguous(c, (ug_tensor *)q));
    return x && y && ug_numel(p) == ug_numel(q) && memcmp(x, y, sizeof(float) * (size_t)ug_numel(p)) == 0;
}

static void aliasing(ug_ctx *c) {
    static float av[R * K], bv[K * R];
    ug_rng rng = ug_rng_make(2, 0);
    ug_step_reset(c);
    ug_tensor *ra = ug_rand_normal(c, &rng, 2, (int64_t[]){R, K}), *rb = ug_rand_normal(c, &rng, 2, (int64_t[]){K, R});
    memcpy(av, ug_f32(ra), sizeof av);
    memcpy(bv, ug_f32(rb), sizeof bv);
    for (int k = 0; k < K * R; k++) bv[k] *= 0.2f;

    ug_step_reset(c);
    ug_tensor *x[2] = {ug_requires_grad(c, ug_wrap(c, av, UG_F32, 2, (int64_t[]){R, K})),
                       ug_requires_grad(c, ug_wrap(c, bv, UG_F32, 2, (int64_t[]){K, R}))};
    ug_tensor *mid, *f = tangle(c, x[0], x[1], &mid);
    ug_tensor *ref[2], *got[2], *wrt[3] = {x[0], x[1], mid}, *g3[3];
    CHECK(f && ug_grad(c, f, x, 2, ref, true) == UG_OK, "tangle with create_graph: %s", ug_ctx_errmsg(c));
    CHECK(ug_grad(c, f, x, 2, got, false) == UG_OK, "tangle: %s", ug_ctx_errmsg(c));
    CHECK(same_bits(ref[0], got[0], c) && same_bits(ref[1], got[1], c),
          "gradients with reuse differ from the same backward without it");

    /* (c) keep the gradients (one w.r.t. the intermediate `mid`), then run another backward */
    CHECK(ug_grad(c, f, wrt, 3, g3, false) == UG_OK, "tangle w.r.t. mid: %s", ug_ctx_errmsg(c));
    const int64_t nm = ug_numel(mid);
    float *keep = malloc(sizeof(float) * (size_t)(R * K + nm));
    memcpy(keep, ug_f32(ug_contiguous(c, g3[0])), sizeof(float) * R * K);
    memcpy(keep + R * K, ug_f32(ug_contiguous(c, g3[2])), sizeof(float) * (size_t)nm);
    ug_tensor *g0 = ug_contiguous(c, g3[0]), *g2 = ug_contiguous(c, g3[2]), *again[2];
    ug_tensor *f2 = ug_sum_all(c, ug_exp(c, ug_mul_scalar(c, ug_matmul(c, x[0], x[1]), 0.1f)));
    CHECK(f2 && ug_grad(c, f2, x, 2, again, false) == UG_OK, "second backward: %s", ug_ctx_errmsg(c));
    CHECK(memcmp(keep, ug_f32(g0), sizeof(float) * R * K) == 0 &&
              memcmp(keep + R * K, ug_f32(g2), sizeof(float) * (size_t)nm) == 0,
          "a gradient ug_grad returned changed during a later backward");
    CHECK(same_bits(g3[0], ref[0], c), "d/da with mid among the targets differs");
    free(keep);

    /* (d) release a scope whose backward left free buffers, then backward again */
    ug_mark m = ug_arena_mark(c);
    CHECK(ug_grad(c, f2, x, 2, again, false) == UG_OK, "backward in a scope: %s", ug_ctx_errmsg(c));
    CHECK(ug_arena_release(c, m), "release after a backward without a graph");
    ug_tensor *fill = ug_full(c, 2, (int64_t[]){R, 4 * R}, 7.0f);  // reuses the released memory
    CHECK(ug_grad(c, f, x, 2, got, false) == UG_OK && fill, "backward after release: %s", ug_ctx_errmsg(c));
    CHECK(same_bits(ref[0], got[0], c) && same_bits(ref[1], got[1], c), "gradients after a release differ");
}

int main(void) {
    ug_ctx *c = ug_ctx_new(1 << 20);
    deep_chain(c);
    aliasing(c);
    CHECK(ug_ctx_status(c) == UG_OK, "ctx: %s", ug_ctx_errmsg(c));
    ug_ctx_free(c);
    return CHECK_DONE();
}
