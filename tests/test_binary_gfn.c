/* test_binary_gfn.c — the binary_gfn model and the ebm_cd objective, loaded through the real plugin
 * loader: trajectory shapes, masks (P_F never sets a set position, P_B only erases set ones, both
 * normalised over the valid actions), sample-then-rescore agreement in both directions, the exact
 * terminal distribution at D = 3 against forward samples (chi-square), parameter groups and where
 * gradients go, detailed balance of ebm_cd's back-and-forth MH step (a chain with a fixed energy must
 * visit states with frequency ∝ exp(-E)), and the energy loss falling on D = 8 data. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "unigfn/host/loader.h"
#include "unigfn/host/spec.h"
#include "unigfn/host/optim.h"
#include "unigfn/plugin.h"

static ug_registry *g_reg;
static ug_spec_registry g_view;

/* The spec module checks plugin sections against schemas: the real ones for model and objective, an
 * empty one for the stand-in dataset (the model only reads the dataset's space). */
static const ug_param_spec no_params[] = {{NULL, 0, NULL, 0, 0, 0, NULL, NULL}};
static const ug_param_spec *schema_cb(void *ud, const char *kind, const char *name) {
    (void)ud;
    if (strcmp(kind, "dataset") == 0 && strcmp(name, "fake") == 0) return no_params;
    return g_view.schema(g_view.ud, kind, name);
}
static int names_cb(void *ud, const char *kind, const char **out, int cap) {
    (void)ud;
    return g_view.names(g_view.ud, kind, out, cap);
}
static const ug_spec_registry test_view = {NULL, schema_cb, names_cb};

typedef struct bg_model {
    ug_spec *spec;
    ug_params *P;
    ug_dataset data;
    ug_model model;
    const ug_plugin_desc *desc;
    const ug_plugin_desc *odesc;
    void *oself;
} bg_model;

/* A binary_gfn on D bits with the given flow-map options, and an ebm_cd term with `obj` options. */
static bool tm_make(bg_model *t, ug_ctx *ctx, int64_t D, const char *opts, const char *obj, uint64_t seed) {
    memset(t, 0, sizeof *t);
    char text[1024];
    snprintf(text, sizeof text,
             "name: t\nseed: %llu\ndataset: {plugin: fake}\nmodel: {plugin: binary_gfn%s%s}\n"
             "objective:\n  - {plugin: ebm_cd, updates: [energy]%s%s}\noptim: {energy: {lr: 0.001}}\n"
             "train: {steps: 1}\n",
             (unsigned long long)seed, *opts ? ", " : "", opts, obj && *obj ? ", " : "", obj ? obj : "");
    ug_error err = {0};
    if (ug_spec_load_string("test.yaml", text, NULL, 0, &test_view, &t->spec, &err) != UG_OK) {
        CHECK(0, "spec: %s", err.msg);
        return false;
    }
    const ug_plugin_ref *r = ug_registry_find(g_reg, UG_KIND_MODEL, "binary_gfn");
    CHECK(r != NULL, "binary_gfn not loaded");
    if (!r) return false;
    t->desc = r->desc;
    t->P = ug_params_new();
    t->data = (ug_dataset){.size = sizeof(ug_dataset), .name = "fake"};
    t->data.info.size = sizeof t->data.info;
    t->data.info.space = (ug_space){.kind = UG_SPACE_BINARY, .dim = D, .categories = 2};
    ug_rng rng = ug_rng_make(seed, 1);
    ug_create_args a = {.size = sizeof a, .cfg = ug_spec_section(t->spec, "model"), .ctx = ctx, .params = t->P,
                        .rng = &rng, .seed = seed, .data = &t->data};
    t->model = (ug_model){.size = sizeof(ug_model), .vt = r->desc->vtable, .params = t->P, .name = "binary_gfn"};
    t->model.self = r->desc->create(&a, &err);
    CHECK(t->model.self != NULL, "create: %s", err.msg);
    if (!t->model.self) return false;
    CHECK(ug_params_finalize(t->P) == UG_OK, "finalize");
    t->model.info.size = sizeof t->model.info;
    t->model.vt->info(t->model.self, &t->model.info);
    if (obj) {
        const ug_plugin_ref *o = ug_registry_find(g_reg, UG_KIND_OBJECTIVE, "ebm_cd");
        CHECK(o != NULL, "ebm_cd not loaded");
        if (!o) return false;
        t->odesc = o->desc;
        a.cfg = ug_spec_objective(t->spec, 0);
        a.params = NULL;
        a.model = &t->model;
        t->oself = o->desc->create(&a, &err);
        CHECK(t->oself != NULL, "ebm_cd create: %s", err.msg);
        if (!t->oself) return false;
    }
    return true;
}

static void tm_free(bg_model *t) {
    if (t->oself) t->odesc->destroy(t->oself);
    if (t->model.self) t->desc->destroy(t->model.self);
    ug_params_free(t->P);
    ug_spec_free(t->spec);
}

static float at(const ug_tensor *x, int64_t b) { return ug_f32(x)[b * x->stride[0]]; }

static ug_status fwd(bg_model *t, ug_ctx *ctx, ug_rng *rng, int64_t B, ug_tensor *start, int32_t idx, int32_t steps,
                     uint32_t flags, float explore, float temp, ug_traj *tr) {
    ug_traj_req q = {.size = sizeof q, .batch = B, .start = start, .start_index = idx, .steps = steps,
                     .flags = flags, .explore = explore, .temperature = temp};
    *tr = (ug_traj){.size = sizeof *tr};
    return t->model.vt->sample_forward(t->model.self, ctx, rng, &q, tr);
}

static ug_status bwd(bg_model *t, ug_ctx *ctx, ug_rng *rng, ug_tensor *start, int32_t idx, int32_t steps, uint32_t flags,
                     ug_traj *tr) {
    ug_traj_req q = {.size = sizeof q, .start = start, .start_index = idx, .steps = steps, .flags = flags};
    *tr = (ug_traj){.size = sizeof *tr};
    return t->model.vt->sample_backward(t->model.self, ctx, rng, &q, tr);
}

