/* MobileNetV2 (Sandler et al. 2018) as torchvision 0.14's
 * torchvision.models.mobilenet_v2: the same layers, state_dict keys, shapes
 * and initialization, so a checkpoint loads into the torchvision module.
 *
 *   features.0        conv 3x3 s2 -> 32, BN, ReLU6   (.0.weight, .1.*)
 *   features.1..17    inverted residual blocks (t, c, n, s) = (1,16,1,1),
 *                     (6,24,2,2), (6,32,3,2), (6,64,4,2), (6,96,3,1),
 *                     (6,160,3,2), (6,320,1,1); block `features.i.conv`:
 *                       conv.0        1x1 expand + BN + ReLU6 (only if t != 1)
 *                       conv.k        3x3 depthwise + BN + ReLU6 (.k.0, .k.1)
 *                       conv.k+1      1x1 project conv (weight only)
 *                       conv.k+2      its BN, no activation
 *                     plus the input when the stride is 1 and channels match
 *   features.18       conv 1x1 -> 1280, BN, ReLU6
 *   global average pool, classifier.0 dropout, classifier.1 Linear
 *
 * Channels are width_mult times the table's, rounded by torchvision's
 * _make_divisible to a multiple of 8 (never below 8, nor more than 10%
 * below the exact value); the last conv is 1280 unless width_mult > 1.
 * Options: model.width_mult (1.0), model.dropout (0.2), model.stem
 * ("imagenet"; "cifar" gives the first conv stride 1, for 32x32 inputs). */
#include <stdio.h>

#include "io/config.h"
#include "models/mobilenet_options.h"
#include "models/models.h"
#include "nn/layers.h"

enum { V2_BLOCKS = 17, V2_FIRST = 32, V2_LAST = 1280 };

/* t (expansion), c (output channels), n (repeats), s (first stride) */
static const int v2_setting[][4] = {
    {1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2},
    {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1},
};

typedef nn_conv_bn_layer conv_bn;

typedef struct v2_block {
    int expand;              /* has the 1x1 expansion conv */
    int residual;
    conv_bn pw, dw, project;
} v2_block;

typedef struct mobilenet_v2 {
    conv_bn stem, last;
    v2_block blocks[V2_BLOCKS];
    nn_linear_layer fc;
    float dropout;
} mobilenet_v2;

/* torchvision's _make_divisible: v rounded to the nearest multiple of
 * `divisor`, at least `divisor`, and not more than 10% below v. */
static int make_divisible(double v, int divisor)
{
    int r = (int)(v + divisor / 2.0) / divisor * divisor;
    if (r < divisor) r = divisor;
    if (r < 0.9 * v) r += divisor;
    return r;
}

/* A bias-free conv (`conv_name`) and a BatchNorm (`bn_name`), initialized
 * as torchvision does: kaiming_normal_(mode="fan_out") with its default
 * leaky_relu of slope 0 (gain sqrt 2); BN weight 1, bias 0. */
static int conv_bn_init(conv_bn *u, nn_params *p, const char *conv_name, const char *bn_name, int in,
                        int out, int kernel, int stride, int groups)
{
    return nn_conv_bn_layer_init(u, p, conv_name, bn_name, in, out, kernel, stride, groups,
                                 nn_init_kaiming_normal(0.0, NN_INIT_FAN_OUT, NN_NONLIN_LEAKY_RELU),
                                 NN_BATCHNORM_MOMENTUM, NN_BATCHNORM_EPS);
}

/* As conv_bn_init, named <prefix>.0 (conv) and <prefix>.1 (BN): torchvision's
 * Conv2dNormActivation. */
static int conv_bn_init_seq(conv_bn *u, nn_params *p, const char *prefix, int in, int out,
                            int kernel, int stride, int groups)
{
    char conv[128], bn[128];
    snprintf(conv, sizeof conv, "%s.0", prefix);
    snprintf(bn, sizeof bn, "%s.1", prefix);
    return conv_bn_init(u, p, conv, bn, in, out, kernel, stride, groups);
}

static nn_tensor *conv_bn_act(const conv_bn *u, nn_tape *t, nn_tensor *x, nn_bn_act act)
{
    return nn_conv_bn_layer_forward(u, t, x, act);
}

static nn_tensor *conv_bn_forward(const conv_bn *u, nn_tape *t, nn_tensor *x)
{
    return conv_bn_act(u, t, x, NN_BN_ACT_NONE);
}

