/* imgread.h — readers of the two image files the image datasets use: IDX (Fashion-MNIST, LeCun's
 * format) and the UCI digits CSV that scikit-learn ships. Plain C and zlib only (no plugin API), so
 * tests/test_image_datasets.c can call them directly too.
 *
 * Both read through zlib's gz* calls, which read a gzip file and a plain one alike; a missing, short,
 * over-long or malformed file is an error whose message names the path (and the line for CSV). */
#ifndef UG_IMGREAD_H
#define UG_IMGREAD_H

#include <stddef.h>
#include <stdint.h>

/* Status of the readers: 0 on success, else one of these, with a message in msg[cap]. */
enum { IMGREAD_OK = 0, IMGREAD_MISSING = 1, IMGREAD_IO = 2, IMGREAD_FORMAT = 3, IMGREAD_NOMEM = 4 };

/* An unsigned-byte IDX file of `ndim` dimensions: magic 00 00 08 ndim, then ndim big-endian uint32
 * sizes. The sizes after the first must equal want[1..ndim-1] (e.g. 28, 28); the first (the item
 * count) must be >= 1 and <= max_items. The whole file is read, so a short file or bytes past the
 * end the header gives are errors, but only the first `keep` items (all if keep <= 0 or more than
 * the file has) are stored in *out (malloc'd, item-major). *count gets the file's item count. */
int imgread_idx_u8(const char *path, int ndim, const uint32_t *want, uint32_t max_items, int64_t keep,
                   uint8_t **out, int64_t *count, int64_t *kept, char *msg, size_t cap);

/* The digits CSV: each line 64 integers 0..16 (an 8x8 image, row-major) and a label 0..9, comma
 * separated. *out gets [n, 64] levels (malloc'd), *labels (if non-NULL) [n] labels. */
int imgread_digits_csv(const char *path, uint8_t **out, uint8_t **labels, int64_t *n, char *msg, size_t cap);

/* 2x2 average pooling of n images [n, h, w] into [n, h/2, w/2], each output the rounded mean
 * (sum + 2) / 4 of its four pixels (h and w even). */
void imgread_pool2(const uint8_t *in, int64_t n, int h, int w, uint8_t *out);

#endif
