/* MobileNetV3 small and large (Howard et al. 2019) as torchvision 0.14's
 * torchvision.models.mobilenet_v3_small / _large: the same layers,
 * state_dict keys, shapes and initialization, so a checkpoint loads into the
 * torchvision module.
 *
 *   features.0        conv 3x3 s2 -> 16, BN, hard-swish   (.0.weight, .1.*)
 *   features.1..n     one inverted residual block per row of the paper's
 *                     table (v3_large[], v3_small[] below), `features.i.block`:
 *                       block.0       1x1 expand + BN + act (only if the
 *                                     expanded width differs from the input)
 *                       block.k       kxk depthwise + BN + act
 *                       block.k+1     squeeze-excitation (if the row has it):
 *                                     pool, fc1 (1x1 conv + bias), ReLU, fc2
 *                                     (1x1 conv + bias), hard-sigmoid, times x;
 *                                     squeeze width _make_divisible(exp / 4, 8)
 *                       block.last    1x1 project + BN, no activation
 *                     plus the input when the stride is 1 and channels match;
 *                     act is ReLU or hard-swish as the row says
 *   features.n+1      conv 1x1 -> 6 x the last block's width, BN, hard-swish
 *   global average pool, classifier.0 Linear -> 1024 (small) / 1280 (large),
 *   hard-swish, dropout (classifier.2), classifier.3 Linear -> classes
 *
 * BatchNorm here is torchvision's for V3: eps 0.001, momentum 0.01. Widths
 * are width_mult times the table's, rounded by _make_divisible to multiples
 * of 8 (the classifier's hidden width too). Options: model.width_mult (1.0),
 * model.dropout (0.2), model.stem ("imagenet"; "cifar" gives the first conv
 * stride 1, for 32x32 inputs). */
#include <stdio.h>

#include "io/config.h"
#include "models/mobilenet_options.h"
#include "models/models.h"
#include "nn/layers.h"

enum { V3_MAX_BLOCKS = 15, V3_FIRST = 16 };
#define V3_BN_MOMENTUM 0.01f
#define V3_BN_EPS 0.001f

/* One row of the paper's table (torchvision's bneck_conf), at width 1. */
typedef struct v3_row {
    int in, kernel, expanded, out, se, hardswish, stride;
} v3_row;

static const v3_row v3_large[] = {
    {16, 3, 16, 16, 0, 0, 1},     {16, 3, 64, 24, 0, 0, 2},     {24, 3, 72, 24, 0, 0, 1},
    {24, 5, 72, 40, 1, 0, 2},     {40, 5, 120, 40, 1, 0, 1},    {40, 5, 120, 40, 1, 0, 1},
    {40, 3, 240, 80, 0, 1, 2},    {80, 3, 200, 80, 0, 1, 1},    {80, 3, 184, 80, 0, 1, 1},
    {80, 3, 184, 80, 0, 1, 1},    {80, 3, 480, 112, 1, 1, 1},   {112, 3, 672, 112, 1, 1, 1},
    {112, 5, 672, 160, 1, 1, 2},  {160, 5, 960, 160, 1, 1, 1},  {160, 5, 960, 160, 1, 1, 1},
};

static const v3_row v3_small[] = {
    {16, 3, 16, 16, 1, 0, 2},   {16, 3, 72, 24, 0, 0, 2},   {24, 3, 88, 24, 0, 0, 1},
    {24, 5, 96, 40, 1, 1, 2},   {40, 5, 240, 40, 1, 1, 1},  {40, 5, 240, 40, 1, 1, 1},
    {40, 5, 120, 48, 1, 1, 1},  {48, 5, 144, 48, 1, 1, 1},  {48, 5, 288, 96, 1, 1, 2},
    {96, 5, 576, 96, 1, 1, 1},  {96, 5, 576, 96, 1, 1, 1},
};

typedef nn_conv_bn_layer conv_bn;

typedef struct v3_block {
    int expand, se, hardswish, residual;
    conv_bn pw, dw, project;
    nn_conv2d_layer fc1, fc2;    /* squeeze-excitation, if se */
} v3_block;

typedef struct mobilenet_v3 {
    conv_bn stem, last;
    v3_block blocks[V3_MAX_BLOCKS];
    int n_blocks;
    nn_linear_layer fc1, fc2;    /* classifier.0, classifier.3 */
    float dropout;
} mobilenet_v3;

