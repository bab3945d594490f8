/* net_layers.c — what the net knows of each Caffe layer type: its options
 * from the LayerParameter, its shapes, its fillers and its forward op. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net_layers.h"

#include "fillers.h"
#include "nn.h"
#include "tensor_grad.h"

/* ---- helpers ------------------------------------------------------------ */

static void *alloc_opts(void **opts, size_t n, cv_error *err) {
  *opts = calloc(1, n);
  if (!*opts) cv_error_set(err, "out of memory");
  return *opts;
}

static int want_bottoms(int n_bottom, int lo, int hi, cv_error *err) {
  if (n_bottom < lo || n_bottom > hi)
    return lo == hi ? cv_error_set(err, "takes %d bottom(s), has %d", lo, n_bottom)
                    : cv_error_set(err, "takes %d to %d bottoms, has %d", lo, hi,
                                   n_bottom);
  return 0;
}

static int want_4d(const cv_shape *s, cv_error *err) {
  if (s->ndim == 4) return 0;
  char a[CV_SHAPE_STR_MAX];
  return cv_error_set(err, "needs a 4-d (NxCxHxW) bottom, not %s",
                      cv_shape_str(s->ndim, s->size, a, sizeof a));
}

static cv_shape shape_of(int ndim, const int64_t *size) {
  cv_shape s = {.ndim = ndim};
  memcpy(s.size, size, sizeof(int64_t) * (size_t)ndim);
  return s;
}

/* Positions count from the end when negative, as Caffe's CanonicalAxisIndex. */
static int canonical_axis(int axis, int ndim, cv_error *err) {
  int a = axis < 0 ? axis + ndim : axis;
  if (a < 0 || a >= ndim)
    return cv_error_set(err, "axis %d is out of range for %d-d bottom", axis,
                        ndim);
  return a;
}

/* Tops are the same shape as the first bottom (element-wise layers). */
static int shape_same(const void *opts, int n_bottom, const cv_shape *bottom,
                      int n_top, cv_shape *top, int *n_param, cv_shape *param,
                      cv_error *err) {
  (void)opts, (void)param;
  if (n_bottom < 1) return want_bottoms(n_bottom, 1, 1, err);
  for (int k = 0; k < n_top; k++) top[k] = bottom[0];
  *n_param = 0;
  return 0;
}

static int parse_none(const Caffe__LayerParameter *lp, int train, void **opts,
                      cv_error *err) {
  (void)lp, (void)train, (void)err;
  *opts = NULL;
  return 0;
}

/* ---- Input ----------------------------------------------------------------- */

typedef struct {
  int n;
  cv_shape shape[CV_LAYER_MAX_TOPS];
} input_opts;

static int parse_input(const Caffe__LayerParameter *lp, int train, void **opts,
                       cv_error *err) {
  (void)train;
  input_opts *o = alloc_opts(opts, sizeof *o, err);
  if (!o) return -1;
  const Caffe__InputParameter *ip = lp->input_param;
  if (!ip || ip->n_shape == 0)
    return cv_error_set(err, "has no input_param { shape { dim ... } }");
  for (size_t k = 0; k < ip->n_shape && k < CV_LAYER_MAX_TOPS; k++) {
    const Caffe__BlobShape *bs = ip->shape[k];
    if (bs->n_dim > CV_MAX_DIMS)
      return cv_error_set(err, "input shape has %zu dims", bs->n_dim);
    o->shape[k] = shape_of((int)bs->n_dim, bs->dim);
    o->n++;
  }
  return 0;
}

static int shape_input(const void *opts, int n_bottom, const cv_shape *bottom,
                       int n_top, cv_shape *top, int *n_param, cv_shape *param,
                       cv_error *err) {
  (void)n_bottom, (void)bottom, (void)param;
  const input_opts *o = opts;
  if (o->n != 1 && o->n != n_top)
    return cv_error_set(err, "has %d tops but %d shapes", n_top, o->n);
  for (int k = 0; k < n_top; k++) top[k] = o->shape[o->n == 1 ? 0 : k];
  *n_param = 0;
  return 0;
}

/* ---- Convolution ------------------------------------------------------------ */

typedef struct {
  cv_conv_params p;
  int64_t num_output;
  int bias_term;
} conv_opts;

/* Caffe's repeated-or-h/w geometry: `h`/`w` when given, else the repeated
 * field's one or two values, else the default. */
static int pick_hw(size_t n, const uint32_t *v, int has_h, uint32_t h,
                   int has_w, uint32_t w, int dflt, int *out_h, int *out_w) {
  if (has_h || has_w) {
    *out_h = has_h ? (int)h : dflt;
    *out_w = has_w ? (int)w : dflt;
    return 0;
  }
  if (n > 2) return -1;
  *out_h = n ? (int)v[0] : dflt;
  *out_w = n ? (int)v[n - 1] : dflt;
  return 0;
}

