/* config.c — the typed getters over a resolved ug_cfg tree, and the pool the spec loader builds trees in.
 *
 * The getters are what plugins read their sections with (through the host table), so they never fail
 * loudly: a missing or mistyped key gives the caller's fallback. Trees live in a ug_cfg_pool, a bump
 * allocator freed in one call, so a spec with thousands of nodes is released without walking it. */
#include "unigfn/config.h"
#include "unigfn/host/spec.h"

#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

/* ---- pool ---- */

typedef struct pool_chunk {
    struct pool_chunk *next;
    size_t used, cap;
    alignas(max_align_t) unsigned char data[];
} pool_chunk;

struct ug_cfg_pool {
    pool_chunk *head;
};

enum { POOL_CHUNK = 16 * 1024, POOL_ALIGN = alignof(max_align_t) };

ug_cfg_pool *ug_cfg_pool_new(void) { return calloc(1, sizeof(ug_cfg_pool)); }

void ug_cfg_pool_free(ug_cfg_pool *p) {
    if (!p) return;
    for (pool_chunk *c = p->head, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    free(p);
}

void *ug_cfg_pool_alloc(ug_cfg_pool *p, size_t n) {
    if (!p) return NULL;
    if (n == 0) n = 1;
    if (n > SIZE_MAX / 2) return NULL;
    n = (n + POOL_ALIGN - 1) / POOL_ALIGN * POOL_ALIGN;
    pool_chunk *c = p->head;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > POOL_CHUNK ? n : POOL_CHUNK;
        c = calloc(1, sizeof *c + cap);
        if (!c) return NULL;
        c->cap = cap;
        /* An oversized block goes behind the head so the head's free space stays usable. */
        if (p->head && cap > POOL_CHUNK) {
            c->next = p->head->next;
            p->head->next = c;
        } else {
            c->next = p->head;
            p->head = c;
        }
    }
    void *r = c->data + c->used;
    c->used += n;
    return r; /* calloc'd chunks: fresh memory is already zero */
}

char *ug_cfg_pool_strndup(ug_cfg_pool *p, const char *s, size_t n) {
    char *r = ug_cfg_pool_alloc(p, n + 1);
    if (!r) return NULL;
    memcpy(r, s, n);
    r[n] = 0;
    return r;
}

char *ug_cfg_pool_strdup(ug_cfg_pool *p, const char *s) {
    return s ? ug_cfg_pool_strndup(p, s, strlen(s)) : NULL;
}

/* ---- building ---- */

/* ug_cfg has no capacity field, so capacity is a function of n: child arrays always hold a power of
 * two (at least 4) slots. Every items array must come from items_alloc for this to hold. */
static int items_cap(int n) {
    if (n <= 0) return 0;
    int c = 4;
    while (c < n) c *= 2;
    return c;
}

ug_cfg **ug_cfg_items_alloc(ug_cfg_pool *p, int n) {
    int cap = items_cap(n > 0 ? n : 1);
    return ug_cfg_pool_alloc(p, (size_t)cap * sizeof(ug_cfg *));
}

ug_cfg *ug_cfg_new(ug_cfg_pool *p, ug_cfg_type type, const char *file, int line, int col) {
    ug_cfg *c = ug_cfg_pool_alloc(p, sizeof *c);
    if (!c) return NULL;
    c->type = type;
    c->file = file;
    c->line = line;
    c->col = col;
    return c;
}

ug_status ug_cfg_append(ug_cfg_pool *p, ug_cfg *parent, ug_cfg *child) {
    if (!parent || !child) return UG_ERR_ARG;
    if (parent->n >= (1 << 28)) return UG_ERR_NOMEM;
    if (parent->n == items_cap(parent->n)) {
        ug_cfg **items = ug_cfg_items_alloc(p, parent->n + 1);
        if (!items) return UG_ERR_NOMEM;
        if (parent->n) memcpy(items, parent->items, (size_t)parent->n * sizeof *items);
        parent->items = items;
    }
    parent->items[parent->n++] = child;
    return UG_OK;
}

ug_cfg *ug_cfg_clone(ug_cfg_pool *p, const ug_cfg *src) {
    if (!src) return NULL;
    ug_cfg *c = ug_cfg_new(p, src->type, src->file, src->line, src->col);
    if (!c) return NULL;
    c->b = src->b;
    c->i = src->i;
    c->f = src->f;
    if (src->id_default && !(c->id_default = ug_cfg_clone(p, src->id_default))) return NULL;
    if ((src->key && !(c->key = ug_cfg_pool_strdup(p, src->key))) ||
        (src->text && !(c->text = ug_cfg_pool_strdup(p, src->text))))
        return NULL;
    for (int k = 0; k < src->n; k++) {
        ug_cfg *child = ug_cfg_clone(p, src->items[k]);
        if (!child || ug_cfg_append(p, c, child) != UG_OK) return NULL;
    }
    return c;
}

