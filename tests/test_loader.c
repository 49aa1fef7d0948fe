/* test_loader.c — the plugin loader against deliberately broken libraries (tests/plugins_bad/): every
 * refusal message exactly, duplicates across files, permission checks on the file and its directories,
 * the default search with UNIGFN_PLUGIN_PATH, a good plugin's loss called through the host table, and
 * a plugin declaring an older ABI minor (tests/plugins_compat/) loading and running.
 *
 * argv[1]: the build folder holding the plugins_bad modules; argv[2]: the one holding plugins_compat's. */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "unigfn/host/loader.h"
#include "unigfn/host/spec.h"

static const char *g_dir, *g_compat_dir;
static char g_abi_major_msg[160], g_abi_minor_msg[160];  /* the refusals name this host's ABI */
static const char *const k_rights = "a plugin is code that runs with your rights";

static const char *lib(const char *name) {
    static char buf[8][PATH_MAX];
    static int next;
    char *b = buf[next++ % 8];
    snprintf(b, PATH_MAX, "%s/%s.so", g_dir, name);
    return b;
}

/* Load `path` into a fresh registry and check the refusal reads exactly "PATH: reason". */
static void expect_refusal(const char *path, const char *reason) {
    ug_registry *reg = ug_registry_new();
    ug_error err = {0};
    ug_status s = ug_registry_load_file(reg, path, &err);
    char want[2048];
    snprintf(want, sizeof want, "%s: %s", path, reason);
    CHECK(s == UG_ERR_PLUGIN, "%s: status %s, want plugin error", path, ug_status_name(s));
    CHECK(strcmp(err.msg, want) == 0, "\n  got:  %s\n  want: %s", err.msg, want);
    CHECK(ug_registry_count(reg) == 0, "a refused library registered %d plugins", ug_registry_count(reg));
    ug_registry_free(reg);
}

static void expect_loads(const char *path, const char *what) {
    ug_registry *reg = ug_registry_new();
    ug_error err = {0};
    ug_status s = ug_registry_load_file(reg, path, &err);
    CHECK(s == UG_OK, "%s: %s", what, err.msg);
    CHECK(ug_registry_find(reg, UG_KIND_OBJECTIVE, "test_good_kl") != NULL, "%s: not registered", what);
    ug_registry_free(reg);
}

/* ---- a two-step fake model, so the good plugin's loss runs through the host table ---- */
static ug_status fake_backward(void *self, ug_ctx *ctx, ug_rng *rng, const ug_traj_req *req, ug_traj *out) {
    (void)self, (void)rng;
    static const float pf[2][3] = {{-1.0f, -2.0f, -0.5f}, {-0.25f, -1.5f, -3.0f}};
    static const float pb[2][3] = {{-0.5f, -0.5f, -0.5f}, {-1.0f, 0.0f, -2.0f}};
    int64_t B = req->start->shape[0];
    int64_t shp[1] = {B};
    ug_tensor **lpf = ug_arena_alloc(ctx, 2 * sizeof(ug_tensor *));
    ug_tensor **lpb = ug_arena_alloc(ctx, 2 * sizeof(ug_tensor *));
    for (int k = 0; k < 2; k++) {
        lpf[k] = ug_from_f32(ctx, pf[k], 1, shp);   // [B]
        lpb[k] = ug_from_f32(ctx, pb[k], 1, shp);   // [B]
    }
    *out = (ug_traj){.size = sizeof *out, .batch = B, .start = 0, .steps = 2, .log_pf = lpf, .log_pb = lpb,
                     .last = req->start};
    return UG_OK;
}

