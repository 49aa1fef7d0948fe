/* test_ar.c — the autoregressive model plugin (plugins/models/ar) through the real loader and the
 * spec's schema checks, against answers the test computes itself:
 *
 *   schema    the plugin is found by the loader with its schema (every integer key bounded); info and
 *             caps; the dataset's space decides D and K; a continuous dataset, a mismatched dim and
 *             requests the family cannot serve (REPARAM, ANCHOR, bad states) are refused; tbc is refused
 *             (P_B is a point mass: τ = τ′ always).
 *   sum       Σ_x exp(log_prob(x)) = 1 over all of {0,1}^D (D = 6, 7, 8) and {0..K-1}^D (K = 3, 4, 5),
 *             for natural and random orders, random and cyclic degrees, one-hot and ordinal inputs, no
 *             hidden layer, D = 1, and K taken from a categorical dataset.
 *   traj      log_prob(x) = Σ log P_F of the forward trajectory that produced x and of the backward
 *             trajectory from x (step by step: D passes on partial states vs one pass on x); log P_B = 0;
 *             the states and actions of both directions agree; rescore from states, from `last`, from
 *             `first` + actions and of sub-trajectories; partial trajectories forward and backward.
 *   autoreg   the conditional of the coordinate written at step k does not change when any coordinate
 *             written at a step >= k changes (all of them, every value), and some later conditional
 *             does change: the order is read off the forward states, not from the plugin.
 *   sampling  temperature and explore: forward samples match the exact per-step tempered / mixed
 *             conditionals on {0,1,2}^3 (30000 draws, every cell within 5 standard errors), while
 *             log P_F stays the untempered policy's (= log_prob); the same draws with and without a
 *             graph; without one the sampler keeps one step's memory.
 *   grads     gradients of −mean log_prob w.r.t. every weight and bias of a small MADE against central
 *             finite differences (masked weights: exactly 0 both ways); kl_tb(data)'s gradient equals it.
 *   train     kl_tb(data) = exact MLE on synthetic2d (Gray-coded checkerboard, binary, D = 32): the loss
 *             is −mean log_prob, it falls, and the nll metric's nll (M = 1) equals nll_exact; and on the
 *             categorical Markov chain test_cats (K = 4), where the held-out nll approaches the true
 *             entropy.
 *   tb        the sampling setting: tb with `reward: data` (test_bits' product of Bernoullis), forward
 *             samples with explore 0.1 and a learned log Z: log Z -> 0 and KL(target || model), exact
 *             over {0,1}^6, falls.
 *
 * Usage: test_ar CASE (meson registers one test per case). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "train_loop.h"

static ug_registry *REG;
static ug_error ERR;

/* A run of `model` on `dataset` (YAML flow maps; "{plugin: none}" for none) trained by kl_tb(data). */
static ug_status open_run(tl_run *r, const char *dataset, const char *model, bool quiet) {
    char yaml[2048];
    snprintf(yaml, sizeof yaml,
             "seed: 5\ndataset: %s\nmodel: %s\n"
             "objective: [{plugin: kl_tb, direction: data, updates: [forward]}]\n"
             "optim: {forward: {lr: 0.001}}\ntrain: {steps: 1, batch: 64}\n",
             dataset, model);
    memset(&ERR, 0, sizeof ERR);
    ug_status st = tl_open(r, REG, yaml, NULL, 0, &ERR);
    if (!quiet) CHECK(st == UG_OK, "tl_open(%s): %s", model, ERR.msg);
    return st;
}

static bool open_ok(tl_run *r, const char *dataset, const char *model) { return open_run(r, dataset, model, false) == UG_OK; }

/* Add N(0, sd²) to every parameter (a distribution far from the initial one). */
static void perturb(tl_run *r, float sd, uint64_t seed) {
    ug_rng rng = ug_rng_make(seed, 0);
    for (int g = 0; g < ug_params_group_count(r->P); g++) {
        float *data;
        int64_t n;
        ug_params_group_info(r->P, g, NULL, &data, NULL, &n);
        float *e = malloc((size_t)n * sizeof *e);
        ug_rng_normal(&rng, e, n);
        for (int64_t i = 0; i < n; i++) data[i] += sd * e[i];
        free(e);
    }
}

static ug_tensor *sum_terms(ug_ctx *ctx, const ug_traj *tr, bool pf) {
    ug_tensor *s = ug_zeros(ctx, 1, &tr->batch);  // [B]
    for (int k = 0; k < tr->steps; k++) s = ug_add(ctx, s, pf ? tr->log_pf[k] : tr->log_pb[k]);
    return s;
}

static double max_abs_diff(ug_tensor *a, ug_tensor *b) {
    if (!a || !b || ug_numel(a) != ug_numel(b)) return INFINITY;
    double m = 0;
    for (int64_t i = 0; i < ug_numel(a); i++) m = fmax(m, fabs((double)ug_f32(a)[i] - ug_f32(b)[i]));
    return m;
}

static double max_abs(ug_tensor *a) {
    double m = 0;
    for (int64_t i = 0; i < ug_numel(a); i++) m = fmax(m, fabs(ug_f32(a)[i]));
    return m;
}

static ug_status fwd(tl_run *r, ug_rng *rng, int64_t B, ug_tensor *start, int i0, int steps, uint32_t flags, float temp,
                     float explore, ug_traj *tr) {
    ug_traj_req req = {.size = sizeof req, .batch = B, .start = start, .start_index = i0, .steps = steps, .flags = flags,
                       .temperature = temp, .explore = explore};
    *tr = (ug_traj){.size = sizeof *tr};
    return r->model.vt->sample_forward(r->model.self, r->ctx, rng, &req, tr);
}

static ug_status bwd(tl_run *r, ug_tensor *start, int j, int steps, uint32_t flags, ug_traj *tr) {
    ug_traj_req req = {.size = sizeof req, .start = start, .start_index = j, .steps = steps, .flags = flags};
    *tr = (ug_traj){.size = sizeof *tr};
    ug_rng rng = ug_rng_make(5, 5);
    return r->model.vt->sample_backward(r->model.self, r->ctx, &rng, &req, tr);
}

/* The K^D points of {0..K-1}^D, first coordinate slowest: [K^D, D]. */
static ug_tensor *grid(ug_ctx *ctx, int D, int K) {
    int64_t n = 1;
    for (int d = 0; d < D; d++) n *= K;
    int64_t sh[2] = {n, D};
    ug_tensor *x = ug_new(ctx, UG_F32, 2, sh);
    for (int64_t i = 0; i < n; i++)
        for (int d = D - 1, c = (int)i; d >= 0; d--, c /= K) ug_f32(x)[i * D + d] = (float)(c % K);
    return x;
}

/* The grid index of a row of D values. */
static int64_t cell(const float *row, int D, int K) {
    int64_t c = 0;
    for (int d = 0; d < D; d++) c = c * K + (int64_t)row[d];
    return c;
}

/* The order the model writes positions in, read off a forward trajectory's states: order[k] is the
 * one position that differs between states k and k+1 (row 0). */
