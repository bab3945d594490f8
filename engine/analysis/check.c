/* check.c — what PCA and k-means ask of their input matrix. */
#include <math.h>

#include "check.h"

int cv_analysis_check_matrix(const char *fn, const cv_tensor *x, cv_error *err) {
  char s[CV_SHAPE_STR_MAX];
  if (x->ndim != 2)
    return cv_error_set(err, "%s: expected a 2-d matrix (rows x columns), got %s", fn,
                        cv_shape_str(x->ndim, x->size, s, sizeof s));
  const float *p = cv_tensor_data(x);
  for (int64_t i = 0; i < x->size[0]; i++)
    for (int64_t j = 0; j < x->size[1]; j++) {
      float v = p[i * x->stride[0] + j * x->stride[1]];
      if (!isfinite(v))
        return cv_error_set(err, "%s: %s at row %lld, column %lld (1-based) of the %s matrix",
                            fn, isnan(v) ? "NaN" : "infinity", (long long)i + 1,
                            (long long)j + 1, cv_shape_str(2, x->size, s, sizeof s));
    }
  return 0;
}
