/* runner.c — the training loop with the results store: RUNNING at start, FINISHED / FAILED (with the
 * message) / KILLED (on SIGINT or SIGTERM, after a checkpoint) at the end; metrics, artifacts and
 * checkpoints along the way; `resume` continues a run from its last checkpoint into the same row. */
#include "unigfn/host/runner.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "unigfn/host/experiment.h"
#include "unigfn/host/log.h"
#include "unigfn/host/run_from.h"
#include "ug_version.h"
#include "unigfn/host/util.h"

#ifndef UG_BUILD_INFO
#define UG_BUILD_INFO "unknown"
#endif

/* ---- signals ---- */
static volatile sig_atomic_t g_signal = 0;

static void on_signal(int sig) {
    g_signal = sig;
    signal(sig, SIG_DFL);  /* a second Ctrl-C ends the process at once */
}

void ug_signals_install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}
int ug_signal_seen(void) { return g_signal; }

/* ---- helpers ---- */


void ug_run_folder(const char *db_path, const char *id, char *out, size_t cap) {
    const char *slash = strrchr(db_path, '/');
    if (slash) snprintf(out, cap, "%.*s/runs/%s", (int)(slash - db_path), db_path, id);
    else snprintf(out, cap, "runs/%s", id);
}

typedef struct { const char *prefix; char match[64]; int n; } find_ctx;
static int find_cb(void *user, const ug_run_row *row) {
    find_ctx *f = user;
    if (strncmp(row->id, f->prefix, strlen(f->prefix)) == 0) {
        if (strcmp(row->id, f->prefix) == 0) { snprintf(f->match, sizeof f->match, "%s", row->id); f->n = 1; return 1; }
        snprintf(f->match, sizeof f->match, "%s", row->id);
        f->n++;
    }
    return 0;
}

ug_status ug_find_run(ug_store *st, const char *prefix, char *id_out, size_t cap, ug_error *err) {
    find_ctx f = {.prefix = prefix};
    ug_status s = ug_store_list_runs(st, NULL, NULL, find_cb, &f, err);
    if (s) return s;
    if (f.n == 0) return ug_error_set(err, UG_ERR_ARG, "no run '%s' in the database", prefix);
    if (f.n > 1) return ug_error_set(err, UG_ERR_ARG, "run id prefix '%s' is ambiguous (%d runs)", prefix, f.n);
    snprintf(id_out, cap, "%s", f.match);
    return UG_OK;
}

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

