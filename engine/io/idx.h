/*
 * idx.h — IDX files (MNIST, Fashion-MNIST), gzipped or not.
 *
 *   cv_tensor *x = cv_idx_load("train-images-idx3-ubyte.gz", &err); // 60000x28x28
 *   cv_tensor *y = cv_idx_load("train-labels-idx1-ubyte.gz", &err); // 60000
 *
 * The header is two zero bytes, a type byte (0x08 ubyte, 0x09 byte, 0x0B
 * short, 0x0C int, 0x0D float, 0x0E double), the number of dimensions, then
 * each dimension as a big-endian uint32; the values follow, big-endian.
 * zlib reads both forms (a file without the gzip magic passes through).
 * Every value becomes float32. A bad magic, an unknown type, a truncated
 * header or truncated data are errors naming the file and the byte offset.
 */
#ifndef CV_IO_IDX_H
#define CV_IO_IDX_H

#include "tensor/tensor.h"

/* New reference, or NULL with err set. */
cv_tensor *cv_idx_load(const char *path, cv_error *err);

#endif
