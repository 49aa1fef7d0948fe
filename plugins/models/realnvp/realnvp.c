/* realnvp.c — the RealNVP normalizing flow as a GFlowNet (paper Obs. 12, Eq. 20–21; docs/families.md
 * §3): the policy interface over the coupling layers of coupling.c, the schema and the descriptor.
 *
 * Trajectory (n = L + 1 steps, realnvp.h has the layers):
 *   step 0      s_0 (root) -> s_1 = z = √T ε, ε ~ N(0, I)       log P_F = log N(z; 0, I), log P_B = 0
 *   step k ≥ 1  s_k -> s_{k+1} = f_k(s_k)                       log P_F = −log|det ∂f_k/∂s (s_k)|, log P_B = 0
 * so Σ_k log P_F(τ) = log N(z) − Σ_k log|det J_k| = log p(x) by the change of variables, for the one
 * trajectory of each x (deterministic_pb; the nll metric then uses M = 1 and equals nll_exact).
 * A backward walk from x applies f_L^{-1}, …, f_1^{-1}; its states are functions of θ (C6), so
 * kl_tb(direction: data) updating `forward` is exact maximum likelihood: loss = −mean log p(x).
 * temperature T scales the base variance (T = 1 untempered); log P_F is always the untempered N(z; 0, I)
 * (model.h). The Dirac steps ignore T. explore has no meaning without a finite action set: refused.
 * rescore recomputes every term from `states`, or else from `last` (one backward walk: x determines τ),
 * or else from `first` when it is not the root. */
#define UG_PLUGIN
#include "realnvp.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const ug_param_spec rnvp_params[] = {
    {"layers", UG_P_INT, "8", UG_P_MIN | UG_P_MAX, 1, RNVP_MAX_LAYERS, NULL, "coupling layers L (horizon L + 1)"},
    {"hidden", UG_P_INT_LIST, "[128, 128]", UG_P_MIN, 1, 0, NULL, "hidden widths of each layer's scale/shift MLP"},
    {"act", UG_P_ENUM, "relu", 0, 0, 0, "relu|leaky_relu|elu|gelu|silu|tanh", "activation of the scale/shift MLPs"},
    {"mask", UG_P_ENUM, "checkerboard", 0, 0, 0, "checkerboard|halves",
     "coordinates odd layers transform (even layers the rest): even indices, or the first ceil(D/2)"},
    {"scale_max", UG_P_FLOAT, "2.0", UG_P_MIN | UG_P_MIN_OPEN, 0, 0, NULL,
     "log-scale bound: sigma = scale_max * tanh(raw / scale_max)"},
    {"actnorm", UG_P_BOOL, "false", 0, 0, 0, NULL, "a learned per-dimension affine before each coupling (no batch statistics)"},
    {"log_z", UG_P_BOOL, "false", 0, 0, 0, NULL, "a learned scalar log Z (group logZ) for tb"},
    {"dim", UG_P_INT, "0", UG_P_MIN | UG_P_MAX, 0, RNVP_MAX_DIM, NULL, "D; 0 = the dataset's (needed without a dataset)"},
    {NULL, 0, NULL, 0, 0, 0, NULL, NULL},
};

static bool check_states(const rnvp *m, ug_ctx *ctx, const ug_tensor *s, const char *call) {
    char who[64];
    snprintf(who, sizeof who, "realnvp.%s", call);
    return ugm_check_states(ctx, s, m->D, who);
}

/* log N(z; 0, I) per row: [B]. */
static ug_tensor *prior_log_prob(ug_ctx *ctx, ug_tensor *z) {
    return ug_normal_log_prob(ctx, z, ug_scalar(ctx, 0.0f), ug_scalar(ctx, 0.0f));
}

static ug_tensor *zeros_b(ug_ctx *ctx, int64_t B) { return ug_zeros(ctx, 1, &B); }  // [B]

