/* reduce.c — sums, norms, moments, extremes, sort and top-k.
 *
 * A reduction along dim walks the output with cv_tensor_foreach next to a
 * header of the input whose size along dim is 1: each output element then
 * sits beside the first element of its line, and a line kernel walks the
 * line with the input's stride along dim. Accumulation is in double. */
#include "reduce.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "iter.h"
#include "math.h"

typedef enum { R_SUM, R_MEAN, R_NORM1, R_NORM2, R_NORMINF, R_VAR } reduce_kind;

typedef struct {
  reduce_kind kind;
  int64_t n, step; /* line length and stride */
  int unbiased;
} reduce_ctx;

/* ---- line kernels --------------------------------------------------------- */

static double line_sum(const float *x, int64_t n, int64_t step) {
  double s = 0;
  if (step == 1) {
#pragma omp parallel for reduction(+ : s) schedule(static) \
    if (n >= CV_PARALLEL_MIN && !omp_in_parallel())
    for (int64_t i = 0; i < n; i++) s += x[i];
  } else {
    for (int64_t i = 0; i < n; i++) s += x[i * step];
  }
  return s;
}

static double line_abs_sum(const float *x, int64_t n, int64_t step) {
  double s = 0;
  for (int64_t i = 0; i < n; i++) s += fabs((double)x[i * step]);
  return s;
}

/* Sum of squared deviations from m (m = 0 for the 2-norm). */
static double line_sq_dev(const float *x, int64_t n, int64_t step, double m) {
  double s = 0;
#pragma omp parallel for reduction(+ : s) schedule(static) \
    if (n >= CV_PARALLEL_MIN && !omp_in_parallel())
  for (int64_t i = 0; i < n; i++) {
    double d = (double)x[i * step] - m;
    s += d * d;
  }
  return s;
}

static double line_abs_max(const float *x, int64_t n, int64_t step) {
  double m = 0;
  for (int64_t i = 0; i < n; i++) {
    double v = fabs((double)x[i * step]);
    if (v != v) return v; /* NaN wins, as in PyTorch */
    if (v > m) m = v;
  }
  return m;
}

static float line_value(const reduce_ctx *c, const float *x) {
  int64_t n = c->n, st = c->step;
  switch (c->kind) {
  case R_SUM: return (float)line_sum(x, n, st);
  case R_MEAN: return (float)(line_sum(x, n, st) / (double)n);
  case R_NORM1: return (float)line_abs_sum(x, n, st);
  case R_NORM2: return (float)sqrt(line_sq_dev(x, n, st, 0.0));
  case R_NORMINF: return (float)line_abs_max(x, n, st);
  case R_VAR: {
    /* Two passes: the mean first, then squared deviations from it. */
    double m = line_sum(x, n, st) / (double)n;
    return (float)(line_sq_dev(x, n, st, m) / (double)(n - c->unbiased));
  }
  }
  return NAN;
}

/* Position of the first largest (want_max) or smallest element; a NaN
 * counts as both. n > 0. */
static int64_t line_extreme(const float *x, int64_t n, int64_t step,
                            int want_max) {
  int64_t best = 0;
  float bv = x[0];
  if (bv != bv) return 0;
  for (int64_t i = 1; i < n; i++) {
    float v = x[i * step];
    if (v != v) return i;
    if (want_max ? v > bv : v < bv) bv = v, best = i;
  }
  return best;
}

/* ---- shapes --------------------------------------------------------------- */

/* A contiguous result of a's shape without dim (or with it as size 1). */
static cv_tensor *reduced_new(const cv_tensor *a, int dim, int keepdim,
                              cv_error *err) {
  int64_t size[CV_MAX_DIMS];
  int n = 0;
  for (int d = 0; d < a->ndim; d++) {
    if (d != dim) size[n++] = a->size[d];
    else if (keepdim) size[n++] = 1;
  }
  return cv_tensor_empty(n, size, err);
}

