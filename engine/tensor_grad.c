/* tensor_grad.c — derivatives of the tensor ops, and the cv_op_* entry
 * points that record them on the tape. */
#include "tensor_grad.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "autograd.h"

/* What a node needs to know about its op besides inputs and saved tensors. */
typedef struct {
  int op;           /* cv_binary_op / cv_unary_op */
  float s, lo, hi;  /* scalar operand, clamp limits */
  int reversed;     /* s op a */
  int dim, keepdim, unbiased;
  double p;         /* norm */
  int64_t lengths[CV_NODE_MAX_INPUTS]; /* cat: each input's size along dim */
} op_ctx;

/* ---- temporaries of a backward step ---------------------------------------
 * Every intermediate goes through K(); after the first failure the rest are
 * skipped, and all are released at the end. */

typedef struct {
  cv_tensor *t[16];
  int n, failed;
} scratch;

static cv_tensor *keep(scratch *s, cv_tensor *t) {
  if (!t || s->n == 16) {
    s->failed = 1;
    cv_tensor_release(t);
    return NULL;
  }
  return s->t[s->n++] = t;
}

#define K(expr) keep(&s, s.failed ? NULL : (expr))

static int finish(scratch *s, int rc) {
  for (int i = 0; i < s->n; i++) cv_tensor_release(s->t[i]);
  return s->failed ? -1 : rc;
}

static int pass(scratch *s, cv_node *node, int i, cv_tensor *g,
                cv_error *err) {
  if (s->failed || !g || !cv_autograd_wants(node, i)) return 0;
  if (cv_autograd_pass(node, i, g, err)) s->failed = 1;
  return 0;
}

/* ---- changes in place --------------------------------------------------- */

/* Leaves (inputs, parameters) may change in place: scripts set and prune
 * weights. A tensor computed on the tape may not: a backward step may need
 * its values. */
int cv_op_check_inplace(const cv_tensor *t, const char *op, cv_error *err) {
  if (cv_autograd_enabled() && t->node && !t->node->freed)
    return cv_error_set(err, "%s: a tensor computed on the tape (by %s) cannot "
                        "be changed in place while grad mode is on (use "
                        "cv.no_grad, detach(), or an out-of-place op)", op,
                        t->node->op);
  return 0;
}

/* ---- element-wise ---------------------------------------------------------- */

static int binary_backward(cv_node *node, cv_tensor *g, cv_error *err) {
  const op_ctx *c = node->ctx;
  cv_tensor *a = node->inputs[0], *b = node->inputs[1], *out = node->saved[0];
  scratch s = {0};
  switch (c->op) {
  case CV_OP_ADD:
    pass(&s, node, 0, g, err);
    pass(&s, node, 1, g, err);
    break;
  case CV_OP_SUB:
    pass(&s, node, 0, g, err);
    pass(&s, node, 1, K(cv_tensor_unary(CV_OP_NEG, g, err)), err);
    break;
  case CV_OP_MUL:
    pass(&s, node, 0, K(cv_tensor_mul(g, b, err)), err);
    pass(&s, node, 1, K(cv_tensor_mul(g, a, err)), err);
    break;
  case CV_OP_DIV: /* d/db a/b = -out/b */
    pass(&s, node, 0, K(cv_tensor_div(g, b, err)), err);
    if (cv_autograd_wants(node, 1)) {
      cv_tensor *t = K(cv_tensor_mul(g, out, err));
      t = K(cv_tensor_div(t, b, err));
      pass(&s, node, 1, K(cv_tensor_unary(CV_OP_NEG, t, err)), err);
    }
    break;
  case CV_OP_POW: /* d/da a^b = b a^(b-1); d/db = out log a */
    if (cv_autograd_wants(node, 0)) {
      cv_tensor *e = K(cv_tensor_binary_scalar(CV_OP_SUB, b, 1.0f, 0, err));
      cv_tensor *t = K(cv_tensor_pow(a, e, err));
      t = K(cv_tensor_mul(t, b, err));
      pass(&s, node, 0, K(cv_tensor_mul(g, t, err)), err);
    }
    if (cv_autograd_wants(node, 1)) {
      cv_tensor *t = K(cv_tensor_unary(CV_OP_LOG, a, err));
      t = K(cv_tensor_mul(t, out, err));
      pass(&s, node, 1, K(cv_tensor_mul(g, t, err)), err);
    }
    break;
  default:
    break;
  }
  return finish(&s, 0);
}