static ug_status rnvp_sample_forward(void *self, ug_ctx *ctx, ug_rng *rng, const ug_traj_req *req, ug_traj *out) {
    rnvp *m = self;
    const int n = m->L + 1;
    if (req->explore > 0)
        return ug_ctx_fail(ctx, UG_ERR_UNSUPPORTED, "realnvp.sample_forward: explore %g: a flow has no finite action set",
                           (double)req->explore);
    if (req->flags & UG_TRAJ_ANCHOR)
        return ug_ctx_fail(ctx, UG_ERR_ARG, "realnvp.sample_forward: anchored requests are backward only");
    if (req->start && !check_states(m, ctx, req->start, "sample_forward")) return ug_ctx_status(ctx);
    int i0 = req->start ? req->start_index : 0;
    int64_t B = req->start ? req->start->shape[0] : req->batch;
    int steps = req->steps < 0 ? n - i0 : req->steps;
    if (B <= 0) return ug_ctx_fail(ctx, UG_ERR_ARG, "realnvp.sample_forward: batch %lld", (long long)B);
    if (i0 < 0 || steps < 0 || i0 + steps > n)
        return ug_ctx_fail(ctx, UG_ERR_ARG, "realnvp.sample_forward: %d steps from index %d (horizon %d)", steps, i0, n);
    float temp = req->temperature > 0 ? req->temperature : 1.0f;
    int64_t sh[2] = {B, m->D};
    ug_tensor *s = req->start && i0 > 0 ? req->start : ug_zeros(ctx, 2, sh);  // [B, D] (the root is never read)
    if (ugm_traj_alloc(ctx, out, B, i0, steps, "realnvp.sample_forward")) return ug_ctx_status(ctx);
    ug_tensor **states = out->extra;
    states[0] = out->first = s;
    for (int t = 0; t < steps; t++) {
        int k = i0 + t;
        ug_tensor *sp, *lpf = NULL;  // [B, D], [B]
        if (k == 0) {
            ug_tensor *eps = ug_rand_normal(ctx, rng, 2, sh);  // [B, D]
            sp = temp == 1.0f ? eps : ug_mul_scalar(ctx, eps, sqrtf(temp));
            if (!(req->flags & UG_TRAJ_NO_PF)) lpf = prior_log_prob(ctx, sp);
        } else {
            ug_tensor *ld;
            if (rnvp_layer_forward(m, ctx, k, s, &sp, &ld)) return ug_ctx_status(ctx);
            lpf = ug_neg(ctx, ld);
        }
        if (!(req->flags & UG_TRAJ_NO_PF)) out->log_pf[t] = lpf;
        if (!(req->flags & UG_TRAJ_NO_PB)) out->log_pb[t] = zeros_b(ctx, B);
        states[t + 1] = s = sp;
    }
    out->last = s;
    ugm_traj_finish(out, req->flags);
    return ug_ctx_status(ctx);
}

/* Walk back from y at index j for `steps` steps into states[0..steps] (states[steps] = y) and the
 * per-step log P_F into lpf[0..steps-1] (NULL: not wanted). */
static ug_status walk_back(const rnvp *m, ug_ctx *ctx, ug_tensor *y, int j, int steps, ug_tensor **states, ug_tensor **lpf) {
    int64_t B = y->shape[0], sh[2] = {B, m->D};
    ug_tensor *sp = y;
    states[steps] = sp;
    for (int t = 0; t < steps; t++) {
        int k = j - 1 - t, local = steps - 1 - t;  // step k: s_k -> s_{k+1} = sp
        ug_tensor *s, *l;  // [B, D], [B]
        if (k == 0) {
            s = ug_zeros(ctx, 2, sh);
            l = lpf ? prior_log_prob(ctx, sp) : NULL;
        } else {
            ug_tensor *ld;
            if (rnvp_layer_inverse(m, ctx, k, sp, &s, &ld)) return ug_ctx_status(ctx);
            l = ug_neg(ctx, ld);
        }
        if (lpf) lpf[local] = l;
        states[local] = sp = s;
    }
    return ug_ctx_status(ctx);
}