static int64_t n_set(const float *row, int64_t D) {
    int64_t c = 0;
    for (int64_t j = 0; j < D; j++) c += row[j] >= 0.0f;
    return c;
}

/* Rows of a [B, D] tensor that is contiguous. */
static const float *row_of(const ug_tensor *s, int64_t b) { return ug_f32(s) + b * s->shape[1]; }

/* ---- shapes and the step structure of a forward trajectory ------------------------------------ */
static void test_shapes(ug_ctx *ctx) {
    bg_model t;
    const int64_t D = 32, B = 16;
    if (!tm_make(&t, ctx, D, "hidden: [64, 64]", NULL, 1)) {
        tm_free(&t);
        return;
    }
    CHECK(t.model.info.horizon == D && t.model.info.space.dim == D && !t.model.info.variable_length,
          "info: horizon %d dim %lld", t.model.info.horizon, (long long)t.model.info.space.dim);
    CHECK(t.model.info.caps == (UG_CAP_PARTIAL | UG_CAP_LOG_Z), "caps %#x", t.model.info.caps);
    ug_rng rng = ug_rng_make(7, 0);
    ug_traj tr;
    CHECK(fwd(&t, ctx, &rng, B, NULL, 0, -1, UG_TRAJ_KEEP_STATES, 0, 1, &tr) == UG_OK, "forward: %s", ug_ctx_errmsg(ctx));
    CHECK(tr.batch == B && tr.start == 0 && tr.steps == D, "batch %lld start %d steps %d", (long long)tr.batch,
          tr.start, tr.steps);
    CHECK(tr.actions && tr.actions->shape[0] == B && tr.actions->shape[1] == D, "actions shape");
    CHECK(tr.first && tr.last && tr.states && tr.states[0] == tr.first && tr.states[D] == tr.last, "first/last/states");
    int bad_shape = 0, bad_step = 0, bad_val = 0, bad_perm = 0;
    for (int k = 0; k < D; k++) {
        bad_shape += !(tr.log_pf[k] && tr.log_pf[k]->ndim == 1 && tr.log_pf[k]->shape[0] == B);
        bad_shape += !(tr.log_pb[k] && tr.log_pb[k]->ndim == 1 && tr.log_pb[k]->shape[0] == B);
        for (int64_t b = 0; b < B; b++) {
            float pf = at(tr.log_pf[k], b), pb = at(tr.log_pb[k], b);
            bad_val += !(isfinite(pf) && pf <= 1e-6f && isfinite(pb) && pb <= 1e-6f);
            const float *s0 = row_of(tr.states[k], b), *s1 = row_of(tr.states[k + 1], b);
            int a = (int)ug_f32(tr.actions)[b * D + k], j = a / 2;
            int diff = 0;
            for (int64_t i = 0; i < D; i++) diff += s0[i] != s1[i];
            bad_step += !(n_set(s0, D) == k && s0[j] == -1.0f && s1[j] == (float)(a & 1) && diff == 1);
        }
    }
    for (int64_t b = 0; b < B; b++) {
        int seen[32] = {0};
        for (int k = 0; k < D; k++) seen[(int)ug_f32(tr.actions)[b * D + k] / 2]++;
        for (int j = 0; j < D; j++) bad_perm += seen[j] != 1;
        for (int64_t j = 0; j < D; j++) {
            bad_val += row_of(tr.first, b)[j] != -1.0f;
            bad_val += !(row_of(tr.last, b)[j] == 0.0f || row_of(tr.last, b)[j] == 1.0f);
        }
    }
    CHECK(bad_shape == 0, "%d per-step terms with a wrong shape", bad_shape);
    CHECK(bad_step == 0, "%d steps that do not set exactly one unset position to the action's value", bad_step);
    CHECK(bad_val == 0, "%d bad values (log-probs must be finite and <= 0, s0 unset, x binary)", bad_val);
    CHECK(bad_perm == 0, "%d positions not set exactly once along a trajectory", bad_perm);

    /* flags: NO_PF / NO_PB leave NULL terms; bad requests are errors with messages, not crashes */
    CHECK(fwd(&t, ctx, &rng, B, NULL, 0, 3, UG_TRAJ_NO_PF, 0, 1, &tr) == UG_OK && tr.log_pf[0] == NULL &&
              tr.log_pb[2] != NULL && tr.states == NULL && tr.steps == 3,
          "NO_PF");
    CHECK(fwd(&t, ctx, &rng, B, NULL, 0, 3, UG_TRAJ_NO_PB, 0, 1, &tr) == UG_OK && tr.log_pb[0] == NULL &&
              tr.log_pf[2] != NULL,
          "NO_PB");
    ug_tensor *part = tr.last;  // 3 set
    CHECK(fwd(&t, ctx, &rng, B, part, 4, -1, 0, 0, 1, &tr) == UG_ERR_ARG, "a wrong start_index must be refused");
    CHECK(strstr(ug_ctx_errmsg(ctx), "set coordinates") != NULL, "message: %s", ug_ctx_errmsg(ctx));
    ug_ctx_clear_error(ctx);
    CHECK(fwd(&t, ctx, &rng, B, part, 3, 30, 0, 0, 1, &tr) == UG_ERR_ARG, "too many steps must be refused");
    ug_ctx_clear_error(ctx);
    CHECK(bwd(&t, ctx, &rng, part, 3, 4, 0, &tr) == UG_ERR_ARG, "4 steps back from index 3 must be refused");
    ug_ctx_clear_error(ctx);
    ug_step_reset(ctx);
    tm_free(&t);
}

