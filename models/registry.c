#include <string.h>

#include "models/models.h"

const nn_model_def *const nn_models[] = {
    &nn_model_lenet5,
    &nn_model_mobilenet_v1,
    &nn_model_mobilenet_v2,
    &nn_model_mobilenet_v3_small,
    &nn_model_mobilenet_v3_large,
    NULL,
};

const nn_model_def *nn_model_find(const char *name)
{
    for (int i = 0; nn_models[i]; i++)
        if (!strcmp(nn_models[i]->name, name)) return nn_models[i];
    return NULL;
}
