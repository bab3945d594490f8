/* storage_cache.h — freed tensor memory kept for the next tensor of the same
 * byte size. A forward and backward allocate the same shapes every time
 * (activations, their gradients, and the weight gradients zero_grad drops:
 * 234 MB for CaffeNet's fc layers); fresh memory from the system costs a
 * page fault on its first write (about 5 ms for one 18 MB activation of
 * CaffeNet at batch 16). */
#ifndef CV_STORAGE_CACHE_H
#define CV_STORAGE_CACHE_H

#include <stddef.h>

/* A kept block of exactly `bytes` (64-byte aligned, contents undefined), or
 * NULL. */
float *cv_storage_cache_take(size_t bytes);

/* Keeps or frees `data` (from cv_memory_alloc or an earlier take, with at
 * least `bytes` usable; 0 when unknown: then it is freed). Keeps blocks of
 * 256 KB to 256 MB, up to 768 MB in all, dropping the oldest first; a block
 * is only handed out again for a request of exactly its `bytes`. */
void cv_storage_cache_give(float *data, size_t bytes);

/* Frees every kept block. */
void cv_storage_cache_clear(void);

/* Bytes kept now (for specs and memory figures). */
size_t cv_storage_cache_bytes(void);

#endif
