/* tiny_binary.c — EXAMPLE model family: a binary GFlowNet on D <= 4 bits, small enough that its
 * terminal distribution can be computed exactly by enumerating every construction order.
 *
 * It exists so objectives can be tested against exact answers, not to model data: the same policy
 * shape as EB-GFN's binary GFlowNet (REPRODUCTION.md §3), shrunk until nothing needs to be estimated.
 *
 *   state    s in {unset, 0, 1}^D, stored as a [B, D] float tensor with unset = -1; s0 = all unset,
 *            state index i = number of set coordinates, x = s_D (every trajectory has D steps)
 *   action   a = 2*pos + value: set coordinate `pos` (unset in s) to `value`
 *   P_F      softmax over the 2D actions, set positions masked out (group "forward")
 *   P_B      softmax over the set positions of s' (which one to erase; group "backward"),
 *            or uniform when learn_pb is false
 *   log Z    one scalar (group "logZ"); log F(s) (group "flow") when flow is true
 *   R(x)     fixed: log_rewards[idx(x)] with idx(x) = sum_i x_i 2^i (coordinate i is bit i), or by
 *            default R(x) = 1 + idx(x), a non-uniform target
 *   log p(x) exact: logsumexp over the D! orders of the product of P_F along each order.
 *
 * The networks are lookup tables over the 3^D states by default (net: table), or small MLPs on the
 * -1/0/1 encoding (net: mlp). States, masks and actions are built in host scratch (step arena) and
 * copied into tensors (ug_from_f32, ug_tensor_set); values are read back with ug_tensor_get. */
#define UG_PLUGIN
#include "unigfn/plugin.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TB_MAX_D 4
#define TB_MAX_ORDERS 24    /* 4! */
#define MASKED_LOGIT -1e9f  /* exp underflows to exactly 0; unlike -inf it keeps gradients finite */

typedef struct tiny {
    int D;
    int64_t n_states;         /* 3^D */
    bool mlp, learn_pb, flow;
    ug_tensor *pf_tab;        /* [3^D, 2D] forward logits by state (table net) */
    ug_tensor *pb_tab;        /* [3^D, D] backward logits by state */
    ug_tensor *flow_tab;      /* [3^D] log F by state */
    ug_mlp pf_net, pb_net, flow_net;
    ug_tensor *log_z;         /* [] */
    float log_r[1 << TB_MAX_D];
    uint32_t caps;
} tiny;

static const ug_param_spec tiny_params[] = {
    {"dim", UG_P_INT, "3", UG_P_MIN | UG_P_MAX, 1, TB_MAX_D, NULL, "number of bits D (exact enumeration needs D <= 4)"},
    {"net", UG_P_ENUM, "table", 0, 0, 0, "table|mlp", "policies as lookup tables over the 3^D states, or MLPs"},
    {"hidden", UG_P_INT_LIST, "[32, 32]", UG_P_MIN, 1, 0, NULL, "MLP hidden widths (net: mlp)"},
    {"learn_pb", UG_P_BOOL, "true", 0, 0, 0, NULL, "learn P_B (group backward); false: uniform over set positions"},
    {"flow", UG_P_BOOL, "false", 0, 0, 0, NULL, "add a log F(s) head (group flow) for detailed balance"},
    {"log_rewards", UG_P_FLOAT_LIST, "[]", 0, 0, 0, NULL,
     "2^D target log-rewards indexed by sum_i x_i 2^i; [] = log(1 + index)"},
    {NULL, 0, NULL, 0, 0, 0, NULL, NULL},
};

/* ---- states ---------------------------------------------------------------------------------- */

/* n floats / int32s of host scratch in the step arena (NULL after failing the context). */
static float *host_f32(ug_ctx *ctx, int64_t n) { return ug_arena_alloc(ctx, sizeof(float) * (size_t)(n > 0 ? n : 1)); }
static int32_t *host_i32(ug_ctx *ctx, int64_t n) {
    return ug_arena_alloc(ctx, sizeof(int32_t) * (size_t)(n > 0 ? n : 1));
}

/* A tensor's n values copied into new host scratch, or NULL after failing the context. */
static void *to_host(ug_ctx *ctx, const ug_tensor *t, int64_t n) {
    void *h = t && t->dtype == UG_I32 ? (void *)host_i32(ctx, n) : (void *)host_f32(ctx, n);
    return h && ug_tensor_get(ctx, t, h, n) == UG_OK ? h : NULL;
}

/* Check a [B, D] state batch and compute each row's table index (sum_i (s_i + 1) 3^i) and number of
 * set coordinates. Returns the values (a host copy), or NULL after failing the context. */
