/* d3pm_sched.c — the noise schedules of the D3PM plugin and their two copies: host tables (P_F's
 * coefficients, constants; P_B's β and ᾱ for its samplers) and tensors for P_B's densities (a graph in
 * φ, so TBC can train the learned schedule β_k = min(β̄_k exp(φ_k), β_max)).
 *
 * β̄ in our index: β̄_k = β^A_{T+1-k}, with Austin et al.'s β^A_t (s_k is their x_{T+1-k}); the three
 * schedules of their code (get_diffusion_betas):
 *  - cosine (Hoogeboom et al. 2021, as Austin's code writes it, used there for the uniform kernel):
 *    f(t) = cos((t/T + 0.008)/1.008 · π/2) (not squared), β^A_t = min(1 - f(t)/f(t-1), 0.999);
 *  - linear: β^A_t from beta_start to beta_end in T equal steps (np.linspace);
 *  - jsd (Sohl-Dickstein et al. 2015; Austin's choice for the absorbing kernel): β^A_t = 1/(T-t+1),
 *    i.e. β̄_k = 1/k: the absorbing ᾱ_k = (k-1)/T falls linearly and s_1 is all-MASK.
 * The absorbing kernel pins β_1 = 1 (so s_1 is all-MASK whatever φ does, d3pm.h) and needs a schedule
 * that already ends there (β̄_1 >= 0.999): create() refuses others rather than change them silently.
 * ᾱ_k = Π_{j>=k} (1 - β_j) in log space (exp of a reverse cumsum of log1p(-β)), which β <= β_max keeps
 * finite; the absorbing ᾱ_1 = 0 is the constant NEG in log space. */
#define UG_PLUGIN
#include "d3pm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define COSINE_MAX 0.999 /* Austin's clamp of the cosine schedule */

bool d3pm_beta_bar(d3pm *m, const char *schedule, double b0, double b1, ug_error *err) {
    const int T = m->T;
    for (int t = 1; t <= T; t++) {
        double b;
        if (strcmp(schedule, "cosine") == 0) {
            double f0 = cos(((double)(t - 1) / T + 0.008) / 1.008 * M_PI / 2);
            double f1 = cos(((double)t / T + 0.008) / 1.008 * M_PI / 2);
            b = fmin(1.0 - f1 / f0, COSINE_MAX);
        } else if (strcmp(schedule, "linear") == 0) {
            b = b0 + (b1 - b0) * (double)(t - 1) / (double)(T - 1);
        } else if (strcmp(schedule, "jsd") == 0) {
            b = 1.0 / (double)(T - t + 1);
        } else {
            ug_error_set(err, UG_ERR_ARG, "d3pm: unknown schedule '%s' (cosine, linear, jsd)", schedule);
            return false;
        }
        m->beta_bar[T + 1 - t] = b;
    }
    for (int k = 1; k <= T; k++)
        if (!(m->beta_bar[k] > 0 && m->beta_bar[k] <= 1)) {
            ug_error_set(err, UG_ERR_ARG, "d3pm: schedule '%s' gives beta_bar[%d] = %g (want 0 < beta <= 1): check "
                         "beta_start/beta_end", schedule, k, m->beta_bar[k]);
            return false;
        }
    if (m->kernel == D3PM_ABSORBING && m->beta_bar[1] < COSINE_MAX) {
        ug_error_set(err, UG_ERR_ARG, "d3pm: the absorbing kernel masks every coordinate at the noisiest step, but "
                     "schedule '%s' ends at beta %g there: use jsd, cosine, or linear with beta_end: 1", schedule,
                     m->beta_bar[1]);
        return false;
    }
    return true;
}

/* log v with the structural zero NEG for v <= 0 (host doubles). */
static double safe_log(double v) { return v > 0 ? log(v) : (double)D3PM_NEG; }

