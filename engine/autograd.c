/* autograd.c — recording nodes and walking them backwards. */
#include "autograd.h"

#include <stdlib.h>
#include <string.h>

/* Process-wide, as the tape is: one Lua state drives the engine, and the
 * OpenMP workers inside the kernels never record. */
static int grad_enabled = 1;
static uint64_t next_seq = 1;

int cv_autograd_set_enabled(int on) {
  int was = grad_enabled;
  grad_enabled = on != 0;
  return was;
}

int cv_autograd_enabled(void) { return grad_enabled; }

int cv_tensor_requires_grad(const cv_tensor *t) {
  return t && (t->requires_grad || t->node != NULL);
}

int cv_autograd_any(int n, cv_tensor *const *ts) {
  if (!grad_enabled) return 0;
  for (int i = 0; i < n; i++)
    if (cv_tensor_requires_grad(ts[i])) return 1;
  return 0;
}

/* Drops what the node holds; the node itself lives while tensors point at it. */
static void node_clear(cv_node *node) {
  for (int i = 0; i < node->n_inputs; i++) {
    cv_tensor_release(node->inputs[i]);
    node->inputs[i] = NULL;
  }
  for (int i = 0; i < CV_NODE_MAX_SAVED; i++) {
    cv_tensor_release(node->saved[i]);
    node->saved[i] = NULL;
  }
  cv_tensor_release(node->grad);
  node->grad = NULL;
  free(node->ctx);
  node->ctx = NULL;
  node->freed = 1;
}

void cv_node_release(cv_node *node) {
  if (!node || --node->refcount > 0) return;
  node_clear(node);
  cv_tensor_release(node->kept_grad);
  free(node);
}

int cv_autograd_record(cv_tensor *out, const char *op, int n_inputs,
                       cv_tensor *const *inputs, cv_backward_fn backward,
                       void *ctx, cv_error *err) {
  if (!cv_autograd_any(n_inputs, inputs)) {
    free(ctx);
    return 0;
  }
  cv_node *node = calloc(1, sizeof *node);
  if (!node) {
    free(ctx);
    return cv_error_set(err, "%s: out of memory recording the tape", op);
  }
  node->refcount = 1;
  node->seq = next_seq++;
  node->op = op;
  node->n_inputs = n_inputs;
  for (int i = 0; i < n_inputs; i++) {
    node->inputs[i] = cv_tensor_retain(inputs[i]);
    node->input_version[i] = inputs[i]->storage->version;
  }
  node->backward = backward;
  node->ctx = ctx;
  node->out_ndim = out->ndim;
  memcpy(node->out_size, out->size, sizeof node->out_size);
  cv_node_release(out->node);
  out->node = node;
  return 0;
}

void cv_autograd_save(cv_tensor *out, int i, cv_tensor *t) {
  if (!out->node || i < 0 || i >= CV_NODE_MAX_SAVED) return;
  cv_tensor_release(out->node->saved[i]);
  out->node->saved[i] = cv_tensor_retain(t);
  out->node->saved_version[i] = t ? t->storage->version : 0;
}

/* Keeps out's own values as saved[i] through a second header without a node. */
static int save_output(cv_tensor *out, int i, cv_error *err) {
  cv_tensor *alias = cv_tensor_alias(out, err);
  if (!alias) return -1;
  cv_autograd_save(out, i, alias);
  cv_tensor_release(alias);
  return 0;
}

cv_tensor *cv_autograd_record_op(cv_tensor *out, const char *op, int n_inputs,
                                 cv_tensor *const *inputs,
                                 cv_backward_fn backward, const void *ctx,
                                 size_t ctx_size, int n_saved,
                                 cv_tensor *const *saved, cv_error *err) {
  if (!out || !cv_autograd_any(n_inputs, inputs)) return out;
  void *copy = NULL;
  if (ctx && !(copy = malloc(ctx_size))) {
    cv_error_set(err, "%s: out of memory recording the tape", op);
    goto fail;
  }
  if (copy) memcpy(copy, ctx, ctx_size);
  if (cv_autograd_record(out, op, n_inputs, inputs, backward, copy, err))
    goto fail;
  for (int i = 0; i < n_saved; i++) {
    if (saved[i] != out) cv_autograd_save(out, i, saved[i]);
    else if (save_output(out, i, err)) goto fail;
  }
  return out;
fail:
  cv_tensor_release(out);
  return NULL;
}

