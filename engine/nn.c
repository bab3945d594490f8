/* nn.c — layer kernels wrapped as ops on the tape: forward allocates and
 * records, backward calls the kernel's backward and passes the gradients. */
#include "nn.h"

#include <stdlib.h>
#include <string.h>

#include "autograd.h"

#define MAX_OPERANDS CV_NODE_MAX_INPUTS

/* ---- plumbing shared by every op --------------------------------------- */

/* Scratch for the backward steps (im2col columns, LRN scales), kept across
 * backwards on each thread: tens of MB of fresh memory every backward cost
 * a page fault per 4 KB. cv_nn_free_scratch gives it back. */
static _Thread_local cv_workspace backward_ws;

void cv_nn_free_scratch(void) { cv_workspace_free(&backward_ws); }

size_t cv_nn_scratch_bytes(void) { return backward_ws.capacity * sizeof(float); }

/* Contiguous versions of ts (NULL entries stay NULL). All or nothing. */
static int contiguous_all(int n, cv_tensor *const *ts, cv_tensor **out,
                          cv_error *err) {
  for (int i = 0; i < n; i++) {
    out[i] = ts[i] ? cv_tensor_contiguous(ts[i], err) : NULL;
    if (ts[i] && !out[i]) {
      while (i-- > 0) cv_tensor_release(out[i]);
      return -1;
    }
  }
  return 0;
}

static void release_all(int n, cv_tensor **ts) {
  for (int i = 0; i < n; i++) cv_tensor_release(ts[i]);
}

/* A zeroed gradient buffer shaped like `like` when input i wants one. */
static int grad_for(cv_node *node, int i, const cv_tensor *like,
                    cv_tensor **g, cv_error *err) {
  *g = NULL;
  if (!cv_autograd_wants(node, i) || !like) return 0;
  *g = cv_tensor_zeros_like(like, err);
  return *g ? 0 : -1;
}

/* An uninitialised gradient buffer shaped like `like` when input i wants
 * one: for kernels that overwrite it (every
 * kernel's dx, layers.h). */
static int grad_empty_for(cv_node *node, int i, const cv_tensor *like,
                          cv_tensor **g, cv_error *err) {
  *g = NULL;
  if (!cv_autograd_wants(node, i) || !like) return 0;
  *g = cv_tensor_empty_like(like, err);
  return *g ? 0 : -1;
}

/* Input i's existing gradient when it is a leaf's .grad that the kernel may
 * add into directly (borrowed), else NULL. */
static cv_tensor *leaf_grad(cv_node *node, int i) {
  cv_tensor *in = i < node->n_inputs ? node->inputs[i] : NULL;
  if (!in || in->node || !in->requires_grad || !in->grad) return NULL;
  cv_tensor *g = in->grad;
  return cv_tensor_same_shape(g, in) && cv_tensor_is_contiguous(g) ? g : NULL;
}

/* Passes the computed gradients (NULL ones skipped) and releases them. */
static int pass_all(cv_node *node, int n, cv_tensor **g, int rc,
                    cv_error *err) {
  for (int i = 0; i < n; i++) {
    if (rc == 0 && g[i]) rc = cv_autograd_pass(node, i, g[i], err);
    cv_tensor_release(g[i]);
  }
  return rc;
}

/* The output's gradient as a contiguous tensor. */
static cv_tensor *grad_in(cv_tensor *dy, cv_error *err) {
  return cv_tensor_contiguous(dy, err);
}

/* ---- Convolution -------------------------------------------------------- */

