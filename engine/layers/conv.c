/* conv.c — Convolution (Caffe's layout and semantics): shape check,
 * forward, backward, by im2col + sgemm or, for 3x3 and 5x5 stride 1 on
 * shapes big enough, by Winograd's kernels (winograd.c); the choice between
 * them is made here (choose). */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "kernel_choice.h"
#include "layers.h"
#include "tensor/gemm.h"
#include "winograd.h"

static cv_conv_algorithm default_algorithm = CV_CONV_AUTO;

cv_conv_algorithm cv_conv_set_default_algorithm(cv_conv_algorithm a) {
  cv_conv_algorithm before = default_algorithm;
  default_algorithm = a;
  return before;
}

cv_conv_algorithm cv_conv_default_algorithm(void) { return default_algorithm; }

cv_conv_params cv_conv_params_default(void) {
  cv_conv_params p = {1, 1, 1, 1, 0, 0, 1, 1, 1, CV_CONV_AUTO};
  return p;
}

/* With the weights' transform kept between calls (winograd_cache.h),
 * Winograd's kernels beat im2col's from a single image of 5x5 outputs (9
 * blocks of 2x2) up, 3x3 and 5x5, 32 to 256 channels, on AVX-512 and AVX2
 * (at CaffeNet's 13x13 at batch 1: 0.6 to 0.8 of the time); below, the
 * blocks overhang too much of the output. At 16 channels in or out per
 * group they are even with AVX2; below, im2col is faster. */
#define WINOGRAD_MIN_BLOCKS 9
#define WINOGRAD_MIN_CHANNELS 16

/* The algorithm for a convolution whose GEMMs have in_g and out_g channels
 * per group over n images of oh x ow outputs: the params' own, else the
 * default, else (auto) Winograd where it fits and the shapes are big
 * enough. The input gradient asks with its own shapes (dy to dx). */
static cv_conv_algorithm choose(const cv_conv_params *p, int64_t in_g,
                                int64_t out_g, int64_t n, int64_t oh,
                                int64_t ow) {
  cv_conv_algorithm a = p->algorithm != CV_CONV_AUTO ? p->algorithm : default_algorithm;
  if (a == CV_CONV_IM2COL || !cv_winograd_fits(p)) return CV_CONV_IM2COL;
  if (a == CV_CONV_WINOGRAD) return CV_CONV_WINOGRAD;
  int big = in_g >= WINOGRAD_MIN_CHANNELS && out_g >= WINOGRAD_MIN_CHANNELS &&
            n * ((oh + 1) / 2) * ((ow + 1) / 2) >= WINOGRAD_MIN_BLOCKS;
  return big ? CV_CONV_WINOGRAD : CV_CONV_IM2COL;
}

/* Geometry of one conv call, derived once from the params and the shapes. */
typedef struct {
  int64_t n, c, h, w, m, oh, ow;
  int64_t kdim;  /* rows of the column buffer per group: C/g * kh * kw */
  int64_t ohw;   /* columns of the column buffer: OH * OW */
  int64_t mg;    /* output channels per group */
  int direct;    /* 1x1, stride 1, no pad: x is its own column buffer */
} conv_geom;

/* Notes the kernel that serves op on this geometry (kernel_choice.h). */
static void note(const char *op, const cv_conv_params *p, const conv_geom *g,
                 const char *kernel) {
  char shape[96];
  snprintf(shape, sizeof shape, "%lldx%lldx%lldx%lld k%dx%d s%d p%d g%d -> %lld",
           (long long)g->n, (long long)g->c, (long long)g->h, (long long)g->w,
           p->kernel_h, p->kernel_w, p->stride_h, p->pad_h, p->group,
           (long long)g->m);
  cv_kernel_choice_note(op, shape, kernel);
}

/* What w holds now: Winograd's transform of it is kept between calls until
 * its storage is written to or freed (winograd_cache.h), which the mark
 * lets the storage tell. */
static cv_weights_tag weights_tag(const cv_tensor *w) {
  w->storage->has_derived = 1;
  cv_weights_tag t = {w->storage->id, w->storage->version, w->offset};
  return t;
}

