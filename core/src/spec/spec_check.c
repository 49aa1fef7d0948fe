/* ug_spec_check.c — validate the parsed tree against the core and plugin schemas, type every value, fill
 * every default, and put each map's keys in schema order (so later stages never see a raw tree).
 *
 * Checks stop at the first error: unknown keys of a map before its values, maps in the fixed section
 * order, values in schema order. The order is arbitrary but fixed, so a message is reproducible. */
#include "spec/spec_internal.h"
#include "unigfn/host/defaults.h"
#include "unigfn/host/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define P_GT (UG_P_MIN | UG_P_MIN_OPEN)
#define P_GE UG_P_MIN
#define P_LT (UG_P_MAX | UG_P_MAX_OPEN)

/* ---- core schemas ---- */

static const ug_param_spec top_params[] = {
    {"name", UG_P_STRING, NULL, 0, 0, 0, NULL, "run name; default: the spec file's base name"},
    {"seed", UG_P_INT, "0", P_GE | UG_P_MAX, 0, UG_BOUND_SEED, NULL, "random seed of the run"},
    {"device", UG_P_ENUM, "cpu", 0, 0, 0, "cpu|cuda", "where tensors live"},
    {"threads", UG_P_INT, "0", P_GE | UG_P_MAX, 0, UG_BOUND_THREADS, NULL, "CPU threads; 0 = all cores"},
    {NULL, 0, NULL, 0, 0, 0, NULL, NULL},
};

static const char *const top_keys[] = {"name",  "seed",  "device",  "threads", "dataset", "model",
                                       "objective", "optim", "train", "metrics", "sweep"};
enum { N_TOP = sizeof top_keys / sizeof *top_keys };

static const ug_param_spec plugin_core[] = {
    {"plugin", UG_P_STRING, NULL, UG_P_REQUIRED, 0, 0, NULL, "plugin name"},
    {NULL, 0, NULL, 0, 0, 0, NULL, NULL},
};

static const ug_param_spec objective_core[] = {
    {"plugin", UG_P_STRING, NULL, UG_P_REQUIRED, 0, 0, NULL, "objective plugin name"},
    {"updates", UG_P_STRING_LIST, NULL, UG_P_REQUIRED, 0, 0, NULL, "parameter groups this term trains"},
    {"weight", UG_P_FLOAT, "1", 0, 0, 0, NULL, "multiplier of this term's loss"},
    /* The schedule of a term (IPF alternation, sparse TBC): it runs at steps s with start <= s,
     * s < stop (stop 0 = to the end) and s % every == phase. Left out of the run id at their defaults. */
    {"every", UG_P_INT, "1", P_GT | UG_P_MAX | UG_P_ID_OPTIONAL, 0, UG_BOUND_STEPS, NULL, "run this term every N steps"},
    {"phase", UG_P_INT, "0", P_GE | UG_P_MAX | UG_P_ID_OPTIONAL, 0, UG_BOUND_STEPS, NULL,
     "run at the steps s with s % every == phase (below every)"},
    {"start", UG_P_INT, "0", P_GE | UG_P_MAX | UG_P_ID_OPTIONAL, 0, UG_BOUND_STEPS, NULL, "first step this term runs at"},
    {"stop", UG_P_INT, "0", P_GE | UG_P_MAX | UG_P_ID_OPTIONAL, 0, UG_BOUND_STEPS, NULL, "step this term stops before; 0 = never"},
    {NULL, 0, NULL, 0, 0, 0, NULL, NULL},
};

/* Core keys of a metric entry: when it runs, beside the plugin's own keys. */
static const ug_param_spec metric_core[] = {
    {"plugin", UG_P_STRING, NULL, UG_P_REQUIRED, 0, 0, NULL, "metric plugin name"},
    {"every", UG_P_INT, "0", UG_P_MIN | UG_P_MAX, 0, UG_BOUND_STEPS, NULL,
     "evaluate every this many steps (0 = every train.eval_every); always at the end when train.eval_at_end"},
    {"at_end_only", UG_P_BOOL, "false", 0, 0, 0, NULL, "evaluate only after the last step"},
    {"prefix", UG_P_STRING, "\"\"", 0, 0, 0, NULL,
     "put before every key this metric reports (two instances of one metric: 'curve_' and '')"},
    {NULL, 0, NULL, 0, 0, 0, NULL, NULL},
};

