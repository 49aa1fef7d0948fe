/* fuzz_checkpoint.c — libFuzzer target for the checkpoint loader (ug_checkpoint_load, nn/checkpoint.c).
 *
 * Input: one mode byte, then the file. Mode bit 0 reseals it: when the file ends in an END section
 * its SHA-256 is recomputed over the bytes before, so a mutation reaches the section parser instead of
 * stopping at "checksum mismatch" (a hostile file has a valid hash too: anyone can compute one).
 * Beyond "no crash, no leak, no hang" it asserts the loader's contracts on a fixed small model (two
 * groups with an optimizer each, an empty group, a fixed-size blob, an optional blob the load
 * allocates): a refusal has a one-line message of printable bytes only (file bytes escaped) and leaves
 * every value, optimizer moment and step and every blob untouched; an accepted file saves and loads
 * again to the same state.
 *
 * UG_FUZZ_SEEDS=DIR (read when the fuzzer starts) writes the seed corpus there: real checkpoints of
 * this model (after a few optimizer steps, so the moments are not zero), and mutants of them: resealed
 * with a group renamed, with an unknown section, with a shape changed, truncated, and a checkpoint of a
 * model of another shape. tests/fuzz/run.sh makes the seeds so, then fuzzes. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unigfn/host/checkpoint.h"
#include "unigfn/host/sha256.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct model {
    ug_params *P;
    ug_optim adam, sgd;
    ug_optim *opts[2];
    uint64_t step;              /* blob "step": fixed size, loaded in place */
    ug_ckpt_blob blobs[2];      /* [1] "extra": optional, allocated by the load */
} model;

/* forward: w [4, cols], b [4]; logZ: scalar; backward: empty. */
static void model_make(model *m, int64_t cols) {
    memset(m, 0, sizeof *m);
    m->P = ug_params_new();
    ug_rng rng = ug_rng_make(5, 0);
    int64_t ws[2] = {4, cols}, bs[1] = {4};
    ug_init_normal(ug_param(m->P, "forward", "w", 2, ws), 0, 1, &rng);  // [4, cols]
    ug_init_normal(ug_param(m->P, "forward", "b", 1, bs), 0, 1, &rng);  // [4]
    ug_init_const(ug_param(m->P, "logZ", "logZ", 0, NULL), 0.25f);     // []
    ug_params_group(m->P, "backward");
    ug_params_finalize(m->P);
    ug_optim_config ca = ug_optim_defaults(UG_OPTIM_ADAM);
    ug_optim_init(&m->adam, m->P, ug_params_group_index(m->P, "forward"), &ca);
    ug_optim_config cs = ug_optim_defaults(UG_OPTIM_SGD);
    cs.momentum = 0.9f;
    ug_optim_init(&m->sgd, m->P, ug_params_group_index(m->P, "logZ"), &cs);
    m->opts[0] = &m->adam;
    m->opts[1] = &m->sgd;
    m->step = 7;
    m->blobs[0] = (ug_ckpt_blob){.name = "step", .data = &m->step, .size = sizeof m->step};
    m->blobs[1] = (ug_ckpt_blob){.name = "extra", .optional = true};
}

static void model_free(model *m) {
    ug_optim_free(&m->adam);
    ug_optim_free(&m->sgd);
    ug_params_free(m->P);
    free(m->blobs[1].data);
    memset(m, 0, sizeof *m);
}

/* A few updates from made-up gradients, so values and moments are not their initial ones. */
static void model_train(model *m, int steps) {
    for (int s = 0; s < steps; s++) {
        for (int g = 0; g < ug_params_group_count(m->P); g++) {
            float *d, *gr;
            int64_t n;
            ug_params_group_info(m->P, g, NULL, &d, &gr, &n);
            for (int64_t i = 0; i < n; i++) gr[i] = 0.5f * d[i] - 0.1f * (float)(i % 3);
        }
        ug_optim_step(&m->adam, NULL);
        ug_optim_step(&m->sgd, NULL);
    }
}

/* Everything a load may change, as bytes, to compare before and after a refusal. */
typedef struct state {
    unsigned char *b;
    size_t n, cap;
} state;

static void put(state *s, const void *p, size_t n) {
    if (s->n + n > s->cap) {
        s->cap = 2 * (s->n + n) + 256;
        s->b = realloc(s->b, s->cap);
        if (!s->b) abort();
    }
    if (n) memcpy(s->b + s->n, p, n);
    s->n += n;
}

