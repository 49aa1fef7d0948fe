/* dist.h — the distributions policies are made of, as differentiable ops: log-probabilities (summed
 * over every dimension after the first, x [B, ...] -> [B]; a 1-D x [B] is one value a row) and samplers
 * (reparameterized where the distribution has a pathwise form). Parameters broadcast against x.
 *
 *   normal          N(mean, exp(log_std)^2) per element
 *   bernoulli       p = sigmoid(logits), x in {0, 1}
 *   categorical     softmax over the last axis of logits [B, K], entries with mask == 0 impossible
 *   disc. gaussian  Ho et al. (2020)'s decoder: N(mean, exp(log_scale)^2) integrated over the bin of x
 *                   on `bins` levels of [-1, 1] (edge bins to ±infinity). The normal CDF is the tanh
 *                   approximation 0.5 (1 + tanh(sqrt(2/pi) (z + 0.044715 z^3))) that their code uses
 *                   (max error 3e-4); bins telescope, so the probabilities of the levels sum to 1.
 *   logistic        density of loc + exp(log_scale) * Logistic(0, 1)
 * The categorical sampler is ug_sample_categorical (rng.h). */
#ifndef UNIGFN_DIST_H
#define UNIGFN_DIST_H

#include <stdbool.h>

#include "unigfn/rng.h"
#include "unigfn/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

ug_tensor *ug_normal_log_prob(ug_ctx *ctx, ug_tensor *x, ug_tensor *mean, ug_tensor *log_std);
/* mean + exp(log_std) * eps, eps ~ N(0, I) with mean's shape; reparam: gradients reach mean and
 * log_std through the sample; otherwise the sample is a constant. */
ug_tensor *ug_normal_sample(ug_ctx *ctx, ug_rng *rng, ug_tensor *mean, ug_tensor *log_std, bool reparam);

ug_tensor *ug_bernoulli_log_prob(ug_ctx *ctx, ug_tensor *logits, ug_tensor *x);
ug_tensor *ug_bernoulli_sample(ug_ctx *ctx, ug_rng *rng, ug_tensor *logits);  /* 0/1, no gradient */

/* logits [B, K], mask [B, K] or NULL, idx [B] I32 -> log softmax(logits)[b, idx[b]] [B]. */
ug_tensor *ug_categorical_log_prob(ug_ctx *ctx, ug_tensor *logits, ug_tensor *mask, ug_tensor *idx);

/* x on the grid -1 + 2 i / (bins - 1), i = 0 .. bins - 1 (bins >= 2). */
ug_tensor *ug_discretized_gaussian_log_prob(ug_ctx *ctx, ug_tensor *x, ug_tensor *mean, ug_tensor *log_scale,
                                            int bins);

ug_tensor *ug_logistic_log_prob(ug_ctx *ctx, ug_tensor *x, ug_tensor *loc, ug_tensor *log_scale);

#ifdef __cplusplus
}
#endif
#endif
