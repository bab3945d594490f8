/* activation.c — element-wise layers: ReLU, Sigmoid, TanH, Power, Dropout;
 * forward and backward side by side. All operate on contiguous tensors of
 * one shape; forward may run in place (y == x). */
#include <math.h>

#include "check.h"
#include "layers.h"
#include "tensor/random.h"

/* The loops are long and flat: parallel once they are worth a fork. */
#define PAR_MIN 32768

static int same2(const char *layer, const cv_tensor *x, const cv_tensor *y,
                 const char *xn, const char *yn, cv_error *err) {
  if (cv_check_tensor(layer, xn, x, -1, err) ||
      cv_check_like(layer, yn, y, xn, x, err))
    return -1;
  return 0;
}

static int same3(const char *layer, const cv_tensor *x, const cv_tensor *dy,
                 const cv_tensor *dx, const char *xn, cv_error *err) {
  if (same2(layer, x, dy, xn, "output gradient", err) ||
      cv_check_like(layer, "input gradient", dx, xn, x, err))
    return -1;
  return 0;
}

int cv_relu_forward(double slope, const cv_tensor *x, cv_tensor *y,
                    cv_error *err) {
  if (same2("relu", x, y, "input", "output", err)) return -1;
  int64_t n = cv_tensor_numel(x);
  const float *a = cv_tensor_data(x);
  float *b = cv_tensor_data(y), s = (float)slope;
  /* Caffe's max(x, 0) + slope * min(x, 0), written as two selects: GCC
   * vectorizes these, while x > 0 ? x : slope * x stayed a scalar branch
   * (a sixth of the shipped model's training time). */
#pragma omp parallel for simd if (n > PAR_MIN)
  for (int64_t i = 0; i < n; i++) {
    float v = a[i];
    b[i] = (v > 0 ? v : 0.0f) + s * (v > 0 ? 0.0f : v);
  }
  return 0;
}

/* Caffe: the gradient passes where x > 0, times slope elsewhere. */
int cv_relu_backward(double slope, const cv_tensor *x, const cv_tensor *dy,
                     cv_tensor *dx, cv_error *err) {
  if (same3("relu", x, dy, dx, "input", err)) return -1;
  int64_t n = cv_tensor_numel(x);
  const float *a = cv_tensor_data(x), *g = cv_tensor_data(dy);
  float *d = cv_tensor_data(dx), s = (float)slope;
#pragma omp parallel for simd if (n > PAR_MIN) /* two selects, as forward */
  for (int64_t i = 0; i < n; i++) {
    float v = g[i];
    d[i] = (a[i] > 0 ? v : 0.0f) + s * (a[i] > 0 ? 0.0f : v);
  }
  return 0;
}

int cv_sigmoid_forward(const cv_tensor *x, cv_tensor *y, cv_error *err) {
  if (same2("sigmoid", x, y, "input", "output", err)) return -1;
  int64_t n = cv_tensor_numel(x);
  const float *a = cv_tensor_data(x);
  float *b = cv_tensor_data(y);
#pragma omp parallel for if (n > PAR_MIN)
  for (int64_t i = 0; i < n; i++) b[i] = 1.0f / (1.0f + expf(-a[i]));
  return 0;
}

int cv_sigmoid_backward(const cv_tensor *y, const cv_tensor *dy, cv_tensor *dx,
                        cv_error *err) {
  if (same3("sigmoid", y, dy, dx, "output", err)) return -1;
  int64_t n = cv_tensor_numel(y);
  const float *b = cv_tensor_data(y), *g = cv_tensor_data(dy);
  float *d = cv_tensor_data(dx);
#pragma omp parallel for simd if (n > PAR_MIN)
  for (int64_t i = 0; i < n; i++) d[i] = g[i] * b[i] * (1.0f - b[i]);
  return 0;
}

