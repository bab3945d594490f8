/* net.c — building a net from a Caffe definition, loading weights, forward. */
#include "net.h"

#include <stdlib.h>
#include <string.h>

#include "autograd.h"
#include "caffe/caffe_io.h"
#include "layers/layers.h"
#include "nn.h"

static char *copy_string(const char *s) {
  size_t n = strlen(s) + 1;
  char *c = malloc(n);
  if (c) memcpy(c, s, n);
  return c;
}

int cv_net_blob_id(const cv_net *net, const char *name) {
  for (int i = 0; i < net->n_blobs; i++)
    if (strcmp(net->blob_names[i], name) == 0) return i;
  return -1;
}

int cv_net_layer_id(const cv_net *net, const char *name) {
  for (int i = 0; i < net->n_layers; i++)
    if (strcmp(net->layers[i].name, name) == 0) return i;
  return -1;
}

cv_tensor *cv_net_blob(const cv_net *net, const char *name) {
  int id = cv_net_blob_id(net, name);
  return id < 0 ? NULL : net->blobs[id];
}

void cv_net_free(cv_net *net) {
  if (!net) return;
  for (int i = 0; i < net->n_layers; i++) {
    cv_net_layer *l = &net->layers[i];
    free(l->name);
    free(l->opts);
    cv_tensor_release(l->out);
    for (int k = 0; k < l->n_param; k++) cv_tensor_release(l->param[k]);
  }
  for (int i = 0; i < net->n_blobs; i++) {
    free(net->blob_names[i]);
    if (net->blobs) cv_tensor_release(net->blobs[i]);
  }
  free(net->layers);
  free(net->blob_names);
  free(net->blobs);
  free(net->input_blobs);
  free(net->input_shapes);
  free(net->last_reader);
  cv_workspace_free(&net->ws);
  free(net);
}

/* The id of blob `name`, added when `create` (a top) and missing. */
static int blob_ref(cv_net *net, const char *name, int create, cv_error *err) {
  int id = cv_net_blob_id(net, name);
  if (id >= 0 || !create) return id;
  id = net->n_blobs;
  char **names = realloc(net->blob_names, sizeof *names * (size_t)(id + 1));
  if (!names) return cv_error_set(err, "out of memory");
  net->blob_names = names;
  if (!(names[id] = copy_string(name))) return cv_error_set(err, "out of memory");
  net->n_blobs++;
  return id;
}

/* ---- building ----------------------------------------------------------- */

static int wire_layer(cv_net *net, cv_net_layer *l,
                      const Caffe__LayerParameter *lp, const char *file,
                      cv_error *err) {
  if (lp->n_bottom > CV_LAYER_MAX_BOTTOMS || lp->n_top > CV_LAYER_MAX_TOPS)
    return cv_error_set(err, "%s: layer '%s' has too many bottoms or tops",
                        file, l->name);
  l->n_bottom = (int)lp->n_bottom;
  l->n_top = (int)lp->n_top;
  for (int k = 0; k < l->n_bottom; k++) {
    l->bottom[k] = blob_ref(net, lp->bottom[k], 0, err);
    if (l->bottom[k] < 0)
      return cv_error_set(err, "%s: layer '%s' reads blob '%s', which no "
                          "earlier layer produces", file, l->name,
                          lp->bottom[k]);
  }
  for (int k = 0; k < l->n_top; k++)
    if ((l->top[k] = blob_ref(net, lp->top[k], 1, err)) < 0) return -1;
  return 0;
}

/* Input layers declare the net's inputs and their shapes. */
static int add_inputs(cv_net *net, const cv_net_layer *l, cv_error *err) {
  int n = net->n_inputs + l->n_top;
  int *ids = realloc(net->input_blobs, sizeof *ids * (size_t)n);
  if (ids) net->input_blobs = ids;
  cv_shape *shapes = realloc(net->input_shapes, sizeof *shapes * (size_t)n);
  if (shapes) net->input_shapes = shapes;
  if (!ids || !shapes) return cv_error_set(err, "out of memory");
  for (int k = 0; k < l->n_top; k++) {
    ids[net->n_inputs] = l->top[k];
    shapes[net->n_inputs++] = l->top_shape[k];
  }
  return 0;
}