/* ---- masks: P_F and P_B normalised over exactly the valid actions ------------------------------- */
static void test_masks(ug_ctx *ctx, const char *opts) {
    bg_model t;
    const int64_t D = 12, B = 4, K = 5;
    if (!tm_make(&t, ctx, D, opts, NULL, 2)) {
        tm_free(&t);
        return;
    }
    ug_rng rng = ug_rng_make(8, 0);
    ug_traj tr;
    CHECK(fwd(&t, ctx, &rng, B, NULL, 0, -1, UG_TRAJ_KEEP_STATES, 0, 1, &tr) == UG_OK, "forward: %s", ug_ctx_errmsg(ctx));
    /* P_F at a state with K set: one 1-step trajectory per valid action (2 (D - K) of them) */
    const float *s = row_of(tr.states[K], 0);
    int64_t nv = 2 * (D - K), r = 0;
    float *first = calloc((size_t)(nv * D), sizeof *first), *acts = calloc((size_t)nv, sizeof *acts);
    for (int64_t j = 0; j < D; j++)
        if (s[j] < 0)
            for (int v = 0; v < 2; v++, r++) {
                memcpy(first + r * D, s, (size_t)D * sizeof *s);
                acts[r] = (float)(2 * j + v);
            }
    int64_t sh[2] = {nv, D}, sa[2] = {nv, 1};
    ug_traj q = {.size = sizeof q, .batch = nv, .start = (int32_t)K, .steps = 1};
    q.first = ug_from_f32(ctx, first, 2, sh);
    q.actions = ug_from_f32(ctx, acts, 2, sa);
    CHECK(t.model.vt->rescore(t.model.self, ctx, &q, UG_TRAJ_NO_PB) == UG_OK, "rescore: %s", ug_ctx_errmsg(ctx));
    double mass = 0;
    for (int64_t i = 0; i < nv; i++) mass += exp(at(q.log_pf[0], i));
    CHECK_CLOSE(mass, 1.0, 0, 1e-5);
    CHECK(q.log_pb == NULL, "rescore with NO_PB must leave log_pb as it was");
    /* an action on a set position is refused: P_F gives it no mass */
    for (int64_t j = 0; j < D; j++)
        if (s[j] >= 0) {
            acts[0] = (float)(2 * j);
            break;
        }
    q.actions = ug_from_f32(ctx, acts, 2, sa);
    CHECK(t.model.vt->rescore(t.model.self, ctx, &q, 0) == UG_ERR_ARG, "setting a set position must be refused");
    ug_ctx_clear_error(ctx);

    /* P_B at a state s' with K + 1 set: one trajectory per set position j, ending in s' */
    const float *s1 = row_of(tr.states[K + 1], 1);
    r = 0;
    for (int64_t j = 0; j < D; j++)
        if (s1[j] >= 0) {
            memcpy(first + r * D, s1, (size_t)D * sizeof *s1);
            first[r * D + j] = -1.0f;
            acts[r] = (float)(2 * j + (s1[j] > 0.5f));
            r++;
        }
    CHECK(r == K + 1, "%lld set positions", (long long)r);
    int64_t sh2[2] = {r, D}, sa2[2] = {r, 1};
    ug_traj q2 = {.size = sizeof q2, .batch = r, .start = (int32_t)K, .steps = 1};
    q2.first = ug_from_f32(ctx, first, 2, sh2);
    q2.actions = ug_from_f32(ctx, acts, 2, sa2);
    CHECK(t.model.vt->rescore(t.model.self, ctx, &q2, UG_TRAJ_NO_PF) == UG_OK, "rescore: %s", ug_ctx_errmsg(ctx));
    mass = 0;
    for (int64_t i = 0; i < r; i++) mass += exp(at(q2.log_pb[0], i));
    CHECK_CLOSE(mass, 1.0, 0, 1e-5);

    /* backward sampling from a partial state erases exactly its set positions, keeping their values */
    const int64_t n = 7;
    ug_traj tb;
    CHECK(bwd(&t, ctx, &rng, tr.states[n], (int32_t)n, -1, UG_TRAJ_KEEP_STATES, &tb) == UG_OK, "backward: %s",
          ug_ctx_errmsg(ctx));
    CHECK(tb.start == 0 && tb.steps == n && tb.states[n] == tb.last && tb.states[0] == tb.first, "backward layout");
    int bad = 0;
    for (int64_t b = 0; b < B; b++) {
        const float *x = row_of(tr.states[n], b);
        for (int k = 0; k < n; k++) {
            int a = (int)ug_f32(tb.actions)[b * n + k], j = a / 2;
            bad += x[j] != (float)(a & 1);                                      // a set position, its value
            bad += n_set(row_of(tb.states[k], b), D) != k;
            bad += row_of(tb.states[k], b)[j] != -1.0f || row_of(tb.states[k + 1], b)[j] != (float)(a & 1);
        }
        bad += n_set(row_of(tb.first, b), D) != 0;
    }
    CHECK(bad == 0, "%d backward steps that did not erase a set position", bad);
    free(first);
    free(acts);
    ug_step_reset(ctx);
    tm_free(&t);
}

/* ---- sampled terms equal re-scored terms, both directions ------------------------------------- */
static double max_diff(ug_tensor **a, ug_tensor **b, int steps, int64_t B) {
    double m = 0;
    for (int k = 0; k < steps; k++)
        for (int64_t i = 0; i < B; i++) {
            double d = fabs((double)at(a[k], i) - (double)at(b[k], i));
            if (!(d <= m)) m = d;  // NaN propagates as a failure
        }
    return m;
}

