/* net_layers_more.c — the net's Caffe types that join, reshape or normalize
 * blobs: Concat, Eltwise, Flatten, Reshape, BatchNorm, Scale. Same contract
 * as net_layers.c (options, shapes, fillers, forward op). */
#include <stdlib.h>
#include <string.h>

#include "fillers.h"
#include "net.h"
#include "nn.h"

static void *new_opts(void **opts, size_t n, cv_error *err) {
  *opts = calloc(1, n);
  if (!*opts) cv_error_set(err, "out of memory");
  return *opts;
}

static int axis_in(int axis, int ndim, cv_error *err) {
  int a = axis < 0 ? axis + ndim : axis;
  if (a < 0 || a >= ndim)
    return cv_error_set(err, "axis %d is out of range for %d-d bottom", axis,
                        ndim);
  return a;
}

static int no_bottoms_but(int n_bottom, int lo, int hi, cv_error *err) {
  if (n_bottom >= lo && n_bottom <= hi) return 0;
  return cv_error_set(err, "takes %d to %d bottoms, has %d", lo, hi, n_bottom);
}

/* ---- Concat ---------------------------------------------------------------- */

static int parse_concat(const Caffe__LayerParameter *lp, int train, void **opts,
                        cv_error *err) {
  (void)train;
  int *axis = new_opts(opts, sizeof *axis, err);
  if (!axis) return -1;
  const Caffe__ConcatParameter *q = lp->concat_param;
  *axis = 1;
  if (q && q->has_axis) *axis = q->axis;
  else if (q && q->has_concat_dim) *axis = (int)q->concat_dim;
  return 0;
}

static int shape_concat(const void *opts, int n_bottom, const cv_shape *bottom,
                        int n_top, cv_shape *top, int *n_param, cv_shape *param,
                        cv_error *err) {
  (void)n_top, (void)param;
  if (no_bottoms_but(n_bottom, 1, CV_LAYER_MAX_BOTTOMS, err)) return -1;
  int axis = axis_in(*(const int *)opts, bottom[0].ndim, err);
  if (axis < 0) return -1;
  top[0] = bottom[0];
  for (int k = 1; k < n_bottom; k++) {
    int same = bottom[k].ndim == bottom[0].ndim;
    for (int d = 0; same && d < bottom[0].ndim; d++)
      same = d == axis || bottom[k].size[d] == bottom[0].size[d];
    if (!same) {
      char a[CV_SHAPE_STR_MAX], b[CV_SHAPE_STR_MAX];
      return cv_error_set(err, "bottom %d has shape %s, which does not fit %s "
                          "outside axis %d", k + 1,
                          cv_shape_str(bottom[k].ndim, bottom[k].size, a, sizeof a),
                          cv_shape_str(bottom[0].ndim, bottom[0].size, b, sizeof b),
                          axis);
    }
    top[0].size[axis] += bottom[k].size[axis];
  }
  *n_param = 0;
  return 0;
}

static int forward_concat(const void *opts, int n_bottom, cv_tensor **bottom,
                          cv_tensor **param, int n_top, cv_tensor **top,
                          cv_error *err) {
  (void)param, (void)n_top;
  int axis = axis_in(*(const int *)opts, bottom[0]->ndim, err);
  if (axis < 0) return -1;
  return (top[0] = cv_nn_concat(axis, n_bottom, bottom, err)) ? 0 : -1;
}

/* ---- Eltwise --------------------------------------------------------------- */

typedef struct {
  cv_eltwise_op op;
  int n_coeff;
  double coeff[CV_LAYER_MAX_BOTTOMS];
} eltwise_opts;

static int parse_eltwise(const Caffe__LayerParameter *lp, int train,
                         void **opts, cv_error *err) {
  (void)train;
  eltwise_opts *o = new_opts(opts, sizeof *o, err);
  if (!o) return -1;
  const Caffe__EltwiseParameter *q = lp->eltwise_param;
  o->op = CV_ELTWISE_SUM;
  if (q && q->operation == CAFFE__ELTWISE_PARAMETER__ELTWISE_OP__PROD)
    o->op = CV_ELTWISE_PROD;
  if (q && q->operation == CAFFE__ELTWISE_PARAMETER__ELTWISE_OP__MAX)
    o->op = CV_ELTWISE_MAX;
  if (!q || q->n_coeff == 0) return 0;
  if (o->op != CV_ELTWISE_SUM)
    return cv_error_set(err, "takes coefficients only for SUM");
  if (q->n_coeff != lp->n_bottom || q->n_coeff > CV_LAYER_MAX_BOTTOMS)
    return cv_error_set(err, "has %zu coefficients for %zu bottoms",
                        q->n_coeff, lp->n_bottom);
  o->n_coeff = (int)q->n_coeff;
  for (int k = 0; k < o->n_coeff; k++) o->coeff[k] = q->coeff[k];
  return 0;
}