static const ug_param_spec optim_params[] = {
    {"algorithm", UG_P_ENUM, "adam", 0, 0, 0, "adam|adamw|sgd", "update rule"},
    {"lr", UG_P_FLOAT, NULL, UG_P_REQUIRED | P_GT, 0, 0, NULL, "learning rate"},
    {"betas", UG_P_FLOAT_LIST,
     "[" UG_DEFAULT_TEXT(UG_DEFAULT_ADAM_BETA1) ", " UG_DEFAULT_TEXT(UG_DEFAULT_ADAM_BETA2) "]", P_GE | P_LT, 0, 1,
     NULL, "Adam moment decay rates"},
    {"eps", UG_P_FLOAT, UG_DEFAULT_TEXT(UG_DEFAULT_ADAM_EPS), P_GE, 0, 0, NULL, "Adam denominator epsilon"},
    {"weight_decay", UG_P_FLOAT, "0", P_GE, 0, 0, NULL, "L2 (adam, sgd) or decoupled (adamw) decay"},
    {"momentum", UG_P_FLOAT, "0", P_GE | P_LT, 0, 1, NULL, "SGD momentum"},
    {"schedule", UG_P_ENUM, "constant", 0, 0, 0, "constant|warmup|cosine", "learning-rate schedule"},
    {"warmup_steps", UG_P_INT, "0", P_GE | UG_P_MAX, 0, UG_BOUND_STEPS, NULL, "linear warm-up steps"},
    {"min_lr", UG_P_FLOAT, "0", P_GE, 0, 0, NULL, "floor of the cosine schedule"},
    {"clip_norm", UG_P_FLOAT, "0", P_GE, 0, 0, NULL, "clip the group's gradient norm; 0 = off"},
    {"clip_value", UG_P_FLOAT, "0", P_GE, 0, 0, NULL, "clip each gradient entry; 0 = off"},
    {"ema", UG_P_FLOAT, "0", P_GE | P_LT | UG_P_ID_OPTIONAL, 0, 1, NULL,
     "decay of a moving average of the group's parameters, used for metrics and sampling; 0 = off"},
    {NULL, 0, NULL, 0, 0, 0, NULL, NULL},
};

static const ug_param_spec train_params[] = {
    {"steps", UG_P_INT, NULL, UG_P_REQUIRED | P_GT | UG_P_MAX, 0, UG_BOUND_STEPS, NULL, "training steps"},
    {"batch", UG_P_INT, UG_DEFAULT_TEXT(UG_DEFAULT_BATCH), P_GT | UG_P_MAX, 0, UG_BOUND_COUNT, NULL, "batch size"},
    {"eval_every", UG_P_INT, "0", P_GE | UG_P_MAX, 0, UG_BOUND_STEPS, NULL, "evaluate metrics every N steps; 0 = at the end only"},
    {"checkpoint_every", UG_P_INT, "0", P_GE | UG_P_MAX, 0, UG_BOUND_STEPS, NULL, "checkpoint every N steps; 0 = never"},
    {"log_every", UG_P_INT, UG_DEFAULT_TEXT(UG_DEFAULT_LOG_EVERY), P_GE | UG_P_MAX, 0, UG_BOUND_STEPS, NULL, "log losses every N steps; 0 = never"},
    {"eval_at_end", UG_P_BOOL, "true", 0, 0, 0, NULL, "evaluate metrics after the last step"},
    /* Divergence guard: a run whose loss or gradient norm leaves these bounds fails with the step,
     * rather than finishing with a loss of 1e19. */
    {"max_loss", UG_P_FLOAT, "0", P_GE | UG_P_ID_OPTIONAL, 0, 0, NULL,
     "fail the run when a term's |loss| exceeds this; 0 = off (non-finite losses always fail)"},
    {"max_grad_norm", UG_P_FLOAT, "0", P_GE | UG_P_ID_OPTIONAL, 0, 0, NULL,
     "fail the run when a group's gradient norm (before clipping) exceeds this; 0 = off"},
    {NULL, 0, NULL, 0, 0, 0, NULL, NULL},
};

static const ug_spec_core_schema core_schemas[] = {
    {"", top_params},           {"train", train_params},          {"optim.forward", optim_params},
    {"objective.0", objective_core}, {"metrics.0", metric_core},
};