/* torchvision's _make_divisible: v rounded to the nearest multiple of
 * `divisor`, at least `divisor`, and not more than 10% below v. */
static int make_divisible(double v, int divisor)
{
    int r = (int)(v + divisor / 2.0) / divisor * divisor;
    if (r < divisor) r = divisor;
    if (r < 0.9 * v) r += divisor;
    return r;
}

/* torchvision's conv init: kaiming_normal_(mode="fan_out") with its default
 * leaky_relu of slope 0 (gain sqrt 2), bias 0. */
static int conv_init(nn_conv2d_layer *l, nn_params *p, const char *name, int in, int out,
                     int kernel, nn_conv2d_args a, int bias)
{
    nn_init w = nn_init_kaiming_normal(0.0, NN_INIT_FAN_OUT, NN_NONLIN_LEAKY_RELU);
    return nn_conv2d_layer_init_with(l, p, name, in, out, kernel, a, bias, w, nn_init_zeros());
}

/* torchvision's Conv2dNormActivation without the activation: a bias-free
 * conv <prefix>.0 (padding keeps the size at stride 1) and its BN <prefix>.1. */
static int conv_bn_init(conv_bn *u, nn_params *p, const char *prefix, int in, int out, int kernel,
                        int stride, int groups)
{
    char conv_name[128], bn_name[128];
    snprintf(conv_name, sizeof conv_name, "%s.0", prefix);
    snprintf(bn_name, sizeof bn_name, "%s.1", prefix);
    return nn_conv_bn_layer_init(u, p, conv_name, bn_name, in, out, kernel, stride, groups,
                                 nn_init_kaiming_normal(0.0, NN_INIT_FAN_OUT, NN_NONLIN_LEAKY_RELU),
                                 V3_BN_MOMENTUM, V3_BN_EPS);
}

static nn_tensor *conv_bn_forward(const conv_bn *u, nn_tape *t, nn_tensor *x)
{
    return nn_conv_bn_layer_forward(u, t, x, NN_BN_ACT_NONE);
}

/* activation(bn(conv(x))): a ReLU is fused into the batch-norm op. */
static nn_tensor *conv_bn_activation(const conv_bn *u, nn_tape *t, nn_tensor *x, int hardswish)
{
    if (hardswish) return nn_hardswish(t, conv_bn_forward(u, t, x));
    return nn_conv_bn_layer_forward(u, t, x, NN_BN_ACT_RELU);
}

static int v3_block_init(v3_block *b, nn_params *p, int index, const v3_row *row, double wm)
{
    char prefix[64], name[96];
    int in = make_divisible(row->in * wm, 8), exp = make_divisible(row->expanded * wm, 8);
    int out = make_divisible(row->out * wm, 8), k = 0;
    b->expand = exp != in;
    b->se = row->se;
    b->hardswish = row->hardswish;
    b->residual = row->stride == 1 && in == out;
    if (b->expand) {
        snprintf(prefix, sizeof prefix, "features.%d.block.%d", index, k++);
        if (conv_bn_init(&b->pw, p, prefix, in, exp, 1, 1, 1)) return -1;
    }
    snprintf(prefix, sizeof prefix, "features.%d.block.%d", index, k++);
    if (conv_bn_init(&b->dw, p, prefix, exp, exp, row->kernel, row->stride, exp)) return -1;
    if (b->se) {
        int squeeze = make_divisible(exp / 4, 8);
        /* fc1 is followed directly by ReLU (no BN), so the ReLU is fused. */
        nn_conv2d_args a = nn_conv2d_simple(1, 0);
        a.relu = 1;
        snprintf(name, sizeof name, "features.%d.block.%d.fc1", index, k);
        if (conv_init(&b->fc1, p, name, exp, squeeze, 1, a, 1)) return -1;
        snprintf(name, sizeof name, "features.%d.block.%d.fc2", index, k++);
        if (conv_init(&b->fc2, p, name, squeeze, exp, 1, nn_conv2d_simple(1, 0), 1)) return -1;
    }
    snprintf(prefix, sizeof prefix, "features.%d.block.%d", index, k);
    return conv_bn_init(&b->project, p, prefix, exp, out, 1, 1, 1);
}