int cv_tanh_forward(const cv_tensor *x, cv_tensor *y, cv_error *err) {
  if (same2("tanh", x, y, "input", "output", err)) return -1;
  int64_t n = cv_tensor_numel(x);
  const float *a = cv_tensor_data(x);
  float *b = cv_tensor_data(y);
#pragma omp parallel for if (n > PAR_MIN)
  for (int64_t i = 0; i < n; i++) b[i] = tanhf(a[i]);
  return 0;
}

int cv_tanh_backward(const cv_tensor *y, const cv_tensor *dy, cv_tensor *dx,
                     cv_error *err) {
  if (same3("tanh", y, dy, dx, "output", err)) return -1;
  int64_t n = cv_tensor_numel(y);
  const float *b = cv_tensor_data(y), *g = cv_tensor_data(dy);
  float *d = cv_tensor_data(dx);
#pragma omp parallel for simd if (n > PAR_MIN)
  for (int64_t i = 0; i < n; i++) d[i] = g[i] * (1.0f - b[i] * b[i]);
  return 0;
}

int cv_power_forward(const cv_power_params *p, const cv_tensor *x, cv_tensor *y,
                     cv_error *err) {
  if (same2("power", x, y, "input", "output", err)) return -1;
  int64_t n = cv_tensor_numel(x);
  const float *a = cv_tensor_data(x);
  float *b = cv_tensor_data(y);
  float pw = (float)p->power, sc = (float)p->scale, sh = (float)p->shift;
#pragma omp parallel for if (n > PAR_MIN)
  for (int64_t i = 0; i < n; i++) {
    float u = sh + sc * a[i];
    b[i] = pw == 1.0f ? u : pw == 2.0f ? u * u : powf(u, pw);
  }
  return 0;
}

/* dx = dy * power * scale * (shift + scale x)^(power - 1); power 0 gives 0. */
int cv_power_backward(const cv_power_params *p, const cv_tensor *x,
                      const cv_tensor *dy, cv_tensor *dx, cv_error *err) {
  if (same3("power", x, dy, dx, "input", err)) return -1;
  int64_t n = cv_tensor_numel(x);
  const float *a = cv_tensor_data(x), *g = cv_tensor_data(dy);
  float *d = cv_tensor_data(dx);
  float pw = (float)p->power, sc = (float)p->scale, sh = (float)p->shift;
#pragma omp parallel for if (n > PAR_MIN)
  for (int64_t i = 0; i < n; i++) {
    float u = sh + sc * a[i];
    float dv = pw == 0.0f ? 0.0f : pw == 1.0f ? sc : pw * sc * powf(u, pw - 1.0f);
    d[i] = g[i] * dv;
  }
  return 0;
}

int cv_dropout_forward(double ratio, int train, const cv_tensor *x,
                       cv_tensor *y, cv_tensor *mask, cv_error *err) {
  if (ratio < 0 || ratio >= 1)
    return cv_error_set(err, "dropout: ratio %g must be in [0, 1)", ratio);
  if (same2("dropout", x, y, "input", "output", err) ||
      (mask && cv_check_like("dropout", "mask", mask, "input", x, err)))
    return -1;
  int64_t n = cv_tensor_numel(x);
  const float *a = cv_tensor_data(x);
  float *b = cv_tensor_data(y), *m = mask ? cv_tensor_data(mask) : NULL;
  float keep = (float)(1.0 / (1.0 - ratio));
  /* Serial: the one RNG stream must give the same mask for the same seed. */
  for (int64_t i = 0; i < n; i++) {
    float f = !train ? 1.0f : cv_random_uniform() >= ratio ? keep : 0.0f;
    if (m) m[i] = f;
    b[i] = a[i] * f;
  }
  return 0;
}

int cv_dropout_backward(const cv_tensor *mask, const cv_tensor *dy,
                        cv_tensor *dx, cv_error *err) {
  if (same3("dropout", mask, dy, dx, "mask", err)) return -1;
  int64_t n = cv_tensor_numel(mask);
  const float *m = cv_tensor_data(mask), *g = cv_tensor_data(dy);
  float *d = cv_tensor_data(dx);
#pragma omp parallel for simd if (n > PAR_MIN)
  for (int64_t i = 0; i < n; i++) d[i] = g[i] * m[i];
  return 0;
}

