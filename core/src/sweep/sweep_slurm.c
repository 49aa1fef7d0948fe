/* sweep_slurm.c — a sweep as a Slurm job array: one array task per job (array index = job number), each
 * running `unigfn run` into its own database shard, so tasks on different nodes never share a SQLite
 * file over a network filesystem (where its locking is unreliable); `unigfn db merge` joins the shards. */
#include "unigfn/host/sweep.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int mkdir_p(const char *path) {
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0755) && errno != EEXIST) return -1;
        *p = '/';
    }
    return (mkdir(buf, 0755) && errno != EEXIST) ? -1 : 0;
}

void ug_sweep_shard_path(const char *dir, int64_t job, char *out, size_t cap) {
    snprintf(out, cap, "%s/shards/job-%lld.db", dir, (long long)job);
}

/* Single-quoted for sh: ' becomes '\''. */
static void put_quoted(FILE *f, const char *s) {
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'') fputs("'\\''", f);
        else fputc(*s, f);
    }
    fputc('\'', f);
}

static bool shell_plain(const char *s) {
    for (; *s; s++)
        if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\'' || *s == '"' || *s == '\\') return false;
    return true;
}

/* FINISHED in its own shard (from an earlier submission of the same sweep)? */
static bool shard_finished(const char *dir, const ug_sweep_job *jb) {
    char path[PATH_MAX];
    ug_sweep_shard_path(dir, jb->index, path, sizeof path);
    if (access(path, R_OK) != 0) return false;
    ug_store *st = NULL;
    ug_error e = {0};
    ug_run_status s = UG_RUN_ABSENT;
    if (ug_store_open_as(path, UG_STORE_READ, &st, &e) == UG_OK) ug_store_run_status(st, jb->id, &s, &e);
    ug_store_close(st);
    return s == UG_RUN_FINISHED;
}

ug_status ug_sweep_write_slurm(const ug_sweep_plan *plan, const ug_sweep_slurm *o, char *script, size_t cap,
                               int *n_tasks, int64_t **tasks_out, ug_error *err) {
    *n_tasks = 0;
    if (tasks_out) *tasks_out = NULL;
    char exe[PATH_MAX], spec[PATH_MAX], dir[PATH_MAX];
    if (!realpath(o->exe, exe)) return ug_error_set(err, UG_ERR_IO, "slurm: cannot resolve %s: %s", o->exe, strerror(errno));
    if (!realpath(o->spec_path, spec))
        return ug_error_set(err, UG_ERR_IO, "slurm: cannot resolve %s: %s", o->spec_path, strerror(errno));
    if (!shell_plain(o->dir))
        return ug_error_set(err, UG_ERR_ARG, "slurm: the sweep folder '%s' must not contain spaces or quotes "
                            "(#SBATCH --output cannot quote it)", o->dir);
    char sub[PATH_MAX + 16];
    snprintf(sub, sizeof sub, "%s/shards", o->dir);
    if (mkdir_p(sub)) return ug_error_set(err, UG_ERR_IO, "slurm: cannot create %s: %s", sub, strerror(errno));
    snprintf(sub, sizeof sub, "%s/logs", o->dir);
    if (mkdir_p(sub)) return ug_error_set(err, UG_ERR_IO, "slurm: cannot create %s: %s", sub, strerror(errno));
    if (!realpath(o->dir, dir)) return ug_error_set(err, UG_ERR_IO, "slurm: cannot resolve %s: %s", o->dir, strerror(errno));

    int64_t *tasks = malloc(((size_t)plan->n_jobs + 1) * sizeof *tasks);
    if (!tasks) return ug_error_set(err, UG_ERR_NOMEM, "slurm: out of memory");
    int n = 0;
    for (int64_t j = 0; j < plan->n_jobs; j++) {
        const ug_sweep_job *jb = &plan->jobs[j];
        /* a changed job runs again; its shard's FINISHED copy is the old one (the task's `unigfn run`
         * then finds its plugins changed too) */
        if (!jb->changed && (jb->status == UG_RUN_FINISHED || shard_finished(dir, jb))) continue;
        tasks[n++] = j;
    }
    *n_tasks = n;
    if (n == 0) {
        free(tasks);
        return UG_OK;
    }
    snprintf(script, cap, "%s/sweep.sbatch", dir);
    FILE *f = fopen(script, "w");
    if (!f) {
        free(tasks);
        return ug_error_set(err, UG_ERR_IO, "slurm: cannot write %s: %s", script, strerror(errno));
    }
    fprintf(f, "#!/bin/bash\n");
    fprintf(f, "# Written by `unigfn sweep --slurm` for %s: %d of its %lld jobs (array index = job number, as in\n"
               "# `unigfn sweep --dry-run`). Each task writes its own database shard; join them with\n"
               "#   unigfn db merge OUT.db %s/shards/job-*.db\n", spec, n, (long long)plan->n_jobs, dir);
    fprintf(f, "#SBATCH --job-name=unigfn-%s\n", plan->n_jobs ? plan->jobs[0].experiment : "sweep");
    fprintf(f, "#SBATCH --array=");
    for (int i = 0; i < n;) {
        int k = i;
        while (k + 1 < n && tasks[k + 1] == tasks[k] + 1) k++;
        if (k > i) fprintf(f, "%s%lld-%lld", i ? "," : "", (long long)tasks[i], (long long)tasks[k]);
        else fprintf(f, "%s%lld", i ? "," : "", (long long)tasks[i]);
        i = k + 1;
    }
    fprintf(f, "\n#SBATCH --output=%s/logs/job-%%a.out\n", dir);
    for (int i = 0; i < o->n_sbatch_opts; i++) fprintf(f, "#SBATCH %s\n", o->sbatch_opts[i]);
    fprintf(f, "set -u\ncase \"${SLURM_ARRAY_TASK_ID:-}\" in\n");
    for (int i = 0; i < n; i++) {
        const ug_sweep_job *jb = &plan->jobs[tasks[i]];
        fprintf(f, "  %lld) set --", (long long)jb->index);
        for (int k = 0; k < jb->n_overrides; k++) {
            fputc(' ', f);
            put_quoted(f, jb->overrides[k]);
        }
        fprintf(f, " ;;  # run %s\n", jb->id);
    }
    fprintf(f, "  *) echo \"sweep.sbatch: no job '${SLURM_ARRAY_TASK_ID:-}' in this sweep\" >&2; exit 2 ;;\nesac\n");
    fprintf(f, "exec ");
    put_quoted(f, exe);
    fprintf(f, " --db ");
    put_quoted(f, dir);
    fprintf(f, "\"/shards/job-${SLURM_ARRAY_TASK_ID}.db\" run ");
    put_quoted(f, spec);
    fprintf(f, " --plain \"$@\"\n");
    bool bad = ferror(f) != 0;
    if (fclose(f) || bad) {
        free(tasks);
        return ug_error_set(err, UG_ERR_IO, "slurm: cannot write %s", script);
    }
    chmod(script, 0755);
    if (tasks_out) *tasks_out = tasks;
    else free(tasks);
    return UG_OK;
}

