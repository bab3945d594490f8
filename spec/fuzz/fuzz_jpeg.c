/* fuzz_jpeg.c — libFuzzer harness for the jpeg reader, fed from memory. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "io/jpeg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char name[] = "fuzz.jpeg", prefix[] = "fuzz.jpeg: ";
  cv_error err;
  err.msg[0] = '\0';
  cv_tensor *t = cv_jpeg_load_from_memory(data, size, name, &err);
  /* A failure must say why, naming the input; a success must be readable. */
  if (!t && strncmp(err.msg, prefix, sizeof prefix - 1) != 0) __builtin_trap();
  if (t) {
    const float *x = cv_tensor_data(t);
    volatile float sum = 0;
    for (int64_t i = 0; i < cv_tensor_numel(t); i++) sum += x[i];
    (void)sum;
    cv_tensor_release(t);
  }
  return 0;
}
