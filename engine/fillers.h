/* fillers.h — Caffe's parameter initialisers, on the engine's seeded RNG. */
#ifndef CV_FILLERS_H
#define CV_FILLERS_H

#include "caffe.pb-c.h"
#include "tensor/tensor.h"

/* Fills t as fp says: constant (value), uniform (min, max), gaussian (mean,
 * std), xavier (uniform +-sqrt(3/n)), msra (gaussian, std sqrt(2/n)); n is
 * fan_in = numel/size[0], fan_out = numel/size[1] or their average, as
 * variance_norm says. fp NULL means constant 0. An unknown type is an error
 * naming it. */
int cv_filler_apply(const Caffe__FillerParameter *fp, cv_tensor *t,
                    cv_error *err);

#endif
