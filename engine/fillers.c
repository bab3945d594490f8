/* fillers.c — Caffe's parameter initialisers. */
#include "fillers.h"

#include <math.h>
#include <string.h>

#include "tensor/random.h"

/* Caffe's fan_in / fan_out of a parameter blob. */
static double fan(const cv_tensor *t, Caffe__FillerParameter__VarianceNorm norm) {
  int64_t numel = cv_tensor_numel(t);
  double fan_in = t->ndim > 0 && t->size[0] ? (double)numel / t->size[0] : 1;
  double fan_out = t->ndim > 1 && t->size[1] ? (double)numel / t->size[1] : 1;
  if (norm == CAFFE__FILLER_PARAMETER__VARIANCE_NORM__FAN_OUT) return fan_out;
  if (norm == CAFFE__FILLER_PARAMETER__VARIANCE_NORM__AVERAGE)
    return (fan_in + fan_out) / 2;
  return fan_in;
}

int cv_filler_apply(const Caffe__FillerParameter *fp, cv_tensor *t,
                    cv_error *err) {
  const char *type = fp && fp->type ? fp->type : "constant";
  if (!fp || strcmp(type, "constant") == 0) {
    cv_tensor_fill(t, fp ? fp->value : 0.0f);
  } else if (strcmp(type, "uniform") == 0) {
    cv_tensor_uniform_(t, fp->min, fp->max);
  } else if (strcmp(type, "gaussian") == 0) {
    cv_tensor_normal_(t, fp->mean, fp->std);
  } else if (strcmp(type, "xavier") == 0) {
    float scale = (float)sqrt(3.0 / fan(t, fp->variance_norm));
    cv_tensor_uniform_(t, -scale, scale);
  } else if (strcmp(type, "msra") == 0) {
    cv_tensor_normal_(t, 0.0f, (float)sqrt(2.0 / fan(t, fp->variance_norm)));
  } else {
    return cv_error_set(err, "filler type '%s' is not supported (constant, "
                        "uniform, gaussian, xavier, msra)", type);
  }
  return 0;
}