static int parse_conv(const Caffe__LayerParameter *lp, int train, void **opts,
                      cv_error *err) {
  (void)train;
  conv_opts *o = alloc_opts(opts, sizeof *o, err);
  const Caffe__ConvolutionParameter *cp = lp->convolution_param;
  if (!o) return -1;
  if (!cp || !cp->has_num_output)
    return cv_error_set(err, "has no convolution_param { num_output }");
  cv_conv_params *p = &o->p;
  *p = cv_conv_params_default();
  if (pick_hw(cp->n_kernel_size, cp->kernel_size, cp->has_kernel_h,
              cp->kernel_h, cp->has_kernel_w, cp->kernel_w, 0, &p->kernel_h,
              &p->kernel_w) ||
      pick_hw(cp->n_stride, cp->stride, cp->has_stride_h, cp->stride_h,
              cp->has_stride_w, cp->stride_w, 1, &p->stride_h, &p->stride_w) ||
      pick_hw(cp->n_pad, cp->pad, cp->has_pad_h, cp->pad_h, cp->has_pad_w,
              cp->pad_w, 0, &p->pad_h, &p->pad_w) ||
      pick_hw(cp->n_dilation, cp->dilation, 0, 0, 0, 0, 1, &p->dilation_h,
              &p->dilation_w))
    return cv_error_set(err, "only 2-d convolution is supported (kernel, "
                        "stride, pad and dilation take at most 2 values)");
  if (p->kernel_h < 1 || p->kernel_w < 1)
    return cv_error_set(err, "needs kernel_size (or kernel_h and kernel_w)");
  if (cp->axis != 1)
    return cv_error_set(err, "axis %d: only axis 1 (channels) is supported",
                        cp->axis);
  p->group = (int)cp->group;
  o->num_output = cp->num_output;
  o->bias_term = cp->bias_term;
  return 0;
}

static int shape_conv(const void *opts, int n_bottom, const cv_shape *bottom,
                      int n_top, cv_shape *top, int *n_param, cv_shape *param,
                      cv_error *err) {
  const conv_opts *o = opts;
  (void)n_top;
  if (want_bottoms(n_bottom, 1, 1, err) || want_4d(&bottom[0], err)) return -1;
  int64_t out[4];
  if (cv_conv2d_shape(&o->p, bottom[0].size, NULL, o->num_output, out, err))
    return -1;
  top[0] = shape_of(4, out);
  int64_t w[4] = {o->num_output, bottom[0].size[1] / o->p.group, o->p.kernel_h,
                  o->p.kernel_w};
  param[0] = shape_of(4, w);
  param[1] = shape_of(1, &o->num_output);
  *n_param = o->bias_term ? 2 : 1;
  return 0;
}

static int fill_conv(const Caffe__LayerParameter *lp, int k, cv_tensor *t,
                     cv_error *err) {
  const Caffe__ConvolutionParameter *cp = lp->convolution_param;
  return cv_filler_apply(k == 0 ? cp->weight_filler : cp->bias_filler, t, err);
}

static int forward_conv(const void *opts, cv_workspace *ws, int n_bottom,
                        cv_tensor **bottom, cv_tensor **param, int n_top,
                        cv_tensor **top, cv_error *err) {
  const conv_opts *o = opts;
  (void)n_bottom, (void)n_top;
  top[0] = cv_nn_conv2d(&o->p, bottom[0], param[0],
                        o->bias_term ? param[1] : NULL, ws, err);
  return top[0] ? 0 : -1;
}

/* ---- Pooling --------------------------------------------------------------- */

static int parse_pool(const Caffe__LayerParameter *lp, int train, void **opts,
                      cv_error *err) {
  (void)train;
  cv_pool_params *p = alloc_opts(opts, sizeof *p, err);
  const Caffe__PoolingParameter *pp = lp->pooling_param;
  if (!p) return -1;
  if (!pp) return cv_error_set(err, "has no pooling_param");
  *p = cv_pool_params_default();
  if (pp->pool == CAFFE__POOLING_PARAMETER__POOL_METHOD__STOCHASTIC)
    return cv_error_set(err, "STOCHASTIC pooling is not supported (MAX, AVE)");
  if (pp->round_mode == CAFFE__POOLING_PARAMETER__ROUND_MODE__FLOOR)
    return cv_error_set(err, "round_mode FLOOR is not supported (CEIL, Caffe's "
                        "default)");
  p->method = pp->pool == CAFFE__POOLING_PARAMETER__POOL_METHOD__AVE
                  ? CV_POOL_AVE : CV_POOL_MAX;
  p->global = pp->global_pooling;
  p->kernel_h = (int)(pp->has_kernel_h ? pp->kernel_h : pp->kernel_size);
  p->kernel_w = (int)(pp->has_kernel_w ? pp->kernel_w : pp->kernel_size);
  p->stride_h = (int)(pp->has_stride_h ? pp->stride_h : pp->stride);
  p->stride_w = (int)(pp->has_stride_w ? pp->stride_w : pp->stride);
  p->pad_h = (int)(pp->has_pad_h ? pp->pad_h : pp->pad);
  p->pad_w = (int)(pp->has_pad_w ? pp->pad_w : pp->pad);
  if (!p->global && (p->kernel_h < 1 || p->kernel_w < 1))
    return cv_error_set(err, "needs kernel_size (or global_pooling)");
  return 0;
}

