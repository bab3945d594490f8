/*
 * net_layers.h — the layer types the net can build (net_layers.c): for each
 * Caffe type string, the hooks that read its parameters, give its shapes,
 * fill its parameters and run its forward. net.c looks a type up here and
 * calls its hooks; the types know nothing of the net.
 *
 *   const cv_layer_type *t = cv_layer_type_find("Convolution"); // or NULL
 */
#ifndef CV_NET_LAYERS_H
#define CV_NET_LAYERS_H

#include "caffe.pb-c.h"
#include "layers/layers.h"
#include "tensor/tensor.h"

typedef struct {
  int ndim;
  int64_t size[CV_MAX_DIMS];
} cv_shape;

#define CV_LAYER_MAX_PARAMS 4
#define CV_LAYER_MAX_TOPS 8
#define CV_LAYER_MAX_BOTTOMS 8

/* What the net knows of a layer type. */
typedef struct cv_layer_type {
  const char *name; /* Caffe's type string */
  /* Reads the layer's Caffe parameters into a malloc'd options struct;
   * train says which phase the net runs in (Dropout needs it). */
  int (*parse)(const Caffe__LayerParameter *lp, int train, void **opts,
               cv_error *err);
  /* Top shapes and parameter shapes from bottom shapes. */
  int (*shape)(const void *opts, int n_bottom, const cv_shape *bottom,
               int n_top, cv_shape *top, int *n_param, cv_shape *param,
               cv_error *err);
  /* Fills parameter k (already zeroed) as the layer's fillers say; NULL
   * leaves zeros. */
  int (*fill)(const Caffe__LayerParameter *lp, int k, cv_tensor *param,
              cv_error *err);
  /* Computes tops (new references) from bottoms and parameters. */
  int (*forward)(const void *opts, int n_bottom, cv_tensor **bottom,
                 cv_tensor **param, int n_top, cv_tensor **top, cv_error *err);
  /* When set, used instead of forward: the same, with scratch memory that
   * the net keeps across layers and calls (conv's column buffer). */
  int (*forward_ws)(const void *opts, cv_workspace *ws, int n_bottom,
                    cv_tensor **bottom, cv_tensor **param, int n_top,
                    cv_tensor **top, cv_error *err);
  /* When set, the layer may run on its bottom's own memory (Caffe's
   * in-place ReLU): overwrites x with the top. The net calls it only for a
   * layer whose top is its bottom, when no one else holds x and nothing is
   * recorded on the tape. */
  int (*inplace)(const void *opts, cv_tensor *x, cv_error *err);
} cv_layer_type;

/* The type named by Caffe's type string, or NULL when it is not supported. */
const cv_layer_type *cv_layer_type_find(const char *name);
/* The supported type strings, for messages: "Input, Convolution, ...". */
void cv_layer_type_names(char *buf, size_t n);

#endif
