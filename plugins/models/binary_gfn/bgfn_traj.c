/* bgfn_traj.c — trajectories of the binary GFlowNet: forward sampling from s0 or a partial state,
 * re-scoring given actions (the same walk with the actions replayed), and backward sampling from x or
 * a partial state, with the per-step log P_F and log P_B terms.
 *
 * Policies (layout in binary_gfn.h):
 *   P_F(s'|s)  = softmax over the 2D (position, value) logits of s, both values of every set position
 *                masked out; action a = 2j + v sets position j to v.
 *   P_B(s|s')  = softmax over the D backward logits of s' restricted to the positions set in s'
 *                (uniform over them when learn_pb is false).
 * Step k of a trajectory goes from state index start+k to start+k+1 (model.h); log_pf[k] is P_F of that
 * step from s_k, log_pb[k] is P_B of undoing it from s_{k+1}.
 *
 * Sampling options (forward only): temperature T samples from softmax(logits / T); explore ε replaces a
 * row's action, with probability ε, by one drawn uniformly among its valid actions. Either way log_pf
 * and log_pb are those of the untempered policy at the action taken (docs/families.md C7), so the
 * terms of an off-policy trajectory equal what rescore recomputes.
 *
 * Cost per step: one forward-network call on [B, D] and one backward-network call on [B, D] (one trunk
 * call with a shared trunk: its output at s_{k+1} serves log_pb[k] and P_F at step k+1), plus O(B·D)
 * elementwise work (masking, a logsumexp over [B, 2D], the next state). Masks are additive biases
 * (0 allowed, -inf not) built once per call in O(B·D) and updated in O(B) per step. Networks whose
 * terms nobody asked for (UG_TRAJ_NO_PF / NO_PB) run without recording a graph, or not at all.
 *
 * Host and tensors: the walk keeps the current state, the masks and the actions in host buffers
 * (step-arena scratch), updates them there, and writes them into tensors with ug_tensor_set; it reads
 * states, sampled indices and replayed actions with ug_tensor_get. No tensor memory is touched
 * directly, so the walk runs unchanged on any backend (a step copies O(B·D) floats each way). */
#define UG_PLUGIN
#include "binary_gfn.h"

#include <math.h>
#include <string.h>

/* Per-call state. The bias tensors are rewritten between steps (from fb / bb); that is safe for the
 * graph because they only ever enter ug_add, whose backward rule reads neither operand. */
typedef struct walk {
    bgfn *m;
    ug_ctx *ctx;
    int64_t B, D;
    ug_tensor *fbias;  // [B, 2D] P_F mask: 0 where the position is unset, -inf where set
    ug_tensor *bbias;  // [B, D]  P_B mask: 0 where the position is set, -inf where unset
    float *fb, *bb;    // host copies of fbias [B, 2D] and bbias [B, D], updated per step
    float *st;         // [B, D] host copy of the current state
    int32_t *act;      // [B] this step's actions 2j + v
    int32_t *pos;      // [B] this step's positions j
} walk;

static ug_status ctx_status(ug_ctx *ctx) {
    ug_status st = ug_ctx_status(ctx);
    return st != UG_OK ? st : ug_ctx_fail(ctx, UG_ERR_INTERNAL, "binary_gfn: an op failed without a message");
}

#define TRY(expr)                                     \
    do {                                              \
        if (!(expr)) return ctx_status(w->ctx);       \
    } while (0)

/* s is F32 [B, D] with B > 0. */
static ug_status check_shape(ug_ctx *ctx, const bgfn *m, const ug_tensor *s, const char *what) {
    char sb[64];
    if (s->ndim != 2 || s->shape[1] != m->D || s->dtype != UG_F32 || s->shape[0] <= 0)
        return ug_ctx_fail(ctx, UG_ERR_ARG, "binary_gfn %s: states must be F32 [B, %lld], got %s", what,
                           (long long)m->D, ug_shape_str(s, sb, sizeof sb));
    return UG_OK;
}