static bool order_of(tl_run *r, int D, int *order) {
    ug_rng rng = ug_rng_make(77, 1);
    ug_traj f;
    if (fwd(r, &rng, 1, NULL, 0, -1, UG_TRAJ_KEEP_STATES | UG_TRAJ_NO_PF | UG_TRAJ_NO_PB, 0, 0, &f)) return false;
    for (int k = 0; k < D; k++) {
        int n = 0;
        for (int d = 0; d < D; d++)
            if (ug_f32(f.states[k])[d] != ug_f32(f.states[k + 1])[d]) order[k] = d, n++;
        if (n != 1) return false;
    }
    return true;
}

/* ---- schema ----------------------------------------------------------------------------------- */

static void test_schema(void) {
    const ug_plugin_ref *ref = ug_registry_find(REG, UG_KIND_MODEL, "ar");
    CHECK(ref && ref->desc && strcmp(ref->desc->name, "ar") == 0, "the loader finds model 'ar'");
    if (!ref) return;
    const char *want[] = {"hidden", "act", "order", "order_seed", "degrees", "mask_seed", "input", "log_z", "dim", "categories"};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        const ug_param_spec *p = ref->desc->params;
        while (p->key && strcmp(p->key, want[i]) != 0) p++;
        CHECK(p->key != NULL && p->doc && *p->doc, "schema key %s with its help", want[i]);
        if (p->key && p->type == UG_P_INT) CHECK((p->flags & UG_P_MAX) != 0, "integer key %s has an upper bound", p->key);
    }
    printf("schema: %s — %s\n", ref->desc->name, ref->desc->summary);

    /* binary data: D and K = 2 from the dataset; caps, horizon, one group */
    tl_run r;
    if (open_ok(&r, "{plugin: synthetic2d, data: checkerboard}", "{plugin: ar, hidden: [16]}")) {
        const ug_model_info *mi = &r.model.info;
        CHECK(mi->horizon == 32 && mi->deterministic_pb && !mi->variable_length && mi->space.kind == UG_SPACE_BINARY &&
                  mi->space.dim == 32 && mi->space.categories == 2,
              "info on gray32: horizon %d, kind %u, D %lld, K %lld", mi->horizon, mi->space.kind, (long long)mi->space.dim,
              (long long)mi->space.categories);
        CHECK(mi->caps == (UG_CAP_LOG_PROB | UG_CAP_PARTIAL), "caps 0x%x", mi->caps);
        CHECK(ug_params_group_count(r.P) == 1 && ug_params_group_index(r.P, "forward") == 0, "one group, forward");
        /* [16] with ordinal input: 32 -> 16 -> 64 */
        ug_tensor *w0 = ug_params_find(r.P, "forward", "made.0.w"), *w1 = ug_params_find(r.P, "forward", "made.1.w");
        CHECK(w0 && w1 && w0->shape[0] == 16 && w0->shape[1] == 32 && w1->shape[0] == 64 && w1->shape[1] == 16,
              "layer shapes made.0.w [16, 32], made.1.w [64, 16]");
        /* refusals of requests */
        ug_ctx *ctx = r.ctx;
        ug_rng rng = ug_rng_make(1, 1);
        ug_traj t;
        CHECK(fwd(&r, &rng, 4, NULL, 0, -1, UG_TRAJ_REPARAM, 0, 0, &t) == UG_ERR_UNSUPPORTED, "forward REPARAM refused");
        ug_ctx_clear_error(ctx);
        CHECK(fwd(&r, &rng, 4, NULL, 0, -1, 0, -1.0f, 0, &t) == UG_ERR_ARG, "temperature -1 refused");
        ug_ctx_clear_error(ctx);
        CHECK(fwd(&r, &rng, 4, NULL, 0, -1, 0, 0, 1.5f, &t) == UG_ERR_ARG, "explore 1.5 refused");
        ug_ctx_clear_error(ctx);
        CHECK(fwd(&r, &rng, 4, NULL, 0, 33, 0, 0, 0, &t) == UG_ERR_ARG, "33 steps refused");
        ug_ctx_clear_error(ctx);
        ug_tensor *x = ug_zeros(ctx, 2, (int64_t[]){4, 32});
        CHECK(bwd(&r, x, 32, -1, UG_TRAJ_REPARAM, &t) == UG_ERR_UNSUPPORTED, "backward REPARAM refused");
        ug_ctx_clear_error(ctx);
        CHECK(bwd(&r, x, 32, -1, UG_TRAJ_ANCHOR, &t) == UG_ERR_UNSUPPORTED, "anchored request refused");
        ug_ctx_clear_error(ctx);
        CHECK(bwd(&r, x, 31, -1, 0, &t) == UG_ERR_ARG && strstr(ug_ctx_errmsg(ctx), "position 31"),
              "x given as a state of index 31: %s", ug_ctx_errmsg(ctx));
        ug_ctx_clear_error(ctx);
        ug_f32(x)[5] = 2.0f;
        CHECK(bwd(&r, x, 32, -1, 0, &t) == UG_ERR_ARG && strstr(ug_ctx_errmsg(ctx), "holds 2"), "value 2 in binary x: %s",
              ug_ctx_errmsg(ctx));
        ug_ctx_clear_error(ctx);
        ug_f32(x)[5] = 0.5f;
        CHECK(!r.model.vt->log_prob(r.model.self, ctx, x), "log_prob of a non-integer value refused");
        ug_ctx_clear_error(ctx);
        CHECK(bwd(&r, ug_zeros(ctx, 2, (int64_t[]){4, 31}), 32, -1, 0, &t) == UG_ERR_ARG, "[4, 31] states refused");
        ug_ctx_clear_error(ctx);
        tl_close(&r);
    }
    /* categorical data: K from the dataset, one-hot input; log_z adds a group and the cap */
    if (open_ok(&r, "{plugin: test_cats, dim: 5, categories: 4}", "{plugin: ar, hidden: [8], log_z: true}")) {
        const ug_model_info *mi = &r.model.info;
        CHECK(mi->space.kind == UG_SPACE_CATEGORICAL && mi->space.dim == 5 && mi->space.categories == 4 && mi->horizon == 5,
              "info on test_cats: kind %u D %lld K %lld", mi->space.kind, (long long)mi->space.dim, (long long)mi->space.categories);
        CHECK(mi->caps == (UG_CAP_LOG_PROB | UG_CAP_PARTIAL | UG_CAP_LOG_Z) && ug_params_group_index(r.P, "logZ") >= 0,
              "log_z: caps 0x%x", mi->caps);
        ug_tensor *w0 = ug_params_find(r.P, "forward", "made.0.w");
        CHECK(w0 && w0->shape[1] == 20, "one-hot input of 5 x 4");
        tl_close(&r);
    }
    /* refused configurations, with what they say */
    struct {
        const char *dataset, *model, *needle;
    } bad[] = {
        {"{plugin: synthetic2d, data: moons, encoding: continuous}", "{plugin: ar}", "continuous"},
        {"{plugin: synthetic2d, data: moons}", "{plugin: ar, dim: 16}", "disagree"},
        {"{plugin: test_cats, categories: 3}", "{plugin: ar, categories: 5}", "disagree"},
        {"{plugin: none}", "{plugin: ar}", "give dim and categories"},
        {"{plugin: none}", "{plugin: ar, dim: 4, categories: 1}", "2 <= K"},
        {"{plugin: none}", "{plugin: ar, dim: 4, categories: 2, order: reversed}", "order"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ug_status st = open_run(&r, bad[i].dataset, bad[i].model, true);
        CHECK(st != UG_OK && strstr(ERR.msg, bad[i].needle), "%s on %s refused with '%s': %s", bad[i].model, bad[i].dataset,
              bad[i].needle, ERR.msg);
        if (st == UG_OK) tl_close(&r);
        else printf("schema: refused %s on %s: %s\n", bad[i].model, bad[i].dataset, ERR.msg);
    }
    /* tbc pairs two backward trajectories of one x: with a Dirac P_B they are one and the same */
    const char *tbc_yaml = "seed: 1\ndataset: {plugin: synthetic2d, data: moons}\nmodel: {plugin: ar, hidden: [8]}\n"
                           "objective: [{plugin: tbc, updates: [forward]}]\noptim: {forward: {lr: 0.001}}\ntrain: {steps: 1}\n";
    memset(&ERR, 0, sizeof ERR);
    ug_status st = tl_open(&r, REG, tbc_yaml, NULL, 0, &ERR);
    CHECK(st != UG_OK && strstr(ERR.msg, "deterministic"), "tbc on ar refused: %s", ERR.msg);
    if (st == UG_OK) tl_close(&r);
    else printf("schema: tbc refused: %s\n", ERR.msg);
}