static const char *winograd_name(const cv_conv_params *p) {
  return p->kernel_h == 5 ? "winograd F(2x2,5x5)" : "winograd F(2x2,3x3)";
}

/* im2col's way for n images on the threads there are. */
static const char *im2col_name(const conv_geom *g, int threads) {
  int per_image = g->n >= threads && threads > 1;
  if (g->direct) return per_image ? "sgemm (1x1), image per thread" : "sgemm (1x1)";
  return per_image ? "im2col + sgemm, image per thread" : "im2col + threaded sgemm";
}

static int check_params(const cv_conv_params *p, cv_error *err) {
  if (p->kernel_h < 1 || p->kernel_w < 1 || p->stride_h < 1 || p->stride_w < 1 ||
      p->dilation_h < 1 || p->dilation_w < 1 || p->group < 1)
    return cv_error_set(err, "conv2d: kernel %dx%d, stride %dx%d, dilation %dx%d "
                        "and group %d must all be positive", p->kernel_h,
                        p->kernel_w, p->stride_h, p->stride_w, p->dilation_h,
                        p->dilation_w, p->group);
  if (p->pad_h < 0 || p->pad_w < 0)
    return cv_error_set(err, "conv2d: pad %dx%d must not be negative", p->pad_h,
                        p->pad_w);
  if (p->algorithm == CV_CONV_WINOGRAD && !cv_winograd_fits(p))
    return cv_error_set(err, "conv2d: the Winograd algorithm takes 3x3 or 5x5 "
                        "kernels with stride 1, no dilation and equal pads "
                        "smaller than the kernel, not kernel %dx%d, stride "
                        "%dx%d, dilation %dx%d, pad %dx%d", p->kernel_h,
                        p->kernel_w, p->stride_h, p->stride_w, p->dilation_h,
                        p->dilation_w, p->pad_h, p->pad_w);
  return 0;
}

int cv_conv2d_shape(const cv_conv_params *p, const int64_t *in,
                    const int64_t *w_size, int64_t out_c, int64_t *out,
                    cv_error *err) {
  if (check_params(p, err)) return -1;
  char si[CV_SHAPE_STR_MAX], sw[CV_SHAPE_STR_MAX];
  cv_shape_str(4, in, si, sizeof si);
  if (w_size) {
    cv_shape_str(4, w_size, sw, sizeof sw);
    out_c = w_size[0];
    if (w_size[1] * p->group != in[1])
      return cv_error_set(err, "conv2d: weight %s expects %lld input channels "
                          "(group %d) but input %s has %lld", sw,
                          (long long)(w_size[1] * p->group), p->group, si,
                          (long long)in[1]);
    if (w_size[2] != p->kernel_h || w_size[3] != p->kernel_w)
      return cv_error_set(err, "conv2d: weight %s does not match kernel %dx%d",
                          sw, p->kernel_h, p->kernel_w);
  }
  if (in[1] % p->group || out_c % p->group)
    return cv_error_set(err, "conv2d: group %d does not divide input channels "
                        "%lld and output channels %lld", p->group,
                        (long long)in[1], (long long)out_c);
  int64_t ext_h = (int64_t)p->dilation_h * (p->kernel_h - 1) + 1;
  int64_t ext_w = (int64_t)p->dilation_w * (p->kernel_w - 1) + 1;
  if (in[2] + 2 * p->pad_h < ext_h || in[3] + 2 * p->pad_w < ext_w)
    return cv_error_set(err, "conv2d: input %s padded by %dx%d is smaller than "
                        "the kernel's extent %lldx%lld", si, p->pad_h, p->pad_w,
                        (long long)ext_h, (long long)ext_w);
  out[0] = in[0];
  out[1] = out_c;
  out[2] = (in[2] + 2 * p->pad_h - ext_h) / p->stride_h + 1;
  out[3] = (in[3] + 2 * p->pad_w - ext_w) / p->stride_w + 1;
  return 0;
}

