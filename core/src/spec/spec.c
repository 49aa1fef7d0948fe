/* spec.c — the spec object: the load pipeline (read, parse, include, override, interpolate, check,
 * emit) and accessors. The stages report through spec_errors.c, which does not call back into this file. */
#include "spec/spec_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- loading ---- */

/* Override `index` names a key an earlier one already set (or added, or deleted: "+k=1 k=2" and
 * "~k k=1" are one key twice too). A later value silently winning hides a mistake (a sweep axis and a
 * hand-written override of one key, a pasted command line), so this is an error naming the key and
 * both overrides. */
static ug_status duplicate_override(spec_ctx *c, int index) {
    const ug_spec *s = c->spec;
    size_t kl, pl;
    const char *k = ug_spec_override_key(s->overrides[index], &kl);
    if (kl == 0) return UG_OK; /* no key: ug_spec_apply_override says so */
    for (int j = 0; j < index; j++) {
        const char *p = ug_spec_override_key(s->overrides[j], &pl);
        if (pl != kl || memcmp(p, k, kl) != 0) continue;
        const ug_cfg here = {.file = UG_SPEC_FILE_CMDLINE, .line = index + 1};
        return ug_spec_fail(c, &here, NULL, "override '%.*s' given twice (first as '%s')", (int)kl, k, s->overrides[j]);
    }
    return UG_OK;
}

/* `self` is the file's identity for include cycles (known false for text). */
static ug_status load(const char *path, const char *text, size_t len, spec_file self,
                      const char *const *overrides, int n_overrides, const ug_spec_registry *reg,
                      ug_spec **out, ug_error *err) {
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
    spec_file chain[SPEC_MAX_INCLUDE_DEPTH + 1];
    self.path = s->path;
    chain[0] = self;
    if ((st = ug_spec_include(&c, chain, 1, s->root, &s->root))) goto done;
    for (int k = 0; k < n_overrides; k++)
        if ((st = duplicate_override(&c, k)) || (st = ug_spec_apply_override(&c, k))) goto done;
    if ((st = ug_spec_interpolate(&c))) goto done;
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
    return load(name ? name : "<string>", text, strlen(text), (spec_file){0}, overrides, n_overrides, reg, out,
                err);
}

ug_status ug_spec_load(const char *path, const char *const *overrides, int n_overrides,
                       const ug_spec_registry *reg, ug_spec **out, ug_error *err) {
    if (!out) return ug_error_set(err, UG_ERR_ARG, "ug_spec_load: out is NULL");
    *out = NULL;
    if (!path) return ug_error_set(err, UG_ERR_ARG, "ug_spec_load: path is NULL");
    FILE *f = fopen(path, "rb");
    if (!f) return ug_error_set(err, UG_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    spec_file self = {0};
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0) self = (spec_file){.known = true, .dev = sb.st_dev, .ino = sb.st_ino};
    char *buf;
    size_t len;
    int e = ug_spec_read_file(f, &buf, &len);
    fclose(f);
    if (e == ENOMEM) return ug_error_set(err, UG_ERR_NOMEM, "%s: out of memory reading the spec", path);
    if (e == EFBIG) return ug_error_set(err, UG_ERR_SPEC, "%s: larger than %u MiB; not a spec", path, SPEC_MAX_FILE >> 20);
    if (e) return ug_error_set(err, UG_ERR_IO, "%s: read error: %s", path, strerror(e));
    ug_status st = load(path, buf, len, self, overrides, n_overrides, reg, out, err);
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