static int differentiable(cv_binary_op op) {
  return op == CV_OP_ADD || op == CV_OP_SUB || op == CV_OP_MUL ||
         op == CV_OP_DIV || op == CV_OP_POW;
}

cv_tensor *cv_op_binary(cv_binary_op op, cv_tensor *a, cv_tensor *b,
                        cv_error *err) {
  cv_tensor *y = cv_tensor_binary(op, a, b, err);
  if (!differentiable(op)) return y;
  op_ctx c = {.op = op};
  cv_tensor *in[2] = {a, b};
  return cv_autograd_record_op(y, cv_binary_op_name(op), 2, in, binary_backward,
                               &c, sizeof c, 1, &y, err);
}

static int scalar_backward(cv_node *node, cv_tensor *g, cv_error *err) {
  const op_ctx *c = node->ctx;
  cv_tensor *a = node->inputs[0], *out = node->saved[0];
  scratch s = {0};
  cv_tensor *t = NULL;
  switch (c->op) {
  case CV_OP_ADD: t = g; break;
  case CV_OP_SUB: t = c->reversed ? K(cv_tensor_unary(CV_OP_NEG, g, err)) : g; break;
  case CV_OP_MUL: t = K(cv_tensor_binary_scalar(CV_OP_MUL, g, c->s, 0, err)); break;
  case CV_OP_DIV:
    if (!c->reversed) {
      t = K(cv_tensor_binary_scalar(CV_OP_DIV, g, c->s, 0, err));
    } else { /* d/da s/a = -out/a */
      t = K(cv_tensor_mul(g, out, err));
      t = K(cv_tensor_div(t, a, err));
      t = K(cv_tensor_unary(CV_OP_NEG, t, err));
    }
    break;
  case CV_OP_POW:
    if (!c->reversed) { /* s a^(s-1) */
      t = K(cv_tensor_binary_scalar(CV_OP_POW, a, c->s - 1.0f, 0, err));
      t = K(cv_tensor_binary_scalar(CV_OP_MUL, t, c->s, 0, err));
    } else { /* d/da s^a = out log s */
      t = K(cv_tensor_binary_scalar(CV_OP_MUL, out, logf(c->s), 0, err));
    }
    t = K(cv_tensor_mul(g, t, err));
    break;
  default:
    break;
  }
  pass(&s, node, 0, t, err);
  return finish(&s, 0);
}

cv_tensor *cv_op_binary_scalar(cv_binary_op op, cv_tensor *a, float s,
                               int reversed, cv_error *err) {
  cv_tensor *y = cv_tensor_binary_scalar(op, a, s, reversed, err);
  if (!differentiable(op)) return y;
  op_ctx c = {.op = op, .s = s, .reversed = reversed};
  return cv_autograd_record_op(y, cv_binary_op_name(op), 1, &a, scalar_backward,
                               &c, sizeof c, 1, &y, err);
}

/* sign(a) as a tensor: (a > 0) - (a < 0). */
static cv_tensor *sign_of(scratch *sp, cv_tensor *a, cv_error *err) {
  scratch s = *sp;
  cv_tensor *pos = K(cv_tensor_binary_scalar(CV_OP_GT, a, 0.0f, 0, err));
  cv_tensor *neg = K(cv_tensor_binary_scalar(CV_OP_LT, a, 0.0f, 0, err));
  cv_tensor *r = K(cv_tensor_sub(pos, neg, err));
  *sp = s;
  return r;
}