static ug_status rnvp_sample_backward(void *self, ug_ctx *ctx, ug_rng *rng, const ug_traj_req *req, ug_traj *out) {
    (void)rng;  // every backward step is Dirac
    rnvp *m = self;
    const int n = m->L + 1;
    if (req->flags & UG_TRAJ_ANCHOR)
        return ug_ctx_fail(ctx, UG_ERR_UNSUPPORTED, "realnvp.sample_backward: no anchored marginals (P_B is a point mass)");
    if (req->flags & UG_TRAJ_REPARAM)
        return ug_ctx_fail(ctx, UG_ERR_UNSUPPORTED, "realnvp.sample_backward: P_B has no parameters of its own (cap "
                           "reparam_b); its states are already differentiable in the forward group");
    if (!check_states(m, ctx, req->start, "sample_backward")) return ug_ctx_status(ctx);
    int j = req->start_index;
    int steps = req->steps < 0 ? j : req->steps;
    if (j < 0 || j > n || steps < 0 || steps > j)
        return ug_ctx_fail(ctx, UG_ERR_ARG, "realnvp.sample_backward: %d steps from index %d (horizon %d)", steps, j, n);
    int64_t B = req->start->shape[0];
    if (ugm_traj_alloc(ctx, out, B, j - steps, steps, "realnvp.sample_backward")) return ug_ctx_status(ctx);
    ug_tensor **states = out->extra;
    bool pf = !(req->flags & UG_TRAJ_NO_PF);
    if (walk_back(m, ctx, req->start, j, steps, states, pf ? out->log_pf : NULL)) return ug_ctx_status(ctx);
    if (!(req->flags & UG_TRAJ_NO_PB))
        for (int t = 0; t < steps; t++) out->log_pb[t] = zeros_b(ctx, B);
    out->first = states[0];
    out->last = states[steps];
    ugm_traj_finish(out, req->flags);
    return ug_ctx_status(ctx);
}

/* Terms from the recorded states, else from last (walk back), else from first (walk forward). */
static ug_status rnvp_rescore(void *self, ug_ctx *ctx, ug_traj *traj, uint32_t flags) {
    rnvp *m = self;
    const int n = m->L + 1, i0 = traj->start, steps = traj->steps;
    if (i0 < 0 || steps < 0 || i0 + steps > n)
        return ug_ctx_fail(ctx, UG_ERR_ARG, "realnvp.rescore: %d steps from index %d (horizon %d)", steps, i0, n);
    size_t np = sizeof(ug_tensor *) * (size_t)(steps > 0 ? steps : 1);
    if ((!traj->log_pf && !(traj->log_pf = ug_arena_alloc(ctx, np))) || (!traj->log_pb && !(traj->log_pb = ug_arena_alloc(ctx, np))))
        return ug_ctx_fail(ctx, UG_ERR_NOMEM, "realnvp.rescore: out of step memory");
    if (steps == 0) return UG_OK;
    ug_tensor **lpf = ug_arena_alloc(ctx, np), **states = traj->states;
    if (!lpf) return ug_ctx_fail(ctx, UG_ERR_NOMEM, "realnvp.rescore: out of step memory");
    if (states) {
        for (int t = 0; t < steps; t++) {
            int k = i0 + t;
            if (!check_states(m, ctx, states[t + 1], "rescore") || (k > 0 && !check_states(m, ctx, states[t], "rescore")))
                return ug_ctx_status(ctx);
            if (k == 0) {
                lpf[t] = prior_log_prob(ctx, states[t + 1]);
            } else {
                ug_tensor *y, *ld;
                if (rnvp_layer_forward(m, ctx, k, states[t], &y, &ld)) return ug_ctx_status(ctx);
                lpf[t] = ug_neg(ctx, ld);
            }
        }
    } else if (traj->last || (traj->first && i0 > 0)) {
        ug_tensor **walk = ug_arena_alloc(ctx, sizeof(ug_tensor *) * (size_t)(steps + 1));
        if (!walk) return ug_ctx_fail(ctx, UG_ERR_NOMEM, "realnvp.rescore: out of step memory");
        if (traj->last) {
            if (!check_states(m, ctx, traj->last, "rescore") || walk_back(m, ctx, traj->last, i0 + steps, steps, walk, lpf))
                return ug_ctx_status(ctx);
        } else {
            if (!check_states(m, ctx, traj->first, "rescore")) return ug_ctx_status(ctx);
            ug_tensor *s = traj->first;
            for (int t = 0; t < steps; t++) {
                ug_tensor *ld;
                if (rnvp_layer_forward(m, ctx, i0 + t, s, &s, &ld)) return ug_ctx_status(ctx);
                lpf[t] = ug_neg(ctx, ld);
            }
        }
    } else {
        return ug_ctx_fail(ctx, UG_ERR_ARG, "realnvp.rescore: needs the states, `last`, or a non-root `first`");
    }
    int64_t B = (states ? states[steps] : traj->last ? traj->last : traj->first)->shape[0];
    for (int t = 0; t < steps; t++) {
        if (!(flags & UG_TRAJ_NO_PF)) traj->log_pf[t] = lpf[t];
        if (!(flags & UG_TRAJ_NO_PB)) traj->log_pb[t] = zeros_b(ctx, B);
    }
    return ug_ctx_status(ctx);
}

