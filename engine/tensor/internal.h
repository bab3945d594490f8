/*
 * internal.h — what the files of engine/tensor/ share and no one outside
 * uses: the largest tensor and the check of a dimension argument.
 */
#ifndef CV_TENSOR_INTERNAL_H
#define CV_TENSOR_INTERNAL_H

#include "tensor.h"

/* Large enough that a tensor's byte size always fits in size_t and int64_t. */
#define CV_MAX_NUMEL ((int64_t)1 << 40)

/* 0 when dim (0-based) names a dimension of t; else -1 with
 * "<op>: dimension <dim+1> out of range for a <n>-d tensor". */
static inline int cv_tensor_check_dim(const cv_tensor *t, int dim,
                                      const char *op, cv_error *err) {
  if (dim < 0 || dim >= t->ndim)
    return cv_error_set(err, "%s: dimension %d out of range for a %d-d tensor",
                        op, dim + 1, t->ndim);
  return 0;
}

#endif