static int shape_pool(const void *opts, int n_bottom, const cv_shape *bottom,
                      int n_top, cv_shape *top, int *n_param, cv_shape *param,
                      cv_error *err) {
  (void)n_top, (void)param;
  if (want_bottoms(n_bottom, 1, 1, err) || want_4d(&bottom[0], err)) return -1;
  int64_t out[4];
  if (cv_pool2d_shape(opts, bottom[0].size, out, err)) return -1;
  top[0] = shape_of(4, out);
  *n_param = 0;
  return 0;
}

static int forward_pool(const void *opts, int n_bottom, cv_tensor **bottom,
                        cv_tensor **param, int n_top, cv_tensor **top,
                        cv_error *err) {
  (void)n_bottom, (void)param, (void)n_top;
  return (top[0] = cv_nn_pool2d(opts, bottom[0], err)) ? 0 : -1;
}

/* ---- LRN ------------------------------------------------------------------ */

static int parse_lrn(const Caffe__LayerParameter *lp, int train, void **opts,
                     cv_error *err) {
  (void)train;
  cv_lrn_params *p = alloc_opts(opts, sizeof *p, err);
  if (!p) return -1;
  *p = cv_lrn_params_default();
  const Caffe__LRNParameter *q = lp->lrn_param;
  if (q) {
    p->size = (int)q->local_size;
    p->alpha = q->alpha;
    p->beta = q->beta;
    p->k = q->k;
    p->region = q->norm_region == CAFFE__LRNPARAMETER__NORM_REGION__WITHIN_CHANNEL
                    ? CV_LRN_WITHIN : CV_LRN_ACROSS;
  }
  if (p->size < 1 || p->size % 2 == 0)
    return cv_error_set(err, "local_size %d must be odd", p->size);
  return 0;
}

static int forward_lrn(const void *opts, cv_workspace *ws, int n_bottom,
                       cv_tensor **bottom, cv_tensor **param, int n_top,
                       cv_tensor **top, cv_error *err) {
  (void)n_bottom, (void)param, (void)n_top;
  return (top[0] = cv_nn_lrn(opts, bottom[0], ws, err)) ? 0 : -1;
}

/* ---- InnerProduct ------------------------------------------------------------ */

typedef struct {
  cv_linear_params p;
  int64_t num_output;
  int bias_term;
} ip_opts;

static int parse_ip(const Caffe__LayerParameter *lp, int train, void **opts,
                    cv_error *err) {
  (void)train;
  ip_opts *o = alloc_opts(opts, sizeof *o, err);
  const Caffe__InnerProductParameter *q = lp->inner_product_param;
  if (!o) return -1;
  if (!q || !q->has_num_output)
    return cv_error_set(err, "has no inner_product_param { num_output }");
  o->p.axis = q->axis;
  o->p.transpose = q->transpose;
  o->num_output = q->num_output;
  o->bias_term = q->bias_term;
  return 0;
}

static int shape_ip(const void *opts, int n_bottom, const cv_shape *bottom,
                    int n_top, cv_shape *top, int *n_param, cv_shape *param,
                    cv_error *err) {
  const ip_opts *o = opts;
  (void)n_top;
  if (want_bottoms(n_bottom, 1, 1, err)) return -1;
  int axis = canonical_axis(o->p.axis, bottom[0].ndim, err);
  if (axis < 0) return -1;
  int64_t k = 1;
  for (int d = axis; d < bottom[0].ndim; d++) k *= bottom[0].size[d];
  top[0] = shape_of(axis + 1, bottom[0].size);
  top[0].size[axis] = o->num_output;
  int64_t w[2] = {o->num_output, k}, wt[2] = {k, o->num_output};
  param[0] = shape_of(2, o->p.transpose ? wt : w);
  param[1] = shape_of(1, &o->num_output);
  *n_param = o->bias_term ? 2 : 1;
  return 0;
}

static int fill_ip(const Caffe__LayerParameter *lp, int k, cv_tensor *t,
                   cv_error *err) {
  const Caffe__InnerProductParameter *q = lp->inner_product_param;
  return cv_filler_apply(k == 0 ? q->weight_filler : q->bias_filler, t, err);
}

static int forward_ip(const void *opts, int n_bottom, cv_tensor **bottom,
                      cv_tensor **param, int n_top, cv_tensor **top,
                      cv_error *err) {
  const ip_opts *o = opts;
  (void)n_bottom, (void)n_top;
  cv_linear_params p = o->p;
  if ((p.axis = canonical_axis(p.axis, bottom[0]->ndim, err)) < 0) return -1;
  top[0] = cv_nn_linear(&p, bottom[0], param[0], o->bias_term ? param[1] : NULL,
                        err);
  return top[0] ? 0 : -1;
}

/* ---- element-wise layers ------------------------------------------------------ */

static int parse_relu(const Caffe__LayerParameter *lp, int train, void **opts,
                      cv_error *err) {
  (void)train;
  double *slope = alloc_opts(opts, sizeof *slope, err);
  if (!slope) return -1;
  *slope = lp->relu_param ? lp->relu_param->negative_slope : 0.0;
  return 0;
}

static int forward_relu(const void *opts, int n_bottom, cv_tensor **bottom,
                        cv_tensor **param, int n_top, cv_tensor **top,
                        cv_error *err) {
  (void)n_bottom, (void)param, (void)n_top;
  return (top[0] = cv_nn_relu(*(const double *)opts, bottom[0], err)) ? 0 : -1;
}

