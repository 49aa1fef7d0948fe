/* sweep_exec.c — running a sweep's jobs as local worker processes: each job is `unigfn run` exec'd in a
 * child of its own (one process per run keeps a crash, a leak or a signal inside one job), all writing
 * one results database, which the store's WAL mode and retried IMMEDIATE transactions make safe. */
#include "unigfn/host/sweep.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "unigfn/host/log.h"
#include "unigfn/host/runner.h"
#include "unigfn/host/util.h"

/* The last non-empty line of a log, for the one-line failure report. */
static void last_line(const char *path, char *out, size_t cap) {
    out[0] = 0;
    FILE *f = fopen(path, "r");
    if (!f) return;
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        size_t n = strlen(line);
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' ')) line[--n] = 0;
        if (n) snprintf(out, cap, "%s", line);
    }
    fclose(f);
}

typedef struct child {
    pid_t pid;
    int64_t job;
    double t0;
    char log[1100];
} child;

static pid_t launch(const ug_sweep_exec *o, const ug_sweep_job *jb, const char *log) {
    int n = 0;
    const char **argv = calloc((size_t)jb->n_overrides + 8, sizeof *argv);
    if (!argv) return -1;
    argv[n++] = o->exe;
    argv[n++] = "--db";
    argv[n++] = o->db_path;
    argv[n++] = "run";
    argv[n++] = o->spec_path;
    argv[n++] = "--plain";
    for (int i = 0; i < jb->n_overrides; i++) argv[n++] = jb->overrides[i];
    argv[n] = NULL;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        /* Own process group: a terminal's Ctrl-C reaches only the sweep, which passes it on once
         * (a second signal would kill a run before it records KILLED). */
        setpgid(0, 0);
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int in = open("/dev/null", O_RDONLY);
        if (in >= 0) dup2(in, 0);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        /* N workers each on all cores would oversubscribe the machine N times over: share the cores,
         * unless the user chose thread counts (the spec's `threads`, part of the run id, wins anyway) */
        if (o->workers > 1 && !getenv("OPENBLAS_NUM_THREADS") && !getenv("OMP_NUM_THREADS")) {
            long cpus = sysconf(_SC_NPROCESSORS_ONLN);
            char t[24];
            snprintf(t, sizeof t, "%ld", cpus / o->workers > 1 ? cpus / o->workers : 1);
            setenv("OPENBLAS_NUM_THREADS", t, 1);
            setenv("OMP_NUM_THREADS", t, 1);
        }
        execv(o->exe, (char *const *)argv);
        /* In the forked child: straight to stderr (the job's log), not through the parent's sink. */
        fprintf(stderr, "unigfn sweep: cannot exec %s: %s\n", o->exe, strerror(errno));
        _exit(127);
    }
    free(argv);
    return pid;
}

