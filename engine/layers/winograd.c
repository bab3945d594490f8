/* winograd.c — F(2x2, 3x3) convolution (winograd.h).
 *
 * Per 4x4 input tile d and 3x3 kernel g, a 2x2 output block is
 *   Y = A^T [ (G g G^T) .* (B^T d B) ] A,
 * and the sum over input channels of the element-wise products is, for each
 * of the 16 positions e of the 4x4, one GEMM: transformed weights (out x in)
 * times transformed tiles (in x tiles of every image). The transforms only
 * add, subtract and halve; the GEMMs carry the arithmetic, 16/36 of
 * im2col's. */
#include <cblas.h>
#include <omp.h>
#include <string.h>

#include "winograd.h"

/* Below about this many 2x2 output blocks in all (5 images of CaffeNet's
 * 13x13), the 16 GEMMs are too thin and the weights' transform too large a
 * share: im2col is as fast or faster (measured on conv3-5 at batch 1 to 16). */
#define MIN_BLOCKS 256

int cv_winograd_fits(const cv_conv_params *p) {
  return p->kernel_h == 3 && p->kernel_w == 3 && p->stride_h == 1 &&
         p->stride_w == 1 && p->dilation_h == 1 && p->dilation_w == 1 &&
         p->pad_h == p->pad_w && p->pad_h <= 2;
}

int cv_winograd_applies(const cv_conv_params *p, int64_t in_per_group,
                        int64_t out_per_group, int64_t n, int64_t oh,
                        int64_t ow) {
  if (p->algorithm == CV_CONV_IM2COL || !cv_winograd_fits(p)) return 0;
  return p->algorithm == CV_CONV_WINOGRAD ||
         (in_per_group >= 16 && out_per_group >= 16 &&
          n * ((oh + 1) / 2) * ((ow + 1) / 2) >= MIN_BLOCKS);
}

typedef struct {
  const cv_winograd_shape *s;
  int64_t in_g, out_g;   /* channels per group, in and out */
  int64_t tiles_w, tiles; /* 2x2 output blocks per row, per image */
  int64_t t;              /* blocks of all images: the GEMMs' columns */
  int64_t scratch;        /* floats of scratch per thread for the transforms */
} plan;

/* u[e][c][t] for every input plane and 2x2 output block t. Per plane: the
 * plane is copied into a zero border (the padding), then B^T d B is done
 * for a whole row of tiles at once, first down the rows (B^T d), then
 * across (. B), each of the 16 results written as one run of tiles. */
static void transform_input(const plan *pl, const float *x, float *u,
                            float *scratch) {
  const cv_winograd_shape *s = pl->s;
  int64_t planes = s->n * s->c, tw = pl->tiles_w, th = pl->tiles / tw;
  int64_t ph = 2 * th + 2, pw = 2 * tw + 2;
#pragma omp parallel
  {
    float *pad = scratch + (size_t)omp_get_thread_num() * (size_t)pl->scratch;
    float *r = pad + ph * pw; /* 4 rows of B^T d */
#pragma omp for schedule(static)
    for (int64_t q = 0; q < planes; q++) {
      int64_t img = q / s->c, c = q % s->c;
      const float *xp = x + q * s->h * s->w;
      for (int64_t i = 0; i < ph; i++)
        for (int64_t j = 0; j < pw; j++) {
          int64_t h = i - s->pad, w = j - s->pad;
          pad[i * pw + j] = h >= 0 && h < s->h && w >= 0 && w < s->w ? xp[h * s->w + w] : 0.0f;
        }
      for (int64_t ty = 0; ty < th; ty++) {
        const float *d0 = pad + 2 * ty * pw, *d1 = d0 + pw, *d2 = d1 + pw, *d3 = d2 + pw;
        for (int64_t j = 0; j < pw; j++) {
          r[j] = d0[j] - d2[j];
          r[pw + j] = d1[j] + d2[j];
          r[2 * pw + j] = d2[j] - d1[j];
          r[3 * pw + j] = d1[j] - d3[j];
        }
        float *out = u + c * pl->t + img * pl->tiles + ty * tw;
        size_t e_step = (size_t)(s->c * pl->t);
        for (int i = 0; i < 4; i++) {
          const float *ri = r + i * pw;
          float *o0 = out + (size_t)(4 * i) * e_step, *o1 = o0 + e_step;
          float *o2 = o1 + e_step, *o3 = o2 + e_step;
          for (int64_t tx = 0; tx < tw; tx++) {
            o0[tx] = ri[2 * tx] - ri[2 * tx + 2];
            o1[tx] = ri[2 * tx + 1] + ri[2 * tx + 2];
            o2[tx] = ri[2 * tx + 2] - ri[2 * tx + 1];
            o3[tx] = ri[2 * tx + 1] - ri[2 * tx + 3];
          }
        }
      }
    }
  }
}

