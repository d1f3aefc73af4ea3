#include <string.h>

#include "models/models.h"

const nn_model_def *const nn_models[] = {
    &nn_model_lenet5,
    &nn_model_mobilenet_v1,
    &nn_model_mobilenet_v2,
    &nn_model_mobilenet_v3_small,
    &nn_model_mobilenet_v3_large,
    &nn_model_alexnet,
    &nn_model_vgg11,
    &nn_model_vgg11_bn,
    &nn_model_vgg13,
    &nn_model_vgg13_bn,
    &nn_model_vgg16,
    &nn_model_vgg16_bn,
    &nn_model_vgg19,
    &nn_model_vgg19_bn,
    &nn_model_resnet18,
    &nn_model_resnet34,
    &nn_model_resnet50,
    &nn_model_resnet101,
    &nn_model_resnet152,
    &nn_model_resnext50_32x4d,
    &nn_model_resnext101_32x8d,
    &nn_model_wide_resnet50_2,
    &nn_model_wide_resnet101_2,
    NULL,
};

const nn_model_def *nn_model_find(const char *name)
{
    for (int i = 0; nn_models[i]; i++)
        if (!strcmp(nn_models[i]->name, name)) return nn_models[i];
    return NULL;
}
