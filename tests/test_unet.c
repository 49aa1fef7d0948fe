/* test_unet.c — the UNet parts of nn.h: residual block and attention shapes and parameter names, the
 * attention block against a direct loop, UNet output shapes for 8x8 and 28x28 images, its parameter
 * count against a count by hand, gradients w.r.t. a few parameters and w.r.t. t against central
 * differences on a tiny config, and ug_backward filling the group's gradient block. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "unigfn/nn.h"

/* Parameter counts of the parts, as the hand count below adds them up. */
static int64_t n_conv(int64_t k, int64_t i, int64_t o) { return o * i * k * k + o; }
static int64_t n_lin(int64_t i, int64_t o) { return o * i + o; }
static int64_t n_gn(int64_t c) { return 2 * c; }
static int64_t n_res(int64_t i, int64_t o, int64_t t) {
    return n_gn(i) + n_conv(3, i, o) + n_lin(t, o) + n_gn(o) + n_conv(3, o, o) + (i != o ? n_conv(1, i, o) : 0);
}
static int64_t n_attn(int64_t c) { return n_gn(c) + 4 * n_conv(1, c, c); }

static int64_t group_count(ug_params *P, const char *g) {
    int64_t n = 0;
    ug_params_group_info(P, ug_params_group_index(P, g), NULL, NULL, NULL, &n);
    return n;
}

static void test_blocks(void) {
    ug_params *P = ug_params_new();
    ug_rng rng = ug_rng_make(5, 0);
    ug_resblock R, R2;
    ug_attn_block A;
    CHECK(ug_resblock_init(&R, P, "forward", "rb", 8, 16, 12, 4, &rng) == UG_OK &&
              ug_resblock_init(&R2, P, "forward", "rb2", 16, 16, 12, 4, &rng) == UG_OK &&
              ug_attn_block_init(&A, P, "forward", "at", 16, 4, &rng) == UG_OK,
          "block inits: %s", ug_params_errmsg(P));
    ug_params_finalize(P);
    CHECK(R.skip.w && !R2.skip.w && ug_params_find(P, "forward", "rb.skip.w") &&
              !ug_params_find(P, "forward", "rb2.skip.w") && ug_params_find(P, "forward", "at.proj.b"),
          "skip conv only when channels change; names");
    CHECK(group_count(P, "forward") == n_res(8, 16, 12) + n_res(16, 16, 12) + n_attn(16), "block parameter count %lld",
          (long long)group_count(P, "forward"));
    CHECK(((float *)R.gn1_w->data)[3] == 1.0f && ((float *)R.gn1_b->data)[3] == 0.0f, "GroupNorm init 1 / 0");

    ug_ctx *ctx = ug_ctx_new(1 << 20);
    ug_tensor *x = ug_rand_normal(ctx, &rng, 4, (int64_t[]){2, 8, 5, 6});  // [2, 8, 5, 6]
    ug_tensor *e = ug_rand_normal(ctx, &rng, 2, (int64_t[]){2, 12});       // [2, 12]
    ug_tensor *y = ug_resblock_forward(ctx, &R, x, e);                     // [2, 16, 5, 6]
    CHECK(y && y->shape[0] == 2 && y->shape[1] == 16 && y->shape[2] == 5 && y->shape[3] == 6, "resblock shape: %s",
          ug_ctx_errmsg(ctx));
    ug_tensor *z = ug_contiguous(ctx, ug_attn_block_forward(ctx, &A, y));  // [2, 16, 5, 6]
    CHECK(z && z->shape[1] == 16 && z->shape[3] == 6, "attention shape: %s", ug_ctx_errmsg(ctx));

    /* attention against a direct loop on h = GN(y), computed with ug_group_norm (tested elsewhere) */
    ug_tensor *h = ug_contiguous(ctx, ug_group_norm(ctx, y, 4, A.gn_w, A.gn_b, 1e-5f));  // [2, 16, 5, 6]
    const float *hv = ug_f32(h), *yv = ug_f32(ug_contiguous(ctx, y)), *zv = z ? ug_f32(z) : NULL;
    enum { C = 16, L = 30 };
    const ug_conv2d_layer *cv[4] = {&A.q, &A.k, &A.v, &A.proj};
    double worst = 0;
    for (int n = 0; zv && n < 2; n++) {
        static double qkv[3][L][C], o[L][C];
        for (int m = 0; m < 3; m++)
            for (int p = 0; p < L; p++)
                for (int c = 0; c < C; c++) {
                    double s = ((float *)cv[m]->b->data)[c];
                    for (int d = 0; d < C; d++) s += ((float *)cv[m]->w->data)[c * C + d] * hv[(n * C + d) * L + p];
                    qkv[m][p][c] = s;
                }
        for (int i = 0; i < L; i++) {
            double a[L], mx = -INFINITY, Z = 0;
            for (int j = 0; j < L; j++) {
                a[j] = 0;
                for (int c = 0; c < C; c++) a[j] += qkv[0][i][c] * qkv[1][j][c];
                a[j] /= sqrt((double)C);
                mx = fmax(mx, a[j]);
            }
            for (int j = 0; j < L; j++) Z += (a[j] = exp(a[j] - mx));
            for (int c = 0; c < C; c++) {
                o[i][c] = 0;
                for (int j = 0; j < L; j++) o[i][c] += a[j] / Z * qkv[2][j][c];
            }
        }
        for (int c = 0; c < C; c++)
            for (int p = 0; p < L; p++) {
                double s = ((float *)A.proj.b->data)[c];
                for (int d = 0; d < C; d++) s += ((float *)A.proj.w->data)[c * C + d] * o[p][d];
                s += yv[(n * C + c) * L + p];
                worst = fmax(worst, fabs(s - zv[(n * C + c) * L + p]));
            }
    }
    CHECK(worst < 1e-4, "attention matches the direct loop (max err %g)", worst);
    CHECK(ug_resblock_forward(ctx, &R, y, e) == NULL && ug_ctx_status(ctx) == UG_ERR_ARG, "wrong channels refused");
    ug_ctx_clear_error(ctx);
    ug_ctx_free(ctx);
    ug_params_free(P);
}

