/* nrrd.c — NRRD writing (float32, raw or gzip, atomic) and reading. */
#include "nrrd.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "file.h"

cv_nrrd_meta cv_nrrd_meta_none(int ndim) {
  cv_nrrd_meta m;
  memset(&m, 0, sizeof m);
  m.ndim = ndim;
  for (int i = 0; i < CV_MAX_DIMS; i++) m.spacing[i] = NAN;
  return m;
}

/* NRRD's axis kinds (format.html, "kinds"). */
static const char *const kinds[] = {
    "domain", "space", "time", "list", "point", "vector", "covariant-vector", "normal",
    "stub", "scalar", "complex", "2-vector", "3-color", "RGB-color", "HSV-color",
    "XYZ-color", "4-color", "RGBA-color", "3-vector", "3-gradient", "3-normal",
    "4-vector", "quaternion", "2D-symmetric-matrix", "2D-masked-symmetric-matrix",
    "2D-matrix", "2D-masked-matrix", "3D-symmetric-matrix", "3D-masked-symmetric-matrix",
    "3D-matrix", "3D-masked-matrix", "???", "none", NULL};

static int known_kind(const char *k) {
  for (const char *const *p = kinds; *p; p++)
    if (strcmp(*p, k) == 0) return 1;
  return 0;
}

/* ---- writing ------------------------------------------------------------ */

static int check_meta(const cv_tensor *t, const cv_nrrd_meta *m, const char *path,
                      cv_error *err) {
  if (!m) return 0;
  if (m->ndim != t->ndim)
    return cv_error_set(err, "%s: metadata for %d dims given for a %d-d tensor", path,
                        m->ndim, t->ndim);
  for (int i = 0; i < t->ndim; i++) {
    if (strpbrk(m->label[i], "\"\\\n\r"))
      return cv_error_set(err, "%s: label of dim %d holds a quote, backslash or line break",
                          path, i + 1);
    if (m->kind[i][0] && !known_kind(m->kind[i]))
      return cv_error_set(err, "%s: unknown NRRD kind '%s' for dim %d (domain, space, "
                          "time, list, ...)", path, m->kind[i], i + 1);
    if (!isnan(m->spacing[i]) && !(isfinite(m->spacing[i]) && m->spacing[i] > 0))
      return cv_error_set(err, "%s: spacing of dim %d must be a positive number, got %g",
                          path, i + 1, m->spacing[i]);
  }
  return 0;
}

/* The header text, axes fastest first. Returns its length. */
static size_t header(const cv_tensor *t, const cv_nrrd_meta *m, cv_nrrd_encoding enc,
                     char *h, size_t cap) {
  size_t n = 0;
#define PUT(...) n += (size_t)snprintf(h + n, n < cap ? cap - n : 0, __VA_ARGS__)
  PUT("NRRD0004\n# Complete NRRD file format specification at:\n"
      "# http://teem.sourceforge.net/nrrd/format.html\n");
  PUT("type: float\ndimension: %d\nsizes:", t->ndim);
  for (int i = t->ndim - 1; i >= 0; i--) PUT(" %lld", (long long)t->size[i]);
  int spacing = 0, label = 0;
  for (int i = 0; m && i < t->ndim; i++) {
    spacing |= !isnan(m->spacing[i]);
    label |= m->label[i][0] != 0;
  }
  if (spacing) {
    PUT("\nspacings:");
    for (int i = t->ndim - 1; i >= 0; i--)
      if (isnan(m->spacing[i])) PUT(" nan");
      else PUT(" %.17g", m->spacing[i]);
  }
  PUT("\nkinds:");
  for (int i = t->ndim - 1; i >= 0; i--)
    PUT(" %s", m && m->kind[i][0] ? m->kind[i] : "domain");
  if (label) {
    PUT("\nlabels:");
    for (int i = t->ndim - 1; i >= 0; i--) PUT(" \"%s\"", m->label[i]);
  }
  PUT("\nendian: little\nencoding: %s\n\n", enc == CV_NRRD_GZIP ? "gzip" : "raw");
#undef PUT
  return n;
}

