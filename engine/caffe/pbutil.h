/*
 * pbutil.h — small helpers the caffe/ files share for building protobuf-c
 * messages by hand (all memory from malloc, so that
 * protobuf_c_message_free_unpacked(msg, NULL) frees what they build).
 */
#ifndef CV_CAFFE_PBUTIL_H
#define CV_CAFFE_PBUTIL_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* A new message of type d with its defaults, or NULL when out of memory. */
void *cv_pb_new(const ProtobufCMessageDescriptor *d);
/* Appends one element of elsize bytes to the malloc'd array *arr of *n
 * elements. Returns 0, or -1 when out of memory (array unchanged). */
int cv_pb_append(void *arr, size_t *n, size_t elsize, const void *value);
/* Replaces the string at *slot (freeing it unless it is the default). */
int cv_pb_set_string(char **slot, const char *value, const void *dflt);
/* Stores one element (cv_pb_type_size bytes at v) into field f of m:
 * appended when repeated, else set (with its has_ flag). -1: out of memory. */
int cv_pb_store(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                const void *v);
/* Whether an optional field holds a value (a string or message that is not
 * the default, or a scalar whose has_ flag is set). */
int cv_pb_is_set(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f);
/* Bytes an element of a field of type t takes in a message. */
size_t cv_pb_type_size(ProtobufCType t);

/* Walks buf as a message of type d and reports the first place where the
 * wire format breaks: fills err with "byte offset N (field path): what".
 * Returns 0 when nothing is wrong with the framing. */
int cv_pb_wire_check(const uint8_t *buf, size_t n,
                     const ProtobufCMessageDescriptor *d, cv_error *err);

/* protobuf-c allocations aligned to 64 bytes (the tensor storage alignment),
 * so that a blob's value array can become a tensor's storage as it is. */
extern ProtobufCAllocator cv_pb_aligned_allocator;

/* Maps a whole file read-only (no copy: the page cache is the buffer) into
 * *buf, *n. An empty file gives *buf NULL, *n 0. Returns 0 or -1. */
int cv_pb_map_file(const char *path, const uint8_t **buf, size_t *n,
                   cv_error *err);
void cv_pb_unmap_file(const uint8_t *buf, size_t n);

/* Reads a whole file into a malloc'd buffer (a NUL is added after it), as
 * cv_io_read_file does; a file that cannot be opened gives the Caffe
 * readers' "<path>: cannot open: <OS reason>". */
uint8_t *cv_pb_read_file(const char *path, size_t *n, cv_error *err);

#endif
