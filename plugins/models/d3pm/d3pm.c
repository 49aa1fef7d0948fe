/* d3pm.c — discrete diffusion (D3PM, Austin et al. 2021) as a GFlowNet (paper Obs. 5, Eq. 9-10;
 * docs/families.md §6): the model's options, its trajectory sampler in both directions with scoped
 * step memory, rescoring, the closed-form marginal (anchor), the per-step ELBO terms (step_kl), and the
 * plugin's export (the model and the objective d3pm_hybrid). d3pm.h states the indices and the
 * policies; d3pm_steps.c the step masses and closed forms; d3pm_sched.c the schedules.
 *
 * Data: any binary or categorical dataset (K from its space; binary is K = 2); continuous data are
 * refused (ddpm, score_sde cover them). States are the dataset's [B, D] layout of float codes; a
 * network sees them one-hot. The network is an MLP on [onehot(s_k), emb(T+1-k)] with D·K outputs, the
 * logits of p̃_θ(x̃ | s_k) per coordinate (convolutional networks for images come later).
 *
 * Memory: as in the ddpm plugin, each step's network pass runs in an arena scope whose results are
 * copied out when they carry no graph (evaluation, sampling, TBC with the forward group untracked), so a
 * T-step walk without grad holds one step's activations; without UG_TRAJ_KEEP_STATES the scoped states
 * live in two alternating buffers and such a batch cannot be rescored (extra = NULL).
 *
 * Requests: partial trajectories both ways; `temperature` divides P_F's logits (the root's uniform law
 * and the absorbing root's Dirac are unchanged by it); `explore` replaces each coordinate of a step, with
 * that probability, by a value drawn uniformly from those P_F allows (the uniform kernel: all K; the
 * absorbing one: an unmasked coordinate can only stay); backward requests ignore both (P_B is not
 * tempered). UG_TRAJ_REPARAM is refused (the steps are discrete); UG_TRAJ_ANCHOR draws s_k ~ P_B(s_k | x)
 * in closed form. actions = NULL: rescore needs the states. */
#define UG_PLUGIN
#include "d3pm.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HIDDEN (UG_MLP_MAX_LAYERS - 1) /* widths {in, hidden..., out} fit ug_mlp */
#define MAX_WIDTH (1 << 22)                /* input units D·Ks and output units D·K */

static const ug_param_spec d3pm_params[] = {
    {"steps", UG_P_INT, "100", UG_P_MIN | UG_P_MAX, 2, 10000, NULL, "T noise levels (horizon T+1 with the root step)"},
    {"kernel", UG_P_ENUM, "uniform", 0, 0, 0, "uniform|absorbing",
     "transition matrices: (1-beta) I + beta/K 11^T, or absorbing into a [MASK] state (states then have K+1 codes)"},
    {"schedule", UG_P_ENUM, "cosine", 0, 0, 0, "cosine|linear|jsd",
     "beta_bar as Austin et al.'s code: Hoogeboom's cosine, linear from beta_start to beta_end, or jsd 1/(T-t+1)"},
    {"beta_start", UG_P_FLOAT, "0.01", UG_P_MIN | UG_P_MIN_OPEN | UG_P_MAX, 0, 1, NULL,
     "linear: beta at the first noising step (Austin's t = 1)"},
    {"beta_end", UG_P_FLOAT, "1", UG_P_MIN | UG_P_MIN_OPEN | UG_P_MAX, 0, 1, NULL,
     "linear: beta at the last noising step (t = T); the absorbing kernel needs 1"},
    {"hidden", UG_P_INT_LIST, "[256, 256, 256]", UG_P_MIN | UG_P_MAX, 1, MAX_WIDTH, NULL,
     "hidden widths of the x0-network MLP"},
    {"act", UG_P_ENUM, "silu", 0, 0, 0, "silu|relu|leaky_relu|elu|gelu|tanh|softplus", "activation of the x0-network"},
    {"temb", UG_P_INT, "64", UG_P_MIN | UG_P_MAX, 2, 4096, NULL,
     "width of the sinusoidal embedding of t = T+1-k, concatenated to the one-hot state"},
    {"pf_beta", UG_P_ENUM, "learned", 0, 0, 0, "learned|fixed",
     "beta inside P_F: the learned beta_bar exp(phi) as a constant, or beta_bar (P_F then ignores phi)"},
    {"dim", UG_P_INT, "0", UG_P_MIN | UG_P_MAX, 0, 1 << 20, NULL, "D when the run has no dataset (0 = the dataset's D)"},
    {"categories", UG_P_INT, "0", UG_P_MIN | UG_P_MAX, 0, D3PM_MAX_K, NULL,
     "K when the run has no dataset (0 = the dataset's; 2 means binary)"},
    {NULL, 0, NULL, 0, 0, 0, NULL, NULL},
};

