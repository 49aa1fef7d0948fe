/* unet.c — the DDPM UNet and its parts: a residual block with a time embedding, single-head
 * self-attention over the H W positions, and the builder that stacks them into down / middle / up paths
 * with concat skips. Everything is a composition of tensor.h ops (conv2d, group_norm, silu, matmul,
 * softmax, upsample2d, concat), so gradients (and gradients of gradients) come from the ops; the
 * initialisers are PyTorch's defaults, so a torch module with copied weights computes the same. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "unigfn/nn.h"

#define UG_GN_EPS 1e-5f

/* "<name>.w" / "<name>.b" of a GroupNorm over c channels: weight 1, bias 0 (nn.GroupNorm's init). */
static ug_status gn_init(ug_tensor **w, ug_tensor **b, ug_params *P, const char *group, const char *name,
                         int64_t c) {
    char pname[256];
    int64_t shape[1] = {c};
    snprintf(pname, sizeof pname, "%s.w", name);
    if (!(*w = ug_param(P, group, pname, 1, shape))) return ug_params_status(P);  // [c]
    snprintf(pname, sizeof pname, "%s.b", name);
    if (!(*b = ug_param(P, group, pname, 1, shape))) return ug_params_status(P);  // [c]
    ug_init_const(*w, 1.0f);
    ug_init_const(*b, 0.0f);
    return UG_OK;
}

static ug_status conv_init(ug_conv2d_layer *L, ug_params *P, const char *group, const char *base, const char *part,
                           int64_t in, int64_t out, int64_t k, int64_t stride, ug_rng *rng) {
    char name[512];  // base is one of the callers' 256-byte names
    snprintf(name, sizeof name, "%s.%s", base, part);
    ug_conv2d_opts o = {.stride = {stride, stride}, .padding = {k / 2, k / 2}};
    return ug_conv2d_layer_init(L, P, group, name, in, out, k, k, &o, true, rng);
}

/* ---- Residual block ----------------------------------------------------------------------------- */

ug_status ug_resblock_init(ug_resblock *R, ug_params *P, const char *group, const char *name, int64_t in,
                           int64_t out, int64_t temb_dim, int64_t groups, ug_rng *rng) {
    if (!R || !P || !name || !rng || in <= 0 || out <= 0 || temb_dim <= 0 || groups <= 0 || in % groups ||
        out % groups)
        return ug_params_fail(P, UG_ERR_ARG, "resblock '%s/%s': in %lld, out %lld, temb %lld, groups %lld%s",
                              group ? group : "?", name ? name : "?", (long long)in, (long long)out,
                              (long long)temb_dim, (long long)groups, rng ? "" : ", rng NULL");
    memset(R, 0, sizeof *R);
    char pn[256];
    ug_status st;
    snprintf(pn, sizeof pn, "%s.gn1", name);
    if ((st = gn_init(&R->gn1_w, &R->gn1_b, P, group, pn, in)) != UG_OK) return st;
    if ((st = conv_init(&R->conv1, P, group, name, "conv1", in, out, 3, 1, rng)) != UG_OK) return st;
    snprintf(pn, sizeof pn, "%s.temb", name);
    if ((st = ug_linear_layer_init(&R->temb, P, group, pn, temb_dim, out, true, rng)) != UG_OK) return st;
    snprintf(pn, sizeof pn, "%s.gn2", name);
    if ((st = gn_init(&R->gn2_w, &R->gn2_b, P, group, pn, out)) != UG_OK) return st;
    if ((st = conv_init(&R->conv2, P, group, name, "conv2", out, out, 3, 1, rng)) != UG_OK) return st;
    if (in != out && (st = conv_init(&R->skip, P, group, name, "skip", in, out, 1, 1, rng)) != UG_OK) return st;
    R->in = in;
    R->out = out;
    R->temb_dim = temb_dim;
    R->groups = groups;
    return UG_OK;
}

