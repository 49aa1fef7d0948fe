/* provenance.c — the provenance rows of a run (provenance.h): collected from a built experiment and
 * the registry it was built from, and compared with the rows a run was recorded with, which is how
 * `run` and `sweep` tell a FINISHED run computed by since-edited plugins from one that still stands. */
#include "unigfn/host/provenance.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unigfn/host/sha256.h"

static ug_status add_plugin(ug_prov_set *set, ug_registry *reg, const ug_plugin_desc *d, ug_error *err) {
    if (!d) return UG_OK;
    const char *kind = ug_kind_name((ug_plugin_kind)d->kind);
    for (int i = 0; i < set->n; i++)
        if (strcmp(set->rows[i].kind, kind) == 0 && strcmp(set->rows[i].name, d->name) == 0) return UG_OK;
    const ug_plugin_ref *r = ug_registry_find(reg, (ug_plugin_kind)d->kind, d->name);
    if (!r) return ug_error_set(err, UG_ERR_ARG, "provenance: %s '%s' is not in the registry", kind, d->name);
    if (set->n >= UG_PROV_MAX) return ug_error_set(err, UG_ERR_ARG, "provenance: more than %d rows", UG_PROV_MAX);
    const char *hex;
    ug_status s = ug_registry_sha256(reg, r, &hex, err);
    if (s) return s;
    set->rows[set->n++] = (ug_provenance){kind, d->name, r->real ? r->real : r->path, d->version, hex};
    return UG_OK;
}

ug_status ug_prov_of_experiment(const ug_experiment *ex, ug_registry *reg, ug_prov_set *out, ug_error *err) {
    out->n = 0;
    ug_status s = add_plugin(out, reg, ex->data_desc, err);
    if (!s) s = add_plugin(out, reg, ex->model_desc, err);
    for (int t = 0; !s && t < ex->n_terms; t++) s = add_plugin(out, reg, ex->terms[t].desc, err);
    for (int m = 0; !s && m < ex->n_metrics; m++) s = add_plugin(out, reg, ex->metrics[m].desc, err);
    return s;
}

ug_status ug_prov_add_checkpoint(ug_prov_set *set, const char *src_id, const char *path, int64_t step,
                                 ug_error *err) {
    if (set->n >= UG_PROV_MAX) return ug_error_set(err, UG_ERR_ARG, "provenance: more than %d rows", UG_PROV_MAX);
    char real[PATH_MAX];
    snprintf(set->ckpt_path, sizeof set->ckpt_path, "%s", realpath(path, real) ? real : path);
    int e = ug_sha256_file(path, set->ckpt_sha256, NULL);
    if (e) return ug_error_set(err, UG_ERR_IO, "checkpoint %s: cannot read it to hash it: %s", path, strerror(e));
    snprintf(set->ckpt_name, sizeof set->ckpt_name, "%s", src_id);
    snprintf(set->ckpt_version, sizeof set->ckpt_version, "step %lld", (long long)step);
    set->rows[set->n++] = (ug_provenance){"checkpoint", set->ckpt_name, set->ckpt_path, set->ckpt_version,
                                          set->ckpt_sha256};
    return UG_OK;
}

typedef struct cmp_ctx {
    ug_registry *reg;
    const ug_prov_set *now;
    int n_changed;
    char first[512];
    ug_status st;
    ug_error *err;
} cmp_ctx;

/* The present hash of recorded row p, or NULL when there is nothing to compare it with. */
static const char *present_sha(cmp_ctx *c, const ug_provenance *p) {
    for (int i = 0; c->now && i < c->now->n; i++)
        if (strcmp(c->now->rows[i].kind, p->kind) == 0 && strcmp(c->now->rows[i].name, p->name) == 0)
            return c->now->rows[i].sha256;
    int kind = ug_kind_from_name(p->kind);
    const ug_plugin_ref *r = c->reg && kind ? ug_registry_find(c->reg, (ug_plugin_kind)kind, p->name) : NULL;
    if (!r) return NULL;
    const char *hex = NULL;
    ug_error e = {0};
    if (ug_registry_sha256(c->reg, r, &hex, &e)) {
        c->st = ug_error_set(c->err, e.code, "%s", e.msg);
        return NULL;
    }
    return hex;
}

static int compare_row(void *user, const ug_provenance *p) {
    cmp_ctx *c = user;
    if (!p->kind || !p->name || !p->sha256) return 0;
    const char *now = present_sha(c, p);
    if (c->st) return 1;
    if (!now || strcmp(now, p->sha256) == 0) return 0;
    if (c->n_changed++ == 0) {
        if (strcmp(p->kind, "checkpoint") == 0)
            snprintf(c->first, sizeof c->first, "the checkpoint of run %s sha256 %.12s, now %.12s", p->name,
                     p->sha256, now);
        else
            snprintf(c->first, sizeof c->first, "%s '%s' sha256 %.12s, now %.12s", p->kind, p->name, p->sha256, now);
    }
    return 0;
}

ug_status ug_prov_changed(ug_store *st, const char *id, ug_registry *reg, const ug_prov_set *now, int *n_changed,
                          char *why, size_t cap, ug_error *err) {
    *n_changed = 0;
    if (cap) why[0] = 0;
    cmp_ctx c = {.reg = reg, .now = now, .err = err};
    ug_status s = ug_store_provenance(st, id, compare_row, &c, err);
    if (!s) s = c.st;
    if (s) return s;
    *n_changed = c.n_changed;
    if (cap && c.n_changed > 1)
        snprintf(why, cap, "%s (and %d more)", c.first, c.n_changed - 1);
    else if (cap)
        snprintf(why, cap, "%s", c.first);
    return UG_OK;
}
