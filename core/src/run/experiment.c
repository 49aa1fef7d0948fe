/* experiment.c — build dataset, model, objective terms, optimizers and metrics from a resolved spec,
 * and save/restore their state in one checkpoint file. */
#include "unigfn/host/experiment.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unigfn/host/loader.h"

const char *ug_cfg_where(const ug_cfg *node, const char *key, char *buf, size_t cap) {
    if (node && node->line > 0)
        snprintf(buf, cap, "%s:%d:%d: %s", node->file, node->line, node->col, key);
    else if (node && node->file)
        snprintf(buf, cap, "%s: %s", node->file, key);
    else
        snprintf(buf, cap, "%s", key);
    return buf;
}

static ug_status spec_fail(ug_error *err, const ug_cfg *node, const char *key, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
static ug_status spec_fail(ug_error *err, const ug_cfg *node, const char *key, const char *fmt, ...) {
    char where[512], what[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return ug_error_set(err, UG_ERR_SPEC, "%s: %s", ug_cfg_where(node, key, where, sizeof where), what);
}

/* Whether a failure of code `c` is the machine's (memory, a file, a bug), not the spec's: building
 * then fails as a run does (exit 1), not as a spec error (exit 2) that says to change the spec. */
static bool machine_failure(ug_status c) { return c == UG_ERR_NOMEM || c == UG_ERR_IO || c == UG_ERR_INTERNAL; }

/* A plugin's create() failed: say which section and pass its message on (a spec error, unless the
 * plugin says it was the machine's). */
static ug_status create_fail(ug_error *err, const ug_cfg *section, const char *key, const char *kind,
                             const char *name, const ug_error *perr) {
    bool first = !err || err->code == UG_OK;
    ug_status st = spec_fail(err, section, key, "%s '%s' could not be created: %s", kind, name,
                             perr->code ? perr->msg : "create() returned NULL without a message");
    if (first && machine_failure(perr->code)) {
        st = perr->code;
        if (err) err->code = st;
    }
    return st;
}

static const ug_plugin_desc *need_plugin(ug_registry *reg, ug_plugin_kind kind, const ug_cfg *section,
                                         const char *key, ug_error *err) {
    const char *name = ug_cfg_str(section, "plugin", NULL);
    const ug_plugin_desc *d = NULL;
    if (name) {
        const ug_plugin_ref *r = ug_registry_find(reg, kind, name);
        d = r ? r->desc : NULL;
    }
    if (!d) {
        char k[128];
        snprintf(k, sizeof k, "%s.plugin", key);
        spec_fail(err, ug_cfg_find(section, "plugin"), k, "no %s plugin '%s'", ug_kind_name(kind), name ? name : "");
    }
    return d;
}

static ug_status check_caps(const ug_plugin_desc *d, const ug_cfg *section, const char *key, const ug_model *m,
                            ug_error *err) {
    if (!d->required_caps) return UG_OK;
    uint32_t need = d->required_caps(section), missing = need & ~m->info.caps;
    if (!missing) return UG_OK;
    char names[256] = "";
    for (int b = 0; b < UG_CAP_COUNT; b++)
        if (missing & (1u << b)) {
            if (names[0]) strncat(names, ", ", sizeof names - strlen(names) - 1);
            strncat(names, ug_cap_name(1u << b), sizeof names - strlen(names) - 1);
        }
    char k[128];
    snprintf(k, sizeof k, "%s.plugin", key);
    return spec_fail(err, ug_cfg_find(section, "plugin"), k,
                     "%s '%s' needs capability %s, which model '%s' does not provide with this configuration",
                     ug_kind_name((ug_plugin_kind)d->kind), d->name, names, m->name);
}

/* Core keys are read from the resolved spec, where the schema (spec/spec_check.c, numbers from
 * defaults.h) filled every default: no fallback is stated here. A core key missing from a resolved spec
 * is a bug, and is reported as one (the first such error sticks in err). */
static const ug_cfg *core_key(const ug_cfg *sec, const char *key, ug_error *err) {
    const ug_cfg *n = sec ? ug_cfg_find(sec, key) : NULL;
    if (!n && !err->code)
        ug_error_set(err, UG_ERR_INTERNAL, "core key '%s' is not in the resolved spec (spec/spec_check.c fills it)", key);
    return n;
}
static int64_t key_int(const ug_cfg *sec, const char *key, ug_error *err) {
    const ug_cfg *n = core_key(sec, key, err);
    return n ? n->i : 0;
}
static double key_float(const ug_cfg *sec, const char *key, ug_error *err) {
    const ug_cfg *n = core_key(sec, key, err);
    return n ? n->f : 0;
}
static bool key_bool(const ug_cfg *sec, const char *key, ug_error *err) {
    const ug_cfg *n = core_key(sec, key, err);
    return n && n->b;
}
static const char *key_str(const ug_cfg *sec, const char *key, ug_error *err) {
    const ug_cfg *n = core_key(sec, key, err);
    return n && n->text ? n->text : "";
}

static ug_status build_optims(ug_experiment *ex, ug_error *err) {
    const ug_cfg *optim = ug_spec_section(ex->spec, "optim");
    int ng = ug_params_group_count(ex->params);
    /* Every optim group must exist in the model. */
    for (int i = 0; optim && i < optim->n; i++) {
        const ug_cfg *g = optim->items[i];
        if (ug_params_group_index(ex->params, g->key) < 0) {
            char known[512] = "";
            for (int k = 0; k < ng; k++) {
                const char *nm;
                ug_params_group_info(ex->params, k, &nm, NULL, NULL, NULL);
                if (known[0]) strncat(known, ", ", sizeof known - strlen(known) - 1);
                strncat(known, nm, sizeof known - strlen(known) - 1);
            }
            char k[128];
            snprintf(k, sizeof k, "optim.%s", g->key);
            return spec_fail(err, g, k, "model '%s' has no parameter group '%s' (its groups: %s)", ex->model.name,
                             g->key, known[0] ? known : "none");
        }
    }
    uint64_t updated = 0;
    for (int t = 0; t < ex->n_terms; t++) updated |= ex->terms[t].update_mask;
    for (int g = 0; g < ng; g++) {
        if (!((updated >> g) & 1u)) continue;
        const char *gname;
        ug_params_group_info(ex->params, g, &gname, NULL, NULL, NULL);
        const ug_cfg *oc = ug_spec_optim(ex->spec, gname);
        if (!oc) {
            char k[128];
            snprintf(k, sizeof k, "optim.%s", gname);
            return spec_fail(err, optim ? optim : ug_spec_root(ex->spec), k,
                             "parameter group '%s' is updated by an objective term but has no optimizer", gname);
        }
        ug_optim_config c = ug_optim_defaults(UG_OPTIM_ADAM);
        if (ug_optim_algo_from_name(key_str(oc, "algorithm", err), &c.algorithm) ||
            ug_lr_schedule_from_name(key_str(oc, "schedule", err), &c.schedule)) {
            char k[128];
            snprintf(k, sizeof k, "optim.%s", gname);
            return spec_fail(err, oc, k, "unknown algorithm or schedule");
        }
        /* A shorter betas list keeps the defaults' later entries, as before. */
        double betas[2] = {c.beta1, c.beta2};
        core_key(oc, "betas", err);
        ug_cfg_floats(oc, "betas", betas, 2);
        c.lr = (float)key_float(oc, "lr", err);
        c.beta1 = (float)betas[0];
        c.beta2 = (float)betas[1];
        c.eps = (float)key_float(oc, "eps", err);
        c.weight_decay = (float)key_float(oc, "weight_decay", err);
        c.momentum = (float)key_float(oc, "momentum", err);
        c.warmup_steps = key_int(oc, "warmup_steps", err);
        c.total_steps = ex->steps;
        c.min_lr = (float)key_float(oc, "min_lr", err);
        c.clip_norm = (float)key_float(oc, "clip_norm", err);
        c.clip_value = (float)key_float(oc, "clip_value", err);
        if (err->code) return err->code;
        int k = ex->n_optims;
        if (k >= UG_EX_MAX_OPTIMS) return ug_error_set(err, UG_ERR_SPEC, "optim: too many parameter groups");
        if (ug_optim_init(&ex->optims[k], ex->params, g, &c)) {
            char kk[128];
            snprintf(kk, sizeof kk, "optim.%s", gname);
            return spec_fail(err, oc, kk, "%s", ex->optims[k].err.msg);
        }
        ex->optim_group[k] = g;
        ex->n_optims++;
        double decay = key_float(oc, "ema", err);
        if (err->code) return err->code;
        ug_error eerr = {0};
        if (decay > 0 && ug_ema_init(&ex->ema[k], ex->params, g, (float)decay, &eerr)) {
            char kk[128];
            snprintf(kk, sizeof kk, "optim.%s.ema", gname);
            return spec_fail(err, ug_cfg_find(oc, "ema"), kk, "%s", eerr.msg);
        }
    }
    return UG_OK;
}

ug_status ug_experiment_build(ug_experiment *ex, ug_spec *spec, ug_registry *reg, ug_error *err) {
    memset(ex, 0, sizeof *ex);
    ex->spec = spec;
    const ug_cfg *root = ug_spec_root(spec);
    const ug_cfg *train = ug_spec_section(spec, "train");
    ex->seed = (uint64_t)key_int(root, "seed", err);
    ex->threads = (int)key_int(root, "threads", err);
    ex->steps = key_int(train, "steps", err);
    ex->batch = key_int(train, "batch", err);
    ex->eval_every = key_int(train, "eval_every", err);
    ex->checkpoint_every = key_int(train, "checkpoint_every", err);
    ex->log_every = key_int(train, "log_every", err);
    ex->eval_at_end = key_bool(train, "eval_at_end", err);
    ex->max_loss = key_float(train, "max_loss", err);
    ex->max_grad_norm = key_float(train, "max_grad_norm", err);
    const char *device = key_str(root, "device", err);
    if (err->code) return err->code;
    if (strcmp(device, "cpu") != 0)
        return spec_fail(err, ug_cfg_find(root, "device"), "device",
                         "device '%s' is not available in this build (the CUDA backend is not built yet); use cpu",
                         device);

    ex->ctx = ug_ctx_new(64u << 20);
    ex->params = ug_params_new();
    if (!ex->ctx || !ex->params) return ug_error_set(err, UG_ERR_NOMEM, "cannot allocate the numerics context");
    ug_set_threads(ex->ctx, ex->threads);
    ug_rng init_rng = ug_rng_make(ex->seed, UG_STREAM_INIT);

    /* dataset */
    const ug_cfg *dsec = ug_spec_section(spec, "dataset");
    if (!(ex->data_desc = need_plugin(reg, UG_KIND_DATASET, dsec, "dataset", err))) return err->code;
    ug_create_args a = {.size = sizeof a, .ctx = ex->ctx, .rng = &init_rng, .seed = ex->seed};
    ug_error perr = {0};
    a.cfg = dsec;
    ex->data = (ug_dataset){.size = sizeof(ug_dataset), .vt = ex->data_desc->vtable, .name = ex->data_desc->name};
    ex->data.self = ex->data_desc->create(&a, &perr);
    if (!ex->data.self) return create_fail(err, dsec, "dataset", "dataset", ex->data_desc->name, &perr);
    ex->data.info.size = sizeof ex->data.info;
    ex->data.vt->info(ex->data.self, &ex->data.info);

    /* model */
    const ug_cfg *msec = ug_spec_section(spec, "model");
    if (!(ex->model_desc = need_plugin(reg, UG_KIND_MODEL, msec, "model", err))) return err->code;
    a.cfg = msec;
    a.params = ex->params;
    a.data = &ex->data;
    ex->model = (ug_model){.size = sizeof(ug_model), .vt = ex->model_desc->vtable, .params = ex->params,
                           .name = ex->model_desc->name};
    ex->model.self = ex->model_desc->create(&a, &perr);
    if (!ex->model.self) return create_fail(err, msec, "model", "model", ex->model_desc->name, &perr);
    if (ug_params_finalize(ex->params)) {
        ug_status c = ug_params_status(ex->params);
        return ug_error_set(err, machine_failure(c) ? c : UG_ERR_SPEC, "model '%s': %s", ex->model.name,
                            ug_params_errmsg(ex->params));
    }
    ex->model.info.size = sizeof ex->model.info;
    ex->model.vt->info(ex->model.self, &ex->model.info);
    if (ex->model.info.space.kind != ex->data.info.space.kind || ex->model.info.space.dim != ex->data.info.space.dim)
        return spec_fail(err, ug_cfg_find(msec, "plugin"), "model.plugin",
                         "model '%s' generates a space (kind %u, dim %lld) that differs from dataset '%s' (kind %u, dim %lld)",
                         ex->model.name, ex->model.info.space.kind, (long long)ex->model.info.space.dim,
                         ex->data.name, ex->data.info.space.kind, (long long)ex->data.info.space.dim);

    /* objective terms */
    a.params = NULL;
    a.model = &ex->model;
    ex->n_terms = ug_spec_n_objectives(spec);
    if (ex->n_terms > UG_MAX_TERMS) return ug_error_set(err, UG_ERR_SPEC, "objective: at most %d terms", UG_MAX_TERMS);
    for (int t = 0; t < ex->n_terms; t++) {
        const ug_cfg *tc = ug_spec_objective(spec, t);
        char key[64];
        snprintf(key, sizeof key, "objective.%d", t);
        ug_term *term = &ex->terms[t];
        if (!(term->desc = need_plugin(reg, UG_KIND_OBJECTIVE, tc, key, err))) return err->code;
        if (check_caps(term->desc, tc, key, &ex->model, err)) return err->code;
        const char *groups[UG_EX_MAX_OPTIMS];
        int ng = ug_cfg_strs(tc, "updates", groups, UG_EX_MAX_OPTIMS);
        for (int i = 0; i < ng; i++) {
            int g = ug_params_group_index(ex->params, groups[i]);
            if (g < 0 || ug_params_group_size(ex->params, g) == 0) {
                char k[96];
                snprintf(k, sizeof k, "%s.updates", key);
                return spec_fail(err, ug_cfg_find(tc, "updates"), k,
                                 "model '%s' has no parameters in group '%s'", ex->model.name, groups[i]);
            }
            term->update_mask |= 1ull << g;
        }
        term->weight = (float)key_float(tc, "weight", err);
        term->every = key_int(tc, "every", err);
        term->phase = key_int(tc, "phase", err);
        term->start = key_int(tc, "start", err);
        term->stop = key_int(tc, "stop", err);
        if (err->code) return err->code;
        if (term->phase >= term->every) {
            char k[96];
            snprintf(k, sizeof k, "%s.phase", key);
            return spec_fail(err, ug_cfg_find(tc, "phase"), k, "phase %lld must be below every (%lld)",
                             (long long)term->phase, (long long)term->every);
        }
        if (term->stop > 0 && term->stop <= term->start) {
            char k[96];
            snprintf(k, sizeof k, "%s.stop", key);
            return spec_fail(err, ug_cfg_find(tc, "stop"), k, "stop %lld must be after start (%lld), or 0 for never",
                             (long long)term->stop, (long long)term->start);
        }
        term->vt = term->desc->vtable;
        int dup = 0;
        for (int u = 0; u < t; u++) dup += ex->terms[u].desc == term->desc;
        if (dup) snprintf(term->label, sizeof term->label, "%s.%d", term->desc->name, dup);
        else snprintf(term->label, sizeof term->label, "%s", term->desc->name);
        a.cfg = tc;
        term->self = term->desc->create(&a, &perr);
        if (!term->self) return create_fail(err, tc, key, "objective", term->desc->name, &perr);
    }

    /* metrics */
    ex->n_metrics = ug_spec_n_metrics(spec);
    if (ex->n_metrics > UG_MAX_METRICS) return ug_error_set(err, UG_ERR_SPEC, "metrics: at most %d", UG_MAX_METRICS);
    for (int m = 0; m < ex->n_metrics; m++) {
        const ug_cfg *mc = ug_spec_metric(spec, m);
        char key[64];
        snprintf(key, sizeof key, "metrics.%d", m);
        ug_metric_inst *mi = &ex->metrics[m];
        if (!(mi->desc = need_plugin(reg, UG_KIND_METRIC, mc, key, err))) return err->code;
        if (check_caps(mi->desc, mc, key, &ex->model, err)) return err->code;
        mi->vt = mi->desc->vtable;
        mi->every = key_int(mc, "every", err);
        mi->at_end_only = key_bool(mc, "at_end_only", err);
        mi->prefix = key_str(mc, "prefix", err);
        if (err->code) return err->code;
        a.cfg = mc;
        mi->self = mi->desc->create(&a, &perr);
        if (!mi->self) return create_fail(err, mc, key, "metric", mi->desc->name, &perr);
    }
    if (build_optims(ex, err)) return err->code;
    ug_step_reset(ex->ctx);
    if (ug_ctx_status(ex->ctx)) {
        ug_status c = ug_ctx_status(ex->ctx);
        return ug_error_set(err, machine_failure(c) ? c : UG_ERR_SPEC, "building the experiment: %s",
                            ug_ctx_errmsg(ex->ctx));
    }
    return UG_OK;
}

void ug_experiment_free(ug_experiment *ex) {
    for (int m = 0; m < ex->n_metrics; m++)
        if (ex->metrics[m].self) ex->metrics[m].desc->destroy(ex->metrics[m].self);
    for (int t = 0; t < ex->n_terms; t++)
        if (ex->terms[t].self) ex->terms[t].desc->destroy(ex->terms[t].self);
    if (ex->model.self) ex->model_desc->destroy(ex->model.self);
    if (ex->data.self) ex->data_desc->destroy(ex->data.self);
    for (int k = 0; k < ex->n_optims; k++) {
        ug_optim_free(&ex->optims[k]);
        ug_ema_free(&ex->ema[k]);
    }
    if (ex->params) ug_params_free(ex->params);
    if (ex->ctx) ug_ctx_free(ex->ctx);
    if (ex->spec) ug_spec_free(ex->spec);
    memset(ex, 0, sizeof *ex);
}

/* ---- checkpoints ---- */
#define MAX_EXTRA 4
#define MAX_BLOBS (2 + MAX_EXTRA + UG_EX_MAX_OPTIMS + UG_MAX_TERMS)

void ug_experiment_use_ema(ug_experiment *ex, bool on) {
    for (int k = 0; k < ex->n_optims; k++)
        if (ex->ema[k].shadow && ex->ema[k].swapped != (int)on) ug_ema_swap(&ex->ema[k]);
}

/* Blob names of the parameter averages, beside their optimizers: "ema.<group>". The blobs point at the
 * averages themselves, host memory on the CPU backend; a device backend would stage them as the
 * checkpoint stages parameter blocks. */
static int ema_blobs(ug_experiment *ex, ug_ckpt_blob *blobs, char (*names)[80]) {
    int nb = 0;
    for (int k = 0; k < ex->n_optims; k++) {
        if (!ex->ema[k].shadow) continue;
        const char *g = "?";
        ug_params_group_info(ex->params, ex->optim_group[k], &g, NULL, NULL, NULL);
        snprintf(names[nb], sizeof names[nb], "ema.%s", g);
        blobs[nb] = (ug_ckpt_blob){.name = names[nb], .data = ex->ema[k].shadow,
                                   .size = (size_t)ex->ema[k].count * sizeof(float)};
        nb++;
    }
    return nb;
}

ug_status ug_experiment_save(ug_experiment *ex, const char *path, int64_t step, const ug_ckpt_blob *extra,
                             int n_extra, ug_error *err) {
    if (n_extra < 0 || n_extra > MAX_EXTRA) return ug_error_set(err, UG_ERR_ARG, "checkpoint: %d extra blobs", n_extra);
    ug_ckpt_blob blobs[MAX_BLOBS];
    int nb = 0;
    blobs[nb++] = (ug_ckpt_blob){.name = "step", .data = &step, .size = sizeof step};
    for (int i = 0; i < n_extra; i++) blobs[nb++] = extra[i];
    char enames[UG_EX_MAX_OPTIMS][80];
    nb += ema_blobs(ex, blobs + nb, enames);
    void *mem[MAX_BLOBS] = {0};
    if (ex->model.vt->save_state) {
        size_t n = 0;
        if (ex->model.vt->save_state(ex->model.self, &mem[nb], &n))
            return ug_error_set(err, UG_ERR_IO, "model '%s' could not save its state", ex->model.name);
        blobs[nb] = (ug_ckpt_blob){.name = "model", .data = mem[nb], .size = n};
        nb++;
    }
    char names[UG_MAX_TERMS][80];
    for (int t = 0; t < ex->n_terms; t++) {
        if (!ex->terms[t].vt->save_state) continue;
        size_t n = 0;
        if (ex->terms[t].vt->save_state(ex->terms[t].self, &mem[nb], &n))
            return ug_error_set(err, UG_ERR_IO, "objective '%s' could not save its state", ex->terms[t].label);
        snprintf(names[t], sizeof names[t], "term.%d", t);
        blobs[nb] = (ug_ckpt_blob){.name = names[t], .data = mem[nb], .size = n};
        nb++;
    }
    ug_optim *opts[UG_EX_MAX_OPTIMS];
    for (int k = 0; k < ex->n_optims; k++) opts[k] = &ex->optims[k];
    ug_status st = ug_checkpoint_save(path, ex->params, opts, ex->n_optims, blobs, nb, err);
    for (int i = 0; i < MAX_BLOBS; i++) free(mem[i]);
    return st;
}

ug_status ug_experiment_load(ug_experiment *ex, const char *path, int64_t *step, ug_ckpt_blob *extra,
                             int n_extra, ug_error *err) {
    if (n_extra < 0 || n_extra > MAX_EXTRA) return ug_error_set(err, UG_ERR_ARG, "checkpoint: %d extra blobs", n_extra);
    ug_ckpt_blob blobs[MAX_BLOBS];
    int nb = 0, first_owned;
    blobs[nb++] = (ug_ckpt_blob){.name = "step", .data = step, .size = sizeof *step};
    int first_extra = nb;
    for (int i = 0; i < n_extra; i++) blobs[nb++] = extra[i];
    char enames[UG_EX_MAX_OPTIMS][80];
    nb += ema_blobs(ex, blobs + nb, enames);  /* required: the spec that saved them had the same `ema:` */
    first_owned = nb;
    int model_blob = -1, term_blob[UG_MAX_TERMS];
    char names[UG_MAX_TERMS][80];
    if (ex->model.vt->load_state) {
        model_blob = nb;
        blobs[nb++] = (ug_ckpt_blob){.name = "model", .optional = true};
    }
    for (int t = 0; t < ex->n_terms; t++) {
        term_blob[t] = -1;
        if (!ex->terms[t].vt->load_state) continue;
        snprintf(names[t], sizeof names[t], "term.%d", t);
        term_blob[t] = nb;
        blobs[nb++] = (ug_ckpt_blob){.name = names[t], .optional = true};
    }
    ug_optim *opts[UG_EX_MAX_OPTIMS];
    for (int k = 0; k < ex->n_optims; k++) opts[k] = &ex->optims[k];
    ug_status st = ug_checkpoint_load(path, ex->params, opts, ex->n_optims, blobs, nb, err);
    if (!st && model_blob >= 0 && blobs[model_blob].found &&
        ex->model.vt->load_state(ex->model.self, blobs[model_blob].data, blobs[model_blob].size))
        st = ug_error_set(err, UG_ERR_IO, "%s: model '%s' could not restore its state", path, ex->model.name);
    for (int t = 0; !st && t < ex->n_terms; t++) {
        int b = term_blob[t];
        if (b >= 0 && blobs[b].found && ex->terms[t].vt->load_state(ex->terms[t].self, blobs[b].data, blobs[b].size))
            st = ug_error_set(err, UG_ERR_IO, "%s: objective '%s' could not restore its state", path, ex->terms[t].label);
    }
    for (int i = 0; i < n_extra; i++) extra[i].found = blobs[first_extra + i].found;
    for (int i = first_owned; i < nb; i++) free(blobs[i].data);
    return st;
}

ug_status ug_experiment_init_params(ug_experiment *ex, const char *path, int64_t *step, ug_ckpt_blob *extra,
                                    int n_extra, ug_error *err) {
    if (n_extra < 0 || n_extra > MAX_EXTRA) return ug_error_set(err, UG_ERR_ARG, "checkpoint: %d extra blobs", n_extra);
    ug_ckpt_blob blobs[1 + MAX_EXTRA];
    int nb = 0;
    blobs[nb++] = (ug_ckpt_blob){.name = "step", .data = step, .size = sizeof *step};
    for (int i = 0; i < n_extra; i++) blobs[nb++] = extra[i];
    /* No optimizers and none of the plugins' blobs: the file's optimizer sections and state are skipped. */
    ug_status st = ug_checkpoint_load(path, ex->params, NULL, 0, blobs, nb, err);
    for (int i = 0; i < n_extra; i++) extra[i].found = blobs[1 + i].found;
    if (st) return st;
    /* The averages began at the values the build drew; they begin again at the loaded ones. */
    for (int k = 0; k < ex->n_optims; k++)
        if (ex->ema[k].shadow) ug_ema_restart(&ex->ema[k]);
    return UG_OK;
}
