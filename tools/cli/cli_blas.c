/* cli_blas.c — measuring OpenBLAS kernel sets in child processes, for `unigfn doctor` and for
 * `--blas-core auto` (run, sweep).
 *
 * OpenBLAS reads OPENBLAS_CORETYPE once, when the library loads, so a kernel set can only be tried in a
 * fresh process: each probe is this binary re-executed as `unigfn doctor --probe` with the variable set
 * (or removed), which measures the sgemm rate, checks the results against the float64 reference and
 * prints one `probe ...` line (ug_blas_probe_format) that the parent parses. A child that crashes on
 * an instruction its kernels need (SIGILL) or hangs (an alarm ends it) is a row saying so, not a
 * failure of the doctor. A child's stderr goes to /dev/null (OpenBLAS's own messages would break the
 * table) unless UG_DOCTOR_CHILD_STDERR is set, for debugging a probe (e.g. a sanitizer's report). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "unigfn/plugin.h"

void cli_probe_run(cli_probe *c, double seconds, int threads) {
    memset(&c->p, 0, sizeof c->p);
    c->ran = false;
    snprintf(c->why, sizeof c->why, "did not run");
    char exe[4096], secs[32];
    cli_self_exe(exe, sizeof exe);
    snprintf(secs, sizeof secs, "%g", seconds);
    int fd[2];
    if (pipe(fd)) {
        snprintf(c->why, sizeof c->why, "pipe: %s", strerror(errno));
        return;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(c->why, sizeof c->why, "fork: %s", strerror(errno));
        close(fd[0]);
        close(fd[1]);
        return;
    }
    if (pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        close(fd[1]);
        if (!getenv("UG_DOCTOR_CHILD_STDERR")) { /* OpenBLAS's own messages would interleave the table */
            FILE *null = freopen("/dev/null", "w", stderr);
            (void)null;
        }
        if (c->coretype) setenv("OPENBLAS_CORETYPE", c->coretype, 1);
        else unsetenv("OPENBLAS_CORETYPE");
        unsetenv(UG_BLAS_CORE_ENV);
        if (threads > 0) {
            char t[16];
            snprintf(t, sizeof t, "%d", threads);
            setenv("OPENBLAS_NUM_THREADS", t, 1);
        }
        alarm((unsigned)(seconds * 4 + 60)); /* survives exec: a hung child ends */
        execl(exe, exe, "doctor", "--probe", "--seconds", secs, (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    char out[4096];
    size_t n = 0;
    for (;;) {
        ssize_t k = read(fd[0], out + n, sizeof out - 1 - n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        n += (size_t)k;
        if (n == sizeof out - 1) break;
    }
    out[n] = 0;
    close(fd[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    if (WIFSIGNALED(st)) {
        snprintf(c->why, sizeof c->why, "killed by signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
        return;
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        snprintf(c->why, sizeof c->why, "exit %d", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        return;
    }
    if (!ug_blas_probe_parse(out, &c->p)) {
        snprintf(c->why, sizeof c->why, "no probe line in its output");
        return;
    }
    c->ran = true;
    c->why[0] = 0;
}

bool cli_probe_usable(const cli_probe *c) {
    /* With the variable removed, OpenBLAS's own choice is whatever it took. */
    return c->ran && ug_blas_probe_usable(c->coretype ? c->coretype : c->p.core, &c->p);
}

int cli_probe_best(const cli_probe *c, int n) {
    const char *cores[UG_BLAS_MAX_CANDIDATES + 2];
    double rate[UG_BLAS_MAX_CANDIDATES + 2];
    bool ok[UG_BLAS_MAX_CANDIDATES + 2];
    if (n > UG_BLAS_MAX_CANDIDATES + 2) n = UG_BLAS_MAX_CANDIDATES + 2;
    for (int i = 0; i < n; i++) {
        cores[i] = c[i].coretype ? c[i].coretype : c[i].p.core;
        rate[i] = c[i].p.gflops;
        ok[i] = cli_probe_usable(&c[i]);
    }
    return ug_blas_pick(cores, rate, ok, n);
}

/* --blas-core auto: re-execute with the fastest verified core when the kernels in use are far below
 * the CPU. The re-executed process finds UG_BLAS_CORE_ENV set and goes on; its run rows record the
 * choice (ug_blas_describe: "OPENBLAS_CORETYPE=X blas-core=auto:Prescott->X"). */
void cli_blas_core_auto(const cli_env *env, const char *cmd, int argc, char **argv) {
    if (getenv(UG_BLAS_CORE_ENV)) return;
    ug_blas_info bi;
    ug_blas_info_get(&bi);
    ug_blas_advice adv;
    ug_blas_advise(bi.corename, &bi.cpu, &adv);
    if (!adv.warn) {
        setenv(UG_BLAS_CORE_ENV, "auto:kept", 1);
        return;
    }
    cli_probe cand[UG_BLAS_MAX_CANDIDATES];
    int n = 0;
    for (int i = 0; i < adv.n_candidates; i++) {
        cand[n] = (cli_probe){.coretype = adv.candidates[i]};
        cli_probe_run(&cand[n], 0.3, 0);
        n++;
    }
    int best = cli_probe_best(cand, n);
    if (best < 0) {
        ug_message(UG_LOG_WARN, "--blas-core auto: no candidate core gave checked results here; keeping %s",
                   bi.corename);
        setenv(UG_BLAS_CORE_ENV, "auto:none-verified", 1);
        return;
    }
    char how[96], exe[4096];
    snprintf(how, sizeof how, "auto:%s->%s", bi.corename[0] ? bi.corename : "?", cand[best].coretype);
    ug_message(UG_LOG_INFO, "--blas-core auto: %s runs its %s kernels on this %s CPU; %s measured %.1f GFLOP/s with "
               "checked results: restarting with OPENBLAS_CORETYPE=%s", bi.library, bi.corename,
               ug_isa_name(adv.cpu_level), cand[best].coretype, cand[best].p.gflops, cand[best].coretype);
    char *old = getenv("OPENBLAS_CORETYPE") ? strdup(getenv("OPENBLAS_CORETYPE")) : NULL;
    setenv("OPENBLAS_CORETYPE", cand[best].coretype, 1);
    setenv(UG_BLAS_CORE_ENV, how, 1);
    cli_self_exe(exe, sizeof exe);
    char **args = calloc((size_t)argc + 5, sizeof *args);
    int k = 0;
    if (!args) goto restore;
    args[k++] = exe;
    args[k++] = "--db";
    args[k++] = (char *)env->db_path;
    args[k++] = (char *)cmd;
    for (int i = 0; i < argc; i++) args[k++] = argv[i];
    args[k] = NULL;
    fflush(stdout);
    fflush(stderr);
    execv(exe, args);
    ug_message(UG_LOG_WARN, "--blas-core auto: cannot re-execute %s: %s", exe, strerror(errno));
    free(args);
restore: /* this process's OpenBLAS keeps the core it loaded with: say so in what it records */
    if (old) setenv("OPENBLAS_CORETYPE", old, 1);
    else unsetenv("OPENBLAS_CORETYPE");
    free(old);
    setenv(UG_BLAS_CORE_ENV, "auto:failed", 1);
}
