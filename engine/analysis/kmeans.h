/*
 * kmeans.h — k-means clustering of the rows of an n x d matrix.
 *
 *   cv_kmeans_opts o = cv_kmeans_defaults();  // seed 1, 10 restarts, 100 iterations
 *   cv_kmeans_result r;
 *   if (cv_kmeans(x, 7, &o, &r, &err) == 0) {
 *     ... r.assign[i] (0-based cluster of row i), r.centroids (7 x d), r.inertia
 *     cv_kmeans_result_free(&r);
 *   }
 *
 * Each restart seeds its centres by k-means++ and runs Lloyd's iterations
 * until no row changes cluster (or `iters`); the restart of lowest inertia
 * (the sum of squared distances of rows to their centres) is kept, the first
 * on ties. The random numbers come from a generator of its own seeded by
 * `seed`, not from the engine's global one, so the same seed gives the same
 * clustering whatever ran before. Distances and sums are in double; the rows
 * are assigned in parallel, each on its own, so the thread count does not
 * change the result.
 */
#ifndef CV_ANALYSIS_KMEANS_H
#define CV_ANALYSIS_KMEANS_H

#include "tensor/tensor.h"

typedef struct cv_kmeans_opts {
  uint64_t seed;
  int64_t restarts; /* >= 1 */
  int64_t iters;    /* >= 1: Lloyd iterations per restart at most */
} cv_kmeans_opts;

cv_kmeans_opts cv_kmeans_defaults(void);

typedef struct cv_kmeans_result {
  int64_t *assign;       /* n entries, 0-based cluster (malloc'd) */
  cv_tensor *centroids;  /* k x d */
  double inertia;
  int64_t iterations;    /* Lloyd iterations run, over every restart */
  int converged;         /* 1: the kept restart stopped with no row moving */
} cv_kmeans_result;

/* Clusters the rows of x (n x d, any strides, finite) into k (1 <= k <= n).
 * Returns 0 and fills r (free with cv_kmeans_result_free), or -1. */
int cv_kmeans(const cv_tensor *x, int64_t k, const cv_kmeans_opts *opts,
              cv_kmeans_result *r, cv_error *err);
void cv_kmeans_result_free(cv_kmeans_result *r);

#endif
