/*
 * resize.h — image geometry for preparing network inputs: resampling with
 * stb_image_resize, and the horizontal mirror of caffe.io.oversample.
 *
 *   cv_tensor *r = cv_image_resize(img, 256, 256, CV_RESIZE_TRIANGLE, &err);
 *   cv_tensor *m = cv_image_mirror(r, &err);
 *
 * Images are C x H x W (or N x C x H x W for the mirror), any values; each
 * channel plane is resampled on its own, in linear float, edges clamped.
 * Results are new references; inputs are borrowed and may be views.
 */
#ifndef CV_IO_RESIZE_H
#define CV_IO_RESIZE_H

#include "tensor/tensor.h"

typedef enum {
  CV_RESIZE_TRIANGLE, /* bilinear when enlarging; a widened tent when shrinking */
  CV_RESIZE_BOX,      /* area averaging for integer ratios */
  CV_RESIZE_CUBIC,    /* Catmull-Rom */
  CV_RESIZE_MITCHELL, /* stb's default when shrinking */
} cv_resize_filter;

cv_tensor *cv_image_resize(const cv_tensor *img, int64_t h, int64_t w,
                           cv_resize_filter filter, cv_error *err);
/* Reverses the last dimension (left-right mirror). */
cv_tensor *cv_image_mirror(const cv_tensor *img, cv_error *err);

#endif
