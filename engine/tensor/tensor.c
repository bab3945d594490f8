/* tensor.c — storage, life, headers over a storage, look, fill and copy,
 * and the strided walk the op files share. */
#include "tensor.h"

#include "autograd.h"
#include "internal.h"
#include "memory.h"
#include "storage_cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t next_storage_id(void) {
  static uint64_t last;
  return __atomic_add_fetch(&last, 1, __ATOMIC_RELAXED);
}

static cv_storage *storage_new(int64_t numel, int zero, cv_error *err) {
  cv_storage *s = calloc(1, sizeof *s);
  if (!s) {
    cv_error_set(err, "out of memory allocating a tensor header");
    return NULL;
  }
  size_t bytes = cv_memory_round((size_t)(numel > 0 ? numel : 1) * sizeof(float));
  s->data = cv_storage_cache_take(bytes);
  if (!s->data) s->data = cv_memory_alloc(bytes);
  if (!s->data) {
    free(s);
    cv_error_set(err, "out of memory allocating %lld floats",
                 (long long)numel);
    return NULL;
  }
  if (zero) memset(s->data, 0, bytes);
  s->numel = numel;
  s->bytes = bytes;
  s->refcount = 1;
  s->owns = 1;
  s->id = next_storage_id();
  return s;
}

static void (*release_hook)(uint64_t id);

void cv_storage_set_release_hook(void (*hook)(uint64_t id)) { release_hook = hook; }

static void storage_release(cv_storage *s) {
  if (!s || --s->refcount > 0) return;
  if (s->has_derived && release_hook) release_hook(s->id);
  if (s->owns) cv_storage_cache_give(s->data, s->bytes);
  free(s);
}

static void set_contiguous_strides(cv_tensor *t) {
  int64_t st = 1;
  for (int d = t->ndim - 1; d >= 0; d--) {
    t->stride[d] = st;
    st *= t->size[d];
  }
}

static int check_sizes(int ndim, const int64_t *size, int64_t *numel,
                       cv_error *err) {
  if (ndim < 0 || ndim > CV_MAX_DIMS)
    return cv_error_set(err, "a tensor has 0 to %d dimensions, not %d",
                        CV_MAX_DIMS, ndim);
  /* The product of the nonzero sizes bounds every stride, even when another
   * size is 0 and the tensor is empty. */
  int64_t span = 1, n = 1;
  for (int d = 0; d < ndim; d++) {
    if (size[d] < 0)
      return cv_error_set(err, "size %lld of dimension %d is negative",
                          (long long)size[d], d + 1);
    if (size[d] > 0 && span > CV_MAX_NUMEL / size[d])
      return cv_error_set(err, "a tensor of that shape is too large");
    if (size[d] > 0) span *= size[d];
    n *= size[d];
  }
  *numel = n;
  return 0;
}

/* A header with no storage yet: the shape of a new tensor or view. */
static cv_tensor *header_new(int ndim, const int64_t *size, cv_error *err) {
  cv_tensor *t = calloc(1, sizeof *t);
  if (!t) {
    cv_error_set(err, "out of memory allocating a tensor header");
    return NULL;
  }
  t->ndim = ndim;
  if (ndim) memcpy(t->size, size, sizeof(int64_t) * ndim);
  t->refcount = 1;
  return t;
}

static cv_tensor *tensor_alloc(int ndim, const int64_t *size, int zero,
                               cv_error *err) {
  int64_t numel;
  if (check_sizes(ndim, size, &numel, err)) return NULL;
  cv_tensor *t = header_new(ndim, size, err);
  if (!t) return NULL;
  t->storage = storage_new(numel, zero, err);
  if (!t->storage) {
    free(t);
    return NULL;
  }
  set_contiguous_strides(t);
  return t;
}

cv_tensor *cv_tensor_new(int ndim, const int64_t *size, cv_error *err) {
  return tensor_alloc(ndim, size, 1, err);
}

cv_tensor *cv_tensor_empty(int ndim, const int64_t *size, cv_error *err) {
  return tensor_alloc(ndim, size, 0, err);
}

