/* spec.c — the spec object: loading (read, parse, override, check, emit), accessors, and the one-line
 * error format every stage reports through. */
#include "spec/spec_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- errors ---- */

static bool is_cmdline(const ug_cfg *at) {
    return at && at->file && strcmp(at->file, UG_SPEC_FILE_CMDLINE) == 0;
}

static void where(spec_ctx *c, const ug_cfg *at, char *buf, size_t n) {
    const ug_spec *s = c->spec;
    if (!at) {
        snprintf(buf, n, "%s", s->path);
    } else if (is_cmdline(at)) {
        const char *o = at->line >= 1 && at->line <= s->n_overrides ? s->overrides[at->line - 1] : "?";
        snprintf(buf, n, "%s '%s'", UG_SPEC_FILE_CMDLINE, o);
    } else if (at->line <= 0) {
        snprintf(buf, n, "%s", at->file ? at->file : UG_SPEC_FILE_DEFAULT);
    } else {
        snprintf(buf, n, "%s:%d:%d", at->file ? at->file : s->path, at->line, at->col);
    }
}

/* Append with truncation (snprintf of several long parts makes -Wformat-truncation noisy). */
static void cat(char *dst, size_t cap, const char *s) {
    size_t l = strlen(dst);
    while (*s && l + 1 < cap) dst[l++] = *s++;
    dst[l] = 0;
}

ug_status ug_spec_fail(spec_ctx *c, const ug_cfg *at, const char *key, const char *fmt, ...) {
    char loc[512], msg[UG_ERRMSG_MAX];
    where(c, at, loc, sizeof loc);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* a default that fails its own schema is the plugin's bug, not the user's: say so */
    const char *blame = at && at->line <= 0 && !is_cmdline(at) ? "invalid default in the schema: " : "";
    char line[UG_ERRMSG_MAX] = "";
    const char *parts[] = {loc, ": ", key && *key ? key : "", key && *key ? ": " : "", blame, msg};
    for (size_t p = 0; p < sizeof parts / sizeof *parts; p++) cat(line, sizeof line, parts[p]);
    /* exactly one line, whatever the keys and paths contain */
    for (char *q = line; *q; q++)
        if ((unsigned char)*q < 0x20 || *q == 0x7f) *q = '?';
    return ug_error_set(c->err, UG_ERR_SPEC, "%s", line);
}

ug_status ug_spec_nomem(spec_ctx *c) {
    return ug_error_set(c->err, UG_ERR_NOMEM, "%s: out of memory while loading the spec", c->spec->path);
}

void ug_spec_describe(const ug_cfg *node, char *buf, size_t n) {
    if (!node || node->type == UG_CFG_NULL) {
        snprintf(buf, n, "nothing");
        return;
    }
    if (node->type == UG_CFG_LIST) {
        snprintf(buf, n, "a list");
        return;
    }
    if (node->type == UG_CFG_MAP) {
        snprintf(buf, n, "a map");
        return;
    }
    enum { SHOW = 40 };
    char tmp[4 * SHOW + 8];
    size_t k = 0;
    const char *t = node->text ? node->text : "";
    size_t shown = 0;
    for (; *t && shown < SHOW; t++, shown++) {
        unsigned char ch = (unsigned char)*t;
        if (ch == '\n') tmp[k++] = '\\', tmp[k++] = 'n';
        else if (ch == '\t') tmp[k++] = '\\', tmp[k++] = 't';
        else if (ch < 0x20 || ch == 0x7f) tmp[k++] = '?';
        else tmp[k++] = (char)ch;
    }
    if (*t) tmp[k++] = '.', tmp[k++] = '.', tmp[k++] = '.';
    tmp[k] = 0;
    snprintf(buf, n, "'%s'", tmp);
}

void ug_spec_join(char *buf, size_t n, const char *prefix, const char *key) {
    if (prefix && *prefix)
        snprintf(buf, n, "%s.%s", prefix, key);
    else
        snprintf(buf, n, "%s", key);
}

void ug_spec_join_index(char *buf, size_t n, const char *prefix, int index) {
    if (prefix && *prefix)
        snprintf(buf, n, "%s.%d", prefix, index);
    else
        snprintf(buf, n, "%d", index);
}

/* ---- loading ---- */

