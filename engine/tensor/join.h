/* join.h — cat and stack. Ownership and errors as in math.h. */
#ifndef CV_TENSOR_JOIN_H
#define CV_TENSOR_JOIN_H

#include "tensor.h"

/* Tensors of equal shape except along dim, end to end. */
cv_tensor *cv_tensor_cat(int n, cv_tensor *const *ts, int dim, cv_error *err);
/* Tensors of equal shape along a new dimension dim (0..ndim). */
cv_tensor *cv_tensor_stack(int n, cv_tensor *const *ts, int dim,
                           cv_error *err);

#endif
