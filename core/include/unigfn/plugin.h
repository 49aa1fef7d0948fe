/* plugin.h — the plugin ABI: descriptors a plugin exports, the arguments its create() receives, and
 * (when compiled as a plugin, -DUG_PLUGIN) calls into the host through the services table.
 *
 * A plugin is a shared module exporting one function, `unigfn_plugin_entry`, that the host calls with
 * its table of services (api.h) and that returns the plugin's static descriptors. Plugins include only
 * headers from this folder, never link libunigfn, libyaml or SQLite, and see no second copy of the core:
 * with UG_PLUGIN defined, a call such as ug_add(ctx, a, b) goes through the host's table.
 *
 *   #define UG_PLUGIN
 *   #include <unigfn/plugin.h>
 *   static const ug_plugin_desc my_desc = { UG_DESC_HEADER(UG_KIND_OBJECTIVE), .name = "my_loss", ... };
 *   UG_PLUGIN_EXPORT(&my_desc)
 *
 * Compatibility: the loader refuses a plugin whose ABI major differs from the host's or whose minor is
 * newer. Structs begin with their size and only grow at the end. */
#ifndef UNIGFN_PLUGIN_H
#define UNIGFN_PLUGIN_H

#include <stdint.h>

#include "unigfn/config.h"
#include "unigfn/dataset.h"
#include "unigfn/dist.h"
#include "unigfn/metric.h"
#include "unigfn/model.h"
#include "unigfn/nn.h"
#include "unigfn/objective.h"
#include "unigfn/plot.h"
#include "unigfn/rng.h"
#include "unigfn/status.h"
#include "unigfn/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Minor history: 1.1 appended ug_tensor_set / ug_tensor_get (and the ABI 1.1 fields of model.h) to the
 * services table; 1.2 appended ug_params_fail; 1.3 ug_logaddexp; 1.4 ug_plot_density and ug_plot_rgb
 * (plot.h: pictures the host draws). */
#define UG_ABI_MAJOR 1
#define UG_ABI_MINOR 4

typedef enum ug_plugin_kind {
    UG_KIND_MODEL = 1,
    UG_KIND_OBJECTIVE = 2,
    UG_KIND_DATASET = 3,
    UG_KIND_METRIC = 4,
} ug_plugin_kind;

/* What create() gets. Fields a kind does not use are NULL. */
typedef struct ug_create_args {
    uint32_t size;
    const ug_cfg *cfg;          /* this plugin's resolved spec section (every schema key present) */
    ug_ctx *ctx;                /* a context for set-up computations */
    ug_params *params;          /* models: declare parameter groups here */
    ug_rng *rng;                /* initialisation stream */
    uint64_t seed;              /* the run's seed */
    const ug_dataset *data;     /* models, objectives, metrics: the dataset (its space) */
    const ug_model *model;      /* objectives, metrics: the created model */
} ug_create_args;

typedef struct ug_plugin_desc {
    uint32_t size;              /* sizeof(ug_plugin_desc) as compiled into the plugin */
    uint16_t abi_major, abi_minor;
    uint32_t kind;              /* ug_plugin_kind */
    const char *name;           /* unique per kind: the spec's `plugin:` value */
    const char *version;
    const char *summary;        /* one line for `unigfn plugins` */
    const ug_param_spec *params;/* schema, terminated by an entry with key == NULL */
    void *(*create)(const ug_create_args *args, ug_error *err);
    void (*destroy)(void *self);
    const void *vtable;         /* ug_model_vtable / ug_objective_vtable / ug_dataset_vtable / ug_metric_vtable */
    /* Objectives and metrics: model capabilities (UG_CAP_*) they need with this config; NULL = none.
     * Checked when the spec is built, before any run row is written. */
    uint32_t (*required_caps)(const ug_cfg *cfg);
} ug_plugin_desc;

#define UG_DESC_HEADER(kind_) \
    .size = sizeof(ug_plugin_desc), .abi_major = UG_ABI_MAJOR, .abi_minor = UG_ABI_MINOR, .kind = (kind_)

typedef struct ug_api ug_api;
typedef const ug_plugin_desc *const *(*ug_plugin_entry_fn)(const ug_api *api, int *count);
#define UG_PLUGIN_ENTRY_SYMBOL "unigfn_plugin_entry"

/* ---- host services that exist only for plugins ---- */
typedef enum ug_log_level { UG_LOG_DEBUG = 0, UG_LOG_INFO = 1, UG_LOG_WARN = 2, UG_LOG_ERROR = 3 } ug_log_level;
void ug_message(int level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Name of a capability bit ("log_flow"...), for messages. */
const char *ug_cap_name(uint32_t cap);
/* Folder for this run's files (artifacts), or "." outside a run. */
const char *ug_run_dir(void);

#ifdef __cplusplus
}
#endif

#include "unigfn/api.h"

#endif
