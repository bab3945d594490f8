/* combine.c — layers over several blobs: Concat, Slice, Eltwise, Split's
 * backward.
 * Forward and backward side by side. */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "layers.h"

int cv_concat_shape(int axis, int count, const cv_tensor *const *xs,
                    int64_t *out, cv_error *err) {
  if (count < 1) return cv_error_set(err, "concat: needs at least one input");
  if (cv_check_tensor("concat", "input 1", xs[0], -1, err) ||
      cv_check_axis("concat", axis, xs[0]->ndim, err))
    return -1;
  const cv_tensor *a = xs[0];
  memcpy(out, a->size, sizeof(int64_t) * (size_t)a->ndim);
  out[axis] = 0;
  for (int i = 0; i < count; i++) {
    char name[32];
    snprintf(name, sizeof name, "input %d", i + 1);
    if (cv_check_tensor("concat", name, xs[i], a->ndim, err)) return -1;
    for (int d = 0; d < a->ndim; d++)
      if (d != axis && xs[i]->size[d] != a->size[d]) {
        char s0[CV_SHAPE_STR_MAX], s1[CV_SHAPE_STR_MAX];
        return cv_error_set(err, "concat: input %d is %s but input 1 is %s "
                            "(only axis %d may differ)", i + 1,
                            cv_shape_str(a->ndim, xs[i]->size, s1, sizeof s1),
                            cv_shape_str(a->ndim, a->size, s0, sizeof s0), axis);
      }
    out[axis] += xs[i]->size[axis];
  }
  return 0;
}

/* Copies between each part and its slice of the whole, one way or the other. */
static void concat_copy(int axis, int count, const cv_tensor *const *parts,
                        float *whole, const int64_t *wsize, int ndim,
                        int to_whole) {
  int64_t outer = cv_prod(wsize, 0, axis), inner = cv_prod(wsize, axis + 1, ndim);
  int64_t at = 0;
  for (int i = 0; i < count; i++) {
    int64_t len = parts[i]->size[axis] * inner;
    float *pd = cv_tensor_data(parts[i]);
    for (int64_t o = 0; o < outer; o++) {
      float *w = whole + o * wsize[axis] * inner + at;
      if (to_whole) memcpy(w, pd + o * len, (size_t)len * sizeof *w);
      else memcpy(pd + o * len, w, (size_t)len * sizeof *w);
    }
    at += len;
  }
}

int cv_concat_forward(int axis, int count, const cv_tensor *const *xs,
                      cv_tensor *y, cv_error *err) {
  int64_t out[CV_MAX_DIMS];
  if (cv_concat_shape(axis, count, xs, out, err) ||
      cv_check_shape("concat", "output", y, xs[0]->ndim, out, err))
    return -1;
  concat_copy(axis, count, xs, cv_tensor_data(y), y->size, y->ndim, 1);
  return 0;
}

int cv_concat_backward(int axis, int count, const cv_tensor *dy,
                       cv_tensor *const *dxs, cv_error *err) {
  if (count < 1) return cv_error_set(err, "concat: needs at least one input");
  if (cv_check_tensor("concat", "output gradient", dy, -1, err) ||
      cv_check_axis("concat", axis, dy->ndim, err))
    return -1;
  int64_t total = 0;
  for (int i = 0; i < count; i++) {
    if (cv_check_tensor("concat", "input gradient", dxs[i], dy->ndim, err))
      return -1;
    total += dxs[i]->size[axis];
  }
  if (total != dy->size[axis])
    return cv_error_set(err, "concat: the input gradients add up to %lld along "
                        "axis %d, the output gradient has %lld",
                        (long long)total, axis, (long long)dy->size[axis]);
  concat_copy(axis, count, (const cv_tensor *const *)dxs, cv_tensor_data(dy),
              dy->size, dy->ndim, 0);
  return 0;
}

