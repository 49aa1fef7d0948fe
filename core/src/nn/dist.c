/* dist.c — the distributions of dist.h, written in public differentiable ops only: their gradients
 * (and gradients of gradients) come from the ops' own backward rules, and a second backend gets them
 * for free. */
#include "unigfn/dist.h"

#include <math.h>

#include "tensor/internal.h"

/* t [B, ...] -> [B]: the sum over every dim after the first (1-D t is returned as it is). */
static ug_tensor *row_sum(ug_ctx *ctx, ug_tensor *t) {
    if (!t) return NULL;
    if (t->ndim <= 1) return t;
    int64_t shape[2] = {t->shape[0], -1};
    return ug_sum(ctx, ug_reshape(ctx, ug_contiguous(ctx, t), 2, shape), 1, false);
}

#define NEED(x, op)                                                                              \
    do {                                                                                         \
        if (!(x)) return ug__fail_null(ctx, op, "an input is NULL");                             \
    } while (0)

ug_tensor *ug_normal_log_prob(ug_ctx *ctx, ug_tensor *x, ug_tensor *mean, ug_tensor *log_std) {
    NEED(x && mean && log_std, "normal_log_prob");
    ug_tensor *z = ug_mul(ctx, ug_sub(ctx, x, mean), ug_exp(ctx, ug_neg(ctx, log_std)));
    /* -z^2/2 - log_std - log(2 pi)/2, elementwise, then per row */
    ug_tensor *lp = ug_sub(ctx, ug_mul_scalar(ctx, ug_square(ctx, z), -0.5f), log_std);
    return row_sum(ctx, ug_add_scalar(ctx, lp, (float)(-0.5 * log(2.0 * M_PI))));
}

ug_tensor *ug_normal_sample(ug_ctx *ctx, ug_rng *rng, ug_tensor *mean, ug_tensor *log_std, bool reparam) {
    NEED(mean && log_std, "normal_sample");
    ug_tensor *eps = ug_rand_normal(ctx, rng, mean->ndim, mean->shape);
    ug_tensor *m = reparam ? mean : ug_detach(ctx, mean), *ls = reparam ? log_std : ug_detach(ctx, log_std);
    return ug_add(ctx, m, ug_mul(ctx, ug_exp(ctx, ls), eps));
}

ug_tensor *ug_bernoulli_log_prob(ug_ctx *ctx, ug_tensor *logits, ug_tensor *x) {
    NEED(logits && x, "bernoulli_log_prob");
    /* x l - log(1 + e^l) = x log p + (1 - x) log(1 - p), stable for any l */
    return row_sum(ctx, ug_sub(ctx, ug_mul(ctx, x, logits), ug_softplus(ctx, logits)));
}

ug_tensor *ug_bernoulli_sample(ug_ctx *ctx, ug_rng *rng, ug_tensor *logits) {
    NEED(logits, "bernoulli_sample");
    return ug_rand_bernoulli(ctx, rng, ug_detach(ctx, ug_sigmoid(ctx, logits)));
}

ug_tensor *ug_categorical_log_prob(ug_ctx *ctx, ug_tensor *logits, ug_tensor *mask, ug_tensor *idx) {
    NEED(logits && idx, "categorical_log_prob");
    char b1[64], b2[64];
    if (logits->ndim != 2 || idx->ndim != 1 || idx->shape[0] != logits->shape[0] || idx->dtype != UG_I32)
        return ug__fail_null(ctx, "categorical_log_prob", "logits %s and idx %s: want [B, K] and [B] int32",
                             ug_shape_str(logits, b1, sizeof b1), ug_shape_str(idx, b2, sizeof b2));
    ug_tensor *l = logits;
    if (mask) {
        ug_tensor *ninf = ug_scalar(ctx, -INFINITY);
        l = ug_where(ctx, mask, logits, ninf);  // [B, K], impossible entries -inf
    }
    int64_t s2[2] = {idx->shape[0], 1};
    ug_tensor *g = ug_gather(ctx, ug_log_softmax(ctx, l, 1), 1, ug_reshape(ctx, idx, 2, s2));  // [B, 1]
    int64_t s1[1] = {idx->shape[0]};
    return ug_reshape(ctx, g, 1, s1);
}

/* Phi(z) by the tanh approximation of Ho et al.'s decoder. */
static ug_tensor *approx_cdf(ug_ctx *ctx, ug_tensor *z) {
    ug_tensor *z3 = ug_mul(ctx, ug_square(ctx, z), z);
    ug_tensor *a = ug_mul_scalar(ctx, ug_add(ctx, z, ug_mul_scalar(ctx, z3, 0.044715f)), (float)sqrt(2.0 / M_PI));
    return ug_mul_scalar(ctx, ug_add_scalar(ctx, ug_tanh(ctx, a), 1.0f), 0.5f);
}

ug_tensor *ug_discretized_gaussian_log_prob(ug_ctx *ctx, ug_tensor *x, ug_tensor *mean, ug_tensor *log_scale,
                                            int bins) {
    NEED(x && mean && log_scale, "discretized_gaussian_log_prob");
    if (bins < 2) return ug__fail_null(ctx, "discretized_gaussian_log_prob", "bins = %d, want >= 2", bins);
    const float half = 1.0f / (float)(bins - 1);  /* half a bin of the grid on [-1, 1] */
    ug_tensor *c = ug_sub(ctx, x, mean);
    ug_tensor *inv = ug_exp(ctx, ug_neg(ctx, log_scale));
    ug_tensor *cdf_plus = approx_cdf(ctx, ug_mul(ctx, inv, ug_add_scalar(ctx, c, half)));
    ug_tensor *cdf_min = approx_cdf(ctx, ug_mul(ctx, inv, ug_add_scalar(ctx, c, -half)));
    ug_tensor *log_cdf_plus = ug_log(ctx, ug_clamp(ctx, cdf_plus, 1e-12f, INFINITY));
    ug_tensor *log_sf_min = ug_log(ctx, ug_clamp(ctx, ug_rsub_scalar(ctx, cdf_min, 1.0f), 1e-12f, INFINITY));
    ug_tensor *log_delta = ug_log(ctx, ug_clamp(ctx, ug_sub(ctx, cdf_plus, cdf_min), 1e-12f, INFINITY));
    /* The first bin reaches to -inf, the last to +inf. Conditions as ops: relu(t) != 0 iff t > 0. */
    ug_tensor *low = ug_relu(ctx, ug_rsub_scalar(ctx, x, -1.0f + half));   // x < -1 + half
    ug_tensor *high = ug_relu(ctx, ug_add_scalar(ctx, x, -(1.0f - half)));  // x > 1 - half
    ug_tensor *lp = ug_where(ctx, low, log_cdf_plus, ug_where(ctx, high, log_sf_min, log_delta));
    return row_sum(ctx, lp);
}

ug_tensor *ug_logistic_log_prob(ug_ctx *ctx, ug_tensor *x, ug_tensor *loc, ug_tensor *log_scale) {
    NEED(x && loc && log_scale, "logistic_log_prob");
    ug_tensor *z = ug_mul(ctx, ug_sub(ctx, x, loc), ug_exp(ctx, ug_neg(ctx, log_scale)));
    /* -z - log s - 2 softplus(-z) */
    ug_tensor *lp = ug_sub(ctx, ug_neg(ctx, z), log_scale);
    return row_sum(ctx, ug_sub(ctx, lp, ug_mul_scalar(ctx, ug_softplus(ctx, ug_neg(ctx, z)), 2.0f)));
}
