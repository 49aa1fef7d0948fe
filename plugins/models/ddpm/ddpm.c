/* ddpm.c — the DDPM family as a GFlowNet (paper §3.2.1, Eq. 7-8, Observation 3, Prop. 4; the
 * learned-β MLE-GFN of §4.3; docs/families.md §5): the model's options, its trajectory sampler in
 * both directions with scoped step memory, rescoring, the closed-form marginal (anchor), the per-step
 * ELBO terms (step_kl), the score, and the plugin's export (the model and the objective ddpm_simple).
 * ddpm.h states the indices and the policies; ddpm_steps.c the step densities and closed forms;
 * ddpm_sched.c the schedules.
 *
 * Memory: a T-step walk holds one step's activations when nothing it makes carries a graph
 * (evaluation, sampling for metrics, TBC whose P_F calls run with the forward group untracked): each
 * step's network pass runs in an arena scope (ug_arena_mark), its results are copied into tensors
 * made before the mark (ug_copy_into), and the scope is released. Under a graph the step keeps its
 * tape (release refuses, by design). Without UG_TRAJ_KEEP_STATES the scoped states live in two
 * alternating buffers, so such a batch cannot be rescored (extra = NULL); ask for KEEP_STATES to
 * rescore, as model.h says continuous families need.
 *
 * Capabilities: partial, score (score(x, k) = -ε_θ(x, k)/√(1-ᾱ_k), k = 1..T), reparam_b (P_B's draws
 * are Gaussian, differentiable in φ), reparam (continuous x: P_F's draws are differentiable in θ),
 * anchor (P_B(s_k | x) = N(√ᾱ_k c(x), (1-ᾱ_k) I) with the learned β) and step_kl. `temperature`
 * multiplies P_F's variances (the prior's too); backward requests ignore it (P_B is not tempered);
 * `explore` is refused (no finite action set). */
#define UG_PLUGIN
#include "ddpm.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HIDDEN (UG_MLP_MAX_LAYERS - 1) /* widths {in, hidden..., out} fit ug_mlp */

static const ug_param_spec ddpm_params[] = {
    {"steps", UG_P_INT, "100", UG_P_MIN | UG_P_MAX, 2, 10000, NULL, "T noise levels (horizon T+1 with the prior step)"},
    {"schedule", UG_P_ENUM, "linear", 0, 0, 0, "linear|cosine",
     "beta_bar: Ho's linear (rescaled by 1000/T as iDDPM) or Nichol & Dhariwal's cosine (beta <= 0.999)"},
    {"beta_start", UG_P_FLOAT, "1e-4", UG_P_MIN | UG_P_MIN_OPEN | UG_P_MAX | UG_P_MAX_OPEN, 0, 1, NULL,
     "linear: Ho's beta_1 for T = 1000 (used as beta_start * 1000/T)"},
    {"beta_end", UG_P_FLOAT, "0.02", UG_P_MIN | UG_P_MIN_OPEN | UG_P_MAX | UG_P_MAX_OPEN, 0, 1, NULL,
     "linear: Ho's beta_T for T = 1000 (used as beta_end * 1000/T, at most 0.999)"},
    {"hidden", UG_P_INT_LIST, "[256, 256, 256]", UG_P_MIN, 1, 0, NULL, "hidden widths of the epsilon MLP"},
    {"act", UG_P_ENUM, "silu", 0, 0, 0, "silu|relu|leaky_relu|elu|gelu|tanh|softplus", "activation of the epsilon MLP"},
    {"temb", UG_P_INT, "64", UG_P_MIN | UG_P_MAX, 2, 4096, NULL,
     "width of the sinusoidal embedding of Ho's t = T+1-k, concatenated to the state"},
    {"pf_var", UG_P_ENUM, "beta", 0, 0, 0, "beta|posterior|learned",
     "P_F variance: beta_k, the posterior beta~_k, or iDDPM's learned interpolation (a second output head)"},
    {"pf_beta", UG_P_ENUM, "learned", 0, 0, 0, "learned|fixed",
     "beta inside P_F: the learned beta_bar exp(phi) as a constant, or beta_bar (P_F then ignores phi)"},
    {"x_scale", UG_P_FLOAT, "1", UG_P_MIN | UG_P_MIN_OPEN, 0, 0, NULL,
     "continuous x: the chain runs on x / x_scale (about the data's spread: the prior is N(0, I))"},
    {"dim", UG_P_INT, "0", UG_P_MIN | UG_P_MAX, 0, 1 << 20, NULL, "D when the run has no dataset (0 = the dataset's D)"},
    {NULL, 0, NULL, 0, 0, 0, NULL, NULL},
};

