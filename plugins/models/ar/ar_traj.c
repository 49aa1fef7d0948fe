/* ar_traj.c — trajectories of the autoregressive model: forward sampling from s_0 or a partial state,
 * the backward walk from x (or a partial state), rescore and the exact log_prob.
 *
 * Step k (0 <= k < D) writes position π[k]: s_{k+1} = s_k with s[π[k]] = v, v ~ softmax(logits_k),
 *   log P_F = log softmax(logits_k)[v],   log P_B = 0   (P_B unsets π[k]: a Dirac, ar.h),
 * and actions[b, k − start] = v (the position is the index). The logits of step k are those of
 * position π[k] from one network pass on s_k.
 *
 * Forward: D sequential passes, inherent to autoregressive sampling; each pass computes only the K
 * output rows of the position it writes. Sampling options: temperature T samples from softmax(logits / T);
 * explore ε replaces a row's value, with probability ε, by one uniform over the K values. log P_F is
 * always the untempered, non-exploring policy's at the value taken (docs/families.md C7). Without a
 * graph (grad off, or UG_TRAJ_NO_PF) each step runs in an arena scope that is released after its
 * terms are copied out, so sampling D = 784 pixels holds one step's activations, not 784.
 * Backward: no randomness (the states are the prefixes of x), and ONE pass on the start state gives
 * every step's log P_F: the MADE masks make position π[k]'s logits at x equal to those at s_k. The same
 * single pass serves rescore (from the last state, or the first state with the actions written in)
 * and log_prob (Σ over all D positions).
 *
 * Host and tensors: states live on the host while walking (their values decide the network's input),
 * are read with ug_tensor_get and written with ug_tensor_set / ug_from_f32; no tensor memory is
 * touched directly, as in binary_gfn. */
#define UG_PLUGIN
#include "ar.h"

#include <math.h>
#include <string.h>

static ug_status ctx_status(ug_ctx *ctx) {
    ug_status st = ug_ctx_status(ctx);
    return st != UG_OK ? st : ug_ctx_fail(ctx, UG_ERR_INTERNAL, "ar: an op failed without a message");
}

/* s must be F32 [B, D] with B > 0: its values into a new host buffer *out (step-arena scratch). */
static ug_status read_states(const ar_model *m, ug_ctx *ctx, const ug_tensor *s, float **out, const char *who) {
    char sb[64];
    if (!s || s->ndim != 2 || s->shape[1] != m->D || s->shape[0] <= 0 || s->dtype != UG_F32)
        return ug_ctx_fail(ctx, UG_ERR_ARG, "ar.%s: states must be F32 [B, %lld], got %s", who, (long long)m->D,
                           s ? ug_shape_str(s, sb, sizeof sb) : "NULL");
    int64_t n = ug_numel(s);
    if (!(*out = ug_arena_alloc(ctx, sizeof(float) * (size_t)n))) return ctx_status(ctx);
    return ug_tensor_get(ctx, s, *out, n);
}

/* Every row of st [B, D] is a state of index i: positions of rank < i hold an integer in 0 .. K − 1,
 * the others −1. */
static ug_status check_index(const ar_model *m, ug_ctx *ctx, const float *st, int64_t B, int32_t i, const char *who) {
    const int64_t D = m->D;
    for (int64_t b = 0; b < B; b++)
        for (int64_t d = 0; d < D; d++) {
            float v = st[b * D + d];
            bool set = m->rank[d] < i;
            bool ok = set ? (v >= 0.0f && v <= (float)(m->K - 1) && v == floorf(v)) : v == -1.0f;
            if (!ok)
                return ug_ctx_fail(ctx, UG_ERR_ARG,
                                   "ar.%s: row %lld position %lld (written by step %d) holds %g, but a state of index %d "
                                   "has %s there",
                                   who, (long long)b, (long long)d, m->rank[d], (double)v, i,
                                   set ? "a value in 0 .. K-1" : "-1 (unset)");
        }
    return UG_OK;
}

/* log softmax(lg)[b, v[b]] for logits lg [B, K] and host values v [B]: [B]. */
static ug_tensor *pick(ug_ctx *ctx, ug_tensor *lg, int64_t B, const int32_t *v) {
    int64_t sh[2] = {B, 1};
    ug_tensor *it = ug_from_i32(ctx, v, 2, sh);            // [B, 1] I32
    ug_tensor *picked = ug_gather(ctx, lg, 1, it);         // [B, 1]
    ug_tensor *lse = ug_logsumexp(ctx, lg, 1, true);       // [B, 1]
    return ug_reshape(ctx, ug_sub(ctx, picked, lse), 1, &B);  // [B]
}