static int forward_sigmoid(const void *opts, int n_bottom, cv_tensor **bottom,
                           cv_tensor **param, int n_top, cv_tensor **top,
                           cv_error *err) {
  (void)opts, (void)n_bottom, (void)param, (void)n_top;
  return (top[0] = cv_nn_sigmoid(bottom[0], err)) ? 0 : -1;
}

static int forward_tanh(const void *opts, int n_bottom, cv_tensor **bottom,
                        cv_tensor **param, int n_top, cv_tensor **top,
                        cv_error *err) {
  (void)opts, (void)n_bottom, (void)param, (void)n_top;
  return (top[0] = cv_nn_tanh(bottom[0], err)) ? 0 : -1;
}

static int parse_power(const Caffe__LayerParameter *lp, int train, void **opts,
                       cv_error *err) {
  (void)train;
  cv_power_params *p = alloc_opts(opts, sizeof *p, err);
  if (!p) return -1;
  const Caffe__PowerParameter *q = lp->power_param;
  p->power = q ? q->power : 1.0;
  p->scale = q ? q->scale : 1.0;
  p->shift = q ? q->shift : 0.0;
  return 0;
}

static int forward_power(const void *opts, int n_bottom, cv_tensor **bottom,
                         cv_tensor **param, int n_top, cv_tensor **top,
                         cv_error *err) {
  (void)n_bottom, (void)param, (void)n_top;
  return (top[0] = cv_nn_power(opts, bottom[0], err)) ? 0 : -1;
}

/* PReLU: one learned slope per channel, or one for all (channel_shared, a
 * 0-d blob as in Caffe). Not in place even when top is bottom: its slope
 * is on the tape. */
static int parse_prelu(const Caffe__LayerParameter *lp, int train, void **opts,
                       cv_error *err) {
  (void)train;
  int *shared = alloc_opts(opts, sizeof *shared, err);
  if (!shared) return -1;
  *shared = lp->prelu_param && lp->prelu_param->channel_shared;
  return 0;
}

static int shape_prelu(const void *opts, int n_bottom, const cv_shape *bottom,
                       int n_top, cv_shape *top, int *n_param, cv_shape *param,
                       cv_error *err) {
  if (want_bottoms(n_bottom, 1, 1, err) ||
      shape_same(opts, n_bottom, bottom, n_top, top, n_param, param, err))
    return -1;
  if (bottom[0].ndim < 2) {
    char a[CV_SHAPE_STR_MAX];
    return cv_error_set(err, "needs a bottom with channels (N x C x ...), not %s",
                        cv_shape_str(bottom[0].ndim, bottom[0].size, a, sizeof a));
  }
  cv_shape scalar = {.ndim = 0};
  param[0] = *(const int *)opts ? scalar : shape_of(1, &bottom[0].size[1]);
  *n_param = 1;
  return 0;
}

/* Caffe's default filler for the slopes: constant 0.25. */
static int fill_prelu(const Caffe__LayerParameter *lp, int k, cv_tensor *t,
                      cv_error *err) {
  (void)k;
  if (lp->prelu_param && lp->prelu_param->filler)
    return cv_filler_apply(lp->prelu_param->filler, t, err);
  cv_tensor_fill(t, 0.25f);
  return 0;
}

static int forward_prelu(const void *opts, int n_bottom, cv_tensor **bottom,
                         cv_tensor **param, int n_top, cv_tensor **top,
                         cv_error *err) {
  (void)opts, (void)n_bottom, (void)n_top;
  return (top[0] = cv_nn_prelu(bottom[0], param[0], err)) ? 0 : -1;
}

typedef struct {
  double ratio;
  int train;
} dropout_opts;

static int parse_dropout(const Caffe__LayerParameter *lp, int train,
                         void **opts, cv_error *err) {
  dropout_opts *o = alloc_opts(opts, sizeof *o, err);
  if (!o) return -1;
  o->ratio = lp->dropout_param ? lp->dropout_param->dropout_ratio : 0.5;
  o->train = train;
  if (o->ratio < 0 || o->ratio >= 1)
    return cv_error_set(err, "dropout_ratio %g must be in [0, 1)", o->ratio);
  return 0;
}

static int forward_dropout(const void *opts, int n_bottom, cv_tensor **bottom,
                           cv_tensor **param, int n_top, cv_tensor **top,
                           cv_error *err) {
  const dropout_opts *o = opts;
  (void)n_bottom, (void)param, (void)n_top;
  return (top[0] = cv_nn_dropout(o->ratio, o->train, bottom[0], err)) ? 0 : -1;
}

/* Split: every top is the bottom; the tape sums the gradients. */
static int forward_split(const void *opts, int n_bottom, cv_tensor **bottom,
                         cv_tensor **param, int n_top, cv_tensor **top,
                         cv_error *err) {
  (void)opts, (void)n_bottom, (void)param, (void)err;
  for (int k = 0; k < n_top; k++) top[k] = cv_tensor_retain(bottom[0]);
  return 0;
}

