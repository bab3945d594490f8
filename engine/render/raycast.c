/* raycast.c — orthographic ray casting through a volume (see raycast.h). */
#include "raycast.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SIDE 16384
#define LUT 1024 /* transfer-function entries over u in [0, 1], read linearly */

cv_raycast_params cv_raycast_defaults(void) {
  cv_raycast_params p = {.azimuth = 30, .elevation = 20, .width = 512, .height = 512,
                         .zoom = 0, .spacing = {1, 1, 1}, .step = 1, .lo = 0, .hi = 1,
                         .colormap = CV_CMAP_VIRIDIS, .opacity = {0.1f, 1, 0.5f},
                         .background = {0, 0, 0}};
  return p;
}

typedef struct {
  const float *v;               /* D x H x W, contiguous, NaN replaced */
  int64_t d, h, w;
  double org[3], du[3], dv[3];  /* screen point (0, 0) and pixel steps, voxel units (x, y, z) */
  double dir[3];                /* one sample step along the ray, voxel units */
  double step;                  /* the step in voxels, for opacity */
  int64_t ph, pw, plane;        /* the padded volume's h + 2, w + 2, (h + 2)(w + 2) */
  float xmax, ymax, zmax;       /* padded positions stay below n + 1 */
} scene;

static int check(const cv_tensor *vol, const cv_raycast_params *p, cv_error *err) {
  char s[CV_SHAPE_STR_MAX];
  if (vol->ndim != 3)
    return cv_error_set(err, "raycast: expected a D x H x W volume, got %s",
                        cv_shape_str(vol->ndim, vol->size, s, sizeof s));
  if (cv_tensor_numel(vol) == 0)
    return cv_error_set(err, "raycast: the volume is empty (%s)",
                        cv_shape_str(3, vol->size, s, sizeof s));
  if (p->width < 1 || p->height < 1 || p->width > MAX_SIDE || p->height > MAX_SIDE)
    return cv_error_set(err, "raycast: picture size must be 1 to %d, got %lld x %lld",
                        MAX_SIDE, (long long)p->width, (long long)p->height);
  for (int i = 0; i < 3; i++)
    if (!(p->spacing[i] > 0 && isfinite(p->spacing[i])))
      return cv_error_set(err, "raycast: spacing of dim %d must be a positive number, got %g",
                          i + 1, p->spacing[i]);
  if (!(p->step > 0 && isfinite(p->step)))
    return cv_error_set(err, "raycast: step must be a positive number, got %g", p->step);
  if (!(p->lo < p->hi))
    return cv_error_set(err, "raycast: range must have lo < hi, got %g, %g", p->lo, p->hi);
  if (!isfinite(p->azimuth) || !isfinite(p->elevation) || !isfinite(p->zoom))
    return cv_error_set(err, "raycast: azimuth, elevation and zoom must be finite");
  return 0;
}

/* Camera vectors in world units, then in voxel units per axis. */
static void setup(scene *sc, const cv_raycast_params *p) {
  double a = p->azimuth * M_PI / 180, e = p->elevation * M_PI / 180;
  double r[3] = {cos(a), 0, -sin(a)};
  double d0[3] = {sin(a), 0, cos(a)};
  double d[3], u[3];
  for (int i = 0; i < 3; i++) {
    d[i] = cos(e) * d0[i] + sin(e) * (i == 1);
    u[i] = cos(e) * (i == 1) - sin(e) * d0[i];
  }
  /* world axis i (x, y, z) is tensor dim 2 - i */
  double sp[3] = {p->spacing[2], p->spacing[1], p->spacing[0]};
  double n[3] = {(double)sc->w, (double)sc->h, (double)sc->d};
  double zoom = p->zoom;
  if (zoom <= 0) {
    double diag = sqrt(n[0] * n[0] * sp[0] * sp[0] + n[1] * n[1] * sp[1] * sp[1] +
                       n[2] * n[2] * sp[2] * sp[2]);
    zoom = (double)(p->width < p->height ? p->width : p->height) / diag;
  }
  double smin = fmin(sp[0], fmin(sp[1], sp[2]));
  double cu = (double)(p->width - 1) / 2, cv = (double)(p->height - 1) / 2;
  for (int i = 0; i < 3; i++) {
    /* world -> index: X / s + (n - 1) / 2 */
    sc->du[i] = r[i] / zoom / sp[i];
    sc->dv[i] = u[i] / zoom / sp[i];
    sc->org[i] = (n[i] - 1) / 2 - cu * sc->du[i] - cv * sc->dv[i];
    sc->dir[i] = d[i] * p->step * smin / sp[i];
  }
  sc->step = p->step;
}

