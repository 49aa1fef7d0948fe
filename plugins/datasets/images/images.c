/* images.c — the dataset vtable the image plugins share (images.h says what each encoding and
 * batch is), and the module's export: one shared module holding the datasets `digits` and
 * `fashion_mnist`. */
#ifndef UG_PLUGIN
#define UG_PLUGIN
#endif
#include "images.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Philox streams. The held-out set is keyed by heldout_seed, the epochs by the run seed; the top bit
 * keeps the epoch streams apart from the runner's (stream << 40 | step) streams of the same seed. */
#define HELDOUT_STREAM 0x696d67686c64ull   /* "imghld" */
#define EPOCH_STREAM (1ull << 63)

int imgds_read_encoding(imgds *d, const ug_cfg *cfg, ug_error *err) {
    const char *enc = ug_cfg_str(cfg, "encoding", "binary"), *bin = ug_cfg_str(cfg, "binarize", "dynamic");
    if (strcmp(enc, "binary") == 0) d->encoding = IMG_BINARY;
    else if (strcmp(enc, "categorical") == 0) d->encoding = IMG_CATEGORICAL;
    else if (strcmp(enc, "continuous") == 0) d->encoding = IMG_CONTINUOUS;
    else return ug_error_set(err, UG_ERR_ARG, "%s: unknown encoding '%s' (known: binary, categorical, continuous)", d->name, enc);
    if (strcmp(bin, "dynamic") == 0) d->binarize = IMG_DYNAMIC;
    else if (strcmp(bin, "threshold") == 0) d->binarize = IMG_THRESHOLD;
    else return ug_error_set(err, UG_ERR_ARG, "%s: unknown binarize '%s' (known: dynamic, threshold)", d->name, bin);
    d->threshold = ug_cfg_float(cfg, "threshold", 0.5);
    return 0;
}

/* n images (pointers to [D] gray levels) encoded into out [n, D]; rng draws the Bernoulli or
 * dequantization noise (the stochastic encodings only). */
static void encode(const imgds *d, const uint8_t *const *rows, int64_t n, ug_rng *rng, float *out) {
    const int64_t D = d->D;
    const double L = d->levels - 1;
    const double levels = d->levels;
    bool noisy = d->encoding == IMG_CONTINUOUS || (d->encoding == IMG_BINARY && d->binarize == IMG_DYNAMIC);
    if (noisy) ug_rng_uniform(rng, out, n * D);   /* u in [0, 1), overwritten in place below */
    for (int64_t i = 0; i < n; i++) {
        const uint8_t *v = rows[i];
        float *x = out + i * D;
        switch (d->encoding) {
        case IMG_CATEGORICAL:
            for (int64_t j = 0; j < D; j++) x[j] = (float)v[j];
            break;
        case IMG_CONTINUOUS:
            /* in double (v + u is exact there), then nudged by one float step where rounding to float
             * left [v, v + 1) / levels: v = L, u = 1 - 2^-24 would otherwise give 1.0 */
            for (int64_t j = 0; j < D; j++) {
                float y = (float)(((double)v[j] + (double)x[j]) / levels);
                if ((double)y * levels >= v[j] + 1.0) y = nextafterf(y, 0.0f);
                else if ((double)y * levels < v[j]) y = nextafterf(y, 2.0f);
                x[j] = y;
            }
            break;
        default:
            if (d->binarize == IMG_DYNAMIC)   /* u < v/L (exact in double): never at v = 0, always at v = L */
                for (int64_t j = 0; j < D; j++) x[j] = (double)x[j] * L < v[j] ? 1.0f : 0.0f;
            else
                for (int64_t j = 0; j < D; j++) x[j] = v[j] > d->threshold * L ? 1.0f : 0.0f;
        }
    }
}

/* The permutation of epoch e over the training rows (Fisher–Yates on its own stream). */
static void make_perm(imgds *d, int64_t e) {
    ug_rng r = ug_rng_make(d->seed, EPOCH_STREAM | (uint64_t)e);
    for (int64_t i = 0; i < d->n_train; i++) d->perm[i] = i;
    for (int64_t i = d->n_train - 1; i > 0; i--) {
        int64_t j = ug_rng_randint(&r, i + 1), t = d->perm[i];
        d->perm[i] = d->perm[j], d->perm[j] = t;
    }
    d->perm_epoch = e;
}

int imgds_finish(imgds *d, uint64_t heldout_seed, ug_error *err) {
    d->perm = malloc((size_t)d->n_train * sizeof *d->perm);
    d->heldout = malloc((size_t)(d->n_test * d->D) * sizeof *d->heldout);
    const uint8_t **rows = malloc((size_t)d->n_test * sizeof *rows);
    if (!d->perm || !d->heldout || !rows) {
        free(rows);
        return ug_error_set(err, UG_ERR_NOMEM, "%s: out of memory for %lld training and %lld held-out images", d->name,
                            (long long)d->n_train, (long long)d->n_test);
    }
    d->perm_epoch = -1;
    for (int64_t i = 0; i < d->n_test; i++) rows[i] = d->test + i * d->D;
    ug_rng hr = ug_rng_make(heldout_seed, HELDOUT_STREAM);
    encode(d, rows, d->n_test, &hr, d->heldout);
    free(rows);
    return 0;
}

void imgds_free(imgds *d) {
    if (!d) return;
    free(d->train);
    free(d->test);
    free(d->heldout);
    free(d->perm);
    free(d);
}

