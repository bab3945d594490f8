/* softmax.c — Softmax (axis), SoftmaxWithLoss and Accuracy: forward and
 * backward. A tensor is seen as outer x channels x inner around the axis. */
#include <float.h>
#include <math.h>

#include "check.h"
#include "layers.h"

typedef struct {
  int64_t outer, ch, inner;
} around;

static around split_at(const cv_tensor *x, int axis) {
  around a = {cv_prod(x->size, 0, axis), x->size[axis],
              cv_prod(x->size, axis + 1, x->ndim)};
  return a;
}

/* Softmax of one line of ch values spaced inner apart. */
static void softmax_line(const float *x, float *y, int64_t ch, int64_t inner) {
  float mx = -FLT_MAX;
  for (int64_t c = 0; c < ch; c++) if (x[c * inner] > mx) mx = x[c * inner];
  double s = 0;
  for (int64_t c = 0; c < ch; c++) {
    float e = expf(x[c * inner] - mx);
    y[c * inner] = e;
    s += e;
  }
  float r = (float)(1.0 / s);
  for (int64_t c = 0; c < ch; c++) y[c * inner] *= r;
}

int cv_softmax_forward(int axis, const cv_tensor *x, cv_tensor *y,
                       cv_error *err) {
  if (cv_check_tensor("softmax", "input", x, -1, err) ||
      cv_check_axis("softmax", axis, x->ndim, err) ||
      cv_check_like("softmax", "output", y, "input", x, err))
    return -1;
  around a = split_at(x, axis);
  const float *xd = cv_tensor_data(x);
  float *yd = cv_tensor_data(y);
#pragma omp parallel for collapse(2) if (a.outer * a.inner > 64)
  for (int64_t o = 0; o < a.outer; o++)
    for (int64_t i = 0; i < a.inner; i++) {
      int64_t base = o * a.ch * a.inner + i;
      softmax_line(xd + base, yd + base, a.ch, a.inner);
    }
  return 0;
}

/* dx = y * (dy - sum_c dy y) along the axis. */
int cv_softmax_backward(int axis, const cv_tensor *y, const cv_tensor *dy,
                        cv_tensor *dx, cv_error *err) {
  if (cv_check_tensor("softmax", "output", y, -1, err) ||
      cv_check_axis("softmax", axis, y->ndim, err) ||
      cv_check_like("softmax", "output gradient", dy, "output", y, err) ||
      cv_check_like("softmax", "input gradient", dx, "output", y, err))
    return -1;
  around a = split_at(y, axis);
  const float *yd = cv_tensor_data(y), *g = cv_tensor_data(dy);
  float *d = cv_tensor_data(dx);
  for (int64_t o = 0; o < a.outer; o++)
    for (int64_t i = 0; i < a.inner; i++) {
      int64_t base = o * a.ch * a.inner + i;
      double dot = 0;
      for (int64_t c = 0; c < a.ch; c++)
        dot += (double)g[base + c * a.inner] * yd[base + c * a.inner];
      for (int64_t c = 0; c < a.ch; c++) {
        int64_t j = base + c * a.inner;
        d[j] = yd[j] * (g[j] - (float)dot);
      }
    }
  return 0;
}

/* Checks scores and labels (outer x inner values, any shape of that count);
 * each label must be an integer class in [0, ch) or the ignored one. */
static int check_labels(const char *layer, const cv_loss_params *p,
                        const cv_tensor *x, const cv_tensor *labels,
                        cv_error *err) {
  if (cv_check_tensor(layer, "input", x, -1, err) ||
      cv_check_axis(layer, p->axis, x->ndim, err) ||
      cv_check_tensor(layer, "labels", labels, -1, err))
    return -1;
  around a = split_at(x, p->axis);
  char sx[CV_SHAPE_STR_MAX], sl[CV_SHAPE_STR_MAX];
  if (cv_tensor_numel(labels) != a.outer * a.inner)
    return cv_error_set(err, "%s: labels %s must have one value per sample of "
                        "input %s (%lld)", layer,
                        cv_shape_str(labels->ndim, labels->size, sl, sizeof sl),
                        cv_shape_str(x->ndim, x->size, sx, sizeof sx),
                        (long long)(a.outer * a.inner));
  const float *l = cv_tensor_data(labels);
  for (int64_t i = 0; i < a.outer * a.inner; i++) {
    if (p->has_ignore && l[i] == (float)p->ignore_label) continue;
    if (l[i] < 0 || l[i] >= (float)a.ch || l[i] != floorf(l[i]))
      return cv_error_set(err, "%s: label %g at sample %lld is not a class in "
                          "[0, %lld)", layer, (double)l[i], (long long)i,
                          (long long)a.ch);
  }
  return 0;
}