static const float *read_states(tiny *m, ug_ctx *ctx, ug_tensor *s, int32_t *idx, int32_t *nset, const char *who) {
    char b[64];
    if (!s || s->ndim != 2 || s->shape[1] != m->D || s->dtype != UG_F32) {
        ug_ctx_fail(ctx, UG_ERR_ARG, "tiny_binary.%s: states must be F32 [B, %d], got %s", who, m->D,
                    s ? ug_shape_str(s, b, sizeof b) : "NULL");
        return NULL;
    }
    const float *d = to_host(ctx, s, ug_numel(s));
    if (!d) return NULL;
    for (int64_t r = 0; r < s->shape[0]; r++) {
        int32_t id = 0, n = 0, p3 = 1;
        for (int i = 0; i < m->D; i++, p3 *= 3) {
            float v = d[r * m->D + i];
            if (v != -1.0f && v != 0.0f && v != 1.0f) {
                ug_ctx_fail(ctx, UG_ERR_ARG, "tiny_binary.%s: row %lld, coordinate %d is %g (want -1 unset, 0 or 1)",
                            who, (long long)r, i, (double)v);
                return NULL;
            }
            id += (int32_t)(v + 1.0f) * p3;
            n += v != -1.0f;
        }
        if (idx) idx[r] = id;
        if (nset) nset[r] = n;
    }
    return d;
}

static ug_tensor *index_tensor(ug_ctx *ctx, const int32_t *v, int64_t n) {
    return ug_from_i32(ctx, v, 1, &n);  // [n] i32
}

/* ---- networks ---------------------------------------------------------------------------------- */

/* Raw logits of a head on states s (with table indices idx): forward [B, 2D], backward [B, D],
 * flow [B]. */
enum { HEAD_PF, HEAD_PB, HEAD_FLOW };
static ug_tensor *head(tiny *m, ug_ctx *ctx, int which, ug_tensor *s, const int32_t *idx) {
    int64_t B = s->shape[0];
    if (!m->mlp) {
        ug_tensor *tab = which == HEAD_PF ? m->pf_tab : which == HEAD_PB ? m->pb_tab : m->flow_tab;
        return ug_index_select(ctx, tab, 0, index_tensor(ctx, idx, B));  // [B, K] or [B]
    }
    const ug_mlp *net = which == HEAD_PF ? &m->pf_net : which == HEAD_PB ? &m->pb_net : &m->flow_net;
    ug_tensor *y = ug_mlp_forward(ctx, net, s);  // [B, K]
    if (which == HEAD_FLOW) y = ug_reshape(ctx, y, 1, &B);  // [B]
    return y;
}

/* Forward log-policy over actions with illegal ones (set positions) masked: [B, 2D]. legal gets the
 * 0/1 mask when not NULL. */
static ug_tensor *pf_logp_all(tiny *m, ug_ctx *ctx, ug_tensor *s, const float *sd, const int32_t *idx,
                              ug_tensor **legal) {
    int64_t B = s->shape[0], K = 2 * m->D, sh[2] = {B, K};
    float *il = host_f32(ctx, B * K), *lg = legal ? host_f32(ctx, B * K) : NULL;  // [B, 2D] each, host
    if (!il || (legal && !lg)) return NULL;
    for (int64_t r = 0; r < B; r++)
        for (int64_t a = 0; a < K; a++) {
            bool unset = sd[r * m->D + a / 2] == -1.0f;
            il[r * K + a] = unset ? 0.0f : 1.0f;
            if (lg) lg[r * K + a] = unset ? 1.0f : 0.0f;
        }
    ug_tensor *illegal = ug_from_f32(ctx, il, 2, sh);  // [B, 2D]
    ug_tensor *ok = legal ? ug_from_f32(ctx, lg, 2, sh) : NULL;
    if (!illegal || (legal && !ok)) return NULL;
    if (legal) *legal = ok;
    return ug_log_softmax(ctx, ug_masked_fill(ctx, head(m, ctx, HEAD_PF, s, idx), illegal, MASKED_LOGIT), 1);
}

/* Backward log-policy over positions, unset ones masked: [B, D] (NULL with uniform P_B). */
static ug_tensor *pb_logp_all(tiny *m, ug_ctx *ctx, ug_tensor *s, const float *sd, const int32_t *idx,
                              ug_tensor **legal) {
    int64_t B = s->shape[0], D = m->D, sh[2] = {B, D};
    float *il = host_f32(ctx, B * D), *lg = host_f32(ctx, B * D);  // [B, D] each, host
    if (!il || !lg) return NULL;
    for (int64_t k = 0; k < B * D; k++) {
        il[k] = sd[k] == -1.0f ? 1.0f : 0.0f;
        lg[k] = 1.0f - il[k];
    }
    ug_tensor *illegal = ug_from_f32(ctx, il, 2, sh);  // [B, D]
    ug_tensor *ok = ug_from_f32(ctx, lg, 2, sh);       // [B, D]
    if (!illegal || !ok) return NULL;
    if (legal) *legal = ok;
    if (!m->learn_pb) return NULL;
    return ug_log_softmax(ctx, ug_masked_fill(ctx, head(m, ctx, HEAD_PB, s, idx), illegal, MASKED_LOGIT), 1);
}

