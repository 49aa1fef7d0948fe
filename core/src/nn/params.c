/* params.c — named parameter groups, each one flat value block and one flat gradient block,
 * plus the initialisers that fill parameter values.
 *
 * Headers are malloc'ed one by one so their addresses survive re-finalization; only ->data moves.
 * Before a group is (re)finalized, new parameters live in private zeroed staging buffers so that a
 * model can declare and initialise layer by layer and finalize once at the end. Blocks and staging
 * buffers are the backend's memory (backend.h): allocated, zeroed and copied through its table, so
 * no value passes through host code here.
 * Deliberately independent of the tensor ops (only the ug_tensor struct is used), so the optimizer
 * and checkpoint code can be used and tested on raw blocks. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/ckd.h"
#include "nn/nn_internal.h"
#include "unigfn/host/util.h"
#include "unigfn/nn.h"

typedef struct param_rec {
    ug_tensor *t;      /* value header handed to the caller */
    ug_tensor *g;      /* gradient header (t->grad) */
    char *name;
    int64_t numel;
    int64_t offset;    /* in the group's block; valid once finalized */
    float *stage_val;  /* staging storage until the next finalize, then NULL */
    float *stage_grad;
} param_rec;

typedef struct group {
    char *name;
    param_rec *recs;
    int n, cap;
    int64_t count;     /* floats over all declared parameters */
    float *data, *grad;/* blocks holding the first `laid_out` floats (64-byte aligned) */
    int64_t laid_out;
    int staged;        /* parameters declared since the last finalize */
} group;

struct ug_params {
    group groups[UG_MAX_GROUPS];
    int n_groups;
    ug_error err;
    const ug_backend *be;  /* owns every block and staging buffer */
};

/* strdup is POSIX, not C11. */
static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

ug_params *ug_params_new(void) {
    ug_params *P = calloc(1, sizeof(ug_params));
    if (P) P->be = &ug_cpu_backend;
    return P;
}

const ug_backend *ug__params_backend(const ug_params *P) { return P ? P->be : NULL; }

/* n zeroed floats of the backend's memory (at least one 64-byte unit), or NULL. */
static float *alloc_zeroed(const ug_backend *be, int64_t n) {
    size_t bytes = (size_t)n * sizeof(float);
    float *p = be->alloc(bytes);
    if (p) be->zero(p, bytes);
    return p;
}

void ug_params_free(ug_params *P) {
    if (!P) return;
    for (int gi = 0; gi < P->n_groups; gi++) {
        group *G = &P->groups[gi];
        for (int i = 0; i < G->n; i++) {
            param_rec *r = &G->recs[i];
            P->be->free(r->stage_val);
            P->be->free(r->stage_grad);
            free(r->t);
            free(r->g);
            free(r->name);
        }
        free(G->recs);
        P->be->free(G->data);
        P->be->free(G->grad);
        free(G->name);
    }
    free(P);
}

ug_status ug_params_status(const ug_params *P) { return P ? P->err.code : UG_ERR_ARG; }
const char *ug_params_errmsg(const ug_params *P) { return P ? P->err.msg : "ug_params is NULL"; }

ug_status ug_params_fail(ug_params *P, ug_status code, const char *fmt, ...) {
    if (!P || P->err.code != UG_OK) return code;
    va_list ap;
    va_start(ap, fmt);
    P->err.code = code;
    vsnprintf(P->err.msg, sizeof P->err.msg, fmt, ap);
    va_end(ap);
    ug_msg_clean(P->err.msg, sizeof P->err.msg);
    return code;
}

int ug_params_group_index(const ug_params *P, const char *name) {
    if (!P || !name) return -1;
    for (int g = 0; g < P->n_groups; g++)
        if (strcmp(P->groups[g].name, name) == 0) return g;
    return -1;
}

int ug_params_group(ug_params *P, const char *name) {
    if (!P) return -1;
    if (!name || !name[0]) {
        ug_error_set(&P->err, UG_ERR_ARG, "parameter group name is empty");
        return -1;
    }
    int g = ug_params_group_index(P, name);
    if (g >= 0) return g;
    if (P->n_groups >= UG_MAX_GROUPS) {
        ug_error_set(&P->err, UG_ERR_ARG,
                     "parameter group '%s': at most %d groups (the backward mask is 64 bits)", name,
                     UG_MAX_GROUPS);
        return -1;
    }
    group *G = &P->groups[P->n_groups];
    memset(G, 0, sizeof *G);
    G->name = dup_str(name);
    if (!G->name) {
        ug_error_set(&P->err, UG_ERR_NOMEM, "parameter group '%s': out of memory", name);
        return -1;
    }
    return P->n_groups++;
}

