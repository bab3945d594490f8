/* jpeg.c — JPEG reading through libjpeg-turbo; its errors longjmp back here. */
#include "jpeg.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>

#include "file.h"

typedef struct {
  struct jpeg_error_mgr pub; /* first: libjpeg sees only this part */
  jmp_buf jump;
  int code;                  /* libjpeg's message code of the failure */
  char msg[JMSG_LENGTH_MAX];
} jpeg_err;

static void on_error_exit(j_common_ptr ci) {
  jpeg_err *e = (jpeg_err *)ci->err;
  ci->err->format_message(ci, e->msg);
  e->code = ci->err->msg_code;
  longjmp(e->jump, 1);
}

/* libjpeg only warns about corrupt or missing data and fills in gray; we
 * make those warnings errors. Metadata oddities and traces pass. */
static void on_emit_message(j_common_ptr ci, int level) {
  int code = ci->err->msg_code;
  if (level >= 0 || code == JWRN_ADOBE_XFORM || code == JWRN_JFIF_MAJOR ||
      code == JWRN_BOGUS_ICC)
    return;
  on_error_exit(ci);
}

static void on_output_message(j_common_ptr ci) { (void)ci; }

typedef struct {
  jpeg_err e;
  struct jpeg_decompress_struct ci;
  unsigned char *row;   /* one decoded scanline, interleaved */
  cv_tensor *t;
} jpeg_reader;

/* Refuses color spaces we do not convert and sizes beyond the limit;
 * fills e.msg and returns -3. */
static int check_header(jpeg_reader *r) {
  J_COLOR_SPACE cs = r->ci.jpeg_color_space;
  if (cs == JCS_CMYK || cs == JCS_YCCK) {
    snprintf(r->e.msg, sizeof r->e.msg, "%s JPEG files are not supported "
             "(only gray and color)", cs == JCS_CMYK ? "CMYK" : "YCCK");
    return -3;
  }
  double values = (double)r->ci.image_width * r->ci.image_height *
                  (r->ci.num_components == 1 ? 1 : 3);
  if (values > (double)CV_IO_MAX_VALUES) {
    snprintf(r->e.msg, sizeof r->e.msg, "a %ux%u image is larger than the limit "
             "of %lld values", (unsigned)r->ci.image_width,
             (unsigned)r->ci.image_height, (long long)CV_IO_MAX_VALUES);
    return -3;
  }
  r->ci.out_color_space = r->ci.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
  return 0;
}

/* Copies scanline y (interleaved) into the C x H x W planes. */
static void row_to_planes(jpeg_reader *r, size_t y) {
  size_t w = r->ci.output_width, h = r->ci.output_height;
  size_t c = (size_t)r->ci.output_components;
  float *out = cv_tensor_data(r->t) + y * w;
  for (size_t x = 0; x < w; x++)
    for (size_t k = 0; k < c; k++) out[k * w * h + x] = r->row[x * c + k];
}

/* Everything that may longjmp happens here: the caller frees r's fields.
 * Returns -1 for a libjpeg error, -3 for our refusal (both in e.msg), -2
 * with err set. */
static int decode(jpeg_reader *r, const unsigned char *buf, size_t n, cv_error *err) {
  if (setjmp(r->e.jump)) return -1;
  jpeg_create_decompress(&r->ci);
  jpeg_mem_src(&r->ci, buf, (unsigned long)n);
  jpeg_read_header(&r->ci, TRUE);
  if (check_header(r) < 0) return -3;
  jpeg_start_decompress(&r->ci);
  int64_t size[3] = {r->ci.output_components, r->ci.output_height, r->ci.output_width};
  r->t = cv_tensor_empty(3, size, err);
  if (!r->t) return -2;
  r->row = malloc((size_t)r->ci.output_width * (size_t)r->ci.output_components);
  if (!r->row) ERREXIT(&r->ci, JERR_OUT_OF_MEMORY);
  while (r->ci.output_scanline < r->ci.output_height) {
    size_t y = r->ci.output_scanline;
    if (jpeg_read_scanlines(&r->ci, &r->row, 1) != 1) ERREXIT(&r->ci, JERR_INPUT_EOF);
    row_to_planes(r, y);
  }
  jpeg_finish_decompress(&r->ci);
  return 0;
}

cv_tensor *cv_jpeg_load_from_memory(const unsigned char *buf, size_t n,
                                    const char *name, cv_error *err) {
  jpeg_reader *r = calloc(1, sizeof *r);
  if (!r) return cv_error_set(err, "%s: out of memory", name), NULL;
  r->ci.err = jpeg_std_error(&r->e.pub);
  r->e.pub.error_exit = on_error_exit;
  r->e.pub.emit_message = on_emit_message;
  r->e.pub.output_message = on_output_message;
  int status = decode(r, buf, n, err);
  /* where libjpeg stopped reading: the end, for truncated data */
  size_t at = r->ci.src ? n - r->ci.src->bytes_in_buffer : 0;
  jpeg_destroy_decompress(&r->ci);
  cv_tensor *t = r->t;
  if (status != 0) {
    int code = r->e.code;
    if (status == -1 && (code == JWRN_JPEG_EOF || code == JERR_INPUT_EOF ||
                         code == JERR_INPUT_EMPTY))
      cv_error_set(err, "%s: bad JPEG: truncated file (it ends at byte offset %zu)",
                   name, n);
    else if (status == -1)
      cv_error_set(err, "%s: bad JPEG: %s (near byte offset %zu)", name, r->e.msg, at);
    if (status == -3) cv_error_set(err, "%s: %s", name, r->e.msg);
    if (status == -2) cv_error_prefix(err, "%s", name);
    cv_tensor_release(t);
    t = NULL;
  }
  free(r->row);
  free(r);
  return t;
}

cv_tensor *cv_jpeg_load(const char *path, cv_error *err) {
  return cv_io_load_file(path, cv_jpeg_load_from_memory, err);
}