/* ---- scoped steps (the ddpm plugin's pattern) ---------------------------------------------------- */

static bool keepable(ug_ctx *ctx, const ug_tensor *v) { return !v || !(ug_grad_enabled(ctx) && v->requires_grad); }

static ug_tensor *other(ug_tensor *const pair[2], const ug_tensor *cur) { return cur == pair[0] ? pair[1] : pair[0]; }

/* Close a step's scope: when both results are keepable, copy them into a / b (made before the mark)
 * and release the scope's memory; *ra / *rb then point at the copies. Otherwise keep everything. */
static bool close_scope(ug_ctx *ctx, ug_mark mk, ug_tensor **ra, ug_tensor *a, ug_tensor **rb, ug_tensor *b) {
    if (ug_ctx_status(ctx) || !keepable(ctx, *ra) || !keepable(ctx, rb ? *rb : NULL)) return false;
    if (*ra && (!a || ug_copy_into(ctx, a, *ra))) return false;
    if (rb && *rb && (!b || ug_copy_into(ctx, b, *rb))) return false;
    if (!ug_arena_release(ctx, mk)) return false;
    if (*ra) *ra = a;
    if (rb && *rb) *rb = b;
    return true;
}

static ug_tensor *vec(ug_ctx *ctx, int64_t B, bool want) { return want ? ug_new1(ctx, B) : NULL; }

/* log P_F(sp | s) at step k in its own scope, copied into a [B] tensor when it has no graph. */
static ug_tensor *scoped_log_pf(d3pm *m, ug_ctx *ctx, const d3pm_sched *sc, ug_tensor *s, ug_tensor *sp, int k) {
    ug_tensor *buf = ug_new1(ctx, s->shape[0]);  // [B]
    ug_mark mk = ug_arena_mark(ctx);
    ug_tensor *lpf = d3pm_log_pf(m, ctx, sc, s, sp, k);
    close_scope(ctx, mk, &lpf, buf, NULL, NULL);
    return lpf;
}

/* ---- forward ----------------------------------------------------------------------------------- */

