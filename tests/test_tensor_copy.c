/* test_tensor_copy.c — ug_tensor_set / ug_tensor_get, the host copies plugins use instead of writing
 * through ug_f32: round trips for both dtypes and for strided views (a slice, a transpose), every
 * refusal with its exact message, and the sticky-error rule (a failed context makes them no-ops). */
#include <string.h>

#include "check.h"
#include "unigfn/tensor.h"

static void expect_error(ug_ctx *ctx, ug_status st, const char *want) {
    CHECK(st == UG_ERR_ARG && ug_ctx_status(ctx) == UG_ERR_ARG, "status %d", (int)st);
    CHECK(strcmp(ug_ctx_errmsg(ctx), want) == 0, "\n  got:  %s\n  want: %s", ug_ctx_errmsg(ctx), want);
    ug_ctx_clear_error(ctx);
}

static void test_round_trips(ug_ctx *ctx) {
    const float v[6] = {1.5f, -2.0f, 0.25f, 3.0f, -0.0f, 7.0f};
    ug_tensor *x = ug_new2(ctx, 2, 3);  // [2, 3]
    CHECK(ug_tensor_set(ctx, x, v, 6) == UG_OK, "%s", ug_ctx_errmsg(ctx));
    float back[6] = {0};
    CHECK(ug_tensor_get(ctx, x, back, 6) == UG_OK, "%s", ug_ctx_errmsg(ctx));
    CHECK(memcmp(back, v, sizeof v) == 0, "F32 round trip");

    const int32_t iv[4] = {3, -1, 0, 42};
    int64_t s4 = 4;
    ug_tensor *ix = ug_new(ctx, UG_I32, 1, &s4);  // [4] I32
    int32_t iback[4] = {0};
    CHECK(ug_tensor_set(ctx, ix, iv, 4) == UG_OK && ug_tensor_get(ctx, ix, iback, 4) == UG_OK, "%s",
          ug_ctx_errmsg(ctx));
    CHECK(memcmp(iback, iv, sizeof iv) == 0, "I32 round trip");

    /* a transposed view reads in its own row-major order: [3, 2] of x^T */
    float tr[6];
    CHECK(ug_tensor_get(ctx, ug_transpose(ctx, x, 0, 1), tr, 6) == UG_OK, "%s", ug_ctx_errmsg(ctx));
    const float want_t[6] = {1.5f, 3.0f, -2.0f, -0.0f, 0.25f, 7.0f};
    CHECK(memcmp(tr, want_t, sizeof tr) == 0, "transposed get");

    /* writing a column slice changes only that column of the base */
    const float col[2] = {10.0f, 20.0f};
    ug_tensor *c1 = ug_slice(ctx, x, 1, 1, 1);  // [2, 1], stride 3
    CHECK(ug_tensor_set(ctx, c1, col, 2) == UG_OK, "%s", ug_ctx_errmsg(ctx));
    CHECK(ug_tensor_get(ctx, x, back, 6) == UG_OK, "%s", ug_ctx_errmsg(ctx));
    const float want_s[6] = {1.5f, 10.0f, 0.25f, 3.0f, 20.0f, 7.0f};
    CHECK(memcmp(back, want_s, sizeof back) == 0, "strided set");
    CHECK(ug_item(ug_slice(ctx, ug_slice(ctx, x, 0, 1, 1), 1, 1, 1)) == 20.0f, "item of a view");
}

static void test_refusals(ug_ctx *ctx) {
    float buf[8] = {0};
    ug_tensor *x = ug_new2(ctx, 2, 4);  // [2, 4]
    expect_error(ctx, ug_tensor_set(ctx, x, buf, 6), "tensor_set: host buffer of 6 elements for tensor [2, 4] of 8");
    expect_error(ctx, ug_tensor_get(ctx, x, buf, 9), "tensor_get: host buffer of 9 elements for tensor [2, 4] of 8");
    expect_error(ctx, ug_tensor_get(ctx, NULL, buf, 0), "tensor_get: the tensor is NULL");
    expect_error(ctx, ug_tensor_set(ctx, x, NULL, 8), "tensor_set: the host buffer is NULL");
    int64_t s2[2] = {3, 4};
    ug_tensor *row = ug_new2(ctx, 1, 4);  // [1, 4]
    expect_error(ctx, ug_tensor_set(ctx, ug_expand(ctx, row, 2, s2), buf, 12),
                 "tensor_set: tensor [3, 4] is a broadcast view (stride 0 on dim 0)");
    ug_tensor *w = ug_requires_grad(ctx, ug_zeros(ctx, 2, (int64_t[]){2, 4}));
    ug_tensor *y = ug_add_scalar(ctx, w, 1.0f);  // recorded
    expect_error(ctx, ug_tensor_set(ctx, y, buf, 8),
                 "tensor_set: tensor [2, 4] was produced by a recorded 'add_scalar'; writing into it would change its graph");
    CHECK(ug_tensor_get(ctx, y, buf, 8) == UG_OK && buf[0] == 1.0f, "get of a recorded tensor: %s", ug_ctx_errmsg(ctx));

    /* sticky: after a failure both are no-ops returning the first error */
    ug_ctx_fail(ctx, UG_ERR_NUMERIC, "earlier: something");
    buf[0] = 5.0f;
    CHECK(ug_tensor_get(ctx, x, buf, 8) == UG_ERR_NUMERIC && buf[0] == 5.0f, "get after an error touched the buffer");
    CHECK(ug_tensor_set(ctx, x, buf, 2) == UG_ERR_NUMERIC, "set after an error");
    CHECK(strcmp(ug_ctx_errmsg(ctx), "earlier: something") == 0, "first error kept: %s", ug_ctx_errmsg(ctx));
    ug_ctx_clear_error(ctx);
}

int main(void) {
    ug_ctx *ctx = ug_ctx_new(1 << 20);
    test_round_trips(ctx);
    test_refusals(ctx);
    ug_ctx_free(ctx);
    return CHECK_DONE();
}