static int conv2d_backward(cv_node *node, cv_tensor *dy, cv_error *err) {
  const cv_conv_params *p = node->ctx;
  cv_tensor *x = node->saved[0], *w = node->saved[1], *g[3] = {0};
  int has_bias = node->n_inputs > 2;
  cv_tensor *d = grad_in(dy, err);
  if (!d) return -1;
  /* dw, db accumulate: straight into the parameters' .grad when both have one */
  cv_tensor *dw = leaf_grad(node, 1), *db = has_bias ? leaf_grad(node, 2) : NULL;
  int add = dw && (db || !has_bias);
  int rc = grad_empty_for(node, 0, x, &g[0], err) ||
           (!add && (grad_for(node, 1, w, &g[1], err) ||
                     (has_bias && grad_for(node, 2, node->inputs[2], &g[2], err))));
  if (!rc) rc = cv_conv2d_backward(p, x, w, d, g[0], add ? dw : g[1],
                                   add ? db : g[2], &backward_ws, err);
  cv_tensor_release(d);
  return pass_all(node, node->n_inputs, g, rc, err);
}

/* "input A and weight B must both be 4-d" when they are not. */
static int check_4d(const char *op, const cv_tensor *x, const cv_tensor *w,
                    cv_error *err) {
  if (x->ndim == 4 && (!w || w->ndim == 4)) return 0;
  char a[CV_SHAPE_STR_MAX], s[CV_SHAPE_STR_MAX];
  cv_shape_str(x->ndim, x->size, a, sizeof a);
  if (!w) return cv_error_set(err, "%s: input %s must be 4-d (NxCxHxW)", op, a);
  return cv_error_set(err, "%s: input %s and weight %s must both be 4-d", op,
                      a, cv_shape_str(w->ndim, w->size, s, sizeof s));
}

cv_tensor *cv_nn_conv2d(const cv_conv_params *p, cv_tensor *x, cv_tensor *w,
                        cv_tensor *b, cv_workspace *ws, cv_error *err) {
  cv_tensor *in[3] = {x, w, b}, *c[3], *y = NULL;
  if (check_4d("conv2d", x, w, err) || contiguous_all(3, in, c, err))
    return NULL;
  cv_workspace own = {0};
  int64_t out[4];
  if (!cv_conv2d_shape(p, x->size, w->size, w->size[0], out, err) &&
      (y = cv_tensor_empty(4, out, err)) &&
      cv_conv2d_forward(p, c[0], c[1], c[2], y, ws ? ws : &own, err)) {
    cv_tensor_release(y);
    y = NULL;
  }
  cv_workspace_free(&own);
  y = cv_autograd_record_op(y, "conv2d", b ? 3 : 2, in, conv2d_backward, p,
                            sizeof *p, 2, c, err);
  release_all(3, c);
  return y;
}

/* ---- Pooling ------------------------------------------------------------ */

/* For MAX pooling the node also saves each output's argmax (layers.h), so
 * that the backward need not scan the windows again. The int32 offsets live
 * in a tensor of the output's shape (4-byte elements, never read as floats):
 * its memory comes and goes with the tensors' own. */
static int32_t *argmax_data(cv_tensor *t) {
  return t ? (int32_t *)(void *)cv_tensor_data(t) : NULL;
}

static int pool2d_backward(cv_node *node, cv_tensor *dy, cv_error *err) {
  cv_tensor *x = node->saved[0], *argmax = node->saved[1], *g[1] = {NULL};
  cv_tensor *d = grad_in(dy, err);
  if (!d) return -1;
  int rc = grad_empty_for(node, 0, x, &g[0], err);
  if (!rc && g[0])
    rc = argmax ? cv_pool2d_backward_argmax(node->ctx, argmax_data(argmax), d,
                                            g[0], err)
                : cv_pool2d_backward(node->ctx, x, d, g[0], err);
  cv_tensor_release(d);
  return pass_all(node, 1, g, rc, err);
}