static int setup_layer(cv_net *net, cv_net_layer *l,
                       const Caffe__LayerParameter *lp, cv_shape *blob_shape,
                       int fill, const char *file, cv_error *err) {
  cv_shape bottom[CV_LAYER_MAX_BOTTOMS], param[CV_LAYER_MAX_PARAMS];
  for (int k = 0; k < l->n_bottom; k++) bottom[k] = blob_shape[l->bottom[k]];
  if (l->type->parse(lp, net->train, &l->opts, err) ||
      l->type->shape(l->opts, l->n_bottom, bottom, l->n_top, l->top_shape,
                     &l->n_param, param, err))
    return cv_error_prefix(err, "%s: layer '%s' (%s)", file, l->name,
                           l->type->name);
  for (int k = 0; k < l->n_top; k++) blob_shape[l->top[k]] = l->top_shape[k];
  for (int k = 0; k < l->n_param; k++) {
    /* Without fill the values stay untouched (no page is written) until
     * weights replace them or cv_net_fill_unloaded fills them. */
    l->param[k] = fill ? cv_tensor_new(param[k].ndim, param[k].size, err)
                       : cv_tensor_empty(param[k].ndim, param[k].size, err);
    if (!l->param[k] ||
        (fill && l->type->fill && l->type->fill(lp, k, l->param[k], err)))
      return cv_error_prefix(err, "%s: layer '%s' parameter %d", file,
                             l->name, k + 1);
    l->param[k]->requires_grad = 1;
  }
  return strcmp(l->type->name, "Input") == 0 ? add_inputs(net, l, err) : 0;
}

cv_net *cv_net_build(const Caffe__NetParameter *def, const char *name,
                     int train, int fill, cv_error *err) {
  cv_net *net = calloc(1, sizeof *net);
  cv_shape *shapes = NULL;
  if (!net) goto oom;
  net->train = train;
  net->layers = calloc(def->n_layer ? def->n_layer : 1, sizeof *net->layers);
  if (!net->layers) goto oom;
  for (size_t i = 0; i < def->n_layer; i++) {
    const Caffe__LayerParameter *lp = def->layer[i];
    cv_net_layer *l = &net->layers[net->n_layers++];
    if (!(l->name = copy_string(lp->name ? lp->name : ""))) goto oom;
    l->type = cv_layer_type_find(lp->type ? lp->type : "");
    if (!l->type) {
      char types[512];
      cv_layer_type_names(types, sizeof types);
      cv_error_set(err, "%s: layer '%s' has type '%s', which cnnvis does not "
                   "support (supported: %s)", name, l->name,
                   lp->type ? lp->type : "", types);
      goto fail;
    }
    if (wire_layer(net, l, lp, name, err)) goto fail;
    cv_shape *grown = realloc(shapes, sizeof *shapes * (size_t)net->n_blobs);
    if (!grown) goto oom;
    shapes = grown;
    if (setup_layer(net, l, lp, shapes, fill, name, err)) goto fail;
  }
  net->blobs = calloc((size_t)net->n_blobs + 1, sizeof *net->blobs);
  net->last_reader = malloc(sizeof(int) * ((size_t)net->n_blobs + 1));
  if (!net->blobs || !net->last_reader) goto oom;
  for (int b = 0; b < net->n_blobs; b++) net->last_reader[b] = -1;
  for (int i = 0; i < net->n_layers; i++)
    for (int k = 0; k < net->layers[i].n_bottom; k++)
      net->last_reader[net->layers[i].bottom[k]] = i;
  free(shapes);
  return net;
oom:
  cv_error_set(err, "%s: out of memory building the net", name);
fail:
  free(shapes);
  cv_net_free(net);
  return NULL;
}

/* ---- weights ------------------------------------------------------------ */

/* Equal shapes once leading 1s are dropped: a V1 blob's legacy dims
 * (1x1x1xN for a bias) against the definition's (N). */
static int same_but_leading_ones(const cv_tensor *a, const cv_tensor *b) {
  int i = 0, j = 0;
  if (cv_tensor_numel(a) == 1 && cv_tensor_numel(b) == 1) return 1; /* 0-d or {1} */
  while (i < a->ndim - 1 && a->size[i] == 1) i++;
  while (j < b->ndim - 1 && b->size[j] == 1) j++;
  if (a->ndim - i != b->ndim - j) return 0;
  for (; i < a->ndim; i++, j++)
    if (a->size[i] != b->size[j]) return 0;
  return 1;
}