/* G g G^T of one 3x3 kernel (row-major), into out[16]. */
static void kernel_transform(const float g[9], float out[16]) {
  float r[12];
  for (int j = 0; j < 3; j++) {  /* G g: 4 x 3 */
    r[0 + j] = g[j];
    r[3 + j] = 0.5f * (g[j] + g[3 + j] + g[6 + j]);
    r[6 + j] = 0.5f * (g[j] - g[3 + j] + g[6 + j]);
    r[9 + j] = g[6 + j];
  }
  for (int i = 0; i < 4; i++) {  /* (G g) G^T: 4 x 4 */
    const float *q = r + 3 * i;
    out[4 * i + 0] = q[0];
    out[4 * i + 1] = 0.5f * (q[0] + q[1] + q[2]);
    out[4 * i + 2] = 0.5f * (q[0] - q[1] + q[2]);
    out[4 * i + 3] = q[2];
  }
}

/* v[e][o][i] for output channel o and input channel i (within o's group).
 * For the input gradient (swap set), this convolution's output channel o is
 * the original's input channel and i the original's output channel in that
 * group; the kernel is the original's, turned by 180 degrees. */
static void transform_weights(const plan *pl, const float *w, int swap,
                              float *v) {
  const cv_winograd_shape *s = pl->s;
  int64_t pairs = s->m * pl->in_g;
#pragma omp parallel for schedule(static)
  for (int64_t q = 0; q < pairs; q++) {
    int64_t o = q / pl->in_g, i = q % pl->in_g;
    float g[9], t[16];
    if (!swap) {
      memcpy(g, w + q * 9, sizeof g);
    } else {
      int64_t group = o / pl->out_g, o_local = o % pl->out_g;
      const float *k = w + ((group * pl->in_g + i) * pl->out_g + o_local) * 9;
      for (int e = 0; e < 9; e++) g[e] = k[8 - e];
    }
    kernel_transform(g, t);
    for (int e = 0; e < 16; e++) v[(e * s->m + o) * pl->in_g + i] = t[e];
  }
}

/* prod[e] = v[e] u[e], group by group: 16 x groups independent GEMMs, one
 * per thread at a time (OpenBLAS runs serially inside a parallel region). */
static void multiply(const plan *pl, const float *v, const float *u,
                     float *prod) {
  const cv_winograd_shape *s = pl->s;
  int items = 16 * s->group;
#pragma omp parallel for schedule(dynamic)
  for (int item = 0; item < items; item++) {
    int e = item / s->group, gi = item % s->group;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)pl->out_g,
                (int)pl->t, (int)pl->in_g, 1.0f,
                v + (e * s->m + gi * pl->out_g) * pl->in_g, (int)pl->in_g,
                u + (e * s->c + gi * pl->in_g) * pl->t, (int)pl->t, 0.0f,
                prod + (e * s->m + gi * pl->out_g) * pl->t, (int)pl->t);
  }
}

