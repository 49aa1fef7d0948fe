/* test_gradcheck.c — finite-difference gradient checks for every differentiable op, including
 * broadcasting and non-contiguous (transposed / sliced) inputs, and second-order checks (gradient of
 * a gradient) for matmul, the activations, log_softmax, logsumexp, logaddexp and the image ops; and
 * group_norm's kernel against the same arithmetic in ops, forward and both backward paths.
 *
 * Each case builds its output from leaf tensors; the checked scalar is f = sum(out * R) with fixed
 * random R, so every output element contributes with a different weight. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "unigfn/rng.h"
#include "unigfn/tensor.h"

#define MAXLEAF 3

typedef ug_tensor *(*case_fn)(ug_ctx *c, ug_tensor **x);

typedef struct {
    const char *name;
    int nleaf;
    int ndim[MAXLEAF];
    int64_t shape[MAXLEAF][4];
    float lo, hi;         /* leaf values drawn in [lo, hi] ... */
    float gap;            /* ... and kept at least `gap` away from 0 (kinks of relu/abs/clamp) */
    case_fn fn;
    bool second;          /* also check second order */
} gc_case;

static uint64_t lcg = 88172645463325252ull;
static float frand(void) {
    lcg ^= lcg << 13;
    lcg ^= lcg >> 7;
    lcg ^= lcg << 17;
    return (float)((lcg >> 11) * (1.0 / 9007199254740992.0));
}

typedef struct {
    float *data[MAXLEAF];
    int64_t n[MAXLEAF];
    float *R;            /* weights of the output */
    int64_t nR;
    float *V[MAXLEAF];   /* weights of the first gradient (second-order checks) */
} gc_state;

static ug_tensor *wrap_leaves(ug_ctx *c, const gc_case *k, gc_state *s, ug_tensor **x) {
    for (int i = 0; i < k->nleaf; i++) x[i] = ug_requires_grad(c, ug_wrap(c, s->data[i], UG_F32, k->ndim[i], k->shape[i]));
    return k->fn(c, x);
}

/* f = sum(out * R) */
static ug_tensor *objective(ug_ctx *c, const gc_case *k, gc_state *s, ug_tensor **x) {
    ug_tensor *out = wrap_leaves(c, k, s, x);
    if (!out) return NULL;
    int64_t n = ug_numel(out);
    if (!s->R) {
        s->nR = n;
        s->R = malloc(sizeof(float) * (size_t)(n ? n : 1));
        for (int64_t i = 0; i < n; i++) s->R[i] = frand() * 2.0f - 1.0f;
    }
    ug_tensor *R = ug_wrap(c, s->R, UG_F32, out->ndim, out->shape);
    return ug_sum_all(c, ug_mul(c, out, R));
}

/* h = sum_i sum(grad_i f * V_i), built with create_graph so it can be differentiated again. */
static ug_tensor *objective2(ug_ctx *c, const gc_case *k, gc_state *s, ug_tensor **x) {
    ug_tensor *f = objective(c, k, s, x);
    if (!f) return NULL;
    ug_tensor *g[MAXLEAF];
    if (ug_grad(c, f, x, k->nleaf, g, true)) return NULL;
    ug_tensor *h = ug_scalar(c, 0.0f);
    for (int i = 0; i < k->nleaf; i++) {
        ug_tensor *V = ug_wrap(c, s->V[i], UG_F32, k->ndim[i], k->shape[i]);
        h = ug_add(c, h, ug_sum_all(c, ug_mul(c, g[i], V)));
    }
    return h;
}

static double eval_scalar(ug_ctx *c, const gc_case *k, gc_state *s, bool second) {
    ug_step_reset(c);
    ug_tensor *x[MAXLEAF];
    ug_tensor *f = second ? objective2(c, k, s, x) : objective(c, k, s, x);
    return f ? (double)ug_item(f) : NAN;
}

static void run_case(ug_ctx *c, const gc_case *k, bool second) {
    gc_state s = {0};
    for (int i = 0; i < k->nleaf; i++) {
        int64_t n = 1;
        for (int d = 0; d < k->ndim[i]; d++) n *= k->shape[i][d];
        s.n[i] = n;
        s.data[i] = malloc(sizeof(float) * (size_t)(n ? n : 1));
        s.V[i] = malloc(sizeof(float) * (size_t)(n ? n : 1));
        for (int64_t j = 0; j < n; j++) {
            float v;
            do v = k->lo + (k->hi - k->lo) * frand();
            while (fabsf(v) < k->gap);
            s.data[i][j] = v;
            s.V[i][j] = frand() * 2.0f - 1.0f;
        }
    }
    ug_ctx_clear_error(c);
    ug_step_reset(c);
    ug_tensor *x[MAXLEAF], *g[MAXLEAF];
    ug_tensor *f = second ? objective2(c, k, &s, x) : objective(c, k, &s, x);
    bool ok = f && ug_grad(c, f, x, k->nleaf, g, false) == UG_OK;
    CHECK(ok, "%s%s: forward/backward failed: %s", k->name, second ? " (2nd order)" : "", ug_ctx_errmsg(c));
    if (!ok) goto done;
    float *an[MAXLEAF];
    for (int i = 0; i < k->nleaf; i++) {
        an[i] = malloc(sizeof(float) * (size_t)(s.n[i] ? s.n[i] : 1));
        ug_tensor *gc = ug_contiguous(c, g[i]);
        memcpy(an[i], ug_f32(gc), sizeof(float) * (size_t)s.n[i]);
    }
    int bad = 0;
    for (int i = 0; i < k->nleaf; i++) {
        for (int64_t j = 0; j < s.n[i]; j++) {
            float orig = s.data[i][j];
            float eps = 2e-3f * fmaxf(1.0f, fabsf(orig));
            s.data[i][j] = orig + eps;
            double fp = eval_scalar(c, k, &s, second);
            s.data[i][j] = orig - eps;
            double fm = eval_scalar(c, k, &s, second);
            s.data[i][j] = orig;
            double fd = (fp - fm) / (2.0 * eps);
            double a = an[i][j];
            double tol = (second ? 2e-2 : 1e-2) * fmax(1.0, fabs(fd));
            if (!(fabs(a - fd) <= tol) && bad++ < 3)
                fprintf(stderr, "  %s%s: leaf %d elem %lld: analytic %.6g vs finite-difference %.6g\n",
                        k->name, second ? " (2nd order)" : "", i, (long long)j, a, fd);
        }
        free(an[i]);
    }
    CHECK(bad == 0, "%s%s: %d gradient entries disagree", k->name, second ? " (2nd order)" : "", bad);
done:
    for (int i = 0; i < k->nleaf; i++) {
        free(s.data[i]);
        free(s.V[i]);
    }
    free(s.R);
}

