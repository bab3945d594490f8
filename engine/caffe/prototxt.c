/* prototxt.c — protobuf text format into protobuf-c messages, driven by the
 * generated descriptors (so caffe.proto is the only list of fields). */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "caffe_io.h"
#include "pbutil.h"

enum { T_EOF, T_IDENT, T_NUMBER, T_STRING, T_SYMBOL };

typedef struct {
  const char *buf;
  size_t n, pos;
  int line, col;         /* of buf[pos], 1-based */
  const char *name;      /* for messages */
  cv_error *err;
  int kind;              /* the current token */
  size_t start, len;
  int tline, tcol;
  int peeked;            /* the current token was put back */
} parser;

#define MAX_DEPTH 64

/* ---- lexer ---------------------------------------------------------------- */

static void advance(parser *p) {
  if (p->buf[p->pos] == '\n') p->line++, p->col = 1;
  else p->col++;
  p->pos++;
}

static void skip_space(parser *p) {
  while (p->pos < p->n) {
    char c = p->buf[p->pos];
    if (c == '#') {
      while (p->pos < p->n && p->buf[p->pos] != '\n') advance(p);
    } else if (isspace((unsigned char)c)) {
      advance(p);
    } else {
      return;
    }
  }
}

static int fail(parser *p, const char *what) {
  return cv_error_set(p->err, "%s:%d:%d: %s", p->name, p->tline, p->tcol,
                      what);
}

static int lex_string(parser *p) {
  char q = p->buf[p->pos];
  advance(p);
  while (p->pos < p->n && p->buf[p->pos] != q) {
    if (p->buf[p->pos] == '\n') return fail(p, "a string runs past the line");
    if (p->buf[p->pos] == '\\' && p->pos + 1 < p->n) advance(p);
    advance(p);
  }
  if (p->pos >= p->n) return fail(p, "a string is not closed");
  advance(p);
  return 0;
}

/* Reads the next token into p->kind/start/len/tline/tcol. */
static int next(parser *p) {
  if (p->peeked) {
    p->peeked = 0;
    return 0;
  }
  skip_space(p);
  p->start = p->pos, p->tline = p->line, p->tcol = p->col;
  if (p->pos >= p->n) {
    p->kind = T_EOF, p->len = 0;
    return 0;
  }
  unsigned char c = (unsigned char)p->buf[p->pos];
  if (c == '"' || c == '\'') {
    p->kind = T_STRING;
    if (lex_string(p) < 0) return -1;
  } else if (isalpha(c) || c == '_') {
    p->kind = T_IDENT;
    while (p->pos < p->n && (isalnum((unsigned char)p->buf[p->pos]) ||
                             p->buf[p->pos] == '_'))
      advance(p);
  } else if (isdigit(c) || (c == '.' && p->pos + 1 < p->n &&
                            isdigit((unsigned char)p->buf[p->pos + 1]))) {
    p->kind = T_NUMBER;
    char prev = 0;
    while (p->pos < p->n) {
      char d = p->buf[p->pos];
      int sign = (d == '+' || d == '-') && (prev == 'e' || prev == 'E');
      if (!isalnum((unsigned char)d) && d != '.' && !sign) break;
      prev = d;
      advance(p);
    }
  } else if (c >= 32 && c < 127) {
    p->kind = T_SYMBOL;
    advance(p);
  } else {
    char msg[64];
    snprintf(msg, sizeof msg, "unexpected byte 0x%02x", c);
    return fail(p, msg);
  }
  p->len = p->pos - p->start;
  return 0;
}

static int is_sym(const parser *p, char c) {
  return p->kind == T_SYMBOL && p->buf[p->start] == c;
}

static int is_word(const parser *p, const char *w) {
  return p->kind == T_IDENT && strlen(w) == p->len &&
         strncmp(p->buf + p->start, w, p->len) == 0;
}

/* "'text'" of the current token for messages (shortened). */
static const char *token_text(const parser *p, char *out, size_t n) {
  if (p->kind == T_EOF) return "the end of the file";
  int len = p->len > 40 ? 40 : (int)p->len;
  snprintf(out, n, "'%.*s'", len, p->buf + p->start);
  return out;
}

