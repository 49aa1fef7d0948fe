/* spec_yaml.c — YAML text to a ug_cfg tree with positions (libyaml document API).
 *
 * libyaml accepts duplicate keys and expands aliases by sharing nodes (an anchor can even contain an
 * alias to itself), so this walk detects duplicates, caps depth and node count, and copies every
 * reference into its own node: the tree it returns is a plain tree that later stages may edit. */
#include "spec/spec_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* ---- scalar typing (YAML 1.2 core schema, plus yes/no booleans) ---- */

static bool is_one_of(const char *s, const char *const *list) {
    for (; *list; list++)
        if (strcmp(s, *list) == 0) return true;
    return false;
}

/* [-+]? ( digits ( . digits? )? | . digits ) ( [eE] [-+]? digits )? with at least one digit. */
static bool float_syntax(const char *s) {
    if (*s == '+' || *s == '-') s++;
    int digits = 0;
    while (*s >= '0' && *s <= '9') s++, digits++;
    if (*s == '.') {
        s++;
        while (*s >= '0' && *s <= '9') s++, digits++;
    }
    if (!digits) return false;
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-') s++;
        int ed = 0;
        while (*s >= '0' && *s <= '9') s++, ed++;
        if (!ed) return false;
    }
    return *s == 0;
}

static bool int_syntax(const char *s) {
    if (*s == '+' || *s == '-') s++;
    if (!*s) return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9') return false;
    return true;
}

