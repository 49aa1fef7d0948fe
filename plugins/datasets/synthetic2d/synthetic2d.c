/* synthetic2d.c — the dataset plugin of the 2-D toy tasks (paper §4.2): online training batches, a
 * fixed held-out set drawn from its own seed, fresh true samples for MMD, and Gray-code decoding.
 *
 * encoding gray32: x is the 32-bit Gray code of toy2d.h (binary space, D = 32), as in EB-GFN.
 * encoding continuous: x is the raw point (continuous space, D = 2) for the continuous families. */
#ifndef UG_PLUGIN
#define UG_PLUGIN
#endif
#include "unigfn/plugin.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "toy2d.h"

/* Philox stream of the held-out set: any constant works, it only has to differ from nothing else
 * that uses heldout_seed as a key. */
#define HELDOUT_STREAM 0x68656c64ull   /* "held" */

typedef struct s2d {
    int kind;
    bool gray;
    double int_scale;
    int64_t dim;          /* 32 (gray32) or 2 (continuous) */
    int64_t n_heldout;
    float *heldout;       /* [n_heldout, dim], made once at create */
    int64_t clipped;      /* coordinates clipped to the largest code since create */
} s2d;

static void note_clipped(s2d *d, int64_t c) {
    if (c <= 0) return;
    if (d->clipped == 0)
        ug_message(UG_LOG_WARN,
                   "synthetic2d(%s): %lld coordinate(s) beyond ±%.4f clipped to the largest Gray code "
                   "(warned once; the total is reported when the dataset is destroyed)",
                   toy2d_name(d->kind), (long long)c, (double)(GRAY_MAX_MAG + 1u) / d->int_scale);
    d->clipped += c;
}

/* n points of the distribution into x [n, dim] (scratch for the points comes from `pts`). */
static int draw(s2d *d, ug_rng *rng, int64_t n, float *pts, float *x) {
    if (!d->gray) return toy2d_sample(d->kind, rng, n, x);
    if (toy2d_sample(d->kind, rng, n, pts)) return -1;
    note_clipped(d, gray32_encode(pts, n, d->int_scale, x));
    return 0;
}

/* A fresh [n, dim] tensor of true samples in the step arena (drawn on the host, then copied in). */
static ug_status draw_tensor(s2d *d, ug_ctx *ctx, ug_rng *rng, int64_t n, const char *what, ug_tensor **out) {
    *out = NULL;
    if (n <= 0) return ug_ctx_fail(ctx, UG_ERR_ARG, "synthetic2d.%s: count must be positive, got %lld", what, (long long)n);
    ug_tensor *x = ug_new2(ctx, n, d->dim);   // [n, D]
    float *xh = ug_arena_alloc(ctx, (size_t)(n * d->dim) * sizeof(float));                // [n, D] on the host
    float *pts = d->gray ? ug_arena_alloc(ctx, (size_t)n * 2 * sizeof(float)) : NULL;   // [n, 2]
    if (!x || !xh || (d->gray && !pts))
        return ug_ctx_fail(ctx, UG_ERR_NOMEM, "synthetic2d.%s: no memory for %lld rows", what, (long long)n);
    if (draw(d, rng, n, pts, xh)) return ug_ctx_fail(ctx, UG_ERR_NOMEM, "synthetic2d.%s: generator failed", what);
    ug_status st = ug_tensor_set(ctx, x, xh, n * d->dim);
    if (st) return st;
    *out = x;
    return UG_OK;
}

static void s2d_info(void *self, ug_dataset_info *out) {
    s2d *d = self;
    uint32_t size = out->size;
    memset(out, 0, sizeof *out);
    out->size = size;
    out->space.kind = d->gray ? UG_SPACE_BINARY : UG_SPACE_CONTINUOUS;
    out->space.dim = d->dim;
    out->space.categories = d->gray ? 2 : 0;
    out->train_size = -1;
    out->heldout_size = d->n_heldout;
    out->decoded_dim = 2;
}

static ug_status s2d_train_batch(void *self, ug_ctx *ctx, ug_rng *rng, int64_t batch, int64_t step, ug_tensor **out) {
    (void)step;   /* online: every call is a fresh draw from the runner's stream */
    return draw_tensor(self, ctx, rng, batch, "train_batch", out);
}

static ug_status s2d_sample_true(void *self, ug_ctx *ctx, ug_rng *rng, int64_t count, ug_tensor **out) {
    return draw_tensor(self, ctx, rng, count, "sample_true", out);
}

static ug_status s2d_heldout(void *self, ug_ctx *ctx, int64_t offset, int64_t count, ug_tensor **out) {
    s2d *d = self;
    *out = NULL;
    if (offset < 0 || count <= 0 || offset > d->n_heldout - count)
        return ug_ctx_fail(ctx, UG_ERR_ARG, "synthetic2d.heldout: rows [%lld, %lld) outside the held-out set of %lld",
                           (long long)offset, (long long)(offset + count), (long long)d->n_heldout);
    int64_t shape[2] = {count, d->dim};
    *out = ug_from_f32(ctx, d->heldout + offset * d->dim, 2, shape);   // [count, D]
    return *out ? UG_OK : ug_ctx_status(ctx);
}

