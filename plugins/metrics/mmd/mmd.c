/* mmd.c — maximum mean discrepancy between model samples and fresh true samples (REPRODUCTION.md §4).
 *
 * Unbiased estimator: MMD² = mean_{i≠j} k(x_i,x_j) + mean_{i≠j} k(y_i,y_j) − 2 mean_{i,j} k(x_i,y_j),
 * with k = exp(−bandwidth · d): d = Hamming distance on binary/categorical vectors (EB-GFN's kernel,
 * bandwidth 0.1), d = squared Euclidean distance on continuous ones. Each of `groups` groups draws
 * `samples` model samples and `samples` true samples; `mmd` is the mean over groups and `mmd_sd` the
 * sample standard deviation over groups, both in units of 1e-4 (the value reported is MMD²/1e-4).
 *
 * Binary vectors are packed into 64-bit words and compared with popcount; pairs are counted per Hamming
 * distance and the kernel applied once per distance, so the sums are exact integer counts.
 * The step arena is reset after each sampling chunk: callers must not hold arena tensors across evaluate(). */
#define UG_PLUGIN
#include "unigfn/plugin.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct mmd {
    int64_t groups, samples, chunk;
    double bandwidth;
} mmd;

static void *mmd_create(const ug_create_args *a, ug_error *err) {
    mmd *m = calloc(1, sizeof *m);
    if (!m) {
        ug_error_set(err, UG_ERR_NOMEM, "mmd: out of memory");
        return NULL;
    }
    m->groups = ug_cfg_int(a->cfg, "groups", 10);
    m->samples = ug_cfg_int(a->cfg, "samples", 4000);
    m->chunk = ug_cfg_int(a->cfg, "chunk", 2000);
    m->bandwidth = ug_cfg_float(a->cfg, "bandwidth", 0.1);
    if (m->groups < 1 || m->samples < 2 || m->chunk < 1 || !(m->bandwidth > 0.0)) {
        ug_error_set(err, UG_ERR_ARG, "mmd: needs groups >= 1, samples >= 2, chunk >= 1, bandwidth > 0");
        free(m);
        return NULL;
    }
    return m;
}

static void mmd_destroy(void *self) { free(self); }

/* Copy a [B, D] tensor into host rows at dst. */
static ug_status copy_rows(ug_ctx *ctx, ug_tensor *t, int64_t B, int64_t D, const char *what, float *dst) {
    if (!t || ug_numel(t) != B * D || t->dtype != UG_F32)
        return ug_ctx_status(ctx) ? ug_ctx_status(ctx)
                                  : ug_ctx_fail(ctx, UG_ERR_ARG, "mmd: %s is not [%lld, %lld] f32", what, (long long)B, (long long)D);
    return ug_tensor_get(ctx, t, dst, B * D);
}

/* n model samples (forward from s0, grad off) into x [n, D], `chunk` at a time. */
static ug_status model_samples(const mmd *m, const ug_eval_env *env, int64_t n, float *x) {
    const ug_model *mod = env->model;
    int64_t D = mod->info.space.dim;
    for (int64_t off = 0; off < n; off += m->chunk) {
        int64_t B = n - off < m->chunk ? n - off : m->chunk;
        ug_traj_req req = {.size = sizeof req, .batch = B, .steps = -1, .flags = UG_TRAJ_NO_PB};
        ug_traj tr = {.size = sizeof tr};
        ug_status st = mod->vt->sample_forward(mod->self, env->ctx, env->rng, &req, &tr);
        if (!st) st = copy_rows(env->ctx, tr.last, B, D, "a model sample batch", x + off * D);
        ug_step_reset(env->ctx);
        if (st) return st;
    }
    return UG_OK;
}

static ug_status true_samples(const mmd *m, const ug_eval_env *env, int64_t n, float *y) {
    const ug_dataset *data = env->data;
    int64_t D = data->info.space.dim;
    for (int64_t off = 0; off < n; off += m->chunk) {
        int64_t B = n - off < m->chunk ? n - off : m->chunk;
        ug_tensor *t = NULL;
        ug_status st = data->vt->sample_true(data->self, env->ctx, env->rng, B, &t);
        if (!st) st = copy_rows(env->ctx, t, B, D, "a true sample batch", y + off * D);
        ug_step_reset(env->ctx);
        if (st) return st;
    }
    return UG_OK;
}

/* ---- kernel sums -------------------------------------------------------------------------- */