/* ---- cases ---- */
#define T(a) ug_transpose(c, a, 0, 1)
static ug_tensor *f_add(ug_ctx *c, ug_tensor **x) { return ug_add(c, x[0], x[1]); }          /* [3,4]+[4] */
static ug_tensor *f_sub(ug_ctx *c, ug_tensor **x) { return ug_sub(c, T(x[0]), x[1]); }       /* [4,3]-[4,1] */
static ug_tensor *f_mul(ug_ctx *c, ug_tensor **x) { return ug_mul(c, x[0], x[1]); }          /* [2,3,4]*[3,1] */
static ug_tensor *f_div(ug_ctx *c, ug_tensor **x) { return ug_div(c, x[0], x[1]); }
static ug_tensor *f_pow(ug_ctx *c, ug_tensor **x) { return ug_pow(c, x[0], x[1]); }
static ug_tensor *f_lae(ug_ctx *c, ug_tensor **x) { return ug_logaddexp(c, x[0], x[1]); }     /* [2,3,4],[3,1] */
static ug_tensor *f_lae_t(ug_ctx *c, ug_tensor **x) {  /* [4,3] view with [4,1], one side spread to +-6 */
    return ug_logaddexp(c, ug_mul_scalar(c, x[1], 3.0f), T(x[0]));
}
static ug_tensor *f_add_s(ug_ctx *c, ug_tensor **x) { return ug_add_scalar(c, T(x[0]), 0.7f); }
static ug_tensor *f_mul_s(ug_ctx *c, ug_tensor **x) { return ug_mul_scalar(c, x[0], -1.3f); }
static ug_tensor *f_rsub_s(ug_ctx *c, ug_tensor **x) { return ug_rsub_scalar(c, x[0], 2.0f); }
static ug_tensor *f_pow_s(ug_ctx *c, ug_tensor **x) { return ug_pow_scalar(c, x[0], 2.5f); }
static ug_tensor *f_neg(ug_ctx *c, ug_tensor **x) { return ug_neg(c, x[0]); }
static ug_tensor *f_exp(ug_ctx *c, ug_tensor **x) { return ug_exp(c, T(x[0])); }
static ug_tensor *f_log(ug_ctx *c, ug_tensor **x) { return ug_log(c, x[0]); }
static ug_tensor *f_log1p(ug_ctx *c, ug_tensor **x) { return ug_log1p(c, x[0]); }
static ug_tensor *f_sqrt(ug_ctx *c, ug_tensor **x) { return ug_sqrt(c, x[0]); }
static ug_tensor *f_square(ug_ctx *c, ug_tensor **x) { return ug_square(c, x[0]); }
static ug_tensor *f_abs(ug_ctx *c, ug_tensor **x) { return ug_abs(c, x[0]); }
static ug_tensor *f_clamp(ug_ctx *c, ug_tensor **x) { return ug_clamp(c, x[0], -0.5f, 0.6f); }
static ug_tensor *f_relu(ug_ctx *c, ug_tensor **x) { return ug_relu(c, x[0]); }
static ug_tensor *f_leaky(ug_ctx *c, ug_tensor **x) { return ug_leaky_relu(c, T(x[0]), 0.01f); }
static ug_tensor *f_elu(ug_ctx *c, ug_tensor **x) { return ug_elu(c, x[0], 1.0f); }
static ug_tensor *f_silu(ug_ctx *c, ug_tensor **x) { return ug_silu(c, x[0]); }
static ug_tensor *f_gelu(ug_ctx *c, ug_tensor **x) { return ug_gelu(c, x[0]); }
static ug_tensor *f_sigmoid(ug_ctx *c, ug_tensor **x) { return ug_sigmoid(c, x[0]); }
static ug_tensor *f_tanh(ug_ctx *c, ug_tensor **x) { return ug_tanh(c, x[0]); }
static ug_tensor *f_softplus(ug_ctx *c, ug_tensor **x) { return ug_softplus(c, x[0]); }
static ug_tensor *f_sin(ug_ctx *c, ug_tensor **x) { return ug_sin(c, x[0]); }
static ug_tensor *f_cos(ug_ctx *c, ug_tensor **x) { return ug_cos(c, T(x[0])); }
static ug_tensor *f_erf(ug_ctx *c, ug_tensor **x) { return ug_erf(c, x[0]); }
/* gt(x, 0) * x: the mask must be right (the gradient is the mask) and carry no gradient itself */
static ug_tensor *f_gt_mask(ug_ctx *c, ug_tensor **x) { return ug_mul(c, ug_gt(c, x[0], ug_scalar(c, 0.0f)), x[0]); }
/* (gt + le) (ge + lt) eq(a, a) = 1 whatever a and b are, so finite differences never cross a step:
 * d/da, d/db of that times a*b is b, a exactly when no comparison records a gradient */
