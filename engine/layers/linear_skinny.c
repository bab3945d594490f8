/* linear_skinny.c — the InnerProduct products for a few rows (a small batch)
 * against a wide weight matrix, where sgemm does not reach the memory's
 * speed: CaffeNet's fc6 at batch 16 reads 151 MB of weights for 1.2 GFLOP.
 * Each weight is read from memory once and used from registers for a block
 * of rows; sums run over the vector's lanes, then across them (float, as
 * sgemm). The blocks are sized from the build's vector (simd.h): their
 * accumulators and loads fit the register file, so nothing spills. */
#include <omp.h>
#include <stdint.h>

#include "linear_skinny.h"
#include "simd.h"

/* Forward: ROWS rows of x by COLS rows of w, ROWS x COLS accumulators plus
 * ROWS + COLS loaded vectors live: 4 x 4 takes 24 of AVX-512's 32
 * registers, 4 x 2 takes 14 of AVX2's 16 (4 x 3 would need 19). */
#if CV_VEC_REGS >= 32
#define ROWS 4
#define COLS 4
#else
#define ROWS 4
#define COLS 2
#endif

/* Weight gradient: DW_ROWS rows of dw by DW_VECS vectors of inputs, the
 * sums over the batch in registers. */
#if CV_VEC_REGS >= 32
#define DW_ROWS 4
#else
#define DW_ROWS 2
#endif
#define DW_VECS 4
#define DW_COLS (DW_VECS * CV_LANES)

static inline float lanes_sum(cv_vec v) {
  float s = 0.0f;
  for (int i = 0; i < CV_LANES; i++) s += v[i];
  return s;
}

/* y[i][j] for rows i0..i0+r-1 of x and j0..j0+c-1 of w, r <= ROWS and
 * c <= COLS: r x c sums in registers. Inlined with constant r and c. */
static inline __attribute__((always_inline)) void dots(
    int r, int c, int64_t n, int64_t k, const float *x, const float *w,
    int64_t i0, int64_t j0, float *y) {
  cv_vec a[ROWS][COLS];
  for (int p = 0; p < r; p++)
    for (int q = 0; q < c; q++) a[p][q] = (cv_vec){0};
  int64_t kv = k & ~(int64_t)(CV_LANES - 1);
  for (int64_t e = 0; e < kv; e += CV_LANES) {
    cv_vec xv[ROWS], wv[COLS];
    for (int p = 0; p < r; p++) {
      xv[p] = CV_VLOAD(x + (i0 + p) * k + e);
      CV_VREG(xv[p]);
    }
    for (int q = 0; q < c; q++) {
      wv[q] = CV_VLOAD(w + (j0 + q) * k + e);
      CV_VREG(wv[q]);
    }
    for (int p = 0; p < r; p++)
      for (int q = 0; q < c; q++) a[p][q] += xv[p] * wv[q];
  }
  for (int p = 0; p < r; p++)
    for (int q = 0; q < c; q++) {
      float s = lanes_sum(a[p][q]);
      for (int64_t e = kv; e < k; e++) s += x[(i0 + p) * k + e] * w[(j0 + q) * k + e];
      y[(i0 + p) * n + j0 + q] = s;
    }
}

/* Every row of x against weights j0..j0+c-1: blocks of ROWS rows, then the
 * rows left over in one smaller block. */
static inline __attribute__((always_inline)) void column_block(
    int c, int64_t m, int64_t n, int64_t k, const float *x, const float *w,
    int64_t j0, float *y) {
  int64_t i = 0;
  for (; i + ROWS <= m; i += ROWS) dots(ROWS, c, n, k, x, w, i, j0, y);
  switch (m - i) {
  case 3: dots(3, c, n, k, x, w, i, j0, y); break;
  case 2: dots(2, c, n, k, x, w, i, j0, y); break;
  case 1: dots(1, c, n, k, x, w, i, j0, y); break;
  default: break;
  }
}

