/* pca.c — principal components: covariance in double, LAPACK's eigensolvers. */
#include "pca.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "lapack.h"

void cv_pca_result_free(cv_pca_result *r) {
  cv_tensor_release(r->components);
  cv_tensor_release(r->explained);
  cv_tensor_release(r->mean);
  cv_tensor_release(r->projection);
  memset(r, 0, sizeof *r);
}

/* x (any strides) into xc, row-major n x d doubles, minus the column means
 * (summed in double) left in mean. */
static void centre(const cv_tensor *x, double *xc, double *mean) {
  int64_t n = x->size[0], d = x->size[1];
  const float *p = cv_tensor_data(x);
  for (int64_t j = 0; j < d; j++) mean[j] = 0;
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j < d; j++) {
      double v = p[i * x->stride[0] + j * x->stride[1]];
      xc[i * d + j] = v;
      mean[j] += v;
    }
  for (int64_t j = 0; j < d; j++) mean[j] /= (double)n;
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j < d; j++) xc[i * d + j] -= mean[j];
}

/* d <= n: eigenvectors of the d x d covariance. The k of largest eigenvalue
 * go to vec (k x d) and val, largest first. */
static int by_covariance(const double *xc, int n, int d, int k, double *vec,
                         double *val, cv_error *err) {
  double *cov = malloc((size_t)d * d * sizeof *cov), *w = malloc((size_t)d * sizeof *w);
  int info = 0, lwork = -1, liwork = -1, iwq;
  double wq;
  double *work = NULL;
  int *iwork = NULL;
  if (!cov || !w) goto oom;
  /* Row-major upper triangle = LAPACK's (column-major) lower one. */
  cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, d, n, 1.0 / (n - 1), xc, d, 0.0,
              cov, d);
  dsyevd_("V", "L", &d, cov, &d, w, &wq, &lwork, &iwq, &liwork, &info, 1, 1);
  if (info != 0) goto fail;
  lwork = (int)wq;
  liwork = iwq;
  work = malloc((size_t)lwork * sizeof *work);
  iwork = malloc((size_t)liwork * sizeof *iwork);
  if (!work || !iwork) goto oom;
  dsyevd_("V", "L", &d, cov, &d, w, work, &lwork, iwork, &liwork, &info, 1, 1);
  if (info != 0) goto fail;
  /* Ascending order, eigenvector j in column j (contiguous: column-major). */
  for (int c = 0; c < k; c++) {
    int j = d - 1 - c;
    val[c] = w[j] > 0 ? w[j] : 0;
    memcpy(vec + (size_t)c * d, cov + (size_t)j * d, (size_t)d * sizeof *vec);
  }
  free(cov), free(w), free(work), free(iwork);
  return 0;
oom:
  free(cov), free(w), free(work), free(iwork);
  return cv_error_set(err, "pca: out of memory for a %d x %d covariance", d, d);
fail:
  free(cov), free(w), free(work), free(iwork);
  return cv_error_set(err, "pca: LAPACK dsyevd failed on the %d x %d covariance (info %d)",
                      d, d, info);
}

/* d > n: right singular vectors of the centred rows (a copy is consumed). */
static int by_svd(const double *xc, int n, int d, int k, double *vec, double *val,
                  cv_error *err) {
  /* Row-major n x d is column-major d x n (xc^T = U S V^T): U's columns are
   * the d-vectors we want. */
  double *a = malloc((size_t)n * d * sizeof *a), *s = malloc((size_t)n * sizeof *s);
  double *u = malloc((size_t)n * d * sizeof *u), *vt = malloc((size_t)n * n * sizeof *vt);
  int *iwork = malloc((size_t)8 * n * sizeof *iwork);
  double *work = NULL, wq;
  int info = 0, lwork = -1;
  if (!a || !s || !u || !vt || !iwork) goto oom;
  memcpy(a, xc, (size_t)n * d * sizeof *a);
  dgesdd_("S", &d, &n, a, &d, s, u, &d, vt, &n, &wq, &lwork, iwork, &info, 1);
  if (info != 0) goto fail;
  lwork = (int)wq;
  work = malloc((size_t)lwork * sizeof *work);
  if (!work) goto oom;
  dgesdd_("S", &d, &n, a, &d, s, u, &d, vt, &n, work, &lwork, iwork, &info, 1);
  if (info != 0) goto fail;
  for (int c = 0; c < k; c++) {
    val[c] = s[c] * s[c] / (n - 1);
    memcpy(vec + (size_t)c * d, u + (size_t)c * d, (size_t)d * sizeof *vec);
  }
  free(a), free(s), free(u), free(vt), free(iwork), free(work);
  return 0;
oom:
  free(a), free(s), free(u), free(vt), free(iwork), free(work);
  return cv_error_set(err, "pca: out of memory for the SVD of a %d x %d matrix", n, d);
fail:
  free(a), free(s), free(u), free(vt), free(iwork), free(work);
  return cv_error_set(err, "pca: LAPACK dgesdd failed on the %d x %d matrix (info %d)", n,
                      d, info);
}

