/* spec.h — loading a YAML spec into a validated, fully resolved ug_cfg tree (host only).
 *
 * A spec names a dataset, a model, a list of objective terms, one optimizer per parameter group, the
 * training schedule, metrics and an optional sweep. Loading parses the YAML (libyaml), resolves
 * `include:` (below), applies the command-line overrides, checks every section against the core schema and the plugins' schemas (which
 * the caller supplies through ug_spec_registry, so this module never loads a plugin), fills every
 * default and computes a canonical text and a run id. Errors are one line:
 *     FILE:LINE:COL: dotted.key: what is wrong
 *     <command line> 'a.b=value': dotted.key: what is wrong
 * and only the first one is reported (UG_ERR_SPEC; UG_ERR_IO when the file cannot be read).
 *
 * `include: FILE` or `include: [FILE, ...]` at the top level: those files (relative to the including
 * file's folder; for ug_spec_load_string, to the folder of `name`) are loaded first, each resolving its
 * own includes, merged in order, and the including file's keys merged over them. Maps merge key by key,
 * recursively; anything else replaces, lists (objective, metrics, hidden) as a whole. A cycle is an
 * error naming the chain of files, a missing file one naming the include's file:line and the path
 * tried. Every value keeps the file:line it was written at, so errors point into the included file;
 * the resolved tree has no `include` key, so the canonical text and id are those of the flat spec.
 *
 * Resolved tree, for readers:
 *   name seed device threads dataset model objective optim train metrics sweep   (in this order)
 *   - every schema key is present; absent ones are defaults (file UG_SPEC_FILE_DEFAULT, line 0);
 *   - plugin maps hold `plugin` first (objective terms then `updates`, `weight`), then the plugin's
 *     schema keys in schema order; optim groups are sorted by name; sweep is kept as written;
 *   - INT nodes have i and f set, FLOAT nodes f (and i when integral), ENUM/STRING nodes text;
 *   - nodes from overrides have file UG_SPEC_FILE_CMDLINE, line = 1-based override index, col 0. */
#ifndef UG_SPEC_H
#define UG_SPEC_H

#include "unigfn/config.h"
#include "unigfn/status.h"

#define UG_SPEC_FILE_DEFAULT "<default>"
#define UG_SPEC_FILE_CMDLINE "<command line>"

/* Plugin kinds as passed to the registry. */
#define UG_SPEC_KIND_DATASET "dataset"
#define UG_SPEC_KIND_MODEL "model"
#define UG_SPEC_KIND_OBJECTIVE "objective"
#define UG_SPEC_KIND_METRIC "metric"

/* Where plugin schemas come from (the plugin loader in the CLI, a fake in the tests). */
typedef struct ug_spec_registry {
    void *ud;
    /* The schema (terminated by a NULL key) of plugin `name` of `kind`; NULL if there is no such plugin. */
    const ug_param_spec *(*schema)(void *ud, const char *kind, const char *name);
    /* Up to `cap` known plugin names of `kind` into out; returns how many were written. */
    int (*names)(void *ud, const char *kind, const char **out, int cap);
} ug_spec_registry;

typedef struct ug_spec ug_spec;

/* Load and resolve the spec at `path`. `overrides` are applied in order after the file and its
 * includes are read: "dotted.key=yaml-value" sets a key and may create keys and list elements (index ==
 * current length appends), "+dotted.key=value" adds a key the spec does not write (an error if it does),
 * "~dotted.key" deletes one it writes (an error if it does not). One key given twice is an error
 * ("override 'train.steps' given twice"). Then every ${dotted.key} inside a value is replaced by the
 * value at that key (spec_interp.c). `reg` may be NULL: plugin sections are then kept unchecked, as
 * written. */
ug_status ug_spec_load(const char *path, const char *const *overrides, int n_overrides,
                       const ug_spec_registry *reg, ug_spec **out, ug_error *err);
