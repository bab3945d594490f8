/* view.c — views: new shapes and strides over the same storage. */
#include <stdlib.h>
#include <string.h>

#include "tensor.h"

#include "internal.h"

/* ---- views ------------------------------------------------------------ */

static int infer_size(const cv_tensor *t, int ndim, const int64_t *size,
                      int64_t *out, cv_error *err) {
  if (ndim < 0 || ndim > CV_MAX_DIMS)
    return cv_error_set(err, "view: a tensor has 0 to %d dimensions, not %d",
                        CV_MAX_DIMS, ndim);
  int64_t known = 1, numel = cv_tensor_numel(t);
  int infer = -1;
  for (int d = 0; d < ndim; d++) {
    if (size[d] == -1) {
      if (infer >= 0)
        return cv_error_set(err, "view: only one size may be -1");
      infer = d;
    } else if (size[d] < 0) {
      return cv_error_set(err, "view: size %lld is negative",
                          (long long)size[d]);
    } else {
      if (size[d] > 0 && known > CV_MAX_NUMEL / size[d]) goto mismatch;
      known *= size[d];
    }
    out[d] = size[d];
  }
  if (infer >= 0) {
    if (known == 0 || numel % known != 0) goto mismatch;
    out[infer] = numel / known;
  } else if (known != numel) {
    goto mismatch;
  }
  return 0;
mismatch : {
  char a[CV_SHAPE_STR_MAX], b[CV_SHAPE_STR_MAX];
  return cv_error_set(err, "view: shape %s is invalid for a tensor of shape %s "
                      "(%lld elements)",
                      cv_shape_str(ndim, size, b, sizeof b),
                      cv_shape_str(t->ndim, t->size, a, sizeof a),
                      (long long)numel);
}
}

/* Strides for viewing t as `size`, when the layout allows it (the rule of
 * PyTorch's computeStride: each group of old dims that merges must be
 * contiguous among itself). Returns 0 and fills stride, or -1. */
