/* winograd.c — F(2x2, 3x3) and F(2x2, 5x5) convolution (winograd.h).
 *
 * Per a x a input tile d (a = r + 1) and r x r kernel g, a 2x2 output block
 * is
 *   Y = A^T [ (G g G^T) .* (B^T d B) ] A,
 * and the sum over input channels of the element-wise products is, for each
 * of the a^2 positions e of the tile, one GEMM: transformed tiles (blocks x
 * in) times transformed weights (in x out). The GEMMs carry a^2 / (4 r^2)
 * of im2col's arithmetic: 16/36 for 3x3, 36/100 for 5x5.
 *
 * The matrices are Toom-Cook's for the points 0, 1, -1 (and 2, -2 for 5x5)
 * and infinity. The tile transforms work on a vector of channels at once
 * (16 with AVX-512, 8 with AVX2: simd.h), one vector per tile position, so
 * the transformed tiles and products are laid out [e][block][channel]; each
 * group of a vector's planes is first copied into position-major order with
 * a zero border. */
#include <omp.h>
#include <string.h>

#include "simd.h"
#include "tensor/gemm.h"
#include "winograd.h"
#include "winograd_cache.h"

#define MAX_A 6

/* Before each loop over a tile's rows, columns or coefficients: unrolled
 * (by MAX_A), F3's and F5's coefficients become constants and their zero
 * terms fold away; GCC does not unroll these nests by itself. */
#define UNROLL _Pragma("GCC unroll 6")
#define LANES CV_LANES

typedef cv_vec vec;
#define VLOAD CV_VLOAD
#define VSTORE CV_VSTORE

typedef struct {
  int r, a;               /* kernel size, tile size r + 1 */
  float bt[MAX_A][MAX_A]; /* B^T: a x a */
  float g[MAX_A][5];      /* G: a x r */
  float at[2][MAX_A];     /* A^T: 2 x a */
} kind;

static const kind F3 = {
    3, 4,
    {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}},
    {{1, 0, 0}, {0.5f, 0.5f, 0.5f}, {0.5f, -0.5f, 0.5f}, {0, 0, 1}},
    {{1, 1, 1, 0}, {0, 1, -1, -1}},
};

static const kind F5 = {
    5, 6,
    {{4, 0, -5, 0, 1, 0},
     {0, -4, -4, 1, 1, 0},
     {0, 4, -4, -1, 1, 0},
     {0, -2, -1, 2, 1, 0},
     {0, 2, -1, -2, 1, 0},
     {0, 4, 0, -5, 0, 1}},
    {{1.0f / 4, 0, 0, 0, 0},
     {-1.0f / 6, -1.0f / 6, -1.0f / 6, -1.0f / 6, -1.0f / 6},
     {-1.0f / 6, 1.0f / 6, -1.0f / 6, 1.0f / 6, -1.0f / 6},
     {1.0f / 24, 1.0f / 12, 1.0f / 6, 1.0f / 3, 2.0f / 3},
     {1.0f / 24, -1.0f / 12, 1.0f / 6, -1.0f / 3, 2.0f / 3},
     {0, 0, 0, 0, 1}},
    {{1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 1}},
};

int cv_winograd_fits(const cv_conv_params *p) {
  int k = p->kernel_h;
  return (k == 3 || k == 5) && p->kernel_w == k && p->stride_h == 1 &&
         p->stride_w == 1 && p->dilation_h == 1 && p->dilation_w == 1 &&
         p->pad_h == p->pad_w && p->pad_h <= k - 1;
}

typedef struct {
  const cv_winograd_shape *s;
  const kind *k;
  int64_t in_g, out_g;    /* channels per group, in and out */
  int64_t tiles_w, tiles_h, tiles; /* 2x2 output blocks per row, column, image */
  int64_t t;              /* blocks of the images: rows of the GEMMs */
  int64_t ph, pw;         /* the padded input plane the tiles cover */
  int64_t scratch;        /* floats of scratch per thread */
} plan;

