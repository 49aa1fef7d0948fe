/* ops_linalg.c — matmul (2-D and batched, broadcast batch dims) and the fused linear layer, on the
 * backend's GEMM. Transposed views go to it as they are (ug_gemm_layout_of), so backward passes copy
 * nothing. */
#include "tensor/internal.h"

#include <string.h>

static void bw_matmul(ug_ctx *ctx, ug_node *n, ug_tensor *g, ug_tensor **gin, const bool *need) {
    ug_tensor *a = n->in[0], *b = n->in[1];
    if (need[0]) gin[0] = ug__unbroadcast(ctx, ug_matmul(ctx, g, ug_transpose(ctx, b, -1, -2)), a);
    if (need[1]) gin[1] = ug__unbroadcast(ctx, ug_matmul(ctx, ug_transpose(ctx, a, -1, -2), g), b);
}

ug_tensor *ug_matmul(ug_ctx *ctx, ug_tensor *a, ug_tensor *b) {
    UG_CHECK_IN(ctx, a);
    UG_CHECK_IN(ctx, b);
    char sa[64], sb[64];
    if (a->dtype != UG_F32 || b->dtype != UG_F32) return ug__fail_null(ctx, "matmul", "expects float tensors");
    if (a->ndim < 2 || b->ndim < 2)
        return ug__fail_null(ctx, "matmul", "needs 2-D or batched operands, got %s and %s", ug__shp(a, sa),
                             ug__shp(b, sb));
    int64_t M = a->shape[a->ndim - 2], K = a->shape[a->ndim - 1];
    int64_t K2 = b->shape[b->ndim - 2], N = b->shape[b->ndim - 1];
    if (K != K2)
        return ug__fail_null(ctx, "matmul", "inner dimensions differ: %s @ %s", ug__shp(a, sa), ug__shp(b, sb));
    /* batch shape = broadcast of the leading dims */
    ug_tensor ba = *a, bb = *b;
    ba.ndim = a->ndim - 2;
    bb.ndim = b->ndim - 2;
    int nbd;
    int64_t bsh[UG_MAX_DIMS];
    if (!ug__broadcast_shape(ctx, "matmul", &ba, &bb, &nbd, bsh)) return NULL;
    ug_gemm_layout va, vb;
    if (!ug_gemm_layout_of(a, &va)) { a = ug_contiguous(ctx, a); if (!a || !ug_gemm_layout_of(a, &va)) return NULL; }
    if (!ug_gemm_layout_of(b, &vb)) { b = ug_contiguous(ctx, b); if (!b || !ug_gemm_layout_of(b, &vb)) return NULL; }
    int64_t osh[UG_MAX_DIMS];
    memcpy(osh, bsh, sizeof(int64_t) * (size_t)nbd);
    osh[nbd] = M;
    osh[nbd + 1] = N;
    ug_tensor *y = ug__empty(ctx, UG_F32, nbd + 2, osh);  // [batch..., M, N]
    if (!y) return NULL;
    if (M > 0 && N > 0) {
        if (K == 0) ctx->be->fill(y, 0.0f);
        else ctx->be->gemm(&(ug_gemm_args){.a = a, .b = b, .c = y, .alpha = 1.0f, .beta = 0.0f});
    }
    ug_tensor *in[2] = {a, b};
    ug__record(ctx, y, "matmul", bw_matmul, 2, in);
    return y;
}

/* dW += g^T x and db += sum_rows(g) written straight into the parameters' gradient blocks: the
 * common case of ug_backward, where a temporary [out, in] per use would cost memory and a pass. */