static int check_all(const char *what, int count, const cv_tensor *const *ts,
                     const cv_tensor *ref, cv_error *err) {
  for (int i = 0; i < count; i++) {
    char name[48];
    snprintf(name, sizeof name, "%s %d", what, i + 1);
    if (cv_check_like("eltwise", name, ts[i], "input 1", ref, err)) return -1;
  }
  return 0;
}

int cv_eltwise_forward(cv_eltwise_op op, const double *coeffs, int count,
                       const cv_tensor *const *xs, cv_tensor *y, cv_error *err) {
  if (count < 1) return cv_error_set(err, "eltwise: needs at least one input");
  if (cv_check_tensor("eltwise", "input 1", xs[0], -1, err) ||
      check_all("input", count, xs, xs[0], err) ||
      cv_check_like("eltwise", "output", y, "input 1", xs[0], err))
    return -1;
  int64_t n = cv_tensor_numel(y);
  float *yd = cv_tensor_data(y);
  for (int k = 0; k < count; k++) {
    const float *a = cv_tensor_data(xs[k]);
    float c = coeffs ? (float)coeffs[k] : 1.0f;
    for (int64_t i = 0; i < n; i++) {
      if (k == 0) yd[i] = op == CV_ELTWISE_SUM ? c * a[i] : a[i];
      else if (op == CV_ELTWISE_SUM) yd[i] += c * a[i];
      else if (op == CV_ELTWISE_PROD) yd[i] *= a[i];
      else if (a[i] > yd[i]) yd[i] = a[i];
    }
  }
  return 0;
}

/* The gradient for input k at element i. */
static float eltwise_grad(cv_eltwise_op op, const double *coeffs, int count,
                          const float *const *x, int k, int64_t i, float g) {
  if (op == CV_ELTWISE_SUM) return coeffs ? (float)coeffs[k] * g : g;
  if (op == CV_ELTWISE_MAX) {
    int best = 0;
    for (int j = 1; j < count; j++) if (x[j][i] > x[best][i]) best = j;
    return best == k ? g : 0.0f;
  }
  float prod = 1.0f;  /* product of the others, exact even when x_k == 0 */
  for (int j = 0; j < count; j++) if (j != k) prod *= x[j][i];
  return g * prod;
}

int cv_eltwise_backward(cv_eltwise_op op, const double *coeffs, int count,
                        const cv_tensor *const *xs, const cv_tensor *dy,
                        cv_tensor *const *dxs, cv_error *err) {
  if (count < 1 || count > 64)
    return cv_error_set(err, "eltwise: takes 1 to 64 inputs, got %d", count);
  if (cv_check_tensor("eltwise", "input 1", xs[0], -1, err) ||
      check_all("input", count, xs, xs[0], err) ||
      cv_check_like("eltwise", "output gradient", dy, "input 1", xs[0], err))
    return -1;
  const float *x[64];
  for (int k = 0; k < count; k++) x[k] = cv_tensor_data(xs[k]);
  int64_t n = cv_tensor_numel(dy);
  const float *g = cv_tensor_data(dy);
  for (int k = 0; k < count; k++) {
    if (!dxs[k]) continue;
    if (cv_check_like("eltwise", "input gradient", dxs[k], "input 1", xs[0], err))
      return -1;
    float *d = cv_tensor_data(dxs[k]);
    for (int64_t i = 0; i < n; i++) d[i] = eltwise_grad(op, coeffs, count, x, k, i, g[i]);
  }
  return 0;
}

int cv_split_backward(int count, const cv_tensor *const *dys, cv_tensor *dx,
                      cv_error *err) {
  if (count < 1) return cv_error_set(err, "split: needs at least one output");
  if (cv_check_tensor("split", "input gradient", dx, -1, err)) return -1;
  for (int k = 0; k < count; k++) {
    char name[48];
    snprintf(name, sizeof name, "output gradient %d", k + 1);
    if (cv_check_like("split", name, dys[k], "input gradient", dx, err)) return -1;
  }
  int64_t n = cv_tensor_numel(dx);
  float *d = cv_tensor_data(dx);
  memcpy(d, cv_tensor_data(dys[0]), (size_t)n * sizeof *d);
  for (int k = 1; k < count; k++) {
    const float *g = cv_tensor_data(dys[k]);
    for (int64_t i = 0; i < n; i++) d[i] += g[i];
  }
  return 0;
}

