/* util.c — small host-side helpers shared by the runner, sweeps and reports, and the escaping of bytes
 * that come from files or the database before they are shown in a message (ug_shown, ug_msg_clean). */
#include "unigfn/host/util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "unigfn/status.h"

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

/* Length of the well-formed UTF-8 sequence at p (at most `left` bytes), 0 when it is not one. C1
 * controls (U+0080..U+009F) count as not printable: some terminals act on them as on ESC sequences. */
static size_t utf8_len(const unsigned char *p, size_t left) {
    size_t len;
    uint32_t cp;
    if (p[0] >= 0xc2 && p[0] <= 0xdf) len = 2, cp = p[0] & 0x1fu;
    else if (p[0] >= 0xe0 && p[0] <= 0xef) len = 3, cp = p[0] & 0x0fu;
    else if (p[0] >= 0xf0 && p[0] <= 0xf4) len = 4, cp = p[0] & 0x07u;
    else return 0;
    if (len > left) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80) return 0;
        cp = cp << 6 | (p[i] & 0x3fu);
    }
    /* overlong forms, surrogates, past U+10FFFF, C1 controls */
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff) ||
        (cp >= 0x80 && cp <= 0x9f))
        return 0;
    return len;
}

/* Bytes that ug_shown writes for the piece at p: the sequence itself, or 4 for \xNN; *adv: bytes read. */
static size_t shown_piece(const unsigned char *p, size_t left, bool quote, size_t *adv) {
    size_t len = p[0] >= 0x20 && p[0] < 0x7f && (p[0] != '\'' || !quote) ? 1 : utf8_len(p, left);
    *adv = len ? len : 1;
    return len ? len : 4;
}

static const char *shown(const char *s, size_t n, char *out, size_t cap, bool quote) {
    if (!out || cap == 0) return out;
    if (!s) {
        snprintf(out, cap, "(null)");
        return out;
    }
    if (n == SIZE_MAX) n = strlen(s);
    const unsigned char *p = (const unsigned char *)s;
    size_t total = 0, adv;
    for (size_t i = 0; i < n; i += adv) total += shown_piece(p + i, n - i, quote, &adv);
    /* all of it, or as much as leaves room for "..." */
    size_t room = total < cap ? cap - 1 : (cap > 4 ? cap - 4 : 0);
    size_t o = 0;
    for (size_t i = 0; i < n; i += adv) {
        size_t w = shown_piece(p + i, n - i, quote, &adv);
        if (o + w > room) break;
        if (adv == 1 && w == 4) snprintf(out + o, 5, "\\x%02x", p[i]);  /* an escaped byte */
        else memcpy(out + o, p + i, w);
        o += w;
    }
    out[o] = 0;
    if (total >= cap) snprintf(out + o, cap - o, "...");
    return out;
}

const char *ug_shown(const char *s, size_t n, char *out, size_t cap) { return shown(s, n, out, cap, true); }
const char *ug_shown_text(const char *s, size_t n, char *out, size_t cap) { return shown(s, n, out, cap, false); }

void ug_msg_clean(char *msg, size_t cap) {
    if (!msg || cap == 0) return;
    size_t n = strnlen(msg, cap - 1), adv;
    bool clean = true;
    for (size_t i = 0; i < n && clean; i += adv) clean = shown_piece((const unsigned char *)msg + i, n - i, false, &adv) == adv;
    if (clean) return; /* the usual case: nothing to escape */
    char raw[UG_ERRMSG_MAX];
    if (n >= sizeof raw) n = sizeof raw - 1;
    memcpy(raw, msg, n);
    raw[n] = 0;
    shown(raw, n, msg, cap, false);
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

/* ---- did-you-mean (spec keys, metric names) ---- */

static int edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64) return 99;
    int row[65];
    for (size_t j = 0; j <= lb; j++) row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int up = row[j];
            int best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

const char *ug_closest_name(const char *key, const char *const *cands, int n) {
    const char *best = NULL;
    int bestd = 3;
    for (int k = 0; k < n; k++) {
        int d = edit_distance(key, cands[k]);
        size_t longest = strlen(key) > strlen(cands[k]) ? strlen(key) : strlen(cands[k]);
        if (d < bestd && (size_t)d < longest) {
            best = cands[k];
            bestd = d;
        }
    }
    return best;
}
