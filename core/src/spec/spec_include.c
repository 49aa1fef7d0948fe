/* spec_include.c — `include:` at the top level of a spec: the files it names are read first (paths
 * relative to the including file's folder), each resolved the same way, merged in the order given,
 * and the including file's own keys merged over the result. Also the file reader the loader shares.
 *
 * The merge rule is Hydra's and OmegaConf's: a map merges key by key, recursively; anything else (a
 * scalar, a list, a map meeting a non-map) replaces what was there. Lists replace as a whole, lists of
 * maps such as `objective:` and `metrics:` too: merging terms by index would make what a child's
 * `objective:` means depend on the base's order, and a child that names its terms says all of them.
 *
 * Every node keeps the file and line it was written at, so a bad value that came from a base file is
 * reported at that file's line. The resolved tree holds no `include` key: what is stored and hashed is
 * the flat spec the includes stand for, so rewriting a flat file as base + differences keeps its id. */
#include "spec/spec_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int ug_spec_read_file(FILE *f, char **out, size_t *len) {
    *out = NULL;
    *len = 0;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    if (!buf) return ENOMEM;
    for (;;) {
        if (n == cap) {
            if (cap >= SPEC_MAX_FILE) {
                free(buf);
                return EFBIG;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                return ENOMEM;
            }
            buf = nb;
            cap *= 2;
        }
        errno = 0;
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                int e = errno ? errno : EIO;
                free(buf);
                return e;
            }
            break;
        }
    }
    *out = buf;
    *len = n;
    return 0;
}

/* ---- merge ---- */

typedef struct key_ix {
    const char *key;
    int index;
} key_ix;

static int key_ix_cmp(const void *a, const void *b) {
    return strcmp(((const key_ix *)a)->key, ((const key_ix *)b)->key);
}

/* `over` merged over `base` (either may be NULL: the other is the result). Maps take base's keys in
 * base's order, each replaced by or merged with over's entry of that key, then over's new keys in
 * over's order; the merged map is over's node, so it keeps the position of the later file. Keys are
 * looked up through a sorted index: a hostile pair of 50,000-key maps stays O(n log n). */
static ug_status merge(spec_ctx *c, ug_cfg *base, ug_cfg *over, ug_cfg **out) {
    *out = over ? over : base;
    if (!base || !over || base->type != UG_CFG_MAP || over->type != UG_CFG_MAP) return UG_OK;
    if (base->n == 0) return UG_OK;
    if (over->n == 0) {
        over->items = base->items;
        over->n = base->n;
        return UG_OK;
    }
    key_ix *ix = malloc((size_t)over->n * sizeof *ix);
    bool *used = calloc((size_t)over->n, sizeof *used);
    ug_cfg **items = ug_cfg_items_alloc(c->spec->pool, base->n + over->n);
    ug_status st = UG_OK;
    if (!ix || !used || !items) {
        st = ug_spec_nomem(c);
        goto done;
    }
    for (int k = 0; k < over->n; k++) ix[k] = (key_ix){over->items[k]->key, k};
    qsort(ix, (size_t)over->n, sizeof *ix, key_ix_cmp);
    int n = 0;
    for (int k = 0; k < base->n; k++) {
        ug_cfg *b = base->items[k];
        key_ix probe = {b->key, 0};
        const key_ix *hit = bsearch(&probe, ix, (size_t)over->n, sizeof *ix, key_ix_cmp);
        if (!hit) {
            items[n++] = b;
            continue;
        }
        used[hit->index] = true;
        if ((st = merge(c, b, over->items[hit->index], &items[n++]))) goto done;
    }
    for (int k = 0; k < over->n; k++)
        if (!used[k]) items[n++] = over->items[k];
    over->items = items; /* room for base->n + over->n >= n, as ug_cfg_append expects */
    over->n = n;
done:
    free(ix);
    free(used);
    return st;
}

/* ---- include ---- */

static bool same_file(const spec_file *a, const spec_file *b) {
    return a->known && b->known && a->dev == b->dev && a->ino == b->ino;
}

/* Read, parse and resolve the file named by `at` (a scalar of the include entry of chain[depth - 1];
 * `key` is "include" or "include.N" for messages). *out is NULL for an empty file. */
