/* ar.c — the autoregressive model plugin (paper Obs. 11, Eq. 20–21; docs/families.md §2): schema, the
 * order and the MADE masks, the network pass, info, the optional log Z and the descriptor. The
 * trajectories, rescore and log_prob live in ar_traj.c; ar.h states the family and the masks.
 *
 * Parameter groups: "forward" = the MADE layers "made.<l>" (θ; P_B is a fixed Dirac and has none);
 * "logZ" = a scalar log Z with `log_z: true`, for tb in the sampling setting.
 *
 * The order and the hidden degrees come from their own seeds (order_seed, mask_seed), not from the
 * run's: runs over seeds then share one architecture and differ in their initial weights only. */
#define UG_PLUGIN
#include "ar.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Streams of the order and degree draws (any fixed values: they only separate the two sequences). */
#define AR_STREAM_ORDER 0x4f52ull
#define AR_STREAM_MASK 0x4d41ull

static const ug_param_spec ar_params[] = {
    {"hidden", UG_P_INT_LIST, "[256, 256]", UG_P_MIN | UG_P_MAX, 1, AR_MAX_WIDTH, NULL,
     "widths of the MADE's hidden layers ([] = one masked linear layer: a logistic autoregression)"},
    {"act", UG_P_ENUM, "relu", 0, 0, 0, "relu|leaky_relu|elu|gelu|silu|tanh", "activation between the masked layers"},
    {"order", UG_P_ENUM, "natural", 0, 0, 0, "natural|random",
     "order in which the D coordinates are written: 0, 1, .., D-1, or a permutation drawn from order_seed"},
    {"order_seed", UG_P_INT, "0", UG_P_MIN | UG_P_MAX, 0, UG_BOUND_SEED, NULL,
     "seed of the permutation when order is random (independent of the run seed)"},
    {"degrees", UG_P_ENUM, "random", 0, 0, 0, "random|cyclic",
     "hidden units' MADE degrees: drawn from mask_seed (uniform from the layer below's smallest degree to D-1), "
     "or 1 + (unit mod (D-1)) in every layer"},
    {"mask_seed", UG_P_INT, "0", UG_P_MIN | UG_P_MAX, 0, UG_BOUND_SEED, NULL,
     "seed of the random degrees (independent of the run seed)"},
    {"input", UG_P_ENUM, "auto", 0, 0, 0, "auto|onehot|ordinal",
     "encoding of a coordinate v (unset = zeros): one-hot over K, or one value -1 + 2v/(K-1); "
     "auto = ordinal for binary data (±1), one-hot otherwise"},
    {"log_z", UG_P_BOOL, "false", 0, 0, 0, NULL, "a learned scalar log Z (group logZ) for tb in the sampling setting"},
    {"dim", UG_P_INT, "0", UG_P_MIN | UG_P_MAX, 0, AR_MAX_DIM, NULL, "D; 0 = the dataset's (needed without a dataset)"},
    {"categories", UG_P_INT, "0", UG_P_MIN | UG_P_MAX, 0, AR_MAX_K, NULL,
     "K; 0 = the dataset's (2 for binary data; needed without a dataset, where 2 means binary)"},
    {NULL, 0, NULL, 0, 0, 0, NULL, NULL},
};

ug_status ar_masked_weights(const ar_model *m, ug_ctx *ctx, ug_tensor **w) {
    for (int l = 0; l < m->n_lin; l++) {
        const ug_linear_layer *L = &m->lin[l];
        int64_t sh[2] = {L->out, L->in};
        ug_tensor *mk = ug_from_f32(ctx, m->mask[l], 2, sh);  // [out, in] constant
        if (!mk || !(w[l] = ug_mul(ctx, L->w, mk))) return ug_ctx_status(ctx);  // [out, in]
    }
    return UG_OK;
}

/* The network input of host states st [B, D] (−1 = unset): [B, D·per], zeros for unset coordinates. */
static ug_tensor *encode(const ar_model *m, ug_ctx *ctx, const float *st, int64_t B) {
    const int64_t D = m->D, K = m->K, per = m->per, W = D * per;
    float *e = ug_arena_alloc(ctx, sizeof(float) * (size_t)(B * W));  // [B, D·per] on the host
    if (!e) return NULL;
    memset(e, 0, sizeof(float) * (size_t)(B * W));
    for (int64_t i = 0; i < B * D; i++) {
        float v = st[i];
        if (v < 0.0f) continue;
        if (m->onehot) e[i * K + (int64_t)v] = 1.0f;
        else e[i] = -1.0f + 2.0f * v / (float)(K - 1);
    }
    int64_t sh[2] = {B, W};
    return ug_from_f32(ctx, e, 2, sh);
}