/* The part [t0, t1) of the ray o + t dir inside the box (in steps); 0 if it
 * misses. */
static int clip(const scene *sc, const double o[3], double *t0, double *t1) {
  double n[3] = {(double)sc->w, (double)sc->h, (double)sc->d};
  double lo = -INFINITY, hi = INFINITY;
  for (int i = 0; i < 3; i++) {
    double a = -0.5, b = n[i] - 0.5;
    if (fabs(sc->dir[i]) < 1e-12) {
      if (o[i] < a || o[i] > b) return 0;
      continue;
    }
    double ta = (a - o[i]) / sc->dir[i], tb = (b - o[i]) / sc->dir[i];
    if (ta > tb) {
      double t = ta;
      ta = tb, tb = t;
    }
    lo = fmax(lo, ta), hi = fmin(hi, tb);
  }
  *t0 = lo, *t1 = hi;
  return hi > lo;
}

/* Trilinear interpolation at index position (x, y, z), which lies in the
 * box [-0.5, n - 0.5] along each axis. The volume is stored with a border of
 * one voxel repeating its edges, so the eight neighbours always exist and
 * reading them needs no clamping: the result is that of clamping to the edge
 * voxels. (The clamp below only guards against rounding.) */
static inline float sample(const scene *sc, float x, float y, float z) {
  x += 1, y += 1, z += 1; /* into the padded volume */
  x = x < 0 ? 0 : x > sc->xmax ? sc->xmax : x;
  y = y < 0 ? 0 : y > sc->ymax ? sc->ymax : y;
  z = z < 0 ? 0 : z > sc->zmax ? sc->zmax : z;
  int x0 = (int)x, y0 = (int)y, z0 = (int)z;
  float fx = x - (float)x0, fy = y - (float)y0, fz = z - (float)z0;
  const float *a = sc->v + ((int64_t)z0 * sc->ph + y0) * sc->pw + x0, *b = a + sc->plane;
  int64_t oy = sc->pw;
  float c00 = a[0] + fx * (a[1] - a[0]);
  float c01 = a[oy] + fx * (a[oy + 1] - a[oy]);
  float c10 = b[0] + fx * (b[1] - b[0]);
  float c11 = b[oy] + fx * (b[oy + 1] - b[oy]);
  float c0 = c00 + fy * (c01 - c00), c1 = c10 + fy * (c11 - c10);
  return c0 + fz * (c1 - c0);
}

/* The ray of pixel (i, j): its origin, and its samples' range [s0, s1]. */
static int ray(const scene *sc, int64_t i, int64_t j, double o[3], int64_t *s0, int64_t *s1) {
  for (int c = 0; c < 3; c++) o[c] = sc->org[c] + (double)j * sc->du[c] + (double)i * sc->dv[c];
  double t0, t1;
  if (!clip(sc, o, &t0, &t1)) return 0;
  /* samples at t0 + (s + 1/2), s = 0 .. while inside */
  double count = floor(t1 - t0 - 0.5) + 1;
  if (count < 1) return 0;
  for (int c = 0; c < 3; c++) o[c] += (t0 + 0.5) * sc->dir[c];
  *s0 = 0, *s1 = (int64_t)count;
  return 1;
}

/* A contiguous copy of vol with NaN as lo, with a border of one voxel on
 * every side that repeats the edge voxels. */
