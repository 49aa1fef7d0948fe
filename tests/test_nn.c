/* test_nn.c — parameter groups (layout, re-finalize, lookups, zero-grad), initialisers, PyTorch-style
 * linear and conv2d init, MLP and conv2d layer forwards against hand loops, activations by name, time
 * embedding formula and its d/dt against central differences, layer norm moments, and gradients landing
 * in the right group blocks through ug_backward. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "unigfn/nn.h"

static void test_layout(void) {
    ug_params *P = ug_params_new();
    int64_t s23[2] = {2, 3}, s5[1] = {5}, s4[1] = {4};
    ug_tensor *a = ug_param(P, "forward", "a", 2, s23);   // [2, 3]
    ug_tensor *b = ug_param(P, "forward", "b", 1, s5);    // [5]
    ug_tensor *c = ug_param(P, "forward", "c", 0, NULL);  // []
    ug_tensor *d = ug_param(P, "backward", "d", 1, s4);   // [4]
    CHECK(a && b && c && d, "declared: %s", ug_params_errmsg(P));
    CHECK(a->group == 0 && d->group == 1 && a->is_leaf && a->requires_grad && a->grad &&
              !a->grad->requires_grad && strcmp(a->name, "a") == 0,
          "header flags");
    CHECK(a->ndim == 2 && a->shape[0] == 2 && a->shape[1] == 3 && a->shape[2] == 1 &&
              a->stride[0] == 3 && a->stride[1] == 1 && a->dtype == UG_F32 && a->device == UG_CPU,
          "header shape/stride");
    CHECK(a->grad->shape[0] == 2 && a->grad->shape[1] == 3 && c->ndim == 0, "grad shape, scalar");
    CHECK(!ug_params_finalized(P), "not finalized yet");
    /* Values may be set before finalize; they move into the block. */
    ((float *)b->data)[4] = 7.0f;
    CHECK(ug_params_finalize(P) == UG_OK && ug_params_finalized(P), "finalize");
    const char *name;
    float *data, *grad;
    int64_t count;
    ug_params_group_info(P, 0, &name, &data, &grad, &count);
    CHECK(strcmp(name, "forward") == 0 && count == 12, "group 0: %s, %lld floats", name,
          (long long)count);
    CHECK(((uintptr_t)data % 64) == 0 && ((uintptr_t)grad % 64) == 0, "blocks 64-byte aligned");
    CHECK(a->data == data && b->data == data + 6 && c->data == data + 11, "packed in order");
    CHECK(a->grad->data == grad && c->grad->data == grad + 11, "grad views");
    CHECK(ug_params_offset(P, 0, 1) == 6 && ug_params_offset(P, 0, 2) == 11 &&
              ug_params_offset(P, 0, 3) == -1,
          "offsets");
    CHECK(((float *)b->data)[4] == 7.0f, "staged value moved into the block");
    CHECK(ug_params_group_index(P, "backward") == 1 && ug_params_group_index(P, "flow") == -1 &&
              ug_params_group_count(P) == 2 && ug_params_total(P) == 16,
          "lookups");
    CHECK(ug_params_find(P, "forward", "b") == b && ug_params_find(P, "backward", "b") == NULL,
          "find by name");
    CHECK(ug_params_group_size(P, 0) == 3 && ug_params_get(P, 0, 2) == c, "iterate");

    /* Re-finalize after more declarations: values kept, header pointers stable. */
    for (int i = 0; i < 12; i++) data[i] = (float)i + 0.5f;
    grad[3] = 2.0f;
    int64_t s2[1] = {2};
    ug_tensor *e = ug_param(P, "forward", "e", 1, s2);  // [2]
    ug_tensor *z = ug_param(P, "logZ", "logZ", 0, NULL);  // []
    CHECK(!ug_params_finalized(P) && ug_params_finalize(P) == UG_OK, "re-finalize");
    ug_params_group_info(P, 0, NULL, &data, &grad, &count);
    CHECK(count == 14 && a->data == data && e->data == data + 12, "grown layout");
    int kept = 1;
    for (int i = 0; i < 12; i++) kept &= data[i] == (float)i + 0.5f;
    CHECK(kept && data[12] == 0 && data[13] == 0 && grad[3] == 2.0f, "values and grads kept");
    CHECK(ug_params_find(P, "forward", "a") == a && z->group == 2, "same headers");

    /* zero_grad by mask. */
    float *g1;
    ug_params_group_info(P, 1, NULL, NULL, &g1, NULL);
    g1[0] = 3.0f;
    ug_params_zero_grad(P, 1ull << 0);
    CHECK(grad[3] == 0.0f && g1[0] == 3.0f, "zero_grad touches only masked groups");
    ug_params_zero_grad(P, ~0ull);
    CHECK(g1[0] == 0.0f, "zero_grad all");

    /* Errors. */
    CHECK(ug_param(P, "forward", "a", 2, s23) == NULL && ug_params_status(P) == UG_ERR_ARG &&
              strstr(ug_params_errmsg(P), "forward/a"),
          "duplicate refused: %s", ug_params_errmsg(P));
    ug_params_free(P);

    P = ug_params_new();
    int64_t bad[1] = {0};
    CHECK(ug_param(P, "g", "x", 1, bad) == NULL && strstr(ug_params_errmsg(P), "size 0"),
          "zero dim refused: %s", ug_params_errmsg(P));
    ug_params_free(P);
    P = ug_params_new();
    char gname[16];
    for (int i = 0; i < UG_MAX_GROUPS; i++) {
        snprintf(gname, sizeof gname, "g%d", i);
        ug_params_group(P, gname);
    }
    CHECK(ug_param(P, "one-too-many", "x", 0, NULL) == NULL && strstr(ug_params_errmsg(P), "64"),
          "65th group refused: %s", ug_params_errmsg(P));
    ug_params_free(P);
}

