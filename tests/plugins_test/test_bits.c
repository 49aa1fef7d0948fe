/* test_bits.c — TEST-ONLY plugins with a distribution known in closed form, for the metric tests.
 *
 * model "test_bits": D independent bits, p(x) = Π_i p_i^x_i (1 − p_i)^(1 − x_i), built as a GFlowNet
 *   state    [B, D] floats, −1 = unset; state index = number of set coordinates
 *   P_F      pick an unset position uniformly (1/(D − k)), set it to 1 with probability p_pos
 *   P_B      erase set position j with probability ∝ exp(pb_skew · j)
 * With pb_skew = 0 P_B is the exact posterior over orders, so log P_F(τ) − log P_B(τ|x) = log p(x)
 * for every trajectory; with pb_skew ≠ 0 the importance weights vary and the M-particle estimate of
 * log p(x) is a strict lower bound in expectation (KL(P_B‖posterior) for M = 1, computable by
 * enumerating orders). log_prob (UG_CAP_LOG_PROB) returns log p(x) exactly.
 *
 * dataset "test_bits": the same product of Bernoullis (its own probs), a fixed held-out set.
 *
 * dataset "test_gauss": continuous x ~ N(mean, std² I) in D dimensions (fresh draws, a fixed held-out
 *   set), for the continuous sample metrics (mmd_rbf, energy, density_png), whose expectations between
 *   two Gaussians are closed-form; the model side is gauss_chain, whose x ~ N(Σ μ, n σ_f² I).
 *
 * dataset "test_cats": categorical x in {0..K-1}^D from a Markov chain (x_0 = v with probability
 *   ∝ v + 1; x_i = x_{i-1} with probability `stay`, else uniform over the K values), with its exact
 *   log p(x) as log_reward: a categorical target with dependencies between coordinates, whose entropy
 *   an autoregressive model (plugins/models/ar, tests/test_ar.c) can reach.
 *
 * Built into build/tests/, never into build/plugins/, so the CLI never lists it. */
#define UG_PLUGIN
#include "unigfn/plugin.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TB_MAX_D 64

/* p_i: the given list, or 0.2 + 0.6 i/(D−1) (distinct per coordinate, so orders matter). */
static int read_probs(const ug_cfg *cfg, int64_t D, double *p, ug_error *err, const char *who) {
    double got[TB_MAX_D];
    int n = ug_cfg_floats(cfg, "probs", got, TB_MAX_D);
    if (n > 0 && n != D) {
        ug_error_set(err, UG_ERR_ARG, "%s: probs has %d values, dim is %lld", who, n, (long long)D);
        return -1;
    }
    for (int64_t i = 0; i < D; i++) {
        p[i] = n > 0 ? got[i] : (D > 1 ? 0.2 + 0.6 * (double)i / (double)(D - 1) : 0.5);
        if (!(p[i] > 0.0 && p[i] < 1.0)) {
            ug_error_set(err, UG_ERR_ARG, "%s: probs must lie in (0, 1)", who);
            return -1;
        }
    }
    return 0;
}

/* ================================ model ================================ */

typedef struct bits_model {
    int64_t D;
    double p[TB_MAX_D];
    double skew;
} bits_model;

static void *bm_create(const ug_create_args *a, ug_error *err) {
    bits_model *m = calloc(1, sizeof *m);
    if (!m) {
        ug_error_set(err, UG_ERR_NOMEM, "test_bits: out of memory");
        return NULL;
    }
    m->D = ug_cfg_int(a->cfg, "dim", 4);
    m->skew = ug_cfg_float(a->cfg, "pb_skew", 0.0);
    if (read_probs(a->cfg, m->D, m->p, err, "test_bits model")) {
        free(m);
        return NULL;
    }
    return m;
}

static void bm_destroy(void *self) { free(self); }

static void bm_info(void *self, ug_model_info *out) {
    bits_model *m = self;
    uint32_t size = out->size;
    memset(out, 0, sizeof *out);
    out->size = size;
    out->space.kind = UG_SPACE_BINARY;
    out->space.dim = m->D;
    out->space.categories = 2;
    out->horizon = (int32_t)m->D;
    out->caps = UG_CAP_LOG_PROB;
}

/* log P_F of setting `pos` to `val` in a state with k set coordinates. */
static double lpf(const bits_model *m, int64_t k, int64_t pos, int val) {
    return -log((double)(m->D - k)) + log(val ? m->p[pos] : 1.0 - m->p[pos]);
}