static plan make_plan(const cv_winograd_shape *s) {
  plan pl = {s, s->kernel == 5 ? &F5 : &F3, s->c / s->group, s->m / s->group,
             (s->ow + 1) / 2, (s->oh + 1) / 2, 0, 0, 0, 0, 0};
  int64_t a = pl.k->a;
  pl.tiles = pl.tiles_w * pl.tiles_h;
  pl.t = s->n * pl.tiles;
  pl.ph = 2 * pl.tiles_h + a - 2;
  pl.pw = 2 * pl.tiles_w + a - 2;
  pl.scratch = pl.ph * pl.pw * LANES; /* covers the 2th x 2tw of the output */
  return pl;
}

/* Copies planes [c0, c0 + n) of one image (h x w each) into buf, position
 * by position with LANES lanes (channel c0 + l in lane l), at offset `off`
 * inside a zero border of bh x bw positions. */
static void gather_planes(const float *x, int64_t h, int64_t w, int64_t n,
                          int64_t off, int64_t bh, int64_t bw, float *buf) {
  memset(buf, 0, sizeof(float) * (size_t)(bh * bw * LANES));
  for (int64_t l = 0; l < n; l++) {
    const float *xp = x + l * h * w;
    for (int64_t i = 0; i < h; i++)
      for (int64_t j = 0; j < w; j++)
        buf[((i + off) * bw + j + off) * LANES + l] = xp[i * w + j];
  }
}

/* The first n lanes of v to dst (all of them when n is LANES). */
static inline void store_lanes(float *dst, const vec *v, int64_t n) {
  if (n == LANES) VSTORE(dst, *v);
  else memcpy(dst, v, sizeof(float) * (size_t)n);
}

/* out(i, j) = init + the sum over q < inner of c(i, q) x(q, j), for i < rows
 * and j < cols: a constant matrix (c(i, q) = c[i * ci + q * cq]) times one
 * of vectors (x(q, j) = x[q * xq + j * xj], out(i, j) = out[i * oi + j *
 * oj]). Each transform is two of these, one for each side; inlined with a
 * constant kind, the loops unroll and the zero terms drop out. */
static inline __attribute__((always_inline)) void times(
    int rows, int inner, int cols, const float *c, int ci, int cq,
    const vec *x, int xq, int xj, const vec *init, vec *out, int oi, int oj) {
  UNROLL
  for (int i = 0; i < rows; i++)
    UNROLL
    for (int j = 0; j < cols; j++) {
      vec sum = *init;
      UNROLL
      for (int q = 0; q < inner; q++)
        if (c[i * ci + q * cq] != 0.0f) sum += c[i * ci + q * cq] * x[q * xq + j * xj];
      out[i * oi + j * oj] = sum;
    }
}

static const vec zero;

/* out = B^T d B for one tile of LANES channels. */
static inline __attribute__((always_inline)) void tile_in(const kind *k,
                                                          const vec *d,
                                                          vec *out) {
  int a = k->a;
  vec r[MAX_A * MAX_A];
  times(a, a, a, &k->bt[0][0], MAX_A, 1, d, a, 1, &zero, r, a, 1);   /* B^T d */
  times(a, a, a, &k->bt[0][0], MAX_A, 1, r, 1, a, &zero, out, 1, a); /* (B^T d) B */
}

/* u[e][t][c] = (B^T d B)[e] for the LANES (or fewer) input planes of job q
 * (image, block of channels) and each of their blocks t. */
static inline __attribute__((always_inline)) void input_job(
    const kind *k, const plan *pl, const float *x, float *u, float *buf,
    int64_t q) {
  const cv_winograd_shape *s = pl->s;
  int a = k->a;
  int64_t blocks = (s->c + LANES - 1) / LANES, img = q / blocks;
  int64_t c0 = (q % blocks) * LANES, n = s->c - c0 < LANES ? s->c - c0 : LANES;
  gather_planes(x + (img * s->c + c0) * s->h * s->w, s->h, s->w, n, s->pad,
                pl->ph, pl->pw, buf);
  size_t e_step = (size_t)(pl->t * s->c);
  for (int64_t ty = 0; ty < pl->tiles_h; ty++)
    for (int64_t tx = 0; tx < pl->tiles_w; tx++) {
      vec d[MAX_A * MAX_A], v[MAX_A * MAX_A];
      UNROLL
      for (int i = 0; i < a; i++)
        UNROLL
        for (int j = 0; j < a; j++)
          d[i * a + j] = VLOAD(buf + ((2 * ty + i) * pl->pw + 2 * tx + j) * LANES);
      tile_in(k, d, v);
      float *out = u + (img * pl->tiles + ty * pl->tiles_w + tx) * s->c + c0;
      UNROLL
      for (int e = 0; e < a * a; e++) store_lanes(out + e * e_step, &v[e], n);
    }
}

