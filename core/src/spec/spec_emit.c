/* ug_spec_emit.c — the resolved tree as canonical YAML, its run id, and its flattened (key, value) leaves.
 *
 * The canonical text depends only on values: the checker already put keys in schema order and typed
 * every scalar, so here numbers print from their value (1e5 and 100000 agree), floats in the shortest
 * form that reads back exactly, and strings quoted only where YAML would misread them. The run id hashes
 * the same text minus UG_P_ID_OPTIONAL keys that sit at their default (config.h). */
#include "spec/spec_internal.h"
#include "unigfn/host/sha256.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- growable text ---- */

typedef struct sbuf {
    char *s;
    size_t n, cap;
    bool oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->n + n + 1 > cap) cap *= 2;
        char *ns = realloc(b->s, cap);
        if (!ns) {
            b->oom = true;
            return;
        }
        b->s = ns;
        b->cap = cap;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
}

static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_pad(sbuf *b, int n) {
    for (int k = 0; k < n; k++) sb_put(b, " ", 1);
}

/* ---- scalars ---- */

void ug_spec_fmt_double(double v, char *buf, size_t n) {
    if (isnan(v)) {
        snprintf(buf, n, ".nan");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, n, v > 0 ? ".inf" : "-.inf");
        return;
    }
    if (v == 0) v = 0; /* -0 and 0 are one value to a spec */
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) return;
    }
}

/* Plain only when YAML reads the text back as this same string in block and flow context. */
static bool plain_ok(const char *s) {
    if (!*s) return false;
    unsigned char c0 = (unsigned char)*s;
    if (!((c0 >= 'a' && c0 <= 'z') || (c0 >= 'A' && c0 <= 'Z') || (c0 >= '0' && c0 <= '9') || c0 == '_' ||
          c0 >= 0x80))
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '.' || *p == '/' || *p == '+' || *p == '-' || *p >= 0x80))
            return false;
    ug_cfg probe = {.text = s};
    ug_spec_infer_scalar(&probe);
    return probe.type == UG_CFG_STRING;
}

static void put_string(sbuf *b, const char *s, bool quote) {
    if (!quote || plain_ok(s)) {
        sb_str(b, s);
        return;
    }
    sb_put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\', esc[1] = (char)*p, esc[2] = 0;
        } else if (*p == '\n') {
            strcpy(esc, "\\n");
        } else if (*p == '\t') {
            strcpy(esc, "\\t");
        } else if (*p < 0x20 || *p == 0x7f) {
            snprintf(esc, sizeof esc, "\\x%02X", *p);
        } else {
            esc[0] = (char)*p, esc[1] = 0;
        }
        sb_str(b, esc);
    }
    sb_put(b, "\"", 1);
}

/* A string value in YAML text (quote) is read again through interpolation (spec_interp.c) when the
 * stored spec is loaded, so a literal "${" (written "\${") is written "\${" again; otherwise a spec
 * with one would store a text that does not load. Shown bare (flattened params), it is the value. */
static void put_value_string(sbuf *b, const char *s, bool quote) {
    if (!quote || !strstr(s, "${")) {
        put_string(b, s, quote);
        return;
    }
    sbuf e = {0};
    for (const char *p = s; *p; p++) {
        if (p[0] == '$' && p[1] == '{') sb_put(&e, "\\", 1);
        sb_put(&e, p, 1);
    }
    if (e.oom) b->oom = true;
    else put_string(b, e.s, true);
    free(e.s);
}

static void put_scalar(sbuf *b, const ug_cfg *n, bool quote) {
    char num[64];
    switch (n->type) {
    case UG_CFG_NULL: sb_str(b, "null"); return;
    case UG_CFG_BOOL: sb_str(b, n->b ? "true" : "false"); return;
    case UG_CFG_INT:
        snprintf(num, sizeof num, "%" PRId64, n->i);
        sb_str(b, num);
        return;
    case UG_CFG_FLOAT:
        ug_spec_fmt_double(n->f, num, sizeof num);
        sb_str(b, num);
        return;
    case UG_CFG_STRING: put_value_string(b, n->text ? n->text : "", quote); return;
    default: return;
    }
}

/* ---- YAML ---- */

static bool flowable(const ug_cfg *n) {
    if (n->type == UG_CFG_MAP) return n->n == 0;
    if (n->type != UG_CFG_LIST) return true;
    for (int k = 0; k < n->n; k++)
        if (!flowable(n->items[k]) || n->items[k]->type == UG_CFG_MAP) return false;
    return true;
}

static void put_flow(sbuf *b, const ug_cfg *n) {
    if (n->type == UG_CFG_MAP) {
        sb_str(b, "{}");
    } else if (n->type == UG_CFG_LIST) {
        sb_str(b, "[");
        for (int k = 0; k < n->n; k++) {
            if (k) sb_str(b, ", ");
            put_flow(b, n->items[k]);
        }
        sb_str(b, "]");
    } else {
        put_scalar(b, n, true);
    }
}

static void put_list(sbuf *b, const ug_cfg *list, int indent, bool for_id);

/* A UG_P_ID_OPTIONAL entry whose value equals its default: left out of the id text. */
static bool at_id_default(const ug_cfg *e) {
    if (!e->id_default || !flowable(e) || !flowable(e->id_default)) return false;
    sbuf x = {0}, y = {0};
    put_flow(&x, e);
    put_flow(&y, e->id_default);
    bool same = !x.oom && !y.oom && x.s && y.s && strcmp(x.s, y.s) == 0;
    free(x.s);
    free(y.s);
    return same;
}

