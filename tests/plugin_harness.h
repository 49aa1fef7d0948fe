/* plugin_harness.h — load real plugins through the loader and create them from spec text, the way the
 * runner does, for tests of dataset/model/metric plugins.
 *
 * Configs go through the real spec module (schema checks, defaults filled) with the real plugins'
 * schemas; the parts of a spec a test does not care about name the plugin "none", which this harness
 * accepts with an empty schema. */
#ifndef UG_TEST_PLUGIN_HARNESS_H
#define UG_TEST_PLUGIN_HARNESS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unigfn/host/loader.h"
#include "unigfn/host/spec.h"
#include "unigfn/nn.h"

typedef struct harness {
    ug_registry *reg;
    ug_spec_registry real;   /* the loader's view */
    ug_spec_registry wrap;   /* the same, plus "none" */
} harness;

static const ug_param_spec harness_empty_schema[] = {{NULL, 0, NULL, 0, 0, 0, NULL, NULL}};

static inline const ug_param_spec *harness_schema(void *ud, const char *kind, const char *name) {
    harness *h = ud;
    if (strcmp(name, "none") == 0) return harness_empty_schema;
    return h->real.schema(h->real.ud, kind, name);
}

static inline int harness_names(void *ud, const char *kind, const char **out, int cap) {
    harness *h = ud;
    return h->real.names(h->real.ud, kind, out, cap);
}

/* Scan build/plugins and load the test-only test_bits.so of build/tests/plugins_test. */
static inline int harness_open(harness *h) {
    memset(h, 0, sizeof *h);
    const char *root = getenv("UG_BUILD_ROOT");
    if (!root) {
        fprintf(stderr, "UG_BUILD_ROOT is not set (run through meson test)\n");
        return -1;
    }
    char dir[4096];
    ug_error err = {0};
    h->reg = ug_registry_new();
    snprintf(dir, sizeof dir, "%s/plugins", root);
    if (!h->reg || ug_registry_scan_dir(h->reg, dir, &err)) {
        fprintf(stderr, "scan %s: %s\n", dir, err.msg);
        return -1;
    }
    for (int i = 0; i < ug_registry_problem_count(h->reg); i++)
        fprintf(stderr, "loader problem (not fatal here): %s\n", ug_registry_problem(h->reg, i));
    snprintf(dir, sizeof dir, "%s/tests/plugins_test/test_bits.so", root);
    if (ug_registry_load_file(h->reg, dir, &err)) {
        fprintf(stderr, "load %s: %s\n", dir, err.msg);
        return -1;
    }
    ug_registry_spec_view(h->reg, &h->real);
    h->wrap.ud = h;
    h->wrap.schema = harness_schema;
    h->wrap.names = harness_names;
    return 0;
}

static inline void harness_close(harness *h) {
    if (h->reg) ug_registry_free(h->reg);
    h->reg = NULL;
}

/* A resolved spec from three YAML flow maps (model and metric may be NULL: "none" / no metric). */
static inline ug_spec *harness_spec(harness *h, const char *dataset, const char *model, const char *metric, ug_error *err) {
    char text[4096];
    snprintf(text, sizeof text,
             "dataset: %s\nmodel: %s\nobjective: [{plugin: none, updates: [forward]}]\n"
             "optim: {forward: {lr: 0.1}}\ntrain: {steps: 1}\nmetrics: [%s]\n",
             dataset, model ? model : "{plugin: none}", metric ? metric : "");
    ug_spec *s = NULL;
    if (ug_spec_load_string("harness.yaml", text, NULL, 0, &h->wrap, &s, err)) return NULL;
    return s;
}

static inline const ug_plugin_desc *harness_desc(harness *h, ug_plugin_kind kind, const ug_cfg *cfg) {
    const ug_plugin_ref *r = ug_registry_find(h->reg, kind, ug_cfg_str(cfg, "plugin", ""));
    return r ? r->desc : NULL;
}

