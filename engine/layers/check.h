/* check.h — argument checks the layer kernels share (internal). Each returns
 * 0, or -1 with a message that starts with the layer's name. */
#ifndef CV_LAYERS_CHECK_H
#define CV_LAYERS_CHECK_H

#include "tensor/tensor.h"

/* t is present, contiguous and has ndim dims (ndim < 0: any). */
int cv_check_tensor(const char *layer, const char *name, const cv_tensor *t,
                    int ndim, cv_error *err);
/* t is present, contiguous and has exactly the given shape. */
int cv_check_shape(const char *layer, const char *name, const cv_tensor *t,
                   int ndim, const int64_t *size, cv_error *err);
/* b is present, contiguous and has a's shape. */
int cv_check_like(const char *layer, const char *name, const cv_tensor *b,
                  const char *ref_name, const cv_tensor *a, cv_error *err);
/* An axis in [0, ndim). */
int cv_check_axis(const char *layer, int axis, int ndim, cv_error *err);

/* Product of size[from..to). */
int64_t cv_prod(const int64_t *size, int from, int to);

#endif
