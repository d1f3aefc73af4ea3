/* Depthwise convolution's per-plane kernels, one table per CPU level
 * (core/cpu.h); conv2d_depthwise.c keeps the geometry, threads and
 * scratch. Every level gives the scalar level's results bit for bit: each
 * output, and each lane of a partial sum, sees the same operations in the
 * same order (no FMA: the build is C11, so -ffp-contract=off). */
#ifndef NN_OPS_CONV2D_DEPTHWISE_KERNELS_H
#define NN_OPS_CONV2D_DEPTHWISE_KERNELS_H

#include "core/cpu.h"
#include "ops/conv2d_depthwise.h"

/* Flat runs are whole blocks of this many floats, and the weight and bias
 * gradients are kept as this many lane partial sums per tap, at every
 * level (an AVX-512 register, or two AVX2 ones): the sums' order, and so
 * their bits, do not depend on the level. */
enum { NN_DEPTHWISE_LANES = 16 };

/* The phase planes' shape, and where each tap reads (conv2d_depthwise.c
 * explains the layout). */
typedef struct nn_depthwise_flat {
    int L;              /* row length of every phase plane */
    int rows;           /* rows of every phase plane */
    long stride;        /* floats from one phase plane to the next */
    int phases;         /* stride_h * stride_w */
    long outputs;       /* oh L rounded up to whole blocks */
    long tap[NN_DEPTHWISE_MAX_TAPS];   /* phase plane base + offset of each tap */
} nn_depthwise_flat;

/* n is a multiple of NN_DEPTHWISE_LANES in all that take it; `off` holds
 * one offset per tap into `base` (or `d`), w the taps' weights. */
typedef struct nn_depthwise_kernels {
    /* Copies plane x (h, w) into the phase planes at buf, zero-padded,
     * slack included. */
    void (*fill_phases)(float *buf, const nn_depthwise_flat *f, const float *x,
                        const nn_depthwise_geom *q);
    /* Adds the phase planes' interior (the unpadded pixels) onto plane dx (h, w). */
    void (*add_phases)(float *dx, const float *buf, const nn_depthwise_flat *f,
                       const nn_depthwise_geom *q);
    /* out[i] = sum over taps t, in order, from 0, of w[t] base[off[t] + i], i < n. */
    void (*taps_sum)(float *restrict out, const float *base, const long *off, const float *w,
                     int taps, long n);
    /* d[off[t] + i] += w[t] g[i], tap after tap, i < n. */
    void (*taps_scatter)(float *d, const float *restrict g, const long *off, const float *w,
                         int taps, long n);
    /* lanes[t L + j] += g[i] base[off[t] + i] for i = j, j + L, ... < n
     * (L = NN_DEPTHWISE_LANES), i ascending: per tap, L partial dot products. */
    void (*taps_dot)(float *restrict lanes, const float *g, const float *base, const long *off,
                     int taps, long n);
    /* lanes[j] += g[i] for i = j, j + L, ... < n, i ascending. */
    void (*lane_sums)(float *restrict lanes, const float *g, long n);
    /* y (oh, ow) from the flat run `out` (rows L apart): out + bias, through
     * max(., 0) when relu. */
    void (*out_rows)(float *restrict y, const float *restrict out, float bias, int relu, int oh,
                     int ow, int L);
    /* The flat gradient plane g (oh rows of L, zero at ox >= ow) from dy
     * (oh, ow), masked by y > 0 when relu (a fused ReLU's gradient). */
    void (*grad_rows)(float *restrict g, const float *restrict dy, const float *restrict y, int relu,
                      int oh, int ow, int L);
} nn_depthwise_kernels;

NN_DECLARE_KERNELS(nn_depthwise_kernels, nn_depthwise_kernels);

#endif
