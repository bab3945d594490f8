/* upgrade.c — V1 layers to V2, legacy blob dims to shapes (every reader). */
#include <stdlib.h>
#include <string.h>

#include "caffe_io.h"
#include "pbutil.h"

typedef struct {
  int v1;
  const char *name;
} type_name;

/* Caffe's V1 enum values and the V2 names its upgrade gives them. */
static const type_name v1_types[] = {
    {35, "AbsVal"}, {1, "Accuracy"}, {30, "ArgMax"}, {2, "BNLL"},
    {3, "Concat"}, {37, "ContrastiveLoss"}, {4, "Convolution"},
    {39, "Deconvolution"}, {5, "Data"}, {6, "Dropout"}, {32, "DummyData"},
    {7, "EuclideanLoss"}, {25, "Eltwise"}, {38, "Exp"}, {8, "Flatten"},
    {9, "HDF5Data"}, {10, "HDF5Output"}, {28, "HingeLoss"}, {11, "Im2col"},
    {12, "ImageData"}, {13, "InfogainLoss"}, {14, "InnerProduct"},
    {15, "LRN"}, {29, "MemoryData"}, {16, "MultinomialLogisticLoss"},
    {34, "MVN"}, {17, "Pooling"}, {26, "Power"}, {18, "ReLU"},
    {19, "Sigmoid"}, {27, "SigmoidCrossEntropyLoss"}, {36, "Silence"},
    {20, "Softmax"}, {21, "SoftmaxWithLoss"}, {22, "Split"}, {33, "Slice"},
    {23, "TanH"}, {24, "WindowData"}, {31, "Threshold"},
};

const char *cv_caffe_v1_type_name(int v1_type) {
  for (size_t i = 0; i < sizeof v1_types / sizeof *v1_types; i++)
    if (v1_types[i].v1 == v1_type) return v1_types[i].name;
  return NULL;
}

#define MOVE_ARRAY(dst, src, field)                                    \
  do {                                                                 \
    (dst)->n_##field = (src)->n_##field, (dst)->field = (src)->field;  \
    (src)->n_##field = 0, (src)->field = NULL;                         \
  } while (0)

/* Moves every `*_param` submessage of the V1 layer to the V2 field of the
 * same name: the two generations share those messages. */
static void move_layer_params(Caffe__V1LayerParameter *v1,
                              Caffe__LayerParameter *v2) {
  const ProtobufCMessageDescriptor *d1 = v1->base.descriptor;
  for (unsigned i = 0; i < d1->n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d1->fields[i];
    size_t len = strlen(f->name);
    if (f->type != PROTOBUF_C_TYPE_MESSAGE ||
        f->label == PROTOBUF_C_LABEL_REPEATED || len < 6 ||
        strcmp(f->name + len - 6, "_param") != 0)
      continue;
    const ProtobufCFieldDescriptor *g =
        protobuf_c_message_descriptor_get_field_by_name(v2->base.descriptor,
                                                        f->name);
    void **from = (void **)((char *)v1 + f->offset);
    if (!g || !*from) continue;
    void **to = (void **)((char *)v2 + g->offset);
    *to = *from, *from = NULL;
  }
}

/* blobs_lr, weight_decay, param names and share modes -> ParamSpec. */
static int upgrade_param_specs(Caffe__V1LayerParameter *v1,
                               Caffe__LayerParameter *v2) {
  size_t n = v1->n_blobs_lr;
  if (v1->n_weight_decay > n) n = v1->n_weight_decay;
  if (v1->n_param > n) n = v1->n_param;
  if (v1->n_blob_share_mode > n) n = v1->n_blob_share_mode;
  for (size_t i = 0; i < n; i++) {
    Caffe__ParamSpec *p = cv_pb_new(&caffe__param_spec__descriptor);
    if (!p || cv_pb_append(&v2->param, &v2->n_param, sizeof p, &p) < 0) {
      free(p);
      return -1;
    }
    if (i < v1->n_blobs_lr) p->has_lr_mult = 1, p->lr_mult = v1->blobs_lr[i];
    if (i < v1->n_weight_decay)
      p->has_decay_mult = 1, p->decay_mult = v1->weight_decay[i];
    if (i < v1->n_param) p->name = v1->param[i], v1->param[i] = NULL;
    if (i < v1->n_blob_share_mode)
      p->has_share_mode = 1,
      p->share_mode = (Caffe__ParamSpec__DimCheckMode)v1->blob_share_mode[i];
  }
  return 0;
}