static void test_init(void) {
    ug_params *P = ug_params_new();
    int64_t s[1] = {20000};
    ug_tensor *u = ug_param(P, "g", "u", 1, s), *n = ug_param(P, "g", "n", 1, s),
              *k = ug_param(P, "g", "k", 1, s);
    ug_params_finalize(P);
    ug_rng rng = ug_rng_make(3, 0);
    CHECK(ug_init_uniform(u, -0.25f, 0.75f, &rng) == UG_OK, "uniform");
    CHECK(ug_init_normal(n, 2.0f, 0.5f, &rng) == UG_OK, "normal");
    CHECK(ug_init_const(k, -1.5f) == UG_OK, "const");
    const float *uv = u->data, *nv = n->data, *kv = k->data;
    double su = 0, sn = 0, sn2 = 0;
    int in_range = 1, all_k = 1;
    for (int i = 0; i < 20000; i++) {
        in_range &= uv[i] >= -0.25f && uv[i] < 0.75f;
        all_k &= kv[i] == -1.5f;
        su += uv[i];
        sn += nv[i];
    }
    for (int i = 0; i < 20000; i++) sn2 += (nv[i] - sn / 20000) * (nv[i] - sn / 20000);
    CHECK(in_range && all_k, "uniform range, const value");
    CHECK(fabs(su / 20000 - 0.25) < 4 * sqrt(1.0 / 12 / 20000), "uniform mean %g", su / 20000);
    CHECK(fabs(sn / 20000 - 2.0) < 4 * 0.5 / sqrt(20000), "normal mean %g", sn / 20000);
    CHECK(fabs(sqrt(sn2 / 19999) - 0.5) < 0.02, "normal std %g", sqrt(sn2 / 19999));
    CHECK(ug_init_uniform(NULL, 0, 1, &rng) == UG_ERR_ARG && ug_init_uniform(u, 1, 0, &rng) == UG_ERR_ARG,
          "bad init refused");

    /* nn.Linear's default: U(-1/sqrt(in), 1/sqrt(in)) for w and b. */
    ug_linear_layer L;
    CHECK(ug_linear_layer_init(&L, P, "forward", "lin", 64, 300, true, &rng) == UG_OK, "linear init");
    ug_params_finalize(P);
    const float bound = 1.0f / 8.0f, *w = L.w->data;
    float mx = 0;
    double s2 = 0;
    for (int i = 0; i < 64 * 300; i++) {
        mx = fmaxf(mx, fabsf(w[i]));
        s2 += (double)w[i] * w[i];
    }
    CHECK(mx <= bound && mx > 0.99f * bound, "w within the bound %g (max %g)", bound, mx);
    CHECK(fabs(sqrt(s2 / (64 * 300)) - bound / sqrt(3.0)) < 0.002, "w std %g",
          sqrt(s2 / (64 * 300)));
    CHECK(L.w->shape[0] == 300 && L.w->shape[1] == 64 && L.b->shape[0] == 300 &&
              ug_params_find(P, "forward", "lin.w") == L.w && ug_params_find(P, "forward", "lin.b") == L.b,
          "linear parameter names/shapes");
    int b_ok = 1;
    for (int i = 0; i < 300; i++) b_ok &= fabsf(((float *)L.b->data)[i]) <= bound;
    CHECK(b_ok, "b within the bound");
    ug_params_free(P);
}