/* log P_B of erasing `pos` from the state s' (row of D floats, −1 = unset). */
static double lpb(const bits_model *m, const float *sp, int64_t pos) {
    double mx = -INFINITY, s = 0.0;
    for (int64_t j = 0; j < m->D; j++)
        if (sp[j] != -1.0f && m->skew * (double)j > mx) mx = m->skew * (double)j;
    for (int64_t j = 0; j < m->D; j++)
        if (sp[j] != -1.0f) s += exp(m->skew * (double)j - mx);
    return m->skew * (double)pos - mx - log(s);
}

/* Per-step tensors and the actions record for B rows and `steps` steps. */
static ug_status traj_alloc(ug_ctx *ctx, ug_traj *out, int64_t B, int32_t start, int32_t steps, bool keep) {
    uint32_t size = out->size;
    memset(out, 0, sizeof *out);
    out->size = size;
    out->batch = B;
    out->start = start;
    out->steps = steps;
    out->log_pf = ug_arena_alloc(ctx, (size_t)(steps > 0 ? steps : 1) * sizeof(ug_tensor *));
    out->log_pb = ug_arena_alloc(ctx, (size_t)(steps > 0 ? steps : 1) * sizeof(ug_tensor *));
    out->actions = steps > 0 ? ug_new2(ctx, B, steps) : NULL;   // [B, steps] a = 2*pos + value
    if (keep) out->states = ug_arena_alloc(ctx, (size_t)(steps + 1) * sizeof(ug_tensor *));
    if (!out->log_pf || !out->log_pb || (steps > 0 && !out->actions) || (keep && !out->states))
        return ug_ctx_fail(ctx, UG_ERR_NOMEM, "test_bits: no memory for trajectories");
    for (int32_t k = 0; k < steps; k++) {
        out->log_pf[k] = ug_new1(ctx, B);   // [B]
        out->log_pb[k] = ug_new1(ctx, B);   // [B]
        if (!out->log_pf[k] || !out->log_pb[k]) return ug_ctx_status(ctx);
    }
    return UG_OK;
}

static int64_t count_set(const float *row, int64_t D) {
    int64_t n = 0;
    for (int64_t j = 0; j < D; j++) n += row[j] != -1.0f;
    return n;
}

/* Copy of a [B, D] state batch after checking it has `index` set coordinates per row. */
static ug_tensor *states_in(bits_model *m, ug_ctx *ctx, ug_tensor *s, int32_t index, const char *who) {
    if (!s || s->ndim != 2 || s->shape[1] != m->D) {
        ug_ctx_fail(ctx, UG_ERR_ARG, "test_bits.%s: states must be [B, %lld]", who, (long long)m->D);
        return NULL;
    }
    ug_tensor *c = ug_contiguous(ctx, s);
    int64_t shape[2] = {s->shape[0], m->D};
    ug_tensor *t = c ? ug_from_f32(ctx, ug_f32(c), 2, shape) : NULL;   // [B, D]
    if (!t) return NULL;
    for (int64_t b = 0; b < shape[0]; b++)
        if (count_set(ug_f32(t) + b * m->D, m->D) != index) {
            ug_ctx_fail(ctx, UG_ERR_ARG, "test_bits.%s: row %lld does not have %d set coordinates", who, (long long)b, index);
            return NULL;
        }
    return t;
}

static ug_tensor *copy_state(ug_ctx *ctx, const float *src, int64_t B, int64_t D) {
    int64_t shape[2] = {B, D};
    return ug_from_f32(ctx, src, 2, shape);
}

static ug_status bm_sample_forward(void *self, ug_ctx *ctx, ug_rng *rng, const ug_traj_req *req, ug_traj *out) {
    bits_model *m = self;
    int64_t D = m->D;
    int32_t start = req->start ? req->start_index : 0;
    int64_t B = req->start ? req->start->shape[0] : req->batch;
    int32_t steps = req->steps < 0 ? (int32_t)D - start : req->steps;
    if (B <= 0 || start < 0 || start + steps > D) return ug_ctx_fail(ctx, UG_ERR_ARG, "test_bits.sample_forward: bad request");
    ug_tensor *s;
    if (req->start) {
        if (!(s = states_in(m, ctx, req->start, start, "sample_forward"))) return ug_ctx_status(ctx);
    } else {
        int64_t shape[2] = {B, D};
        if (!(s = ug_full(ctx, 2, shape, -1.0f))) return ug_ctx_status(ctx);
    }
    bool keep = req->flags & UG_TRAJ_KEEP_STATES;
    ug_status st = traj_alloc(ctx, out, B, start, steps, keep);
    if (st) return st;
    out->first = copy_state(ctx, ug_f32(s), B, D);
    float *cur = ug_f32(s);
    for (int32_t k = 0; k < steps; k++) {
        if (keep && !(out->states[k] = copy_state(ctx, cur, B, D))) return ug_ctx_status(ctx);
        int64_t nset = start + k;
        for (int64_t b = 0; b < B; b++) {
            float *row = cur + b * D;
            int64_t r = ug_rng_randint(rng, D - nset), pos = -1;
            for (int64_t j = 0; j < D && pos < 0; j++)
                if (row[j] == -1.0f && r-- == 0) pos = j;
            float u;
            ug_rng_uniform(rng, &u, 1);
            int val = (double)u < m->p[pos];
            row[pos] = (float)val;
            ug_f32(out->log_pf[k])[b] = (float)lpf(m, nset, pos, val);
            ug_f32(out->log_pb[k])[b] = (float)lpb(m, row, pos);
            ug_f32(out->actions)[b * steps + k] = (float)(2 * pos + val);
        }
    }
    if (!(out->last = copy_state(ctx, cur, B, D))) return ug_ctx_status(ctx);
    if (keep) out->states[steps] = out->last;
    return UG_OK;
}