ug_tensor *ar_logits(const ar_model *m, ug_ctx *ctx, ug_tensor *const *w, const float *st, int64_t B, int64_t pos) {
    ug_tensor *h = encode(m, ctx, st, B);  // [B, D·per]
    for (int l = 0; l < m->n_lin && h; l++) {
        ug_tensor *wl = w[l], *bl = m->lin[l].b;  // [out_l, in_l], [out_l]
        if (l + 1 == m->n_lin && pos >= 0) {
            wl = ug_slice(ctx, wl, 0, pos * m->K, m->K);  // [K, in_l]: rows of a row-major matrix, contiguous
            bl = ug_slice(ctx, bl, 0, pos * m->K, m->K);  // [K]
        }
        h = ug_linear(ctx, h, wl, bl);  // [B, out_l]
        if (h && l + 1 < m->n_lin) h = ug_activation(ctx, h, m->act, 0.0f);
    }
    return h;  // [B, D·K], or [B, K] for one position
}

static ug_tensor *ar_log_z(void *self, ug_ctx *ctx) {
    ar_model *m = self;
    if (!m->has_logz) {
        ug_ctx_fail(ctx, UG_ERR_UNSUPPORTED, "ar: log_z needs `log_z: true`");
        return NULL;
    }
    return m->logz;  // []
}

static void ar_info(void *self, ug_model_info *out) {
    const ar_model *m = self;
    size_t n = out->size < sizeof *out ? out->size : sizeof *out;  /* an older host's shorter struct */
    memcpy(out, &m->info, n);
    out->size = (uint32_t)n;
}

static void ar_destroy(void *self) {
    ar_model *m = self;
    if (!m) return;
    free(m->order);
    free(m->rank);
    for (int l = 0; l <= AR_MAX_HIDDEN; l++) free(m->mask[l]);
    free(m);
}

/* D and K from the dataset (which must be binary or categorical) and the dim/categories keys. */
static bool resolve_space(const ug_create_args *a, ug_space *sp, ug_error *err) {
    int64_t dim = ug_cfg_int(a->cfg, "dim", 0), cats = ug_cfg_int(a->cfg, "categories", 0);
    if (a->data) {
        const ug_space *ds = &a->data->info.space;
        const char *name = a->data->name ? a->data->name : "?";
        if (ds->kind != UG_SPACE_BINARY && ds->kind != UG_SPACE_CATEGORICAL) {
            ug_error_set(err, UG_ERR_ARG,
                         "ar: dataset '%s' is %s (D = %lld); this model writes discrete coordinates and needs a binary or "
                         "categorical dataset (for continuous data use realnvp)",
                         name, ds->kind == UG_SPACE_CONTINUOUS ? "continuous" : "of an unknown kind", (long long)ds->dim);
            return false;
        }
        *sp = *ds;
        if (ds->kind == UG_SPACE_BINARY) sp->categories = 2;
        if ((dim > 0 && dim != sp->dim) || (cats > 0 && cats != sp->categories)) {
            ug_error_set(err, UG_ERR_ARG, "ar: dim %lld / categories %lld disagree with dataset '%s' (D = %lld, K = %lld)",
                         (long long)dim, (long long)cats, name, (long long)sp->dim, (long long)sp->categories);
            return false;
        }
    } else {
        *sp = (ug_space){.kind = cats == 2 ? UG_SPACE_BINARY : UG_SPACE_CATEGORICAL, .dim = dim, .categories = cats};
    }
    if (sp->dim < 1 || sp->dim > AR_MAX_DIM || sp->categories < 2 || sp->categories > AR_MAX_K) {
        ug_error_set(err, UG_ERR_ARG, "ar: D = %lld, K = %lld (need 1 <= D <= %d and 2 <= K <= %d; give dim and categories "
                     "when there is no dataset)", (long long)sp->dim, (long long)sp->categories, AR_MAX_DIM, AR_MAX_K);
        return false;
    }
    return true;
}

