/* spec_errors.c — the one-line error format every spec stage reports through ("<where>: <key>:
 * <message>"), how a value reads in a message, and dotted-key joining: the helpers the spec_*.c files
 * share, apart from the pipeline in spec.c that calls those files. */
#include "spec/spec_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- errors ---- */

static bool is_cmdline(const ug_cfg *at) {
    return at && at->file && strcmp(at->file, UG_SPEC_FILE_CMDLINE) == 0;
}

static void where(spec_ctx *c, const ug_cfg *at, char *buf, size_t n) {
    const ug_spec *s = c->spec;
    if (!at) {
        snprintf(buf, n, "%s", s->path);
    } else if (is_cmdline(at)) {
        const char *o = at->line >= 1 && at->line <= s->n_overrides ? s->overrides[at->line - 1] : "?";
        snprintf(buf, n, "%s '%s'", UG_SPEC_FILE_CMDLINE, o);
    } else if (at->line <= 0) {
        snprintf(buf, n, "%s", at->file ? at->file : UG_SPEC_FILE_DEFAULT);
    } else {
        snprintf(buf, n, "%s:%d:%d", at->file ? at->file : s->path, at->line, at->col);
    }
}

void ug_spec_origin(spec_ctx *c, const ug_cfg *node, char *buf, size_t n) { where(c, node, buf, n); }

/* Append with truncation (snprintf of several long parts makes -Wformat-truncation noisy). */
static void cat(char *dst, size_t cap, const char *s) {
    size_t l = strlen(dst);
    while (*s && l + 1 < cap) dst[l++] = *s++;
    dst[l] = 0;
}

ug_status ug_spec_fail(spec_ctx *c, const ug_cfg *at, const char *key, const char *fmt, ...) {
    char loc[512], msg[UG_ERRMSG_MAX];
    where(c, at, loc, sizeof loc);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* a default that fails its own schema is the plugin's bug, not the user's: say so */
    const char *blame = at && at->line <= 0 && !is_cmdline(at) ? "invalid default in the schema: " : "";
    char line[UG_ERRMSG_MAX] = "";
    const char *parts[] = {loc, ": ", key && *key ? key : "", key && *key ? ": " : "", blame, msg};
    for (size_t p = 0; p < sizeof parts / sizeof *parts; p++) cat(line, sizeof line, parts[p]);
    /* exactly one line, whatever the keys and paths contain */
    for (char *q = line; *q; q++)
        if ((unsigned char)*q < 0x20 || *q == 0x7f) *q = '?';
    return ug_error_set(c->err, UG_ERR_SPEC, "%s", line);
}

ug_status ug_spec_nomem(spec_ctx *c) {
    return ug_error_set(c->err, UG_ERR_NOMEM, "%s: out of memory while loading the spec", c->spec->path);
}

void ug_spec_describe(const ug_cfg *node, char *buf, size_t n) {
    if (!node || node->type == UG_CFG_NULL) {
        snprintf(buf, n, "nothing");
        return;
    }
    if (node->type == UG_CFG_LIST) {
        snprintf(buf, n, "a list");
        return;
    }
    if (node->type == UG_CFG_MAP) {
        snprintf(buf, n, "a map");
        return;
    }
    enum { SHOW = 40 };
    char tmp[4 * SHOW + 8];
    size_t k = 0;
    const char *t = node->text ? node->text : "";
    size_t shown = 0;
    for (; *t && shown < SHOW; t++, shown++) {
        unsigned char ch = (unsigned char)*t;
        if (ch == '\n') tmp[k++] = '\\', tmp[k++] = 'n';
        else if (ch == '\t') tmp[k++] = '\\', tmp[k++] = 't';
        else if (ch < 0x20 || ch == 0x7f) tmp[k++] = '?';
        else tmp[k++] = (char)ch;
    }
    if (*t) tmp[k++] = '.', tmp[k++] = '.', tmp[k++] = '.';
    tmp[k] = 0;
    snprintf(buf, n, "'%s'", tmp);
}

void ug_spec_join(char *buf, size_t n, const char *prefix, const char *key) {
    if (prefix && *prefix)
        snprintf(buf, n, "%s.%s", prefix, key);
    else
        snprintf(buf, n, "%s", key);
}

void ug_spec_join_index(char *buf, size_t n, const char *prefix, int index) {
    if (prefix && *prefix)
        snprintf(buf, n, "%s.%d", prefix, index);
    else
        snprintf(buf, n, "%d", index);
}
