/*
 * tensor.h — float32 n-d tensors with refcounted storage and strided views.
 *
 * A tour:
 *
 *   cv_error err;
 *   int64_t sz[2] = {2, 3};
 *   cv_tensor *a = cv_tensor_new(2, sz, &err);        // new reference, zeroed
 *   cv_tensor *row = cv_tensor_select(a, 0, 1, &err); // a view: shares a's storage
 *   cv_tensor_fill(row, 1.0f);
 *   cv_tensor_release(row);
 *   cv_tensor_release(a);
 *
 * Ownership: every function that returns a cv_tensor* returns a NEW reference
 * that the caller must cv_tensor_release(); arguments are borrowed. Views share
 * the storage (which is refcounted separately), so releasing a base tensor
 * while a view lives is fine.
 *
 * Positions (dims, indices) are 0-based here; the Lua binding adds 1.
 * Functions that can fail return NULL or -1 and fill `err` (see error.h).
 */
#ifndef CV_TENSOR_H
#define CV_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define CV_MAX_DIMS 8

typedef struct cv_storage {
  float *data;     /* 64-byte aligned, or borrowed when !owns */
  int64_t numel;
  int refcount;
  int owns;        /* 1: free data with the storage */
  size_t bytes;    /* usable bytes at data (0: unknown): what a kept block
                    * is filed under for reuse (storage_cache.h) */
  uint64_t version; /* counts in-place writes: the tape checks it */
  uint64_t id;      /* never reused while the process lives: with version,
                     * what derived data kept between calls (winograd_cache.h)
                     * is filed under */
  int has_derived;  /* 1: such data was filed under id (see
                     * cv_storage_set_release_hook) */
} cv_storage;

struct cv_node;    /* autograd.h: the tape node that produced a tensor */

typedef struct cv_tensor {
  cv_storage *storage;
  int64_t offset;                 /* in elements, into storage->data */
  int ndim;                       /* 0 for a scalar */
  int64_t size[CV_MAX_DIMS];
  int64_t stride[CV_MAX_DIMS];    /* in elements; 0 along expanded dims */
  int refcount;
  /* autograd: see autograd.h. All NULL/0 for plain tensors. */
  int requires_grad;
  struct cv_tensor *grad;         /* owned reference, allocated by backward */
  struct cv_node *node;           /* owned reference to the producing node */
} cv_tensor;

/* ---- life ------------------------------------------------------------ */

/* A contiguous tensor of the given sizes, filled with zeros. */
cv_tensor *cv_tensor_new(int ndim, const int64_t *size, cv_error *err);
/* Same, but the contents are left uninitialised (faster for outputs). */
cv_tensor *cv_tensor_empty(int ndim, const int64_t *size, cv_error *err);
/* A contiguous tensor over `data`, which it takes over: 64-byte aligned,
 * from the malloc family (free() gives it back), with `bytes` usable (at
 * least the tensor's floats). It is freed, or kept for reuse under `bytes`,
 * with the storage. On failure data stays the caller's. */
cv_tensor *cv_tensor_adopt(int ndim, const int64_t *size, float *data,
                           size_t bytes, cv_error *err);
/* A new contiguous tensor with the shape of t, zeroed / uninitialised. */
cv_tensor *cv_tensor_zeros_like(const cv_tensor *t, cv_error *err);
cv_tensor *cv_tensor_empty_like(const cv_tensor *t, cv_error *err);
/* A 0-d tensor holding v. */
cv_tensor *cv_tensor_scalar(float v, cv_error *err);

cv_tensor *cv_tensor_retain(cv_tensor *t);  /* returns t, one more reference */
void cv_tensor_release(cv_tensor *t);       /* NULL is fine */

/* ---- look ------------------------------------------------------------ */

int64_t cv_tensor_numel(const cv_tensor *t);
int cv_tensor_is_contiguous(const cv_tensor *t);
int cv_tensor_same_shape(const cv_tensor *a, const cv_tensor *b);
/* Pointer to element 0 of the view (storage data + offset). */
float *cv_tensor_data(const cv_tensor *t);
/* Element at a full 0-based index (ndim entries); no bounds check. */
float *cv_tensor_at(const cv_tensor *t, const int64_t *index);
/* Writes "2x3x4" (or "scalar") into buf; returns buf, for messages. */
const char *cv_shape_str(int ndim, const int64_t *size, char *buf, size_t n);
#define CV_SHAPE_STR_MAX 128