static ug_status d3pm_sample_forward(void *self, ug_ctx *ctx, ug_rng *rng, const ug_traj_req *req, ug_traj *out) {
    d3pm *m = self;
    const char *who = "d3pm.sample_forward";
    if (ug_ctx_status(ctx)) return ug_ctx_status(ctx);
    if (!req || !out || !rng) return ug_ctx_fail(ctx, UG_ERR_ARG, "%s: NULL request, output or rng", who);
    const int n = m->T + 1;
    const uint32_t fl = req->flags;
    if (fl & UG_TRAJ_REPARAM)
        return ug_ctx_fail(ctx, UG_ERR_UNSUPPORTED, "%s: discrete steps cannot be reparameterized (UG_TRAJ_REPARAM)", who);
    if (fl & UG_TRAJ_ANCHOR) return ug_ctx_fail(ctx, UG_ERR_ARG, "%s: UG_TRAJ_ANCHOR is for backward requests", who);
    const float temp = req->temperature == 0.0f ? 1.0f : req->temperature;
    if (!(temp > 0.0f) || !isfinite(temp) || !(req->explore >= 0.0f && req->explore <= 1.0f))
        return ug_ctx_fail(ctx, UG_ERR_ARG, "%s: temperature %g must be > 0 and explore %g in [0, 1]", who,
                           (double)req->temperature, (double)req->explore);
    int i0 = req->start ? req->start_index : 0;
    int64_t B = req->start ? (req->start->ndim > 0 ? req->start->shape[0] : 0) : req->batch;
    int steps = req->steps < 0 ? n - i0 : req->steps;
    if (B <= 0 || i0 < 0 || i0 > n || steps < 0 || steps > n - i0)
        return ug_ctx_fail(ctx, UG_ERR_ARG, "%s: %d steps from index %d for batch %lld (horizon %d)", who, steps, i0,
                           (long long)B, n);
    if (req->start && !d3pm_check_index(m, ctx, req->start, i0, who, "the start state")) return ug_ctx_status(ctx);
    d3pm_sched sc;
    if (d3pm_schedule(m, ctx, &sc) || ugm_traj_alloc(ctx, out, B, i0, steps, who)) return ug_ctx_status(ctx);
    int64_t sh[2] = {B, m->D};
    bool keep = fl & UG_TRAJ_KEEP_STATES, reused = false;
    ug_tensor *pair[2] = {NULL, NULL};
    if (!keep) pair[0] = ug_new(ctx, UG_F32, 2, sh), pair[1] = ug_new(ctx, UG_F32, 2, sh);  // [B, D] each
    ug_tensor **states = out->extra;
    ug_tensor *s = req->start ? req->start : ug_zeros(ctx, 2, sh);  // [B, D] (zeros: the root)
    states[0] = out->first = s;
    for (int t = 0; t < steps && !ug_ctx_status(ctx); t++) {
        int k = i0 + t;
        /* P_F: the network pass and the draw, scoped */
        ug_tensor *dst = keep ? ug_new(ctx, UG_F32, 2, sh) : other(pair, s), *lbuf = vec(ctx, B, !(fl & UG_TRAJ_NO_PF));
        ug_mark mk = ug_arena_mark(ctx);
        ug_tensor *lpf = NULL;
        ug_tensor *sp = d3pm_pf_sample(m, ctx, rng, &sc, s, k, temp, req->explore, (fl & UG_TRAJ_NO_PF) ? NULL : &lpf);
        if (!sp) break;
        if (close_scope(ctx, mk, &sp, dst, &lpf, lbuf)) reused = reused || !keep;
        out->log_pf[t] = lpf;
        /* P_B: a [B, D, Ks] table, scoped when it carries no graph (φ untracked) */
        if (!(fl & UG_TRAJ_NO_PB)) {
            ug_tensor *bbuf = ug_new1(ctx, B);
            ug_mark mb = ug_arena_mark(ctx);
            ug_tensor *lpb = d3pm_log_pb(m, ctx, &sc, s, sp, k);
            close_scope(ctx, mb, &lpb, bbuf, NULL, NULL);
            out->log_pb[t] = lpb;
        }
        states[t + 1] = s = sp;
    }
    out->last = s;
    ugm_traj_finish(out, fl);
    if (reused) out->extra = NULL;  /* the alternating buffers hold only the last two states */
    return ug_ctx_status(ctx);
}

/* ---- backward ---------------------------------------------------------------------------------- */

/* s_k ~ P_B(s_k | x) for each row's k = row_index[b] (the root, zeros, at k = 0). */
static ug_status sample_anchor(d3pm *m, ug_ctx *ctx, ug_rng *rng, const ug_traj_req *req, ug_traj *out) {
    const char *who = "d3pm.sample_backward(anchor)";
    if (req->start_index != m->T + 1 || req->size <= offsetof(ug_traj_req, row_index) || !req->row_index)
        return ug_ctx_fail(ctx, UG_ERR_ARG, "%s: an anchored request starts at x (index %d), with row_index", who, m->T + 1);
    if (req->flags & UG_TRAJ_REPARAM)
        return ug_ctx_fail(ctx, UG_ERR_UNSUPPORTED, "%s: discrete draws cannot be reparameterized", who);
    if (!d3pm_check_index(m, ctx, req->start, m->T + 1, who, "x")) return ug_ctx_status(ctx);
    int64_t B = req->start->shape[0];
    if (!ugm_check_rows(ctx, req->row_index, B, who)) return ug_ctx_status(ctx);
    int32_t *kh = ug_arena_alloc(ctx, sizeof(int32_t) * (size_t)B);
    if (!kh) return ug_ctx_fail(ctx, UG_ERR_NOMEM, "%s: out of step memory", who);
    if (ug_tensor_get(ctx, req->row_index, kh, B)) return ug_ctx_status(ctx);
    for (int64_t b = 0; b < B; b++)
        if (kh[b] < 0 || kh[b] > m->T)
            return ug_ctx_fail(ctx, UG_ERR_ARG, "%s: row %lld asks for index %d (0 .. %d)", who, (long long)b, kh[b], m->T);
    d3pm_sched sc;
    if (d3pm_schedule(m, ctx, &sc)) return ug_ctx_status(ctx);
    ug_tensor *s = d3pm_marginal_sample(m, ctx, rng, req->start, kh);  // [B, D]
    *out = (ug_traj){.size = out->size, .batch = B, .start = -1, .steps = 0, .first = s, .last = s};
    return ug_ctx_status(ctx);
}