static float *prepare(const cv_tensor *vol, float lo, scene *sc, cv_error *err) {
  cv_tensor *c = cv_tensor_contiguous((cv_tensor *)vol, err);
  if (!c) return NULL;
  int64_t d = vol->size[0], h = vol->size[1], w = vol->size[2];
  int64_t pd = d + 2, ph = h + 2, pw = w + 2;
  float *v = malloc((size_t)(pd * ph * pw) * sizeof *v);
  if (!v) {
    cv_tensor_release(c);
    cv_error_set(err, "raycast: out of memory for the volume");
    return NULL;
  }
  const float *p = cv_tensor_data(c);
  for (int64_t z = 0; z < pd; z++)
    for (int64_t y = 0; y < ph; y++)
      for (int64_t x = 0; x < pw; x++) {
        int64_t sz = z == 0 ? 0 : z > d ? d - 1 : z - 1;
        int64_t sy = y == 0 ? 0 : y > h ? h - 1 : y - 1;
        int64_t sx = x == 0 ? 0 : x > w ? w - 1 : x - 1;
        float e = p[(sz * h + sy) * w + sx];
        v[(z * ph + y) * pw + x] = isnan(e) ? lo : e;
      }
  cv_tensor_release(c);
  sc->v = v;
  sc->d = d, sc->h = h, sc->w = w;
  sc->ph = ph, sc->pw = pw, sc->plane = ph * pw;
  /* just below n + 1, so that the upper neighbour n + 1 exists */
  sc->xmax = nextafterf((float)(w + 1), 0), sc->ymax = nextafterf((float)(h + 1), 0);
  sc->zmax = nextafterf((float)(d + 1), 0);
  return v;
}

cv_tensor *cv_raycast_mip(const cv_tensor *vol, const cv_raycast_params *p, cv_error *err) {
  if (check(vol, p, err)) return NULL;
  scene sc;
  float *v = prepare(vol, p->lo, &sc, err);
  if (!v) return NULL;
  setup(&sc, p);
  float fd[3] = {(float)sc.dir[0], (float)sc.dir[1], (float)sc.dir[2]};
  int64_t size[3] = {1, p->height, p->width};
  cv_tensor *out = cv_tensor_empty(3, size, err);
  if (!out) {
    free(v);
    return NULL;
  }
  float *o = cv_tensor_data(out);
#pragma omp parallel for schedule(dynamic, 4)
  for (int64_t i = 0; i < p->height; i++)
    for (int64_t j = 0; j < p->width; j++) {
      double r[3];
      int64_t s0, s1;
      float m = NAN;
      if (ray(&sc, i, j, r, &s0, &s1)) {
        float fr[3] = {(float)r[0], (float)r[1], (float)r[2]};
        m = -INFINITY;
        for (int64_t s = s0; s < s1; s++) {
          float t = (float)s;
          float x = sample(&sc, fr[0] + t * fd[0], fr[1] + t * fd[1], fr[2] + t * fd[2]);
          if (x > m) m = x;
        }
      }
      o[i * p->width + j] = m;
    }
  free(v);
  return out;
}

cv_tensor *cv_raycast_mip_rgb(const cv_tensor *vol, const cv_raycast_params *p,
                              cv_error *err) {
  cv_tensor *m = cv_raycast_mip(vol, p, err);
  if (!m) return NULL;
  int64_t size[3] = {3, p->height, p->width}, n = p->height * p->width;
  cv_tensor *out = cv_tensor_empty(3, size, err);
  if (!out) {
    cv_tensor_release(m);
    return NULL;
  }
  const float *mv = cv_tensor_data(m);
  float *o = cv_tensor_data(out);
  for (int64_t i = 0; i < n; i++) {
    float rgb[3];
    if (isnan(mv[i])) memcpy(rgb, p->background, sizeof rgb);
    else cv_colormap_rgb(p->colormap, (mv[i] - p->lo) / (p->hi - p->lo), rgb);
    for (int c = 0; c < 3; c++) o[c * n + i] = rgb[c];
  }
  cv_tensor_release(m);
  return out;
}

