/* normalize.c — a prototxt as the net builder wants it: deprecated inputs as
 * an Input layer, phase rules applied, data layers turned into inputs. */
#include <stdlib.h>
#include <string.h>

#include "caffe_io.h"
#include "pbutil.h"

static Caffe__BlobShape *shape_new(int n, const int64_t *dims) {
  Caffe__BlobShape *s = cv_pb_new(&caffe__blob_shape__descriptor);
  if (!s) return NULL;
  s->dim = malloc((n ? n : 1) * sizeof *s->dim);
  if (!s->dim) {
    free(s);
    return NULL;
  }
  memcpy(s->dim, dims, n * sizeof *dims);
  s->n_dim = (size_t)n;
  return s;
}

static int add_shape(Caffe__InputParameter *ip, int n, const int64_t *dims) {
  Caffe__BlobShape *s = shape_new(n, dims);
  if (!s || cv_pb_append(&ip->shape, &ip->n_shape, sizeof s, &s) < 0) {
    if (s) protobuf_c_message_free_unpacked(&s->base, NULL);
    return -1;
  }
  return 0;
}

/* ---- deprecated net-level inputs ------------------------------------------ */

/* Shapes for net->input from input_shape or input_dim (4 per input). */
static int input_shapes(Caffe__NetParameter *net, Caffe__InputParameter *ip,
                        const char *name, cv_error *err) {
  size_t n = net->n_input;
  if (net->n_input_shape) {
    if (net->n_input_shape != n)
      return cv_error_set(err, "%s: %zu inputs but %zu input_shape entries; "
                          "give one per input", name, n, net->n_input_shape);
    ip->shape = net->input_shape, ip->n_shape = n;
    net->input_shape = NULL, net->n_input_shape = 0;
    return 0;
  }
  if (net->n_input_dim != 4 * n)
    return cv_error_set(err, "%s: %zu input names need %zu input_dim values "
                        "(4 each), found %zu", name, n, 4 * n, net->n_input_dim);
  for (size_t i = 0; i < n; i++) {
    int64_t d[4];
    for (int k = 0; k < 4; k++) d[k] = net->input_dim[4 * i + k];
    if (add_shape(ip, 4, d) < 0) return cv_error_set(err, "out of memory");
  }
  return 0;
}

/* Puts l first in net's layer list. */
static int prepend_layer(Caffe__NetParameter *net, Caffe__LayerParameter *l) {
  if (cv_pb_append(&net->layer, &net->n_layer, sizeof l, &l) < 0) return -1;
  memmove(net->layer + 1, net->layer, (net->n_layer - 1) * sizeof l);
  net->layer[0] = l;
  return 0;
}

static int upgrade_inputs(Caffe__NetParameter *net, const char *name,
                          cv_error *err) {
  if (net->n_input == 0) {
    if (net->n_input_dim || net->n_input_shape)
      return cv_error_set(err, "%s: input_dim or input_shape without an "
                          "`input:` name", name);
    return 0;
  }
  Caffe__LayerParameter *l = cv_pb_new(&caffe__layer_parameter__descriptor);
  Caffe__InputParameter *ip = cv_pb_new(&caffe__input_parameter__descriptor);
  if (l) l->input_param = ip;
  if (!l || !ip || !(l->name = strdup("input")) ||
      !(l->type = strdup("Input"))) {
    if (l) protobuf_c_message_free_unpacked(&l->base, NULL);
    else free(ip);
    return cv_error_set(err, "out of memory");
  }
  if (input_shapes(net, ip, name, err) < 0 || prepend_layer(net, l) < 0) {
    protobuf_c_message_free_unpacked(&l->base, NULL);
    return err->msg[0] ? -1 : cv_error_set(err, "out of memory");
  }
  l->top = net->input, l->n_top = net->n_input;
  net->input = NULL, net->n_input = 0;
  free(net->input_dim), net->input_dim = NULL, net->n_input_dim = 0;
  return 0;
}

/* ---- phase rules ------------------------------------------------------------ */

/* Caffe's rule test for a net state of this phase, level 0 and no stages. */
static int meets_rule(const Caffe__NetStateRule *r, int phase) {
  if (r->has_phase && (int)r->phase != phase) return 0;
  if (r->has_min_level && r->min_level > 0) return 0;
  if (r->has_max_level && r->max_level < 0) return 0;
  return r->n_stage == 0;
}

static int included(const Caffe__LayerParameter *l, int phase) {
  if (l->n_include == 0) {
    for (size_t i = 0; i < l->n_exclude; i++)
      if (meets_rule(l->exclude[i], phase)) return 0;
    return 1;
  }
  for (size_t i = 0; i < l->n_include; i++)
    if (meets_rule(l->include[i], phase)) return 1;
  return 0;
}

static void clear_rules(Caffe__LayerParameter *l) {
  for (size_t i = 0; i < l->n_include; i++)
    protobuf_c_message_free_unpacked(&l->include[i]->base, NULL);
  for (size_t i = 0; i < l->n_exclude; i++)
    protobuf_c_message_free_unpacked(&l->exclude[i]->base, NULL);
  free(l->include), free(l->exclude);
  l->include = NULL, l->exclude = NULL;
  l->n_include = l->n_exclude = 0;
}

