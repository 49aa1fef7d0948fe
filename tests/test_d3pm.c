/* test_d3pm.c — the d3pm model family and its d3pm_hybrid objective (plugins/models/d3pm), through the
 * real loader, against brute-force enumeration, finite differences and training. Every reference value
 * is computed here from the model's one-step masses (rescore of one-step trajectories) or from the
 * schedule's definition, never from the plugin's closed forms:
 *
 *   schema    the loader finds d3pm and d3pm_hybrid with their schemas (integer keys bounded); info and
 *             caps; K and D from binary and categorical datasets; continuous data, mismatched dim, an
 *             absorbing kernel on a schedule that does not end in [MASK], and requests the family cannot
 *             serve are refused with messages that say why; d3pm_hybrid refuses other models.
 *   kernel    every Q_k (read off log P_B of one-step trajectories) has rows summing to 1 (the uniform
 *             one columns too: doubly stochastic) and equals (1-β)I + β/K 11ᵀ / the absorbing matrix with
 *             the test's own β = min(β̄ e^φ, 1 - 2^-20); the product Q_T ⋯ Q_k equals the closed form
 *             of ᾱ_k; the anchored draws and a NO_PF|NO_PB chain both follow that product.
 *   stepkl    on K = 3, D = 2, both kernels, every k = 0..T: P_F sums to 1 over all next states, and
 *             step_kl equals KL(q || P_F) by enumeration, with the posterior q(s_{k+1} | s_k, x) from Bayes'
 *             rule on the enumerated P_B masses and the product of the Q's.
 *   traj      log P_F / log P_B of sampled trajectories (forward, backward, partial, tempered, exploring)
 *             equal rescore; flags; forward draws follow the tempered / exploring per-coordinate P_F
 *             (30000 draws, 5 standard errors); refusals; a T = 100 walk without grad holds one step.
 *   absorbing s_1 is all-MASK in every backward trajectory and anchor, [MASK]s never unmask going
 *             noisier, x from P_F has none, log_pf[0] = log_pb[0] = log_pb at k = 1 = 0, unmasked
 *             coordinates stay under any temperature and explore 1; rescore agrees.
 *   elbo      (the done-when) kl_tb's full-trajectory negative ELBO, its one-step estimate,
 *             d3pm_hybrid with ce_weight 0 and the nll metric's -elbo agree within their errors on
 *             held-out rows, for both kernels and binary x; nll's Eq. 24 bound is below -elbo.
 *   grads     the one-step loss's gradient in θ and in φ (through the posterior), and log P_B's in φ,
 *             against central finite differences.
 *   tbc       Prop. 14 for the learned schedule: TBC's expected φ-gradient equals 4 ∇_φ KL(P_B || P_F),
 *             the KL by enumeration of every trajectory, differentiated by central differences; it is
 *             nonzero and finite; tbc trains φ a few steps next to kl_tb.
 *   e2e       the runner's training step (ug_experiment): kl_tb one_step and d3pm_hybrid (with CE) lower
 *             their losses and the held-out nll on test_cats; MLE-GFN with tbc moves φ.
 *
 * Usage: test_d3pm CASE (meson registers one test per case). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "plugin_harness.h"
#include "train_loop.h"
#include "unigfn/host/experiment.h"
#include "unigfn/host/step.h"

static ug_registry *REG;
static ug_error ERR;

#define BMAX (1.0 - 1.0 / 1048576.0)
#define MAXN 64 /* enumerated states of one index */

static ug_status open_quiet(tl_run *r, const char *dataset, const char *model, const char *objective) {
    char yaml[2048];
    snprintf(yaml, sizeof yaml,
             "seed: 4\ndataset: %s\nmodel: %s\nobjective: %s\n"
             "optim: {forward: {lr: 1.0e-3}, backward: {lr: 1.0e-3}}\ntrain: {steps: 1, batch: 64}\n",
             dataset, model, objective ? objective : "[{plugin: kl_tb, updates: [forward]}]");
    memset(&ERR, 0, sizeof ERR);
    return tl_open(r, REG, yaml, NULL, 0, &ERR);
}

static bool open_ok(tl_run *r, const char *dataset, const char *model, const char *objective) {
    ug_status st = open_quiet(r, dataset, model, objective);
    CHECK(st == UG_OK, "tl_open(%s): %s", model, ERR.msg);
    return st == UG_OK;
}

/* Add N(0, sd²) to every parameter of `group`. */
static void perturb(tl_run *r, const char *group, float sd, uint64_t seed) {
    int g = ug_params_group_index(r->P, group);
    if (g < 0) return;
    float *data;
    int64_t n;
    ug_params_group_info(r->P, g, NULL, &data, NULL, &n);
    float *e = malloc((size_t)n * sizeof *e);
    ug_rng rng = ug_rng_make(seed, 0);
    ug_rng_normal(&rng, e, n);
    for (int64_t i = 0; i < n; i++) data[i] += sd * e[i];
    free(e);
}

/* A random network and a learned β away from β̄. */
static void randomize(tl_run *r, uint64_t seed) {
    perturb(r, "forward", 0.3f, seed);
    perturb(r, "backward", 0.3f, seed + 1);
}

/* ---- the family's dimensions, as the test configures them ------------------------------------- */

typedef struct fam {
    int D, K, Ks, T;
    bool absorbing;
} fam;

static fam fam_of(tl_run *r, bool absorbing) {
    fam f = {.D = (int)r->model.info.space.dim, .K = (int)r->model.info.space.categories, .T = r->model.info.horizon - 1,
             .absorbing = absorbing};
    f.Ks = f.K + (absorbing ? 1 : 0);
    return f;
}

/* The codes a coordinate may hold at index i: x values at T+1, [MASK] alone at the absorbing s_1. */
static int codes_at(const fam *f, int i, int *c) {
    if (f->absorbing && i == 1) {
        c[0] = f->K;
        return 1;
    }
    int n = i == f->T + 1 ? f->K : f->Ks;
    for (int v = 0; v < n; v++) c[v] = v;
    return n;
}

/* The test's own schedule: Austin's cosine β̄ (our index), the learned β and ᾱ (ab[T+1] = 1). */
static void schedule(const fam *f, const float *phi, double *b, double *ab) {
    const int T = f->T;
    for (int t = 1; t <= T; t++) {
        double f0 = cos(((double)(t - 1) / T + 0.008) / 1.008 * M_PI / 2), f1 = cos(((double)t / T + 0.008) / 1.008 * M_PI / 2);
        double bb = fmin(1 - f1 / f0, 0.999);
        b[T + 1 - t] = fmin(bb * exp((double)phi[T - t]), BMAX);
    }
    if (f->absorbing) b[1] = 1;
    ab[T + 1] = 1;
    for (int k = T; k >= 1; k--) ab[k] = ab[k + 1] * (1 - b[k]);
}

/* log P_F and log P_B of the one-step trajectories s -> sp at index k (host rows [n, D]) by rescore. */
static bool rescore_step(tl_run *r, const float *s, const float *sp, int64_t n, int k, double *lpf, double *lpb) {
    const int64_t D = r->model.info.space.dim;
    ug_tensor *st[2] = {ug_from_f32(r->ctx, s, 2, (int64_t[]){n, D}), ug_from_f32(r->ctx, sp, 2, (int64_t[]){n, D})};
    ug_traj tr = {.size = sizeof tr, .batch = n, .start = k, .steps = 1, .states = st, .first = st[0], .last = st[1]};
    ug_status rc = r->model.vt->rescore(r->model.self, r->ctx, &tr, 0);
    CHECK(rc == UG_OK, "rescore at k %d: %s", k, ug_ctx_errmsg(r->ctx));
    if (rc) return false;
    float *v = malloc(sizeof(float) * (size_t)n);
    ug_tensor_get(r->ctx, tr.log_pf[0], v, n);
    for (int64_t i = 0; lpf && i < n; i++) lpf[i] = v[i];
    ug_tensor_get(r->ctx, tr.log_pb[0], v, n);
    for (int64_t i = 0; lpb && i < n; i++) lpb[i] = v[i];
    free(v);
    return true;
}

/* Q[k][j][i] = Q_k[j, i] = P_B(s_k = i | s_{k+1} = j) per coordinate, k = 1..T, from log P_B of
 * one-step trajectories whose D coordinates all hold (i, j) (log P_B / D). Invalid pairs stay 0. */
static void kernel_mats(tl_run *r, const fam *f, double Q[][8][8]) {
    int ci[8], cj[8];
    for (int k = 1; k <= f->T; k++) {
        memset(Q[k], 0, sizeof Q[k]);
        int ni = codes_at(f, k, ci), nj = codes_at(f, k + 1, cj), n = ni * nj;
        float *s = malloc(sizeof(float) * (size_t)(n * f->D)), *sp = malloc(sizeof(float) * (size_t)(n * f->D));
        double *lpb = malloc(sizeof(double) * (size_t)n);
        for (int a = 0; a < ni; a++)
            for (int c = 0; c < nj; c++)
                for (int d = 0; d < f->D; d++) s[(a * nj + c) * f->D + d] = (float)ci[a], sp[(a * nj + c) * f->D + d] = (float)cj[c];
        if (rescore_step(r, s, sp, n, k, NULL, lpb))
            for (int a = 0; a < ni; a++)
                for (int c = 0; c < nj; c++) Q[k][cj[c]][ci[a]] = exp(lpb[a * nj + c] / f->D);
        free(s), free(sp), free(lpb);
        ug_step_reset(r->ctx);
    }
}

/* Qb[k][x][i] = (Q_T ⋯ Q_k)[x, i] for k = 1..T+1 (Qb[T+1] = I on the x values). */
static void products(const fam *f, double Q[][8][8], double Qb[][8][8]) {
    memset(Qb[f->T + 1], 0, sizeof Qb[f->T + 1]);
    for (int x = 0; x < f->K; x++) Qb[f->T + 1][x][x] = 1;
    for (int k = f->T; k >= 1; k--)
        for (int x = 0; x < f->K; x++)
            for (int i = 0; i < f->Ks; i++) {
                double s = 0;
                for (int j = 0; j < f->Ks; j++) s += Qb[k + 1][x][j] * Q[k][j][i];
                Qb[k][x][i] = s;
            }
}

/* ---- schema ------------------------------------------------------------------------------------- */

