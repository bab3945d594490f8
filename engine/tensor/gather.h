/*
 * gather.h — building a training batch from a stack of samples.
 *
 *   int64_t index[2] = {17, 3};
 *   unsigned char flip[2] = {1, 0};
 *   cv_tensor_gather(images, 2, index, flip, batch, &err); // batch: 2xCxHxW
 *
 * Copies sample index[i] (0-based, along dim 0 of src) into out[i],
 * mirrored left-right (along the last dimension) when flip[i] is set, as
 * Caffe's mirror transform does. flip may be NULL.
 */
#ifndef CV_TENSOR_GATHER_H
#define CV_TENSOR_GATHER_H

#include "tensor.h"

/* src and out borrowed; out must be contiguous with out's dim 0 == n and the
 * other dims equal to src's. */
int cv_tensor_gather(const cv_tensor *src, int64_t n, const int64_t *index,
                     const unsigned char *flip, cv_tensor *out,
                     cv_error *err);

#endif
