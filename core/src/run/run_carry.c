/* run_carry.c — copying run folders beside a merged database (run_carry.h): the runs whose row came
 * from the shard are found by comparing the two databases' rows, and each folder is copied into a
 * temporary folder first and renamed into place, so a failed copy never leaves half a run folder. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* copy_file_range, nftw */
#endif
#include "unigfn/host/run_carry.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unigfn/host/run_lease.h"
#include "unigfn/host/run_lookup.h"
#include "unigfn/host/util.h"

/* ---- the runs whose row came from the shard ---- */

typedef struct row_key {
    char id[64];
    ug_run_status status;
    int64_t step;
    double created, heartbeat;
} row_key;

typedef struct row_list {
    row_key *r;
    int n, cap;
    bool oom;
} row_list;

static int collect(void *user, const ug_run_row *row) {
    row_list *l = user;
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        row_key *g = realloc(l->r, (size_t)cap * sizeof *g);
        if (!g) { l->oom = true; return 1; }
        l->r = g, l->cap = cap;
    }
    row_key *k = &l->r[l->n++];
    snprintf(k->id, sizeof k->id, "%s", row->id);
    k->status = row->status;
    k->step = row->step;
    k->created = row->created;
    k->heartbeat = row->heartbeat;
    return 0;
}

static int key_cmp(const void *a, const void *b) { return strcmp(((const row_key *)a)->id, ((const row_key *)b)->id); }

static ug_status list_rows(ug_store *st, row_list *l, ug_error *err) {
    ug_status s = ug_store_list_runs(st, NULL, NULL, collect, l, err);
    if (!s && l->oom) s = ug_error_set(err, UG_ERR_NOMEM, "db merge: out of memory");
    if (!s && l->n) qsort(l->r, (size_t)l->n, sizeof *l->r, key_cmp);
    return s;
}

/* ---- copying a folder ---- */

static ug_status copy_file(const char *src, const char *dst, mode_t mode, ug_error *err) {
    int in = open(src, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (in < 0) return ug_error_set(err, UG_ERR_IO, "db merge: cannot read %s: %s", src, strerror(errno));
    int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode & 0777);
    if (out < 0) {
        ug_status s = ug_error_set(err, UG_ERR_IO, "db merge: cannot create %s: %s", dst, strerror(errno));
        close(in);
        return s;
    }
    int e = 0;
    /* copy_file_range lets the file system share blocks (reflink) or copy in the kernel; where it
     * cannot (another file system, an old kernel), read and write */
    for (;;) {
        ssize_t n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
        if (n > 0) continue;
        if (n == 0) break;
        if (errno == EINTR) continue;
        if (errno != EXDEV && errno != ENOSYS && errno != EINVAL && errno != EOPNOTSUPP) { e = errno; break; }
        char buf[1 << 16];
        ssize_t got;
        while ((got = read(in, buf, sizeof buf)) != 0) {
            if (got < 0 && errno == EINTR) continue;
            if (got < 0) { e = errno; break; }
            for (ssize_t off = 0; off < got && !e;) {
                ssize_t w = write(out, buf + off, (size_t)(got - off));
                if (w < 0 && errno == EINTR) continue;
                if (w < 0) e = errno;
                else off += w;
            }
            if (e) break;
        }
        break;
    }
    if (close(out) != 0 && !e) e = errno;
    close(in);
    if (e) return ug_error_set(err, UG_ERR_IO, "db merge: copying %s to %s: %s", src, dst, strerror(e));
    return UG_OK;
}

/* src's files and folders into dst (made here), all but the lease's lock file, which belongs to the
 * folder it was taken in. Symbolic links and other special files are not run files: skipped. */
