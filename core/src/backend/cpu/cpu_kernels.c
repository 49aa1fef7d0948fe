/* cpu_kernels.c — CPU kernels behind ug_backend: elementwise with broadcasting, casts, reductions,
 * softmax, cumulative sums/products, GEMM (OpenBLAS), strided copy, gather/scatter; and the table
 * itself, which also takes the entries of cpu_unary.c, cpu_storage.c, cpu_rng.c, cpu_optim.c,
 * cpu_conv.c and cpu_norm.c (cpu.h). Plain loops the compiler vectorizes; OpenMP only on large flat loops so small
 * batches pay no threading overhead. */
#include "backend/backend.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "backend/cpu/cpu.h"
#include "backend/cpu/cpu_exp.h"


static int64_t numel(const ug_tensor *x) {
    int64_t n = 1;
    for (int d = 0; d < x->ndim; d++) n *= x->shape[d];
    return n;
}

static bool contig(const ug_tensor *x) {
    int64_t s = 1;
    for (int d = x->ndim - 1; d >= 0; d--) {
        if (x->shape[d] != 1 && x->stride[d] != s) return false;
        s *= x->shape[d];
    }
    return true;
}

/* Strides of x aligned to a 4-D broadcast shape (0 where x is broadcast). */
static void align4(const ug_tensor *x, const ug_tensor *out, int64_t st[4]) {
    for (int d = 0; d < 4; d++) {
        int xd = d - (4 - x->ndim);
        int od = d - (4 - out->ndim);
        int64_t os = od >= 0 ? out->shape[od] : 1;
        st[d] = (xd < 0 || x->shape[xd] == 1 || os == 1) ? 0 : x->stride[xd];
    }
}
static void shape4(const ug_tensor *out, int64_t sh[4]) {
    for (int d = 0; d < 4; d++) {
        int od = d - (4 - out->ndim);
        sh[d] = od >= 0 ? out->shape[od] : 1;
    }
}

static void cpu_affine(float a, float b, const ug_tensor *xt, ug_tensor *yt) {
    const float *restrict x = xt->data;
    float *restrict y = yt->data;
    int64_t n = numel(xt);
PAR_FOR(n > PAR_MIN)
    for (int64_t i = 0; i < n; i++) y[i] = a * x[i] + b;
}

/* log(exp a + exp b) over a span of n outputs, a and b read with strides xa, xb (0: broadcast), the way
 * lse_row below reduces a pair [a, b]: the max plus the log of the sum of the two exps, one of which is
 * exp(0) = 1 exactly, so m + logf(1 + exp(lo - m)) is that same sum and a logsumexp over a concatenated
 * pair agrees with this bit for bit where both are finite. Unlike that reduction it gives +inf (not NaN)
 * when an input is +inf, as torch.logaddexp does; both -inf give -inf (log 0); NaN gives NaN.
 * Two passes through a stack chunk: the max and the exp vectorize (selects only), glibc's logf is a call
 * the vectorizer cannot inline. Inlined with literal strides, each broadcast pattern gets its own loop. */
static inline void lae_span(const float *pa, int64_t xa, const float *pb, int64_t xb, float *po, int64_t n) {
    enum { CH = 256 };
    float sv[CH];
    for (int64_t j0 = 0; j0 < n; j0 += CH) {
        int64_t m = n - j0 < CH ? n - j0 : CH;
        for (int64_t j = 0; j < m; j++) {
            float a = pa[(j0 + j) * xa], b = pb[(j0 + j) * xb];
            float hi = ug_cpu_select(a > b, a, b), lo = ug_cpu_select(a > b, b, a);
            hi = ug_cpu_select(lo != lo, lo, hi);  /* a NaN (a > b false: lo = a) reaches the result */
            po[j0 + j] = hi;
            sv[j] = 1.0f + ug_cpu_expf(lo - hi);
        }
        for (int64_t j = 0; j < m; j++) {
            float hi = po[j0 + j];
            po[j0 + j] = isinf(hi) ? hi : hi + logf(sv[j]);
        }
    }
}