/* logp [B, K] picked at per-row index pick -> [B]. */
static ug_tensor *pick(ug_ctx *ctx, ug_tensor *logp, const int32_t *pick_idx) {
    int64_t B = logp->shape[0], sh[2] = {B, 1};
    ug_tensor *g = ug_gather(ctx, logp, 1, ug_from_i32(ctx, pick_idx, 2, sh));  // [B, 1]
    return ug_reshape(ctx, g, 1, &B);  // [B]
}

/* log P_B(s | s') for the erased positions: learned or uniform over the set positions of s'. */
static ug_tensor *log_pb_of(tiny *m, ug_ctx *ctx, ug_tensor *sp, const float *spd, const int32_t *sp_idx,
                            const int32_t *sp_nset, const int32_t *pos) {
    int64_t B = sp->shape[0];
    if (m->learn_pb) return pick(ctx, pb_logp_all(m, ctx, sp, spd, sp_idx, NULL), pos);
    float *u = host_f32(ctx, B);  // [B] on the host
    if (!u) return NULL;
    for (int64_t r = 0; r < B; r++) u[r] = -logf((float)sp_nset[r]);
    return ug_from_f32(ctx, u, 1, &B);  // [B]
}

/* ---- trajectories ------------------------------------------------------------------------------- */

typedef struct scratch {
    int32_t *idx, *nset, *pos, *act, *idx2, *nset2;
} scratch;

static bool scratch_alloc(ug_ctx *ctx, int64_t B, scratch *w) {
    int32_t *p = ug_arena_alloc(ctx, sizeof(int32_t) * (size_t)B * 6);
    if (!p) return false;
    *w = (scratch){p, p + B, p + 2 * B, p + 3 * B, p + 4 * B, p + 5 * B};
    return true;
}

static ug_status traj_alloc(ug_ctx *ctx, ug_traj *out, int64_t B, int start, int steps) {
    size_t np = sizeof(ug_tensor *);
    out->batch = B;
    out->start = start;
    out->steps = steps;
    out->states = ug_arena_alloc(ctx, np * (size_t)(steps + 1));
    out->log_pf = ug_arena_alloc(ctx, np * (size_t)(steps > 0 ? steps : 1));
    out->log_pb = ug_arena_alloc(ctx, np * (size_t)(steps > 0 ? steps : 1));
    out->mask = NULL;
    out->extra = NULL;
    out->actions = ug_new2(ctx, B, steps > 0 ? steps : 1);  // [B, steps]
    if (!out->states || !out->log_pf || !out->log_pb || !out->actions)
        return ug_ctx_fail(ctx, UG_ERR_NOMEM, "tiny_binary: out of step memory for a trajectory batch");
    memset(out->log_pf, 0, np * (size_t)(steps > 0 ? steps : 1));
    memset(out->log_pb, 0, np * (size_t)(steps > 0 ? steps : 1));
    return UG_OK;
}

static ug_tensor *copy_state(ug_ctx *ctx, const float *src, int64_t B, int64_t D) {
    int64_t sh[2] = {B, D};
    return ug_from_f32(ctx, src, 2, sh);  // [B, D]
}

/* A host copy of host states [B, D] (to update and then copy_state), or NULL after failing ctx. */
static float *dup_state(ug_ctx *ctx, const float *src, int64_t B, int64_t D) {
    float *d = host_f32(ctx, B * D);
    if (d) memcpy(d, src, sizeof(float) * (size_t)(B * D));
    return d;
}

static void tiny_info(void *self, ug_model_info *out) {
    tiny *m = self;
    out->space = (ug_space){.kind = UG_SPACE_BINARY, .dim = m->D, .categories = 2};
    out->horizon = m->D;
    out->variable_length = false;
    out->deterministic_pb = false;
    out->caps = m->caps;
}

/* Every row of `start` must sit at index `want` (that many coordinates set). */
static ug_status check_index(ug_ctx *ctx, const int32_t *nset, int64_t B, int want, const char *who) {
    for (int64_t r = 0; r < B; r++)
        if (nset[r] != want)
            return ug_ctx_fail(ctx, UG_ERR_ARG, "tiny_binary.%s: row %lld has %d set coordinates but start_index is %d",
                               who, (long long)r, nset[r], want);
    return UG_OK;
}