/* Checks x, w, b and the output (y or dy) and fills the geometry. */
static int conv_setup(const cv_conv_params *p, const cv_tensor *x,
                      const cv_tensor *w, const cv_tensor *b, const cv_tensor *y,
                      const char *yname, conv_geom *g, cv_error *err) {
  int64_t out[4];
  if (cv_check_tensor("conv2d", "input", x, 4, err) ||
      cv_check_tensor("conv2d", "weight", w, 4, err) ||
      cv_conv2d_shape(p, x->size, w->size, 0, out, err) ||
      cv_check_shape("conv2d", yname, y, 4, out, err))
    return -1;
  if (b && cv_check_shape("conv2d", "bias", b, 1, &out[1], err)) return -1;
  g->n = x->size[0]; g->c = x->size[1]; g->h = x->size[2]; g->w = x->size[3];
  g->m = out[1]; g->oh = out[2]; g->ow = out[3];
  g->kdim = (g->c / p->group) * p->kernel_h * p->kernel_w;
  g->ohw = g->oh * g->ow;
  g->mg = g->m / p->group;
  g->direct = p->kernel_h == 1 && p->kernel_w == 1 && p->stride_h == 1 &&
              p->stride_w == 1 && p->pad_h == 0 && p->pad_w == 0;
  return 0;
}

/* The output columns [lo, hi) whose input column w0 + ow * stride lies in
 * [0, w): the rest read padding. */
static void valid_cols(int64_t w0, int stride, int64_t w, int64_t ow,
                       int64_t *lo, int64_t *hi) {
  *lo = w0 >= 0 ? 0 : (-w0 + stride - 1) / stride;
  *hi = w0 >= w ? 0 : (w - w0 + stride - 1) / stride;
  if (*hi > ow) *hi = ow;
  if (*lo > *hi) *lo = *hi;
}

/* One row of im2col: out[ow] = row[w0 + ow * stride] for ow in [lo, hi),
 * zero outside (the padding); stride 1 is two fills and a copy. */
static void gather_row(const float *row, int64_t w0, int stride, int64_t lo,
                       int64_t hi, int64_t n, float *out) {
  /* Plain loops, not memset/memcpy: rows are short (13 floats in CaffeNet's
   * conv3-5), and the calls would cost more than the copying. */
  for (int64_t ow = 0; ow < lo; ow++) out[ow] = 0.0f;
  if (stride == 1)
    for (int64_t ow = lo; ow < hi; ow++) out[ow] = row[w0 + ow];
  else
    for (int64_t ow = lo; ow < hi; ow++) out[ow] = row[w0 + ow * stride];
  for (int64_t ow = hi; ow < n; ow++) out[ow] = 0.0f;
}

/* Unfolds one image (C x H x W) into col (C*kh*kw rows x OH*OW columns). */
static void im2col(const cv_conv_params *p, const conv_geom *g, const float *x,
                   float *col) {
  int64_t rows = g->c * p->kernel_h * p->kernel_w;
#pragma omp parallel for if (rows * g->ohw > 65536 && !omp_in_parallel())
  for (int64_t r = 0; r < rows; r++) {
    int64_t kw = r % p->kernel_w, kh = (r / p->kernel_w) % p->kernel_h;
    int64_t c = r / ((int64_t)p->kernel_w * p->kernel_h);
    const float *xc = x + c * g->h * g->w;
    float *out = col + r * g->ohw;
    int64_t w0 = kw * p->dilation_w - p->pad_w, lo, hi;
    valid_cols(w0, p->stride_w, g->w, g->ow, &lo, &hi);
    for (int64_t oh = 0; oh < g->oh; oh++, out += g->ow) {
      int64_t h = oh * p->stride_h - p->pad_h + kh * p->dilation_h;
      if (h < 0 || h >= g->h) memset(out, 0, (size_t)g->ow * sizeof *out);
      else gather_row(xc + h * g->w, w0, p->stride_w, lo, hi, g->ow, out);
    }
  }
}

/* Folds col back into one image, adding overlapping entries (dx = 0 first).
 * Parallel over channels: no two threads write the same pixel. */