static int unary_backward(cv_node *node, cv_tensor *g, cv_error *err) {
  const op_ctx *c = node->ctx;
  cv_tensor *a = node->inputs[0], *out = node->saved[0], *t = NULL;
  scratch s = {0};
  switch (c->op) {
  case CV_OP_NEG: t = K(cv_tensor_unary(CV_OP_NEG, g, err)); break;
  case CV_OP_EXP: t = K(cv_tensor_mul(g, out, err)); break;
  case CV_OP_LOG: t = K(cv_tensor_div(g, a, err)); break;
  case CV_OP_SQRT: /* g / (2 out) */
    t = K(cv_tensor_binary_scalar(CV_OP_MUL, out, 2.0f, 0, err));
    t = K(cv_tensor_div(g, t, err));
    break;
  case CV_OP_ABS: t = K(cv_tensor_mul(g, sign_of(&s, a, err), err)); break;
  case CV_OP_RELU:
    t = K(cv_tensor_binary_scalar(CV_OP_GT, a, 0.0f, 0, err));
    t = K(cv_tensor_mul(g, t, err));
    break;
  case CV_OP_SIGMOID: /* out (1 - out) */
    t = K(cv_tensor_binary_scalar(CV_OP_SUB, out, 1.0f, 1, err));
    t = K(cv_tensor_mul(t, out, err));
    t = K(cv_tensor_mul(g, t, err));
    break;
  case CV_OP_TANH: /* 1 - out^2 */
    t = K(cv_tensor_mul(out, out, err));
    t = K(cv_tensor_binary_scalar(CV_OP_SUB, t, 1.0f, 1, err));
    t = K(cv_tensor_mul(g, t, err));
    break;
  default:
    break;
  }
  pass(&s, node, 0, t, err);
  return finish(&s, 0);
}

cv_tensor *cv_op_unary(cv_unary_op op, cv_tensor *a, cv_error *err) {
  op_ctx c = {.op = op};
  cv_tensor *y = cv_tensor_unary(op, a, err);
  return cv_autograd_record_op(y, cv_unary_op_name(op), 1, &a, unary_backward,
                               &c, sizeof c, 1, &y, err);
}

static int clamp_backward(cv_node *node, cv_tensor *g, cv_error *err) {
  const op_ctx *c = node->ctx;
  cv_tensor *a = node->inputs[0];
  scratch s = {0};
  cv_tensor *lo = K(cv_tensor_binary_scalar(CV_OP_GE, a, c->lo, 0, err));
  cv_tensor *hi = K(cv_tensor_binary_scalar(CV_OP_LE, a, c->hi, 0, err));
  cv_tensor *t = K(cv_tensor_mul(lo, hi, err));
  pass(&s, node, 0, K(cv_tensor_mul(g, t, err)), err);
  return finish(&s, 0);
}

cv_tensor *cv_op_clamp(cv_tensor *a, float lo, float hi, cv_error *err) {
  op_ctx c = {.lo = lo, .hi = hi};
  return cv_autograd_record_op(cv_tensor_clamp(a, lo, hi, err), "clamp", 1, &a,
                               clamp_backward, &c, sizeof c, 0, NULL, err);
}

static int where_backward(cv_node *node, cv_tensor *g, cv_error *err) {
  cv_tensor *cond = node->saved[1];
  scratch s = {0};
  cv_tensor *zero = K(cv_tensor_scalar(0.0f, err));
  pass(&s, node, 0, K(cv_tensor_where(cond, g, zero, err)), err);
  pass(&s, node, 1, K(cv_tensor_where(cond, zero, g, err)), err);
  return finish(&s, 0);
}

cv_tensor *cv_op_where(cv_tensor *cond, cv_tensor *a, cv_tensor *b,
                       cv_error *err) {
  op_ctx c = {0};
  cv_tensor *in[2] = {a, b};
  cv_tensor *y =
      cv_autograd_record_op(cv_tensor_where(cond, a, b, err), "where", 2, in,
                            where_backward, &c, sizeof c, 0, NULL, err);
  if (y) cv_autograd_save(y, 1, cond);
  return y;
}

/* ---- reductions ------------------------------------------------------------- */

/* The output-shaped t spread back over a's shape (the reduced dim restored
 * as size 1, then expanded). */