static void test_schema(void) {
    const ug_plugin_ref *ref = ug_registry_find(REG, UG_KIND_MODEL, "d3pm");
    const ug_plugin_ref *hyb = ug_registry_find(REG, UG_KIND_OBJECTIVE, "d3pm_hybrid");
    CHECK(ref && hyb, "the loader finds model d3pm and objective d3pm_hybrid");
    if (!ref || !hyb) return;
    const char *want[] = {"steps", "kernel", "schedule", "beta_start", "beta_end", "hidden", "act", "temb", "pf_beta",
                          "dim", "categories"};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        const ug_param_spec *p = ref->desc->params;
        while (p->key && strcmp(p->key, want[i]) != 0) p++;
        CHECK(p->key != NULL && p->doc && *p->doc, "schema key %s with its help", want[i]);
        if (p->key && p->type == UG_P_INT) CHECK((p->flags & UG_P_MAX) != 0, "integer key %s has an upper bound", p->key);
    }
    CHECK(hyb->desc->params && strcmp(hyb->desc->params[0].key, "ce_weight") == 0, "d3pm_hybrid has ce_weight");
    printf("schema: %s — %s\nschema: %s — %s\n", ref->desc->name, ref->desc->summary, hyb->desc->name, hyb->desc->summary);

    tl_run r;
    /* binary: K = 2 and D = 32 from synthetic2d's Gray code */
    if (open_ok(&r, "{plugin: synthetic2d, data: checkerboard}", "{plugin: d3pm, steps: 7, hidden: [8], temb: 4}", NULL)) {
        const ug_model_info *mi = &r.model.info;
        CHECK(mi->horizon == 8 && !mi->deterministic_pb && !mi->variable_length && mi->space.kind == UG_SPACE_BINARY &&
                  mi->space.dim == 32 && mi->space.categories == 2,
              "info on gray32: horizon %d kind %u D %lld K %lld", mi->horizon, mi->space.kind, (long long)mi->space.dim,
              (long long)mi->space.categories);
        CHECK(mi->caps == (UG_CAP_PARTIAL | UG_CAP_ANCHOR | UG_CAP_STEP_KL), "caps 0x%x", mi->caps);
        ug_tensor *w0 = ug_params_find(r.P, "forward", "x0.0.w"), *phi = ug_params_find(r.P, "backward", "phi");
        CHECK(w0 && w0->shape[1] == 64 + 4 && phi && ug_numel(phi) == 7, "one-hot input 32 x 2 + temb 4; phi [T]");
        /* requests the family refuses */
        ug_ctx *ctx = r.ctx;
        ug_rng rng = ug_rng_make(1, 1);
        ug_traj t = {.size = sizeof t};
        ug_traj_req q = {.size = sizeof q, .batch = 4, .steps = -1, .flags = UG_TRAJ_REPARAM};
        CHECK(r.model.vt->sample_forward(r.model.self, ctx, &rng, &q, &t) == UG_ERR_UNSUPPORTED, "forward REPARAM refused");
        ug_ctx_clear_error(ctx);
        q.flags = UG_TRAJ_ANCHOR;
        CHECK(r.model.vt->sample_forward(r.model.self, ctx, &rng, &q, &t) == UG_ERR_ARG, "forward ANCHOR refused");
        ug_ctx_clear_error(ctx);
        q.flags = 0, q.explore = 1.5f;
        CHECK(r.model.vt->sample_forward(r.model.self, ctx, &rng, &q, &t) == UG_ERR_ARG, "explore 1.5 refused");
        ug_ctx_clear_error(ctx);
        q.explore = 0, q.temperature = -1;
        CHECK(r.model.vt->sample_forward(r.model.self, ctx, &rng, &q, &t) == UG_ERR_ARG, "temperature -1 refused");
        ug_ctx_clear_error(ctx);
        q.temperature = 0, q.steps = 9;
        CHECK(r.model.vt->sample_forward(r.model.self, ctx, &rng, &q, &t) == UG_ERR_ARG, "9 steps refused");
        ug_ctx_clear_error(ctx);
        ug_tensor *x = ug_zeros(ctx, 2, (int64_t[]){4, 32});
        ug_traj_req b = {.size = sizeof b, .start = x, .start_index = 8, .steps = -1, .flags = UG_TRAJ_REPARAM};
        CHECK(r.model.vt->sample_backward(r.model.self, ctx, &rng, &b, &t) == UG_ERR_UNSUPPORTED, "backward REPARAM refused");
        ug_ctx_clear_error(ctx);
        b.flags = UG_TRAJ_ANCHOR;
        CHECK(r.model.vt->sample_backward(r.model.self, ctx, &rng, &b, &t) == UG_ERR_ARG, "anchor without row_index refused");
        ug_ctx_clear_error(ctx);
        b.flags = 0;
        ug_f32(x)[37] = 2.0f;
        CHECK(r.model.vt->sample_backward(r.model.self, ctx, &rng, &b, &t) == UG_ERR_ARG &&
                  strstr(ug_ctx_errmsg(ctx), "row 1 column 5 holds 2"), "value 2 in binary x: %s", ug_ctx_errmsg(ctx));
        printf("schema: refused: %s\n", ug_ctx_errmsg(ctx));
        ug_ctx_clear_error(ctx);
        ug_f32(x)[37] = 0.5f;
        b.start_index = 3;
        CHECK(r.model.vt->sample_backward(r.model.self, ctx, &rng, &b, &t) == UG_ERR_ARG, "a code 0.5 refused");
        ug_ctx_clear_error(ctx);
        ug_f32(x)[37] = 0.0f;
        ug_traj bad = {.size = sizeof bad, .batch = 4, .start = 0, .steps = 2, .first = x, .last = x};
        CHECK(r.model.vt->rescore(r.model.self, ctx, &bad, 0) == UG_ERR_ARG && strstr(ug_ctx_errmsg(ctx), "KEEP_STATES"),
              "rescore without states refused: %s", ug_ctx_errmsg(ctx));
        ug_ctx_clear_error(ctx);
        tl_close(&r);
    }
    /* categorical: K from the dataset; absorbing adds the [MASK] code to the inputs */
    if (open_ok(&r, "{plugin: test_cats, dim: 5, categories: 4}",
                "{plugin: d3pm, steps: 5, kernel: absorbing, schedule: jsd, hidden: [8], temb: 4}", NULL)) {
        const ug_model_info *mi = &r.model.info;
        ug_tensor *w0 = ug_params_find(r.P, "forward", "x0.0.w"), *w1 = ug_params_find(r.P, "forward", "x0.1.w");
        CHECK(mi->space.kind == UG_SPACE_CATEGORICAL && mi->space.dim == 5 && mi->space.categories == 4 && mi->horizon == 6,
              "info on test_cats: kind %u D %lld K %lld", mi->space.kind, (long long)mi->space.dim, (long long)mi->space.categories);
        CHECK(w0 && w0->shape[1] == 5 * 5 + 4 && w1 && w1->shape[0] == 5 * 4, "inputs 5 x (4 + [MASK]) + 4, outputs 5 x 4");
        ug_ctx *ctx = r.ctx;
        ug_rng rng = ug_rng_make(1, 1);
        ug_traj t = {.size = sizeof t};
        ug_tensor *s = ug_full(ctx, 2, (int64_t[]){2, 5}, 4.0f);  // all-MASK
        ug_traj_req q = {.size = sizeof q, .start = s, .start_index = 6, .steps = -1};
        CHECK(r.model.vt->sample_backward(r.model.self, ctx, &rng, &q, &t) == UG_ERR_ARG && strstr(ug_ctx_errmsg(ctx), "want a value"),
              "[MASK] in x refused: %s", ug_ctx_errmsg(ctx));
        ug_ctx_clear_error(ctx);
        q.start_index = 3;
        CHECK(r.model.vt->sample_backward(r.model.self, ctx, &rng, &q, &t) == UG_OK, "[MASK] at index 3 taken");
        ug_f32(s)[2] = 1.0f;
        q.start_index = 1;
        CHECK(r.model.vt->sample_backward(r.model.self, ctx, &rng, &q, &t) == UG_ERR_ARG && strstr(ug_ctx_errmsg(ctx), "[MASK]"),
              "an unmasked s_1 refused: %s", ug_ctx_errmsg(ctx));
        ug_ctx_clear_error(ctx);
        tl_close(&r);
    }
    struct {
        const char *dataset, *model, *objective, *needle;
    } bad[] = {
        {"{plugin: synthetic2d, data: moons, encoding: continuous}", "{plugin: d3pm}", NULL, "continuous"},
        {"{plugin: synthetic2d, data: moons}", "{plugin: d3pm, dim: 16}", NULL, "disagree"},
        {"{plugin: test_cats, categories: 3}", "{plugin: d3pm, categories: 5}", NULL, "disagree"},
        {"{plugin: none}", "{plugin: d3pm}", NULL, "give dim and categories"},
        {"{plugin: none}", "{plugin: d3pm, dim: 3, categories: 3, kernel: absorbing, schedule: linear, beta_end: 0.5}", NULL,
         "absorbing"},
        {"{plugin: none}", "{plugin: gauss_chain, dim: 2, steps: 3}", "[{plugin: d3pm_hybrid, updates: [forward]}]",
         "needs the model 'd3pm'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ug_status st = open_quiet(&r, bad[i].dataset, bad[i].model, bad[i].objective);
        CHECK(st != UG_OK && strstr(ERR.msg, bad[i].needle), "%s on %s refused with '%s': %s", bad[i].model, bad[i].dataset,
              bad[i].needle, ERR.msg);
        if (st == UG_OK) tl_close(&r);
        else printf("schema: refused %s: %s\n", bad[i].model, ERR.msg);
    }
}

/* ---- kernel ------------------------------------------------------------------------------------- */