static void bin_lae(const ug_tensor *at, const ug_tensor *bt, ug_tensor *ot) {
    float *o = ot->data;
    const float *a = at->data, *b = bt->data;
    int64_t n = numel(ot);
    if (contig(at) && contig(bt) && numel(at) == n && numel(bt) == n) {
        lae_span(a, 1, b, 1, o, n);
        return;
    }
    if (numel(bt) == 1 && contig(at) && numel(at) == n) {
        lae_span(a, 1, b, 0, o, n);
        return;
    }
    int64_t sh[4], sa[4], sb[4];
    shape4(ot, sh);
    align4(at, ot, sa);
    align4(bt, ot, sb);
    int64_t rows = sh[0] * sh[1] * sh[2], len = sh[3];
    for (int64_t r = 0; r < rows; r++) {
        int64_t i0 = r / (sh[1] * sh[2]), i1 = (r / sh[2]) % sh[1], i2 = r % sh[2];
        const float *pa = a + i0 * sa[0] + i1 * sa[1] + i2 * sa[2];
        const float *pb = b + i0 * sb[0] + i1 * sb[1] + i2 * sb[2];
        float *po = o + r * len;
        if (sa[3] == 1 && sb[3] == 1) lae_span(pa, 1, pb, 1, po, len);
        else if (sa[3] == 1 && sb[3] == 0) lae_span(pa, 1, pb, 0, po, len);
        else if (sa[3] == 0 && sb[3] == 1) lae_span(pa, 0, pb, 1, po, len);
        else lae_span(pa, sa[3], pb, sb[3], po, len);
    }
}

#define BIN_OP(kind, A, B)                                                 \
    ((kind) == UG_B_ADD ? (A) + (B) : (kind) == UG_B_SUB ? (A) - (B)       \
     : (kind) == UG_B_MUL ? (A) * (B) : (kind) == UG_B_DIV ? (A) / (B)     \
     : (kind) == UG_B_POW ? powf((A), (B))                                 \
     : (kind) == UG_B_GE ? ((A) >= (B) ? 1.0f : 0.0f)                      \
     : (kind) == UG_B_GT ? ((A) > (B) ? 1.0f : 0.0f)                       \
     : (kind) == UG_B_LE ? ((A) <= (B) ? 1.0f : 0.0f)                      \
     : (kind) == UG_B_LT ? ((A) < (B) ? 1.0f : 0.0f) : ((A) == (B) ? 1.0f : 0.0f))

/* Instantiated per kind so the ternary chain above folds to one operation. */
#define BIN_KERNEL(NAME, KIND)                                                                  \
    static void NAME(const ug_tensor *at, const ug_tensor *bt, ug_tensor *ot) {                 \
        float *restrict o = ot->data;                                                           \
        const float *a = at->data, *b = bt->data;                                               \
        int64_t n = numel(ot);                                                                  \
        if (contig(at) && contig(bt) && numel(at) == n && numel(bt) == n) {                     \
            PAR_FOR(n > PAR_MIN)                                                                \
            for (int64_t i = 0; i < n; i++) o[i] = BIN_OP(KIND, a[i], b[i]);                    \
            return;                                                                             \
        }                                                                                       \
        if (numel(bt) == 1 && contig(at) && numel(at) == n) {                                   \
            float bv = b[0];                                                                    \
            PAR_FOR(n > PAR_MIN)                                                                \
            for (int64_t i = 0; i < n; i++) o[i] = BIN_OP(KIND, a[i], bv);                      \
            return;                                                                             \
        }                                                                                       \
        int64_t sh[4], sa[4], sb[4];                                                            \
        shape4(ot, sh);                                                                         \
        align4(at, ot, sa);                                                                     \
        align4(bt, ot, sb);                                                                     \
        int64_t rows = sh[0] * sh[1] * sh[2], len = sh[3];                                      \
        PAR_FOR(n > PAR_MIN)                                                                    \
        for (int64_t r = 0; r < rows; r++) {                                                    \
            int64_t i0 = r / (sh[1] * sh[2]), i1 = (r / sh[2]) % sh[1], i2 = r % sh[2];         \
            const float *pa = a + i0 * sa[0] + i1 * sa[1] + i2 * sa[2];                         \
            const float *pb = b + i0 * sb[0] + i1 * sb[1] + i2 * sb[2];                         \
            float *po = o + r * len;                                                            \
            int64_t xa = sa[3], xb = sb[3];                                                     \
            if (xa == 1 && xb == 1)                                                             \
                for (int64_t j = 0; j < len; j++) po[j] = BIN_OP(KIND, pa[j], pb[j]);           \
            else if (xa == 1 && xb == 0) {                                                      \
                float bv = pb[0];                                                               \
                for (int64_t j = 0; j < len; j++) po[j] = BIN_OP(KIND, pa[j], bv);              \
            } else if (xa == 0 && xb == 1) {                                                    \
                float av = pa[0];                                                               \
                for (int64_t j = 0; j < len; j++) po[j] = BIN_OP(KIND, av, pb[j]);              \
            } else                                                                              \
                for (int64_t j = 0; j < len; j++) po[j] = BIN_OP(KIND, pa[j * xa], pb[j * xb]); \
        }                                                                                       \
    }

