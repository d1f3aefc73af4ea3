/* The model zoo's table: every family registers its nn_model_def here. */
#ifndef NN_MODELS_MODELS_H
#define NN_MODELS_MODELS_H

#include "nn/model.h"

extern const nn_model_def nn_model_lenet5;

/* NULL-terminated, in the order `nnzoo list` prints. */
extern const nn_model_def *const nn_models[];

/* The model named `name`, or NULL. */
const nn_model_def *nn_model_find(const char *name);

#endif
