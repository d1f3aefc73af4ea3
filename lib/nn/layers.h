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

/* BatchNorm1d/2d with affine weight and bias and tracked running stats, as
 * torch: state_dict keys <prefix>.weight, .bias, .running_mean,
 * .running_var, .num_batches_tracked (the last three are buffers;
 * num_batches_tracked is a 0-d float here, an int64 in torch's files). */
typedef struct nn_batchnorm_layer {
    nn_tensor *weight, *bias;                      /* (C) */
    nn_tensor *running_mean, *running_var;         /* (C) buffers */
    nn_tensor *num_batches_tracked;                /* 0-d buffer */
    float momentum, eps;
} nn_batchnorm_layer;

/* torch's defaults: momentum 0.1, eps 1e-5. */
#define NN_BATCHNORM_MOMENTUM 0.1f
#define NN_BATCHNORM_EPS 1e-5f

/* Declares the five tensors above, weight 1, bias 0, running_mean 0,
 * running_var 1. Returns 0, or -1 when the arena is full. */
int nn_batchnorm_layer_init(nn_batchnorm_layer *l, nn_params *p, const char *prefix, int channels,
                            float momentum, float eps);

nn_tensor *nn_linear_layer_forward(const nn_linear_layer *l, nn_tape *t, nn_tensor *x);
nn_tensor *nn_conv2d_layer_forward(const nn_conv2d_layer *l, nn_tape *t, nn_tensor *x);

/* Batch statistics and a running-stat update in training (t->training,
 * counting the batch in num_batches_tracked), the running stats in eval. x: (N, C), (N, C, L) or (N, C, H, W) -> x's shape. */
nn_tensor *nn_batchnorm_layer_forward(const nn_batchnorm_layer *l, nn_tape *t, nn_tensor *x);
/* The same, then relu or relu6 in the same op (nn_batchnorm_act): what
 * models write as relu(bn(x)). */
nn_tensor *nn_batchnorm_layer_forward_act(const nn_batchnorm_layer *l, nn_tape *t, nn_tensor *x,
                                          nn_bn_act act);

/* A bias-free Conv2d with padding (kernel - 1) / 2 and the BatchNorm2d
 * after it, the unit ResNet and MobileNet are built of; the conv's keys are
 * <conv_name>.weight, the norm's <bn_name>.*. */
typedef struct nn_conv_bn_layer {
    nn_conv2d_layer conv;
    nn_batchnorm_layer bn;
} nn_conv_bn_layer;

/* The conv's weight from weight_init. Returns 0, or -1 when the arena is full. */
int nn_conv_bn_layer_init(nn_conv_bn_layer *l, nn_params *p, const char *conv_name, const char *bn_name,
                          int in, int out, int kernel, int stride, int groups, nn_init weight_init,
                          float bn_momentum, float bn_eps);

/* act(bn(conv(x))), the activation fused into the batch-norm op. */
nn_tensor *nn_conv_bn_layer_forward(const nn_conv_bn_layer *l, nn_tape *t, nn_tensor *x, nn_bn_act act);

/* Inverted dropout with probability p and a seed from nn_tape_next_seed,
 * active only in training; x itself otherwise. */
nn_tensor *nn_dropout_layer_forward(nn_tape *t, nn_tensor *x, float p);

/* As nn_linear_layer_init and nn_conv2d_layer_init, but the weight is filled
 * from `weight_init` and the bias (if any) from `bias_init` instead of
 * PyTorch's default: for models that re-initialize their layers after
 * construction, as torchvision's do (conv kaiming_normal fan_out, bias 0;
 * linear normal(0, 0.01), bias 0). Returns 0, or -1 when the arena is full. */
int nn_linear_layer_init_with(nn_linear_layer *l, nn_params *p, const char *prefix, int in, int out,
                              int bias, nn_init weight_init, nn_init bias_init);
int nn_conv2d_layer_init_with(nn_conv2d_layer *l, nn_params *p, const char *prefix, int in, int out,
                              int kernel, nn_conv2d_args args, int bias, nn_init weight_init,
                              nn_init bias_init);

#endif