static int train_step(loop_state *L, int64_t step) {
    ug_experiment *ex = L->ex;
    ug_ctx *ctx = ex->ctx;
    ug_step_reset(ctx);
    ug_rng drng = ug_experiment_rng(ex, UG_STREAM_DATA, step);
    ug_tensor *x = NULL;
    if (ex->data.vt->train_batch(ex->data.self, ctx, &drng, ex->batch, step, &x) || !x)
        return fail(L, "step %lld: dataset '%s' failed to draw a batch: %s", (long long)step, ex->data.name,
                    ug_ctx_status(ctx) ? ug_ctx_errmsg(ctx) : "no message");
    double total = 0;
    for (int t = 0; t < ex->n_terms; t++) {
        ug_term *term = &ex->terms[t];
        ug_rng trng = ug_experiment_rng(ex, UG_STREAM_TERM + (uint64_t)t, step);
        ug_step_env env = {.size = sizeof env, .ctx = ctx, .rng = &trng, .model = &ex->model, .data = &ex->data,
                           .batch = x, .step = step, .total_steps = ex->steps, .update_mask = term->update_mask};
        ug_loss_out out = {.size = sizeof out};
        ug_params_zero_grad(ex->params, term->update_mask);
        /* Only the groups this term updates are variables: no graph is recorded through the others. */
        uint64_t prev_groups = ug_set_grad_groups(ctx, term->update_mask);
        ug_status s = term->vt->loss(term->self, &env, &out);
        ug_set_grad_groups(ctx, prev_groups);
        if (s || ug_ctx_status(ctx) || !out.loss)
            return fail(L, "step %lld: objective term %d (%s): %s", (long long)step, t, term->label,
                        ug_ctx_status(ctx) ? ug_ctx_errmsg(ctx) : "loss() failed without a message");
        double lv = (double)ug_item(out.loss);
        if (!isfinite(lv))
            return fail(L, "step %lld: objective term %d (%s): loss is %s", (long long)step, t, term->label,
                        isnan(lv) ? "nan" : "infinite");
        ug_tensor *lw = term->weight == 1.0f ? out.loss : ug_mul_scalar(ctx, out.loss, term->weight);
        if (ug_backward(ctx, lw, term->update_mask))
            return fail(L, "step %lld: objective term %d (%s): backward: %s", (long long)step, t, term->label,
                        ug_ctx_errmsg(ctx));
        for (int k = 0; k < ex->n_optims; k++) {
            if (!((term->update_mask >> ex->optim_group[k]) & 1u)) continue;
            float gn = 0;
            if (ug_optim_step(&ex->optims[k], &gn))
                return fail(L, "step %lld: objective term %d (%s): optimizer: %s", (long long)step, t, term->label,
                            ex->optims[k].err.msg);
        }
        L->acc.loss_sum[t] += lv;
        total += term->weight * lv;
        L->n_logs[t] = out.n_logs;
        for (int i = 0; i < out.n_logs && i < UG_LOSS_MAX_LOGS; i++) {
            L->log_keys[t][i] = out.log_keys[i];
            L->acc.log_sum[t][i] += out.log_values[i];
        }
    }
    L->acc.loss_sum[UG_MAX_TERMS] += total;
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
        if (ex->n_terms > 1) {
            snprintf(names[n], sizeof names[n], "loss.%s", ex->terms[t].label);
            keys[n] = names[n];
            vals[n++] = L->acc.loss_sum[t] / w;
        }
        for (int i = 0; i < L->n_logs[t] && n < 60; i++) {
            snprintf(names[n], sizeof names[n], "%s.%s", ex->terms[t].label, L->log_keys[t][i]);
            keys[n] = names[n];
            vals[n++] = L->acc.log_sum[t][i] / w;
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
        printf("step %lld/%lld  loss %.6g", (long long)step, (long long)ex->steps, vals[0]);
        for (int i = 1; i < n; i++) printf("  %s %.4g", keys[i], vals[i]);
        printf("  %.1f it/s  ETA %s\n", rate, eta);
        fflush(stdout);
    }
    memset(&L->acc, 0, sizeof L->acc);
    return 0;
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
    fprintf(stderr, "\r  step %lld/%lld | %.1f it/s | ETA %s | loss %.5g   ", (long long)step,
            (long long)L->ex->steps, rate, eta, loss);
    fflush(stderr);
}

/* Is metric m due after `step`? Periodic by its own `every` or train.eval_every; at the end when
 * train.eval_at_end (or the metric is at_end_only). */
static bool metric_due(const ug_experiment *ex, const ug_metric_inst *mi, int64_t step) {
    bool last = step == ex->steps;
    if (last && (ex->eval_at_end || mi->at_end_only)) return true;
    if (mi->at_end_only) return false;
    int64_t every = mi->every > 0 ? mi->every : ex->eval_every;
    return every > 0 && step % every == 0;
}

static int evaluate(loop_state *L, int64_t step, ug_error *err) {
    ug_experiment *ex = L->ex;
    for (int m = 0; m < ex->n_metrics; m++) {
        ug_metric_inst *mi = &ex->metrics[m];
        if (!metric_due(ex, mi, step)) continue;
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
            if (L->progress == 1) fprintf(stderr, "\n");
            printf("eval step %lld %s:", (long long)step, mi->desc->name);
            for (int i = 0; i < out.n_values; i++) printf("  %s %.6g", keys[i], out.values[i]);
            printf("\n");
            fflush(stdout);
        }
    }
    ug_step_reset(ex->ctx);
    return 0;
}

