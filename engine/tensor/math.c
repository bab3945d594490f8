/* math.c — element-wise arithmetic, comparisons, where, allclose. */
#include "math.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "iter.h"

static const char *const binary_names[CV_OP_BINARY_COUNT] = {
    "add", "sub", "mul", "div", "pow", "lt", "le", "gt", "ge", "eq", "ne"};
static const char *const unary_names[CV_OP_UNARY_COUNT] = {
    "neg", "exp", "log", "sqrt", "abs", "relu", "sigmoid", "tanh"};

const char *cv_binary_op_name(cv_binary_op op) {
  return op >= 0 && op < CV_OP_BINARY_COUNT ? binary_names[op] : "?";
}

const char *cv_unary_op_name(cv_unary_op op) {
  return op >= 0 && op < CV_OP_UNARY_COUNT ? unary_names[op] : "?";
}

/* ---- binary kernels ------------------------------------------------------
 * One loop per op so that each inner loop is a plain expression the compiler
 * vectorises; the common layouts (all contiguous, a number on either side)
 * get their own loop. p[0] is the output, p[1] the left, p[2] the right. */

#define BINARY_LOOPS(EXPR)                                                  \
  do {                                                                      \
    if (so == 1 && sa == 1 && sb == 1) {                                    \
      for (int64_t i = 0; i < n; i++) {                                     \
        float x = a[i], y = b[i];                                           \
        o[i] = (EXPR);                                                      \
      }                                                                     \
    } else if (so == 1 && sa == 1 && sb == 0) {                             \
      const float y = *b;                                                   \
      for (int64_t i = 0; i < n; i++) {                                     \
        float x = a[i];                                                     \
        o[i] = (EXPR);                                                      \
      }                                                                     \
    } else if (so == 1 && sa == 0 && sb == 1) {                             \
      const float x = *a;                                                   \
      for (int64_t i = 0; i < n; i++) {                                     \
        float y = b[i];                                                     \
        o[i] = (EXPR);                                                      \
      }                                                                     \
    } else {                                                                \
      for (int64_t i = 0; i < n; i++) {                                     \
        float x = a[i * sa], y = b[i * sb];                                 \
        o[i * so] = (EXPR);                                                 \
      }                                                                     \
    }                                                                       \
  } while (0)

/* ---- streaming stores ----------------------------------------------------
 * An output larger than the last-level cache will not be read back from it:
 * writing it with non-temporal stores saves reading every output line
 * before overwriting it (a quarter of the memory traffic of a + b). Only
 * the four arithmetic ops, whose vector forms round exactly as the scalar
 * ones do. */

#define STREAM_MIN ((int64_t)8 << 20) /* output floats: 32 MB */

#ifdef __AVX__
#include <immintrin.h>

#define STREAM_LOOP(VOP, SOP)                                               \
  do {                                                                      \
    int64_t i = 0;                                                          \
    for (; i < n && ((uintptr_t)(o + i) & 31); i++) o[i] = a[i] SOP b[i];  \
    for (; i + 8 <= n; i += 8)                                              \
      _mm256_stream_ps(o + i, VOP(_mm256_loadu_ps(a + i),                   \
                                  _mm256_loadu_ps(b + i)));                 \
    for (; i < n; i++) o[i] = a[i] SOP b[i];                                \
    _mm_sfence();                                                           \
  } while (0)

/* o = a op b over contiguous runs; 0 when op has no streaming form. */
static int binary_stream(cv_binary_op op, int64_t n, float *o,
                         const float *a, const float *b) {
  switch (op) {
  case CV_OP_ADD: STREAM_LOOP(_mm256_add_ps, +); return 1;
  case CV_OP_SUB: STREAM_LOOP(_mm256_sub_ps, -); return 1;
  case CV_OP_MUL: STREAM_LOOP(_mm256_mul_ps, *); return 1;
  case CV_OP_DIV: STREAM_LOOP(_mm256_div_ps, /); return 1;
  default: return 0;
  }
}
#else
static int binary_stream(cv_binary_op op, int64_t n, float *o,
                         const float *a, const float *b) {
  (void)op, (void)n, (void)o, (void)a, (void)b;
  return 0;
}
#endif

typedef struct {
  cv_binary_op op;
  int stream; /* the whole output is past STREAM_MIN */
} binary_ctx;