static ug_status tiny_sample_forward(void *self, ug_ctx *ctx, ug_rng *rng, const ug_traj_req *req, ug_traj *out) {
    tiny *m = self;
    const int64_t D = m->D;
    int64_t B = req->start ? req->start->shape[0] : req->batch;
    int i0 = req->start ? req->start_index : 0;
    if (B <= 0) return ug_ctx_fail(ctx, UG_ERR_ARG, "tiny_binary.sample_forward: batch %lld", (long long)B);
    if (i0 < 0 || i0 > D) return ug_ctx_fail(ctx, UG_ERR_ARG, "tiny_binary.sample_forward: start_index %d", i0);
    int steps = req->steps < 0 ? (int)D - i0 : req->steps;
    if (i0 + steps > D)
        return ug_ctx_fail(ctx, UG_ERR_ARG, "tiny_binary.sample_forward: %d steps from index %d pass x (D = %lld)",
                           steps, i0, (long long)D);
    float temp = req->temperature > 0 ? req->temperature : 1.0f;
    scratch w;
    if (!scratch_alloc(ctx, B, &w)) return ug_ctx_fail(ctx, UG_ERR_NOMEM, "tiny_binary: out of step memory");
    ug_tensor *s;
    if (req->start) {
        const float *sd = read_states(m, ctx, req->start, NULL, w.nset, "sample_forward");
        if (!sd || check_index(ctx, w.nset, B, i0, "sample_forward")) return ug_ctx_status(ctx);
        s = copy_state(ctx, sd, B, D);
    } else {
        int64_t sh[2] = {B, D};
        s = ug_full(ctx, 2, sh, -1.0f);  // [B, D] s0
    }
    if (!s || traj_alloc(ctx, out, B, i0, steps)) return ug_ctx_status(ctx) ? ug_ctx_status(ctx) : UG_ERR_NOMEM;
    out->states[0] = out->first = s;
    float *acts = host_f32(ctx, B * steps);  // [B, steps] on the host, into out->actions at the end
    if (!acts) return ug_ctx_status(ctx);
    for (int k = 0; k < steps; k++) {
        const float *sd = read_states(m, ctx, s, w.idx, w.nset, "sample_forward");
        if (!sd) return ug_ctx_status(ctx);
        ug_tensor *legal = NULL;
        ug_tensor *logp = pf_logp_all(m, ctx, s, sd, w.idx, &legal);  // [B, 2D]
        if (!logp) return ug_ctx_status(ctx);
        /* The behaviour policy (temperature, uniform exploration) only picks actions; log_pf is
         * always the on-policy P_F, as off-policy objectives expect. */
        bool g = ug_set_grad_enabled(ctx, false);
        ug_tensor *a = ug_sample_categorical(ctx, rng, temp == 1.0f ? logp : ug_mul_scalar(ctx, logp, 1.0f / temp), legal);
        ug_tensor *au = NULL;
        float *u = NULL;
        if (a && req->explore > 0) {
            au = ug_sample_categorical(ctx, rng, ug_zeros_like(ctx, logp), legal);
            u = ug_arena_alloc(ctx, sizeof(float) * (size_t)B);
            if (u) ug_rng_uniform(rng, u, B);
        }
        ug_set_grad_enabled(ctx, g);
        if (!a || (req->explore > 0 && (!au || !u))) return ug_ctx_status(ctx) ? ug_ctx_status(ctx) : UG_ERR_NOMEM;
        const int32_t *ah = to_host(ctx, a, B), *auh = au ? to_host(ctx, au, B) : NULL;  // [B] each
        float *spd = dup_state(ctx, sd, B, D);  // [B, D] s_{k+1} on the host
        if (!ah || (au && !auh) || !spd) return ug_ctx_status(ctx);
        for (int64_t r = 0; r < B; r++) {
            int32_t act = (u && u[r] < req->explore) ? auh[r] : ah[r];
            w.act[r] = act;
            w.pos[r] = act / 2;
            spd[r * D + act / 2] = (float)(act % 2);
            acts[r * steps + k] = (float)act;
        }
        ug_tensor *sp = copy_state(ctx, spd, B, D);  // [B, D] s_{k+1}
        if (!sp) return ug_ctx_status(ctx);
        if (!(req->flags & UG_TRAJ_NO_PF)) out->log_pf[k] = pick(ctx, logp, w.act);
        if (!(req->flags & UG_TRAJ_NO_PB)) {
            if (!read_states(m, ctx, sp, w.idx2, w.nset2, "sample_forward")) return ug_ctx_status(ctx);
            out->log_pb[k] = log_pb_of(m, ctx, sp, spd, w.idx2, w.nset2, w.pos);
        }
        out->states[k + 1] = s = sp;
    }
    if (steps > 0 && ug_tensor_set(ctx, out->actions, acts, B * steps)) return ug_ctx_status(ctx);
    out->last = s;
    if (!(req->flags & UG_TRAJ_KEEP_STATES)) out->states = NULL;
    return ug_ctx_status(ctx);
}