static void git_host_build(const char **git, char *host, size_t cap, const char **build) {
    *git = UG_GIT_REV;
    if (gethostname(host, cap)) snprintf(host, cap, "unknown");
    host[cap - 1] = 0;
    *build = UG_BUILD_INFO;
}

int ug_run(const ug_run_opts *o, ug_registry *reg) {
    ug_error err = {0};
    const char *db_path = o->db_path ? o->db_path : "results.db";
    ug_spec_registry sreg;
    ug_registry_spec_view(reg, &sreg);
    ug_spec *spec = NULL;
    ug_store *st = NULL;
    char id[64] = "";
    int code = UG_EXIT_OK;
    ug_run_record *rec = NULL;

    if (o->resume_id) {
        if (ug_store_open(db_path, &st, &err) || ug_find_run(st, o->resume_id, id, sizeof id, &err) ||
            ug_store_get_run(st, id, &rec, &err)) {
            fprintf(stderr, "unigfn: %s\n", err.msg);
            ug_store_close(st);
            return UG_EXIT_FAILED;
        }
        if (rec->status == UG_RUN_FINISHED && !o->force) {
            fprintf(stderr, "unigfn: run %s is already FINISHED\n", id);
            ug_run_record_free(rec);
            ug_store_close(st);
            return UG_EXIT_OK;
        }
        if (ug_spec_load_string(rec->experiment, rec->spec ? rec->spec : "", NULL, 0, &sreg, &spec, &err)) {
            fprintf(stderr, "unigfn: the stored spec of run %s no longer loads: %s\n", id, err.msg);
            ug_run_record_free(rec);
            ug_store_close(st);
            return UG_EXIT_SPEC;
        }
    } else if (ug_spec_load(o->spec_path, o->overrides, o->n_overrides, &sreg, &spec, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return err.code == UG_ERR_SPEC ? UG_EXIT_SPEC : UG_EXIT_FAILED;
    }

    const ug_cfg *sweep = ug_spec_section(spec, "sweep");
    if (sweep && sweep->n > 0 && !o->quiet)
        fprintf(stderr, "unigfn: note: this spec has a sweep: block; `unigfn run` trains the base spec only "
                        "(`unigfn sweep` runs the sweep)\n");
    ug_experiment ex;
    if (ug_experiment_build(&ex, spec, reg, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        ug_experiment_free(&ex);
        ug_run_record_free(rec);
        ug_store_close(st);
        return err.code == UG_ERR_SPEC ? UG_EXIT_SPEC : UG_EXIT_FAILED;
    }
    if (o->resume_id && o->threads > 0) {
        /* Threads stay part of the stored spec (and so of the run id); only this segment's execution
         * changes. Kernels may then sum in another order, so the continuation is no longer guaranteed
         * to be bit-identical to an uninterrupted run. */
        if (!o->quiet && o->threads != ex.threads) {
            if (ex.threads > 0) printf("continuing on %d threads (the spec says %d)\n", o->threads, ex.threads);
            else printf("continuing on %d threads (the spec says all cores)\n", o->threads);
        }
        ex.threads = o->threads;
        ug_set_threads(ex.ctx, o->threads);
    }
    const bool from = o->from_id && !o->resume_id;
    if (o->check_only && !from) {
        printf("%s: ok (run id %s; model %s with %lld parameters)\n", ug_spec_path(ex.spec), ug_spec_id(ex.spec),
               ex.model.name, (long long)ug_params_total(ex.params));
        ug_experiment_free(&ex);
        ug_run_record_free(rec);
        ug_store_close(st);
        return UG_EXIT_OK;
    }
    if (!st && ug_store_open(db_path, &st, &err)) {
        fprintf(stderr, "unigfn: %s\n", err.msg);
        ug_experiment_free(&ex);
        return UG_EXIT_FAILED;
    }
    if (!id[0]) snprintf(id, sizeof id, "%s", ug_spec_id(ex.spec));
    loop_state L = {.ex = &ex, .st = st, .id = id, .quiet = o->quiet};
    int64_t step = 0;
    int bad = 0;
    char src_id[64] = "";
    if (from) {
        /* Checked and loaded before the run row or folder exists: a refused --from leaves no trace. */
        char src_ckpt[1100];
        if (ug_run_from_check(st, &sreg, &ex, id, o->from_id, db_path, src_id, sizeof src_id, src_ckpt,
                              sizeof src_ckpt, &err) ||
            ug_experiment_load(&ex, src_ckpt, &step, &L.acc, sizeof L.acc, &err) ||
            ug_run_from_check_step(&ex, src_id, step, L.acc.window, &err)) {
            fprintf(stderr, "unigfn: %s\n", err.msg);
            ug_experiment_free(&ex);
            ug_store_close(st);
            return UG_EXIT_FAILED;
        }
        if (o->check_only) {
            printf("%s: ok (run id %s; continues run %s from step %lld)\n", ug_spec_path(ex.spec), id, src_id,
                   (long long)step);
            ug_experiment_free(&ex);
            ug_store_close(st);
            return UG_EXIT_OK;
        }
    }
    char folder[1024];
    ug_run_folder(db_path, id, folder, sizeof folder);
    if (ug_mkdir_p(folder)) {
        fprintf(stderr, "unigfn: cannot create %s: %s\n", folder, strerror(errno));
        ug_experiment_free(&ex);
        ug_store_close(st);
        return UG_EXIT_FAILED;
    }
    ug_set_run_dir(folder);
    L.folder = folder;
    L.progress = o->progress >= 0 ? o->progress : isatty(STDERR_FILENO);
    snprintf(L.ckpt, sizeof L.ckpt, "%s/checkpoint.bin", folder);

    if (o->resume_id) {
        if (access(L.ckpt, R_OK) == 0 && ug_experiment_load(&ex, L.ckpt, &step, &L.acc, sizeof L.acc, &err)) {
            fprintf(stderr, "unigfn: %s\n", err.msg);
            ug_experiment_free(&ex);
            ug_run_record_free(rec);
            ug_store_close(st);
            return UG_EXIT_FAILED;
        }
        if (ug_store_run_resume(st, id, step, o->threads, NULL, &err)) {
            fprintf(stderr, "unigfn: %s\n", err.msg);
            ug_experiment_free(&ex);
            ug_run_record_free(rec);
            ug_store_close(st);
            return UG_EXIT_FAILED;
        }
        if (!o->quiet) printf("resuming run %s at step %lld\n", id, (long long)step);
    } else {
        ug_kv kv = {0};
        ug_spec_flatten(ex.spec, ug_kv_add, &kv);
        const char *git, *build;
        char host[256];
        git_host_build(&git, host, sizeof host, &build);
        ug_run_info info = {.id = id, .experiment = ug_spec_name(ex.spec), .spec = ug_spec_canonical(ex.spec),
                            .param_keys = kv.k, .param_values = kv.v,
                            .n_params = kv.n, .seed = (int64_t)ex.seed, .git_rev = git, .host = host,
                            .build = build, .threads = ex.threads > 0 ? ex.threads : (int)sysconf(_SC_NPROCESSORS_ONLN),
                            .force = o->force};
        ug_begin_outcome outcome;
        ug_status s = ug_store_run_begin(st, &info, &outcome, &err);
        ug_kv_free(&kv);
        if (s || outcome == UG_BEGIN_BUSY) {
            fprintf(stderr, "unigfn: %s\n", s ? err.msg : "this run is RUNNING in another process (unigfn gc --mark-crashed if it died)");
            ug_experiment_free(&ex);
            ug_store_close(st);
            return UG_EXIT_FAILED;
        }
        if (outcome == UG_BEGIN_FINISHED) {
            if (!o->quiet) printf("run %s is already FINISHED (use --force to run it again)\n", id);
            ug_experiment_free(&ex);
            ug_store_close(st);
            return UG_EXIT_OK;
        }
        remove(L.ckpt);
        if (src_id[0]) {
            /* The fresh run's history up to the source's checkpoint, and a checkpoint of its own so
             * that a crash before the first periodic one resumes from here. */
            char pbuf[UG_MAX_TERMS + 3][96];
            const char *pats[UG_MAX_TERMS + 3];
            int np = log_key_patterns(&ex, pbuf, pats, UG_MAX_TERMS + 3);
            if (ug_store_copy_history(st, id, src_id, step, pats, np, &err) ||
                ug_experiment_save(&ex, L.ckpt, step, &L.acc, sizeof L.acc, &err))
                bad = 2;
            if (!o->quiet)
                printf("run %s (%s): %lld steps, continuing run %s from step %lld\n", id, ug_spec_name(ex.spec),
                       (long long)ex.steps, src_id, (long long)step);
        } else if (!o->quiet) {
            printf("run %s (%s): %lld steps\n", id, ug_spec_name(ex.spec), (long long)ex.steps);
        }
    }
    fflush(stdout);
    ug_signals_install();
    L.t_start = L.t_last_beat = ug_now_s();
    L.step0 = step;
    ug_run_status final = UG_RUN_FINISHED;
    /* Metrics due at the step continued from are evaluated again (same draws, same values); the
     * source's end-of-run metrics are not part of this run's history. */
    if (!bad && src_id[0] && step > 0 && evaluate(&L, step, &err)) bad = L.errmsg[0] ? 1 : 2;
    while (!bad && step < ex.steps) {
        if (ug_signal_seen()) { final = UG_RUN_KILLED; break; }
        if (train_step(&L, step)) { bad = 1; break; }
        step++;
        progress_line(&L, step, L.acc.window ? L.acc.loss_sum[UG_MAX_TERMS] / (double)L.acc.window : 0);
        if ((ex.log_every > 0 && step % ex.log_every == 0) || step == ex.steps) {
            if (log_window(&L, step, &err)) { bad = 2; break; }
        }
        if (ug_now_s() - L.t_last_beat > 10.0) {
            L.t_last_beat = ug_now_s();
            if (ug_store_heartbeat(st, id, step, &err)) { bad = 2; break; }
        }
        bool last = step == ex.steps;
        if (evaluate(&L, step, &err)) { bad = L.errmsg[0] ? 1 : 2; break; }
        if ((ex.checkpoint_every > 0 && step % ex.checkpoint_every == 0) || last) {
            if (ug_experiment_save(&ex, L.ckpt, step, &L.acc, sizeof L.acc, &err)) { bad = 2; break; }
        }
    }
    if (L.progress == 1 && !o->quiet) fprintf(stderr, "\n");
    if (bad == 2) snprintf(L.errmsg, sizeof L.errmsg, "%s", err.msg);
    ug_error e2 = {0};
    if (bad) {
        final = UG_RUN_FAILED;
        code = UG_EXIT_FAILED;
        fprintf(stderr, "unigfn: run %s FAILED: %s\n", id, L.errmsg);
    } else if (final == UG_RUN_KILLED) {
        code = UG_EXIT_INTERRUPTED;
        /* Keep the step reached: the checkpoint (with the open logging window) lets `unigfn resume`
         * continue from here exactly. */
        if (ug_experiment_save(&ex, L.ckpt, step, &L.acc, sizeof L.acc, &e2)) fprintf(stderr, "unigfn: %s\n", e2.msg);
        fprintf(stderr, "unigfn: run %s KILLED by signal %d at step %lld (unigfn resume %s continues it)\n", id,
                ug_signal_seen(), (long long)step, id);
    } else if (!o->quiet) {
        printf("run %s FINISHED in %.1f s\n", id, ug_now_s() - L.t_start);
    }
    if (ug_store_run_end(st, id, final, bad ? L.errmsg : (final == UG_RUN_KILLED ? "interrupted by a signal" : NULL), step, &e2)) {
        fprintf(stderr, "unigfn: %s\n", e2.msg);
        if (!code) code = UG_EXIT_FAILED;
    }
    ug_experiment_free(&ex);
    ug_run_record_free(rec);
    ug_store_close(st);
    return code;
}
