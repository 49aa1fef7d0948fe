/* images.h — what the two image dataset plugins (digits.c, fashion_mnist.c) share: a finite set of
 * gray-level images split into train and test, and one encoding of them as x [B, D], D = H*W.
 *
 * Encodings (the `encoding:` key), for gray levels v in 0..L (L = levels - 1; 16 for digits, 255 for
 * Fashion-MNIST):
 *  - binary: x in {0,1}. binarize: dynamic draws x ~ Bernoulli(v / L) afresh for every training batch
 *    (the DMNIST protocol); binarize: threshold sets x = [v / L > threshold].
 *  - categorical: x = v as a float code, K = levels (docs/families.md §0 C5, §6).
 *  - continuous: uniform dequantization x = (v + u) / levels, u ~ U[0, 1) afresh for every batch, so
 *    x lies in [0, 1) and floor(levels * x) = v; a density on it bounds the discrete log mass by
 *    log P(v) >= E_u log p(x) - D log(levels) (Jensen).
 * The held-out set is the test split, encoded once at create with its own seed (heldout_seed, not the
 * run seed), so every run of every seed is scored on the same rows. Training batches walk the train
 * split in epochs, each a permutation keyed by (run seed, epoch), so a batch is a function of the run
 * seed, the step and the batch size alone: a resumed run draws what the uninterrupted one would.
 * sample_true draws random test images (with replacement) encoded as training batches are. */
#ifndef UG_IMAGES_H
#define UG_IMAGES_H

#include <stdint.h>

#include "unigfn/plugin.h"

enum { IMG_BINARY = 0, IMG_CATEGORICAL = 1, IMG_CONTINUOUS = 2 };
enum { IMG_DYNAMIC = 0, IMG_THRESHOLD = 1 };

typedef struct imgds {
    const char *name;        /* "digits" / "fashion_mnist", for messages */
    int encoding, binarize;  /* IMG_* */
    double threshold;
    int levels;              /* gray levels v in 0..levels-1 */
    int H, W;
    int64_t D;               /* H * W */
    int64_t n_train, n_test;
    uint8_t *train, *test;   /* [n, D] gray levels, owned */
    float *heldout;          /* [n_test, D] the test split encoded once */
    uint64_t seed;           /* run seed: the epoch permutations */
    int64_t *perm;           /* [n_train] permutation of epoch perm_epoch (-1: none yet) */
    int64_t perm_epoch;
} imgds;

/* Fill encoding/binarize/threshold from the spec keys of the same names; 0, or the error code with err set. */
int imgds_read_encoding(imgds *d, const ug_cfg *cfg, ug_error *err);
/* After train/test are set: allocate the permutation, encode the held-out set with heldout_seed. */
int imgds_finish(imgds *d, uint64_t heldout_seed, ug_error *err);
void imgds_free(imgds *d);

extern const ug_dataset_vtable imgds_vtable;

/* The help lines the two schemas share; L is the largest gray level and K the number of levels, as text. */
#define IMG_ENCODING_DOC(L, K)                                                                             \
    "categorical: the gray level 0.." L " as a code (K = " K "); binary: {0,1} pixels (see binarize); "       \
    "continuous: uniform dequantization (v + u) / " K " in [0, 1), u ~ U[0, 1) redrawn every batch (held-out: "  \
    "once, with heldout_seed)"
#define IMG_BINARIZE_DOC(L)                                                                                \
    "binary only. dynamic: Bernoulli(v / " L ") redrawn every training batch (the held-out set drawn once, "   \
    "with heldout_seed); threshold: 1 where v / " L " > threshold"

#endif
