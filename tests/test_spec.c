/* test_spec.c — good specs: defaults, typing, overrides, includes, canonical text, run ids, flattening,
 * getters. Run from the source root (meson sets workdir) so tests/specs/good/... resolves. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fake_registry.h"

#define GOOD "tests/specs/good/"
#define INC "tests/specs/include/"

static ug_spec *load(const char *path, const char *const *ov, int n_ov) {
    ug_error err = {0};
    ug_spec *s = NULL;
    ug_status st = ug_spec_load(path, ov, n_ov, &fake_registry, &s, &err);
    CHECK(st == UG_OK, "%s: %s", path, err.msg);
    return s;
}

static ug_spec *load_text(const char *text, const char *const *ov, int n_ov) {
    ug_error err = {0};
    ug_spec *s = NULL;
    ug_status st = ug_spec_load_string("inline.yaml", text, ov, n_ov, &fake_registry, &s, &err);
    CHECK(st == UG_OK, "inline: %s", err.msg);
    return s;
}

static bool is_default(const ug_cfg *c) { return c && strcmp(c->file, UG_SPEC_FILE_DEFAULT) == 0 && c->line == 0; }

static void test_resolved(void) {
    ug_spec *s = load(GOOD "mle_gfn.yaml", NULL, 0);
    if (!s) return;
    const ug_cfg *root = ug_spec_root(s);
    CHECK(strcmp(ug_spec_name(s), "mle_gfn_2spirals") == 0, "name %s", ug_spec_name(s));
    CHECK(root->n == 11, "root has %d sections", root->n);
    CHECK(strcmp(root->items[0]->key, "name") == 0 && strcmp(root->items[10]->key, "sweep") == 0, "order");
    CHECK(ug_cfg_int(root, "seed", -1) == 1, "seed");
    CHECK(ug_cfg_int(root, "threads", -1) == 0 && is_default(ug_cfg_find(root, "threads")), "threads default");
    CHECK(strcmp(ug_cfg_str(root, "device", "?"), "cpu") == 0, "device default");
    /* plugin defaults, with their origin */
    const ug_cfg *enc = ug_cfg_find(root, "dataset.encoding");
    CHECK(enc && is_default(enc) && strcmp(enc->text, "gray32") == 0, "encoding default");
    CHECK(ug_cfg_int(root, "dataset.eval_size", -1) == 4000, "eval_size default");
    const ug_cfg *data = ug_cfg_find(root, "dataset.data");
    CHECK(data && data->line == 6 && data->col == 3 && strstr(data->file, "mle_gfn.yaml"), "position");
    int64_t hidden[4];
    CHECK(ug_cfg_ints(root, "model.hidden", hidden, 4) == 3 && hidden[2] == 256, "hidden");
    CHECK(ug_cfg_bool(ug_spec_section(s, "model"), "shared_trunk", true) == false, "shared_trunk default");
    /* 1e5 is an integer; an integer is a float */
    const ug_cfg *steps = ug_cfg_find(root, "train.steps");
    CHECK(steps->type == UG_CFG_INT && steps->i == 100000 && strcmp(steps->text, "1e5") == 0, "steps");
    CHECK(ug_cfg_int(root, "train.log_every", -1) == 100 && ug_cfg_bool(root, "train.eval_at_end", false),
          "train defaults");
    /* terms and metrics */
    CHECK(ug_spec_n_objectives(s) == 2, "terms");
    const ug_cfg *t0 = ug_spec_objective(s, 0), *t1 = ug_spec_objective(s, 1);
    CHECK(t0 && ug_cfg_find(t0, "weight")->type == UG_CFG_FLOAT, "weight typed float");
    CHECK_CLOSE(ug_cfg_float(t0, "weight", -1), 1.0, 0, 0);
    CHECK_CLOSE(ug_cfg_float(t1, "weight", -1), 0.5, 0, 0);
    CHECK(strcmp(ug_cfg_str(t0, "direction", "?"), "data") == 0, "kl_tb default");
    CHECK(strcmp(t1->items[0]->key, "plugin") == 0 && strcmp(t1->items[1]->key, "updates") == 0 &&
              strcmp(t1->items[2]->key, "weight") == 0 && strcmp(t1->items[3]->key, "every") == 0 &&
              strcmp(t1->items[6]->key, "stop") == 0 && strcmp(t1->items[7]->key, "pairs") == 0,
          "term key order");
    const char *groups[2];
    CHECK(ug_cfg_strs(t1, "updates", groups, 2) == 1 && strcmp(groups[0], "backward") == 0, "updates");
    CHECK(ug_cfg_find(root, "objective.1.plugin") == t1->items[0], "find through a list index");
    CHECK(ug_spec_objective(s, 2) == NULL, "term out of range");
    CHECK(ug_spec_n_metrics(s) == 2, "metrics");
    CHECK_CLOSE(ug_cfg_float(ug_spec_metric(s, 1), "bandwidth", -1), 0.1, 0, 0);
    /* optimizers: groups sorted, defaults filled */
    const ug_cfg *optim = ug_spec_section(s, "optim");
    CHECK(optim->n == 2 && strcmp(optim->items[0]->key, "backward") == 0, "groups sorted");
    const ug_cfg *fw = ug_spec_optim(s, "forward");
    CHECK_CLOSE(ug_cfg_float(fw, "lr", -1), 1e-4, 0, 0);
    double betas[2];
    CHECK(ug_cfg_floats(fw, "betas", betas, 2) == 2 && betas[1] == 0.999, "betas default");
    CHECK(strcmp(ug_cfg_str(fw, "algorithm", "?"), "adam") == 0, "algorithm default");
    CHECK(strcmp(ug_cfg_str(ug_spec_optim(s, "backward"), "algorithm", "?"), "adamw") == 0, "adamw");
    CHECK(ug_spec_optim(s, "flow") == NULL, "no such group");
    const ug_cfg *sweep = ug_spec_section(s, "sweep");
    CHECK(sweep && sweep->type == UG_CFG_MAP && sweep->n == 0, "sweep defaults to {}");
    /* getters fall back */
    CHECK(ug_cfg_int(root, "train.nope", 7) == 7 && ug_cfg_int(root, "device", 7) == 7, "fallbacks");
    CHECK(ug_cfg_ints(root, "model.act", NULL, 0) == -1, "not a list");
    CHECK(strlen(ug_spec_id(s)) == 16, "id length");
    ug_spec_free(s);
}

