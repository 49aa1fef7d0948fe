/* fashion_mnist.c — the dataset `fashion_mnist`: Zalando's Fashion-MNIST (60,000 train and 10,000
 * test 28x28 images, 256 gray levels) read from the IDX files of Debian's dataset-fashion-mnist,
 * /usr/share/datasets/fashion-mnist/{train,t10k}-images-idx3-ubyte.gz. The labels are not read: no
 * interface takes them. Encodings and batches: images.h; binary with binarize: dynamic is DMNIST's
 * protocol (train redrawn every batch, test binarized once with heldout_seed). pool: 2 averages 2x2
 * blocks into 14x14 images (the rounded mean of each block's four levels), before any encoding. */
#ifndef UG_PLUGIN
#define UG_PLUGIN
#endif
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "images.h"
#include "imgread.h"

#define FMNIST_DIR "/usr/share/datasets/fashion-mnist"
#define FMNIST_HINT                                                                                          \
    " (the files come with the Debian package dataset-fashion-mnist: apt-get install dataset-fashion-mnist; " \
    "or set dir: to a folder holding train-images-idx3-ubyte[.gz] and t10k-images-idx3-ubyte[.gz])"

/* dir/base.gz if it exists, else dir/base if that exists, else dir/base.gz (for the message). */
static void find_file(const char *dir, const char *base, char *out, size_t cap) {
    struct stat sb;
    snprintf(out, cap, "%s/%s.gz", dir, base);
    if (stat(out, &sb) == 0) return;
    snprintf(out, cap, "%s/%s", dir, base);
    if (stat(out, &sb) == 0) return;
    snprintf(out, cap, "%s/%s.gz", dir, base);
}

/* One split's images into *px [kept, 28*28] (pooled by the caller); `limit` 0 = all. */
static int read_split(const char *dir, const char *base, const char *key, int64_t limit, uint8_t **px, int64_t *kept,
                      ug_error *err) {
    char path[4200], msg[800];
    find_file(dir, base, path, sizeof path);
    const uint32_t want[3] = {0, 28, 28};
    int64_t count = 0;
    int rc = imgread_idx_u8(path, 3, want, (uint32_t)UG_BOUND_COUNT, limit, px, &count, kept, msg, sizeof msg);
    if (rc)
        return ug_error_set(err, rc == IMGREAD_NOMEM ? UG_ERR_NOMEM : UG_ERR_IO, "fashion_mnist: %s%s", msg,
                            rc == IMGREAD_MISSING ? FMNIST_HINT : "");
    if (limit > count) {
        free(*px);
        *px = NULL;
        return ug_error_set(err, UG_ERR_ARG, "fashion_mnist: %s %lld is more than the %lld images in %s", key,
                            (long long)limit, (long long)count, path);
    }
    return 0;
}

static void *fmnist_create(const ug_create_args *a, ug_error *err) {
    imgds *d = calloc(1, sizeof *d);
    if (!d) {
        ug_error_set(err, UG_ERR_NOMEM, "fashion_mnist: out of memory");
        return NULL;
    }
    d->name = "fashion_mnist";
    d->levels = 256;
    d->seed = a->seed;
    int pool = (int)ug_cfg_int(a->cfg, "pool", 1);
    if (pool != 1 && pool != 2) {
        ug_error_set(err, UG_ERR_ARG, "fashion_mnist: pool must be 1 (28x28) or 2 (14x14), got %d", pool);
        goto fail;
    }
    d->H = d->W = 28 / pool, d->D = (int64_t)d->H * d->W;
    if (imgds_read_encoding(d, a->cfg, err)) goto fail;
    const char *dir = ug_cfg_str(a->cfg, "dir", FMNIST_DIR);
    if (read_split(dir, "train-images-idx3-ubyte", "train_size", ug_cfg_int(a->cfg, "train_size", 0), &d->train,
                   &d->n_train, err) ||
        read_split(dir, "t10k-images-idx3-ubyte", "test_size", ug_cfg_int(a->cfg, "test_size", 0), &d->test, &d->n_test,
                   err))
        goto fail;
    if (pool == 2) {   /* in place: each output byte lands where every input pixel has already been read */
        imgread_pool2(d->train, d->n_train, 28, 28, d->train);
        imgread_pool2(d->test, d->n_test, 28, 28, d->test);
    }
    if (imgds_finish(d, (uint64_t)ug_cfg_int(a->cfg, "heldout_seed", 12345), err)) goto fail;
    return d;
fail:
    imgds_free(d);
    return NULL;
}

static void fmnist_destroy(void *self) { imgds_free(self); }

static const ug_param_spec fmnist_params[] = {
    {"encoding", UG_P_ENUM, "binary", 0, 0, 0, "binary|categorical|continuous",
     IMG_ENCODING_DOC("255", "256")},
    {"binarize", UG_P_ENUM, "dynamic", 0, 0, 0, "dynamic|threshold", IMG_BINARIZE_DOC("255")},
    {"threshold", UG_P_FLOAT, "0.5", UG_P_MIN | UG_P_MAX | UG_P_MIN_OPEN | UG_P_MAX_OPEN, 0, 1, NULL,
     "the threshold of binarize: threshold"},
    {"pool", UG_P_INT, "1", UG_P_MIN | UG_P_MAX, 1, 2, NULL, "1: 28x28 images; 2: 2x2 average-pooled 14x14 images"},
    {"train_size", UG_P_INT, "0", UG_P_MIN | UG_P_MAX, 0, UG_BOUND_COUNT, NULL,
     "use the first train_size training images (0: all 60000)"},
    {"test_size", UG_P_INT, "0", UG_P_MIN | UG_P_MAX, 0, UG_BOUND_COUNT, NULL,
     "use the first test_size test images as the held-out set (0: all 10000)"},
    {"heldout_seed", UG_P_INT, "12345", UG_P_MIN | UG_P_MAX, 0, UG_BOUND_SEED, NULL,
     "seed of the held-out set's one binarization or dequantization (independent of the run seed)"},
    {"dir", UG_P_STRING, FMNIST_DIR, 0, 0, 0, NULL,
     "folder of train-images-idx3-ubyte[.gz] and t10k-images-idx3-ubyte[.gz], by default dataset-fashion-mnist's"},
    {NULL, 0, NULL, 0, 0, 0, NULL, NULL},
};

const ug_plugin_desc fashion_mnist_desc = {
    UG_DESC_HEADER(UG_KIND_DATASET),
    .name = "fashion_mnist",
    .version = "1.0",
    .summary = "Fashion-MNIST (60k/10k 28x28 or pooled 14x14; dataset-fashion-mnist's IDX files), dynamically "
               "binarized (DMNIST), categorical 256 or dequantized",
    .params = fmnist_params,
    .create = fmnist_create,
    .destroy = fmnist_destroy,
    .vtable = &imgds_vtable,
};
