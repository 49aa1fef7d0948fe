/* gray.c — 2-D points <-> 32-bit sign-magnitude Gray codes, as EB-GFN quantizes its toy data.
 *
 * Per coordinate: bit 0 is the sign of t = v * int_scale (set for t < 0, so -0.3 codes as "-0"),
 * bits 1..15 are the reflected Gray code of m = trunc(|t|), most significant first. Gray order makes
 * neighbouring magnitudes differ in one bit, which is what makes the binary task learnable. */
#include <math.h>

#include "toy2d.h"

uint32_t gray_inverse(uint32_t g) {
    /* prefix XOR: bit i of m is the XOR of bits >= i of g */
    for (uint32_t shift = 1; shift < 32; shift <<= 1) g ^= g >> shift;
    return g;
}

int gray_encode_coord(float v, double int_scale, float *bits) {
    double t = (double)v * int_scale;
    int clipped = 0;
    uint32_t m;
    if (!isfinite(t)) {
        /* NaN has no sign we trust; ±inf keeps its sign and saturates like any large value */
        clipped = 1;
        m = GRAY_MAX_MAG;
        if (isnan(t)) t = 0.0;
    } else {
        double a = fabs(t);
        if (a >= (double)(GRAY_MAX_MAG + 1u)) {
            clipped = 1;
            m = GRAY_MAX_MAG;
        } else {
            m = (uint32_t)a;   /* truncation toward zero, as Python's int(abs(x)) */
        }
    }
    bits[0] = t < 0.0 ? 1.0f : 0.0f;
    uint32_t g = gray_of(m);
    for (int k = 0; k < GRAY_MAG_BITS; k++) bits[1 + k] = (float)((g >> (GRAY_MAG_BITS - 1 - k)) & 1u);
    return clipped;
}

float gray_decode_coord(const float *bits, double int_scale) {
    uint32_t g = 0;
    for (int k = 0; k < GRAY_MAG_BITS; k++) g = (g << 1) | (bits[1 + k] > 0.5f ? 1u : 0u);
    double v = (double)gray_inverse(g) / int_scale;
    return (float)(bits[0] > 0.5f ? -v : v);
}

int64_t gray32_encode(const float *pts, int64_t n, double int_scale, float *bits) {
    int64_t clipped = 0;
    for (int64_t i = 0; i < n; i++) {
        clipped += gray_encode_coord(pts[2 * i], int_scale, bits + 32 * i);
        clipped += gray_encode_coord(pts[2 * i + 1], int_scale, bits + 32 * i + GRAY_BITS_PER_COORD);
    }
    return clipped;
}

void gray32_decode(const float *bits, int64_t n, double int_scale, float *pts) {
    for (int64_t i = 0; i < n; i++) {
        pts[2 * i] = gray_decode_coord(bits + 32 * i, int_scale);
        pts[2 * i + 1] = gray_decode_coord(bits + 32 * i + GRAY_BITS_PER_COORD, int_scale);
    }
}
