/* no_entry.c — a shared library with a descriptor but no unigfn_plugin_entry: refused. */
#include "common.h"

__attribute__((visibility("default"))) const ug_plugin_desc no_entry_desc = {
    UG_DESC_HEADER(UG_KIND_OBJECTIVE),
    .name = "test_no_entry",
    .params = kl_params,
    .create = kl_create,
    .destroy = kl_destroy,
    .vtable = &kl_vtable,
};
/* The export macro is what defines ug_api_; without it the plugin must still link. */
const ug_api *ug_api_ = 0;
