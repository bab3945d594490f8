/* gemm.h — the one single-precision matrix product every kernel calls.
 *
 * Row-major C = alpha op(A) op(B) + beta C, with cblas_sgemm's arguments.
 * It runs on oneDNN's sgemm, whose kernels are chosen at run time for the
 * CPU at hand (AVX-512 where there is one; OpenBLAS 0.3.21 takes its Haswell
 * kernels on AVX-512 machines of AMD's) and whose results do not depend on
 * the thread count; OpenBLAS is the fallback should oneDNN refuse a call.
 * Inside an OpenMP parallel region both run on the calling thread. */
#ifndef CV_TENSOR_GEMM_H
#define CV_TENSOR_GEMM_H

#include <cblas.h>
#include <stdint.h>

void cv_sgemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int64_t m, int64_t n,
              int64_t k, float alpha, const float *a, int64_t lda,
              const float *b, int64_t ldb, float beta, float *c, int64_t ldc);

#endif