static ug_status bm_sample_backward(void *self, ug_ctx *ctx, ug_rng *rng, const ug_traj_req *req, ug_traj *out) {
    bits_model *m = self;
    int64_t D = m->D;
    if (!req->start) return ug_ctx_fail(ctx, UG_ERR_ARG, "test_bits.sample_backward: needs start states");
    int32_t top = req->start_index;
    int32_t steps = req->steps < 0 ? top : req->steps;
    int64_t B = req->start->shape[0];
    if (top < 0 || top > D || steps > top) return ug_ctx_fail(ctx, UG_ERR_ARG, "test_bits.sample_backward: bad request");
    ug_tensor *s = states_in(m, ctx, req->start, top, "sample_backward");
    if (!s) return ug_ctx_status(ctx);
    bool keep = req->flags & UG_TRAJ_KEEP_STATES;
    ug_status st = traj_alloc(ctx, out, B, top - steps, steps, keep);
    if (st) return st;
    float *cur = ug_f32(s);
    if (!(out->last = copy_state(ctx, cur, B, D))) return ug_ctx_status(ctx);
    if (keep) out->states[steps] = out->last;
    double *w = malloc((size_t)D * sizeof(double));
    if (!w) return ug_ctx_fail(ctx, UG_ERR_NOMEM, "test_bits: out of memory");
    for (int32_t t = 0; t < steps; t++) {
        int32_t k = steps - 1 - t;        /* forward step k: states[k] -> states[k+1] (= cur) */
        int64_t nset_after = top - t;
        for (int64_t b = 0; b < B; b++) {
            float *row = cur + b * D;
            double tot = 0.0;
            for (int64_t j = 0; j < D; j++) tot += w[j] = row[j] != -1.0f ? exp(m->skew * (double)j) : 0.0;
            double u = ug_rng_uniform_f64(rng) * tot;
            int64_t pos = -1;
            for (int64_t j = 0; j < D && pos < 0; j++) {
                if (w[j] > 0.0 && (u < w[j] || j == D - 1)) pos = j;
                u -= w[j];
            }
            if (pos < 0)   /* rounding left u past the last set position: take it */
                for (int64_t j = D - 1; j >= 0 && pos < 0; j--)
                    if (w[j] > 0.0) pos = j;
            int val = row[pos] > 0.5f;
            ug_f32(out->log_pb[k])[b] = (float)lpb(m, row, pos);
            ug_f32(out->log_pf[k])[b] = (float)lpf(m, nset_after - 1, pos, val);
            ug_f32(out->actions)[b * steps + k] = (float)(2 * pos + val);
            row[pos] = -1.0f;
        }
        if (keep && !(out->states[k] = copy_state(ctx, cur, B, D))) {
            free(w);
            return ug_ctx_status(ctx);
        }
    }
    free(w);
    if (!(out->first = copy_state(ctx, cur, B, D))) return ug_ctx_status(ctx);
    return UG_OK;
}