int ug_spec_core_schemas(const ug_spec_core_schema **out) {
    if (out) *out = core_schemas;
    return (int)(sizeof core_schemas / sizeof *core_schemas);
}

/* ---- did-you-mean ---- */

static void join_names(char *buf, size_t n, const char *const *names, int count) {
    size_t k = 0;
    buf[0] = 0;
    for (int i = 0; i < count && k + 1 < n; i++) {
        int w = snprintf(buf + k, n - k, "%s%s", i ? ", " : "", names[i]);
        if (w < 0) break;
        k += (size_t)w;
    }
}

/* `parent` is the dotted path of the map holding `entry`; the message names the full key. */
static ug_status unknown_key(spec_ctx *c, const ug_cfg *entry, const char *parent,
                             const char *const *allowed, int n) {
    char path[512];
    ug_spec_join(path, sizeof path, parent, entry->key);
    const char *s = ug_closest_name(entry->key, allowed, n);
    /* an override is typed as a dotted key: suggest the one to type instead */
    if (s && entry->file && strcmp(entry->file, UG_SPEC_FILE_CMDLINE) == 0) {
        char full[512];
        ug_spec_join(full, sizeof full, parent, s);
        return ug_spec_fail(c, entry, path, "unknown key (did you mean '%s'?)", full);
    }
    if (s) return ug_spec_fail(c, entry, path, "unknown key (did you mean '%s'?)", s);
    char list[600];
    join_names(list, sizeof list, allowed, n);
    return ug_spec_fail(c, entry, path, "unknown key (allowed: %s)", list);
}

/* ---- values ---- */

static const char *expected(ug_param_type t) {
    switch (t) {
    case UG_P_BOOL: return "expected true or false";
    case UG_P_INT: return "expected an integer";
    case UG_P_FLOAT: return "expected a number";
    case UG_P_STRING: return "expected a string";
    case UG_P_ENUM: return "expected a string";
    case UG_P_INT_LIST: return "expected a list of integers";
    case UG_P_FLOAT_LIST: return "expected a list of numbers";
    case UG_P_STRING_LIST: return "expected a list of strings";
    }
    return "expected a value";
}

static ug_status wrong_type(spec_ctx *c, const ug_cfg *node, const char *path, ug_param_type t) {
    char got[200];
    ug_spec_describe(node, got, sizeof got);
    const char *hint = "";
    if (node->type == UG_CFG_STRING && (t == UG_P_INT || t == UG_P_FLOAT || t == UG_P_BOOL)) {
        ug_cfg probe = {.text = node->text};
        ug_spec_infer_scalar(&probe);
        if (probe.type != UG_CFG_STRING && probe.type != UG_CFG_NULL) hint = " (quoted, so a string)";
    }
    return ug_spec_fail(c, node, path, "%s, got %s%s", expected(t), got, hint);
}

/* A number as the user wrote it (1e-9 stays 1e-9), unquoted. */
static void number_text(const ug_cfg *node, char *buf, size_t n) {
    ug_spec_describe(node, buf, n);
    size_t l = strlen(buf);
    if (l >= 2 && buf[0] == '\'' && buf[l - 1] == '\'') {
        memmove(buf, buf + 1, l - 2);
        buf[l - 2] = 0;
    }
}

static ug_status check_range(spec_ctx *c, const ug_param_spec *ps, const ug_cfg *node, const char *path,
                             double v) {
    char bound[40], got[200];
    if (ps->flags & UG_P_MIN) {
        bool open = ps->flags & UG_P_MIN_OPEN;
        if (open ? !(v > ps->lo) : !(v >= ps->lo)) {
            ug_spec_fmt_double(ps->lo, bound, sizeof bound);
            number_text(node, got, sizeof got);
            return ug_spec_fail(c, node, path, "must be %s %s, got %s", open ? ">" : ">=", bound, got);
        }
    }
    if (ps->flags & UG_P_MAX) {
        bool open = ps->flags & UG_P_MAX_OPEN;
        if (open ? !(v < ps->hi) : !(v <= ps->hi)) {
            ug_spec_fmt_double(ps->hi, bound, sizeof bound);
            number_text(node, got, sizeof got);
            return ug_spec_fail(c, node, path, "must be %s %s, got %s", open ? "<" : "<=", bound, got);
        }
    }
    return UG_OK;
}