static void test_rescore(ug_ctx *ctx, const char *opts) {
    bg_model t;
    const int64_t D = 32, B = 16;
    if (!tm_make(&t, ctx, D, opts, NULL, 3)) {
        tm_free(&t);
        return;
    }
    ug_rng rng = ug_rng_make(9, 0);
    bool prev = ug_set_grad_enabled(ctx, false);
    /* off-policy sampling (explore, temperature): log_pf is still the policy's own log-prob */
    ug_traj tf;
    CHECK(fwd(&t, ctx, &rng, B, NULL, 0, -1, 0, 0.3f, 1.7f, &tf) == UG_OK, "forward: %s", ug_ctx_errmsg(ctx));
    ug_traj c = tf;
    CHECK(t.model.vt->rescore(t.model.self, ctx, &c, 0) == UG_OK, "rescore: %s", ug_ctx_errmsg(ctx));
    double dpf = max_diff(tf.log_pf, c.log_pf, D, B), dpb = max_diff(tf.log_pb, c.log_pb, D, B);
    CHECK(dpf < 1e-5 && dpb < 1e-5, "[%s] forward vs rescore: |d log_pf| %g |d log_pb| %g", opts, dpf, dpb);
    /* a trajectory kept as states only (no first, no actions), and a sub-trajectory of it */
    ug_traj ks;
    CHECK(fwd(&t, ctx, &rng, B, NULL, 0, -1, UG_TRAJ_KEEP_STATES, 0, 1, &ks) == UG_OK, "forward: %s", ug_ctx_errmsg(ctx));
    ug_traj so = {.size = sizeof so, .batch = B, .start = 0, .steps = (int32_t)D, .states = ks.states};
    CHECK(t.model.vt->rescore(t.model.self, ctx, &so, 0) == UG_OK, "rescore from states: %s", ug_ctx_errmsg(ctx));
    CHECK(so.log_pf && max_diff(ks.log_pf, so.log_pf, D, B) < 1e-5 && max_diff(ks.log_pb, so.log_pb, D, B) < 1e-5,
          "[%s] rescore from states differs", opts);
    ug_traj sub = {.size = sizeof sub, .batch = B, .start = 5, .steps = 7, .states = ks.states + 5};
    CHECK(t.model.vt->rescore(t.model.self, ctx, &sub, 0) == UG_OK, "rescore of a sub-trajectory: %s", ug_ctx_errmsg(ctx));
    CHECK(sub.log_pf && max_diff(ks.log_pf + 5, sub.log_pf, 7, B) < 1e-5 && max_diff(ks.log_pb + 5, sub.log_pb, 7, B) < 1e-5,
          "[%s] rescore of a sub-trajectory differs", opts);
    CHECK(fwd(&t, ctx, &rng, B, NULL, 0, -1, UG_TRAJ_REPARAM, 0, 1, &ks) == UG_ERR_UNSUPPORTED, "REPARAM must be refused");
    ug_ctx_clear_error(ctx);
    /* backward from x, part of the way (as ebm_cd does) and all the way */
    for (int steps = 9; steps <= D; steps += D - 9) {
        ug_traj tb;
        CHECK(bwd(&t, ctx, &rng, tf.last, (int32_t)D, steps, 0, &tb) == UG_OK, "backward: %s", ug_ctx_errmsg(ctx));
        CHECK(tb.start == D - steps && tb.steps == steps, "backward start %d steps %d", tb.start, tb.steps);
        ug_traj cb = tb;
        CHECK(t.model.vt->rescore(t.model.self, ctx, &cb, 0) == UG_OK, "rescore: %s", ug_ctx_errmsg(ctx));
        dpf = max_diff(tb.log_pf, cb.log_pf, steps, B);
        dpb = max_diff(tb.log_pb, cb.log_pb, steps, B);
        CHECK(dpf < 1e-5 && dpb < 1e-5, "[%s] backward (%d steps) vs rescore: %g %g", opts, steps, dpf, dpb);
        /* and forward from the partial state it reached gives the same kind of terms */
        ug_traj tf2;
        CHECK(fwd(&t, ctx, &rng, B, tb.first, tb.start, -1, 0, 0, 1, &tf2) == UG_OK, "forward from partial: %s",
              ug_ctx_errmsg(ctx));
        ug_traj c2 = tf2;
        CHECK(t.model.vt->rescore(t.model.self, ctx, &c2, 0) == UG_OK && max_diff(tf2.log_pf, c2.log_pf, steps, B) < 1e-5 &&
                  max_diff(tf2.log_pb, c2.log_pb, steps, B) < 1e-5,
              "[%s] forward from a partial state vs rescore", opts);
    }
    ug_set_grad_enabled(ctx, prev);
    ug_step_reset(ctx);
    tm_free(&t);
}

/* ---- D = 3: exact terminal distribution by enumerating every order vs forward samples ---------- */
static const int perms[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};

/* P_F of all 48 complete trajectories of D = 3, row o * 8 + x (order perms[o], terminal x with index
 * sum_i x_i 2^i), into pt; false when rescore fails. */
static bool all_pf_d3(bg_model *t, ug_ctx *ctx, double pt[48]) {
    float first[48 * 3], acts[48 * 3];
    for (int o = 0; o < 6; o++)
        for (int x = 0; x < 8; x++)
            for (int k = 0; k < 3; k++) {
                int r = o * 8 + x, j = perms[o][k];
                first[r * 3 + k] = -1.0f;
                acts[r * 3 + k] = (float)(2 * j + ((x >> j) & 1));
            }
    int64_t sh[2] = {48, 3};
    ug_traj q = {.size = sizeof q, .batch = 48, .start = 0, .steps = 3};
    q.first = ug_from_f32(ctx, first, 2, sh);
    q.actions = ug_from_f32(ctx, acts, 2, sh);
    if (t->model.vt->rescore(t->model.self, ctx, &q, UG_TRAJ_NO_PB) != UG_OK) return false;
    for (int r = 0; r < 48; r++) pt[r] = exp((double)at(q.log_pf[0], r) + at(q.log_pf[1], r) + at(q.log_pf[2], r));
    return true;
}

/* p(x) for the 8 x of D = 3: the sum over orders. */
static bool exact_pf(bg_model *t, ug_ctx *ctx, double p[8]) {
    double pt[48];
    if (!all_pf_d3(t, ctx, pt)) return false;
    for (int x = 0; x < 8; x++) p[x] = 0;
    for (int r = 0; r < 48; r++) p[r % 8] += pt[r];
    return true;
}

static double chi2(const int64_t cnt[8], const double p[8], int64_t N) {
    double c = 0;
    for (int x = 0; x < 8; x++) c += ((double)cnt[x] - N * p[x]) * ((double)cnt[x] - N * p[x]) / (N * p[x]);
    return c;
}

static void scale_param(bg_model *t, const char *group, const char *name, float s) {
    ug_tensor *w = ug_params_find(t->P, group, name);
    CHECK(w != NULL, "parameter %s/%s", group, name);
    if (!w) return;
    for (int64_t i = 0; i < ug_numel(w); i++) ug_f32(w)[i] *= s;
}

