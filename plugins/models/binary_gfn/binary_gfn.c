/* binary_gfn.c — the binary GFlowNet model plugin of EB-GFN (REPRODUCTION §3): schema, parameter
 * groups, the optional heads (log Z, log F(s), energy log R(x) = -E(x)) and the descriptor.
 * Trajectory sampling and re-scoring live in bgfn_traj.c.
 *
 * Parameter groups:
 *   shared_trunk false: "forward" = P_F MLP D -> hidden -> 2D (θ), "backward" = P_B MLP D -> hidden -> D (φ)
 *   shared_trunk true:  "forward" = one trunk D -> hidden -> 3D holding both θ and φ — they are ONE
 *                       group, so an objective that updates only "backward" trains nothing there;
 *                       spec a shared-trunk model with both policy losses updating "forward".
 *   learn_pb false:     no backward parameters (P_B uniform over the set positions).
 *   "logZ" (log_z), "flow" (flow_head: MLP D -> hidden -> 1), "energy" (energy: MLP D -> energy_hidden
 *   -> 1 with ELU, as EB-GFN's energy model). */
#define UG_PLUGIN
#include "binary_gfn.h"

#include <stdlib.h>
#include <string.h>

#define MAX_WIDTHS (UG_MLP_MAX_LAYERS + 1)

static const ug_param_spec bgfn_schema[] = {
    {"hidden", UG_P_INT_LIST, "[256, 256, 256]", UG_P_MIN, 1, 0, NULL,
     "hidden widths of each policy MLP (or of the shared trunk)"},
    {"act", UG_P_ENUM, "leaky_relu", 0, 0, 0, "leaky_relu|relu|elu|gelu|silu|tanh",
     "activation between layers (leaky_relu has slope 0.01)"},
    {"shared_trunk", UG_P_BOOL, "false", 0, 0, 0, NULL,
     "one MLP with 3D outputs for P_F and P_B (then θ and φ are one group, 'forward')"},
    {"learn_pb", UG_P_BOOL, "true", 0, 0, 0, NULL, "learned P_B; false = uniform over set positions"},
    {"forward_positions", UG_P_ENUM, "learned", UG_P_ID_OPTIONAL, 0, 0, "learned|uniform",
     "P_F over (position, value) pairs, or a uniform position with a learned value (EB-GFN code's tbrf)"},
    {"log_z", UG_P_BOOL, "true", 0, 0, 0, NULL, "a learned scalar log Z (group logZ)"},
    {"flow_head", UG_P_BOOL, "false", 0, 0, 0, NULL, "an MLP for log F(s) (group flow)"},
    {"energy", UG_P_BOOL, "false", 0, 0, 0, NULL, "an energy MLP giving log R(x) = -E(x) (group energy)"},
    {"energy_hidden", UG_P_INT_LIST, "[256, 256, 256]", UG_P_MIN, 1, 0, NULL,
     "hidden widths of the energy MLP (ELU)"},
    {NULL, 0, NULL, 0, 0, 0, NULL, NULL},
};

/* widths = {in, hidden..., out}; returns the count or -1 when the list is too long. */
static int make_widths(const ug_cfg *cfg, const char *key, int64_t in, int64_t out, int64_t *w) {
    int64_t hid[MAX_WIDTHS];
    int n = ug_cfg_ints(cfg, key, hid, MAX_WIDTHS);
    if (n < 0) { /* absent (a config not resolved against the schema): the schema default */
        n = 3;
        hid[0] = hid[1] = hid[2] = 256;
    }
    if (n + 2 > MAX_WIDTHS) return -1;
    w[0] = in;
    for (int i = 0; i < n; i++) w[i + 1] = hid[i];
    w[n + 1] = out;
    return n + 2;
}

static void bgfn_destroy(void *self) { free(self); }

