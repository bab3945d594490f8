/*
 * tensor_grad.h — the tensor ops of tensor/math.h, reduce.h, join.h
 * and blas.h as differentiable ops.
 *
 * Each cv_op_* computes what its cv_tensor_* twin computes and, when grad
 * mode is on and an input requires a gradient, records a tape node whose
 * backward step applies the op's derivative (see autograd.h). The Lua
 * operators and methods call these, so a script builds its own objective:
 *
 *   (out.fc8[{1, 282}] - out.fc8[{1, 283}]):backward()
 *
 * Comparisons, argmax/argmin, sort and topk indices carry no gradient.
 * Ownership and errors as in tensor/math.h.
 */
#ifndef CV_TENSOR_GRAD_H
#define CV_TENSOR_GRAD_H

#include "tensor/blas.h"
#include "tensor/join.h"
#include "tensor/math.h"
#include "tensor/reduce.h"

cv_tensor *cv_op_binary(cv_binary_op op, cv_tensor *a, cv_tensor *b,
                        cv_error *err);
/* a op s, or s op a when reversed. */
cv_tensor *cv_op_binary_scalar(cv_binary_op op, cv_tensor *a, float s,
                               int reversed, cv_error *err);
cv_tensor *cv_op_unary(cv_unary_op op, cv_tensor *a, cv_error *err);
cv_tensor *cv_op_clamp(cv_tensor *a, float lo, float hi, cv_error *err);
cv_tensor *cv_op_where(cv_tensor *cond, cv_tensor *a, cv_tensor *b,
                       cv_error *err);

cv_tensor *cv_op_sum(cv_tensor *a, int dim, int keepdim, cv_error *err);
cv_tensor *cv_op_mean(cv_tensor *a, int dim, int keepdim, cv_error *err);
cv_tensor *cv_op_norm(cv_tensor *a, double p, int dim, int keepdim,
                      cv_error *err);
cv_tensor *cv_op_var(cv_tensor *a, int dim, int keepdim, int unbiased,
                     cv_error *err);
cv_tensor *cv_op_std(cv_tensor *a, int dim, int keepdim, int unbiased,
                     cv_error *err);
/* The gradient goes to the position the indices name. */
cv_tensor *cv_op_max(cv_tensor *a, int dim, int keepdim, cv_tensor **indices,
                     cv_error *err);
cv_tensor *cv_op_min(cv_tensor *a, int dim, int keepdim, cv_tensor **indices,
                     cv_error *err);

cv_tensor *cv_op_cat(int n, cv_tensor *const *ts, int dim, cv_error *err);
cv_tensor *cv_op_stack(int n, cv_tensor *const *ts, int dim, cv_error *err);

cv_tensor *cv_op_matmul(cv_tensor *a, cv_tensor *b, cv_error *err);

/* 0 when t may be changed in place; else an error saying why not (it was
 * computed on the tape, grad mode is on, and a backward may read it). */
int cv_op_check_inplace(const cv_tensor *t, const char *op, cv_error *err);

#endif
