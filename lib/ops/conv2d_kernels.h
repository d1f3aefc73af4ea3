/* The data movement around conv2d's GEMMs (im2col, col2im, the bias and
 * ReLU epilogue, the bias gradient's sums), one table per CPU level
 * (core/cpu.h). Every level gives the scalar level's results bit for bit. */
#ifndef NN_OPS_CONV2D_KERNELS_H
#define NN_OPS_CONV2D_KERNELS_H

#include "core/cpu.h"
#include "ops/ops.h"

/* A convolution's shapes, as conv2d.c plans it. */
typedef struct nn_conv_geom {
    int n, c, h, w;          /* input */
    int o, kh, kw;           /* weight */
    int oh, ow;              /* output */
    nn_conv2d_args a;
    int cg, og;              /* input / output channels per group */
    int k;                   /* cg * kh * kw: the GEMM's inner size */
    int p;                   /* oh * ow */
    int s;                   /* samples per chunk */
    int chunks;
    int direct;              /* 1x1, stride 1, no padding, s == 1: cols are x itself */
    int depthwise;           /* groups == c == o: conv2d_depthwise.c does it */
    int winograd;            /* 3x3 stride 1: conv2d_winograd.c does it */
    float *kept;             /* the forward's cols, or NULL */
} nn_conv_geom;

typedef struct nn_conv2d_kernels {
    /* Unrolls group g of samples [n0, n0 + s) of x: (n, c, h, w) into cols
     * (k rows, ld columns; sample i fills columns [i p, (i + 1) p)).
     * Out-of-image taps are zero. */
    void (*im2col)(float *cols, int ld, const float *x, const nn_conv_geom *q, int n0, int s, int g);
    /* The adjoint: adds each cols entry onto its pixel of dx (per pixel,
     * the taps of a kernel row summed in kernel-column order, then those
     * sums in kernel-row order, then into dx; tap by tap into dx when the
     * horizontal stride is not 1). */
    void (*col2im)(float *dx, const float *cols, int ld, const nn_conv_geom *q, int n0, int s, int g);
    /* y[0..n) = src + bias, through max(., 0) if relu (src may be y). */
    void (*bias_act)(float *y, const float *src, float bias, int relu, long n);
    /* d[0..n) = y > 0 ? dy : 0 (a fused ReLU's backward). */
    void (*relu_mask)(float *restrict d, const float *dy, const float *y, long n);
    /* The sum of s[0..n) in 16 interleaved partial sums (element j into
     * sum j % 16), added in order at the end. */
    float (*row_sum)(const float *s, long n);
} nn_conv2d_kernels;

NN_DECLARE_KERNELS(nn_conv2d_kernels, nn_conv2d_kernels);

#endif
