/* api.h — the table of host services (SQLite-extension style) and, for plugins, the mapping of every
 * service name onto it. The table's order is api_list.h's; each field has the type of the function
 * it points to, so the table cannot drift from the declarations. */
#ifndef UNIGFN_API_H
#define UNIGFN_API_H

#include "unigfn/plugin.h"

struct ug_api {
    uint32_t size;              /* sizeof(ug_api) of the host: fields past it are absent */
    uint16_t abi_major, abi_minor;
#define UG_API(name) __typeof__(&name) name;
#include "unigfn/api_list.h"
#undef UG_API
};

/* The host's table (core only). */
extern const ug_api ug_host_api;

#ifdef UG_PLUGIN
/* Set by the entry function before any other plugin code runs. Hidden: each plugin has its own. */
extern const ug_api *ug_api_ __attribute__((visibility("hidden")));
#include "unigfn/plugin_api_defs.h"

#define UG_PLUGIN_EXPORT(...)                                                                     \
    const ug_api *ug_api_ __attribute__((visibility("hidden"))) = 0;                              \
    __attribute__((visibility("default"))) const ug_plugin_desc *const *unigfn_plugin_entry(      \
        const ug_api *api, int *count);                                                           \
    __attribute__((visibility("default"))) const ug_plugin_desc *const *unigfn_plugin_entry(      \
        const ug_api *api, int *count) {                                                          \
        static const ug_plugin_desc *const list_[] = {__VA_ARGS__};                               \
        ug_api_ = api;                                                                            \
        *count = (int)(sizeof list_ / sizeof list_[0]);                                           \
        return list_;                                                                             \
    }
#endif

#endif
