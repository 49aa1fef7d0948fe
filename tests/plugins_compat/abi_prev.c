/* abi_prev.c — a plugin as built against ABI 1.0, before ug_tensor_set / ug_tensor_get were appended
 * to the services table (1.1): it declares minor 0 and calls only what 1.0 had. The host must load it,
 * hand it the longer table and run it. Its descriptor and vtable are 1.0's layout (neither has grown). */
#include "../plugins_bad/common.h"

static const ug_plugin_desc desc = {
    .size = sizeof(ug_plugin_desc), .abi_major = 1, .abi_minor = 0,
    .kind = UG_KIND_OBJECTIVE,
    .name = "test_abi_prev",
    .version = "1.0",
    .summary = "KL(P_B||P_F) from data, declared for ABI 1.0 (loader test fixture)",
    .params = kl_params,
    .create = kl_create,
    .destroy = kl_destroy,
    .vtable = &kl_vtable,
};
UG_PLUGIN_EXPORT(&desc)
