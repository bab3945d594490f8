/* fuzz_nrrd.c — libFuzzer harness for the NRRD reader, fed from memory. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "check_tensor.h"
#include "io/nrrd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char name[] = "fuzz.nrrd";
  cv_error err;
  err.msg[0] = '\0';
  cv_nrrd_meta meta;
  cv_tensor *t = cv_nrrd_load_from_memory(data, size, name, &meta, &err);
  cv_fuzz_check_tensor(t, &err, name);
  return 0;
}
