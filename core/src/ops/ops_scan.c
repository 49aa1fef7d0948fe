/* ops_scan.c — cumulative sums and products along an axis (ug_cumsum, ug_cumprod) and their backward
 * rules, written with the same ops so gradients of gradients come free. Along the axis, with g the
 * gradient of the output y:
 *   cumsum:   y_i = sum_{j<=i} x_j     dL/dx_k = sum_{i>=k} g_i           = cumsum(g, reverse)
 *   cumprod:  y_i = prod_{j<=i} x_j    dL/dx_k = sum_{i>=k} g_i y_i / x_k = cumsum(g * y, reverse) / x_k
 * and a reverse scan swaps the two directions. The cumprod rule divides by x: it holds for inputs
 * without zeros only (a zero entry gives inf/NaN where torch's rule, a product over the other entries,
 * stays finite). Writing the zero-safe rule needs exclusive products from both sides and a second
 * rule for the entries at the first zero; nothing here needs it yet.
 *
 * Diffusion schedules want alpha_bar_t = prod_{s<=t} (1 - beta_s): build it in log space,
 * ug_exp(ug_cumsum(ug_log1p(ug_neg(beta)), 0, false)), the usual way (no zeros to worry about, and
 * the backend's double accumulation keeps 1000 steps of rounding from adding up). */
#include "tensor/internal.h"

static ug_tensor *scan_op(ug_ctx *ctx, ug_tensor *x, int axis, bool reverse, int kind);

static void bw_scan(ug_ctx *ctx, ug_node *n, ug_tensor *g, ug_tensor **gin, const bool *need) {
    if (!need[0]) return;
    int axis = (int)n->i[0];
    bool reverse = n->i[1] != 0;
    if (n->i[2] == UG_S_SUM) {
        gin[0] = scan_op(ctx, g, axis, !reverse, UG_S_SUM);
        return;
    }
    gin[0] = ug_div(ctx, scan_op(ctx, ug_mul(ctx, g, n->out), axis, !reverse, UG_S_SUM), n->in[0]);
}

static ug_tensor *scan_op(ug_ctx *ctx, ug_tensor *x, int axis, bool reverse, int kind) {
    UG_CHECK_IN(ctx, x);
    const char *name = kind == UG_S_SUM ? "cumsum" : "cumprod";
    char b[64];
    if (x->dtype != UG_F32)
        return ug__fail_null(ctx, name, "expects a float tensor, got an index (i32) tensor %s", ug__shp(x, b));
    int a = ug__axis(ctx, name, x, axis);
    if (a < 0) return NULL;
    x = ug_contiguous(ctx, x);
    if (!x) return NULL;
    ug_tensor *y = ug__empty(ctx, UG_F32, x->ndim, x->shape);
    if (!y) return NULL;
    ctx->be->scan(kind, x, a, reverse, y);
    ug_node *n = ug__record(ctx, y, name, bw_scan, 1, &x);
    if (n) {
        n->i[0] = a;
        n->i[1] = reverse;
        n->i[2] = kind;
    }
    return y;
}

ug_tensor *ug_cumsum(ug_ctx *c, ug_tensor *x, int axis, bool reverse) { return scan_op(c, x, axis, reverse, UG_S_SUM); }
ug_tensor *ug_cumprod(ug_ctx *c, ug_tensor *x, int axis, bool reverse) { return scan_op(c, x, axis, reverse, UG_S_PROD); }