static cv_tensor *spread(scratch *sp, cv_tensor *t, const cv_tensor *a,
                         const op_ctx *c, cv_error *err) {
  scratch s = *sp;
  if (c->dim >= 0 && !c->keepdim) t = K(cv_tensor_unsqueeze(t, c->dim, err));
  if (c->dim < 0 && a->ndim > 0) {
    int64_t ones[CV_MAX_DIMS];
    for (int d = 0; d < a->ndim; d++) ones[d] = 1;
    t = K(cv_tensor_view(t, a->ndim, ones, err));
  }
  t = K(cv_tensor_expand(t, a->ndim, a->size, err));
  *sp = s;
  return t;
}

static int64_t reduced_count(const cv_tensor *a, int dim) {
  return dim < 0 ? cv_tensor_numel(a) : a->size[dim];
}

static int sum_backward(cv_node *node, cv_tensor *g, cv_error *err) {
  const op_ctx *c = node->ctx;
  cv_tensor *a = node->inputs[0];
  scratch s = {0};
  cv_tensor *t = g;
  if (c->op == 1) /* mean */
    t = K(cv_tensor_binary_scalar(CV_OP_DIV, g, (float)reduced_count(a, c->dim),
                                  0, err));
  pass(&s, node, 0, spread(&s, t, a, c, err), err);
  return finish(&s, 0);
}

cv_tensor *cv_op_sum(cv_tensor *a, int dim, int keepdim, cv_error *err) {
  op_ctx c = {.op = 0, .dim = dim, .keepdim = keepdim};
  return cv_autograd_record_op(cv_tensor_sum(a, dim, keepdim, err), "sum", 1,
                               &a, sum_backward, &c, sizeof c, 0, NULL, err);
}

cv_tensor *cv_op_mean(cv_tensor *a, int dim, int keepdim, cv_error *err) {
  op_ctx c = {.op = 1, .dim = dim, .keepdim = keepdim};
  return cv_autograd_record_op(cv_tensor_mean(a, dim, keepdim, err), "mean", 1,
                               &a, sum_backward, &c, sizeof c, 0, NULL, err);
}

/* p = 2: a / norm; p = 1: sign(a); p = inf: sign(a) at the maxima of |a|,
 * shared evenly between ties. A zero norm gives zero gradient. */
static int norm_backward(cv_node *node, cv_tensor *g, cv_error *err) {
  const op_ctx *c = node->ctx;
  cv_tensor *a = node->inputs[0], *out = node->saved[0], *t;
  scratch s = {0};
  cv_tensor *gw = spread(&s, g, a, c, err), *nw = spread(&s, out, a, c, err);
  if (c->p == 1) {
    t = K(cv_tensor_mul(gw, sign_of(&s, a, err), err));
  } else if (c->p == 2) {
    cv_tensor *safe = K(cv_tensor_binary_scalar(CV_OP_EQ, nw, 0.0f, 0, err));
    safe = K(cv_tensor_add(nw, safe, err)); /* 0 -> 1: a is 0 there anyway */
    t = K(cv_tensor_div(a, safe, err));
    t = K(cv_tensor_mul(gw, t, err));
  } else {
    cv_tensor *abs = K(cv_tensor_unary(CV_OP_ABS, a, err));
    cv_tensor *at = K(cv_tensor_binary(CV_OP_EQ, abs, nw, err));
    op_ctx k = *c;
    k.keepdim = 1;
    cv_tensor *count = K(cv_tensor_sum(at, c->dim, 1, err));
    count = spread(&s, count, a, &k, err);
    t = K(cv_tensor_mul(at, sign_of(&s, a, err), err));
    t = K(cv_tensor_div(t, count, err));
    t = K(cv_tensor_mul(gw, t, err));
  }
  pass(&s, node, 0, t, err);
  return finish(&s, 0);
}

cv_tensor *cv_op_norm(cv_tensor *a, double p, int dim, int keepdim,
                      cv_error *err) {
  op_ctx c = {.p = p, .dim = dim, .keepdim = keepdim};
  cv_tensor *y = cv_tensor_norm(a, p, dim, keepdim, err);
  return cv_autograd_record_op(y, "norm", 1, &a, norm_backward, &c, sizeof c, 1,
                               &y, err);
}

