/* checkpoint.h — one file holding parameter values, optimizer state and caller-named blobs.
 *
 * Format (version 1, all integers and floats little-endian):
 *   header   "UGNCKPT\0" | u32 version = 1 | u32 reserved = 0
 *   section* u32 tag | u64 payload length | payload        (unknown tags are skipped on load, and a
 *                                                           reader ignores bytes after the fields it
 *                                                           knows, so later versions can append)
 *   'GRUP'   str group | u64 count | u32 n_params | n_params x (str name | u32 ndim | i64 shape[ndim])
 *            | f32 values[count]
 *   'OPTM'   str group | u32 algorithm | u32 schedule | i64 step | f32 last_lr | f32 last_grad_norm
 *            | f32 lr, beta1, beta2, eps, weight_decay, momentum, min_lr, clip_norm, clip_value
 *            | i64 warmup_steps, total_steps | u64 count | u32 has (bit 0: m, bit 1: v)
 *            | f32 m[count] if bit 0 | f32 v[count] if bit 1
 *   'BLOB'   str name | u64 size | size bytes
 *   'END\0'  32 bytes: SHA-256 of every byte before this section (detects truncation and damage);
 *            it must be the last thing in the file.
 *   str = u32 length | bytes (no NUL).
 * Gradients are not stored (they are zeroed every step). */
#ifndef UNIGFN_CHECKPOINT_H
#define UNIGFN_CHECKPOINT_H

#include <stdbool.h>
#include <stddef.h>

#include "unigfn/nn.h"
#include "unigfn/host/optim.h"
#include "unigfn/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define UG_CKPT_VERSION 1u

/* A named byte string the caller stores with the model (training step, RNG states, dataset state). */
typedef struct ug_ckpt_blob {
    const char *name;
    void *data;     /* save: the bytes. load: where to copy them; NULL = load mallocs (caller frees) */
    size_t size;    /* save: byte count. load: with data, the exact size expected; set to the stored size */
    bool optional;  /* load: a missing blob is not an error */
    bool found;     /* load: set when the blob was in the file */
} ug_ckpt_blob;

/* Writes every group of P (which must be finalized), the state of each optimizer, and the blobs to
 * `path.tmp`, fsyncs it, renames it to `path` and fsyncs the folder: a crash leaves either the old
 * file or the new one. Errors name the path and go to err (may be NULL). */
ug_status ug_checkpoint_save(const char *path, const ug_params *P, ug_optim *const *optims,
                             int n_optims, const ug_ckpt_blob *blobs, int n_blobs, ug_error *err);

/* Restores values and optimizer state (step, last lr/norm, moments) exactly. Everything is checked
 * before anything is written, so a refused file leaves P, the optimizers and the blobs untouched.
 * Refused, with a message naming the file and what differs: a path that is not a regular file (a
 * directory, a FIFO — never waited on —, a device such as /dev/zero, a dangling symbolic link), a file
 * larger than a checkpoint of this model can be (max_checkpoint_bytes in checkpoint.c), bad magic, a newer version, a bad
 * checksum or truncation, a group missing on either side, a group or parameter whose name, shape or
 * size differs, an optimizer whose group or algorithm differs, a required blob that is absent or
 * has another size. Each optimizer keeps the config it was initialised with (so a resume may change
 * lr or schedule); the saved config is only checked for the algorithm. */
ug_status ug_checkpoint_load(const char *path, ug_params *P, ug_optim *const *optims, int n_optims,
                             ug_ckpt_blob *blobs, int n_blobs, ug_error *err);

#ifdef __cplusplus
}
#endif
#endif
