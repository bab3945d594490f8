/* join.c — cat and stack: tensors copied side by side into one. */
#include "join.h"

#include <string.h>

#include "internal.h"

/* Every tensor must have ts[0]'s shape, except along dim when dim >= 0. */
static int check_shapes(int n, cv_tensor *const *ts, int dim,
                        const char *name, cv_error *err) {
  if (n < 1) return cv_error_set(err, "%s: expects at least one tensor", name);
  const cv_tensor *t0 = ts[0];
  for (int i = 1; i < n; i++) {
    const cv_tensor *t = ts[i];
    int same = t->ndim == t0->ndim;
    for (int d = 0; same && d < t->ndim; d++)
      if (d != dim && t->size[d] != t0->size[d]) same = 0;
    if (same) continue;
    char a[CV_SHAPE_STR_MAX], b[CV_SHAPE_STR_MAX];
    cv_shape_str(t->ndim, t->size, a, sizeof a);
    cv_shape_str(t0->ndim, t0->size, b, sizeof b);
    if (dim >= 0)
      return cv_error_set(err, "%s: tensor %d has shape %s, which does not "
                          "match tensor 1's shape %s outside dimension %d",
                          name, i + 1, a, b, dim + 1);
    return cv_error_set(err, "%s: tensor %d has shape %s, tensor 1 has %s",
                        name, i + 1, a, b);
  }
  return 0;
}

cv_tensor *cv_tensor_cat(int n, cv_tensor *const *ts, int dim, cv_error *err) {
  if (check_shapes(n, ts, dim, "cat", err)) return NULL;
  if (cv_tensor_check_dim(ts[0], dim, "cat", err)) return NULL;
  int64_t size[CV_MAX_DIMS];
  memcpy(size, ts[0]->size, sizeof size);
  size[dim] = 0;
  for (int i = 0; i < n; i++) size[dim] += ts[i]->size[dim];
  cv_tensor *out = cv_tensor_empty(ts[0]->ndim, size, err);
  if (!out) return NULL;
  int64_t at = 0;
  for (int i = 0; i < n; i++) {
    /* A borrowed header over out's slice for tensor i. */
    cv_tensor part = *out;
    part.size[dim] = ts[i]->size[dim];
    part.offset += at * out->stride[dim];
    at += ts[i]->size[dim];
    if (cv_tensor_copy(&part, ts[i], err)) {
      cv_tensor_release(out);
      return NULL;
    }
  }
  return out;
}

cv_tensor *cv_tensor_stack(int n, cv_tensor *const *ts, int dim,
                           cv_error *err) {
  if (check_shapes(n, ts, -1, "stack", err)) return NULL;
  const cv_tensor *t0 = ts[0];
  if (dim < 0 || dim > t0->ndim || t0->ndim >= CV_MAX_DIMS) {
    cv_error_set(err, "stack: dimension %d out of range for stacking %d-d "
                 "tensors", dim + 1, t0->ndim);
    return NULL;
  }
  int64_t size[CV_MAX_DIMS];
  for (int d = 0, k = 0; d <= t0->ndim; d++)
    size[d] = d == dim ? n : t0->size[k++];
  cv_tensor *out = cv_tensor_empty(t0->ndim + 1, size, err);
  if (!out) return NULL;
  for (int i = 0; i < n; i++) {
    /* out with dim selected at i, as a borrowed header. */
    cv_tensor part = *out;
    part.ndim = t0->ndim;
    part.offset += i * out->stride[dim];
    for (int d = 0, k = 0; d <= t0->ndim; d++) {
      if (d == dim) continue;
      part.size[k] = out->size[d];
      part.stride[k++] = out->stride[d];
    }
    if (cv_tensor_copy(&part, ts[i], err)) {
      cv_tensor_release(out);
      return NULL;
    }
  }
  return out;
}