/* var: 2 (a - mean) / (n - u); std: (a - mean) / ((n - u) std). */
static int moment_backward(cv_node *node, cv_tensor *g, cv_error *err) {
  const op_ctx *c = node->ctx;
  cv_tensor *a = node->inputs[0], *out = node->saved[0];
  scratch s = {0};
  float n = (float)(reduced_count(a, c->dim) - (c->unbiased ? 1 : 0));
  cv_tensor *m = K(cv_tensor_mean(a, c->dim, 1, err));
  cv_tensor *d = K(cv_tensor_sub(a, m, err));
  cv_tensor *gw = spread(&s, g, a, c, err), *t;
  if (c->op == 0) {
    t = K(cv_tensor_binary_scalar(CV_OP_MUL, d, 2.0f / n, 0, err));
  } else {
    cv_tensor *sw = spread(&s, out, a, c, err);
    cv_tensor *zero = K(cv_tensor_binary_scalar(CV_OP_EQ, sw, 0.0f, 0, err));
    sw = K(cv_tensor_add(sw, zero, err));
    t = K(cv_tensor_div(d, sw, err));
    t = K(cv_tensor_binary_scalar(CV_OP_DIV, t, n, 0, err));
  }
  pass(&s, node, 0, K(cv_tensor_mul(gw, t, err)), err);
  return finish(&s, 0);
}

cv_tensor *cv_op_var(cv_tensor *a, int dim, int keepdim, int unbiased,
                     cv_error *err) {
  op_ctx c = {.op = 0, .dim = dim, .keepdim = keepdim, .unbiased = unbiased};
  cv_tensor *y = cv_tensor_var(a, dim, keepdim, unbiased, err);
  return cv_autograd_record_op(y, "var", 1, &a, moment_backward, &c, sizeof c,
                               1, &y, err);
}

cv_tensor *cv_op_std(cv_tensor *a, int dim, int keepdim, int unbiased,
                     cv_error *err) {
  op_ctx c = {.op = 1, .dim = dim, .keepdim = keepdim, .unbiased = unbiased};
  cv_tensor *y = cv_tensor_std(a, dim, keepdim, unbiased, err);
  return cv_autograd_record_op(y, "std", 1, &a, moment_backward, &c, sizeof c,
                               1, &y, err);
}

/* Scatters g to the positions in idx (0-based along dim, or flat when dim
 * < 0) of a zeroed tensor shaped like a. */
static cv_tensor *scatter(const cv_tensor *a, const op_ctx *c, cv_tensor *g,
                          cv_tensor *idx, cv_error *err) {
  cv_tensor *r = cv_tensor_zeros_like(a, err);
  if (!r) return NULL;
  float *rd = cv_tensor_data(r);
  if (c->dim < 0) {
    int64_t z[CV_MAX_DIMS] = {0};
    rd[(int64_t)*cv_tensor_at(idx, z)] += *cv_tensor_at(g, z);
    return r;
  }
  /* Walk the output positions; each names one element of a. */
  int64_t pos[CV_MAX_DIMS] = {0}, n = cv_tensor_numel(g);
  int keep = c->keepdim, nd = g->ndim;
  for (int64_t k = 0; k < n; k++) {
    int64_t off = 0, gi[CV_MAX_DIMS];
    for (int d = 0, od = 0; d < a->ndim; d++) {
      if (d == c->dim) {
        if (keep) gi[od++] = 0;
        continue;
      }
      gi[od] = pos[od];
      off += pos[od++] * r->stride[d];
    }
    off += (int64_t)*cv_tensor_at(idx, gi) * r->stride[c->dim];
    rd[off] += *cv_tensor_at(g, gi);
    for (int d = nd - 1; d >= 0 && ++pos[d] == g->size[d]; d--) pos[d] = 0;
  }
  return r;
}

static int extreme_backward(cv_node *node, cv_tensor *g, cv_error *err) {
  scratch s = {0};
  pass(&s, node, 0,
       K(scatter(node->inputs[0], node->ctx, g, node->saved[1], err)), err);
  return finish(&s, 0);
}