static int expected(parser *p, const char *what) {
  char tok[64], msg[160];
  snprintf(msg, sizeof msg, "expected %s, found %s", what,
           token_text(p, tok, sizeof tok));
  return fail(p, msg);
}

/* ---- scalar values ------------------------------------------------------- */

/* Decodes the quoted token at p into a malloc'd string, appending to *s. */
static int decode_string(parser *p, char **s, size_t *slen) {
  const char *q = p->buf + p->start + 1, *end = p->buf + p->start + p->len - 1;
  char *out = realloc(*s, *slen + p->len + 1);
  if (!out) return fail(p, "out of memory");
  *s = out;
  size_t k = *slen;
  while (q < end) {
    if (*q != '\\') {
      out[k++] = *q++;
      continue;
    }
    q++;
    char e = *q++;
    const char *from = "abfnrtv\\'\"?", *to = "\a\b\f\n\r\t\v\\'\"?";
    const char *hit = strchr(from, e);
    if (e && hit) {
      out[k++] = to[hit - from];
    } else if (e == 'x' && q < end && isxdigit((unsigned char)*q)) {
      int v = 0;
      for (int i = 0; i < 2 && q < end && isxdigit((unsigned char)*q); i++, q++)
        v = v * 16 + (isdigit((unsigned char)*q) ? *q - '0'
                                                 : (tolower(*q) - 'a' + 10));
      out[k++] = (char)v;
    } else if (e >= '0' && e <= '7') {
      int v = e - '0';
      for (int i = 0; i < 2 && q < end && *q >= '0' && *q <= '7'; i++, q++)
        v = v * 8 + (*q - '0');
      out[k++] = (char)v;
    } else {
      return fail(p, "unknown escape sequence in a string");
    }
  }
  out[k] = 0;
  *slen = k;
  return 0;
}

/* A string value: one or more adjacent quoted pieces. */
static int parse_string(parser *p, char **out) {
  size_t len = 0;
  *out = NULL;
  if (p->kind != T_STRING) return expected(p, "a quoted string");
  while (p->kind == T_STRING) {
    if (decode_string(p, out, &len) < 0) return -1;
    if (next(p) < 0) return -1;
  }
  p->peeked = 1;
  return 0;
}

/* The current number token (with sign) as NUL-terminated text. */
static int number_text(parser *p, int neg, char *out, size_t n) {
  if (p->len + 2 > n) return fail(p, "a number is too long");
  out[0] = '-';
  memcpy(out + neg, p->buf + p->start, p->len);
  out[p->len + neg] = 0;
  return 0;
}

static int parse_float(parser *p, int neg, double *v) {
  if (p->kind == T_IDENT) {
    if (is_word(p, "inf") || is_word(p, "infinity") || is_word(p, "Infinity"))
      *v = neg ? -INFINITY : INFINITY;
    else if (is_word(p, "nan") || is_word(p, "NaN"))
      *v = NAN;
    else
      return expected(p, "a number");
    return 0;
  }
  char text[72], *end;
  if (p->kind != T_NUMBER) return expected(p, "a number");
  if (number_text(p, neg, text, sizeof text) < 0) return -1;
  *v = strtod(text, &end);
  if (*end == 'f' || *end == 'F') end++;
  if (*end || end == text) return expected(p, "a number");
  return 0;
}

static int parse_integer(parser *p, int neg, int is_signed, int bits,
                         int64_t *v) {
  char text[72], *end;
  if (p->kind != T_NUMBER) return expected(p, "an integer");
  if (number_text(p, neg, text, sizeof text) < 0) return -1;
  errno = 0;
  if (is_signed) {
    long long x = strtoll(text, &end, 0);
    int64_t lo = bits == 32 ? INT32_MIN : INT64_MIN;
    int64_t hi = bits == 32 ? INT32_MAX : INT64_MAX;
    if (*end || errno || x < lo || x > hi) goto bad;
    *v = x;
  } else {
    if (neg) goto bad;
    unsigned long long x = strtoull(text, &end, 0);
    if (*end || errno || (bits == 32 && x > UINT32_MAX)) goto bad;
    *v = (int64_t)x;
  }
  return 0;
bad:;
  char msg[160];
  snprintf(msg, sizeof msg, "'%s' is not a%s %d-bit integer", text,
           is_signed ? "" : "n unsigned", bits);
  return fail(p, msg);
}