static ug_tensor *f_cmp_one(ug_ctx *c, ug_tensor **x) {
    ug_tensor *a = x[0], *b = x[1];
    ug_tensor *one = ug_mul(c, ug_mul(c, ug_add(c, ug_gt(c, a, b), ug_le(c, a, b)), ug_add(c, ug_ge(c, a, b), ug_lt(c, a, b))),
                            ug_eq(c, a, a));
    return ug_mul(c, one, ug_mul(c, a, b));
}
static ug_tensor *f_cumsum(ug_ctx *c, ug_tensor **x) { return ug_cumsum(c, x[0], 1, false); }
static ug_tensor *f_cumsum_rev(ug_ctx *c, ug_tensor **x) { return ug_cumsum(c, T(x[0]), 0, true); }
static ug_tensor *f_cumprod(ug_ctx *c, ug_tensor **x) { return ug_cumprod(c, x[0], -1, false); }
static ug_tensor *f_cumprod_rev(ug_ctx *c, ug_tensor **x) { return ug_cumprod(c, x[0], 1, true); }
static ug_tensor *f_pad(ug_ctx *c, ug_tensor **x) { return ug_pad(c, T(x[0]), (int64_t[]){1, 2, 0, 1}, 0.5f); }
/* pad then multiply, so the padded entries' weights differ from the interior's */
static ug_tensor *f_pad3(ug_ctx *c, ug_tensor **x) { return ug_mul(c, ug_pad(c, x[0], (int64_t[]){0, 0, 2, 1, 0, 0}, -1.0f), x[1]); }
/* x * to_f32(to_i32(k)): the truncated constants are the gradient */
static ug_tensor *f_cast(ug_ctx *c, ug_tensor **x) {
    float k[] = {-1.7f, 2.5f, -0.2f, 3.99f};
    return ug_mul(c, x[0], ug_to_f32(c, ug_to_i32(c, ug_from_f32(c, k, 1, (int64_t[]){4}))));
}
static ug_tensor *f_sum0(ug_ctx *c, ug_tensor **x) { return ug_sum(c, x[0], 0, false); }
static ug_tensor *f_sum1k(ug_ctx *c, ug_tensor **x) { return ug_sum(c, T(x[0]), -1, true); }
static ug_tensor *f_mean(ug_ctx *c, ug_tensor **x) { return ug_mean(c, x[0], 1, false); }
static ug_tensor *f_max(ug_ctx *c, ug_tensor **x) { return ug_max(c, x[0], 1, false); }
static ug_tensor *f_lse(ug_ctx *c, ug_tensor **x) { return ug_logsumexp(c, x[0], -1, false); }
static ug_tensor *f_lse0(ug_ctx *c, ug_tensor **x) { return ug_logsumexp(c, T(x[0]), 0, true); }
static ug_tensor *f_logsm(ug_ctx *c, ug_tensor **x) { return ug_log_softmax(c, x[0], -1); }
static ug_tensor *f_sm(ug_ctx *c, ug_tensor **x) { return ug_softmax(c, x[0], 0); }
static ug_tensor *f_sumall(ug_ctx *c, ug_tensor **x) { return ug_mul(c, ug_sum_all(c, x[0]), ug_mean_all(c, x[0])); }
static ug_tensor *f_mm(ug_ctx *c, ug_tensor **x) { return ug_matmul(c, x[0], x[1]); }              /* [3,4]@[4,5] */
static ug_tensor *f_mm_t(ug_ctx *c, ug_tensor **x) { return ug_matmul(c, T(x[0]), T(x[1])); }     /* views */
static ug_tensor *f_bmm(ug_ctx *c, ug_tensor **x) { return ug_matmul(c, x[0], x[1]); }            /* [2,3,4]@[4,2] */
static ug_tensor *f_linear(ug_ctx *c, ug_tensor **x) { return ug_linear(c, x[0], x[1], x[2]); }
static ug_tensor *f_mlp2(ug_ctx *c, ug_tensor **x) {  /* second-order through a small network */
    return ug_tanh(c, ug_linear(c, ug_tanh(c, ug_linear(c, x[0], x[1], x[2])), x[1], NULL));
}
static ug_tensor *f_gather(ug_ctx *c, ug_tensor **x) {
    int32_t idx[] = {2, 0, 0, 1, 3, 3};
    return ug_gather(c, x[0], 1, ug_from_i32(c, idx, 2, (int64_t[]){2, 3}));
}
static ug_tensor *f_scatter(ug_ctx *c, ug_tensor **x) {
    int32_t idx[] = {1, 0, 1, 2, 2, 2};
    return ug_scatter_add(c, x[0], 1, ug_from_i32(c, idx, 2, (int64_t[]){2, 3}), x[1]);
}
static ug_tensor *f_isel(ug_ctx *c, ug_tensor **x) {
    int32_t idx[] = {3, 1, 1};
    return ug_index_select(c, x[0], 1, ug_from_i32(c, idx, 1, (int64_t[]){3}));
}
static ug_tensor *f_where(ug_ctx *c, ug_tensor **x) {
    float cond[] = {1, 0, 0, 1};
    return ug_where(c, ug_from_f32(c, cond, 1, (int64_t[]){4}), x[0], x[1]);
}
static ug_tensor *f_masked(ug_ctx *c, ug_tensor **x) {
    float m[] = {0, 1, 0};
    return ug_masked_fill(c, x[0], ug_from_f32(c, m, 2, (int64_t[]){3, 1}), -2.0f);
}
static ug_tensor *f_concat(ug_ctx *c, ug_tensor **x) {
    ug_tensor *xs[2] = {x[0], T(x[1])};
    return ug_concat(c, xs, 2, 1);
}
static ug_tensor *f_slice(ug_ctx *c, ug_tensor **x) { return ug_slice(c, x[0], 1, 1, 2); }
static ug_tensor *f_reshape(ug_ctx *c, ug_tensor **x) {
    return ug_mul(c, ug_reshape(c, T(x[0]), 2, (int64_t[]){2, -1}), x[1]);
}
static ug_tensor *f_permute(ug_ctx *c, ug_tensor **x) {
    return ug_mul(c, ug_permute(c, x[0], (int[]){2, 0, 1}), x[1]);
}
static ug_tensor *f_expand(ug_ctx *c, ug_tensor **x) {
    return ug_mul(c, ug_expand(c, x[0], 2, (int64_t[]){3, 4}), x[1]);
}
static ug_tensor *f_sum_to(ug_ctx *c, ug_tensor **x) { return ug_sum_to(c, x[0], 2, (int64_t[]){1, 4}); }
static ug_tensor *f_onehot(ug_ctx *c, ug_tensor **x) {
    int32_t idx[] = {2, 0, 1};
    return ug_mul(c, ug_one_hot(c, ug_from_i32(c, idx, 1, (int64_t[]){3}), 3), x[0]);
}