int cv_autograd_wants(const cv_node *node, int i) {
  return i < node->n_inputs && cv_tensor_requires_grad(node->inputs[i]);
}

/* Whether a first gradient can keep g itself instead of a copy (fc weight
 * gradients run to hundreds of MB): g is a plain contiguous tensor, owning
 * all of its storage, that only its caller holds. */
static int can_take_over(const cv_tensor *g) {
  const cv_storage *st = g->storage;
  return g->refcount == 1 && st->refcount == 1 && st->owns && g->offset == 0 &&
         !g->node && !g->grad && !g->requires_grad &&
         st->numel == cv_tensor_numel(g) && cv_tensor_is_contiguous(g);
}

/* *slot += g, taking g (or a copy) on first use. */
static int accumulate(cv_tensor **slot, cv_tensor *g, cv_error *err) {
  if (!*slot) {
    *slot = can_take_over(g) ? cv_tensor_retain(g) : cv_tensor_clone(g, err);
    return *slot ? 0 : -1;
  }
  return cv_tensor_add_into(*slot, g, err);
}

cv_tensor *cv_tensor_sum_to(const cv_tensor *grad, int ndim,
                            const int64_t *size, cv_error *err) {
  cv_tensor *target = cv_tensor_new(ndim, size, err);
  if (!target) return NULL;
  /* Broadcast dims get stride 0, so adding through the view sums them. */
  cv_tensor *wide = cv_tensor_expand(target, grad->ndim, grad->size, err);
  if (!wide || cv_tensor_add_into(wide, grad, err)) {
    cv_tensor_release(wide);
    cv_tensor_release(target);
    return NULL;
  }
  cv_tensor_release(wide);
  return target;
}

int cv_autograd_pass(cv_node *node, int i, cv_tensor *g, cv_error *err) {
  cv_tensor *in = node->inputs[i];
  if (!cv_tensor_requires_grad(in)) return 0;
  cv_tensor *fitted = NULL;
  if (!cv_tensor_same_shape(g, in)) {
    fitted = cv_tensor_sum_to(g, in->ndim, in->size, err);
    if (!fitted) return cv_error_prefix(err, "%s backward", node->op);
    g = fitted;
  }
  int rc = in->node ? accumulate(&in->node->grad, g, err)
                    : accumulate(&in->grad, g, err);
  cv_tensor_release(fitted);
  return rc;
}

/* ---- the walk -------------------------------------------------------- */

/* A backward step reads its inputs and saved tensors as they were at the
 * forward: refuse it when one has been written in place since. */
static int check_unchanged(const cv_node *node, cv_error *err) {
  for (int i = 0; i < node->n_inputs; i++)
    if (node->inputs[i] &&
        node->inputs[i]->storage->version != node->input_version[i])
      return cv_error_set(err, "backward: input %d of %s was changed in place "
                          "after the forward that used it; run the forward "
                          "again", i + 1, node->op);
  for (int i = 0; i < CV_NODE_MAX_SAVED; i++)
    if (node->saved[i] &&
        node->saved[i]->storage->version != node->saved_version[i])
      return cv_error_set(err, "backward: a tensor %s saved was changed in "
                          "place after the forward; run the forward again",
                          node->op);
  return 0;
}

static int by_seq_desc(const void *a, const void *b) {
  uint64_t x = (*(cv_node *const *)a)->seq, y = (*(cv_node *const *)b)->seq;
  return x < y ? 1 : x > y ? -1 : 0;
}

