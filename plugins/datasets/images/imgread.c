/* imgread.c — the IDX and digits-CSV readers of imgread.h.
 *
 * The IDX reader decompresses the whole file even when only a prefix is kept (train_size), because a
 * gzip stream has no random access: that is the only way to know the file is as long as its header
 * says, which is the check a truncated download needs. */
#include "imgread.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static int fail(char *msg, size_t cap, int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (msg && cap) vsnprintf(msg, cap, fmt, ap);
    va_end(ap);
    return code;
}

static gzFile open_gz(const char *path, char *msg, size_t cap, int *code) {
    errno = 0;
    gzFile f = gzopen(path, "rb");
    if (!f) {
        int e = errno;
        *code = fail(msg, cap, e == ENOENT || e == ENOTDIR ? IMGREAD_MISSING : IMGREAD_IO, "cannot open %s: %s", path,
                     e ? strerror(e) : "out of memory");
    }
    return f;
}

/* zlib's message for f, without the "path: " it begins with (the caller names the path itself). */
static const char *zmsg(gzFile f, const char *path, int *zerr) {
    const char *m = gzerror(f, zerr);
    size_t l = strlen(path);
    if (m && strncmp(m, path, l) == 0 && m[l] == ':' && m[l + 1] == ' ') m += l + 2;
    return m && *m ? m : "zlib error";
}

/* Read up to n bytes; returns the count read, or -1 with the zlib error in msg. A short count with no
 * error is the end of the data. */
static int64_t read_bytes(gzFile f, const char *path, void *buf, uint64_t n, char *msg, size_t cap) {
    uint64_t got = 0;
    int zerr = 0;
    while (got < n) {
        uint64_t chunk = n - got > (1u << 30) ? (1u << 30) : n - got;
        int r = gzread(f, (char *)buf + got, (unsigned)chunk);
        if (r < 0) {
            fail(msg, cap, IMGREAD_IO, "%s: cannot decompress (truncated or corrupt gzip?): %s", path, zmsg(f, path, &zerr));
            return -1;
        }
        if (r == 0) break;
        got += (uint64_t)r;
    }
    /* zlib may report a cut-off gzip stream only once the reading stops */
    const char *zm = zmsg(f, path, &zerr);
    if (zerr != Z_OK && zerr != Z_STREAM_END) {
        fail(msg, cap, IMGREAD_IO, "%s: cannot decompress (truncated or corrupt gzip?): %s", path, zm);
        return -1;
    }
    return (int64_t)got;
}

int imgread_idx_u8(const char *path, int ndim, const uint32_t *want, uint32_t max_items, int64_t keep,
                   uint8_t **out, int64_t *count, int64_t *kept, char *msg, size_t cap) {
    *out = NULL;
    *count = *kept = 0;
    if (ndim < 1 || ndim > 4) return fail(msg, cap, IMGREAD_FORMAT, "%s: bad request (ndim %d)", path, ndim);
    int code = 0;
    gzFile f = open_gz(path, msg, cap, &code);
    if (!f) return code;
    uint8_t head[4 + 4 * 4];
    size_t head_len = 4 + 4 * (size_t)ndim;
    int64_t r = read_bytes(f, path, head, head_len, msg, cap);
    if (r < 0) { gzclose(f); return IMGREAD_IO; }
    if ((size_t)r < head_len) {
        gzclose(f);
        return fail(msg, cap, IMGREAD_FORMAT, "%s: truncated: %lld bytes, shorter than the %zu-byte IDX header of a "
                    "%d-dimensional file", path, (long long)r, head_len, ndim);
    }
    if (head[0] != 0 || head[1] != 0 || head[2] != 0x08 || head[3] != (uint8_t)ndim) {
        gzclose(f);
        return fail(msg, cap, IMGREAD_FORMAT, "%s: bad IDX magic %02x %02x %02x %02x, expected 00 00 08 %02x (unsigned "
                    "bytes, %d dimensions)", path, head[0], head[1], head[2], head[3], ndim, ndim);
    }
    uint32_t dims[4];
    for (int k = 0; k < ndim; k++) {
        const uint8_t *p = head + 4 + 4 * k;
        dims[k] = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    }
    char shape[96] = "", wshape[96] = "";
    for (int k = 0; k < ndim; k++) {
        size_t l = strlen(shape), wl = strlen(wshape);
        snprintf(shape + l, sizeof shape - l, "%s%u", k ? " x " : "", dims[k]);
        if (k) snprintf(wshape + wl, sizeof wshape - wl, " x %u", want[k]);
        else snprintf(wshape, sizeof wshape, "N");
    }
    int dims_ok = dims[0] >= 1 && dims[0] <= max_items;
    for (int k = 1; k < ndim; k++) dims_ok &= dims[k] == want[k];
    if (!dims_ok) {
        gzclose(f);
        return fail(msg, cap, IMGREAD_FORMAT, "%s: IDX header gives sizes %s, expected %s with 1 <= N <= %u", path,
                    shape, wshape, max_items);
    }
    uint64_t item = 1;
    for (int k = 1; k < ndim; k++) item *= dims[k];   /* <= (2^32)^3: callers ask for small items */
    uint64_t total = item * dims[0];
    int64_t nk = keep > 0 && keep < (int64_t)dims[0] ? keep : (int64_t)dims[0];
    uint8_t *buf = malloc((size_t)(item * (uint64_t)nk));   /* nk >= 1, item >= 1 */
    uint8_t *scratch = malloc(1u << 16);
    if (!buf || !scratch) {
        free(buf), free(scratch), gzclose(f);
        return fail(msg, cap, IMGREAD_NOMEM, "%s: out of memory for %lld items of %llu bytes", path, (long long)nk,
                    (unsigned long long)item);
    }
    uint64_t got = 0;
    r = read_bytes(f, path, buf, item * (uint64_t)nk, msg, cap);
    if (r >= 0) got = (uint64_t)r;
    if (got == item * (uint64_t)nk)
        while (got < total) {   /* the rest: counted, not kept */
            uint64_t want_n = total - got < (1u << 16) ? total - got : (1u << 16);
            r = read_bytes(f, path, scratch, want_n, msg, cap);
            if (r > 0) got += (uint64_t)r;
            if (r < (int64_t)want_n) break;
        }
    int64_t extra = 0;
    if (r >= 0 && got == total) extra = read_bytes(f, path, scratch, 1u << 16, msg, cap);
    free(scratch);
    gzclose(f);
    if (r < 0 || extra < 0) { free(buf); return IMGREAD_IO; }
    if (got < total) {
        free(buf);
        return fail(msg, cap, IMGREAD_FORMAT, "%s: truncated: the IDX header gives %s (%llu bytes of data), the file "
                    "holds %llu", path, shape, (unsigned long long)total, (unsigned long long)got);
    }
    if (extra > 0) {
        free(buf);
        return fail(msg, cap, IMGREAD_FORMAT, "%s: %s%lld bytes past the %llu bytes of data the IDX header gives (%s)",
                    path, extra == (1 << 16) ? "at least " : "", (long long)extra, (unsigned long long)total, shape);
    }
    *out = buf;
    *count = dims[0];
    *kept = nk;
    return IMGREAD_OK;
}

