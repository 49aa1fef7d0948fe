/* spec_interp.c — `${a.b}` inside spec values: the value at key a.b of the same spec, after its
 * includes and command-line overrides, before the schema check.
 *
 *   name: lr${optim.forward.lr}        text: the referred value's text put in ("lr1e-3")
 *   metrics:
 *     - {plugin: nll, samples: ${train.batch}}   a whole value: a copy of the referred one (any type,
 *                                                a list or a map too)
 *
 * Dotted keys are absolute, as in overrides (`objective.0.weight`); `\${` stands for a literal `${`.
 * It runs before the checker so that the substituted value is typed and range-checked like a written
 * one, at the place of the `${...}` (its file:line and key). The price is that only keys the spec
 * writes can be referred to: a key left at its schema default does not exist yet, and saying so beats
 * guessing the default. References may chain (a refers to b refers to c); a cycle, a key that is not
 * there, a map put inside text and a chain deeper than INTERP_MAX_DEPTH are errors naming the file,
 * line and key of the value that has the reference.
 *
 * Values are replaced in place, so the resolved tree has no `${`: what is stored, shown and hashed is
 * the spec with the values written out, and a spec that uses no `${` is untouched (its run id too). */
#include "spec/spec_internal.h"
#include "unigfn/host/util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define INTERP_MAX_DEPTH 64
#define REF_SHOWN 200 /* a reference is shown up to this many bytes in messages */

enum { PENDING, ACTIVE, DONE };

/* A value whose text holds `${` (or `\${`), to be resolved once. */
typedef struct pend {
    ug_cfg *node;
    const char *path; /* its dotted key, for messages */
    int depth;        /* its depth in the tree (the root's entries are 1), against SPEC_MAX_DEPTH */
    int state;
} pend;

/* One value being resolved, and the key its current reference names (for the cycle message). */
typedef struct frame {
    const pend *p;
    char target[REF_SHOWN + 1];
} frame;

typedef struct interp {
    spec_ctx *c;
    pend *p;
    int n, cap;
    pend **by_node; /* p sorted by node address, for lookup */
    frame stack[INTERP_MAX_DEPTH];
    int depth;
} interp;

/* ---- collecting ---- */

static bool has_ref(const ug_cfg *n) { return n->type == UG_CFG_STRING && n->text && strstr(n->text, "${"); }

static ug_status collect(interp *in, ug_cfg *n, const char *path, int depth) {
    if (has_ref(n)) {
        if (in->n == in->cap) {
            int cap = in->cap ? 2 * in->cap : 16;
            pend *np = realloc(in->p, (size_t)cap * sizeof *np);
            if (!np) return ug_spec_nomem(in->c);
            in->p = np;
            in->cap = cap;
        }
        const char *pp = ug_cfg_pool_strdup(in->c->spec->pool, path);
        if (!pp) return ug_spec_nomem(in->c);
        in->p[in->n++] = (pend){n, pp, depth, PENDING};
    }
    for (int k = 0; k < n->n; k++) {
        char cp[512];
        if (n->type == UG_CFG_MAP) ug_spec_join(cp, sizeof cp, path, n->items[k]->key);
        else ug_spec_join_index(cp, sizeof cp, path, k);
        ug_status st = collect(in, n->items[k], cp, depth + 1);
        if (st) return st;
    }
    return UG_OK;
}

static int by_addr(const void *a, const void *b) {
    uintptr_t x = (uintptr_t)(*(pend *const *)a)->node, y = (uintptr_t)(*(pend *const *)b)->node;
    return (x > y) - (x < y);
}

static pend *find(const interp *in, const ug_cfg *node) {
    int lo = 0, hi = in->n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        uintptr_t a = (uintptr_t)in->by_node[mid]->node, b = (uintptr_t)node;
        if (a == b) return in->by_node[mid];
        if (a < b) lo = mid + 1;
        else hi = mid - 1;
    }
    return NULL;
}

/* ---- resolving ---- */

static ug_status resolve(interp *in, pend *p);

/* Resolve `node` first if it is a value with references of its own. */
static ug_status settle(interp *in, const ug_cfg *node) {
    pend *q = find(in, node);
    return q ? resolve(in, q) : UG_OK;
}

/* Every reference inside a map or list that is about to be copied. */
static ug_status settle_tree(interp *in, const ug_cfg *node) {
    pend *q = find(in, node);
    if (q) return resolve(in, q); /* a resolved reference is a copy: nothing left inside it */
    for (int k = 0; k < node->n; k++) {
        ug_status st = settle_tree(in, node->items[k]);
        if (st) return st;
    }
    return UG_OK;
}