static void test_unet_shapes(void) {
    /* 28x28, channels 16-32-32, attention at 7: the MNIST shape */
    ug_unet_config c28 = {.in_channels = 1, .out_channels = 1, .base_channels = 16, .n_levels = 3,
                          .ch_mult = {1, 2, 2}, .blocks_per_level = 1, .n_attn = 1, .attn_res = {7},
                          .image_size = 28};
    /* 8x8, channels 8-16, attention at 4: small enough to count by hand */
    ug_unet_config c8 = {.in_channels = 1, .out_channels = 1, .base_channels = 8, .n_levels = 2,
                         .ch_mult = {1, 2}, .blocks_per_level = 1, .n_attn = 1, .attn_res = {4},
                         .image_size = 8, .temb_dim = 16, .groups = 4};
    ug_params *P = ug_params_new();
    ug_rng rng = ug_rng_make(9, 0);
    ug_unet u28, u8;
    CHECK(ug_unet_init(&u28, P, "forward", &c28, &rng) == UG_OK && ug_unet_init(&u8, P, "small", &c8, &rng) == UG_OK,
          "unet init: %s", ug_params_errmsg(P));
    ug_params_finalize(P);
    /* by hand, in the builder's order: temb MLP 8 -> 16 -> 16, conv_in 1 -> 8; level 0 (8x8): res 8 -> 8,
     * downsample; level 1 (4x4): res 8 -> 16, attention; middle: res, attention, res at 16; up level 1:
     * res (16 + 16) -> 16, attention, res (16 + 8) -> 16, attention, upsample conv; up level 0:
     * res (16 + 8) -> 8, res (8 + 8) -> 8; GroupNorm and conv_out 8 -> 1. */
    const int64_t T = 16;
    const int64_t hand = n_lin(8, T) + n_lin(T, T) + n_conv(3, 1, 8) + n_res(8, 8, T) + n_conv(3, 8, 8) +
                         n_res(8, 16, T) + n_attn(16) + 2 * n_res(16, 16, T) + n_attn(16) + n_res(32, 16, T) +
                         n_attn(16) + n_res(24, 16, T) + n_attn(16) + n_conv(3, 16, 16) + n_res(24, 8, T) +
                         n_res(16, 8, T) + n_gn(8) + n_conv(3, 8, 1);
    CHECK(group_count(P, "small") == hand && hand == 42377, "8x8 UNet has %lld parameters, by hand %lld",
          (long long)group_count(P, "small"), (long long)hand);
    printf("28x28 UNet (16-32-32, attention at 7): %lld parameters\n", (long long)group_count(P, "forward"));

    ug_ctx *ctx = ug_ctx_new(16 << 20);
    for (int k = 0; k < 2; k++) {
        const ug_unet *u = k ? &u8 : &u28;
        const int64_t S = u->cfg.image_size, N = 3;
        ug_tensor *x = ug_rand_normal(ctx, &rng, 4, (int64_t[]){N, 1, S, S});     // [3, 1, S, S]
        ug_tensor *t = ug_from_f32(ctx, (float[]){1.0f, 10.0f, 500.0f}, 1, (int64_t[]){N});  // [3]
        ug_tensor *y = ug_unet_forward(ctx, u, x, t);                            // [3, 1, S, S]
        CHECK(y && y->ndim == 4 && y->shape[0] == N && y->shape[1] == 1 && y->shape[2] == S && y->shape[3] == S,
              "unet %lldx%lld output shape: %s", (long long)S, (long long)S, ug_ctx_errmsg(ctx));
        ug_step_reset(ctx);
    }
    ug_tensor *bad = ug_zeros(ctx, 4, (int64_t[]){2, 1, 9, 9});
    CHECK(ug_unet_forward(ctx, &u8, bad, ug_zeros(ctx, 1, (int64_t[]){2})) == NULL &&
              ug_ctx_status(ctx) == UG_ERR_ARG, "wrong image size refused");
    ug_ctx_clear_error(ctx);
    ug_unet u;
    ug_unet_config odd = c8;
    odd.image_size = 6;
    odd.n_levels = 3;
    odd.ch_mult[2] = 2;
    CHECK(ug_unet_init(&u, P, "x", &odd, &rng) == UG_ERR_ARG, "image size not divisible by 4 refused");
    ug_ctx_free(ctx);
    ug_params_free(P);
}

