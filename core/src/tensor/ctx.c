/* ctx.c — the numerics context: step arena (host bookkeeping and backend data blocks), tape storage,
 * sticky error, grad mode, threads. */
#include "tensor/internal.h"

#include "base/ckd.h"
#include "unigfn/host/util.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

extern void openblas_set_num_threads(int);

#define UG_ALIGN 64

/* A block of `cap` bytes: host memory when be is NULL (bookkeeping), else the backend's (tensor data). */
static ug_arena_block *block_new(const ug_backend *be, size_t cap) {
    size_t bytes;
    if (!ug_ckd_round_up(cap, UG_ALIGN, &bytes) || bytes > (size_t)PTRDIFF_MAX) return NULL;
    ug_arena_block *b = malloc(sizeof *b);
    if (!b) return NULL;
    b->mem = be ? be->alloc(bytes) : aligned_alloc(UG_ALIGN, bytes);
    if (!b->mem) { free(b); return NULL; }
    b->cap = cap;
    b->used = 0;
    b->next = NULL;
    return b;
}

static void blocks_free(const ug_backend *be, ug_arena_block *b) {
    while (b) {
        ug_arena_block *n = b->next;
        if (be) be->free(b->mem);
        else free(b->mem);
        free(b);
        b = n;
    }
}

/* Bookkeeping is a few hundred bytes per tensor or node: the host arena starts at an eighth of the
 * data arena and chains blocks when a step needs more. */
static size_t host_cap(size_t arena_bytes) {
    size_t c = arena_bytes / 8;
    return c < (1u << 20) ? (1u << 20) : c;
}

ug_ctx *ug_ctx_new(size_t arena_bytes) {
    ug_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return NULL;
    if (arena_bytes < (1u << 20)) arena_bytes = 1u << 20;
    ctx->be = &ug_cpu_backend;
    ctx->arena = block_new(NULL, host_cap(arena_bytes));
    ctx->darena = block_new(ctx->be, arena_bytes);
    if (!ctx->arena || !ctx->darena) {
        blocks_free(NULL, ctx->arena);
        blocks_free(ctx->be, ctx->darena);
        free(ctx);
        return NULL;
    }
    ctx->grad_enabled = true;
    ctx->grad_groups = ~0ull;
    ctx->threads = 0;
    return ctx;
}

void ug_ctx_free(ug_ctx *ctx) {
    if (!ctx) return;
    ug__reuse_free(ctx);  /* before the blocks its buffers live in */
    blocks_free(NULL, ctx->arena);
    blocks_free(ctx->be, ctx->darena);
    blocks_free(NULL, ctx->spare);
    blocks_free(ctx->be, ctx->dspare);
    free(ctx->tape);
    free(ctx);
}

/* If the step overflowed into extra blocks, replace them by one block big enough for the whole step,
 * so steady-state steps bump-allocate from a single block. */
static void consolidate(const ug_backend *be, ug_arena_block **head) {
    if ((*head)->next) {
        size_t total = 0;
        bool fits = true;
        for (ug_arena_block *b = *head; b && fits; b = b->next) fits = ug_ckd_add_size(total, b->cap, &total);
        ug_arena_block *nb = fits ? block_new(be, total) : NULL;
        if (nb) {
            blocks_free(be, *head);
            *head = nb;
        } else {
            blocks_free(be, (*head)->next);  /* keep the head; allocation will chain again */
            (*head)->next = NULL;
        }
    }
    (*head)->used = 0;
}

void ug_step_reset(ug_ctx *ctx) {
    blocks_free(NULL, ctx->spare);
    blocks_free(ctx->be, ctx->dspare);
    ctx->spare = ctx->dspare = NULL;
    ctx->reset_epoch++;
    ug__reuse_clear(ctx);
    consolidate(NULL, &ctx->arena);
    consolidate(ctx->be, &ctx->darena);
    ctx->arena_used_total = 0;
    ctx->tape_n = 0;
}

/* A released block of at least `bytes`, taken off the spare list (first fit), or NULL. */
static ug_arena_block *take_spare(ug_arena_block **spare, size_t bytes) {
    for (ug_arena_block **p = spare; *p; p = &(*p)->next)
        if ((*p)->cap >= bytes) {
            ug_arena_block *b = *p;
            *p = b->next;
            b->next = NULL;
            b->used = 0;
            return b;
        }
    return NULL;
}

/* A request is rounded up to UG_ALIGN and a new block is twice the larger of the request and the
 * current block; each step is checked (base/ckd.h), so a size near SIZE_MAX is refused with its value
 * rather than wrapping to a tiny block that the caller then writes past. */
