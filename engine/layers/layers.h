/*
 * layers.h — Caffe's layer kernels, forward and backward, on float32 tensors.
 *
 * A tour:
 *
 *   cv_conv_params p = cv_conv_params_default();   // 1x1 kernel, stride 1
 *   p.kernel_h = p.kernel_w = 11; p.stride_h = p.stride_w = 4;
 *   int64_t out[4];
 *   cv_conv2d_shape(&p, x->size, w->size, 0, out, &err);  // checks w too
 *   cv_tensor *y = cv_tensor_empty(4, out, &err);
 *   cv_workspace ws = {0};
 *   cv_conv2d_forward(&p, x, w, b, y, &ws, &err);
 *   ...
 *   cv_workspace_free(&ws);
 *
 * Conventions shared by every kernel:
 * - Tensors are borrowed. Inputs, parameters and outputs must be contiguous
 *   (the Lua binding makes them so); outputs are allocated by the caller with
 *   the shape the layer's _shape function gives, and are overwritten.
 * - Backward: the gradient with respect to the input (dx) is overwritten;
 *   gradients of parameters (dw, db, ...) ACCUMULATE (+=), as Caffe and the
 *   tape expect. Any of them may be NULL when not wanted.
 * - In place (output == input, Caffe's top == bottom) is allowed for ReLU,
 *   Sigmoid, TanH, Power, Dropout, Softmax, BatchNorm and Scale; not for
 *   Convolution, Pooling, LRN or InnerProduct.
 * - Scratch memory comes from a cv_workspace the caller owns and reuses.
 * - Threads: the kernels parallelise with OpenMP over images, planes or
 *   elements, and call OpenBLAS either from one thread with all threads
 *   (batch smaller than the thread count) or with one thread per image,
 *   never both at once.
 * - Positions (axes, channels) are 0-based. Functions return 0 or -1 and fill
 *   err with a sentence naming the layer and the shapes involved.
 */
#ifndef CV_LAYERS_H
#define CV_LAYERS_H

#include <stddef.h>
#include <stdint.h>

#include "tensor/tensor.h"

/* ---- scratch memory ---------------------------------------------------- */

typedef struct {
  float *data;      /* 64-byte aligned; owned */
  size_t capacity;  /* in floats */
} cv_workspace;

/* At least n floats of scratch (contents undefined), growing when needed;
 * NULL on allocation failure. Valid until the next reserve or free. */
float *cv_workspace_reserve(cv_workspace *ws, size_t n, cv_error *err);
void cv_workspace_free(cv_workspace *ws);  /* safe to call twice */

/* ---- threads ------------------------------------------------------------
 * One pool: the same count drives OpenMP (the engine's loops) and OpenBLAS.
 * The default is every core. */
void cv_threads_set(int n);
int cv_threads_get(void);

/* ---- Convolution --------------------------------------------------------
 * x: N x C x H x W, w: M x (C/group) x kh x kw, b: M (or NULL), y: N x M x OH x OW
 * with OH = (H + 2 pad_h - (dilation_h (kh - 1) + 1)) / stride_h + 1. */
/* How the products are formed: AUTO picks Winograd's F(2x2, 3x3) or
 * F(2x2, 5x5) (winograd.h) where it is faster, else im2col + GEMM; the
 * others force one (WINOGRAD only for 3x3 or 5x5, stride 1, no dilation,
 * equal pads below the kernel size). The two round differently, within
 * float32's error of the same sums. */
typedef enum { CV_CONV_AUTO, CV_CONV_IM2COL, CV_CONV_WINOGRAD } cv_conv_algorithm;

/* What AUTO means for every convolution from now on (the net's too): AUTO
 * (the engine's choice), IM2COL, or WINOGRAD wherever it fits. Returns the
 * previous setting. */
cv_conv_algorithm cv_conv_set_default_algorithm(cv_conv_algorithm a);
cv_conv_algorithm cv_conv_default_algorithm(void);

typedef struct {
  int kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w;
  int dilation_h, dilation_w, group;
  cv_conv_algorithm algorithm;
} cv_conv_params;

cv_conv_params cv_conv_params_default(void);
/* in_nchw: x's sizes; w_size: w's 4 sizes (NULL: only M = out_c is known). */
int cv_conv2d_shape(const cv_conv_params *p, const int64_t *in_nchw,
                    const int64_t *w_size, int64_t out_c, int64_t *out_nchw,
                    cv_error *err);
int cv_conv2d_forward(const cv_conv_params *p, const cv_tensor *x,
                      const cv_tensor *w, const cv_tensor *b, cv_tensor *y,
                      cv_workspace *ws, cv_error *err);