BIN_KERNEL(bin_add, UG_B_ADD)
BIN_KERNEL(bin_sub, UG_B_SUB)
BIN_KERNEL(bin_mul, UG_B_MUL)
BIN_KERNEL(bin_div, UG_B_DIV)
BIN_KERNEL(bin_pow, UG_B_POW)
BIN_KERNEL(bin_ge, UG_B_GE)
BIN_KERNEL(bin_gt, UG_B_GT)
BIN_KERNEL(bin_le, UG_B_LE)
BIN_KERNEL(bin_lt, UG_B_LT)
BIN_KERNEL(bin_eq, UG_B_EQ)

static void cpu_binary(int kind, const ug_tensor *a, const ug_tensor *b, ug_tensor *out) {
    switch (kind) {
    case UG_B_ADD: bin_add(a, b, out); break;
    case UG_B_SUB: bin_sub(a, b, out); break;
    case UG_B_MUL: bin_mul(a, b, out); break;
    case UG_B_DIV: bin_div(a, b, out); break;
    case UG_B_POW: bin_pow(a, b, out); break;
    case UG_B_LAE: bin_lae(a, b, out); break;
    case UG_B_GT: bin_gt(a, b, out); break;
    case UG_B_LE: bin_le(a, b, out); break;
    case UG_B_LT: bin_lt(a, b, out); break;
    case UG_B_EQ: bin_eq(a, b, out); break;
    default: bin_ge(a, b, out); break;
    }
}

/* F32 -> I32 as C's conversion (toward zero) inside the int32 range, where torch's .to(int32) agrees;
 * outside it (and for NaN, which compares false everywhere) C leaves the result undefined, so the
 * comparisons pin it first. */
static void cpu_cast(const ug_tensor *xt, ug_tensor *yt) {
    int64_t n = numel(xt);
    if (xt->dtype == yt->dtype) {
        memcpy(yt->data, xt->data, (size_t)n * 4);
        return;
    }
    if (yt->dtype == UG_I32) {
        const float *restrict x = xt->data;
        int32_t *restrict y = yt->data;
        for (int64_t i = 0; i < n; i++) {
            float v = x[i];
            y[i] = v >= 2147483648.0f ? INT32_MAX : v >= -2147483648.0f ? (int32_t)v : v < 0.0f ? INT32_MIN : 0;
        }
        return;
    }
    const int32_t *restrict x = xt->data;
    float *restrict y = yt->data;
    for (int64_t i = 0; i < n; i++) y[i] = (float)x[i];
}

/* One row of where with the strides of its last dim (0: broadcast). Inlined with literal strides for the
 * common patterns, so those rows vectorize (a select of bits, as ug_cpu_select). */
static inline void where_row(const float *pc, int64_t xc, const float *pa, int64_t xa, const float *pb, int64_t xb,
                             float *o, int64_t n) {
    for (int64_t j = 0; j < n; j++) o[j] = ug_cpu_select(pc[j * xc] != 0.0f, pa[j * xa], pb[j * xb]);
}

