/* abi_major.c — built "for ABI 2.0": refused, naming both versions. */
#include "common.h"

static const ug_plugin_desc desc = {
    .size = sizeof(ug_plugin_desc), .abi_major = UG_ABI_MAJOR + 1, .abi_minor = 0,
    .kind = UG_KIND_OBJECTIVE,
    .name = "test_abi_major",
    .params = kl_params,
    .create = kl_create,
    .destroy = kl_destroy,
    .vtable = &kl_vtable,
};
UG_PLUGIN_EXPORT(&desc)
