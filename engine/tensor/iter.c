/* iter.c — allocation-free broadcast headers and a parallel walk. */
#include "iter.h"

#include <omp.h>
#include <string.h>

int cv_iter_broadcast(const cv_tensor *t, int ndim, const int64_t *size,
                      cv_tensor *view) {
  if (ndim < t->ndim || ndim > CV_MAX_DIMS) return -1;
  *view = *t;
  view->ndim = ndim;
  view->refcount = 0; /* a borrowed header: never retained or released */
  view->grad = NULL;
  view->node = NULL;
  int lead = ndim - t->ndim;
  for (int d = 0; d < ndim; d++) {
    int od = d - lead;
    if (od >= 0 && t->size[od] == size[d]) {
      view->size[d] = t->size[od];
      view->stride[d] = t->stride[od];
    } else if (od < 0 || t->size[od] == 1) {
      view->size[d] = size[d];
      view->stride[d] = 0;
    } else {
      return -1;
    }
  }
  return 0;
}

void cv_iter_scalar(float *value, cv_storage *storage, cv_tensor *view) {
  memset(storage, 0, sizeof *storage);
  storage->data = value;
  storage->numel = 1;
  memset(view, 0, sizeof *view);
  view->storage = storage;
}

/* The dimension to split: the outermost one with a size of at least the
 * thread count, else the largest. */
static int split_dim(const cv_tensor *t, int nthreads) {
  int best = 0;
  for (int d = 0; d < t->ndim; d++) {
    if (t->size[d] >= nthreads) return d;
    if (t->size[d] > t->size[best]) best = d;
  }
  return best;
}

void cv_iter_foreach_par(int count, cv_tensor **ts, cv_run_fn fn, void *ctx) {
  int nthreads = omp_get_max_threads();
  if (nthreads < 2 || ts[0]->ndim == 0 || omp_in_parallel() ||
      cv_tensor_numel(ts[0]) < CV_PARALLEL_MIN) {
    cv_tensor_foreach(count, ts, fn, ctx);
    return;
  }
  int d = split_dim(ts[0], nthreads);
  int64_t n = ts[0]->size[d];
  int chunks = n < nthreads ? (int)n : nthreads;
#pragma omp parallel for num_threads(chunks) schedule(static)
  for (int c = 0; c < chunks; c++) {
    int64_t lo = n * c / chunks, hi = n * (c + 1) / chunks;
    cv_tensor part[4], *pp[4];
    for (int k = 0; k < count; k++) {
      part[k] = *ts[k];
      part[k].size[d] = hi - lo;
      part[k].offset += lo * ts[k]->stride[d];
      pp[k] = &part[k];
    }
    cv_tensor_foreach(count, pp, fn, ctx);
  }
}
