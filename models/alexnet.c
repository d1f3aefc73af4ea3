/* AlexNet (Krizhevsky et al. 2012) as torchvision 0.14's
 * torchvision.models.alexnet, the one-GPU variant of "One weird trick"
 * (Krizhevsky 2014): the same layers, state_dict keys, shapes and
 * initialization (torch's layer defaults; torchvision does not re-initialize
 * AlexNet), so a checkpoint loads into the torchvision module.
 *
 *   features.0     conv 11x11 stride 4 pad 2 -> 64, ReLU, max-pool 3/2
 *   features.3     conv 5x5 pad 2 -> 192, ReLU, max-pool 3/2
 *   features.6     conv 3x3 pad 1 -> 384, ReLU
 *   features.8     conv 3x3 pad 1 -> 256, ReLU
 *   features.10    conv 3x3 pad 1 -> 256, ReLU, max-pool 3/2
 *   adaptive average pool to 6x6, flatten
 *   classifier.0   dropout, classifier.1 Linear -> 4096, ReLU
 *   classifier.3   dropout, classifier.4 Linear -> 4096, ReLU
 *   classifier.6   Linear -> classes
 *
 * Options: model.channels (the five conv widths, [64, 192, 384, 256, 256]),
 * model.hidden (4096) and model.dropout (0.5), so that the original
 * two-tower widths 48-128-192-192-128 / 2048 are a config away. There is
 * no well-known 32x32 AlexNet, so model.stem accepts only "imagenet"; the
 * smallest input the three max-pools allow is 63x63. */
#include <stdio.h>
#include <string.h>

#include "io/config.h"
#include "models/models.h"
#include "nn/layers.h"

enum { ALEXNET_CONVS = 5, ALEXNET_POOL_OUT = 6, ALEXNET_MIN_SIZE = 63 };

/* torchvision's module indices of the five convs and three Linears. */
static const int conv_index[ALEXNET_CONVS] = {0, 3, 6, 8, 10};
static const int fc_index[3] = {1, 4, 6};
static const int conv_kernel[ALEXNET_CONVS] = {11, 5, 3, 3, 3};
static const int conv_stride[ALEXNET_CONVS] = {4, 1, 1, 1, 1};
static const int conv_pad[ALEXNET_CONVS] = {2, 2, 1, 1, 1};
/* A 3/2 max-pool follows these convs. */
static const int pool_after[ALEXNET_CONVS] = {1, 1, 0, 0, 1};

typedef struct alexnet {
    nn_conv2d_layer conv[ALEXNET_CONVS];
    nn_linear_layer fc[3];
    float dropout;
} alexnet;

/* Output extent of a window of `kernel` at `stride` over n (+ pad each
 * side), as torch's floor mode; 0 when not even one window fits. */
static int window_out(int n, int kernel, int stride, int pad)
{
    return n + 2 * pad < kernel ? 0 : (n + 2 * pad - kernel) / stride + 1;
}

/* The feature map's extent after `features` for an input extent n. */
static int features_out(int n)
{
    for (int i = 0; i < ALEXNET_CONVS; i++) {
        n = window_out(n, conv_kernel[i], conv_stride[i], conv_pad[i]);
        if (pool_after[i]) n = window_out(n, 3, 2, 0);
    }
    return n;
}

/* model.channels, model.hidden, model.dropout and model.stem; errors name the key. */
static nn_status read_options(nn_config *cfg, long *channels, long *hidden, float *dropout)
{
    static const long def[ALEXNET_CONVS] = {64, 192, 384, 256, 256};
    const char *stem;
    double p;
    int n;
    NN_TRY(nn_config_int_marker_list(cfg, "model.channels", ALEXNET_CONVS, ALEXNET_CONVS, 1, 65536,
                                     NULL, 0, def, ALEXNET_CONVS, channels, &n));
    NN_TRY(nn_config_int(cfg, "model.hidden", 4096, 1, 1L << 20, hidden));
    NN_TRY(nn_config_number(cfg, "model.dropout", 0.5, 0.0, 1.0, &p));
    /* p = 1 would scale the kept nothing by 1 / 0. */
    if (p >= 1.0)
        return nn_error(NN_ERR_INPUT, "%s: model.dropout: expected a number in [0, 1), found %g",
                        nn_config_origin(cfg), p);
    NN_TRY(nn_config_string(cfg, "model.stem", "imagenet", NULL, &stem));
    if (strcmp(stem, "imagenet"))
        return nn_error(NN_ERR_INPUT, "%s: model.stem: expected \"imagenet\" (AlexNet has no "
                        "well-known 32x32 stem; inputs from %dx%d work), found \"%s\"",
                        nn_config_origin(cfg), ALEXNET_MIN_SIZE, ALEXNET_MIN_SIZE, stem);
    *dropout = (float)p;
    return NN_OK;
}