static void img_info(void *self, ug_dataset_info *out) {
    imgds *d = self;
    uint32_t size = out->size;
    memset(out, 0, sizeof *out);
    out->size = size;
    out->space.kind = d->encoding == IMG_BINARY ? UG_SPACE_BINARY
                    : d->encoding == IMG_CATEGORICAL ? UG_SPACE_CATEGORICAL : UG_SPACE_CONTINUOUS;
    out->space.dim = d->D;
    out->space.categories = d->encoding == IMG_BINARY ? 2 : d->encoding == IMG_CATEGORICAL ? d->levels : 0;
    out->space.shape[0] = 1, out->space.shape[1] = d->H, out->space.shape[2] = d->W;
    out->train_size = d->n_train;
    out->heldout_size = d->n_test;
    out->decoded_dim = (int32_t)d->D;   /* pixel intensities in [0, 1] */
}

/* rows [n] -> a fresh [n, D] tensor in the step arena */
static ug_status emit(imgds *d, ug_ctx *ctx, const uint8_t **rows, int64_t n, ug_rng *rng, ug_tensor **out) {
    float *xh = ug_arena_alloc(ctx, (size_t)(n * d->D) * sizeof(float));   // [n, D] on the host
    ug_tensor *x = xh ? ug_new2(ctx, n, d->D) : NULL;                       // [n, D]
    if (!x) return ug_ctx_fail(ctx, UG_ERR_NOMEM, "%s: no memory for %lld images", d->name, (long long)n);
    encode(d, rows, n, rng, xh);
    ug_status st = ug_tensor_set(ctx, x, xh, n * d->D);
    if (st) return st;
    *out = x;
    return UG_OK;
}

static ug_status img_train_batch(void *self, ug_ctx *ctx, ug_rng *rng, int64_t batch, int64_t step, ug_tensor **out) {
    imgds *d = self;
    *out = NULL;
    if (batch <= 0 || step < 0)
        return ug_ctx_fail(ctx, UG_ERR_ARG, "%s.train_batch: needs batch >= 1 and step >= 0, got batch %lld, step %lld",
                           d->name, (long long)batch, (long long)step);
    const uint8_t **rows = ug_arena_alloc(ctx, (size_t)batch * sizeof *rows);
    if (!rows) return ug_ctx_fail(ctx, UG_ERR_NOMEM, "%s.train_batch: no memory for %lld rows", d->name, (long long)batch);
    /* row i of step s is position s*B + i of the endless sequence of epochs (s < 2^34, B < 2^24: no overflow) */
    for (int64_t i = 0; i < batch; i++) {
        int64_t p = step * batch + i, e = p / d->n_train;
        if (e != d->perm_epoch) make_perm(d, e);
        rows[i] = d->train + d->perm[p % d->n_train] * d->D;
    }
    return emit(d, ctx, rows, batch, rng, out);
}

static ug_status img_heldout(void *self, ug_ctx *ctx, int64_t offset, int64_t count, ug_tensor **out) {
    imgds *d = self;
    *out = NULL;
    if (offset < 0 || count <= 0 || offset > d->n_test - count)
        return ug_ctx_fail(ctx, UG_ERR_ARG, "%s.heldout: rows [%lld, %lld) outside the held-out set of %lld", d->name,
                           (long long)offset, (long long)(offset + count), (long long)d->n_test);
    int64_t shape[2] = {count, d->D};
    *out = ug_from_f32(ctx, d->heldout + offset * d->D, 2, shape);   // [count, D]
    return *out ? UG_OK : ug_ctx_status(ctx);
}

static ug_status img_sample_true(void *self, ug_ctx *ctx, ug_rng *rng, int64_t count, ug_tensor **out) {
    imgds *d = self;
    *out = NULL;
    if (count <= 0) return ug_ctx_fail(ctx, UG_ERR_ARG, "%s.sample_true: count must be positive, got %lld", d->name, (long long)count);
    const uint8_t **rows = ug_arena_alloc(ctx, (size_t)count * sizeof *rows);
    if (!rows) return ug_ctx_fail(ctx, UG_ERR_NOMEM, "%s.sample_true: no memory for %lld rows", d->name, (long long)count);
    for (int64_t i = 0; i < count; i++) rows[i] = d->test + ug_rng_randint(rng, d->n_test) * d->D;
    return emit(d, ctx, rows, count, rng, out);
}

/* x [B, D] -> intensities [B, D] in [0, 1]: binary and continuous as they are, categorical v / (K - 1). */
static ug_status img_decode(void *self, ug_ctx *ctx, ug_tensor *x, ug_tensor **out) {
    imgds *d = self;
    *out = NULL;
    char buf[64];
    if (!x || x->ndim != 2 || x->shape[1] != d->D || x->dtype != UG_F32)
        return ug_ctx_fail(ctx, UG_ERR_ARG, "%s.decode: expected x [B, %lld] f32, got %s", d->name, (long long)d->D,
                           x ? ug_shape_str(x, buf, sizeof buf) : "NULL");
    ug_tensor *y = d->encoding == IMG_CATEGORICAL ? ug_mul_scalar(ctx, x, 1.0f / (float)(d->levels - 1)) : ug_contiguous(ctx, x);
    if (!y) return ug_ctx_status(ctx);
    *out = y;   // [B, D]
    return UG_OK;
}

const ug_dataset_vtable imgds_vtable = {
    .size = sizeof(ug_dataset_vtable),
    .info = img_info,
    .train_batch = img_train_batch,
    .heldout = img_heldout,
    .sample_true = img_sample_true,
    .decode = img_decode,
};

extern const ug_plugin_desc digits_desc, fashion_mnist_desc;
UG_PLUGIN_EXPORT(&digits_desc, &fashion_mnist_desc)
