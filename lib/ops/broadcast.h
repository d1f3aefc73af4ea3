/* Broadcast layouts, private to lib/ops: the one piece of code behind the
 * broadcasting binary ops (elementwise.c), their gradient's sum over the
 * broadcast dims, and the reductions (reduce.c), whose forward is such a sum
 * and whose backward is such a broadcast.
 *
 * A layout describes an output shape and one or two inputs broadcast against
 * it (NumPy rules: right-aligned, each input dim equal to the output's or 1).
 * Dims of extent 1 are dropped and neighbouring dims merged where no input
 * changes between broadcast and not, so most layouts end up with one to
 * three dims and long contiguous rows. Both kernels give the same bits for
 * any thread count: work is split by shape alone and every sum runs in a
 * fixed order. */
#ifndef NN_OPS_BROADCAST_H
#define NN_OPS_BROADCAST_H

#include <stdint.h>

#include "core/tensor.h"

typedef struct nn_bcast {
    int ndim;                         /* merged dims, at least 1 */
    int64_t shape[NN_MAX_DIMS];       /* output extent of each merged dim */
    int64_t stride[2][NN_MAX_DIMS];   /* each input's element stride; 0 where broadcast */
    int64_t numel;                    /* of the output */
} nn_bcast;

/* The broadcast of shapes a and b into out (at most NN_MAX_DIMS dims, count
 * in *ndim). Returns 0 when they do not broadcast. */
int nn_bcast_shape(int *ndim, int *out, int na, const int *a, int nb, const int *b);

/* Lays out output shape `out` against inputs a and b, each of which must
 * broadcast to it (asserted). A scalar (0 dims) is broadcast everywhere; so
 * is b when it is NULL (a one-input layout). */
void nn_bcast_init(nn_bcast *l, int ndim, const int *out, int na, const int *a, int nb,
                   const int *b);

typedef enum nn_bcast_fn {
    NN_BCAST_ADD,    /* a + b */
    NN_BCAST_SUB,    /* a - b */
    NN_BCAST_MUL,    /* a * b */
    NN_BCAST_DIV,    /* a / b */
    NN_BCAST_EQ,     /* 1 if a == b, else 0 */
} nn_bcast_fn;

/* y = fn(a, b) elementwise over the output of layout l (y += with
 * `accumulate`). y is the output's contiguous buffer and must not overlap a
 * or b. */
void nn_bcast_map(const nn_bcast *l, nn_bcast_fn fn, int accumulate, float *y, const float *a,
                  const float *b);

typedef enum nn_bcast_reduce_fn {
    NN_BCAST_REDUCE_SUM,
    NN_BCAST_REDUCE_MAX,   /* NaN wins, as torch.amax */
} nn_bcast_reduce_fn;

/* Reduces x (the output's shape, contiguous) over the dims where input k is
 * broadcast, into dst (input k's shape): dst = alpha * reduction, or
 * dst += with `accumulate`. An empty output leaves dst as it is (the
 * caller decides what reducing nothing gives). */
void nn_bcast_reduce(const nn_bcast *l, int k, nn_bcast_reduce_fn fn, float alpha, int accumulate,
                     float *dst, const float *x);

#endif
