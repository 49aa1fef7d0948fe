/* runner.c — a run with the results store around the training step of step.c: RUNNING at start,
 * FINISHED / FAILED (with the message) / KILLED (on SIGINT, SIGTERM, SIGHUP or SIGPIPE, after a
 * checkpoint) at the end;
 * the logging window, metrics, artifacts and checkpoints along the way; `resume` continues a run from
 * its last checkpoint into the same row. One process at a time owns a run: it holds the run's lease
 * (run_lease.h) from before it touches the row or the folder until it ends, and every checkpoint
 * carries the run's identity, which resume checks against the row before it trusts the file or trims
 * the history past it. Everything it says goes through log.h's ug_out (and ug_message warnings: the
 * plugins that did not load, a BLAS far below the CPU, blas_info.h, a checkpoint without identity).
 * Every row records what the run is computed from (provenance.h: each plugin's path, version and
 * hash; --init-from's checkpoint): a FINISHED run whose plugins changed since is run again. */
#include "unigfn/host/runner.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ug_version.h"
#include "unigfn/host/blas_info.h"
#include "unigfn/host/experiment.h"
#include "unigfn/host/log.h"
#include "unigfn/host/provenance.h"
#include "unigfn/host/run_from.h"
#include "unigfn/host/run_init.h"
#include "unigfn/host/run_lease.h"
#include "unigfn/host/run_lookup.h"
#include "unigfn/host/step.h"
#include "unigfn/host/util.h"

#ifndef UG_BUILD_INFO
#define UG_BUILD_INFO "unknown"
#endif

/* ---- signals: one policy for every signal that would end a run ----
 * SIGINT, SIGTERM, SIGHUP (the terminal or the ssh session went away) and SIGPIPE (stdout went away:
 * `unigfn run ... | head -3`) all ask the run to stop: the first one sets the flag, which the loop
 * reads at each step boundary and between the metrics of an evaluation; the run then saves a
 * checkpoint and records KILLED with the step reached. After INT, TERM or HUP the default comes back,
 * so a second one ends the process at once. SIGPIPE is ignored from then on: later writes to the pipe
 * fail with EPIPE as write errors rather than killing the process before it records KILLED.
 * SIGXFSZ is ignored from the start: a write past RLIMIT_FSIZE fails with EFBIG and is reported as
 * that write's error (the run is FAILED with it), instead of the process dying mid-write. */
static volatile sig_atomic_t g_signal = 0;

static void on_signal(int sig) {
    if (!g_signal) g_signal = sig;
    signal(sig, sig == SIGPIPE ? SIG_IGN : SIG_DFL);
}

void ug_signals_install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;  /* a signal between two reads must not turn into an EINTR error */
    sigemptyset(&sa.sa_mask);
    const int stop[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};
    for (size_t i = 0; i < sizeof stop / sizeof *stop; i++) sigaddset(&sa.sa_mask, stop[i]);
    for (size_t i = 0; i < sizeof stop / sizeof *stop; i++) sigaction(stop[i], &sa, NULL);
    signal(SIGXFSZ, SIG_IGN);
}
int ug_signal_seen(void) { return g_signal; }

/* ---- the loop ---- */
typedef struct {
    ug_experiment *ex;
    ug_store *st;
    const char *id;
    const char *folder;
    char ckpt[1100];
    int progress;   /* 1 = live line on a terminal */
    bool quiet;
    /* Sums over the current logging window; saved in checkpoints so a resumed run logs exactly the
     * rows an uninterrupted one would. */
    struct {
        double loss_sum[UG_MAX_TERMS + 1];
        double log_sum[UG_MAX_TERMS][UG_LOSS_MAX_LOGS];
        int64_t window;
    } acc;
    /* Steps of the window each term ran at (its schedule may skip steps): its means divide by this.
     * Saved as its own blob so checkpoints written before schedules existed still load. */
    int64_t term_steps[UG_MAX_TERMS];
    /* An evaluation a signal cut short: the metrics from index `next` on, due at `step`, are still to
     * be evaluated (resume does them before training on). step < 0: none. Its own optional blob. */
    struct {
        int64_t step, next;
    } pending;
    /* Which run (and start of it, in which database) the checkpoints are of: its own optional blob,
     * absent from checkpoints written before runs were bound to their files. */
    ug_ckpt_identity ident;
    bool ident_found;  /* the last loaded checkpoint had one */
    const char *log_keys[UG_MAX_TERMS][UG_LOSS_MAX_LOGS];
    int n_logs[UG_MAX_TERMS];
    double t_start, t_last_line, t_last_beat;
    int64_t step0;
    char errmsg[UG_ERRMSG_MAX + 256];
} loop_state;

