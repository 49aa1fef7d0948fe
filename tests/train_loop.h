/* train_loop.h — a small training loop over real plugins for end-to-end tests of model families and
 * objectives: load plugins through the real loader, resolve a YAML spec against their real schemas,
 * create the model and the objective terms, and step one optimizer per parameter group.
 *
 * It is deliberately smaller than the runner (no store, no metrics, no checkpoints) so a test controls
 * every batch: `dataset: {plugin: none}` builds a dataset-less run whose batches come from a callback
 * the test supplies (e.g. exact draws from a target distribution); any other dataset plugin is created
 * and its train_batch is used when no callback is given. Random streams follow the runner's layout:
 * (seed, 1) initialisation, (seed, 2) data, (seed, 16 + t) objective term t.
 *
 *   ug_registry *reg = tl_registry(&err);
 *   tl_run r;
 *   if (tl_open(&r, reg, yaml, overrides, n, &err)) ... err.msg ...
 *   tl_train(&r, steps, my_batch_fn, my_state);   // or tl_step() in a loop
 *   double z = tl_log(&r, 0, "logZ");
 *   tl_close(&r); ug_registry_free(reg);
 *
 * Header-only (static inline) so each test includes it without a build change. */
#ifndef UG_TEST_TRAIN_LOOP_H
#define UG_TEST_TRAIN_LOOP_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "unigfn/host/loader.h"
#include "unigfn/host/spec.h"
#include "unigfn/host/optim.h"
#include "unigfn/plugin.h"

#define TL_MAX_TERMS 8

/* Fill *out with a [B, D] training batch for this step (in the step arena of ctx). */
typedef ug_status (*tl_batch_fn)(void *ud, ug_ctx *ctx, ug_rng *rng, int64_t B, int64_t step, ug_tensor **out);

typedef struct tl_term {
    const ug_plugin_desc *desc;
    void *self;
    const ug_cfg *cfg;
    uint64_t mask;          /* groups its loss is backpropagated into */
    float weight;
    ug_rng rng;
    double loss;            /* value of the latest step (before the weight) */
    ug_loss_out out;        /* latest logs */
} tl_term;

typedef struct tl_run {
    ug_registry *reg;
    ug_spec *spec;
    ug_ctx *ctx;
    ug_params *P;
    uint64_t seed;
    ug_rng init_rng, data_rng;
    const ug_plugin_desc *data_desc;  /* NULL for `none` */
    ug_dataset data;
    const ug_plugin_desc *model_desc;
    ug_model model;
    int n_terms;
    tl_term terms[TL_MAX_TERMS];
    int n_opt;
    ug_optim opt[UG_MAX_GROUPS];
    int64_t steps, batch, step;
    ug_error err;
} tl_run;

/* ---- plugins ---- */

/* A registry holding every plugin built under $UG_BUILD_ROOT/plugins. */
static inline ug_registry *tl_registry(ug_error *err) {
    const char *root = getenv("UG_BUILD_ROOT");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/plugins", root ? root : "build");
    ug_registry *reg = ug_registry_new();
    if (!reg) {
        ug_error_set(err, UG_ERR_NOMEM, "out of memory");
        return NULL;
    }
    if (ug_registry_scan_dir(reg, dir, err)) {
        ug_registry_free(reg);
        return NULL;
    }
    /* the test-only plugins (test_bits: a binary dataset of any D for models that take D from data) */
    snprintf(dir, sizeof dir, "%s/tests/plugins_test", root ? root : "build");
    if (ug_registry_scan_dir(reg, dir, err)) {
        ug_registry_free(reg);
        return NULL;
    }
    return reg;
}

static const ug_param_spec tl_empty_schema[] = {{NULL, 0, NULL, 0, 0, 0, NULL, NULL}};

static inline const ug_param_spec *tl_schema(void *ud, const char *kind, const char *name) {
    if (strcmp(kind, "dataset") == 0 && strcmp(name, "none") == 0) return tl_empty_schema;
    const ug_plugin_ref *ref = ug_registry_find(ud, (ug_plugin_kind)ug_kind_from_name(kind), name);
    if (!ref) return NULL;
    return ref->desc->params ? ref->desc->params : tl_empty_schema;
}

