/* prototxt_write.c — protobuf text format out of protobuf-c messages. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caffe_io.h"
#include "pbutil.h"

typedef struct {
  char *s;
  size_t len, cap;
  int failed;
} text;

static void put(text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void put(text *t, const char *fmt, ...) {
  if (t->failed) return;
  va_list ap;
  va_start(ap, fmt);
  int need = vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
  va_end(ap);
  if (need < 0) {
    t->failed = 1;
    return;
  }
  if ((size_t)need >= t->cap - t->len) {
    size_t cap = (t->cap + (size_t)need) * 2;
    char *s = realloc(t->s, cap);
    if (!s) {
      t->failed = 1;
      return;
    }
    t->s = s, t->cap = cap;
    va_start(ap, fmt);
    vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
  }
  t->len += (size_t)need;
}

static void put_string(text *t, const char *s, size_t n) {
  put(t, "\"");
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') put(t, "\\%c", c);
    else if (c == '\n') put(t, "\\n");
    else if (c < 32 || c >= 127) put(t, "\\%03o", c);
    else put(t, "%c", c);
  }
  put(t, "\"");
}

/* The shortest text that reads back to the same float (digits 9) or double
 * (digits 17): 0.01f prints as 0.01, not 0.00999999978. */
static void put_real(text *t, double v, int digits) {
  if (isnan(v)) {
    put(t, "nan");
    return;
  }
  if (isinf(v)) {
    put(t, v < 0 ? "-inf" : "inf");
    return;
  }
  char buf[40];
  for (int d = 6; d <= digits; d++) {
    snprintf(buf, sizeof buf, "%.*g", d, v);
    double back = strtod(buf, NULL);
    if (digits == 9 ? (float)back == (float)v : back == v) break;
  }
  put(t, "%s", buf);
}

static void put_message(text *t, const ProtobufCMessage *m, int indent);

/* One element of field f at p. */
static void put_value(text *t, const ProtobufCFieldDescriptor *f,
                      const void *p, int indent) {
  switch (f->type) {
  case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32:
  case PROTOBUF_C_TYPE_SFIXED32:
    put(t, "%d", *(const int32_t *)p); break;
  case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32:
    put(t, "%u", *(const uint32_t *)p); break;
  case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64:
  case PROTOBUF_C_TYPE_SFIXED64:
    put(t, "%lld", (long long)*(const int64_t *)p); break;
  case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64:
    put(t, "%llu", (unsigned long long)*(const uint64_t *)p); break;
  case PROTOBUF_C_TYPE_FLOAT: put_real(t, *(const float *)p, 9); break;
  case PROTOBUF_C_TYPE_DOUBLE: put_real(t, *(const double *)p, 17); break;
  case PROTOBUF_C_TYPE_BOOL:
    put(t, *(const protobuf_c_boolean *)p ? "true" : "false"); break;
  case PROTOBUF_C_TYPE_ENUM: {
    const ProtobufCEnumValue *ev =
        protobuf_c_enum_descriptor_get_value(f->descriptor, *(const int *)p);
    if (ev) put(t, "%s", ev->name);
    else put(t, "%d", *(const int *)p);
    break;
  }
  case PROTOBUF_C_TYPE_STRING: {
    const char *s = *(char *const *)p;
    put_string(t, s, strlen(s));
    break;
  }
  case PROTOBUF_C_TYPE_BYTES: {
    const ProtobufCBinaryData *b = p;
    put_string(t, (const char *)b->data, b->len);
    break;
  }
  case PROTOBUF_C_TYPE_MESSAGE:
    put(t, "{\n");
    put_message(t, *(ProtobufCMessage *const *)p, indent + 2);
    put(t, "%*s}", indent, "");
    break;
  }
}

static void put_field(text *t, const ProtobufCFieldDescriptor *f,
                      const void *p, int indent) {
  int msg = f->type == PROTOBUF_C_TYPE_MESSAGE;
  put(t, "%*s%s%s", indent, "", f->name, msg ? " " : ": ");
  put_value(t, f, p, indent);
  put(t, "\n");
}

/* Fields in number order (as Caffe writes them: `layer`, 100, comes last). */
static void put_message(text *t, const ProtobufCMessage *m, int indent) {
  const ProtobufCMessageDescriptor *d = m->descriptor;
  const char *base = (const char *)m;
  for (unsigned i = 0; i < d->n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d->fields[i];
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
      size_t n = *(const size_t *)(base + f->quantifier_offset);
      const char *arr = *(char *const *)(base + f->offset);
      size_t size = cv_pb_type_size(f->type);
      for (size_t k = 0; k < n; k++) put_field(t, f, arr + k * size, indent);
    } else if (cv_pb_is_set(m, f)) {
      put_field(t, f, base + f->offset, indent);
    }
  }
}

char *cv_caffe_format_text(const ProtobufCMessage *msg, cv_error *err) {
  text t = {malloc(4096), 0, 4096, 0};
  if (!t.s) t.failed = 1;
  else t.s[0] = 0;
  put_message(&t, msg, 0);
  if (t.failed) {
    free(t.s);
    cv_error_set(err, "out of memory formatting a %s",
                 msg->descriptor->name);
    return NULL;
  }
  return t.s;
}

int cv_caffe_write_net_def(const char *path, const Caffe__NetParameter *net,
                           cv_error *err) {
  if (net->n_layers > 0)
    return cv_error_set(err, "%s: the net still has V1 `layers`; only V2 "
                        "prototxt is written", path);
  char *s = cv_caffe_format_text(&net->base, err);
  if (!s) return -1;
  FILE *f = fopen(path, "w");
  if (!f) {
    free(s);
    return cv_error_set(err, "%s: cannot open for writing", path);
  }
  size_t n = strlen(s);
  int bad = fwrite(s, 1, n, f) != n;
  bad |= fclose(f) != 0;
  free(s);
  if (bad) return cv_error_set(err, "%s: write failed (disk full?)", path);
  return 0;
}