static cv_tensor *extreme(int is_max, cv_tensor *a, int dim, int keepdim,
                          cv_tensor **indices, cv_error *err) {
  cv_tensor *idx = NULL;
  cv_tensor *y = is_max ? cv_tensor_max(a, dim, keepdim, &idx, err)
                        : cv_tensor_min(a, dim, keepdim, &idx, err);
  op_ctx c = {.dim = dim, .keepdim = keepdim};
  y = cv_autograd_record_op(y, is_max ? "max" : "min", 1, &a, extreme_backward,
                            &c, sizeof c, 0, NULL, err);
  if (y && y->node) { /* a copy: callers may renumber the indices they get */
    cv_tensor *kept = cv_tensor_clone(idx, err);
    if (!kept) {
      cv_tensor_release(y);
      cv_tensor_release(idx);
      return NULL;
    }
    cv_autograd_save(y, 1, kept);
    cv_tensor_release(kept);
  }
  if (y && indices) *indices = idx;
  else cv_tensor_release(idx);
  return y;
}

cv_tensor *cv_op_max(cv_tensor *a, int dim, int keepdim, cv_tensor **indices,
                     cv_error *err) {
  return extreme(1, a, dim, keepdim, indices, err);
}

cv_tensor *cv_op_min(cv_tensor *a, int dim, int keepdim, cv_tensor **indices,
                     cv_error *err) {
  return extreme(0, a, dim, keepdim, indices, err);
}

/* ---- joins ------------------------------------------------------------------ */

static int cat_backward(cv_node *node, cv_tensor *g, cv_error *err) {
  const op_ctx *c = node->ctx;
  scratch s = {0};
  int64_t start = 0;
  for (int i = 0; i < node->n_inputs; i++) {
    if (c->op) /* stack */
      pass(&s, node, i, K(cv_tensor_select(g, c->dim, i, err)), err);
    else
      pass(&s, node, i, K(cv_tensor_narrow(g, c->dim, start, c->lengths[i], err)),
           err);
    start += c->lengths[i];
  }
  return finish(&s, 0);
}

static cv_tensor *join(int is_stack, int n, cv_tensor *const *ts, int dim,
                       cv_error *err) {
  cv_tensor *y = is_stack ? cv_tensor_stack(n, ts, dim, err)
                          : cv_tensor_cat(n, ts, dim, err);
  if (!y || !cv_autograd_any(n, ts)) return y;
  if (n > CV_NODE_MAX_INPUTS) {
    cv_tensor_release(y);
    cv_error_set(err, "%s: gradients flow through at most %d tensors, not %d",
                 is_stack ? "stack" : "cat", CV_NODE_MAX_INPUTS, n);
    return NULL;
  }
  op_ctx c = {.op = is_stack, .dim = dim};
  for (int i = 0; i < n; i++) c.lengths[i] = is_stack ? 1 : ts[i]->size[dim];
  return cv_autograd_record_op(y, is_stack ? "stack" : "cat", n, ts,
                               cat_backward, &c, sizeof c, 0, NULL, err);
}

cv_tensor *cv_op_cat(int n, cv_tensor *const *ts, int dim, cv_error *err) {
  return join(0, n, ts, dim, err);
}

cv_tensor *cv_op_stack(int n, cv_tensor *const *ts, int dim, cv_error *err) {
  return join(1, n, ts, dim, err);
}

/* ---- matmul ------------------------------------------------------------------
 * With 1-d operands seen as a row (a) or a column (b): da = g b^T, db = a^T g;
 * a shared (2-d) operand of a batched product gets the sum over the batch
 * (cv_autograd_pass sums what has extra leading dims). */

