/* backend.h — the seam between the numerics front-ends and the code that touches tensor memory.
 *
 * Everything above this table (op front-ends in ops/, construction and ug_tensor_get/set in tensor/,
 * parameters, initialisers, optimizers and samplers in nn/) checks shapes and dtypes, allocates
 * through the table, makes one call and records the tape node; none of it reads or writes tensor
 * data. What stays on the host whatever the backend: tensor headers, tape nodes and the arenas'
 * bookkeeping, shapes and strides, the rng state (three integers, rng.h), error messages.
 *
 * A new backend (CUDA next) implements every entry below for memory of its own device, takes a
 * ug_device value, and gets a case in ug_backend_get (backend.c). The contract:
 *  - Storage. `alloc` returns device memory aligned to 64 bytes, uninitialised, or NULL; the step
 *    arena's data blocks, parameter and gradient blocks (and their staging buffers) and optimizer
 *    moments all come from it. `to_device` / `to_host` copy bytes between a host buffer and device
 *    memory: the only way a front-end sees a value (ug_item, an index check's message, ug_tensor_get).
 *  - Kernels get tensor headers (host structs) whose `data` points into this backend's memory, and
 *    read shapes and strides from them; the optimizer entries take flat device blocks and a count.
 *    Outputs are contiguous unless an entry says otherwise. Kernels do not fail: front-ends checked
 *    everything, except where an entry returns what went wrong (index_check, sample_categorical).
 *  - Results match the CPU backend: bit for bit for copies, indexing, fills and the RNG's integer
 *    words (rng.h's layout contract), and the optimizer's arithmetic follows cpu_optim.c's order;
 *    elsewhere within float rounding.
 *  - GEMM goes through `gemm` only (the CPU one calls cblas_sgemm, which tools/bench counts).
 * The CPU backend: cpu_kernels.c (the table; elementwise, reductions, GEMM, copies, indexing),
 * cpu_unary.c, cpu_storage.c, cpu_rng.c, cpu_optim.c, cpu_conv.c (im2col / col2im), cpu_norm.c (group norm).
 * Not on the seam yet: ug_ctx_new and ug_params_new always take the CPU table (nothing selects a
 * device); ug_wrap wraps the caller's memory as it is; ug_f32 / ug_i32 still hand out raw pointers,
 * which host tools and the test plugins read through. */
#ifndef UG_BACKEND_H
#define UG_BACKEND_H

#include <stddef.h>

#include "unigfn/rng.h"
#include "unigfn/tensor.h"

/* Unary functions with their first and second derivatives (order 0, 1, 2). */
typedef enum ug_unary_kind {
    UG_U_EXP, UG_U_LOG, UG_U_LOG1P, UG_U_SQRT, UG_U_SQUARE, UG_U_ABS, UG_U_CLAMP, UG_U_RELU,
    UG_U_LEAKY, UG_U_ELU, UG_U_SILU, UG_U_GELU, UG_U_SIGMOID, UG_U_TANH, UG_U_SOFTPLUS, UG_U_POWS,
    UG_U_SIN, UG_U_COS, UG_U_ERF,
    UG_U_COUNT
} ug_unary_kind;

/* Binary kinds from UG_B_GE on are comparisons: 1.0f where (a op b) holds, else 0.0f (NaN: 0).
 * UG_B_LAE is log(exp a + exp b), computed as logsumexp computes a pair (max + log of the sum of
 * exps), so the two agree bit for bit. */
typedef enum ug_binary_kind {
    UG_B_ADD, UG_B_SUB, UG_B_MUL, UG_B_DIV, UG_B_POW, UG_B_LAE, UG_B_GE, UG_B_GT, UG_B_LE, UG_B_LT, UG_B_EQ
} ug_binary_kind;
typedef enum ug_reduce_kind { UG_R_SUM, UG_R_MAX, UG_R_LSE } ug_reduce_kind;
typedef enum ug_scan_kind { UG_S_SUM, UG_S_PROD } ug_scan_kind;
typedef enum ug_rng_kind { UG_RNG_UNIFORM, UG_RNG_NORMAL } ug_rng_kind;

