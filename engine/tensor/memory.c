/* memory.c — big float arrays from the system (memory.h). */
#include "memory.h"

#include <stdlib.h>
#include <sys/mman.h>

#define PAGE ((size_t)4096)
#define PAGED_MIN ((size_t)256 << 10)
#define HUGE_PAGE ((size_t)2 << 20)
#define HUGE_MIN ((size_t)4 << 20)

static size_t round_up(size_t n, size_t to) { return (n + to - 1) & ~(to - 1); }

size_t cv_memory_round(size_t bytes) {
  bytes = round_up(bytes, 64);
  if (bytes >= HUGE_MIN) return round_up(bytes, HUGE_PAGE);
  if (bytes >= PAGED_MIN) return round_up(bytes, PAGE);
  return bytes;
}

float *cv_memory_alloc(size_t bytes) {
  bytes = cv_memory_round(bytes);
  if (bytes < HUGE_MIN) return aligned_alloc(64, bytes ? bytes : 64);
  float *p = aligned_alloc(HUGE_PAGE, bytes);
#ifdef MADV_HUGEPAGE
  if (p) madvise(p, bytes, MADV_HUGEPAGE); /* a hint: failing is harmless */
#endif
  return p;
}