/* dx (overwritten), dw, db (accumulated) may each be NULL. */
int cv_conv2d_backward(const cv_conv_params *p, const cv_tensor *x,
                       const cv_tensor *w, const cv_tensor *dy, cv_tensor *dx,
                       cv_tensor *dw, cv_tensor *db, cv_workspace *ws,
                       cv_error *err);

/* Per-image filter gradient norms: norms (N x M) receives, for each image
 * n and output channel m, the L2 norm of d(sum dy_n * y_n)/d w[m] over the
 * filter's weights (bias apart), without an N-fold weight gradient. */
int cv_conv2d_filter_grad_norms(const cv_conv_params *p, const cv_tensor *x,
                                const cv_tensor *w, const cv_tensor *dy,
                                cv_tensor *norms, cv_workspace *ws,
                                cv_error *err);

/* ---- Pooling ------------------------------------------------------------
 * Caffe's output size: OH = ceil((H + 2 pad - k) / stride) + 1, minus one
 * when pad > 0 and the last window would start in the bottom padding
 * ((OH - 1) stride >= H + pad). MAX ignores the padding; AVE divides by the
 * window clipped to the padded input. Without pad and with stride > kernel a
 * last window can lie beyond the input: it gives -FLT_MAX (MAX) or 0 (AVE),
 * as in Caffe. With global, the kernel is the whole H x W (pad 0, stride 1). */
typedef enum { CV_POOL_MAX, CV_POOL_AVE } cv_pool_method;

typedef struct {
  cv_pool_method method;
  int kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w;
  int global;
} cv_pool_params;

cv_pool_params cv_pool_params_default(void);
int cv_pool2d_shape(const cv_pool_params *p, const int64_t *in_nchw,
                    int64_t *out_nchw, cv_error *err);
int cv_pool2d_forward(const cv_pool_params *p, const cv_tensor *x, cv_tensor *y,
                      cv_error *err);
/* MAX routes each output's gradient to the first maximum of its window in
 * scan order (Caffe's argmax), recomputed from x. */
int cv_pool2d_backward(const cv_pool_params *p, const cv_tensor *x,
                       const cv_tensor *dy, cv_tensor *dx, cv_error *err);
/* The same forward writing down, for MAX, each output's argmax (the offset
 * in its H x W plane of the first maximum, -1 for an empty window; one per
 * output element), and the backward that routes dy by it: no window is
 * scanned twice. cv_pool2d_argmax_fits tells whether p and x allow it. */
int cv_pool2d_argmax_fits(const cv_pool_params *p, const cv_tensor *x);
int cv_pool2d_forward_argmax(const cv_pool_params *p, const cv_tensor *x,
                             cv_tensor *y, int32_t *argmax, cv_error *err);
int cv_pool2d_backward_argmax(const cv_pool_params *p, const int32_t *argmax,
                              const cv_tensor *dy, cv_tensor *dx,
                              cv_error *err);

/* ---- LRN ----------------------------------------------------------------
 * ACROSS: scale = k + alpha/size * sum of x^2 over `size` channels centred on
 *   c (zeros beyond the edges); y = x * scale^-beta.
 * WITHIN: scale = 1 + alpha/(size*size) * sum of x^2 over the size x size
 *   window centred on (h, w), zeros beyond the edges (Caffe builds it from
 *   AVE pooling with pad (size-1)/2, and fixes the shift at 1: k is unused).
 * size must be odd, as in Caffe. x and y: N x C x H x W. */
typedef enum { CV_LRN_ACROSS, CV_LRN_WITHIN } cv_lrn_region;

typedef struct {
  cv_lrn_region region;
  int size;
  double alpha, beta, k;
} cv_lrn_params;

cv_lrn_params cv_lrn_params_default(void);  /* across, 5, 1, 0.75, 1 */
int cv_lrn_forward(const cv_lrn_params *p, const cv_tensor *x, cv_tensor *y,
                   cv_workspace *ws, cv_error *err);
int cv_lrn_backward(const cv_lrn_params *p, const cv_tensor *x,
                    const cv_tensor *dy, cv_tensor *dx, cv_workspace *ws,
                    cv_error *err);

/* ---- InnerProduct -------------------------------------------------------
 * x is M x K once its dims from `axis` on are flattened; w is N x K (K x N
 * when transpose); b has N elements; y: x's sizes before axis, then N. */
typedef struct {
  int axis;
  int transpose;
} cv_linear_params;

int cv_linear_shape(const cv_linear_params *p, const cv_tensor *x,
                    const cv_tensor *w, int *out_ndim, int64_t *out_size,
                    cv_error *err);