/* log p(s[d] | the positions of smaller rank) for every position d of host states st [B, D], from one
 * pass: [B, D]. Entries of unset positions are some value's log-probability and are not to be read. */
static ug_tensor *all_logp(const ar_model *m, ug_ctx *ctx, const float *st, int64_t B) {
    const int64_t D = m->D, K = m->K;
    ug_tensor *w[AR_MAX_HIDDEN + 1];
    if (ar_masked_weights(m, ctx, w)) return NULL;
    ug_tensor *logits = ar_logits(m, ctx, w, st, B, -1);  // [B, D·K]
    int32_t *idx = ug_arena_alloc(ctx, sizeof(int32_t) * (size_t)(B * D));
    if (!logits || !idx) return NULL;
    for (int64_t i = 0; i < B * D; i++) idx[i] = st[i] < 0.0f ? 0 : (int32_t)st[i];
    int64_t s3[3] = {B, D, K}, i3[3] = {B, D, 1}, s2[2] = {B, D};
    ug_tensor *lsm = ug_log_softmax(ctx, ug_reshape(ctx, logits, 3, s3), 2);          // [B, D, K]
    ug_tensor *g = ug_gather(ctx, lsm, 2, ug_from_i32(ctx, idx, 3, i3));             // [B, D, 1]
    return ug_reshape(ctx, g, 2, s2);                                                // [B, D]
}

/* Column `pos` of lp [B, D]: [B]. */
static ug_tensor *column(ug_ctx *ctx, ug_tensor *lp, int64_t B, int64_t pos) {
    return ug_reshape(ctx, ug_slice(ctx, lp, 1, pos, 1), 1, &B);
}

/* Arrays of a batch of `steps` steps, zeroed; states only when kept. */
static ug_status alloc_traj(ug_ctx *ctx, ug_traj *out, int64_t B, int32_t start, int32_t steps, bool keep) {
    size_t n = sizeof(ug_tensor *) * (size_t)(steps > 0 ? steps : 1);
    out->batch = B;
    out->start = start;
    out->steps = steps;
    out->mask = NULL;
    out->extra = NULL;
    out->actions = NULL;
    out->first = out->last = NULL;
    out->states = NULL;
    if (!(out->log_pf = ug_arena_alloc(ctx, n)) || !(out->log_pb = ug_arena_alloc(ctx, n))) return ctx_status(ctx);
    memset(out->log_pf, 0, n);
    memset(out->log_pb, 0, n);
    if (keep) {
        size_t ns = sizeof(ug_tensor *) * (size_t)(steps + 1);
        if (!(out->states = ug_arena_alloc(ctx, ns))) return ctx_status(ctx);
        memset(out->states, 0, ns);
    }
    return UG_OK;
}

/* A [B, D] tensor holding the host states st with the positions of rank >= i unset (the prefix of
 * index i); scratch is a host buffer of B·D floats. */
static ug_tensor *prefix_tensor(const ar_model *m, ug_ctx *ctx, const float *st, int64_t B, int32_t i, float *scratch) {
    const int64_t D = m->D;
    for (int64_t b = 0; b < B; b++)
        for (int64_t d = 0; d < D; d++) scratch[b * D + d] = m->rank[d] < i ? st[b * D + d] : -1.0f;
    int64_t sh[2] = {B, D};
    return ug_from_f32(ctx, scratch, 2, sh);
}

/* The values of actions [B, >= steps] as the states' floats, checked: integers in 0 .. K − 1. */
static ug_status read_actions(const ar_model *m, ug_ctx *ctx, const ug_tensor *A, int64_t B, int32_t steps, float **out,
                              int64_t *cols) {
    char sb[64];
    if (!A || A->ndim != 2 || A->dtype != UG_F32 || A->shape[0] != B || A->shape[1] < steps)
        return ug_ctx_fail(ctx, UG_ERR_ARG, "ar.rescore: actions %s must be F32 [%lld, >= %d]",
                           A ? ug_shape_str(A, sb, sizeof sb) : "NULL", (long long)B, steps);
    *cols = A->shape[1];
    if (!(*out = ug_arena_alloc(ctx, sizeof(float) * (size_t)(B * *cols)))) return ctx_status(ctx);
    ug_status st = ug_tensor_get(ctx, A, *out, B * *cols);
    if (st) return st;
    for (int64_t b = 0; b < B; b++)
        for (int32_t t = 0; t < steps; t++) {
            float v = (*out)[b * *cols + t];
            if (!(v >= 0.0f && v <= (float)(m->K - 1) && v == floorf(v)))
                return ug_ctx_fail(ctx, UG_ERR_ARG, "ar.rescore: step %d row %lld: action %g is not a value in 0 .. %lld", t,
                                   (long long)b, (double)v, (long long)(m->K - 1));
        }
    return UG_OK;
}

