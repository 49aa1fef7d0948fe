/* pf_ode_nll.c — metric `pf_ode_nll`: held-out NLL of a score_sde model through its probability-flow
 * ODE (Song et al. 2021, §4.3 and App. D.2), a second estimate beside `nll` (Eq. 24 over the EM chain).
 *
 * The ODE  dx/dt = v(x, t) = f(x, t) - 1/2 g(t)^2 s_theta(x, t)  has the same marginals as the SDE when
 * s_theta is the true score. Started at a data point x(t_eps) = x and integrated up to t = 1, the
 * continuity equation d/dt log p_t(x(t)) = -div v gives
 *     log p_{t_eps}(x) = log N(x(1); 0, sigma_T^2 I) + integral_{t_eps}^1 div v(x(t), t) dt,
 * with div v = D c(t) - 1/2 g(t)^2 tr(d s_theta / dx) (f = c(t) x, sde.h). The trace is EXACT: D
 * backward passes per evaluation (ug_grad of each output coordinate), which is affordable for the 2-D
 * toys; no Hutchinson estimator. The augmented state (x, integral) is integrated with fixed-step RK4
 * (or Euler), `ode_steps` steps from t_eps to 1. Reported: `ode_nll` (mean of -log p in nats) and its
 * standard error `ode_nll_sem` over `samples` held-out rows (the dataset's heldout()), `ode_logdet`
 * the mean integral of div v.
 *
 * Why t_eps > 0: with scale_by_sigma the VP score is net / sigma(t) and sigma(0) = 0. The default
 * 1e-3 stops at a tenth of the first EM step (h = 0.01 at T = 100) where the network was never
 * trained below t = h; the density at t_eps differs from p_0 by a smoothing of variance ~ 1e-4.
 *
 * Memory: each ODE step reads the state back to the host and resets the step arena (the divergence
 * needs the tape, so ug_arena_release would refuse): the arena holds one step's graph whatever
 * ode_steps is (tests/test_score_sde.c checks the peak does not grow with ode_steps).
 * The step arena is reset during evaluate(): callers must not hold arena tensors across it. */
#define UG_PLUGIN
#include "unigfn/plugin.h"

#include <stdlib.h>
#include <string.h>

#include "sde.h"

typedef struct ode_metric {
    const sde_model *m;
    int64_t samples, batch, steps;
    bool rk4;
    double t_eps;
} ode_metric;

static const ug_param_spec ode_params[] = {
    {"samples", UG_P_INT, "2000", UG_P_MIN | UG_P_MAX, 1, UG_BOUND_COUNT, NULL, "held-out rows evaluated (at most the held-out size)"},
    {"batch", UG_P_INT, "1000", UG_P_MIN | UG_P_MAX, 1, UG_BOUND_COUNT, NULL, "rows integrated together"},
    {"ode_steps", UG_P_INT, "100", UG_P_MIN | UG_P_MAX, 1, UG_BOUND_COUNT, NULL, "fixed steps from t_eps to 1"},
    {"solver", UG_P_ENUM, "rk4", 0, 0, 0, "rk4|euler", "classical Runge–Kutta (4 evaluations a step) or Euler"},
    {"t_eps", UG_P_FLOAT, "1e-3", UG_P_MIN | UG_P_MAX | UG_P_MAX_OPEN, 0, 1, NULL,
     "start time of the ODE (the score is singular at t = 0 for VP with scale_by_sigma)"},
    {NULL, 0, NULL, 0, 0, 0, NULL, NULL},
};

/* v(x, t) [r, D] and div v [r, 1] at one time, both constants (grad is on only inside). */
static ug_status drift(const sde_model *m, ug_ctx *ctx, ug_tensor *x, double t, ug_tensor **v, ug_tensor **div) {
    int64_t r = x->shape[0], D = m->D;
    double c = sde_fcoef(m, t), g2 = sde_g2(m, t);
    ug_tensor *xv = ug_requires_grad(ctx, ug_detach(ctx, x));  // [r, D]
    ug_tensor *s = sde_score_t(m, ctx, xv, ugm_fill_rows(ctx, r, (float)t));  // [r, D]
    if (!s) return ug_ctx_status(ctx) ? ug_ctx_status(ctx) : ug_ctx_fail(ctx, UG_ERR_INTERNAL, "pf_ode_nll: no score");
    ug_tensor *tr = NULL;  // [r, 1] sum_d ds_d / dx_d
    for (int64_t d = 0; d < D; d++) {
        ug_tensor *gd = NULL;
        ug_status st = ug_grad(ctx, ug_sum_all(ctx, ug_slice(ctx, s, 1, d, 1)), &xv, 1, &gd, false);
        if (st) return st;
        ug_tensor *col = ug_slice(ctx, gd, 1, d, 1);  // [r, 1]
        tr = tr ? ug_add(ctx, tr, col) : col;
    }
    *v = ug_detach(ctx, ug_sub(ctx, ug_mul_scalar(ctx, x, (float)c), ug_mul_scalar(ctx, s, (float)(0.5 * g2))));
    *div = ug_detach(ctx, ug_add_scalar(ctx, ug_mul_scalar(ctx, tr, (float)(-0.5 * g2)), (float)(D * c)));
    return ug_ctx_status(ctx);
}

