/* blas.c — matrix products on cv_sgemm (gemm.h).
 *
 * Operands are brought to batches of matrices (batch, rows, cols) described
 * by strides only; BLAS reads a matrix in place when one of its strides is 1
 * (row-major as is, column-major as a transpose), so transposed views cost
 * no copy. */
#include "blas.h"

#include <limits.h>
#include <string.h>

#include "gemm.h"

/* One operand as a batch of matrices. */
typedef struct {
  const float *data;
  int64_t batch, rows, cols;
  int64_t bstride, rs, cs; /* bstride 0: one matrix shared by every batch */
  int vec;                 /* 1: was a 1-d vector (its unit dim is dropped) */
} operand;

static int as_operand(const cv_tensor *t, int is_left, operand *o) {
  memset(o, 0, sizeof *o);
  o->data = cv_tensor_data(t);
  o->batch = 1;
  if (t->ndim == 1) {
    /* A vector is a 1 x k row on the left, a k x 1 column on the right. */
    o->vec = 1;
    o->rows = is_left ? 1 : t->size[0];
    o->cols = is_left ? t->size[0] : 1;
    o->rs = is_left ? 1 : t->stride[0];
    o->cs = is_left ? t->stride[0] : 1;
    return 0;
  }
  int r = t->ndim - 2;
  if (t->ndim == 3) {
    o->batch = t->size[0];
    o->bstride = t->size[0] == 1 ? 0 : t->stride[0];
  }
  o->rows = t->size[r], o->cols = t->size[r + 1];
  o->rs = t->stride[r], o->cs = t->stride[r + 1];
  return 0;
}

/* How BLAS reads a rows x cols matrix with strides (rs, cs), or -1 when it
 * cannot: then the operand is copied to be contiguous. */
static int blas_layout(int64_t rows, int64_t cols, int64_t rs, int64_t cs,
                       CBLAS_TRANSPOSE *trans, int *ld) {
  if (rows == 0 || cols == 0) { /* nothing is read: any valid layout */
    *trans = CblasNoTrans, *ld = cols > 0 ? (int)cols : 1;
    return 0;
  }
  if (rows == 1) rs = cols; /* unused: any valid value */
  if (cols == 1) cs = 1;
  if (cs == 1 && rs >= cols && rs <= INT_MAX) {
    *trans = CblasNoTrans, *ld = (int)rs;
    return 0;
  }
  if (rows == 1 || cols == 1) rs = 1; /* a vector reads either way */
  if (rs == 1 && cs >= rows && cs <= INT_MAX) {
    *trans = CblasTrans, *ld = (int)cs;
    return 0;
  }
  return -1;
}

static int result_shape(const cv_tensor *a, const cv_tensor *b,
                        const operand *x, const operand *y, int *ndim,
                        int64_t *size, int64_t *batch, cv_error *err) {
  char sa[CV_SHAPE_STR_MAX], sb[CV_SHAPE_STR_MAX];
  cv_shape_str(a->ndim, a->size, sa, sizeof sa);
  cv_shape_str(b->ndim, b->size, sb, sizeof sb);
  if (x->cols != y->rows)
    return cv_error_set(err, "matmul: shapes %s and %s cannot be multiplied "
                        "(inner sizes %lld and %lld differ)", sa, sb,
                        (long long)x->cols, (long long)y->rows);
  if (x->batch != y->batch && x->batch != 1 && y->batch != 1)
    return cv_error_set(err, "matmul: shapes %s and %s have batch sizes %lld "
                        "and %lld", sa, sb, (long long)x->batch,
                        (long long)y->batch);
  int64_t m = x->rows, n = y->cols, k = x->cols;
  if (m > INT_MAX || n > INT_MAX || k > INT_MAX)
    return cv_error_set(err, "matmul: shapes %s and %s are too large for BLAS",
                        sa, sb);
  *batch = x->batch > y->batch ? x->batch : y->batch;
  int nd = 0;
  if (a->ndim == 3 || b->ndim == 3) size[nd++] = *batch;
  if (!x->vec) size[nd++] = m;
  if (!y->vec) size[nd++] = n;
  *ndim = nd;
  return 0;
}