static void kernel_case(bool absorbing) {
    const char *label = absorbing ? "absorbing" : "uniform";
    char model[256];
    snprintf(model, sizeof model, "{plugin: d3pm, dim: 4, categories: 3, steps: 6, kernel: %s, hidden: [8], temb: 4}", label);
    tl_run r;
    if (!open_ok(&r, "{plugin: none}", model, NULL)) return;
    randomize(&r, 7);
    fam f = fam_of(&r, absorbing);
    const int T = f.T;
    double Q[8][8][8], Qb[9][8][8], b[9], ab[9];
    bool g = ug_set_grad_enabled(r.ctx, false);
    schedule(&f, ug_f32(ug_params_find(r.P, "backward", "phi")), b, ab);
    kernel_mats(&r, &f, Q);
    double rows = 0, cols = 0, form = 0;
    int ci[8], cj[8];
    for (int k = 1; k <= T; k++) {
        int ni = codes_at(&f, k, ci), nj = codes_at(&f, k + 1, cj);
        for (int c = 0; c < nj; c++) {
            double s = 0;
            for (int a = 0; a < ni; a++) s += Q[k][cj[c]][ci[a]];
            rows = fmax(rows, fabs(s - 1));
        }
        if (!absorbing)
            for (int a = 0; a < ni; a++) {
                double s = 0;
                for (int c = 0; c < nj; c++) s += Q[k][cj[c]][ci[a]];
                cols = fmax(cols, fabs(s - 1));
            }
        /* the test's own matrix */
        for (int c = 0; c < nj; c++)
            for (int a = 0; a < ni; a++) {
                int i = ci[a], j = cj[c];
                double want;
                if (!absorbing) want = (i == j ? 1 - b[k] : 0) + b[k] / f.K;
                else if (j == f.K) want = i == f.K;
                else want = i == j ? 1 - b[k] : i == f.K ? b[k] : 0;
                form = fmax(form, fabs(Q[k][j][i] - want));
            }
    }
    printf("kernel %s: T = %d, K = %d: max |row sum - 1| %.2g, max |column sum - 1| %.2g, max |Q - formula| %.2g\n", label,
           T, f.K, rows, cols, form);
    CHECK(rows < 1e-5 && cols < 1e-5, "%s: Q_k is stochastic (rows %g, columns %g)", label, rows, cols);
    CHECK(form < 1e-5, "%s: Q_k matches (1-beta) I + ... with the test's beta (%g)", label, form);

    /* the product Q_T ⋯ Q_k against the closed form with the test's ᾱ_k */
    products(&f, Q, Qb);
    double pr = 0;
    for (int k = 1; k <= T; k++)
        for (int x = 0; x < f.K; x++)
            for (int i = 0; i < f.Ks; i++) {
                double want = absorbing ? (i == x ? ab[k] : i == f.K ? 1 - ab[k] : 0) : (i == x ? ab[k] : 0) + (1 - ab[k]) / f.K;
                pr = fmax(pr, fabs(Qb[k][x][i] - want));
            }
    printf("kernel %s: max |Q_T...Q_k - closed form with alpha_bar_k| %.2g (alpha_bar_1 %.3g, alpha_bar_T %.3g)\n", label, pr,
           ab[1], ab[T]);
    CHECK(pr < 1e-5, "%s: the product of the Q's is the closed-form marginal (%g)", label, pr);

    /* anchored draws and a NO_PF|NO_PB chain: frequencies of s_k given x against the product */
    const int N = 3000;
    const int64_t D = f.D, B = (int64_t)f.K * T * N;
    float *xh = malloc(sizeof(float) * (size_t)(B * D)), *sv = malloc(sizeof(float) * (size_t)(B * D));
    int32_t *kh = malloc(sizeof(int32_t) * (size_t)B);
    for (int64_t row = 0; row < B; row++) {
        int x = (int)(row / ((int64_t)T * N)), k = 1 + (int)(row / N % T);
        for (int d = 0; d < D; d++) xh[row * D + d] = (float)x;
        kh[row] = k;
    }
    ug_rng rng = ug_rng_make(17, 0);
    ug_traj ta = {.size = sizeof ta};
    ug_traj_req ra = {.size = sizeof ra, .start = ug_from_f32(r.ctx, xh, 2, (int64_t[]){B, D}), .start_index = T + 1,
                      .steps = 0, .flags = UG_TRAJ_ANCHOR, .row_index = ug_from_i32(r.ctx, kh, 1, &B)};
    CHECK(r.model.vt->sample_backward(r.model.self, r.ctx, &rng, &ra, &ta) == UG_OK && ta.steps == 0 && ta.start == -1,
          "anchor: %s", ug_ctx_errmsg(r.ctx));
    ug_tensor_get(r.ctx, ta.last, sv, B * D);
    double worst = 0;
    int bad = 0;
    for (int x = 0; x < f.K; x++)
        for (int k = 1; k <= T; k++) {
            double cnt[8] = {0};
            for (int64_t row = ((int64_t)x * T + k - 1) * N, e = row + N; row < e; row++)
                for (int d = 0; d < D; d++) cnt[(int)sv[row * D + d]] += 1.0 / (N * D);
            for (int i = 0; i < f.Ks; i++) {
                double p = Qb[k][x][i], se = sqrt(fmax(p * (1 - p), 1e-6) / (N * D));
                worst = fmax(worst, fabs(cnt[i] - p) / se);
                bad += fabs(cnt[i] - p) > 5 * se;
            }
        }
    printf("kernel %s: anchored s_k | x over %d draws a cell: worst %.2f se from Q_T...Q_k\n", label, N * (int)D, worst);
    CHECK(bad == 0, "%s: anchored frequencies within 5 se of the product (worst %.2f se)", label, worst);
    /* the chain: one full backward walk per row gives s_k for every k */
    const int64_t Bc = (int64_t)f.K * N;
    ug_traj tc = {.size = sizeof tc};
    float *xc = malloc(sizeof(float) * (size_t)(Bc * D));
    for (int64_t row = 0; row < Bc; row++)
        for (int d = 0; d < D; d++) xc[row * D + d] = (float)(row / N);
    ug_traj_req rc = {.size = sizeof rc, .start = ug_from_f32(r.ctx, xc, 2, (int64_t[]){Bc, D}), .start_index = T + 1,
                      .steps = -1, .flags = UG_TRAJ_KEEP_STATES | UG_TRAJ_NO_PF | UG_TRAJ_NO_PB};
    CHECK(r.model.vt->sample_backward(r.model.self, r.ctx, &rng, &rc, &tc) == UG_OK && tc.states, "chain: %s",
          ug_ctx_errmsg(r.ctx));
    worst = 0, bad = 0;
    for (int k = 1; k <= T && tc.states; k++) {
        ug_tensor_get(r.ctx, tc.states[k], sv, Bc * D);
        for (int x = 0; x < f.K; x++) {
            double cnt[8] = {0};
            for (int64_t row = (int64_t)x * N; row < (int64_t)(x + 1) * N; row++)
                for (int d = 0; d < D; d++) cnt[(int)sv[row * D + d]] += 1.0 / (N * D);
            for (int i = 0; i < f.Ks; i++) {
                double p = Qb[k][x][i], se = sqrt(fmax(p * (1 - p), 1e-6) / (N * D));
                worst = fmax(worst, fabs(cnt[i] - p) / se);
                bad += fabs(cnt[i] - p) > 5 * se;
            }
        }
    }
    printf("kernel %s: chain s_k | x: worst %.2f se from Q_T...Q_k\n", label, worst);
    CHECK(bad == 0, "%s: chain frequencies within 5 se of the product (worst %.2f se)", label, worst);
    ug_set_grad_enabled(r.ctx, g);
    free(xh), free(sv), free(kh), free(xc);
    tl_close(&r);
}

static void test_kernel(void) {
    kernel_case(false);
    kernel_case(true);
}

/* ---- stepkl ------------------------------------------------------------------------------------- */

/* All states of index i as rows [n, D] (coordinate 0 slowest); returns n. */
static int states_at(const fam *f, int i, float *out) {
    int c[8], nc = codes_at(f, i, c), n = 1;
    for (int d = 0; d < f->D; d++) n *= nc;
    for (int s = 0; s < n; s++)
        for (int d = f->D - 1, v = s; d >= 0; d--, v /= nc) out[s * f->D + d] = (float)c[v % nc];
    return n;
}

static void stepkl_case(bool absorbing) {
    const char *label = absorbing ? "absorbing" : "uniform";
    char model[256];
    snprintf(model, sizeof model, "{plugin: d3pm, dim: 2, categories: 3, steps: 4, kernel: %s, hidden: [16], temb: 4}", label);
    tl_run r;
    if (!open_ok(&r, "{plugin: none}", model, NULL)) return;
    randomize(&r, 9);
    fam f = fam_of(&r, absorbing);
    const int T = f.T, D = f.D;
    double Q[8][8][8], Qb[9][8][8];
    bool g = ug_set_grad_enabled(r.ctx, false);
    kernel_mats(&r, &f, Q);
    products(&f, Q, Qb);
    /* rows: every x, every k = 0..T, two s_k drawn from the anchor */
    const int R = 2, nx = f.K * f.K;
    const int64_t B = (int64_t)nx * (T + 1) * R;
    float *xh = malloc(sizeof(float) * (size_t)(B * D)), *sh = malloc(sizeof(float) * (size_t)(B * D));
    int32_t *kh = malloc(sizeof(int32_t) * (size_t)B);
    for (int64_t row = 0; row < B; row++) {
        int x = (int)(row / ((T + 1) * R)), k = (int)(row / R % (T + 1));
        xh[row * D] = (float)(x / f.K), xh[row * D + 1] = (float)(x % f.K);
        kh[row] = k;
    }
    ug_rng rng = ug_rng_make(23, 0);
    ug_tensor *x = ug_from_f32(r.ctx, xh, 2, (int64_t[]){B, D}), *k = ug_from_i32(r.ctx, kh, 1, &B);
    ug_traj ta = {.size = sizeof ta};
    ug_traj_req ra = {.size = sizeof ra, .start = x, .start_index = T + 1, .steps = 0, .flags = UG_TRAJ_ANCHOR, .row_index = k};
    CHECK(r.model.vt->sample_backward(r.model.self, r.ctx, &rng, &ra, &ta) == UG_OK, "anchor: %s", ug_ctx_errmsg(r.ctx));
    ug_tensor_get(r.ctx, ta.last, sh, B * D);
    ug_tensor *kl = r.model.vt->step_kl(r.model.self, r.ctx, x, ta.last, k);
    CHECK(kl != NULL, "step_kl: %s", ug_ctx_errmsg(r.ctx));
    if (!kl) return;
    float *klh = malloc(sizeof(float) * (size_t)B);
    ug_tensor_get(r.ctx, kl, klh, B);
    /* brute force row by row */
    float nxt[MAXN * 2], cur[MAXN * 2];
    double lpf[MAXN], lpb[MAXN], worst = 0, norm = 0, kmin = INFINITY, kmax = 0;
    for (int64_t row = 0; row < B; row++) {
        int kk = kh[row], xv[2] = {(int)xh[row * D], (int)xh[row * D + 1]};
        int n = states_at(&f, kk + 1, nxt);  // every next state s_{k+1}
        for (int i = 0; i < n; i++) cur[i * D] = sh[row * D], cur[i * D + 1] = sh[row * D + 1];
        if (!rescore_step(&r, cur, nxt, n, kk, lpf, lpb)) break;
        ug_step_reset(r.ctx);
        double sum_pf = 0, q[MAXN], zq = 0;
        for (int i = 0; i < n; i++) {
            sum_pf += exp(lpf[i]);
            /* Bayes: q(s' | s_k, x) ∝ P_B(s_k | s') P_B(s' | x); at the root P_B(s_1 | x) alone */
            double pbx = 1;
            for (int d = 0; d < D; d++) pbx *= Qb[kk + 1][xv[d]][(int)nxt[i * D + d]];
            double pb = 1;
            if (kk > 0)
                for (int d = 0; d < D; d++) pb *= Q[kk][(int)nxt[i * D + d]][(int)sh[row * D + d]];
            q[i] = pb * pbx;
            zq += q[i];
        }
        double want = 0;
        for (int i = 0; i < n; i++)
            if (q[i] > 0) want += q[i] / zq * (log(q[i] / zq) - lpf[i]);
        norm = fmax(norm, fabs(sum_pf - 1));
        worst = fmax(worst, fabs(want - klh[row]) / fmax(1, fabs(want)));
        kmin = fmin(kmin, want), kmax = fmax(kmax, want);
        if (fabs(want - klh[row]) > 2e-4 * fmax(1, fabs(want)))
            CHECK(false, "%s: row %lld k %d x (%d, %d) s (%g, %g): step_kl %.6f, enumeration %.6f", label, (long long)row, kk,
                  xv[0], xv[1], (double)sh[row * D], (double)sh[row * D + 1], (double)klh[row], want);
    }
    printf("stepkl %s: %lld rows, k = 0..%d: max |sum P_F - 1| %.2g; step_kl vs KL(q || P_F) by enumeration (q by Bayes): "
           "worst relative error %.2g over values %.4f .. %.4f\n", label, (long long)B, T, norm, worst, kmin, kmax);
    CHECK(norm < 1e-5, "%s: P_F sums to 1 over the next states (%g)", label, norm);
    CHECK(kmax > 0.05, "%s: the KLs are not trivially 0 (max %g)", label, kmax);
    ug_set_grad_enabled(r.ctx, g);
    free(xh), free(sh), free(kh), free(klh);
    tl_close(&r);
}