/* ---- Softmax, SoftmaxWithLoss, Accuracy ----------------------------------------- */

static int parse_softmax(const Caffe__LayerParameter *lp, int train,
                         void **opts, cv_error *err) {
  (void)train;
  int *axis = alloc_opts(opts, sizeof *axis, err);
  if (!axis) return -1;
  *axis = lp->softmax_param ? lp->softmax_param->axis : 1;
  return 0;
}

static int forward_softmax(const void *opts, int n_bottom, cv_tensor **bottom,
                           cv_tensor **param, int n_top, cv_tensor **top,
                           cv_error *err) {
  (void)n_bottom, (void)param, (void)n_top;
  int axis = canonical_axis(*(const int *)opts, bottom[0]->ndim, err);
  if (axis < 0) return -1;
  return (top[0] = cv_nn_softmax(axis, bottom[0], err)) ? 0 : -1;
}

static int parse_loss(const Caffe__LayerParameter *lp, int train, void **opts,
                      cv_error *err) {
  (void)train;
  cv_loss_params *p = alloc_opts(opts, sizeof *p, err);
  if (!p) return -1;
  p->axis = lp->softmax_param ? lp->softmax_param->axis : 1;
  p->top_k = 1;
  if (lp->loss_param && lp->loss_param->has_ignore_label) {
    p->has_ignore = 1;
    p->ignore_label = lp->loss_param->ignore_label;
  }
  const Caffe__AccuracyParameter *ap = lp->accuracy_param;
  if (ap) {
    p->axis = ap->axis;
    p->top_k = (int)ap->top_k;
    if (ap->has_ignore_label) {
      p->has_ignore = 1;
      p->ignore_label = ap->ignore_label;
    }
  }
  return 0;
}

static int shape_scalar(const void *opts, int n_bottom, const cv_shape *bottom,
                        int n_top, cv_shape *top, int *n_param, cv_shape *param,
                        cv_error *err) {
  (void)opts, (void)bottom, (void)param;
  if (want_bottoms(n_bottom, 2, 2, err)) return -1;
  for (int k = 0; k < n_top; k++) top[k].ndim = 0;
  *n_param = 0;
  return 0;
}

static int forward_loss(const void *opts, int n_bottom, cv_tensor **bottom,
                        cv_tensor **param, int n_top, cv_tensor **top,
                        cv_error *err) {
  (void)n_bottom, (void)param, (void)n_top;
  cv_loss_params p = *(const cv_loss_params *)opts;
  if ((p.axis = canonical_axis(p.axis, bottom[0]->ndim, err)) < 0) return -1;
  return (top[0] = cv_nn_softmax_loss(&p, bottom[0], bottom[1], err)) ? 0 : -1;
}

static int forward_accuracy(const void *opts, int n_bottom, cv_tensor **bottom,
                            cv_tensor **param, int n_top, cv_tensor **top,
                            cv_error *err) {
  (void)n_bottom, (void)param, (void)n_top;
  cv_loss_params p = *(const cv_loss_params *)opts;
  double acc;
  cv_tensor *c[2] = {cv_tensor_contiguous(bottom[0], err),
                     cv_tensor_contiguous(bottom[1], err)};
  int rc = !c[0] || !c[1] ||
           (p.axis = canonical_axis(p.axis, bottom[0]->ndim, err)) < 0 ||
           cv_accuracy(&p, c[0], c[1], &acc, err);
  cv_tensor_release(c[0]);
  cv_tensor_release(c[1]);
  if (rc) return -1;
  return (top[0] = cv_tensor_scalar((float)acc, err)) ? 0 : -1;
}

/* ---- Concat and Eltwise ------------------------------------------------------ */

static int parse_concat(const Caffe__LayerParameter *lp, int train, void **opts,
                        cv_error *err) {
  (void)train;
  int *axis = alloc_opts(opts, sizeof *axis, err);
  if (!axis) return -1;
  const Caffe__ConcatParameter *q = lp->concat_param;
  *axis = !q ? 1 : q->has_axis || !q->has_concat_dim ? q->axis : (int)q->concat_dim;
  return 0;
}

