/* cmd_plugins.c — `unigfn plugins [NAME]`: what is installed, and each plugin's parameter schema. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char *type_name(ug_param_type t) {
    switch (t) {
    case UG_P_BOOL: return "bool";
    case UG_P_INT: return "int";
    case UG_P_FLOAT: return "float";
    case UG_P_STRING: return "string";
    case UG_P_ENUM: return "enum";
    case UG_P_INT_LIST: return "int list";
    case UG_P_FLOAT_LIST: return "float list";
    case UG_P_STRING_LIST: return "string list";
    }
    return "?";
}

/* A bound as a reader writes it: 16777216, not 1.67772e+07. */
static void print_bound(double v) {
    if (v == floor(v) && fabs(v) < 1e17) printf("%.0f", v);
    else printf("%g", v);
}

static void print_range(const ug_param_spec *p) {
    if (p->type == UG_P_ENUM && p->choices) { printf("  one of %s", p->choices); return; }
    if (!(p->flags & (UG_P_MIN | UG_P_MAX))) return;
    printf("  range %s", (p->flags & UG_P_MIN) ? ((p->flags & UG_P_MIN_OPEN) ? "(" : "[") : "(");
    if (p->flags & UG_P_MIN) print_bound(p->lo); else printf("-inf");
    printf(", ");
    if (p->flags & UG_P_MAX) print_bound(p->hi); else printf("inf");
    printf("%s", (p->flags & UG_P_MAX) ? ((p->flags & UG_P_MAX_OPEN) ? ")" : "]") : ")");
}

static void print_schema(const ug_plugin_ref *r) {
    const ug_plugin_desc *d = r->desc;
    printf("%s %s %s — %s\n  from %s\n", ug_kind_name((ug_plugin_kind)d->kind), d->name, d->version ? d->version : "",
           d->summary ? d->summary : "", r->path);
    /* Keys the spec adds to every entry of this kind, beside the plugin's own. */
    if (d->kind == UG_KIND_OBJECTIVE)
        printf("  spec keys of every term: plugin, updates (parameter groups, required), weight (default 1)\n");
    else if (d->kind == UG_KIND_METRIC)
        printf("  spec keys of every metric: plugin, every (default 0 = train.eval_every), at_end_only (default false),\n"
               "    prefix (default \"\", put before each reported key)\n");
    if (!d->params || !d->params[0].key) { printf("  (no parameters)\n"); return; }
    printf("  parameters:\n");
    for (const ug_param_spec *p = d->params; p->key; p++) {
        printf("    %-18s %-11s", p->key, type_name(p->type));
        if (p->def) printf("  default %s", p->def);
        else printf("  required");
        print_range(p);
        printf("\n");
        if (p->doc) printf("        %s\n", p->doc);
    }
}

/* Markdown text with '|' escaped, so a summary such as KL(P_B||P_F) stays in its cell. */
static void print_cell(const char *t) {
    for (; t && *t; t++) {
        if (*t == '|') putchar('\\');
        putchar(*t);
    }
}

/* `plugins --markdown`: the README's table of what is implemented, one row a plugin, grouped by kind
 * in the registry's order; tests/test_readme_plugins.sh checks the README carries exactly this. */
static void print_markdown(ug_registry *reg) {
    printf("| kind | plugin | version | what it is |\n|---|---|---|---|\n");
    for (int i = 0; i < ug_registry_count(reg); i++) {
        const ug_plugin_desc *d = ug_registry_at(reg, i)->desc;
        printf("| %s | `%s` | %s | ", ug_kind_name((ug_plugin_kind)d->kind), d->name, d->version ? d->version : "");
        print_cell(d->summary);
        printf(" |\n");
    }
}

int cli_plugins(cli_env *env, int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        printf("usage: unigfn plugins [NAME ...] | --markdown\n"
               "  without NAME: every plugin found (kind, name, version, summary); with NAME: its parameters,\n"
               "  their types, defaults and documentation; --markdown: the list as the README's table\n");
        return 0;
    }
    int n = ug_registry_count(env->reg);
    for (int i = 0; i < ug_registry_problem_count(env->reg); i++)
        fprintf(stderr, "unigfn: warning: %s\n", ug_registry_problem(env->reg, i));
    if (argc == 1 && strcmp(argv[0], "--markdown") == 0) { print_markdown(env->reg); return 0; }
    if (argc == 0) {
        for (int i = 0; i < n; i++) {
            const ug_plugin_desc *d = ug_registry_at(env->reg, i)->desc;
            printf("%-10s %-16s %-8s %s\n", ug_kind_name((ug_plugin_kind)d->kind), d->name,
                   d->version ? d->version : "", d->summary ? d->summary : "");
        }
        return 0;
    }
    int found = 0;
    for (int a = 0; a < argc; a++)
        for (int i = 0; i < n; i++) {
            const ug_plugin_ref *r = ug_registry_at(env->reg, i);
            if (strcmp(r->desc->name, argv[a]) == 0) {
                if (found++) printf("\n");
                print_schema(r);
            }
        }
    if (!found) {
        fprintf(stderr, "unigfn: no plugin named '%s' (unigfn plugins lists them)\n", argv[0]);
        return 1;
    }
    return 0;
}
