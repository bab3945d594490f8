/* random.h — the one seeded generator: the same seed gives the same numbers
 * on every machine (random.c says how). */
#ifndef CV_RANDOM_H
#define CV_RANDOM_H

#include <stdint.h>

#include "tensor.h"

void cv_manual_seed(uint64_t seed);
uint64_t cv_random_u64(void);
double cv_random_uniform(void);   /* [0, 1) with 53 random bits */
double cv_random_normal(void);    /* standard normal, Box–Muller in double */
/* Fills t in place (any layout) from the generator, in row-major order. */
void cv_tensor_uniform_(cv_tensor *t, float lo, float hi);
void cv_tensor_normal_(cv_tensor *t, float mean, float std);

#endif
