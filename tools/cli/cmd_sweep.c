/* cmd_sweep.c — `unigfn sweep SPEC [AXIS ...] [-j N] [--dry-run] [--slurm ...]`: expand a sweep into
 * jobs, skip the runs already FINISHED (unless a plugin they were computed with changed since), and
 * run the rest locally or as a Slurm job array. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "unigfn/host/blas_info.h"
#include "unigfn/host/run_carry.h"
#include "unigfn/host/runner.h"
#include "unigfn/host/sha256.h"
#include "unigfn/host/sweep.h"
#include "unigfn/host/util.h"

static const char SWEEP_USAGE[] =
    "usage: unigfn sweep SPEC [AXIS ...] [--zip AXIS ...] [-j N] [--dry-run]\n"
    "                   [--slurm [--slurm-opt OPT ...] [--slurm-dir DIR] [--slurm-wait] [--no-submit]]\n"
    "                   [--blas-core auto]\n"
    "  AXIS is key=v1,v2,... or key=a:b[:step] (half-open integer range: seed=0:5 is 0..4);\n"
    "  one value is a fixed override. Axes multiply; --zip axes move together. Axes from the spec's\n"
    "  `sweep:` block come first; an axis given here replaces the spec's axis of the same key.\n"
    "  -j N          N local worker processes (default 1), all writing the --db database\n"
    "  A FINISHED job is skipped, unless a plugin it was computed with changed since (`unigfn show`\n"
    "  prints their SHA-256): then it runs again, and a line names the plugin and both hashes.\n"
    "  --dry-run     print each job's number, run id, status and overrides; run nothing\n"
    "  --slurm       write DIR/sweep.sbatch (one array task per unfinished job, each writing the\n"
    "                shard DIR/shards/job-N.db) and submit it with sbatch\n"
    "  --slurm-opt   an #SBATCH option for every task, e.g. --slurm-opt=--time=01:00:00\n"
    "  --slurm-dir   the sweep folder (default: <db folder>/sweeps/<name>-<hash of the job ids>)\n"
    "  --slurm-wait  wait for the array to end, then merge its shards (rows and run folders) into the\n"
    "                --db database\n"
    "  --no-submit   write the script only\n"
    "  --blas-core auto  as for `unigfn run`: the jobs run on the fastest verified OpenBLAS core when\n"
    "                the one OpenBLAS chose is far below this CPU (off unless given)\n"
    "  Exit 0 every job FINISHED, 1 a job failed or did not start, 2 the spec or an axis is wrong\n"
    "  (nothing run), 130 interrupted.\n"
    "examples:\n"
    "  unigfn sweep experiments/smoke/first-run.yaml model.pf_var=beta,posterior seed=0:3 --dry-run\n"
    "  unigfn sweep experiments/smoke/first-run.yaml seed=0:4 -j 2\n"
    "  unigfn sweep experiments/smoke/first-run.yaml --zip seed=0,1 --zip optim.forward.lr=1e-3,3e-4\n"
    "  unigfn sweep experiments/smoke/first-run.yaml seed=0:8 --slurm --slurm-opt=--time=01:00:00 --no-submit\n";

static void default_slurm_dir(const cli_env *env, const ug_sweep_plan *plan, char *out, size_t cap) {
    ug_sha256_ctx h;
    ug_sha256_init(&h);
    for (int64_t j = 0; j < plan->n_jobs; j++) ug_sha256_update(&h, plan->jobs[j].id, 16);
    uint8_t d[32];
    char hex[65];
    ug_sha256_final(&h, d);
    ug_sha256_to_hex(d, hex);
    const char *slash = strrchr(env->db_path, '/');
    snprintf(out, cap, "%.*s%ssweeps/%s-%.8s", slash ? (int)(slash - env->db_path) : 0, env->db_path,
             slash ? "/" : "", plan->n_jobs ? plan->jobs[0].experiment : "sweep", hex);
}

static int print_plan(const ug_sweep_plan *plan, const char *spec_path, int n_axes) {
    printf("sweep %s: %lld job%s over %d ax%s from %s\n", plan->n_jobs ? plan->jobs[0].experiment : "?",
           (long long)plan->n_jobs, plan->n_jobs == 1 ? "" : "s", n_axes, n_axes == 1 ? "is" : "es", spec_path);
    printf("%-4s %-16s  %-8s  %s\n", "job", "run", "status", "overrides");
    for (int64_t j = 0; j < plan->n_jobs; j++) {
        const ug_sweep_job *jb = &plan->jobs[j];
        char label[2048];
        ug_sweep_job_label(jb, label, sizeof label);
        printf("%-4lld %-16s  %-8s  %s\n", (long long)jb->index, jb->id,
               jb->status == UG_RUN_ABSENT ? "-" : ug_run_status_name(jb->status), label);
        if (jb->changed) printf("     FINISHED with %s: runs again\n", jb->changed);
    }
    return 0;
}

static int run_slurm(cli_env *env, const ug_sweep_plan *plan, const char *spec_path, const char *dir_arg,
                     const char **opts, int n_opts, bool wait, bool submit) {
    char exe[PATH_MAX], dir[PATH_MAX], script[PATH_MAX + 32];
    cli_self_exe(exe, sizeof exe);
    if (dir_arg) snprintf(dir, sizeof dir, "%s", dir_arg);
    else default_slurm_dir(env, plan, dir, sizeof dir);
    ug_sweep_slurm so = {.exe = exe, .spec_path = spec_path, .dir = dir, .sbatch_opts = opts, .n_sbatch_opts = n_opts};
    ug_error err = {0};
    int n_tasks = 0;
    int64_t *tasks = NULL;
    if (ug_sweep_write_slurm(plan, &so, script, sizeof script, &n_tasks, &tasks, &err)) {
        fprintf(stderr, "unigfn sweep: %s\n", err.msg);
        return 1;
    }
    if (n_tasks == 0) {
        printf("sweep: all %lld jobs are FINISHED (in %s or their shards in %s): nothing to submit\n",
               (long long)plan->n_jobs, env->db_path, dir);
        return 0;
    }
    printf("sweep: wrote %s: %d array task%s (of %lld jobs)\n", script, n_tasks, n_tasks == 1 ? "" : "s",
           (long long)plan->n_jobs);
    if (!submit) {
        free(tasks);
        return 0;
    }
    char job[128];
    if (wait) printf("sweep: submitting with sbatch --wait (returns when the array has ended) ...\n");
    fflush(stdout);
    if (ug_sweep_slurm_submit(script, wait, job, sizeof job, &err)) {
        fprintf(stderr, "unigfn sweep: %s\n", err.msg);
        free(tasks);
        return 1;
    }
    printf("sweep: Slurm array job %s%s\n", job, wait ? " has ended" : " submitted");
    if (!wait) {
        printf("sweep: when it has ended: unigfn --db %s db merge %s %s/shards/job-*.db\n", env->db_path,
               env->db_path, dir);
        free(tasks);
        return 0;
    }
    ug_store *st = cli_open_store(env, UG_STORE_CREATE);
    if (!st) {
        free(tasks);
        return 1;
    }
    int finished = 0, rc = 0;
    for (int i = 0; i < n_tasks; i++) {
        const ug_sweep_job *jb = &plan->jobs[tasks[i]];
        char shard[PATH_MAX + 64];
        ug_sweep_shard_path(dir, jb->index, shard, sizeof shard);
        ug_merge_stats ms = {0};
        ug_run_status s = UG_RUN_ABSENT;
        if (access(shard, R_OK) != 0) {
            printf("job %-4lld %-16s  no shard (the task did not start; see %s/logs/job-%lld.out)\n",
                   (long long)jb->index, jb->id, dir, (long long)jb->index);
            rc = 1;
            continue;
        }
        int carried = 0;
        if (ug_store_merge(st, shard, &ms, &err) || ug_store_run_status(st, jb->id, &s, &err) ||
            ug_run_carry_folders(st, env->db_path, shard, &carried, &err)) {
            fprintf(stderr, "unigfn sweep: %s\n", err.msg);
            rc = 1;
            break;
        }
        if (s == UG_RUN_FINISHED) finished++;
        else rc = 1;
        printf("job %-4lld %-16s  %-8s  merged %lld metric rows\n", (long long)jb->index, jb->id,
               ug_run_status_name(s), (long long)ms.metric_rows);
    }
    printf("sweep: %d of %d task%s FINISHED; shards merged into %s\n", finished, n_tasks, n_tasks == 1 ? "" : "s",
           env->db_path);
    ug_store_close(st);
    free(tasks);
    return rc;
}

/* SPEC first, then axes (key=...); false, having said why, for anything else. */
static bool sweep_operand(const char *a, const char **spec_path, const char **axes, int *n_axes) {
    if (!*spec_path) *spec_path = a;
    else if (strchr(a, '=')) axes[(*n_axes)++] = a;
    else return cli_extra_operand("sweep", SWEEP_USAGE, "one SPEC; axes are key=v1,v2,... or key=a:b", a), false;
    return true;
}

