/* backend.h — the kernel table an op front-end calls (CPU now; a CUDA table slots in later).
 *
 * Front-ends (ops_*.c) check shapes, allocate outputs and record tape nodes; a backend only computes.
 * Every kernel receives tensor headers so a device backend can read its own pointers from them.
 * Outputs are contiguous unless a kernel says otherwise. Tensor storage comes from the backend too:
 * the step arena's data blocks, parameter and gradient blocks, optimizer moments. */
#ifndef UG_BACKEND_H
#define UG_BACKEND_H

#include <stddef.h>

#include "unigfn/tensor.h"

/* Unary functions with their first and second derivatives (order 0, 1, 2). */
typedef enum ug_unary_kind {
    UG_U_EXP, UG_U_LOG, UG_U_LOG1P, UG_U_SQRT, UG_U_SQUARE, UG_U_ABS, UG_U_CLAMP, UG_U_RELU,
    UG_U_LEAKY, UG_U_ELU, UG_U_SILU, UG_U_GELU, UG_U_SIGMOID, UG_U_TANH, UG_U_SOFTPLUS, UG_U_POWS,
    UG_U_COUNT
} ug_unary_kind;

typedef enum ug_binary_kind { UG_B_ADD, UG_B_SUB, UG_B_MUL, UG_B_DIV, UG_B_POW, UG_B_GE } ug_binary_kind;
typedef enum ug_reduce_kind { UG_R_SUM, UG_R_MAX, UG_R_LSE } ug_reduce_kind;

typedef struct ug_backend {
    const char *name;
    int device;              /* ug_device of the memory this backend owns */

    /* ---- storage ---- */
    void *(*alloc)(size_t bytes);                                  /* 64-byte aligned; NULL on failure */
    void (*free)(void *p);                                         /* NULL is fine */
    void (*zero)(void *p, size_t bytes);
    void (*to_device)(void *dst, const void *src, size_t bytes);   /* host buffer -> device memory */
    void (*to_host)(void *dst, const void *src, size_t bytes);     /* device memory -> host buffer */

    /* y = f^(order)(x; p[0], p[1]) elementwise; x and y contiguous, same numel. */
    void (*unary)(int kind, int order, const float *p, const ug_tensor *x, ug_tensor *y);
    /* y = g * f^(order)(x; p) elementwise (a unary op's backward without a graph); x, g and y
     * contiguous, same numel. */
    void (*unary_mul)(int kind, int order, const float *p, const ug_tensor *x, const ug_tensor *g, ug_tensor *y);
    /* y = a*x + b; x and y contiguous. */
    void (*affine)(float a, float b, const ug_tensor *x, ug_tensor *y);
    /* out = a (op) b with broadcasting; out contiguous with the broadcast shape. */
    void (*binary)(int kind, const ug_tensor *a, const ug_tensor *b, ug_tensor *out);
    /* out = c != 0 ? a : b with broadcasting. */
    void (*where)(const ug_tensor *c, const ug_tensor *a, const ug_tensor *b, ug_tensor *out);
    /* Reduce contiguous x along axis into out (keepdim layout); argmax (I32) may be NULL. */
    void (*reduce)(int kind, const ug_tensor *x, int axis, ug_tensor *out, ug_tensor *argmax);
    /* Softmax or log-softmax of contiguous x along axis. */
    void (*softmax)(bool log, const ug_tensor *x, int axis, ug_tensor *out);
    /* C[b] = op(A[b]) @ op(B[b]) (+ C[b] if accumulate) for `batch` matrices; row-major. */
    void (*gemm)(int batch, bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float *const *a,
                 int64_t lda, const float *const *b, int64_t ldb, float *const *c, int64_t ldc,
                 bool accumulate);
    /* dst = src elementwise for any strides (same shape; same dtype). */
    void (*copy)(const ug_tensor *src, ug_tensor *dst);
    void (*fill)(ug_tensor *dst, float v);            /* contiguous f32 */
    void (*gather)(const ug_tensor *x, int axis, const ug_tensor *idx, ug_tensor *out);
    /* out (contiguous, already holding x) [idx along axis] += src. */
    void (*scatter_add)(ug_tensor *out, int axis, const ug_tensor *idx, const ug_tensor *src);
    void (*one_hot)(const ug_tensor *idx, ug_tensor *out);
    /* y += a*x; both contiguous with the same numel (gradient accumulation). */
    void (*axpy)(float a, const ug_tensor *x, ug_tensor *y);
} ug_backend;

extern const ug_backend ug_cpu_backend;

/* The backend owning memory of `device`, or NULL when this build has none for it. */
const ug_backend *ug_backend_get(int device);

#endif