static ug_status copy_tree(const char *src, const char *dst, int depth, ug_error *err) {
    if (depth > 8) return ug_error_set(err, UG_ERR_IO, "db merge: %s: folders nested too deep", src);
    if (mkdir(dst, 0755) != 0) return ug_error_set(err, UG_ERR_IO, "db merge: cannot create %s: %s", dst, strerror(errno));
    DIR *d = opendir(src);
    if (!d) return ug_error_set(err, UG_ERR_IO, "db merge: cannot read %s: %s", src, strerror(errno));
    ug_status s = UG_OK;
    struct dirent *de;
    while (!s && (de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
        if (depth == 0 && strcmp(de->d_name, "lock") == 0) continue;
        char a[PATH_MAX], b[PATH_MAX];
        if (snprintf(a, sizeof a, "%s/%s", src, de->d_name) >= (int)sizeof a ||
            snprintf(b, sizeof b, "%s/%s", dst, de->d_name) >= (int)sizeof b) {
            s = ug_error_set(err, UG_ERR_IO, "db merge: a path under %s is too long", src);
            break;
        }
        struct stat sb;
        if (lstat(a, &sb) != 0) s = ug_error_set(err, UG_ERR_IO, "db merge: %s: %s", a, strerror(errno));
        else if (S_ISDIR(sb.st_mode)) s = copy_tree(a, b, depth + 1, err);
        else if (S_ISREG(sb.st_mode)) s = copy_file(a, b, sb.st_mode, err);
    }
    closedir(d);
    return s;
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static void rm_tree(const char *path) {
    struct stat sb;
    if (lstat(path, &sb) == 0) nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* One run's folder from beside the shard to beside out: 1 copied, 0 nothing to copy, -1 failed. */
static int carry_one(const char *out_path, const char *shard_path, const char *id, ug_error *err) {
    char src[1024], dst[1024], rs[PATH_MAX], rd[PATH_MAX];
    ug_run_folder(shard_path, id, src, sizeof src);
    ug_run_folder(out_path, id, dst, sizeof dst);
    struct stat sb;
    if (stat(src, &sb) != 0 || !S_ISDIR(sb.st_mode)) return 0;
    if (realpath(src, rs) && realpath(dst, rd) && strcmp(rs, rd) == 0) return 0;
    char who[512];
    if (stat(dst, &sb) == 0 && ug_run_lease_holder(dst, who, sizeof who) == 1) {
        ug_error_set(err, UG_ERR_IO, "db merge: run %s's folder %s was not replaced: %s holds its lease", id, dst, who);
        return -1;
    }
    char runs[1024], tmp[1100], old[1100];
    snprintf(runs, sizeof runs, "%s", dst);
    char *slash = strrchr(runs, '/');
    if (slash) *slash = 0;
    if (slash && ug_mkdir_p(runs)) {
        ug_error_set(err, UG_ERR_IO, "db merge: cannot create %s: %s", runs, strerror(errno));
        return -1;
    }
    snprintf(tmp, sizeof tmp, "%s.merging", dst);
    snprintf(old, sizeof old, "%s.replaced", dst);
    rm_tree(tmp);
    rm_tree(old);
    if (copy_tree(src, tmp, 0, err)) {
        rm_tree(tmp);
        return -1;
    }
    bool had = stat(dst, &sb) == 0;
    if ((had && rename(dst, old) != 0) || rename(tmp, dst) != 0) {
        ug_error_set(err, UG_ERR_IO, "db merge: cannot put %s in place: %s", dst, strerror(errno));
        if (had && stat(dst, &sb) != 0) rename(old, dst);  /* the old folder back rather than none */
        rm_tree(tmp);
        return -1;
    }
    if (had) rm_tree(old);
    return 1;
}

ug_status ug_run_carry_folders(ug_store *out, const char *out_path, const char *shard_path, int *n_copied,
                               ug_error *err) {
    *n_copied = 0;
    ug_store *sh = NULL;
    row_list a = {0}, b = {0};
    ug_status s = ug_store_open_as(shard_path, UG_STORE_READ, &sh, err);
    if (!s) s = list_rows(sh, &a, err);
    ug_store_close(sh);
    if (!s) s = list_rows(out, &b, err);
    ug_status first = UG_OK;
    for (int i = 0; !s && i < a.n; i++) {
        row_key *m = bsearch(&a.r[i], b.r, (size_t)b.n, sizeof *b.r, key_cmp);
        if (!m || m->status != a.r[i].status || m->step != a.r[i].step || m->created != a.r[i].created ||
            m->heartbeat != a.r[i].heartbeat)
            continue;  /* not the shard's copy: out kept its own */
        ug_error e = {0};
        int r = carry_one(out_path, shard_path, a.r[i].id, &e);
        if (r > 0) (*n_copied)++;
        /* one folder that cannot be copied does not stop the others; the first reason is reported */
        if (r < 0 && !first) first = ug_error_set(err, e.code, "%s", e.msg);
    }
    free(a.r);
    free(b.r);
    return s ? s : first;
}