static nn_status alexnet_build(nn_model *m, nn_config *cfg)
{
    long ch[ALEXNET_CONVS], hidden = 0;
    float dropout = 0.0f;
    NN_TRY(read_options(cfg, ch, &hidden, &dropout));
    const nn_model_input *in = &m->input;
    if (features_out(in->height) < 1 || features_out(in->width) < 1)
        return nn_error(NN_ERR_INPUT, "alexnet: input %dx%d is too small (at least %dx%d)",
                        in->height, in->width, ALEXNET_MIN_SIZE, ALEXNET_MIN_SIZE);
    alexnet *net = nn_arena_calloc(m->params.arena, sizeof *net);
    if (!net) return NN_ERR_RUNTIME;
    net->dropout = dropout;
    nn_params *p = &m->params;
    char name[32];
    int prev = in->channels;
    for (int i = 0; i < ALEXNET_CONVS; i++) {
        /* Every conv is followed by a ReLU, fused into it. */
        nn_conv2d_args a = nn_conv2d_simple(conv_stride[i], conv_pad[i]);
        a.relu = 1;
        snprintf(name, sizeof name, "features.%d", conv_index[i]);
        if (nn_conv2d_layer_init(&net->conv[i], p, name, prev, (int)ch[i], conv_kernel[i], a, 1))
            return NN_ERR_RUNTIME;
        prev = (int)ch[i];
    }
    const int fc_in[3] = {prev * ALEXNET_POOL_OUT * ALEXNET_POOL_OUT, (int)hidden, (int)hidden};
    const int fc_out[3] = {(int)hidden, (int)hidden, in->num_classes};
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "classifier.%d", fc_index[i]);
        if (nn_linear_layer_init(&net->fc[i], p, name, fc_in[i], fc_out[i], 1)) return NN_ERR_RUNTIME;
    }
    m->impl = net;
    return NN_OK;
}

static nn_tensor *alexnet_forward(nn_model *m, nn_tape *t, nn_tensor *x)
{
    const alexnet *net = m->impl;
    for (int i = 0; i < ALEXNET_CONVS; i++) {
        x = nn_conv2d_layer_forward(&net->conv[i], t, x);
        if (pool_after[i]) x = nn_maxpool2d(t, x, 3, 2, 0);
    }
    /* At 224x224 the map is already 6x6, where the pool is the identity. */
    if (x && (x->shape[2] != ALEXNET_POOL_OUT || x->shape[3] != ALEXNET_POOL_OUT))
        x = nn_adaptive_avgpool2d(t, x, ALEXNET_POOL_OUT, ALEXNET_POOL_OUT);
    x = nn_flatten(t, x);
    x = nn_dropout_layer_forward(t, x, net->dropout);
    x = nn_relu(t, nn_linear_layer_forward(&net->fc[0], t, x));
    x = nn_dropout_layer_forward(t, x, net->dropout);
    x = nn_relu(t, nn_linear_layer_forward(&net->fc[1], t, x));
    return nn_linear_layer_forward(&net->fc[2], t, x);
}

const nn_model_def nn_model_alexnet = {
    .name = "alexnet",
    .summary = "AlexNet as torchvision: 5 convs 64-192-384-256-256, 3 max-pools, fc 4096, 4096, "
               "classes (channels, hidden, dropout)",
    .build = alexnet_build,
    .forward = alexnet_forward,
};
