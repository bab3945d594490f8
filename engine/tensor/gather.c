/* gather.c — samples into a batch, with Caffe's mirror. */
#include "gather.h"

#include <string.h>

static int check_shapes(const cv_tensor *src, int64_t n, const cv_tensor *out,
                        cv_error *err) {
  char a[CV_SHAPE_STR_MAX], b[CV_SHAPE_STR_MAX];
  int ok = src->ndim >= 1 && out->ndim == src->ndim && out->size[0] == n &&
           cv_tensor_is_contiguous(src) && cv_tensor_is_contiguous(out);
  for (int d = 1; ok && d < src->ndim; d++) ok = src->size[d] == out->size[d];
  if (!ok)
    return cv_error_set(err, "gather: %lld samples of %s do not fit a "
                        "contiguous batch of shape %s", (long long)n,
                        cv_shape_str(src->ndim, src->size, a, sizeof a),
                        cv_shape_str(out->ndim, out->size, b, sizeof b));
  return 0;
}

int cv_tensor_gather(const cv_tensor *src, int64_t n, const int64_t *index,
                     const unsigned char *flip, cv_tensor *out,
                     cv_error *err) {
  if (check_shapes(src, n, out, err)) return -1;
  for (int64_t i = 0; i < n; i++)
    if (index[i] < 0 || index[i] >= src->size[0])
      return cv_error_set(err, "gather: sample %lld is out of range (the "
                          "source has %lld)", (long long)index[i] + 1,
                          (long long)src->size[0]);
  int64_t per = src->size[0] ? cv_tensor_numel(src) / src->size[0] : 0;
  int64_t w = src->ndim > 1 ? src->size[src->ndim - 1] : 1;
  const float *from = cv_tensor_data(src);
  float *to = cv_tensor_data(out);
  for (int64_t i = 0; i < n; i++) {
    const float *s = from + index[i] * per;
    float *d = to + i * per;
    if (!flip || !flip[i] || w == 1) {
      memcpy(d, s, sizeof(float) * (size_t)per);
      continue;
    }
    for (int64_t r = 0; r < per; r += w)  /* each row, reversed */
      for (int64_t x = 0; x < w; x++) d[r + x] = s[r + w - 1 - x];
  }
  return 0;
}
