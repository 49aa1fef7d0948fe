/* sweep.c — sweep axes (spec block and command line), their expansion into jobs, and the plan: every
 * job's spec resolved, its run id and its status in the store, and for a FINISHED one whether its
 * plugins changed since, before anything runs. */
#include "unigfn/host/sweep.h"
#include "unigfn/host/provenance.h"
#include "unigfn/host/util.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct axis {
    char *key;
    char **values;     /* YAML text of each value */
    char **ovr;        /* "key=value", built by ug_sweep_finish */
    int n, cap;
    int group;         /* -1: an independent factor; else the zip group */
    bool from_cli;
} axis;

struct ug_sweep {
    axis *axes;
    int n, cap;
    int next_group;
    int cli_group;     /* zip group of --zip axes, -1 until the first */
    /* set by ug_sweep_finish */
    int n_factors;
    int *factor_len;   /* [n_factors] */
    int64_t *stride;   /* [n_factors]: product of the lengths of the later factors */
    int *axis_factor;  /* [n] */
    int64_t n_jobs;
    bool finished;
};

ug_sweep *ug_sweep_new(void) {
    ug_sweep *sw = calloc(1, sizeof *sw);
    if (sw) sw->cli_group = -1;
    return sw;
}

static void axis_clear(axis *a) {
    for (int i = 0; i < a->n; i++) {
        free(a->values[i]);
        if (a->ovr) free(a->ovr[i]);
    }
    free(a->values);
    free(a->ovr);
    free(a->key);
    memset(a, 0, sizeof *a);
}

void ug_sweep_free(ug_sweep *sw) {
    if (!sw) return;
    for (int i = 0; i < sw->n; i++) axis_clear(&sw->axes[i]);
    free(sw->axes);
    free(sw->factor_len);
    free(sw->stride);
    free(sw->axis_factor);
    free(sw);
}

static axis *axis_new(ug_sweep *sw, const char *key, int group, bool from_cli, ug_error *err) {
    if (sw->n == sw->cap) {
        int cap = sw->cap ? 2 * sw->cap : 8;
        axis *a = realloc(sw->axes, (size_t)cap * sizeof *a);
        if (!a) { ug_error_set(err, UG_ERR_NOMEM, "sweep: out of memory"); return NULL; }
        sw->axes = a, sw->cap = cap;
    }
    axis *a = &sw->axes[sw->n];
    memset(a, 0, sizeof *a);
    if (!(a->key = strdup(key))) { ug_error_set(err, UG_ERR_NOMEM, "sweep: out of memory"); return NULL; }
    a->group = group;
    a->from_cli = from_cli;
    sw->n++;
    sw->finished = false;
    return a;
}

static ug_status axis_add_value(axis *a, const char *text, size_t len, ug_error *err) {
    if (a->n == a->cap) {
        int cap = a->cap ? 2 * a->cap : 8;
        char **v = realloc(a->values, (size_t)cap * sizeof *v);
        if (!v) return ug_error_set(err, UG_ERR_NOMEM, "sweep: out of memory");
        a->values = v, a->cap = cap;
    }
    char *s = malloc(len + 1);
    if (!s) return ug_error_set(err, UG_ERR_NOMEM, "sweep: out of memory");
    memcpy(s, text, len);
    s[len] = 0;
    a->values[a->n++] = s;
    if (a->n > UG_SWEEP_MAX_JOBS)
        return ug_error_set(err, UG_ERR_ARG, "sweep axis '%s': more than %d values", a->key, UG_SWEEP_MAX_JOBS);
    return UG_OK;
}

