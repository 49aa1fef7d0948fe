/* sha256.h — a self-contained SHA-256 (FIPS 180-4) for run ids and artifact checksums.
 *
 * No external crypto dependency: the host hashes resolved specs (run id) and artifact files. */
#ifndef UG_SHA256_H
#define UG_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct ug_sha256_ctx {
    uint32_t h[8];
    uint64_t nbytes;     /* total message length so far, in bytes */
    uint8_t buf[64];     /* pending partial block */
    size_t nbuf;
} ug_sha256_ctx;

void ug_sha256_init(ug_sha256_ctx *c);
void ug_sha256_update(ug_sha256_ctx *c, const void *data, size_t n);
/* Writes the 32-byte digest; the context must be re-initialised before reuse. */
void ug_sha256_final(ug_sha256_ctx *c, uint8_t out[32]);

/* One-shot helpers. `out` for the hex form is 64 lowercase hex digits plus a NUL. */
void ug_sha256(const void *data, size_t n, uint8_t out[32]);
void ug_sha256_hex(const void *data, size_t n, char out[65]);
/* Lowercase hex of an existing digest (out: 65 bytes). */
void ug_sha256_to_hex(const uint8_t digest[32], char out[65]);

/* The hex SHA-256 of the file at `path` (out: 65 bytes), read in blocks; `bytes` (may be NULL) receives
 * its length. 0, or the errno of the open or read that failed (out is then the empty string). */
int ug_sha256_file(const char *path, char out[65], int64_t *bytes);

#endif
