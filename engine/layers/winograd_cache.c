/* winograd_cache.c — transformed weights by tag and shape
 * (winograd_cache.h). A few dozen entries at most: a linear search. Buffers
 * come from and go back to the blocks freed tensors leave
 * (storage_cache.h), so that the transforms of weights made afresh each
 * call reuse one block rather than fault in new memory. */
#include "winograd_cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/memory.h"
#include "tensor/storage_cache.h"
#include "tensor/tensor.h"

#define SLOTS 64

typedef struct {
  cv_winograd_key key;
  float *data;    /* NULL: the slot is free */
  size_t bytes;
  uint64_t used;  /* when last taken: the least recent goes first */
  int held;       /* takes not given back yet */
  int ready;      /* data holds key's transform (at key.tag.version) */
} entry;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static entry kept[SLOTS];
static size_t total;
static uint64_t ticks;

/* The same weights in the same transform, whatever their version. */
static int same_form(const cv_winograd_key *a, const cv_winograd_key *b) {
  return a->tag.storage == b->tag.storage && a->tag.offset == b->tag.offset &&
         a->m == b->m && a->in_g == b->in_g && a->group == b->group &&
         a->kernel == b->kernel && a->swap == b->swap;
}

static void drop(entry *e) {
  cv_storage_cache_give(e->data, e->bytes);
  total -= e->bytes;
  memset(e, 0, sizeof *e);
}

/* A free slot with room for `bytes` more, dropping the least recently used
 * entries not held; NULL when there is none. */
static entry *make_room(size_t bytes) {
  for (;;) {
    entry *free_slot = NULL, *oldest = NULL;
    for (int i = 0; i < SLOTS; i++) {
      entry *e = &kept[i];
      if (!e->data) {
        if (!free_slot) free_slot = e;
      } else if (!e->held && (!oldest || e->used < oldest->used)) {
        oldest = e;
      }
    }
    if (free_slot && total + bytes <= CV_WINOGRAD_CACHE_BYTES) return free_slot;
    if (!oldest) return NULL;
    drop(oldest);
  }
}

/* The storage filed under id is gone: so are its transforms. None is held
 * (a convolution holds its weights). */
static void forget(uint64_t id) {
  pthread_mutex_lock(&lock);
  for (int i = 0; i < SLOTS; i++)
    if (kept[i].data && kept[i].key.tag.storage == id && !kept[i].held) drop(&kept[i]);
  pthread_mutex_unlock(&lock);
}

float *cv_winograd_cache_take(const cv_winograd_key *key, size_t floats,
                              int *current) {
  size_t bytes = cv_memory_round(floats * sizeof(float));
  *current = 0;
  if (!key->tag.storage || bytes > CV_WINOGRAD_CACHE_BYTES) return NULL;
  pthread_mutex_lock(&lock);
  entry *e = NULL;
  for (int i = 0; i < SLOTS && !e; i++)
    if (kept[i].data && same_form(&kept[i].key, key)) e = &kept[i];
  if (e && e->ready && e->key.tag.version == key->tag.version) {
    *current = 1;
  } else if (e && e->held) {
    e = NULL; /* being filled, or read at another version: use scratch */
  } else if (!e && (e = make_room(bytes)) != NULL) {
    cv_storage_set_release_hook(forget);
    e->data = cv_storage_cache_take(bytes);
    if (!e->data) e->data = cv_memory_alloc(bytes);
    if (e->data) {
      e->bytes = bytes;
      total += bytes;
    } else {
      e = NULL;
    }
  }
  float *buf = NULL;
  if (e) {
    if (!*current) {
      e->key = *key;
      e->ready = 0;
    }
    e->used = ++ticks;
    e->held++;
    buf = e->data;
  }
  pthread_mutex_unlock(&lock);
  return buf;
}

void cv_winograd_cache_give(float *buf, int filled) {
  pthread_mutex_lock(&lock);
  for (int i = 0; i < SLOTS; i++) {
    entry *e = &kept[i];
    if (e->data != buf) continue;
    e->held--;
    if (filled) e->ready = 1;
    else if (!e->held && !e->ready) drop(e);
    break;
  }
  pthread_mutex_unlock(&lock);
}

void cv_winograd_cache_clear(void) {
  pthread_mutex_lock(&lock);
  for (int i = 0; i < SLOTS; i++)
    if (kept[i].data && !kept[i].held) drop(&kept[i]);
  pthread_mutex_unlock(&lock);
}

size_t cv_winograd_cache_bytes(void) {
  pthread_mutex_lock(&lock);
  size_t n = total;
  pthread_mutex_unlock(&lock);
  return n;
}