ug_tensor *ug_resblock_forward(ug_ctx *ctx, const ug_resblock *R, ug_tensor *x, ug_tensor *temb) {
    if (!ctx) return NULL;
    if (ug_ctx_status(ctx) != UG_OK) return NULL;
    char sx[64], st[64];
    if (!R || !x || !temb || x->ndim != 4 || x->shape[1] != R->in || temb->ndim != 2 ||
        temb->shape[0] != x->shape[0] || temb->shape[1] != R->temb_dim) {
        ug_ctx_fail(ctx, UG_ERR_ARG, "ug_resblock_forward: x %s, temb %s for a block %lld -> %lld (temb %lld)",
                    x ? ug_shape_str(x, sx, sizeof sx) : "NULL", temb ? ug_shape_str(temb, st, sizeof st) : "NULL",
                    R ? (long long)R->in : -1LL, R ? (long long)R->out : -1LL, R ? (long long)R->temb_dim : -1LL);
        return NULL;
    }
    const int64_t N = x->shape[0];
    ug_tensor *h = ug_silu(ctx, ug_group_norm(ctx, x, R->groups, R->gn1_w, R->gn1_b, UG_GN_EPS));  // [N, in, H, W]
    h = ug_conv2d_layer_forward(ctx, &R->conv1, h);                                               // [N, out, H, W]
    ug_tensor *e = ug_linear_layer_forward(ctx, &R->temb, ug_silu(ctx, temb));                    // [N, out]
    h = ug_add(ctx, h, ug_reshape(ctx, e, 4, (int64_t[]){N, R->out, 1, 1}));                      // [N, out, H, W]
    h = ug_silu(ctx, ug_group_norm(ctx, h, R->groups, R->gn2_w, R->gn2_b, UG_GN_EPS));            // [N, out, H, W]
    h = ug_conv2d_layer_forward(ctx, &R->conv2, h);                                               // [N, out, H, W]
    ug_tensor *s = R->skip.w ? ug_conv2d_layer_forward(ctx, &R->skip, x) : x;                     // [N, out, H, W]
    return ug_add(ctx, s, h);                                                                     // [N, out, H, W]
}

/* ---- Self-attention ----------------------------------------------------------------------------- */

ug_status ug_attn_block_init(ug_attn_block *A, ug_params *P, const char *group, const char *name, int64_t ch,
                             int64_t groups, ug_rng *rng) {
    if (!A || !P || !name || !rng || ch <= 0 || groups <= 0 || ch % groups)
        return ug_params_fail(P, UG_ERR_ARG, "attention block '%s/%s': channels %lld, groups %lld%s",
                              group ? group : "?", name ? name : "?", (long long)ch, (long long)groups,
                              rng ? "" : ", rng NULL");
    memset(A, 0, sizeof *A);
    char pn[256];
    ug_status st;
    snprintf(pn, sizeof pn, "%s.gn", name);
    if ((st = gn_init(&A->gn_w, &A->gn_b, P, group, pn, ch)) != UG_OK) return st;
    if ((st = conv_init(&A->q, P, group, name, "q", ch, ch, 1, 1, rng)) != UG_OK) return st;
    if ((st = conv_init(&A->k, P, group, name, "k", ch, ch, 1, 1, rng)) != UG_OK) return st;
    if ((st = conv_init(&A->v, P, group, name, "v", ch, ch, 1, 1, rng)) != UG_OK) return st;
    if ((st = conv_init(&A->proj, P, group, name, "proj", ch, ch, 1, 1, rng)) != UG_OK) return st;
    A->ch = ch;
    A->groups = groups;
    return UG_OK;
}

ug_tensor *ug_attn_block_forward(ug_ctx *ctx, const ug_attn_block *A, ug_tensor *x) {
    if (!ctx) return NULL;
    if (ug_ctx_status(ctx) != UG_OK) return NULL;
    char sx[64];
    if (!A || !x || x->ndim != 4 || x->shape[1] != A->ch) {
        ug_ctx_fail(ctx, UG_ERR_ARG, "ug_attn_block_forward: x %s for a block of %lld channels",
                    x ? ug_shape_str(x, sx, sizeof sx) : "NULL", A ? (long long)A->ch : -1LL);
        return NULL;
    }
    const int64_t N = x->shape[0], C = A->ch, H = x->shape[2], W = x->shape[3], L = H * W;
    const int64_t ncl[3] = {N, C, L};
    ug_tensor *h = ug_group_norm(ctx, x, A->groups, A->gn_w, A->gn_b, UG_GN_EPS);              // [N, C, H, W]
    ug_tensor *q = ug_reshape(ctx, ug_conv2d_layer_forward(ctx, &A->q, h), 3, ncl);            // [N, C, L]
    ug_tensor *k = ug_reshape(ctx, ug_conv2d_layer_forward(ctx, &A->k, h), 3, ncl);            // [N, C, L]
    ug_tensor *v = ug_reshape(ctx, ug_conv2d_layer_forward(ctx, &A->v, h), 3, ncl);            // [N, C, L]
    ug_tensor *qt = ug_transpose(ctx, q, 1, 2);                                                 // [N, L, C]
    ug_tensor *s = ug_mul_scalar(ctx, ug_matmul(ctx, qt, k), (float)(1.0 / sqrt((double)C)));  // [N, L, L]
    ug_tensor *a = ug_softmax(ctx, s, -1);                                                      // [N, L, L]
    ug_tensor *o = ug_matmul(ctx, a, ug_transpose(ctx, v, 1, 2));                               // [N, L, C]
    o = ug_reshape(ctx, ug_contiguous(ctx, ug_transpose(ctx, o, 1, 2)), 4,
                   (int64_t[]){N, C, H, W});                                                    // [N, C, H, W]
    return ug_add(ctx, x, ug_conv2d_layer_forward(ctx, &A->proj, o));                           // [N, C, H, W]
}

