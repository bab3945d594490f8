/* linear.c — InnerProduct (axis, transpose): shape check, forward, backward.
 * One row or a few (a small batch) go through linear_skinny.c: the layer is
 * memory-bound there, and its kernels read the weights at full speed where
 * a GEMM of a few columns does not (nor did OpenBLAS's sgemv on a CPU it
 * takes for an old one). Their sums for a row are the same whatever the
 * batch up to SKINNY_FORWARD_ROWS. Transposed weights at one row go
 * through sgemv. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>

#include "check.h"
#include "kernel_choice.h"
#include "layers.h"
#include "tensor/gemm.h"
#include "linear_skinny.h"
#include "simd.h"

/* Up to these many rows the skinny kernels beat sgemm (CaffeNet's fc6 and
 * fc7 on 2 threads: forward 2x faster at 16 rows, still ahead at 32; the
 * weight gradient 1.5x at 16 rows, behind at 32). */
#define SKINNY_FORWARD_ROWS 32
#define SKINNY_WEIGHT_GRAD_ROWS 16

typedef struct {
  int64_t m, k, n;  /* x: M x K, w: N x K (K x N transposed), y: M x N */
} linear_geom;

int cv_linear_shape(const cv_linear_params *p, const cv_tensor *x,
                    const cv_tensor *w, int *out_ndim, int64_t *out,
                    cv_error *err) {
  if (cv_check_tensor("linear", "input", x, -1, err) ||
      cv_check_tensor("linear", "weight", w, 2, err) ||
      cv_check_axis("linear", p->axis, x->ndim, err))
    return -1;
  int64_t k = cv_prod(x->size, p->axis, x->ndim);
  int64_t wk = w->size[p->transpose ? 0 : 1], n = w->size[p->transpose ? 1 : 0];
  if (wk != k) {
    char sx[CV_SHAPE_STR_MAX], sw[CV_SHAPE_STR_MAX];
    return cv_error_set(err, "linear: weight %s%s expects %lld inputs but "
                        "input %s has %lld from axis %d on",
                        cv_shape_str(2, w->size, sw, sizeof sw),
                        p->transpose ? " (transposed)" : "", (long long)wk,
                        cv_shape_str(x->ndim, x->size, sx, sizeof sx),
                        (long long)k, p->axis);
  }
  for (int d = 0; d < p->axis; d++) out[d] = x->size[d];
  out[p->axis] = n;
  *out_ndim = p->axis + 1;
  return 0;
}

/* Notes the kernel that serves op on this geometry (kernel_choice.h). */
static void note(const char *op, const cv_linear_params *p, const linear_geom *g,
                 const char *kernel) {
  char shape[96];
  snprintf(shape, sizeof shape, "%lldx%lld -> %lld%s", (long long)g->m,
           (long long)g->k, (long long)g->n, p->transpose ? " transposed" : "");
  cv_kernel_choice_note(op, shape, kernel);
}

static int linear_setup(const cv_linear_params *p, const cv_tensor *x,
                        const cv_tensor *w, const cv_tensor *y,
                        const char *yname, linear_geom *g, cv_error *err) {
  int64_t out[CV_MAX_DIMS];
  int nd;
  if (cv_linear_shape(p, x, w, &nd, out, err) ||
      cv_check_shape("linear", yname, y, nd, out, err))
    return -1;
  g->m = cv_prod(x->size, 0, p->axis);
  g->k = cv_prod(x->size, p->axis, x->ndim);
  g->n = out[p->axis];
  return 0;
}

