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

/* The blocks this build uses ("avx512, 16 lanes: forward 4x4 vectors, ..."),
 * a static string. */
const char *cv_skinny_blocks(void);

#endif
