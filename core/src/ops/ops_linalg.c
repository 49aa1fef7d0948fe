/* ops_linalg.c — matmul (2-D and batched, broadcast batch dims) and the fused linear layer, on
 * cblas_sgemm. Transposed views go to BLAS as transpose flags, so backward passes copy nothing. */
#include "tensor/internal.h"

#include <string.h>

/* How a [.., R, C] operand is handed to row-major GEMM: pointer step per batch, transpose, ld. */
typedef struct {
    bool trans;
    int64_t ld;
} gemm_view;

static bool as_gemm(const ug_tensor *x, gemm_view *v) {
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
    gemm_view va, vb;
    if (!as_gemm(a, &va)) { a = ug_contiguous(ctx, a); if (!a || !as_gemm(a, &va)) return NULL; }
    if (!as_gemm(b, &vb)) { b = ug_contiguous(ctx, b); if (!b || !as_gemm(b, &vb)) return NULL; }
    int64_t osh[UG_MAX_DIMS];
    memcpy(osh, bsh, sizeof(int64_t) * (size_t)nbd);
    osh[nbd] = M;
    osh[nbd + 1] = N;
    ug_tensor *y = ug__empty(ctx, UG_F32, nbd + 2, osh);
    if (!y) return NULL;
    int64_t batch = 1;
    for (int d = 0; d < nbd; d++) batch *= bsh[d];
    const float **pa = ug__alloc(ctx, sizeof(float *) * (size_t)batch);
    const float **pb = ug__alloc(ctx, sizeof(float *) * (size_t)batch);
    float **pc = ug__alloc(ctx, sizeof(float *) * (size_t)batch);
    if (!pa || !pb || !pc) return NULL;
    for (int64_t i = 0; i < batch; i++) {
        int64_t rem = i, oa = 0, ob = 0;
        for (int d = nbd - 1; d >= 0; d--) {
            int64_t id = rem % bsh[d];
            rem /= bsh[d];
            int da = d - (nbd - ba.ndim), db = d - (nbd - bb.ndim);
            if (da >= 0 && a->shape[da] != 1) oa += id * a->stride[da];
            if (db >= 0 && b->shape[db] != 1) ob += id * b->stride[db];
        }
        pa[i] = (const float *)a->data + oa;
        pb[i] = (const float *)b->data + ob;
        pc[i] = (float *)y->data + i * M * N;
    }
    if (M > 0 && N > 0) {
        if (K == 0) ctx->be->fill(y, 0.0f);
        else ctx->be->gemm((int)batch, va.trans, vb.trans, M, N, K, pa, va.ld, pb, vb.ld, pc, N, false);
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
    gemm_view vg, vx;
    if (need[1] && ug__direct_param(ctx, w) && ug_is_contiguous(w->grad) && as_gemm(g, &vg) && as_gemm(x, &vx)) {
        int64_t B = g->shape[0], O = g->shape[1], I = x->shape[1];
        const float *pa = g->data, *pb = x->data;
        float *pc = w->grad->data;
        if (B > 0) ctx->be->gemm(1, !vg.trans, vx.trans, O, I, B, &pa, vg.ld, &pb, vx.ld, &pc, I, true);
        *done_w = true;
    }
    if (bias && need[2] && ug__direct_param(ctx, bias) && ug_is_contiguous(bias->grad)) {
        ug_tensor *gc = ug_contiguous(ctx, g);
        if (!gc) return false;
        const float *gp = gc->data;
        float *bp = bias->grad->data;
        int64_t B = gc->shape[0], O = gc->shape[1];
        for (int64_t r = 0; r < B; r++)
            for (int64_t o = 0; o < O; o++) bp[o] += gp[r * O + o];
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
    gemm_view vx, vw;
    if (!as_gemm(x, &vx)) { x = ug_contiguous(ctx, x); if (!x || !as_gemm(x, &vx)) return NULL; }
    if (!as_gemm(w, &vw)) { w = ug_contiguous(ctx, w); if (!w || !as_gemm(w, &vw)) return NULL; }
    ug_tensor *y = ug__empty(ctx, UG_F32, 2, (int64_t[]){B, O});  /* [B, out] */
    if (!y) return NULL;
    float *yd = y->data;
    if (bias) {
        bias = ug_contiguous(ctx, bias);
        if (!bias) return NULL;
        const float *bd = bias->data;
        for (int64_t r = 0; r < B; r++) memcpy(yd + r * O, bd, sizeof(float) * (size_t)O);
    }
    const float *pa = x->data, *pb = w->data;
    float *pc = yd;
    if (B > 0 && O > 0) {
        if (I == 0) { if (!bias) ctx->be->fill(y, 0.0f); }
        else ctx->be->gemm(1, vx.trans, !vw.trans, B, O, I, &pa, vx.ld, &pb, vw.ld, &pc, O, bias != NULL);
    }
    ug_tensor *in[3] = {x, w, bias};
    ug__record(ctx, y, "linear", bw_linear, bias ? 3 : 2, in);
    return y;
}
