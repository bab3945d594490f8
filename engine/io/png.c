/* png.c — PNG reading and writing through libpng, errors via setjmp. */
#include "png.h"

#include <errno.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file.h"

/* libpng's error pointer: its last message, copied before the longjmp. */
typedef struct {
  char msg[256];
} png_msg;

static void on_error(png_structp png, png_const_charp msg) {
  png_msg *m = png_get_error_ptr(png);
  snprintf(m->msg, sizeof m->msg, "%s", msg);
  png_longjmp(png, 1);
}

/* Warnings (ancillary chunk trouble, odd profiles) do not stop a read. */
static void on_warning(png_structp png, png_const_charp msg) {
  (void)png;
  (void)msg;
}

/* ---- reading ----------------------------------------------------------- */

typedef struct {
  png_msg m;                 /* first: it is the error pointer */
  const unsigned char *buf;
  size_t n, pos;
  png_structp png;
  png_infop info;
  int past_end;              /* the error was reading beyond the data */
  unsigned char *pixels;     /* the decoded image, rows one after another */
  png_bytep *rows;
  cv_tensor *t;
} png_reader;

static void read_mem(png_structp png, png_bytep out, size_t len) {
  png_reader *r = png_get_io_ptr(png);
  if (len > r->n - r->pos) {
    r->past_end = 1;
    png_error(png, "truncated file");
  }
  memcpy(out, r->buf + r->pos, len);
  r->pos += len;
}

