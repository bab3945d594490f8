/* sgd.c — one fused pass per blob: no temporaries. */
#include "sgd.h"

static int check(const cv_tensor *w, const cv_tensor *h, const cv_tensor *g,
                 cv_error *err) {
  char a[CV_SHAPE_STR_MAX], b[CV_SHAPE_STR_MAX];
  const cv_tensor *bad = !cv_tensor_same_shape(w, h) ? h
                         : (g && !cv_tensor_same_shape(w, g)) ? g : NULL;
  if (bad)
    return cv_error_set(err, "sgd: the parameter has shape %s but its %s has "
                        "shape %s", cv_shape_str(w->ndim, w->size, a, sizeof a),
                        bad == h ? "history" : "gradient",
                        cv_shape_str(bad->ndim, bad->size, b, sizeof b));
  if (!cv_tensor_is_contiguous(w) || !cv_tensor_is_contiguous(h) ||
      (g && !cv_tensor_is_contiguous(g)))
    return cv_error_set(err, "sgd: the parameter, history and gradient must "
                        "be contiguous");
  return 0;
}

int cv_sgd_update(cv_tensor *w, cv_tensor *history, const cv_tensor *grad,
                  double local_lr, double momentum, double local_decay,
                  cv_error *err) {
  if (check(w, history, grad, err)) return -1;
  int64_t n = cv_tensor_numel(w);
  float *p = cv_tensor_data(w), *v = cv_tensor_data(history);
  const float *g = grad ? cv_tensor_data(grad) : NULL;
  float lr = (float)local_lr, m = (float)momentum, d = (float)local_decay;
  cv_tensor_bump_version(w);
  cv_tensor_bump_version(history);
  for (int64_t i = 0; i < n; i++) {
    float step = (g ? g[i] : 0.0f) + d * p[i];
    v[i] = m * v[i] + lr * step;
    p[i] -= v[i];
  }
  return 0;
}