/* UG_P_ID_OPTIONAL: a plugin that gains an option keeps its earlier runs' ids while the option sits at
 * its default. Three schemas for binary_gfn: the fake one, the same plus a flagged key, and the same
 * plus an unflagged key. */
static const ug_param_spec bgfn_flagged[] = {
    {"hidden", UG_P_INT_LIST, "[256, 256, 256]", UG_P_MIN, 1, 0, NULL, "MLP widths"},
    {"act", UG_P_ENUM, "leaky_relu", 0, 0, 0, "leaky_relu|relu|elu|tanh", "activation"},
    {"shared_trunk", UG_P_BOOL, "false", 0, 0, 0, NULL, "P_F and P_B share a trunk"},
    {"forward_positions", UG_P_ENUM, "learned", UG_P_ID_OPTIONAL, 0, 0, "learned|uniform", "added later"},
    {"widths", UG_P_INT_LIST, "[1, 2]", UG_P_ID_OPTIONAL, 0, 0, NULL, "added later, a list"},
    FAKE_END,
};
static const ug_param_spec bgfn_unflagged[] = {
    {"hidden", UG_P_INT_LIST, "[256, 256, 256]", UG_P_MIN, 1, 0, NULL, "MLP widths"},
    {"act", UG_P_ENUM, "leaky_relu", 0, 0, 0, "leaky_relu|relu|elu|tanh", "activation"},
    {"shared_trunk", UG_P_BOOL, "false", 0, 0, 0, NULL, "P_F and P_B share a trunk"},
    {"forward_positions", UG_P_ENUM, "learned", 0, 0, 0, "learned|uniform", "added without the flag"},
    FAKE_END,
};
static const ug_param_spec *bgfn_variant(void *ud, const char *kind, const char *name) {
    if (strcmp(kind, "model") == 0 && strcmp(name, "binary_gfn") == 0) return ud;
    return fake_schema(NULL, kind, name);
}

static ug_spec *load_with(const ug_param_spec *bgfn, const char *const *ov, int n_ov) {
    ug_spec_registry reg = {(void *)bgfn, bgfn_variant, fake_names};
    ug_spec *s = NULL;
    ug_error err = {0};
    ug_status st = ug_spec_load(GOOD "mle_gfn.yaml", ov, n_ov, &reg, &s, &err);
    CHECK(st == UG_OK, "load with a schema variant: %s", err.msg);
    return s;
}

static void test_id_optional(void) {
    const char *explicit_default[] = {"model.forward_positions=learned", "model.widths=[1, 2.0]"};
    const char *other[] = {"model.forward_positions=uniform"};
    const char *other_list[] = {"model.widths=[1, 3]"};
    ug_spec *base = load(GOOD "mle_gfn.yaml", NULL, 0);
    ug_spec *flagged = load_with(bgfn_flagged, NULL, 0);
    ug_spec *flagged_explicit = load_with(bgfn_flagged, explicit_default, 2);
    ug_spec *flagged_other = load_with(bgfn_flagged, other, 1);
    ug_spec *flagged_other_list = load_with(bgfn_flagged, other_list, 1);
    ug_spec *unflagged = load_with(bgfn_unflagged, NULL, 0);
    if (base && flagged && flagged_explicit && flagged_other && flagged_other_list && unflagged) {
        CHECK(strcmp(ug_spec_id(base), ug_spec_id(flagged)) == 0, "a flagged key at its default keeps the id: %s vs %s",
              ug_spec_id(base), ug_spec_id(flagged));
        CHECK(strcmp(ug_spec_id(base), ug_spec_id(flagged_explicit)) == 0,
              "written out at its default (1 vs 1.0 alike) it keeps the id too: %s vs %s", ug_spec_id(base),
              ug_spec_id(flagged_explicit));
        CHECK(strcmp(ug_spec_id(base), ug_spec_id(flagged_other)) != 0, "another value changes the id");
        CHECK(strcmp(ug_spec_id(base), ug_spec_id(flagged_other_list)) != 0, "another list changes the id");
        CHECK(strcmp(ug_spec_id(base), ug_spec_id(unflagged)) != 0, "an unflagged new key changes the id");
        CHECK(strstr(ug_spec_canonical(flagged), "forward_positions: learned") != NULL,
              "the stored canonical spec still lists the flagged key");
        /* the canonical text read back (where the key is now written) gives the same id */
        ug_spec_registry reg = {(void *)bgfn_flagged, bgfn_variant, fake_names};
        ug_spec *r = NULL;
        ug_error err = {0};
        CHECK(ug_spec_load_string("canonical.yaml", ug_spec_canonical(flagged), NULL, 0, &reg, &r, &err) == UG_OK,
              "%s", err.msg);
        if (r) CHECK(strcmp(ug_spec_id(r), ug_spec_id(flagged)) == 0, "round trip keeps the id");
        ug_spec_free(r);
    }
    ug_spec_free(base);
    ug_spec_free(flagged);
    ug_spec_free(flagged_explicit);
    ug_spec_free(flagged_other);
    ug_spec_free(flagged_other_list);
    ug_spec_free(unflagged);
}