static ug_status load(const char *path, const char *text, size_t len, const char *const *overrides,
                      int n_overrides, const ug_spec_registry *reg, ug_spec **out, ug_error *err) {
    ug_spec *s = calloc(1, sizeof *s);
    if (!s || !(s->pool = ug_cfg_pool_new())) {
        free(s);
        return ug_error_set(err, UG_ERR_NOMEM, "%s: out of memory while loading the spec", path);
    }
    spec_ctx c = {.spec = s, .reg = reg, .err = err};
    ug_status st = UG_OK;
    s->path = ug_cfg_pool_strdup(s->pool, path);
    if (n_overrides < 0) n_overrides = 0;
    s->overrides = ug_cfg_pool_alloc(s->pool, (size_t)(n_overrides + 1) * sizeof(char *));
    if (!s->path || !s->overrides) {
        st = ug_spec_nomem(&c);
        goto done;
    }
    for (int k = 0; k < n_overrides; k++) {
        s->overrides[k] = ug_cfg_pool_strdup(s->pool, overrides[k] ? overrides[k] : "");
        if (!s->overrides[k]) {
            st = ug_spec_nomem(&c);
            goto done;
        }
    }
    s->n_overrides = n_overrides;

    if ((st = ug_spec_parse_yaml(&c, s->path, 0, "", text, len, &s->root))) goto done;
    if (!s->root || s->root->type == UG_CFG_NULL) {
        ug_cfg at = {.file = s->path, .line = 1, .col = 1};
        st = ug_spec_fail(&c, &at, NULL, "empty spec (expected a map with dataset, model, objective and train)");
        goto done;
    }
    if (s->root->type != UG_CFG_MAP) {
        char got[128];
        ug_spec_describe(s->root, got, sizeof got);
        st = ug_spec_fail(&c, s->root, NULL,
                       "expected a map of sections (dataset, model, objective, train, ...), got %s", got);
        goto done;
    }
    for (int k = 0; k < n_overrides; k++)
        if ((st = ug_spec_apply_override(&c, k))) goto done;
    if ((st = ug_spec_check(&c))) goto done;
    st = ug_spec_emit(&c);
done:
    if (st) {
        ug_spec_free(s);
        s = NULL;
    }
    *out = s;
    return st;
}

ug_status ug_spec_load_string(const char *name, const char *text, const char *const *overrides,
                              int n_overrides, const ug_spec_registry *reg, ug_spec **out,
                              ug_error *err) {
    if (!out) return ug_error_set(err, UG_ERR_ARG, "ug_spec_load_string: out is NULL");
    *out = NULL;
    if (!text) return ug_error_set(err, UG_ERR_ARG, "ug_spec_load_string: text is NULL");
    return load(name ? name : "<string>", text, strlen(text), overrides, n_overrides, reg, out, err);
}

ug_status ug_spec_load(const char *path, const char *const *overrides, int n_overrides,
                       const ug_spec_registry *reg, ug_spec **out, ug_error *err) {
    if (!out) return ug_error_set(err, UG_ERR_ARG, "ug_spec_load: out is NULL");
    *out = NULL;
    if (!path) return ug_error_set(err, UG_ERR_ARG, "ug_spec_load: path is NULL");
    FILE *f = fopen(path, "rb");
    if (!f) return ug_error_set(err, UG_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    ug_status st = UG_OK;
    while (buf) {
        if (len == cap) {
            if (cap >= SPEC_MAX_FILE) {
                st = ug_error_set(err, UG_ERR_SPEC, "%s: larger than %u MiB; not a spec", path,
                                  SPEC_MAX_FILE >> 20);
                break;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f)) st = ug_error_set(err, UG_ERR_IO, "%s: read error: %s", path, strerror(errno));
            break;
        }
    }
    fclose(f);
    if (!buf) return ug_error_set(err, UG_ERR_NOMEM, "%s: out of memory reading the spec", path);
    if (st == UG_OK) st = load(path, buf, len, overrides, n_overrides, reg, out, err);
    free(buf);
    return st;
}

void ug_spec_free(ug_spec *spec) {
    if (!spec) return;
    ug_cfg_pool_free(spec->pool);
    free(spec);
}

/* ---- accessors ---- */

const ug_cfg *ug_spec_root(const ug_spec *spec) { return spec ? spec->root : NULL; }

const ug_cfg *ug_spec_section(const ug_spec *spec, const char *key) {
    return spec ? ug_cfg_child(spec->root, key) : NULL;
}

const char *ug_spec_name(const ug_spec *spec) { return ug_cfg_str(ug_spec_root(spec), "name", NULL); }

const char *ug_spec_path(const ug_spec *spec) { return spec ? spec->path : NULL; }

static const ug_cfg *list_item(const ug_spec *spec, const char *key, int i) {
    const ug_cfg *l = ug_spec_section(spec, key);
    return l && l->type == UG_CFG_LIST && i >= 0 && i < l->n ? l->items[i] : NULL;
}

static int list_len(const ug_spec *spec, const char *key) {
    const ug_cfg *l = ug_spec_section(spec, key);
    return l && l->type == UG_CFG_LIST ? l->n : 0;
}

int ug_spec_n_objectives(const ug_spec *spec) { return list_len(spec, "objective"); }
const ug_cfg *ug_spec_objective(const ug_spec *spec, int i) { return list_item(spec, "objective", i); }
int ug_spec_n_metrics(const ug_spec *spec) { return list_len(spec, "metrics"); }
const ug_cfg *ug_spec_metric(const ug_spec *spec, int i) { return list_item(spec, "metrics", i); }

const ug_cfg *ug_spec_optim(const ug_spec *spec, const char *group) {
    return ug_cfg_child(ug_spec_section(spec, "optim"), group);
}

const char *ug_spec_canonical(const ug_spec *spec) { return spec ? spec->canonical : NULL; }

const char *ug_spec_id(const ug_spec *spec) { return spec ? spec->id : NULL; }

int ug_spec_flatten(const ug_spec *spec, ug_spec_leaf_fn fn, void *ud) {
    if (!spec || !fn) return 0;
    for (int k = 0; k < spec->n_flat; k++) {
        int r = fn(spec->flat_keys[k], spec->flat_vals[k], ud);
        if (r) return r;
    }
    return 0;
}