/* Binary rows -> W 64-bit words each (bit = value > 0.5). */
static void pack_bits(const float *x, int64_t n, int64_t D, int64_t W, uint64_t *out) {
    memset(out, 0, (size_t)(n * W) * sizeof(uint64_t));
    for (int64_t i = 0; i < n; i++)
        for (int64_t d = 0; d < D; d++)
            if (x[i * D + d] > 0.5f) out[i * W + d / 64] |= 1ull << (d % 64);
}

static inline int64_t hamming_words(const uint64_t *a, const uint64_t *b, int64_t W) {
    int64_t h = 0;
    for (int64_t w = 0; w < W; w++) h += __builtin_popcountll(a[w] ^ b[w]);
    return h;
}

/* Σ k over pairs (i < j within one set when b == NULL, all i, j across sets otherwise), binary. */
static double ksum_binary(const uint64_t *a, int64_t na, const uint64_t *b, int64_t nb, int64_t W,
                          const double *table, int64_t *counts, int64_t D) {
    memset(counts, 0, (size_t)(D + 1) * sizeof(int64_t));
    if (W == 1) {   /* the 2-D tasks (D = 32): one word per vector */
        for (int64_t i = 0; i < na; i++) {
            uint64_t ai = a[i];
            if (b)
                for (int64_t j = 0; j < nb; j++) counts[__builtin_popcountll(ai ^ b[j])]++;
            else
                for (int64_t j = i + 1; j < na; j++) counts[__builtin_popcountll(ai ^ a[j])]++;
        }
    } else {
        for (int64_t i = 0; i < na; i++) {
            if (b)
                for (int64_t j = 0; j < nb; j++) counts[hamming_words(a + i * W, b + j * W, W)]++;
            else
                for (int64_t j = i + 1; j < na; j++) counts[hamming_words(a + i * W, a + j * W, W)]++;
        }
    }
    double s = 0.0;
    for (int64_t h = 0; h <= D; h++) s += (double)counts[h] * table[h];
    return s;
}

/* The same for categorical (Hamming over coordinates) or continuous (squared distance) rows. */
static double ksum_dense(const float *a, int64_t na, const float *b, int64_t nb, int64_t D, bool cont,
                         double bw, const double *table) {
    double s = 0.0;
    for (int64_t i = 0; i < na; i++) {
        const float *ai = a + i * D;
        int64_t j0 = b ? 0 : i + 1, nj = b ? nb : na;
        const float *base = b ? b : a;
        for (int64_t j = j0; j < nj; j++) {
            const float *bj = base + j * D;
            if (cont) {
                double d2 = 0.0;
                for (int64_t d = 0; d < D; d++) d2 += ((double)ai[d] - bj[d]) * ((double)ai[d] - bj[d]);
                s += exp(-bw * d2);
            } else {
                int64_t h = 0;
                for (int64_t d = 0; d < D; d++) h += ai[d] != bj[d];
                s += table[h];
            }
        }
    }
    return s;
}

typedef struct mmd_work {
    int64_t n, D, W;
    uint32_t kind;
    double bw;
    double *table;     /* [D+1] exp(−bw·h) */
    int64_t *counts;   /* [D+1] */
    uint64_t *px, *py; /* [n, W] packed binary rows */
} mmd_work;

static double mmd2(mmd_work *w, const float *x, const float *y) {
    double n = (double)w->n, kxx, kyy, kxy;
    if (w->kind == UG_SPACE_BINARY) {
        pack_bits(x, w->n, w->D, w->W, w->px);
        pack_bits(y, w->n, w->D, w->W, w->py);
        kxx = ksum_binary(w->px, w->n, NULL, 0, w->W, w->table, w->counts, w->D);
        kyy = ksum_binary(w->py, w->n, NULL, 0, w->W, w->table, w->counts, w->D);
        kxy = ksum_binary(w->px, w->n, w->py, w->n, w->W, w->table, w->counts, w->D);
    } else {
        bool cont = w->kind == UG_SPACE_CONTINUOUS;
        kxx = ksum_dense(x, w->n, NULL, 0, w->D, cont, w->bw, w->table);
        kyy = ksum_dense(y, w->n, NULL, 0, w->D, cont, w->bw, w->table);
        kxy = ksum_dense(x, w->n, y, w->n, w->D, cont, w->bw, w->table);
    }
    /* within-set sums ran over i < j: twice that is the off-diagonal sum */
    return 2.0 * kxx / (n * (n - 1.0)) + 2.0 * kyy / (n * (n - 1.0)) - 2.0 * kxy / (n * n);
}

