/* status.h — how every unigfn call reports failure: a status code and a message naming what and where.
 *
 * Library code never exits or aborts on bad input. A function that can fail returns ug_status (or NULL
 * for constructors) and writes a human-readable message into a ug_error the caller owns; the
 * numerics context keeps a sticky ug_error of its own (see tensor.h). */
#ifndef UNIGFN_STATUS_H
#define UNIGFN_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ug_status {
    UG_OK = 0,
    UG_ERR_ARG,          /* bad argument (shape, axis, dtype, value) */
    UG_ERR_NOMEM,        /* allocation failed or arena exhausted */
    UG_ERR_IO,           /* file could not be read or written */
    UG_ERR_SPEC,         /* spec error: file:line:col and key in the message */
    UG_ERR_PLUGIN,       /* plugin refused or failed to load */
    UG_ERR_STORE,        /* results database error */
    UG_ERR_NUMERIC,      /* non-finite loss or value */
    UG_ERR_UNSUPPORTED,  /* capability or derivative order not available */
    UG_ERR_INTERRUPTED,  /* SIGINT/SIGTERM seen */
    UG_ERR_INTERNAL,
} ug_status;

#define UG_ERRMSG_MAX 1024

typedef struct ug_error {
    ug_status code;
    char msg[UG_ERRMSG_MAX];
} ug_error;

/* Record the first error only: later calls keep the original message (it names the root cause).
 * Returns `code` so callers can write `return ug_error_set(e, UG_ERR_ARG, "...")`. */
ug_status ug_error_set(ug_error *e, ug_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Overwrite whatever is there (used when re-raising with more context). */
ug_status ug_error_reset(ug_error *e, ug_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
const char *ug_status_name(ug_status s);

#ifdef __cplusplus
}
#endif
#endif
