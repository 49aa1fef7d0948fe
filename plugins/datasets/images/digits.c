/* digits.c — the dataset `digits`: the 1,797 UCI handwritten digits (8x8, gray levels 0..16) that
 * Debian's python3-sklearn ships as sklearn/datasets/data/digits.csv.gz, split once into train and
 * test by split_seed (independent of the run seed, so every run trains and is scored on the same
 * rows). Encodings and batches: images.h. */
#ifndef UG_PLUGIN
#define UG_PLUGIN
#endif
#include <stdlib.h>
#include <string.h>

#include "images.h"
#include "imgread.h"

#define DIGITS_PATH "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz"
#define SPLIT_STREAM 0x64677473706cull   /* "dgtspl" */

static void *digits_create(const ug_create_args *a, ug_error *err) {
    imgds *d = calloc(1, sizeof *d);
    if (!d) {
        ug_error_set(err, UG_ERR_NOMEM, "digits: out of memory");
        return NULL;
    }
    d->name = "digits";
    d->levels = 17, d->H = d->W = 8, d->D = 64;
    d->seed = a->seed;
    if (imgds_read_encoding(d, a->cfg, err)) goto fail;
    const char *path = ug_cfg_str(a->cfg, "path", DIGITS_PATH);
    uint8_t *all = NULL;
    int64_t n = 0;
    char msg[600];
    int rc = imgread_digits_csv(path, &all, NULL, &n, msg, sizeof msg);
    if (rc) {
        ug_error_set(err, rc == IMGREAD_NOMEM ? UG_ERR_NOMEM : UG_ERR_IO, "digits: %s%s", msg,
                     rc == IMGREAD_MISSING ? " (the file comes with the Debian package python3-sklearn: "
                                             "apt-get install python3-sklearn; or set path: to a copy of digits.csv.gz)"
                                           : "");
        goto fail;
    }
    int64_t nt = ug_cfg_int(a->cfg, "test_size", 297);
    if (nt < 1 || nt >= n) {
        free(all);
        ug_error_set(err, UG_ERR_ARG, "digits: test_size %lld must leave both splits non-empty: 1 <= test_size < %lld "
                     "(the images in %s)", (long long)nt, (long long)n, path);
        goto fail;
    }
    /* rows of a permutation keyed by split_seed: the first test_size go to test; each split keeps file order */
    int64_t *perm = malloc((size_t)n * sizeof *perm);
    char *is_test = calloc((size_t)n, 1);
    d->n_test = nt, d->n_train = n - nt;
    d->test = malloc((size_t)(nt * 64));
    d->train = malloc((size_t)((n - nt) * 64));
    if (!perm || !is_test || !d->test || !d->train) {
        free(perm), free(is_test), free(all);
        ug_error_set(err, UG_ERR_NOMEM, "digits: out of memory for %lld images", (long long)n);
        goto fail;
    }
    ug_rng sr = ug_rng_make((uint64_t)ug_cfg_int(a->cfg, "split_seed", 0), SPLIT_STREAM);
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = ug_rng_randint(&sr, i + 1), t = perm[i];
        perm[i] = perm[j], perm[j] = t;
    }
    for (int64_t i = 0; i < nt; i++) is_test[perm[i]] = 1;
    for (int64_t i = 0, it = 0, ir = 0; i < n; i++)
        memcpy(is_test[i] ? d->test + 64 * it++ : d->train + 64 * ir++, all + 64 * i, 64);
    free(perm), free(is_test), free(all);
    if (imgds_finish(d, (uint64_t)ug_cfg_int(a->cfg, "heldout_seed", 12345), err)) goto fail;
    return d;
fail:
    imgds_free(d);
    return NULL;
}

static void digits_destroy(void *self) { imgds_free(self); }

static const ug_param_spec digits_params[] = {
    {"encoding", UG_P_ENUM, "categorical", 0, 0, 0, "categorical|binary|continuous",
     IMG_ENCODING_DOC("16", "17")},
    {"binarize", UG_P_ENUM, "dynamic", 0, 0, 0, "dynamic|threshold", IMG_BINARIZE_DOC("16")},
    {"threshold", UG_P_FLOAT, "0.5", UG_P_MIN | UG_P_MAX | UG_P_MIN_OPEN | UG_P_MAX_OPEN, 0, 1, NULL,
     "the threshold of binarize: threshold"},
    {"test_size", UG_P_INT, "297", UG_P_MIN | UG_P_MAX, 1, UG_BOUND_COUNT, NULL,
     "images held out as the test split (the held-out set); the other 1797 - test_size train"},
    {"split_seed", UG_P_INT, "0", UG_P_MIN | UG_P_MAX, 0, UG_BOUND_SEED, NULL,
     "seed of the train/test split (independent of the run seed)"},
    {"heldout_seed", UG_P_INT, "12345", UG_P_MIN | UG_P_MAX, 0, UG_BOUND_SEED, NULL,
     "seed of the held-out set's one binarization or dequantization (independent of the run seed)"},
    {"path", UG_P_STRING, DIGITS_PATH, 0, 0, 0, NULL,
     "digits.csv.gz (64 levels and a label a line; gzipped or not), by default python3-sklearn's copy"},
    {NULL, 0, NULL, 0, 0, 0, NULL, NULL},
};

const ug_plugin_desc digits_desc = {
    UG_DESC_HEADER(UG_KIND_DATASET),
    .name = "digits",
    .version = "1.0",
    .summary = "UCI handwritten digits (1797 8x8 images, 17 gray levels; python3-sklearn's copy), seeded "
               "train/test split, categorical, binarized or dequantized",
    .params = digits_params,
    .create = digits_create,
    .destroy = digits_destroy,
    .vtable = &imgds_vtable,
};