static ug_status tiny_sample_backward(void *self, ug_ctx *ctx, ug_rng *rng, const ug_traj_req *req, ug_traj *out) {
    tiny *m = self;
    const int64_t D = m->D;
    if (!req->start) return ug_ctx_fail(ctx, UG_ERR_ARG, "tiny_binary.sample_backward: needs start states");
    int64_t B = req->start->shape[0];
    int j = req->start_index;
    if (j < 0 || j > D) return ug_ctx_fail(ctx, UG_ERR_ARG, "tiny_binary.sample_backward: start_index %d", j);
    int steps = req->steps < 0 ? j : req->steps;
    if (steps > j)
        return ug_ctx_fail(ctx, UG_ERR_ARG, "tiny_binary.sample_backward: %d steps from index %d pass s0", steps, j);
    if (B <= 0) return ug_ctx_fail(ctx, UG_ERR_ARG, "tiny_binary.sample_backward: batch %lld", (long long)B);
    scratch w;
    if (!scratch_alloc(ctx, B, &w)) return ug_ctx_fail(ctx, UG_ERR_NOMEM, "tiny_binary: out of step memory");
    const float *xd = read_states(m, ctx, req->start, NULL, w.nset, "sample_backward");
    if (!xd || check_index(ctx, w.nset, B, j, "sample_backward")) return ug_ctx_status(ctx);
    ug_tensor *sp = copy_state(ctx, xd, B, D);  // [B, D] the state being undone
    if (!sp || traj_alloc(ctx, out, B, j - steps, steps)) return ug_ctx_status(ctx) ? ug_ctx_status(ctx) : UG_ERR_NOMEM;
    out->states[steps] = out->last = sp;
    float *acts = host_f32(ctx, B * steps);  // [B, steps] on the host, into out->actions at the end
    if (!acts) return ug_ctx_status(ctx);
    for (int t = 0; t < steps; t++) {
        int k = steps - 1 - t;  // step k goes from states[k] to states[k+1] = sp
        const float *spd = read_states(m, ctx, sp, w.idx2, w.nset2, "sample_backward");
        if (!spd) return ug_ctx_status(ctx);
        ug_tensor *legal = NULL;
        ug_tensor *logp_b = pb_logp_all(m, ctx, sp, spd, w.idx2, &legal);  // [B, D] or NULL (uniform)
        if (!legal || ug_ctx_status(ctx)) return ug_ctx_status(ctx) ? ug_ctx_status(ctx) : UG_ERR_NOMEM;
        bool g = ug_set_grad_enabled(ctx, false);
        ug_tensor *p = ug_sample_categorical(ctx, rng, logp_b ? logp_b : ug_zeros_like(ctx, legal), legal);
        ug_set_grad_enabled(ctx, g);
        if (!p) return ug_ctx_status(ctx);
        const int32_t *ph = to_host(ctx, p, B);  // [B]
        float *sd = dup_state(ctx, spd, B, D);   // [B, D] s_k on the host
        if (!ph || !sd) return ug_ctx_status(ctx);
        for (int64_t r = 0; r < B; r++) {
            int32_t pos = ph[r];
            w.pos[r] = pos;
            w.act[r] = 2 * pos + (int32_t)spd[r * D + pos];
            sd[r * D + pos] = -1.0f;
            acts[r * steps + k] = (float)w.act[r];
        }
        ug_tensor *s = copy_state(ctx, sd, B, D);  // [B, D] s_k
        if (!s) return ug_ctx_status(ctx);
        if (!(req->flags & UG_TRAJ_NO_PB))
            out->log_pb[k] = logp_b ? pick(ctx, logp_b, w.pos) : log_pb_of(m, ctx, sp, spd, w.idx2, w.nset2, w.pos);
        if (!(req->flags & UG_TRAJ_NO_PF)) {
            if (!read_states(m, ctx, s, w.idx, NULL, "sample_backward")) return ug_ctx_status(ctx);
            out->log_pf[k] = pick(ctx, pf_logp_all(m, ctx, s, sd, w.idx, NULL), w.act);
        }
        out->states[k] = sp = s;
    }
    if (steps > 0 && ug_tensor_set(ctx, out->actions, acts, B * steps)) return ug_ctx_status(ctx);
    out->first = sp;
    if (!(req->flags & UG_TRAJ_KEEP_STATES)) out->states = NULL;
    return ug_ctx_status(ctx);
}