/* ---- sum ------------------------------------------------------------------------------------- */

/* Σ exp(log_prob) over the K^D grid of one configuration; also Σ log_pf of the backward trajectories. */
static void sum_case(const char *dataset, const char *model, int D, int K) {
    tl_run r;
    if (!open_ok(&r, dataset, model)) return;
    perturb(&r, 0.3f, 100 + (uint64_t)D * 7 + (uint64_t)K);
    ug_ctx *ctx = r.ctx;
    ug_set_grad_enabled(ctx, false);
    ug_tensor *x = grid(ctx, D, K);
    ug_tensor *lp = r.model.vt->log_prob(r.model.self, ctx, x);  // [K^D]
    CHECK(lp != NULL, "log_prob: %s", ug_ctx_errmsg(ctx));
    if (!lp) {
        tl_close(&r);
        return;
    }
    double s = 0, pmax = 0, H = 0;
    int64_t n = x->shape[0];
    for (int64_t i = 0; i < n; i++) {
        double p = exp((double)ug_f32(lp)[i]);
        s += p;
        pmax = fmax(pmax, p);
        H -= p * (double)ug_f32(lp)[i];
    }
    ug_traj b;
    double dpf = INFINITY;
    if (bwd(&r, x, D, -1, 0, &b) == UG_OK) dpf = max_abs_diff(sum_terms(ctx, &b, true), lp);
    CHECK(fabs(s - 1) < 2e-5, "%s: Σ p(x) over %lld points = %.8f", model, (long long)n, s);
    CHECK(dpf < 1e-5, "%s: log_prob vs Σ log_pf of the backward trajectories: %.3g", model, dpf);
    /* a distribution that is not the uniform one (else the sum would hold trivially) */
    CHECK(H < D * log((double)K) - 0.05, "%s: entropy %.4f below the uniform %.4f", model, H, D * log((double)K));
    printf("sum: %-82s K^D = %d^%d: Σ p = %.8f (|Σ - 1| = %.1e), max p %.4f, entropy %.3f of %.3f\n", model, K, D, s,
           fabs(s - 1), pmax, H, D * log((double)K));
    tl_close(&r);
}

static void test_sum(void) {
    const char *none = "{plugin: none}";
    sum_case(none, "{plugin: ar, dim: 6, categories: 2, hidden: [32, 32]}", 6, 2);
    sum_case(none, "{plugin: ar, dim: 7, categories: 2, hidden: [24], order: random, order_seed: 3, degrees: cyclic}", 7, 2);
    sum_case(none, "{plugin: ar, dim: 8, categories: 2, hidden: [32, 16, 32], order: random, order_seed: 9, input: onehot, "
                   "act: tanh, mask_seed: 4}", 8, 2);
    sum_case(none, "{plugin: ar, dim: 6, categories: 2, hidden: []}", 6, 2);
    sum_case(none, "{plugin: ar, dim: 5, categories: 3, hidden: [32, 32], order: random, order_seed: 1}", 5, 3);
    sum_case(none, "{plugin: ar, dim: 4, categories: 3, hidden: [16], input: ordinal, degrees: cyclic, act: elu}", 4, 3);
    sum_case(none, "{plugin: ar, dim: 3, categories: 5, hidden: [16, 16], order: random, order_seed: 2}", 3, 5);
    sum_case(none, "{plugin: ar, dim: 1, categories: 5, hidden: [8]}", 1, 5);
    sum_case("{plugin: test_cats, dim: 4, categories: 4}", "{plugin: ar, hidden: [32], order: random, order_seed: 5}", 4, 4);
}

/* ---- traj ------------------------------------------------------------------------------------ */

