/* MobileNetV1 (Howard et al. 2017), Table 1 with BatchNorm after every
 * conv:
 *
 *   conv 3x3 s2 -> 32, BN, ReLU
 *   13 depthwise-separable blocks, each 3x3 depthwise conv + BN + ReLU then
 *   1x1 pointwise conv + BN + ReLU, to 64, 128 (s2), 128, 256 (s2), 256,
 *   512 (s2), 512 x5, 1024 (s2), 1024
 *   global average pool, fully connected -> classes
 *
 * The table marks the last depthwise conv s2 too, but its feature maps stay
 * 7x7 there, as in the authors' TF-Slim code: it is stride 1 here.
 * torchvision has no MobileNetV1; the state_dict keys are those of the
 * PyTorch module in tests/golden/torchvision_mobilenet_keys.py, where every
 * conv + BN + ReLU is a Sequential like torchvision's Conv2dNormActivation:
 *
 *   features.0.0.weight             first conv (32, C, 3, 3)
 *   features.0.1.*                  its BN (weight, bias, running_mean,
 *                                   running_var, num_batches_tracked)
 *   features.i.0.0.weight, .0.1.*   block i (1..13): depthwise conv, its BN
 *   features.i.1.0.weight, .1.1.*   block i: pointwise conv, its BN
 *   classifier.weight, .bias        the Linear
 *
 * 4,231,976 parameters at width 1 with 1000 classes. Initialization is
 * torchvision's MobileNetV2 scheme: convs kaiming_normal fan_out, BN weight
 * 1 bias 0, Linear normal(0, 0.01) bias 0. The width multiplier alpha
 * scales every conv's output channels as the authors' TF-Slim mobilenet_v1
 * does: max(floor(c alpha), 8) (exact for the paper's 1, 0.75, 0.5, 0.25).
 * Options: model.width_mult (1.0), model.stem ("imagenet"; "cifar" gives
 * the first conv stride 1, for 32x32 inputs). */
#include <stdio.h>

#include "io/config.h"
#include "models/models.h"
#include "nn/layers.h"

enum { V1_BLOCKS = 13, V1_FIRST = 32, V1_MIN_DEPTH = 8 };

/* Output channels and stride of each depthwise-separable block. */
static const int v1_blocks[V1_BLOCKS][2] = {
    {64, 1},  {128, 2}, {128, 1}, {256, 2}, {256, 1}, {512, 2}, {512, 1},
    {512, 1}, {512, 1}, {512, 1}, {512, 1}, {1024, 2}, {1024, 1},
};

typedef nn_conv_bn_layer conv_bn;

typedef struct mobilenet_v1 {
    conv_bn stem;
    conv_bn dw[V1_BLOCKS], pw[V1_BLOCKS];
    nn_linear_layer fc;
} mobilenet_v1;

static int depth(int channels, double width_mult)
{
    int d = (int)(channels * width_mult);
    return d > V1_MIN_DEPTH ? d : V1_MIN_DEPTH;
}

/* A bias-free conv <prefix>.0 (padding keeps the size at stride 1) and its
 * BN <prefix>.1: conv kaiming_normal_(mode="fan_out") with torch's default
 * leaky_relu of slope 0 (gain sqrt 2), BN weight 1, bias 0. */
static int conv_bn_init(conv_bn *u, nn_params *p, const char *prefix, int in, int out, int kernel,
                        int stride, int groups)
{
    char conv_name[128], bn_name[128];
    snprintf(conv_name, sizeof conv_name, "%s.0", prefix);
    snprintf(bn_name, sizeof bn_name, "%s.1", prefix);
    return nn_conv_bn_layer_init(u, p, conv_name, bn_name, in, out, kernel, stride, groups,
                                 nn_init_kaiming_normal(0.0, NN_INIT_FAN_OUT, NN_NONLIN_LEAKY_RELU),
                                 NN_BATCHNORM_MOMENTUM, NN_BATCHNORM_EPS);
}

/* conv, BN, ReLU (BN stands between, so the conv's fused ReLU cannot serve). */
static nn_tensor *conv_bn_relu(const conv_bn *u, nn_tape *t, nn_tensor *x)
{
    return nn_conv_bn_layer_forward(u, t, x, NN_BN_ACT_RELU);
}

static nn_status mobilenet_v1_build(nn_model *m, nn_config *cfg)
{
    static const char *const stems[] = {"imagenet", "cifar", NULL};
    double wm;
    const char *stem;
    NN_TRY(nn_config_number(cfg, "model.width_mult", 1.0, 0.01, 10.0, &wm));
    NN_TRY(nn_config_string(cfg, "model.stem", "imagenet", stems, &stem));
    mobilenet_v1 *net = nn_arena_calloc(m->params.arena, sizeof *net);
    if (!net) return NN_ERR_RUNTIME;
    nn_params *p = &m->params;
    int in = depth(V1_FIRST, wm);
    if (conv_bn_init(&net->stem, p, "features.0", m->input.channels, in, 3, stem[0] == 'c' ? 1 : 2, 1))
        return NN_ERR_RUNTIME;
    for (int i = 0; i < V1_BLOCKS; i++) {
        char prefix[64];
        int out = depth(v1_blocks[i][0], wm);
        snprintf(prefix, sizeof prefix, "features.%d.0", i + 1);
        if (conv_bn_init(&net->dw[i], p, prefix, in, in, 3, v1_blocks[i][1], in)) return NN_ERR_RUNTIME;
        snprintf(prefix, sizeof prefix, "features.%d.1", i + 1);
        if (conv_bn_init(&net->pw[i], p, prefix, in, out, 1, 1, 1)) return NN_ERR_RUNTIME;
        in = out;
    }
    if (nn_linear_layer_init_with(&net->fc, p, "classifier", in, m->input.num_classes, 1,
                                  nn_init_normal(0.0, 0.01), nn_init_zeros()))
        return NN_ERR_RUNTIME;
    m->impl = net;
    return NN_OK;
}

static nn_tensor *mobilenet_v1_forward(nn_model *m, nn_tape *t, nn_tensor *x)
{
    const mobilenet_v1 *net = m->impl;
    x = conv_bn_relu(&net->stem, t, x);
    for (int i = 0; i < V1_BLOCKS; i++) x = conv_bn_relu(&net->pw[i], t, conv_bn_relu(&net->dw[i], t, x));
    x = nn_flatten(t, nn_global_avgpool2d(t, x));
    return nn_linear_layer_forward(&net->fc, t, x);
}

const nn_model_def nn_model_mobilenet_v1 = {
    .name = "mobilenet_v1",
    .summary = "MobileNetV1: conv 32 s2, 13 depthwise-separable blocks to 1024, fc "
               "(width_mult, stem)",
    .build = mobilenet_v1_build,
    .forward = mobilenet_v1_forward,
};
