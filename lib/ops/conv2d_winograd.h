/* 3x3 stride-1 convolution by Winograd's minimal filtering, F(2x2, 3x3):
 * private to conv2d.c, which picks it.
 *
 * Each 2x2 output tile is A^T [(G g G^T) . (B^T d B)] A for its 4x4 input
 * patch d: 16 multiplies per channel pair instead of 36, so the GEMMs (one
 * per point of the 4x4 Winograd domain) do 2.25 times fewer flops than
 * im2col's. im2col already runs near the BLAS peak, so only fewer flops win.
 * The input gradient is the same transform applied to dy with the flipped,
 * transposed kernel; the weight gradient is summed in the Winograd domain
 * and brought back by G's adjoint.
 *
 * Tiles are cut into blocks of a size fixed by the shapes; the forward and
 * the input gradient give each thread whole blocks, and every weight
 * gradient point sums the blocks in block order, so results do not depend
 * on the thread count. */
#ifndef NN_OPS_CONV2D_WINOGRAD_H
#define NN_OPS_CONV2D_WINOGRAD_H

#include "ops/ops.h"

typedef struct nn_winograd_geom {
    int n, c, h, w;        /* input */
    int o, oh, ow;         /* output (3x3 kernel, stride 1, no dilation, one group) */
    int pad_h, pad_w;      /* 0 to 2 each */
    int relu;              /* a fused ReLU: y = max(conv + b, 0) */
} nn_winograd_geom;

/* 1 when the Winograd path is valid and pays off for this convolution. */
int nn_conv2d_winograd_fits(int c, int o, int kh, int kw, nn_conv2d_args a);

/* Floats of scratch the forward needs (all threads together, for
 * `threads` threads). */
long nn_conv2d_winograd_forward_scratch(const nn_winograd_geom *q, int threads);

/* y: (n, o, oh, ow) = conv(x: (n, c, h, w), w: (o, c, 3, 3)) + b, with a
 * fused ReLU when q->relu; b may be NULL. scratch: as sized above. */
void nn_conv2d_winograd_forward(float *y, const float *x, const float *w, const float *b,
                                const nn_winograd_geom *q, float *scratch);

/* Floats of scratch the backward needs (all threads together). */
long nn_conv2d_winograd_backward_scratch(const nn_winograd_geom *q, int threads);

/* Adds the gradients of the forward above into dx, dw, db (each may be
 * NULL); y is the forward's output, read for a fused ReLU's mask. */
void nn_conv2d_winograd_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                                 const float *w, const float *y, const nn_winograd_geom *q,
                                 float *scratch);

#endif