/* Walk the recorded actions forward from traj->first and recompute both terms. */
static ug_status bm_rescore(void *self, ug_ctx *ctx, ug_traj *traj, uint32_t flags) {
    bits_model *m = self;
    int64_t D = m->D, B = traj->batch;
    (void)flags;
    if (!traj->first || (traj->steps > 0 && !traj->actions))
        return ug_ctx_fail(ctx, UG_ERR_ARG, "test_bits.rescore: needs first and actions");
    ug_tensor *s = states_in(m, ctx, traj->first, traj->start, "rescore");
    ug_tensor *a = traj->steps > 0 ? ug_contiguous(ctx, traj->actions) : NULL;
    if (!s || (traj->steps > 0 && !a)) return ug_ctx_status(ctx);
    float *cur = ug_f32(s);
    for (int32_t k = 0; k < traj->steps; k++) {
        ug_tensor *pf = ug_new1(ctx, B), *pb = ug_new1(ctx, B);   // [B]
        if (!pf || !pb) return ug_ctx_status(ctx);
        for (int64_t b = 0; b < B; b++) {
            int code = (int)ug_f32(a)[b * traj->steps + k], pos = code / 2, val = code % 2;
            float *row = cur + b * D;
            if (pos < 0 || pos >= D || row[pos] != -1.0f) return ug_ctx_fail(ctx, UG_ERR_ARG, "test_bits.rescore: bad action");
            row[pos] = (float)val;
            ug_f32(pf)[b] = (float)lpf(m, traj->start + k, pos, val);
            ug_f32(pb)[b] = (float)lpb(m, row, pos);
        }
        traj->log_pf[k] = pf;
        traj->log_pb[k] = pb;
    }
    return UG_OK;
}

static ug_tensor *bm_log_prob(void *self, ug_ctx *ctx, ug_tensor *x) {
    bits_model *m = self;
    if (!x || x->ndim != 2 || x->shape[1] != m->D) {
        ug_ctx_fail(ctx, UG_ERR_ARG, "test_bits.log_prob: x must be [B, %lld]", (long long)m->D);
        return NULL;
    }
    ug_tensor *c = ug_contiguous(ctx, x), *out = ug_new1(ctx, x->shape[0]);   // [B]
    if (!c || !out) return NULL;
    for (int64_t b = 0; b < x->shape[0]; b++) {
        double lp = 0.0;
        for (int64_t j = 0; j < m->D; j++) lp += log(ug_f32(c)[b * m->D + j] > 0.5f ? m->p[j] : 1.0 - m->p[j]);
        ug_f32(out)[b] = (float)lp;
    }
    return out;
}

static const ug_param_spec bm_params[] = {
    {"dim", UG_P_INT, "4", UG_P_MIN | UG_P_MAX, 1, TB_MAX_D, NULL, "number of bits D"},
    {"probs", UG_P_FLOAT_LIST, "[]", 0, 0, 0, NULL, "P(x_i = 1); [] = 0.2 + 0.6 i/(D-1)"},
    {"pb_skew", UG_P_FLOAT, "0", 0, 0, 0, NULL, "P_B erases position j with weight exp(pb_skew * j); 0 = exact posterior"},
    {NULL, 0, NULL, 0, 0, 0, NULL, NULL},
};

static const ug_model_vtable bm_vt = {
    .size = sizeof(ug_model_vtable),
    .info = bm_info,
    .sample_forward = bm_sample_forward,
    .sample_backward = bm_sample_backward,
    .rescore = bm_rescore,
    .log_prob = bm_log_prob,
};

static const ug_plugin_desc bm_desc = {
    UG_DESC_HEADER(UG_KIND_MODEL),
    .name = "test_bits",
    .version = "1.0",
    .summary = "TEST ONLY: independent bits as a GFlowNet with a known likelihood",
    .params = bm_params,
    .create = bm_create,
    .destroy = bm_destroy,
    .vtable = &bm_vt,
};

/* ================================ dataset ================================ */

typedef struct bits_data {
    int64_t D, n_heldout;
    double p[TB_MAX_D];
    float *heldout;
} bits_data;

static void draw_bits(const bits_data *d, ug_rng *rng, int64_t n, float *x) {
    float u;
    for (int64_t i = 0; i < n * d->D; i++) {
        ug_rng_uniform(rng, &u, 1);
        x[i] = (double)u < d->p[i % d->D] ? 1.0f : 0.0f;
    }
}

static void *bd_create(const ug_create_args *a, ug_error *err) {
    bits_data *d = calloc(1, sizeof *d);
    if (!d) {
        ug_error_set(err, UG_ERR_NOMEM, "test_bits: out of memory");
        return NULL;
    }
    d->D = ug_cfg_int(a->cfg, "dim", 4);
    d->n_heldout = ug_cfg_int(a->cfg, "heldout_size", 1000);
    if (read_probs(a->cfg, d->D, d->p, err, "test_bits dataset") ||
        !(d->heldout = malloc((size_t)(d->n_heldout * d->D) * sizeof(float)))) {
        if (!err->code) ug_error_set(err, UG_ERR_NOMEM, "test_bits: out of memory");
        free(d);
        return NULL;
    }
    ug_rng r = ug_rng_make((uint64_t)ug_cfg_int(a->cfg, "heldout_seed", 7), 99);
    draw_bits(d, &r, d->n_heldout, d->heldout);
    return d;
}

