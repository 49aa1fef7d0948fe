/* cpu_rng.c — the CPU backend's random kernels: Philox fills of tensors (base/philox.h, rng.h's layout
 * contract), Bernoulli draws, and the categorical sampler over rows of logits. The rng state is the
 * front-end's: kernels read (seed, stream, pos) and the front-end advances pos. */
#include "backend/cpu/cpu.h"

#include <math.h>
#include <stdlib.h>

#include "backend/cpu/cpu_exp.h"
#include "base/philox.h"

static int64_t numel(const ug_tensor *x) {
    int64_t n = 1;
    for (int d = 0; d < x->ndim; d++) n *= x->shape[d];
    return n;
}

void ug_cpu_rng_fill(int kind, const ug_rng *rng, bool affine, float p0, float p1, ug_tensor *out) {
    float *x = out->data;
    int64_t n = numel(out);
    if (n <= 0) return;
    if (kind == UG_RNG_NORMAL) ug__philox_normal(rng->seed, rng->stream, rng->pos, x, n);
    else ug__philox_uniform(rng->seed, rng->stream, rng->pos, x, n);
    if (affine)
        for (int64_t i = 0; i < n; i++) x[i] = p0 + p1 * x[i];
}

/* Offset (in elements) of the i-th element in row-major order of a possibly strided tensor. */
static int64_t elem_offset(const ug_tensor *t, int64_t i) {
    int64_t off = 0;
    for (int d = t->ndim - 1; d >= 0; d--) {
        int64_t n = t->shape[d];
        off += (i % n) * t->stride[d];
        i /= n;
    }
    return off;
}

void ug_cpu_rng_bernoulli(const ug_rng *rng, const ug_tensor *p, ug_tensor *out) {
    int64_t n = numel(p);
    float *o = out->data;
    if (n <= 0) return;
    ug__philox_uniform(rng->seed, rng->stream, rng->pos, o, n);  // u_i, replaced in place by the indicator
    const float *pd = p->data;
    bool contig = true;
    for (int64_t d = p->ndim - 1, s = 1; d >= 0; d--) {
        if (p->shape[d] != 1 && p->stride[d] != s) contig = false;
        s *= p->shape[d];
    }
    for (int64_t i = 0; i < n; i++) {
        float pi = contig ? pd[i] : pd[elem_offset(p, i)];
        o[i] = o[i] < pi ? 1.0f : 0.0f;
    }
}

/* The weights of one contiguous, unmasked row of logits: w[k] = exp(l[k] - max l) (float exp, as the
 * general row_weights below, so the draws are the same), their double total and the last positive
 * one. The max and the exps run 8 lanes wide; as one scalar loop this was ~4% of an MLE-GFN iteration.
 * False, with nothing decided, for a row with NaN or +inf or with no finite entry: row_weights then
 * reports it. */
static bool row_weights_contiguous(const float *l, int64_t K, float *wf, double *w, double *total, int64_t *last) {
    float m8[8];
    uint32_t bad8[8];
    for (int j = 0; j < 8; j++) m8[j] = -INFINITY, bad8[j] = 0;
    int64_t k = 0;
    for (; k + 8 <= K; k += 8)
        for (int j = 0; j < 8; j++) {
            float x = l[k + j];
            bad8[j] |= (uint32_t)(x != x) | (uint32_t)(x == INFINITY);
            m8[j] = ug_cpu_select(x > m8[j], x, m8[j]);
        }
    float mx = -INFINITY;
    uint32_t bad = 0;
    for (; k < K; k++) {
        bad |= (uint32_t)(l[k] != l[k]) | (uint32_t)(l[k] == INFINITY);
        if (l[k] > mx) mx = l[k];
    }
    for (int j = 0; j < 8; j++) {
        bad |= bad8[j];
        if (m8[j] > mx) mx = m8[j];
    }
    if (bad || mx == -INFINITY) return false;
    for (k = 0; k < K; k++) wf[k] = ug_cpu_expf(l[k] - mx);
    double t = 0.0;
    int64_t lp = -1;
    for (k = 0; k < K; k++) {
        w[k] = (double)wf[k];
        t += w[k];
        if (wf[k] > 0.0f) lp = k;
    }
    *total = t;
    *last = lp;
    return true;
}