/* out seen with a's dims and size 1 along dim, for walking beside a. */
static void keepdim_header(const cv_tensor *out, const cv_tensor *a, int dim,
                           cv_tensor *view) {
  *view = *out;
  view->ndim = a->ndim;
  int k = 0, dropped = out->ndim < a->ndim;
  for (int d = 0; d < a->ndim; d++) {
    if (d == dim) {
      view->size[d] = 1, view->stride[d] = 0;
      if (!dropped) k++;
    } else {
      view->size[d] = out->size[k], view->stride[d] = out->stride[k];
      k++;
    }
  }
}

/* a with size 1 along dim: each element is the start of one line. */
static void line_header(const cv_tensor *a, int dim, cv_tensor *view) {
  *view = *a;
  view->size[dim] = 1;
}

/* ---- reductions over leading dims of contiguous tensors -----------------
 * Reducing along a dim with contiguous dims after it (sum over a batch, say)
 * would walk each line with a large stride. Instead the tensor is seen as
 * (outer, n, inner) and blocks of COL_BLOCK neighbouring columns are reduced
 * together, row after row, into double accumulators on the stack. */

#define COL_BLOCK 256

typedef struct {
  int64_t outer, n, inner;
} slab;

/* 1 when a is contiguous with more than one element after dim. */
static int as_slab(const cv_tensor *a, int dim, slab *s) {
  if (!cv_tensor_is_contiguous(a)) return 0;
  s->outer = 1, s->inner = 1, s->n = a->size[dim];
  for (int d = 0; d < dim; d++) s->outer *= a->size[d];
  for (int d = dim + 1; d < a->ndim; d++) s->inner *= a->size[d];
  return s->inner > 1;
}

/* acc[j] = sum over rows k of f(x[k * inner + j]) for j < w. */
#define COLUMN_SUM(F)                                                       \
  do {                                                                      \
    for (int64_t k = 0; k < n; k++) {                                       \
      const float *row = x + k * inner;                                     \
      for (int j = 0; j < w; j++) {                                         \
        double v = row[j];                                                  \
        acc[j] += (F);                                                      \
      }                                                                     \
    }                                                                       \
  } while (0)

static void column_block(const reduce_ctx *c, const float *x, int64_t n,
                         int64_t inner, int w, float *out) {
  double acc[COL_BLOCK] = {0}, mean[COL_BLOCK];
  switch (c->kind) {
  case R_SUM:
  case R_MEAN: COLUMN_SUM(v); break;
  case R_NORM1: COLUMN_SUM(fabs(v)); break;
  case R_NORM2: COLUMN_SUM(v * v); break;
  case R_NORMINF:
    for (int64_t k = 0; k < n; k++)
      for (int j = 0; j < w; j++) {
        double v = fabs((double)x[k * inner + j]);
        if (v > acc[j] || v != v) acc[j] = v; /* NaN sticks */
      }
    break;
  case R_VAR:
    COLUMN_SUM(v);
    for (int j = 0; j < w; j++) mean[j] = acc[j] / (double)n, acc[j] = 0;
    COLUMN_SUM((v - mean[j]) * (v - mean[j]));
    break;
  }
  for (int j = 0; j < w; j++) {
    double r = acc[j];
    if (c->kind == R_MEAN) r /= (double)n;
    else if (c->kind == R_NORM2) r = sqrt(r);
    else if (c->kind == R_VAR) r /= (double)(n - c->unbiased);
    out[j] = (float)r;
  }
}

static void reduce_columns(const reduce_ctx *c, const float *x, const slab *s,
                           float *out) {
  int64_t blocks = (s->inner + COL_BLOCK - 1) / COL_BLOCK;
  int64_t total = s->outer * blocks;
#pragma omp parallel for schedule(static) \
    if (s->outer * s->n * s->inner >= CV_PARALLEL_MIN && !omp_in_parallel())
  for (int64_t t = 0; t < total; t++) {
    int64_t o = t / blocks, j0 = (t % blocks) * COL_BLOCK;
    int w = (int)(s->inner - j0 < COL_BLOCK ? s->inner - j0 : COL_BLOCK);
    column_block(c, x + o * s->n * s->inner + j0, s->n, s->inner, w,
                 out + o * s->inner + j0);
  }
}

/* ---- value reductions ----------------------------------------------------- */

