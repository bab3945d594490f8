/* random.c — the one seeded generator (xoshiro256**, seeded by splitmix64).
 * Integer arithmetic and double-precision transforms only, so a seed gives
 * the same numbers on every machine. */
#include "random.h"

#include <math.h>

static uint64_t state[4] = {0x9e3779b97f4a7c15ULL, 0xbf58476d1ce4e5b9ULL,
                            0x94d049bb133111ebULL, 0x2545f4914f6cdd1dULL};
static int have_spare;
static double spare;

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void cv_manual_seed(uint64_t seed) {
  uint64_t x = seed;
  for (int i = 0; i < 4; i++) state[i] = splitmix64(&x);
  have_spare = 0;
}

uint64_t cv_random_u64(void) {
  uint64_t result = rotl(state[1] * 5, 7) * 9, t = state[1] << 17;
  state[2] ^= state[0];
  state[3] ^= state[1];
  state[1] ^= state[2];
  state[0] ^= state[3];
  state[2] ^= t;
  state[3] = rotl(state[3], 45);
  return result;
}

double cv_random_uniform(void) {
  return (double)(cv_random_u64() >> 11) * 0x1.0p-53;
}

double cv_random_normal(void) {
  if (have_spare) {
    have_spare = 0;
    return spare;
  }
  double u1, u2 = cv_random_uniform();
  do u1 = cv_random_uniform(); while (u1 <= 0.0);
  double r = sqrt(-2.0 * log(u1)), a = 2.0 * M_PI * u2;
  spare = r * sin(a);
  have_spare = 1;
  return r * cos(a);
}

/* Row-major order over the view, so the numbers do not depend on strides. */
static void uniform_run(int64_t n, float **p, const int64_t *st, void *ctx) {
  const float *lh = ctx;
  for (int64_t i = 0; i < n; i++)
    p[0][i * st[0]] = (float)(lh[0] + (lh[1] - lh[0]) * cv_random_uniform());
}

static void normal_run(int64_t n, float **p, const int64_t *st, void *ctx) {
  const float *ms = ctx;
  for (int64_t i = 0; i < n; i++)
    p[0][i * st[0]] = (float)(ms[0] + ms[1] * cv_random_normal());
}

void cv_tensor_uniform_(cv_tensor *t, float lo, float hi) {
  float lh[2] = {lo, hi};
  cv_tensor_bump_version(t);
  cv_tensor_foreach(1, &t, uniform_run, lh);
}

void cv_tensor_normal_(cv_tensor *t, float mean, float std) {
  float ms[2] = {mean, std};
  cv_tensor_bump_version(t);
  cv_tensor_foreach(1, &t, normal_run, ms);
}
