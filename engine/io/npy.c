/* npy.c — .npy reading (versions 1-3, common dtypes) and float32 writing. */
#include "npy.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file.h"

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6

/* What the header dict says, and where each field was, for messages. */
typedef struct {
  const char *name;
  const unsigned char *buf;
  size_t pos, end;        /* the header text is buf[pos, end) */
  char kind;              /* 'b', 'i', 'u', 'f' */
  int itemsize, big;      /* bytes per element, big-endian? */
  int fortran, ndim;
  int64_t size[CV_MAX_DIMS];
  int seen;               /* bit 0 descr, 1 fortran_order, 2 shape */
  size_t fortran_at, shape_at;
  cv_error *err;
} npy_header;

/* "<name>: <what> (byte offset N)"; returns -1. */
__attribute__((format(printf, 3, 4)))
static int fail_at(npy_header *h, size_t at, const char *fmt, ...) {
  char what[CV_ERROR_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  return cv_error_set(h->err, "%s: %s (byte offset %zu)", h->name, what, at);
}

static void skip_ws(npy_header *h) {
  while (h->pos < h->end && (h->buf[h->pos] == ' ' || h->buf[h->pos] == '\t' ||
                             h->buf[h->pos] == '\n' || h->buf[h->pos] == '\r'))
    h->pos++;
}

/* Consumes c after optional spaces, or fails naming what was expected. */
static int expect(npy_header *h, char c, const char *where) {
  skip_ws(h);
  if (h->pos >= h->end || h->buf[h->pos] != c)
    return fail_at(h, h->pos, "bad header: expected '%c' %s", c, where);
  h->pos++;
  return 0;
}

/* A quoted Python string ('...' or "...") into out (NUL-terminated). */
static int parse_string(npy_header *h, char *out, size_t cap) {
  skip_ws(h);
  size_t at = h->pos;
  if (at >= h->end || (h->buf[at] != '\'' && h->buf[at] != '"'))
    return fail_at(h, at, "bad header: expected a quoted string");
  unsigned char q = h->buf[h->pos++];
  size_t len = 0;
  while (h->pos < h->end && h->buf[h->pos] != q) {
    if (len + 1 >= cap) return fail_at(h, at, "bad header: string too long");
    out[len++] = (char)h->buf[h->pos++];
  }
  if (h->pos >= h->end) return fail_at(h, at, "bad header: unterminated string");
  h->pos++;
  out[len] = '\0';
  return 0;
}

/* descr: byte order, kind, size, e.g. "<f4", "|u1", ">i8". */
static int parse_descr(npy_header *h) {
  char d[32];
  skip_ws(h);
  size_t at = h->pos;
  if (parse_string(h, d, sizeof d) < 0) return -1;
  const char *p = d;
  h->big = 0;
  if (*p == '<' || *p == '>' || *p == '|' || *p == '=') h->big = (*p++ == '>');
  h->kind = *p ? *p++ : '\0';
  h->itemsize = 0;
  if (*p >= '1' && *p <= '8' && p[1] == '\0') h->itemsize = *p - '0';
  int ok = (h->kind == 'f' && (h->itemsize == 2 || h->itemsize == 4 ||
                                h->itemsize == 8)) ||
           ((h->kind == 'i' || h->kind == 'u') &&
            (h->itemsize == 1 || h->itemsize == 2 || h->itemsize == 4 ||
             h->itemsize == 8)) ||
           (h->kind == 'b' && h->itemsize == 1);
  if (!ok)
    return cv_error_set(h->err, "%s: unsupported dtype '%s' (header field 'descr' "
                        "at byte offset %zu); supported: f2 f4 f8 i1 u1 i2 u2 i4 u4 "
                        "i8 u8 b1", h->name, d, at);
  return 0;
}

static int parse_bool(npy_header *h, int *v) {
  skip_ws(h);
  size_t left = h->end - h->pos;
  const char *s = (const char *)h->buf + h->pos;
  if (left >= 4 && !memcmp(s, "True", 4)) { *v = 1; h->pos += 4; return 0; }
  if (left >= 5 && !memcmp(s, "False", 5)) { *v = 0; h->pos += 5; return 0; }
  return fail_at(h, h->pos, "bad header: 'fortran_order' must be True or False");
}

/* One non-negative dimension size; Python 2 files may append L. */
static int parse_dim(npy_header *h, int64_t *v) {
  size_t at = h->pos;
  int64_t x = 0;
  while (h->pos < h->end && h->buf[h->pos] >= '0' && h->buf[h->pos] <= '9') {
    if (x > ((int64_t)1 << 56))
      return fail_at(h, at, "bad header: a size in 'shape' is too large");
    x = x * 10 + (h->buf[h->pos++] - '0');
  }
  if (h->pos == at) return fail_at(h, at, "bad header: expected a size in 'shape'");
  if (h->pos < h->end && h->buf[h->pos] == 'L') h->pos++;
  *v = x;
  return 0;
}

/* shape: "()", "(5,)", "(2, 3)", trailing comma optional. */
static int parse_shape(npy_header *h) {
  if (expect(h, '(', "to open 'shape'") < 0) return -1;
  h->ndim = 0;
  for (;;) {
    skip_ws(h);
    if (h->pos < h->end && h->buf[h->pos] == ')') { h->pos++; return 0; }
    if (h->ndim == CV_MAX_DIMS)
      return fail_at(h, h->pos, "'shape' has more than %d dimensions", CV_MAX_DIMS);
    if (parse_dim(h, &h->size[h->ndim++]) < 0) return -1;
    skip_ws(h);
    if (h->pos < h->end && h->buf[h->pos] == ',') h->pos++;
    else if (h->pos >= h->end || h->buf[h->pos] != ')')
      return fail_at(h, h->pos, "bad header: expected ',' or ')' in 'shape'");
  }
}

static int parse_entry(npy_header *h) {
  char key[32];
  skip_ws(h);
  size_t at = h->pos;
  if (parse_string(h, key, sizeof key) < 0 || expect(h, ':', "after a key") < 0)
    return -1;
  if (!strcmp(key, "descr")) { h->seen |= 1; return parse_descr(h); }
  if (!strcmp(key, "fortran_order")) {
    h->seen |= 2;
    h->fortran_at = at;
    return parse_bool(h, &h->fortran);
  }
  if (!strcmp(key, "shape")) { h->seen |= 4; h->shape_at = at; return parse_shape(h); }
  return fail_at(h, at, "bad header: unknown key '%s'", key);
}

/* The dict {'descr': ..., 'fortran_order': ..., 'shape': ...}. */
static int parse_dict(npy_header *h) {
  if (expect(h, '{', "at the start of the header") < 0) return -1;
  for (;;) {
    skip_ws(h);
    if (h->pos < h->end && h->buf[h->pos] == '}') break;
    if (parse_entry(h) < 0) return -1;
    skip_ws(h);
    if (h->pos < h->end && h->buf[h->pos] == ',') h->pos++;
    else if (h->pos >= h->end || h->buf[h->pos] != '}')
      return fail_at(h, h->pos, "bad header: expected ',' or '}'");
  }
  static const char *names[] = {"descr", "fortran_order", "shape"};
  for (int i = 0; i < 3; i++)
    if (!(h->seen & (1 << i)))
      return fail_at(h, h->pos, "bad header: no '%s' field", names[i]);
  return 0;
}

/* Magic, version and header length; leaves h->pos/end around the dict and
 * *data at the first data byte. */
static int parse_preamble(npy_header *h, size_t n, size_t *data) {
  if (n < NPY_MAGIC_LEN || memcmp(h->buf, NPY_MAGIC, NPY_MAGIC_LEN))
    return fail_at(h, 0, "not a .npy file: bad magic");
  if (n < 8)
    return fail_at(h, NPY_MAGIC_LEN, "truncated header: the file has only %zu bytes", n);
  int major = h->buf[6], minor = h->buf[7];
  if (major < 1 || major > 3 || minor != 0)
    return fail_at(h, 6, "unsupported .npy format version %d.%d (supported: 1.0, 2.0, 3.0)",
                   major, minor);
  size_t lenbytes = major == 1 ? 2 : 4, hlen = 0;
  if (n < 8 + lenbytes)
    return fail_at(h, 8, "truncated header: the file has only %zu bytes", n);
  for (size_t i = lenbytes; i-- > 0;) hlen = (hlen << 8) | h->buf[8 + i];
  h->pos = 8 + lenbytes;
  if (hlen > n - h->pos)
    return fail_at(h, h->pos, "truncated header: it declares %zu bytes, the file has "
                   "%zu after this offset", hlen, n - h->pos);
  h->end = h->pos + hlen;
  *data = h->end;
  return 0;
}

/* IEEE half precision (NumPy's float16) to float. */
static float half_to_float(unsigned bits) {
  int exp = (bits >> 10) & 0x1f, man = bits & 0x3ff;
  float v;
  if (exp == 0) v = ldexpf((float)man, -24);                 /* subnormal */
  else if (exp == 31) v = man ? NAN : INFINITY;
  else v = ldexpf((float)(man | 0x400), exp - 25);
  return (bits & 0x8000) ? -v : v;
}

/* The element at p as a float. */
static float decode_one(const npy_header *h, const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 0; i < h->itemsize; i++)
    v = (v << 8) | p[h->big ? i : h->itemsize - 1 - i];
  int shift = 64 - 8 * h->itemsize;
  switch (h->kind) {
  case 'f':
    if (h->itemsize == 2) return half_to_float((unsigned)v);
    if (h->itemsize == 4) {
      uint32_t u = (uint32_t)v;
      float f;
      memcpy(&f, &u, 4);
      return f;
    } else {
      double d;
      memcpy(&d, &v, 8);
      return (float)d;
    }
  case 'i': return (float)((int64_t)(v << shift) >> shift);
  case 'u': return (float)v;
  default: return v ? 1.0f : 0.0f;
  }
}