static void binary_run(int64_t n, float **p, const int64_t *st, void *ctx) {
  float *o = p[0];
  const float *a = p[1], *b = p[2];
  const int64_t so = st[0], sa = st[1], sb = st[2];
  const binary_ctx *c = ctx;
  if (c->stream && so == 1 && sa == 1 && sb == 1 &&
      binary_stream(c->op, n, o, a, b))
    return;
  switch (c->op) {
  case CV_OP_ADD: BINARY_LOOPS(x + y); break;
  case CV_OP_SUB: BINARY_LOOPS(x - y); break;
  case CV_OP_MUL: BINARY_LOOPS(x * y); break;
  case CV_OP_DIV: BINARY_LOOPS(x / y); break;
  case CV_OP_POW: BINARY_LOOPS(y == 2.0f ? x * x : powf(x, y)); break;
  case CV_OP_LT: BINARY_LOOPS(x < y ? 1.0f : 0.0f); break;
  case CV_OP_LE: BINARY_LOOPS(x <= y ? 1.0f : 0.0f); break;
  case CV_OP_GT: BINARY_LOOPS(x > y ? 1.0f : 0.0f); break;
  case CV_OP_GE: BINARY_LOOPS(x >= y ? 1.0f : 0.0f); break;
  case CV_OP_EQ: BINARY_LOOPS(x == y ? 1.0f : 0.0f); break;
  case CV_OP_NE: BINARY_LOOPS(x != y ? 1.0f : 0.0f); break;
  default: break;
  }
}

/* Writes into an expanded tensor (stride 0 over several elements) would race
 * and lose all but one result: refuse them, as PyTorch does. */
/* Before a write into t: refuses an expanded t, and counts the write. */
static int check_writable(cv_tensor *t, const char *name, cv_error *err) {
  if (t->storage) cv_tensor_bump_version(t);
  for (int d = 0; d < t->ndim; d++)
    if (t->stride[d] == 0 && t->size[d] > 1) {
      char s[CV_SHAPE_STR_MAX];
      return cv_error_set(err, "%s: cannot write into an expanded tensor of "
                          "shape %s (dimension %d has stride 0)", name,
                          cv_shape_str(t->ndim, t->size, s, sizeof s), d + 1);
    }
  return 0;
}

/* out = a op b once a and b are known to broadcast to out's shape. */
static int binary_into(cv_binary_op op, cv_tensor *out, const cv_tensor *a,
                       const cv_tensor *b, const char *name, cv_error *err) {
  cv_tensor av, bv;
  if (cv_iter_broadcast(a, out->ndim, out->size, &av) ||
      cv_iter_broadcast(b, out->ndim, out->size, &bv)) {
    char so[CV_SHAPE_STR_MAX], sa[CV_SHAPE_STR_MAX], sb[CV_SHAPE_STR_MAX];
    return cv_error_set(err, "%s: shapes %s and %s do not broadcast to the "
                        "output's shape %s", name,
                        cv_shape_str(a->ndim, a->size, sa, sizeof sa),
                        cv_shape_str(b->ndim, b->size, sb, sizeof sb),
                        cv_shape_str(out->ndim, out->size, so, sizeof so));
  }
  if (check_writable(out, name, err)) return -1;
  binary_ctx c = {op, cv_tensor_numel(out) >= STREAM_MIN};
  cv_tensor *ts[3] = {out, &av, &bv};
  cv_iter_foreach_par(3, ts, binary_run, &c);
  return 0;
}

int cv_tensor_binary_out(cv_binary_op op, cv_tensor *out, const cv_tensor *a,
                         const cv_tensor *b, cv_error *err) {
  int nd;
  int64_t size[CV_MAX_DIMS];
  const char *name = cv_binary_op_name(op);
  if (cv_broadcast_shape(a->ndim, a->size, b->ndim, b->size, &nd, size, err))
    return cv_error_prefix(err, "%s", name);
  if (nd != out->ndim || memcmp(size, out->size, sizeof(int64_t) * nd)) {
    char so[CV_SHAPE_STR_MAX], sr[CV_SHAPE_STR_MAX];
    return cv_error_set(err, "%s: the output has shape %s, the result %s",
                        name, cv_shape_str(out->ndim, out->size, so, sizeof so),
                        cv_shape_str(nd, size, sr, sizeof sr));
  }
  return binary_into(op, out, a, b, name, err);
}