static void test_traj(void) {
    const int D = 7, K = 3;
    tl_run r;
    if (!open_ok(&r, "{plugin: test_cats, dim: 7, categories: 3}", "{plugin: ar, hidden: [32, 32], order: random, order_seed: 11}"))
        return;
    perturb(&r, 0.2f, 12);
    ug_ctx *ctx = r.ctx;
    ug_set_grad_enabled(ctx, false);
    int order[16];
    CHECK(order_of(&r, D, order), "the order from a forward trajectory");
    bool natural = true;
    for (int k = 0; k < D; k++) natural &= order[k] == k;
    CHECK(!natural, "order: random is not the natural order");
    ug_rng rng = ug_rng_make(3, 0);
    const int64_t B = 256;
    ug_traj f, b;
    if (fwd(&r, &rng, B, NULL, 0, -1, UG_TRAJ_KEEP_STATES, 0, 0, &f)) {
        CHECK(0, "sample_forward: %s", ug_ctx_errmsg(ctx));
        return;
    }
    CHECK(f.start == 0 && f.steps == D && f.states && f.last == f.states[D] && f.first == f.states[0] && f.actions &&
              f.actions->shape[1] == D,
          "forward covers 0 .. %d with states and actions", D);
    /* states: index i has the first i positions of the order set; actions hold the written values */
    int bad = 0;
    for (int i = 0; i <= D; i++)
        for (int64_t row = 0; row < B; row++)
            for (int k = 0; k < D; k++) {
                float v = ug_f32(f.states[i])[row * D + order[k]], xv = ug_f32(f.last)[row * D + order[k]];
                bad += k < i ? (v != xv || v < 0 || v >= K) : v != -1.0f;
                if (i == D) bad += ug_f32(f.actions)[row * D + k] != xv;
            }
    CHECK(bad == 0, "states are the prefixes of x and actions its values in order (%d mismatches)", bad);
    ug_tensor *x = f.last, *lp = r.model.vt->log_prob(r.model.self, ctx, x), *lp_f = sum_terms(ctx, &f, true);
    if (bwd(&r, x, D, -1, UG_TRAJ_KEEP_STATES, &b)) {
        CHECK(0, "sample_backward: %s", ug_ctx_errmsg(ctx));
        return;
    }
    ug_tensor *lp_b = sum_terms(ctx, &b, true);
    double d_f = max_abs_diff(lp, lp_f), d_b = max_abs_diff(lp, lp_b), scale = max_abs(lp), dstep = 0, dstate = 0;
    for (int k = 0; k < D; k++) dstep = fmax(dstep, max_abs_diff(f.log_pf[k], b.log_pf[k]));
    for (int i = 0; i <= D; i++) dstate = fmax(dstate, max_abs_diff(f.states[i], b.states[i]));
    CHECK(d_f < 1e-5 && d_b < 1e-5, "log_prob vs Σ log_pf: forward %.3g, backward %.3g", d_f, d_b);
    CHECK(dstep < 1e-5, "per step, D passes on partial states vs one pass on x: %.3g", dstep);
    CHECK(dstate == 0 && max_abs_diff(f.actions, b.actions) == 0 && b.start == 0 && b.steps == D && b.first && b.last == x,
          "backward retraces the forward states and actions");
    CHECK(max_abs(sum_terms(ctx, &f, false)) == 0 && max_abs(sum_terms(ctx, &b, false)) == 0, "log_pb is 0");
    printf("traj: D = %d, K = %d, order", D, K);
    for (int k = 0; k < D; k++) printf(" %d", order[k]);
    printf(": |log_prob - Σ log_pf| forward %.2e, backward %.2e (|log p| up to %.2f); per step %.2e\n", d_f, d_b, scale, dstep);

    /* rescore: from the states, from last alone, from first + actions */
    double dr[3];
    for (int mode = 0; mode < 3; mode++) {
        ug_traj rs = {.size = sizeof rs, .batch = B, .start = 0, .steps = D};
        if (mode == 0) rs.states = f.states;
        if (mode == 1) rs.last = f.last;
        if (mode == 2) rs.first = f.first, rs.actions = f.actions;
        CHECK(r.model.vt->rescore(r.model.self, ctx, &rs, 0) == UG_OK, "rescore mode %d: %s", mode, ug_ctx_errmsg(ctx));
        dr[mode] = rs.log_pf ? max_abs_diff(sum_terms(ctx, &rs, true), lp_f) : INFINITY;
        CHECK(dr[mode] < 1e-5 && rs.log_pb && max_abs(sum_terms(ctx, &rs, false)) == 0, "rescore mode %d: %.3g", mode, dr[mode]);
    }
    /* a sub-trajectory (steps 2 .. 5) from first + a slice of the actions, and NO_PB leaving log_pb alone */
    {
        ug_tensor *acts = ug_contiguous(ctx, ug_slice(ctx, f.actions, 1, 2, 3));  // [B, 3]
        ug_tensor *keep_pb[3] = {f.log_pf[0], f.log_pf[1], f.log_pf[2]};
        ug_traj rs = {.size = sizeof rs, .batch = B, .start = 2, .steps = 3, .first = f.states[2], .actions = acts,
                      .log_pb = keep_pb};
        CHECK(r.model.vt->rescore(r.model.self, ctx, &rs, UG_TRAJ_NO_PB) == UG_OK, "rescore sub: %s", ug_ctx_errmsg(ctx));
        double d = 0;
        for (int t = 0; t < 3; t++) d = fmax(d, rs.log_pf ? max_abs_diff(rs.log_pf[t], f.log_pf[2 + t]) : INFINITY);
        CHECK(d < 1e-5 && rs.log_pb == keep_pb && keep_pb[0] == f.log_pf[0], "sub-trajectory rescore %.3g, log_pb untouched", d);
    }
    /* rescore refuses states that are not one trajectory */
    {
        ug_tensor *st[8];
        memcpy(st, f.states, sizeof(ug_tensor *) * (size_t)(D + 1));
        ug_tensor *other = ug_contiguous(ctx, ug_slice(ctx, f.states[3], 0, 1, B - 1));
        st[3] = ug_concat(ctx, (ug_tensor *[]){other, ug_slice(ctx, f.states[3], 0, 0, 1)}, 2, 0);  // rows rotated
        ug_traj rs = {.size = sizeof rs, .batch = B, .start = 0, .steps = D, .states = st};
        CHECK(r.model.vt->rescore(r.model.self, ctx, &rs, 0) == UG_ERR_ARG && strstr(ug_ctx_errmsg(ctx), "not one trajectory"),
              "rotated states refused: %s", ug_ctx_errmsg(ctx));
        ug_ctx_clear_error(ctx);
    }
    printf("traj: rescore from states %.2e, from last %.2e, from first + actions %.2e\n", dr[0], dr[1], dr[2]);

    /* partial: forward from index 3 for 2 steps; backward from index 5 for 3 steps */
    ug_traj pf, pb;
    if (fwd(&r, &rng, 0, f.states[3], 3, 2, UG_TRAJ_KEEP_STATES, 0, 0, &pf) == UG_OK) {
        CHECK(pf.start == 3 && pf.steps == 2 && pf.first == f.states[3] && pf.states[0] == f.states[3], "partial forward 3 -> 5");
        int pbad = 0;
        for (int64_t row = 0; row < B; row++)
            for (int k = 0; k < D; k++) {
                float v = ug_f32(pf.last)[row * D + order[k]];
                pbad += k < 3 ? v != ug_f32(f.states[3])[row * D + order[k]] : k < 5 ? (v < 0 || v >= K) : v != -1.0f;
            }
        CHECK(pbad == 0, "partial forward keeps the prefix and writes positions %d, %d (%d mismatches)", order[3], order[4], pbad);
        /* its terms: the conditionals at its own states, as a backward walk from its last state gives them */
        ug_traj q;
        if (bwd(&r, pf.last, 5, 2, 0, &q) == UG_OK)
            CHECK(q.start == 3 && max_abs_diff(q.log_pf[0], pf.log_pf[0]) < 1e-5 && max_abs_diff(q.log_pf[1], pf.log_pf[1]) < 1e-5 &&
                      max_abs_diff(q.first, f.states[3]) == 0,
                  "partial forward terms vs a partial backward walk");
    } else {
        CHECK(0, "partial forward: %s", ug_ctx_errmsg(ctx));
    }
    if (bwd(&r, f.states[5], 5, 3, UG_TRAJ_KEEP_STATES, &pb) == UG_OK) {
        double d = 0;
        for (int t = 0; t < 3; t++) d = fmax(d, max_abs_diff(pb.log_pf[t], f.log_pf[2 + t]));
        CHECK(pb.start == 2 && pb.steps == 3 && max_abs_diff(pb.first, f.states[2]) == 0 && d < 1e-5,
              "partial backward 5 -> 2: start %d, terms %.3g", pb.start, d);
    } else {
        CHECK(0, "partial backward: %s", ug_ctx_errmsg(ctx));
    }
    ug_traj z;
    CHECK(fwd(&r, &rng, 0, f.states[4], 4, 0, 0, 0, 0, &z) == UG_OK && z.steps == 0 && z.last == f.states[4], "zero steps");
    CHECK(fwd(&r, &rng, 0, f.states[4], 3, 1, 0, 0, 0, &z) == UG_ERR_ARG, "a state of index 4 given as index 3 is refused");
    ug_ctx_clear_error(ctx);
    tl_close(&r);
}

/* ---- autoreg --------------------------------------------------------------------------------- */

