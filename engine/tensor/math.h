/*
 * math.h — element-wise arithmetic, comparisons, where, allclose.
 *
 * A tour:
 *
 *   cv_error err;
 *   cv_tensor *c = cv_tensor_add(a, b, &err);        // a + b, broadcast
 *   cv_tensor *m = cv_tensor_binary_scalar(CV_OP_MUL, c, 2, 0, &err);
 *   cv_tensor_binary_(CV_OP_MUL, c, m, &err);        // c *= m, in place
 *
 * The other op families follow the same rules: reduce.h (sums, norms,
 * extremes, sort), join.h (cat, stack), blas.h (matmul).
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
#ifndef CV_TENSOR_MATH_H
#define CV_TENSOR_MATH_H

#include "tensor.h"

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

#endif
