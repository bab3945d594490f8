/*
 * sgd.h — Caffe's SGD update of one parameter blob.
 *
 *   cv_sgd_update(w, history, w->grad, local_lr, momentum, local_decay, &err);
 *
 * With local_lr = rate * lr_mult and local_decay = weight_decay * decay_mult,
 * as Caffe's SGDSolver (L2 regularization):
 *   history = momentum * history + local_lr * (grad + local_decay * w)
 *   w      -= history
 * grad may be NULL (a blob that received no gradient counts as zeros).
 */
#ifndef CV_SGD_H
#define CV_SGD_H

#include "tensor/tensor.h"

/* All tensors borrowed, contiguous and of one shape; w and history are
 * updated in place. */
int cv_sgd_update(cv_tensor *w, cv_tensor *history, const cv_tensor *grad,
                  double local_lr, double momentum, double local_decay,
                  cv_error *err);

#endif