static float act_ref(ug_act a, float x, float p) {
    switch (a) {
    case UG_ACT_RELU: return x > 0 ? x : 0;
    case UG_ACT_LEAKY_RELU: return x > 0 ? x : p * x;
    case UG_ACT_TANH: return tanhf(x);
    default: return x;
    }
}

static void test_mlp(void) {
    ug_act a;
    CHECK(ug_act_from_name("leaky_relu", &a) == UG_OK && a == UG_ACT_LEAKY_RELU, "by name");
    CHECK(ug_act_from_name("swish", &a) == UG_OK && a == UG_ACT_SILU, "alias");
    CHECK(ug_act_from_name("relu6", &a) == UG_ERR_ARG, "unknown refused");
    CHECK(strcmp(ug_act_name(UG_ACT_SOFTPLUS), "softplus") == 0, "name");

    const ug_act acts[3] = {UG_ACT_RELU, UG_ACT_LEAKY_RELU, UG_ACT_TANH};
    for (int ai = 0; ai < 3; ai++) {
        ug_params *P = ug_params_new();
        ug_rng rng = ug_rng_make(8, (uint64_t)ai);
        ug_mlp mlp;
        const int64_t widths[4] = {5, 16, 16, 3};
        CHECK(ug_mlp_init(&mlp, P, "forward", "mlp", widths, 4, acts[ai], 0.0f, &rng) == UG_OK,
              "mlp init: %s", ug_params_errmsg(P));
        ug_params_finalize(P);
        CHECK(mlp.n_layers == 3 && ug_params_find(P, "forward", "mlp.2.b") != NULL &&
                  ug_params_total(P) == 5 * 16 + 16 + 16 * 16 + 16 + 16 * 3 + 3,
              "mlp parameters");
        if (acts[ai] == UG_ACT_LEAKY_RELU) CHECK(mlp.act_param == 0.01f, "leaky default slope");
        ug_ctx *ctx = ug_ctx_new(1 << 20);
        enum { B = 7 };
        int64_t xs[2] = {B, 5};
        ug_tensor *x = ug_rand_normal(ctx, &rng, 2, xs);  // [B, 5]
        ug_tensor *y = ug_mlp_forward(ctx, &mlp, x);      // [B, 3]
        CHECK(y && y->ndim == 2 && y->shape[0] == B && y->shape[1] == 3, "mlp output [B, 3]: %s",
              ug_ctx_errmsg(ctx));
        /* Hand loop: activations between layers, none after the last. */
        double worst = 0;
        for (int b = 0; y && b < B; b++) {
            float h[16], t[16];
            int n_in = 5;
            memcpy(h, (float *)x->data + b * 5, 5 * sizeof(float));
            for (int l = 0; l < 3; l++) {
                const ug_linear_layer *L = &mlp.layers[l];
                for (int o = 0; o < L->out; o++) {
                    double s = ((float *)L->b->data)[o];
                    for (int i = 0; i < n_in; i++) s += (double)((float *)L->w->data)[o * n_in + i] * h[i];
                    t[o] = l < 2 ? act_ref(acts[ai], (float)s, mlp.act_param) : (float)s;
                }
                n_in = (int)L->out;
                memcpy(h, t, sizeof t);
            }
            const float *yv = ug_f32(ug_contiguous(ctx, y));
            for (int o = 0; o < 3; o++) worst = fmax(worst, fabs(yv[b * 3 + o] - h[o]));
        }
        CHECK(worst < 1e-5, "mlp(%s) matches the hand loop (max err %g)", ug_act_name(acts[ai]), worst);
        ug_ctx_free(ctx);
        ug_params_free(P);
    }
}

