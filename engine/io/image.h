/*
 * image.h — loading a picture whatever its format, saving as PNG.
 *
 *   cv_tensor *img = cv_image_load("photo", &err);   // C x H x W, 0..255
 *   cv_image_save(img, "out.png", &err);
 *
 * The reader is chosen from the file's first bytes (the PNG signature, or the
 * JPEG start FF D8 FF), never from its name. See png.h and jpeg.h for what
 * each reader gives. Saving writes PNG (png.h); a name ending in another
 * image extension (.jpg, .bmp, ...) is refused rather than mislabelled.
 */
#ifndef CV_IO_IMAGE_H
#define CV_IO_IMAGE_H

#include <stddef.h>

#include "tensor/tensor.h"

/* New reference, or NULL with err set ("x: unknown image format ..." for
 * anything but PNG and JPEG, "x: cannot open (reason)" for a missing file). */
cv_tensor *cv_image_load(const char *path, cv_error *err);
cv_tensor *cv_image_load_from_memory(const unsigned char *buf, size_t n,
                                     const char *name, cv_error *err);
/* t is borrowed. */
int cv_image_save(const cv_tensor *t, const char *path, cv_error *err);

#endif