/* ---- views (share storage; new references; tensor_grad.h has their
 * differentiable twins) ---------------------------------------------- */

/* Sizes may contain one -1, inferred. Needs a layout that allows it:
 * a non-contiguous tensor that cannot be viewed gives an error naming shapes. */
cv_tensor *cv_tensor_view(cv_tensor *t, int ndim, const int64_t *size,
                          cv_error *err);
/* Like view, but copies when the layout does not allow a view. */
cv_tensor *cv_tensor_reshape(cv_tensor *t, int ndim, const int64_t *size,
                             cv_error *err);
cv_tensor *cv_tensor_transpose(cv_tensor *t, int d0, int d1, cv_error *err);
cv_tensor *cv_tensor_permute(cv_tensor *t, const int *order, cv_error *err);
cv_tensor *cv_tensor_narrow(cv_tensor *t, int dim, int64_t start,
                            int64_t length, cv_error *err);
/* Removes dimension dim, keeping index i along it. */
cv_tensor *cv_tensor_select(cv_tensor *t, int dim, int64_t i, cv_error *err);
cv_tensor *cv_tensor_unsqueeze(cv_tensor *t, int dim, cv_error *err);
/* dim < 0: every size-1 dim. */
cv_tensor *cv_tensor_squeeze(cv_tensor *t, int dim, cv_error *err);
/* Size-1 dims grow to the asked size with stride 0; new leading dims too. */
cv_tensor *cv_tensor_expand(cv_tensor *t, int ndim, const int64_t *size,
                            cv_error *err);
/* A header over t's storage with any geometry (torch's as_strided). Nothing
 * checks that it stays inside the storage: the geometry must come from
 * tensors that do (the views above, the tape's rule for views). */
cv_tensor *cv_tensor_view_of(cv_tensor *t, int ndim, const int64_t *size,
                             const int64_t *stride, int64_t offset,
                             cv_error *err);
/* A second header over t's storage with t's geometry and no tape node: how
 * an op keeps its own output in its node without a reference cycle. */
cv_tensor *cv_tensor_alias(cv_tensor *t, cv_error *err);
/* t itself (retained) when contiguous, else a contiguous copy. */
cv_tensor *cv_tensor_contiguous(cv_tensor *t, cv_error *err);
cv_tensor *cv_tensor_clone(const cv_tensor *t, cv_error *err);

/* ---- fill and copy (in place) ----------------------------------------- */

void cv_tensor_fill(cv_tensor *t, float v);
/* Counts an in-place write to t's storage (every in-place op calls it), so
 * that a backward can tell that a tensor it saved has changed. */
void cv_tensor_bump_version(cv_tensor *t);

/* The function told the id of each storage marked has_derived when its
 * last reference goes, so that data kept under that id goes with it (the
 * Winograd transforms of weights that were temporaries). One hook for the
 * process; NULL removes it. */
void cv_storage_set_release_hook(void (*hook)(uint64_t id));
/* dst = src, src broadcast to dst's shape. */
int cv_tensor_copy(cv_tensor *dst, const cv_tensor *src, cv_error *err);
/* dst += src, src broadcast to dst's shape. Where dst has stride-0 (expanded)
 * dims, the additions pile up in one element: that is how sums over
 * broadcast dims are taken. */
int cv_tensor_add_into(cv_tensor *dst, const cv_tensor *src, cv_error *err);

/* ---- shapes ----------------------------------------------------------- */

/* The broadcast shape of a and b (PyTorch rules) into out_size/out_ndim. */
int cv_broadcast_shape(int na, const int64_t *sa, int nb, const int64_t *sb,
                       int *out_ndim, int64_t *out_size, cv_error *err);

/* ---- strided iteration -------------------------------------------------
 * Walks every element of up to 4 tensors of the same shape in row-major
 * order, calling fn on runs of the innermost dimension. Used by the math and
 * copy kernels so that none of them writes its own index arithmetic. */
typedef void (*cv_run_fn)(int64_t n, float **ptr, const int64_t *inner_stride,
                          void *ctx);
void cv_tensor_foreach(int count, cv_tensor **ts, cv_run_fn fn, void *ctx);

#endif
