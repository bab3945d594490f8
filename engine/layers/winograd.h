/* winograd.h — 3x3 and 5x5 stride-1 convolution by Winograd's minimal
 * filtering F(2x2, 3x3) and F(2x2, 5x5) (Lavin and Gray, 2015): each 2x2
 * block of outputs costs 16 (36) multiplications per input channel instead
 * of 36 (100), as 16 (36) GEMMs: forward, input gradient and weight
 * gradient. Kernels only: conv.c decides when to use them. */
#ifndef CV_WINOGRAD_H
#define CV_WINOGRAD_H

#include "layers.h"

/* Whether this file can do a convolution with these params: 3x3 or 5x5,
 * stride 1, no dilation, equal pads below the kernel size (so that the
 * input gradient, the same convolution with pad kernel - 1 - pad, qualifies
 * too). */
int cv_winograd_fits(const cv_conv_params *p);

/* The shapes of one call, NCHW. `pad` is the convolution's own. */
typedef struct {
  int64_t n, c, h, w;   /* the input */
  int64_t m, oh, ow;    /* output channels and size: h + 2 pad - kernel + 1 */
  int group, pad;
  int kernel;           /* 3 or 5 */
} cv_winograd_shape;

/* Which weights w holds: its storage's id and version and where in it w
 * starts (tensor.h); the transform of the same tag is kept between calls
 * (winograd_cache.h). NULL, or storage 0: transform them anew. */
typedef struct {
  uint64_t storage, version;
  int64_t offset;
} cv_weights_tag;

/* y = x (*) w + b, Caffe's convolution (cross-correlation): w is
 * M x C/group x k x k, b may be NULL. */
int cv_winograd_forward(const cv_winograd_shape *s, const float *x,
                        const float *w, const cv_weights_tag *tag,
                        const float *b, float *y, cv_workspace *ws,
                        cv_error *err);

/* dx of a convolution with weights w (M x C/group x k x k) and pad p, from
 * dy: the convolution of dy with the weights flipped and each group's
 * in/out channels swapped, pad k - 1 - p. s describes that convolution: its
 * input is dy (n x M x OH x OW), its output dx (n x C x H x W). */
int cv_winograd_input_grad(const cv_winograd_shape *s, const float *dy,
                           const float *w, const cv_weights_tag *tag,
                           float *dx, cv_workspace *ws, cv_error *err);

/* dw += the weight gradient of the convolution s (the forward's shape) at
 * input x and output gradient dy: per 2x2 block, G^T [(A dy A^T) .* (B^T d
 * B)] G summed over blocks, images and groups' channels, again as GEMMs. */
int cv_winograd_weight_grad(const cv_winograd_shape *s, const float *x,
                            const float *dy, float *dw, cv_workspace *ws,
                            cv_error *err);

#endif