static void snapshot(const model *m, state *s) {
    s->n = 0;
    for (int g = 0; g < ug_params_group_count(m->P); g++) {
        float *d;
        int64_t n;
        ug_params_group_info(m->P, g, NULL, &d, NULL, &n);
        put(s, d, (size_t)n * sizeof *d);
    }
    for (int k = 0; k < 2; k++) {
        const ug_optim *o = m->opts[k];
        put(s, &o->step, sizeof o->step);
        put(s, &o->last_lr, sizeof o->last_lr);
        put(s, &o->last_grad_norm, sizeof o->last_grad_norm);
        if (o->m) put(s, o->m, (size_t)o->count * sizeof(float));
        if (o->v) put(s, o->v, (size_t)o->count * sizeof(float));
    }
    put(s, &m->step, sizeof m->step);
    for (int k = 0; k < 2; k++) {
        put(s, &m->blobs[k].data, sizeof m->blobs[k].data);
        put(s, &m->blobs[k].size, sizeof m->blobs[k].size);
        put(s, &m->blobs[k].found, sizeof m->blobs[k].found);
    }
}

/* One line of printable ASCII or well-formed UTF-8, without C1 controls: what ug_msg_clean promises. */
static bool printable(const char *msg) {
    const unsigned char *p = (const unsigned char *)msg;
    while (*p) {
        if (*p < 0x80) {
            if (*p < 0x20 || *p == 0x7f) return false;
            p++;
            continue;
        }
        int len = *p >= 0xc2 && *p <= 0xdf ? 2 : *p >= 0xe0 && *p <= 0xef ? 3 : *p >= 0xf0 && *p <= 0xf4 ? 4 : 0;
        if (!len) return false;
        uint32_t cp = *p & (len == 2 ? 0x1f : len == 3 ? 0x0f : 0x07);
        for (int i = 1; i < len; i++) {
            if ((p[i] & 0xc0) != 0x80) return false;
            cp = cp << 6 | (p[i] & 0x3f);
        }
        if (cp <= 0x9f) return false;
        p += len;
    }
    return true;
}

static bool write_file(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return false;
    bool ok = fwrite(p, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

static unsigned char *read_all(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    unsigned char *b = NULL;
    size_t cap = 0;
    *n = 0;
    for (;;) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 65536;
            unsigned char *nb = realloc(b, cap);
            if (!nb) break;
            b = nb;
        }
        size_t r = fread(b + *n, 1, cap - *n, f);
        if (r == 0) break;
        *n += r;
    }
    fclose(f);
    return b;
}

/* The END section's hash recomputed, when the file ends in one. */
static void reseal(unsigned char *b, size_t n) {
    if (n < 16 + 44 || memcmp(b + n - 44, "END\0", 4) != 0) return;
    uint64_t len = 0;
    for (int i = 0; i < 8; i++) len |= (uint64_t)b[n - 40 + i] << (8 * i);
    if (len == 32) ug_sha256(b, n - 44, b + n - 32);
}

static model g_model;
static state g_before, g_after;
static char g_path[64], g_path2[72];

/* ---- the seed corpus ---- */

static void put_u32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static void seed(const char *dir, const char *name, int mode, const unsigned char *b, size_t n) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unsigned char *s = malloc(n + 1);
    if (!s) return;
    s[0] = (unsigned char)mode;
    memcpy(s + 1, b, n);
    if (mode & 1) reseal(s + 1, n);
    if (!write_file(path, s, n + 1)) fprintf(stderr, "fuzz_checkpoint: cannot write %s\n", path);
    free(s);
}

