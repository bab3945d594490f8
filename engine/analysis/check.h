/* check.h — the input check PCA and k-means share. */
#ifndef CV_ANALYSIS_CHECK_H
#define CV_ANALYSIS_CHECK_H

#include "tensor/tensor.h"

/* 0 when x is a 2-d matrix of finite values; else -1 with a message that
 * starts with `fn` and names the shape or the first bad element (1-based). */
int cv_analysis_check_matrix(const char *fn, const cv_tensor *x, cv_error *err);

#endif