/* "a:b" or "a:b:step" with integers: true and the three numbers; anything else is not a range. */
static bool parse_range(const char *s, size_t len, long long *a, long long *b, long long *step) {
    char buf[96];
    if (len == 0 || len >= sizeof buf) return false;
    memcpy(buf, s, len);
    buf[len] = 0;
    long long v[3] = {0, 0, 1};
    int k = 0;
    char *p = buf;
    for (;;) {
        char *end;
        if (!(isdigit((unsigned char)*p) || ((*p == '-' || *p == '+') && isdigit((unsigned char)p[1])))) return false;
        errno = 0;
        v[k++] = strtoll(p, &end, 10);
        if (errno == ERANGE) return false;  /* past int64: not a range, so the value is checked as written */
        p = end;
        if (*p == 0) break;
        if (*p != ':' || k == 3) return false;
        p++;
    }
    if (k < 2) return false;
    *a = v[0], *b = v[1], *step = v[2];
    return true;
}

static ug_status add_range(axis *a, long long lo, long long hi, long long step, const char *where, ug_error *err) {
    if (step == 0) return ug_error_set(err, UG_ERR_ARG, "%s: range step is 0", where);
    if ((step > 0 && lo >= hi) || (step < 0 && lo <= hi))
        return ug_error_set(err, UG_ERR_ARG, "%s: range %lld:%lld%s is empty (ranges are half-open: 0:5 is 0 1 2 3 4)",
                            where, lo, hi, step == 1 ? "" : ":step");
    long long span;
    if (__builtin_sub_overflow(hi, lo, &span) || span / step > UG_SWEEP_MAX_JOBS)
        return ug_error_set(err, UG_ERR_ARG, "%s: range has more than %d values", where, UG_SWEEP_MAX_JOBS);
    for (long long v = lo; step > 0 ? v < hi : v > hi; v += step) {
        char t[32];
        int n = snprintf(t, sizeof t, "%lld", v);
        ug_status s = axis_add_value(a, t, (size_t)n, err);
        if (s) return s;
    }
    return UG_OK;
}

/* ---- YAML flow text of a spec node, for values that come from the sweep block ---- */
static bool plain_safe(const char *s) {
    if (!*s) return false;
    static const char *const words[] = {"null", "true", "false", "yes", "no", "on", "off", "~", NULL};
    for (const char *const *w = words; *w; w++)
        if (strcasecmp(s, *w) == 0) return false;
    /* a leading digit/sign/dot could read as a number */
    if (isdigit((unsigned char)s[0]) || s[0] == '-' || s[0] == '+' || s[0] == '.') return false;
    for (const char *p = s; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '_' || *p == '.' || *p == '/' || *p == '-' || *p == '+'))
            return false;
    return true;
}

static void put_string(ug_sbuf *b, const char *s) {
    if (plain_safe(s)) { ug_sbuf_put(b, s); return; }
    ug_sbuf_put(b, "'");
    for (const char *p = s; *p; p++) {
        if (*p == '\'') ug_sbuf_put(b, "''");
        else ug_sbuf_putn(b, p, 1);
    }
    ug_sbuf_put(b, "'");
}

static void put_flow(ug_sbuf *b, const ug_cfg *n) {
    switch (n->type) {
    case UG_CFG_NULL: ug_sbuf_put(b, "null"); break;
    case UG_CFG_BOOL: ug_sbuf_put(b, n->b ? "true" : "false"); break;
    case UG_CFG_INT:
    case UG_CFG_FLOAT: ug_sbuf_put(b, n->text ? n->text : "0"); break;
    case UG_CFG_STRING: put_string(b, n->text ? n->text : ""); break;
    case UG_CFG_LIST:
    case UG_CFG_MAP:
        ug_sbuf_put(b, n->type == UG_CFG_LIST ? "[" : "{");
        for (int k = 0; k < n->n; k++) {
            if (k) ug_sbuf_put(b, ", ");
            if (n->type == UG_CFG_MAP) {
                put_string(b, n->items[k]->key);
                ug_sbuf_put(b, ": ");
            }
            put_flow(b, n->items[k]);
        }
        ug_sbuf_put(b, n->type == UG_CFG_LIST ? "]" : "}");
        break;
    }
}