/* An integer against the schema's bounds, compared as integers: through doubles 2^53 + 1 would pass a
 * bound of 2^53, and INT64_MAX one of INT64_MAX - 1. A bound beyond int64 bounds nothing. The message
 * states the bound as the schema does (> 0, <= 16777216). */
static ug_status check_int_range(spec_ctx *c, const ug_param_spec *ps, const ug_cfg *node, const char *path,
                                 int64_t v) {
    const double I64 = 9.2233720368547758e18;
    char bound[40], got[200];
    if (ps->flags & UG_P_MIN) {
        bool open = ps->flags & UG_P_MIN_OPEN;
        double b = open ? floor(ps->lo) + 1 : ceil(ps->lo);   /* the smallest allowed integer */
        if (b > -I64 && (b >= I64 || v < (int64_t)b)) {
            ug_spec_fmt_double(ps->lo, bound, sizeof bound);
            number_text(node, got, sizeof got);
            return ug_spec_fail(c, node, path, "must be %s %s, got %s", open ? ">" : ">=", bound, got);
        }
    }
    if (ps->flags & UG_P_MAX) {
        bool open = ps->flags & UG_P_MAX_OPEN;
        double b = open ? ceil(ps->hi) - 1 : floor(ps->hi);   /* the largest allowed integer */
        if (b < I64 && (b < -I64 || v > (int64_t)b)) {
            ug_spec_fmt_double(ps->hi, bound, sizeof bound);
            number_text(node, got, sizeof got);
            return ug_spec_fail(c, node, path, "must be %s %s, got %s", open ? "<" : "<=", bound, got);
        }
    }
    return UG_OK;
}

static bool is_scalar(const ug_cfg *n) {
    return n->type == UG_CFG_BOOL || n->type == UG_CFG_INT || n->type == UG_CFG_FLOAT ||
           n->type == UG_CFG_STRING;
}

static ug_status check_enum(spec_ctx *c, const ug_param_spec *ps, const ug_cfg *node, const char *path) {
    const char *ch = ps->choices ? ps->choices : "";
    size_t len = strlen(node->text);
    for (const char *s = ch;;) {
        const char *bar = strchr(s, '|');
        size_t l = bar ? (size_t)(bar - s) : strlen(s);
        if (l == len && memcmp(s, node->text, len) == 0) return UG_OK;
        if (!bar) break;
        s = bar + 1;
    }
    char list[400], got[200];
    size_t k = 0;
    for (const char *s = ch; *s && k + 3 < sizeof list; s++) {
        if (*s == '|') list[k++] = ',', list[k++] = ' ';
        else list[k++] = *s;
    }
    list[k] = 0;
    ug_spec_describe(node, got, sizeof got);
    return ug_spec_fail(c, node, path, "expected one of %s; got %s", list, got);
}

/* Check one scalar against a scalar type and retype it in place. */
static ug_status check_scalar(spec_ctx *c, const ug_param_spec *ps, ug_param_type t, ug_cfg *node,
                              const char *path) {
    switch (t) {
    case UG_P_BOOL:
        if (node->type != UG_CFG_BOOL) return wrong_type(c, node, path, t);
        return UG_OK;
    case UG_P_INT: {
        int64_t v;
        if (node->type == UG_CFG_INT) {
            v = node->i;
        } else if (node->type == UG_CFG_FLOAT && isfinite(node->f) && node->f == floor(node->f)) {
            /* 1e5 is a fine way to write 100000 */
            if (!(fabs(node->f) < 9.2233720368547758e18)) {
                char got[200];
                ug_spec_describe(node, got, sizeof got);
                return ug_spec_fail(c, node, path, "integer out of range, got %s", got);
            }
            v = (int64_t)node->f;
        } else {
            return wrong_type(c, node, path, t);
        }
        node->type = UG_CFG_INT;
        node->i = v;
        node->f = (double)v;
        return check_int_range(c, ps, node, path, v);
    }
    case UG_P_FLOAT:
        if (node->type != UG_CFG_INT && node->type != UG_CFG_FLOAT) return wrong_type(c, node, path, t);
        if (!isfinite(node->f)) {
            char got[200];
            ug_spec_describe(node, got, sizeof got);
            return ug_spec_fail(c, node, path, "must be a finite number, got %s", got);
        }
        node->type = UG_CFG_FLOAT;
        if (node->f == floor(node->f) && fabs(node->f) < 9.2e18) node->i = (int64_t)node->f;
        return check_range(c, ps, node, path, node->f);
    case UG_P_STRING:
    case UG_P_ENUM:
        /* any scalar reads as its text: `name: 2024` is a fine name */
        if (!is_scalar(node) || !node->text) return wrong_type(c, node, path, t);
        node->type = UG_CFG_STRING;
        return t == UG_P_ENUM ? check_enum(c, ps, node, path) : UG_OK;
    default:
        return ug_spec_fail(c, node, path, "internal: bad schema type %d", (int)t);
    }
}