/* c = alpha * op(a) @ op(b) + beta * c for every matrix of the batch. op(a) is [..., M, K]: a itself,
 * or with ta its last two dims swapped (likewise b, [..., K, N]). c is contiguous [..., M, N]; its
 * leading dims are the batch, and a's and b's leading dims broadcast to them (right-aligned, missing
 * or size 1 = the same matrix for every index). The last two dims of a and b must pass
 * ug_gemm_layout_of (row- or column-major with a leading dimension): front-ends make them contiguous
 * otherwise. */
typedef struct ug_gemm_args {
    const ug_tensor *a, *b;
    ug_tensor *c;
    bool ta, tb;
    float alpha, beta;
} ug_gemm_args;

/* How a matrix (the last two dims of x, R x C) is handed to a row-major GEMM: as stored with leading
 * dimension ld (trans false), or as the transpose of a row-major C x R matrix (trans true). False when
 * neither describes x's strides. Shared by the front-ends (to decide on a copy) and the backends. */
typedef struct ug_gemm_layout {
    bool trans;
    int64_t ld;
} ug_gemm_layout;
static inline bool ug_gemm_layout_of(const ug_tensor *x, ug_gemm_layout *v) {
    int r = x->ndim - 2, c = x->ndim - 1;
    int64_t R = x->shape[r], C = x->shape[c];
    if ((C == 1 || x->stride[c] == 1) && (R == 1 || x->stride[r] >= C)) {
        v->trans = false;
        v->ld = R == 1 ? (C > 1 ? C : 1) : x->stride[r];
        return true;
    }
    if ((R == 1 || x->stride[r] == 1) && (C == 1 || x->stride[c] >= R)) {
        v->trans = true;
        v->ld = C == 1 ? (R > 1 ? R : 1) : x->stride[c];
        return true;
    }
    return false;
}

/* The windows of a 2-D convolution or pooling over an [N, C, H, W] image, for im2col / col2im: a kh x kw
 * kernel whose taps are dh / dw pixels apart (dilation), moved sh / sw pixels at a time (stride) over
 * the image with ph / pw rows / columns of zeros on each side (padding). Window (p, q), p < oh and
 * q < ow, has its tap (i, j) on pixel (p sh - ph + i dh, q sw - pw + j dw), which may lie in the
 * padding. Front-ends set oh / ow: for a convolution (H + 2 ph - dh (kh - 1) - 1) / sh + 1 (likewise
 * ow); a transposed convolution may use fewer (its input's H x W). */
typedef struct ug_conv_geom {
    int64_t kh, kw;   /* kernel */
    int64_t sh, sw;   /* stride, >= 1 */
    int64_t ph, pw;   /* padding, >= 0 */
    int64_t dh, dw;   /* dilation, >= 1 */
    int64_t oh, ow;   /* window positions */
} ug_conv_geom;

/* What a categorical sampler found wrong with a row (front-ends turn it into the message). */
typedef enum ug_sample_fault_kind { UG_SF_NONE, UG_SF_BAD_LOGIT, UG_SF_NO_ENTRY, UG_SF_NOMEM } ug_sample_fault_kind;
typedef struct ug_sample_fault {
    int kind;          /* ug_sample_fault_kind */
    int64_t row;       /* UG_SF_BAD_LOGIT, UG_SF_NO_ENTRY */
    int64_t index;     /* UG_SF_BAD_LOGIT: the entry */
    float value;       /* UG_SF_BAD_LOGIT: its logit (NaN or +inf) */
} ug_sample_fault;

/* One Adam / AdamW update of a flat block (cpu_optim.c has the arithmetic and why it is so). */
typedef struct ug_adam_args {
    float *p;                /* [n] parameters */
    const float *g;          /* [n] gradient */
    float *m, *v;            /* [n] first and second moments */
    int64_t n;
    float w1, b2, w2;        /* 1 - beta1, beta2, 1 - beta2 */
    float wd_l2;             /* Adam: L2 weight decay added to the gradient (0 for AdamW) */
    float neg_step;          /* -lr / bias_correction1 */
    float bc2_sqrt, eps;     /* sqrt(bias_correction2), eps */
    bool decoupled;          /* AdamW: p *= decay over the block before the update */
    float decay;
} ug_adam_args;

