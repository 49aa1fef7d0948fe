/* api.c — the host's services table handed to every plugin (one entry per line of api_list.h). */
#include "unigfn/plugin.h"

const ug_api ug_host_api = {
    .size = sizeof(ug_api),
    .abi_major = UG_ABI_MAJOR,
    .abi_minor = UG_ABI_MINOR,
#define UG_API(name) .name = name,
#include "unigfn/api_list.h"
#undef UG_API
};