static void check_good_plugin_runs(const ug_plugin_ref *ref) {
    ug_cfg_pool *pool = ug_cfg_pool_new();
    ug_cfg *map = ug_cfg_new(pool, UG_CFG_MAP, "test", 1, 1);
    ug_cfg *scale = ug_cfg_new(pool, UG_CFG_FLOAT, "test", 2, 1);
    scale->key = "scale";
    scale->text = "2.5";
    scale->f = 2.5;
    ug_cfg_append(pool, map, scale);
    ug_create_args args = {.size = sizeof args, .cfg = map};
    ug_error err = {0};
    void *self = ref->desc->create(&args, &err);
    CHECK(self != NULL, "create failed: %s", err.msg);
    if (!self) {
        ug_cfg_pool_free(pool);
        return;
    }
    ug_ctx *ctx = ug_ctx_new(1 << 20);
    ug_model_vtable mvt = {.size = sizeof mvt, .sample_backward = fake_backward};
    ug_model model = {.size = sizeof model, .vt = &mvt, .info = {.size = sizeof(ug_model_info), .horizon = 2}};
    float x[3 * 2] = {0};
    int64_t xs[2] = {3, 2};
    ug_rng rng = ug_rng_make(1, 2);
    ug_step_env env = {.size = sizeof env, .ctx = ctx, .rng = &rng, .model = &model,
                       .batch = ug_from_f32(ctx, x, 2, xs)};
    ug_loss_out out = {.size = sizeof out};
    const ug_objective_vtable *vt = ref->desc->vtable;
    ug_status s = vt->loss(self, &env, &out);
    CHECK(s == UG_OK, "loss: %s", ug_ctx_errmsg(ctx));
    /* per row: (pb0-pf0)+(pb1-pf1) = -0.25, 3.0, 1.0 -> mean 1.25 -> x2.5 */
    if (s == UG_OK && out.loss) CHECK_CLOSE(ug_item(out.loss), 2.5 * (-0.25 + 3.0 + 1.0) / 3.0, 1e-6, 1e-6);
    ref->desc->destroy(self);
    ug_ctx_free(ctx);
    ug_cfg_pool_free(pool);
}

static void test_good(void) {
    ug_registry *reg = ug_registry_new();
    ug_error err = {0};
    const char *path = lib("good");
    CHECK(ug_registry_load_file(reg, path, &err) == UG_OK, "good: %s", err.msg);
    CHECK(ug_registry_load_file(reg, path, &err) == UG_OK, "good again: %s", err.msg);
    CHECK(ug_registry_count(reg) == 1, "count %d after loading one library twice", ug_registry_count(reg));
    const ug_plugin_ref *r = ug_registry_find(reg, UG_KIND_OBJECTIVE, "test_good_kl");
    CHECK(r != NULL, "test_good_kl not found");
    CHECK(ug_registry_find(reg, UG_KIND_METRIC, "test_good_kl") == NULL, "found under the wrong kind");
    if (r) {
        CHECK(strcmp(r->path, path) == 0, "path %s", r->path);
        CHECK(r->desc->size == sizeof(ug_plugin_desc), "descriptor copy size %u", r->desc->size);
        CHECK(*(const uint32_t *)r->desc->vtable == sizeof(ug_objective_vtable), "vtable copy size");
        CHECK(r->desc->params && strcmp(r->desc->params[0].key, "scale") == 0, "schema");
        CHECK(r->desc->required_caps == NULL, "required_caps should be absent");
        CHECK(ug_registry_at(reg, 0) == r, "at(0)");
        check_good_plugin_runs(r);
    }
    /* the spec loader's view */
    ug_spec_registry view;
    ug_registry_spec_view(reg, &view);
    const char *names[4];
    int n = view.names(view.ud, "objective", names, 4);
    CHECK(n == 1 && strcmp(names[0], "test_good_kl") == 0, "names: %d", n);
    CHECK(view.names(view.ud, "model", names, 4) == 0, "no models");
    const ug_param_spec *ps = view.schema(view.ud, "objective", "test_good_kl");
    CHECK(ps && ps[0].key && strcmp(ps[0].key, "scale") == 0 && ps[1].key == NULL, "schema via view");
    CHECK(view.schema(view.ud, "objective", "nope") == NULL, "unknown name");
    CHECK(view.schema(view.ud, "dataset", "test_good_kl") == NULL, "wrong kind");
    ug_registry_free(reg);

    CHECK(strcmp(ug_kind_name(UG_KIND_METRIC), "metric") == 0, "kind name");
    CHECK(ug_kind_from_name("dataset") == UG_KIND_DATASET && ug_kind_from_name("plugin") == 0, "kind from name");
}