/* nn.Conv2d's default init (fan_in = in/groups kh kw), the forward against a direct loop, ug_backward
 * into the group's block equal to ug_grad, and the refusals. */
static void test_conv_layer(void) {
    ug_params *P = ug_params_new();
    ug_rng rng = ug_rng_make(11, 0);
    ug_conv2d_layer L;
    ug_conv2d_opts o = {.stride = {2, 1}, .padding = {1, 1}, .groups = 2};
    CHECK(ug_conv2d_layer_init(&L, P, "forward", "conv", 6, 40, 3, 3, &o, true, &rng) == UG_OK, "conv init: %s",
          ug_params_errmsg(P));
    ug_params_finalize(P);
    CHECK(L.w->ndim == 4 && L.w->shape[0] == 40 && L.w->shape[1] == 3 && L.w->shape[2] == 3 && L.w->shape[3] == 3 &&
              L.b->shape[0] == 40 && ug_params_find(P, "forward", "conv.w") == L.w &&
              ug_params_find(P, "forward", "conv.b") == L.b,
          "conv parameter names/shapes");
    const float bound = (float)(1.0 / sqrt(27.0)), *w = L.w->data;
    float mx = 0;
    double s2 = 0;
    for (int i = 0; i < 40 * 27; i++) {
        mx = fmaxf(mx, fabsf(w[i]));
        s2 += (double)w[i] * w[i];
    }
    CHECK(mx <= bound && mx > 0.99f * bound, "conv w within the bound %g (max %g)", bound, mx);
    CHECK(fabs(sqrt(s2 / (40 * 27)) - bound / sqrt(3.0)) < 0.01, "conv w std %g", sqrt(s2 / (40 * 27)));
    int b_ok = 1;
    for (int i = 0; i < 40; i++) b_ok &= fabsf(((float *)L.b->data)[i]) <= bound;
    CHECK(b_ok, "conv b within the bound");

    ug_ctx *ctx = ug_ctx_new(1 << 20);
    enum { N = 2, C = 6, H = 7, W = 5, OH = 4, OW = 5 };
    ug_tensor *x = ug_rand_normal(ctx, &rng, 4, (int64_t[]){N, C, H, W});
    ug_tensor *y = ug_conv2d_layer_forward(ctx, &L, x);  // [N, 40, OH, OW]
    CHECK(y && y->ndim == 4 && y->shape[0] == N && y->shape[1] == 40 && y->shape[2] == OH && y->shape[3] == OW,
          "conv output [2, 40, 4, 5]: %s", ug_ctx_errmsg(ctx));
    double worst = 0;
    const float *xv = x->data, *yv = y ? ug_f32(ug_contiguous(ctx, y)) : NULL;
    for (int n = 0; yv && n < N; n++)
        for (int oc = 0; oc < 40; oc++)
            for (int p = 0; p < OH; p++)
                for (int q = 0; q < OW; q++) {
                    int gr = oc / 20;  // 20 output channels per group, on input channels 3 gr .. 3 gr + 2
                    double s = ((float *)L.b->data)[oc];
                    for (int ci = 0; ci < 3; ci++)
                        for (int i = 0; i < 3; i++)
                            for (int j = 0; j < 3; j++) {
                                int ih = p * 2 - 1 + i, iw = q - 1 + j;
                                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                                s += (double)w[((oc * 3 + ci) * 3 + i) * 3 + j] *
                                     xv[((n * C + 3 * gr + ci) * H + ih) * W + iw];
                            }
                    worst = fmax(worst, fabs(yv[((n * 40 + oc) * OH + p) * OW + q] - s));
                }
    CHECK(worst < 1e-5, "conv layer matches the direct loop (max err %g)", worst);

    /* ug_backward accumulates into the group's gradient block what ug_grad returns */
    ug_tensor *loss = ug_sum_all(ctx, ug_square(ctx, y));
    ug_tensor *wrt[2] = {L.w, L.b}, *g[2];
    CHECK(ug_grad(ctx, loss, wrt, 2, g, false) == UG_OK, "conv grad: %s", ug_ctx_errmsg(ctx));
    ug_params_zero_grad(P, ~0ull);
    CHECK(ug_backward(ctx, loss, 1ull << ug_params_group_index(P, "forward")) == UG_OK, "conv backward: %s",
          ug_ctx_errmsg(ctx));
    double gw = 0;
    for (int k = 0; k < 2; k++) {
        const float *a = ug_f32(ug_contiguous(ctx, g[k])), *bk = wrt[k]->grad->data;
        for (int64_t i = 0; i < ug_numel(wrt[k]); i++) gw = fmax(gw, fabs(a[i] - bk[i]) / fmax(1.0, fabs(a[i])));
    }
    CHECK(gw < 1e-6, "backward into the block equals ug_grad (max rel err %g)", gw);
    ug_ctx_free(ctx);

    ug_conv2d_opts bad = {.groups = 4};
    CHECK(ug_conv2d_layer_init(&L, P, "forward", "c2", 6, 8, 3, 3, &bad, true, &rng) == UG_ERR_ARG,
          "in not a multiple of groups refused");
    ug_params_free(P);
}