enum { CHUNK = 1 << 16 };

/* len bytes to f, as they are (z NULL) or through deflate. */
static int put(FILE *f, z_stream *z, unsigned char *in, size_t len, int finish,
               unsigned char *out) {
  if (!z) return fwrite(in, 1, len, f) == len ? 0 : -1;
  z->next_in = in;
  z->avail_in = (uInt)len;
  do {
    z->next_out = out;
    z->avail_out = 4 * CHUNK;
    if (deflate(z, finish ? Z_FINISH : Z_NO_FLUSH) == Z_STREAM_ERROR) return -1;
    size_t got = 4 * CHUNK - z->avail_out;
    if (fwrite(out, 1, got, f) != got) return -1;
  } while (z->avail_out == 0);
  return 0;
}

/* The contiguous values v as little-endian float32, raw or gzip. */
static int write_data(FILE *f, const float *v, int64_t count, cv_nrrd_encoding enc) {
  unsigned char *buf = malloc(8 * CHUNK), *out = buf + 4 * CHUNK;
  if (!buf) return -1;
  z_stream zs, *z = NULL;
  memset(&zs, 0, sizeof zs);
  if (enc == CV_NRRD_GZIP) {
    if (deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
      free(buf);
      return -1;
    }
    z = &zs;
  }
  int bad = 0;
  int64_t at = 0;
  do {
    int64_t m = count - at < CHUNK ? count - at : CHUNK;
    for (int64_t i = 0; i < m; i++) {
      uint32_t u;
      memcpy(&u, v + at + i, 4);
      buf[4 * i] = (unsigned char)u, buf[4 * i + 1] = (unsigned char)(u >> 8);
      buf[4 * i + 2] = (unsigned char)(u >> 16), buf[4 * i + 3] = (unsigned char)(u >> 24);
    }
    at += m;
    bad = put(f, z, buf, (size_t)(4 * m), at >= count, out) < 0;
  } while (!bad && at < count);
  if (z) deflateEnd(z);
  free(buf);
  return bad ? -1 : 0;
}

int cv_nrrd_save(const cv_tensor *t, const char *path, const cv_nrrd_meta *meta,
                 cv_nrrd_encoding encoding, cv_error *err) {
  char s[CV_SHAPE_STR_MAX];
  if (t->ndim < 1)
    return cv_error_set(err, "%s: NRRD needs a tensor of 1 to %d dims, got %s", path,
                        CV_MAX_DIMS, cv_shape_str(t->ndim, t->size, s, sizeof s));
  if (check_meta(t, meta, path, err)) return -1;
  char h[2048];
  size_t hn = header(t, meta, encoding, h, sizeof h);
  if (hn >= sizeof h) return cv_error_set(err, "%s: NRRD header too long", path);
  size_t pn = strlen(path);
  char *tmp = malloc(pn + 16);
  if (!tmp) return cv_error_set(err, "%s: out of memory", path);
  memcpy(tmp, path, pn);
  memcpy(tmp + pn, ".tmp-XXXXXX", 12);
  int fd = mkstemp(tmp);
  if (fd < 0) {
    int e = errno;
    free(tmp);
    return cv_error_set(err, "%s: cannot open for writing (%s)", path, strerror(e));
  }
  /* mkstemp makes the file 0600; a volume is as public as any other output. */
  mode_t mask = umask(0);
  umask(mask);
  fchmod(fd, 0666 & ~mask);
  FILE *f = fdopen(fd, "wb");
  cv_tensor *c = f ? cv_tensor_contiguous((cv_tensor *)t, err) : NULL;
  int bad = !f || !c;
  int e = errno;
  if (!bad) {
    bad = fwrite(h, 1, hn, f) != hn ||
          write_data(f, cv_tensor_data(c), cv_tensor_numel(c), encoding) < 0;
    e = errno;
  }
  cv_tensor_release(c);
  if (f ? fclose(f) != 0 : close(fd) != 0) {
    if (!bad) e = errno;
    bad = 1;
  }
  if (!bad && rename(tmp, path) != 0) bad = 1, e = errno;
  if (bad) {
    unlink(tmp);
    free(tmp);
    return cv_error_set(err, "%s: cannot write (%s)", path, strerror(e));
  }
  free(tmp);
  return 0;
}