static void test_stepkl(void) {
    stepkl_case(false);
    stepkl_case(true);
}

/* ---- traj --------------------------------------------------------------------------------------- */

/* Σ of a trajectory's log P_F - log P_B into w [B]. */
static bool weights(ug_ctx *ctx, const ug_traj *tr, double *w) {
    float *v = malloc(sizeof(float) * (size_t)tr->batch);
    bool ok = true;
    for (int64_t b = 0; b < tr->batch; b++) w[b] = 0;
    for (int t = 0; t < tr->steps && ok; t++) {
        for (int pf = 0; pf < 2 && ok; pf++) {
            ug_tensor *x = pf ? tr->log_pf[t] : tr->log_pb[t];
            ok = x && ug_tensor_get(ctx, x, v, tr->batch) == UG_OK;
            for (int64_t b = 0; ok && b < tr->batch; b++) w[b] += pf ? v[b] : -v[b];
        }
    }
    free(v);
    CHECK(ok, "trajectory terms: %s", ug_ctx_errmsg(ctx));
    return ok;
}

/* rescore of a kept-states trajectory reproduces its terms; returns the worst difference. */
static double rescore_diff(tl_run *r, const ug_traj *tr) {
    int64_t B = tr->batch;
    double *w0 = malloc(sizeof(double) * (size_t)B), *w1 = malloc(sizeof(double) * (size_t)B), worst = INFINITY;
    ug_traj re = *tr;
    re.log_pf = re.log_pb = NULL;
    if (weights(r->ctx, tr, w0) && r->model.vt->rescore(r->model.self, r->ctx, &re, 0) == UG_OK && weights(r->ctx, &re, w1)) {
        worst = 0;
        for (int64_t b = 0; b < B; b++) worst = fmax(worst, fabs(w0[b] - w1[b]));
    }
    CHECK(isfinite(worst), "rescore: %s", ug_ctx_errmsg(r->ctx));
    free(w0), free(w1);
    return worst;
}

static ug_status fwd(tl_run *r, ug_rng *rng, int64_t B, ug_tensor *start, int i0, int steps, uint32_t flags, float temp,
                     float explore, ug_traj *tr) {
    ug_traj_req req = {.size = sizeof req, .batch = B, .start = start, .start_index = i0, .steps = steps, .flags = flags,
                       .temperature = temp, .explore = explore};
    *tr = (ug_traj){.size = sizeof *tr};
    return r->model.vt->sample_forward(r->model.self, r->ctx, rng, &req, tr);
}

static ug_status bwd(tl_run *r, ug_rng *rng, ug_tensor *start, int j, int steps, uint32_t flags, ug_traj *tr) {
    ug_traj_req req = {.size = sizeof req, .start = start, .start_index = j, .steps = steps, .flags = flags};
    *tr = (ug_traj){.size = sizeof *tr};
    return r->model.vt->sample_backward(r->model.self, r->ctx, rng, &req, tr);
}


/* States of a trajectory whose codes break the test's rule for their index (codes_at). */
static int64_t invalid_codes(tl_run *r, const fam *f, const ug_traj *tr) {
    int64_t B = tr->batch, bad = 0;
    float *v = malloc(sizeof(float) * (size_t)(B * f->D));
    for (int t = 0; t <= tr->steps; t++) {
        int i = tr->start + t, c[8], nc = codes_at(f, i, c);
        if (i == 0) continue;  // the root is never read
        ug_tensor_get(r->ctx, tr->states[t], v, B * f->D);
        for (int64_t e = 0; e < B * f->D; e++) {
            bool ok = false;
            for (int j = 0; j < nc; j++) ok = ok || v[e] == (float)c[j];
            bad += !ok;
        }
    }
    free(v);
    return bad;
}

/* Sampled terms equal rescore for full, partial, tempered and exploring trajectories; flags. */
static void traj_checks(tl_run *r, const fam *f, const char *label) {
    ug_ctx *ctx = r->ctx;
    const int n = f->T + 1;
    const int64_t B = 256;
    ug_rng rng = ug_rng_make(31, 0);
    ug_traj tf, tb, tt, tp, tq;
    bool g = ug_set_grad_enabled(ctx, false);
    CHECK(fwd(r, &rng, B, NULL, 0, -1, UG_TRAJ_KEEP_STATES, 0, 0, &tf) == UG_OK && tf.states && tf.start == 0 && tf.steps == n &&
              tf.last == tf.states[n], "%s forward: %s", label, ug_ctx_errmsg(ctx));
    if (!tf.states) return;
    double d_f = rescore_diff(r, &tf);
    CHECK(bwd(r, &rng, tf.last, n, -1, UG_TRAJ_KEEP_STATES, &tb) == UG_OK && tb.start == 0 && tb.steps == n && tb.states,
          "%s backward: %s", label, ug_ctx_errmsg(ctx));
    double d_b = tb.states ? rescore_diff(r, &tb) : INFINITY;
    CHECK(fwd(r, &rng, B, NULL, 0, -1, UG_TRAJ_KEEP_STATES, 2.0f, 0.3f, &tt) == UG_OK, "%s tempered: %s", label, ug_ctx_errmsg(ctx));
    double d_t = tt.states ? rescore_diff(r, &tt) : INFINITY;
    /* partial: 3 steps back from x, then 3 steps forward from there */
    CHECK(bwd(r, &rng, tf.last, n, 3, UG_TRAJ_KEEP_STATES, &tp) == UG_OK && tp.start == n - 3 && tp.steps == 3 &&
              tp.last == tf.last, "%s partial backward: %s", label, ug_ctx_errmsg(ctx));
    double d_p = tp.states ? rescore_diff(r, &tp) : INFINITY;
    CHECK(tp.first && fwd(r, &rng, 0, tp.first, n - 3, 3, UG_TRAJ_KEEP_STATES, 0, 0, &tq) == UG_OK && tq.start == n - 3 &&
              tq.steps == 3, "%s partial forward: %s", label, ug_ctx_errmsg(ctx));
    double d_q = tq.states ? rescore_diff(r, &tq) : INFINITY;
    int64_t bad = invalid_codes(r, f, &tf) + invalid_codes(r, f, &tb) + invalid_codes(r, f, &tt) + invalid_codes(r, f, &tq);
    printf("traj %s: rescore vs sampled log P_F - log P_B, worst |difference|: forward %.2g, backward %.2g, tempered and "
           "exploring %.2g, partial backward %.2g, partial forward %.2g; invalid codes %lld\n", label, d_f, d_b, d_t, d_p, d_q,
           (long long)bad);
    CHECK(d_f < 1e-4 && d_b < 1e-4 && d_t < 1e-4 && d_p < 1e-4 && d_q < 1e-4, "%s: rescore reproduces the sampled terms", label);
    CHECK(bad == 0, "%s: every state holds codes valid for its index (%lld bad)", label, (long long)bad);
    /* flags: NO_PF / NO_PB leave those terms out */
    ug_traj tn;
    CHECK(fwd(r, &rng, 8, NULL, 0, -1, UG_TRAJ_NO_PF, 0, 0, &tn) == UG_OK && !tn.log_pf[1] && tn.log_pb[1] && !tn.states,
          "%s: NO_PF", label);
    CHECK(bwd(r, &rng, ug_slice(ctx, tf.last, 0, 0, 8), n, -1, UG_TRAJ_NO_PB, &tn) == UG_OK && tn.log_pf[1] && !tn.log_pb[1],
          "%s: NO_PB", label);
    ug_set_grad_enabled(ctx, g);
    ug_step_reset(ctx);
}

/* One forward step from N copies of the state s0 (index k), tempered and exploring: per-coordinate
 * frequencies against P_F's marginals from the enumerated one-step masses. D = 2. */