/* Images (NCHW). Conv cases mix stride, padding, dilation and groups; conv2d and conv_transpose2d are
 * bilinear, so their second-order rows check the cross terms (d/dw of a gradient in x), and the tanh
 * rows curvature through them. */
static ug_tensor *f_conv(ug_ctx *c, ug_tensor **x) {  /* [2,4,6,5] * [6,2,3,3] + [6], groups 2 */
    ug_conv2d_opts o = {.stride = {2, 1}, .padding = {1, 2}, .dilation = {1, 2}, .groups = 2};
    return ug_conv2d(c, x[0], x[1], x[2], &o);
}
static ug_tensor *f_conv_tanh(ug_ctx *c, ug_tensor **x) {  /* [1,2,4,4] * [3,2,3,3], padding 1, no bias */
    ug_conv2d_opts o = {.padding = {1, 1}};
    return ug_tanh(c, ug_conv2d(c, x[0], x[1], NULL, &o));
}
static ug_tensor *f_conv_view(ug_ctx *c, ug_tensor **x) {  /* x a transposed view; 2x2 kernel, stride 2 */
    ug_conv2d_opts o = {.stride = {2, 2}};
    ug_tensor *xv = ug_transpose(c, x[0], 2, 3);  // [2,3,5,4] -> [2,3,4,5]
    return ug_conv2d(c, xv, x[1], x[2], &o);
}
static ug_tensor *f_convt(ug_ctx *c, ug_tensor **x) {  /* [2,4,3,3] with w [4,3,3,3], groups 2 -> [2,6,6,6] */
    ug_conv2d_opts o = {.stride = {2, 2}, .padding = {1, 1}, .groups = 2, .output_padding = {1, 1}};
    return ug_conv_transpose2d(c, x[0], x[1], x[2], &o);
}
static ug_tensor *f_convt_dil(ug_ctx *c, ug_tensor **x) {  /* output_padding below the dilation, not the stride */
    ug_conv2d_opts o = {.stride = {1, 2}, .padding = {0, 1}, .dilation = {2, 1}, .output_padding = {1, 1}};
    return ug_tanh(c, ug_conv_transpose2d(c, x[0], x[1], NULL, &o));
}
static ug_tensor *f_avgpool(ug_ctx *c, ug_tensor **x) {
    return ug_avg_pool2d(c, x[0], (int64_t[]){3, 2}, (int64_t[]){2, 2}, (int64_t[]){1, 1});
}
static ug_tensor *f_up_near(ug_ctx *c, ug_tensor **x) { return ug_upsample2d(c, x[0], 2, UG_UPSAMPLE_NEAREST); }
static ug_tensor *f_up_bil(ug_ctx *c, ug_tensor **x) { return ug_upsample2d(c, x[0], 3, UG_UPSAMPLE_BILINEAR); }
static ug_tensor *f_gnorm(ug_ctx *c, ug_tensor **x) { return ug_group_norm(c, x[0], 3, x[1], x[2], 1e-5f); }
static ug_tensor *f_gnorm_plain(ug_ctx *c, ug_tensor **x) {  /* [N, C, L], no affine */
    return ug_group_norm(c, x[0], 2, NULL, NULL, 1e-3f);
}
static ug_tensor *f_gnorm_view(ug_ctx *c, ug_tensor **x) {  /* x a transposed view, weight only, then tanh */
    return ug_tanh(c, ug_group_norm(c, ug_transpose(c, x[0], 2, 3), 2, x[1], NULL, 1e-5f));  // [2, 4, 3, 5]
}

#define S1(a) 1, {1}, {{a}}
#define S2(a, b) 1, {2}, {{a, b}}
#define S3(a, b, c_) 1, {3}, {{a, b, c_}}

