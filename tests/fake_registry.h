/* fake_registry.h — plugin schemas shaped like the real plugins', for spec tests and the spec fuzzer.
 *
 * The spec module only needs schemas, not plugins, so the tests hand it this table instead of loading
 * .so files: messages stay stable while the real plugins evolve. */
#ifndef UG_TEST_FAKE_REGISTRY_H
#define UG_TEST_FAKE_REGISTRY_H

#include <string.h>

#include "unigfn/host/spec.h"

#define FAKE_END {NULL, 0, NULL, 0, 0, 0, NULL, NULL}

static const ug_param_spec fake_synthetic2d[] = {
    {"data", UG_P_ENUM, NULL, UG_P_REQUIRED, 0, 0,
     "2spirals|8gaussians|circles|moons|pinwheel|swissroll|checkerboard", "toy distribution"},
    {"encoding", UG_P_ENUM, "gray32", 0, 0, 0, "gray32|continuous", "how points become states"},
    {"eval_size", UG_P_INT, "4000", UG_P_MIN, 1, 0, NULL, "held-out points"},
    FAKE_END,
};

static const ug_param_spec fake_binary_gfn[] = {
    {"hidden", UG_P_INT_LIST, "[256, 256, 256]", UG_P_MIN, 1, 0, NULL, "MLP widths"},
    {"act", UG_P_ENUM, "leaky_relu", 0, 0, 0, "leaky_relu|relu|elu|tanh", "activation"},
    {"shared_trunk", UG_P_BOOL, "false", 0, 0, 0, NULL, "P_F and P_B share a trunk"},
    FAKE_END,
};

static const ug_param_spec fake_tb[] = {
    {"log_z_init", UG_P_FLOAT, "0", 0, 0, 0, NULL, "initial log Z"},
    {"reward_temp", UG_P_FLOAT, "1", UG_P_MIN | UG_P_MIN_OPEN, 0, 0, NULL, "reward temperature"},
    FAKE_END,
};

static const ug_param_spec fake_kl_tb[] = {
    {"direction", UG_P_ENUM, "data", 0, 0, 0, "data|reward", "KL(P_B||P_F) from data or KL(P_F||P_B)"},
    FAKE_END,
};

static const ug_param_spec fake_tbc[] = {
    {"pairs", UG_P_INT, "1", UG_P_MIN, 1, 0, NULL, "backward trajectory pairs per x"},
    FAKE_END,
};

static const ug_param_spec fake_db[] = {
    FAKE_END,
};

static const ug_param_spec fake_nll[] = {
    {"particles", UG_P_INT, "100", UG_P_MIN, 1, 0, NULL, "importance samples per point"},
    FAKE_END,
};

static const ug_param_spec fake_mmd[] = {
    {"samples", UG_P_INT, "4000", UG_P_MIN, 1, 0, NULL, "samples drawn"},
    {"bandwidth", UG_P_FLOAT, "0.1", UG_P_MIN | UG_P_MIN_OPEN, 0, 0, NULL, "RBF kernel bandwidth"},
    FAKE_END,
};

typedef struct fake_plugin {
    const char *kind, *name;
    const ug_param_spec *schema;
} fake_plugin;

static const fake_plugin fake_plugins[] = {
    {"dataset", "synthetic2d", fake_synthetic2d},
    {"model", "binary_gfn", fake_binary_gfn},
    {"objective", "tb", fake_tb},
    {"objective", "kl_tb", fake_kl_tb},
    {"objective", "tbc", fake_tbc},
    {"objective", "db", fake_db},
    {"metric", "nll", fake_nll},
    {"metric", "mmd", fake_mmd},
};

static const ug_param_spec *fake_schema(void *ud, const char *kind, const char *name) {
    (void)ud;
    for (size_t k = 0; k < sizeof fake_plugins / sizeof *fake_plugins; k++)
        if (strcmp(fake_plugins[k].kind, kind) == 0 && strcmp(fake_plugins[k].name, name) == 0)
            return fake_plugins[k].schema;
    return NULL;
}

static int fake_names(void *ud, const char *kind, const char **out, int cap) {
    (void)ud;
    int n = 0;
    for (size_t k = 0; k < sizeof fake_plugins / sizeof *fake_plugins; k++)
        if (strcmp(fake_plugins[k].kind, kind) == 0 && n < cap) out[n++] = fake_plugins[k].name;
    return n;
}

static const ug_spec_registry fake_registry = {NULL, fake_schema, fake_names};

#endif