static void test_time_embedding(void) {
    ug_ctx *ctx = ug_ctx_new(1 << 20);
    const float tv[3] = {0.0f, 1.0f, 250.5f};
    int64_t ts[1] = {3};
    ug_tensor *t = ug_from_f32(ctx, tv, 1, ts);  // [3]
    ug_tensor *e = ug_time_embedding(ctx, t, 8);  // [3, 8]
    CHECK(e && e->shape[0] == 3 && e->shape[1] == 8, "embedding [3, 8]");
    double worst = 0;
    for (int b = 0; e && b < 3; b++)
        for (int i = 0; i < 4; i++) {
            double f = exp(-log(10000.0) * i / 3.0);
            const float *row = (const float *)e->data + b * 8;
            worst = fmax(worst, fabs(row[i] - sin(tv[b] * f)));
            worst = fmax(worst, fabs(row[4 + i] - cos(tv[b] * f)));
        }
    CHECK(worst < 1e-6, "sin/cos formula (max err %g)", worst);
    ug_tensor *o = ug_time_embedding(ctx, t, 7);  // [3, 7]: half 3, last column 0
    CHECK(o && ((float *)o->data)[6] == 0.0f && ((float *)o->data)[7 + 6] == 0.0f,
          "odd dim pads a zero column");
    CHECK(ug_time_embedding(ctx, t, 1) == NULL && ug_ctx_status(ctx) == UG_ERR_ARG, "dim 1 refused");
    ug_ctx_clear_error(ctx);
    ug_ctx_free(ctx);
}

/* sum(emb(t) * r) for t given on the host: the function the d/dt check differences. */
static double temb_loss(ug_ctx *ctx, const float *tv, ug_tensor *r, int64_t dim) {
    ug_tensor *t = ug_from_f32(ctx, tv, 1, (int64_t[]){3});  // [3]
    ug_tensor *l = ug_sum_all(ctx, ug_mul(ctx, ug_time_embedding(ctx, t, dim), r));
    return l ? ug_item(l) : NAN;
}

/* d/dt of the embedding (built from ops) against central differences and the closed form
 * sum_i f_i (r_i cos(t f_i) - r_{half+i} sin(t f_i)), for an even and an odd dim. */
