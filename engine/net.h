/*
 * net.h — a Caffe model as a graph of layers over named blobs.
 *
 *   cv_error err;
 *   Caffe__NetParameter *def = cv_caffe_read_net_def("deploy.prototxt",
 *                                                    CAFFE__PHASE__TEST, &err);
 *   cv_net *net = cv_net_build(def, "deploy.prototxt", &err);
 *   cv_net_load_weights(net, weights, "weights.caffemodel", &err);
 *   cv_tensor *in[1] = {x};
 *   cv_net_forward(net, 1, in, NULL, &err);           // every blob kept
 *   cv_tensor *prob = cv_net_blob(net, "prob");       // borrowed
 *   cv_net_free(net);
 *
 * Each layer's forward is a differentiable op: with grad mode on and
 * parameters that require gradients (the default), a forward records the
 * tape, and a backward from any blob fills the parameters' gradients.
 * A layer whose top is its bottom (in place, as Caffe's ReLU) rebinds the
 * blob name to its output, so the blob shows what Caffe's would.
 */
#ifndef CV_NET_H
#define CV_NET_H

#include "net_layers.h"

typedef struct {
  char *name;
  const cv_layer_type *type;
  void *opts;
  int n_bottom, n_top, n_param;
  int bottom[CV_LAYER_MAX_BOTTOMS]; /* blob ids */
  int top[CV_LAYER_MAX_TOPS];
  cv_tensor *param[CV_LAYER_MAX_PARAMS]; /* owned; weight, bias, ... */
  unsigned char loaded[CV_LAYER_MAX_PARAMS]; /* set by cv_net_load_weights */
  cv_shape top_shape[CV_LAYER_MAX_TOPS]; /* at the definition's batch size */
  /* The first top of the last forward while it is on the tape (retained):
   * per-sample norms read its node after a backward. */
  cv_tensor *out;
} cv_net_layer;

typedef struct cv_net {
  int train;                /* the phase the layers were set up for */
  int n_layers, n_blobs;
  cv_net_layer *layers;
  char **blob_names;
  cv_tensor **blobs;        /* owned; NULL until a forward fills them */
  int n_inputs;
  int *input_blobs;         /* blob ids fed by forward's arguments */
  cv_shape *input_shapes;
  int *last_reader;         /* per blob: the last layer reading it, or -1 */
  cv_workspace ws;          /* scratch reused by every forward */
} cv_net;

/* A net from a normalized definition (cv_caffe_read_net_def): shapes are
 * inferred from the Input layers and, when fill, every parameter is filled
 * by its layer's weight_filler / bias_filler with the engine's seeded RNG
 * (else zeros: weights are about to be loaded). */
cv_net *cv_net_build(const Caffe__NetParameter *def, const char *name,
                     int train, int fill, cv_error *err);
void cv_net_free(cv_net *net);

/* Makes the blobs of the caffemodel's layers the net's parameters (taking
 * their value arrays, which weights no longer holds), matched by layer
 * name. Layers the net lacks are ignored, as in Caffe. A count or shape
 * mismatch names the layer and both shapes. */
int cv_net_load_weights(cv_net *net, Caffe__NetParameter *weights,
                        const char *file, cv_error *err);
/* What a caffemodel and a net disagree on without an error: a layer of the
 * weights that holds blobs but that the net does not name (a training
 * snapshot's extra head; layers without blobs, such as data, loss and
 * accuracy, do not count), or a layer of the net with parameters that no
 * weights replaced. Names are borrowed from weights and net. */
typedef struct {
  const char *layer, *type;
  int n_blobs;
  int unused; /* 1: in the weights, not the net; 0: in the net, not loaded */
} cv_net_mismatch;

/* After cv_net_load_weights: fills up to max mismatches, returns how many
 * there are. */
int cv_net_weight_mismatches(const cv_net *net,
                             const Caffe__NetParameter *weights,
                             cv_net_mismatch *out, int max);
/* After a build without fill and the weights: the parameters no weights
 * replaced get their fillers, as Caffe initialises layers a caffemodel
 * lacks. */
int cv_net_fill_unloaded(cv_net *net, const Caffe__NetParameter *def,
                         cv_error *err);

/* Runs the layers in order on the given inputs (borrowed; one per input
 * blob, any batch size), stopping after layer `upto` when not NULL. Every
 * blob is kept. */
int cv_net_forward(cv_net *net, int n_inputs, cv_tensor **inputs,
                   const char *upto, cv_error *err);
/* The same, keeping only the blobs whose keep[id] is set (keep NULL: all):
 * any other blob is released as soon as no later layer reads it, so that
 * its memory serves the next layers, and is NULL after the call. */
int cv_net_forward_keep(cv_net *net, int n_inputs, cv_tensor **inputs,
                        const char *upto, const unsigned char *keep,
                        cv_error *err);

/* Runs only layers from..upto (names; NULL: the first / the last layer) on
 * the blobs the net holds: those the layers read and do not make themselves
 * come from an earlier forward or from cv_net_set_blob. keep as above (a
 * reference the caller holds to a blob it gave keeps in-place layers from
 * overwriting it). A removal that changes layer L on only reruns
 * L onwards this way, without the layers before it. */
int cv_net_forward_from(cv_net *net, const char *from, const char *upto,
                        const unsigned char *keep, cv_error *err);
/* Makes t (retained) the value of blob name, for cv_net_forward_from. */
int cv_net_set_blob(cv_net *net, const char *name, cv_tensor *t,
                    cv_error *err);

/* Per-sample filter gradient norms of a Convolution or InnerProduct layer.
 * Before a backward: cv_net_keep_output_grad(net, id) asks the tape to keep
 * the gradient of the layer's output. After it: a new N x filters tensor,
 * row n the L2 norms, per output channel (conv) or output neuron (fc), of
 * the gradient of sample n's share of the backward's objective w.r.t. the
 * layer's weights (bias apart). The objective must be a sum of per-sample
 * terms (a neuron summed over the batch), and the backward must have kept
 * the graph ({retain = true}) for the layer's saved input. */
int cv_net_keep_output_grad(cv_net *net, int layer_id, cv_error *err);
cv_tensor *cv_net_filter_norms(cv_net *net, int layer_id, cv_error *err);
/* After such a backward: the layer's output y (bias included, before any
 * in-place layer) and its kept gradient dy, both borrowed (valid until the
 * next forward), for per-sample measures of one's own. */
int cv_net_output_grad(cv_net *net, int layer_id, cv_tensor **y,
                       cv_tensor **dy, cv_error *err);

int cv_net_blob_id(const cv_net *net, const char *name);  /* -1 if none */
int cv_net_layer_id(const cv_net *net, const char *name); /* -1 if none */
cv_tensor *cv_net_blob(const cv_net *net, const char *name); /* borrowed */

#endif
