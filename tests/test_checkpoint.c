/* test_checkpoint.c — save/perturb/load is bit-exact for values and optimizer moments; training on
 * from a restored state matches training on from the original bit for bit; damaged, truncated,
 * foreign, newer and mismatched files are refused with messages and leave the model untouched. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "unigfn/host/checkpoint.h"

typedef struct model {
    ug_params *P;
    ug_optim adam, sgd;
    ug_optim *opts[2];
} model;

/* forward: w [4, 3], b [4]; logZ: scalar; backward: empty (a fixed P_B). */
static void model_make(model *m, int64_t w_cols, bool with_logz) {
    m->P = ug_params_new();
    ug_rng rng = ug_rng_make(17, 0);
    int64_t ws[2] = {4, w_cols}, bs[1] = {4};
    ug_init_normal(ug_param(m->P, "forward", "w", 2, ws), 0, 1, &rng);  // [4, w_cols]
    ug_init_normal(ug_param(m->P, "forward", "b", 1, bs), 0, 1, &rng);  // [4]
    if (with_logz) ug_init_const(ug_param(m->P, "logZ", "logZ", 0, NULL), 0.5f);  // []
    ug_params_group(m->P, "backward");
    ug_params_finalize(m->P);
    ug_optim_config ca = ug_optim_defaults(UG_OPTIM_ADAM);
    ca.lr = 0.05f;
    ca.clip_norm = 10.0f;
    ug_optim_init(&m->adam, m->P, ug_params_group_index(m->P, "forward"), &ca);
    m->opts[0] = &m->adam;
    if (with_logz) {
        ug_optim_config cs = ug_optim_defaults(UG_OPTIM_SGD);
        cs.lr = 0.1f;
        cs.momentum = 0.9f;
        ug_optim_init(&m->sgd, m->P, ug_params_group_index(m->P, "logZ"), &cs);
        m->opts[1] = &m->sgd;
    }
}

static void model_free(model *m) {
    ug_optim_free(&m->adam);
    if (m->opts[1]) ug_optim_free(&m->sgd);
    ug_params_free(m->P);
    memset(m, 0, sizeof *m);
}

/* Deterministic gradients that depend on the current values (so state divergence would show). */
static void train(model *m, int steps) {
    for (int s = 0; s < steps; s++) {
        for (int g = 0; g < ug_params_group_count(m->P); g++) {
            float *d, *gr;
            int64_t n;
            ug_params_group_info(m->P, g, NULL, &d, &gr, &n);
            for (int64_t i = 0; i < n; i++) gr[i] = sinf(3.0f * d[i] + (float)i) + 0.1f * d[i];
        }
        for (int k = 0; k < 2; k++)
            if (m->opts[k]) ug_optim_step(m->opts[k], NULL);
    }
}

static float *group_copy(const ug_params *P, const char *name, int64_t *n) {
    float *d;
    ug_params_group_info(P, ug_params_group_index(P, name), NULL, &d, NULL, n);
    float *c = malloc((size_t)(*n ? *n : 1) * sizeof *c);
    memcpy(c, d, (size_t)*n * sizeof *c);
    return c;
}

static bool group_equals(const ug_params *P, const char *name, const float *ref, int64_t n) {
    float *d;
    int64_t m;
    ug_params_group_info(P, ug_params_group_index(P, name), NULL, &d, NULL, &m);
    return m == n && memcmp(d, ref, (size_t)n * sizeof *d) == 0;
}

static char *slurp(const char *path, long *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)*len + 1);
    if (fread(b, 1, (size_t)*len, f) != (size_t)*len) *len = -1;
    fclose(f);
    return b;
}

static void spit(const char *path, const char *b, long len) {
    FILE *f = fopen(path, "wb");
    fwrite(b, 1, (size_t)len, f);
    fclose(f);
}