/* for_id: the text the run id hashes, which skips at_id_default entries; otherwise the full text. */
static void put_map(sbuf *b, const ug_cfg *map, int indent, bool first_inline, bool for_id) {
    bool first = true;
    for (int k = 0; k < map->n; k++) {
        const ug_cfg *e = map->items[k];
        if (for_id && at_id_default(e)) continue;
        if (!(first && first_inline)) sb_pad(b, indent);
        first = false;
        put_string(b, e->key, true);
        sb_str(b, ":");
        if (flowable(e)) {
            sb_str(b, " ");
            put_flow(b, e);
            sb_str(b, "\n");
        } else if (e->type == UG_CFG_MAP) {
            sb_str(b, "\n");
            put_map(b, e, indent + 2, false, for_id);
        } else {
            sb_str(b, "\n");
            put_list(b, e, indent + 2, for_id);
        }
    }
}

static void put_list(sbuf *b, const ug_cfg *list, int indent, bool for_id) {
    for (int k = 0; k < list->n; k++) {
        const ug_cfg *it = list->items[k];
        sb_pad(b, indent);
        if (flowable(it)) {
            sb_str(b, "- ");
            put_flow(b, it);
            sb_str(b, "\n");
        } else if (it->type == UG_CFG_MAP) {
            sb_str(b, "- ");
            put_map(b, it, indent + 2, true, for_id);
        } else {
            sb_str(b, "-\n");
            put_list(b, it, indent + 2, for_id);
        }
    }
}

/* ---- flattening ---- */

typedef struct flat {
    spec_ctx *c;
    const char **keys, **vals;
    int n, cap;
    bool oom;
} flat;

static void flat_add(flat *f, const char *key, const char *val) {
    if (f->oom) return;
    ug_cfg_pool *p = f->c->spec->pool;
    if (f->n == f->cap) {
        int cap = f->cap ? f->cap * 2 : 64;
        const char **k = ug_cfg_pool_alloc(p, (size_t)cap * sizeof *k);
        const char **v = ug_cfg_pool_alloc(p, (size_t)cap * sizeof *v);
        if (!k || !v) {
            f->oom = true;
            return;
        }
        if (f->n) {
            memcpy(k, f->keys, (size_t)f->n * sizeof *k);
            memcpy(v, f->vals, (size_t)f->n * sizeof *v);
        }
        f->keys = k, f->vals = v, f->cap = cap;
    }
    f->keys[f->n] = ug_cfg_pool_strdup(p, key);
    f->vals[f->n] = ug_cfg_pool_strdup(p, val);
    if (!f->keys[f->n] || !f->vals[f->n]) f->oom = true;
    f->n++;
}

static void flat_walk(flat *f, const ug_cfg *n, const char *prefix) {
    bool leaf = n->type != UG_CFG_MAP && n->type != UG_CFG_LIST;
    if (leaf || n->n == 0 || (n->type == UG_CFG_LIST && flowable(n))) {
        sbuf b = {0};
        if (leaf) put_scalar(&b, n, false);
        else put_flow(&b, n);
        if (b.oom) f->oom = true;
        else flat_add(f, prefix, b.s ? b.s : "");
        free(b.s);
        return;
    }
    for (int k = 0; k < n->n; k++) {
        char key[512];
        if (n->type == UG_CFG_MAP) ug_spec_join(key, sizeof key, prefix, n->items[k]->key);
        else ug_spec_join_index(key, sizeof key, prefix, k);
        flat_walk(f, n->items[k], key);
    }
}

static ug_status flatten(spec_ctx *c) {
    const ug_cfg *root = c->spec->root;
    flat f = {.c = c};
    const ug_cfg *obj = ug_cfg_child(root, "objective");
    sbuf terms = {0};
    for (int k = 0; k < obj->n; k++) {
        if (k) sb_str(&terms, "+");
        sb_str(&terms, ug_cfg_str(obj->items[k], "plugin", "?"));
    }
    flat_add(&f, "dataset", ug_cfg_str(root, "dataset.plugin", "?"));
    flat_add(&f, "model", ug_cfg_str(root, "model.plugin", "?"));
    flat_add(&f, "objective", terms.s ? terms.s : "");
    if (terms.oom) f.oom = true;
    free(terms.s);
    for (int k = 0; k < root->n; k++)
        if (strcmp(root->items[k]->key, "sweep") != 0) flat_walk(&f, root->items[k], root->items[k]->key);
    if (f.oom) return ug_spec_nomem(c);
    c->spec->flat_keys = f.keys;
    c->spec->flat_vals = f.vals;
    c->spec->n_flat = f.n;
    return UG_OK;
}

ug_status ug_spec_emit(spec_ctx *c) {
    ug_spec *s = c->spec;
    sbuf b = {0}, idb = {0};
    put_map(&b, s->root, 0, false, false);
    put_map(&idb, s->root, 0, false, true);
    if (b.oom || !b.s || idb.oom || !idb.s) {
        free(b.s);
        free(idb.s);
        return ug_spec_nomem(c);
    }
    s->canonical = ug_cfg_pool_strdup(s->pool, b.s);
    free(b.s);
    if (!s->canonical) {
        free(idb.s);
        return ug_spec_nomem(c);
    }
    /* the first line is `name: ...` (the checker puts name first); the id is everything after it */
    const char *rest = strchr(idb.s, '\n');
    rest = rest ? rest + 1 : idb.s;
    char hex[65];
    ug_sha256_hex(rest, strlen(rest), hex);
    free(idb.s);
    memcpy(s->id, hex, 16);
    s->id[16] = 0;
    return flatten(c);
}