static ug_status d3pm_sample_backward(void *self, ug_ctx *ctx, ug_rng *rng, const ug_traj_req *req, ug_traj *out) {
    d3pm *m = self;
    const char *who = "d3pm.sample_backward";
    if (ug_ctx_status(ctx)) return ug_ctx_status(ctx);
    if (!req || !out || !rng || !req->start)
        return ug_ctx_fail(ctx, UG_ERR_ARG, "%s: needs a request with start states, an output and an rng", who);
    if (!ugm_check_states(ctx, req->start, m->D, who)) return ug_ctx_status(ctx);
    const uint32_t fl = req->flags;
    if (fl & UG_TRAJ_ANCHOR) return sample_anchor(m, ctx, rng, req, out);
    if (fl & UG_TRAJ_REPARAM)
        return ug_ctx_fail(ctx, UG_ERR_UNSUPPORTED, "%s: discrete steps cannot be reparameterized (UG_TRAJ_REPARAM)", who);
    const int n = m->T + 1;
    int j = req->start_index, steps = req->steps < 0 ? j : req->steps;
    if (j < 0 || j > n || steps < 0 || steps > j)
        return ug_ctx_fail(ctx, UG_ERR_ARG, "%s: %d steps from index %d (horizon %d)", who, steps, j, n);
    if (!d3pm_check_index(m, ctx, req->start, j, who, j == n ? "x" : "the start state")) return ug_ctx_status(ctx);
    int64_t B = req->start->shape[0], sh[2] = {B, m->D};
    d3pm_sched sc;
    if (d3pm_schedule(m, ctx, &sc) || ugm_traj_alloc(ctx, out, B, j - steps, steps, who)) return ug_ctx_status(ctx);
    bool keep = fl & UG_TRAJ_KEEP_STATES, reused = false;
    ug_tensor *pair[2] = {NULL, NULL};
    if (!keep) pair[0] = ug_new(ctx, UG_F32, 2, sh), pair[1] = ug_new(ctx, UG_F32, 2, sh);  // [B, D] each
    ug_tensor **states = out->extra;
    ug_tensor *sp = req->start;  // [B, D] s_{k+1}
    states[steps] = out->last = sp;
    for (int t = 0; t < steps && !ug_ctx_status(ctx); t++) {
        int k = j - 1 - t, local = steps - 1 - t;  // step k: s_k -> s_{k+1} = sp
        /* P_B: draw s_k and its log P_B, scoped when neither carries a graph */
        ug_tensor *dst = keep ? ug_new(ctx, UG_F32, 2, sh) : other(pair, sp), *bbuf = vec(ctx, B, !(fl & UG_TRAJ_NO_PB));
        ug_mark mk = ug_arena_mark(ctx);
        ug_tensor *s = k == 0 ? ug_zeros(ctx, 2, sh) : d3pm_pb_sample(m, ctx, rng, sp, k);  // [B, D]
        if (!s) break;
        ug_tensor *lpb = (fl & UG_TRAJ_NO_PB) ? NULL : d3pm_log_pb(m, ctx, &sc, s, sp, k);  // [B]
        if (close_scope(ctx, mk, &s, dst, &lpb, bbuf)) reused = reused || !keep;
        /* P_F: the network pass, scoped */
        out->log_pf[local] = (fl & UG_TRAJ_NO_PF) ? NULL : scoped_log_pf(m, ctx, &sc, s, sp, k);
        out->log_pb[local] = lpb;
        states[local] = sp = s;
    }
    out->first = sp;
    ugm_traj_finish(out, fl);
    if (reused) out->extra = NULL;
    return ug_ctx_status(ctx);
}

/* ---- rescore ----------------------------------------------------------------------------------- */