static void test_refusals(void) {
    expect_refusal(lib("no_entry"), "no entry function 'unigfn_plugin_entry'");
    expect_refusal(lib("abi_major"), g_abi_major_msg);
    expect_refusal(lib("abi_minor"), g_abi_minor_msg);
    expect_refusal(lib("malformed"), "objective 'test_malformed': descriptor has no create function");
    expect_refusal("/nonexistent-ug/x.so", "cannot open: No such file or directory");

    /* every other fault the malformed library can have */
    static const struct { const char *c, *reason; } cases[] = {
        {"null_destroy", "objective 'test_malformed': descriptor has no destroy function"},
        {"null_vtable", "objective 'test_malformed': descriptor has no vtable"},
        {"tiny_vtable", "objective 'test_malformed': vtable is 4 bytes, ABI 1.0 needs at least 32"},
        {"no_loss", "objective 'test_malformed': vtable has no loss function"},
        {"dup_key", "objective 'test_malformed': parameter key 'scale' is declared twice"},
        {"reserved_key", "objective 'test_malformed': parameter key 'weight' is reserved by the spec"},
        {"enum_no_choices", "objective 'test_malformed': enum parameter 'mode' has no choices"},
        {"bad_kind", "plugin 'test_malformed' has unknown kind 9"},
        {"empty_name", "objective descriptor 0 has no name"},
        {"bad_name", "objective name 'two words' is invalid (at most 63 letters, digits, '_', '-', '.')"},
        /* a library's bytes are shown escaped, never sent to the terminal as they are */
        {"bytes_name", "objective name 'evil\\x1b[2J\\xc2\\x9b\\x27\\xff' is invalid (at most 63 letters, digits, '_', '-', '.')"},
        {"bytes_key", "objective 'test_malformed': parameter 0 has an invalid key 'k\\x1b[31m' (letters, digits, '_', '-')"},
        {"short_desc", "descriptor 0 is too small (16 bytes): not a unigfn plugin descriptor"},
        {"old_desc", "plugin 'test_malformed': descriptor is 40 bytes, ABI 1.0 needs at least 72"},
        {"null_desc", "descriptor 0 is NULL"},
        {"no_descs", "entry function returned no descriptors"},
        {"twice", "objective 'test_malformed' is declared twice in this library"},
    };
    CHECK(offsetof(ug_plugin_desc, params) == 40 && offsetof(ug_plugin_desc, required_caps) == 72,
          "descriptor layout on LP64 changed (update the cases)");
    CHECK(sizeof(ug_objective_vtable) == 32, "objective vtable 1.0 is 32 bytes on LP64 (update the case)");
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        setenv("UG_BAD_CASE", cases[i].c, 1);
        expect_refusal(lib("malformed"), cases[i].reason);
    }
    unsetenv("UG_BAD_CASE");

    /* duplicates across libraries name both files; the first one stays */
    ug_registry *reg = ug_registry_new();
    ug_error err = {0};
    CHECK(ug_registry_load_file(reg, lib("dup_a"), &err) == UG_OK, "dup_a: %s", err.msg);
    ug_error e2 = {0};
    CHECK(ug_registry_load_file(reg, lib("dup_b"), &e2) == UG_ERR_PLUGIN, "dup_b accepted");
    char want[2048];
    snprintf(want, sizeof want, "%s: objective 'test_dup' is already provided by %s", lib("dup_b"), lib("dup_a"));
    CHECK(strcmp(e2.msg, want) == 0, "\n  got:  %s\n  want: %s", e2.msg, want);
    const ug_plugin_ref *r = ug_registry_find(reg, UG_KIND_OBJECTIVE, "test_dup");
    CHECK(r && strcmp(r->desc->summary, "copy a") == 0, "the first library should keep the name");
    ug_registry_free(reg);
}

