/* fuzz_jpeg.c — libFuzzer harness for the jpeg reader, fed from memory. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "check_tensor.h"
#include "io/jpeg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char name[] = "fuzz.jpeg";
  cv_error err;
  err.msg[0] = '\0';
  cv_tensor *t = cv_jpeg_load_from_memory(data, size, name, &err);
  cv_fuzz_check_tensor(t, &err, name);
  return 0;
}