/* ---- UNet --------------------------------------------------------------------------------------- */

static bool attn_at(const ug_unet_config *c, int64_t res) {
    for (int i = 0; i < c->n_attn; i++)
        if (c->attn_res[i] == res) return true;
    return false;
}

ug_status ug_unet_init(ug_unet *u, ug_params *P, const char *group, const ug_unet_config *cfg, ug_rng *rng) {
    if (!u || !P || !cfg || !rng)
        return ug_params_fail(P, UG_ERR_ARG, "unet '%s': NULL argument", group ? group : "?");
    ug_unet_config c = *cfg;
    if (c.temb_dim == 0) c.temb_dim = 4 * c.base_channels;
    if (c.groups == 0) c.groups = 8;
    bool ok = c.in_channels > 0 && c.out_channels > 0 && c.base_channels > 0 && c.n_levels >= 1 &&
              c.n_levels <= UG_UNET_MAX_LEVELS && c.blocks_per_level >= 1 && c.blocks_per_level <= UG_UNET_MAX_BLOCKS &&
              c.n_attn >= 0 && c.n_attn <= UG_UNET_MAX_ATTN && c.temb_dim > 0 && c.groups > 0 && c.image_size > 0 &&
              c.image_size % ((int64_t)1 << (c.n_levels - 1)) == 0 && c.base_channels % c.groups == 0;
    for (int l = 0; ok && l < c.n_levels; l++) ok = c.ch_mult[l] > 0 && (c.base_channels * c.ch_mult[l]) % c.groups == 0;
    if (!ok)
        return ug_params_fail(P, UG_ERR_ARG, "unet '%s': config out of range (in %lld, out %lld, base %lld, %d levels, "
                              "%d blocks, %d attention sizes, image %lld, temb %lld, groups %lld)", group ? group : "?",
                              (long long)c.in_channels, (long long)c.out_channels, (long long)c.base_channels,
                              c.n_levels, c.blocks_per_level, c.n_attn, (long long)c.image_size,
                              (long long)c.temb_dim, (long long)c.groups);
    memset(u, 0, sizeof *u);
    u->cfg = c;
    const int64_t B = c.base_channels, T = c.temb_dim, G = c.groups;
    char pn[256];
    ug_status st;
#define TRY(e) do { if ((st = (e)) != UG_OK) return st; } while (0)
    TRY(ug_linear_layer_init(&u->temb0, P, group, "unet.temb0", B, T, true, rng));
    TRY(ug_linear_layer_init(&u->temb1, P, group, "unet.temb1", T, T, true, rng));
    TRY(conv_init(&u->conv_in, P, group, "unet", "conv_in", c.in_channels, B, 3, 1, rng));
    /* Channels of the activations the down path saves, in push order: conv_in, each block, each downsample. */
    int64_t saved[1 + UG_UNET_MAX_LEVELS * (UG_UNET_MAX_BLOCKS + 1)];
    int ns = 0;
    saved[ns++] = B;
    int64_t ch = B, res = c.image_size;
    for (int l = 0; l < c.n_levels; l++) {
        u->attn[l] = attn_at(&c, res);
        const int64_t co = B * c.ch_mult[l];
        for (int b = 0; b < c.blocks_per_level; b++) {
            snprintf(pn, sizeof pn, "unet.down.%d.%d", l, b);
            TRY(ug_resblock_init(&u->down[l][b], P, group, pn, ch, co, T, G, rng));
            ch = co;
            if (u->attn[l]) {
                snprintf(pn, sizeof pn, "unet.down_attn.%d.%d", l, b);
                TRY(ug_attn_block_init(&u->down_attn[l][b], P, group, pn, ch, G, rng));
            }
            saved[ns++] = ch;
        }
        if (l + 1 < c.n_levels) {
            snprintf(pn, sizeof pn, "downsample.%d", l);
            TRY(conv_init(&u->downsample[l], P, group, "unet", pn, ch, ch, 3, 2, rng));
            saved[ns++] = ch;
            res /= 2;
        }
    }
    TRY(ug_resblock_init(&u->mid1, P, group, "unet.mid1", ch, ch, T, G, rng));
    TRY(ug_attn_block_init(&u->mid_attn, P, group, "unet.mid_attn", ch, G, rng));
    TRY(ug_resblock_init(&u->mid2, P, group, "unet.mid2", ch, ch, T, G, rng));
    for (int l = c.n_levels - 1; l >= 0; l--) {
        const int64_t co = B * c.ch_mult[l];
        for (int b = 0; b <= c.blocks_per_level; b++) {
            snprintf(pn, sizeof pn, "unet.up.%d.%d", l, b);
            TRY(ug_resblock_init(&u->up[l][b], P, group, pn, ch + saved[--ns], co, T, G, rng));
            ch = co;
            if (u->attn[l]) {
                snprintf(pn, sizeof pn, "unet.up_attn.%d.%d", l, b);
                TRY(ug_attn_block_init(&u->up_attn[l][b], P, group, pn, ch, G, rng));
            }
        }
        if (l > 0) {
            snprintf(pn, sizeof pn, "upsample.%d", l);
            TRY(conv_init(&u->upsample[l], P, group, "unet", pn, ch, ch, 3, 1, rng));
        }
    }
    TRY(gn_init(&u->gn_out_w, &u->gn_out_b, P, group, "unet.gn_out", ch));
    TRY(conv_init(&u->conv_out, P, group, "unet", "conv_out", ch, c.out_channels, 3, 1, rng));
#undef TRY
    return UG_OK;
}