/* s [B, D] copied into a new host buffer (step-arena scratch) in *out. */
static ug_status states_to_host(ug_ctx *ctx, const ug_tensor *s, float **out) {
    int64_t n = ug_numel(s);
    if (!(*out = ug_arena_alloc(ctx, (size_t)n * sizeof(float)))) return ctx_status(ctx);
    return ug_tensor_get(ctx, s, *out, n);
}

/* s is F32 [B, D]; its values p (s copied to the host) are all in {-1, 0, 1} with exactly n_set entries
 * >= 0 in every row. */
static ug_status check_states(ug_ctx *ctx, const bgfn *m, const ug_tensor *s, const float *p, int64_t n_set,
                              const char *what) {
    for (int64_t b = 0; b < s->shape[0]; b++) {
        int64_t c = 0;
        for (int64_t j = 0; j < m->D; j++) {
            float v = p[b * m->D + j];
            if (v != -1.0f && v != 0.0f && v != 1.0f)
                return ug_ctx_fail(ctx, UG_ERR_ARG, "binary_gfn %s: row %lld position %lld holds %g (not -1, 0, 1)",
                                   what, (long long)b, (long long)j, (double)v);
            c += v >= 0.0f;
        }
        if (c != n_set)
            return ug_ctx_fail(ctx, UG_ERR_ARG,
                               "binary_gfn %s: row %lld has %lld set coordinates, but its state index is %lld",
                               what, (long long)b, (long long)c, (long long)n_set);
    }
    return UG_OK;
}

/* Write the host masks into fbias and bbias. */
static ug_status masks_to_tensors(walk *w) {
    ug_status st = ug_tensor_set(w->ctx, w->fbias, w->fb, w->B * 2 * w->D);
    return st ? st : ug_tensor_set(w->ctx, w->bbias, w->bb, w->B * w->D);
}

/* The walk from s [B, D] (contiguous, checked), whose values sh are on the host: sh becomes w->st. */
static ug_status walk_init(walk *w, bgfn *m, ug_ctx *ctx, ug_tensor *s, float *sh) {
    w->m = m;
    w->ctx = ctx;
    w->B = s->shape[0];
    w->D = m->D;
    w->st = sh;
    TRY(w->fbias = ug_new2(ctx, w->B, 2 * w->D));  // [B, 2D]
    TRY(w->bbias = ug_new2(ctx, w->B, w->D));      // [B, D]
    TRY(w->fb = ug_arena_alloc(ctx, (size_t)(w->B * 2 * w->D) * sizeof(float)));
    TRY(w->bb = ug_arena_alloc(ctx, (size_t)(w->B * w->D) * sizeof(float)));
    TRY(w->act = ug_arena_alloc(ctx, (size_t)w->B * sizeof(int32_t)));
    TRY(w->pos = ug_arena_alloc(ctx, (size_t)w->B * sizeof(int32_t)));
    float *fb = w->fb, *bb = w->bb;
    for (int64_t i = 0; i < w->B * w->D; i++) {
        bool set = sh[i] >= 0.0f;
        fb[2 * i] = fb[2 * i + 1] = set ? -INFINITY : 0.0f;
        bb[i] = set ? 0.0f : -INFINITY;
    }
    return masks_to_tensors(w);
}

/* The current state w->st as a new tensor [B, D]. */
static ug_tensor *state_tensor(walk *w) {
    ug_tensor *t = ug_new2(w->ctx, w->B, w->D);  // [B, D]
    if (t && ug_tensor_set(w->ctx, t, w->st, w->B * w->D) != UG_OK) return NULL;
    return t;
}