/* A contiguous row-major F32 header over `data`; unused trailing dims are 1. */
static void fill_header(ug_tensor *t, float *data, int ndim, const int64_t *shape, int gi,
                        const char *name, int device) {
    memset(t, 0, sizeof *t);
    t->data = data;
    t->ndim = ndim;
    for (int d = 0; d < UG_MAX_DIMS; d++) t->shape[d] = d < ndim ? shape[d] : 1;
    int64_t s = 1;
    for (int d = UG_MAX_DIMS - 1; d >= 0; d--) {
        t->stride[d] = s;
        s *= t->shape[d];
    }
    t->dtype = UG_F32;
    t->device = (uint8_t)device;
    t->is_leaf = 1;
    t->group = gi;
    t->name = name;
}

ug_tensor *ug_param(ug_params *P, const char *group_name, const char *name, int ndim,
                    const int64_t *shape) {
    if (!P) return NULL;
    if (!name || !name[0]) {
        ug_error_set(&P->err, UG_ERR_ARG, "parameter in group '%s' has no name",
                     group_name ? group_name : "?");
        return NULL;
    }
    if (ndim < 0 || ndim > UG_MAX_DIMS || (ndim > 0 && !shape)) {
        ug_error_set(&P->err, UG_ERR_ARG, "parameter '%s/%s': ndim %d (0..%d, shape required)",
                     group_name ? group_name : "?", name, ndim, UG_MAX_DIMS);
        return NULL;
    }
    for (int d = 0; d < ndim; d++)
        if (shape[d] <= 0) {
            ug_error_set(&P->err, UG_ERR_ARG, "parameter '%s/%s': dim %d has size %lld",
                         group_name ? group_name : "?", name, d, (long long)shape[d]);
            return NULL;
        }
    int gi = ug_params_group(P, group_name);
    if (gi < 0) return NULL;
    group *G = &P->groups[gi];
    /* the element count, and the group's total with it, must fit in bytes (base/ckd.h) */
    int64_t numel, total;
    if (!ug_ckd_numel(ndim, shape, &numel) || !ug_ckd_add_i64(G->count, numel, &total) || total > INT64_MAX / 4) {
        char b[128];
        int k = snprintf(b, sizeof b, "[");
        for (int d = 0; d < ndim; d++) k += snprintf(b + k, sizeof b - (size_t)k, d ? ", %lld" : "%lld", (long long)shape[d]);
        snprintf(b + k, sizeof b - (size_t)k, "]");
        ug_error_set(&P->err, UG_ERR_ARG, "parameter '%s/%s': shape %s has too many elements (the group's size "
                     "overflows)", G->name, name, b);
        return NULL;
    }
    for (int i = 0; i < G->n; i++)
        if (strcmp(G->recs[i].name, name) == 0) {
            ug_error_set(&P->err, UG_ERR_ARG, "parameter '%s/%s' declared twice", G->name, name);
            return NULL;
        }
    if (G->n == G->cap) {
        int cap = G->cap ? 2 * G->cap : 16;
        param_rec *nr = realloc(G->recs, (size_t)cap * sizeof *nr);
        if (!nr) goto nomem;
        G->recs = nr;
        G->cap = cap;
    }
    param_rec r = {0};
    r.name = dup_str(name);
    r.t = malloc(sizeof *r.t);
    r.g = malloc(sizeof *r.g);
    r.stage_val = alloc_zeroed(P->be, numel);
    r.stage_grad = alloc_zeroed(P->be, numel);
    if (!r.name || !r.t || !r.g || !r.stage_val || !r.stage_grad) {
        free(r.name);
        free(r.t);
        free(r.g);
        P->be->free(r.stage_val);
        P->be->free(r.stage_grad);
        goto nomem;
    }
    r.numel = numel;
    r.offset = G->count;
    fill_header(r.t, r.stage_val, ndim, shape, gi, r.name, P->be->device);
    fill_header(r.g, r.stage_grad, ndim, shape, -1, r.name, P->be->device);  // a view of the block, not a parameter
    r.t->requires_grad = 1;
    r.t->grad = r.g;
    G->recs[G->n++] = r;
    G->count += numel;
    G->staged++;
    return r.t;
nomem:
    ug_error_set(&P->err, UG_ERR_NOMEM, "parameter '%s/%s': out of memory", G->name, name);
    return NULL;
}

ug_status ug_params_finalize(ug_params *P) {
    if (!P) return UG_ERR_ARG;
    for (int gi = 0; gi < P->n_groups; gi++) {
        group *G = &P->groups[gi];
        if (!G->staged && G->laid_out == G->count) continue;
        float *data = alloc_zeroed(P->be, G->count), *grad = alloc_zeroed(P->be, G->count);
        if (!data || !grad) {
            P->be->free(data);
            P->be->free(grad);
            return ug_error_set(&P->err, UG_ERR_NOMEM,
                                "parameter group '%s': cannot allocate %lld floats", G->name,
                                (long long)G->count);
        }
        for (int i = 0; i < G->n; i++) {
            param_rec *r = &G->recs[i];
            ug__copy_floats(P->be, data + r->offset, r->t->data, r->numel);
            ug__copy_floats(P->be, grad + r->offset, r->g->data, r->numel);
            r->t->data = data + r->offset;
            r->g->data = grad + r->offset;
            P->be->free(r->stage_val);
            P->be->free(r->stage_grad);
            r->stage_val = r->stage_grad = NULL;
        }
        P->be->free(G->data);
        P->be->free(G->grad);
        G->data = data;
        G->grad = grad;
        G->laid_out = G->count;
        G->staged = 0;
    }
    return UG_OK;
}

