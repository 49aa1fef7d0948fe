/* loader.h — finding, checking and holding plugins (host only).
 *
 * Plugins are found in the build's plugin folder (next to the uninstalled CLI), the installed plugin
 * folder, and every directory in UNIGFN_PLUGIN_PATH (colon-separated). A library is refused, with a
 * message naming the file and the reason, when it has no entry function, its ABI major differs from
 * the host's, its minor is newer, its descriptor is malformed, its kind/name is already taken, or the
 * file or its directory is writable by other users (a plugin is code that runs with your rights). */
#ifndef UG_LOADER_H
#define UG_LOADER_H

#include "unigfn/plugin.h"

typedef struct ug_registry ug_registry;

/* desc (and desc->vtable) are the loader's copies at the host's struct sizes: fields a plugin built
 * against an older minor lacks read as 0/NULL, so host code may read every field it knows. */
typedef struct ug_plugin_ref {
    const ug_plugin_desc *desc;
    const char *path;        /* the library it came from */
    const char *real;        /* that file's resolved path (realpath): what a run's provenance records */
} ug_plugin_ref;

ug_registry *ug_registry_new(void);
void ug_registry_free(ug_registry *reg);   /* dlcloses the libraries: destroy plugin objects first */

/* Load one library; on refusal returns UG_ERR_PLUGIN with "PATH: reason" in err. */
ug_status ug_registry_load_file(ug_registry *reg, const char *path, ug_error *err);
/* Load every *.so under dir (recursively, a few levels). Refusals are kept as problems, not errors;
 * only an unreadable or unsafe directory is an error. */
ug_status ug_registry_scan_dir(ug_registry *reg, const char *dir, ug_error *err);
/* The default search: build folder or installed folder, then UNIGFN_PLUGIN_PATH. */
ug_status ug_registry_scan_default(ug_registry *reg, ug_error *err);
/* Refusals collected while scanning ("PATH: reason"). */
int ug_registry_problem_count(const ug_registry *reg);
const char *ug_registry_problem(const ug_registry *reg, int i);

/* Registered plugins (sorted by kind, then name). */
int ug_registry_count(const ug_registry *reg);
const ug_plugin_ref *ug_registry_at(const ug_registry *reg, int i);
const ug_plugin_ref *ug_registry_find(const ug_registry *reg, ug_plugin_kind kind, const char *name);
const char *ug_kind_name(ug_plugin_kind kind);          /* "model", "objective", ... */
uint32_t ug_cap_from_name(const char *name);             /* a UG_CAP_* bit by name; 0 if unknown */
int ug_kind_from_name(const char *name);                 /* 0 if unknown */

/* The hex SHA-256 of the library file `ref` was loaded from (ref->real), hashed on first use and kept
 * for the registry's life, so every run of one process records the same hash for it. UG_ERR_IO naming
 * the file when it cannot be read any more. */
ug_status ug_registry_sha256(ug_registry *reg, const ug_plugin_ref *ref, const char **hex, ug_error *err);

/* A ug_spec_registry (spec.h) backed by this registry, for schema checks of plugin sections. */
struct ug_spec_registry;
void ug_registry_spec_view(ug_registry *reg, struct ug_spec_registry *out);

#endif
