#include "nn/layers.h"

#include <stdio.h>

static nn_tensor *add_named(nn_params *p, const char *prefix, const char *suffix, int ndim,
                            const int *shape, nn_init init)
{
    char name[256];
    snprintf(name, sizeof name, "%s.%s", prefix, suffix);
    return nn_params_add(p, name, ndim, shape, init);
}

int nn_linear_layer_init(nn_linear_layer *l, nn_params *p, const char *prefix, int in, int out,
                         int bias)
{
    nn_init init = nn_init_torch_default(in);
    l->weight = add_named(p, prefix, "weight", NN_SHAPE(out, in), init);
    l->bias = bias ? add_named(p, prefix, "bias", NN_SHAPE(out), init) : NULL;
    return l->weight && (!bias || l->bias) ? 0 : -1;
}

int nn_conv2d_layer_init(nn_conv2d_layer *l, nn_params *p, const char *prefix, int in, int out,
                         int kernel, nn_conv2d_args args, int bias)
{
    nn_init init = nn_init_torch_default(in / args.groups * kernel * kernel);
    l->args = args;
    l->weight = add_named(p, prefix, "weight", NN_SHAPE(out, in / args.groups, kernel, kernel), init);
    l->bias = bias ? add_named(p, prefix, "bias", NN_SHAPE(out), init) : NULL;
    return l->weight && (!bias || l->bias) ? 0 : -1;
}

nn_tensor *nn_linear_layer_forward(const nn_linear_layer *l, nn_tape *t, nn_tensor *x)
{
    return nn_linear(t, x, l->weight, l->bias);
}

nn_tensor *nn_conv2d_layer_forward(const nn_conv2d_layer *l, nn_tape *t, nn_tensor *x)
{
    return nn_conv2d(t, x, l->weight, l->bias, l->args);
}