static void reduce_run(int64_t n, float **p, const int64_t *st, void *ctx) {
  for (int64_t i = 0; i < n; i++)
    p[0][i * st[0]] = line_value(ctx, p[1] + i * st[1]);
}

static cv_tensor *reduce_all(const cv_tensor *a, reduce_ctx *c,
                             cv_error *err) {
  cv_tensor *ac = cv_tensor_contiguous((cv_tensor *)a, err);
  if (!ac) return NULL;
  c->n = cv_tensor_numel(ac);
  c->step = 1;
  cv_tensor *out = cv_tensor_scalar(line_value(c, cv_tensor_data(ac)), err);
  cv_tensor_release(ac);
  return out;
}

static cv_tensor *reduce(const cv_tensor *a, int dim, int keepdim,
                         reduce_ctx *c, const char *name, cv_error *err) {
  if (dim < 0) return reduce_all(a, c, err);
  if (cv_tensor_check_dim(a, dim, name, err)) return NULL;
  cv_tensor *out = reduced_new(a, dim, keepdim, err);
  if (!out) return NULL;
  c->n = a->size[dim];
  c->step = a->stride[dim];
  slab sl;
  if (as_slab(a, dim, &sl)) {
    reduce_columns(c, cv_tensor_data(a), &sl, cv_tensor_data(out));
    return out;
  }
  cv_tensor ov, av;
  keepdim_header(out, a, dim, &ov);
  line_header(a, dim, &av);
  cv_tensor *ts[2] = {&ov, &av};
  cv_iter_foreach_par(2, ts, reduce_run, c);
  return out;
}

cv_tensor *cv_tensor_sum(const cv_tensor *a, int dim, int keepdim,
                         cv_error *err) {
  reduce_ctx c = {.kind = R_SUM};
  return reduce(a, dim, keepdim, &c, "sum", err);
}

cv_tensor *cv_tensor_mean(const cv_tensor *a, int dim, int keepdim,
                          cv_error *err) {
  reduce_ctx c = {.kind = R_MEAN};
  return reduce(a, dim, keepdim, &c, "mean", err);
}

cv_tensor *cv_tensor_norm(const cv_tensor *a, double p, int dim, int keepdim,
                          cv_error *err) {
  reduce_ctx c;
  if (p == 1) c.kind = R_NORM1;
  else if (p == 2) c.kind = R_NORM2;
  else if (isinf(p) && p > 0) c.kind = R_NORMINF;
  else {
    cv_error_set(err, "norm: p must be 1, 2 or infinity, not %g", p);
    return NULL;
  }
  return reduce(a, dim, keepdim, &c, "norm", err);
}

cv_tensor *cv_tensor_var(const cv_tensor *a, int dim, int keepdim,
                         int unbiased, cv_error *err) {
  reduce_ctx c = {.kind = R_VAR, .unbiased = unbiased ? 1 : 0};
  return reduce(a, dim, keepdim, &c, "var", err);
}

cv_tensor *cv_tensor_std(const cv_tensor *a, int dim, int keepdim,
                         int unbiased, cv_error *err) {
  reduce_ctx c = {.kind = R_VAR, .unbiased = unbiased ? 1 : 0};
  cv_tensor *v = reduce(a, dim, keepdim, &c, "std", err);
  if (v) cv_tensor_unary_(CV_OP_SQRT, v, NULL);
  return v;
}

/* ---- extremes ------------------------------------------------------------- */

typedef struct {
  int64_t n, step;
  int want_max;
} extreme_ctx;

/* p[0] values, p[1] positions, p[2] line starts. */
static void extreme_run(int64_t n, float **p, const int64_t *st, void *ctx) {
  const extreme_ctx *c = ctx;
  for (int64_t i = 0; i < n; i++) {
    const float *line = p[2] + i * st[2];
    int64_t k = line_extreme(line, c->n, c->step, c->want_max);
    p[0][i * st[0]] = line[k * c->step];
    p[1][i * st[1]] = (float)k;
  }
}