static void autoreg_case(const char *model, int D, int K) {
    tl_run r;
    if (!open_ok(&r, "{plugin: none}", model)) return;
    perturb(&r, 0.3f, 31);
    ug_ctx *ctx = r.ctx;
    ug_set_grad_enabled(ctx, false);
    int order[16], rank[16];
    if (!order_of(&r, D, order)) {
        CHECK(0, "order");
        tl_close(&r);
        return;
    }
    for (int k = 0; k < D; k++) rank[order[k]] = k;
    /* 8 base points x and, for each, every single-coordinate change: 8 (1 + D (K - 1)) rows */
    const int NB = 8, per = 1 + D * (K - 1);
    int64_t sh[2] = {NB * per, D};
    ug_tensor *x = ug_new(ctx, UG_F32, 2, sh);
    ug_rng rng = ug_rng_make(32, 0);
    for (int b = 0; b < NB; b++) {
        float *base = ug_f32(x) + (int64_t)b * per * D;
        for (int d = 0; d < D; d++) base[d] = (float)ug_rng_randint(&rng, K);
        int row = 1;
        for (int d = 0; d < D; d++)
            for (int u = 0; u < K; u++) {
                if (u == (int)base[d]) continue;
                memcpy(base + row * D, base, sizeof(float) * (size_t)D);
                base[row * D + d] = (float)u;
                row++;
            }
    }
    ug_traj t;
    if (bwd(&r, x, D, -1, 0, &t)) {
        CHECK(0, "backward: %s", ug_ctx_errmsg(ctx));
        tl_close(&r);
        return;
    }
    /* step k's term is log p(x_{order[k]} | x_{order[<k]}); changing position d (rank rank[d]) may move
     * only the terms of steps > rank[d] (the term of step rank[d] changes with its own value) */
    double leak = 0;
    int moved = 0, later = 0;
    for (int b = 0; b < NB; b++) {
        int64_t r0 = (int64_t)b * per, row = r0 + 1;
        for (int d = 0; d < D; d++)
            for (int u = 0; u < K - 1; u++, row++)
                for (int k = 0; k < D; k++) {
                    double diff = fabs((double)ug_f32(t.log_pf[k])[row] - ug_f32(t.log_pf[k])[r0]);
                    if (k < rank[d]) leak = fmax(leak, diff);
                    else if (k > rank[d]) later++, moved += diff > 1e-4;
                }
    }
    /* the rows go through one GEMM, but its kernels may sum a row in another order than a neighbour's:
     * a masked input moves a term by rounding only (~1e-7); a dependence moves it by ~1e-2 */
    CHECK(leak < 2e-6, "%s: a conditional moved when a coordinate written at the same or a later step changed (by %.3g)", model,
          leak);
    CHECK(moved > later / 4, "%s: later conditionals depend on earlier coordinates (%d of %d moved)", model, moved, later);
    /* the same with the coordinates of steps >= k unset (zeros in the input): one forward step from each
     * base point's prefix s_k draws v with log p(v | prefix); the one pass on x (x_{order[k]} = v, the
     * later coordinates whatever x holds) must give that term, so no conditional sees its own input */
    double own = 0;
    int checked_own = 0;
    int64_t sb[2] = {NB, D};
    for (int k = 0; k < D; k++) {
        ug_tensor *s = ug_new(ctx, UG_F32, 2, sb), *xv = ug_new(ctx, UG_F32, 2, sb);
        for (int b = 0; b < NB; b++)
            for (int d = 0; d < D; d++) ug_f32(s)[b * D + d] = rank[d] < k ? ug_f32(x)[(int64_t)b * per * D + d] : -1.0f;
        ug_traj one, back;
        if (fwd(&r, &rng, 0, s, k, 1, 0, 0, 0, &one)) {
            CHECK(0, "one step from index %d: %s", k, ug_ctx_errmsg(ctx));
            break;
        }
        for (int b = 0; b < NB; b++)
            for (int d = 0; d < D; d++)
                ug_f32(xv)[b * D + d] = d == order[k] ? ug_f32(one.actions)[b] : ug_f32(x)[(int64_t)b * per * D + d];
        if (bwd(&r, xv, D, -1, 0, &back)) {
            CHECK(0, "backward: %s", ug_ctx_errmsg(ctx));
            break;
        }
        own = fmax(own, max_abs_diff(one.log_pf[0], back.log_pf[k]));
        checked_own++;
    }
    CHECK(checked_own == D, "partial states of all %d indices compared", D);
    CHECK(own < 2e-6, "%s: a conditional at a partial state differs from the one at a full x by %.3g", model, own);
    printf("autoreg: %-70s earlier conditionals unchanged (max |diff| %.1g); %d of %d later ones moved; partial state vs "
           "x %.1g\n", model, leak, moved, later, own);
    tl_close(&r);
}

static void test_autoreg(void) {
    autoreg_case("{plugin: ar, dim: 8, categories: 2, hidden: [32, 32]}", 8, 2);
    autoreg_case("{plugin: ar, dim: 8, categories: 2, hidden: [32], order: random, order_seed: 7, degrees: cyclic}", 8, 2);
    autoreg_case("{plugin: ar, dim: 6, categories: 3, hidden: [24, 24], order: random, order_seed: 8, mask_seed: 2}", 6, 3);
    autoreg_case("{plugin: ar, dim: 6, categories: 4, hidden: [], order: random, order_seed: 9, input: ordinal}", 6, 4);
}

/* ---- sampling -------------------------------------------------------------------------------- */

/* The exact per-step distribution of the sampler over the grid: each step draws from
 * (1 - eps) softmax(log p(.|prefix) / T) + eps / K. */
static void sampler_probs(const float *lpf_grid, int D, int K, double T, double eps, const int *order, double *q) {
    int64_t n = 1;
    for (int d = 0; d < D; d++) n *= K;
    for (int64_t i = 0; i < n; i++) {
        int v[8];
        for (int d = D - 1, c = (int)i; d >= 0; d--, c /= K) v[d] = c % K;
        double lq = 0;
        for (int k = 0; k < D; k++) {
            /* the K completions of this prefix at step k: x with position order[k] set to u */
            double z = 0, mine = 0;
            for (int u = 0; u < K; u++) {
                int w[8];
                memcpy(w, v, sizeof w);
                w[order[k]] = u;
                int64_t c = 0;
                for (int d = 0; d < D; d++) c = c * K + w[d];
                double e = exp((double)lpf_grid[c * D + k] / T);
                z += e;
                if (u == v[order[k]]) mine = e;
            }
            lq += log((1 - eps) * mine / z + eps / K);
        }
        q[i] = exp(lq);
    }
}