static int matmul_backward(cv_node *node, cv_tensor *g, cv_error *err) {
  cv_tensor *a = node->inputs[0], *b = node->inputs[1];
  scratch s = {0};
  int64_t row[2] = {1, a->size[0]}, col[2] = {b->size[0], 1};
  cv_tensor *a2 = a->ndim == 1 ? K(cv_tensor_view(a, 2, row, err)) : a;
  cv_tensor *b2 = b->ndim == 1 ? K(cv_tensor_reshape(b, 2, col, err)) : b;
  cv_tensor *g2 = g;
  if (!s.failed && (a->ndim == 1 || b->ndim == 1)) {
    int64_t gs[3];
    int n = 0;
    if (a2->ndim == 3 || b2->ndim == 3)
      gs[n++] = a2->ndim == 3 ? a2->size[0] : b2->size[0];
    gs[n++] = a2->size[a2->ndim - 2];
    gs[n++] = b2->size[b2->ndim - 1];
    g2 = K(cv_tensor_reshape(g, n, gs, err));
  }
  if (cv_autograd_wants(node, 0)) {
    cv_tensor *bt = K(cv_tensor_transpose(b2, b2->ndim - 2, b2->ndim - 1, err));
    cv_tensor *da = K(cv_tensor_matmul(g2, bt, err));
    if (!s.failed && da->ndim == 3 && a2->ndim == 2)
      da = K(cv_tensor_sum(da, 0, 0, err));
    if (a->ndim == 1) da = K(cv_tensor_reshape(da, 1, a->size, err));
    pass(&s, node, 0, da, err);
  }
  if (cv_autograd_wants(node, 1)) {
    cv_tensor *at = K(cv_tensor_transpose(a2, a2->ndim - 2, a2->ndim - 1, err));
    cv_tensor *db = K(cv_tensor_matmul(at, g2, err));
    if (!s.failed && db->ndim == 3 && b2->ndim == 2)
      db = K(cv_tensor_sum(db, 0, 0, err));
    if (b->ndim == 1) db = K(cv_tensor_reshape(db, 1, b->size, err));
    pass(&s, node, 1, db, err);
  }
  return finish(&s, 0);
}

cv_tensor *cv_op_matmul(cv_tensor *a, cv_tensor *b, cv_error *err) {
  op_ctx c = {0};
  cv_tensor *in[2] = {a, b};
  return cv_autograd_record_op(cv_tensor_matmul(a, b, err), "matmul", 2, in,
                               matmul_backward, &c, sizeof c, 0, NULL, err);
}

/* ---- views ----------------------------------------------------------------
 * The twins of tensor.h's views. A view's elements are elements of its
 * input's storage, so one backward rule serves them all: the input's
 * gradient is found by laying the output's gradient into a zeroed copy of
 * the input's stretch of storage (adding, so that expanded dims sum) and
 * reading it back through the input's own geometry. reshape, contiguous and
 * clone may copy instead; the gradient of a copy is the output's gradient
 * in the input's shape. */

typedef struct {
  int ndim;
  int64_t size[CV_MAX_DIMS], stride[CV_MAX_DIMS], offset;
} view_geometry;

/* The lowest and highest storage positions t can reach. */
static void extent(const cv_tensor *t, int64_t *lo, int64_t *hi) {
  *lo = *hi = t->offset;
  for (int d = 0; d < t->ndim; d++) {
    int64_t reach = t->stride[d] * (t->size[d] - 1);
    if (t->size[d] == 0) continue;
    if (reach < 0) *lo += reach;
    else *hi += reach;
  }
}

static int view_backward(cv_node *node, cv_tensor *grad_out, cv_error *err) {
  const view_geometry *out = node->ctx;
  cv_tensor *in = node->inputs[0];
  int64_t lo, hi;
  extent(in, &lo, &hi);
  int64_t span = hi - lo + 1;
  cv_tensor *store = cv_tensor_new(1, &span, err);
  if (!store) return -1;
  cv_tensor *g_out = cv_tensor_view_of(store, out->ndim, out->size, out->stride,
                                       out->offset - lo, err);
  cv_tensor *g_in = g_out ? cv_tensor_view_of(store, in->ndim, in->size,
                                              in->stride, in->offset - lo, err)
                          : NULL;
  int rc = g_in && !cv_tensor_add_into(g_out, grad_out, err)
               ? cv_autograd_pass(node, 0, g_in, err)
               : -1;
  cv_tensor_release(g_in);
  cv_tensor_release(g_out);
  cv_tensor_release(store);
  return rc;
}