static cv_tensor *extreme_all(const cv_tensor *a, int want_max,
                              cv_tensor **indices, cv_error *err) {
  cv_tensor *ac = cv_tensor_contiguous((cv_tensor *)a, err);
  if (!ac) return NULL;
  const float *x = cv_tensor_data(ac);
  int64_t k = line_extreme(x, cv_tensor_numel(ac), 1, want_max);
  cv_tensor *v = cv_tensor_scalar(x[k], err);
  cv_tensor_release(ac);
  if (v && indices && !(*indices = cv_tensor_scalar((float)k, err))) {
    cv_tensor_release(v);
    return NULL;
  }
  return v;
}

/* The extremes of a block of columns: row 0 first, then each later row
 * replaces a value it beats; a NaN, once found, stays. */
static void extreme_block(const float *x, int64_t n, int64_t inner, int w,
                          int want_max, float *val, float *pos) {
  float best[COL_BLOCK];
  int64_t at[COL_BLOCK] = {0};
  for (int j = 0; j < w; j++) best[j] = x[j];
  for (int64_t k = 1; k < n; k++) {
    const float *row = x + k * inner;
    for (int j = 0; j < w; j++) {
      float v = row[j], b = best[j];
      if (b != b) continue;
      if (v != v || (want_max ? v > b : v < b)) best[j] = v, at[j] = k;
    }
  }
  for (int j = 0; j < w; j++) val[j] = best[j], pos[j] = (float)at[j];
}

static void extreme_columns(const float *x, const slab *s, int want_max,
                            float *val, float *pos) {
  int64_t blocks = (s->inner + COL_BLOCK - 1) / COL_BLOCK;
  int64_t total = s->outer * blocks;
#pragma omp parallel for schedule(static) \
    if (s->outer * s->n * s->inner >= CV_PARALLEL_MIN && !omp_in_parallel())
  for (int64_t t = 0; t < total; t++) {
    int64_t o = t / blocks, j0 = (t % blocks) * COL_BLOCK;
    int w = (int)(s->inner - j0 < COL_BLOCK ? s->inner - j0 : COL_BLOCK);
    extreme_block(x + o * s->n * s->inner + j0, s->n, s->inner, w, want_max,
                  val + o * s->inner + j0, pos + o * s->inner + j0);
  }
}

static cv_tensor *extreme(const cv_tensor *a, int dim, int keepdim,
                          int want_max, cv_tensor **indices, const char *name,
                          cv_error *err) {
  if (dim >= 0 && cv_tensor_check_dim(a, dim, name, err)) return NULL;
  if (dim < 0 ? cv_tensor_numel(a) == 0 : a->size[dim] == 0) {
    cv_error_set(err, "%s: cannot reduce an empty tensor", name);
    return NULL;
  }
  if (dim < 0) return extreme_all(a, want_max, indices, err);
  cv_tensor *v = reduced_new(a, dim, keepdim, err);
  cv_tensor *ix = v ? reduced_new(a, dim, keepdim, err) : NULL;
  if (!ix) {
    cv_tensor_release(v);
    return NULL;
  }
  slab sl;
  if (as_slab(a, dim, &sl)) {
    extreme_columns(cv_tensor_data(a), &sl, want_max, cv_tensor_data(v),
                    cv_tensor_data(ix));
  } else {
    extreme_ctx c = {a->size[dim], a->stride[dim], want_max};
    cv_tensor vv, iv, av;
    keepdim_header(v, a, dim, &vv);
    keepdim_header(ix, a, dim, &iv);
    line_header(a, dim, &av);
    cv_tensor *ts[3] = {&vv, &iv, &av};
    cv_iter_foreach_par(3, ts, extreme_run, &c);
  }
  if (indices) *indices = ix;
  else cv_tensor_release(ix);
  return v;
}

cv_tensor *cv_tensor_max(const cv_tensor *a, int dim, int keepdim,
                         cv_tensor **indices, cv_error *err) {
  return extreme(a, dim, keepdim, 1, indices, "max", err);
}

cv_tensor *cv_tensor_min(const cv_tensor *a, int dim, int keepdim,
                         cv_tensor **indices, cv_error *err) {
  return extreme(a, dim, keepdim, 0, indices, "min", err);
}

cv_tensor *cv_tensor_argmax(const cv_tensor *a, int dim, int keepdim,
                            cv_error *err) {
  cv_tensor *ix = NULL;
  cv_tensor_release(extreme(a, dim, keepdim, 1, &ix, "argmax", err));
  return ix;
}