static void test_sampling(void) {
    const int D = 3, K = 3, N = 30000;
    tl_run r;
    if (!open_ok(&r, "{plugin: none}", "{plugin: ar, dim: 3, categories: 3, hidden: [16, 16], order: random, order_seed: 4}"))
        return;
    perturb(&r, 0.6f, 41);
    ug_ctx *ctx = r.ctx;
    ug_set_grad_enabled(ctx, false);
    int order[8];
    CHECK(order_of(&r, D, order), "order");
    ug_tensor *x = grid(ctx, D, K);
    ug_traj g;
    if (bwd(&r, x, D, -1, 0, &g)) {
        CHECK(0, "backward: %s", ug_ctx_errmsg(ctx));
        return;
    }
    float lpf_grid[27 * 3];  // [cell, step]
    for (int64_t c = 0; c < 27; c++)
        for (int k = 0; k < D; k++) lpf_grid[c * D + k] = ug_f32(g.log_pf[k])[c];
    struct { float T, eps; } cases[] = {{1, 0}, {2.5f, 0}, {0.5f, 0}, {1, 1}, {1, 0.4f}, {2, 0.3f}};
    double q1[27];
    sampler_probs(lpf_grid, D, K, 1, 0, order, q1);
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        double q[27], cnt[27] = {0}, worst = 0, tv_model = 0;
        sampler_probs(lpf_grid, D, K, cases[c].T, cases[c].eps, order, q);
        ug_rng rng = ug_rng_make(50 + c, 0);
        ug_traj f;
        if (fwd(&r, &rng, N, NULL, 0, -1, 0, cases[c].T, cases[c].eps, &f)) {
            CHECK(0, "forward T %g eps %g: %s", cases[c].T, cases[c].eps, ug_ctx_errmsg(ctx));
            continue;
        }
        for (int64_t i = 0; i < N; i++) cnt[cell(ug_f32(f.last) + i * D, D, K)] += 1;
        for (int i = 0; i < 27; i++) {
            double p = cnt[i] / N, se = sqrt(q[i] * (1 - q[i]) / N) + 1e-4;
            worst = fmax(worst, fabs(p - q[i]) / se);
            tv_model += 0.5 * fabs(q[i] - q1[i]);
        }
        /* log P_F is the untempered, non-exploring policy's: Σ log_pf = log_prob */
        double dl = max_abs_diff(sum_terms(ctx, &f, true), r.model.vt->log_prob(r.model.self, ctx, f.last));
        CHECK(worst < 5, "T %g, explore %g: empirical vs exact sampler distribution, worst cell %.2f standard errors",
              cases[c].T, cases[c].eps, worst);
        CHECK(dl < 1e-5, "T %g, explore %g: Σ log_pf vs log_prob %.3g", cases[c].T, cases[c].eps, dl);
        CHECK(c == 0 || tv_model > 0.03, "T %g, explore %g: the sampler differs from the model (TV %.3f)", cases[c].T,
              cases[c].eps, tv_model);
        printf("sampling: T %.1f explore %.1f: %d draws on 27 cells, worst |p_hat - q| = %.2f se; TV(q, p_model) %.3f; "
               "|Σ log_pf - log_prob| %.1e\n",
               cases[c].T, cases[c].eps, N, worst, tv_model, dl);
        ug_step_reset(ctx);
    }
    /* the same draws with a graph as without (the scoped path vs the taped one) */
    {
        ug_rng r1 = ug_rng_make(60, 0), r2 = ug_rng_make(60, 0);
        ug_traj a, b;
        ug_set_grad_enabled(ctx, false);
        CHECK(fwd(&r, &r1, 500, NULL, 0, -1, 0, 1.5f, 0.2f, &a) == UG_OK, "no graph");
        ug_set_grad_enabled(ctx, true);
        CHECK(fwd(&r, &r2, 500, NULL, 0, -1, 0, 1.5f, 0.2f, &b) == UG_OK, "graph");
        ug_set_grad_enabled(ctx, false);
        double dd = max_abs_diff(a.last, b.last), dt = 0;
        for (int k = 0; k < D; k++) dt = fmax(dt, max_abs_diff(a.log_pf[k], b.log_pf[k]));
        CHECK(dd == 0 && dt == 0 && max_abs_diff(a.actions, b.actions) == 0, "graph vs none: x %.3g, terms %.3g", dd, dt);
        ug_step_reset(ctx);
    }
    tl_close(&r);
    /* memory: without a graph one step's activations at a time */
    if (open_ok(&r, "{plugin: none}", "{plugin: ar, dim: 96, categories: 2, hidden: [256]}")) {
        size_t used[2];
        for (int gr = 0; gr < 2; gr++) {
            ug_set_grad_enabled(r.ctx, gr == 1);
            ug_rng rng = ug_rng_make(70, 0);
            ug_traj f;
            size_t u0 = ug_arena_used(r.ctx);
            CHECK(fwd(&r, &rng, 256, NULL, 0, -1, 0, 0, 0, &f) == UG_OK, "forward D = 96: %s", ug_ctx_errmsg(r.ctx));
            used[gr] = ug_arena_used(r.ctx) - u0;
            ug_step_reset(r.ctx);
        }
        ug_set_grad_enabled(r.ctx, false);
        CHECK(used[0] * 8 < used[1], "arena after sampling 96 steps: %zu bytes without a graph, %zu with", used[0], used[1]);
        printf("sampling: D = 96, B = 256: arena %.2f MB without a graph, %.2f MB with one\n", used[0] / 1048576.0,
               used[1] / 1048576.0);
        tl_close(&r);
    }
}

/* ---- grads ----------------------------------------------------------------------------------- */

static double nll_of(tl_run *r, ug_tensor *x) {
    ug_tensor *lp = r->model.vt->log_prob(r->model.self, r->ctx, x);
    double s = 0;
    for (int64_t i = 0; i < x->shape[0]; i++) s -= ug_f32(lp)[i];
    return s / (double)x->shape[0];
}

