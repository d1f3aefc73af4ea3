#include "nn/layers.h"

#include <stdio.h>

int nn_linear_layer_init(nn_linear_layer *l, nn_params *p, const char *prefix, int in, int out,
                         int bias)
{
    nn_init init = nn_init_torch_default(in);
    l->weight = nn_params_add_named(p, prefix, "weight", NN_SHAPE(out, in), init);
    l->bias = bias ? nn_params_add_named(p, prefix, "bias", NN_SHAPE(out), init) : NULL;
    return l->weight && (!bias || l->bias) ? 0 : -1;
}

int nn_conv2d_layer_init(nn_conv2d_layer *l, nn_params *p, const char *prefix, int in, int out,
                         int kernel, nn_conv2d_args args, int bias)
{
    nn_init init = nn_init_torch_default(in / args.groups * kernel * kernel);
    l->args = args;
    l->weight = nn_params_add_named(p, prefix, "weight", NN_SHAPE(out, in / args.groups, kernel, kernel), init);
    l->bias = bias ? nn_params_add_named(p, prefix, "bias", NN_SHAPE(out), init) : NULL;
    return l->weight && (!bias || l->bias) ? 0 : -1;
}

int nn_batchnorm_layer_init(nn_batchnorm_layer *l, nn_params *p, const char *prefix, int channels,
                            float momentum, float eps)
{
    l->momentum = momentum;
    l->eps = eps;
    l->weight = nn_params_add_named(p, prefix, "weight", NN_SHAPE(channels), nn_init_torch_norm_weight());
    l->bias = nn_params_add_named(p, prefix, "bias", NN_SHAPE(channels), nn_init_torch_norm_bias());
    l->running_mean = nn_params_add_buffer_named(p, prefix, "running_mean", NN_SHAPE(channels), nn_init_zeros());
    l->running_var = nn_params_add_buffer_named(p, prefix, "running_var", NN_SHAPE(channels), nn_init_ones());
    l->num_batches_tracked = nn_params_add_buffer_named(p, prefix, "num_batches_tracked", 0, NULL, nn_init_zeros());
    return l->weight && l->bias && l->running_mean && l->running_var && l->num_batches_tracked ? 0 : -1;
}

nn_tensor *nn_linear_layer_forward(const nn_linear_layer *l, nn_tape *t, nn_tensor *x)
{
    return nn_linear(t, x, l->weight, l->bias);
}

nn_tensor *nn_conv2d_layer_forward(const nn_conv2d_layer *l, nn_tape *t, nn_tensor *x)
{
    return nn_conv2d(t, x, l->weight, l->bias, l->args);
}

nn_tensor *nn_batchnorm_layer_forward(const nn_batchnorm_layer *l, nn_tape *t, nn_tensor *x)
{
    return nn_batchnorm_layer_forward_act(l, t, x, NN_BN_ACT_NONE);
}

nn_tensor *nn_batchnorm_layer_forward_act(const nn_batchnorm_layer *l, nn_tape *t, nn_tensor *x,
                                          nn_bn_act act)
{
    /* As torch, every forward in training mode counts (and moves the running stats). */
    if (x && t->training) l->num_batches_tracked->data[0] += 1.0f;
    return nn_batchnorm_act(t, x, l->weight, l->bias, l->running_mean, l->running_var, l->momentum,
                            l->eps, act);
}

int nn_conv_bn_layer_init(nn_conv_bn_layer *l, nn_params *p, const char *conv_name, const char *bn_name,
                          int in, int out, int kernel, int stride, int groups, nn_init weight_init,
                          float bn_momentum, float bn_eps)
{
    nn_conv2d_args a = nn_conv2d_simple(stride, (kernel - 1) / 2);
    a.groups = groups;
    if (nn_conv2d_layer_init_with(&l->conv, p, conv_name, in, out, kernel, a, 0, weight_init, nn_init_zeros()))
        return -1;
    return nn_batchnorm_layer_init(&l->bn, p, bn_name, out, bn_momentum, bn_eps);
}

nn_tensor *nn_conv_bn_layer_forward(const nn_conv_bn_layer *l, nn_tape *t, nn_tensor *x, nn_bn_act act)
{
    return nn_batchnorm_layer_forward_act(&l->bn, t, nn_conv2d_layer_forward(&l->conv, t, x), act);
}

nn_tensor *nn_dropout_layer_forward(nn_tape *t, nn_tensor *x, float p)
{
    if (!t->training || p == 0.0f) return x;
    return nn_dropout(t, x, p, nn_tape_next_seed(t));
}

int nn_linear_layer_init_with(nn_linear_layer *l, nn_params *p, const char *prefix, int in, int out,
                              int bias, nn_init weight_init, nn_init bias_init)
{
    l->weight = nn_params_add_named(p, prefix, "weight", NN_SHAPE(out, in), weight_init);
    l->bias = bias ? nn_params_add_named(p, prefix, "bias", NN_SHAPE(out), bias_init) : NULL;
    return l->weight && (!bias || l->bias) ? 0 : -1;
}

int nn_conv2d_layer_init_with(nn_conv2d_layer *l, nn_params *p, const char *prefix, int in, int out,
                              int kernel, nn_conv2d_args args, int bias, nn_init weight_init,
                              nn_init bias_init)
{
    l->args = args;
    l->weight = nn_params_add_named(p, prefix, "weight", NN_SHAPE(out, in / args.groups, kernel, kernel),
                          weight_init);
    l->bias = bias ? nn_params_add_named(p, prefix, "bias", NN_SHAPE(out), bias_init) : NULL;
    return l->weight && (!bias || l->bias) ? 0 : -1;
}