static ug_status check_value(spec_ctx *c, const ug_param_spec *ps, ug_cfg *node, const char *path) {
    /* a key the schema leaves without default may be written as null: that is its resolved form */
    if (node->type == UG_CFG_NULL && !ps->def && !(ps->flags & UG_P_REQUIRED)) return UG_OK;
    ug_param_type elem;
    switch (ps->type) {
    case UG_P_INT_LIST: elem = UG_P_INT; break;
    case UG_P_FLOAT_LIST: elem = UG_P_FLOAT; break;
    case UG_P_STRING_LIST: elem = UG_P_STRING; break;
    case UG_P_BOOL:
    case UG_P_INT:
    case UG_P_FLOAT:
    case UG_P_STRING:
    case UG_P_ENUM: return check_scalar(c, ps, ps->type, node, path);
    default: return ug_spec_fail(c, node, path, "internal: bad schema type %d", (int)ps->type);
    }
    if (node->type != UG_CFG_LIST) return wrong_type(c, node, path, ps->type);
    for (int k = 0; k < node->n; k++) {
        char kp[512];
        ug_spec_join_index(kp, sizeof kp, path, k);
        ug_status st = check_scalar(c, ps, elem, node->items[k], kp);
        if (st) return st;
    }
    return UG_OK;
}

/* ---- maps ---- */

static void set_default_pos(ug_cfg *n) {
    n->file = UG_SPEC_FILE_DEFAULT;
    n->line = n->col = 0;
    for (int k = 0; k < n->n; k++) set_default_pos(n->items[k]);
}

/* The entry `ps->key` of map, checked; or its default, parsed from the schema's text and checked. */
static ug_status resolve_param(spec_ctx *c, ug_cfg *map, const char *path, const ug_param_spec *ps,
                               ug_cfg **out) {
    char kp[512];
    ug_spec_join(kp, sizeof kp, path, ps->key);
    ug_cfg *entry = ug_cfg_child(map, ps->key);
    if (!entry) {
        if (ps->flags & UG_P_REQUIRED) return ug_spec_fail(c, map, path, "missing required key '%s'", ps->key);
        if (ps->def) {
            ug_status st = ug_spec_parse_yaml(c, UG_SPEC_FILE_DEFAULT, 0, kp, ps->def, strlen(ps->def), &entry);
            if (st) return st;
        }
        if (!entry && !(entry = ug_cfg_new(c->spec->pool, UG_CFG_NULL, UG_SPEC_FILE_DEFAULT, 0, 0)))
            return ug_spec_nomem(c);
        set_default_pos(entry);
        entry->key = ps->key;
    }
    *out = entry;
    ug_status st = check_value(c, ps, entry, kp);
    if (st == UG_OK && (ps->flags & UG_P_ID_OPTIONAL) && ps->def) {
        /* the default, resolved the same way, for the emitter to compare against (spec_emit.c) */
        ug_cfg *d = NULL;
        if ((st = ug_spec_parse_yaml(c, UG_SPEC_FILE_DEFAULT, 0, kp, ps->def, strlen(ps->def), &d))) return st;
        set_default_pos(d);
        d->key = ps->key;
        if ((st = check_value(c, ps, d, kp))) return st;
        entry->id_default = d;
    }
    return st;
}

typedef struct schema_set {
    const ug_param_spec *s[2];
    int n;
    bool lenient; /* no registry: keep keys the schemas do not name, unchecked */
} schema_set;

