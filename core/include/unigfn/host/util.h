/* util.h — small host-side helpers shared by the runner, sweeps and reports (core only). */
#ifndef UG_UTIL_H
#define UG_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Monotonic seconds (CLOCK_MONOTONIC): for measuring intervals. */
double ug_now_s(void);
/* Wall-clock unix seconds (CLOCK_REALTIME): for timestamps that are stored or shown. */
double ug_wall_s(void);
/* mkdir -p with mode 0755; 0 on success, -1 with errno set. */
int ug_mkdir_p(const char *path);
/* One CSV field, quoted (RFC 4180) only when it holds a comma, quote or newline. */
void ug_csv_field(FILE *f, const char *s);

/* The first n bytes of s (up to its NUL when n is SIZE_MAX) as a message may show them, into out:
 * printable ASCII and well-formed UTF-8 as they are; every other byte (control characters such as ESC,
 * which a terminal would obey, newlines, DEL, C1 controls, bytes of broken UTF-8, NUL) as \xNN, and
 * the quote ' as \x27 (messages put names in '...'). Longer than fits in cap: cut, ending in "...".
 * For what comes from a file or the user (a name in a checkpoint or a plugin, a string from the
 * database, an argument) before it goes into a message. Returns out; a NULL s shows as "(null)". */
const char *ug_shown(const char *s, size_t n, char *out, size_t cap);
/* The same, keeping the quote: for text shown as it is (a stored error message, a value list). */
const char *ug_shown_text(const char *s, size_t n, char *out, size_t cap);
/* Makes the message in msg (a buffer of cap bytes) one printable line in place (ug_shown_text of
 * itself, at most UG_ERRMSG_MAX bytes): ug_error_set, ug_ctx_fail and ug_params_fail pass every message
 * through it, so bytes of a file or a database that reach a message are never sent to a terminal raw. */
void ug_msg_clean(char *msg, size_t cap);

/* Did-you-mean: the candidate closest to key by edit distance, if within 2 edits and closer than a full
 * rewrite of the shorter name; NULL if none (or a name is longer than 64 bytes). */
const char *ug_closest_name(const char *key, const char *const *cands, int n);

/* A growable NUL-terminated string; `oom` records an allocation failure (later puts are no-ops). */
typedef struct ug_sbuf {
    char *s;
    size_t n, cap;
    bool oom;
} ug_sbuf;
void ug_sbuf_putn(ug_sbuf *b, const char *t, size_t n);
void ug_sbuf_put(ug_sbuf *b, const char *t);
void ug_sbuf_printf(ug_sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Borrowed key/value pairs, e.g. a flattened spec (ug_spec_flatten keeps its strings alive while the
 * spec lives). ug_kv_add fits ug_spec_flatten's callback: 0, or 1 when out of memory. */
typedef struct ug_kv {
    int n, cap;
    const char **k, **v;
} ug_kv;
int ug_kv_add(const char *key, const char *value, void *ud);
const char *ug_kv_get(const ug_kv *l, const char *key);  /* NULL when absent */
void ug_kv_free(ug_kv *l);

#endif
