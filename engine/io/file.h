/*
 * file.h — whole-file reading shared by the readers in engine/io/.
 *
 * Every reader parses from memory (so that fuzzers need no files); the path
 * variants read the file with cv_io_read_file first.
 */
#ifndef CV_IO_FILE_H
#define CV_IO_FILE_H

#include <stddef.h>
#include <stdio.h>

#include "error.h"
#include "tensor/tensor.h"

/* Largest image, in values (channels x height x width), that a reader will
 * allocate; a header that declares more is refused with a clear message.
 * 2^30 floats are 4 GiB. The fuzz build lowers it to stay in its memory limit. */
#ifndef CV_IO_MAX_VALUES
#define CV_IO_MAX_VALUES ((long long)1 << 30)
#endif

/* Reads the whole file at path. On success *buf is a new malloc'd buffer
 * (free it; never NULL, even for an empty file) of *n bytes and a NUL after
 * them, so text parsers may stop at it. On failure returns -1 with
 * "<path>: cannot open (<OS reason>)" or similar. */
int cv_io_read_file(const char *path, unsigned char **buf, size_t *n,
                    cv_error *err);
/* The same for a stream the caller opened (and closes): for readers whose
 * "cannot open" message is their own. path names f in messages. */
int cv_io_read_stream(FILE *f, const char *path, unsigned char **buf,
                      size_t *n, cv_error *err);

/* A reader of whole files held in memory (name is used in messages). */
typedef cv_tensor *(*cv_memory_reader)(const unsigned char *buf, size_t n,
                                       const char *name, cv_error *err);
/* Reads the file at path and hands its bytes to read: the path variant of
 * every *_from_memory reader. New reference or NULL. */
cv_tensor *cv_io_load_file(const char *path, cv_memory_reader read,
                           cv_error *err);

#endif