#define CHI2_7_P001 24.32 /* chi-square, 7 degrees of freedom, upper 0.1% point */

static void test_terminal_d3(ug_ctx *ctx, const char *opts) {
    bg_model t;
    if (!tm_make(&t, ctx, 3, opts, NULL, 4)) {
        tm_free(&t);
        return;
    }
    /* sharpen the random policy so the target is far from uniform (otherwise the test has no power) */
    scale_param(&t, "forward", strstr(opts, "shared") ? "trunk.2.w" : "pf.2.w", 25.0f);
    bool prev = ug_set_grad_enabled(ctx, false);
    double p[8], tot = 0, pmax = 0, pmin = 1;
    CHECK(exact_pf(&t, ctx, p), "enumeration: %s", ug_ctx_errmsg(ctx));
    for (int x = 0; x < 8; x++) {
        tot += p[x];
        pmax = fmax(pmax, p[x]);
        pmin = fmin(pmin, p[x]);
    }
    CHECK_CLOSE(tot, 1.0, 0, 1e-5);
    CHECK(pmax > 3 * pmin, "target too flat to test (max %g min %g)", pmax, pmin);
    const int64_t N = 40000;
    ug_rng rng = ug_rng_make(10, 0);
    int64_t cnt[8] = {0}, cnt_u[8] = {0};
    ug_traj tr;
    CHECK(fwd(&t, ctx, &rng, N, NULL, 0, -1, UG_TRAJ_NO_PB, 0, 1, &tr) == UG_OK, "sample: %s", ug_ctx_errmsg(ctx));
    for (int64_t b = 0; b < N && tr.last; b++) {
        const float *x = row_of(tr.last, b);
        cnt[(int)x[0] + 2 * (int)x[1] + 4 * (int)x[2]]++;
    }
    double c = chi2(cnt, p, N);
    printf("D=3 [%s]: exact p(x) = %.4f %.4f %.4f %.4f %.4f %.4f %.4f %.4f; chi2(7) of %lld samples = %.2f\n", opts,
           p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], (long long)N, c);
    CHECK(c < CHI2_7_P001, "forward samples do not follow the enumerated P_F marginal: chi2 %.2f", c);
    /* explore = 1: every action uniform among the valid ones, so x is uniform */
    CHECK(fwd(&t, ctx, &rng, N, NULL, 0, -1, UG_TRAJ_NO_PB, 1.0f, 1, &tr) == UG_OK, "sample: %s", ug_ctx_errmsg(ctx));
    for (int64_t b = 0; b < N && tr.last; b++) {
        const float *x = row_of(tr.last, b);
        cnt_u[(int)x[0] + 2 * (int)x[1] + 4 * (int)x[2]]++;
    }
    double pu[8] = {.125, .125, .125, .125, .125, .125, .125, .125};
    c = chi2(cnt_u, pu, N);
    CHECK(c < CHI2_7_P001, "explore = 1 is not uniform: chi2 %.2f", c);
    ug_set_grad_enabled(ctx, prev);
    ug_step_reset(ctx);
    tm_free(&t);
}

/* ---- forward_positions uniform: every order of the D = 3 positions has probability 1/6 ------------ */
/* Largest |P(order) - 1/6| over the 6 orders, by rescoring all 48 (order, x) trajectories. */
static double order_dev(bg_model *t, ug_ctx *ctx) {
    double pt[48], dev = 0;
    if (!all_pf_d3(t, ctx, pt)) return INFINITY;
    for (int o = 0; o < 6; o++) {
        double po = 0;
        for (int x = 0; x < 8; x++) po += pt[o * 8 + x];
        dev = fmax(dev, fabs(po - 1.0 / 6.0));
    }
    return dev;
}

static void test_uniform_positions(ug_ctx *ctx) {
    const char *opts[2] = {"hidden: [16, 16], forward_positions: uniform",
                           "hidden: [16, 16], forward_positions: uniform, shared_trunk: true"};
    double dev_learned = 0;
    for (int v = 0; v < 3; v++) {
        bg_model t;
        bool learned = v == 2;
        if (!tm_make(&t, ctx, 3, learned ? "hidden: [16, 16]" : opts[v], NULL, 4)) {
            tm_free(&t);
            continue;
        }
        scale_param(&t, "forward", v == 1 ? "trunk.2.w" : "pf.2.w", 25.0f);  // a sharp policy, as above
        bool prev = ug_set_grad_enabled(ctx, false);
        double dev = order_dev(&t, ctx);
        ug_set_grad_enabled(ctx, prev);
        if (learned) dev_learned = dev;
        else CHECK(dev < 1e-5, "[%s] orders are not uniform: worst |P(order) - 1/6| = %g", opts[v], dev);
        ug_step_reset(ctx);
        tm_free(&t);
    }
    /* the check has power: the same sharpened network with learned positions is far from uniform */
    printf("uniform positions: worst |P(order) - 1/6| with learned positions = %.4f\n", dev_learned);
    CHECK(dev_learned > 0.01, "learned positions came out uniform too (%g): the test above cannot fail", dev_learned);
    for (int v = 0; v < 2; v++) test_terminal_d3(ctx, opts[v]);
}

/* ---- parameter groups and where gradients go --------------------------------------------------- */
static int64_t group_count(bg_model *t, const char *name) {
    int g = ug_params_group_index(t->P, name);
    if (g < 0) return -1;
    int64_t n = 0;
    ug_params_group_info(t->P, g, NULL, NULL, NULL, &n);
    return n;
}

static double group_grad_norm(bg_model *t, const char *name) {
    int g = ug_params_group_index(t->P, name);
    if (g < 0) return -1;
    float *grad;
    int64_t n;
    ug_params_group_info(t->P, g, NULL, NULL, &grad, &n);
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)grad[i] * grad[i];
    return sqrt(s);
}