cv_tensor *cv_nn_pool2d(const cv_pool_params *p, cv_tensor *x, cv_error *err) {
  cv_tensor *c, *y = NULL, *argmax = NULL;
  if (check_4d("pool2d", x, NULL, err) || contiguous_all(1, &x, &c, err))
    return NULL;
  int64_t out[4];
  int keep = cv_autograd_any(1, &x) && cv_pool2d_argmax_fits(p, c);
  if (!cv_pool2d_shape(p, x->size, out, err) &&
      (y = cv_tensor_empty(4, out, err)) &&
      ((keep && !(argmax = cv_tensor_empty(4, out, err))) ||
       cv_pool2d_forward_argmax(p, c, y, argmax_data(argmax), err))) {
    cv_tensor_release(y);
    y = NULL;
  }
  cv_tensor *saved[2] = {c, argmax};
  y = cv_autograd_record_op(y, "pool2d", 1, &x, pool2d_backward, p, sizeof *p,
                            2, saved, err);
  cv_tensor_release(argmax);
  cv_tensor_release(c);
  return y;
}

/* ---- LRN ----------------------------------------------------------------- */

static int lrn_backward(cv_node *node, cv_tensor *dy, cv_error *err) {
  cv_tensor *x = node->saved[0], *g[1] = {NULL}, *d = grad_in(dy, err);
  if (!d) return -1;
  int rc = grad_empty_for(node, 0, x, &g[0], err);
  if (!rc && g[0]) rc = cv_lrn_backward(node->ctx, x, d, g[0], &backward_ws, err);
  cv_tensor_release(d);
  return pass_all(node, 1, g, rc, err);
}

cv_tensor *cv_nn_lrn(const cv_lrn_params *p, cv_tensor *x, cv_workspace *ws,
                     cv_error *err) {
  cv_tensor *c;
  if (contiguous_all(1, &x, &c, err)) return NULL;
  cv_workspace own = {0};
  cv_tensor *y = cv_tensor_empty_like(x, err);
  if (y && cv_lrn_forward(p, c, y, ws ? ws : &own, err)) {
    cv_tensor_release(y);
    y = NULL;
  }
  cv_workspace_free(&own);
  y = cv_autograd_record_op(y, "lrn", 1, &x, lrn_backward, p, sizeof *p, 1, &c,
                            err);
  cv_tensor_release(c);
  return y;
}

/* ---- InnerProduct ------------------------------------------------------- */

/* The weight and bias gradients go straight into the parameters' .grad when
 * they have one (+=), else into fresh buffers written once and passed: no
 * zero fill, no copy of fc6's 151 MB. */
static int linear_backward(cv_node *node, cv_tensor *dy, cv_error *err) {
  cv_tensor *x = node->saved[0], *w = node->saved[1];
  cv_tensor *g[3] = {NULL, NULL, NULL}, *d = grad_in(dy, err);
  if (!d) return -1;
  int has_bias = node->n_inputs > 2;
  cv_tensor *dw = leaf_grad(node, 1), *db = has_bias ? leaf_grad(node, 2) : NULL;
  int add = dw && (db || !has_bias);  /* both accumulate, or neither */
  int rc = grad_empty_for(node, 0, x, &g[0], err);  /* dx is overwritten */
  if (!rc && add) {
    rc = cv_linear_backward(node->ctx, x, w, d, g[0], dw, db, err);
  } else if (!rc) {
    rc = grad_empty_for(node, 1, w, &g[1], err) ||
         (has_bias && grad_empty_for(node, 2, node->inputs[2], &g[2], err));
    if (!rc) rc = cv_linear_backward_set(node->ctx, x, w, d, g[0], g[1], g[2], err);
  }
  cv_tensor_release(d);
  return pass_all(node, node->n_inputs, g, rc, err);
}

cv_tensor *cv_nn_linear(const cv_linear_params *p, cv_tensor *x, cv_tensor *w,
                        cv_tensor *b, cv_error *err) {
  cv_tensor *in[3] = {x, w, b}, *c[3];
  if (contiguous_all(3, in, c, err)) return NULL;
  int ndim;
  int64_t out[CV_MAX_DIMS];
  cv_tensor *y = NULL;
  if (!cv_linear_shape(p, c[0], c[1], &ndim, out, err) &&
      (y = cv_tensor_empty(ndim, out, err)) &&
      cv_linear_forward(p, c[0], c[1], c[2], y, err)) {
    cv_tensor_release(y);
    y = NULL;
  }
  y = cv_autograd_record_op(y, "linear", b ? 3 : 2, in, linear_backward, p,
                            sizeof *p, 2, c, err);
  release_all(3, c);
  return y;
}