/* β (as float, the tensors' precision) and ᾱ from β̄ and φ. */
static void host_beta(const d3pm *m, const float *phi, bool fixed, double *b, double *ab) {
    const int T = m->T;
    for (int k = 1; k <= T; k++) {
        double v = m->beta_bar[k] * (fixed ? 1.0 : exp((double)phi[k - 1]));
        b[k] = (double)(float)fmin(v, D3PM_BETA_MAX);
    }
    if (m->kernel == D3PM_ABSORBING) b[1] = 1.0;
    b[0] = 0;
    ab[T + 1] = 1.0;
    for (int k = T; k >= 1; k--) ab[k] = ab[k + 1] * (1.0 - b[k]);
    ab[0] = ab[1];
}

/* P_F's columns (d3pm.h, d3pm_cols) from its host β, ᾱ into col [4 (T+1)]. */
static void host_cols(const d3pm *m, const double *b, const double *ab, float *col) {
    const int T = m->T, n = T + 1;
    const double K = (double)m->K;
    for (int i = 0; i < 4; i++) col[i * n] = 0.0f;
    for (int k = 1; k <= T; k++) {
        if (m->kernel == D3PM_UNIFORM) {
            col[k] = (float)log(b[k] / K);
            col[n + k] = (float)log(1.0 - b[k] + b[k] / K);
        } else {
            col[k] = (float)safe_log(b[k]);
            col[n + k] = (float)safe_log(1.0 - b[k]);
        }
        col[2 * n + k] = (float)safe_log(ab[k + 1]);
        col[3 * n + k] = k == T ? D3PM_NEG : (float)safe_log(1.0 - ab[k + 1]);
    }
}

/* A [T] tensor v (index k - 1) as a [T+1, 1] column with 0 at k = 0. */
static ug_tensor *column(ug_ctx *ctx, ug_tensor *v, int T) {
    int64_t one = 1, sh[2] = {T + 1, 1};
    ug_tensor *parts[2] = {ug_zeros(ctx, 1, &one), v};
    return ug_reshape(ctx, ug_concat(ctx, parts, 2, 0), 2, sh);
}

/* [a (n_a values), b] along axis 0. */
static ug_tensor *cat2(ug_ctx *ctx, ug_tensor *a, ug_tensor *b) {
    ug_tensor *parts[2] = {a, b};
    return ug_concat(ctx, parts, 2, 0);
}

/* log(max(v, 1e-30)): finite, and its gradient 0 where clamped (no 0 · inf). */
static ug_tensor *clamped_log(ug_ctx *ctx, ug_tensor *v) { return ug_log(ctx, ug_clamp(ctx, v, 1e-30f, INFINITY)); }