void ug_spec_infer_scalar(ug_cfg *node) {
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
    static const char *const trues[] = {"true", "True", "TRUE", "yes", "Yes", "YES", NULL};
    static const char *const falses[] = {"false", "False", "FALSE", "no", "No", "NO", NULL};
    static const char *const infs[] = {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", NULL};
    static const char *const ninfs[] = {"-.inf", "-.Inf", "-.INF", NULL};
    static const char *const nans[] = {".nan", ".NaN", ".NAN", NULL};
    const char *s = node->text ? node->text : "";
    node->type = UG_CFG_STRING;
    if (is_one_of(s, nulls)) {
        node->type = UG_CFG_NULL;
    } else if (is_one_of(s, trues) || is_one_of(s, falses)) {
        node->type = UG_CFG_BOOL;
        node->b = is_one_of(s, trues);
    } else if (int_syntax(s)) {
        errno = 0;
        long long v = strtoll(s, NULL, 10);
        if (errno == ERANGE) { /* too big for int64: keep it as a number, typed float */
            node->type = UG_CFG_FLOAT;
            node->f = strtod(s, NULL);
        } else {
            node->type = UG_CFG_INT;
            node->i = v;
            node->f = (double)v;
        }
    } else if (float_syntax(s)) {
        node->type = UG_CFG_FLOAT;
        node->f = strtod(s, NULL);
    } else if (is_one_of(s, infs)) {
        node->type = UG_CFG_FLOAT;
        node->f = INFINITY;
    } else if (is_one_of(s, ninfs)) {
        node->type = UG_CFG_FLOAT;
        node->f = -INFINITY;
    } else if (is_one_of(s, nans)) {
        node->type = UG_CFG_FLOAT;
        node->f = NAN;
    }
    if (node->type == UG_CFG_FLOAT && isfinite(node->f) && node->f == floor(node->f) &&
        fabs(node->f) < 9.2e18)
        node->i = (int64_t)node->f;
}

/* ---- conversion ---- */

typedef struct conv {
    spec_ctx *c;
    yaml_document_t *doc;
    const char *file;
    int cmd_line;
} conv;

static ug_cfg *new_node(conv *v, ug_cfg_type t, yaml_mark_t m) {
    ug_cfg_pool *p = v->c->spec->pool;
    if (v->cmd_line > 0) return ug_cfg_new(p, t, UG_SPEC_FILE_CMDLINE, v->cmd_line, 0);
    return ug_cfg_new(p, t, v->file, (int)m.line + 1, (int)m.column + 1);
}

typedef struct key_ref {
    const char *key;
    int index;
} key_ref;

static int key_ref_cmp(const void *a, const void *b) {
    const key_ref *x = a, *y = b;
    int r = strcmp(x->key, y->key);
    return r ? r : (x->index > y->index) - (x->index < y->index);
}

/* The first repeated key in file order, as the index of its second occurrence (-1: none). Sorting
 * keeps this O(n log n) for the long maps a fuzzer likes to write. */
static ug_status find_duplicate(spec_ctx *c, const ug_cfg *map, int *dup, int *first) {
    *dup = -1;
    if (map->n < 2) return UG_OK;
    key_ref *refs = malloc((size_t)map->n * sizeof *refs);
    if (!refs) return ug_spec_nomem(c);
    for (int k = 0; k < map->n; k++) refs[k] = (key_ref){map->items[k]->key, k};
    qsort(refs, (size_t)map->n, sizeof *refs, key_ref_cmp);
    for (int k = 1; k < map->n; k++) {
        if (strcmp(refs[k].key, refs[k - 1].key) != 0) continue;
        /* refs[k-1] is the earliest of its run only when k-1 starts the run */
        if (k >= 2 && strcmp(refs[k - 2].key, refs[k].key) == 0) continue;
        if (*dup < 0 || refs[k].index < *dup) {
            *dup = refs[k].index;
            *first = refs[k - 1].index;
        }
    }
    free(refs);
    return UG_OK;
}

static ug_status convert(conv *v, yaml_node_t *yn, const char *path, int depth, ug_cfg **out);

/* `path` is the dotted key of `node`, for messages. */
static ug_status convert_children(conv *v, yaml_node_t *yn, ug_cfg *node, const char *path, int depth) {
    ug_cfg_pool *p = v->c->spec->pool;
    if (yn->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *it = yn->data.sequence.items.start; it < yn->data.sequence.items.top;
             it++) {
            ug_cfg *child;
            char cp[512];
            ug_spec_join_index(cp, sizeof cp, path, node->n);
            ug_status st = convert(v, yaml_document_get_node(v->doc, *it), cp, depth + 1, &child);
            if (st) return st;
            if (ug_cfg_append(p, node, child)) return ug_spec_nomem(v->c);
        }
        return UG_OK;
    }
    for (yaml_node_pair_t *pr = yn->data.mapping.pairs.start; pr < yn->data.mapping.pairs.top; pr++) {
        yaml_node_t *kn = yaml_document_get_node(v->doc, pr->key);
        yaml_node_t *vn = yaml_document_get_node(v->doc, pr->value);
        if (!kn || !vn) return ug_spec_fail(v->c, node, NULL, "malformed YAML mapping");
        if (kn->type != YAML_SCALAR_NODE) {
            ug_cfg *at = new_node(v, UG_CFG_NULL, kn->start_mark);
            if (!at) return ug_spec_nomem(v->c);
            return ug_spec_fail(v->c, at, path, "a key must be a plain scalar, not a %s",
                             kn->type == YAML_MAPPING_NODE ? "map" : "list");
        }
        ug_cfg *child;
        char *key = ug_cfg_pool_strndup(p, (const char *)kn->data.scalar.value, kn->data.scalar.length);
        if (!key) return ug_spec_nomem(v->c);
        char cp[512];
        ug_spec_join(cp, sizeof cp, path, key);
        ug_status st = convert(v, vn, cp, depth + 1, &child);
        if (st) return st;
        /* an entry lives where its key is written: that is where a reader looks for it */
        if (v->cmd_line <= 0) {
            child->line = (int)kn->start_mark.line + 1;
            child->col = (int)kn->start_mark.column + 1;
        }
        child->key = key;
        if (ug_cfg_append(p, node, child)) return ug_spec_nomem(v->c);
    }
    int dup, first;
    ug_status st = find_duplicate(v->c, node, &dup, &first);
    if (st) return st;
    if (dup >= 0) {
        const ug_cfg *a = node->items[first], *b = node->items[dup];
        char kp[512];
        ug_spec_join(kp, sizeof kp, path, b->key);
        if (v->cmd_line > 0) return ug_spec_fail(v->c, b, kp, "duplicate key");
        return ug_spec_fail(v->c, b, kp, "duplicate key (first given at line %d, column %d)", a->line,
                         a->col);
    }
    return UG_OK;
}

static ug_status convert(conv *v, yaml_node_t *yn, const char *path, int depth, ug_cfg **out) {
    *out = NULL;
    if (!yn) return ug_spec_fail(v->c, NULL, NULL, "malformed YAML document");
    static const ug_cfg_type types[] = {
        [YAML_SCALAR_NODE] = UG_CFG_STRING,
        [YAML_SEQUENCE_NODE] = UG_CFG_LIST,
        [YAML_MAPPING_NODE] = UG_CFG_MAP,
    };
    if (yn->type != YAML_SCALAR_NODE && yn->type != YAML_SEQUENCE_NODE && yn->type != YAML_MAPPING_NODE)
        return ug_spec_fail(v->c, NULL, NULL, "malformed YAML document");
    ug_cfg *node = new_node(v, types[yn->type], yn->start_mark);
    if (!node) return ug_spec_nomem(v->c);
    if (depth > SPEC_MAX_DEPTH)
        return ug_spec_fail(v->c, node, NULL, "nested more than %d levels deep (an alias loop?)",
                         SPEC_MAX_DEPTH);
    if (++v->c->n_nodes > SPEC_MAX_NODES)
        return ug_spec_fail(v->c, node, NULL, "more than %d values (aliases expanding?)", SPEC_MAX_NODES);
    if (yn->type == YAML_SCALAR_NODE) {
        node->text = ug_cfg_pool_strndup(v->c->spec->pool, (const char *)yn->data.scalar.value,
                                         yn->data.scalar.length);
        if (!node->text) return ug_spec_nomem(v->c);
        /* a quoted or block scalar is a string whatever it looks like */
        if (yn->data.scalar.style == YAML_PLAIN_SCALAR_STYLE || yn->data.scalar.style == YAML_ANY_SCALAR_STYLE)
            ug_spec_infer_scalar(node);
        *out = node;
        return UG_OK;
    }
    ug_status st = convert_children(v, yn, node, path, depth);
    if (st) return st;
    *out = node;
    return UG_OK;
}

