/* storage_cache.c — a few freed tensor blocks kept by size (storage_cache.h).
 * Exact sizes only: repeated passes ask for the same ones, and an exact match
 * never wastes memory. One lock: tensors may be made on any thread. */
#include "storage_cache.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#define MIN_BYTES ((size_t)256 << 10)
#define MAX_BYTES ((size_t)256 << 20)
#define TOTAL_BYTES ((size_t)768 << 20)
#define SLOTS 64

/* Under AddressSanitizer a kept block is poisoned until it is taken again,
 * so that a use after free is still caught. */
#if defined(__SANITIZE_ADDRESS__)
#define CV_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CV_ASAN 1
#endif
#endif
#ifdef CV_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

typedef struct {
  float *data;
  size_t bytes;
  uint64_t age; /* when it was given: the oldest goes first */
} block;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static block kept[SLOTS];
static size_t kept_bytes;
static uint64_t clock_ticks;

static int keepable(size_t bytes) {
  return bytes >= MIN_BYTES && bytes <= MAX_BYTES;
}

float *cv_storage_cache_take(size_t bytes) {
  if (!keepable(bytes)) return NULL;
  float *data = NULL;
  pthread_mutex_lock(&lock);
  for (int i = 0; i < SLOTS; i++)
    if (kept[i].data && kept[i].bytes == bytes) {
      data = kept[i].data;
      kept[i].data = NULL;
      kept_bytes -= bytes;
      break;
    }
  pthread_mutex_unlock(&lock);
  if (data) UNPOISON(data, bytes);
  return data;
}

/* The slot of the oldest kept block, or -1 when none is kept. */
static int oldest(void) {
  int at = -1;
  for (int i = 0; i < SLOTS; i++)
    if (kept[i].data && (at < 0 || kept[i].age < kept[at].age)) at = i;
  return at;
}

void cv_storage_cache_give(float *data, size_t bytes) {
  if (!data) return;
  if (!keepable(bytes)) {
    free(data);
    return;
  }
  float *drop[SLOTS + 1];
  int n_drop = 0;
  POISON(data, bytes);
  pthread_mutex_lock(&lock);
  int slot = -1;
  for (int i = 0; i < SLOTS && slot < 0; i++)
    if (!kept[i].data) slot = i;
  while (slot < 0 || kept_bytes + bytes > TOTAL_BYTES) {
    int o = oldest();
    if (o < 0) break;
    drop[n_drop++] = kept[o].data;
    kept_bytes -= kept[o].bytes;
    kept[o].data = NULL;
    if (slot < 0) slot = o;
  }
  kept[slot] = (block){data, bytes, ++clock_ticks};
  kept_bytes += bytes;
  pthread_mutex_unlock(&lock);
  for (int i = 0; i < n_drop; i++) free(drop[i]); /* outside the lock */
}

void cv_storage_cache_clear(void) {
  float *drop[SLOTS];
  int n_drop = 0;
  pthread_mutex_lock(&lock);
  for (int i = 0; i < SLOTS; i++)
    if (kept[i].data) {
      drop[n_drop++] = kept[i].data;
      kept[i].data = NULL;
    }
  kept_bytes = 0;
  pthread_mutex_unlock(&lock);
  for (int i = 0; i < n_drop; i++) free(drop[i]);
}

size_t cv_storage_cache_bytes(void) {
  pthread_mutex_lock(&lock);
  size_t b = kept_bytes;
  pthread_mutex_unlock(&lock);
  return b;
}
