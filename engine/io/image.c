/* image.c — picks the reader from the first bytes; saving goes to PNG. */
#include "image.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "file.h"
#include "jpeg.h"
#include "png.h"

static const unsigned char png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
static const unsigned char jpeg_soi[3] = {0xff, 0xd8, 0xff};

cv_tensor *cv_image_load_from_memory(const unsigned char *buf, size_t n,
                                     const char *name, cv_error *err) {
  if (n >= sizeof png_sig && !memcmp(buf, png_sig, sizeof png_sig))
    return cv_png_load_from_memory(buf, n, name, err);
  if (n >= sizeof jpeg_soi && !memcmp(buf, jpeg_soi, sizeof jpeg_soi))
    return cv_jpeg_load_from_memory(buf, n, name, err);
  cv_error_set(err, "%s: unknown image format (%s; supported: PNG, JPEG)", name,
               n == 0 ? "the file is empty" : "the first bytes are neither "
               "a PNG signature nor a JPEG start of image");
  return NULL;
}

cv_tensor *cv_image_load(const char *path, cv_error *err) {
  return cv_io_load_file(path, cv_image_load_from_memory, err);
}

/* Extensions of formats we cannot write: saving under them would mislabel. */
static int other_image_ext(const char *path) {
  static const char *exts[] = {"jpg", "jpeg", "bmp", "gif", "tif", "tiff",
                               "webp", "ppm", "pgm", NULL};
  const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
  if (!dot || (slash && dot < slash)) return 0;
  for (int i = 0; exts[i]; i++)
    if (!strcasecmp(dot + 1, exts[i])) return 1;
  return 0;
}

int cv_image_save(const cv_tensor *t, const char *path, cv_error *err) {
  if (other_image_ext(path))
    return cv_error_set(err, "%s: cannot write this format (images are saved as "
                        "PNG: use a .png name)", path);
  return cv_png_save(t, path, err);
}