static int shape_concat(const void *opts, int n_bottom, const cv_shape *bottom,
                        int n_top, cv_shape *top, int *n_param, cv_shape *param,
                        cv_error *err) {
  (void)n_top, (void)param;
  if (want_bottoms(n_bottom, 1, CV_LAYER_MAX_BOTTOMS, err)) return -1;
  int axis = canonical_axis(*(const int *)opts, bottom[0].ndim, err);
  if (axis < 0) return -1;
  top[0] = bottom[0];
  for (int k = 1; k < n_bottom; k++) {
    int ok = bottom[k].ndim == bottom[0].ndim;
    for (int d = 0; ok && d < bottom[0].ndim; d++)
      ok = d == axis || bottom[k].size[d] == bottom[0].size[d];
    if (!ok) {
      char a[CV_SHAPE_STR_MAX], b[CV_SHAPE_STR_MAX];
      return cv_error_set(err, "bottoms %s and %s differ outside axis %d",
                          cv_shape_str(bottom[0].ndim, bottom[0].size, a, sizeof a),
                          cv_shape_str(bottom[k].ndim, bottom[k].size, b, sizeof b),
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
  int axis = canonical_axis(*(const int *)opts, bottom[0]->ndim, err);
  if (axis < 0) return -1;
  return (top[0] = cv_nn_concat(axis, n_bottom, bottom, err)) ? 0 : -1;
}

/* Slice: the bottom cut along an axis at slice_point (or into equal parts),
 * one top per part. */
typedef struct {
  int axis, n_points;
  int64_t points[CV_LAYER_MAX_TOPS];
} slice_opts;

static int parse_slice(const Caffe__LayerParameter *lp, int train, void **opts,
                       cv_error *err) {
  (void)train;
  slice_opts *o = alloc_opts(opts, sizeof *o, err);
  if (!o) return -1;
  const Caffe__SliceParameter *q = lp->slice_param;
  o->axis = 1;
  if (!q) return 0;
  if (q->has_axis && q->has_slice_dim)
    return cv_error_set(err, "slice_param gives both axis and slice_dim; give "
                        "one");
  o->axis = q->has_slice_dim ? (int)q->slice_dim : q->axis;
  if (q->n_slice_point >= CV_LAYER_MAX_TOPS)
    return cv_error_set(err, "has %zu slice points (at most %d)",
                        q->n_slice_point, CV_LAYER_MAX_TOPS - 1);
  o->n_points = (int)q->n_slice_point;
  for (int k = 0; k < o->n_points; k++) o->points[k] = q->slice_point[k];
  return 0;
}

static int slice_lens(const slice_opts *o, int ndim, const int64_t *size,
                      int n_top, int *axis, int64_t *lens, cv_error *err) {
  if ((*axis = canonical_axis(o->axis, ndim, err)) < 0) return -1;
  return cv_slice_sizes(*axis, n_top, o->n_points, o->points, ndim, size, lens,
                        err);
}

static int shape_slice(const void *opts, int n_bottom, const cv_shape *bottom,
                       int n_top, cv_shape *top, int *n_param, cv_shape *param,
                       cv_error *err) {
  (void)param;
  int axis;
  int64_t lens[CV_LAYER_MAX_TOPS];
  if (want_bottoms(n_bottom, 1, 1, err) ||
      slice_lens(opts, bottom[0].ndim, bottom[0].size, n_top, &axis, lens, err))
    return -1;
  for (int k = 0; k < n_top; k++) {
    top[k] = bottom[0];
    top[k].size[axis] = lens[k];
  }
  *n_param = 0;
  return 0;
}

static int forward_slice(const void *opts, int n_bottom, cv_tensor **bottom,
                         cv_tensor **param, int n_top, cv_tensor **top,
                         cv_error *err) {
  (void)n_bottom, (void)param;
  int axis;
  int64_t lens[CV_LAYER_MAX_TOPS];
  if (slice_lens(opts, bottom[0]->ndim, bottom[0]->size, n_top, &axis, lens, err))
    return -1;
  return cv_nn_slice(axis, n_top, lens, bottom[0], top, err);
}

typedef struct {
  cv_eltwise_op op;
  int n_coeff;
  double coeff[CV_LAYER_MAX_BOTTOMS];
} eltwise_opts;

static int parse_eltwise(const Caffe__LayerParameter *lp, int train,
                         void **opts, cv_error *err) {
  (void)train;
  eltwise_opts *o = alloc_opts(opts, sizeof *o, err);
  if (!o) return -1;
  const Caffe__EltwiseParameter *q = lp->eltwise_param;
  o->op = CV_ELTWISE_SUM;
  if (q && q->operation == CAFFE__ELTWISE_PARAMETER__ELTWISE_OP__PROD)
    o->op = CV_ELTWISE_PROD;
  if (q && q->operation == CAFFE__ELTWISE_PARAMETER__ELTWISE_OP__MAX)
    o->op = CV_ELTWISE_MAX;
  if (q && q->n_coeff) {
    if (o->op != CV_ELTWISE_SUM)
      return cv_error_set(err, "coeff is only for the SUM operation");
    if (q->n_coeff != lp->n_bottom)
      return cv_error_set(err, "has %zu coeff for %zu bottoms", q->n_coeff,
                          lp->n_bottom);
    o->n_coeff = (int)q->n_coeff;
    for (size_t k = 0; k < q->n_coeff && k < CV_LAYER_MAX_BOTTOMS; k++)
      o->coeff[k] = q->coeff[k];
  }
  return 0;
}

static int shape_eltwise(const void *opts, int n_bottom, const cv_shape *bottom,
                         int n_top, cv_shape *top, int *n_param, cv_shape *param,
                         cv_error *err) {
  (void)opts;
  if (want_bottoms(n_bottom, 2, CV_LAYER_MAX_BOTTOMS, err)) return -1;
  for (int k = 1; k < n_bottom; k++) {
    int ok = bottom[k].ndim == bottom[0].ndim;
    for (int d = 0; ok && d < bottom[0].ndim; d++)
      ok = bottom[k].size[d] == bottom[0].size[d];
    if (!ok) {
      char a[CV_SHAPE_STR_MAX], b[CV_SHAPE_STR_MAX];
      return cv_error_set(err, "bottoms %s and %s differ",
                          cv_shape_str(bottom[0].ndim, bottom[0].size, a, sizeof a),
                          cv_shape_str(bottom[k].ndim, bottom[k].size, b, sizeof b));
    }
  }
  return shape_same(opts, n_bottom, bottom, n_top, top, n_param, param, err);
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

/* ---- Flatten and Reshape: views of the bottom ---------------------------------- */

typedef struct {
  int flatten; /* else reshape */
  int axis, end_axis, num_axes, n_dims;
  int64_t dims[CV_MAX_DIMS];
} reshape_opts;

static int parse_flatten(const Caffe__LayerParameter *lp, int train,
                         void **opts, cv_error *err) {
  (void)train;
  reshape_opts *o = alloc_opts(opts, sizeof *o, err);
  if (!o) return -1;
  o->flatten = 1;
  o->axis = lp->flatten_param ? lp->flatten_param->axis : 1;
  o->end_axis = lp->flatten_param ? lp->flatten_param->end_axis : -1;
  return 0;
}

static int parse_reshape(const Caffe__LayerParameter *lp, int train,
                         void **opts, cv_error *err) {
  (void)train;
  reshape_opts *o = alloc_opts(opts, sizeof *o, err);
  const Caffe__ReshapeParameter *q = lp->reshape_param;
  if (!o) return -1;
  if (!q || !q->shape) return cv_error_set(err, "has no reshape_param { shape }");
  if (q->shape->n_dim > CV_MAX_DIMS)
    return cv_error_set(err, "reshape_param has %zu dims", q->shape->n_dim);
  o->axis = q->axis;
  o->num_axes = q->num_axes;
  o->n_dims = (int)q->shape->n_dim;
  memcpy(o->dims, q->shape->dim, sizeof(int64_t) * (size_t)o->n_dims);
  return 0;
}

static int reshaped(const reshape_opts *o, int ndim, const int64_t *in,
                    int *out_ndim, int64_t *out, cv_error *err) {
  if (o->flatten)
    return cv_flatten_shape(o->axis, o->end_axis, ndim, in, out_ndim, out, err);
  return cv_reshape_shape(o->axis, o->num_axes, o->n_dims, o->dims, ndim, in,
                          out_ndim, out, err);
}

static int shape_reshape(const void *opts, int n_bottom, const cv_shape *bottom,
                         int n_top, cv_shape *top, int *n_param, cv_shape *param,
                         cv_error *err) {
  (void)n_top, (void)param;
  if (want_bottoms(n_bottom, 1, 1, err)) return -1;
  *n_param = 0;
  return reshaped(opts, bottom[0].ndim, bottom[0].size, &top[0].ndim,
                  top[0].size, err);
}

static int forward_reshape(const void *opts, int n_bottom, cv_tensor **bottom,
                           cv_tensor **param, int n_top, cv_tensor **top,
                           cv_error *err) {
  (void)n_bottom, (void)param, (void)n_top;
  int ndim;
  int64_t out[CV_MAX_DIMS];
  cv_tensor *x = bottom[0];
  if (reshaped(opts, x->ndim, x->size, &ndim, out, err)) return -1;
  top[0] = cv_op_reshape(x, ndim, out, err);
  return top[0] ? 0 : -1;
}

/* ---- BatchNorm and Scale -------------------------------------------------------- */

static int parse_batchnorm(const Caffe__LayerParameter *lp, int train,
                           void **opts, cv_error *err) {
  cv_batchnorm_params *p = alloc_opts(opts, sizeof *p, err);
  if (!p) return -1;
  const Caffe__BatchNormParameter *q = lp->batch_norm_param;
  /* Caffe: global statistics by default in the TEST phase only. */
  p->use_global_stats = q && q->has_use_global_stats ? q->use_global_stats : !train;
  p->eps = q ? q->eps : 1e-5;
  return 0;
}

static int shape_batchnorm(const void *opts, int n_bottom, const cv_shape *bottom,
                           int n_top, cv_shape *top, int *n_param,
                           cv_shape *param, cv_error *err) {
  if (shape_same(opts, n_bottom, bottom, n_top, top, n_param, param, err))
    return -1;
  if (bottom[0].ndim < 2) return cv_error_set(err, "needs an NxC... bottom");
  int64_t one = 1;
  param[0] = shape_of(1, &bottom[0].size[1]);
  param[1] = shape_of(1, &bottom[0].size[1]);
  param[2] = shape_of(1, &one);
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

typedef struct {
  int axis, num_axes, bias_term;
} scale_opts;

static int parse_scale(const Caffe__LayerParameter *lp, int train, void **opts,
                       cv_error *err) {
  (void)train;
  scale_opts *o = alloc_opts(opts, sizeof *o, err);
  if (!o) return -1;
  const Caffe__ScaleParameter *q = lp->scale_param;
  o->axis = q ? q->axis : 1;
  o->num_axes = q ? q->num_axes : 1;
  o->bias_term = q ? q->bias_term : 0;
  if (lp->n_bottom != 1)
    return cv_error_set(err, "a scale from a second bottom is not supported");
  return 0;
}

static int shape_scale(const void *opts, int n_bottom, const cv_shape *bottom,
                       int n_top, cv_shape *top, int *n_param, cv_shape *param,
                       cv_error *err) {
  const scale_opts *o = opts;
  if (shape_same(opts, n_bottom, bottom, n_top, top, n_param, param, err))
    return -1;
  int axis = canonical_axis(o->axis, bottom[0].ndim, err);
  if (axis < 0) return -1;
  int end = o->num_axes < 0 ? bottom[0].ndim : axis + o->num_axes;
  if (axis != 1 || end > bottom[0].ndim)
    return cv_error_set(err, "only a scale over axis 1 (C, or C x H x W) is "
                        "supported");
  param[0] = shape_of(end - axis, bottom[0].size + axis);
  param[1] = param[0];
  *n_param = o->bias_term ? 2 : 1;
  return 0;
}

static int fill_scale(const Caffe__LayerParameter *lp, int k, cv_tensor *t,
                      cv_error *err) {
  const Caffe__ScaleParameter *q = lp->scale_param;
  if (k == 0 && !(q && q->filler)) { /* Caffe's default: constant 1 */
    cv_tensor_fill(t, 1.0f);
    return 0;
  }
  return cv_filler_apply(k == 0 ? q->filler : q ? q->bias_filler : NULL, t, err);
}

static int forward_scale(const void *opts, int n_bottom, cv_tensor **bottom,
                         cv_tensor **param, int n_top, cv_tensor **top,
                         cv_error *err) {
  const scale_opts *o = opts;
  (void)n_bottom, (void)n_top;
  top[0] = cv_nn_scale(bottom[0], param[0], o->bias_term ? param[1] : NULL, err);
  return top[0] ? 0 : -1;
}

/* ReLU on its bottom's own memory, as Caffe runs an in-place layer. */
static int inplace_relu(const void *opts, cv_tensor *x, cv_error *err) {
  return cv_relu_forward(*(const double *)opts, x, x, err);
}

/* ---- the table ------------------------------------------------------------------ */

static const cv_layer_type TYPES[] = {
    {.name = "Input", .parse = parse_input, .shape = shape_input},
    {.name = "Convolution", .parse = parse_conv, .shape = shape_conv,
     .fill = fill_conv, .forward_ws = forward_conv},
    {.name = "Pooling", .parse = parse_pool, .shape = shape_pool,
     .forward = forward_pool},
    {.name = "LRN", .parse = parse_lrn, .shape = shape_same,
     .forward_ws = forward_lrn},
    {.name = "InnerProduct", .parse = parse_ip, .shape = shape_ip,
     .fill = fill_ip, .forward = forward_ip},
    {.name = "ReLU", .parse = parse_relu, .shape = shape_same,
     .forward = forward_relu, .inplace = inplace_relu},
    {.name = "Sigmoid", .parse = parse_none, .shape = shape_same,
     .forward = forward_sigmoid},
    {.name = "TanH", .parse = parse_none, .shape = shape_same,
     .forward = forward_tanh},
    {.name = "PReLU", .parse = parse_prelu, .shape = shape_prelu,
     .fill = fill_prelu, .forward = forward_prelu},
    {.name = "Power", .parse = parse_power, .shape = shape_same,
     .forward = forward_power},
    {.name = "Dropout", .parse = parse_dropout, .shape = shape_same,
     .forward = forward_dropout},
    {.name = "Split", .parse = parse_none, .shape = shape_same,
     .forward = forward_split},
    {.name = "Softmax", .parse = parse_softmax, .shape = shape_same,
     .forward = forward_softmax},
    {.name = "SoftmaxWithLoss", .parse = parse_loss, .shape = shape_scalar,
     .forward = forward_loss},
    {.name = "Accuracy", .parse = parse_loss, .shape = shape_scalar,
     .forward = forward_accuracy},
    {.name = "Concat", .parse = parse_concat, .shape = shape_concat,
     .forward = forward_concat},
    {.name = "Slice", .parse = parse_slice, .shape = shape_slice,
     .forward = forward_slice},
    {.name = "Eltwise", .parse = parse_eltwise, .shape = shape_eltwise,
     .forward = forward_eltwise},
    {.name = "Flatten", .parse = parse_flatten, .shape = shape_reshape,
     .forward = forward_reshape},
    {.name = "Reshape", .parse = parse_reshape, .shape = shape_reshape,
     .forward = forward_reshape},
    {.name = "BatchNorm", .parse = parse_batchnorm, .shape = shape_batchnorm,
     .forward = forward_batchnorm},
    {.name = "Scale", .parse = parse_scale, .shape = shape_scale,
     .fill = fill_scale, .forward = forward_scale},
};

#define N_TYPES ((int)(sizeof TYPES / sizeof TYPES[0]))

const cv_layer_type *cv_layer_type_find(const char *name) {
  for (int i = 0; i < N_TYPES; i++)
    if (strcmp(TYPES[i].name, name) == 0) return &TYPES[i];
  return NULL;
}

void cv_layer_type_names(char *buf, size_t n) {
  size_t used = 0;
  buf[0] = '\0';
  for (int i = 0; i < N_TYPES && used < n; i++)
    used += (size_t)snprintf(buf + used, n - used, i ? ", %s" : "%s",
                             TYPES[i].name);
}