int cv_linear_forward(const cv_linear_params *p, const cv_tensor *x,
                      const cv_tensor *w, const cv_tensor *b, cv_tensor *y,
                      cv_error *err) {
  linear_geom g;
  if (linear_setup(p, x, w, y, "output", &g, err)) return -1;
  if (b && cv_check_shape("linear", "bias", b, 1, &g.n, err)) return -1;
  const float *xd = cv_tensor_data(x), *wd = cv_tensor_data(w);
  float *yd = cv_tensor_data(y);
  if (g.m == 0 || g.n == 0) return 0;
  if (g.k == 0) {  /* BLAS rejects a zero leading dimension */
    for (int64_t i = 0; i < g.m * g.n; i++) yd[i] = 0.0f;
  } else if (g.m == 1 && p->transpose) {
    note("linear forward", p, &g, "sgemv");
    cblas_sgemv(CblasRowMajor, CblasTrans, (int)g.k, (int)g.n, 1.0f, wd,
                (int)g.n, xd, 1, 0.0f, yd, 1);
  } else if (!p->transpose && g.m <= SKINNY_FORWARD_ROWS) {
    note("linear forward", p, &g, cv_skinny_forward_kernel());
    cv_skinny_forward(g.m, g.n, g.k, xd, wd, yd);
  } else {
    note("linear forward", p, &g, "sgemm");
    cv_sgemm(CblasNoTrans,
             p->transpose ? CblasNoTrans : CblasTrans, (int)g.m, (int)g.n,
             (int)g.k, 1.0f, xd, (int)g.k, wd,
             (int)(p->transpose ? g.n : g.k), 0.0f, yd, (int)g.n);
  }
  if (!b) return 0;
  const float *bd = cv_tensor_data(b);
  for (int64_t i = 0; i < g.m; i++)
    for (int64_t j = 0; j < g.n; j++) yd[i * g.n + j] += bd[j];
  return 0;
}

/* dw = u v^T over R x C rows, written once: the rank-1 weight gradient of
 * one row, without reading a zeroed buffer first; streamed past the caches
 * when large (simd.h). */
static void outer_set(int64_t r, int64_t c, const float *u, const float *v,
                      float *dw) {
  int stream = CV_STREAMS(dw, r * c, c);
#pragma omp parallel if (r * c > (1 << 16))
  {
#pragma omp for schedule(static)
    for (int64_t i = 0; i < r; i++) {
      float ui = u[i];
      float *row = dw + i * c;
      if (stream) {
        for (int64_t j = 0; j < c; j += CV_LANES)
          CV_VSTREAM(row + j, ui * CV_VLOAD(v + j));
      } else {
#pragma omp simd
        for (int64_t j = 0; j < c; j++) row[j] = ui * v[j];
      }
    }
    if (stream) CV_STREAM_FENCE();
  }
}

/* dw = beta dw + dy^T x (N x K), or x^T dy (K x N) when transposed; beta is
 * 0 (dw is overwritten, need not be initialised) or 1. One row is a rank-1
 * update. */
static void weight_grad(const cv_linear_params *p, const linear_geom *g,
                        const float *x, const float *dy, float *dw, float beta) {
  const float *u = p->transpose ? x : dy, *v = p->transpose ? dy : x;
  int64_t r = p->transpose ? g->k : g->n, c = p->transpose ? g->n : g->k;
  if (g->m == 1 && beta == 0.0f) {
    note("linear weight grad", p, g, "outer product");
    outer_set(r, c, u, v, dw);
  } else if (g->m == 1) {
    note("linear weight grad", p, g, "sger");
    cblas_sger(CblasRowMajor, (int)r, (int)c, 1.0f, u, 1, v, 1, dw, (int)c);
  } else if (!p->transpose && beta == 0.0f && g->m <= SKINNY_WEIGHT_GRAD_ROWS) {
    note("linear weight grad", p, g, cv_skinny_weight_grad_kernel());
    cv_skinny_weight_grad(g->m, g->n, g->k, dy, x, dw);
  } else {
    note("linear weight grad", p, g, "sgemm");
    /* u is M x R, v is M x C: dw = u^T v */
    cv_sgemm(CblasTrans, CblasNoTrans, (int)r, (int)c,
             (int)g->m, 1.0f, u, (int)r, v, (int)c, beta, dw, (int)c);
  }
}