typedef struct ug_backend {
    const char *name;
    int device;              /* ug_device of the memory this backend owns */

    /* ---- storage ---- */
    void *(*alloc)(size_t bytes);                                  /* 64-byte aligned; NULL on failure */
    void (*free)(void *p);                                         /* NULL is fine */
    void (*zero)(void *p, size_t bytes);
    void (*to_device)(void *dst, const void *src, size_t bytes);   /* host buffer -> device memory */
    void (*to_host)(void *dst, const void *src, size_t bytes);     /* device memory -> host buffer */

    /* ---- elementwise ---- */
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
    /* y = x converted to y's dtype; x and y contiguous, same numel. F32 -> I32 truncates toward zero
     * (NaN -> 0; beyond the int32 range -> INT32_MIN / INT32_MAX); I32 -> F32 rounds to nearest. */
    void (*cast)(const ug_tensor *x, ug_tensor *y);

    /* ---- reductions, GEMM ---- */
    /* Reduce contiguous x along axis into out (keepdim layout); argmax (I32) may be NULL. */
    void (*reduce)(int kind, const ug_tensor *x, int axis, ug_tensor *out, ug_tensor *argmax);
    /* out (contiguous, x's shape with axis removed or kept as 1) += the sum of contiguous x along axis,
     * each output adding x's terms to its current value one at a time, in order (a bias gradient
     * accumulated into its block). */
    void (*sum_acc)(const ug_tensor *x, int axis, ug_tensor *out);
    /* Softmax or log-softmax of contiguous x along axis. */
    void (*softmax)(bool log, const ug_tensor *x, int axis, ug_tensor *out);
    /* Cumulative sum or product (ug_scan_kind) of contiguous x along axis into out (x's shape):
     * out[.., i, ..] combines x[.., 0..i, ..], or with reverse x[.., i..n-1, ..]. The CPU one
     * accumulates in double and rounds each output once, as torch's CPU kernels do. */
    void (*scan)(int kind, const ug_tensor *x, int axis, bool reverse, ug_tensor *out);
    void (*gemm)(const ug_gemm_args *args);

    /* ---- copies and indexing ---- */
    /* dst = src elementwise for any strides (same shape, or src broadcast to dst's; same dtype). */
    void (*copy)(const ug_tensor *src, ug_tensor *dst);
    void (*fill)(ug_tensor *dst, float v);            /* contiguous f32 */
    /* Position (row-major) of the first entry of contiguous I32 idx outside [0, n), or -1. */
    int64_t (*index_check)(const ug_tensor *idx, int64_t n);
    void (*gather)(const ug_tensor *x, int axis, const ug_tensor *idx, ug_tensor *out);
    /* out (contiguous, already holding x) [idx along axis] += src. */
    void (*scatter_add)(ug_tensor *out, int axis, const ug_tensor *idx, const ug_tensor *src);
    void (*one_hot)(const ug_tensor *idx, ug_tensor *out);
    /* y += a*x; both contiguous with the same numel (gradient accumulation). */
    void (*axpy)(float a, const ug_tensor *x, ug_tensor *y);

    /* ---- image windows (ug_conv_geom; convolutions and pooling are GEMMs and reductions on them) ---- */
    /* cols (contiguous [N, C kh kw, oh ow]) = the windows of contiguous x [N, C, H, W], torch's unfold:
     * cols[n, (c kh + i) kw + j, p ow + q] = x[n, c, tap (i, j) of window (p, q)], 0 in the padding. */
    void (*im2col)(const ug_tensor *x, const ug_conv_geom *g, ug_tensor *cols);
    /* x (contiguous [N, C, H, W], overwritten) = the adjoint of im2col, torch's fold: every entry of
     * contiguous cols added into the pixel im2col read it from (entries in the padding dropped), in the
     * order (c, i, j, p, q) per image; pixels no window reads are 0. */
    void (*col2im)(const ug_tensor *cols, const ug_conv_geom *g, ug_tensor *x);
    /* The three convolution products, one image at a time so no batch of columns is ever held (all
     * contiguous; groups G divides C and O; kh, kw, oh, ow from g; K = C/G kh kw):
     *   conv2d              y [N, O, oh ow] = per group w_g [O/G, K] @ im2col(x_n)_g (+ bias [O] per
     *                       channel; bias NULL: none)
     *   conv2d_grad_input   gx [N, C, H, W] = col2im(w_g^T @ gy_n,g)       (the adjoint in x)
     *   conv2d_grad_weight  gw [O, K] = sum_n gy_n,g @ im2col(x_n)_g^T     (the adjoint in w)
     * Outputs are overwritten. False when the backend cannot get its scratch memory. */
    bool (*conv2d)(const ug_tensor *x, const ug_tensor *w, const ug_tensor *bias, const ug_conv_geom *g,
                   int64_t groups, ug_tensor *y);
    bool (*conv2d_grad_input)(const ug_tensor *gy, const ug_tensor *w, const ug_conv_geom *g, int64_t groups,
                              ug_tensor *gx);
    bool (*conv2d_grad_weight)(const ug_tensor *x, const ug_tensor *gy, const ug_conv_geom *g, int64_t groups,
                               ug_tensor *gw);

    /* ---- normalization ---- */
    /* Group norm of contiguous x [N, C, ...] (C a multiple of groups G; a block is the C/G channels of
     * group g of sample n): y (contiguous, x's shape) = (x - mean) rstd w_c + b_c over each block, with
     * the biased variance (rstd = 1 / sqrt(var + eps)); w, b contiguous [C] or NULL (1 and 0); stats
     * (contiguous [N, G, 2]) gets each block's (mean, rstd). */
    void (*group_norm)(const ug_tensor *x, const ug_tensor *w, const ug_tensor *b, int64_t groups, float eps,
                       ug_tensor *y, ug_tensor *stats);
    /* Its first-order backward from upstream gy (contiguous, x's shape) and the forward's stats: gx
     * (x's shape) overwritten; gw, gb [C] (d/dw, d/db) added to, so a parameter's gradient block can
     * take them directly. Any of the three may be NULL (not wanted). */
    void (*group_norm_backward)(const ug_tensor *x, const ug_tensor *w, const ug_tensor *stats, int64_t groups,
                                const ug_tensor *gy, ug_tensor *gx, ug_tensor *gw, ug_tensor *gb);

    /* ---- random numbers (rng.h's layout contract; the front-end advances rng->pos) ---- */
    /* out (contiguous F32) = n draws from block rng->pos on: U[0, 1) or N(0, 1) by kind; with affine,
     * then out = p0 + p1 * out (an initialiser's lo + (hi - lo) u or mean + std z). */
    void (*rng_fill)(int kind, const ug_rng *rng, bool affine, float p0, float p1, ug_tensor *out);
    /* out (contiguous F32, p's shape) = U_i < p_i ? 1 : 0, U from block rng->pos on; p any strides. */
    void (*rng_bernoulli)(const ug_rng *rng, const ug_tensor *p, ug_tensor *out);
    /* out (I32 [B]) = one index per row of softmax(logits [B, K]) where mask [B, K] (NULL = all) != 0;
     * row b uses block rng->pos + b (rng.h). False with *fault filled for a row it cannot sample. */
    bool (*sample_categorical)(const ug_rng *rng, const ug_tensor *logits, const ug_tensor *mask, ug_tensor *out,
                               ug_sample_fault *fault);

    /* ---- optimizer kernels on flat blocks of n floats ---- */
    double (*sum_squares)(const float *g, int64_t n);       /* in double, order fixed by the backend */
    void (*clamp)(float *g, int64_t n, float c);            /* g = clamp(g, -c, c) */
    void (*scale)(float *g, int64_t n, float s);            /* g *= s */
    void (*adam)(const ug_adam_args *args);
    /* SGD: buf NULL = no momentum; first = the first update (torch: buf = grad). */
    void (*sgd)(float *p, const float *g, float *buf, int64_t n, float wd, float mu, float neg_lr, bool first);
    /* Parameter averages (nn/ema.c): s += w * (v - s) in float, in this order (torch's lerp_ for w < 0.5);
     * swap exchanges a and b. */
    void (*lerp)(float *s, const float *v, int64_t n, float w);
    void (*swap)(float *a, float *b, int64_t n);
} ug_backend;

extern const ug_backend ug_cpu_backend;

/* The backend owning memory of `device`, or NULL when this build has none for it. */
const ug_backend *ug_backend_get(int device);

#endif