static ug_status check_key(ug_sweep *sw, const char *key, const char *where, bool from_cli, ug_error *err) {
    if (!*key) return ug_error_set(err, UG_ERR_ARG, "%s: empty key", where);
    if (strcmp(key, "sweep") == 0 || strncmp(key, "sweep.", 6) == 0)
        return ug_error_set(err, UG_ERR_ARG, "%s: a sweep cannot set the sweep itself", where);
    for (int i = 0; i < sw->n; i++) {
        if (strcmp(sw->axes[i].key, key) != 0) continue;
        if (from_cli && !sw->axes[i].from_cli) {
            /* the command line replaces the spec's axis */
            axis_clear(&sw->axes[i]);
            memmove(&sw->axes[i], &sw->axes[i + 1], (size_t)(sw->n - i - 1) * sizeof(axis));
            sw->n--;
            return UG_OK;
        }
        return ug_error_set(err, UG_ERR_ARG, "%s: key '%s' appears twice in the sweep", where, key);
    }
    return UG_OK;
}

/* One entry of the sweep block: a list of values, a range string, or one scalar value. */
static ug_status add_cfg_axis(ug_sweep *sw, const ug_cfg *v, int group, const char *where, ug_error *err) {
    ug_status s = check_key(sw, v->key, where, false, err);
    if (s) return s;
    if (v->type == UG_CFG_MAP)
        return ug_error_set(err, UG_ERR_ARG, "%s: expected a list of values, a range a:b or one value, not a map "
                            "(write a map value inside a list: [{...}, {...}])", where);
    axis *a = axis_new(sw, v->key, group, false, err);
    if (!a) return err->code;
    if (v->type == UG_CFG_LIST) {
        if (v->n == 0) return ug_error_set(err, UG_ERR_ARG, "%s: empty list of values", where);
        for (int k = 0; k < v->n; k++) {
            ug_sbuf b = {0};
            put_flow(&b, v->items[k]);
            if (b.oom) { free(b.s); return ug_error_set(err, UG_ERR_NOMEM, "sweep: out of memory"); }
            s = axis_add_value(a, b.s, b.n, err);
            free(b.s);
            if (s) return s;
        }
        return UG_OK;
    }
    long long lo, hi, step;
    if (v->type == UG_CFG_STRING && v->text && parse_range(v->text, strlen(v->text), &lo, &hi, &step))
        return add_range(a, lo, hi, step, where, err);
    ug_sbuf b = {0};
    put_flow(&b, v);
    if (b.oom) { free(b.s); return ug_error_set(err, UG_ERR_NOMEM, "sweep: out of memory"); }
    s = axis_add_value(a, b.s, b.n, err);
    free(b.s);
    return s;
}

static ug_status add_zip_group(ug_sweep *sw, const ug_cfg *m, const char *where, ug_error *err) {
    if (m->type != UG_CFG_MAP || m->n == 0)
        return ug_error_set(err, UG_ERR_ARG, "%s: expected a map of axes that move together", where);
    int g = sw->next_group++;
    for (int k = 0; k < m->n; k++) {
        char w[600];
        snprintf(w, sizeof w, "%s.%s", where, m->items[k]->key);
        if (strcmp(m->items[k]->key, "zip") == 0)
            return ug_error_set(err, UG_ERR_ARG, "%s: zip groups do not nest", w);
        ug_status s = add_cfg_axis(sw, m->items[k], g, w, err);
        if (s) return s;
    }
    return UG_OK;
}

ug_status ug_sweep_add_cfg(ug_sweep *sw, const ug_cfg *sweep, ug_error *err) {
    if (!sweep) return UG_OK;
    if (sweep->type != UG_CFG_MAP) return ug_error_set(err, UG_ERR_ARG, "sweep: expected a map");
    for (int k = 0; k < sweep->n; k++) {
        const ug_cfg *v = sweep->items[k];
        char where[560];
        snprintf(where, sizeof where, "sweep.%s", v->key);
        ug_status s;
        if (strcmp(v->key, "zip") == 0) {
            if (v->type == UG_CFG_LIST) {
                s = UG_OK;
                for (int i = 0; i < v->n && !s; i++) {
                    snprintf(where, sizeof where, "sweep.zip.%d", i);
                    s = add_zip_group(sw, v->items[i], where, err);
                }
            } else {
                s = add_zip_group(sw, v, where, err);
            }
        } else {
            s = add_cfg_axis(sw, v, -1, where, err);
        }
        if (s) return s;
    }
    return UG_OK;
}