static int load_layer(cv_net_layer *l, Caffe__LayerParameter *src,
                      const char *file, cv_error *err) {
  if ((int)src->n_blobs != l->n_param)
    return cv_error_set(err, "%s: layer '%s' has %d parameter blobs in the "
                        "definition but %d in the weights", file, l->name,
                        l->n_param, (int)src->n_blobs);
  for (int k = 0; k < l->n_param; k++) {
    /* The blob's values become the parameter: no second copy of them. */
    cv_tensor *t = cv_caffe_blob_take_tensor(src->blobs[k], err);
    if (!t) return cv_error_prefix(err, "%s: layer '%s'", file, l->name);
    int ok = same_but_leading_ones(t, l->param[k]);
    if (!ok) {
      char a[CV_SHAPE_STR_MAX], b[CV_SHAPE_STR_MAX];
      cv_error_set(err, "%s: layer '%s' blob %d has shape %s in the weights "
                   "but the definition needs %s", file, l->name, k + 1,
                   cv_shape_str(t->ndim, t->size, a, sizeof a),
                   cv_shape_str(l->param[k]->ndim, l->param[k]->size, b,
                                sizeof b));
      cv_tensor_release(t);
      return -1;
    }
    /* Legacy 4-d blobs (1x1xNxK for an fc weight) take the definition's
     * shape element for element. */
    cv_tensor *v = cv_tensor_view(t, l->param[k]->ndim, l->param[k]->size, err);
    cv_tensor_release(t);
    if (!v) return cv_error_prefix(err, "%s: layer '%s'", file, l->name);
    v->requires_grad = l->param[k]->requires_grad;
    cv_tensor_release(l->param[k]);
    l->param[k] = v;
    l->loaded[k] = 1;
  }
  return 0;
}

int cv_net_load_weights(cv_net *net, Caffe__NetParameter *weights,
                        const char *file, cv_error *err) {
  for (size_t i = 0; i < weights->n_layer; i++) {
    Caffe__LayerParameter *src = weights->layer[i];
    int id = cv_net_layer_id(net, src->name ? src->name : "");
    if (id < 0) continue;
    if (load_layer(&net->layers[id], src, file, err)) return -1;
  }
  return 0;
}

int cv_net_weight_mismatches(const cv_net *net,
                             const Caffe__NetParameter *weights,
                             cv_net_mismatch *out, int max) {
  int n = 0;
  for (size_t i = 0; i < weights->n_layer; i++) {
    const Caffe__LayerParameter *src = weights->layer[i];
    const char *name = src->name ? src->name : "";
    if (src->n_blobs == 0 || cv_net_layer_id(net, name) >= 0) continue;
    if (n < max)
      out[n] = (cv_net_mismatch){name, src->type ? src->type : "", (int)src->n_blobs, 1};
    n++;
  }
  for (int i = 0; i < net->n_layers; i++) {
    const cv_net_layer *l = &net->layers[i];
    if (l->n_param == 0 || l->loaded[0]) continue;
    if (n < max) out[n] = (cv_net_mismatch){l->name, l->type->name, l->n_param, 0};
    n++;
  }
  return n;
}

int cv_net_fill_unloaded(cv_net *net, const Caffe__NetParameter *def,
                         cv_error *err) {
  for (size_t i = 0; i < def->n_layer; i++) {
    const Caffe__LayerParameter *lp = def->layer[i];
    int id = cv_net_layer_id(net, lp->name ? lp->name : "");
    if (id < 0) continue;
    cv_net_layer *l = &net->layers[id];
    for (int k = 0; k < l->n_param; k++) {
      if (l->loaded[k]) continue;
      cv_tensor_fill(l->param[k], 0.0f);
      if (l->type->fill && l->type->fill(lp, k, l->param[k], err))
        return cv_error_prefix(err, "layer '%s' parameter %d", l->name, k + 1);
    }
  }
  return 0;
}

/* ---- forward ------------------------------------------------------------ */


