/* spec_override.c — command-line overrides "a.b.c=value" applied to the parsed tree before checking.
 *
 * Overrides only place values; the checker then validates them like file keys, so an override that
 * creates a misspelt key fails with the same did-you-mean message, naming the override. */
#include "spec/spec_internal.h"

#include <string.h>

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

ug_status ug_spec_apply_override(spec_ctx *c, int index) {
    ug_spec *s = c->spec;
    ug_cfg_pool *p = s->pool;
    const char *o = s->overrides[index];
    const ug_cfg here = {.file = UG_SPEC_FILE_CMDLINE, .line = index + 1};
    size_t valid = utf8_valid_prefix(o);
    if (o[valid]) return ug_spec_fail(c, &here, NULL, "not valid UTF-8 at byte %zu (0x%02X)", valid + 1, (unsigned)(unsigned char)o[valid]);
    const char *eq = strchr(o, '=');
    if (!eq) return ug_spec_fail(c, &here, NULL, "expected key=value");
    if (eq == o) return ug_spec_fail(c, &here, NULL, "missing the key before '='");
    char *key = ug_cfg_pool_strndup(p, o, (size_t)(eq - o));
    if (!key) return ug_spec_nomem(c);
    for (const char *q = key;; q++) {
        /* "a..b", ".a", "a." all name an empty key, which no schema has */
        if ((*q == '.' || *q == 0) && (q == key || q[-1] == '.'))
            return ug_spec_fail(c, &here, NULL, "empty key segment in '%s'", key);
        if (!*q) break;
    }

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