ug_status ug_sweep_add_arg(ug_sweep *sw, const char *arg, bool zip, ug_error *err) {
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg) return ug_error_set(err, UG_ERR_ARG, "sweep axis '%s': expected key=v1,v2,... or key=a:b", arg);
    char key[512];
    snprintf(key, sizeof key, "%.*s", (int)(eq - arg), arg);
    char where[600];
    snprintf(where, sizeof where, "sweep axis '%s'", arg);
    ug_status s = check_key(sw, key, where, true, err);
    if (s) return s;
    if (zip && sw->cli_group < 0) sw->cli_group = sw->next_group++;
    axis *a = axis_new(sw, key, zip ? sw->cli_group : -1, true, err);
    if (!a) return err->code;
    /* split at commas outside brackets and quotes */
    const char *p = eq + 1, *start = p;
    int depth = 0;
    char quote = 0;
    for (;; p++) {
        char c = *p;
        if (quote) {
            if (c == quote) quote = 0;
            else if (c == 0) return ug_error_set(err, UG_ERR_ARG, "%s: unterminated quote", where);
            continue;
        }
        if (c == '\'' || c == '"') quote = c;
        else if (c == '[' || c == '{') depth++;
        else if ((c == ']' || c == '}') && depth > 0) depth--;
        else if ((c == ',' && depth == 0) || c == 0) {
            const char *b = start, *e = p;
            while (b < e && isspace((unsigned char)*b)) b++;
            while (e > b && isspace((unsigned char)e[-1])) e--;
            if (b == e) return ug_error_set(err, UG_ERR_ARG, "%s: empty value", where);
            long long lo, hi, step;
            if (parse_range(b, (size_t)(e - b), &lo, &hi, &step)) s = add_range(a, lo, hi, step, where, err);
            else s = axis_add_value(a, b, (size_t)(e - b), err);
            if (s) return s;
            if (c == 0) break;
            start = p + 1;
        }
    }
    return UG_OK;
}

ug_status ug_sweep_finish(ug_sweep *sw, int64_t *n_jobs, ug_error *err) {
    free(sw->factor_len);
    free(sw->stride);
    free(sw->axis_factor);
    sw->factor_len = calloc((size_t)sw->n + 1, sizeof(int));
    sw->stride = calloc((size_t)sw->n + 1, sizeof(int64_t));
    sw->axis_factor = calloc((size_t)sw->n + 1, sizeof(int));
    if (!sw->factor_len || !sw->stride || !sw->axis_factor) return ug_error_set(err, UG_ERR_NOMEM, "sweep: out of memory");
    sw->n_factors = 0;
    int64_t total = 1;
    for (int i = 0; i < sw->n; i++) {
        axis *a = &sw->axes[i];
        int f = -1;
        if (a->group >= 0)
            for (int j = 0; j < i; j++)
                if (sw->axes[j].group == a->group) { f = sw->axis_factor[j]; break; }
        if (f >= 0) {
            if (sw->factor_len[f] != a->n) {
                const char *other = NULL;
                for (int j = 0; j < i; j++)
                    if (sw->axes[j].group == a->group) { other = sw->axes[j].key; break; }
                return ug_error_set(err, UG_ERR_ARG, "sweep zip: '%s' has %d values but '%s' has %d; zipped axes "
                                    "move together and need equal lengths", a->key, a->n, other, sw->factor_len[f]);
            }
        } else {
            f = sw->n_factors++;
            sw->factor_len[f] = a->n;
            total *= a->n;
            if (total > UG_SWEEP_MAX_JOBS)
                return ug_error_set(err, UG_ERR_ARG, "sweep: more than %d jobs", UG_SWEEP_MAX_JOBS);
        }
        sw->axis_factor[i] = f;
        if (!a->ovr) {
            if (!(a->ovr = calloc((size_t)a->n, sizeof(char *)))) return ug_error_set(err, UG_ERR_NOMEM, "sweep: out of memory");
            for (int k = 0; k < a->n; k++) {
                size_t len = strlen(a->key) + strlen(a->values[k]) + 2;
                if (!(a->ovr[k] = malloc(len))) return ug_error_set(err, UG_ERR_NOMEM, "sweep: out of memory");
                snprintf(a->ovr[k], len, "%s=%s", a->key, a->values[k]);
            }
        }
    }
    int64_t stride = 1;   /* the last factor moves fastest */
    for (int f = sw->n_factors - 1; f >= 0; f--) {
        sw->stride[f] = stride;
        stride *= sw->factor_len[f];
    }
    sw->n_jobs = total;
    sw->finished = true;
    if (n_jobs) *n_jobs = total;
    return UG_OK;
}

