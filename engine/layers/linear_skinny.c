/* linear_skinny.c — the InnerProduct products for a few rows (a small batch)
 * against a wide weight matrix, where sgemm does not reach the memory's
 * speed: CaffeNet's fc6 at batch 16 reads 151 MB of weights for 1.2 GFLOP.
 * Each weight is read from memory once and used from registers for a block
 * of rows; sums run over 16 lanes, then across them (float, as sgemm). */
#include <omp.h>
#include <stdint.h>

#include "linear_skinny.h"

/* 16 floats; aligned(4) so that any float address may be loaded. */
typedef float v16 __attribute__((vector_size(64), aligned(4)));

/* Macros, not functions: vectors passed by value change the ABI on
 * targets without 512-bit registers, which compilers warn about. */
#define LOAD(p) (*(const v16 *)(p))
#define STORE(p, v) (*(v16 *)(p) = (v))

static float lanes_sum(const v16 *v) {
  float s = 0.0f;
  for (int i = 0; i < 16; i++) s += (*v)[i];
  return s;
}

/* y[i][j] for rows i0..i0+3 of x and j0..j0+3 of w: 16 sums in registers. */
static void dots_4x4(int64_t n, int64_t k, const float *x, const float *w,
                     int64_t i0, int64_t j0, float *y) {
  v16 a[4][4] = {{{0}}};
  int64_t kv = k & ~(int64_t)15;
  for (int64_t c = 0; c < kv; c += 16) {
    v16 xv[4], wv[4];
    for (int r = 0; r < 4; r++) xv[r] = LOAD(x + (i0 + r) * k + c);
    for (int r = 0; r < 4; r++) wv[r] = LOAD(w + (j0 + r) * k + c);
    for (int p = 0; p < 4; p++)
      for (int q = 0; q < 4; q++) a[p][q] += xv[p] * wv[q];
  }
  for (int p = 0; p < 4; p++)
    for (int q = 0; q < 4; q++) {
      float s = lanes_sum(&a[p][q]);
      for (int64_t c = kv; c < k; c++) s += x[(i0 + p) * k + c] * w[(j0 + q) * k + c];
      y[(i0 + p) * n + j0 + q] = s;
    }
}

/* One y[i][j], for the rows and columns left over by the 4x4 blocks. */
static void dot_1x1(int64_t n, int64_t k, const float *x, const float *w,
                    int64_t i, int64_t j, float *y) {
  v16 a = {0};
  int64_t kv = k & ~(int64_t)15;
  for (int64_t c = 0; c < kv; c += 16) a += LOAD(x + i * k + c) * LOAD(w + j * k + c);
  float s = lanes_sum(&a);
  for (int64_t c = kv; c < k; c++) s += x[i * k + c] * w[j * k + c];
  y[i * n + j] = s;
}

void cv_skinny_forward(int64_t m, int64_t n, int64_t k, const float *x,
                       const float *w, float *y) {
  int64_t m4 = m & ~(int64_t)3, blocks = (n + 3) / 4;
#pragma omp parallel for schedule(static) if (n * k > 65536 && !omp_in_parallel())
  for (int64_t b = 0; b < blocks; b++) {
    int64_t j0 = b * 4;
    if (j0 + 4 <= n) {
      for (int64_t i = 0; i < m4; i += 4) dots_4x4(n, k, x, w, i, j0, y);
      for (int64_t i = m4; i < m; i++)
        for (int64_t j = j0; j < j0 + 4; j++) dot_1x1(n, k, x, w, i, j, y);
    } else {
      for (int64_t i = 0; i < m; i++)
        for (int64_t j = j0; j < n; j++) dot_1x1(n, k, x, w, i, j, y);
    }
  }
}

/* dw rows j0, j0+1, columns c..c+63: sums over the m rows in registers. */
static void outer_2x64(int64_t m, int64_t n, int64_t k, const float *dy,
                       const float *x, int64_t j0, int64_t c, float *dw) {
  v16 a[2][4] = {{{0}}};
  for (int64_t i = 0; i < m; i++) {
    float d0 = dy[i * n + j0], d1 = dy[i * n + j0 + 1];
    const float *xr = x + i * k + c;
    for (int q = 0; q < 4; q++) {
      v16 xv = LOAD(xr + 16 * q);
      a[0][q] += d0 * xv;
      a[1][q] += d1 * xv;
    }
  }
  for (int r = 0; r < 2; r++)
    for (int q = 0; q < 4; q++) STORE(dw + (j0 + r) * k + c + 16 * q, a[r][q]);
}

/* dw[j][c] for one element, for what the blocks leave over. */
static float outer_1x1(int64_t m, int64_t n, int64_t k, const float *dy,
                       const float *x, int64_t j, int64_t c) {
  float s = 0.0f;
  for (int64_t i = 0; i < m; i++) s += dy[i * n + j] * x[i * k + c];
  return s;
}

void cv_skinny_weight_grad(int64_t m, int64_t n, int64_t k, const float *dy,
                           const float *x, float *dw) {
  int64_t k64 = k & ~(int64_t)63, blocks = (n + 1) / 2;
#pragma omp parallel for schedule(static) if (n * k > 65536 && !omp_in_parallel())
  for (int64_t b = 0; b < blocks; b++) {
    int64_t j0 = b * 2, j1 = j0 + 2 <= n ? j0 + 2 : n;
    if (j1 - j0 == 2)
      for (int64_t c = 0; c < k64; c += 64) outer_2x64(m, n, k, dy, x, j0, c, dw);
    for (int64_t j = j0; j < j1; j++)
      for (int64_t c = j1 - j0 == 2 ? k64 : 0; c < k; c++)
        dw[j * k + c] = outer_1x1(m, n, k, dy, x, j, c);
  }
}