/* ---- forward ----------------------------------------------------------------------------------- */

/* Walk `steps` steps from the host states st [B, D] of index i0 (checked; updated in place); `first` is
 * their tensor. */
static ug_status walk_forward(ar_model *m, ug_ctx *ctx, ug_rng *rng, float *st, ug_tensor *first, int64_t B, int32_t i0,
                              int32_t steps, uint32_t flags, float explore, float temp, ug_traj *out) {
    const int64_t D = m->D, K = m->K;
    const bool want_pf = !(flags & UG_TRAJ_NO_PF), want_pb = !(flags & UG_TRAJ_NO_PB), keep = flags & UG_TRAJ_KEEP_STATES;
    ug_status st_ = alloc_traj(ctx, out, B, i0, steps, keep);
    if (st_) return st_;
    out->first = first;
    if (keep) out->states[0] = first;
    /* A graph only when someone differentiates log P_F; otherwise each step is scoped (see the top). */
    const bool graph = want_pf && ug_grad_enabled(ctx);
    float *acts = ug_arena_alloc(ctx, sizeof(float) * (size_t)(B * (steps > 0 ? steps : 1)));  // [B, steps] host
    int32_t *v = ug_arena_alloc(ctx, sizeof(int32_t) * (size_t)B);                              // [B] this step's values
    float *u = ug_arena_alloc(ctx, sizeof(float) * (size_t)B);                                  // [B] explore draws
    if (!acts || !v || !u) return ctx_status(ctx);
    for (int32_t t = 0; t < steps; t++) {
        if (keep && !(out->states[t + 1] = ug_new2(ctx, B, D))) return ctx_status(ctx);
        if (want_pf && !graph && !(out->log_pf[t] = ug_new1(ctx, B))) return ctx_status(ctx);
        if (want_pb && !(out->log_pb[t] = ug_zeros(ctx, 1, &B))) return ctx_status(ctx);
    }
    const bool outer = ug_set_grad_enabled(ctx, graph);
    ug_tensor *w[AR_MAX_HIDDEN + 1];
    if (steps > 0 && ar_masked_weights(m, ctx, w)) goto done;
    for (int32_t t = 0; t < steps; t++) {
        const int32_t p = m->order[i0 + t];
        ug_mark mark = ug_arena_mark(ctx);
        ug_tensor *lg = ar_logits(m, ctx, w, st, B, p);  // [B, K]
        if (!lg) goto done;
        /* the draw: softmax(lg / T), no graph */
        bool g = ug_set_grad_enabled(ctx, false);
        ug_tensor *lt = temp == 1.0f ? ug_detach(ctx, lg) : ug_mul_scalar(ctx, lg, 1.0f / temp);  // [B, K]
        ug_tensor *a = lt ? ug_sample_categorical(ctx, rng, lt, NULL) : NULL;                   // [B] I32
        ug_set_grad_enabled(ctx, g);
        if (!a || ug_tensor_get(ctx, a, v, B)) goto done;
        if (explore > 0.0f) {
            ug_rng_uniform(rng, u, B);
            for (int64_t b = 0; b < B; b++)
                if (u[b] < explore) v[b] = (int32_t)ug_rng_randint(rng, K);
        }
        ug_tensor *lp = want_pf ? pick(ctx, lg, B, v) : NULL;  // [B]
        if (want_pf && !lp) goto done;
        for (int64_t b = 0; b < B; b++) {
            st[b * D + p] = (float)v[b];
            acts[b * steps + t] = (float)v[b];
        }
        if (keep && ug_tensor_set(ctx, out->states[t + 1], st, B * D)) goto done;
        if (want_pf) {
            if (graph) out->log_pf[t] = lp;
            else if (ug_copy_into(ctx, out->log_pf[t], lp)) goto done;
        }
        if (!graph) ug_arena_release(ctx, mark);
    }
done:
    ug_set_grad_enabled(ctx, outer);
    if (ug_ctx_status(ctx)) return ug_ctx_status(ctx);
    if (steps > 0) {
        int64_t sh[2] = {B, steps};
        if (!(out->actions = ug_from_f32(ctx, acts, 2, sh))) return ctx_status(ctx);  // [B, steps]
    }
    if (keep) out->last = out->states[steps];
    else if (steps == 0) out->last = first;
    else {
        int64_t sh[2] = {B, D};
        if (!(out->last = ug_from_f32(ctx, st, 2, sh))) return ctx_status(ctx);  // [B, D]
    }
    return UG_OK;
}

