/* philox.h — Philox4x32-10 and the float transforms of rng.h's layout contract, as inline code shared
 * by the host-side draws (nn/rng.c: ug_rng_uniform on a caller's buffer, ug_rng_u64, ...) and the CPU
 * backend's tensor fills (backend/cpu/cpu_rng.c). A device backend writes the same arithmetic in its
 * own language; this file is the reference it must match word for word (libm only for normals). */
#ifndef UG_PHILOX_H
#define UG_PHILOX_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#define UG_PHILOX_M0 0xD2511F53u
#define UG_PHILOX_M1 0xCD9E8D57u
#define UG_PHILOX_W0 0x9E3779B9u /* golden ratio */
#define UG_PHILOX_W1 0xBB67AE85u /* sqrt(3) - 1 */

static inline void ug__philox_round(uint32_t c[4], const uint32_t k[2]) {
    uint64_t p0 = (uint64_t)UG_PHILOX_M0 * c[0];
    uint64_t p1 = (uint64_t)UG_PHILOX_M1 * c[2];
    uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
    uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
    uint32_t n0 = hi1 ^ c[1] ^ k[0];
    uint32_t n2 = hi0 ^ c[3] ^ k[1];
    c[0] = n0;
    c[1] = lo1;
    c[2] = n2;
    c[3] = lo0;
}

static inline void ug__philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
    uint32_t c[4] = {ctr[0], ctr[1], ctr[2], ctr[3]};
    uint32_t k[2] = {key[0], key[1]};
    for (int r = 0; r < 10; r++) {
        if (r > 0) { /* the key schedule bumps between rounds, not before the first */
            k[0] += UG_PHILOX_W0;
            k[1] += UG_PHILOX_W1;
        }
        ug__philox_round(c, k);
    }
    memcpy(out, c, sizeof c);
}

/* Block number `blk` of the generator (seed, stream): counter (blk, stream), key seed, low words first. */
static inline void ug__philox_block(uint64_t seed, uint64_t stream, uint64_t blk, uint32_t out[4]) {
    uint32_t ctr[4] = {(uint32_t)blk, (uint32_t)(blk >> 32), (uint32_t)stream, (uint32_t)(stream >> 32)};
    uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    ug__philox4x32_10(ctr, key, out);
}

/* Top 24 bits -> [0, 1): exactly representable in float, so 1.0 cannot appear by rounding. */
static inline float ug__u24(uint32_t w) { return (float)(w >> 8) * 0x1p-24f; }
/* (0, 1]: the Box–Muller radius needs log(u) finite. */
static inline float ug__u24_open0(uint32_t w) { return (float)((w >> 8) + 1) * 0x1p-24f; }

/* n uniforms from block pos on: element i from block pos + i/4, word i%4. Uses ceil(n/4) blocks. */
static inline void ug__philox_uniform(uint64_t seed, uint64_t stream, uint64_t pos, float *out, int64_t n) {
    uint64_t nblk = (uint64_t)(n + 3) / 4;
    for (uint64_t b = 0; b < nblk; b++) {
        uint32_t w[4];
        ug__philox_block(seed, stream, pos + b, w);
        int64_t i0 = (int64_t)b * 4;
        int64_t m = n - i0 < 4 ? n - i0 : 4;
        for (int64_t j = 0; j < m; j++) out[i0 + j] = ug__u24(w[j]);
    }
}

/* n standard normals from block pos on: words 2j, 2j+1 of a block are the Box–Muller pair for its
 * elements 2j, 2j+1. Uses ceil(n/4) blocks. */
static inline void ug__philox_normal(uint64_t seed, uint64_t stream, uint64_t pos, float *out, int64_t n) {
    const float two_pi = 6.28318530717958647692f;
    uint64_t nblk = (uint64_t)(n + 3) / 4;
    for (uint64_t b = 0; b < nblk; b++) {
        uint32_t w[4];
        ug__philox_block(seed, stream, pos + b, w);
        int64_t i0 = (int64_t)b * 4;
        for (int pair = 0; pair < 2; pair++) {
            int64_t i = i0 + 2 * pair;
            if (i >= n) break;
            float r = sqrtf(-2.0f * logf(ug__u24_open0(w[2 * pair])));
            float th = two_pi * ug__u24(w[2 * pair + 1]);
            out[i] = r * cosf(th);
            if (i + 1 < n) out[i + 1] = r * sinf(th);
        }
    }
}

#endif