static void *bgfn_create(const ug_create_args *a, ug_error *err) {
    if (!a || !a->params || !a->rng) {
        ug_error_set(err, UG_ERR_ARG, "binary_gfn: create needs params and rng");
        return NULL;
    }
    if (!a->data) {
        ug_error_set(err, UG_ERR_ARG, "binary_gfn: needs a dataset (D is the dataset's dimension)");
        return NULL;
    }
    const ug_space *sp = &a->data->info.space;
    if (sp->kind != UG_SPACE_BINARY || sp->dim <= 0) {
        ug_error_set(err, UG_ERR_ARG,
                     "binary_gfn: dataset '%s' has a %s space of dim %lld; binary_gfn needs a binary one",
                     a->data->name ? a->data->name : "?",
                     sp->kind == UG_SPACE_CATEGORICAL ? "categorical"
                     : sp->kind == UG_SPACE_CONTINUOUS ? "continuous" : "non-binary",
                     (long long)sp->dim);
        return NULL;
    }
    if (sp->dim > (1 << 28)) {
        ug_error_set(err, UG_ERR_ARG, "binary_gfn: dim %lld is too large", (long long)sp->dim);
        return NULL;
    }
    bgfn *m = calloc(1, sizeof *m);
    if (!m) {
        ug_error_set(err, UG_ERR_NOMEM, "binary_gfn: no memory");
        return NULL;
    }
    const int64_t D = sp->dim;
    m->D = D;
    m->shared = ug_cfg_bool(a->cfg, "shared_trunk", false);
    m->learn_pb = ug_cfg_bool(a->cfg, "learn_pb", true);
    m->uniform_pos = strcmp(ug_cfg_str(a->cfg, "forward_positions", "learned"), "uniform") == 0;
    m->has_logz = ug_cfg_bool(a->cfg, "log_z", true);
    m->has_flow = ug_cfg_bool(a->cfg, "flow_head", false);
    m->has_energy = ug_cfg_bool(a->cfg, "energy", false);

    const char *act_name = ug_cfg_str(a->cfg, "act", "leaky_relu");
    ug_act act;
    if (ug_act_from_name(act_name, &act) != UG_OK) {
        ug_error_set(err, UG_ERR_ARG, "binary_gfn: unknown activation '%s'", act_name);
        goto fail;
    }
    /* 0 = the activation's default parameter: slope 0.01 for leaky_relu, as EB-GFN's nn.LeakyReLU. */
    const float act_param = 0.0f;

    int64_t w[MAX_WIDTHS];
    int nw;
    ug_params *P = a->params;
    ug_status st = UG_OK;
    if (m->shared) {
        int64_t out = m->learn_pb ? 3 * D : 2 * D;
        if ((nw = make_widths(a->cfg, "hidden", D, out, w)) < 0) goto too_deep;
        st = ug_mlp_init(&m->pf, P, "forward", "trunk", w, nw, act, act_param, a->rng);
    } else {
        if ((nw = make_widths(a->cfg, "hidden", D, 2 * D, w)) < 0) goto too_deep;
        st = ug_mlp_init(&m->pf, P, "forward", "pf", w, nw, act, act_param, a->rng);
        if (st == UG_OK && m->learn_pb) {
            w[nw - 1] = D;
            st = ug_mlp_init(&m->pb, P, "backward", "pb", w, nw, act, act_param, a->rng);
        }
    }
    if (st == UG_OK && m->has_logz) {
        m->logz = ug_param(P, "logZ", "logZ", 0, NULL);  // [] starts at 0
        if (!m->logz) st = ug_params_status(P);
    }
    if (st == UG_OK && m->has_flow) {
        if ((nw = make_widths(a->cfg, "hidden", D, 1, w)) < 0) goto too_deep;
        st = ug_mlp_init(&m->flow, P, "flow", "flow", w, nw, act, act_param, a->rng);
    }
    if (st == UG_OK && m->has_energy) {
        if ((nw = make_widths(a->cfg, "energy_hidden", D, 1, w)) < 0) goto too_deep;
        st = ug_mlp_init(&m->energy, P, "energy", "energy", w, nw, UG_ACT_ELU, 0.0f, a->rng);
    }
    if (st == UG_OK) st = ug_params_finalize(P);
    if (st != UG_OK) {
        ug_error_set(err, st, "binary_gfn: parameters: %s", ug_params_errmsg(P));
        goto fail;
    }

    m->info.size = sizeof m->info;
    m->info.space = *sp;
    m->info.space.categories = 2;
    m->info.horizon = (int32_t)D;
    m->info.variable_length = false;
    m->info.deterministic_pb = false;
    m->info.caps = UG_CAP_PARTIAL | (m->has_logz ? UG_CAP_LOG_Z : 0) | (m->has_flow ? UG_CAP_LOG_FLOW : 0) |
                   (m->has_energy ? UG_CAP_LOG_REWARD : 0);
    return m;

too_deep:
    ug_error_set(err, UG_ERR_ARG, "binary_gfn: at most %d hidden layers", MAX_WIDTHS - 2);
fail:
    free(m);
    return NULL;
}