/* forward_positions uniform: f[2j+v] - logsumexp(f[2j], f[2j+1]) (binary_gfn.h), [B, 2D] -> [B, 2D]. */
static ug_tensor *pair_normalize(walk *w, ug_tensor *f) {
    ug_ctx *ctx = w->ctx;
    int64_t s3[3] = {w->B, w->D, 2}, s2[2] = {w->B, 2 * w->D};
    ug_tensor *p = ug_reshape(ctx, ug_contiguous(ctx, f), 3, s3);  // [B, D, 2]
    return ug_reshape(ctx, ug_sub(ctx, p, ug_logsumexp(ctx, p, 2, true)), 2, s2);  // [B, 2D]
}

/* Policy logits at s [B, D]: *f [B, 2D] when need_f, *b [B, D] when need_b and P_B is learned.
 * grad_f / grad_b say whether anyone differentiates them; nothing is recorded for the others. */
static ug_status heads(walk *w, ug_tensor *s, bool need_f, bool need_b, bool grad_f, bool grad_b, ug_tensor **f,
                       ug_tensor **b) {
    bgfn *m = w->m;
    ug_ctx *ctx = w->ctx;
    *f = *b = NULL;
    if (!m->learn_pb) need_b = false;
    if (!need_f && !need_b) return UG_OK;
    const bool outer = ug_grad_enabled(ctx);
    if (m->shared) {
        ug_set_grad_enabled(ctx, outer && ((need_f && grad_f) || (need_b && grad_b)));
        ug_tensor *o = ug_mlp_forward(ctx, &m->pf, s);  // [B, 3D] ([B, 2D] without a learned P_B)
        if (o && need_f) {
            *f = m->learn_pb ? ug_slice(ctx, o, 1, 0, 2 * w->D) : o;  // [B, 2D]
            if (*f && !grad_f) *f = ug_detach(ctx, *f);
        }
        if (o && need_b) {
            *b = ug_slice(ctx, o, 1, 2 * w->D, w->D);  // [B, D]
            if (*b && !grad_b) *b = ug_detach(ctx, *b);
        }
    } else {
        if (need_f) {
            ug_set_grad_enabled(ctx, outer && grad_f);
            *f = ug_mlp_forward(ctx, &m->pf, s);  // [B, 2D]
        }
        if (need_b) {
            ug_set_grad_enabled(ctx, outer && grad_b);
            *b = ug_mlp_forward(ctx, &m->pb, s);  // [B, D]
        }
    }
    if (*f && m->uniform_pos) {
        /* a detached *f stays detached: its pair normalisation records nothing */
        ug_set_grad_enabled(ctx, outer && grad_f);
        *f = pair_normalize(w, *f);
    }
    ug_set_grad_enabled(ctx, outer);
    if ((need_f && !*f) || (need_b && !*b)) return ctx_status(ctx);
    return UG_OK;
}

/* log_softmax(masked)[row, idx[row]] -> [B], as masked[idx] - logsumexp(masked): unlike log_softmax this
 * allocates no second [B, K] tensor per step (the backward cost is the same). */
static ug_tensor *pick_logprob(walk *w, ug_tensor *masked, const int32_t *idx) {
    ug_ctx *ctx = w->ctx;
    int64_t shape[2] = {w->B, 1};
    ug_tensor *it = ug_from_i32(ctx, idx, 2, shape);        // [B, 1] I32
    ug_tensor *picked = ug_gather(ctx, masked, 1, it);       // [B, 1]
    ug_tensor *lse = ug_logsumexp(ctx, masked, 1, true);     // [B, 1]
    return ug_reshape(ctx, ug_sub(ctx, picked, lse), 1, &w->B);  // [B]
}

/* log P_B of erasing this step's positions from the state with n_set coordinates set: [B]. */
static ug_tensor *log_pb_term(walk *w, ug_tensor *blogits, int64_t n_set) {
    if (!w->m->learn_pb) return ug_full(w->ctx, 1, &w->B, -logf((float)n_set));  // [B] uniform
    return pick_logprob(w, ug_add(w->ctx, blogits, w->bbias), w->pos);            // [B]
}