/* C[i] = A[i] B[i] for every batch i; out is contiguous. */
static void gemm_batches(const operand *x, const operand *y, int64_t batch,
                         CBLAS_TRANSPOSE ta, int lda, CBLAS_TRANSPOSE tb,
                         int ldb, float *c) {
  int m = (int)x->rows, n = (int)y->cols, k = (int)x->cols;
  int ldc = n > 0 ? n : 1;
  for (int64_t i = 0; i < batch; i++)
    cv_sgemm(ta, tb, m, n, k, 1.0f,
             x->data + i * x->bstride, lda, y->data + i * y->bstride, ldb,
             0.0f, c + i * (int64_t)m * n, ldc);
}

static int check_operands(const cv_tensor *a, const cv_tensor *b,
                          cv_error *err) {
  if (a->ndim < 1 || a->ndim > 3 || b->ndim < 1 || b->ndim > 3) {
    char sa[CV_SHAPE_STR_MAX], sb[CV_SHAPE_STR_MAX];
    return cv_error_set(err, "matmul: shapes %s and %s: each operand must "
                        "have 1 to 3 dimensions",
                        cv_shape_str(a->ndim, a->size, sa, sizeof sa),
                        cv_shape_str(b->ndim, b->size, sb, sizeof sb));
  }
  return 0;
}

static int check_out(const cv_tensor *out, int nd, const int64_t *size,
                     cv_error *err) {
  if (out->ndim == nd && !memcmp(out->size, size, sizeof(int64_t) * nd) &&
      cv_tensor_is_contiguous(out))
    return 0;
  char so[CV_SHAPE_STR_MAX], sr[CV_SHAPE_STR_MAX];
  return cv_error_set(err, "matmul: the output must be a contiguous tensor "
                      "of shape %s, got %s%s",
                      cv_shape_str(nd, size, sr, sizeof sr),
                      cv_shape_str(out->ndim, out->size, so, sizeof so),
                      cv_tensor_is_contiguous(out) ? "" : " (not contiguous)");
}

/* Makes t contiguous into *copy when BLAS cannot read its matrices. */
static int readable(const cv_tensor *t, int is_left, operand *o,
                    cv_tensor **copy, CBLAS_TRANSPOSE *tr, int *ld,
                    cv_error *err) {
  as_operand(t, is_left, o);
  if (blas_layout(o->rows, o->cols, o->rs, o->cs, tr, ld) == 0) return 0;
  *copy = cv_tensor_clone(t, err);
  if (!*copy) return -1;
  as_operand(*copy, is_left, o);
  if (blas_layout(o->rows, o->cols, o->rs, o->cs, tr, ld) == 0) return 0;
  return cv_error_set(err, "matmul: BLAS cannot read a matrix of %lld x %lld",
                      (long long)o->rows, (long long)o->cols);
}

/* out = a b, out NULL: allocated and returned in *made. */
static int matmul(cv_tensor *out, const cv_tensor *a, const cv_tensor *b,
                  cv_tensor **made, cv_error *err) {
  operand x, y;
  int nd = 0, lda, ldb, status = -1;
  int64_t size[3], batch = 1;
  CBLAS_TRANSPOSE ta, tb;
  cv_tensor *ca = NULL, *cb = NULL;
  if (check_operands(a, b, err)) return -1;
  as_operand(a, 1, &x);
  as_operand(b, 0, &y);
  if (result_shape(a, b, &x, &y, &nd, size, &batch, err)) return -1;
  if (out ? check_out(out, nd, size, err)
          : !(out = *made = cv_tensor_empty(nd, size, err)))
    return -1;
  if (readable(a, 1, &x, &ca, &ta, &lda, err) ||
      readable(b, 0, &y, &cb, &tb, &ldb, err))
    goto done;
  if (x.cols == 0) cv_tensor_fill(out, 0.0f); /* BLAS may skip k = 0 */
  else if (x.rows && y.cols)
    gemm_batches(&x, &y, batch, ta, lda, tb, ldb, cv_tensor_data(out));
  status = 0;
done:
  cv_tensor_release(ca);
  cv_tensor_release(cb);
  return status;
}

cv_tensor *cv_tensor_matmul(const cv_tensor *a, const cv_tensor *b,
                            cv_error *err) {
  cv_tensor *out = NULL;
  if (matmul(NULL, a, b, &out, err)) {
    cv_tensor_release(out);
    return NULL;
  }
  return out;
}

int cv_tensor_matmul_out(cv_tensor *out, const cv_tensor *a,
                         const cv_tensor *b, cv_error *err) {
  cv_tensor *unused = NULL;
  cv_tensor_bump_version(out);
  return matmul(out, a, b, &unused, err);
}