/* y = A^T m A + b for each block of the LANES (or fewer) output planes of job q
 * (image, block of channels), through buf (position-major) to the planes. */
static inline __attribute__((always_inline)) void output_job(
    const kind *k, const plan *pl, const float *prod, const float *b,
    float *y, float *buf, int64_t q) {
  const cv_winograd_shape *s = pl->s;
  int a = k->a;
  int64_t blocks = (s->m + LANES - 1) / LANES, img = q / blocks;
  int64_t m0 = (q % blocks) * LANES, n = s->m - m0 < LANES ? s->m - m0 : LANES;
  int64_t bw = 2 * pl->tiles_w;
  vec bias = {0};
  for (int64_t l = 0; l < n && b; l++) bias[l] = b[m0 + l];
  size_t e_step = (size_t)(pl->t * s->m);
  for (int64_t ty = 0; ty < pl->tiles_h; ty++)
    for (int64_t tx = 0; tx < pl->tiles_w; tx++) {
      const float *src = prod + (img * pl->tiles + ty * pl->tiles_w + tx) * s->m + m0;
      vec m[MAX_A * MAX_A], r[2 * MAX_A];
      UNROLL
      for (int e = 0; e < a * a; e++) m[e] = VLOAD(src + e * e_step);
      times(2, a, a, &k->at[0][0], MAX_A, 1, m, a, 1, &zero, r, a, 1); /* A^T m */
      /* (A^T m) A + b, to the block's 2 x 2 positions in buf */
      times(2, a, 2, &k->at[0][0], MAX_A, 1, r, 1, a, &bias,
            (vec *)(buf + (2 * ty * bw + 2 * tx) * LANES), 1, (int)bw);
    }
  for (int64_t l = 0; l < n; l++) {
    float *yp = y + (img * s->m + m0 + l) * s->oh * s->ow;
    for (int64_t i = 0; i < s->oh; i++)
      for (int64_t j = 0; j < s->ow; j++) yp[i * s->ow + j] = buf[(i * bw + j) * LANES + l];
  }
}

/* z[e][t][m] = (A dy A^T)[e] for each 2x2 block of the LANES (or fewer)
 * gradient planes of job q (image, block of channels); zeros where a block
 * overhangs an odd output size. */
static inline __attribute__((always_inline)) void grad_job(
    const kind *k, const plan *pl, const float *dy, float *z, float *buf,
    int64_t q) {
  const cv_winograd_shape *s = pl->s;
  int a = k->a;
  int64_t blocks = (s->m + LANES - 1) / LANES, img = q / blocks;
  int64_t m0 = (q % blocks) * LANES, n = s->m - m0 < LANES ? s->m - m0 : LANES;
  int64_t bh = 2 * pl->tiles_h, bw = 2 * pl->tiles_w;
  gather_planes(dy + (img * s->m + m0) * s->oh * s->ow, s->oh, s->ow, n, 0, bh, bw, buf);
  size_t e_step = (size_t)(pl->t * s->m);
  for (int64_t ty = 0; ty < pl->tiles_h; ty++)
    for (int64_t tx = 0; tx < pl->tiles_w; tx++) {
      vec g[4], rr[2 * MAX_A], v[MAX_A * MAX_A];
      UNROLL
      for (int p = 0; p < 2; p++)
        UNROLL
        for (int qv = 0; qv < 2; qv++)
          g[p * 2 + qv] = VLOAD(buf + ((2 * ty + p) * bw + 2 * tx + qv) * LANES);
      times(a, 2, 2, &k->at[0][0], 1, MAX_A, g, 2, 1, &zero, rr, 2, 1); /* A dy */
      times(a, 2, a, &k->at[0][0], 1, MAX_A, rr, 1, 2, &zero, v, 1, a); /* (A dy) A^T */
      float *out = z + (img * pl->tiles + ty * pl->tiles_w + tx) * s->m + m0;
      UNROLL
      for (int e = 0; e < a * a; e++) store_lanes(out + e * e_step, &v[e], n);
    }
}