cv_tensor *cv_tensor_adopt(int ndim, const int64_t *size, float *data,
                           size_t bytes, cv_error *err) {
  int64_t numel;
  if (check_sizes(ndim, size, &numel, err)) return NULL;
  if (bytes < (size_t)numel * sizeof(float)) {
    char s[CV_SHAPE_STR_MAX];
    cv_error_set(err, "adopt: %zu bytes cannot hold a tensor of shape %s",
                 bytes, cv_shape_str(ndim, size, s, sizeof s));
    return NULL;
  }
  cv_tensor *t = header_new(ndim, size, err);
  cv_storage *st = t ? calloc(1, sizeof *st) : NULL;
  if (!st) {
    if (t) cv_error_set(err, "out of memory allocating a tensor header");
    free(t);
    return NULL;
  }
  st->data = data;
  st->numel = numel;
  st->bytes = bytes;
  st->refcount = 1;
  st->owns = 1;
  st->id = next_storage_id();
  t->storage = st;
  set_contiguous_strides(t);
  return t;
}

cv_tensor *cv_tensor_zeros_like(const cv_tensor *t, cv_error *err) {
  return tensor_alloc(t->ndim, t->size, 1, err);
}

cv_tensor *cv_tensor_empty_like(const cv_tensor *t, cv_error *err) {
  return tensor_alloc(t->ndim, t->size, 0, err);
}

cv_tensor *cv_tensor_scalar(float v, cv_error *err) {
  cv_tensor *t = tensor_alloc(0, NULL, 0, err);
  if (t) t->storage->data[0] = v;
  return t;
}

cv_tensor *cv_tensor_retain(cv_tensor *t) {
  if (t) t->refcount++;
  return t;
}

void cv_tensor_release(cv_tensor *t) {
  if (!t || --t->refcount > 0) return;
  storage_release(t->storage);
  cv_tensor_release(t->grad);
  cv_node_release(t->node);
  free(t);
}

/* A view: same storage, new shape and strides. */
cv_tensor *cv_tensor_view_of(cv_tensor *t, int ndim, const int64_t *size,
                             const int64_t *stride, int64_t offset,
                             cv_error *err) {
  cv_tensor *v = header_new(ndim, size, err);
  if (!v) return NULL;
  if (ndim) memcpy(v->stride, stride, sizeof(int64_t) * ndim);
  v->offset = offset;
  v->storage = t->storage;
  t->storage->refcount++;
  return v;
}

/* ---- look ------------------------------------------------------------ */

int64_t cv_tensor_numel(const cv_tensor *t) {
  int64_t n = 1;
  for (int d = 0; d < t->ndim; d++) n *= t->size[d];
  return n;
}

int cv_tensor_is_contiguous(const cv_tensor *t) {
  int64_t st = 1;
  for (int d = t->ndim - 1; d >= 0; d--) {
    if (t->size[d] != 1 && t->stride[d] != st) return 0;
    st *= t->size[d];
  }
  return 1;
}

int cv_tensor_same_shape(const cv_tensor *a, const cv_tensor *b) {
  if (a->ndim != b->ndim) return 0;
  for (int d = 0; d < a->ndim; d++)
    if (a->size[d] != b->size[d]) return 0;
  return 1;
}

float *cv_tensor_data(const cv_tensor *t) {
  return t->storage->data + t->offset;
}

float *cv_tensor_at(const cv_tensor *t, const int64_t *index) {
  int64_t off = t->offset;
  for (int d = 0; d < t->ndim; d++) off += index[d] * t->stride[d];
  return t->storage->data + off;
}

const char *cv_shape_str(int ndim, const int64_t *size, char *buf, size_t n) {
  if (ndim == 0) {
    snprintf(buf, n, "scalar");
    return buf;
  }
  size_t used = 0;
  buf[0] = '\0';
  for (int d = 0; d < ndim && used < n; d++)
    used += (size_t)snprintf(buf + used, n - used, d ? "x%lld" : "%lld",
                             (long long)size[d]);
  return buf;
}

/* ---- iteration -------------------------------------------------------- */

