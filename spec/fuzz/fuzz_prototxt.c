/* fuzz_prototxt.c — libFuzzer: the prototxt reader on arbitrary text, in
 * both phases, then the text writer on what it accepted. */
#include <stdint.h>
#include <stdlib.h>

#include "caffe/caffe_io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cv_error err;
  for (int phase = 0; phase < 2; phase++) {
    Caffe__NetParameter *net = cv_caffe_read_net_def_from_memory(
        (const char *)data, size, "fuzz.prototxt", phase, &err);
    if (!net) continue;
    char *text = cv_caffe_format_text(&net->base, &err);
    free(text);
    cv_caffe_net_free(net);
  }
  return 0;
}