/* ---- element-wise --------------------------------------------------------
 * ReLU and Power read x in backward; Sigmoid and TanH read y. */

typedef enum { ACT_RELU, ACT_SIGMOID, ACT_TANH, ACT_POWER } act_kind;

typedef struct {
  act_kind kind;
  double slope;
  cv_power_params power;
} act_ctx;

static int act_backward(cv_node *node, cv_tensor *dy, cv_error *err) {
  const act_ctx *a = node->ctx;
  cv_tensor *s = node->saved[0], *g[1] = {NULL}, *d = grad_in(dy, err);
  if (!d) return -1;
  int rc = grad_empty_for(node, 0, s, &g[0], err);
  if (!rc && g[0]) {
    switch (a->kind) {
    case ACT_RELU: rc = cv_relu_backward(a->slope, s, d, g[0], err); break;
    case ACT_SIGMOID: rc = cv_sigmoid_backward(s, d, g[0], err); break;
    case ACT_TANH: rc = cv_tanh_backward(s, d, g[0], err); break;
    case ACT_POWER: rc = cv_power_backward(&a->power, s, d, g[0], err); break;
    }
  }
  cv_tensor_release(d);
  return pass_all(node, 1, g, rc, err);
}

static cv_tensor *activation(const act_ctx *a, const char *op, cv_tensor *x,
                             cv_error *err) {
  cv_tensor *c;
  if (contiguous_all(1, &x, &c, err)) return NULL;
  cv_tensor *y = cv_tensor_empty_like(x, err);
  int rc = y ? 0 : -1;
  switch (a->kind) {
  case ACT_RELU: rc = rc || cv_relu_forward(a->slope, c, y, err); break;
  case ACT_SIGMOID: rc = rc || cv_sigmoid_forward(c, y, err); break;
  case ACT_TANH: rc = rc || cv_tanh_forward(c, y, err); break;
  case ACT_POWER: rc = rc || cv_power_forward(&a->power, c, y, err); break;
  }
  cv_tensor *saved = NULL;
  if (!rc) saved = a->kind == ACT_SIGMOID || a->kind == ACT_TANH
                       ? cv_tensor_alias(y, err) : cv_tensor_retain(c);
  if (rc || !saved) {
    cv_tensor_release(y);
    y = NULL;
  }
  y = cv_autograd_record_op(y, op, 1, &x, act_backward, a, sizeof *a, 1, &saved,
                            err);
  cv_tensor_release(saved);
  cv_tensor_release(c);
  return y;
}

cv_tensor *cv_nn_relu(double slope, cv_tensor *x, cv_error *err) {
  act_ctx a = {.kind = ACT_RELU, .slope = slope};
  return activation(&a, "relu", x, err);
}

cv_tensor *cv_nn_sigmoid(cv_tensor *x, cv_error *err) {
  act_ctx a = {.kind = ACT_SIGMOID};
  return activation(&a, "sigmoid", x, err);
}

cv_tensor *cv_nn_tanh(cv_tensor *x, cv_error *err) {
  act_ctx a = {.kind = ACT_TANH};
  return activation(&a, "tanh", x, err);
}

cv_tensor *cv_nn_power(const cv_power_params *p, cv_tensor *x, cv_error *err) {
  act_ctx a = {.kind = ACT_POWER, .power = *p};
  return activation(&a, "power", x, err);
}

/* ---- Dropout ------------------------------------------------------------- */