void cv_tensor_foreach(int count, cv_tensor **ts, cv_run_fn fn, void *ctx) {
  const cv_tensor *t0 = ts[0];
  int nd = t0->ndim;
  float *ptr[4];
  int64_t inner[4];
  for (int k = 0; k < count; k++) ptr[k] = cv_tensor_data(ts[k]);
  if (cv_tensor_numel(t0) == 0) return;
  if (nd == 0) {
    for (int k = 0; k < count; k++) inner[k] = 1;
    fn(1, ptr, inner, ctx);
    return;
  }
  /* Merge trailing dims that are contiguous in every tensor into one run. */
  int last = nd - 1;
  int64_t run = t0->size[last];
  for (int k = 0; k < count; k++) inner[k] = ts[k]->stride[last];
  while (last > 0) {
    int ok = 1;
    for (int k = 0; k < count; k++)
      if (ts[k]->stride[last - 1] != ts[k]->stride[last] * ts[k]->size[last])
        ok = 0;
    if (!ok) break;
    last--;
    run *= t0->size[last];
  }
  /* Odometer over the outer dims [0, last). */
  int64_t idx[CV_MAX_DIMS] = {0};
  for (;;) {
    float *p[4];
    for (int k = 0; k < count; k++) {
      int64_t off = 0;
      for (int d = 0; d < last; d++) off += idx[d] * ts[k]->stride[d];
      p[k] = ptr[k] + off;
    }
    fn(run, p, inner, ctx);
    int d = last - 1;
    while (d >= 0 && ++idx[d] == t0->size[d]) idx[d--] = 0;
    if (d < 0) break;
  }
}

/* ---- fill and copy ---------------------------------------------------- */

static void fill_run(int64_t n, float **p, const int64_t *st, void *ctx) {
  float v = *(const float *)ctx, *d = p[0];
  if (st[0] == 1)
    for (int64_t i = 0; i < n; i++) d[i] = v;
  else
    for (int64_t i = 0; i < n; i++) d[i * st[0]] = v;
}

void cv_tensor_bump_version(cv_tensor *t) { t->storage->version++; }

void cv_tensor_fill(cv_tensor *t, float v) {
  cv_tensor_bump_version(t);
  cv_tensor_foreach(1, &t, fill_run, &v);
}

static void copy_run(int64_t n, float **p, const int64_t *st, void *ctx) {
  (void)ctx;
  float *d = p[0], *s = p[1];
  if (st[0] == 1 && st[1] == 1)
    memmove(d, s, (size_t)n * sizeof(float));
  else
    for (int64_t i = 0; i < n; i++) d[i * st[0]] = s[i * st[1]];
}

int cv_tensor_copy(cv_tensor *dst, const cv_tensor *src, cv_error *err) {
  cv_tensor *s = cv_tensor_expand((cv_tensor *)src, dst->ndim, dst->size, err);
  if (!s) return cv_error_prefix(err, "copy");
  cv_tensor *both[2] = {dst, s};
  cv_tensor_bump_version(dst);
  cv_tensor_foreach(2, both, copy_run, NULL);
  cv_tensor_release(s);
  return 0;
}

static void add_run(int64_t n, float **p, const int64_t *st, void *ctx) {
  (void)ctx;
  float *d = p[0], *s = p[1];
  if (st[0] == 1 && st[1] == 1)
    for (int64_t i = 0; i < n; i++) d[i] += s[i];
  else
    for (int64_t i = 0; i < n; i++) d[i * st[0]] += s[i * st[1]];
}

int cv_tensor_add_into(cv_tensor *dst, const cv_tensor *src, cv_error *err) {
  cv_tensor *s = cv_tensor_expand((cv_tensor *)src, dst->ndim, dst->size, err);
  if (!s) return cv_error_prefix(err, "add");
  cv_tensor *both[2] = {dst, s};
  cv_tensor_bump_version(dst);
  cv_tensor_foreach(2, both, add_run, NULL);
  cv_tensor_release(s);
  return 0;
}

/* ---- shapes ----------------------------------------------------------- */

int cv_broadcast_shape(int na, const int64_t *sa, int nb, const int64_t *sb,
                       int *out_ndim, int64_t *out_size, cv_error *err) {
  int n = na > nb ? na : nb;
  for (int d = 0; d < n; d++) {
    int da = d - (n - na), db = d - (n - nb);
    int64_t x = da >= 0 ? sa[da] : 1, y = db >= 0 ? sb[db] : 1;
    if (x != y && x != 1 && y != 1) {
      char a[CV_SHAPE_STR_MAX], b[CV_SHAPE_STR_MAX];
      return cv_error_set(err, "shapes %s and %s do not broadcast",
                          cv_shape_str(na, sa, a, sizeof a),
                          cv_shape_str(nb, sb, b, sizeof b));
    }
    out_size[d] = x == 1 ? y : x;
  }
  *out_ndim = n;
  return 0;
}