static void col2im(const cv_conv_params *p, const conv_geom *g, const float *col,
                   float *x) {
  int64_t kk = (int64_t)p->kernel_h * p->kernel_w;
#pragma omp parallel for if (g->c * kk * g->ohw > 65536 && !omp_in_parallel())
  for (int64_t c = 0; c < g->c; c++) {
    float *xc = x + c * g->h * g->w;
    memset(xc, 0, (size_t)(g->h * g->w) * sizeof *xc);
    for (int64_t k = 0; k < kk; k++) {
      int64_t kh = k / p->kernel_w, kw = k % p->kernel_w;
      const float *in = col + (c * kk + k) * g->ohw;
      for (int64_t oh = 0; oh < g->oh; oh++, in += g->ow) {
        int64_t h = oh * p->stride_h - p->pad_h + kh * p->dilation_h;
        if (h < 0 || h >= g->h) continue;
        int64_t w0 = kw * p->dilation_w - p->pad_w, lo, hi;
        valid_cols(w0, p->stride_w, g->w, g->ow, &lo, &hi);
        float *xr = xc + h * g->w + w0;
        if (p->stride_w == 1) /* contiguous: vectorised */
          for (int64_t ow = lo; ow < hi; ow++) xr[ow] += in[ow];
        else
          for (int64_t ow = lo; ow < hi; ow++) xr[ow * p->stride_w] += in[ow];
      }
    }
  }
}

/* y_n = W * col(x_n) + b for one image, group by group. */
static void forward_image(const cv_conv_params *p, const conv_geom *g,
                          const float *x, const float *w, const float *b,
                          float *y, float *col) {
  if (g->direct) col = (float *)x;
  else im2col(p, g, x, col);
  for (int gi = 0; gi < p->group; gi++)
    cv_sgemm(CblasNoTrans, CblasNoTrans, (int)g->mg,
             (int)g->ohw, (int)g->kdim, 1.0f, w + gi * g->mg * g->kdim,
             (int)g->kdim, col + gi * g->kdim * g->ohw, (int)g->ohw, 0.0f,
             y + gi * g->mg * g->ohw, (int)g->ohw);
  if (!b) return;
#pragma omp parallel for if (g->m * g->ohw > 65536 && !omp_in_parallel())
  for (int64_t m = 0; m < g->m; m++) {
    float *ym = y + m * g->ohw;
    for (int64_t i = 0; i < g->ohw; i++) ym[i] += b[m];
  }
}

/* No input channels: BLAS rejects the empty GEMM; the output is the bias. */
static int zero_channels(const conv_geom *g, const cv_tensor *b, cv_tensor *y) {
  float *yd = cv_tensor_data(y);
  for (int64_t i = 0; i < g->n * g->m; i++)
    for (int64_t j = 0; j < g->ohw; j++)
      yd[i * g->ohw + j] = b ? cv_tensor_data(b)[i % g->m] : 0.0f;
  return 0;
}

int cv_conv2d_forward(const cv_conv_params *p, const cv_tensor *x,
                      const cv_tensor *w, const cv_tensor *b, cv_tensor *y,
                      cv_workspace *ws, cv_error *err) {
  conv_geom g;
  if (conv_setup(p, x, w, b, y, "output", &g, err)) return -1;
  if (cv_tensor_numel(y) == 0) return 0;
  if (g.kdim == 0) return zero_channels(&g, b, y);
  if (choose(p, g.c / p->group, g.mg, g.n, g.oh, g.ow) == CV_CONV_WINOGRAD) {
    note("conv2d forward", p, &g, winograd_name(p));
    cv_winograd_shape s = {g.n, g.c, g.h, g.w, g.m, g.oh, g.ow, p->group, p->pad_h,
                           p->kernel_h};
    cv_weights_tag tag = weights_tag(w);
    return cv_winograd_forward(&s, cv_tensor_data(x), cv_tensor_data(w), &tag,
                               b ? cv_tensor_data(b) : NULL, cv_tensor_data(y),
                               ws, err);
  }
  size_t colsize = g.direct ? 0 : (size_t)(g.c * p->kernel_h * p->kernel_w * g.ohw);
  /* Small batches: one image at a time, each GEMM on every thread. Larger
   * ones: one image per thread with single-threaded GEMMs (OpenBLAS runs
   * serially inside a parallel region), so the pools never nest. */
  int threads = cv_threads_get();
  int per_image = g.n >= threads && threads > 1;
  int slots = per_image ? threads : 1;
  note("conv2d forward", p, &g, im2col_name(&g, threads));
  float *col = cv_workspace_reserve(ws, colsize * slots + 1, err);
  if (!col) return cv_error_prefix(err, "conv2d");
  const float *xd = cv_tensor_data(x), *wd = cv_tensor_data(w);
  const float *bd = b ? cv_tensor_data(b) : NULL;
  float *yd = cv_tensor_data(y);
  int64_t xs = g.c * g.h * g.w, ys = g.m * g.ohw;
  if (per_image) {
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t n = 0; n < g.n; n++)
      forward_image(p, &g, xd + n * xs, wd, bd, yd + n * ys,
                    col + colsize * (size_t)omp_get_thread_num());
  } else {
    for (int64_t n = 0; n < g.n; n++)
      forward_image(p, &g, xd + n * xs, wd, bd, yd + n * ys, col);
  }
  return 0;
}

