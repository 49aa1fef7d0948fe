/* cmd_plugins.c — `unigfn plugins [NAME]`: what is installed, and each plugin's parameter schema, with
 * what it requires of a model or, for a model, its groups and capabilities (cli_plugin_probe.c). */
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "unigfn/host/util.h"

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

static void print_schema(cli_env *env, const ug_plugin_ref *r) {
    const ug_plugin_desc *d = r->desc;
    printf("%s %s %s — %s\n  from %s\n", ug_kind_name((ug_plugin_kind)d->kind), d->name, d->version ? d->version : "",
           d->summary ? d->summary : "", r->path);
    /* Keys the spec adds to every entry of this kind, beside the plugin's own. */
    if (d->kind == UG_KIND_OBJECTIVE)
        printf("  spec keys of every term: plugin, updates (parameter groups, required), weight (default 1)\n");
    else if (d->kind == UG_KIND_METRIC)
        printf("  spec keys of every metric: plugin, every (default 0 = train.eval_every), at_end_only (default false),\n"
               "    prefix (default \"\", put before each reported key)\n");
    cli_show_plugin_needs(env, d);
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

static const char PLUGINS_USAGE[] =
    "usage: unigfn plugins [NAME ...] | --markdown\n"
    "  without NAME: every plugin found (kind, name, version, summary); with NAME: its parameters,\n"
    "  their types, defaults and documentation; for an objective or metric the model capabilities\n"
    "  it requires, for a model its parameter groups and the capabilities it provides (with the\n"
    "  defaults, and with each boolean or choice that changes them); --markdown: the list as the\n"
    "  README's table. Exit 1 when a NAME is no installed plugin (the closest one is named).\n"
    "examples:\n"
    "  unigfn plugins ddpm nll\n"
    "  unigfn plugins --markdown\n";

int cli_plugins(cli_env *env, int argc, char **argv) {
    enum { O_MARKDOWN = 256 };
    static const struct option opts[] = {{"markdown", no_argument, NULL, O_MARKDOWN},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    bool markdown = false;
    int c;
    while ((c = cli_getopt(argc, argv, ":h", opts)) != -1) {
        if (c == 'h') { fputs(PLUGINS_USAGE, stdout); return 0; }
        if (c != O_MARKDOWN) return cli_bad_option("plugins", c, argv, PLUGINS_USAGE);
        markdown = true;
    }
    int n_names;
    char **names = cli_operands(argc, argv, &n_names);
    if (markdown && n_names)
        return cli_extra_operand("plugins", PLUGINS_USAGE, "--markdown lists every plugin, not named ones", names[0]);
    int n = ug_registry_count(env->reg);
    for (int i = 0; i < ug_registry_problem_count(env->reg); i++)
        fprintf(stderr, "unigfn: warning: %s\n", ug_registry_problem(env->reg, i));
    if (markdown) { print_markdown(env->reg); return 0; }
    if (n_names == 0) {
        for (int i = 0; i < n; i++) {
            const ug_plugin_desc *d = ug_registry_at(env->reg, i)->desc;
            printf("%-10s %-16s %-8s %s\n", ug_kind_name((ug_plugin_kind)d->kind), d->name,
                   d->version ? d->version : "", d->summary ? d->summary : "");
        }
        return 0;
    }
    /* every name is checked first: one misspelt name prints nothing but why */
    cli_names all = {.n = 0};
    for (int i = 0; i < n; i++) cli_names_add(&all, ug_registry_at(env->reg, i)->desc->name);
    int missing = 0;
    for (int a = 0; a < n_names; a++)
        if (!cli_names_has(&all, names[a])) {
            const char *near = ug_closest_name(names[a], (const char *const *)all.names, all.n);
            char shown[160];
            ug_shown(names[a], SIZE_MAX, shown, sizeof shown);
            if (near) fprintf(stderr, "unigfn plugins: no plugin named '%s' (did you mean '%s'?)\n", shown, near);
            else fprintf(stderr, "unigfn plugins: no plugin named '%s' (unigfn plugins lists them)\n", shown);
            missing++;
        }
    cli_names_free(&all);
    if (missing) return 1;
    int found = 0;
    for (int a = 0; a < n_names; a++)
        for (int i = 0; i < n; i++) {
            const ug_plugin_ref *r = ug_registry_at(env->reg, i);
            if (strcmp(r->desc->name, names[a]) == 0) {
                if (found++) printf("\n");
                print_schema(env, r);
            }
        }
    return 0;
}
