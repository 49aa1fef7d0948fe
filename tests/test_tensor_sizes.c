/* test_tensor_sizes.c — sizes that do not fit are refused with an error naming the op and the shape,
 * never wrapped (base/ckd.h, issue 20 item 1): the tensor constructor's element count and bytes, a
 * broadcast or matmul result too big to exist, the arena's rounding and growth near SIZE_MAX, reshape
 * targets, ug_wrap, and parameter declaration. Before the checks, [2^61, 32] wrapped to a 0-byte
 * allocation the kernels then wrote past, and ug_arena_alloc(SIZE_MAX) returned a pointer. After each
 * refusal the context still works once its error is cleared. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "unigfn/nn.h"

/* The context's error is set, names `what`, and the context works again once cleared. */
static void expect_error(ug_ctx *ctx, const void *result, const char *what1, const char *what2) {
    const char *msg = ug_ctx_errmsg(ctx);
    CHECK(result == NULL, "a result came back for %s", what1);
    CHECK(ug_ctx_status(ctx) != UG_OK, "no error for %s", what1);
    CHECK(strstr(msg, what1) != NULL, "message '%s' does not name '%s'", msg, what1);
    if (what2) CHECK(strstr(msg, what2) != NULL, "message '%s' does not name '%s'", msg, what2);
    ug_ctx_clear_error(ctx);
    ug_tensor *t = ug_new2(ctx, 2, 3);
    CHECK(t != NULL && ug_ctx_status(ctx) == UG_OK, "the context does not work after '%s'", msg);
}

int main(void) {
    ug_ctx *ctx = ug_ctx_new(1 << 20);
    CHECK(ctx != NULL, "context");
    if (!ctx) return CHECK_DONE();

    /* the constructor: element count over int64, bytes over size_t, negative dims */
    expect_error(ctx, ug_new(ctx, UG_F32, 2, (int64_t[]){(int64_t)1 << 61, 32}), "new: shape [2305843009213693952, 32]",
                 "too many elements");
    expect_error(ctx, ug_new2(ctx, INT64_MAX, 2), "new: shape [9223372036854775807, 2]", NULL);
    expect_error(ctx, ug_new1(ctx, INT64_MAX), "new: shape [9223372036854775807]", NULL);  /* count fits, bytes do not */
    expect_error(ctx, ug_new(ctx, UG_I32, 3, (int64_t[]){1 << 30, 1 << 30, 1 << 30}), "shape [1073741824, 1073741824, 1073741824]",
                 "int32");
    expect_error(ctx, ug_new2(ctx, 4, -3), "negative dimension -3", "[4, -3]");
    /* fits the arithmetic, not the memory: an out-of-memory error naming the shape, not a crash */
    expect_error(ctx, ug_new2(ctx, (int64_t)1 << 40, (int64_t)1 << 20), "[1099511627776, 1048576]", NULL);

    /* results of ops whose inputs are fine: wrapped views over a dummy buffer (the refusal comes
     * before any kernel reads it) */
    static float dummy[4];
    const int64_t big = 3037000500;   /* big^2 > INT64_MAX */
    ug_tensor *col = ug_wrap(ctx, dummy, UG_F32, 2, (int64_t[]){big, 1});
    ug_tensor *row = ug_wrap(ctx, dummy, UG_F32, 2, (int64_t[]){1, big});
    CHECK(col && row, "wrap: %s", ug_ctx_errmsg(ctx));
    expect_error(ctx, ug_add(ctx, col, row), "add: shape [3037000500, 3037000500]", "too many elements");
    expect_error(ctx, ug_matmul(ctx, col, row), "matmul: shape [3037000500, 3037000500]", NULL);
    expect_error(ctx, ug_wrap(ctx, dummy, UG_F32, 2, (int64_t[]){big, big}), "wrap: shape [3037000500, 3037000500]", NULL);
    expect_error(ctx, ug_wrap(ctx, dummy, UG_F32, 1, (int64_t[]){-1}), "wrap: shape [-1]", NULL);

    /* reshape: a negative or overflowing target is refused, not taken for a shape of 4 elements */
    ug_tensor *x4 = ug_new1(ctx, 4);
    expect_error(ctx, ug_reshape(ctx, x4, 2, (int64_t[]){-2, -2}), "reshape", "negative");
    expect_error(ctx, ug_reshape(ctx, x4, 3, (int64_t[]){(int64_t)1 << 62, 4, 4}), "reshape", "overflows");

    /* the arena: rounding near SIZE_MAX and doubling past it */
    expect_error(ctx, ug_arena_alloc(ctx, SIZE_MAX), "arena: cannot allocate", NULL);
    expect_error(ctx, ug_arena_alloc(ctx, SIZE_MAX - 10), "arena: cannot allocate", NULL);
    expect_error(ctx, ug_arena_alloc(ctx, (size_t)1 << 63), "arena: cannot allocate", NULL);
    expect_error(ctx, ug_arena_alloc(ctx, ((size_t)1 << 62) + 1), "arena: cannot allocate", NULL);
    void *ok = ug_arena_alloc(ctx, 100);
    CHECK(ok != NULL, "a small allocation after the refusals: %s", ug_ctx_errmsg(ctx));
    if (ok) memset(ok, 1, 100);

    /* parameters: a shape whose count, or the group's total with it, overflows */
    ug_params *P = ug_params_new();
    CHECK(ug_param(P, "g", "w", 2, (int64_t[]){(int64_t)1 << 62, 4}) == NULL, "param [2^62, 4] accepted");
    CHECK(strstr(ug_params_errmsg(P), "shape [4611686018427387904, 4]"), "params: %s", ug_params_errmsg(P));
    ug_params_free(P);

    ug_ctx_free(ctx);
    return CHECK_DONE();
}