/* Integrate rows xh [r, D] (host, overwritten with x(1)) from t_eps to 1; logdet [r] gets the integral. */
static ug_status integrate(const ode_metric *o, ug_ctx *ctx, float *xh, int64_t r, double *logdet) {
    const sde_model *m = o->m;
    int64_t D = m->D, sh[2] = {r, D};
    double dt = (1.0 - o->t_eps) / (double)o->steps;
    float *inc = malloc(sizeof(float) * (size_t)r);
    if (!inc) return ug_ctx_fail(ctx, UG_ERR_NOMEM, "pf_ode_nll: out of memory");
    for (int64_t b = 0; b < r; b++) logdet[b] = 0;
    ug_status st = UG_OK;
    for (int64_t i = 0; i < o->steps && !st; i++) {
        double t0 = o->t_eps + (double)i * dt;
        ug_tensor *x = ug_from_f32(ctx, xh, 2, sh);  // [r, D]
        ug_tensor *v1, *d1, *xn, *dl;
        if (!x) {
            st = ug_ctx_status(ctx);
            break;
        }
        if ((st = drift(m, ctx, x, t0, &v1, &d1))) break;
        if (o->rk4) {
            ug_tensor *v2, *d2, *v3, *d3, *v4, *d4;
            if ((st = drift(m, ctx, ug_add(ctx, x, ug_mul_scalar(ctx, v1, (float)(0.5 * dt))), t0 + 0.5 * dt, &v2, &d2))) break;
            if ((st = drift(m, ctx, ug_add(ctx, x, ug_mul_scalar(ctx, v2, (float)(0.5 * dt))), t0 + 0.5 * dt, &v3, &d3))) break;
            if ((st = drift(m, ctx, ug_add(ctx, x, ug_mul_scalar(ctx, v3, (float)dt)), t0 + dt, &v4, &d4))) break;
            ug_tensor *vs = ug_add(ctx, ug_add(ctx, v1, v4), ug_mul_scalar(ctx, ug_add(ctx, v2, v3), 2.0f));  // [r, D]
            ug_tensor *ds = ug_add(ctx, ug_add(ctx, d1, d4), ug_mul_scalar(ctx, ug_add(ctx, d2, d3), 2.0f));  // [r, 1]
            xn = ug_add(ctx, x, ug_mul_scalar(ctx, vs, (float)(dt / 6.0)));
            dl = ug_mul_scalar(ctx, ds, (float)(dt / 6.0));
        } else {
            xn = ug_add(ctx, x, ug_mul_scalar(ctx, v1, (float)dt));
            dl = ug_mul_scalar(ctx, d1, (float)dt);
        }
        if ((st = ug_tensor_get(ctx, xn, xh, r * D)) || (st = ug_tensor_get(ctx, dl, inc, r))) break;
        for (int64_t b = 0; b < r; b++) logdet[b] += inc[b];
        ug_step_reset(ctx);  /* one step's graph at a time */
    }
    free(inc);
    return st;
}