/* Scanning the folder: refusals become problems, in file order; the good ones are registered. */
static void test_scan(void) {
    ug_registry *reg = ug_registry_new();
    ug_error err = {0};
    CHECK(ug_registry_scan_dir(reg, g_dir, &err) == UG_OK, "scan: %s", err.msg);
    CHECK(ug_registry_count(reg) == 2, "registered %d, want test_dup and test_good_kl", ug_registry_count(reg));
    CHECK(ug_registry_find(reg, UG_KIND_OBJECTIVE, "test_good_kl") != NULL, "good not found by scan");
    const char *want[5][2] = {
        {"abi_major", g_abi_major_msg},
        {"abi_minor", g_abi_minor_msg},
        {"dup_b", NULL},
        {"malformed", "objective 'test_malformed': descriptor has no create function"},
        {"no_entry", "no entry function 'unigfn_plugin_entry'"},
    };
    int np = ug_registry_problem_count(reg);
    CHECK(np == 5, "%d problems, want 5", np);
    for (int i = 0; i < 5 && i < np; i++) {
        char w[2048];
        if (want[i][1]) snprintf(w, sizeof w, "%s: %s", lib(want[i][0]), want[i][1]);
        else snprintf(w, sizeof w, "%s: objective 'test_dup' is already provided by %s", lib("dup_b"), lib("dup_a"));
        CHECK(strcmp(ug_registry_problem(reg, i), w) == 0, "\n  got:  %s\n  want: %s", ug_registry_problem(reg, i), w);
    }
    ug_error e2 = {0};
    CHECK(ug_registry_scan_dir(reg, "/nonexistent-ug", &e2) == UG_ERR_IO, "scan of a missing folder");
    CHECK(strcmp(e2.msg, "/nonexistent-ug: cannot open plugin directory: No such file or directory") == 0, "%s", e2.msg);
    ug_registry_free(reg);
}

static int copy_file(const char *src, const char *dst) {
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    int ok = in && out;
    char buf[1 << 14];
    size_t n;
    while (ok && (n = fread(buf, 1, sizeof buf, in)) > 0) ok = fwrite(buf, 1, n, out) == n;
    if (in) fclose(in);
    if (out && fclose(out) != 0) ok = 0;
    return ok ? 0 : -1;
}