static ug_status mmd_evaluate(void *self, const ug_eval_env *env, ug_metric_out *out) {
    const mmd *m = self;
    ug_ctx *ctx = env->ctx;
    const ug_space *ms = &env->model->info.space, *ds = &env->data->info.space;
    if (ms->kind != ds->kind || ms->dim != ds->dim)
        return ug_ctx_fail(ctx, UG_ERR_ARG, "mmd: the model's space (kind %u, D=%lld) differs from the dataset's (kind %u, D=%lld)",
                           ms->kind, (long long)ms->dim, ds->kind, (long long)ds->dim);
    mmd_work w = {.n = m->samples, .D = ds->dim, .W = (ds->dim + 63) / 64, .kind = ds->kind, .bw = m->bandwidth};
    int64_t n = w.n, D = w.D;
    float *x = malloc((size_t)(n * D) * sizeof(float)), *y = malloc((size_t)(n * D) * sizeof(float));
    double *vals = malloc((size_t)m->groups * sizeof(double));
    w.table = malloc((size_t)(D + 1) * sizeof(double));
    w.counts = malloc((size_t)(D + 1) * sizeof(int64_t));
    bool bin = w.kind == UG_SPACE_BINARY;
    w.px = bin ? malloc((size_t)(n * w.W) * sizeof(uint64_t)) : NULL;
    w.py = bin ? malloc((size_t)(n * w.W) * sizeof(uint64_t)) : NULL;
    ug_status st = UG_OK;
    if (!x || !y || !vals || !w.table || !w.counts || (bin && (!w.px || !w.py)))
        st = ug_ctx_fail(ctx, UG_ERR_NOMEM, "mmd: out of memory for %lld samples of dimension %lld", (long long)n, (long long)D);
    else
        for (int64_t h = 0; h <= D; h++) w.table[h] = exp(-m->bandwidth * (double)h);
    bool grad = ug_set_grad_enabled(ctx, false);
    for (int64_t g = 0; !st && g < m->groups; g++) {
        if ((st = model_samples(m, env, n, x)) || (st = true_samples(m, env, n, y))) break;
        vals[g] = mmd2(&w, x, y) / 1e-4;
    }
    ug_set_grad_enabled(ctx, grad);
    if (!st) {
        double mean = 0.0, ss = 0.0;
        for (int64_t g = 0; g < m->groups; g++) mean += vals[g];
        mean /= (double)m->groups;
        for (int64_t g = 0; g < m->groups; g++) ss += (vals[g] - mean) * (vals[g] - mean);
        out->n_values = 0;
        out->keys[out->n_values] = "mmd", out->values[out->n_values++] = mean;
        out->keys[out->n_values] = "mmd_sd", out->values[out->n_values++] = m->groups > 1 ? sqrt(ss / (double)(m->groups - 1)) : 0.0;
    }
    free(x), free(y), free(vals), free(w.table), free(w.counts), free(w.px), free(w.py);
    return st;
}

static const ug_param_spec mmd_params[] = {
    {"groups", UG_P_INT, "10", UG_P_MIN | UG_P_MAX, 1, UG_BOUND_COUNT, NULL, "independent groups averaged (mmd_sd is their spread)"},
    {"samples", UG_P_INT, "4000", UG_P_MIN | UG_P_MAX, 2, UG_BOUND_COUNT, NULL, "model samples and true samples per group"},
    {"bandwidth", UG_P_FLOAT, "0.1", UG_P_MIN | UG_P_MIN_OPEN, 0, 0, NULL,
     "k = exp(-bandwidth * d), d = Hamming (binary/categorical) or squared distance (continuous)"},
    {"chunk", UG_P_INT, "2000", UG_P_MIN | UG_P_MAX, 1, UG_BOUND_COUNT, NULL, "samples drawn per model call (bounds memory)"},
    {NULL, 0, NULL, 0, 0, 0, NULL, NULL},
};

static const ug_metric_vtable mmd_vt = {.size = sizeof(ug_metric_vtable), .evaluate = mmd_evaluate};

static const ug_plugin_desc mmd_desc = {
    UG_DESC_HEADER(UG_KIND_METRIC),
    .name = "mmd",
    .version = "1.0",
    .summary = "unbiased MMD (x1e-4) of model vs fresh true samples, exp(-0.1 Hamming) kernel, over groups",
    .params = mmd_params,
    .create = mmd_create,
    .destroy = mmd_destroy,
    .vtable = &mmd_vt,
};

UG_PLUGIN_EXPORT(&mmd_desc)