static int parse_bool(parser *p, protobuf_c_boolean *v) {
  if (is_word(p, "true") || is_word(p, "True") || is_word(p, "t") ||
      (p->kind == T_NUMBER && p->len == 1 && p->buf[p->start] == '1'))
    *v = 1;
  else if (is_word(p, "false") || is_word(p, "False") || is_word(p, "f") ||
           (p->kind == T_NUMBER && p->len == 1 && p->buf[p->start] == '0'))
    *v = 0;
  else
    return expected(p, "true or false");
  return 0;
}

static int parse_enum(parser *p, const ProtobufCFieldDescriptor *f,
                      int32_t *v) {
  const ProtobufCEnumDescriptor *e = f->descriptor;
  const ProtobufCEnumValue *ev = NULL;
  char word[128];
  if (p->kind == T_IDENT && p->len < sizeof word) {
    memcpy(word, p->buf + p->start, p->len);
    word[p->len] = 0;
    ev = protobuf_c_enum_descriptor_get_value_by_name(e, word);
  } else if (p->kind == T_NUMBER) {
    int64_t x;
    if (parse_integer(p, 0, 1, 32, &x) < 0) return -1;
    ev = protobuf_c_enum_descriptor_get_value(e, (int)x);
  }
  if (!ev) {
    char tok[64], msg[300];
    size_t k = (size_t)snprintf(msg, sizeof msg, "%s is not a value of %s "
                                "(one of:", token_text(p, tok, sizeof tok),
                                e->name);
    for (unsigned i = 0; i < e->n_value_names && k < sizeof msg - 40; i++)
      k += (size_t)snprintf(msg + k, sizeof msg - k, " %s",
                            e->values_by_name[i].name);
    snprintf(msg + k, sizeof msg - k, ")");
    return fail(p, msg);
  }
  *v = ev->value;
  return 0;
}

/* Reads one value of f's scalar type into out (type_size bytes). */
static int parse_scalar(parser *p, const ProtobufCFieldDescriptor *f,
                        void *out) {
  if (f->type == PROTOBUF_C_TYPE_STRING) return parse_string(p, out);
  if (f->type == PROTOBUF_C_TYPE_BYTES) {
    ProtobufCBinaryData *b = out;
    char *s;
    if (parse_string(p, &s) < 0) return -1;
    b->data = (uint8_t *)s, b->len = strlen(s);
    return 0;
  }
  if (f->type == PROTOBUF_C_TYPE_BOOL) return parse_bool(p, out);
  if (f->type == PROTOBUF_C_TYPE_ENUM) return parse_enum(p, f, out);
  int neg = 0;
  if (is_sym(p, '-')) {
    int line = p->tline, col = p->tcol;
    neg = 1;
    if (next(p) < 0) return -1;
    p->tline = line, p->tcol = col; /* messages point at the sign */
  }
  if (f->type == PROTOBUF_C_TYPE_FLOAT || f->type == PROTOBUF_C_TYPE_DOUBLE) {
    double v = 0;
    if (parse_float(p, neg, &v) < 0) return -1;
    if (f->type == PROTOBUF_C_TYPE_FLOAT) *(float *)out = (float)v;
    else *(double *)out = v;
    return 0;
  }
  size_t size = cv_pb_type_size(f->type);
  int is_signed = f->type != PROTOBUF_C_TYPE_UINT32 &&
                  f->type != PROTOBUF_C_TYPE_UINT64 &&
                  f->type != PROTOBUF_C_TYPE_FIXED32 &&
                  f->type != PROTOBUF_C_TYPE_FIXED64;
  int64_t v;
  if (parse_integer(p, neg, is_signed, (int)size * 8, &v) < 0) return -1;
  if (size == 4) *(int32_t *)out = (int32_t)v;
  else *(int64_t *)out = v;
  return 0;
}

/* ---- fields ---------------------------------------------------------------- */

static int parse_fields(parser *p, const ProtobufCMessageDescriptor *d,
                        ProtobufCMessage *m, char close, int depth);

static int twice(parser *p, const ProtobufCFieldDescriptor *f) {
  char msg[160];
  snprintf(msg, sizeof msg, "field '%s' is given twice but is not repeated",
           f->name);
  return fail(p, msg);
}

