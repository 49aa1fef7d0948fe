/* optim.c — Adam / AdamW / SGD over one parameter group's flat block, with clipping and schedules.
 *
 * Why the formulas look the way they do: they copy torch.optim's single-tensor CPU path operation
 * for operation (lerp for the first moment, addcmul for the second, bias corrections and step size
 * in double then rounded to float as PyTorch's Python scalars are), so parity checks against a
 * PyTorch reference agree to an ulp or two instead of drifting. This file forms those scalars and
 * the order of the passes (norm, value clip, norm clip, decay, update); the loops over the block are
 * backend entries (backend.h: sum_squares, clamp, scale, adam, sgd). The CPU ones, in
 * backend/cpu/cpu_optim.c, say why the Adam loop is written with intrinsics (errno and sqrtf). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn_internal.h"
#include "unigfn/host/optim.h"
#include "unigfn/host/defaults.h"

ug_optim_config ug_optim_defaults(ug_optim_algo algorithm) {
    ug_optim_config c;
    memset(&c, 0, sizeof c);
    c.algorithm = algorithm;
    c.lr = (float)UG_DEFAULT_ADAM_LR;
    c.beta1 = (float)UG_DEFAULT_ADAM_BETA1;
    c.beta2 = (float)UG_DEFAULT_ADAM_BETA2;
    c.eps = (float)UG_DEFAULT_ADAM_EPS;
    c.weight_decay = algorithm == UG_OPTIM_ADAMW ? 0.01f : 0.0f;
    c.schedule = UG_SCHED_CONSTANT;
    return c;
}

static const char *algo_names[] = {"adam", "adamw", "sgd"};
static const char *sched_names[] = {"constant", "warmup", "cosine"};

ug_status ug_optim_algo_from_name(const char *name, ug_optim_algo *out) {
    for (int i = 0; name && out && i < 3; i++)
        if (strcmp(name, algo_names[i]) == 0) {
            *out = (ug_optim_algo)i;
            return UG_OK;
        }
    return UG_ERR_ARG;
}

ug_status ug_lr_schedule_from_name(const char *name, ug_lr_schedule *out) {
    for (int i = 0; name && out && i < 3; i++)
        if (strcmp(name, sched_names[i]) == 0) {
            *out = (ug_lr_schedule)i;
            return UG_OK;
        }
    return UG_ERR_ARG;
}

const char *ug_optim_algo_name(ug_optim_algo a) {
    return (unsigned)a < 3 ? algo_names[a] : "?";
}

const char *ug_lr_schedule_name(ug_lr_schedule s) {
    return (unsigned)s < 3 ? sched_names[s] : "?";
}

float ug_lr_at(const ug_optim_config *cfg, int64_t t) {
    if (!cfg) return 0.0f;
    const double lr = cfg->lr;
    if (cfg->schedule == UG_SCHED_CONSTANT) return cfg->lr;
    const int64_t W = cfg->warmup_steps;
    /* Update t = 1 already moves (lr/W), update W uses the full lr. */
    if (W > 0 && t <= W) return (float)(lr * (double)t / (double)W);
    if (cfg->schedule == UG_SCHED_WARMUP) return cfg->lr;
    const int64_t span = cfg->total_steps - (W > 0 ? W : 0);
    double p = span > 0 ? (double)(t - (W > 0 ? W : 0)) / (double)span : 1.0;
    if (p > 1.0) p = 1.0;
    if (p < 0.0) p = 0.0;
    const double lo = cfg->min_lr;
    return (float)(lo + 0.5 * (lr - lo) * (1.0 + cos(3.14159265358979323846 * p)));
}

float ug_optim_lr(const ug_optim *opt) { return opt ? ug_lr_at(&opt->cfg, opt->step + 1) : 0.0f; }

