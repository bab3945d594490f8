/* kmeans.c — k-means++ seeding, Lloyd's iterations, restarts. */
#include "kmeans.h"

#include <stdlib.h>
#include <string.h>

#include "check.h"

cv_kmeans_opts cv_kmeans_defaults(void) {
  cv_kmeans_opts o = {.seed = 1, .restarts = 10, .iters = 100};
  return o;
}

void cv_kmeans_result_free(cv_kmeans_result *r) {
  free(r->assign);
  cv_tensor_release(r->centroids);
  memset(r, 0, sizeof *r);
}

/* The clustering's own generator (splitmix64): a seed gives one stream,
 * whatever the engine's global generator has done. */
static double uniform(uint64_t *state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return (double)(z >> 11) * 0x1.0p-53;
}

typedef struct {
  const double *x;   /* n x d rows */
  int64_t n, d, k;
  double *c;         /* k x d centres */
  int64_t *assign;   /* n */
  double *dist;      /* n: squared distance to the assigned centre */
  int64_t *count;    /* k */
} work;

/* Four running sums (a fixed order, so the same on every machine) keep the
 * floating-point units busy where one sum would wait on each addition. */
static double sqdist(const double *a, const double *b, int64_t d) {
  double s[4] = {0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 4 <= d; j += 4)
    for (int l = 0; l < 4; l++) {
      double t = a[j + l] - b[j + l];
      s[l] += t * t;
    }
  for (; j < d; j++) {
    double t = a[j] - b[j];
    s[0] += t * t;
  }
  return (s[0] + s[1]) + (s[2] + s[3]);
}

/* k-means++: the first centre uniformly, each next one with probability
 * proportional to the squared distance to the nearest centre so far. */
static void seed_centres(work *w, uint64_t *rng) {
  int64_t n = w->n, d = w->d;
  int64_t first = (int64_t)(uniform(rng) * (double)n);
  memcpy(w->c, w->x + first * d, (size_t)d * sizeof *w->c);
  for (int64_t i = 0; i < n; i++) w->dist[i] = sqdist(w->x + i * d, w->c, d);
  for (int64_t c = 1; c < w->k; c++) {
    double total = 0;
    for (int64_t i = 0; i < n; i++) total += w->dist[i];
    int64_t pick;
    if (total > 0) {
      double r = uniform(rng) * total, cum = 0;
      pick = -1;
      for (int64_t i = 0; i < n; i++) {
        if (w->dist[i] <= 0) continue;
        pick = i; /* the last row of nonzero weight, should rounding run out */
        cum += w->dist[i];
        if (cum > r) break;
      }
    } else { /* fewer distinct rows than centres: any row will do */
      pick = (int64_t)(uniform(rng) * (double)n);
    }
    double *cc = w->c + c * d;
    memcpy(cc, w->x + pick * d, (size_t)d * sizeof *cc);
    for (int64_t i = 0; i < n; i++) {
      double t = sqdist(w->x + i * d, cc, d);
      if (t < w->dist[i]) w->dist[i] = t;
    }
  }
}

/* Each row to its nearest centre (the lowest index on ties); returns how
 * many rows changed cluster. */
static int64_t assign_rows(work *w) {
  int64_t changed = 0;
#pragma omp parallel for reduction(+ : changed) schedule(static)
  for (int64_t i = 0; i < w->n; i++) {
    const double *xi = w->x + i * w->d;
    int64_t best = 0;
    double bd = sqdist(xi, w->c, w->d);
    for (int64_t c = 1; c < w->k; c++) {
      double t = sqdist(xi, w->c + c * w->d, w->d);
      if (t < bd) bd = t, best = c;
    }
    changed += w->assign[i] != best;
    w->assign[i] = best;
    w->dist[i] = bd;
  }
  return changed;
}

/* Centres to the means of their rows. An empty cluster takes the row that
 * is farthest from its centre among clusters of two or more rows. */
