/* dup_b.c — one of two libraries that both provide objective 'test_dup': the second one is refused. */
#include "common.h"

static const ug_plugin_desc desc = {
    UG_DESC_HEADER(UG_KIND_OBJECTIVE),
    .name = "test_dup",
    .summary = "copy b",
    .params = kl_params,
    .create = kl_create,
    .destroy = kl_destroy,
    .vtable = &kl_vtable,
};
UG_PLUGIN_EXPORT(&desc)