int main(void) {
    char dir[] = "/tmp/ug_ckpt_XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char path[256], bad[256], tmp[256];
    snprintf(path, sizeof path, "%s/model.ckpt", dir);
    snprintf(bad, sizeof bad, "%s/bad.ckpt", dir);
    snprintf(tmp, sizeof tmp, "%s/model.ckpt.tmp", dir);

    model a = {0};
    model_make(&a, 3, true);
    train(&a, 3);
    int64_t train_step = 3;
    ug_rng run_rng = ug_rng_make(99, 4);
    run_rng.pos = 12345;
    const char note[] = "dataset cursor 42";
    ug_ckpt_blob blobs[3] = {
        {.name = "train_step", .data = &train_step, .size = sizeof train_step},
        {.name = "rng", .data = &run_rng, .size = sizeof run_rng},
        {.name = "dataset", .data = (void *)note, .size = sizeof note},
    };
    ug_error err = {0};
    ug_status st = ug_checkpoint_save(path, a.P, a.opts, 2, blobs, 3, &err);
    CHECK(st == UG_OK, "save: %s", err.msg);
    CHECK(access(tmp, F_OK) != 0, "no .tmp left behind");

    /* Snapshot, perturb everything, load, compare bit for bit. */
    int64_t nf, nz;
    float *fwd = group_copy(a.P, "forward", &nf), *lz = group_copy(a.P, "logZ", &nz);
    float *m0 = malloc((size_t)nf * sizeof *m0), *v0 = malloc((size_t)nf * sizeof *v0);
    memcpy(m0, a.adam.m, (size_t)nf * sizeof *m0);
    memcpy(v0, a.adam.v, (size_t)nf * sizeof *v0);
    float buf0 = a.sgd.m[0], lr0 = a.adam.last_lr;
    train(&a, 2);
    train_step = -1;
    run_rng = ug_rng_make(0, 0);
    char note_back[sizeof note] = {0};
    ug_ckpt_blob back[4] = {
        {.name = "train_step", .data = &train_step, .size = sizeof train_step},
        {.name = "rng", .data = &run_rng, .size = sizeof run_rng},
        {.name = "dataset", .data = NULL},  // load allocates
        {.name = "absent", .data = note_back, .size = 3, .optional = true},
    };
    st = ug_checkpoint_load(path, a.P, a.opts, 2, back, 4, &err);
    CHECK(st == UG_OK, "load: %s", err.msg);
    CHECK(group_equals(a.P, "forward", fwd, nf) && group_equals(a.P, "logZ", lz, nz),
          "values restored bit for bit");
    CHECK(memcmp(a.adam.m, m0, (size_t)nf * 4) == 0 && memcmp(a.adam.v, v0, (size_t)nf * 4) == 0,
          "Adam moments restored bit for bit");
    CHECK(a.adam.step == 3 && a.sgd.step == 3 && a.sgd.m[0] == buf0 && a.adam.last_lr == lr0,
          "steps and momentum restored (%lld, %lld)", (long long)a.adam.step, (long long)a.sgd.step);
    CHECK(train_step == 3 && run_rng.seed == 99 && run_rng.stream == 4 && run_rng.pos == 12345,
          "fixed-size blobs restored");
    CHECK(back[2].found && back[2].size == sizeof note && back[2].data &&
              strcmp((const char *)back[2].data, note) == 0,
          "allocated blob restored");
    CHECK(!back[3].found, "optional absent blob reported as not found");
    free(back[2].data);

    /* Five more steps from the restored state == five more steps from a fresh model loaded from
     * the same file (a different process in real life). */
    model b = {0};
    model_make(&b, 3, true);
    train(&b, 1);  // some unrelated state, overwritten by the load
    st = ug_checkpoint_load(path, b.P, b.opts, 2, NULL, 0, &err);
    CHECK(st == UG_OK, "load into a second model: %s", err.msg);
    train(&a, 5);
    train(&b, 5);
    int64_t n2;
    float *fa = group_copy(a.P, "forward", &n2);
    CHECK(group_equals(b.P, "forward", fa, n2), "5 Adam steps after restore are bit-identical");
    CHECK(memcmp(a.adam.m, b.adam.m, (size_t)n2 * 4) == 0 &&
              memcmp(a.adam.v, b.adam.v, (size_t)n2 * 4) == 0 && a.adam.step == b.adam.step,
          "moments after 5 more steps are bit-identical");
    float *za = group_copy(a.P, "logZ", &n2);
    CHECK(group_equals(b.P, "logZ", za, n2) && a.sgd.m[0] == b.sgd.m[0], "SGD group identical too");
    free(fa);
    free(za);

    /* Refusals. Each leaves the model as it was. */
    int64_t nb;
    float *before = group_copy(b.P, "forward", &nb);
    long len = 0;
    char *file = slurp(path, &len);
    CHECK(file && len > 100, "read back %ld bytes", len);

    struct {
        const char *what, *expect;
        long cut;         /* truncate to this length (0 = keep) */
        long flip;        /* xor a byte at this offset (-1 = none) */
        uint8_t version;  /* patch the version byte (0 = keep) */
    } cases[] = {
        {"truncated tail", "truncated", len - 7, -1, 0},
        {"truncated mid-section", "truncated", len / 2, -1, 0},
        {"empty file", "truncated", 0, -1, 0},
        {"wrong magic", "bad magic", 0, 0, 0},
        {"newer version", "newer", 0, -1, 2},
        {"damaged payload", "checksum", 0, len / 2, 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char *copy = malloc((size_t)len);
        memcpy(copy, file, (size_t)len);
        long n = cases[k].cut ? cases[k].cut : len;
        if (!strcmp(cases[k].what, "empty file")) n = 0;
        if (cases[k].flip >= 0) copy[cases[k].flip] ^= 0x5a;
        if (cases[k].version) copy[8] = (char)cases[k].version;
        spit(bad, copy, n);
        free(copy);
        ug_error e = {0};
        st = ug_checkpoint_load(bad, b.P, b.opts, 2, NULL, 0, &e);
        CHECK(st != UG_OK && strstr(e.msg, cases[k].expect) && strstr(e.msg, bad),
              "%s: expected '%s' in: %s", cases[k].what, cases[k].expect, e.msg);
    }
    {  /* a file that is not a checkpoint at all */
        spit(bad, "hello, world", 12);
        ug_error e = {0};
        CHECK(ug_checkpoint_load(bad, b.P, b.opts, 2, NULL, 0, &e) != UG_OK &&
                  strstr(e.msg, "bad magic"),
              "foreign file: %s", e.msg);
    }
    ug_error e = {0};
    CHECK(ug_checkpoint_load("/nonexistent/x.ckpt", b.P, b.opts, 2, NULL, 0, &e) == UG_ERR_IO,
          "missing file: %s", e.msg);
    {  /* paths that are not regular files: refused with the reason, before any read (a FIFO without a
        * writer would block a plain open forever; /dev/zero would be read until memory ran out) */
        char special[300], link[300];
        snprintf(special, sizeof special, "%s/special", dir);
        snprintf(link, sizeof link, "%s/link.ckpt", dir);
        struct { const char *what, *expect; int kind; } sp[] = {
            {"a directory", "not a regular file (a directory)", 0},
            {"a FIFO", "not a regular file (a FIFO)", 1},
            {"/dev/zero", "not a regular file (a character device)", 2},
            {"a dangling symbolic link", "a symbolic link to 'nowhere', which does not exist", 3},
            {"a file larger than this model's checkpoint can be", "more than a checkpoint of this model can hold", 4},
        };
        for (size_t k = 0; k < sizeof sp / sizeof sp[0]; k++) {
            const char *target = special;
            bool made = false;
            if (sp[k].kind == 0) made = mkdir(special, 0700) == 0;
            else if (sp[k].kind == 1) made = mkfifo(special, 0600) == 0;
            else if (sp[k].kind == 2) made = symlink("/dev/zero", link) == 0, target = link;
            else if (sp[k].kind == 3) made = symlink("nowhere", link) == 0, target = link;
            else made = truncate(bad, (off_t)3 << 30) == 0, target = bad;  /* sparse: no disk used */
            CHECK(made, "%s: cannot make it", sp[k].what);
            memset(&e, 0, sizeof e);
            st = ug_checkpoint_load(target, b.P, b.opts, 2, NULL, 0, &e);
            CHECK(st == UG_ERR_IO && strstr(e.msg, sp[k].expect) && strstr(e.msg, target), "%s: expected '%s' in: %s",
                  sp[k].what, sp[k].expect, e.msg);
            if (sp[k].kind == 0) rmdir(special);
            else if (sp[k].kind == 1) unlink(special);
            else if (sp[k].kind <= 3) unlink(link);
        }
        CHECK(group_equals(b.P, "forward", before, nb), "a refused special file changed the model");
    }

    /* Model mismatches. */
    model c = {0};
    model_make(&c, 5, true);  // w [4, 5] instead of [4, 3]
    float *cbefore = group_copy(c.P, "forward", &n2);
    memset(&e, 0, sizeof e);
    st = ug_checkpoint_load(path, c.P, c.opts, 0, NULL, 0, &e);
    /* the parameter that differs is named with both shapes (not only the group's float count) */
    CHECK(st == UG_ERR_ARG && strstr(e.msg, "parameter 0 of group 'forward' is 'w' [4, 3] in the file but 'w' [4, 5] "
                                           "in the model"),
          "shape mismatch: %s", e.msg);
    CHECK(group_equals(c.P, "forward", cbefore, n2), "refused load left values untouched");
    free(cbefore);
    model_free(&c);

    model d = {0};
    model_make(&d, 3, false);  // no logZ group
    memset(&e, 0, sizeof e);
    st = ug_checkpoint_load(path, d.P, d.opts, 1, NULL, 0, &e);
    CHECK(st == UG_ERR_ARG && strstr(e.msg, "'logZ'") && strstr(e.msg, "not in the model"),
          "extra group in file: %s", e.msg);
    model_free(&d);

    /* Same sizes, different optimizer algorithm. */
    model f = {0};
    model_make(&f, 3, true);
    ug_optim_free(&f.adam);
    ug_optim_config cw = ug_optim_defaults(UG_OPTIM_ADAMW);
    ug_optim_init(&f.adam, f.P, 0, &cw);
    memset(&e, 0, sizeof e);
    st = ug_checkpoint_load(path, f.P, f.opts, 2, NULL, 0, &e);
    CHECK(st == UG_ERR_ARG && strstr(e.msg, "adam in the file but adamw"), "algorithm: %s", e.msg);
    /* A required blob that is absent, and one with the wrong size. */
    ug_optim_free(&f.adam);
    ug_optim_config ca = ug_optim_defaults(UG_OPTIM_ADAM);
    ug_optim_init(&f.adam, f.P, 0, &ca);
    int32_t small = 0;
    ug_ckpt_blob need1 = {.name = "nope", .data = &small, .size = 4};
    memset(&e, 0, sizeof e);
    st = ug_checkpoint_load(path, f.P, f.opts, 2, &need1, 1, &e);
    CHECK(st == UG_ERR_ARG && strstr(e.msg, "'nope'"), "missing blob: %s", e.msg);
    ug_ckpt_blob need2 = {.name = "train_step", .data = &small, .size = 4};
    memset(&e, 0, sizeof e);
    st = ug_checkpoint_load(path, f.P, f.opts, 2, &need2, 1, &e);
    CHECK(st == UG_ERR_ARG && strstr(e.msg, "8 bytes"), "blob size: %s", e.msg);
    model_free(&f);

    CHECK(group_equals(b.P, "forward", before, nb), "refusals left the model untouched");
    free(before);
    free(file);
    free(fwd);
    free(lz);
    free(m0);
    free(v0);
    model_free(&a);
    model_free(&b);
    remove(path);
    remove(bad);
    rmdir(dir);
    return CHECK_DONE();
}
