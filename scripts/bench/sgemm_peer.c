/* sgemm_peer.c — the plain-C side of `make bench`: times what cnnvis is
 * compared with, and prints the median seconds of `reps` runs.
 *
 *   sgemm_peer sgemm N reps     cblas_sgemm on N x N float matrices
 *   sgemm_peer memcpy N reps    memcpy of N floats into another buffer
 *   sgemm_peer spawn reps cmd [args...]   run cmd, wait (exit status must be 0)
 *
 * Built by run.sh against the same OpenMP OpenBLAS as the engine, and run
 * with the same environment, so both sides use the same threads. */
#define _GNU_SOURCE
#include <cblas.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *t, int n) {
  qsort(t, (size_t)n, sizeof *t, cmp_double);
  return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

static float *filled(size_t n, unsigned seed) {
  float *p = aligned_alloc(64, (n * sizeof(float) + 63) & ~(size_t)63);
  if (!p) {
    fprintf(stderr, "sgemm_peer: out of memory\n");
    exit(2);
  }
  srand(seed);
  for (size_t i = 0; i < n; i++) p[i] = (float)rand() / RAND_MAX - 0.5f;
  return p;
}

static double bench_sgemm(int n, double *t, int reps) {
  size_t nn = (size_t)n * n;
  float *a = filled(nn, 1), *b = filled(nn, 2), *c = filled(nn, 3);
  for (int r = -1; r < reps; r++) { /* r = -1: warm-up */
    double t0 = now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a,
                n, b, n, 0.0f, c, n);
    if (r >= 0) t[r] = now() - t0;
  }
  double m = median(t, reps);
  free(a), free(b), free(c);
  return m;
}

static double bench_memcpy(size_t n, double *t, int reps) {
  float *a = filled(n, 1), *b = filled(n, 2);
  for (int r = -1; r < reps; r++) {
    double t0 = now();
    memcpy(b, a, n * sizeof(float));
    if (r >= 0) t[r] = now() - t0;
  }
  double m = median(t, reps);
  if (b[n / 2] != a[n / 2]) m = -1; /* keeps the copy from being elided */
  free(a), free(b);
  return m;
}

/* The command's output goes to /dev/null: only its time and status count. */
static double bench_spawn(char **argv, double *t, int reps) {
  posix_spawn_file_actions_t quiet;
  posix_spawn_file_actions_init(&quiet);
  posix_spawn_file_actions_addopen(&quiet, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&quiet, 2, "/dev/null", O_WRONLY, 0);
  double m = -1;
  for (int r = 0; r < reps; r++) {
    pid_t pid;
    int status;
    double t0 = now();
    if (posix_spawnp(&pid, argv[0], &quiet, NULL, argv, environ) != 0 ||
        waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0)
      goto done;
    t[r] = now() - t0;
  }
  m = median(t, reps);
done:
  posix_spawn_file_actions_destroy(&quiet);
  return m;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: sgemm_peer sgemm|memcpy N reps | "
                    "spawn reps cmd [args...]\n");
    return 2;
  }
  int spawn = strcmp(argv[1], "spawn") == 0;
  int reps = atoi(argv[spawn ? 2 : 3]);
  if (reps < 1 || reps > 1000) reps = 1;
  double t[1000], m;
  if (spawn) m = bench_spawn(argv + 3, t, reps);
  else if (strcmp(argv[1], "sgemm") == 0) m = bench_sgemm(atoi(argv[2]), t, reps);
  else m = bench_memcpy((size_t)atoll(argv[2]), t, reps);
  if (m < 0) {
    printf("failed\n");
    return 1;
  }
  printf("%.9f\n", m);
  return 0;
}
