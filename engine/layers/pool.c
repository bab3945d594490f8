/* pool.c — MAX and AVE pooling with Caffe's output size and edge rules:
 * shape check, forward, backward. */
#include <float.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "layers.h"

cv_pool_params cv_pool_params_default(void) {
  cv_pool_params p = {CV_POOL_MAX, 1, 1, 1, 1, 0, 0, 0};
  return p;
}

/* Caffe: ceil-mode size, then drop a last window that would start in the
 * right/bottom padding. */
static int64_t pooled_size(int64_t in, int k, int stride, int pad) {
  int64_t span = in + 2 * pad - k;
  int64_t out = (span + stride - 1) / stride + 1;
  if (pad > 0 && (out - 1) * stride >= in + pad) out--;
  return out;
}

/* The params with global pooling resolved against the input size. */
static cv_pool_params resolve(const cv_pool_params *p, const int64_t *in) {
  cv_pool_params q = *p;
  if (q.global) {
    q.kernel_h = (int)in[2]; q.kernel_w = (int)in[3];
    q.stride_h = q.stride_w = 1;
    q.pad_h = q.pad_w = 0;
  }
  return q;
}

int cv_pool2d_shape(const cv_pool_params *p, const int64_t *in, int64_t *out,
                    cv_error *err) {
  cv_pool_params q = resolve(p, in);
  char si[CV_SHAPE_STR_MAX];
  cv_shape_str(4, in, si, sizeof si);
  if (q.kernel_h < 1 || q.kernel_w < 1 || q.stride_h < 1 || q.stride_w < 1 ||
      q.pad_h < 0 || q.pad_w < 0)
    return cv_error_set(err, "pool2d: kernel %dx%d and stride %dx%d must be "
                        "positive, pad %dx%d not negative", q.kernel_h,
                        q.kernel_w, q.stride_h, q.stride_w, q.pad_h, q.pad_w);
  if (q.pad_h >= q.kernel_h || q.pad_w >= q.kernel_w)
    return cv_error_set(err, "pool2d: pad %dx%d must be smaller than kernel "
                        "%dx%d", q.pad_h, q.pad_w, q.kernel_h, q.kernel_w);
  if (in[2] + 2 * q.pad_h < q.kernel_h || in[3] + 2 * q.pad_w < q.kernel_w)
    return cv_error_set(err, "pool2d: input %s padded by %dx%d is smaller than "
                        "kernel %dx%d", si, q.pad_h, q.pad_w, q.kernel_h,
                        q.kernel_w);
  out[0] = in[0];
  out[1] = in[1];
  out[2] = pooled_size(in[2], q.kernel_h, q.stride_h, q.pad_h);
  out[3] = pooled_size(in[3], q.kernel_w, q.stride_w, q.pad_w);
  return 0;
}

typedef struct {
  int64_t h, w, oh, ow;
} plane;

/* Window of output (oh, ow): [h0, h1) x [w0, w1) inside the input, and the
 * AVE divisor (the window clipped to the padded input). */
typedef struct {
  int64_t h0, h1, w0, w1, area;
} window;

static window window_at(const cv_pool_params *q, const plane *pl, int64_t oh,
                        int64_t ow) {
  window r;
  r.h0 = oh * q->stride_h - q->pad_h;
  r.w0 = ow * q->stride_w - q->pad_w;
  r.h1 = r.h0 + q->kernel_h;
  r.w1 = r.w0 + q->kernel_w;
  if (r.h1 > pl->h + q->pad_h) r.h1 = pl->h + q->pad_h;
  if (r.w1 > pl->w + q->pad_w) r.w1 = pl->w + q->pad_w;
  r.area = (r.h1 - r.h0) * (r.w1 - r.w0);
  if (r.h0 < 0) r.h0 = 0;
  if (r.w0 < 0) r.w0 = 0;
  if (r.h1 > pl->h) r.h1 = pl->h;
  if (r.w1 > pl->w) r.w1 = pl->w;
  return r;
}

/* Offset of the first maximum in scan order (Caffe's argmax); -1 when the
 * window holds no input pixel. */