/* ---- parse ---- */

/* libyaml's reader errors carry a byte offset, not a mark. */
static void offset_to_pos(const char *text, size_t len, size_t off, int *line, int *col) {
    *line = 1;
    *col = 1;
    for (size_t k = 0; k < off && k < len; k++) {
        if (text[k] == '\n') {
            ++*line;
            *col = 1;
        } else if (((unsigned char)text[k] & 0xC0) != 0x80) {
            ++*col;
        }
    }
}

static ug_status yaml_failure(spec_ctx *c, const yaml_parser_t *p, const char *file, int cmd_line,
                              const char *text, size_t len) {
    if (p->error == YAML_MEMORY_ERROR) return ug_spec_nomem(c);
    ug_cfg at = {.file = file};
    if (cmd_line > 0) {
        at.file = UG_SPEC_FILE_CMDLINE;
        at.line = cmd_line;
    } else if (p->error == YAML_READER_ERROR) {
        offset_to_pos(text, len, p->problem_offset, &at.line, &at.col);
    } else {
        at.line = (int)p->problem_mark.line + 1;
        at.col = (int)p->problem_mark.column + 1;
    }
    const char *problem = p->problem ? p->problem : "unknown error";
    const char *what = cmd_line > 0 ? "invalid YAML value" : "YAML syntax error";
    if (p->error == YAML_READER_ERROR) {
        if (p->problem_value >= 0)
            return ug_spec_fail(c, &at, NULL, "%s: %s (#x%X)", what, problem, (unsigned)p->problem_value);
        return ug_spec_fail(c, &at, NULL, "%s: %s", what, problem);
    }
    if (p->context && cmd_line > 0) /* a position inside a one-line value says nothing more */
        return ug_spec_fail(c, &at, NULL, "%s: %s (%s)", what, problem, p->context);
    if (p->context)
        return ug_spec_fail(c, &at, NULL, "%s: %s (%s at line %d, column %d)", what, problem, p->context,
                         (int)p->context_mark.line + 1, (int)p->context_mark.column + 1);
    return ug_spec_fail(c, &at, NULL, "%s: %s", what, problem);
}

ug_status ug_spec_parse_yaml(spec_ctx *c, const char *file, int cmd_line, const char *path,
                          const char *text, size_t len, ug_cfg **out) {
    *out = NULL;
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) return ug_spec_nomem(c);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    ug_status st = UG_OK;
    if (!yaml_parser_load(&parser, &doc)) {
        st = yaml_failure(c, &parser, file, cmd_line, text, len);
        yaml_parser_delete(&parser);
        return st;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (root) {
        conv v = {c, &doc, file, cmd_line};
        st = convert(&v, root, path, 0, out);
    }
    yaml_document_delete(&doc);
    if (st == UG_OK && root) {
        /* one document per spec: a second one is almost always a stray '---' or a pasted file */
        yaml_document_t doc2;
        if (!yaml_parser_load(&parser, &doc2)) {
            st = yaml_failure(c, &parser, file, cmd_line, text, len);
        } else {
            yaml_node_t *r2 = yaml_document_get_root_node(&doc2);
            if (r2) {
                ug_cfg at = {.file = file, .line = (int)doc2.start_mark.line + 1,
                             .col = (int)doc2.start_mark.column + 1};
                if (cmd_line > 0) at = (ug_cfg){.file = UG_SPEC_FILE_CMDLINE, .line = cmd_line};
                st = ug_spec_fail(c, &at, NULL, "a spec is one YAML document; a second one starts here");
            }
            yaml_document_delete(&doc2);
        }
    }
    yaml_parser_delete(&parser);
    if (st) *out = NULL;
    return st;
}
