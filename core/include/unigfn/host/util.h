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