static void bd_destroy(void *self) {
    bits_data *d = self;
    if (d) free(d->heldout);
    free(d);
}

static void bd_info(void *self, ug_dataset_info *out) {
    bits_data *d = self;
    uint32_t size = out->size;
    memset(out, 0, sizeof *out);
    out->size = size;
    out->space.kind = UG_SPACE_BINARY;
    out->space.dim = d->D;
    out->space.categories = 2;
    out->train_size = -1;
    out->heldout_size = d->n_heldout;
}

static ug_status bd_fresh(void *self, ug_ctx *ctx, ug_rng *rng, int64_t n, ug_tensor **out) {
    bits_data *d = self;
    *out = n > 0 ? ug_new2(ctx, n, d->D) : NULL;   // [n, D]
    if (!*out) return ug_ctx_status(ctx) ? ug_ctx_status(ctx) : ug_ctx_fail(ctx, UG_ERR_ARG, "test_bits: count %lld", (long long)n);
    draw_bits(d, rng, n, ug_f32(*out));
    return UG_OK;
}

static ug_status bd_train_batch(void *self, ug_ctx *ctx, ug_rng *rng, int64_t batch, int64_t step, ug_tensor **out) {
    (void)step;
    return bd_fresh(self, ctx, rng, batch, out);
}

static ug_status bd_heldout(void *self, ug_ctx *ctx, int64_t offset, int64_t count, ug_tensor **out) {
    bits_data *d = self;
    *out = NULL;
    if (offset < 0 || count <= 0 || offset + count > d->n_heldout)
        return ug_ctx_fail(ctx, UG_ERR_ARG, "test_bits.heldout: rows out of range");
    int64_t shape[2] = {count, d->D};
    *out = ug_from_f32(ctx, d->heldout + offset * d->D, 2, shape);   // [count, D]
    return *out ? UG_OK : ug_ctx_status(ctx);
}

static const ug_param_spec bd_params[] = {
    {"dim", UG_P_INT, "4", UG_P_MIN | UG_P_MAX, 1, TB_MAX_D, NULL, "number of bits D"},
    {"probs", UG_P_FLOAT_LIST, "[]", 0, 0, 0, NULL, "P(x_i = 1); [] = 0.2 + 0.6 i/(D-1)"},
    {"heldout_size", UG_P_INT, "1000", UG_P_MIN | UG_P_MAX, 1, UG_BOUND_COUNT, NULL, "held-out rows"},
    {"heldout_seed", UG_P_INT, "7", UG_P_MIN | UG_P_MAX, 0, UG_BOUND_SEED, NULL, "seed of the held-out rows"},
    {NULL, 0, NULL, 0, 0, 0, NULL, NULL},
};

/* log R(x) = log prod_i p_i^x_i (1 - p_i)^(1 - x_i): the dataset's own distribution as a reward
 * (normalized, so log Z = 0), for `reward: data`. */
static ug_tensor *bd_log_reward(void *self, ug_ctx *ctx, ug_tensor *x) {
    const bits_data *d = self;
    if (!x || x->ndim != 2 || x->shape[1] != d->D) {
        ug_ctx_fail(ctx, UG_ERR_ARG, "test_bits: log_reward wants [B, %lld]", (long long)d->D);
        return NULL;
    }
    float lp1[TB_MAX_D], lp0[TB_MAX_D];
    for (int64_t i = 0; i < d->D; i++) lp1[i] = (float)log(d->p[i]), lp0[i] = (float)log(1.0 - d->p[i]);
    int64_t sh[1] = {d->D};
    ug_tensor *a = ug_from_f32(ctx, lp1, 1, sh), *b = ug_from_f32(ctx, lp0, 1, sh);  // [D]
    /* x log p + (1 - x) log(1 - p), summed over D: [B] */
    ug_tensor *t = ug_add(ctx, ug_mul(ctx, x, ug_sub(ctx, a, b)), b);  // [B, D]
    return ug_sum(ctx, t, 1, false);
}

static const ug_dataset_vtable bd_vt = {
    .size = sizeof(ug_dataset_vtable),
    .info = bd_info,
    .train_batch = bd_train_batch,
    .heldout = bd_heldout,
    .sample_true = bd_fresh,
    .log_reward = bd_log_reward,
};

