/* kernel_choice.c — the table of kernel choices (kernel_choice.h). */
#include <string.h>

#include "kernel_choice.h"
#include "simd.h"

typedef struct {
  char op[32], shape[96], kernel[64];
  long calls;
} choice;

static choice table[CV_KERNEL_CHOICES_MAX];
static int used;
static long dropped;

static void copy(char *dst, size_t size, const char *src) {
  size_t n = strlen(src);
  if (n >= size) n = size - 1;
  memcpy(dst, src, n);
  dst[n] = '\0';
}

void cv_kernel_choice_note(const char *op, const char *shape, const char *kernel) {
#pragma omp critical(cv_kernel_choice)
  {
    int i = 0;
    while (i < used && (strncmp(table[i].op, op, sizeof table[i].op - 1) ||
                        strncmp(table[i].shape, shape, sizeof table[i].shape - 1)))
      i++;
    if (i == used && used < CV_KERNEL_CHOICES_MAX) {
      copy(table[i].op, sizeof table[i].op, op);
      copy(table[i].shape, sizeof table[i].shape, shape);
      table[i].calls = 0;
      used++;
    }
    if (i < used) {
      copy(table[i].kernel, sizeof table[i].kernel, kernel);
      table[i].calls++;
    } else {
      dropped++;
    }
  }
}

int cv_kernel_choice_count(void) { return used; }

void cv_kernel_choice_get(int i, const char **op, const char **shape,
                          const char **kernel, long *calls) {
  *op = table[i].op;
  *shape = table[i].shape;
  *kernel = table[i].kernel;
  *calls = table[i].calls;
}

long cv_kernel_choice_dropped(void) { return dropped; }

void cv_kernel_choice_reset(void) {
#pragma omp critical(cv_kernel_choice)
  {
    used = 0;
    dropped = 0;
  }
}

const char *cv_kernel_isa(void) { return CV_ISA; }

int cv_kernel_lanes(void) { return CV_LANES; }
