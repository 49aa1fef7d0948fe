/* plugin_probe.c — test tool: run the default plugin search (build or installed folder, then
 * UNIGFN_PLUGIN_PATH) and print what was found, like `unigfn plugins [NAME...]`.
 *
 *   plugin_probe [plugins] [NAME...]
 * Without names it lists every plugin; with names it shows each one's file and schema and fails when
 * one is missing. Refusals go to stderr. Exit status: 0 found, 1 missing or search failed. */
#include <stdio.h>
#include <string.h>

#include "unigfn/host/loader.h"

static const char *type_name(ug_param_type t) {
    static const char *const names[] = {"?", "bool", "int", "float", "string", "enum", "int list", "float list",
                                        "string list"};
    return t >= UG_P_BOOL && t <= UG_P_STRING_LIST ? names[t] : "?";
}

static void show(const ug_plugin_ref *r) {
    const ug_plugin_desc *d = r->desc;
    printf("%s %s %s: %s\n  file: %s\n", ug_kind_name((ug_plugin_kind)d->kind), d->name,
           d->version ? d->version : "-", d->summary ? d->summary : "", r->path);
    if (d->required_caps) {
        uint32_t caps = d->required_caps(NULL);
        printf("  needs (default config):");
        for (int b = 0; b < 32; b++)
            if (caps & (1u << b)) printf(" %s", ug_cap_name(1u << b));
        printf("\n");
    }
    for (const ug_param_spec *p = d->params; p && p->key; p++)
        printf("  %-16s %-11s %-10s %s\n", p->key, type_name(p->type), p->def ? p->def : "(required)",
               p->doc ? p->doc : "");
}

int main(int argc, char **argv) {
    int first = argc > 1 && strcmp(argv[1], "plugins") == 0 ? 2 : 1;
    ug_registry *reg = ug_registry_new();
    ug_error err = {0};
    if (!reg || ug_registry_scan_default(reg, &err) != UG_OK) {
        fprintf(stderr, "plugin_probe: %s\n", reg ? err.msg : "out of memory");
        ug_registry_free(reg);
        return 1;
    }
    for (int i = 0; i < ug_registry_problem_count(reg); i++) fprintf(stderr, "refused: %s\n", ug_registry_problem(reg, i));
    int missing = 0;
    if (first >= argc) {
        for (int i = 0; i < ug_registry_count(reg); i++) {
            const ug_plugin_ref *r = ug_registry_at(reg, i);
            printf("%-10s %-20s %s (%s)\n", ug_kind_name((ug_plugin_kind)r->desc->kind), r->desc->name,
                   r->desc->summary ? r->desc->summary : "", r->path);
        }
    }
    for (int a = first; a < argc; a++) {
        int found = 0;
        for (int k = UG_KIND_MODEL; k <= UG_KIND_METRIC; k++) {
            const ug_plugin_ref *r = ug_registry_find(reg, (ug_plugin_kind)k, argv[a]);
            if (r) {
                show(r);
                found = 1;
            }
        }
        if (!found) {
            fprintf(stderr, "plugin_probe: no plugin named '%s'\n", argv[a]);
            missing = 1;
        }
    }
    ug_registry_free(reg);
    return missing;
}
