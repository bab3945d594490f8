/*
 * ops.h — arithmetic, reductions, joins and matrix products.
 *
 * A tour:
 *
 *   cv_error err;
 *   cv_tensor *c = cv_tensor_add(a, b, &err);        // a + b, broadcast
 *   cv_tensor *m = cv_tensor_matmul(a, w, &err);     // OpenBLAS sgemm
 *   cv_tensor *s = cv_tensor_sum(c, 1, 0, &err);     // along dim 1 (0-based)
 *   cv_tensor_binary_(CV_OP_MUL, c, m, &err);        // c *= m, in place
 *
 * Ownership: every function returning a cv_tensor* returns a NEW reference
 * (release it); tensor arguments are borrowed. The `_out` variants write into
 * a caller-owned tensor of the right shape and allocate nothing; in-place
 * functions (names ending in `_`) change their first argument.
 *
 * Every op is a pure function of its inputs, one function per op, so that an
 * autograd tape can wrap each call as one node. Dims and indices are 0-based;
 * index tensors hold 0-based positions as floats (the binding adds 1).
 * Broadcasting follows PyTorch. Functions that can fail return NULL or -1 and
 * fill `err` with a sentence naming the shapes or dimension involved.
 */
#ifndef CV_TENSOR_OPS_H
#define CV_TENSOR_OPS_H

#include "tensor.h"

/* ---- element-wise (math.c) ------------------------------------- */

typedef enum {
  CV_OP_ADD, CV_OP_SUB, CV_OP_MUL, CV_OP_DIV, CV_OP_POW,
  CV_OP_LT, CV_OP_LE, CV_OP_GT, CV_OP_GE, CV_OP_EQ, CV_OP_NE, /* 0/1 results */
  CV_OP_BINARY_COUNT
} cv_binary_op;

typedef enum {
  CV_OP_NEG, CV_OP_EXP, CV_OP_LOG, CV_OP_SQRT, CV_OP_ABS,
  CV_OP_RELU, CV_OP_SIGMOID, CV_OP_TANH,
  CV_OP_UNARY_COUNT
} cv_unary_op;

/* The op's name as the Lua API spells it ("add", "lt", "sigmoid"). */
const char *cv_binary_op_name(cv_binary_op op);
const char *cv_unary_op_name(cv_unary_op op);

/* out = a op b, broadcast. Shapes that do not broadcast name both. */
cv_tensor *cv_tensor_binary(cv_binary_op op, const cv_tensor *a,
                            const cv_tensor *b, cv_error *err);
/* Same into out, whose shape must be the broadcast shape. out may be a or b
 * themselves, but not a different view overlapping them. */
int cv_tensor_binary_out(cv_binary_op op, cv_tensor *out, const cv_tensor *a,
                         const cv_tensor *b, cv_error *err);
/* self = self op b, b broadcast into self's shape. */
int cv_tensor_binary_(cv_binary_op op, cv_tensor *self, const cv_tensor *b,
                      cv_error *err);
/* A number as the other operand, without making a 0-d tensor; with
 * `reversed` the number is the left operand (2 - t). */
cv_tensor *cv_tensor_binary_scalar(cv_binary_op op, const cv_tensor *a,
                                   float s, int reversed, cv_error *err);
int cv_tensor_binary_scalar_(cv_binary_op op, cv_tensor *self, float s,
                             cv_error *err);

cv_tensor *cv_tensor_add(const cv_tensor *a, const cv_tensor *b, cv_error *err);
cv_tensor *cv_tensor_sub(const cv_tensor *a, const cv_tensor *b, cv_error *err);
cv_tensor *cv_tensor_mul(const cv_tensor *a, const cv_tensor *b, cv_error *err);
cv_tensor *cv_tensor_div(const cv_tensor *a, const cv_tensor *b, cv_error *err);
cv_tensor *cv_tensor_pow(const cv_tensor *a, const cv_tensor *b, cv_error *err);

cv_tensor *cv_tensor_unary(cv_unary_op op, const cv_tensor *a, cv_error *err);
/* In place; an expanded self (stride 0 over several elements) is refused. */
int cv_tensor_unary_(cv_unary_op op, cv_tensor *self, cv_error *err);

