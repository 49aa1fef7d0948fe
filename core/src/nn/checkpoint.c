/* checkpoint.c — the tagged-section checkpoint file described in checkpoint.h.
 *
 * Save streams sections through a SHA-256 into path.tmp and renames it into place (atomic on POSIX).
 * Load first checks what the path is (a regular file of a size this model's checkpoint can have,
 * opened without waiting: read_file), then reads the whole file, verifies the trailing hash first (so truncation is reported as such,
 * not as a confusing parse error), then validates every section against the model before copying
 * anything, so a refused checkpoint never leaves a half-restored model. Parameter blocks and optimizer
 * moments are the backend's memory: they pass through a small host buffer (to_host / to_device). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* fsync, fileno, open */
#endif
#include "unigfn/host/checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nn/nn_internal.h"
#include "unigfn/host/sha256.h"
#include "unigfn/host/util.h"

#define TAG(a, b, c, d) ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)
#define TAG_GRUP TAG('G', 'R', 'U', 'P')
#define TAG_OPTM TAG('O', 'P', 'T', 'M')
#define TAG_BLOB TAG('B', 'L', 'O', 'B')
#define TAG_END TAG('E', 'N', 'D', '\0')

static const char MAGIC[8] = {'U', 'G', 'N', 'C', 'K', 'P', 'T', '\0'};
enum { HEADER_BYTES = 16, SECTION_HEAD = 12, MAX_NAME = 4096, STAGE = 4096 /* floats per host copy */ };

static bool host_is_le(void) {
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 1;
}

/* ---- Writing -------------------------------------------------------------------------------- */

typedef struct writer {
    FILE *f;
    ug_sha256_ctx sha;
    bool failed;
} writer;

static void put(writer *w, const void *p, size_t n) {
    if (w->failed || n == 0) return;
    ug_sha256_update(&w->sha, p, n);
    if (fwrite(p, 1, n, w->f) != n) w->failed = true;
}

static void put_u32(writer *w, uint32_t v) {
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(w, b, 4);
}

static void put_u64(writer *w, uint64_t v) {
    uint8_t b[8];
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(v >> (8 * i));
    put(w, b, 8);
}

static void put_f32(writer *w, float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    put_u32(w, u);
}

static void put_str(writer *w, const char *s) {
    size_t n = strlen(s);
    put_u32(w, (uint32_t)n);
    put(w, s, n);
}

/* n floats of be's memory, little-endian, STAGE at a time through the host. */
static void put_f32s(writer *w, const ug_backend *be, const float *x, int64_t n) {
    float buf[STAGE];
    for (int64_t i0 = 0; i0 < n; i0 += STAGE) {
        int64_t m = n - i0 < STAGE ? n - i0 : STAGE;
        be->to_host(buf, x + i0, (size_t)m * 4);
        if (host_is_le()) put(w, buf, (size_t)m * 4);
        else
            for (int64_t i = 0; i < m; i++) put_f32(w, buf[i]);
    }
}

static uint64_t str_bytes(const char *s) { return 4 + (uint64_t)strlen(s); }

static uint64_t group_payload(const ug_params *P, int g) {
    const char *name;
    int64_t count;
    ug_params_group_info(P, g, &name, NULL, NULL, &count);
    uint64_t n = str_bytes(name) + 8 + 4 + 4 * (uint64_t)count;
    for (int i = 0; i < ug_params_group_size(P, g); i++) {
        const ug_tensor *t = ug_params_get(P, g, i);
        n += str_bytes(t->name) + 4 + 8 * (uint64_t)t->ndim;
    }
    return n;
}

static void write_group(writer *w, const ug_params *P, int g) {
    const char *name;
    float *data;
    int64_t count;
    ug_params_group_info(P, g, &name, &data, NULL, &count);
    put_u32(w, TAG_GRUP);
    put_u64(w, group_payload(P, g));
    put_str(w, name);
    put_u64(w, (uint64_t)count);
    int np = ug_params_group_size(P, g);
    put_u32(w, (uint32_t)np);
    for (int i = 0; i < np; i++) {
        const ug_tensor *t = ug_params_get(P, g, i);
        put_str(w, t->name);
        put_u32(w, (uint32_t)t->ndim);
        for (int d = 0; d < t->ndim; d++) put_u64(w, (uint64_t)t->shape[d]);
    }
    put_f32s(w, ug__params_backend(P), data, count);
}