static inline int tl_names(void *ud, const char *kind, const char **out, int cap) {
    ug_registry *reg = ud;
    int n = 0, k = ug_kind_from_name(kind);
    if (k == UG_KIND_DATASET && n < cap) out[n++] = "none";
    for (int i = 0; i < ug_registry_count(reg) && n < cap; i++)
        if ((int)ug_registry_at(reg, i)->desc->kind == k) out[n++] = ug_registry_at(reg, i)->desc->name;
    return n;
}

/* ---- optimizers from the spec's optim.<group> map ---- */

static inline ug_status tl_optim_config(const ug_cfg *c, int64_t total, ug_optim_config *cfg, ug_error *err) {
    ug_optim_algo algo;
    if (ug_optim_algo_from_name(ug_cfg_str(c, "algorithm", "adam"), &algo))
        return ug_error_set(err, UG_ERR_SPEC, "unknown optimizer '%s'", ug_cfg_str(c, "algorithm", "?"));
    *cfg = ug_optim_defaults(algo);
    cfg->lr = (float)ug_cfg_float(c, "lr", cfg->lr);
    double betas[2];
    if (ug_cfg_floats(c, "betas", betas, 2) == 2) {
        cfg->beta1 = (float)betas[0];
        cfg->beta2 = (float)betas[1];
    }
    cfg->eps = (float)ug_cfg_float(c, "eps", cfg->eps);
    cfg->weight_decay = (float)ug_cfg_float(c, "weight_decay", cfg->weight_decay);
    cfg->momentum = (float)ug_cfg_float(c, "momentum", cfg->momentum);
    if (ug_lr_schedule_from_name(ug_cfg_str(c, "schedule", "constant"), &cfg->schedule))
        return ug_error_set(err, UG_ERR_SPEC, "unknown schedule '%s'", ug_cfg_str(c, "schedule", "?"));
    cfg->warmup_steps = ug_cfg_int(c, "warmup_steps", 0);
    cfg->total_steps = total;
    cfg->min_lr = (float)ug_cfg_float(c, "min_lr", 0);
    cfg->clip_norm = (float)ug_cfg_float(c, "clip_norm", 0);
    cfg->clip_value = (float)ug_cfg_float(c, "clip_value", 0);
    return UG_OK;
}

/* ---- building a run ---- */

static inline void tl_close(tl_run *r) {
    for (int t = 0; t < r->n_terms; t++)
        if (r->terms[t].self) r->terms[t].desc->destroy(r->terms[t].self);
    if (r->model.self) r->model_desc->destroy(r->model.self);
    if (r->data.self) r->data_desc->destroy(r->data.self);
    for (int g = 0; g < r->n_opt; g++) ug_optim_free(&r->opt[g]);
    ug_params_free(r->P);
    ug_ctx_free(r->ctx);
    ug_spec_free(r->spec);
    memset(r, 0, sizeof *r);
}

/* Load `yaml` (with key=value overrides) against the plugins' schemas and build everything. On
 * failure the message is in err and r is closed. */
