/* shape.c — Flatten and Reshape: only their output shapes (the data is
 * shared as a view; backward is a view of dy the other way). */
#include <string.h>

#include "check.h"
#include "layers.h"

int cv_flatten_shape(int axis, int end_axis, int ndim, const int64_t *in,
                     int *out_ndim, int64_t *out, cv_error *err) {
  int a = axis < 0 ? axis + ndim : axis, e = end_axis < 0 ? end_axis + ndim : end_axis;
  if (a < 0 || a >= ndim || e < a || e >= ndim)
    return cv_error_set(err, "flatten: axes %d to %d are out of range for a "
                        "%d-d input", axis, end_axis, ndim);
  int n = 0;
  for (int d = 0; d < a; d++) out[n++] = in[d];
  out[n++] = cv_prod(in, a, e + 1);
  for (int d = e + 1; d < ndim; d++) out[n++] = in[d];
  *out_ndim = n;
  return 0;
}

/* Fills the replaced part of the shape: 0 copies, -1 is left for later. */
static int reshape_middle(int axis, int shape_ndim, const int64_t *shape,
                          int ndim, const int64_t *in, int64_t *mid, int *infer,
                          cv_error *err) {
  *infer = -1;
  for (int i = 0; i < shape_ndim; i++) {
    if (shape[i] == 0) {
      if (axis + i >= ndim)
        return cv_error_set(err, "reshape: dim %d is 0 (copy) but the input "
                            "has only %d dims", i + 1, ndim);
      mid[i] = in[axis + i];
    } else if (shape[i] == -1) {
      if (*infer >= 0)
        return cv_error_set(err, "reshape: only one dim may be -1");
      *infer = i;
      mid[i] = 1;
    } else if (shape[i] < 0) {
      return cv_error_set(err, "reshape: dim %d is %lld", i + 1,
                          (long long)shape[i]);
    } else {
      mid[i] = shape[i];
    }
  }
  return 0;
}

int cv_reshape_shape(int axis, int num_axes, int shape_ndim,
                     const int64_t *shape, int ndim, const int64_t *in,
                     int *out_ndim, int64_t *out, cv_error *err) {
  int a = axis < 0 ? axis + ndim + 1 : axis;
  int end = num_axes < 0 ? ndim : a + num_axes;
  if (a < 0 || a > ndim || end > ndim || end < a)
    return cv_error_set(err, "reshape: axis %d with num_axes %d is out of "
                        "range for a %d-d input", axis, num_axes, ndim);
  int n = a + shape_ndim + (ndim - end);
  if (n > CV_MAX_DIMS)
    return cv_error_set(err, "reshape: the result would have %d dims", n);
  int64_t mid[CV_MAX_DIMS];
  int infer;
  if (reshape_middle(a, shape_ndim, shape, ndim, in, mid, &infer, err)) return -1;
  memcpy(out, in, sizeof(int64_t) * (size_t)a);
  memcpy(out + a, mid, sizeof(int64_t) * (size_t)shape_ndim);
  memcpy(out + a + shape_ndim, in + end, sizeof(int64_t) * (size_t)(ndim - end));
  int64_t have = cv_prod(in, 0, ndim), got = cv_prod(out, 0, n);
  char si[CV_SHAPE_STR_MAX];
  cv_shape_str(ndim, in, si, sizeof si);
  if (infer >= 0) {
    if (got == 0 || have % got)
      return cv_error_set(err, "reshape: cannot infer the -1 dim for input %s",
                          si);
    out[a + infer] = have / got;
  } else if (got != have) {
    char so[CV_SHAPE_STR_MAX];
    return cv_error_set(err, "reshape: input %s (%lld elements) cannot become "
                        "%s (%lld)", si, (long long)have,
                        cv_shape_str(n, out, so, sizeof so), (long long)got);
  }
  *out_ndim = n;
  return 0;
}