static const ug_plugin_desc bd_desc = {
    UG_DESC_HEADER(UG_KIND_DATASET),
    .name = "test_bits",
    .version = "1.0",
    .summary = "TEST ONLY: independent Bernoulli bits",
    .params = bd_params,
    .create = bd_create,
    .destroy = bd_destroy,
    .vtable = &bd_vt,
};

/* ================================ continuous dataset ================================ */

typedef struct gauss_data {
    int64_t D, n_heldout;
    double mean[TB_MAX_D], std;
    float *heldout;
} gauss_data;

static void draw_gauss(const gauss_data *d, ug_rng *rng, int64_t n, float *x) {
    ug_rng_normal(rng, x, n * d->D);
    for (int64_t i = 0; i < n * d->D; i++) x[i] = (float)(d->mean[i % d->D] + d->std * x[i]);
}

static void *gd_create(const ug_create_args *a, ug_error *err) {
    gauss_data *d = calloc(1, sizeof *d);
    if (!d) {
        ug_error_set(err, UG_ERR_NOMEM, "test_gauss: out of memory");
        return NULL;
    }
    d->D = ug_cfg_int(a->cfg, "dim", 2);
    d->std = ug_cfg_float(a->cfg, "std", 1.0);
    d->n_heldout = ug_cfg_int(a->cfg, "heldout_size", 1000);
    double m[TB_MAX_D];
    int nm = ug_cfg_floats(a->cfg, "mean", m, TB_MAX_D);
    if ((nm > 0 && nm != d->D) || !(d->std > 0)) {
        ug_error_set(err, UG_ERR_ARG, "test_gauss: mean has %d values for dim %lld, std %g", nm, (long long)d->D, d->std);
        free(d);
        return NULL;
    }
    for (int64_t i = 0; i < d->D; i++) d->mean[i] = nm > 0 ? m[i] : 0.0;
    if (!(d->heldout = malloc((size_t)(d->n_heldout * d->D) * sizeof(float)))) {
        ug_error_set(err, UG_ERR_NOMEM, "test_gauss: out of memory");
        free(d);
        return NULL;
    }
    ug_rng r = ug_rng_make((uint64_t)ug_cfg_int(a->cfg, "heldout_seed", 7), 98);
    draw_gauss(d, &r, d->n_heldout, d->heldout);
    return d;
}

static void gd_destroy(void *self) {
    gauss_data *d = self;
    if (d) free(d->heldout);
    free(d);
}

static void gd_info(void *self, ug_dataset_info *out) {
    gauss_data *d = self;
    uint32_t size = out->size;
    memset(out, 0, sizeof *out);
    out->size = size;
    out->space.kind = UG_SPACE_CONTINUOUS;
    out->space.dim = d->D;
    out->train_size = -1;
    out->heldout_size = d->n_heldout;
}

static ug_status gd_fresh(void *self, ug_ctx *ctx, ug_rng *rng, int64_t n, ug_tensor **out) {
    gauss_data *d = self;
    *out = n > 0 ? ug_new2(ctx, n, d->D) : NULL;   // [n, D]
    if (!*out) return ug_ctx_status(ctx) ? ug_ctx_status(ctx) : ug_ctx_fail(ctx, UG_ERR_ARG, "test_gauss: count %lld", (long long)n);
    draw_gauss(d, rng, n, ug_f32(*out));
    return UG_OK;
}

static ug_status gd_train_batch(void *self, ug_ctx *ctx, ug_rng *rng, int64_t batch, int64_t step, ug_tensor **out) {
    (void)step;
    return gd_fresh(self, ctx, rng, batch, out);
}

static ug_status gd_heldout(void *self, ug_ctx *ctx, int64_t offset, int64_t count, ug_tensor **out) {
    gauss_data *d = self;
    *out = NULL;
    if (offset < 0 || count <= 0 || offset + count > d->n_heldout)
        return ug_ctx_fail(ctx, UG_ERR_ARG, "test_gauss.heldout: rows out of range");
    int64_t shape[2] = {count, d->D};
    *out = ug_from_f32(ctx, d->heldout + offset * d->D, 2, shape);   // [count, D]
    return *out ? UG_OK : ug_ctx_status(ctx);
}

/* Its log density, the dataset's log_reward (the sampling setting of §2.3 with a known target):
 * tests/test_score_sde.c trains db with reward: data against it. */
static ug_tensor *gd_log_reward(void *self, ug_ctx *ctx, ug_tensor *x) {
    gauss_data *d = self;
    float mu[TB_MAX_D];
    for (int64_t i = 0; i < d->D; i++) mu[i] = (float)d->mean[i];
    int64_t sh[2] = {1, d->D};
    return ug_normal_log_prob(ctx, x, ug_from_f32(ctx, mu, 2, sh), ug_scalar(ctx, (float)log(d->std)));
}