/* sum over steps and rows of log_pf (which = 0) or log_pb (which = 1) of a fresh forward sample */
static ug_tensor *sum_terms(bg_model *t, ug_ctx *ctx, int which) {
    ug_rng rng = ug_rng_make(11, 0);
    ug_traj tr;
    if (fwd(t, ctx, &rng, 8, NULL, 0, -1, 0, 0, 1, &tr) != UG_OK) return NULL;
    ug_tensor *acc = NULL;
    for (int k = 0; k < tr.steps; k++) {
        ug_tensor *s = ug_sum_all(ctx, which ? tr.log_pb[k] : tr.log_pf[k]);
        acc = acc ? ug_add(ctx, acc, s) : s;
    }
    return acc;
}

static void test_groups(ug_ctx *ctx) {
    const int64_t D = 4, H = 8;
    const int64_t trunk_in = D * H + H + H * H + H;  // D -> H -> H
    bg_model t;
    if (tm_make(&t, ctx, D, "hidden: [8, 8], flow_head: true, energy: true, energy_hidden: [8]", NULL, 5)) {
        CHECK(group_count(&t, "forward") == trunk_in + H * 2 * D + 2 * D, "forward %lld", (long long)group_count(&t, "forward"));
        CHECK(group_count(&t, "backward") == trunk_in + H * D + D, "backward %lld", (long long)group_count(&t, "backward"));
        CHECK(group_count(&t, "logZ") == 1, "logZ %lld", (long long)group_count(&t, "logZ"));
        CHECK(group_count(&t, "flow") == trunk_in + H + 1, "flow %lld", (long long)group_count(&t, "flow"));
        CHECK(group_count(&t, "energy") == D * H + H + H + 1, "energy %lld", (long long)group_count(&t, "energy"));
        CHECK(t.model.info.caps == (UG_CAP_PARTIAL | UG_CAP_LOG_Z | UG_CAP_LOG_FLOW | UG_CAP_LOG_REWARD), "caps %#x",
              t.model.info.caps);
        /* log_pb reaches only φ, log_pf only θ */
        ug_params_zero_grad(t.P, ~0ull);
        ug_tensor *l = sum_terms(&t, ctx, 1);
        CHECK(l && ug_backward(ctx, l, ~0ull) == UG_OK, "backward: %s", ug_ctx_errmsg(ctx));
        CHECK(group_grad_norm(&t, "backward") > 0 && group_grad_norm(&t, "forward") == 0,
              "separate, d log_pb: |g_backward| %g |g_forward| %g", group_grad_norm(&t, "backward"),
              group_grad_norm(&t, "forward"));
        ug_step_reset(ctx);
        ug_params_zero_grad(t.P, ~0ull);
        l = sum_terms(&t, ctx, 0);
        CHECK(l && ug_backward(ctx, l, ~0ull) == UG_OK, "backward: %s", ug_ctx_errmsg(ctx));
        CHECK(group_grad_norm(&t, "forward") > 0 && group_grad_norm(&t, "backward") == 0,
              "separate, d log_pf: |g_forward| %g |g_backward| %g", group_grad_norm(&t, "forward"),
              group_grad_norm(&t, "backward"));
        ug_step_reset(ctx);
        /* the heads: shapes and the sign convention log R = -E */
        int64_t sh[2] = {3, D};
        float xs[12] = {0, 1, 0, 1, 1, 1, 1, 1, 0, 0, 0, 0};
        ug_tensor *x = ug_from_f32(ctx, xs, 2, sh);
        ug_tensor *lr = t.model.vt->log_reward(t.model.self, ctx, x);
        ug_tensor *lf = t.model.vt->log_flow(t.model.self, ctx, x, (int32_t)D);
        ug_tensor *lz = t.model.vt->log_z(t.model.self, ctx);
        CHECK(lr && lr->ndim == 1 && lr->shape[0] == 3 && lf && lf->ndim == 1 && lf->shape[0] == 3 && lz &&
                  ug_numel(lz) == 1,
              "heads: %s", ug_ctx_errmsg(ctx));
        ug_step_reset(ctx);
    }
    tm_free(&t);
    if (tm_make(&t, ctx, D, "hidden: [8, 8], shared_trunk: true, log_z: false", NULL, 5)) {
        CHECK(group_count(&t, "forward") == trunk_in + H * 3 * D + 3 * D, "shared forward %lld",
              (long long)group_count(&t, "forward"));
        CHECK(group_count(&t, "backward") <= 0 && group_count(&t, "logZ") < 0, "shared: no backward, no logZ");
        CHECK(t.model.info.caps == UG_CAP_PARTIAL, "caps %#x", t.model.info.caps);
        ug_params_zero_grad(t.P, ~0ull);
        ug_tensor *l = sum_terms(&t, ctx, 1);
        CHECK(l && ug_backward(ctx, l, ~0ull) == UG_OK, "backward: %s", ug_ctx_errmsg(ctx));
        CHECK(group_grad_norm(&t, "forward") > 0, "shared trunk: log_pb must reach the trunk");
        CHECK(t.model.vt->log_z(t.model.self, ctx) == NULL && ug_ctx_status(ctx) == UG_ERR_UNSUPPORTED,
              "log_z without log_z: true must fail");
        ug_ctx_clear_error(ctx);
        ug_step_reset(ctx);
    }
    tm_free(&t);
    if (tm_make(&t, ctx, D, "hidden: [8, 8], learn_pb: false", NULL, 5)) {
        CHECK(group_count(&t, "backward") <= 0, "learn_pb false: no backward parameters");
        ug_rng rng = ug_rng_make(12, 0);
        ug_traj tr;
        int bad = 0;
        CHECK(fwd(&t, ctx, &rng, 8, NULL, 0, -1, 0, 0, 1, &tr) == UG_OK, "forward");
        for (int k = 0; k < D; k++)
            for (int b = 0; b < 8; b++) bad += fabsf(at(tr.log_pb[k], b) + logf((float)(k + 1))) > 1e-6f;
        CHECK(bad == 0, "uniform P_B must be -log(#set): %d wrong", bad);
        ug_step_reset(ctx);
    }
    tm_free(&t);
}