static int64_t argmax_in(const float *x, const plane *pl, const window *r) {
  if (r->h0 >= r->h1 || r->w0 >= r->w1) return -1;
  int64_t at = r->h0 * pl->w + r->w0;
  float best = x[at];
  /* Selects rather than branches: on real data which pixel wins is
   * unpredictable, and mispredicted branches cost more than the scan. */
  for (int64_t h = r->h0; h < r->h1; h++)
    for (int64_t w = r->w0; w < r->w1; w++) {
      int64_t i = h * pl->w + w;
      float v = x[i];
      int64_t take = -(int64_t)(v > best); /* all ones or zero */
      at = (at & ~take) | (i & take);
      best = v > best ? v : best;
    }
  return at;
}

/* Input rows (or columns) [lo, hi) of output position o, and the span the
 * AVE divisor counts: the window clipped to the padded input. */
static void span(int64_t o, int k, int stride, int pad, int64_t n, int64_t *lo,
                 int64_t *hi, int64_t *padded) {
  int64_t a = o * stride - pad, b = a + k;
  if (b > n + pad) b = n + pad;
  *padded = b - a;
  *lo = a < 0 ? 0 : a;
  *hi = b > n ? n : b;
}

/* MAX of a non-empty window: its first pixel, then strictly greater ones. */
static float window_max(const float *x, int64_t w, int64_t h0, int64_t h1,
                        int64_t w0, int64_t w1) {
  float m = x[h0 * w + w0];
  for (int64_t h = h0; h < h1; h++) {
    const float *row = x + h * w;
    for (int64_t j = w0; j < w1; j++) m = row[j] > m ? row[j] : m;
  }
  return m;
}

static float window_sum(const float *x, int64_t w, int64_t h0, int64_t h1,
                        int64_t w0, int64_t w1) {
  float s = 0.0f;
  for (int64_t h = h0; h < h1; h++) {
    const float *row = x + h * w;
    for (int64_t j = w0; j < w1; j++) s += row[j];
  }
  return s;
}

/* Whether a plane of n pixels holds no NaN and no -0. Then each window's
 * maximum is one value, bits and all, in whatever order it is taken. */
static int plain_values(const float *x, int64_t n) {
  int odd = 0;
#pragma omp simd reduction(| : odd)
  for (int64_t i = 0; i < n; i++) {
    uint32_t bits;
    memcpy(&bits, &x[i], sizeof bits);
    odd |= (x[i] != x[i]) | (bits == 0x80000000u);
  }
  return !odd;
}

/* Widest plane the separable MAX takes (its column maxima are on the
 * stack). */
#define SEPARABLE_MAX_W 2048

/* MAX of a plain plane (plain_values) taken in two passes per output row:
 * the maximum down each column of the rows the windows span (contiguous,
 * vectorized), then across each window's columns. The scan of forward_plane
 * compares each pixel against a running maximum one output at a time. */
static void forward_plane_max_separable(const cv_pool_params *q,
                                        const plane *pl, const float *x,
                                        float *y) {
  float col[SEPARABLE_MAX_W];
  for (int64_t oh = 0; oh < pl->oh; oh++) {
    int64_t h0, h1, ph;
    span(oh, q->kernel_h, q->stride_h, q->pad_h, pl->h, &h0, &h1, &ph);
    float *yr = y + oh * pl->ow;
    if (h0 >= h1) {
      for (int64_t ow = 0; ow < pl->ow; ow++) yr[ow] = -FLT_MAX;
      continue;
    }
    memcpy(col, x + h0 * pl->w, sizeof(float) * (size_t)pl->w);
    for (int64_t h = h0 + 1; h < h1; h++) {
      const float *row = x + h * pl->w;
#pragma omp simd
      for (int64_t j = 0; j < pl->w; j++) col[j] = row[j] > col[j] ? row[j] : col[j];
    }
    for (int64_t ow = 0; ow < pl->ow; ow++) {
      int64_t w0, w1, pw;
      span(ow, q->kernel_w, q->stride_w, q->pad_w, pl->w, &w0, &w1, &pw);
      float m = -FLT_MAX;
      if (w0 < w1) {
        m = col[w0];
        for (int64_t j = w0 + 1; j < w1; j++) m = col[j] > m ? col[j] : m;
      }
      yr[ow] = m;
    }
  }
}

/* Row spans are computed once per output row. An empty window (stride >
 * kernel, no pad) is what Caffe leaves: -FLT_MAX for MAX, 0 for AVE. */
