/* Depthwise convolution (groups == in channels == out channels), the
 * direct way: private to conv2d.c, which picks it.
 *
 * im2col + GEMM fits a depthwise layer badly: each group is a GEMM with
 * one output row and K = kh * kw (9), so BLAS does almost no work per
 * call and the copy dominates. Here every (sample, channel) plane is
 * convolved directly, tap by tap, sixteen outputs to a vector
 * (conv2d_depthwise.c says how). Work is shared out by channel, and each channel's
 * weight gradient is summed over the samples in order, so results do not
 * depend on the thread count. */
#ifndef NN_OPS_CONV2D_DEPTHWISE_H
#define NN_OPS_CONV2D_DEPTHWISE_H

#include "ops/ops.h"

/* The largest kernel (kh * kw) it takes; conv2d.c sends larger ones
 * through im2col. */
#define NN_DEPTHWISE_MAX_TAPS 64

typedef struct nn_depthwise_geom {
    int n, c, h, w;        /* input (and output channels) */
    int kh, kw, oh, ow;
    nn_conv2d_args a;
} nn_depthwise_geom;

/* Floats of scratch each thread needs, for both directions. */
long nn_conv2d_depthwise_scratch(const nn_depthwise_geom *q);

/* y: (n, c, oh, ow) = depthwise(x: (n, c, h, w), w: (c, 1, kh, kw)) + b,
 * with a fused ReLU when a.relu. b may be NULL. scratch: threads *
 * nn_conv2d_depthwise_scratch(q) floats. */
void nn_conv2d_depthwise_forward(float *y, const float *x, const float *w, const float *b,
                                 const nn_depthwise_geom *q, float *scratch);

/* Adds the gradients of the forward above into dx, dw, db (each may be
 * NULL); y is the forward's output, read for a fused ReLU's mask. Scratch
 * as the forward's. */
void nn_conv2d_depthwise_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                                  const float *w, const float *y, const nn_depthwise_geom *q,
                                  float *scratch);

#endif