cv_tensor *cv_tensor_binary(cv_binary_op op, const cv_tensor *a,
                            const cv_tensor *b, cv_error *err) {
  int nd;
  int64_t size[CV_MAX_DIMS];
  if (cv_broadcast_shape(a->ndim, a->size, b->ndim, b->size, &nd, size, err)) {
    cv_error_prefix(err, "%s", cv_binary_op_name(op));
    return NULL;
  }
  cv_tensor *out = cv_tensor_empty(nd, size, err);
  if (out && binary_into(op, out, a, b, cv_binary_op_name(op), err)) {
    cv_tensor_release(out);
    return NULL;
  }
  return out;
}

int cv_tensor_binary_(cv_binary_op op, cv_tensor *self, const cv_tensor *b,
                      cv_error *err) {
  char name[32];
  snprintf(name, sizeof name, "%s_", cv_binary_op_name(op));
  return binary_into(op, self, self, b, name, err);
}

cv_tensor *cv_tensor_binary_scalar(cv_binary_op op, const cv_tensor *a,
                                   float s, int reversed, cv_error *err) {
  cv_storage st;
  cv_tensor sv;
  cv_iter_scalar(&s, &st, &sv);
  return reversed ? cv_tensor_binary(op, &sv, a, err)
                  : cv_tensor_binary(op, a, &sv, err);
}

int cv_tensor_binary_scalar_(cv_binary_op op, cv_tensor *self, float s,
                             cv_error *err) {
  cv_storage st;
  cv_tensor sv;
  cv_iter_scalar(&s, &st, &sv);
  return cv_tensor_binary_(op, self, &sv, err);
}

cv_tensor *cv_tensor_add(const cv_tensor *a, const cv_tensor *b,
                         cv_error *err) {
  return cv_tensor_binary(CV_OP_ADD, a, b, err);
}

cv_tensor *cv_tensor_sub(const cv_tensor *a, const cv_tensor *b,
                         cv_error *err) {
  return cv_tensor_binary(CV_OP_SUB, a, b, err);
}

cv_tensor *cv_tensor_mul(const cv_tensor *a, const cv_tensor *b,
                         cv_error *err) {
  return cv_tensor_binary(CV_OP_MUL, a, b, err);
}

cv_tensor *cv_tensor_div(const cv_tensor *a, const cv_tensor *b,
                         cv_error *err) {
  return cv_tensor_binary(CV_OP_DIV, a, b, err);
}

cv_tensor *cv_tensor_pow(const cv_tensor *a, const cv_tensor *b,
                         cv_error *err) {
  return cv_tensor_binary(CV_OP_POW, a, b, err);
}

/* ---- unary kernels: p[0] the output, p[1] the input --------------------- */

#define UNARY_LOOPS(EXPR)                                                   \
  do {                                                                      \
    if (so == 1 && sa == 1) {                                               \
      for (int64_t i = 0; i < n; i++) {                                     \
        float x = a[i];                                                     \
        o[i] = (EXPR);                                                      \
      }                                                                     \
    } else {                                                                \
      for (int64_t i = 0; i < n; i++) {                                     \
        float x = a[i * sa];                                                \
        o[i * so] = (EXPR);                                                 \
      }                                                                     \
    }                                                                       \
  } while (0)

static void unary_run(int64_t n, float **p, const int64_t *st, void *ctx) {
  float *o = p[0];
  const float *a = p[1];
  const int64_t so = st[0], sa = st[1];
  switch (*(const cv_unary_op *)ctx) {
  case CV_OP_NEG: UNARY_LOOPS(-x); break;
  case CV_OP_EXP: UNARY_LOOPS(expf(x)); break;
  case CV_OP_LOG: UNARY_LOOPS(logf(x)); break;
  case CV_OP_SQRT: UNARY_LOOPS(sqrtf(x)); break;
  case CV_OP_ABS: UNARY_LOOPS(fabsf(x)); break;
  /* x < 0 rather than fmaxf: NaN must stay NaN, as in PyTorch. */
  case CV_OP_RELU: UNARY_LOOPS(x < 0.0f ? 0.0f : x); break;
  case CV_OP_SIGMOID: UNARY_LOOPS(1.0f / (1.0f + expf(-x))); break;
  case CV_OP_TANH: UNARY_LOOPS(tanhf(x)); break;
  default: break;
  }
}

cv_tensor *cv_tensor_unary(cv_unary_op op, const cv_tensor *a,
                           cv_error *err) {
  cv_tensor *out = cv_tensor_empty_like(a, err);
  if (!out) return NULL;
  cv_tensor *ts[2] = {out, (cv_tensor *)a};
  cv_iter_foreach_par(2, ts, unary_run, &op);
  return out;
}