static void forward_plane(const cv_pool_params *q, const plane *pl,
                          const float *x, float *y) {
  int max = q->method == CV_POOL_MAX;
  if (max && pl->w <= SEPARABLE_MAX_W && plain_values(x, pl->h * pl->w)) {
    forward_plane_max_separable(q, pl, x, y);
    return;
  }
  for (int64_t oh = 0; oh < pl->oh; oh++) {
    int64_t h0, h1, ph;
    span(oh, q->kernel_h, q->stride_h, q->pad_h, pl->h, &h0, &h1, &ph);
    float *yr = y + oh * pl->ow;
    for (int64_t ow = 0; ow < pl->ow; ow++) {
      int64_t w0, w1, pw;
      span(ow, q->kernel_w, q->stride_w, q->pad_w, pl->w, &w0, &w1, &pw);
      if (h0 >= h1 || w0 >= w1) yr[ow] = max ? -FLT_MAX : 0.0f;
      else if (max) yr[ow] = window_max(x, pl->w, h0, h1, w0, w1);
      else yr[ow] = window_sum(x, pl->w, h0, h1, w0, w1) / (float)(ph * pw);
    }
  }
}

static void backward_plane(const cv_pool_params *q, const plane *pl,
                           const float *x, const float *dy, float *dx) {
  memset(dx, 0, (size_t)(pl->h * pl->w) * sizeof *dx);
  for (int64_t oh = 0; oh < pl->oh; oh++)
    for (int64_t ow = 0; ow < pl->ow; ow++) {
      window r = window_at(q, pl, oh, ow);
      float g = dy[oh * pl->ow + ow];
      if (q->method == CV_POOL_MAX) {
        int64_t at = argmax_in(x, pl, &r);
        if (at >= 0) dx[at] += g;
        continue;
      }
      g /= (float)r.area;
      for (int64_t h = r.h0; h < r.h1; h++)
        for (int64_t w = r.w0; w < r.w1; w++) dx[h * pl->w + w] += g;
    }
}

static int pool_setup(const cv_pool_params *p, const cv_tensor *x,
                      const cv_tensor *y, const char *yname, cv_pool_params *q,
                      plane *pl, cv_error *err) {
  int64_t out[4];
  if (cv_check_tensor("pool2d", "input", x, 4, err) ||
      cv_pool2d_shape(p, x->size, out, err) ||
      cv_check_shape("pool2d", yname, y, 4, out, err))
    return -1;
  *q = resolve(p, x->size);
  pl->h = x->size[2]; pl->w = x->size[3]; pl->oh = out[2]; pl->ow = out[3];
  return 0;
}

/* Outputs [*lo, *hi) of a row whose windows lie wholly inside [0, n). */
static void inner_outputs(int k, int stride, int pad, int64_t n, int64_t count,
                          int64_t *lo, int64_t *hi) {
  *lo = (pad + stride - 1) / stride;
  *hi = n + pad >= k ? (n + pad - k) / stride + 1 : 0;
  if (*hi > count) *hi = count;
  if (*lo > *hi) *lo = *hi;
}

/* MAX with each output's argmax (offset in its plane, -1 for an empty
 * window) written down for the backward. Windows inside the plane are
 * scanned a kernel offset at a time across the row, so that consecutive
 * outputs do not wait on each other; the scan order, and so the first
 * maximum, is the same as argmax_in's. */
static void forward_plane_argmax(const cv_pool_params *q, const plane *pl,
                                 const float *x, float *y, int32_t *argmax) {
  int64_t lo, hi;
  inner_outputs(q->kernel_w, q->stride_w, q->pad_w, pl->w, pl->ow, &lo, &hi);
  for (int64_t oh = 0; oh < pl->oh; oh++) {
    float *yr = y + oh * pl->ow;
    int32_t *ar = argmax + oh * pl->ow;
    int64_t h0 = oh * q->stride_h - q->pad_h;
    int inside = h0 >= 0 && h0 + q->kernel_h <= pl->h;
    for (int64_t ow = 0; ow < pl->ow; ow++) {
      if (inside && ow == lo) ow = hi;
      if (ow >= pl->ow) break;
      window r = window_at(q, pl, oh, ow);
      int64_t at = argmax_in(x, pl, &r);
      yr[ow] = at < 0 ? -FLT_MAX : x[at];
      ar[ow] = (int32_t)at;
    }
    if (!inside) continue;
    int stride = q->stride_w;
    const float *first = x + h0 * pl->w - q->pad_w;
    for (int64_t ow = lo; ow < hi; ow++) {
      yr[ow] = first[ow * stride];
      ar[ow] = (int32_t)(h0 * pl->w - q->pad_w + ow * stride);
    }
    for (int kh = 0; kh < q->kernel_h; kh++)
      for (int kw = kh ? 0 : 1; kw < q->kernel_w; kw++) {
        int32_t base = (int32_t)((h0 + kh) * pl->w - q->pad_w + kw);
        const float *row = x + base;
        for (int64_t ow = lo; ow < hi; ow++) {
          float v = row[ow * stride];
          int take = v > yr[ow];
          yr[ow] = take ? v : yr[ow];
          ar[ow] = take ? base + (int32_t)(ow * stride) : ar[ow];
        }
      }
  }
}