static inline ug_status tl_open(tl_run *r, ug_registry *reg, const char *yaml, const char *const *ovr, int n_ovr,
                                ug_error *err) {
    memset(r, 0, sizeof *r);
    r->reg = reg;
    ug_spec_registry view = {reg, tl_schema, tl_names};
    ug_status st = ug_spec_load_string("test.yaml", yaml, ovr, n_ovr, &view, &r->spec, err);
    if (st) return st;
    r->seed = (uint64_t)ug_cfg_int(ug_spec_root(r->spec), "seed", 0);
    r->init_rng = ug_rng_make(r->seed, 1);
    r->data_rng = ug_rng_make(r->seed, 2);
    const ug_cfg *train = ug_spec_section(r->spec, "train");
    r->steps = ug_cfg_int(train, "steps", 1);
    r->batch = ug_cfg_int(train, "batch", 128);
    r->ctx = ug_ctx_new(16u << 20);
    r->P = ug_params_new();
    if (!r->ctx || !r->P) {
        tl_close(r);
        return ug_error_set(err, UG_ERR_NOMEM, "out of memory");
    }
    ug_set_threads(r->ctx, 1);

    const ug_cfg *dcfg = ug_spec_section(r->spec, "dataset");
    const char *dname = ug_cfg_str(dcfg, "plugin", "none");
    if (strcmp(dname, "none") != 0) {
        r->data_desc = ug_registry_find(reg, UG_KIND_DATASET, dname)->desc;
        ug_create_args a = {.size = sizeof a, .cfg = dcfg, .ctx = r->ctx, .rng = &r->init_rng, .seed = r->seed};
        r->data = (ug_dataset){.size = sizeof(ug_dataset), .vt = r->data_desc->vtable, .name = r->data_desc->name};
        if (!(r->data.self = r->data_desc->create(&a, err))) goto fail;
        r->data.info.size = sizeof r->data.info;
        r->data.vt->info(r->data.self, &r->data.info);
    }

    const ug_cfg *mcfg = ug_spec_section(r->spec, "model");
    r->model_desc = ug_registry_find(reg, UG_KIND_MODEL, ug_cfg_str(mcfg, "plugin", "?"))->desc;
    ug_create_args ma = {.size = sizeof ma, .cfg = mcfg, .ctx = r->ctx, .params = r->P, .rng = &r->init_rng,
                         .seed = r->seed, .data = r->data_desc ? &r->data : NULL};
    r->model = (ug_model){.size = sizeof(ug_model), .vt = r->model_desc->vtable, .params = r->P,
                          .name = r->model_desc->name};
    if (!(r->model.self = r->model_desc->create(&ma, err))) goto fail;
    if (ug_params_finalize(r->P)) {
        ug_error_set(err, UG_ERR_PLUGIN, "model parameters: %s", ug_params_errmsg(r->P));
        goto fail;
    }
    r->model.info.size = sizeof r->model.info;
    r->model.vt->info(r->model.self, &r->model.info);
    ug_step_reset(r->ctx);

    const ug_cfg *optim = ug_spec_section(r->spec, "optim");
    uint64_t used = 0;
    r->n_terms = ug_spec_n_objectives(r->spec);
    if (r->n_terms > TL_MAX_TERMS) {
        ug_error_set(err, UG_ERR_SPEC, "at most %d objective terms", TL_MAX_TERMS);
        r->n_terms = 0;
        goto fail;
    }
    for (int t = 0; t < r->n_terms; t++) {
        tl_term *T = &r->terms[t];
        T->cfg = ug_spec_objective(r->spec, t);
        const char *name = ug_cfg_str(T->cfg, "plugin", "?");
        T->desc = ug_registry_find(reg, UG_KIND_OBJECTIVE, name)->desc;
        T->weight = (float)ug_cfg_float(T->cfg, "weight", 1.0);
        T->rng = ug_rng_make(r->seed, 16 + (uint64_t)t);
        uint32_t need = T->desc->required_caps ? T->desc->required_caps(T->cfg) : 0;
        for (uint32_t bit = 1; bit; bit <<= 1)
            if ((need & bit) && !(r->model.info.caps & bit)) {
                ug_error_set(err, UG_ERR_SPEC, "objective '%s' needs capability '%s' that model '%s' does not provide",
                             name, ug_cap_name(bit), r->model.name);
                goto fail;
            }
        const char *groups[UG_MAX_GROUPS];
        int ng = ug_cfg_strs(T->cfg, "updates", groups, UG_MAX_GROUPS);
        for (int g = 0; g < ng; g++) {
            int gi = ug_params_group_index(r->P, groups[g]);
            if (gi < 0) {
                ug_error_set(err, UG_ERR_SPEC, "objective '%s' updates group '%s' that model '%s' does not have", name,
                             groups[g], r->model.name);
                goto fail;
            }
            T->mask |= 1ull << gi;
        }
        used |= T->mask;
        ug_create_args oa = {.size = sizeof oa, .cfg = T->cfg, .ctx = r->ctx, .rng = &r->init_rng, .seed = r->seed,
                             .data = r->data_desc ? &r->data : NULL, .model = &r->model};
        if (!(T->self = T->desc->create(&oa, err))) goto fail;
    }
    for (int g = 0; g < ug_params_group_count(r->P); g++) {
        if (!((used >> g) & 1u)) continue;
        const char *gname;
        ug_params_group_info(r->P, g, &gname, NULL, NULL, NULL);
        const ug_cfg *oc = ug_cfg_find(optim, gname);
        ug_optim_config oc_cfg;
        if (!oc) {
            ug_error_set(err, UG_ERR_SPEC, "no optimizer for group '%s'", gname);
            goto fail;
        }
        if (tl_optim_config(oc, r->steps, &oc_cfg, err)) goto fail;
        if (ug_optim_init(&r->opt[r->n_opt], r->P, g, &oc_cfg)) {
            ug_error_set(err, UG_ERR_SPEC, "optimizer for '%s': %s", gname, r->opt[r->n_opt].err.msg);
            ug_optim_free(&r->opt[r->n_opt]);
            goto fail;
        }
        r->n_opt++;
    }
    return UG_OK;
fail:
    tl_close(r);
    return err->code ? err->code : UG_ERR_PLUGIN;
}