static void write_optim(writer *w, const ug_optim *o, const char *gname) {
    const ug_optim_config *c = &o->cfg;
    uint32_t has = (o->m ? 1u : 0u) | (o->v ? 2u : 0u);
    uint64_t len = str_bytes(gname) + 4 + 4 + 8 + 4 + 4 + 9 * 4 + 2 * 8 + 8 + 4 +
                   4 * (uint64_t)o->count * ((has & 1) + (has >> 1));
    put_u32(w, TAG_OPTM);
    put_u64(w, len);
    put_str(w, gname);
    put_u32(w, (uint32_t)c->algorithm);
    put_u32(w, (uint32_t)c->schedule);
    put_u64(w, (uint64_t)o->step);
    put_f32(w, o->last_lr);
    put_f32(w, o->last_grad_norm);
    const float fs[9] = {c->lr,       c->beta1,  c->beta2,     c->eps,       c->weight_decay,
                         c->momentum, c->min_lr, c->clip_norm, c->clip_value};
    for (int i = 0; i < 9; i++) put_f32(w, fs[i]);
    put_u64(w, (uint64_t)c->warmup_steps);
    put_u64(w, (uint64_t)c->total_steps);
    put_u64(w, (uint64_t)o->count);
    put_u32(w, has);
    const ug_backend *be = ug_backend_get(o->device);
    if (o->m) put_f32s(w, be, o->m, o->count);
    if (o->v) put_f32s(w, be, o->v, o->count);
}

/* Make the rename itself durable. */
static void fsync_parent(const char *path) {
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash) {
        strcpy(dir, ".");
    } else {
        size_t n = (size_t)(slash - path);
        if (n == 0) n = 1;  // "/file"
        if (n >= sizeof dir) return;
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    int fd = open(dir, O_RDONLY);
    if (fd >= 0) {
        fsync(fd);  // best effort: some filesystems refuse fsync on directories
        close(fd);
    }
}

ug_status ug_checkpoint_save(const char *path, const ug_params *P, ug_optim *const *optims,
                             int n_optims, const ug_ckpt_blob *blobs, int n_blobs, ug_error *err) {
    if (!path || !P || n_optims < 0 || n_blobs < 0 || (n_optims && !optims) || (n_blobs && !blobs))
        return ug_error_set(err, UG_ERR_ARG, "ug_checkpoint_save: bad arguments (path %s)",
                            path ? path : "NULL");
    if (!ug_params_finalized(P))
        return ug_error_set(err, UG_ERR_ARG,
                            "checkpoint %s: parameters were declared after the last finalize", path);
    if (n_optims > UG_MAX_GROUPS)
        return ug_error_set(err, UG_ERR_ARG, "checkpoint %s: %d optimizers (at most %d)", path,
                            n_optims, UG_MAX_GROUPS);
    const char *onames[UG_MAX_GROUPS];
    for (int i = 0; i < n_optims; i++) {
        if (!optims[i] || optims[i]->P != P ||
            ug_params_group_info(P, optims[i]->group, &onames[i], NULL, NULL, NULL) != UG_OK)
            return ug_error_set(err, UG_ERR_ARG,
                                "checkpoint %s: optimizer %d does not belong to these parameters",
                                path, i);
    }
    for (int i = 0; i < n_blobs; i++)
        if (!blobs[i].name || (blobs[i].size && !blobs[i].data) || strlen(blobs[i].name) > MAX_NAME)
            return ug_error_set(err, UG_ERR_ARG, "checkpoint %s: blob %d has no name or no data",
                                path, i);

    size_t plen = strlen(path);
    char *tmp = malloc(plen + 5);
    if (!tmp) return ug_error_set(err, UG_ERR_NOMEM, "checkpoint %s: out of memory", path);
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    writer w = {0};
    w.f = fopen(tmp, "wb");
    if (!w.f) {
        ug_status st = ug_error_set(err, UG_ERR_IO, "checkpoint %s: cannot create %s: %s", path, tmp,
                                    strerror(errno));
        free(tmp);
        return st;
    }
    ug_sha256_init(&w.sha);
    put(&w, MAGIC, 8);
    put_u32(&w, UG_CKPT_VERSION);
    put_u32(&w, 0);
    for (int g = 0; g < ug_params_group_count(P); g++) write_group(&w, P, g);
    for (int i = 0; i < n_optims; i++) write_optim(&w, optims[i], onames[i]);
    for (int i = 0; i < n_blobs; i++) {
        put_u32(&w, TAG_BLOB);
        put_u64(&w, str_bytes(blobs[i].name) + 8 + blobs[i].size);
        put_str(&w, blobs[i].name);
        put_u64(&w, blobs[i].size);
        put(&w, blobs[i].data, blobs[i].size);
    }
    uint8_t digest[32];
    ug_sha256_final(&w.sha, digest);
    if (!w.failed) {
        uint8_t head[SECTION_HEAD] = {'E', 'N', 'D', 0, 32, 0, 0, 0, 0, 0, 0, 0};
        if (fwrite(head, 1, sizeof head, w.f) != sizeof head || fwrite(digest, 1, 32, w.f) != 32)
            w.failed = true;
    }
    int saved_errno = errno;
    if (!w.failed && (fflush(w.f) != 0 || fsync(fileno(w.f)) != 0)) {
        w.failed = true;
        saved_errno = errno;
    }
    if (fclose(w.f) != 0 && !w.failed) {
        w.failed = true;
        saved_errno = errno;
    }
    if (w.failed) {
        remove(tmp);
        free(tmp);
        return ug_error_set(err, UG_ERR_IO, "checkpoint %s: write failed: %s", path,
                            strerror(saved_errno));
    }
    if (rename(tmp, path) != 0) {
        ug_status st = ug_error_set(err, UG_ERR_IO, "checkpoint %s: cannot rename %s into place: %s",
                                    path, tmp, strerror(errno));
        remove(tmp);
        free(tmp);
        return st;
    }
    free(tmp);
    fsync_parent(path);
    return UG_OK;
}