/* db[m] += the sum of channel m of dy over images and positions; the
 * images are added in order, as before, whatever the thread count. */
static void bias_grad(const conv_geom *g, const float *dy, float *db) {
#pragma omp parallel for if (g->n * g->m * g->ohw > 65536 && !omp_in_parallel())
  for (int64_t m = 0; m < g->m; m++)
    for (int64_t n = 0; n < g->n; n++) {
      const float *d = dy + (n * g->m + m) * g->ohw;
      double s = 0;
      for (int64_t i = 0; i < g->ohw; i++) s += d[i];
      db[m] += (float)s;
    }
}

/* One image: dw += dy * col(x)^T, dx = col2im(W^T * dy). */
static void backward_image(const cv_conv_params *p, const conv_geom *g,
                           const float *x, const float *w, const float *dy,
                           float *dx, float *dw, float *col) {
  if (dw) {
    if (g->direct) col = (float *)x;
    else im2col(p, g, x, col);
    for (int gi = 0; gi < p->group; gi++)
      cv_sgemm(CblasNoTrans, CblasTrans, (int)g->mg,
               (int)g->kdim, (int)g->ohw, 1.0f, dy + gi * g->mg * g->ohw,
               (int)g->ohw, col + gi * g->kdim * g->ohw, (int)g->ohw, 1.0f,
               dw + gi * g->mg * g->kdim, (int)g->kdim);
  }
  if (!dx) return;
  float *dcol = g->direct ? dx : col;
  for (int gi = 0; gi < p->group; gi++)
    cv_sgemm(CblasTrans, CblasNoTrans, (int)g->kdim,
             (int)g->ohw, (int)g->mg, 1.0f, w + gi * g->mg * g->kdim,
             (int)g->kdim, dy + gi * g->mg * g->ohw, (int)g->ohw, 0.0f,
             dcol + gi * g->kdim * g->ohw, (int)g->ohw);
  if (!g->direct) col2im(p, g, col, dx);
}

/* Batches of at least one image per thread: each thread takes whole images
 * with single-threaded GEMMs and its own partial weight gradient (slot t of
 * part), summed into dw at the end. */
static void backward_per_image(const cv_conv_params *p, const conv_geom *g,
                               int threads, const float *x, const float *w,
                               const float *dy, float *dx, float *dw,
                               float *col, size_t colsize, float *part) {
  int64_t xs = g->c * g->h * g->w, ys = g->m * g->ohw, wn = g->m * g->kdim;
#pragma omp parallel num_threads(threads)
  {
    int t = omp_get_thread_num();
    float *mine = dw ? part + (size_t)t * (size_t)wn : NULL;
    if (mine) memset(mine, 0, (size_t)wn * sizeof *mine);
#pragma omp for schedule(static)
    for (int64_t n = 0; n < g->n; n++)
      backward_image(p, g, x + n * xs, w, dy + n * ys, dx ? dx + n * xs : NULL,
                     mine, col + colsize * (size_t)t);
    if (dw) {
#pragma omp for schedule(static)
      for (int64_t i = 0; i < wn; i++)
        for (int k = 0; k < threads; k++) dw[i] += part[(size_t)k * (size_t)wn + i];
    }
  }
}