static void update_centres(work *w) {
  int64_t n = w->n, d = w->d, k = w->k;
  memset(w->count, 0, (size_t)k * sizeof *w->count);
  for (int64_t i = 0; i < n; i++) w->count[w->assign[i]]++;
  for (int64_t c = 0; c < k; c++) {
    if (w->count[c] > 0) continue;
    int64_t far = -1;
    for (int64_t i = 0; i < n; i++)
      if (w->count[w->assign[i]] > 1 && (far < 0 || w->dist[i] > w->dist[far])) far = i;
    if (far < 0) continue; /* k > distinct rows: the centre stays where it is */
    w->count[w->assign[far]]--;
    w->assign[far] = c;
    w->count[c] = 1;
    w->dist[far] = 0;
  }
  memset(w->c, 0, (size_t)(k * d) * sizeof *w->c);
  for (int64_t i = 0; i < n; i++) {
    double *cc = w->c + w->assign[i] * d;
    const double *xi = w->x + i * d;
    for (int64_t j = 0; j < d; j++) cc[j] += xi[j];
  }
  for (int64_t c = 0; c < k; c++) {
    if (w->count[c] == 0) continue;
    for (int64_t j = 0; j < d; j++) w->c[c * d + j] /= (double)w->count[c];
  }
}

/* One restart: seeds, then iterates; returns the inertia. */
static double run_once(work *w, uint64_t *rng, int64_t iters, int64_t *iterations,
                       int *converged) {
  seed_centres(w, rng);
  for (int64_t i = 0; i < w->n; i++) w->assign[i] = -1;
  *converged = 0;
  for (int64_t it = 0;; it++) {
    int64_t changed = assign_rows(w);
    if (it > 0 && changed == 0) {
      *converged = 1;
      break;
    }
    if (it == iters) break;
    update_centres(w);
    (*iterations)++;
  }
  double inertia = 0;
  for (int64_t i = 0; i < w->n; i++) inertia += w->dist[i];
  return inertia;
}

int cv_kmeans(const cv_tensor *x, int64_t k, const cv_kmeans_opts *opts,
              cv_kmeans_result *r, cv_error *err) {
  memset(r, 0, sizeof *r);
  if (cv_analysis_check_matrix("kmeans", x, err)) return -1;
  int64_t n = x->size[0], d = x->size[1];
  char s[CV_SHAPE_STR_MAX];
  if (k < 1 || k > n)
    return cv_error_set(err, "kmeans: k must be between 1 and the number of rows (%lld) of "
                        "the %s matrix, got %lld", (long long)n,
                        cv_shape_str(2, x->size, s, sizeof s), (long long)k);
  if (opts->restarts < 1)
    return cv_error_set(err, "kmeans: restarts must be >= 1, got %lld",
                        (long long)opts->restarts);
  if (opts->iters < 1)
    return cv_error_set(err, "kmeans: iters must be >= 1, got %lld", (long long)opts->iters);
  work w = {.n = n, .d = d, .k = k};
  double *xd = malloc((size_t)(n * d) * sizeof *xd), *best_c = malloc((size_t)(k * d) * sizeof *best_c);
  int64_t *best_a = malloc((size_t)n * sizeof *best_a);
  w.c = malloc((size_t)(k * d) * sizeof *w.c);
  w.assign = malloc((size_t)n * sizeof *w.assign);
  w.dist = malloc((size_t)n * sizeof *w.dist);
  w.count = malloc((size_t)k * sizeof *w.count);
  int rc = -1;
  if (!xd || !best_c || !best_a || !w.c || !w.assign || !w.dist || !w.count) {
    cv_error_set(err, "kmeans: out of memory for a %s matrix", cv_shape_str(2, x->size, s, sizeof s));
    goto done;
  }
  const float *p = cv_tensor_data(x);
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j < d; j++) xd[i * d + j] = p[i * x->stride[0] + j * x->stride[1]];
  w.x = xd;
  uint64_t rng = opts->seed;
  double best = 0;
  for (int64_t t = 0; t < opts->restarts; t++) {
    int conv;
    double inertia = run_once(&w, &rng, opts->iters, &r->iterations, &conv);
    if (t == 0 || inertia < best) {
      best = inertia;
      r->converged = conv;
      memcpy(best_c, w.c, (size_t)(k * d) * sizeof *best_c);
      memcpy(best_a, w.assign, (size_t)n * sizeof *best_a);
    }
  }
  int64_t kd[2] = {k, d};
  r->centroids = cv_tensor_empty(2, kd, err);
  if (!r->centroids) goto done;
  float *cp = cv_tensor_data(r->centroids);
  for (int64_t i = 0; i < k * d; i++) cp[i] = (float)best_c[i];
  r->assign = best_a;
  best_a = NULL;
  r->inertia = best;
  rc = 0;
done:
  if (rc) cv_kmeans_result_free(r);
  free(xd), free(best_c), free(best_a), free(w.c), free(w.assign), free(w.dist), free(w.count);
  return rc;
}