int cv_tensor_unary_(cv_unary_op op, cv_tensor *self, cv_error *err) {
  char name[32];
  snprintf(name, sizeof name, "%s_", cv_unary_op_name(op));
  if (check_writable(self, name, err)) return -1;
  cv_tensor *ts[2] = {self, self};
  cv_iter_foreach_par(2, ts, unary_run, &op);
  return 0;
}

typedef struct {
  float lo, hi;
} clamp_ctx;

static void clamp_run(int64_t n, float **p, const int64_t *st, void *ctx) {
  float *o = p[0];
  const float *a = p[1];
  const int64_t so = st[0], sa = st[1];
  const float lo = ((clamp_ctx *)ctx)->lo, hi = ((clamp_ctx *)ctx)->hi;
  UNARY_LOOPS(x < lo ? lo : (x > hi ? hi : x));
}

cv_tensor *cv_tensor_clamp(const cv_tensor *a, float lo, float hi,
                           cv_error *err) {
  cv_tensor *out = cv_tensor_empty_like(a, err);
  if (!out) return NULL;
  clamp_ctx c = {lo, hi};
  cv_tensor *ts[2] = {out, (cv_tensor *)a};
  cv_iter_foreach_par(2, ts, clamp_run, &c);
  return out;
}

int cv_tensor_clamp_(cv_tensor *self, float lo, float hi, cv_error *err) {
  if (check_writable(self, "clamp_", err)) return -1;
  clamp_ctx c = {lo, hi};
  cv_tensor *ts[2] = {self, self};
  cv_iter_foreach_par(2, ts, clamp_run, &c);
  return 0;
}

/* ---- where and allclose -------------------------------------------------- */

static void where_run(int64_t n, float **p, const int64_t *st, void *ctx) {
  (void)ctx;
  for (int64_t i = 0; i < n; i++)
    p[0][i * st[0]] = p[1][i * st[1]] != 0.0f ? p[2][i * st[2]]
                                              : p[3][i * st[3]];
}

cv_tensor *cv_tensor_where(const cv_tensor *cond, const cv_tensor *a,
                           const cv_tensor *b, cv_error *err) {
  int n1, nd;
  int64_t s1[CV_MAX_DIMS], size[CV_MAX_DIMS];
  if (cv_broadcast_shape(cond->ndim, cond->size, a->ndim, a->size, &n1, s1,
                         err) ||
      cv_broadcast_shape(n1, s1, b->ndim, b->size, &nd, size, err)) {
    cv_error_prefix(err, "where");
    return NULL;
  }
  cv_tensor *out = cv_tensor_empty(nd, size, err);
  if (!out) return NULL;
  cv_tensor cv, av, bv;
  cv_iter_broadcast(cond, nd, size, &cv);
  cv_iter_broadcast(a, nd, size, &av);
  cv_iter_broadcast(b, nd, size, &bv);
  cv_tensor *ts[4] = {out, &cv, &av, &bv};
  cv_iter_foreach_par(4, ts, where_run, NULL);
  return out;
}

typedef struct {
  double rtol, atol;
  int close;
} close_ctx;

static void close_run(int64_t n, float **p, const int64_t *st, void *ctx) {
  close_ctx *c = ctx;
  for (int64_t i = 0; i < n && c->close; i++) {
    double x = p[0][i * st[0]], y = p[1][i * st[1]];
    /* Equal infinities are close; other infinities and NaN are not. */
    if (x == y) continue;
    if (!isfinite(x) || !isfinite(y) ||
        !(fabs(x - y) <= c->atol + c->rtol * fabs(y)))
      c->close = 0;
  }
}

int cv_tensor_allclose(const cv_tensor *a, const cv_tensor *b, double rtol,
                       double atol, cv_error *err) {
  int nd;
  int64_t size[CV_MAX_DIMS];
  if (cv_broadcast_shape(a->ndim, a->size, b->ndim, b->size, &nd, size, err))
    return cv_error_prefix(err, "allclose");
  cv_tensor av, bv;
  cv_iter_broadcast(a, nd, size, &av);
  cv_iter_broadcast(b, nd, size, &bv);
  close_ctx c = {rtol, atol, 1};
  cv_tensor *ts[2] = {&av, &bv};
  cv_tensor_foreach(2, ts, close_run, &c);
  return c.close;
}