/* loss(theta, t) = sum(unet(x, t) * r) on a tiny config. */
static double unet_loss(ug_ctx *ctx, const ug_unet *u, ug_tensor *x, const float *tv, ug_tensor *r) {
    ug_tensor *t = ug_from_f32(ctx, tv, 1, (int64_t[]){2});  // [2]
    ug_tensor *l = ug_sum_all(ctx, ug_mul(ctx, ug_unet_forward(ctx, u, x, t), r));
    return l ? ug_item(l) : NAN;
}

static void test_unet_grad(void) {
    ug_unet_config c = {.in_channels = 2, .out_channels = 2, .base_channels = 4, .n_levels = 2, .ch_mult = {1, 2},
                        .blocks_per_level = 1, .n_attn = 1, .attn_res = {2}, .image_size = 4, .temb_dim = 8,
                        .groups = 2};
    ug_params *P = ug_params_new();
    ug_rng rng = ug_rng_make(21, 0);
    ug_unet u;
    CHECK(ug_unet_init(&u, P, "forward", &c, &rng) == UG_OK, "tiny unet: %s", ug_params_errmsg(P));
    ug_params_finalize(P);
    ug_ctx *ctx = ug_ctx_new(4 << 20);
    ug_tensor *x = ug_rand_normal(ctx, &rng, 4, (int64_t[]){2, 2, 4, 4});  // [2, 2, 4, 4]
    ug_tensor *r = ug_rand_normal(ctx, &rng, 4, (int64_t[]){2, 2, 4, 4});  // [2, 2, 4, 4]
    float tv[2] = {0.7f, 3.0f};
    ug_tensor *t = ug_requires_grad(ctx, ug_from_f32(ctx, tv, 1, (int64_t[]){2}));  // [2]
    ug_tensor *loss = ug_sum_all(ctx, ug_mul(ctx, ug_unet_forward(ctx, &u, x, t), r));  // []
    ug_tensor *gt = NULL;
    CHECK(loss && ug_grad(ctx, loss, &t, 1, &gt, false) == UG_OK, "d/dt: %s", ug_ctx_errmsg(ctx));
    ug_params_zero_grad(P, ~0ull);
    CHECK(ug_backward(ctx, loss, 1ull << ug_params_group_index(P, "forward")) == UG_OK, "backward: %s",
          ug_ctx_errmsg(ctx));
    /* every parameter tensor gets a gradient (none is cut off the graph) */
    const int g = ug_params_group_index(P, "forward");
    int dead = 0;
    for (int i = 0; i < ug_params_group_size(P, g); i++) {
        const ug_tensor *p = ug_params_get(P, g, i);
        double s = 0;
        for (int64_t j = 0; j < ug_numel(p); j++) s += fabs(((float *)p->grad->data)[j]);
        if (s == 0) {
            dead++;
            printf("no gradient: %s\n", p->name);
        }
    }
    CHECK(dead == 0, "%d parameter tensors without gradient", dead);

    /* a few entries of a few parameters against central differences (tiny in float, so eps 1e-2) */
    const char *names[] = {"unet.conv_in.w", "unet.down.1.0.temb.w", "unet.mid_attn.q.w", "unet.up.0.1.gn2.w",
                           "unet.up.1.0.skip.b", "unet.conv_out.b", "unet.temb0.w"};
    double worst = 0;
    const float e = 1e-2f;
    float *gv = gt ? ug_f32(ug_contiguous(ctx, gt)) : NULL;
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        ug_tensor *p = ug_params_find(P, "forward", names[k]);
        CHECK(p != NULL, "parameter %s", names[k]);
        for (int64_t j = 0; p && j < ug_numel(p); j += ug_numel(p) / 3 + 1) {
            float *pv = (float *)p->data + j, p0 = *pv;
            *pv = p0 + e;
            double lp = unet_loss(ctx, &u, x, tv, r);
            *pv = p0 - e;
            double lm = unet_loss(ctx, &u, x, tv, r);
            *pv = p0;
            double fd = (lp - lm) / (2.0 * e), an = ((float *)p->grad->data)[j];
            worst = fmax(worst, fabs(fd - an) / fmax(1.0, fabs(fd)));
        }
    }
    CHECK(worst < 5e-3, "parameter gradients vs central differences: max err %g", worst);
    double wt = 0;
    for (int b = 0; gv && b < 2; b++) {
        float t0 = tv[b];
        tv[b] = t0 + e;
        double lp = unet_loss(ctx, &u, x, tv, r);
        tv[b] = t0 - e;
        double lm = unet_loss(ctx, &u, x, tv, r);
        tv[b] = t0;
        double fd = (lp - lm) / (2.0 * e);
        wt = fmax(wt, fabs(fd - gv[b]) / fmax(1.0, fabs(fd)));
    }
    printf("tiny UNet: parameter gradients vs central differences %.3g, d/dt %.3g (relative)\n", worst, wt);
    CHECK(gv && wt < 5e-3, "d loss / dt vs central differences: max err %g", wt);
    CHECK(ug_ctx_status(ctx) == UG_OK, "ctx: %s", ug_ctx_errmsg(ctx));
    ug_ctx_free(ctx);
    ug_params_free(P);
}

int main(void) {
    test_blocks();
    test_unet_shapes();
    test_unet_grad();
    return CHECK_DONE();
}