static void cpu_where(const ug_tensor *ct, const ug_tensor *at, const ug_tensor *bt, ug_tensor *ot) {
    int64_t sh[4], sc[4], sa[4], sb[4];
    shape4(ot, sh);
    align4(ct, ot, sc);
    align4(at, ot, sa);
    align4(bt, ot, sb);
    const float *c = ct->data, *a = at->data, *b = bt->data;
    float *o = ot->data;
    int64_t idx = 0;
    for (int64_t i0 = 0; i0 < sh[0]; i0++)
        for (int64_t i1 = 0; i1 < sh[1]; i1++)
            for (int64_t i2 = 0; i2 < sh[2]; i2++) {
                const float *pc = c + i0 * sc[0] + i1 * sc[1] + i2 * sc[2];
                const float *pa = a + i0 * sa[0] + i1 * sa[1] + i2 * sa[2];
                const float *pb = b + i0 * sb[0] + i1 * sb[1] + i2 * sb[2];
                float *po = o + idx;
                int64_t n = sh[3];
                idx += n;
                if (sc[3] == 1 && sa[3] == 0 && sb[3] == 0) where_row(pc, 1, pa, 0, pb, 0, po, n);
                else if (sc[3] == 1 && sa[3] == 1 && sb[3] == 1) where_row(pc, 1, pa, 1, pb, 1, po, n);
                else if (sc[3] == 1 && sa[3] == 0 && sb[3] == 1) where_row(pc, 1, pa, 0, pb, 1, po, n);
                else if (sc[3] == 1 && sa[3] == 1 && sb[3] == 0) where_row(pc, 1, pa, 1, pb, 0, po, n);
                else where_row(pc, sc[3], pa, sa[3], pb, sb[3], po, n);
            }
}

static void split_axis(const ug_tensor *x, int axis, int64_t *outer, int64_t *len, int64_t *inner) {
    *outer = 1;
    *inner = 1;
    for (int d = 0; d < axis; d++) *outer *= x->shape[d];
    *len = x->shape[axis];
    for (int d = axis + 1; d < x->ndim; d++) *inner *= x->shape[d];
}

/* logsumexp of one contiguous row (the policies' [B, K] logits reduced over K): 8 lanes so the max
 * and the sum of exps vectorize. Lanes change the order of the additions, not their terms. A NaN
 * anywhere gives NaN; a row of -inf (everything masked) gives -inf, i.e. log(0). */
static float lse_row(const float *x, int64_t n) {
    float mv[8], sv[8];
    for (int k = 0; k < 8; k++) mv[k] = -INFINITY;
    int64_t j = 0;
    for (; j + 8 <= n; j += 8)
        for (int k = 0; k < 8; k++) mv[k] = x[j + k] > mv[k] ? x[j + k] : mv[k];
    float m = -INFINITY;
    for (int k = 0; k < 8; k++) m = mv[k] > m ? mv[k] : m;
    for (; j < n; j++) m = x[j] > m ? x[j] : m;
    if (m == -INFINITY) {
        for (j = 0; j < n; j++)
            if (isnan(x[j])) return NAN;
        return -INFINITY;
    }
    for (int k = 0; k < 8; k++) sv[k] = 0.0f;
    for (j = 0; j + 8 <= n; j += 8)
        for (int k = 0; k < 8; k++) sv[k] += ug_cpu_expf(x[j + k] - m);
    float s = 0.0f;
    for (int k = 0; k < 8; k++) s += sv[k];
    for (; j < n; j++) s += ug_cpu_expf(x[j] - m);
    return m + logf(s);
}

/* acc (UG_R_SUM only): add to out's values instead of overwriting them (sum_acc). */
static void reduce_impl(int kind, const ug_tensor *xt, int axis, ug_tensor *ot, ug_tensor *am, bool acc) {
    int64_t outer, len, inner;
    split_axis(xt, axis, &outer, &len, &inner);
    const float *x = xt->data;
    float *o = ot->data;
    int32_t *arg = am ? am->data : NULL;
PAR_FOR(outer * len * inner > PAR_MIN)
    for (int64_t r = 0; r < outer; r++) {
        const float *xr = x + r * len * inner;
        float *orow = o + r * inner;
        if (kind == UG_R_LSE && inner == 1) {
            orow[0] = lse_row(xr, len);
            continue;
        }
        if (kind == UG_R_SUM && inner > 1) {
            /* Rows outer, columns inner: contiguous and vectorized, where a column at a time strides
             * through memory (a [4096, 256] bias gradient re-read the whole block per column). Each
             * output still adds its terms in the same order, so results are bit-identical. */
            if (!acc)
                for (int64_t i = 0; i < inner; i++) orow[i] = 0.0f;
            for (int64_t j = 0; j < len; j++) {
                const float *xj = xr + j * inner;
                for (int64_t i = 0; i < inner; i++) orow[i] += xj[i];
            }
            continue;
        }
        for (int64_t i = 0; i < inner; i++) {
            if (kind == UG_R_SUM) {
                float s = acc ? orow[i] : 0.0f;
                for (int64_t j = 0; j < len; j++) s += xr[j * inner + i];
                orow[i] = s;
            } else {
                float m = -INFINITY;
                int32_t mi = 0;
                for (int64_t j = 0; j < len; j++) {
                    float v = xr[j * inner + i];
                    if (v > m || (j == 0)) { m = v; mi = (int32_t)j; }
                }
                if (kind == UG_R_MAX) {
                    orow[i] = m;
                    if (arg) arg[r * inner + i] = mi;
                } else if (m == -INFINITY) {
                    orow[i] = -INFINITY;  /* every entry masked: log(0) */
                } else {
                    float s = 0.0f;
                    for (int64_t j = 0; j < len; j++) s += ug_cpu_expf(xr[j * inner + i] - m);
                    orow[i] = m + logf(s);
                }
            }
        }
    }
}

