#include <string.h>

#include "models/models.h"

const nn_model_def *const nn_models[] = {
    &nn_model_lenet5,
    NULL,
};

const nn_model_def *nn_model_find(const char *name)
{
    for (int i = 0; nn_models[i]; i++)
        if (!strcmp(nn_models[i]->name, name)) return nn_models[i];
    return NULL;
}
