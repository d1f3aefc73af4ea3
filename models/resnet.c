/* ResNet (He et al. 2015), ResNeXt (Xie et al. 2016) and Wide ResNet
 * (Zagoruyko and Komodakis 2016) as torchvision 0.14's
 * torchvision.models.resnet18 ... wide_resnet101_2 ("ResNet v1.5": a
 * bottleneck strides in its 3x3 conv): the same layers, state_dict keys,
 * shapes and initialization, so a checkpoint loads into the torchvision
 * module.
 *
 *   conv1, bn1      7x7 stride 2 pad 3 conv -> 64 (no bias), BN, ReLU,
 *                   then a 3x3 stride 2 pad 1 max-pool
 *   layer1..layer4  blocks at 64, 128, 256, 512 planes, the first block of
 *                   layer2..4 at stride 2; block `layerL.B`:
 *     basic         conv1 3x3 (stride), bn1, ReLU, conv2 3x3, bn2
 *     bottleneck    conv1 1x1 -> width, bn1, ReLU, conv2 3x3 (stride,
 *                   groups), bn2, ReLU, conv3 1x1 -> 4 planes, bn3
 *                   (width = planes * width_per_group / 64 * groups)
 *     downsample.0/1  1x1 conv (stride) + BN on the shortcut when the
 *                   stride or the channel count changes
 *     then ReLU(block + shortcut)
 *   global average pool, flatten, fc -> classes
 *
 * Initialization as torchvision: convs kaiming_normal (fan_out, relu),
 * BatchNorm weight 1 and bias 0, fc torch's Linear default.
 *
 * Option: model.stem ("imagenet"; "cifar" for 32x32 inputs: conv1 is 3x3
 * stride 1 pad 1 and there is no max-pool, as the usual CIFAR ResNets). */
#include <stdio.h>

#include "io/config.h"
#include "models/models.h"
#include "nn/layers.h"

enum { RESNET_STAGES = 4, RESNET_STEM = 64, BOTTLENECK_EXPANSION = 4 };

typedef nn_conv_bn_layer conv_bn;

typedef struct res_block {
    conv_bn c1, c2, c3;       /* c3: bottlenecks only */
    conv_bn down;
    int has_down;
} res_block;

typedef struct resnet {
    int bottleneck, cifar, n_blocks;
    conv_bn stem;
    res_block *blocks;        /* layer1.0, layer1.1, ..., layer4.last */
    nn_linear_layer fc;
} resnet;

typedef struct resnet_spec {
    int bottleneck;
    int blocks[RESNET_STAGES];
    int groups, width_per_group;
} resnet_spec;

/* A bias-free conv `<prefix><conv>` and its BatchNorm `<prefix><bn>`, the
 * conv initialized as torchvision's ResNet: kaiming_normal (fan_out, relu). */
static int conv_bn_init(conv_bn *u, nn_params *p, const char *prefix, const char *conv,
                        const char *bn, int in, int out, int kernel, int stride, int groups)
{
    char conv_name[96], bn_name[96];
    snprintf(conv_name, sizeof conv_name, "%s%s", prefix, conv);
    snprintf(bn_name, sizeof bn_name, "%s%s", prefix, bn);
    return nn_conv_bn_layer_init(u, p, conv_name, bn_name, in, out, kernel, stride, groups,
                                 nn_init_kaiming_normal(0.0, NN_INIT_FAN_OUT, NN_NONLIN_RELU),
                                 NN_BATCHNORM_MOMENTUM, NN_BATCHNORM_EPS);
}

static nn_tensor *conv_bn_act(const conv_bn *u, nn_tape *t, nn_tensor *x, nn_bn_act act)
{
    return nn_conv_bn_layer_forward(u, t, x, act);
}

static nn_tensor *conv_bn_forward(const conv_bn *u, nn_tape *t, nn_tensor *x)
{
    return conv_bn_act(u, t, x, NN_BN_ACT_NONE);
}

/* Block `layer<stage>.<index>` from `in` channels at `stride`; returns its
 * output channels, or -1 when the arena is full. */
static int block_init(res_block *b, nn_params *p, const resnet_spec *s, int stage, int index,
                      int in, int planes, int stride)
{
    char prefix[48];
    snprintf(prefix, sizeof prefix, "layer%d.%d.", stage + 1, index);
    int out;
    if (s->bottleneck) {
        int width = planes * s->width_per_group / 64 * s->groups;
        out = planes * BOTTLENECK_EXPANSION;
        if (conv_bn_init(&b->c1, p, prefix, "conv1", "bn1", in, width, 1, 1, 1) ||
            conv_bn_init(&b->c2, p, prefix, "conv2", "bn2", width, width, 3, stride, s->groups) ||
            conv_bn_init(&b->c3, p, prefix, "conv3", "bn3", width, out, 1, 1, 1))
            return -1;
    } else {
        out = planes;
        if (conv_bn_init(&b->c1, p, prefix, "conv1", "bn1", in, out, 3, stride, 1) ||
            conv_bn_init(&b->c2, p, prefix, "conv2", "bn2", out, out, 3, 1, 1))
            return -1;
    }
    b->has_down = stride != 1 || in != out;
    if (b->has_down &&
        conv_bn_init(&b->down, p, prefix, "downsample.0", "downsample.1", in, out, 1, stride, 1))
        return -1;
    return out;
}