static int filter_phase(Caffe__NetParameter *net, const char *name, int phase,
                        cv_error *err) {
  size_t kept = 0;
  for (size_t i = 0; i < net->n_layer; i++) {
    Caffe__LayerParameter *l = net->layer[i];
    if (l->n_include && l->n_exclude)
      return cv_error_set(err, "%s: layer '%s' has both include and exclude "
                          "rules; Caffe allows one kind only", name,
                          l->name ? l->name : "");
  }
  for (size_t i = 0; i < net->n_layer; i++) {
    Caffe__LayerParameter *l = net->layer[i];
    if (!included(l, phase)) {
      protobuf_c_message_free_unpacked(&l->base, NULL);
      continue;
    }
    clear_rules(l); /* the result is this phase's net: rules are spent */
    net->layer[kept++] = l;
  }
  net->n_layer = kept;
  return 0;
}

/* ---- data layers -> Input ----------------------------------------------------- */

typedef struct {
  int64_t batch, channels, height, width;
} data_shape;

/* Image size from what the layer says, else from well-known example sources
 * (the data itself, an LMDB, is not read). 0 when unknown. */
static void image_size(const Caffe__LayerParameter *l, const char *source,
                       data_shape *s) {
  const Caffe__TransformationParameter *t = l->transform_param;
  const Caffe__ImageDataParameter *im = l->image_data_param;
  s->channels = (im && !im->is_color) ? 1 : 3;
  if (t && t->force_gray) s->channels = 1;
  if (t && t->crop_size > 0) {
    s->height = s->width = t->crop_size;
  } else if (im && im->new_height > 0 && im->new_width > 0) {
    s->height = im->new_height, s->width = im->new_width;
  } else if (source && strstr(source, "mnist")) {
    s->height = s->width = 28, s->channels = 1;
  } else if (source && strstr(source, "cifar")) {
    s->height = s->width = 32;
  }
}

static int data_layer_shape(const Caffe__LayerParameter *l, const char *name,
                            data_shape *s, cv_error *err) {
  const char *source = NULL;
  memset(s, 0, sizeof *s);
  if (l->data_param) {
    source = l->data_param->source;
    s->batch = l->data_param->batch_size;
  } else if (l->image_data_param) {
    source = l->image_data_param->source;
    s->batch = l->image_data_param->batch_size;
  }
  if (s->batch <= 0)
    return cv_error_set(err, "%s: %s layer '%s' gives no batch_size", name,
                        l->type, l->name ? l->name : "");
  image_size(l, source, s);
  if (s->height <= 0)
    return cv_error_set(err, "%s: cannot tell the image size of %s layer "
                        "'%s' (no crop_size or new_height/new_width, and "
                        "source '%s' is not a known data set); give it a "
                        "transform_param { crop_size } or use an Input layer",
                        name, l->type, l->name ? l->name : "",
                        source ? source : "");
  return 0;
}

static int data_to_input(Caffe__LayerParameter *l, const char *name,
                         cv_error *err) {
  data_shape s;
  if (data_layer_shape(l, name, &s, err) < 0) return -1;
  Caffe__InputParameter *ip = cv_pb_new(&caffe__input_parameter__descriptor);
  if (!ip) return cv_error_set(err, "out of memory");
  l->input_param = ip;
  int64_t image[4] = {s.batch, s.channels, s.height, s.width};
  for (size_t i = 0; i < l->n_top && i < 2; i++)  /* data, then label: N */
    if (add_shape(ip, i == 0 ? 4 : 1, image) < 0)
      return cv_error_set(err, "out of memory");
  if (cv_pb_set_string(&l->type, "Input", NULL) < 0)
    return cv_error_set(err, "out of memory");
  if (l->data_param)
    protobuf_c_message_free_unpacked(&l->data_param->base, NULL);
  if (l->image_data_param)
    protobuf_c_message_free_unpacked(&l->image_data_param->base, NULL);
  l->data_param = NULL, l->image_data_param = NULL;
  return 0;
}

/* Old files keep scale/mean/crop/mirror in data_param: move them. */
static int upgrade_transform(Caffe__LayerParameter *l) {
  Caffe__DataParameter *dp = l->data_param;
  if (!dp || !(dp->has_scale || dp->mean_file || dp->has_crop_size ||
               dp->has_mirror))
    return 0;
  if (!l->transform_param &&
      !(l->transform_param =
            cv_pb_new(&caffe__transformation_parameter__descriptor)))
    return -1;
  Caffe__TransformationParameter *t = l->transform_param;
  if (dp->has_scale) t->has_scale = 1, t->scale = dp->scale, dp->has_scale = 0;
  if (dp->has_crop_size)
    t->has_crop_size = 1, t->crop_size = dp->crop_size, dp->has_crop_size = 0;
  if (dp->has_mirror)
    t->has_mirror = 1, t->mirror = dp->mirror, dp->has_mirror = 0;
  if (dp->mean_file && !t->mean_file)
    t->mean_file = dp->mean_file, dp->mean_file = NULL;
  return 0;
}

int cv_caffe_normalize_def(Caffe__NetParameter *net, const char *name,
                           int phase, cv_error *err) {
  err->msg[0] = 0;
  if (upgrade_inputs(net, name, err) < 0) return -1;
  if (filter_phase(net, name, phase, err) < 0) return -1;
  for (size_t i = 0; i < net->n_layer; i++) {
    Caffe__LayerParameter *l = net->layer[i];
    if (!l->type || (strcmp(l->type, "Data") && strcmp(l->type, "ImageData")))
      continue;
    if (upgrade_transform(l) < 0) return cv_error_set(err, "out of memory");
    if (data_to_input(l, name, err) < 0) return -1;
  }
  return 0;
}
