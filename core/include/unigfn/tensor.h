/* tensor.h — tensors, the numerics context, differentiable ops and reverse-mode autograd.
 *
 * Shape of the design (after ggml and llm.c):
 *  - A tensor is a header (shape, strides, dtype, device, data pointer) that doubles as a graph node:
 *    an op that sees an input requiring grad records a ug_node on the context's tape.
 *  - Activations and tape nodes live in the context's step arena and die at ug_step_reset();
 *    parameters live in flat per-group blocks owned by ug_params (nn.h) and outlive steps.
 *  - Every op's backward rule is written with these same ops, so with `create_graph` the gradient is
 *    itself differentiable (gradients of gradients: sliced score matching, energy gradients).
 *  - Errors are sticky on the context: an op given a NULL input or bad shapes returns NULL and records
 *    the first error (op name and shapes), so expressions can be chained and checked once at the end.
 *
 * Conventions: float32 data, up to 4 dims, shapes are int64_t, axis may be negative (-1 = last).
 * Index tensors (gather, scatter_add, index_select, one_hot) have dtype UG_I32 and never get gradients.
 * Masks/conditions are float tensors read as (value != 0). */
#ifndef UNIGFN_TENSOR_H
#define UNIGFN_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "unigfn/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define UG_MAX_DIMS 4

typedef enum ug_dtype { UG_F32 = 0, UG_I32 = 1 } ug_dtype;
typedef enum ug_device { UG_CPU = 0, UG_CUDA = 1 } ug_device;

typedef struct ug_ctx ug_ctx;
typedef struct ug_node ug_node;
typedef struct ug_tensor ug_tensor;

struct ug_tensor {
    void *data;                    /* first element (view offset already applied) */
    int64_t shape[UG_MAX_DIMS];    /* unused trailing dims are 1 */
    int64_t stride[UG_MAX_DIMS];   /* in elements; 0 means broadcast along that dim */
    int32_t ndim;                  /* 0 (scalar) .. 4 */
    uint8_t dtype;                 /* ug_dtype */
    uint8_t device;                /* ug_device */
    uint8_t requires_grad;         /* a parameter in some group, or computed from one under grad mode */
    uint8_t is_leaf;               /* not produced by a recorded op */
    int32_t group;                 /* parameter group index for parameters, -1 otherwise */
    ug_node *node;                 /* op that produced it (NULL for leaves) */
    ug_tensor *grad;               /* parameters: view of the group's gradient block */
    ug_tensor *base;               /* views: the tensor whose storage this one shares */
    const char *name;              /* optional, for messages and checkpoints */
    void *bw_acc;                  /* private to the autograd engine (accumulated gradient) */
    uint32_t bw_epoch;             /* private to the autograd engine */
};