static void cpu_reduce(int kind, const ug_tensor *x, int axis, ug_tensor *out, ug_tensor *argmax) {
    reduce_impl(kind, x, axis, out, argmax, false);
}

static void cpu_sum_acc(const ug_tensor *x, int axis, ug_tensor *out) { reduce_impl(UG_R_SUM, x, axis, out, NULL, true); }

/* (log-)softmax of one contiguous row (the policies' [B, K] logits, D3PM's [B, D, K] over K), with the
 * results of the strided loop below bit for bit: the max by compare-and-select (what fmaxf gives for
 * non-NaN values; a NaN is skipped by both), the exps written to the output row in a loop that
 * vectorizes, their sum added in index order as before, then the row finished from them (softmax:
 * e_j / s is the exp the strided loop recomputes, times 1/s). */
static void softmax_row(bool lg, const float *x, float *o, int64_t n) {
    float m = -INFINITY;
    for (int64_t j = 0; j < n; j++) m = x[j] > m ? x[j] : m;
    if (m == -INFINITY) {  /* all masked: softmax is undefined; give 0 / -inf */
        for (int64_t j = 0; j < n; j++) o[j] = lg ? -INFINITY : 0.0f;
        return;
    }
    for (int64_t j = 0; j < n; j++) o[j] = ug_cpu_expf(x[j] - m);
    float s = 0.0f;
    for (int64_t j = 0; j < n; j++) s += o[j];
    if (lg) {
        float l = m + logf(s);
        for (int64_t j = 0; j < n; j++) o[j] = x[j] - l;
    } else {
        float inv = 1.0f / s;
        for (int64_t j = 0; j < n; j++) o[j] *= inv;
    }
}

static void cpu_softmax(bool lg, const ug_tensor *xt, int axis, ug_tensor *ot) {
    int64_t outer, len, inner;
    split_axis(xt, axis, &outer, &len, &inner);
    const float *x = xt->data;
    float *o = ot->data;
PAR_FOR(outer * len * inner > PAR_MIN)
    for (int64_t r = 0; r < outer; r++) {
        const float *xr = x + r * len * inner;
        float *orr = o + r * len * inner;
        if (inner == 1) {
            softmax_row(lg, xr, orr, len);
            continue;
        }
        for (int64_t i = 0; i < inner; i++) {
            float m = -INFINITY;
            for (int64_t j = 0; j < len; j++) m = fmaxf(m, xr[j * inner + i]);
            if (m == -INFINITY) {  /* all masked: softmax is undefined; give 0 / -inf */
                for (int64_t j = 0; j < len; j++) orr[j * inner + i] = lg ? -INFINITY : 0.0f;
                continue;
            }
            float s = 0.0f;
            for (int64_t j = 0; j < len; j++) s += ug_cpu_expf(xr[j * inner + i] - m);
            if (lg) {
                float l = m + logf(s);
                for (int64_t j = 0; j < len; j++) orr[j * inner + i] = xr[j * inner + i] - l;
            } else {
                float inv = 1.0f / s;
                for (int64_t j = 0; j < len; j++) orr[j * inner + i] = ug_cpu_expf(xr[j * inner + i] - m) * inv;
            }
        }
    }
}

/* Cumulative sums / products in double (a 1000-step log schedule's cumsum does not pile up float
 * rounding). Columns go 64 at a time, so the running values sit in a stack array and each step along
 * the axis reads a contiguous piece of x. */
