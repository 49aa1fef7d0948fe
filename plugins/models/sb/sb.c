/* sb.c — a discrete-time Schrödinger bridge between N(0, I) and the data, with BOTH policies learned
 * Gaussians (the paper's Observation 10 and §3.2.2: the SB is a GFlowNet whose P_B is trained too),
 * fitted by iterative proportional fitting (IPF: De Bortoli et al. 2021, "Diffusion Schrödinger
 * Bridge"; Vargas et al. 2021) with the `ipf` objective's two halves in alternating term schedules.
 *
 * Indices (docs/families.md §0 C1–C2, as DDPM §5 and ScoreSDE §7): a root s_0; step 0 draws the first
 * latent from the fixed prior; steps k = 1..T move between s_k and s_{k+1}; x = s_{T+1}, horizon T+1.
 *   step 0:   P_F(s_1) = N(0, I)                                            log_pb[0] = 0
 *   k >= 1:   P_F(s_{k+1} | s_k) = N(s_k + mu_theta(s_k, k), sigma_k^2 I)   network "mu", group "forward"
 *             P_B(s_k | s_{k+1}) = N(a_k s_{k+1} + nu_phi(s_{k+1}, k), sigma_k^2 I)   network "nu", group "backward"
 * Both networks are ugm_time_mlp (cont_common.h): MLP([s, emb(k)]) with the step index k as time, and
 * they give the drifts per unit of step variance, mu_theta = beta_k g_theta(s, k) and nu_phi = beta_k
 * h_phi(s, k) (the net is a score-like field, O(1) at every step: a VP step's drift is beta (s/2 + score)
 * to first order). Why: the likelihood's gradient in a step's mean is (mean - target)/beta_k, whose
 * noise from the sampled step is eps/sqrt(beta_k); unscaled, the data-end steps (beta = 1e-3) drown the
 * rest and training sits on a plateau for hundreds of steps (seen on 8gaussians at T = 10); scaled by
 * beta_k the gradient in the net's output is (mean - target) with noise sqrt(beta_k) eps.
 * The per-step variance sigma_k^2 = beta_k is fixed and shared by the two directions (`sigma`):
 *   linear:   beta_k = beta_max - (beta_max - beta_min)(k-1)/(T-1)  (DDPM's linear schedule in our index:
 *             large steps at the prior end k = 1, small ones at the data end k = T; beta_1 = beta_max if T = 1)
 *   constant: beta_k = beta_max.
 *
 * The reference (`reference`) is P_B's fixed part: a_k s_{k+1} with nu_phi's last layer initialised at
 * zero, so before any training P_B IS the reference process:
 *   vp:   a_k = sqrt(1 - beta_k): DDPM's noising step s_k = sqrt(1 - beta_k) s_{k+1} + sqrt(beta_k) eps,
 *         the exact discretisation of the VP (Ornstein–Uhlenbeck) SDE that keeps N(0, I) invariant.
 *         From x its marginal at s_1 is N(sqrt(abar) x, (1 - abar) I) exactly, abar = prod_k (1 - beta_k),
 *         so the endpoint law q_1 = E_x N(sqrt(abar) x, (1 - abar) I) has, by convexity of the KL,
 *             KL(q_1 || N(0, I)) <= E_x[abar |x|^2 / 2] + (D/2)(-abar - log(1 - abar)).
 *         With the defaults (T = 20, linear 1e-3 .. 0.6) abar = 3.8e-4; on checkerboard (E|x|^2 = 32/3)
 *         the bound is 0.0020 nats: the reference bridges the data to N(0, I) already, and IPF's first
 *         forward half is a DDPM fit (P_F learns to reverse it; that is kl_tb direction data).
 *   none: a_k = 1: a Brownian reference whose s_1 is x + N(0, sum_k beta_k I), NOT N(0, I); the prior
 *         mismatch is left for the IPF iterations to remove (DSB's setting with a non-mixing reference).
 * P_F's last layer starts at zero as well: the first P_F is the random walk N(s_k, beta_k I).
 *
 * IPF (objective `ipf`, plugins/objectives/ipf): half forward fits P_F to P_B's paths from data,
 * min_theta KL(p_data P_B || P_F) (= kl_tb direction data); half backward fits P_B to P_F's paths from the
 * prior, min_phi E_{tau~P_F}[-log P_B(tau | x)], the maximum likelihood of forward paths (with a fixed
 * variance, mean matching to E[s_k | s_{k+1}] under P_F). Alternation is the spec: two or more terms with
 * `start`/`stop` blocks (experiments/continuous/specs/sb.yaml).
 *
 * Sampling is reparameterized in both directions (s' = mean + sigma eps), so UG_CAP_REPARAM and
 * UG_CAP_REPARAM_B; states are detached otherwise (C6). temperature T multiplies the forward variances,
 * the prior's included (C7); backward requests are untempered. rescore reads the states (C8). */
