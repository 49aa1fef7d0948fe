/* malformed.c — one library, many broken descriptors: UG_BAD_CASE (read when the loader calls the entry
 * function) picks which fault the descriptor has. Unset, it is the plainest one: no create function. */
#include "common.h"

#include <stddef.h>
#include <string.h>

static const ug_param_spec dup_key_params[] = {
    {"scale", UG_P_FLOAT, "1", 0, 0, 0, NULL, "multiplier"},
    {"scale", UG_P_FLOAT, "2", 0, 0, 0, NULL, "again"},
    {NULL, 0, NULL, 0, 0, 0, NULL, NULL},
};
static const ug_param_spec reserved_key_params[] = {
    {"weight", UG_P_FLOAT, "1", 0, 0, 0, NULL, "clashes with the spec's own key"},
    {NULL, 0, NULL, 0, 0, 0, NULL, NULL},
};
static const ug_param_spec enum_params[] = {
    {"mode", UG_P_ENUM, "a", 0, 0, 0, NULL, "an enum without choices"},
    {NULL, 0, NULL, 0, 0, 0, NULL, NULL},
};
static const ug_param_spec bytes_key_params[] = {
    {"k\x1b[31m", UG_P_FLOAT, "1", 0, 0, 0, NULL, "a key with an escape sequence in it"},
    {NULL, 0, NULL, 0, 0, 0, NULL, NULL},
};
static const uint32_t tiny_vtable = 4;   /* a vtable that is only its size field */
static const ug_objective_vtable no_loss_vtable = {.size = sizeof(ug_objective_vtable)};

static ug_plugin_desc desc;
static ug_plugin_desc twin;
static const ug_plugin_desc *list[2];

const ug_api *ug_api_ __attribute__((visibility("hidden"))) = 0;

__attribute__((visibility("default"))) const ug_plugin_desc *const *unigfn_plugin_entry(const ug_api *api,
                                                                                       int *count);
__attribute__((visibility("default"))) const ug_plugin_desc *const *unigfn_plugin_entry(const ug_api *api,
                                                                                       int *count) {
    ug_api_ = api;
    const char *c = getenv("UG_BAD_CASE");
    if (!c) c = "null_create";
    desc = (ug_plugin_desc){UG_DESC_HEADER(UG_KIND_OBJECTIVE), .name = "test_malformed", .params = kl_params,
                            .create = kl_create, .destroy = kl_destroy, .vtable = &kl_vtable};
    list[0] = &desc;
    *count = 1;
    if (!strcmp(c, "null_create")) desc.create = NULL;
    else if (!strcmp(c, "null_destroy")) desc.destroy = NULL;
    else if (!strcmp(c, "null_vtable")) desc.vtable = NULL;
    else if (!strcmp(c, "tiny_vtable")) desc.vtable = &tiny_vtable;
    else if (!strcmp(c, "no_loss")) desc.vtable = &no_loss_vtable;
    else if (!strcmp(c, "dup_key")) desc.params = dup_key_params;
    else if (!strcmp(c, "reserved_key")) desc.params = reserved_key_params;
    else if (!strcmp(c, "enum_no_choices")) desc.params = enum_params;
    else if (!strcmp(c, "bad_kind")) desc.kind = 9;
    else if (!strcmp(c, "empty_name")) desc.name = "";
    else if (!strcmp(c, "bad_name")) desc.name = "two words";
    else if (!strcmp(c, "bytes_name")) desc.name = "evil\x1b[2J\xc2\x9b'\xff";  /* ESC, C1 CSI, quote, a stray byte */
    else if (!strcmp(c, "bytes_key")) desc.params = bytes_key_params;
    else if (!strcmp(c, "short_desc")) desc.size = (uint32_t)offsetof(ug_plugin_desc, name);
    else if (!strcmp(c, "old_desc")) desc.size = (uint32_t)offsetof(ug_plugin_desc, params);
    else if (!strcmp(c, "null_desc")) list[0] = NULL;
    else if (!strcmp(c, "no_descs")) *count = 0;
    else if (!strcmp(c, "twice")) {
        twin = desc;
        list[1] = &twin;
        *count = 2;
    }
    return list;
}
