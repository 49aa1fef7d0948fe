/* test_spec_bounds.c — every integer key of every schema has an upper bound the spec check enforces,
 * generated from the schemas rather than a hand list: the core schemas (ug_spec_core_schemas) and the
 * schema of every plugin the loader finds (the build's plugins and the test plugins). For each
 * UG_P_INT key, and each UG_P_INT_LIST key that has a bound, in a spec that places its plugin where
 * its kind goes:
 *   - the key has UG_P_MAX with a bound inside int64 (a new key without one fails here: give it one
 *     of config.h's UG_BOUND_*);
 *   - its largest and smallest allowed integers are accepted;
 *   - one past either end, 2^61 (train.batch=2305843009213693952 segfaulted `run`, issue 20),
 *     INT64_MAX and INT64_MIN are refused as spec errors naming the key (for lists, its element 0);
 *   - 2^63 (past int64) is refused as out of range.
 * The size arithmetic behind these (base/ckd.h) is checked in test_tensor_sizes.c; the CLI's exit codes
 * for the same values in test_hostile_input.sh. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "unigfn/host/loader.h"
#include "unigfn/host/spec.h"
#include "unigfn/plugin.h"

static ug_spec_registry g_view;
static int g_keys;

/* The spec every case starts from; the slot of the plugin under test is replaced. */
typedef struct slots {
    char dataset[512], model[512], objective[512], metric[512];
} slots;

static void default_slots(slots *s) {
    snprintf(s->dataset, sizeof s->dataset, "{plugin: synthetic2d, data: checkerboard}");
    snprintf(s->model, sizeof s->model, "{plugin: binary_gfn, hidden: [8]}");
    snprintf(s->objective, sizeof s->objective, "{plugin: kl_tb, updates: [forward]}");
    snprintf(s->metric, sizeof s->metric, "{plugin: nll}");
}

static void spec_text(const slots *s, char *out, size_t cap) {
    snprintf(out, cap,
             "name: bounds\ndataset: %s\nmodel: %s\nobjective:\n  - %s\noptim: {forward: {lr: 0.001}}\n"
             "train: {steps: 10}\nmetrics:\n  - %s\n",
             s->dataset, s->model, s->objective, s->metric);
}

/* A value for a required key, so the plugin's section passes without the key under test. */
static void required_value(const ug_param_spec *p, char *out, size_t cap) {
    double lo = (p->flags & UG_P_MIN) ? ((p->flags & UG_P_MIN_OPEN) ? floor(p->lo) + 1 : ceil(p->lo)) : 1;
    switch (p->type) {
    case UG_P_ENUM: {
        const char *c = p->choices ? p->choices : "x";
        size_t n = strcspn(c, "|");
        snprintf(out, cap, "%.*s", (int)n, c);
        break;
    }
    case UG_P_INT: snprintf(out, cap, "%.0f", lo); break;
    case UG_P_FLOAT: snprintf(out, cap, "%.17g", (p->flags & UG_P_MIN) ? p->lo + 1 : 1.0); break;
    case UG_P_BOOL: snprintf(out, cap, "false"); break;
    case UG_P_INT_LIST: snprintf(out, cap, "[%.0f]", lo); break;
    case UG_P_FLOAT_LIST: snprintf(out, cap, "[%.17g]", (p->flags & UG_P_MIN) ? p->lo + 1 : 1.0); break;
    case UG_P_STRING_LIST: snprintf(out, cap, "[x]"); break;
    default: snprintf(out, cap, "x"); break;
    }
}

/* "{plugin: NAME, k: v, ...}" with every required key of the schema filled. */
static void plugin_slot(const char *name, const ug_param_spec *schema, const char *core, char *out, size_t cap) {
    size_t o = (size_t)snprintf(out, cap, "{plugin: %s%s", name, core);
    for (const ug_param_spec *p = schema; p && p->key && o < cap; p++) {
        if (!(p->flags & UG_P_REQUIRED)) continue;
        char v[128];
        required_value(p, v, sizeof v);
        o += (size_t)snprintf(out + o, cap - o, ", %s: %s", p->key, v);
    }
    if (o < cap) snprintf(out + o, cap - o, "}");
}

/* Load `text` with one override; UG_OK or the error (message in err). */
static ug_status try_value(const char *text, const char *key, const char *value, ug_error *err) {
    char ov[512];
    snprintf(ov, sizeof ov, "%s=%s", key, value);
    const char *ovs[1] = {ov};
    ug_spec *spec = NULL;
    *err = (ug_error){0};
    ug_status st = ug_spec_load_string("bounds.yaml", text, ovs, 1, &g_view, &spec, err);
    ug_spec_free(spec);
    return st;
}

static void expect_ok(const char *text, const char *key, const char *value) {
    ug_error err;
    ug_status st = try_value(text, key, value, &err);
    CHECK(st == UG_OK, "%s=%s: refused: %s", key, value, err.msg);
}

static void expect_refused(const char *text, const char *key, const char *named, const char *value,
                           const char *why) {
    ug_error err;
    ug_status st = try_value(text, key, value, &err);
    CHECK(st == UG_ERR_SPEC && strstr(err.msg, named) && strstr(err.msg, why),
          "%s=%s: want a spec error naming %s with '%s', got status %d: %s", key, value, named, why, (int)st,
          err.msg);
}

