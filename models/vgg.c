/* VGG (Simonyan and Zisserman 2014) as torchvision 0.14's
 * torchvision.models.vgg11 ... vgg19_bn: the same layers, state_dict keys,
 * shapes and initialization, so a checkpoint loads into the torchvision
 * module.
 *
 *   features.N     the layer list ("cfg") in order: each number c is a
 *                  3x3 pad 1 conv -> c (with bias), [BatchNorm,] ReLU;
 *                  each "M" a 2x2 stride 2 max-pool. N counts every module,
 *                  ReLUs and pools included, as torch's nn.Sequential does.
 *   adaptive average pool to 7x7, flatten
 *   classifier.0   Linear -> 4096, ReLU, dropout (classifier.2)
 *   classifier.3   Linear -> 4096, ReLU, dropout (classifier.5)
 *   classifier.6   Linear -> classes
 *
 * Depths (torchvision's cfgs "A", "B", "D", "E"): 11, 13, 16 and 19 layers
 * with weights. Initialization as torchvision: convs kaiming_normal
 * (fan_out, relu) with bias 0, BatchNorm weight 1 and bias 0, Linears
 * normal(0, 0.01) with bias 0.
 *
 * Options: model.cfg (the layer list, e.g. [64, "M", 128, "M"]; default the
 * name's), model.batch_norm (default from the name), model.dropout (0.5, the
 * imagenet head's),
 * model.stem ("imagenet"; "cifar" for 32x32 inputs: no average pool, the
 * feature map is flattened into one Linear named `classifier`, as the usual
 * CIFAR VGG: 512 -> classes at 32x32). */
#include <stdio.h>

#include "io/config.h"
#include "models/models.h"
#include "nn/layers.h"

/* "M" in a layer list; a conv width is at least 1. */
enum { VGG_POOL = 0, VGG_MAX_LAYERS = 64, VGG_POOL_OUT = 7 };

typedef struct vgg_layer {
    int pool;                 /* a max-pool, or a conv (+ BN) + ReLU */
    nn_conv2d_layer conv;
    nn_batchnorm_layer bn;
} vgg_layer;

typedef struct vgg {
    vgg_layer layers[VGG_MAX_LAYERS];
    int n_layers, batch_norm, cifar;
    nn_linear_layer fc[3];    /* the cifar stem has fc[0] only */
    float dropout;
} vgg;

#define M VGG_POOL
static const long cfg_a[] = {64, M, 128, M, 256, 256, M, 512, 512, M, 512, 512, M};
static const long cfg_b[] = {64, 64, M, 128, 128, M, 256, 256, M, 512, 512, M, 512, 512, M};
static const long cfg_d[] = {64, 64, M, 128, 128, M, 256, 256, 256, M, 512, 512, 512, M,
                             512, 512, 512, M};
static const long cfg_e[] = {64, 64, M, 128, 128, M, 256, 256, 256, 256, M, 512, 512, 512, 512, M,
                             512, 512, 512, 512, M};
#undef M

typedef struct vgg_spec {
    const long *cfg;
    int n;
    int batch_norm;
} vgg_spec;

/* model.cfg, model.batch_norm, model.dropout and model.stem over the
 * name's defaults in `spec`; errors name the key. */
static nn_status read_options(nn_config *cfg, const vgg_spec *spec, long *layers, int *n,
                              int *batch_norm, float *dropout, int *cifar)
{
    static const char *const stems[] = {"imagenet", "cifar", NULL};
    const char *stem;
    double p;
    NN_TRY(nn_config_int_marker_list(cfg, "model.cfg", 1, VGG_MAX_LAYERS, 1, 65536, "M", VGG_POOL,
                                     spec->cfg, spec->n, layers, n));
    int convs = 0;
    for (int i = 0; i < *n; i++) convs += layers[i] != VGG_POOL;
    if (convs == 0)
        return nn_error(NN_ERR_INPUT, "%s: model.cfg: expected at least one conv width, found "
                        "only \"M\"", nn_config_origin(cfg));
    NN_TRY(nn_config_bool(cfg, "model.batch_norm", spec->batch_norm, batch_norm));
    NN_TRY(nn_config_number(cfg, "model.dropout", 0.5, 0.0, 1.0, &p));
    /* p = 1 would scale the kept nothing by 1 / 0. */
    if (p >= 1.0)
        return nn_error(NN_ERR_INPUT, "%s: model.dropout: expected a number in [0, 1), found %g",
                        nn_config_origin(cfg), p);
    NN_TRY(nn_config_string(cfg, "model.stem", "imagenet", stems, &stem));
    *dropout = (float)p;
    *cifar = stem[0] == 'c';
    return NN_OK;
}

