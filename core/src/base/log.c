/* log.c — the host's one way out: ug_out and ug_message format a text and hand it to the sink
 * (log.h). Only this file and the CLI touch stdout/stderr. */
#include "unigfn/host/log.h"

#include <stdarg.h>
#include <stdio.h>

#include "unigfn/plugin.h"

static int g_level = UG_LOG_INFO;

static void default_sink(void *user, int channel, const char *text) {
    (void)user;
    FILE *f = channel == UG_OUT_REPORT ? stdout : stderr;
    fputs(text, f);
    fflush(f);
}

static ug_log_sink g_sink = default_sink;
static void *g_sink_user = NULL;

void ug_log_set_sink(ug_log_sink fn, void *user) {
    g_sink = fn ? fn : default_sink;
    g_sink_user = fn ? user : NULL;
}

void ug_log_set_level(int level) { g_level = level; }

/* Longer texts are cut: a report line or a message is a line, not a document. */
#define LOG_LINE_MAX 4096

static void emit(int channel, const char *prefix, const char *fmt, va_list ap, const char *suffix) {
    char buf[LOG_LINE_MAX];
    int n = snprintf(buf, sizeof buf, "%s", prefix);
    if (n < 0 || (size_t)n >= sizeof buf) n = 0;
    int m = vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
    if (m > 0) n = (size_t)(n + m) >= sizeof buf ? (int)sizeof buf - 1 : n + m;
    snprintf(buf + n, sizeof buf - (size_t)n, "%s", suffix);
    g_sink(g_sink_user, channel, buf);
}

void ug_out(int channel, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    emit(channel, "", fmt, ap, "");
    va_end(ap);
}

void ug_message(int level, const char *fmt, ...) {
    if (level < g_level) return;
    static const char *const names[] = {"debug", "info", "warning", "error"};
    char prefix[32];
    snprintf(prefix, sizeof prefix, "unigfn: %s: ", names[level < 0 ? 0 : level > 3 ? 3 : level]);
    va_list ap;
    va_start(ap, fmt);
    emit(UG_OUT_MESSAGE, prefix, fmt, ap, "\n");
    va_end(ap);
}
