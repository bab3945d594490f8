/* linear_skinny.h — InnerProduct products for a few rows (linear_skinny.c).
 * Row-major, untransposed weights: x is M x K, w is N x K. */
#ifndef CV_LINEAR_SKINNY_H
#define CV_LINEAR_SKINNY_H

#include <stdint.h>

/* y (M x N) = x w^T */
void cv_skinny_forward(int64_t m, int64_t n, int64_t k, const float *x,
                       const float *w, float *y);

/* dw (N x K) = dy^T x, written once (dw need not be initialised); dy is
 * M x N. */
void cv_skinny_weight_grad(int64_t m, int64_t n, int64_t k, const float *dy,
                           const float *x, float *dw);

/* The kernels' names with the blocks this build uses ("skinny, 4x4 blocks
 * of 16 lanes": rows x weights, rows x vectors of inputs): static strings. */
const char *cv_skinny_forward_kernel(void);
const char *cv_skinny_weight_grad_kernel(void);

#endif
