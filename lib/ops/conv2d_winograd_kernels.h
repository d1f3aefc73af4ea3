/* The per-tile work of the Winograd convolution F(2x2, 3x3) (patch
 * gathers, the transforms and their adjoints, tile scatters and gathers),
 * one table per CPU level (core/cpu.h). conv2d_winograd.c keeps the
 * geometry, the GEMMs, the threads and the scratch. Every level gives the
 * scalar level's bits: the same operations in the same order per tile. */
#ifndef NN_OPS_CONV2D_WINOGRAD_KERNELS_H
#define NN_OPS_CONV2D_WINOGRAD_KERNELS_H

#include "core/cpu.h"

/* Tiles per kernel call: 16 tiles side by side in the Winograd-domain
 * rows (the GEMMs' columns). Block sizes are multiples of it. */
enum { NN_WINOGRAD_LANES = 16 };

/* One convolution as the tiled transforms see it: in (n, ci, hi, wi) to
 * out (n, co, ho, wo), tiles of 2x2 outputs over (n, ty, tx). */
typedef struct nn_winograd_core {
    int n, ci, hi, wi, co, ho, wo, pad_h, pad_w;
    int th, tw;           /* tiles down and across one plane */
    long tiles;
    int block;            /* tiles per block */
    long blocks;
} nn_winograd_core;

/* Where one tile lies: its sample and its first output pixel; where its
 * 4x4 patch starts in channel 0 of the input (in_at, maybe before the
 * plane: only the rows and columns flagged inside are read). Lanes past
 * the last tile have n = -1 and no rows or columns inside. */
typedef struct nn_winograd_tile {
    int n, oy, ox;
    long in_at;
    unsigned rows, cols;   /* bit i: patch row / column i lies inside the image */
} nn_winograd_tile;

/* In all of these, `pos` holds cnt tile positions (cnt a multiple of
 * NN_WINOGRAD_LANES) and the Winograd-domain rows are 16 (one per point of
 * the 4x4 domain) groups of channel rows, ld floats each, the tiles along
 * each row: point e of channel c of tile l is at [(e * channels + c) * ld + l]. */
typedef struct nn_winograd_kernels {
    /* v = B^T d B for channel ch of the patches of in (k's input shape;
     * channels: k->ci). mask, when not NULL, has in's shape: where it is
     * not positive the input reads as zero (a fused ReLU's gradient). */
    void (*inputs)(float *v, long ld, const float *in, const float *mask, int ch,
                   const nn_winograd_core *k, const nn_winograd_tile *pos, int cnt);
    /* Output channel oc of m (channels: k->co) brought back by A^T m A into
     * out (k's output shape): out = result + bias (then max(., 0) when
     * relu), or out += result when accumulating (bias and relu unused). */
    void (*outputs)(float *out, int accumulate, const float *m, long ld, float bias, int relu,
                    int oc, const nn_winograd_core *k, const nn_winograd_tile *pos, int cnt);
    /* dm = A dy A^T for output channel oc of dy (k's output shape;
     * channels: k->co), dy read as zero where y (when not NULL, dy's
     * shape: a fused ReLU's output) is not positive. */
    void (*output_grads)(float *dm, long ld, const float *dy, const float *y, int oc,
                         const nn_winograd_core *k, const nn_winograd_tile *pos, int cnt);
    /* u = G g G^T for kernels [k0, k0 + 16) (fewer at the end) of the
     * rows * cols kernels of w (rows, cols, 3, 3): u is 16 rows of rows *
     * cols floats, u row r, column s taking kernel (r, s), or with flip the
     * kernel (s, r) turned by 180 degrees (the input gradient's). */
    void (*weights)(float *u, const float *w, int rows, int cols, int flip, long k0);
    /* dw[kk] += G^T du G for kernels kk in [k0, k0 + 16) (fewer at the
     * end) of count; du: 16 rows of count floats, dw: (count, 3, 3). */
    void (*weight_grads)(float *dw, const float *du, long count, long k0);
} nn_winograd_kernels;

NN_DECLARE_KERNELS(nn_winograd_kernels, nn_winograd_kernels);

#endif