static void test_ids(void) {
    ug_spec *a = load(GOOD "mle_gfn.yaml", NULL, 0);
    ug_spec *b = load(GOOD "mle_gfn_reformatted.yaml", NULL, 0);
    const char *seed2[] = {"seed=2"};
    ug_spec *c = load(GOOD "mle_gfn.yaml", seed2, 1);
    const char *lr[] = {"optim.forward.lr=0.00011"};
    ug_spec *d = load(GOOD "mle_gfn.yaml", lr, 1);
    if (a && b && c && d) {
        CHECK(strcmp(ug_spec_id(a), ug_spec_id(b)) == 0, "reformatted: %s vs %s", ug_spec_id(a), ug_spec_id(b));
        CHECK(strcmp(ug_spec_name(b), "another_name") == 0, "name kept");
        const char *ca = strchr(ug_spec_canonical(a), '\n'), *cb = strchr(ug_spec_canonical(b), '\n');
        CHECK(strcmp(ca, cb) == 0, "canonical texts agree below the name line");
        CHECK(strcmp(ug_spec_id(a), ug_spec_id(c)) != 0, "seed changes the id");
        CHECK(strcmp(ug_spec_id(a), ug_spec_id(d)) != 0, "lr changes the id");
        /* the canonical text is itself a spec with the same canonical text */
        ug_spec *r = load_text(ug_spec_canonical(a), NULL, 0);
        if (r) {
            CHECK(strcmp(ug_spec_canonical(r), ug_spec_canonical(a)) == 0, "canonical round trip");
            CHECK(strcmp(ug_spec_id(r), ug_spec_id(a)) == 0, "round-trip id");
        }
        ug_spec_free(r);
    }
    ug_spec_free(a);
    ug_spec_free(b);
    ug_spec_free(c);
    ug_spec_free(d);
}

static void test_overrides(void) {
    const char *ov[] = {
        "model.hidden=[128,128]",      /* flow list replaces the file's */
        "model.act=relu",              /* key absent from the file */
        "objective.1.weight=2",        /* list element by index */
        "objective.2.plugin=db",       /* index == length appends a term */
        "objective.2.updates=[forward]",
        "train.steps=600",
        "name=renamed",
        "model.shared_trunk=yes",
        "optim.flow.lr=1e-2",          /* a new group, created by its path */
    };
    ug_spec *s = load(GOOD "mle_gfn.yaml", ov, (int)(sizeof ov / sizeof *ov));
    if (!s) return;
    const ug_cfg *root = ug_spec_root(s);
    int64_t h[4];
    CHECK(ug_cfg_ints(root, "model.hidden", h, 4) == 2 && h[0] == 128 && h[1] == 128, "hidden override");
    const ug_cfg *act = ug_cfg_find(root, "model.act");
    CHECK(act && strcmp(act->text, "relu") == 0 && strcmp(act->file, UG_SPEC_FILE_CMDLINE) == 0 && act->line == 2,
          "act from the command line, override #2");
    CHECK_CLOSE(ug_cfg_float(root, "objective.1.weight", -1), 2.0, 0, 0);
    CHECK(ug_spec_n_objectives(s) == 3, "appended term");
    CHECK(strcmp(ug_cfg_str(ug_spec_objective(s, 2), "plugin", "?"), "db") == 0, "db term");
    CHECK_CLOSE(ug_cfg_float(ug_spec_objective(s, 2), "weight", -1), 1.0, 0, 0);
    CHECK(ug_cfg_int(root, "train.steps", -1) == 600, "steps override");
    CHECK(strcmp(ug_spec_name(s), "renamed") == 0, "name");
    CHECK(ug_cfg_bool(root, "model.shared_trunk", false), "yes is true");
    CHECK_CLOSE(ug_cfg_float(ug_spec_optim(s, "flow"), "lr", -1), 0.01, 0, 0);
    CHECK(strcmp(ug_cfg_str(ug_spec_optim(s, "flow"), "schedule", "?"), "constant") == 0, "new group defaults");
    ug_spec_free(s);
}

/* One key given twice on one command line is an error naming it, not a silent "the later one wins". */
static void test_override_twice(void) {
    const char *ov[] = {"train.steps=500", "model.act=relu", "train.steps=600"};
    ug_error err = {0};
    ug_spec *s = NULL;
    ug_status st = ug_spec_load(GOOD "mle_gfn.yaml", ov, 3, &fake_registry, &s, &err);
    CHECK(st == UG_ERR_SPEC && s == NULL, "duplicate override: status %s", ug_status_name(st));
    CHECK(strcmp(err.msg, "<command line> 'train.steps=600': override 'train.steps' given twice "
                          "(first as 'train.steps=500')") == 0, "%s", err.msg);
    ug_spec_free(s);
    /* the same key under another spelling of its value, and a key that only shares a prefix */
    const char *ok[] = {"train.steps=500", "train.steps_x=1"};
    err = (ug_error){0};
    st = ug_spec_load(GOOD "mle_gfn.yaml", ok, 2, &fake_registry, &s, &err);
    CHECK(st == UG_ERR_SPEC && strstr(err.msg, "given twice") == NULL, "a prefix is not the key: %s", err.msg);
    ug_spec_free(s);
}