static int v2_block_init(v2_block *b, nn_params *p, int index, int in, int out, int stride, int t)
{
    char prefix[64], conv[96], bn[96];
    int hidden = in * t, k = 0;
    b->expand = t != 1;
    b->residual = stride == 1 && in == out;
    if (b->expand) {
        snprintf(prefix, sizeof prefix, "features.%d.conv.%d", index, k++);
        if (conv_bn_init_seq(&b->pw, p, prefix, in, hidden, 1, 1, 1)) return -1;
    }
    snprintf(prefix, sizeof prefix, "features.%d.conv.%d", index, k++);
    if (conv_bn_init_seq(&b->dw, p, prefix, hidden, hidden, 3, stride, hidden)) return -1;
    snprintf(conv, sizeof conv, "features.%d.conv.%d", index, k);
    snprintf(bn, sizeof bn, "features.%d.conv.%d", index, k + 1);
    return conv_bn_init(&b->project, p, conv, bn, hidden, out, 1, 1, 1);
}

static nn_tensor *v2_block_forward(const v2_block *b, nn_tape *t, nn_tensor *x)
{
    nn_tensor *y = x;
    /* relu6(bn(conv)) is one batch-norm op with the ReLU6 fused. */
    if (b->expand) y = conv_bn_act(&b->pw, t, y, NN_BN_ACT_RELU6);
    y = conv_bn_act(&b->dw, t, y, NN_BN_ACT_RELU6);
    y = conv_bn_forward(&b->project, t, y);
    return b->residual ? nn_add(t, x, y) : y;
}

static nn_status mobilenet_v2_build(nn_model *m, nn_config *cfg)
{
    double wm = 1.0;
    float dropout = 0.0f;
    int stem_stride = 2;
    NN_TRY(nn_mobilenet_read_options(cfg, &wm, &dropout, &stem_stride));
    mobilenet_v2 *net = nn_arena_calloc(m->params.arena, sizeof *net);
    if (!net) return NN_ERR_RUNTIME;
    net->dropout = dropout;
    nn_params *p = &m->params;
    int in = make_divisible(V2_FIRST * wm, 8);
    int last = make_divisible(V2_LAST * (wm > 1.0 ? wm : 1.0), 8);
    if (conv_bn_init_seq(&net->stem, p, "features.0", m->input.channels, in, 3, stem_stride, 1))
        return NN_ERR_RUNTIME;
    int index = 1;
    for (size_t s = 0; s < sizeof v2_setting / sizeof v2_setting[0]; s++) {
        int out = make_divisible(v2_setting[s][1] * wm, 8);
        for (int i = 0; i < v2_setting[s][2]; i++, index++) {
            NN_ASSERT(index - 1 < V2_BLOCKS);
            int stride = i == 0 ? v2_setting[s][3] : 1;
            if (v2_block_init(&net->blocks[index - 1], p, index, in, out, stride, v2_setting[s][0]))
                return NN_ERR_RUNTIME;
            in = out;
        }
    }
    NN_ASSERT(index - 1 == V2_BLOCKS);
    if (conv_bn_init_seq(&net->last, p, "features.18", in, last, 1, 1, 1) ||
        nn_linear_layer_init_with(&net->fc, p, "classifier.1", last, m->input.num_classes, 1,
                                  nn_init_normal(0.0, 0.01), nn_init_zeros()))
        return NN_ERR_RUNTIME;
    m->impl = net;
    return NN_OK;
}

static nn_tensor *mobilenet_v2_forward(nn_model *m, nn_tape *t, nn_tensor *x)
{
    const mobilenet_v2 *net = m->impl;
    x = conv_bn_act(&net->stem, t, x, NN_BN_ACT_RELU6);
    for (int i = 0; i < V2_BLOCKS; i++) x = v2_block_forward(&net->blocks[i], t, x);
    x = conv_bn_act(&net->last, t, x, NN_BN_ACT_RELU6);
    x = nn_flatten(t, nn_global_avgpool2d(t, x));
    x = nn_dropout_layer_forward(t, x, net->dropout);
    return nn_linear_layer_forward(&net->fc, t, x);
}

const nn_model_def nn_model_mobilenet_v2 = {
    .name = "mobilenet_v2",
    .summary = "MobileNetV2 as torchvision: conv 32 s2, 17 inverted residual blocks, conv 1280, "
               "dropout, fc (width_mult, dropout, stem)",
    .build = mobilenet_v2_build,
    .forward = mobilenet_v2_forward,
};
