/* config.h — the configuration tree a spec becomes, and the parameter schema plugins declare.
 *
 * A spec (YAML) is parsed into a tree of ug_cfg nodes that remember where they came from
 * (file:line:column), so every later error can point at the exact place. Plugins never see YAML:
 * they declare a schema (ug_param_spec[]), the host validates their section against it, fills the
 * defaults, and hands the plugin a resolved map it reads with the typed getters below. */
#ifndef UNIGFN_CONFIG_H
#define UNIGFN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ug_cfg_type {
    UG_CFG_NULL = 0,
    UG_CFG_BOOL,
    UG_CFG_INT,
    UG_CFG_FLOAT,
    UG_CFG_STRING,
    UG_CFG_LIST,
    UG_CFG_MAP,
} ug_cfg_type;

/* One node of the tree. Maps keep their entries in file order; entries carry their key. */
typedef struct ug_cfg ug_cfg;
struct ug_cfg {
    ug_cfg_type type;
    const char *key;   /* key in the parent map; NULL for list items and the root */
    const char *text;  /* scalar as written (after override), NULL for list/map */
    bool b;            /* UG_CFG_BOOL */
    int64_t i;         /* UG_CFG_INT (also set for FLOAT values that are integral) */
    double f;          /* UG_CFG_FLOAT, and UG_CFG_INT converted */
    ug_cfg **items;    /* children of a list or map */
    int n;             /* number of children */
    const char *file;  /* source: spec path, "<command line>" or "<default>" */
    int line, col;     /* 1-based position in file; 0 for defaults */
    /* appended: a UG_P_ID_OPTIONAL key's default, resolved; the run id leaves the key out while its
     * value equals this (NULL for every other node) */
    const ug_cfg *id_default;
};

/* ---- Parameter schema (declared statically by each plugin) ---- */
typedef enum ug_param_type {
    UG_P_BOOL = 1,
    UG_P_INT,
    UG_P_FLOAT,
    UG_P_STRING,
    UG_P_ENUM,       /* a string from `choices`, written "a|b|c" */
    UG_P_INT_LIST,   /* e.g. hidden: [256, 256, 256] */
    UG_P_FLOAT_LIST,
    UG_P_STRING_LIST,
} ug_param_type;

enum {
    UG_P_MIN = 1u << 0,       /* value >= lo (or > lo with UG_P_MIN_OPEN) */
    UG_P_MAX = 1u << 1,       /* value <= hi (or < hi with UG_P_MAX_OPEN) */
    UG_P_MIN_OPEN = 1u << 2,
    UG_P_MAX_OPEN = 1u << 3,
    UG_P_REQUIRED = 1u << 4,  /* no default: the spec must give it */
    /* A key added to a plugin after runs with it existed. While its value equals the default it is
     * left out of the run id (the stored spec still lists it), so those runs keep their ids and a
     * re-launched sweep still finds them; any other value enters the id as usual. Give every option
     * added to a released plugin this flag, with the default that keeps the old behaviour. */
    UG_P_ID_OPTIONAL = 1u << 5,
};

/* Upper bounds for integer keys that size memory or count steps, for schemas to put in `hi` with
 * UG_P_MAX (core keys in spec/spec_check.c, plugin keys in each plugin's table). Every UG_P_INT key
 * should have one: the spec check then refuses 2^61 with the key and the bound, before any plugin
 * multiplies it by a width and wraps (tests/test_spec_bounds.c checks every loaded schema). They are
 * chosen far beyond any real experiment and low enough that products plugins form stay in int64:
 *  - UG_BOUND_COUNT 2^24 (16,777,216): rows, samples, particles, chunks, held-out sizes, iterations
 *    per step. A float32 [2^24, 32] batch is already 2 GiB; 2^24 rows x a width of 2^20 x 4 bytes
 *    is 2^46, far inside int64 and size_t.
 *  - UG_BOUND_STEPS 2^34 (about 1.7e10): train.steps and every step period or offset. At 10,000
 *    steps a second that is 20 days of the smallest model; steps x batch stays below 2^58.
 *  - UG_BOUND_SEED 2^53: seeds, so that each one survives a round trip through a double (a spec's
 *    1e15, JSON readers, pandas) and means one thing everywhere.
 *  - UG_BOUND_THREADS 4096: CPU threads, as `unigfn resume --threads` allows. */
#define UG_BOUND_COUNT 16777216.0
#define UG_BOUND_STEPS 17179869184.0
#define UG_BOUND_SEED 9007199254740992.0
#define UG_BOUND_THREADS 4096.0

typedef struct ug_param_spec {
    const char *key;      /* NULL key terminates an array of specs */
    ug_param_type type;
    const char *def;      /* default written as YAML text ("256", "[256, 256]", "adam"); NULL if required */
    unsigned flags;       /* UG_P_* */
    double lo, hi;        /* range for numbers and for each element of number lists */
    const char *choices;  /* UG_P_ENUM: "a|b|c" */
    const char *doc;      /* one line, shown by `unigfn plugins NAME` */
} ug_param_spec;

/* ---- Reading a resolved tree (all defaults filled, all types checked) ---- */
/* Look up a dotted path ("train.steps", "hidden") below `root`; NULL if absent. */
const ug_cfg *ug_cfg_find(const ug_cfg *root, const char *path);
/* Typed getters on a resolved map. They return `fallback` if the key is absent. */
int64_t ug_cfg_int(const ug_cfg *map, const char *path, int64_t fallback);
double ug_cfg_float(const ug_cfg *map, const char *path, double fallback);
bool ug_cfg_bool(const ug_cfg *map, const char *path, bool fallback);
const char *ug_cfg_str(const ug_cfg *map, const char *path, const char *fallback);
/* Number lists: copies up to `cap` values into out and returns the list length (-1 if absent). */
int ug_cfg_ints(const ug_cfg *map, const char *path, int64_t *out, int cap);
int ug_cfg_floats(const ug_cfg *map, const char *path, double *out, int cap);
/* String lists (e.g. an objective term's `updates`): pointers into the tree, same contract. */
int ug_cfg_strs(const ug_cfg *map, const char *path, const char **out, int cap);

#ifdef __cplusplus
}
#endif
#endif
