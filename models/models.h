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

/* NULL-terminated, in the order `nnzoo list` prints. */
extern const nn_model_def *const nn_models[];

/* The model named `name`, or NULL. */
const nn_model_def *nn_model_find(const char *name);

#endif