/* Replay traj->actions from traj->first with the current parameters. */
static ug_status tiny_rescore(void *self, ug_ctx *ctx, ug_traj *traj, uint32_t flags) {
    tiny *m = self;
    const int64_t D = m->D, B = traj->batch;
    if (!traj->first || !traj->actions || traj->actions->ndim != 2 || traj->actions->shape[0] != B ||
        traj->actions->shape[1] < traj->steps || traj->first->shape[0] != B)
        return ug_ctx_fail(ctx, UG_ERR_ARG, "tiny_binary.rescore: needs first [B, D] and actions [B, steps]");
    size_t np = sizeof(ug_tensor *) * (size_t)(traj->steps > 0 ? traj->steps : 1);
    if (!traj->log_pf && !(traj->log_pf = ug_arena_alloc(ctx, np))) return ug_ctx_fail(ctx, UG_ERR_NOMEM, "rescore");
    if (!traj->log_pb && !(traj->log_pb = ug_arena_alloc(ctx, np))) return ug_ctx_fail(ctx, UG_ERR_NOMEM, "rescore");
    scratch w;
    if (!scratch_alloc(ctx, B, &w)) return ug_ctx_fail(ctx, UG_ERR_NOMEM, "rescore");
    const int64_t as = traj->actions->shape[1];
    const float *acts = to_host(ctx, traj->actions, B * as);  // [B, as]
    if (!acts) return ug_ctx_status(ctx);
    ug_tensor *s = traj->first;
    for (int k = 0; k < traj->steps; k++) {
        const float *sd = read_states(m, ctx, s, w.idx, w.nset, "rescore");
        if (!sd) return ug_ctx_status(ctx);
        float *spd = dup_state(ctx, sd, B, D);  // [B, D] on the host
        if (!spd) return ug_ctx_status(ctx);
        for (int64_t r = 0; r < B; r++) {
            int32_t a = (int32_t)acts[r * as + k];
            if (a < 0 || a >= 2 * D || sd[r * D + a / 2] != -1.0f)
                return ug_ctx_fail(ctx, UG_ERR_ARG, "tiny_binary.rescore: row %lld step %d: action %d is not legal",
                                   (long long)r, k, a);
            w.act[r] = a;
            w.pos[r] = a / 2;
            spd[r * D + a / 2] = (float)(a % 2);
        }
        ug_tensor *sp = copy_state(ctx, spd, B, D);  // [B, D]
        if (!sp) return ug_ctx_status(ctx);
        traj->log_pf[k] = (flags & UG_TRAJ_NO_PF) ? NULL : pick(ctx, pf_logp_all(m, ctx, s, sd, w.idx, NULL), w.act);
        if (flags & UG_TRAJ_NO_PB) {
            traj->log_pb[k] = NULL;
        } else {
            if (!read_states(m, ctx, sp, w.idx2, w.nset2, "rescore")) return ug_ctx_status(ctx);
            traj->log_pb[k] = log_pb_of(m, ctx, sp, spd, w.idx2, w.nset2, w.pos);
        }
        s = sp;
    }
    return ug_ctx_status(ctx);
}

/* ---- capabilities -------------------------------------------------------------------------------- */

static ug_tensor *tiny_log_flow(void *self, ug_ctx *ctx, ug_tensor *state, int32_t index) {
    tiny *m = self;
    (void)index;  // the state itself says how many coordinates are set
    if (!m->flow) {
        ug_ctx_fail(ctx, UG_ERR_UNSUPPORTED, "tiny_binary: log_flow needs flow: true");
        return NULL;
    }
    int32_t *idx = state ? ug_arena_alloc(ctx, sizeof(int32_t) * (size_t)state->shape[0]) : NULL;
    if (!read_states(m, ctx, state, idx, NULL, "log_flow")) return NULL;
    return head(m, ctx, HEAD_FLOW, state, idx);  // [B]
}

/* Terminal x -> bit index sum_i x_i 2^i; fails on an unset coordinate. */
static bool x_index(tiny *m, ug_ctx *ctx, ug_tensor *x, int32_t *bits, const char *who) {
    int32_t *nset = x ? ug_arena_alloc(ctx, sizeof(int32_t) * (size_t)x->shape[0]) : NULL;
    const float *d = read_states(m, ctx, x, NULL, nset, who);
    if (!d) return false;
    for (int64_t r = 0; r < x->shape[0]; r++) {
        if (nset[r] != m->D) {
            ug_ctx_fail(ctx, UG_ERR_ARG, "tiny_binary.%s: row %lld is not a terminal state", who, (long long)r);
            return false;
        }
        int32_t b = 0;
        for (int i = 0; i < m->D; i++) b |= (int32_t)d[r * m->D + i] << i;
        bits[r] = b;
    }
    return true;
}