static int dropout_backward(cv_node *node, cv_tensor *dy, cv_error *err) {
  cv_tensor *mask = node->saved[0], *g[1] = {NULL}, *d = grad_in(dy, err);
  if (!d) return -1;
  int rc = grad_empty_for(node, 0, mask, &g[0], err);
  if (!rc && g[0]) rc = cv_dropout_backward(mask, d, g[0], err);
  cv_tensor_release(d);
  return pass_all(node, 1, g, rc, err);
}

cv_tensor *cv_nn_dropout(double ratio, int train, cv_tensor *x, cv_error *err) {
  if (!train) return cv_tensor_retain(x);
  cv_tensor *c;
  if (contiguous_all(1, &x, &c, err)) return NULL;
  cv_tensor *y = cv_tensor_empty_like(x, err), *mask = cv_tensor_empty_like(x, err);
  if (!y || !mask || cv_dropout_forward(ratio, 1, c, y, mask, err)) {
    cv_tensor_release(y);
    y = NULL;
  }
  y = cv_autograd_record_op(y, "dropout", 1, &x, dropout_backward, NULL, 0, 1,
                            &mask, err);
  cv_tensor_release(mask);
  cv_tensor_release(c);
  return y;
}

/* ---- Softmax and its loss ------------------------------------------------ */

static int softmax_backward(cv_node *node, cv_tensor *dy, cv_error *err) {
  cv_tensor *y = node->saved[0], *g[1] = {NULL}, *d = grad_in(dy, err);
  if (!d) return -1;
  int rc = grad_empty_for(node, 0, y, &g[0], err);
  if (!rc && g[0]) rc = cv_softmax_backward(*(int *)node->ctx, y, d, g[0], err);
  cv_tensor_release(d);
  return pass_all(node, 1, g, rc, err);
}

cv_tensor *cv_nn_softmax(int axis, cv_tensor *x, cv_error *err) {
  cv_tensor *c;
  if (contiguous_all(1, &x, &c, err)) return NULL;
  cv_tensor *y = cv_tensor_empty_like(x, err), *saved = NULL;
  if (y && (cv_softmax_forward(axis, c, y, err) || !(saved = cv_tensor_alias(y, err)))) {
    cv_tensor_release(y);
    y = NULL;
  }
  y = cv_autograd_record_op(y, "softmax", 1, &x, softmax_backward, &axis,
                            sizeof axis, 1, &saved, err);
  cv_tensor_release(saved);
  cv_tensor_release(c);
  return y;
}

static int softmax_loss_backward(cv_node *node, cv_tensor *dy, cv_error *err) {
  cv_tensor *prob = node->saved[0], *labels = node->saved[1], *g[2] = {0};
  int64_t zero[CV_MAX_DIMS] = {0};
  double dloss = *cv_tensor_at(dy, zero);
  int rc = grad_for(node, 0, prob, &g[0], err);
  if (!rc && g[0])
    rc = cv_softmax_loss_backward(node->ctx, prob, labels, dloss, g[0], err);
  return pass_all(node, 1, g, rc, err);
}

cv_tensor *cv_nn_softmax_loss(const cv_loss_params *p, cv_tensor *x,
                              cv_tensor *labels, cv_error *err) {
  cv_tensor *in[2] = {x, labels}, *c[2];
  if (contiguous_all(2, in, c, err)) return NULL;
  double loss = 0;
  cv_tensor *prob = cv_tensor_empty_like(x, err), *y = NULL;
  if (prob && !cv_softmax_loss_forward(p, c[0], c[1], prob, &loss, err))
    y = cv_tensor_scalar((float)loss, err);
  cv_tensor *saved[2] = {prob, c[1]};
  y = cv_autograd_record_op(y, "softmax_loss", 1, in, softmax_loss_backward, p,
                            sizeof *p, 2, saved, err);
  cv_tensor_release(prob);
  release_all(2, c);
  return y;
}

/* ---- Concat and Eltwise -------------------------------------------------- */