static Caffe__LayerParameter *upgrade_layer(Caffe__V1LayerParameter *v1,
                                            size_t index, const char *name,
                                            cv_error *err) {
  const char *who = v1->name ? v1->name : "(unnamed)";
  if (v1->layer) {
    cv_error_set(err, "%s: layer %zu ('%s') is in the V0 format of 2014, "
                 "which cnnvis does not read; upgrade the file with Caffe's "
                 "upgrade_net_proto_text (or upgrade_net_proto_binary) tool",
                 name, index + 1, v1->layer->name ? v1->layer->name : who);
    return NULL;
  }
  const char *type = v1->has_type ? cv_caffe_v1_type_name(v1->type) : NULL;
  if (!type) {
    cv_error_set(err, "%s: V1 layer '%s' has %s type", name, who,
                 v1->has_type ? "an unknown" : "no");
    return NULL;
  }
  Caffe__LayerParameter *v2 = cv_pb_new(&caffe__layer_parameter__descriptor);
  if (!v2 || !(v2->type = strdup(type)) || upgrade_param_specs(v1, v2) < 0) {
    if (v2) protobuf_c_message_free_unpacked(&v2->base, NULL);
    cv_error_set(err, "%s: out of memory upgrading layer '%s'", name, who);
    return NULL;
  }
  v2->name = v1->name, v1->name = NULL;
  MOVE_ARRAY(v2, v1, bottom);
  MOVE_ARRAY(v2, v1, top);
  MOVE_ARRAY(v2, v1, include);
  MOVE_ARRAY(v2, v1, exclude);
  MOVE_ARRAY(v2, v1, blobs);
  MOVE_ARRAY(v2, v1, loss_weight);
  move_layer_params(v1, v2);
  return v2;
}

static int upgrade_v1_layers(Caffe__NetParameter *net, const char *name,
                             cv_error *err) {
  if (net->n_layer > 0)
    return cv_error_set(err, "%s: the net mixes V1 `layers` and V2 `layer` "
                        "entries; use one or the other", name);
  Caffe__LayerParameter **out = calloc(net->n_layers, sizeof *out);
  if (!out) return cv_error_set(err, "%s: out of memory", name);
  net->layer = out; /* owned by net from here, so errors leak nothing */
  for (size_t i = 0; i < net->n_layers; i++) {
    out[i] = upgrade_layer(net->layers[i], i, name, err);
    if (!out[i]) return -1;
    net->n_layer = i + 1;
  }
  for (size_t i = 0; i < net->n_layers; i++)
    protobuf_c_message_free_unpacked(&net->layers[i]->base, NULL);
  free(net->layers);
  net->layers = NULL, net->n_layers = 0;
  return 0;
}

/* A blob with only num/channels/height/width gets the 4-d shape they mean. */
static int upgrade_blob_shape(Caffe__BlobProto *b) {
  if (b->shape ||
      !(b->has_num || b->has_channels || b->has_height || b->has_width))
    return 0;
  Caffe__BlobShape *s = cv_pb_new(&caffe__blob_shape__descriptor);
  int64_t *dim = malloc(4 * sizeof *dim);
  if (!s || !dim) {
    free(s), free(dim);
    return -1;
  }
  dim[0] = b->num, dim[1] = b->channels, dim[2] = b->height, dim[3] = b->width;
  s->dim = dim, s->n_dim = 4;
  b->shape = s;
  b->has_num = b->has_channels = b->has_height = b->has_width = 0;
  b->num = b->channels = b->height = b->width = 0;
  return 0;
}

int cv_caffe_upgrade(Caffe__NetParameter *net, const char *name,
                     cv_error *err) {
  if (net->n_layers > 0 && upgrade_v1_layers(net, name, err) < 0) return -1;
  for (size_t i = 0; i < net->n_layer; i++) {
    Caffe__LayerParameter *l = net->layer[i];
    for (size_t j = 0; j < l->n_blobs; j++)
      if (upgrade_blob_shape(l->blobs[j]) < 0)
        return cv_error_set(err, "%s: out of memory", name);
  }
  return 0;
}
