/* fuzz_binaryproto.c — libFuzzer: the mean (BlobProto) reader. */
#include <stdint.h>

#include "caffe/caffe_io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cv_error err;
  cv_tensor_release(
      cv_caffe_read_mean_from_memory(data, size, "fuzz.binaryproto", &err));
  return 0;
}
