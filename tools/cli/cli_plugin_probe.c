/* cli_plugin_probe.c — what `unigfn plugins NAME` says beyond the schema: the model capabilities an
 * objective or metric requires (its required_caps), and for a model the parameter groups it declares and
 * the capabilities it provides. Both may depend on the configuration (binary_gfn's log_z: true adds the
 * group logZ and the capability log_z), so each is shown for the defaults and then for every setting of
 * one boolean or choice parameter that changes it.
 *
 * Nothing here is declared twice: the answers come from the plugin itself, a model by being built (the
 * experiment builder's own first half, ug_experiment_build_model) on the first installed dataset that it
 * accepts (every dataset's defaults first, then each with one choice changed). The specs for that name
 * the parts not asked about "none", which this file's spec registry accepts with an empty schema. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "unigfn/host/util.h"

#define MAX_VARIANTS 64

/* ---- a spec registry: the real plugins, plus an objective "none" ---- */

static const ug_param_spec no_params[] = {{NULL, 0, NULL, 0, 0, 0, NULL, NULL}};

static const ug_param_spec *probe_schema(void *ud, const char *kind, const char *name) {
    const ug_spec_registry *real = ud;
    if (strcmp(name, "none") == 0) return no_params; /* never built: only its spec is read */
    return real->schema(real->ud, kind, name);
}

static int probe_names(void *ud, const char *kind, const char **out, int cap) {
    const ug_spec_registry *real = ud;
    return real->names(real->ud, kind, out, cap);
}

typedef struct probe {
    cli_env *env;
    ug_spec_registry real, wrap;
} probe;

static void probe_init(probe *p, cli_env *env) {
    p->env = env;
    ug_registry_spec_view(env->reg, &p->real);
    p->wrap = (ug_spec_registry){.ud = &p->real, .schema = probe_schema, .names = probe_names};
}

/* A spec around `section` (a flow map for the dataset, model, objective or metric, by kind). */
static ug_spec *probe_spec(probe *p, const char *dataset, const char *model, const char *objective, const char *metric,
                           ug_error *err) {
    char text[2048];
    snprintf(text, sizeof text,
             "dataset: %s\nmodel: %s\nobjective: [%s]\noptim: {probe: {lr: 1}}\ntrain: {steps: 1}\nmetrics: [%s]\n",
             dataset ? dataset : "{plugin: none}", model ? model : "{plugin: none}",
             objective ? objective : "{plugin: none, updates: [probe]}", metric ? metric : "");
    ug_spec *s = NULL;
    if (ug_spec_load_string("plugins", text, NULL, 0, &p->wrap, &s, err)) return NULL;
    return s;
}

/* ---- settings to try: the defaults, then one boolean flipped or one other choice ---- */

typedef struct variant {
    char key[64], value[64]; /* key empty: the defaults */
} variant;

static int variants_of(const ug_param_spec *params, variant *out, int cap) {
    int n = 0;
    out[n++] = (variant){"", ""};
    for (const ug_param_spec *ps = params; ps && ps->key && n < cap; ps++) {
        if (ps->type == UG_P_BOOL && ps->def) {
            bool on = strcmp(ps->def, "true") == 0;
            snprintf(out[n].key, sizeof out[n].key, "%s", ps->key);
            snprintf(out[n].value, sizeof out[n].value, "%s", on ? "false" : "true");
            n++;
        } else if (ps->type == UG_P_ENUM && ps->choices) {
            /* the value the defaults stand for: the schema's, or the first choice (section() fills it in) */
            const char *def = ps->def ? ps->def : ps->choices;
            size_t dl = ps->def ? strlen(ps->def) : strcspn(ps->choices, "|");
            for (const char *c = ps->choices; *c && n < cap;) {
                size_t l = strcspn(c, "|");
                if (!(dl == l && strncmp(def, c, l) == 0) && l < sizeof out[n].value) {
                    snprintf(out[n].key, sizeof out[n].key, "%s", ps->key);
                    snprintf(out[n].value, sizeof out[n].value, "%.*s", (int)l, c);
                    n++;
                }
                c += l + (c[l] == '|');
            }
        }
    }
    return n;
}