/* Create the dataset of `spec` into *out (out->self NULL on failure, with err set). */
static inline int harness_dataset(harness *h, const ug_spec *spec, ug_ctx *ctx, uint64_t seed, ug_dataset *out, ug_error *err) {
    const ug_cfg *cfg = ug_spec_section(spec, "dataset");
    const ug_plugin_desc *d = harness_desc(h, UG_KIND_DATASET, cfg);
    memset(out, 0, sizeof *out);
    if (!d) return ug_error_set(err, UG_ERR_PLUGIN, "no dataset plugin '%s'", ug_cfg_str(cfg, "plugin", ""));
    ug_rng rng = ug_rng_make(seed, 1);
    ug_create_args a = {.size = sizeof a, .cfg = cfg, .ctx = ctx, .rng = &rng, .seed = seed};
    out->size = sizeof *out;
    out->vt = d->vtable;
    out->name = d->name;
    if (!(out->self = d->create(&a, err))) return err->code ? err->code : UG_ERR_INTERNAL;
    out->info.size = sizeof out->info;
    out->vt->info(out->self, &out->info);
    return 0;
}

static inline int harness_model(harness *h, const ug_spec *spec, ug_ctx *ctx, uint64_t seed, const ug_dataset *data,
                         ug_params *params, ug_model *out, ug_error *err) {
    const ug_cfg *cfg = ug_spec_section(spec, "model");
    const ug_plugin_desc *d = harness_desc(h, UG_KIND_MODEL, cfg);
    memset(out, 0, sizeof *out);
    if (!d) return ug_error_set(err, UG_ERR_PLUGIN, "no model plugin '%s'", ug_cfg_str(cfg, "plugin", ""));
    ug_rng rng = ug_rng_make(seed, 2);
    ug_create_args a = {.size = sizeof a, .cfg = cfg, .ctx = ctx, .params = params, .rng = &rng, .seed = seed, .data = data};
    out->size = sizeof *out;
    out->vt = d->vtable;
    out->name = d->name;
    out->params = params;
    if (!(out->self = d->create(&a, err))) return err->code ? err->code : UG_ERR_INTERNAL;
    if (params && ug_params_finalize(params)) return ug_error_set(err, UG_ERR_INTERNAL, "finalize: %s", ug_params_errmsg(params));
    out->info.size = sizeof out->info;
    out->vt->info(out->self, &out->info);
    return 0;
}

/* The first metric of `spec`; returns its descriptor and its object in *self. */
static inline const ug_plugin_desc *harness_metric(harness *h, const ug_spec *spec, ug_ctx *ctx, const ug_dataset *data,
                                            const ug_model *model, void **self, ug_error *err) {
    const ug_cfg *cfg = ug_spec_metric(spec, 0);
    const ug_plugin_desc *d = cfg ? harness_desc(h, UG_KIND_METRIC, cfg) : NULL;
    *self = NULL;
    if (!d) {
        ug_error_set(err, UG_ERR_PLUGIN, "no metric plugin");
        return NULL;
    }
    ug_create_args a = {.size = sizeof a, .cfg = cfg, .ctx = ctx, .data = data, .model = model};
    *self = d->create(&a, err);
    return *self ? d : NULL;
}

/* Run a metric once; returns its status (the context's message is in ug_ctx_errmsg on failure). */
static inline ug_status harness_evaluate(const ug_plugin_desc *d, void *self, ug_ctx *ctx, uint64_t seed, const ug_model *model,
                                  const ug_dataset *data, int64_t step, const char *dir, ug_metric_out *out) {
    ug_rng rng = ug_rng_make(seed, 3);
    ug_eval_env env = {.size = sizeof env, .ctx = ctx, .rng = &rng, .model = model, .data = data, .step = step, .artifact_dir = dir};
    memset(out, 0, sizeof *out);
    out->size = sizeof *out;
    bool g = ug_set_grad_enabled(ctx, false);
    ug_status st = ((const ug_metric_vtable *)d->vtable)->evaluate(self, &env, out);
    ug_set_grad_enabled(ctx, g);
    return st;
}

/* The value of `key` in a metric's output, or NAN. */
static inline double harness_value(const ug_metric_out *o, const char *key) {
    for (int i = 0; i < o->n_values; i++)
        if (strcmp(o->keys[i], key) == 0) return o->values[i];
    return NAN;
}

#endif