static void sampling_case(tl_run *r, const fam *f, const float *s0, int k, const char *label) {
    enum { N = 30000 };
    const int D = f->D;
    float nxt[MAXN * 2], cur[MAXN * 2];
    double lpf[MAXN], mu[2][8] = {{0}};
    int n = states_at(f, k + 1, nxt);
    for (int i = 0; i < n; i++) cur[i * D] = s0[0], cur[i * D + 1] = s0[1];
    bool g = ug_set_grad_enabled(r->ctx, false);
    if (!rescore_step(r, cur, nxt, n, k, lpf, NULL)) return;
    for (int i = 0; i < n; i++)
        for (int d = 0; d < D; d++) mu[d][(int)nxt[i * D + d]] += exp(lpf[i]);
    float *st = malloc(sizeof(float) * N * 2), *v = malloc(sizeof(float) * N * 2);
    for (int i = 0; i < N; i++) st[i * 2] = s0[0], st[i * 2 + 1] = s0[1];
    const float temps[3] = {1.0f, 0.5f, 2.0f}, expl[3] = {0.0f, 0.0f, 0.3f};
    ug_rng rng = ug_rng_make(41, 0);
    for (int c = 0; c < 3; c++) {
        ug_traj tr;
        ug_tensor *s = ug_from_f32(r->ctx, st, 2, (int64_t[]){N, 2});
        CHECK(fwd(r, &rng, 0, s, k, 1, 0, temps[c], expl[c], &tr) == UG_OK, "%s: forward step: %s", label, ug_ctx_errmsg(r->ctx));
        ug_tensor_get(r->ctx, tr.last, v, N * 2);
        double worst = 0;
        int bad = 0;
        for (int d = 0; d < D; d++) {
            double p[8], z = 0, cnt[8] = {0};
            int supp = 0;
            for (int j = 0; j < f->Ks; j++) {
                p[j] = mu[d][j] > 1e-30 ? pow(mu[d][j], 1.0 / temps[c]) : 0;
                z += p[j], supp += mu[d][j] > 1e-30;
            }
            for (int i = 0; i < N; i++) cnt[(int)v[i * 2 + d]] += 1.0 / N;
            for (int j = 0; j < f->Ks; j++) {
                double want = (1 - expl[c]) * p[j] / z + (mu[d][j] > 1e-30 ? expl[c] / supp : 0);
                double se = sqrt(fmax(want * (1 - want), 1e-8) / N);
                worst = fmax(worst, fabs(cnt[j] - want) / se);
                bad += fabs(cnt[j] - want) > 5 * se;
            }
        }
        printf("sampling %s: k = %d from (%g, %g), temperature %.1f, explore %.1f: P_F marginals (%.3f %.3f %.3f | %.3f %.3f %.3f%s), "
               "worst %.2f se\n", label, k, (double)s0[0], (double)s0[1], (double)temps[c], (double)expl[c], mu[0][0], mu[0][1],
               mu[0][2], mu[1][0], mu[1][1], mu[1][2], f->Ks > 3 ? " ..." : "", worst);
        CHECK(bad == 0, "%s: temperature %g explore %g: frequencies within 5 se (worst %.2f)", label, (double)temps[c],
              (double)expl[c], worst);
        ug_step_reset(r->ctx);
    }
    ug_set_grad_enabled(r->ctx, g);
    free(st), free(v);
}

/* Peak arena bytes of a forward walk without grad on a fresh context. */
static size_t peak_of(tl_run *r, int steps, int64_t B) {
    ug_ctx *ctx = ug_ctx_new(1u << 20);
    ug_set_threads(ctx, 1);
    ug_set_grad_enabled(ctx, false);
    ug_rng rng = ug_rng_make(3, 0);
    ug_traj tr = {.size = sizeof tr};
    ug_traj_req req = {.size = sizeof req, .batch = B, .steps = steps};
    ug_status st = r->model.vt->sample_forward(r->model.self, ctx, &rng, &req, &tr);
    CHECK(st == UG_OK && tr.steps == steps, "forward %d steps: %s", steps, ug_ctx_errmsg(ctx));
    size_t peak = ug_arena_peak(ctx);
    ug_ctx_free(ctx);
    return peak;
}

static void test_traj(void) {
    tl_run r;
    if (open_ok(&r, "{plugin: test_cats, dim: 3, categories: 3}", "{plugin: d3pm, steps: 6, hidden: [16], temb: 4}", NULL)) {
        randomize(&r, 11);
        fam f = fam_of(&r, false);
        traj_checks(&r, &f, "uniform");
        tl_close(&r);
    }
    if (open_ok(&r, "{plugin: none}", "{plugin: d3pm, dim: 2, categories: 3, steps: 6, hidden: [16], temb: 4}", NULL)) {
        randomize(&r, 12);
        fam f = fam_of(&r, false);
        const float s0[2] = {0, 2};
        sampling_case(&r, &f, s0, 3, "uniform");
        tl_close(&r);
    }
    if (open_ok(&r, "{plugin: none}", "{plugin: d3pm, dim: 3, categories: 3, steps: 100, hidden: [16], temb: 4}", NULL)) {
        /* the walk keeps its results, log P_F and log P_B ([B] floats each) a step; a step's activations
         * (one-hot inputs, hidden layers, [B, D, Ks] tables) are many times that and must not pile up */
        const int64_t B = 2000;
        size_t p2 = peak_of(&r, 2, B), p101 = peak_of(&r, 101, B);
        double per = ((double)p101 - (double)p2) / 99, kept = 2.0 * B * sizeof(float);
        printf("traj: arena peak of a forward walk at batch %lld without grad: 2 steps %.2f MB, 101 steps %.2f MB: %.0f bytes "
               "a step for %.0f bytes of results a step (one step's peak %.0f bytes)\n", (long long)B, p2 / 1e6, p101 / 1e6, per,
               kept, (double)p2 / 2);
        CHECK(per < 1.2 * kept + 2048, "a scoped walk grows by its results only (%.0f bytes a step)", per);
        tl_close(&r);
    }
}

/* ---- absorbing ---------------------------------------------------------------------------------- */

static void test_absorbing(void) {
    tl_run r;
    if (!open_ok(&r, "{plugin: test_cats, dim: 4, categories: 3}",
                 "{plugin: d3pm, steps: 8, kernel: absorbing, schedule: jsd, hidden: [16], temb: 4}", NULL))
        return;
    randomize(&r, 13);
    fam f = fam_of(&r, true);
    const int n = f.T + 1, D = f.D;
    const float M = (float)f.K;
    const int64_t B = 512;
    ug_ctx *ctx = r.ctx;
    bool g = ug_set_grad_enabled(ctx, false);
    ug_rng rng = ug_rng_make(51, 0);
    ug_tensor *x = NULL;
    CHECK(r.data.vt->heldout(r.data.self, ctx, 0, B, &x) == UG_OK && x, "heldout");
    float *a = malloc(sizeof(float) * (size_t)(B * D)), *c = malloc(sizeof(float) * (size_t)(B * D)), *v = malloc(sizeof(float) * B);
    /* backward: x -> ... -> s_1 = all-MASK; going noisier a coordinate keeps its value or becomes [MASK], and stays so */
    ug_traj tb;
    CHECK(bwd(&r, &rng, x, n, -1, UG_TRAJ_KEEP_STATES, &tb) == UG_OK && tb.states, "backward: %s", ug_ctx_errmsg(ctx));
    int64_t not_mask = 0, bad_b = 0, masked_mid = 0;
    for (int k = n; k >= 1 && tb.states; k--) {
        ug_tensor_get(ctx, tb.states[k], a, B * D);
        ug_tensor_get(ctx, tb.states[k - 1], c, B * D);
        for (int64_t e = 0; e < B * D && k > 1; e++) {
            bad_b += !(c[e] == a[e] || c[e] == M);
            masked_mid += k == 5 && c[e] == M;
        }
        if (k == 1)
            for (int64_t e = 0; e < B * D; e++) not_mask += a[e] != M;
    }
    double zf = 0, zb = 0, zb1 = 0;
    ug_tensor_get(ctx, tb.log_pf[0], v, B);
    for (int i = 0; i < B; i++) zf = fmax(zf, fabs(v[i]));
    ug_tensor_get(ctx, tb.log_pb[0], v, B);
    for (int i = 0; i < B; i++) zb = fmax(zb, fabs(v[i]));
    ug_tensor_get(ctx, tb.log_pb[1], v, B);
    for (int i = 0; i < B; i++) zb1 = fmax(zb1, fabs(v[i]));
    printf("absorbing: backward: %lld unmasked codes at s_1, %lld steps that changed a value other than to [MASK], "
           "%.1f%% masked at s_4; max |log_pf[0]| %g, |log_pb[0]| %g, |log_pb at k = 1| %g\n", (long long)not_mask,
           (long long)bad_b, 100.0 * masked_mid / (B * D), zf, zb, zb1);
    CHECK(not_mask == 0 && bad_b == 0, "backward: s_1 all-MASK, values kept or masked (%lld, %lld)", (long long)not_mask,
          (long long)bad_b);
    CHECK(masked_mid > 0 && masked_mid < B * D, "s_4 is partly masked (%lld)", (long long)masked_mid);
    CHECK(zf == 0 && zb == 0 && zb1 == 0, "the Dirac root step and the all-MASK step have log-mass 0");
    /* forward: from all-MASK, unmasked coordinates stay; x has no [MASK]; under any temperature and explore 1 too */
    const float temps[2] = {1.0f, 20.0f}, expl[2] = {0.0f, 1.0f};
    for (int t = 0; t < 2; t++) {
        ug_traj tf;
        CHECK(fwd(&r, &rng, B, NULL, 0, -1, UG_TRAJ_KEEP_STATES, temps[t], expl[t], &tf) == UG_OK && tf.states, "forward: %s",
              ug_ctx_errmsg(ctx));
        if (!tf.states) break;
        int64_t bad_f = 0, mask_x = 0, not_mask1 = 0;
        for (int k = 1; k < n; k++) {
            ug_tensor_get(ctx, tf.states[k], a, B * D);
            ug_tensor_get(ctx, tf.states[k + 1], c, B * D);
            for (int64_t e = 0; e < B * D; e++) {
                bad_f += a[e] != M && c[e] != a[e];
                if (k == 1) not_mask1 += a[e] != M;
                if (k + 1 == n) mask_x += c[e] == M;
            }
        }
        double d = rescore_diff(&r, &tf);
        printf("absorbing: forward (temperature %g, explore %g): %lld unmasked at s_1, %lld values changed, %lld [MASK]s in x; "
               "rescore worst %.2g\n", (double)temps[t], (double)expl[t], (long long)not_mask1, (long long)bad_f,
               (long long)mask_x, d);
        CHECK(not_mask1 == 0 && bad_f == 0 && mask_x == 0, "forward: all-MASK start, values never change, x unmasked");
        CHECK(d < 1e-4, "forward rescore (%g)", d);
    }
    /* the anchor at k = 1 is all-MASK */
    int32_t *kh = malloc(sizeof(int32_t) * B);
    for (int i = 0; i < B; i++) kh[i] = 1;
    ug_traj ta = {.size = sizeof ta};
    ug_traj_req ra = {.size = sizeof ra, .start = x, .start_index = n, .steps = 0, .flags = UG_TRAJ_ANCHOR,
                      .row_index = ug_from_i32(ctx, kh, 1, (int64_t[]){B})};
    CHECK(r.model.vt->sample_backward(r.model.self, ctx, &rng, &ra, &ta) == UG_OK, "anchor: %s", ug_ctx_errmsg(ctx));
    ug_tensor_get(ctx, ta.last, a, B * D);
    int64_t nm = 0;
    for (int64_t e = 0; e < B * D; e++) nm += a[e] != M;
    CHECK(nm == 0, "the anchored s_1 is all-MASK (%lld unmasked)", (long long)nm);
    ug_set_grad_enabled(ctx, g);
    ug_step_reset(ctx);
    traj_checks(&r, &f, "absorbing");
    tl_close(&r);
    free(a), free(c), free(v), free(kh);
    if (open_ok(&r, "{plugin: none}", "{plugin: d3pm, dim: 2, categories: 3, steps: 6, kernel: absorbing, hidden: [16], temb: 4}",
                NULL)) {
        randomize(&r, 14);
        fam f2 = fam_of(&r, true);
        const float s0[2] = {3, 1};  // one [MASK], one value (which must stay)
        sampling_case(&r, &f2, s0, 3, "absorbing");
        tl_close(&r);
    }
}