static const gc_case cases[] = {
    {"add broadcast", 2, {2, 1}, {{3, 4}, {4}}, -1, 1, 0, f_add, false},
    {"sub transposed", 2, {2, 2}, {{3, 4}, {4, 1}}, -1, 1, 0, f_sub, false},
    {"mul broadcast 3d", 2, {3, 2}, {{2, 3, 4}, {3, 1}}, -1, 1, 0, f_mul, true},
    {"div", 2, {2, 2}, {{3, 4}, {3, 4}}, 0.5f, 2, 0, f_div, true},
    {"pow", 2, {2, 1}, {{3, 4}, {4}}, 0.5f, 2, 0, f_pow, true},
    {"logaddexp broadcast 3d", 2, {3, 2}, {{2, 3, 4}, {3, 1}}, -2, 2, 0, f_lae, true},
    {"logaddexp transposed", 2, {2, 2}, {{3, 4}, {4, 1}}, -2, 2, 0, f_lae_t, true},
    {"add_scalar", 1, {2}, {{3, 4}}, -1, 1, 0, f_add_s, false},
    {"mul_scalar", 1, {2}, {{3, 4}}, -1, 1, 0, f_mul_s, false},
    {"rsub_scalar", 1, {2}, {{3, 4}}, -1, 1, 0, f_rsub_s, false},
    {"pow_scalar", 1, {2}, {{3, 4}}, 0.5f, 2, 0, f_pow_s, true},
    {"neg", 1, {2}, {{3, 4}}, -1, 1, 0, f_neg, false},
    {"exp (view)", 1, {2}, {{3, 4}}, -1, 1, 0, f_exp, true},
    {"log", 1, {2}, {{3, 4}}, 0.5f, 2, 0, f_log, true},
    {"log1p", 1, {2}, {{3, 4}}, 0.1f, 2, 0, f_log1p, true},
    {"sqrt", 1, {2}, {{3, 4}}, 0.5f, 2, 0, f_sqrt, true},
    {"square", 1, {2}, {{3, 4}}, -1, 1, 0, f_square, true},
    {"abs", 1, {2}, {{3, 4}}, -1, 1, 0.05f, f_abs, true},
    {"clamp", 1, {2}, {{3, 4}}, -1, 1, 0.05f, f_clamp, true},
    {"relu", 1, {2}, {{3, 4}}, -1, 1, 0.05f, f_relu, true},
    {"leaky_relu (view)", 1, {2}, {{3, 4}}, -1, 1, 0.05f, f_leaky, true},
    {"elu", 1, {2}, {{3, 4}}, -2, 2, 0.05f, f_elu, true},
    {"silu", 1, {2}, {{3, 4}}, -2, 2, 0, f_silu, true},
    {"gelu", 1, {2}, {{3, 4}}, -2, 2, 0, f_gelu, true},
    {"sigmoid", 1, {2}, {{3, 4}}, -2, 2, 0, f_sigmoid, true},
    {"tanh", 1, {2}, {{3, 4}}, -2, 2, 0, f_tanh, true},
    {"softplus", 1, {2}, {{3, 4}}, -2, 2, 0, f_softplus, true},
    {"sum axis 0", 1, {2}, {{3, 4}}, -1, 1, 0, f_sum0, false},
    {"sum keepdim (view)", 1, {2}, {{3, 4}}, -1, 1, 0, f_sum1k, false},
    {"mean", 1, {3}, {{2, 3, 4}}, -1, 1, 0, f_mean, false},
    {"max", 1, {2}, {{3, 5}}, -1, 1, 0, f_max, false},
    {"logsumexp", 1, {2}, {{3, 5}}, -2, 2, 0, f_lse, true},
    {"logsumexp axis 0 (view)", 1, {2}, {{3, 5}}, -2, 2, 0, f_lse0, true},
    {"log_softmax", 1, {2}, {{3, 5}}, -2, 2, 0, f_logsm, true},
    {"softmax", 1, {2}, {{4, 3}}, -2, 2, 0, f_sm, true},
    {"sum_all * mean_all", 1, {2}, {{3, 4}}, -1, 1, 0, f_sumall, true},
    {"matmul", 2, {2, 2}, {{3, 4}, {4, 5}}, -1, 1, 0, f_mm, true},
    {"matmul transposed views", 2, {2, 2}, {{4, 3}, {5, 4}}, -1, 1, 0, f_mm_t, true},
    {"matmul batched broadcast", 2, {3, 2}, {{2, 3, 4}, {4, 2}}, -1, 1, 0, f_bmm, true},
    {"linear", 3, {2, 2, 1}, {{5, 4}, {3, 4}, {3}}, -1, 1, 0, f_linear, true},
    {"mlp second order", 3, {2, 2, 1}, {{3, 4}, {4, 4}, {4}}, -1, 1, 0, f_mlp2, true},
    {"gather", 1, {2}, {{2, 4}}, -1, 1, 0, f_gather, false},
    {"scatter_add", 2, {2, 2}, {{2, 4}, {2, 3}}, -1, 1, 0, f_scatter, false},
    {"index_select", 1, {2}, {{2, 4}}, -1, 1, 0, f_isel, false},
    {"where broadcast", 2, {2, 2}, {{3, 4}, {1, 4}}, -1, 1, 0, f_where, false},
    {"masked_fill", 1, {2}, {{3, 4}}, -1, 1, 0, f_masked, false},
    {"concat (view)", 2, {2, 2}, {{3, 2}, {4, 3}}, -1, 1, 0, f_concat, false},
    {"slice", 1, {2}, {{3, 4}}, -1, 1, 0, f_slice, false},
    {"reshape of a view", 2, {2, 2}, {{3, 4}, {2, 6}}, -1, 1, 0, f_reshape, false},
    {"permute", 2, {3, 3}, {{2, 3, 4}, {4, 2, 3}}, -1, 1, 0, f_permute, false},
    {"expand", 2, {2, 2}, {{1, 4}, {3, 4}}, -1, 1, 0, f_expand, false},
    {"sum_to", 1, {3}, {{2, 3, 4}}, -1, 1, 0, f_sum_to, false},
    {"one_hot", 1, {2}, {{3, 3}}, -1, 1, 0, f_onehot, false},
    {"conv2d stride/pad/dilation/groups", 3, {4, 4, 1}, {{2, 4, 6, 5}, {6, 2, 3, 3}, {6}}, -1, 1, 0, f_conv, true},
    {"conv2d tanh", 2, {4, 4}, {{1, 2, 4, 4}, {3, 2, 3, 3}}, -1, 1, 0, f_conv_tanh, true},
    {"conv2d of a view", 3, {4, 4, 1}, {{2, 3, 5, 4}, {2, 3, 2, 2}, {2}}, -1, 1, 0, f_conv_view, false},
    {"conv_transpose2d groups", 3, {4, 4, 1}, {{2, 4, 3, 3}, {4, 3, 3, 3}, {6}}, -1, 1, 0, f_convt, true},
    {"conv_transpose2d dilation tanh", 2, {4, 4}, {{1, 2, 3, 4}, {2, 3, 2, 3}}, -1, 1, 0, f_convt_dil, true},
    {"avg_pool2d", 1, {4}, {{2, 3, 5, 6}}, -1, 1, 0, f_avgpool, true},
    {"upsample2d nearest", 1, {4}, {{2, 2, 3, 4}}, -1, 1, 0, f_up_near, true},
    {"upsample2d bilinear", 1, {4}, {{1, 2, 3, 4}}, -1, 1, 0, f_up_bil, true},
    {"group_norm", 3, {4, 1, 1}, {{2, 6, 3, 3}, {6}, {6}}, -1, 1, 0, f_gnorm, true},
    {"group_norm [N, C, L]", 1, {3}, {{3, 4, 5}}, -1, 1, 0, f_gnorm_plain, true},
    /* appended (issue 17): rows above keep their random draws */
    {"sin", 1, {2}, {{3, 4}}, -3, 3, 0, f_sin, true},
    {"cos (view)", 1, {2}, {{3, 4}}, -3, 3, 0, f_cos, true},
    {"erf", 1, {2}, {{3, 4}}, -2, 2, 0, f_erf, true},
    {"gt mask", 1, {2}, {{3, 4}}, -1, 1, 0.05f, f_gt_mask, true},
    {"comparisons broadcast (no gradient)", 2, {2, 1}, {{3, 4}, {4}}, -1, 1, 0, f_cmp_one, true},
    {"to_i32 / to_f32 (no gradient)", 1, {2}, {{3, 4}}, -1, 1, 0, f_cast, false},
    {"cumsum", 1, {2}, {{3, 4}}, -1, 1, 0, f_cumsum, true},
    {"cumsum reverse (view)", 1, {2}, {{3, 4}}, -1, 1, 0, f_cumsum_rev, true},
    {"cumprod (nonzero)", 1, {2}, {{3, 4}}, -1.5f, 1.5f, 0.3f, f_cumprod, true},
    {"cumprod reverse 3d (nonzero)", 1, {3}, {{2, 3, 2}}, -1.5f, 1.5f, 0.3f, f_cumprod_rev, true},
    {"pad 2d (view)", 1, {2}, {{3, 4}}, -1, 1, 0, f_pad, true},
    {"pad 3d * y", 2, {3, 3}, {{2, 3, 2}, {2, 6, 2}}, -1, 1, 0, f_pad3, true},
    {"group_norm of a view, weight only, tanh", 2, {4, 1}, {{2, 4, 5, 3}, {4}}, -1, 1, 0, f_gnorm_view, true},
};