ug_status ug_sweep_slurm_submit(const char *script, bool wait, char *job_id, size_t cap, ug_error *err) {
    job_id[0] = 0;
    int fds[2];
    if (pipe(fds)) return ug_error_set(err, UG_ERR_IO, "slurm: pipe: %s", strerror(errno));
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return ug_error_set(err, UG_ERR_INTERNAL, "slurm: fork: %s", strerror(errno));
    }
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        if (wait) execlp("sbatch", "sbatch", "--parsable", "--wait", script, (char *)NULL);
        else execlp("sbatch", "sbatch", "--parsable", script, (char *)NULL);
        /* In the forked child: straight to stderr, not through the parent's sink. */
        fprintf(stderr, "unigfn sweep: cannot run sbatch: %s (is Slurm's client installed and on PATH?)\n",
                strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    char out[512];
    size_t got = 0;
    ssize_t r;
    while ((r = read(fds[0], out + got, sizeof out - 1 - got)) > 0 || (r < 0 && errno == EINTR))
        if (r > 0) got += (size_t)r;
    out[got] = 0;
    close(fds[0]);
    int ws = 0;
    while (waitpid(pid, &ws, 0) < 0 && errno == EINTR) {}
    /* --parsable prints "jobid[;cluster]" first; with --wait the exit status is the array's worst task */
    char *semi = strpbrk(out, ";\n");
    if (semi) *semi = 0;
    if (!out[0]) {
        if (WIFEXITED(ws) && WEXITSTATUS(ws) == 127)
            return ug_error_set(err, UG_ERR_IO, "slurm: sbatch could not be run (is Slurm's client installed?)");
        return ug_error_set(err, UG_ERR_IO, "slurm: sbatch refused %s (exit %d; its message is above)", script,
                            WIFEXITED(ws) ? WEXITSTATUS(ws) : -1);
    }
    snprintf(job_id, cap, "%s", out);
    return UG_OK;
}
