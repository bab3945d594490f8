/*
 * jpeg.h — JPEG reading (libjpeg-turbo).
 *
 *   cv_tensor *img = cv_jpeg_load("cat.jpg", &err);  // C x H x W, values 0..255
 *
 * Gray JPEGs give C = 1, color (YCbCr or RGB) JPEGs C = 3 in RGB order.
 * CMYK and YCCK files are refused with a clear error. Corrupt or truncated
 * data is an error naming the file (libjpeg would only warn and fill the rest
 * with gray); harmless metadata warnings are ignored. The pixels come as
 * stored: an Exif orientation tag is not applied (Caffe does not either).
 */
#ifndef CV_IO_JPEG_H
#define CV_IO_JPEG_H

#include <stddef.h>

#include "tensor/tensor.h"

/* New reference, or NULL with err set. */
cv_tensor *cv_jpeg_load(const char *path, cv_error *err);
/* The same from a buffer holding a whole file; name is used in messages. */
cv_tensor *cv_jpeg_load_from_memory(const unsigned char *buf, size_t n,
                                    const char *name, cv_error *err);

#endif