/* Bad input is an error with a message, never a crash. */
static void check_errors(ug_ctx *c) {
    ug_ctx_clear_error(c);
    ug_step_reset(c);
    ug_tensor *a = ug_zeros(c, 2, (int64_t[]){3, 4}), *b = ug_zeros(c, 2, (int64_t[]){5, 6});
    CHECK(ug_matmul(c, a, b) == NULL, "matmul of [3,4] and [5,6] must fail");
    CHECK(strstr(ug_ctx_errmsg(c), "matmul") && strstr(ug_ctx_errmsg(c), "[3, 4]") && strstr(ug_ctx_errmsg(c), "[5, 6]"),
          "message names op and shapes: %s", ug_ctx_errmsg(c));
    CHECK(ug_add(c, a, a) == NULL, "errors are sticky");
    ug_ctx_clear_error(c);
    CHECK(ug_add(c, a, b) == NULL && strstr(ug_ctx_errmsg(c), "add"), "add [3,4]+[5,6]: %s", ug_ctx_errmsg(c));
    ug_ctx_clear_error(c);
    CHECK(ug_sum(c, a, 5, false) == NULL && strstr(ug_ctx_errmsg(c), "axis"), "bad axis: %s", ug_ctx_errmsg(c));
    ug_ctx_clear_error(c);
    int32_t bad[] = {7};
    CHECK(ug_gather(c, a, 1, ug_from_i32(c, bad, 2, (int64_t[]){1, 1})) == NULL, "gather with bad index");
    ug_ctx_clear_error(c);
    /* image ops: the message names the op and the shapes */
    ug_tensor *xi = ug_zeros(c, 4, (int64_t[]){2, 3, 5, 5}), *wi = ug_zeros(c, 4, (int64_t[]){4, 2, 3, 3});
    CHECK(ug_conv2d(c, xi, wi, NULL, NULL) == NULL && strstr(ug_ctx_errmsg(c), "conv2d") &&
              strstr(ug_ctx_errmsg(c), "[2, 3, 5, 5]") && strstr(ug_ctx_errmsg(c), "[4, 2, 3, 3]"),
          "conv2d with w for 2 input channels: %s", ug_ctx_errmsg(c));
    ug_ctx_clear_error(c);
    CHECK(ug_conv2d(c, xi, ug_zeros(c, 4, (int64_t[]){4, 3, 7, 7}), NULL, NULL) == NULL &&
              strstr(ug_ctx_errmsg(c), "smaller"), "conv2d kernel larger than the image: %s", ug_ctx_errmsg(c));
    ug_ctx_clear_error(c);
    CHECK(ug_conv2d(c, xi, ug_zeros(c, 4, (int64_t[]){4, 3, 3, 3}), ug_zeros(c, 1, (int64_t[]){3}), NULL) == NULL &&
              strstr(ug_ctx_errmsg(c), "bias [3]"), "conv2d bias of the wrong size: %s", ug_ctx_errmsg(c));
    ug_ctx_clear_error(c);
    ug_conv2d_opts op1 = {.output_padding = {1, 0}};
    CHECK(ug_conv_transpose2d(c, xi, ug_zeros(c, 4, (int64_t[]){3, 2, 3, 3}), NULL, &op1) == NULL &&
              strstr(ug_ctx_errmsg(c), "conv_transpose2d") && strstr(ug_ctx_errmsg(c), "output_padding"),
          "conv_transpose2d output_padding >= stride and dilation: %s", ug_ctx_errmsg(c));
    ug_ctx_clear_error(c);
    CHECK(ug_avg_pool2d(c, xi, (int64_t[]){2, 2}, NULL, (int64_t[]){2, 0}) == NULL &&
              strstr(ug_ctx_errmsg(c), "avg_pool2d"), "avg_pool2d padding over half the kernel: %s", ug_ctx_errmsg(c));
    ug_ctx_clear_error(c);
    CHECK(ug_group_norm(c, xi, 2, NULL, NULL, 1e-5f) == NULL && strstr(ug_ctx_errmsg(c), "group_norm") &&
              strstr(ug_ctx_errmsg(c), "[2, 3, 5, 5]"), "group_norm groups not dividing C: %s", ug_ctx_errmsg(c));
    ug_ctx_clear_error(c);
    CHECK(ug_upsample2d(c, xi, 0, UG_UPSAMPLE_NEAREST) == NULL && strstr(ug_ctx_errmsg(c), "upsample2d"),
          "upsample2d scale 0: %s", ug_ctx_errmsg(c));
    ug_ctx_clear_error(c);
    CHECK(ug_lt(c, ug_to_i32(c, a), a) == NULL && strstr(ug_ctx_errmsg(c), "lt"), "lt of an i32: %s", ug_ctx_errmsg(c));
    ug_ctx_clear_error(c);
    CHECK(ug_cast(c, a, (ug_dtype)7) == NULL && strstr(ug_ctx_errmsg(c), "cast") && strstr(ug_ctx_errmsg(c), "[3, 4]"),
          "cast to dtype 7: %s", ug_ctx_errmsg(c));
    ug_ctx_clear_error(c);
    ug_tensor *l = ug_sum_all(c, ug_requires_grad(c, ug_zeros(c, 2, (int64_t[]){2, 2})));
    CHECK(l && ug_backward(c, ug_zeros(c, 1, (int64_t[]){3}), 1) != UG_OK, "backward of a non-scalar fails");
    ug_ctx_clear_error(c);
}

