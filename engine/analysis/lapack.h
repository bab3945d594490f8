/*
 * lapack.h — the LAPACK routines of OpenBLAS that the analyses call, by
 * their Fortran names (Debian's OpenBLAS ships no lapacke.h for its OpenMP
 * build). Integers are 32-bit (LP64); each character argument has a hidden
 * length argument at the end, as gfortran passes them.
 */
#ifndef CV_ANALYSIS_LAPACK_H
#define CV_ANALYSIS_LAPACK_H

#include <stddef.h>

/* Eigenvalues (ascending) and eigenvectors of a symmetric matrix. */
void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a,
             const int *lda, double *w, double *work, const int *lwork,
             int *iwork, const int *liwork, int *info, size_t jobz_len,
             size_t uplo_len);

/* Singular value decomposition (divide and conquer). */
void dgesdd_(const char *jobz, const int *m, const int *n, double *a,
             const int *lda, double *s, double *u, const int *ldu, double *vt,
             const int *ldvt, double *work, const int *lwork, int *iwork,
             int *info, size_t jobz_len);

#endif