static ug_status s2d_decode(void *self, ug_ctx *ctx, ug_tensor *x, ug_tensor **out) {
    s2d *d = self;
    *out = NULL;
    char buf[64];
    if (!x || x->ndim != 2 || x->shape[1] != d->dim || x->dtype != UG_F32)
        return ug_ctx_fail(ctx, UG_ERR_ARG, "synthetic2d.decode: expected x [B, %lld] f32, got %s", (long long)d->dim,
                           x ? ug_shape_str(x, buf, sizeof buf) : "NULL");
    if (!d->gray) {
        ug_tensor *xc = ug_contiguous(ctx, x);   // [B, D]: continuous, the points themselves
        if (!xc) return ug_ctx_status(ctx);
        *out = xc;
        return UG_OK;
    }
    const int64_t B = x->shape[0];
    float *bits = ug_arena_alloc(ctx, (size_t)(B * d->dim) * sizeof(float));   // [B, D] on the host
    float *pts = ug_arena_alloc(ctx, (size_t)(B * 2) * sizeof(float));        // [B, 2] on the host
    if (!bits || !pts) return ug_ctx_status(ctx);
    ug_status st = ug_tensor_get(ctx, x, bits, B * d->dim);
    if (st) return st;
    gray32_decode(bits, B, d->int_scale, pts);
    int64_t shape[2] = {B, 2};
    *out = ug_from_f32(ctx, pts, 2, shape);   // [B, 2]
    return *out ? UG_OK : ug_ctx_status(ctx);
}

static void s2d_destroy(void *self) {
    s2d *d = self;
    if (!d) return;
    if (d->clipped > 0)
        ug_message(UG_LOG_INFO, "synthetic2d(%s): %lld coordinate(s) clipped in total", toy2d_name(d->kind),
                   (long long)d->clipped);
    free(d->heldout);
    free(d);
}

static void *s2d_create(const ug_create_args *a, ug_error *err) {
    const char *data = ug_cfg_str(a->cfg, "data", NULL);
    const char *enc = ug_cfg_str(a->cfg, "encoding", "gray32");
    int kind = toy2d_from_name(data);
    if (kind < 0) {
        ug_error_set(err, UG_ERR_ARG, "synthetic2d: unknown data '%s' (known: %s)", data ? data : "(none)", TOY2D_CHOICES);
        return NULL;
    }
    if (strcmp(enc, "gray32") != 0 && strcmp(enc, "continuous") != 0) {
        ug_error_set(err, UG_ERR_ARG, "synthetic2d: unknown encoding '%s' (known: gray32, continuous)", enc);
        return NULL;
    }
    int64_t n = ug_cfg_int(a->cfg, "heldout_size", 4000);
    if (n < 1) {
        ug_error_set(err, UG_ERR_ARG, "synthetic2d: heldout_size must be >= 1, got %lld", (long long)n);
        return NULL;
    }
    s2d *d = calloc(1, sizeof *d);
    if (!d) {
        ug_error_set(err, UG_ERR_NOMEM, "synthetic2d: out of memory");
        return NULL;
    }
    d->kind = kind;
    d->gray = strcmp(enc, "gray32") == 0;
    d->int_scale = toy2d_int_scale(kind);
    d->dim = d->gray ? 32 : 2;
    d->n_heldout = n;
    d->heldout = malloc((size_t)n * (size_t)d->dim * sizeof(float));
    float *pts = d->gray ? malloc((size_t)n * 2 * sizeof(float)) : NULL;
    /* its own key: the same held-out set for every run seed, so runs compare on the same points */
    ug_rng hr = ug_rng_make((uint64_t)ug_cfg_int(a->cfg, "heldout_seed", 12345), HELDOUT_STREAM);
    if (!d->heldout || (d->gray && !pts) || draw(d, &hr, n, pts, d->heldout)) {
        free(pts);
        s2d_destroy(d);
        ug_error_set(err, UG_ERR_NOMEM, "synthetic2d: out of memory for %lld held-out rows", (long long)n);
        return NULL;
    }
    free(pts);
    return d;
}

static const ug_param_spec s2d_params[] = {
    {"data", UG_P_ENUM, NULL, UG_P_REQUIRED, 0, 0, TOY2D_CHOICES, "which 2-D distribution"},
    {"encoding", UG_P_ENUM, "gray32", 0, 0, 0, "gray32|continuous",
     "gray32: 32-bit sign+Gray code (binary, D=32); continuous: the raw point (D=2)"},
    {"heldout_size", UG_P_INT, "4000", UG_P_MIN | UG_P_MAX, 1, UG_BOUND_COUNT, NULL, "rows of the fixed held-out set"},
    {"heldout_seed", UG_P_INT, "12345", UG_P_MIN | UG_P_MAX, 0, UG_BOUND_SEED, NULL, "seed of the held-out set (independent of the run seed)"},
    {NULL, 0, NULL, 0, 0, 0, NULL, NULL},
};

static const ug_dataset_vtable s2d_vt = {
    .size = sizeof(ug_dataset_vtable),
    .info = s2d_info,
    .train_batch = s2d_train_batch,
    .heldout = s2d_heldout,
    .sample_true = s2d_sample_true,
    .decode = s2d_decode,
};

static const ug_plugin_desc s2d_desc = {
    UG_DESC_HEADER(UG_KIND_DATASET),
    .name = "synthetic2d",
    .version = "1.0",
    .summary = "2-D toy distributions of EB-GFN (2spirals, 8gaussians, ...), online, 32-bit Gray coded or raw",
    .params = s2d_params,
    .create = s2d_create,
    .destroy = s2d_destroy,
    .vtable = &s2d_vt,
};

UG_PLUGIN_EXPORT(&s2d_desc)