void cv_skinny_forward(int64_t m, int64_t n, int64_t k, const float *x,
                       const float *w, float *y) {
  int64_t blocks = (n + COLS - 1) / COLS;
#pragma omp parallel for schedule(static) if (n * k > 65536 && !omp_in_parallel())
  for (int64_t b = 0; b < blocks; b++) {
    int64_t j0 = b * COLS;
    if (j0 + COLS <= n) {
      column_block(COLS, m, n, k, x, w, j0, y);
    } else {
      for (int64_t j = j0; j < n; j++) column_block(1, m, n, k, x, w, j, y);
    }
  }
}

/* dw rows j0..j0+r-1, columns e..e+DW_COLS-1: sums over the m rows in
 * registers, stored past the caches with stream set (simd.h). */
static inline __attribute__((always_inline)) void outer(
    int r, int64_t m, int64_t n, int64_t k, const float *dy, const float *x,
    int64_t j0, int64_t e, int stream, float *dw) {
  cv_vec a[DW_ROWS][DW_VECS];
  for (int p = 0; p < r; p++)
    for (int q = 0; q < DW_VECS; q++) a[p][q] = (cv_vec){0};
  for (int64_t i = 0; i < m; i++) {
    float d[DW_ROWS];
    for (int p = 0; p < r; p++) d[p] = dy[i * n + j0 + p];
    const float *xr = x + i * k + e;
    for (int q = 0; q < DW_VECS; q++) {
      cv_vec xv = CV_VLOAD(xr + CV_LANES * q);
      CV_VREG(xv);
      for (int p = 0; p < r; p++) a[p][q] += d[p] * xv;
    }
  }
  for (int p = 0; p < r; p++)
    for (int q = 0; q < DW_VECS; q++) {
      float *to = dw + (j0 + p) * k + e + CV_LANES * q;
      if (stream) CV_VSTREAM(to, a[p][q]);
      else CV_VSTORE(to, a[p][q]);
    }
}

/* dw[j][e] for one element, for the inputs the blocks leave over. */
static float outer_1x1(int64_t m, int64_t n, int64_t k, const float *dy,
                       const float *x, int64_t j, int64_t e) {
  float s = 0.0f;
  for (int64_t i = 0; i < m; i++) s += dy[i * n + j] * x[i * k + e];
  return s;
}

void cv_skinny_weight_grad(int64_t m, int64_t n, int64_t k, const float *dy,
                           const float *x, float *dw) {
  int64_t kb = k - k % DW_COLS, blocks = (n + DW_ROWS - 1) / DW_ROWS;
  int stream = CV_STREAMS(dw, n * k, k);
#pragma omp parallel if (n * k > 65536 && !omp_in_parallel())
  {
#pragma omp for schedule(static)
    for (int64_t b = 0; b < blocks; b++) {
      int64_t j0 = b * DW_ROWS, j1 = j0 + DW_ROWS <= n ? j0 + DW_ROWS : n;
      for (int64_t e = 0; e < kb; e += DW_COLS) {
        if (j1 - j0 == DW_ROWS) outer(DW_ROWS, m, n, k, dy, x, j0, e, stream, dw);
        else
          for (int64_t j = j0; j < j1; j++) outer(1, m, n, k, dy, x, j, e, stream, dw);
      }
      for (int64_t j = j0; j < j1; j++)
        for (int64_t e = kb; e < k; e++) dw[j * k + e] = outer_1x1(m, n, k, dy, x, j, e);
    }
    if (stream) CV_STREAM_FENCE();
  }
}

#define STR_(x) #x
#define STR(x) STR_(x)

const char *cv_skinny_forward_kernel(void) {
  return "skinny, " STR(ROWS) "x" STR(COLS) " blocks of " STR(CV_LANES) " lanes";
}

const char *cv_skinny_weight_grad_kernel(void) {
  return "skinny, " STR(DW_ROWS) "x" STR(DW_VECS) " blocks of " STR(CV_LANES) " lanes";
}