static int ignored(const cv_loss_params *p, float label) {
  return p->has_ignore && label == (float)p->ignore_label;
}

/* Caffe's get_normalizer, floored at 1. */
static double normaliser(const cv_loss_params *p, const around *a,
                         int64_t counted) {
  double n = p->norm == CV_LOSS_FULL    ? (double)(a->outer * a->inner)
             : p->norm == CV_LOSS_BATCH ? (double)a->outer
             : p->norm == CV_LOSS_NONE  ? 1.0
                                        : (double)counted;
  return n < 1.0 ? 1.0 : n;
}

int cv_softmax_loss_forward(const cv_loss_params *p, const cv_tensor *x,
                            const cv_tensor *labels, cv_tensor *prob,
                            double *loss, cv_error *err) {
  if (check_labels("softmax_loss", p, x, labels, err) ||
      cv_softmax_forward(p->axis, x, prob, err))
    return -1;
  around a = split_at(x, p->axis);
  const float *pd = cv_tensor_data(prob), *l = cv_tensor_data(labels);
  double sum = 0;
  int64_t count = 0;
  for (int64_t o = 0; o < a.outer; o++)
    for (int64_t i = 0; i < a.inner; i++) {
      float lab = l[o * a.inner + i];
      if (ignored(p, lab)) continue;
      float q = pd[(o * a.ch + (int64_t)lab) * a.inner + i];
      sum -= log(q > FLT_MIN ? q : FLT_MIN);
      count++;
    }
  *loss = sum / normaliser(p, &a, count);
  return 0;
}

int cv_softmax_loss_backward(const cv_loss_params *p, const cv_tensor *prob,
                             const cv_tensor *labels, double dloss,
                             cv_tensor *dx, cv_error *err) {
  if (check_labels("softmax_loss", p, prob, labels, err) ||
      cv_check_like("softmax_loss", "input gradient", dx, "input", prob, err))
    return -1;
  around a = split_at(prob, p->axis);
  const float *pd = cv_tensor_data(prob), *l = cv_tensor_data(labels);
  float *d = cv_tensor_data(dx);
  int64_t count = 0;
  for (int64_t i = 0; i < a.outer * a.inner; i++) count += !ignored(p, l[i]);
  float f = (float)(dloss / normaliser(p, &a, count));
  for (int64_t o = 0; o < a.outer; o++)
    for (int64_t i = 0; i < a.inner; i++) {
      float lab = l[o * a.inner + i];
      int skip = ignored(p, lab);
      for (int64_t c = 0; c < a.ch; c++) {
        int64_t j = (o * a.ch + c) * a.inner + i;
        d[j] = skip ? 0.0f : f * (pd[j] - (c == (int64_t)lab ? 1.0f : 0.0f));
      }
    }
  return 0;
}

int cv_accuracy(const cv_loss_params *p, const cv_tensor *x,
                const cv_tensor *labels, double *accuracy, cv_error *err) {
  if (check_labels("accuracy", p, x, labels, err)) return -1;
  if (p->top_k < 1)
    return cv_error_set(err, "accuracy: top_k %d must be positive", p->top_k);
  around a = split_at(x, p->axis);
  const float *xd = cv_tensor_data(x), *l = cv_tensor_data(labels);
  int64_t count = 0, hits = 0;
  for (int64_t o = 0; o < a.outer; o++)
    for (int64_t i = 0; i < a.inner; i++) {
      float lab = l[o * a.inner + i];
      if (ignored(p, lab)) continue;
      const float *line = xd + o * a.ch * a.inner + i;
      float mine = line[(int64_t)lab * a.inner];
      int64_t better = -1;  /* the label itself counts once */
      for (int64_t c = 0; c < a.ch; c++) better += line[c * a.inner] >= mine;
      hits += better < p->top_k;
      count++;
    }
  *accuracy = count ? (double)hits / (double)count : 0.0;
  return 0;
}
