/*
 * autograd.h — the reverse-mode tape.
 *
 * Each differentiable op, after computing `out` from its inputs, calls
 * cv_autograd_record(). When grad mode is on and an input requires a gradient,
 * that hangs a node on `out`: the op's inputs, the tensors it saved, and its
 * backward step (which lives in the op's own file). Nodes carry a sequence
 * number, so the tape is already in order: backward collects the nodes that
 * lead to the output and walks them from the newest to the oldest — no
 * recursion. Leaves that require a gradient receive it in t->grad, which
 * accumulates (+=) until zeroed.
 *
 *   cv_tensor *y = cv_tensor_unary(CV_OP_EXP, x, err);   // tensor_grad.c
 *   cv_autograd_record(y, "exp", 1, &x, unary_backward, ctx, err);
 *   ...
 *   cv_autograd_backward(loss, NULL, 0, err);   // x->grad now holds d loss / d x
 */
#ifndef CV_AUTOGRAD_H
#define CV_AUTOGRAD_H

#include "tensor/tensor.h"

#define CV_NODE_MAX_INPUTS 4
#define CV_NODE_MAX_SAVED 4

typedef struct cv_node cv_node;

/* Given the gradient of the node's output, adds each input's gradient with
 * cv_autograd_pass(). Inputs that need no gradient may be skipped
 * (cv_autograd_wants). Returns 0 or -1 with err filled. */
typedef int (*cv_backward_fn)(cv_node *node, cv_tensor *grad_out,
                              cv_error *err);

struct cv_node {
  int refcount;
  uint64_t seq;                              /* creation order */
  const char *op;                            /* for messages: "conv2d" */
  int n_inputs;
  cv_tensor *inputs[CV_NODE_MAX_INPUTS];     /* owned references */
  cv_tensor *saved[CV_NODE_MAX_SAVED];       /* owned; the op's own use */
  uint64_t input_version[CV_NODE_MAX_INPUTS]; /* storage versions when kept: */
  uint64_t saved_version[CV_NODE_MAX_SAVED];  /* backward refuses changed ones */
  cv_backward_fn backward;
  void *ctx;                                 /* op parameters, freed with free() */
  int out_ndim;                              /* the output's shape, for checks */
  int64_t out_size[CV_MAX_DIMS];
  cv_tensor *grad;                           /* during backward only */
  int freed;                                 /* inputs released after backward */
  uint64_t visit;                            /* marks a walk of backward */
  int keep_grad;                             /* keep the output's gradient */
  cv_tensor *kept_grad;                      /* ... here, after backward */
};

/* Grad mode (one setting for the process, on by default; the engine is driven
 * from one thread). Returns the previous mode. */
int cv_autograd_set_enabled(int on);
int cv_autograd_enabled(void);

/* True when grad mode is on and one of the tensors requires a gradient
 * (is a leaf with requires_grad, or was produced by a recorded op). */
int cv_autograd_any(int n, cv_tensor *const *ts);
int cv_tensor_requires_grad(const cv_tensor *t);

/* Hangs a node on out when cv_autograd_any(inputs). ctx (may be NULL) is
 * taken over and freed with the node, also on failure. Returns 0 or -1. */
int cv_autograd_record(cv_tensor *out, const char *op, int n_inputs,
                       cv_tensor *const *inputs, cv_backward_fn backward,
                       void *ctx, cv_error *err);
/* Keeps t (retained) in out's node as saved[i]; a no-op without a node. */
void cv_autograd_save(cv_tensor *out, int i, cv_tensor *t);
/* How an op records itself (nn.c, tensor_grad.c): when cv_autograd_any(inputs),
 * hangs a node on out with a malloc'd copy of the ctx_size bytes at ctx (no
 * ctx when NULL) and keeps saved[0..n_saved-1] in it; out itself among them
 * is kept through an alias, so that out and its node do not hold each other.
 * Returns out; a NULL out passes through; on failure out is released and the
 * result is NULL. */
cv_tensor *cv_autograd_record_op(cv_tensor *out, const char *op, int n_inputs,
                                 cv_tensor *const *inputs,
                                 cv_backward_fn backward, const void *ctx,
                                 size_t ctx_size, int n_saved,
                                 cv_tensor *const *saved, cv_error *err);

/* In a backward step: does input i need a gradient? */
int cv_autograd_wants(const cv_node *node, int i);
/* In a backward step: adds g (borrowed) to the gradient of input i,
 * summing over broadcast dims when g is larger than the input. */
int cv_autograd_pass(cv_node *node, int i, cv_tensor *g, cv_error *err);

/* d out / d every leaf. grad_out NULL means 1 and needs a one-element out.
 * retain != 0 keeps the graph for another backward. */
int cv_autograd_backward(cv_tensor *out, cv_tensor *grad_out, int retain,
                         cv_error *err);

/* t's gradient from now on is zeroed / dropped. */
void cv_tensor_zero_grad(cv_tensor *t);

/* A node reference held by a tensor: dropped with the tensor. */
void cv_node_release(cv_node *node);

/* grad summed down to the given shape (the reverse of broadcasting). */
cv_tensor *cv_tensor_sum_to(const cv_tensor *grad, int ndim,
                            const int64_t *size, cv_error *err);

#endif