/* Draw forward actions into w->act from masked logits [B, 2D]: the policy at `temp`, and with
 * probability `explore` per row a uniformly random valid action instead (n_unset unset positions). */
static ug_status sample_actions(walk *w, ug_rng *rng, ug_tensor *masked, float temp, float explore, int64_t n_unset) {
    ug_ctx *ctx = w->ctx;
    ug_tensor *lg = masked;
    if (temp != 1.0f) {
        bool prev = ug_set_grad_enabled(ctx, false);
        lg = ug_mul_scalar(ctx, masked, 1.0f / temp);  // [B, 2D]
        ug_set_grad_enabled(ctx, prev);
        TRY(lg);
    }
    ug_tensor *a = ug_sample_categorical(ctx, rng, lg, NULL);  // [B] I32
    TRY(a);
    ug_status st = ug_tensor_get(ctx, a, w->act, w->B);
    if (st) return st;
    if (explore > 0.0f) {
        float *u = ug_arena_alloc(ctx, (size_t)w->B * sizeof(float));
        TRY(u);
        ug_rng_uniform(rng, u, w->B);
        const float *fb = w->fb;  // == fbias
        for (int64_t b = 0; b < w->B; b++) {
            if (u[b] >= explore) continue;
            int64_t r = ug_rng_randint(rng, 2 * n_unset);
            const float *row = fb + b * 2 * w->D;
            for (int64_t i = 0; i < 2 * w->D; i++)
                if (row[i] == 0.0f && r-- == 0) {
                    w->act[b] = (int32_t)i;
                    break;
                }
        }
    }
    return UG_OK;
}

static ug_status alloc_traj(walk *w, ug_traj *out, int32_t start, int32_t steps, bool keep) {
    ug_ctx *ctx = w->ctx;
    out->batch = w->B;
    out->start = start;
    out->steps = steps;
    out->mask = NULL;
    out->extra = NULL;
    size_t n = (size_t)(steps > 0 ? steps : 1) * sizeof(ug_tensor *);
    TRY(out->log_pf = ug_arena_alloc(ctx, n));
    TRY(out->log_pb = ug_arena_alloc(ctx, n));
    memset(out->log_pf, 0, n);
    memset(out->log_pb, 0, n);
    out->states = NULL;
    if (keep) {
        size_t ns = (size_t)(steps + 1) * sizeof(ug_tensor *);
        TRY(out->states = ug_arena_alloc(ctx, ns));
        memset(out->states, 0, ns);
    }
    return UG_OK;
}

/* The forward walk from s (index start, contiguous, checked; sh its values on the host) for `steps`
 * steps. replay == NULL: sample with P_F and record actions; otherwise replay actions [B, >= steps]
 * (rescore). */