/* Every node that leads to root, newest first. Returns the count or -1. */
static int64_t collect_nodes(cv_node *root, cv_node ***out, cv_error *err) {
  static uint64_t walk = 0;
  uint64_t mark = ++walk;
  int64_t n = 0, cap = 64;
  cv_node **nodes = malloc(sizeof *nodes * cap);
  if (!nodes) goto oom;
  /* nodes[] doubles as the work list: everything before `next` is expanded.
   * Each collected node is held until the walk ends: clearing one node can
   * drop the last tensor that points at another (a blob rebound by an
   * in-place layer). */
  root->visit = mark;
  root->refcount++;
  nodes[n++] = root;
  for (int64_t next = 0; next < n; next++) {
    cv_node *node = nodes[next];
    for (int i = 0; i < node->n_inputs; i++) {
      cv_node *up = node->inputs[i] ? node->inputs[i]->node : NULL;
      if (!up || up->freed || up->visit == mark) continue;
      up->visit = mark;
      if (n == cap) {
        cv_node **grown = realloc(nodes, sizeof *nodes * (cap *= 2));
        if (!grown) goto oom;
        nodes = grown;
      }
      nodes[n++] = up;
      up->refcount++;
    }
  }
  qsort(nodes, (size_t)n, sizeof *nodes, by_seq_desc);
  *out = nodes;
  return n;
oom:
  for (int64_t k = 0; k < n; k++) cv_node_release(nodes[k]);
  free(nodes);
  return cv_error_set(err, "backward: out of memory walking the tape");
}

static int seed_gradient(cv_tensor *out, cv_tensor *grad_out, cv_tensor **seed,
                         cv_error *err) {
  if (grad_out) {
    if (!cv_tensor_same_shape(grad_out, out)) {
      char a[CV_SHAPE_STR_MAX], b[CV_SHAPE_STR_MAX];
      return cv_error_set(err, "backward: the gradient has shape %s but the "
                          "output has shape %s",
                          cv_shape_str(grad_out->ndim, grad_out->size, a, sizeof a),
                          cv_shape_str(out->ndim, out->size, b, sizeof b));
    }
    *seed = cv_tensor_clone(grad_out, err);
  } else {
    if (cv_tensor_numel(out) != 1)
      return cv_error_set(err, "backward: the output has %lld elements; give "
                          "its gradient, or reduce it to one number first",
                          (long long)cv_tensor_numel(out));
    *seed = cv_tensor_empty(out->ndim, out->size, err);
    if (*seed) cv_tensor_fill(*seed, 1.0f);
  }
  return *seed ? 0 : -1;
}

int cv_autograd_backward(cv_tensor *out, cv_tensor *grad_out, int retain,
                         cv_error *err) {
  cv_tensor *seed = NULL;
  if (!cv_tensor_requires_grad(out))
    return cv_error_set(err, "backward: the tensor does not require a "
                        "gradient (nothing it was computed from has "
                        "requires_grad)");
  if (out->node && out->node->freed)
    return cv_error_set(err, "backward: the graph was freed by an earlier "
                        "backward (pass {retain = true} to keep it)");
  if (seed_gradient(out, grad_out, &seed, err)) return -1;
  if (!out->node) { /* a leaf: its gradient is the seed */
    int rc = accumulate(&out->grad, seed, err);
    cv_tensor_release(seed);
    return rc;
  }
  cv_node **nodes = NULL;
  int64_t n = collect_nodes(out->node, &nodes, err);
  if (n < 0) {
    cv_tensor_release(seed);
    return -1;
  }
  int rc = 0;
  cv_tensor_release(out->node->grad);
  out->node->grad = seed;
  for (int64_t k = 0; k < n; k++) {
    cv_node *node = nodes[k];
    if (rc == 0 && node->grad) {
      cv_tensor *g = node->grad;
      node->grad = NULL;
      if (node->keep_grad) { /* what d out / d this output came to */
        cv_tensor_release(node->kept_grad);
        node->kept_grad = cv_tensor_retain(g);
      }
      rc = check_unchanged(node, err) || node->backward(node, g, err);
      cv_tensor_release(g);
    }
  }
  for (int64_t k = 0; k < n; k++) {
    cv_tensor_release(nodes[k]->grad);
    nodes[k]->grad = NULL;
    if (!retain) node_clear(nodes[k]);
  }
  for (int64_t k = 0; k < n; k++) cv_node_release(nodes[k]);
  free(nodes);
  return rc;
}

void cv_tensor_zero_grad(cv_tensor *t) {
  cv_tensor *g = t->grad;
  t->grad = NULL;
  cv_tensor_release(g); /* its memory is kept for the next one (storage_cache.h) */
}