/* detach cuts the graph: d/dx sum(x * detach(exp(x))) = exp(x), not exp(x) * (1 + x). */
static void check_detach(ug_ctx *c) {
    ug_step_reset(c);
    float v[] = {-0.5f, 0.25f, 1.0f};
    ug_tensor *x = ug_requires_grad(c, ug_from_f32(c, v, 1, (int64_t[]){3})), *g;
    ug_tensor *f = ug_sum_all(c, ug_mul(c, x, ug_detach(c, ug_exp(c, x))));
    CHECK(ug_grad(c, f, &x, 1, &g, false) == UG_OK, "detach grad: %s", ug_ctx_errmsg(c));
    for (int i = 0; i < 3; i++) CHECK_CLOSE(ug_f32(g)[i], expf(v[i]), 1e-6, 0);
}

/* logaddexp's values: bit for bit the logsumexp of the stacked pair (what d3pm used before it; values
 * with gaps past exp's underflow and D3PM's log zero -1e4 included, each broadcast pattern of the
 * kernel), and the special values: +inf wins, -inf is log 0, NaN propagates (also beside +inf). */
static void check_logaddexp_values(ug_ctx *c) {
    ug_step_reset(c);
    enum { R = 5, L = 37 };  /* L > the kernel's broadcast row and not a multiple of a vector */
    float av[R * L], bv[R];
    for (int i = 0; i < R * L; i++) av[i] = (i % 11 == 0) ? -1.0e4f : 40.0f * frand() - 20.0f;
    for (int r = 0; r < R; r++) bv[r] = r == 2 ? -1.0e4f : 10.0f * frand() - 5.0f;
    ug_tensor *a = ug_from_f32(c, av, 2, (int64_t[]){R, L}), *b = ug_from_f32(c, bv, 2, (int64_t[]){R, 1});
    ug_tensor *be = ug_contiguous(c, ug_expand(c, b, 2, (int64_t[]){R, L}));
    int64_t s3[3] = {R, L, 1};
    ug_tensor *parts[2] = {ug_reshape(c, a, 3, s3), ug_reshape(c, be, 3, s3)};
    ug_tensor *lse = ug_logsumexp(c, ug_concat(c, parts, 2, 2), 2, false);  // [R, L]
    ug_tensor *ys[3] = {ug_logaddexp(c, a, b), ug_logaddexp(c, a, be), ug_logaddexp(c, ug_transpose(c, b, 0, 1), ug_transpose(c, a, 0, 1))};
    CHECK(lse && ys[0] && ys[1] && ys[2], "logaddexp: %s", ug_ctx_errmsg(c));
    if (!lse || !ys[0] || !ys[1] || !ys[2]) return;
    int bad = 0;
    for (int i = 0; i < R * L; i++) {
        float want = ug_f32(lse)[i], t = ug_f32(ys[2])[(i % L) * R + i / L];
        bad += memcmp(&want, &ug_f32(ys[0])[i], 4) != 0 || memcmp(&want, &ug_f32(ys[1])[i], 4) != 0 || memcmp(&want, &t, 4) != 0;
    }
    CHECK(bad == 0, "logaddexp differs from logsumexp of the pair in %d of %d values", bad, R * L);
    float sa[] = {INFINITY, 1.0f, -INFINITY, -INFINITY, NAN, 2.0f, NAN, INFINITY, -1.0e4f};
    float sb[] = {3.0f, INFINITY, -INFINITY, 0.5f, 1.0f, NAN, INFINITY, INFINITY, 0.0f};
    ug_tensor *y = ug_logaddexp(c, ug_from_f32(c, sa, 1, (int64_t[]){9}), ug_from_f32(c, sb, 1, (int64_t[]){9}));
    if (!y) return;
    const float *v = ug_f32(y);
    CHECK(v[0] == INFINITY && v[1] == INFINITY, "logaddexp with +inf: %g %g", v[0], v[1]);
    CHECK(v[2] == -INFINITY && v[3] == 0.5f, "logaddexp with -inf: %g %g", v[2], v[3]);
    CHECK(isnan(v[4]) && isnan(v[5]) && isnan(v[6]), "logaddexp with NaN: %g %g %g", v[4], v[5], v[6]);
    CHECK(v[7] == INFINITY && v[8] == 0.0f, "logaddexp(inf, inf) %g, (-1e4, 0) %g", v[7], v[8]);
}

/* group_norm's one-kernel forward against the same arithmetic in ops (mean, centred square, pow), and its
 * two backward paths against each other: the kernel (create_graph off) and the differentiable ops
 * (create_graph on), on blocks with a mean far from 0. Not bit for bit (the kernel sums in double). */