/* The same from text; `name` plays the role of the path (messages, default `name`). */
ug_status ug_spec_load_string(const char *name, const char *text, const char *const *overrides,
                              int n_overrides, const ug_spec_registry *reg, ug_spec **out,
                              ug_error *err);
void ug_spec_free(ug_spec *spec);

const ug_cfg *ug_spec_root(const ug_spec *spec);
/* A top-level entry by key ("model", "train", "optim", "sweep", ...); NULL if unknown. */
const ug_cfg *ug_spec_section(const ug_spec *spec, const char *key);
const char *ug_spec_name(const ug_spec *spec);
/* The path or name the spec was loaded from, as given. */
const char *ug_spec_path(const ug_spec *spec);
int ug_spec_n_objectives(const ug_spec *spec);
const ug_cfg *ug_spec_objective(const ug_spec *spec, int i);
int ug_spec_n_metrics(const ug_spec *spec);
const ug_cfg *ug_spec_metric(const ug_spec *spec, int i);
/* optim.<group>, or NULL when the spec has no optimizer for that group. */
const ug_cfg *ug_spec_optim(const ug_spec *spec, const char *group);

/* Deterministic YAML of the resolved tree (loading it again gives the same text). */
const char *ug_spec_canonical(const ug_spec *spec);
/* 16 lowercase hex digits: sha256 of the canonical text without its first line (`name: ...`), so a
 * renamed spec keeps its id. `sweep` IS hashed: a sweep point should set `sweep={}` (the default). */
const char *ug_spec_id(const ug_spec *spec);

/* Every leaf as (dotted key, value text): scalars, and lists of scalars as one flow value
 * ("[256, 256, 256]"); lists of maps by index ("objective.0.plugin"). First the summary keys
 * `dataset`, `model` (plugin names) and `objective` (term plugins joined by '+'), then the leaves in
 * canonical order. `sweep` is not emitted. Strings come unquoted. A non-zero return from `fn` stops
 * the walk and is returned; otherwise 0. */
typedef int (*ug_spec_leaf_fn)(const char *key, const char *value, void *ud);
int ug_spec_flatten(const ug_spec *spec, ug_spec_leaf_fn fn, void *ud);

/* The core schemas (spec/spec_check.c), for tools and tests that go over every key: `section` is
 * where the keys sit in a spec ("" the top level, "train", and for lists or maps of entries the first
 * one: "objective.0", "metrics.0", "optim.forward"). Returns how many; *out points at a static table. */
typedef struct ug_spec_core_schema {
    const char *section;
    const ug_param_spec *params;  /* terminated by a NULL key */
} ug_spec_core_schema;
int ug_spec_core_schemas(const ug_spec_core_schema **out);

/* ---- Tree building (config.c), for the spec loader and anyone deriving trees ---- */
typedef struct ug_cfg_pool ug_cfg_pool;
ug_cfg_pool *ug_cfg_pool_new(void);
void ug_cfg_pool_free(ug_cfg_pool *p);
void *ug_cfg_pool_alloc(ug_cfg_pool *p, size_t n); /* zeroed; NULL when out of memory */
char *ug_cfg_pool_strdup(ug_cfg_pool *p, const char *s);
char *ug_cfg_pool_strndup(ug_cfg_pool *p, const char *s, size_t n);
ug_cfg *ug_cfg_new(ug_cfg_pool *p, ug_cfg_type type, const char *file, int line, int col);
/* Child arrays must come from here (ug_cfg_append relies on their capacity). */
ug_cfg **ug_cfg_items_alloc(ug_cfg_pool *p, int n);
ug_status ug_cfg_append(ug_cfg_pool *p, ug_cfg *parent, ug_cfg *child);
ug_cfg *ug_cfg_clone(ug_cfg_pool *p, const ug_cfg *src);
/* The entry `key` of a map (one segment, no dots); NULL if absent or not a map. */
ug_cfg *ug_cfg_child(const ug_cfg *map, const char *key);

#endif