bool ug_params_finalized(const ug_params *P) {
    if (!P) return false;
    for (int gi = 0; gi < P->n_groups; gi++)
        if (P->groups[gi].staged) return false;
    return true;
}

int ug_params_group_count(const ug_params *P) { return P ? P->n_groups : 0; }

ug_status ug_params_group_info(const ug_params *P, int g, const char **name, float **data,
                               float **grad, int64_t *count) {
    if (!P || g < 0 || g >= P->n_groups) return UG_ERR_ARG;
    const group *G = &P->groups[g];
    if (name) *name = G->name;
    if (data) *data = G->data;
    if (grad) *grad = G->grad;
    if (count) *count = G->count;
    return UG_OK;
}

int ug_params_group_size(const ug_params *P, int g) {
    if (!P || g < 0 || g >= P->n_groups) return 0;
    return P->groups[g].n;
}

ug_tensor *ug_params_get(const ug_params *P, int g, int i) {
    if (!P || g < 0 || g >= P->n_groups || i < 0 || i >= P->groups[g].n) return NULL;
    return P->groups[g].recs[i].t;
}

int64_t ug_params_offset(const ug_params *P, int g, int i) {
    if (!P || g < 0 || g >= P->n_groups || i < 0 || i >= P->groups[g].n) return -1;
    return P->groups[g].recs[i].offset;
}

ug_tensor *ug_params_find(const ug_params *P, const char *group_name, const char *name) {
    int g = ug_params_group_index(P, group_name);
    if (g < 0 || !name) return NULL;
    const group *G = &P->groups[g];
    for (int i = 0; i < G->n; i++)
        if (strcmp(G->recs[i].name, name) == 0) return G->recs[i].t;
    return NULL;
}

int64_t ug_params_total(const ug_params *P) {
    int64_t n = 0;
    for (int g = 0; P && g < P->n_groups; g++) n += P->groups[g].count;
    return n;
}

void ug_params_zero_grad(ug_params *P, uint64_t group_mask) {
    if (!P) return;
    for (int gi = 0; gi < P->n_groups; gi++) {
        if (!(group_mask >> gi & 1)) continue;
        group *G = &P->groups[gi];
        if (G->grad) P->be->zero(G->grad, (size_t)G->laid_out * sizeof(float));
        /* Parameters declared after the last finalize keep their gradient in staging. */
        for (int i = 0; i < G->n && G->staged; i++)
            if (G->recs[i].stage_grad)
                P->be->zero(G->recs[i].stage_grad, (size_t)G->recs[i].numel * sizeof(float));
    }
}

/* ---- Initialisers ------------------------------------------------------------------------- */

/* Element count of a dense F32 tensor some backend holds, or -1 if it is not one. */
static int64_t dense_numel(const ug_tensor *t) {
    if (!t || !t->data || t->dtype != UG_F32 || !ug_backend_get(t->device)) return -1;
    int64_t n = 1, s = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        if (t->shape[d] != 1 && t->stride[d] != s) return -1;
        s *= t->shape[d];
        n *= t->shape[d];
    }
    return n;
}

/* The backend draws (rng.h's layout) and applies lo + (hi - lo) u in place; pos moves past them. */
ug_status ug_init_uniform(ug_tensor *t, float lo, float hi, ug_rng *rng) {
    int64_t n = dense_numel(t);
    if (n < 0 || !rng || !(lo <= hi)) return UG_ERR_ARG;
    ug_backend_get(t->device)->rng_fill(UG_RNG_UNIFORM, rng, true, lo, hi - lo, t);
    rng->pos += (uint64_t)(n + 3) / 4;
    return UG_OK;
}

ug_status ug_init_normal(ug_tensor *t, float mean, float std, ug_rng *rng) {
    int64_t n = dense_numel(t);
    if (n < 0 || !rng || !(std >= 0)) return UG_ERR_ARG;
    ug_backend_get(t->device)->rng_fill(UG_RNG_NORMAL, rng, true, mean, std, t);
    rng->pos += (uint64_t)(n + 3) / 4;
    return UG_OK;
}

ug_status ug_init_const(ug_tensor *t, float value) {
    int64_t n = dense_numel(t);
    if (n < 0) return UG_ERR_ARG;
    ug_backend_get(t->device)->fill(t, value);
    return UG_OK;
}
