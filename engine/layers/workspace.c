/* workspace.c — reusable scratch memory for the kernels, and the one thread
 * count that OpenMP and OpenBLAS share. */
#include <cblas.h>
#include <omp.h>
#include <stdlib.h>

#include "tensor/memory.h"
#include "layers.h"

float *cv_workspace_reserve(cv_workspace *ws, size_t n, cv_error *err) {
  if (n <= ws->capacity && ws->data) return ws->data;
  /* Round up so that a slowly growing request does not realloc each time. */
  size_t cap = n + n / 4 + 16;
  size_t bytes = cv_memory_round(cap * sizeof(float));
  float *p = cv_memory_alloc(bytes);
  if (!p) {
    cv_error_set(err, "workspace: out of memory for %zu floats", n);
    return NULL;
  }
  free(ws->data);
  ws->data = p;
  ws->capacity = bytes / sizeof(float);
  return p;
}

void cv_workspace_free(cv_workspace *ws) {
  free(ws->data);
  ws->data = NULL;
  ws->capacity = 0;
}

static int thread_count = 0; /* 0: not set yet, use every core */

void cv_threads_set(int n) {
  if (n < 1) n = omp_get_num_procs();
  thread_count = n;
  omp_set_num_threads(n);
  openblas_set_num_threads(n);
}

int cv_threads_get(void) {
  return thread_count ? thread_count : omp_get_max_threads();
}