static int set_inputs(cv_net *net, int n_inputs, cv_tensor **inputs,
                      cv_error *err) {
  if (n_inputs > net->n_inputs || n_inputs < 1)
    return cv_error_set(err, "forward: the net has %d input(s), %d given",
                        net->n_inputs, n_inputs);
  for (int k = 0; k < n_inputs; k++) {
    const cv_shape *want = &net->input_shapes[k];
    const cv_tensor *x = inputs[k];
    int ok = x->ndim == want->ndim;
    for (int d = 1; ok && d < want->ndim; d++) ok = x->size[d] == want->size[d];
    if (!ok) {
      char a[CV_SHAPE_STR_MAX], b[CV_SHAPE_STR_MAX];
      return cv_error_set(err, "forward: input '%s' has shape %s, the net "
                          "takes Nx%s", net->blob_names[net->input_blobs[k]],
                          cv_shape_str(x->ndim, x->size, a, sizeof a),
                          cv_shape_str(want->ndim - 1, want->size + 1, b,
                                       sizeof b));
    }
    int id = net->input_blobs[k];
    cv_tensor_release(net->blobs[id]);
    net->blobs[id] = cv_tensor_retain(inputs[k]);
  }
  return 0;
}

/* True when the net's reference is the only way to reach t's memory and
 * nothing on the tape needs it, so that an in-place layer may overwrite it. */
static int free_to_overwrite(cv_tensor *t) {
  return t->refcount == 1 && t->storage->refcount == 1 && !t->node &&
         !cv_autograd_any(1, &t) && cv_tensor_is_contiguous(t);
}

static int run_layer(cv_net *net, cv_net_layer *l, cv_error *err) {
  cv_tensor *bottom[CV_LAYER_MAX_BOTTOMS], *top[CV_LAYER_MAX_TOPS] = {0};
  for (int k = 0; k < l->n_bottom; k++) {
    bottom[k] = net->blobs[l->bottom[k]];
    if (!bottom[k])
      return cv_error_set(err, "layer '%s' reads blob '%s', which has no "
                          "value: give it to forward", l->name,
                          net->blob_names[l->bottom[k]]);
  }
  if (l->type->inplace && l->n_bottom == 1 && l->n_top == 1 &&
      l->top[0] == l->bottom[0] && free_to_overwrite(bottom[0])) {
    if (l->type->inplace(l->opts, bottom[0], err))
      return cv_error_prefix(err, "layer '%s' (%s)", l->name, l->type->name);
    return 0;
  }
  int rc = l->type->forward_ws
               ? l->type->forward_ws(l->opts, &net->ws, l->n_bottom, bottom,
                                     l->param, l->n_top, top, err)
               : l->type->forward(l->opts, l->n_bottom, bottom, l->param,
                                  l->n_top, top, err);
  if (rc) return cv_error_prefix(err, "layer '%s' (%s)", l->name, l->type->name);
  cv_tensor_release(l->out);
  l->out = l->n_top && top[0]->node ? cv_tensor_retain(top[0]) : NULL;
  for (int k = 0; k < l->n_top; k++) {
    cv_tensor_release(net->blobs[l->top[k]]);
    net->blobs[l->top[k]] = top[k];
  }
  return 0;
}

/* Drops the blobs that layer i read or wrote and that nothing kept or read
 * later needs; a blob the layer rewrote in place is its top, still needed
 * when a later layer reads it. */
static void release_after(cv_net *net, int i, const unsigned char *keep) {
  const cv_net_layer *l = &net->layers[i];
  for (int side = 0; side < 2; side++) {
    int n = side ? l->n_top : l->n_bottom;
    const int *ids = side ? l->top : l->bottom;
    for (int k = 0; k < n; k++) {
      int b = ids[k];
      if (keep[b] || net->last_reader[b] > i) continue;
      cv_tensor_release(net->blobs[b]);
      net->blobs[b] = NULL;
    }
  }
}

static void release_unkept(cv_net *net, const unsigned char *keep) {
  for (int b = 0; b < net->n_blobs; b++)
    if (!keep[b]) {
      cv_tensor_release(net->blobs[b]);
      net->blobs[b] = NULL;
    }
}

/* Runs layers first..last, then drops what keep does not name. */
static int run_layers(cv_net *net, int first, int last,
                      const unsigned char *keep, cv_error *err) {
  for (int i = first; i <= last; i++) {
    cv_net_layer *l = &net->layers[i];
    if (strcmp(l->type->name, "Input") == 0) continue;
    if (run_layer(net, l, err)) return -1;
    if (keep) release_after(net, i, keep);
  }
  if (keep) release_unkept(net, keep); /* upto leaves later layers' inputs */
  return 0;
}

