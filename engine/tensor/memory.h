/* memory.h — how the engine takes big float arrays from the system: tensor
 * storage (tensor.c, storage_cache.c) and the kernels' scratch
 * (layers/workspace.c). */
#ifndef CV_MEMORY_H
#define CV_MEMORY_H

#include <stddef.h>

/* The byte size to ask for: a multiple of 64 (aligned_alloc), of the page
 * for blocks of 256 KB and more, of 2 MB for blocks of 4 MB and more. */
size_t cv_memory_round(size_t bytes);

/* A 64-byte aligned block of `bytes` (as rounded), or NULL; free() gives it
 * back. Blocks of 4 MB and more are 2 MB aligned and asked to be backed by
 * huge pages (madvise; the kernel's transparent huge pages are often in
 * that mode): the Winograd transforms and the GEMMs' packing stride through
 * tens of MB, and on 4 KB pages their speed varied by half with where the
 * pages landed (CaffeNet conv3-5 backward at batch 16: 38 or 58 ms). */
float *cv_memory_alloc(size_t bytes);

#endif
