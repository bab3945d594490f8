/* pbutil.c — building protobuf-c messages by hand, reading files, and
 * diagnosing broken wire format (protobuf-c's unpack only says NULL). */
#include "pbutil.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/file.h"

void *cv_pb_new(const ProtobufCMessageDescriptor *d) {
  void *m = malloc(d->sizeof_message);
  if (m) protobuf_c_message_init(d, m);
  return m;
}

int cv_pb_append(void *arr, size_t *n, size_t elsize, const void *value) {
  void **slot = arr;
  char *grown = realloc(*slot, (*n + 1) * elsize);
  if (!grown) return -1;
  memcpy(grown + *n * elsize, value, elsize);
  *slot = grown;
  (*n)++;
  return 0;
}

int cv_pb_set_string(char **slot, const char *value, const void *dflt) {
  char *s = strdup(value);
  if (!s) return -1;
  if (*slot && *slot != dflt) free(*slot);
  *slot = s;
  return 0;
}

size_t cv_pb_type_size(ProtobufCType t) {
  switch (t) {
  case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64:
  case PROTOBUF_C_TYPE_SFIXED64: case PROTOBUF_C_TYPE_UINT64:
  case PROTOBUF_C_TYPE_FIXED64: case PROTOBUF_C_TYPE_DOUBLE:
    return 8;
  case PROTOBUF_C_TYPE_BOOL: return sizeof(protobuf_c_boolean);
  case PROTOBUF_C_TYPE_STRING: return sizeof(char *);
  case PROTOBUF_C_TYPE_BYTES: return sizeof(ProtobufCBinaryData);
  case PROTOBUF_C_TYPE_MESSAGE: return sizeof(void *);
  default: return 4; /* the 32-bit integers, float, enum */
  }
}

int cv_pb_store(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                const void *v) {
  char *base = (char *)m;
  size_t size = cv_pb_type_size(f->type);
  if (f->label == PROTOBUF_C_LABEL_REPEATED)
    return cv_pb_append(base + f->offset,
                        (size_t *)(base + f->quantifier_offset), size, v);
  memcpy(base + f->offset, v, size);
  if (f->quantifier_offset && f->type != PROTOBUF_C_TYPE_STRING &&
      f->type != PROTOBUF_C_TYPE_MESSAGE)
    *(protobuf_c_boolean *)(base + f->quantifier_offset) = 1;
  return 0;
}

int cv_pb_is_set(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f) {
  const char *base = (const char *)m;
  if (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE) {
    const void *v = *(void *const *)(base + f->offset);
    return v && v != f->default_value;
  }
  return f->quantifier_offset &&
         *(const protobuf_c_boolean *)(base + f->quantifier_offset);
}

static void *aligned_alloc64(void *ud, size_t size) {
  (void)ud;
  size = (size + 63) & ~(size_t)63; /* aligned_alloc wants a multiple */
  return aligned_alloc(64, size ? size : 64);
}

static void free_any(void *ud, void *p) {
  (void)ud;
  free(p);
}

/* free() releases what aligned_alloc gives, so messages unpacked with this
 * allocator are freed with protobuf_c_message_free_unpacked(m, NULL). */
ProtobufCAllocator cv_pb_aligned_allocator = {aligned_alloc64, free_any, NULL};

/* ---- files -------------------------------------------------------------- */

int cv_pb_map_file(const char *path, const uint8_t **buf, size_t *n,
                   cv_error *err) {
  *buf = NULL, *n = 0;
  int fd = open(path, O_RDONLY);
  if (fd < 0)
    return cv_error_set(err, "%s: cannot open: %s", path, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return cv_error_set(err, "%s: not a regular file", path);
  }
  if (st.st_size == 0) {
    close(fd);
    return 0;
  }
  void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (p == MAP_FAILED)
    return cv_error_set(err, "%s: cannot map the file: %s", path,
                        strerror(errno));
  madvise(p, (size_t)st.st_size, MADV_SEQUENTIAL);
  *buf = p, *n = (size_t)st.st_size;
  return 0;
}

