/* lrn.c — local response normalisation, ACROSS_CHANNELS and WITHIN_CHANNEL
 * (Caffe's scaling): forward, backward. The scale is recomputed in backward
 * from x rather than kept, so the caller keeps nothing between the passes. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "layers.h"

cv_lrn_params cv_lrn_params_default(void) {
  cv_lrn_params p = {CV_LRN_ACROSS, 5, 1.0, 0.75, 1.0};
  return p;
}

static int lrn_check(const cv_lrn_params *p, const cv_tensor *x,
                     const cv_tensor *y, const char *yname, cv_error *err) {
  if (p->size < 1 || p->size % 2 == 0)
    return cv_error_set(err, "lrn: size %d must be odd and positive", p->size);
  if (cv_check_tensor("lrn", "input", x, 4, err) ||
      cv_check_like("lrn", yname, y, "input", x, err))
    return -1;
  return 0;
}

/* scale over one image (C x HW): k + alpha/size * sum of squares across
 * the channel window. Plane by plane so the inner loop runs over pixels. */
static void across_scale(const cv_lrn_params *p, int64_t c, int64_t hw,
                         const float *x, float *scale) {
  int64_t half = (p->size - 1) / 2;
  float a = (float)(p->alpha / p->size), k = (float)p->k;
  for (int64_t ch = 0; ch < c; ch++) {
    float *s = scale + ch * hw;
    for (int64_t i = 0; i < hw; i++) s[i] = 0.0f;
    for (int64_t d = ch - half; d <= ch + half; d++) {
      if (d < 0 || d >= c) continue;
      const float *xd = x + d * hw;
      for (int64_t i = 0; i < hw; i++) s[i] += xd[i] * xd[i];
    }
    for (int64_t i = 0; i < hw; i++) s[i] = k + a * s[i];
  }
}

/* scale over one plane (H x W): 1 + alpha/size^2 * window sum of squares. */
static void within_scale(const cv_lrn_params *p, int64_t h, int64_t w,
                         const float *x, float *scale) {
  int64_t half = (p->size - 1) / 2;
  double a = p->alpha / ((double)p->size * p->size);
  for (int64_t i = 0; i < h; i++)
    for (int64_t j = 0; j < w; j++) {
      double s = 0;
      for (int64_t u = i - half; u <= i + half; u++) {
        if (u < 0 || u >= h) continue;
        for (int64_t v = j - half; v <= j + half; v++)
          if (v >= 0 && v < w) s += (double)x[u * w + v] * x[u * w + v];
      }
      scale[i * w + j] = (float)(1.0 + a * s);
    }
}

/* The scale of every element of one image (C x H x W). */
static void image_scale(const cv_lrn_params *p, const int64_t *size,
                        const float *x, float *scale) {
  int64_t hw = size[2] * size[3];
  if (p->region == CV_LRN_ACROSS) {
    across_scale(p, size[1], hw, x, scale);
    return;
  }
  for (int64_t c = 0; c < size[1]; c++)
    within_scale(p, size[2], size[3], x + c * hw, scale + c * hw);
}

/* y = x * s^-beta. CaffeNet's beta 0.75 as two square roots, which
 * vectorize where powf does not. */
static void apply_scale(double beta, const float *x, const float *s, float *y,
                        int64_t n) {
  if (beta == 0.75) {
    for (int64_t j = 0; j < n; j++) {
      float r = sqrtf(s[j]);
      y[j] = x[j] / (r * sqrtf(r));
    }
    return;
  }
  float nb = (float)-beta;
  for (int64_t j = 0; j < n; j++) y[j] = x[j] * powf(s[j], nb);
}

int cv_lrn_forward(const cv_lrn_params *p, const cv_tensor *x, cv_tensor *y,
                   cv_workspace *ws, cv_error *err) {
  if (lrn_check(p, x, y, "output", err)) return -1;
  int64_t per = cv_prod(x->size, 1, 4), n = x->size[0];
  float *scale = cv_workspace_reserve(ws, (size_t)(per * n) + 1, err);
  if (!scale) return cv_error_prefix(err, "lrn");
  const float *xd = cv_tensor_data(x);
  float *yd = cv_tensor_data(y);
#pragma omp parallel for if (per * n > 4096)
  for (int64_t i = 0; i < n; i++) {
    float *s = scale + i * per;
    image_scale(p, x->size, xd + i * per, s);
    apply_scale(p->beta, xd + i * per, s, yd + i * per, per);
  }
  return 0;
}

/* dx for one image, given scale: dx = dy s^-b - 2ab/n x * sum over the
 * windows containing the element of dy y / s (windows are symmetric). */
static void image_backward(const cv_lrn_params *p, const int64_t *size,
                           const float *x, const float *dy, float *s,
                           float *ratio, float *dx) {
  int64_t per = cv_prod(size, 1, 4);
  float nb = (float)-p->beta;
  for (int64_t j = 0; j < per; j++) {
    float sb = powf(s[j], nb);
    dx[j] = dy[j] * sb;
    ratio[j] = dy[j] * x[j] * sb / s[j];  /* dy * y / s */
  }
  /* Sum ratio over each element's window (into s, no longer needed). */
  int64_t hw = size[2] * size[3];
  if (p->region == CV_LRN_ACROSS) {
    int64_t half = (p->size - 1) / 2;
    for (int64_t c = 0; c < size[1]; c++) {
      float *sc = s + c * hw;
      for (int64_t i = 0; i < hw; i++) sc[i] = 0.0f;
      for (int64_t d = c - half; d <= c + half; d++) {
        if (d < 0 || d >= size[1]) continue;
        for (int64_t i = 0; i < hw; i++) sc[i] += ratio[d * hw + i];
      }
    }
  } else {
    int64_t half = (p->size - 1) / 2;
    for (int64_t c = 0; c < size[1]; c++)
      for (int64_t i = 0; i < size[2]; i++)
        for (int64_t j = 0; j < size[3]; j++) {
          double acc = 0;
          for (int64_t u = i - half; u <= i + half; u++)
            for (int64_t v = j - half; v <= j + half; v++)
              if (u >= 0 && u < size[2] && v >= 0 && v < size[3])
                acc += ratio[c * hw + u * size[3] + v];
          s[c * hw + i * size[3] + j] = (float)acc;
        }
  }
  double n = p->region == CV_LRN_ACROSS ? p->size : (double)p->size * p->size;
  float f = (float)(2.0 * p->alpha * p->beta / n);
  for (int64_t j = 0; j < per; j++) dx[j] -= f * x[j] * s[j];
}

int cv_lrn_backward(const cv_lrn_params *p, const cv_tensor *x,
                    const cv_tensor *dy, cv_tensor *dx, cv_workspace *ws,
                    cv_error *err) {
  if (lrn_check(p, x, dy, "output gradient", err) ||
      cv_check_like("lrn", "input gradient", dx, "input", x, err))
    return -1;
  int64_t per = cv_prod(x->size, 1, 4), n = x->size[0];
  float *buf = cv_workspace_reserve(ws, (size_t)(2 * per * n) + 1, err);
  if (!buf) return cv_error_prefix(err, "lrn");
  const float *xd = cv_tensor_data(x), *dyd = cv_tensor_data(dy);
  float *dxd = cv_tensor_data(dx);
#pragma omp parallel for if (per * n > 4096)
  for (int64_t i = 0; i < n; i++) {
    float *s = buf + 2 * i * per;
    image_scale(p, x->size, xd + i * per, s);
    image_backward(p, x->size, xd + i * per, dyd + i * per, s, s + per,
                   dxd + i * per);
  }
  return 0;
}