/* dw += and dx = by im2col and GEMMs (either may be NULL). */
static int conv_backward_im2col(const cv_conv_params *p, const conv_geom *gp,
                                const cv_tensor *x, const cv_tensor *w,
                                const cv_tensor *dy, cv_tensor *dx,
                                cv_tensor *dw, cv_workspace *ws, cv_error *err) {
  conv_geom g = *gp;
  int threads = cv_threads_get();
  int per_image = g.n >= threads && threads > 1;
  size_t colsize = (size_t)(g.c * p->kernel_h * p->kernel_w * g.ohw);
  size_t wn = (size_t)(g.m * g.kdim);
  size_t need = per_image ? (colsize + wn) * (size_t)threads : colsize;
  float *col = cv_workspace_reserve(ws, need + 1, err);
  if (!col) return cv_error_prefix(err, "conv2d");
  const float *xd = cv_tensor_data(x), *wd = cv_tensor_data(w);
  const float *dyd = cv_tensor_data(dy);
  float *dxd = dx ? cv_tensor_data(dx) : NULL, *dwd = dw ? cv_tensor_data(dw) : NULL;
  if (per_image) {
    backward_per_image(p, &g, threads, xd, wd, dyd, dxd, dwd, col, colsize,
                       col + colsize * (size_t)threads);
    return 0;
  }
  /* One image at a time: dw accumulates across them; the GEMMs are threaded. */
  int64_t xs = g.c * g.h * g.w, ys = g.m * g.ohw;
  for (int64_t n = 0; n < g.n; n++)
    backward_image(p, &g, xd + n * xs, wd, dyd + n * ys,
                   dxd ? dxd + n * xs : NULL, dwd, col);
  return 0;
}

int cv_conv2d_backward(const cv_conv_params *p, const cv_tensor *x,
                       const cv_tensor *w, const cv_tensor *dy, cv_tensor *dx,
                       cv_tensor *dw, cv_tensor *db, cv_workspace *ws,
                       cv_error *err) {
  conv_geom g;
  if (conv_setup(p, x, w, NULL, dy, "output gradient", &g, err)) return -1;
  if ((dx && cv_check_like("conv2d", "input gradient", dx, "input", x, err)) ||
      (dw && cv_check_like("conv2d", "weight gradient", dw, "weight", w, err)) ||
      (db && cv_check_shape("conv2d", "bias gradient", db, 1, &g.m, err)))
    return -1;
  if (db) bias_grad(&g, cv_tensor_data(dy), cv_tensor_data(db));
  if (cv_tensor_numel(dy) == 0 || g.kdim == 0) {  /* nothing else flows */
    if (dx) cv_tensor_fill(dx, 0.0f);
    return 0;
  }
  /* 3x3 and 5x5 stride 1: the weight gradient, and the input gradient (a
   * convolution of dy), by Winograd's transforms; what is left by im2col. */
  float *dx_winograd = NULL, *dw_winograd = NULL;
  if (dx && choose(p, g.mg, g.c / p->group, g.n, g.h, g.w) == CV_CONV_WINOGRAD) {
    dx_winograd = cv_tensor_data(dx);
    dx = NULL;
  }
  if (dw && choose(p, g.c / p->group, g.mg, g.n, g.oh, g.ow) == CV_CONV_WINOGRAD) {
    dw_winograd = cv_tensor_data(dw);
    dw = NULL;
  }
  int threads = cv_threads_get();
  if (dx) note("conv2d input grad", p, &g, im2col_name(&g, threads));
  if (dw) note("conv2d weight grad", p, &g, im2col_name(&g, threads));
  if (dx_winograd) note("conv2d input grad", p, &g, winograd_name(p));
  if (dw_winograd) note("conv2d weight grad", p, &g, winograd_name(p));
  if ((dw || dx) && conv_backward_im2col(p, &g, x, w, dy, dx, dw, ws, err))
    return -1;
  cv_winograd_shape fwd = {g.n, g.c, g.h, g.w, g.m, g.oh, g.ow, p->group, p->pad_h,
                           p->kernel_h};
  if (dw_winograd && cv_winograd_weight_grad(&fwd, cv_tensor_data(x), cv_tensor_data(dy),
                                             dw_winograd, ws, err))
    return -1;
  cv_winograd_shape bwd = {g.n, g.m, g.oh, g.ow, g.c, g.h, g.w, p->group,
                           p->kernel_h - 1 - p->pad_h, p->kernel_h};
  cv_weights_tag tag = weights_tag(w);
  return dx_winograd ? cv_winograd_input_grad(&bwd, cv_tensor_data(dy), cv_tensor_data(w),
                                              &tag, dx_winograd, ws, err)
                     : 0;
}