static int concat_backward(cv_node *node, cv_tensor *dy, cv_error *err) {
  cv_tensor *g[MAX_OPERANDS] = {0}, *d = grad_in(dy, err);
  if (!d) return -1;
  int rc = 0;
  for (int i = 0; i < node->n_inputs && !rc; i++)
    if (!(g[i] = cv_tensor_zeros_like(node->inputs[i], err))) rc = -1;
  if (!rc) rc = cv_concat_backward(*(int *)node->ctx, node->n_inputs, d, g, err);
  cv_tensor_release(d);
  return pass_all(node, node->n_inputs, g, rc, err);
}

static int check_count(const char *op, int count, cv_error *err) {
  if (count < 1 || count > MAX_OPERANDS)
    return cv_error_set(err, "%s: takes 1 to %d inputs, not %d", op,
                        MAX_OPERANDS, count);
  return 0;
}

cv_tensor *cv_nn_concat(int axis, int count, cv_tensor *const *xs,
                        cv_error *err) {
  cv_tensor *c[MAX_OPERANDS];
  if (check_count("concat", count, err) || contiguous_all(count, xs, c, err))
    return NULL;
  int64_t out[CV_MAX_DIMS];
  cv_tensor *y = NULL;
  if (!cv_concat_shape(axis, count, (const cv_tensor *const *)c, out, err) &&
      (y = cv_tensor_empty(c[0]->ndim, out, err)) &&
      cv_concat_forward(axis, count, (const cv_tensor *const *)c, y, err)) {
    cv_tensor_release(y);
    y = NULL;
  }
  y = cv_autograd_record_op(y, "concat", count, xs, concat_backward, &axis,
                            sizeof axis, 0, NULL, err);
  release_all(count, c);
  return y;
}

typedef struct {
  cv_eltwise_op op;
  double coeffs[MAX_OPERANDS];
  int has_coeffs;
} eltwise_ctx;

static int eltwise_backward(cv_node *node, cv_tensor *dy, cv_error *err) {
  const eltwise_ctx *e = node->ctx;
  int n = node->n_inputs;
  cv_tensor *g[MAX_OPERANDS] = {0}, *d = grad_in(dy, err);
  if (!d) return -1;
  int rc = 0;
  for (int i = 0; i < n && !rc; i++) rc = grad_for(node, i, d, &g[i], err);
  if (!rc)
    rc = cv_eltwise_backward(e->op, e->has_coeffs ? e->coeffs : NULL, n,
                             (const cv_tensor *const *)node->saved, d, g, err);
  cv_tensor_release(d);
  return pass_all(node, n, g, rc, err);
}

cv_tensor *cv_nn_eltwise(cv_eltwise_op op, const double *coeffs, int count,
                         cv_tensor *const *xs, cv_error *err) {
  cv_tensor *c[MAX_OPERANDS];
  if (check_count("eltwise", count, err) || contiguous_all(count, xs, c, err))
    return NULL;
  eltwise_ctx e = {.op = op, .has_coeffs = coeffs != NULL};
  for (int i = 0; coeffs && i < count; i++) e.coeffs[i] = coeffs[i];
  cv_tensor *y = cv_tensor_empty_like(c[0], err);
  if (y && cv_eltwise_forward(op, coeffs, count, (const cv_tensor *const *)c,
                              y, err)) {
    cv_tensor_release(y);
    y = NULL;
  }
  y = cv_autograd_record_op(y, "eltwise", count, xs, eltwise_backward, &e,
                            sizeof e, count, c, err);
  release_all(count, c);
  return y;
}

/* ---- BatchNorm and Scale ------------------------------------------------- */

static int batchnorm_backward(cv_node *node, cv_tensor *dy, cv_error *err) {
  cv_tensor *y = node->saved[0], *var = node->saved[1], *g[4] = {0};
  cv_tensor *d = grad_in(dy, err);
  if (!d) return -1;
  int rc = grad_for(node, 0, y, &g[0], err);
  if (!rc && g[0]) rc = cv_batchnorm_backward(node->ctx, y, var, d, g[0], err);
  cv_tensor_release(d);
  return pass_all(node, 1, g, rc, err);
}