static const ug_param_spec gd_params[] = {
    {"dim", UG_P_INT, "2", UG_P_MIN | UG_P_MAX, 1, TB_MAX_D, NULL, "dimension D"},
    {"mean", UG_P_FLOAT_LIST, "[]", 0, 0, 0, NULL, "the mean; [] = 0"},
    {"std", UG_P_FLOAT, "1", UG_P_MIN | UG_P_MIN_OPEN, 0, 0, NULL, "standard deviation of every coordinate"},
    {"heldout_size", UG_P_INT, "1000", UG_P_MIN | UG_P_MAX, 1, UG_BOUND_COUNT, NULL, "held-out rows"},
    {"heldout_seed", UG_P_INT, "7", UG_P_MIN | UG_P_MAX, 0, UG_BOUND_SEED, NULL, "seed of the held-out rows"},
    {NULL, 0, NULL, 0, 0, 0, NULL, NULL},
};

static const ug_dataset_vtable gd_vt = {
    .size = sizeof(ug_dataset_vtable),
    .info = gd_info,
    .train_batch = gd_train_batch,
    .heldout = gd_heldout,
    .sample_true = gd_fresh,
    .log_reward = gd_log_reward,
};

static const ug_plugin_desc gd_desc = {
    UG_DESC_HEADER(UG_KIND_DATASET),
    .name = "test_gauss",
    .version = "1.0",
    .summary = "TEST ONLY: an isotropic Gaussian in R^D",
    .params = gd_params,
    .create = gd_create,
    .destroy = gd_destroy,
    .vtable = &gd_vt,
};

/* ================================ categorical dataset ================================ */

typedef struct cats_data {
    int64_t D, K, n_heldout;
    double stay;
    float *heldout;
} cats_data;

/* log P(x_0 = v) = log((v + 1) / (K (K + 1) / 2)); log P(x_i = w | x_{i-1} = v). */
static double cats_first(const cats_data *d, int64_t v) { return log((double)(v + 1) / ((double)d->K * (double)(d->K + 1) / 2.0)); }
static double cats_next(const cats_data *d, int64_t v, int64_t w) { return log((v == w ? d->stay : 0.0) + (1.0 - d->stay) / (double)d->K); }

static void draw_cats(const cats_data *d, ug_rng *rng, int64_t n, float *x) {
    for (int64_t r = 0; r < n; r++) {
        float u;
        ug_rng_uniform(rng, &u, 1);
        double c = 0.0;
        int64_t v = d->K - 1;
        for (int64_t k = 0; k < d->K; k++)
            if ((double)u < (c += exp(cats_first(d, k)))) {
                v = k;
                break;
            }
        x[r * d->D] = (float)v;
        for (int64_t i = 1; i < d->D; i++) {
            ug_rng_uniform(rng, &u, 1);
            if ((double)u >= d->stay) v = ug_rng_randint(rng, d->K);
            x[r * d->D + i] = (float)v;
        }
    }
}

static void *cd_create(const ug_create_args *a, ug_error *err) {
    cats_data *d = calloc(1, sizeof *d);
    if (!d) {
        ug_error_set(err, UG_ERR_NOMEM, "test_cats: out of memory");
        return NULL;
    }
    d->D = ug_cfg_int(a->cfg, "dim", 4);
    d->K = ug_cfg_int(a->cfg, "categories", 3);
    d->stay = ug_cfg_float(a->cfg, "stay", 0.6);
    d->n_heldout = ug_cfg_int(a->cfg, "heldout_size", 1000);
    if (!(d->heldout = malloc((size_t)(d->n_heldout * d->D) * sizeof(float)))) {
        ug_error_set(err, UG_ERR_NOMEM, "test_cats: out of memory");
        free(d);
        return NULL;
    }
    ug_rng r = ug_rng_make((uint64_t)ug_cfg_int(a->cfg, "heldout_seed", 7), 97);
    draw_cats(d, &r, d->n_heldout, d->heldout);
    return d;
}

static void cd_destroy(void *self) {
    cats_data *d = self;
    if (d) free(d->heldout);
    free(d);
}

static void cd_info(void *self, ug_dataset_info *out) {
    cats_data *d = self;
    uint32_t size = out->size;
    memset(out, 0, sizeof *out);
    out->size = size;
    out->space.kind = UG_SPACE_CATEGORICAL;
    out->space.dim = d->D;
    out->space.categories = d->K;
    out->train_size = -1;
    out->heldout_size = d->n_heldout;
}