ug_status ar_sample_forward(void *self, ug_ctx *ctx, ug_rng *rng, const ug_traj_req *req, ug_traj *out) {
    ar_model *m = self;
    if (ug_ctx_status(ctx)) return ug_ctx_status(ctx);
    if (!req || !out || !rng) return ug_ctx_fail(ctx, UG_ERR_ARG, "ar.sample_forward: NULL request, output or rng");
    if (req->flags & UG_TRAJ_REPARAM)
        return ug_ctx_fail(ctx, UG_ERR_UNSUPPORTED, "ar.sample_forward: discrete steps cannot be reparameterized (UG_TRAJ_REPARAM)");
    if (req->flags & UG_TRAJ_ANCHOR)
        return ug_ctx_fail(ctx, UG_ERR_ARG, "ar.sample_forward: UG_TRAJ_ANCHOR is for backward requests");
    const float temp = req->temperature == 0.0f ? 1.0f : req->temperature;
    if (!(temp > 0.0f) || !isfinite(temp) || !(req->explore >= 0.0f && req->explore <= 1.0f))
        return ug_ctx_fail(ctx, UG_ERR_ARG, "ar.sample_forward: temperature %g must be > 0 and explore %g in [0, 1]",
                           (double)req->temperature, (double)req->explore);
    const int64_t D = m->D;
    int32_t i0 = req->start ? req->start_index : 0;
    if (!req->start && (req->batch <= 0 || req->start_index != 0))
        return ug_ctx_fail(ctx, UG_ERR_ARG, "ar.sample_forward: from s_0 needs batch > 0 (got %lld) and start_index 0 (got %d)",
                           (long long)req->batch, req->start_index);
    if (i0 < 0 || i0 > D)
        return ug_ctx_fail(ctx, UG_ERR_ARG, "ar.sample_forward: start_index %d outside [0, %lld]", i0, (long long)D);
    int32_t steps = req->steps < 0 ? (int32_t)(D - i0) : req->steps;
    if (steps > D - i0)
        return ug_ctx_fail(ctx, UG_ERR_ARG, "ar.sample_forward: %d steps from index %d pass x (D = %lld)", steps, i0, (long long)D);
    float *st;
    ug_tensor *first;
    int64_t B;
    if (req->start) {
        ug_status s = read_states(m, ctx, req->start, &st, "sample_forward");
        if (s) return s;
        B = req->start->shape[0];
        if ((s = check_index(m, ctx, st, B, i0, "sample_forward"))) return s;
        first = req->start;
    } else {
        B = req->batch;
        int64_t sh[2] = {B, D};
        if (!(st = ug_arena_alloc(ctx, sizeof(float) * (size_t)(B * D)))) return ctx_status(ctx);
        for (int64_t i = 0; i < B * D; i++) st[i] = -1.0f;
        if (!(first = ug_from_f32(ctx, st, 2, sh))) return ctx_status(ctx);  // [B, D] s_0: all unset
    }
    return walk_forward(m, ctx, rng, st, first, B, i0, steps, req->flags, req->explore, temp, out);
}

/* ---- backward ---------------------------------------------------------------------------------- */