static ug_status ode_evaluate(void *self, const ug_eval_env *env, ug_metric_out *out) {
    const ode_metric *o = self;
    const sde_model *m = o->m;
    ug_ctx *ctx = env->ctx;
    const ug_dataset *data = env->data;
    int64_t D = m->D;
    if (!data || data->info.space.dim != D)
        return ug_ctx_fail(ctx, UG_ERR_ARG, "pf_ode_nll: needs a dataset of dimension %lld", (long long)D);
    int64_t n = o->samples < data->info.heldout_size ? o->samples : data->info.heldout_size;
    if (n < 1) return ug_ctx_fail(ctx, UG_ERR_ARG, "pf_ode_nll: the dataset has no held-out rows");
    int64_t bsz = o->batch < n ? o->batch : n;
    double *nll = malloc(sizeof(double) * (size_t)n), *ld = malloc(sizeof(double) * (size_t)bsz);
    float *xh = malloc(sizeof(float) * (size_t)(bsz * D));
    bool grad = ug_set_grad_enabled(ctx, true);  /* the divergence differentiates the score */
    ug_status st = (!nll || !ld || !xh) ? ug_ctx_fail(ctx, UG_ERR_NOMEM, "pf_ode_nll: out of memory") : UG_OK;
    double P = sde_prior_var(m), sum_ld = 0;
    for (int64_t off = 0; !st && off < n; off += bsz) {
        int64_t cnt = n - off < bsz ? n - off : bsz;
        ug_tensor *x = NULL;  // [cnt, D]
        if ((st = data->vt->heldout(data->self, ctx, off, cnt, &x))) break;
        if (!x || ug_numel(x) != cnt * D) {
            st = ug_ctx_fail(ctx, UG_ERR_ARG, "pf_ode_nll: held-out rows are not [%lld, %lld]", (long long)cnt, (long long)D);
            break;
        }
        if ((st = ug_tensor_get(ctx, x, xh, cnt * D))) break;
        ug_step_reset(ctx);
        if ((st = integrate(o, ctx, xh, cnt, ld))) break;
        for (int64_t b = 0; b < cnt; b++) {
            double q = 0;
            for (int64_t d = 0; d < D; d++) q += (double)xh[b * D + d] * xh[b * D + d];
            double lprior = -0.5 * (double)D * log(2 * M_PI * P) - 0.5 * q / P;
            nll[off + b] = -(lprior + ld[b]);
            sum_ld += ld[b];
        }
    }
    ug_set_grad_enabled(ctx, grad);
    if (!st) {
        double mean = 0, ss = 0;
        for (int64_t i = 0; i < n; i++) mean += nll[i] / (double)n;
        for (int64_t i = 0; i < n; i++) ss += (nll[i] - mean) * (nll[i] - mean);
        out->n_values = 0;
        out->keys[out->n_values] = "ode_nll", out->values[out->n_values++] = mean;
        out->keys[out->n_values] = "ode_nll_sem", out->values[out->n_values++] = n > 1 ? sqrt(ss / (double)(n - 1) / (double)n) : 0;
        out->keys[out->n_values] = "ode_logdet", out->values[out->n_values++] = sum_ld / (double)n;
    }
    free(nll);
    free(ld);
    free(xh);
    return st;
}

static void *ode_create(const ug_create_args *a, ug_error *err) {
    if (!a->model || !a->model->name || strcmp(a->model->name, "score_sde") != 0) {
        ug_error_set(err, UG_ERR_ARG, "pf_ode_nll: the probability-flow ODE needs a score_sde model, not '%s'",
                     a->model && a->model->name ? a->model->name : "?");
        return NULL;
    }
    ode_metric *o = calloc(1, sizeof *o);
    if (!o) {
        ug_error_set(err, UG_ERR_NOMEM, "pf_ode_nll: out of memory");
        return NULL;
    }
    o->m = a->model->self;
    o->samples = ug_cfg_int(a->cfg, "samples", 2000);
    o->batch = ug_cfg_int(a->cfg, "batch", 1000);
    o->steps = ug_cfg_int(a->cfg, "ode_steps", 100);
    o->rk4 = strcmp(ug_cfg_str(a->cfg, "solver", "rk4"), "rk4") == 0;
    o->t_eps = ug_cfg_float(a->cfg, "t_eps", 1e-3);
    if (o->samples < 1 || o->batch < 1 || o->steps < 1 || !(o->t_eps >= 0 && o->t_eps < 1)) {
        ug_error_set(err, UG_ERR_ARG, "pf_ode_nll: samples, batch, ode_steps >= 1 and 0 <= t_eps < 1");
        free(o);
        return NULL;
    }
    return o;
}

static void ode_destroy(void *self) { free(self); }

static const ug_metric_vtable ode_vt = {.size = sizeof(ug_metric_vtable), .evaluate = ode_evaluate};

const ug_plugin_desc sde_ode_desc = {
    UG_DESC_HEADER(UG_KIND_METRIC),
    .name = "pf_ode_nll",
    .version = "0.1.0",
    .summary = "score_sde: held-out NLL through the probability-flow ODE (RK4, exact divergence)",
    .params = ode_params,
    .create = ode_create,
    .destroy = ode_destroy,
    .vtable = &ode_vt,
};
