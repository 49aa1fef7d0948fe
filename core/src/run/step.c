/* step.c — one training step, top to bottom: batch → per-term loss → backward into the term's groups →
 * optimizer steps; and, beside it, one metric evaluation. The runner (runner.c) adds the logging
 * window, the store, checkpoints and signals around these; the benchmark and the diagnostics call
 * them directly, so all three do the same arithmetic. */
#include "unigfn/host/step.h"

#include <math.h>
#include <string.h>

ug_rng ug_experiment_rng(const ug_experiment *ex, uint64_t stream, int64_t step) {
    return ug_rng_make(ex->seed, (stream << 40) | (uint64_t)step);
}

ug_status ug_train_step(ug_experiment *ex, int64_t step, ug_step_losses *out, ug_error *err) {
    ug_ctx *ctx = ex->ctx;
    ug_step_reset(ctx);
    ug_rng drng = ug_experiment_rng(ex, UG_STREAM_DATA, step);
    ug_tensor *x = NULL;  // [B, ...] the dataset's encoding
    if (ex->data.vt->train_batch(ex->data.self, ctx, &drng, ex->batch, step, &x) || !x)
        return ug_error_set(err, UG_ERR_PLUGIN, "step %lld: dataset '%s' failed to draw a batch: %s", (long long)step,
                            ex->data.name, ug_ctx_status(ctx) ? ug_ctx_errmsg(ctx) : "no message");
    return ug_step_terms(ex, step, x, out, err);
}

bool ug_term_active(const ug_term *term, int64_t step) {
    return step >= term->start && (term->stop == 0 || step < term->stop) && step % term->every == term->phase;
}

ug_status ug_step_terms(ug_experiment *ex, int64_t step, ug_tensor *x, ug_step_losses *out, ug_error *err) {
    ug_ctx *ctx = ex->ctx;
    memset(out, 0, sizeof *out);
    for (int t = 0; t < ex->n_terms; t++) {
        ug_term *term = &ex->terms[t];
        if (!ug_term_active(term, step)) continue;
        ug_rng trng = ug_experiment_rng(ex, UG_STREAM_TERM + (uint64_t)t, step);
        ug_step_env env = {.size = sizeof env, .ctx = ctx, .rng = &trng, .model = &ex->model, .data = &ex->data,
                           .batch = x, .step = step, .total_steps = ex->steps, .update_mask = term->update_mask};
        ug_loss_out lo = {.size = sizeof lo};
        ug_params_zero_grad(ex->params, term->update_mask);
        /* Only the groups this term updates are variables: no graph is recorded through the others. */
        uint64_t prev_groups = ug_set_grad_groups(ctx, term->update_mask);
        ug_status s = term->vt->loss(term->self, &env, &lo);
        ug_set_grad_groups(ctx, prev_groups);
        if (s || ug_ctx_status(ctx) || !lo.loss)
            return ug_error_set(err, UG_ERR_PLUGIN, "step %lld: objective term %d (%s): %s", (long long)step, t,
                                term->label,
                                ug_ctx_status(ctx) ? ug_ctx_errmsg(ctx) : "loss() failed without a message");
        double lv = (double)ug_item(lo.loss);  // [] the term's loss
        if (!isfinite(lv))
            return ug_error_set(err, UG_ERR_NUMERIC, "step %lld: objective term %d (%s): loss is %s", (long long)step,
                                t, term->label, isnan(lv) ? "nan" : "infinite");
        if (ex->max_loss > 0 && fabs(lv) > ex->max_loss)
            return ug_error_set(err, UG_ERR_NUMERIC,
                                "step %lld: objective term %d (%s): loss %.6g is beyond train.max_loss = %g (diverged)",
                                (long long)step, t, term->label, lv, ex->max_loss);
        ug_tensor *lw = term->weight == 1.0f ? lo.loss : ug_mul_scalar(ctx, lo.loss, term->weight);
        if (ug_backward(ctx, lw, term->update_mask))
            return ug_error_set(err, UG_ERR_NUMERIC, "step %lld: objective term %d (%s): backward: %s",
                                (long long)step, t, term->label, ug_ctx_errmsg(ctx));
        for (int k = 0; k < ex->n_optims; k++) {
            if (!((term->update_mask >> ex->optim_group[k]) & 1u)) continue;
            float gn = 0;
            if (ug_optim_step(&ex->optims[k], &gn))
                return ug_error_set(err, UG_ERR_NUMERIC, "step %lld: objective term %d (%s): optimizer: %s",
                                    (long long)step, t, term->label, ex->optims[k].err.msg);
            if (ex->max_grad_norm > 0 && gn > ex->max_grad_norm) {
                const char *g = "?";
                ug_params_group_info(ex->params, ex->optim_group[k], &g, NULL, NULL, NULL);
                return ug_error_set(err, UG_ERR_NUMERIC,
                                    "step %lld: objective term %d (%s): gradient norm %.6g of group '%s' is beyond "
                                    "train.max_grad_norm = %g (diverged)",
                                    (long long)step, t, term->label, (double)gn, g, ex->max_grad_norm);
            }
            ug_ema_update(&ex->ema[k]);
        }
        out->ran[t] = true;
        out->loss[t] = lv;
        out->total += term->weight * lv;
        out->n_logs[t] = lo.n_logs < UG_LOSS_MAX_LOGS ? lo.n_logs : UG_LOSS_MAX_LOGS;
        for (int i = 0; i < out->n_logs[t]; i++) {
            out->log_keys[t][i] = lo.log_keys[i];
            out->log_values[t][i] = lo.log_values[i];
        }
    }
    return UG_OK;
}

bool ug_metric_due(const ug_experiment *ex, int m, int64_t step) {
    const ug_metric_inst *mi = &ex->metrics[m];
    bool last = step == ex->steps;
    if (last && (ex->eval_at_end || mi->at_end_only)) return true;
    if (mi->at_end_only) return false;
    int64_t every = mi->every > 0 ? mi->every : ex->eval_every;
    return every > 0 && step % every == 0;
}

ug_status ug_experiment_eval_metric(ug_experiment *ex, int m, int64_t step, const char *artifact_dir,
                                    ug_metric_out *out, ug_error *err) {
    ug_metric_inst *mi = &ex->metrics[m];
    ug_experiment_use_ema(ex, true);  /* metrics see the parameter averages where `ema:` is on */
    ug_step_reset(ex->ctx);
    bool prev = ug_set_grad_enabled(ex->ctx, false);
    ug_rng r = ug_experiment_rng(ex, UG_STREAM_METRIC + (uint64_t)m, step);
    ug_eval_env env = {.size = sizeof env, .ctx = ex->ctx, .rng = &r, .model = &ex->model, .data = &ex->data,
                       .step = step, .artifact_dir = artifact_dir};
    *out = (ug_metric_out){.size = sizeof *out};
    ug_status s = mi->vt->evaluate(mi->self, &env, out);
    ug_set_grad_enabled(ex->ctx, prev);
    ug_experiment_use_ema(ex, false);
    if (s || ug_ctx_status(ex->ctx))
        return ug_error_set(err, s ? s : ug_ctx_status(ex->ctx), "metric %d (%s): %s", m, mi->desc->name,
                            ug_ctx_status(ex->ctx) ? ug_ctx_errmsg(ex->ctx) : "evaluate() failed without a message");
    return UG_OK;
}