/* A copy of the good library in a temporary folder: refused while others can change it, then accepted. */
static void test_permissions(void) {
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s/../loader_perm_XXXXXX", g_dir);
    if (!mkdtemp(tmp)) {
        CHECK(0, "mkdtemp: %s", strerror(errno));
        return;
    }
    char real[PATH_MAX], so[PATH_MAX + 16], reason[PATH_MAX + 256];
    CHECK(realpath(tmp, real) != NULL, "realpath");
    snprintf(so, sizeof so, "%s/good.so", tmp);
    CHECK(copy_file(lib("good"), so) == 0, "copy good.so");
    chmod(so, 0755);

    chmod(tmp, 0777);
    snprintf(reason, sizeof reason, "refusing to load a plugin from a directory writable by other users (%s mode 0777): %s",
             real, k_rights);
    expect_refusal(so, reason);
    ug_registry *reg = ug_registry_new();
    ug_error err = {0};
    CHECK(ug_registry_scan_dir(reg, tmp, &err) == UG_ERR_PLUGIN, "scan of a 0777 folder accepted");
    char want[3 * PATH_MAX + 512];
    snprintf(want, sizeof want, "%s: %s", tmp, reason);
    CHECK(strcmp(err.msg, want) == 0, "\n  got:  %s\n  want: %s", err.msg, want);
    CHECK(ug_registry_count(reg) == 0, "registered from a 0777 folder");
    ug_registry_free(reg);

    /* a sticky world-writable folder (like /tmp): others cannot replace our file */
    chmod(tmp, 01777);
    expect_loads(so, "sticky 1777 folder");

    chmod(tmp, 0755);
    expect_loads(so, "0755 folder");
    reg = ug_registry_new();
    CHECK(ug_registry_scan_dir(reg, tmp, &err) == UG_OK && ug_registry_count(reg) == 1, "scan 0755: %s", err.msg);
    ug_registry_free(reg);

    chmod(so, 0666);
    snprintf(reason, sizeof reason, "refusing to load a plugin writable by other users (mode 0666): %s", k_rights);
    expect_refusal(so, reason);
    chmod(so, 0755);

    if (geteuid() == 0) {
        /* ownership can only be handed away by root */
        CHECK(chown(so, 65534, (gid_t)-1) == 0, "chown file");
        snprintf(reason, sizeof reason, "refusing to load a plugin owned by another user (uid 65534): %s", k_rights);
        expect_refusal(so, reason);
        CHECK(chown(so, 0, (gid_t)-1) == 0, "chown file back");
        CHECK(chown(tmp, 65534, (gid_t)-1) == 0, "chown dir");
        snprintf(reason, sizeof reason, "refusing to load a plugin from a directory owned by another user (%s uid 65534): %s",
                 real, k_rights);
        expect_refusal(so, reason);
        CHECK(chown(tmp, 0, 65534) == 0, "chown dir back, group 65534");
        chmod(tmp, 0775);   /* group-writable by a group that is not root's own */
        snprintf(reason, sizeof reason, "refusing to load a plugin from a directory writable by other users (%s mode 0775): %s",
                 real, k_rights);
        expect_refusal(so, reason);
        chmod(tmp, 0755);
        expect_loads(so, "0755 folder of another group");
    } else {
        printf("note: not root, ownership refusals not exercised\n");
    }

    /* the default search: the build's folder, then UNIGFN_PLUGIN_PATH (a missing entry is a problem) */
    char envp[PATH_MAX + 64];
    snprintf(envp, sizeof envp, "/nonexistent-ug::%s", tmp);
    setenv("UNIGFN_PLUGIN_PATH", envp, 1);
    reg = ug_registry_new();
    CHECK(ug_registry_scan_default(reg, &err) == UG_OK, "scan_default: %s", err.msg);
    const ug_plugin_ref *r = ug_registry_find(reg, UG_KIND_OBJECTIVE, "test_good_kl");
    CHECK(r && strncmp(r->path, tmp, strlen(tmp)) == 0, "test_good_kl from UNIGFN_PLUGIN_PATH: %s", r ? r->path : "none");
    int seen = 0;
    for (int i = 0; i < ug_registry_problem_count(reg); i++)
        seen |= strcmp(ug_registry_problem(reg, i), "/nonexistent-ug: no such directory (from UNIGFN_PLUGIN_PATH)") == 0;
    CHECK(seen, "missing UNIGFN_PLUGIN_PATH entry not reported");
    ug_registry_free(reg);
    unsetenv("UNIGFN_PLUGIN_PATH");

    /* depth: files in tmp/a/b/c are found (four folder levels), those in tmp/a/b/c/d are not */
    char deep[PATH_MAX + 64], deeper[PATH_MAX + 64];
    snprintf(deep, sizeof deep, "%s/a", tmp);
    mkdir(deep, 0755);
    snprintf(deep, sizeof deep, "%s/a/b", tmp);
    mkdir(deep, 0755);
    snprintf(deep, sizeof deep, "%s/a/b/c", tmp);
    mkdir(deep, 0755);
    snprintf(deeper, sizeof deeper, "%s/a/b/c/d", tmp);
    mkdir(deeper, 0755);
    char so4[PATH_MAX + 80], so5[PATH_MAX + 80];
    snprintf(so4, sizeof so4, "%s/good.so", deep);
    snprintf(so5, sizeof so5, "%s/good.so", deeper);
    CHECK(rename(so, so5) == 0, "move to depth 5");
    reg = ug_registry_new();
    CHECK(ug_registry_scan_dir(reg, tmp, &err) == UG_OK && ug_registry_count(reg) == 0, "found at depth 5");
    ug_registry_free(reg);
    CHECK(rename(so5, so4) == 0, "move to depth 4");
    reg = ug_registry_new();
    CHECK(ug_registry_scan_dir(reg, tmp, &err) == UG_OK && ug_registry_count(reg) == 1, "not found at depth 4");
    ug_registry_free(reg);

    unlink(so4);
    rmdir(deeper);
    rmdir(deep);
    snprintf(deep, sizeof deep, "%s/a/b", tmp);
    rmdir(deep);
    snprintf(deep, sizeof deep, "%s/a", tmp);
    rmdir(deep);
    rmdir(tmp);
}

