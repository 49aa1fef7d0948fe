/* nn.h — parameters in named flat groups, initialisers, and the small layers models are built from.
 *
 * Parameters: a model declares tensors into named groups ("forward", "backward", "logZ", "flow",
 * "energy", or any name). Each group owns ONE flat float block of values and one of gradients, so
 * zero-grad is one memset, an optimizer step is one loop, and a checkpoint is one write per group.
 * Declaring gives a persistent tensor header at once, backed by private zeroed storage so it can be
 * initialised immediately; ug_params_finalize() moves every group into its (64-byte aligned) blocks.
 * Finalize may be called again after more declarations: values and gradients are copied and the
 * header pointers stay the same (only their data pointers move, so do not cache ->data across it).
 *
 * Layers are thin: they declare their parameters and run forward passes with tensor.h's
 * differentiable ops, so gradients of gradients work through them. */
#ifndef UNIGFN_NN_H
#define UNIGFN_NN_H

#include <stdbool.h>
#include <stdint.h>

#include "unigfn/rng.h"
#include "unigfn/status.h"
#include "unigfn/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

#define UG_MAX_GROUPS 64 /* ug_backward takes a uint64_t group mask */

/* ---- Parameter store ---------------------------------------------------------------------- */
typedef struct ug_params ug_params;

