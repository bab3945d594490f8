/* caffemodel.c — binary NetParameter (caffemodel) and mean (binaryproto)
 * files in and out. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caffe_io.h"
#include "pbutil.h"

void cv_caffe_net_free(Caffe__NetParameter *net) {
  if (net) protobuf_c_message_free_unpacked(&net->base, NULL);
}

/* ---- reading -------------------------------------------------------------- */

/* Unpacks buf as a message of type d, or explains where the bytes break. */
static ProtobufCMessage *unpack_or_explain(const uint8_t *buf, size_t n,
                                           const char *name,
                                           const ProtobufCMessageDescriptor *d,
                                           cv_error *err) {
  if (n == 0) {
    cv_error_set(err, "%s: the file is empty", name);
    return NULL;
  }
  ProtobufCMessage *m =
      protobuf_c_message_unpack(d, &cv_pb_aligned_allocator, n, buf);
  if (m) return m;
  if (cv_pb_wire_check(buf, n, d, err) == 0)
    cv_error_set(err, "%s: not a valid %s (protobuf-c refused it)", name,
                 d->name);
  else
    cv_error_prefix(err, "%s: not a valid %s", name, d->name);
  return NULL;
}

/* The checks and upgrade every caffemodel gets once unpacked. */
static Caffe__NetParameter *finish_weights(Caffe__NetParameter *net,
                                           const char *name, cv_error *err) {
  if (!net) return NULL;
  if (net->n_layer == 0 && net->n_layers == 0) {
    cv_error_set(err, "%s: no layers in this NetParameter (not a "
                 "caffemodel?)", name);
    cv_caffe_net_free(net);
    return NULL;
  }
  if (cv_caffe_upgrade(net, name, err) < 0) {
    cv_caffe_net_free(net);
    return NULL;
  }
  return net;
}

Caffe__NetParameter *cv_caffe_read_weights_from_memory(const uint8_t *buf,
                                                       size_t n,
                                                       const char *name,
                                                       cv_error *err) {
  return finish_weights((Caffe__NetParameter *)unpack_or_explain(
                            buf, n, name, &caffe__net_parameter__descriptor,
                            err),
                        name, err);
}

Caffe__NetParameter *cv_caffe_read_weights(const char *path, cv_error *err) {
  size_t n;
  const uint8_t *buf;
  if (cv_pb_map_file(path, &buf, &n, err) < 0) return NULL;
  /* The file is mapped, not copied; unpacking copies every value out of it
   * once (into 64-byte aligned arrays that tensors then take over), and the
   * mapping goes before anything else: at most two copies ever coexist. */
  Caffe__NetParameter *net = (Caffe__NetParameter *)unpack_or_explain(
      buf, n, path, &caffe__net_parameter__descriptor, err);
  cv_pb_unmap_file(buf, n);
  return finish_weights(net, path, err);
}

/* ---- writing -------------------------------------------------------------- */

typedef struct {
  ProtobufCBuffer base;
  FILE *f;
  int failed;
} file_buffer;

static void file_append(ProtobufCBuffer *b, size_t len, const uint8_t *data) {
  file_buffer *fb = (file_buffer *)b;
  if (!fb->failed && fwrite(data, 1, len, fb->f) != len) fb->failed = 1;
}

/* Streams msg into path, so no second copy of the weights is made. */
static int write_message(const char *path, const ProtobufCMessage *msg,
                         cv_error *err) {
  FILE *f = fopen(path, "wb");
  if (!f) return cv_error_set(err, "%s: cannot open for writing", path);
  file_buffer fb = {{file_append}, f, 0};
  protobuf_c_message_pack_to_buffer(msg, &fb.base);
  if (fclose(f) != 0) fb.failed = 1;
  if (fb.failed) return cv_error_set(err, "%s: write failed (disk full?)", path);
  return 0;
}

int cv_caffe_write_weights(const char *path, const Caffe__NetParameter *net,
                           cv_error *err) {
  if (net->n_layers > 0)
    return cv_error_set(err, "%s: the net still has V1 `layers`; only V2 "
                        "caffemodels are written", path);
  return write_message(path, &net->base, err);
}

/* ---- means ----------------------------------------------------------------- */

static int ends_with(const char *s, const char *tail) {
  size_t a = strlen(s), b = strlen(tail);
  return a >= b && strcmp(s + a - b, tail) == 0;
}

cv_tensor *cv_caffe_read_mean_from_memory(const uint8_t *buf, size_t n,
                                          const char *name, cv_error *err) {
  Caffe__BlobProto *b = (Caffe__BlobProto *)unpack_or_explain(
      buf, n, name, &caffe__blob_proto__descriptor, err);
  if (!b) return NULL;
  cv_tensor *t = NULL;
  if (b->n_data == 0 && b->n_double_data == 0)
    cv_error_set(err, "%s: the BlobProto holds no values (not a mean "
                 "binaryproto?)", name);
  else if (!(t = cv_caffe_blob_to_tensor(b, err)))
    cv_error_prefix(err, "%s", name);
  cv_caffe_blob_free(b);
  return t;
}

cv_tensor *cv_caffe_read_mean(const char *path, cv_error *err) {
  if (ends_with(path, ".npy")) {
    cv_error_set(err, "%s: .npy means need the npy reader, which this build "
                 "lacks; convert it to a binaryproto", path);
    return NULL;
  }
  size_t n;
  uint8_t *buf = cv_pb_read_file(path, &n, err);
  if (!buf) return NULL;
  cv_tensor *t = cv_caffe_read_mean_from_memory(buf, n, path, err);
  free(buf);
  return t;
}

int cv_caffe_write_mean(const cv_tensor *t, const char *path, cv_error *err) {
  if (t->ndim != 3 && t->ndim != 4) {
    char s[CV_SHAPE_STR_MAX];
    return cv_error_set(err, "%s: a mean is C x H x W or N x C x H x W, not "
                        "%s", path, cv_shape_str(t->ndim, t->size, s, sizeof s));
  }
  Caffe__BlobProto *b = cv_caffe_blob_from_tensor(t, err);
  if (!b) return -1;
  /* Legacy dims only: the form every Caffe version and tool reads. */
  int off = 4 - t->ndim;
  int32_t *dims[4] = {&b->num, &b->channels, &b->height, &b->width};
  protobuf_c_boolean *has[4] = {&b->has_num, &b->has_channels, &b->has_height,
                                &b->has_width};
  for (int d = 0; d < 4; d++) {
    *dims[d] = d < off ? 1 : (int32_t)t->size[d - off];
    *has[d] = 1;
  }
  protobuf_c_message_free_unpacked(&b->shape->base, NULL);
  b->shape = NULL;
  int rc = write_message(path, &b->base, err);
  cv_caffe_blob_free(b);
  return rc;
}