/* An override that is not valid UTF-8 (key or value) is a spec error naming the byte: the resolved spec is
 * emitted as YAML and parsed again, and libyaml refuses invalid UTF-8, so accepting it gave a spec whose
 * canonical text cannot be loaded (found by the spec fuzzer). Valid multi-byte text still passes. */
static void test_override_utf8(void) {
    const char *bad[] = {"train.st\xff" "eps=5", "name=caf\xc3", "name=\xc0\xaf", "name=\xed\xa0\x80", "name=\xf4\x90\x80\x80"};
    const size_t at[] = {9, 9, 6, 6, 6};
    for (int i = 0; i < 5; i++) {
        ug_error err = {0};
        ug_spec *s = NULL;
        ug_status st = ug_spec_load(GOOD "mle_gfn.yaml", &bad[i], 1, &fake_registry, &s, &err);
        char want[64];
        snprintf(want, sizeof want, "not valid UTF-8 at byte %zu", at[i]);
        CHECK(st == UG_ERR_SPEC && s == NULL && strstr(err.msg, want), "override %d: %s (%s)", i, err.msg, ug_status_name(st));
        ug_spec_free(s);
    }
    const char *good[] = {"name=caf\xc3\xa9-\xe2\x82\xac-\xf0\x9f\x98\x80"};
    ug_error err = {0};
    ug_spec *s = NULL;
    ug_status st = ug_spec_load(GOOD "mle_gfn.yaml", good, 1, &fake_registry, &s, &err);
    CHECK(st == UG_OK && s && strcmp(ug_spec_name(s), "caf\xc3\xa9-\xe2\x82\xac-\xf0\x9f\x98\x80") == 0, "valid UTF-8 name: %s", err.msg);
    ug_spec_free(s);
}

/* Whether node `path` of `root` came from a file whose name ends with `file`, at line:col. */
static bool from(const ug_cfg *root, const char *path, const char *file, int line, int col) {
    const ug_cfg *n = ug_cfg_find(root, path);
    size_t l = n && n->file ? strlen(n->file) : 0, fl = strlen(file);
    bool ok = n && l >= fl && strcmp(n->file + l - fl, file) == 0 && n->line == line && n->col == col;
    if (!ok && n) fprintf(stderr, "  %s is at %s:%d:%d\n", path, n->file ? n->file : "?", n->line, n->col);
    return ok;
}

/* child.yaml -> parts/mid.yaml -> base.yaml: maps merge key by key, scalars and lists (lists of maps
 * too) replace, each include is relative to its own file, every value keeps the file and line it was
 * written at, and the resolved spec is the flat one: same canonical text below the name, same id.
 * A node's file is the path it was opened by, so base.yaml's values read tests/specs/include/parts/../base.yaml. */
