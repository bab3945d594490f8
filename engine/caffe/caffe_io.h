/*
 * caffe_io.h — Caffe's files: prototxt (text), caffemodel and binaryproto
 * (binary protobuf), read into the structures protobuf-c generates from
 * engine/caffe/caffe.proto, and written back.
 *
 * A tour:
 *
 *   cv_error err;
 *   Caffe__NetParameter *def = cv_caffe_read_net_def("deploy.prototxt",
 *                                                    CAFFE__PHASE__TEST, &err);
 *   Caffe__NetParameter *w = cv_caffe_read_weights("x.caffemodel", &err);
 *   for (size_t i = 0; i < w->n_layer; i++)       // always V2 here
 *     for (size_t j = 0; j < w->layer[i]->n_blobs; j++) {
 *       cv_tensor *t = cv_caffe_blob_take_tensor(w->layer[i]->blobs[j], &err);
 *       ...
 *     }
 *   cv_caffe_net_free(w);
 *   cv_caffe_net_free(def);
 *
 * Every reader returns a NORMALIZED NetParameter:
 *   - V1 `layers` (enum types) are upgraded to V2 `layer` (string types),
 *     blobs_lr / weight_decay become param { lr_mult decay_mult }, and blobs
 *     that carry only the legacy num/channels/height/width get a 4-d shape;
 *   - V0 files (2014) are refused with a message that says how to upgrade them.
 * cv_caffe_read_net_def further:
 *   - turns the deprecated net-level `input` + `input_dim` / `input_shape` into
 *     a first layer "input" of type Input;
 *   - keeps only the layers whose include/exclude rules match the phase;
 *   - turns Data and ImageData layers into Input layers shaped N x C x H x W
 *     (plus N for a label top). The data layer's transform_param (scale, mean,
 *     crop, mirror) is KEPT on the Input layer, so that whoever feeds the net
 *     can apply Caffe's transformation, (x - mean) * scale: no layer is added.
 *
 * Ownership: readers return a NEW message; free it with cv_caffe_net_free or
 * cv_caffe_blob_free. Messages passed in are borrowed. Strings and arrays
 * inside messages are malloc'd one by one, so code may replace them with
 * malloc'd values and protobuf_c_message_free_unpacked(msg, NULL) frees all.
 *
 * Errors name the file, and then the line and column (text), the byte offset
 * and field path (binary), or the layer and blob involved.
 */
#ifndef CV_CAFFE_IO_H
#define CV_CAFFE_IO_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "tensor/tensor.h"
#include "caffe.pb-c.h"

/* ---- network definitions (text) ---------------------------------------- */

/* Reads a prototxt and normalizes it for phase (CAFFE__PHASE__TRAIN/TEST). */
Caffe__NetParameter *cv_caffe_read_net_def(const char *prototxt_path,
                                           int phase, cv_error *err);
/* The same from memory; name is used in messages in place of a path. */
Caffe__NetParameter *cv_caffe_read_net_def_from_memory(const char *buf,
                                                       size_t n,
                                                       const char *name,
                                                       int phase,
                                                       cv_error *err);
/* Parses protobuf text format into a fresh message of type desc, without any
 * normalization (for the solver and for tests). New message or NULL. */
ProtobufCMessage *cv_caffe_parse_text(const char *buf, size_t n,
                                      const char *name,
                                      const ProtobufCMessageDescriptor *desc,
                                      cv_error *err);
/* Writes net as V2 protobuf text. Refuses V1 `layers` (upgrade first). */
int cv_caffe_write_net_def(const char *path, const Caffe__NetParameter *net,
                           cv_error *err);
/* The text of any message, as a malloc'd NUL-terminated string. */
char *cv_caffe_format_text(const ProtobufCMessage *msg, cv_error *err);

/* ---- weights (binary) -------------------------------------------------- */

/* Reads a caffemodel (V1 or V2) into a V2 NetParameter. The file is mapped
 * (not copied) and unmapped before returning, so peak memory is about twice
 * the file size; cv_caffe_blob_take_tensor then adopts each value array
 * without a copy. (A file truncated by another process while it is being
 * read would end the process with SIGBUS: the price of not copying.) */
Caffe__NetParameter *cv_caffe_read_weights(const char *caffemodel_path,
                                           cv_error *err);
Caffe__NetParameter *cv_caffe_read_weights_from_memory(const uint8_t *buf,
                                                       size_t n,
                                                       const char *name,
                                                       cv_error *err);
/* Writes net as a V2 caffemodel, streamed to the file. */
int cv_caffe_write_weights(const char *path, const Caffe__NetParameter *net,
                           cv_error *err);

/* ---- blobs and means ---------------------------------------------------- */

/* A new tensor with the blob's shape (`shape`, else the legacy 4-d dims,
 * else 1-d) and values (`data`, else `double_data`). */
cv_tensor *cv_caffe_blob_to_tensor(const Caffe__BlobProto *b, cv_error *err);
/* Same, then frees the blob's value arrays: converting a whole net this way
 * never holds two copies of all the weights. */
cv_tensor *cv_caffe_blob_take_tensor(Caffe__BlobProto *b, cv_error *err);
/* A new blob holding t's shape and values (a contiguous copy). */
Caffe__BlobProto *cv_caffe_blob_from_tensor(const cv_tensor *t, cv_error *err);

/* Reads a mean: a binaryproto (a BlobProto, legacy 1 x C x H x W dims) gives
 * a tensor of the file's shape. `.npy` needs the npy reader (engine/io). */
cv_tensor *cv_caffe_read_mean(const char *path, cv_error *err);
cv_tensor *cv_caffe_read_mean_from_memory(const uint8_t *buf, size_t n,
                                          const char *name, cv_error *err);
/* Writes t (C x H x W or N x C x H x W) as a binaryproto with legacy dims,
 * the form every Caffe version reads. */
int cv_caffe_write_mean(const cv_tensor *t, const char *path, cv_error *err);

/* ---- normalization (applied by the readers; exposed for tests) ---------- */

/* V1 -> V2 and legacy blob dims -> shape. Refuses V0. */
int cv_caffe_upgrade(Caffe__NetParameter *net, const char *name,
                     cv_error *err);
/* Deprecated inputs -> Input layer, phase rules, data layers -> Input. */
int cv_caffe_normalize_def(Caffe__NetParameter *net, const char *name,
                           int phase, cv_error *err);

/* ---- life ---------------------------------------------------------------- */

void cv_caffe_net_free(Caffe__NetParameter *net);   /* NULL is fine */
void cv_caffe_blob_free(Caffe__BlobProto *b);       /* NULL is fine */

/* The V2 type name of a V1 enum type ("Convolution"), or NULL. */
const char *cv_caffe_v1_type_name(int v1_type);

#endif