static ug_status d3pm_rescore(void *self, ug_ctx *ctx, ug_traj *traj, uint32_t flags) {
    d3pm *m = self;
    const char *who = "d3pm.rescore";
    if (ug_ctx_status(ctx)) return ug_ctx_status(ctx);
    ug_tensor **states = traj ? (traj->states ? traj->states : traj->extra) : NULL;
    if (!states || traj->start < 0 || traj->steps < 0 || traj->start + traj->steps > m->T + 1)
        return ug_ctx_fail(ctx, UG_ERR_ARG, "%s: needs the trajectory's states (sample with UG_TRAJ_KEEP_STATES) within "
                                            "indices 0 .. %d", who, m->T + 1);
    d3pm_sched sc;
    if (d3pm_schedule(m, ctx, &sc)) return ug_ctx_status(ctx);
    size_t np = sizeof(ug_tensor *) * (size_t)(traj->steps > 0 ? traj->steps : 1);
    if ((!traj->log_pf && !(traj->log_pf = ug_arena_alloc(ctx, np))) || (!traj->log_pb && !(traj->log_pb = ug_arena_alloc(ctx, np))))
        return ug_ctx_fail(ctx, UG_ERR_NOMEM, "%s: out of step memory", who);
    for (int t = 0; t <= traj->steps; t++) {
        char what[48];
        snprintf(what, sizeof what, "the state at index %d", traj->start + t);
        if (!d3pm_check_index(m, ctx, states[t], traj->start + t, who, what)) return ug_ctx_status(ctx);
        if (states[t]->shape[0] != states[0]->shape[0])
            return ug_ctx_fail(ctx, UG_ERR_ARG, "%s: states[%d] has %lld rows, states[0] %lld", who, t,
                               (long long)states[t]->shape[0], (long long)states[0]->shape[0]);
    }
    for (int t = 0; t < traj->steps; t++) {
        int k = traj->start + t;
        if (!(flags & UG_TRAJ_NO_PF)) traj->log_pf[t] = scoped_log_pf(m, ctx, &sc, states[t], states[t + 1], k);
        if (!(flags & UG_TRAJ_NO_PB)) traj->log_pb[t] = d3pm_log_pb(m, ctx, &sc, states[t], states[t + 1], k);
    }
    return ug_ctx_status(ctx);
}

/* ---- closed forms ------------------------------------------------------------------------------ */

/* Rows of s [B, D] are states of their own index k[b] (host): the root row is not read. */
static bool check_rows(d3pm *m, ug_ctx *ctx, const ug_tensor *s, const int32_t *kh, const char *who) {
    const int64_t B = s->shape[0], D = m->D;
    float *v = ug_arena_alloc(ctx, sizeof(float) * (size_t)(B * D));
    if (!v) {
        ug_ctx_fail(ctx, UG_ERR_NOMEM, "%s: out of step memory", who);
        return false;
    }
    if (ug_tensor_get(ctx, s, v, B * D)) return false;
    for (int64_t b = 0; b < B; b++) {
        if (kh[b] == 0) continue;
        bool all_mask = m->kernel == D3PM_ABSORBING && kh[b] == 1;
        for (int64_t d = 0; d < D; d++) {
            float c = v[b * D + d];
            bool ok = all_mask ? c == (float)m->K : (c >= 0 && c < (float)m->Ks && c == floorf(c));
            if (!ok) {
                ug_ctx_fail(ctx, UG_ERR_ARG, "%s: s row %lld (index %d) column %lld holds %g; want %s", who, (long long)b,
                            kh[b], (long long)d, (double)c, all_mask ? "[MASK] everywhere at index 1" : "a state code");
                return false;
            }
        }
    }
    return true;
}

static ug_tensor *d3pm_step_kl(void *self, ug_ctx *ctx, ug_tensor *x, ug_tensor *s, ug_tensor *k) {
    d3pm *m = self;
    const char *who = "d3pm.step_kl";
    if (ug_ctx_status(ctx)) return NULL;
    if (!d3pm_check_index(m, ctx, x, m->T + 1, who, "x") || !ugm_check_states(ctx, s, m->D, who)) return NULL;
    int64_t B = x->shape[0];
    char b1[64], b2[64];
    if (s->shape[0] != B) {
        ug_ctx_fail(ctx, UG_ERR_ARG, "%s: x %s and s %s differ in rows", who, ug_shape_str(x, b1, sizeof b1),
                    ug_shape_str(s, b2, sizeof b2));
        return NULL;
    }
    d3pm_k kk;
    d3pm_sched sc;
    if (!d3pm_rows(m, ctx, k, B, who, &kk)) return NULL;
    int32_t *kh = ug_arena_alloc(ctx, sizeof(int32_t) * (size_t)B);
    if (!kh || ug_tensor_get(ctx, k, kh, B) || !check_rows(m, ctx, s, kh, who) || d3pm_schedule(m, ctx, &sc)) return NULL;
    ug_tensor *kl = d3pm_kl_terms(m, ctx, &sc, &kk, x, s, NULL);          // [B] k >= 1
    ug_tensor *root = ug_eq(ctx, kk.t, ug_scalar(ctx, (float)(m->T + 1)));  // [B] k = 0
    return ug_where(ctx, root, d3pm_prior_kl(m, ctx, &sc), kl);           // [B]
}