static int fail(loop_state *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(loop_state *L, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(L->errmsg, sizeof L->errmsg, fmt, ap);
    va_end(ap);
    return -1;
}

/* One step of step.c, added to the logging window. */
static int train_step(loop_state *L, int64_t step) {
    ug_step_losses out;
    ug_error err = {0};
    if (ug_train_step(L->ex, step, &out, &err)) return fail(L, "%s", err.msg);
    for (int t = 0; t < L->ex->n_terms; t++) {
        if (!out.ran[t]) continue;
        L->term_steps[t]++;
        L->acc.loss_sum[t] += out.loss[t];
        L->n_logs[t] = out.n_logs[t];
        for (int i = 0; i < out.n_logs[t]; i++) {
            L->log_keys[t][i] = out.log_keys[t][i];
            L->acc.log_sum[t][i] += out.log_values[t][i];
        }
    }
    L->acc.loss_sum[UG_MAX_TERMS] += out.total;
    L->acc.window++;
    return 0;
}

static void fmt_eta(double s, char *buf, size_t cap) {
    if (!isfinite(s) || s < 0) { snprintf(buf, cap, "?"); return; }
    long t = (long)s;
    if (t >= 3600) snprintf(buf, cap, "%ldh%02ldm", t / 3600, (t / 60) % 60);
    else if (t >= 60) snprintf(buf, cap, "%ldm%02lds", t / 60, t % 60);
    else snprintf(buf, cap, "%lds", t);
}

/* Write the window's means to the store and print a line. */
static int log_window(loop_state *L, int64_t step, ug_error *err) {
    ug_experiment *ex = L->ex;
    if (L->acc.window == 0) return 0;
    const char *keys[64];
    double vals[64];
    char names[64][96];
    int n = 0;
    double w = (double)L->acc.window;
    snprintf(names[n], sizeof names[n], "loss");
    keys[n] = names[n];
    vals[n++] = L->acc.loss_sum[UG_MAX_TERMS] / w;
    for (int t = 0; t < ex->n_terms && n < 60; t++) {
        if (L->term_steps[t] == 0) continue;  /* its schedule had it skip the whole window */
        double wt = (double)L->term_steps[t];
        if (ex->n_terms > 1) {
            snprintf(names[n], sizeof names[n], "loss.%s", ex->terms[t].label);
            keys[n] = names[n];
            vals[n++] = L->acc.loss_sum[t] / wt;
        }
        for (int i = 0; i < L->n_logs[t] && n < 60; i++) {
            snprintf(names[n], sizeof names[n], "%s.%s", ex->terms[t].label, L->log_keys[t][i]);
            keys[n] = names[n];
            vals[n++] = L->acc.log_sum[t][i] / wt;
        }
    }
    for (int k = 0; k < ex->n_optims && n < 64; k++) {
        const char *g;
        ug_params_group_info(ex->params, ex->optim_group[k], &g, NULL, NULL, NULL);
        snprintf(names[n], sizeof names[n], "grad_norm.%s", g);
        keys[n] = names[n];
        vals[n++] = ex->optims[k].last_grad_norm;
    }
    if (ug_store_metrics(L->st, L->id, step, n, keys, vals, err)) return -1;
    double t = ug_now_s();
    double rate = (double)(step - L->step0) / (t - L->t_start + 1e-9);
    char eta[32];
    fmt_eta((double)(ex->steps - step) / rate, eta, sizeof eta);
    if (!L->quiet && L->progress == 0) {
        ug_sbuf line = {0};
        ug_sbuf_printf(&line, "step %lld/%lld  loss %.6g", (long long)step, (long long)ex->steps, vals[0]);
        for (int i = 1; i < n; i++) ug_sbuf_printf(&line, "  %s %.4g", keys[i], vals[i]);
        ug_sbuf_printf(&line, "  %.1f it/s  ETA %s\n", rate, eta);
        if (line.s) ug_out(UG_OUT_REPORT, "%s", line.s);
        free(line.s);
    }
    memset(&L->acc, 0, sizeof L->acc);
    memset(L->term_steps, 0, sizeof L->term_steps);
    return 0;
}

/* The loop's own checkpoint blobs: the window sums ("runner"), the terms' step counts, an
 * evaluation a signal cut short and the run's identity. */
enum { LOOP_BLOBS = 4 };
static int loop_blobs(loop_state *L, ug_ckpt_blob *b) {
    b[0] = (ug_ckpt_blob){.name = "runner", .data = &L->acc, .size = sizeof L->acc, .optional = true};
    b[1] = (ug_ckpt_blob){.name = "runner.term_steps", .data = L->term_steps, .size = sizeof L->term_steps,
                          .optional = true};
    b[2] = (ug_ckpt_blob){.name = "runner.pending_eval", .data = &L->pending, .size = sizeof L->pending,
                          .optional = true};
    b[3] = ug_ckpt_identity_blob(&L->ident);
    return LOOP_BLOBS;
}

/* The row records the step first, so that a checkpoint is never past the step its row says (resume
 * refuses one that is: it is not this run's); a crash between the two leaves the older checkpoint,
 * which is behind the row, as after any crash. */
static ug_status loop_save(loop_state *L, int64_t step, ug_error *err) {
    ug_ckpt_blob b[LOOP_BLOBS];
    if (ug_store_heartbeat(L->st, L->id, step, err)) return err->code;
    L->t_last_beat = ug_now_s();
    return ug_experiment_save(L->ex, L->ckpt, step, b, loop_blobs(L, b), err);
}

/* Load a checkpoint with the loop's blobs; one written before term schedules lacks the step counts,
 * which were then the window's for every term, and one written before pending evaluations has none. */
static ug_status loop_load(loop_state *L, const char *path, int64_t *step, ug_error *err) {
    ug_ckpt_blob b[LOOP_BLOBS];
    ug_status s = ug_experiment_load(L->ex, path, step, b, loop_blobs(L, b), err);
    if (!s && !b[1].found)
        for (int t = 0; t < UG_MAX_TERMS; t++) L->term_steps[t] = L->acc.window;
    if (s || !b[2].found || L->pending.step != *step) L->pending.step = -1, L->pending.next = 0;
    L->ident_found = !s && b[3].found;
    return s;
}

/* GLOB patterns matching every key log_window writes, for `run --from` (ug_store_copy_history): kept
 * beside log_window so the two name the keys alike. */
static int log_key_patterns(const ug_experiment *ex, char (*buf)[96], const char **pats, int cap) {
    int n = 0;
    if (n < cap) snprintf(buf[n], sizeof buf[n], "loss"), n++;
    if (n < cap) snprintf(buf[n], sizeof buf[n], "loss.*"), n++;
    if (n < cap) snprintf(buf[n], sizeof buf[n], "grad_norm.*"), n++;
    for (int t = 0; t < ex->n_terms && n < cap; t++) snprintf(buf[n], sizeof buf[n], "%s.*", ex->terms[t].label), n++;
    for (int i = 0; i < n; i++) pats[i] = buf[i];
    return n;
}

static void progress_line(loop_state *L, int64_t step, double loss) {
    double t = ug_now_s();
    if (L->quiet || L->progress != 1 || t - L->t_last_line < 0.2) return;
    L->t_last_line = t;
    double rate = (double)(step - L->step0) / (t - L->t_start + 1e-9);
    char eta[32];
    fmt_eta((double)(L->ex->steps - step) / rate, eta, sizeof eta);
    ug_out(UG_OUT_PROGRESS, "\r  step %lld/%lld | %.1f it/s | ETA %s | loss %.5g   ", (long long)step,
           (long long)L->ex->steps, rate, eta, loss);
}

/* The metrics due at `step`, from index `first` on: 0, -1 on a failure (the run's message in
 * L->errmsg, or the store's in err), or 1 when a signal came first: L->pending then says where to go
 * on. A metric that has begun runs to its end; the signal is read before each. */
enum { EVAL_INTERRUPTED = 1 };
static int evaluate(loop_state *L, int64_t step, int first, ug_error *err) {
    ug_experiment *ex = L->ex;
    L->pending.step = -1;
    L->pending.next = 0;
    for (int m = first; m < ex->n_metrics; m++) {
        ug_metric_inst *mi = &ex->metrics[m];
        if (!ug_metric_due(ex, m, step)) continue;
        if (ug_signal_seen()) {
            L->pending.step = step;
            L->pending.next = m;
            ug_step_reset(ex->ctx);
            return EVAL_INTERRUPTED;
        }
        ug_metric_out out;
        ug_error merr = {0};
        if (ug_experiment_eval_metric(ex, m, step, L->folder, &out, &merr))
            return fail(L, "step %lld: %s", (long long)step, merr.msg);
        char names[UG_METRIC_MAX_VALUES][128];
        const char *keys[UG_METRIC_MAX_VALUES];
        for (int i = 0; i < out.n_values && i < UG_METRIC_MAX_VALUES; i++) {
            snprintf(names[i], sizeof names[i], "%s%s", mi->prefix, out.keys[i]);
            keys[i] = names[i];
        }
        if (out.n_values && ug_store_metrics(L->st, L->id, step, out.n_values, keys, out.values, err)) return -1;
        for (int a = 0; a < out.n_artifacts; a++)
            if (ug_store_artifact(L->st, L->id, out.artifact_paths[a], out.artifact_kinds[a], step, err)) return -1;
        if (!L->quiet) {
            if (L->progress == 1) ug_out(UG_OUT_PROGRESS, "\n");
            ug_sbuf line = {0};
            ug_sbuf_printf(&line, "eval step %lld %s:", (long long)step, mi->desc->name);
            for (int i = 0; i < out.n_values; i++) ug_sbuf_printf(&line, "  %s %.6g", keys[i], out.values[i]);
            ug_sbuf_put(&line, "\n");
            if (line.s) ug_out(UG_OUT_REPORT, "%s", line.s);
            free(line.s);
        }
    }
    ug_step_reset(ex->ctx);
    return 0;
}

ug_build_version ug_build_version_get(void) {
    return (ug_build_version){.version = UG_PROJECT_VERSION, .git_rev = UG_GIT_REV, .build = UG_BUILD_INFO};
}

static void git_host_build(const char **git, char *host, size_t cap, const char **build) {
    *git = UG_GIT_REV;
    if (gethostname(host, cap)) snprintf(host, cap, "unknown");
    host[cap - 1] = 0;
    *build = UG_BUILD_INFO;
}

/* The BLAS line the row records (after the experiment set the thread count). */
static void blas_line(char *buf, size_t cap) {
    ug_blas_info bi;
    ug_blas_info_get(&bi);
    ug_blas_describe(&bi, buf, cap);
}

/* The one warning when the BLAS's kernels are far below the CPU, once the run is really going to train;
 * ug_blas_check measures only in that case, so start-up stays fast when all is well, and not at all
 * under a sweep that has warned already (UG_BLAS_CHECKED_ENV). */
static void blas_warn(void) {
    ug_blas_info bi;
    char warning[512];
    if (ug_blas_check(&bi, warning, sizeof warning)) ug_message(UG_LOG_WARN, "%s", warning);
}

/* ---- a run from spec to final status ----
 * ug_run goes through phases; each returns CONTINUE or the process exit code, and every exit leaves
 * through the one release at the end of ug_run. */
enum { CONTINUE = -1 };

typedef struct run_session {
    const ug_run_opts *o;
    ug_registry *reg;
    const char *db_path;
    ug_spec_registry sreg;
    ug_spec *spec;            /* until the experiment takes it over */
    ug_store *st;
    ug_run_record *rec;       /* resume: the stored row */
    ug_experiment ex;         /* zeroed until built; ug_experiment_free handles both */
    bool from;                /* run --from (not resume) */
    char id[64];
    char src_id[64];          /* --from: the source run */
    char init_src[64];        /* --init-from: the run the parameters come from ("" without) */
    ug_prov_set prov;         /* what this run is computed from, as it is now */
    char folder[1024];
    ug_run_lease lease;       /* held from before the row is touched to the end (fd -1: not held) */
    bool made_folder, made_runs;  /* this process created the run folder / its runs/ parent */
    int64_t step;
    loop_state L;
} run_session;

static int say_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int say_error(int code, const char *fmt, ...) {
    char buf[UG_ERRMSG_MAX + 512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    ug_out(UG_OUT_ERROR, "%s\n", buf);
    return code;
}

/* The spec: the stored one of the run being resumed, or the file with its overrides. */
static int load_spec(run_session *R) {
    const ug_run_opts *o = R->o;
    ug_error err = {0};
    if (o->resume_id) {
        if (ug_store_open_as(R->db_path, UG_STORE_WRITE, &R->st, &err) || ug_find_run(R->st, o->resume_id, R->id, sizeof R->id, &err) ||
            ug_store_get_run(R->st, R->id, &R->rec, &err))
            return say_error(UG_EXIT_FAILED, "unigfn: %s", err.msg);
        if (R->rec->status == UG_RUN_FINISHED && !o->force)
            return say_error(UG_EXIT_OK, "unigfn: run %s is already FINISHED", R->id);
        if (ug_spec_load_string(R->rec->experiment, R->rec->spec ? R->rec->spec : "", NULL, 0, &R->sreg, &R->spec, &err))
            return say_error(UG_EXIT_SPEC, "unigfn: the stored spec of run %s no longer loads: %s", R->id, err.msg);
    } else if (ug_spec_load(o->spec_path, o->overrides, o->n_overrides, &R->sreg, &R->spec, &err)) {
        /* A spec file that cannot be read is the caller's input as much as a bad key: exit 2, as
         * `sweep` does, and nothing is written. */
        return say_error(err.code == UG_ERR_SPEC || err.code == UG_ERR_IO ? UG_EXIT_SPEC : UG_EXIT_FAILED, "%s", err.msg);
    }
    return CONTINUE;
}

/* Dataset, model, terms, optimizers, metrics; --check stops here (but for --from, checked below). */
static int build(run_session *R) {
    const ug_run_opts *o = R->o;
    ug_error err = {0};
    const ug_cfg *sweep = ug_spec_section(R->spec, "sweep");
    if (sweep && sweep->n > 0 && !o->quiet)
        ug_out(UG_OUT_MESSAGE, "unigfn: note: this spec has a sweep: block; `unigfn run` trains the base spec only "
                               "(`unigfn sweep` runs the sweep)\n");
    ug_spec *spec = R->spec;
    R->spec = NULL;  /* the experiment owns it from here, built or not */
    if (ug_experiment_build(&R->ex, spec, R->reg, &err)) {
        if (err.code == UG_ERR_SPEC) return say_error(UG_EXIT_SPEC, "%s", err.msg);
        /* memory or a file, not the spec: the run fails (there is no row yet to record it in) */
        return say_error(UG_EXIT_FAILED, "unigfn: cannot build the run: %s", err.msg);
    }
    ug_experiment *ex = &R->ex;
    if (o->resume_id && o->threads > 0) {
        /* Threads stay part of the stored spec (and so of the run id); only this segment's execution
         * changes. Kernels may then sum in another order, so the continuation is no longer guaranteed
         * to be bit-identical to an uninterrupted run. */
        if (!o->quiet && o->threads != ex->threads) {
            if (ex->threads > 0)
                ug_out(UG_OUT_REPORT, "continuing on %d threads (the spec says %d)\n", o->threads, ex->threads);
            else
                ug_out(UG_OUT_REPORT, "continuing on %d threads (the spec says all cores)\n", o->threads);
        }
        ex->threads = o->threads;
        ug_set_threads(ex->ctx, o->threads);
    }
    R->from = o->from_id && !o->resume_id;
    if (R->from && o->init_from)
        return say_error(UG_EXIT_SPEC, "unigfn: --from continues a run and --init-from starts a new one from its "
                         "parameters: give one of them");
    if (o->check_only && !R->from && !o->init_from) {
        ug_out(UG_OUT_REPORT, "%s: ok (run id %s; model %s with %lld parameters)\n", ug_spec_path(ex->spec),
               ug_spec_id(ex->spec), ex->model.name, (long long)ug_params_total(ex->params));
        return UG_EXIT_OK;
    }
    return CONTINUE;
}

/* --init-from: the source's parameters into the built model, and the run's own id (run_init.h), before
 * the run row or folder exists, as for --from: a refused source leaves no trace. A model that does not
 * fit the source's parameters is the spec's error (exit 2). */
static int init_source(run_session *R) {
    const ug_run_opts *o = R->o;
    ug_error err = {0};
    char ckpt[1100];
    int64_t step = 0;
    bool legacy = false;
    ug_status s = ug_run_init_load(R->st, &R->ex, o->init_from, R->db_path, R->init_src, sizeof R->init_src, ckpt,
                                   sizeof ckpt, &step, &legacy, &err);
    if (s) return say_error(s == UG_ERR_ARG ? UG_EXIT_SPEC : UG_EXIT_FAILED, "unigfn: %s", err.msg);
    if (legacy)
        ug_message(UG_LOG_WARN, "checkpoint %s has no run identity (written before checkpoints named their run): "
                   "loaded without checking that it is run %s's", ckpt, R->init_src);
    ug_run_init_id(ug_spec_id(R->ex.spec), R->init_src, R->id, sizeof R->id);
    if (ug_prov_add_checkpoint(&R->prov, R->init_src, ckpt, step, &err))
        return say_error(UG_EXIT_FAILED, "unigfn: %s", err.msg);
    if (o->check_only) {
        ug_out(UG_OUT_REPORT, "%s: ok (run id %s; parameters from run %s at step %lld)\n", ug_spec_path(R->ex.spec),
               R->id, R->init_src, (long long)step);
        return UG_EXIT_OK;
    }
    return CONTINUE;
}

/* The store, the run id, and for --from the source's checkpoint: checked and loaded before the run
 * row or folder exists, so a refused --from leaves no trace. */
static int open_run(run_session *R) {
    const ug_run_opts *o = R->o;
    ug_error err = {0};
    if (!R->st && ug_store_open(R->db_path, &R->st, &err)) return say_error(UG_EXIT_FAILED, "unigfn: %s", err.msg);
    if (!R->id[0]) snprintf(R->id, sizeof R->id, "%s", ug_spec_id(R->ex.spec));
    R->L = (loop_state){.ex = &R->ex, .st = R->st, .id = R->id, .quiet = o->quiet, .pending = {-1, 0}};
    if (ug_prov_of_experiment(&R->ex, R->reg, &R->prov, &err)) return say_error(UG_EXIT_FAILED, "unigfn: %s", err.msg);
    if (o->init_from && !o->resume_id) return init_source(R);
    if (!R->from) return CONTINUE;
    char src_ckpt[1100];
    ug_run_record *src = NULL;
    bool legacy = false;
    ug_status s = ug_run_from_check(R->st, &R->sreg, &R->ex, R->id, o->from_id, R->db_path, R->src_id,
                                    sizeof R->src_id, src_ckpt, sizeof src_ckpt, &err);
    if (!s) s = loop_load(&R->L, src_ckpt, &R->step, &err);
    if (!s) s = ug_run_from_check_step(&R->ex, R->src_id, R->step, R->L.acc.window, &err);
    if (!s) s = ug_store_get_run(R->st, R->src_id, &src, &err);
    if (!s) s = ug_ckpt_identity_check(&R->L.ident, R->L.ident_found, src_ckpt, R->step, R->ex.steps, src, &legacy, &err);
    ug_run_record_free(src);
    if (s) return say_error(UG_EXIT_FAILED, "unigfn: %s", err.msg);
    if (legacy)
        ug_message(UG_LOG_WARN, "checkpoint %s has no run identity (written before checkpoints named their run): "
                   "loaded without checking that it is run %s's", src_ckpt, R->src_id);
    R->L.pending.step = -1;  /* the source's unfinished evaluation is not this run's: it evaluates anew */
    if (o->check_only) {
        ug_out(UG_OUT_REPORT, "%s: ok (run id %s; continues run %s from step %lld)\n", ug_spec_path(R->ex.spec),
               R->id, R->src_id, (long long)R->step);
        return UG_EXIT_OK;
    }
    return CONTINUE;
}

/* The run folder and the run's lease, before anything of the run is touched: another process that
 * holds the lease is running it (a second writer would wipe, duplicate and rename under it). */
static int take_run(run_session *R) {
    struct stat sb;
    char runs[1024];
    snprintf(runs, sizeof runs, "%s", R->folder);
    char *slash = strrchr(runs, '/');
    if (slash) *slash = 0;
    R->made_runs = slash && stat(runs, &sb) != 0;
    R->made_folder = stat(R->folder, &sb) != 0;
    if (ug_mkdir_p(R->folder))
        return say_error(UG_EXIT_FAILED, "unigfn: cannot create %s: %s", R->folder, strerror(errno));
    ug_error err = {0};
    if (ug_run_lease_take(&R->lease, R->folder, R->id, &err)) return say_error(UG_EXIT_FAILED, "unigfn: %s", err.msg);
    if (R->lease.unlocked)
        ug_message(UG_LOG_WARN, "cannot lock %s on this file system: one process per run is not enforced here",
                   R->lease.path);
    return CONTINUE;
}

/* The row the lease now guards, read again: until the lease was taken another process may have
 * changed it. */
static int reread_row(run_session *R) {
    ug_error err = {0};
    ug_run_record_free(R->rec);
    R->rec = NULL;
    if (ug_store_get_run(R->st, R->id, &R->rec, &err)) return say_error(UG_EXIT_FAILED, "unigfn: %s", err.msg);
    return CONTINUE;
}

/* resume: the checkpoint, checked against the row (run, spec, start, step), then the row continued at
 * its step. No checkpoint while the row records steps is refused: starting from step 0 would delete
 * that history, which only `run --force` does, on purpose. */
static int resume_row(run_session *R, const char *blas) {
    const ug_run_opts *o = R->o;
    loop_state *L = &R->L;
    ug_error err = {0};
    int code = reread_row(R);
    if (code != CONTINUE) return code;
    const ug_run_record *rec = R->rec;
    if (rec->status == UG_RUN_FINISHED) return say_error(UG_EXIT_OK, "unigfn: run %s is already FINISHED", R->id);
    /* Anything at the checkpoint's path is loaded, so that a directory, a FIFO or a dangling link is
     * refused with its reason (ug_checkpoint_load) rather than taken for "no checkpoint". */
    struct stat sb;
    if (lstat(L->ckpt, &sb) == 0) {
        bool legacy = false;
        if (loop_load(L, L->ckpt, &R->step, &err) ||
            ug_ckpt_identity_check(&L->ident, L->ident_found, L->ckpt, R->step, R->ex.steps, rec, &legacy, &err))
            return say_error(UG_EXIT_FAILED, "unigfn: cannot resume run %s: %s. Nothing was changed; move the file "
                             "away and put the run's own checkpoint back, or start the run again from step 0 with "
                             "`unigfn run SPEC --force` (SPEC: its spec, which `unigfn show %s` prints)",
                             R->id, err.msg, R->id);
        if (legacy)
            ug_message(UG_LOG_WARN, "checkpoint %s has no run identity (written before checkpoints named their "
                       "run): loaded without checking that it is run %s's", L->ckpt, R->id);
    } else if (errno != ENOENT) {
        return say_error(UG_EXIT_FAILED, "unigfn: cannot resume run %s: %s: %s", R->id, L->ckpt, strerror(errno));
    } else if (rec->step > 0) {
        return say_error(UG_EXIT_FAILED, "unigfn: cannot resume run %s: the database records step %lld but its "
                         "checkpoint %s is missing, and starting from step 0 would delete the history of steps "
                         "1-%lld. Nothing was changed; put the checkpoint back, or start the run again from step "
                         "0 on purpose with `unigfn run SPEC --force` (SPEC: its spec, which `unigfn show %s` "
                         "prints)", R->id, (long long)rec->step, L->ckpt, (long long)rec->step, R->id);
    } else {
        R->step = 0;
    }
    ug_ckpt_identity_make(&L->ident, R->id, rec->spec, rec->started);
    int64_t prev = rec->step;
    /* Like the BLAS and the threads, the provenance then holds the latest segment's; the warning says
     * the run is no longer all of one build. */
    int n_changed = 0;
    char why[700];
    if (ug_prov_changed(R->st, R->id, R->reg, &R->prov, &n_changed, why, sizeof why, &err))
        return say_error(UG_EXIT_FAILED, "unigfn: %s", err.msg);
    if (n_changed)
        ug_message(UG_LOG_WARN, "run %s was trained so far with %s: it goes on with the plugin as it is now "
                   "(its provenance records the one it goes on with)", R->id, why);
    if (ug_store_run_resume(R->st, R->id, R->step, o->threads, NULL, &err) ||
        ug_store_run_set_blas(R->st, R->id, blas, &err) ||
        ug_store_run_update_provenance(R->st, R->id, R->prov.rows, R->prov.n, &err))
        return say_error(UG_EXIT_FAILED, "unigfn: %s", err.msg);
    blas_warn();
    if (!o->quiet) {
        if (prev > R->step)
            ug_out(UG_OUT_REPORT, "resuming run %s at step %lld, its checkpoint (the database had reached step "
                   "%lld: steps %lld-%lld are trained again)\n", R->id, (long long)R->step, (long long)prev,
                   (long long)R->step + 1, (long long)prev);
        else
            ug_out(UG_OUT_REPORT, "resuming run %s at step %lld\n", R->id, (long long)R->step);
    }
    return CONTINUE;
}

/* The run folder and lease, then the row: resumed at the checkpoint's step, or begun (with --from's
 * history). */
static int begin_row(run_session *R) {
    const ug_run_opts *o = R->o;
    ug_experiment *ex = &R->ex;
    loop_state *L = &R->L;
    ug_error err = {0};
    ug_run_folder(R->db_path, R->id, R->folder, sizeof R->folder);
    int code = take_run(R);
    if (code != CONTINUE) return code;
    ug_set_run_dir(R->folder);
    L->folder = R->folder;
    /* From here a run row may exist: a signal must be a KILLED row, never a process gone mid-write. */
    ug_signals_install();
    L->progress = o->progress >= 0 ? o->progress : isatty(STDERR_FILENO);
    snprintf(L->ckpt, sizeof L->ckpt, "%s/checkpoint.bin", R->folder);
    {   /* a checkpoint write a SIGKILL cut short left its temporary file: never loaded, so remove it */
        char tmp[1200];
        struct stat sb;
        snprintf(tmp, sizeof tmp, "%s.tmp", L->ckpt);
        if (lstat(tmp, &sb) == 0 && S_ISREG(sb.st_mode)) remove(tmp);
    }
    char blas[256];
    blas_line(blas, sizeof blas);

    if (o->resume_id) return resume_row(R, blas);
    ug_kv kv = {0};
    ug_spec_flatten(ex->spec, ug_kv_add, &kv);
    const char *git, *build;
    char host[256];
    git_host_build(&git, host, sizeof host, &build);
    ug_run_info info = {.id = R->id, .experiment = ug_spec_name(ex->spec), .spec = ug_spec_canonical(ex->spec),
                        .param_keys = kv.k, .param_values = kv.v,
                        .n_params = kv.n, .seed = (int64_t)ex->seed, .git_rev = git, .host = host,
                        .build = build, .blas = blas, .threads = ex->threads > 0 ? ex->threads : (int)sysconf(_SC_NPROCESSORS_ONLN),
                        .force = o->force, .prov = R->prov.rows, .n_prov = R->prov.n,
                        .init_from = R->init_src[0] ? R->init_src : NULL};
    ug_begin_outcome outcome;
    ug_status s = ug_store_run_begin(R->st, &info, &outcome, &err);
    if (!s && outcome == UG_BEGIN_FINISHED) {
        /* The id names the spec, not the code: a FINISHED run computed by plugins that changed since
         * (or from another checkpoint) is run again, as --force would. A run recorded before
         * provenance existed has no rows and stays FINISHED. */
        int n_changed = 0;
        char why[700];
        s = ug_prov_changed(R->st, R->id, R->reg, &R->prov, &n_changed, why, sizeof why, &err);
        if (!s && n_changed) {
            if (!o->quiet) ug_out(UG_OUT_REPORT, "run %s FINISHED with %s: running it again\n", R->id, why);
            info.force = true;
            s = ug_store_run_begin(R->st, &info, &outcome, &err);
        }
    }
    ug_kv_free(&kv);
    if (s) return say_error(UG_EXIT_FAILED, "unigfn: %s", err.msg);
    if (outcome == UG_BEGIN_BUSY)  /* RUNNING, yet this process holds the lease: its process is gone */
        return say_error(UG_EXIT_FAILED, "unigfn: run %s is RUNNING in the database, but no process holds its "
                         "lease: the process that ran it died (`unigfn gc --mark-crashed` marks it CRASHED; then "
                         "`unigfn resume %s` continues it, or --force starts it again)", R->id, R->id);
    if ((code = reread_row(R)) != CONTINUE) return code;
    if (outcome == UG_BEGIN_FINISHED) {
        const char *name = ug_spec_name(ex->spec), *was = R->rec->experiment ? R->rec->experiment : "";
        /* The run id is a hash of what is computed, which `name` is not part of: under another name
         * it is the same run. Ids stay as they are (existing databases are keyed by them), so say so. */
        if (!o->quiet && name && strcmp(name, was) != 0)
            ug_out(UG_OUT_REPORT, "run %s is already FINISHED as experiment '%s'; the run id does not depend on "
                   "`name` ('%s' here), which does not change what is computed (use --force to run it again, "
                   "recorded as '%s')\n", R->id, was, name, name);
        else if (!o->quiet)
            ug_out(UG_OUT_REPORT, "run %s is already FINISHED (use --force to run it again)\n", R->id);
        return UG_EXIT_OK;
    }
    ug_ckpt_identity_make(&L->ident, R->id, R->rec->spec, R->rec->started);
    remove(L->ckpt);
    blas_warn();
    if (R->src_id[0]) {
        /* The fresh run's history up to the source's checkpoint, and a checkpoint of its own so
         * that a crash before the first periodic one resumes from here. A failure here is the run's:
         * the row exists, so it is recorded FAILED by train(). */
        char pbuf[UG_MAX_TERMS + 3][96];
        const char *pats[UG_MAX_TERMS + 3];
        int np = log_key_patterns(ex, pbuf, pats, UG_MAX_TERMS + 3);
        if (ug_store_copy_history(R->st, R->id, R->src_id, R->step, pats, np, &err) ||
            loop_save(L, R->step, &err))
            fail(L, "%s", err.msg);
        if (!o->quiet)
            ug_out(UG_OUT_REPORT, "run %s (%s): %lld steps, continuing run %s from step %lld\n", R->id,
                   ug_spec_name(ex->spec), (long long)ex->steps, R->src_id, (long long)R->step);
    } else {
        /* A checkpoint from the start: from here on a run with steps in its row always has one, so a
         * missing checkpoint is a lost one (resume refuses it), never a crash before the first. */
        if (loop_save(L, 0, &err)) fail(L, "%s", err.msg);
        if (!o->quiet && R->init_src[0])
            ug_out(UG_OUT_REPORT, "run %s (%s): %lld steps, parameters from run %s\n", R->id, ug_spec_name(ex->spec),
                   (long long)ex->steps, R->init_src);
        else if (!o->quiet)
            ug_out(UG_OUT_REPORT, "run %s (%s): %lld steps\n", R->id, ug_spec_name(ex->spec), (long long)ex->steps);
    }
    return CONTINUE;
}

static int where_artifact(void *user, const ug_artifact_row *a) {
    (void)user;
    const char *what = !a->kind || !a->kind[0] ? "file" : strcmp(a->kind, "png") == 0 ? "picture" : a->kind;
    ug_out(UG_OUT_REPORT, "  %-9s %s\n", what, a->path);
    return 0;
}

/* After FINISHED: where the results and pictures are, and the commands that read them, so a first
 * run tells a newcomer what to do next. */
static void say_where(run_session *R) {
    char db[1100];
    if (strcmp(R->db_path, "results.db") != 0) snprintf(db, sizeof db, "--db %s ", R->o->db_path);
    else db[0] = 0;
    ug_out(UG_OUT_REPORT, "  results   %s (unigfn %sshow %s; unigfn %sls)\n", R->db_path, db, R->id, db);
    ug_error e = {0};
    if (ug_store_artifacts(R->st, R->id, where_artifact, NULL, &e)) return;
    ug_out(UG_OUT_REPORT, "  samples   unigfn %ssample %s -n 10\n", db, R->id);
}

/* Steps until the budget, a failure or a signal; then the final status into the row. */
static int train(run_session *R) {
    const ug_run_opts *o = R->o;
    ug_experiment *ex = &R->ex;
    loop_state *L = &R->L;
    ug_error err = {0};
    int64_t step = R->step;
    /* bad: 1 = the run's own failure (message in L->errmsg), 2 = the store's or a file's (in err). */
    int bad = L->errmsg[0] ? 1 : 0;
    L->t_start = L->t_last_beat = ug_now_s();
    L->step0 = step;
    ug_run_status final = UG_RUN_FINISHED;
    int ev = 0;
    if (!bad && R->src_id[0] && step > 0) {
        /* Metrics due at the step continued from are evaluated again (same draws, same values); the
         * source's end-of-run metrics are not part of this run's history. */
        ev = evaluate(L, step, 0, &err);
    } else if (!bad && L->pending.step >= 0 && L->pending.step == step) {
        /* resume: the rest of an evaluation a signal cut short (the metrics before `next` have their
         * rows), then a checkpoint that no longer says so */
        ev = evaluate(L, step, (int)L->pending.next, &err);
        if (ev == 0 && loop_save(L, step, &err)) ev = -1;
    }
    if (ev < 0) bad = L->errmsg[0] ? 1 : 2;
    if (ev == EVAL_INTERRUPTED) final = UG_RUN_KILLED;
    while (!bad && final != UG_RUN_KILLED && step < ex->steps) {
        if (ug_signal_seen()) { final = UG_RUN_KILLED; break; }
        if (train_step(L, step)) { bad = 1; break; }
        step++;
        progress_line(L, step, L->acc.window ? L->acc.loss_sum[UG_MAX_TERMS] / (double)L->acc.window : 0);
        if ((ex->log_every > 0 && step % ex->log_every == 0) || step == ex->steps) {
            if (log_window(L, step, &err)) { bad = 2; break; }
        }
        if (ug_now_s() - L->t_last_beat > 10.0) {
            L->t_last_beat = ug_now_s();
            if (ug_store_heartbeat(R->st, R->id, step, &err)) { bad = 2; break; }
        }
        bool last = step == ex->steps;
        ev = evaluate(L, step, 0, &err);
        if (ev < 0) { bad = L->errmsg[0] ? 1 : 2; break; }
        if (ev == EVAL_INTERRUPTED) { final = UG_RUN_KILLED; break; }  /* the checkpoint below says what is left */
        if ((ex->checkpoint_every > 0 && step % ex->checkpoint_every == 0) || last) {
            if (loop_save(L, step, &err)) { bad = 2; break; }
        }
    }
    /* A signal that came after the last check (during the last metric or the final checkpoint) still
     * means the run was stopped, not that it finished: KILLED, and resume has nothing left but to
     * say FINISHED. */
    if (!bad && final == UG_RUN_FINISHED && ug_signal_seen()) final = UG_RUN_KILLED;
    if (L->progress == 1 && !o->quiet) ug_out(UG_OUT_PROGRESS, "\n");
    if (bad == 2) snprintf(L->errmsg, sizeof L->errmsg, "%s", err.msg);
    int code = UG_EXIT_OK;
    ug_error e2 = {0};
    if (bad) {
        final = UG_RUN_FAILED;
        code = UG_EXIT_FAILED;
        say_error(0, "unigfn: run %s FAILED: %s", R->id, L->errmsg);
    } else if (final == UG_RUN_KILLED) {
        code = UG_EXIT_INTERRUPTED;
        /* Keep the step reached: the checkpoint (with the open logging window) lets `unigfn resume`
         * continue from here exactly. */
        if (loop_save(L, step, &e2)) say_error(0, "unigfn: %s", e2.msg);
        say_error(0, "unigfn: run %s KILLED by signal %d at step %lld (unigfn resume %s continues it)", R->id,
                  ug_signal_seen(), (long long)step, R->id);
    } else if (!o->quiet) {
        ug_out(UG_OUT_REPORT, "run %s FINISHED in %.1f s\n", R->id, ug_now_s() - L->t_start);
        say_where(R);
    }
    if (ug_store_run_end(R->st, R->id, final,
                         bad ? L->errmsg : (final == UG_RUN_KILLED ? "interrupted by a signal" : NULL), step, &e2)) {
        say_error(0, "unigfn: %s", e2.msg);
        if (!code) code = UG_EXIT_FAILED;
    }
    return code;
}

int ug_run(const ug_run_opts *o, ug_registry *reg) {
    run_session *R = calloc(1, sizeof *R);
    if (!R) return say_error(UG_EXIT_FAILED, "unigfn: out of memory");
    R->o = o;
    R->reg = reg;
    R->db_path = o->db_path ? o->db_path : "results.db";
    ug_registry_spec_view(reg, &R->sreg);
    R->lease.fd = -1;
    /* A plugin that did not load makes its name unknown to the spec: say why before the spec does. */
    for (int i = 0; i < ug_registry_problem_count(reg); i++)
        ug_message(UG_LOG_WARN, "%s", ug_registry_problem(reg, i));
    int code = load_spec(R);
    if (code == CONTINUE) code = build(R);
    if (code == CONTINUE) code = open_run(R);
    if (code == CONTINUE) code = begin_row(R);
    if (code == CONTINUE) code = train(R);
    ug_experiment_free(&R->ex);
    ug_spec_free(R->spec);
    ug_run_record_free(R->rec);
    ug_store_close(R->st);
    /* The lease goes last, after the row's final write; a folder this process made and left empty (a
     * run refused or failed before it wrote anything) goes with it. */
    ug_run_lease_release(&R->lease);
    if (R->made_folder && rmdir(R->folder) == 0 && R->made_runs) {
        char *slash = strrchr(R->folder, '/');
        if (slash) *slash = 0, rmdir(R->folder);
    }
    free(R);
    return code;
}
