/*
 * raycast.h — pictures of a volume: maximum intensity projection and
 * emission-absorption compositing, seen from any azimuth and elevation.
 *
 *   cv_raycast_params p = cv_raycast_defaults();
 *   p.azimuth = 30; p.elevation = 20; p.lo = 0; p.hi = 5;
 *   cv_tensor *img = cv_raycast_render(vol, &p, &err);   // vol: D x H x W; img 3 x 512 x 512
 *
 * Geometry. Voxel (z, y, x) of a D x H x W volume sits at
 * ((x - (W-1)/2) sx, (y - (H-1)/2) sy, (z - (D-1)/2) sz) with spacing
 * {sz, sy, sx} (p.spacing, in the tensor's dim order); the volume is the box
 * from half a voxel before the first centre to half a voxel after the last.
 * The camera is orthographic. At azimuth 0 and elevation 0 it looks along +z
 * (slice 1 in front), screen right is +x and screen down is +y, so each
 * picture is the volume's maps seen head-on; the azimuth turns the camera
 * about the y axis (towards +x), then the elevation raises it above the
 * volume (looking down, towards +y). Pixel (i, j) of a w x h picture is the ray
 * through ((j - (w-1)/2) / zoom, (i - (h-1)/2) / zoom) on the screen plane
 * through the volume's centre; zoom <= 0 fits the box's diagonal in the
 * picture's shorter side, which keeps the size fixed as the camera turns.
 * Along a ray the samples are `step` voxels apart (of the smallest spacing),
 * the first half a step inside the box, read by trilinear interpolation
 * (clamped to the edge voxels). With zoom 1, step 1 and an axis-aligned view
 * the samples fall on voxel centres.
 *
 * Transfer function: u = (v - lo) / (hi - lo), clamped to [0, 1], gives the
 * colormap's colour and an opacity per voxel of thickness that rises from 0
 * at u <= opacity[0] linearly to opacity[2] at u >= opacity[1]. Compositing
 * is front to back, each sample of opacity 1 - (1 - alpha)^step, and stops
 * once the ray is 1 - 1/512 opaque (what remains moves a pixel by less than
 * half a level of 255); the background shows through what is left.
 * NaN voxels count as lo. Rows are rendered in parallel (OpenMP), each
 * pixel on its own, so threads do not change a picture.
 *
 * Ownership: the functions return NEW references; vol is borrowed.
 */
#ifndef CV_RENDER_RAYCAST_H
#define CV_RENDER_RAYCAST_H

#include "render.h"

typedef struct cv_raycast_params {
  double azimuth, elevation;  /* degrees */
  int64_t width, height;      /* picture size in pixels */
  double zoom;                /* pixels per unit of length; <= 0: fit */
  double spacing[3];          /* voxel size along dims 0, 1, 2 */
  double step;                /* samples per ray are step voxels apart (> 0) */
  float lo, hi;               /* the values mapped to u = 0 and 1 (lo < hi) */
  cv_colormap colormap;
  float opacity[3];           /* u where opacity starts, u where it is full, its value */
  float background[3];        /* 0..255 */
} cv_raycast_params;

/* azimuth 30, elevation 20, 512 x 512, fit, spacing 1, step 1, lo 0, hi 1,
 * viridis, opacity {0.1, 1, 0.5}, black background. */
cv_raycast_params cv_raycast_defaults(void);

/* The largest sample along each ray: 1 x h x w raw values, NaN where a ray
 * misses the volume. */
cv_tensor *cv_raycast_mip(const cv_tensor *vol, const cv_raycast_params *p, cv_error *err);

/* The maximum intensity projection through the colormap (lo..hi), rays that
 * miss in the background colour: 3 x h x w, 0..255. */
cv_tensor *cv_raycast_mip_rgb(const cv_tensor *vol, const cv_raycast_params *p,
                              cv_error *err);

/* Emission-absorption compositing through the transfer function: 3 x h x w, 0..255. */
cv_tensor *cv_raycast_composite(const cv_tensor *vol, const cv_raycast_params *p,
                                cv_error *err);

#endif