ug_params *ug_params_new(void);
/* Frees blocks, headers and names: every ug_tensor* it handed out dies here. */
void ug_params_free(ug_params *P);
/* First error since creation (sticky, like the context's); message names group and parameter. */
ug_status ug_params_status(const ug_params *P);
const char *ug_params_errmsg(const ug_params *P);
/* Record an error on P (first one wins) and return code; for layer builders. P may be NULL. */
ug_status ug_params_fail(ug_params *P, ug_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Group index of `name`, creating the group (empty) if needed; -1 on error (64 groups at most). */
int ug_params_group(ug_params *P, const char *name);
/* Declare a parameter (values start at 0). shape may be NULL when ndim == 0 (a scalar such as log Z).
 * Returns a header with group = group index, is_leaf = 1, requires_grad = 1, name = `name`, and
 * grad = a header over its slice of the gradient block; NULL on error (duplicate name in the group,
 * bad shape, too many groups, no memory). Names are copied. */
ug_tensor *ug_param(ug_params *P, const char *group, const char *name, int ndim,
                    const int64_t *shape);
/* Lay every group out in its flat blocks (parameters in declaration order, packed without gaps). */
ug_status ug_params_finalize(ug_params *P);
/* True when nothing was declared since the last finalize. */
bool ug_params_finalized(const ug_params *P);

/* -1 if absent. */
int ug_params_group_index(const ug_params *P, const char *name);
int ug_params_group_count(const ug_params *P);
/* Any out pointer may be NULL. data/grad are the flat blocks (NULL before the first finalize of a
 * non-empty group); count is the number of floats in the group (its declared parameters' total). */
ug_status ug_params_group_info(const ug_params *P, int g, const char **name, float **data,
                               float **grad, int64_t *count);
/* Parameters of group g in declaration order: ug_params_get(P, g, i) for i < ug_params_group_size. */
int ug_params_group_size(const ug_params *P, int g);
ug_tensor *ug_params_get(const ug_params *P, int g, int i);
/* Offset of parameter i of group g inside the group's flat block (in floats); -1 if out of range. */
int64_t ug_params_offset(const ug_params *P, int g, int i);
/* The parameter called `name` in `group`, or NULL. */
ug_tensor *ug_params_find(const ug_params *P, const char *group, const char *name);
/* Floats over all groups. */
int64_t ug_params_total(const ug_params *P);
/* Zero the gradient blocks of every group whose bit is set (bit g = group g; ~0ull = all). */
void ug_params_zero_grad(ug_params *P, uint64_t group_mask);

/* ---- Initialisers (any contiguous CPU F32 tensor; parameters any time after ug_param) -------- */
ug_status ug_init_uniform(ug_tensor *t, float lo, float hi, ug_rng *rng);  /* U[lo, hi) */
ug_status ug_init_normal(ug_tensor *t, float mean, float std, ug_rng *rng);
ug_status ug_init_const(ug_tensor *t, float value);

/* ---- Activations ---------------------------------------------------------------------------- */
typedef enum ug_act {
    UG_ACT_NONE = 0,   /* identity */
    UG_ACT_RELU,
    UG_ACT_LEAKY_RELU, /* param: negative slope (default 0.01) */
    UG_ACT_ELU,        /* param: alpha (default 1.0) */
    UG_ACT_SILU,
    UG_ACT_GELU,       /* exact erf form */
    UG_ACT_TANH,
    UG_ACT_SIGMOID,
    UG_ACT_SOFTPLUS,
} ug_act;

/* "relu", "leaky_relu", "elu", "silu" (or "swish"), "gelu", "tanh", "sigmoid", "softplus",
 * "none"/"identity"/"linear"; UG_ERR_ARG for anything else (*out untouched). */
ug_status ug_act_from_name(const char *name, ug_act *out);
const char *ug_act_name(ug_act act);
/* The value a param of 0 stands for: 0.01 for leaky_relu, 1.0 for elu, 0 otherwise. */
float ug_act_default_param(ug_act act);
/* Apply an activation; param 0 means the default above. */
ug_tensor *ug_activation(ug_ctx *ctx, ug_tensor *x, ug_act act, float param);

/* ---- Linear layer --------------------------------------------------------------------------- */
typedef struct ug_linear_layer {
    ug_tensor *w;          /* [out, in] */
    ug_tensor *b;          /* [out], NULL without bias */
    int64_t in, out;
} ug_linear_layer;

/* Declares "<name>.w" and "<name>.b" in `group`, initialised as PyTorch's nn.Linear:
 * kaiming_uniform(a = sqrt 5) for w and the bias both give U(-1/sqrt(in), 1/sqrt(in)). */
ug_status ug_linear_layer_init(ug_linear_layer *L, ug_params *P, const char *group, const char *name,
                               int64_t in, int64_t out, bool bias, ug_rng *rng);
/* x [B, in] -> [B, out]. */
ug_tensor *ug_linear_layer_forward(ug_ctx *ctx, const ug_linear_layer *L, ug_tensor *x);

/* ---- Conv2d layer (ABI 1.1) -------------------------------------------------------------------- */
typedef struct ug_conv2d_layer {
    ug_tensor *w;          /* [out, in/groups, kh, kw] */
    ug_tensor *b;          /* [out], NULL without bias */
    int64_t in, out, kh, kw;
    ug_conv2d_opts opts;   /* stride, padding, dilation, groups (output_padding 0) */
} ug_conv2d_layer;

/* Declares "<name>.w" and "<name>.b" in `group`, initialised as PyTorch's nn.Conv2d: kaiming_uniform
 * (a = sqrt 5) for w and the bias both give U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = in/groups kh kw
 * (w first, then b, from rng). opts NULL = stride 1, no padding, dilation 1, groups 1 (see ug_conv2d). */
ug_status ug_conv2d_layer_init(ug_conv2d_layer *L, ug_params *P, const char *group, const char *name, int64_t in,
                               int64_t out, int64_t kh, int64_t kw, const ug_conv2d_opts *opts, bool bias,
                               ug_rng *rng);
/* x [N, in, H, W] -> [N, out, OH, OW] (ug_conv2d with the layer's options). */
ug_tensor *ug_conv2d_layer_forward(ug_ctx *ctx, const ug_conv2d_layer *L, ug_tensor *x);

/* ---- MLP -------------------------------------------------------------------------------------- */
#define UG_MLP_MAX_LAYERS 32

typedef struct ug_mlp {
    int n_layers;
    ug_linear_layer layers[UG_MLP_MAX_LAYERS];
    ug_act act;
    float act_param;       /* resolved (never 0 for leaky_relu/elu) */
} ug_mlp;

/* widths = {in, h1, ..., out} (n_widths >= 2): n_widths-1 linear layers "<name>.<i>" with biases and
 * the activation between them, none after the last. act_param 0 = the activation's default. */
ug_status ug_mlp_init(ug_mlp *mlp, ug_params *P, const char *group, const char *name,
                      const int64_t *widths, int n_widths, ug_act act, float act_param, ug_rng *rng);
/* x [B, widths[0]] -> [B, widths[n_widths-1]]. */
ug_tensor *ug_mlp_forward(ug_ctx *ctx, const ug_mlp *mlp, ug_tensor *x);

/* ---- Sinusoidal time embedding (DDPM / transformer positional encoding) ----------------------
 * t [B] -> [B, dim]. With half = dim / 2 and f_i = exp(-ln(10000) * i / (half - 1)) for
 * i = 0 .. half-1 (f_0 = 1 when half = 1):  out[b, i] = sin(t_b f_i),  out[b, half + i] = cos(t_b f_i);
 * an odd dim gets a final zero column. dim >= 2. The frequencies are constants; the rest is ug_mul,
 * ug_sin, ug_cos and ug_concat, so it is differentiable in t (to any order). */
ug_tensor *ug_time_embedding(ug_ctx *ctx, ug_tensor *t, int64_t dim);

/* ---- Layer norm ------------------------------------------------------------------------------- */
typedef struct ug_layer_norm_layer {
    ug_tensor *gamma;      /* [dim], starts at 1 */
    ug_tensor *beta;       /* [dim], starts at 0 */
    int64_t dim;
    float eps;
} ug_layer_norm_layer;

/* Declares "<name>.gamma" and "<name>.beta". eps <= 0 means PyTorch's 1e-5. */
ug_status ug_layer_norm_init(ug_layer_norm_layer *L, ug_params *P, const char *group,
                             const char *name, int64_t dim, float eps);
/* x [..., dim] -> [..., dim]: (x - mean) / sqrt(var + eps) * gamma + beta over the last axis, with
 * the biased variance (as torch.nn.LayerNorm); built from differentiable ops (second order works). */
ug_tensor *ug_layer_norm(ug_ctx *ctx, const ug_layer_norm_layer *L, ug_tensor *x);


/* ---- UNet parts (ABI 1.1; core/src/nn/unet.c) --------------------------------------------------
 * DDPM-style building blocks with PyTorch's default inits (conv and linear: kaiming_uniform(a = sqrt 5)
 * bounds; GroupNorm weight 1, bias 0; eps 1e-5). */

/* Residual block with a time embedding:
 *   h = conv1(SiLU(GN1(x))) + temb_proj(SiLU(temb))[:, :, None, None]
 *   out = skip(x) + conv2(SiLU(GN2(h)))       skip = 1x1 conv when in != out, else identity.
 * Parameters "<name>.gn1.w/.b", "<name>.conv1.w/.b", "<name>.temb.w/.b", "<name>.gn2.w/.b",
 * "<name>.conv2.w/.b" and, when in != out, "<name>.skip.w/.b", declared (and drawn) in that order. */
typedef struct ug_resblock {
    ug_tensor *gn1_w, *gn1_b;      /* [in] */
    ug_conv2d_layer conv1;         /* in -> out, 3x3, padding 1 */
    ug_linear_layer temb;          /* temb_dim -> out */
    ug_tensor *gn2_w, *gn2_b;      /* [out] */
    ug_conv2d_layer conv2;         /* out -> out, 3x3, padding 1 */
    ug_conv2d_layer skip;          /* in -> out, 1x1; unused (w NULL) when in == out */
    int64_t in, out, temb_dim, groups;
} ug_resblock;

/* groups divides in and out. */
ug_status ug_resblock_init(ug_resblock *R, ug_params *P, const char *group, const char *name, int64_t in,
                           int64_t out, int64_t temb_dim, int64_t groups, ug_rng *rng);
/* x [N, in, H, W], temb [N, temb_dim] -> [N, out, H, W]. */
ug_tensor *ug_resblock_forward(ug_ctx *ctx, const ug_resblock *R, ug_tensor *x, ug_tensor *temb);

/* Self-attention over the H W positions (one head):
 *   h = GN(x); q, k, v = 1x1 convs of h, each viewed as [N, HW, C];
 *   a = softmax(q k^T / sqrt(C)) [N, HW, HW];  out = x + proj((a v) viewed back as [N, C, H, W]).
 * Parameters "<name>.gn.w/.b", "<name>.q/.k/.v/.proj" (.w [C, C, 1, 1], .b [C]), in that order. */
typedef struct ug_attn_block {
    ug_tensor *gn_w, *gn_b;        /* [C] */
    ug_conv2d_layer q, k, v, proj; /* C -> C, 1x1 */
    int64_t ch, groups;
} ug_attn_block;

ug_status ug_attn_block_init(ug_attn_block *A, ug_params *P, const char *group, const char *name, int64_t ch,
                             int64_t groups, ug_rng *rng);
/* x [N, C, H, W] -> [N, C, H, W]. */
ug_tensor *ug_attn_block_forward(ug_ctx *ctx, const ug_attn_block *A, ug_tensor *x);

#define UG_UNET_MAX_LEVELS 6
#define UG_UNET_MAX_BLOCKS 4        /* residual blocks per level */
#define UG_UNET_MAX_ATTN 6

typedef struct ug_unet_config {
    int64_t in_channels, out_channels;
    int64_t base_channels;                      /* channels of level 0 */
    int n_levels;                               /* entries of ch_mult */
    int64_t ch_mult[UG_UNET_MAX_LEVELS];        /* level l has base_channels * ch_mult[l] channels */
    int blocks_per_level;                       /* 1 .. UG_UNET_MAX_BLOCKS (the up path has one more) */
    int n_attn;
    int64_t attn_res[UG_UNET_MAX_ATTN];         /* attention after the blocks of levels of these H */
    int64_t image_size;                         /* H = W, divisible by 2^(n_levels - 1) */
    int64_t temb_dim;                           /* 0 = 4 base_channels */
    int64_t groups;                             /* GroupNorm groups; 0 = 8 */
} ug_unet_config;

/* The DDPM UNet: t -> sinusoidal(base) -> linear -> SiLU -> linear (temb); conv_in 3x3; per level
 * blocks_per_level residual blocks (+ attention at the listed resolutions), then a stride-2 3x3 conv
 * (not after the last level); a middle of res, attn, res; the up path per level (last first) takes
 * blocks_per_level + 1 residual blocks, each on the concat (channels) of its input with the saved
 * activation popped from the down path, then nearest 2x upsampling + 3x3 conv (not at level 0); out =
 * conv 3x3 (SiLU (GN x)). Parameters "unet.<part>..." in that order (temb0, temb1, conv_in, down.<l>.<b>,
 * down_attn.<l>.<b>, downsample.<l>, mid1, mid_attn, mid2, up.<l>.<b>, up_attn.<l>.<b>, upsample.<l>, gn_out,
 * conv_out). */
typedef struct ug_unet {
    ug_unet_config cfg;
    ug_linear_layer temb0, temb1;               /* base -> temb_dim -> temb_dim */
    ug_conv2d_layer conv_in;                    /* in_channels -> base */
    ug_resblock down[UG_UNET_MAX_LEVELS][UG_UNET_MAX_BLOCKS];
    ug_attn_block down_attn[UG_UNET_MAX_LEVELS][UG_UNET_MAX_BLOCKS];
    ug_conv2d_layer downsample[UG_UNET_MAX_LEVELS];      /* stride 2, levels 0 .. n_levels - 2 */
    ug_resblock mid1, mid2;
    ug_attn_block mid_attn;
    ug_resblock up[UG_UNET_MAX_LEVELS][UG_UNET_MAX_BLOCKS + 1];
    ug_attn_block up_attn[UG_UNET_MAX_LEVELS][UG_UNET_MAX_BLOCKS + 1];
    ug_conv2d_layer upsample[UG_UNET_MAX_LEVELS];        /* after nearest 2x, levels 1 .. n_levels - 1 */
    ug_tensor *gn_out_w, *gn_out_b;             /* [base] */
    ug_conv2d_layer conv_out;                   /* base -> out_channels */
    bool attn[UG_UNET_MAX_LEVELS];              /* attention at level l */
} ug_unet;

/* UG_ERR_ARG (on P) for a config out of range: channels <= 0, groups not dividing every width, an
 * image size not divisible by 2^(n_levels - 1). */
ug_status ug_unet_init(ug_unet *u, ug_params *P, const char *group, const ug_unet_config *cfg, ug_rng *rng);
/* x [N, in_channels, H, W] (H = W = image_size), t [N] -> [N, out_channels, H, W]. */
ug_tensor *ug_unet_forward(ug_ctx *ctx, const ug_unet *u, ug_tensor *x, ug_tensor *t);

#ifdef __cplusplus
}
#endif
#endif
