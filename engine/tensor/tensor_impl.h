/* tensor_impl.h — internals shared by tensor.c and view.c only. */
#ifndef CV_TENSOR_IMPL_H
#define CV_TENSOR_IMPL_H

#include "tensor.h"

/* A new header over t's storage with the given geometry (new reference). */
cv_tensor *cv_tensor_view_of(cv_tensor *t, int ndim, const int64_t *size,
                             const int64_t *stride, int64_t offset,
                             cv_error *err);

/* A second header over t's storage with t's geometry and no tape node: how
 * an op keeps its own output in its node without a reference cycle. */
cv_tensor *cv_tensor_alias(cv_tensor *t, cv_error *err);

#endif