/* Every bounded integer key of one schema, placed at `section` of the spec `text`. */
static void check_schema(const char *who, const char *text, const char *section, const ug_param_spec *schema) {
    for (const ug_param_spec *p = schema; p && p->key; p++) {
        bool list = p->type == UG_P_INT_LIST;
        if (p->type != UG_P_INT && !list) continue;
        char key[256];
        snprintf(key, sizeof key, "%s%s%s", section, *section ? "." : "", p->key);
        if (!(p->flags & UG_P_MAX)) {
            /* Widths of a list (a model's hidden layers) are sized at build time by checked arithmetic
             * (test_tensor_sizes.c); a scalar count has no such excuse. */
            CHECK(list, "%s: %s has no upper bound (UG_P_MAX); give it one of config.h's UG_BOUND_*", who, key);
            continue;
        }
        double hi = (p->flags & UG_P_MAX_OPEN) ? ceil(p->hi) - 1 : floor(p->hi);
        double lo = !(p->flags & UG_P_MIN) ? -9.2233720368547758e18
                    : (p->flags & UG_P_MIN_OPEN) ? floor(p->lo) + 1 : ceil(p->lo);
        CHECK(hi < 9.2233720368547758e18, "%s: %s's bound %g is beyond int64: it bounds nothing", who, key, p->hi);
        if (!(hi < 9.2233720368547758e18)) continue;
        g_keys++;
        int64_t max = (int64_t)hi;
        char v[64], named[300];
        const char *fmt = list ? "[%" PRId64 "]" : "%" PRId64;
        snprintf(named, sizeof named, list ? "%s.0:" : "%s:", key);
        snprintf(v, sizeof v, fmt, max);
        expect_ok(text, key, v);
        snprintf(v, sizeof v, fmt, max + 1);
        expect_refused(text, key, named, v, "must be <");
        snprintf(v, sizeof v, fmt, (int64_t)1 << 61);
        expect_refused(text, key, named, v, "must be <");
        snprintf(v, sizeof v, fmt, INT64_MAX);
        expect_refused(text, key, named, v, "must be <");
        expect_refused(text, key, named, list ? "[9223372036854775808]" : "9223372036854775808", "out of range");
        if (lo > -9.2233720368547758e18) {
            int64_t min = (int64_t)lo;
            snprintf(v, sizeof v, fmt, min);
            expect_ok(text, key, v);
            snprintf(v, sizeof v, fmt, min - 1);
            expect_refused(text, key, named, v, "must be >");
            snprintf(v, sizeof v, fmt, INT64_MIN);
            expect_refused(text, key, named, v, "must be >");
        }
    }
}

int main(void) {
    /* the test plugins (nan_loss, test_bits) beside the build's own */
    const char *build = getenv("UG_BUILD_ROOT");
    char tp[4096];
    if (build) {
        snprintf(tp, sizeof tp, "%s/tests/plugins_test", build);
        setenv("UNIGFN_PLUGIN_PATH", tp, 1);
    }
    ug_registry *reg = ug_registry_new();
    ug_error err = {0};
    if (!reg || ug_registry_scan_default(reg, &err)) {
        fprintf(stderr, "registry: %s\n", err.msg);
        return 1;
    }
    ug_registry_spec_view(reg, &g_view);
    slots s;
    char text[4096];

    /* the base spec loads as it is */
    default_slots(&s);
    spec_text(&s, text, sizeof text);
    {
        ug_spec *spec = NULL;
        ug_status st = ug_spec_load_string("bounds.yaml", text, NULL, 0, &g_view, &spec, &err);
        CHECK(st == UG_OK, "base spec: %s", err.msg);
        ug_spec_free(spec);
    }

    /* core keys */
    const ug_spec_core_schema *core;
    int nc = ug_spec_core_schemas(&core);
    CHECK(nc >= 5, "%d core schemas", nc);
    for (int i = 0; i < nc; i++) check_schema("core", text, core[i].section, core[i].params);

    /* every plugin's keys, in the slot of its kind */
    int n_plugins = 0;
    for (int i = 0; i < ug_registry_count(reg); i++) {
        const ug_plugin_desc *d = ug_registry_at(reg, i)->desc;
        default_slots(&s);
        const char *section;
        switch (d->kind) {
        case UG_KIND_DATASET: plugin_slot(d->name, d->params, "", s.dataset, sizeof s.dataset); section = "dataset"; break;
        case UG_KIND_MODEL: plugin_slot(d->name, d->params, "", s.model, sizeof s.model); section = "model"; break;
        case UG_KIND_OBJECTIVE:
            plugin_slot(d->name, d->params, ", updates: [forward]", s.objective, sizeof s.objective);
            section = "objective.0";
            break;
        case UG_KIND_METRIC: plugin_slot(d->name, d->params, "", s.metric, sizeof s.metric); section = "metrics.0"; break;
        default: continue;
        }
        spec_text(&s, text, sizeof text);
        ug_spec *spec = NULL;
        ug_status st = ug_spec_load_string("bounds.yaml", text, NULL, 0, &g_view, &spec, &err);
        ug_spec_free(spec);
        char who[200];
        snprintf(who, sizeof who, "%s %s", ug_kind_name((ug_plugin_kind)d->kind), d->name);
        CHECK(st == UG_OK, "%s: the spec placing it does not load: %s", who, err.msg);
        if (st != UG_OK) continue;
        n_plugins++;
        check_schema(who, text, section, d->params);
    }
    printf("%d bounded integer keys checked over the core schemas and %d plugins\n", g_keys, n_plugins);
    CHECK(n_plugins >= 10, "only %d plugins found", n_plugins);
    CHECK(g_keys >= 30, "only %d keys", g_keys);
    ug_registry_free(reg);
    return CHECK_DONE();
}
