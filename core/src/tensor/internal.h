/* internal.h — the numerics context, the tape node and helpers shared by the op files (core only). */
#ifndef UG_INTERNAL_H
#define UG_INTERNAL_H

#include "unigfn/tensor.h"
#include "backend/backend.h"

typedef struct ug_arena_block {
    struct ug_arena_block *next;
    size_t cap, used;
    unsigned char *mem;
} ug_arena_block;

/* Backward rule: given d(loss)/d(out) = gout, write d(loss)/d(in[i]) into gin[i] for each i with
 * need[i]; leave gin[i] NULL otherwise. Written with differentiable ops (see tensor.h). */
typedef void (*ug_backward_fn)(ug_ctx *ctx, ug_node *n, ug_tensor *gout, ug_tensor **gin,
                               const bool *need);

#define UG_NODE_MAX_IN 3

struct ug_node {
    const char *op;          /* name, for messages */
    ug_backward_fn backward;
    ug_tensor *out;
    ug_tensor **in;          /* nin inputs (array in the arena) */
    int nin;
    int64_t seq;             /* position on the tape */
    float f[4];              /* saved scalars */
    int64_t i[8];            /* saved integers (axes, shapes) */
    ug_tensor *saved;        /* saved tensor (index, argmax) */
    uint8_t reach;           /* engine: leads to a differentiation target */
};

/* Data buffers handed out again inside a first-order backward (bw_reuse.c). */
typedef struct ug_reuse_buf {
    unsigned char *ptr;
    size_t cap;
    int32_t refs;     /* accumulated gradients (bw_acc) pointing into it */
    uint8_t free;     /* may be handed out again */
    uint8_t pending;  /* on the current node's list of buffers to check */
} ug_reuse_buf;
typedef struct ug_reuse {
    bool on;                 /* the engine runs without a graph: data allocations come from here */
    ug_reuse_buf *bufs;      /* malloc'd (an arena release must not take the registry with it) */
    int64_t n, cap;
    int64_t *cand;           /* buffers allocated or dereferenced during the current node */
    int64_t ncand, cand_cap;
} ug_reuse;

/* The step arena is two bump allocators that reset together: `arena` (host memory) holds the
 * bookkeeping — tensor headers, tape nodes, plugin scratch — and `darena` (blocks from the backend's
 * alloc) holds tensor data. Used/peak count both. */
struct ug_ctx {
    ug_arena_block *arena;   /* host: current block (head of the chain) */
    ug_arena_block *darena;  /* tensor data, backend memory: current block */
    ug_arena_block *spare, *dspare;  /* blocks released by ug_arena_release, reused before growing */
    uint64_t reset_epoch;    /* ug_step_reset count: a mark from before it is stale */
    size_t arena_used_total, arena_peak;
    ug_node **tape;
    int64_t tape_n, tape_cap;
    bool grad_enabled;
    uint64_t grad_groups;    /* parameters of these groups are variables (ug_set_grad_groups) */
    int threads;
    uint32_t epoch;          /* increments per backward call; tags bw_acc */
    ug_error err;
    const ug_backend *be;
    /* Set by ug_backward (not ug_grad): gradients of selected parameters may be accumulated straight
     * into their gradient blocks by backward rules (no temporary, no extra pass). */
    bool bw_direct;
    uint64_t bw_mask;
    ug_reuse reuse;
};

/* True when a backward rule may accumulate d/d(t) directly into t's gradient block. */
static inline bool ug__direct_param(const ug_ctx *ctx, const ug_tensor *t) {
    return ctx->bw_direct && t->is_leaf && t->group >= 0 && t->group < 64 && ((ctx->bw_mask >> t->group) & 1u) &&
           t->grad && t->grad->data;
}

/* Allocation in the step arena (64-byte aligned); records an error and returns NULL on failure.
 * ug__alloc: host memory for bookkeeping; ug__alloc_data: backend memory for tensor data. */
void *ug__alloc(ug_ctx *ctx, size_t bytes);
void *ug__alloc_data(ug_ctx *ctx, size_t bytes);
void *ug__bump_data(ug_ctx *ctx, size_t bytes);  /* the data arena itself, never a reused buffer */

/* Memory reuse in a first-order backward (bw_reuse.c): begin/end bracket the engine's pass; while on,
 * ug__alloc_data takes a free buffer or carves one. ref(t, +1 / -1) when a gradient slot starts or
 * stops pointing at t's buffer; sweep after each node frees what nothing points at; clear forgets
 * every buffer (step reset, arena release). */
