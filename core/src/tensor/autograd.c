/* autograd.c — the reverse-mode engine shared by ug_grad and ug_backward.
 *
 * The tape is in creation order, so walking it backwards from the output is a topological order.
 * A first forward sweep marks the nodes that lead to a target (a selected parameter or a requested
 * input); only those run their backward rule, and each rule is told which inputs need a gradient.
 * Gradients are accumulated per tensor in `bw_acc`, tagged with the call's epoch so stale values
 * from earlier calls are never read. With create_graph the rules run with grad mode on, so the
 * gradients they build are recorded on the tape and can be differentiated again; without it they
 * record nothing, and the memory of a gradient is reused once its node is done (bw_reuse.c). */
#include "tensor/internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t group_mask;   /* ug_backward: parameters of these groups are targets */
    bool to_params;
    uint32_t epoch;
    ug_tensor *const *xs;  /* ug_grad: the requested inputs */
    int nxs;
} engine_cfg;

static bool is_target(const ug_tensor *t, const engine_cfg *c) {
    if (c->to_params)
        return t->is_leaf && t->group >= 0 && t->group < 64 && ((c->group_mask >> t->group) & 1u);
    for (int i = 0; i < c->nxs; i++)
        if (c->xs[i] == t) return true;
    return false;
}

static ug_tensor *acc_get(const ug_tensor *t, uint32_t epoch) {
    return t->bw_epoch == epoch ? (ug_tensor *)t->bw_acc : NULL;
}

/* Gradients for parameters flow straight into their group's gradient block. */
static void accumulate(ug_ctx *ctx, ug_tensor *t, ug_tensor *g, const engine_cfg *c) {
    if (!g) return;
    if (!ug__same_shape(g, t)) {
        /* A rule returned a broadcast-shaped gradient; reduce it (defensive, rules should not). */
        g = ug_sum_to(ctx, g, t->ndim, t->shape);
        if (!g) return;
    }
    if (c->to_params && t->is_leaf && t->group >= 0) {
        if (!t->grad) {
            ug_ctx_fail(ctx, UG_ERR_INTERNAL, "backward: parameter '%s' has no gradient buffer",
                        t->name ? t->name : "?");
            return;
        }
        bool prev = ug_set_grad_enabled(ctx, false);
        ug_tensor *gc = ug_contiguous(ctx, g);
        ug_set_grad_enabled(ctx, prev);
        if (gc) ctx->be->axpy(1.0f, gc, t->grad);
        return;
    }
    ug_tensor *cur = acc_get(t, c->epoch);
    ug_tensor *sum = cur ? ug_add(ctx, cur, g) : g;
    if (!sum) return;
    ug__reuse_ref(ctx, sum, +1);
    if (cur) ug__reuse_ref(ctx, cur, -1);
    t->bw_acc = sum;
    t->bw_epoch = c->epoch;
}

static ug_status run_engine(ug_ctx *ctx, ug_tensor *out, engine_cfg *c, bool create_graph) {
    if (!out) return ctx->err.code ? ctx->err.code : ug_ctx_fail(ctx, UG_ERR_ARG, "backward: output is NULL");
    if (ctx->err.code) return ctx->err.code;
    if (ug_numel(out) != 1) {
        char b[64];
        return ug_ctx_fail(ctx, UG_ERR_ARG, "backward: output must have one element, got %s", ug__shp(out, b));
    }
    if (!out->node) return UG_OK;  /* constant: every gradient is zero */
    int64_t last = out->node->seq;

    /* Forward sweep: which nodes lead to a target. */
    for (int64_t k = 0; k <= last; k++) {
        ug_node *n = ctx->tape[k];
        n->reach = 0;
        for (int i = 0; i < n->nin && !n->reach; i++) {
            const ug_tensor *in = n->in[i];
            if (!in) continue;
            if (is_target(in, c) || (in->node && in->node->reach)) n->reach = 1;
        }
    }

    bool prev = ug_set_grad_enabled(ctx, create_graph);
    ctx->bw_direct = c->to_params && !create_graph;
    ctx->bw_mask = c->group_mask;
    /* Without a graph nothing the rules make is recorded, so their memory can be reused (bw_reuse.c). */
    const bool reuse = !create_graph;
    if (reuse) ug__reuse_begin(ctx);
    ug_tensor *seed = ug_full(ctx, out->ndim, out->shape, 1.0f);
    ug__reuse_ref(ctx, seed, +1);
    out->bw_acc = seed;
    out->bw_epoch = c->epoch;

    bool need_small[8];
    ug_tensor *gin_small[8];
    for (int64_t k = last; k >= 0 && !ctx->err.code; k--) {
        ug_node *n = ctx->tape[k];
        if (!n->reach) continue;
        ug_tensor *g = acc_get(n->out, c->epoch);
        if (!g) continue;
        bool *need = n->nin <= 8 ? need_small : ug__alloc(ctx, sizeof(bool) * (size_t)n->nin);
        ug_tensor **gin = n->nin <= 8 ? gin_small : ug__alloc(ctx, sizeof(ug_tensor *) * (size_t)n->nin);
        if (!need || !gin) break;
        bool any = false;
        for (int i = 0; i < n->nin; i++) {
            const ug_tensor *in = n->in[i];
            need[i] = in && in->requires_grad && (is_target(in, c) || (in->node && in->node->reach));
            any |= need[i];
            gin[i] = NULL;
        }
        if (any) {
            n->backward(ctx, n, g, gin, need);
            for (int i = 0; i < n->nin; i++)
                if (need[i]) accumulate(ctx, n->in[i], gin[i], c);
        }
        if (reuse && !is_target(n->out, c)) {
            /* consumers come later on the tape, so nothing adds to this gradient again */
            ug__reuse_ref(ctx, g, -1);
            n->out->bw_epoch = 0;
            ug__reuse_sweep(ctx);
        }
    }
    if (reuse) ug__reuse_end(ctx);
    ug_set_grad_enabled(ctx, prev);
    ctx->bw_direct = false;
    return ctx->err.code;
}

ug_status ug_backward(ug_ctx *ctx, ug_tensor *loss, uint64_t group_mask) {
    engine_cfg c = {.group_mask = group_mask, .to_params = true, .epoch = ++ctx->epoch};
    return run_engine(ctx, loss, &c, false);
}

ug_status ug_grad(ug_ctx *ctx, ug_tensor *out, ug_tensor *const *xs, int n, ug_tensor **grads, bool create_graph) {
    if (ctx->err.code) return ctx->err.code;
    engine_cfg c = {.to_params = false, .epoch = ++ctx->epoch, .xs = xs, .nxs = n};
    for (int i = 0; i < n; i++)
        if (!xs[i]) return ug_ctx_fail(ctx, UG_ERR_ARG, "grad: input %d is NULL", i);
    ug_status st = run_engine(ctx, out, &c, create_graph);
    for (int i = 0; i < n; i++) {
        ug_tensor *g = acc_get(xs[i], c.epoch);
        grads[i] = g ? g : ug_zeros_like(ctx, xs[i]);
    }
    return st ? st : ctx->err.code;
}