static void test_grads(void) {
    const int D = 5, K = 3;
    tl_run r;
    if (!open_ok(&r, "{plugin: test_cats, dim: 5, categories: 3}",
                 "{plugin: ar, hidden: [8], act: tanh, order: random, order_seed: 2}"))
        return;
    perturb(&r, 0.3f, 51);
    ug_ctx *ctx = r.ctx;
    const int64_t B = 16;
    ug_rng drng = ug_rng_make(52, 0);
    ug_tensor *batch;
    CHECK(r.data.vt->train_batch(r.data.self, ctx, &drng, B, 0, &batch) == UG_OK, "batch");
    float pts[16 * 5];
    memcpy(pts, ug_f32(batch), sizeof pts);
    int64_t sh[2] = {B, D};
    /* analytic: −mean log_prob, and the kl_tb(data) term's loss on the same batch */
    ug_params_zero_grad(r.P, ~0ull);
    ug_set_grad_enabled(ctx, true);
    ug_tensor *loss = ug_neg(ctx, ug_mean_all(ctx, r.model.vt->log_prob(r.model.self, ctx, ug_from_f32(ctx, pts, 2, sh))));
    CHECK(ug_backward(ctx, loss, ~0ull) == UG_OK, "backward: %s", ug_ctx_errmsg(ctx));
    ug_step_reset(ctx);
    int64_t n;
    float *g_lp, *g_kl;
    ug_params_group_info(r.P, 0, NULL, NULL, &g_lp, &n);
    float *copy = malloc(sizeof(float) * (size_t)n);
    memcpy(copy, g_lp, sizeof(float) * (size_t)n);
    ug_params_zero_grad(r.P, ~0ull);
    tl_term *T = &r.terms[0];
    ug_step_env env = {.size = sizeof env, .ctx = ctx, .rng = &T->rng, .model = &r.model, .data = &r.data,
                       .batch = ug_from_f32(ctx, pts, 2, sh), .update_mask = T->mask};
    ug_loss_out out = {.size = sizeof out};
    CHECK(((const ug_objective_vtable *)T->desc->vtable)->loss(T->self, &env, &out) == UG_OK, "kl_tb: %s", ug_ctx_errmsg(ctx));
    CHECK(ug_backward(ctx, out.loss, T->mask) == UG_OK, "kl_tb backward");
    ug_step_reset(ctx);
    ug_params_group_info(r.P, 0, NULL, NULL, &g_kl, NULL);
    double dkl = 0;
    for (int64_t i = 0; i < n; i++) dkl = fmax(dkl, fabs((double)g_kl[i] - copy[i]));
    CHECK(dkl < 1e-6, "kl_tb(data) gradient vs −mean log_prob gradient: %.3g", dkl);
    ug_set_grad_enabled(ctx, false);
    /* every entry of every parameter against central differences */
    double worst = 0;
    int zero_an = 0, zero_both = 0, checked = 0;
    for (int i = 0; i < ug_params_group_size(r.P, 0); i++) {
        ug_tensor *p = ug_params_get(r.P, 0, i);
        int64_t off = ug_params_offset(r.P, 0, i);
        for (int64_t e = 0; e < ug_numel(p); e++) {
            float *v = ug_f32(p) + e, v0 = *v;
            const float h = 1e-2f;
            ug_tensor *x = ug_from_f32(ctx, pts, 2, sh);
            *v = v0 + h;
            double up = nll_of(&r, x);
            *v = v0 - h;
            double dn = nll_of(&r, x);
            *v = v0;
            ug_step_reset(ctx);
            double fd = (up - dn) / (2.0 * h), an = copy[off + e];
            checked++;
            if (an == 0) {
                zero_an++;
                zero_both += fabs(fd) < 1e-7;
            }
            worst = fmax(worst, fabs(fd - an) / (1e-3 + fabs(an)));
            CHECK(fabs(fd - an) <= 2e-4 + 2e-3 * fabs(an), "d nll / d %s[%lld]: autograd %.7f, finite differences %.7f",
                  p->name, (long long)e, an, fd);
        }
    }
    /* the masks zero some weights' gradients exactly: by autograd and by finite differences alike */
    CHECK(zero_an > 0 && zero_both == zero_an, "masked entries: %d with autograd 0, %d of them with finite differences 0", zero_an,
          zero_both);
    printf("grads: %d parameters (K = %d): worst |fd - autograd| / (1e-3 + |autograd|) = %.3g; %d masked (0 both ways); "
           "kl_tb(data) gradient = log_prob gradient to %.1e\n",
           checked, K, worst, zero_an, dkl);
    free(copy);
    tl_close(&r);
}

/* ---- train ----------------------------------------------------------------------------------- */

static ug_status eval_nll(tl_run *r, ug_metric_out *out) {
    const ug_plugin_ref *ref = ug_registry_find(REG, UG_KIND_METRIC, "nll");
    if (!ref) return UG_ERR_PLUGIN;
    ug_error err = {0};
    ug_create_args a = {.size = sizeof a, .cfg = ug_spec_metric(r->spec, 0), .ctx = r->ctx, .data = &r->data, .model = &r->model};
    void *self = ref->desc->create(&a, &err);
    if (!self) return UG_ERR_PLUGIN;
    ug_rng rng = ug_rng_make(1, 3);
    ug_eval_env env = {.size = sizeof env, .ctx = r->ctx, .rng = &rng, .model = &r->model, .data = &r->data, .artifact_dir = "."};
    memset(out, 0, sizeof *out);
    out->size = sizeof *out;
    bool g = ug_set_grad_enabled(r->ctx, false);
    ug_status st = ((const ug_metric_vtable *)ref->desc->vtable)->evaluate(self, &env, out);
    if (st) fprintf(stderr, "nll evaluate: %s\n", ug_ctx_errmsg(r->ctx));
    ug_set_grad_enabled(r->ctx, g);
    ug_step_reset(r->ctx);
    ref->desc->destroy(self);
    return st;
}

static double metric_value(const ug_metric_out *o, const char *key) {
    for (int i = 0; i < o->n_values; i++)
        if (strcmp(o->keys[i], key) == 0) return o->values[i];
    return NAN;
}

/* Train `yaml`'s run for its steps; the mean loss of the first and last W steps, the nll before and after. */
static bool train_run(const char *yaml, tl_run *r, double *first, double *last, ug_metric_out *o0, ug_metric_out *o1) {
    memset(&ERR, 0, sizeof ERR);
    if (tl_open(r, REG, yaml, NULL, 0, &ERR)) {
        CHECK(0, "tl_open: %s", ERR.msg);
        return false;
    }
    ug_ctx *ctx = r->ctx;
    /* kl_tb(data) is exact MLE: its loss on a batch is −mean log_prob of the batch */
    {
        ug_rng drng = ug_rng_make(77, 0);
        ug_tensor *batch = NULL;
        CHECK(r->data.vt->train_batch(r->data.self, ctx, &drng, 128, 0, &batch) == UG_OK, "batch");
        tl_term *T = &r->terms[0];
        ug_step_env env = {.size = sizeof env, .ctx = ctx, .rng = &T->rng, .model = &r->model, .data = &r->data, .batch = batch,
                           .update_mask = T->mask};
        ug_loss_out out = {.size = sizeof out};
        CHECK(((const ug_objective_vtable *)T->desc->vtable)->loss(T->self, &env, &out) == UG_OK, "kl_tb: %s", ug_ctx_errmsg(ctx));
        double l = ug_item(out.loss), want = -ug_item(ug_mean_all(ctx, r->model.vt->log_prob(r->model.self, ctx, batch)));
        CHECK(fabs(l - want) < 1e-5 * (1 + fabs(want)), "kl_tb(data) loss %.6f vs -mean log_prob %.6f", l, want);
        ug_step_reset(ctx);
    }
    if (eval_nll(r, o0)) {
        CHECK(0, "nll before training");
        return false;
    }
    const int S = (int)r->steps, W = S / 10;
    *first = *last = 0;
    for (int s = 0; s < S; s++) {
        memset(&ERR, 0, sizeof ERR);
        if (tl_step(r, NULL, NULL, &ERR)) {
            CHECK(0, "step %d: %s", s, ERR.msg);
            return false;
        }
        if (s < W) *first += r->terms[0].loss / W;
        if (s >= S - W) *last += r->terms[0].loss / W;
    }
    if (eval_nll(r, o1)) {
        CHECK(0, "nll after training");
        return false;
    }
    double n1 = metric_value(o1, "nll"), e1 = metric_value(o1, "nll_exact");
    CHECK(fabs(n1 - e1) <= 1e-5 * (1 + fabs(e1)) && fabs(metric_value(o0, "nll") - metric_value(o0, "nll_exact")) < 1e-4,
          "nll (M = 1) %.6f vs nll_exact %.6f", n1, e1);
    CHECK(fabs(-metric_value(o1, "elbo") - n1) < 1e-5 * (1 + fabs(n1)), "a Dirac P_B makes the ELBO exact: %.6f",
          metric_value(o1, "elbo"));
    return true;
}