/* ---- reading ------------------------------------------------------------ */

typedef enum { T_I8, T_U8, T_I16, T_U16, T_I32, T_U32, T_I64, T_U64, T_F32, T_F64 } vtype;
static const int type_bytes[] = {1, 1, 2, 2, 4, 4, 8, 8, 4, 8};

static const struct {
  const char *name;
  vtype t;
} type_names[] = {
    {"signed char", T_I8},    {"int8", T_I8},
    {"int8_t", T_I8},         {"uchar", T_U8},
    {"unsigned char", T_U8},  {"uint8", T_U8},
    {"uint8_t", T_U8},        {"short", T_I16},
    {"short int", T_I16},     {"signed short", T_I16},
    {"signed short int", T_I16}, {"int16", T_I16},
    {"int16_t", T_I16},       {"ushort", T_U16},
    {"unsigned short", T_U16}, {"unsigned short int", T_U16},
    {"uint16", T_U16},        {"uint16_t", T_U16},
    {"int", T_I32},           {"signed int", T_I32},
    {"int32", T_I32},         {"int32_t", T_I32},
    {"uint", T_U32},          {"unsigned int", T_U32},
    {"uint32", T_U32},        {"uint32_t", T_U32},
    {"longlong", T_I64},      {"long long", T_I64},
    {"long long int", T_I64}, {"signed long long", T_I64},
    {"signed long long int", T_I64}, {"int64", T_I64},
    {"int64_t", T_I64},       {"ulonglong", T_U64},
    {"unsigned long long", T_U64}, {"unsigned long long int", T_U64},
    {"uint64", T_U64},        {"uint64_t", T_U64},
    {"float", T_F32},         {"double", T_F64},
};

typedef struct {
  const char *name;
  cv_error *err;
  int line;
  int have_type, have_sizes, have_encoding, big, have_endian;
  vtype type;
  int dim;
  int64_t size[CV_MAX_DIMS]; /* file order: fastest first */
  enum { E_RAW, E_GZIP, E_ASCII } enc;
  cv_nrrd_meta meta;         /* file order while parsing */
} nrrd_header;

