/* ddpm_sched.c — the noise schedules of the DDPM plugin and their two copies: host tables for P_F
 * (no graph: P_F never depends on φ through the tape) and tensors for P_B (a graph in φ, so TBC and
 * pathwise estimators can train the learned schedule β_k = β̄_k exp(φ_k)).
 *
 * β̄ in our index: β̄_k = β^Ho_{T+1-k} (s_k = x_{T+1-k}).
 *  - linear (Ho et al. 2020): β^Ho_t = b0 + (b1 - b0)(t-1)/(T-1), with Ho's b0 = 1e-4, b1 = 0.02 for
 *    T = 1000 scaled by 1000/T as improved DDPM does for other T (Nichol & Dhariwal 2021,
 *    get_named_beta_schedule), so that Σβ, hence ᾱ at the noisy end (about e^-10), does not depend
 *    on T. At T = 100 that is 1e-3 .. 0.2. Values above 0.999 (only for T < 21) are clamped.
 *  - cosine (Nichol & Dhariwal 2021, Eq. 17): ᾱ(t) = f(t)/f(0), f(t) = cos²((t/T + s)/(1 + s) π/2),
 *    s = 0.008, β^Ho_t = min(1 - ᾱ(t)/ᾱ(t-1), 0.999).
 * The learned β_k = min(β̄_k exp(φ_k), 0.999); ᾱ_k = Π_{j>=k} (1 - β_j), built in log space as the
 * tensor.h note on ug_cumprod advises: exp(reverse cumsum of log1p(-β)). */
#define UG_PLUGIN
#include "ddpm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BETA_MAX 0.999

bool ddpm_beta_bar(ddpm *m, const char *schedule, double b0, double b1, ug_error *err) {
    const int T = m->T;
    if (strcmp(schedule, "linear") == 0) {
        double scale = 1000.0 / (double)T;
        for (int t = 1; t <= T; t++) {
            double b = scale * (b0 + (b1 - b0) * (double)(t - 1) / (double)(T - 1));
            m->beta_bar[T + 1 - t] = b < BETA_MAX ? b : BETA_MAX;
        }
    } else if (strcmp(schedule, "cosine") == 0) {
        const double s = 0.008;
        double f0 = cos(s / (1 + s) * M_PI / 2), prev = 1.0;
        f0 *= f0;
        for (int t = 1; t <= T; t++) {
            double f = cos(((double)t / T + s) / (1 + s) * M_PI / 2);
            double ab = f * f / f0, b = 1.0 - ab / prev;
            m->beta_bar[T + 1 - t] = b < BETA_MAX ? b : BETA_MAX;
            prev = ab;
        }
    } else {
        ug_error_set(err, UG_ERR_ARG, "ddpm: unknown schedule '%s' (linear, cosine)", schedule);
        return false;
    }
    for (int k = 1; k <= T; k++)
        if (!(m->beta_bar[k] > 0)) {
            ug_error_set(err, UG_ERR_ARG, "ddpm: schedule '%s' gives beta_bar[%d] = %g (want > 0): check beta_start/beta_end",
                         schedule, k, m->beta_bar[k]);
            return false;
        }
    return true;
}

/* P_F's host copies from β (the learned one, or β̄ with pf_beta: fixed). */
static void refresh_host(ddpm *m, const float *phi) {
    const int T = m->T;
    for (int k = 1; k <= T; k++) {
        double b = m->beta_bar[k] * (m->pf_fixed ? 1.0 : exp((double)phi[k - 1]));
        m->hb[k] = b < BETA_MAX ? b : BETA_MAX;
    }
    m->hab[T + 1] = 1.0;
    for (int k = T; k >= 1; k--) m->hab[k] = m->hab[k + 1] * (1.0 - m->hb[k]);
    for (int k = 1; k < T; k++) m->hpost[k] = (1.0 - m->hab[k + 1]) / (1.0 - m->hab[k]) * m->hb[k];
    m->hpost[T] = m->hpost[T - 1];  /* β̃_T = 0 (x is known): the clipped value, as Ho's and iDDPM's code */
    m->f_inv[0] = 1, m->f_eps[0] = 0, m->f_lvb[0] = 0, m->f_lvp[0] = 0, m->f_sd[0] = 1, m->f_sab[0] = 0;
    for (int k = 1; k <= T; k++) {
        double inv = 1.0 / sqrt(1.0 - m->hb[k]), sd = sqrt(1.0 - m->hab[k]);
        m->f_inv[k] = (float)inv;
        m->f_eps[k] = (float)(m->hb[k] / sd * inv);
        m->f_lvb[k] = (float)log(m->hb[k]);
        m->f_lvp[k] = (float)log(m->hpost[k]);
        m->f_sd[k] = (float)sd;
        m->f_sab[k] = (float)sqrt(m->hab[k]);
    }
}

ug_status ddpm_schedule(ddpm *m, ug_ctx *ctx, ddpm_sched *sc) {
    const int T = m->T;
    int64_t sh[1] = {T};
    float *buf = ug_arena_alloc(ctx, sizeof(float) * 2 * (size_t)T);  // [T] φ, [T] β̄
    if (!buf) return ug_ctx_fail(ctx, UG_ERR_NOMEM, "ddpm: out of step memory for the schedule");
    if (ug_tensor_get(ctx, m->phi, buf, T)) return ug_ctx_status(ctx);
    refresh_host(m, buf);
    for (int k = 1; k <= T; k++) buf[T + k - 1] = (float)m->beta_bar[k];
    ug_tensor *bbar = ug_from_f32(ctx, buf + T, 1, sh);                                     // [T]
    sc->beta = ug_clamp(ctx, ug_mul(ctx, bbar, ug_exp(ctx, m->phi)), -INFINITY, (float)BETA_MAX);  // [T]
    sc->log_ab = ug_cumsum(ctx, ug_log1p(ctx, ug_neg(ctx, sc->beta)), 0, true);             // [T] Σ_{j>=k}
    return ug_ctx_status(ctx);
}

ug_tensor *ddpm_coef(ddpm *m, ug_ctx *ctx, const ddpm_k *kk, const float *tab) {
    if (!kk->oh) return ug_scalar(ctx, tab[kk->k]);                      // []
    return ugm_by_row(ctx, kk->oh, ugm_column(ctx, tab, m->T + 1));      // [B, 1]
}

ug_tensor *ddpm_table(ug_ctx *ctx, ug_tensor *v, int T, float v0) {
    int64_t one = 1, sh[2] = {T + 1, 1};
    ug_tensor *parts[2] = {ug_full(ctx, 1, &one, v0), v};                // [1], [T]
    return ug_reshape(ctx, ug_concat(ctx, parts, 2, 0), 2, sh);          // [T+1, 1]
}

bool ddpm_rows(ddpm *m, ug_ctx *ctx, ug_tensor *k, int64_t B, const char *who, ddpm_k *out) {
    if (!ugm_check_rows(ctx, k, B, who)) return false;
    out->k = -1;
    out->oh = ug_one_hot(ctx, k, m->T + 1);                                  // [B, T+1]; fails outside 0..T
    out->t = ug_rsub_scalar(ctx, ug_to_f32(ctx, k), (float)(m->T + 1));      // [B] Ho's t = T+1-k
    return out->oh && out->t && !ug_ctx_status(ctx);
}
