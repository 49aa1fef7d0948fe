/* cmd_doctor.c — `unigfn doctor`: is the BLAS fast on this machine, and if not, what to set.
 *
 * Prints the BLAS (library, version, the kernel set OpenBLAS chose), the CPU's vector ISA, a table of
 * sgemm rates on the project's GEMM shapes at the current thread count — the configuration as it is,
 * then OpenBLAS's own choice when OPENBLAS_CORETYPE is set, then each candidate core this CPU supports —
 * each row measured in a child process (cli_blas.c) with its results checked against a float64
 * reference, then the thread/OpenMP sanity checks, and a verdict with the exact lines to put in one's
 * environment. Exit 0 when all is well, 1 with the advice otherwise.
 *
 * `unigfn doctor --probe` is the child's side: one machine-readable `probe ...` line. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT, dl_iterate_phdr, getloadavg */
#endif
#include <getopt.h>
#include <link.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli.h"
#include "unigfn/tensor.h"

static const char DOCTOR_USAGE[] =
    "usage: unigfn doctor [--seconds S] [--threads N]\n"
    "  the BLAS under unigfn and its speed here: library, version and the kernel set OpenBLAS chose; the\n"
    "  sgemm rate on the project's GEMM shapes as things are and with each OPENBLAS_CORETYPE this CPU\n"
    "  supports (each in a child process, results checked against a float64 reference GEMM); thread and\n"
    "  OpenMP sanity; a verdict with the exact lines to put in your environment\n"
    "  --seconds S   measuring time per row (default 1)\n"
    "  --threads N   measure on N threads (default: OpenBLAS's own count, OPENBLAS_NUM_THREADS or all cores)\n"
    "  --probe       (internal) measure this process's BLAS and print one `probe ...` line\n"
    "  exit 0 when all is well, 1 with the advice otherwise\n"
    "examples:\n"
    "  unigfn doctor --seconds 0.2 --threads 1\n";

#define MAX_ROWS (UG_BLAS_MAX_CANDIDATES + 2)
#define MAX_ADVICE 4

typedef struct doctor {
    ug_blas_info bi;
    ug_blas_advice adv;
    int threads;                      /* what the rows run on */
    int allowed;                      /* CPUs this process may run on */
    char advice[MAX_ADVICE][128];     /* `export ...` lines */
    int n_advice;
    int problems;
} doctor;

static void add_advice(doctor *d, const char *line) {
    for (int i = 0; i < d->n_advice; i++)
        if (strcmp(d->advice[i], line) == 0) return;
    if (d->n_advice < MAX_ADVICE) snprintf(d->advice[d->n_advice++], sizeof d->advice[0], "%.127s", line);
}

static int probe_main(double seconds) {
    ug_blas_info bi;
    ug_blas_info_get(&bi);
    ug_sgemm_rate r;
    if (ug_blas_sgemm_rate(seconds, true, &r)) {
        fprintf(stderr, "unigfn doctor --probe: out of memory\n");
        return 1;
    }
    ug_blas_probe p = {.gflops = r.gflops, .max_err = r.max_err, .threads = bi.threads};
    snprintf(p.core, sizeof p.core, "%s", bi.corename[0] ? bi.corename : "unknown");
    char line[256];
    ug_blas_probe_format(&p, line, sizeof line);
    printf("%s\n", line);
    return 0;
}

/* ---- what is loaded beside OpenBLAS (an OpenMP runtime, a second BLAS) ---- */
typedef struct libs {
    char omp[128];  /* the first OpenMP runtime found */
    int n_blas;     /* shared objects that look like a BLAS */
    char blas[256];
} libs;

static int scan_lib(struct dl_phdr_info *info, size_t size, void *user) {
    (void)size;
    libs *l = user;
    const char *name = info->dlpi_name;
    if (!name || !*name) return 0;
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    if (!l->omp[0] && (strncmp(base, "libgomp", 7) == 0 || strncmp(base, "libomp", 6) == 0 ||
                       strncmp(base, "libiomp", 7) == 0))
        snprintf(l->omp, sizeof l->omp, "%s", base);
    if (strstr(base, "openblas") || strncmp(base, "libblas", 7) == 0 || strncmp(base, "libmkl_rt", 9) == 0 ||
        strncmp(base, "libblis", 7) == 0) {
        size_t n = strlen(l->blas);
        snprintf(l->blas + n, sizeof l->blas - n, "%s%s", n ? ", " : "", base);
        l->n_blas++;
    }
    return 0;
}

