/* fuzz_caffemodel.c — libFuzzer: the caffemodel reader on arbitrary bytes,
 * then every blob of what it accepted into a tensor. */
#include <stdint.h>

#include "caffe/caffe_io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cv_error err;
  Caffe__NetParameter *net =
      cv_caffe_read_weights_from_memory(data, size, "fuzz.caffemodel", &err);
  if (!net) return 0;
  for (size_t i = 0; i < net->n_layer; i++)
    for (size_t j = 0; j < net->layer[i]->n_blobs; j++)
      cv_tensor_release(cv_caffe_blob_take_tensor(net->layer[i]->blobs[j],
                                                  &err));
  cv_caffe_net_free(net);
  return 0;
}