static ug_status walk_forward(bgfn *m, ug_ctx *ctx, ug_rng *rng, ug_tensor *s, float *sh, int32_t start,
                              int32_t steps, const ug_tensor *replay, uint32_t flags, float explore, float temp,
                              ug_traj *out) {
    walk wk, *w = &wk;
    ug_status st;
    if ((st = walk_init(w, m, ctx, s, sh))) return st;
    const bool want_pf = !(flags & UG_TRAJ_NO_PF), want_pb = !(flags & UG_TRAJ_NO_PB);
    const bool keep = flags & UG_TRAJ_KEEP_STATES, sampling = replay == NULL;
    const int64_t B = w->B, D = w->D;
    if ((st = alloc_traj(w, out, start, steps, keep))) return st;
    float *acts = NULL;  // [B, steps] on the host, written into out->actions at the end
    float *ra = NULL;    // replay [B, as] on the host
    int64_t as = 0;
    if (sampling) {
        TRY(out->actions = ug_new2(ctx, B, steps > 0 ? steps : 1));  // [B, steps]
        TRY(acts = ug_arena_alloc(ctx, (size_t)(B * (steps > 0 ? steps : 1)) * sizeof(float)));
    } else if (steps > 0) {
        as = replay->shape[1];
        TRY(ra = ug_arena_alloc(ctx, (size_t)(B * as) * sizeof(float)));
        if ((st = ug_tensor_get(ctx, replay, ra, B * as))) return st;
    }
    out->first = s;
    if (keep) out->states[0] = s;

    ug_tensor *f, *b;
    if ((st = heads(w, s, steps > 0 && (sampling || want_pf), false, want_pf, false, &f, &b))) return st;
    for (int32_t k = 0; k < steps; k++) {
        const int64_t n_set = start + k;
        ug_tensor *masked = NULL;
        if (f) TRY(masked = ug_add(ctx, f, w->fbias));  // [B, 2D]
        if (sampling) {
            if ((st = sample_actions(w, rng, masked, temp, explore, D - n_set))) return st;
        } else {
            const float *fb = w->fb;  // == fbias
            for (int64_t r = 0; r < B; r++) {
                float v = ra[r * as + k];
                int32_t a = (int32_t)v;
                if (!(v >= 0.0f && v < (float)(2 * D)) || (float)a != v)
                    return ug_ctx_fail(ctx, UG_ERR_ARG, "binary_gfn rescore: step %d row %lld: action %g is not in 0..%lld",
                                       k, (long long)r, (double)v, (long long)(2 * D - 1));
                if (fb[r * 2 * D + a] != 0.0f)
                    return ug_ctx_fail(ctx, UG_ERR_ARG,
                                       "binary_gfn rescore: step %d row %lld: action %d sets position %d, which is already set",
                                       k, (long long)r, a, a / 2);
                w->act[r] = a;
            }
        }
        if (want_pf) TRY(out->log_pf[k] = pick_logprob(w, masked, w->act));

        /* s_{k+1} and the masks after this step: host work, no graph (states never need gradients). */
        float *np = w->st, *fb = w->fb, *bb = w->bb;
        for (int64_t r = 0; r < B; r++) {
            int32_t a = w->act[r], j = a >> 1;
            np[r * D + j] = (float)(a & 1);
            fb[r * 2 * D + 2 * j] = fb[r * 2 * D + 2 * j + 1] = -INFINITY;
            bb[r * D + j] = 0.0f;
            w->pos[r] = j;
            if (acts) acts[r * steps + k] = (float)a;
        }
        TRY(s = state_tensor(w));  // [B, D]
        if ((st = masks_to_tensors(w))) return st;
        if (keep) out->states[k + 1] = s;

        const bool need_f = k + 1 < steps && (sampling || want_pf);
        if ((st = heads(w, s, need_f, want_pb, want_pf, want_pb, &f, &b))) return st;
        if (want_pb) TRY(out->log_pb[k] = log_pb_term(w, b, n_set + 1));
    }
    if (acts && steps > 0 && (st = ug_tensor_set(ctx, out->actions, acts, B * steps))) return st;
    out->last = s;
    return UG_OK;
}

static float resolve_temp(float t) { return t == 0.0f ? 1.0f : t; }