static void cpu_scan(int kind, const ug_tensor *xt, int axis, bool reverse, ug_tensor *ot) {
    enum { COLS = 64 };
    int64_t outer, len, inner;
    split_axis(xt, axis, &outer, &len, &inner);
    const float *x = xt->data;
    float *o = ot->data;
    double acc[COLS];
    for (int64_t r = 0; r < outer; r++)
        for (int64_t i0 = 0; i0 < inner; i0 += COLS) {
            int64_t m = inner - i0 < COLS ? inner - i0 : COLS;
            for (int64_t i = 0; i < m; i++) acc[i] = kind == UG_S_PROD ? 1.0 : 0.0;
            for (int64_t t = 0; t < len; t++) {
                int64_t j = reverse ? len - 1 - t : t;
                const float *xj = x + (r * len + j) * inner + i0;
                float *oj = o + (r * len + j) * inner + i0;
                if (kind == UG_S_PROD)
                    for (int64_t i = 0; i < m; i++) oj[i] = (float)(acc[i] *= xj[i]);
                else
                    for (int64_t i = 0; i < m; i++) oj[i] = (float)(acc[i] += xj[i]);
            }
        }
}

/* One cblas_sgemm per matrix of the batch (tools/bench counts GEMMs by wrapping cblas_sgemm). A
 * matrix stored transposed (ug_gemm_layout_of) and a requested transpose cancel out. */
static void cpu_gemm(const ug_gemm_args *g) {
    const ug_tensor *a = g->a, *b = g->b, *c = g->c;
    ug_gemm_layout la = {false, 1}, lb = {false, 1};
    ug_gemm_layout_of(a, &la);  // front-ends checked that both have one
    ug_gemm_layout_of(b, &lb);
    const int64_t M = c->shape[c->ndim - 2], N = c->shape[c->ndim - 1];
    const int64_t K = g->ta ? a->shape[a->ndim - 2] : a->shape[a->ndim - 1];
    const int nbd = c->ndim - 2, nba = a->ndim - 2, nbb = b->ndim - 2;
    int64_t batch = 1;
    for (int d = 0; d < nbd; d++) batch *= c->shape[d];
    const CBLAS_TRANSPOSE ta = la.trans != g->ta ? CblasTrans : CblasNoTrans;
    const CBLAS_TRANSPOSE tb = lb.trans != g->tb ? CblasTrans : CblasNoTrans;
    for (int64_t i = 0; i < batch; i++) {
        /* offsets of matrix i in a and b: c's batch index, broadcast back to each operand */
        int64_t rem = i, oa = 0, ob = 0;
        for (int d = nbd - 1; d >= 0; d--) {
            int64_t id = rem % c->shape[d];
            rem /= c->shape[d];
            int da = d - (nbd - nba), db = d - (nbd - nbb);
            if (da >= 0 && a->shape[da] != 1) oa += id * a->stride[da];
            if (db >= 0 && b->shape[db] != 1) ob += id * b->stride[db];
        }
        cblas_sgemm(CblasRowMajor, ta, tb, (int)M, (int)N, (int)K, g->alpha, (const float *)a->data + oa, (int)la.ld,
                    (const float *)b->data + ob, (int)lb.ld, g->beta, (float *)c->data + i * M * N, (int)N);
    }
}

static void cpu_copy(const ug_tensor *st, ug_tensor *dt) {
    size_t es = st->dtype == UG_I32 ? 4 : 4;
    int64_t n = numel(dt);
    if (contig(st) && contig(dt)) {
        memcpy(dt->data, st->data, (size_t)n * es);
        return;
    }
    int64_t sh[4], ss[4], ds[4];
    shape4(dt, sh);
    align4(st, dt, ss);
    for (int d = 0; d < 4; d++) {
        int od = d - (4 - dt->ndim);
        ds[d] = od >= 0 ? dt->stride[od] : 0;
    }
    const uint32_t *s = st->data;  /* 4-byte elements of either dtype */
    uint32_t *o = dt->data;
    for (int64_t i0 = 0; i0 < sh[0]; i0++)
        for (int64_t i1 = 0; i1 < sh[1]; i1++)
            for (int64_t i2 = 0; i2 < sh[2]; i2++) {
                const uint32_t *ps = s + i0 * ss[0] + i1 * ss[1] + i2 * ss[2];
                uint32_t *po = o + i0 * ds[0] + i1 * ds[1] + i2 * ds[2];
                if (ss[3] == 1 && ds[3] == 1) memcpy(po, ps, (size_t)sh[3] * 4);
                else
                    for (int64_t j = 0; j < sh[3]; j++) po[j * ds[3]] = ps[j * ss[3]];
            }
}

