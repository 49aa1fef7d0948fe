/* dsm.c — objective `dsm`: denoising score matching (Vincent 2011; Song et al. 2021 Eq. 7), the usual
 * way a ScoreSDE is trained and the baseline for `ssm` (Prop. 9's sliced score matching).
 *
 * Per row: k uniform on 1..T (the noisy states; t_k from 1 down to h), s_k = A_k x + sqrt(V_k) eps from
 * the chain's exact marginal P_B(s_k | x) = N(A_k x, V_k I) (sde.h), whose score is
 * grad log q(s_k | x) = -eps / sqrt(V_k). With lambda_k = V_k (lambda: variance, Song et al.'s
 * sigma_t^2) the loss is
 *     mean_b  1/2 lambda_k | s_theta(s_k, t_k) + eps / sqrt(V_k) |^2  =  mean_b 1/2 | sqrt(V_k) s_theta + eps |^2,
 * summed over the D coordinates. lambda: none is the unweighted 1/2 |s_theta - grad log q|^2.
 * Vincent's identity makes it sliced score matching in disguise: for every index,
 *     E 1/2 |s - grad log q(s_k | x)|^2 = E_{p_k} [tr grad s + 1/2 |s|^2] + D / (2 V_k),
 * so dsm = E_k[lambda_k SSM_k] + D/2 with lambda: variance (tests/test_score_sde.c checks it).
 *
 * The target needs the family's marginal, so this lives in the score_sde module and refuses any other
 * model (it reads the model's struct). */
#define UG_PLUGIN
#include "unigfn/plugin.h"

#include <stdlib.h>
#include <string.h>

#include "sde.h"

typedef struct dsm {
    const sde_model *m;
    bool weighted;
} dsm;

static const ug_param_spec dsm_params[] = {
    {"lambda", UG_P_ENUM, "variance", 0, 0, 0, "variance|none",
     "lambda(t) = the marginal variance V_k of P_B(s_k | x) (sigma_t^2), or 1"},
    {NULL, 0, NULL, 0, 0, 0, NULL, NULL},
};

static ug_status dsm_loss(void *self, const ug_step_env *env, ug_loss_out *out) {
    const dsm *o = self;
    const sde_model *m = o->m;
    ug_ctx *ctx = env->ctx;
    ug_tensor *x = env->batch;  // [B, D]
    char b[64];
    if (!x || x->ndim != 2 || x->shape[1] != m->D || x->shape[0] < 1)
        return ug_ctx_fail(ctx, UG_ERR_ARG, "dsm: the data batch must be [B, %lld], got %s", (long long)m->D,
                           x ? ug_shape_str(x, b, sizeof b) : "none");
    int64_t B = x->shape[0], n = m->T + 1, sh[2] = {B, n}, shx[2] = {B, m->D};
    /* k uniform on 1..T: a categorical over 0..T with the root masked out */
    float *mk = ug_arena_alloc(ctx, sizeof(float) * (size_t)(B * n));
    if (!mk) return ug_ctx_status(ctx);
    for (int64_t i = 0; i < B * n; i++) mk[i] = (i % n) != 0;
    ug_tensor *k = ug_sample_categorical(ctx, env->rng, ug_zeros(ctx, 2, sh), ug_from_f32(ctx, mk, 2, sh));  // [B] I32
    ug_tensor *oh = ug_one_hot(ctx, k, n);  // [B, T+1]
    double *sd = ug_arena_alloc(ctx, sizeof(double) * (size_t)n);
    if (!oh || !sd) return ug_ctx_status(ctx);
    for (int j = 0; j < n; j++) sd[j] = sqrt(m->V[j]);
    ug_tensor *sdr = sde_rows(ctx, oh, sd, n);  // [B, 1] sqrt V_k
    ug_tensor *eps = ug_rand_normal(ctx, env->rng, 2, shx);  // [B, D]
    ug_tensor *s = ug_add(ctx, ug_mul(ctx, x, sde_rows(ctx, oh, m->A, n)), ug_mul(ctx, eps, sdr));  // [B, D]
    s = ug_detach(ctx, s);
    ug_tensor *t = ug_reshape(ctx, sde_rows(ctx, oh, m->t, n), 1, &B);  // [B]
    ug_tensor *sc = sde_score_t(m, ctx, s, t);  // [B, D]
    /* sqrt(lambda) (s + eps / sd): with lambda = V, sd s + eps */
    ug_tensor *r = o->weighted ? ug_add(ctx, ug_mul(ctx, sc, sdr), eps) : ug_add(ctx, sc, ug_div(ctx, eps, sdr));  // [B, D]
    ug_tensor *loss = ug_mul_scalar(ctx, ug_mean_all(ctx, ug_sum(ctx, ug_square(ctx, r), 1, false)), 0.5f);
    if (ug_ctx_status(ctx)) return ug_ctx_status(ctx);
    if (!loss || ug_numel(loss) != 1) return ug_ctx_fail(ctx, UG_ERR_INTERNAL, "dsm: loss is not a scalar");
    out->loss = loss;
    return UG_OK;
}

static void *dsm_create(const ug_create_args *a, ug_error *err) {
    if (!a->model || !a->model->name || strcmp(a->model->name, "score_sde") != 0) {
        ug_error_set(err, UG_ERR_ARG, "dsm: denoising score matching needs the score_sde model's marginals, not model '%s'",
                     a->model && a->model->name ? a->model->name : "?");
        return NULL;
    }
    dsm *o = calloc(1, sizeof *o);
    if (!o) {
        ug_error_set(err, UG_ERR_NOMEM, "dsm: out of memory");
        return NULL;
    }
    o->m = a->model->self;
    o->weighted = strcmp(ug_cfg_str(a->cfg, "lambda", "variance"), "variance") == 0;
    return o;
}

static void dsm_destroy(void *self) { free(self); }

static uint32_t dsm_caps(const ug_cfg *cfg) {
    (void)cfg;
    return UG_CAP_SCORE | UG_CAP_ANCHOR;
}

static const ug_objective_vtable dsm_vt = {.size = sizeof(ug_objective_vtable), .loss = dsm_loss};

const ug_plugin_desc sde_dsm_desc = {
    UG_DESC_HEADER(UG_KIND_OBJECTIVE),
    .name = "dsm",
    .version = "0.1.0",
    .summary = "denoising score matching for score_sde, lambda(t) = sigma_t^2 (Song et al. 2021)",
    .params = dsm_params,
    .create = dsm_create,
    .destroy = dsm_destroy,
    .vtable = &dsm_vt,
    .required_caps = dsm_caps,
};