#define UG_PLUGIN
#include "unigfn/plugin.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sb.h"

#define SB_MAX_WIDTHS (UG_MLP_MAX_LAYERS - 1)

static const ug_param_spec sb_params[] = {
    {"dim", UG_P_INT, "2", UG_P_MIN | UG_P_MAX, 1, 4096, NULL, "dimension D of x (must match the dataset's)"},
    {"steps", UG_P_INT, "20", UG_P_MIN | UG_P_MAX, 1, SB_MAX_STEPS, NULL,
     "T: Gaussian steps between the prior s_1 and x = s_{T+1} (horizon T + 1)"},
    {"sigma", UG_P_ENUM, "linear", 0, 0, 0, "linear|constant",
     "per-step variance sigma_k^2 = beta_k: linear from beta_max (prior end) to beta_min (data end), or beta_max"},
    {"beta_min", UG_P_FLOAT, "0.001", UG_P_MIN | UG_P_MAX | UG_P_MIN_OPEN | UG_P_MAX_OPEN, 0, 1, NULL,
     "smallest step variance (at the data end; linear only)"},
    {"beta_max", UG_P_FLOAT, "0.6", UG_P_MIN | UG_P_MAX | UG_P_MIN_OPEN | UG_P_MAX_OPEN, 0, 1, NULL,
     "largest step variance (at the prior end), or every step's with sigma: constant"},
    {"reference", UG_P_ENUM, "vp", 0, 0, 0, "vp|none",
     "P_B's fixed part: the VP noising step sqrt(1 - beta_k) s_{k+1}, or none (Brownian, s_{k+1})"},
    {"hidden", UG_P_INT_LIST, "[128, 128, 128]", UG_P_MIN, 1, 0, NULL,
     "hidden widths of each network (mu_theta and nu_phi); [] makes them affine in (s, emb(k))"},
    {"act", UG_P_ENUM, "silu", 0, 0, 0, "silu|relu|leaky_relu|gelu|tanh|elu", "activation between layers"},
    {"temb", UG_P_INT, "16", UG_P_MIN | UG_P_MAX, 0, 1024, NULL,
     "width of the sinusoidal embedding of the step index k (0: no time input; else >= 2)"},
    {NULL, 0, NULL, 0, 0, 0, NULL, NULL},
};

static void sb_info(void *self, ug_model_info *out) {
    sb *m = self;
    out->space = (ug_space){.kind = UG_SPACE_CONTINUOUS, .dim = m->D};
    out->horizon = m->T + 1;
    out->variable_length = false;
    out->deterministic_pb = false;
    out->caps = UG_CAP_PARTIAL | UG_CAP_REPARAM | UG_CAP_REPARAM_B;
}

static void sb_destroy(void *self) { free(self); }

static void *sb_fail(sb *m, ug_error *err, ug_status code, const char *msg) {
    ug_error_set(err, code, "sb: %s", msg);
    free(m);
    return NULL;
}

/* Zero a network's last layer: its output starts at 0 (P_B = the reference, P_F = a random walk). */
static void zero_last(ugm_time_mlp *n) {
    ug_linear_layer *L = &n->mlp.layers[n->mlp.n_layers - 1];
    ug_init_const(L->w, 0.0f);
    if (L->b) ug_init_const(L->b, 0.0f);
}

