/* spec_override.c — command-line overrides applied to the parsed tree (after `include:`, before
 * interpolation and checking), in Hydra's three forms:
 *
 *   a.b.c=value    set the key, creating it (and the maps or list entries above it) where it is missing;
 *   +a.b.c=value   add a key the spec does not write: an error if the spec's files (or an earlier
 *                  override) already give it, since then the user meant to change it, not to add it;
 *   ~a.b.c         delete a key the spec writes (a schema key then falls back to its default): an
 *                  error if it is not there, with the closest key that is.
 *
 * "The spec writes it" means the parsed tree: a key left at its schema default is not written, so
 * `+train.eval_every=5` adds it and `~train.eval_every` has nothing to delete. A plain `key=value` keeps
 * creating keys as it always has (a new optimizer group, an appended term): that is how sweeps and
 * scripts use it, and the checker still refuses a key no schema has, with the closest one it knows.
 * Overrides only place values; the checker validates them like file keys, naming the override. */
#include "spec/spec_internal.h"

#include <string.h>

#include "unigfn/host/util.h"

static bool is_index(const char *s, size_t len, long *out) {
    if (len == 0 || len > 9) return false;
    long v = 0;
    for (size_t k = 0; k < len; k++) {
        if (s[k] < '0' || s[k] > '9') return false;
        v = v * 10 + (s[k] - '0');
    }
    *out = v;
    return true;
}

/* Length of the valid UTF-8 prefix of s (RFC 3629: no overlongs, surrogates or code points past U+10FFFF).
 * The resolved spec is emitted as YAML and parsed again (run ids, the stored spec), and libyaml rejects
 * invalid UTF-8, so an override must be refused here rather than produce a spec that cannot be reloaded. */
