/* batchnorm.c — BatchNorm (Caffe's: normalisation only, with its
 * scale-factor blob) and Scale (per-channel gamma, optional beta):
 * forward and backward. Channels are axis 1; x is N x C x (anything). */
#include <math.h>

#include "check.h"
#include "layers.h"

typedef struct {
  int64_t n, c, inner;
} nci;

static nci layout(const cv_tensor *x) {
  nci g = {x->size[0], x->ndim > 1 ? x->size[1] : 1, cv_prod(x->size, 2, x->ndim)};
  return g;
}

/* Per-channel mean and biased variance of x over N and the inner dims. */
static void batch_stats(const nci *g, const float *x, float *mean, float *var) {
#pragma omp parallel for if (g->n * g->c * g->inner > 32768)
  for (int64_t c = 0; c < g->c; c++) {
    double s = 0, s2 = 0;
    for (int64_t n = 0; n < g->n; n++) {
      const float *p = x + (n * g->c + c) * g->inner;
      for (int64_t i = 0; i < g->inner; i++) s += p[i];
    }
    double m = s / (double)(g->n * g->inner);
    for (int64_t n = 0; n < g->n; n++) {
      const float *p = x + (n * g->c + c) * g->inner;
      for (int64_t i = 0; i < g->inner; i++) s2 += (p[i] - m) * (p[i] - m);
    }
    mean[c] = (float)m;
    var[c] = (float)(s2 / (double)(g->n * g->inner));
  }
}

/* Caffe's stored statistics divided by the scale factor (0 stays 0). */
static int global_stats(const cv_tensor *mean, const cv_tensor *var,
                        const cv_tensor *factor, int64_t c, float *m, float *v,
                        cv_error *err) {
  int64_t one = 1;
  if (cv_check_shape("batchnorm", "mean", mean, 1, &c, err) ||
      cv_check_shape("batchnorm", "variance", var, 1, &c, err) ||
      (factor && cv_check_shape("batchnorm", "scale factor", factor, 1, &one, err)))
    return -1;
  float s = factor ? cv_tensor_data(factor)[0] : 1.0f;
  float f = s == 0.0f ? 0.0f : 1.0f / s;
  for (int64_t i = 0; i < c; i++) {
    m[i] = cv_tensor_data(mean)[i] * f;
    v[i] = cv_tensor_data(var)[i] * f;
  }
  return 0;
}

int cv_batchnorm_forward(const cv_batchnorm_params *p, const cv_tensor *x,
                         const cv_tensor *mean, const cv_tensor *var,
                         const cv_tensor *factor, cv_tensor *y,
                         cv_tensor *save_mean, cv_tensor *save_var,
                         cv_error *err) {
  if (cv_check_tensor("batchnorm", "input", x, -1, err) ||
      cv_check_like("batchnorm", "output", y, "input", x, err))
    return -1;
  if (x->ndim < 2) return cv_error_set(err, "batchnorm: input must have channels (axis 2)");
  nci g = layout(x);
  if (cv_check_shape("batchnorm", "saved mean", save_mean, 1, &g.c, err) ||
      cv_check_shape("batchnorm", "saved variance", save_var, 1, &g.c, err))
    return -1;
  float *m = cv_tensor_data(save_mean), *v = cv_tensor_data(save_var);
  const float *xd = cv_tensor_data(x);
  if (p->use_global_stats) {
    if (global_stats(mean, var, factor, g.c, m, v, err)) return -1;
  } else {
    batch_stats(&g, xd, m, v);
  }
  float *yd = cv_tensor_data(y);
  for (int64_t n = 0; n < g.n; n++)
    for (int64_t c = 0; c < g.c; c++) {
      float r = (float)(1.0 / sqrt((double)v[c] + p->eps));
      int64_t base = (n * g.c + c) * g.inner;
      for (int64_t i = 0; i < g.inner; i++) yd[base + i] = (xd[base + i] - m[c]) * r;
    }
  return 0;
}

/* Global stats: dx = dy / sqrt(var + eps). Batch stats (Caffe's formula):
 * dx = (dy - mean(dy) - y mean(dy y)) / sqrt(var + eps), means per channel. */
int cv_batchnorm_backward(const cv_batchnorm_params *p, const cv_tensor *y,
                          const cv_tensor *save_var, const cv_tensor *dy,
                          cv_tensor *dx, cv_error *err) {
  if (cv_check_tensor("batchnorm", "output", y, -1, err) ||
      cv_check_like("batchnorm", "output gradient", dy, "output", y, err) ||
      cv_check_like("batchnorm", "input gradient", dx, "output", y, err))
    return -1;
  if (y->ndim < 2) return cv_error_set(err, "batchnorm: input must have channels (axis 2)");
  nci g = layout(y);
  if (cv_check_shape("batchnorm", "saved variance", save_var, 1, &g.c, err))
    return -1;
  const float *yd = cv_tensor_data(y), *gd = cv_tensor_data(dy);
  const float *v = cv_tensor_data(save_var);
  float *d = cv_tensor_data(dx);
  double cnt = (double)(g.n * g.inner);
  for (int64_t c = 0; c < g.c; c++) {
    double sg = 0, sgy = 0;
    for (int64_t n = 0; n < g.n && !p->use_global_stats; n++)
      for (int64_t i = 0; i < g.inner; i++) {
        int64_t j = (n * g.c + c) * g.inner + i;
        sg += gd[j];
        sgy += (double)gd[j] * yd[j];
      }
    float r = (float)(1.0 / sqrt((double)v[c] + p->eps));
    float mg = (float)(sg / cnt), mgy = (float)(sgy / cnt);
    for (int64_t n = 0; n < g.n; n++)
      for (int64_t i = 0; i < g.inner; i++) {
        int64_t j = (n * g.c + c) * g.inner + i;
        d[j] = (gd[j] - mg - yd[j] * mgy) * r;
      }
  }
  return 0;
}

