/* good.c — a well-formed plugin: the loader must accept it (and refuse copies of it in unsafe places). */
#include "common.h"

static const ug_plugin_desc desc = {
    UG_DESC_HEADER(UG_KIND_OBJECTIVE),
    .name = "test_good_kl",
    .version = "1.0",
    .summary = "KL(P_B||P_F) from data (loader test fixture)",
    .params = kl_params,
    .create = kl_create,
    .destroy = kl_destroy,
    .vtable = &kl_vtable,
};
UG_PLUGIN_EXPORT(&desc)