static void say(const char *tag, const char *text) { printf("  %-8s %s\n", tag, text); }

static void threads_section(doctor *d) {
    char t[512];
    printf("threads and OpenMP:\n");
    const char *onb = getenv("OPENBLAS_NUM_THREADS"), *omp_n = getenv("OMP_NUM_THREADS");
    if (d->bi.threads > d->allowed) {
        snprintf(t, sizeof t, "OpenBLAS runs %d threads but this process may use %d CPU%s (taskset, cgroup): "
                 "its threads take turns on the cores", d->bi.threads, d->allowed, d->allowed == 1 ? "" : "s");
        say("problem", t);
        snprintf(t, sizeof t, "export OPENBLAS_NUM_THREADS=%d", d->allowed);
        add_advice(d, t);
        d->problems++;
    } else {
        snprintf(t, sizeof t, "OpenBLAS runs %d thread%s on %d CPU%s allowed (OPENBLAS_NUM_THREADS %s, "
                 "OMP_NUM_THREADS %s)", d->bi.threads, d->bi.threads == 1 ? "" : "s", d->allowed,
                 d->allowed == 1 ? "" : "s", onb ? onb : "unset", omp_n ? omp_n : "unset");
        say("ok", t);
    }
    libs l = {0};
    dl_iterate_phdr(scan_lib, &l);
    const char *why = d->bi.openmp ? "unigfn was built with -Dopenmp=enabled"
                      : d->bi.parallel == 2 ? "this OpenBLAS is the OpenMP build (openblas_get_parallel() = 2)"
                      : l.omp[0] ? l.omp : NULL;
    const char *wait = getenv("OMP_WAIT_POLICY");
    if (why && !(wait && strcasecmp(wait, "passive") == 0)) {
        snprintf(t, sizeof t, "an OpenMP runtime is in this process (%s) and OMP_WAIT_POLICY is %s: its idle "
                 "threads spin between parallel regions and take the cores from OpenBLAS's threads (65%% of "
                 "the CPU in a profile of the training loop on 2 cores)", l.omp[0] ? l.omp : why,
                 wait ? wait : "unset");
        say("problem", t);
        add_advice(d, "export OMP_WAIT_POLICY=passive");
        d->problems++;
    } else if (why) {
        snprintf(t, sizeof t, "an OpenMP runtime is in this process (%s); OMP_WAIT_POLICY=passive keeps its idle "
                 "threads from spinning beside OpenBLAS's", why);
        say("ok", t);
    } else {
        snprintf(t, sizeof t, "no OpenMP runtime in this process (unigfn without OpenMP, OpenBLAS on %s): "
                 "nothing spins beside OpenBLAS's threads", d->bi.parallel == 0 ? "one thread" : "pthreads");
        say("ok", t);
    }
    if (l.n_blas > 1) {
        snprintf(t, sizeof t, "%d BLAS libraries are loaded (%s): each keeps a thread pool of its own", l.n_blas,
                 l.blas);
        say("note", t);
    }
    if (!onb) {
        snprintf(t, sizeof t, "a Python process beside unigfn (numpy's bundled OpenBLAS, torch's OpenMP) sizes its "
                 "own pool to every core as well: when both run at once give each a share "
                 "(OPENBLAS_NUM_THREADS, OMP_NUM_THREADS; OMP_WAIT_POLICY=passive), as tools/bench/mlp does");
        say("note", t);
    }
    double load[1];
    if (getloadavg(load, 1) == 1 && load[0] > d->allowed - 0.5) {
        snprintf(t, sizeof t, "load average %.2f on %d CPU%s: other work shares the cores, so every rate "
                 "above reads low (alike for each row)", load[0], d->allowed, d->allowed == 1 ? "" : "s");
        say("note", t);
    }
}