ug_tensor *ug_unet_forward(ug_ctx *ctx, const ug_unet *u, ug_tensor *x, ug_tensor *t) {
    if (!ctx) return NULL;
    if (ug_ctx_status(ctx) != UG_OK) return NULL;
    char sx[64], stt[64];
    if (!u || !x || !t || x->ndim != 4 || x->shape[1] != u->cfg.in_channels || x->shape[2] != u->cfg.image_size ||
        x->shape[3] != u->cfg.image_size || t->ndim != 1 || t->shape[0] != x->shape[0]) {
        ug_ctx_fail(ctx, UG_ERR_ARG, "ug_unet_forward: x %s, t %s for a UNet on [N, %lld, %lld, %lld]",
                    x ? ug_shape_str(x, sx, sizeof sx) : "NULL", t ? ug_shape_str(t, stt, sizeof stt) : "NULL",
                    u ? (long long)u->cfg.in_channels : -1LL, u ? (long long)u->cfg.image_size : -1LL,
                    u ? (long long)u->cfg.image_size : -1LL);
        return NULL;
    }
    const ug_unet_config *c = &u->cfg;
    ug_tensor *e = ug_time_embedding(ctx, t, c->base_channels);                  // [N, base]
    e = ug_silu(ctx, ug_linear_layer_forward(ctx, &u->temb0, e));                // [N, temb]
    e = ug_linear_layer_forward(ctx, &u->temb1, e);                              // [N, temb]
    ug_tensor *saved[1 + UG_UNET_MAX_LEVELS * (UG_UNET_MAX_BLOCKS + 1)];
    int ns = 0;
    ug_tensor *h = ug_conv2d_layer_forward(ctx, &u->conv_in, x);                 // [N, base, H, W]
    saved[ns++] = h;
    for (int l = 0; l < c->n_levels; l++) {
        for (int b = 0; b < c->blocks_per_level; b++) {
            h = ug_resblock_forward(ctx, &u->down[l][b], h, e);                  // [N, C_l, H_l, W_l]
            if (u->attn[l]) h = ug_attn_block_forward(ctx, &u->down_attn[l][b], h);
            saved[ns++] = h;
        }
        if (l + 1 < c->n_levels) {
            h = ug_conv2d_layer_forward(ctx, &u->downsample[l], h);              // [N, C_l, H_l / 2, W_l / 2]
            saved[ns++] = h;
        }
    }
    h = ug_resblock_forward(ctx, &u->mid1, h, e);                                // [N, C, H', W']
    h = ug_attn_block_forward(ctx, &u->mid_attn, h);
    h = ug_resblock_forward(ctx, &u->mid2, h, e);
    for (int l = c->n_levels - 1; l >= 0; l--) {
        for (int b = 0; b <= c->blocks_per_level; b++) {
            ug_tensor *cat[2] = {h, saved[--ns]};
            h = ug_concat(ctx, cat, 2, 1);                                       // [N, C + C_saved, H_l, W_l]
            h = ug_resblock_forward(ctx, &u->up[l][b], h, e);                    // [N, C_l, H_l, W_l]
            if (u->attn[l]) h = ug_attn_block_forward(ctx, &u->up_attn[l][b], h);
        }
        if (l > 0) {
            h = ug_upsample2d(ctx, h, 2, UG_UPSAMPLE_NEAREST);                   // [N, C_l, 2 H_l, 2 W_l]
            h = ug_conv2d_layer_forward(ctx, &u->upsample[l], h);
        }
    }
    h = ug_silu(ctx, ug_group_norm(ctx, h, c->groups, u->gn_out_w, u->gn_out_b, UG_GN_EPS));  // [N, base, H, W]
    return ug_conv2d_layer_forward(ctx, &u->conv_out, h);                        // [N, out, H, W]
}