/* y = A^T m A for each block, plus the bias, a row of blocks at a time
 * (the 16 products of a block row are runs over its tiles); blocks that
 * overhang an odd output size write only their inside. */
static void transform_output(const plan *pl, const float *prod,
                             const float *b, float *y, float *scratch) {
  const cv_winograd_shape *s = pl->s;
  int64_t planes = s->n * s->m, tw = pl->tiles_w, th = pl->tiles / tw;
#pragma omp parallel
  {
    float *r = scratch + (size_t)omp_get_thread_num() * (size_t)pl->scratch;
#pragma omp for schedule(static)
    for (int64_t q = 0; q < planes; q++) {
      int64_t img = q / s->m, o = q % s->m;
      float *yp = y + q * s->oh * s->ow, bias = b ? b[o] : 0.0f;
      size_t e_step = (size_t)(s->m * pl->t);
      for (int64_t ty = 0; ty < th; ty++) {
        const float *m0 = prod + o * pl->t + img * pl->tiles + ty * tw;
        for (int j = 0; j < 4; j++) { /* A^T m: rows a_j (top) and b_j (bottom) */
          const float *s0 = m0 + (size_t)j * e_step, *s1 = s0 + 4 * e_step;
          const float *s2 = s1 + 4 * e_step, *s3 = s2 + 4 * e_step;
          float *a = r + j * tw, *bt = r + (4 + j) * tw;
          for (int64_t tx = 0; tx < tw; tx++) {
            a[tx] = s0[tx] + s1[tx] + s2[tx];
            bt[tx] = s1[tx] - s2[tx] - s3[tx];
          }
        }
        for (int half = 0; half < 2 && 2 * ty + half < s->oh; half++) {
          const float *a0 = r + 4 * half * tw, *a1 = a0 + tw, *a2 = a1 + tw, *a3 = a2 + tw;
          float *row = yp + (2 * ty + half) * s->ow;
          int64_t full = s->ow / 2; /* blocks with both columns inside */
          for (int64_t tx = 0; tx < full; tx++) {
            row[2 * tx] = a0[tx] + a1[tx] + a2[tx] + bias;
            row[2 * tx + 1] = a1[tx] - a2[tx] - a3[tx] + bias;
          }
          if (full < tw) row[2 * full] = a0[full] + a1[full] + a2[full] + bias;
        }
      }
    }
  }
}

/* z[e][m][t] = A dy A^T for each 2x2 block of dy (zeros where a block
 * overhangs an odd output size), a row of blocks at a time. */
static void transform_grad(const plan *pl, const float *dy, float *z,
                           float *scratch) {
  const cv_winograd_shape *s = pl->s;
  int64_t planes = s->n * s->m, tw = pl->tiles_w, th = pl->tiles / tw;
#pragma omp parallel
  {
    float *rows = scratch + (size_t)omp_get_thread_num() * (size_t)pl->scratch;
#pragma omp for schedule(static)
    for (int64_t q = 0; q < planes; q++) {
      int64_t img = q / s->m, m = q % s->m;
      const float *gp = dy + q * s->oh * s->ow;
      size_t e_step = (size_t)(s->m * pl->t);
      for (int64_t ty = 0; ty < th; ty++) {
        float *y0 = rows, *y1 = rows + 2 * tw; /* the block row, zero-padded */
        for (int half = 0; half < 2; half++) {
          float *dst = half ? y1 : y0;
          int64_t r = 2 * ty + half;
          for (int64_t j = 0; j < 2 * tw; j++)
            dst[j] = r < s->oh && j < s->ow ? gp[r * s->ow + j] : 0.0f;
        }
        /* A dy: rows y0, y0 + y1, y0 - y1, -y1 (each over the whole block
         * row); then each 2-column block [p, q] of those times A^T:
         * [p, p + q, p - q, -q], written as runs over the blocks. */
        float *rr = rows + 4 * tw;
        for (int64_t j = 0; j < 2 * tw; j++) {
          rr[j] = y0[j];
          rr[2 * tw + j] = y0[j] + y1[j];
          rr[4 * tw + j] = y0[j] - y1[j];
          rr[6 * tw + j] = -y1[j];
        }
        float *out = z + m * pl->t + img * pl->tiles + ty * tw;
        for (int i = 0; i < 4; i++) {
          const float *ri = rr + 2 * i * tw;
          float *o0 = out + (size_t)(4 * i) * e_step, *o1 = o0 + e_step;
          float *o2 = o1 + e_step, *o3 = o2 + e_step;
          for (int64_t tx = 0; tx < tw; tx++) {
            float p = ri[2 * tx], qv = ri[2 * tx + 1];
            o0[tx] = p;
            o1[tx] = p + qv;
            o2[tx] = p - qv;
            o3[tx] = -qv;
          }
        }
      }
    }
  }
}