/* ---- ebm_cd: the back-and-forth MH step keeps exp(-E) invariant --------------------------------- */
static ug_status cd_loss(bg_model *t, ug_ctx *ctx, ug_rng *rng, ug_tensor *batch, int64_t step, ug_loss_out *lo) {
    ug_step_env env = {.size = sizeof env, .ctx = ctx, .rng = rng, .model = &t->model, .data = &t->data,
                       .batch = batch, .step = step, .total_steps = 1000000};
    int g = ug_params_group_index(t->P, "energy");
    env.update_mask = g >= 0 ? 1ull << g : 0;
    *lo = (ug_loss_out){.size = sizeof *lo};
    return ((const ug_objective_vtable *)t->odesc->vtable)->loss(t->oself, &env, lo);
}

static void test_detailed_balance(ug_ctx *ctx) {
    bg_model t;
    /* k_anneal_steps 3 with step = t mod 3 cycles K through 1, 2, 3: each kernel must keep π invariant */
    if (!tm_make(&t, ctx, 3, "hidden: [16, 16], energy: true, energy_hidden: [16, 16]", "k_anneal_steps: 3", 6)) {
        tm_free(&t);
        return;
    }
    /* random, sharpened P_F and P_B: proposals far from the target, so acceptance matters */
    scale_param(&t, "forward", "pf.2.w", 6.0f);
    scale_param(&t, "backward", "pb.2.w", 6.0f);
    scale_param(&t, "energy", "energy.2.w", 8.0f);
    float all[24];
    for (int x = 0; x < 8; x++)
        for (int j = 0; j < 3; j++) all[x * 3 + j] = (float)((x >> j) & 1);
    int64_t sh[2] = {8, 3};
    ug_tensor *lr = t.model.vt->log_reward(t.model.self, ctx, ug_from_f32(ctx, all, 2, sh));
    CHECK(lr != NULL, "log_reward: %s", ug_ctx_errmsg(ctx));
    if (!lr) {
        tm_free(&t);
        return;
    }
    double lrs[8], pi[8], z = 0, gap = 1e9;
    for (int x = 0; x < 8; x++) z += exp(lrs[x] = at(lr, x));
    for (int x = 0; x < 8; x++) {
        pi[x] = exp(lrs[x]) / z;
        for (int y = 0; y < x; y++) gap = fmin(gap, fabs(lrs[x] - lrs[y]));
    }
    ug_step_reset(ctx);
    CHECK(gap > 1e-3, "energies too close to tell states apart (%g)", gap);
    printf("D=3 target pi = %.4f %.4f %.4f %.4f %.4f %.4f %.4f %.4f\n", pi[0], pi[1], pi[2], pi[3], pi[4], pi[5],
           pi[6], pi[7]);

    /* One chain, batch 1: with B = 1 the loss -(log R(x) - log R(neg)) names the negative exactly. */
    /* Thinned by 10 so the kept states are close to independent (at thinning 3 the chi-square of a
     * correct chain is inflated about 2x by autocorrelation). Power, checked by breaking ebm_cd on
     * purpose: without the P_B terms chi2 ~ 105, without any path term ~ 7800, reward sign flipped ~ 57000;
     * Metropolis min(1, r) instead of sigmoid (also correct) ~ 6. */
    const int64_t T = 150000, thin = 10, burn = 300;
    ug_rng rng = ug_rng_make(13, 0);
    int x = 0;
    int64_t cnt[8] = {0}, n = 0, moves = 0;
    double acc = 0;
    int bad = 0;
    for (int64_t s = 0; s < T + burn; s++) {
        float xv[3] = {(float)(x & 1), (float)((x >> 1) & 1), (float)((x >> 2) & 1)};
        int64_t sh1[2] = {1, 3};
        ug_tensor *batch = ug_from_f32(ctx, xv, 2, sh1);
        ug_loss_out lo;
        if (cd_loss(&t, ctx, &rng, batch, s % 3, &lo) != UG_OK) {
            CHECK(0, "loss: %s", ug_ctx_errmsg(ctx));
            break;
        }
        bad += !(lo.n_logs == 2 && lo.log_values[0] == (double)(s % 3 + 1));
        acc += lo.log_values[1];
        double lneg = ug_item(lo.loss) + lrs[x];
        int y = 0;
        for (int c = 1; c < 8; c++)
            if (fabs(lrs[c] - lneg) < fabs(lrs[y] - lneg)) y = c;
        bad += fabs(lrs[y] - lneg) > 1e-3;
        moves += y != x;
        x = y;
        ug_step_reset(ctx);
        if (s >= burn && (s - burn) % thin == 0) {
            cnt[x]++;
            n++;
        }
    }
    CHECK(bad == 0, "%d steps with a wrong K log or an undecodable negative", bad);
    double c = chi2(cnt, pi, n);
    printf("back-and-forth chain: %lld transitions, accept rate %.3f, moves %.3f; frequencies", (long long)(T + burn),
           acc / (double)(T + burn), (double)moves / (double)(T + burn));
    for (int i = 0; i < 8; i++) printf(" %.4f", (double)cnt[i] / (double)n);
    printf("; chi2(7) of %lld thinned states = %.2f\n", (long long)n, c);
    CHECK(moves > (T + burn) / 10, "the chain barely moves (%lld moves)", (long long)moves);
    CHECK(c < CHI2_7_P001, "stationary frequencies differ from exp(-E)/Z: chi2 %.2f", c);
    tm_free(&t);
}

