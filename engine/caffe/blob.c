/* blob.c — BlobProto <-> tensor, and freeing a blob. */
#include <stdlib.h>
#include <string.h>

#include "caffe_io.h"
#include "pbutil.h"

void cv_caffe_blob_free(Caffe__BlobProto *b) {
  if (b) protobuf_c_message_free_unpacked(&b->base, NULL);
}

/* The blob's shape: `shape`, else the legacy dims, else its value count. */
static int blob_shape(const Caffe__BlobProto *b, int *ndim, int64_t *size,
                      cv_error *err) {
  if (b->shape) {
    if (b->shape->n_dim > CV_MAX_DIMS)
      return cv_error_set(err, "blob has %zu dimensions; at most %d are "
                          "supported", b->shape->n_dim, CV_MAX_DIMS);
    *ndim = (int)b->shape->n_dim;
    for (int d = 0; d < *ndim; d++) size[d] = b->shape->dim[d];
  } else if (b->has_num || b->has_channels || b->has_height || b->has_width) {
    *ndim = 4;
    size[0] = b->num, size[1] = b->channels;
    size[2] = b->height, size[3] = b->width;
  } else {
    *ndim = 1;
    size[0] = (int64_t)(b->n_data ? b->n_data : b->n_double_data);
  }
  for (int d = 0; d < *ndim; d++)
    if (size[d] < 0)
      return cv_error_set(err, "blob dimension %d is negative (%lld)", d + 1,
                          (long long)size[d]);
  return 0;
}

/* The blob's shape into ndim/size, checked against its value count. */
static int checked_shape(const Caffe__BlobProto *b, int *ndim, int64_t *size,
                         cv_error *err) {
  if (blob_shape(b, ndim, size, err) < 0) return -1;
  /* Compare counts before allocating: a corrupt shape may be huge. */
  size_t have = b->n_data ? b->n_data : b->n_double_data;
  uint64_t count = 1;
  for (int d = 0; d < *ndim; d++)
    count = (size[d] && count > UINT64_MAX / (uint64_t)size[d])
                ? UINT64_MAX : count * (uint64_t)size[d];
  if (count != have) {
    char s[CV_SHAPE_STR_MAX];
    return cv_error_set(err, "blob shape %s holds %llu values but the blob "
                        "has %zu", cv_shape_str(*ndim, size, s, sizeof s),
                        (unsigned long long)count, have);
  }
  return 0;
}

cv_tensor *cv_caffe_blob_to_tensor(const Caffe__BlobProto *b, cv_error *err) {
  int ndim = 0;
  int64_t size[CV_MAX_DIMS];
  if (checked_shape(b, &ndim, size, err) < 0) return NULL;
  cv_tensor *t = cv_tensor_empty(ndim, size, err);
  if (!t) return NULL;
  float *dst = cv_tensor_data(t);
  size_t have = b->n_data ? b->n_data : b->n_double_data;
  if (b->n_data)
    memcpy(dst, b->data, have * sizeof(float));
  else
    for (size_t i = 0; i < have; i++) dst[i] = (float)b->double_data[i];
  return t;
}

cv_tensor *cv_caffe_blob_take_tensor(Caffe__BlobProto *b, cv_error *err) {
  cv_tensor *t;
  int ndim = 0;
  int64_t size[CV_MAX_DIMS];
  if (b->n_data > 0 && ((uintptr_t)b->data & 63) == 0) {
    /* The array came from the 64-byte aligned allocator (pbutil.h): it
     * becomes the tensor's storage as it is. */
    if (checked_shape(b, &ndim, size, err) < 0 ||
        !(t = cv_tensor_adopt(ndim, size, b->data, b->n_data * sizeof(float),
                              err)))
      return NULL;
    b->data = NULL, b->n_data = 0;
  } else if (!(t = cv_caffe_blob_to_tensor(b, err))) {
    return NULL;
  }
  free(b->data), b->data = NULL, b->n_data = 0;
  free(b->double_data), b->double_data = NULL, b->n_double_data = 0;
  free(b->diff), b->diff = NULL, b->n_diff = 0;
  free(b->double_diff), b->double_diff = NULL, b->n_double_diff = 0;
  return t;
}

Caffe__BlobProto *cv_caffe_blob_from_tensor(const cv_tensor *t, cv_error *err) {
  Caffe__BlobProto *b = cv_pb_new(&caffe__blob_proto__descriptor);
  Caffe__BlobShape *s = cv_pb_new(&caffe__blob_shape__descriptor);
  size_t count = (size_t)cv_tensor_numel(t);
  if (b) b->shape = s;
  if (b && s) {
    s->dim = malloc((t->ndim ? t->ndim : 1) * sizeof *s->dim);
    b->data = malloc((count ? count : 1) * sizeof(float));
  }
  if (!b || !s || !s->dim || !b->data) {
    if (b) cv_caffe_blob_free(b);
    else free(s);
    cv_error_set(err, "out of memory making a blob of %zu values", count);
    return NULL;
  }
  s->n_dim = (size_t)t->ndim;
  for (int d = 0; d < t->ndim; d++) s->dim[d] = t->size[d];
  b->n_data = count;
  cv_tensor *c = cv_tensor_contiguous((cv_tensor *)t, err);
  if (!c) {
    cv_caffe_blob_free(b);
    return NULL;
  }
  memcpy(b->data, cv_tensor_data(c), count * sizeof(float));
  cv_tensor_release(c);
  return b;
}
