/* gemm.c — cv_sgemm on oneDNN, OpenBLAS behind it (gemm.h). */
#include "gemm.h"

#include <dnnl.h>

static char trans_char(CBLAS_TRANSPOSE t) { return t == CblasNoTrans ? 'N' : 'T'; }

void cv_sgemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int64_t m, int64_t n,
              int64_t k, float alpha, const float *a, int64_t lda,
              const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
  if (dnnl_sgemm(trans_char(ta), trans_char(tb), m, n, k, alpha, a, lda, b,
                 ldb, beta, c, ldc) == dnnl_success)
    return;
  cblas_sgemm(CblasRowMajor, ta, tb, (int)m, (int)n, (int)k, alpha, a,
              (int)lda, b, (int)ldb, beta, c, (int)ldc);
}
