/* log.c — logging for the host and plugins, capability names, and the current run folder. */
#include "unigfn/host/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "unigfn/plugin.h"

static int g_level = UG_LOG_INFO;
static char g_run_dir[1024] = ".";

void ug_log_set_level(int level) { g_level = level; }

void ug_message(int level, const char *fmt, ...) {
    if (level < g_level) return;
    static const char *const names[] = {"debug", "info", "warning", "error"};
    fprintf(stderr, "unigfn: %s: ", names[level < 0 ? 0 : level > 3 ? 3 : level]);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

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

const char *ug_run_dir(void) { return g_run_dir; }
void ug_set_run_dir(const char *dir) { snprintf(g_run_dir, sizeof g_run_dir, "%s", dir ? dir : "."); }