/* Frees a parsed element that could not be stored. */
static void drop(const ProtobufCFieldDescriptor *f, void *v) {
  if (f->type == PROTOBUF_C_TYPE_STRING) free(*(char **)v);
  if (f->type == PROTOBUF_C_TYPE_BYTES) free(((ProtobufCBinaryData *)v)->data);
}

static int parse_value(parser *p, ProtobufCMessage *m,
                       const ProtobufCFieldDescriptor *f) {
  union { double d; int64_t i; void *ptr; ProtobufCBinaryData b; } v;
  memset(&v, 0, sizeof v);
  if (parse_scalar(p, f, &v) < 0) {
    drop(f, &v);
    return -1;
  }
  if (cv_pb_store(m, f, &v) < 0) {
    drop(f, &v);
    return fail(p, "out of memory");
  }
  return 0;
}

/* `name { ... }`, `name: { ... }` or `name < ... >`. */
static int parse_submessage(parser *p, ProtobufCMessage *m,
                            const ProtobufCFieldDescriptor *f, int depth) {
  if (is_sym(p, ':') && next(p) < 0) return -1;
  if (!is_sym(p, '{') && !is_sym(p, '<')) return expected(p, "'{'");
  char close = is_sym(p, '{') ? '}' : '>';
  if (depth >= MAX_DEPTH) return fail(p, "messages nested too deeply");
  ProtobufCMessage *sub = cv_pb_new(f->descriptor);
  if (!sub) return fail(p, "out of memory");
  if (cv_pb_store(m, f, &sub) < 0) {
    free(sub);
    return fail(p, "out of memory");
  }
  return parse_fields(p, f->descriptor, sub, close, depth + 1);
}

/* `name: value` or `name: [v, v, ...]` for a repeated field. */
static int parse_scalar_field(parser *p, ProtobufCMessage *m,
                              const ProtobufCFieldDescriptor *f) {
  if (!is_sym(p, ':')) return expected(p, "':'");
  if (next(p) < 0) return -1;
  if (!is_sym(p, '[')) return parse_value(p, m, f);
  if (f->label != PROTOBUF_C_LABEL_REPEATED)
    return fail(p, "a list is given for a field that is not repeated");
  if (next(p) < 0) return -1;
  if (is_sym(p, ']')) return 0;
  for (;;) {
    if (parse_value(p, m, f) < 0 || next(p) < 0) return -1;
    if (is_sym(p, ']')) return 0;
    if (!is_sym(p, ',')) return expected(p, "',' or ']'");
    if (next(p) < 0) return -1;
  }
}

static int unknown_field(parser *p, const ProtobufCMessageDescriptor *d) {
  char msg[200];
  snprintf(msg, sizeof msg, "unknown field '%.*s' in %s",
           (int)(p->len > 60 ? 60 : p->len), p->buf + p->start, d->name);
  return fail(p, msg);
}

static int v0_layer(parser *p) {
  return fail(p, "this is the V0 prototxt format of 2014 (`layers { layer "
              "{ ... } }`), which cnnvis does not read; upgrade it with "
              "Caffe's upgrade_net_proto_text tool");
}

/* Parameters of the layer types Caffe has and cnnvis does not: a file that
 * uses them is valid Caffe, so the block is skipped and the layer's type is
 * left for the net builder to refuse by name. */
static const char *const other_layer_params[] = {
    "argmax_param", "bias_param", "clip_param", "contrastive_loss_param",
    "crop_param", "dummy_data_param", "elu_param", "embed_param", "exp_param",
    "hdf5_data_param", "hdf5_output_param", "hinge_loss_param",
    "infogain_loss_param", "log_param", "memory_data_param", "mvn_param",
    "parameter_param", "python_param", "recurrent_param",
    "reduction_param", "spp_param", "swish_param",
    "threshold_param", "tile_param", "window_data_param", NULL};

static int is_other_layer_param(const ProtobufCMessageDescriptor *d,
                                const char *name) {
  if (d != &caffe__layer_parameter__descriptor &&
      d != &caffe__v1_layer_parameter__descriptor)
    return 0;
  for (int i = 0; other_layer_params[i]; i++)
    if (strcmp(other_layer_params[i], name) == 0) return 1;
  return 0;
}

