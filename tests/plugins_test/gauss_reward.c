/* gauss_reward.c — TEST-ONLY dataset "gauss_reward": continuous x ~ N(mean, std^2 I) in R^D (fresh
 * draws for training, a fixed held-out set) WITH its normalized log density as log_reward (dataset.h,
 * the sampling setting of §2.3). tests/test_score_sde.c uses it where a target density is needed in
 * closed form: db with `reward: data` on score_sde (Prop. 9), and the probability-flow NLL of a model
 * trained on it against the Gaussian's entropy D/2 log(2 pi e std^2).
 *
 * Built into build/tests/, never into build/plugins/, so the CLI never lists it. */
#define UG_PLUGIN
#include "unigfn/plugin.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define GR_MAX_D 64

typedef struct gr_data {
    int64_t D, n_heldout;
    double mean[GR_MAX_D], std;
    float *heldout;  /* [n_heldout, D] */
} gr_data;

static void draw(const gr_data *d, ug_rng *rng, int64_t n, float *x) {
    ug_rng_normal(rng, x, n * d->D);
    for (int64_t i = 0; i < n * d->D; i++) x[i] = (float)(d->mean[i % d->D] + d->std * x[i]);
}

static void *gr_create(const ug_create_args *a, ug_error *err) {
    gr_data *d = calloc(1, sizeof *d);
    if (!d) {
        ug_error_set(err, UG_ERR_NOMEM, "gauss_reward: out of memory");
        return NULL;
    }
    d->D = ug_cfg_int(a->cfg, "dim", 2);
    d->std = ug_cfg_float(a->cfg, "std", 1.0);
    d->n_heldout = ug_cfg_int(a->cfg, "heldout_size", 1000);
    double m[GR_MAX_D];
    int nm = ug_cfg_floats(a->cfg, "mean", m, GR_MAX_D);
    if ((nm > 0 && nm != d->D) || !(d->std > 0)) {
        ug_error_set(err, UG_ERR_ARG, "gauss_reward: mean has %d values for dim %lld, std %g", nm, (long long)d->D, d->std);
        free(d);
        return NULL;
    }
    for (int64_t i = 0; i < d->D; i++) d->mean[i] = nm > 0 ? m[i] : 0.0;
    if (!(d->heldout = malloc((size_t)(d->n_heldout * d->D) * sizeof(float)))) {
        ug_error_set(err, UG_ERR_NOMEM, "gauss_reward: out of memory");
        free(d);
        return NULL;
    }
    ug_rng r = ug_rng_make((uint64_t)ug_cfg_int(a->cfg, "heldout_seed", 7), 97);
    draw(d, &r, d->n_heldout, d->heldout);
    return d;
}

static void gr_destroy(void *self) {
    gr_data *d = self;
    if (d) free(d->heldout);
    free(d);
}

static void gr_info(void *self, ug_dataset_info *out) {
    gr_data *d = self;
    uint32_t size = out->size;
    memset(out, 0, sizeof *out);
    out->size = size;
    out->space.kind = UG_SPACE_CONTINUOUS;
    out->space.dim = d->D;
    out->train_size = -1;
    out->heldout_size = d->n_heldout;
}

static ug_status gr_fresh(void *self, ug_ctx *ctx, ug_rng *rng, int64_t n, ug_tensor **out) {
    gr_data *d = self;
    float *buf = n > 0 ? malloc(sizeof(float) * (size_t)(n * d->D)) : NULL;
    int64_t sh[2] = {n, d->D};
    *out = NULL;
    if (!buf) return ug_ctx_fail(ctx, UG_ERR_ARG, "gauss_reward: count %lld", (long long)n);
    draw(d, rng, n, buf);
    *out = ug_from_f32(ctx, buf, 2, sh);  // [n, D]
    free(buf);
    return *out ? UG_OK : ug_ctx_status(ctx);
}

static ug_status gr_train_batch(void *self, ug_ctx *ctx, ug_rng *rng, int64_t batch, int64_t step, ug_tensor **out) {
    (void)step;
    return gr_fresh(self, ctx, rng, batch, out);
}

static ug_status gr_heldout(void *self, ug_ctx *ctx, int64_t offset, int64_t count, ug_tensor **out) {
    gr_data *d = self;
    *out = NULL;
    if (offset < 0 || count <= 0 || offset + count > d->n_heldout)
        return ug_ctx_fail(ctx, UG_ERR_ARG, "gauss_reward.heldout: rows out of range");
    int64_t shape[2] = {count, d->D};
    *out = ug_from_f32(ctx, d->heldout + offset * d->D, 2, shape);  // [count, D]
    return *out ? UG_OK : ug_ctx_status(ctx);
}

/* log N(x; mean, std^2 I) per row: [B]. */
static ug_tensor *gr_log_reward(void *self, ug_ctx *ctx, ug_tensor *x) {
    gr_data *d = self;
    float mu[GR_MAX_D];
    for (int64_t i = 0; i < d->D; i++) mu[i] = (float)d->mean[i];
    int64_t sh[2] = {1, d->D};
    return ug_normal_log_prob(ctx, x, ug_from_f32(ctx, mu, 2, sh), ug_scalar(ctx, (float)log(d->std)));
}

static const ug_param_spec gr_params[] = {
    {"dim", UG_P_INT, "2", UG_P_MIN | UG_P_MAX, 1, GR_MAX_D, NULL, "dimension D"},
    {"mean", UG_P_FLOAT_LIST, "[]", 0, 0, 0, NULL, "the mean; [] = 0"},
    {"std", UG_P_FLOAT, "1", UG_P_MIN | UG_P_MIN_OPEN, 0, 0, NULL, "standard deviation of every coordinate"},
    {"heldout_size", UG_P_INT, "1000", UG_P_MIN | UG_P_MAX, 1, UG_BOUND_COUNT, NULL, "held-out rows"},
    {"heldout_seed", UG_P_INT, "7", UG_P_MIN | UG_P_MAX, 0, UG_BOUND_SEED, NULL, "seed of the held-out rows"},
    {NULL, 0, NULL, 0, 0, 0, NULL, NULL},
};

static const ug_dataset_vtable gr_vt = {
    .size = sizeof(ug_dataset_vtable),
    .info = gr_info,
    .train_batch = gr_train_batch,
    .heldout = gr_heldout,
    .sample_true = gr_fresh,
    .log_reward = gr_log_reward,
};

static const ug_plugin_desc gr_desc = {
    UG_DESC_HEADER(UG_KIND_DATASET),
    .name = "gauss_reward",
    .version = "1.0",
    .summary = "TEST ONLY: an isotropic Gaussian in R^D with its log density as log_reward",
    .params = gr_params,
    .create = gr_create,
    .destroy = gr_destroy,
    .vtable = &gr_vt,
};

UG_PLUGIN_EXPORT(&gr_desc)