/* v[e][o][i] = (G g G^T)[e] for output channel o and the LANES (or fewer)
 * input channels i0.. of job q (within o's group), one vector per kernel
 * position. For the input gradient (swap set), this convolution's output
 * channel o is the original's input channel and i the original's output
 * channel in that group; the kernel is the original's, turned by 180
 * degrees. */
static inline __attribute__((always_inline)) void weight_job(
    const kind *k, const plan *pl, const float *w, int swap, float *v,
    int64_t q) {
  const cv_winograd_shape *s = pl->s;
  int r = k->r, a = k->a, rr = r * r;
  int64_t blocks = (pl->in_g + LANES - 1) / LANES, o = q / blocks;
  int64_t i0 = (q % blocks) * LANES, n = pl->in_g - i0 < LANES ? pl->in_g - i0 : LANES;
  /* Where lane l's kernel starts, and the step between its positions. */
  const float *src;
  int64_t lane_step;
  int pos_step;
  if (!swap) {
    src = w + (o * pl->in_g + i0) * rr;
    lane_step = rr;
    pos_step = 1;
  } else {
    int64_t group = o / pl->out_g, o_local = o % pl->out_g;
    src = w + ((group * pl->in_g + i0) * pl->out_g + o_local) * rr + rr - 1;
    lane_step = pl->out_g * rr;
    pos_step = -1;
  }
  float lanes[25][LANES] __attribute__((aligned(64)));
  if (n < LANES) memset(lanes, 0, sizeof lanes);
  for (int64_t l = 0; l < n; l++)
    for (int z = 0; z < rr; z++) lanes[z][l] = src[l * lane_step + z * pos_step];
  vec g[25], t[MAX_A * 5], gg[MAX_A * MAX_A];
  UNROLL
  for (int z = 0; z < rr; z++) g[z] = VLOAD(lanes[z]);
  times(a, r, r, &k->g[0][0], 5, 1, g, r, 1, &zero, t, r, 1);   /* G g */
  times(a, r, a, &k->g[0][0], 5, 1, t, 1, r, &zero, gg, 1, a);  /* (G g) G^T */
  size_t e_step = (size_t)(s->m * pl->in_g);
  float *out = v + o * pl->in_g + i0;
  UNROLL
  for (int e = 0; e < a * a; e++) store_lanes(out + (size_t)e * e_step, &gg[e], n);
}

/* The jobs of one transform on every thread, each with its own scratch; F3
 * or F5 a constant inside each loop. */
#define EACH_JOB(pl, jobs, scratch, call)                                    \
  _Pragma("omp parallel") {                                                \
    float *mine = (scratch) + (size_t)omp_get_thread_num() * (size_t)(pl)->scratch; \
    _Pragma("omp for schedule(static)")                                    \
    for (int64_t q = 0; q < (jobs); q++) {                                 \
      if ((pl)->k->r == 5) call(&F5, mine, q);                             \
      else call(&F3, mine, q);                                             \
    }                                                                      \
  }

static int64_t jobs(const plan *pl, int64_t channels) {
  return pl->s->n * ((channels + LANES - 1) / LANES);
}

static void transform_input(const plan *pl, const float *x, float *u,
                            float *scratch) {
#define INPUT(k, mine, q) input_job(k, pl, x, u, mine, q)
  EACH_JOB(pl, jobs(pl, pl->s->c), scratch, INPUT)
#undef INPUT
}

static void transform_output(const plan *pl, const float *prod,
                             const float *b, float *y, float *scratch) {
#define OUTPUT(k, mine, q) output_job(k, pl, prod, b, y, mine, q)
  EACH_JOB(pl, jobs(pl, pl->s->m), scratch, OUTPUT)
#undef OUTPUT
}

static void transform_grad(const plan *pl, const float *dy, float *z,
                           float *scratch) {
#define GRAD(k, mine, q) grad_job(k, pl, dy, z, mine, q)
  EACH_JOB(pl, jobs(pl, pl->s->m), scratch, GRAD)
#undef GRAD
}

static void transform_weights(const plan *pl, const float *w, int swap,
                              float *v) {
  int64_t jobs = pl->s->m * ((pl->in_g + LANES - 1) / LANES);
#pragma omp parallel for schedule(static)
  for (int64_t q = 0; q < jobs; q++) {
    if (pl->k->r == 5) weight_job(&F5, pl, w, swap, v, q);
    else weight_job(&F3, pl, w, swap, v, q);
  }
}

