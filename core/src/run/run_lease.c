/* run_lease.c — a run's lease (an advisory lock on <run folder>/lock) and the identity its checkpoints
 * carry (run_lease.h).
 *
 * The lock is an open-file-description lock where the kernel has them (F_OFD_SETLK: closing some other
 * descriptor of the file in this process cannot drop it, unlike a classic POSIX lock) and a POSIX
 * record lock otherwise; both work on NFS, unlike flock on some systems, and both vanish with the
 * process. The holder unlinks the file before it lets go, so a taker that opened the old file checks,
 * once it has the lock, that the path still names the file it locked, and otherwise starts over:
 * without that, two processes could each hold a lock on a different file of the same name. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* F_OFD_SETLK, O_CLOEXEC */
#endif
#include "unigfn/host/run_lease.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "unigfn/host/sha256.h"
#include "unigfn/host/util.h"

#ifdef F_OFD_SETLK
#define LEASE_SETLK F_OFD_SETLK
#define LEASE_GETLK F_OFD_GETLK
#else
#define LEASE_SETLK F_SETLK
#define LEASE_GETLK F_GETLK
#endif

static struct flock whole_file(short type) {
    struct flock fl;
    memset(&fl, 0, sizeof fl);  /* l_pid must be 0 for OFD locks */
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    return fl;
}

/* "pid 123 on host h since 2026-01-02 03:04:05" from the lock file's text, or what is known. */
static void describe_holder(int fd, pid_t lock_pid, char *who, size_t cap) {
    char buf[512];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    buf[n > 0 ? n : 0] = 0;
    long long pid = 0;
    double since = 0;
    char host[256] = "";
    if (n > 0 && sscanf(buf, "pid %lld host %255s since %lf", &pid, host, &since) == 3 && pid > 0) {
        char when[64] = "?";
        time_t t = (time_t)since;
        struct tm tm;
        if (localtime_r(&t, &tm)) strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
        for (char *p = host; *p; p++)
            if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e) *p = '?';
        snprintf(who, cap, "pid %lld on host %s since %s", pid, host, when);
    } else if (lock_pid > 0) {
        snprintf(who, cap, "pid %lld", (long long)lock_pid);
    } else {
        snprintf(who, cap, "a process that has not yet written its name");
    }
}

ug_status ug_run_lease_take(ug_run_lease *l, const char *folder, const char *id, ug_error *err) {
    l->fd = -1;
    l->unlocked = false;
    snprintf(l->path, sizeof l->path, "%s/lock", folder);
    for (int attempt = 0; attempt < 16; attempt++) {
        int fd = open(l->path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0644);
        if (fd < 0 && errno == ENOENT && ug_mkdir_p(folder) == 0) continue;  /* a releaser removed the folder */
        if (fd < 0)
            return ug_error_set(err, UG_ERR_IO, "run %s: cannot open its lock file %s: %s", id, l->path,
                                strerror(errno));
        struct stat a, b;
        if (fstat(fd, &a) || !S_ISREG(a.st_mode)) {
            close(fd);
            return ug_error_set(err, UG_ERR_IO, "run %s: its lock file %s is not a regular file", id, l->path);
        }
        struct flock fl = whole_file(F_WRLCK);
        if (fcntl(fd, LEASE_SETLK, &fl) != 0) {
            int e = errno;
            if (e == EACCES || e == EAGAIN) {
                struct flock q = whole_file(F_WRLCK);
                pid_t lp = fcntl(fd, LEASE_GETLK, &q) == 0 && q.l_type != F_UNLCK ? q.l_pid : 0;
                char who[400];
                describe_holder(fd, lp, who, sizeof who);
                close(fd);
                return ug_error_set(err, UG_ERR_IO,
                                    "run %s is being run by another process (%s; lock %s): one process at a "
                                    "time may run it, `run --force` and `resume` included; stop that one first "
                                    "(on SIGTERM it records KILLED, and `unigfn resume %s` continues it)",
                                    id, who, l->path, id);
            }
            if (e != ENOLCK && e != EOPNOTSUPP && e != ENOSYS && e != EINVAL) {
                close(fd);
                return ug_error_set(err, UG_ERR_IO, "run %s: cannot lock %s: %s", id, l->path, strerror(e));
            }
            l->unlocked = true;  /* this file system has no locks: the lease is taken, but not enforced */
        }
        if (stat(l->path, &b) || a.st_ino != b.st_ino || a.st_dev != b.st_dev) {
            close(fd);  /* the holder we waited behind removed this file: lock the new one */
            continue;
        }
        char host[256], text[400];
        if (gethostname(host, sizeof host)) snprintf(host, sizeof host, "unknown");
        host[sizeof host - 1] = 0;
        for (char *p = host; *p; p++)
            if (*p == ' ' || *p == '\n') *p = '_';
        int n = snprintf(text, sizeof text, "pid %lld host %s since %.3f run %s\n", (long long)getpid(), host,
                         ug_wall_s(), id);
        if (ftruncate(fd, 0) != 0 || pwrite(fd, text, (size_t)n, 0) != n) {
            int e = errno;
            unlink(l->path);
            close(fd);
            return ug_error_set(err, UG_ERR_IO, "run %s: cannot write its lock file %s: %s", id, l->path,
                                strerror(e));
        }
        l->fd = fd;
        return UG_OK;
    }
    return ug_error_set(err, UG_ERR_IO, "run %s: its lock file %s keeps being replaced", id, l->path);
}

