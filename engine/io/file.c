/* file.c — reading a whole file into memory, with the OS reason on failure. */
#include "file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Grows *buf to hold at least need bytes (doubling). */
static int grow(unsigned char **buf, size_t *cap, size_t need) {
  if (need <= *cap) return 0;
  size_t c = *cap ? *cap : 65536;
  while (c < need) c *= 2;
  unsigned char *nb = realloc(*buf, c);
  if (!nb) return -1;
  *buf = nb;
  *cap = c;
  return 0;
}

int cv_io_read_stream(FILE *f, const char *path, unsigned char **buf,
                      size_t *n, cv_error *err) {
  *buf = NULL;
  *n = 0;
  unsigned char *b = NULL;
  size_t cap = 0, len = 0;
  for (;;) {
    /* Always room for 64 KiB more, so the NUL after the bytes fits too. */
    if (grow(&b, &cap, len + 65536) < 0) {
      free(b);
      return cv_error_set(err, "%s: out of memory after %zu bytes", path, len);
    }
    size_t got = fread(b + len, 1, cap - len, f);
    len += got;
    if (got == 0) break;
  }
  if (ferror(f)) {
    int e = errno;
    free(b);
    return cv_error_set(err, "%s: cannot read (%s)", path, strerror(e));
  }
  b[len] = 0;
  *buf = b;
  *n = len;
  return 0;
}

int cv_io_read_file(const char *path, unsigned char **buf, size_t *n,
                    cv_error *err) {
  *buf = NULL;
  *n = 0;
  FILE *f = fopen(path, "rb");
  if (!f) return cv_error_set(err, "%s: cannot open (%s)", path, strerror(errno));
  int rc = cv_io_read_stream(f, path, buf, n, err);
  fclose(f);
  return rc;
}

cv_tensor *cv_io_load_file(const char *path, cv_memory_reader read,
                           cv_error *err) {
  unsigned char *buf;
  size_t n;
  if (cv_io_read_file(path, &buf, &n, err) < 0) return NULL;
  cv_tensor *t = read(buf, n, path, err);
  free(buf);
  return t;
}
