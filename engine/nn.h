/*
 * nn.h — the layer kernels as differentiable ops.
 *
 * Each function allocates its output, runs the kernel of layers/ on
 * contiguous copies of its inputs where needed, and records a tape node whose
 * backward step calls the kernel's backward (see autograd.h). It is what the
 * net's layers and the Lua functions cv.nn.* call.
 *
 *   cv_tensor *y = cv_nn_conv2d(&p, x, w, b, ws, &err);  // new reference
 *
 * Inputs are borrowed; outputs are new references. ws (may be NULL: a
 * temporary one is used) is scratch memory the caller reuses across calls.
 */
#ifndef CV_NN_H
#define CV_NN_H

#include "autograd.h"
#include "layers/layers.h"

cv_tensor *cv_nn_conv2d(const cv_conv_params *p, cv_tensor *x, cv_tensor *w,
                        cv_tensor *b, cv_workspace *ws, cv_error *err);
cv_tensor *cv_nn_pool2d(const cv_pool_params *p, cv_tensor *x, cv_error *err);
cv_tensor *cv_nn_lrn(const cv_lrn_params *p, cv_tensor *x, cv_workspace *ws,
                     cv_error *err);
cv_tensor *cv_nn_linear(const cv_linear_params *p, cv_tensor *x, cv_tensor *w,
                        cv_tensor *b, cv_error *err);
cv_tensor *cv_nn_relu(double slope, cv_tensor *x, cv_error *err);
cv_tensor *cv_nn_sigmoid(cv_tensor *x, cv_error *err);
cv_tensor *cv_nn_tanh(cv_tensor *x, cv_error *err);
cv_tensor *cv_nn_power(const cv_power_params *p, cv_tensor *x, cv_error *err);
/* At test time (train == 0) y is x itself (retained). */
cv_tensor *cv_nn_dropout(double ratio, int train, cv_tensor *x, cv_error *err);
/* slope: one element (shared) or one per channel (dim 2 of x). */
cv_tensor *cv_nn_prelu(cv_tensor *x, cv_tensor *slope, cv_error *err);
cv_tensor *cv_nn_softmax(int axis, cv_tensor *x, cv_error *err);
/* A 0-d tensor: the mean loss. labels get no gradient. */
cv_tensor *cv_nn_softmax_loss(const cv_loss_params *p, cv_tensor *x,
                              cv_tensor *labels, cv_error *err);
cv_tensor *cv_nn_concat(int axis, int count, cv_tensor *const *xs,
                        cv_error *err);
/* x cut along axis into count parts of the sizes lens gives
 * (cv_slice_sizes): ys receive new references, each its own tape node.
 * Returns 0, or -1 with every ys[k] NULL. */
int cv_nn_slice(int axis, int count, const int64_t *lens, cv_tensor *x,
                cv_tensor **ys, cv_error *err);
cv_tensor *cv_nn_eltwise(cv_eltwise_op op, const double *coeffs, int count,
                         cv_tensor *const *xs, cv_error *err);
/* With the global statistics mean/factor and var/factor, or (when
 * !p->use_global_stats) the batch's own; mean, var and factor get no
 * gradient (Caffe does not learn them by gradient either). */
cv_tensor *cv_nn_batchnorm(const cv_batchnorm_params *p, cv_tensor *x,
                           cv_tensor *mean, cv_tensor *var, cv_tensor *factor,
                           cv_error *err);
cv_tensor *cv_nn_scale(cv_tensor *x, cv_tensor *gamma, cv_tensor *beta,
                       cv_error *err);

/* Per-sample filter-gradient norms of a node recorded by cv_nn_conv2d or
 * cv_nn_linear, from the input and weights it saved and dy, the gradient of
 * its output: a new N x filters tensor (layers.h's *_filter_grad_norms).
 * The node must still hold what it saved (a backward with retain). */
cv_tensor *cv_nn_filter_grad_norms(const cv_node *node, const cv_tensor *dy,
                                   cv_error *err);

/* Gives back the scratch memory the backward steps keep between calls. */
void cv_nn_free_scratch(void);
size_t cv_nn_scratch_bytes(void); /* held on this thread */

#endif