/* A plugin built for an older minor (it declares 1.0 and knows only 1.0's table) loads: the host hands
 * it the longer table, keeps its declared minor in the zero-padded copy, and its loss runs. */
static void test_older_minor(void) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/abi_prev.so", g_compat_dir);
    ug_registry *reg = ug_registry_new();
    ug_error err = {0};
    CHECK(UG_ABI_MINOR > 0, "this host is ABI %d.%d: no older minor to test", UG_ABI_MAJOR, UG_ABI_MINOR);
    CHECK(ug_registry_load_file(reg, path, &err) == UG_OK, "a plugin for ABI 1.0 refused: %s", err.msg);
    const ug_plugin_ref *r = ug_registry_find(reg, UG_KIND_OBJECTIVE, "test_abi_prev");
    CHECK(r != NULL, "test_abi_prev not registered");
    if (r) {
        CHECK(r->desc->abi_major == 1 && r->desc->abi_minor == 0, "declared ABI %u.%u, want 1.0",
              (unsigned)r->desc->abi_major, (unsigned)r->desc->abi_minor);
        CHECK(r->desc->size == sizeof(ug_plugin_desc), "descriptor copy size %u", r->desc->size);
        CHECK(*(const uint32_t *)r->desc->vtable == sizeof(ug_objective_vtable), "vtable copy size");
        check_good_plugin_runs(r);
    }
    ug_registry_free(reg);
    reg = ug_registry_new();
    CHECK(ug_registry_scan_dir(reg, g_compat_dir, &err) == UG_OK, "scan: %s", err.msg);
    CHECK(ug_registry_count(reg) == 1 && ug_registry_problem_count(reg) == 0, "scan of plugins_compat: %d loaded, %d problems",
          ug_registry_count(reg), ug_registry_problem_count(reg));
    ug_registry_free(reg);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: test_loader BAD_PLUGIN_DIR COMPAT_PLUGIN_DIR\n");
        return 2;
    }
    g_dir = argv[1];
    g_compat_dir = argv[2];
    snprintf(g_abi_major_msg, sizeof g_abi_major_msg,
             "plugin 'test_abi_major' was built for ABI %d.0, this unigfn has ABI %d.%d", UG_ABI_MAJOR + 1,
             UG_ABI_MAJOR, UG_ABI_MINOR);
    snprintf(g_abi_minor_msg, sizeof g_abi_minor_msg, "plugin 'test_abi_minor' needs ABI minor 7, this unigfn has %d.%d",
             UG_ABI_MAJOR, UG_ABI_MINOR);
    test_good();
    test_refusals();
    test_scan();
    test_permissions();
    test_older_minor();
    return CHECK_DONE();
}
