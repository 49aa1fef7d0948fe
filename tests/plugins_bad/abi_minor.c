/* abi_minor.c — needs a newer minor (7) than the host has: refused. */
#include "common.h"

static const ug_plugin_desc desc = {
    .size = sizeof(ug_plugin_desc), .abi_major = UG_ABI_MAJOR, .abi_minor = 7,
    .kind = UG_KIND_OBJECTIVE,
    .name = "test_abi_minor",
    .params = kl_params,
    .create = kl_create,
    .destroy = kl_destroy,
    .vtable = &kl_vtable,
};
UG_PLUGIN_EXPORT(&desc)