static ug_status cd_fresh(void *self, ug_ctx *ctx, ug_rng *rng, int64_t n, ug_tensor **out) {
    cats_data *d = self;
    *out = n > 0 ? ug_new2(ctx, n, d->D) : NULL;   // [n, D]
    if (!*out) return ug_ctx_status(ctx) ? ug_ctx_status(ctx) : ug_ctx_fail(ctx, UG_ERR_ARG, "test_cats: count %lld", (long long)n);
    draw_cats(d, rng, n, ug_f32(*out));
    return UG_OK;
}

static ug_status cd_train_batch(void *self, ug_ctx *ctx, ug_rng *rng, int64_t batch, int64_t step, ug_tensor **out) {
    (void)step;
    return cd_fresh(self, ctx, rng, batch, out);
}

static ug_status cd_heldout(void *self, ug_ctx *ctx, int64_t offset, int64_t count, ug_tensor **out) {
    cats_data *d = self;
    *out = NULL;
    if (offset < 0 || count <= 0 || offset + count > d->n_heldout)
        return ug_ctx_fail(ctx, UG_ERR_ARG, "test_cats.heldout: rows out of range");
    int64_t shape[2] = {count, d->D};
    *out = ug_from_f32(ctx, d->heldout + offset * d->D, 2, shape);   // [count, D]
    return *out ? UG_OK : ug_ctx_status(ctx);
}

/* The chain's exact log p(x) (normalized: log Z = 0), computed on the host. */
static ug_tensor *cd_log_reward(void *self, ug_ctx *ctx, ug_tensor *x) {
    cats_data *d = self;
    if (!x || x->ndim != 2 || x->shape[1] != d->D || x->dtype != UG_F32) {
        ug_ctx_fail(ctx, UG_ERR_ARG, "test_cats: log_reward wants F32 [B, %lld]", (long long)d->D);
        return NULL;
    }
    int64_t B = x->shape[0];
    float *v = malloc(sizeof(float) * (size_t)(B * d->D)), *lp = malloc(sizeof(float) * (size_t)B);
    ug_tensor *out = NULL;
    if (v && lp && ug_tensor_get(ctx, x, v, B * d->D) == UG_OK) {
        for (int64_t b = 0; b < B; b++) {
            const float *r = v + b * d->D;
            double s = cats_first(d, (int64_t)r[0]);
            for (int64_t i = 1; i < d->D; i++) s += cats_next(d, (int64_t)r[i - 1], (int64_t)r[i]);
            lp[b] = (float)s;
        }
        out = ug_from_f32(ctx, lp, 1, &B);   // [B]
    } else if (!ug_ctx_status(ctx)) {
        ug_ctx_fail(ctx, UG_ERR_NOMEM, "test_cats: out of memory");
    }
    free(v);
    free(lp);
    return out;
}

static const ug_param_spec cd_params[] = {
    {"dim", UG_P_INT, "4", UG_P_MIN | UG_P_MAX, 1, TB_MAX_D, NULL, "number of coordinates D"},
    {"categories", UG_P_INT, "3", UG_P_MIN | UG_P_MAX, 2, TB_MAX_D, NULL, "values K of a coordinate"},
    {"stay", UG_P_FLOAT, "0.6", UG_P_MIN | UG_P_MAX, 0, 1, NULL, "probability that x_i copies x_{i-1} (else uniform)"},
    {"heldout_size", UG_P_INT, "1000", UG_P_MIN | UG_P_MAX, 1, UG_BOUND_COUNT, NULL, "held-out rows"},
    {"heldout_seed", UG_P_INT, "7", UG_P_MIN | UG_P_MAX, 0, UG_BOUND_SEED, NULL, "seed of the held-out rows"},
    {NULL, 0, NULL, 0, 0, 0, NULL, NULL},
};

static const ug_dataset_vtable cd_vt = {
    .size = sizeof(ug_dataset_vtable),
    .info = cd_info,
    .train_batch = cd_train_batch,
    .heldout = cd_heldout,
    .sample_true = cd_fresh,
    .log_reward = cd_log_reward,
};

static const ug_plugin_desc cd_desc = {
    UG_DESC_HEADER(UG_KIND_DATASET),
    .name = "test_cats",
    .version = "1.0",
    .summary = "TEST ONLY: a categorical Markov chain with its exact log p(x)",
    .params = cd_params,
    .create = cd_create,
    .destroy = cd_destroy,
    .vtable = &cd_vt,
};

UG_PLUGIN_EXPORT(&bm_desc, &bd_desc, &gd_desc, &cd_desc)