/* "{plugin: NAME, KEY: VALUE}" for the variant (none: the defaults), with the first choice of every
 * required choice parameter the variant leaves alone (synthetic2d's `data`); true, false and choices are
 * plain YAML words. Empty when it does not fit, which no spec accepts. */
static void section(char *buf, size_t cap, const ug_plugin_desc *d, const variant *v, const char *extra) {
    ug_sbuf b = {0};
    ug_sbuf_printf(&b, "{plugin: %s", d->name);
    if (v && v->key[0]) ug_sbuf_printf(&b, ", %s: %s", v->key, v->value);
    for (const ug_param_spec *ps = d->params; ps && ps->key; ps++)
        if ((ps->flags & UG_P_REQUIRED) && !ps->def && ps->type == UG_P_ENUM && ps->choices &&
            !(v && strcmp(v->key, ps->key) == 0))
            ug_sbuf_printf(&b, ", %s: %.*s", ps->key, (int)strcspn(ps->choices, "|"), ps->choices);
    ug_sbuf_printf(&b, "%s}", extra ? extra : "");
    if (!b.oom && b.s && b.n < cap) memcpy(buf, b.s, b.n + 1);
    else buf[0] = 0;
    free(b.s);
}

static void cap_list(uint32_t caps, char *buf, size_t cap) {
    buf[0] = 0;
    for (int b = 0; b < UG_CAP_COUNT; b++)
        if (caps & (1u << b)) {
            size_t l = strlen(buf);
            snprintf(buf + l, cap - l, "%s%s", l ? ", " : "", ug_cap_name(1u << b));
        }
    if (!buf[0]) snprintf(buf, cap, "none");
}

/* ---- objectives and metrics: required_caps ---- */

static bool required_caps(probe *p, const ug_plugin_desc *d, const variant *v, uint32_t *caps, ug_error *err) {
    char sec[256];
    bool objective = d->kind == UG_KIND_OBJECTIVE;
    section(sec, sizeof sec, d, v, objective ? ", updates: [probe]" : NULL);
    ug_spec *s = probe_spec(p, NULL, NULL, objective ? sec : NULL, objective ? NULL : sec, err);
    if (!s) return false;
    *caps = d->required_caps(objective ? ug_spec_objective(s, 0) : ug_spec_metric(s, 0));
    ug_spec_free(s);
    return true;
}

static void show_required(probe *p, const ug_plugin_desc *d) {
    char list[256];
    if (!d->required_caps) {
        printf("  model capabilities it requires: none\n");
        return;
    }
    variant v[MAX_VARIANTS];
    int n = variants_of(d->params, v, MAX_VARIANTS);
    uint32_t base;
    ug_error err = {0};
    if (!required_caps(p, d, &v[0], &base, &err)) {
        printf("  model capabilities it requires: not known (its defaults do not make a spec: %s)\n", err.msg);
        return;
    }
    cap_list(base, list, sizeof list);
    printf("  model capabilities it requires (defaults): %s\n", list);
    for (int k = 1; k < n; k++) {
        uint32_t c;
        err = (ug_error){0};
        if (!required_caps(p, d, &v[k], &c, &err) || c == base) continue;
        cap_list(c, list, sizeof list);
        printf("    with %s: %s: %s\n", v[k].key, v[k].value, list);
    }
}

/* ---- models: parameter groups and provided capabilities, from a built model ---- */

typedef struct built {
    char names[512];  /* "forward, backward": what a variant is compared by */
    char groups[512]; /* the same with each group's number of values */
    uint32_t caps;
    int64_t dim; /* of the dataset's space */
} built;