int ug_sweep_n_axes(const ug_sweep *sw) { return sw->n; }

int ug_sweep_job_overrides(const ug_sweep *sw, int64_t j, const char **out, int cap) {
    if (!sw->finished || j < 0 || j >= sw->n_jobs || cap < 1) return 0;
    int n = 0;
    out[n++] = UG_SWEEP_RESET;
    for (int i = 0; i < sw->n && n < cap; i++) {
        int f = sw->axis_factor[i];
        out[n++] = sw->axes[i].ovr[(j / sw->stride[f]) % sw->factor_len[f]];
    }
    return n;
}

/* ---- the plan ---- */

void ug_sweep_job_label(const ug_sweep_job *j, char *buf, size_t cap) {
    size_t used = 0;
    buf[0] = 0;
    for (int i = 1; i < j->n_overrides && used + 1 < cap; i++) {
        int w = snprintf(buf + used, cap - used, "%s%s", i > 1 ? " " : "", j->overrides[i]);
        if (w < 0) break;
        used += (size_t)w;
    }
}

typedef struct id_ref {
    const char *id;
    int64_t job;
} id_ref;

static int id_ref_cmp(const void *a, const void *b) {
    const id_ref *x = a, *y = b;
    int r = strcmp(x->id, y->id);
    return r ? r : (x->job > y->job) - (x->job < y->job);
}

void ug_sweep_plan_free(ug_sweep_plan *p) {
    if (!p || !p->jobs) return;
    for (int64_t j = 0; j < p->n_jobs; j++) {
        ug_sweep_job *jb = &p->jobs[j];
        for (int i = 0; i < jb->n_overrides; i++) free((char *)jb->overrides[i]);
        free(jb->overrides);
        free(jb->experiment);
        free(jb->changed);
    }
    free(p->jobs);
    p->jobs = NULL;
    p->n_jobs = 0;
}