ug_status d3pm_schedule(d3pm *m, ug_ctx *ctx, d3pm_sched *sc) {
    const int T = m->T;
    int64_t sh[1] = {T}, one = 1, tm1 = T - 1;
    float *buf = ug_arena_alloc(ctx, sizeof(float) * 2 * (size_t)T);  // [T] φ, [T] β̄
    if (!buf) return ug_ctx_fail(ctx, UG_ERR_NOMEM, "d3pm: out of step memory for the schedule");
    if (ug_tensor_get(ctx, m->phi, buf, T)) return ug_ctx_status(ctx);
    host_beta(m, buf, false, m->hb, m->hab);
    host_beta(m, buf, m->pf_fixed, m->fb, m->fab);
    host_cols(m, m->fb, m->fab, m->pf_col);
    const int64_t n = T + 1, csh[2] = {n, 1};
    sc->pf.a1 = ug_from_f32(ctx, m->pf_col, 2, csh);          // [T+1, 1] each
    sc->pf.a2 = ug_from_f32(ctx, m->pf_col + n, 2, csh);
    sc->pf.m1 = ug_from_f32(ctx, m->pf_col + 2 * n, 2, csh);
    sc->pf.m2 = ug_from_f32(ctx, m->pf_col + 3 * n, 2, csh);

    /* P_B's tensors, a graph in φ */
    for (int k = 1; k <= T; k++) buf[T + k - 1] = (float)m->beta_bar[k];
    ug_tensor *bbar = ug_from_f32(ctx, buf + T, 1, sh);                                                 // [T]
    ug_tensor *raw = ug_clamp(ctx, ug_mul(ctx, bbar, ug_exp(ctx, m->phi)), 0.0f, (float)D3PM_BETA_MAX);  // [T]
    ug_tensor *neg1 = ug_full(ctx, 1, &one, D3PM_NEG);                                                  // [1]
    ug_tensor *l1b;  // [T] log(1 - β_k)
    if (m->kernel == D3PM_ABSORBING) {
        ug_tensor *tail = ug_slice(ctx, raw, 0, 1, tm1);                                                // [T-1] k = 2..T
        sc->beta = cat2(ctx, ug_full(ctx, 1, &one, 1.0f), tail);
        sc->log_ab = cat2(ctx, neg1, ug_cumsum(ctx, ug_log1p(ctx, ug_neg(ctx, tail)), 0, true));
        l1b = cat2(ctx, neg1, ug_log(ctx, ug_rsub_scalar(ctx, tail, 1.0f)));
    } else {
        sc->beta = raw;
        sc->log_ab = ug_cumsum(ctx, ug_log1p(ctx, ug_neg(ctx, raw)), 0, true);                          // Σ_{j>=k}
        l1b = NULL;
    }
    const float K = (float)m->K;
    if (m->kernel == D3PM_UNIFORM) {
        sc->pb.a1 = column(ctx, ug_add_scalar(ctx, clamped_log(ctx, sc->beta), -logf(K)), T);
        sc->pb.a2 = column(ctx, ug_log(ctx, ug_rsub_scalar(ctx, ug_mul_scalar(ctx, sc->beta, (K - 1) / K), 1.0f)), T);
    } else {
        sc->pb.a1 = column(ctx, clamped_log(ctx, sc->beta), T);
        sc->pb.a2 = column(ctx, l1b, T);
    }
    /* the next state's marginal: log ᾱ_{k+1}, log(1 - ᾱ_{k+1}) for k = 1..T (ᾱ_{T+1} = 1) */
    ug_tensor *next = ug_slice(ctx, sc->log_ab, 0, 1, tm1);                                            // [T-1] k+1 = 2..T
    sc->pb.m1 = column(ctx, cat2(ctx, next, ug_zeros(ctx, 1, &one)), T);
    sc->pb.m2 = column(ctx, cat2(ctx, clamped_log(ctx, ug_rsub_scalar(ctx, ug_exp(ctx, next), 1.0f)), neg1), T);
    return ug_ctx_status(ctx);
}

ug_tensor *d3pm_coef(ug_ctx *ctx, ug_tensor *col, const d3pm_k *kk) {
    if (!kk->oh) {
        int64_t sh[3] = {1, 1, 1};
        return ug_reshape(ctx, ug_slice(ctx, col, 0, kk->k, 1), 3, sh);  // [1, 1, 1]
    }
    int64_t sh[3] = {kk->oh->shape[0], 1, 1};
    return ug_reshape(ctx, ugm_by_row(ctx, kk->oh, col), 3, sh);         // [B, 1, 1]
}

d3pm_k d3pm_batch_k(d3pm *m, ug_ctx *ctx, int64_t B, int k) {
    return (d3pm_k){.k = k, .oh = NULL, .t = ugm_fill_rows(ctx, B, (float)(m->T + 1 - k))};  // t [B]
}

bool d3pm_rows(d3pm *m, ug_ctx *ctx, ug_tensor *k, int64_t B, const char *who, d3pm_k *out) {
    if (!ugm_check_rows(ctx, k, B, who)) return false;
    out->k = -1;
    out->oh = ug_one_hot(ctx, k, m->T + 1);                               // [B, T+1]; fails outside 0..T
    out->t = ug_rsub_scalar(ctx, ug_to_f32(ctx, k), (float)(m->T + 1));   // [B] t = T+1-k
    return out->oh && out->t && !ug_ctx_status(ctx);
}