static int shape_eltwise(const void *opts, int n_bottom, const cv_shape *bottom,
                         int n_top, cv_shape *top, int *n_param,
                         cv_shape *param, cv_error *err) {
  (void)opts, (void)n_top, (void)param;
  if (no_bottoms_but(n_bottom, 2, CV_LAYER_MAX_BOTTOMS, err)) return -1;
  for (int k = 1; k < n_bottom; k++) {
    int same = bottom[k].ndim == bottom[0].ndim;
    for (int d = 0; same && d < bottom[0].ndim; d++)
      same = bottom[k].size[d] == bottom[0].size[d];
    if (!same) {
      char a[CV_SHAPE_STR_MAX], b[CV_SHAPE_STR_MAX];
      return cv_error_set(err, "bottom %d has shape %s, bottom 1 %s", k + 1,
                          cv_shape_str(bottom[k].ndim, bottom[k].size, a, sizeof a),
                          cv_shape_str(bottom[0].ndim, bottom[0].size, b, sizeof b));
    }
  }
  top[0] = bottom[0];
  *n_param = 0;
  return 0;
}

static int forward_eltwise(const void *opts, int n_bottom, cv_tensor **bottom,
                           cv_tensor **param, int n_top, cv_tensor **top,
                           cv_error *err) {
  const eltwise_opts *o = opts;
  (void)param, (void)n_top;
  top[0] = cv_nn_eltwise(o->op, o->n_coeff ? o->coeff : NULL, n_bottom, bottom,
                         err);
  return top[0] ? 0 : -1;
}

/* ---- Flatten and Reshape: views of the bottom ----------------------------- */

typedef struct {
  int is_reshape;
  int axis, end_or_num; /* Flatten: end_axis; Reshape: num_axes */
  int ndim;
  int64_t dims[CV_MAX_DIMS];
} reshape_opts;

static int parse_flatten(const Caffe__LayerParameter *lp, int train,
                         void **opts, cv_error *err) {
  (void)train;
  reshape_opts *o = new_opts(opts, sizeof *o, err);
  if (!o) return -1;
  const Caffe__FlattenParameter *q = lp->flatten_param;
  o->axis = q ? q->axis : 1;
  o->end_or_num = q ? q->end_axis : -1;
  return 0;
}

static int parse_reshape(const Caffe__LayerParameter *lp, int train,
                         void **opts, cv_error *err) {
  (void)train;
  reshape_opts *o = new_opts(opts, sizeof *o, err);
  if (!o) return -1;
  const Caffe__ReshapeParameter *q = lp->reshape_param;
  if (!q || !q->shape)
    return cv_error_set(err, "has no reshape_param { shape { dim ... } }");
  if (q->shape->n_dim > CV_MAX_DIMS)
    return cv_error_set(err, "shape has %zu dims", q->shape->n_dim);
  o->is_reshape = 1;
  o->axis = q->axis;
  o->end_or_num = q->num_axes;
  o->ndim = (int)q->shape->n_dim;
  memcpy(o->dims, q->shape->dim, sizeof(int64_t) * (size_t)o->ndim);
  return 0;
}

static int reshaped(const reshape_opts *o, int ndim, const int64_t *in,
                    cv_shape *out, cv_error *err) {
  if (o->is_reshape)
    return cv_reshape_shape(o->axis, o->end_or_num, o->ndim, o->dims, ndim, in,
                            &out->ndim, out->size, err);
  return cv_flatten_shape(o->axis, o->end_or_num, ndim, in, &out->ndim,
                          out->size, err);
}

static int shape_reshape(const void *opts, int n_bottom, const cv_shape *bottom,
                         int n_top, cv_shape *top, int *n_param,
                         cv_shape *param, cv_error *err) {
  (void)n_top, (void)param;
  if (no_bottoms_but(n_bottom, 1, 1, err)) return -1;
  *n_param = 0;
  return reshaped(opts, bottom[0].ndim, bottom[0].size, &top[0], err);
}

/* The shape again from the bottom's real sizes: the batch may differ. */
static int forward_reshape(const void *opts, int n_bottom, cv_tensor **bottom,
                           cv_tensor **param, int n_top, cv_tensor **top,
                           cv_error *err) {
  (void)n_bottom, (void)param, (void)n_top;
  cv_shape s;
  if (reshaped(opts, bottom[0]->ndim, bottom[0]->size, &s, err)) return -1;
  cv_tensor *x = bottom[0], *y = cv_tensor_reshape(x, s.ndim, s.size, err);
  if (!y) return -1;
  int rc = y->storage == x->storage ? cv_tensor_record_view(y, x, "reshape", err)
                                    : cv_tensor_record_copy(y, x, "reshape", err);
  if (rc) {
    cv_tensor_release(y);
    return -1;
  }
  top[0] = y;
  return 0;
}

/* ---- BatchNorm ------------------------------------------------------------- */

static int parse_batchnorm(const Caffe__LayerParameter *lp, int train,
                           void **opts, cv_error *err) {
  cv_batchnorm_params *p = new_opts(opts, sizeof *p, err);
  if (!p) return -1;
  const Caffe__BatchNormParameter *q = lp->batch_norm_param;
  /* Caffe: global statistics at test time unless the definition says. */
  p->use_global_stats = q && q->has_use_global_stats ? q->use_global_stats
                                                     : !train;
  p->eps = q ? q->eps : 1e-5;
  return 0;
}