static void test_include(void) {
    ug_spec *s = load(INC "child.yaml", NULL, 0), *flat = load(INC "flat.yaml", NULL, 0);
    if (s && flat) {
        const ug_cfg *root = ug_spec_root(s);
        CHECK(strcmp(ug_spec_name(s), "child") == 0, "name from the top file: %s", ug_spec_name(s));
        CHECK(ug_cfg_find(root, "include") == NULL, "no include key in the resolved tree");
        CHECK(strstr(ug_spec_canonical(s), "include") == NULL, "no include in the canonical text");
        /* scalars: child over mid over base */
        CHECK(ug_cfg_int(root, "train.steps", -1) == 3000 && from(root, "train.steps", INC "child.yaml", 11, 3),
              "train.steps from child.yaml");
        CHECK(ug_cfg_int(root, "train.eval_every", -1) == 100 && from(root, "train.eval_every", "parts/mid.yaml", 8, 3),
              "train.eval_every from mid.yaml");
        CHECK(ug_cfg_int(root, "train.batch", -1) == 128 && from(root, "train.batch", "parts/../base.yaml", 23, 3),
              "train.batch from base.yaml");
        /* nested maps merge: optim.forward.lr from mid, its weight_decay from base, a new group from child */
        CHECK_CLOSE(ug_cfg_float(ug_spec_optim(s, "forward"), "lr", -1), 3e-4, 0, 0);
        CHECK(from(root, "optim.forward.lr", "parts/mid.yaml", 5, 13), "optim.forward.lr position");
        CHECK_CLOSE(ug_cfg_float(ug_spec_optim(s, "forward"), "weight_decay", -1), 0.01, 0, 0);
        CHECK(from(root, "optim.forward.weight_decay", "parts/../base.yaml", 19, 23), "weight_decay position");
        CHECK(strcmp(ug_cfg_str(ug_spec_optim(s, "backward"), "algorithm", "?"), "adamw") == 0, "backward kept");
        CHECK_CLOSE(ug_cfg_float(ug_spec_optim(s, "logZ"), "lr", -1), 0.1, 0, 0);
        CHECK(strcmp(ug_cfg_str(root, "dataset.data", "?"), "moons") == 0 &&
              from(root, "dataset.data", "parts/mid.yaml", 3, 11), "dataset.data from mid.yaml");
        CHECK(ug_cfg_int(root, "dataset.eval_size", -1) == 500 && from(root, "dataset.eval_size", "parts/../base.yaml", 7, 3),
              "dataset.eval_size from base.yaml");
        CHECK(strcmp(ug_cfg_str(root, "model.act", "?"), "relu") == 0, "model.act from base.yaml");
        /* lists replace: hidden is the child's one width, the objective the child's one term */
        int64_t h[4];
        CHECK(ug_cfg_ints(root, "model.hidden", h, 4) == 1 && h[0] == 64, "hidden replaced");
        CHECK(ug_spec_n_objectives(s) == 1 && strcmp(ug_cfg_str(ug_spec_objective(s, 0), "plugin", "?"), "tb") == 0,
              "objective replaced as a whole: %d terms", ug_spec_n_objectives(s));
        CHECK(ug_spec_n_metrics(s) == 2, "metrics from base.yaml");
        /* the same experiment as the flat file */
        const char *cs = strchr(ug_spec_canonical(s), '\n'), *cf = strchr(ug_spec_canonical(flat), '\n');
        CHECK(cs && cf && strcmp(cs, cf) == 0, "canonical texts agree below the name line");
        CHECK(strcmp(ug_spec_id(s), ug_spec_id(flat)) == 0, "id %s, flat %s", ug_spec_id(s), ug_spec_id(flat));
        /* overrides apply after the includes */
        const char *ov[] = {"optim.forward.weight_decay=0"};
        ug_spec *o = load(INC "child.yaml", ov, 1);
        CHECK(o && ug_cfg_float(ug_spec_optim(o, "forward"), "weight_decay", -1) == 0.0 &&
              strcmp(ug_spec_id(o), ug_spec_id(s)) != 0, "an override over an included value");
        ug_spec_free(o);
    }
    ug_spec_free(s);
    ug_spec_free(flat);

    /* a list of includes merges in order: the later file wins, the including file over both */
    ug_spec *l = load(INC "list.yaml", NULL, 0);
    if (l) {
        const ug_cfg *root = ug_spec_root(l);
        int64_t h[4];
        CHECK(ug_cfg_ints(root, "model.hidden", h, 4) == 1 && h[0] == 8, "hidden from small.yaml");
        CHECK(ug_cfg_int(root, "train.steps", -1) == 5 && ug_cfg_int(root, "train.eval_every", -1) == 100,
              "steps from small.yaml, eval_every from mid.yaml");
        CHECK(ug_spec_n_objectives(l) == 2, "base.yaml's terms");
    }
    ug_spec_free(l);

    /* from text, includes are relative to the folder of the name */
    ug_error err = {0};
    ug_spec *t = NULL;
    ug_status st = ug_spec_load_string(INC "text.yaml", "include: parts/small.yaml\ninclude_me: 1\n", NULL, 0,
                                       &fake_registry, &t, &err);
    CHECK(st == UG_ERR_SPEC && strstr(err.msg, "parts/small.yaml") == NULL &&
          strstr(err.msg, "include_me: unknown key") != NULL, "text: %s", err.msg);
    ug_spec_free(t);
    t = NULL;
    err = (ug_error){0};
    st = ug_spec_load_string(INC "text.yaml", "include: [parts/mid.yaml]\nseed: 9\n", NULL, 0, &fake_registry, &t, &err);
    CHECK(st == UG_OK && t && ug_cfg_int(ug_spec_root(t), "seed", -1) == 9 &&
          ug_cfg_int(ug_spec_root(t), "train.steps", -1) == 2000, "text with an include: %s", err.msg);
    ug_spec_free(t);
}

typedef struct leaves {
    char keys[128][64], vals[128][64];
    int n;
} leaves;

static int collect(const char *k, const char *v, void *ud) {
    leaves *l = ud;
    if (l->n < 128) {
        snprintf(l->keys[l->n], 64, "%s", k);
        snprintf(l->vals[l->n], 64, "%s", v);
        l->n++;
    }
    return 0;
}

static const char *leaf(const leaves *l, const char *key) {
    for (int k = 0; k < l->n; k++)
        if (strcmp(l->keys[k], key) == 0) return l->vals[k];
    return NULL;
}

static int stop_at_three(const char *k, const char *v, void *ud) {
    (void)k, (void)v;
    return ++*(int *)ud == 3 ? 42 : 0;
}

static void test_flatten(void) {
    ug_spec *s = load(GOOD "mle_gfn.yaml", NULL, 0);
    if (!s) return;
    static leaves l;
    CHECK(ug_spec_flatten(s, collect, &l) == 0, "flatten");
    CHECK(strcmp(l.keys[0], "dataset") == 0 && strcmp(l.vals[0], "synthetic2d") == 0, "summary dataset");
    CHECK(strcmp(l.keys[1], "model") == 0 && strcmp(l.vals[1], "binary_gfn") == 0, "summary model");
    CHECK(strcmp(l.keys[2], "objective") == 0 && strcmp(l.vals[2], "kl_tb+tbc") == 0, "summary objective");
    struct { const char *k, *v; } want[] = {
        {"name", "mle_gfn_2spirals"},       {"model.hidden", "[256, 256, 256]"},
        {"objective.0.plugin", "kl_tb"},    {"objective.1.updates", "[backward]"},
        {"optim.forward.lr", "0.0001"},     {"optim.forward.betas", "[0.9, 0.999]"},
        {"optim.forward.eps", "1e-08"},     {"train.steps", "100000"},
        {"train.eval_at_end", "true"},      {"metrics.1.plugin", "mmd"},
        {"model.shared_trunk", "false"},    {"dataset.encoding", "gray32"},
    };
    for (size_t k = 0; k < sizeof want / sizeof *want; k++) {
        const char *v = leaf(&l, want[k].k);
        CHECK(v && strcmp(v, want[k].v) == 0, "%s = %s, want %s", want[k].k, v ? v : "(absent)", want[k].v);
    }
    for (int k = 0; k < l.n; k++) CHECK(strncmp(l.keys[k], "sweep", 5) != 0, "sweep flattened: %s", l.keys[k]);
    int count = 0;
    CHECK(ug_spec_flatten(s, stop_at_three, &count) == 42 && count == 3, "callback stops the walk");
    ug_spec_free(s);
}