/* log p(x) = log N(f^{-1}(x); 0, I) − Σ_k log|det J_k|, the backward walk's Σ log P_F. */
static ug_tensor *rnvp_log_prob(void *self, ug_ctx *ctx, ug_tensor *x) {
    rnvp *m = self;
    if (!check_states(m, ctx, x, "log_prob")) return NULL;
    ug_tensor *s = x, *acc = NULL;  // [B, D], [B]
    for (int k = m->L; k >= 1; k--) {
        ug_tensor *ld;
        if (rnvp_layer_inverse(m, ctx, k, s, &s, &ld)) return NULL;
        acc = acc ? ug_sub(ctx, acc, ld) : ug_neg(ctx, ld);
    }
    return ug_add(ctx, prior_log_prob(ctx, s), acc);  // [B]
}

static ug_tensor *rnvp_log_z(void *self, ug_ctx *ctx) {
    rnvp *m = self;
    if (!m->has_logz) {
        ug_ctx_fail(ctx, UG_ERR_UNSUPPORTED, "realnvp: log_z needs `log_z: true`");
        return NULL;
    }
    return m->logz;  // []
}

static void rnvp_info(void *self, ug_model_info *out) {
    const rnvp *m = self;
    size_t n = out->size < sizeof *out ? out->size : sizeof *out;  /* an older host's shorter struct */
    memcpy(out, &m->info, n);
    out->size = (uint32_t)n;
}

static void rnvp_destroy(void *self) {
    rnvp *m = self;
    if (m) free(m->keep);
    free(m);
}