/* ---- Reading -------------------------------------------------------------------------------- */

typedef struct reader {
    const uint8_t *p;
    uint64_t len, off;
    bool bad;  /* ran past the end of the current section */
} reader;

static bool need(reader *r, uint64_t n) {
    if (r->bad || n > r->len - r->off) {
        r->bad = true;
        return false;
    }
    return true;
}

static uint32_t get_u32(reader *r) {
    if (!need(r, 4)) return 0;
    const uint8_t *b = r->p + r->off;
    r->off += 4;
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static uint64_t get_u64(reader *r) {
    uint64_t lo = get_u32(r);
    return lo | (uint64_t)get_u32(r) << 32;
}

static float get_f32(reader *r) {
    uint32_t u = get_u32(r);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* A length-prefixed string as a pointer into the buffer (not NUL-terminated). */
static const char *get_str(reader *r, uint32_t *n) {
    *n = get_u32(r);
    if (*n > MAX_NAME || !need(r, *n)) {
        r->bad = true;
        return NULL;
    }
    const char *s = (const char *)r->p + r->off;
    r->off += *n;
    return s;
}

/* Position of `count` floats in the buffer (copied later, after validation). */
static const uint8_t *get_f32s(reader *r, uint64_t count) {
    if (count > (r->len - r->off) / 4) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *p = r->p + r->off;
    r->off += 4 * count;
    return p;
}

/* count little-endian floats of the file into dst (be's memory), STAGE at a time through the host. */
static void copy_f32s(const ug_backend *be, float *dst, const uint8_t *src, uint64_t count) {
    float buf[STAGE];
    for (uint64_t i0 = 0; i0 < count; i0 += STAGE) {
        uint64_t m = count - i0 < STAGE ? count - i0 : STAGE;
        const uint8_t *c = src + 4 * i0;
        if (host_is_le()) memcpy(buf, c, (size_t)m * 4);
        else
            for (uint64_t i = 0; i < m; i++) {
                const uint8_t *b = c + 4 * i;
                uint32_t u = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
                memcpy(buf + i, &u, 4);
            }
        be->to_device(dst + i0, buf, (size_t)m * 4);
    }
}

static bool str_eq(const char *s, uint32_t n, const char *z) {
    return s && strlen(z) == n && memcmp(s, z, n) == 0;
}

/* What load found in the file, before it touches the model. */
typedef struct found_group {
    const char *name;
    uint32_t name_len;
    uint64_t count;
    const uint8_t *values;
    int model_g;       /* matching group in P */
} found_group;

typedef struct found_optim {
    const char *group;
    uint32_t group_len;
    uint32_t algorithm;
    int64_t step;
    float last_lr, last_grad_norm;
    uint64_t count;
    const uint8_t *m, *v;
} found_optim;

typedef struct found_blob {
    const char *name;
    uint32_t name_len;
    uint64_t size;
    const uint8_t *data;
} found_blob;

/* What a file type is, for "checkpoint X: not a regular file (a FIFO)". */
static const char *file_kind(mode_t m) {
    if (S_ISDIR(m)) return "a directory";
    if (S_ISFIFO(m)) return "a FIFO";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    if (S_ISSOCK(m)) return "a socket";
    return "not a plain file";
}

/* Why `path` cannot be opened, naming a dangling symbolic link as such. */
static ug_status open_error(const char *path, int e, ug_error *err) {
    struct stat lsb;
    char target[512];
    ssize_t n;
    if (e == ENOENT && lstat(path, &lsb) == 0 && S_ISLNK(lsb.st_mode) &&
        (n = readlink(path, target, sizeof target - 1)) >= 0) {
        target[n] = 0;
        return ug_error_set(err, UG_ERR_IO, "checkpoint %s: a symbolic link to '%s', which does not exist", path,
                            target);
    }
    return ug_error_set(err, UG_ERR_IO, "checkpoint %s: cannot open: %s", path, strerror(e));
}

/* The whole file, after checking what it is: the open does not wait (O_NONBLOCK, so a FIFO with no
 * writer cannot hang `resume` or `sample`), the opened file must be a regular one (fstat: not a FIFO,
 * a directory or /dev/zero, which was read until memory ran out) and at most max_len bytes; then
 * exactly its size is read in one buffer. */
static char *read_file(const char *path, uint64_t max_len, uint64_t *len, ug_error *err) {
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        open_error(path, errno, err);
        return NULL;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        ug_error_set(err, UG_ERR_IO, "checkpoint %s: cannot stat: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    if (!S_ISREG(sb.st_mode)) {
        ug_error_set(err, UG_ERR_IO, "checkpoint %s: not a regular file (%s)", path, file_kind(sb.st_mode));
        close(fd);
        return NULL;
    }
    uint64_t size = sb.st_size > 0 ? (uint64_t)sb.st_size : 0;
    if (size > max_len || size > (uint64_t)PTRDIFF_MAX) {
        ug_error_set(err, UG_ERR_IO, "checkpoint %s: %llu bytes, more than a checkpoint of this model can hold "
                     "(at most %llu); not this run's checkpoint", path, (unsigned long long)size,
                     (unsigned long long)max_len);
        close(fd);
        return NULL;
    }
    char *buf = malloc(size ? (size_t)size : 1);
    if (!buf) {
        ug_error_set(err, UG_ERR_NOMEM, "checkpoint %s: out of memory for its %llu bytes", path,
                     (unsigned long long)size);
        close(fd);
        return NULL;
    }
    uint64_t n = 0;
    while (n < size) {
        ssize_t got = read(fd, buf + n, (size_t)(size - n));
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) {
            if (got < 0)
                ug_error_set(err, UG_ERR_IO, "checkpoint %s: read error: %s", path, strerror(errno));
            else
                ug_error_set(err, UG_ERR_IO, "checkpoint %s: shrank from %llu to %llu bytes while being read", path,
                             (unsigned long long)size, (unsigned long long)n);
            free(buf);
            close(fd);
            return NULL;
        }
        n += (uint64_t)got;
    }
    close(fd);
    *len = n;
    return buf;
}

/* The most bytes a checkpoint of P with these optimizers and blobs can have: its groups and optimizer
 * state exactly, blobs of a known size exactly, and for blobs of unknown size (plugin state) and the
 * sections a later minor may add, as much again plus 1 GiB. A bigger file is refused unread. */
static uint64_t max_checkpoint_bytes(const ug_params *P, ug_optim *const *optims, int n_optims,
                                     const ug_ckpt_blob *blobs, int n_blobs) {
    uint64_t n = HEADER_BYTES + SECTION_HEAD + 32;
    for (int g = 0; g < ug_params_group_count(P); g++) n += SECTION_HEAD + group_payload(P, g);
    for (int i = 0; i < n_optims; i++) n += SECTION_HEAD + 256 + 8 * (uint64_t)optims[i]->count;
    for (int i = 0; i < n_blobs; i++)
        n += SECTION_HEAD + str_bytes(blobs[i].name ? blobs[i].name : "") + 8 + (blobs[i].data ? blobs[i].size : 0);
    return 2 * n + ((uint64_t)1 << 30);
}

/* Magic, version, and the END section's hash over everything before it. */
static ug_status verify_envelope(const char *path, const uint8_t *buf, uint64_t len,
                                 uint64_t *end_off, ug_error *err) {
    if (len < 8 && memcmp(buf, MAGIC, (size_t)len) == 0)
        return ug_error_set(err, UG_ERR_IO, "checkpoint %s: truncated (%llu bytes)", path,
                            (unsigned long long)len);
    if (len < 8 || memcmp(buf, MAGIC, 8) != 0)
        return ug_error_set(err, UG_ERR_IO, "checkpoint %s: not a unigfn checkpoint (bad magic)", path);
    if (len < HEADER_BYTES)
        return ug_error_set(err, UG_ERR_IO, "checkpoint %s: truncated inside the header", path);
    reader r = {buf, len, 8, false};
    uint32_t version = get_u32(&r);
    if (version > UG_CKPT_VERSION)
        return ug_error_set(err, UG_ERR_IO,
                            "checkpoint %s: format version %u is newer than this build reads (%u); "
                            "use a newer unigfn",
                            path, version, UG_CKPT_VERSION);
    if (version == 0)
        return ug_error_set(err, UG_ERR_IO, "checkpoint %s: format version 0 is invalid", path);
    uint64_t off = HEADER_BYTES;
    for (;;) {
        if (len - off < SECTION_HEAD)
            return ug_error_set(err, UG_ERR_IO,
                                "checkpoint %s: truncated (%llu bytes, no end marker); the write "
                                "was probably interrupted",
                                path, (unsigned long long)len);
        reader h = {buf, len, off, false};
        uint32_t tag = get_u32(&h);
        uint64_t slen = get_u64(&h);
        if (slen > len - off - SECTION_HEAD)
            return ug_error_set(err, UG_ERR_IO,
                                "checkpoint %s: truncated (a section at byte %llu runs past the end "
                                "of the %llu-byte file)",
                                path, (unsigned long long)off, (unsigned long long)len);
        if (tag == TAG_END) {
            if (slen != 32)
                return ug_error_set(err, UG_ERR_IO, "checkpoint %s: malformed end marker", path);
            uint8_t digest[32];
            ug_sha256(buf, (size_t)off, digest);
            if (memcmp(digest, buf + off + SECTION_HEAD, 32) != 0)
                return ug_error_set(err, UG_ERR_IO,
                                    "checkpoint %s: checksum mismatch (the file is damaged)", path);
            if (off + SECTION_HEAD + 32 != len)
                return ug_error_set(err, UG_ERR_IO, "checkpoint %s: %llu stray bytes after the end marker",
                                    path, (unsigned long long)(len - off - SECTION_HEAD - 32));
            *end_off = off;
            return UG_OK;
        }
        off += SECTION_HEAD + slen;
    }
}

/* The parameter list of a GRUP section must match group g of P exactly. */
static ug_status check_layout(const char *path, reader *s, const ug_params *P, int g,
                              const char *gname, ug_error *err) {
    uint32_t np = get_u32(s);
    int mp = ug_params_group_size(P, g);
    if (!s->bad && (int64_t)np != mp)
        return ug_error_set(err, UG_ERR_ARG,
                            "checkpoint %s: group '%s' has %u parameters in the file but %d in the model",
                            path, gname, np, mp);
    for (uint32_t i = 0; i < np && !s->bad; i++) {
        uint32_t nl;
        const char *pn = get_str(s, &nl);
        uint32_t nd = get_u32(s);
        int64_t shape[UG_MAX_DIMS] = {0};
        if (nd > UG_MAX_DIMS) {
            s->bad = true;
            break;
        }
        for (uint32_t d = 0; d < nd; d++) shape[d] = (int64_t)get_u64(s);
        if (s->bad) break;
        const ug_tensor *t = ug_params_get(P, g, (int)i);
        bool same = str_eq(pn, nl, t->name) && (int)nd == t->ndim;
        for (uint32_t d = 0; same && d < nd; d++) same = shape[d] == t->shape[d];
        if (!same) {
            char fshape[96], mshape[96], shown[160];
            int k = snprintf(fshape, sizeof fshape, "[");
            for (uint32_t d = 0; d < nd; d++)
                k += snprintf(fshape + k, sizeof fshape - (size_t)k, d ? ", %lld" : "%lld",
                              (long long)shape[d]);
            snprintf(fshape + k, sizeof fshape - (size_t)k, "]");
            k = snprintf(mshape, sizeof mshape, "[");
            for (int d = 0; d < t->ndim; d++)
                k += snprintf(mshape + k, sizeof mshape - (size_t)k, d ? ", %lld" : "%lld",
                              (long long)t->shape[d]);
            snprintf(mshape + k, sizeof mshape - (size_t)k, "]");
            return ug_error_set(err, UG_ERR_ARG,
                                "checkpoint %s: parameter %u of group '%s' is '%s' %s in the file "
                                "but '%s' %s in the model",
                                path, i, gname, ug_shown(pn ? pn : "", pn ? nl : 0, shown, sizeof shown), fshape,
                                t->name, mshape);
        }
    }
    return UG_OK;
}

ug_status ug_checkpoint_load(const char *path, ug_params *P, ug_optim *const *optims, int n_optims,
                             ug_ckpt_blob *blobs, int n_blobs, ug_error *err) {
    if (!path || !P || n_optims < 0 || n_blobs < 0 || (n_optims && !optims) || (n_blobs && !blobs))
        return ug_error_set(err, UG_ERR_ARG, "ug_checkpoint_load: bad arguments (path %s)",
                            path ? path : "NULL");
    if (!ug_params_finalized(P))
        return ug_error_set(err, UG_ERR_ARG,
                            "checkpoint %s: parameters were declared after the last finalize", path);
    for (int i = 0; i < n_optims; i++)
        if (!optims[i] || optims[i]->P != P)
            return ug_error_set(err, UG_ERR_ARG,
                                "checkpoint %s: optimizer %d does not belong to these parameters",
                                path, i);
    uint64_t len = 0, end_off = 0;
    uint8_t *buf = (uint8_t *)read_file(path, max_checkpoint_bytes(P, optims, n_optims, blobs, n_blobs), &len, err);
    if (!buf) return err ? err->code : UG_ERR_IO;
    ug_status st = verify_envelope(path, buf, len, &end_off, err);
    const int NG = ug_params_group_count(P);
    found_group fg[UG_MAX_GROUPS];
    int nfg = 0;
    found_optim *fo = NULL;
    found_blob *fb = NULL;
    int nfo = 0, nfb = 0, cap_o = 0, cap_b = 0;
    bool group_seen[UG_MAX_GROUPS] = {false};

    /* Pass 1: parse and validate every section against the model; copy nothing. */
    for (uint64_t off = HEADER_BYTES; st == UG_OK && off < end_off;) {
        reader h = {buf, end_off, off, false};
        uint32_t tag = get_u32(&h);
        uint64_t slen = get_u64(&h);
        reader s = {buf, h.off + slen, h.off, false};  // the section, and nothing beyond it
        off = h.off + slen;
        do {  // `break` leaves the section; the checks below then report it
            if (tag == TAG_GRUP) {
                found_group g = {0};
                g.name = get_str(&s, &g.name_len);
                g.count = get_u64(&s);
                if (s.bad) break;
                int mg = -1;
                for (int k = 0; k < NG; k++) {
                    const char *n;
                    ug_params_group_info(P, k, &n, NULL, NULL, NULL);
                    if (str_eq(g.name, g.name_len, n)) mg = k;
                }
                if (mg < 0) {
                    char shown[160];  /* the file's bytes, escaped */
                    st = ug_error_set(err, UG_ERR_ARG,
                                      "checkpoint %s: group '%s' is in the file but not in the model",
                                      path, ug_shown(g.name, g.name_len, shown, sizeof shown));
                    break;
                }
                if (group_seen[mg]) {
                    s.bad = true;
                    break;
                }
                const char *gname;
                int64_t count;
                ug_params_group_info(P, mg, &gname, NULL, NULL, &count);
                /* The layout first: a parameter of another shape is named with both shapes, which says
                 * more than the group's float count it also changes. */
                st = check_layout(path, &s, P, mg, gname, err);
                if (st != UG_OK || s.bad) break;
                if (g.count != (uint64_t)count) {
                    st = ug_error_set(err, UG_ERR_ARG,
                                      "checkpoint %s: group '%s' has %llu floats in the file but %lld in "
                                      "the model",
                                      path, gname, (unsigned long long)g.count, (long long)count);
                    break;
                }
                g.values = get_f32s(&s, g.count);
                if (s.bad) break;
                g.model_g = mg;
                group_seen[mg] = true;
                fg[nfg++] = g;
            } else if (tag == TAG_OPTM) {
                if (nfo == cap_o) {
                    cap_o = cap_o ? 2 * cap_o : 8;
                    found_optim *n = realloc(fo, (size_t)cap_o * sizeof *n);
                    if (!n) {
                        st = ug_error_set(err, UG_ERR_NOMEM, "checkpoint %s: out of memory", path);
                        break;
                    }
                    fo = n;
                }
                found_optim o = {0};
                o.group = get_str(&s, &o.group_len);
                o.algorithm = get_u32(&s);
                (void)get_u32(&s);  // schedule: informational
                o.step = (int64_t)get_u64(&s);
                o.last_lr = get_f32(&s);
                o.last_grad_norm = get_f32(&s);
                for (int k = 0; k < 9; k++) (void)get_f32(&s);  // saved config: informational
                (void)get_u64(&s);
                (void)get_u64(&s);
                o.count = get_u64(&s);
                uint32_t has = get_u32(&s);
                if (has & 1) o.m = get_f32s(&s, o.count);
                if (has & 2) o.v = get_f32s(&s, o.count);
                if (s.bad) break;
                fo[nfo++] = o;
            } else if (tag == TAG_BLOB) {
                if (nfb == cap_b) {
                    cap_b = cap_b ? 2 * cap_b : 8;
                    found_blob *n = realloc(fb, (size_t)cap_b * sizeof *n);
                    if (!n) {
                        st = ug_error_set(err, UG_ERR_NOMEM, "checkpoint %s: out of memory", path);
                        break;
                    }
                    fb = n;
                }
                found_blob b = {0};
                b.name = get_str(&s, &b.name_len);
                b.size = get_u64(&s);
                if (!need(&s, b.size)) break;
                b.data = buf + s.off;
                fb[nfb++] = b;
            }
            /* Unknown tags: a later minor addition; skipped. */
        } while (0);
        if (st == UG_OK && s.bad) {
            st = ug_error_set(err, UG_ERR_IO, "checkpoint %s: malformed section at byte %llu", path,
                              (unsigned long long)(h.off - SECTION_HEAD));
            break;
        }
    }
    if (st == UG_OK)
        for (int k = 0; k < NG; k++)
            if (!group_seen[k]) {
                const char *n;
                ug_params_group_info(P, k, &n, NULL, NULL, NULL);
                st = ug_error_set(err, UG_ERR_ARG,
                                  "checkpoint %s: model group '%s' is not in the file", path, n);
                break;
            }
    int match_o[UG_MAX_GROUPS];
    for (int i = 0; st == UG_OK && i < n_optims && i < UG_MAX_GROUPS; i++) {
        const ug_optim *o = optims[i];
        const char *gname;
        ug_params_group_info(P, o->group, &gname, NULL, NULL, NULL);
        match_o[i] = -1;
        for (int k = 0; k < nfo; k++)
            if (str_eq(fo[k].group, fo[k].group_len, gname)) match_o[i] = k;
        if (match_o[i] < 0) {
            st = ug_error_set(err, UG_ERR_ARG, "checkpoint %s: no optimizer state for group '%s'",
                              path, gname);
            break;
        }
        const found_optim *f = &fo[match_o[i]];
        if (f->algorithm != (uint32_t)o->cfg.algorithm)
            st = ug_error_set(err, UG_ERR_ARG,
                              "checkpoint %s: optimizer of group '%s' is %s in the file but %s now",
                              path, gname, ug_optim_algo_name((ug_optim_algo)f->algorithm),
                              ug_optim_algo_name(o->cfg.algorithm));
        else if (f->count != (uint64_t)o->count)
            st = ug_error_set(err, UG_ERR_ARG,
                              "checkpoint %s: optimizer of group '%s' holds %llu floats in the file "
                              "but %lld now",
                              path, gname, (unsigned long long)f->count, (long long)o->count);
    }
    if (st == UG_OK && n_optims > UG_MAX_GROUPS)
        st = ug_error_set(err, UG_ERR_ARG, "checkpoint %s: %d optimizers (at most %d)", path,
                          n_optims, UG_MAX_GROUPS);
    int *match_b = n_blobs ? malloc((size_t)n_blobs * sizeof *match_b) : NULL;
    if (st == UG_OK && n_blobs && !match_b)
        st = ug_error_set(err, UG_ERR_NOMEM, "checkpoint %s: out of memory", path);
    for (int i = 0; st == UG_OK && i < n_blobs; i++) {
        match_b[i] = -1;
        for (int k = 0; blobs[i].name && k < nfb; k++)
            if (str_eq(fb[k].name, fb[k].name_len, blobs[i].name)) match_b[i] = k;
        if (match_b[i] < 0) {
            if (!blobs[i].optional)
                st = ug_error_set(err, UG_ERR_ARG, "checkpoint %s: blob '%s' is not in the file",
                                  path, blobs[i].name ? blobs[i].name : "(null)");
        } else if (blobs[i].data && fb[match_b[i]].size != blobs[i].size) {
            st = ug_error_set(err, UG_ERR_ARG,
                              "checkpoint %s: blob '%s' has %llu bytes in the file, %zu expected",
                              path, blobs[i].name, (unsigned long long)fb[match_b[i]].size,
                              blobs[i].size);
        }
    }
    /* Blob buffers the load must allocate: all or nothing. */
    void **alloc = n_blobs ? calloc((size_t)n_blobs, sizeof *alloc) : NULL;
    if (st == UG_OK && n_blobs && !alloc)
        st = ug_error_set(err, UG_ERR_NOMEM, "checkpoint %s: out of memory", path);
    for (int i = 0; st == UG_OK && i < n_blobs; i++)
        if (match_b[i] >= 0 && !blobs[i].data) {
            alloc[i] = malloc(fb[match_b[i]].size ? (size_t)fb[match_b[i]].size : 1);
            if (!alloc[i])
                st = ug_error_set(err, UG_ERR_NOMEM, "checkpoint %s: out of memory for blob '%s'",
                                  path, blobs[i].name);
        }

    /* Pass 2: everything checked; now restore. */
    if (st == UG_OK) {
        for (int k = 0; k < nfg; k++) {
            float *data;
            ug_params_group_info(P, fg[k].model_g, NULL, &data, NULL, NULL);
            if (fg[k].count) copy_f32s(ug__params_backend(P), data, fg[k].values, fg[k].count);
        }
        for (int i = 0; i < n_optims; i++) {
            ug_optim *o = optims[i];
            const found_optim *f = &fo[match_o[i]];
            o->step = f->step;
            o->last_lr = f->last_lr;
            o->last_grad_norm = f->last_grad_norm;
            /* A buffer the file lacks (e.g. momentum switched on since) restarts from zero. */
            const ug_backend *be = ug_backend_get(o->device);
            if (o->m) {
                if (f->m) copy_f32s(be, o->m, f->m, f->count);
                else be->zero(o->m, (size_t)o->count * sizeof(float));
            }
            if (o->v) {
                if (f->v) copy_f32s(be, o->v, f->v, f->count);
                else be->zero(o->v, (size_t)o->count * sizeof(float));
            }
        }
        for (int i = 0; i < n_blobs; i++) {
            blobs[i].found = match_b[i] >= 0;
            if (!blobs[i].found) continue;
            const found_blob *b = &fb[match_b[i]];
            if (!blobs[i].data) blobs[i].data = alloc[i];
            blobs[i].size = (size_t)b->size;
            memcpy(blobs[i].data, b->data, (size_t)b->size);
        }
    } else {
        for (int i = 0; alloc && i < n_blobs; i++) free(alloc[i]);
    }
    free(alloc);
    free(match_b);
    free(fo);
    free(fb);
    free(buf);
    return st;
}
