/* resize.c — resampling image planes with stb_image_resize, and mirroring. */
#include "resize.h"

#include <string.h>

#define STB_IMAGE_RESIZE_IMPLEMENTATION
#define STBIRDEF static
/* stb checks that downsampling weights sum to about 1 and then renormalizes
 * them anyway; some ratios (480 -> 256 with the tent) trip the check, which
 * must never abort the process. */
#define STBIR_ASSERT(x) ((void)0)
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wshadow"
#endif
#include <stb/stb_image_resize.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

/* The largest side either way: stb takes int sizes and strides. */
#define MAX_SIDE ((int64_t)1 << 20)

static stbir_filter stb_filter(cv_resize_filter f) {
  switch (f) {
  case CV_RESIZE_BOX: return STBIR_FILTER_BOX;
  case CV_RESIZE_CUBIC: return STBIR_FILTER_CATMULLROM;
  case CV_RESIZE_MITCHELL: return STBIR_FILTER_MITCHELL;
  default: return STBIR_FILTER_TRIANGLE;
  }
}

static int check_image(const cv_tensor *img, int64_t h, int64_t w,
                       cv_error *err) {
  char s[CV_SHAPE_STR_MAX];
  if (img->ndim != 3)
    return cv_error_set(err, "resize: the image must be CxHxW, not %s",
                        cv_shape_str(img->ndim, img->size, s, sizeof s));
  if (img->size[1] < 1 || img->size[2] < 1 || img->size[1] > MAX_SIDE ||
      img->size[2] > MAX_SIDE)
    return cv_error_set(err, "resize: cannot resize an image of shape %s",
                        cv_shape_str(img->ndim, img->size, s, sizeof s));
  if (h < 1 || w < 1 || h > MAX_SIDE || w > MAX_SIDE)
    return cv_error_set(err, "resize: the new size %lldx%lld must be 1 to %lld "
                        "on each side", (long long)h, (long long)w,
                        (long long)MAX_SIDE);
  return 0;
}

cv_tensor *cv_image_resize(const cv_tensor *img, int64_t h, int64_t w,
                           cv_resize_filter filter, cv_error *err) {
  if (check_image(img, h, w, err)) return NULL;
  cv_tensor *src = cv_tensor_clone(img, err); /* contiguous planes */
  if (!src) return NULL;
  int64_t size[3] = {img->size[0], h, w};
  cv_tensor *dst = cv_tensor_empty(3, size, err);
  if (!dst) {
    cv_tensor_release(src);
    return NULL;
  }
  int ih = (int)img->size[1], iw = (int)img->size[2];
  stbir_filter f = stb_filter(filter);
  for (int64_t c = 0; c < size[0]; c++) {
    const float *in = cv_tensor_data(src) + c * ih * iw;
    float *out = cv_tensor_data(dst) + c * h * w;
    if (!stbir_resize_float_generic(in, iw, ih, 0, out, (int)w, (int)h, 0, 1,
                                    STBIR_ALPHA_CHANNEL_NONE, 0,
                                    STBIR_EDGE_CLAMP, f, STBIR_COLORSPACE_LINEAR,
                                    NULL)) {
      cv_tensor_release(src);
      cv_tensor_release(dst);
      cv_error_set(err, "resize: out of memory resizing %dx%d to %lldx%lld",
                   ih, iw, (long long)h, (long long)w);
      return NULL;
    }
  }
  cv_tensor_release(src);
  return dst;
}

cv_tensor *cv_image_mirror(const cv_tensor *img, cv_error *err) {
  if (img->ndim < 1) {
    cv_error_set(err, "mirror: the image has no dimensions");
    return NULL;
  }
  cv_tensor *out = cv_tensor_clone(img, err);
  if (!out) return NULL;
  int64_t w = img->size[img->ndim - 1];
  int64_t rows = w ? cv_tensor_numel(out) / w : 0;
  float *p = cv_tensor_data(out);
  for (int64_t r = 0; r < rows; r++, p += w)
    for (int64_t i = 0, j = w - 1; i < j; i++, j--) {
      float t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
  return out;
}