/* ---- Context ---------------------------------------------------------------------------- */
/* arena_bytes: initial step-arena size (it grows by chaining blocks when needed). */
ug_ctx *ug_ctx_new(size_t arena_bytes);
void ug_ctx_free(ug_ctx *ctx);
/* Drop every activation and tape node of the current step (parameters are untouched). */
void ug_step_reset(ug_ctx *ctx);
/* Sticky error: first failure since the last clear. */
ug_status ug_ctx_status(const ug_ctx *ctx);
const char *ug_ctx_errmsg(const ug_ctx *ctx);
void ug_ctx_clear_error(ug_ctx *ctx);
ug_status ug_ctx_fail(ug_ctx *ctx, ug_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Grad mode: when off, ops record nothing (sampling, evaluation). Returns the previous mode. */
bool ug_set_grad_enabled(ug_ctx *ctx, bool on);
bool ug_grad_enabled(const ug_ctx *ctx);
/* Parameter groups whose parameters ops treat as variables (bit g = group g; default all). Parameters
 * of other groups act as constants: nothing is recorded for them, so a loss that updates only some
 * groups builds no graph through the others. Returns the previous mask. */
uint64_t ug_set_grad_groups(ug_ctx *ctx, uint64_t mask);
/* Threads for our kernels and BLAS (0 = all cores). */
void ug_set_threads(ug_ctx *ctx, int n);
int ug_get_threads(const ug_ctx *ctx);
/* Bytes currently / at most used by the step arena (for memory reports). */
size_t ug_arena_used(const ug_ctx *ctx);
size_t ug_arena_peak(const ug_ctx *ctx);
/* Raw step-arena allocation (64-byte aligned, host memory) for plugin scratch that dies with the step:
 * e.g. the host buffers of ug_tensor_get / ug_tensor_set. */
void *ug_arena_alloc(ug_ctx *ctx, size_t bytes);
/* Scoped step memory (ABI 1.1): a point in the step arena to roll back to. A sampler that walks T
 * steps keeps the state it needs in a tensor made before the mark (ug_copy_into), then releases the
 * rest of each step, so memory stays that of one step instead of T:
 *     ug_tensor *s = ug_zeros(ctx, 2, shape);           // before the loop
 *     for (t ...) { ug_mark m = ug_arena_mark(ctx); ... ug_copy_into(ctx, s, next); ug_arena_release(ctx, m); }
 * Release works across the arena's blocks (blocks grown since the mark are kept for reuse, not freed)
 * and refuses, returning false and keeping everything, when a tape node was recorded since the mark
 * (with grad on the memory is the tape's) or the mark predates the last ug_step_reset. Tensors made
 * after the mark are invalid once it is released. */
typedef struct ug_mark {
    const void *block, *dblock;
    size_t used, dused, total;
    int64_t tape_n;
    uint64_t epoch;
} ug_mark;
ug_mark ug_arena_mark(ug_ctx *ctx);
bool ug_arena_release(ug_ctx *ctx, ug_mark m);
/* dst = src's values (same shape; any strides; F32 or I32 alike): the copy a scoped loop keeps.
 * Refused while grad is on and src carries a graph (the copy would cut it silently); dst gets no
 * node and no gradient. */
ug_status ug_copy_into(ug_ctx *ctx, ug_tensor *dst, ug_tensor *src);

/* ---- Construction (in the step arena) ---------------------------------------------------- */
ug_tensor *ug_new(ug_ctx *ctx, ug_dtype dt, int ndim, const int64_t *shape);
ug_tensor *ug_new1(ug_ctx *ctx, int64_t d0);                       /* [d0] f32, uninitialised */
ug_tensor *ug_new2(ug_ctx *ctx, int64_t d0, int64_t d1);           /* [d0,d1] */
ug_tensor *ug_new3(ug_ctx *ctx, int64_t d0, int64_t d1, int64_t d2);
ug_tensor *ug_zeros(ug_ctx *ctx, int ndim, const int64_t *shape);
ug_tensor *ug_full(ug_ctx *ctx, int ndim, const int64_t *shape, float v);
ug_tensor *ug_scalar(ug_ctx *ctx, float v);                        /* 0-d */
ug_tensor *ug_from_f32(ug_ctx *ctx, const float *src, int ndim, const int64_t *shape);  /* copies */
ug_tensor *ug_from_i32(ug_ctx *ctx, const int32_t *src, int ndim, const int64_t *shape);
ug_tensor *ug_zeros_like(ug_ctx *ctx, const ug_tensor *x);
/* A header over caller-owned memory (not copied, not freed): e.g. a data batch. */
ug_tensor *ug_wrap(ug_ctx *ctx, void *data, ug_dtype dt, int ndim, const int64_t *shape);
/* Mark a non-parameter tensor as a differentiation target for ug_grad (e.g. the input x of a score). */
ug_tensor *ug_requires_grad(ug_ctx *ctx, ug_tensor *x);

/* ---- Inspection ---------------------------------------------------------------------------- */
int64_t ug_numel(const ug_tensor *x);
bool ug_is_contiguous(const ug_tensor *x);
/* data as float*, NULL if not F32 (contiguity not implied). Host-addressable on the CPU backend only:
 * plugins copy with ug_tensor_get / ug_tensor_set instead. */
float *ug_f32(const ug_tensor *x);
int32_t *ug_i32(const ug_tensor *x);
float ug_item(const ug_tensor *x);       /* value of a one-element tensor (copied to the host) */
/* "[128, 32]" into buf; for messages. */
const char *ug_shape_str(const ug_tensor *x, char *buf, size_t cap);
/* Materialise any view as a contiguous tensor (returns x itself if already contiguous). */
ug_tensor *ug_contiguous(ug_ctx *ctx, ug_tensor *x);

/* ---- Host copies (ABI 1.1) ---------------------------------------------------------------- */
/* Copy between a host buffer of n elements in row-major order of x's shape (float for F32, int32_t
 * for I32) and x's data, whatever backend holds it and whatever x's strides: how plugins read values
 * for host-side logic and write state updates. n must equal ug_numel(x). ug_tensor_set refuses a
 * broadcast view (stride 0 over a dim > 1) and a tensor produced by a recorded op (writing would change
 * what its graph computed). Errors are sticky on ctx and name the op and the shapes; a call on a
 * context that already has one does nothing. Returns ctx's status. */
ug_status ug_tensor_set(ug_ctx *ctx, ug_tensor *x, const void *src, int64_t n);
ug_status ug_tensor_get(ug_ctx *ctx, const ug_tensor *x, void *dst, int64_t n);

/* ---- Elementwise, broadcasting (differentiable) ------------------------------------------- */
ug_tensor *ug_add(ug_ctx *ctx, ug_tensor *a, ug_tensor *b);
ug_tensor *ug_sub(ug_ctx *ctx, ug_tensor *a, ug_tensor *b);
ug_tensor *ug_mul(ug_ctx *ctx, ug_tensor *a, ug_tensor *b);
ug_tensor *ug_div(ug_ctx *ctx, ug_tensor *a, ug_tensor *b);
ug_tensor *ug_pow(ug_ctx *ctx, ug_tensor *a, ug_tensor *b);        /* a > 0 where b is not integral */
/* log(exp a + exp b) without overflow (torch.logaddexp): a logsumexp over a broadcast pair that needs
 * no concatenated [..., 2] tensor; equal bit for bit to ug_logsumexp of the stacked pair where finite. */
ug_tensor *ug_logaddexp(ug_ctx *ctx, ug_tensor *a, ug_tensor *b);
ug_tensor *ug_add_scalar(ug_ctx *ctx, ug_tensor *a, float s);
ug_tensor *ug_mul_scalar(ug_ctx *ctx, ug_tensor *a, float s);
ug_tensor *ug_rsub_scalar(ug_ctx *ctx, ug_tensor *a, float s);     /* s - a */
ug_tensor *ug_pow_scalar(ug_ctx *ctx, ug_tensor *a, float p);      /* a^p */
ug_tensor *ug_neg(ug_ctx *ctx, ug_tensor *a);
ug_tensor *ug_exp(ug_ctx *ctx, ug_tensor *a);
ug_tensor *ug_log(ug_ctx *ctx, ug_tensor *a);
ug_tensor *ug_log1p(ug_ctx *ctx, ug_tensor *a);
ug_tensor *ug_sqrt(ug_ctx *ctx, ug_tensor *a);
ug_tensor *ug_square(ug_ctx *ctx, ug_tensor *a);
ug_tensor *ug_abs(ug_ctx *ctx, ug_tensor *a);
ug_tensor *ug_clamp(ug_ctx *ctx, ug_tensor *a, float lo, float hi); /* use ±INFINITY for one side */
ug_tensor *ug_relu(ug_ctx *ctx, ug_tensor *a);
ug_tensor *ug_leaky_relu(ug_ctx *ctx, ug_tensor *a, float slope);
ug_tensor *ug_elu(ug_ctx *ctx, ug_tensor *a, float alpha);
ug_tensor *ug_silu(ug_ctx *ctx, ug_tensor *a);
ug_tensor *ug_gelu(ug_ctx *ctx, ug_tensor *a);                     /* exact (erf) form */
ug_tensor *ug_sigmoid(ug_ctx *ctx, ug_tensor *a);
ug_tensor *ug_tanh(ug_ctx *ctx, ug_tensor *a);
ug_tensor *ug_softplus(ug_ctx *ctx, ug_tensor *a);
/* ABI 1.1. Each returns a's shape; second derivatives are exact, so they nest in ug_grad. */
ug_tensor *ug_sin(ug_ctx *ctx, ug_tensor *a);
ug_tensor *ug_cos(ug_ctx *ctx, ug_tensor *a);
ug_tensor *ug_erf(ug_ctx *ctx, ug_tensor *a);                      /* d/dx = 2/sqrt(pi) exp(-x^2) */
/* Comparisons (ABI 1.1): 1.0f where (a op b) holds, else 0.0f; a and b broadcast together and the
 * result has the broadcast shape. No gradient (the result is a constant of the graph); NaN compares
 * false, ug_eq included. Masks for ug_where / ug_masked_fill / ug_mul come from these, not host loops. */
ug_tensor *ug_ge(ug_ctx *ctx, ug_tensor *a, ug_tensor *b);         /* a >= b */
ug_tensor *ug_gt(ug_ctx *ctx, ug_tensor *a, ug_tensor *b);         /* a >  b */
ug_tensor *ug_le(ug_ctx *ctx, ug_tensor *a, ug_tensor *b);         /* a <= b */
ug_tensor *ug_lt(ug_ctx *ctx, ug_tensor *a, ug_tensor *b);         /* a <  b */
ug_tensor *ug_eq(ug_ctx *ctx, ug_tensor *a, ug_tensor *b);         /* a == b */
/* Casts between F32 and I32 (ABI 1.1): x's shape, no gradient. F32 -> I32 truncates toward zero, as
 * torch's .to(torch.int32) does inside the int32 range; NaN gives 0 and values beyond the range
 * saturate (torch leaves those undefined). I32 -> F32 rounds to nearest (exact up to 2^24). A cast
 * to x's own dtype returns x. Codes (action indices, bin numbers) and masks are built with these. */
ug_tensor *ug_cast(ug_ctx *ctx, ug_tensor *x, ug_dtype dt);
ug_tensor *ug_to_i32(ug_ctx *ctx, ug_tensor *x);                   /* ug_cast(x, UG_I32) */
ug_tensor *ug_to_f32(ug_ctx *ctx, ug_tensor *x);                   /* ug_cast(x, UG_F32) */
/* out = cond != 0 ? a : b, all three broadcast together; cond gets no gradient. */
ug_tensor *ug_where(ug_ctx *ctx, ug_tensor *cond, ug_tensor *a, ug_tensor *b);
/* out = mask != 0 ? value : x */
ug_tensor *ug_masked_fill(ug_ctx *ctx, ug_tensor *x, ug_tensor *mask, float value);

/* ---- Reductions ---------------------------------------------------------------------------- */
ug_tensor *ug_sum(ug_ctx *ctx, ug_tensor *x, int axis, bool keepdim);
ug_tensor *ug_mean(ug_ctx *ctx, ug_tensor *x, int axis, bool keepdim);
ug_tensor *ug_max(ug_ctx *ctx, ug_tensor *x, int axis, bool keepdim);   /* grad to the first argmax */
ug_tensor *ug_logsumexp(ug_ctx *ctx, ug_tensor *x, int axis, bool keepdim);
ug_tensor *ug_sum_all(ug_ctx *ctx, ug_tensor *x);                       /* 0-d */
ug_tensor *ug_mean_all(ug_ctx *ctx, ug_tensor *x);                      /* 0-d */
ug_tensor *ug_log_softmax(ug_ctx *ctx, ug_tensor *x, int axis);
ug_tensor *ug_softmax(ug_ctx *ctx, ug_tensor *x, int axis);
/* Sum x down to `shape` over broadcast dimensions (the adjoint of broadcasting). */
ug_tensor *ug_sum_to(ug_ctx *ctx, ug_tensor *x, int ndim, const int64_t *shape);
/* Broadcast x to `shape` (a view with stride-0 dims; differentiable). */
ug_tensor *ug_expand(ug_ctx *ctx, ug_tensor *x, int ndim, const int64_t *shape);

/* ---- Scans (ABI 1.1) ------------------------------------------------------------------------ */
/* Cumulative sum along axis, x's shape: out[.., i, ..] = x[.., 0, ..] + ... + x[.., i, ..], or with
 * reverse x[.., i, ..] + ... + x[.., n-1, ..]. Backward: the cumsum of the gradient the other way
 * (linear, so any order). The CPU backend accumulates in double, as torch's CPU kernel. */
ug_tensor *ug_cumsum(ug_ctx *ctx, ug_tensor *x, int axis, bool reverse);
/* Cumulative product, laid out the same. Its gradient, cumsum(g * out, !reverse) / x, is for inputs
 * without zeros (a zero gives inf/NaN where torch's stays finite). A diffusion schedule's
 * alpha_bar_t = prod_{s<=t} (1 - beta_s) is better built in log space:
 * ug_exp(ug_cumsum(ug_log1p(ug_neg(beta)), 0, false)). */
ug_tensor *ug_cumprod(ug_ctx *ctx, ug_tensor *x, int axis, bool reverse);

/* ---- Linear algebra (cblas_sgemm) --------------------------------------------------------- */
/* a [..., M, K] @ b [..., K, N] -> [..., M, N]; 2-D, or batched with broadcast batch dims.
 * Transposed views (ug_transpose) are passed to BLAS without copying. */
ug_tensor *ug_matmul(ug_ctx *ctx, ug_tensor *a, ug_tensor *b);
/* y = x @ w^T + bias: x [B, in], w [out, in], bias [out] or NULL -> [B, out] (one GEMM). */
ug_tensor *ug_linear(ug_ctx *ctx, ug_tensor *x, ug_tensor *w, ug_tensor *bias);

/* ---- Images (ABI 1.1): NCHW float tensors, PyTorch's semantics ------------------------------ */
/* Options of ug_conv2d / ug_conv_transpose2d, pairs (h, w); NULL or all zeros is torch's default
 * (stride 1, padding 0, dilation 1, groups 1): a zero stride, dilation or groups means 1. */
typedef struct ug_conv2d_opts {
    int64_t stride[2];
    int64_t padding[2];         /* zeros added on both sides (conv_transpose2d: taken off both sides) */
    int64_t dilation[2];        /* kernel taps this many pixels apart */
    int64_t groups;             /* channels in `groups` independent blocks; divides C and O */
    int64_t output_padding[2];  /* conv_transpose2d only (0 for conv2d): rows / columns added at the
                                 * bottom / right, each smaller than its stride or its dilation */
} ug_conv2d_opts;
/* Cross-correlation as torch.nn.functional.conv2d: x [N, C, H, W], w [O, C/groups, kh, kw], bias [O] or
 * NULL -> [N, O, OH, OW], OH = (H + 2 ph - dh (kh - 1) - 1) / sh + 1 (likewise OW). One GEMM per image
 * (per group) on x's windows (im2col); differentiable to any order in x, w and bias. */
ug_tensor *ug_conv2d(ug_ctx *ctx, ug_tensor *x, ug_tensor *w, ug_tensor *bias, const ug_conv2d_opts *o);
/* The adjoint of conv2d in x, as torch's conv_transpose2d: x [N, C, H, W], w [C, O/groups, kh, kw] (the
 * weight of the conv2d it transposes), bias [O] or NULL -> [N, O, OH, OW], OH = (H - 1) sh - 2 ph +
 * dh (kh - 1) + oph + 1. Differentiable to any order. */
ug_tensor *ug_conv_transpose2d(ug_ctx *ctx, ug_tensor *x, ug_tensor *w, ug_tensor *bias, const ug_conv2d_opts *o);
/* Average over kh x kw windows, as torch's avg_pool2d with count_include_pad (padding zeros count) and
 * floor rounding: x [N, C, H, W] -> [N, C, (H + 2 ph - kh) / sh + 1, ...]. kernel (h, w) >= 1; stride
 * NULL means the kernel, padding NULL means 0 and at most half the kernel. */
ug_tensor *ug_avg_pool2d(ug_ctx *ctx, ug_tensor *x, const int64_t kernel[2], const int64_t stride[2],
                         const int64_t padding[2]);
typedef enum ug_upsample_mode { UG_UPSAMPLE_NEAREST = 0, UG_UPSAMPLE_BILINEAR = 1 } ug_upsample_mode;
/* x [N, C, H, W] -> [N, C, H s, W s] by an integer factor s >= 1: nearest repeats each pixel s x s
 * times (out[i, j] = x[i / s, j / s]); bilinear is torch's with align_corners=False (source
 * coordinate (i + 0.5) / s - 0.5, clamped at 0, interpolated between its two neighbours, the last
 * pixel repeated at the edge). Linear in x, so differentiable to any order. */
ug_tensor *ug_upsample2d(ug_ctx *ctx, ug_tensor *x, int64_t scale, ug_upsample_mode mode);
/* torch.nn.functional.group_norm: x [N, C, ...] (2 to 4 dims) with its C channels in `groups` blocks of
 * C/groups; each block of each sample is normalized by its mean and biased variance, (x - mean) /
 * sqrt(var + eps), then scaled by weight [C] and shifted by bias [C] (each NULL = none). eps >= 0
 * (torch's default is 1e-5). One kernel forward; its backward is one kernel without create_graph and
 * differentiable ops with it (second order works). */
ug_tensor *ug_group_norm(ug_ctx *ctx, ug_tensor *x, int64_t groups, ug_tensor *weight, ug_tensor *bias, float eps);

/* ---- Shape and indexing ------------------------------------------------------------------- */
ug_tensor *ug_reshape(ug_ctx *ctx, ug_tensor *x, int ndim, const int64_t *shape);  /* one dim may be -1 */
ug_tensor *ug_permute(ug_ctx *ctx, ug_tensor *x, const int *perm);
ug_tensor *ug_transpose(ug_ctx *ctx, ug_tensor *x, int d0, int d1);
/* x[..., start:start+len, ...] along axis (a view). */
ug_tensor *ug_slice(ug_ctx *ctx, ug_tensor *x, int axis, int64_t start, int64_t len);
ug_tensor *ug_concat(ug_ctx *ctx, ug_tensor *const *xs, int n, int axis);
/* Constant padding (ABI 1.1): pad[2d] entries of `value` before and pad[2d + 1] after along dim d, for
 * every dim of x in order (torch.nn.functional.pad lists the last dim first); widths >= 0.
 * x [d0, .., dk] -> [d0 + pad[0] + pad[1], .., dk + pad[2k] + pad[2k + 1]]. Backward: the gradient
 * sliced back to x (the adjoint of ug_slice, and ug_slice's backward). */
ug_tensor *ug_pad(ug_ctx *ctx, ug_tensor *x, const int64_t *pad, float value);
/* torch.gather: out[i][j] = x[i][idx[i][j]] along axis; idx (I32) has out's shape. */
ug_tensor *ug_gather(ug_ctx *ctx, ug_tensor *x, int axis, ug_tensor *idx);
/* torch.scatter_add: out = x; out[i][idx[i][j]] += src[i][j] along axis. */
ug_tensor *ug_scatter_add(ug_ctx *ctx, ug_tensor *x, int axis, ug_tensor *idx, ug_tensor *src);
/* Rows (entries along axis) of x picked by a 1-D I32 index. */
ug_tensor *ug_index_select(ug_ctx *ctx, ug_tensor *x, int axis, ug_tensor *idx);
/* idx (I32, any shape) -> float one-hot with a new last dim of size k (no gradient). */
ug_tensor *ug_one_hot(ug_ctx *ctx, ug_tensor *idx, int64_t k);
/* The same values, cut from the graph. */
ug_tensor *ug_detach(ug_ctx *ctx, ug_tensor *x);

/* ---- Autograd ------------------------------------------------------------------------------ */
/* d(out)/d(xs[i]) for i < n; out must have one element. Results go to grads[i] (zeros when xs[i]
 * does not influence out). With create_graph the results are themselves differentiable. */
ug_status ug_grad(ug_ctx *ctx, ug_tensor *out, ug_tensor *const *xs, int n, ug_tensor **grads,
                  bool create_graph);
/* Accumulate d(loss)/d(param) into the gradient blocks of the parameter groups whose bit is set in
 * group_mask (bit g = group index g); other parameters get nothing and are not computed through. */
ug_status ug_backward(ug_ctx *ctx, ug_tensor *loss, uint64_t group_mask);

#ifdef __cplusplus
}
#endif
#endif
