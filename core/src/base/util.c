/* util.c — small host-side helpers shared by the runner, sweeps and reports. */
#include "unigfn/host/util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

double ug_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double ug_wall_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int ug_mkdir_p(const char *path) {
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0755) && errno != EEXIST) return -1;
        *p = '/';
    }
    return (mkdir(buf, 0755) && errno != EEXIST) ? -1 : 0;
}

void ug_csv_field(FILE *f, const char *s) {
    if (!strpbrk(s, ",\"\n\r")) { fputs(s, f); return; }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

void ug_sbuf_putn(ug_sbuf *b, const char *t, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + n + 1) cap *= 2;
        char *s = realloc(b->s, cap);
        if (!s) { b->oom = true; return; }
        b->s = s, b->cap = cap;
    }
    memcpy(b->s + b->n, t, n);
    b->n += n;
    b->s[b->n] = 0;
}

void ug_sbuf_put(ug_sbuf *b, const char *t) { ug_sbuf_putn(b, t, strlen(t)); }

void ug_sbuf_printf(ug_sbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char tmp[512];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof tmp) { ug_sbuf_putn(b, tmp, (size_t)n); return; }
    char *big = malloc((size_t)n + 1);
    if (!big) { b->oom = true; return; }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    ug_sbuf_putn(b, big, (size_t)n);
    free(big);
}

int ug_kv_add(const char *key, const char *value, void *ud) {
    ug_kv *l = ud;
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        const char **k = realloc(l->k, (size_t)cap * sizeof *k);
        if (k) l->k = k;
        const char **v = realloc(l->v, (size_t)cap * sizeof *v);
        if (v) l->v = v;
        if (!k || !v) return 1;
        l->cap = cap;
    }
    l->k[l->n] = key;
    l->v[l->n] = value;
    l->n++;
    return 0;
}

const char *ug_kv_get(const ug_kv *l, const char *key) {
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->k[i], key) == 0) return l->v[i];
    return NULL;
}

void ug_kv_free(ug_kv *l) {
    free(l->k);
    free(l->v);
    l->k = l->v = NULL;
    l->n = l->cap = 0;
}
