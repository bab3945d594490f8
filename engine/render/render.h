/*
 * render.h — values to pictures: colormaps, image grids and a small font.
 *
 * A tour:
 *
 *   cv_error err;
 *   float lo[16], hi[16];
 *   cv_render_range(maps, lo, hi, &err);             // maps: 16 x 1 x H x W
 *   cv_tensor *rgb = cv_render_colorize(maps, CV_CMAP_VIRIDIS, lo, hi, &err);
 *   float white[3] = {255, 255, 255};
 *   cv_tensor *img = cv_render_tile(rgb, 4, 1, white, 2, &err); // 3 x H' x W'
 *   cv_render_text(img, "CONV1", 2, 2, 1, 0, white, &err);
 *
 * Pictures are float tensors C x H x W holding whole numbers 0..255, the form
 * the PNG writer takes. Ownership: functions returning a cv_tensor* return a
 * NEW reference; tensor arguments are borrowed. Which range to map, how many
 * columns and so on are the caller's choice (lua/cnnvis/vis.lua has the
 * defaults); these are the loops over pixels.
 */
#ifndef CV_RENDER_H
#define CV_RENDER_H

#include "tensor/tensor.h"

typedef enum {
  CV_CMAP_GRAY,      /* black to white */
  CV_CMAP_VIRIDIS,   /* dark violet to yellow, perceptually even */
  CV_CMAP_DIVERGING, /* blue (low) through white (middle) to red (high) */
  CV_CMAP_COUNT
} cv_colormap;

/* The map's name as the Lua API spells it, and back (-1: unknown). */
const char *cv_colormap_name(cv_colormap map);
int cv_colormap_find(const char *name);

/* The colour of u in [0, 1] (clamped; NaN counts as 0) as 0..255 values. */
void cv_colormap_rgb(cv_colormap map, float u, float rgb[3]);

/* Smallest and largest value of each item x[i] (along dim 0) into lo[i],
 * hi[i], NaN skipped (an item of only NaN gives 0, 0). x has >= 1 dims. */
int cv_render_range(const cv_tensor *x, float *lo, float *hi, cv_error *err);

/* x is N x C x H x W with C = 1 or 3. Item i maps [lo[i], hi[i]] to 0..255:
 * through the colormap when C = 1, channel by channel when C = 3 (the map
 * is then unused). A flat range (hi <= lo) maps everything to the map's
 * middle for the diverging map, to its low end otherwise. Returns N x 3 x H x W. */
cv_tensor *cv_render_colorize(const cv_tensor *x, cv_colormap map,
                              const float *lo, const float *hi, cv_error *err);

/* Lays out the N pictures of rgb (N x 3 x H x W) in rows of `cols`, each
 * pixel blown up to scale x scale, with `pad` pixels of pad_rgb between
 * them and around the border (empty cells too). Returns 3 x H' x W'. */
cv_tensor *cv_render_tile(const cv_tensor *rgb, int64_t cols, int64_t pad,
                          const float pad_rgb[3], int64_t scale, cv_error *err);

/* ---- text (font.c): a 5x7 pixel font, upper case, digits and - . , / % :
 * _ ( ) + = # ' ! ? (lower case is drawn upper case, others as ?). */

/* Size in pixels of s drawn at `scale` (upright: w x h; vertical swaps).
 * Drawing takes scale 1 to 1024. */
void cv_render_text_size(const char *s, int64_t scale, int64_t *w, int64_t *h);

/* Draws s into img (3 x H x W) with its box's top-left corner at (x, y),
 * clipped at the edges. vertical: turned a quarter counter-clockwise,
 * reading bottom to top (column labels). */
int cv_render_text(cv_tensor *img, const char *s, int64_t x, int64_t y,
                   int64_t scale, int vertical, const float rgb[3],
                   cv_error *err);

#endif