/* ---- plugin ------------------------------------------------------------------------------------ */

static void d3pm_info(void *self, ug_model_info *out) {
    const d3pm *m = self;
    size_t n = out->size < sizeof *out ? out->size : sizeof *out;  /* an older host's shorter struct */
    memcpy(out, &m->info, n);
    out->size = (uint32_t)n;
}

static void d3pm_destroy(void *self) {
    d3pm *m = self;
    if (!m) return;
    free(m->beta_bar);
    free(m->hb);
    free(m->pf_col);
    free(m);
}

static void *fail_create(d3pm *m, ug_error *err, ug_status code, const char *msg) {
    ug_error_set(err, code, "d3pm: %s", msg);
    d3pm_destroy(m);
    return NULL;
}

/* D and K from the dataset (binary or categorical) or the dim/categories keys. */
static bool resolve_space(const ug_create_args *a, ug_space *sp, char *msg, size_t cap) {
    int64_t dim = ug_cfg_int(a->cfg, "dim", 0), cats = ug_cfg_int(a->cfg, "categories", 0);
    if (a->data) {
        const ug_space *ds = &a->data->info.space;
        const char *name = a->data->name ? a->data->name : "?";
        if (ds->kind != UG_SPACE_BINARY && ds->kind != UG_SPACE_CATEGORICAL) {
            snprintf(msg, cap, "dataset '%s' is %s (D = %lld); discrete diffusion needs a binary or categorical dataset "
                     "(for continuous data use ddpm or score_sde)", name,
                     ds->kind == UG_SPACE_CONTINUOUS ? "continuous" : "of an unknown kind", (long long)ds->dim);
            return false;
        }
        *sp = *ds;
        if (ds->kind == UG_SPACE_BINARY) sp->categories = 2;
        if ((dim > 0 && dim != sp->dim) || (cats > 0 && cats != sp->categories)) {
            snprintf(msg, cap, "dim %lld / categories %lld disagree with dataset '%s' (D = %lld, K = %lld); leave them at 0",
                     (long long)dim, (long long)cats, name, (long long)sp->dim, (long long)sp->categories);
            return false;
        }
    } else {
        *sp = (ug_space){.kind = cats == 2 ? UG_SPACE_BINARY : UG_SPACE_CATEGORICAL, .dim = dim, .categories = cats};
    }
    if (sp->dim < 1 || sp->categories < 2 || sp->categories > D3PM_MAX_K) {
        snprintf(msg, cap, "D = %lld, K = %lld (need D >= 1 and 2 <= K <= %d; give dim and categories when there is no "
                 "dataset)", (long long)sp->dim, (long long)sp->categories, D3PM_MAX_K);
        return false;
    }
    return true;
}