int cv_linear_forward(const cv_linear_params *p, const cv_tensor *x,
                      const cv_tensor *w, const cv_tensor *b, cv_tensor *y,
                      cv_error *err);
int cv_linear_backward(const cv_linear_params *p, const cv_tensor *x,
                       const cv_tensor *w, const cv_tensor *dy, cv_tensor *dx,
                       cv_tensor *dw, cv_tensor *db, cv_error *err);
/* The same, but dw and db are overwritten (they need not be initialised):
 * a first gradient is written once instead of zeroed and then added to. */
int cv_linear_backward_set(const cv_linear_params *p, const cv_tensor *x,
                           const cv_tensor *w, const cv_tensor *dy,
                           cv_tensor *dx, cv_tensor *dw, cv_tensor *db,
                           cv_error *err);

/* The same per row of x (M x N): |dy_ij| * ||x_i|| (outer-product norm). */
int cv_linear_filter_grad_norms(const cv_linear_params *p, const cv_tensor *x,
                                const cv_tensor *w, const cv_tensor *dy,
                                cv_tensor *norms, cv_error *err);

/* ---- element-wise activations (x, y, dy, dx all of one shape) ----------
 * ReLU: y = x > 0 ? x : slope * x. Sigmoid, TanH. Power: y = (shift + scale
 * x)^power. y may be x (in place) in forward; backward of sigmoid and tanh
 * reads y, the others read x. */
int cv_relu_forward(double slope, const cv_tensor *x, cv_tensor *y,
                    cv_error *err);
int cv_relu_backward(double slope, const cv_tensor *x, const cv_tensor *dy,
                     cv_tensor *dx, cv_error *err);
int cv_sigmoid_forward(const cv_tensor *x, cv_tensor *y, cv_error *err);
int cv_sigmoid_backward(const cv_tensor *y, const cv_tensor *dy, cv_tensor *dx,
                        cv_error *err);
int cv_tanh_forward(const cv_tensor *x, cv_tensor *y, cv_error *err);
int cv_tanh_backward(const cv_tensor *y, const cv_tensor *dy, cv_tensor *dx,
                     cv_error *err);

typedef struct {
  double power, scale, shift;
} cv_power_params;

int cv_power_forward(const cv_power_params *p, const cv_tensor *x, cv_tensor *y,
                     cv_error *err);
int cv_power_backward(const cv_power_params *p, const cv_tensor *x,
                      const cv_tensor *dy, cv_tensor *dx, cv_error *err);

/* ---- Dropout ------------------------------------------------------------
 * At test time y = x. At train time each unit is kept with probability
 * 1 - ratio (engine RNG) and kept units are scaled by 1/(1 - ratio); mask
 * (x's shape) receives that factor or 0 per unit and drives backward. */
int cv_dropout_forward(double ratio, int train, const cv_tensor *x,
                       cv_tensor *y, cv_tensor *mask, cv_error *err);
int cv_dropout_backward(const cv_tensor *mask, const cv_tensor *dy,
                        cv_tensor *dx, cv_error *err);

/* ---- Softmax, SoftmaxWithLoss, Accuracy -------------------------------- */

/* Softmax along axis (max subtracted first). */
int cv_softmax_forward(int axis, const cv_tensor *x, cv_tensor *y,
                       cv_error *err);
int cv_softmax_backward(int axis, const cv_tensor *y, const cv_tensor *dy,
                        cv_tensor *dx, cv_error *err);

/* Labels hold 0-based classes as floats, one per x position outside axis
 * (N, or N x H x W for axis 1 of N x C x H x W). has_ignore: labels equal
 * to ignore_label add nothing and do not count. */
/* What the summed loss is divided by (Caffe's LossParameter.normalization):
 * VALID the counted samples, FULL every sample, BATCH the outer size (N),
 * NONE nothing; never by less than 1. */
typedef enum {
  CV_LOSS_VALID, CV_LOSS_FULL, CV_LOSS_BATCH, CV_LOSS_NONE
} cv_loss_norm;

typedef struct {
  int axis;
  int has_ignore;
  int ignore_label;
  int top_k;             /* accuracy only */
  cv_loss_norm norm;     /* softmax loss only; VALID is Caffe's default */
} cv_loss_params;

/* Sum over counted samples of -log p[label] (p floored at FLT_MIN), divided
 * as p->norm says. prob (x's shape) receives the softmax. */
int cv_softmax_loss_forward(const cv_loss_params *p, const cv_tensor *x,
                            const cv_tensor *labels, cv_tensor *prob,
                            double *loss, cv_error *err);
/* dx = dloss * (prob - onehot(label)) / normaliser; 0 at ignored samples. */
int cv_softmax_loss_backward(const cv_loss_params *p, const cv_tensor *prob,
                             const cv_tensor *labels, double dloss,
                             cv_tensor *dx, cv_error *err);