/* ---- PReLU -------------------------------------------------------------- */

/* The channel count the slope must match (1: one shared slope), and the
 * length of one channel's run of values. */
static int prelu_check(const cv_tensor *x, const cv_tensor *slope,
                       int64_t *channels, int64_t *inner, cv_error *err) {
  if (cv_check_tensor("prelu", "input", x, -1, err) ||
      cv_check_tensor("prelu", "slope", slope, -1, err))
    return -1;
  int64_t c = x->ndim >= 2 ? x->size[1] : 1, k = cv_tensor_numel(slope);
  if (k != 1 && k != c) {
    char a[CV_SHAPE_STR_MAX], b[CV_SHAPE_STR_MAX];
    return cv_error_set(err, "prelu: input %s needs 1 slope or one per "
                        "channel (%lld), got %s",
                        cv_shape_str(x->ndim, x->size, a, sizeof a), (long long)c,
                        cv_shape_str(slope->ndim, slope->size, b, sizeof b));
  }
  *channels = k;
  *inner = x->ndim >= 2 ? cv_prod(x->size, 2, x->ndim) : cv_tensor_numel(x);
  if (k == 1) *inner = 1; /* shared: every element uses slope[0] */
  return 0;
}

int cv_prelu_forward(const cv_tensor *x, const cv_tensor *slope, cv_tensor *y,
                     cv_error *err) {
  int64_t c, inner;
  if (prelu_check(x, slope, &c, &inner, err) ||
      cv_check_like("prelu", "output", y, "input", x, err))
    return -1;
  int64_t n = cv_tensor_numel(x);
  const float *a = cv_tensor_data(x), *s = cv_tensor_data(slope);
  float *b = cv_tensor_data(y);
#pragma omp parallel for if (n > PAR_MIN)
  for (int64_t i = 0; i < n; i++) {
    float k = s[c == 1 ? 0 : (i / inner) % c];
    b[i] = a[i] > 0 ? a[i] : k * a[i];
  }
  return 0;
}

/* Caffe's: the gradient passes where x > 0 and is scaled by the slope
 * elsewhere; a slope's gradient sums dy * x where x <= 0. */
int cv_prelu_backward(const cv_tensor *x, const cv_tensor *slope,
                      const cv_tensor *dy, cv_tensor *dx, cv_tensor *dslope,
                      cv_error *err) {
  int64_t c, inner;
  if (prelu_check(x, slope, &c, &inner, err) ||
      cv_check_like("prelu", "output gradient", dy, "input", x, err) ||
      (dx && cv_check_like("prelu", "input gradient", dx, "input", x, err)) ||
      (dslope && cv_check_like("prelu", "slope gradient", dslope, "slope", slope, err)))
    return -1;
  int64_t n = cv_tensor_numel(x);
  const float *a = cv_tensor_data(x), *s = cv_tensor_data(slope);
  const float *g = cv_tensor_data(dy);
  if (dx) {
    float *d = cv_tensor_data(dx);
#pragma omp parallel for if (n > PAR_MIN)
    for (int64_t i = 0; i < n; i++)
      d[i] = a[i] > 0 ? g[i] : s[c == 1 ? 0 : (i / inner) % c] * g[i];
  }
  if (dslope) {
    float *ds = cv_tensor_data(dslope);
    for (int64_t k = 0; k < c; k++) {
      double sum = 0; /* in double: a channel sums N x H x W terms */
      for (int64_t i = k * inner; i < n; i += c * inner)
        for (int64_t j = i; j < i + inner; j++)
          if (a[j] <= 0) sum += (double)g[j] * a[j];
      ds[k] += (float)sum;
    }
  }
  return 0;
}