/* The order: natural, or a Fisher–Yates shuffle from order_seed. */
static void make_order(ar_model *m, bool random, uint64_t seed) {
    for (int64_t t = 0; t < m->D; t++) m->order[t] = (int32_t)t;
    if (random) {
        ug_rng r = ug_rng_make(seed, AR_STREAM_ORDER);
        for (int64_t t = m->D - 1; t > 0; t--) {
            int64_t j = ug_rng_randint(&r, t + 1);
            int32_t tmp = m->order[t];
            m->order[t] = m->order[j];
            m->order[j] = tmp;
        }
    }
    for (int64_t t = 0; t < m->D; t++) m->rank[m->order[t]] = (int32_t)t;
}

/* Degrees layer by layer and the masks between them (ar.h). deg_in holds the layer below's degrees
 * (n_in of them); widths[l] are the hidden widths. D = 1 has no admissible hidden degree (the range
 * 1 .. D − 1 is empty): its hidden units get degree 1, so no output sees them and the only
 * conditional, p(x_0), is the output bias, as it must be. */
static bool make_masks(ar_model *m, const int64_t *widths, int nh, bool cyclic, uint64_t seed, ug_error *err) {
    const int64_t D = m->D, K = m->K, n0 = D * m->per;
    int64_t maxw = n0 > D * K ? n0 : D * K;
    for (int l = 0; l < nh; l++) maxw = widths[l] > maxw ? widths[l] : maxw;
    int32_t *prev = malloc(sizeof(int32_t) * (size_t)maxw), *cur = malloc(sizeof(int32_t) * (size_t)maxw);
    bool ok = prev && cur;
    ug_rng r = ug_rng_make(seed, AR_STREAM_MASK);
    int64_t n_prev = n0;
    if (ok)
        for (int64_t j = 0; j < n0; j++) prev[j] = m->rank[j / m->per] + 1;  // input unit j: position j / per
    for (int l = 0; ok && l <= nh; l++) {
        const bool out = l == nh;
        const int64_t n = out ? D * K : widths[l];
        if (out) {
            for (int64_t o = 0; o < n; o++) cur[o] = m->rank[o / K] + 1;
        } else {
            int32_t lo = prev[0];
            for (int64_t j = 1; j < n_prev; j++) lo = prev[j] < lo ? prev[j] : lo;
            for (int64_t k = 0; k < n; k++) {
                if (D == 1) cur[k] = 1;
                else if (cyclic) cur[k] = (int32_t)(1 + k % (D - 1));
                else if (lo > D - 1) cur[k] = (int32_t)(D - 1);
                else cur[k] = (int32_t)(lo + ug_rng_randint(&r, D - lo));  // lo .. D − 1
            }
        }
        float *mk = m->mask[l] = malloc(sizeof(float) * (size_t)(n * n_prev));
        if (!mk) {
            ok = false;
            break;
        }
        for (int64_t k = 0; k < n; k++)
            for (int64_t j = 0; j < n_prev; j++)
                mk[k * n_prev + j] = (out ? cur[k] > prev[j] : cur[k] >= prev[j]) ? 1.0f : 0.0f;
        int32_t *t = prev;
        prev = cur;
        cur = t;
        n_prev = n;
    }
    free(prev);
    free(cur);
    if (!ok) ug_error_set(err, UG_ERR_NOMEM, "ar: out of memory for the masks");
    return ok;
}