void cv_pb_unmap_file(const uint8_t *buf, size_t n) {
  if (buf) munmap((void *)buf, n);
}

uint8_t *cv_pb_read_file(const char *path, size_t *n, cv_error *err) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    cv_error_set(err, "%s: cannot open: %s", path, strerror(errno));
    return NULL;
  }
  unsigned char *buf;
  int rc = cv_io_read_stream(f, path, &buf, n, err);
  fclose(f);
  return rc < 0 ? NULL : buf;
}

/* ---- wire format walk --------------------------------------------------- */

typedef struct {
  const uint8_t *buf;  /* the whole input: offsets are reported from it */
  cv_error *err;
  char path[256];
} walk;

/* Reads a varint at *pos (< end); -1 when it runs past end or 10 bytes. */
static int read_varint(const uint8_t *buf, size_t *pos, size_t end,
                       uint64_t *v) {
  uint64_t x = 0;
  for (int i = 0; i < 10; i++) {
    if (*pos >= end) return -1;
    uint8_t b = buf[(*pos)++];
    x |= (uint64_t)(b & 0x7f) << (7 * i);
    if (!(b & 0x80)) {
      *v = x;
      return 0;
    }
  }
  return -1;
}

static int expected_wire_type(const ProtobufCFieldDescriptor *f) {
  switch (f->type) {
  case PROTOBUF_C_TYPE_STRING: case PROTOBUF_C_TYPE_BYTES:
  case PROTOBUF_C_TYPE_MESSAGE:
    return 2;
  case PROTOBUF_C_TYPE_FIXED32: case PROTOBUF_C_TYPE_SFIXED32:
  case PROTOBUF_C_TYPE_FLOAT:
    return 5;
  case PROTOBUF_C_TYPE_FIXED64: case PROTOBUF_C_TYPE_SFIXED64:
  case PROTOBUF_C_TYPE_DOUBLE:
    return 1;
  default:
    return 0;
  }
}

static int walk_message(walk *w, size_t start, size_t end,
                        const ProtobufCMessageDescriptor *d, int depth);

static int walk_fail(walk *w, size_t at, const char *what) {
  if (w->path[0])
    return cv_error_set(w->err, "byte offset %zu (in %s): %s", at, w->path,
                        what);
  return cv_error_set(w->err, "byte offset %zu: %s", at, what);
}

/* Checks one length-delimited known field: packed sizes, nested messages. */
static int walk_delimited(walk *w, size_t at, size_t start, size_t len,
                          const ProtobufCFieldDescriptor *f, unsigned index,
                          int depth) {
  char msg[160];
  int wt = expected_wire_type(f);
  if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
    size_t keep = strlen(w->path);
    snprintf(w->path + keep, sizeof w->path - keep, "%s%s[%u]",
             keep ? "." : "", f->name, index);
    if (walk_message(w, start, start + len, f->descriptor, depth + 1) < 0)
      return -1;
    w->path[keep] = 0;
  } else if (f->label == PROTOBUF_C_LABEL_REPEATED && (wt == 5 || wt == 1) &&
             len % (wt == 5 ? 4 : 8) != 0) {
    snprintf(msg, sizeof msg, "packed field '%s' holds %zu bytes, not a "
             "multiple of %d", f->name, len, wt == 5 ? 4 : 8);
    return walk_fail(w, at, msg);
  }
  return 0;
}

/* A known field must arrive with its own wire type (or packed). */
static int check_wire_type(walk *w, size_t at, int wt, unsigned id,
                           const ProtobufCFieldDescriptor *f,
                           const ProtobufCMessageDescriptor *d) {
  int want = expected_wire_type(f);
  int packed_ok = f->label == PROTOBUF_C_LABEL_REPEATED && wt == 2 &&
                  want != 2;
  if (wt == want || packed_ok) return 0;
  char msg[200];
  snprintf(msg, sizeof msg, "field '%s' (%u) has wire type %d, expected %d: "
           "corrupt or not a %s", f->name, id, wt, want, d->name);
  return walk_fail(w, at, msg);
}

