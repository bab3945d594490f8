/* winograd_cache.h — transformed weights kept between calls. A forward at
 * batch 1 spends about a third of each Winograd convolution transforming
 * the weights (CaffeNet's conv3: 6 MB written for 49 blocks of output);
 * the same weights come back call after call until something writes to
 * them, which bumps their storage's version (tensor.h). Up to
 * CV_WINOGRAD_CACHE_BYTES are kept, the least recently used dropped first;
 * a transform of weights that changed reuses its buffer, and one of
 * weights whose storage is freed is dropped then (the storage's release
 * hook). One lock: any thread may convolve. */
#ifndef CV_WINOGRAD_CACHE_H
#define CV_WINOGRAD_CACHE_H

#include <stddef.h>

#include "winograd.h"

#define CV_WINOGRAD_CACHE_BYTES ((size_t)256 << 20)

/* One transform of one weight tensor's contents. */
typedef struct {
  cv_weights_tag tag;
  int64_t m, in_g, group, kernel; /* the convolution's shape */
  int swap;                       /* 1: the input gradient's (flipped) */
} cv_winograd_key;

/* The buffer of `floats` kept for key, held until given back, and whether
 * it holds key's transform (*current 1) or is to be filled now (0); NULL
 * when none can be kept (tag.storage 0, or larger than the cache). */
float *cv_winograd_cache_take(const cv_winograd_key *key, size_t floats,
                              int *current);

/* Gives back a buffer from take; unfilled (filled 0), it is dropped. */
void cv_winograd_cache_give(float *buf, int filled);

/* Frees every buffer not held now. */
void cv_winograd_cache_clear(void);

/* Bytes kept now. */
size_t cv_winograd_cache_bytes(void);

#endif