static ug_tensor *tiny_log_reward(void *self, ug_ctx *ctx, ug_tensor *x) {
    tiny *m = self;
    int32_t *bits = x ? ug_arena_alloc(ctx, sizeof(int32_t) * (size_t)x->shape[0]) : NULL;
    if (!x_index(m, ctx, x, bits, "log_reward")) return NULL;
    int64_t B = x->shape[0];
    float *lr = host_f32(ctx, B);  // [B] on the host
    if (!lr) return NULL;
    for (int64_t r = 0; r < B; r++) lr[r] = m->log_r[bits[r]];
    return ug_from_f32(ctx, lr, 1, &B);  // [B]
}

/* Exact log p_T(x) = logsumexp over the D! orders of sum_k log P_F along that order; differentiable
 * in the forward parameters. All orders of all rows go through the policy as one [B*O, D] batch. */
static ug_tensor *tiny_log_prob(void *self, ug_ctx *ctx, ug_tensor *x) {
    tiny *m = self;
    const int D = m->D;
    int32_t *bits = x ? ug_arena_alloc(ctx, sizeof(int32_t) * (size_t)x->shape[0]) : NULL;
    if (!x_index(m, ctx, x, bits, "log_prob")) return NULL;
    int perm[TB_MAX_ORDERS][TB_MAX_D], O = 0;
    int p[TB_MAX_D];
    for (int i = 0; i < D; i++) p[i] = i;
    for (;;) {  // lexicographic permutations
        memcpy(perm[O++], p, sizeof p);
        int i = D - 2;
        while (i >= 0 && p[i] > p[i + 1]) i--;
        if (i < 0) break;
        int j = D - 1;
        while (p[j] < p[i]) j--;
        int t = p[i]; p[i] = p[j]; p[j] = t;
        for (int a = i + 1, b = D - 1; a < b; a++, b--) { t = p[a]; p[a] = p[b]; p[b] = t; }
    }
    const int64_t B = x->shape[0], N = B * O;
    float *sd = ug_arena_alloc(ctx, sizeof(float) * (size_t)(N * D));
    int32_t *idx = ug_arena_alloc(ctx, sizeof(int32_t) * (size_t)N);
    int32_t *act = ug_arena_alloc(ctx, sizeof(int32_t) * (size_t)N);
    if (!sd || !idx || !act) {
        ug_ctx_fail(ctx, UG_ERR_NOMEM, "tiny_binary.log_prob: out of step memory");
        return NULL;
    }
    for (int64_t k = 0; k < N * D; k++) sd[k] = -1.0f;
    ug_tensor *total = NULL;  // [N]
    for (int k = 0; k < D; k++) {
        for (int64_t r = 0; r < B; r++)
            for (int o = 0; o < O; o++) {
                int64_t n = r * O + o;
                int pos = perm[o][k], val = (bits[r] >> pos) & 1;
                act[n] = 2 * pos + val;
            }
        ug_tensor *s = copy_state(ctx, sd, N, D);  // [N, D]
        if (!s || !read_states(m, ctx, s, idx, NULL, "log_prob")) return NULL;
        ug_tensor *lp = pick(ctx, pf_logp_all(m, ctx, s, sd, idx, NULL), act);  // [N]
        total = total ? ug_add(ctx, total, lp) : lp;
        for (int64_t n = 0; n < N; n++) sd[n * D + act[n] / 2] = (float)(act[n] % 2);
    }
    int64_t sh[2] = {B, O};
    return ug_logsumexp(ctx, ug_reshape(ctx, total, 2, sh), 1, false);  // [B]
}

static ug_tensor *tiny_log_z(void *self, ug_ctx *ctx) {
    (void)ctx;
    return ((tiny *)self)->log_z;  // []
}

/* ---- create / destroy ----------------------------------------------------------------------------- */

static void tiny_destroy(void *self) { free(self); }