static void check_group_norm_paths(ug_ctx *c) {
    enum { N = 3, C = 6, H = 5, W = 7, G = 3 };
    static float xv[N * C * H * W], wv[C], bv[C], rv[N * C * H * W];
    for (int i = 0; i < N * C * H * W; i++) {
        xv[i] = 4.0f + 2.0f * frand() - 1.0f + (float)(i / (H * W) % 4);  // per-channel offsets 4..8
        rv[i] = 2.0f * frand() - 1.0f;
    }
    for (int i = 0; i < C; i++) {
        wv[i] = 0.5f + frand();
        bv[i] = frand() - 0.5f;
    }
    ug_step_reset(c);
    const int64_t xs[4] = {N, C, H, W}, cs[1] = {C}, ps[3] = {C, 1, 1};
    ug_tensor *x = ug_requires_grad(c, ug_wrap(c, xv, UG_F32, 4, xs)), *R = ug_wrap(c, rv, UG_F32, 4, xs);
    ug_tensor *w = ug_requires_grad(c, ug_wrap(c, wv, UG_F32, 1, cs)), *b = ug_requires_grad(c, ug_wrap(c, bv, UG_F32, 1, cs));
    ug_tensor *y = ug_group_norm(c, x, G, w, b, 1e-5f);  // [N, C, H, W]
    ug_tensor *xr = ug_reshape(c, x, 3, (int64_t[]){N, G, C / G * H * W});
    ug_tensor *xc = ug_sub(c, xr, ug_mean(c, xr, -1, true));
    ug_tensor *inv = ug_pow_scalar(c, ug_add_scalar(c, ug_mean(c, ug_square(c, xc), -1, true), 1e-5f), -0.5f);
    ug_tensor *yc = ug_add(c, ug_mul(c, ug_reshape(c, ug_mul(c, xc, inv), 4, xs), ug_reshape(c, w, 3, ps)),
                           ug_reshape(c, b, 3, ps));
    ug_tensor *wrt[3] = {x, w, b}, *g1[3], *g2[3];
    ug_tensor *f = ug_sum_all(c, ug_mul(c, y, R));
    bool ok = y && yc && f && ug_grad(c, f, wrt, 3, g1, false) == UG_OK && ug_grad(c, f, wrt, 3, g2, true) == UG_OK;
    CHECK(ok, "group_norm paths: %s", ug_ctx_errmsg(c));
    if (!ok) return;
    double ey = 0, eg[3] = {0, 0, 0};
    for (int i = 0; i < N * C * H * W; i++) ey = fmax(ey, fabs(ug_f32(y)[i] - ug_f32(ug_contiguous(c, yc))[i]));
    for (int k = 0; k < 3; k++) {
        const float *a = ug_f32(ug_contiguous(c, g1[k])), *bb = ug_f32(ug_contiguous(c, g2[k]));
        for (int64_t i = 0; i < ug_numel(wrt[k]); i++) eg[k] = fmax(eg[k], fabs(a[i] - bb[i]) / fmax(1.0, fabs(bb[i])));
    }
    printf("group_norm kernel vs ops: y %.3g, dx %.3g, dw %.3g, db %.3g (max abs / rel)\n", ey, eg[0], eg[1], eg[2]);
    CHECK(ey < 1e-5 && eg[0] < 1e-5 && eg[1] < 1e-5 && eg[2] < 1e-5, "group_norm kernel and ops disagree: y %g, dx %g, "
          "dw %g, db %g", ey, eg[0], eg[1], eg[2]);
}

/* Without a graph of the gradient group_norm's backward is the kernel: dx and nothing else of x's size
 * (as ops it would hold about eight x-sized tensors). The rest of f's backward is R times the seed. */
static void check_group_norm_memory(ug_ctx *c) {
    enum { N = 4, C = 8, H = 16, W = 16, NX = N * C * H * W };
    float *xv = malloc(sizeof(float) * NX), *rv = malloc(sizeof(float) * NX), wv[C], bv[C];
    for (int i = 0; i < NX; i++) {
        xv[i] = 2.0f * frand() - 1.0f;
        rv[i] = 2.0f * frand() - 1.0f;
    }
    for (int i = 0; i < C; i++) wv[i] = bv[i] = 0.5f;
    ug_step_reset(c);
    const int64_t xs[4] = {N, C, H, W}, cs[1] = {C};
    ug_tensor *wrt[3] = {ug_requires_grad(c, ug_wrap(c, xv, UG_F32, 4, xs)),
                         ug_requires_grad(c, ug_wrap(c, wv, UG_F32, 1, cs)),
                         ug_requires_grad(c, ug_wrap(c, bv, UG_F32, 1, cs))}, *g[3];
    ug_tensor *f = ug_sum_all(c, ug_mul(c, ug_group_norm(c, wrt[0], 2, wrt[1], wrt[2], 1e-5f),
                                        ug_wrap(c, rv, UG_F32, 4, xs)));
    const size_t before = ug_arena_used(c), xbytes = sizeof(float) * NX;
    CHECK(f && ug_grad(c, f, wrt, 3, g, false) == UG_OK, "group_norm backward: %s", ug_ctx_errmsg(c));
    const size_t used = ug_arena_used(c) - before;
    CHECK(used < 5 * xbytes / 2, "group_norm's first-order backward used %zu bytes for an x of %zu", used, xbytes);
    free(xv);
    free(rv);
}

/* conv2d's bias is added by the convolution's kernel: the forward holds one output, not a second copy
 * with the bias added (and its gradient is right: the conv2d rows above and test_torch_ref). */
static void check_conv_bias_memory(ug_ctx *c) {
    ug_step_reset(c);
    ug_rng rng = ug_rng_make(3, 0);
    ug_tensor *x = ug_requires_grad(c, ug_rand_normal(c, &rng, 4, (int64_t[]){2, 3, 16, 16}));
    ug_tensor *w = ug_requires_grad(c, ug_rand_normal(c, &rng, 4, (int64_t[]){8, 3, 3, 3}));
    ug_tensor *b = ug_requires_grad(c, ug_rand_normal(c, &rng, 1, (int64_t[]){8}));
    const size_t before = ug_arena_used(c), ybytes = sizeof(float) * 2 * 8 * 16 * 16;
    ug_conv2d_opts o = {.padding = {1, 1}};
    ug_tensor *y = ug_conv2d(c, x, w, b, &o);  // [2, 8, 16, 16]
    const size_t used = ug_arena_used(c) - before;
    CHECK(y && used < ybytes + ybytes / 2, "conv2d with bias held %zu bytes for an output of %zu", used, ybytes);
}

int main(void) {
    ug_ctx *c = ug_ctx_new(1 << 22);
    int n = (int)(sizeof cases / sizeof cases[0]);
    for (int i = 0; i < n; i++) {
        run_case(c, &cases[i], false);
        if (cases[i].second) run_case(c, &cases[i], true);
    }
    check_detach(c);
    check_logaddexp_values(c);
    check_group_norm_paths(c);
    check_group_norm_memory(c);
    check_conv_bias_memory(c);
    check_errors(c);
    ug_ctx_free(c);
    return CHECK_DONE();
}