static void cpu_line(const ug_cpu_isa *c) {
    if (!c->x86) {
        printf("cpu       not x86: no ISA check (kernel advice is for x86 OpenBLAS builds)\n");
        return;
    }
    char flags[256] = "";
    struct {
        bool on;
        const char *name;
    } f[] = {{c->sse42, "sse4.2"},          {c->avx, "avx"},
             {c->avx2, "avx2"},             {c->fma, "fma"},
             {c->avx512f, "avx512f"},       {c->avx512dq, "avx512dq"},
             {c->avx512bw, "avx512bw"},     {c->avx512vl, "avx512vl"},
             {c->avx512_vnni, "avx512_vnni"}, {c->avx512_bf16, "avx512_bf16"},
             {c->avx512_fp16, "avx512_fp16"}, {c->amx, "amx"}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i].on) snprintf(flags + strlen(flags), sizeof flags - strlen(flags), " %s", f[i].name);
    printf("cpu       %s (%s family %d model %d): isa %s;%s; the OS saves %s\n", c->brand[0] ? c->brand : "?", c->vendor,
           c->family, c->model, ug_isa_name(ug_cpu_isa_level(c)), flags,
           c->os_avx512 ? "AVX and AVX-512 state" : c->os_avx ? "AVX state (not AVX-512's)" : "no AVX state");
}

static void row_label(const cli_probe *c, int i, const char *env, char *out, size_t cap) {
    if (i == 0) snprintf(out, cap, "as now (%s)", env[0] ? env : "unset");
    else if (!c->coretype) snprintf(out, cap, "unset (OpenBLAS's choice)");
    else snprintf(out, cap, "%s", c->coretype);
}

static void row_status(const cli_probe *c, char *out, size_t cap) {
    if (!c->ran) snprintf(out, cap, "%s", c->why);
    else if (c->coretype && strcasecmp(c->coretype, c->p.core) != 0)
        snprintf(out, cap, "not in this OpenBLAS (it took %s)", c->p.core);
    else if (!(c->p.max_err <= UG_BLAS_ERR_TOL)) snprintf(out, cap, "WRONG RESULTS");
    else snprintf(out, cap, "ok");
}