/* Element count, refusing products that overflow. Zero sizes count as 1
 * for the check: the strides of (0, 2^40, 2^40) overflow as well. */
static int count_elements(npy_header *h, size_t data, size_t n, int64_t *numel) {
  int64_t c = 1, span = 1;
  for (int i = 0; i < h->ndim; i++) {
    int64_t s = h->size[i] ? h->size[i] : 1;
    if (span > INT64_MAX / 8 / s)
      return fail_at(h, h->shape_at, "'shape' is too large");
    span *= s;
    c *= h->size[i];
  }
  if ((uint64_t)c * (uint64_t)h->itemsize > n - data)
    return fail_at(h, data, "truncated data: the shape needs %lld bytes, the file has "
                   "%zu after this offset", (long long)(c * h->itemsize), n - data);
  *numel = c;
  return 0;
}

cv_tensor *cv_npy_load_from_memory(const unsigned char *buf, size_t n,
                                   const char *name, cv_error *err) {
  npy_header h = {.name = name, .buf = buf, .err = err};
  size_t data = 0;
  int64_t numel = 0;
  if (parse_preamble(&h, n, &data) < 0 || parse_dict(&h) < 0) return NULL;
  if (h.fortran && h.ndim > 1) {
    cv_error_set(err, "%s: Fortran order is not supported (header field "
                 "'fortran_order' at byte offset %zu); save a C-ordered array, "
                 "e.g. np.ascontiguousarray(a)", name, h.fortran_at);
    return NULL;
  }
  if (count_elements(&h, data, n, &numel) < 0) return NULL;
  cv_tensor *t = cv_tensor_empty(h.ndim, h.size, err);
  if (!t) return cv_error_prefix(err, "%s", name), NULL;
  float *out = cv_tensor_data(t);
  const unsigned char *p = buf + data;
  if (h.kind == 'f' && h.itemsize == 4 && !h.big && ((const union { int i; char c; }){1}).c)
    memcpy(out, p, (size_t)numel * 4); /* little-endian host: bytes as they are */
  else
    for (int64_t i = 0; i < numel; i++) out[i] = decode_one(&h, p + i * h.itemsize);
  return t;
}