/* Steps *pos over a value of wire type 0, 1 or 5. */
static int skip_scalar(walk *w, size_t at, size_t *pos, size_t end, int wt) {
  uint64_t v;
  if (wt == 0) {
    if (read_varint(w->buf, pos, end, &v) < 0)
      return walk_fail(w, at, "the data ends inside a number (truncated?)");
    return 0;
  }
  size_t need = wt == 1 ? 8 : 4;
  if (end - *pos < need)
    return walk_fail(w, at, "the data ends inside a fixed-size value "
                     "(truncated?)");
  *pos += need;
  return 0;
}

/* Steps *pos over a length-delimited value, checking inside known ones. */
static int skip_delimited(walk *w, size_t at, size_t *pos, size_t end,
                          const ProtobufCFieldDescriptor *f,
                          const ProtobufCMessageDescriptor *d,
                          unsigned *counts, int depth) {
  uint64_t v;
  if (read_varint(w->buf, pos, end, &v) < 0)
    return walk_fail(w, at, "the data ends inside a length (truncated?)");
  if (v > end - *pos) {
    char msg[200];
    snprintf(msg, sizeof msg, "%s%s%sdeclares %llu bytes but only %zu "
             "remain (truncated, or a corrupt length)", f ? "field '" : "",
             f ? f->name : "", f ? "' " : "", (unsigned long long)v,
             end - *pos);
    return walk_fail(w, at, msg);
  }
  size_t start = *pos;
  *pos += (size_t)v;
  if (!f) return 0;
  unsigned index = counts[f - d->fields]++;
  return walk_delimited(w, at, start, (size_t)v, f, index, depth);
}

/* One field at *pos: its tag and value. */
static int walk_field(walk *w, size_t *pos, size_t end,
                      const ProtobufCMessageDescriptor *d, unsigned *counts,
                      int depth) {
  size_t at = *pos;
  uint64_t tag;
  if (read_varint(w->buf, pos, end, &tag) < 0)
    return walk_fail(w, at, "the data ends inside a field tag (truncated?)");
  int wt = (int)(tag & 7);
  uint64_t id = tag >> 3;
  if (id == 0 || id > 536870911u) {
    char msg[120];
    snprintf(msg, sizeof msg, "field number %llu is impossible: this is not "
             "protobuf data", (unsigned long long)id);
    return walk_fail(w, at, msg);
  }
  const ProtobufCFieldDescriptor *f =
      protobuf_c_message_descriptor_get_field(d, (unsigned)id);
  if (f && check_wire_type(w, at, wt, (unsigned)id, f, d) < 0) return -1;
  if (wt == 0 || wt == 1 || wt == 5) return skip_scalar(w, at, pos, end, wt);
  if (wt == 2) return skip_delimited(w, at, pos, end, f, d, counts, depth);
  char msg[200];
  snprintf(msg, sizeof msg, "wire type %d (field %llu) is not used by "
           "Caffe's files: this is not a %s", wt, (unsigned long long)id,
           d->name);
  return walk_fail(w, at, msg);
}

static int walk_message(walk *w, size_t start, size_t end,
                        const ProtobufCMessageDescriptor *d, int depth) {
  if (depth > 32) return walk_fail(w, start, "messages nested too deeply");
  unsigned *counts = calloc(d->n_fields ? d->n_fields : 1, sizeof *counts);
  if (!counts) return cv_error_set(w->err, "out of memory");
  size_t pos = start;
  int rc = 0;
  while (pos < end && rc == 0) rc = walk_field(w, &pos, end, d, counts, depth);
  free(counts);
  return rc;
}

int cv_pb_wire_check(const uint8_t *buf, size_t n,
                     const ProtobufCMessageDescriptor *d, cv_error *err) {
  walk w = {buf, err, ""};
  return walk_message(&w, 0, n, d, 0);
}