int cli_sweep(cli_env *env, int argc, char **argv) {
    const char *spec_path = NULL, *slurm_dir = NULL;
    int workers = 1;
    bool dry = false, slurm = false, slurm_wait = false, submit = true, blas_auto = false;
    const char **opts = calloc((size_t)argc + 1, sizeof *opts);
    const char **axes = calloc((size_t)argc + 1, sizeof *axes);
    bool *zipped = calloc((size_t)argc + 1, sizeof *zipped);
    int n_opts = 0, n_axes = 0, rc = 2;
    ug_sweep *sw = ug_sweep_new();
    ug_sweep_plan plan = {0};
    ug_store *st = NULL;
    if (!opts || !axes || !zipped || !sw) { fprintf(stderr, "unigfn sweep: out of memory\n"); goto done; }
    enum { O_DRY = 256, O_ZIP, O_SLURM, O_BLAS, O_WAIT, O_NO_SUBMIT, O_SLURM_OPT, O_SLURM_DIR };
    static const struct option lopts[] = {
        {"dry-run", no_argument, NULL, O_DRY},          {"zip", required_argument, NULL, O_ZIP},
        {"slurm", no_argument, NULL, O_SLURM},          {"blas-core", required_argument, NULL, O_BLAS},
        {"slurm-wait", no_argument, NULL, O_WAIT},      {"no-submit", no_argument, NULL, O_NO_SUBMIT},
        {"slurm-opt", required_argument, NULL, O_SLURM_OPT}, {"slurm-dir", required_argument, NULL, O_SLURM_DIR},
        {"help", no_argument, NULL, 'h'},               {NULL, 0, NULL, 0}};
    /* '-': operands come back in place (as 1), so SPEC, the axes and the --zip axes keep the order they
     * were given in, which is the order the jobs are enumerated in */
    int c;
    char shown[160];
    while ((c = cli_getopt(argc, argv, "-:hj:", lopts)) != -1) {
        switch (c) {
        case 'h': fputs(SWEEP_USAGE, stdout); rc = 0; goto done;
        case O_DRY: dry = true; break;
        case 'j': if (!cli_int_arg_i("sweep", "-j", optarg, 1, 256, &workers)) goto done; break;
        case O_ZIP: zipped[n_axes] = true; axes[n_axes++] = optarg; break;
        case O_SLURM: slurm = true; break;
        case O_WAIT: slurm_wait = slurm = true; break;
        case O_NO_SUBMIT: submit = false; slurm = true; break;
        case O_SLURM_OPT: opts[n_opts++] = optarg; slurm = true; break;
        case O_SLURM_DIR: slurm_dir = optarg; slurm = true; break;
        case O_BLAS:
            if (strcmp(optarg, "auto") != 0) {
                fprintf(stderr, "unigfn sweep: --blas-core takes 'auto', got '%s'\n", ug_shown(optarg, SIZE_MAX, shown, sizeof shown));
                goto done;
            }
            blas_auto = true;
            break;
        case 1:
            if (!sweep_operand(optarg, &spec_path, axes, &n_axes)) goto done;  /* rc is 2 */
            break;
        default: rc = cli_bad_option("sweep", c, argv, SWEEP_USAGE); goto done;
        }
    }
    int n_rest;  /* after "--" */
    char **rest = cli_operands(argc, argv, &n_rest);
    for (int i = 0; i < n_rest; i++)
        if (!sweep_operand(rest[i], &spec_path, axes, &n_axes)) goto done;  /* rc is 2 */
    if (!spec_path) { rc = cli_usage_error("sweep", SWEEP_USAGE, "which spec? (unigfn sweep SPEC [AXIS ...])"); goto done; }
    if (blas_auto && !dry) cli_blas_core_auto(env, "sweep", argc, argv); /* may re-execute; jobs inherit it */

    ug_spec_registry sreg;
    ug_registry_spec_view(env->reg, &sreg);
    ug_error err = {0};
    ug_spec *spec = NULL;
    if (ug_spec_load(spec_path, NULL, 0, &sreg, &spec, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        goto done;
    }
    ug_status s = ug_sweep_add_cfg(sw, ug_spec_section(spec, "sweep"), &err);
    ug_spec_free(spec);
    for (int i = 0; i < n_axes && !s; i++) s = ug_sweep_add_arg(sw, axes[i], zipped[i], &err);
    int64_t n_jobs = 0;
    if (!s) s = ug_sweep_finish(sw, &n_jobs, &err);
    if (s) { fprintf(stderr, "unigfn sweep: %s\n", err.msg); goto done; }

    /* A dry run writes nothing: it reads statuses only from a database that already exists. */
    if ((!dry || access(env->db_path, F_OK) == 0) && !(st = cli_open_store(env, dry ? UG_STORE_READ : UG_STORE_CREATE))) {
        rc = 1;
        goto done;
    }
    if (ug_sweep_plan_make(sw, spec_path, &sreg, st, !dry && !slurm, &plan, &err)) {
        fprintf(stderr, "unigfn sweep: %s\n", err.msg);
        rc = err.code == UG_ERR_SPEC ? 2 : 1;
        goto done;
    }
    int n_changed = 0;
    if (ug_sweep_plan_check_provenance(&plan, st, env->reg, &n_changed, &err)) {
        fprintf(stderr, "unigfn sweep: %s\n", err.msg);
        rc = 1;
        goto done;
    }
    for (int64_t j = 0; !dry && j < plan.n_jobs; j++)
        if (plan.jobs[j].changed)
            printf("sweep: job %lld: run %s FINISHED with %s: running it again\n", (long long)plan.jobs[j].index,
                   plan.jobs[j].id, plan.jobs[j].changed);
    if (dry) { rc = print_plan(&plan, spec_path, ug_sweep_n_axes(sw)); goto done; }
    if (slurm) {
        ug_store_close(st);
        st = NULL;
        rc = run_slurm(env, &plan, spec_path, slurm_dir, opts, n_opts, slurm_wait, submit);
        goto done;
    }
    int n_fin = 0, n_run = 0;
    for (int64_t j = 0; j < plan.n_jobs; j++) {
        n_fin += plan.jobs[j].status == UG_RUN_FINISHED && !plan.jobs[j].changed;
        n_run += plan.jobs[j].status == UG_RUN_RUNNING;
    }
    int64_t todo = plan.n_jobs - n_fin - n_run;
    printf("sweep %s: %lld jobs; %d FINISHED before (skipped)", plan.jobs[0].experiment, (long long)plan.n_jobs, n_fin);
    if (n_run) printf(", %d RUNNING elsewhere (skipped; `unigfn gc --mark-crashed` if their process died)", n_run);
    printf("; %lld to run on %d worker%s into %s\n", (long long)todo, workers, workers == 1 ? "" : "s", env->db_path);
    ug_store_close(st);
    st = NULL;
    if (todo == 0) { rc = 0; goto done; }
    /* One BLAS check for the whole sweep; its jobs, told so, skip theirs (and record the BLAS as ever). */
    ug_blas_info bi;
    char warning[512];
    if (ug_blas_check(&bi, warning, sizeof warning)) ug_message(UG_LOG_WARN, "%s", warning);
    setenv(UG_BLAS_CHECKED_ENV, "1", 1);
    char exe[PATH_MAX];
    cli_self_exe(exe, sizeof exe);
    ug_sweep_exec ex = {.exe = exe, .spec_path = spec_path, .db_path = env->db_path, .workers = workers};
    ug_sweep_result r;
    if (ug_sweep_run_local(&plan, &ex, &r, &err)) {
        fprintf(stderr, "unigfn sweep: %s\n", err.msg);
        rc = 1;
        goto done;
    }
    printf("sweep: ran %d: %d FINISHED, %d not finished", r.ran, r.finished, r.failed);
    if (r.not_started) printf(", %d not started", r.not_started);
    printf("; %d skipped (FINISHED before)\n", r.skipped_finished);
    rc = r.interrupted ? UG_EXIT_INTERRUPTED : (r.failed || r.not_started) ? 1 : 0;
done:
    ug_sweep_plan_free(&plan);
    ug_sweep_free(sw);
    ug_store_close(st);
    free(opts);
    free(axes);
    free(zipped);
    return rc;
}