static void *bump(ug_ctx *ctx, const ug_backend *be, ug_arena_block **head, size_t want) {
    const char *what = be ? "tensor data" : "host scratch";
    size_t bytes;
    if (!ug_ckd_round_up(want, UG_ALIGN, &bytes) || bytes > (size_t)PTRDIFF_MAX / 2) {
        ug_ctx_fail(ctx, UG_ERR_NOMEM, "arena: cannot allocate %zu bytes of %s: the size is beyond any memory "
                    "(an overflowed size computation?)", want, what);
        return NULL;
    }
    if (bytes == 0) bytes = UG_ALIGN;
    ug_arena_block *b = *head;
    if (bytes > b->cap - b->used) {
        size_t cap = b->cap > bytes ? b->cap : bytes;
        cap = cap <= (size_t)PTRDIFF_MAX / 2 ? cap * 2 : bytes;  /* doubling would overflow: exactly what is asked */
        ug_arena_block *nb = take_spare(be ? &ctx->dspare : &ctx->spare, bytes);
        if (!nb) nb = block_new(be, cap);
        if (!nb && cap > bytes) nb = block_new(be, bytes);  /* the doubled block did not fit: try the request */
        if (!nb) {
            ug_ctx_fail(ctx, UG_ERR_NOMEM, "arena: cannot allocate %zu bytes of %s (out of memory)", bytes, what);
            return NULL;
        }
        nb->next = b;
        *head = nb;
        b = nb;
    }
    void *p = b->mem + b->used;
    b->used += bytes;
    ctx->arena_used_total += bytes;
    if (ctx->arena_used_total > ctx->arena_peak) ctx->arena_peak = ctx->arena_used_total;
    return p;
}

void *ug__alloc(ug_ctx *ctx, size_t bytes) { return bump(ctx, NULL, &ctx->arena, bytes); }
void *ug__bump_data(ug_ctx *ctx, size_t bytes) { return bump(ctx, ctx->be, &ctx->darena, bytes); }
void *ug__alloc_data(ug_ctx *ctx, size_t bytes) {
    return ctx->reuse.on ? ug__reuse_alloc(ctx, bytes) : bump(ctx, ctx->be, &ctx->darena, bytes);
}

void *ug_arena_alloc(ug_ctx *ctx, size_t bytes) { return ug__alloc(ctx, bytes); }

ug_mark ug_arena_mark(ug_ctx *ctx) {
    return (ug_mark){.block = ctx->arena, .dblock = ctx->darena, .used = ctx->arena->used,
                     .dused = ctx->darena->used, .total = ctx->arena_used_total, .tape_n = ctx->tape_n,
                     .epoch = ctx->reset_epoch};
}

static bool in_chain(const ug_arena_block *b, const void *block) {
    while (b && b != block) b = b->next;
    return b != NULL;
}

/* Move the blocks chained after the mark's block (newest first) onto the spare list. */
static void unwind(ug_arena_block **head, ug_arena_block **spare, const void *mark_block) {
    while (*head != mark_block) {
        ug_arena_block *n = (*head)->next;
        (*head)->next = *spare;
        *spare = *head;
        *head = n;
    }
}

bool ug_arena_release(ug_ctx *ctx, ug_mark m) {
    if (ctx->tape_n != m.tape_n || ctx->reset_epoch != m.epoch) return false;
    if (!in_chain(ctx->arena, m.block) || !in_chain(ctx->darena, m.dblock)) return false;
    ug__reuse_clear(ctx);  /* free buffers past the mark are about to be the arena's again */
    unwind(&ctx->arena, &ctx->spare, m.block);
    unwind(&ctx->darena, &ctx->dspare, m.dblock);
    ctx->arena->used = m.used;
    ctx->darena->used = m.dused;
    ctx->arena_used_total = m.total;
    return true;
}
size_t ug_arena_used(const ug_ctx *ctx) { return ctx->arena_used_total; }
size_t ug_arena_peak(const ug_ctx *ctx) { return ctx->arena_peak; }

ug_status ug_ctx_status(const ug_ctx *ctx) { return ctx->err.code; }
const char *ug_ctx_errmsg(const ug_ctx *ctx) { return ctx->err.code ? ctx->err.msg : ""; }
void ug_ctx_clear_error(ug_ctx *ctx) {
    ctx->err.code = UG_OK;
    ctx->err.msg[0] = 0;
}

ug_status ug_ctx_fail(ug_ctx *ctx, ug_status code, const char *fmt, ...) {
    if (ctx->err.code != UG_OK) return code;
    ctx->err.code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->err.msg, sizeof ctx->err.msg, fmt, ap);
    va_end(ap);
    ug_msg_clean(ctx->err.msg, sizeof ctx->err.msg); /* plugins' messages may quote their data files */
    return code;
}

ug_tensor *ug__fail_null(ug_ctx *ctx, const char *op, const char *fmt, ...) {
    if (ctx->err.code != UG_OK) return NULL;
    char buf[UG_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    ug_ctx_fail(ctx, UG_ERR_ARG, "%s: %s", op, buf);
    return NULL;
}

bool ug_set_grad_enabled(ug_ctx *ctx, bool on) {
    bool prev = ctx->grad_enabled;
    ctx->grad_enabled = on;
    return prev;
}
bool ug_grad_enabled(const ug_ctx *ctx) { return ctx->grad_enabled; }

uint64_t ug_set_grad_groups(ug_ctx *ctx, uint64_t mask) {
    uint64_t prev = ctx->grad_groups;
    ctx->grad_groups = mask;
    return prev;
}

void ug_set_threads(ug_ctx *ctx, int n) {
    ctx->threads = n;
    int eff = n;
#ifdef _OPENMP
    if (eff <= 0) eff = omp_get_num_procs();
    omp_set_num_threads(eff);
#endif
    if (eff <= 0) eff = 0;
    if (eff > 0) openblas_set_num_threads(eff);
}
int ug_get_threads(const ug_ctx *ctx) { return ctx->threads; }
