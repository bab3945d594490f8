/*
 * nrrd.h — NRRD volumes (teem's format; ParaView, 3D Slicer and napari read
 * it): a tensor out as float32, and NRRD files in.
 *
 *   cv_nrrd_meta m = cv_nrrd_meta_none(3);
 *   strcpy(m.label[0], "filter"); m.spacing[0] = 2;   // dim 0 (slowest) of C x H x W
 *   cv_nrrd_save(t, "conv1.nrrd", &m, CV_NRRD_GZIP, &err);
 *   cv_tensor *v = cv_nrrd_load("conv1.nrrd", &m, &err);   // new reference
 *
 * Metadata is given per tensor dim, in the tensor's order (slowest first);
 * the file lists axes fastest first as NRRD wants, so a C x H x W tensor is
 * written with `sizes: W H C`. Writing: "NRRD0004", type float, little
 * endian, raw or gzip encoding, kinds (default "domain"), labels and
 * spacings when given; the file is written under a temporary name in the
 * same folder and renamed, so a failed write leaves no partial file.
 * Reading: NRRD0001-0005 headers with the common integer types, float and
 * double, either byte order, raw, gzip or ascii encoding, data in the same
 * file; values become float32. Errors name the file and the header line.
 */
#ifndef CV_IO_NRRD_H
#define CV_IO_NRRD_H

#include <stddef.h>

#include "tensor/tensor.h"

#define CV_NRRD_LABEL_MAX 64
#define CV_NRRD_KIND_MAX 32

typedef struct cv_nrrd_meta {
  int ndim;
  double spacing[CV_MAX_DIMS];                 /* NaN: not given */
  char label[CV_MAX_DIMS][CV_NRRD_LABEL_MAX];  /* "": not given */
  char kind[CV_MAX_DIMS][CV_NRRD_KIND_MAX];    /* "": not given ("domain" on writing) */
} cv_nrrd_meta;

typedef enum { CV_NRRD_RAW, CV_NRRD_GZIP } cv_nrrd_encoding;

/* Metadata of ndim dims with nothing given. */
cv_nrrd_meta cv_nrrd_meta_none(int ndim);

/* Writes t (borrowed, 1 to CV_MAX_DIMS dims, any layout). meta may be NULL;
 * its ndim must match t's. Returns 0 or -1. */
int cv_nrrd_save(const cv_tensor *t, const char *path, const cv_nrrd_meta *meta,
                 cv_nrrd_encoding encoding, cv_error *err);

/* A new reference, or NULL with err set; meta (may be NULL) gets what the
 * header said, in the tensor's order. */
cv_tensor *cv_nrrd_load(const char *path, cv_nrrd_meta *meta, cv_error *err);
cv_tensor *cv_nrrd_load_from_memory(const unsigned char *buf, size_t n, const char *name,
                                    cv_nrrd_meta *meta, cv_error *err);

#endif