static void test_sweep_and_names(void) {
#define SWEEP_BASE                                      \
    "dataset: {plugin: synthetic2d, data: moons}\n"     \
    "model: {plugin: binary_gfn}\n"                     \
    "objective: [{plugin: tb, updates: [forward]}]\n"   \
    "optim: {forward: {lr: 1e-3}}\n"                    \
    "train: {steps: 10}\n"
    const char *text = SWEEP_BASE
        "sweep:\n"
        "  model.hidden: [[64], [128, 128]]\n"
        "  seed: [1, 2, 3]\n"
        "  note: \"a: b\"\n";
    ug_spec *s = load_text(text, NULL, 0);
    const char *point[] = {"sweep={}"};
    ug_spec *p = load_text(text, point, 1);
    ug_spec *plain = load_text(SWEEP_BASE, NULL, 0);
    if (s && p && plain) {
        const ug_cfg *sw = ug_spec_section(s, "sweep");
        CHECK(sw->n == 3 && strcmp(sw->items[0]->key, "model.hidden") == 0, "sweep kept as written");
        CHECK(sw->items[0]->items[1]->n == 2, "nested list kept");
        CHECK(strstr(ug_spec_canonical(s), "  model.hidden: [[64], [128, 128]]\n"), "sweep canonical");
        CHECK(strstr(ug_spec_canonical(s), "  note: \"a: b\"\n"), "string quoted when needed");
        CHECK(strcmp(ug_spec_id(s), ug_spec_id(p)) != 0, "sweep is part of the id");
        CHECK(strcmp(ug_spec_id(p), ug_spec_id(plain)) == 0, "sweep={} equals no sweep");
        CHECK(strcmp(ug_spec_name(s), "inline") == 0, "name from the load name");
        ug_spec *r = load_text(ug_spec_canonical(s), NULL, 0);
        CHECK(r && strcmp(ug_spec_canonical(r), ug_spec_canonical(s)) == 0, "sweep round trip");
        ug_spec_free(r);
    }
    ug_spec_free(s);
    ug_spec_free(p);
    ug_spec_free(plain);

    ug_spec *m = load(GOOD "minimal.yaml", NULL, 0);
    if (m) {
        CHECK(strcmp(ug_spec_name(m), "minimal") == 0, "name from the file name");
        CHECK(ug_spec_n_metrics(m) == 0, "metrics default to []");
        CHECK(ug_cfg_int(ug_spec_root(m), "train.batch", -1) == 128, "batch default");
    }
    ug_spec_free(m);
}

static void test_lenient_and_io(void) {
    ug_error err = {0};
    ug_spec *s = NULL;
    /* without a registry plugin keys are kept unchecked, in file order after the core keys */
    ug_status st = ug_spec_load(GOOD "mle_gfn.yaml", NULL, 0, NULL, &s, &err);
    CHECK(st == UG_OK, "lenient: %s", err.msg);
    if (s) {
        const ug_cfg *model = ug_spec_section(s, "model");
        CHECK(model->n == 2 && strcmp(model->items[1]->key, "hidden") == 0, "lenient keeps keys");
        CHECK(ug_cfg_find(model, "act") == NULL, "lenient fills no plugin defaults");
    }
    ug_spec_free(s);
    err = (ug_error){0};
    st = ug_spec_load("tests/specs/good/does-not-exist.yaml", NULL, 0, &fake_registry, &s, &err);
    CHECK(st == UG_ERR_IO && s == NULL, "missing file is an i/o error");
    CHECK(strstr(err.msg, "does-not-exist.yaml: cannot open") != NULL, "%s", err.msg);
}

/* +key adds a key the spec's files do not write, ~key deletes one they do (a schema key then falls back
 * to its default), and both resolve to the spec written out: the run id is that of the same spec edited
 * by hand. */