/* Fraction of counted samples whose label is among the top_k scores; ties
 * count against the label, as in Caffe. */
int cv_accuracy(const cv_loss_params *p, const cv_tensor *x,
                const cv_tensor *labels, double *accuracy, cv_error *err);

/* ---- Concat, Eltwise, Split ------------------------------------------- */

int cv_concat_shape(int axis, int count, const cv_tensor *const *xs,
                    int64_t *out_size, cv_error *err);
int cv_concat_forward(int axis, int count, const cv_tensor *const *xs,
                      cv_tensor *y, cv_error *err);
/* dxs[i] (all present) receive the slices of dy. */
int cv_concat_backward(int axis, int count, const cv_tensor *dy,
                       cv_tensor *const *dxs, cv_error *err);

typedef enum { CV_ELTWISE_PROD, CV_ELTWISE_SUM, CV_ELTWISE_MAX } cv_eltwise_op;

/* coeffs: one per input for SUM (NULL: all 1). */
int cv_eltwise_forward(cv_eltwise_op op, const double *coeffs, int count,
                       const cv_tensor *const *xs, cv_tensor *y, cv_error *err);
/* dxs[i] may be NULL to skip. MAX routes to the first input holding the
 * maximum; PROD uses the product of the other inputs (Caffe's default
 * stable_prod_grad). */
int cv_eltwise_backward(cv_eltwise_op op, const double *coeffs, int count,
                        const cv_tensor *const *xs, const cv_tensor *dy,
                        cv_tensor *const *dxs, cv_error *err);

/* Split's backward: dx = sum of dys. */
int cv_split_backward(int count, const cv_tensor *const *dys, cv_tensor *dx,
                      cv_error *err);

/* ---- Flatten and Reshape: shapes only (the data is a view) ------------- */

/* Dims axis..end_axis (negative counts from the end) become one. */
int cv_flatten_shape(int axis, int end_axis, int ndim, const int64_t *in,
                     int *out_ndim, int64_t *out, cv_error *err);
/* Caffe's ReshapeParameter: dims [axis, axis+num_axes) (num_axes -1: to the
 * end) are replaced by `shape`, where 0 copies the input dim and one -1 is
 * inferred. */
int cv_reshape_shape(int axis, int num_axes, int shape_ndim,
                     const int64_t *shape, int ndim, const int64_t *in,
                     int *out_ndim, int64_t *out, cv_error *err);

/* ---- BatchNorm and Scale ------------------------------------------------
 * BatchNorm over axis 1 (N x C x ...): with global stats,
 * y = (x - mean/s) / sqrt(var/s + eps) where s is Caffe's scale-factor blob
 * (1 element; s == 0 gives factor 0). Without, the batch's mean and biased
 * variance are used (written to save_mean / save_var, C each). */
typedef struct {
  int use_global_stats;
  double eps;
} cv_batchnorm_params;

int cv_batchnorm_forward(const cv_batchnorm_params *p, const cv_tensor *x,
                         const cv_tensor *mean, const cv_tensor *var,
                         const cv_tensor *factor, cv_tensor *y,
                         cv_tensor *save_mean, cv_tensor *save_var,
                         cv_error *err);
/* y is the forward output; save_var what forward wrote (or the global var
 * as forward used it). */
int cv_batchnorm_backward(const cv_batchnorm_params *p, const cv_tensor *y,
                          const cv_tensor *save_var, const cv_tensor *dy,
                          cv_tensor *dx, cv_error *err);

/* Caffe's training-time update of the stored statistics from a batch's
 * (save_mean, save_var as forward wrote them, over m values per channel):
 * mean = batch mean + maf * mean, var = m/(m-1) * batch var + maf * var,
 * factor = maf * factor + 1, maf being moving_average_fraction. */
int cv_batchnorm_update(double maf, int64_t m, const cv_tensor *save_mean,
                        const cv_tensor *save_var, cv_tensor *mean,
                        cv_tensor *var, cv_tensor *factor, cv_error *err);

/* Scale: y = x * gamma (+ beta), gamma and beta with x's sizes from axis 1
 * over as many dims as gamma has (C, or C x H x W). */
int cv_scale_forward(const cv_tensor *x, const cv_tensor *gamma,
                     const cv_tensor *beta, cv_tensor *y, cv_error *err);
int cv_scale_backward(const cv_tensor *x, const cv_tensor *gamma,
                      const cv_tensor *dy, cv_tensor *dx, cv_tensor *dgamma,
                      cv_tensor *dbeta, cv_error *err);

#endif