static void *d3pm_create(const ug_create_args *a, ug_error *err) {
    if (!a || !a->params || !a->rng || !a->cfg) {
        ug_error_set(err, UG_ERR_ARG, "d3pm: create needs a config, params and rng");
        return NULL;
    }
    d3pm *m = calloc(1, sizeof *m);
    char msg[320];
    if (!m) return fail_create(m, err, UG_ERR_NOMEM, "out of memory");
    ug_space sp;
    if (!resolve_space(a, &sp, msg, sizeof msg)) return fail_create(m, err, UG_ERR_ARG, msg);
    const char *kern = ug_cfg_str(a->cfg, "kernel", "uniform"), *pfb = ug_cfg_str(a->cfg, "pf_beta", "learned");
    if (strcmp(kern, "uniform") != 0 && strcmp(kern, "absorbing") != 0) {
        snprintf(msg, sizeof msg, "kernel '%s' is neither uniform nor absorbing", kern);
        return fail_create(m, err, UG_ERR_ARG, msg);
    }
    if (strcmp(pfb, "learned") != 0 && strcmp(pfb, "fixed") != 0) {
        snprintf(msg, sizeof msg, "pf_beta '%s' is neither learned nor fixed", pfb);
        return fail_create(m, err, UG_ERR_ARG, msg);
    }
    m->kernel = strcmp(kern, "absorbing") == 0 ? D3PM_ABSORBING : D3PM_UNIFORM;
    m->pf_fixed = strcmp(pfb, "fixed") == 0;
    m->D = sp.dim;
    m->K = sp.categories;
    m->Ks = m->K + (m->kernel == D3PM_ABSORBING ? 1 : 0);
    if ((double)m->D * (double)m->Ks > MAX_WIDTH) {
        snprintf(msg, sizeof msg, "D = %lld with %lld state codes makes %g network inputs (at most %d)", (long long)m->D,
                 (long long)m->Ks, (double)m->D * (double)m->Ks, MAX_WIDTH);
        return fail_create(m, err, UG_ERR_ARG, msg);
    }
    m->T = (int)ug_cfg_int(a->cfg, "steps", 100);
    if (m->T < 2) return fail_create(m, err, UG_ERR_ARG, "steps must be >= 2");
    size_t n2 = (size_t)m->T + 2;
    m->beta_bar = calloc(n2, sizeof(double));
    m->hb = calloc(4 * n2, sizeof(double));  /* hb, hab, fb, fab */
    m->pf_col = calloc(4 * ((size_t)m->T + 1), sizeof(float));
    if (!m->beta_bar || !m->hb || !m->pf_col) return fail_create(m, err, UG_ERR_NOMEM, "out of memory");
    m->hab = m->hb + n2, m->fb = m->hb + 2 * n2, m->fab = m->hb + 3 * n2;
    if (!d3pm_beta_bar(m, ug_cfg_str(a->cfg, "schedule", "cosine"), ug_cfg_float(a->cfg, "beta_start", 0.01),
                       ug_cfg_float(a->cfg, "beta_end", 1.0), err)) {
        d3pm_destroy(m);
        return NULL;
    }
    int64_t hid[MAX_HIDDEN];
    int nh = ug_cfg_ints(a->cfg, "hidden", hid, MAX_HIDDEN);
    if (nh < 0) nh = 3, hid[0] = hid[1] = hid[2] = 256;
    if (nh < 1 || nh > MAX_HIDDEN) {
        snprintf(msg, sizeof msg, "%d hidden layers (1 to %d)", nh, MAX_HIDDEN);
        return fail_create(m, err, UG_ERR_ARG, msg);
    }
    ug_act act;
    const char *act_name = ug_cfg_str(a->cfg, "act", "silu");
    if (ug_act_from_name(act_name, &act)) {
        snprintf(msg, sizeof msg, "unknown activation '%s'", act_name);
        return fail_create(m, err, UG_ERR_ARG, msg);
    }
    int64_t temb = ug_cfg_int(a->cfg, "temb", 64), tsh[1] = {m->T};
    if (ugm_time_mlp_init(&m->net, a->params, "forward", "x0", m->D * m->Ks, m->D * m->K, temb, 1.0f, hid, nh, act, a->rng) ||
        !(m->phi = ug_param(a->params, "backward", "phi", 1, tsh)) || ug_params_finalize(a->params)) {
        snprintf(msg, sizeof msg, "parameters: %s", ug_params_errmsg(a->params));
        return fail_create(m, err, UG_ERR_ARG, msg);
    }
    m->info = (ug_model_info){.size = sizeof(ug_model_info), .space = sp, .horizon = m->T + 1};
    m->info.caps = UG_CAP_PARTIAL | UG_CAP_ANCHOR | UG_CAP_STEP_KL;
    return m;
}

static const ug_model_vtable d3pm_vt = {
    .size = sizeof(ug_model_vtable),
    .info = d3pm_info,
    .sample_forward = d3pm_sample_forward,
    .sample_backward = d3pm_sample_backward,
    .rescore = d3pm_rescore,
    .step_kl = d3pm_step_kl,
};

static const ug_plugin_desc d3pm_desc = {
    UG_DESC_HEADER(UG_KIND_MODEL),
    .name = "d3pm",
    .version = "0.1.0",
    .summary = "D3PM discrete diffusion as a GFlowNet: uniform or absorbing kernel, x0-parameterized P_F (MLP), "
               "learnable beta = beta_bar exp(phi) (group backward; trained by tbc: MLE-GFN)",
    .params = d3pm_params,
    .create = d3pm_create,
    .destroy = d3pm_destroy,
    .vtable = &d3pm_vt,
};

UG_PLUGIN_EXPORT(&d3pm_desc, &d3pm_hybrid_desc)