static int record_view(cv_tensor *out, cv_tensor *in, const char *op,
                       cv_error *err) {
  if (!cv_autograd_any(1, &in)) return 0;
  for (int d = 0; d < in->ndim; d++)
    if (in->stride[d] == 0 && in->size[d] > 1)
      return cv_error_set(err, "%s: gradients cannot flow through a view of "
                          "an expanded tensor; call contiguous() after "
                          "expand", op);
  view_geometry *g = malloc(sizeof *g);
  if (!g) return cv_error_set(err, "%s: out of memory recording the tape", op);
  g->ndim = out->ndim;
  memcpy(g->size, out->size, sizeof g->size);
  memcpy(g->stride, out->stride, sizeof g->stride);
  g->offset = out->offset;
  return cv_autograd_record(out, op, 1, &in, view_backward, g, err);
}

static int copy_backward(cv_node *node, cv_tensor *grad_out, cv_error *err) {
  cv_tensor *in = node->inputs[0];
  cv_tensor *g = cv_tensor_reshape(grad_out, in->ndim, in->size, err);
  int rc = g ? cv_autograd_pass(node, 0, g, err) : -1;
  cv_tensor_release(g);
  return rc;
}

static int record_copy(cv_tensor *out, cv_tensor *in, const char *op,
                       cv_error *err) {
  return cv_autograd_record(out, op, 1, &in, copy_backward, NULL, err);
}

/* out, made from in by a view function or a copy, recorded as what it is;
 * out == in (contiguous() of a contiguous tensor) records nothing. Takes
 * over out; on failure releases it and returns NULL. */
static cv_tensor *viewed(cv_tensor *out, cv_tensor *in, const char *op,
                         cv_error *err) {
  if (!out || out == in) return out;
  int rc = out->storage == in->storage ? record_view(out, in, op, err)
                                       : record_copy(out, in, op, err);
  if (rc) {
    cv_tensor_release(out);
    return NULL;
  }
  return out;
}

cv_tensor *cv_op_view(cv_tensor *t, int ndim, const int64_t *size,
                      cv_error *err) {
  return viewed(cv_tensor_view(t, ndim, size, err), t, "view", err);
}

cv_tensor *cv_op_reshape(cv_tensor *t, int ndim, const int64_t *size,
                         cv_error *err) {
  return viewed(cv_tensor_reshape(t, ndim, size, err), t, "reshape", err);
}

cv_tensor *cv_op_transpose(cv_tensor *t, int d0, int d1, cv_error *err) {
  return viewed(cv_tensor_transpose(t, d0, d1, err), t, "transpose", err);
}

cv_tensor *cv_op_permute(cv_tensor *t, const int *order, cv_error *err) {
  return viewed(cv_tensor_permute(t, order, err), t, "permute", err);
}

cv_tensor *cv_op_narrow(cv_tensor *t, int dim, int64_t start, int64_t length,
                        cv_error *err) {
  return viewed(cv_tensor_narrow(t, dim, start, length, err), t, "narrow",
                err);
}

cv_tensor *cv_op_select(cv_tensor *t, int dim, int64_t i, cv_error *err) {
  return viewed(cv_tensor_select(t, dim, i, err), t, "select", err);
}

cv_tensor *cv_op_unsqueeze(cv_tensor *t, int dim, cv_error *err) {
  return viewed(cv_tensor_unsqueeze(t, dim, err), t, "unsqueeze", err);
}

cv_tensor *cv_op_squeeze(cv_tensor *t, int dim, cv_error *err) {
  return viewed(cv_tensor_squeeze(t, dim, err), t, "squeeze", err);
}

cv_tensor *cv_op_expand(cv_tensor *t, int ndim, const int64_t *size,
                        cv_error *err) {
  return viewed(cv_tensor_expand(t, ndim, size, err), t, "expand", err);
}

cv_tensor *cv_op_contiguous(cv_tensor *t, cv_error *err) {
  return viewed(cv_tensor_contiguous(t, err), t, "contiguous", err);
}

cv_tensor *cv_op_clone(cv_tensor *t, cv_error *err) {
  return viewed(cv_tensor_clone(t, err), t, "clone", err);
}

cv_tensor *cv_op_view_steps(cv_tensor *out, cv_tensor *in, const char *op,
                            cv_error *err) {
  return viewed(out, in, op, err);
}