cv_tensor *cv_nn_batchnorm(const cv_batchnorm_params *p, cv_tensor *x,
                           cv_tensor *mean, cv_tensor *var, cv_tensor *factor,
                           cv_error *err) {
  cv_tensor *in[4] = {x, mean, var, factor}, *c[4];
  if (x->ndim < 2) {
    cv_error_set(err, "batchnorm: input must have channels (axis 2)");
    return NULL;
  }
  if (contiguous_all(4, in, c, err)) return NULL;
  cv_tensor *y = cv_tensor_empty_like(x, err);
  cv_tensor *m = cv_tensor_empty(1, &x->size[1], err);
  cv_tensor *v = cv_tensor_empty(1, &x->size[1], err);
  cv_tensor *saved[2] = {NULL, v};
  if (!y || !m || !v ||
      cv_batchnorm_forward(p, c[0], c[1], c[2], c[3], y, m, v, err) ||
      !(saved[0] = cv_tensor_alias(y, err))) {
    cv_tensor_release(y);
    y = NULL;
  }
  y = cv_autograd_record_op(y, "batchnorm", 1, in, batchnorm_backward, p,
                            sizeof *p, 2, saved, err);
  cv_tensor_release(saved[0]);
  cv_tensor_release(m);
  cv_tensor_release(v);
  release_all(4, c);
  return y;
}

static int scale_backward(cv_node *node, cv_tensor *dy, cv_error *err) {
  cv_tensor *x = node->saved[0], *gamma = node->saved[1], *g[3] = {0};
  cv_tensor *d = grad_in(dy, err);
  if (!d) return -1;
  int rc = grad_for(node, 0, x, &g[0], err) ||
           grad_for(node, 1, gamma, &g[1], err) ||
           (node->n_inputs > 2 && grad_for(node, 2, node->inputs[2], &g[2], err));
  if (!rc) rc = cv_scale_backward(x, gamma, d, g[0], g[1], g[2], err);
  cv_tensor_release(d);
  return pass_all(node, node->n_inputs, g, rc, err);
}

cv_tensor *cv_nn_scale(cv_tensor *x, cv_tensor *gamma, cv_tensor *beta,
                       cv_error *err) {
  cv_tensor *in[3] = {x, gamma, beta}, *c[3];
  if (contiguous_all(3, in, c, err)) return NULL;
  cv_tensor *y = cv_tensor_empty_like(x, err);
  if (y && cv_scale_forward(c[0], c[1], c[2], y, err)) {
    cv_tensor_release(y);
    y = NULL;
  }
  y = cv_autograd_record_op(y, "scale", beta ? 3 : 2, in, scale_backward, NULL,
                            0, 2, c, err);
  release_all(3, c);
  return y;
}

/* ---- PReLU --------------------------------------------------------------- */

static int prelu_backward(cv_node *node, cv_tensor *dy, cv_error *err) {
  cv_tensor *x = node->saved[0], *slope = node->saved[1], *g[2] = {0};
  cv_tensor *d = grad_in(dy, err);
  if (!d) return -1;
  int rc = grad_empty_for(node, 0, x, &g[0], err) ||
           grad_for(node, 1, slope, &g[1], err);
  if (!rc) rc = cv_prelu_backward(x, slope, d, g[0], g[1], err);
  cv_tensor_release(d);
  return pass_all(node, 2, g, rc, err);
}

cv_tensor *cv_nn_prelu(cv_tensor *x, cv_tensor *slope, cv_error *err) {
  cv_tensor *in[2] = {x, slope}, *c[2];
  if (contiguous_all(2, in, c, err)) return NULL;
  cv_tensor *y = cv_tensor_empty_like(x, err);
  if (y && cv_prelu_forward(c[0], c[1], y, err)) {
    cv_tensor_release(y);
    y = NULL;
  }
  y = cv_autograd_record_op(y, "prelu", 2, in, prelu_backward, NULL, 0, 2, c,
                            err);
  release_all(2, c);
  return y;
}