/* The node at dotted key ref[0, len) of the root, resolved. `p` is the value that refers to it. */
static ug_status lookup(interp *in, const pend *p, const char *ref, size_t len, const ug_cfg **out) {
    spec_ctx *c = in->c;
    int shown = (int)(len < REF_SHOWN ? len : REF_SHOWN);
    const ug_cfg *cur = c->spec->root;
    char path[512] = "";
    size_t at = 0;
    for (;;) {
        ug_status st = settle(in, cur);
        if (st) return st;
        if (at > len) break;
        const char *seg = ref + at, *dot = memchr(seg, '.', len - at);
        size_t sl = dot ? (size_t)(dot - seg) : len - at;
        at += sl + 1;
        char name[256];
        if (sl == 0 || sl >= sizeof name)
            return ug_spec_fail(c, p->node, p->path, "'${%.*s}': %s key segment", shown, ref, sl ? "too long a" : "an empty");
        memcpy(name, seg, sl);
        name[sl] = 0;
        char full[512];
        ug_spec_join(full, sizeof full, path, name);
        const ug_cfg *next = NULL;
        if (cur->type == UG_CFG_MAP) {
            next = ug_cfg_child(cur, name);
            if (!next) {
                const char *names[256];
                int n = 0;
                for (; n < cur->n && n < 256; n++) names[n] = cur->items[n]->key;
                const char *near = ug_closest_name(name, names, n);
                char nearfull[512];
                if (near) {
                    ug_spec_join(nearfull, sizeof nearfull, path, near);
                    return ug_spec_fail(c, p->node, p->path, "'${%.*s}': no key '%s' in the spec (did you mean '%s'?)",
                                        shown, ref, full, nearfull);
                }
                return ug_spec_fail(c, p->node, p->path,
                                    "'${%.*s}': no key '%s' in the spec (only keys the spec writes can be referred to, "
                                    "not schema defaults)", shown, ref, full);
            }
        } else if (cur->type == UG_CFG_LIST) {
            char *end;
            long i = strtol(name, &end, 10);
            if (*end || name[0] < '0' || name[0] > '9' || i >= cur->n)
                return ug_spec_fail(c, p->node, p->path, "'${%.*s}': no item '%s' in '%s' (a list of %d)", shown, ref,
                                    name, path, cur->n);
            next = cur->items[i];
        } else {
            return ug_spec_fail(c, p->node, p->path, "'${%.*s}': '%s' is a single value, with no '%s' inside it",
                                shown, ref, path, name);
        }
        memcpy(path, full, sizeof path);
        cur = next;
    }
    *out = cur;
    return UG_OK;
}

/* dst (at depth `depth`) becomes a copy of src, every node of it at dst's position. */
static ug_status copy_into(interp *in, const pend *p, ug_cfg *dst, const ug_cfg *src, int depth) {
    spec_ctx *c = in->c;
    if (depth > SPEC_MAX_DEPTH)
        return ug_spec_fail(c, p->node, p->path, "the value put in is nested more than %d levels deep", SPEC_MAX_DEPTH);
    dst->type = src->type;
    dst->text = src->text;
    dst->b = src->b;
    dst->i = src->i;
    dst->f = src->f;
    dst->items = NULL;
    dst->n = 0;
    if (src->n == 0) return UG_OK;
    if (!(dst->items = ug_cfg_items_alloc(c->spec->pool, src->n))) return ug_spec_nomem(c);
    for (int k = 0; k < src->n; k++) {
        if (++c->n_nodes > SPEC_MAX_NODES)
            return ug_spec_fail(c, p->node, p->path, "more than %d values (references expanding?)", SPEC_MAX_NODES);
        ug_cfg *child = ug_cfg_new(c->spec->pool, UG_CFG_NULL, dst->file, dst->line, dst->col);
        if (!child) return ug_spec_nomem(c);
        child->key = src->items[k]->key;
        ug_status st = copy_into(in, p, child, src->items[k], depth + 1);
        if (st) return st;
        dst->items[dst->n++] = child;
    }
    return UG_OK;
}

