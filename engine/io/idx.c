/* idx.c — IDX reader over zlib's gz* functions (plain files pass through). */
#include "idx.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* Bytes per value of each IDX type code; 0 for an unknown code. */
static int type_size(int code) {
  switch (code) {
  case 0x08: case 0x09: return 1;
  case 0x0B: return 2;
  case 0x0C: case 0x0D: return 4;
  case 0x0E: return 8;
  default: return 0;
  }
}

/* Reads exactly n bytes at offset *at; a short read is "truncated". */
static int read_exact(gzFile f, void *buf, size_t n, const char *path,
                      const char *what, int64_t *at, cv_error *err) {
  size_t got = n ? gzfread(buf, 1, n, f) : 0;
  if (got != n) {
    int zerr;
    const char *msg = gzerror(f, &zerr);
    if (zerr != Z_OK && zerr != Z_BUF_ERROR)
      return cv_error_set(err, "%s: %s at byte %lld: %s", path, what,
                          (long long)(*at + (int64_t)got), msg);
    return cv_error_set(err, "%s: truncated %s: %zu of %zu bytes at byte "
                        "offset %lld", path, what, got, n, (long long)*at);
  }
  *at += (int64_t)n;
  return 0;
}

static uint64_t be_uint(const unsigned char *p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; i++) v = v << 8 | p[i];
  return v;
}

/* One big-endian value of type code at p, as a float. */
static float be_value(int code, const unsigned char *p) {
  uint64_t u = be_uint(p, type_size(code));
  switch (code) {
  case 0x08: return (float)(uint8_t)u;
  case 0x09: return (float)(int8_t)u;
  case 0x0B: return (float)(int16_t)u;
  case 0x0C: return (float)(int32_t)u;
  case 0x0D: { uint32_t b = (uint32_t)u; float f; memcpy(&f, &b, 4); return f; }
  default: { double d; memcpy(&d, &u, 8); return (float)d; }
  }
}

/* The header: type code and shape. */
static int read_header(gzFile f, const char *path, int *code, int *ndim,
                       int64_t *size, int64_t *at, cv_error *err) {
  unsigned char h[4], d[4];
  if (read_exact(f, h, 4, path, "header", at, err)) return -1;
  if (h[0] || h[1] || !type_size(h[2]))
    return cv_error_set(err, "%s: not an IDX file (magic bytes %02x %02x %02x "
                        "%02x at byte offset 0; expected 00 00 <type 08..0e> "
                        "<dims>)", path, h[0], h[1], h[2], h[3]);
  if (h[3] < 1 || h[3] > CV_MAX_DIMS)
    return cv_error_set(err, "%s: IDX header gives %d dimensions (1 to %d "
                        "supported)", path, h[3], CV_MAX_DIMS);
  *code = h[2], *ndim = h[3];
  for (int i = 0; i < *ndim; i++) {
    if (read_exact(f, d, 4, path, "header", at, err)) return -1;
    size[i] = (int64_t)be_uint(d, 4);
  }
  return 0;
}

/* Reads the values in chunks, converting as they come. */
static int read_values(gzFile f, int code, cv_tensor *t, const char *path,
                       int64_t *at, cv_error *err) {
  enum { CHUNK = 1 << 16 };
  int bytes = type_size(code);
  unsigned char *buf = malloc((size_t)CHUNK * (size_t)bytes);
  if (!buf) return cv_error_set(err, "%s: out of memory", path);
  float *out = cv_tensor_data(t);
  int64_t n = cv_tensor_numel(t);
  for (int64_t done = 0; done < n;) {
    int64_t k = n - done < CHUNK ? n - done : CHUNK;
    size_t want = (size_t)(k * bytes), got = gzfread(buf, 1, want, f);
    if (got != want) {
      free(buf);
      return cv_error_set(err, "%s: truncated data: the header promises %lld "
                          "values of %d byte(s) after byte offset %lld, the "
                          "file ends at byte offset %lld", path, (long long)n,
                          bytes, (long long)(*at - done * bytes),
                          (long long)(*at + (int64_t)got));
    }
    *at += (int64_t)want;
    for (int64_t i = 0; i < k; i++) out[done + i] = be_value(code, buf + i * bytes);
    done += k;
  }
  free(buf);
  return 0;
}

cv_tensor *cv_idx_load(const char *path, cv_error *err) {
  gzFile f = gzopen(path, "rb");
  if (!f) {
    cv_error_set(err, "%s: cannot open", path);
    return NULL;
  }
  int code = 0, ndim = 0;
  int64_t size[CV_MAX_DIMS], at = 0;
  cv_tensor *t = NULL;
  if (!read_header(f, path, &code, &ndim, size, &at, err) &&
      (t = cv_tensor_empty(ndim, size, err)) &&
      read_values(f, code, t, path, &at, err)) {
    cv_tensor_release(t);
    t = NULL;
  }
  gzclose(f);
  return t;
}
