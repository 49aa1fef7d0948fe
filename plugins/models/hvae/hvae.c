/* hvae.c — the hierarchical VAE as a GFlowNet (paper §3.1, Obs. 1, Eq. 3–6, Prop. 2; docs/families.md
 * §4): options, parameters, capabilities and the descriptor. hvae.h has the model and its math,
 * hvae_cond.c the conditionals, hvae_traj.c the trajectory requests.
 *
 * With P_F the top-down decoder and P_B the bottom-up Markov encoder, the objectives need nothing
 * HVAE-specific (families.md §4):
 *   standard HVAE   kl_tb direction data, reparam: true, updates [forward, backward]: the negative
 *                   ELBO with the encoder's pathwise gradient (cap reparam_b);
 *   MLE-GFN         kl_tb direction data [forward] + tbc [backward] (Algorithm 1; Prop. 14);
 *   evaluation      nll with M particles is the IWAE bound (Eq. 24); its `elbo` is Eq. 3.
 * Groups: `forward` holds the learned prior (prior: learned), the step networks p1..p{n-2} and the
 * decoder p{n-1}; `backward` holds the encoder q1..q{n-1} (q_k: z_{k+1} -> z_k). */
#define UG_PLUGIN
#include "hvae.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const ug_param_spec hvae_schema[] = {
    {"latents", UG_P_INT_LIST, "[4, 4]", UG_P_MIN | UG_P_MAX, 1, 4096, NULL,
     "latent widths d_1 .. d_L, prior side first (horizon n = L + 1)"},
    {"hidden", UG_P_INT_LIST, "[128, 128]", UG_P_MIN | UG_P_MAX, 1, 65536, NULL,
     "hidden widths of every conditional's MLP (ignored with linear: true)"},
    {"act", UG_P_ENUM, "silu", 0, 0, 0, "silu|relu|leaky_relu|elu|gelu|tanh|softplus", "activation between MLP layers"},
    {"prior", UG_P_ENUM, "fixed", 0, 0, 0, "fixed|learned",
     "z_1's prior: N(0, I), or N(m, diag e^{2l}) with m, l in group forward"},
    {"min_log_std", UG_P_FLOAT, "-5", UG_P_MIN | UG_P_MAX, -20, 5, NULL,
     "smooth floor of every log-std: min + softplus(raw - min)"},
    {"linear", UG_P_BOOL, "false", 0, 0, 0, NULL,
     "affine means and free log-std vectors: the linear-Gaussian model (closed-form p(x) and ELBO)"},
    {"decoder", UG_P_ENUM, "auto", 0, 0, 0, "auto|gaussian|bernoulli",
     "p(x | z_L): auto = gaussian for continuous data, bernoulli for binary data"},
    {"dim", UG_P_INT, "0", UG_P_MIN | UG_P_MAX, 0, 1 << 20, NULL, "D of x without a dataset (0 = the dataset's)"},
    {NULL, 0, NULL, 0, 0, 0, NULL, NULL},
};

static void hvae_info(void *self, ug_model_info *out) {
    const hvae *m = self;
    /* A host built against an older, shorter struct gets only the fields it knows. */
    size_t n = out->size < sizeof *out ? out->size : sizeof *out;
    memcpy(out, &m->info, n);
    out->size = (uint32_t)n;
}

/* D, the decoder and the space of x from the dataset and the options; false with err set. */
static bool resolve_space(hvae *m, const ug_create_args *a, ug_error *err) {
    const char *dec = ug_cfg_str(a->cfg, "decoder", "auto");
    int64_t dim = ug_cfg_int(a->cfg, "dim", 0);
    ug_space sp = {0};
    if (a->data) {
        sp = a->data->info.space;
        const char *dn = a->data->name ? a->data->name : "?";
        if (sp.kind != UG_SPACE_CONTINUOUS && sp.kind != UG_SPACE_BINARY) {
            ug_error_set(err, UG_ERR_ARG, "hvae: dataset '%s' is categorical; the decoder is Gaussian (continuous x) or "
                         "Bernoulli (binary x)", dn);
            return false;
        }
        if (dim != 0 && dim != sp.dim) {
            ug_error_set(err, UG_ERR_ARG, "hvae: dim %lld but dataset '%s' has dimension %lld", (long long)dim, dn,
                         (long long)sp.dim);
            return false;
        }
        bool want_bin = strcmp(dec, "bernoulli") == 0, want_gauss = strcmp(dec, "gaussian") == 0;
        if ((want_bin && sp.kind != UG_SPACE_BINARY) || (want_gauss && sp.kind != UG_SPACE_CONTINUOUS)) {
            ug_error_set(err, UG_ERR_ARG, "hvae: decoder %s does not fit dataset '%s' (%s x)", dec, dn,
                         sp.kind == UG_SPACE_BINARY ? "binary" : "continuous");
            return false;
        }
    } else {
        if (dim <= 0 || strcmp(dec, "auto") == 0) {
            ug_error_set(err, UG_ERR_ARG, "hvae: without a dataset, give dim (> 0) and decoder (gaussian or bernoulli)");
            return false;
        }
        sp.kind = strcmp(dec, "bernoulli") == 0 ? UG_SPACE_BINARY : UG_SPACE_CONTINUOUS;
        sp.dim = dim;
    }
    sp.categories = sp.kind == UG_SPACE_BINARY ? 2 : 0;
    m->binary = sp.kind == UG_SPACE_BINARY;
    m->info.space = sp;
    return true;
}