int imgread_digits_csv(const char *path, uint8_t **out, uint8_t **labels, int64_t *n, char *msg, size_t cap) {
    *out = NULL;
    if (labels) *labels = NULL;
    *n = 0;
    int code = 0;
    gzFile f = open_gz(path, msg, cap, &code);
    if (!f) return code;
    char line[4096];
    int64_t rows = 0, rcap = 0, lineno = 0;
    uint8_t *px = NULL, *lab = NULL;
    int st = IMGREAD_OK;
    while (gzgets(f, line, sizeof line)) {
        lineno++;
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n') {
            st = fail(msg, cap, IMGREAD_FORMAT, "%s:%lld: line longer than %zu characters", path, (long long)lineno,
                      sizeof line - 2);
            break;
        }
        const char *p = line;
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') p++;
        if (!*p) continue;   /* blank line (a trailing newline) */
        if (rows == rcap) {
            int64_t nc = rcap ? 2 * rcap : 2048;
            uint8_t *np = realloc(px, (size_t)nc * 64), *nl = np ? realloc(lab, (size_t)nc) : NULL;
            if (np) px = np;
            if (nl) lab = nl;
            if (!np || !nl) { st = fail(msg, cap, IMGREAD_NOMEM, "%s: out of memory at line %lld", path, (long long)lineno); break; }
            rcap = nc;
        }
        int fields = 0;
        for (;;) {
            char *end;
            errno = 0;
            double v = strtod(p, &end);
            int lim = fields < 64 ? 16 : 9;
            if (end == p || errno || !(v >= 0 && v <= lim) || v != (double)(int)v) {
                st = fail(msg, cap, IMGREAD_FORMAT, "%s:%lld: field %d is '%.20s', expected an integer 0..%d (%s)", path,
                          (long long)lineno, fields + 1, p, lim, fields < 64 ? "a gray level" : "the label");
                break;
            }
            if (fields < 64) px[rows * 64 + fields] = (uint8_t)v;
            else if (fields == 64) lab[rows] = (uint8_t)v;
            fields++;
            p = end;
            while (*p == ' ' || *p == '\t') p++;
            if (*p != ',') break;
            p++;
            if (fields == 65) { fields++; break; }   /* a 66th field follows */
        }
        if (st) break;
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') p++;
        if (fields != 65 || *p) {
            st = fail(msg, cap, IMGREAD_FORMAT, "%s:%lld: %s fields, expected 65 (64 gray levels and the label)", path,
                      (long long)lineno, fields > 65 || *p ? "more than 65" : fields == 0 ? "no" : "fewer");
            break;
        }
        rows++;
    }
    /* a cut-off gzip stream ends in a partial line: its zlib error is the cause, not the short line */
    int zerr = 0;
    const char *zm = zmsg(f, path, &zerr);
    if (st != IMGREAD_NOMEM && zerr != Z_OK && zerr != Z_STREAM_END)
        st = fail(msg, cap, IMGREAD_IO, "%s: cannot decompress after line %lld (truncated or corrupt gzip?): %s", path,
                  (long long)(st ? lineno - 1 : lineno), zm);
    else if (!st && rows == 0)
        st = fail(msg, cap, IMGREAD_FORMAT, "%s: no images (an empty file)", path);
    gzclose(f);
    if (st) {
        free(px), free(lab);
        return st;
    }
    *out = px;
    if (labels) *labels = lab;
    else free(lab);
    *n = rows;
    return IMGREAD_OK;
}

void imgread_pool2(const uint8_t *in, int64_t n, int h, int w, uint8_t *out) {
    int oh = h / 2, ow = w / 2;
    for (int64_t i = 0; i < n; i++) {
        const uint8_t *a = in + i * h * w;
        uint8_t *o = out + i * oh * ow;
        for (int r = 0; r < oh; r++)
            for (int c = 0; c < ow; c++) {
                unsigned s = a[2 * r * w + 2 * c] + a[2 * r * w + 2 * c + 1] + a[(2 * r + 1) * w + 2 * c] +
                             a[(2 * r + 1) * w + 2 * c + 1];
                o[r * ow + c] = (uint8_t)((s + 2) / 4);
            }
    }
}