ug_status bgfn_sample_forward(void *self, ug_ctx *ctx, ug_rng *rng, const ug_traj_req *req, ug_traj *out) {
    bgfn *m = self;
    if (ug_ctx_status(ctx) != UG_OK) return ug_ctx_status(ctx);
    if (!req || !out || !rng) return ug_ctx_fail(ctx, UG_ERR_ARG, "binary_gfn sample_forward: NULL request, output or rng");
    if (req->flags & UG_TRAJ_REPARAM)
        return ug_ctx_fail(ctx, UG_ERR_UNSUPPORTED, "binary_gfn: discrete steps cannot be reparameterized (UG_TRAJ_REPARAM)");
    const float temp = resolve_temp(req->temperature);
    if (!(temp > 0.0f) || !isfinite(temp) || !(req->explore >= 0.0f && req->explore <= 1.0f))
        return ug_ctx_fail(ctx, UG_ERR_ARG, "binary_gfn sample_forward: temperature %g must be > 0 and explore %g in [0, 1]",
                           (double)req->temperature, (double)req->explore);
    ug_tensor *s;
    int32_t start;
    bool prev = ug_set_grad_enabled(ctx, false);
    if (!req->start) {
        if (req->batch <= 0 || req->start_index != 0) {
            ug_set_grad_enabled(ctx, prev);
            return ug_ctx_fail(ctx, UG_ERR_ARG,
                               "binary_gfn sample_forward: from s0 needs batch > 0 (got %lld) and start_index 0 (got %d)",
                               (long long)req->batch, req->start_index);
        }
        int64_t shape[2] = {req->batch, m->D};
        s = ug_full(ctx, 2, shape, -1.0f);  // [B, D] all unset
        start = 0;
    } else {
        s = ug_contiguous(ctx, ug_detach(ctx, req->start));  // [B, D]
        start = req->start_index;
    }
    ug_set_grad_enabled(ctx, prev);
    if (!s) return ctx_status(ctx);
    if (start < 0 || start > m->D)
        return ug_ctx_fail(ctx, UG_ERR_ARG, "binary_gfn sample_forward: start_index %d outside [0, %lld]", start,
                           (long long)m->D);
    ug_status st;
    float *sh;
    if (req->start && (st = check_shape(ctx, m, s, "sample_forward"))) return st;
    if ((st = states_to_host(ctx, s, &sh))) return st;
    if (req->start && (st = check_states(ctx, m, s, sh, start, "sample_forward"))) return st;
    int32_t steps = req->steps < 0 ? (int32_t)(m->D - start) : req->steps;
    if (steps > m->D - start)
        return ug_ctx_fail(ctx, UG_ERR_ARG, "binary_gfn sample_forward: %d steps from index %d pass x (D = %lld)", steps,
                           start, (long long)m->D);
    return walk_forward(m, ctx, rng, s, sh, start, steps, NULL, req->flags, req->explore, temp, out);
}

/* A trajectory kept as states only: step k's action is the one position where states k and k+1
 * differ, with its value in state k+1. */
static ug_status actions_from_states(const bgfn *m, ug_ctx *ctx, const ug_traj *traj, const ug_tensor **out) {
    const int64_t D = m->D;
    const int32_t steps = traj->steps;
    for (int32_t k = 0; k <= steps; k++) {
        const ug_tensor *t = traj->states[k];
        if (!t || t->ndim != 2 || t->shape[1] != D || t->dtype != UG_F32 || !ug_is_contiguous(t) ||
            t->shape[0] != traj->states[0]->shape[0])
            return ug_ctx_fail(ctx, UG_ERR_ARG, "binary_gfn rescore: states[%d] must be contiguous F32 [B, %lld]", k,
                               (long long)D);
    }
    const int64_t B = traj->states[0]->shape[0];
    ug_tensor *A = ug_new2(ctx, B, steps);  // [B, steps]
    float *a = ug_arena_alloc(ctx, (size_t)(B * steps) * sizeof(float));  // A on the host
    float *s0 = NULL, *s1 = NULL;                                          // states k, k+1 on the host
    ug_status st;
    if (!A || !a) return ctx_status(ctx);
    if ((st = states_to_host(ctx, traj->states[0], &s1))) return st;
    for (int32_t k = 0; k < steps; k++) {
        s0 = s1;
        if ((st = states_to_host(ctx, traj->states[k + 1], &s1))) return st;
        for (int64_t b = 0; b < B; b++) {
            int64_t j = 0, found = 0;
            for (int64_t i = 0; i < D; i++)
                if (s0[b * D + i] != s1[b * D + i]) {
                    j = i;
                    found++;
                }
            if (found != 1 || s0[b * D + j] != -1.0f)
                return ug_ctx_fail(ctx, UG_ERR_ARG, "binary_gfn rescore: states %d and %d of row %lld are not one step apart",
                                   k, k + 1, (long long)b);
            a[b * steps + k] = (float)(2 * j + (s1[b * D + j] > 0.5f));
        }
    }
    if ((st = ug_tensor_set(ctx, A, a, B * steps))) return st;
    *out = A;
    return UG_OK;
}