static int shape_batchnorm(const void *opts, int n_bottom,
                           const cv_shape *bottom, int n_top, cv_shape *top,
                           int *n_param, cv_shape *param, cv_error *err) {
  (void)opts, (void)n_top;
  if (no_bottoms_but(n_bottom, 1, 1, err)) return -1;
  if (bottom[0].ndim < 2)
    return cv_error_set(err, "needs a bottom with channels (axis 1)");
  int64_t one = 1;
  param[0] = (cv_shape){.ndim = 1, .size = {bottom[0].size[1]}};
  param[1] = param[0];
  param[2] = (cv_shape){.ndim = 1, .size = {one}};
  top[0] = bottom[0];
  *n_param = 3;
  return 0;
}

static int forward_batchnorm(const void *opts, int n_bottom, cv_tensor **bottom,
                             cv_tensor **param, int n_top, cv_tensor **top,
                             cv_error *err) {
  (void)n_bottom, (void)n_top;
  top[0] = cv_nn_batchnorm(opts, bottom[0], param[0], param[1], param[2], err);
  return top[0] ? 0 : -1;
}

/* ---- Scale ----------------------------------------------------------------- */

typedef struct {
  int axis, num_axes, bias_term;
} scale_opts;

static int parse_scale(const Caffe__LayerParameter *lp, int train, void **opts,
                       cv_error *err) {
  (void)train;
  scale_opts *o = new_opts(opts, sizeof *o, err);
  if (!o) return -1;
  const Caffe__ScaleParameter *q = lp->scale_param;
  o->axis = q ? q->axis : 1;
  o->num_axes = q ? q->num_axes : 1;
  o->bias_term = q ? q->bias_term : 0;
  return 0;
}

static int shape_scale(const void *opts, int n_bottom, const cv_shape *bottom,
                       int n_top, cv_shape *top, int *n_param, cv_shape *param,
                       cv_error *err) {
  const scale_opts *o = opts;
  (void)n_top;
  if (no_bottoms_but(n_bottom, 1, 2, err)) return -1;
  if (axis_in(o->axis, bottom[0].ndim, err) != 1)
    return cv_error_set(err, "axis %d: only axis 1 (channels) is supported",
                        o->axis);
  cv_shape g = {.ndim = 0};
  if (n_bottom == 2) {
    g = bottom[1];
  } else {
    int end = o->num_axes < 0 ? bottom[0].ndim : 1 + o->num_axes;
    if (end > bottom[0].ndim)
      return cv_error_set(err, "num_axes %d goes past the bottom's %d dims",
                          o->num_axes, bottom[0].ndim);
    for (int d = 1; d < end; d++) g.size[g.ndim++] = bottom[0].size[d];
  }
  int n = 0;
  if (n_bottom == 1) param[n++] = g;
  if (o->bias_term) param[n++] = g;
  top[0] = bottom[0];
  *n_param = n;
  return 0;
}

/* Caffe's defaults: gamma 1, beta 0, unless a filler says otherwise. */
static int fill_scale(const Caffe__LayerParameter *lp, int k, cv_tensor *t,
                      cv_error *err) {
  const Caffe__ScaleParameter *q = lp->scale_param;
  int is_gamma = k == 0 && lp->n_bottom == 1;
  const Caffe__FillerParameter *f = q ? (is_gamma ? q->filler : q->bias_filler)
                                      : NULL;
  if (f) return cv_filler_apply(f, t, err);
  cv_tensor_fill(t, is_gamma ? 1.0f : 0.0f);
  return 0;
}

static int forward_scale(const void *opts, int n_bottom, cv_tensor **bottom,
                         cv_tensor **param, int n_top, cv_tensor **top,
                         cv_error *err) {
  const scale_opts *o = opts;
  (void)n_top;
  cv_tensor *gamma = n_bottom == 2 ? bottom[1] : param[0];
  cv_tensor *beta = o->bias_term ? param[n_bottom == 2 ? 0 : 1] : NULL;
  return (top[0] = cv_nn_scale(bottom[0], gamma, beta, err)) ? 0 : -1;
}

/* ---- the table -------------------------------------------------------------- */

static const cv_layer_type MORE[] = {
    {"Concat", parse_concat, shape_concat, NULL, forward_concat, NULL},
    {"Eltwise", parse_eltwise, shape_eltwise, NULL, forward_eltwise, NULL},
    {"Flatten", parse_flatten, shape_reshape, NULL, forward_reshape, NULL},
    {"Reshape", parse_reshape, shape_reshape, NULL, forward_reshape, NULL},
    {"BatchNorm", parse_batchnorm, shape_batchnorm, NULL, forward_batchnorm,
     NULL},
    {"Scale", parse_scale, shape_scale, fill_scale, forward_scale, NULL},
};

const cv_layer_type *cv_net_more_types(int *n) {
  *n = (int)(sizeof MORE / sizeof MORE[0]);
  return MORE;
}