void ug_run_lease_release(ug_run_lease *l) {
    if (l->fd < 0) return;
    unlink(l->path);  /* while still locked: see the opening comment */
    close(l->fd);
    l->fd = -1;
}

int ug_run_lease_holder(const char *folder, char *who, size_t cap) {
    char path[1100];
    snprintf(path, sizeof path, "%s/lock", folder);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT) return 0;
        snprintf(who, cap, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    struct flock q = whole_file(F_WRLCK);
    int r;
    if (fcntl(fd, LEASE_GETLK, &q) != 0) {
        snprintf(who, cap, "cannot test the lock on %s: %s", path, strerror(errno));
        r = -1;
    } else if (q.l_type == F_UNLCK) {
        r = 0;
    } else {
        describe_holder(fd, q.l_pid, who, cap);
        r = 1;
    }
    close(fd);
    return r;
}

/* ---- identity ---- */

void ug_ckpt_identity_make(ug_ckpt_identity *ci, const char *id, const char *spec, double started) {
    memset(ci, 0, sizeof *ci);
    ci->version = 1;
    snprintf(ci->run_id, sizeof ci->run_id, "%s", id ? id : "");
    const char *s = spec ? spec : "";
    ug_sha256_hex(s, strlen(s), ci->spec_sha256);
    ci->started = started;
}

ug_ckpt_blob ug_ckpt_identity_blob(ug_ckpt_identity *ci) {
    return (ug_ckpt_blob){.name = UG_CKPT_IDENTITY, .data = ci, .size = sizeof *ci, .optional = true};
}

static void fmt_time(double t, char *buf, size_t cap) {
    time_t s = (time_t)t;
    struct tm tm;
    if (!(t > 0) || !localtime_r(&s, &tm) || !strftime(buf, cap, "%Y-%m-%d %H:%M:%S", &tm))
        snprintf(buf, cap, "never");
}

ug_status ug_ckpt_identity_check(const ug_ckpt_identity *ci, bool found, const char *path, int64_t step,
                                 int64_t steps, const ug_run_record *rec, bool *legacy, ug_error *err) {
    if (legacy) *legacy = !found;
    if (step < 0 || step > steps)
        return ug_error_set(err, UG_ERR_IO, "checkpoint %s is at step %lld, outside this run's [0, %lld] "
                            "(train.steps): it is not a checkpoint of run %s", path, (long long)step,
                            (long long)steps, rec->id);
    if (!found) return UG_OK;
    ug_ckpt_identity mine;
    ug_ckpt_identity_make(&mine, rec->id, rec->spec, rec->started);
    char a[32], b[32];
    if (ci->version != 1 || memchr(ci->run_id, 0, sizeof ci->run_id) == NULL ||
        memchr(ci->spec_sha256, 0, sizeof ci->spec_sha256) == NULL)
        return ug_error_set(err, UG_ERR_IO, "checkpoint %s: its run identity is damaged or of a newer version (%u)",
                            path, ci->version);
    if (strcmp(ci->run_id, rec->id) != 0) {
        char shown[64];
        size_t k = 0;
        for (const char *p = ci->run_id; *p && k + 1 < sizeof shown; p++)
            shown[k++] = (*p >= 0x21 && *p <= 0x7e) ? *p : '?';
        shown[k] = 0;
        return ug_error_set(err, UG_ERR_IO, "checkpoint %s belongs to run %s, not to run %s", path, shown, rec->id);
    }
    if (strcmp(ci->spec_sha256, mine.spec_sha256) != 0)
        return ug_error_set(err, UG_ERR_IO, "checkpoint %s was written for another spec of run %s (spec sha256 "
                            "%.12s..., the database's is %.12s...)", path, rec->id, ci->spec_sha256, mine.spec_sha256);
    if (!(fabs(ci->started - rec->started) < 1e-3)) {
        fmt_time(ci->started, a, sizeof a);
        fmt_time(rec->started, b, sizeof b);
        return ug_error_set(err, UG_ERR_IO, "checkpoint %s is of run %s as started %s, but the database's run %s "
                            "started %s: it comes from another database or an earlier start of the run", path,
                            rec->id, a, rec->id, b);
    }
    if (step > rec->step)
        return ug_error_set(err, UG_ERR_IO, "checkpoint %s is at step %lld, past step %lld that the database "
                            "records for run %s (a run records its step before each checkpoint): the database "
                            "is older than the checkpoint", path, (long long)step, (long long)rec->step, rec->id);
    return UG_OK;
}