static size_t utf8_valid_prefix(const char *str) {
    const unsigned char *s = (const unsigned char *)str, *p = s;
    while (*p) {
        unsigned c = *p;
        int n = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : -1;
        if (n < 0 || (n == 1 && c < 0xC2) || (n == 3 && c > 0xF4)) break;
        unsigned cp = n == 0 ? c : c & (0x3Fu >> n);
        int k = 1;
        for (; k <= n && (p[k] & 0xC0) == 0x80; k++) cp = (cp << 6) | (p[k] & 0x3Fu);
        if (k <= n || (n == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
            break;
        p += n + 1;
    }
    return (size_t)(p - s);
}

const char *ug_spec_override_key(const char *o, size_t *len) {
    const char *k = o[0] == '+' || o[0] == '~' ? o + 1 : o;
    const char *eq = strchr(k, '=');
    *len = eq ? (size_t)(eq - k) : strlen(k);
    return k;
}

/* The keys of `map` that lie within two edits of `seg`, as the full dotted key (for did-you-mean). */
static void closest_written(const ug_cfg *map, const char *parent, const char *seg, char *buf, size_t n) {
    buf[0] = 0;
    if (map->type != UG_CFG_MAP || map->n == 0) return;
    const char *names[256];
    int k = 0;
    for (; k < map->n && k < 256; k++) names[k] = map->items[k]->key;
    const char *near = ug_closest_name(seg, names, k);
    if (near) ug_spec_join(buf, n, parent, near);
}

/* `~key`: remove the entry the path names; every segment must exist. */
static ug_status delete_key(spec_ctx *c, const ug_cfg *here, char *key) {
    char path[512] = "";
    ug_cfg *node = c->spec->root;
    for (char *seg = key;;) {
        char *dot = strchr(seg, '.');
        if (dot) *dot = 0;
        char full[512];
        ug_spec_join(full, sizeof full, path, seg);
        int at = -1;
        long i;
        if (node->type == UG_CFG_MAP) {
            for (int k = 0; k < node->n; k++)
                if (strcmp(node->items[k]->key, seg) == 0) at = k;
            if (at < 0) {
                char near[512];
                closest_written(node, path, seg, near, sizeof near);
                if (near[0])
                    return ug_spec_fail(c, here, full, "not in the spec, nothing to delete (did you mean '%s'?)", near);
                return ug_spec_fail(c, here, full, "not in the spec, nothing to delete");
            }
        } else if (node->type == UG_CFG_LIST) {
            if (!is_index(seg, strlen(seg), &i))
                return ug_spec_fail(c, here, path, "is a list; expected an index, got '%s'", seg);
            if (i >= node->n)
                return ug_spec_fail(c, here, full, "not in the spec, nothing to delete (the list has %d item%s)", node->n,
                                    node->n == 1 ? "" : "s");
            at = (int)i;
        } else {
            return ug_spec_fail(c, here, path, "is a single value; there is no '%s' inside it to delete", seg);
        }
        if (!dot) {
            memmove(node->items + at, node->items + at + 1, (size_t)(node->n - at - 1) * sizeof *node->items);
            node->n--;
            return UG_OK;
        }
        memcpy(path, full, sizeof path);
        node = node->items[at];
        seg = dot + 1;
    }
}

/* `+key=value` on a key the tree already has: say where it was given and how to change it. */
static ug_status already_there(spec_ctx *c, const ug_cfg *here, const char *full, const ug_cfg *old, const char *o) {
    char from[600];
    ug_spec_origin(c, old, from, sizeof from);
    return ug_spec_fail(c, here, full, "already in the spec (%s); '%s' changes it", from, o + 1);
}

ug_status ug_spec_apply_override(spec_ctx *c, int index) {
    ug_spec *s = c->spec;
    ug_cfg_pool *p = s->pool;
    const char *o = s->overrides[index];
    const ug_cfg here = {.file = UG_SPEC_FILE_CMDLINE, .line = index + 1};
    size_t valid = utf8_valid_prefix(o);
    if (o[valid]) return ug_spec_fail(c, &here, NULL, "not valid UTF-8 at byte %zu (0x%02X)", valid + 1, (unsigned)(unsigned char)o[valid]);
    bool add = o[0] == '+', del = o[0] == '~';
    size_t kl;
    const char *k0 = ug_spec_override_key(o, &kl);
    const char *eq = strchr(k0, '=');
    if (del && eq) return ug_spec_fail(c, &here, NULL, "'~KEY' deletes a key and takes no value (write '~%.*s')", (int)kl, k0);
    if (!del && !eq) return ug_spec_fail(c, &here, NULL, "expected key=value (or +key=value to add a key, ~key to delete one)");
    if (kl == 0) return ug_spec_fail(c, &here, NULL, "missing the key%s", del ? " after '~'" : " before '='");
    char *key = ug_cfg_pool_strndup(p, k0, kl);
    if (!key) return ug_spec_nomem(c);
    for (const char *q = key;; q++) {
        /* "a..b", ".a", "a." all name an empty key, which no schema has */
        if ((*q == '.' || *q == 0) && (q == key || q[-1] == '.'))
            return ug_spec_fail(c, &here, NULL, "empty key segment in '%s'", key);
        if (!*q) break;
    }
    if (del) return delete_key(c, &here, key);

    const char *vtext = eq + 1;
    ug_cfg *value;
    ug_status st = ug_spec_parse_yaml(c, UG_SPEC_FILE_CMDLINE, index + 1, key, vtext, strlen(vtext), &value);
    if (st) return st;
    if (!value && !(value = ug_cfg_new(p, UG_CFG_NULL, UG_SPEC_FILE_CMDLINE, index + 1, 0)))
        return ug_spec_nomem(c);

    char path[512] = "";
    ug_cfg *node = s->root;
    char *seg = key;
    for (;;) {
        char *dot = strchr(seg, '.');
        if (dot) *dot = 0;
        bool last = !dot;
        size_t len = strlen(seg);
        /* what to create when a level is missing: a list if the next segment is an index */
        ug_cfg_type make = UG_CFG_MAP;
        if (!last) {
            const char *nd = strchr(dot + 1, '.');
            long unused;
            if (is_index(dot + 1, nd ? (size_t)(nd - dot - 1) : strlen(dot + 1), &unused)) make = UG_CFG_LIST;
        }
        ug_cfg *child = NULL;
        if (node->type == UG_CFG_MAP) {
            int at = -1;
            for (int k = 0; k < node->n; k++)
                if (strcmp(node->items[k]->key, seg) == 0) at = k;
            if (last) {
                if (add && at >= 0) {
                    char full[512];
                    ug_spec_join(full, sizeof full, path, seg);
                    return already_there(c, &here, full, node->items[at], o);
                }
                value->key = seg;
                if (at >= 0) node->items[at] = value;
                else if (ug_cfg_append(p, node, value)) return ug_spec_nomem(c);
                return UG_OK;
            }
            if (at >= 0) {
                child = node->items[at];
            } else {
                if (!(child = ug_cfg_new(p, make, UG_SPEC_FILE_CMDLINE, index + 1, 0))) return ug_spec_nomem(c);
                child->key = seg;
                if (ug_cfg_append(p, node, child)) return ug_spec_nomem(c);
            }
        } else if (node->type == UG_CFG_LIST) {
            long i;
            if (!is_index(seg, len, &i))
                return ug_spec_fail(c, &here, path, "is a list; expected an index, got '%s'", seg);
            if (i > node->n)
                return ug_spec_fail(c, &here, path, "index %ld is out of range (the list has %d item%s)", i,
                                 node->n, node->n == 1 ? "" : "s");
            if (last) {
                if (add && i < node->n) {
                    char full[512];
                    ug_spec_join(full, sizeof full, path, seg);
                    return already_there(c, &here, full, node->items[i], o);
                }
                value->key = NULL;
                if (i < node->n) node->items[i] = value;
                else if (ug_cfg_append(p, node, value)) return ug_spec_nomem(c);
                return UG_OK;
            }
            if (i < node->n) {
                child = node->items[i];
            } else {
                if (!(child = ug_cfg_new(p, make, UG_SPEC_FILE_CMDLINE, index + 1, 0))) return ug_spec_nomem(c);
                if (ug_cfg_append(p, node, child)) return ug_spec_nomem(c);
            }
        } else {
            return ug_spec_fail(c, &here, path, "is a single value; cannot set '%s' inside it", seg);
        }
        char next[512];
        ug_spec_join(next, sizeof next, path, seg);
        memcpy(path, next, sizeof path);
        node = child;
        seg = dot + 1;
    }
}