cv_tensor *cv_npy_load(const char *path, cv_error *err) {
  return cv_io_load_file(path, cv_npy_load_from_memory, err);
}

/* ---- writing ------------------------------------------------------------ */

/* The padded v1.0 header: magic, version, length, dict, spaces, newline;
 * data starts at a multiple of 64 bytes as NumPy writes it. Returns its size. */
static size_t format_header(const cv_tensor *t, char *out, size_t cap) {
  char shape[CV_MAX_DIMS * 24 + 4];
  size_t k = 0;
  shape[k++] = '(';
  for (int i = 0; i < t->ndim; i++)
    k += (size_t)snprintf(shape + k, sizeof shape - k, i ? ", %lld" : "%lld",
                          (long long)t->size[i]);
  if (t->ndim == 1) shape[k++] = ',';
  shape[k++] = ')';
  shape[k] = '\0';
  char dict[sizeof shape + 64];
  int d = snprintf(dict, sizeof dict,
                   "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }", shape);
  size_t total = (10 + (size_t)d + 1 + 63) / 64 * 64;
  if (total > cap) return 0;
  memcpy(out, NPY_MAGIC "\x01\x00", 8);
  out[8] = (char)((total - 10) & 0xff);
  out[9] = (char)((total - 10) >> 8);
  memcpy(out + 10, dict, (size_t)d);
  memset(out + 10 + d, ' ', total - 10 - (size_t)d - 1);
  out[total - 1] = '\n';
  return total;
}

/* Writes n floats little-endian, a chunk at a time. */
static int write_floats(FILE *f, const float *x, int64_t n) {
  unsigned char chunk[4096 * 4];
  while (n > 0) {
    int64_t m = n < 4096 ? n : 4096;
    for (int64_t i = 0; i < m; i++) {
      uint32_t u;
      memcpy(&u, &x[i], 4);
      for (int b = 0; b < 4; b++) chunk[4 * i + b] = (unsigned char)(u >> (8 * b));
    }
    if (fwrite(chunk, 4, (size_t)m, f) != (size_t)m) return -1;
    x += m;
    n -= m;
  }
  return 0;
}

int cv_npy_save(const cv_tensor *t, const char *path, cv_error *err) {
  char header[1024];
  size_t hn = format_header(t, header, sizeof header);
  cv_tensor *c = cv_tensor_contiguous((cv_tensor *)t, err);
  if (!c) return -1;
  FILE *f = fopen(path, "wb");
  if (!f) {
    cv_tensor_release(c);
    return cv_error_set(err, "%s: cannot open for writing (%s)", path, strerror(errno));
  }
  int bad = fwrite(header, 1, hn, f) != hn ||
            write_floats(f, cv_tensor_data(c), cv_tensor_numel(c)) < 0;
  int e = errno;
  cv_tensor_release(c);
  if (fclose(f) != 0 && !bad) { bad = 1; e = errno; }
  if (bad) return cv_error_set(err, "%s: cannot write (%s)", path, strerror(e));
  return 0;
}
