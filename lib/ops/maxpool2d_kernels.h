/* Max-pooling row kernels, one table per CPU level (core/cpu.h). Every
 * level gives the scalar level's values and argmax bit for bit. */
#ifndef NN_OPS_MAXPOOL2D_KERNELS_H
#define NN_OPS_MAXPOOL2D_KERNELS_H

#include <stdint.h>

#include "core/cpu.h"

typedef struct nn_pool_geom {
    int planes, h, w, oh, ow, kernel, stride, pad;
} nn_pool_geom;

typedef struct nn_maxpool_kernels {
    /* 2x2, stride 2, no padding: output row y[0..ow) (and argmax, if not
     * NULL, as indices within the plane) from input rows r0 and r1 of a
     * plane w wide; r0 starts at plane index `base`. NaN does not win. */
    void (*row2x2)(float *restrict y, int32_t *restrict argmax, const float *restrict r0,
                   const float *restrict r1, int base, int w, int ow);
    /* Any kernel, stride and padding: output row oy of plane xp. Taps are
     * visited window row by row; the first in-image pixel, then any that
     * is larger or a NaN over a number, wins (PyTorch's rule). */
    void (*row)(float *y, int32_t *argmax, const float *xp, const nn_pool_geom *q, int oy);
} nn_maxpool_kernels;

NN_DECLARE_KERNELS(nn_maxpool_kernels, nn_maxpool_kernels);

#endif