static void *tiny_create(const ug_create_args *args, ug_error *err) {
    tiny *m = calloc(1, sizeof *m);
    if (!m) {
        ug_error_set(err, UG_ERR_NOMEM, "tiny_binary: out of memory");
        return NULL;
    }
    const ug_cfg *cfg = args->cfg;
    m->D = (int)ug_cfg_int(cfg, "dim", 3);
    if (m->D < 1 || m->D > TB_MAX_D) {
        ug_error_set(err, UG_ERR_ARG, "tiny_binary: dim %d outside [1, %d]", m->D, TB_MAX_D);
        goto fail;
    }
    if (args->data && (args->data->info.space.kind != UG_SPACE_BINARY || args->data->info.space.dim != m->D)) {
        ug_error_set(err, UG_ERR_ARG, "tiny_binary: dataset '%s' is not binary of dimension %d",
                     args->data->name ? args->data->name : "?", m->D);
        goto fail;
    }
    m->n_states = 1;
    for (int i = 0; i < m->D; i++) m->n_states *= 3;
    m->mlp = strcmp(ug_cfg_str(cfg, "net", "table"), "mlp") == 0;
    m->learn_pb = ug_cfg_bool(cfg, "learn_pb", true);
    m->flow = ug_cfg_bool(cfg, "flow", false);

    int n_x = 1 << m->D;
    double lr[1 << TB_MAX_D];
    int n_lr = ug_cfg_floats(cfg, "log_rewards", lr, n_x);
    if (n_lr > 0 && n_lr != n_x) {
        ug_error_set(err, UG_ERR_ARG, "tiny_binary: log_rewards has %d values, dim %d needs 2^%d = %d", n_lr, m->D,
                     m->D, n_x);
        goto fail;
    }
    for (int k = 0; k < n_x; k++) m->log_r[k] = n_lr > 0 ? (float)lr[k] : logf(1.0f + (float)k);

    ug_params *P = args->params;
    const int64_t D = m->D, S = m->n_states;
    if (!m->mlp) {
        /* Tables start at 0: uniform policies, log F = 0. */
        int64_t shf[2] = {S, 2 * D}, shb[2] = {S, D};
        m->pf_tab = ug_param(P, "forward", "pf_table", 2, shf);
        if (m->learn_pb) m->pb_tab = ug_param(P, "backward", "pb_table", 2, shb);
        if (m->flow) m->flow_tab = ug_param(P, "flow", "flow_table", 1, &S);
    } else {
        int64_t hid[8];
        int nh = ug_cfg_ints(cfg, "hidden", hid, 8);
        if (nh < 0 || nh > 6) {
            ug_error_set(err, UG_ERR_ARG, "tiny_binary: hidden must list at most 6 widths");
            goto fail;
        }
        int64_t widths[8];
        widths[0] = D;
        for (int i = 0; i < nh; i++) widths[i + 1] = hid[i];
        widths[nh + 1] = 2 * D;
        ug_mlp_init(&m->pf_net, P, "forward", "pf", widths, nh + 2, UG_ACT_LEAKY_RELU, 0, args->rng);
        widths[nh + 1] = D;
        if (m->learn_pb) ug_mlp_init(&m->pb_net, P, "backward", "pb", widths, nh + 2, UG_ACT_LEAKY_RELU, 0, args->rng);
        widths[nh + 1] = 1;
        if (m->flow) ug_mlp_init(&m->flow_net, P, "flow", "flow", widths, nh + 2, UG_ACT_LEAKY_RELU, 0, args->rng);
    }
    m->log_z = ug_param(P, "logZ", "log_z", 0, NULL);
    if (ug_params_status(P) || ug_params_finalize(P)) {
        ug_error_set(err, UG_ERR_ARG, "tiny_binary: %s", ug_params_errmsg(P));
        goto fail;
    }
    m->caps = UG_CAP_LOG_REWARD | UG_CAP_LOG_PROB | UG_CAP_LOG_Z | UG_CAP_PARTIAL | (m->flow ? UG_CAP_LOG_FLOW : 0);
    return m;
fail:
    free(m);
    return NULL;
}

static const ug_model_vtable tiny_vt = {
    .size = sizeof(ug_model_vtable),
    .info = tiny_info,
    .sample_forward = tiny_sample_forward,
    .sample_backward = tiny_sample_backward,
    .rescore = tiny_rescore,
    .log_flow = tiny_log_flow,
    .log_reward = tiny_log_reward,
    .log_prob = tiny_log_prob,
    .log_z = tiny_log_z,
};

static const ug_plugin_desc tiny_desc = {
    UG_DESC_HEADER(UG_KIND_MODEL),
    .name = "tiny_binary",
    .version = "0.1.0",
    .summary = "example: binary GFlowNet on D <= 4 bits with a fixed reward and exact log p(x) by enumeration",
    .params = tiny_params,
    .create = tiny_create,
    .destroy = tiny_destroy,
    .vtable = &tiny_vt,
};

UG_PLUGIN_EXPORT(&tiny_desc)