__attribute__((format(printf, 2, 3)))
static int fail_line(nrrd_header *h, const char *fmt, ...) {
  char what[CV_ERROR_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  return cv_error_set(h->err, "%s: line %d: %s", h->name, h->line, what);
}

static const char *skip_space(const char *p) {
  while (*p == ' ' || *p == '\t') p++;
  return p;
}

/* "dimension" must come before the per-axis fields. */
static int need_dim(nrrd_header *h, const char *field) {
  if (h->dim == 0) return fail_line(h, "'%s' before 'dimension'", field);
  return 0;
}

/* Up to dim words separated by spaces; each copied to out[i] (cap bytes). */
static int axis_words(nrrd_header *h, const char *field, const char *p, char *out,
                      size_t cap) {
  if (need_dim(h, field)) return -1;
  for (int i = 0; i < h->dim; i++) {
    p = skip_space(p);
    size_t n = strcspn(p, " \t");
    if (n == 0) return fail_line(h, "'%s' needs %d values, got %d", field, h->dim, i);
    if (n >= cap) return fail_line(h, "'%s': value %d too long", field, i + 1);
    memcpy(out + (size_t)i * cap, p, n);
    out[(size_t)i * cap + n] = 0;
    p += n;
  }
  if (*skip_space(p)) return fail_line(h, "'%s' has more than %d values", field, h->dim);
  return 0;
}

static int parse_labels(nrrd_header *h, const char *p) {
  if (need_dim(h, "labels")) return -1;
  for (int i = 0; i < h->dim; i++) {
    p = skip_space(p);
    if (*p != '"') return fail_line(h, "'labels' needs %d quoted strings", h->dim);
    p++;
    size_t n = 0;
    while (*p && *p != '"') {
      if (*p == '\\' && p[1]) p++;
      if (n + 1 >= CV_NRRD_LABEL_MAX) return fail_line(h, "label %d too long", i + 1);
      h->meta.label[i][n++] = *p++;
    }
    if (*p != '"') return fail_line(h, "unterminated label %d", i + 1);
    h->meta.label[i][n] = 0;
    p++;
  }
  return 0;
}

/* One "field: value" line (NUL-terminated, no newline). */
static int parse_field(nrrd_header *h, char *line) {
  if (line[0] == '#') return 0;
  char *colon = strstr(line, ": ");
  char *kv = strstr(line, ":=");
  if (kv && (!colon || kv < colon)) return 0; /* key/value pairs are the user's */
  if (!colon) return fail_line(h, "expected 'field: value', got '%.60s'", line);
  *colon = 0;
  const char *f = line, *v = skip_space(colon + 2);
  char words[CV_MAX_DIMS][32];
  if (strcmp(f, "type") == 0) {
    for (size_t i = 0; i < sizeof type_names / sizeof *type_names; i++)
      if (strcmp(v, type_names[i].name) == 0) {
        h->type = type_names[i].t;
        h->have_type = 1;
        return 0;
      }
    return fail_line(h, "unsupported type '%.60s'", v);
  }
  if (strcmp(f, "dimension") == 0) {
    char *end;
    long d = strtol(v, &end, 10);
    if (*skip_space(end) || d < 1 || d > CV_MAX_DIMS)
      return fail_line(h, "dimension must be 1 to %d, got '%.60s'", CV_MAX_DIMS, v);
    h->dim = (int)d;
    h->meta = cv_nrrd_meta_none((int)d);
    return 0;
  }
  if (strcmp(f, "sizes") == 0) {
    if (axis_words(h, f, v, words[0], sizeof words[0])) return -1;
    for (int i = 0; i < h->dim; i++) {
      char *end;
      long long s = strtoll(words[i], &end, 10);
      if (*end || s < 1) return fail_line(h, "size %d must be a positive integer, got '%s'",
                                          i + 1, words[i]);
      h->size[i] = s;
    }
    h->have_sizes = 1;
    return 0;
  }
  if (strcmp(f, "spacings") == 0) {
    if (axis_words(h, f, v, words[0], sizeof words[0])) return -1;
    for (int i = 0; i < h->dim; i++) {
      char *end;
      h->meta.spacing[i] = strtod(words[i], &end);
      if (*end) return fail_line(h, "spacing %d is not a number: '%s'", i + 1, words[i]);
    }
    return 0;
  }
  if (strcmp(f, "kinds") == 0) {
    if (axis_words(h, f, v, h->meta.kind[0], CV_NRRD_KIND_MAX)) return -1;
    return 0;
  }
  if (strcmp(f, "labels") == 0) return parse_labels(h, v);
  if (strcmp(f, "endian") == 0) {
    if (strcmp(v, "little") && strcmp(v, "big"))
      return fail_line(h, "endian must be little or big, got '%.60s'", v);
    h->big = strcmp(v, "big") == 0;
    h->have_endian = 1;
    return 0;
  }
  if (strcmp(f, "encoding") == 0) {
    /* teem writes "ASCII"; its reader takes any case */
    if (strcasecmp(v, "raw") == 0) h->enc = E_RAW;
    else if (strcasecmp(v, "gzip") == 0 || strcasecmp(v, "gz") == 0) h->enc = E_GZIP;
    else if (strcasecmp(v, "ascii") == 0 || strcasecmp(v, "text") == 0 ||
             strcasecmp(v, "txt") == 0)
      h->enc = E_ASCII;
    else return fail_line(h, "unsupported encoding '%.60s' (raw, gzip or ascii)", v);
    h->have_encoding = 1;
    return 0;
  }
  if (strcmp(f, "data file") == 0 || strcmp(f, "datafile") == 0)
    return fail_line(h, "detached data files are not read: the data must follow the header");
  if ((strcmp(f, "byte skip") == 0 || strcmp(f, "line skip") == 0) && strcmp(v, "0"))
    return fail_line(h, "'%s: %.20s' is not supported (only 0)", f, v);
  return 0; /* other fields (space directions, centers, content, ...) are kept by no one */
}

static double value_at(const unsigned char *p, vtype t, int big) {
  unsigned char b[8];
  int n = type_bytes[t];
  for (int i = 0; i < n; i++) b[i] = p[big ? n - 1 - i : i];
  uint64_t u = 0;
  for (int i = n - 1; i >= 0; i--) u = u << 8 | b[i];
  switch (t) {
  case T_I8: return (int8_t)u;
  case T_U8: return (uint8_t)u;
  case T_I16: return (int16_t)u;
  case T_U16: return (uint16_t)u;
  case T_I32: return (int32_t)u;
  case T_U32: return (uint32_t)u;
  case T_I64: return (double)(int64_t)u;
  case T_U64: return (double)u;
  case T_F32: {
    uint32_t w = (uint32_t)u;
    float f;
    memcpy(&f, &w, 4);
    return f;
  }
  case T_F64: {
    double d;
    memcpy(&d, &u, 8);
    return d;
  }
  }
  return 0;
}

/* The data's bytes: the rest of the file, or inflated from it. *owned is
 * set when the bytes were allocated here. */
static int data_bytes(nrrd_header *h, const unsigned char *p, size_t n, size_t need,
                      const unsigned char **out, unsigned char **owned) {
  *owned = NULL;
  if (h->enc == E_RAW) {
    if (n < need)
      return cv_error_set(h->err, "%s: data: expected %zu bytes, found %zu", h->name, need, n);
    *out = p;
    return 0;
  }
  unsigned char *b = malloc(need ? need : 1);
  if (!b) return cv_error_set(h->err, "%s: out of memory for %zu bytes of data", h->name, need);
  z_stream z;
  memset(&z, 0, sizeof z);
  if (inflateInit2(&z, 15 + 32) != Z_OK) {
    free(b);
    return cv_error_set(h->err, "%s: cannot start zlib", h->name);
  }
  z.next_in = (unsigned char *)p;
  z.avail_in = n > UINT32_MAX ? UINT32_MAX : (uInt)n;
  z.next_out = b;
  z.avail_out = (uInt)need;
  int zr = inflate(&z, Z_FINISH);
  size_t got = need - z.avail_out;
  inflateEnd(&z);
  if (got < need || (zr != Z_STREAM_END && zr != Z_BUF_ERROR && zr != Z_OK)) {
    free(b);
    return cv_error_set(h->err, "%s: gzip data: %s after %zu of %zu bytes", h->name,
                        zr == Z_DATA_ERROR ? "corrupt" : "truncated", got, need);
  }
  *out = *owned = b;
  return 0;
}

static int read_ascii(nrrd_header *h, const unsigned char *p, size_t n, float *v,
                      int64_t count) {
  char *text = malloc(n + 1);
  if (!text) return cv_error_set(h->err, "%s: out of memory", h->name);
  memcpy(text, p, n);
  text[n] = 0;
  char *s = text;
  for (int64_t i = 0; i < count; i++) {
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == ',') s++;
    char *end;
    double d = strtod(s, &end);
    if (end == s) {
      free(text);
      return cv_error_set(h->err, "%s: ascii data: value %lld of %lld missing or not a number",
                          h->name, (long long)i + 1, (long long)count);
    }
    v[i] = (float)d;
    s = end;
  }
  free(text);
  return 0;
}