/* ---- elbo --------------------------------------------------------------------------------------- */

typedef struct rows {
    float *x;
    int64_t n, D;
} rows;

/* Term t's loss on the fixed rows, K times: the mean over the passes and its standard error (the rows
 * are common, so this is the trajectories' noise alone). */
static double passes(tl_run *r, int t, rows *h, int K, double *se) {
    double s1 = 0, s2 = 0;
    tl_term *T = &r->terms[t];
    bool g = ug_set_grad_enabled(r->ctx, false);
    for (int k = 0; k < K; k++) {
        ug_tensor *batch = ug_wrap(r->ctx, h->x, UG_F32, 2, (int64_t[]){h->n, h->D});
        ug_step_env env = {.size = sizeof env, .ctx = r->ctx, .rng = &T->rng, .model = &r->model, .batch = batch,
                           .update_mask = T->mask};
        ug_loss_out out = {.size = sizeof out};
        ug_status st = ((const ug_objective_vtable *)T->desc->vtable)->loss(T->self, &env, &out);
        CHECK(st == UG_OK && out.loss, "term %d: %s", t, ug_ctx_errmsg(r->ctx));
        double v = st == UG_OK && out.loss ? ug_item(out.loss) : NAN;
        s1 += v, s2 += v * v;
        ug_step_reset(r->ctx);
    }
    ug_set_grad_enabled(r->ctx, g);
    double mean = s1 / K;
    *se = sqrt(fmax(s2 / K - mean * mean, 0) / (K - 1));
    return mean;
}

static void elbo_case(const char *label, const char *dataset, const char *model, int64_t n) {
    char yaml[2048];
    snprintf(yaml, sizeof yaml,
             "seed: 4\ndataset: %s\nmodel: %s\n"
             "objective:\n"
             "  - {plugin: kl_tb, updates: [forward]}\n"
             "  - {plugin: kl_tb, estimator: one_step, updates: [forward]}\n"
             "  - {plugin: d3pm_hybrid, ce_weight: 0, updates: [forward]}\n"
             "optim: {forward: {lr: 1.0e-3}}\ntrain: {steps: 1, batch: 64}\n"
             "metrics: [{plugin: nll, particles: 16, samples: %lld, chunk: 4096}]\n",
             dataset, model, (long long)n);
    tl_run r;
    memset(&ERR, 0, sizeof ERR);
    if (tl_open(&r, REG, yaml, NULL, 0, &ERR)) {
        CHECK(false, "%s: %s", label, ERR.msg);
        return;
    }
    randomize(&r, 21);
    const int64_t D = r.model.info.space.dim;
    rows h = {.x = malloc(sizeof(float) * (size_t)(n * D)), .n = n, .D = D};
    ug_tensor *x = NULL;
    CHECK(r.data.vt->heldout(r.data.self, r.ctx, 0, n, &x) == UG_OK && x, "heldout: %s", ug_ctx_errmsg(r.ctx));
    if (x) ug_tensor_get(r.ctx, x, h.x, n * D);
    ug_step_reset(r.ctx);
    double t0 = tl_now();
    const int K = 16;
    double sf, full = passes(&r, 0, &h, K, &sf);
    double so, one = passes(&r, 1, &h, 4 * K, &so);
    double sh, hyb = passes(&r, 2, &h, 4 * K, &sh);
    double se1 = sqrt(sf * sf + so * so), se2 = sqrt(sf * sf + sh * sh);
    printf("%s: negative ELBO on %lld held-out rows: full trajectories %.4f +- %.4f, one-step %.4f +- %.4f (%+.1f se), "
           "d3pm_hybrid (ce_weight 0) %.4f +- %.4f (%+.1f se)", label, (long long)n, full, sf, one, so, (one - full) / se1, hyb,
           sh, (hyb - full) / se2);
    CHECK(fabs(full - one) < 4 * se1, "%s: full %.4f +- %.4f vs one-step %.4f +- %.4f", label, full, sf, one, so);
    CHECK(fabs(full - hyb) < 4 * se2, "%s: full %.4f +- %.4f vs hybrid %.4f +- %.4f", label, full, sf, hyb, sh);
    const ug_plugin_desc *d = ug_registry_find(REG, UG_KIND_METRIC, "nll")->desc;
    ug_create_args a = {.size = sizeof a, .cfg = ug_spec_metric(r.spec, 0), .ctx = r.ctx, .data = &r.data, .model = &r.model};
    memset(&ERR, 0, sizeof ERR);
    void *self = d->create(&a, &ERR);
    CHECK(self != NULL, "nll: %s", ERR.msg);
    ug_metric_out mo;
    if (self && harness_evaluate(d, self, r.ctx, 9, &r.model, &r.data, 0, ".", &mo) == UG_OK) {
        double elbo = harness_value(&mo, "elbo"), nl = harness_value(&mo, "nll"), bpd = harness_value(&mo, "bpd");
        printf("; nll metric: -elbo %.4f, nll %.4f +- %.4f (%.4f bits/dim)", -elbo, nl, harness_value(&mo, "nll_sem"), bpd);
        /* 16 particles a row against the K = 16 passes: the same trajectory noise */
        CHECK(fabs(-elbo - full) < 4 * sqrt(2.0) * sf, "%s: nll's -elbo %.4f vs kl_tb %.4f +- %.4f", label, -elbo, full, sf);
        CHECK(nl <= -elbo + 1e-9, "%s: Eq. 24's bound is tighter than the ELBO (%.4f vs %.4f)", label, nl, -elbo);
        CHECK(fabs(bpd - nl / (D * log(2.0))) < 1e-9, "%s: bpd = nll / (D ln 2)", label);
    } else {
        CHECK(false, "nll evaluate: %s", ug_ctx_errmsg(r.ctx));
    }
    if (self) d->destroy(self);
    printf(" (%.1f s)\n", tl_now() - t0);
    free(h.x);
    tl_close(&r);
}

static void test_elbo(void) {
    const char *cats = "{plugin: test_cats, dim: 4, categories: 3}";
    elbo_case("elbo uniform", cats, "{plugin: d3pm, steps: 10, hidden: [32, 32], temb: 8}", 1000);
    elbo_case("elbo absorbing", cats, "{plugin: d3pm, steps: 10, kernel: absorbing, schedule: jsd, hidden: [32, 32], temb: 8}", 1000);
    elbo_case("elbo binary", "{plugin: synthetic2d, data: checkerboard}",
              "{plugin: d3pm, steps: 6, schedule: linear, beta_start: 0.05, hidden: [32, 32], temb: 8}", 500);
}

/* ---- grads -------------------------------------------------------------------------------------- */

/* Fixed rows of the one-step loss and a fixed backward trajectory, on the host (tensor headers die
 * with each step reset, so every evaluation wraps them again). */
typedef struct fd_setup {
    float *xh, *sh, *th;   /* x [B, D], s_k [B, D], the trajectory's states [steps+1][B, D] */
    int32_t *kh;           /* k [B] */
    int64_t B, D;
    int steps;
} fd_setup;

/* mean step_kl (which = 0) or Σ log P_B of the fixed trajectory (which = 1): [B]. */
static ug_tensor *fd_terms(tl_run *r, fd_setup *z, int which) {
    ug_ctx *ctx = r->ctx;
    int64_t sh[2] = {z->B, z->D};
    if (which == 0)
        return r->model.vt->step_kl(r->model.self, ctx, ug_wrap(ctx, z->xh, UG_F32, 2, sh), ug_wrap(ctx, z->sh, UG_F32, 2, sh),
                                    ug_wrap(ctx, z->kh, UG_I32, 1, &z->B));
    ug_tensor *st[16];
    for (int t = 0; t <= z->steps; t++) st[t] = ug_wrap(ctx, z->th + (size_t)t * z->B * z->D, UG_F32, 2, sh);
    ug_traj tr = {.size = sizeof tr, .batch = z->B, .start = 0, .steps = z->steps, .states = st};
    if (r->model.vt->rescore(r->model.self, ctx, &tr, UG_TRAJ_NO_PF)) return NULL;
    ug_tensor *v = tr.log_pb[0];
    for (int t = 1; t < z->steps; t++) v = ug_add(ctx, v, tr.log_pb[t]);
    return v;
}

static double fd_value(tl_run *r, fd_setup *z, int which) {
    ug_tensor *v = fd_terms(r, z, which);
    if (!v) return NAN;
    float *h = malloc(sizeof(float) * (size_t)z->B);
    ug_tensor_get(r->ctx, v, h, z->B);
    double s = 0;
    for (int64_t b = 0; b < z->B; b++) s += h[b];
    free(h);
    return s / (double)z->B;
}

