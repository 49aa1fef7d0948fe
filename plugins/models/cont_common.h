/* cont_common.h — pieces the continuous model families (ddpm, score_sde, realnvp, hvae, sb) share:
 * a time-conditioned MLP, per-row lookups into a per-index table, state checks and the allocation of
 * a trajectory batch.
 *
 * Header-only on purpose (STYLE.md "Writing a plugin"): every model is its own shared module and must
 * not link another, so these are static inline and compiled into each plugin that includes them.
 * Include after `#define UG_PLUGIN` and "unigfn/plugin.h". */
#ifndef UG_MODELS_CONT_COMMON_H
#define UG_MODELS_CONT_COMMON_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* ---- time-conditioned MLP: net(x, t) = MLP([x, emb(t_scale * t)]) ------------------------------
 * The sinusoidal embedding of ug_time_embedding is concatenated to the input, as in the small 2-D
 * diffusion networks (Ho's integer t; continuous t in [0, 1] wants t_scale ~ 1000 so the embedding's
 * highest frequency sees distinct times). Everything is ops, so the output is differentiable in x and
 * in t to any order (sliced score matching differentiates it twice in x). */
typedef struct ugm_time_mlp {
    ug_mlp mlp;
    int64_t in, out, temb;   /* x width, output width, embedding width (0: no time input) */
    float t_scale;
} ugm_time_mlp;

/* hidden: n_hidden widths; the layers are "<name>.<i>" in `group`. */
static inline ug_status ugm_time_mlp_init(ugm_time_mlp *n, ug_params *P, const char *group, const char *name,
                                          int64_t in, int64_t out, int64_t temb, float t_scale, const int64_t *hidden,
                                          int n_hidden, ug_act act, ug_rng *rng) {
    int64_t w[UG_MLP_MAX_LAYERS + 1];
    if (n_hidden < 0 || n_hidden + 2 > UG_MLP_MAX_LAYERS + 1)
        return ug_params_fail(P, UG_ERR_ARG, "%s: %d hidden layers (at most %d)", name, n_hidden, UG_MLP_MAX_LAYERS - 1);
    if (temb == 1)
        return ug_params_fail(P, UG_ERR_ARG, "%s: a time embedding needs width >= 2 (or 0 for none)", name);
    n->in = in;
    n->out = out;
    n->temb = temb;
    n->t_scale = t_scale;
    w[0] = in + temb;
    for (int i = 0; i < n_hidden; i++) w[i + 1] = hidden[i];
    w[n_hidden + 1] = out;
    return ug_mlp_init(&n->mlp, P, group, name, w, n_hidden + 2, act, 0.0f, rng);
}

/* x [B, in], t [B] F32 (or NULL when temb == 0) -> [B, out]. */
static inline ug_tensor *ugm_time_mlp_forward(ug_ctx *ctx, const ugm_time_mlp *n, ug_tensor *x, ug_tensor *t) {
    if (n->temb == 0) return ug_mlp_forward(ctx, &n->mlp, x);
    ug_tensor *ts = n->t_scale == 1.0f ? t : ug_mul_scalar(ctx, t, n->t_scale);  // [B]
    ug_tensor *parts[2] = {x, ug_time_embedding(ctx, ts, n->temb)};             // [B, in], [B, temb]
    return ug_mlp_forward(ctx, &n->mlp, ug_concat(ctx, parts, 2, 1));            // [B, out]
}

/* A [B] F32 tensor holding the same value in every row (a batch-wide time or index). */
static inline ug_tensor *ugm_fill_rows(ug_ctx *ctx, int64_t B, float v) { return ug_full(ctx, 1, &B, v); }

/* ---- per-row lookups into a per-index table ------------------------------------------------------
 * one_hot(k) [B, n] @ table [n, cols] -> [B, cols]: per-row indices never need host access, and a
 * table that is a parameter (a learned schedule) stays differentiable. */
static inline ug_tensor *ugm_by_row(ug_ctx *ctx, ug_tensor *onehot, ug_tensor *table) {
    return ug_matmul(ctx, onehot, table);
}
/* A host column of n values as a [n, 1] table. */
static inline ug_tensor *ugm_column(ug_ctx *ctx, const float *v, int64_t n) {
    int64_t sh[2] = {n, 1};
    return ug_from_f32(ctx, v, 2, sh);
}

/* ---- checks --------------------------------------------------------------------------------------- */
/* s must be F32 [B, D] with B > 0; fails the context naming the plugin, the call and the shape. */
static inline bool ugm_check_states(ug_ctx *ctx, const ug_tensor *s, int64_t D, const char *who) {
    char b[64];
    if (s && s->ndim == 2 && s->shape[1] == D && s->shape[0] > 0 && s->dtype == UG_F32) return true;
    ug_ctx_fail(ctx, UG_ERR_ARG, "%s: states must be F32 [B, %lld], got %s", who, (long long)D,
                s ? ug_shape_str(s, b, sizeof b) : "NULL");
    return false;
}
/* k must be I32 [B]. */
static inline bool ugm_check_rows(ug_ctx *ctx, const ug_tensor *k, int64_t B, const char *who) {
    char b[64];
    if (k && k->ndim == 1 && k->shape[0] == B && k->dtype == UG_I32) return true;
    ug_ctx_fail(ctx, UG_ERR_ARG, "%s: the row indices must be I32 [%lld], got %s", who, (long long)B,
                k ? ug_shape_str(k, b, sizeof b) : "NULL");
    return false;
}

/* ---- a trajectory batch ---------------------------------------------------------------------------
 * Arrays for `steps` steps in the step arena, zeroed: log_pf, log_pb, and the steps+1 states, which
 * are kept in `extra` too (continuous families rescore from states; model.h C8), so `states` may be
 * set to NULL at the end when the caller did not ask for UG_TRAJ_KEEP_STATES. */
static inline ug_status ugm_traj_alloc(ug_ctx *ctx, ug_traj *out, int64_t B, int start, int steps, const char *who) {
    size_t np = sizeof(ug_tensor *), ns = (size_t)(steps > 0 ? steps : 1);
    ug_tensor **states = ug_arena_alloc(ctx, np * (size_t)(steps + 1));
    out->batch = B;
    out->start = start;
    out->steps = steps;
    out->log_pf = ug_arena_alloc(ctx, np * ns);
    out->log_pb = ug_arena_alloc(ctx, np * ns);
    out->mask = NULL;
    out->actions = NULL;
    out->first = out->last = NULL;
    out->extra = states;
    out->states = states;
    if (!states || !out->log_pf || !out->log_pb)
        return ug_ctx_fail(ctx, UG_ERR_NOMEM, "%s: out of step memory for a trajectory batch", who);
    memset(states, 0, np * (size_t)(steps + 1));
    memset(out->log_pf, 0, np * ns);
    memset(out->log_pb, 0, np * ns);
    return UG_OK;
}

/* Finish a batch: drop the public states unless they were asked for. */
static inline void ugm_traj_finish(ug_traj *out, uint32_t flags) {
    if (!(flags & UG_TRAJ_KEEP_STATES)) out->states = NULL;
}

#endif
