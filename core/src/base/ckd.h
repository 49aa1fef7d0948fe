/* ckd.h — checked size arithmetic: the one place the core multiplies, adds and rounds the sizes that
 * become allocations (a tensor's element count and bytes in tensor/tensor.c, the arena's rounding and
 * block growth in tensor/ctx.c, reshape targets in ops/ops_shape.c).
 *
 * Every size that reaches an allocation can come from a spec (train.batch, a metric's particles, a
 * layer width) or from a file, so it is hostile until checked: an int64 product that wraps gives a
 * small or negative count, the allocation then succeeds and the kernels write past it. Each helper
 * returns false, leaving *out unset, instead of wrapping; the caller reports the op and the shape.
 * C23's <stdckdint.h> is the standard spelling of the same thing; GCC and Clang have had the builtins
 * since GCC 5 / Clang 3.8, which is what C11 builds here get. */
#ifndef UG_CKD_H
#define UG_CKD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

static inline bool ug_ckd_mul_i64(int64_t a, int64_t b, int64_t *out) { return !__builtin_mul_overflow(a, b, out); }
static inline bool ug_ckd_add_i64(int64_t a, int64_t b, int64_t *out) { return !__builtin_add_overflow(a, b, out); }
static inline bool ug_ckd_mul_size(size_t a, size_t b, size_t *out) { return !__builtin_mul_overflow(a, b, out); }
static inline bool ug_ckd_add_size(size_t a, size_t b, size_t *out) { return !__builtin_add_overflow(a, b, out); }

/* bytes rounded up to a multiple of align (a power of two). */
static inline bool ug_ckd_round_up(size_t bytes, size_t align, size_t *out) {
    size_t t;
    if (!ug_ckd_add_size(bytes, align - 1, &t)) return false;
    *out = t & ~(align - 1);
    return true;
}

/* The element count of a shape: every dimension >= 0 and the product within int64. */
static inline bool ug_ckd_numel(int ndim, const int64_t *shape, int64_t *out) {
    int64_t n = 1;
    for (int d = 0; d < ndim; d++)
        if (shape[d] < 0 || !ug_ckd_mul_i64(n, shape[d], &n)) return false;
    *out = n;
    return true;
}

#endif