ug_status ar_sample_backward(void *self, ug_ctx *ctx, ug_rng *rng, const ug_traj_req *req, ug_traj *out) {
    (void)rng;  // P_B is a Dirac: nothing is drawn
    ar_model *m = self;
    if (ug_ctx_status(ctx)) return ug_ctx_status(ctx);
    if (!req || !out || !req->start)
        return ug_ctx_fail(ctx, UG_ERR_ARG, "ar.sample_backward: needs a request with start states and an output");
    if (req->flags & UG_TRAJ_REPARAM)
        return ug_ctx_fail(ctx, UG_ERR_UNSUPPORTED, "ar.sample_backward: P_B is a fixed Dirac with no parameters (cap "
                           "reparam_b): its states are the prefixes of the start and carry no gradient");
    if (req->flags & UG_TRAJ_ANCHOR)
        return ug_ctx_fail(ctx, UG_ERR_UNSUPPORTED, "ar.sample_backward: no anchored requests (cap anchor)");
    const int64_t D = m->D;
    const int32_t j = req->start_index;
    if (j < 0 || j > D)
        return ug_ctx_fail(ctx, UG_ERR_ARG, "ar.sample_backward: start_index %d outside [0, %lld]", j, (long long)D);
    const int32_t steps = req->steps < 0 ? j : req->steps;
    if (steps > j) return ug_ctx_fail(ctx, UG_ERR_ARG, "ar.sample_backward: %d steps back from index %d pass s_0", steps, j);
    float *st;
    ug_status s = read_states(m, ctx, req->start, &st, "sample_backward");
    if (s) return s;
    const int64_t B = req->start->shape[0];
    if ((s = check_index(m, ctx, st, B, j, "sample_backward"))) return s;
    const uint32_t flags = req->flags;
    const bool keep = flags & UG_TRAJ_KEEP_STATES;
    const int32_t i0 = j - steps;
    if ((s = alloc_traj(ctx, out, B, i0, steps, keep))) return s;
    if (!(flags & UG_TRAJ_NO_PF) && steps > 0) {
        ug_tensor *lp = all_logp(m, ctx, st, B);  // [B, D]: every step's term from the one pass on s_j
        if (!lp) return ctx_status(ctx);
        for (int32_t t = 0; t < steps; t++)
            if (!(out->log_pf[t] = column(ctx, lp, B, m->order[i0 + t]))) return ctx_status(ctx);
    }
    for (int32_t t = 0; t < steps && !(flags & UG_TRAJ_NO_PB); t++)
        if (!(out->log_pb[t] = ug_zeros(ctx, 1, &B))) return ctx_status(ctx);
    float *acts = ug_arena_alloc(ctx, sizeof(float) * (size_t)(B * (steps > 0 ? steps : 1)));  // [B, steps] host
    float *scratch = ug_arena_alloc(ctx, sizeof(float) * (size_t)(B * D));
    if (!acts || !scratch) return ctx_status(ctx);
    for (int64_t b = 0; b < B; b++)
        for (int32_t t = 0; t < steps; t++) acts[b * steps + t] = st[b * D + m->order[i0 + t]];
    if (steps > 0) {
        int64_t sh[2] = {B, steps};
        if (!(out->actions = ug_from_f32(ctx, acts, 2, sh))) return ctx_status(ctx);  // [B, steps], forward order
    }
    out->last = req->start;
    if (keep) {
        out->states[steps] = req->start;
        for (int32_t t = 0; t < steps; t++)
            if (!(out->states[t] = prefix_tensor(m, ctx, st, B, i0 + t, scratch))) return ctx_status(ctx);
        out->first = out->states[0];
    } else {
        out->first = steps == 0 ? req->start : prefix_tensor(m, ctx, st, B, i0, scratch);
        if (!out->first) return ctx_status(ctx);
    }
    return UG_OK;
}

/* ---- rescore ----------------------------------------------------------------------------------- */

/* Host rows a (index i, checked) agree with e on every position a has set: a is a prefix of e. */
static ug_status check_prefix(const ar_model *m, ug_ctx *ctx, const float *a, const float *e, int64_t B, int32_t i,
                              const char *what) {
    for (int64_t b = 0; b < B; b++)
        for (int64_t d = 0; d < m->D; d++)
            if (m->rank[d] < i && a[b * m->D + d] != e[b * m->D + d])
                return ug_ctx_fail(ctx, UG_ERR_ARG, "ar.rescore: %s (index %d) row %lld differs from the trajectory's end at "
                                   "position %lld: not one trajectory", what, i, (long long)b, (long long)d);
    return UG_OK;
}