ug_status ug_sweep_run_local(const ug_sweep_plan *plan, const ug_sweep_exec *o, ug_sweep_result *res,
                             ug_error *err) {
    memset(res, 0, sizeof *res);
    int workers = o->workers > 0 ? o->workers : 1;
    int64_t *todo = malloc(((size_t)plan->n_jobs + 1) * sizeof *todo);
    child *kids = calloc((size_t)workers, sizeof *kids);
    if (!todo || !kids) {
        free(todo);
        free(kids);
        return ug_error_set(err, UG_ERR_NOMEM, "sweep: out of memory");
    }
    int64_t n_todo = 0;
    for (int64_t j = 0; j < plan->n_jobs; j++) {
        ug_run_status s = plan->jobs[j].status;
        if (s == UG_RUN_FINISHED && !plan->jobs[j].changed) res->skipped_finished++;
        else if (s == UG_RUN_RUNNING) res->skipped_running++;
        else todo[n_todo++] = j;
    }
    ug_store *st = NULL;
    if (n_todo && ug_store_open(o->db_path, &st, err)) {
        free(todo);
        free(kids);
        return err->code;
    }
    ug_signals_install();
    int64_t next = 0, done = 0;
    int running = 0;
    bool forwarded = false;
    ug_status status = UG_OK;
    while ((next < n_todo && !ug_signal_seen()) || running > 0) {
        while (running < workers && next < n_todo && !ug_signal_seen()) {
            const ug_sweep_job *jb = &plan->jobs[todo[next]];
            char folder[1024];
            ug_run_folder(o->db_path, jb->id, folder, sizeof folder);
            int slot = 0;
            while (kids[slot].pid) slot++;
            child *c = &kids[slot];
            snprintf(c->log, sizeof c->log, "%s/sweep.log", folder);
            if (ug_mkdir_p(folder)) {
                status = ug_error_set(err, UG_ERR_IO, "sweep: cannot create %s: %s", folder, strerror(errno));
                break;
            }
            c->pid = launch(o, jb, c->log);
            if (c->pid < 0) {
                c->pid = 0;
                status = ug_error_set(err, UG_ERR_INTERNAL, "sweep: fork failed: %s", strerror(errno));
                break;
            }
            c->job = todo[next++];
            c->t0 = ug_now_s();
            running++;
        }
        if (status) break;
        if (ug_signal_seen() && !forwarded) {
            forwarded = true;
            res->interrupted = true;
            for (int k = 0; k < workers; k++)
                if (kids[k].pid) kill(kids[k].pid, ug_signal_seen());
            if (!o->quiet)
                ug_out(UG_OUT_REPORT, "sweep: signal %d: waiting for %d running job%s to record KILLED; %lld not started\n",
                       ug_signal_seen(), running, running == 1 ? "" : "s", (long long)(n_todo - next));
        }
        int ws = 0;
        pid_t pid = waitpid(-1, &ws, WNOHANG);
        if (pid == 0 || (pid < 0 && errno == EINTR)) {
            /* polling keeps a signal from waiting behind a long job */
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, NULL);
            continue;
        }
        if (pid < 0) break; /* ECHILD: nothing left */
        int k = 0;
        while (k < workers && kids[k].pid != pid) k++;
        if (k == workers) continue;   /* not ours */
        child *c = &kids[k];
        const ug_sweep_job *jb = &plan->jobs[c->job];
        running--;
        done++;
        res->ran++;
        ug_run_status rs = UG_RUN_ABSENT;
        ug_error e = {0};
        if (ug_store_run_status(st, jb->id, &rs, &e)) rs = UG_RUN_ABSENT;
        bool ok = rs == UG_RUN_FINISHED && WIFEXITED(ws) && WEXITSTATUS(ws) == 0;
        if (ok) res->finished++;
        else res->failed++;
        if (!o->quiet) {
            char label[1024], how[64], tail[512] = "";
            ug_sweep_job_label(jb, label, sizeof label);
            if (WIFEXITED(ws)) snprintf(how, sizeof how, "exit %d", WEXITSTATUS(ws));
            else snprintf(how, sizeof how, "signal %d", WIFSIGNALED(ws) ? WTERMSIG(ws) : 0);
            ug_out(UG_OUT_REPORT, "[%*lld/%lld] job %-4lld %-8s %6.1f s  %s  %s\n", n_todo >= 100 ? 3 : 2,
                   (long long)done, (long long)n_todo, (long long)jb->index, ug_run_status_name(rs),
                   ug_now_s() - c->t0, jb->id, label);
            if (!ok) {
                last_line(c->log, tail, sizeof tail);
                ug_out(UG_OUT_REPORT, "         %s: %s\n         log: %s\n", how, tail[0] ? tail : "(empty log)",
                       c->log);
            }
        }
        c->pid = 0;
    }
    /* a failure to launch leaves children behind: wait for them so none outlives the sweep unseen */
    for (int k = 0; k < workers; k++)
        if (kids[k].pid) waitpid(kids[k].pid, NULL, 0);
    res->not_started = (int)(n_todo - next);
    ug_store_close(st);
    free(todo);
    free(kids);
    return status;
}