static ug_status cycle(interp *in, const pend *p) {
    char msg[UG_ERRMSG_MAX] = "";
    int j = 0;
    while (j < in->depth && in->stack[j].p != p) j++;
    for (int k = j; k < in->depth; k++) {
        size_t l = strlen(msg);
        snprintf(msg + l, sizeof msg - l, "%s%s refers to %s", k > j ? ", " : "", in->stack[k].p->path, in->stack[k].target);
    }
    if (in->depth > 0 && strcmp(in->stack[in->depth - 1].target, p->path) != 0) {
        size_t l = strlen(msg);
        snprintf(msg + l, sizeof msg - l, ", which holds %s", p->path);
    }
    return ug_spec_fail(in->c, p->node, p->path, "interpolation cycle: %s", msg);
}

static ug_status resolve(interp *in, pend *p) {
    if (p->state == DONE) return UG_OK;
    if (p->state == ACTIVE) return cycle(in, p);
    spec_ctx *c = in->c;
    if (in->depth == INTERP_MAX_DEPTH)
        return ug_spec_fail(c, p->node, p->path, "references chained more than %d deep", INTERP_MAX_DEPTH);
    frame *f = &in->stack[in->depth++];
    f->p = p;
    f->target[0] = 0;
    p->state = ACTIVE;
    const char *t = p->node->text;
    ug_sbuf out = {0};
    ug_status st = UG_OK;
    bool whole = false;
    for (size_t i = 0; t[i] && !st;) {
        if (t[i] == '\\' && t[i + 1] == '$' && t[i + 2] == '{') {
            ug_sbuf_put(&out, "${");
            i += 3;
            continue;
        }
        if (!(t[i] == '$' && t[i + 1] == '{')) {
            ug_sbuf_putn(&out, t + i, 1);
            i++;
            continue;
        }
        size_t j = i + 2;
        while (t[j] && t[j] != '}' && t[j] != '$' && t[j] != '{') j++;
        if (t[j] != '}') {
            st = t[j] ? ug_spec_fail(c, p->node, p->path, "'%.*s': a reference cannot hold another ('${' inside '${...}')",
                                     REF_SHOWN, t + i)
                      : ug_spec_fail(c, p->node, p->path, "'%.*s': '${' without its closing '}'", REF_SHOWN, t + i);
            break;
        }
        const char *ref = t + i + 2;
        size_t len = j - i - 2;
        if (len == 0) {
            st = ug_spec_fail(c, p->node, p->path, "'${}' names no key");
            break;
        }
        snprintf(f->target, sizeof f->target, "%.*s", (int)(len < REF_SHOWN ? len : REF_SHOWN), ref);
        const ug_cfg *v;
        if ((st = lookup(in, p, ref, len, &v))) break;
        if (i == 0 && t[j + 1] == 0) { /* the whole value: a copy of any type */
            if ((st = settle_tree(in, v))) break;
            st = copy_into(in, p, p->node, v, p->depth);
            whole = true;
            break;
        }
        if (v->type == UG_CFG_MAP || v->type == UG_CFG_LIST || v->type == UG_CFG_NULL || !v->text) {
            char got[128];
            ug_spec_describe(v, got, sizeof got);
            st = ug_spec_fail(c, p->node, p->path,
                              "'${%.*s}' is %s, which cannot be put inside text (only a whole value, 'key: ${%.*s}', can be)",
                              (int)len, ref, got, (int)len, ref);
            break;
        }
        ug_sbuf_put(&out, v->text);
        i = j + 1;
    }
    if (!st && !whole) {
        if (out.oom) {
            st = ug_spec_nomem(c);
        } else {
            p->node->text = ug_cfg_pool_strdup(c->spec->pool, out.s ? out.s : "");
            if (!p->node->text) st = ug_spec_nomem(c);
            else ug_spec_infer_scalar(p->node); /* "1e-${e}" is a number, as if written so */
        }
    }
    free(out.s);
    in->depth--;
    if (!st) p->state = DONE;
    return st;
}

ug_status ug_spec_interpolate(spec_ctx *c) {
    interp in = {.c = c};
    ug_status st = collect(&in, c->spec->root, "", 0);
    if (!st && in.n > 0) {
        if (!(in.by_node = malloc((size_t)in.n * sizeof *in.by_node))) {
            st = ug_spec_nomem(c);
        } else {
            for (int k = 0; k < in.n; k++) in.by_node[k] = &in.p[k];
            qsort(in.by_node, (size_t)in.n, sizeof *in.by_node, by_addr);
            for (int k = 0; k < in.n && !st; k++) st = resolve(&in, &in.p[k]);
        }
    }
    free(in.by_node);
    free(in.p);
    return st;
}