/* dwt[e] = (or +=, with add) z[e] u[e]^T, group by group (a sum over the
 * blocks of every image): 16 x groups GEMMs, one per thread at a time. */
static void multiply_weight_grad(const plan *pl, const float *z, const float *u,
                                 float *dwt, int add) {
  const cv_winograd_shape *s = pl->s;
  int items = 16 * s->group;
#pragma omp parallel for schedule(dynamic)
  for (int item = 0; item < items; item++) {
    int e = item / s->group, gi = item % s->group;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)pl->out_g,
                (int)pl->in_g, (int)pl->t, 1.0f,
                z + (e * s->m + gi * pl->out_g) * pl->t, (int)pl->t,
                u + (e * s->c + gi * pl->in_g) * pl->t, (int)pl->t,
                add ? 1.0f : 0.0f,
                dwt + (e * s->m + gi * pl->out_g) * pl->in_g, (int)pl->in_g);
  }
}

/* dw += G^T dwt G for each kernel: the gradient of V = G g G^T taken back
 * to the 3x3 kernel g. */
static void accumulate_weight_grad(const plan *pl, const float *dwt, float *dw) {
  const cv_winograd_shape *s = pl->s;
  int64_t pairs = s->m * pl->in_g;
#pragma omp parallel for schedule(static)
  for (int64_t q = 0; q < pairs; q++) {
    float t[16], r[12];
    for (int e = 0; e < 16; e++) t[e] = dwt[e * pairs + q];
    for (int j = 0; j < 4; j++) { /* G^T t: 3 x 4 */
      r[j] = t[j] + 0.5f * (t[4 + j] + t[8 + j]);
      r[4 + j] = 0.5f * (t[4 + j] - t[8 + j]);
      r[8 + j] = 0.5f * (t[4 + j] + t[8 + j]) + t[12 + j];
    }
    float *k = dw + q * 9;
    for (int i = 0; i < 3; i++) { /* (G^T t) G: 3 x 3 */
      const float *ri = r + 4 * i;
      k[3 * i + 0] += ri[0] + 0.5f * (ri[1] + ri[2]);
      k[3 * i + 1] += 0.5f * (ri[1] - ri[2]);
      k[3 * i + 2] += 0.5f * (ri[1] + ri[2]) + ri[3];
    }
  }
}

/* The plan of a convolution of shape s, and its scratch per thread. */
static plan make_plan(const cv_winograd_shape *s) {
  plan pl = {s, s->c / s->group, s->m / s->group, (s->ow + 1) / 2, 0, 0, 0};
  int64_t th = (s->oh + 1) / 2, pw = 2 * pl.tiles_w + 2;
  pl.tiles = pl.tiles_w * th;
  pl.t = s->n * pl.tiles;
  /* the input's padded plane and 4 rows; at least the 8 and 12 rows of
   * blocks the output and gradient transforms use */
  pl.scratch = (2 * th + 2) * pw + 4 * pw;
  return pl;
}

