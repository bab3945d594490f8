/*
 * png.h — PNG in and out (libpng).
 *
 *   cv_tensor *img = cv_png_load("in.png", &err);   // C x H x W, values 0..255
 *   cv_png_save(img, "out.png", &err);
 *
 * Reading takes every color type and bit depth. The result is a float tensor
 * C x H x W with values 0..255: C = 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA.
 * Palette images become RGB (RGBA when the palette has transparency), gray of
 * 1, 2 or 4 bits is stretched to 0..255, a tRNS color key becomes an alpha
 * channel, and 16-bit samples are scaled to 0..255 as v / 257 (so 65535 is
 * 255 and no value is rounded away). A broken file (bad signature, CRC error,
 * truncated data) gives an error naming the file and libpng's reason.
 *
 * Writing takes a C x H x W tensor with C = 1, 2, 3 or 4 (or H x W, gray) and
 * writes 8 bits per sample: values are clamped to 0..255 and rounded half up;
 * NaN becomes 0.
 */
#ifndef CV_IO_PNG_H
#define CV_IO_PNG_H

#include <stddef.h>

#include "tensor/tensor.h"

/* New reference, or NULL with err set. */
cv_tensor *cv_png_load(const char *path, cv_error *err);
/* The same from a buffer holding a whole file; name is used in messages. */
cv_tensor *cv_png_load_from_memory(const unsigned char *buf, size_t n,
                                   const char *name, cv_error *err);
/* t is borrowed. On failure the partly written file is removed. */
int cv_png_save(const cv_tensor *t, const char *path, cv_error *err);

#endif