static nn_status vgg_build(nn_model *m, nn_config *cfg, const vgg_spec *spec)
{
    long layers[VGG_MAX_LAYERS];
    int n = 0, batch_norm = 0, cifar = 0;
    float dropout = 0.0f;
    NN_TRY(read_options(cfg, spec, layers, &n, &batch_norm, &dropout, &cifar));
    const nn_model_input *in = &m->input;
    int h = in->height, w = in->width, pools = 0;
    for (int i = 0; i < n; i++)
        if (layers[i] == VGG_POOL) {
            h /= 2;
            w /= 2;
            pools++;
        }
    if (h < 1 || w < 1)
        return nn_error(NN_ERR_INPUT, "%s: input %dx%d is too small for %d max-pools (at least "
                        "%dx%d)", m->def->name, in->height, in->width, pools, 1 << pools, 1 << pools);
    vgg *net = nn_arena_calloc(m->params.arena, sizeof *net);
    if (!net) return NN_ERR_RUNTIME;
    net->n_layers = n;
    net->batch_norm = batch_norm;
    net->cifar = cifar;
    net->dropout = dropout;

    nn_params *p = &m->params;
    nn_init conv_w = nn_init_kaiming_normal(0.0, NN_INIT_FAN_OUT, NN_NONLIN_RELU);
    nn_init fc_w = nn_init_normal(0.0, 0.01);
    char name[32];
    int prev = in->channels, index = 0;
    for (int i = 0; i < n; i++) {
        vgg_layer *l = &net->layers[i];
        if (layers[i] == VGG_POOL) {
            l->pool = 1;
            index++;
            continue;
        }
        int c = (int)layers[i];
        nn_conv2d_args a = nn_conv2d_simple(1, 1);
        /* Without BatchNorm the ReLU follows the conv directly: fused. */
        a.relu = !batch_norm;
        snprintf(name, sizeof name, "features.%d", index++);
        if (nn_conv2d_layer_init_with(&l->conv, p, name, prev, c, 3, a, 1, conv_w, nn_init_zeros()))
            return NN_ERR_RUNTIME;
        if (batch_norm) {
            snprintf(name, sizeof name, "features.%d", index++);
            if (nn_batchnorm_layer_init(&l->bn, p, name, c, NN_BATCHNORM_MOMENTUM, NN_BATCHNORM_EPS))
                return NN_ERR_RUNTIME;
        }
        index++;   /* the ReLU */
        prev = c;
    }
    if (cifar) {
        if (nn_linear_layer_init_with(&net->fc[0], p, "classifier", prev * h * w, in->num_classes,
                                      1, fc_w, nn_init_zeros()))
            return NN_ERR_RUNTIME;
    } else {
        static const int fc_index[3] = {0, 3, 6};
        const int fc_in[3] = {prev * VGG_POOL_OUT * VGG_POOL_OUT, 4096, 4096};
        const int fc_out[3] = {4096, 4096, in->num_classes};
        for (int i = 0; i < 3; i++) {
            snprintf(name, sizeof name, "classifier.%d", fc_index[i]);
            if (nn_linear_layer_init_with(&net->fc[i], p, name, fc_in[i], fc_out[i], 1, fc_w,
                                          nn_init_zeros()))
                return NN_ERR_RUNTIME;
        }
    }
    m->impl = net;
    return NN_OK;
}

static nn_tensor *vgg_forward(nn_model *m, nn_tape *t, nn_tensor *x)
{
    const vgg *net = m->impl;
    for (int i = 0; i < net->n_layers; i++) {
        const vgg_layer *l = &net->layers[i];
        if (l->pool) {
            x = nn_maxpool2d(t, x, 2, 2, 0);
            continue;
        }
        x = nn_conv2d_layer_forward(&l->conv, t, x);
        if (net->batch_norm) x = nn_batchnorm_layer_forward_act(&l->bn, t, x, NN_BN_ACT_RELU);
    }
    if (net->cifar) return nn_linear_layer_forward(&net->fc[0], t, nn_flatten(t, x));
    /* At 224x224 the map is already 7x7, where the pool is the identity. */
    if (x && (x->shape[2] != VGG_POOL_OUT || x->shape[3] != VGG_POOL_OUT))
        x = nn_adaptive_avgpool2d(t, x, VGG_POOL_OUT, VGG_POOL_OUT);
    x = nn_flatten(t, x);
    x = nn_relu(t, nn_linear_layer_forward(&net->fc[0], t, x));
    x = nn_dropout_layer_forward(t, x, net->dropout);
    x = nn_relu(t, nn_linear_layer_forward(&net->fc[1], t, x));
    x = nn_dropout_layer_forward(t, x, net->dropout);
    return nn_linear_layer_forward(&net->fc[2], t, x);
}

#define VGG_SPEC(cfg, bn) (&(const vgg_spec){(cfg), (int)(sizeof(cfg) / sizeof(cfg)[0]), (bn)})

/* One build per name: the name fixes the default depth and BatchNorm. */
#define VGG_MODEL(model, cfg, bn, layers)                                                          \
    static nn_status model##_build(nn_model *m, nn_config *c)                                      \
    {                                                                                              \
        return vgg_build(m, c, VGG_SPEC(cfg, bn));                                                 \
    }                                                                                              \
    const nn_model_def nn_model_##model = {                                                        \
        .name = #model,                                                                            \
        .summary = "VGG-" layers " as torchvision: 3x3 convs, max-pools, fc 4096, 4096, classes "  \
                   "(cfg, batch_norm, dropout, stem)",                                             \
        .build = model##_build,                                                                    \
        .forward = vgg_forward,                                                                    \
    };

VGG_MODEL(vgg11, cfg_a, 0, "11")
VGG_MODEL(vgg11_bn, cfg_a, 1, "11 with BatchNorm")
VGG_MODEL(vgg13, cfg_b, 0, "13")
VGG_MODEL(vgg13_bn, cfg_b, 1, "13 with BatchNorm")
VGG_MODEL(vgg16, cfg_d, 0, "16")
VGG_MODEL(vgg16_bn, cfg_d, 1, "16 with BatchNorm")
VGG_MODEL(vgg19, cfg_e, 0, "19")
VGG_MODEL(vgg19_bn, cfg_e, 1, "19 with BatchNorm")
