/* reduce.h — sums, norms, moments, extremes, sort and top-k. Ownership,
 * errors and 0-based positions as in math.h. */
#ifndef CV_TENSOR_REDUCE_H
#define CV_TENSOR_REDUCE_H

#include "tensor.h"

/* dim < 0 reduces over every element into a 0-d tensor (keepdim ignored);
 * otherwise along dim, keeping it as size 1 when keepdim. Sums accumulate
 * in double. */

cv_tensor *cv_tensor_sum(const cv_tensor *a, int dim, int keepdim,
                         cv_error *err);
cv_tensor *cv_tensor_mean(const cv_tensor *a, int dim, int keepdim,
                          cv_error *err);
/* p is 1, 2 or INFINITY. */
cv_tensor *cv_tensor_norm(const cv_tensor *a, double p, int dim, int keepdim,
                          cv_error *err);
/* Bessel's correction (n - 1) when unbiased, as PyTorch does by default. */
cv_tensor *cv_tensor_var(const cv_tensor *a, int dim, int keepdim,
                         int unbiased, cv_error *err);
cv_tensor *cv_tensor_std(const cv_tensor *a, int dim, int keepdim,
                         int unbiased, cv_error *err);
/* Largest / smallest values and their 0-based positions along dim (the
 * first one on ties; NaN counts as the largest and the smallest, as in
 * PyTorch). indices may be NULL. With dim < 0: the flat position. */
cv_tensor *cv_tensor_max(const cv_tensor *a, int dim, int keepdim,
                         cv_tensor **indices, cv_error *err);
cv_tensor *cv_tensor_min(const cv_tensor *a, int dim, int keepdim,
                         cv_tensor **indices, cv_error *err);
cv_tensor *cv_tensor_argmax(const cv_tensor *a, int dim, int keepdim,
                            cv_error *err);
cv_tensor *cv_tensor_argmin(const cv_tensor *a, int dim, int keepdim,
                            cv_error *err);
/* Stable sort along dim: values and 0-based source positions (both new
 * references). NaN sorts above every number, as in PyTorch. */
int cv_tensor_sort(const cv_tensor *a, int dim, int descending,
                   cv_tensor **values, cv_tensor **indices, cv_error *err);
/* The k largest (or smallest) along dim, in sorted order. */
int cv_tensor_topk(const cv_tensor *a, int64_t k, int dim, int largest,
                   cv_tensor **values, cv_tensor **indices, cv_error *err);

#endif
