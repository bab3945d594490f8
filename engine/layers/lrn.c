/* lrn.c — local response normalisation, ACROSS_CHANNELS and WITHIN_CHANNEL
 * (Caffe's scaling): forward, backward. Work is split into (image, channel)
 * planes so that batch 1 runs on every thread too. The scale is recomputed
 * in backward from x rather than kept between the passes. */
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

typedef struct {
  int64_t c, h, w, hw;
} lrn_geom;

/* Window sum of v around every pixel of plane ch of one image (C x H x W):
 * over `size` channels (ACROSS) or a size x size square (WITHIN), zeros
 * beyond the edges. sq: sum squares of v instead of v. */
static void window_sum(const cv_lrn_params *p, const lrn_geom *g,
                       const float *v, int64_t ch, int sq, float *out) {
  int64_t half = (p->size - 1) / 2;
  memset(out, 0, (size_t)g->hw * sizeof *out);
  if (p->region == CV_LRN_ACROSS) {
    for (int64_t d = ch - half; d <= ch + half; d++) {
      if (d < 0 || d >= g->c) continue;
      const float *vd = v + d * g->hw;
      if (sq) for (int64_t i = 0; i < g->hw; i++) out[i] += vd[i] * vd[i];
      else for (int64_t i = 0; i < g->hw; i++) out[i] += vd[i];
    }
    return;
  }
  const float *vc = v + ch * g->hw;
  for (int64_t i = 0; i < g->h; i++)
    for (int64_t u = i - half; u <= i + half; u++) {
      if (u < 0 || u >= g->h) continue;
      for (int64_t j = 0; j < g->w; j++)
        for (int64_t t = j - half; t <= j + half; t++)
          if (t >= 0 && t < g->w) {
            float e = vc[u * g->w + t];
            out[i * g->w + j] += sq ? e * e : e;
          }
    }
}

/* scale = k + alpha/n * window sum of squares (n = size, or size^2 and
 * k = 1 within a channel, as Caffe's composition of layers does). */
static void plane_scale(const cv_lrn_params *p, const lrn_geom *g,
                        const float *x, int64_t ch, float *s) {
  int within = p->region == CV_LRN_WITHIN;
  float n = within ? (float)(p->size * p->size) : (float)p->size;
  float a = (float)p->alpha / n, k = within ? 1.0f : (float)p->k;
  window_sum(p, g, x, ch, 1, s);
  for (int64_t i = 0; i < g->hw; i++) s[i] = k + a * s[i];
}

/* s^-beta, with CaffeNet's beta = 0.75 done by square roots (vectorises). */
static void neg_pow(float *s, int64_t n, double beta) {
  if (beta == 0.75) {
    for (int64_t i = 0; i < n; i++) s[i] = 1.0f / sqrtf(s[i] * sqrtf(s[i]));
    return;
  }
  float nb = (float)-beta;
  for (int64_t i = 0; i < n; i++) s[i] = powf(s[i], nb);
}

int cv_lrn_forward(const cv_lrn_params *p, const cv_tensor *x, cv_tensor *y,
                   cv_workspace *ws, cv_error *err) {
  if (lrn_check(p, x, y, "output", err)) return -1;
  lrn_geom g = {x->size[1], x->size[2], x->size[3], x->size[2] * x->size[3]};
  int64_t planes = x->size[0] * g.c, per = g.c * g.hw;
  float *scale = cv_workspace_reserve(ws, (size_t)(planes * g.hw) + 1, err);
  if (!scale) return cv_error_prefix(err, "lrn");
  const float *xd = cv_tensor_data(x);
  float *yd = cv_tensor_data(y);
#pragma omp parallel for if (planes * g.hw * p->size > 32768)
  for (int64_t i = 0; i < planes; i++) {
    float *s = scale + i * g.hw;
    plane_scale(p, &g, xd + (i / g.c) * per, i % g.c, s);
    neg_pow(s, g.hw, p->beta);
    for (int64_t j = 0; j < g.hw; j++) yd[i * g.hw + j] = xd[i * g.hw + j] * s[j];
  }
  return 0;
}

/* dx = dy s^-b - 2 a b / n * x * (window sum of dy y / s), the windows being
 * symmetric (odd size). Pass 1 fills s^-b and ratio = dy y / s per plane;
 * pass 2 needs the ratios of neighbouring planes. */
int cv_lrn_backward(const cv_lrn_params *p, const cv_tensor *x,
                    const cv_tensor *dy, cv_tensor *dx, cv_workspace *ws,
                    cv_error *err) {
  if (lrn_check(p, x, dy, "output gradient", err) ||
      cv_check_like("lrn", "input gradient", dx, "input", x, err))
    return -1;
  lrn_geom g = {x->size[1], x->size[2], x->size[3], x->size[2] * x->size[3]};
  int64_t planes = x->size[0] * g.c, per = g.c * g.hw, total = planes * g.hw;
  float *buf = cv_workspace_reserve(ws, (size_t)(2 * total) + 1, err);
  if (!buf) return cv_error_prefix(err, "lrn");
  float *ratio = buf + total;
  const float *xd = cv_tensor_data(x), *gd = cv_tensor_data(dy);
  float *dxd = cv_tensor_data(dx);
  double n = p->region == CV_LRN_ACROSS ? p->size : (double)p->size * p->size;
  float f = (float)(2.0 * p->alpha * p->beta / n);
  int par = total * p->size > 32768;
  (void)par; /* read only by the pragma: unused in builds without OpenMP */
#pragma omp parallel if (par)
  {
#pragma omp for
    for (int64_t i = 0; i < planes; i++) {
      float *s = buf + i * g.hw, *r = ratio + i * g.hw;
      const float *xi = xd + i * g.hw, *gi = gd + i * g.hw;
      plane_scale(p, &g, xd + (i / g.c) * per, i % g.c, s);
      for (int64_t j = 0; j < g.hw; j++) {
        float sb = p->beta == 0.75 ? 1.0f / sqrtf(s[j] * sqrtf(s[j]))
                                   : powf(s[j], (float)-p->beta);
        r[j] = gi[j] * xi[j] * sb / s[j];
        dxd[i * g.hw + j] = gi[j] * sb;
      }
    }
#pragma omp for
    for (int64_t i = 0; i < planes; i++) {
      float *acc = buf + i * g.hw;  /* this plane's scale is no longer needed */
      window_sum(p, &g, ratio + (i / g.c) * per, i % g.c, 0, acc);
      for (int64_t j = 0; j < g.hw; j++) dxd[i * g.hw + j] -= f * xd[i * g.hw + j] * acc[j];
    }
  }
  return 0;
}
