/* Layers: parameters declared under a name prefix plus a forward built only
 * from ops (no gradient code of their own). */
#ifndef NN_NN_LAYERS_H
#define NN_NN_LAYERS_H

#include "nn/params.h"
#include "ops/ops.h"

typedef struct nn_linear_layer {
    nn_tensor *weight, *bias;   /* (out, in), (out) or NULL */
} nn_linear_layer;

typedef struct nn_conv2d_layer {
    nn_tensor *weight, *bias;   /* (out, in/groups, k, k), (out) or NULL */
    nn_conv2d_args args;
} nn_conv2d_layer;

/* Declares `<prefix>.weight` and (with bias) `<prefix>.bias`, PyTorch's
 * default init. Returns 0, or -1 when the arena is full. */
int nn_linear_layer_init(nn_linear_layer *l, nn_params *p, const char *prefix, int in, int out,
                         int bias);
int nn_conv2d_layer_init(nn_conv2d_layer *l, nn_params *p, const char *prefix, int in, int out,
                         int kernel, nn_conv2d_args args, int bias);

nn_tensor *nn_linear_layer_forward(const nn_linear_layer *l, nn_tape *t, nn_tensor *x);
nn_tensor *nn_conv2d_layer_forward(const nn_conv2d_layer *l, nn_tape *t, nn_tensor *x);

#endif
