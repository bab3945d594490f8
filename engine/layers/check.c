/* check.c — shape and layout checks shared by the layer kernels. */
#include "check.h"

int cv_check_tensor(const char *layer, const char *name, const cv_tensor *t,
                    int ndim, cv_error *err) {
  if (!t) return cv_error_set(err, "%s: %s is missing", layer, name);
  if (ndim >= 0 && t->ndim != ndim) {
    char s[CV_SHAPE_STR_MAX];
    return cv_error_set(err, "%s: %s must be %d-d, got %s", layer, name, ndim,
                        cv_shape_str(t->ndim, t->size, s, sizeof s));
  }
  if (!cv_tensor_is_contiguous(t))
    return cv_error_set(err, "%s: %s must be contiguous", layer, name);
  return 0;
}

int cv_check_shape(const char *layer, const char *name, const cv_tensor *t,
                   int ndim, const int64_t *size, cv_error *err) {
  if (cv_check_tensor(layer, name, t, -1, err)) return -1;
  int same = t->ndim == ndim;
  for (int d = 0; same && d < ndim; d++) same = t->size[d] == size[d];
  if (same) return 0;
  char s[CV_SHAPE_STR_MAX], want[CV_SHAPE_STR_MAX];
  return cv_error_set(err, "%s: %s is %s, expected %s", layer, name,
                      cv_shape_str(t->ndim, t->size, s, sizeof s),
                      cv_shape_str(ndim, size, want, sizeof want));
}

int cv_check_like(const char *layer, const char *name, const cv_tensor *b,
                  const char *ref_name, const cv_tensor *a, cv_error *err) {
  if (cv_check_tensor(layer, name, b, -1, err)) return -1;
  if (cv_tensor_same_shape(a, b)) return 0;
  char sa[CV_SHAPE_STR_MAX], sb[CV_SHAPE_STR_MAX];
  return cv_error_set(err, "%s: %s is %s but %s is %s", layer, name,
                      cv_shape_str(b->ndim, b->size, sb, sizeof sb), ref_name,
                      cv_shape_str(a->ndim, a->size, sa, sizeof sa));
}

int cv_check_axis(const char *layer, int axis, int ndim, cv_error *err) {
  if (axis >= 0 && axis < ndim) return 0;
  return cv_error_set(err, "%s: axis %d is out of range for a %d-d input",
                      layer, axis, ndim);
}

int64_t cv_prod(const int64_t *size, int from, int to) {
  int64_t n = 1;
  for (int d = from; d < to; d++) n *= size[d];
  return n;
}