/* Limits may be -INFINITY / INFINITY for "none"; NaN stays NaN. */
cv_tensor *cv_tensor_clamp(const cv_tensor *a, float lo, float hi,
                           cv_error *err);
int cv_tensor_clamp_(cv_tensor *self, float lo, float hi, cv_error *err);

/* cond != 0 ? a : b, all three broadcast together. */
cv_tensor *cv_tensor_where(const cv_tensor *cond, const cv_tensor *a,
                           const cv_tensor *b, cv_error *err);

/* |a - b| <= atol + rtol * |b| everywhere (broadcast); NaN is never close.
 * Returns 1 or 0, or -1 when the shapes do not broadcast. */
int cv_tensor_allclose(const cv_tensor *a, const cv_tensor *b, double rtol,
                       double atol, cv_error *err);

/* Seconds from a monotonic clock (CLOCK_MONOTONIC). */
double cv_clock(void);

/* ---- reductions (reduce.c) --------------------------------------
 * dim < 0 reduces over every element into a 0-d tensor (keepdim ignored);
 * otherwise along dim, keeping it as size 1 when keepdim. Sums accumulate
 * in double. */

cv_tensor *cv_tensor_sum(const cv_tensor *a, int dim, int keepdim,
                         cv_error *err);
cv_tensor *cv_tensor_mean(const cv_tensor *a, int dim, int keepdim,
                          cv_error *err);
/* p is 1, 2 or INFINITY. */
cv_tensor *cv_tensor_norm(const cv_tensor *a, double p, int dim, int keepdim,
                          cv_error *err);
/* Bessel's correction (n - 1) when unbiased, as PyTorch does by default. */
cv_tensor *cv_tensor_var(const cv_tensor *a, int dim, int keepdim,
                         int unbiased, cv_error *err);
cv_tensor *cv_tensor_std(const cv_tensor *a, int dim, int keepdim,
                         int unbiased, cv_error *err);
/* Largest / smallest values and their 0-based positions along dim (the
 * first one on ties; NaN counts as the largest and the smallest, as in
 * PyTorch). indices may be NULL. With dim < 0: the flat position. */
cv_tensor *cv_tensor_max(const cv_tensor *a, int dim, int keepdim,
                         cv_tensor **indices, cv_error *err);
cv_tensor *cv_tensor_min(const cv_tensor *a, int dim, int keepdim,
                         cv_tensor **indices, cv_error *err);
cv_tensor *cv_tensor_argmax(const cv_tensor *a, int dim, int keepdim,
                            cv_error *err);
cv_tensor *cv_tensor_argmin(const cv_tensor *a, int dim, int keepdim,
                            cv_error *err);
/* Stable sort along dim: values and 0-based source positions (both new
 * references). NaN sorts above every number, as in PyTorch. */
int cv_tensor_sort(const cv_tensor *a, int dim, int descending,
                   cv_tensor **values, cv_tensor **indices, cv_error *err);
/* The k largest (or smallest) along dim, in sorted order. */
int cv_tensor_topk(const cv_tensor *a, int64_t k, int dim, int largest,
                   cv_tensor **values, cv_tensor **indices, cv_error *err);

/* ---- joins (join.c) --------------------------------------------- */

/* Tensors of equal shape except along dim, end to end. */
cv_tensor *cv_tensor_cat(int n, cv_tensor *const *ts, int dim, cv_error *err);
/* Tensors of equal shape along a new dimension dim (0..ndim). */
cv_tensor *cv_tensor_stack(int n, cv_tensor *const *ts, int dim,
                           cv_error *err);

/* ---- matrix products (blas.c) -----------------------------------
 * PyTorch's matmul rules: 1-d x 1-d is a dot product (0-d result), a 1-d
 * operand is a row/column vector that is dropped from the result, 2-d x 2-d
 * a plain product, and 3-d operands are batches (a batch of 1 or a 2-d
 * operand is shared by every batch). Strided operands are used in place when
 * BLAS can read them (row- or column-major with unit stride), else copied. */

cv_tensor *cv_tensor_matmul(const cv_tensor *a, const cv_tensor *b,
                            cv_error *err);
/* Same into out, which must be contiguous and of the result's shape; no
 * allocation when a and b are BLAS-readable. */
int cv_tensor_matmul_out(cv_tensor *out, const cv_tensor *a,
                         const cv_tensor *b, cv_error *err);

#endif
