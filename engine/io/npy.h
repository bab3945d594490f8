/*
 * npy.h — NumPy's .npy files: any tensor in and out, for NumPy interop.
 *
 *   cv_tensor *t = cv_npy_load("acts.npy", &err);   // new reference
 *   cv_npy_save(t, "copy.npy", &err);               // float32, format 1.0
 *
 * Reading takes format versions 1.0, 2.0 and 3.0, C order, little- or
 * big-endian, and the dtypes b1, i1, u1, i2, u2, i4, u4, i8, u8, f2, f4, f8; every
 * one becomes float32 (integers beyond 2^24 and f8 values lose precision as
 * they would in NumPy's astype(float32)). Fortran order, other dtypes, a bad
 * magic, a truncated header or truncated data are errors naming the file and
 * the byte offset or header field.
 */
#ifndef CV_IO_NPY_H
#define CV_IO_NPY_H

#include <stddef.h>

#include "tensor/tensor.h"

/* New reference, or NULL with err set. */
cv_tensor *cv_npy_load(const char *path, cv_error *err);
/* The same from a buffer holding a whole file; name is used in messages. */
cv_tensor *cv_npy_load_from_memory(const unsigned char *buf, size_t n,
                                   const char *name, cv_error *err);
/* Writes t (borrowed, any layout) as little-endian float32, format 1.0. */
int cv_npy_save(const cv_tensor *t, const char *path, cv_error *err);

#endif
