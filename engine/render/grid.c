/* grid.c — many small pictures laid out as one. */
#include "render.h"

/* Larger sides than this are almost surely a mistake (a 4096-map layer at
 * scale 8), and PNG viewers give up on them anyway. */
#define CV_RENDER_MAX_SIDE 32768

static int check_tile(const cv_tensor *rgb, int64_t cols, int64_t pad,
                      int64_t scale, cv_error *err) {
  char s[CV_SHAPE_STR_MAX];
  if (rgb->ndim != 4 || rgb->size[1] != 3)
    return cv_error_set(err, "tile: expected N x 3 x H x W pictures, got %s",
                        cv_shape_str(rgb->ndim, rgb->size, s, sizeof s));
  if (cols < 1) return cv_error_set(err, "tile: cols must be >= 1, got %lld", (long long)cols);
  if (pad < 0) return cv_error_set(err, "tile: pad must be >= 0, got %lld", (long long)pad);
  if (scale < 1)
    return cv_error_set(err, "tile: scale must be >= 1, got %lld", (long long)scale);
  /* Bounded before any product of sizes can overflow. */
  if (scale > CV_RENDER_MAX_SIDE || pad > CV_RENDER_MAX_SIDE)
    return cv_error_set(err, "tile: scale %lld or pad %lld exceeds %d", (long long)scale,
                        (long long)pad, CV_RENDER_MAX_SIDE);
  return 0;
}

/* Copies picture i into its cell, each pixel as a scale x scale block. */
static void place(const float *src, int64_t h, int64_t w, float *dst, int64_t oh,
                  int64_t ow, int64_t top, int64_t left, int64_t scale) {
  for (int c = 0; c < 3; c++) {
    for (int64_t y = 0; y < h * scale; y++) {
      const float *row = src + (c * h + y / scale) * w;
      float *out = dst + (c * oh + top + y) * ow + left;
      for (int64_t x = 0; x < w * scale; x++) out[x] = row[x / scale];
    }
  }
}

cv_tensor *cv_render_tile(const cv_tensor *rgb, int64_t cols, int64_t pad,
                          const float pad_rgb[3], int64_t scale, cv_error *err) {
  if (check_tile(rgb, cols, pad, scale, err)) return NULL;
  int64_t n = rgb->size[0], h = rgb->size[2], w = rgb->size[3];
  if (cols > n) cols = n > 0 ? n : 1;
  int64_t rows = n ? (n + cols - 1) / cols : 0;
  int64_t cell_h = h * scale, cell_w = w * scale;
  /* Check before multiplying further: sizes come from users. */
  if (cell_h > CV_RENDER_MAX_SIDE || cell_w > CV_RENDER_MAX_SIDE ||
      rows * (cell_h + pad) + pad > CV_RENDER_MAX_SIDE ||
      cols * (cell_w + pad) + pad > CV_RENDER_MAX_SIDE) {
    cv_error_set(err, "tile: %lld pictures of %lldx%lld at scale %lld in %lld columns "
                 "would exceed %d pixels on a side", (long long)n, (long long)h,
                 (long long)w, (long long)scale, (long long)cols, CV_RENDER_MAX_SIDE);
    return NULL;
  }
  int64_t size[3] = {3, rows * (cell_h + pad) + pad, cols * (cell_w + pad) + pad};
  cv_tensor *c = cv_tensor_contiguous((cv_tensor *)rgb, err);
  cv_tensor *out = c ? cv_tensor_empty(3, size, err) : NULL;
  if (!out) {
    cv_tensor_release(c);
    return NULL;
  }
  float *dst = cv_tensor_data(out);
  int64_t plane = size[1] * size[2];
  for (int ch = 0; ch < 3; ch++)
    for (int64_t p = 0; p < plane; p++) dst[ch * plane + p] = pad_rgb[ch];
  const float *src = cv_tensor_data(c);
#pragma omp parallel for if (n * cell_h * cell_w > 65536)
  for (int64_t i = 0; i < n; i++)
    place(src + i * 3 * h * w, h, w, dst, size[1], size[2],
          pad + (i / cols) * (cell_h + pad), pad + (i % cols) * (cell_w + pad), scale);
  cv_tensor_release(c);
  return out;
}