static void cpu_fill(ug_tensor *t, float v) {
    float *p = t->data;
    int64_t n = numel(t);
    for (int64_t i = 0; i < n; i++) p[i] = v;
}

static int64_t cpu_index_check(const ug_tensor *it, int64_t n) {
    const int32_t *p = it->data;
    int64_t m = numel(it);
    for (int64_t i = 0; i < m; i++)
        if (p[i] < 0 || p[i] >= n) return i;
    return -1;
}

static void cpu_gather(const ug_tensor *xt, int axis, const ug_tensor *it, ug_tensor *ot) {
    int64_t outer, lx, inner, lo, o2, i2;
    split_axis(xt, axis, &outer, &lx, &inner);
    split_axis(it, axis, &o2, &lo, &i2);
    const float *x = xt->data;
    const int32_t *idx = it->data;
    float *o = ot->data;
    for (int64_t r = 0; r < outer; r++)
        for (int64_t j = 0; j < lo; j++)
            for (int64_t i = 0; i < inner; i++) {
                int64_t p = (r * lo + j) * inner + i;
                o[p] = x[(r * lx + idx[p]) * inner + i];
            }
}

static void cpu_scatter_add(ug_tensor *ot, int axis, const ug_tensor *it, const ug_tensor *st) {
    int64_t outer, lx, inner, o2, ls, i2;
    split_axis(ot, axis, &outer, &lx, &inner);
    split_axis(it, axis, &o2, &ls, &i2);
    float *o = ot->data;
    const int32_t *idx = it->data;
    const float *s = st->data;
    for (int64_t r = 0; r < outer; r++)
        for (int64_t j = 0; j < ls; j++)
            for (int64_t i = 0; i < inner; i++) {
                int64_t p = (r * ls + j) * inner + i;
                o[(r * lx + idx[p]) * inner + i] += s[p];
            }
}

static void cpu_one_hot(const ug_tensor *it, ug_tensor *ot) {
    int64_t n = numel(it), k = ot->shape[ot->ndim - 1];
    const int32_t *idx = it->data;
    float *o = ot->data;
    memset(o, 0, sizeof(float) * (size_t)(n * k));
    for (int64_t i = 0; i < n; i++) o[i * k + idx[i]] = 1.0f;
}

static void cpu_axpy(float a, const ug_tensor *xt, ug_tensor *yt) {
    const float *restrict x = xt->data;
    float *restrict y = yt->data;
    int64_t n = numel(xt);
PAR_FOR(n > PAR_MIN)
    for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
}

const ug_backend ug_cpu_backend = {
    .name = "cpu",
    .device = UG_CPU,
    .alloc = ug_cpu_alloc,
    .free = ug_cpu_free,
    .zero = ug_cpu_zero,
    .to_device = ug_cpu_memcpy,
    .to_host = ug_cpu_memcpy,
    .unary = ug_cpu_unary,
    .unary_mul = ug_cpu_unary_mul,
    .affine = cpu_affine,
    .binary = cpu_binary,
    .where = cpu_where,
    .cast = cpu_cast,
    .reduce = cpu_reduce,
    .sum_acc = cpu_sum_acc,
    .softmax = cpu_softmax,
    .scan = cpu_scan,
    .gemm = cpu_gemm,
    .copy = cpu_copy,
    .fill = cpu_fill,
    .index_check = cpu_index_check,
    .gather = cpu_gather,
    .scatter_add = cpu_scatter_add,
    .one_hot = cpu_one_hot,
    .axpy = cpu_axpy,
    .im2col = ug_cpu_im2col,
    .col2im = ug_cpu_col2im,
    .conv2d = ug_cpu_conv2d,
    .conv2d_grad_input = ug_cpu_conv2d_grad_input,
    .conv2d_grad_weight = ug_cpu_conv2d_grad_weight,
    .group_norm = ug_cpu_group_norm,
    .group_norm_backward = ug_cpu_group_norm_backward,
    .rng_fill = ug_cpu_rng_fill,
    .rng_bernoulli = ug_cpu_rng_bernoulli,
    .sample_categorical = ug_cpu_sample_categorical,
    .sum_squares = ug_cpu_sum_squares,
    .clamp = ug_cpu_clamp,
    .scale = ug_cpu_scale,
    .adam = ug_cpu_adam,
    .sgd = ug_cpu_sgd,
    .lerp = ug_cpu_lerp,
    .swap = ug_cpu_swap,
};
