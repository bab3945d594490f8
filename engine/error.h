/*
 * error.h — how the engine reports failure.
 *
 * Engine functions never print and never exit. A function that can fail takes a
 * `cv_error *err` last, returns a status (0 / -1) or NULL, and on failure fills
 * err->msg with a sentence naming the file, layer, blob or shape involved.
 * The Lua binding turns that sentence into a Lua error.
 */
#ifndef CV_ERROR_H
#define CV_ERROR_H

#define CV_ERROR_MAX 512

typedef struct cv_error {
  char msg[CV_ERROR_MAX];
} cv_error;

/* Fills err (when not NULL) with a printf-style message; always returns -1 so
 * callers can write `return cv_error_set(err, ...)`. */
int cv_error_set(cv_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Puts "prefix: " in front of the message already in err, to add context
 * (a file name, a layer) as the error travels up. Returns -1. */
int cv_error_prefix(cv_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