/* Images are taken a few at a time, so that their transformed tiles and
 * products (16 x channels x blocks each) stay in the caches between the
 * transforms and the GEMMs: about CHUNK_BYTES of them per pass. */
#define CHUNK_BYTES ((int64_t)6 << 20)

static int64_t chunk_images(const cv_winograd_shape *s, int64_t tiles) {
  int64_t per_image = 16 * (s->c + s->m) * tiles * (int64_t)sizeof(float);
  int64_t k = CHUNK_BYTES / (per_image > 0 ? per_image : 1);
  return k < 1 ? 1 : k > s->n ? s->n : k;
}

/* The shape of images [i, i + k) of s. */
static cv_winograd_shape images(const cv_winograd_shape *s, int64_t k) {
  cv_winograd_shape c = *s;
  c.n = k;
  return c;
}

int cv_winograd_weight_grad(const cv_winograd_shape *s, const float *x,
                            const float *dy, float *dw, cv_workspace *ws,
                            cv_error *err) {
  plan whole = make_plan(s);
  int64_t k = chunk_images(s, whole.tiles), t = k * whole.tiles;
  size_t nu = (size_t)(16 * s->c * t), nz = (size_t)(16 * s->m * t);
  size_t nw = (size_t)(16 * s->m * whole.in_g);
  size_t ns = (size_t)whole.scratch * (size_t)omp_get_max_threads();
  float *u = cv_workspace_reserve(ws, nu + nz + nw + ns, err);
  if (!u) return cv_error_prefix(err, "conv2d");
  float *z = u + nu, *dwt = z + nz, *scratch = dwt + nw;
  for (int64_t i = 0; i < s->n; i += k) {
    cv_winograd_shape part = images(s, i + k <= s->n ? k : s->n - i);
    plan pl = make_plan(&part);
    transform_input(&pl, x + i * s->c * s->h * s->w, u, scratch);
    transform_grad(&pl, dy + i * s->m * s->oh * s->ow, z, scratch);
    multiply_weight_grad(&pl, z, u, dwt, i > 0);
  }
  accumulate_weight_grad(&whole, dwt, dw);
  return 0;
}

static int run(const cv_winograd_shape *s, const float *x, const float *w,
               int swap, const float *b, float *y, cv_workspace *ws,
               cv_error *err) {
  plan whole = make_plan(s);
  int64_t k = chunk_images(s, whole.tiles), t = k * whole.tiles;
  size_t nu = (size_t)(16 * s->c * t), nv = (size_t)(16 * s->m * whole.in_g);
  size_t np = (size_t)(16 * s->m * t);
  size_t ns = (size_t)whole.scratch * (size_t)omp_get_max_threads();
  float *u = cv_workspace_reserve(ws, nu + nv + np + ns, err);
  if (!u) return cv_error_prefix(err, "conv2d");
  float *v = u + nu, *prod = v + nv, *scratch = prod + np;
  transform_weights(&whole, w, swap, v);
  for (int64_t i = 0; i < s->n; i += k) {
    cv_winograd_shape part = images(s, i + k <= s->n ? k : s->n - i);
    plan pl = make_plan(&part);
    transform_input(&pl, x + i * s->c * s->h * s->w, u, scratch);
    multiply(&pl, v, u, prod);
    transform_output(&pl, prod, b, y + i * s->m * s->oh * s->ow, scratch);
  }
  return 0;
}

int cv_winograd_forward(const cv_winograd_shape *s, const float *x,
                        const float *w, const float *b, float *y,
                        cv_workspace *ws, cv_error *err) {
  return run(s, x, w, 0, b, y, ws, err);
}

int cv_winograd_input_grad(const cv_winograd_shape *s, const float *dy,
                           const float *w, float *dx, cv_workspace *ws,
                           cv_error *err) {
  return run(s, dy, w, 1, NULL, dx, ws, err);
}