/* The key names of a schema set, first occurrence only, in order (pool memory). */
static const char **set_keys(spec_ctx *c, const schema_set *ss, int *count) {
    int total = 0;
    for (int si = 0; si < ss->n; si++)
        for (const ug_param_spec *ps = ss->s[si]; ps && ps->key; ps++) total++;
    const char **keys = ug_cfg_pool_alloc(c->spec->pool, (size_t)(total + 1) * sizeof *keys);
    if (!keys) return NULL;
    int n = 0;
    for (int si = 0; si < ss->n; si++)
        for (const ug_param_spec *ps = ss->s[si]; ps && ps->key; ps++) {
            bool dup = false;
            for (int k = 0; k < n && !dup; k++) dup = strcmp(keys[k], ps->key) == 0;
            if (!dup) keys[n++] = ps->key;
        }
    *count = n;
    return keys;
}

static const ug_param_spec *set_find(const schema_set *ss, const char *key) {
    for (int si = 0; si < ss->n; si++)
        for (const ug_param_spec *ps = ss->s[si]; ps && ps->key; ps++)
            if (strcmp(ps->key, key) == 0) return ps;
    return NULL;
}

static ug_status check_map(spec_ctx *c, ug_cfg *map, const char *path, const schema_set *ss) {
    int nk;
    const char **keys = set_keys(c, ss, &nk);
    if (!keys) return ug_spec_nomem(c);
    if (!ss->lenient)
        for (int k = 0; k < map->n; k++)
            if (!set_find(ss, map->items[k]->key))
                return unknown_key(c, map->items[k], path, keys, nk);
    ug_cfg **items = ug_cfg_items_alloc(c->spec->pool, nk + map->n);
    if (!items) return ug_spec_nomem(c);
    int n = 0;
    for (int k = 0; k < nk; k++) {
        ug_status st = resolve_param(c, map, path, set_find(ss, keys[k]), &items[n]);
        if (st) return st;
        n++;
    }
    if (ss->lenient)
        for (int k = 0; k < map->n; k++)
            if (!set_find(ss, map->items[k]->key)) items[n++] = map->items[k];
    map->items = items;
    map->n = n;
    return UG_OK;
}

/* ---- plugin sections ---- */

static void known_plugins(spec_ctx *c, const char *kind, char *buf, size_t n) {
    const char *names[64];
    int count = c->reg && c->reg->names ? c->reg->names(c->reg->ud, kind, names, 64) : 0;
    if (count > 64) count = 64;
    if (count <= 0) {
        snprintf(buf, n, "no %s plugins are known", kind);
        return;
    }
    char list[600];
    join_names(list, sizeof list, names, count);
    snprintf(buf, n, "known: %s", list);
}

/* A map naming its plugin: `plugin` first, then the core keys of its place, then the plugin's own. */
static ug_status check_plugin_map(spec_ctx *c, ug_cfg *map, const char *path, const char *kind,
                                  const ug_param_spec *core) {
    char got[200], known[700];
    if (map->type != UG_CFG_MAP) {
        ug_spec_describe(map, got, sizeof got);
        return ug_spec_fail(c, map, path, "expected a map with a 'plugin' key, got %s", got);
    }
    ug_cfg *pl = ug_cfg_child(map, "plugin");
    if (!pl) {
        known_plugins(c, kind, known, sizeof known);
        return ug_spec_fail(c, map, path, "missing required key 'plugin' (%s)", known);
    }
    char kp[512];
    ug_spec_join(kp, sizeof kp, path, "plugin");
    ug_status st = check_value(c, &core[0], pl, kp);
    if (st) return st;
    const ug_param_spec *schema = NULL;
    if (c->reg && c->reg->schema) {
        schema = c->reg->schema(c->reg->ud, kind, pl->text);
        if (!schema) {
            known_plugins(c, kind, known, sizeof known);
            ug_spec_describe(pl, got, sizeof got);
            return ug_spec_fail(c, pl, kp, "unknown %s plugin %s (%s)", kind, got, known);
        }
    }
    schema_set ss = {{core, schema}, schema ? 2 : 1, !(c->reg && c->reg->schema)};
    return check_map(c, map, path, &ss);
}

static bool is_group_name(const char *s) {
    if (!s || !*s || (*s >= '0' && *s <= '9')) return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return false;
    return true;
}

