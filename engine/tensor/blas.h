/* blas.h — matrix products on cv_sgemm (gemm.h). Ownership and errors as in
 * math.h. */
#ifndef CV_TENSOR_BLAS_H
#define CV_TENSOR_BLAS_H

#include "tensor.h"

/* PyTorch's matmul rules: 1-d x 1-d is a dot product (0-d result), a 1-d
 * operand is a row/column vector that is dropped from the result, 2-d x 2-d
 * a plain product, and 3-d operands are batches (a batch of 1 or a 2-d
 * operand is shared by every batch). Strided operands are used in place when
 * BLAS can read them (row- or column-major with unit stride), else copied. */

cv_tensor *cv_tensor_matmul(const cv_tensor *a, const cv_tensor *b,
                            cv_error *err);
/* Same into out, which must be contiguous and of the result's shape; no
 * allocation when a and b are BLAS-readable. */
int cv_tensor_matmul_out(cv_tensor *out, const cv_tensor *a,
                         const cv_tensor *b, cv_error *err);

#endif