static void write_seeds(const char *dir) {
    char ck[4200];
    snprintf(ck, sizeof ck, "%s/real.ckpt.tmpfile", dir);
    model m;
    model_make(&m, 3);
    model_train(&m, 3);
    char extra[] = "state of a plugin";
    m.blobs[1].data = extra, m.blobs[1].size = sizeof extra;
    ug_error err = {0};
    if (ug_checkpoint_save(ck, m.P, m.opts, 2, m.blobs, 2, &err)) {
        fprintf(stderr, "fuzz_checkpoint: %s\n", err.msg);
        exit(1);
    }
    m.blobs[1].data = NULL;
    model_free(&m);
    size_t n = 0;
    unsigned char *b = read_all(ck, &n);
    unlink(ck);
    if (!b || n < 64) exit(1);
    seed(dir, "real", 0, b, n);
    seed(dir, "real-resealed", 1, b, n);
    seed(dir, "truncated", 1, b, n / 2);
    /* the first group's name (it starts at byte 16 + 12 + 4): "forward" -> "f\x1b[2J'\xff" */
    unsigned char *c = malloc(n + 64);
    memcpy(c, b, n);
    memcpy(c + 32, "f\x1b[2J'\xff", 7);
    seed(dir, "group-renamed", 1, c, n);
    /* the first parameter's first dimension: 4 -> 5 (after name, count, n_params, its name, ndim) */
    memcpy(c, b, n);
    size_t at = 32 + 7 + 8 + 4;
    at += 4 + 1 + 4;  // "w", ndim
    if (at + 8 <= n) c[at] = 5;
    seed(dir, "shape-changed", 1, c, n);
    /* an unknown section before END: skipped by the loader */
    memcpy(c, b, n - 44);
    memcpy(c + n - 44, "XTRA", 4);
    memset(c + n - 40, 0, 8);
    c[n - 40] = 8;
    memcpy(c + n - 32, "12345678", 8);
    memcpy(c + n - 24, b + n - 44, 44);
    seed(dir, "unknown-section", 1, c, n + 20);
    /* a section length pointing past the end */
    memcpy(c, b, n);
    put_u32(c + 16 + 4, 0xfffffff0u);
    seed(dir, "long-section", 1, c, n);
    free(c);
    free(b);
    /* a model of another shape, and one without optimizers or blobs */
    model_make(&m, 5);
    snprintf(ck, sizeof ck, "%s/other.ckpt.tmpfile", dir);
    if (ug_checkpoint_save(ck, m.P, m.opts, 2, m.blobs, 1, &err) == UG_OK && (b = read_all(ck, &n))) {
        seed(dir, "other-shape", 0, b, n);
        free(b);
    }
    if (ug_checkpoint_save(ck, m.P, NULL, 0, NULL, 0, &err) == UG_OK && (b = read_all(ck, &n))) {
        seed(dir, "bare", 1, b, n);
        free(b);
    }
    unlink(ck);
    model_free(&m);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    const char *dir = getenv("UG_FUZZ_SEEDS");
    if (dir && *dir) write_seeds(dir);
    model_make(&g_model, 3);
    model_train(&g_model, 2);
    const char *tmp = getenv("TMPDIR");
    snprintf(g_path, sizeof g_path, "%.40s/ugfz-%d.ckpt", tmp && *tmp ? tmp : "/tmp", (int)getpid());
    snprintf(g_path2, sizeof g_path2, "%s.2", g_path);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    unsigned char *b = malloc(size);
    if (!b) return 0;
    memcpy(b, data + 1, size - 1);
    if (data[0] & 1) reseal(b, size - 1);
    bool wrote = write_file(g_path, b, size - 1);
    free(b);
    if (!wrote) return 0;
    model *m = &g_model;
    snapshot(m, &g_before);
    ug_error err = {0};
    ug_status st = ug_checkpoint_load(g_path, m->P, m->opts, 2, m->blobs, 2, &err);
    if (st != UG_OK) {
        /* refused: a message of one printable line naming the file, and nothing changed */
        if (err.code != st || !err.msg[0] || !printable(err.msg) || !strstr(err.msg, g_path)) __builtin_trap();
        snapshot(m, &g_after);
        if (g_after.n != g_before.n || memcmp(g_after.b, g_before.b, g_before.n) != 0) __builtin_trap();
    } else {
        /* accepted: it saves and loads again to the same state */
        ug_error e2 = {0};
        int n_blobs = m->blobs[1].data ? 2 : 1;  /* save takes only the blobs there are */
        if (ug_checkpoint_save(g_path2, m->P, m->opts, 2, m->blobs, n_blobs, &e2)) __builtin_trap();
        snapshot(m, &g_before);
        void *extra = m->blobs[1].data;
        m->blobs[1].data = NULL; /* the reload allocates its own */
        if (ug_checkpoint_load(g_path2, m->P, m->opts, 2, m->blobs, 2, &e2)) __builtin_trap();
        bool same_extra = (extra == NULL) == (m->blobs[1].data == NULL) &&
                          (!extra || memcmp(extra, m->blobs[1].data, m->blobs[1].size) == 0);
        free(m->blobs[1].data);
        m->blobs[1].data = extra;
        snapshot(m, &g_after);
        if (!same_extra || g_after.n != g_before.n || memcmp(g_after.b, g_before.b, g_before.n) != 0) __builtin_trap();
        unlink(g_path2);
    }
    /* the optional blob the load allocated: back to "absent" for the next input */
    free(m->blobs[1].data);
    m->blobs[1].data = NULL;
    m->blobs[1].size = 0;
    m->blobs[1].found = false;
    unlink(g_path);
    return 0;
}