/* The sign rule: the first entry of largest magnitude becomes positive. */
static void fix_sign(double *v, int64_t d) {
  int64_t best = 0;
  for (int64_t j = 1; j < d; j++)
    if (fabs(v[j]) > fabs(v[best])) best = j;
  if (v[best] < 0)
    for (int64_t j = 0; j < d; j++) v[j] = -v[j];
}

static cv_tensor *from_doubles(int ndim, const int64_t *size, const double *v,
                               cv_error *err) {
  cv_tensor *t = cv_tensor_empty(ndim, size, err);
  if (!t) return NULL;
  float *p = cv_tensor_data(t);
  int64_t m = cv_tensor_numel(t);
  for (int64_t i = 0; i < m; i++) p[i] = (float)v[i];
  return t;
}

int cv_pca(const cv_tensor *x, int64_t k, cv_pca_result *r, cv_error *err) {
  memset(r, 0, sizeof *r);
  if (cv_analysis_check_matrix("pca", x, err)) return -1;
  int64_t n = x->size[0], d = x->size[1], m = n < d ? n : d;
  char s[CV_SHAPE_STR_MAX];
  if (n < 2)
    return cv_error_set(err, "pca: needs at least 2 rows, got a %s matrix",
                        cv_shape_str(2, x->size, s, sizeof s));
  if (k < 1 || k > m)
    return cv_error_set(err, "pca: k must be between 1 and min(rows, columns) = %lld for a "
                        "%s matrix, got %lld", (long long)m,
                        cv_shape_str(2, x->size, s, sizeof s), (long long)k);
  if (n > INT32_MAX / (d > 0 ? d : 1))
    return cv_error_set(err, "pca: the %s matrix is too large for LAPACK's 32-bit sizes",
                        cv_shape_str(2, x->size, s, sizeof s));
  double *xc = malloc((size_t)(n * d) * sizeof *xc), *mean = malloc((size_t)d * sizeof *mean);
  double *vec = malloc((size_t)(k * d) * sizeof *vec), *val = malloc((size_t)k * sizeof *val);
  double *proj = malloc((size_t)(n * k) * sizeof *proj);
  int rc = -1;
  if (!xc || !mean || !vec || !val || !proj) {
    cv_error_set(err, "pca: out of memory for a %s matrix", cv_shape_str(2, x->size, s, sizeof s));
    goto done;
  }
  centre(x, xc, mean);
  if ((d <= n ? by_covariance : by_svd)(xc, (int)n, (int)d, (int)k, vec, val, err)) goto done;
  for (int64_t c = 0; c < k; c++) fix_sign(vec + c * d, d);
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)k, (int)d, 1.0, xc,
              (int)d, vec, (int)d, 0.0, proj, (int)k);
  int64_t kd[2] = {k, d}, nk[2] = {n, k};
  r->components = from_doubles(2, kd, vec, err);
  r->explained = r->components ? from_doubles(1, &k, val, err) : NULL;
  r->mean = r->explained ? from_doubles(1, &d, mean, err) : NULL;
  r->projection = r->mean ? from_doubles(2, nk, proj, err) : NULL;
  if (!r->projection) {
    cv_pca_result_free(r);
    goto done;
  }
  rc = 0;
done:
  free(xc), free(mean), free(vec), free(val), free(proj);
  return rc;
}