int cv_pool2d_argmax_fits(const cv_pool_params *p, const cv_tensor *x) {
  return p->method == CV_POOL_MAX && x->ndim == 4 &&
         x->size[2] * x->size[3] <= INT32_MAX;
}

static int pool_forward(const cv_pool_params *p, const cv_tensor *x,
                        cv_tensor *y, int32_t *argmax, cv_error *err) {
  cv_pool_params q;
  plane pl;
  if (pool_setup(p, x, y, "output", &q, &pl, err)) return -1;
  if (argmax && !cv_pool2d_argmax_fits(p, x))
    return cv_error_set(err, "pool2d: argmax is kept for MAX pooling of planes "
                        "under 2^31 pixels only");
  int64_t planes = x->size[0] * x->size[1], ys = pl.oh * pl.ow;
  const float *xd = cv_tensor_data(x);
  float *yd = cv_tensor_data(y);
#pragma omp parallel for if (planes * pl.oh * pl.ow > 4096)
  for (int64_t i = 0; i < planes; i++) {
    if (argmax)
      forward_plane_argmax(&q, &pl, xd + i * pl.h * pl.w, yd + i * ys,
                           argmax + i * ys);
    else
      forward_plane(&q, &pl, xd + i * pl.h * pl.w, yd + i * ys);
  }
  return 0;
}

int cv_pool2d_forward(const cv_pool_params *p, const cv_tensor *x, cv_tensor *y,
                      cv_error *err) {
  return pool_forward(p, x, y, NULL, err);
}

int cv_pool2d_forward_argmax(const cv_pool_params *p, const cv_tensor *x,
                             cv_tensor *y, int32_t *argmax, cv_error *err) {
  return pool_forward(p, x, y, argmax, err);
}

int cv_pool2d_backward_argmax(const cv_pool_params *p, const int32_t *argmax,
                              const cv_tensor *dy, cv_tensor *dx,
                              cv_error *err) {
  cv_pool_params q;
  plane pl;
  if (pool_setup(p, dx, dy, "output gradient", &q, &pl, err)) return -1;
  int64_t planes = dx->size[0] * dx->size[1], ys = pl.oh * pl.ow;
  const float *dyd = cv_tensor_data(dy);
  float *dxd = cv_tensor_data(dx);
#pragma omp parallel for if (planes * pl.h * pl.w > 4096)
  for (int64_t i = 0; i < planes; i++) {
    float *d = dxd + i * pl.h * pl.w;
    const int32_t *a = argmax + i * ys;
    const float *g = dyd + i * ys;
    memset(d, 0, (size_t)(pl.h * pl.w) * sizeof *d);
    for (int64_t o = 0; o < ys; o++)
      if (a[o] >= 0) d[a[o]] += g[o];
  }
  return 0;
}

int cv_pool2d_backward(const cv_pool_params *p, const cv_tensor *x,
                       const cv_tensor *dy, cv_tensor *dx, cv_error *err) {
  cv_pool_params q;
  plane pl;
  if (pool_setup(p, x, dy, "output gradient", &q, &pl, err) ||
      cv_check_like("pool2d", "input gradient", dx, "input", x, err))
    return -1;
  int64_t planes = x->size[0] * x->size[1];
  const float *xd = cv_tensor_data(x), *dyd = cv_tensor_data(dy);
  float *dxd = cv_tensor_data(dx);
#pragma omp parallel for if (planes * pl.h * pl.w > 4096)
  for (int64_t i = 0; i < planes; i++)
    backward_plane(&q, &pl, xd + i * pl.h * pl.w, dyd + i * pl.oh * pl.ow,
                   dxd + i * pl.h * pl.w);
  return 0;
}