static ug_status want(spec_ctx *c, const ug_cfg *node, const char *path, ug_cfg_type t, const char *what) {
    if (node->type == t) return UG_OK;
    char got[200];
    ug_spec_describe(node, got, sizeof got);
    return ug_spec_fail(c, node, path, "expected %s, got %s", what, got);
}

static ug_status check_objective(spec_ctx *c, ug_cfg *list) {
    ug_status st = want(c, list, "objective", UG_CFG_LIST, "a list of terms (each '- plugin: ...')");
    if (st) return st;
    if (list->n == 0) return ug_spec_fail(c, list, "objective", "needs at least one term");
    for (int t = 0; t < list->n; t++) {
        char path[64], kp[96];
        ug_spec_join_index(path, sizeof path, "objective", t);
        if ((st = check_plugin_map(c, list->items[t], path, UG_SPEC_KIND_OBJECTIVE, objective_core))) return st;
        ug_cfg *up = ug_cfg_child(list->items[t], "updates");
        ug_spec_join(kp, sizeof kp, path, "updates");
        if (up->n == 0) return ug_spec_fail(c, up, kp, "needs at least one parameter group");
        for (int g = 0; g < up->n; g++)
            if (!is_group_name(up->items[g]->text)) {
                char ip[128], got[200];
                ug_spec_join_index(ip, sizeof ip, kp, g);
                ug_spec_describe(up->items[g], got, sizeof got);
                return ug_spec_fail(c, up->items[g], ip,
                                 "expected a parameter-group name (letters, digits, _), got %s", got);
            }
    }
    return UG_OK;
}

static int by_key(const void *a, const void *b) {
    return strcmp((*(ug_cfg *const *)a)->key, (*(ug_cfg *const *)b)->key);
}

static ug_status check_optim(spec_ctx *c, ug_cfg *map) {
    ug_status st = want(c, map, "optim", UG_CFG_MAP, "a map from parameter group to optimizer settings");
    if (st) return st;
    for (int k = 0; k < map->n; k++) {
        ug_cfg *g = map->items[k];
        char path[512], got[200];
        ug_spec_join(path, sizeof path, "optim", g->key);
        if (!is_group_name(g->key))
            return ug_spec_fail(c, g, path, "not a parameter-group name (letters, digits, _)");
        if (g->type != UG_CFG_MAP) {
            ug_spec_describe(g, got, sizeof got);
            return ug_spec_fail(c, g, path, "expected a map of optimizer settings (lr: ...), got %s", got);
        }
        schema_set ss = {{optim_params, NULL}, 1, false};
        if ((st = check_map(c, g, path, &ss))) return st;
        ug_cfg *betas = ug_cfg_child(g, "betas");
        if (betas->n != 2) {
            char kp[600];
            ug_spec_join(kp, sizeof kp, path, "betas");
            return ug_spec_fail(c, betas, kp, "expected 2 values, got %d", betas->n);
        }
    }
    /* group order in the file means nothing; sorted, it cannot change the run id */
    if (map->n > 1) qsort(map->items, (size_t)map->n, sizeof *map->items, by_key);
    return UG_OK;
}

static ug_status check_metrics(spec_ctx *c, ug_cfg *list) {
    ug_status st = want(c, list, "metrics", UG_CFG_LIST, "a list of metrics (each '- plugin: ...')");
    for (int k = 0; !st && k < list->n; k++) {
        char path[64];
        ug_spec_join_index(path, sizeof path, "metrics", k);
        st = check_plugin_map(c, list->items[k], path, UG_SPEC_KIND_METRIC, metric_core);
    }
    return st;
}

/* Every group a term updates needs an optimizer: without one its gradients would go nowhere. */
static ug_status check_groups(spec_ctx *c, const ug_cfg *objective, const ug_cfg *optim) {
    for (int t = 0; t < objective->n; t++) {
        const ug_cfg *up = ug_cfg_child(objective->items[t], "updates");
        for (int g = 0; g < up->n; g++) {
            const char *name = up->items[g]->text;
            if (ug_cfg_child(optim, name)) continue;
            char kp[128];
            snprintf(kp, sizeof kp, "objective.%d.updates.%d", t, g);
            return ug_spec_fail(c, up->items[g], kp, "no optimizer for parameter group '%s' (add optim.%s.lr)",
                             name, name);
        }
    }
    return UG_OK;
}