/* ---- ebm_cd trains the energy: D = 8, two modes ------------------------------------------------- */
static void test_energy_training(ug_ctx *ctx) {
    bg_model t;
    const int64_t D = 8, B = 64, steps = 300;
    if (!tm_make(&t, ctx, D, "hidden: [32, 32], energy: true, energy_hidden: [32, 32]", "k_anneal_steps: 100", 7)) {
        tm_free(&t);
        return;
    }
    ug_optim opt;
    ug_optim_config oc = ug_optim_defaults(UG_OPTIM_ADAM);
    oc.lr = 1e-3f;
    int ge = ug_params_group_index(t.P, "energy");
    CHECK(ug_optim_init(&opt, t.P, ge, &oc) == UG_OK, "optim");
    ug_rng rng = ug_rng_make(14, 0), drng = ug_rng_make(15, 0);
    float *xs = malloc((size_t)(B * D) * sizeof *xs), *u = malloc((size_t)(B * D) * sizeof *u);
    int64_t sh[2] = {B, D};
    double first = 0, last = 0, gap0 = 0, gap1 = 0, acc_sum = 0;
    for (int64_t s = 0; s < steps; s++) {
        /* data: 00001111 or 11110000, each bit flipped with probability 0.05 */
        ug_rng_uniform(&drng, u, B * D);
        for (int64_t b = 0; b < B; b++)
            for (int64_t j = 0; j < D; j++) {
                int bit = (b & 1) ? j < 4 : j >= 4;
                xs[b * D + j] = (float)(bit ^ (u[b * D + j] < 0.05f));
            }
        ug_tensor *batch = ug_from_f32(ctx, xs, 2, sh);
        ug_loss_out lo;
        if (cd_loss(&t, ctx, &rng, batch, s, &lo) != UG_OK) {
            CHECK(0, "loss: %s", ug_ctx_errmsg(ctx));
            break;
        }
        double L = ug_item(lo.loss);
        acc_sum += lo.log_values[1];
        if (s < 20) first += L / 20;
        if (s >= steps - 100) last += L / 100;
        /* how much more the energy favours data than uniform noise */
        if (s == 0 || s == steps - 1) {
            ug_rng_uniform(&drng, u, B * D);
            float *un = malloc((size_t)(B * D) * sizeof *un);
            for (int64_t i = 0; i < B * D; i++) un[i] = u[i] < 0.5f;
            bool prev = ug_set_grad_enabled(ctx, false);
            ug_tensor *ld = t.model.vt->log_reward(t.model.self, ctx, batch);
            ug_tensor *ln = t.model.vt->log_reward(t.model.self, ctx, ug_from_f32(ctx, un, 2, sh));
            ug_set_grad_enabled(ctx, prev);
            double g = ug_item(ug_mean_all(ctx, ld)) - ug_item(ug_mean_all(ctx, ln));
            if (s == 0) gap0 = g;
            else gap1 = g;
            free(un);
        }
        ug_params_zero_grad(t.P, ~0ull);
        CHECK(ug_backward(ctx, lo.loss, 1ull << ge) == UG_OK, "backward: %s", ug_ctx_errmsg(ctx));
        int gf = ug_params_group_index(t.P, "forward");
        if (s == 0) CHECK(group_grad_norm(&t, "forward") == 0 && gf >= 0, "the energy loss reached the policy");
        ug_optim_step(&opt, NULL);
        ug_step_reset(ctx);
    }
    printf("ebm_cd D=8: loss first 20 steps %.4f, last 100 steps %.4f; log R(data) - log R(uniform) %.3f -> %.3f; "
           "mean accept %.3f\n", first, last, gap0, gap1, acc_sum / steps);
    CHECK(last < first - 0.05, "energy loss did not fall: %.4f -> %.4f", first, last);
    CHECK(gap1 > gap0 + 1.0, "the energy did not learn to prefer data: %.3f -> %.3f", gap0, gap1);
    free(xs);
    free(u);
    ug_optim_free(&opt);
    tm_free(&t);
}

/* ---- D = 784 works (nothing exponential or factorial in D) -------------------------------------- */
static void test_large_d(ug_ctx *ctx) {
    bg_model t;
    const int64_t D = 784;
    if (!tm_make(&t, ctx, D, "hidden: [16]", NULL, 8)) {
        tm_free(&t);
        return;
    }
    ug_rng rng = ug_rng_make(16, 0);
    ug_traj tr;
    bool prev = ug_set_grad_enabled(ctx, false);
    CHECK(fwd(&t, ctx, &rng, 2, NULL, 0, -1, 0, 0, 1, &tr) == UG_OK && tr.steps == D, "D=784 forward: %s",
          ug_ctx_errmsg(ctx));
    ug_traj tb;
    CHECK(bwd(&t, ctx, &rng, tr.last, (int32_t)D, -1, 0, &tb) == UG_OK && tb.steps == D, "D=784 backward: %s",
          ug_ctx_errmsg(ctx));
    ug_set_grad_enabled(ctx, prev);
    ug_step_reset(ctx);
    tm_free(&t);
}

int main(void) {
    const char *root = getenv("UG_BUILD_ROOT");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/plugins", root ? root : "build");
    g_reg = ug_registry_new();
    ug_error err = {0};
    CHECK(ug_registry_scan_dir(g_reg, dir, &err) == UG_OK, "scan %s: %s", dir, err.msg);
    ug_registry_spec_view(g_reg, &g_view);
    if (!ug_registry_find(g_reg, UG_KIND_MODEL, "binary_gfn") || !ug_registry_find(g_reg, UG_KIND_OBJECTIVE, "ebm_cd")) {
        for (int i = 0; i < ug_registry_problem_count(g_reg); i++) fprintf(stderr, "%s\n", ug_registry_problem(g_reg, i));
        CHECK(0, "binary_gfn / ebm_cd not found under %s", dir);
        return CHECK_DONE();
    }
    ug_ctx *ctx = ug_ctx_new(16u << 20);
    ug_set_threads(ctx, 1);
    static const char *const variants[] = {"hidden: [64, 64]", "hidden: [64, 64], shared_trunk: true",
                                           "hidden: [64, 64], learn_pb: false",
                                           "hidden: [64, 64], shared_trunk: true, learn_pb: false",
                                           "hidden: [64, 64], forward_positions: uniform",
                                           "hidden: [64, 64], forward_positions: uniform, shared_trunk: true, learn_pb: false"};
    test_shapes(ctx);
    for (int v = 0; v < 6; v++) {
        test_masks(ctx, variants[v]);
        test_rescore(ctx, variants[v]);
    }
    test_terminal_d3(ctx, "hidden: [16, 16]");
    test_terminal_d3(ctx, "hidden: [16, 16], shared_trunk: true");
    test_uniform_positions(ctx);
    test_groups(ctx);
    test_detailed_balance(ctx);
    test_energy_training(ctx);
    test_large_d(ctx);
    ug_ctx_free(ctx);
    ug_registry_free(g_reg);
    return CHECK_DONE();
}