ug_status bgfn_rescore(void *self, ug_ctx *ctx, ug_traj *traj, uint32_t flags) {
    bgfn *m = self;
    if (ug_ctx_status(ctx) != UG_OK) return ug_ctx_status(ctx);
    char sb[64];
    if (!traj) return ug_ctx_fail(ctx, UG_ERR_ARG, "binary_gfn rescore: NULL trajectory");
    if (traj->start < 0 || traj->steps < 0 || traj->start + (int64_t)traj->steps > m->D)
        return ug_ctx_fail(ctx, UG_ERR_ARG, "binary_gfn rescore: start %d + steps %d outside [0, %lld]", traj->start,
                           traj->steps, (long long)m->D);
    ug_tensor *first = traj->first ? traj->first : traj->states ? traj->states[0] : NULL;
    const ug_tensor *A = traj->actions;
    if (!A && traj->states && traj->steps > 0 && first) {
        ug_status st = actions_from_states(m, ctx, traj, &A);
        if (st) return st;
    }
    if (!first || (traj->steps > 0 && !A))
        return ug_ctx_fail(ctx, UG_ERR_ARG, "binary_gfn rescore: the trajectory needs first and actions (or states)");
    if (traj->steps > 0 && (A->ndim != 2 || A->dtype != UG_F32 || A->shape[0] != first->shape[0] ||
                            A->shape[1] < traj->steps))
        return ug_ctx_fail(ctx, UG_ERR_ARG, "binary_gfn rescore: actions %s must be F32 [B, %d]",
                           ug_shape_str(A, sb, sizeof sb), traj->steps);
    bool prev = ug_set_grad_enabled(ctx, false);
    ug_tensor *s = ug_contiguous(ctx, ug_detach(ctx, first));  // [B, D]
    ug_set_grad_enabled(ctx, prev);
    if (!s) return ctx_status(ctx);
    ug_status st;
    float *sh;
    if ((st = check_shape(ctx, m, s, "rescore")) || (st = states_to_host(ctx, s, &sh)) ||
        (st = check_states(ctx, m, s, sh, traj->start, "rescore")))
        return st;
    /* Write into a copy, then move only the recomputed terms (and states if asked) into traj: terms the
     * flags exclude are left as they are. */
    ug_traj tmp = *traj;
    if ((st = walk_forward(m, ctx, NULL, s, sh, traj->start, traj->steps, A, flags, 0.0f, 1.0f, &tmp))) return st;
    if (!(flags & UG_TRAJ_NO_PF)) traj->log_pf = tmp.log_pf;
    if (!(flags & UG_TRAJ_NO_PB)) traj->log_pb = tmp.log_pb;
    if (flags & UG_TRAJ_KEEP_STATES) traj->states = tmp.states;
    return UG_OK;
}

