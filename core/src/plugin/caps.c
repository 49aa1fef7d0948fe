/* caps.c — model capability names (UG_CAP_NAMES in plugin.h) both ways: for messages, and for
 * `requires:`-style lookups by name in the experiment builder. */
#include <string.h>

#include "unigfn/host/loader.h"

const char *ug_cap_name(uint32_t cap) {
    static const char *const names[UG_CAP_COUNT] = {UG_CAP_NAMES};
    for (int i = 0; i < UG_CAP_COUNT; i++)
        if (cap == (1u << i)) return names[i];
    return "?";
}

uint32_t ug_cap_from_name(const char *name) {
    static const char *const names[UG_CAP_COUNT] = {UG_CAP_NAMES};
    for (int i = 0; i < UG_CAP_COUNT; i++)
        if (strcmp(name, names[i]) == 0) return 1u << i;
    return 0;
}