/* Analytic gradient of fd_value in `group` against central differences at a few coordinates. */
static void fd_check(tl_run *r, fd_setup *z, int which, const char *group, int n_idx, double h, const char *label) {
    ug_ctx *ctx = r->ctx;
    int gi = ug_params_group_index(r->P, group);
    float *data, *grad;
    int64_t n;
    ug_params_group_info(r->P, gi, NULL, &data, &grad, &n);
    uint64_t mask = 1ull << gi;
    ug_params_zero_grad(r->P, ~0ull);
    uint64_t prev = ug_set_grad_groups(ctx, mask);
    bool g = ug_set_grad_enabled(ctx, true);
    ug_tensor *v = fd_terms(r, z, which);
    ug_status st = v ? ug_backward(ctx, ug_mean_all(ctx, v), mask) : UG_ERR_ARG;
    ug_set_grad_enabled(ctx, false);
    ug_set_grad_groups(ctx, prev);
    CHECK(st == UG_OK, "%s: backward: %s", label, ug_ctx_errmsg(ctx));
    ug_step_reset(ctx);
    double worst = 0, gmax = 0;
    int bad = 0, nz = 0;
    for (int j = 0; j < n_idx && j < n; j++) {
        int64_t i = n_idx >= n ? j : (int64_t)((j * 7919 + 13) % n);
        float p0 = data[i];
        data[i] = (float)(p0 + h);
        double fp = fd_value(r, z, which);
        ug_step_reset(ctx);
        data[i] = (float)(p0 - h);
        double fm = fd_value(r, z, which);
        ug_step_reset(ctx);
        data[i] = p0;
        double num = (fp - fm) / (2 * h), ana = grad[i];
        double err = fabs(num - ana);
        worst = fmax(worst, err / fmax(fabs(num), 1e-2));
        gmax = fmax(gmax, fabs(ana));
        nz += ana != 0;
        if (err > 0.03 * fabs(num) + 5e-4) {
            bad++;
            printf("  %s: %s[%lld]: analytic %.6f, finite differences %.6f\n", label, group, (long long)i, ana, num);
        }
    }
    ug_set_grad_enabled(ctx, g);
    printf("grads %s: %d coordinates of %s, max |grad| %.4f, %d nonzero; worst relative error %.3g\n", label, n_idx, group,
           gmax, nz, worst);
    CHECK(bad == 0 && gmax > 1e-3, "%s: gradient against central differences (%d bad, max |grad| %g)", label, bad, gmax);
}

static void grads_case(bool absorbing) {
    const char *label = absorbing ? "absorbing" : "uniform";
    char model[256];
    snprintf(model, sizeof model, "{plugin: d3pm, steps: 5, kernel: %s, pf_beta: fixed, hidden: [16], temb: 4}", label);
    tl_run r;
    if (!open_ok(&r, "{plugin: test_cats, dim: 3, categories: 3}", model, NULL)) return;
    randomize(&r, 61);
    const int64_t B = 64;
    const int T = r.model.info.horizon - 1;
    ug_ctx *ctx = r.ctx;
    bool g = ug_set_grad_enabled(ctx, false);
    /* the fixed rows live on the host and are wrapped again after every step reset */
    ug_tensor *x = NULL;
    r.data.vt->heldout(r.data.self, ctx, 0, B, &x);
    float *xh = malloc(sizeof(float) * B * 3), *sh = malloc(sizeof(float) * B * 3), *th = malloc(sizeof(float) * B * 3 * (T + 2));
    int32_t *kh = malloc(sizeof(int32_t) * B);
    ug_tensor_get(ctx, x, xh, B * 3);
    for (int b = 0; b < B; b++) kh[b] = b % (T + 1);
    ug_rng rng = ug_rng_make(71, 0);
    ug_traj ta = {.size = sizeof ta}, tb;
    ug_traj_req ra = {.size = sizeof ra, .start = x, .start_index = T + 1, .steps = 0, .flags = UG_TRAJ_ANCHOR,
                      .row_index = ug_from_i32(ctx, kh, 1, &B)};
    CHECK(r.model.vt->sample_backward(r.model.self, ctx, &rng, &ra, &ta) == UG_OK, "anchor: %s", ug_ctx_errmsg(ctx));
    ug_tensor_get(ctx, ta.last, sh, B * 3);
    CHECK(bwd(&r, &rng, x, T + 1, -1, UG_TRAJ_KEEP_STATES, &tb) == UG_OK && tb.states, "backward: %s", ug_ctx_errmsg(ctx));
    for (int t = 0; t <= T + 1 && tb.states; t++) ug_tensor_get(ctx, tb.states[t], th + (size_t)t * B * 3, B * 3);
    ug_step_reset(ctx);
    fd_setup z = {.xh = xh, .sh = sh, .th = th, .kh = kh, .B = B, .D = 3, .steps = T + 1};
    ug_set_grad_enabled(ctx, g);
    char lab[64];
    snprintf(lab, sizeof lab, "%s one-step loss", label);
    fd_check(&r, &z, 0, "forward", 12, 3e-3, lab);
    fd_check(&r, &z, 0, "backward", T, 3e-3, lab);
    snprintf(lab, sizeof lab, "%s log P_B", label);
    fd_check(&r, &z, 1, "backward", T, 3e-3, lab);
    free(xh), free(sh), free(th), free(kh);
    tl_close(&r);
}

static void test_grads(void) {
    grads_case(false);
    grads_case(true);
}

/* ---- tbc ---------------------------------------------------------------------------------------- */

/* KL(P_B(.|x) || P_F) averaged over the 9 points x of {0,1,2}^2, by enumerating every trajectory
 * (s_1, .., s_T) of each x (host log-masses from rescore of whole trajectories). *mass gets the worst
 * |Σ_τ P_B(τ|x) - 1|. */
static double kl_enum(tl_run *r, const fam *f, double *mass) {
    const int D = f->D, T = f->T;
    float one[MAXN * 2];
    int ns = states_at(f, 2, one);  // a middle index: every code
    int64_t per = 1;
    for (int t = 0; t < T; t++) per *= ns;
    const int nx = f->K * f->K;
    const int64_t B = per;
    float **st = malloc(sizeof(float *) * (size_t)(T + 2));
    for (int t = 0; t <= T + 1; t++) st[t] = calloc((size_t)(B * D), sizeof(float));
    double kl = 0;
    *mass = 0;
    bool g = ug_set_grad_enabled(r->ctx, false);
    for (int x = 0; x < nx; x++) {
        for (int64_t row = 0; row < B; row++) {
            int64_t c = row;
            for (int t = T; t >= 1; t--, c /= ns)
                for (int d = 0; d < D; d++) st[t][row * D + d] = one[(c % ns) * D + d];
            st[T + 1][row * D] = (float)(x / f->K), st[T + 1][row * D + 1] = (float)(x % f->K);
        }
        ug_tensor *ts[16];
        for (int t = 0; t <= T + 1; t++) ts[t] = ug_from_f32(r->ctx, st[t], 2, (int64_t[]){B, D});
        ug_traj tr = {.size = sizeof tr, .batch = B, .start = 0, .steps = T + 1, .states = ts};
        CHECK(r->model.vt->rescore(r->model.self, r->ctx, &tr, 0) == UG_OK, "rescore: %s", ug_ctx_errmsg(r->ctx));
        double *w = malloc(sizeof(double) * (size_t)B), *lpb = calloc((size_t)B, sizeof(double));
        float *v = malloc(sizeof(float) * (size_t)B);
        weights(r->ctx, &tr, w);
        for (int t = 0; t <= T; t++) {
            ug_tensor_get(r->ctx, tr.log_pb[t], v, B);
            for (int64_t b = 0; b < B; b++) lpb[b] += v[b];
        }
        double m = 0, k1 = 0;
        for (int64_t b = 0; b < B; b++) {
            double p = exp(lpb[b]);
            m += p, k1 -= p * w[b];
        }
        *mass = fmax(*mass, fabs(m - 1));
        kl += k1 / nx;
        free(w), free(lpb), free(v);
        ug_step_reset(r->ctx);
    }
    ug_set_grad_enabled(r->ctx, g);
    for (int t = 0; t <= T + 1; t++) free(st[t]);
    free(st);
    return kl;
}

