/*
 * iter.h — helpers the op files share: broadcast headers that need no
 * allocation, and a strided walk split over OpenMP threads.
 *
 * Not part of the public API (see ops.h).
 */
#ifndef CV_TENSOR_ITER_H
#define CV_TENSOR_ITER_H

#include "tensor.h"

/* Element counts from which a loop is worth splitting over threads. */
#define CV_PARALLEL_MIN 65536

/* Fills *view with t seen as (ndim, size) by broadcasting (stride 0 along
 * grown dims). The header borrows t's storage without a reference, so it is
 * valid while t lives and must never be released. Returns 0, or -1 when t
 * does not broadcast to that shape (err is not filled: callers name it). */
int cv_iter_broadcast(const cv_tensor *t, int ndim, const int64_t *size,
                      cv_tensor *view);

/* cv_tensor_foreach over up to 4 tensors of one shape, split along one
 * dimension over the OpenMP threads when the tensors are large enough.
 * fn must only touch the elements of its own run. */
void cv_iter_foreach_par(int count, cv_tensor **ts, cv_run_fn fn, void *ctx);

/* A 0-d header over a float the caller owns (storage and tensor on the
 * caller's stack): a number as an operand without allocating. */
void cv_iter_scalar(float *value, cv_storage *storage, cv_tensor *view);

#endif