ug_status ar_rescore(void *self, ug_ctx *ctx, ug_traj *traj, uint32_t flags) {
    ar_model *m = self;
    if (ug_ctx_status(ctx)) return ug_ctx_status(ctx);
    if (!traj) return ug_ctx_fail(ctx, UG_ERR_ARG, "ar.rescore: NULL trajectory");
    const int64_t D = m->D;
    const int32_t i0 = traj->start, steps = traj->steps, e = i0 + steps;
    if (i0 < 0 || steps < 0 || (int64_t)i0 + steps > D)
        return ug_ctx_fail(ctx, UG_ERR_ARG, "ar.rescore: start %d + steps %d outside [0, %lld]", i0, steps, (long long)D);
    float *E = NULL;  // [B, D] host: the state at index e, whose one pass gives every step's term
    int64_t B = 0;
    ug_status s;
    if (traj->states) {
        if ((s = read_states(m, ctx, traj->states[steps], &E, "rescore"))) return s;
        B = traj->states[steps]->shape[0];
        if ((s = check_index(m, ctx, E, B, e, "rescore"))) return s;
        for (int32_t t = 0; t < steps; t++) {
            float *a;
            if ((s = read_states(m, ctx, traj->states[t], &a, "rescore"))) return s;
            if (traj->states[t]->shape[0] != B)
                return ug_ctx_fail(ctx, UG_ERR_ARG, "ar.rescore: states[%d] has %lld rows, states[%d] %lld", t,
                                   (long long)traj->states[t]->shape[0], steps, (long long)B);
            if ((s = check_index(m, ctx, a, B, i0 + t, "rescore")) || (s = check_prefix(m, ctx, a, E, B, i0 + t, "a state")))
                return s;
        }
    } else if (traj->last) {
        if ((s = read_states(m, ctx, traj->last, &E, "rescore"))) return s;
        B = traj->last->shape[0];
        if ((s = check_index(m, ctx, E, B, e, "rescore"))) return s;
        if (traj->first) {
            float *a;
            if ((s = read_states(m, ctx, traj->first, &a, "rescore"))) return s;
            if (traj->first->shape[0] != B)
                return ug_ctx_fail(ctx, UG_ERR_ARG, "ar.rescore: first has %lld rows, last %lld",
                                   (long long)traj->first->shape[0], (long long)B);
            if ((s = check_index(m, ctx, a, B, i0, "rescore")) || (s = check_prefix(m, ctx, a, E, B, i0, "first")))
                return s;
        }
    } else if (traj->first && (steps == 0 || traj->actions)) {
        if ((s = read_states(m, ctx, traj->first, &E, "rescore"))) return s;
        B = traj->first->shape[0];
        if ((s = check_index(m, ctx, E, B, i0, "rescore"))) return s;
        float *acts = NULL;
        int64_t cols = 0;
        if (steps > 0 && (s = read_actions(m, ctx, traj->actions, B, steps, &acts, &cols))) return s;
        for (int64_t b = 0; b < B; b++)
            for (int32_t t = 0; t < steps; t++) E[b * D + m->order[i0 + t]] = acts[b * cols + t];
    } else {
        return ug_ctx_fail(ctx, UG_ERR_ARG, "ar.rescore: needs the states, `last`, or `first` and the actions");
    }
    size_t np = sizeof(ug_tensor *) * (size_t)(steps > 0 ? steps : 1);
    if ((!traj->log_pf && !(traj->log_pf = ug_arena_alloc(ctx, np))) || (!traj->log_pb && !(traj->log_pb = ug_arena_alloc(ctx, np))))
        return ctx_status(ctx);
    if (!(flags & UG_TRAJ_NO_PF) && steps > 0) {
        ug_tensor *lp = all_logp(m, ctx, E, B);  // [B, D]
        if (!lp) return ctx_status(ctx);
        for (int32_t t = 0; t < steps; t++)
            if (!(traj->log_pf[t] = column(ctx, lp, B, m->order[i0 + t]))) return ctx_status(ctx);
    }
    for (int32_t t = 0; t < steps && !(flags & UG_TRAJ_NO_PB); t++)
        if (!(traj->log_pb[t] = ug_zeros(ctx, 1, &B))) return ctx_status(ctx);
    return UG_OK;
}

/* ---- log_prob ---------------------------------------------------------------------------------- */

/* log p(x) = Σ_d log p(x_d | x of smaller rank): one pass, the Σ log P_F of x's one trajectory. */
ug_tensor *ar_log_prob(void *self, ug_ctx *ctx, ug_tensor *x) {
    ar_model *m = self;
    if (ug_ctx_status(ctx)) return NULL;
    float *st;
    if (read_states(m, ctx, x, &st, "log_prob") || check_index(m, ctx, st, x->shape[0], (int32_t)m->D, "log_prob"))
        return NULL;
    ug_tensor *lp = all_logp(m, ctx, st, x->shape[0]);  // [B, D]
    return lp ? ug_sum(ctx, lp, 1, false) : NULL;      // [B]
}