static void test_add_delete(void) {
    const char *ov[] = {"+model.act=relu", "+train.eval_every=7", "~objective.1", "~optim.backward", "~metrics",
                        "~model.hidden", "+optim.flow.lr=1e-2"};
    ug_spec *s = load(GOOD "mle_gfn.yaml", ov, (int)(sizeof ov / sizeof *ov));
    if (!s) return;
    const ug_cfg *root = ug_spec_root(s);
    const ug_cfg *act = ug_cfg_find(root, "model.act");
    CHECK(act && strcmp(act->text, "relu") == 0 && strcmp(act->file, UG_SPEC_FILE_CMDLINE) == 0 && act->line == 1, "+model.act");
    CHECK(ug_cfg_int(root, "train.eval_every", -1) == 7, "+train.eval_every (a schema key the file leaves out)");
    CHECK(ug_spec_n_objectives(s) == 1 && strcmp(ug_cfg_str(ug_spec_objective(s, 0), "plugin", "?"), "kl_tb") == 0,
          "~objective.1 leaves the first term");
    CHECK(ug_spec_optim(s, "backward") == NULL && ug_spec_optim(s, "flow") != NULL, "~optim.backward, +optim.flow");
    CHECK(ug_spec_n_metrics(s) == 0, "~metrics: no metrics");
    int64_t h[4];
    CHECK(ug_cfg_ints(root, "model.hidden", h, 4) == 3 && is_default(ug_cfg_find(root, "model.hidden")),
          "~model.hidden: back to the schema default");
    /* the same spec written out */
    const char *flat =
        "name: mle_gfn_2spirals\nseed: 1\ndataset: {plugin: synthetic2d, data: 2spirals}\n"
        "model: {plugin: binary_gfn, act: relu}\nobjective:\n  - {plugin: kl_tb, updates: [forward]}\n"
        "optim: {forward: {lr: 1e-4}, flow: {lr: 1e-2}}\ntrain: {steps: 1e5, batch: 128, eval_every: 7}\n";
    ug_spec *f = load_text(flat, NULL, 0);
    if (f) CHECK(strcmp(ug_spec_id(s), ug_spec_id(f)) == 0, "+/~ give the id of the spec edited by hand");
    ug_spec_free(f);
    ug_spec_free(s);
    /* +key and key=value on a key the file lacks place the same value: one id */
    const char *plus[] = {"+model.act=elu"}, *plain[] = {"model.act=elu"};
    ug_spec *a = load(GOOD "mle_gfn.yaml", plus, 1), *b = load(GOOD "mle_gfn.yaml", plain, 1);
    if (a && b) CHECK(strcmp(ug_spec_id(a), ug_spec_id(b)) == 0, "+key=v and key=v agree");
    ug_spec_free(a);
    ug_spec_free(b);
    /* deleting a key written at its default value changes nothing */
    const char *del[] = {"~train.batch"};
    a = load_text("dataset: {plugin: synthetic2d, data: moons}\nmodel: {plugin: binary_gfn}\n"
                  "objective: [{plugin: kl_tb, updates: [forward]}]\noptim: {forward: {lr: 1e-3}}\n"
                  "train: {steps: 10, batch: 128}\n", del, 1);
    b = load_text("dataset: {plugin: synthetic2d, data: moons}\nmodel: {plugin: binary_gfn}\n"
                  "objective: [{plugin: kl_tb, updates: [forward]}]\noptim: {forward: {lr: 1e-3}}\n"
                  "train: {steps: 10}\n", NULL, 0);
    if (a && b) CHECK(strcmp(ug_spec_id(a), ug_spec_id(b)) == 0, "~key of a key at its default: same id");
    ug_spec_free(a);
    ug_spec_free(b);
}

/* ${a.b}: a whole value is a copy (typed by the schema of where it lands, lists and maps too), text
 * gets the value's text, references chain, \${ is a literal, overrides and includes are seen, and the
 * resolved spec is the one written out (same canonical text, same id; no '${' left). */