static void test_tbc(void) {
    enum { R = 100, COPIES = 64 };
    /* pf_beta: fixed, so P_F is one function of θ at every φ: the differences vary P_B alone, as
     * Prop. 14's KL does */
    tl_run r;
    if (!open_ok(&r, "{plugin: none}", "{plugin: d3pm, dim: 2, categories: 3, steps: 3, pf_beta: fixed, hidden: [16], temb: 4}",
                 "[{plugin: tbc, updates: [backward]}]"))
        return;
    randomize(&r, 81);
    fam f = fam_of(&r, false);
    const int T = f.T;
    ug_tensor *phi = ug_params_find(r.P, "backward", "phi");
    double t0 = tl_now();
    /* 4 ∇_φ KL by central differences of the enumerated KL (deterministic: no Monte Carlo) */
    double mass, fd[8];
    const double h = 1e-2;
    double kl0 = kl_enum(&r, &f, &mass);
    for (int j = 0; j < T; j++) {
        float p0 = ug_f32(phi)[j], ms;
        ug_f32(phi)[j] = (float)(p0 + h);
        double kp = kl_enum(&r, &f, &mass);
        ug_f32(phi)[j] = (float)(p0 - h);
        double km = kl_enum(&r, &f, &mass);
        ug_f32(phi)[j] = p0;
        (void)ms;
        fd[j] = 4 * (kp - km) / (2 * h);
    }
    double t_fd = tl_now() - t0;
    /* TBC's gradient in φ on the 9 points, COPIES rows each, over R batches (only backward tracked) */
    const int64_t B = 9 * COPIES;
    float *xh = malloc(sizeof(float) * (size_t)(B * 2));
    for (int64_t b = 0; b < B; b++) xh[b * 2] = (float)(b % 9 / 3), xh[b * 2 + 1] = (float)(b % 3);
    tl_term *tm = &r.terms[0];
    double g1[8] = {0}, g2[8] = {0};
    bool finite = true;
    t0 = tl_now();
    for (int rep = 0; rep < R; rep++) {
        ug_params_zero_grad(r.P, ~0ull);
        ug_tensor *batch = ug_wrap(r.ctx, xh, UG_F32, 2, (int64_t[]){B, 2});
        ug_step_env env = {.size = sizeof env, .ctx = r.ctx, .rng = &tm->rng, .model = &r.model, .batch = batch,
                           .update_mask = tm->mask};
        ug_loss_out out = {.size = sizeof out};
        uint64_t prev = ug_set_grad_groups(r.ctx, tm->mask);
        ug_status st = ((const ug_objective_vtable *)tm->desc->vtable)->loss(tm->self, &env, &out);
        if (st == UG_OK) st = ug_backward(r.ctx, out.loss, tm->mask);
        ug_set_grad_groups(r.ctx, prev);
        CHECK(st == UG_OK, "tbc: %s", ug_ctx_errmsg(r.ctx));
        for (int j = 0; j < T; j++) {
            double v = ug_f32(phi->grad)[j];
            finite = finite && isfinite(v);
            g1[j] += v / R, g2[j] += v * v / R;
        }
        ug_step_reset(r.ctx);
    }
    printf("tbc: KL(P_B || P_F) by enumeration of 9 x 729 trajectories = %.5f (max |sum P_B - 1| %.1e; %.1f s with the "
           "differences); TBC over %d batches of %lld rows (%.1f s):\n", kl0, mass, t_fd, R, (long long)B, tl_now() - t0);
    double gmax = 0;
    for (int j = 0; j < T; j++) {
        double se = sqrt(fmax(g2[j] - g1[j] * g1[j], 0) / (R - 1));
        printf("  phi_%d (k = %d): E grad L_TBC %+.5f +- %.5f   4 dKL/dphi %+.5f   (%+.1f se)\n", j, j + 1, g1[j], se, fd[j],
               (g1[j] - fd[j]) / fmax(se, 1e-12));
        CHECK(fabs(g1[j] - fd[j]) < 4 * se + 1e-3, "phi_%d: TBC %.5f +- %.5f vs 4 dKL %.5f", j, g1[j], se, fd[j]);
        gmax = fmax(gmax, fabs(g1[j]));
    }
    CHECK(mass < 1e-4, "P_B(.|x) sums to 1 over the enumerated trajectories (%g)", mass);
    CHECK(finite && gmax > 1e-3, "TBC's phi-gradient is finite and nonzero (max %g)", gmax);
    free(xh);
    tl_close(&r);

    /* a few MLE-GFN steps: kl_tb one_step trains θ, tbc trains φ, on categorical data */
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "seed: 5\ndataset: {plugin: test_cats, dim: 4, categories: 3}\n"
             "model: {plugin: d3pm, steps: 6, hidden: [32], temb: 8}\n"
             "objective:\n  - {plugin: kl_tb, estimator: one_step, updates: [forward]}\n  - {plugin: tbc, updates: [backward]}\n"
             "optim: {forward: {lr: 1.0e-3}, backward: {lr: 1.0e-2}}\ntrain: {steps: 20, batch: 64}\n");
    memset(&ERR, 0, sizeof ERR);
    if (tl_open(&r, REG, yaml, NULL, 0, &ERR)) {
        CHECK(false, "MLE-GFN: %s", ERR.msg);
        return;
    }
    memset(&ERR, 0, sizeof ERR);
    ug_status st = tl_train(&r, r.steps, NULL, NULL, &ERR);
    phi = ug_params_find(r.P, "backward", "phi");
    double mx = 0;
    for (int j = 0; phi && j < ug_numel(phi); j++) mx = fmax(mx, fabs(ug_f32(phi)[j]));
    printf("tbc: 20 MLE-GFN steps: %s, L_TBC %.4f, max |phi| %.4f\n", st ? ERR.msg : "ok", r.terms[1].loss, mx);
    CHECK(st == UG_OK && mx > 1e-3 && isfinite(r.terms[1].loss), "tbc trains phi (%s, max |phi| %g)", ERR.msg, mx);
    tl_close(&r);
}

/* ---- e2e ---------------------------------------------------------------------------------------- */

/* Build a spec's experiment, evaluate metric 0, train through the runner's step (means of the loss over
 * the first and the last 30 steps of term 0 and of its log `key`), evaluate again. */
static bool run_spec(ug_experiment *ex, const char *yaml, const char *key, double *first, double *last, double *lfirst,
                     double *llast, double *nll0, double *nll1) {
    ug_spec_registry view;
    ug_registry_spec_view(REG, &view);
    ug_spec *spec = NULL;
    memset(&ERR, 0, sizeof ERR);
    memset(ex, 0, sizeof *ex);
    if (ug_spec_load_string("e2e.yaml", yaml, NULL, 0, &view, &spec, &ERR) || ug_experiment_build(ex, spec, REG, &ERR)) {
        CHECK(false, "build: %s", ERR.msg);
        return false;
    }
    ug_metric_out mo;
    if (nll0) {
        CHECK(ug_experiment_eval_metric(ex, 0, 0, ".", &mo, &ERR) == UG_OK, "nll: %s", ERR.msg);
        *nll0 = harness_value(&mo, "nll");
    }
    *first = *last = *lfirst = *llast = 0;
    for (int64_t st = 0; st < ex->steps; st++) {
        ug_step_losses out;
        if (ug_train_step(ex, st, &out, &ERR)) {
            CHECK(false, "step %lld: %s", (long long)st, ERR.msg);
            return false;
        }
        double lv = NAN;
        for (int i = 0; key && i < out.n_logs[0]; i++)
            if (strcmp(out.log_keys[0][i], key) == 0) lv = out.log_values[0][i];
        if (st < 30) *first += out.loss[0] / 30, *lfirst += lv / 30;
        if (st >= ex->steps - 30) *last += out.loss[0] / 30, *llast += lv / 30;
    }
    if (nll1) {
        CHECK(ug_experiment_eval_metric(ex, 0, ex->steps, ".", &mo, &ERR) == UG_OK, "nll: %s", ERR.msg);
        *nll1 = harness_value(&mo, "nll");
    }
    return true;
}

static void test_e2e(void) {
    const char *base =
        "seed: 2\ndataset: {plugin: test_cats, dim: 6, categories: 4}\n"
        "model: {plugin: d3pm, steps: 10, hidden: [64, 64], temb: 16%s}\n"
        "objective: [%s]\n"
        "optim: {forward: {lr: 3.0e-3}, backward: {lr: 1.0e-2}}\n"
        "train: {steps: %d, batch: 128}\nthreads: 1\n"
        "metrics: [{plugin: nll, particles: 8, samples: 500}]\n";
    /* uniform: log K^D = 8.32 nats; the chain's entropy (stay 0.6) is 5.98 */
    const double uniform = 6 * log(4.0);
    struct {
        const char *label, *model, *objective, *key;
    } runs[] = {
        {"kl_tb one_step", "", "{plugin: kl_tb, estimator: one_step, updates: [forward]}", NULL},
        {"d3pm_hybrid (ce_weight 0.01), absorbing", ", kernel: absorbing, schedule: jsd",
         "{plugin: d3pm_hybrid, ce_weight: 0.01, updates: [forward]}", "ce"},
    };
    for (size_t i = 0; i < sizeof runs / sizeof *runs; i++) {
        char yaml[1024];
        snprintf(yaml, sizeof yaml, base, runs[i].model, runs[i].objective, 300);
        ug_experiment ex;
        double f, l, lf, ll, n0 = NAN, n1 = NAN, t0 = tl_now();
        if (run_spec(&ex, yaml, runs[i].key, &f, &l, &lf, &ll, &n0, &n1)) {
            printf("e2e: %s, 300 steps (%.1f s): loss %.4f -> %.4f%s", runs[i].label, tl_now() - t0, f, l,
                   runs[i].key ? "" : "\n");
            if (runs[i].key) printf(", %s %.4f -> %.4f\n", runs[i].key, lf, ll);
            printf("e2e: held-out nll %.4f -> %.4f (uniform %.4f, the data's entropy 5.98)\n", n0, n1, uniform);
            CHECK(l < f - 0.5, "%s: the loss falls by 0.5 nats (%.4f -> %.4f)", runs[i].label, f, l);
            CHECK(n1 < n0 - 1.0 && n1 < uniform - 1.0, "%s: the held-out nll falls (%.4f -> %.4f)", runs[i].label, n0, n1);
            if (runs[i].key) CHECK(ll < lf - 0.5, "%s: the CE term falls (%.4f -> %.4f)", runs[i].label, lf, ll);
        }
        ug_experiment_free(&ex);
    }
    /* MLE-GFN: the hybrid trains θ, tbc trains φ */
    char yaml[1024];
    snprintf(yaml, sizeof yaml, base, "", "{plugin: d3pm_hybrid, updates: [forward]}, {plugin: tbc, updates: [backward]}", 150);
    ug_experiment ex;
    double f, l, lf, ll, t0 = tl_now();
    if (run_spec(&ex, yaml, NULL, &f, &l, &lf, &ll, NULL, NULL)) {
        ug_tensor *phi = ug_params_find(ex.params, "backward", "phi");
        double mx = 0;
        for (int64_t j = 0; phi && j < ug_numel(phi); j++) mx = fmax(mx, fabs(ug_f32(phi)[j]));
        printf("e2e: MLE-GFN (d3pm_hybrid + tbc), 150 steps (%.1f s): hybrid %.4f -> %.4f, max |phi| %.4f\n", tl_now() - t0, f,
               l, mx);
        CHECK(l < f - 0.5 && mx > 0.01, "MLE-GFN: the hybrid falls and tbc moves phi (%.4f -> %.4f, %g)", f, l, mx);
    }
    ug_experiment_free(&ex);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: test_d3pm schema|kernel|stepkl|traj|absorbing|elbo|grads|tbc|e2e\n");
        return 2;
    }
    memset(&ERR, 0, sizeof ERR);
    REG = tl_registry(&ERR);
    if (!REG) {
        fprintf(stderr, "registry: %s\n", ERR.msg);
        return 1;
    }
    const char *which = argv[1];
    if (strcmp(which, "schema") == 0) test_schema();
    else if (strcmp(which, "kernel") == 0) test_kernel();
    else if (strcmp(which, "stepkl") == 0) test_stepkl();
    else if (strcmp(which, "traj") == 0) test_traj();
    else if (strcmp(which, "absorbing") == 0) test_absorbing();
    else if (strcmp(which, "elbo") == 0) test_elbo();
    else if (strcmp(which, "grads") == 0) test_grads();
    else if (strcmp(which, "tbc") == 0) test_tbc();
    else if (strcmp(which, "e2e") == 0) test_e2e();
    else {
        fprintf(stderr, "unknown case '%s'\n", which);
        return 2;
    }
    ug_registry_free(REG);
    return CHECK_DONE();
}