/* ---- Slice: Concat's inverse ------------------------------------------- */

int cv_slice_sizes(int axis, int count, int n_points, const int64_t *points,
                   int ndim, const int64_t *size, int64_t *lens, cv_error *err) {
  if (count < 1) return cv_error_set(err, "slice: needs at least one output");
  if (cv_check_axis("slice", axis, ndim, err)) return -1;
  int64_t dim = size[axis];
  if (n_points == 0) {
    if (dim % count)
      return cv_error_set(err, "slice: axis %d has size %lld, which %d outputs "
                          "do not divide evenly (give slice_point)", axis,
                          (long long)dim, count);
    for (int k = 0; k < count; k++) lens[k] = dim / count;
    return 0;
  }
  if (n_points != count - 1)
    return cv_error_set(err, "slice: %d outputs need %d slice points, got %d",
                        count, count - 1, n_points);
  int64_t at = 0;
  for (int k = 0; k < count; k++) {
    int64_t end = k < n_points ? points[k] : dim;
    if (end <= at || end > dim)
      return cv_error_set(err, "slice: slice point %lld is out of order or "
                          "outside (%lld, %lld] along axis %d (size %lld)",
                          (long long)end, (long long)at, (long long)dim, axis,
                          (long long)dim);
    lens[k] = end - at;
    at = end;
  }
  return 0;
}

/* The parts add up to the whole along axis and match it elsewhere. */
static int slice_check(const char *whole_name, const cv_tensor *whole,
                       const char *part_name, int axis, int count,
                       const cv_tensor *const *parts, cv_error *err) {
  if (count < 1) return cv_error_set(err, "slice: needs at least one output");
  if (cv_check_tensor("slice", whole_name, whole, -1, err) ||
      cv_check_axis("slice", axis, whole->ndim, err))
    return -1;
  int64_t total = 0;
  for (int k = 0; k < count; k++) {
    char name[48];
    snprintf(name, sizeof name, "%s %d", part_name, k + 1);
    if (cv_check_tensor("slice", name, parts[k], whole->ndim, err)) return -1;
    for (int d = 0; d < whole->ndim; d++)
      if (d != axis && parts[k]->size[d] != whole->size[d]) {
        char a[CV_SHAPE_STR_MAX], b[CV_SHAPE_STR_MAX];
        return cv_error_set(err, "slice: %s is %s but the %s is %s (only axis "
                            "%d may differ)", name,
                            cv_shape_str(whole->ndim, parts[k]->size, a, sizeof a),
                            whole_name,
                            cv_shape_str(whole->ndim, whole->size, b, sizeof b),
                            axis);
      }
    total += parts[k]->size[axis];
  }
  if (total != whole->size[axis])
    return cv_error_set(err, "slice: the %ss add up to %lld along axis %d, the "
                        "%s has %lld", part_name, (long long)total, axis,
                        whole_name, (long long)whole->size[axis]);
  return 0;
}

int cv_slice_forward(int axis, int count, const cv_tensor *x,
                     cv_tensor *const *ys, cv_error *err) {
  if (slice_check("input", x, "output", axis, count,
                  (const cv_tensor *const *)ys, err))
    return -1;
  concat_copy(axis, count, (const cv_tensor *const *)ys, cv_tensor_data(x),
              x->size, x->ndim, 0);
  return 0;
}

int cv_slice_backward(int axis, int count, const cv_tensor *const *dys,
                      cv_tensor *dx, cv_error *err) {
  if (slice_check("input gradient", dx, "output gradient", axis, count, dys, err))
    return -1;
  concat_copy(axis, count, dys, cv_tensor_data(dx), dx->size, dx->ndim, 1);
  return 0;
}