static void test_time_embedding_grad(void) {
    ug_ctx *ctx = ug_ctx_new(1 << 20);
    ug_rng rng = ug_rng_make(17, 0);
    for (int64_t dim = 8; dim <= 9; dim++) {
        float tv[3] = {0.3f, 1.7f, 25.0f};
        ug_tensor *r = ug_rand_normal(ctx, &rng, 2, (int64_t[]){3, dim});  // [3, dim]
        ug_tensor *t = ug_requires_grad(ctx, ug_from_f32(ctx, tv, 1, (int64_t[]){3}));  // [3]
        ug_tensor *l = ug_sum_all(ctx, ug_mul(ctx, ug_time_embedding(ctx, t, dim), r));  // []
        ug_tensor *g = NULL;
        CHECK(l && ug_grad(ctx, l, &t, 1, &g, false) == UG_OK && g && g->shape[0] == 3, "d/dt: %s",
              ug_ctx_errmsg(ctx));
        const float *gv = g ? ug_f32(ug_contiguous(ctx, g)) : NULL, *rv = ug_f32(r);
        double wfd = 0, wcf = 0;
        const int64_t half = dim / 2;
        for (int b = 0; gv && b < 3; b++) {
            const float e = 1e-2f, t0 = tv[b];
            tv[b] = t0 + e;
            double lp = temb_loss(ctx, tv, r, dim);
            tv[b] = t0 - e;
            double lm = temb_loss(ctx, tv, r, dim);
            tv[b] = t0;
            double cf = 0;
            for (int64_t i = 0; i < half; i++) {
                double f = exp(-log(10000.0) * (double)i / (double)(half - 1));
                cf += f * (rv[b * dim + i] * cos(t0 * f) - rv[b * dim + half + i] * sin(t0 * f));
            }
            wfd = fmax(wfd, fabs((lp - lm) / (2.0 * e) - gv[b]) / fmax(1.0, fabs(cf)));
            wcf = fmax(wcf, fabs(cf - gv[b]) / fmax(1.0, fabs(cf)));
        }
        CHECK(ug_ctx_status(ctx) == UG_OK && wfd < 1e-3 && wcf < 1e-5,
              "dim %lld: d/dt vs central differences %g, vs closed form %g", (long long)dim, wfd, wcf);
    }
    ug_ctx_free(ctx);
}

static void test_layer_norm(void) {
    ug_params *P = ug_params_new();
    ug_layer_norm_layer ln;
    CHECK(ug_layer_norm_init(&ln, P, "forward", "ln", 10, 0) == UG_OK && ln.eps == 1e-5f, "ln init");
    ug_params_finalize(P);
    ug_ctx *ctx = ug_ctx_new(1 << 20);
    ug_rng rng = ug_rng_make(4, 4);
    int64_t xs[2] = {8, 10};
    ug_tensor *x = ug_rand_normal(ctx, &rng, 2, xs);  // [8, 10]
    float *xv = x->data;
    for (int i = 0; i < 80; i++) xv[i] = 3.0f * xv[i] + 5.0f;  // far from standard
    ug_tensor *y = ug_contiguous(ctx, ug_layer_norm(ctx, &ln, x));  // [8, 10]
    CHECK(y && y->shape[0] == 8 && y->shape[1] == 10, "ln output [8, 10]: %s", ug_ctx_errmsg(ctx));
    double worst_m = 0, worst_v = 0;
    for (int b = 0; y && b < 8; b++) {
        double m = 0, v = 0;
        for (int i = 0; i < 10; i++) m += ug_f32(y)[b * 10 + i];
        m /= 10;
        for (int i = 0; i < 10; i++) v += pow(ug_f32(y)[b * 10 + i] - m, 2);
        v /= 10;  // biased, as the layer uses
        worst_m = fmax(worst_m, fabs(m));
        // var(xhat) = var / (var + eps): allow for eps
        worst_v = fmax(worst_v, fabs(v - 1));
    }
    CHECK(worst_m < 1e-5 && worst_v < 1e-4, "rows have mean 0 (%g), var 1 (%g)", worst_m, worst_v);

    /* Gradient of sum(y * r) reaches gamma and beta in their group's block: dbeta = sum_b r,
     * dgamma = sum_b xhat * r. */
    float r[80];
    for (int i = 0; i < 80; i++) r[i] = (float)((i * 7) % 11) - 5.0f;
    ug_tensor *rt = ug_from_f32(ctx, r, 2, xs);  // [8, 10]
    ug_tensor *loss = ug_sum_all(ctx, ug_mul(ctx, ug_layer_norm(ctx, &ln, x), rt));  // []
    ug_params_zero_grad(P, ~0ull);
    CHECK(ug_backward(ctx, loss, 1ull << ln.gamma->group) == UG_OK, "backward: %s", ug_ctx_errmsg(ctx));
    double wg = 0, wb = 0;
    for (int i = 0; i < 10; i++) {
        double dg = 0, db = 0;
        for (int b = 0; b < 8; b++) {
            dg += ug_f32(y)[b * 10 + i] * r[b * 10 + i];
            db += r[b * 10 + i];
        }
        wg = fmax(wg, fabs(((float *)ln.gamma->grad->data)[i] - dg));
        wb = fmax(wb, fabs(((float *)ln.beta->grad->data)[i] - db));
    }
    CHECK(wg < 1e-3 && wb < 1e-4, "dgamma err %g, dbeta err %g", wg, wb);
    ug_ctx_free(ctx);
    ug_params_free(P);
}