static void bgfn_info(void *self, ug_model_info *out) {
    const bgfn *m = self;
    /* A host built against an older, shorter struct gets only the fields it knows. */
    size_t n = out->size < sizeof *out ? out->size : sizeof *out;
    memcpy(out, &m->info, n);
    out->size = (uint32_t)n;
}

/* x [B, D] -> [B] by an MLP with one output. */
static ug_tensor *scalar_head(ug_ctx *ctx, const bgfn *m, const ug_mlp *mlp, ug_tensor *x, const char *what) {
    char sb[64];
    if (!x || x->ndim != 2 || x->shape[1] != m->D || x->dtype != UG_F32) {
        ug_ctx_fail(ctx, UG_ERR_ARG, "binary_gfn %s: input must be F32 [B, %lld], got %s", what,
                    (long long)m->D, x ? ug_shape_str(x, sb, sizeof sb) : "NULL");
        return NULL;
    }
    int64_t B = x->shape[0];
    ug_tensor *h = ug_mlp_forward(ctx, mlp, x);  // [B, 1]
    return ug_reshape(ctx, h, 1, &B);            // [B]
}

static ug_tensor *bgfn_log_reward(void *self, ug_ctx *ctx, ug_tensor *x) {
    bgfn *m = self;
    if (!m->has_energy) {
        ug_ctx_fail(ctx, UG_ERR_UNSUPPORTED, "binary_gfn: log_reward needs `energy: true`");
        return NULL;
    }
    return ug_neg(ctx, scalar_head(ctx, m, &m->energy, x, "log_reward"));  // [B] = -E(x)
}

static ug_tensor *bgfn_log_flow(void *self, ug_ctx *ctx, ug_tensor *state, int32_t index) {
    bgfn *m = self;
    if (!m->has_flow) {
        ug_ctx_fail(ctx, UG_ERR_UNSUPPORTED, "binary_gfn: log_flow needs `flow_head: true`");
        return NULL;
    }
    if (index < 0 || index > m->D) {
        ug_ctx_fail(ctx, UG_ERR_ARG, "binary_gfn log_flow: index %d outside [0, %lld]", index, (long long)m->D);
        return NULL;
    }
    /* The state itself says how many coordinates are set, so `index` adds nothing to the input. */
    return scalar_head(ctx, m, &m->flow, state, "log_flow");  // [B]
}

static ug_tensor *bgfn_log_z(void *self, ug_ctx *ctx) {
    bgfn *m = self;
    if (!m->has_logz) {
        ug_ctx_fail(ctx, UG_ERR_UNSUPPORTED, "binary_gfn: log_z needs `log_z: true`");
        return NULL;
    }
    return m->logz;  // []
}

static const ug_model_vtable bgfn_vtable = {
    .size = sizeof(ug_model_vtable),
    .info = bgfn_info,
    .sample_forward = bgfn_sample_forward,
    .sample_backward = bgfn_sample_backward,
    .rescore = bgfn_rescore,
    .log_flow = bgfn_log_flow,
    .log_reward = bgfn_log_reward,
    .score = NULL,
    .log_prob = NULL,
    .log_z = bgfn_log_z,
    .save_state = NULL,
    .load_state = NULL,
};

static const ug_plugin_desc bgfn_desc = {
    UG_DESC_HEADER(UG_KIND_MODEL),
    .name = "binary_gfn",
    .version = "1.0",
    .summary = "EB-GFN's binary GFlowNet: set one coordinate per step (D steps), learned or uniform P_B",
    .params = bgfn_schema,
    .create = bgfn_create,
    .destroy = bgfn_destroy,
    .vtable = &bgfn_vtable,
    .required_caps = NULL,
};

UG_PLUGIN_EXPORT(&bgfn_desc)