static nn_tensor *v3_block_forward(const v3_block *b, nn_tape *t, nn_tensor *x)
{
    nn_tensor *y = x;
    if (b->expand) y = conv_bn_activation(&b->pw, t, y, b->hardswish);
    y = conv_bn_activation(&b->dw, t, y, b->hardswish);
    if (b->se) {
        /* (N, C, 1, 1) channel weights, broadcast over H and W. */
        nn_tensor *s = nn_global_avgpool2d(t, y);
        s = nn_conv2d_layer_forward(&b->fc2, t, nn_conv2d_layer_forward(&b->fc1, t, s));
        y = nn_mul(t, nn_hardsigmoid(t, s), y);
    }
    y = conv_bn_forward(&b->project, t, y);
    return b->residual ? nn_add(t, y, x) : y;
}

static nn_status mobilenet_v3_build(nn_model *m, nn_config *cfg, const v3_row *rows, int n_rows,
                                    int last_channel)
{
    double wm = 1.0;
    float dropout = 0.0f;
    int stem_stride = 2;
    NN_TRY(nn_mobilenet_read_options(cfg, &wm, &dropout, &stem_stride));
    NN_ASSERT(n_rows <= V3_MAX_BLOCKS);
    mobilenet_v3 *net = nn_arena_calloc(m->params.arena, sizeof *net);
    if (!net) return NN_ERR_RUNTIME;
    net->dropout = dropout;
    net->n_blocks = n_rows;
    nn_params *p = &m->params;
    int first = make_divisible(V3_FIRST * wm, 8);
    int last_in = make_divisible(rows[n_rows - 1].out * wm, 8), last_out = 6 * last_in;
    int hidden = make_divisible(last_channel * wm, 8);
    if (conv_bn_init(&net->stem, p, "features.0", m->input.channels, first, 3, stem_stride, 1))
        return NN_ERR_RUNTIME;
    for (int i = 0; i < n_rows; i++)
        if (v3_block_init(&net->blocks[i], p, i + 1, &rows[i], wm)) return NN_ERR_RUNTIME;
    char name[64];
    snprintf(name, sizeof name, "features.%d", n_rows + 1);
    nn_init w = nn_init_normal(0.0, 0.01), b = nn_init_zeros();
    if (conv_bn_init(&net->last, p, name, last_in, last_out, 1, 1, 1) ||
        nn_linear_layer_init_with(&net->fc1, p, "classifier.0", last_out, hidden, 1, w, b) ||
        nn_linear_layer_init_with(&net->fc2, p, "classifier.3", hidden, m->input.num_classes, 1, w, b))
        return NN_ERR_RUNTIME;
    m->impl = net;
    return NN_OK;
}

static nn_status mobilenet_v3_large_build(nn_model *m, nn_config *cfg)
{
    return mobilenet_v3_build(m, cfg, v3_large, (int)(sizeof v3_large / sizeof v3_large[0]), 1280);
}

static nn_status mobilenet_v3_small_build(nn_model *m, nn_config *cfg)
{
    return mobilenet_v3_build(m, cfg, v3_small, (int)(sizeof v3_small / sizeof v3_small[0]), 1024);
}

static nn_tensor *mobilenet_v3_forward(nn_model *m, nn_tape *t, nn_tensor *x)
{
    const mobilenet_v3 *net = m->impl;
    x = nn_hardswish(t, conv_bn_forward(&net->stem, t, x));
    for (int i = 0; i < net->n_blocks; i++) x = v3_block_forward(&net->blocks[i], t, x);
    x = nn_hardswish(t, conv_bn_forward(&net->last, t, x));
    x = nn_flatten(t, nn_global_avgpool2d(t, x));
    x = nn_hardswish(t, nn_linear_layer_forward(&net->fc1, t, x));
    x = nn_dropout_layer_forward(t, x, net->dropout);
    return nn_linear_layer_forward(&net->fc2, t, x);
}

const nn_model_def nn_model_mobilenet_v3_large = {
    .name = "mobilenet_v3_large",
    .summary = "MobileNetV3-Large as torchvision: 15 blocks with SE and hard-swish, conv 960, "
               "fc 1280, dropout, fc (width_mult, dropout, stem)",
    .build = mobilenet_v3_large_build,
    .forward = mobilenet_v3_forward,
};

const nn_model_def nn_model_mobilenet_v3_small = {
    .name = "mobilenet_v3_small",
    .summary = "MobileNetV3-Small as torchvision: 11 blocks with SE and hard-swish, conv 576, "
               "fc 1024, dropout, fc (width_mult, dropout, stem)",
    .build = mobilenet_v3_small_build,
    .forward = mobilenet_v3_forward,
};