ug_cfg *ug_cfg_child(const ug_cfg *map, const char *key) {
    if (!map || map->type != UG_CFG_MAP || !key) return NULL;
    for (int k = 0; k < map->n; k++)
        if (map->items[k]->key && strcmp(map->items[k]->key, key) == 0) return map->items[k];
    return NULL;
}

/* ---- lookup and getters ---- */

/* One path segment [s, e): a key in a map, or a decimal index into a list. */
static const ug_cfg *step(const ug_cfg *node, const char *s, size_t len) {
    if (node->type == UG_CFG_MAP) {
        for (int k = 0; k < node->n; k++) {
            const char *key = node->items[k]->key;
            if (key && strlen(key) == len && memcmp(key, s, len) == 0) return node->items[k];
        }
        return NULL;
    }
    if (node->type == UG_CFG_LIST) {
        if (len == 0 || len > 9) return NULL;
        long idx = 0;
        for (size_t k = 0; k < len; k++) {
            if (s[k] < '0' || s[k] > '9') return NULL;
            idx = idx * 10 + (s[k] - '0');
        }
        return idx < node->n ? node->items[idx] : NULL;
    }
    return NULL;
}

const ug_cfg *ug_cfg_find(const ug_cfg *root, const char *path) {
    if (!root) return NULL;
    if (!path || !*path) return root;
    const ug_cfg *node = root;
    const char *s = path;
    for (;;) {
        const char *dot = strchr(s, '.');
        size_t len = dot ? (size_t)(dot - s) : strlen(s);
        node = step(node, s, len);
        if (!node || !dot) return node;
        s = dot + 1;
    }
}

int64_t ug_cfg_int(const ug_cfg *map, const char *path, int64_t fallback) {
    const ug_cfg *c = ug_cfg_find(map, path);
    if (c && c->type == UG_CFG_INT) return c->i;
    return fallback;
}

double ug_cfg_float(const ug_cfg *map, const char *path, double fallback) {
    const ug_cfg *c = ug_cfg_find(map, path);
    if (c && (c->type == UG_CFG_FLOAT || c->type == UG_CFG_INT)) return c->f;
    return fallback;
}

bool ug_cfg_bool(const ug_cfg *map, const char *path, bool fallback) {
    const ug_cfg *c = ug_cfg_find(map, path);
    if (c && c->type == UG_CFG_BOOL) return c->b;
    return fallback;
}

const char *ug_cfg_str(const ug_cfg *map, const char *path, const char *fallback) {
    const ug_cfg *c = ug_cfg_find(map, path);
    if (c && c->type == UG_CFG_STRING && c->text) return c->text;
    return fallback;
}

int ug_cfg_ints(const ug_cfg *map, const char *path, int64_t *out, int cap) {
    const ug_cfg *c = ug_cfg_find(map, path);
    if (!c || c->type != UG_CFG_LIST) return -1;
    for (int k = 0; k < c->n; k++) {
        const ug_cfg *it = c->items[k];
        if (it->type != UG_CFG_INT) return -1;
        if (k < cap && out) out[k] = it->i;
    }
    return c->n;
}

int ug_cfg_floats(const ug_cfg *map, const char *path, double *out, int cap) {
    const ug_cfg *c = ug_cfg_find(map, path);
    if (!c || c->type != UG_CFG_LIST) return -1;
    for (int k = 0; k < c->n; k++) {
        const ug_cfg *it = c->items[k];
        if (it->type != UG_CFG_INT && it->type != UG_CFG_FLOAT) return -1;
        if (k < cap && out) out[k] = it->f;
    }
    return c->n;
}

int ug_cfg_strs(const ug_cfg *map, const char *path, const char **out, int cap) {
    const ug_cfg *c = ug_cfg_find(map, path);
    if (!c || c->type != UG_CFG_LIST) return -1;
    for (int k = 0; k < c->n; k++) {
        const ug_cfg *it = c->items[k];
        if (it->type != UG_CFG_STRING || !it->text) return -1;
        if (k < cap && out) out[k] = it->text;
    }
    return c->n;
}