/* Skips `{ ... }` (or `< ... >`) after an optional ':', nesting included. */
static int skip_block(parser *p) {
  if (next(p) < 0) return -1;
  if (is_sym(p, ':') && next(p) < 0) return -1;
  if (!is_sym(p, '{') && !is_sym(p, '<')) return expected(p, "'{'");
  int level = 1;
  while (level > 0) {
    if (next(p) < 0) return -1;
    if (p->kind == T_EOF) return expected(p, "'}'");
    if (is_sym(p, '{') || is_sym(p, '<')) level++;
    if (is_sym(p, '}') || is_sym(p, '>')) level--;
  }
  return 0;
}

static int parse_field(parser *p, const ProtobufCMessageDescriptor *d,
                       ProtobufCMessage *m, int depth) {
  char name[128];
  if (p->kind != T_IDENT) return expected(p, "a field name");
  if (p->len >= sizeof name) return unknown_field(p, d);
  memcpy(name, p->buf + p->start, p->len);
  name[p->len] = 0;
  const ProtobufCFieldDescriptor *f =
      protobuf_c_message_descriptor_get_field_by_name(d, name);
  if (!f && is_other_layer_param(d, name)) return skip_block(p);
  if (!f) return unknown_field(p, d);
  if (f->descriptor == &caffe__v0_layer_parameter__descriptor)
    return v0_layer(p);
  if (f->label != PROTOBUF_C_LABEL_REPEATED && cv_pb_is_set(m, f)) return twice(p, f);
  if (next(p) < 0) return -1;
  if (f->type == PROTOBUF_C_TYPE_MESSAGE)
    return parse_submessage(p, m, f, depth);
  return parse_scalar_field(p, m, f);
}

/* Fields up to close ('}' or '>'), or to the end of the file when 0. */
static int parse_fields(parser *p, const ProtobufCMessageDescriptor *d,
                        ProtobufCMessage *m, char close, int depth) {
  for (;;) {
    if (next(p) < 0) return -1;
    if (p->kind == T_EOF) {
      if (!close) return 0;
      char what[16];
      snprintf(what, sizeof what, "'%c'", close);
      return expected(p, what);
    }
    if (close && is_sym(p, close)) return 0;
    if (parse_field(p, d, m, depth) < 0) return -1;
    if (next(p) < 0) return -1;
    if (!is_sym(p, ';') && !is_sym(p, ',')) p->peeked = 1;
  }
}

ProtobufCMessage *cv_caffe_parse_text(const char *buf, size_t n,
                                      const char *name,
                                      const ProtobufCMessageDescriptor *desc,
                                      cv_error *err) {
  parser p = {buf, n, 0, 1, 1, name, err, T_EOF, 0, 0, 1, 1, 0};
  ProtobufCMessage *m = cv_pb_new(desc);
  if (!m) {
    cv_error_set(err, "%s: out of memory", name);
    return NULL;
  }
  if (parse_fields(&p, desc, m, 0, 0) < 0) {
    protobuf_c_message_free_unpacked(m, NULL);
    return NULL;
  }
  return m;
}

/* ---- network definitions ---------------------------------------------------- */

Caffe__NetParameter *cv_caffe_read_net_def_from_memory(const char *buf,
                                                       size_t n,
                                                       const char *name,
                                                       int phase,
                                                       cv_error *err) {
  Caffe__NetParameter *net = (Caffe__NetParameter *)cv_caffe_parse_text(
      buf, n, name, &caffe__net_parameter__descriptor, err);
  if (!net) return NULL;
  if (cv_caffe_upgrade(net, name, err) < 0 ||
      cv_caffe_normalize_def(net, name, phase, err) < 0) {
    cv_caffe_net_free(net);
    return NULL;
  }
  return net;
}

Caffe__NetParameter *cv_caffe_read_net_def(const char *path, int phase,
                                           cv_error *err) {
  size_t n;
  uint8_t *buf = cv_pb_read_file(path, &n, err);
  if (!buf) return NULL;
  Caffe__NetParameter *net =
      cv_caffe_read_net_def_from_memory((const char *)buf, n, path, phase, err);
  free(buf);
  return net;
}