cv_tensor *cv_nrrd_load_from_memory(const unsigned char *buf, size_t n, const char *name,
                                    cv_nrrd_meta *meta, cv_error *err) {
  nrrd_header h;
  memset(&h, 0, sizeof h);
  h.name = name;
  h.err = err;
  if (n < 8 || memcmp(buf, "NRRD000", 7) || buf[7] < '1' || buf[7] > '5') {
    cv_error_set(err, "%s: not a NRRD file (no NRRD0001-NRRD0005 magic)", name);
    return NULL;
  }
  size_t pos = 0;
  char line[1024];
  for (h.line = 1;; h.line++) {
    size_t end = pos;
    while (end < n && buf[end] != '\n') end++;
    if (end >= n) {
      fail_line(&h, "the header ends without the blank line before the data");
      return NULL;
    }
    size_t len = end - pos;
    if (len && buf[end - 1] == '\r') len--;
    if (len >= sizeof line) {
      fail_line(&h, "line longer than %zu bytes", sizeof line - 1);
      return NULL;
    }
    memcpy(line, buf + pos, len);
    line[len] = 0;
    pos = end + 1;
    if (h.line == 1) continue;
    if (len == 0) break;
    if (parse_field(&h, line)) return NULL;
  }
  const char *missing = !h.have_type ? "type" : !h.dim ? "dimension" : !h.have_sizes ? "sizes"
                       : !h.have_encoding ? "encoding" : NULL;
  if (missing) {
    cv_error_set(err, "%s: the header has no '%s' field", name, missing);
    return NULL;
  }
  if (!h.have_endian && type_bytes[h.type] > 1 && h.enc != E_ASCII) {
    cv_error_set(err, "%s: the header has no 'endian' field (needed for %d-byte values)",
                 name, type_bytes[h.type]);
    return NULL;
  }
  int64_t size[CV_MAX_DIMS];
  long double count = 1;
  for (int i = 0; i < h.dim; i++) {
    size[i] = h.size[h.dim - 1 - i];
    count *= (long double)size[i];
  }
  if (count > (long double)CV_IO_MAX_VALUES) {
    cv_error_set(err, "%s: sizes declare %.0Lf values, more than the %lld a reader allocates",
                 name, count, (long long)CV_IO_MAX_VALUES);
    return NULL;
  }
  cv_tensor *t = cv_tensor_empty(h.dim, size, err);
  if (!t) return NULL;
  float *v = cv_tensor_data(t);
  int64_t m = cv_tensor_numel(t);
  if (h.enc == E_ASCII) {
    if (read_ascii(&h, buf + pos, n - pos, v, m)) goto fail;
  } else {
    const unsigned char *d = NULL;
    unsigned char *owned;
    int bytes = type_bytes[h.type];
    if (data_bytes(&h, buf + pos, n - pos, (size_t)m * bytes, &d, &owned)) goto fail;
    for (int64_t i = 0; i < m; i++) v[i] = (float)value_at(d + i * bytes, h.type, h.big);
    free(owned);
  }
  if (meta) {
    *meta = cv_nrrd_meta_none(h.dim);
    for (int i = 0; i < h.dim; i++) {
      int j = h.dim - 1 - i;
      meta->spacing[i] = h.meta.spacing[j];
      memcpy(meta->label[i], h.meta.label[j], CV_NRRD_LABEL_MAX);
      memcpy(meta->kind[i], h.meta.kind[j], CV_NRRD_KIND_MAX);
    }
  }
  return t;
fail:
  cv_tensor_release(t);
  return NULL;
}

cv_tensor *cv_nrrd_load(const char *path, cv_nrrd_meta *meta, cv_error *err) {
  unsigned char *buf;
  size_t n;
  if (cv_io_read_file(path, &buf, &n, err) < 0) return NULL;
  cv_tensor *t = cv_nrrd_load_from_memory(buf, n, path, meta, err);
  free(buf);
  return t;
}