int cli_doctor(int argc, char **argv) {
    double seconds = 1.0;
    int threads = 0;
    bool probe = false;
    enum { O_PROBE = 256, O_SECONDS, O_THREADS };
    static const struct option opts[] = {{"probe", no_argument, NULL, O_PROBE},
                                         {"seconds", required_argument, NULL, O_SECONDS},
                                         {"threads", required_argument, NULL, O_THREADS},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    for (int c; (c = cli_getopt(argc, argv, ":h", opts)) != -1;) {
        switch (c) {
        case 'h': fputs(DOCTOR_USAGE, stdout); return 0;
        case O_PROBE: probe = true; break;
        case O_SECONDS:
            if (!cli_num_arg("doctor", "--seconds", "a number of seconds", optarg, 0.01, 60, &seconds)) return 2;
            break;
        case O_THREADS: if (!cli_int_arg_i("doctor", "--threads", optarg, 0, 1024, &threads)) return 2; break;
        default: return cli_bad_option("doctor", c, argv, DOCTOR_USAGE);
        }
    }
    int n_ops;
    char **ops = cli_operands(argc, argv, &n_ops);
    if (n_ops) return cli_extra_operand("doctor", DOCTOR_USAGE, "doctor takes options only", ops[0]);
    if (probe) return probe_main(seconds);

    doctor d = {0};
    if (threads > 0) { /* this process's count too, so the threads check speaks of what the rows use */
        ug_ctx *c = ug_ctx_new(4096);
        if (c) ug_set_threads(c, threads);
        ug_ctx_free(c);
    }
    ug_blas_info_get(&d.bi);
    ug_blas_advise(d.bi.corename, &d.bi.cpu, &d.adv);
    d.threads = threads > 0 ? threads : d.bi.threads;
    cpu_set_t set;
    d.allowed = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : (int)sysconf(_SC_NPROCESSORS_ONLN);

    printf("unigfn doctor: the BLAS and its speed on this machine\n");
    printf("blas      %s, %s\n", d.bi.config[0] ? d.bi.config : "unknown (no openblas_get_config)",
           d.bi.parallel == 0 ? "single-threaded" : d.bi.parallel == 1 ? "pthreads" : d.bi.parallel == 2 ? "OpenMP" : "threading unknown");
    printf("kernel    %s (%s kernels), %s\n", d.bi.corename[0] ? d.bi.corename : "unknown", ug_isa_name(d.adv.core_level),
           d.bi.coretype_env[0] ? "as OPENBLAS_CORETYPE asks" : "as OpenBLAS chose it (OPENBLAS_CORETYPE unset)");
    cpu_line(&d.bi.cpu);
    if (strcmp(d.bi.library, "OpenBLAS") != 0) {
        printf("verdict   unknown: this BLAS is not OpenBLAS (no openblas_get_corename), so there is no kernel set "
               "to choose; nothing to advise\n");
        return 0;
    }

    /* the rows: as now, OpenBLAS's own choice when the variable is set, each candidate */
    cli_probe rows[MAX_ROWS];
    int n = 0;
    rows[n++] = (cli_probe){.coretype = d.bi.coretype_env[0] ? d.bi.coretype_env : NULL};
    if (d.bi.coretype_env[0]) rows[n++] = (cli_probe){.coretype = NULL};
    for (int i = 0; i < d.adv.n_candidates && n < MAX_ROWS; i++) rows[n++] = (cli_probe){.coretype = d.adv.candidates[i]};
    printf("sgemm     M=512 N=K=256 as forward x w^T, weight gradient g^T x (beta 1) and input gradient g w; "
           "%g s a row on %d thread%s, each in a child process; max err = max |c - ref| / sum_k |a b| against "
           "float64 (ok below %.0e)\n", seconds, d.threads, d.threads == 1 ? "" : "s", UG_BLAS_ERR_TOL);
    printf("  %-28s %-14s %9s %10s  %s\n", "OPENBLAS_CORETYPE", "kernel", "GFLOP/s", "max err", "");
    fflush(stdout);
    for (int i = 0; i < n; i++) {
        cli_probe_run(&rows[i], seconds, threads);
        char label[64], status[128];
        row_label(&rows[i], i, d.bi.coretype_env, label, sizeof label);
        row_status(&rows[i], status, sizeof status);
        if (rows[i].ran)
            printf("  %-28s %-14s %9.1f %10.2g  %s\n", label, rows[i].p.core, rows[i].p.gflops, rows[i].p.max_err, status);
        else
            printf("  %-28s %-14s %9s %10s  %s\n", label, "-", "-", "-", status);
        fflush(stdout);
    }
    threads_section(&d);

    /* the verdict */
    const cli_probe *cur = &rows[0];
    double cur_rate = cur->ran ? cur->p.gflops : 0;
    int best = cli_probe_best(rows + 1, n - 1);
    const cli_probe *b = best >= 0 ? &rows[1 + best] : NULL;
    const char *best_core = b ? (b->coretype ? b->coretype : b->p.core) : NULL;
    bool wrong = cur->ran && !(cur->p.max_err <= UG_BLAS_ERR_TOL);
    bool slow = wrong || ug_blas_is_slow(&d.adv, cur_rate, best_core, b ? b->p.gflops : 0);
    char t[160];
    if (slow && b && (b->p.gflops > cur_rate || wrong)) {
        printf("verdict   slow: %s runs its %s kernels (%s) on this %s CPU: %.1f GFLOP/s%s; with "
               "OPENBLAS_CORETYPE=%s %.1f GFLOP/s (%.1fx), results checked against the float64 reference\n",
               d.bi.library, d.bi.corename, ug_isa_name(d.adv.core_level), ug_isa_name(d.adv.cpu_level), cur_rate,
               wrong ? " with WRONG results" : "", best_core, b->p.gflops, cur_rate > 0 ? b->p.gflops / cur_rate : 0);
        snprintf(t, sizeof t, "export OPENBLAS_CORETYPE=%s", best_core);
        add_advice(&d, t);
        d.problems++;
    } else if (slow) {
        printf("verdict   slow: %s runs its %s kernels (%s) on this %s CPU (%.1f GFLOP/s), and no candidate core "
               "measured faster with checked results here; an OpenBLAS built for this CPU (or a newer one) may\n",
               d.bi.library, d.bi.corename, ug_isa_name(d.adv.core_level), ug_isa_name(d.adv.cpu_level), cur_rate);
        d.problems++;
    } else {
        printf("verdict   %s: %s runs its %s kernels (%s) on this %s CPU: %.1f GFLOP/s", d.problems ? "kernels ok" : "ok",
               d.bi.library, d.bi.corename, ug_isa_name(d.adv.core_level), ug_isa_name(d.adv.cpu_level), cur_rate);
        if (b) printf("; best verified candidate %s, %.1f GFLOP/s", best_core, b->p.gflops);
        printf("%s\n", d.problems ? "; but see the thread problems above" : "");
    }
    if (d.n_advice) {
        printf("put %s in your environment (~/.profile, or the job script):\n", d.n_advice == 1 ? "this line" : "these lines");
        for (int i = 0; i < d.n_advice; i++) printf("%s\n", d.advice[i]);
    }
    return d.problems ? 1 : 0;
}
