/* The model zoo's table: every family registers its nn_model_def here. */
#ifndef NN_MODELS_MODELS_H
#define NN_MODELS_MODELS_H

#include "nn/model.h"

extern const nn_model_def nn_model_lenet5;
/* models/mobilenet_v1.c, mobilenet_v2.c, mobilenet_v3.c */
extern const nn_model_def nn_model_mobilenet_v1;
extern const nn_model_def nn_model_mobilenet_v2;
extern const nn_model_def nn_model_mobilenet_v3_small;
extern const nn_model_def nn_model_mobilenet_v3_large;

/* models/alexnet.c, vgg.c, resnet.c (ResNeXt and Wide ResNet too) */
extern const nn_model_def nn_model_alexnet;
extern const nn_model_def nn_model_vgg11;
extern const nn_model_def nn_model_vgg11_bn;
extern const nn_model_def nn_model_vgg13;
extern const nn_model_def nn_model_vgg13_bn;
extern const nn_model_def nn_model_vgg16;
extern const nn_model_def nn_model_vgg16_bn;
extern const nn_model_def nn_model_vgg19;
extern const nn_model_def nn_model_vgg19_bn;
extern const nn_model_def nn_model_resnet18;
extern const nn_model_def nn_model_resnet34;
extern const nn_model_def nn_model_resnet50;
extern const nn_model_def nn_model_resnet101;
extern const nn_model_def nn_model_resnet152;
extern const nn_model_def nn_model_resnext50_32x4d;
extern const nn_model_def nn_model_resnext101_32x8d;
extern const nn_model_def nn_model_wide_resnet50_2;
extern const nn_model_def nn_model_wide_resnet101_2;

/* NULL-terminated, in the order `nnzoo list` prints. */
extern const nn_model_def *const nn_models[];

/* The model named `name`, or NULL. */
const nn_model_def *nn_model_find(const char *name);

#endif