/* dx = dy w (M x K), or dy w^T when transposed. */
static void input_grad(const cv_linear_params *p, const linear_geom *g,
                       const float *w, const float *dy, float *dx) {
  if (g->m == 1) {
    cblas_sgemv(CblasRowMajor, p->transpose ? CblasNoTrans : CblasTrans,
                (int)(p->transpose ? g->k : g->n), (int)(p->transpose ? g->n : g->k),
                1.0f, w, (int)(p->transpose ? g->n : g->k), dy, 1, 0.0f, dx, 1);
    return;
  }
  cv_sgemm(CblasNoTrans,
           p->transpose ? CblasTrans : CblasNoTrans, (int)g->m, (int)g->k,
           (int)g->n, 1.0f, dy, (int)g->n, w, (int)(p->transpose ? g->n : g->k),
           0.0f, dx, (int)g->k);
}

static int linear_backward(const cv_linear_params *p, const cv_tensor *x,
                           const cv_tensor *w, const cv_tensor *dy,
                           cv_tensor *dx, cv_tensor *dw, cv_tensor *db,
                           float beta, cv_error *err) {
  linear_geom g;
  if (linear_setup(p, x, w, dy, "output gradient", &g, err)) return -1;
  if ((dx && cv_check_like("linear", "input gradient", dx, "input", x, err)) ||
      (dw && cv_check_like("linear", "weight gradient", dw, "weight", w, err)) ||
      (db && cv_check_shape("linear", "bias gradient", db, 1, &g.n, err)))
    return -1;
  const float *dyd = cv_tensor_data(dy);
  if (g.m == 0 || g.n == 0 || g.k == 0) {
    /* no products: the gradients are zero, or stay as they were */
    if (dx) cv_tensor_fill(dx, 0.0f);
    if (beta == 0.0f && dw) cv_tensor_fill(dw, 0.0f);
    if (beta == 0.0f && db) cv_tensor_fill(db, 0.0f);
    if (g.m == 0 || g.n == 0) return 0;
  }
  if (g.k > 0 && dw) weight_grad(p, &g, cv_tensor_data(x), dyd, cv_tensor_data(dw), beta);
  if (g.k > 0 && dx) input_grad(p, &g, cv_tensor_data(w), dyd, cv_tensor_data(dx));
  if (db) {
    float *dbd = cv_tensor_data(db);
    for (int64_t j = 0; j < g.n; j++) {
      double s = 0;
      for (int64_t i = 0; i < g.m; i++) s += dyd[i * g.n + j];
      dbd[j] = beta == 0.0f ? (float)s : (float)(dbd[j] + s);
    }
  }
  return 0;
}

int cv_linear_backward(const cv_linear_params *p, const cv_tensor *x,
                       const cv_tensor *w, const cv_tensor *dy, cv_tensor *dx,
                       cv_tensor *dw, cv_tensor *db, cv_error *err) {
  return linear_backward(p, x, w, dy, dx, dw, db, 1.0f, err);
}

int cv_linear_backward_set(const cv_linear_params *p, const cv_tensor *x,
                           const cv_tensor *w, const cv_tensor *dy,
                           cv_tensor *dx, cv_tensor *dw, cv_tensor *db,
                           cv_error *err) {
  return linear_backward(p, x, w, dy, dx, dw, db, 0.0f, err);
}

int cv_linear_filter_grad_norms(const cv_linear_params *p, const cv_tensor *x,
                                const cv_tensor *w, const cv_tensor *dy,
                                cv_tensor *norms, cv_error *err) {
  linear_geom g;
  if (linear_setup(p, x, w, dy, "output gradient", &g, err)) return -1;
  int64_t want[2] = {g.m, g.n};
  if (cv_check_shape("linear", "norms", norms, 2, want, err)) return -1;
  const float *xd = cv_tensor_data(x), *dyd = cv_tensor_data(dy);
  float *nd = cv_tensor_data(norms);
  for (int64_t i = 0; i < g.m; i++) {
    double s = 0;
    for (int64_t k = 0; k < g.k; k++) s += (double)xd[i * g.k + k] * xd[i * g.k + k];
    double xn = sqrt(s);
    for (int64_t j = 0; j < g.n; j++) nd[i * g.n + j] = (float)(fabs(dyd[i * g.n + j]) * xn);
  }
  return 0;
}
