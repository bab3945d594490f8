/* colormap.c — values to colours: the maps, value ranges, colorize. */
#include <math.h>
#include <string.h>

#include "render.h"

/* Each map is a few evenly spaced anchor colours, linearly interpolated.
 * Viridis: its published stops at eighths. Diverging: ColorBrewer's RdBu,
 * turned so that low is blue, with its white-ish middle at exactly 0.5. */
typedef struct {
  const char *name;
  int count;
  unsigned char rgb[9][3];
} colormap_def;

static const colormap_def maps[CV_CMAP_COUNT] = {
    [CV_CMAP_GRAY] = {"gray", 2, {{0, 0, 0}, {255, 255, 255}}},
    [CV_CMAP_VIRIDIS] = {"viridis", 9,
                         {{0x44, 0x01, 0x54}, {0x48, 0x28, 0x78}, {0x3e, 0x4a, 0x89},
                          {0x31, 0x68, 0x8e}, {0x26, 0x82, 0x8e}, {0x1f, 0x9e, 0x89},
                          {0x35, 0xb7, 0x79}, {0x6d, 0xcd, 0x59}, {0xfd, 0xe7, 0x25}}},
    [CV_CMAP_DIVERGING] = {"diverging", 7,
                           {{0x21, 0x66, 0xac}, {0x67, 0xa9, 0xcf}, {0xd1, 0xe5, 0xf0},
                            {0xf7, 0xf7, 0xf7}, {0xfd, 0xdb, 0xc7}, {0xef, 0x8a, 0x62},
                            {0xb2, 0x18, 0x2b}}},
};

const char *cv_colormap_name(cv_colormap map) {
  return map >= 0 && map < CV_CMAP_COUNT ? maps[map].name : "?";
}

int cv_colormap_find(const char *name) {
  for (int i = 0; i < CV_CMAP_COUNT; i++)
    if (strcmp(name, maps[i].name) == 0) return i;
  return -1;
}

void cv_colormap_rgb(cv_colormap map, float u, float rgb[3]) {
  const colormap_def *m = &maps[map];
  if (!(u > 0)) u = 0; /* NaN too */
  if (u > 1) u = 1;
  float pos = u * (float)(m->count - 1);
  int k = (int)pos;
  if (k >= m->count - 1) k = m->count - 2;
  float f = pos - (float)k;
  for (int c = 0; c < 3; c++) {
    float a = m->rgb[k][c], b = m->rgb[k + 1][c];
    rgb[c] = roundf(a + (b - a) * f);
  }
}

int cv_render_range(const cv_tensor *x, float *lo, float *hi, cv_error *err) {
  if (x->ndim < 1)
    return cv_error_set(err, "range: expected a tensor of items, got a scalar");
  cv_tensor *c = cv_tensor_contiguous((cv_tensor *)x, err);
  if (!c) return -1;
  int64_t n = x->size[0], per = n ? cv_tensor_numel(x) / n : 0;
  const float *d = cv_tensor_data(c);
  for (int64_t i = 0; i < n; i++) {
    float a = INFINITY, b = -INFINITY;
    for (int64_t j = 0; j < per; j++) {
      float v = d[i * per + j];
      if (v < a) a = v; /* comparisons with NaN are false: skipped */
      if (v > b) b = v;
    }
    lo[i] = a <= b ? a : 0;
    hi[i] = a <= b ? b : 0;
  }
  cv_tensor_release(c);
  return 0;
}

/* Item of one channel through the map. */
static void colorize_map(const float *src, float *dst, int64_t hw, cv_colormap map,
                         float lo, float hi) {
  float flat = map == CV_CMAP_DIVERGING ? 0.5f : 0.0f;
  float inv = hi > lo ? 1.0f / (hi - lo) : 0;
  for (int64_t p = 0; p < hw; p++) {
    float rgb[3];
    cv_colormap_rgb(map, hi > lo ? (src[p] - lo) * inv : flat, rgb);
    dst[p] = rgb[0];
    dst[hw + p] = rgb[1];
    dst[2 * hw + p] = rgb[2];
  }
}

/* Item of three channels, each scaled linearly to 0..255. */
static void colorize_rgb(const float *src, float *dst, int64_t hw, float lo,
                         float hi) {
  float k = hi > lo ? 255.0f / (hi - lo) : 0;
  for (int64_t p = 0; p < 3 * hw; p++) {
    float v = (src[p] - lo) * k;
    dst[p] = v > 0 ? (v < 255 ? roundf(v) : 255) : 0;
  }
}

cv_tensor *cv_render_colorize(const cv_tensor *x, cv_colormap map,
                              const float *lo, const float *hi, cv_error *err) {
  char s[CV_SHAPE_STR_MAX];
  if (x->ndim != 4 || (x->size[1] != 1 && x->size[1] != 3)) {
    cv_error_set(err, "colorize: expected N x C x H x W with C = 1 or 3, got %s",
                 cv_shape_str(x->ndim, x->size, s, sizeof s));
    return NULL;
  }
  if (map < 0 || map >= CV_CMAP_COUNT) {
    cv_error_set(err, "colorize: unknown colormap %d", (int)map);
    return NULL;
  }
  int64_t n = x->size[0], ch = x->size[1], hw = x->size[2] * x->size[3];
  int64_t size[4] = {n, 3, x->size[2], x->size[3]};
  cv_tensor *c = cv_tensor_contiguous((cv_tensor *)x, err);
  cv_tensor *out = c ? cv_tensor_empty(4, size, err) : NULL;
  if (!out) {
    cv_tensor_release(c);
    return NULL;
  }
  const float *src = cv_tensor_data(c);
  float *dst = cv_tensor_data(out);
#pragma omp parallel for if (n * hw > 65536)
  for (int64_t i = 0; i < n; i++) {
    if (ch == 1) colorize_map(src + i * hw, dst + i * 3 * hw, hw, map, lo[i], hi[i]);
    else colorize_rgb(src + i * 3 * hw, dst + i * 3 * hw, hw, lo[i], hi[i]);
  }
  cv_tensor_release(c);
  return out;
}