static ug_status check_config(ug_error *e, const char *gname, const ug_optim_config *c) {
    if ((unsigned)c->algorithm > UG_OPTIM_SGD)
        return ug_error_set(e, UG_ERR_ARG, "optimizer for group '%s': unknown algorithm %d", gname,
                            (int)c->algorithm);
    if ((unsigned)c->schedule > UG_SCHED_COSINE)
        return ug_error_set(e, UG_ERR_ARG, "optimizer for group '%s': unknown schedule %d", gname,
                            (int)c->schedule);
    if (!(c->lr >= 0) || !isfinite(c->lr))
        return ug_error_set(e, UG_ERR_ARG, "optimizer for group '%s': lr %g must be >= 0", gname,
                            (double)c->lr);
    if (c->algorithm != UG_OPTIM_SGD) {
        if (!(c->beta1 >= 0 && c->beta1 < 1) || !(c->beta2 >= 0 && c->beta2 < 1))
            return ug_error_set(e, UG_ERR_ARG,
                                "optimizer for group '%s': betas (%g, %g) must lie in [0, 1)", gname,
                                (double)c->beta1, (double)c->beta2);
        if (!(c->eps > 0))
            return ug_error_set(e, UG_ERR_ARG, "optimizer for group '%s': eps %g must be > 0", gname,
                                (double)c->eps);
    } else if (!(c->momentum >= 0 && c->momentum < 1)) {
        return ug_error_set(e, UG_ERR_ARG, "optimizer for group '%s': momentum %g must lie in [0, 1)",
                            gname, (double)c->momentum);
    }
    if (!(c->weight_decay >= 0) || !(c->clip_norm >= 0) || !(c->clip_value >= 0) || !(c->min_lr >= 0))
        return ug_error_set(e, UG_ERR_ARG,
                            "optimizer for group '%s': weight_decay %g, clip_norm %g, clip_value %g, "
                            "min_lr %g must be >= 0",
                            gname, (double)c->weight_decay, (double)c->clip_norm,
                            (double)c->clip_value, (double)c->min_lr);
    if (c->warmup_steps < 0)
        return ug_error_set(e, UG_ERR_ARG, "optimizer for group '%s': warmup_steps %lld < 0", gname,
                            (long long)c->warmup_steps);
    if (c->schedule == UG_SCHED_COSINE && c->total_steps <= c->warmup_steps)
        return ug_error_set(e, UG_ERR_ARG,
                            "optimizer for group '%s': cosine schedule needs total_steps (%lld) > "
                            "warmup_steps (%lld)",
                            gname, (long long)c->total_steps, (long long)c->warmup_steps);
    return UG_OK;
}

/* Grow (never shrink) a state buffer of the backend's memory to n floats, keeping the first old_n
 * and zero-filling the new tail; NULL (buf untouched) without memory. */
static float *grow(const ug_backend *be, float *buf, int64_t old_n, int64_t n) {
    float *nb = be->alloc((size_t)(n ? n : 1) * sizeof(float));
    if (!nb) return NULL;
    if (buf && old_n > 0) ug__copy_floats(be, nb, buf, old_n);
    if (n > old_n) be->zero(nb + old_n, (size_t)(n - old_n) * sizeof(float));
    be->free(buf);
    return nb;
}

static ug_status ensure_state(ug_optim *opt, int64_t count) {
    const char *gname = "?";
    ug_params_group_info(opt->P, opt->group, &gname, NULL, NULL, NULL);
    if (count < opt->count)
        return ug_error_set(&opt->err, UG_ERR_INTERNAL,
                            "optimizer for group '%s': group shrank from %lld to %lld floats", gname,
                            (long long)opt->count, (long long)count);
    bool need_m = opt->cfg.algorithm != UG_OPTIM_SGD || opt->cfg.momentum != 0.0f;
    bool need_v = opt->cfg.algorithm != UG_OPTIM_SGD;
    const ug_backend *be = ug_backend_get(opt->device);
    if (need_m && (!opt->m || count > opt->count)) {
        float *m = grow(be, opt->m, opt->m ? opt->count : 0, count);
        if (!m) goto nomem;
        opt->m = m;
    }
    if (need_v && (!opt->v || count > opt->count)) {
        float *v = grow(be, opt->v, opt->v ? opt->count : 0, count);
        if (!v) goto nomem;
        opt->v = v;
    }
    opt->count = count;
    return UG_OK;
nomem:
    return ug_error_set(&opt->err, UG_ERR_NOMEM, "optimizer for group '%s': no memory for %lld floats",
                        gname, (long long)count);
}