static ug_status load_included(spec_ctx *c, spec_file *chain, int depth, const ug_cfg *at, const char *key,
                               ug_cfg **out) {
    *out = NULL;
    const char *name = at->text, *from = chain[depth - 1].path;
    const char *slash = strrchr(from, '/');
    size_t dir = name[0] == '/' || !slash ? 0 : (size_t)(slash - from + 1);
    size_t nl = strlen(name);
    char *path = ug_cfg_pool_alloc(c->spec->pool, dir + nl + 1);
    if (!path) return ug_spec_nomem(c);
    memcpy(path, from, dir);
    memcpy(path + dir, name, nl + 1);
    if (depth > SPEC_MAX_INCLUDE_DEPTH)
        return ug_spec_fail(c, at, key, "includes nested more than %d deep (at '%s')", SPEC_MAX_INCLUDE_DEPTH, path);
    if (++c->n_files > SPEC_MAX_FILES)
        return ug_spec_fail(c, at, key, "more than %d files included (at '%s')", SPEC_MAX_FILES, path);

    /* a folder, a FIFO or a device is never a base spec, and opening or reading one can block */
    struct stat sb;
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode))
        return ug_spec_fail(c, at, key, "'%s' is not a regular file", path);
    FILE *f = fopen(path, "rb");
    if (!f) return ug_spec_fail(c, at, key, "cannot open '%s': %s", path, strerror(errno));
    spec_file self = {.path = path};
    if (fstat(fileno(f), &sb) == 0) {
        self.known = true;
        self.dev = sb.st_dev;
        self.ino = sb.st_ino;
    }
    for (int k = 0; k < depth; k++) {
        if (!same_file(&chain[k], &self)) continue;
        fclose(f);
        char loop[UG_ERRMSG_MAX] = "";
        for (int j = 0; j < depth; j++) {
            strncat(loop, chain[j].path, sizeof loop - strlen(loop) - 1);
            strncat(loop, " -> ", sizeof loop - strlen(loop) - 1);
        }
        strncat(loop, path, sizeof loop - strlen(loop) - 1);
        return ug_spec_fail(c, at, key, "include cycle: %s", loop);
    }
    char *text;
    size_t len;
    int e = ug_spec_read_file(f, &text, &len);
    fclose(f);
    if (e == ENOMEM) return ug_spec_nomem(c);
    if (e == EFBIG) return ug_spec_fail(c, at, key, "'%s' is larger than %u MiB; not a spec", path, SPEC_MAX_FILE >> 20);
    if (e) return ug_spec_fail(c, at, key, "cannot read '%s': %s", path, strerror(e));
    ug_cfg *tree;
    ug_status st = ug_spec_parse_yaml(c, path, 0, "", text, len, &tree);
    free(text);
    if (st) return st;
    if (!tree || tree->type == UG_CFG_NULL) return UG_OK; /* a file of comments adds nothing */
    if (tree->type != UG_CFG_MAP) {
        char got[128];
        ug_spec_describe(tree, got, sizeof got);
        return ug_spec_fail(c, tree, NULL, "an included spec must be a map of sections, got %s (included from %s:%d)",
                            got, from, at->line);
    }
    chain[depth] = self;
    return ug_spec_include(c, chain, depth + 1, tree, out);
}

ug_status ug_spec_include(spec_ctx *c, spec_file *chain, int depth, ug_cfg *root, ug_cfg **out) {
    *out = root;
    int at = -1;
    for (int k = 0; k < root->n && at < 0; k++)
        if (strcmp(root->items[k]->key, "include") == 0) at = k;
    if (at < 0) return UG_OK;
    ug_cfg *inc = root->items[at];
    /* the entry goes: no stage after this one sees it, nor the stored spec */
    memmove(root->items + at, root->items + at + 1, (size_t)(root->n - at - 1) * sizeof *root->items);
    root->n--;

    ug_cfg **names = &inc;
    int n = 1;
    if (inc->type == UG_CFG_LIST) {
        names = inc->items;
        n = inc->n;
    } else if (inc->type == UG_CFG_MAP || inc->type == UG_CFG_NULL) {
        char got[128];
        ug_spec_describe(inc, got, sizeof got);
        return ug_spec_fail(c, inc, "include", "expected a file name or a list of file names, got %s", got);
    }
    ug_cfg *acc = NULL;
    for (int k = 0; k < n; k++) {
        const ug_cfg *nm = names[k];
        char key[32] = "include";
        if (inc->type == UG_CFG_LIST) ug_spec_join_index(key, sizeof key, "include", k);
        if (nm->type == UG_CFG_LIST || nm->type == UG_CFG_MAP || nm->type == UG_CFG_NULL || !nm->text) {
            char got[128];
            ug_spec_describe(nm, got, sizeof got);
            return ug_spec_fail(c, nm, key, "expected a file name, got %s", got);
        }
        if (!nm->text[0]) return ug_spec_fail(c, nm, key, "empty file name");
        ug_cfg *tree;
        ug_status st = load_included(c, chain, depth, nm, key, &tree);
        if (!st) st = merge(c, acc, tree, &acc);
        if (st) return st;
    }
    return merge(c, acc, root, out);
}