/* ---- Slice: one node per top, each passing its share of x's gradient ----- */

typedef struct {
  int axis;
  int64_t start;
} slice_ctx;

static int slice_backward(cv_node *node, cv_tensor *dy, cv_error *err) {
  const slice_ctx *s = node->ctx;
  cv_tensor *x = node->inputs[0], *g[1] = {NULL};
  int rc = grad_for(node, 0, x, &g[0], err);
  if (!rc && g[0]) {
    cv_tensor *part = cv_tensor_narrow(g[0], s->axis, s->start,
                                       dy->size[s->axis], err);
    rc = !part || cv_tensor_copy(part, dy, err) ? -1 : 0;
    cv_tensor_release(part);
  }
  return pass_all(node, 1, g, rc, err);
}

int cv_nn_slice(int axis, int count, const int64_t *lens, cv_tensor *x,
                cv_tensor **ys, cv_error *err) {
  cv_tensor *c;
  for (int k = 0; k < count; k++) ys[k] = NULL;
  if (axis < 0 || axis >= x->ndim)
    return cv_error_set(err, "slice: axis %d is out of range for a %d-d input",
                        axis, x->ndim);
  if (contiguous_all(1, &x, &c, err)) return -1;
  int rc = 0;
  for (int k = 0; k < count && !rc; k++) {
    int64_t size[CV_MAX_DIMS];
    memcpy(size, x->size, sizeof(int64_t) * (size_t)x->ndim);
    size[axis] = lens[k];
    if (!(ys[k] = cv_tensor_empty(x->ndim, size, err))) rc = -1;
  }
  if (!rc) rc = cv_slice_forward(axis, count, c, ys, err);
  slice_ctx s = {.axis = axis, .start = 0};
  for (int k = 0; k < count && !rc; k++) {
    if (!(ys[k] = cv_autograd_record_op(ys[k], "slice", 1, &x, slice_backward,
                                        &s, sizeof s, 0, NULL, err)))
      rc = -1;
    s.start += lens[k];
  }
  cv_tensor_release(c);
  if (rc)
    for (int k = 0; k < count; k++) {
      cv_tensor_release(ys[k]);
      ys[k] = NULL;
    }
  return rc;
}

/* ---- per-sample filter norms -------------------------------------------- */

cv_tensor *cv_nn_filter_grad_norms(const cv_node *node, const cv_tensor *dy,
                                   cv_error *err) {
  int conv = node->backward == conv2d_backward;
  if (!conv && node->backward != linear_backward) {
    cv_error_set(err, "per-sample norms: a %s node is neither conv2d nor "
                 "linear", node->op);
    return NULL;
  }
  cv_tensor *x = node->saved[0], *w = node->saved[1];
  if (!x || !w) {
    cv_error_set(err, "per-sample norms: the %s node no longer holds its "
                 "input (run backward with {retain = true})", node->op);
    return NULL;
  }
  int64_t size[2] = {x->size[0], w->size[0]};
  if (!conv && ((const cv_linear_params *)node->ctx)->transpose)
    size[1] = w->size[1];
  cv_tensor *norms = cv_tensor_empty(2, size, err), *g = NULL;
  if (norms && (g = cv_tensor_contiguous((cv_tensor *)dy, err))) {
    cv_workspace ws = {0};
    int rc = conv ? cv_conv2d_filter_grad_norms(node->ctx, x, w, g, norms, &ws,
                                                err)
                  : cv_linear_filter_grad_norms(node->ctx, x, w, g, norms, err);
    cv_workspace_free(&ws);
    if (rc) {
      cv_tensor_release(norms);
      norms = NULL;
    }
  }
  cv_tensor_release(g);
  return norms;
}