int cv_batchnorm_update(double maf, int64_t m, const cv_tensor *save_mean,
                        const cv_tensor *save_var, cv_tensor *mean,
                        cv_tensor *var, cv_tensor *factor, cv_error *err) {
  int64_t one = 1;
  if (cv_check_tensor("batchnorm", "saved mean", save_mean, 1, err)) return -1;
  int64_t c = save_mean->size[0];
  if (cv_check_shape("batchnorm", "saved variance", save_var, 1, &c, err) ||
      cv_check_shape("batchnorm", "mean", mean, 1, &c, err) ||
      cv_check_shape("batchnorm", "variance", var, 1, &c, err) ||
      cv_check_shape("batchnorm", "scale factor", factor, 1, &one, err))
    return -1;
  double unbias = m > 1 ? (double)m / (double)(m - 1) : 1.0;
  float *md = cv_tensor_data(mean), *vd = cv_tensor_data(var);
  const float *sm = cv_tensor_data(save_mean), *sv = cv_tensor_data(save_var);
  for (int64_t i = 0; i < c; i++) {
    md[i] = (float)(sm[i] + maf * md[i]);
    vd[i] = (float)(unbias * sv[i] + maf * vd[i]);
  }
  float *f = cv_tensor_data(factor);
  f[0] = (float)(maf * f[0] + 1.0);
  return 0;
}

/* gamma covers x's dims 1 .. 1+gamma->ndim; returns its element count. */
static int scale_check(const cv_tensor *x, const cv_tensor *gamma, cv_error *err) {
  if (cv_check_tensor("scale", "input", x, -1, err) ||
      cv_check_tensor("scale", "scale", gamma, -1, err))
    return -1;
  int ok = x->ndim >= 1 + gamma->ndim;
  for (int d = 0; ok && d < gamma->ndim; d++) ok = gamma->size[d] == x->size[1 + d];
  if (ok) return 0;
  char sx[CV_SHAPE_STR_MAX], sg[CV_SHAPE_STR_MAX];
  return cv_error_set(err, "scale: scale %s does not match input %s from axis 2",
                      cv_shape_str(gamma->ndim, gamma->size, sg, sizeof sg),
                      cv_shape_str(x->ndim, x->size, sx, sizeof sx));
}

int cv_scale_forward(const cv_tensor *x, const cv_tensor *gamma,
                     const cv_tensor *beta, cv_tensor *y, cv_error *err) {
  if (scale_check(x, gamma, err) ||
      (beta && cv_check_like("scale", "bias", beta, "scale", gamma, err)) ||
      cv_check_like("scale", "output", y, "input", x, err))
    return -1;
  int64_t c = cv_tensor_numel(gamma), n = x->size[0];
  int64_t inner = cv_prod(x->size, 1 + gamma->ndim, x->ndim);
  const float *xd = cv_tensor_data(x), *gd = cv_tensor_data(gamma);
  const float *bd = beta ? cv_tensor_data(beta) : NULL;
  float *yd = cv_tensor_data(y);
  for (int64_t i = 0; i < n * c; i++) {
    float s = gd[i % c], b = bd ? bd[i % c] : 0.0f;
    for (int64_t j = 0; j < inner; j++) yd[i * inner + j] = xd[i * inner + j] * s + b;
  }
  return 0;
}

int cv_scale_backward(const cv_tensor *x, const cv_tensor *gamma,
                      const cv_tensor *dy, cv_tensor *dx, cv_tensor *dgamma,
                      cv_tensor *dbeta, cv_error *err) {
  if (scale_check(x, gamma, err) ||
      cv_check_like("scale", "output gradient", dy, "input", x, err) ||
      (dx && cv_check_like("scale", "input gradient", dx, "input", x, err)) ||
      (dgamma && cv_check_like("scale", "scale gradient", dgamma, "scale", gamma, err)) ||
      (dbeta && cv_check_like("scale", "bias gradient", dbeta, "scale", gamma, err)))
    return -1;
  int64_t c = cv_tensor_numel(gamma), n = x->size[0];
  int64_t inner = cv_prod(x->size, 1 + gamma->ndim, x->ndim);
  const float *xd = cv_tensor_data(x), *gd = cv_tensor_data(gamma);
  const float *g = cv_tensor_data(dy);
  for (int64_t i = 0; i < n * c; i++) {
    double sg = 0, sgx = 0;
    for (int64_t j = 0; j < inner; j++) {
      int64_t k = i * inner + j;
      if (dx) cv_tensor_data(dx)[k] = g[k] * gd[i % c];
      sg += g[k];
      sgx += (double)g[k] * xd[k];
    }
    if (dgamma) cv_tensor_data(dgamma)[i % c] += (float)sgx;
    if (dbeta) cv_tensor_data(dbeta)[i % c] += (float)sg;
  }
  return 0;
}
