/* status.c — error recording shared by every module. Every message is made one printable line
 * (ug_msg_clean): the bytes of a hostile file never reach a terminal through an error. */
#include "unigfn/status.h"

#include <stdarg.h>
#include <stdio.h>

#include "unigfn/host/util.h"

static ug_status vset(ug_error *e, ug_status code, const char *fmt, va_list ap) {
    if (!e) return code;
    e->code = code;
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    /* A message often holds what a file said (a name, a key, a database string): one printable line. */
    ug_msg_clean(e->msg, sizeof e->msg);
    return code;
}

ug_status ug_error_set(ug_error *e, ug_status code, const char *fmt, ...) {
    if (e && e->code != UG_OK) return code;
    va_list ap;
    va_start(ap, fmt);
    vset(e, code, fmt, ap);
    va_end(ap);
    return code;
}

ug_status ug_error_reset(ug_error *e, ug_status code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vset(e, code, fmt, ap);
    va_end(ap);
    return code;
}

const char *ug_status_name(ug_status s) {
    switch (s) {
    case UG_OK: return "ok";
    case UG_ERR_ARG: return "bad argument";
    case UG_ERR_NOMEM: return "out of memory";
    case UG_ERR_IO: return "i/o error";
    case UG_ERR_SPEC: return "spec error";
    case UG_ERR_PLUGIN: return "plugin error";
    case UG_ERR_STORE: return "store error";
    case UG_ERR_NUMERIC: return "numeric error";
    case UG_ERR_UNSUPPORTED: return "unsupported";
    case UG_ERR_INTERRUPTED: return "interrupted";
    case UG_ERR_INTERNAL: return "internal error";
    }
    return "unknown";
}
