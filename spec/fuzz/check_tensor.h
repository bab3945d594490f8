/* check_tensor.h — what the image and array harnesses ask of a reader's
 * answer: a failure says why and names the input; a success is readable to
 * its last value. */
#ifndef CV_FUZZ_CHECK_TENSOR_H
#define CV_FUZZ_CHECK_TENSOR_H

#include <string.h>

#include "tensor/tensor.h"

/* Traps (a finding) on a nameless failure; releases t. */
static inline void cv_fuzz_check_tensor(cv_tensor *t, const cv_error *err,
                                        const char *name) {
  size_t n = strlen(name);
  if (!t && (strncmp(err->msg, name, n) != 0 || strncmp(err->msg + n, ": ", 2) != 0))
    __builtin_trap();
  if (!t) return;
  const float *x = cv_tensor_data(t);
  volatile float sum = 0;
  for (int64_t i = 0; i < cv_tensor_numel(t); i++) sum += x[i];
  (void)sum;
  cv_tensor_release(t);
}

#endif