/* Row norms of one image's weight gradient: filter m's L2 norm over its
 * C/group x kh x kw weights. */
static void image_filter_norms(const cv_conv_params *p, const conv_geom *g,
                               const float *x, const float *dy, float *dw,
                               float *col, float *norms) {
  memset(dw, 0, (size_t)(g->m * g->kdim) * sizeof *dw);
  backward_image(p, g, x, NULL, dy, NULL, dw, col);
  for (int64_t m = 0; m < g->m; m++) {
    double s = 0;
    for (int64_t k = 0; k < g->kdim; k++) s += (double)dw[m * g->kdim + k] * dw[m * g->kdim + k];
    norms[m] = (float)sqrt(s);
  }
}

int cv_conv2d_filter_grad_norms(const cv_conv_params *p, const cv_tensor *x,
                                const cv_tensor *w, const cv_tensor *dy,
                                cv_tensor *norms, cv_workspace *ws,
                                cv_error *err) {
  conv_geom g;
  if (conv_setup(p, x, w, NULL, dy, "output gradient", &g, err)) return -1;
  int64_t want[2] = {g.n, g.m};
  if (cv_check_shape("conv2d", "norms", norms, 2, want, err)) return -1;
  if (cv_tensor_numel(dy) == 0 || g.kdim == 0) {
    cv_tensor_fill(norms, 0.0f);
    return 0;
  }
  /* One image per thread, and every image's GEMM on one thread even when
   * the batch has fewer images than threads: a threaded GEMM may split its
   * sum over output positions among the threads, and the norms must be the
   * same bits at any thread count (the MPI ranks of a sharded run have
   * fewer threads than one process). */
  int threads = cv_threads_get();
  int slots = g.n < threads ? (int)g.n : threads;
  note("conv2d filter grad norms", p, &g, "im2col + single-threaded sgemm, image per thread");
  size_t colsize = (size_t)(g.c * p->kernel_h * p->kernel_w * g.ohw);
  size_t per = colsize + (size_t)(g.m * g.kdim);
  float *buf = cv_workspace_reserve(ws, per * (size_t)slots + 1, err);
  if (!buf) return cv_error_prefix(err, "conv2d");
  const float *xd = cv_tensor_data(x), *dyd = cv_tensor_data(dy);
  float *nd = cv_tensor_data(norms);
  int64_t xs = g.c * g.h * g.w, ys = g.m * g.ohw;
  if (slots > 1) {
#pragma omp parallel for schedule(static) num_threads(slots)
    for (int64_t n = 0; n < g.n; n++) {
      float *mine = buf + per * (size_t)omp_get_thread_num();
      image_filter_norms(p, &g, xd + n * xs, dyd + n * ys, mine + colsize, mine,
                         nd + n * g.m);
    }
  } else { /* outside a parallel region the GEMM would take every thread */
    int was = omp_get_max_threads();
    omp_set_num_threads(1);
    for (int64_t n = 0; n < g.n; n++)
      image_filter_norms(p, &g, xd + n * xs, dyd + n * ys, buf + colsize, buf, nd + n * g.m);
    omp_set_num_threads(was);
  }
  return 0;
}