/* h(gamma) = |d/dx sum(LN(x) * r)|^2: a gradient of a gradient through layer norm. dh/dgamma by
 * backward through the create_graph gradient must match central differences (h is quadratic in
 * gamma, so they are exact up to rounding). */
static float ln_h(ug_ctx *ctx, const ug_layer_norm_layer *ln, ug_tensor *x, ug_tensor *r, bool graph,
                  ug_tensor **h_out) {
    ug_tensor *xg = ug_requires_grad(ctx, ug_detach(ctx, x));                      // [4, 6]
    ug_tensor *f = ug_sum_all(ctx, ug_mul(ctx, ug_layer_norm(ctx, ln, xg), r));     // []
    ug_tensor *g = NULL;
    if (ug_grad(ctx, f, &xg, 1, &g, graph) != UG_OK) return NAN;
    ug_tensor *h = ug_sum_all(ctx, ug_square(ctx, g));  // []
    if (h_out) *h_out = h;
    return h ? ug_item(h) : NAN;
}

static void test_layer_norm_second_order(void) {
    ug_params *P = ug_params_new();
    ug_layer_norm_layer ln;
    ug_layer_norm_init(&ln, P, "energy", "ln", 6, 0);
    ug_params_finalize(P);
    ug_rng rng = ug_rng_make(6, 6);
    ug_init_normal(ln.gamma, 1.0f, 0.3f, &rng);
    ug_init_normal(ln.beta, 0.0f, 0.3f, &rng);
    ug_ctx *ctx = ug_ctx_new(1 << 20);
    int64_t xs[2] = {4, 6};
    ug_tensor *x = ug_rand_normal(ctx, &rng, 2, xs);  // [4, 6]
    ug_tensor *r = ug_rand_normal(ctx, &rng, 2, xs);  // [4, 6]
    ug_tensor *h = NULL;
    ln_h(ctx, &ln, x, r, true, &h);
    ug_params_zero_grad(P, ~0ull);
    CHECK(h && ug_backward(ctx, h, 1ull << ln.gamma->group) == UG_OK, "second-order backward: %s",
          ug_ctx_errmsg(ctx));
    float *gam = ln.gamma->data;
    const float *dg = ln.gamma->grad->data;
    double worst = 0, scale = 0;
    for (int i = 0; i < 6; i++) {
        const float e = 1e-2f, g0 = gam[i];
        gam[i] = g0 + e;
        double hp = ln_h(ctx, &ln, x, r, false, NULL);
        gam[i] = g0 - e;
        double hm = ln_h(ctx, &ln, x, r, false, NULL);
        gam[i] = g0;
        double fd = (hp - hm) / (2.0 * e);
        worst = fmax(worst, fabs(fd - dg[i]));
        scale = fmax(scale, fabs(fd));
    }
    CHECK(ug_ctx_status(ctx) == UG_OK && worst <= 2e-3 * fmax(1.0, scale),
          "d|grad_x|^2/dgamma vs central differences: max err %g (scale %g) %s", worst, scale,
          ug_ctx_errmsg(ctx));
    ug_ctx_free(ctx);
    ug_params_free(P);
}