static void hvae_destroy(void *self) { free(self); }

static void *hvae_create(const ug_create_args *a, ug_error *err) {
    hvae *m = calloc(1, sizeof *m);
    if (!m) {
        ug_error_set(err, UG_ERR_NOMEM, "hvae: out of memory");
        return NULL;
    }
    if (!resolve_space(m, a, err)) goto fail;
    int64_t lat[HVAE_MAX_LATENTS + 1], hid[UG_MLP_MAX_LAYERS];
    int L = ug_cfg_ints(a->cfg, "latents", lat, HVAE_MAX_LATENTS + 1);
    int nh = ug_cfg_ints(a->cfg, "hidden", hid, UG_MLP_MAX_LAYERS);
    if (L < 1 || L > HVAE_MAX_LATENTS) {
        ug_error_set(err, UG_ERR_ARG, "hvae: latents lists %d layers; want 1 .. %d", L, HVAE_MAX_LATENTS);
        goto fail;
    }
    if (nh < 0 || nh > UG_MLP_MAX_LAYERS - 1) {
        ug_error_set(err, UG_ERR_ARG, "hvae: hidden lists %d layers; at most %d", nh, UG_MLP_MAX_LAYERS - 1);
        goto fail;
    }
    const char *act_name = ug_cfg_str(a->cfg, "act", "silu");
    ug_act act;
    if (ug_act_from_name(act_name, &act) != UG_OK) {
        ug_error_set(err, UG_ERR_ARG, "hvae: unknown activation '%s'", act_name);
        goto fail;
    }
    m->L = L;
    m->n = L + 1;
    m->width[0] = lat[0];
    for (int k = 1; k <= L; k++) m->width[k] = lat[k - 1];
    m->width[m->n] = m->info.space.dim;
    m->learned_prior = strcmp(ug_cfg_str(a->cfg, "prior", "fixed"), "learned") == 0;
    m->min_log_std = (float)ug_cfg_float(a->cfg, "min_log_std", -5.0);
    bool linear = ug_cfg_bool(a->cfg, "linear", false);

    ug_params *P = a->params;
    ug_status st = UG_OK;
    char name[32];
    if (m->learned_prior) {
        m->prior_mean = ug_param(P, "forward", "prior.mean", 1, &m->width[1]);        // [d_1], starts at 0
        m->prior_log_std = ug_param(P, "forward", "prior.log_std", 1, &m->width[1]);  // [d_1] raw, starts at 0
        if (!m->prior_mean || !m->prior_log_std) st = ug_params_status(P);
    }
    for (int k = 1; st == UG_OK && k < m->n; k++) {
        snprintf(name, sizeof name, "p%d", k);
        st = hvae_cond_init(&m->pf[k], P, "forward", name, m->width[k], m->width[k + 1], m->binary && k == m->n - 1,
                            linear, hid, nh, act, a->rng);
    }
    for (int k = 1; st == UG_OK && k < m->n; k++) {
        snprintf(name, sizeof name, "q%d", k);
        st = hvae_cond_init(&m->q[k], P, "backward", name, m->width[k + 1], m->width[k], false, linear, hid, nh, act,
                            a->rng);
    }
    if (st == UG_OK) st = ug_params_finalize(P);
    if (st != UG_OK) {
        ug_error_set(err, st, "hvae: parameters: %s", ug_params_errmsg(P));
        goto fail;
    }
    m->info.size = sizeof m->info;
    m->info.horizon = m->n;
    m->info.variable_length = false;
    m->info.deterministic_pb = false;
    /* reparam_b: every encoder step is Gaussian. reparam: forward too, unless the decoder is Bernoulli. */
    m->info.caps = UG_CAP_REPARAM_B | UG_CAP_PARTIAL | (m->binary ? 0u : UG_CAP_REPARAM);
    return m;
fail:
    free(m);
    return NULL;
}

static const ug_model_vtable hvae_vtable = {
    .size = sizeof(ug_model_vtable),
    .info = hvae_info,
    .sample_forward = hvae_sample_forward,
    .sample_backward = hvae_sample_backward,
    .rescore = hvae_rescore,
};

static const ug_plugin_desc hvae_desc = {
    UG_DESC_HEADER(UG_KIND_MODEL),
    .name = "hvae",
    .version = "0.1.0",
    .summary = "hierarchical VAE: Gaussian latent layers, top-down decoder (P_F), bottom-up Markov encoder (P_B)",
    .params = hvae_schema,
    .create = hvae_create,
    .destroy = hvae_destroy,
    .vtable = &hvae_vtable,
};

UG_PLUGIN_EXPORT(&hvae_desc)