static nn_tensor *block_forward(const res_block *b, int bottleneck, nn_tape *t, nn_tensor *x)
{
    /* relu(bn(conv)) is one batch-norm op with the ReLU fused. */
    nn_tensor *y = conv_bn_act(&b->c1, t, x, NN_BN_ACT_RELU);
    if (bottleneck)
        y = conv_bn_forward(&b->c3, t, conv_bn_act(&b->c2, t, y, NN_BN_ACT_RELU));
    else
        y = conv_bn_forward(&b->c2, t, y);
    nn_tensor *shortcut = b->has_down ? conv_bn_forward(&b->down, t, x) : x;
    return nn_relu(t, nn_add(t, y, shortcut));
}

static nn_status resnet_build(nn_model *m, nn_config *cfg, const resnet_spec *s)
{
    static const char *const stems[] = {"imagenet", "cifar", NULL};
    const char *stem;
    NN_TRY(nn_config_string(cfg, "model.stem", "imagenet", stems, &stem));
    resnet *net = nn_arena_calloc(m->params.arena, sizeof *net);
    if (!net) return NN_ERR_RUNTIME;
    net->bottleneck = s->bottleneck;
    net->cifar = stem[0] == 'c';
    for (int i = 0; i < RESNET_STAGES; i++) net->n_blocks += s->blocks[i];
    net->blocks = nn_arena_calloc(m->params.arena, sizeof *net->blocks * (size_t)net->n_blocks);
    if (!net->blocks) return NN_ERR_RUNTIME;

    nn_params *p = &m->params;
    if (conv_bn_init(&net->stem, p, "", "conv1", "bn1", m->input.channels, RESNET_STEM,
                     net->cifar ? 3 : 7, net->cifar ? 1 : 2, 1))
        return NN_ERR_RUNTIME;
    int in = RESNET_STEM, k = 0;
    for (int stage = 0; stage < RESNET_STAGES; stage++)
        for (int i = 0; i < s->blocks[stage]; i++) {
            int stride = stage > 0 && i == 0 ? 2 : 1;
            in = block_init(&net->blocks[k++], p, s, stage, i, in, RESNET_STEM << stage, stride);
            if (in < 0) return NN_ERR_RUNTIME;
        }
    if (nn_linear_layer_init(&net->fc, p, "fc", in, m->input.num_classes, 1)) return NN_ERR_RUNTIME;
    m->impl = net;
    return NN_OK;
}

static nn_tensor *resnet_forward(nn_model *m, nn_tape *t, nn_tensor *x)
{
    const resnet *net = m->impl;
    x = conv_bn_act(&net->stem, t, x, NN_BN_ACT_RELU);
    if (!net->cifar) x = nn_maxpool2d(t, x, 3, 2, 1);
    for (int i = 0; i < net->n_blocks; i++) x = block_forward(&net->blocks[i], net->bottleneck, t, x);
    x = nn_flatten(t, nn_global_avgpool2d(t, x));
    return nn_linear_layer_forward(&net->fc, t, x);
}

/* One build per name: the name fixes the block type, depths and widths. */
#define RESNET_MODEL(model, bottleneck, b1, b2, b3, b4, groups, wpg, what)                         \
    static nn_status model##_build(nn_model *m, nn_config *c)                                      \
    {                                                                                              \
        static const resnet_spec s = {(bottleneck), {(b1), (b2), (b3), (b4)}, (groups), (wpg)};    \
        return resnet_build(m, c, &s);                                                             \
    }                                                                                              \
    const nn_model_def nn_model_##model = {                                                        \
        .name = #model,                                                                            \
        .summary = what " blocks " #b1 "-" #b2 "-" #b3 "-" #b4 " (stem)",                          \
        .build = model##_build,                                                                    \
        .forward = resnet_forward,                                                                 \
    };

RESNET_MODEL(resnet18, 0, 2, 2, 2, 2, 1, 64, "ResNet-18 as torchvision: basic")
RESNET_MODEL(resnet34, 0, 3, 4, 6, 3, 1, 64, "ResNet-34 as torchvision: basic")
RESNET_MODEL(resnet50, 1, 3, 4, 6, 3, 1, 64, "ResNet-50 as torchvision: bottleneck")
RESNET_MODEL(resnet101, 1, 3, 4, 23, 3, 1, 64, "ResNet-101 as torchvision: bottleneck")
RESNET_MODEL(resnet152, 1, 3, 8, 36, 3, 1, 64, "ResNet-152 as torchvision: bottleneck")
RESNET_MODEL(resnext50_32x4d, 1, 3, 4, 6, 3, 32, 4, "ResNeXt-50 32x4d as torchvision: bottleneck")
RESNET_MODEL(resnext101_32x8d, 1, 3, 4, 23, 3, 32, 8, "ResNeXt-101 32x8d as torchvision: bottleneck")
RESNET_MODEL(wide_resnet50_2, 1, 3, 4, 6, 3, 1, 128, "Wide ResNet-50-2 as torchvision: bottleneck")
RESNET_MODEL(wide_resnet101_2, 1, 3, 4, 23, 3, 1, 128, "Wide ResNet-101-2 as torchvision: bottleneck")