/* The id of layer name, or `fallback` when name is NULL. */
static int layer_arg(const cv_net *net, const char *name, int fallback,
                     cv_error *err) {
  if (!name) return fallback;
  int id = cv_net_layer_id(net, name);
  if (id < 0) cv_error_set(err, "forward: the net has no layer '%s'", name);
  return id;
}

int cv_net_forward_keep(cv_net *net, int n_inputs, cv_tensor **inputs,
                        const char *upto, const unsigned char *keep,
                        cv_error *err) {
  int last = layer_arg(net, upto, net->n_layers - 1, err);
  if (last < 0) return -1;
  if (keep) release_unkept(net, keep); /* an earlier call's, stale now */
  if (set_inputs(net, n_inputs, inputs, err)) return -1;
  return run_layers(net, 0, last, keep, err);
}

int cv_net_set_blob(cv_net *net, const char *name, cv_tensor *t,
                    cv_error *err) {
  int id = cv_net_blob_id(net, name);
  if (id < 0)
    return cv_error_set(err, "forward: the net has no blob '%s'", name);
  cv_tensor_release(net->blobs[id]);
  net->blobs[id] = cv_tensor_retain(t);
  return 0;
}

int cv_net_forward_from(cv_net *net, const char *from, const char *upto,
                        const unsigned char *keep, cv_error *err) {
  int first = layer_arg(net, from, 0, err);
  int last = first < 0 ? -1 : layer_arg(net, upto, net->n_layers - 1, err);
  if (last < 0) return -1;
  if (last < first)
    return cv_error_set(err, "forward: layer '%s' comes before layer '%s'",
                        upto, from);
  return run_layers(net, first, last, keep, err);
}

int cv_net_forward(cv_net *net, int n_inputs, cv_tensor **inputs,
                   const char *upto, cv_error *err) {
  return cv_net_forward_keep(net, n_inputs, inputs, upto, NULL, err);
}

/* ---- per-sample filter norms ------------------------------------------------- */

/* The layer's output node, when the last forward put it on the tape. */
static cv_node *output_node(cv_net *net, int id, cv_error *err) {
  cv_net_layer *l = &net->layers[id];
  if (strcmp(l->type->name, "Convolution") && strcmp(l->type->name, "InnerProduct")) {
    cv_error_set(err, "per-sample norms: layer '%s' is a %s, not a "
                 "Convolution or InnerProduct layer", l->name, l->type->name);
    return NULL;
  }
  if (!l->out || !l->out->node || l->out->node->freed) {
    cv_error_set(err, "per-sample norms: layer '%s' has no output on the tape "
                 "(run forward with grad mode on first)", l->name);
    return NULL;
  }
  return l->out->node;
}

int cv_net_keep_output_grad(cv_net *net, int layer_id, cv_error *err) {
  cv_node *node = output_node(net, layer_id, err);
  if (!node) return -1;
  node->keep_grad = 1;
  cv_tensor_release(node->kept_grad);
  node->kept_grad = NULL;
  return 0;
}

cv_tensor *cv_net_filter_norms(cv_net *net, int layer_id, cv_error *err) {
  cv_node *node = output_node(net, layer_id, err);
  if (!node) return NULL;
  const char *name = net->layers[layer_id].name;
  cv_tensor *dy = node->kept_grad;
  if (!dy) {
    cv_error_set(err, "per-sample norms: layer '%s' has no kept gradient "
                 "(call keep_output_grad, then backward with {retain = true})",
                 name);
    return NULL;
  }
  cv_tensor *norms = cv_nn_filter_grad_norms(node, dy, err);
  if (!norms) cv_error_prefix(err, "layer '%s'", name);
  return norms;
}

int cv_net_output_grad(cv_net *net, int layer_id, cv_tensor **y,
                       cv_tensor **dy, cv_error *err) {
  cv_node *node = output_node(net, layer_id, err);
  if (!node) return -1;
  if (!node->kept_grad)
    return cv_error_set(err, "per-sample norms: layer '%s' has no kept "
                        "gradient (call keep_output_grad, then backward)",
                        net->layers[layer_id].name);
  *y = net->layers[layer_id].out;
  *dy = node->kept_grad;
  return 0;
}
