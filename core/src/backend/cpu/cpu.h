/* cpu.h — the CPU backend's entries defined outside cpu_kernels.c, which assembles the table. */
#ifndef UG_CPU_H
#define UG_CPU_H

#include "backend/backend.h"

/* OpenMP is optional (meson -Dopenmp, off by default): without it the loops are plain serial loops,
 * and going through a macro keeps -Wunknown-pragmas quiet instead of leaving inert pragmas. Below
 * PAR_MIN elements threads cost more than they save. */
#ifdef _OPENMP
#define UG_PRAGMA(x) _Pragma(#x)
#define PAR_FOR(cond) UG_PRAGMA(omp parallel for if (cond))
#else
#define PAR_FOR(cond)
#endif
#define PAR_MIN 32768

/* cpu_unary.c */
void ug_cpu_unary(int kind, int order, const float *p, const ug_tensor *x, ug_tensor *y);
void ug_cpu_unary_mul(int kind, int order, const float *p, const ug_tensor *x, const ug_tensor *g, ug_tensor *y);
/* cpu_storage.c */
void *ug_cpu_alloc(size_t bytes);
void ug_cpu_free(void *p);
void ug_cpu_zero(void *p, size_t bytes);
void ug_cpu_memcpy(void *dst, const void *src, size_t bytes);
/* cpu_rng.c */
void ug_cpu_rng_fill(int kind, const ug_rng *rng, bool affine, float p0, float p1, ug_tensor *out);
void ug_cpu_rng_bernoulli(const ug_rng *rng, const ug_tensor *p, ug_tensor *out);
bool ug_cpu_sample_categorical(const ug_rng *rng, const ug_tensor *logits, const ug_tensor *mask, ug_tensor *out,
                               ug_sample_fault *fault);
/* cpu_conv.c */
void ug_cpu_im2col(const ug_tensor *x, const ug_conv_geom *g, ug_tensor *cols);
void ug_cpu_col2im(const ug_tensor *cols, const ug_conv_geom *g, ug_tensor *x);
bool ug_cpu_conv2d(const ug_tensor *x, const ug_tensor *w, const ug_tensor *bias, const ug_conv_geom *g,
                   int64_t groups, ug_tensor *y);
bool ug_cpu_conv2d_grad_input(const ug_tensor *gy, const ug_tensor *w, const ug_conv_geom *g, int64_t groups,
                              ug_tensor *gx);
bool ug_cpu_conv2d_grad_weight(const ug_tensor *x, const ug_tensor *gy, const ug_conv_geom *g, int64_t groups,
                               ug_tensor *gw);
/* cpu_norm.c */
void ug_cpu_group_norm(const ug_tensor *x, const ug_tensor *w, const ug_tensor *b, int64_t groups, float eps,
                       ug_tensor *y, ug_tensor *stats);
void ug_cpu_group_norm_backward(const ug_tensor *x, const ug_tensor *w, const ug_tensor *stats, int64_t groups,
                                const ug_tensor *gy, ug_tensor *gx, ug_tensor *gw, ug_tensor *gb);
/* cpu_optim.c */
double ug_cpu_sum_squares(const float *g, int64_t n);
void ug_cpu_clamp(float *g, int64_t n, float c);
void ug_cpu_lerp(float *s, const float *v, int64_t n, float w);
void ug_cpu_swap(float *a, float *b, int64_t n);
void ug_cpu_scale(float *g, int64_t n, float s);
void ug_cpu_adam(const ug_adam_args *args);
void ug_cpu_sgd(float *p, const float *g, float *buf, int64_t n, float wd, float mu, float neg_lr, bool first);

#endif