/* ---- scoped steps ------------------------------------------------------------------------------ */

/* v can be copied out of a scope: it carries no graph (or grad is off). NULL counts as keepable. */
static bool keepable(ug_ctx *ctx, const ug_tensor *v) { return !v || !(ug_grad_enabled(ctx) && v->requires_grad); }

/* The buffer of the pair that is not `cur` (scoped states without KEEP_STATES alternate). */
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
static ug_tensor *scoped_log_pf(ddpm *m, ug_ctx *ctx, ug_tensor *s, ug_tensor *sp, int k) {
    ug_tensor *buf = ug_new1(ctx, s->shape[0]);  // [B]
    ug_mark mk = ug_arena_mark(ctx);
    ug_tensor *lpf = ddpm_log_pf(m, ctx, s, sp, k);
    close_scope(ctx, mk, &lpf, buf, NULL, NULL);
    return lpf;
}

/* ---- checks ------------------------------------------------------------------------------------ */

static bool check(ddpm *m, ug_ctx *ctx, const ug_tensor *s, const char *call) {
    char w[96];
    snprintf(w, sizeof w, "ddpm.%s", call);
    return ugm_check_states(ctx, s, m->D, w);
}

/* ---- forward ----------------------------------------------------------------------------------- */

static ug_status ddpm_sample_forward(void *self, ug_ctx *ctx, ug_rng *rng, const ug_traj_req *req, ug_traj *out) {
    ddpm *m = self;
    const char *who = "ddpm.sample_forward";
    const int n = m->T + 1;
    const uint32_t fl = req->flags;
    int i0 = req->start ? req->start_index : 0;
    if (req->start && !check(m, ctx, req->start, "sample_forward")) return ug_ctx_status(ctx);
    int64_t B = req->start ? req->start->shape[0] : req->batch;
    int steps = req->steps < 0 ? n - i0 : req->steps;
    if (B <= 0 || i0 < 0 || steps < 0 || i0 + steps > n)
        return ug_ctx_fail(ctx, UG_ERR_ARG, "%s: %d steps from index %d for batch %lld (horizon %d)", who, steps, i0,
                           (long long)B, n);
    if (req->explore > 0)
        return ug_ctx_fail(ctx, UG_ERR_UNSUPPORTED, "%s: explore %g: DDPM's steps are continuous (no action set)", who,
                           (double)req->explore);
    if (fl & UG_TRAJ_ANCHOR) return ug_ctx_fail(ctx, UG_ERR_ARG, "%s: UG_TRAJ_ANCHOR is for backward requests", who);
    bool reparam = fl & UG_TRAJ_REPARAM;
    if (reparam && m->kind != UG_SPACE_CONTINUOUS)
        return ug_ctx_fail(ctx, UG_ERR_UNSUPPORTED, "%s: UG_TRAJ_REPARAM needs continuous x (the decoder is discrete)", who);
    float temp = req->temperature > 0 ? req->temperature : 1.0f;
    ddpm_sched sc;
    if (ddpm_schedule(m, ctx, &sc) || ugm_traj_alloc(ctx, out, B, i0, steps, who)) return ug_ctx_status(ctx);
    int64_t sh[2] = {B, m->D};
    bool keep = fl & UG_TRAJ_KEEP_STATES, reused = false;
    ug_tensor *pair[2] = {NULL, NULL};
    if (!keep) pair[0] = ug_new(ctx, UG_F32, 2, sh), pair[1] = ug_new(ctx, UG_F32, 2, sh);  // [B, D] each
    ug_tensor **states = out->extra;
    ug_tensor *s = req->start ? req->start : ug_zeros(ctx, 2, sh);  // [B, D] (zeros: the root)
    states[0] = out->first = s;
    for (int t = 0; t < steps && !ug_ctx_status(ctx); t++) {
        int k = i0 + t;
        /* P_F: the network pass, scoped */
        ug_tensor *dst = keep ? ug_new(ctx, UG_F32, 2, sh) : other(pair, s), *lbuf = vec(ctx, B, !(fl & UG_TRAJ_NO_PF));
        ug_mark mk = ug_arena_mark(ctx);
        ug_tensor *lpf = NULL;
        ug_tensor *sp = ddpm_pf_sample(m, ctx, rng, s, k, temp, reparam, (fl & UG_TRAJ_NO_PF) ? NULL : &lpf);  // [B, D]
        if (!sp) break;
        if (close_scope(ctx, mk, &sp, dst, &lpf, lbuf)) reused = reused || !keep;
        out->log_pf[t] = lpf;
        /* P_B: a few [B, D] ops, scoped when they carry no graph */
        if (!(fl & UG_TRAJ_NO_PB)) {
            ug_tensor *bbuf = ug_new1(ctx, B);
            ug_mark mb = ug_arena_mark(ctx);
            ug_tensor *lpb = ddpm_log_pb(m, ctx, &sc, s, sp, k);
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

/* s_k ~ P_B(s_k | x) for each row's k = row_index[b]: √ᾱ_k c(x) + √(1-ᾱ_k) ε (the root, zeros, at k = 0). */
static ug_status sample_anchor(ddpm *m, ug_ctx *ctx, ug_rng *rng, const ug_traj_req *req, ug_traj *out) {
    const char *who = "ddpm.sample_backward(anchor)";
    if (req->start_index != m->T + 1 || req->size <= offsetof(ug_traj_req, row_index) || !req->row_index)
        return ug_ctx_fail(ctx, UG_ERR_ARG, "%s: an anchored request starts at x (index %d), with row_index", who, m->T + 1);
    int64_t B = req->start->shape[0], sh[2] = {B, m->D};
    ddpm_k kk;
    ddpm_sched sc;
    if (!ddpm_rows(m, ctx, req->row_index, B, who, &kk) || ddpm_schedule(m, ctx, &sc)) return ug_ctx_status(ctx);
    ug_tensor *ab = ug_exp(ctx, sc.log_ab);                                                      // [T] ᾱ_k
    ug_tensor *a = ugm_by_row(ctx, kk.oh, ddpm_table(ctx, ug_sqrt(ctx, ab), m->T, 0.0f));        // [B, 1]
    ug_tensor *sd = ugm_by_row(ctx, kk.oh, ddpm_table(ctx, ug_sqrt(ctx, ug_rsub_scalar(ctx, ab, 1.0f)), m->T, 0.0f));
    ug_tensor *eps = ug_rand_normal(ctx, rng, 2, sh);                                           // [B, D]
    ug_tensor *s = ug_add(ctx, ug_mul(ctx, ddpm_cx(m, ctx, req->start), a), ug_mul(ctx, eps, sd));  // [B, D]
    if (!(req->flags & UG_TRAJ_REPARAM)) s = ug_detach(ctx, s);
    *out = (ug_traj){.size = out->size, .batch = B, .start = -1, .steps = 0, .first = s, .last = s};
    return ug_ctx_status(ctx);
}

static ug_status ddpm_sample_backward(void *self, ug_ctx *ctx, ug_rng *rng, const ug_traj_req *req, ug_traj *out) {
    ddpm *m = self;
    const char *who = "ddpm.sample_backward";
    const int n = m->T + 1;
    const uint32_t fl = req->flags;
    if (!check(m, ctx, req->start, "sample_backward")) return ug_ctx_status(ctx);
    if (fl & UG_TRAJ_ANCHOR) return sample_anchor(m, ctx, rng, req, out);
    int j = req->start_index, steps = req->steps < 0 ? j : req->steps;
    if (j < 1 || j > n || steps < 0 || steps > j)
        return ug_ctx_fail(ctx, UG_ERR_ARG, "%s: %d steps from index %d (horizon %d)", who, steps, j, n);
    bool reparam = fl & UG_TRAJ_REPARAM;
    int64_t B = req->start->shape[0], sh[2] = {B, m->D};
    ddpm_sched sc;
    if (ddpm_schedule(m, ctx, &sc) || ugm_traj_alloc(ctx, out, B, j - steps, steps, who)) return ug_ctx_status(ctx);
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
        ug_tensor *s = k == 0 ? ug_zeros(ctx, 2, sh) : ddpm_pb_sample(m, ctx, rng, &sc, sp, k, reparam);  // [B, D]
        if (!s) break;
        ug_tensor *lpb = (fl & UG_TRAJ_NO_PB) ? NULL : ddpm_log_pb(m, ctx, &sc, s, sp, k);               // [B]
        if (close_scope(ctx, mk, &s, dst, &lpb, bbuf)) reused = reused || !keep;
        /* P_F: the network pass, scoped */
        out->log_pf[local] = (fl & UG_TRAJ_NO_PF) ? NULL : scoped_log_pf(m, ctx, s, sp, k);
        out->log_pb[local] = lpb;
        states[local] = sp = s;
    }
    out->first = sp;
    ugm_traj_finish(out, fl);
    if (reused) out->extra = NULL;
    return ug_ctx_status(ctx);
}

/* ---- rescore ----------------------------------------------------------------------------------- */

static ug_status ddpm_rescore(void *self, ug_ctx *ctx, ug_traj *traj, uint32_t flags) {
    ddpm *m = self;
    ug_tensor **states = traj->states ? traj->states : traj->extra;
    if (!states || traj->start < 0 || traj->steps < 0 || traj->start + traj->steps > m->T + 1)
        return ug_ctx_fail(ctx, UG_ERR_ARG, "ddpm.rescore: needs the trajectory's states (sample with "
                                            "UG_TRAJ_KEEP_STATES) within indices 0 .. %d", m->T + 1);
    ddpm_sched sc;
    if (ddpm_schedule(m, ctx, &sc)) return ug_ctx_status(ctx);
    size_t np = sizeof(ug_tensor *) * (size_t)(traj->steps > 0 ? traj->steps : 1);
    if ((!traj->log_pf && !(traj->log_pf = ug_arena_alloc(ctx, np))) || (!traj->log_pb && !(traj->log_pb = ug_arena_alloc(ctx, np))))
        return ug_ctx_fail(ctx, UG_ERR_NOMEM, "ddpm.rescore: out of step memory");
    for (int t = 0; t < traj->steps; t++) {
        int k = traj->start + t;
        if (!check(m, ctx, states[t], "rescore") || !check(m, ctx, states[t + 1], "rescore")) return ug_ctx_status(ctx);
        if (!(flags & UG_TRAJ_NO_PF)) traj->log_pf[t] = scoped_log_pf(m, ctx, states[t], states[t + 1], k);
        if (!(flags & UG_TRAJ_NO_PB)) traj->log_pb[t] = ddpm_log_pb(m, ctx, &sc, states[t], states[t + 1], k);
    }
    return ug_ctx_status(ctx);
}

/* ---- closed forms ------------------------------------------------------------------------------ */

static ug_tensor *ddpm_step_kl(void *self, ug_ctx *ctx, ug_tensor *x, ug_tensor *s, ug_tensor *k) {
    ddpm *m = self;
    if (!check(m, ctx, x, "step_kl") || !check(m, ctx, s, "step_kl")) return NULL;
    int64_t B = x->shape[0];
    char b1[64], b2[64];
    if (s->shape[0] != B) {
        ug_ctx_fail(ctx, UG_ERR_ARG, "ddpm.step_kl: x %s and s %s differ in rows", ug_shape_str(x, b1, sizeof b1),
                    ug_shape_str(s, b2, sizeof b2));
        return NULL;
    }
    ddpm_k kk;
    ddpm_sched sc;
    if (!ddpm_rows(m, ctx, k, B, "ddpm.step_kl", &kk) || ddpm_schedule(m, ctx, &sc)) return NULL;
    return ddpm_kl_terms(m, ctx, &sc, &kk, x, s, ddpm_net(m, ctx, s, kk.t), false);  // [B]
}

/* score(x, k) = -ε_θ(x, k) / √(1-ᾱ_k): Tweedie's formula for the marginal of s_k under P_F's schedule
 * (Ho et al. Eq. 11's ε is -√(1-ᾱ) ∇ log q). k = t[b] must be an integer index 1..T. */
static ug_tensor *ddpm_score(void *self, ug_ctx *ctx, ug_tensor *x, ug_tensor *t) {
    ddpm *m = self;
    if (!check(m, ctx, x, "score")) return NULL;
    int64_t B = x->shape[0];
    char b[64];
    if (!t || t->ndim != 1 || t->shape[0] != B || t->dtype != UG_F32) {
        ug_ctx_fail(ctx, UG_ERR_ARG, "ddpm.score: t must be F32 [%lld], got %s", (long long)B,
                    t ? ug_shape_str(t, b, sizeof b) : "NULL");
        return NULL;
    }
    float *tv = ug_arena_alloc(ctx, sizeof(float) * (size_t)B);
    if (!tv || ug_tensor_get(ctx, t, tv, B)) return NULL;
    for (int64_t i = 0; i < B; i++)
        if (!(tv[i] >= 1 && tv[i] <= m->T && tv[i] == floorf(tv[i]))) {
            ug_ctx_fail(ctx, UG_ERR_ARG, "ddpm.score: row %lld asks for index %g; the noisy states are 1 .. %d",
                        (long long)i, (double)tv[i], m->T);
            return NULL;
        }
    ddpm_k kk;
    ddpm_sched sc;
    if (!ddpm_rows(m, ctx, ug_to_i32(ctx, t), B, "ddpm.score", &kk) || ddpm_schedule(m, ctx, &sc)) return NULL;
    ug_tensor *out = ddpm_net(m, ctx, x, kk.t);
    ug_tensor *eps = m->var == DDPM_VAR_LEARNED ? ug_slice(ctx, out, 1, 0, m->D) : out;   // [B, D]
    return ug_neg(ctx, ug_div(ctx, eps, ddpm_coef(m, ctx, &kk, m->f_sd)));               // [B, D]
}

/* ---- plugin ------------------------------------------------------------------------------------ */

/* cont_common.h's ugm_time_mlp_init, minus its ug_params_fail calls: that function is not in the plugin
 * API table (api_list.h), so a plugin referencing it fails to load. create() checks the widths first. */
static ug_status net_init(ugm_time_mlp *n, ug_params *P, int64_t in, int64_t out, int64_t temb, const int64_t *hidden,
                          int nh, ug_act act, ug_rng *rng) {
    int64_t w[UG_MLP_MAX_LAYERS + 1];
    n->in = in, n->out = out, n->temb = temb, n->t_scale = 1.0f;  /* Ho's integer t, unscaled */
    w[0] = in + temb;
    for (int i = 0; i < nh; i++) w[i + 1] = hidden[i];
    w[nh + 1] = out;
    return ug_mlp_init(&n->mlp, P, "forward", "eps", w, nh + 2, act, 0.0f, rng);
}

static void ddpm_info(void *self, ug_model_info *out) {
    ddpm *m = self;
    *out = m->info;
}

static void ddpm_destroy(void *self) {
    ddpm *m = self;
    if (!m) return;
    free(m->beta_bar);
    free(m->hb);
    free(m->f_inv);
    free(m);
}

static void *fail_create(ddpm *m, ug_error *err, ug_status code, const char *msg) {
    ug_error_set(err, code, "ddpm: %s", msg);
    ddpm_destroy(m);
    return NULL;
}

static void *ddpm_create(const ug_create_args *a, ug_error *err) {
    ddpm *m = calloc(1, sizeof *m);
    char msg[256];
    if (!m) return fail_create(m, err, UG_ERR_NOMEM, "out of memory");
    ug_space sp = {.kind = UG_SPACE_CONTINUOUS, .dim = ug_cfg_int(a->cfg, "dim", 0)};
    if (a->data) {
        if (sp.dim != 0 && sp.dim != a->data->info.space.dim) {
            snprintf(msg, sizeof msg, "dim %lld differs from dataset '%s' (D = %lld); leave dim at 0", (long long)sp.dim,
                     a->data->name ? a->data->name : "?", (long long)a->data->info.space.dim);
            return fail_create(m, err, UG_ERR_ARG, msg);
        }
        sp = a->data->info.space;
    }
    if (sp.dim < 1) return fail_create(m, err, UG_ERR_ARG, "no dataset gives D: set dim");
    m->D = sp.dim;
    m->kind = sp.kind;
    m->K = sp.kind == UG_SPACE_BINARY ? 2 : sp.kind == UG_SPACE_CATEGORICAL ? sp.categories : 0;
    if (sp.kind != UG_SPACE_CONTINUOUS && m->K < 2) {
        snprintf(msg, sizeof msg, "a discrete x needs >= 2 categories (the dataset says %lld)", (long long)sp.categories);
        return fail_create(m, err, UG_ERR_ARG, msg);
    }
    if (sp.kind != UG_SPACE_CONTINUOUS && sp.kind != UG_SPACE_BINARY && sp.kind != UG_SPACE_CATEGORICAL)
        return fail_create(m, err, UG_ERR_ARG, "unknown space kind of the dataset");
    m->x_scale = (float)ug_cfg_float(a->cfg, "x_scale", 1.0);
    if (!(m->x_scale > 0) || (sp.kind != UG_SPACE_CONTINUOUS && m->x_scale != 1.0f))
        return fail_create(m, err, UG_ERR_ARG, "x_scale must be > 0, and 1 for a discrete x (c(x) maps its levels to [-1, 1])");
    m->T = (int)ug_cfg_int(a->cfg, "steps", 100);
    const char *var = ug_cfg_str(a->cfg, "pf_var", "beta");
    m->var = strcmp(var, "posterior") == 0 ? DDPM_VAR_POSTERIOR : strcmp(var, "learned") == 0 ? DDPM_VAR_LEARNED : DDPM_VAR_BETA;
    if (m->var == DDPM_VAR_BETA && strcmp(var, "beta") != 0) {
        snprintf(msg, sizeof msg, "pf_var '%s' is none of beta, posterior, learned", var);
        return fail_create(m, err, UG_ERR_ARG, msg);
    }
    const char *pfb = ug_cfg_str(a->cfg, "pf_beta", "learned");
    if (strcmp(pfb, "learned") != 0 && strcmp(pfb, "fixed") != 0) {
        snprintf(msg, sizeof msg, "pf_beta '%s' is neither learned nor fixed", pfb);
        return fail_create(m, err, UG_ERR_ARG, msg);
    }
    m->pf_fixed = strcmp(pfb, "fixed") == 0;
    if (m->T < 2) return fail_create(m, err, UG_ERR_ARG, "steps must be >= 2");
    size_t n1 = (size_t)m->T + 2;
    m->beta_bar = calloc(n1, sizeof(double));
    m->hb = calloc(3 * n1, sizeof(double));  /* hb, hab, hpost */
    m->f_inv = calloc(6 * n1, sizeof(float));
    if (!m->beta_bar || !m->hb || !m->f_inv) return fail_create(m, err, UG_ERR_NOMEM, "out of memory");
    m->hab = m->hb + n1, m->hpost = m->hb + 2 * n1;
    m->f_eps = m->f_inv + n1, m->f_lvb = m->f_inv + 2 * n1, m->f_lvp = m->f_inv + 3 * n1, m->f_sd = m->f_inv + 4 * n1;
    m->f_sab = m->f_inv + 5 * n1;
    if (!ddpm_beta_bar(m, ug_cfg_str(a->cfg, "schedule", "linear"), ug_cfg_float(a->cfg, "beta_start", 1e-4),
                       ug_cfg_float(a->cfg, "beta_end", 0.02), err)) {
        ddpm_destroy(m);
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
    int64_t temb = ug_cfg_int(a->cfg, "temb", 64), out_w = m->var == DDPM_VAR_LEARNED ? 2 * m->D : m->D;
    int64_t tsh[1] = {m->T};
    if (net_init(&m->net, a->params, m->D, out_w, temb, hid, nh, act, a->rng) ||
        !(m->phi = ug_param(a->params, "backward", "phi", 1, tsh)) || ug_params_finalize(a->params)) {
        snprintf(msg, sizeof msg, "parameters: %s", ug_params_errmsg(a->params));
        return fail_create(m, err, UG_ERR_ARG, msg);
    }
    m->info = (ug_model_info){.size = sizeof(ug_model_info), .space = sp, .horizon = m->T + 1};
    m->info.caps = UG_CAP_PARTIAL | UG_CAP_SCORE | UG_CAP_REPARAM_B | UG_CAP_ANCHOR | UG_CAP_STEP_KL |
                   (sp.kind == UG_SPACE_CONTINUOUS ? UG_CAP_REPARAM : 0u);
    return m;
}

static const ug_model_vtable ddpm_vt = {
    .size = sizeof(ug_model_vtable),
    .info = ddpm_info,
    .sample_forward = ddpm_sample_forward,
    .sample_backward = ddpm_sample_backward,
    .rescore = ddpm_rescore,
    .score = ddpm_score,
    .step_kl = ddpm_step_kl,
};

static const ug_plugin_desc ddpm_desc = {
    UG_DESC_HEADER(UG_KIND_MODEL),
    .name = "ddpm",
    .version = "0.1.0",
    .summary = "DDPM as a GFlowNet: epsilon-MLP P_F, Gaussian noising P_B with learnable beta = beta_bar exp(phi) "
               "(group backward; trained by tbc: MLE-GFN)",
    .params = ddpm_params,
    .create = ddpm_create,
    .destroy = ddpm_destroy,
    .vtable = &ddpm_vt,
};

UG_PLUGIN_EXPORT(&ddpm_desc, &ddpm_simple_desc)