/* prod[e] = u[e] v[e]^T, group by group: a^2 x groups independent GEMMs,
 * one per thread at a time (OpenBLAS runs serially inside a parallel
 * region). */
static void multiply(const plan *pl, const float *v, const float *u,
                     float *prod) {
  const cv_winograd_shape *s = pl->s;
  int items = pl->k->a * pl->k->a * s->group;
#pragma omp parallel for schedule(dynamic)
  for (int item = 0; item < items; item++) {
    int e = item / s->group, gi = item % s->group;
    cv_sgemm(CblasNoTrans, CblasTrans, (int)pl->t,
             (int)pl->out_g, (int)pl->in_g, 1.0f,
             u + e * pl->t * s->c + gi * pl->in_g, (int)s->c,
             v + (e * s->m + gi * pl->out_g) * pl->in_g, (int)pl->in_g, 0.0f,
             prod + e * pl->t * s->m + gi * pl->out_g, (int)s->m);
  }
}

/* dwt[e] = (or +=, with add) z[e]^T u[e], group by group (a sum over the
 * blocks of the images): a^2 x groups GEMMs, one per thread at a time. */
static void multiply_weight_grad(const plan *pl, const float *z, const float *u,
                                 float *dwt, int add) {
  const cv_winograd_shape *s = pl->s;
  int items = pl->k->a * pl->k->a * s->group;
#pragma omp parallel for schedule(dynamic)
  for (int item = 0; item < items; item++) {
    int e = item / s->group, gi = item % s->group;
    cv_sgemm(CblasTrans, CblasNoTrans, (int)pl->out_g,
             (int)pl->in_g, (int)pl->t, 1.0f,
             z + e * pl->t * s->m + gi * pl->out_g, (int)s->m,
             u + e * pl->t * s->c + gi * pl->in_g, (int)s->c,
             add ? 1.0f : 0.0f,
             dwt + (e * s->m + gi * pl->out_g) * pl->in_g, (int)pl->in_g);
  }
}

/* dw += G^T dwt G for the LANES (or fewer) kernels from pair q0 on (a pair
 * is an output channel and an input channel of its group, in dw's order):
 * the gradient of V = G g G^T taken back to the r x r kernel g. */
static inline __attribute__((always_inline)) void weight_grad_job(
    const kind *k, const plan *pl, const float *dwt, float *dw, int64_t q0) {
  int r = k->r, a = k->a, rr = r * r;
  int64_t pairs = pl->s->m * pl->in_g, n = pairs - q0 < LANES ? pairs - q0 : LANES;
  vec t[MAX_A * MAX_A], h[5 * MAX_A];
  UNROLL
  for (int e = 0; e < a * a; e++) {
    if (n == LANES) {
      t[e] = VLOAD(dwt + e * pairs + q0);
    } else {
      t[e] = (vec){0};
      memcpy(&t[e], dwt + e * pairs + q0, sizeof(float) * (size_t)n);
    }
  }
  times(r, a, a, &k->g[0][0], 1, 5, t, a, 1, &zero, h, a, 1); /* G^T t */
  float lanes[25][LANES] __attribute__((aligned(64)));
  times(r, a, r, &k->g[0][0], 1, 5, h, 1, a, &zero, (vec *)lanes[0], 1, r); /* (G^T t) G */
  float *out = dw + q0 * rr;
  for (int64_t l = 0; l < n; l++)
    for (int z = 0; z < rr; z++) out[l * rr + z] += lanes[z][l];
}

static void accumulate_weight_grad(const plan *pl, const float *dwt, float *dw) {
  int64_t pairs = pl->s->m * pl->in_g;
#pragma omp parallel for schedule(static)
  for (int64_t q0 = 0; q0 < pairs; q0 += LANES) {
    if (pl->k->r == 5) weight_grad_job(&F5, pl, dwt, dw, q0);
    else weight_grad_job(&F3, pl, dwt, dw, q0);
  }
}

/* Images are taken a few at a time, so that their transformed tiles and
 * products (a^2 x channels x blocks each) stay in the caches between the
 * transforms and the GEMMs: about CHUNK_BYTES of them per pass. */