static void test_train(void) {
    tl_run r;
    double first, last, t0 = tl_now();
    ug_metric_out o0, o1;
    const char *gray =
        "seed: 3\n"
        "dataset: {plugin: synthetic2d, data: checkerboard, encoding: gray32}\n"
        "model: {plugin: ar, hidden: [128, 128]}\n"
        "objective: [{plugin: kl_tb, direction: data, updates: [forward]}]\n"
        "optim: {forward: {lr: 0.002}}\n"
        "train: {steps: 600, batch: 128}\n"
        "metrics: [{plugin: nll, particles: 1, samples: 1000}]\n";
    if (train_run(gray, &r, &first, &last, &o0, &o1)) {
        double n0 = metric_value(&o0, "nll"), n1 = metric_value(&o1, "nll");
        /* from the uniform 32 ln 2 = 22.18 towards the data's entropy, 20.68 (experiments/paper/RESULTS.md) */
        CHECK(last < first - 0.5, "gray32: loss falls: first 60 steps %.4f, last 60 %.4f", first, last);
        CHECK(n1 < n0 - 0.5 && fabs(n1 - last) < 0.3 && n1 > 20.6, "gray32: held-out nll %.4f -> %.4f (training loss %.4f)", n0,
              n1, last);
        printf("train: checkerboard gray32 (D = 32), 600 steps of kl_tb(data) in %.1f s: loss %.3f (first 60) -> %.3f (last 60); "
               "held-out nll %.3f -> %.3f nats = nll_exact %.3f, %.3f bits/dim (uniform %.3f nats)\n",
               tl_now() - t0, first, last, n0, n1, metric_value(&o1, "nll_exact"), metric_value(&o1, "bpd"), 32 * log(2.0));
    }
    tl_close(&r);

    t0 = tl_now();
    const char *cats =
        "seed: 4\n"
        "dataset: {plugin: test_cats, dim: 6, categories: 4, stay: 0.7}\n"
        "model: {plugin: ar, hidden: [64], order: random, order_seed: 3}\n"
        "objective: [{plugin: kl_tb, direction: data, updates: [forward]}]\n"
        "optim: {forward: {lr: 0.003}}\n"
        "train: {steps: 400, batch: 128}\n"
        "metrics: [{plugin: nll, particles: 1, samples: 1000}]\n";
    if (train_run(cats, &r, &first, &last, &o0, &o1)) {
        /* the chain's entropy on the same held-out rows: −mean log p(x) from its exact log_reward */
        ug_tensor *h = NULL;
        CHECK(r.data.vt->heldout(r.data.self, r.ctx, 0, 1000, &h) == UG_OK, "heldout");
        double H = -ug_item(ug_mean_all(r.ctx, r.data.vt->log_reward(r.data.self, r.ctx, h)));
        double n0 = metric_value(&o0, "nll"), n1 = metric_value(&o1, "nll");
        CHECK(last < first - 0.5, "test_cats: loss falls: %.4f -> %.4f", first, last);
        CHECK(n0 - H > 1.0 && n1 - H < 0.15, "test_cats: held-out nll %.4f -> %.4f, entropy of the chain %.4f", n0, n1, H);
        printf("train: test_cats (D = 6, K = 4, Markov chain), 400 steps in %.1f s: loss %.3f -> %.3f; held-out nll %.3f -> %.3f "
               "= nll_exact %.3f; the chain's own -mean log p %.3f\n",
               tl_now() - t0, first, last, n0, n1, metric_value(&o1, "nll_exact"), H);
    }
    tl_close(&r);
}

/* ---- tb -------------------------------------------------------------------------------------- */

/* KL(target || model) over {0,1}^D with the dataset's log_reward as the (normalized) target. */
static double kl_target(tl_run *r, int D) {
    ug_ctx *ctx = r->ctx;
    bool g = ug_set_grad_enabled(ctx, false);
    ug_tensor *x = grid(ctx, D, 2);
    ug_tensor *lt = r->data.vt->log_reward(r->data.self, ctx, x), *lm = r->model.vt->log_prob(r->model.self, ctx, x);
    double kl = 0;
    for (int64_t i = 0; i < x->shape[0]; i++) kl += exp((double)ug_f32(lt)[i]) * ((double)ug_f32(lt)[i] - ug_f32(lm)[i]);
    ug_set_grad_enabled(ctx, g);
    ug_step_reset(ctx);
    return kl;
}

static void test_tb(void) {
    const char *yaml =
        "seed: 6\n"
        "dataset: {plugin: test_bits, dim: 6, probs: [0.1, 0.8, 0.3, 0.9, 0.5, 0.2]}\n"
        "model: {plugin: ar, hidden: [32], log_z: true, order: random, order_seed: 1}\n"
        "objective: [{plugin: tb, reward: data, forward_ratio: 1, explore: 0.1, updates: [forward, logZ]}]\n"
        "optim: {forward: {lr: 0.003}, logZ: {lr: 0.05}}\n"
        "train: {steps: 600, batch: 64}\n";
    tl_run r;
    memset(&ERR, 0, sizeof ERR);
    if (tl_open(&r, REG, yaml, NULL, 0, &ERR)) {
        CHECK(0, "tl_open: %s", ERR.msg);
        return;
    }
    double kl0 = kl_target(&r, 6), t0 = tl_now(), first = 0, last = 0;
    const int S = (int)r.steps, W = 60;
    for (int s = 0; s < S; s++) {
        memset(&ERR, 0, sizeof ERR);
        if (tl_step(&r, NULL, NULL, &ERR)) {
            CHECK(0, "step %d: %s", s, ERR.msg);
            break;
        }
        if (s < W) first += r.terms[0].loss / W;
        if (s >= S - W) last += r.terms[0].loss / W;
    }
    double kl1 = kl_target(&r, 6), logz = ug_item(ug_params_find(r.P, "logZ", "logZ"));
    CHECK(last < first / 10, "tb loss falls: %.4f -> %.4f", first, last);
    CHECK(kl1 < kl0 / 5 && kl1 < 0.05, "KL(target || model) %.4f -> %.4f", kl0, kl1);
    CHECK(fabs(logz) < 0.1, "log Z %.4f (the target is normalized: 0)", logz);
    printf("tb: reward from test_bits (D = 6), forward samples with explore 0.1, %d steps in %.1f s: loss %.4f -> %.4f, "
           "KL(target || model) %.4f -> %.4f, log Z = %.4f\n",
           S, tl_now() - t0, first, last, kl0, kl1, logz);
    tl_close(&r);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: test_ar schema|sum|traj|autoreg|sampling|grads|train|tb\n");
        return 2;
    }
    REG = tl_registry(&ERR);
    if (!REG) {
        fprintf(stderr, "registry: %s\n", ERR.msg);
        return 1;
    }
    const char *c = argv[1];
    if (strcmp(c, "schema") == 0) test_schema();
    else if (strcmp(c, "sum") == 0) test_sum();
    else if (strcmp(c, "traj") == 0) test_traj();
    else if (strcmp(c, "autoreg") == 0) test_autoreg();
    else if (strcmp(c, "sampling") == 0) test_sampling();
    else if (strcmp(c, "grads") == 0) test_grads();
    else if (strcmp(c, "train") == 0) test_train();
    else if (strcmp(c, "tb") == 0) test_tb();
    else {
        fprintf(stderr, "unknown case '%s'\n", c);
        ug_registry_free(REG);
        return 2;
    }
    ug_registry_free(REG);
    return CHECK_DONE();
}
