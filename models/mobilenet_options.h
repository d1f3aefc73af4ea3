/* The options MobileNetV2 and V3 share: model.width_mult (1.0),
 * model.dropout (0.2, the classifier's) and model.stem ("imagenet"; "cifar"
 * makes the first conv stride 1). Errors name the key. */
#ifndef NN_MODELS_MOBILENET_OPTIONS_H
#define NN_MODELS_MOBILENET_OPTIONS_H

#include "core/error.h"
#include "io/config.h"

nn_status nn_mobilenet_read_options(nn_config *cfg, double *width_mult, float *dropout, int *stem_stride);

#endif