ug_status bgfn_sample_backward(void *self, ug_ctx *ctx, ug_rng *rng, const ug_traj_req *req, ug_traj *out) {
    bgfn *m = self;
    if (ug_ctx_status(ctx) != UG_OK) return ug_ctx_status(ctx);
    if (!req || !out || !rng || !req->start)
        return ug_ctx_fail(ctx, UG_ERR_ARG, "binary_gfn sample_backward: needs a request with start states, an output and rng");
    if (req->flags & UG_TRAJ_REPARAM)
        return ug_ctx_fail(ctx, UG_ERR_UNSUPPORTED, "binary_gfn: discrete steps cannot be reparameterized (UG_TRAJ_REPARAM)");
    const int32_t n = req->start_index;
    if (n < 0 || n > m->D)
        return ug_ctx_fail(ctx, UG_ERR_ARG, "binary_gfn sample_backward: start_index %d outside [0, %lld]", n,
                           (long long)m->D);
    const int32_t steps = req->steps < 0 ? n : req->steps;
    if (steps > n)
        return ug_ctx_fail(ctx, UG_ERR_ARG, "binary_gfn sample_backward: %d steps back from index %d pass s0", steps, n);
    bool prev = ug_set_grad_enabled(ctx, false);
    ug_tensor *s = ug_contiguous(ctx, ug_detach(ctx, req->start));  // [B, D]
    ug_set_grad_enabled(ctx, prev);
    if (!s) return ctx_status(ctx);
    ug_status st;
    float *sh;
    if ((st = check_shape(ctx, m, s, "sample_backward")) || (st = states_to_host(ctx, s, &sh)) ||
        (st = check_states(ctx, m, s, sh, n, "sample_backward")))
        return st;

    walk wk, *w = &wk;
    if ((st = walk_init(w, m, ctx, s, sh))) return st;
    const uint32_t flags = req->flags;
    const bool want_pf = !(flags & UG_TRAJ_NO_PF), want_pb = !(flags & UG_TRAJ_NO_PB);
    const bool keep = flags & UG_TRAJ_KEEP_STATES;
    const int64_t B = w->B, D = w->D;
    if ((st = alloc_traj(w, out, n - steps, steps, keep))) return st;
    TRY(out->actions = ug_new2(ctx, B, steps > 0 ? steps : 1));  // [B, steps], forward order
    float *acts;  // [B, steps] on the host, written into out->actions at the end
    TRY(acts = ug_arena_alloc(ctx, (size_t)(B * (steps > 0 ? steps : 1)) * sizeof(float)));
    out->last = s;
    if (keep) out->states[steps] = s;

    ug_tensor *f, *b;
    if ((st = heads(w, s, false, steps > 0, false, want_pb, &f, &b))) return st;
    for (int32_t k = 0; k < steps; k++) {
        const int32_t t = steps - 1 - k;  // forward-order index of this step
        const int64_t n_set = n - k;
        ug_tensor *masked = m->learn_pb ? ug_add(ctx, b, w->bbias) : w->bbias;  // [B, D]
        TRY(masked);
        ug_tensor *pj = ug_sample_categorical(ctx, rng, masked, NULL);  // [B] I32
        TRY(pj);
        if ((st = ug_tensor_get(ctx, pj, w->pos, B))) return st;
        if (want_pb) {
            if (m->learn_pb) TRY(out->log_pb[t] = pick_logprob(w, masked, w->pos));
            else TRY(out->log_pb[t] = log_pb_term(w, NULL, n_set));
        }

        /* s_{k-1} and the masks: host work, as in the forward walk */
        float *pp = w->st, *fb = w->fb, *bb = w->bb;
        for (int64_t r = 0; r < B; r++) {
            int32_t j = w->pos[r];
            int32_t a = 2 * j + (pp[r * D + j] > 0.5f ? 1 : 0);
            pp[r * D + j] = -1.0f;
            fb[r * 2 * D + 2 * j] = fb[r * 2 * D + 2 * j + 1] = 0.0f;
            bb[r * D + j] = -INFINITY;
            w->act[r] = a;
            acts[r * steps + t] = (float)a;
        }
        TRY(s = state_tensor(w));  // [B, D]
        if ((st = masks_to_tensors(w))) return st;
        if (keep) out->states[t] = s;

        if ((st = heads(w, s, want_pf, k + 1 < steps, want_pf, want_pb, &f, &b))) return st;
        if (want_pf) TRY(out->log_pf[t] = pick_logprob(w, ug_add(ctx, f, w->fbias), w->act));
    }
    if (steps > 0 && (st = ug_tensor_set(ctx, out->actions, acts, B * steps))) return st;
    out->first = s;
    return UG_OK;
}