static void *rnvp_create(const ug_create_args *a, ug_error *err) {
    if (!a || !a->params || !a->rng) {
        ug_error_set(err, UG_ERR_ARG, "realnvp: create needs params and rng");
        return NULL;
    }
    int64_t dim = ug_cfg_int(a->cfg, "dim", 0), D = dim;
    if (a->data) {
        const ug_space *sp = &a->data->info.space;
        if (sp->kind != UG_SPACE_CONTINUOUS || (dim > 0 && sp->dim != dim)) {
            ug_error_set(err, UG_ERR_ARG, "realnvp: dataset '%s' is not continuous%s (kind %u, D = %lld)",
                         a->data->name ? a->data->name : "?", dim > 0 ? " of the given dim" : "", sp->kind, (long long)sp->dim);
            return NULL;
        }
        D = sp->dim;
    }
    if (D < 1 || D > RNVP_MAX_DIM) {
        ug_error_set(err, UG_ERR_ARG, "realnvp: D = %lld (give `dim` when there is no dataset; at most %d)", (long long)D, RNVP_MAX_DIM);
        return NULL;
    }
    rnvp *m = calloc(1, sizeof *m);
    if (!m) {
        ug_error_set(err, UG_ERR_NOMEM, "realnvp: out of memory");
        return NULL;
    }
    m->D = D;
    m->L = (int)ug_cfg_int(a->cfg, "layers", 8);
    m->scale_max = (float)ug_cfg_float(a->cfg, "scale_max", 2.0);
    m->actnorm = ug_cfg_bool(a->cfg, "actnorm", false);
    m->has_logz = ug_cfg_bool(a->cfg, "log_z", false);
    const char *mask = ug_cfg_str(a->cfg, "mask", "checkerboard"), *act_name = ug_cfg_str(a->cfg, "act", "relu");
    int64_t hidden[UG_MLP_MAX_LAYERS];
    int nh = ug_cfg_ints(a->cfg, "hidden", hidden, UG_MLP_MAX_LAYERS);
    ug_act act;
    if (m->L < 1 || m->L > RNVP_MAX_LAYERS || !(m->scale_max > 0)) {
        ug_error_set(err, UG_ERR_ARG, "realnvp: needs 1 <= layers <= %d and scale_max > 0", RNVP_MAX_LAYERS);
        goto fail;
    }
    if (nh < 0 || nh > UG_MLP_MAX_LAYERS - 1) {
        ug_error_set(err, UG_ERR_ARG, "realnvp: hidden must list 0 .. %d widths", UG_MLP_MAX_LAYERS - 1);
        goto fail;
    }
    if (ug_act_from_name(act_name, &act)) {
        ug_error_set(err, UG_ERR_ARG, "realnvp: unknown activation '%s'", act_name);
        goto fail;
    }
    bool halves = strcmp(mask, "halves") == 0;
    if (!halves && strcmp(mask, "checkerboard") != 0) {
        ug_error_set(err, UG_ERR_ARG, "realnvp: unknown mask '%s' (checkerboard, halves)", mask);
        goto fail;
    }
    if (!(m->keep = malloc(sizeof(float) * (size_t)(m->L * D)))) {
        ug_error_set(err, UG_ERR_NOMEM, "realnvp: out of memory");
        goto fail;
    }
    for (int k = 1; k <= m->L; k++)
        for (int64_t d = 0; d < D; d++) {
            bool in_a = halves ? d < (D + 1) / 2 : d % 2 == 0;  // A: what odd layers transform
            m->keep[(size_t)(k - 1) * (size_t)D + (size_t)d] = (k % 2 == 1) == in_a ? 0.0f : 1.0f;
        }
    ug_params *P = a->params;
    ug_status st = UG_OK;
    for (int k = 1; k <= m->L && !st; k++) st = rnvp_layer_init(m, P, k, hidden, nh, act, a->rng);
    if (!st && m->has_logz && !(m->logz = ug_param(P, "logZ", "logZ", 0, NULL))) st = ug_params_status(P);
    if (!st) st = ug_params_finalize(P);
    if (st) {
        ug_error_set(err, st, "realnvp: parameters: %s", ug_params_errmsg(P));
        goto fail;
    }
    m->info.size = sizeof m->info;
    m->info.space = a->data ? a->data->info.space : (ug_space){.kind = UG_SPACE_CONTINUOUS, .dim = D};
    m->info.horizon = m->L + 1;
    m->info.variable_length = false;
    m->info.deterministic_pb = true;
    m->info.caps = UG_CAP_LOG_PROB | UG_CAP_REPARAM | UG_CAP_PARTIAL | (m->has_logz ? UG_CAP_LOG_Z : 0u);
    return m;
fail:
    rnvp_destroy(m);
    return NULL;
}

static const ug_model_vtable rnvp_vt = {
    .size = sizeof(ug_model_vtable),
    .info = rnvp_info,
    .sample_forward = rnvp_sample_forward,
    .sample_backward = rnvp_sample_backward,
    .rescore = rnvp_rescore,
    .log_prob = rnvp_log_prob,
    .log_z = rnvp_log_z,
};

static const ug_plugin_desc rnvp_desc = {
    UG_DESC_HEADER(UG_KIND_MODEL),
    .name = "realnvp",
    .version = "1.0",
    .summary = "RealNVP flow (affine couplings, alternating masks, bounded log-scales) as L + 1 Dirac steps; exact log_prob",
    .params = rnvp_params,
    .create = rnvp_create,
    .destroy = rnvp_destroy,
    .vtable = &rnvp_vt,
};

UG_PLUGIN_EXPORT(&rnvp_desc)
