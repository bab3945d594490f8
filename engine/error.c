#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int cv_error_set(cv_error *err, const char *fmt, ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
  }
  return -1;
}

int cv_error_prefix(cv_error *err, const char *fmt, ...) {
  if (err) {
    char both[2 * CV_ERROR_MAX + 2];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(both, CV_ERROR_MAX, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    if (n >= CV_ERROR_MAX) n = CV_ERROR_MAX - 1;
    both[n++] = ':';
    both[n++] = ' ';
    memcpy(both + n, err->msg, CV_ERROR_MAX);
    both[n + CV_ERROR_MAX - 1] = '\0';
    memcpy(err->msg, both, CV_ERROR_MAX - 1);
    err->msg[CV_ERROR_MAX - 1] = '\0';
  }
  return -1;
}