ug_status ug_optim_init(ug_optim *opt, ug_params *P, int group, const ug_optim_config *cfg) {
    if (!opt) return UG_ERR_ARG;
    memset(opt, 0, sizeof *opt);
    const char *gname = NULL;
    int64_t count = 0;
    if (!P || !cfg || ug_params_group_info(P, group, &gname, NULL, NULL, &count) != UG_OK)
        return ug_error_set(&opt->err, UG_ERR_ARG, "ug_optim_init: %s",
                            !P ? "params NULL" : !cfg ? "config NULL" : "no such parameter group");
    ug_status st = check_config(&opt->err, gname, cfg);
    if (st != UG_OK) return st;
    opt->P = P;
    opt->group = group;
    opt->cfg = *cfg;
    opt->device = ug__params_backend(P)->device;
    return ensure_state(opt, count);
}

void ug_optim_free(ug_optim *opt) {
    if (!opt) return;
    const ug_backend *be = ug_backend_get(opt->device);
    if (be) {
        be->free(opt->m);
        be->free(opt->v);
    }
    opt->m = opt->v = NULL;
    opt->count = 0;
}

ug_status ug_optim_step(ug_optim *opt, float *grad_norm) {
    if (!opt || !opt->P) return UG_ERR_ARG;
    const char *gname = "?";
    float *p = NULL, *g = NULL;
    int64_t n = 0;
    ug_params_group_info(opt->P, opt->group, &gname, &p, &g, &n);
    if (!ug_params_finalized(opt->P))
        return ug_error_set(&opt->err, UG_ERR_ARG,
                            "optimizer for group '%s': parameters were declared after the last "
                            "ug_params_finalize",
                            gname);
    ug_status st = ensure_state(opt, n);
    if (st != UG_OK) return st;
    const ug_optim_config *c = &opt->cfg;
    const ug_backend *be = ug_backend_get(opt->device);

    double sq = n > 0 ? be->sum_squares(g, n) : 0.0;
    float norm = (float)sqrt(sq);
    opt->last_grad_norm = norm;
    if (grad_norm) *grad_norm = norm;
    if (!isfinite(sq))
        return ug_error_set(&opt->err, UG_ERR_NUMERIC,
                            "optimizer for group '%s': non-finite gradient norm at update %lld; "
                            "update skipped",
                            gname, (long long)(opt->step + 1));
    if (n == 0) {
        opt->step++;
        opt->last_lr = ug_lr_at(c, opt->step);
        return UG_OK;
    }
    if (c->clip_value > 0) {
        be->clamp(g, n, c->clip_value);
        sq = be->sum_squares(g, n);  // global-norm clipping sees the value-clipped gradient
    }
    if (c->clip_norm > 0) {
        double coef = (double)c->clip_norm / (sqrt(sq) + 1e-6);
        if (coef < 1.0) be->scale(g, n, (float)coef);
    }

    const int64_t t = opt->step + 1;
    const double lr = ug_lr_at(c, t);
    if (c->algorithm == UG_OPTIM_SGD) {
        be->sgd(p, g, opt->m, n, c->weight_decay, c->momentum, (float)-lr, opt->step == 0);
    } else {
        /* Scalars are formed in double as in torch's Python code, then rounded once to float. */
        const double b1 = c->beta1, b2 = c->beta2;
        const double bc1 = 1.0 - pow(b1, (double)t), bc2 = 1.0 - pow(b2, (double)t);
        ug_adam_args a = {
            .p = p, .g = g, .m = opt->m, .v = opt->v, .n = n,
            .w1 = (float)(1.0 - b1), .b2 = (float)b2, .w2 = (float)(1.0 - b2),
            .wd_l2 = c->algorithm == UG_OPTIM_ADAM ? c->weight_decay : 0.0f,
            .neg_step = (float)(-(lr / bc1)), .bc2_sqrt = (float)sqrt(bc2), .eps = c->eps,
            .decoupled = c->algorithm == UG_OPTIM_ADAMW && c->weight_decay != 0.0f,
            .decay = (float)(1.0 - lr * (double)c->weight_decay),
        };
        be->adam(&a);
    }
    opt->step = t;
    opt->last_lr = (float)lr;
    return UG_OK;
}
