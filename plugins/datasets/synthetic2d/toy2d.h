/* toy2d.h — the seven 2-D toy distributions of EB-GFN's §4.2 and their 32-bit Gray quantization.
 *
 * Pure functions with no plugin state, so tests compile toy2d.c and gray.c straight into the test
 * binary (calls then go to libunigfn) while the plugin compiles them with -DUG_PLUGIN (calls go
 * through the host table). The only host calls are the Philox samplers of rng.h. */
#ifndef UG_TOY2D_H
#define UG_TOY2D_H

#include <stdint.h>

#ifdef UG_PLUGIN
#include "unigfn/plugin.h"
#else
#include "unigfn/rng.h"
#endif

enum {
    TOY2D_2SPIRALS = 0,
    TOY2D_8GAUSSIANS,
    TOY2D_CIRCLES,
    TOY2D_MOONS,
    TOY2D_PINWHEEL,
    TOY2D_SWISSROLL,
    TOY2D_CHECKERBOARD,
    TOY2D_COUNT
};

/* "2spirals|8gaussians|..." in enum order, for the parameter schema. */
#define TOY2D_CHOICES "2spirals|8gaussians|circles|moons|pinwheel|swissroll|checkerboard"

/* Index of a name, or -1. */
int toy2d_from_name(const char *name);
const char *toy2d_name(int kind);
/* The reference int_scale of REPRODUCTION.md §2 (fixed so likelihoods compare with the paper's). */
double toy2d_int_scale(int kind);

/* n fresh points of distribution `kind`, row-major [n, 2] into out. Returns 0, or -1 on a bad
 * kind / out of memory (pinwheel needs a label buffer). */
int toy2d_sample(int kind, ug_rng *rng, int64_t n, float *out);

/* ---- Gray code (gray.c) ---------------------------------------------------------------------- */
#define GRAY_BITS_PER_COORD 16
#define GRAY_MAG_BITS 15
#define GRAY_MAX_MAG ((1u << GRAY_MAG_BITS) - 1u)   /* 32767: the largest codable magnitude */

/* Reflected Gray code of m and its inverse. */
static inline uint32_t gray_of(uint32_t m) { return m ^ (m >> 1); }
uint32_t gray_inverse(uint32_t g);

/* One coordinate -> its 16 bits as floats 0/1 (bits[0] = sign, bits[1..15] = Gray of m, MSB first).
 * m = trunc(|v * int_scale|); m > 32767 (or a non-finite v) is clipped to 32767: returns 1 then. */
int gray_encode_coord(float v, double int_scale, float *bits);
/* 16 bits (read as bit = value > 0.5) -> ±m / int_scale. */
float gray_decode_coord(const float *bits, double int_scale);

/* n points [n, 2] -> [n, 32] (x's 16 bits then y's). Returns the number of clipped coordinates. */
int64_t gray32_encode(const float *pts, int64_t n, double int_scale, float *bits);
/* [n, 32] -> [n, 2]. */
void gray32_decode(const float *bits, int64_t n, double int_scale, float *pts);

#endif