#define CHUNK_BYTES ((int64_t)6 << 20)

static int64_t chunk_images(const plan *pl) {
  const cv_winograd_shape *s = pl->s;
  int64_t a2 = pl->k->a * pl->k->a;
  int64_t per_image = a2 * (s->c + s->m) * pl->tiles * (int64_t)sizeof(float);
  int64_t k = CHUNK_BYTES / (per_image > 0 ? per_image : 1);
  return k < 1 ? 1 : k > s->n ? s->n : k;
}

/* The shape of k images of s. */
static cv_winograd_shape images(const cv_winograd_shape *s, int64_t k) {
  cv_winograd_shape c = *s;
  c.n = k;
  return c;
}

/* The transformed tiles, the products (or the gradient's transform; a
 * vector's worth more, as the last channels' loads read past the end), the
 * transformed weights (unless kept elsewhere: with_weights 0) and the
 * transforms' scratch, for chunks of k images. */
static float *reserve(const plan *whole, int64_t k, int with_weights,
                      cv_workspace *ws, float **second, float **weights,
                      float **scratch, cv_error *err) {
  const cv_winograd_shape *s = whole->s;
  int64_t a2 = whole->k->a * whole->k->a, t = k * whole->tiles;
  size_t nu = (size_t)(a2 * s->c * t), n2 = (size_t)(a2 * s->m * t + LANES);
  size_t nw = with_weights ? (size_t)(a2 * s->m * whole->in_g) : 0;
  size_t ns = (size_t)whole->scratch * (size_t)omp_get_max_threads();
  float *u = cv_workspace_reserve(ws, nu + n2 + nw + ns, err);
  if (!u) {
    cv_error_prefix(err, "conv2d");
    return NULL;
  }
  *second = u + nu;
  *weights = *second + n2;
  *scratch = *weights + nw;
  return u;
}

static int run(const cv_winograd_shape *s, const float *x, const float *w,
               const cv_weights_tag *tag, int swap, const float *b, float *y,
               cv_workspace *ws, cv_error *err) {
  plan whole = make_plan(s);
  int64_t k = chunk_images(&whole);
  cv_winograd_key key = {tag ? *tag : (cv_weights_tag){0, 0, 0}, s->m,
                         whole.in_g, s->group, s->kernel, swap};
  int current = 0;
  float *kept = cv_winograd_cache_take(
      &key, (size_t)(whole.k->a * whole.k->a * s->m * whole.in_g), &current);
  float *prod, *v, *scratch;
  float *u = reserve(&whole, k, !kept, ws, &prod, &v, &scratch, err);
  if (!u) {
    if (kept) cv_winograd_cache_give(kept, current);
    return -1;
  }
  if (kept) v = kept;
  if (!current) transform_weights(&whole, w, swap, v);
  for (int64_t i = 0; i < s->n; i += k) {
    cv_winograd_shape part = images(s, i + k <= s->n ? k : s->n - i);
    plan pl = make_plan(&part);
    transform_input(&pl, x + i * s->c * s->h * s->w, u, scratch);
    multiply(&pl, v, u, prod);
    transform_output(&pl, prod, b, y + i * s->m * s->oh * s->ow, scratch);
  }
  if (kept) cv_winograd_cache_give(kept, 1);
  return 0;
}

int cv_winograd_forward(const cv_winograd_shape *s, const float *x,
                        const float *w, const cv_weights_tag *tag,
                        const float *b, float *y, cv_workspace *ws,
                        cv_error *err) {
  return run(s, x, w, tag, 0, b, y, ws, err);
}

int cv_winograd_input_grad(const cv_winograd_shape *s, const float *dy,
                           const float *w, const cv_weights_tag *tag,
                           float *dx, cv_workspace *ws, cv_error *err) {
  return run(s, dy, w, tag, 1, NULL, dx, ws, err);
}

int cv_winograd_weight_grad(const cv_winograd_shape *s, const float *x,
                            const float *dy, float *dw, cv_workspace *ws,
                            cv_error *err) {
  plan whole = make_plan(s);
  int64_t k = chunk_images(&whole);
  float *z, *dwt, *scratch;
  float *u = reserve(&whole, k, 1, ws, &z, &dwt, &scratch, err);
  if (!u) return -1;
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
