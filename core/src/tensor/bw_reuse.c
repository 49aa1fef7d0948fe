/* bw_reuse.c — memory reuse inside a first-order backward pass (ug_backward, ug_grad without
 * create_graph).
 *
 * Every tensor lives in the step arena until ug_step_reset, which is right for the forward (the tape
 * holds its tensors) but not for the backward: without create_graph its rules record nothing, and the
 * gradient flowing into a node, and every temporary of its rule, is dead once the node is done. Left in
 * the arena, a network's backward holds about as much again as its forward (a UNet step: 0.66 GB of
 * backward tensors beside 0.56 GB of activations); PyTorch frees them as it goes.
 *
 * So while the engine runs without a graph, tensor data comes from here: a buffer carved from the data
 * arena once, then handed out again when free. A buffer is live while an accumulated gradient (a
 * tensor's bw_acc) points into it; `refs` counts those. After each node the engine drops the reference
 * of the gradient it consumed, then `ug__reuse_sweep` frees every buffer that was allocated or lost a
 * reference during the node and has no reference left: the rule's temporaries, the consumed gradient,
 * an accumulator replaced by a sum. What the caller gets back (ug_grad's gradients, anything still
 * referenced when the pass ends) is retired: it leaves the registry and stays in the arena, as any
 * tensor does, until the step is reset. Buffers are found by address (a view points inside its
 * base's), so views, slices and reshapes of a gradient keep its buffer alive.
 *
 * Reuse is best fit among free buffers of at most twice the request, so a small tensor never pins a
 * large buffer. The arena's peak counts a buffer once, when it is carved. */
#include "tensor/internal.h"

#include <stdlib.h>
#include <string.h>

/* Under AddressSanitizer a free buffer is poisoned, so a rule that reads a gradient after it was
 * freed is a sanitizer error, not a silently wrong number. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define REUSE_ALIGN 64

static bool grow(void **p, int64_t *cap, int64_t need, size_t elem) {
    if (need <= *cap) return true;
    int64_t nc = *cap ? *cap * 2 : 256;
    while (nc < need) nc *= 2;
    void *q = realloc(*p, (size_t)nc * elem);
    if (!q) return false;
    *p = q;
    *cap = nc;
    return true;
}

/* The buffer holding address p, or -1 (not carved here: forward tensors, wrapped memory). */
static int64_t find(const ug_ctx *ctx, const void *p) {
    const ug_reuse *r = &ctx->reuse;
    const unsigned char *a = p;
    for (int64_t i = r->n - 1; i >= 0; i--)
        if (a >= r->bufs[i].ptr && a < r->bufs[i].ptr + r->bufs[i].cap) return i;
    return -1;
}

static void candidate(ug_ctx *ctx, int64_t i) {
    ug_reuse *r = &ctx->reuse;
    if (r->bufs[i].pending) return;
    if (!grow((void **)&r->cand, &r->cand_cap, r->ncand + 1, sizeof *r->cand)) return;  /* stays live: no harm */
    r->bufs[i].pending = 1;
    r->cand[r->ncand++] = i;
}

void ug__reuse_begin(ug_ctx *ctx) { ctx->reuse.on = true; }

void *ug__reuse_alloc(ug_ctx *ctx, size_t bytes) {
    ug_reuse *r = &ctx->reuse;
    size_t want = bytes ? (bytes + REUSE_ALIGN - 1) / REUSE_ALIGN * REUSE_ALIGN : REUSE_ALIGN;
    if (want < bytes) return ug__bump_data(ctx, bytes);  /* wrapped: let the arena report the size */
    int64_t best = -1;
    for (int64_t i = 0; i < r->n; i++) {
        const ug_reuse_buf *b = &r->bufs[i];
        if (b->free && b->cap >= want && b->cap / 2 <= want && (best < 0 || b->cap < r->bufs[best].cap)) best = i;
    }
    if (best < 0) {
        if (!grow((void **)&r->bufs, &r->cap, r->n + 1, sizeof *r->bufs)) return ug__bump_data(ctx, bytes);
        unsigned char *p = ug__bump_data(ctx, want);
        if (!p) return NULL;
        r->bufs[r->n] = (ug_reuse_buf){.ptr = p, .cap = want};
        best = r->n++;
    }
    ug_reuse_buf *b = &r->bufs[best];
    UNPOISON(b->ptr, b->cap);
    b->free = 0;
    b->refs = 0;
    candidate(ctx, best);  /* a temporary unless a gradient slot takes it before the sweep */
    return b->ptr;
}

void ug__reuse_ref(ug_ctx *ctx, const ug_tensor *t, int delta) {
    if (!ctx->reuse.on || !t || !t->data) return;
    int64_t i = find(ctx, t->data);
    if (i < 0) return;
    ug_reuse_buf *b = &ctx->reuse.bufs[i];
    b->refs += delta;
    if (b->refs <= 0) {
        b->refs = 0;
        candidate(ctx, i);
    }
}

void ug__reuse_sweep(ug_ctx *ctx) {
    ug_reuse *r = &ctx->reuse;
    for (int64_t k = 0; k < r->ncand; k++) {
        ug_reuse_buf *b = &r->bufs[r->cand[k]];
        b->pending = 0;
        if (b->refs == 0 && !b->free) {
            b->free = 1;
            POISON(b->ptr, b->cap);
        }
    }
    r->ncand = 0;
}

void ug__reuse_end(ug_ctx *ctx) {
    ug_reuse *r = &ctx->reuse;
    ug__reuse_sweep(ctx);
    int64_t k = 0;
    for (int64_t i = 0; i < r->n; i++)
        if (r->bufs[i].free) r->bufs[k++] = r->bufs[i];  /* the live ones are the caller's now */
    r->n = k;
    r->on = false;
}

void ug__reuse_clear(ug_ctx *ctx) {
    for (int64_t i = 0; i < ctx->reuse.n; i++)
        if (ctx->reuse.bufs[i].free) UNPOISON(ctx->reuse.bufs[i].ptr, ctx->reuse.bufs[i].cap);  /* the arena's again */
    ctx->reuse.n = 0;
    ctx->reuse.ncand = 0;
    ctx->reuse.on = false;
}

void ug__reuse_free(ug_ctx *ctx) {
    ug__reuse_clear(ctx);
    free(ctx->reuse.bufs);
    free(ctx->reuse.cand);
    memset(&ctx->reuse, 0, sizeof ctx->reuse);
}