cv_tensor *cv_tensor_argmin(const cv_tensor *a, int dim, int keepdim,
                            cv_error *err) {
  cv_tensor *ix = NULL;
  cv_tensor_release(extreme(a, dim, keepdim, 0, &ix, "argmin", err));
  return ix;
}

/* ---- sort and top-k ------------------------------------------------------- */

typedef struct {
  float v;
  int64_t i;
} keyed;

/* NaN above every number; equal keys keep their order (stable). */
static int cmp_keyed(const keyed *x, const keyed *y, int descending) {
  int xn = x->v != x->v, yn = y->v != y->v;
  int c = xn || yn ? xn - yn : (x->v > y->v) - (x->v < y->v);
  if (descending) c = -c;
  return c ? c : (x->i > y->i) - (x->i < y->i);
}

static int cmp_asc(const void *x, const void *y) { return cmp_keyed(x, y, 0); }
static int cmp_desc(const void *x, const void *y) { return cmp_keyed(x, y, 1); }

typedef struct {
  int64_t n, k, step, out_step;
  int descending;
  keyed *buf;
} sort_ctx;

/* p[0] values, p[1] positions, p[2] line starts; serial (one buffer). */
static void sort_run(int64_t n, float **p, const int64_t *st, void *ctx) {
  const sort_ctx *c = ctx;
  for (int64_t r = 0; r < n; r++) {
    const float *line = p[2] + r * st[2];
    for (int64_t i = 0; i < c->n; i++)
      c->buf[i] = (keyed){line[i * c->step], i};
    qsort(c->buf, (size_t)c->n, sizeof *c->buf,
          c->descending ? cmp_desc : cmp_asc);
    float *v = p[0] + r * st[0], *ix = p[1] + r * st[1];
    for (int64_t j = 0; j < c->k; j++) {
      v[j * c->out_step] = c->buf[j].v;
      ix[j * c->out_step] = (float)c->buf[j].i;
    }
  }
}

static int sort_k(const cv_tensor *a, int64_t k, int dim, int descending,
                  cv_tensor **values, cv_tensor **indices, cv_error *err) {
  int64_t size[CV_MAX_DIMS];
  memcpy(size, a->size, sizeof size);
  size[dim] = k;
  keyed *buf = malloc(sizeof *buf * (size_t)(a->size[dim] ? a->size[dim] : 1));
  cv_tensor *v = buf ? cv_tensor_empty(a->ndim, size, err) : NULL;
  cv_tensor *ix = v ? cv_tensor_empty(a->ndim, size, err) : NULL;
  if (!ix) {
    if (!buf) cv_error_set(err, "out of memory sorting %lld values",
                           (long long)a->size[dim]);
    free(buf);
    cv_tensor_release(v);
    return -1;
  }
  sort_ctx c = {a->size[dim], k, a->stride[dim], v->stride[dim], descending,
                buf};
  cv_tensor vv, iv, av;
  line_header(v, dim, &vv);
  line_header(ix, dim, &iv);
  line_header(a, dim, &av);
  cv_tensor *ts[3] = {&vv, &iv, &av};
  cv_tensor_foreach(3, ts, sort_run, &c);
  free(buf);
  *values = v;
  *indices = ix;
  return 0;
}

int cv_tensor_sort(const cv_tensor *a, int dim, int descending,
                   cv_tensor **values, cv_tensor **indices, cv_error *err) {
  if (cv_tensor_check_dim(a, dim, "sort", err)) return -1;
  return sort_k(a, a->size[dim], dim, descending, values, indices, err);
}

int cv_tensor_topk(const cv_tensor *a, int64_t k, int dim, int largest,
                   cv_tensor **values, cv_tensor **indices, cv_error *err) {
  if (cv_tensor_check_dim(a, dim, "topk", err)) return -1;
  if (k < 0 || k > a->size[dim])
    return cv_error_set(err, "topk: k = %lld is out of range for dimension %d "
                        "of size %lld", (long long)k, dim + 1,
                        (long long)a->size[dim]);
  return sort_k(a, k, dim, largest, values, indices, err);
}