/* Colour (0..1) and per-sample opacity at LUT + 1 values of u. */
static void transfer_table(const cv_raycast_params *p, float (*lut)[4]) {
  float u0 = p->opacity[0], u1 = p->opacity[1], amax = p->opacity[2];
  for (int k = 0; k <= LUT; k++) {
    float u = (float)k / LUT, rgb[3];
    cv_colormap_rgb(p->colormap, u, rgb);
    float a = u <= u0 ? 0 : u >= u1 ? amax : amax * (u - u0) / (u1 - u0);
    a = fminf(fmaxf(a, 0), 1);
    for (int c = 0; c < 3; c++) lut[k][c] = rgb[c] / 255;
    lut[k][3] = (float)(1 - pow(1 - a, p->step));
  }
}

cv_tensor *cv_raycast_composite(const cv_tensor *vol, const cv_raycast_params *p,
                                cv_error *err) {
  if (check(vol, p, err)) return NULL;
  if (!(p->opacity[0] < p->opacity[1]) || !(p->opacity[2] >= 0 && p->opacity[2] <= 1)) {
    cv_error_set(err, "raycast: opacity must be {u0, u1, a} with u0 < u1 and 0 <= a <= 1, "
                 "got {%g, %g, %g}", p->opacity[0], p->opacity[1], p->opacity[2]);
    return NULL;
  }
  scene sc;
  float *v = prepare(vol, p->lo, &sc, err);
  if (!v) return NULL;
  setup(&sc, p);
  float fd[3] = {(float)sc.dir[0], (float)sc.dir[1], (float)sc.dir[2]};
  float(*lut)[4] = malloc((LUT + 1) * sizeof *lut);
  int64_t size[3] = {3, p->height, p->width}, n = p->height * p->width;
  cv_tensor *out = lut ? cv_tensor_empty(3, size, err) : NULL;
  if (!out) {
    if (!lut) cv_error_set(err, "raycast: out of memory");
    free(v), free(lut);
    return NULL;
  }
  transfer_table(p, lut);
  float *o = cv_tensor_data(out);
  float scale = 1 / (p->hi - p->lo), lo = p->lo;
  /* below u0 (in LUT units) a sample is transparent; the table agrees (0 there) */
  float u0 = fmaxf(p->opacity[0], 0) * LUT;
#pragma omp parallel for schedule(dynamic, 4)
  for (int64_t i = 0; i < p->height; i++)
    for (int64_t j = 0; j < p->width; j++) {
      double r[3];
      int64_t s0, s1;
      float acc[3] = {0, 0, 0}, alpha = 0;
      if (ray(&sc, i, j, r, &s0, &s1)) {
        float fr[3] = {(float)r[0], (float)r[1], (float)r[2]};
        for (int64_t s = s0; s < s1 && alpha < 1 - 1.0f / 512; s++) {
          float t = (float)s;
          float x = sample(&sc, fr[0] + t * fd[0], fr[1] + t * fd[1], fr[2] + t * fd[2]);
          float u = (x - lo) * scale;
          u = (u < 0 ? 0 : u > 1 ? 1 : u) * LUT;
          if (u <= u0) continue; /* no opacity: nothing to add (most of a ReLU volume) */
          int k = (int)u;
          if (k >= LUT) k = LUT - 1;
          float f = u - (float)k, e[4];
          for (int c = 0; c < 4; c++) e[c] = lut[k][c] + f * (lut[k + 1][c] - lut[k][c]);
          float wgt = (1 - alpha) * e[3];
          for (int c = 0; c < 3; c++) acc[c] += wgt * e[c];
          alpha += wgt;
        }
      }
      for (int c = 0; c < 3; c++)
        o[c * n + i * p->width + j] = 255 * acc[c] + (1 - alpha) * p->background[c];
    }
  free(v), free(lut);
  return out;
}
