/* Batch-norm channel kernels, one table per CPU level (core/cpu.h). Every
 * level gives the scalar level's results bit for bit: the double sums keep
 * their 8 lanes (element j of a row goes to lane j % 8 of its 8-block, a
 * row's tail to lanes 0, 1, ...; the lanes carry on from row to row), and
 * the float expressions are evaluated in the same order, unfused.
 *
 * A channel is n rows of `inner` floats, row i at x + i * stride. */
#ifndef NN_OPS_NORM_KERNELS_H
#define NN_OPS_NORM_KERNELS_H

#include "core/cpu.h"
#include "ops/ops.h"

/* What one channel is normalized with: y = act(((x - mean) rstd) weight + bias). */
typedef struct nn_bn_channel {
    float mean, rstd, weight, bias;
    nn_bn_act act;
} nn_bn_channel;

typedef struct nn_bn_kernels {
    /* lanes[0..8) += the channel's values. */
    void (*sum)(double lanes[8], const float *x, long stride, int n, long inner);
    /* lanes[0..8) += ((double)x - mean)^2 over the channel. */
    void (*sqdev)(double lanes[8], const float *x, long stride, int n, long inner, double mean);
    /* y = act(((x - mean) rstd) weight + bias), y laid out as x. */
    void (*normalize)(float *y, const float *x, long stride, int n, long inner, const nn_bn_channel *k);
    /* With g = dy through the activation's mask (the mask from the
     * activation's input, recomputed from x) and xhat = (x - mean) rstd in
     * float: dy_lanes += g, dyx_lanes += (double)g * xhat. */
    void (*grad_sums)(double dy_lanes[8], double dyx_lanes[8], const float *dy, const float *x,
                      long stride, int n, long inner, const nn_bn_channel *k);
    /* dx += (rstd weight) ((g - mg) - xhat mgx), g and xhat as above. */
    void (*grad_input)(float *dx, const float *dy, const float *x, long stride, int n, long inner,
                       const nn_bn_channel *k, float mg, float mgx);
} nn_bn_kernels;

NN_DECLARE_KERNELS(nn_bn_kernels, nn_bn_kernels);

#endif
