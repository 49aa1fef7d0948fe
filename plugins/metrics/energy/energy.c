/* energy.c — the energy distance between model samples and fresh true samples of a continuous space,
 * with its noise floor (issue 18's second sample-quality metric; Székely & Rizzo 2013):
 *
 *   E(X, Y) = 2 E‖X − Y‖ − E‖X − X′‖ − E‖Y − Y′‖   (≥ 0, = 0 iff X and Y have one law)
 *
 * estimated by U-statistics, unbiased for each term:
 *   2/n² Σ_{i,j} ‖x_i − y_j‖ − 1/(n(n−1)) Σ_{i≠j} ‖x_i − x_j‖ − 1/(n(n−1)) Σ_{i≠j} ‖y_i − y_j‖.
 * Unlike MMD it has no bandwidth to choose and it scales with the data (units of distance). Each of
 * `groups` groups draws n = `samples` model samples x and two independent true sets y, y2; `energy`
 * is the mean over groups of E(x, y), `energy_floor` that of E(y2, y): what a perfect model shows at
 * this sample size (expectation 0, spread `energy_floor_sd`). Cost: 3.5 n² distances a group.
 *
 * Closed form for two isotropic Gaussians in 2-D (tests/test_metrics.c): X − Y ~ N(Δ, (s₁² + s₂²) I)
 * has a Rice-distributed norm, so E‖X − Y‖ = s √(π/2) L_{1/2}(−‖Δ‖²/(2 s²)) with s² = s₁² + s₂², and
 * E‖X − X′‖ = s₁ √π. */
#define UG_PLUGIN
#include "unigfn/plugin.h"

#include <math.h>
#include <stdlib.h>

#include "../two_sample.h"

typedef struct energy {
    int64_t groups, samples, chunk;
} energy;

static const ug_param_spec energy_params[] = {
    {"groups", UG_P_INT, "5", UG_P_MIN | UG_P_MAX, 1, UG_BOUND_COUNT, NULL, "independent groups averaged (the _sd values are their spread)"},
    {"samples", UG_P_INT, "4000", UG_P_MIN | UG_P_MAX, 2, UG_BOUND_COUNT, NULL, "model samples and true samples (each set) per group"},
    {"chunk", UG_P_INT, "2000", UG_P_MIN | UG_P_MAX, 1, UG_BOUND_COUNT, NULL, "samples drawn per model call (bounds memory)"},
    {NULL, 0, NULL, 0, 0, 0, NULL, NULL},
};

/* Σ ‖a_i − a_j‖ over i < j (b == NULL) or Σ ‖a_i − b_j‖ over all i, j. */
static double dsum(const float *a, const float *b, int64_t n, int64_t D) {
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) {
        const float *ai = a + i * D;
        if (b)
            for (int64_t j = 0; j < n; j++) s += sqrt(ts_sqdist(ai, b + j * D, D));
        else
            for (int64_t j = i + 1; j < n; j++) s += sqrt(ts_sqdist(ai, a + j * D, D));
    }
    return s;
}

static ug_status energy_group(void *ud, const ug_eval_env *env, const float *x, const float *y, const float *y2, int64_t n,
                              int64_t D, double *stat, double *floor, double *aux) {
    (void)ud, (void)env;
    double nn = (double)n, w = 2.0 / (nn * (nn - 1.0));  /* i < j sums, doubled, over n(n − 1) ordered pairs */
    double dyy = dsum(y, NULL, n, D);
    *stat = 2.0 * dsum(x, y, n, D) / (nn * nn) - w * dsum(x, NULL, n, D) - w * dyy;
    *floor = 2.0 * dsum(y2, y, n, D) / (nn * nn) - w * dsum(y2, NULL, n, D) - w * dyy;
    *aux = 0.0;
    return UG_OK;
}

static ug_status energy_evaluate(void *self, const ug_eval_env *env, ug_metric_out *out) {
    const energy *m = self;
    int64_t G = m->groups;
    double *v = malloc(sizeof(double) * (size_t)(3 * G));
    if (!v) return ug_ctx_fail(env->ctx, UG_ERR_NOMEM, "energy: out of memory");
    ug_status st = ts_run_groups(env, G, m->samples, m->chunk, "energy", energy_group, NULL, v, v + G, v + 2 * G);
    if (!st) {
        double mean, sd;
        out->n_values = 0;
        ts_mean_sd(v, G, &mean, &sd);
        out->keys[out->n_values] = "energy", out->values[out->n_values++] = mean;
        out->keys[out->n_values] = "energy_sd", out->values[out->n_values++] = sd;
        ts_mean_sd(v + G, G, &mean, &sd);
        out->keys[out->n_values] = "energy_floor", out->values[out->n_values++] = mean;
        out->keys[out->n_values] = "energy_floor_sd", out->values[out->n_values++] = sd;
    }
    free(v);
    return st;
}

static void *energy_create(const ug_create_args *a, ug_error *err) {
    energy *m = calloc(1, sizeof *m);
    if (!m) {
        ug_error_set(err, UG_ERR_NOMEM, "energy: out of memory");
        return NULL;
    }
    m->groups = ug_cfg_int(a->cfg, "groups", 5);
    m->samples = ug_cfg_int(a->cfg, "samples", 4000);
    m->chunk = ug_cfg_int(a->cfg, "chunk", 2000);
    if (m->groups < 1 || m->samples < 2 || m->chunk < 1) {
        ug_error_set(err, UG_ERR_ARG, "energy: needs groups >= 1, samples >= 2, chunk >= 1");
        free(m);
        return NULL;
    }
    if (a->data && a->data->info.space.kind != UG_SPACE_CONTINUOUS) {
        ug_error_set(err, UG_ERR_ARG, "energy: dataset '%s' is not continuous", a->data->name ? a->data->name : "?");
        free(m);
        return NULL;
    }
    return m;
}

static void energy_destroy(void *self) { free(self); }

static const ug_metric_vtable energy_vt = {.size = sizeof(ug_metric_vtable), .evaluate = energy_evaluate};

static const ug_plugin_desc energy_desc = {
    UG_DESC_HEADER(UG_KIND_METRIC),
    .name = "energy",
    .version = "1.0",
    .summary = "energy distance (U-statistics) of model vs fresh true samples of a continuous space, with its "
               "true-vs-true floor",
    .params = energy_params,
    .create = energy_create,
    .destroy = energy_destroy,
    .vtable = &energy_vt,
};

UG_PLUGIN_EXPORT(&energy_desc)