static void *sb_create(const ug_create_args *a, ug_error *err) {
    if (!a || !a->cfg || !a->params || !a->rng) {
        ug_error_set(err, UG_ERR_ARG, "sb: create needs a config, params and an rng");
        return NULL;
    }
    sb *m = calloc(1, sizeof *m);
    if (!m) {
        ug_error_set(err, UG_ERR_NOMEM, "sb: out of memory");
        return NULL;
    }
    const ug_cfg *c = a->cfg;
    m->D = (int)ug_cfg_int(c, "dim", 2);
    m->T = (int)ug_cfg_int(c, "steps", 20);
    if (m->D < 1 || m->T < 1 || m->T > SB_MAX_STEPS) return sb_fail(m, err, UG_ERR_ARG, "need dim >= 1 and 1 <= steps <= 1000");
    if (a->data && (a->data->info.space.kind != UG_SPACE_CONTINUOUS || a->data->info.space.dim != m->D)) {
        ug_error_set(err, UG_ERR_ARG, "sb: dataset '%s' is not continuous of dimension %d (set encoding: continuous, "
                     "and dim to its dimension)", a->data->name ? a->data->name : "?", m->D);
        free(m);
        return NULL;
    }
    const double bmin = ug_cfg_float(c, "beta_min", 0.001), bmax = ug_cfg_float(c, "beta_max", 0.6);
    const bool constant = strcmp(ug_cfg_str(c, "sigma", "linear"), "constant") == 0;
    if (!(bmin > 0 && bmin < 1 && bmax > 0 && bmax < 1))
        return sb_fail(m, err, UG_ERR_ARG, "beta_min and beta_max must lie in (0, 1)");
    if (!constant && bmin > bmax) return sb_fail(m, err, UG_ERR_ARG, "sigma: linear needs beta_min <= beta_max");
    const char *ref = ug_cfg_str(c, "reference", "vp");
    if (strcmp(ref, "vp") != 0 && strcmp(ref, "none") != 0) return sb_fail(m, err, UG_ERR_ARG, "reference must be vp or none");
    m->ref = strcmp(ref, "vp") == 0 ? SB_REF_VP : SB_REF_NONE;
    for (int k = 1; k <= m->T; k++) {
        double b = constant || m->T == 1 ? bmax : bmax - (bmax - bmin) * (double)(k - 1) / (double)(m->T - 1);
        m->beta[k] = (float)b;
        m->ref_a[k] = m->ref == SB_REF_VP ? (float)sqrt(1.0 - b) : 1.0f;
    }

    int64_t hidden[SB_MAX_WIDTHS + 1];
    int nh = ug_cfg_ints(c, "hidden", hidden, SB_MAX_WIDTHS + 1);
    if (nh < 0) { /* not resolved against the schema: its default */
        nh = 3;
        hidden[0] = hidden[1] = hidden[2] = 128;
    }
    if (nh > SB_MAX_WIDTHS) return sb_fail(m, err, UG_ERR_ARG, "too many hidden layers");
    for (int i = 0; i < nh; i++)
        if (hidden[i] < 1) return sb_fail(m, err, UG_ERR_ARG, "hidden widths must be >= 1");
    ug_act act;
    if (ug_act_from_name(ug_cfg_str(c, "act", "silu"), &act)) return sb_fail(m, err, UG_ERR_ARG, "unknown act");
    int64_t temb = ug_cfg_int(c, "temb", 16);
    if (temb == 1 || temb < 0) return sb_fail(m, err, UG_ERR_ARG, "temb must be 0 (no time input) or >= 2");

    if (ugm_time_mlp_init(&m->mu, a->params, "forward", "mu", m->D, m->D, temb, 1.0f, hidden, nh, act, a->rng) ||
        ugm_time_mlp_init(&m->nu, a->params, "backward", "nu", m->D, m->D, temb, 1.0f, hidden, nh, act, a->rng)) {
        ug_error_set(err, UG_ERR_ARG, "sb: networks: %s", ug_params_errmsg(a->params));
        free(m);
        return NULL;
    }
    zero_last(&m->mu);
    zero_last(&m->nu);
    return m;
}

static const ug_model_vtable sb_vt = {
    .size = sizeof(ug_model_vtable),
    .info = sb_info,
    .sample_forward = sb_sample_forward,
    .sample_backward = sb_sample_backward,
    .rescore = sb_rescore,
};

static const ug_plugin_desc sb_desc = {
    UG_DESC_HEADER(UG_KIND_MODEL),
    .name = "sb",
    .version = "0.1.0",
    .summary = "discrete-time Schrödinger bridge N(0, I) <-> data: learned Gaussian P_F and P_B (VP reference), "
               "trained by IPF (objective ipf)",
    .params = sb_params,
    .create = sb_create,
    .destroy = sb_destroy,
    .vtable = &sb_vt,
};

UG_PLUGIN_EXPORT(&sb_desc)