ug_status ug_sweep_plan_make(const ug_sweep *sw, const char *spec_path, const ug_spec_registry *reg,
                             ug_store *st, bool queue, ug_sweep_plan *out, ug_error *err) {
    memset(out, 0, sizeof *out);
    if (!sw->finished) return ug_error_set(err, UG_ERR_ARG, "ug_sweep_plan_make: call ug_sweep_finish first");
    out->jobs = calloc((size_t)sw->n_jobs, sizeof *out->jobs);
    if (!out->jobs) return ug_error_set(err, UG_ERR_NOMEM, "sweep: out of memory");
    out->n_jobs = sw->n_jobs;
    const char **ovr = malloc(((size_t)sw->n + 1) * sizeof *ovr);
    if (!ovr) return ug_error_set(err, UG_ERR_NOMEM, "sweep: out of memory");
    ug_status s = UG_OK;
    for (int64_t j = 0; j < sw->n_jobs && !s; j++) {
        ug_sweep_job *jb = &out->jobs[j];
        jb->index = j;
        int n = ug_sweep_job_overrides(sw, j, ovr, sw->n + 1);
        if (!(jb->overrides = calloc((size_t)n, sizeof(char *)))) { s = ug_error_set(err, UG_ERR_NOMEM, "sweep: out of memory"); break; }
        for (int i = 0; i < n; i++)
            if (!(jb->overrides[jb->n_overrides++] = strdup(ovr[i]))) s = ug_error_set(err, UG_ERR_NOMEM, "sweep: out of memory");
        if (s) break;
        ug_spec *spec = NULL;
        ug_error e = {0};
        if (ug_spec_load(spec_path, ovr, n, reg, &spec, &e)) {
            char label[1024];
            ug_sweep_job_label(jb, label, sizeof label);
            s = ug_error_set(err, e.code, "job %lld (%s): %s", (long long)j, label, e.msg);
            break;
        }
        snprintf(jb->id, sizeof jb->id, "%s", ug_spec_id(spec));
        jb->experiment = strdup(ug_spec_name(spec));
        if (!jb->experiment) s = ug_error_set(err, UG_ERR_NOMEM, "sweep: out of memory");
        if (!s && st) s = ug_store_run_status(st, jb->id, &jb->status, err);
        if (!s && st && queue && jb->status == UG_RUN_ABSENT) {
            ug_kv l = {0};
            if (ug_spec_flatten(spec, ug_kv_add, &l)) {
                s = ug_error_set(err, UG_ERR_NOMEM, "sweep: out of memory");
            } else {
                ug_run_info info = {.id = jb->id, .experiment = jb->experiment, .spec = ug_spec_canonical(spec),
                                    .param_keys = l.k, .param_values = l.v, .n_params = l.n,
                                    .seed = ug_cfg_int(ug_spec_root(spec), "seed", 0)};
                s = ug_store_run_queue(st, &info, err);
            }
            ug_kv_free(&l);
        }
        ug_spec_free(spec);
    }
    free(ovr);
    if (!s) {
        /* two jobs with one id would be one run: an axis that does not change the resolved spec */
        id_ref *r = malloc((size_t)out->n_jobs * sizeof *r);
        if (!r) s = ug_error_set(err, UG_ERR_NOMEM, "sweep: out of memory");
        for (int64_t j = 0; r && j < out->n_jobs; j++) r[j] = (id_ref){out->jobs[j].id, j};
        if (r) qsort(r, (size_t)out->n_jobs, sizeof *r, id_ref_cmp);
        for (int64_t j = 1; r && j < out->n_jobs && !s; j++) {
            if (strcmp(r[j].id, r[j - 1].id) != 0) continue;
            char a[512], b[512];
            ug_sweep_job_label(&out->jobs[r[j - 1].job], a, sizeof a);
            ug_sweep_job_label(&out->jobs[r[j].job], b, sizeof b);
            s = ug_error_set(err, UG_ERR_ARG, "jobs %lld (%s) and %lld (%s) resolve to the same spec (run %s): an axis "
                             "does not change the run (the name is not part of the id)",
                             (long long)r[j - 1].job, a, (long long)r[j].job, b, r[j].id);
        }
        free(r);
    }
    if (s) ug_sweep_plan_free(out);
    return s;
}

ug_status ug_sweep_plan_check_provenance(ug_sweep_plan *p, ug_store *st, struct ug_registry *reg, int *n_changed,
                                         ug_error *err) {
    *n_changed = 0;
    for (int64_t j = 0; st && j < p->n_jobs; j++) {
        ug_sweep_job *jb = &p->jobs[j];
        if (jb->status != UG_RUN_FINISHED) continue;
        int n = 0;
        char why[700];
        ug_status s = ug_prov_changed(st, jb->id, reg, NULL, &n, why, sizeof why, err);
        if (s) return s;
        if (!n) continue;
        free(jb->changed);
        if (!(jb->changed = strdup(why))) return ug_error_set(err, UG_ERR_NOMEM, "sweep: out of memory");
        (*n_changed)++;
    }
    return UG_OK;
}