/* ---- training ---- */

/* One step: a batch (callback, else the dataset, else none), every term's loss backpropagated into
 * its groups, one update per optimizer, then the step arena is reset. */
static inline ug_status tl_step(tl_run *r, tl_batch_fn fn, void *ud, ug_error *err) {
    ug_ctx *ctx = r->ctx;
    ug_params_zero_grad(r->P, ~0ull);
    ug_tensor *batch = NULL;
    ug_status st = UG_OK;
    if (fn)
        st = fn(ud, ctx, &r->data_rng, r->batch, r->step, &batch);
    else if (r->data_desc)
        st = r->data.vt->train_batch(r->data.self, ctx, &r->data_rng, r->batch, r->step, &batch);
    if (st) {
        ug_error_set(err, st, "step %lld: batch: %s", (long long)r->step, ug_ctx_status(ctx) ? ug_ctx_errmsg(ctx) : "failed");
        goto out;
    }
    for (int t = 0; t < r->n_terms; t++) {
        tl_term *T = &r->terms[t];
        ug_step_env env = {.size = sizeof env, .ctx = ctx, .rng = &T->rng, .model = &r->model,
                           .data = r->data_desc ? &r->data : NULL, .batch = batch, .step = r->step,
                           .total_steps = r->steps, .update_mask = T->mask};
        memset(&T->out, 0, sizeof T->out);
        T->out.size = sizeof T->out;
        st = T->desc->vtable ? ((const ug_objective_vtable *)T->desc->vtable)->loss(T->self, &env, &T->out) : UG_ERR_PLUGIN;
        if (!st && !T->out.loss) st = ug_ctx_fail(ctx, UG_ERR_PLUGIN, "no loss returned");
        if (st) {
            ug_error_set(err, st, "step %lld: objective '%s': %s", (long long)r->step, T->desc->name,
                         ug_ctx_status(ctx) ? ug_ctx_errmsg(ctx) : ug_status_name(st));
            goto out;
        }
        T->loss = ug_item(T->out.loss);
        if (!isfinite(T->loss)) {
            st = ug_error_set(err, UG_ERR_NUMERIC, "step %lld: objective '%s': loss is %g", (long long)r->step,
                              T->desc->name, T->loss);
            goto out;
        }
        ug_tensor *loss = T->weight == 1.0f ? T->out.loss : ug_mul_scalar(ctx, T->out.loss, T->weight);
        if ((st = ug_backward(ctx, loss, T->mask))) {
            ug_error_set(err, st, "step %lld: backward of '%s': %s", (long long)r->step, T->desc->name, ug_ctx_errmsg(ctx));
            goto out;
        }
    }
    for (int g = 0; g < r->n_opt; g++)
        if ((st = ug_optim_step(&r->opt[g], NULL))) {
            ug_error_set(err, st, "step %lld: optimizer: %s", (long long)r->step, r->opt[g].err.msg);
            goto out;
        }
    r->step++;
out:
    ug_step_reset(ctx);
    return st;
}

static inline ug_status tl_train(tl_run *r, int64_t steps, tl_batch_fn fn, void *ud, ug_error *err) {
    for (int64_t s = 0; s < steps; s++) {
        ug_status st = tl_step(r, fn, ud, err);
        if (st) return st;
    }
    return UG_OK;
}

/* Latest value term t logged under key, or NAN. */
static inline double tl_log(const tl_run *r, int t, const char *key) {
    const ug_loss_out *o = &r->terms[t].out;
    for (int i = 0; i < o->n_logs; i++)
        if (o->log_keys[i] && strcmp(o->log_keys[i], key) == 0) return o->log_values[i];
    return NAN;
}

/* Monotonic seconds, for the tests that print how long their training took. */
static inline double tl_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#endif