/* The same for any row (strided, masked: mask 0 = not allowed); false with the fault for a bad row. */
static bool row_weights(int64_t b, const float *lr, int64_t ls1, const float *mr, int64_t ms1, int64_t K, double *w,
                        double *total, int64_t *last, ug_sample_fault *fault) {
    float mx = -INFINITY;
    for (int64_t k = 0; k < K; k++) {
        if (mr && mr[k * ms1] == 0.0f) continue;
        float l = lr[k * ls1];
        if (isnan(l) || l == INFINITY) {
            *fault = (ug_sample_fault){.kind = UG_SF_BAD_LOGIT, .row = b, .index = k, .value = l};
            return false;
        }
        if (l > mx) mx = l;
    }
    if (mx == -INFINITY) {
        *fault = (ug_sample_fault){.kind = UG_SF_NO_ENTRY, .row = b};
        return false;
    }
    double t = 0.0;
    int64_t lp = -1;
    for (int64_t k = 0; k < K; k++) {
        double wk = 0.0;
        /* float exp (cpu_exp.h, within 1 ulp; glibc's double exp was ~1.5% of a training
         * iteration); the cumulative sum stays double */
        if (!(mr && mr[k * ms1] == 0.0f)) wk = (double)ug_cpu_expf(lr[k * ls1] - mx);
        w[k] = wk;
        t += wk;
        if (wk > 0.0) lp = k;
    }
    *total = t;
    *last = lp;
    return true;
}

/* Inverse CDF on the max-shifted softmax of each row, with a 53-bit uniform from block pos + b. */
bool ug_cpu_sample_categorical(const ug_rng *rng, const ug_tensor *logits, const ug_tensor *mask, ug_tensor *out,
                               ug_sample_fault *fault) {
    const int64_t B = logits->shape[0], K = logits->shape[1];
    int32_t *o = out->data;
    const float *L = logits->data;
    const float *M = mask ? mask->data : NULL;
    const int64_t ls0 = logits->stride[0], ls1 = logits->stride[1];
    const int64_t ms0 = mask ? mask->stride[0] : 0, ms1 = mask ? mask->stride[1] : 0;
    double *w = malloc((size_t)K * (sizeof *w + sizeof(float)));  // [K] unnormalised probabilities of one row
    float *wf = (float *)(w + K);                                   // [K] the same in float
    if (!w) {
        *fault = (ug_sample_fault){.kind = UG_SF_NOMEM, .index = K};
        return false;
    }
    bool ok = true;
    for (int64_t b = 0; b < B && ok; b++) {
        const float *lr = L + b * ls0;
        const float *mr = M ? M + b * ms0 : NULL;
        double total = 0.0;
        int64_t last = -1;  // last entry with positive weight: the fallback for rounding at the top
        if (!(!mr && ls1 == 1 && row_weights_contiguous(lr, K, wf, w, &total, &last)) &&
            !(ok = row_weights(b, lr, ls1, mr, ms1, K, w, &total, &last, fault)))
            break;
        uint32_t words[4];
        ug__philox_block(rng->seed, rng->stream, rng->pos + (uint64_t)b, words);
        double u = (double)((((uint64_t)words[1] << 32) | words[0]) >> 11) * 0x1p-53 * total;
        double cum = 0.0;
        int64_t pick = last;
        /* First k whose cumulative weight exceeds u: zero-weight entries can never be it. */
        for (int64_t k = 0; k < K; k++) {
            cum += w[k];
            if (cum > u && w[k] > 0.0) {
                pick = k;
                break;
            }
        }
        o[b] = (int32_t)pick;
    }
    free(w);
    return ok;
}
