/*
 * pca.h — principal components of the rows of an n x d matrix.
 *
 *   cv_pca_result r;
 *   if (cv_pca(x, 3, &r, &err) == 0) {       // x: n x d, borrowed
 *     ... r.components (3 x d), r.explained (3), r.mean (d), r.projection (n x 3)
 *     cv_pca_result_free(&r);
 *   }
 *
 * The mean and the covariance (denominator n - 1, as NumPy's cov) are summed
 * in double; the eigenvectors come from LAPACK (OpenBLAS's dsyevd on the d x d
 * covariance, or dgesdd on the centred rows when d > n, where the covariance
 * would be larger than the data). Each component's sign is fixed so that its
 * entry of largest magnitude (the first such) is positive, so that a result
 * does not depend on the solver's choice of sign.
 */
#ifndef CV_ANALYSIS_PCA_H
#define CV_ANALYSIS_PCA_H

#include "tensor/tensor.h"

typedef struct cv_pca_result {
  cv_tensor *components; /* k x d, one unit vector per row, largest variance first */
  cv_tensor *explained;  /* k: the variance along each component */
  cv_tensor *mean;       /* d */
  cv_tensor *projection; /* n x k: (x - mean) components^T */
} cv_pca_result;

/* k components of x (n x d, any strides, n >= 2, 1 <= k <= min(n, d), no NaN
 * or infinity). On success fills r with new references (free them with
 * cv_pca_result_free) and returns 0; on failure returns -1, r all NULL. */
int cv_pca(const cv_tensor *x, int64_t k, cv_pca_result *r, cv_error *err);
void cv_pca_result_free(cv_pca_result *r);

#endif