/* The base name of the spec path without its extension: the default run name. */
static const char *default_name(spec_ctx *c) {
    const char *path = c->spec->path;
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    size_t len = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    if (len == 0) return "spec";
    return ug_cfg_pool_strndup(c->spec->pool, base, len);
}

static ug_status check_name(spec_ctx *c, ug_cfg *root, ug_cfg **out) {
    ug_cfg *n = ug_cfg_child(root, "name");
    if (!n) {
        if (!(n = ug_cfg_new(c->spec->pool, UG_CFG_STRING, UG_SPEC_FILE_DEFAULT, 0, 0))) return ug_spec_nomem(c);
        n->key = "name";
        if (!(n->text = default_name(c))) return ug_spec_nomem(c);
    } else {
        if (n->type == UG_CFG_NULL) return wrong_type(c, n, "name", UG_P_STRING);
        ug_status st = check_value(c, &top_params[0], n, "name");
        if (st) return st;
        if (!n->text[0]) return ug_spec_fail(c, n, "name", "must not be empty");
    }
    *out = n;
    return UG_OK;
}

/* A section the spec may leave out, resolved to an empty map or list. */
static ug_status optional_section(spec_ctx *c, ug_cfg *root, const char *key, ug_cfg_type empty,
                                  ug_cfg **out) {
    ug_cfg *n = ug_cfg_child(root, key);
    if (!n) {
        if (!(n = ug_cfg_new(c->spec->pool, empty, UG_SPEC_FILE_DEFAULT, 0, 0))) return ug_spec_nomem(c);
        n->key = key;
    }
    *out = n;
    return UG_OK;
}

static ug_status required_section(spec_ctx *c, ug_cfg *root, const char *key, ug_cfg **out) {
    *out = ug_cfg_child(root, key);
    if (!*out) return ug_spec_fail(c, root, NULL, "missing required key '%s'", key);
    return UG_OK;
}

ug_status ug_spec_check(spec_ctx *c) {
    ug_cfg *root = c->spec->root;
    for (int k = 0; k < root->n; k++) {
        bool known = false;
        for (int j = 0; j < N_TOP && !known; j++) known = strcmp(root->items[k]->key, top_keys[j]) == 0;
        if (!known) return unknown_key(c, root->items[k], NULL, top_keys, N_TOP);
    }
    ug_cfg *v[N_TOP];
    ug_status st;
    if ((st = check_name(c, root, &v[0]))) return st;
    for (int k = 1; k <= 3; k++)
        if ((st = resolve_param(c, root, "", &top_params[k], &v[k]))) return st;
    if ((st = required_section(c, root, "dataset", &v[4])) ||
        (st = check_plugin_map(c, v[4], "dataset", UG_SPEC_KIND_DATASET, plugin_core)))
        return st;
    if ((st = required_section(c, root, "model", &v[5])) ||
        (st = check_plugin_map(c, v[5], "model", UG_SPEC_KIND_MODEL, plugin_core)))
        return st;
    if ((st = required_section(c, root, "objective", &v[6])) || (st = check_objective(c, v[6]))) return st;
    if ((st = optional_section(c, root, "optim", UG_CFG_MAP, &v[7])) || (st = check_optim(c, v[7]))) return st;
    if ((st = required_section(c, root, "train", &v[8])) ||
        (st = want(c, v[8], "train", UG_CFG_MAP, "a map (steps: ...)")))
        return st;
    schema_set train = {{train_params, NULL}, 1, false};
    if ((st = check_map(c, v[8], "train", &train))) return st;
    if ((st = optional_section(c, root, "metrics", UG_CFG_LIST, &v[9])) || (st = check_metrics(c, v[9])))
        return st;
    if ((st = optional_section(c, root, "sweep", UG_CFG_MAP, &v[10])) ||
        (st = want(c, v[10], "sweep", UG_CFG_MAP, "a map")))
        return st;
    if ((st = check_groups(c, v[6], v[7]))) return st;
    ug_cfg **items = ug_cfg_items_alloc(c->spec->pool, N_TOP);
    if (!items) return ug_spec_nomem(c);
    memcpy(items, v, sizeof v);
    root->items = items;
    root->n = N_TOP;
    return UG_OK;
}