static void test_interpolation(void) {
    const char *text =
        "name: run_${seed}_${model.act}\n"
        "seed: 4\n"
        "dataset: {plugin: synthetic2d, data: moons}\n"
        "model:\n"
        "  plugin: binary_gfn\n"
        "  act: tanh\n"
        "  hidden: [16, 8]\n"
        "objective:\n"
        "  - {plugin: tb, updates: [forward, logZ], log_z_init: \"${optim.logZ.lr}\", reward_temp: \"1e-${train.batch}\"}\n"
        "optim:\n"
        "  forward: {lr: 1.0e-3, betas: [0.5, 0.9]}\n"
        "  logZ:\n"
        "    lr: 0.5\n"
        "    betas: ${optim.forward.betas}\n"          /* a list */
        "  backward: ${optim.forward}\n"               /* a map */
        "train: {steps: 10, batch: \"${model.hidden.1}\"}\n"
        "metrics:\n"
        "  - {plugin: mmd, samples: \"${train.batch}\", bandwidth: 0.5}\n"   /* a chain: batch is a reference too */
        "sweep: {note: \"cost \\\\${5}\"}\n";
    const char *ov[] = {"model.hidden=[16, 6]"};
    ug_spec *s = load_text(text, ov, 1);
    if (!s) return;
    const ug_cfg *root = ug_spec_root(s);
    CHECK(strcmp(ug_spec_name(s), "run_4_tanh") == 0, "name from text: %s", ug_spec_name(s));
    double betas[2];
    const ug_cfg *lz = ug_spec_optim(s, "logZ");
    CHECK(ug_cfg_floats(lz, "betas", betas, 2) == 2 && betas[0] == 0.5 && betas[1] == 0.9, "a list copied");
    const ug_cfg *bt = ug_cfg_find(lz, "betas");
    CHECK(bt->line == 14 && bt->items[0]->line == 14, "the copy sits where the reference was written (line %d)", bt->line);
    CHECK_CLOSE(ug_cfg_float(root, "objective.0.log_z_init", -1), 0.5, 0, 0);
    const ug_cfg *rt = ug_cfg_find(root, "objective.0.reward_temp");
    CHECK(rt && rt->type == UG_CFG_FLOAT && rt->f == 1e-6, "1e-${train.batch} is the number 1e-6");
    const ug_cfg *bw = ug_spec_optim(s, "backward");
    CHECK_CLOSE(ug_cfg_float(bw, "lr", -1), 1e-3, 0, 0);
    CHECK(ug_cfg_floats(bw, "betas", betas, 2) == 2 && betas[0] == 0.5, "a map copied");
    const ug_cfg *ms = ug_cfg_find(root, "metrics.0.samples");
    CHECK(ms && ms->type == UG_CFG_INT && ms->i == 6, "a chain, after the override, with the value's type (%lld)",
          ms ? (long long)ms->i : -1LL);
    CHECK(strcmp(ug_cfg_str(root, "sweep.note", "?"), "cost ${5}") == 0, "\\${ is a literal: %s", ug_cfg_str(root, "sweep.note", "?"));
    CHECK(strstr(ug_spec_canonical(s), "${optim") == NULL, "no reference left in the canonical text");
    /* the canonical text is what a run stores: it loads again to the same spec, the literal \${ too */
    ug_spec *again = load_text(ug_spec_canonical(s), NULL, 0);
    if (again) {
        CHECK(strcmp(ug_spec_id(again), ug_spec_id(s)) == 0, "the stored text reloads to the same id");
        CHECK(strcmp(ug_cfg_str(ug_spec_root(again), "sweep.note", "?"), "cost ${5}") == 0, "and keeps the literal");
    }
    ug_spec_free(again);
    ug_spec_free(s);

    /* the same spec written out: one id */
    const char *a =
        "seed: 4\ndataset: {plugin: synthetic2d, data: moons}\nmodel: {plugin: binary_gfn, hidden: [32, 32]}\n"
        "objective: [{plugin: kl_tb, updates: [forward]}]\noptim: {forward: {lr: 1e-3}, backward: \"${optim.forward}\"}\n"
        "train: {steps: 10, batch: \"${model.hidden.1}\"}\nmetrics: [{plugin: mmd, samples: \"${train.steps}\"}]\n";
    const char *b =
        "seed: 4\ndataset: {plugin: synthetic2d, data: moons}\nmodel: {plugin: binary_gfn, hidden: [32, 32]}\n"
        "objective: [{plugin: kl_tb, updates: [forward]}]\noptim: {forward: {lr: 1e-3}, backward: {lr: 1e-3}}\n"
        "train: {steps: 10, batch: 32}\nmetrics: [{plugin: mmd, samples: 10}]\n";
    ug_spec *x = load_text(a, NULL, 0), *y = load_text(b, NULL, 0);
    if (x && y) {
        CHECK(strcmp(ug_spec_id(x), ug_spec_id(y)) == 0, "a spec with references has the id of the one written out");
        CHECK(strcmp(ug_spec_canonical(x), ug_spec_canonical(y)) == 0, "and its canonical text");
    }
    ug_spec_free(x);
    ug_spec_free(y);
}

/* References cannot blow up: a copy of a copy of ... stops at the node cap, a chain at 64 references,
 * a copy nested past the depth every loaded spec keeps, each an error naming the value. */
static void test_interpolation_bounds(void) {
    static const char head[] = "dataset: {plugin: synthetic2d, data: moons}\nmodel: {plugin: binary_gfn}\n"
                               "objective: [{plugin: kl_tb, updates: [forward]}]\noptim: {forward: {lr: 1e-3}}\n"
                               "train: {steps: 10}\nsweep:\n";
    const char *want[3] = {"more than 100000 values", "references chained more than 64 deep", "nested more than 64 levels deep"};
    for (int c = 0; c < 3; c++) {
        size_t cap = 1 << 16, n = 0;
        char *t = malloc(cap);
        if (!t) return;
        n += (size_t)snprintf(t + n, cap - n, "%s", head);
        if (c == 0) { /* each level ten copies of the one before: 10^12 values unchecked */
            n += (size_t)snprintf(t + n, cap - n, "  a0: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n");
            for (int i = 1; i < 12; i++) {
                n += (size_t)snprintf(t + n, cap - n, "  a%d: [", i);
                for (int k = 0; k < 10; k++) n += (size_t)snprintf(t + n, cap - n, "%s\"${sweep.a%d}\"", k ? ", " : "", i - 1);
                n += (size_t)snprintf(t + n, cap - n, "]\n");
            }
        } else if (c == 1) { /* c0 -> c1 -> ... -> c100 */
            for (int i = 0; i < 100; i++) n += (size_t)snprintf(t + n, cap - n, "  c%d: \"${sweep.c%d}\"\n", i, i + 1);
            n += (size_t)snprintf(t + n, cap - n, "  c100: 1\n");
        } else { /* each a list holding the one before: one level deeper each */
            n += (size_t)snprintf(t + n, cap - n, "  d0: [1]\n");
            for (int i = 1; i < 70; i++) n += (size_t)snprintf(t + n, cap - n, "  d%d: [\"${sweep.d%d}\"]\n", i, i - 1);
        }
        ug_error err = {0};
        ug_spec *s = NULL;
        ug_status st = ug_spec_load_string("bounds.yaml", t, NULL, 0, &fake_registry, &s, &err);
        CHECK(st == UG_ERR_SPEC && !s && strstr(err.msg, want[c]) && strncmp(err.msg, "bounds.yaml:", 12) == 0,
              "case %d: %s", c, err.msg);
        ug_spec_free(s);
        free(t);
    }
}

int main(void) {
    test_resolved();
    test_ids();
    test_id_optional();
    test_overrides();
    test_override_twice();
    test_override_utf8();
    test_include();
    test_flatten();
    test_sweep_and_names();
    test_lenient_and_io();
    test_add_delete();
    test_interpolation();
    test_interpolation_bounds();
    return CHECK_DONE();
}