void ug__reuse_begin(ug_ctx *ctx);
void *ug__reuse_alloc(ug_ctx *ctx, size_t bytes);
void ug__reuse_ref(ug_ctx *ctx, const ug_tensor *t, int delta);
void ug__reuse_sweep(ug_ctx *ctx);
void ug__reuse_end(ug_ctx *ctx);
void ug__reuse_clear(ug_ctx *ctx);
void ug__reuse_free(ug_ctx *ctx);

/* The private name of the public scoped-memory pair (tensor.h: ug_mark, ug_arena_mark/release). */
typedef ug_mark ug__arena_mark;
static inline ug__arena_mark ug__arena_get_mark(ug_ctx *ctx) { return ug_arena_mark(ctx); }
static inline bool ug__arena_release(ug_ctx *ctx, ug__arena_mark m) { return ug_arena_release(ctx, m); }
ug_tensor *ug__header(ug_ctx *ctx);
/* A fresh contiguous tensor with the given shape. A shape whose element count or byte size does not
 * fit (base/ckd.h) fails with the calling function's name and the shape, never a wrapped size:
 * ug__empty passes its caller's __func__ so every op front-end is named without saying so. */
ug_tensor *ug__empty_in(ug_ctx *ctx, const char *op, ug_dtype dt, int ndim, const int64_t *shape);
/* variadic: a compound-literal shape ((int64_t[]){B, O}) holds commas */
#define ug__empty(ctx, ...) ug__empty_in((ctx), __func__, __VA_ARGS__)
void ug__set_contiguous_strides(ug_tensor *t);
/* A view header sharing x's storage (copied shape/strides, no node). */
ug_tensor *ug__view(ug_ctx *ctx, ug_tensor *x);
/* x's data pointer moved on by `elems` elements (a view's offset; no memory is touched, so it is a
 * valid device address for any backend). Both dtypes are 4 bytes. */
static inline void *ug__data_at(const ug_tensor *x, int64_t elems) { return (char *)x->data + elems * 4; }
/* The value of element `pos` of contiguous I32 x, copied to the host (for a message). */
static inline int32_t ug__i32_at(const ug_ctx *ctx, const ug_tensor *x, int64_t pos) {
    int32_t v = 0;
    ctx->be->to_host(&v, ug__data_at(x, pos), sizeof v);
    return v;
}

/* Whether an op with input t would be recorded because of t: grad mode on, t requires grad, and t is
 * not a parameter outside the active groups (those are constants here). */
static inline bool ug__tracks(const ug_ctx *ctx, const ug_tensor *t) {
    if (!ctx->grad_enabled || !t || !t->requires_grad) return false;
    return !(t->is_leaf && t->group >= 0 && t->group < 64 && !((ctx->grad_groups >> t->group) & 1u));
}

/* Record a node producing `out` if grad mode is on and any input requires grad. */
ug_node *ug__record(ug_ctx *ctx, ug_tensor *out, const char *op, ug_backward_fn bw, int nin,
                    ug_tensor *const *in);

/* Broadcast shapes of a and b into out (right-aligned); false + error if incompatible. */
bool ug__broadcast_shape(ug_ctx *ctx, const char *op, const ug_tensor *a, const ug_tensor *b,
                         int *ndim, int64_t *shape);
/* Strides of x seen with out's (broadcast) shape: right-aligned to 4 dims, 0 where broadcast. */
void ug__bcast_strides4(const ug_tensor *x, int out_ndim, const int64_t *out_shape, int64_t sh4[4],
                        int64_t st4[4]);
int ug__axis(ug_ctx *ctx, const char *op, const ug_tensor *x, int axis);
bool ug__same_shape(const ug_tensor *a, const ug_tensor *b);
const char *ug__shp(const ug_tensor *x, char *buf);  /* buf of >= 64 bytes */

/* Fail with "op: message (shapes)" and return NULL. */
ug_tensor *ug__fail_null(ug_ctx *ctx, const char *op, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Input checks shared by every op: NULL propagates silently (the error is already recorded). */
#define UG_CHECK_IN(ctx, x) \
    do { if (!(x) || (ctx)->err.code != UG_OK) return NULL; } while (0)

/* Sum `g` down to the shape of `like` (adjoint of broadcasting); identity if shapes match. */
ug_tensor *ug__unbroadcast(ug_ctx *ctx, ug_tensor *g, const ug_tensor *like);

#endif
