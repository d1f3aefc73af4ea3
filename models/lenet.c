/* LeNet-5 (LeCun et al. 1998) as commonly trained today: ReLU and max
 * pooling in place of the paper's scaled tanh and trainable subsampling.
 * 28x28 inputs are padded by 2 in conv1 so the classic 32x32 geometry
 * follows: conv 6@5x5 -> pool -> conv 16@5x5 -> pool -> 120 -> 84 -> classes.
 * Parameter names match the usual PyTorch module: conv1, conv2, fc1-fc3. */
#include <stdio.h>

#include "io/config.h"
#include "models/models.h"
#include "nn/layers.h"

typedef struct lenet {
    nn_conv2d_layer conv1, conv2;
    nn_linear_layer fc1, fc2, fc3;
} lenet;

static nn_status lenet_build(nn_model *m, nn_config *cfg)
{
    (void)cfg;
    const nn_model_input *in = &m->input;
    lenet *net = nn_arena_calloc(m->params.arena, sizeof *net);
    if (!net) return NN_ERR_RUNTIME;
    /* conv1 keeps the size (pad 2), then three halvings by pool/conv/pool. */
    int h = (in->height / 2 - 4) / 2, w = (in->width / 2 - 4) / 2;
    if (h < 1 || w < 1)
        return nn_error(NN_ERR_INPUT, "lenet5: input %dx%d is too small (at least 12x12)",
                        in->height, in->width);
    nn_params *p = &m->params;
    /* The ReLUs after the convolutions are fused into them. */
    nn_conv2d_args conv1 = nn_conv2d_simple(1, 2), conv2 = nn_conv2d_simple(1, 0);
    conv1.relu = conv2.relu = 1;
    if (nn_conv2d_layer_init(&net->conv1, p, "conv1", in->channels, 6, 5, conv1, 1) ||
        nn_conv2d_layer_init(&net->conv2, p, "conv2", 6, 16, 5, conv2, 1) ||
        nn_linear_layer_init(&net->fc1, p, "fc1", 16 * h * w, 120, 1) ||
        nn_linear_layer_init(&net->fc2, p, "fc2", 120, 84, 1) ||
        nn_linear_layer_init(&net->fc3, p, "fc3", 84, in->num_classes, 1))
        return NN_ERR_RUNTIME;
    m->impl = net;
    return NN_OK;
}

static nn_tensor *lenet_forward(nn_model *m, nn_tape *t, nn_tensor *x)
{
    const lenet *net = m->impl;
    x = nn_maxpool2d(t, nn_conv2d_layer_forward(&net->conv1, t, x), 2, 2, 0);
    x = nn_maxpool2d(t, nn_conv2d_layer_forward(&net->conv2, t, x), 2, 2, 0);
    x = nn_flatten(t, x);
    x = nn_relu(t, nn_linear_layer_forward(&net->fc1, t, x));
    x = nn_relu(t, nn_linear_layer_forward(&net->fc2, t, x));
    return nn_linear_layer_forward(&net->fc3, t, x);
}

const nn_model_def nn_model_lenet5 = {
    .name = "lenet5",
    .summary = "LeNet-5: conv 6@5x5 pad 2, pool, conv 16@5x5, pool, fc 120, 84, classes",
    .build = lenet_build,
    .forward = lenet_forward,
};