static bool build_model(probe *p, const char *dataset, const char *model, built *out, ug_error *err) {
    ug_spec *s = probe_spec(p, dataset, model, NULL, NULL, err);
    if (!s) return false;
    ug_experiment ex;
    bool ok = ug_experiment_build_model(&ex, s, p->env->reg, err) == UG_OK;
    if (ok) {
        out->groups[0] = out->names[0] = 0;
        for (int g = 0; g < ug_params_group_count(ex.params); g++) {
            const char *name;
            int64_t count = 0;
            ug_params_group_info(ex.params, g, &name, NULL, NULL, &count);
            size_t l = strlen(out->groups), ln = strlen(out->names);
            snprintf(out->groups + l, sizeof out->groups - l, "%s%s (%lld value%s)", l ? ", " : "", name, (long long)count,
                     count == 1 ? "" : "s");
            snprintf(out->names + ln, sizeof out->names - ln, "%s%s", ln ? ", " : "", name);
        }
        if (!out->groups[0]) snprintf(out->groups, sizeof out->groups, "none");
        out->caps = ex.model.info.caps;
        out->dim = ex.data.info.space.dim;
    }
    ug_experiment_free(&ex); /* frees s too */
    return ok;
}

/* The dataset to show a model on: of the installed datasets that build it with their defaults, the one
 * of the smallest dimension (the cheapest to build, and the answer does not hinge on which picture
 * datasets have their files here); failing that, the first with one choice changed that does. */
static bool find_dataset(probe *p, const ug_plugin_desc *m, char *dsec, size_t cap, char *shown, size_t scap, built *base,
                         char *why, size_t wcap) {
    char msec[128];
    section(msec, sizeof msec, m, NULL, NULL);
    snprintf(why, wcap, "no dataset is installed");
    bool first = true, found = false;
    for (int pass = 0; pass < 2 && !found; pass++)
        for (int i = 0; i < ug_registry_count(p->env->reg); i++) {
            const ug_plugin_desc *d = ug_registry_at(p->env->reg, i)->desc;
            if (d->kind != UG_KIND_DATASET) continue;
            variant v[MAX_VARIANTS];
            int n = variants_of(d->params, v, MAX_VARIANTS);
            for (int k = pass; k < (pass ? n : 1); k++) {
                char sec[256];
                section(sec, sizeof sec, d, &v[k], NULL);
                ug_error err = {0};
                built b;
                if (!build_model(p, sec, msec, &b, &err)) {
                    if (first) snprintf(why, wcap, "%s", err.msg);
                    first = false;
                    continue;
                }
                if (found && b.dim >= base->dim) continue;
                *base = b;
                found = true;
                snprintf(dsec, cap, "%s", sec);
                if (v[k].key[0]) snprintf(shown, scap, "%s (%s: %s)", d->name, v[k].key, v[k].value);
                else snprintf(shown, scap, "%s", d->name);
                if (pass) return true;
            }
        }
    return found;
}

static void show_model(probe *p, const ug_plugin_desc *m) {
    char dsec[256], shown[160], why[UG_ERRMSG_MAX], list[256];
    built base;
    if (!find_dataset(p, m, dsec, sizeof dsec, shown, sizeof shown, &base, why, sizeof why)) {
        printf("  parameter groups and capabilities: not known (no installed dataset builds it with its defaults; %s)\n", why);
        return;
    }
    cap_list(base.caps, list, sizeof list);
    printf("  parameter groups (defaults, on dataset %s): %s\n", shown, base.groups);
    printf("  capabilities it provides (defaults): %s\n", list);
    variant v[MAX_VARIANTS];
    int n = variants_of(m->params, v, MAX_VARIANTS);
    for (int k = 1; k < n; k++) {
        char msec[256];
        section(msec, sizeof msec, m, &v[k], NULL);
        built b;
        ug_error err = {0};
        if (!build_model(p, dsec, msec, &b, &err)) continue;
        /* the group sizes follow every width: say only what names other groups or capabilities */
        bool same_groups = strcmp(b.names, base.names) == 0;
        if (same_groups && b.caps == base.caps) continue;
        cap_list(b.caps, list, sizeof list);
        printf("    with %s: %s: groups %s; provides %s\n", v[k].key, v[k].value, b.groups, list);
    }
}

void cli_show_plugin_needs(cli_env *env, const ug_plugin_desc *d) {
    probe p;
    probe_init(&p, env);
    if (d->kind == UG_KIND_OBJECTIVE || d->kind == UG_KIND_METRIC) show_required(&p, d);
    else if (d->kind == UG_KIND_MODEL) show_model(&p, d);
}