static int view_strides(const cv_tensor *t, int ndim, const int64_t *size,
                        int64_t *stride) {
  if (cv_tensor_numel(t) == 0 || t->ndim == 0) {
    int64_t st = 1;
    for (int d = ndim - 1; d >= 0; d--) {
      stride[d] = st;
      st *= size[d] ? size[d] : 1;
    }
    return 0;
  }
  int view_d = ndim - 1;
  int64_t chunk_base_stride = t->stride[t->ndim - 1];
  int64_t tensor_numel = 1, view_numel = 1;
  for (int td = t->ndim - 1; td >= 0; td--) {
    tensor_numel *= t->size[td];
    if (td == 0 || (t->size[td - 1] != 1 &&
                    t->stride[td - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 &&
             (view_numel < tensor_numel || size[view_d] == 1)) {
        stride[view_d] = view_numel * chunk_base_stride;
        view_numel *= size[view_d];
        view_d--;
      }
      if (view_numel != tensor_numel) return -1;
      if (td > 0) {
        chunk_base_stride = t->stride[td - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  return view_d == -1 ? 0 : -1;
}

cv_tensor *cv_tensor_view(cv_tensor *t, int ndim, const int64_t *size,
                          cv_error *err) {
  int64_t sz[CV_MAX_DIMS], st[CV_MAX_DIMS];
  if (infer_size(t, ndim, size, sz, err)) return NULL;
  if (view_strides(t, ndim, sz, st)) {
    char a[CV_SHAPE_STR_MAX], b[CV_SHAPE_STR_MAX];
    cv_error_set(err, "view: a non-contiguous tensor of shape %s cannot be "
                 "viewed as %s (call contiguous() or reshape)",
                 cv_shape_str(t->ndim, t->size, a, sizeof a),
                 cv_shape_str(ndim, sz, b, sizeof b));
    return NULL;
  }
  return cv_tensor_view_of(t, ndim, sz, st, t->offset, err);
}

cv_tensor *cv_tensor_reshape(cv_tensor *t, int ndim, const int64_t *size,
                             cv_error *err) {
  int64_t sz[CV_MAX_DIMS], st[CV_MAX_DIMS];
  if (infer_size(t, ndim, size, sz, err)) return NULL;
  if (view_strides(t, ndim, sz, st) == 0)
    return cv_tensor_view_of(t, ndim, sz, st, t->offset, err);
  cv_tensor *c = cv_tensor_clone(t, err);
  if (!c) return NULL;
  cv_tensor *v = cv_tensor_view(c, ndim, sz, err);
  cv_tensor_release(c);
  return v;
}

cv_tensor *cv_tensor_transpose(cv_tensor *t, int d0, int d1, cv_error *err) {
  if (cv_tensor_check_dim(t, d0, "transpose", err) || cv_tensor_check_dim(t, d1, "transpose", err))
    return NULL;
  int64_t sz[CV_MAX_DIMS], st[CV_MAX_DIMS];
  memcpy(sz, t->size, sizeof sz);
  memcpy(st, t->stride, sizeof st);
  sz[d0] = t->size[d1], sz[d1] = t->size[d0];
  st[d0] = t->stride[d1], st[d1] = t->stride[d0];
  return cv_tensor_view_of(t, t->ndim, sz, st, t->offset, err);
}

cv_tensor *cv_tensor_permute(cv_tensor *t, const int *order, cv_error *err) {
  int64_t sz[CV_MAX_DIMS], st[CV_MAX_DIMS];
  int seen[CV_MAX_DIMS] = {0};
  for (int d = 0; d < t->ndim; d++) {
    int o = order[d];
    if (o < 0 || o >= t->ndim || seen[o])
      return cv_error_set(err, "permute: the order must name each of the %d "
                          "dimensions once", t->ndim),
             NULL;
    seen[o] = 1;
    sz[d] = t->size[o];
    st[d] = t->stride[o];
  }
  return cv_tensor_view_of(t, t->ndim, sz, st, t->offset, err);
}

cv_tensor *cv_tensor_narrow(cv_tensor *t, int dim, int64_t start,
                            int64_t length, cv_error *err) {
  if (cv_tensor_check_dim(t, dim, "narrow", err)) return NULL;
  if (start < 0 || length < 0 || start + length > t->size[dim]) {
    cv_error_set(err, "narrow: positions %lld to %lld are out of range for "
                 "dimension %d of size %lld",
                 (long long)start + 1, (long long)(start + length), dim + 1,
                 (long long)t->size[dim]);
    return NULL;
  }
  int64_t sz[CV_MAX_DIMS];
  memcpy(sz, t->size, sizeof sz);
  sz[dim] = length;
  return cv_tensor_view_of(t, t->ndim, sz, t->stride,
                 t->offset + start * t->stride[dim], err);
}

cv_tensor *cv_tensor_select(cv_tensor *t, int dim, int64_t i, cv_error *err) {
  if (cv_tensor_check_dim(t, dim, "select", err)) return NULL;
  if (i < 0 || i >= t->size[dim]) {
    cv_error_set(err, "index %lld is out of range for dimension %d of size "
                 "%lld", (long long)i + 1, dim + 1, (long long)t->size[dim]);
    return NULL;
  }
  int64_t sz[CV_MAX_DIMS], st[CV_MAX_DIMS];
  int n = 0;
  for (int d = 0; d < t->ndim; d++) {
    if (d == dim) continue;
    sz[n] = t->size[d];
    st[n++] = t->stride[d];
  }
  return cv_tensor_view_of(t, n, sz, st, t->offset + i * t->stride[dim], err);
}

cv_tensor *cv_tensor_unsqueeze(cv_tensor *t, int dim, cv_error *err) {
  if (dim < 0 || dim > t->ndim || t->ndim >= CV_MAX_DIMS) {
    cv_error_set(err, "unsqueeze: dimension %d out of range for a %d-d tensor",
                 dim + 1, t->ndim);
    return NULL;
  }
  int64_t sz[CV_MAX_DIMS], st[CV_MAX_DIMS];
  int n = 0;
  for (int d = 0; d <= t->ndim; d++) {
    if (d == dim) {
      sz[n] = 1;
      st[n++] = d < t->ndim ? t->stride[d] * t->size[d] : 1;
    }
    if (d < t->ndim) {
      sz[n] = t->size[d];
      st[n++] = t->stride[d];
    }
  }
  return cv_tensor_view_of(t, n, sz, st, t->offset, err);
}

cv_tensor *cv_tensor_squeeze(cv_tensor *t, int dim, cv_error *err) {
  if (dim >= 0 && cv_tensor_check_dim(t, dim, "squeeze", err)) return NULL;
  int64_t sz[CV_MAX_DIMS], st[CV_MAX_DIMS];
  int n = 0;
  for (int d = 0; d < t->ndim; d++) {
    if (t->size[d] == 1 && (dim < 0 || dim == d)) continue;
    sz[n] = t->size[d];
    st[n++] = t->stride[d];
  }
  return cv_tensor_view_of(t, n, sz, st, t->offset, err);
}

cv_tensor *cv_tensor_expand(cv_tensor *t, int ndim, const int64_t *size,
                            cv_error *err) {
  char a[CV_SHAPE_STR_MAX], b[CV_SHAPE_STR_MAX];
  if (ndim < t->ndim || ndim > CV_MAX_DIMS) goto bad;
  int64_t sz[CV_MAX_DIMS], st[CV_MAX_DIMS];
  int lead = ndim - t->ndim;
  for (int d = 0; d < ndim; d++) {
    int od = d - lead;
    int64_t want = size[d];
    if (od < 0) {
      if (want < 0) goto bad;
      sz[d] = want, st[d] = 0;
    } else if (want == -1 || want == t->size[od]) {
      sz[d] = t->size[od], st[d] = t->stride[od];
    } else if (t->size[od] == 1 && want >= 0) {
      sz[d] = want, st[d] = 0;
    } else {
      goto bad;
    }
  }
  return cv_tensor_view_of(t, ndim, sz, st, t->offset, err);
bad:
  cv_error_set(err, "expand: a tensor of shape %s cannot be expanded to %s",
               cv_shape_str(t->ndim, t->size, a, sizeof a),
               cv_shape_str(ndim, size, b, sizeof b));
  return NULL;
}

cv_tensor *cv_tensor_contiguous(cv_tensor *t, cv_error *err) {
  if (cv_tensor_is_contiguous(t)) return cv_tensor_retain(t);
  return cv_tensor_clone(t, err);
}

cv_tensor *cv_tensor_clone(const cv_tensor *t, cv_error *err) {
  cv_tensor *c = cv_tensor_empty_like(t, err);
  if (c && cv_tensor_copy(c, t, err)) {
    cv_tensor_release(c);
    return NULL;
  }
  return c;
}

cv_tensor *cv_tensor_alias(cv_tensor *t, cv_error *err) {
  return cv_tensor_view_of(t, t->ndim, t->size, t->stride, t->offset, err);
}