static bool bw_linear_direct(ug_ctx *ctx, ug_tensor *g, ug_tensor *x, ug_tensor *w, ug_tensor *bias, const bool *need,
                             bool *done_w, bool *done_b) {
    *done_w = *done_b = false;
    ug_gemm_layout vg, vx;
    if (need[1] && ug__direct_param(ctx, w) && ug_is_contiguous(w->grad) && ug_gemm_layout_of(g, &vg) &&
        ug_gemm_layout_of(x, &vx)) {
        /* dW [out, in] += g^T [out, B] @ x [B, in] */
        if (g->shape[0] > 0) ctx->be->gemm(&(ug_gemm_args){.a = g, .b = x, .c = w->grad, .ta = true, .alpha = 1.0f, .beta = 1.0f});
        *done_w = true;
    }
    if (bias && need[2] && ug__direct_param(ctx, bias) && ug_is_contiguous(bias->grad)) {
        ug_tensor *gc = ug_contiguous(ctx, g);
        if (!gc) return false;
        ctx->be->sum_acc(gc, 0, bias->grad);  // db [out] += sum over the B rows of g, row by row
        *done_b = true;
    }
    return true;
}

static void bw_linear(ug_ctx *ctx, ug_node *n, ug_tensor *g, ug_tensor **gin, const bool *need) {
    ug_tensor *x = n->in[0], *w = n->in[1], *bias = n->nin > 2 ? n->in[2] : NULL;
    bool done_w = false, done_b = false;
    if (!bw_linear_direct(ctx, g, x, w, bias, need, &done_w, &done_b)) return;
    if (need[0]) gin[0] = ug_matmul(ctx, g, w);                                   /* [B,out]@[out,in] */
    if (need[1] && !done_w) gin[1] = ug_matmul(ctx, ug_transpose(ctx, g, 0, 1), x); /* [out,B]@[B,in] */
    if (bias && need[2] && !done_b) gin[2] = ug_sum(ctx, g, 0, false);           /* [out] */
}

ug_tensor *ug_linear(ug_ctx *ctx, ug_tensor *x, ug_tensor *w, ug_tensor *bias) {
    UG_CHECK_IN(ctx, x);
    UG_CHECK_IN(ctx, w);
    char sx[64], sw[64], sbias[64];
    if (x->ndim != 2 || w->ndim != 2 || x->shape[1] != w->shape[1])
        return ug__fail_null(ctx, "linear", "x %s and w %s: need x [B, in], w [out, in]", ug__shp(x, sx),
                             ug__shp(w, sw));
    if (bias && (bias->ndim != 1 || bias->shape[0] != w->shape[0]))
        return ug__fail_null(ctx, "linear", "bias %s does not match w %s", ug__shp(bias, sbias), ug__shp(w, sw));
    int64_t B = x->shape[0], O = w->shape[0], I = w->shape[1];
    ug_gemm_layout vx, vw;
    if (!ug_gemm_layout_of(x, &vx)) { x = ug_contiguous(ctx, x); if (!x || !ug_gemm_layout_of(x, &vx)) return NULL; }
    if (!ug_gemm_layout_of(w, &vw)) { w = ug_contiguous(ctx, w); if (!w || !ug_gemm_layout_of(w, &vw)) return NULL; }
    ug_tensor *y = ug__empty(ctx, UG_F32, 2, (int64_t[]){B, O});  /* [B, out] */
    if (!y) return NULL;
    if (bias) {
        bias = ug_contiguous(ctx, bias);
        if (!bias) return NULL;
        /* every row of y starts as the bias: the backend's copy of bias seen as [B, out] with stride 0 */
        ug_tensor rows = *bias;  // [B, out] view, on the stack: the kernel reads it during the call
        rows.ndim = 2;
        rows.shape[0] = B;
        rows.shape[1] = O;
        rows.stride[0] = 0;
        rows.stride[1] = bias->stride[0];
        ctx->be->copy(&rows, y);
    }
    if (B > 0 && O > 0) {
        if (I == 0) { if (!bias) ctx->be->fill(y, 0.0f); }
        else ctx->be->gemm(&(ug_gemm_args){.a = x, .b = w, .c = y, .tb = true, .alpha = 1.0f, .beta = bias ? 1.0f : 0.0f});
    }
    ug_tensor *in[3] = {x, w, bias};
    ug__record(ctx, y, "linear", bw_linear, bias ? 3 : 2, in);
    return y;
}