/* Expands every format to 8 or 16 bits of gray, gray+alpha, RGB or RGBA. */
static void set_transforms(png_reader *r) {
  int type = png_get_color_type(r->png, r->info);
  if (type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(r->png);
  if (type == PNG_COLOR_TYPE_GRAY && png_get_bit_depth(r->png, r->info) < 8)
    png_set_expand_gray_1_2_4_to_8(r->png);
  if (png_get_valid(r->png, r->info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(r->png);
  png_set_interlace_handling(r->png);
  png_read_update_info(r->png, r->info);
}

/* Refuses sizes beyond CV_IO_MAX_VALUES, and sizes that deflate (at most
 * ~1032:1) could not have packed into the bytes we have: such a file is
 * truncated, and refusing early avoids a huge allocation. raw_rowbytes is
 * the row size as stored, before palettes and small depths are expanded. */
static void check_size(png_reader *r, size_t w, size_t h, size_t c,
                       size_t raw_rowbytes) {
  char why[160];
  if ((double)w * (double)h * (double)c > (double)CV_IO_MAX_VALUES) {
    snprintf(why, sizeof why, "a %zux%zu image of %zu channel%s is larger than "
             "the limit of %lld values", w, h, c, c == 1 ? "" : "s",
             (long long)CV_IO_MAX_VALUES);
    png_error(r->png, why);
  }
  if ((double)(raw_rowbytes + 1) * (double)h / 1100.0 > (double)r->n) {
    snprintf(why, sizeof why, "truncated file (a %zux%zu image cannot fit "
             "in %zu bytes)", w, h, r->n);
    png_error(r->png, why);
  }
}

/* Samples (8 or 16 bit, interleaved) to a C x H x W float tensor. */
static void to_planes(png_reader *r, size_t w, size_t h, size_t c, int depth) {
  float *out = cv_tensor_data(r->t);
  size_t plane = w * h;
  for (size_t y = 0; y < h; y++) {
    const unsigned char *row = r->rows[y];
    for (size_t x = 0; x < w; x++)
      for (size_t k = 0; k < c; k++) {
        size_t s = x * c + k;
        float v = depth == 16 ? (float)((row[2 * s] << 8) | row[2 * s + 1]) / 257.0f
                              : (float)row[s];
        out[k * plane + y * w + x] = v;
      }
  }
}

/* Everything that may longjmp happens here: the caller frees r's fields. */
static int decode(png_reader *r, cv_error *err) {
  if (setjmp(png_jmpbuf(r->png))) return -1;
  png_set_read_fn(r->png, r, read_mem);
  png_read_info(r->png, r->info);
  size_t raw_rowbytes = png_get_rowbytes(r->png, r->info);
  set_transforms(r);
  size_t w = png_get_image_width(r->png, r->info);
  size_t h = png_get_image_height(r->png, r->info);
  size_t c = png_get_channels(r->png, r->info);
  size_t rowbytes = png_get_rowbytes(r->png, r->info);
  int depth = png_get_bit_depth(r->png, r->info);
  check_size(r, w, h, c, raw_rowbytes);
  r->pixels = malloc(rowbytes * h);
  r->rows = malloc(h * sizeof *r->rows);
  if (!r->pixels || !r->rows) png_error(r->png, "out of memory");
  for (size_t y = 0; y < h; y++) r->rows[y] = r->pixels + y * rowbytes;
  png_read_image(r->png, r->rows);
  png_read_end(r->png, NULL);
  int64_t size[3] = {(int64_t)c, (int64_t)h, (int64_t)w};
  r->t = cv_tensor_empty(3, size, err);
  if (!r->t) return -2; /* err already says why */
  to_planes(r, w, h, c, depth);
  return 0;
}

cv_tensor *cv_png_load_from_memory(const unsigned char *buf, size_t n,
                                   const char *name, cv_error *err) {
  if (n < 8 || png_sig_cmp(buf, 0, 8))
    return cv_error_set(err, "%s: not a PNG file (bad signature at byte offset 0)", name),
           NULL;
  png_reader r = {.buf = buf, .n = n};
  r.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &r.m, on_error, on_warning);
  if (r.png) r.info = png_create_info_struct(r.png);
  int status = r.info ? decode(&r, err) : -1;
  if (!r.info) snprintf(r.m.msg, sizeof r.m.msg, "out of memory");
  png_destroy_read_struct(r.png ? &r.png : NULL, r.info ? &r.info : NULL, NULL);
  free(r.pixels);
  free(r.rows);
  if (status == 0) return r.t;
  if (status == -2) cv_error_prefix(err, "%s", name);
  cv_tensor_release(r.t);
  if (status == -1 && r.past_end)
    cv_error_set(err, "%s: bad PNG: truncated file (it ends at byte offset %zu)", name, n);
  else if (status == -1)
    cv_error_set(err, "%s: bad PNG: %s (near byte offset %zu)", name, r.m.msg, r.pos);
  return NULL;
}

cv_tensor *cv_png_load(const char *path, cv_error *err) {
  return cv_io_load_file(path, cv_png_load_from_memory, err);
}

/* ---- writing ------------------------------------------------------------ */

static int check_writable(const cv_tensor *t, const char *path, cv_error *err) {
  char shape[CV_SHAPE_STR_MAX];
  int64_t c = t->ndim == 3 ? t->size[0] : 1;
  if ((t->ndim != 2 && t->ndim != 3) || c < 1 || c > 4 ||
      t->size[t->ndim - 1] < 1 || t->size[t->ndim - 2] < 1)
    return cv_error_set(err, "%s: cannot write a %s tensor as PNG (expected C x H x W "
                        "with C = 1, 2, 3 or 4, or H x W, none of them 0)", path,
                        cv_shape_str(t->ndim, t->size, shape, sizeof shape));
  if (t->size[t->ndim - 1] > 1000000 || t->size[t->ndim - 2] > 1000000)
    return cv_error_set(err, "%s: cannot write a %s tensor as PNG (at most 1000000 "
                        "pixels a side)", path,
                        cv_shape_str(t->ndim, t->size, shape, sizeof shape));
  return 0;
}

/* Planes of floats to interleaved bytes, clamped and rounded. */
static void to_bytes(const float *in, unsigned char *out, size_t c, size_t plane) {
  for (size_t i = 0; i < plane; i++)
    for (size_t k = 0; k < c; k++) {
      float v = in[k * plane + i];
      if (!(v > 0.0f)) v = 0.0f; /* also NaN */
      if (v > 255.0f) v = 255.0f;
      out[i * c + k] = (unsigned char)(v + 0.5f);
    }
}

typedef struct {
  png_msg m;
  FILE *f;
  const unsigned char *bytes;
  size_t w, h, c;
} png_writer;

static int encode(png_writer *wr, png_structp png, png_infop info) {
  static const int types[] = {PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA,
                              PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA};
  if (setjmp(png_jmpbuf(png))) return -1;
  png_init_io(png, wr->f);
  png_set_IHDR(png, info, (png_uint_32)wr->w, (png_uint_32)wr->h, 8,
               types[wr->c - 1], PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (size_t y = 0; y < wr->h; y++)
    png_write_row(png, wr->bytes + y * wr->w * wr->c);
  png_write_end(png, NULL);
  return 0;
}

/* Opens path and runs encode, turning every failure into err. */
static int write_file(png_writer *wr, const char *path, cv_error *err) {
  wr->f = fopen(path, "wb");
  if (!wr->f)
    return cv_error_set(err, "%s: cannot open for writing (%s)", path, strerror(errno));
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &wr->m, on_error,
                                            on_warning);
  png_infop info = png ? png_create_info_struct(png) : NULL;
  int status = info ? encode(wr, png, info) : -1;
  if (!info) snprintf(wr->m.msg, sizeof wr->m.msg, "out of memory");
  png_destroy_write_struct(png ? &png : NULL, info ? &info : NULL);
  if (fclose(wr->f) != 0 && status == 0) {
    status = -1;
    snprintf(wr->m.msg, sizeof wr->m.msg, "%s", strerror(errno));
  }
  if (status == 0) return 0;
  remove(path);
  return cv_error_set(err, "%s: cannot write PNG (%s)", path, wr->m.msg);
}

int cv_png_save(const cv_tensor *t, const char *path, cv_error *err) {
  if (check_writable(t, path, err) < 0) return -1;
  cv_tensor *c = cv_tensor_contiguous((cv_tensor *)t, err);
  if (!c) return -1;
  png_writer wr = {.c = t->ndim == 3 ? (size_t)t->size[0] : 1,
                   .h = (size_t)t->size[t->ndim - 2], .w = (size_t)t->size[t->ndim - 1]};
  unsigned char *bytes = malloc(wr.w * wr.h * wr.c);
  if (!bytes) {
    cv_tensor_release(c);
    return cv_error_set(err, "%s: out of memory", path);
  }
  to_bytes(cv_tensor_data(c), bytes, wr.c, wr.w * wr.h);
  cv_tensor_release(c);
  wr.bytes = bytes;
  int status = write_file(&wr, path, err);
  free(bytes);
  return status;
}