/* ug_backward with a group mask fills only that group's block. */
static void test_group_backward(void) {
    ug_params *P = ug_params_new();
    ug_rng rng = ug_rng_make(1, 1);
    ug_mlp f, g;
    const int64_t w[3] = {4, 8, 1};
    ug_mlp_init(&f, P, "forward", "pf", w, 3, UG_ACT_SILU, 0, &rng);
    ug_mlp_init(&g, P, "backward", "pb", w, 3, UG_ACT_GELU, 0, &rng);
    ug_params_finalize(P);
    ug_ctx *ctx = ug_ctx_new(1 << 20);
    int64_t xs[2] = {5, 4};
    ug_tensor *x = ug_rand_normal(ctx, &rng, 2, xs);  // [5, 4]
    ug_tensor *loss = ug_sum_all(ctx, ug_add(ctx, ug_mlp_forward(ctx, &f, x), ug_mlp_forward(ctx, &g, x)));
    CHECK(ug_backward(ctx, loss, 1ull << 0) == UG_OK, "backward: %s", ug_ctx_errmsg(ctx));
    float *gf, *gb;
    int64_t nf, nb;
    ug_params_group_info(P, 0, NULL, NULL, &gf, &nf);
    ug_params_group_info(P, 1, NULL, NULL, &gb, &nb);
    double sf = 0, sb = 0;
    for (int64_t i = 0; i < nf; i++) sf += fabs(gf[i]);
    for (int64_t i = 0; i < nb; i++) sb += fabs(gb[i]);
    CHECK(sf > 0 && sb == 0, "forward grads %g, backward grads %g", sf, sb);
    ug_ctx_free(ctx);
    ug_params_free(P);
}

/* An MLP call that records nothing (grad off, or only constants: parameters of inactive groups)
 * keeps only its output in the step arena, with the same values as a recorded call. */
static void test_mlp_no_graph_memory(void) {
    ug_params *P = ug_params_new();
    ug_rng rng = ug_rng_make(3, 1);
    ug_mlp f;
    const int64_t w[5] = {32, 256, 256, 256, 64};
    ug_mlp_init(&f, P, "forward", "pf", w, 5, UG_ACT_LEAKY_RELU, 0, &rng);
    ug_params_finalize(P);
    ug_ctx *ctx = ug_ctx_new(16u << 20);  // one block: a rollback stops where the arena chained a new one
    int64_t xs[2] = {128, 32};
    ug_tensor *x = ug_rand_normal(ctx, &rng, 2, xs);  // [128, 32]
    const size_t out_bytes = 128 * 64 * sizeof(float);

    size_t u0 = ug_arena_used(ctx);
    ug_tensor *y1 = ug_mlp_forward(ctx, &f, x);  // recorded: every activation stays for backward
    size_t recorded = ug_arena_used(ctx) - u0;
    bool prev = ug_set_grad_enabled(ctx, false);
    u0 = ug_arena_used(ctx);
    ug_tensor *y2 = ug_mlp_forward(ctx, &f, x);  // grad off
    size_t no_grad = ug_arena_used(ctx) - u0;
    ug_set_grad_enabled(ctx, prev);
    ug_set_grad_groups(ctx, 1ull << 1);  // "forward" (group 0) inactive: its weights are constants
    u0 = ug_arena_used(ctx);
    ug_tensor *y3 = ug_mlp_forward(ctx, &f, x);
    size_t constants = ug_arena_used(ctx) - u0;
    ug_set_grad_groups(ctx, ~0ull);
    CHECK(y1 && y2 && y3 && y1->requires_grad && !y2->requires_grad && !y3->requires_grad, "outputs");
    double d = 0;
    for (int64_t i = 0; y1 && y2 && y3 && i < ug_numel(y1); i++)
        d = fmax(d, fmax(fabs(ug_f32(y1)[i] - ug_f32(y2)[i]), fabs(ug_f32(y1)[i] - ug_f32(y3)[i])));
    CHECK(d == 0, "no-graph outputs differ from the recorded one by %g", d);
    printf("mlp 32-256x3-64 on 128 rows: arena %zu bytes recorded, %zu without grad, %zu with constant weights "
           "(output %zu)\n", recorded, no_grad, constants, out_bytes);
    CHECK(no_grad < out_bytes + 4096 && constants < out_bytes + 4096, "no-graph calls keep %zu / %zu bytes", no_grad,
          constants);
    CHECK(recorded > 6 * 128 * 256 * sizeof(float), "the recorded call keeps its activations (%zu bytes)", recorded);
    ug_ctx_free(ctx);
    ug_params_free(P);
}

int main(void) {
    test_layout();
    test_init();
    test_mlp();
    test_conv_layer();
    test_time_embedding();
    test_time_embedding_grad();
    test_layer_norm();
    test_layer_norm_second_order();
    test_group_backward();
    test_mlp_no_graph_memory();
    return CHECK_DONE();
}