static void *ar_create(const ug_create_args *a, ug_error *err) {
    if (!a || !a->params || !a->rng || !a->cfg) {
        ug_error_set(err, UG_ERR_ARG, "ar: create needs a config, params and rng");
        return NULL;
    }
    ug_space sp;
    if (!resolve_space(a, &sp, err)) return NULL;
    int64_t hidden[AR_MAX_HIDDEN + 1];
    int nh = ug_cfg_ints(a->cfg, "hidden", hidden, AR_MAX_HIDDEN + 1);
    if (nh < 0) { /* absent (a config not resolved against the schema): the schema's default */
        nh = 2;
        hidden[0] = hidden[1] = 256;
    }
    if (nh > AR_MAX_HIDDEN) {
        ug_error_set(err, UG_ERR_ARG, "ar: hidden must list 0 .. %d widths", AR_MAX_HIDDEN);
        return NULL;
    }
    for (int l = 0; l < nh; l++)
        if (hidden[l] < 1 || hidden[l] > AR_MAX_WIDTH) {
            ug_error_set(err, UG_ERR_ARG, "ar: hidden width %lld outside [1, %d]", (long long)hidden[l], AR_MAX_WIDTH);
            return NULL;
        }
    const char *act_name = ug_cfg_str(a->cfg, "act", "relu"), *order = ug_cfg_str(a->cfg, "order", "natural");
    const char *degrees = ug_cfg_str(a->cfg, "degrees", "random"), *input = ug_cfg_str(a->cfg, "input", "auto");
    ug_act act;
    if (ug_act_from_name(act_name, &act)) {
        ug_error_set(err, UG_ERR_ARG, "ar: unknown activation '%s'", act_name);
        return NULL;
    }
    bool rnd_order = strcmp(order, "random") == 0, cyclic = strcmp(degrees, "cyclic") == 0;
    if ((!rnd_order && strcmp(order, "natural") != 0) || (!cyclic && strcmp(degrees, "random") != 0) ||
        (strcmp(input, "auto") != 0 && strcmp(input, "onehot") != 0 && strcmp(input, "ordinal") != 0)) {
        ug_error_set(err, UG_ERR_ARG, "ar: order '%s' (natural|random), degrees '%s' (random|cyclic), input '%s' "
                     "(auto|onehot|ordinal)", order, degrees, input);
        return NULL;
    }
    ar_model *m = calloc(1, sizeof *m);
    if (!m) {
        ug_error_set(err, UG_ERR_NOMEM, "ar: out of memory");
        return NULL;
    }
    m->D = sp.dim;
    m->K = sp.categories;
    m->onehot = strcmp(input, "onehot") == 0 || (strcmp(input, "auto") == 0 && m->K > 2);
    m->per = m->onehot ? m->K : 1;
    m->act = act;
    m->has_logz = ug_cfg_bool(a->cfg, "log_z", false);
    m->n_lin = nh + 1;
    if ((double)m->D * (double)m->per > (double)AR_MAX_DIM * 64 || (double)m->D * (double)m->K > (double)AR_MAX_DIM * 64) {
        ug_error_set(err, UG_ERR_ARG, "ar: D = %lld with K = %lld makes layers of %lld x %lld units: too wide", (long long)m->D,
                     (long long)m->K, (long long)(m->D * m->per), (long long)(m->D * m->K));
        goto fail;
    }
    if (!(m->order = malloc(sizeof(int32_t) * (size_t)m->D)) || !(m->rank = malloc(sizeof(int32_t) * (size_t)m->D))) {
        ug_error_set(err, UG_ERR_NOMEM, "ar: out of memory");
        goto fail;
    }
    make_order(m, rnd_order, (uint64_t)ug_cfg_int(a->cfg, "order_seed", 0));
    if (!make_masks(m, hidden, nh, cyclic, (uint64_t)ug_cfg_int(a->cfg, "mask_seed", 0), err)) goto fail;
    ug_params *P = a->params;
    ug_status st = UG_OK;
    int64_t in = m->D * m->per;
    for (int l = 0; l < m->n_lin && !st; l++) {
        char name[32];
        int64_t out = l < nh ? hidden[l] : m->D * m->K;
        snprintf(name, sizeof name, "made.%d", l);
        st = ug_linear_layer_init(&m->lin[l], P, "forward", name, in, out, true, a->rng);
        in = out;
    }
    if (!st && m->has_logz && !(m->logz = ug_param(P, "logZ", "logZ", 0, NULL))) st = ug_params_status(P);
    if (!st) st = ug_params_finalize(P);
    if (st) {
        ug_error_set(err, st, "ar: parameters: %s", ug_params_errmsg(P));
        goto fail;
    }
    m->info.size = sizeof m->info;
    m->info.space = sp;
    m->info.horizon = (int32_t)m->D;
    m->info.variable_length = false;
    m->info.deterministic_pb = true;
    m->info.caps = UG_CAP_LOG_PROB | UG_CAP_PARTIAL | (m->has_logz ? UG_CAP_LOG_Z : 0u);
    return m;
fail:
    ar_destroy(m);
    return NULL;
}

static const ug_model_vtable ar_vt = {
    .size = sizeof(ug_model_vtable),
    .info = ar_info,
    .sample_forward = ar_sample_forward,
    .sample_backward = ar_sample_backward,
    .rescore = ar_rescore,
    .log_prob = ar_log_prob,
    .log_z = ar_log_z,
};

static const ug_plugin_desc ar_desc = {
    UG_DESC_HEADER(UG_KIND_MODEL),
    .name = "ar",
    .version = "1.0",
    .summary = "fixed-order autoregressive model (MADE: one masked pass gives all D conditionals), binary or categorical; "
               "Dirac P_B, exact log_prob",
    .params = ar_params,
    .create = ar_create,
    .destroy = ar_destroy,
    .vtable = &ar_vt,
};

UG_PLUGIN_EXPORT(&ar_desc)
